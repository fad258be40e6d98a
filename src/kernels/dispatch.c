// Chooses the kernel table once per context: the best variant the CPU and OS support, or the
// one CF_ISA / cf_ctx_params.isa names.
#include <string.h>

#include "kernels.h"

const cf_kernels *cf__kernels_select(const cf_cpu *cpu, const char *isa) {
    bool has_avx2 = cpu->avx2 && cpu->fma;
    bool has_avx512 = cpu->avx512f && cpu->fma;
    if (isa && *isa) {
        if (!strcmp(isa, "ref")) return cf__kernels_ref();
        if (!strcmp(isa, "avx2")) return has_avx2 ? cf__kernels_avx2() : NULL;
        if (!strcmp(isa, "avx512")) return has_avx512 ? cf__kernels_avx512() : NULL;
        return NULL;
    }
    if (has_avx512 && cf__kernels_avx512()) return cf__kernels_avx512();
    if (has_avx2 && cf__kernels_avx2()) return cf__kernels_avx2();
    return cf__kernels_ref();
}
