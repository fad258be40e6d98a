// The SIMD kernels, written once with GCC/clang vector extensions and included by each ISA file
// (avx2.c: 8 lanes, avx512.c: 16 lanes) after it defines:
//   VL        lanes per vector (8 or 16)
//   GEMM_MR   rows of the GEMM micro-tile (the tile is GEMM_MR x 2*VL)
//   TABLE_NAME  the name reported by the table
// and is compiled with that ISA's -m flags, so the same source becomes AVX2 or AVX-512 code.
// The test suite also builds it with VL 16 under AVX2 flags, which checks the 16-lane logic on
// machines without AVX-512.
//
// Not here: anything that is not an inner loop (blocking, packing and threading are portable,
// in gemm.c). Every function here has a twin in ref/ref.c that tests compare against.
#include <math.h>
#include <string.h>

#include "../kernels.h"

typedef float vf __attribute__((vector_size(VL * 4)));
typedef int32_t vi __attribute__((vector_size(VL * 4)));

#define NR (2 * VL)

static inline vf ld(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
// x - 0 folds to x exactly (unlike 0 + x, which differs for x = -0), so this is one broadcast.
static inline vf bc(float x) { return x - (vf){0}; }
static inline vf vsel(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }
static inline vf vmaxv(vf a, vf b) { return vsel(a > b, a, b); }
static inline vf vminv(vf a, vf b) { return vsel(a < b, a, b); }

static inline float hsum(vf v) {
    float s = 0;
    for (int i = 0; i < VL; i++) s += v[i];
    return s;
}
static inline float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < VL; i++) m = v[i] > m ? v[i] : m;
    return m;
}

// Partial vector (n < VL lanes) loads and stores, zero filled.
static inline vf ld_part(const float *p, int64_t n) {
    vf v = {0};
    memcpy(&v, p, (size_t)n * 4);
    return v;
}
static inline void st_part(float *p, vf v, int64_t n) { memcpy(p, &v, (size_t)n * 4); }
// n <= VL lanes: a plain vector access when full (the common case, kept inline), else partial.
static inline vf ldn(const float *p, int64_t n) { return n == VL ? ld(p) : ld_part(p, n); }
static inline void stn(float *p, vf v, int64_t n) {
    if (n == VL) st(p, v);
    else st_part(p, v, n);
}

// ---- vector math: sqrt, exp, tanh, erf (float accuracy, a few ulp) ----

static inline vf vsqrt(vf x) {
    vf r;
    for (int i = 0; i < VL; i++) r[i] = __builtin_sqrtf(x[i]);  // becomes one vsqrtps
    return r;
}

