// Encoders (BERT, RoBERTa, DistilBERT) on the generic forward: the embedding layer of an encoder
// config (word + learned position ids + token types, then LayerNorm), the task heads (pooler,
// masked-LM, sequence and token classification, extractive QA, sentence embeddings), their
// losses, label names, and the public cf_encoder_* entry points.
//
// The blocks themselves are decoder.c's (post-norm, bidirectional, padding mask through
// g->key_mask). Not here: checkpoint names (src/io/hf_bert.c) and the optimizer
// (src/train/trainer.c, task steps in src/train/encoder_train.c).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "encoder_internal.h"

// ---- registry ----

static void reg(cf_model *m, int *n, cf_weight *w, int64_t rows, int64_t cols, bool decay,
                bool is_norm, const char *name) {
    w->rows = rows;
    w->cols = cols;
    w->ld = cols;
    w->trans = false;
    cf_param *p = &m->params[(*n)++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->w = w;
    p->decay = decay;
    p->is_norm = is_norm;
    p->residual = false;
}

int cf__model_reg_heads(cf_model *m, int n) {
    const cf_config *c = &m->cfg;
    int64_t C = c->n_embd;
    if (c->heads & CF_HEAD_POOLER) {
        reg(m, &n, &m->pool_w, C, C, true, false, "pooler.weight");
        reg(m, &n, &m->pool_b, 1, C, false, false, "pooler.bias");
    }
    if (c->heads & CF_HEAD_MLM) {
        reg(m, &n, &m->mlm_w, C, C, true, false, "mlm.dense.weight");
        reg(m, &n, &m->mlm_b, 1, C, false, false, "mlm.dense.bias");
        reg(m, &n, &m->mlm_ln_w, 1, C, false, true, "mlm.norm.weight");
        reg(m, &n, &m->mlm_ln_b, 1, C, false, false, "mlm.norm.bias");
        reg(m, &n, &m->mlm_bias, 1, c->vocab_size, false, false, "mlm.bias");
    }
    if (c->heads & (CF_HEAD_SEQ_CLS | CF_HEAD_TOKEN_CLS)) {
        reg(m, &n, &m->cls_w, c->n_labels, C, true, false, "classifier.weight");
        reg(m, &n, &m->cls_b, 1, c->n_labels, false, false, "classifier.bias");
    }
    if (c->heads & CF_HEAD_QA) {
        reg(m, &n, &m->qa_w, 2, C, true, false, "qa.weight");
        reg(m, &n, &m->qa_b, 1, 2, false, false, "qa.bias");
    }
    return n;
}

// ---- forward pieces ----

static const cf_weight *opt(const cf_weight *w) { return w->data ? w : NULL; }

cf_tensor *cf__encoder_embed(cf_graph *g, cf_model *m, const int32_t *tokens,
                             const int32_t *type_ids, int64_t B, int64_t T) {
    const cf_config *c = &m->cfg;
    bool learned = c->pos == CF_POS_LEARNED;
    int32_t *pos = learned ? cf__arena_alloc(&g->act, (size_t)(B * T) * sizeof(int32_t)) : NULL;
    if (pos)
        for (int64_t b = 0; b < B; b++) {
            int32_t next = c->pos_offset;
            for (int64_t t = 0; t < T; t++) {
                int32_t id = tokens[b * T + t];
                if (c->pos_offset == 0) pos[b * T + t] = (int32_t)(g->pos0 + t);
                // RoBERTa: positions count the non-pad tokens from pad_id + 1; pads sit at
                // pad_id (create_position_ids_from_input_ids).
                else if (id == c->pad_id) pos[b * T + t] = c->pad_id;
                else pos[b * T + t] = next++;
            }
        }
    cf_tensor *x = cf__embed_sum(g, &m->wte, learned ? &m->wpe : NULL,
                                 c->type_vocab_size > 0 ? &m->wtt : NULL, tokens, pos, type_ids,
                                 B, T);
    if (c->embd_norm) x = cf__layernorm(g, x, &m->lne_w, opt(&m->lne_b), c->norm_eps);
    return x;
}

static cf_act_op act_op(cf_act_kind a) {
    switch (a) {
    case CF_ACT_GELU_TANH: return CF_OP_GELU_TANH;
    case CF_ACT_RELU: return CF_OP_RELU;
    case CF_ACT_SILU: return CF_OP_SILU;
    default: return CF_OP_GELU;
    }
}

cf_tensor *cf__encoder_mlm(cf_graph *g, cf_model *m, cf_tensor *x) {
    const cf_config *c = &m->cfg;
    cf_tensor *h = cf__act(g, cf__linear(g, x, &m->mlm_w, &m->mlm_b), act_op(c->act));
    h = cf__layernorm(g, h, &m->mlm_ln_w, &m->mlm_ln_b, c->norm_eps);
    return cf__linear(g, h, &m->wte, &m->mlm_bias);  // the decoder is the word embeddings
}

// The pooler on the first token of each sequence: (B, C).
static cf_tensor *pooled(cf_graph *g, cf_model *m, cf_tensor *x, int64_t B, int64_t T) {
    int64_t *rows = cf__arena_alloc(&g->act, (size_t)B * sizeof(int64_t));
    if (rows)
        for (int64_t b = 0; b < B; b++) rows[b] = b * T;
    cf_tensor *h = cf__linear(g, cf__gather_rows(g, x, rows, B), &m->pool_w, &m->pool_b);
    // DistilBERT's pre_classifier is followed by ReLU; BERT's pooler and RoBERTa's
    // classification head by tanh.
    if (m->cfg.family == CF_FAMILY_DISTILBERT) return cf__act(g, h, CF_OP_RELU);
    return cf__tanh(g, h);
}

typedef enum { OUT_HIDDEN, OUT_MLM, OUT_SEQ, OUT_TOK, OUT_QA, OUT_EMBED } out_kind;

static cf_tensor *build(cf_graph *g, cf_model *m, const cf_encoder_batch *b, out_kind k,
                        cf_pooling pool, int normalize) {
    g->key_mask = b->mask;
    cf_tensor *x = cf__model_hidden(g, m, b->tokens, b->type_ids, b->B, b->T);
    switch (k) {
    case OUT_HIDDEN: return x;
    case OUT_MLM: return cf__encoder_mlm(g, m, x);
    // The classifiers see their input through dropout in training (BertFor*Classification);
    // the QA head does not (BertForQuestionAnswering).
    case OUT_SEQ:
        return cf__linear(g, cf__dropout(g, pooled(g, m, x, b->B, b->T)), &m->cls_w, &m->cls_b);
    case OUT_TOK: return cf__linear(g, cf__dropout(g, x), &m->cls_w, &m->cls_b);
    case OUT_QA: return cf__linear(g, x, &m->qa_w, &m->qa_b);
    case OUT_EMBED: break;
    }
    if (pool == CF_POOL_MAX || pool == CF_POOL_MEAN_SQRT_LEN) return x;  // host_pool() does it
    cf_tensor *e;
    if (pool == CF_POOL_MEAN) {
        e = cf__masked_mean(g, x, b->mask, b->B, b->T);
    } else {
        int64_t *rows = cf__arena_alloc(&g->act, (size_t)b->B * sizeof(int64_t));
        if (rows)
            for (int64_t i = 0; i < b->B; i++) rows[i] = i * b->T;
        e = cf__gather_rows(g, x, rows, b->B);
    }
    return normalize ? cf__l2_normalize(g, e, 1e-12f) : e;
}

cf_tensor *cf__encoder_task_loss(cf_graph *g, cf_model *m, cf_task task,
                                 const cf_encoder_batch *b, const float *class_w) {
    switch (task) {
    case CF_TASK_MLM: {
        // Only the masked positions (about 15 %) go through the MLM head: its (V, C) decoder
        // dominates a small encoder's cost. The loss is the same mean over them.
        int64_t n = (int64_t)b->B * b->T, k = 0;
        for (int64_t i = 0; i < n; i++) k += b->labels[i] >= 0;
        if (k == 0) return cf__cross_entropy(g, build(g, m, b, OUT_MLM, 0, 0), b->labels);
        cf_tensor *x = build(g, m, b, OUT_HIDDEN, 0, 0);
        int64_t *rows = cf__arena_alloc(&g->act, (size_t)k * sizeof(int64_t));
        int32_t *tg = cf__arena_alloc(&g->act, (size_t)k * sizeof(int32_t));
        if (rows && tg)
            for (int64_t i = 0, j = 0; i < n; i++)
                if (b->labels[i] >= 0) {
                    rows[j] = i;
                    tg[j++] = b->labels[i];
                }
        return cf__cross_entropy(g, cf__encoder_mlm(g, m, cf__gather_rows(g, x, rows, k)), tg);
    }
    case CF_TASK_SEQ_CLS:
        return cf__cross_entropy_w(g, build(g, m, b, OUT_SEQ, 0, 0), b->labels, class_w);
    case CF_TASK_TOKEN_CLS:
        return cf__cross_entropy_w(g, build(g, m, b, OUT_TOK, 0, 0), b->labels, class_w);
    case CF_TASK_QA:
        return cf__qa_loss(g, build(g, m, b, OUT_QA, 0, 0), b->B, b->T, b->start_positions,
                           b->end_positions);
    }
    return NULL;
}

// ---- validation ----

static const char *task_name(int task) {
    static const char *names[] = {"masked-LM", "sequence classification",
                                  "token classification", "question answering"};
    return task >= 0 && task <= CF_TASK_QA ? names[task] : "?";
}

static cf_status check_labels(cf_ctx *ctx, const char *what, const int32_t *x, int64_t n,
                              int32_t lo, int32_t hi) {
    if (!x) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "batch: %s missing", what);
    for (int64_t i = 0; i < n; i++)
        if (x[i] >= hi || (x[i] < lo && lo == 0))
            return CF_ERR(ctx, CF_ERR_RANGE, "batch: %s[%lld] = %d is outside [%d, %d)", what,
                          (long long)i, x[i], lo, hi);
    return CF_OK;
}

