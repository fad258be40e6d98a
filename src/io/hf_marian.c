// Hugging Face MarianMTModel folders (OPUS-MT): config.json + model.safetensors, read and written
// with transformers' tensor names and conventions, so the published models run unchanged.
//
//   config.json field            cformer
//   d_model                      n_embd
//   encoder_layers / decoder_    n_layers / n_dec_layers
//   encoder_attention_heads      n_heads (decoder_attention_heads must match)
//   encoder_ffn_dim              n_ff (decoder_ffn_dim must match)
//   activation_function          act ("swish"/"silu", "gelu", "gelu_new", "relu")
//   max_position_embeddings      n_ctx
//   vocab_size, decoder_vocab_   the source and target vocabularies (shared when equal and
//     size, share_encoder_         share_encoder_decoder_embeddings is not false)
//     decoder_embeddings
//   scale_embedding              scale_embedding (x sqrt(d_model))
//   pad/eos/bos_token_id,        pad_id, eos_id, bos_id, decoder_start_id
//     decoder_start_token_id
//   tie_word_embeddings          tie_embeddings (default true)
// Fixed by the architecture: post-norm LayerNorm (eps 1e-5) without final norms (transformers
// ignores normalize_before for Marian), biases everywhere, sinusoidal positions from 0 with the
// sines in the first half of each row and the cosines in the second (sinus_split), and the
// logits bias final_logits_bias (1, V).
//
//   tensor (per block l)                                   cformer
//   model.shared.weight (V, C)                             tok_embeddings (shared vocabulary;
//     also accepted: model.{encoder,decoder}.embed_tokens    the lm_head is tied to it)
//   model.encoder.embed_tokens.weight (V_src, C)           src_tok_embeddings (separate)
//   model.decoder.embed_tokens.weight (V, C)               tok_embeddings (separate)
//   model.{encoder,decoder}.embed_positions.weight         not loaded (computed); written
//   model.encoder.layers.l.self_attn.{q,k,v,out}_proj      layers.l.attn.{wq,wk,wv,wo}, b*
//   model.encoder.layers.l.self_attn_layer_norm            layers.l.norm1
//   model.encoder.layers.l.fc1 / fc2                       layers.l.mlp.w_up / w_down, b_*
//   model.encoder.layers.l.final_layer_norm                layers.l.norm2
//   model.decoder.layers.l.self_attn.*, self_attn_layer_norm, fc1, fc2, final_layer_norm
//                                                          dec_layers.l.* as above
//   model.decoder.layers.l.encoder_attn.{q,k,v,out}_proj   dec_layers.l.cross.{wq,wk,wv,wo}
//   model.decoder.layers.l.encoder_attn_layer_norm         dec_layers.l.norm_cross
//   final_logits_bias (1, V)                               logits_bias
//   lm_head.weight (V, C)                                  lm_head (only when untied)
//
// Not here: the tokenizers (source.spm / target.spm / vocab.json).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../models/model_internal.h"
#include "cformer/seq2seq.h"
#include "hf_marian.h"
#include "load.h"

static bool get_i32(cf_ctx *ctx, const char *path, const cJSON *o, const char *key, int32_t *v,
                    cf_status *st) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return true;
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= -1.0 && j->valuedouble <= 2147483647.0) ||
        j->valuedouble != floor(j->valuedouble)) {
        *st = CF_FORMAT_ERR(ctx, "%s: field '%s' is not an integer in range", path, key);
        return false;
    }
    *v = (int32_t)j->valuedouble;
    return true;
}

