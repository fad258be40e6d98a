// GEMM packing with AVX2 transposes: copies `rows` source rows (row stride ld) of kc floats into
// the column-interleaved layout dst[p * R + r] that the micro-kernels read, zero-filling rows
// rows..R-1. This is the packing of A (row-major activations) and of B when B is stored
// transposed (weights as (out, in)), where the plain loop writes one float per cache line.
// Works on 8x8 blocks (AVX), then 4x4 (SSE), then row pairs, then single rows. Used by both the
// AVX2 and the AVX-512 tables (every AVX-512 CPU has AVX2).
#include <immintrin.h>

#include "../kernels.h"

static inline void transpose8(__m256 *r) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

void cf__pack_rows_avx2(int R, int64_t rows, const float *src, int64_t ld, int64_t kc,
                        float *dst);

void cf__pack_rows_avx2(int R, int64_t rows, const float *src, int64_t ld, int64_t kc,
                        float *dst) {
    int64_t r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        const float *s = src + r0 * ld;
        int64_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 v[8];
            for (int q = 0; q < 8; q++) v[q] = _mm256_loadu_ps(s + q * ld + p);
            transpose8(v);
            for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + (p + q) * R + r0, v[q]);
        }
        for (; p < kc; p++)
            for (int q = 0; q < 8; q++) dst[p * R + r0 + q] = s[q * ld + p];
    }
    for (; r0 + 4 <= rows; r0 += 4) {
        const float *s = src + r0 * ld;
        int64_t p = 0;
        for (; p + 4 <= kc; p += 4) {
            __m128 a = _mm_loadu_ps(s + p), b = _mm_loadu_ps(s + ld + p);
            __m128 c = _mm_loadu_ps(s + 2 * ld + p), d = _mm_loadu_ps(s + 3 * ld + p);
            _MM_TRANSPOSE4_PS(a, b, c, d);
            _mm_storeu_ps(dst + p * R + r0, a);
            _mm_storeu_ps(dst + (p + 1) * R + r0, b);
            _mm_storeu_ps(dst + (p + 2) * R + r0, c);
            _mm_storeu_ps(dst + (p + 3) * R + r0, d);
        }
        for (; p < kc; p++)
            for (int q = 0; q < 4; q++) dst[p * R + r0 + q] = s[q * ld + p];
    }
    for (; r0 + 2 <= rows; r0 += 2) {
        const float *s = src + r0 * ld;
        int64_t p = 0;
        for (; p + 4 <= kc; p += 4) {
            __m128 a = _mm_loadu_ps(s + p), b = _mm_loadu_ps(s + ld + p);
            __m128 lo = _mm_unpacklo_ps(a, b), hi = _mm_unpackhi_ps(a, b);  // a0 b0 a1 b1 | a2 b2 a3 b3
            _mm_storel_pi((__m64 *)(void *)(dst + p * R + r0), lo);
            _mm_storeh_pi((__m64 *)(void *)(dst + (p + 1) * R + r0), lo);
            _mm_storel_pi((__m64 *)(void *)(dst + (p + 2) * R + r0), hi);
            _mm_storeh_pi((__m64 *)(void *)(dst + (p + 3) * R + r0), hi);
        }
        for (; p < kc; p++) {
            dst[p * R + r0] = s[p];
            dst[p * R + r0 + 1] = s[ld + p];
        }
    }
    for (; r0 < rows; r0++)
        for (int64_t p = 0; p < kc; p++) dst[p * R + r0] = src[r0 * ld + p];
    for (int64_t r = rows; r < R; r++)
        for (int64_t p = 0; p < kc; p++) dst[p * R + r] = 0.0f;
}
