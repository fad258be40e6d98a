// Hugging Face encoder checkpoints: BERT, RoBERTa (and XLM-RoBERTa) and DistilBERT folders,
// read and written with transformers' tensor names; hf.c calls in here for these model types.
//
// config.json fields read (BERT / RoBERTa; DistilBERT's names in brackets):
//   hidden_size [dim], num_hidden_layers [n_layers], num_attention_heads [n_heads],
//   intermediate_size [hidden_dim], hidden_act [activation], max_position_embeddings,
//   type_vocab_size (none in DistilBERT), layer_norm_eps (DistilBERT: fixed 1e-12),
//   vocab_size, pad_token_id, position_embedding_type (only "absolute"), id2label / label2id /
//   num_labels, architectures (which heads: *Model, *ForMaskedLM, *ForPreTraining,
//   *ForSequenceClassification, *ForTokenClassification, *ForQuestionAnswering).
//
// Tensors (BERT; "bert." may be absent, as in BertModel checkpoints; position_ids buffers and
// tensors of other heads, e.g. cls.seq_relationship, are ignored):
//   bert.embeddings.{word,position,token_type}_embeddings.weight, bert.embeddings.LayerNorm.*
//   bert.encoder.layer.N.attention.self.{query,key,value}.*, attention.output.dense.*,
//   attention.output.LayerNorm.*, intermediate.dense.*, output.dense.*, output.LayerNorm.*
//   bert.pooler.dense.*, cls.predictions.transform.{dense,LayerNorm}.*, cls.predictions.bias
//   (the decoder weight is the word embeddings), classifier.*, qa_outputs.*
// RoBERTa: "roberta." prefix, lm_head.{dense,layer_norm,bias}, and for sequence classification
// classifier.dense (our pooler) + classifier.out_proj (our classifier). DistilBERT:
// "distilbert." prefix, transformer.layer.N.attention.{q,k,v,out}_lin, sa_layer_norm,
// ffn.lin1/lin2, output_layer_norm, vocab_transform, vocab_layer_norm, vocab_projector.bias,
// pre_classifier (our pooler, with ReLU).
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../models/model_internal.h"
#include "hf_bert.h"

// ---- config.json ----

static bool is_int(const cJSON *j) {
    return cJSON_IsNumber(j) && j->valuedouble >= -2147483648.0 &&
           j->valuedouble <= 2147483647.0 && j->valuedouble == (double)(int32_t)j->valuedouble;
}

// Reads an optional integer field into *v.
static cf_status opt_int(cf_ctx *ctx, const char *path, const cJSON *o, const char *key,
                         int32_t *v) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return CF_OK;
    if (!is_int(j)) return CF_FORMAT_ERR(ctx, "%s: field '%s' is not an integer", path, key);
    *v = (int32_t)j->valuedouble;
    return CF_OK;
}

static cf_status opt_float(cf_ctx *ctx, const char *path, const cJSON *o, const char *key,
                           float *v) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return CF_OK;
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0 && j->valuedouble < 1))
        return CF_FORMAT_ERR(ctx, "%s: field '%s' is not a number in (0, 1)", path, key);
    *v = (float)j->valuedouble;
    return CF_OK;
}

static int family_of(const char *model_type) {
    if (!strcmp(model_type, "bert")) return CF_FAMILY_BERT;
    if (!strcmp(model_type, "roberta") || !strcmp(model_type, "xlm-roberta"))
        return CF_FAMILY_ROBERTA;
    if (!strcmp(model_type, "distilbert")) return CF_FAMILY_DISTILBERT;
    return -1;
}

bool cf__hf_bert_type(const char *model_type) { return model_type && family_of(model_type) >= 0; }

// The heads an architecture name implies (-1: not an encoder architecture we know).
static int arch_heads(const char *a) {
    static const char *const prefixes[] = {"Bert", "Roberta", "XLMRoberta", "DistilBert"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(a, prefixes[i], n)) continue;
        const char *s = a + n;
        if (!strcmp(s, "Model")) return CF_HEAD_POOLER;
        if (!strcmp(s, "ForMaskedLM")) return CF_HEAD_MLM;
        if (!strcmp(s, "ForPreTraining")) return CF_HEAD_MLM | CF_HEAD_POOLER;
        if (!strcmp(s, "ForSequenceClassification")) return CF_HEAD_SEQ_CLS | CF_HEAD_POOLER;
        if (!strcmp(s, "ForTokenClassification")) return CF_HEAD_TOKEN_CLS;
        if (!strcmp(s, "ForQuestionAnswering")) return CF_HEAD_QA;
    }
    return -1;
}

