// Encoder-decoder (translation) models: presets (the original Transformer, Marian/OPUS-MT),
// config checks, the registry of the decoder blocks with their cross-attention, and the public
// teacher-forced entry points of seq2seq.h (encode, logits, label-smoothed loss).
//
// Not here: the forward math (decoder.c, shared with every other model), decoding (greedy, beam
// search: src/infer/s2s_decode.c), Marian files (src/io/hf_marian.c), training (src/train).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cformer/seq2seq.h"
#include "model_internal.h"

cf_config cf_config_transformer(void) {
    cf_config c = cf_config_gpt2();
    c.family = CF_FAMILY_GENERIC;
    c.n_layers = 6;
    c.n_dec_layers = 6;
    c.n_embd = 512;
    c.n_heads = 8;
    c.n_kv_heads = 8;
    c.head_dim = 64;
    c.n_ff = 2048;
    c.vocab_size = 37000;
    c.n_ctx = 1024;
    c.pre_norm = 0;
    c.final_norm = 0;
    c.pos = CF_POS_SINUSOIDAL;
    c.act = CF_ACT_RELU;
    c.tie_embeddings = 1;
    c.scale_embedding = 1;
    c.pad_id = 0;
    c.bos_id = 1;
    c.eos_id = 2;
    c.decoder_start_id = 1;
    return c;
}

cf_config cf_config_transformer_small(void) {
    cf_config c = cf_config_transformer();
    c.n_layers = 3;
    c.n_dec_layers = 3;
    c.n_embd = 256;
    c.n_heads = 4;
    c.n_kv_heads = 4;
    c.n_ff = 1024;
    c.vocab_size = 8000;
    c.n_ctx = 256;
    return c;
}

cf_config cf_config_marian(void) {
    cf_config c = cf_config_transformer();
    c.family = CF_FAMILY_MARIAN;
    c.vocab_size = 58101;
    c.n_ctx = 512;
    c.act = CF_ACT_SILU;
    c.sinus_split = 1;
    c.logits_bias = 1;
    c.pad_id = 58100;
    c.bos_id = -1;
    c.eos_id = 0;
    c.decoder_start_id = 58100;
    return c;
}

#define BAD(...) CF_ERR(ctx, CF_ERR_INVALID_ARG, "invalid config: " __VA_ARGS__)

cf_status cf__encdec_check(cf_ctx *ctx, cf_config *c) {
    c->scale_embedding = !!c->scale_embedding;
    c->logits_bias = !!c->logits_bias;
    c->sinus_split = !!c->sinus_split;
    if (c->n_dec_layers < 0 || c->n_dec_layers > 1024)
        return BAD("n_dec_layers = %d (must be 0..1024)", c->n_dec_layers);
    if (c->n_dec_layers == 0) {
        // Decoder-only and encoder-only models keep their forward exactly as it was.
        if (c->src_vocab_size || c->scale_embedding || c->logits_bias)
            return BAD("src_vocab_size, scale_embedding and logits_bias need n_dec_layers > 0");
        return CF_OK;
    }
    if (c->src_vocab_size < 0 || c->src_vocab_size > (1 << 24))
        return BAD("src_vocab_size = %d", c->src_vocab_size);
    if (c->decoder_start_id < 0 || c->decoder_start_id >= c->vocab_size)
        return BAD("decoder_start_id = %d (must be 0..vocab_size - 1 = %d)", c->decoder_start_id,
                   c->vocab_size - 1);
    if (c->pos == CF_POS_ROPE)
        return BAD("rotary positions are not supported in encoder-decoder models");
    if (c->type_vocab_size || c->embd_norm || c->pos_offset || c->heads)
        return BAD("token types, embedding norm, position offsets and encoder heads are not "
                   "supported in encoder-decoder models");
    if (c->pad_id >= 0 && c->src_vocab_size && c->pad_id >= c->src_vocab_size)
        return BAD("pad_id = %d is outside the source vocabulary of %d", c->pad_id,
                   c->src_vocab_size);
    return CF_OK;
}

size_t cf__encdec_n_params(const cf_config *c) {
    return c->n_dec_layers > 0 ? (size_t)c->n_dec_layers * 32 + 16 : 0;
}

const cf_weight *cf__encdec_src_wte(const cf_model *m) {
    return m->cfg.src_vocab_size > 0 ? &m->src_wte : &m->wte;
}

// ---- registry ----

static void set_shape(cf_weight *w, int64_t rows, int64_t cols) {
    w->rows = rows;
    w->cols = cols;
    w->ld = cols;
    w->trans = false;
}

static void reg(cf_model *m, int *n, cf_weight *w, int64_t rows, int64_t cols, bool decay,
                bool is_norm, bool residual, int layer, const char *name) {
    // name: at most 31 bytes, so "dec_layers.<l>.<name>" fits the registry's 64.
    set_shape(w, rows, cols);
    cf_param *p = &m->params[(*n)++];
    if (layer >= 0) snprintf(p->name, sizeof p->name, "dec_layers.%d.%.31s", layer, name);
    else snprintf(p->name, sizeof p->name, "%s", name);
    p->w = w;
    p->decay = decay;
    p->is_norm = is_norm;
    p->residual = residual;
}

