// Hugging Face checkpoint folders: config.json + model.safetensors, read and written with the
// tensor names and conventions of transformers' GPT2LMHeadModel (Conv1D weights stored (in, out),
// q/k/v fused in c_attn, tied lm_head) and LlamaForCausalLM (q/k/v/o_proj, gate/up/down_proj,
// RMSNorm, rotate-half RoPE). Other combinations of options are saved with cformer's own names
// and model_type "cformer". Every config.json we write also carries a "cformer" object with the
// full cf_config, so a round trip is exact.
//
// F32 weights whose layout allows it stay in the memory-mapped file: a Conv1D weight becomes a
// transposed view, a slice of c_attn a strided view. Other dtypes are converted to F32.
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../models/model_internal.h"
#include "hf_bert.h"
#include "hf_marian.h"
#include "io.h"
#include "load.h"

// ---- cf_config <-> JSON (cformer's own field names) ----

static const char *NORMS[] = {"layernorm", "rmsnorm"};
static const char *POSS[] = {"none", "learned", "sinusoidal", "rope"};
static const char *ACTS[] = {"gelu", "gelu_tanh", "relu", "swiglu", "silu", "geglu"};
static const char *ROPES[] = {"half", "interleaved"};
static const char *FAMILIES[] = {"generic", "gpt2", "llama", "bert", "roberta", "distilbert",
                                 "marian"};

static const char *enum_name(const char *const *names, int n, int v) {
    return v >= 0 && v < n ? names[v] : "?";
}
static int enum_parse(const char *const *names, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

#define NAMES(a) a, (int)(sizeof a / sizeof *a)

const char *cf__norm_name(int v) { return enum_name(NAMES(NORMS), v); }
const char *cf__pos_name(int v) { return enum_name(NAMES(POSS), v); }
const char *cf__act_name(int v) { return enum_name(NAMES(ACTS), v); }
const char *cf__rope_name(int v) { return enum_name(NAMES(ROPES), v); }
const char *cf__family_name(int v) { return enum_name(NAMES(FAMILIES), v); }
int cf__norm_parse(const char *s) { return enum_parse(NAMES(NORMS), s); }
int cf__pos_parse(const char *s) { return enum_parse(NAMES(POSS), s); }
int cf__act_parse(const char *s) { return enum_parse(NAMES(ACTS), s); }
int cf__rope_parse(const char *s) { return enum_parse(NAMES(ROPES), s); }
int cf__family_parse(const char *s) { return enum_parse(NAMES(FAMILIES), s); }

// A float32 as the shortest decimal that reads back to the same float (1e-05, not
// 9.99999974737875e-06), so config.json files look as people write them.
static double f32_decimal(float f) {
    char buf[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if ((float)strtod(buf, NULL) == f) break;
    }
    return strtod(buf, NULL);
}

cJSON *cf__config_to_json(const cf_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "family", cf__family_name(c->family));
    cJSON_AddNumberToObject(o, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "n_embd", c->n_embd);
    cJSON_AddNumberToObject(o, "n_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "n_kv_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "n_ff", c->n_ff);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "n_ctx", c->n_ctx);
    cJSON_AddStringToObject(o, "norm", cf__norm_name(c->norm));
    cJSON_AddBoolToObject(o, "pre_norm", c->pre_norm);
    cJSON_AddBoolToObject(o, "final_norm", c->final_norm);
    cJSON_AddNumberToObject(o, "norm_eps", f32_decimal(c->norm_eps));
    cJSON_AddStringToObject(o, "pos", cf__pos_name(c->pos));
    cJSON_AddNumberToObject(o, "rope_theta", f32_decimal(c->rope_theta));
    cJSON_AddStringToObject(o, "rope_style", cf__rope_name(c->rope_style));
    cJSON_AddStringToObject(o, "act", cf__act_name(c->act));
    cJSON_AddBoolToObject(o, "attn_bias", c->attn_bias);
    cJSON_AddBoolToObject(o, "mlp_bias", c->mlp_bias);
    cJSON_AddBoolToObject(o, "tie_embeddings", c->tie_embeddings);
    cJSON_AddBoolToObject(o, "causal", c->causal);
    cJSON_AddNumberToObject(o, "bos_id", c->bos_id);
    cJSON_AddNumberToObject(o, "eos_id", c->eos_id);
    // Encoder fields only when used, so decoder configs read exactly as before.
    if (c->type_vocab_size) cJSON_AddNumberToObject(o, "type_vocab_size", c->type_vocab_size);
    if (c->embd_norm) cJSON_AddBoolToObject(o, "embd_norm", c->embd_norm);
    if (c->pad_id != -1) cJSON_AddNumberToObject(o, "pad_id", c->pad_id);
    if (c->pos_offset) cJSON_AddNumberToObject(o, "pos_offset", c->pos_offset);
    if (c->heads) cJSON_AddNumberToObject(o, "heads", c->heads);
    if (c->n_labels) cJSON_AddNumberToObject(o, "n_labels", c->n_labels);
    if (c->n_dec_layers > 0) {  // encoder-decoder fields (seq2seq.h)
        cJSON_AddNumberToObject(o, "n_dec_layers", c->n_dec_layers);
        cJSON_AddNumberToObject(o, "src_vocab_size", c->src_vocab_size);
        cJSON_AddBoolToObject(o, "scale_embedding", c->scale_embedding);
        cJSON_AddBoolToObject(o, "logits_bias", c->logits_bias);
        cJSON_AddBoolToObject(o, "sinus_split", c->sinus_split);
        cJSON_AddNumberToObject(o, "decoder_start_id", c->decoder_start_id);
    }
    return o;
}

