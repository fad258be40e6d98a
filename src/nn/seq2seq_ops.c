// Layers the encoder-decoder models need beyond the decoder-only set: scaled token embeddings
// plus positions (Marian and the original Transformer multiply the embeddings by sqrt(C) before
// adding positions), and label-smoothed cross-entropy. Cross-attention itself is the attention
// kernel with the source padding mask (cf__cross_attention in attention.c).
//
// Not here: the model wiring (src/models/decoder.c) or decoding (src/infer/seq2seq.c).
#include <math.h>
#include <string.h>

#include "nn.h"

// ---- scale and add positions ----

typedef struct spos_job {
    const cf_kernels *k;
    const float *x;
    float *y;
    const float *wpe, *table;  // rows of C floats at pos0 + t; either may be NULL
    int64_t ld_wpe, rows, T, C, pos0;
    float scale;
} spos_job;

static void spos_task(int ith, int nth, void *arg) {
    const spos_job *j = arg;
    int64_t r0, r1;
    cf__split(j->rows, 1, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t p = j->pos0 + r % j->T;
        const float *x = j->x + r * j->C;
        float *y = j->y + r * j->C;
        for (int64_t c = 0; c < j->C; c++) y[c] = j->scale * x[c];
        if (j->wpe) j->k->axpy(j->C, 1.0f, j->wpe + p * j->ld_wpe, y);
        if (j->table) j->k->axpy(j->C, 1.0f, j->table + p * j->C, y);
    }
}

static void spos_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0], *y = n->out;
    float *dx = x->needs_grad ? cf__grad(g, x) : NULL;
    if (g->measure) return;
    int64_t C = n->i[0], T = n->i[1], pos0 = n->i[2], rows = x->n / C;
    if (dx) g->k->axpy(x->n, n->f[0], y->grad, dx);
    const cf_weight *wpe = n->w[0];
    if (wpe && wpe->grad)  // one thread: two rows of a batch share a position row
        for (int64_t r = 0; r < rows; r++)
            g->k->axpy(C, 1.0f, y->grad + r * C, wpe->grad + (pos0 + r % T) * wpe->ld);
}

cf_tensor *cf__scale_add_pos(cf_graph *g, cf_tensor *x, float scale, const cf_weight *wpe,
                             const float *table, int64_t pos0) {
    CF_ASSERT(x->ndim == 3);
    int64_t T = x->shape[1], C = x->shape[2];
    cf_tensor *y = cf__tensor(g, 3, x->shape);
    if (!g->measure) {
        spos_job j = {g->k, x->data, y->data, wpe ? wpe->data : NULL, table,
                      wpe ? wpe->ld : 0, x->n / C, T, C, pos0, scale};
        cf__run(g, 3.0 * (double)x->n, spos_task, &j);
    }
    cf_node *n = cf__record(g, spos_bwd, y);
    if (n) {
        n->in[0] = x;
        n->w[0] = wpe;
        n->f[0] = scale;
        n->i[0] = C;
        n->i[1] = T;
        n->i[2] = pos0;
    }
    return y;
}

// ---- label-smoothed cross-entropy ----
//
// The definition of torch.nn.CrossEntropyLoss(label_smoothing = eps), which Hugging Face's
// LabelSmoother also computes: the target distribution is (1 - eps) on the label plus eps / V
// on every class, so per row
//   loss = lse - (1 - eps) x[t] - (eps / V) sum_j x[j]
// and the mean is over the rows whose target is not ignored (< 0, e.g. padding mapped to -1).
// fairseq's label_smoothed_nll_loss spreads eps / (V - 1) over the other classes instead; the
// two differ by O(eps / V). Backward: dx = softmax - q with q the smoothed target.

typedef struct ls_job {
    const cf_kernels *k;
    const float *logits;
    const int32_t *targets;
    int64_t N, V;
    float eps;
    float *lse, *row_loss, *scratch;  // scratch: per thread V floats
    float *dlogits;
    float scale;  // d(loss) / n_valid
} ls_job;

