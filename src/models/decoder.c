// The generic transformer forward, written once for every family and every mode: training
// (the layers record the tape), batch inference, and incremental decoding with a KV cache.
// Options come from cf_config: pre/post-norm, LayerNorm/RMSNorm, learned/sinusoidal/rotary
// positions, plain or gated feed-forward, biases, tied output, causal or bidirectional.
// Encoders (BERT family) share it: their embeddings (token types, embedding LayerNorm, position
// ids) and heads are in encoder.c; the padding mask travels as g->key_mask.
#include <math.h>

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

// Self-attention of block y; l names its KV-cache layer.
static cf_tensor *attention_block(cf_graph *g, const cf_model *m, const cf_layer *y, bool causal,
                                  int l, cf_tensor *h) {
    const cf_config *c = &m->cfg;
    cf_tensor *q = cf__linear(g, h, &y->wq, opt(&y->bq));
    cf_tensor *k = cf__linear(g, h, &y->wk, opt(&y->bk));
    cf_tensor *v = cf__linear(g, h, &y->wv, opt(&y->bv));
    if (c->pos == CF_POS_ROPE) {
        bool il = c->rope_style == CF_ROPE_INTERLEAVED;
        q = cf__rope(g, q, c->n_heads, c->head_dim, m->rope, il);
        k = cf__rope(g, k, c->n_kv_heads, c->head_dim, m->rope, il);
    }
    cf_tensor *a = cf__attention(g, q, k, v, c->n_heads, c->n_kv_heads, c->head_dim, causal, l);
    return cf__dropout(g, cf__linear(g, a, &y->wo, opt(&y->bo)));
}

static cf_tensor *mlp_block(cf_graph *g, const cf_model *m, const cf_layer *y, cf_tensor *h) {
    const cf_config *c = &m->cfg;
    cf_tensor *u = cf__linear(g, h, &y->w_up, opt(&y->b_up));
    if (c->act == CF_ACT_SWIGLU || c->act == CF_ACT_GEGLU) {
        cf_tensor *gate = cf__linear(g, h, &y->w_gate, NULL);
        u = cf__glu(g, gate, u, act_op(c->act));
    } else {
        u = cf__act(g, u, act_op(c->act));
    }
    return cf__dropout(g, cf__linear(g, u, &y->w_down, opt(&y->b_down)));
}

