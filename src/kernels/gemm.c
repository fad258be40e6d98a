// Portable GEMM driver in the BLIS structure: cache blocking (nc, kc, mc), packing of A into
// mr-row panels and of B into nr-column panels, and a loop over micro-tiles that calls the
// table's ISA-specific micro-kernel. Transposed operands are handled by the packing, so one
// micro-kernel serves every case. Threads split C into a tm x tn grid chosen to minimise packing
// traffic; each thread packs into its own scratch, so there is no sharing and no locking.
// Matrix-vector products (M == 1) go to the GEMV kernels, split over N. Constant B (inference
// weights) can be packed once, whole, by cf__gemm_pack_b; cf__gemm_packed then skips packing B.
//
// Not here: the micro-kernels themselves (kernels/ref, kernels/x86).
#include <string.h>

#include "kernels.h"

size_t cf__gemm_scratch_floats(const cf_kernels *k) {
    size_t a = (size_t)k->mc * (size_t)k->kc;
    size_t b = (size_t)k->kc * (size_t)k->nc;
    size_t tile = (size_t)k->mr * (size_t)k->nr;
    // Each part rounded up to 16 floats (64 bytes) so every part stays aligned.
    return ((a + 15) & ~(size_t)15) + ((b + 15) & ~(size_t)15) + ((tile + 15) & ~(size_t)15);
}

// dst <- panels of mr rows of op(A)[i0 .. i0+mc, p0 .. p0+kc), zero padded to a multiple of mr.
static void pack_a(const cf_kernels *k, bool ta, const float *A, int64_t lda, int64_t i0,
                   int64_t mc, int64_t p0, int64_t kc, float *dst) {
    int mr = k->mr;
    for (int64_t ir = 0; ir < mc; ir += mr) {
        int64_t rows = mc - ir < mr ? mc - ir : mr;
        if (!ta) {
            k->pack_rows(mr, rows, A + (i0 + ir) * lda + p0, lda, kc, dst);
        } else {
            k->pack_cols(mr, rows, A + p0 * lda + i0 + ir, lda, kc, dst);
        }
        dst += kc * mr;
    }
}

// dst <- panels of nr columns of op(B)[p0 .. p0+kc, j0 .. j0+nc), zero padded to nr.
static void pack_b(const cf_kernels *k, bool tb, const float *B, int64_t ldb, int64_t p0,
                   int64_t kc, int64_t j0, int64_t nc, float *dst) {
    int nr = k->nr;
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int64_t cols = nc - jr < nr ? nc - jr : nr;
        if (!tb) {
            k->pack_cols(nr, cols, B + p0 * ldb + j0 + jr, ldb, kc, dst);
        } else {
            k->pack_rows(nr, cols, B + (j0 + jr) * ldb + p0, ldb, kc, dst);
        }
        dst += kc * nr;
    }
}

static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

// C[mc x nc] (ldc) = alpha * packed A (mc x kc) * packed B (kc x nc) + b_eff * C: the loop
// over micro-tiles; edge tiles go through tile (mr x nr). With bias (nc floats), C's old value
// is replaced by bias (a row for every row) just before each tile is computed, with b_eff 1:
// the same sums as filling C with the bias first, without a separate pass over C.
static void macro_kernel(const cf_kernels *k, int64_t mc, int64_t nc, int64_t kc, float alpha,
                         const float *pa, const float *pb, float b_eff, const float *bias,
                         float *C, int64_t ldc, float *tile) {
    const int mr = k->mr, nr = k->nr;
    if (bias) b_eff = 1.0f;
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int64_t nn = nc - jr < nr ? nc - jr : nr;
        const float *bp = pb + jr * kc;
        for (int64_t ir = 0; ir < mc; ir += mr) {
            int64_t mm = mc - ir < mr ? mc - ir : mr;
            const float *ap = pa + ir * kc;
            float *c = C + ir * ldc + jr;
            if (bias)
                for (int64_t i = 0; i < mm; i++) memcpy(c + i * ldc, bias + jr, (size_t)nn * 4);
            if (mm == mr && nn == nr) {
                k->gemm_micro(kc, ap, bp, c, ldc, alpha, b_eff);
            } else if (nn == nr && k->gemm_micro_rows) {
                k->gemm_micro_rows((int)mm, kc, ap, bp, c, ldc, alpha, b_eff);
            } else {
                k->gemm_micro(kc, ap, bp, tile, nr, alpha, 0.0f);
                for (int64_t i = 0; i < mm; i++)
                    for (int64_t j = 0; j < nn; j++) {
                        float v = tile[i * nr + j];
                        c[i * ldc + j] = b_eff == 0.0f ? v : v + b_eff * c[i * ldc + j];
                    }
            }
        }
    }
}

