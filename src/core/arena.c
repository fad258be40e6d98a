// Bump arenas for activations and gradients: planned once (measure mode), then reused with no
// allocation in the step loop.
#include <string.h>

#include "../internal.h"

void *cf__arena_alloc(cf_arena *a, size_t n) {
    size_t off = (a->used + CF_ALIGN - 1) & ~(size_t)(CF_ALIGN - 1);
    size_t end = off + n;
    a->used = end;
    if (end > a->peak) a->peak = end;
    if (a->measure) return NULL;
    if (end > a->cap) CF_PANIC("arena overflow: %zu > %zu (planning pass missed a path)", end,
                               a->cap);
    return a->base + off;
}

void cf__arena_reset(cf_arena *a) { a->used = 0; }

cf_status cf__arena_reserve(cf_arena *a, size_t cap) {
    cf__free(a->base);
    a->base = NULL;
    a->cap = 0;
    if (cap) {
        a->base = cf__malloc(cap);
        if (!a->base) return CF_ERR_NOMEM;
    }
    a->cap = cap;
    a->used = 0;
    return CF_OK;
}

void cf__arena_free(cf_arena *a) {
    cf__free(a->base);
    memset(a, 0, sizeof *a);
}
