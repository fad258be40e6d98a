// Hostile-file taxonomy for every loader: safetensors, Hugging Face folders, llama2.c
// checkpoints, tokenizer.bin and the training config text. Each corrupt file is generated here,
// in the test's temporary folder, and must give the expected status (CF_ERR_FORMAT for corrupt
// contents, CF_ERR_UNSUPPORTED for valid but unsupported, CF_ERR_IO for missing files) with a
// message that names the file and the problem. Also: token ids out of range at the API, and
// OOM injection on the load paths (the ASan build checks for leaks explicitly, because a forked
// test leaves with _exit, where LeakSanitizer would not run).
//
// Not here: the CLI (tests/unit/test_cli.c) and fuzzing (tests/fuzz).
#include <cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/io/load.h"                         // defines: cf__st_parse, cf__hf_config_parse
#include "../../src/models/model_internal.h"           // defines: struct cf_model (weight views)
#include "../../src/tokenizers/tokenizer_internal.h"   // defines: cf__tokenizer_parse_llama2c
#include "../test.h"
#include "model_files.h"

// ---- checks ----

// Checks status `got` against `want` and, for errors, that the message contains each of the
// (up to two) substrings. label names the case in the failure report.
static void expect(cf_ctx *ctx, const char *label, cf_status got, cf_status want, const char *sub1,
                   const char *sub2) {
    int before = cf_test_failures;
    CF_CHECK_STATUS(got, want);
    if (got == want && want != CF_OK) {
        if (sub1) CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), sub1);
        if (sub2) CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), sub2);
    }
    if (cf_test_failures > before)
        fprintf(stderr, "  ^ case '%s' (%s): message: %s\n", label, cf_status_str(got),
                cf_errmsg(ctx));
}

// cf_model_load on path; frees the model if one is made.
static cf_status load(cf_ctx *ctx, const char *path) {
    cf_model *m = NULL;
    cf_status s = cf_model_load(ctx, path, &m);
    if ((s == CF_OK) != (m != NULL)) {
        fprintf(stderr, "  cf_model_load(%s): status %d but model %p\n", path, (int)s, (void *)m);
        cf_test_failures++;
    }
    cf_model_free(m);
    return s;
}

static cf_status st_open_file(cf_ctx *ctx, const char *path) {
    cf_safetensors st;
    cf_status s = cf__st_open(ctx, path, &st);
    if (s == CF_OK) cf__st_close(&st);
    return s;
}

// ---- safetensors ----

// A valid two-tensor file with metadata: a (2, 3) F32 and b (4) F16.
static uint8_t *st_valid(size_t *len, size_t *hlen) {
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                    "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]}}  ";
    uint8_t data[32];
    for (int i = 0; i < 32; i++) data[i] = (uint8_t)(i * 7);
    *hlen = strlen(h);
    return tf_st_raw(h, data, sizeof data, len);
}

static void test_st_valid(void) {
    cf_ctx *ctx = tf_ctx();
    size_t len, hlen;
    uint8_t *img = st_valid(&len, &hlen);
    const char *p = tf_path("valid.safetensors");
    CF_CHECK_EQ(tf_write(p, img, len), 0);
    cf_safetensors st;
    CF_CHECK_STATUS(cf__st_open(ctx, p, &st), CF_OK);
    CF_CHECK_EQ(st.n_tensors, 2);
    const cf_st_tensor *a = cf__st_find(&st, "a"), *b = cf__st_find(&st, "b");
    CF_CHECK(a && b);
    if (a && b) {
        CF_CHECK_EQ(a->dtype, CF_DT_F32);
        CF_CHECK_EQ(a->ndim, 2);
        CF_CHECK_EQ(a->shape[0], 2);
        CF_CHECK_EQ(a->shape[1], 3);
        CF_CHECK_EQ(a->nbytes, 24);
        CF_CHECK_EQ(b->dtype, CF_DT_F16);
        CF_CHECK_EQ(b->offset, 24);
        CF_CHECK_EQ(b->numel, 4);
        CF_CHECK(b->data == st.file.data + 8 + hlen + 24);
    }
    CF_CHECK_STR_CONTAINS(cf__st_meta(&st, "format"), "pt");
    CF_CHECK(cf__st_meta(&st, "nope") == NULL);
    cf__st_close(&st);
    // Edge cases that are valid: no tensors, a scalar, an empty tensor, every dtype name.
    const char *ok[] = {
        "{}",
        "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
        "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[0,0]},"
        "\"s\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
        "{\"a\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]},"
        "\"b\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[1,2]},"
        "\"c\":{\"dtype\":\"F8_E5M2\",\"shape\":[1],\"data_offsets\":[2,3]},"
        "\"d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]}}",
    };
    size_t ok_data[] = {0, 4, 4, 4};
    uint8_t zeros[16] = {0};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        size_t n;
        uint8_t *x = tf_st_raw(ok[i], zeros, ok_data[i], &n);
        cf_safetensors s2;
        cf_status s = cf__st_parse(ctx, "ok.safetensors", x, n, &s2);
        expect(ctx, ok[i], s, CF_OK, NULL, NULL);
        if (s == CF_OK) cf__st_close(&s2);
        free(x);
    }
    free(img);
    cf_ctx_free(ctx);
}

// Every truncation of a valid file fails with a format error: inside the 8-byte length, inside
// the header, inside the data (at tensor boundaries and within tensors).
static void test_st_truncated(void) {
    cf_ctx *ctx = tf_ctx();
    size_t len, hlen;
    uint8_t *img = st_valid(&len, &hlen);
    for (size_t cut = 0; cut < len; cut++) {
        cf_safetensors st;
        char label[64];
        snprintf(label, sizeof label, "truncated to %zu of %zu bytes", cut, len);
        cf_status s = cf__st_parse(ctx, "cut.safetensors", img, cut, &st);
        if (s == CF_OK) cf__st_close(&st);
        const char *what = cut < 8 ? "truncated" : cut < 8 + hlen ? "exceeds the file"
                                                                   : "data section";
        expect(ctx, label, s, CF_ERR_FORMAT, "cut.safetensors", what);
    }
    // The same at the section boundaries, as files on disk through the file loader and through
    // cf_model_load (which must name the file whatever loader it picks).
    size_t cuts[] = {0, 4, 7, 8, 9, 8 + hlen / 2, 8 + hlen - 1, 8 + hlen, 8 + hlen + 10,
                     8 + hlen + 24, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char name[64];
        snprintf(name, sizeof name, "cut%zu.safetensors", cuts[i]);
        const char *p = tf_path(name);
        CF_CHECK_EQ(tf_write(p, img, cuts[i]), 0);
        expect(ctx, name, st_open_file(ctx, p), CF_ERR_FORMAT, p, NULL);
        expect(ctx, name, load(ctx, p), CF_ERR_FORMAT, p, NULL);
    }
    free(img);
    cf_ctx_free(ctx);
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void test_st_header_size(void) {
    cf_ctx *ctx = tf_ctx();
    size_t len, hlen;
    uint8_t *img = st_valid(&len, &hlen);
    struct {
        uint64_t hlen;
        const char *what;
    } cases[] = {
        {len - 8 + 1, "exceeds the file"},          // one byte more than the file holds
        {len, "exceeds the file"},                  // counts its own 8 bytes
        {(uint64_t)100 * 1024 * 1024 + 1, "exceeds"},  // over the 100 MB limit
        {(uint64_t)1 << 63, "exceeds"},             // absurd
        {UINT64_MAX, "exceeds"},                    // wraps if added to anything
        {UINT64_MAX - 7, "exceeds"},                // 8 + hlen wraps to 0
        {0, "header of 0 bytes"},
        {1, "header of 1 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        put_u64(img, cases[i].hlen);
        char name[64];
        snprintf(name, sizeof name, "hlen%zu.safetensors", i);
        const char *p = tf_path(name);
        CF_CHECK_EQ(tf_write(p, img, len), 0);
        expect(ctx, name, st_open_file(ctx, p), CF_ERR_FORMAT, p, cases[i].what);
        CF_CHECK(load(ctx, p) != CF_OK);
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), p);
    }
    free(img);
    cf_ctx_free(ctx);
}

typedef struct st_case {
    const char *label;
    const char *header;
    size_t data_len;
    const char *what;  // expected in the message
} st_case;

#define T1(dtype, shape, offs) \
    "{\"a\":{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offs "}}"

