// Layers the encoder models (BERT family) add to nn/: the embedding sum with explicit position
// and token-type ids, tanh (the pooler), masked mean pooling and L2 normalisation (sentence
// embeddings), class-weighted cross-entropy (classification) and the extractive-QA loss.
// Each records itself on the tape like the other layers; each backward is checked by finite
// differences in tests/grad.
//
// Not here: the order in which a model calls them (src/models/encoder.c). The pooled, per-class
// and QA tensors are small (B rows, or B*T rows of 2..n_labels values), so these loops run on
// the calling thread; only the embedding sum, which touches B*T*C values, is threaded.
#include <math.h>
#include <string.h>

#include "nn.h"

// ---- embedding sum: wte[token] + wpe[pos_id] + wtt[type_id] ----

typedef struct esum_job {
    const cf_kernels *k;
    const cf_weight *wte, *wpe, *wtt;
    const int32_t *tokens, *pos, *types;
    int64_t rows, C;
    float *y;
    const float *dy;
} esum_job;

static void esum_task(int ith, int nth, void *arg) {
    const esum_job *j = arg;
    int64_t r0, r1;
    cf__split(j->rows, 1, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        float *y = j->y + r * j->C;
        memcpy(y, j->wte->data + (int64_t)j->tokens[r] * j->wte->ld, (size_t)j->C * sizeof(float));
        if (j->wpe) j->k->axpy(j->C, 1.0f, j->wpe->data + (int64_t)j->pos[r] * j->wpe->ld, y);
        if (j->wtt) {
            int64_t ty = j->types ? j->types[r] : 0;
            j->k->axpy(j->C, 1.0f, j->wtt->data + ty * j->wtt->ld, y);
        }
    }
}

// Scatter-add; threads split the columns so repeated ids never race and the order is fixed.
static void esum_bwd_task(int ith, int nth, void *arg) {
    const esum_job *j = arg;
    int64_t c0, c1;
    cf__split(j->C, 16, ith, nth, &c0, &c1);
    if (c0 >= c1) return;
    for (int64_t r = 0; r < j->rows; r++) {
        const float *d = j->dy + r * j->C + c0;
        if (j->wte->grad)
            j->k->axpy(c1 - c0, 1.0f, d, j->wte->grad + (int64_t)j->tokens[r] * j->wte->ld + c0);
        if (j->wpe && j->wpe->grad)
            j->k->axpy(c1 - c0, 1.0f, d, j->wpe->grad + (int64_t)j->pos[r] * j->wpe->ld + c0);
        if (j->wtt && j->wtt->grad) {
            int64_t ty = j->types ? j->types[r] : 0;
            j->k->axpy(c1 - c0, 1.0f, d, j->wtt->grad + ty * j->wtt->ld + c0);
        }
    }
}

static void esum_bwd(cf_graph *g, const cf_node *n) {
    if (g->measure) return;
    const int32_t *ids = n->p;
    int64_t rows = n->i[0];
    esum_job j = {g->k, n->w[0], n->w[1], n->w[2], ids, ids + rows, n->i[2] ? ids + 2 * rows : NULL,
                  rows, n->i[1], NULL, n->out->grad};
    cf__run(g, 3.0 * (double)n->out->n, esum_bwd_task, &j);
}

cf_tensor *cf__embed_sum(cf_graph *g, const cf_weight *wte, const cf_weight *wpe,
                         const cf_weight *wtt, const int32_t *tokens, const int32_t *pos_ids,
                         const int32_t *type_ids, int64_t B, int64_t T) {
    int64_t C = wte->cols, rows = B * T;
    CF_ASSERT((!wpe || wpe->cols == C) && (!wtt || wtt->cols == C));
    cf_tensor *y = cf__tensor3(g, B, T, C);
    // The ids are kept for backward: tokens, positions, then types.
    int32_t *kept = cf__arena_alloc(&g->act, (size_t)(3 * rows) * sizeof(int32_t));
    if (!g->measure) {
        memcpy(kept, tokens, (size_t)rows * sizeof(int32_t));
        if (pos_ids) memcpy(kept + rows, pos_ids, (size_t)rows * sizeof(int32_t));
        if (type_ids) memcpy(kept + 2 * rows, type_ids, (size_t)rows * sizeof(int32_t));
        esum_job j = {g->k, wte, wpe, wtt, kept, kept + rows, type_ids ? kept + 2 * rows : NULL,
                      rows, C, y->data, NULL};
        cf__run(g, 3.0 * (double)y->n, esum_task, &j);
    }
    cf_node *n = cf__record(g, esum_bwd, y);
    if (n) {
        n->w[0] = wte;
        n->w[1] = wpe;
        n->w[2] = wtt;
        n->p = kept;
        n->i[0] = rows;
        n->i[1] = C;
        n->i[2] = type_ids != NULL;
    }
    return y;
}

// ---- tanh ----

static void tanh_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0], *y = n->out;
    float *dx = cf__grad(g, x);
    if (g->measure) return;
    for (int64_t i = 0; i < x->n; i++) dx[i] += y->grad[i] * (1.0f - y->data[i] * y->data[i]);
}

