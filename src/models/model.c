// Model objects: config presets and validation, the parameter registry, weight storage (one
// aligned slab, or views into a mapped file), initialisation, and the public forward.
// Not here: file formats (src/io) and the forward math (decoder.c).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

cf_config cf_config_gpt2(void) {
    cf_config c = {0};
    c.family = CF_FAMILY_GPT2;
    c.n_layers = 12;
    c.n_embd = 768;
    c.n_heads = 12;
    c.n_kv_heads = 12;
    c.head_dim = 64;
    c.n_ff = 3072;
    c.vocab_size = 50257;
    c.n_ctx = 1024;
    c.norm = CF_NORM_LAYERNORM;
    c.pre_norm = 1;
    c.final_norm = 1;
    c.norm_eps = 1e-5f;
    c.pos = CF_POS_LEARNED;
    c.rope_theta = 10000.0f;
    c.act = CF_ACT_GELU_TANH;
    c.attn_bias = 1;
    c.mlp_bias = 1;
    c.tie_embeddings = 1;
    c.causal = 1;
    c.bos_id = -1;
    c.eos_id = -1;
    c.pad_id = -1;
    return c;
}

cf_config cf_config_llama(void) {
    cf_config c = {0};
    c.family = CF_FAMILY_LLAMA;
    c.n_layers = 12;
    c.n_embd = 768;
    c.n_heads = 12;
    c.n_kv_heads = 12;
    c.head_dim = 64;
    c.n_ff = 2048;
    c.vocab_size = 32000;
    c.n_ctx = 1024;
    c.norm = CF_NORM_RMSNORM;
    c.pre_norm = 1;
    c.final_norm = 1;
    c.norm_eps = 1e-5f;
    c.pos = CF_POS_ROPE;
    c.rope_theta = 10000.0f;
    c.rope_style = CF_ROPE_HALF;
    c.act = CF_ACT_SWIGLU;
    c.causal = 1;
    c.bos_id = 1;
    c.eos_id = 2;
    c.pad_id = -1;
    return c;
}

cf_config cf_config_bert(void) {
    cf_config c = cf_config_gpt2();
    c.family = CF_FAMILY_BERT;
    c.vocab_size = 30522;
    c.n_ctx = 512;
    c.pre_norm = 0;
    c.final_norm = 0;
    c.norm_eps = 1e-12f;
    c.act = CF_ACT_GELU;
    c.causal = 0;
    c.type_vocab_size = 2;
    c.embd_norm = 1;
    c.pad_id = 0;
    c.heads = CF_HEAD_POOLER | CF_HEAD_MLM;
    return c;
}

cf_config cf_config_roberta(void) {
    cf_config c = cf_config_bert();
    c.family = CF_FAMILY_ROBERTA;
    c.vocab_size = 50265;
    c.n_ctx = 514;
    c.norm_eps = 1e-5f;
    c.type_vocab_size = 1;
    c.pad_id = 1;
    c.pos_offset = 2;
    c.bos_id = 0;
    c.eos_id = 2;
    return c;
}

cf_config cf_config_distilbert(void) {
    cf_config c = cf_config_bert();
    c.family = CF_FAMILY_DISTILBERT;
    c.n_layers = 6;
    c.type_vocab_size = 0;
    c.heads = CF_HEAD_MLM;
    return c;
}

// Limits that keep every size computation far from overflow and allocations sane.
enum { MAX_DIM = 1 << 20, MAX_LAYERS = 1024, MAX_VOCAB = 1 << 24, MAX_CTX = 1 << 20 };

#define BAD(...) CF_ERR(ctx, CF_ERR_INVALID_ARG, "invalid config: " __VA_ARGS__)