// Reads an integer field; absent fields keep *v. Returns false (with a message) on a present
// field that is not an integer in range.
static bool get_int(cf_ctx *ctx, const char *path, const cJSON *o, const char *key, int32_t *v,
                    cf_status *st) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return true;
    if (cJSON_IsArray(j) && cJSON_GetArraySize(j) > 0) j = j->child;  // e.g. eos_token_id lists
    // Range first: converting an out-of-range double to an integer is undefined.
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= -2147483648.0 && j->valuedouble <= 2147483647.0) ||
        j->valuedouble != (double)(int32_t)j->valuedouble) {
        *st = CF_FORMAT_ERR(ctx, "%s: field '%s' is not an integer", path, key);
        return false;
    }
    *v = (int32_t)j->valuedouble;
    return true;
}

// A special token id: like get_int, but an explicit null means "none" (-1).
static bool get_id(cf_ctx *ctx, const char *path, const cJSON *o, const char *key, int32_t *v,
                   cf_status *st) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (j && cJSON_IsNull(j)) {
        *v = -1;
        return true;
    }
    return get_int(ctx, path, o, key, v, st);
}

static bool get_float(cf_ctx *ctx, const char *path, const cJSON *o, const char *key, float *v,
                      cf_status *st) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return true;
    if (!cJSON_IsNumber(j) || !isfinite((float)j->valuedouble)) {
        *st = CF_FORMAT_ERR(ctx, "%s: field '%s' is not a finite float32 number", path, key);
        return false;
    }
    *v = (float)j->valuedouble;
    return true;
}

bool cf__json_bool(cf_ctx *ctx, const char *path, const cJSON *o, const char *key, int32_t *v,
                   cf_status *st) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return true;
    if (!cJSON_IsBool(j)) {
        *st = CF_FORMAT_ERR(ctx, "%s: field '%s' is not true/false", path, key);
        return false;
    }
    *v = cJSON_IsTrue(j);
    return true;
}

static bool get_enum(cf_ctx *ctx, const char *path, const cJSON *o, const char *key,
                     int (*parse)(const char *), int *v, cf_status *st) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return true;
    int x = cJSON_IsString(j) ? parse(j->valuestring) : -1;
    if (x < 0) {
        *st = CF_FORMAT_ERR(ctx, "%s: field '%s' has an unknown value", path, key);
        return false;
    }
    *v = x;
    return true;
}

cf_status cf__config_from_json(cf_ctx *ctx, const char *path, const cJSON *o, cf_config *c) {
    cf_status st = CF_OK;
    int fam = c->family, norm = c->norm, pos = c->pos, act = c->act, rope = c->rope_style;
    bool ok = get_enum(ctx, path, o, "family", cf__family_parse, &fam, &st) &&
              get_int(ctx, path, o, "n_layers", &c->n_layers, &st) &&
              get_int(ctx, path, o, "n_embd", &c->n_embd, &st) &&
              get_int(ctx, path, o, "n_heads", &c->n_heads, &st) &&
              get_int(ctx, path, o, "n_kv_heads", &c->n_kv_heads, &st) &&
              get_int(ctx, path, o, "head_dim", &c->head_dim, &st) &&
              get_int(ctx, path, o, "n_ff", &c->n_ff, &st) &&
              get_int(ctx, path, o, "vocab_size", &c->vocab_size, &st) &&
              get_int(ctx, path, o, "n_ctx", &c->n_ctx, &st) &&
              get_enum(ctx, path, o, "norm", cf__norm_parse, &norm, &st) &&
              cf__json_bool(ctx, path, o, "pre_norm", &c->pre_norm, &st) &&
              cf__json_bool(ctx, path, o, "final_norm", &c->final_norm, &st) &&
              get_float(ctx, path, o, "norm_eps", &c->norm_eps, &st) &&
              get_enum(ctx, path, o, "pos", cf__pos_parse, &pos, &st) &&
              get_float(ctx, path, o, "rope_theta", &c->rope_theta, &st) &&
              get_enum(ctx, path, o, "rope_style", cf__rope_parse, &rope, &st) &&
              get_enum(ctx, path, o, "act", cf__act_parse, &act, &st) &&
              cf__json_bool(ctx, path, o, "attn_bias", &c->attn_bias, &st) &&
              cf__json_bool(ctx, path, o, "mlp_bias", &c->mlp_bias, &st) &&
              cf__json_bool(ctx, path, o, "tie_embeddings", &c->tie_embeddings, &st) &&
              cf__json_bool(ctx, path, o, "causal", &c->causal, &st) &&
              get_int(ctx, path, o, "bos_id", &c->bos_id, &st) &&
              get_int(ctx, path, o, "eos_id", &c->eos_id, &st) &&
              get_int(ctx, path, o, "type_vocab_size", &c->type_vocab_size, &st) &&
              cf__json_bool(ctx, path, o, "embd_norm", &c->embd_norm, &st) &&
              get_int(ctx, path, o, "pad_id", &c->pad_id, &st) &&
              get_int(ctx, path, o, "pos_offset", &c->pos_offset, &st) &&
              get_int(ctx, path, o, "heads", &c->heads, &st) &&
              get_int(ctx, path, o, "n_labels", &c->n_labels, &st) &&
              get_int(ctx, path, o, "n_dec_layers", &c->n_dec_layers, &st) &&
              get_int(ctx, path, o, "src_vocab_size", &c->src_vocab_size, &st) &&
              cf__json_bool(ctx, path, o, "scale_embedding", &c->scale_embedding, &st) &&
              cf__json_bool(ctx, path, o, "logits_bias", &c->logits_bias, &st) &&
              cf__json_bool(ctx, path, o, "sinus_split", &c->sinus_split, &st) &&
              get_int(ctx, path, o, "decoder_start_id", &c->decoder_start_id, &st);
    c->family = (cf_family)fam;
    c->norm = (cf_norm_kind)norm;
    c->pos = (cf_pos_kind)pos;
    c->act = (cf_act_kind)act;
    c->rope_style = (cf_rope_style)rope;
    return ok ? CF_OK : st;
}

