// The kernel table: one function pointer per primitive. cf__kernels_select fills it once with
// the best variant the CPU supports (ref, avx2, avx512); CF_ISA=ref|avx2|avx512 forces one.
// nn/ and models/ call kernels only through this table (or the threaded drivers below), never
// an ISA function directly.
//
// Kernel contract: kernels return void and trust their inputs (shapes are checked once at the
// nn-layer boundary). Pointers need 4-byte alignment only. Row-major storage throughout; ld* is
// the distance in floats between consecutive rows. Kernels that "accumulate" add into their
// output (+=), which is how gradients from several consumers of a tensor are summed.
#ifndef CF_KERNELS_H
#define CF_KERNELS_H

#include "../internal.h"

typedef enum cf_act_op {
    CF_OP_GELU = 0,
    CF_OP_GELU_TANH = 1,
    CF_OP_RELU = 2,
    CF_OP_SILU = 3,
} cf_act_op;

typedef struct cf_adamw_hp {
    float lr, b1, b2, eps, wd;
    float bc1, bc2;  // bias corrections 1 - b1^t, 1 - b2^t
    float gscale;    // multiplies the gradient (clipping); 1 when not clipping
} cf_adamw_hp;

typedef struct cf_kernels {
    const char *name;
    int mr, nr;      // GEMM micro-tile (rows of A, columns of B)
    int mc, kc, nc;  // GEMM cache blocking: mc multiple of mr, nc multiple of nr

    // c[mr x nr] (row stride ldc) = alpha * sum_p a[p][0..mr) (x) b[p][0..nr) + beta * c.
    // a: packed (kc, mr), b: packed (kc, nr). beta == 0 means c is not read.
    void (*gemm_micro)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                       float alpha, float beta);
    // The same for the first mm rows only (1 <= mm <= mr; a is still packed with mr rows),
    // written into c directly; NULL: edge tiles go through a scratch tile.
    void (*gemm_micro_rows)(int mm, int64_t kc, const float *a, const float *b, float *c,
                            int64_t ldc, float alpha, float beta);
    // GEMM packing: dst[p * R + r] = src[r * ld + p] for r < rows, p < kc; rows r in
    // [rows, R) are zero. (A's row panels and transposed B's column panels.)
    void (*pack_rows)(int R, int64_t rows, const float *src, int64_t ld, int64_t kc, float *dst);
    // GEMM packing without transposition: dst[p * R + c] = src[p * ld + c] for c < cols,
    // p < kc; columns [cols, R) are zero. (Transposed A's row panels and B's column panels.)
    void (*pack_cols)(int R, int64_t cols, const float *src, int64_t ld, int64_t kc, float *dst);
    // y[i] = beta * y[i] + sum_k a[i*lda + k] * x[k], i < m. beta == 0: y is not read.
    void (*gemv_n)(int64_t m, int64_t k, const float *a, int64_t lda, const float *x, float *y,
                   float beta);
    // y[j] = beta * y[j] + sum_k x[k] * a[k*lda + j], j < n. beta == 0: y is not read.
    void (*gemv_t)(int64_t k, int64_t n, const float *a, int64_t lda, const float *x, float *y,
                   float beta);

    float (*dot)(int64_t n, const float *x, const float *y);
    void (*axpy)(int64_t n, float a, const float *x, float *y);  // y += a * x
    void (*scale)(int64_t n, float a, float *x);                  // x *= a
    float (*max)(int64_t n, const float *x);
    // y[i] = exp(x[i] - m); returns the sum of y (y may alias x).
    float (*exp_sum)(int64_t n, const float *x, float m, float *y);

    // y = act(x); dx += dy * act'(x) (x is the activation's input).
    void (*act_fwd)(cf_act_op op, int64_t n, const float *x, float *y);
    void (*act_bwd)(cf_act_op op, int64_t n, const float *x, const float *dy, float *dx);
    // out = silu(g) * u (SwiGLU gate); dg += do * u * silu'(g), du += do * silu(g).
    void (*glu_fwd)(cf_act_op op, int64_t n, const float *g, const float *u, float *out);
    void (*glu_bwd)(cf_act_op op, int64_t n, const float *g, const float *u, const float *dout,
                    float *dg, float *du);

    // One row of C: y = (x - mean) * rstd * w + b (b may be NULL); stores mean and rstd.
    void (*layernorm_fwd)(int64_t c, const float *x, const float *w, const float *b, float eps,
                          float *y, float *mean, float *rstd);
    // dx += ..., dw += dy * xhat, db += dy (db may be NULL).
    void (*layernorm_bwd)(int64_t c, const float *x, const float *w, float mean, float rstd,
                          const float *dy, float *dx, float *dw, float *db);
    // y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps).
    void (*rmsnorm_fwd)(int64_t c, const float *x, const float *w, float eps, float *y,
                        float *rstd);
    void (*rmsnorm_bwd)(int64_t c, const float *x, const float *w, float rstd, const float *dy,
                        float *dx, float *dw);

    // sum of x[i]^2, i < n: blocks of 256 squares summed in float, blocks added in double, in a
    // fixed order (the result depends on the table, never on threads).
    double (*sumsq)(int64_t n, const float *x);
    // AdamW on n parameters with g' = gscale * g (gradient clipping folded in):
    // p -= lr wd p; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
    // p -= lr (m / bc1) / (sqrt(v / bc2) + eps). Matches torch.optim.AdamW.
    void (*adamw)(int64_t n, float *p, const float *g, float *m, float *v,
                  const struct cf_adamw_hp *hp);
} cf_kernels;