cf_status cf_config_finish(cf_ctx *ctx, cf_config *c) {
    if (c->n_layers < 1 || c->n_layers > MAX_LAYERS)
        return BAD("n_layers = %d (must be 1..%d)", c->n_layers, MAX_LAYERS);
    if (c->n_embd < 1 || c->n_embd > MAX_DIM)
        return BAD("n_embd = %d (must be 1..%d)", c->n_embd, MAX_DIM);
    if (c->n_heads < 1 || c->n_heads > c->n_embd * 4 || c->n_heads > 4096)
        return BAD("n_heads = %d", c->n_heads);
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    if (c->n_kv_heads < 1 || c->n_kv_heads > c->n_heads)
        return BAD("n_kv_heads = %d (must be 1..n_heads = %d)", c->n_kv_heads, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return BAD("n_heads = %d is not a multiple of n_kv_heads = %d", c->n_heads,
                   c->n_kv_heads);
    if (c->head_dim == 0) {
        if (c->n_embd % c->n_heads)
            return BAD("n_embd = %d is not a multiple of n_heads = %d (set head_dim)", c->n_embd,
                       c->n_heads);
        c->head_dim = c->n_embd / c->n_heads;
    }
    if (c->head_dim < 1 || c->head_dim > 4096) return BAD("head_dim = %d", c->head_dim);
    if (c->pos == CF_POS_ROPE && c->head_dim % 2)
        return BAD("head_dim = %d must be even for rotary positions", c->head_dim);
    if (c->n_ff < 1 || c->n_ff > MAX_DIM) return BAD("n_ff = %d", c->n_ff);
    if (c->vocab_size < 1 || c->vocab_size > MAX_VOCAB)
        return BAD("vocab_size = %d (must be 1..%d)", c->vocab_size, MAX_VOCAB);
    if (c->n_ctx < 1 || c->n_ctx > MAX_CTX) return BAD("n_ctx = %d", c->n_ctx);
    if ((unsigned)c->norm > CF_NORM_RMSNORM) return BAD("unknown norm %d", (int)c->norm);
    if ((unsigned)c->pos > CF_POS_ROPE) return BAD("unknown position kind %d", (int)c->pos);
    if ((unsigned)c->act > CF_ACT_GEGLU) return BAD("unknown activation %d", (int)c->act);
    if ((unsigned)c->rope_style > CF_ROPE_INTERLEAVED) return BAD("unknown rope style");
    if ((unsigned)c->family > CF_FAMILY_MARIAN) return BAD("unknown family");
    if (c->type_vocab_size < 0 || c->type_vocab_size > (1 << 16))
        return BAD("type_vocab_size = %d (must be 0..65536)", c->type_vocab_size);
    if (c->pad_id < -1 || c->pad_id >= c->vocab_size) return BAD("pad_id = %d", c->pad_id);
    if (c->pos_offset < 0 || c->pos_offset >= c->n_ctx)
        return BAD("pos_offset = %d (must be 0..n_ctx - 1 = %d)", c->pos_offset, c->n_ctx - 1);
    if ((c->type_vocab_size > 0 || c->embd_norm || c->pos_offset > 0) &&
        c->pos != CF_POS_LEARNED && c->pos != CF_POS_NONE)
        return BAD("token types, embedding norm and position offsets need learned positions");
    if (c->pos_offset > 0 && (c->pos != CF_POS_LEARNED || c->pad_id < 0 || c->pad_id >= c->n_ctx))
        return BAD("pos_offset = %d needs learned positions and a pad_id below n_ctx",
                   c->pos_offset);
    if (c->heads & ~(CF_HEAD_POOLER | CF_HEAD_MLM | CF_HEAD_SEQ_CLS | CF_HEAD_TOKEN_CLS |
                     CF_HEAD_QA))
        return BAD("heads = 0x%x has unknown bits", (unsigned)c->heads);
    if ((c->heads & CF_HEAD_SEQ_CLS) && (c->heads & CF_HEAD_TOKEN_CLS))
        return BAD("heads: sequence and token classification both use 'classifier'; pick one");
    if (c->heads & CF_HEAD_SEQ_CLS) c->heads |= CF_HEAD_POOLER;
    bool cls = c->heads & (CF_HEAD_SEQ_CLS | CF_HEAD_TOKEN_CLS);
    if (c->n_labels < (cls ? 1 : 0) || c->n_labels > (1 << 16))
        return BAD("n_labels = %d (must be %d..65536)", c->n_labels, cls ? 1 : 0);
    if (c->pos == CF_POS_SINUSOIDAL && c->n_embd % 2)
        return BAD("n_embd = %d must be even for sinusoidal positions", c->n_embd);
    if (!(c->norm_eps > 0.0f) || c->norm_eps > 1.0f) return BAD("norm_eps = %g", c->norm_eps);
    if (c->pos == CF_POS_ROPE && !(c->rope_theta > 1.0f && isfinite(c->rope_theta)))
        return BAD("rope_theta = %g", c->rope_theta);
    if (c->bos_id < -1 || c->bos_id >= c->vocab_size) return BAD("bos_id = %d", c->bos_id);
    if (c->eos_id < -1 || c->eos_id >= c->vocab_size) return BAD("eos_id = %d", c->eos_id);
    // Total parameters must fit comfortably in memory arithmetic.
    double per_layer = 4.0 * c->n_embd * (double)c->head_dim * c->n_heads +
                       3.0 * c->n_embd * (double)c->n_ff;
    double total = per_layer * c->n_layers + 2.0 * c->vocab_size * (double)c->n_embd;
    if (total > 1e11) return BAD("about %.3g parameters is beyond this engine's limit", total);
    CF_TRY(cf__encdec_check(ctx, c));
    c->pre_norm = !!c->pre_norm;
    c->final_norm = !!c->final_norm;
    c->attn_bias = !!c->attn_bias;
    c->mlp_bias = !!c->mlp_bias;
    c->tie_embeddings = !!c->tie_embeddings;
    c->causal = !!c->causal;
    c->embd_norm = !!c->embd_norm;
    return CF_OK;
}

static bool is_glu(cf_act_kind a) { return a == CF_ACT_SWIGLU || a == CF_ACT_GEGLU; }

static void set_shape(cf_weight *w, int64_t rows, int64_t cols) {
    w->rows = rows;
    w->cols = cols;
    w->ld = cols;
    w->trans = false;
}

static void reg(cf_model *m, int *n, cf_weight *w, bool decay, bool is_norm, bool residual,
                const char *fmt, int layer) {
    cf_param *p = &m->params[(*n)++];
    snprintf(p->name, sizeof p->name, fmt, layer);
    p->w = w;
    p->decay = decay;
    p->is_norm = is_norm;
    p->residual = residual;
}

cf_status cf__model_alloc(cf_ctx *ctx, const cf_config *cfg, cf_model **out) {
    *out = NULL;
    cf_model *m = cf__calloc(1, sizeof *m);
    if (!m) return CF_NOMEM(ctx);
    m->ctx = ctx;
    m->cfg = *cfg;
    m->source = "new";
    const cf_config *c = &m->cfg;
    int64_t C = c->n_embd, V = c->vocab_size, F = c->n_ff, qd = (int64_t)c->n_heads * c->head_dim,
            kvd = (int64_t)c->n_kv_heads * c->head_dim;
    m->layers = cf__calloc((size_t)c->n_layers, sizeof(cf_layer));
    m->params = cf__calloc((size_t)c->n_layers * 20 + 24 + cf__encdec_n_params(c),
                           sizeof(cf_param));
    if (!m->layers || !m->params) {
        cf_model_free(m);
        return CF_NOMEM(ctx);
    }
    int n = 0;
    bool ln = c->norm == CF_NORM_LAYERNORM;
    set_shape(&m->wte, V, C);
    reg(m, &n, &m->wte, true, false, false, "tok_embeddings", 0);
    if (c->pos == CF_POS_LEARNED) {
        set_shape(&m->wpe, c->n_ctx, C);
        reg(m, &n, &m->wpe, true, false, false, "pos_embeddings", 0);
    }
    if (c->type_vocab_size > 0) {
        set_shape(&m->wtt, c->type_vocab_size, C);
        reg(m, &n, &m->wtt, true, false, false, "tok_type_embeddings", 0);
    }
    if (c->embd_norm) {
        set_shape(&m->lne_w, 1, C);
        reg(m, &n, &m->lne_w, false, true, false, "norm_e.weight", 0);
        if (ln) {
            set_shape(&m->lne_b, 1, C);
            reg(m, &n, &m->lne_b, false, false, false, "norm_e.bias", 0);
        }
    }
    for (int l = 0; l < c->n_layers; l++) {
        cf_layer *y = &m->layers[l];
        set_shape(&y->ln1_w, 1, C);
        reg(m, &n, &y->ln1_w, false, true, false, "layers.%d.norm1.weight", l);
        if (ln) {
            set_shape(&y->ln1_b, 1, C);
            reg(m, &n, &y->ln1_b, false, false, false, "layers.%d.norm1.bias", l);
        }
        set_shape(&y->wq, qd, C);
        reg(m, &n, &y->wq, true, false, false, "layers.%d.attn.wq", l);
        set_shape(&y->wk, kvd, C);
        reg(m, &n, &y->wk, true, false, false, "layers.%d.attn.wk", l);
        set_shape(&y->wv, kvd, C);
        reg(m, &n, &y->wv, true, false, false, "layers.%d.attn.wv", l);
        set_shape(&y->wo, C, qd);
        reg(m, &n, &y->wo, true, false, true, "layers.%d.attn.wo", l);
        if (c->attn_bias) {
            set_shape(&y->bq, 1, qd);
            reg(m, &n, &y->bq, false, false, false, "layers.%d.attn.bq", l);
            set_shape(&y->bk, 1, kvd);
            reg(m, &n, &y->bk, false, false, false, "layers.%d.attn.bk", l);
            set_shape(&y->bv, 1, kvd);
            reg(m, &n, &y->bv, false, false, false, "layers.%d.attn.bv", l);
            set_shape(&y->bo, 1, C);
            reg(m, &n, &y->bo, false, false, false, "layers.%d.attn.bo", l);
        }
        set_shape(&y->ln2_w, 1, C);
        reg(m, &n, &y->ln2_w, false, true, false, "layers.%d.norm2.weight", l);
        if (ln) {
            set_shape(&y->ln2_b, 1, C);
            reg(m, &n, &y->ln2_b, false, false, false, "layers.%d.norm2.bias", l);
        }
        if (is_glu(c->act)) {
            set_shape(&y->w_gate, F, C);
            reg(m, &n, &y->w_gate, true, false, false, "layers.%d.mlp.w_gate", l);
        }
        set_shape(&y->w_up, F, C);
        reg(m, &n, &y->w_up, true, false, false, "layers.%d.mlp.w_up", l);
        set_shape(&y->w_down, C, F);
        reg(m, &n, &y->w_down, true, false, true, "layers.%d.mlp.w_down", l);
        if (c->mlp_bias) {
            set_shape(&y->b_up, 1, F);
            reg(m, &n, &y->b_up, false, false, false, "layers.%d.mlp.b_up", l);
            set_shape(&y->b_down, 1, C);
            reg(m, &n, &y->b_down, false, false, false, "layers.%d.mlp.b_down", l);
        }
    }
    if (c->final_norm) {
        set_shape(&m->lnf_w, 1, C);
        reg(m, &n, &m->lnf_w, false, true, false, "norm_f.weight", 0);
        if (ln) {
            set_shape(&m->lnf_b, 1, C);
            reg(m, &n, &m->lnf_b, false, false, false, "norm_f.bias", 0);
        }
    }
    if (!c->tie_embeddings) {
        set_shape(&m->lm_head, V, C);
        reg(m, &n, &m->lm_head, true, false, false, "lm_head", 0);
    }
    n = cf__model_reg_heads(m, n);
    n = cf__model_reg_encdec(m, n);  // encdec.c; -1: out of memory
    if (n < 0) {
        cf_model_free(m);
        return CF_NOMEM(ctx);
    }
    m->n_params = n;
    *out = m;
    return CF_OK;
}

int64_t cf__weight_numel(const cf_weight *w) { return w->rows * w->cols; }

cf_status cf__model_alloc_slab(cf_model *m) {
    size_t total = 0;
    for (int i = 0; i < m->n_params; i++) {
        size_t n = (size_t)cf__weight_numel(m->params[i].w);
        total += (n + 15) & ~(size_t)15;  // keep every tensor 64-byte aligned
    }
    float *slab = cf__calloc(total ? total : 1, sizeof(float));
    if (!slab) return CF_NOMEM(m->ctx);
    size_t off = 0;
    for (int i = 0; i < m->n_params; i++) {
        cf_weight *w = m->params[i].w;
        w->data = slab + off;
        w->ld = w->cols;
        w->trans = false;
        off += ((size_t)cf__weight_numel(w) + 15) & ~(size_t)15;
    }
    cf__free(m->slab);
    m->slab = slab;
    m->slab_floats = total;
    if (m->cfg.tie_embeddings) m->lm_head = m->wte;
    return CF_OK;
}

size_t cf__weight_offset(const cf_model *m, const cf_weight *w) {
    return (size_t)(w->data - m->slab);
}

// Copies a (possibly transposed, strided) view into compact row-major (rows, cols) storage.
static void copy_compact(const cf_weight *w, float *dst) {
    for (int64_t r = 0; r < w->rows; r++)
        for (int64_t c = 0; c < w->cols; c++)
            dst[r * w->cols + c] = w->trans ? w->data[c * w->ld + r] : w->data[r * w->ld + c];
}

cf_status cf__model_make_writable(cf_model *m) {
    bool compact = m->slab != NULL && !m->mapped;
    for (int i = 0; i < m->n_params && compact; i++) {
        const cf_weight *w = m->params[i].w;
        compact = !w->trans && w->ld == w->cols && w->data >= m->slab &&
                  w->data < m->slab + m->slab_floats;
    }
    if (compact) return CF_OK;
    // Build a fresh slab, copy each view into it, then release the old storage.
    cf_weight *old = cf__malloc((size_t)m->n_params * sizeof(cf_weight));
    if (!old) return CF_NOMEM(m->ctx);
    for (int i = 0; i < m->n_params; i++) old[i] = *m->params[i].w;
    float *old_slab = m->slab;
    m->slab = NULL;
    cf_status st = cf__model_alloc_slab(m);
    if (st != CF_OK) {
        for (int i = 0; i < m->n_params; i++) *m->params[i].w = old[i];
        m->slab = old_slab;
        cf__free(old);
        return st;
    }
    for (int i = 0; i < m->n_params; i++) copy_compact(&old[i], m->params[i].w->data);
    cf__free(old);
    cf__free(old_slab);
    cf__file_unmap(&m->file);
    m->mapped = false;
    if (m->cfg.tie_embeddings) m->lm_head = m->wte;
    cf__model_weights_changed(m);  // the weights moved
    return CF_OK;
}

void cf__model_set_grads(cf_model *m, float *grads) {
    for (int i = 0; i < m->n_params; i++) {
        cf_weight *w = m->params[i].w;
        w->grad = grads ? grads + cf__weight_offset(m, w) : NULL;
    }
    if (m->cfg.tie_embeddings) m->lm_head = m->wte;
}

cf_param *cf__model_param(cf_model *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

// Position tables (RoPE cos/sin, sinusoidal) cover the first pos_len positions and grow on
// demand up to n_ctx, so their size follows what is used rather than what a file declares.
cf_status cf__model_positions(cf_model *m, int64_t n) {
    const cf_config *c = &m->cfg;
    if (n > c->n_ctx) n = c->n_ctx;
    if (n <= m->pos_len || (c->pos != CF_POS_ROPE && c->pos != CF_POS_SINUSOIDAL)) {
        if (n > m->pos_len) m->pos_len = n;
        return CF_OK;
    }
    if (c->pos == CF_POS_ROPE) {
        int64_t half = c->head_dim / 2;
        float *t = cf__malloc((size_t)n * (size_t)half * 2 * sizeof(float));
        if (!t) return CF_NOMEM(m->ctx);
        for (int64_t i = 0; i < half; i++) {
            // As Hugging Face and llama2.c compute it: the frequency and the angle in float32.
            float inv_freq = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)c->head_dim);
            for (int64_t p = 0; p < n; p++) {
                float ang = (float)p * inv_freq;
                t[(p * half + i) * 2] = (float)cos((double)ang);
                t[(p * half + i) * 2 + 1] = (float)sin((double)ang);
            }
        }
        cf__free(m->rope);
        m->rope = t;
    } else {
        int64_t C = c->n_embd;
        float *t = cf__malloc((size_t)n * (size_t)C * sizeof(float));
        if (!t) return CF_NOMEM(m->ctx);
        for (int64_t p = 0; p < n; p++)
            for (int64_t i = 0; i < C / 2; i++) {
                double ang = (double)p / pow(10000.0, (double)(2 * i) / (double)C);
                // Interleaved pairs, or (sinus_split, Marian) all sines then all cosines.
                int64_t si = c->sinus_split ? i : 2 * i, ci = c->sinus_split ? C / 2 + i : 2 * i + 1;
                t[p * C + si] = (float)sin(ang);
                t[p * C + ci] = (float)cos(ang);
            }
        cf__free(m->sinus);
        m->sinus = t;
    }
    m->pos_len = n;
    return CF_OK;
}

