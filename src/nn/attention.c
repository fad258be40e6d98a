// Multi-head scaled dot-product attention: causal or bidirectional, grouped-query (H query heads
// share KVH key/value heads), optional key padding mask, optional KV cache.
//
// Forward, per (batch, head), in blocks of QB query rows: S = scale Q K^T (one small GEMM over
// the keys the block can see), row softmax, O = P V. Only the log-sum-exp of each row is saved
// (B*H*T floats), never the T x T probabilities: backward recomputes P block by block, as
// FlashAttention does, and gets dQ, dK, dV from four more small GEMMs:
//   dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),  dQ += scale dS K,
//   dK += scale dS^T Q,  dV += P^T dO.
// Threads take whole (batch, head) pairs forward and whole (batch, kv-head) groups backward, so
// no two threads write the same dK/dV rows.
#include <math.h>
#include <string.h>

#include "nn.h"

enum { QB = 64 };  // query rows per block

typedef struct attn_job {
    cf_ctx *ctx;
    const cf_kernels *k;
    const float *q, *kk, *v, *o;
    float *out, *lse;
    int64_t B, H, KVH, D, Tq, Tk, pos0;
    int64_t ldq, ldk;         // row strides of q/o and of k/v
    int64_t kv_bstride;       // floats between batches in k/v
    bool causal;
    float scale;
    const uint8_t *key_mask;  // (B, Tk) or NULL
    const int32_t *kv_rows;   // cf_kv_cache.rows (row stride kv_rows_ld) or NULL
    int64_t kv_rows_ld;
    float *scratch;           // per thread: 2 * QB * Tk floats
    size_t scratch_floats;
    // backward
    const float *dout;
    float *dq, *dk, *dv;
} attn_job;

static inline int64_t keys_visible(const attn_job *j, int64_t t_end) {
    if (!j->causal) return j->Tk;
    int64_t n = j->pos0 + t_end;
    return n < j->Tk ? n : j->Tk;
}

// Turns rows [t0, t1) of scores s (ld = nk) into probabilities. With lse_in, uses the saved
// log-sum-exp (backward); else computes it into lse_out.
static void softmax_rows(const attn_job *j, int64_t b, float *s, int64_t t0, int64_t t1,
                         int64_t nk, const float *lse_in, float *lse_out) {
    const uint8_t *km = j->key_mask ? j->key_mask + b * j->Tk : NULL;
    for (int64_t t = t0; t < t1; t++) {
        float *row = s + (t - t0) * nk;
        int64_t n = j->causal ? j->pos0 + t + 1 : j->Tk;
        if (n > nk) n = nk;
        if (km)
            for (int64_t c = 0; c < n; c++)
                if (!km[c]) row[c] = -INFINITY;
        if (lse_in) {
            float l = lse_in[t];
            if (l == -INFINITY) {  // no visible key: the output row was zero
                memset(row, 0, (size_t)nk * sizeof(float));
                continue;
            }
            j->k->exp_sum(n, row, l, row);
        } else {
            float m = j->k->max(n, row);
            if (m == -INFINITY) {
                memset(row, 0, (size_t)nk * sizeof(float));
                lse_out[t] = -INFINITY;
                continue;
            }
            float sum = j->k->exp_sum(n, row, m, row);
            j->k->scale(n, 1.0f / sum, row);
            lse_out[t] = m + logf(sum);
        }
        if (km)
            for (int64_t c = 0; c < n; c++)
                if (!km[c]) row[c] = 0.0f;
        for (int64_t c = n; c < nk; c++) row[c] = 0.0f;
    }
}