static const st_case ST_CASES[] = {
    {"empty header object missing brace", "{", 0, "header of 1 bytes"},
    {"header not JSON", "{this is not json}", 0, "not valid JSON"},
    {"header truncated JSON", "{\"a\":{\"dtype\":\"F32\",", 0, "not valid JSON"},
    {"header an array", "[1,2,3]", 0, "does not start with '{'"},
    {"header a string", "\"abc\"", 0, "does not start with '{'"},
    {"header starts with a space", " {}", 0, "does not start with '{'"},
    {"header of NUL bytes", "\0\0\0\0", 0, "does not start with '{'"},
    {"trailing garbage after the JSON", "{}xyz", 0, "JSON"},
    {"unknown dtype", T1("\"F17\"", "[2]", "[0,8]"), 8, "unknown dtype 'F17'"},
    {"lowercase dtype", T1("\"f32\"", "[2]", "[0,8]"), 8, "unknown dtype"},
    {"dtype not a string", T1("4", "[2]", "[0,8]"), 8, "dtype"},
    {"missing dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "missing dtype"},
    {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "missing shape"},
    {"shape not an array", T1("\"F32\"", "2", "[0,8]"), 8, "shape"},
    {"missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets"},
    {"data_offsets of one", T1("\"F32\"", "[2]", "[8]"), 8, "data_offsets"},
    {"data_offsets of three", T1("\"F32\"", "[2]", "[0,8,8]"), 8, "data_offsets"},
    {"data_offsets strings", T1("\"F32\"", "[2]", "[\"0\",\"8\"]"), 8, "data_offsets"},
    {"data_offsets negative", T1("\"F32\"", "[2]", "[-8,0]"), 8, "data_offsets"},
    {"data_offsets fractional", T1("\"F32\"", "[2]", "[0,7.5]"), 8, "data_offsets"},
    {"data_offsets huge", T1("\"F32\"", "[2]", "[0,1e20]"), 8, "data_offsets"},
    {"negative dimension", T1("\"F32\"", "[-2]", "[0,8]"), 8, "bad dimension 0"},
    {"negative second dimension", T1("\"F32\"", "[2,-1]", "[0,8]"), 8, "bad dimension 1"},
    {"fractional dimension", T1("\"F32\"", "[1.5]", "[0,8]"), 8, "bad dimension 0"},
    {"dimension a string", T1("\"F32\"", "[\"2\"]", "[0,8]"), 8, "bad dimension 0"},
    {"dimension null", T1("\"F32\"", "[null]", "[0,8]"), 8, "bad dimension 0"},
    {"dimension 1e300", T1("\"F32\"", "[1e300]", "[0,8]"), 8, "bad dimension 0"},
    {"dimension NaN-like", T1("\"F32\"", "[NaN]", "[0,8]"), 8, "JSON"},
    {"shape overflows size_t", T1("\"F32\"", "[4294967296,4294967296,16]", "[0,8]"), 8,
     "overflows"},
    {"byte size overflows", T1("\"F32\"", "[2147483648,2147483648]", "[0,8]"), 8,
     "overflows"},
    {"huge shape, small data", T1("\"F32\"", "[1000000,1000000]", "[0,8]"), 8,
     "need 4000000000000"},
    {"byte count below shape", T1("\"F32\"", "[2]", "[0,4]"), 4, "need 8"},
    {"byte count above shape", T1("\"F32\"", "[2]", "[0,12]"), 12, "need 8"},
    {"byte count wrong for dtype", T1("\"F16\"", "[2]", "[0,8]"), 8, "F16 need 4"},
    {"offsets past the end", T1("\"F32\"", "[2]", "[0,8]"), 4, "outside the 4-byte data section"},
    {"offsets far past the end", T1("\"F32\"", "[2]", "[9007199254740984,9007199254740992]"), 8,
     "outside"},
    {"begin after end", T1("\"F32\"", "[2]", "[8,0]"), 8, "outside"},
    {"overlapping tensors",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, "overlap"},
    {"tensor inside another",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     16, "overlap"},
    {"same bytes twice",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
     8, "overlap"},
    {"hole between tensors",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
     20, "starts at 12, expected 8"},
    {"hole before the first tensor", T1("\"F32\"", "[2]", "[4,12]"), 12, "starts at 4"},
    {"trailing bytes", T1("\"F32\"", "[2]", "[0,8]"), 12, "4 bytes of data after"},
    {"duplicate tensor names",
     "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
     16, "'w' appears twice"},
    {"nine dimensions", T1("\"F32\"", "[1,1,1,1,1,1,1,1,2]", "[0,8]"), 8, "9 dimensions"},
    {"metadata value a number", "{\"__metadata__\":{\"format\":1}}", 0,
     "__metadata__ value of 'format' is not a string"},
    {"metadata value an object", "{\"__metadata__\":{\"x\":{\"y\":\"z\"}}}", 0,
     "__metadata__ value of 'x'"},
    {"metadata value null", "{\"__metadata__\":{\"x\":null}}", 0, "__metadata__ value of 'x'"},
    {"metadata not an object", "{\"__metadata__\":\"pt\"}", 0, "__metadata__ is not an object"},
    {"entry not an object", "{\"a\":5}", 0, "'a': entry is not an object"},
    {"entry an array", "{\"a\":[1,2]}", 0, "'a': entry is not an object"},
    {"empty tensor name", "{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
     "name"},
};

static void test_st_taxonomy(void) {
    cf_ctx *ctx = tf_ctx();
    uint8_t *zeros = calloc(64, 1);
    for (size_t i = 0; i < sizeof ST_CASES / sizeof *ST_CASES; i++) {
        const st_case *c = &ST_CASES[i];
        // The NUL-bytes header is the only one that is not a C string.
        size_t hl = c->header[0] ? strlen(c->header) : 4;
        tf_buf b = {0};
        uint8_t l8[8];
        put_u64(l8, hl);
        tf_put(&b, l8, 8);
        tf_put(&b, c->header, hl);
        tf_put(&b, zeros, c->data_len);
        char name[64];
        snprintf(name, sizeof name, "case%02zu.safetensors", i);
        const char *p = tf_path(name);
        CF_CHECK_EQ(tf_write(p, b.data, b.len), 0);
        expect(ctx, c->label, st_open_file(ctx, p), CF_ERR_FORMAT, p, c->what);
        // Through the public entry point too: some loader must reject it and name the file.
        cf_status s = load(ctx, p);
        if (s == CF_OK || !strstr(cf_errmsg(ctx), p)) {
            fprintf(stderr, "  cf_model_load on case '%s': %s: %s\n", c->label, cf_status_str(s),
                    cf_errmsg(ctx));
            cf_test_failures++;
        }
        tf_buf_free(&b);
    }
    free(zeros);
    cf_ctx_free(ctx);
}

// A tensor header large enough to need many entries: parse time stays small, and a header
// that claims many tensors without the bytes for them is refused before allocating.
static void test_st_many_tensors(void) {
    cf_ctx *ctx = tf_ctx();
    tf_buf h = {0};
    tf_printf(&h, "{");
    int n = 20000;
    for (int i = 0; i < n; i++)
        tf_printf(&h, "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
                  i ? "," : "", i, i, i + 1);
    tf_printf(&h, "}");
    tf_put(&h, "", 1);
    uint8_t *data = calloc((size_t)n, 1);
    size_t len;
    uint8_t *img = tf_st_raw((const char *)h.data, data, (size_t)n, &len);
    cf_safetensors st;
    cf_status s = cf__st_parse(ctx, "many.safetensors", img, len, &st);
    expect(ctx, "20000 tensors", s, CF_OK, NULL, NULL);
    if (s == CF_OK) {
        CF_CHECK_EQ(st.n_tensors, n);
        cf__st_close(&st);
    }
    // One byte short: the last tensor is outside.
    s = cf__st_parse(ctx, "many.safetensors", img, len - 1, &st);
    expect(ctx, "20000 tensors, truncated", s, CF_ERR_FORMAT, "many.safetensors", "outside");
    free(img);
    free(data);
    tf_buf_free(&h);
    cf_ctx_free(ctx);
}

// F16 and BF16 bit patterns, including subnormals, infinities and NaN.
static void test_half_conversion(void) {
    CF_CHECK_EQ(cf__f16_to_f32(0x3c00) == 1.0f, 1);
    CF_CHECK_EQ(cf__f16_to_f32(0xc000) == -2.0f, 1);
    CF_CHECK_EQ(cf__f16_to_f32(0x7bff) == 65504.0f, 1);
    CF_CHECK_EQ(cf__f16_to_f32(0x0001) == ldexpf(1.0f, -24), 1);   // smallest subnormal
    CF_CHECK_EQ(cf__f16_to_f32(0x03ff) == ldexpf(1023.0f, -24), 1);  // largest subnormal
    CF_CHECK_EQ(cf__f16_to_f32(0x0400) == ldexpf(1.0f, -14), 1);   // smallest normal
    CF_CHECK_EQ(cf__f16_to_f32(0x7c00) == INFINITY, 1);
    CF_CHECK_EQ(cf__f16_to_f32(0xfc00) == -INFINITY, 1);
    CF_CHECK(isnan(cf__f16_to_f32(0x7e00)));
    CF_CHECK(signbit(cf__f16_to_f32(0x8000)) && cf__f16_to_f32(0x8000) == 0.0f);
    CF_CHECK_EQ(cf__bf16_to_f32(0x3f80) == 1.0f, 1);
    CF_CHECK_EQ(cf__bf16_to_f32(0xc0a0) == -5.0f, 1);
    CF_CHECK_EQ(cf__bf16_to_f32(0x0001) == ldexpf(1.0f, -133), 1);
    CF_CHECK_EQ(cf__bf16_to_f32(0x7f80) == INFINITY, 1);
    CF_CHECK(isnan(cf__bf16_to_f32(0x7fc0)));
    // Every finite F16 survives F16 -> F32 -> F16.
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = cf__f16_to_f32((uint16_t)h);
        if (isfinite(f) && cf__f32_to_f16(f) != h) bad++;
    }
    CF_CHECK_EQ(bad, 0);
}

// ---- Hugging Face folders ----

enum { G_C = 8, G_L = 2, G_H = 2, G_V = 16, G_P = 8 };
enum { L_C = 8, L_F = 16, L_L = 2, L_H = 2, L_KVH = 1, L_V = 16, L_P = 16 };

static const char *folder(const char *name) { return tf_path(name); }

