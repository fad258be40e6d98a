// Allocation through a replaceable allocator, 64-byte aligned, with an OOM-injection hook for
// tests. Every cformer allocation goes through here.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../internal.h"

// Process-wide configuration, set before any context is made (like uv_replace_allocator).
static cf_allocator g_alloc;
// Test-only OOM injection counters.
static int64_t g_fail_at, g_count;

void cf_set_allocator(const cf_allocator *a) {
    if (a && a->malloc_fn && a->realloc_fn && a->free_fn) g_alloc = *a;
    else memset(&g_alloc, 0, sizeof g_alloc);
}

void cf__fail_alloc_at(int64_t nth) {
    g_fail_at = nth;
    g_count = 0;
}
int64_t cf__alloc_count(void) { return g_count; }

static void *raw_malloc(size_t n) {
    g_count++;
    if (g_fail_at > 0 && g_count == g_fail_at) return NULL;
    return g_alloc.malloc_fn ? g_alloc.malloc_fn(n, g_alloc.user) : malloc(n);
}
static void raw_free(void *p) {
    if (g_alloc.free_fn) g_alloc.free_fn(p, g_alloc.user);
    else free(p);
}

// Layout: [raw ... pad | header (raw pointer, size) | aligned user data]
typedef struct hdr {
    void *raw;
    size_t size;
} hdr;

// Large blocks (activation arenas, KV caches, weights, packed weights) ask for transparent huge
// pages: one fault and one TLB entry per 2 MiB instead of 512 (the first touch of a fresh
// decoding cache cost a tenth of a translation run in 4 KiB faults under virtualisation).
static void advise_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (n < 2 * huge || g_alloc.malloc_fn) return;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

void *cf__malloc(size_t n) {
    if (n == 0) n = 1;
    size_t total;
    if (!cf__add_ok(n, CF_ALIGN + sizeof(hdr), &total)) return NULL;
    uint8_t *raw = raw_malloc(total);
    if (!raw) return NULL;
    advise_huge(raw, total);
    uintptr_t u = ((uintptr_t)raw + sizeof(hdr) + CF_ALIGN - 1) & ~(uintptr_t)(CF_ALIGN - 1);
    hdr *h = (hdr *)u - 1;
    h->raw = raw;
    h->size = n;
    return (void *)u;
}

void *cf__calloc(size_t n, size_t size) {
    size_t t;
    if (!cf__mul_ok(n, size, &t)) return NULL;
    void *p = cf__malloc(t);
    if (p) memset(p, 0, t);
    return p;
}

void *cf__realloc(void *p, size_t n) {
    if (!p) return cf__malloc(n);
    hdr *h = (hdr *)p - 1;
    void *q = cf__malloc(n);
    if (!q) return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    cf__free(p);
    return q;
}

void cf__free(void *p) {
    if (!p) return;
    hdr *h = (hdr *)p - 1;
    raw_free(h->raw);
}

char *cf__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = cf__malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