static inline vf vexp(vf x) {
    // exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 in [-ln2/2, ln2/2].
    x = vminv(x, bc(88.3762626647949f));
    x = vmaxv(x, bc(-87.3365478515625f));
    vf n = x * 1.44269504088896341f + 12582912.0f;  // round to nearest via the 1.5*2^23 trick
    n = n - 12582912.0f;
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = bc(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    vi e = (__builtin_convertvector(n, vi) + 127) << 23;
    return p * (vf)e;
}

static inline vf vtanh(vf x) {
    // tanh(x) = 1 - 2 / (exp(2x) + 1); for |x| < 0.0625 a short odd series avoids cancellation.
    vf e = vexp(x * 2.0f);
    vf t = 1.0f - 2.0f / (e + 1.0f);
    vf x2 = x * x;
    vf s = x * (1.0f + x2 * (-0.33333333f + x2 * (0.13333333f + x2 * -0.05396825f)));
    vf ax = vsel(x < 0, -x, x);
    return vsel(ax < 0.0625f, s, t);
}

// erfc(z) for z >= 0 (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7), without cancellation.
static inline vf verfc_pos(vf z) {
    vf t = 1.0f / (1.0f + 0.3275911f * z);
    vf p = bc(1.061405429f);
    p = p * t + -1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t + -0.284496736f;
    p = p * t + 0.254829592f;
    return p * t * vexp(-z * z);
}

#define GELU_K 0.7978845608028654f
#define INV_SQRT2 0.7071067811865476f

static inline vf vact(cf_act_op op, vf x) {
    switch (op) {
    case CF_OP_GELU: {
        // 0.5 x (1 + erf(x/sqrt2)) = x * (1 - 0.5 erfc(x/sqrt2)) for x >= 0, x * 0.5 erfc(-x/sqrt2)
        vf ax = vsel(x < 0, -x, x);
        vf h = 0.5f * verfc_pos(ax * INV_SQRT2);
        return x * vsel(x < 0, h, 1.0f - h);
    }
    case CF_OP_GELU_TANH:
        return 0.5f * x * (1.0f + vtanh(GELU_K * (x + 0.044715f * x * x * x)));
    case CF_OP_RELU: return vmaxv(x, bc(0.0f));
    case CF_OP_SILU: return x / (1.0f + vexp(-x));
    }
    return x;
}

static inline vf vdact(cf_act_op op, vf x) {
    switch (op) {
    case CF_OP_GELU: {
        vf ax = vsel(x < 0, -x, x);
        vf h = 0.5f * verfc_pos(ax * INV_SQRT2);
        vf cdf = vsel(x < 0, h, 1.0f - h);
        return cdf + x * vexp(-0.5f * x * x) * 0.3989422804014327f;
    }
    case CF_OP_GELU_TANH: {
        vf t = vtanh(GELU_K * (x + 0.044715f * x * x * x));
        vf du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
    }
    case CF_OP_RELU: return vsel(x > 0, bc(1.0f), bc(0.0f));
    case CF_OP_SILU: {
        vf s = 1.0f / (1.0f + vexp(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    }
    return x;
}

// ---- GEMM micro-kernel: GEMM_MR x (2 VL) ----

// MM rows of the tile (MM <= GEMM_MR; the packed panel of A always has GEMM_MR rows, the rest
// zero). MM is a constant where this is inlined, so the loops unroll into registers.
static inline __attribute__((always_inline)) void micro_rows(const int MM, int64_t kc,
                                                             const float *restrict a,
                                                             const float *restrict b,
                                                             float *restrict c, int64_t ldc,
                                                             float alpha, float beta) {
    vf acc0[GEMM_MR], acc1[GEMM_MR];
    for (int i = 0; i < MM; i++) acc0[i] = acc1[i] = bc(0.0f);
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++) {
        vf b0 = ld(b), b1 = ld(b + VL);
        for (int i = 0; i < MM; i++) {
            vf ai = bc(a[i]);
            acc0[i] += ai * b0;
            acc1[i] += ai * b1;
        }
        a += GEMM_MR;
        b += NR;
    }
    if (beta == 0.0f) {
        for (int i = 0; i < MM; i++) {
            st(c + i * ldc, alpha * acc0[i]);
            st(c + i * ldc + VL, alpha * acc1[i]);
        }
    } else {
        for (int i = 0; i < MM; i++) {
            st(c + i * ldc, alpha * acc0[i] + beta * ld(c + i * ldc));
            st(c + i * ldc + VL, alpha * acc1[i] + beta * ld(c + i * ldc + VL));
        }
    }
}

// ---- GEMV ----

static void gemv_n(int64_t m, int64_t k, const float *a, int64_t lda, const float *x, float *y,
                   float beta) {
    int64_t i = 0;
    int64_t kv = k - k % VL;
    for (; i + 4 <= m; i += 4) {
        const float *r0 = a + i * lda, *r1 = r0 + lda, *r2 = r1 + lda, *r3 = r2 + lda;
        vf s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (int64_t p = 0; p < kv; p += VL) {
            vf xv = ld(x + p);
            s0 += ld(r0 + p) * xv;
            s1 += ld(r1 + p) * xv;
            s2 += ld(r2 + p) * xv;
            s3 += ld(r3 + p) * xv;
        }
        if (kv < k) {
            vf xv = ld_part(x + kv, k - kv);
            s0 += ld_part(r0 + kv, k - kv) * xv;
            s1 += ld_part(r1 + kv, k - kv) * xv;
            s2 += ld_part(r2 + kv, k - kv) * xv;
            s3 += ld_part(r3 + kv, k - kv) * xv;
        }
        float t[4] = {hsum(s0), hsum(s1), hsum(s2), hsum(s3)};
        for (int q = 0; q < 4; q++) y[i + q] = beta == 0.0f ? t[q] : t[q] + beta * y[i + q];
    }
    for (; i < m; i++) {
        const float *r0 = a + i * lda;
        vf s0 = {0};
        for (int64_t p = 0; p < kv; p += VL) s0 += ld(r0 + p) * ld(x + p);
        if (kv < k) s0 += ld_part(r0 + kv, k - kv) * ld_part(x + kv, k - kv);
        float t = hsum(s0);
        y[i] = beta == 0.0f ? t : t + beta * y[i];
    }
}

static void gemv_t(int64_t k, int64_t n, const float *a, int64_t lda, const float *x, float *y,
                   float beta) {
    int64_t j = 0;
    for (; j + 4 * VL <= n; j += 4 * VL) {
        vf s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (int64_t p = 0; p < k; p++) {
            const float *r = a + p * lda + j;
            vf xv = bc(x[p]);
            s0 += xv * ld(r);
            s1 += xv * ld(r + VL);
            s2 += xv * ld(r + 2 * VL);
            s3 += xv * ld(r + 3 * VL);
        }
        if (beta != 0.0f) {
            s0 += beta * ld(y + j);
            s1 += beta * ld(y + j + VL);
            s2 += beta * ld(y + j + 2 * VL);
            s3 += beta * ld(y + j + 3 * VL);
        }
        st(y + j, s0);
        st(y + j + VL, s1);
        st(y + j + 2 * VL, s2);
        st(y + j + 3 * VL, s3);
    }
    for (; j < n; j += VL) {
        int64_t w = n - j < VL ? n - j : VL;
        vf s0 = {0};
        for (int64_t p = 0; p < k; p++) s0 += bc(x[p]) * ld_part(a + p * lda + j, w);
        if (beta != 0.0f) s0 += beta * ld_part(y + j, w);
        st_part(y + j, s0, w);
    }
}

// ---- vector primitives ----

static float dot(int64_t n, const float *x, const float *y) {
    vf s0 = {0}, s1 = {0};
    int64_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        s0 += ld(x + i) * ld(y + i);
        s1 += ld(x + i + VL) * ld(y + i + VL);
    }
    for (; i < n; i += VL) {
        int64_t w = n - i < VL ? n - i : VL;
        s0 += ld_part(x + i, w) * ld_part(y + i, w);
    }
    return hsum(s0 + s1);
}

static void axpy(int64_t n, float a, const float *x, float *y) {
    vf av = bc(a);
    int64_t i = 0;
    for (; i + VL <= n; i += VL) st(y + i, ld(y + i) + av * ld(x + i));
    for (; i < n; i++) y[i] += a * x[i];
}

static void scale(int64_t n, float a, float *x) {
    int64_t i = 0;
    for (; i + VL <= n; i += VL) st(x + i, ld(x + i) * a);
    for (; i < n; i++) x[i] *= a;
}

static float vmax(int64_t n, const float *x) {
    if (n < VL) {
        float m = -INFINITY;
        for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
        return m;
    }
    vf m = ld(x);
    int64_t i = VL;
    for (; i + VL <= n; i += VL) m = vmaxv(m, ld(x + i));
    float r = hmax(m);
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

static float exp_sum(int64_t n, const float *x, float m, float *y) {
    vf s = {0};
    int64_t i = 0;
    for (; i + VL <= n; i += VL) {
        vf e = vexp(ld(x + i) - m);
        st(y + i, e);
        s += e;
    }
    if (i < n) {
        vf e = vexp(ld_part(x + i, n - i) - m);
        for (int64_t q = n - i; q < VL; q++) e[q] = 0;
        st_part(y + i, e, n - i);
        s += e;
    }
    return hsum(s);
}

// ---- activations ----

static void act_fwd(cf_act_op op, int64_t n, const float *x, float *y) {
    int64_t i = 0;
    for (; i + VL <= n; i += VL) st(y + i, vact(op, ld(x + i)));
    if (i < n) st_part(y + i, vact(op, ld_part(x + i, n - i)), n - i);
}

static void act_bwd(cf_act_op op, int64_t n, const float *x, const float *dy, float *dx) {
    int64_t i = 0;
    for (; i + VL <= n; i += VL) st(dx + i, ld(dx + i) + ld(dy + i) * vdact(op, ld(x + i)));
    if (i < n) {
        int64_t w = n - i;
        st_part(dx + i, ld_part(dx + i, w) + ld_part(dy + i, w) * vdact(op, ld_part(x + i, w)), w);
    }
}

static void glu_fwd(cf_act_op op, int64_t n, const float *g, const float *u, float *out) {
    int64_t i = 0;
    for (; i + VL <= n; i += VL) st(out + i, vact(op, ld(g + i)) * ld(u + i));
    if (i < n) {
        int64_t w = n - i;
        st_part(out + i, vact(op, ld_part(g + i, w)) * ld_part(u + i, w), w);
    }
}

static void glu_bwd(cf_act_op op, int64_t n, const float *g, const float *u, const float *dout,
                    float *dg, float *du) {
    for (int64_t i = 0; i < n; i += VL) {
        int64_t w = n - i < VL ? n - i : VL;
        vf gv = ldn(g + i, w), uv = ldn(u + i, w), dv = ldn(dout + i, w);
        stn(dg + i, ldn(dg + i, w) + dv * uv * vdact(op, gv), w);
        stn(du + i, ldn(du + i, w) + dv * vact(op, gv), w);
    }
}

// ---- norms ----

static void layernorm_fwd(int64_t c, const float *x, const float *w, const float *b, float eps,
                          float *y, float *mean, float *rstd) {
    vf s = {0};
    for (int64_t i = 0; i < c; i += VL) s += ldn(x + i, c - i < VL ? c - i : VL);
    float m = hsum(s) / (float)c;
    vf q = {0};
    for (int64_t i = 0; i < c; i += VL) {
        int64_t n = c - i < VL ? c - i : VL;
        vf d = ldn(x + i, n) - m;
        if (n < VL)
            for (int64_t z = n; z < VL; z++) d[z] = 0;
        q += d * d;
    }
    float r = 1.0f / sqrtf(hsum(q) / (float)c + eps);
    for (int64_t i = 0; i < c; i += VL) {
        int64_t n = c - i < VL ? c - i : VL;
        vf v = (ldn(x + i, n) - m) * r * ldn(w + i, n);
        if (b) v += ldn(b + i, n);
        stn(y + i, v, n);
    }
    *mean = m;
    *rstd = r;
}

static void layernorm_bwd(int64_t c, const float *x, const float *w, float mean, float rstd,
                          const float *dy, float *dx, float *dw, float *db) {
    vf s1 = {0}, s2 = {0};
    for (int64_t i = 0; i < c; i += VL) {
        int64_t n = c - i < VL ? c - i : VL;
        vf xh = (ldn(x + i, n) - mean) * rstd;
        vf d = ldn(dy + i, n) * ldn(w + i, n);
        s1 += d;
        s2 += d * xh;
    }
    float m1 = hsum(s1) / (float)c, m2 = hsum(s2) / (float)c;
    for (int64_t i = 0; i < c; i += VL) {
        int64_t n = c - i < VL ? c - i : VL;
        vf xh = (ldn(x + i, n) - mean) * rstd;
        vf g = ldn(dy + i, n);
        vf d = g * ldn(w + i, n);
        stn(dx + i, ldn(dx + i, n) + rstd * (d - m1 - xh * m2), n);
        stn(dw + i, ldn(dw + i, n) + g * xh, n);
        if (db) stn(db + i, ldn(db + i, n) + g, n);
    }
}

static void rmsnorm_fwd(int64_t c, const float *x, const float *w, float eps, float *y,
                        float *rstd) {
    vf s = {0};
    for (int64_t i = 0; i < c; i += VL) {
        vf v = ldn(x + i, c - i < VL ? c - i : VL);
        s += v * v;
    }
    float r = 1.0f / sqrtf(hsum(s) / (float)c + eps);
    for (int64_t i = 0; i < c; i += VL) {
        int64_t n = c - i < VL ? c - i : VL;
        stn(y + i, ldn(x + i, n) * r * ldn(w + i, n), n);
    }
    *rstd = r;
}

static void rmsnorm_bwd(int64_t c, const float *x, const float *w, float rstd, const float *dy,
                        float *dx, float *dw) {
    vf s = {0};
    for (int64_t i = 0; i < c; i += VL) {
        int64_t n = c - i < VL ? c - i : VL;
        s += ldn(dy + i, n) * ldn(w + i, n) * ldn(x + i, n);
    }
    float m = hsum(s) / (float)c;
    float r3 = rstd * rstd * rstd;
    for (int64_t i = 0; i < c; i += VL) {
        int64_t n = c - i < VL ? c - i : VL;
        vf xv = ldn(x + i, n), g = ldn(dy + i, n);
        stn(dx + i, ldn(dx + i, n) + rstd * g * ldn(w + i, n) - xv * (r3 * m), n);
        stn(dw + i, ldn(dw + i, n) + g * xv * rstd, n);
    }
}

static double sumsq(int64_t n, const float *x) {
    double s = 0;
    for (int64_t i = 0; i < n; i += 256) {
        int64_t e = n - i < 256 ? n - i : 256;
        vf a0 = {0}, a1 = {0};
        int64_t j = 0;
        for (; j + 2 * VL <= e; j += 2 * VL) {
            vf u = ld(x + i + j), w = ld(x + i + j + VL);
            a0 += u * u;
            a1 += w * w;
        }
        for (; j < e; j += VL) {
            vf u = ldn(x + i + j, e - j < VL ? e - j : VL);
            a0 += u * u;
        }
        s += (double)hsum(a0 + a1);
    }
    return s;
}

static void adamw(int64_t n, float *p, const float *g, float *m, float *v, const cf_adamw_hp *hp) {
    float decay = hp->lr * hp->wd, b1 = hp->b1, b2 = hp->b2, gs = hp->gscale;
    for (int64_t i = 0; i < n; i += VL) {
        int64_t w = n - i < VL ? n - i : VL;
        vf pv = ldn(p + i, w), gv = ldn(g + i, w) * gs;
        vf mv = b1 * ldn(m + i, w) + (1.0f - b1) * gv;
        vf vv = b2 * ldn(v + i, w) + (1.0f - b2) * gv * gv;
        pv = pv - decay * pv;
        vf vh = vv / hp->bc2;
        pv = pv - hp->lr * (mv / hp->bc1) / (vsqrt(vh) + hp->eps);
        stn(p + i, pv, w);
        stn(m + i, mv, w);
        stn(v + i, vv, w);
    }
}

void cf__pack_rows_avx2(int R, int64_t rows, const float *src, int64_t ld, int64_t kc,
                        float *dst);  // x86/pack_avx2.c

// Packing of untransposed panels: whole panels (the micro-tile's width) move as vectors; the
// edge panel is copied element by element and zero padded.
static void pack_cols(int R, int64_t cols, const float *src, int64_t lds, int64_t kc, float *dst) {
    if (cols == R && R == NR) {
        for (int64_t p = 0; p < kc; p++) {
            st(dst + p * NR, ld(src + p * lds));
            st(dst + p * NR + VL, ld(src + p * lds + VL));
        }
        return;
    }
    if (cols == R && R == GEMM_MR) {
        for (int64_t p = 0; p < kc; p++) memcpy(dst + p * GEMM_MR, src + p * lds, GEMM_MR * 4);
        return;
    }
    for (int64_t p = 0; p < kc; p++)
        for (int64_t c = 0; c < R; c++) dst[p * R + c] = c < cols ? src[p * lds + c] : 0.0f;
}

// The full tile.
static void gemm_micro(int64_t kc, const float *restrict a, const float *restrict b,
                       float *restrict c, int64_t ldc, float alpha, float beta) {
    micro_rows(GEMM_MR, kc, a, b, c, ldc, alpha, beta);
}

// An edge tile of mm < GEMM_MR rows: only the rows that exist, written straight into C, instead
// of a full tile computed into scratch and copied (M = 128 with 14-row tiles wasted 9 % of the
// work).
#define MICRO_ROWS_CASE(n) \
    case n: micro_rows(n, kc, a, b, c, ldc, alpha, beta); return;

static void gemm_micro_rows(int mm, int64_t kc, const float *a, const float *b, float *c,
                            int64_t ldc, float alpha, float beta) {
    switch (mm) {
        MICRO_ROWS_CASE(1)
        MICRO_ROWS_CASE(2)
        MICRO_ROWS_CASE(3)
        MICRO_ROWS_CASE(4)
        MICRO_ROWS_CASE(5)
#if GEMM_MR > 6
        MICRO_ROWS_CASE(6)
        MICRO_ROWS_CASE(7)
        MICRO_ROWS_CASE(8)
        MICRO_ROWS_CASE(9)
        MICRO_ROWS_CASE(10)
        MICRO_ROWS_CASE(11)
        MICRO_ROWS_CASE(12)
        MICRO_ROWS_CASE(13)
#endif
    default: gemm_micro(kc, a, b, c, ldc, alpha, beta); return;  // mm == GEMM_MR
    }
}
#undef MICRO_ROWS_CASE

static const cf_kernels table = {
    .name = TABLE_NAME,
    .mr = GEMM_MR,
    .nr = NR,
    .mc = GEMM_MC,
    .kc = GEMM_KC,
    .nc = GEMM_NC,
    .gemm_micro = gemm_micro,
    .gemm_micro_rows = gemm_micro_rows,
    .pack_rows = cf__pack_rows_avx2,
    .pack_cols = pack_cols,
    .gemv_n = gemv_n,
    .gemv_t = gemv_t,
    .dot = dot,
    .axpy = axpy,
    .scale = scale,
    .max = vmax,
    .exp_sum = exp_sum,
    .act_fwd = act_fwd,
    .act_bwd = act_bwd,
    .glu_fwd = glu_fwd,
    .glu_bwd = glu_bwd,
    .layernorm_fwd = layernorm_fwd,
    .layernorm_bwd = layernorm_bwd,
    .rmsnorm_fwd = rmsnorm_fwd,
    .rmsnorm_bwd = rmsnorm_bwd,
    .sumsq = sumsq,
    .adamw = adamw,
};