cf_status cf__encoder_check(cf_model *m, const cf_encoder_batch *b, int task) {
    cf_ctx *ctx = m->ctx;
    const cf_config *c = &m->cfg;
    if (!b || !b->tokens) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "batch: no tokens");
    int64_t max_t = (int64_t)c->n_ctx - c->pos_offset;
    if (b->B < 1 || b->T < 1 || b->T > max_t || (int64_t)b->B * b->T > ((int64_t)1 << 30))
        return CF_ERR(ctx, CF_ERR_INVALID_ARG,
                      "batch: B = %d, T = %d (T must be 1..%lld for this model)", b->B, b->T,
                      (long long)max_t);
    int64_t n = (int64_t)b->B * b->T;
    CF_TRY(cf__check_tokens(ctx, b->tokens, n, c->vocab_size));
    if (b->type_ids) {
        int32_t tv = c->type_vocab_size > 0 ? c->type_vocab_size : 1;
        for (int64_t i = 0; i < n; i++)
            if (b->type_ids[i] < 0 || b->type_ids[i] >= tv)
                return CF_ERR(ctx, CF_ERR_RANGE,
                              "batch: type_ids[%lld] = %d is outside [0, %d)", (long long)i,
                              b->type_ids[i], tv);
    }
    if (task < 0) return CF_OK;
    static const int need[] = {CF_HEAD_MLM, CF_HEAD_SEQ_CLS, CF_HEAD_TOKEN_CLS, CF_HEAD_QA};
    if (task > CF_TASK_QA) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "unknown task %d", task);
    if (!(c->heads & need[task]))
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "the model has no %s head", task_name(task));
    switch ((cf_task)task) {
    case CF_TASK_MLM: return check_labels(ctx, "labels", b->labels, n, -1, c->vocab_size);
    case CF_TASK_SEQ_CLS: return check_labels(ctx, "labels", b->labels, b->B, 0, c->n_labels);
    case CF_TASK_TOKEN_CLS: return check_labels(ctx, "labels", b->labels, n, -1, c->n_labels);
    case CF_TASK_QA:
        if (!b->start_positions || !b->end_positions)
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "batch: start/end positions missing");
        return CF_OK;  // any value: clamped to [0, T], T ignored
    }
    return CF_OK;
}

