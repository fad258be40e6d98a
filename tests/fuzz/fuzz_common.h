// Shared by the fuzz targets: a one-thread context made once per process, and a check that
// aborts (so libFuzzer and the replay driver report it) when an invariant fails.
#ifndef CF_FUZZ_COMMON_H
#define CF_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "cformer/cformer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                           \
            abort();                                                                  \
        }                                                                             \
    } while (0)

// One context for the whole run (lives until exit; reachable, so not a leak).
static inline cf_ctx *fuzz_ctx(void) {
    static cf_ctx *ctx;
    if (!ctx) {
        cf_ctx_params p = cf_ctx_default_params();
        p.n_threads = 1;
        if (cf_ctx_create(&p, &ctx) != CF_OK) abort();
    }
    return ctx;
}

#endif
