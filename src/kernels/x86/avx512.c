// AVX-512F kernels: the shared SIMD source with 16-lane vectors and a 14 x 32 GEMM micro-tile
// (28 accumulators, 2 B vectors and a broadcast: 31 of the 32 zmm registers).
// Built with -mavx512f -mavx512vl -mavx512dq -mavx512bw -mfma; only called after cf__cpu_detect
// reports AVX-512F.
#define VL 16
#define GEMM_MR 14
#define GEMM_MC 140
#define GEMM_KC 512
#define GEMM_NC 3072
#define TABLE_NAME "avx512"
#include "simd.inc.h"

const cf_kernels *cf__kernels_avx512(void) { return &table; }