// ---- public entry points ----

// The model's inference graph, made on first use. Its arenas only grow and stay with the model:
// a fresh graph per call would map (and page-fault in) every activation again each batch,
// which cost a fifth of a BERT-base forward at batch 1.
static cf_graph *enc_graph(cf_model *m) {
    if (!m->enc_graph) {
        m->enc_graph = cf__malloc(sizeof *m->enc_graph);
        if (m->enc_graph) cf__graph_init(m->enc_graph, m->ctx);
    }
    return m->enc_graph;
}

// Max and mean-sqrt-len pooling of hidden states h (B, T, C) into out (B, C), as
// sentence-transformers' Pooling computes them (padding set to -1e9 before the max; the sum
// divided by sqrt of the token count), then the L2 normalisation when asked. Inference only.
static void host_pool(const float *h, const cf_encoder_batch *b, int64_t C, cf_pooling pool,
                      int normalize, float *out) {
    for (int64_t i = 0; i < b->B; i++) {
        float *o = out + i * C;
        int64_t n = 0;
        for (int64_t c = 0; c < C; c++) o[c] = pool == CF_POOL_MAX ? -1e9f : 0.0f;
        for (int64_t t = 0; t < b->T; t++) {
            if (b->mask && !b->mask[i * b->T + t]) continue;
            const float *x = h + (i * b->T + t) * C;
            n++;
            if (pool == CF_POOL_MAX)
                for (int64_t c = 0; c < C; c++) o[c] = x[c] > o[c] ? x[c] : o[c];
            else
                for (int64_t c = 0; c < C; c++) o[c] += x[c];
        }
        if (pool == CF_POOL_MEAN_SQRT_LEN) {
            float d = sqrtf(n > 0 ? (float)n : 1e-9f);
            for (int64_t c = 0; c < C; c++) o[c] /= d;
        }
        if (normalize) {
            double ss = 0;
            for (int64_t c = 0; c < C; c++) ss += (double)o[c] * o[c];
            float d = (float)fmax(sqrt(ss), 1e-12);
            for (int64_t c = 0; c < C; c++) o[c] /= d;
        }
    }
}