static char *file_in(const char *dir, const char *name) {
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static float wget(const cf_weight *w, int64_t r, int64_t c) {
    return w->trans ? w->data[c * w->ld + r] : w->data[r * w->ld + c];
}

// Logits of a fixed 5-token sequence.
static cf_status logits_of(cf_model *m, float *out) {
    int32_t toks[5] = {1, 5, 3, 0, 7};
    return cf_model_forward(m, toks, 1, 5, out);
}

static void test_hf_gpt2_valid(void) {
    cf_ctx *ctx = tf_ctx();
    tf_model tm;
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    const char *dir = folder("gpt2");
    CF_CHECK_EQ(tf_write_folder(&tm, dir), 0);
    cf_model *m = NULL;
    cf_status s = cf_model_load(ctx, dir, &m);
    expect(ctx, "valid gpt2 folder", s, CF_OK, NULL, NULL);
    if (s == CF_OK) {
        const cf_config *c = cf_model_config(m);
        CF_CHECK_EQ(c->n_embd, G_C);
        CF_CHECK_EQ(c->n_layers, G_L);
        CF_CHECK_EQ(c->n_heads, G_H);
        CF_CHECK_EQ(c->vocab_size, G_V);
        CF_CHECK_EQ(c->n_ctx, G_P);
        CF_CHECK_EQ(c->n_ff, 4 * G_C);
        CF_CHECK_STR_CONTAINS(cf_model_source(m), "hf-gpt2");
        CF_CHECK(cf_model_is_mapped(m));
        // Conv1D weights are stored (in, out); c_attn holds q, k, v side by side.
        const float *attn = tf_find(&tm, "transformer.h.1.attn.c_attn.weight")->values;
        const cf_weight *wk = &m->layers[1].wk;
        int bad = 0;
        for (int r = 0; r < G_C; r++)
            for (int cc = 0; cc < G_C; cc++)
                bad += wget(wk, r, cc) != attn[cc * 3 * G_C + G_C + r];
        CF_CHECK_EQ(bad, 0);
        float lg[5 * G_V];
        CF_CHECK_STATUS(logits_of(m, lg), CF_OK);
        int finite = 1;
        for (int i = 0; i < 5 * G_V; i++) finite &= isfinite(lg[i]) != 0;
        CF_CHECK(finite);
        cf_model_free(m);
    }
    // The folder can also be named by either of its files.
    expect(ctx, "gpt2 via config.json", load(ctx, file_in(dir, "config.json")), CF_OK, NULL, NULL);
    expect(ctx, "gpt2 via model.safetensors", load(ctx, file_in(dir, "model.safetensors")), CF_OK,
           NULL, NULL);
    // GPT2Model checkpoints name tensors without the "transformer." prefix.
    for (int i = 0; i < tm.n; i++)
        if (!strncmp(tm.t[i].name, "transformer.", 12))
            memmove(tm.t[i].name, tm.t[i].name + 12, strlen(tm.t[i].name + 12) + 1);
    const char *dir2 = folder("gpt2_noprefix");
    CF_CHECK_EQ(tf_write_folder(&tm, dir2), 0);
    expect(ctx, "gpt2 without prefix", load(ctx, dir2), CF_OK, NULL, NULL);
    tf_model_free(&tm);
    cf_ctx_free(ctx);
}

static void test_hf_llama_valid(void) {
    cf_ctx *ctx = tf_ctx();
    tf_model tm;
    tf_llama(&tm, L_C, L_F, L_L, L_H, L_KVH, L_V, L_P);
    const char *dir = folder("llama");
    CF_CHECK_EQ(tf_write_folder(&tm, dir), 0);
    cf_model *m = NULL;
    cf_status s = cf_model_load(ctx, dir, &m);
    expect(ctx, "valid llama folder", s, CF_OK, NULL, NULL);
    if (s == CF_OK) {
        const cf_config *c = cf_model_config(m);
        CF_CHECK_EQ(c->n_embd, L_C);
        CF_CHECK_EQ(c->n_ff, L_F);
        CF_CHECK_EQ(c->n_kv_heads, L_KVH);
        CF_CHECK_EQ(c->head_dim, L_C / L_H);
        CF_CHECK_EQ(c->n_ctx, L_P);
        CF_CHECK_EQ(c->tie_embeddings, 0);
        CF_CHECK_STR_CONTAINS(cf_model_source(m), "hf-llama");
        const float *up = tf_find(&tm, "model.layers.0.mlp.up_proj.weight")->values;
        int bad = 0;
        for (int r = 0; r < L_F; r++)
            for (int cc = 0; cc < L_C; cc++)
                bad += wget(&m->layers[0].w_up, r, cc) != up[r * L_C + cc];
        CF_CHECK_EQ(bad, 0);
        float lg[5 * L_V];
        CF_CHECK_STATUS(logits_of(m, lg), CF_OK);
        cf_model_free(m);
    }
    tf_model_free(&tm);
    cf_ctx_free(ctx);
}

// F16 and BF16 weights load, convert exactly (the pattern is representable in both) and give
// the same logits as the F32 folder.
static void test_hf_half_weights(void) {
    cf_ctx *ctx = tf_ctx();
    for (int fam = 0; fam < 2; fam++) {
        tf_model tm;
        if (fam == 0) tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
        else tf_llama(&tm, L_C, L_F, L_L, L_H, L_KVH, L_V, L_P);
        int V = fam == 0 ? G_V : L_V;
        float ref[5 * 16], got[5 * 16];
        const char *names[3] = {"f32", "f16", "bf16"};
        int dts[3] = {TF_F32, TF_F16, TF_BF16};
        for (int k = 0; k < 3; k++) {
            tf_set_dtype(&tm, dts[k]);
            char dn[64];
            snprintf(dn, sizeof dn, "%s_%s", fam ? "llama" : "gpt2", names[k]);
            const char *dir = folder(dn);
            CF_CHECK_EQ(tf_write_folder(&tm, dir), 0);
            cf_model *m = NULL;
            cf_status s = cf_model_load(ctx, dir, &m);
            expect(ctx, dn, s, CF_OK, NULL, NULL);
            if (s != CF_OK) continue;
            CF_CHECK_EQ(cf_model_is_mapped(m), k == 0);
            // Token embeddings: element-exact.
            const float *wte = tm.t[0].values;
            int bad = 0;
            for (int64_t i = 0; i < (int64_t)V * 8; i++) bad += m->wte.data[i] != wte[i];
            CF_CHECK_EQ(bad, 0);
            // A fused, transposed Conv1D slice (gpt2) or a plain projection (llama).
            const tf_tensor *t = fam == 0 ? tf_find(&tm, "transformer.h.0.attn.c_attn.weight")
                                          : tf_find(&tm, "model.layers.1.self_attn.v_proj.weight");
            const cf_weight *w = fam == 0 ? &m->layers[0].wv : &m->layers[1].wv;
            bad = 0;
            for (int64_t r = 0; r < w->rows; r++)
                for (int64_t c = 0; c < w->cols; c++) {
                    float want = fam == 0 ? t->values[c * 3 * G_C + 2 * G_C + r]
                                          : t->values[r * w->cols + c];
                    bad += wget(w, r, c) != want;
                }
            CF_CHECK_EQ(bad, 0);
            CF_CHECK_STATUS(logits_of(m, k == 0 ? ref : got), CF_OK);
            if (k > 0) cf_test_compare(dn, got, ref, 5 * V, 1e-5, 1e-5);
            cf_model_free(m);
        }
        tf_model_free(&tm);
    }
    cf_ctx_free(ctx);
}

static void test_hf_missing_files(void) {
    cf_ctx *ctx = tf_ctx();
    const char *nothing = tf_path("does_not_exist");
    expect(ctx, "missing path", load(ctx, nothing), CF_ERR_IO, nothing, NULL);
    expect(ctx, "empty path", load(ctx, ""), CF_ERR_INVALID_ARG, NULL, NULL);
    const char *empty = folder("empty_dir");
    tf_mkdir(empty);
    expect(ctx, "folder without config.json", load(ctx, empty), CF_ERR_IO,
           file_in(empty, "config.json"), NULL);
    // A config.json without model.safetensors.
    tf_model tm;
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    const char *dir = folder("no_weights");
    tf_mkdir(dir);
    tf_write_text(file_in(dir, "config.json"), tm.config);
    expect(ctx, "folder without model.safetensors", load(ctx, dir), CF_ERR_IO,
           file_in(dir, "model.safetensors"), NULL);
    // A model.safetensors without config.json beside it (not a cformer checkpoint).
    const char *dir2 = folder("no_config");
    CF_CHECK_EQ(tf_write_folder(&tm, dir2), 0);
    unlink(file_in(dir2, "config.json"));
    expect(ctx, "safetensors without config.json", load(ctx, file_in(dir2, "model.safetensors")),
           CF_ERR_IO, "config.json", NULL);
    tf_model_free(&tm);
    cf_ctx_free(ctx);
}

// Writes the tiny GPT-2 with config text `config` (NULL: the valid one) into a fresh folder
// and expects status `want` with both substrings in the message.
static void hf_config_case(cf_ctx *ctx, const char *label, const char *config, cf_status want,
                           const char *what) {
    static int k;
    tf_model tm;
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    if (config) snprintf(tm.config, sizeof tm.config, "%s", config);
    char dn[64];
    snprintf(dn, sizeof dn, "cfg%d", k++);
    const char *dir = folder(dn);
    CF_CHECK_EQ(tf_write_folder(&tm, dir), 0);
    expect(ctx, label, load(ctx, dir), want, file_in(dir, "config.json"), what);
    // The in-memory parser says the same.
    cf_config cfg;
    cf_family fam;
    const char *src;
    cf_status s = cf__hf_config_parse(ctx, "mem/config.json", tm.config, strlen(tm.config), &cfg,
                                      &fam, &src);
    expect(ctx, label, s, want, "mem/config.json", what);
    tf_model_free(&tm);
}

#define GPT2_CFG(fields) "{\"model_type\":\"gpt2\",\"vocab_size\":16,\"n_positions\":8," fields "}"

static void test_hf_bad_config(void) {
    cf_ctx *ctx = tf_ctx();
    hf_config_case(ctx, "empty config.json", "", CF_ERR_FORMAT, "not a JSON object");
    hf_config_case(ctx, "config not JSON", "{ this is not json", CF_ERR_FORMAT, "JSON");
    hf_config_case(ctx, "config a JSON array", "[1, 2]", CF_ERR_FORMAT, "not a JSON object");
    hf_config_case(ctx, "config a number", "42", CF_ERR_FORMAT, "not a JSON object");
    hf_config_case(ctx, "unsupported model_type", "{\"model_type\":\"falcon\"}",
                   CF_ERR_UNSUPPORTED, "model_type 'falcon'");
    hf_config_case(ctx, "no model_type", "{\"n_embd\":8}", CF_ERR_UNSUPPORTED, "model_type");
    hf_config_case(ctx, "model_type a number", "{\"model_type\":2}", CF_ERR_UNSUPPORTED,
                   "model_type");
    hf_config_case(ctx, "n_head does not divide n_embd",
                   GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":3"), CF_ERR_FORMAT,
                   "n_embd = 8 is not a multiple of n_heads = 3");
    hf_config_case(ctx, "zero layers", GPT2_CFG("\"n_embd\":8,\"n_layer\":0,\"n_head\":2"),
                   CF_ERR_FORMAT, "n_layers = 0");
    hf_config_case(ctx, "negative layers", GPT2_CFG("\"n_embd\":8,\"n_layer\":-3,\"n_head\":2"),
                   CF_ERR_FORMAT, "n_layers = -3");
    hf_config_case(ctx, "negative vocab",
                   "{\"model_type\":\"gpt2\",\"vocab_size\":-5,\"n_positions\":8,\"n_embd\":8,"
                   "\"n_layer\":2,\"n_head\":2}",
                   CF_ERR_FORMAT, "vocab_size = -5");
    hf_config_case(ctx, "huge n_positions",
                   "{\"model_type\":\"gpt2\",\"vocab_size\":16,\"n_positions\":1000000000,"
                   "\"n_embd\":8,\"n_layer\":2,\"n_head\":2}",
                   CF_ERR_FORMAT, "n_ctx = 1000000000");
    hf_config_case(ctx, "n_positions beyond int32",
                   "{\"model_type\":\"gpt2\",\"vocab_size\":16,\"n_positions\":1e12,"
                   "\"n_embd\":8,\"n_layer\":2,\"n_head\":2}",
                   CF_ERR_FORMAT, "'n_positions' is not an integer");
    hf_config_case(ctx, "n_embd 1e300", GPT2_CFG("\"n_embd\":1e300,\"n_layer\":2,\"n_head\":2"),
                   CF_ERR_FORMAT, "'n_embd' is not an integer");
    hf_config_case(ctx, "n_head -1e300", GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":-1e300"),
                   CF_ERR_FORMAT, "'n_head' is not an integer");
    hf_config_case(ctx, "n_embd a string", GPT2_CFG("\"n_embd\":\"8\",\"n_layer\":2,\"n_head\":2"),
                   CF_ERR_FORMAT, "'n_embd' is not an integer");
    hf_config_case(ctx, "n_embd fractional", GPT2_CFG("\"n_embd\":8.5,\"n_layer\":2,\"n_head\":2"),
                   CF_ERR_FORMAT, "'n_embd' is not an integer");
    hf_config_case(ctx, "zero heads", GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":0"),
                   CF_ERR_FORMAT, "n_heads = 0");
    hf_config_case(ctx, "huge model",
                   GPT2_CFG("\"n_embd\":1048576,\"n_layer\":1024,\"n_head\":256,"
                            "\"n_inner\":1024"),
                   CF_ERR_FORMAT, "parameters");
    hf_config_case(ctx, "negative epsilon",
                   GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"layer_norm_epsilon\":-1"),
                   CF_ERR_FORMAT, "norm_eps");
    hf_config_case(ctx, "negative eos id",
                   GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"eos_token_id\":-5"),
                   CF_ERR_FORMAT, "eos_id = -5");
    hf_config_case(ctx, "eos id a string",
                   GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"eos_token_id\":\"x\""),
                   CF_ERR_FORMAT, "'eos_token_id' is not an integer");
    hf_config_case(ctx, "unknown activation",
                   GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":2,"
                            "\"activation_function\":\"mish\""),
                   CF_ERR_UNSUPPORTED, "activation_function 'mish'");
    hf_config_case(ctx, "untied gpt2",
                   GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":2,"
                            "\"tie_word_embeddings\":false"),
                   CF_ERR_UNSUPPORTED, "untied");
    hf_config_case(ctx, "tie flag not a bool",
                   GPT2_CFG("\"n_embd\":8,\"n_layer\":2,\"n_head\":2,\"tie_word_embeddings\":1"),
                   CF_ERR_FORMAT, "'tie_word_embeddings' is not true/false");
    hf_config_case(ctx, "llama with rope_scaling",
                   "{\"model_type\":\"llama\",\"hidden_size\":8,\"intermediate_size\":16,"
                   "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"vocab_size\":16,"
                   "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2}}",
                   CF_ERR_UNSUPPORTED, "rope_scaling");
    hf_config_case(ctx, "llama with gelu",
                   "{\"model_type\":\"llama\",\"hidden_size\":8,\"intermediate_size\":16,"
                   "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"vocab_size\":16,"
                   "\"hidden_act\":\"gelu\"}",
                   CF_ERR_UNSUPPORTED, "hidden_act 'gelu'");
    hf_config_case(ctx, "llama rope_theta overflowing float",
                   "{\"model_type\":\"llama\",\"hidden_size\":8,\"intermediate_size\":16,"
                   "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"vocab_size\":16,"
                   "\"rope_theta\":1e39}",
                   CF_ERR_FORMAT, "rope_theta");
    hf_config_case(ctx, "llama kv heads not dividing heads",
                   "{\"model_type\":\"llama\",\"hidden_size\":12,\"intermediate_size\":16,"
                   "\"num_hidden_layers\":1,\"num_attention_heads\":6,"
                   "\"num_key_value_heads\":4,\"vocab_size\":16}",
                   CF_ERR_FORMAT, "n_heads = 6 is not a multiple of n_kv_heads = 4");
    hf_config_case(ctx, "llama odd head_dim",
                   "{\"model_type\":\"llama\",\"hidden_size\":6,\"intermediate_size\":16,"
                   "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"vocab_size\":16}",
                   CF_ERR_FORMAT, "head_dim = 3 must be even");
    hf_config_case(ctx, "cformer config with a bad field",
                   "{\"model_type\":\"cformer\",\"cformer\":{\"n_layers\":\"two\"}}", CF_ERR_FORMAT,
                   "'n_layers' is not an integer");
    hf_config_case(ctx, "cformer config with an unknown norm",
                   "{\"model_type\":\"cformer\",\"cformer\":{\"norm\":\"batchnorm\"}}",
                   CF_ERR_FORMAT, "'norm' has an unknown value");
    cf_ctx_free(ctx);
}