const cf_kernels *cf__kernels_ref(void);
const cf_kernels *cf__kernels_avx2(void);    // NULL when not built
const cf_kernels *cf__kernels_avx512(void);  // NULL when not built
// The best table for cpu, or the one named by isa ("ref", "avx2", "avx512"); NULL when the
// named one is unknown or unsupported here.
const cf_kernels *cf__kernels_select(const cf_cpu *cpu, const char *isa);

// ---- an external BLAS (kernels/blas.c) ----
//
// OpenBLAS, loaded at run time with dlopen when asked for (CF_BLAS=openblas or
// cf_ctx_params.blas) and present; large GEMMs then go to its cblas_sgemm. Loading sets
// OPENBLAS_CORETYPE (unless the user did) to the core this CPU is, since Debian's OpenBLAS 0.3.21
// does not recognise recent CPUs and would fall back to a generic kernel.
typedef struct cf_blas {
    const char *name;
    void (*sgemm)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc);
    void (*set_threads)(int n);
} cf_blas;
// The process-wide BLAS handle (loaded once, never unloaded), or NULL when unavailable.
const cf_blas *cf__blas_load(const cf_cpu *cpu);

// ---- threaded drivers (kernels/gemm.c) ----

// Floats of per-thread scratch the GEMM driver needs for packing with table k.
size_t cf__gemm_scratch_floats(const cf_kernels *k);

// C (M x N, ldc) = alpha * op(A) * op(B) + beta * C, threaded over the context's pool.
// op(A) is (M x K): A is (M x K, lda) or, with ta, (K x M, lda). op(B) is (K x N): B is
// (K x N, ldb) or, with tb, (N x K, ldb). beta == 0: C is not read.
void cf__gemm(cf_ctx *ctx, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc);
// The thread grid tm x tn = nth for an M x N product in mr x nr tiles with the least packing
// traffic, every thread with a tile at least; returns tm, or 0 when no grid gives each a tile.
int cf__gemm_grid(int mr, int nr, int nth, int64_t M, int64_t N);
// Thread ith's cell of that tm x tn grid: rows [m0, m1) in multiples of mr, columns [n0, n1) in
// multiples of nr; false when the cell is empty.
bool cf__gemm_cell(int mr, int nr, int tm, int tn, int ith, int64_t M, int64_t N, int64_t *m0,
                   int64_t *m1, int64_t *n0, int64_t *n1);
// Same, single-threaded, with explicit scratch (cf__gemm_scratch_floats floats).
void cf__gemm_st(const cf_kernels *k, float *scratch, bool ta, bool tb, int64_t M, int64_t N,
                 int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                 float beta, float *C, int64_t ldc);

