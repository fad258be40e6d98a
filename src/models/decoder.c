// The generic transformer forward, written once for every family and every mode: training
// (the layers record the tape), batch inference, and incremental decoding with a KV cache.
// Options come from cf_config: pre/post-norm, LayerNorm/RMSNorm, learned/sinusoidal/rotary
// positions, plain or gated feed-forward, biases, tied output, causal or bidirectional.
// Encoders (BERT family) share it: their embeddings (token types, embedding LayerNorm, position
// ids) and heads are in encoder.c; the padding mask travels as g->key_mask.
#include "model_internal.h"

static const cf_weight *opt(const cf_weight *w) { return w->data ? w : NULL; }

static cf_tensor *norm(cf_graph *g, const cf_model *m, cf_tensor *x, const cf_weight *w,
                       const cf_weight *b) {
    if (m->cfg.norm == CF_NORM_RMSNORM) return cf__rmsnorm(g, x, w, m->cfg.norm_eps);
    return cf__layernorm(g, x, w, opt(b), m->cfg.norm_eps);
}

static cf_act_op act_op(cf_act_kind a) {
    switch (a) {
    case CF_ACT_GELU: return CF_OP_GELU;
    case CF_ACT_GELU_TANH: return CF_OP_GELU_TANH;
    case CF_ACT_RELU: return CF_OP_RELU;
    case CF_ACT_SWIGLU: return CF_OP_SILU;
    case CF_ACT_SILU: return CF_OP_SILU;
    case CF_ACT_GEGLU: return CF_OP_GELU;
    }
    return CF_OP_GELU;
}

static cf_tensor *attention_block(cf_graph *g, const cf_model *m, int l, cf_tensor *h) {
    const cf_config *c = &m->cfg;
    const cf_layer *y = &m->layers[l];
    cf_tensor *q = cf__linear(g, h, &y->wq, opt(&y->bq));
    cf_tensor *k = cf__linear(g, h, &y->wk, opt(&y->bk));
    cf_tensor *v = cf__linear(g, h, &y->wv, opt(&y->bv));
    if (c->pos == CF_POS_ROPE) {
        bool il = c->rope_style == CF_ROPE_INTERLEAVED;
        q = cf__rope(g, q, c->n_heads, c->head_dim, m->rope, il);
        k = cf__rope(g, k, c->n_kv_heads, c->head_dim, m->rope, il);
    }
    cf_tensor *a = cf__attention(g, q, k, v, c->n_heads, c->n_kv_heads, c->head_dim, c->causal,
                                 l);
    return cf__linear(g, a, &y->wo, opt(&y->bo));
}

static cf_tensor *mlp_block(cf_graph *g, const cf_model *m, int l, cf_tensor *h) {
    const cf_config *c = &m->cfg;
    const cf_layer *y = &m->layers[l];
    cf_tensor *u = cf__linear(g, h, &y->w_up, opt(&y->b_up));
    if (c->act == CF_ACT_SWIGLU || c->act == CF_ACT_GEGLU) {
        cf_tensor *gate = cf__linear(g, h, &y->w_gate, NULL);
        u = cf__glu(g, gate, u, act_op(c->act));
    } else {
        u = cf__act(g, u, act_op(c->act));
    }
    return cf__linear(g, u, &y->w_down, opt(&y->b_down));
}

cf_tensor *cf__model_hidden(cf_graph *g, cf_model *m, const int32_t *tokens,
                            const int32_t *type_ids, int64_t B, int64_t T) {
    const cf_config *c = &m->cfg;
    CF_ASSERT(g->pos0 + T <= (c->pos == CF_POS_ROPE || c->pos == CF_POS_SINUSOIDAL ? m->pos_len
                                                                                     : c->n_ctx));
    cf_tensor *x;
    if (c->type_vocab_size > 0 || c->embd_norm || c->pos_offset > 0)
        x = cf__encoder_embed(g, m, tokens, type_ids, B, T);  // BERT family (encoder.c)
    else
        x = cf__embed(g, &m->wte, c->pos == CF_POS_LEARNED ? &m->wpe : NULL,
                      c->pos == CF_POS_SINUSOIDAL ? m->sinus : NULL, tokens, B, T, g->pos0);
    for (int l = 0; l < c->n_layers; l++) {
        const cf_layer *y = &m->layers[l];
        if (c->pre_norm) {
            x = cf__add(g, x, attention_block(g, m, l, norm(g, m, x, &y->ln1_w, &y->ln1_b)));
            x = cf__add(g, x, mlp_block(g, m, l, norm(g, m, x, &y->ln2_w, &y->ln2_b)));
        } else {
            x = norm(g, m, cf__add(g, x, attention_block(g, m, l, x)), &y->ln1_w, &y->ln1_b);
            x = norm(g, m, cf__add(g, x, mlp_block(g, m, l, x)), &y->ln2_w, &y->ln2_b);
        }
    }
    if (c->final_norm) x = norm(g, m, x, &m->lnf_w, &m->lnf_b);
    int64_t C = c->n_embd;
    int64_t flat[2] = {B * T, C};
    x->ndim = 2;  // view (B, T, C) as (B*T, C)
    x->shape[0] = flat[0];
    x->shape[1] = flat[1];
    return x;
}

cf_tensor *cf__model_forward(cf_graph *g, cf_model *m, const int32_t *tokens, int64_t B,
                             int64_t T, const int64_t *rows, int64_t n_rows) {
    cf_tensor *x = cf__model_hidden(g, m, tokens, NULL, B, T);
    if (rows) x = cf__gather_rows(g, x, rows, n_rows);
    if (m->cfg.heads & CF_HEAD_MLM) return cf__encoder_mlm(g, m, x);  // encoder.c
    return cf__linear(g, x, &m->lm_head, NULL);
}
