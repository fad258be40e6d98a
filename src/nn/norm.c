// LayerNorm and RMSNorm over the last dimension, threaded over rows. Forward saves each row's
// mean and 1/std; backward accumulates weight/bias gradients in per-thread partial sums that
// are reduced in thread order (deterministic for a given thread count).
#include <string.h>

#include "nn.h"

typedef struct norm_job {
    const cf_kernels *k;
    bool rms;
    int64_t rows, c;
    const float *x, *w, *b;
    float eps;
    float *y, *saved;  // saved: (rows, 2) mean, rstd
    const float *dy;
    float *dx, *partial;  // partial: (nth, 2, c) dw, db per thread
} norm_job;

static void norm_fwd_task(int ith, int nth, void *arg) {
    const norm_job *j = arg;
    int64_t r0, r1;
    cf__split(j->rows, 1, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->c;
        float *y = j->y + r * j->c, *s = j->saved + 2 * r;
        if (j->rms) {
            s[0] = 0.0f;
            j->k->rmsnorm_fwd(j->c, x, j->w, j->eps, y, &s[1]);
        } else {
            j->k->layernorm_fwd(j->c, x, j->w, j->b, j->eps, y, &s[0], &s[1]);
        }
    }
}

static void norm_bwd_task(int ith, int nth, void *arg) {
    const norm_job *j = arg;
    int64_t r0, r1;
    cf__split(j->rows, 1, ith, nth, &r0, &r1);
    float *dw = j->partial + (size_t)ith * 2 * j->c, *db = dw + j->c;
    memset(dw, 0, (size_t)j->c * 2 * sizeof(float));
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->c, *dy = j->dy + r * j->c, *s = j->saved + 2 * r;
        float *dx = j->dx + r * j->c;
        if (j->rms) j->k->rmsnorm_bwd(j->c, x, j->w, s[1], dy, dx, dw);
        else j->k->layernorm_bwd(j->c, x, j->w, s[0], s[1], dy, dx, dw, j->b ? db : NULL);
    }
}

static void norm_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0], *y = n->out;
    const cf_weight *w = n->w[0], *b = n->w[1];
    int nth = g->ctx->n_threads;
    float *dx = cf__grad(g, x);
    int64_t c = x->shape[x->ndim - 1];
    float *partial = cf__arena_alloc(&g->grads, (size_t)nth * 2 * (size_t)c * sizeof(float));
    if (g->measure) return;
    norm_job j = {g->k, n->i[0] != 0, x->n / c, c, x->data, w->data, b ? b->data : NULL,
                  0, NULL, n->saved, y->grad, dx, partial};
    // Always run on the full pool so every thread's partial buffer is written.
    if (nth > 1) cf__pool_run(g->ctx->pool, norm_bwd_task, &j);
    else norm_bwd_task(0, 1, &j);
    for (int t = 0; t < nth; t++) {
        const float *pw = partial + (size_t)t * 2 * c, *pb = pw + c;
        if (w->grad) g->k->axpy(c, 1.0f, pw, w->grad);
        if (b && b->grad) g->k->axpy(c, 1.0f, pb, b->grad);
    }
}

static cf_tensor *norm(cf_graph *g, cf_tensor *x, const cf_weight *w, const cf_weight *b,
                       float eps, bool rms) {
    int64_t c = x->shape[x->ndim - 1];
    CF_ASSERT(w->cols == c && (!b || b->cols == c));
    cf_tensor *y = cf__tensor(g, x->ndim, x->shape);
    int64_t rows = x->n / c;
    float *saved = cf__act_alloc(g, 2 * rows);
    if (!g->measure) {
        norm_job j = {g->k, rms, rows, c, x->data, w->data, b ? b->data : NULL, eps, y->data,
                      saved, NULL, NULL, NULL};
        cf__run(g, 8.0 * (double)x->n, norm_fwd_task, &j);
    }
    cf_node *n = cf__record(g, norm_bwd, y);
    if (n) {
        n->in[0] = x;
        n->w[0] = w;
        n->w[1] = b;
        n->i[0] = rms;
        n->saved = saved;
    }
    return y;
}

cf_tensor *cf__layernorm(cf_graph *g, cf_tensor *x, const cf_weight *w, const cf_weight *b,
                         float eps) {
    return norm(g, x, w, b, eps, false);
}

cf_tensor *cf__rmsnorm(cf_graph *g, cf_tensor *x, const cf_weight *w, float eps) {
    return norm(g, x, w, NULL, eps, true);
}
