// cformer internals shared across src/: allocation, errors, checked arithmetic, bounded reads,
// arenas, the thread pool, random numbers. Never installed; the public API is include/cformer.
#ifndef CF_INTERNAL_H
#define CF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cformer/cformer.h"

// ---- panics and asserts (programmer errors only, never bad input) ----

void cf__panic(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
#define CF_PANIC(...) cf__panic(__FILE__, __LINE__, __VA_ARGS__)
#define CF_ASSERT(x)                                         \
    do {                                                     \
        if (!(x)) cf__panic(__FILE__, __LINE__, "assertion failed: %s", #x); \
    } while (0)
#ifdef NDEBUG
#define CF_DASSERT(x) ((void)0)
#else
#define CF_DASSERT(x) CF_ASSERT(x)
#endif

// ---- allocation (routed through cf_set_allocator; 64-byte aligned) ----

#define CF_ALIGN 64
void *cf__malloc(size_t n);          // 64-byte aligned; NULL on failure (or n == 0: 1 byte)
void *cf__calloc(size_t n, size_t size);
void *cf__realloc(void *p, size_t n);  // keeps 64-byte alignment
void cf__free(void *p);
char *cf__strdup(const char *s);
// Test hook: fail the nth allocation from now (1-based); 0 disables. Returns allocations made
// since the counter was last reset.
void cf__fail_alloc_at(int64_t nth);
int64_t cf__alloc_count(void);

// ---- errors ----

struct cf_ctx;
// Records a message in ctx (may be NULL) and returns status. The message gets " [file:line]"
// of the detection site appended in debug builds.
cf_status cf__err(struct cf_ctx *ctx, cf_status st, const char *file, int line, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
#define CF_ERR(ctx, st, ...) cf__err((ctx), (st), __FILE__, __LINE__, __VA_ARGS__)
#define CF_FORMAT_ERR(ctx, ...) cf__err((ctx), CF_ERR_FORMAT, __FILE__, __LINE__, __VA_ARGS__)
#define CF_NOMEM(ctx) cf__err((ctx), CF_ERR_NOMEM, __FILE__, __LINE__, "out of memory")
#define CF_TRY(expr)                      \
    do {                                  \
        cf_status st_ = (expr);           \
        if (st_ != CF_OK) return st_;     \
    } while (0)

// ---- checked arithmetic ----

static inline bool cf__mul_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool cf__add_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

// ---- bounded reader over a byte buffer ----

typedef struct cf_reader {
    const uint8_t *base;
    size_t size;
    size_t pos;
} cf_reader;

static inline size_t cf__reader_left(const cf_reader *r) { return r->size - r->pos; }
// Each returns false (and reads nothing) when fewer bytes remain than requested.
bool cf__read_bytes(cf_reader *r, void *dst, size_t n);
bool cf__read_u32(cf_reader *r, uint32_t *v);  // little-endian
bool cf__read_i32(cf_reader *r, int32_t *v);
bool cf__read_u64(cf_reader *r, uint64_t *v);
bool cf__read_f32(cf_reader *r, float *v);
bool cf__skip(cf_reader *r, size_t n);

// ---- files ----

// A whole file, memory-mapped read-only (or read into memory when mapping fails).
typedef struct cf_file {
    uint8_t *data;
    size_t size;
    int mapped;
} cf_file;
cf_status cf__file_map(struct cf_ctx *ctx, const char *path, cf_file *f);
void cf__file_unmap(cf_file *f);
// Reads a whole (small) file into a NUL-terminated buffer. *out: owned, cf__free.
cf_status cf__file_read(struct cf_ctx *ctx, const char *path, size_t max_size, char **out,
                        size_t *size);
// Writes data to path atomically: path.tmp.<pid>, fsync, rename, fsync of the folder.
typedef struct cf_wbuf {
    uint8_t *data;
    size_t len, cap;
    bool oom;
} cf_wbuf;
void cf__wbuf_put(cf_wbuf *b, const void *p, size_t n);
void cf__wbuf_printf(cf_wbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cf__wbuf_free(cf_wbuf *b);
// Writes the chunks (ptr, len pairs) to path atomically.
cf_status cf__write_atomic(struct cf_ctx *ctx, const char *path, const void *const *chunks,
                           const size_t *lens, int n_chunks);
bool cf__is_dir(const char *path);
bool cf__file_exists(const char *path);
cf_status cf__mkdir_p(struct cf_ctx *ctx, const char *path);
// dir + "/" + name into a fresh string (cf__free).
char *cf__path_join(const char *dir, const char *name);

// ---- arena: one slab, bump allocation, 64-byte aligned, reset as a whole ----
//
// With measure set, allocations return NULL and only the size is tracked; a planning pass runs
// the same code once in measure mode, then the arena is sized exactly and reused.

typedef struct cf_arena {
    uint8_t *base;
    size_t cap;
    size_t used;
    size_t peak;
    bool measure;
} cf_arena;
void *cf__arena_alloc(cf_arena *a, size_t n);  // NULL in measure mode; panics if over cap
void cf__arena_reset(cf_arena *a);
cf_status cf__arena_reserve(cf_arena *a, size_t cap);  // frees and reallocates to cap bytes
void cf__arena_free(cf_arena *a);

// ---- random numbers: splitmix64 seeding a xoshiro256** generator ----

typedef struct cf_rng {
    uint64_t s[4];
} cf_rng;
void cf__rng_seed(cf_rng *r, uint64_t seed);
uint64_t cf__rng_u64(cf_rng *r);
float cf__rng_uniform(cf_rng *r);  // [0, 1), 24 random bits
float cf__rng_normal(cf_rng *r);   // standard normal (Box-Muller, one value per call)
uint64_t cf__rng_below(cf_rng *r, uint64_t n);  // uniform in [0, n), unbiased
// A stateless 64-bit mix (splitmix64's finaliser of x + golden ratio): counter-based streams
// (dropout masks) that any thread can evaluate at any index.
static inline uint64_t cf__mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// ---- the thread pool ----
//
// cf_pool_run calls fn(ith, nth, arg) on nth threads (the caller is thread 0) and returns when
// all are done. Workers spin briefly, then sleep on a condition variable.
typedef struct cf_pool cf_pool;
typedef void (*cf_task_fn)(int ith, int nth, void *arg);
cf_pool *cf__pool_create(int n_threads);
void cf__pool_run(cf_pool *p, cf_task_fn fn, void *arg);
int cf__pool_size(const cf_pool *p);
void cf__pool_free(cf_pool *p);

// Splits [0, n) into nth near-equal contiguous parts, in multiples of `multiple`.
static inline void cf__split(int64_t n, int64_t multiple, int ith, int nth, int64_t *lo,
                             int64_t *hi) {
    int64_t blocks = (n + multiple - 1) / multiple;
    int64_t b0 = blocks * ith / nth, b1 = blocks * (ith + 1) / nth;
    *lo = b0 * multiple < n ? b0 * multiple : n;
    *hi = b1 * multiple < n ? b1 * multiple : n;
}

// ---- cpu features ----

typedef struct cf_cpu {
    bool avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512dq, avx512bf16, amx;
    int n_cores;  // online cores
} cf_cpu;
cf_cpu cf__cpu_detect(void);

// ---- the context ----

struct cf_kernels;
struct cf_ctx {
    cf_pool *pool;
    const struct cf_kernels *k;
    int n_threads;
    float *scratch;        // per-thread GEMM packing buffers, n_threads * scratch_floats
    size_t scratch_floats;
    const struct cf_blas *blas;  // an external SGEMM for large products, or NULL
    size_t prepack_budget;       // bytes of packed inference weights a model may keep (0: none)
    bool bf16;                   // linear layers' products in bf16 (cf_ctx_params.precision)
    char errmsg[1024];
};

// ---- timing ----
double cf__now(void);  // monotonic seconds

#endif
