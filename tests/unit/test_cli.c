// The cformer command line, run as a program (its path in CF_CLI, set by `make test-unit`):
// every subcommand's --help exits 0; bad options, missing or corrupt files and impossible
// settings exit non-zero with a message on stderr that names the problem; `cformer train`
// trains a tiny model, refuses to overwrite a checkpoint without --resume, and resumes.
// The models are made here: a tiny `cformer train` run, and files from tests/loaders'
// writers. Without CF_CLI the tests say so and pass.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../loaders/model_files.h"
#include "../test.h"

typedef struct run_result {
    int rc;        // exit status, or 128 + signal
    char *out;     // stdout, NUL-terminated (malloc'd)
    char *err;     // stderr
} run_result;

static void run_free(run_result *r) {
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static const char *cli_path(void) {
    const char *p = getenv("CF_CLI");
    if (!p || !*p) {
        fprintf(stderr, "  CF_CLI is not set; skipping (run through `make test-unit`)\n");
        return NULL;
    }
    return p;
}

// Runs CF_CLI with the NULL-terminated arguments, stdin from /dev/null, stdout and stderr to
// files, one thread, at most 120 s. Returns the exit status in r->rc.
static void run(run_result *r, const char *arg0, ...) {
    memset(r, 0, sizeof *r);
    const char *argv[40];
    int n = 0;
    argv[n++] = cli_path();
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 39; a = va_arg(ap, const char *)) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char out_path[1024], err_path[1024];
    snprintf(out_path, sizeof out_path, "%s/cli_stdout.txt", cf_test_tmpdir());
    snprintf(err_path, sizeof err_path, "%s/cli_stderr.txt", cf_test_tmpdir());
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || o < 0 || e < 0) _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        setenv("CF_NUM_THREADS", "1", 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    struct timespec t0, now, nap = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 120) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "  %s %s: killed after 120 s\n", argv[0], argv[1] ? argv[1] : "");
            cf_test_failures++;
            break;
        }
        nanosleep(&nap, NULL);
    }
    r->rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    size_t len;
    r->out = (char *)tf_read(out_path, &len);
    r->err = (char *)tf_read(err_path, &len);
    if (!r->out) r->out = calloc(1, 1);
    if (!r->err) r->err = calloc(1, 1);
    if (r->rc == 127) fprintf(stderr, "  cannot run %s\n", argv[0]);
}

// The last run exited with a non-zero status below 128 (no crash) and said `what` on stderr.
static void expect_fail(run_result *r, const char *label, const char *what, const char *what2) {
    int before = cf_test_failures;
    CF_CHECK(r->rc != 0 && r->rc < 126);
    CF_CHECK(!strstr(r->err, "Sanitizer") && !strstr(r->err, "runtime error"));
    CF_CHECK_STR_CONTAINS(r->err, what);
    if (what2) CF_CHECK_STR_CONTAINS(r->err, what2);
    if (cf_test_failures > before)
        fprintf(stderr, "  ^ case '%s': exit %d, stderr:\n%s\n", label, r->rc, r->err);
    run_free(r);
}

static void expect_ok(run_result *r, const char *label) {
    if (r->rc != 0) {
        fprintf(stderr, "  case '%s': exit %d, stderr:\n%s\n", label, r->rc, r->err);
        cf_test_failures++;
    }
}

// ---- help and options ----

static void test_help(void) {
    if (!cli_path()) return;
    run_result r;
    const char *cmds[] = {"generate", "train", "perplexity", "info"};
    for (int i = 0; i < 4; i++) {
        run(&r, cmds[i], "--help", NULL);
        expect_ok(&r, cmds[i]);
        char want[64];
        snprintf(want, sizeof want, "usage: cformer %s", cmds[i]);
        CF_CHECK_STR_CONTAINS(r.out, want);
        CF_CHECK_STR_CONTAINS(r.out, "--help");
        run_free(&r);
        run(&r, cmds[i], "-h", NULL);
        CF_CHECK_EQ(r.rc, 0);
        run_free(&r);
    }
    run(&r, "--help", NULL);
    expect_ok(&r, "--help");
    CF_CHECK_STR_CONTAINS(r.out, "generate");
    run_free(&r);
    run(&r, "version", NULL);
    expect_ok(&r, "version");
    CF_CHECK_STR_CONTAINS(r.out, "cformer ");
    run_free(&r);
    run(&r, NULL);
    expect_fail(&r, "no command", "usage", NULL);
    run(&r, "frobnicate", NULL);
    expect_fail(&r, "unknown command", "unknown command 'frobnicate'", NULL);
}

