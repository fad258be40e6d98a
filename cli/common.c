// Command-line helpers: option parsing, errors, tokenizer choice, file reading.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

cli_opt *cli_get(cli_opt *opts, const char *name) {
    for (cli_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name)) return o;
    return NULL;
}

static void usage_print(const cli_opt *opts, const char *usage, const char *about) {
    printf("usage: %s\n\n%s\n\noptions:\n", usage, about);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        printf("  %-24s %s\n", left, o->help);
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

bool cli_parse(int argc, char **argv, cli_opt *opts, const char *usage, const char *about) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_print(opts, usage, about);
            exit(0);
        }
        if (strncmp(a, "--", 2)) {
            fprintf(stderr, "cformer: unexpected argument '%s' (see --help)\n", a);
            return false;
        }
        const char *name = a + 2, *val = NULL;
        char buf[64];
        const char *eq = strchr(name, '=');
        if (eq) {
            snprintf(buf, sizeof buf, "%.*s", (int)(eq - name), name);
            name = buf;
            val = eq + 1;
        }
        cli_opt *o = cli_get(opts, name);
        if (!o) {
            fprintf(stderr, "cformer: unknown option '--%s' (see --help)\n", name);
            return false;
        }
        if (o->kind == OPT_FLAG) {
            if (val) {
                fprintf(stderr, "cformer: --%s takes no value\n", name);
                return false;
            }
            o->set = true;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cformer: --%s needs a value (%s)\n", name, o->meta ? o->meta : "");
                return false;
            }
            val = argv[++i];
        }
        char *end;
        errno = 0;
        switch (o->kind) {
        case OPT_INT:
            o->i = strtoll(val, &end, 10);
            if (!*val || *end || errno || o->i < -2147483647LL - 1 || o->i > 2147483647LL) {
                fprintf(stderr, "cformer: --%s: '%s' is not an integer in the 32-bit range\n",
                        name, val);
                return false;
            }
            break;
        case OPT_U64:
            if (*val == '-') {
                fprintf(stderr, "cformer: --%s: '%s' must not be negative\n", name, val);
                return false;
            }
            o->u = strtoull(val, &end, 10);
            if (!*val || *end || errno) {
                fprintf(stderr, "cformer: --%s: '%s' is not a 64-bit unsigned integer\n", name,
                        val);
                return false;
            }
            break;
        case OPT_FLOAT:
            o->f = strtod(val, &end);
            if (!*val || *end || errno) {
                fprintf(stderr, "cformer: --%s: '%s' is not a number\n", name, val);
                return false;
            }
            break;
        case OPT_MULTI:
            if (o->n_multi >= 15) {
                fprintf(stderr, "cformer: --%s given too often (max 15)\n", name);
                return false;
            }
            o->multi[o->n_multi++] = val;
            o->multi[o->n_multi] = NULL;
            break;
        default: break;
        }
        o->str = val;
        o->set = true;
    }
    return true;
}

int cli_fail(cf_ctx *ctx, const char *cmd, cf_status st) {
    const char *msg = ctx ? cf_errmsg(ctx) : "";
    fprintf(stderr, "cformer %s: %s%s%s\n", cmd, cf_status_str(st), *msg ? ": " : "", msg);
    return 1;
}

static cf_ctx *ctx_with(int n_threads, const char *precision) {
    cf_ctx_params p = cf_ctx_default_params();
    p.n_threads = n_threads;
    p.precision = precision;
    cf_ctx *ctx = NULL;
    cf_status st = cf_ctx_create(&p, &ctx);
    if (st != CF_OK) {
        const char *isa = getenv("CF_ISA"), *prec = precision ? precision : getenv("CF_PRECISION");
        bool bf16 = prec && !strcmp(prec, "bf16");
        fprintf(stderr, "cformer: cannot create a context: %s", cf_status_str(st));
        if (st == CF_ERR_INVALID_ARG)
            fprintf(stderr, ": precision '%s' is not fp32 or bf16", prec ? prec : "");
        else if (st == CF_ERR_UNSUPPORTED && bf16) {
            const char *blas = getenv("CF_BLAS"), *pp = getenv("CF_PREPACK");
            if (isa && *isa && strcmp(isa, "avx512"))
                fprintf(stderr, ": bf16 runs on the AVX-512 kernels, not CF_ISA=%s", isa);
            else if (blas && !strcmp(blas, "openblas"))
                fprintf(stderr, ": bf16 needs cformer's own GEMM, not CF_BLAS=openblas");
            else if (pp && *pp && atoll(pp) <= 0)
                fprintf(stderr, ": bf16 needs the packed-weight cache, not CF_PREPACK=%s", pp);
            else
                fprintf(stderr, ": bf16 needs a CPU with AVX512_BF16, which this one lacks");
        }
        else if (st == CF_ERR_UNSUPPORTED)
            fprintf(stderr, "; CF_ISA=%s", isa ? isa : "");
        fputc('\n', stderr);
        return NULL;
    }
    return ctx;
}

