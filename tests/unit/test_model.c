// Model objects: config validation, creation, parameter counts, and save/load round trips in
// the Hugging Face layouts (GPT-2 Conv1D with fused c_attn, Llama, cformer's generic names),
// with zero-copy mapping where the layout allows.
#include <cJSON.h>
#include <stdlib.h>

#include "../../src/io/io.h"
#include "../../src/models/model_internal.h"
#include "../test.h"

static cf_ctx *mkctx(void) {
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    return ctx;
}

static cf_config tiny_gpt2(void) {
    cf_config c = cf_config_gpt2();
    c.n_layers = 2, c.n_embd = 16, c.n_heads = 4, c.n_kv_heads = 4, c.head_dim = 4, c.n_ff = 32;
    c.vocab_size = 23, c.n_ctx = 32;
    return c;
}

static cf_config tiny_llama(void) {
    cf_config c = cf_config_llama();
    c.n_layers = 2, c.n_embd = 16, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 4, c.n_ff = 24;
    c.vocab_size = 23, c.n_ctx = 32;
    return c;
}

static void test_config_validation(void) {
    cf_ctx *ctx = mkctx();
    cf_config c = tiny_gpt2();
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_OK);
    c = tiny_gpt2();
    c.n_kv_heads = 3;  // 4 heads are not a multiple of 3
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "n_kv_heads");
    c = tiny_gpt2();
    c.head_dim = 0, c.n_embd = 18;  // 18 / 4 heads
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "multiple of n_heads");
    c = tiny_llama();
    c.head_dim = 5;
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "even");
    c = tiny_gpt2();
    c.vocab_size = 0;
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG);
    c = tiny_gpt2();
    c.n_layers = 100000;
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG);
    c = tiny_gpt2();
    c.n_embd = 1 << 20, c.n_ff = 1 << 20, c.n_heads = 1, c.head_dim = 0, c.n_layers = 1000;
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG);  // ~1e15 parameters
    c = tiny_gpt2();
    c.norm_eps = 0;
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG);
    c = tiny_gpt2();
    c.eos_id = 23;
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_ERR_INVALID_ARG);
    // Odd head counts and non-power-of-two widths are fine.
    c = tiny_gpt2();
    c.n_heads = 3, c.n_kv_heads = 3, c.n_embd = 15, c.head_dim = 0;
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_OK);
    CF_CHECK_EQ(c.head_dim, 5);
    cf_ctx_free(ctx);
}

static void test_param_count(void) {
    cf_ctx *ctx = mkctx();
    cf_config c = cf_config_gpt2();  // GPT-2 small: 124,439,808 parameters
    c.n_kv_heads = 0, c.head_dim = 0;
    cf_model *m;
    CF_CHECK_STATUS(cf__model_alloc(ctx, (cf_config_finish(ctx, &c), &c), &m), CF_OK);
    CF_CHECK_EQ(cf_model_n_params(m), 124439808);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

static void forward(cf_model *m, const int32_t *tok, int T, float *out) {
    CF_CHECK_STATUS(cf_model_forward(m, tok, 1, T, out), CF_OK);
}

static void roundtrip(cf_config cfg, const char *expect_source, bool expect_mapped) {
    cf_ctx *ctx = mkctx();
    cf_model *m, *m2;
    CF_CHECK_STATUS(cf_model_create(ctx, &cfg, 5, &m), CF_OK);
    cf_rng r;
    cf__rng_seed(&r, 6);
    for (int i = 0; i < m->n_params; i++) {
        cf_weight *w = m->params[i].w;
        for (int64_t k = 0; k < cf__weight_numel(w); k++) w->data[k] += 0.1f * cf__rng_normal(&r);
    }
    const char *dir = cf_test_tmpdir();
    CF_CHECK_STATUS(cf_model_save(m, dir), CF_OK);
    if (strcmp(expect_source, "cformer")) {
        // Drop cformer's own "cformer" object so the file is read as any HF checkpoint is.
        char path[1024], *text;
        snprintf(path, sizeof path, "%s/config.json", dir);
        CF_CHECK_STATUS(cf__file_read(ctx, path, 1 << 20, &text, NULL), CF_OK);
        cJSON *j = cJSON_Parse(text);
        CF_CHECK(cJSON_GetObjectItem(j, "cformer") != NULL);
        cJSON_DeleteItemFromObject(j, "cformer");
        char *out = cJSON_Print(j);
        FILE *f = fopen(path, "w");
        fputs(out, f);
        fclose(f);
        free(out);
        cJSON_Delete(j);
        cf__free(text);
    }
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &m2), CF_OK);
    if (!m2) return;
    CF_CHECK(!strcmp(cf_model_source(m2), expect_source));
    CF_CHECK_EQ(cf_model_is_mapped(m2), expect_mapped);
    CF_CHECK_EQ(cf_model_n_params(m2), cf_model_n_params(m));
    int32_t tok[9] = {1, 5, 22, 0, 7, 7, 3, 19, 2};
    int64_t V = cfg.vocab_size;
    float *a = malloc(sizeof(float) * (size_t)(9 * V)), *b = malloc(sizeof(float) * (size_t)(9 * V));
    forward(m, tok, 9, a);
    forward(m2, tok, 9, b);
    CF_CHECK(memcmp(a, b, sizeof(float) * (size_t)(9 * V)) == 0);  // identical weights
    // A mapped model becomes writable (a compact copy) for training.
    CF_CHECK_STATUS(cf__model_make_writable(m2), CF_OK);
    CF_CHECK_EQ(cf_model_is_mapped(m2), 0);
    forward(m2, tok, 9, b);
    CF_CHECK(memcmp(a, b, sizeof(float) * (size_t)(9 * V)) == 0);
    free(a);
    free(b);
    cf_model_free(m);
    cf_model_free(m2);
    cf_ctx_free(ctx);
}