static void test_bad_options(void) {
    if (!cli_path()) return;
    run_result r;
    const char *m = tf_path("model.bin");  // never read: options fail first
    run(&r, "generate", "--prompt", "hi", NULL);
    expect_fail(&r, "generate without --model", "--model is required", NULL);
    run(&r, "generate", "--model", m, "--bogus", NULL);
    expect_fail(&r, "unknown option", "unknown option '--bogus'", NULL);
    run(&r, "generate", "--model", NULL);
    expect_fail(&r, "option without value", "--model needs a value", NULL);
    run(&r, "generate", "--model", m, "--max-tokens", "-1", NULL);
    expect_fail(&r, "--max-tokens -1", "--max-tokens", ">= 0");
    run(&r, "generate", "--model", m, "--max-tokens", "lots", NULL);
    expect_fail(&r, "--max-tokens lots", "'lots' is not an integer", NULL);
    run(&r, "generate", "--model", m, "--max-tokens=", NULL);
    expect_fail(&r, "--max-tokens=", "is not an integer", NULL);
    run(&r, "generate", "--model", m, "--max-tokens", "99999999999999999999", NULL);
    expect_fail(&r, "--max-tokens overflow", "is not an integer", NULL);
    run(&r, "generate", "--model", m, "--temperature", "warm", NULL);
    expect_fail(&r, "--temperature warm", "'warm' is not a number", NULL);
    run(&r, "generate", "--model", m, "--quiet=yes", NULL);
    expect_fail(&r, "flag with a value", "--quiet takes no value", NULL);
    run(&r, "generate", "stray", NULL);
    expect_fail(&r, "positional argument", "unexpected argument 'stray'", NULL);
    run(&r, "train", "--steps", "3", NULL);
    expect_fail(&r, "train without --data", "--data is required", NULL);
    run(&r, "perplexity", "--model", m, NULL);
    expect_fail(&r, "perplexity without --file", "--file", NULL);
    run(&r, "info", NULL);
    expect_fail(&r, "info without --model", "--model is required", NULL);
}

// ---- bad files ----

