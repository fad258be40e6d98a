// Tokenizer formats beyond parity (tests/golden/test_tokenizer_golden.c has that): hostile
// tokenizer.json, SentencePiece, vocab.txt and GPT-2 files (every one a clean CF_ERR_FORMAT
// naming the file, never a crash), truncation of valid files at every byte, allocation
// failures, the round trip decode(encode(x)) == x of the lossless tokenizers, streaming pieces,
// pair encodings with type ids and offsets, added tokens, folder loading, and training.
// The tests are listed in test_tokenizer.c's table.
#include <stdlib.h>
#include <sys/stat.h>

#include "../../src/tokenizers/tokenizer_internal.h"
#include "../test.h"

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

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        cf_test_failures++;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    if (fread(b, 1, (size_t)len, f) != (size_t)len) len = 0;
    fclose(f);
    *n = (size_t)len;
    return b;
}

static const char *fx(const char *name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", cf_test_fixture("tokenizers"), name);
    return buf;
}

static void write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(d, 1, n, f);
    fclose(f);
}

// ---- hostile files ----

static void expect_json(cf_ctx *ctx, const char *json, cf_status want, const char *msg_part) {
    cf_tokenizer *t = (cf_tokenizer *)1;
    cf_status st = cf__tokenizer_parse_json(ctx, "bad.json", (const uint8_t *)json, strlen(json), &t);
    if (st != want) {
        fprintf(stderr, "  %s\n    -> %d (%s), expected %d\n", json, st, cf_errmsg(ctx), want);
        cf_test_failures++;
    }
    CF_CHECK(t == NULL || st == CF_OK);
    if (st != CF_OK) {
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "bad.json");
        if (msg_part) CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), msg_part);
    } else {
        cf_tokenizer_free(t);
    }
}