cf_tensor *cf__model_hidden(cf_graph *g, cf_model *m, const int32_t *tokens,
                            const int32_t *type_ids, int64_t B, int64_t T) {
    const cf_config *c = &m->cfg;
    cf__model_use_prepack(g, m);
    CF_ASSERT(g->pos0 + T <= (c->pos == CF_POS_ROPE || c->pos == CF_POS_SINUSOIDAL ? m->pos_len
                                                                                     : c->n_ctx));
    cf_tensor *x;
    if (c->type_vocab_size > 0 || c->embd_norm || c->pos_offset > 0)
        x = cf__encoder_embed(g, m, tokens, type_ids, B, T);  // BERT family (encoder.c)
    else
        x = cf__embed(g, &m->wte, c->pos == CF_POS_LEARNED ? &m->wpe : NULL,
                      c->pos == CF_POS_SINUSOIDAL ? m->sinus : NULL, tokens, B, T, g->pos0);
    x = cf__dropout(g, x);  // training only (g->dropout)
    for (int l = 0; l < c->n_layers; l++) {
        const cf_layer *y = &m->layers[l];
        bool causal = c->causal;
        size_t mark = cf__graph_mark(g);
        if (c->pre_norm) {
            x = cf__add(g, x, attention_block(g, m, y, causal, l, norm(g, m, x, &y->ln1_w, &y->ln1_b)));
            x = cf__add(g, x, mlp_block(g, m, y, norm(g, m, x, &y->ln2_w, &y->ln2_b)));
        } else {
            x = norm(g, m, cf__add(g, x, attention_block(g, m, y, causal, l, x)), &y->ln1_w, &y->ln1_b);
            x = norm(g, m, cf__add(g, x, mlp_block(g, m, y, x)), &y->ln2_w, &y->ln2_b);
        }
        x = cf__graph_keep(g, mark, x);  // inference: drop the block's intermediates
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

// ---- encoder-decoder ----
//
// The same blocks, arranged as in "Attention is all you need" and Marian: the encoder is
// bidirectional over the source with its padding masked; each decoder block is causal
// self-attention, then cross-attention (queries from the decoder, keys and values from the
// encoder output, source padding masked), then the feed-forward, each wrapped pre- or post-norm.

// Token embeddings (times sqrt(C) with scale_embedding) plus positions from pos0.
static cf_tensor *embed_s2s(cf_graph *g, const cf_model *m, const cf_weight *wte,
                            const cf_weight *wpe, const int32_t *tokens, int64_t B, int64_t T,
                            int64_t pos0) {
    const cf_config *c = &m->cfg;
    const cf_weight *lw = c->pos == CF_POS_LEARNED ? wpe : NULL;
    const float *table = c->pos == CF_POS_SINUSOIDAL ? m->sinus : NULL;
    CF_ASSERT(pos0 + T <= (table ? m->pos_len : c->n_ctx));
    if (!c->scale_embedding) return cf__embed(g, wte, lw, table, tokens, B, T, pos0);
    cf_tensor *x = cf__embed(g, wte, NULL, NULL, tokens, B, T, pos0);
    return cf__scale_add_pos(g, x, sqrtf((float)c->n_embd), lw, table, pos0);
}

cf_tensor *cf__encdec_encode(cf_graph *g, cf_model *m, const int32_t *src, int64_t B, int64_t S,
                             const uint8_t *src_mask) {
    const cf_config *c = &m->cfg;
    cf__model_use_prepack(g, m);
    const uint8_t *saved_mask = g->key_mask;
    g->key_mask = src_mask;  // the encoder's self-attention skips source padding
    cf_tensor *x = cf__dropout(g, embed_s2s(g, m, cf__encdec_src_wte(m), &m->wpe, src, B, S, 0));
    for (int l = 0; l < c->n_layers; l++) {
        const cf_layer *y = &m->layers[l];
        size_t mark = cf__graph_mark(g);
        if (c->pre_norm) {
            x = cf__add(g, x, attention_block(g, m, y, false, l, norm(g, m, x, &y->ln1_w, &y->ln1_b)));
            x = cf__add(g, x, mlp_block(g, m, y, norm(g, m, x, &y->ln2_w, &y->ln2_b)));
        } else {
            x = norm(g, m, cf__add(g, x, attention_block(g, m, y, false, l, x)), &y->ln1_w, &y->ln1_b);
            x = norm(g, m, cf__add(g, x, mlp_block(g, m, y, x)), &y->ln2_w, &y->ln2_b);
        }
        x = cf__graph_keep(g, mark, x);
    }
    if (c->final_norm) x = norm(g, m, x, &m->lnf_w, &m->lnf_b);
    g->key_mask = saved_mask;
    return x;
}

void cf__encdec_cross_kv(cf_graph *g, cf_model *m, int l, cf_tensor *enc, cf_tensor **k,
                         cf_tensor **v) {
    const cf_layer *y = &m->dec_layers[l];
    cf__model_use_prepack(g, m);
    *k = cf__linear(g, enc, &y->xk, opt(&y->bxk));
    *v = cf__linear(g, enc, &y->xv, opt(&y->bxv));
}

static cf_tensor *cross_block(cf_graph *g, const cf_model *m, const cf_layer *y, cf_tensor *h,
                              cf_tensor *k, cf_tensor *v, const uint8_t *src_mask) {
    const cf_config *c = &m->cfg;
    cf_tensor *q = cf__linear(g, h, &y->xq, opt(&y->bxq));
    cf_tensor *a = cf__cross_attention(g, q, k, v, c->n_heads, c->head_dim, src_mask);
    return cf__dropout(g, cf__linear(g, a, &y->xo, opt(&y->bxo)));
}

cf_tensor *cf__encdec_decode(cf_graph *g, cf_model *m, const int32_t *tgt, int64_t B, int64_t T,
                             cf_tensor *const *xk, cf_tensor *const *xv, const uint8_t *src_mask,
                             const int64_t *rows, int64_t n_rows) {
    const cf_config *c = &m->cfg;
    cf__model_use_prepack(g, m);
    const uint8_t *saved_mask = g->key_mask;
    g->key_mask = NULL;  // causal self-attention; target padding only ever follows the tokens
    cf_tensor *x = cf__dropout(g, embed_s2s(g, m, &m->wte, &m->dec_wpe, tgt, B, T, g->pos0));
    for (int l = 0; l < c->n_dec_layers; l++) {
        const cf_layer *y = &m->dec_layers[l];
        size_t mark = cf__graph_mark(g);
        if (c->pre_norm) {
            x = cf__add(g, x, attention_block(g, m, y, true, l, norm(g, m, x, &y->ln1_w, &y->ln1_b)));
            x = cf__add(g, x, cross_block(g, m, y, norm(g, m, x, &y->lnx_w, &y->lnx_b), xk[l],
                                          xv[l], src_mask));
            x = cf__add(g, x, mlp_block(g, m, y, norm(g, m, x, &y->ln2_w, &y->ln2_b)));
        } else {
            x = norm(g, m, cf__add(g, x, attention_block(g, m, y, true, l, x)), &y->ln1_w, &y->ln1_b);
            x = norm(g, m, cf__add(g, x, cross_block(g, m, y, x, xk[l], xv[l], src_mask)),
                     &y->lnx_w, &y->lnx_b);
            x = norm(g, m, cf__add(g, x, mlp_block(g, m, y, x)), &y->ln2_w, &y->ln2_b);
        }
        x = cf__graph_keep(g, mark, x);
    }
    if (c->final_norm) x = norm(g, m, x, &m->dec_lnf_w, &m->dec_lnf_b);
    g->key_mask = saved_mask;
    x->ndim = 2;  // view (B, T, C) as (B*T, C)
    x->shape[0] = B * T;
    x->shape[1] = c->n_embd;
    if (rows) x = cf__gather_rows(g, x, rows, n_rows);
    return cf__linear(g, x, &m->lm_head, c->logits_bias ? &m->logits_b : NULL);
}