static void test_bad_files(void) {
    if (!cli_path()) return;
    run_result r;
    const char *missing = tf_path("no_such_model.bin");
    run(&r, "generate", "--model", missing, "--prompt", "hi", NULL);
    expect_fail(&r, "missing model", missing, "no such file");
    run(&r, "info", "--model", missing, NULL);
    expect_fail(&r, "info on a missing model", missing, NULL);
    // Random bytes: read as a llama2.c header, rejected.
    uint8_t junk[100];
    for (int i = 0; i < 100; i++) junk[i] = (uint8_t)(i * 97 + 13);
    const char *jp = tf_path("junk.bin");
    tf_write(jp, junk, sizeof junk);
    run(&r, "info", "--model", jp, NULL);
    expect_fail(&r, "junk model", "format error", jp);
    run(&r, "generate", "--model", jp, "--prompt", "x", NULL);
    expect_fail(&r, "generate with a junk model", "format error", jp);
    // A llama2.c file from the newer exporter.
    size_t len;
    uint8_t *img = tf_llama2c(8, 16, 1, 2, 2, 256, 8, 1, &len);
    uint32_t magic = 0x616b3432;
    memcpy(img, &magic, 4);
    const char *ak = tf_path("ak42.bin");
    tf_write(ak, img, len);
    run(&r, "info", "--model", ak, NULL);
    expect_fail(&r, "ak42 model", "unsupported", "ak42");
    free(img);
    // A valid llama2.c model with vocabulary 256, and a truncated copy.
    img = tf_llama2c(8, 16, 1, 2, 2, 256, 8, 1, &len);
    const char *good = tf_path("good.bin");
    tf_write(good, img, len);
    const char *cut = tf_path("cut.bin");
    tf_write(cut, img, len - 6);
    run(&r, "info", "--model", good, NULL);
    expect_ok(&r, "info on a valid llama2.c model");
    CF_CHECK_STR_CONTAINS(r.out, "parameters");
    run_free(&r);
    // Option values beyond their type: an error, not a silent wrap (4294967296 -> 0 tokens).
    run(&r, "generate", "--model", good, "--tokenizer", "byte", "--prompt", "ab", "--max-tokens",
        "4294967296", NULL);
    expect_fail(&r, "--max-tokens 2^32", "--max-tokens", NULL);
    // A training shape whose token count overflows int: an estimate or an error, not UB.
    run(&r, "info", "--model", good, "--batch", "300000000", NULL);
    CF_CHECK(r.rc < 126 && !strstr(r.err, "runtime error") && !strstr(r.err, "Sanitizer"));
    if (r.rc >= 126 || strstr(r.err, "runtime error"))
        fprintf(stderr, "  ^ info --batch 300000000: exit %d, stderr:\n%s\n", r.rc, r.err);
    run_free(&r);
    run(&r, "perplexity", "--model", cut, "--file", good, NULL);
    expect_fail(&r, "truncated llama2.c model", cut, "implies");
    // A HF folder whose c_attn is stored transposed: both shapes are shown.
    tf_model tm;
    tf_gpt2(&tm, 8, 1, 2, 256, 8);
    tf_reshape(tf_find(&tm, "transformer.h.0.attn.c_attn.weight"), 2, 24, 8);
    const char *dir = tf_path("bad_gpt2");
    tf_write_folder(&tm, dir);
    tf_model_free(&tm);
    run(&r, "generate", "--model", dir, "--prompt", "x", NULL);
    expect_fail(&r, "wrong shape", "[24, 8]", "[8, 24]");
    // A config.json that is not JSON.
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    tf_write_text(cfg, "{ \"model_type\": \"gpt2\", ");
    run(&r, "info", "--model", dir, NULL);
    expect_fail(&r, "broken config.json", cfg, "JSON");
    // The text file for perplexity is missing; the tokenizer file is corrupt.
    const char *no_text = tf_path("no_text.txt");
    run(&r, "perplexity", "--model", good, "--file", no_text, NULL);
    expect_fail(&r, "missing text", no_text, NULL);
    const char *badtok = tf_path("bad_tokenizer.bin");
    uint8_t tb[12] = {5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};  // length -1
    tf_write(badtok, tb, sizeof tb);
    run(&r, "generate", "--model", good, "--tokenizer", badtok, "--prompt", "x", NULL);
    expect_fail(&r, "corrupt tokenizer", badtok, "length -1");
    // A tokenizer with fewer pieces than the model's vocabulary.
    const char *pieces[] = {"<unk>", "<s>", "</s>", "a", "b"};
    uint8_t *small = tf_tokenizer_bin(5, pieces, 5, &len);
    const char *smallp = tf_path("small_tokenizer.bin");
    tf_write(smallp, small, len);
    free(small);
    run(&r, "generate", "--model", good, "--tokenizer", smallp, "--prompt", "x", NULL);
    expect_fail(&r, "tokenizer smaller than the vocabulary", smallp, "vocabulary of 256");
    // A prompt longer than the context.
    run(&r, "generate", "--model", good, "--tokenizer", "byte", "--prompt", "0123456789", NULL);
    expect_fail(&r, "prompt beyond the context", "does not fit the context", NULL);
    run(&r, "generate", "--model", good, "--tokenizer", "byte", "--prompt", "ab", "--ctx", "99",
        NULL);
    expect_fail(&r, "--ctx beyond the model's", "99", NULL);
    free(img);
}

