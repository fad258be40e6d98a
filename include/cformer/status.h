// cformer: status codes, the context object and its error message.
//
// Every fallible public function returns a cf_status. The detailed message (what went wrong, in
// which file, at which byte offset) is kept in the cf_ctx that was passed in and read with
// cf_errmsg(), in the manner of sqlite3_errmsg().
#ifndef CFORMER_STATUS_H
#define CFORMER_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CF_BUILD_SHARED)
#define CF_API __attribute__((visibility("default")))
#else
#define CF_API
#endif

typedef enum cf_status {
    CF_OK = 0,
    CF_ERR_NOMEM,        // an allocation failed
    CF_ERR_IO,           // open/read/write/rename failed
    CF_ERR_FORMAT,       // corrupt, truncated or hostile file contents
    CF_ERR_UNSUPPORTED,  // valid input that this build cannot handle
    CF_ERR_INVALID_ARG,  // a parameter or configuration value is impossible
    CF_ERR_SHAPE,        // tensor shapes do not agree
    CF_ERR_RANGE,        // an index (e.g. a token id) is out of range
    CF_ERR_CANCELLED,    // stopped on request (signal, callback)
    CF_ERR_INTERNAL,     // a bug in cformer
} cf_status;

// Returns a static, human-readable name for a status ("format error", ...). Never NULL.
CF_API const char *cf_status_str(cf_status s);

// A context owns the thread pool, the chosen kernels and the last error message. Every other
// object is created from a context and must be freed before it. A context and the objects made
// from it may be used by one thread at a time.
typedef struct cf_ctx cf_ctx;

typedef struct cf_ctx_params {
    int n_threads;    // 0: CF_NUM_THREADS from the environment, else the number of cores
    const char *isa;  // NULL: CF_ISA from the environment, else the best the CPU supports;
                      // "ref", "avx2" or "avx512" force a kernel set
    const char *blas; // NULL: CF_BLAS from the environment; "openblas" hands large GEMMs to
                      // OpenBLAS loaded at run time (when installed); "none" or "": never
    int prepack_mib;  // inference keeps weight matrices packed for the GEMM (one more copy of
                      // them), at most this many MiB per model. 0: CF_PREPACK from the
                      // environment (MiB; 0 = off), else 4096; < 0: off. Unused with a BLAS.
    const char *precision;  // NULL: CF_PRECISION from the environment, else "fp32". "bf16": the
                      // linear layers' products (inference and training, forward and backward)
                      // round both operands to bf16 and sum in fp32, about twice as fast;
                      // weights, gradients, optimizer state and every other op stay fp32. Needs
                      // AVX512_BF16 (CF_ERR_UNSUPPORTED otherwise), the AVX-512 kernels and the
                      // packed-weight cache (not with a BLAS, prepack_mib < 0 or CF_PREPACK=0).
} cf_ctx_params;

CF_API cf_ctx_params cf_ctx_default_params(void);

// Creates a context. Returns CF_ERR_NOMEM, or CF_ERR_UNSUPPORTED when the requested ISA is not
// available on this CPU (no context is made then). *out: owned by caller, free with cf_ctx_free.
CF_API cf_status cf_ctx_create(const cf_ctx_params *params, cf_ctx **out);
CF_API void cf_ctx_free(cf_ctx *ctx);  // NULL is allowed

// The message of the last failed call made with this context; "" if none. Borrowed, valid until
// the next call that uses the context.
CF_API const char *cf_errmsg(const cf_ctx *ctx);

// Name of the kernel set in use ("ref", "avx2", "avx512"). Static string.
CF_API const char *cf_ctx_isa(const cf_ctx *ctx);
// Name of the external BLAS in use ("openblas"), or NULL when cformer's own GEMM does all.
CF_API const char *cf_ctx_blas(const cf_ctx *ctx);
CF_API int cf_ctx_n_threads(const cf_ctx *ctx);
CF_API const char *cf_ctx_precision(const cf_ctx *ctx);  // "fp32" or "bf16"

// Replaces the allocator used by every cformer allocation (process wide; call before creating
// any context). Passing NULL for all three restores malloc/realloc/free. Memory returned to
// cformer must be aligned to at least 16 bytes; cformer adds its own 64-byte alignment on top.
typedef struct cf_allocator {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *p, size_t size, void *user);
    void (*free_fn)(void *p, void *user);
    void *user;
} cf_allocator;
CF_API void cf_set_allocator(const cf_allocator *a);

// Called on a broken internal invariant (a bug, never bad input) before abort(). An embedder
// may log and longjmp out. NULL restores the default, which prints to stderr.
typedef void (*cf_panic_fn)(const char *file, int line, const char *msg);
CF_API void cf_set_panic_handler(cf_panic_fn fn);

#ifdef __cplusplus
}
#endif
#endif