// One query row of sequence b, head h (key head kh) against keys 0..nk-1 that sit in other
// sequences' cache slots (cf_kv_cache.rows): scores by runs of keys in the same slot, output as
// a sum of value rows. The arithmetic is that of the gemv path (same per-row dot products, same
// accumulation order), so results do not depend on where the keys were cached.
static void decode_rows(const attn_job *j, int64_t b, int64_t kh, int64_t t0, const float *q,
                        int64_t nk, float *s, float *o, float *lse) {
    const int32_t *rows = j->kv_rows + b * j->kv_rows_ld;
    for (int64_t c0 = 0; c0 < nk;) {
        int64_t c1 = c0 + 1;
        while (c1 < nk && rows[c1] == rows[c0]) c1++;
        const float *K = j->kk + rows[c0] * j->kv_bstride + c0 * j->ldk + kh * j->D;
        j->k->gemv_n(c1 - c0, j->D, K, j->ldk, q, s + c0, 0.0f);
        c0 = c1;
    }
    j->k->scale(nk, j->scale, s);
    softmax_rows(j, b, s, t0, t0 + 1, nk, NULL, lse);
    memset(o, 0, (size_t)j->D * sizeof(float));
    for (int64_t c = 0; c < nk; c++)
        j->k->axpy(j->D, s[c], j->v + rows[c] * j->kv_bstride + c * j->ldk + kh * j->D, o);
}

static void attn_fwd_task(int ith, int nth, void *arg) {
    const attn_job *j = arg;
    int64_t p0, p1;
    cf__split(j->B * j->H, 1, ith, nth, &p0, &p1);
    float *s = j->scratch + (size_t)ith * j->scratch_floats;
    float *gs = j->ctx->scratch + (size_t)ith * j->ctx->scratch_floats;
    int64_t group = j->H / j->KVH;
    for (int64_t pair = p0; pair < p1; pair++) {
        int64_t b = pair / j->H, h = pair % j->H, kh = h / group;
        const float *Q = j->q + b * j->Tq * j->ldq + h * j->D;
        const float *K = j->kk + b * j->kv_bstride + kh * j->D;
        const float *V = j->v + b * j->kv_bstride + kh * j->D;
        float *O = j->out + b * j->Tq * j->ldq + h * j->D;
        float *lse = j->lse + (b * j->H + h) * j->Tq;
        for (int64_t t0 = 0; t0 < j->Tq; t0 += QB) {
            int64_t t1 = t0 + QB < j->Tq ? t0 + QB : j->Tq, qb = t1 - t0;
            int64_t nk = keys_visible(j, t1);
            if (qb == 1 && j->kv_rows) {  // beams: keys and values read where they were cached
                decode_rows(j, b, kh, t0, Q + t0 * j->ldq, nk, s, O + t0 * j->ldq, lse);
                continue;
            }
            if (qb == 1) {  // one query (a decoding step): two matrix-vector products, no packing
                j->k->gemv_n(nk, j->D, K, j->ldk, Q + t0 * j->ldq, s, 0.0f);
                j->k->scale(nk, j->scale, s);
                softmax_rows(j, b, s, t0, t1, nk, NULL, lse);
                j->k->gemv_t(nk, j->D, V, j->ldk, s, O + t0 * j->ldq, 0.0f);
                continue;
            }
            CF_ASSERT(!j->kv_rows);
            cf__gemm_st(j->k, gs, false, true, qb, nk, j->D, j->scale, Q + t0 * j->ldq, j->ldq, K,
                        j->ldk, 0.0f, s, nk);
            softmax_rows(j, b, s, t0, t1, nk, NULL, lse);
            cf__gemm_st(j->k, gs, false, false, qb, j->D, nk, 1.0f, s, nk, V, j->ldk, 0.0f,
                        O + t0 * j->ldq, j->ldq);
        }
    }
}

