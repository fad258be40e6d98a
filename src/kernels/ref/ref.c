// Portable reference kernels: plain scalar C with libm, always built. They are the oracle every
// faster kernel is tested against, and what CF_ISA=ref runs. Written for clarity, not speed;
// sums are accumulated in float in index order except where noted.
#include <math.h>
#include <string.h>

#include "../kernels.h"

enum { REF_MR = 4, REF_NR = 4 };

static void gemm_micro(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                       float alpha, float beta) {
    float acc[REF_MR][REF_NR] = {{0}};
    for (int64_t p = 0; p < kc; p++)
        for (int i = 0; i < REF_MR; i++)
            for (int j = 0; j < REF_NR; j++) acc[i][j] += a[p * REF_MR + i] * b[p * REF_NR + j];
    for (int i = 0; i < REF_MR; i++)
        for (int j = 0; j < REF_NR; j++) {
            float v = alpha * acc[i][j];
            c[i * ldc + j] = beta == 0.0f ? v : v + beta * c[i * ldc + j];
        }
}

static void pack_rows(int R, int64_t rows, const float *src, int64_t ld, int64_t kc,
                      float *dst) {
    for (int64_t r = 0; r < R; r++)
        for (int64_t p = 0; p < kc; p++) dst[p * R + r] = r < rows ? src[r * ld + p] : 0.0f;
}

static void pack_cols(int R, int64_t cols, const float *src, int64_t ld, int64_t kc,
                      float *dst) {
    for (int64_t p = 0; p < kc; p++)
        for (int64_t c = 0; c < R; c++) dst[p * R + c] = c < cols ? src[p * ld + c] : 0.0f;
}

static void gemv_n(int64_t m, int64_t k, const float *a, int64_t lda, const float *x, float *y,
                   float beta) {
    for (int64_t i = 0; i < m; i++) {
        float s = 0;
        for (int64_t p = 0; p < k; p++) s += a[i * lda + p] * x[p];
        y[i] = beta == 0.0f ? s : s + beta * y[i];
    }
}

static void gemv_t(int64_t k, int64_t n, const float *a, int64_t lda, const float *x, float *y,
                   float beta) {
    for (int64_t j = 0; j < n; j++) {
        float s = 0;
        for (int64_t p = 0; p < k; p++) s += x[p] * a[p * lda + j];
        y[j] = beta == 0.0f ? s : s + beta * y[j];
    }
}

static float dot(int64_t n, const float *x, const float *y) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

static void axpy(int64_t n, float a, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void scale(int64_t n, float a, float *x) {
    for (int64_t i = 0; i < n; i++) x[i] *= a;
}

static float vmax(int64_t n, const float *x) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static float exp_sum(int64_t n, const float *x, float m, float *y) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = expf(x[i] - m);
        s += y[i];
    }
    return s;
}

// ---- activations ----

#define GELU_K 0.7978845608028654f  // sqrt(2 / pi)
#define INV_SQRT2 0.7071067811865476f

static float act1(cf_act_op op, float x) {
    switch (op) {
    case CF_OP_GELU: return 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    case CF_OP_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    case CF_OP_RELU: return x > 0 ? x : 0;
    case CF_OP_SILU: return x / (1.0f + expf(-x));
    }
    return 0;
}

static float dact1(cf_act_op op, float x) {
    switch (op) {
    case CF_OP_GELU: {
        float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
        float pdf = expf(-0.5f * x * x) * 0.3989422804014327f;
        return cdf + x * pdf;
    }
    case CF_OP_GELU_TANH: {
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float t = tanhf(u);
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
    }
    case CF_OP_RELU: return x > 0 ? 1.0f : 0.0f;
    case CF_OP_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    }
    return 0;
}

static void act_fwd(cf_act_op op, int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = act1(op, x[i]);
}

static void act_bwd(cf_act_op op, int64_t n, const float *x, const float *dy, float *dx) {
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * dact1(op, x[i]);
}

static void glu_fwd(cf_act_op op, int64_t n, const float *g, const float *u, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = act1(op, g[i]) * u[i];
}