cf_status cf__model_finish(cf_model *m) {
    if (m->cfg.tie_embeddings) m->lm_head = m->wte;
    // A first table for up to 1024 positions, kept within the size of the weights (plus 1 MiB)
    // so that a small file cannot make the loader allocate gigabytes; sessions and trainers grow
    // it to the positions they use.
    const cf_config *c = &m->cfg;
    int64_t per_pos = c->pos == CF_POS_ROPE ? c->head_dim : c->pos == CF_POS_SINUSOIDAL ? c->n_embd : 0;
    int64_t n = c->n_ctx < 1024 ? c->n_ctx : 1024;
    if (per_pos > 0) {
        int64_t budget = cf_model_n_params(m) + (1 << 18);
        if (n * per_pos > budget) n = budget / per_pos > 1 ? budget / per_pos : 1;
    }
    return cf__model_positions(m, n);
}

static void init_weights(cf_model *m, uint64_t seed) {
    cf_rng rng;
    cf__rng_seed(&rng, seed);
    float std = 0.02f, res_std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layers);
    for (int i = 0; i < m->n_params; i++) {
        cf_param *p = &m->params[i];
        int64_t n = cf__weight_numel(p->w);
        float *d = p->w->data;
        if (p->is_norm) {
            for (int64_t k = 0; k < n; k++) d[k] = 1.0f;
        } else if (p->w->rows == 1 && !p->decay) {
            memset(d, 0, (size_t)n * sizeof(float));  // biases
        } else if (m->cfg.n_dec_layers > 0) {
            // Encoder-decoder models as fairseq and Marian initialise them: token embeddings
            // normal(0, C^-0.5) (unit scale after the sqrt(C) factor, like the positions),
            // matrices Xavier-normal, std sqrt(2 / (fan_in + fan_out)).
            bool embd = !strcmp(p->name, "tok_embeddings") || !strcmp(p->name, "src_tok_embeddings");
            float s = embd ? 1.0f / sqrtf((float)m->cfg.n_embd)
                           : sqrtf(2.0f / (float)(p->w->rows + p->w->cols));
            for (int64_t k = 0; k < n; k++) d[k] = s * cf__rng_normal(&rng);
        } else {
            float s = p->residual && m->cfg.causal ? res_std : std;  // encoders: BERT's init
            for (int64_t k = 0; k < n; k++) d[k] = s * cf__rng_normal(&rng);
        }
    }
}

