// The 16-lane SIMD kernels compiled with AVX2 flags (each vector op becomes two ymm ops), so the
// 16-lane logic that avx512.c uses is checked against ref/ on machines without AVX-512.
#define VL 16
#define GEMM_MR 14
#define GEMM_MC 140
#define GEMM_KC 256
#define GEMM_NC 3072
#define TABLE_NAME "vl16-on-avx2"
#include "../../src/kernels/x86/simd.inc.h"

const cf_kernels *cf_test_kernels_vl16(void);
const cf_kernels *cf_test_kernels_vl16(void) { return &table; }