void cf_test_tok_hostile_json(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    const cf_status F = CF_ERR_FORMAT, U = CF_ERR_UNSUPPORTED;
    expect_json(ctx, "", F, "JSON");
    expect_json(ctx, "{", F, "JSON");
    expect_json(ctx, "[1, 2]", F, "JSON");
    expect_json(ctx, "{\"version\": \"1.0\"}", F, "model");
    expect_json(ctx, "{\"version\": \"2.0\", \"model\": {}}", F, "version");
    expect_json(ctx, "{\"model\": 5}", F, "model");
    expect_json(ctx, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", F, "merges");
    expect_json(ctx, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
                F, "vocab");
    expect_json(ctx, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1e12}, \"merges\": []}}",
                F, "vocab");
    expect_json(ctx, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0.5}, \"merges\": []}}",
                F, "vocab");
    expect_json(ctx, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, "
                     "\"merges\": [\"a b\"]}}", F, "'ab' is not in the vocabulary");
    expect_json(ctx, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
                     "\"merges\": [\"a\"]}}", F, "merges[0]");
    expect_json(ctx, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, "
                     "\"merges\": [[\"a\", 3]]}}", F, "merges[0]");
    expect_json(ctx, "{\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {}, "
                     "\"merges\": []}}", U, "dropout");
    expect_json(ctx, "{\"model\": {\"type\": \"Magic\"}}", U, "Magic");
    expect_json(ctx, "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", F, "Unigram");
    expect_json(ctx, "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", \"x\"]]}}", F,
                "vocab[0]");
    expect_json(ctx, "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"a\", "
                     "-1.0]]}}", F, "unk_id");
    const char *ok_model = "\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}";
    char buf[2048];
    snprintf(buf, sizeof buf, "{%s, \"normalizer\": {\"type\": \"Nope\"}}", ok_model);
    expect_json(ctx, buf, U, "Nope");
    snprintf(buf, sizeof buf, "{%s, \"normalizer\": {\"prepend\": 1}}", ok_model);
    expect_json(ctx, buf, F, "type");
    snprintf(buf, sizeof buf, "{%s, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": "
                              "{\"Regex\": \"(\"}, \"behavior\": \"Isolated\", \"invert\": false}}",
             ok_model);
    expect_json(ctx, buf, F, "regex");
    snprintf(buf, sizeof buf, "{%s, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\":"
                              " \"ab\"}}", ok_model);
    expect_json(ctx, buf, F, "one character");
    snprintf(buf, sizeof buf, "{%s, \"normalizer\": {\"type\": \"Precompiled\", "
                              "\"precompiled_charsmap\": \"!!!\"}}", ok_model);
    expect_json(ctx, buf, F, "base64");
    snprintf(buf, sizeof buf, "{%s, \"normalizer\": {\"type\": \"Precompiled\", "
                              "\"precompiled_charsmap\": \"/////w==\"}}", ok_model);
    expect_json(ctx, buf, F, "charsmap");
    snprintf(buf, sizeof buf, "{%s, \"post_processor\": {\"type\": \"TemplateProcessing\", "
                              "\"single\": [{\"SpecialToken\": {\"id\": \"[X]\", \"type_id\": 0}}],"
                              " \"pair\": [], \"special_tokens\": {}}}", ok_model);
    expect_json(ctx, buf, F, "[X]");
    snprintf(buf, sizeof buf, "{%s, \"added_tokens\": {}}", ok_model);
    expect_json(ctx, buf, F, "added_tokens");
    snprintf(buf, sizeof buf, "{%s, \"added_tokens\": [{\"id\": 1}]}", ok_model);
    expect_json(ctx, buf, F, "content");
    // Sequences nested past the limit.
    char deep[4096] = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}, \"normalizer\": ";
    for (int k = 0; k < 40; k++) strcat(deep, "{\"type\": \"Sequence\", \"normalizers\": [");
    strcat(deep, "{\"type\": \"NFC\"}");
    for (int k = 0; k < 40; k++) strcat(deep, "]}");
    strcat(deep, "}");
    expect_json(ctx, deep, F, "nested");
    // A valid file cut at every byte: an error or a tokenizer, never a crash.
    size_t n;
    uint8_t *good = slurp(fx("wordpiece_cased.json"), &n);
    for (size_t cut = 0; good && cut < n; cut += cut < 4000 ? 1 : 997) {
        cf_tokenizer *t = NULL;
        cf_status st = cf__tokenizer_parse_json(ctx, "cut.json", good, cut, &t);
        CF_CHECK(st == CF_OK || st == CF_ERR_FORMAT);
        cf_tokenizer_free(t);
    }
    free(good);
    cf_ctx_free(ctx);
}

// Appends a protobuf varint / key / length-delimited field.
static size_t pb_var(uint8_t *o, uint64_t v) {
    size_t n = 0;
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        o[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static size_t pb_piece(uint8_t *o, const char *piece, int type) {
    uint8_t inner[128];
    size_t k = 0, pl = strlen(piece);
    inner[k++] = 0x0A;
    k += pb_var(inner + k, pl);
    memcpy(inner + k, piece, pl);
    k += pl;
    inner[k++] = 0x15;  // score, fixed32
    float sc = -1.0f;
    memcpy(inner + k, &sc, 4);
    k += 4;
    inner[k++] = 0x18;  // type
    k += pb_var(inner + k, (uint64_t)type);
    size_t n = 0;
    o[n++] = 0x0A;  // field 1, length-delimited
    n += pb_var(o + n, k);
    memcpy(o + n, inner, k);
    return n + k;
}

static void expect_spm(cf_ctx *ctx, const uint8_t *d, size_t n, cf_status want, const char *part) {
    cf_tokenizer *t = NULL;
    cf_status st = cf__tokenizer_parse_spm(ctx, "bad.model", d, n, &t);
    if (st != want) {
        fprintf(stderr, "  spm case '%s': %d (%s), expected %d\n", part, st, cf_errmsg(ctx), want);
        cf_test_failures++;
    }
    if (st == CF_OK) cf_tokenizer_free(t);
    else {
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "bad.model");
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), part);
    }
}

