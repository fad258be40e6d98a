// Fuzzes encoding of arbitrary bytes (including invalid UTF-8 and NUL bytes) with the byte
// tokenizer and with a small llama2.c vocabulary built here in memory: <unk>, <s>, </s>, the 256
// <0xXX> byte pieces, then single characters and merges. Every id must be in range and decode;
// the byte tokenizer round-trips exactly, and so does the llama2.c one after BOS (its pieces
// plus byte fallback cover every input, and the dummy-prefix space is dropped after BOS).
#include <string.h>

#include "../../src/tokenizers/tokenizer_internal.h"  // defines: cf__tokenizer_parse_llama2c
#include "fuzz_common.h"

static const char *const MERGES[] = {
    " ", "t", "h", "e", "a", "n", "d", "o", "\xc3\xa9", "\xe6\x97\xa5", "\xe6\x9c\xac",
    "th", "he", "the", " t", " the", "an", "and", " and", "e ", "\xe6\x97\xa5\xe6\x9c\xac",
    "caf\xc3\xa9", "ca", "f", "c", "af", "  ", "   ", "\n", "\t",
};

static uint8_t *put(uint8_t *p, const void *x, size_t n) {
    memcpy(p, x, n);
    return p + n;
}

// tokenizer.bin image: max_token_length, then (score, len, bytes) per piece.
static cf_tokenizer *make_llama(cf_ctx *ctx) {
    static uint8_t img[16384];
    uint8_t *p = img;
    int32_t max_len = 16;
    p = put(p, &max_len, 4);
    int n_merges = (int)(sizeof MERGES / sizeof *MERGES);
    for (int i = 0; i < 259 + n_merges; i++) {
        char piece[16];
        if (i == 0) strcpy(piece, "<unk>");
        else if (i == 1) strcpy(piece, "\n<s>\n");
        else if (i == 2) strcpy(piece, "\n</s>\n");
        else if (i < 259) snprintf(piece, sizeof piece, "<0x%02X>", i - 3);
        else strcpy(piece, MERGES[i - 259]);
        float score = i < 259 ? 0.0f : (float)(i - 259);
        int32_t len = (int32_t)strlen(piece);
        p = put(p, &score, 4);
        p = put(p, &len, 4);
        p = put(p, piece, (size_t)len);
    }
    cf_tokenizer *t = NULL;
    if (cf__tokenizer_parse_llama2c(ctx, "fixed", img, (size_t)(p - img), 0, &t) != CF_OK)
        abort();
    return t;
}

static char *decoded;
static size_t decoded_cap;

// Encodes, checks every id, decodes into `decoded`; returns the decoded length.
static size_t roundtrip(cf_tokenizer *t, const uint8_t *data, size_t size, int add_special) {
    int64_t cap = (int64_t)size + 2, n = -1;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
    FUZZ_CHECK(ids != NULL);
    FUZZ_CHECK(cf_tokenizer_encode(t, (const char *)data, size, add_special, ids, cap, &n) ==
               CF_OK);
    FUZZ_CHECK(n >= 0 && n <= cap);
    if (decoded_cap < size * 8 + 64) {
        free(decoded);
        decoded_cap = size * 8 + 64;
        decoded = malloc(decoded_cap);
        FUZZ_CHECK(decoded != NULL);
    }
    size_t out = 0;
    int32_t prev = -1, V = cf_tokenizer_vocab_size(t);
    for (int64_t i = 0; i < n; i++) {
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < V);
        size_t nb = 0;
        FUZZ_CHECK(cf_tokenizer_decode_piece(t, prev, ids[i], decoded + out, 64, &nb) == CF_OK);
        out += nb;
        FUZZ_CHECK(out <= decoded_cap - 64);
        prev = ids[i];
    }
    free(ids);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    static cf_tokenizer *byte, *llama;
    if (!byte && cf_tokenizer_create_byte(ctx, &byte) != CF_OK) abort();
    if (!llama) llama = make_llama(ctx);
    size_t n = roundtrip(byte, data, size, 1);
    FUZZ_CHECK(n == size && (size == 0 || !memcmp(decoded, data, size)));
    n = roundtrip(llama, data, size, 1);
    FUZZ_CHECK(n == size && (size == 0 || !memcmp(decoded, data, size)));
    n = roundtrip(llama, data, size, 0);  // without BOS the dummy-prefix space stays
    FUZZ_CHECK(size == 0 ? n == 0 : n == size + 1 && decoded[0] == ' ' &&
                                        !memcmp(decoded + 1, data, size));
    return 0;
}
