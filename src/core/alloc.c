// Allocation through a replaceable allocator, 64-byte aligned, with an OOM-injection hook for
// tests. Every cformer allocation goes through here.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

// No madvise(MADV_HUGEPAGE): the system's transparent-huge-page setting decides. cformer asked
// for huge pages on every large block until measurements on the Zen 5 VM of docs/BENCHMARKS.md
// showed them to slow the steady state: sequential reads 26-28 GB/s from huge pages against
// 33-34 from 4 KiB ones, BERT-base at batch 1 5.0-5.3 sentences/s against 6.4-7.6 (one thread),
// GPT-2 prompt processing 751-861 tokens/s against 892-912. What they saved, fewer first-touch
// faults (0.03-0.55 s against 0.75 s per 256 MiB), is paid once per buffer.
void *cf__malloc(size_t n) {
    if (n == 0) n = 1;
    size_t total;
    if (!cf__add_ok(n, CF_ALIGN + sizeof(hdr), &total)) return NULL;
    uint8_t *raw = raw_malloc(total);
    if (!raw) return NULL;
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