static void glu_bwd(cf_act_op op, int64_t n, const float *g, const float *u, const float *dout,
                    float *dg, float *du) {
    for (int64_t i = 0; i < n; i++) {
        dg[i] += dout[i] * u[i] * dact1(op, g[i]);
        du[i] += dout[i] * act1(op, g[i]);
    }
}

// ---- norms ----

static void layernorm_fwd(int64_t c, const float *x, const float *w, const float *b, float eps,
                          float *y, float *mean, float *rstd) {
    // Two passes (mean, then centred variance) for accuracy, as torch does.
    float m = 0;
    for (int64_t i = 0; i < c; i++) m += x[i];
    m /= (float)c;
    float v = 0;
    for (int64_t i = 0; i < c; i++) v += (x[i] - m) * (x[i] - m);
    v /= (float)c;
    float r = 1.0f / sqrtf(v + eps);
    for (int64_t i = 0; i < c; i++) y[i] = (x[i] - m) * r * w[i] + (b ? b[i] : 0.0f);
    *mean = m;
    *rstd = r;
}

static void layernorm_bwd(int64_t c, const float *x, const float *w, float mean, float rstd,
                          const float *dy, float *dx, float *dw, float *db) {
    // dxhat = dy * w; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    float s1 = 0, s2 = 0;
    for (int64_t i = 0; i < c; i++) {
        float xh = (x[i] - mean) * rstd;
        float d = dy[i] * w[i];
        s1 += d;
        s2 += d * xh;
    }
    s1 /= (float)c;
    s2 /= (float)c;
    for (int64_t i = 0; i < c; i++) {
        float xh = (x[i] - mean) * rstd;
        float d = dy[i] * w[i];
        dx[i] += rstd * (d - s1 - xh * s2);
        dw[i] += dy[i] * xh;
        if (db) db[i] += dy[i];
    }
}

static void rmsnorm_fwd(int64_t c, const float *x, const float *w, float eps, float *y,
                        float *rstd) {
    float ss = 0;
    for (int64_t i = 0; i < c; i++) ss += x[i] * x[i];
    float r = 1.0f / sqrtf(ss / (float)c + eps);
    for (int64_t i = 0; i < c; i++) y[i] = x[i] * r * w[i];
    *rstd = r;
}

static void rmsnorm_bwd(int64_t c, const float *x, const float *w, float rstd, const float *dy,
                        float *dx, float *dw) {
    // y = x r w with r = (mean(x^2) + eps)^-1/2; dx = r (dy w) - x r^3 mean(dy w x)
    float s = 0;
    for (int64_t i = 0; i < c; i++) s += dy[i] * w[i] * x[i];
    s /= (float)c;
    float r3 = rstd * rstd * rstd;
    for (int64_t i = 0; i < c; i++) {
        dx[i] += rstd * dy[i] * w[i] - x[i] * r3 * s;
        dw[i] += dy[i] * x[i] * rstd;
    }
}

static double sumsq(int64_t n, const float *x) {
    double s = 0;
    for (int64_t i = 0; i < n; i += 256) {
        int64_t e = n - i < 256 ? n - i : 256;
        float b = 0;
        for (int64_t j = 0; j < e; j++) b += x[i + j] * x[i + j];
        s += (double)b;
    }
    return s;
}

static void adamw(int64_t n, float *p, const float *g, float *m, float *v, const cf_adamw_hp *hp) {
    for (int64_t i = 0; i < n; i++) {
        // torch.optim.AdamW: decay first, then the Adam update with bias corrections.
        float gi = g[i] * hp->gscale;
        p[i] -= hp->lr * hp->wd * p[i];
        m[i] = hp->b1 * m[i] + (1.0f - hp->b1) * gi;
        v[i] = hp->b2 * v[i] + (1.0f - hp->b2) * gi * gi;
        float mh = m[i] / hp->bc1;
        float vh = v[i] / hp->bc2;
        p[i] -= hp->lr * mh / (sqrtf(vh) + hp->eps);
    }
}

static const cf_kernels table = {
    .name = "ref",
    .mr = REF_MR,
    .nr = REF_NR,
    .mc = 64,
    .kc = 256,
    .nc = 1024,
    .gemm_micro = gemm_micro,
    .pack_rows = pack_rows,
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

const cf_kernels *cf__kernels_ref(void) { return &table; }