// ---- Hugging Face config.json ----

static cf_status unsupported_if(cf_ctx *ctx, const char *path, const cJSON *o, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (j && !cJSON_IsNull(j) && !cJSON_IsFalse(j))
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: '%s' is set; cformer does not support it yet",
                      path, key);
    return CF_OK;
}

static cf_status hf_gpt2_config(cf_ctx *ctx, const char *path, const cJSON *o, cf_config *c) {
    cf_status st = CF_OK;
    *c = cf_config_gpt2();
    c->n_ff = 0;
    c->eos_id = 50256;
    c->bos_id = 50256;
    int32_t inner = 0;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "activation_function");
    if (!get_int(ctx, path, o, "n_embd", &c->n_embd, &st) ||
        !get_int(ctx, path, o, "n_layer", &c->n_layers, &st) ||
        !get_int(ctx, path, o, "n_head", &c->n_heads, &st) ||
        !get_int(ctx, path, o, "n_ctx", &c->n_ctx, &st) ||
        !get_int(ctx, path, o, "n_positions", &c->n_ctx, &st) ||
        !get_int(ctx, path, o, "vocab_size", &c->vocab_size, &st) ||
        !get_int(ctx, path, o, "n_inner", &inner, &st) ||
        !get_float(ctx, path, o, "layer_norm_epsilon", &c->norm_eps, &st) ||
        !get_id(ctx, path, o, "bos_token_id", &c->bos_id, &st) ||
        !get_id(ctx, path, o, "eos_token_id", &c->eos_id, &st) ||
        !cf__json_bool(ctx, path, o, "tie_word_embeddings", &c->tie_embeddings, &st))
        return st;
    c->n_kv_heads = c->n_heads;
    c->head_dim = 0;
    c->n_ff = inner > 0 ? inner : 4 * c->n_embd;
    if (act && cJSON_IsString(act)) {
        const char *a = act->valuestring;
        if (!strcmp(a, "gelu_new") || !strcmp(a, "gelu_pytorch_tanh") || !strcmp(a, "gelu_fast"))
            c->act = CF_ACT_GELU_TANH;
        else if (!strcmp(a, "gelu")) c->act = CF_ACT_GELU;
        else if (!strcmp(a, "relu")) c->act = CF_ACT_RELU;
        else if (!strcmp(a, "silu") || !strcmp(a, "swish")) c->act = CF_ACT_SILU;
        else
            return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: activation_function '%.40s'", path, a);
    }
    CF_TRY(unsupported_if(ctx, path, o, "scale_attn_by_inverse_layer_idx"));
    if (!c->tie_embeddings)
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: GPT-2 with untied lm_head", path);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "scale_attn_weights");
    if (sc && cJSON_IsFalse(sc))
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: scale_attn_weights = false", path);
    return CF_OK;
}

static cf_status hf_llama_config(cf_ctx *ctx, const char *path, const cJSON *o, cf_config *c) {
    cf_status st = CF_OK;
    *c = cf_config_llama();
    c->n_kv_heads = 0;
    c->head_dim = 0;
    c->norm_eps = 1e-6f;
    c->n_ctx = 2048;
    if (!get_int(ctx, path, o, "hidden_size", &c->n_embd, &st) ||
        !get_int(ctx, path, o, "intermediate_size", &c->n_ff, &st) ||
        !get_int(ctx, path, o, "num_hidden_layers", &c->n_layers, &st) ||
        !get_int(ctx, path, o, "num_attention_heads", &c->n_heads, &st) ||
        !get_int(ctx, path, o, "num_key_value_heads", &c->n_kv_heads, &st) ||
        !get_int(ctx, path, o, "head_dim", &c->head_dim, &st) ||
        !get_int(ctx, path, o, "max_position_embeddings", &c->n_ctx, &st) ||
        !get_int(ctx, path, o, "vocab_size", &c->vocab_size, &st) ||
        !get_float(ctx, path, o, "rms_norm_eps", &c->norm_eps, &st) ||
        !get_float(ctx, path, o, "rope_theta", &c->rope_theta, &st) ||
        !cf__json_bool(ctx, path, o, "tie_word_embeddings", &c->tie_embeddings, &st) ||
        !cf__json_bool(ctx, path, o, "attention_bias", &c->attn_bias, &st) ||
        !get_id(ctx, path, o, "bos_token_id", &c->bos_id, &st) ||
        !get_id(ctx, path, o, "eos_token_id", &c->eos_id, &st))
        return st;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    if (act && cJSON_IsString(act) && strcmp(act->valuestring, "silu"))
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: hidden_act '%.40s' (only silu)", path,
                      act->valuestring);
    CF_TRY(unsupported_if(ctx, path, o, "rope_scaling"));
    CF_TRY(unsupported_if(ctx, path, o, "mlp_bias"));
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(o, "sliding_window");
    if (sw && cJSON_IsNumber(sw) && sw->valuedouble < (double)c->n_ctx)
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: sliding_window attention", path);
    return CF_OK;
}

// ---- tensor name mapping ----

typedef enum { MAP_DIRECT, MAP_CONV1D, MAP_CONV1D_SLICE, MAP_BIAS_SLICE } map_kind;

typedef struct hf_map {
    char name[160];
    map_kind kind;
    int slice;  // 0..2 within c_attn
} hf_map;

typedef struct name_rule {
    const char *ours;
    const char *theirs;
    map_kind kind;
    int slice;
} name_rule;

static const name_rule GPT2_LAYER[] = {
    {"norm1.weight", "ln_1.weight", MAP_DIRECT, 0},
    {"norm1.bias", "ln_1.bias", MAP_DIRECT, 0},
    {"attn.wq", "attn.c_attn.weight", MAP_CONV1D_SLICE, 0},
    {"attn.wk", "attn.c_attn.weight", MAP_CONV1D_SLICE, 1},
    {"attn.wv", "attn.c_attn.weight", MAP_CONV1D_SLICE, 2},
    {"attn.bq", "attn.c_attn.bias", MAP_BIAS_SLICE, 0},
    {"attn.bk", "attn.c_attn.bias", MAP_BIAS_SLICE, 1},
    {"attn.bv", "attn.c_attn.bias", MAP_BIAS_SLICE, 2},
    {"attn.wo", "attn.c_proj.weight", MAP_CONV1D, 0},
    {"attn.bo", "attn.c_proj.bias", MAP_DIRECT, 0},
    {"norm2.weight", "ln_2.weight", MAP_DIRECT, 0},
    {"norm2.bias", "ln_2.bias", MAP_DIRECT, 0},
    {"mlp.w_up", "mlp.c_fc.weight", MAP_CONV1D, 0},
    {"mlp.b_up", "mlp.c_fc.bias", MAP_DIRECT, 0},
    {"mlp.w_down", "mlp.c_proj.weight", MAP_CONV1D, 0},
    {"mlp.b_down", "mlp.c_proj.bias", MAP_DIRECT, 0},
    {NULL, NULL, MAP_DIRECT, 0},
};
static const name_rule GPT2_TOP[] = {
    {"tok_embeddings", "transformer.wte.weight", MAP_DIRECT, 0},
    {"pos_embeddings", "transformer.wpe.weight", MAP_DIRECT, 0},
    {"norm_f.weight", "transformer.ln_f.weight", MAP_DIRECT, 0},
    {"norm_f.bias", "transformer.ln_f.bias", MAP_DIRECT, 0},
    {"lm_head", "lm_head.weight", MAP_DIRECT, 0},
    {NULL, NULL, MAP_DIRECT, 0},
};
static const name_rule LLAMA_LAYER[] = {
    {"norm1.weight", "input_layernorm.weight", MAP_DIRECT, 0},
    {"attn.wq", "self_attn.q_proj.weight", MAP_DIRECT, 0},
    {"attn.wk", "self_attn.k_proj.weight", MAP_DIRECT, 0},
    {"attn.wv", "self_attn.v_proj.weight", MAP_DIRECT, 0},
    {"attn.wo", "self_attn.o_proj.weight", MAP_DIRECT, 0},
    {"attn.bq", "self_attn.q_proj.bias", MAP_DIRECT, 0},
    {"attn.bk", "self_attn.k_proj.bias", MAP_DIRECT, 0},
    {"attn.bv", "self_attn.v_proj.bias", MAP_DIRECT, 0},
    {"attn.bo", "self_attn.o_proj.bias", MAP_DIRECT, 0},
    {"norm2.weight", "post_attention_layernorm.weight", MAP_DIRECT, 0},
    {"mlp.w_gate", "mlp.gate_proj.weight", MAP_DIRECT, 0},
    {"mlp.w_up", "mlp.up_proj.weight", MAP_DIRECT, 0},
    {"mlp.w_down", "mlp.down_proj.weight", MAP_DIRECT, 0},
    {NULL, NULL, MAP_DIRECT, 0},
};
static const name_rule LLAMA_TOP[] = {
    {"tok_embeddings", "model.embed_tokens.weight", MAP_DIRECT, 0},
    {"norm_f.weight", "model.norm.weight", MAP_DIRECT, 0},
    {"lm_head", "lm_head.weight", MAP_DIRECT, 0},
    {NULL, NULL, MAP_DIRECT, 0},
};

