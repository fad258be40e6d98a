// Element-wise layers: activations (GELU, GELU-tanh, ReLU, SiLU), gated units (SwiGLU, GeGLU),
// residual addition, dropout, and row gathering. Threaded in contiguous chunks.
#include <string.h>

#include "nn.h"

typedef struct ew_job {
    const cf_kernels *k;
    cf_act_op op;
    int64_t n;
    const float *a, *b, *d;
    float *y, *da, *db;
} ew_job;

static void act_fwd_task(int ith, int nth, void *arg) {
    const ew_job *j = arg;
    int64_t lo, hi;
    cf__split(j->n, 64, ith, nth, &lo, &hi);
    if (lo < hi) j->k->act_fwd(j->op, hi - lo, j->a + lo, j->y + lo);
}

static void act_bwd_task(int ith, int nth, void *arg) {
    const ew_job *j = arg;
    int64_t lo, hi;
    cf__split(j->n, 64, ith, nth, &lo, &hi);
    if (lo < hi) j->k->act_bwd(j->op, hi - lo, j->a + lo, j->d + lo, j->da + lo);
}

static void act_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0];
    float *dx = cf__grad(g, x);
    if (g->measure) return;
    ew_job j = {g->k, (cf_act_op)n->i[0], x->n, x->data, NULL, n->out->grad, NULL, dx, NULL};
    cf__run(g, 20.0 * (double)x->n, act_bwd_task, &j);
}

cf_tensor *cf__act(cf_graph *g, cf_tensor *x, cf_act_op op) {
    cf_tensor *y = cf__tensor(g, x->ndim, x->shape);
    if (!g->measure) {
        ew_job j = {g->k, op, x->n, x->data, NULL, NULL, y->data, NULL, NULL};
        cf__run(g, 20.0 * (double)x->n, act_fwd_task, &j);
    }
    cf_node *n = cf__record(g, act_bwd, y);
    if (n) {
        n->in[0] = x;
        n->i[0] = op;
    }
    return y;
}

static void glu_fwd_task(int ith, int nth, void *arg) {
    const ew_job *j = arg;
    int64_t lo, hi;
    cf__split(j->n, 64, ith, nth, &lo, &hi);
    if (lo < hi) j->k->glu_fwd(j->op, hi - lo, j->a + lo, j->b + lo, j->y + lo);
}

static void glu_bwd_task(int ith, int nth, void *arg) {
    const ew_job *j = arg;
    int64_t lo, hi;
    cf__split(j->n, 64, ith, nth, &lo, &hi);
    if (lo < hi)
        j->k->glu_bwd(j->op, hi - lo, j->a + lo, j->b + lo, j->d + lo, j->da + lo, j->db + lo);
}

static void glu_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *gate = n->in[0], *up = n->in[1];
    float *dg = cf__grad(g, gate), *du = cf__grad(g, up);
    if (g->measure) return;
    ew_job j = {g->k, (cf_act_op)n->i[0], gate->n, gate->data, up->data, n->out->grad, NULL, dg,
                du};
    cf__run(g, 25.0 * (double)gate->n, glu_bwd_task, &j);
}

cf_tensor *cf__glu(cf_graph *g, cf_tensor *gate, cf_tensor *up, cf_act_op op) {
    CF_ASSERT(gate->n == up->n);
    cf_tensor *y = cf__tensor(g, gate->ndim, gate->shape);
    if (!g->measure) {
        ew_job j = {g->k, op, gate->n, gate->data, up->data, NULL, y->data, NULL, NULL};
        cf__run(g, 20.0 * (double)gate->n, glu_fwd_task, &j);
    }
    cf_node *n = cf__record(g, glu_bwd, y);
    if (n) {
        n->in[0] = gate;
        n->in[1] = up;
        n->i[0] = op;
    }
    return y;
}

static void add_task(int ith, int nth, void *arg) {
    const ew_job *j = arg;
    int64_t lo, hi;
    cf__split(j->n, 64, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) j->y[i] = j->a[i] + j->b[i];
}

