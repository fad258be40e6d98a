// Status names, error recording, panics and the context object (thread pool + kernel table).
// Deliberately not here: anything that parses files (see src/io) or runs kernels.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "../kernels/kernels.h"  // defines: cf_kernels, cf__kernels_select

const char *cf_status_str(cf_status s) {
    switch (s) {
    case CF_OK: return "ok";
    case CF_ERR_NOMEM: return "out of memory";
    case CF_ERR_IO: return "i/o error";
    case CF_ERR_FORMAT: return "format error";
    case CF_ERR_UNSUPPORTED: return "unsupported";
    case CF_ERR_INVALID_ARG: return "invalid argument";
    case CF_ERR_SHAPE: return "shape mismatch";
    case CF_ERR_RANGE: return "out of range";
    case CF_ERR_CANCELLED: return "cancelled";
    case CF_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

cf_status cf__err(cf_ctx *ctx, cf_status st, const char *file, int line, const char *fmt, ...) {
    if (!ctx) return st;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
#ifndef NDEBUG
    if (n >= 0 && (size_t)n < sizeof ctx->errmsg - 1) {
        const char *base = strrchr(file, '/');
        snprintf(ctx->errmsg + n, sizeof ctx->errmsg - (size_t)n, " [%s:%d]", base ? base + 1 : file,
                 line);
    }
#else
    (void)file, (void)line, (void)n;
#endif
    return st;
}

const char *cf_errmsg(const cf_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }

// The panic hook is process-wide configuration, set once by an embedder before use.
static cf_panic_fn g_panic_fn;

void cf_set_panic_handler(cf_panic_fn fn) { g_panic_fn = fn; }

void cf__panic(const char *file, int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_panic_fn) g_panic_fn(file, line, msg);
    fprintf(stderr, "cformer: internal error at %s:%d: %s\n", file, line, msg);
    abort();
}

cf_ctx_params cf_ctx_default_params(void) {
    cf_ctx_params p = {0};
    return p;
}

cf_status cf_ctx_create(const cf_ctx_params *params, cf_ctx **out) {
    *out = NULL;
    cf_ctx_params p = params ? *params : cf_ctx_default_params();
    cf_cpu cpu = cf__cpu_detect();
    int n = p.n_threads;
    if (n <= 0) {
        const char *e = getenv("CF_NUM_THREADS");
        n = e ? atoi(e) : 0;
        if (n <= 0) n = cpu.n_cores;
    }
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    const char *prec = p.precision ? p.precision : getenv("CF_PRECISION");
    bool bf16 = prec && !strcmp(prec, "bf16");
    if (prec && *prec && !bf16 && strcmp(prec, "fp32")) return CF_ERR_INVALID_ARG;
    if (bf16 && !cpu.avx512bf16) return CF_ERR_UNSUPPORTED;
    const char *isa = p.isa ? p.isa : getenv("CF_ISA");
    const cf_kernels *k = cf__kernels_select(&cpu, isa);
    if (!k) return CF_ERR_UNSUPPORTED;
    cf_ctx *ctx = cf__calloc(1, sizeof *ctx);
    if (!ctx) return CF_ERR_NOMEM;
    ctx->k = k;
    ctx->n_threads = n;
    ctx->scratch_floats = cf__gemm_scratch_floats(k);
    ctx->scratch = cf__malloc(ctx->scratch_floats * sizeof(float) * (size_t)n);
    ctx->pool = cf__pool_create(n);
    const char *blas = p.blas ? p.blas : getenv("CF_BLAS");
    if (blas && !strcmp(blas, "openblas") && strcmp(k->name, "ref")) {
        ctx->blas = cf__blas_load(&cpu);
        if (ctx->blas && ctx->blas->set_threads) ctx->blas->set_threads(n);
    }
    long long pp = p.prepack_mib;
    if (pp == 0) {
        const char *e = getenv("CF_PREPACK");
        pp = e && *e ? atoll(e) : 4096;
    }
    ctx->prepack_budget = pp > 0 && !ctx->blas ? (size_t)(pp < (1LL << 30) ? pp : 1LL << 30) << 20
                                               : 0;
    // bf16 runs only on the prepacked weights, with the AVX-512 kernels' scratch.
    ctx->bf16 = bf16 && ctx->prepack_budget && !strcmp(k->name, "avx512");
    if (bf16 && !ctx->bf16) {
        cf_ctx_free(ctx);
        return CF_ERR_UNSUPPORTED;
    }
    if (!ctx->scratch || !ctx->pool) {
        cf_ctx_free(ctx);
        return CF_ERR_NOMEM;
    }
    *out = ctx;
    return CF_OK;
}

void cf_ctx_free(cf_ctx *ctx) {
    if (!ctx) return;
    cf__pool_free(ctx->pool);
    cf__free(ctx->scratch);
    cf__free(ctx);
}

const char *cf_ctx_isa(const cf_ctx *ctx) { return ctx->k->name; }
const char *cf_ctx_blas(const cf_ctx *ctx) { return ctx->blas ? ctx->blas->name : NULL; }
int cf_ctx_n_threads(const cf_ctx *ctx) { return ctx->n_threads; }
const char *cf_ctx_precision(const cf_ctx *ctx) { return ctx->bf16 ? "bf16" : "fp32"; }