// Writes the GPT-2 folder after `edit` changed it and expects status/message.
static void hf_tensor_case(cf_ctx *ctx, tf_model *tm, const char *label, cf_status want,
                           const char *what1, const char *what2) {
    static int k;
    char dn[64];
    snprintf(dn, sizeof dn, "tensors%d", k++);
    const char *dir = folder(dn);
    CF_CHECK_EQ(tf_write_folder(tm, dir), 0);
    cf_status s = load(ctx, dir);
    expect(ctx, label, s, want, file_in(dir, "model.safetensors"), what1);
    if (s == want && what2) CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), what2);
}

static void test_hf_bad_tensors(void) {
    cf_ctx *ctx = tf_ctx();
    tf_model tm;
    // Missing tensor.
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    tf_drop(&tm, "transformer.h.1.mlp.c_fc.bias");
    hf_tensor_case(ctx, &tm, "missing tensor", CF_ERR_FORMAT,
                   "missing tensor 'transformer.h.1.mlp.c_fc.bias'", NULL);
    tf_model_free(&tm);
    // Wrong shape: c_attn stored (3C, C) instead of (C, 3C). Both shapes in the message.
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    tf_reshape(tf_find(&tm, "transformer.h.0.attn.c_attn.weight"), 2, 3 * G_C, G_C);
    hf_tensor_case(ctx, &tm, "transposed c_attn", CF_ERR_FORMAT, "[24, 8]", "[8, 24]");
    tf_model_free(&tm);
    // Wrong rank: a bias stored as (1, C).
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    tf_reshape(tf_find(&tm, "transformer.ln_f.bias"), 2, 1, G_C);
    hf_tensor_case(ctx, &tm, "bias of rank 2", CF_ERR_FORMAT, "transformer.ln_f.bias", "[1, 8]");
    tf_model_free(&tm);
    // Embeddings with fewer rows than the vocabulary.
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    tf_reshape(tf_find(&tm, "transformer.wte.weight"), 2, G_V - 1, G_C);
    hf_tensor_case(ctx, &tm, "short embeddings", CF_ERR_FORMAT, "[15, 8]", "[16, 8]");
    tf_model_free(&tm);
    // Wrong dtype.
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    tf_find(&tm, "transformer.h.0.ln_1.weight")->dtype = TF_I32;
    hf_tensor_case(ctx, &tm, "I32 weight", CF_ERR_FORMAT, "transformer.h.0.ln_1.weight", "I32");
    tf_model_free(&tm);
    // Llama: a k_proj for the wrong number of kv heads, and a missing lm_head.
    tf_llama(&tm, L_C, L_F, L_L, L_H, L_KVH, L_V, L_P);
    tf_reshape(tf_find(&tm, "model.layers.1.self_attn.k_proj.weight"), 2, L_C, L_C);
    hf_tensor_case(ctx, &tm, "k_proj for too many kv heads", CF_ERR_FORMAT, "[8, 8]", "[4, 8]");
    tf_model_free(&tm);
    tf_llama(&tm, L_C, L_F, L_L, L_H, L_KVH, L_V, L_P);
    tf_drop(&tm, "lm_head.weight");
    hf_tensor_case(ctx, &tm, "llama without lm_head", CF_ERR_FORMAT, "'lm_head.weight'", NULL);
    tf_model_free(&tm);
    // A corrupt model.safetensors inside a valid folder names the safetensors file.
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    const char *dir = folder("corrupt_st");
    CF_CHECK_EQ(tf_write_folder(&tm, dir), 0);
    size_t len;
    uint8_t *img = tf_read(file_in(dir, "model.safetensors"), &len);
    CF_CHECK(img != NULL);
    if (img) {
        tf_write(file_in(dir, "model.safetensors"), img, len - 3);
        expect(ctx, "truncated model.safetensors", load(ctx, dir), CF_ERR_FORMAT,
               file_in(dir, "model.safetensors"), "outside");
        free(img);
    }
    tf_model_free(&tm);
    cf_ctx_free(ctx);
}