// A norm's weight (and bias for LayerNorm).
static void reg_norm(cf_model *m, int *n, cf_weight *w, cf_weight *b, int layer, const char *nm) {
    int64_t C = m->cfg.n_embd;
    char name[32];
    snprintf(name, sizeof name, "%.24s.weight", nm);
    reg(m, n, w, 1, C, false, true, false, layer, name);
    if (m->cfg.norm == CF_NORM_LAYERNORM) {
        snprintf(name, sizeof name, "%.24s.bias", nm);
        reg(m, n, b, 1, C, false, false, false, layer, name);
    }
}

// Cross-attention registration order: norm, q, k, v, o, then the biases.
static void reg_cross(cf_model *m, int *n, cf_layer *y, int l) {
    const cf_config *c = &m->cfg;
    int64_t C = c->n_embd, qd = (int64_t)c->n_heads * c->head_dim;
    reg_norm(m, n, &y->lnx_w, &y->lnx_b, l, "norm_cross");
    reg(m, n, &y->xq, qd, C, true, false, false, l, "cross.wq");
    reg(m, n, &y->xk, qd, C, true, false, false, l, "cross.wk");
    reg(m, n, &y->xv, qd, C, true, false, false, l, "cross.wv");
    reg(m, n, &y->xo, C, qd, true, false, true, l, "cross.wo");
    if (c->attn_bias) {
        reg(m, n, &y->bxq, 1, qd, false, false, false, l, "cross.bq");
        reg(m, n, &y->bxk, 1, qd, false, false, false, l, "cross.bk");
        reg(m, n, &y->bxv, 1, qd, false, false, false, l, "cross.bv");
        reg(m, n, &y->bxo, 1, C, false, false, false, l, "cross.bo");
    }
}

int cf__model_reg_encdec(cf_model *m, int n) {
    const cf_config *c = &m->cfg;
    if (c->n_dec_layers <= 0) return n;
    m->dec_layers = cf__calloc((size_t)c->n_dec_layers, sizeof(cf_layer));
    if (!m->dec_layers) return -1;
    int64_t C = c->n_embd, F = c->n_ff, qd = (int64_t)c->n_heads * c->head_dim,
            kvd = (int64_t)c->n_kv_heads * c->head_dim;
    bool glu = c->act == CF_ACT_SWIGLU || c->act == CF_ACT_GEGLU;
    if (c->src_vocab_size > 0)
        reg(m, &n, &m->src_wte, c->src_vocab_size, C, true, false, false, -1,
            "src_tok_embeddings");
    if (c->pos == CF_POS_LEARNED)
        reg(m, &n, &m->dec_wpe, c->n_ctx, C, true, false, false, -1, "dec_pos_embeddings");
    for (int l = 0; l < c->n_dec_layers; l++) {
        cf_layer *y = &m->dec_layers[l];
        reg_norm(m, &n, &y->ln1_w, &y->ln1_b, l, "norm1");
        reg(m, &n, &y->wq, qd, C, true, false, false, l, "attn.wq");
        reg(m, &n, &y->wk, kvd, C, true, false, false, l, "attn.wk");
        reg(m, &n, &y->wv, kvd, C, true, false, false, l, "attn.wv");
        reg(m, &n, &y->wo, C, qd, true, false, true, l, "attn.wo");
        if (c->attn_bias) {
            reg(m, &n, &y->bq, 1, qd, false, false, false, l, "attn.bq");
            reg(m, &n, &y->bk, 1, kvd, false, false, false, l, "attn.bk");
            reg(m, &n, &y->bv, 1, kvd, false, false, false, l, "attn.bv");
            reg(m, &n, &y->bo, 1, C, false, false, false, l, "attn.bo");
        }
        reg_cross(m, &n, y, l);
        reg_norm(m, &n, &y->ln2_w, &y->ln2_b, l, "norm2");
        if (glu) reg(m, &n, &y->w_gate, F, C, true, false, false, l, "mlp.w_gate");
        reg(m, &n, &y->w_up, F, C, true, false, false, l, "mlp.w_up");
        reg(m, &n, &y->w_down, C, F, true, false, true, l, "mlp.w_down");
        if (c->mlp_bias) {
            reg(m, &n, &y->b_up, 1, F, false, false, false, l, "mlp.b_up");
            reg(m, &n, &y->b_down, 1, C, false, false, false, l, "mlp.b_down");
        }
    }
    if (c->final_norm) reg_norm(m, &n, &m->dec_lnf_w, &m->dec_lnf_b, -1, "dec_norm_f");
    if (c->logits_bias)
        reg(m, &n, &m->logits_b, 1, c->vocab_size, false, false, false, -1, "logits_bias");
    return n;
}