static cf_status act_of(cf_ctx *ctx, const char *path, const cJSON *j, cf_act_kind *a) {
    if (!j || cJSON_IsNull(j)) return CF_OK;
    const char *s = cJSON_IsString(j) ? j->valuestring : "";
    if (!strcmp(s, "gelu")) *a = CF_ACT_GELU;
    else if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh")) *a = CF_ACT_GELU_TANH;
    else if (!strcmp(s, "relu")) *a = CF_ACT_RELU;
    else if (!strcmp(s, "silu") || !strcmp(s, "swish")) *a = CF_ACT_SILU;
    else return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: activation '%.40s'", path, s);
    return CF_OK;
}

// The number of labels: id2label's size, else num_labels, else transformers' default of 2.
static cf_status label_count(cf_ctx *ctx, const char *path, const cJSON *o, int32_t *n) {
    const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(o, "id2label");
    *n = 2;
    CF_TRY(opt_int(ctx, path, o, "num_labels", n));
    if (id2 && !cJSON_IsNull(id2)) {
        if (!cJSON_IsObject(id2))
            return CF_FORMAT_ERR(ctx, "%s: 'id2label' is not an object", path);
        *n = cJSON_GetArraySize(id2);
    }
    if (*n < 1 || *n > (1 << 16))
        return CF_FORMAT_ERR(ctx, "%s: %d labels (must be 1..65536)", path, *n);
    return CF_OK;
}

cf_status cf__hf_bert_config(cf_ctx *ctx, const char *path, const cJSON *o, cf_config *c,
                             cf_family *family, const char **source) {
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "model_type");
    int fam = family_of(mt->valuestring);
    bool distil = fam == CF_FAMILY_DISTILBERT;
    *c = fam == CF_FAMILY_ROBERTA ? cf_config_roberta() : distil ? cf_config_distilbert()
                                                                 : cf_config_bert();
    c->head_dim = 0;
    c->n_kv_heads = 0;
    c->bos_id = c->eos_id = -1;
    // Architecture: the first one we know decides the heads; none means the bare encoder.
    int heads = distil ? 0 : CF_HEAD_POOLER;
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(o, "architectures");
    if (cJSON_IsArray(arch) && cJSON_GetArraySize(arch) > 0) {
        const cJSON *a0 = cJSON_GetArrayItem(arch, 0);
        int h = cJSON_IsString(a0) ? arch_heads(a0->valuestring) : -1;
        if (h < 0)
            return CF_ERR(ctx, CF_ERR_UNSUPPORTED,
                          "%s: architecture '%.64s' is not supported (encoders: *Model, "
                          "*ForMaskedLM, *ForPreTraining, *ForSequenceClassification, "
                          "*ForTokenClassification, *ForQuestionAnswering)",
                          path, cJSON_IsString(a0) ? a0->valuestring : "?");
        heads = h;
    }
    if (distil) heads &= ~CF_HEAD_POOLER;  // DistilBERT's pooler is only pre_classifier
    if (distil && (heads & CF_HEAD_SEQ_CLS)) heads |= CF_HEAD_POOLER;
    c->heads = heads;
    if (heads & (CF_HEAD_SEQ_CLS | CF_HEAD_TOKEN_CLS)) CF_TRY(label_count(ctx, path, o, &c->n_labels));
    const char *kd = distil ? "dim" : "hidden_size", *kl = distil ? "n_layers" : "num_hidden_layers";
    const char *kh = distil ? "n_heads" : "num_attention_heads";
    const char *kf = distil ? "hidden_dim" : "intermediate_size";
    CF_TRY(opt_int(ctx, path, o, kd, &c->n_embd));
    CF_TRY(opt_int(ctx, path, o, kl, &c->n_layers));
    CF_TRY(opt_int(ctx, path, o, kh, &c->n_heads));
    CF_TRY(opt_int(ctx, path, o, kf, &c->n_ff));
    CF_TRY(opt_int(ctx, path, o, "vocab_size", &c->vocab_size));
    CF_TRY(opt_int(ctx, path, o, "max_position_embeddings", &c->n_ctx));
    CF_TRY(opt_int(ctx, path, o, "pad_token_id", &c->pad_id));
    CF_TRY(act_of(ctx, path, cJSON_GetObjectItemCaseSensitive(o, distil ? "activation" : "hidden_act"),
                  &c->act));
    if (!distil) {
        CF_TRY(opt_int(ctx, path, o, "type_vocab_size", &c->type_vocab_size));
        CF_TRY(opt_float(ctx, path, o, "layer_norm_eps", &c->norm_eps));
        const cJSON *pe = cJSON_GetObjectItemCaseSensitive(o, "position_embedding_type");
        if (pe && cJSON_IsString(pe) && strcmp(pe->valuestring, "absolute"))
            return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: position_embedding_type '%.40s'", path,
                          pe->valuestring);
        const cJSON *dec = cJSON_GetObjectItemCaseSensitive(o, "is_decoder");
        if (cJSON_IsTrue(dec))
            return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: is_decoder = true (causal BERT)", path);
    }
    if (fam == CF_FAMILY_ROBERTA) {
        // create_position_ids_from_input_ids: positions from padding_idx + 1.
        if (c->pad_id < 0 || c->pad_id + 1 >= c->n_ctx)
            return CF_FORMAT_ERR(ctx, "%s: pad_token_id %d leaves no RoBERTa positions", path,
                                 c->pad_id);
        c->pos_offset = c->pad_id + 1;
        CF_TRY(opt_int(ctx, path, o, "bos_token_id", &c->bos_id));
        CF_TRY(opt_int(ctx, path, o, "eos_token_id", &c->eos_id));
    }
    if (c->pad_id >= c->vocab_size || c->pad_id < -1) c->pad_id = -1;
    *family = (cf_family)fam;
    *source = fam == CF_FAMILY_BERT ? "hf-bert" : fam == CF_FAMILY_ROBERTA ? "hf-roberta"
                                                                          : "hf-distilbert";
    return CF_OK;
}

