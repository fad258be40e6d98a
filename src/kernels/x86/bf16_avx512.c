// bf16 GEMM pieces for CPUs with AVX512_BF16: the micro-kernel (VDPBF16PS: per lane, two bf16
// products added to an fp32 sum) and the packing of either operand (fp32 rounded to bf16,
// nearest even, by VCVTNE2PS2BF16 / VCVTNEPS2BF16): by rows (16 at a time, transposed in
// registers) or by columns. The drivers and the layout are in kernels/gemm_bf16.c.
//
// Layout (pairs of bf16 in 32 bits, the even k in the low half): a packed A panel holds, for each
// pair q of its K block, the CF_BF16_MR rows' pairs (A[r][2q], A[r][2q+1]) one after the other; a
// packed B panel holds, for each pair q, the CF_BF16_NR columns' pairs (B[2q][c], B[2q+1][c]).
// One VDPBF16PS with A's pair broadcast then adds both products of the pair to 16 columns.
// Built with -mavx512f -mavx512bw -mavx512vl -mavx512bf16; only called when cf__cpu_detect
// reports AVX512_BF16.
#include <immintrin.h>
#include <string.h>

#include "../kernels.h"

#define MR CF_BF16_MR
#define NR CF_BF16_NR

// c[mm x NR] (ldc) = (acc ? c : bias ? bias in every row : 0) + sum over kq pairs of a (x) b.
static inline __attribute__((always_inline)) void micro(const int MM, int64_t kq,
                                                        const uint32_t *restrict a,
                                                        const uint32_t *restrict b,
                                                        float *restrict c, int64_t ldc, bool acc,
                                                        const float *bias) {
    __m512 c0[MR], c1[MR];
    __m512 z0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    __m512 z1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
    for (int i = 0; i < MM; i++) c0[i] = z0, c1[i] = z1;
#pragma GCC unroll 2
    for (int64_t q = 0; q < kq; q++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
        for (int i = 0; i < MM; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);
            c0[i] = _mm512_dpbf16_ps(c0[i], ai, b0);
            c1[i] = _mm512_dpbf16_ps(c1[i], ai, b1);
        }
        a += MR;
        b += NR;
    }
    if (acc) {
        for (int i = 0; i < MM; i++) {
            _mm512_storeu_ps(c + i * ldc, _mm512_add_ps(c0[i], _mm512_loadu_ps(c + i * ldc)));
            _mm512_storeu_ps(c + i * ldc + 16,
                             _mm512_add_ps(c1[i], _mm512_loadu_ps(c + i * ldc + 16)));
        }
    } else {
        for (int i = 0; i < MM; i++) {
            _mm512_storeu_ps(c + i * ldc, c0[i]);
            _mm512_storeu_ps(c + i * ldc + 16, c1[i]);
        }
    }
}

#define CASE(n) \
    case n: micro(n, kq, a, b, c, ldc, acc, bias); return;

void cf__bf16_micro_avx512(int mm, int64_t kq, const uint32_t *a, const uint32_t *b, float *c,
                           int64_t ldc, bool acc, const float *bias) {
    switch (mm) {
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
        CASE(8) CASE(9) CASE(10) CASE(11) CASE(12) CASE(13)
    default: micro(MR, kq, a, b, c, ldc, acc, bias); return;
    }
}

// v[i] (16 words each) <- the transposed 16 x 16 block: v[q][i] = old v[i][q].
static inline __attribute__((always_inline)) void transpose16(__m512i v[16]) {
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {  // u[i + c], lane j: element 4j + c of rows i .. i + 3
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int c = 0; c < 4; c++) {  // element 4j + c of all rows: lane j of u[c], u[4 + c], ...
        __m512i x0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
        __m512i x1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
        __m512i y0 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
        __m512i y1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
        v[c] = _mm512_shuffle_i32x4(x0, y0, 0x88);
        v[4 + c] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
        v[8 + c] = _mm512_shuffle_i32x4(x1, y1, 0x88);
        v[12 + c] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
    }
}