void cf__gemm_st(const cf_kernels *k, float *scratch, bool ta, bool tb, int64_t M, int64_t N,
                 int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                 float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    // One row (decoding: a query against the cached keys): a matrix-vector product, no packing.
    if (M == 1 && (!ta || lda == 1) && (alpha == 1.0f || beta == 0.0f)) {
        if (tb) k->gemv_n(N, K, B, ldb, A, C, beta);
        else k->gemv_t(K, N, B, ldb, A, C, beta);
        if (alpha != 1.0f) k->scale(N, alpha, C);
        return;
    }
    const int64_t MC = k->mc, KC = k->kc, NC = k->nc;
    float *pa = scratch;
    float *pb = pa + ((MC * KC + 15) & ~(int64_t)15);
    float *tile = pb + ((KC * NC + 15) & ~(int64_t)15);
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = K - pc < KC ? K - pc : KC;
            float b_eff = pc == 0 ? beta : 1.0f;
            pack_b(k, tb, B, ldb, pc, kc, jc, nc, pb);
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = M - ic < MC ? M - ic : MC;
                pack_a(k, ta, A, lda, ic, mc, pc, kc, pa);
                macro_kernel(k, mc, nc, kc, alpha, pa, pb, b_eff, NULL, C + ic * ldc + jc, ldc,
                             tile);
            }
        }
    }
}

// ---- pre-packed B ----
//
// A packed op(B) (K x N), Np = N rounded up to a multiple of nr: K blocks of kc rows (the last
// one shorter), block pc starting at Bp + pc * Np; in each block the column panels in order, the
// panel of columns [j, j + nr) (kc x nr, contiguous, columns past N zero) at block + j * kc. So
// the panels of any column range that starts at a multiple of nr are contiguous in every block,
// exactly as pack_b writes them into scratch.

size_t cf__gemm_packed_floats(const cf_kernels *k, int64_t N, int64_t K) {
    return (size_t)((N + k->nr - 1) / k->nr * k->nr) * (size_t)K;
}

typedef struct pack_job {
    const cf_kernels *k;
    bool tb;
    int64_t N, K;
    const float *B;
    int64_t ldb;
    float *dst;
} pack_job;

static void pack_task(int ith, int nth, void *arg) {
    const pack_job *j = arg;
    const cf_kernels *k = j->k;
    int64_t nr = k->nr, np = (j->N + nr - 1) / nr, p0, p1;
    cf__split(np, 1, ith, nth, &p0, &p1);  // column panels
    for (int64_t pc = 0; pc < j->K; pc += k->kc) {
        int64_t kc = j->K - pc < k->kc ? j->K - pc : k->kc;
        float *blk = j->dst + pc * np * nr;
        for (int64_t p = p0; p < p1; p++) {
            int64_t c0 = p * nr, cols = j->N - c0 < nr ? j->N - c0 : nr;
            if (j->tb) k->pack_rows((int)nr, cols, j->B + c0 * j->ldb + pc, j->ldb, kc, blk + c0 * kc);
            else k->pack_cols((int)nr, cols, j->B + pc * j->ldb + c0, j->ldb, kc, blk + c0 * kc);
        }
    }
}

void cf__gemm_pack_b(cf_ctx *ctx, bool tb, int64_t N, int64_t K, const float *B, int64_t ldb,
                     float *dst) {
    pack_job j = {ctx->k, tb, N, K, B, ldb, dst};
    if (ctx->n_threads == 1 || (double)N * (double)K < 65536.0) pack_task(0, 1, &j);
    else cf__pool_run(ctx->pool, pack_task, &j);
}