// A small file must never make the loader ask for a huge allocation. A Llama config with the
// largest context and head_dim (both within their own limits) and weights of a few hundred KB
// makes the RoPE table n_ctx * head_dim floats (16 GiB) unless the loader bounds it.
static void test_hf_small_file_huge_tables(void) {
    cf_ctx *ctx = tf_ctx();
    tf_model tm;
    tf_llama(&tm, 8, 8, 1, 1, 1, 4, 16);
    snprintf(tm.config, sizeof tm.config,
             "{\"model_type\":\"llama\",\"hidden_size\":8,\"intermediate_size\":8,"
             "\"num_hidden_layers\":1,\"num_attention_heads\":1,\"num_key_value_heads\":1,"
             "\"head_dim\":4096,\"vocab_size\":4,\"max_position_embeddings\":1048576,"
             "\"bos_token_id\":1,\"eos_token_id\":2}");
    tf_reshape(tf_find(&tm, "model.layers.0.self_attn.q_proj.weight"), 2, 4096, 8);
    tf_reshape(tf_find(&tm, "model.layers.0.self_attn.k_proj.weight"), 2, 4096, 8);
    tf_reshape(tf_find(&tm, "model.layers.0.self_attn.v_proj.weight"), 2, 4096, 8);
    tf_reshape(tf_find(&tm, "model.layers.0.self_attn.o_proj.weight"), 2, 8, 4096);
    const char *dir = folder("huge_rope");
    CF_CHECK_EQ(tf_write_folder(&tm, dir), 0);
    size_t file_size = 0;
    free(tf_read(file_in(dir, "model.safetensors"), &file_size));
    // Refuse anything over 256 MiB, and record the largest request.
    tf_alloc_cap((size_t)256 << 20);
    cf_model *m = NULL;
    cf_status s = cf_model_load(ctx, dir, &m);
    size_t largest = tf_alloc_largest();
    cf_model_free(m);
    tf_alloc_cap(0);
    if (largest > (size_t)64 << 20 || s == CF_ERR_NOMEM) {
        fprintf(stderr, "  a %zu-byte model.safetensors made the loader ask for %zu bytes at "
                "once (status %s: %s)\n", file_size, largest, cf_status_str(s), cf_errmsg(ctx));
        cf_test_failures++;
    }
    tf_model_free(&tm);
    cf_ctx_free(ctx);
}

// ---- llama2.c checkpoints ----

enum { C2_DIM = 8, C2_HID = 16, C2_L = 2, C2_H = 2, C2_KVH = 1, C2_V = 16, C2_T = 8 };

static void set_i32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }

static void test_llama2c_valid(void) {
    cf_ctx *ctx = tf_ctx();
    for (int shared = 1; shared >= 0; shared--) {
        size_t len;
        uint8_t *img = tf_llama2c(C2_DIM, C2_HID, C2_L, C2_H, C2_KVH, C2_V, C2_T, shared, &len);
        const char *p = tf_path(shared ? "shared.bin" : "unshared.bin");
        CF_CHECK_EQ(tf_write(p, img, len), 0);
        cf_model *m = NULL;
        cf_status s = cf_model_load(ctx, p, &m);
        expect(ctx, p, s, CF_OK, NULL, NULL);
        if (s == CF_OK) {
            const cf_config *c = cf_model_config(m);
            CF_CHECK_EQ(c->n_embd, C2_DIM);
            CF_CHECK_EQ(c->n_ff, C2_HID);
            CF_CHECK_EQ(c->n_kv_heads, C2_KVH);
            CF_CHECK_EQ(c->vocab_size, C2_V);
            CF_CHECK_EQ(c->n_ctx, C2_T);
            CF_CHECK_EQ(c->tie_embeddings, shared);
            CF_CHECK_STR_CONTAINS(cf_model_source(m), "llama2.c");
            // The embeddings start right after the header; the classifier is the file's tail.
            CF_CHECK(m->wte.data[0] == tf_value(0, 3) && m->wte.data[5] == tf_value(5, 3));
            if (!shared) {
                int64_t tail = (int64_t)(len - 28) / 4 - C2_V * C2_DIM;
                CF_CHECK(m->lm_head.data[0] == tf_value(tail, 3));
            }
            float lg[5 * C2_V];
            CF_CHECK_STATUS(logits_of(m, lg), CF_OK);
            cf_model_free(m);
        }
        free(img);
    }
    cf_ctx_free(ctx);
}

static void llama2c_case(cf_ctx *ctx, const char *label, const uint8_t *img, size_t len,
                         cf_status want, const char *what) {
    static int k;
    char name[64];
    snprintf(name, sizeof name, "l2c_%d.bin", k++);
    const char *p = tf_path(name);
    CF_CHECK_EQ(tf_write(p, img, len), 0);
    expect(ctx, label, load(ctx, p), want, p, what);
    cf_config cfg;
    expect(ctx, label, cf__llama2c_check(ctx, "mem.bin", img, len, &cfg), want, "mem.bin", what);
}

static void test_llama2c_corrupt(void) {
    cf_ctx *ctx = tf_ctx();
    size_t len;
    uint8_t *img = tf_llama2c(C2_DIM, C2_HID, C2_L, C2_H, C2_KVH, C2_V, C2_T, 1, &len);
    uint8_t *x = malloc(len + 64);
    // Truncated header.
    size_t cuts[] = {0, 1, 4, 27};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char label[64];
        snprintf(label, sizeof label, "header cut to %zu bytes", cuts[i]);
        llama2c_case(ctx, label, img, cuts[i], CF_ERR_FORMAT, "truncated header");
    }
    // Each size field zero and negative (vocab_size < 0 means unshared, so not for that one).
    const char *fields[7] = {"dim", "hidden", "layers", "heads", "kv heads", "vocab", "seq_len"};
    for (int f = 0; f < 7; f++) {
        int32_t vals[3] = {0, -1, INT32_MIN};
        for (int v = 0; v < 3; v++) {
            if (f == 5 && vals[v] == -1) continue;  // a valid unshared header (size differs)
            memcpy(x, img, len);
            set_i32(x + 4 * f, vals[v]);
            char label[64];
            snprintf(label, sizeof label, "%s = %d", fields[f], vals[v]);
            llama2c_case(ctx, label, x, len, CF_ERR_FORMAT, "non-positive");
        }
    }
    // dim not a multiple of n_heads.
    memcpy(x, img, len);
    set_i32(x + 12, 3);
    llama2c_case(ctx, "dim 8, 3 heads", x, len, CF_ERR_FORMAT,
                 "dim 8 is not a multiple of n_heads 3");
    // More kv heads than heads; heads not a multiple of kv heads.
    memcpy(x, img, len);
    set_i32(x + 16, 4);
    llama2c_case(ctx, "4 kv heads, 2 heads", x, len, CF_ERR_FORMAT, "n_kv_heads = 4");
    // Odd head_dim with rotary positions: dim 6, 2 heads.
    {
        size_t l2;
        uint8_t *y = tf_llama2c(6, 16, 1, 2, 2, 16, 8, 1, &l2);
        llama2c_case(ctx, "head_dim 3", y, l2, CF_ERR_FORMAT, "head_dim = 3 must be even");
        free(y);
    }
    // File size not matching the header: short, long, unshared header on a shared body.
    llama2c_case(ctx, "4 bytes short", img, len - 4, CF_ERR_FORMAT, "implies");
    llama2c_case(ctx, "1 byte short", img, len - 1, CF_ERR_FORMAT, "implies");
    memcpy(x, img, len);
    memset(x + len, 0, 4);
    llama2c_case(ctx, "4 bytes long", x, len + 4, CF_ERR_FORMAT, "implies");
    memcpy(x, img, len);
    set_i32(x + 20, -C2_V);
    llama2c_case(ctx, "unshared header, shared body", x, len, CF_ERR_FORMAT, "unshared");
    // The newer export versions.
    memcpy(x, img, len);
    set_i32(x, 0x616b3432);
    llama2c_case(ctx, "ak42 magic", x, len, CF_ERR_UNSUPPORTED, "ak42");
    llama2c_case(ctx, "ak42 magic, short", x, 8, CF_ERR_UNSUPPORTED, "ak42");
    // Absurd sizes: beyond the config limits, and within them but far beyond the file.
    struct {
        int32_t h[7];
        const char *what;
    } absurd[] = {
        {{INT32_MAX, INT32_MAX, INT32_MAX, 1, 1, INT32_MAX, INT32_MAX}, "n_layers"},
        {{1 << 20, 1 << 20, 1024, 256, 256, 1 << 24, 1 << 20}, "parameters"},
        {{65536, 65536, 1024, 1024, 1024, 16777216, 1048576}, "parameters"},
        {{4096, 11008, 32, 32, 32, 32000, 2048}, "implies"},
        {{4096, 11008, 32, 32, 32, -32000, 2048}, "implies"},
        {{1 << 20, 1, 1, 4096, 1, 512, 1}, "parameters"},
        {{65536, 1, 1, 16, 1, 512, 1}, "implies"},
        {{256, 1, 1, 128, 1, 512, 1048576}, "implies"},
    };
    tf_alloc_cap((size_t)64 << 20);
    for (size_t i = 0; i < sizeof absurd / sizeof *absurd; i++) {
        memcpy(x, img, len);
        for (int f = 0; f < 7; f++) set_i32(x + 4 * f, absurd[i].h[f]);
        char label[64];
        snprintf(label, sizeof label, "absurd header %zu", i);
        llama2c_case(ctx, label, x, len, CF_ERR_FORMAT, absurd[i].what);
    }
    size_t largest = tf_alloc_largest();
    tf_alloc_cap(0);
    if (largest > (size_t)1 << 20) {
        fprintf(stderr, "  absurd llama2.c headers made the loader ask for %zu bytes\n", largest);
        cf_test_failures++;
    }
    free(x);
    free(img);
    cf_ctx_free(ctx);
}

// ---- tokenizer.bin ----

static const char *const PIECES[] = {"<unk>", "<s>", "</s>", " ", "a", "b", "ab", " ab"};
enum { N_PIECES = 8 };

static void tok_case(cf_ctx *ctx, const char *label, const uint8_t *data, size_t len,
                     int32_t vocab, cf_status want, const char *what) {
    static int k;
    char name[64];
    snprintf(name, sizeof name, "tok%d.bin", k++);
    const char *p = tf_path(name);
    CF_CHECK_EQ(tf_write(p, data, len), 0);
    cf_tokenizer *t = NULL;
    cf_status s = cf_tokenizer_load(ctx, p, vocab, &t);
    cf_tokenizer_free(t);
    expect(ctx, label, s, want, p, what);
    s = cf__tokenizer_parse_llama2c(ctx, "mem/tokenizer.bin", data, len, vocab, &t);
    cf_tokenizer_free(t);
    expect(ctx, label, s, want, "mem/tokenizer.bin", what);
}