void cf_test_tok_hostile_spm(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    uint8_t b[1024];
    size_t n = 0;
    expect_spm(ctx, b, 0, CF_ERR_FORMAT, "no pieces");
    n = pb_piece(b, "a", 1);
    expect_spm(ctx, b, n, CF_ERR_FORMAT, "unk is not defined");
    n = pb_piece(b, "<unk>", 2);
    n += pb_piece(b + n, "<unk>", 2);
    expect_spm(ctx, b, n, CF_ERR_FORMAT, "already defined");
    n = pb_piece(b, "<unk>", 2);
    n += pb_piece(b + n, "<0x41>", 6);
    expect_spm(ctx, b, n, CF_ERR_FORMAT, "byte_fallback");
    n = pb_piece(b, "<unk>", 2);
    n += pb_piece(b + n, "", 1);
    expect_spm(ctx, b, n, CF_ERR_FORMAT, "empty");
    n = pb_piece(b, "<unk>", 2);
    b[n++] = 0x0B;  // field 1, wire type 3 (group start)
    expect_spm(ctx, b, n, CF_ERR_FORMAT, "wire type");
    n = pb_piece(b, "<unk>", 2);
    b[n++] = 0x0A;  // a length far past the end
    n += pb_var(b + n, (uint64_t)1 << 40);
    expect_spm(ctx, b, n, CF_ERR_FORMAT, "runs past");
    n = pb_piece(b, "<unk>", 2);
    b[n++] = 0x08;  // a varint that never ends
    for (int k = 0; k < 12; k++) b[n++] = 0xFF;
    expect_spm(ctx, b, n, CF_ERR_FORMAT, "varint");
    // A real model cut at every length and with bytes flipped: never a crash.
    size_t mn;
    uint8_t *m = slurp(fx("spm_unigram.model"), &mn);
    for (size_t cut = 0; m && cut < mn; cut += cut < 3000 ? 1 : 101) {
        cf_tokenizer *t = NULL;
        cf_status st = cf__tokenizer_parse_spm(ctx, "cut.model", m, cut, &t);
        CF_CHECK(st == CF_OK || st == CF_ERR_FORMAT);
        if (st == CF_OK) {
            int32_t ids[64];
            int64_t k;
            CF_CHECK_STATUS(cf_tokenizer_encode(t, "hello world", 11, 1, ids, 64, &k), CF_OK);
        }
        cf_tokenizer_free(t);
    }
    for (size_t pos = 0; m && pos < mn; pos += 37) {
        uint8_t saved = m[pos];
        m[pos] ^= (uint8_t)(0x5A + pos);
        cf_tokenizer *t = NULL;
        cf_status st = cf__tokenizer_parse_spm(ctx, "flip.model", m, mn, &t);
        CF_CHECK(st == CF_OK || st == CF_ERR_FORMAT);
        if (st == CF_OK) {
            int32_t ids[256];
            int64_t k;
            cf_status e = cf_tokenizer_encode(t, "Hello, w\xc3\xb6rld \xff!", 17, 1, ids, 256, &k);
            CF_CHECK(e == CF_OK);
        }
        cf_tokenizer_free(t);
        m[pos] = saved;
    }
    free(m);
    cf_ctx_free(ctx);
}

