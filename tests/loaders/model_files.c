// Writers for test model files (see model_files.h). Everything is built byte by byte here so
// the tests never depend on cformer's own writers: a file cformer misreads and miswrites the
// same way would otherwise pass.
#include "model_files.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../test.h"

#if defined(__SANITIZE_ADDRESS__)
#define TF_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TF_HAVE_LSAN 1
#endif
#endif
#ifdef TF_HAVE_LSAN
#include <sanitizer/lsan_interface.h>  // defines: __lsan_do_recoverable_leak_check
#endif

// ---- files ----

const char *tf_path(const char *name) {
    static char ring[32][1024];
    static int next;
    char *p = ring[next++ & 31];
    snprintf(p, sizeof ring[0], "%s/%s", cf_test_tmpdir(), name);
    return p;
}

int tf_write(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "  tf_write: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = len == 0 || fwrite(data, 1, len, f) == len ? 0 : -1;
    if (fclose(f) != 0) rc = -1;
    return rc;
}

int tf_write_text(const char *path, const char *text) {
    return tf_write(path, text, strlen(text));
}

uint8_t *tf_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    tf_buf b = {0};
    uint8_t chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) tf_put(&b, chunk, r);
    fclose(f);
    tf_put(&b, "", 1);
    *len = b.len - 1;
    return b.data;
}

int tf_mkdir(const char *path) { return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1; }

// ---- buffers ----

void tf_put(tf_buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) abort();  // test helper: running out of memory here is not a test result
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

void tf_printf(tf_buf *b, const char *fmt, ...) {
    char tmp[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) abort();
    tf_put(b, tmp, (size_t)n);
}

void tf_put_i32(tf_buf *b, int32_t v) {
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = (uint8_t)((uint32_t)v >> (8 * i));
    tf_put(b, x, 4);
}

void tf_put_f32(tf_buf *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    tf_put_i32(b, (int32_t)u);
}

void tf_buf_free(tf_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

uint8_t *tf_st_raw(const char *header, const void *data, size_t data_len, size_t *len) {
    tf_buf b = {0};
    uint64_t h = strlen(header);
    uint8_t x[8];
    for (int i = 0; i < 8; i++) x[i] = (uint8_t)(h >> (8 * i));
    tf_put(&b, x, 8);
    tf_put(&b, header, (size_t)h);
    tf_put(&b, data, data_len);
    *len = b.len;
    return b.data ? b.data : calloc(1, 1);
}

// ---- tensors ----

float tf_value(int64_t i, int seed) {
    int64_t k = (i * 37 + (int64_t)seed * 11) % 255 - 127;
    return (float)k / 256.0f;
}

int64_t tf_numel(const tf_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

tf_tensor *tf_add(tf_model *m, const char *name, int ndim, int64_t d0, int64_t d1) {
    tf_tensor *nt = realloc(m->t, sizeof(tf_tensor) * (size_t)(m->n + 1));
    if (!nt) abort();
    m->t = nt;
    tf_tensor *t = &m->t[m->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = TF_F32;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    int64_t n = tf_numel(t);
    t->values = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!t->values) abort();
    for (int64_t i = 0; i < n; i++) t->values[i] = tf_value(i, m->n + 1);
    m->n++;
    return t;
}

void tf_reshape(tf_tensor *t, int ndim, int64_t d0, int64_t d1) {
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    int64_t n = tf_numel(t);
    free(t->values);
    t->values = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!t->values) abort();
    for (int64_t i = 0; i < n; i++) t->values[i] = tf_value(i, 7);
}

tf_tensor *tf_find(tf_model *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name)) return &m->t[i];
    return NULL;
}

void tf_drop(tf_model *m, const char *name) {
    tf_tensor *t = tf_find(m, name);
    if (!t) return;
    free(t->values);
    int i = (int)(t - m->t);
    memmove(&m->t[i], &m->t[i + 1], sizeof(tf_tensor) * (size_t)(m->n - i - 1));
    m->n--;
}

void tf_model_free(tf_model *m) {
    for (int i = 0; i < m->n; i++) free(m->t[i].values);
    free(m->t);
    memset(m, 0, sizeof *m);
}

void tf_set_dtype(tf_model *m, int dtype) {
    for (int i = 0; i < m->n; i++) m->t[i].dtype = dtype;
}

