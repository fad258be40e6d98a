// Packed weights for inference GEMMs: each weight matrix the linear layer multiplies is packed
// once into the GEMM's panel layout (cf__gemm_pack_b) and reused by every later call, instead of
// being repacked on every call (which at batch 1 costs about a quarter of BERT's forward).
//
// A cache is owned by a model (models/model_prepack.c). Entries are found by the weight's view
// (data pointer, rows, cols, ld, trans) in a small open-addressing table, and record the kernel
// table and the cache's version they were packed for: cf__prepack_invalidate (every change of
// the weights) drops every entry and bumps the version, so nothing packed before a change is
// ever used after it; the next inference packs afresh. A measuring pass
// only notes the entries (their size is what cf_model_memory reports). Packing stops at the
// budget: matrices past it keep being packed per call. Running out of memory for the cache sets
// g->oom, so the call reports CF_ERR_NOMEM like any other planned allocation. A bf16 context
// (ctx->bf16) packs the weights as bf16 pairs for cf__gemm_bf16_packed instead (half the bytes);
// an entry records which form it holds.
#include <string.h>

#include "nn.h"

typedef struct prepack_entry {
    const float *data;        // the weight's storage; NULL: free slot
    int64_t rows, cols, ld;
    bool trans;
    const cf_kernels *k;      // the table packed for; NULL: not packed yet
    bool bf16;                // packed as bf16 pairs (cf__gemm_bf16_pack_b)
    uint64_t version;         // the cache's version when packed
    void *packed;             // NULL until packed
    size_t bytes;             // the packed size for this view and form
} prepack_entry;

struct cf_prepack {
    prepack_entry *e;         // cap slots, cap a power of two, at most half used
    size_t cap, n;
    uint64_t version;
    size_t budget;            // bytes of packed data at most
    size_t held;              // bytes of packed data now
    size_t planned;           // bytes of every noted entry, packed or not
};

cf_prepack *cf__prepack_create(size_t budget) {
    cf_prepack *p = cf__calloc(1, sizeof *p);
    if (p) p->budget = budget;
    return p;
}

void cf__prepack_free(cf_prepack *p) {
    if (!p) return;
    for (size_t i = 0; i < p->cap; i++) cf__free(p->e[i].packed);
    cf__free(p->e);
    cf__free(p);
}

void cf__prepack_invalidate(cf_prepack *p) {
    if (!p) return;
    // Drop every entry: the weights may also have moved (a mapping made a compact slab), and
    // training should not carry a second copy of the weights.
    for (size_t i = 0; i < p->cap; i++) cf__free(p->e[i].packed);
    if (p->cap) memset(p->e, 0, p->cap * sizeof *p->e);
    p->n = 0;
    p->held = 0;
    p->planned = 0;
    p->version++;
}

size_t cf__prepack_bytes(const cf_prepack *p, bool planned) {
    if (!p) return 0;
    if (!planned) return p->held;
    return p->planned < p->budget ? p->planned : p->budget;
}

static size_t slot_of(const float *data, size_t cap) {
    uint64_t h = (uint64_t)(uintptr_t)data * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static bool same_view(const prepack_entry *e, const cf_weight *w) {
    return e->data == w->data && e->rows == w->rows && e->cols == w->cols && e->ld == w->ld &&
           e->trans == w->trans;
}

// The entry of w, made when missing; NULL when the table cannot grow.
static size_t packed_bytes(const cf_ctx *ctx, const cf_weight *w) {
    if (ctx->bf16) return cf__gemm_bf16_packed_bytes(w->rows, w->cols);
    return cf__gemm_packed_floats(ctx->k, w->rows, w->cols) * sizeof(float);
}

static prepack_entry *find(cf_prepack *p, const cf_weight *w, const cf_ctx *ctx) {
    if (p->cap) {
        for (size_t i = slot_of(w->data, p->cap);; i = (i + 1) & (p->cap - 1)) {
            prepack_entry *e = &p->e[i];
            if (!e->data) break;
            if (same_view(e, w)) return e;
        }
    }
    if (2 * (p->n + 1) > p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        prepack_entry *t = cf__calloc(cap, sizeof *t);
        if (!t) return NULL;
        for (size_t j = 0; j < p->cap; j++) {
            if (!p->e[j].data) continue;
            size_t i = slot_of(p->e[j].data, cap);
            while (t[i].data) i = (i + 1) & (cap - 1);
            t[i] = p->e[j];
        }
        cf__free(p->e);
        p->e = t;
        p->cap = cap;
    }
    size_t i = slot_of(w->data, p->cap);
    while (p->e[i].data) i = (i + 1) & (p->cap - 1);
    prepack_entry *e = &p->e[i];
    *e = (prepack_entry){w->data, w->rows, w->cols, w->ld, w->trans, NULL, false, 0, NULL, 0};
    e->bytes = packed_bytes(ctx, w);
    p->n++;
    p->planned += e->bytes;
    return e;
}

const void *cf__prepack_get(cf_graph *g, const cf_weight *w) {
    cf_prepack *p = g->prepack;
    if (!p || !w->data) return NULL;
    cf_ctx *ctx = g->ctx;
    const cf_kernels *k = ctx->k;
    prepack_entry *e = find(p, w, ctx);
    if (!e) g->oom = true;  // the cache is part of the memory inference plans for
    if (!e || g->measure) return NULL;
    if (e->packed && e->k == k && e->bf16 == ctx->bf16 && e->version == p->version)
        return e->packed;
    size_t bytes = packed_bytes(ctx, w);
    if (!e->packed || e->bytes != bytes) {
        size_t held = p->held - (e->packed ? e->bytes : 0);
        cf__free(e->packed);
        e->packed = NULL;
        p->held = held;
        p->planned = p->planned - e->bytes + bytes;
        e->bytes = bytes;
        if (held + bytes > p->budget) return NULL;
        e->packed = cf__malloc(bytes);
        if (!e->packed) {
            g->oom = true;
            return NULL;
        }
        p->held = held + bytes;
    }
    // y = x W^T: W (out = rows, in = cols) is op(B)^T, i.e. B with tb; stored transposed
    // (Conv1D: (in, out)) it is B itself.
    if (ctx->bf16)
        cf__gemm_bf16_pack_b(ctx, !w->trans, w->rows, w->cols, w->data, w->ld, e->packed);
    else cf__gemm_pack_b(ctx, !w->trans, w->rows, w->cols, w->data, w->ld, e->packed);
    e->k = k;
    e->bf16 = ctx->bf16;
    e->version = p->version;
    return e->packed;
}