cf_status cf__hf_marian_config(cf_ctx *ctx, const char *path, const cJSON *o, cf_config *c) {
    cf_status st = CF_OK;
    *c = cf_config_marian();
    int32_t dec_heads = -1, dec_ff = -1, dec_vocab = -1, share = 1;
    if (!get_i32(ctx, path, o, "d_model", &c->n_embd, &st) ||
        !get_i32(ctx, path, o, "encoder_layers", &c->n_layers, &st) ||
        !get_i32(ctx, path, o, "decoder_layers", &c->n_dec_layers, &st) ||
        !get_i32(ctx, path, o, "encoder_attention_heads", &c->n_heads, &st) ||
        !get_i32(ctx, path, o, "decoder_attention_heads", &dec_heads, &st) ||
        !get_i32(ctx, path, o, "encoder_ffn_dim", &c->n_ff, &st) ||
        !get_i32(ctx, path, o, "decoder_ffn_dim", &dec_ff, &st) ||
        !get_i32(ctx, path, o, "max_position_embeddings", &c->n_ctx, &st) ||
        !get_i32(ctx, path, o, "vocab_size", &c->vocab_size, &st) ||
        !get_i32(ctx, path, o, "decoder_vocab_size", &dec_vocab, &st) ||
        !cf__json_bool(ctx, path, o, "share_encoder_decoder_embeddings", &share, &st) ||
        !cf__json_bool(ctx, path, o, "scale_embedding", &c->scale_embedding, &st) ||
        !cf__json_bool(ctx, path, o, "tie_word_embeddings", &c->tie_embeddings, &st) ||
        !get_i32(ctx, path, o, "pad_token_id", &c->pad_id, &st) ||
        !get_i32(ctx, path, o, "eos_token_id", &c->eos_id, &st) ||
        !get_i32(ctx, path, o, "bos_token_id", &c->bos_id, &st) ||
        !get_i32(ctx, path, o, "decoder_start_token_id", &c->decoder_start_id, &st))
        return st;
    c->n_kv_heads = c->n_heads;
    c->head_dim = 0;
    if (dec_heads >= 0 && dec_heads != c->n_heads)
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: decoder_attention_heads %d differs from "
                      "encoder_attention_heads %d", path, dec_heads, c->n_heads);
    if (dec_ff >= 0 && dec_ff != c->n_ff)
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: decoder_ffn_dim %d differs from "
                      "encoder_ffn_dim %d", path, dec_ff, c->n_ff);
    if (!share || (dec_vocab > 0 && dec_vocab != c->vocab_size)) {
        // Separate vocabularies: vocab_size is the source's, the logits are the target's.
        c->src_vocab_size = c->vocab_size;
        if (dec_vocab > 0) c->vocab_size = dec_vocab;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "activation_function");
    if (act && cJSON_IsString(act)) {
        const char *a = act->valuestring;
        if (!strcmp(a, "swish") || !strcmp(a, "silu")) c->act = CF_ACT_SILU;
        else if (!strcmp(a, "gelu")) c->act = CF_ACT_GELU;
        else if (!strcmp(a, "gelu_new") || !strcmp(a, "gelu_pytorch_tanh")) c->act = CF_ACT_GELU_TANH;
        else if (!strcmp(a, "relu")) c->act = CF_ACT_RELU;
        else return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: activation_function '%.40s'", path, a);
    }
    if (c->decoder_start_id < 0) c->decoder_start_id = c->pad_id;
    return CF_OK;
}

bool cf__hf_marian_fits(const cf_config *c) {
    return c->n_dec_layers > 0 && c->norm == CF_NORM_LAYERNORM && !c->pre_norm &&
           !c->final_norm && c->pos == CF_POS_SINUSOIDAL && c->sinus_split && c->attn_bias &&
           c->mlp_bias && c->logits_bias && c->n_kv_heads == c->n_heads &&
           c->head_dim * c->n_heads == c->n_embd && c->norm_eps == 1e-5f &&
           (c->act == CF_ACT_SILU || c->act == CF_ACT_GELU || c->act == CF_ACT_GELU_TANH ||
            c->act == CF_ACT_RELU);
}

// ---- names ----

typedef struct rule {
    const char *ours, *theirs;
} rule;

static const rule BLOCK[] = {
    {"attn.wq", "self_attn.q_proj.weight"},      {"attn.bq", "self_attn.q_proj.bias"},
    {"attn.wk", "self_attn.k_proj.weight"},      {"attn.bk", "self_attn.k_proj.bias"},
    {"attn.wv", "self_attn.v_proj.weight"},      {"attn.bv", "self_attn.v_proj.bias"},
    {"attn.wo", "self_attn.out_proj.weight"},    {"attn.bo", "self_attn.out_proj.bias"},
    {"norm1.weight", "self_attn_layer_norm.weight"},
    {"norm1.bias", "self_attn_layer_norm.bias"},
    {"cross.wq", "encoder_attn.q_proj.weight"},  {"cross.bq", "encoder_attn.q_proj.bias"},
    {"cross.wk", "encoder_attn.k_proj.weight"},  {"cross.bk", "encoder_attn.k_proj.bias"},
    {"cross.wv", "encoder_attn.v_proj.weight"},  {"cross.bv", "encoder_attn.v_proj.bias"},
    {"cross.wo", "encoder_attn.out_proj.weight"}, {"cross.bo", "encoder_attn.out_proj.bias"},
    {"norm_cross.weight", "encoder_attn_layer_norm.weight"},
    {"norm_cross.bias", "encoder_attn_layer_norm.bias"},
    {"mlp.w_up", "fc1.weight"},                  {"mlp.b_up", "fc1.bias"},
    {"mlp.w_down", "fc2.weight"},                {"mlp.b_down", "fc2.bias"},
    {"norm2.weight", "final_layer_norm.weight"}, {"norm2.bias", "final_layer_norm.bias"},
    {NULL, NULL},
};