// Pre-packed B, for a constant right operand used many times (inference weights): op(B) packed
// once, whole, in the panel layout the micro-kernel reads for table k (its kc and nr; layout in
// gemm.c and docs/KERNELS.md), then multiplied without packing B again. Floats the packed form
// of a (K x N) op(B) takes: N rounded up to nr, times K.
size_t cf__gemm_packed_floats(const cf_kernels *k, int64_t N, int64_t K);
// dst (cf__gemm_packed_floats(ctx->k, N, K) floats) <- op(B) packed; B as in cf__gemm: (N x K,
// ldb) with tb (y = x W^T: W used as B^T), else (K x N, ldb). Threaded over ctx's pool.
void cf__gemm_pack_b(cf_ctx *ctx, bool tb, int64_t N, int64_t K, const float *B, int64_t ldb,
                     float *dst);
// C = alpha * op(A) * op(B) + beta * C as cf__gemm, with Bp = cf__gemm_pack_b's result for the
// same table, N and K. With bias (N floats, or NULL): C = alpha * op(A) * op(B) + bias in every
// row, beta unused (C is not read), the bias written tile by tile as the product reaches it
// rather than in a pass of its own. Never uses the external BLAS. Same arithmetic per element
// of C as cf__gemm's own kernels when M > 1 (bit-identical results; with bias, as filling C
// with it and beta 1).
void cf__gemm_packed(cf_ctx *ctx, bool ta, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *Bp, float beta, const float *bias,
                     float *C, int64_t ldc);

// ---- bf16 products (kernels/gemm_bf16.c, kernels/x86/bf16_avx512.c) ----
//
// With cf_ctx_params.precision "bf16" (AVX512_BF16 CPUs only) the linear layers' products, in
// inference and training, round both operands to bf16 (nearest even) and sum the products in
// fp32: in inference the weight packed once as bf16 pairs, the activations rounded as they are
// packed; in training both operands packed per call. Layout in gemm_bf16.c.
#define CF_BF16_MR 14
#define CF_BF16_NR 32
#define CF_BF16_KC 384  // even
#define CF_BF16_MC 140  // multiple of CF_BF16_MR
#define CF_BF16_NC 3072 // multiple of CF_BF16_NR

// Bytes of a packed (K x N) op(B).
size_t cf__gemm_bf16_packed_bytes(int64_t N, int64_t K);
// dst <- op(B) packed as bf16 pairs; B as in cf__gemm_pack_b (N x K with tb, else K x N).
void cf__gemm_bf16_pack_b(cf_ctx *ctx, bool tb, int64_t N, int64_t K, const float *B, int64_t ldb,
                          void *dst);
// C (M x N, ldc) = A (M x K, lda, row-major) * op(B) + (bias in every row, or nothing: C is not
// read), with Bp from cf__gemm_bf16_pack_b for the same N and K. Threaded over ctx's pool.
void cf__gemm_bf16_packed(cf_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A,
                          int64_t lda, const void *Bp, const float *bias, float *C, int64_t ldc);
// The ISA pieces (x86/bf16_avx512.c): c[mm x NR] = (acc ? c : bias ? bias (NR floats) in every
// row : 0) + packed a (x) packed b over kq pairs; dst <- a panel of R interleaved rows (<= R) of
// A over kc columns (R = MR: A's panels; R = NR: the weight's, from the rows of W).
void cf__bf16_micro_avx512(int mm, int64_t kq, const uint32_t *a, const uint32_t *b, float *c,
                           int64_t ldc, bool acc, const float *bias);
void cf__bf16_pack_rows_avx512(int R, int rows, const float *A, int64_t lda, int64_t kc,
                               uint32_t *dst);
// dst <- a panel of R interleaved columns (<= R) of src (kc rows, ld) with pairs along the rows:
// a transposed A's panels (R = MR) or a plain (K x N) B's (R = NR).
void cf__bf16_pack_cols_avx512(int R, int cols, const float *src, int64_t ld, int64_t kc,
                               uint32_t *dst);
// C (M x N, ldc) = op(A) * op(B) + beta * C (beta 0: C is not read; or 1) with both operands
// rounded to bf16 as they are packed, sums in fp32; op() and layouts as cf__gemm's. The training
// and unpacked-inference products of a bf16 context. Threaded over ctx's pool.
void cf__gemm_bf16(cf_ctx *ctx, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif
