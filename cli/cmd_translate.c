// Translation from the command line:
//   cformer translate          one source sentence per stdin line -> one translation per line
//   cformer train --task translate   a joint SentencePiece vocabulary, teacher forcing with label
//                              smoothing on token-budget batches, the inverse-square-root
//                              schedule, dev BLEU every N steps, the best model kept in the
//                              Hugging Face Marian layout, resumable checkpoints
//   cformer average            the elementwise mean of checkpoints, saved as a model folder
//
// A translation model folder (Marian layout): config.json, model.safetensors, source.spm,
// target.spm, vocab.json. Training writes it into --out, with checkpoint.safetensors (the state
// to resume), ckpt-STEP.safetensors (the last --keep-last, for averaging) and log.tsv.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

// ---- shared: lines, tokenization, batched translation ----

typedef struct lines {
    char *buf;
    char **line;
    int64_t n;
} lines;

static void lines_free(lines *l) {
    free(l->buf);
    free(l->line);
    memset(l, 0, sizeof *l);
}

// Splits a file into lines (a last line without '\n' counts; a trailing '\r' is dropped).
static bool lines_read(const char *path, lines *l) {
    size_t len;
    memset(l, 0, sizeof *l);
    l->buf = cli_read_file(path, &len);
    if (!l->buf) {
        fprintf(stderr, "cformer: cannot read %s\n", path);
        return false;
    }
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) n += l->buf[i] == '\n';
    if (len && l->buf[len - 1] != '\n') n++;
    l->line = malloc(((size_t)n + 1) * sizeof(char *));
    if (!l->line) return false;
    char *p = l->buf, *end = l->buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        *nl = 0;
        if (nl > p && nl[-1] == '\r') nl[-1] = 0;
        l->line[l->n++] = p;
        p = nl + 1;
    }
    return true;
}

// Encodes text into a fresh buffer (*ids, free()).
static cf_status encode(cf_s2s_tokenizer *tok, cf_s2s_side side, const char *text, size_t len,
                        int32_t **ids, int32_t *n) {
    int64_t cap = (int64_t)len + 8, need = 0;
    *ids = NULL;
    for (;;) {
        int32_t *buf = realloc(*ids, (size_t)cap * sizeof(int32_t));
        if (!buf) return CF_ERR_NOMEM;
        *ids = buf;
        cf_status st = cf_s2s_tokenizer_encode(tok, side, text, len, buf, cap, &need);
        if (st == CF_OK) break;
        if (st != CF_ERR_RANGE || need <= cap) return st;
        cap = need;
    }
    *n = (int32_t)need;
    return CF_OK;
}

// Decodes ids into a fresh NUL-terminated string (free()).
static cf_status decode(cf_s2s_tokenizer *tok, const int32_t *ids, int32_t n, char **out) {
    size_t cap = 16 * (size_t)n + 16, need = 0;
    *out = NULL;
    for (;;) {
        char *buf = realloc(*out, cap + 1);
        if (!buf) return CF_ERR_NOMEM;
        *out = buf;
        cf_status st = cf_s2s_tokenizer_decode(tok, ids, n, buf, cap, &need);
        if (st == CF_OK) break;
        if (st != CF_ERR_RANGE || need <= cap) return st;
        cap = need;
    }
    (*out)[need] = 0;
    return CF_OK;
}