void cf_test_tok_hostile_vocab(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    cf_tokenizer *t = NULL;
    const char bad_utf8[] = "[PAD]\n[UNK]\nab\xff\n";
    CF_CHECK_STATUS(cf__tokenizer_parse_vocab_txt(ctx, "vocab.txt", (const uint8_t *)bad_utf8,
                                                  sizeof bad_utf8 - 1, true, &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "vocab.txt: line 3");
    CF_CHECK_STATUS(cf__tokenizer_parse_vocab_txt(ctx, "vocab.txt", (const uint8_t *)"", 0, true,
                                                  &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "empty");
    const char enc[] = "{\"a\": 0, \"b\": 1, \"ab\": 2}";
    const char bpe_bad[] = "#version: 0.2\na b\nb c\n";
    CF_CHECK_STATUS(cf__tokenizer_parse_gpt2(ctx, "encoder.json", (const uint8_t *)enc,
                                             sizeof enc - 1, "vocab.bpe", (const uint8_t *)bpe_bad,
                                             sizeof bpe_bad - 1, &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "vocab.bpe: line 3");
    const char bpe_line[] = "a b c\n";
    CF_CHECK_STATUS(cf__tokenizer_parse_gpt2(ctx, "encoder.json", (const uint8_t *)enc,
                                             sizeof enc - 1, "vocab.bpe",
                                             (const uint8_t *)bpe_line, sizeof bpe_line - 1, &t),
                    CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "two pieces");
    const char enc_bad[] = "{\"a\": \"zero\"}";
    CF_CHECK_STATUS(cf__tokenizer_parse_gpt2(ctx, "encoder.json", (const uint8_t *)enc_bad,
                                             sizeof enc_bad - 1, "vocab.bpe",
                                             (const uint8_t *)"", 0, &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "encoder.json");
    const char ok_bpe[] = "#version: 0.2\na b\n";
    CF_CHECK_STATUS(cf__tokenizer_parse_gpt2(ctx, "encoder.json", (const uint8_t *)enc,
                                             sizeof enc - 1, "vocab.bpe", (const uint8_t *)ok_bpe,
                                             sizeof ok_bpe - 1, &t), CF_OK);
    int32_t ids[8];
    int64_t n;
    CF_CHECK_STATUS(cf_tokenizer_encode(t, "ab", 2, 0, ids, 8, &n), CF_OK);
    CF_CHECK(n == 1 && ids[0] == 2);
    cf_tokenizer_free(t);
    // A missing file names the path.
    CF_CHECK_STATUS(cf_tokenizer_load(ctx, "/nonexistent/tokenizer.json", 0, &t), CF_ERR_IO);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "/nonexistent/tokenizer.json");
    cf_ctx_free(ctx);
}

// Fail the Nth allocation of a load and an encode: a clean CF_ERR_NOMEM (ASan checks leaks).
void cf_test_tok_oom(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    const char *files[] = {"wordpiece_uncased.json", "t5_unigram.json", "spm_bpe_bytefallback.model",
                           "bpe_llama3.json"};
    for (int f = 0; f < 4; f++) {
        for (int64_t nth = 1; nth < 400; nth += nth < 60 ? 1 : 13) {
            cf_tokenizer *t = NULL;
            cf__fail_alloc_at(nth);
            cf_status st = cf_tokenizer_load(ctx, fx(files[f]), 0, &t);
            cf__fail_alloc_at(0);
            if (st != CF_OK && st != CF_ERR_NOMEM) {
                fprintf(stderr, "  %s, allocation %lld failing: %s\n", files[f], (long long)nth,
                        cf_errmsg(ctx));
                cf_test_failures++;
            }
            if (st != CF_OK) {
                CF_CHECK(t == NULL);
                continue;
            }
            int32_t ids[256];
            int64_t n;
            const char *s = "Hello w\xc3\xb6rld, \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 ok";
            cf__fail_alloc_at(nth % 23 + 1);
            st = cf_tokenizer_encode(t, s, strlen(s), 1, ids, 256, &n);
            cf__fail_alloc_at(0);
            CF_CHECK(st == CF_OK || st == CF_ERR_NOMEM);
            CF_CHECK_STATUS(cf_tokenizer_encode(t, s, strlen(s), 1, ids, 256, &n), CF_OK);
            cf_tokenizer_free(t);
        }
    }
    cf_ctx_free(ctx);
}

// ---- behaviour ----

static cf_tokenizer *load(cf_ctx *ctx, const char *name) {
    cf_tokenizer *t = NULL;
    if (cf_tokenizer_load(ctx, fx(name), 0, &t) != CF_OK) {
        fprintf(stderr, "  load %s: %s\n", name, cf_errmsg(ctx));
        cf_test_failures++;
    }
    return t;
}

static const char *const ROUNDTRIP[] = {
    "", " ", "Hello, world!", "  two leading spaces", "trailing spaces  ", "tabs\tand\nlines\r\n",
    "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 emoji family",
    "e\xcc\x81 combining", "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7 RTL", "\x01\x02 controls \x7f",
    "    many      spaces     ", "1234567890 3.14159",
};

void cf_test_tok_roundtrip(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    // Lossless tokenizers: byte-level BPE, byte-fallback BPE (tokenizer.json and .model). (Not
    // llama_metaspace.json: like the reference it drops one leading space of a text that
    // starts with one. Special tokens written in the text are never lossless.)
    const char *lossless[] = {"bpe_gpt2.json", "bpe_llama3.json", "llama_bpe.json",
                              "spm_bpe_bytefallback.model"};
    for (int f = 0; f < 4; f++) {
        cf_tokenizer *t = load(ctx, lossless[f]);
        if (!t) continue;
        for (size_t k = 0; k < sizeof ROUNDTRIP / sizeof *ROUNDTRIP; k++) {
            const char *s = ROUNDTRIP[k];
            size_t len = strlen(s);
            int32_t ids[512];
            int64_t n;
            CF_CHECK_STATUS(cf_tokenizer_encode(t, s, len, 0, ids, 512, &n), CF_OK);
            char out[2048];
            size_t on;
            CF_CHECK_STATUS(cf_tokenizer_decode(t, ids, n, 0, out, sizeof out, &on), CF_OK);
            if (on != len || memcmp(out, s, len)) {
                fprintf(stderr, "  %s: round trip of \"%s\" gave \"%.*s\"\n", lossless[f], s,
                        (int)on, out);
                cf_test_failures++;
            }
            // Streaming: the pieces, concatenated, give the same text.
            size_t w = 0;
            for (int64_t i = 0; i < n; i++) {
                size_t pl;
                CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], out + w,
                                                          sizeof out - w, &pl), CF_OK);
                w += pl;
            }
            if (w != len || memcmp(out, s, len)) {
                fprintf(stderr, "  %s: pieces of \"%s\" gave \"%.*s\"\n", lossless[f], s, (int)w,
                        out);
                cf_test_failures++;
            }
        }
        cf_tokenizer_free(t);
    }
    cf_ctx_free(ctx);
}