static void test_tokenizer_valid(void) {
    cf_ctx *ctx = tf_ctx();
    size_t len;
    uint8_t *bin = tf_tokenizer_bin(5, PIECES, N_PIECES, &len);
    const char *p = tf_path("tokenizer.bin");
    CF_CHECK_EQ(tf_write(p, bin, len), 0);
    for (int vocab = 0; vocab <= N_PIECES; vocab += N_PIECES) {
        cf_tokenizer *t = NULL;
        cf_status s = cf_tokenizer_load(ctx, p, vocab, &t);
        expect(ctx, "valid tokenizer", s, CF_OK, NULL, NULL);
        if (s != CF_OK) continue;
        CF_CHECK_EQ(cf_tokenizer_vocab_size(t), N_PIECES);
        int32_t ids[16];
        int64_t n = 0;
        CF_CHECK_STATUS(cf_tokenizer_encode(t, "ab", 2, 1, ids, 16, &n), CF_OK);
        // BOS, then " ab" (the dummy prefix merged with the text).
        CF_CHECK_EQ(n, 2);
        CF_CHECK_EQ(ids[0], 1);
        CF_CHECK_EQ(ids[1], 7);
        char buf[64];
        size_t nb;
        CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, 1, 7, buf, sizeof buf, &nb), CF_OK);
        CF_CHECK(nb == 2 && !memcmp(buf, "ab", 2));
        CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, 1, N_PIECES, buf, sizeof buf, &nb),
                        CF_ERR_RANGE);
        CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, 1, -1, buf, sizeof buf, &nb), CF_ERR_RANGE);
        cf_tokenizer_free(t);
    }
    // A vocabulary larger than the model's is cut at the model's size.
    cf_tokenizer *t = NULL;
    CF_CHECK_STATUS(cf_tokenizer_load(ctx, p, 5, &t), CF_OK);
    if (t) CF_CHECK_EQ(cf_tokenizer_vocab_size(t), 5);
    cf_tokenizer_free(t);
    free(bin);
    cf_ctx_free(ctx);
}

// tokenizer.h promises that 64 bytes always hold a decoded piece, and cf_generate decodes into
// 256 bytes; the loader accepts pieces up to max_token_length 65536. One of the two must give.
static void test_tokenizer_long_piece(void) {
    cf_ctx *ctx = tf_ctx();
    char longp[301];
    memset(longp, 'x', 300);
    longp[300] = 0;
    const char *pieces[] = {"<unk>", "<s>", "</s>", " ", "x", longp};
    size_t len;
    uint8_t *bin = tf_tokenizer_bin(300, pieces, 6, &len);
    cf_tokenizer *t = NULL;
    cf_status s = cf__tokenizer_parse_llama2c(ctx, "long.bin", bin, len, 0, &t);
    if (s == CF_OK) {
        // A small buffer gets CF_ERR_RANGE and the size needed; a buffer of that size works.
        char small[64], big[300];
        size_t nb = 0;
        CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, 4, 5, small, sizeof small, &nb), CF_ERR_RANGE);
        CF_CHECK_EQ(nb, 300);
        CF_CHECK_STATUS(cf_tokenizer_decode_piece(t, 4, 5, big, nb, &nb), CF_OK);
        CF_CHECK(nb == 300 && !memcmp(big, longp, 300));
    } else {
        expect(ctx, "300-byte piece", s, CF_ERR_FORMAT, "long.bin", "record 5");
    }
    cf_tokenizer_free(t);
    free(bin);
    cf_ctx_free(ctx);
}

static void test_tokenizer_corrupt(void) {
    cf_ctx *ctx = tf_ctx();
    size_t len;
    uint8_t *bin = tf_tokenizer_bin(5, PIECES, N_PIECES, &len);
    uint8_t *x = malloc(len + 16);
    tok_case(ctx, "empty file", bin, 0, 0, CF_ERR_FORMAT, "max_token_length");
    tok_case(ctx, "2 bytes", bin, 2, 0, CF_ERR_FORMAT, "max_token_length");
    // Truncated records: inside the score, inside the length, inside the piece.
    size_t rec7 = len - (8 + 3);  // the last record: score, len, " ab"
    tok_case(ctx, "cut in score", bin, rec7 + 2, 0, CF_ERR_FORMAT, "truncated record 7");
    tok_case(ctx, "cut in length", bin, rec7 + 6, 0, CF_ERR_FORMAT, "truncated record 7");
    tok_case(ctx, "cut in piece", bin, len - 1, 0, CF_ERR_FORMAT, "record 7");
    // Negative length, and a length over max_token_length.
    memcpy(x, bin, len);
    set_i32(x + rec7 + 4, -1);
    tok_case(ctx, "negative length", x, len, 0, CF_ERR_FORMAT, "length -1");
    set_i32(x + rec7 + 4, INT32_MIN);
    tok_case(ctx, "INT32_MIN length", x, len, 0, CF_ERR_FORMAT, "record 7");
    set_i32(x + rec7 + 4, 6);
    tok_case(ctx, "length over max", x, len, 0, CF_ERR_FORMAT, "length 6 (max_token_length 5)");
    set_i32(x + rec7 + 4, 3000000);
    tok_case(ctx, "huge length", x, len, 0, CF_ERR_FORMAT, "record 7");
    // Bad max_token_length.
    int32_t bad_max[] = {0, -1, INT32_MIN, 65537, INT32_MAX};
    for (size_t i = 0; i < sizeof bad_max / sizeof *bad_max; i++) {
        memcpy(x, bin, len);
        set_i32(x, bad_max[i]);
        char label[64];
        snprintf(label, sizeof label, "max_token_length %d", bad_max[i]);
        tok_case(ctx, label, x, len, 0, CF_ERR_FORMAT, "max_token_length");
    }
    // Fewer pieces than the model's vocabulary; fewer than the three special pieces.
    tok_case(ctx, "fewer pieces than vocab", bin, len, 32000, CF_ERR_FORMAT,
             "8 pieces, but the model has a vocabulary of 32000");
    size_t l2;
    uint8_t *two = tf_tokenizer_bin(5, PIECES, 2, &l2);
    tok_case(ctx, "two pieces", two, l2, 0, CF_ERR_FORMAT, "only 2 pieces");
    free(two);
    // Missing files and the byte tokenizer with too small a model vocabulary.
    cf_tokenizer *t = NULL;
    const char *missing = tf_path("no_tokenizer.bin");
    expect(ctx, "missing tokenizer", cf_tokenizer_load(ctx, missing, 0, &t), CF_ERR_IO, missing,
           NULL);
    const char *dir = tf_path("tokdir");
    tf_mkdir(dir);
    expect(ctx, "folder without tokenizer.bin", cf_tokenizer_load(ctx, dir, 0, &t), CF_ERR_IO, dir,
           NULL);
    expect(ctx, "byte tokenizer, vocab 100", cf_tokenizer_load(ctx, "byte", 100, &t),
           CF_ERR_INVALID_ARG, "100", NULL);
    cf_tokenizer_free(t);
    free(x);
    free(bin);
    cf_ctx_free(ctx);
}

// ---- training config text ----

static cf_status parse_cfg(cf_ctx *ctx, const char *text, size_t len, cf_config *c,
                           cf_train_params *tp) {
    char tok[64] = "byte";
    // As cformer train starts: GPT-2 presets, derived head_dim and kv heads.
    *c = cf_config_gpt2();
    c->head_dim = 0;
    c->n_kv_heads = 0;
    *tp = cf_train_default_params();
    return cf_train_config_parse(ctx, "train.cfg", text, len, c, tp, tok, sizeof tok);
}

static void cfg_case(cf_ctx *ctx, const char *text, const char *what) {
    cf_config c;
    cf_train_params tp;
    expect(ctx, text, parse_cfg(ctx, text, strlen(text), &c, &tp), CF_ERR_FORMAT, "train.cfg",
           what);
}

static void test_train_config(void) {
    cf_ctx *ctx = tf_ctx();
    cf_config c;
    cf_train_params tp;
    // A valid config; `family` applies its preset before the other keys wherever it is.
    const char *ok = "# tiny\n n_layers = 3 \n\nn_embd=16\r\nn_heads = 4 # four\nsteps = 7\n"
                     "lr = 1e-3\nbias = false\nseed = 18446744073709551615\nfamily = llama\n"
                     "tokenizer = byte\n";
    expect(ctx, "valid", parse_cfg(ctx, ok, strlen(ok), &c, &tp), CF_OK, NULL, NULL);
    CF_CHECK_EQ(c.n_layers, 3);
    CF_CHECK_EQ(c.n_embd, 16);
    CF_CHECK_EQ(c.n_heads, 4);
    CF_CHECK_EQ(c.family, CF_FAMILY_LLAMA);
    CF_CHECK_EQ(c.norm, CF_NORM_RMSNORM);
    CF_CHECK_EQ(c.attn_bias, 0);
    CF_CHECK_EQ(tp.max_steps, 7);
    CF_CHECK(tp.seed == UINT64_MAX);
    CF_CHECK_NEAR(tp.lr, 1e-3, 1e-9);
    cfg_case(ctx, "n_layers = 2\nfoo = 3\n", "train.cfg:2: unknown key 'foo'");
    cfg_case(ctx, "n_layers =\n", "train.cfg:1: key 'n_layers' has no value");
    cfg_case(ctx, "n_layers = # nothing\n", "key 'n_layers' has no value");
    cfg_case(ctx, "\n\nn_layers 2\n", "train.cfg:3: expected `key = value`");
    cfg_case(ctx, "n_layers = two\n", "bad value 'two' for n_layers");
    cfg_case(ctx, "n_layers = 2x\n", "bad value '2x' for n_layers");
    cfg_case(ctx, "n_layers = 99999999999\n", "bad value '99999999999' for n_layers");
    cfg_case(ctx, "steps = 99999999999999999999\n", "bad value");
    cfg_case(ctx, "seed = -1\n", "bad value '-1' for seed");
    cfg_case(ctx, "lr = nan\n", "bad value 'nan' for lr");
    cfg_case(ctx, "lr = inf\n", "bad value 'inf' for lr");
    cfg_case(ctx, "lr = 1e999\n", "bad value '1e999' for lr");
    cfg_case(ctx, "lr = 1e39\n", "bad value '1e39' for lr");  // finite double, inf as float
    cfg_case(ctx, "rope_theta = -1e39\n", "bad value '-1e39' for rope_theta");
    cfg_case(ctx, "causal = maybe\n", "bad value 'maybe' for causal");
    cfg_case(ctx, "bias = 2\n", "bias");
    cfg_case(ctx, "norm = batchnorm\n", "bad value 'batchnorm' for norm");
    cfg_case(ctx, "family = bert\n", "family 'bert'");
    cfg_case(ctx, "= 3\n", "train.cfg:1");
    {
        char longtok[200];
        memset(longtok, 'x', sizeof longtok);
        memcpy(longtok, "tokenizer = ", 12);
        longtok[sizeof longtok - 1] = 0;
        cfg_case(ctx, longtok, "tokenizer path too long");
    }
    const char nul[] = "n_layers = 2\nn_e\0mbd = 4\n";
    expect(ctx, "NUL byte", parse_cfg(ctx, nul, sizeof nul - 1, &c, &tp), CF_ERR_FORMAT,
           "train.cfg", "NUL byte");
    // Impossible values pass the parser and are caught by cf_config_finish.
    struct {
        const char *text;
        const char *what;
    } finish[] = {
        {"n_embd = 24\nn_heads = 6\nn_kv_heads = 4\nhead_dim = 4\n",
         "n_heads = 6 is not a multiple of n_kv_heads = 4"},
        {"family = llama\nn_embd = 6\nn_heads = 2\nvocab_size = 16\n", "head_dim = 3 must be even"},
        {"n_embd = 8\nn_heads = 2\nvocab_size = 0\n", "vocab_size = 0"},
        {"n_embd = 8\nn_heads = 2\nvocab_size = 16\nn_ctx = 0\n", "n_ctx = 0"},
        {"n_embd = 8\nn_heads = 3\n", "not a multiple of n_heads"},
        {"n_layers = 0\n", "n_layers = 0"},
        {"n_embd = 8\nn_heads = 2\nn_ff = -1\n", "n_ff"},
        {"n_embd = 8\nn_heads = 2\nnorm_eps = 0\n", "norm_eps"},
        {"n_embd = 8\nn_heads = 2\nvocab_size = 16\nbos_id = 16\n", "bos_id = 16"},
        {"family = llama\nn_embd = 8\nn_heads = 2\nvocab_size = 16\nrope_theta = 0\n",
         "rope_theta"},
    };
    for (size_t i = 0; i < sizeof finish / sizeof *finish; i++) {
        cf_status s = parse_cfg(ctx, finish[i].text, strlen(finish[i].text), &c, &tp);
        expect(ctx, finish[i].text, s, CF_OK, NULL, NULL);
        if (s == CF_OK)
            expect(ctx, finish[i].text, cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG,
                   finish[i].what, NULL);
    }
    cf_ctx_free(ctx);
}