// The Marian name of one of our parameters, and up to 3 alternatives the file may use instead.
static int marian_names(const cf_config *c, const char *ours, char names[4][160]) {
    int l, used = 0;
    const char *side = NULL;
    if (sscanf(ours, "layers.%d.%n", &l, &used) == 1 && used > 0) side = "encoder";
    else if (sscanf(ours, "dec_layers.%d.%n", &l, &used) == 1 && used > 0) side = "decoder";
    if (side) {
        for (const rule *r = BLOCK; r->ours; r++)
            if (!strcmp(r->ours, ours + used)) {
                snprintf(names[0], 160, "model.%s.layers.%d.%s", side, l, r->theirs);
                return 1;
            }
        return 0;
    }
    if (!strcmp(ours, "tok_embeddings")) {
        if (c->src_vocab_size > 0) {
            snprintf(names[0], 160, "model.decoder.embed_tokens.weight");
            snprintf(names[1], 160, "lm_head.weight");
            return 2;
        }
        snprintf(names[0], 160, "model.shared.weight");
        snprintf(names[1], 160, "model.encoder.embed_tokens.weight");
        snprintf(names[2], 160, "model.decoder.embed_tokens.weight");
        snprintf(names[3], 160, "lm_head.weight");
        return 4;
    }
    if (!strcmp(ours, "src_tok_embeddings")) {
        snprintf(names[0], 160, "model.encoder.embed_tokens.weight");
        return 1;
    }
    if (!strcmp(ours, "logits_bias")) {
        snprintf(names[0], 160, "final_logits_bias");
        return 1;
    }
    if (!strcmp(ours, "lm_head")) {
        snprintf(names[0], 160, "lm_head.weight");
        return 1;
    }
    return 0;
}

cf_status cf__hf_marian_load_weights(cf_model *m, cf_safetensors *st) {
    cf_ctx *ctx = m->ctx;
    CF_TRY(cf__model_alloc_slab(m));
    for (int i = 0; i < m->n_params; i++) {
        cf_param *p = &m->params[i];
        char names[4][160];
        int n = marian_names(&m->cfg, p->name, names);
        if (n == 0)
            return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: no Marian tensor for '%s'", st->path,
                          p->name);
        const cf_st_tensor *t = NULL;
        for (int k = 0; k < n && !t; k++) t = cf__st_find(st, names[k]);
        if (!t) return CF_FORMAT_ERR(ctx, "%s: missing tensor '%s'", st->path, names[0]);
        cf_weight *w = p->w;
        // Matrices are (rows, cols); vectors (n) or, for final_logits_bias, (1, n).
        bool ok = w->rows == 1 ? (t->ndim == 1 && t->shape[0] == w->cols) ||
                                     (t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == w->cols)
                               : t->ndim == 2 && t->shape[0] == w->rows && t->shape[1] == w->cols;
        if (!ok)
            return CF_FORMAT_ERR(ctx, "%s: tensor '%s' has %d dims [%lld, ...], expected (%lld, "
                                 "%lld)", st->path, t->name, t->ndim, (long long)t->shape[0],
                                 (long long)w->rows, (long long)w->cols);
        if (t->dtype != CF_DT_F32 && t->dtype != CF_DT_F16 && t->dtype != CF_DT_BF16 &&
            t->dtype != CF_DT_F64)
            return CF_FORMAT_ERR(ctx, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16",
                                 st->path, t->name, cf__dtype_name(t->dtype));
        CF_TRY(cf__st_to_f32(ctx, st, t, w->data));
    }
    return CF_OK;
}

// ---- save ----