void cf_test_tok_pair_offsets(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    cf_tokenizer *t = load(ctx, "wordpiece_uncased.json");
    if (!t) {
        cf_ctx_free(ctx);
        return;
    }
    const char *a = "Hello World, caf\xc3\xa9!", *b = "Second part";
    cf_token tok[64];
    int64_t n;
    CF_CHECK_STATUS(cf_tokenizer_encode_tokens(t, a, strlen(a), b, strlen(b), 1, tok, 64, &n),
                    CF_OK);
    int32_t cls = cf_tokenizer_piece_to_id(t, "[CLS]", 5), sep = cf_tokenizer_piece_to_id(t, "[SEP]", 5);
    CF_CHECK(n > 4 && tok[0].id == cls && tok[n - 1].id == sep);
    CF_CHECK(tok[0].special && tok[0].seq == -1 && tok[0].start == 0 && tok[0].end == 0);
    int seps = 0;
    for (int64_t i = 0; i < n; i++) {
        if (tok[i].id == sep) {
            seps++;
            CF_CHECK_EQ(tok[i].type_id, seps == 1 ? 0 : 1);
            continue;
        }
        if (tok[i].seq < 0) continue;
        CF_CHECK_EQ(tok[i].type_id, tok[i].seq);
        // The span of the original text, lower-cased and unaccented, is the piece (## aside).
        const char *src = tok[i].seq ? b : a;
        const char *piece = cf_tokenizer_id_to_piece(t, tok[i].id);
        CF_CHECK(piece != NULL && tok[i].end > tok[i].start);
        if (piece && !strcmp(piece, "[UNK]")) continue;
        if (piece && !strncmp(piece, "##", 2)) piece += 2;
        char span[64];
        int64_t k = 0;
        for (int64_t j = tok[i].start; j < tok[i].end && k < 63; j++)
            span[k++] = (char)((src[j] >= 'A' && src[j] <= 'Z') ? src[j] + 32 : src[j]);
        span[k] = 0;
        if (!strcmp(span, "caf\xc3\xa9")) continue;  // accent stripped in the piece
        if (piece && strcmp(span, piece) && strncmp(span, "caf", 3)) {
            fprintf(stderr, "  token %lld: span '%s' vs piece '%s'\n", (long long)i, span, piece);
            cf_test_failures++;
        }
    }
    CF_CHECK_EQ(seps, 2);
    cf_tokenizer_free(t);
    cf_ctx_free(ctx);
}