// ---- token ids at the API ----

static cf_model *tiny_model(cf_ctx *ctx, int V, int n_ctx) {
    cf_config c = cf_config_gpt2();
    c.n_layers = 1;
    c.n_embd = 8;
    c.n_heads = 2;
    c.head_dim = 0;
    c.n_kv_heads = 0;
    c.n_ff = 16;
    c.vocab_size = V;
    c.n_ctx = n_ctx;
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 1, &m), CF_OK);
    return m;
}

static void test_token_ranges(void) {
    cf_ctx *ctx = tf_ctx();
    cf_model *m = tiny_model(ctx, 16, 8);
    if (!m) {
        cf_ctx_free(ctx);
        return;
    }
    float lg[8 * 16];
    int32_t toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CF_CHECK_STATUS(cf_model_forward(m, toks, 1, 4, lg), CF_OK);
    toks[2] = 16;
    expect(ctx, "forward id = V", cf_model_forward(m, toks, 1, 4, lg), CF_ERR_RANGE, "16",
           "position 2");
    toks[2] = -1;
    expect(ctx, "forward id = -1", cf_model_forward(m, toks, 1, 4, lg), CF_ERR_RANGE, "-1", NULL);
    toks[2] = INT32_MIN;
    expect(ctx, "forward id = INT32_MIN", cf_model_forward(m, toks, 1, 4, lg), CF_ERR_RANGE,
           "position 2", NULL);
    toks[2] = 3;
    expect(ctx, "forward T > n_ctx", cf_model_forward(m, toks, 1, 9, lg), CF_ERR_INVALID_ARG,
           "n_ctx", NULL);
    expect(ctx, "forward T = 0", cf_model_forward(m, toks, 1, 0, lg), CF_ERR_INVALID_ARG, NULL,
           NULL);
    expect(ctx, "forward B = -1", cf_model_forward(m, toks, -1, 2, lg), CF_ERR_INVALID_ARG, NULL,
           NULL);
    cf_session *s = NULL;
    expect(ctx, "session beyond n_ctx", cf_session_create(m, 9, 0, &s), CF_ERR_INVALID_ARG, "9",
           NULL);
    CF_CHECK_STATUS(cf_session_create(m, 8, 4, &s), CF_OK);
    if (s) {
        toks[1] = 16;
        expect(ctx, "eval id = V", cf_session_eval(s, toks, 3, 0, lg), CF_ERR_RANGE, "16", NULL);
        CF_CHECK_EQ(cf_session_pos(s), 0);
        toks[1] = -7;
        expect(ctx, "eval id < 0", cf_session_eval(s, toks, 3, 0, lg), CF_ERR_RANGE, "-7", NULL);
        toks[1] = 2;
        expect(ctx, "eval 9 tokens in 8", cf_session_eval(s, toks, 9, 0, lg), CF_ERR_INVALID_ARG,
               "exceeds", NULL);
        CF_CHECK_STATUS(cf_session_eval(s, toks, 5, 0, lg), CF_OK);
        expect(ctx, "eval past the end", cf_session_eval(s, toks, 4, 0, lg), CF_ERR_INVALID_ARG,
               "exceeds", NULL);
        CF_CHECK_EQ(cf_session_pos(s), 5);
        CF_CHECK_STATUS(cf_session_eval(s, toks, 3, 1, lg), CF_OK);
        expect(ctx, "eval when full", cf_session_eval(s, toks, 1, 0, lg), CF_ERR_INVALID_ARG,
               "exceeds", NULL);
        expect(ctx, "eval 0 tokens", cf_session_eval(s, toks, 0, 0, lg), CF_ERR_INVALID_ARG, NULL,
               NULL);
        cf_session_reset(s);
        CF_CHECK_STATUS(cf_session_eval(s, toks, 8, 0, lg), CF_OK);
        cf_session_free(s);
    }
    // Memory planning with absurd training shapes: an answer or an error, never overflow.
    cf_memory_info mi;
    cf_status ms = cf_model_memory(m, 0, 0, 300000000, 8, &mi);
    CF_CHECK(ms == CF_OK || ms == CF_ERR_INVALID_ARG || ms == CF_ERR_NOMEM);
    if (ms == CF_OK) CF_CHECK(mi.train_bytes > 0);
    // Perplexity range-checks the ids too.
    cf_perplexity_result r;
    toks[4] = 99;
    CF_CHECK(cf_perplexity(m, toks, 8, 0, 0, &r) != CF_OK);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// ---- OOM injection ----

// Fails allocation n = 1, 2, ... of `fn` until it succeeds without an injected failure.
// Every failing run must report CF_ERR_NOMEM ("out of memory") and free what it made.
typedef cf_status (*load_fn)(cf_ctx *ctx, const void *arg);

static void oom_loop(cf_ctx *ctx, const char *what, load_fn fn, const void *arg, int max_n) {
    int n;
    for (n = 1; n <= max_n; n++) {
        cf__fail_alloc_at(n);
        cf_status s = fn(ctx, arg);
        int64_t made = cf__alloc_count();
        cf__fail_alloc_at(0);
        if (s == CF_OK && made < n) break;  // no failure was injected: done
        if (s != CF_ERR_NOMEM) {
            fprintf(stderr, "  %s: allocation %d failed, status %s (%s)\n", what, n,
                    cf_status_str(s), cf_errmsg(ctx));
            cf_test_failures++;
        } else {
            CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "out of memory");
        }
    }
    if (n > max_n) {
        fprintf(stderr, "  %s: still failing after %d allocations\n", what, max_n);
        cf_test_failures++;
    }
    if (cf_test_verbose) fprintf(stderr, "  %s: %d allocations\n", what, n - 1);
}

static cf_status oom_model(cf_ctx *ctx, const void *arg) {
    cf_model *m = NULL;
    cf_status s = cf_model_load(ctx, arg, &m);
    cf_model_free(m);
    return s;
}

static cf_status oom_tokenizer(cf_ctx *ctx, const void *arg) {
    cf_tokenizer *t = NULL;
    cf_status s = cf_tokenizer_load(ctx, arg, 0, &t);
    if (s == CF_OK) {
        int32_t ids[64];
        int64_t n;
        s = cf_tokenizer_encode(t, "hello ab", 8, 1, ids, 64, &n);
    }
    cf_tokenizer_free(t);
    return s;
}

static cf_status oom_session(cf_ctx *ctx, const void *arg) {
    cf_model *m = NULL;
    cf_status s = cf_model_load(ctx, arg, &m);
    cf_session *ss = NULL;
    if (s == CF_OK) s = cf_session_create(m, 0, 0, &ss);
    if (s == CF_OK) {
        int32_t toks[3] = {1, 2, 3};
        float lg[3 * 16];
        s = cf_session_eval(ss, toks, 3, 1, lg);
    }
    cf_session_free(ss);
    cf_model_free(m);
    return s;
}