// Columns [n0, n1) of C = alpha * op(A) * Bp + (bias or beta * C), n0 a multiple of nr; Bp
// packed for Np (padded) columns; A and C as in cf__gemm_st (C at column 0), bias (N) or NULL.
// The loops and the K blocking are cf__gemm_st's, so every element of C gets the same
// arithmetic as there (with C filled with the bias first and beta 1).
static void gemm_packed_st(const cf_kernels *k, float *scratch, bool ta, int64_t M, int64_t n0,
                           int64_t n1, int64_t Np, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *Bp, float beta, const float *bias, float *C,
                           int64_t ldc) {
    if (M <= 0 || n1 <= n0) return;
    if (K <= 0) {
        for (int64_t i = 0; i < M && bias; i++)
            memcpy(C + i * ldc + n0, bias + n0, (size_t)(n1 - n0) * 4);
        if (!bias) scale_c(M, n1 - n0, beta, C + n0, ldc);
        return;
    }
    const int64_t MC = k->mc, KC = k->kc, NC = k->nc;
    float *pa = scratch;
    float *tile = pa + ((MC * KC + 15) & ~(int64_t)15) + ((KC * NC + 15) & ~(int64_t)15);
    for (int64_t jc = n0; jc < n1; jc += NC) {
        int64_t nc = n1 - jc < NC ? n1 - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = K - pc < KC ? K - pc : KC;
            float b_eff = pc == 0 ? beta : 1.0f;
            const float *pb = Bp + pc * Np + jc * kc;
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = M - ic < MC ? M - ic : MC;
                pack_a(k, ta, A, lda, ic, mc, pc, kc, pa);
                macro_kernel(k, mc, nc, kc, alpha, pa, pb, b_eff, pc == 0 && bias ? bias + jc : NULL,
                             C + ic * ldc + jc, ldc, tile);
            }
        }
    }
}

// ---- threading ----

typedef struct gemm_job {
    const cf_kernels *k;
    cf_ctx *ctx;
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int64_t lda, ldb, ldc;
    int tm, tn;       // thread grid
    const float *Bp;  // packed B (cf__gemm_pack_b) instead of B, or NULL
    int64_t Np;       // its padded column count
    const float *bias;  // with Bp: a row added instead of beta * C, or NULL
} gemm_job;

static void gemm_task(int ith, int nth, void *arg) {
    const gemm_job *j = arg;
    (void)nth;
    int64_t m0, m1, n0, n1;
    if (!cf__gemm_cell(j->k->mr, j->k->nr, j->tm, j->tn, ith, j->M, j->N, &m0, &m1, &n0, &n1))
        return;
    const float *A = j->ta ? j->A + m0 : j->A + m0 * j->lda;
    float *scratch = j->ctx->scratch + (size_t)ith * j->ctx->scratch_floats;
    if (j->Bp) {
        gemm_packed_st(j->k, scratch, j->ta, m1 - m0, n0, n1, j->Np, j->K, j->alpha, A, j->lda,
                       j->Bp, j->beta, j->bias, j->C + m0 * j->ldc, j->ldc);
        return;
    }
    const float *B = j->tb ? j->B + n0 * j->ldb : j->B + n0;
    cf__gemm_st(j->k, scratch, j->ta, j->tb, m1 - m0, n1 - n0, j->K, j->alpha, A, j->lda, B,
                j->ldb, j->beta, j->C + m0 * j->ldc + n0, j->ldc);
}

typedef struct gemv_job {
    const cf_kernels *k;
    bool tb;
    int64_t N, K;
    const float *x;
    const float *B;
    int64_t ldb;
    float beta;
    float *y;
} gemv_job;