void tf_gpt2(tf_model *m, int C, int L, int H, int V, int P) {
    memset(m, 0, sizeof *m);
    snprintf(m->config, sizeof m->config,
             "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n"
             "  \"n_embd\": %d,\n  \"n_layer\": %d,\n  \"n_head\": %d,\n  \"vocab_size\": %d,\n"
             "  \"n_positions\": %d,\n  \"n_ctx\": %d,\n  \"n_inner\": null,\n"
             "  \"activation_function\": \"gelu_new\",\n  \"layer_norm_epsilon\": 1e-05,\n"
             "  \"bos_token_id\": 0,\n  \"eos_token_id\": 0,\n  \"torch_dtype\": \"float32\"\n}\n",
             C, L, H, V, P, P);
    char n[128];
    tf_add(m, "transformer.wte.weight", 2, V, C);
    tf_add(m, "transformer.wpe.weight", 2, P, C);
    for (int l = 0; l < L; l++) {
#define LAYER(suffix, nd, a, b)                                          \
    do {                                                                 \
        snprintf(n, sizeof n, "transformer.h.%d.%s", l, suffix);         \
        tf_add(m, n, nd, a, b);                                          \
    } while (0)
        LAYER("ln_1.weight", 1, C, 0);
        LAYER("ln_1.bias", 1, C, 0);
        LAYER("attn.c_attn.weight", 2, C, 3 * C);
        LAYER("attn.c_attn.bias", 1, 3 * C, 0);
        LAYER("attn.c_proj.weight", 2, C, C);
        LAYER("attn.c_proj.bias", 1, C, 0);
        LAYER("ln_2.weight", 1, C, 0);
        LAYER("ln_2.bias", 1, C, 0);
        LAYER("mlp.c_fc.weight", 2, C, 4 * C);
        LAYER("mlp.c_fc.bias", 1, 4 * C, 0);
        LAYER("mlp.c_proj.weight", 2, 4 * C, C);
        LAYER("mlp.c_proj.bias", 1, C, 0);
#undef LAYER
    }
    tf_add(m, "transformer.ln_f.weight", 1, C, 0);
    tf_add(m, "transformer.ln_f.bias", 1, C, 0);
}

void tf_llama(tf_model *m, int C, int F, int L, int H, int KVH, int V, int P) {
    memset(m, 0, sizeof *m);
    int D = C / H;
    snprintf(m->config, sizeof m->config,
             "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
             "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n"
             "  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n"
             "  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n"
             "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": 1e-05,\n"
             "  \"rope_theta\": 10000.0,\n  \"hidden_act\": \"silu\",\n"
             "  \"tie_word_embeddings\": false,\n  \"rope_scaling\": null,\n"
             "  \"bos_token_id\": 1,\n  \"eos_token_id\": 2\n}\n",
             C, F, L, H, KVH, V, P);
    char n[128];
    tf_add(m, "model.embed_tokens.weight", 2, V, C);
    for (int l = 0; l < L; l++) {
#define LAYER(suffix, nd, a, b)                                          \
    do {                                                                 \
        snprintf(n, sizeof n, "model.layers.%d.%s", l, suffix);          \
        tf_add(m, n, nd, a, b);                                          \
    } while (0)
        LAYER("input_layernorm.weight", 1, C, 0);
        LAYER("self_attn.q_proj.weight", 2, H * D, C);
        LAYER("self_attn.k_proj.weight", 2, KVH * D, C);
        LAYER("self_attn.v_proj.weight", 2, KVH * D, C);
        LAYER("self_attn.o_proj.weight", 2, C, H * D);
        LAYER("post_attention_layernorm.weight", 1, C, 0);
        LAYER("mlp.gate_proj.weight", 2, F, C);
        LAYER("mlp.up_proj.weight", 2, F, C);
        LAYER("mlp.down_proj.weight", 2, C, F);
#undef LAYER
    }
    tf_add(m, "model.norm.weight", 1, C, 0);
    tf_add(m, "lm_head.weight", 2, V, C);
}

// Exact for normal values with at most 11 significant bits, and zero (the pattern's values).
static uint16_t to_f16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    uint32_t sign = (b >> 16) & 0x8000, ab = b & 0x7fffffffu;
    if (ab == 0) return (uint16_t)sign;
    int e = (int)(ab >> 23) - 127 + 15;
    return (uint16_t)(sign | ((uint32_t)e << 10) | ((ab & 0x7fffff) >> 13));
}

static const char *DT_NAMES[] = {"F32", "F16", "BF16", "I32"};
static const size_t DT_SIZES[] = {4, 2, 2, 4};

uint8_t *tf_st_image(const tf_model *m, const char *meta_json, size_t *len) {
    tf_buf h = {0}, d = {0};
    tf_printf(&h, "{");
    if (meta_json) tf_printf(&h, "\"__metadata__\":{%s}", meta_json);
    size_t off = 0;
    for (int i = 0; i < m->n; i++) {
        const tf_tensor *t = &m->t[i];
        int64_t n = tf_numel(t);
        size_t nb = (size_t)n * DT_SIZES[t->dtype];
        tf_printf(&h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", (meta_json || i) ? "," : "",
                  t->name, DT_NAMES[t->dtype]);
        for (int k = 0; k < t->ndim; k++)
            tf_printf(&h, "%s%lld", k ? "," : "", (long long)t->shape[k]);
        tf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        off += nb;
        for (int64_t k = 0; k < n; k++) {
            float v = t->values[k];
            uint32_t u;
            memcpy(&u, &v, 4);
            uint16_t s;
            switch (t->dtype) {
            case TF_F32: tf_put_f32(&d, v); break;
            case TF_F16:
                s = to_f16(v);
                tf_put(&d, &s, 2);
                break;
            case TF_BF16:
                s = (uint16_t)(u >> 16);
                tf_put(&d, &s, 2);
                break;
            default: tf_put_i32(&d, (int32_t)v); break;
            }
        }
    }
    tf_printf(&h, "}");
    while (h.len % 8) tf_put(&h, " ", 1);  // keeps F32 data 4-byte aligned in the file
    tf_put(&h, "", 1);
    uint8_t *img = tf_st_raw((const char *)h.data, d.data, d.len, len);
    tf_buf_free(&h);
    tf_buf_free(&d);
    return img;
}