// ---- tensor names ----

typedef struct rule {
    const char *ours, *theirs;
} rule;

static const rule BERT_LAYER[] = {
    {"attn.wq", "attention.self.query.weight"},   {"attn.bq", "attention.self.query.bias"},
    {"attn.wk", "attention.self.key.weight"},     {"attn.bk", "attention.self.key.bias"},
    {"attn.wv", "attention.self.value.weight"},   {"attn.bv", "attention.self.value.bias"},
    {"attn.wo", "attention.output.dense.weight"}, {"attn.bo", "attention.output.dense.bias"},
    {"norm1.weight", "attention.output.LayerNorm.weight"},
    {"norm1.bias", "attention.output.LayerNorm.bias"},
    {"mlp.w_up", "intermediate.dense.weight"},    {"mlp.b_up", "intermediate.dense.bias"},
    {"mlp.w_down", "output.dense.weight"},        {"mlp.b_down", "output.dense.bias"},
    {"norm2.weight", "output.LayerNorm.weight"},  {"norm2.bias", "output.LayerNorm.bias"},
    {NULL, NULL},
};
static const rule DISTIL_LAYER[] = {
    {"attn.wq", "attention.q_lin.weight"},   {"attn.bq", "attention.q_lin.bias"},
    {"attn.wk", "attention.k_lin.weight"},   {"attn.bk", "attention.k_lin.bias"},
    {"attn.wv", "attention.v_lin.weight"},   {"attn.bv", "attention.v_lin.bias"},
    {"attn.wo", "attention.out_lin.weight"}, {"attn.bo", "attention.out_lin.bias"},
    {"norm1.weight", "sa_layer_norm.weight"}, {"norm1.bias", "sa_layer_norm.bias"},
    {"mlp.w_up", "ffn.lin1.weight"},         {"mlp.b_up", "ffn.lin1.bias"},
    {"mlp.w_down", "ffn.lin2.weight"},       {"mlp.b_down", "ffn.lin2.bias"},
    {"norm2.weight", "output_layer_norm.weight"}, {"norm2.bias", "output_layer_norm.bias"},
    {NULL, NULL},
};
// Top-level names; "@" stands for the base model prefix ("bert.", "roberta.", "distilbert.").
static const rule BERT_TOP[] = {
    {"tok_embeddings", "@embeddings.word_embeddings.weight"},
    {"pos_embeddings", "@embeddings.position_embeddings.weight"},
    {"tok_type_embeddings", "@embeddings.token_type_embeddings.weight"},
    {"norm_e.weight", "@embeddings.LayerNorm.weight"},
    {"norm_e.bias", "@embeddings.LayerNorm.bias"},
    {"pooler.weight", "@pooler.dense.weight"},
    {"pooler.bias", "@pooler.dense.bias"},
    {"mlm.dense.weight", "cls.predictions.transform.dense.weight"},
    {"mlm.dense.bias", "cls.predictions.transform.dense.bias"},
    {"mlm.norm.weight", "cls.predictions.transform.LayerNorm.weight"},
    {"mlm.norm.bias", "cls.predictions.transform.LayerNorm.bias"},
    {"mlm.bias", "cls.predictions.bias"},
    {"classifier.weight", "classifier.weight"},
    {"classifier.bias", "classifier.bias"},
    {"qa.weight", "qa_outputs.weight"},
    {"qa.bias", "qa_outputs.bias"},
    {NULL, NULL},
};
static const rule ROBERTA_TOP[] = {
    {"mlm.dense.weight", "lm_head.dense.weight"},
    {"mlm.dense.bias", "lm_head.dense.bias"},
    {"mlm.norm.weight", "lm_head.layer_norm.weight"},
    {"mlm.norm.bias", "lm_head.layer_norm.bias"},
    {"mlm.bias", "lm_head.bias"},
    {NULL, NULL},
};
// RobertaForSequenceClassification's head: dense + tanh on <s>, then out_proj.
static const rule ROBERTA_SEQ[] = {
    {"pooler.weight", "classifier.dense.weight"},
    {"pooler.bias", "classifier.dense.bias"},
    {"classifier.weight", "classifier.out_proj.weight"},
    {"classifier.bias", "classifier.out_proj.bias"},
    {NULL, NULL},
};
static const rule DISTIL_TOP[] = {
    {"tok_embeddings", "@embeddings.word_embeddings.weight"},
    {"pos_embeddings", "@embeddings.position_embeddings.weight"},
    {"norm_e.weight", "@embeddings.LayerNorm.weight"},
    {"norm_e.bias", "@embeddings.LayerNorm.bias"},
    {"pooler.weight", "pre_classifier.weight"},
    {"pooler.bias", "pre_classifier.bias"},
    {"mlm.dense.weight", "vocab_transform.weight"},
    {"mlm.dense.bias", "vocab_transform.bias"},
    {"mlm.norm.weight", "vocab_layer_norm.weight"},
    {"mlm.norm.bias", "vocab_layer_norm.bias"},
    {"mlm.bias", "vocab_projector.bias"},
    {"classifier.weight", "classifier.weight"},
    {"classifier.bias", "classifier.bias"},
    {"qa.weight", "qa_outputs.weight"},
    {"qa.bias", "qa_outputs.bias"},
    {NULL, NULL},
};