cf_status cf_model_create(cf_ctx *ctx, const cf_config *cfg, uint64_t seed, cf_model **out) {
    *out = NULL;
    cf_config c = *cfg;
    CF_TRY(cf_config_finish(ctx, &c));
    cf_model *m;
    CF_TRY(cf__model_alloc(ctx, &c, &m));
    cf_status st = cf__model_alloc_slab(m);
    if (st == CF_OK) st = cf__model_finish(m);
    if (st != CF_OK) {
        cf_model_free(m);
        return st;
    }
    init_weights(m, seed);
    *out = m;
    return CF_OK;
}

void cf_model_free(cf_model *m) {
    if (!m) return;
    cf__free(m->layers);
    cf__free(m->params);
    cf__free(m->rope);
    cf__free(m->sinus);
    cf__free(m->slab);
    cf__file_unmap(&m->file);
    cf__free(m->labels);
    cf__free(m->dec_layers);
    cf__free(m->src_dir);
    cf__graph_deinit(m->enc_graph);
    cf__free(m->enc_graph);
    cf__prepack_free(m->prepack);
    if (m->s2s_graphs) {
        cf__graph_deinit(&m->s2s_graphs[0]);
        cf__graph_deinit(&m->s2s_graphs[1]);
    }
    cf__free(m->s2s_graphs);
    cf__free(m);
}