// Maps one of our parameter names to the checkpoint's. Returns false if the family has no name
// for it (a config the family cannot express).
static bool map_name(const cf_config *cfg, cf_family fam, const char *ours, hf_map *out) {
    memset(out, 0, sizeof *out);
    if (fam == CF_FAMILY_BERT || fam == CF_FAMILY_ROBERTA || fam == CF_FAMILY_DISTILBERT)
        return cf__hf_bert_name(cfg, fam, ours, out->name, sizeof out->name);  // hf_bert.c
    if (fam == CF_FAMILY_GENERIC) {
        snprintf(out->name, sizeof out->name, "%s", ours);
        return true;
    }
    const name_rule *layer = fam == CF_FAMILY_GPT2 ? GPT2_LAYER : LLAMA_LAYER;
    const name_rule *top = fam == CF_FAMILY_GPT2 ? GPT2_TOP : LLAMA_TOP;
    const char *layer_fmt = fam == CF_FAMILY_GPT2 ? "transformer.h.%d.%s" : "model.layers.%d.%s";
    int l;
    int used = 0;
    if (sscanf(ours, "layers.%d.%n", &l, &used) == 1 && used > 0) {
        for (const name_rule *r = layer; r->ours; r++)
            if (!strcmp(r->ours, ours + used)) {
                snprintf(out->name, sizeof out->name, layer_fmt, l, r->theirs);
                out->kind = r->kind;
                out->slice = r->slice;
                return true;
            }
        return false;
    }
    for (const name_rule *r = top; r->ours; r++)
        if (!strcmp(r->ours, ours)) {
            snprintf(out->name, sizeof out->name, "%s", r->theirs);
            out->kind = r->kind;
            return true;
        }
    return false;
}

// Finds name, also without GPT-2's "transformer." prefix (GPT2Model checkpoints).
static const cf_st_tensor *find_tensor(const cf_safetensors *st, const char *name) {
    const cf_st_tensor *t = cf__st_find(st, name);
    if (!t && !strncmp(name, "transformer.", 12)) t = cf__st_find(st, name + 12);
    // Encoder base-model checkpoints (BertModel, ...) have no "bert." prefix.
    if (!t && cf__hf_bert_unprefixed(name)) t = cf__st_find(st, cf__hf_bert_unprefixed(name));
    return t;
}

// The shape the checkpoint must have for weight w under kind.
static void expected_shape(const cf_weight *w, map_kind kind, int64_t *shape, int *nd) {
    bool vec = w->rows == 1;
    switch (kind) {
    case MAP_DIRECT:
        *nd = vec ? 1 : 2;
        shape[0] = vec ? w->cols : w->rows;
        shape[1] = w->cols;
        break;
    case MAP_CONV1D:
        *nd = 2;
        shape[0] = w->cols;
        shape[1] = w->rows;
        break;
    case MAP_CONV1D_SLICE:
        *nd = 2;
        shape[0] = w->cols;
        shape[1] = 3 * w->rows;
        break;
    case MAP_BIAS_SLICE:
        *nd = 1;
        shape[0] = 3 * w->cols;
        break;
    }
}

static cf_status shape_error(cf_ctx *ctx, const char *path, const cf_st_tensor *t,
                             const int64_t *shape, int nd) {
    char want[64] = "", got[64] = "";
    for (int i = 0; i < nd; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "",
                 (long long)shape[i]);
    for (int i = 0; i < t->ndim; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "",
                 (long long)t->shape[i]);
    return CF_FORMAT_ERR(ctx, "%s: tensor '%s' has shape [%s], the config implies [%s]", path,
                         t->name, got, want);
}

// Fills the model's weights from an opened safetensors file whose names follow family.
// Maps the file (zero copy) when every weight is F32 and 4-byte aligned, else converts.
cf_status cf__load_weights_st(cf_model *m, cf_safetensors *st, cf_family fam) {
    cf_ctx *ctx = m->ctx;
    const cf_st_tensor **src = cf__calloc((size_t)m->n_params, sizeof *src);
    hf_map *maps = cf__calloc((size_t)m->n_params, sizeof *maps);
    cf_status s = CF_OK;
    if (!src || !maps) {
        s = CF_NOMEM(ctx);
        goto done;
    }
    bool zero_copy = st->file.mapped;
    for (int i = 0; i < m->n_params; i++) {
        cf_param *p = &m->params[i];
        if (!map_name(&m->cfg, fam, p->name, &maps[i])) {
            s = CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: no %s tensor for '%s'", st->path,
                       cf__family_name(fam), p->name);
            goto done;
        }
        const cf_st_tensor *t = find_tensor(st, maps[i].name);
        if (!t) {
            s = CF_FORMAT_ERR(ctx, "%s: missing tensor '%s'", st->path, maps[i].name);
            goto done;
        }
        int64_t shape[2];
        int nd;
        expected_shape(p->w, maps[i].kind, shape, &nd);
        if (p->decay && p->w->rows == 1 && maps[i].kind == MAP_DIRECT) {
            nd = 2;  // a one-row matrix (e.g. RoBERTa's single token type) is still 2-D
            shape[0] = 1;
            shape[1] = p->w->cols;
        }
        bool ok = t->ndim == nd;
        for (int d = 0; ok && d < nd; d++) ok = t->shape[d] == shape[d];
        if (!ok) {
            s = shape_error(ctx, st->path, t, shape, nd);
            goto done;
        }
        if (t->dtype != CF_DT_F32 && t->dtype != CF_DT_F16 && t->dtype != CF_DT_BF16 &&
            t->dtype != CF_DT_F64) {
            s = CF_FORMAT_ERR(ctx, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16",
                              st->path, t->name, cf__dtype_name(t->dtype));
            goto done;
        }
        if (t->dtype != CF_DT_F32 || ((uintptr_t)t->data & 3)) zero_copy = false;
        src[i] = t;
    }
    if (zero_copy) {
        for (int i = 0; i < m->n_params; i++) {
            cf_weight *w = m->params[i].w;
            float *base = (float *)(uintptr_t)src[i]->data;
            switch (maps[i].kind) {
            case MAP_DIRECT:
                w->data = base;
                w->ld = w->cols;
                w->trans = false;
                break;
            case MAP_CONV1D:
                w->data = base;
                w->ld = w->rows;
                w->trans = true;
                break;
            case MAP_CONV1D_SLICE:
                w->data = base + maps[i].slice * w->rows;
                w->ld = 3 * w->rows;
                w->trans = true;
                break;
            case MAP_BIAS_SLICE:
                w->data = base + maps[i].slice * w->cols;
                w->ld = w->cols;
                w->trans = false;
                break;
            }
        }
        m->file = st->file;  // the model keeps the mapping
        memset(&st->file, 0, sizeof st->file);
        m->mapped = true;
    } else {
        if ((s = cf__model_alloc_slab(m)) != CF_OK) goto done;
        for (int i = 0; i < m->n_params && s == CF_OK; i++) {
            cf_weight *w = m->params[i].w;
            const cf_st_tensor *t = src[i];
            float *tmp = cf__malloc((size_t)t->numel * sizeof(float));
            if (!tmp) {
                s = CF_NOMEM(ctx);
                break;
            }
            s = cf__st_to_f32(ctx, st, t, tmp);
            int64_t R = w->rows, Cc = w->cols;
            for (int64_t r = 0; s == CF_OK && r < R; r++)
                for (int64_t c = 0; c < Cc; c++) {
                    float v;
                    switch (maps[i].kind) {
                    case MAP_DIRECT: v = tmp[r * Cc + c]; break;
                    case MAP_CONV1D: v = tmp[c * R + r]; break;
                    case MAP_CONV1D_SLICE: v = tmp[c * 3 * R + maps[i].slice * R + r]; break;
                    default: v = tmp[maps[i].slice * Cc + c]; break;
                    }
                    w->data[r * Cc + c] = v;
                }
            cf__free(tmp);
        }
    }