static const char *prefix_of(cf_family fam) {
    return fam == CF_FAMILY_ROBERTA ? "roberta." : fam == CF_FAMILY_DISTILBERT ? "distilbert."
                                                                              : "bert.";
}

static const char *lookup(const rule *r, const char *ours) {
    for (; r->ours; r++)
        if (!strcmp(r->ours, ours)) return r->theirs;
    return NULL;
}

bool cf__hf_bert_name(const cf_config *c, cf_family fam, const char *ours, char *out,
                      size_t cap) {
    const char *pre = prefix_of(fam);
    int l, used = 0;
    if (sscanf(ours, "layers.%d.%n", &l, &used) == 1 && used > 0) {
        const char *t = lookup(fam == CF_FAMILY_DISTILBERT ? DISTIL_LAYER : BERT_LAYER,
                               ours + used);
        if (!t) return false;
        snprintf(out, cap, fam == CF_FAMILY_DISTILBERT ? "%stransformer.layer.%d.%s"
                                                       : "%sencoder.layer.%d.%s",
                 pre, l, t);
        return true;
    }
    const char *t = NULL;
    if (fam == CF_FAMILY_ROBERTA && (c->heads & CF_HEAD_SEQ_CLS)) t = lookup(ROBERTA_SEQ, ours);
    if (!t && fam == CF_FAMILY_ROBERTA) t = lookup(ROBERTA_TOP, ours);
    if (!t) t = lookup(fam == CF_FAMILY_DISTILBERT ? DISTIL_TOP : BERT_TOP, ours);
    if (!t) return false;
    if (t[0] == '@') snprintf(out, cap, "%s%s", pre, t + 1);
    else snprintf(out, cap, "%s", t);
    return true;
}