cf_tensor *cf__tanh(cf_graph *g, cf_tensor *x) {
    cf_tensor *y = cf__tensor(g, x->ndim, x->shape);
    if (!g->measure)
        for (int64_t i = 0; i < x->n; i++) y->data[i] = tanhf(x->data[i]);
    cf_node *n = cf__record(g, tanh_bwd, y);
    if (n) n->in[0] = x;
    return y;
}

// ---- masked mean over positions ----

static void mmean_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0];
    float *dx = cf__grad(g, x);
    if (g->measure) return;
    const float *inv = n->saved;  // (B): 1 / count, 0 where the row's weight is 0
    const uint8_t *mask = n->p;
    int64_t B = n->i[0], T = n->i[1], C = n->i[2];
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            if (!mask || mask[b * T + t])
                g->k->axpy(C, inv[b], n->out->grad + b * C, dx + (b * T + t) * C);
}

cf_tensor *cf__masked_mean(cf_graph *g, cf_tensor *x, const uint8_t *mask, int64_t B, int64_t T) {
    int64_t C = x->shape[x->ndim - 1];
    CF_ASSERT(x->n == B * T * C);
    cf_tensor *y = cf__tensor2(g, B, C);
    float *inv = cf__act_alloc(g, B);
    uint8_t *kept = mask ? cf__arena_alloc(&g->act, (size_t)(B * T)) : NULL;
    if (!g->measure) {
        if (mask) memcpy(kept, mask, (size_t)(B * T));
        memset(y->data, 0, (size_t)y->n * sizeof(float));
        for (int64_t b = 0; b < B; b++) {
            int64_t cnt = 0;
            for (int64_t t = 0; t < T; t++) {
                if (mask && !mask[b * T + t]) continue;
                cnt++;
                g->k->axpy(C, 1.0f, x->data + (b * T + t) * C, y->data + b * C);
            }
            // A row with no tokens pools to zeros (sentence-transformers divides by
            // max(count, 1e-9), which gives the same).
            inv[b] = cnt ? 1.0f / (float)cnt : 0.0f;
            g->k->scale(C, inv[b], y->data + b * C);
        }
    }
    cf_node *n = cf__record(g, mmean_bwd, y);
    if (n) {
        n->in[0] = x;
        n->saved = inv;
        n->p = kept;
        n->i[0] = B;
        n->i[1] = T;
        n->i[2] = C;
    }
    return y;
}

// ---- L2 normalisation of rows ----

static void l2n_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0], *y = n->out;
    float *dx = cf__grad(g, x);
    if (g->measure) return;
    int64_t C = x->shape[x->ndim - 1], rows = x->n / C;
    float eps = n->f[0];
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y->data + r * C, *dy = y->grad + r * C;
        float nrm = n->saved[r];
        // y = x / max(|x|, eps). Above eps: dx = (dy - y (y . dy)) / |x|; below: dy / eps.
        float yd = nrm > eps ? g->k->dot(C, yr, dy) : 0.0f;
        float s = 1.0f / (nrm > eps ? nrm : eps);
        for (int64_t c = 0; c < C; c++) dx[r * C + c] += s * (dy[c] - yr[c] * yd);
    }
}

cf_tensor *cf__l2_normalize(cf_graph *g, cf_tensor *x, float eps) {
    int64_t C = x->shape[x->ndim - 1], rows = x->n / C;
    cf_tensor *y = cf__tensor(g, x->ndim, x->shape);
    float *nrm = cf__act_alloc(g, rows);
    if (!g->measure)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x->data + r * C;
            double s = 0;
            for (int64_t c = 0; c < C; c++) s += (double)xr[c] * xr[c];
            nrm[r] = (float)sqrt(s);
            float d = nrm[r] > eps ? nrm[r] : eps;  // torch.nn.functional.normalize
            for (int64_t c = 0; c < C; c++) y->data[r * C + c] = xr[c] / d;
        }
    cf_node *n = cf__record(g, l2n_bwd, y);
    if (n) {
        n->in[0] = x;
        n->saved = nrm;
        n->f[0] = eps;
    }
    return y;
}

// ---- class-weighted cross-entropy ----

// Softmax of row x (K values) into p; returns the log-sum-exp.
static double softmax_row(const float *x, int64_t K, double *p) {
    double m = -INFINITY;
    for (int64_t k = 0; k < K; k++) m = x[k] > m ? x[k] : m;
    double s = 0;
    for (int64_t k = 0; k < K; k++) s += exp((double)x[k] - m);
    double lse = m + log(s);
    if (p)
        for (int64_t k = 0; k < K; k++) p[k] = exp((double)x[k] - lse);
    return lse;
}