done:
    cf__free(src);
    cf__free(maps);
    return s;
}

// ---- load ----

cf_status cf__hf_config_parse(cf_ctx *ctx, const char *path, const char *text, size_t len,
                              cf_config *cfg, cf_family *family, const char **source) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    cf_status s = CF_OK;
    if (!root || !cJSON_IsObject(root)) {
        s = CF_FORMAT_ERR(ctx, "%s: not a JSON object", path);
        goto done;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(root, "cformer");
    if (own && cJSON_IsObject(own)) {
        // Written by cformer: the full config is stored; the family tells the tensor names.
        *cfg = cf_config_gpt2();
        cfg->family = CF_FAMILY_GENERIC;
        if ((s = cf__config_from_json(ctx, path, own, cfg)) != CF_OK) goto done;
        *family = cfg->family;
        *source = "cformer";
    } else if (cJSON_IsString(mt) && !strcmp(mt->valuestring, "gpt2")) {
        if ((s = hf_gpt2_config(ctx, path, root, cfg)) != CF_OK) goto done;
        *family = CF_FAMILY_GPT2;
        *source = "hf-gpt2";
    } else if (cJSON_IsString(mt) &&
               (!strcmp(mt->valuestring, "llama") || !strcmp(mt->valuestring, "mistral"))) {
        if ((s = hf_llama_config(ctx, path, root, cfg)) != CF_OK) goto done;
        *family = CF_FAMILY_LLAMA;
        *source = "hf-llama";
    } else if (cJSON_IsString(mt) && !strcmp(mt->valuestring, "marian")) {
        if ((s = cf__hf_marian_config(ctx, path, root, cfg)) != CF_OK) goto done;  // hf_marian.c
        *family = CF_FAMILY_MARIAN;
        *source = "hf-marian";
    } else if (cJSON_IsString(mt) && cf__hf_bert_type(mt->valuestring)) {
        if ((s = cf__hf_bert_config(ctx, path, root, cfg, family, source)) != CF_OK) goto done;
    } else {
        s = CF_ERR(ctx, CF_ERR_UNSUPPORTED,
                   "%s: model_type '%.64s' is not supported (gpt2, llama, mistral, bert, roberta, "
                   "xlm-roberta, distilbert, cformer)", path,
                   cJSON_IsString(mt) ? mt->valuestring : "(none)");
        goto done;
    }
    // transformers' defaults (GPT-2: 50256) can name ids the vocabulary does not have; such a
    // special id is unusable, so it is dropped rather than rejected.
    if (cfg->bos_id >= cfg->vocab_size) cfg->bos_id = -1;
    if (cfg->eos_id >= cfg->vocab_size) cfg->eos_id = -1;
    if ((s = cf_config_finish(ctx, cfg)) != CF_OK) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: %s", path, cf_errmsg(ctx));
        s = CF_FORMAT_ERR(ctx, "%s", msg);
    }
done:
    cJSON_Delete(root);
    return s;
}

