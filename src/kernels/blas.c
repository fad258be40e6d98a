// Run-time loading of OpenBLAS for large GEMMs (opt-in: CF_BLAS=openblas). Nothing links
// against it at build time, so cformer builds and runs without it; when it is present and asked
// for, cf__gemm hands it the large products. The handle is process-wide: the library is loaded
// once and never unloaded, and its thread count follows the last context that asked.
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "kernels.h"

static cf_blas g_blas;            // filled once under g_once
static const cf_blas *g_loaded;   // &g_blas when loading succeeded
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static cf_cpu g_cpu;

static void load(void) {
    // Debian's OpenBLAS 0.3.21 reads OPENBLAS_CORETYPE when it initialises; without it, CPUs it
    // does not know (Sapphire Rapids, Zen 4) get a generic kernel several times slower.
    if (!getenv("OPENBLAS_CORETYPE")) {
        if (g_cpu.avx512f) setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
        else if (g_cpu.avx2) setenv("OPENBLAS_CORETYPE", "Haswell", 0);
    }
    const char *names[] = {"libopenblas.so.0", "libopenblas.so"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        void *sg = dlsym(h, "cblas_sgemm"), *nt = dlsym(h, "openblas_set_num_threads");
        if (!sg) {
            dlclose(h);
            continue;
        }
        g_blas.name = "openblas";
        // POSIX guarantees data and function pointers convert through dlsym's void *.
        *(void **)&g_blas.sgemm = sg;
        *(void **)&g_blas.set_threads = nt;
        g_loaded = &g_blas;
        return;
    }
}

const cf_blas *cf__blas_load(const cf_cpu *cpu) {
    g_cpu = *cpu;
    pthread_once(&g_once, load);
    return g_loaded;
}
