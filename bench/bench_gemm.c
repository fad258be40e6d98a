// GEMM benchmark: cformer's GEMM against the measured SGEMM peak (OpenBLAS when present) on the
// shapes a GPT-2 124M training step uses (B*T = 256 rows) and on a large square problem.
//   bench_gemm [threads]
#include <stdio.h>
#include <stdlib.h>

#include "../src/kernels/kernels.h"
#include "bench_common.h"

static double run(cf_ctx *ctx, bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
    float *a = calloc((size_t)(M * K), 4), *b = calloc((size_t)(K * N), 4), *c = calloc((size_t)(M * N), 4);
    for (int64_t i = 0; i < M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (int64_t i = 0; i < K * N; i++) b[i] = (float)(i % 5) * 0.1f;
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    cf__gemm(ctx, ta, tb, M, N, K, 1, a, lda, b, ldb, 0, c, N);
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now();
        cf__gemm(ctx, ta, tb, M, N, K, 1, a, lda, b, ldb, 0, c, N);
        double g = 2.0 * (double)M * (double)N * (double)K / (bench_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    free(a), free(b), free(c);
    return best;
}

int main(int argc, char **argv) {
    cf_ctx_params cp = {.n_threads = argc > 1 ? atoi(argv[1]) : 0};
    cf_ctx *ctx;
    if (cf_ctx_create(&cp, &ctx) != CF_OK) return 1;
    const char *who;
    double peak = bench_sgemm_peak(cf_ctx_n_threads(ctx), &who);
    printf("bench_gemm: %d threads, %s kernels, %s\n", cf_ctx_n_threads(ctx), cf_ctx_isa(ctx),
           bench_cpu_name());
    printf("  SGEMM peak (2048^3, %s): %.1f GFLOP/s\n", who, peak);
    struct { const char *what; bool ta, tb; int64_t M, N, K; } cases[] = {
        {"2048^3", 0, 0, 2048, 2048, 2048},
        {"fwd  qkv   x W^T", 0, 1, 256, 2304, 768},
        {"fwd  fc    x W^T", 0, 1, 256, 3072, 768},
        {"fwd  lm    x E^T", 0, 1, 256, 50257, 768},
        {"bwd  dX    dY W ", 0, 0, 256, 768, 3072},
        {"bwd  dW    dY^T X", 1, 0, 3072, 768, 256},
        {"bwd  dE    dY^T X", 1, 0, 50257, 768, 256},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double g = run(ctx, cases[i].ta, cases[i].tb, cases[i].M, cases[i].N, cases[i].K);
        printf("  %-18s M=%-6lld N=%-6lld K=%-5lld %7.1f GFLOP/s  %3.0f%% of peak\n", cases[i].what,
               (long long)cases[i].M, (long long)cases[i].N, (long long)cases[i].K, g,
               100 * g / peak);
    }
    cf_ctx_free(ctx);
    return 0;
}