// ---- training ----

static const char *TINY_CFG = "# a tiny model\n"
                              "n_layers = 1\nn_embd = 16\nn_heads = 2\nn_ff = 32\nn_ctx = 16\n"
                              "batch_size = 2\nsteps = 2\nwarmup = 1\neval_every = 0\n"
                              "val_fraction = 0.1\n";

static const char *write_data(void) {
    char text[4096];
    size_t n = 0;
    while (n + 60 < sizeof text)
        n += (size_t)snprintf(text + n, sizeof text - n, "the quick brown fox %zu jumps. ", n % 7);
    const char *p = tf_path("data.txt");
    tf_write(p, text, n);
    return p;
}

static void test_train(void) {
    if (!cli_path()) return;
    run_result r;
    const char *data = write_data();
    const char *cfg = tf_path("tiny.cfg");
    tf_write_text(cfg, TINY_CFG);
    const char *out = tf_path("run1");
    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", out);
    run(&r, "train", "--config", cfg, "--data", data, "--out", out, NULL);
    expect_ok(&r, "tiny training run");
    run_free(&r);
    size_t len0 = 0;
    uint8_t *before = tf_read(ckpt, &len0);
    CF_CHECK(before != NULL && len0 > 0);
    // A second run without --resume refuses and leaves the checkpoint as it was.
    run(&r, "train", "--config", cfg, "--data", data, "--out", out, NULL);
    CF_CHECK_STR_CONTAINS(r.err, "--resume");
    expect_fail(&r, "overwrite without --resume", "already holds a checkpoint", out);
    size_t len1 = 0;
    uint8_t *after = tf_read(ckpt, &len1);
    CF_CHECK(after && before && len0 == len1 && !memcmp(before, after, len0));
    free(before);
    free(after);
    // --resume continues to the new step count.
    run(&r, "train", "--config", cfg, "--data", data, "--out", out, "--resume", "--steps", "3",
        NULL);
    expect_ok(&r, "resume");
    CF_CHECK_STR_CONTAINS(r.err, "resumed");
    CF_CHECK_STR_CONTAINS(r.err, "at step 2");
    run_free(&r);
    // The trained folder generates, describes itself and scores text.
    run(&r, "generate", "--model", out, "--prompt", "the", "--max-tokens", "4", "--temperature",
        "0", "--quiet", NULL);
    expect_ok(&r, "generate from the trained model");
    CF_CHECK(!strncmp(r.out, "the", 3));
    run_free(&r);
    run(&r, "info", "--model", ckpt, NULL);
    expect_ok(&r, "info on the checkpoint");
    CF_CHECK_STR_CONTAINS(r.out, "layers:       1");
    run_free(&r);
    run(&r, "perplexity", "--model", out, "--file", data, NULL);
    expect_ok(&r, "perplexity");
    CF_CHECK_STR_CONTAINS(r.out, "perplexity: ");
    run_free(&r);
    run(&r, "generate", "--model", out, "--prompt", "the quick brown fox", NULL);
    expect_fail(&r, "prompt longer than n_ctx", "does not fit the context of 16", NULL);
    // --resume where there is nothing to resume.
    const char *out2 = tf_path("run2");
    run(&r, "train", "--config", cfg, "--data", data, "--out", out2, "--resume", NULL);
    expect_fail(&r, "resume without checkpoint", "does not exist", NULL);
    // A corrupt checkpoint is reported, not trained over.
    size_t len;
    uint8_t *ck = tf_read(ckpt, &len);
    if (ck) {
        tf_write(ckpt, ck, len / 2);
        free(ck);
        run(&r, "train", "--config", cfg, "--data", data, "--out", out, "--resume", NULL);
        expect_fail(&r, "resume from a truncated checkpoint", ckpt, "format error");
        size_t len2 = 0;
        free(tf_read(ckpt, &len2));
        CF_CHECK_EQ(len2, len / 2);
    }
}