static void acc2_task(int ith, int nth, void *arg) {
    const ew_job *j = arg;
    int64_t lo, hi;
    cf__split(j->n, 64, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    if (j->da) j->k->axpy(hi - lo, 1.0f, j->d + lo, j->da + lo);
    if (j->db) j->k->axpy(hi - lo, 1.0f, j->d + lo, j->db + lo);
}

static void add_bwd(cf_graph *g, const cf_node *n) {
    float *da = n->in[0]->needs_grad ? cf__grad(g, n->in[0]) : NULL;
    float *db = n->in[1]->needs_grad ? cf__grad(g, n->in[1]) : NULL;
    if (g->measure) return;
    ew_job j = {g->k, 0, n->out->n, NULL, NULL, n->out->grad, NULL, da, db};
    cf__run(g, 2.0 * (double)n->out->n, acc2_task, &j);
}

cf_tensor *cf__add(cf_graph *g, cf_tensor *a, cf_tensor *b) {
    CF_ASSERT(a->n == b->n);
    cf_tensor *y = cf__tensor(g, a->ndim, a->shape);
    if (!g->measure) {
        ew_job j = {g->k, 0, a->n, a->data, b->data, NULL, y->data, NULL, NULL};
        cf__run(g, (double)a->n, add_task, &j);
    }
    cf_node *n = cf__record(g, add_bwd, y);
    if (n) {
        n->in[0] = a;
        n->in[1] = b;
    }
    return y;
}

// ---- dropout ----

typedef struct drop_job {
    uint64_t base;   // the call's stream
    uint64_t thr;    // an element is dropped when its 24-bit draw is below thr
    float scale;     // 1 / (1 - p)
    int64_t n;
    const float *x;  // forward: input; backward: dy
    float *y;        // forward: output; backward: dx (accumulated)
    bool acc;
} drop_job;

static void drop_task(int ith, int nth, void *arg) {
    const drop_job *j = arg;
    int64_t lo, hi;
    cf__split(j->n, 64, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        float v = (cf__mix64(j->base + (uint64_t)i) >> 40) < j->thr ? 0.0f : j->x[i] * j->scale;
        j->y[i] = j->acc ? j->y[i] + v : v;
    }
}

static drop_job drop_setup(uint64_t seed, uint64_t call, float p) {
    drop_job j = {0};
    j.base = cf__mix64(seed ^ cf__mix64(call));
    j.thr = (uint64_t)((double)p * 16777216.0);  // p in 2^-24 steps
    j.scale = 1.0f / (1.0f - p);
    return j;
}

static void dropout_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0];
    float *dx = cf__grad(g, x);
    if (g->measure) return;
    drop_job j = drop_setup((uint64_t)n->i[0], (uint64_t)n->i[1], n->f[0]);
    j.n = x->n;
    j.x = n->out->grad;
    j.y = dx;
    j.acc = true;
    cf__run(g, 8.0 * (double)x->n, drop_task, &j);
}

cf_tensor *cf__dropout(cf_graph *g, cf_tensor *x) {
    float p = g->dropout;
    if (!g->train || !(p > 0.0f)) return x;
    CF_ASSERT(p < 1.0f);
    uint64_t call = g->dropout_calls++;
    cf_tensor *y = cf__tensor(g, x->ndim, x->shape);
    if (!g->measure) {
        drop_job j = drop_setup(g->dropout_seed, call, p);
        j.n = x->n;
        j.x = x->data;
        j.y = y->data;
        cf__run(g, 8.0 * (double)x->n, drop_task, &j);
    }
    cf_node *n = cf__record(g, dropout_bwd, y);
    if (n) {
        n->in[0] = x;
        n->f[0] = p;
        n->i[0] = (int64_t)g->dropout_seed;
        n->i[1] = (int64_t)call;
    }
    return y;
}

static void gather_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0];
    float *dx = cf__grad(g, x);
    if (g->measure) return;
    const int64_t *rows = n->p;
    int64_t c = x->shape[x->ndim - 1];
    for (int64_t r = 0; r < n->i[0]; r++)
        g->k->axpy(c, 1.0f, n->out->grad + r * c, dx + rows[r] * c);
}

cf_tensor *cf__gather_rows(cf_graph *g, cf_tensor *x, const int64_t *rows, int64_t n_rows) {
    int64_t c = x->shape[x->ndim - 1];
    cf_tensor *y = cf__tensor2(g, n_rows, c);
    int64_t *kept = cf__arena_alloc(&g->act, (size_t)n_rows * sizeof(int64_t));
    if (!g->measure) {
        memcpy(kept, rows, (size_t)n_rows * sizeof(int64_t));
        for (int64_t r = 0; r < n_rows; r++)
            memcpy(y->data + r * c, x->data + rows[r] * c, (size_t)c * sizeof(float));
    }
    cf_node *n = cf__record(g, gather_bwd, y);
    if (n) {
        n->in[0] = x;
        n->p = kept;
        n->i[0] = n_rows;
    }
    return y;
}