static void attn_bwd_task(int ith, int nth, void *arg) {
    const attn_job *j = arg;
    int64_t p0, p1;
    cf__split(j->B * j->KVH, 1, ith, nth, &p0, &p1);
    float *P = j->scratch + (size_t)ith * j->scratch_floats;
    float *dP = P + QB * j->Tk;
    float *gs = j->ctx->scratch + (size_t)ith * j->ctx->scratch_floats;
    int64_t group = j->H / j->KVH;
    for (int64_t pair = p0; pair < p1; pair++) {
        int64_t b = pair / j->KVH, kh = pair % j->KVH;
        const float *K = j->kk + b * j->kv_bstride + kh * j->D;
        const float *V = j->v + b * j->kv_bstride + kh * j->D;
        float *dK = j->dk + b * j->kv_bstride + kh * j->D;
        float *dV = j->dv + b * j->kv_bstride + kh * j->D;
        for (int64_t h = kh * group; h < (kh + 1) * group; h++) {
            int64_t qoff = b * j->Tq * j->ldq + h * j->D;
            const float *Q = j->q + qoff, *O = j->o + qoff, *dO = j->dout + qoff;
            float *dQ = j->dq + qoff;
            const float *lse = j->lse + (b * j->H + h) * j->Tq;
            for (int64_t t0 = 0; t0 < j->Tq; t0 += QB) {
                int64_t t1 = t0 + QB < j->Tq ? t0 + QB : j->Tq, qb = t1 - t0;
                int64_t nk = keys_visible(j, t1);
                cf__gemm_st(j->k, gs, false, true, qb, nk, j->D, j->scale, Q + t0 * j->ldq,
                            j->ldq, K, j->ldk, 0.0f, P, nk);
                softmax_rows(j, b, P, t0, t1, nk, lse, NULL);
                cf__gemm_st(j->k, gs, false, true, qb, nk, j->D, 1.0f, dO + t0 * j->ldq, j->ldq,
                            V, j->ldk, 0.0f, dP, nk);
                for (int64_t t = t0; t < t1; t++) {
                    float di = j->k->dot(j->D, dO + t * j->ldq, O + t * j->ldq);
                    float *pr = P + (t - t0) * nk, *dr = dP + (t - t0) * nk;
                    for (int64_t c = 0; c < nk; c++) dr[c] = pr[c] * (dr[c] - di) * j->scale;
                }
                cf__gemm_st(j->k, gs, false, false, qb, j->D, nk, 1.0f, dP, nk, K, j->ldk, 1.0f,
                            dQ + t0 * j->ldq, j->ldq);
                cf__gemm_st(j->k, gs, true, false, nk, j->D, qb, 1.0f, dP, nk, Q + t0 * j->ldq,
                            j->ldq, 1.0f, dK, j->ldk);
                cf__gemm_st(j->k, gs, true, false, nk, j->D, qb, 1.0f, P, nk, dO + t0 * j->ldq,
                            j->ldq, 1.0f, dV, j->ldk);
            }
        }
    }
}

static void attn_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *o = n->out;
    float *dq = cf__grad(g, q), *dk = cf__grad(g, k), *dv = cf__grad(g, v);
    int nth = g->ctx->n_threads;
    int64_t Tk = k->shape[1];
    size_t per = 2 * (size_t)QB * (size_t)Tk;
    float *scratch = cf__arena_alloc(&g->grads, per * (size_t)nth * sizeof(float));
    if (g->measure) return;
    int64_t H = n->i[0], KVH = n->i[1], D = n->i[2];
    attn_job j = {g->ctx, g->k, q->data, k->data, v->data, o->data, NULL, n->saved,
                  q->shape[0], H, KVH, D, q->shape[1], Tk, 0, H * D, KVH * D, Tk * KVH * D,
                  n->i[3] != 0, 1.0f / sqrtf((float)D), n->p, NULL, 0, scratch, per, o->grad, dq,
                  dk, dv};
    double flops = 8.0 * (double)q->shape[0] * (double)H * (double)q->shape[1] * (double)Tk * (double)D;
    cf__run(g, flops, attn_bwd_task, &j);
}

