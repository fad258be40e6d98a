// AVX2 + FMA kernels: the shared SIMD source with 8-lane vectors and a 6 x 16 GEMM micro-tile
// (12 accumulators, 2 B vectors and a broadcast: 15 of the 16 ymm registers).
// Built with -mavx2 -mfma; only called after cf__cpu_detect reports both.
#define VL 8
#define GEMM_MR 6
#define GEMM_MC 120
#define GEMM_KC 256
#define GEMM_NC 3072
#define TABLE_NAME "avx2"
#include "simd.inc.h"

const cf_kernels *cf__kernels_avx2(void) { return &table; }