static void test_train_bad_config(void) {
    if (!cli_path()) return;
    run_result r;
    const char *data = write_data();
    const char *out = tf_path("bad_out");
    struct {
        const char *text;
        const char *what;
    } cases[] = {
        {"n_layers = 1\ncolour = blue\n", ":2: unknown key 'colour'"},
        {"n_layers\n", ":1: expected `key = value`"},
        {"n_layers =\n", "key 'n_layers' has no value"},
        {"n_layers = one\n", "bad value 'one' for n_layers"},
        {"family = bert\n", "family 'bert'"},
        {"n_embd = 16\nn_heads = 3\n", "n_embd = 16 is not a multiple of n_heads = 3"},
        {"n_embd = 16\nn_heads = 2\nn_ctx = 16\nvocab_size = 100\n",
         "vocab_size 100 is smaller than the tokenizer's 256"},
        {"n_embd = 16\nn_heads = 2\nn_ctx = 0\n", "n_ctx = 0"},
        {"n_embd = 16\nn_heads = 2\nn_ctx = 16\nseq_len = 64\n", "seq_len"},
        {"n_embd = 16\nn_heads = 2\nn_ctx = 16\nbatch_size = 0\n", "batch"},
        {"n_embd = 16\nn_heads = 2\nn_ctx = 16\nlr = -1\n", "lr"},
        {"n_embd = 16\nn_heads = 2\nn_ctx = 16\ntokenizer = /nonexistent/tok.bin\n",
         "/nonexistent/tok.bin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[64];
        snprintf(name, sizeof name, "bad%zu.cfg", i);
        const char *cfg = tf_path(name);
        tf_write_text(cfg, cases[i].text);
        run(&r, "train", "--config", cfg, "--data", data, "--out", out, NULL);
        expect_fail(&r, cases[i].text, cases[i].what, NULL);
    }
    // A config with a NUL byte, a missing config, missing data.
    const char *nul = tf_path("nul.cfg");
    tf_write(nul, "n_layers = 1\n\0\n", 15);
    run(&r, "train", "--config", nul, "--data", data, "--out", out, NULL);
    expect_fail(&r, "NUL byte in config", "NUL byte", nul);
    const char *nocfg = tf_path("none.cfg");
    run(&r, "train", "--config", nocfg, "--data", data, "--out", out, NULL);
    expect_fail(&r, "missing config", nocfg, NULL);
    const char *nodata = tf_path("none.txt");
    run(&r, "train", "--data", nodata, "--out", out, NULL);
    expect_fail(&r, "missing data", nodata, NULL);
    run(&r, "train", "--data", data, "--out", out, "--tokenizer", tf_path("nope.bin"), NULL);
    expect_fail(&r, "missing tokenizer", "nope.bin", NULL);
    // Nothing was written by the failed runs.
    char ck[1024];
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", out);
    CF_CHECK(access(ck, F_OK) != 0);
}

// A model whose vocabulary is larger than its tokenizer's: ids beyond the tokenizer are never
// sampled (they have no text), so generation succeeds even at a high temperature.
static void test_ids_beyond_tokenizer(void) {
    if (!cli_path()) return;
    run_result r;
    const char *data = write_data();
    const char *cfg = tf_path("v300.cfg");
    tf_write_text(cfg, "n_layers = 1\nn_embd = 16\nn_heads = 2\nn_ff = 32\nn_ctx = 64\n"
                       "vocab_size = 300\nbatch_size = 2\nsteps = 1\neval_every = 0\n");
    const char *out = tf_path("v300");
    run(&r, "train", "--config", cfg, "--data", data, "--out", out, NULL);
    expect_ok(&r, "train a 300-id model on bytes");
    run_free(&r);
    run(&r, "generate", "--model", out, "--prompt", "the", "--max-tokens", "48", "--temperature",
        "2", "--top-k", "0", "--top-p", "1", "--min-p", "0", "--seed", "7", NULL);
    expect_ok(&r, "generate with a 300-id model and a 256-id tokenizer");
    run_free(&r);
}

// ---- interruption ----

// Starts `cformer train` in the background; returns its pid.
static pid_t start_train(const char *cfg, const char *data, const char *out, bool resume) {
    char err_path[1024];
    snprintf(err_path, sizeof err_path, "%s/train_bg_stderr.txt", cf_test_tmpdir());
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || e < 0) _exit(126);
        dup2(in, 0);
        dup2(e, 1);
        dup2(e, 2);
        setenv("CF_NUM_THREADS", "1", 1);
        execl(cli_path(), cli_path(), "train", "--config", cfg, "--data", data, "--out", out,
              resume ? "--resume" : NULL, (char *)NULL);
        _exit(127);
    }
    return pid;
}