static void gemv_task(int ith, int nth, void *arg) {
    const gemv_job *j = arg;
    int64_t n0, n1;
    cf__split(j->N, 16, ith, nth, &n0, &n1);
    if (n0 >= n1) return;
    if (j->tb) j->k->gemv_n(n1 - n0, j->K, j->B + n0 * j->ldb, j->ldb, j->x, j->y + n0, j->beta);
    else j->k->gemv_t(j->K, n1 - n0, j->B + n0, j->ldb, j->x, j->y + n0, j->beta);
}

// Thread grid tm x tn = nth minimising packing traffic tn*M + tm*N (each thread packs its rows
// of A and its columns of B; with B pre-packed, reads its columns of B), while leaving every
// thread at least one mr x nr tile. Returns tm, or 0 when no grid does.
int cf__gemm_grid(int mr, int nr, int nth, int64_t M, int64_t N) {
    int best_tm = 0;
    double best = -1;
    for (int tm = 1; tm <= nth; tm++) {
        if (nth % tm) continue;
        int tn = nth / tm;
        if ((M + mr - 1) / mr < tm || (N + nr - 1) / nr < tn) continue;
        double cost = (double)tn * (double)M + (double)tm * (double)N;
        if (best < 0 || cost < best) {
            best = cost;
            best_tm = tm;
        }
    }
    return best_tm;
}

bool cf__gemm_cell(int mr, int nr, int tm, int tn, int ith, int64_t M, int64_t N, int64_t *m0,
                   int64_t *m1, int64_t *n0, int64_t *n1) {
    cf__split(M, mr, ith / tn, tm, m0, m1);
    cf__split(N, nr, ith % tn, tn, n0, n1);
    return *m0 < *m1 && *n0 < *n1;
}

void cf__gemm(cf_ctx *ctx, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc) {
    const cf_kernels *k = ctx->k;
    int nth = ctx->n_threads;
    double flops = 2.0 * (double)M * (double)N * (double)K;
    // An external BLAS takes the large products (sizes fit its int arguments by construction:
    // every dimension comes from a validated config).
    if (ctx->blas && M > 1 && flops >= 4e7 && M < INT32_MAX && N < INT32_MAX && K < INT32_MAX) {
        ctx->blas->sgemm(101, ta ? 112 : 111, tb ? 112 : 111, (int)M, (int)N, (int)K, alpha, A,
                         (int)lda, B, (int)ldb, beta, C, (int)ldc);  // row-major
        return;
    }
    if (M == 1 && K > 0 && N > 0 && (alpha == 1.0f) && (!ta || lda == 1)) {
        gemv_job g = {k, tb, N, K, A, B, ldb, beta, C};
        if (flops < 1e5 || nth == 1) gemv_task(0, 1, &g);
        else cf__pool_run(ctx->pool, gemv_task, &g);
        return;
    }
    if (flops < 2e5 || nth == 1) {
        cf__gemm_st(k, ctx->scratch, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int tm = cf__gemm_grid(k->mr, k->nr, nth, M, N);
    if (!tm) {
        cf__gemm_st(k, ctx->scratch, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_job j = {k, ctx, ta, tb, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc, tm, nth / tm,
                  NULL, 0, NULL};
    cf__pool_run(ctx->pool, gemm_task, &j);
}

void cf__gemm_packed(cf_ctx *ctx, bool ta, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *Bp, float beta, const float *bias,
                     float *C, int64_t ldc) {
    const cf_kernels *k = ctx->k;
    int nth = ctx->n_threads;
    int64_t Np = (N + k->nr - 1) / k->nr * k->nr;
    double flops = 2.0 * (double)M * (double)N * (double)K;
    int tm = flops < 2e5 || nth == 1 ? 0 : cf__gemm_grid(k->mr, k->nr, nth, M, N);
    if (!tm) {
        gemm_packed_st(k, ctx->scratch, ta, M, 0, N, Np, K, alpha, A, lda, Bp, beta, bias, C,
                       ldc);
        return;
    }
    // Column splits are multiples of nr (cf__split's granularity), as the packed panels need.
    gemm_job j = {k, ctx, ta, false, M, N, K, alpha, beta, A, NULL, C, lda, 0, ldc, tm,
                  nth / tm, Bp, Np, bias};
    cf__pool_run(ctx->pool, gemm_task, &j);
}
