// Tokenizer encode throughput, one thread: every line of a text file encoded in turn (as a
// data loader or a server would), best of R rounds after a warm-up. Prints MB/s (bytes of
// text per second), tokens/s and the token count. tools/bench_tokenizer_refs.py times the
// reference libraries the same way on the same file (README, "Tokenizer speed").
//   bench_tokenize TOKENIZER FILE [rounds] [--whole]
// --whole encodes the file as one text instead of line by line.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "cformer/cformer.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0;
    *len = (size_t)n;
    return b;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenize TOKENIZER FILE [rounds] [--whole]\n");
        return 2;
    }
    int rounds = argc > 3 && argv[3][0] != '-' ? atoi(argv[3]) : 3;
    int whole = !strcmp(argv[argc - 1], "--whole");
    size_t len;
    char *text = slurp(argv[2], &len);
    if (!text) {
        fprintf(stderr, "bench_tokenize: cannot read %s\n", argv[2]);
        return 1;
    }
    cf_ctx_params cp = cf_ctx_default_params();
    cp.n_threads = 1;
    cf_ctx *ctx;
    cf_tokenizer *tok;
    if (cf_ctx_create(&cp, &ctx) != CF_OK) return 1;
    if (cf_tokenizer_load(ctx, argv[1], 0, &tok) != CF_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", cf_errmsg(ctx));
        return 1;
    }
    size_t cap = len + 64;
    int32_t *ids = malloc(cap * sizeof *ids);
    double best = 1e30;
    int64_t total = 0;
    for (int r = 0; r <= rounds; r++) {  // round 0 warms up (caches, page faults)
        double t0 = bench_now();
        int64_t n_tok = 0;
        for (size_t i = 0; i < len;) {
            const char *nl = whole ? NULL : memchr(text + i, '\n', len - i);
            size_t e = nl ? (size_t)(nl - text) + 1 : len;
            int64_t n;
            cf_status st = cf_tokenizer_encode(tok, text + i, e - i, 0, ids, (int64_t)cap, &n);
            if (st != CF_OK) {
                fprintf(stderr, "bench_tokenize: %s\n", cf_errmsg(ctx));
                return 1;
            }
            n_tok += n;
            i = e;
        }
        double dt = bench_now() - t0;
        if (r > 0 && dt < best) best = dt;
        total = n_tok;
    }
    printf("%s on %s (%s, %.2f MB, %s): %.2f MB/s, %.0f tokens/s, %lld tokens\n", argv[1], argv[2],
           cf_tokenizer_kind(tok), (double)len / 1e6, whole ? "whole text" : "line by line",
           (double)len / 1e6 / best, (double)total / best, (long long)total);
    free(ids);
    free(text);
    cf_tokenizer_free(tok);
    cf_ctx_free(ctx);
    return 0;
}