// dst <- a panel of R interleaved rows (rows <= R; the rest zero) of A (lda) over columns
// [0, kc): word (q, r) at q * R + r = (A[r][2q], A[r][2q + 1]), kq = (kc + 1) / 2 pairs, an odd
// last column paired with zero. R = MR packs A's panels; R = NR packs a weight's column panels
// (the rows of W in y = x W^T).
void cf__bf16_pack_rows_avx512(int R, int rows, const float *A, int64_t lda, int64_t kc,
                               uint32_t *dst) {
    int64_t kq = (kc + 1) / 2, p = 0;
    // Whole blocks of 32 columns: up to 16 rows converted (16 pairs each), transposed as a 16 x 16
    // block of words in registers, and stored 16 pairs of R words at a time.
    for (; p + 32 <= kc; p += 32) {
        for (int g = 0; g < R; g += 16) {
            __m512i v[16];
            for (int i = 0; i < 16; i++) {
                int r = g + i;
                const float *x = A + r * lda + p;
                v[i] = r < rows ? (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 16),
                                                               _mm512_loadu_ps(x))
                                : _mm512_setzero_si512();
            }
            transpose16(v);
            int w = R - g < 16 ? R - g : 16;
            __mmask16 m = (__mmask16)(w == 16 ? 0xFFFF : (1u << w) - 1);
            uint32_t *d = dst + (p / 2) * R + g;
            for (int q = 0; q < 16; q++) _mm512_mask_storeu_epi32(d + q * R, m, v[q]);
        }
    }
    if (p < kc) {  // the last columns, row by row
        uint32_t tmp[16] __attribute__((aligned(64)));
        __mmask16 m0 = (__mmask16)(kc - p >= 16 ? 0xFFFF : (1u << (kc - p)) - 1);
        __mmask16 m1 = (__mmask16)(kc - p > 16 ? (1u << (kc - p - 16)) - 1 : 0);
        for (int r = 0; r < rows; r++) {
            const float *x = A + r * lda;
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, x + p + 16),
                                              _mm512_maskz_loadu_ps(m0, x + p));
            _mm512_store_si512(tmp, (__m512i)v);
            uint32_t *d = dst + (p / 2) * R + r;
            for (int64_t q = 0; q < kq - p / 2; q++) d[q * R] = tmp[q];
        }
        for (int r = rows; r < R; r++)
            for (int64_t q = p / 2; q < kq; q++) dst[q * R + r] = 0;
    }
}

// dst <- a panel of R interleaved columns (cols <= R; the rest zero) of src (K x ld, row-major)
// over rows [0, kc): word (q, c) at q * R + c = (src[2q][c], src[2q + 1][c]), an odd last row
// paired with zero. R = MR packs a transposed A's panels; R = NR a plain (K x N) B's.
void cf__bf16_pack_cols_avx512(int R, int cols, const float *src, int64_t ld, int64_t kc,
                               uint32_t *dst) {
    int64_t kq = (kc + 1) / 2;
    for (int64_t q = 0; q < kq; q++) {
        const float *lo = src + 2 * q * ld, *hi = 2 * q + 1 < kc ? lo + ld : NULL;
        uint32_t *d = dst + q * R;
        for (int c0 = 0; c0 < R; c0 += 16) {
            int n = cols - c0 < 16 ? (cols - c0 > 0 ? cols - c0 : 0) : 16;
            __mmask16 m = (__mmask16)(n == 16 ? 0xFFFF : (1u << n) - 1);
            __m512 vl = _mm512_maskz_loadu_ps(m, lo + c0);
            __m512 vh = hi ? _mm512_maskz_loadu_ps(m, hi + c0) : _mm512_setzero_ps();
            __m512i wl = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(vl));
            __m512i wh = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(vh));
            __m512i w = _mm512_or_si512(wl, _mm512_slli_epi32(wh, 16));
            if (R - c0 >= 16) _mm512_storeu_si512(d + c0, w);
            else _mm512_mask_storeu_epi32(d + c0, (__mmask16)((1u << (R - c0)) - 1), w);
        }
    }
}