// Steps logged so far (lines of log.tsv after the header).
static int logged_steps(const char *out) {
    char p[1024];
    snprintf(p, sizeof p, "%s/log.tsv", out);
    size_t len = 0;
    char *t = (char *)tf_read(p, &len);
    int n = 0;
    for (size_t i = 0; t && i < len; i++) n += t[i] == '\n';
    free(t);
    return n > 0 ? n - 1 : 0;
}

static int wait_exit(pid_t pid) {
    int status = 0;
    for (int i = 0; i < 60000; i++) {  // at most 120 s
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

// Ctrl-C (SIGINT) saves a checkpoint at the current step and exits 130; kill -9 loses only the
// steps since the last checkpoint. Either way, --resume finishes the run with exactly the
// weights an uninterrupted run gives (same seed, same thread count).
static void test_interrupt_resume(void) {
    if (!cli_path()) return;
    const char *data = write_data();
    const char *cfg = tf_path("int.cfg");
    tf_write_text(cfg, "n_layers = 1\nn_embd = 16\nn_heads = 2\nn_ff = 32\nn_ctx = 16\n"
                       "batch_size = 2\nsteps = 3000\nckpt_every = 100\neval_every = 0\n");
    // The reference: uninterrupted.
    const char *ref = tf_path("int_ref");
    run_result r;
    run(&r, "train", "--config", cfg, "--data", data, "--out", ref, NULL);
    expect_ok(&r, "uninterrupted run");
    run_free(&r);
    for (int sig = 0; sig < 2; sig++) {
        const char *out = tf_path(sig == 0 ? "int_sigint" : "int_sigkill");
        pid_t pid = start_train(cfg, data, out, false);
        for (int i = 0; i < 20000 && logged_steps(out) < 250; i++) {
            struct timespec nap = {0, 1000000};
            nanosleep(&nap, NULL);
        }
        kill(pid, sig == 0 ? SIGINT : SIGKILL);
        int rc = wait_exit(pid);
        int done = logged_steps(out);
        if (done >= 3000) {
            fprintf(stderr, "  the run finished before the signal; nothing was tested\n");
            cf_test_failures++;
            continue;
        }
        CF_CHECK_EQ(rc, sig == 0 ? 130 : 128 + SIGKILL);
        char ck[1024];
        snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", out);
        CF_CHECK(access(ck, F_OK) == 0);
        pid = start_train(cfg, data, out, true);
        CF_CHECK_EQ(wait_exit(pid), 0);
        // Same final weights, byte for byte.
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/model.safetensors", ref);
        snprintf(b, sizeof b, "%s/model.safetensors", out);
        size_t la = 0, lb = 0;
        uint8_t *da = tf_read(a, &la), *db = tf_read(b, &lb);
        CF_CHECK(da && db && la == lb && !memcmp(da, db, la));
        free(da);
        free(db);
    }
}

const cf_test tests_cli[] = {
    {"cli/interrupt_resume", test_interrupt_resume},
    {"cli/help", test_help},
    {"cli/bad_options", test_bad_options},
    {"cli/bad_files", test_bad_files},
    {"cli/train", test_train},
    {"cli/train_bad_config", test_train_bad_config},
    {"cli/ids_beyond_tokenizer", test_ids_beyond_tokenizer},
    {NULL, NULL},
};
