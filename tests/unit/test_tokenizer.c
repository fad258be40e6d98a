// Tokenizers: the byte tokenizer is lossless on every byte; llama2.c's tokenizer.bin merges by
// score, falls back to bytes, and decodes back to the input text. (Parity with the reference
// algorithm on generated vocabularies is in tests/golden; the other formats' unit tests are in
// test_tokenizer_formats.c and listed in this file's table.)
#include <stdlib.h>

#include "../../src/tokenizers/tokenizer_internal.h"
#include "../test.h"

static void test_byte(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    cf_tokenizer *t;
    CF_CHECK_STATUS(cf_tokenizer_create_byte(ctx, &t), CF_OK);
    char text[256];
    for (int i = 0; i < 256; i++) text[i] = (char)i;
    int32_t ids[300];
    int64_t n;
    CF_CHECK_STATUS(cf_tokenizer_encode(t, text, 256, 1, ids, 300, &n), CF_OK);
    CF_CHECK_EQ(n, 256);
    for (int i = 0; i < 256; i++) {
        CF_CHECK_EQ(ids[i], i);
        char b[8];
        size_t len;
        CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], b, sizeof b, &len),
                        CF_OK);
        CF_CHECK(len == 1 && (uint8_t)b[0] == i);
    }
    CF_CHECK_STATUS(cf_tokenizer_encode(t, text, 256, 0, ids, 10, &n), CF_ERR_RANGE);
    CF_CHECK_EQ(n, 256);
    char b[8];
    size_t len;
    CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, -1, 256, b, sizeof b, &len), CF_ERR_RANGE);
    cf_tokenizer_free(t);
    cf_ctx_free(ctx);
}

// Builds a tokenizer.bin image: <unk>, <s>, </s>, <0x00>..<0xFF>, then pieces with scores.
static uint8_t *vocab_image(const char *const *pieces, const float *scores, int n, size_t *size) {
    size_t cap = 4 + (size_t)(259 + n) * 80, off = 0;
    uint8_t *b = malloc(cap);
    int32_t max_len = 32;
    memcpy(b, &max_len, 4);
    off = 4;
    for (int i = 0; i < 259 + n; i++) {
        char tmp[16];
        const char *p;
        float sc = 0;
        if (i == 0) p = "<unk>";
        else if (i == 1) p = "\n<s>\n";
        else if (i == 2) p = "\n</s>\n";
        else if (i < 259) {
            snprintf(tmp, sizeof tmp, "<0x%02X>", i - 3);
            p = tmp;
        } else {
            p = pieces[i - 259];
            sc = scores[i - 259];
        }
        int32_t len = (int32_t)strlen(p);
        memcpy(b + off, &sc, 4);
        memcpy(b + off + 4, &len, 4);
        memcpy(b + off + 8, p, (size_t)len);
        off += 8 + (size_t)len;
    }
    *size = off;
    return b;
}