cf_status cf__load_hf(cf_ctx *ctx, const char *dir, cf_model **out) {
    *out = NULL;
    char *cfg_path = cf__path_join(dir, "config.json");
    char *st_path = cf__path_join(dir, "model.safetensors");
    char *text = NULL;
    cJSON *root = NULL;
    cf_model *m = NULL;
    cf_safetensors st;
    memset(&st, 0, sizeof st);
    cf_status s = CF_OK;
    if (!cfg_path || !st_path) {
        s = CF_NOMEM(ctx);
        goto done;
    }
    size_t text_len = 0;
    if ((s = cf__file_read(ctx, cfg_path, 16 << 20, &text, &text_len)) != CF_OK) goto done;
    cf_config cfg;
    cf_family fam;
    const char *src;
    if ((s = cf__hf_config_parse(ctx, cfg_path, text, text_len, &cfg, &fam, &src)) != CF_OK)
        goto done;
    root = cJSON_ParseWithLength(text, text_len);
    if ((s = cf__st_open(ctx, st_path, &st)) != CF_OK) goto done;
    cf__hf_bert_adjust(&cfg, fam, &st);  // encoders: the pooler is there or not (hf_bert.c)
    if ((s = cf__model_alloc(ctx, &cfg, &m)) != CF_OK) goto done;
    m->source = src;
    const cJSON *th = root ? cJSON_GetObjectItemCaseSensitive(root, "cformer_tokenizer") : NULL;
    if (cJSON_IsString(th)) cf_model_set_tokenizer_hint(m, th->valuestring);
    if (fam == CF_FAMILY_MARIAN) s = cf__hf_marian_load_weights(m, &st);  // hf_marian.c
    else s = cf__load_weights_st(m, &st, fam);
    if (s != CF_OK) goto done;
    if ((s = cf__hf_labels_load(m, cfg_path, root)) != CF_OK) goto done;
    if ((s = cf__model_set_src_dir(m, dir)) != CF_OK) goto done;
    s = cf__model_finish(m);
done:
    if (s != CF_OK) {
        cf_model_free(m);
        m = NULL;
    }
    cf__st_close(&st);
    cJSON_Delete(root);
    cf__free(text);
    cf__free(cfg_path);
    cf__free(st_path);
    *out = m;
    return s;
}

// ---- save ----

// Whether cfg can be written in the family's Hugging Face layout.
static bool family_fits(const cf_config *c, cf_family fam) {
    if (fam == CF_FAMILY_GPT2)
        return c->norm == CF_NORM_LAYERNORM && c->pre_norm && c->final_norm &&
               c->pos == CF_POS_LEARNED && c->attn_bias && c->mlp_bias && c->tie_embeddings &&
               c->causal && c->n_kv_heads == c->n_heads && c->head_dim * c->n_heads == c->n_embd &&
               (c->act == CF_ACT_GELU_TANH || c->act == CF_ACT_GELU || c->act == CF_ACT_RELU ||
                c->act == CF_ACT_SILU);
    if (fam == CF_FAMILY_LLAMA)
        return c->norm == CF_NORM_RMSNORM && c->pre_norm && c->final_norm &&
               c->pos == CF_POS_ROPE && c->rope_style == CF_ROPE_HALF &&
               c->act == CF_ACT_SWIGLU && !c->mlp_bias && c->causal;
    if (fam == CF_FAMILY_BERT || fam == CF_FAMILY_ROBERTA || fam == CF_FAMILY_DISTILBERT)
        return cf__hf_bert_fits(c, fam);
    if (fam == CF_FAMILY_MARIAN) return cf__hf_marian_fits(c);
    return true;
}

static cJSON *hf_config_json(const cf_model *m, cf_family fam) {
    const cf_config *c = &m->cfg;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    if (fam == CF_FAMILY_GPT2) {
        cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2LMHeadModel"));
        cJSON_AddStringToObject(o, "model_type", "gpt2");
        cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
        cJSON_AddNumberToObject(o, "n_positions", c->n_ctx);
        cJSON_AddNumberToObject(o, "n_embd", c->n_embd);
        cJSON_AddNumberToObject(o, "n_layer", c->n_layers);
        cJSON_AddNumberToObject(o, "n_head", c->n_heads);
        cJSON_AddNumberToObject(o, "n_inner", c->n_ff);
        const char *act = c->act == CF_ACT_GELU_TANH ? "gelu_new"
                          : c->act == CF_ACT_GELU    ? "gelu"
                          : c->act == CF_ACT_RELU    ? "relu"
                                                     : "silu";
        cJSON_AddStringToObject(o, "activation_function", act);
        cJSON_AddNumberToObject(o, "layer_norm_epsilon", f32_decimal(c->norm_eps));
        cJSON_AddNumberToObject(o, "resid_pdrop", 0);
        cJSON_AddNumberToObject(o, "embd_pdrop", 0);
        cJSON_AddNumberToObject(o, "attn_pdrop", 0);
        cJSON_AddBoolToObject(o, "scale_attn_weights", 1);
        cJSON_AddBoolToObject(o, "tie_word_embeddings", 1);
    } else if (fam == CF_FAMILY_LLAMA) {
        cJSON_AddItemToArray(arch, cJSON_CreateString("LlamaForCausalLM"));
        cJSON_AddStringToObject(o, "model_type", "llama");
        cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
        cJSON_AddNumberToObject(o, "hidden_size", c->n_embd);
        cJSON_AddNumberToObject(o, "intermediate_size", c->n_ff);
        cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
        cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
        cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
        cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
        cJSON_AddNumberToObject(o, "max_position_embeddings", c->n_ctx);
        cJSON_AddNumberToObject(o, "rms_norm_eps", f32_decimal(c->norm_eps));
        cJSON_AddNumberToObject(o, "rope_theta", f32_decimal(c->rope_theta));
        cJSON_AddStringToObject(o, "hidden_act", "silu");
        cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_embeddings);
        cJSON_AddBoolToObject(o, "attention_bias", c->attn_bias);
        cJSON_AddBoolToObject(o, "mlp_bias", 0);
    } else if (fam == CF_FAMILY_BERT || fam == CF_FAMILY_ROBERTA || fam == CF_FAMILY_DISTILBERT) {
        cf__hf_bert_config_json(m, fam, o, arch, f32_decimal(c->norm_eps));
    } else {
        cJSON_AddItemToArray(arch, cJSON_CreateString("CformerForCausalLM"));
        cJSON_AddStringToObject(o, "model_type", "cformer");
        cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    }
    // null (None) rather than absent: absent would mean the family's default id.
    if (c->bos_id >= 0) cJSON_AddNumberToObject(o, "bos_token_id", c->bos_id);
    else cJSON_AddNullToObject(o, "bos_token_id");
    if (c->eos_id >= 0) cJSON_AddNumberToObject(o, "eos_token_id", c->eos_id);
    else cJSON_AddNullToObject(o, "eos_token_id");
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    cJSON *own = cf__config_to_json(c);
    if (own) {
        cJSON_ReplaceItemInObject(own, "family", cJSON_CreateString(cf__family_name(fam)));
        cJSON_AddItemToObject(o, "cformer", own);
    }
    return o;
}