static void test_save_load_gpt2(void) { roundtrip(tiny_gpt2(), "hf-gpt2", true); }
static void test_save_load_llama(void) { roundtrip(tiny_llama(), "hf-llama", true); }

static void test_save_load_generic(void) {
    cf_config c = tiny_llama();
    c.rope_style = CF_ROPE_INTERLEAVED;  // not expressible as HF Llama: saved with cformer names
    roundtrip(c, "cformer", true);
    cf_config e = tiny_gpt2();
    e.family = CF_FAMILY_GENERIC, e.pre_norm = 0, e.final_norm = 0, e.causal = 0;
    e.pos = CF_POS_SINUSOIDAL, e.act = CF_ACT_GELU;
    roundtrip(e, "cformer", true);
}

// The GPT-2 file really is in the HF layout: c_attn fused, Conv1D (in, out) orientation.
static void test_gpt2_layout(void) {
    cf_ctx *ctx = mkctx();
    cf_config cfg = tiny_gpt2();
    cf_model *m;
    CF_CHECK_STATUS(cf_model_create(ctx, &cfg, 5, &m), CF_OK);
    const char *dir = cf_test_tmpdir();
    CF_CHECK_STATUS(cf_model_save(m, dir), CF_OK);
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cf_safetensors st;
    CF_CHECK_STATUS(cf__st_open(ctx, path, &st), CF_OK);
    const cf_st_tensor *t = cf__st_find(&st, "transformer.h.1.attn.c_attn.weight");
    CF_CHECK(t && t->ndim == 2 && t->shape[0] == 16 && t->shape[1] == 48);
    const cf_st_tensor *fc = cf__st_find(&st, "transformer.h.0.mlp.c_fc.weight");
    CF_CHECK(fc && fc->shape[0] == 16 && fc->shape[1] == 32);
    CF_CHECK(cf__st_find(&st, "lm_head.weight") == NULL);  // tied, as transformers saves it
    CF_CHECK(cf__st_find(&st, "transformer.wpe.weight") != NULL);
    if (t) {
        // element (in=i, out=j) of the k slice equals w{q,k,v}[j][i]
        const float *d = (const float *)(const void *)t->data;
        const cf_layer *y = &m->layers[1];
        CF_CHECK(d[3 * 48 + 5] == y->wq.data[5 * 16 + 3]);
        CF_CHECK(d[3 * 48 + 16 + 5] == y->wk.data[5 * 16 + 3]);
        CF_CHECK(d[2 * 48 + 32 + 7] == y->wv.data[7 * 16 + 2]);
    }
    cf__st_close(&st);
    char *cfgtext;
    snprintf(path, sizeof path, "%s/config.json", dir);
    CF_CHECK_STATUS(cf__file_read(ctx, path, 1 << 20, &cfgtext, NULL), CF_OK);
    CF_CHECK_STR_CONTAINS(cfgtext, "\"GPT2LMHeadModel\"");
    CF_CHECK_STR_CONTAINS(cfgtext, "\"n_inner\"");
    cf__free(cfgtext);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

static void test_memory_info(void) {
    cf_ctx *ctx = mkctx();
    cf_config cfg = tiny_gpt2();
    cf_model *m;
    CF_CHECK_STATUS(cf_model_create(ctx, &cfg, 5, &m), CF_OK);
    cf_memory_info mi;
    CF_CHECK_STATUS(cf_model_memory(m, 0, 8, 2, 16, &mi), CF_OK);
    CF_CHECK_EQ(mi.weight_bytes, cf_model_n_params(m) * 4);
    CF_CHECK_EQ(mi.kv_bytes, 2 * 2 * 32 * 16 * 4);
    CF_CHECK(mi.activation_bytes > 0);
    CF_CHECK(mi.train_bytes > 4 * mi.weight_bytes);
    cf_model_free(m);
    // Inference keeps one block's activations at a time: six blocks plan about what two do
    // (training, which needs them all for backward, grows with depth).
    cf_memory_info by_depth[2];
    int depth[2] = {2, 6};
    for (int i = 0; i < 2; i++) {
        cfg.n_layers = depth[i];
        CF_CHECK_STATUS(cf_model_create(ctx, &cfg, 5, &m), CF_OK);
        CF_CHECK_STATUS(cf_model_memory(m, 0, 8, 2, 16, &by_depth[i]), CF_OK);
        cf_model_free(m);
    }
    CF_CHECK(by_depth[1].activation_bytes < by_depth[0].activation_bytes * 5 / 4);
    CF_CHECK(by_depth[1].train_bytes - by_depth[1].weight_bytes * 4 >
             2 * (by_depth[0].train_bytes - by_depth[0].weight_bytes * 4));
    cf_ctx_free(ctx);
}

const cf_test tests_model[] = {
    {"model/config_validation", test_config_validation},
    {"model/param_count_gpt2_124m", test_param_count},
    {"model/save_load_gpt2", test_save_load_gpt2},
    {"model/save_load_llama", test_save_load_llama},
    {"model/save_load_generic", test_save_load_generic},
    {"model/gpt2_hf_layout", test_gpt2_layout},
    {"model/memory_info", test_memory_info},
    {NULL, NULL},
};
