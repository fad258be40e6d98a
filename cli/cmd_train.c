// cformer train: trains a decoder on a text file with a live progress line, periodic validation
// and atomic checkpoints; Ctrl-C or SIGTERM stops after the current step with a checkpoint, and
// --resume continues exactly where the last checkpoint left off.
//
// The output folder holds checkpoint.safetensors (weights, AdamW state, step, sampler state),
// config.json + model.safetensors (the model in the Hugging Face layout), the tokenizer when it
// is a file, and log.tsv (step, loss, val_loss, lr, tokens/s).
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t g_stop;  // set by SIGINT/SIGTERM

static void on_signal(int sig) {
    if (g_stop) {  // a second signal: stop now; the last checkpoint on disk is intact
        signal(sig, SIG_DFL);
        raise(sig);
    }
    g_stop = sig;
}

static void fmt_eta(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 99 * 3600) snprintf(buf, n, "--");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, n, "%ds", (int)s);
}

static void progress(bool tty, int64_t step, int64_t total, float loss, float val, float lr,
                     double tps, double eta, bool newline) {
    char bar[24], e[16];
    int filled = (int)(20.0 * (double)step / (double)total);
    for (int i = 0; i < 20; i++) bar[i] = i < filled ? '#' : '.';
    bar[20] = 0;
    fmt_eta(eta, e, sizeof e);
    char v[32] = "";
    if (val >= 0) snprintf(v, sizeof v, " | val %.4f", val);
    fprintf(stderr, "%sstep %lld/%lld [%s] %3.0f%% | loss %.4f%s | lr %.2e | %.0f tok/s | ETA %s%s",
            tty ? "\r\033[K" : "", (long long)step, (long long)total, bar,
            100.0 * (double)step / (double)total, loss, v, lr, tps, e, newline || !tty ? "\n" : "");
    fflush(stderr);
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int copy_file(const char *from, const char *to) {
    size_t len;
    char *data = cli_read_file(from, &len);
    if (!data) return -1;
    FILE *f = fopen(to, "wb");
    int rc = f && fwrite(data, 1, len, f) == len ? 0 : -1;
    if (f && fclose(f) != 0) rc = -1;
    free(data);
    return rc;
}

int cmd_train(int argc, char **argv) {
    // --task mlm|classify|qa trains an encoder (cmd_encoder.c); --task lm (or none) is this.
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--task") && !strcmp(argv[i + 1], "translate"))
            return cmd_train_translate(argc, argv);  // cmd_translate.c
        if (!strcmp(argv[i], "--task") && strcmp(argv[i + 1], "lm"))
            return cmd_train_task(argc, argv);
    }
    cli_opt opts[] = {
        {"config", OPT_STR, "FILE", "model and training settings (key = value lines)"},
        {"data", OPT_STR, "FILE", "training text; the last val_fraction is held out"},
        {"out", OPT_STR, "DIR", "output folder (default: out)"},
        {"resume", OPT_FLAG, NULL, "continue from DIR/checkpoint.safetensors"},
        {"tokenizer", OPT_STR, "PATH", "'byte' (default) or a llama2.c tokenizer.bin"},
        {"task", OPT_STR, "lm", "lm (this); mlm, classify, qa: see cformer train --task mlm --help"},
        {"steps", OPT_INT, "N", "override max_steps"},
        {"threads", OPT_INT, "N", "threads (default: CF_NUM_THREADS or the core count)"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer train --data FILE [--config FILE] [--out DIR] [--resume]",
                   "Trains a decoder-only transformer on next-token prediction. Without --config "
                   "a small GPT-2-style byte-level model is trained (4 layers, width 256, context "
                   "256). Ctrl-C saves a checkpoint and stops; --resume continues it exactly."))
        return 2;
    cli_opt *data = cli_get(opts, "data");
    if (!data->set) {
        fprintf(stderr, "cformer train: --data is required\n");
        return 2;
    }
    const char *out = cli_get(opts, "out")->set ? cli_get(opts, "out")->str : "out";
    bool resume = cli_get(opts, "resume")->set;

    // Defaults: a small byte-level GPT-2-style model; the vocabulary follows the tokenizer.
    cf_config cfg = cf_config_gpt2();
    cfg.family = CF_FAMILY_GPT2;
    cfg.n_layers = 4;
    cfg.n_embd = 256;
    cfg.n_heads = 8;
    cfg.head_dim = 0;
    cfg.n_kv_heads = 0;
    cfg.n_ff = 1024;
    cfg.n_ctx = 256;
    cfg.vocab_size = 0;
    cfg.bos_id = cfg.eos_id = -1;
    cf_train_params tp = cf_train_default_params();
    tp.batch_size = 16;
    tp.seq_len = 0;  // 0: n_ctx
    char tok_path[1024] = "byte";
    cf_ctx *ctx = cli_ctx_opts(opts);
    if (!ctx) return 1;
    cf_tokenizer *tok = NULL;
    cf_model *m = NULL;
    cf_trainer *tr = NULL;
    char *text = NULL, *ckpt = NULL, *logp = NULL;
    int32_t *ids = NULL;
    FILE *log = NULL;
    int rc = 0;
    cf_status st = CF_OK;
    cli_opt *cfo = cli_get(opts, "config");
    if (cfo->set) {
        size_t len;
        char *ct = cli_read_file(cfo->str, &len);
        if (!ct) {
            rc = 1;
            goto done;
        }
        st = cf_train_config_parse(ctx, cfo->str, ct, len, &cfg, &tp, tok_path, sizeof tok_path);
        free(ct);
        if (st != CF_OK) goto fail;
    }
    if (cli_get(opts, "tokenizer")->set)
        snprintf(tok_path, sizeof tok_path, "%s", cli_get(opts, "tokenizer")->str);
    if (cli_get(opts, "steps")->set) tp.max_steps = cli_get(opts, "steps")->i;
    if ((st = cf_tokenizer_load(ctx, tok_path, 0, &tok)) != CF_OK) goto fail;
    int32_t tv = cf_tokenizer_vocab_size(tok);
    if (cfg.vocab_size == 0) cfg.vocab_size = tv;
    if (cfg.vocab_size < tv) {
        fprintf(stderr, "cformer train: vocab_size %d is smaller than the tokenizer's %d\n",
                cfg.vocab_size, tv);
        rc = 2;
        goto done;
    }
    if (cfg.bos_id < 0 && cf_tokenizer_bos(tok) >= 0) cfg.bos_id = cf_tokenizer_bos(tok);
    if (cfg.eos_id < 0 && cf_tokenizer_eos(tok) >= 0) cfg.eos_id = cf_tokenizer_eos(tok);
    if (tp.seq_len == 0) tp.seq_len = cfg.n_ctx;
    size_t len;
    text = cli_read_file(data->str, &len);
    if (!text) {
        rc = 1;
        goto done;
    }
    int64_t n;
    if ((st = cli_encode(tok, text, len, 0, &ids, &n)) != CF_OK) goto fail;
    if ((st = cf_model_create(ctx, &cfg, tp.seed, &m)) != CF_OK) goto fail;
    cf_model_set_tokenizer_hint(m, strcmp(tok_path, "byte") ? NULL : "byte");
    if ((st = cf_trainer_create(m, &tp, &tr)) != CF_OK) goto fail;
    if ((st = cf_trainer_set_data(tr, ids, n)) != CF_OK) goto fail;
    mkdir(out, 0755);
    ckpt = join(out, "checkpoint.safetensors");
    logp = join(out, "log.tsv");
    if (!ckpt || !logp) {
        st = CF_ERR_NOMEM;
        goto fail;
    }
    if (resume) {
        if (access(ckpt, F_OK) != 0) {
            fprintf(stderr, "cformer train: --resume: %s does not exist\n", ckpt);
            rc = 1;
            goto done;
        }
        if ((st = cf_trainer_resume(tr, ckpt)) != CF_OK) goto fail;
        fprintf(stderr, "resumed %s at step %lld\n", ckpt, (long long)cf_trainer_step_count(tr));
    } else if (access(ckpt, F_OK) == 0) {
        fprintf(stderr, "cformer train: %s already holds a checkpoint; pass --resume to continue "
                "it, or choose another --out\n", out);
        rc = 1;
        goto done;
    }
    if (strcmp(tok_path, "byte")) {
        char *dst = join(out, "tokenizer.bin");
        if (!dst || copy_file(tok_path, dst) != 0)
            fprintf(stderr, "cformer train: warning: could not copy the tokenizer into %s\n", out);
        free(dst);
    }
    log = fopen(logp, resume ? "a" : "w");
    if (log && !resume) fprintf(log, "step\tloss\tval_loss\tlr\ttokens_per_s\n");
    fprintf(stderr,
            "training %lld parameters (%d layers, width %d, %d heads) on %lld tokens of %s "
            "(%.0f%% held out); batch %d x %d x %d; %s, %d threads\n",
            (long long)cf_model_n_params(m), cfg.n_layers, cfg.n_embd, cfg.n_heads, (long long)n,
            data->str, 100.0 * tp.val_fraction, tp.grad_accum, tp.batch_size, tp.seq_len,
            cf_ctx_isa(ctx), cf_ctx_n_threads(ctx));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool tty = isatty(2);
    double ema = 0;
    float last_val = -1;
    int64_t report_every = tp.max_steps / 50 > 1 ? tp.max_steps / 50 : 1;
    while (cf_trainer_step_count(tr) < tp.max_steps && !g_stop) {
        cf_step_stats ss;
        if ((st = cf_trainer_step(tr, &ss)) != CF_OK) goto fail;
        ema = ema == 0 ? ss.seconds : 0.9 * ema + 0.1 * ss.seconds;
        bool eval = tp.eval_every > 0 && tp.val_fraction > 0 &&
                    (ss.step % tp.eval_every == 0 || ss.step == tp.max_steps);
        if (eval) {
            if ((st = cf_trainer_eval(tr, &last_val)) != CF_OK) goto fail;
        }
        double tps = (double)ss.tokens / ss.seconds;
        double eta = ema * (double)(tp.max_steps - ss.step);
        if (tty || eval || ss.step % report_every == 0 || ss.step == 1)
            progress(tty, ss.step, tp.max_steps, ss.loss, last_val, ss.lr, tps, eta, eval && tty);
        if (log) {
            fprintf(log, "%lld\t%.6f\t", (long long)ss.step, ss.loss);
            if (eval) fprintf(log, "%.6f", last_val);
            fprintf(log, "\t%.6e\t%.1f\n", ss.lr, tps);
            fflush(log);
        }
        bool ck = (tp.ckpt_every > 0 && ss.step % tp.ckpt_every == 0) || ss.step == tp.max_steps;
        if (ck || g_stop) {
            if ((st = cf_trainer_save(tr, ckpt)) != CF_OK) goto fail;
            if ((st = cf_model_save(m, out)) != CF_OK) goto fail;
        }
    }
    if (tty) fputc('\n', stderr);
    if (g_stop) {
        fprintf(stderr, "stopped by signal %d at step %lld; checkpoint saved in %s (resume with "
                "--resume)\n", (int)g_stop, (long long)cf_trainer_step_count(tr), ckpt);
        rc = 128 + (int)g_stop;
    } else {
        if (cf_trainer_step_count(tr) >= tp.max_steps && access(ckpt, F_OK) != 0) {
            if ((st = cf_trainer_save(tr, ckpt)) != CF_OK) goto fail;
            if ((st = cf_model_save(m, out)) != CF_OK) goto fail;
        }
        float vl = -1;
        if (tp.val_fraction > 0 && cf_trainer_eval(tr, &vl) == CF_OK)
            fprintf(stderr, "done: %lld steps, validation loss %.4f; model in %s\n",
                    (long long)cf_trainer_step_count(tr), vl, out);
        else
            fprintf(stderr, "done: %lld steps; model in %s\n",
                    (long long)cf_trainer_step_count(tr), out);
    }
    goto done;
fail:
    if (isatty(2)) fputc('\n', stderr);
    rc = cli_fail(ctx, "train", st);
done:
    if (log) fclose(log);
    free(ckpt);
    free(logp);
    free(ids);
    free(text);
    cf_trainer_free(tr);
    cf_model_free(m);
    cf_tokenizer_free(tok);
    cf_ctx_free(ctx);
    return rc;
}