const cf_config *cf_model_config(const cf_model *m) { return &m->cfg; }
cf_ctx *cf_model_ctx(const cf_model *m) { return m->ctx; }
int cf_model_is_mapped(const cf_model *m) { return m->mapped; }
const char *cf_model_source(const cf_model *m) { return m->source; }
const char *cf_model_tokenizer_hint(const cf_model *m) {
    return m->tok_hint[0] ? m->tok_hint : NULL;
}
void cf_model_set_tokenizer_hint(cf_model *m, const char *hint) {
    snprintf(m->tok_hint, sizeof m->tok_hint, "%s", hint ? hint : "");
}

cf_status cf_model_memory(cf_model *m, int n_ctx, int chunk, int batch, int seq_len,
                          cf_memory_info *out) {
    const cf_config *c = &m->cfg;
    memset(out, 0, sizeof *out);
    if (n_ctx <= 0 || n_ctx > c->n_ctx) n_ctx = c->n_ctx;
    if (chunk <= 0) chunk = 256;
    if (chunk > n_ctx) chunk = n_ctx;
    out->weight_bytes = cf_model_n_params(m) * 4;
    int64_t kvd = (int64_t)c->n_kv_heads * c->head_dim;
    out->kv_bytes = 2 * (int64_t)c->n_layers * n_ctx * kvd * 4;
    if (batch < 0 || seq_len < 0 || (int64_t)batch * seq_len > ((int64_t)1 << 30))
        return CF_ERR(m->ctx, CF_ERR_INVALID_ARG, "training shape %d x %d is out of range", batch,
                      seq_len);
    int64_t bt = (int64_t)batch * seq_len;
    int32_t *zeros = cf__calloc((size_t)(chunk > bt ? chunk : bt) + 1, sizeof(int32_t));
    if (!zeros) return CF_NOMEM(m->ctx);
    cf_graph g;
    cf__graph_init(&g, m->ctx);
    cf_kv_cache kv = {NULL, NULL, n_ctx, kvd, c->n_layers};  // never touched while measuring
    g.kv = &kv;
    cf__graph_begin(&g, false, true);
    cf__model_forward(&g, m, zeros, 1, chunk, NULL, 0);
    out->activation_bytes = (int64_t)g.act.peak;
    out->prepack_bytes = (int64_t)cf__prepack_bytes(g.prepack, true);  // what the pass noted
    if (batch > 0 && seq_len > 0 && seq_len <= c->n_ctx) {
        g.kv = NULL;
        cf__graph_begin(&g, true, true);
        cf_tensor *l = cf__cross_entropy(&g, cf__model_forward(&g, m, zeros, batch, seq_len, NULL, 0),
                                         zeros);
        cf__graph_backward(&g, l, 1.0f);
        out->train_bytes = 4 * out->weight_bytes + (int64_t)g.act.peak + (int64_t)g.grads.peak;
    }
    bool oom = g.oom;
    cf__graph_deinit(&g);
    cf__free(zeros);
    return oom ? CF_NOMEM(m->ctx) : CF_OK;
}