static void test_oom(void) {
    cf_ctx *ctx = tf_ctx();
    tf_model tm;
    tf_gpt2(&tm, G_C, G_L, G_H, G_V, G_P);
    const char *f32 = folder("oom_f32");
    CF_CHECK_EQ(tf_write_folder(&tm, f32), 0);
    tf_set_dtype(&tm, TF_F16);  // the converting path: slab plus per-tensor buffers
    const char *f16 = folder("oom_f16");
    CF_CHECK_EQ(tf_write_folder(&tm, f16), 0);
    tf_model_free(&tm);
    tf_llama(&tm, L_C, L_F, L_L, L_H, L_KVH, L_V, L_P);
    tf_set_dtype(&tm, TF_BF16);
    const char *llama = folder("oom_llama");
    CF_CHECK_EQ(tf_write_folder(&tm, llama), 0);
    tf_model_free(&tm);
    size_t len;
    uint8_t *img = tf_llama2c(C2_DIM, C2_HID, C2_L, C2_H, C2_KVH, C2_V, C2_T, 0, &len);
    const char *l2c = tf_path("oom.bin");
    CF_CHECK_EQ(tf_write(l2c, img, len), 0);
    free(img);
    const char *extra[] = {"he", "ll", "hell", "hello", " hello", "ab", " ab"};
    img = tf_tokenizer_llama(extra, 7, &len);
    const char *tok = tf_path("oom_tokenizer.bin");
    CF_CHECK_EQ(tf_write(tok, img, len), 0);
    free(img);
    oom_loop(ctx, "gpt2 f32 folder", oom_model, f32, 400);
    oom_loop(ctx, "gpt2 f16 folder", oom_model, f16, 400);
    oom_loop(ctx, "llama bf16 folder", oom_model, llama, 400);
    oom_loop(ctx, "llama2.c checkpoint", oom_model, l2c, 400);
    oom_loop(ctx, "tokenizer.bin + encode", oom_tokenizer, tok, 1000);
    oom_loop(ctx, "gpt2 load + session + eval", oom_session, f16, 600);
    CF_CHECK_EQ(tf_leak_check(), 0);
    cf_ctx_free(ctx);
}

// ---- Hugging Face Marian folders (translation) ----
//
// The committed Marian fixture (tests/fixtures/s2s_marian), copied with one thing broken: a
// tensor gone or of the wrong shape (the safetensors header rewritten, the data kept), or a
// config.json field that is wrong.

// Copies the fixture into dir; edit (may be NULL) rewrites the safetensors header: rename
// `from` to `to` (to NULL: keep), or give it the shape (d0, d1).
static void marian_copy(const char *dir, const char *config, const char *tensor,
                        const char *rename, int64_t d0, int64_t d1) {
    char src[1024];
    snprintf(src, sizeof src, "%s/model.safetensors", cf_test_fixture("s2s_marian"));
    size_t len = 0;
    uint8_t *img = tf_read(src, &len);
    CF_CHECK(img && len > 8);
    if (!img || len <= 8) return;
    uint64_t hl;
    memcpy(&hl, img, 8);
    tf_mkdir(dir);
    if (tensor) {
        cJSON *h = cJSON_ParseWithLength((const char *)img + 8, (size_t)hl);
        cJSON *t = cJSON_GetObjectItemCaseSensitive(h, tensor);
        CF_CHECK(t != NULL);
        if (t && rename) {
            cJSON_DetachItemViaPointer(h, t);
            cJSON_AddItemToObject(h, rename, t);
        } else if (t) {
            cJSON *shape = cJSON_CreateArray();
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)d0));
            if (d1 > 0) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)d1));
            cJSON_ReplaceItemInObjectCaseSensitive(t, "shape", shape);
        }
        char *text = cJSON_PrintUnformatted(h);
        size_t n = strlen(text), pad = (8 - n % 8) % 8;
        uint8_t *out = malloc(8 + n + pad + (len - 8 - hl));
        uint64_t nl = n + pad;
        memcpy(out, &nl, 8);
        memcpy(out + 8, text, n);
        memset(out + 8 + n, ' ', pad);
        memcpy(out + 8 + n + pad, img + 8 + hl, len - 8 - hl);
        tf_write(file_in(dir, "model.safetensors"), out, 8 + n + pad + (len - 8 - hl));
        free(out);
        free(text);
        cJSON_Delete(h);
    } else {
        tf_write(file_in(dir, "model.safetensors"), img, len);
    }
    free(img);
    if (config) {
        tf_write_text(file_in(dir, "config.json"), config);
    } else {
        char cp[1024];
        snprintf(cp, sizeof cp, "%s/config.json", cf_test_fixture("s2s_marian"));
        size_t cl;
        uint8_t *c = tf_read(cp, &cl);
        if (c) tf_write(file_in(dir, "config.json"), c, cl);
        free(c);
    }
}

// The fixture's config with key set to the JSON value (replaced or added); a static buffer.
static const char *marian_cfg(const char *key, const char *value) {
    static char buf[4096];
    cJSON *o = cJSON_Parse(
        "{\"model_type\":\"marian\",\"d_model\":12,\"encoder_layers\":2,\"decoder_layers\":2,"
        "\"encoder_attention_heads\":3,\"decoder_attention_heads\":3,\"encoder_ffn_dim\":20,"
        "\"decoder_ffn_dim\":20,\"max_position_embeddings\":40,\"vocab_size\":17,"
        "\"pad_token_id\":16,\"eos_token_id\":0,\"decoder_start_token_id\":16}");
    if (key) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        cJSON_AddItemToObject(o, key, cJSON_Parse(value));
    }
    char *t = cJSON_PrintUnformatted(o);
    snprintf(buf, sizeof buf, "%s", t);
    free(t);
    cJSON_Delete(o);
    return buf;
}

static void test_hf_marian_hostile(void) {
    cf_ctx *ctx = tf_ctx();
    static int k;
    char dn[64];
#define MARIAN_CASE(label, config, tensor, rename, d0, d1, want, what1, what2)                    \
    do {                                                                                        \
        snprintf(dn, sizeof dn, "marian%d", k++);                                               \
        const char *dir = folder(dn);                                                           \
        marian_copy(dir, config, tensor, rename, d0, d1);                                       \
        expect(ctx, label, load(ctx, dir), want, what1, what2);                                 \
    } while (0)
    MARIAN_CASE("valid marian copy", NULL, NULL, NULL, 0, 0, CF_OK, NULL, NULL);
    MARIAN_CASE("valid marian config text", marian_cfg(NULL, NULL), NULL, NULL, 0, 0, CF_OK, NULL, NULL);
    MARIAN_CASE("missing cross-attention key", NULL,
                "model.decoder.layers.1.encoder_attn.k_proj.weight", "unrelated", 0, 0,
                CF_ERR_FORMAT, "missing tensor", "model.decoder.layers.1.encoder_attn.k_proj");
    MARIAN_CASE("missing final_logits_bias", NULL, "final_logits_bias", "x", 0, 0, CF_ERR_FORMAT,
                "missing tensor 'final_logits_bias'", NULL);
    MARIAN_CASE("missing shared embeddings", NULL, "model.shared.weight", "y", 0, 0,
                CF_ERR_FORMAT, "model.shared.weight", "model.safetensors");
    MARIAN_CASE("fc1 transposed", NULL, "model.encoder.layers.0.fc1.weight", NULL, 12, 20,
                CF_ERR_FORMAT, "model.encoder.layers.0.fc1.weight", "expected (20, 12)");
    MARIAN_CASE("bias of the wrong length", NULL, "model.decoder.layers.0.fc2.bias", NULL, 6, 2,
                CF_ERR_FORMAT, "model.decoder.layers.0.fc2.bias", NULL);
    MARIAN_CASE("vocab_size larger than the embeddings",
                marian_cfg("vocab_size", "18"),
                NULL, NULL, 0, 0, CF_ERR_FORMAT, "model.shared.weight", "(18, 12)");
    MARIAN_CASE("d_model a string", marian_cfg("d_model", "\"12\""), NULL, NULL, 0, 0,
                CF_ERR_FORMAT, "'d_model'", "config.json");
    MARIAN_CASE("decoder heads differ", marian_cfg("decoder_attention_heads", "4"), NULL,
                NULL, 0, 0, CF_ERR_UNSUPPORTED, "decoder_attention_heads", "config.json");
    MARIAN_CASE("unknown activation", marian_cfg("activation_function", "\"mish\""), NULL,
                NULL, 0, 0, CF_ERR_UNSUPPORTED, "activation_function 'mish'", NULL);
    MARIAN_CASE("scale_embedding not a bool", marian_cfg("scale_embedding", "1"), NULL, NULL,
                0, 0, CF_ERR_FORMAT, "'scale_embedding' is not true/false", NULL);
    MARIAN_CASE("heads do not divide d_model (10)", marian_cfg("d_model", "10"),
                NULL, NULL, 0, 0, CF_ERR_FORMAT, "config.json", "n_heads");
    MARIAN_CASE("decoder_start outside the vocabulary", marian_cfg("decoder_start_token_id", "17"),
                NULL, NULL, 0, 0, CF_ERR_FORMAT, "config.json", "decoder_start_id");
    MARIAN_CASE("negative decoder layers", marian_cfg("decoder_layers", "-4"), NULL, NULL, 0, 0,
                CF_ERR_FORMAT, "config.json", "decoder_layers");
    MARIAN_CASE("no decoder layers", marian_cfg("decoder_layers", "0"), NULL, NULL, 0, 0,
                CF_ERR_FORMAT, "config.json", "n_dec_layers > 0");
#undef MARIAN_CASE
    cf_ctx_free(ctx);
}

const cf_test tests_loaders[] = {
    {"loaders/st_valid", test_st_valid},
    {"loaders/st_truncated", test_st_truncated},
    {"loaders/st_header_size", test_st_header_size},
    {"loaders/st_taxonomy", test_st_taxonomy},
    {"loaders/st_many_tensors", test_st_many_tensors},
    {"loaders/half_conversion", test_half_conversion},
    {"loaders/hf_gpt2_valid", test_hf_gpt2_valid},
    {"loaders/hf_llama_valid", test_hf_llama_valid},
    {"loaders/hf_half_weights", test_hf_half_weights},
    {"loaders/hf_missing_files", test_hf_missing_files},
    {"loaders/hf_bad_config", test_hf_bad_config},
    {"loaders/hf_bad_tensors", test_hf_bad_tensors},
    {"loaders/hf_small_file_huge_tables", test_hf_small_file_huge_tables},
    {"loaders/hf_marian_hostile", test_hf_marian_hostile},
    {"loaders/llama2c_valid", test_llama2c_valid},
    {"loaders/llama2c_corrupt", test_llama2c_corrupt},
    {"loaders/tokenizer_valid", test_tokenizer_valid},
    {"loaders/tokenizer_corrupt", test_tokenizer_corrupt},
    {"loaders/tokenizer_long_piece", test_tokenizer_long_piece},
    {"loaders/train_config", test_train_config},
    {"loaders/token_ranges", test_token_ranges},
    {"loaders/oom", test_oom},
    {NULL, NULL},
};