const char *cf__hf_bert_unprefixed(const char *name) {
    static const char *const prefixes[] = {"bert.", "roberta.", "distilbert."};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncmp(name, prefixes[i], n)) return name + n;
    }
    return NULL;
}

void cf__hf_bert_adjust(cf_config *c, cf_family fam, const cf_safetensors *st) {
    if (fam != CF_FAMILY_BERT && fam != CF_FAMILY_ROBERTA) return;
    if (c->heads & CF_HEAD_SEQ_CLS) return;  // the pooler is part of the classifier
    // BertForMaskedLM and friends are built without the pooler, BertModel with it; a file
    // says which: the pooler is loaded when (and only when) its tensors are there.
    char name[64];
    snprintf(name, sizeof name, "%spooler.dense.weight", prefix_of(fam));
    bool has = cf__st_find(st, name) || cf__st_find(st, cf__hf_bert_unprefixed(name));
    if (has) c->heads |= CF_HEAD_POOLER;
    else c->heads &= ~CF_HEAD_POOLER;
}

// ---- labels ----

cf_status cf__hf_labels_load(cf_model *m, const char *path, const cJSON *root) {
    cf_ctx *ctx = m->ctx;
    int32_t n = m->cfg.n_labels;
    const cJSON *id2 = root ? cJSON_GetObjectItemCaseSensitive(root, "id2label") : NULL;
    if (n <= 0 || !cJSON_IsObject(id2)) return CF_OK;
    if (cJSON_GetArraySize(id2) != n)
        return CF_FORMAT_ERR(ctx, "%s: id2label has %d entries for %d labels", path,
                             cJSON_GetArraySize(id2), n);
    const char **names = cf__calloc((size_t)n, sizeof *names);
    if (!names) return CF_NOMEM(ctx);
    cf_status s = CF_OK;
    for (const cJSON *e = id2->child; e && s == CF_OK; e = e->next) {
        char *end;
        long id = strtol(e->string ? e->string : "", &end, 10);
        if (!e->string || !*e->string || *end || id < 0 || id >= n || names[id] ||
            !cJSON_IsString(e) || strlen(e->valuestring) > 255)
            s = CF_FORMAT_ERR(ctx, "%s: id2label entry '%.32s' is not a unique id in [0, %d) "
                              "with a name of at most 255 bytes", path,
                              e->string ? e->string : "", n);
        else names[id] = e->valuestring;
    }
    if (s == CF_OK) s = cf_model_set_labels(m, n, names);
    cf__free(names);
    return s;
}

// ---- save ----

bool cf__hf_bert_fits(const cf_config *c, cf_family fam) {
    bool base = c->norm == CF_NORM_LAYERNORM && !c->pre_norm && !c->final_norm &&
                c->pos == CF_POS_LEARNED && c->attn_bias && c->mlp_bias && c->tie_embeddings &&
                !c->causal && c->embd_norm && c->n_kv_heads == c->n_heads &&
                c->head_dim * c->n_heads == c->n_embd &&
                (c->act == CF_ACT_GELU || c->act == CF_ACT_GELU_TANH || c->act == CF_ACT_RELU);
    if (fam == CF_FAMILY_BERT) return base && c->type_vocab_size > 0 && c->pos_offset == 0;
    if (fam == CF_FAMILY_ROBERTA)
        return base && c->type_vocab_size > 0 && c->pad_id >= 0 && c->pos_offset == c->pad_id + 1;
    if (fam == CF_FAMILY_DISTILBERT)
        return base && c->type_vocab_size == 0 && c->pos_offset == 0 && c->norm_eps == 1e-12f &&
               (!(c->heads & CF_HEAD_POOLER) || (c->heads & CF_HEAD_SEQ_CLS));
    return false;
}

static const char *arch_suffix(int heads) {
    if (heads & CF_HEAD_SEQ_CLS) return "ForSequenceClassification";
    if (heads & CF_HEAD_TOKEN_CLS) return "ForTokenClassification";
    if (heads & CF_HEAD_QA) return "ForQuestionAnswering";
    if (heads & CF_HEAD_MLM) return "ForMaskedLM";
    return "Model";
}