void cf_test_tok_added(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    cf_tokenizer *t = load(ctx, "bpe_gpt2.json");
    if (!t) {
        cf_ctx_free(ctx);
        return;
    }
    int32_t V = cf_tokenizer_vocab_size(t);
    const char *toks[] = {"<my_tok>", "<|endoftext|>"};
    int added;
    CF_CHECK_STATUS(cf_tokenizer_add_tokens(t, toks, 2, 1, &added), CF_OK);
    CF_CHECK_EQ(added, 1);
    CF_CHECK_EQ(cf_tokenizer_vocab_size(t), V + 1);
    int32_t id = cf_tokenizer_piece_to_id(t, "<my_tok>", 8);
    CF_CHECK_EQ(id, V);
    CF_CHECK(cf_tokenizer_is_special(t, id));
    int32_t ids[64];
    int64_t n;
    CF_CHECK_STATUS(cf_tokenizer_encode(t, "a<my_tok>b", 10, 0, ids, 64, &n), CF_OK);
    bool found = false;
    for (int64_t i = 0; i < n; i++) found |= ids[i] == id;
    CF_CHECK(found);
    char out[64];
    size_t on;
    CF_CHECK_STATUS(cf_tokenizer_decode(t, ids, n, 1, out, sizeof out, &on), CF_OK);
    CF_CHECK(on == 2 && !memcmp(out, "ab", 2));
    CF_CHECK_STATUS(cf_tokenizer_decode(t, ids, n, 0, out, sizeof out, &on), CF_OK);
    CF_CHECK(on == 10 && !memcmp(out, "a<my_tok>b", 10));
    cf_tokenizer_free(t);
    // Other kinds refuse added tokens.
    CF_CHECK_STATUS(cf_tokenizer_create_byte(ctx, &t), CF_OK);
    CF_CHECK_STATUS(cf_tokenizer_add_tokens(t, toks, 1, 1, &added), CF_ERR_UNSUPPORTED);
    cf_tokenizer_free(t);
    cf_ctx_free(ctx);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    uint8_t *d = slurp(from, &n);
    if (d) write_file(to, d, n);
    free(d);
}

void cf_test_tok_folder(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    const char *dir = cf_test_tmpdir();
    char path[2300], sub[1100];
    struct {
        const char *fixture, *name, *kind;
    } cases[] = {
        {"bpe_gpt2.json", "tokenizer.json", "tokenizer.json"},
        {"spm_unigram.model", "tokenizer.model", "sentencepiece"},
        {"wordpiece_uncased_vocab.txt", "vocab.txt", "wordpiece"},
    };
    for (int k = 0; k < 3; k++) {
        snprintf(sub, sizeof sub, "%s/d%d", dir, k);
        mkdir(sub, 0755);
        snprintf(path, sizeof path, "%s/%s", sub, cases[k].name);
        copy_file(fx(cases[k].fixture), path);
        cf_tokenizer *t = NULL;
        CF_CHECK_STATUS(cf_tokenizer_load(ctx, sub, 0, &t), CF_OK);
        if (t) CF_CHECK(!strcmp(cf_tokenizer_kind(t), cases[k].kind));
        // A model with fewer ids than the tokenizer is refused.
        cf_tokenizer *u = NULL;
        CF_CHECK_STATUS(cf_tokenizer_load(ctx, sub, 10, &u), CF_ERR_INVALID_ARG);
        cf_tokenizer_free(t);
    }
    snprintf(sub, sizeof sub, "%s/empty", dir);
    mkdir(sub, 0755);
    cf_tokenizer *t = NULL;
    CF_CHECK_STATUS(cf_tokenizer_load(ctx, sub, 0, &t), CF_ERR_IO);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "no tokenizer file");
    cf_ctx_free(ctx);
}

