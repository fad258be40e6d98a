// The graph context: arenas for activations and their gradients, the meta arena for tensor
// descriptors and tape nodes, the tape itself and its reverse replay.
// Not here: any layer's math (see the other files in nn/).
#include <string.h>

#include "nn.h"

struct cf_meta_chunk {
    cf_meta_chunk *next;
    size_t cap;
    _Alignas(64) uint8_t data[];
};

enum { META_CHUNK = 256 * 1024 };

void cf__graph_init(cf_graph *g, cf_ctx *ctx) {
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    g->k = ctx->k;
}

void cf__graph_deinit(cf_graph *g) {
    if (!g) return;
    cf__arena_free(&g->act);
    cf__arena_free(&g->grads);
    for (cf_meta_chunk *c = g->meta; c;) {
        cf_meta_chunk *n = c->next;
        cf__free(c);
        c = n;
    }
    g->meta = NULL;
}

void cf__graph_begin(cf_graph *g, bool train, bool measure) {
    g->train = train;
    g->measure = measure;
    g->act.measure = measure;
    g->grads.measure = measure;
    cf__arena_reset(&g->act);
    cf__arena_reset(&g->grads);
    if (measure) {
        g->act.peak = 0;
        g->grads.peak = 0;
    }
    g->meta_cur = g->meta;
    g->meta_off = 0;
    g->tape = NULL;
    g->oom = false;
    g->prepack = NULL;
    g->dropout_calls = 0;
}

// An arena that must grow again (inference on growing shapes: batches sorted by length) grows
// by half at least, so a run of growing batches reallocates a few times, not once per batch:
// every reallocation is fresh memory, and first touches are costly (page faults; under a
// hypervisor, the host backing the page as well). The first reservation is exact.
static cf_status grow(cf_arena *a) {
    if (a->peak <= a->cap) return CF_OK;
    size_t want = a->peak;
    if (a->cap && want < a->cap + a->cap / 2) want = a->cap + a->cap / 2;
    return cf__arena_reserve(a, want);
}

cf_status cf__graph_plan(cf_graph *g) {
    if (g->oom) return CF_ERR_NOMEM;
    CF_TRY(grow(&g->act));
    CF_TRY(grow(&g->grads));
    return CF_OK;
}

size_t cf__graph_mark(const cf_graph *g) { return g->act.used; }

cf_tensor *cf__graph_keep(cf_graph *g, size_t mark, cf_tensor *out) {
    if (g->train) return out;
    size_t dst = (mark + CF_ALIGN - 1) & ~(size_t)(CF_ALIGN - 1);
    if (g->oom || !out) {  // the pass fails anyway: release the block, never grow past the plan
        if (dst < g->act.used) g->act.used = dst;
        return out;
    }
    size_t bytes = (size_t)out->n * sizeof(float);
    CF_ASSERT(dst + bytes <= g->act.used);  // out was allocated after the mark
    g->act.used = dst + bytes;
    if (g->measure) return out;
    uint8_t *src = (uint8_t *)out->data;
    CF_ASSERT(src >= g->act.base + dst);
    if (src != g->act.base + dst) memmove(g->act.base + dst, src, bytes);
    out->data = (float *)(void *)(g->act.base + dst);
    return out;
}

void *cf__meta_alloc(cf_graph *g, size_t n) {
    n = (n + 15) & ~(size_t)15;
    for (;;) {
        if (g->meta_cur && g->meta_off + n <= g->meta_cur->cap) {
            void *p = g->meta_cur->data + g->meta_off;
            g->meta_off += n;
            memset(p, 0, n);
            return p;
        }
        if (g->meta_cur && g->meta_cur->next) {  // reuse the next chunk from an earlier pass
            g->meta_cur = g->meta_cur->next;
            g->meta_off = 0;
            continue;
        }
        size_t cap = n > META_CHUNK ? n : META_CHUNK;
        cf_meta_chunk *c = cf__malloc(sizeof *c + cap);
        if (!c) {
            g->oom = true;
            memset(g->junk, 0, sizeof g->junk);
            CF_ASSERT(n <= sizeof g->junk);
            return g->junk;
        }
        c->next = NULL;
        c->cap = cap;
        if (g->meta_cur) g->meta_cur->next = c;
        else g->meta = c;
        g->meta_cur = c;
        g->meta_off = 0;
    }
}

float *cf__act_alloc(cf_graph *g, int64_t n) {
    return cf__arena_alloc(&g->act, (size_t)n * sizeof(float));
}

cf_tensor *cf__tensor(cf_graph *g, int ndim, const int64_t *shape) {
    cf_tensor *t = cf__meta_alloc(g, sizeof *t);
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->n *= shape[i];
    }
    t->data = cf__act_alloc(g, t->n);
    t->needs_grad = g->train;
    return t;
}

cf_tensor *cf__tensor2(cf_graph *g, int64_t d0, int64_t d1) {
    int64_t s[2] = {d0, d1};
    return cf__tensor(g, 2, s);
}

cf_tensor *cf__tensor3(cf_graph *g, int64_t d0, int64_t d1, int64_t d2) {
    int64_t s[3] = {d0, d1, d2};
    return cf__tensor(g, 3, s);
}

// Gradient buffers are marked allocated through a private sentinel during measuring passes,
// where no memory exists; they read as NULL to callers then.
static float grad_sentinel;

float *cf__grad(cf_graph *g, cf_tensor *t) {
    if (!t->grad) {
        float *p = cf__arena_alloc(&g->grads, (size_t)t->n * sizeof(float));
        if (p) memset(p, 0, (size_t)t->n * sizeof(float));
        t->grad = p ? p : &grad_sentinel;
    }
    return t->grad == &grad_sentinel ? NULL : t->grad;
}

cf_node *cf__record(cf_graph *g, cf_bwd_fn bwd, cf_tensor *out) {
    if (!g->train) return NULL;
    cf_node *n = cf__meta_alloc(g, sizeof *n);
    n->bwd = bwd;
    n->out = out;
    n->prev = g->tape;
    g->tape = n;
    return n;
}

void cf__graph_backward(cf_graph *g, cf_tensor *loss, float seed) {
    float *d = cf__grad(g, loss);
    if (d) d[0] = seed;
    for (cf_node *n = g->tape; n; n = n->prev) {
        if (!n->out->grad) continue;  // nothing downstream depends on this node
        n->bwd(g, n);
    }
}

void cf__run(cf_graph *g, double flops, cf_task_fn fn, void *arg) {
    if (g->ctx->n_threads == 1 || flops < 3e4) fn(0, 1, arg);
    else cf__pool_run(g->ctx->pool, fn, arg);
}
