// Fuzzes the Hugging Face config.json parser (cf__hf_config_parse). An accepted config must be
// finished and consistent, must survive cformer's own JSON form unchanged (what cf_model_save
// writes and the loader reads back), and must allocate a model skeleton without trouble.
#include <cJSON.h>
#include <string.h>

#include "../../src/io/load.h"                // defines: cf__hf_config_parse, cf__config_*_json
#include "../../src/models/model_internal.h"  // defines: cf__model_alloc
#include "fuzz_common.h"

static void check_finished(const cf_config *c) {
    FUZZ_CHECK(c->n_layers >= 1 && c->n_embd >= 1 && c->n_heads >= 1 && c->n_kv_heads >= 1);
    FUZZ_CHECK(c->n_heads % c->n_kv_heads == 0);
    FUZZ_CHECK(c->head_dim >= 1 && c->n_ff >= 1 && c->vocab_size >= 1 && c->n_ctx >= 1);
    FUZZ_CHECK(c->pos != CF_POS_ROPE || c->head_dim % 2 == 0);
    FUZZ_CHECK(c->bos_id >= -1 && c->bos_id < c->vocab_size);
    FUZZ_CHECK(c->eos_id >= -1 && c->eos_id < c->vocab_size);
    FUZZ_CHECK(c->norm_eps > 0.0f && c->norm_eps <= 1.0f);
}

#define SAME(f) FUZZ_CHECK(memcmp(&a->f, &b->f, sizeof a->f) == 0)

static void check_same(const cf_config *a, const cf_config *b) {
    SAME(family); SAME(n_layers); SAME(n_embd); SAME(n_heads); SAME(n_kv_heads);
    SAME(head_dim); SAME(n_ff); SAME(vocab_size); SAME(n_ctx); SAME(norm); SAME(pre_norm);
    SAME(final_norm); SAME(norm_eps); SAME(pos); SAME(rope_theta); SAME(rope_style); SAME(act);
    SAME(attn_bias); SAME(mlp_bias); SAME(tie_embeddings); SAME(causal); SAME(bos_id);
    SAME(eos_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    cf_config cfg;
    cf_family fam;
    const char *src = NULL;
    cf_status s = cf__hf_config_parse(ctx, "config.json", (const char *)data, size, &cfg, &fam,
                                      &src);
    if (s != CF_OK) {
        FUZZ_CHECK(s == CF_ERR_FORMAT || s == CF_ERR_UNSUPPORTED || s == CF_ERR_NOMEM);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), "config.json") != NULL);
        return 0;
    }
    FUZZ_CHECK(src != NULL && (unsigned)fam <= CF_FAMILY_MARIAN);
    check_finished(&cfg);
    // Round trip through cformer's own config object.
    cJSON *j = cf__config_to_json(&cfg);
    FUZZ_CHECK(j != NULL);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    FUZZ_CHECK(text != NULL);
    cJSON *k = cJSON_Parse(text);
    free(text);
    FUZZ_CHECK(k != NULL);
    cf_config back = cf_config_gpt2();
    FUZZ_CHECK(cf__config_from_json(ctx, "roundtrip", k, &back) == CF_OK);
    cJSON_Delete(k);
    FUZZ_CHECK(cf_config_finish(ctx, &back) == CF_OK);
    check_same(&cfg, &back);
    cf_model *m = NULL;
    s = cf__model_alloc(ctx, &cfg, &m);
    FUZZ_CHECK(s == CF_OK || s == CF_ERR_NOMEM);
    cf_model_free(m);
    return 0;
}