static void wce_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *logits = n->in[0];
    float *dl = cf__grad(g, logits);
    if (g->measure) return;
    int64_t K = n->i[0], N = logits->n / K;
    double wsum = n->f[0];
    if (!(wsum > 0)) return;
    const int32_t *tg = n->p;
    const float *w = n->saved;  // (K) or NULL
    float seed = n->out->grad[0];
    for (int64_t r = 0; r < N; r++) {
        if (tg[r] < 0) continue;
        const float *x = logits->data + r * K;
        double lse = softmax_row(x, K, NULL);
        double s = (double)seed * (w ? w[tg[r]] : 1.0) / wsum;
        for (int64_t k = 0; k < K; k++) dl[r * K + k] += (float)(s * exp((double)x[k] - lse));
        dl[r * K + tg[r]] -= (float)s;
    }
}

cf_tensor *cf__cross_entropy_w(cf_graph *g, cf_tensor *logits, const int32_t *targets,
                               const float *class_w) {
    int64_t K = logits->shape[logits->ndim - 1], N = logits->n / K, one = 1;
    cf_tensor *loss = cf__tensor(g, 1, &one);
    int32_t *kept = cf__arena_alloc(&g->act, (size_t)N * sizeof(int32_t));
    float *w = class_w ? cf__act_alloc(g, K) : NULL;
    double wsum = 0;
    if (!g->measure) {
        memcpy(kept, targets, (size_t)N * sizeof(int32_t));
        if (w) memcpy(w, class_w, (size_t)K * sizeof(float));
        double sum = 0;
        for (int64_t r = 0; r < N; r++) {
            if (targets[r] < 0) continue;
            const float *x = logits->data + r * K;
            double wt = w ? w[targets[r]] : 1.0;
            sum += wt * (softmax_row(x, K, NULL) - x[targets[r]]);
            wsum += wt;
        }
        // torch.nn.CrossEntropyLoss(weight): sum_i w[y_i] nll_i / sum_i w[y_i].
        loss->data[0] = wsum > 0 ? (float)(sum / wsum) : 0.0f;
    }
    cf_node *n = cf__record(g, wce_bwd, loss);
    if (n) {
        n->in[0] = logits;
        n->p = kept;
        n->saved = w;
        n->i[0] = K;
        n->f[0] = (float)wsum;
    }
    return loss;
}

// ---- extractive QA: mean of the start and end cross-entropies ----

static void qa_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *logits = n->in[0];
    float *dl = cf__grad(g, logits);
    if (g->measure) return;
    int64_t B = n->i[0], T = n->i[1];
    const int32_t *pos = n->p;  // (2, B): start, end, already clamped; T means ignored
    float *row = n->saved;      // scratch: T floats, then T doubles
    double *p = (double *)(void *)(row + 2 * ((T + 1) / 2));
    float seed = n->out->grad[0];
    for (int e = 0; e < 2; e++) {
        int64_t valid = n->i[2 + e];
        if (!valid) continue;
        double s = 0.5 * (double)seed / (double)valid;
        for (int64_t b = 0; b < B; b++) {
            int32_t y = pos[e * B + b];
            if (y >= T) continue;
            for (int64_t t = 0; t < T; t++) row[t] = logits->data[(b * T + t) * 2 + e];
            softmax_row(row, T, p);
            for (int64_t t = 0; t < T; t++) dl[(b * T + t) * 2 + e] += (float)(s * p[t]);
            dl[(b * T + y) * 2 + e] -= (float)s;
        }
    }
}

cf_tensor *cf__qa_loss(cf_graph *g, cf_tensor *logits, int64_t B, int64_t T,
                       const int32_t *start, const int32_t *end) {
    CF_ASSERT(logits->n == B * T * 2);
    int64_t one = 1;
    cf_tensor *loss = cf__tensor(g, 1, &one);
    int32_t *pos = cf__arena_alloc(&g->act, (size_t)(2 * B) * sizeof(int32_t));
    float *row = cf__act_alloc(g, 2 * ((T + 1) / 2) + 2 * T);  // T floats, T doubles
    int64_t valid[2] = {0, 0};
    if (!g->measure) {
        double part[2] = {0, 0};
        for (int e = 0; e < 2; e++)
            for (int64_t b = 0; b < B; b++) {
                // As BertForQuestionAnswering: positions clamped to [0, T]; T is ignored.
                int32_t y = (e ? end : start)[b];
                y = y < 0 ? 0 : y > T ? (int32_t)T : y;
                pos[e * B + b] = y;
                if (y >= T) continue;
                for (int64_t t = 0; t < T; t++) row[t] = logits->data[(b * T + t) * 2 + e];
                part[e] += softmax_row(row, T, NULL) - row[y];
                valid[e]++;
            }
        // torch gives NaN for a mean over no targets; an all-ignored side counts 0 here.
        double ls = valid[0] ? part[0] / (double)valid[0] : 0.0;
        double le = valid[1] ? part[1] / (double)valid[1] : 0.0;
        loss->data[0] = (float)(0.5 * (ls + le));
    }
    cf_node *n = cf__record(g, qa_bwd, loss);
    if (n) {
        n->in[0] = logits;
        n->p = pos;
        n->saved = row;
        n->i[0] = B;
        n->i[1] = T;
        n->i[2] = valid[0];
        n->i[3] = valid[1];
    }
    return loss;
}