cf_status cf__save_hf(cf_model *m, const char *dir, const char *extra_key, const char *extra_val) {
    cf_ctx *ctx = m->ctx;
    CF_TRY(cf__mkdir_p(ctx, dir));
    cf_family fam = m->cfg.family;
    if (!family_fits(&m->cfg, fam)) fam = CF_FAMILY_GENERIC;
    if (fam == CF_FAMILY_MARIAN) return cf__hf_marian_save(m, dir);  // hf_marian.c
    // Build the tensors in the target layout. A fused c_attn gathers three parameters.
    int n = 0;
    cf_st_entry *e = cf__calloc((size_t)m->n_params, sizeof *e);
    float **bufs = cf__calloc((size_t)m->n_params, sizeof *bufs);
    hf_map *maps = cf__calloc((size_t)m->n_params, sizeof *maps);
    char *cfg_text = NULL, *cfg_path = NULL, *st_path = NULL;
    cJSON *cj = NULL;
    cf_status s = CF_OK;
    if (!e || !bufs || !maps) goto oom;
    for (int i = 0; i < m->n_params; i++) {
        cf_param *p = &m->params[i];
        const cf_weight *w = p->w;
        if (!map_name(&m->cfg, fam, p->name, &maps[i])) {
            s = CF_ERR(ctx, CF_ERR_INTERNAL, "no name for %s", p->name);
            goto done;
        }
        int slot = -1;  // an existing fused entry this slice goes into
        for (int k = 0; k < n; k++)
            if (!strcmp(e[k].name, maps[i].name)) slot = k;
        map_kind kind = maps[i].kind;
        if (slot < 0) {
            slot = n++;
            int64_t shape[2];
            int nd;
            expected_shape(w, kind, shape, &nd);
            if (p->decay && w->rows == 1 && kind == MAP_DIRECT) {
                nd = 2;  // a one-row matrix stays 2-D (see the loader)
                shape[0] = 1;
                shape[1] = w->cols;
            }
            e[slot].name = maps[i].name;
            e[slot].dtype = CF_DT_F32;
            e[slot].ndim = nd;
            e[slot].shape[0] = shape[0];
            e[slot].shape[1] = shape[1];
            bufs[slot] = cf__malloc((size_t)(w->rows * w->cols) * (kind >= MAP_CONV1D_SLICE ? 3 : 1) *
                                    sizeof(float));
            if (!bufs[slot]) goto oom;
            e[slot].data = bufs[slot];
        }
        float *dst = bufs[slot];
        int64_t R = w->rows, C = w->cols;
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) {
                float v = w->trans ? w->data[c * w->ld + r] : w->data[r * w->ld + c];
                switch (kind) {
                case MAP_DIRECT: dst[r * C + c] = v; break;
                case MAP_CONV1D: dst[c * R + r] = v; break;
                case MAP_CONV1D_SLICE: dst[c * 3 * R + maps[i].slice * R + r] = v; break;
                case MAP_BIAS_SLICE: dst[maps[i].slice * C + c] = v; break;
                }
            }
    }
    cj = hf_config_json(m, fam);
    if (!cj) goto oom;
    if (extra_key) cJSON_AddStringToObject(cj, extra_key, extra_val);
    if (m->tok_hint[0]) cJSON_AddStringToObject(cj, "cformer_tokenizer", m->tok_hint);
    cfg_text = cJSON_Print(cj);
    cfg_path = cf__path_join(dir, "config.json");
    st_path = cf__path_join(dir, "model.safetensors");
    if (!cfg_text || !cfg_path || !st_path) goto oom;
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    if ((s = cf__st_write(ctx, st_path, e, n, mk, mv, 1)) != CF_OK) goto done;
    {
        size_t len = strlen(cfg_text);
        const void *chunk[2] = {cfg_text, "\n"};
        size_t lens[2] = {len, 1};
        s = cf__write_atomic(ctx, cfg_path, chunk, lens, 2);
    }
    if (s == CF_OK) s = cf__hf_copy_tokenizer(m, dir);  // a saved folder carries its tokenizer
    goto done;
oom:
    s = CF_NOMEM(ctx);
done:
    if (bufs)
        for (int i = 0; i < m->n_params; i++) cf__free(bufs[i]);
    cf__free(bufs);
    cf__free(e);
    cf__free(maps);
    cJSON_Delete(cj);
    free(cfg_text);
    cf__free(cfg_path);
    cf__free(st_path);
    return s;
}

cf_status cf_model_save(cf_model *m, const char *dir) { return cf__save_hf(m, dir, NULL, NULL); }