cf_ctx *cli_ctx(int n_threads) { return ctx_with(n_threads, NULL); }

cf_ctx *cli_ctx_opts(cli_opt *opts) {
    const cli_opt *t = cli_get(opts, "threads"), *p = cli_get(opts, "precision");
    return ctx_with(t ? (int)t->i : 0, p ? p->str : NULL);
}

static bool is_file(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

static bool is_dir(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

cf_status cli_tokenizer(cf_ctx *ctx, cf_model *m, const char *model_path, const char *explicit_path,
                        cf_tokenizer **out) {
    int32_t V = cf_model_config(m)->vocab_size;
    if (explicit_path) return cf_tokenizer_load(ctx, explicit_path, V, out);
    const char *hint = cf_model_tokenizer_hint(m);
    if (hint) return cf_tokenizer_load(ctx, hint, V, out);
    // A model folder is searched for every tokenizer format (tokenizer.json, *.model,
    // encoder.json + vocab.bpe, vocab.txt, tokenizer.bin); next to a model file, tokenizer.bin.
    char cand[4096];
    if (is_dir(model_path)) {
        snprintf(cand, sizeof cand, "%s", model_path);
        if (cf_tokenizer_load(ctx, cand, V, out) == CF_OK) return CF_OK;
    } else {
        const char *slash = strrchr(model_path, '/');
        int n = slash ? (int)(slash - model_path) : 0;
        snprintf(cand, sizeof cand, "%.*s%stokenizer.bin", n, model_path, slash ? "/" : "");
        if (is_file(cand)) return cf_tokenizer_load(ctx, cand, V, out);
    }
    if (V == 256) return cf_tokenizer_create_byte(ctx, out);
    fprintf(stderr, "cformer: no tokenizer found for %s (vocabulary of %d); pass --tokenizer\n",
            model_path, V);
    return CF_ERR_INVALID_ARG;
}

cf_status cli_encode(cf_tokenizer *tok, const char *text, size_t len, int add_special,
                     int32_t **ids, int64_t *n) {
    // Normalizers can expand text (NFKC, byte fallback): grow the buffer to what is asked for.
    int64_t cap = (int64_t)len + 16;
    for (;;) {
        *ids = malloc((size_t)cap * sizeof(int32_t));
        if (!*ids) return CF_ERR_NOMEM;
        cf_status st = cf_tokenizer_encode(tok, text, len, add_special, *ids, cap, n);
        if (st != CF_ERR_RANGE || *n <= cap) return st;
        free(*ids);
        *ids = NULL;
        cap = *n;
    }
}

bool cli_copy_file(const char *from, const char *to) {
    size_t len;
    char *data = cli_read_file(from, &len);
    if (!data) return false;
    FILE *f = fopen(to, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = false;
    if (!ok) fprintf(stderr, "cformer: cannot write %s\n", to);
    free(data);
    return ok;
}

void cli_warn_utf8(const char *cmd, const char *where, long long line, const char *s, size_t n) {
    int64_t bad = cf_utf8_invalid_count(s, n);
    if (!bad) return;
    char at[64] = "";
    if (line > 0) snprintf(at, sizeof at, " line %lld", line);
    fprintf(stderr, "cformer %s: warning: %s%s: %lld invalid UTF-8 sequence%s, read as U+FFFD\n",
            cmd, where, at, (long long)bad, bad == 1 ? "" : "s");
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cformer: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            if (cap >= ((size_t)1 << 31)) {
                fprintf(stderr, "cformer: %s: larger than 2 GiB\n", path);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    if (buf && ferror(f)) {
        fprintf(stderr, "cformer: %s: read error\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    *len = n;
    return buf;
}