void cf__hf_bert_config_json(const cf_model *m, cf_family fam, cJSON *o, cJSON *arch,
                             double norm_eps) {
    const cf_config *c = &m->cfg;
    bool distil = fam == CF_FAMILY_DISTILBERT;
    const char *base = fam == CF_FAMILY_BERT ? "Bert" : fam == CF_FAMILY_ROBERTA ? "Roberta"
                                                                                : "DistilBert";
    char a[96];
    snprintf(a, sizeof a, "%s%s", base, arch_suffix(c->heads));
    cJSON_AddItemToArray(arch, cJSON_CreateString(a));
    cJSON_AddStringToObject(o, "model_type", fam == CF_FAMILY_BERT      ? "bert"
                                             : fam == CF_FAMILY_ROBERTA ? "roberta"
                                                                        : "distilbert");
    const char *act = c->act == CF_ACT_GELU_TANH ? "gelu_new" : c->act == CF_ACT_RELU ? "relu"
                                                                                       : "gelu";
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->n_ctx);
    cJSON_AddNumberToObject(o, "pad_token_id", c->pad_id >= 0 ? c->pad_id : 0);
    if (distil) {
        cJSON_AddNumberToObject(o, "dim", c->n_embd);
        cJSON_AddNumberToObject(o, "n_layers", c->n_layers);
        cJSON_AddNumberToObject(o, "n_heads", c->n_heads);
        cJSON_AddNumberToObject(o, "hidden_dim", c->n_ff);
        cJSON_AddStringToObject(o, "activation", act);
        cJSON_AddBoolToObject(o, "sinusoidal_pos_embds", 0);
        cJSON_AddBoolToObject(o, "tie_weights_", 1);
    } else {
        cJSON_AddNumberToObject(o, "hidden_size", c->n_embd);
        cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
        cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
        cJSON_AddNumberToObject(o, "intermediate_size", c->n_ff);
        cJSON_AddStringToObject(o, "hidden_act", act);
        cJSON_AddNumberToObject(o, "type_vocab_size", c->type_vocab_size);
        cJSON_AddNumberToObject(o, "layer_norm_eps", norm_eps);
        cJSON_AddStringToObject(o, "position_embedding_type", "absolute");
    }
    if (c->heads & (CF_HEAD_SEQ_CLS | CF_HEAD_TOKEN_CLS)) {
        cJSON *id2 = cJSON_AddObjectToObject(o, "id2label");
        cJSON *l2i = cJSON_AddObjectToObject(o, "label2id");
        for (int32_t i = 0; i < c->n_labels; i++) {
            char key[16], dflt[32];
            snprintf(key, sizeof key, "%d", (int)i);
            snprintf(dflt, sizeof dflt, "LABEL_%d", (int)i);
            const char *name = cf_model_label(m, i);
            if (!name) name = dflt;
            cJSON_AddStringToObject(id2, key, name);
            if (!cJSON_GetObjectItemCaseSensitive(l2i, name)) cJSON_AddNumberToObject(l2i, name, i);
        }
    }
}

// The tokenizer files a Hugging Face folder carries.
static const char *const TOKENIZER_FILES[] = {
    "tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model", "added_tokens.json",
};

cf_status cf__hf_copy_tokenizer(cf_model *m, const char *dir) {
    if (!m->src_dir) return CF_OK;
    cf_ctx *ctx = m->ctx;
    cf_status s = CF_OK;
    for (size_t i = 0; i < sizeof TOKENIZER_FILES / sizeof *TOKENIZER_FILES && s == CF_OK; i++) {
        char *from = cf__path_join(m->src_dir, TOKENIZER_FILES[i]);
        char *to = cf__path_join(dir, TOKENIZER_FILES[i]);
        char *buf = NULL;
        size_t len = 0;
        if (!from || !to) s = CF_NOMEM(ctx);
        else if (cf__file_exists(from) && strcmp(from, to)) {
            s = cf__file_read(ctx, from, (size_t)1 << 30, &buf, &len);
            if (s == CF_OK) {
                const void *chunk[1] = {buf};
                s = cf__write_atomic(ctx, to, chunk, &len, 1);
            }
        }
        cf__free(buf);
        cf__free(from);
        cf__free(to);
    }
    return s;
}

cf_status cf__model_set_src_dir(cf_model *m, const char *dir) {
    size_t n = strlen(dir);
    char *d = cf__malloc(n + 1);
    if (!d) return CF_NOMEM(m->ctx);
    memcpy(d, dir, n + 1);
    cf__free(m->src_dir);
    m->src_dir = d;
    return CF_OK;
}