// Plans and runs one inference pass producing out_kind, copying n floats (or split QA pairs).
static cf_status run(cf_model *m, const cf_encoder_batch *b, out_kind k, int need, cf_pooling pool,
                     int normalize, float *out, float *out2) {
    cf_ctx *ctx = m->ctx;
    CF_TRY(cf__encoder_check(m, b, -1));
    static const char *head_names[] = {"", "masked-LM", "sequence classification",
                                       "token classification", "question answering", ""};
    if (need && !(m->cfg.heads & need))
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED, "the model has no %s head", head_names[k]);
    CF_TRY(cf__model_positions(m, b->T));
    cf_graph *g = enc_graph(m);
    if (!g) return CF_NOMEM(ctx);
    cf__graph_begin(g, false, true);
    build(g, m, b, k, pool, normalize);
    cf_status st = cf__graph_plan(g);
    if (st == CF_OK) {
        cf__graph_begin(g, false, false);
        cf_tensor *y = build(g, m, b, k, pool, normalize);
        if (g->oom) {
            st = CF_NOMEM(ctx);
        } else if (k == OUT_QA) {
            for (int64_t r = 0; r < (int64_t)b->B * b->T; r++) {
                out[r] = y->data[2 * r];
                out2[r] = y->data[2 * r + 1];
            }
        } else if (k == OUT_EMBED && (pool == CF_POOL_MAX || pool == CF_POOL_MEAN_SQRT_LEN)) {
            host_pool(y->data, b, m->cfg.n_embd, pool, normalize, out);
        } else {
            memcpy(out, y->data, (size_t)y->n * sizeof(float));
        }
    } else {
        st = CF_NOMEM(ctx);
    }
    return st;
}