static const char TRAIN_TEXT[] =
    "the quick brown fox jumps over the lazy dog\n"
    "the dog sleeps; the fox runs away from the farmer's dog\n"
    "un caf\xc3\xa9 tr\xc3\xa8s chaud pour le renard et le chien\n"
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87\xe7\xab\xa0 and english mixed\n"
    "numbers 12345 and 67890 and 12345 again\n";

void cf_test_tok_train(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    char text[8192] = "";
    for (int r = 0; r < 12; r++) strcat(text, TRAIN_TEXT);
    size_t len = strlen(text);
    const char *special[] = {"<|endoftext|>", "<pad>", NULL};
    for (int model = 0; model < 2; model++) {
        cf_tokenizer_train_params p = cf_tokenizer_default_train_params();
        p.model = model ? CF_TOKENIZER_UNIGRAM : CF_TOKENIZER_BPE;
        p.vocab_size = model ? 120 : 300;
        p.special = special;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/a%d.json", cf_test_tmpdir(), model);
        snprintf(b, sizeof b, "%s/b%d.json", cf_test_tmpdir(), model);
        CF_CHECK_STATUS(cf_tokenizer_train(ctx, &p, text, len, a), CF_OK);
        CF_CHECK_STATUS(cf_tokenizer_train(ctx, &p, text, len, b), CF_OK);
        size_t na, nb;
        uint8_t *da = slurp(a, &na), *db = slurp(b, &nb);
        CF_CHECK(da && db && na == nb && !memcmp(da, db, na));  // deterministic
        free(da);
        free(db);
        cf_tokenizer *t = NULL;
        CF_CHECK_STATUS(cf_tokenizer_load(ctx, a, 0, &t), CF_OK);
        if (!t) continue;
        CF_CHECK(cf_tokenizer_vocab_size(t) <= p.vocab_size);
        CF_CHECK_EQ(cf_tokenizer_piece_to_id(t, "<|endoftext|>", 13), model ? 1 : 0);
        // Every training line round-trips; BPE also compresses.
        int32_t ids[512];
        int64_t n, total = 0;
        for (const char *s = TRAIN_TEXT; *s;) {
            const char *e = strchr(s, '\n');
            size_t l = (size_t)(e - s);
            CF_CHECK_STATUS(cf_tokenizer_encode(t, s, l, 0, ids, 512, &n), CF_OK);
            total += n;
            char out[1024];
            size_t on;
            CF_CHECK_STATUS(cf_tokenizer_decode(t, ids, n, 0, out, sizeof out, &on), CF_OK);
            if (on != l || memcmp(out, s, l)) {
                fprintf(stderr, "  trained %s: \"%.*s\" -> \"%.*s\"\n", model ? "unigram" : "bpe",
                        (int)l, s, (int)on, out);
                cf_test_failures++;
            }
            s = e + 1;
        }
        CF_CHECK(total < (int64_t)strlen(TRAIN_TEXT));
        cf_tokenizer_free(t);
    }
    cf_tokenizer_train_params p = cf_tokenizer_default_train_params();
    p.vocab_size = 100;  // below 256 + specials for byte-level BPE
    CF_CHECK_STATUS(cf_tokenizer_train(ctx, &p, text, len, "/tmp/never.json"), CF_ERR_INVALID_ARG);
    cf_ctx_free(ctx);
}