static void test_llama2c(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    const char *pieces[] = {" ", "a", "b", "c", "ab", "bc", " a", " ab", "abc", "\xc3\xa9"};
    const float scores[] = {-1, -1, -1, -1, -2, -1.5f, -3, -2.5f, -4, -1};
    size_t size;
    uint8_t *img = vocab_image(pieces, scores, 10, &size);
    cf_tokenizer *t;
    CF_CHECK_STATUS(cf__tokenizer_parse_llama2c(ctx, "mem", img, size, 0, &t), CF_OK);
    CF_CHECK_EQ(cf_tokenizer_vocab_size(t), 269);
    CF_CHECK_EQ(cf_tokenizer_bos(t), 1);
    // " abc": start [" ", a, b, c]; best pair (score): "bc" -1.5 > "ab" -2 > " a" -3 -> [" ", a,
    // bc]; then " a" -3 -> [" a", bc]; " abc" is no piece, done.
    int32_t ids[32];
    int64_t n;
    CF_CHECK_STATUS(cf_tokenizer_encode(t, "abc", 3, 1, ids, 32, &n), CF_OK);
    CF_CHECK_EQ(n, 3);
    CF_CHECK_EQ(ids[0], 1);
    CF_CHECK_EQ(ids[1], 259 + 6);  // " a"
    CF_CHECK_EQ(ids[2], 259 + 5);  // "bc"
    // Unknown characters fall back to bytes; known multi-byte characters are one piece.
    const char *text = "\xc3\xa9z\xe2\x82\xac";  // e-acute (known), z and the euro sign (unknown)
    CF_CHECK_STATUS(cf_tokenizer_encode(t, text, strlen(text), 0, ids, 32, &n), CF_OK);
    CF_CHECK_EQ(n, 6);  // " ", "é", <0x7A>, <0xE2>, <0x82>, <0xAC>
    CF_CHECK_EQ(ids[1], 259 + 9);
    CF_CHECK_EQ(ids[2], 'z' + 3);
    CF_CHECK_EQ(ids[3], 0xE2 + 3);
    // Decoding gives the text back (the dummy-prefix space is dropped after BOS).
    const char *samples[] = {"abc abcab", "\xc3\xa9z\xe2\x82\xac bca", "  a\nb", "\xff\xfe broken"};
    for (int s = 0; s < 4; s++) {
        CF_CHECK_STATUS(cf_tokenizer_encode(t, samples[s], strlen(samples[s]), 1, ids, 32, &n), CF_OK);
        char out[128];
        size_t len = 0;
        for (int64_t i = 1; i < n; i++) {
            size_t pl;
            CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, ids[i - 1], ids[i], out + len,
                                                      sizeof out - len, &pl), CF_OK);
            len += pl;
        }
        CF_CHECK(len == strlen(samples[s]) && !memcmp(out, samples[s], len));
    }
    CF_CHECK_STATUS(cf_tokenizer_encode(t, "", 0, 1, ids, 32, &n), CF_OK);
    CF_CHECK_EQ(n, 1);
    cf_tokenizer_free(t);
    // A vocabulary shorter than the model's is refused.
    CF_CHECK_STATUS(cf__tokenizer_parse_llama2c(ctx, "mem", img, size, 300, &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "300");
    free(img);
    cf_ctx_free(ctx);
}

// Invalid UTF-8 counts as Python's bytes.decode("utf-8", "replace") gives them (one U+FFFD per
// maximal invalid subpart: a truncated sequence is one, a surrogate or an over-long form one per
// byte), which is what the tokenizers read.
static void test_utf8_invalid_count(void) {
    static const struct {
        const char *s;
        int64_t bad;
    } cases[] = {
        {"", 0}, {"abc", 0}, {"caf\xc3\xa9", 0}, {"\xff", 1}, {"a\xe2\x82", 1},
        {"\xed\xa0\x80", 3}, {"\xf0\x90\x80x", 1}, {"\xc0\xaf", 2}, {"\xf4\x90\x80\x80", 4},
        {"ab\x80\x80" "cd\xe2\x82\xac\xe2", 3}, {"0123456789abcdef\xfe", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CF_CHECK_EQ(cf_utf8_invalid_count(cases[i].s, strlen(cases[i].s)), cases[i].bad);
    CF_CHECK_EQ(cf_utf8_invalid_count("a\0\xff", 3), 1);  // lengths, not NUL-terminated
    CF_CHECK_EQ(cf_utf8_invalid_count(NULL, 0), 0);
}

// In test_tokenizer_formats.c.
void cf_test_tok_hostile_json(void);
void cf_test_tok_hostile_spm(void);
void cf_test_tok_hostile_vocab(void);
void cf_test_tok_oom(void);
void cf_test_tok_roundtrip(void);
void cf_test_tok_pair_offsets(void);
void cf_test_tok_added(void);
void cf_test_tok_folder(void);
void cf_test_tok_train(void);
void cf_test_tok_errors(void);
void cf_test_tok_cli(void);

const cf_test tests_tokenizer[] = {
    {"tokenizer/byte", test_byte},
    {"tokenizer/llama2c", test_llama2c},
    {"tokenizer/utf8_invalid_count", test_utf8_invalid_count},
    {"tokenizer/hostile_json", cf_test_tok_hostile_json},
    {"tokenizer/hostile_spm", cf_test_tok_hostile_spm},
    {"tokenizer/hostile_vocab", cf_test_tok_hostile_vocab},
    {"tokenizer/oom", cf_test_tok_oom},
    {"tokenizer/roundtrip", cf_test_tok_roundtrip},
    {"tokenizer/pair_offsets", cf_test_tok_pair_offsets},
    {"tokenizer/added_tokens", cf_test_tok_added},
    {"tokenizer/folder", cf_test_tok_folder},
    {"tokenizer/train", cf_test_tok_train},
    {"tokenizer/errors", cf_test_tok_errors},
    {"tokenizer/cli", cf_test_tok_cli},
    {NULL, NULL},
};