cf_status cf_encoder_forward(cf_model *m, const cf_encoder_batch *b, float *hidden) {
    return run(m, b, OUT_HIDDEN, 0, CF_POOL_CLS, 0, hidden, NULL);
}

cf_status cf_encoder_mlm_logits(cf_model *m, const cf_encoder_batch *b, float *logits) {
    return run(m, b, OUT_MLM, CF_HEAD_MLM, CF_POOL_CLS, 0, logits, NULL);
}

cf_status cf_encoder_classify(cf_model *m, const cf_encoder_batch *b, float *logits) {
    return run(m, b, OUT_SEQ, CF_HEAD_SEQ_CLS, CF_POOL_CLS, 0, logits, NULL);
}

cf_status cf_encoder_token_classify(cf_model *m, const cf_encoder_batch *b, float *logits) {
    return run(m, b, OUT_TOK, CF_HEAD_TOKEN_CLS, CF_POOL_CLS, 0, logits, NULL);
}

cf_status cf_encoder_qa_logits(cf_model *m, const cf_encoder_batch *b, float *start,
                               float *end) {
    return run(m, b, OUT_QA, CF_HEAD_QA, CF_POOL_CLS, 0, start, end);
}

cf_status cf_encoder_embed(cf_model *m, const cf_encoder_batch *b, cf_pooling pooling,
                           int normalize, float *out) {
    if (pooling < CF_POOL_CLS || pooling > CF_POOL_MEAN_SQRT_LEN)
        return CF_ERR(m->ctx, CF_ERR_INVALID_ARG, "unknown pooling %d", (int)pooling);
    return run(m, b, OUT_EMBED, 0, pooling, normalize, out, NULL);
}

cf_status cf_encoder_loss(cf_model *m, cf_task task, const cf_encoder_batch *b,
                          const float *class_weights, float *loss) {
    cf_ctx *ctx = m->ctx;
    CF_TRY(cf__encoder_check(m, b, (int)task));
    CF_TRY(cf__model_positions(m, b->T));
    cf_graph *g = enc_graph(m);
    if (!g) return CF_NOMEM(ctx);
    cf__graph_begin(g, false, true);
    cf__encoder_task_loss(g, m, task, b, class_weights);
    cf_status st = cf__graph_plan(g);
    if (st == CF_OK) {
        cf__graph_begin(g, false, false);
        cf_tensor *l = cf__encoder_task_loss(g, m, task, b, class_weights);
        if (g->oom) st = CF_NOMEM(ctx);
        else *loss = l->data[0];
    }
    return st;
}

// ---- label names ----

const char *cf_model_label(const cf_model *m, int32_t id) {
    if (!m->labels || id < 0 || id >= m->cfg.n_labels) return NULL;
    const char *p = m->labels;
    for (int32_t i = 0; i < id; i++) p += strlen(p) + 1;
    return p;
}

int32_t cf_model_label_id(const cf_model *m, const char *name) {
    if (!m->labels || !name) return -1;
    const char *p = m->labels;
    for (int32_t i = 0; i < m->cfg.n_labels; i++, p += strlen(p) + 1)
        if (!strcmp(p, name)) return i;
    return -1;
}

cf_status cf_model_set_labels(cf_model *m, int32_t n, const char *const *names) {
    if (!names) {
        cf__free(m->labels);
        m->labels = NULL;
        return CF_OK;
    }
    if (n != m->cfg.n_labels)
        return CF_ERR(m->ctx, CF_ERR_INVALID_ARG, "%d label names for a model with n_labels = %d",
                      n, m->cfg.n_labels);
    size_t total = 1;
    for (int32_t i = 0; i < n; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (!names[i] || len > 255)
            return CF_ERR(m->ctx, CF_ERR_INVALID_ARG, "label %d: missing or longer than 255 bytes",
                          i);
        total += len + 1;
    }
    char *buf = cf__malloc(total);
    if (!buf) return CF_NOMEM(m->ctx);
    char *p = buf;
    for (int32_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        memcpy(p, names[i], len + 1);
        p += len + 1;
    }
    cf__free(m->labels);
    m->labels = buf;
    return CF_OK;
}
