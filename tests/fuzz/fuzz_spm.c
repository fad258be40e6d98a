// Fuzzes the SentencePiece .model reader (cf__tokenizer_parse_spm): protocol buffers of any
// shape, truncated, with hostile lengths and charsmaps. An accepted model encodes a fixed hard
// string and a slice of the input; ids in range, offsets inside the text, and decoding (whole
// and piece by piece) succeeds.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/tokenizers/tokenizer_internal.h"  // defines: cf__tokenizer_parse_spm

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Aborts (so libFuzzer and the replay driver report it) when an invariant fails.
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                           \
            abort();                                                                  \
        }                                                                             \
    } while (0)

// One one-thread context for the whole run (reachable until exit, not a leak).
static cf_ctx *fuzz_ctx(void) {
    static cf_ctx *ctx;
    if (!ctx) {
        cf_ctx_params p = cf_ctx_default_params();
        p.n_threads = 1;
        if (cf_ctx_create(&p, &ctx) != CF_OK) abort();
    }
    return ctx;
}

static const char HARD[] = "Hello, world! caf\xc3\xa9  \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82 "
                           "\xff\xfe\x80 \xe6\x97 <s> <unk> \xe2\x96\x81x \t\n end  ";

static void check(cf_tokenizer *t, const char *a, size_t na) {
    int32_t V = cf_tokenizer_vocab_size(t);
    int64_t cap = (int64_t)na * 4 + 16, n = -1;
    cf_token *tok = malloc((size_t)cap * sizeof *tok);
    FUZZ_CHECK(tok != NULL);
    cf_status s = cf_tokenizer_encode_tokens(t, a, na, NULL, 0, 1, tok, cap, &n);
    FUZZ_CHECK(s == CF_OK || s == CF_ERR_NOMEM || s == CF_ERR_RANGE);
    if (s == CF_OK) {
        int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
        FUZZ_CHECK(ids != NULL);
        for (int64_t i = 0; i < n; i++) {
            FUZZ_CHECK(tok[i].id >= 0 && tok[i].id < V);
            FUZZ_CHECK(tok[i].start >= 0 && tok[i].start <= tok[i].end && (size_t)tok[i].end <= na);
            ids[i] = tok[i].id;
        }
        size_t cap_d = (size_t)n * 64 + 64, got = 0;
        char *d = malloc(cap_d);
        FUZZ_CHECK(d != NULL);
        s = cf_tokenizer_decode(t, ids, n, 0, d, cap_d, &got);
        FUZZ_CHECK(s == CF_OK || s == CF_ERR_NOMEM || (s == CF_ERR_RANGE && got > cap_d));
        char piece[512];
        for (int64_t i = 0; i < n; i++) {
            size_t pl;
            s = cf_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], piece, sizeof piece, &pl);
            FUZZ_CHECK(s == CF_OK || s == CF_ERR_NOMEM || (s == CF_ERR_RANGE && pl > sizeof piece));
        }
        free(d);
        free(ids);
    }
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    cf_tokenizer *t = NULL;
    cf_status s = cf__tokenizer_parse_spm(ctx, "spm.model", data, size, &t);
    if (s != CF_OK) {
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK(s == CF_ERR_FORMAT || s == CF_ERR_NOMEM);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), "spm.model") != NULL || s == CF_ERR_NOMEM);
        return 0;
    }
    check(t, HARD, sizeof HARD - 1);
    check(t, "", 0);
    size_t n = size < 200 ? size : 200;
    check(t, (const char *)data + size - n, n);
    cf_tokenizer_free(t);
    return 0;
}