// ---- teacher forcing ----

cf_tensor *cf__encdec_forward(cf_graph *g, cf_model *m, const int32_t *src,
                              const uint8_t *src_mask, int64_t B, int64_t S, const int32_t *tgt,
                              int64_t T, cf_tensor **enc_out) {
    int nd = m->cfg.n_dec_layers;
    cf_tensor *enc = cf__encdec_encode(g, m, src, B, S, src_mask);
    cf_tensor **kv = cf__meta_alloc(g, 2 * (size_t)nd * sizeof(cf_tensor *));
    if (g->oom) kv = NULL;
    for (int l = 0; kv && l < nd; l++) cf__encdec_cross_kv(g, m, l, enc, &kv[l], &kv[nd + l]);
    if (enc_out) *enc_out = enc;
    if (!kv) return enc;  // out of memory: the caller sees g->oom
    g->pos0 = 0;
    return cf__encdec_decode(g, m, tgt, B, T, kv, kv + nd, src_mask, NULL, 0);
}

cf_status cf__encdec_check_batch(cf_model *m, const int32_t *src, int B, int S,
                                 const int32_t *tgt, int T) {
    cf_ctx *ctx = m->ctx;
    const cf_config *c = &m->cfg;
    if (c->n_dec_layers <= 0)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "the model is not an encoder-decoder model");
    if (B < 1 || S < 1 || (tgt && T < 1))
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "B = %d, S = %d, T = %d", B, S, T);
    if (S > c->n_ctx || (tgt && T > c->n_ctx))
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "source length %d or target length %d exceeds "
                      "the model's n_ctx = %d", S, tgt ? T : 0, c->n_ctx);
    int32_t Vs = c->src_vocab_size > 0 ? c->src_vocab_size : c->vocab_size;
    CF_TRY(cf__check_tokens(ctx, src, (int64_t)B * S, Vs));
    if (tgt) CF_TRY(cf__check_tokens(ctx, tgt, (int64_t)B * T, c->vocab_size));
    return cf__model_positions(m, S > T ? S : T);
}

typedef enum { RUN_ENCODE, RUN_LOGITS, RUN_LOSS } run_kind;

static cf_status run(cf_model *m, run_kind kind, const int32_t *src, const uint8_t *mask, int B,
                     int S, const int32_t *tgt, const int32_t *labels, int T, float eps,
                     float *out) {
    CF_TRY(cf__encdec_check_batch(m, src, B, S, kind == RUN_ENCODE ? NULL : tgt, T));
    cf_ctx *ctx = m->ctx;
    if (labels)
        for (int64_t i = 0; i < (int64_t)B * T; i++)
            if (labels[i] < -1 || labels[i] >= m->cfg.vocab_size)
                return CF_ERR(ctx, CF_ERR_RANGE, "label %d at index %lld is outside [-1, %d)",
                              labels[i], (long long)i, m->cfg.vocab_size);
    if (kind == RUN_LOSS && !(eps >= 0.0f && eps < 1.0f))
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "label_smoothing = %g (must be in [0, 1))", eps);
    cf_graph g;
    cf__graph_init(&g, ctx);
    cf_tensor *res = NULL;
    cf_status st = CF_OK;
    for (int measure = 1; measure >= 0 && st == CF_OK; measure--) {
        cf__graph_begin(&g, false, measure);
        if (kind == RUN_ENCODE) {
            res = cf__encdec_encode(&g, m, src, B, S, mask);
        } else {
            res = cf__encdec_forward(&g, m, src, mask, B, S, tgt, T, NULL);
            if (kind == RUN_LOSS) res = cf__cross_entropy_smooth(&g, res, labels, eps);
        }
        if (g.oom) st = CF_NOMEM(ctx);
        else if (measure) st = cf__graph_plan(&g) == CF_OK ? CF_OK : CF_NOMEM(ctx);
    }
    if (st == CF_OK) memcpy(out, res->data, (size_t)res->n * sizeof(float));
    cf__graph_deinit(&g);
    return st;
}

cf_status cf_s2s_encode(cf_model *m, const int32_t *src, const uint8_t *src_mask, int B, int S,
                        float *out) {
    return run(m, RUN_ENCODE, src, src_mask, B, S, NULL, NULL, 0, 0.0f, out);
}

cf_status cf_s2s_forward(cf_model *m, const int32_t *src, const uint8_t *src_mask, int B, int S,
                         const int32_t *tgt_in, int T, float *logits) {
    return run(m, RUN_LOGITS, src, src_mask, B, S, tgt_in, NULL, T, 0.0f, logits);
}

cf_status cf_s2s_loss(cf_model *m, const int32_t *src, const uint8_t *src_mask, int B, int S,
                      const int32_t *tgt_in, const int32_t *labels, int T, float label_smoothing,
                      float *loss) {
    return run(m, RUN_LOSS, src, src_mask, B, S, tgt_in, labels, T, label_smoothing, loss);
}