// Translates n lines of text into out[i] (free() each). A line that is empty once tokenized
// (only </s>) gives "".
static cf_status translate_lines(cf_model *m, cf_s2s_tokenizer *tok, char *const *text, int64_t n,
                                 const cf_s2s_decode_params *p, char **out) {
    int32_t **ids = calloc((size_t)n + 1, sizeof *ids);
    int32_t *len = calloc((size_t)n + 1, sizeof *len);
    cf_s2s_output *o = NULL;
    cf_status st = ids && len ? CF_OK : CF_ERR_NOMEM;
    for (int64_t i = 0; i < n && st == CF_OK; i++) {
        st = encode(tok, CF_S2S_SOURCE, text[i], strlen(text[i]), &ids[i], &len[i]);
        if (len[i] <= 1) len[i] = 0;  // nothing but </s>: an empty translation
    }
    if (st == CF_OK)
        st = cf_s2s_translate_ids(m, (const int32_t *const *)ids, len, (int)n, p, &o);
    for (int64_t i = 0; i < n && st == CF_OK; i++) {
        if (o->n_hyps[i] == 0) {
            out[i] = calloc(1, 1);
            if (!out[i]) st = CF_ERR_NOMEM;
            continue;
        }
        const cf_s2s_hyp *h = &o->hyps[i * o->n_best];
        st = decode(tok, h->tokens, h->n, &out[i]);
    }
    cf_s2s_output_free(o);
    for (int64_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(len);
    return st;
}

// ---- cformer translate ----

static bool decode_opts(cli_opt *opts, cf_s2s_decode_params *p, const char *cmd) {
    cli_opt *o;
    if ((o = cli_get(opts, "beam"))->set) p->beam_size = (int32_t)o->i;
    if ((o = cli_get(opts, "length-penalty"))->set) p->length_penalty = (float)o->f;
    if ((o = cli_get(opts, "max-len-a"))->set) p->max_len_a = (float)o->f;
    if ((o = cli_get(opts, "max-len-b"))->set) p->max_len_b = (int32_t)o->i;
    if (p->beam_size < 1 || p->beam_size > 256 || p->max_len_a < 0 || p->max_len_b < 0 ||
        !isfinite(p->length_penalty)) {
        fprintf(stderr, "cformer %s: --beam must be 1..256, --max-len-a/-b >= 0\n", cmd);
        return false;
    }
    return true;
}

int cmd_translate(int argc, char **argv) {
    cli_opt opts[] = {
        {"model", OPT_STR, "PATH", "a translation model folder (Marian layout)"},
        {"beam", OPT_INT, "N", "beam size; 1 is greedy (default 4)"},
        {"batch-tokens", OPT_INT, "N", "source tokens read and translated together (default "
                                      "2048; at least one line)"},
        {"max-len-a", OPT_FLOAT, "X", "at most X * source length + B target tokens (1.5)"},
        {"max-len-b", OPT_INT, "N", "... + N (10)"},
        {"length-penalty", OPT_FLOAT, "X", "hypotheses rank by log p / length^X (1.0)"},
        {"threads", OPT_INT, "N", "threads (default: CF_NUM_THREADS or the core count)"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer translate --model PATH [--beam N] < source.txt",
                   "Translates stdin, one sentence per line, to stdout, one translation per line "
                   "in the same order (written and flushed block by block). An empty line gives "
                   "an empty line; invalid UTF-8 is read as U+FFFD (a warning names the line). "
                   "Length policy: a line longer "
                   "than the model's n_ctx tokens keeps its first n_ctx - 1 tokens and </s>, and "
                   "a translation is at most min(a * source tokens + b, n_ctx - 1) tokens."))
        return 2;
    cli_opt *mo = cli_get(opts, "model");
    if (!mo->set) {
        fprintf(stderr, "cformer translate: --model is required\n");
        return 2;
    }
    cf_s2s_decode_params dp = cf_s2s_default_decode_params();
    if (!decode_opts(opts, &dp, "translate")) return 2;
    long long budget = cli_get(opts, "batch-tokens")->set ? cli_get(opts, "batch-tokens")->i : 2048;
    if (budget < 1) {
        fprintf(stderr, "cformer translate: --batch-tokens must be >= 1\n");
        return 2;
    }
    cf_ctx *ctx = cli_ctx_opts(opts);
    if (!ctx) return 1;
    cf_model *m = NULL;
    cf_s2s_tokenizer *tok = NULL;
    cf_status st = cf_model_load(ctx, mo->str, &m);
    if (st == CF_OK && cf_model_config(m)->n_dec_layers <= 0) {
        fprintf(stderr, "cformer translate: %s is not an encoder-decoder (translation) model\n",
                mo->str);
        cf_model_free(m);
        cf_ctx_free(ctx);
        return 1;
    }
    if (st == CF_OK) st = cf_s2s_tokenizer_load(ctx, mo->str, cf_model_config(m)->vocab_size, &tok);
    if (st != CF_OK) {
        int rc = cli_fail(ctx, "translate", st);
        cf_model_free(m);
        cf_ctx_free(ctx);
        return rc;
    }
    dp.max_batch = 64;
    // Blocks of lines: read until the source tokens (estimated as bytes / 4 + 1) reach the
    // budget, translate (sorted by length inside), print in input order, flush.
    size_t cap_lines = 64;
    char **block = malloc(cap_lines * sizeof *block), **res = malloc(cap_lines * sizeof *res);
    char *line = NULL;
    size_t line_cap = 0;
    int rc = 0;
    bool eof = !block || !res;
    long long lineno = 0;
    if (eof) rc = 1;
    while (!eof) {
        size_t n = 0;
        long long tokens = 0;
        while (tokens < budget) {
            ssize_t got = getline(&line, &line_cap, stdin);
            if (got < 0) {
                eof = true;
                break;
            }
            if (got > 0 && line[got - 1] == '\n') line[--got] = 0;
            if (got > 0 && line[got - 1] == '\r') line[--got] = 0;
            cli_warn_utf8("translate", "stdin", ++lineno, line, (size_t)got);
            if (n == cap_lines) {
                cap_lines *= 2;
                char **b2 = realloc(block, cap_lines * sizeof *block);
                char **r2 = b2 ? realloc(res, cap_lines * sizeof *res) : NULL;
                if (b2) block = b2;
                if (r2) res = r2;
                if (!b2 || !r2) {
                    rc = 1;
                    eof = true;
                    break;
                }
            }
            block[n] = malloc((size_t)got + 1);
            if (!block[n]) {
                rc = 1;
                eof = true;
                break;
            }
            memcpy(block[n], line, (size_t)got + 1);
            n++;
            tokens += got / 4 + 1;
        }
        if (n && rc == 0) {
            memset(res, 0, n * sizeof *res);
            st = translate_lines(m, tok, block, (int64_t)n, &dp, res);
            if (st != CF_OK) {
                rc = cli_fail(ctx, "translate", st);
                eof = true;
            } else {
                for (size_t i = 0; i < n; i++) {
                    fputs(res[i], stdout);
                    fputc('\n', stdout);
                }
                fflush(stdout);
            }
            for (size_t i = 0; i < n; i++) free(res[i]);
        }
        for (size_t i = 0; i < n; i++) free(block[i]);
    }
    free(line);
    free(block);
    free(res);
    cf_s2s_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return rc;
}

// ---- cformer average ----

int cmd_average(int argc, char **argv) {
    const char *out = NULL, *paths[256];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: cformer average --out DIR CKPT [CKPT ...]\n\nAverages the weights of "
                   "checkpoints (or model folders) of one run, the same config, elementwise and "
                   "saves the mean as a model folder. The tokenizer files of the first (in it "
                   "when it is a folder, else beside it: source.spm, target.spm, vocab.json, "
                   "tokenizer.json, vocab.txt, merges.txt, tokenizer_config.json, "
                   "special_tokens_map.json) are copied along.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strncmp(argv[i], "--out=", 6)) out = argv[i] + 6;
        else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "cformer average: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (n < 256) paths[n++] = argv[i];
    }
    if (!out || n < 1) {
        fprintf(stderr, "cformer average: --out DIR and at least one checkpoint are required\n");
        return 2;
    }
    cf_ctx *ctx = cli_ctx(1);
    if (!ctx) return 1;
    cf_model *m = NULL;
    cf_status st = cf_model_average(ctx, paths, n, &m);
    if (st == CF_OK) st = cf_model_save(m, out);
    if (st != CF_OK) {
        int rc = cli_fail(ctx, "average", st);
        cf_model_free(m);
        cf_ctx_free(ctx);
        return rc;
    }
    // The run's tokenizer files: in the first path when it is a folder, else next to it; those
    // there are and the saved folder lacks (Marian's, Hugging Face's).
    char dir[4096], p[4200], q[4200];
    snprintf(dir, sizeof dir, "%s", paths[0]);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    static const char *files[] = {"source.spm", "target.spm", "vocab.json", "tokenizer.json",
                                  "vocab.txt", "merges.txt", "tokenizer_config.json",
                                  "special_tokens_map.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        snprintf(q, sizeof q, "%s/%s", out, files[i]);
        if (access(p, R_OK) == 0 && access(q, F_OK) != 0) cli_copy_file(p, q);
    }
    fprintf(stderr, "averaged %d checkpoints into %s\n", n, out);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return 0;
}

