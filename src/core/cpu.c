// CPU feature detection (cpuid + xgetbv): which kernel sets the OS and CPU both support.
#include <unistd.h>

#include "../internal.h"

#if defined(__x86_64__)
#include <cpuid.h>  // defines: __get_cpuid_count

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

cf_cpu cf__cpu_detect(void) {
    cf_cpu c = {0};
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c.n_cores = n > 0 ? (int)n : 1;
#if defined(__x86_64__)
    unsigned a, b, cc, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &cc, &d)) return c;
    bool osxsave = (cc >> 27) & 1;
    c.fma = (cc >> 12) & 1;
    c.f16c = (cc >> 29) & 1;
    if (!osxsave) return c;
    uint64_t xcr0 = xgetbv0();
    bool ymm_ok = (xcr0 & 0x6) == 0x6;
    bool zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &cc, &d)) return c;
    c.avx2 = ymm_ok && ((b >> 5) & 1);
    c.avx512f = zmm_ok && ((b >> 16) & 1);
    c.avx512dq = zmm_ok && ((b >> 17) & 1);
    c.avx512bw = zmm_ok && ((b >> 30) & 1);
    c.avx512vl = zmm_ok && ((b >> 31) & 1);
    c.amx = (d >> 24) & 1;
    if (__get_cpuid_count(7, 1, &a, &b, &cc, &d)) c.avx512bf16 = zmm_ok && ((a >> 5) & 1);
    if (!ymm_ok) c.fma = false;
#endif
    return c;
}