void cf_test_tok_errors(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    cf_tokenizer *t = load(ctx, "t5_unigram.json");
    if (!t) {
        cf_ctx_free(ctx);
        return;
    }
    int32_t V = cf_tokenizer_vocab_size(t), bad[2] = {1, V};
    char out[16];
    size_t on;
    CF_CHECK_STATUS(cf_tokenizer_decode(t, bad, 2, 0, out, sizeof out, &on), CF_ERR_RANGE);
    bad[1] = -5;
    CF_CHECK_STATUS(cf_tokenizer_decode(t, bad, 2, 0, out, sizeof out, &on), CF_ERR_RANGE);
    CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, -1, V, out, sizeof out, &on), CF_ERR_RANGE);
    // Too small buffers report what is needed.
    const char *s = "a fairly long sentence to encode and decode";
    int32_t ids[128];
    int64_t n, n2;
    CF_CHECK_STATUS(cf_tokenizer_encode(t, s, strlen(s), 1, ids, 128, &n), CF_OK);
    CF_CHECK_STATUS(cf_tokenizer_encode(t, s, strlen(s), 1, ids, 2, &n2), CF_ERR_RANGE);
    CF_CHECK_EQ(n2, n);
    CF_CHECK_STATUS(cf_tokenizer_decode(t, ids, n, 1, out, 4, &on), CF_ERR_RANGE);
    CF_CHECK(on > 4);
    CF_CHECK(cf_tokenizer_id_to_piece(t, V) == NULL && cf_tokenizer_id_to_piece(t, -1) == NULL);
    CF_CHECK(!strcmp(cf_tokenizer_kind(t), "tokenizer.json"));
    cf_tokenizer_free(t);
    cf_ctx_free(ctx);
}

// The command line: cformer tokenize / detokenize / tokenizer train (CF_CLI names the binary).
static char *run(const char *cmd, size_t *n) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    char *buf = calloc(1, 1 << 20);
    *n = fread(buf, 1, (1 << 20) - 1, p);
    int rc = pclose(p);
    if (rc != 0) {
        fprintf(stderr, "  '%s' exited with %d\n", cmd, rc);
        cf_test_failures++;
    }
    return buf;
}

void cf_test_tok_cli(void) {
    const char *cli = getenv("CF_CLI");
    if (!cli) {
        fprintf(stderr, "  SKIPPED tokenizer/cli: CF_CLI is not set (make test-unit sets it)\n");
        return;
    }
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    char text_path[1100], cmd[8192];
    snprintf(text_path, sizeof text_path, "%s/text.txt", cf_test_tmpdir());
    const char *text = "Hello World, caf\xc3\xa9! \xe6\x97\xa5\xe6\x9c\xac \xff end\n";
    write_file(text_path, text, strlen(text));
    const char *tp = fx("wordpiece_uncased.json");
    cf_tokenizer *t = load(ctx, "wordpiece_uncased.json");
    int32_t ids[64];
    int64_t n;
    CF_CHECK_STATUS(cf_tokenizer_encode(t, text, strlen(text), 1, ids, 64, &n), CF_OK);
    char want[1024] = "";
    for (int64_t i = 0; i < n; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? " " : "", ids[i]);
    strcat(want, "\n");
    size_t got_n;
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --file %s", cli, tp, text_path);
    char *got = run(cmd, &got_n);
    CF_CHECK(got && !strcmp(got, want));
    free(got);
    // detokenize reads the ids back (special tokens skipped on request).
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --file %s | %s detokenize --tokenizer %s "
             "--skip-special", cli, tp, text_path, cli, tp);
    got = run(cmd, &got_n);
    char dec[1024];
    size_t dn;
    CF_CHECK_STATUS(cf_tokenizer_decode(t, ids, n, 1, dec, sizeof dec, &dn), CF_OK);
    CF_CHECK(got && got_n == dn && !memcmp(got, dec, dn));
    free(got);
    // --offsets: a second line of start:end spans.
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --file %s --no-special --offsets", cli,
             tp, text_path);
    got = run(cmd, &got_n);
    CF_CHECK(got && strstr(got, "\n0:5 6:11 11:12") != NULL);
    free(got);
    // tokenizer train writes a tokenizer.json that tokenize then uses.
    char out[1100];
    snprintf(out, sizeof out, "%s/trained.json", cf_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s tokenizer train --model unigram --vocab-size 60 --file %s "
             "--out %s 2>/dev/null && %s tokenize --tokenizer %s --file %s", cli, text_path, out,
             cli, out, text_path);
    got = run(cmd, &got_n);
    CF_CHECK(got && got_n > 2);
    free(got);
    cf_tokenizer_free(t);
    cf_ctx_free(ctx);
}