// ---- cformer train --task translate ----

static volatile sig_atomic_t g_stop_s2s;

static void on_stop(int sig) {
    if (g_stop_s2s) {  // a second signal: stop now; the last checkpoint on disk is intact
        signal(sig, SIG_DFL);
        raise(sig);
    }
    g_stop_s2s = sig;
}

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

// Tokenizes parallel lines into id arrays (both sides end with </s>).
static cf_status encode_side(cf_s2s_tokenizer *tok, cf_s2s_side side, const lines *l,
                             int32_t ***ids, int32_t **len) {
    *ids = calloc((size_t)l->n + 1, sizeof **ids);
    *len = calloc((size_t)l->n + 1, sizeof **len);
    if (!*ids || !*len) return CF_ERR_NOMEM;
    for (int64_t i = 0; i < l->n; i++)
    {
        cf_status st = encode(tok, side, l->line[i], strlen(l->line[i]), &(*ids)[i], &(*len)[i]);
        if (st != CF_OK) return st;
    }
    return CF_OK;
}

static void free_ids(int32_t **ids, int32_t *len, int64_t n) {
    for (int64_t i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(len);
}

// Dev BLEU (sacreBLEU's default) of the first n dev lines.
static cf_status dev_bleu(cf_model *m, cf_s2s_tokenizer *tok, const lines *src, const lines *ref,
                          int64_t n, int beam, double *bleu) {
    cf_ctx *ctx = cf_model_ctx(m);
    char **hyp = calloc((size_t)n + 1, sizeof *hyp);
    if (!hyp) return CF_ERR_NOMEM;
    cf_s2s_decode_params p = cf_s2s_default_decode_params();
    p.beam_size = beam;
    p.max_batch = 64;
    cf_status st = translate_lines(m, tok, src->line, n, &p, hyp);
    if (st == CF_OK) {
        const char *const *refs[1] = {(const char *const *)ref->line};
        cf_bleu_params bp = cf_bleu_default_params();
        cf_bleu_result r;
        st = cf_bleu_corpus(ctx, (const char *const *)hyp, n, refs, 1, &bp, &r);
        if (st == CF_OK) *bleu = r.score;
    }
    for (int64_t i = 0; i < n; i++) free(hyp[i]);
    free(hyp);
    return st;
}

int cmd_train_translate(int argc, char **argv) {
    cli_opt opts[] = {
        {"task", OPT_STR, "translate", "this command"},
        {"src", OPT_STR, "FILE", "training sources, one sentence per line"},
        {"tgt", OPT_STR, "FILE", "training targets, line by line with --src"},
        {"dev-src", OPT_STR, "FILE", "dev sources (model selection by BLEU)"},
        {"dev-tgt", OPT_STR, "FILE", "dev references"},
        {"out", OPT_STR, "DIR", "output folder: the best model (Marian layout), checkpoints"},
        {"model", OPT_STR, "PATH", "start from this translation model folder (its tokenizer)"},
        {"spm-vocab", OPT_INT, "N", "joint SentencePiece vocabulary size (default 8000)"},
        {"layers", OPT_INT, "N", "encoder blocks (default 3)"},
        {"dec-layers", OPT_INT, "N", "decoder blocks (default: --layers)"},
        {"dim", OPT_INT, "N", "model width (default 256)"},
        {"heads", OPT_INT, "N", "attention heads (default 4)"},
        {"ff", OPT_INT, "N", "feed-forward width (default 1024)"},
        {"ctx", OPT_INT, "N", "longest sentence in tokens (default 256)"},
        {"act", OPT_STR, "relu|swish|gelu", "feed-forward activation (default relu)"},
        {"max-tokens", OPT_INT, "N", "token budget per batch: padded source + target (4096)"},
        {"accum", OPT_INT, "N", "batches per optimizer step (default 1)"},
        {"steps", OPT_INT, "N", "optimizer steps (default 20000)"},
        {"lr", OPT_FLOAT, "X", "peak learning rate of the inverse-sqrt schedule (1e-3)"},
        {"warmup", OPT_INT, "N", "warmup steps (default 1000)"},
        {"label-smoothing", OPT_FLOAT, "X", "label smoothing (default 0.1)"},
        {"dropout", OPT_FLOAT, "X", "dropout on embeddings and block outputs (default 0; the original Transformer used 0.1)"},
        {"weight-decay", OPT_FLOAT, "X", "AdamW weight decay (default 0)"},
        {"clip", OPT_FLOAT, "X", "gradient norm clipping, 0: off (default 1)"},
        {"beta2", OPT_FLOAT, "X", "AdamW beta2 (default 0.98)"},
        {"eval-every", OPT_INT, "N", "steps between dev BLEU runs (default 1000)"},
        {"eval-beam", OPT_INT, "N", "beam of the dev BLEU runs; 1 greedy (default 1)"},
        {"eval-lines", OPT_INT, "N", "dev lines scored (default: all)"},
        {"ckpt-every", OPT_INT, "N", "steps between checkpoints (default: --eval-every)"},
        {"keep-last", OPT_INT, "N", "ckpt-STEP files kept for averaging (default 5)"},
        {"average", OPT_INT, "N", "at the end, average the last N checkpoints; kept when its "
                                  "dev BLEU is better"},
        {"resume", OPT_FLAG, NULL, "continue from DIR/checkpoint.safetensors"},
        {"seed", OPT_U64, "N", "initialisation and batch order (default 1)"},
        {"threads", OPT_INT, "N", "threads (default: CF_NUM_THREADS or the core count)"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts,
                   "cformer train --task translate --src FILE --tgt FILE --dev-src FILE "
                   "--dev-tgt FILE --out DIR [--model PATH | shape options]",
                   "Trains an encoder-decoder translation model: a joint SentencePiece (Unigram) "
                   "vocabulary from both sides (unless --model), teacher forcing with "
                   "label-smoothed cross-entropy on token-budget batches, AdamW with the "
                   "inverse-square-root schedule (lr = peak * min(step / warmup, sqrt(warmup / "
                   "step))). Every --eval-every steps the dev BLEU (sacreBLEU default) is "
                   "measured and the best model is written to DIR in the Hugging Face Marian "
                   "layout. Ctrl-C saves a checkpoint; --resume continues it exactly."))
        return 2;
    const char *need[] = {"src", "tgt", "dev-src", "dev-tgt", "out"};
    for (int i = 0; i < 5; i++)
        if (!cli_get(opts, need[i])->set) {
            fprintf(stderr, "cformer train --task translate: --%s is required\n", need[i]);
            return 2;
        }
#define IOPT(name, def) (cli_get(opts, name)->set ? cli_get(opts, name)->i : (def))
#define FOPT(name, def) (cli_get(opts, name)->set ? cli_get(opts, name)->f : (def))
    const char *out = cli_get(opts, "out")->str;
    bool resume = cli_get(opts, "resume")->set;
    long long steps = IOPT("steps", 20000), eval_every = IOPT("eval-every", 1000);
    long long ckpt_every = IOPT("ckpt-every", eval_every), keep_last = IOPT("keep-last", 5);
    long long accum = IOPT("accum", 1), max_tokens = IOPT("max-tokens", 4096);
    long long eval_beam = IOPT("eval-beam", 1), average = IOPT("average", 0);
    if (steps < 1 || eval_every < 1 || ckpt_every < 1 || keep_last < 0 || accum < 1 ||
        max_tokens < 2 || eval_beam < 1 || average < 0 || average > keep_last) {
        fprintf(stderr, "cformer train --task translate: --steps, --eval-every, --ckpt-every, "
                "--accum, --eval-beam must be >= 1, --max-tokens >= 2, --average <= "
                "--keep-last\n");
        return 2;
    }
    lines src = {0}, tgt = {0}, dsrc = {0}, dtgt = {0};
    int32_t **sid = NULL, **tid = NULL, *slen = NULL, *tlen = NULL;
    cf_ctx *ctx = NULL;
    cf_model *m = NULL;
    cf_s2s_tokenizer *tok = NULL;
    cf_s2s_batcher *bat = NULL;
    cf_trainer *tr = NULL;
    cf_s2s_batch *mb = NULL;
    char *ckpt = NULL, *logp = NULL, *bestp = NULL;
    FILE *log = NULL;
    cf_status st = CF_OK;
    int rc = 1;
    if (!lines_read(cli_get(opts, "src")->str, &src) || !lines_read(cli_get(opts, "tgt")->str, &tgt) ||
        !lines_read(cli_get(opts, "dev-src")->str, &dsrc) ||
        !lines_read(cli_get(opts, "dev-tgt")->str, &dtgt))
        goto done;
    if (src.n != tgt.n || dsrc.n != dtgt.n || src.n == 0 || dsrc.n == 0) {
        fprintf(stderr, "cformer train --task translate: line counts differ or are zero: --src "
                "%lld, --tgt %lld, --dev-src %lld, --dev-tgt %lld\n", (long long)src.n,
                (long long)tgt.n, (long long)dsrc.n, (long long)dtgt.n);
        goto done;
    }
    int64_t n_dev = IOPT("eval-lines", dsrc.n);
    if (n_dev < 1 || n_dev > dsrc.n) n_dev = dsrc.n;
    ctx = cli_ctx_opts(opts);
    if (!ctx) goto done;
    ckpt = path_in(out, "checkpoint.safetensors");
    logp = path_in(out, "log.tsv");
    bestp = path_in(out, "best.txt");
    char *vocab_json = path_in(out, "vocab.json");
    bool have_vocab = vocab_json && access(vocab_json, R_OK) == 0;
    free(vocab_json);
    if (!ckpt || !logp || !bestp) goto done;
    if (!resume && access(ckpt, F_OK) == 0) {
        fprintf(stderr, "cformer train --task translate: %s already holds a checkpoint; pass "
                "--resume to continue it or choose another --out\n", out);
        goto done;
    }
    if (resume && access(ckpt, R_OK) != 0) {
        fprintf(stderr, "cformer train --task translate: --resume: %s does not exist\n", ckpt);
        goto done;
    }
    uint64_t seed = cli_get(opts, "seed")->set ? cli_get(opts, "seed")->u : 1;
    cli_opt *mo = cli_get(opts, "model");
    if (mo->set) {
        // A pretrained model: its tokenizer files come along.
        if ((st = cf_model_load(ctx, mo->str, &m)) != CF_OK) goto fail;
        if ((st = cf_s2s_tokenizer_load(ctx, mo->str, cf_model_config(m)->vocab_size, &tok)) !=
            CF_OK)
            goto fail;
        if ((st = cf_model_save(m, out)) != CF_OK) goto fail;
        const char *files[] = {"source.spm", "target.spm", "vocab.json"};
        for (int i = 0; i < 3; i++) {
            char *a = path_in(mo->str, files[i]), *b = path_in(out, files[i]);
            if (a && b) cli_copy_file(a, b);
            free(a);
            free(b);
        }
    } else {
        int32_t V = 0;
        if (!(resume && have_vocab)) {
            long long want = IOPT("spm-vocab", 8000);
            size_t total = 0;
            for (int64_t i = 0; i < src.n; i++) total += strlen(src.line[i]) + strlen(tgt.line[i]) + 2;
            char *text = malloc(total + 1), *w = text;
            if (!text) {
                st = CF_ERR_NOMEM;
                goto fail;
            }
            for (int64_t i = 0; i < src.n; i++) {
                w += sprintf(w, "%s\n", src.line[i]);
                w += sprintf(w, "%s\n", tgt.line[i]);
            }
            double t0 = (double)clock() / CLOCKS_PER_SEC;
            fprintf(stderr, "training a joint vocabulary of %lld pieces on %lld sentence pairs...\n",
                    want, (long long)src.n);
            st = cf_s2s_vocab_train(ctx, text, (size_t)(w - text), (int32_t)want, out, &V);
            free(text);
            if (st != CF_OK) goto fail;
            fprintf(stderr, "vocabulary: %d ids (%.1f s)\n", V,
                    (double)clock() / CLOCKS_PER_SEC - t0);
        }
        if ((st = cf_s2s_tokenizer_load(ctx, out, 0, &tok)) != CF_OK) goto fail;
        V = cf_s2s_tokenizer_vocab_size(tok);
        cf_config c = cf_config_marian();
        c.n_layers = (int32_t)IOPT("layers", 3);
        c.n_dec_layers = (int32_t)IOPT("dec-layers", c.n_layers);
        c.n_embd = (int32_t)IOPT("dim", 256);
        c.n_heads = c.n_kv_heads = (int32_t)IOPT("heads", 4);
        c.head_dim = 0;
        c.n_ff = (int32_t)IOPT("ff", 1024);
        c.n_ctx = (int32_t)IOPT("ctx", 256);
        c.vocab_size = V;
        c.eos_id = cf_s2s_tokenizer_eos(tok);
        c.pad_id = cf_s2s_tokenizer_pad(tok) >= 0 ? cf_s2s_tokenizer_pad(tok) : V - 1;
        c.decoder_start_id = c.pad_id;
        const char *act = cli_get(opts, "act")->set ? cli_get(opts, "act")->str : "relu";
        if (!strcmp(act, "relu")) c.act = CF_ACT_RELU;
        else if (!strcmp(act, "swish") || !strcmp(act, "silu")) c.act = CF_ACT_SILU;
        else if (!strcmp(act, "gelu")) c.act = CF_ACT_GELU;
        else {
            fprintf(stderr, "cformer train --task translate: --act '%s' is not relu, swish, gelu\n",
                    act);
            goto done;
        }
        if ((st = cf_config_finish(ctx, &c)) != CF_OK) goto fail;
        if ((st = cf_model_create(ctx, &c, seed, &m)) != CF_OK) goto fail;
    }
    const cf_config *cfg = cf_model_config(m);
    // Data: both sides end with </s>.
    if ((st = encode_side(tok, CF_S2S_SOURCE, &src, &sid, &slen)) != CF_OK ||
        (st = encode_side(tok, CF_S2S_TARGET, &tgt, &tid, &tlen)) != CF_OK)
        goto fail;
    if ((st = cf_s2s_batcher_create(m, (const int32_t *const *)sid, slen,
                                    (const int32_t *const *)tid, tlen, src.n, (int32_t)max_tokens,
                                    cfg->n_ctx, seed, &bat)) != CF_OK)
        goto fail;
    int64_t nb = cf_s2s_batcher_n_batches(bat);
    int64_t n_tok = 0;
    for (int64_t i = 0; i < src.n; i++) n_tok += slen[i] + tlen[i];
    fprintf(stderr, "%lld pairs (%lld tokens, %lld left out as longer than %d), %lld batches of "
            "<= %lld tokens per epoch; model %.2fM parameters\n", (long long)src.n,
            (long long)n_tok, (long long)cf_s2s_batcher_n_skipped(bat), cfg->n_ctx, (long long)nb,
            max_tokens, (double)cf_model_n_params(m) / 1e6);
    cf_train_params tp = cf_train_default_params();
    tp.batch_size = 1;
    tp.seq_len = 1;
    tp.max_steps = steps;
    tp.lr = (float)FOPT("lr", 1e-3);
    tp.min_lr = 0.0f;
    tp.warmup_steps = IOPT("warmup", 1000);
    tp.schedule = CF_SCHEDULE_INV_SQRT;
    tp.weight_decay = (float)FOPT("weight-decay", 0.0);
    tp.grad_clip = (float)FOPT("clip", 1.0);
    tp.beta1 = 0.9f;
    tp.beta2 = (float)FOPT("beta2", 0.98);
    tp.eps = 1e-9f;
    tp.val_fraction = 0.0f;
    tp.seed = seed;
    tp.dropout = (float)FOPT("dropout", 0.0);
    float ls = (float)FOPT("label-smoothing", 0.1);
    if ((st = cf_trainer_create(m, &tp, &tr)) != CF_OK) goto fail;
    double best = -1.0;
    if (resume) {
        if ((st = cf_trainer_resume(tr, ckpt)) != CF_OK) goto fail;
        FILE *bf = fopen(bestp, "r");
        if (bf) {
            if (fscanf(bf, "%lf", &best) != 1) best = -1.0;
            fclose(bf);
        }
        fprintf(stderr, "resumed %s at step %lld (best dev BLEU %.2f)\n", ckpt,
                (long long)cf_trainer_step_count(tr), best);
    }
    log = fopen(logp, resume ? "a" : "w");
    if (log && !resume) fprintf(log, "step\tloss\tlr\ttokens_per_s\tdev_bleu\tseconds\n");
    mb = calloc((size_t)accum, sizeof *mb);
    if (!mb) {
        st = CF_ERR_NOMEM;
        goto fail;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool tty = isatty(2);
    double tok_acc = 0, sec_acc = 0, loss_acc = 0, t_start = 0;
    int n_acc = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t_start = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    while (cf_trainer_step_count(tr) < steps && !g_stop_s2s) {
        int64_t step = cf_trainer_step_count(tr);
        // Each micro-batch is a separate batcher call (buffers are reused): copy them out.
        int32_t *copies[4 * 64] = {0};
        int n_copies = 0;
        for (long long a = 0; a < accum && st == CF_OK; a++) {
            cf_s2s_batch b;
            if ((st = cf_s2s_batcher_get(bat, step * accum + a, &b, NULL)) != CF_OK) break;
            if (accum > 1) {
                size_t ns = (size_t)b.B * (size_t)b.S, nt = (size_t)b.B * (size_t)b.T;
                int32_t *s2 = malloc(ns * 4), *ti = malloc(nt * 4), *la = malloc(nt * 4);
                uint8_t *mk = malloc(ns);
                if (!s2 || !ti || !la || !mk) {
                    st = CF_ERR_NOMEM;
                    free(s2), free(ti), free(la), free(mk);
                    break;
                }
                memcpy(s2, b.src, ns * 4);
                memcpy(ti, b.tgt_in, nt * 4);
                memcpy(la, b.labels, nt * 4);
                memcpy(mk, b.src_mask, ns);
                b.src = s2;
                b.tgt_in = ti;
                b.labels = la;
                b.src_mask = mk;
                if (n_copies + 4 <= 4 * 64) {
                    copies[n_copies++] = s2;
                    copies[n_copies++] = ti;
                    copies[n_copies++] = la;
                    copies[n_copies++] = (int32_t *)(void *)mk;
                }
            }
            mb[a] = b;
        }
        cf_step_stats ss = {0};
        if (st == CF_OK) st = cf_trainer_step_s2s(tr, mb, (int32_t)accum, ls, &ss);
        for (int i = 0; i < n_copies; i++) free(copies[i]);
        if (st != CF_OK) goto fail;
        tok_acc += (double)ss.tokens;
        sec_acc += ss.seconds;
        loss_acc += ss.loss;
        n_acc++;
        int64_t s1 = ss.step;
        if (tty || s1 % 50 == 0) {
            fprintf(stderr, "%sstep %lld/%lld | epoch %.2f | loss %.4f | lr %.2e | %.0f tok/s%s",
                    tty ? "\r\033[K" : "", (long long)s1, steps,
                    (double)(s1 * accum) / (double)nb, loss_acc / n_acc, ss.lr,
                    sec_acc > 0 ? tok_acc / sec_acc : 0.0, tty ? "" : "\n");
            fflush(stderr);
        }
        bool last = s1 == steps || g_stop_s2s;
        if (s1 % ckpt_every == 0 || last) {
            if ((st = cf_trainer_save(tr, ckpt)) != CF_OK) goto fail;
            if (keep_last > 0) {
                char name[64];
                snprintf(name, sizeof name, "ckpt-%08lld.safetensors", (long long)s1);
                char *kp = path_in(out, name);
                if (kp && (st = cf_trainer_save(tr, kp)) != CF_OK) {
                    free(kp);
                    goto fail;
                }
                free(kp);
                snprintf(name, sizeof name, "ckpt-%08lld.safetensors",
                         (long long)(s1 - keep_last * ckpt_every));
                if (s1 - keep_last * ckpt_every > 0 && (kp = path_in(out, name))) {
                    remove(kp);
                    free(kp);
                }
            }
        }
        if (s1 % eval_every == 0 || s1 == steps) {  // not on a signal: stop quickly
            double bleu = 0;
            if ((st = dev_bleu(m, tok, &dsrc, &dtgt, n_dev, (int)eval_beam, &bleu)) != CF_OK)
                goto fail;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
            bool better = bleu > best;
            fprintf(stderr, "%sstep %lld: loss %.4f, dev BLEU %.2f (%s %lld lines)%s\n",
                    tty ? "\r\033[K" : "", (long long)s1, loss_acc / n_acc, bleu,
                    eval_beam > 1 ? "beam" : "greedy", (long long)n_dev,
                    better ? ", best so far: saved" : "");
            if (log) {
                fprintf(log, "%lld\t%.5f\t%.3e\t%.0f\t%.2f\t%.0f\n", (long long)s1,
                        loss_acc / n_acc, ss.lr, sec_acc > 0 ? tok_acc / sec_acc : 0.0, bleu,
                        now - t_start);
                fflush(log);
            }
            tok_acc = sec_acc = loss_acc = 0;
            n_acc = 0;
            if (better) {
                best = bleu;
                if ((st = cf_model_save(m, out)) != CF_OK) goto fail;
                FILE *bf = fopen(bestp, "w");
                if (bf) {
                    fprintf(bf, "%.4f step %lld\n", best, (long long)s1);
                    fclose(bf);
                }
            }
        }
    }
    if (g_stop_s2s) {
        fprintf(stderr, "stopped by signal %d at step %lld; checkpoint saved in %s (resume with "
                "--resume)\n", (int)g_stop_s2s, (long long)cf_trainer_step_count(tr), ckpt);
        rc = 130;
        goto done;
    }
    if (average > 1) {
        // The mean of the last N checkpoints, scored like the others.
        const char *paths[256];
        char *owned[256] = {0};
        int n = 0;
        int64_t last = cf_trainer_step_count(tr) / ckpt_every * ckpt_every;
        for (long long k = 0; k < average && last - k * ckpt_every > 0; k++) {
            char name[64];
            snprintf(name, sizeof name, "ckpt-%08lld.safetensors",
                     (long long)(last - k * ckpt_every));
            owned[n] = path_in(out, name);
            if (owned[n] && access(owned[n], R_OK) == 0) {
                paths[n] = owned[n];
                n++;
            } else {
                free(owned[n]);
                owned[n] = NULL;
            }
        }
        cf_model *avg = NULL;
        if (n > 1 && (st = cf_model_average(ctx, paths, n, &avg)) == CF_OK) {
            double bleu = 0;
            st = dev_bleu(avg, tok, &dsrc, &dtgt, n_dev, (int)eval_beam, &bleu);
            if (st == CF_OK) {
                fprintf(stderr, "average of the last %d checkpoints: dev BLEU %.2f%s\n", n, bleu,
                        bleu > best ? ", better: saved" : " (not better; the best stays)");
                if (log) fprintf(log, "avg%d\t\t\t\t%.2f\t\n", n, bleu);
                if (bleu > best) {
                    best = bleu;
                    st = cf_model_save(avg, out);
                    FILE *bf = fopen(bestp, "w");
                    if (bf) {
                        fprintf(bf, "%.4f average of %d\n", best, n);
                        fclose(bf);
                    }
                }
            }
        }
        cf_model_free(avg);
        for (int i = 0; i < n; i++) free(owned[i]);
        if (st != CF_OK) goto fail;
    }
    fprintf(stderr, "done: best dev BLEU %.2f; model in %s\n", best, out);
    rc = 0;
    goto done;
fail:
    rc = cli_fail(ctx, "train", st);
done:
    if (log) fclose(log);
    free(mb);
    cf_trainer_free(tr);
    cf_s2s_batcher_free(bat);
    free_ids(sid, slen, src.n);
    free_ids(tid, tlen, tgt.n);
    cf_s2s_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
    free(ckpt);
    free(logp);
    free(bestp);
    lines_free(&src);
    lines_free(&tgt);
    lines_free(&dsrc);
    lines_free(&dtgt);
    return rc;
#undef IOPT
#undef FOPT
}
