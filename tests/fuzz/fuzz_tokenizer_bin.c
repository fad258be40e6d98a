// Fuzzes the llama2.c tokenizer.bin parser (cf__tokenizer_parse_llama2c). An accepted tokenizer
// encodes a fixed string (ASCII, UTF-8, invalid UTF-8, a NUL byte) and a slice of the input as
// text; every id must be in range and decode (every piece into the 64 bytes tokenizer.h
// promises), and a too small id buffer must be reported.
#include <string.h>

#include "../../src/tokenizers/tokenizer_internal.h"  // defines: cf__tokenizer_parse_llama2c
#include "fuzz_common.h"

static char piece_buf[70000];  // pieces are at most 65536 bytes

static void encode_decode(cf_tokenizer *t, const char *text, size_t len, int add_special) {
    int64_t cap = (int64_t)len + 2, n = -1;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
    FUZZ_CHECK(ids != NULL);
    cf_status s = cf_tokenizer_encode(t, text, len, add_special, ids, cap, &n);
    FUZZ_CHECK(s == CF_OK || s == CF_ERR_NOMEM);
    if (s == CF_OK) {
        FUZZ_CHECK(n >= 0 && n <= cap);
        int32_t V = cf_tokenizer_vocab_size(t), prev = -1;
        for (int64_t i = 0; i < n; i++) {
            FUZZ_CHECK(ids[i] >= 0 && ids[i] < V);
            size_t nb = 0;
            FUZZ_CHECK(cf_tokenizer_decode_piece(t, prev, ids[i], piece_buf, sizeof piece_buf,
                                                 &nb) == CF_OK);
            FUZZ_CHECK(nb <= sizeof piece_buf);
            prev = ids[i];
        }
        if (n > 0) {  // one id short: CF_ERR_RANGE and the same count
            int64_t n2 = -1;
            s = cf_tokenizer_encode(t, text, len, add_special, ids, n - 1, &n2);
            FUZZ_CHECK(s == CF_ERR_RANGE || s == CF_ERR_NOMEM);
            if (s == CF_ERR_RANGE) FUZZ_CHECK(n2 == n);
        }
    }
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    cf_tokenizer *t = NULL;
    cf_status s = cf__tokenizer_parse_llama2c(ctx, "tokenizer.bin", data, size, 0, &t);
    if (s != CF_OK) {
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK(s == CF_ERR_FORMAT || s == CF_ERR_NOMEM);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), "tokenizer.bin") != NULL);
        return 0;
    }
    int32_t V = cf_tokenizer_vocab_size(t);
    FUZZ_CHECK(V >= 3);
    static const char fixed[] = "Hello, world! caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
                                "\xf0\x9f\x99\x82"
                                " \xff\xfe\x80 \xe6\x97 end\0nul";
    encode_decode(t, fixed, sizeof fixed - 1, 1);
    encode_decode(t, "", 0, 1);
    size_t n = size < 300 ? size : 300;
    encode_decode(t, (const char *)data + (size - n), n, 0);
    // Every id decodes, after BOS and at the start: into a small buffer it either fits or gets
    // CF_ERR_RANGE with the size needed, and a buffer of that size then works.
    size_t nb;
    for (int32_t id = 0; id < V; id++)
        for (int32_t prev = -1; prev <= 1; prev += 2) {
            cf_status d = cf_tokenizer_decode_piece(t, prev, id, piece_buf, 64, &nb);
            FUZZ_CHECK(d == CF_OK || (d == CF_ERR_RANGE && nb > 64));
            if (d == CF_ERR_RANGE)
                FUZZ_CHECK(nb <= sizeof piece_buf &&
                           cf_tokenizer_decode_piece(t, prev, id, piece_buf, nb, &nb) == CF_OK);
        }
    // The decoder rejects ids outside the vocabulary.
    FUZZ_CHECK(cf_tokenizer_decode_piece(t, -1, V, piece_buf, sizeof piece_buf, &nb) ==
               CF_ERR_RANGE);
    FUZZ_CHECK(cf_tokenizer_decode_piece(t, -1, -1, piece_buf, sizeof piece_buf, &nb) ==
               CF_ERR_RANGE);
    cf_tokenizer_free(t);
    // Limited to the model's vocabulary: the same records, fewer of them.
    if (V > 3) {
        s = cf__tokenizer_parse_llama2c(ctx, "tokenizer.bin", data, size, V - 1, &t);
        FUZZ_CHECK(s == CF_OK || s == CF_ERR_NOMEM);
        if (s == CF_OK) FUZZ_CHECK(cf_tokenizer_vocab_size(t) == V - 1);
        cf_tokenizer_free(t);
    }
    return 0;
}