cf_tensor *cf__attention(cf_graph *g, cf_tensor *q, cf_tensor *k, cf_tensor *v, int64_t H,
                         int64_t KVH, int64_t D, bool causal, int layer) {
    int64_t B = q->shape[0], Tq = q->shape[1];
    CF_ASSERT(q->ndim == 3 && q->shape[2] == H * D && k->shape[2] == KVH * D);
    CF_ASSERT(v->n == k->n && H % KVH == 0);
    cf_tensor *o = cf__tensor(g, 3, q->shape);
    float *lse = cf__act_alloc(g, B * H * Tq);
    const float *K = k->data, *V = v->data;
    int64_t Tk = k->shape[1], ldk = KVH * D, kv_bstride = Tk * KVH * D, pos0 = 0;
    if (g->kv) {
        // Append the new keys/values to this layer's cache and attend over everything cached.
        // With n_seq > 1 the cache holds n_seq sequences (batched decoding), all at pos0.
        int64_t n_seq = g->kv->n_seq > 1 ? g->kv->n_seq : 1;
        CF_ASSERT(!g->train && B <= n_seq && Tk == Tq && g->kv->kv_dim == KVH * D);
        CF_ASSERT(g->pos0 + Tq <= g->kv->n_ctx);
        int64_t seq_stride = g->kv->n_ctx * g->kv->kv_dim;
        float *ck = g->kv->k + (int64_t)layer * n_seq * seq_stride;
        float *cv = g->kv->v + (int64_t)layer * n_seq * seq_stride;
        if (!g->measure)
            for (int64_t b = 0; b < B; b++) {
                size_t bytes = (size_t)(Tq * ldk) * sizeof(float);
                memcpy(ck + b * seq_stride + g->pos0 * ldk, k->data + b * Tq * ldk, bytes);
                memcpy(cv + b * seq_stride + g->pos0 * ldk, v->data + b * Tq * ldk, bytes);
            }
        K = ck;
        V = cv;
        pos0 = g->pos0;
        Tk = g->pos0 + Tq;
        kv_bstride = seq_stride;
    }
    int nth = g->ctx->n_threads;
    // Scratch is sized for the longest key range this graph can see.
    int64_t tk_max = g->kv ? g->kv->n_ctx : Tk;
    size_t per = (size_t)QB * (size_t)tk_max;
    float *scratch = cf__act_alloc(g, (int64_t)(per * (size_t)nth));
    if (!g->measure) {
        attn_job j = {g->ctx, g->k, q->data, K, V, NULL, o->data, lse, B, H, KVH, D, Tq, Tk,
                      pos0, H * D, ldk, kv_bstride, causal, 1.0f / sqrtf((float)D), g->key_mask,
                      g->kv ? g->kv->rows : NULL, g->kv ? g->kv->n_ctx : 0,
                      scratch, per, NULL, NULL, NULL, NULL};
        double flops = 4.0 * (double)B * (double)H * (double)Tq * (double)Tk * (double)D;
        cf__run(g, flops, attn_fwd_task, &j);
    }
    cf_node *n = cf__record(g, attn_bwd, o);
    if (n) {
        n->in[0] = q;
        n->in[1] = k;
        n->in[2] = v;
        n->saved = lse;
        n->p = g->key_mask;
        n->i[0] = H;
        n->i[1] = KVH;
        n->i[2] = D;
        n->i[3] = causal;
    }
    return o;
}

cf_tensor *cf__cross_attention(cf_graph *g, cf_tensor *q, cf_tensor *k, cf_tensor *v, int64_t H,
                               int64_t D, const uint8_t *key_mask) {
    // The same kernel and backward rule as self-attention, bidirectional, with the source
    // padding mask instead of the graph's and no KV cache (the encoder keys are all given).
    CF_ASSERT(k->ndim == 3 && k->shape[0] == q->shape[0]);
    cf_kv_cache *kv = g->kv;
    const uint8_t *km = g->key_mask;
    g->kv = NULL;
    g->key_mask = key_mask;
    cf_tensor *o = cf__attention(g, q, k, v, H, H, D, false, -1);
    g->kv = kv;
    g->key_mask = km;
    return o;
}