int64_t cf_model_n_params(const cf_model *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++) n += cf__weight_numel(m->params[i].w);
    return n;
}

cf_status cf__check_tokens(cf_ctx *ctx, const int32_t *tokens, int64_t n, int32_t V) {
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return CF_ERR(ctx, CF_ERR_RANGE, "token id %d at position %lld is outside [0, %d)",
                          tokens[i], (long long)i, V);
    return CF_OK;
}

cf_status cf_model_forward(cf_model *m, const int32_t *tokens, int B, int T, float *logits) {
    cf_ctx *ctx = m->ctx;
    if (m->cfg.n_dec_layers > 0)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "cf_model_forward: %s", CF__S2S_ONLY);
    if (B < 1 || T < 1) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "B = %d, T = %d", B, T);
    if (T > m->cfg.n_ctx - m->cfg.pos_offset)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "T = %d exceeds the model's n_ctx = %d", T,
                      m->cfg.n_ctx - m->cfg.pos_offset);
    CF_TRY(cf__check_tokens(ctx, tokens, (int64_t)B * T, m->cfg.vocab_size));
    CF_TRY(cf__model_positions(m, T));
    cf_graph g;
    cf__graph_init(&g, ctx);
    cf__graph_begin(&g, false, true);
    cf__model_forward(&g, m, tokens, B, T, NULL, 0);
    cf_status st = cf__graph_plan(&g);
    if (st == CF_OK) {
        cf__graph_begin(&g, false, false);
        cf_tensor *out = cf__model_forward(&g, m, tokens, B, T, NULL, 0);
        if (g.oom) st = CF_NOMEM(ctx);
        else memcpy(logits, out->data, (size_t)out->n * sizeof(float));
    } else {
        st = CF_NOMEM(ctx);
    }
    cf__graph_deinit(&g);
    return st;
}