static cJSON *marian_config_json(const cf_model *m) {
    const cf_config *c = &m->cfg;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("MarianMTModel"));
    cJSON_AddStringToObject(o, "model_type", "marian");
    const char *act = c->act == CF_ACT_SILU ? "swish" : c->act == CF_ACT_GELU ? "gelu"
                      : c->act == CF_ACT_GELU_TANH ? "gelu_new" : "relu";
    cJSON_AddStringToObject(o, "activation_function", act);
    cJSON_AddNumberToObject(o, "d_model", c->n_embd);
    cJSON_AddNumberToObject(o, "encoder_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "decoder_layers", c->n_dec_layers);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "encoder_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "decoder_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "encoder_ffn_dim", c->n_ff);
    cJSON_AddNumberToObject(o, "decoder_ffn_dim", c->n_ff);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->n_ctx);
    int32_t vs = c->src_vocab_size > 0 ? c->src_vocab_size : c->vocab_size;
    cJSON_AddNumberToObject(o, "vocab_size", vs);
    cJSON_AddNumberToObject(o, "decoder_vocab_size", c->vocab_size);
    cJSON_AddBoolToObject(o, "share_encoder_decoder_embeddings", c->src_vocab_size == 0);
    cJSON_AddBoolToObject(o, "scale_embedding", c->scale_embedding);
    cJSON_AddBoolToObject(o, "normalize_before", 0);
    cJSON_AddBoolToObject(o, "static_position_embeddings", 1);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_embeddings);
    cJSON_AddBoolToObject(o, "is_encoder_decoder", 1);
    cJSON_AddNumberToObject(o, "pad_token_id", c->pad_id);
    cJSON_AddNumberToObject(o, "eos_token_id", c->eos_id);
    cJSON_AddNumberToObject(o, "forced_eos_token_id", c->eos_id);
    cJSON_AddNumberToObject(o, "bos_token_id", c->bos_id >= 0 ? c->bos_id : c->eos_id);
    cJSON_AddNumberToObject(o, "decoder_start_token_id", c->decoder_start_id);
    if (c->pad_id >= 0) {
        cJSON *bw = cJSON_AddArrayToObject(o, "bad_words_ids"), *one = cJSON_CreateArray();
        cJSON_AddItemToArray(one, cJSON_CreateNumber(c->pad_id));
        cJSON_AddItemToArray(bw, one);
    }
    cJSON_AddNumberToObject(o, "dropout", 0);
    cJSON_AddNumberToObject(o, "attention_dropout", 0);
    cJSON_AddNumberToObject(o, "activation_dropout", 0);
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    return o;
}

cf_status cf__hf_marian_save(cf_model *m, const char *dir) {
    cf_ctx *ctx = m->ctx;
    const cf_config *c = &m->cfg;
    CF_TRY(cf__mkdir_p(ctx, dir));
    int n = 0, cap = m->n_params + 2;
    cf_st_entry *e = cf__calloc((size_t)cap, sizeof *e);
    char (*names)[160] = cf__calloc((size_t)cap, sizeof *names);
    float **bufs = cf__calloc((size_t)cap, sizeof *bufs);
    cJSON *cj = NULL;
    char *text = NULL, *cfg_path = NULL, *st_path = NULL;
    cf_status s = CF_OK;
    if (!e || !names || !bufs) goto oom;
    for (int i = 0; i < m->n_params; i++) {
        const cf_param *p = &m->params[i];
        const cf_weight *w = p->w;
        char alt[4][160];
        if (marian_names(c, p->name, alt) == 0) {
            s = CF_ERR(ctx, CF_ERR_INTERNAL, "no Marian name for %s", p->name);
            goto done;
        }
        memcpy(names[n], alt[0], sizeof names[n]);
        bufs[n] = cf__malloc((size_t)(w->rows * w->cols) * sizeof(float));
        if (!bufs[n]) goto oom;
        for (int64_t r = 0; r < w->rows; r++)
            for (int64_t k = 0; k < w->cols; k++)
                bufs[n][r * w->cols + k] = w->trans ? w->data[k * w->ld + r] : w->data[r * w->ld + k];
        bool logits = !strcmp(p->name, "logits_bias");
        e[n] = (cf_st_entry){names[n], CF_DT_F32, w->rows == 1 && !logits ? 1 : 2,
                             {w->rows == 1 && !logits ? w->cols : w->rows, w->cols}, bufs[n]};
        n++;
    }
    // The fixed position tables, as transformers saves them.
    if ((s = cf__model_positions(m, c->n_ctx)) != CF_OK) goto done;
    for (int side = 0; side < 2; side++) {
        snprintf(names[n], sizeof names[n], "model.%s.embed_positions.weight",
                 side ? "decoder" : "encoder");
        e[n] = (cf_st_entry){names[n], CF_DT_F32, 2, {c->n_ctx, c->n_embd}, m->sinus};
        n++;
    }
    cj = marian_config_json(m);
    text = cj ? cJSON_Print(cj) : NULL;
    cfg_path = cf__path_join(dir, "config.json");
    st_path = cf__path_join(dir, "model.safetensors");
    if (!text || !cfg_path || !st_path) goto oom;
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    if ((s = cf__st_write(ctx, st_path, e, n, mk, mv, 1)) != CF_OK) goto done;
    {
        const void *chunk[2] = {text, "\n"};
        size_t lens[2] = {strlen(text), 1};
        s = cf__write_atomic(ctx, cfg_path, chunk, lens, 2);
    }
    goto done;
oom:
    s = CF_NOMEM(ctx);
done:
    if (bufs)
        for (int i = 0; i < cap; i++) cf__free(bufs[i]);
    cf__free(bufs);
    cf__free(e);
    cf__free(names);
    cJSON_Delete(cj);
    free(text);
    cf__free(cfg_path);
    cf__free(st_path);
    return s;
}
