// Benchmark helpers. The BLAS peak is measured, not assumed: OpenBLAS is loaded with dlopen so
// that OPENBLAS_CORETYPE can be set before it initialises (Debian's 0.3.21 does not recognise
// some recent CPUs and otherwise falls back to a generic kernel).
#include "bench_common.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../src/kernels/kernels.h"

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

const char *bench_cpu_name(void) {
    static char name[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return name;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                snprintf(name, sizeof name, "%s", c + 2);
                name[strcspn(name, "\n")] = 0;
            }
            break;
        }
    fclose(f);
    return name;
}

static float *rnd(size_t n) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)(rand() % 1000) / 1000.0f - 0.5f;
    return x;
}

double bench_cformer_gemm(int n_threads, int n) {
    cf_ctx_params p = {.n_threads = n_threads};
    cf_ctx *ctx;
    if (cf_ctx_create(&p, &ctx) != CF_OK) return 0;
    float *a = rnd((size_t)n * n), *b = rnd((size_t)n * n), *c = rnd((size_t)n * n);
    cf__gemm(ctx, false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        cf__gemm(ctx, false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * (double)n * n / (bench_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    free(a), free(b), free(c);
    cf_ctx_free(ctx);
    return best;
}

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);

double bench_sgemm_peak(int n_threads, const char **who) {
    cf_cpu cpu = cf__cpu_detect();
    if (cpu.avx512f && !getenv("OPENBLAS_CORETYPE")) setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    char nt[16];
    snprintf(nt, sizeof nt, "%d", n_threads);
    setenv("OPENBLAS_NUM_THREADS", nt, 1);
    setenv("OMP_NUM_THREADS", nt, 1);  // the OpenMP build of OpenBLAS reads this one
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
    sgemm_fn sgemm = h ? (sgemm_fn)dlsym(h, "cblas_sgemm") : NULL;
    int n = 2048;
    if (!sgemm) {
        *who = "cformer GEMM (OpenBLAS not found)";
        return bench_cformer_gemm(n_threads, n);
    }
    *who = "OpenBLAS cblas_sgemm";
    float *a = rnd((size_t)n * n), *b = rnd((size_t)n * n), *c = rnd((size_t)n * n);
    sgemm(101, 111, 111, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);  // row-major, no transposes
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_now();
        sgemm(101, 111, 111, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double g = 2.0 * n * (double)n * n / (bench_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    free(a), free(b), free(c);
    return best;
}