static void ls_fwd_task(int ith, int nth, void *arg) {
    const ls_job *j = arg;
    int64_t r0, r1;
    cf__split(j->N, 1, ith, nth, &r0, &r1);
    float *tmp = j->scratch + (size_t)ith * j->V;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->logits + r * j->V;
        float m = j->k->max(j->V, x);
        float s = j->k->exp_sum(j->V, x, m, tmp);
        j->lse[r] = m + logf(s);
        int32_t t = j->targets[r];
        if (t < 0) {
            j->row_loss[r] = 0.0f;
            continue;
        }
        double sum = 0;
        for (int64_t c = 0; c < j->V; c++) sum += x[c];
        double eps = j->eps;
        j->row_loss[r] = (float)((double)j->lse[r] - (1.0 - eps) * x[t] - eps * sum / (double)j->V);
    }
}

static void ls_bwd_task(int ith, int nth, void *arg) {
    const ls_job *j = arg;
    int64_t r0, r1;
    cf__split(j->N, 1, ith, nth, &r0, &r1);
    float *tmp = j->scratch + (size_t)ith * j->V;
    float uniform = j->scale * j->eps / (float)j->V;
    for (int64_t r = r0; r < r1; r++) {
        int32_t t = j->targets[r];
        if (t < 0) continue;
        const float *x = j->logits + r * j->V;
        float *d = j->dlogits + r * j->V;
        j->k->exp_sum(j->V, x, j->lse[r], tmp);
        j->k->axpy(j->V, j->scale, tmp, d);
        for (int64_t c = 0; c < j->V; c++) d[c] -= uniform;
        d[t] -= j->scale * (1.0f - j->eps);
    }
}

static void ls_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *logits = n->in[0];
    float *dl = cf__grad(g, logits);
    int64_t V = logits->shape[logits->ndim - 1], N = logits->n / V;
    float *scratch = cf__arena_alloc(&g->grads, (size_t)g->ctx->n_threads * (size_t)V * 4);
    if (g->measure) return;
    int64_t valid = n->i[0];
    if (valid == 0) return;
    ls_job j = {g->k, logits->data, n->p, N, V, n->f[0], n->saved, NULL, scratch, dl,
                n->out->grad[0] / (float)valid};
    cf__run(g, 12.0 * (double)logits->n, ls_bwd_task, &j);
}

cf_tensor *cf__cross_entropy_smooth(cf_graph *g, cf_tensor *logits, const int32_t *targets,
                                    float eps) {
    int64_t V = logits->shape[logits->ndim - 1], N = logits->n / V;
    int64_t one = 1;
    cf_tensor *loss = cf__tensor(g, 1, &one);
    float *lse = cf__act_alloc(g, N);
    float *row_loss = cf__act_alloc(g, N);
    float *scratch = cf__act_alloc(g, (int64_t)g->ctx->n_threads * V);
    int32_t *kept = cf__arena_alloc(&g->act, (size_t)N * sizeof(int32_t));
    int64_t valid = 0;
    if (!g->measure) {
        for (int64_t r = 0; r < N; r++) {
            kept[r] = targets[r];
            valid += targets[r] >= 0;
        }
        ls_job j = {g->k, logits->data, kept, N, V, eps, lse, row_loss, scratch, NULL, 0};
        cf__run(g, 12.0 * (double)logits->n, ls_fwd_task, &j);
        double sum = 0;  // fixed order, in double: the same result for any thread count
        for (int64_t r = 0; r < N; r++) sum += row_loss[r];
        loss->data[0] = valid ? (float)(sum / (double)valid) : 0.0f;
    }
    cf_node *n = cf__record(g, ls_bwd, loss);
    if (n) {
        n->in[0] = logits;
        n->saved = lse;
        n->p = kept;
        n->i[0] = valid;
        n->f[0] = eps;
    }
    return loss;
}