int tf_write_folder(const tf_model *m, const char *dir) {
    if (tf_mkdir(dir)) return -1;
    char p[1024];
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (tf_write_text(p, m->config)) return -1;
    size_t len;
    uint8_t *img = tf_st_image(m, "\"format\":\"pt\"", &len);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    int rc = tf_write(p, img, len);
    free(img);
    return rc;
}

// ---- llama2.c ----

uint8_t *tf_llama2c(int dim, int hidden, int L, int H, int KVH, int V, int T, int shared,
                    size_t *len) {
    tf_buf b = {0};
    int32_t h[7] = {dim, hidden, L, H, KVH, shared ? V : -V, T};
    for (int i = 0; i < 7; i++) tf_put_i32(&b, h[i]);
    int64_t C = dim, F = hidden, D = dim / H, KV = (int64_t)KVH * D;
    int64_t floats = V * C + L * (C + C * C + 2 * C * KV + C * C + C + 3 * F * C) + C + T * D +
                     (shared ? 0 : V * C);
    for (int64_t i = 0; i < floats; i++) tf_put_f32(&b, tf_value(i, 3));
    *len = b.len;
    return b.data;
}

uint8_t *tf_tokenizer_bin(int32_t max_len, const char *const *pieces, int n, size_t *len) {
    tf_buf b = {0};
    tf_put_i32(&b, max_len);
    for (int i = 0; i < n; i++) {
        tf_put_f32(&b, (float)-i);
        tf_put_i32(&b, (int32_t)strlen(pieces[i]));
        tf_put(&b, pieces[i], strlen(pieces[i]));
    }
    *len = b.len;
    return b.data;
}

uint8_t *tf_tokenizer_llama(const char *const *extra, int n_extra, size_t *len) {
    int n = 3 + 256 + n_extra;
    const char **pieces = malloc(sizeof(char *) * (size_t)n);
    char(*bytes)[8] = malloc(256 * 8);
    if (!pieces || !bytes) abort();
    pieces[0] = "<unk>";
    pieces[1] = "\n<s>\n";
    pieces[2] = "\n</s>\n";
    for (int i = 0; i < 256; i++) {
        snprintf(bytes[i], 8, "<0x%02X>", i);
        pieces[3 + i] = bytes[i];
    }
    for (int i = 0; i < n_extra; i++) pieces[259 + i] = extra[i];
    int max_len = 6;
    for (int i = 0; i < n; i++)
        if ((int)strlen(pieces[i]) > max_len) max_len = (int)strlen(pieces[i]);
    // Scores: merged pieces later in the list score higher, as a BPE merge order would.
    tf_buf b = {0};
    tf_put_i32(&b, max_len);
    for (int i = 0; i < n; i++) {
        tf_put_f32(&b, i < 259 ? 0.0f : (float)(i - 259 + 1));
        tf_put_i32(&b, (int32_t)strlen(pieces[i]));
        tf_put(&b, pieces[i], strlen(pieces[i]));
    }
    free(pieces);
    free(bytes);
    *len = b.len;
    return b.data;
}

// ---- memory ----

static size_t g_cap, g_largest;

static void *cap_malloc(size_t n, void *user) {
    (void)user;
    if (n > g_largest) g_largest = n;
    return n > g_cap ? NULL : malloc(n);
}
static void *cap_realloc(void *p, size_t n, void *user) {
    (void)user;
    if (n > g_largest) g_largest = n;
    return n > g_cap ? NULL : realloc(p, n);
}
static void cap_free(void *p, void *user) {
    (void)user;
    free(p);
}

void tf_alloc_cap(size_t limit) {
    g_cap = limit;
    g_largest = 0;
    if (limit) {
        cf_allocator a = {cap_malloc, cap_realloc, cap_free, NULL};
        cf_set_allocator(&a);
    } else {
        cf_set_allocator(NULL);
    }
}

size_t tf_alloc_largest(void) { return g_largest; }

int tf_leak_check(void) {
#ifdef TF_HAVE_LSAN
    return __lsan_do_recoverable_leak_check();
#else
    return 0;
#endif
}

cf_ctx *tf_ctx(void) {
    cf_ctx_params p = cf_ctx_default_params();
    p.n_threads = 1;
    cf_ctx *ctx = NULL;
    if (cf_ctx_create(&p, &ctx) != CF_OK) {
        fprintf(stderr, "  cannot create a context\n");
        abort();
    }
    return ctx;
}
