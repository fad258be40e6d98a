// bf16 products: C = op(A) * op(B) (+ bias or + C) with both operands rounded to bf16 (nearest
// even) and every product summed in fp32, for CPUs with AVX512_BF16 (VDPBF16PS: two products per
// 32-bit lane and instruction, twice the fp32 FMA's rate). Inference (cf__gemm_bf16_packed): op(B)
// is a weight packed once (cf__gemm_bf16_pack_b, kept by the model's prepack cache) and A is
// rounded as it is packed, panel by panel. Training and unpacked products (cf__gemm_bf16): both
// operands packed per call, any transposes. The loops are cf__gemm_packed's and cf__gemm_st's
// (BLIS: nc, kc, mc blocks, mr x nr micro-tiles); the micro-kernel and the packing are in
// x86/bf16_avx512.c.
//
// Packed B, pairs of bf16 in 32-bit words (the even k in the low half): Np = N rounded up to NR;
// K blocks of KC rows (the last shorter; KC even, so every block starts at an even k), block pc
// at Bp + (pc / 2) * Np words; in a block of kq = ceil(kc_b / 2) pairs, the panel of columns
// [j, j + NR) at block + j * kq, word (q, c) at q * NR + c = (B[pc + 2q][j + c], B[pc + 2q + 1][j
// + c]), zero past N and past K.
#include <string.h>

#include "kernels.h"

#define MR CF_BF16_MR
#define NR CF_BF16_NR
#define KC CF_BF16_KC
#define MC CF_BF16_MC
#define NC CF_BF16_NC

#if defined(__x86_64__)
#define MICRO cf__bf16_micro_avx512
#define PACK_ROWS cf__bf16_pack_rows_avx512
#define PACK_COLS cf__bf16_pack_cols_avx512
#else
// Never called: contexts ask for bf16 only where AVX512_BF16 is present (core/status.c).
static void MICRO(int mm, int64_t kq, const uint32_t *a, const uint32_t *b, float *c, int64_t ldc,
                  bool acc, const float *bias) {
    (void)mm, (void)kq, (void)a, (void)b, (void)c, (void)ldc, (void)acc, (void)bias;
    CF_ASSERT(0);
}
static void PACK_ROWS(int R, int rows, const float *A, int64_t lda, int64_t kc, uint32_t *dst) {
    (void)R, (void)rows, (void)A, (void)lda, (void)kc, (void)dst;
    CF_ASSERT(0);
}
static void PACK_COLS(int R, int cols, const float *A, int64_t lda, int64_t kc, uint32_t *dst) {
    (void)R, (void)cols, (void)A, (void)lda, (void)kc, (void)dst;
    CF_ASSERT(0);
}
#endif

size_t cf__gemm_bf16_packed_bytes(int64_t N, int64_t K) {
    int64_t np = (N + NR - 1) / NR * NR;
    return (size_t)np * (size_t)((K + 1) / 2) * 4;
}

// dst <- the panel of op(B)'s columns [j0, j0 + cols) (cols <= NR; the rest zero) over rows
// [p0, p0 + kc): B is (N x K, ldb) with tb (its rows are the panel's columns), else (K x N, ldb).
static void pack_b_panel(bool tb, const float *B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                         int cols, uint32_t *dst) {
    if (tb) PACK_ROWS(NR, cols, B + j0 * ldb + p0, ldb, kc, dst);
    else PACK_COLS(NR, cols, B + p0 * ldb + j0, ldb, kc, dst);
}

typedef struct pack_job {
    bool tb;
    int64_t N, K;
    const float *B;
    int64_t ldb;
    uint32_t *dst;
} pack_job;

static void pack_task(int ith, int nth, void *arg) {
    const pack_job *j = arg;
    int64_t np = (j->N + NR - 1) / NR, p0, p1;
    cf__split(np, 1, ith, nth, &p0, &p1);  // column panels
    for (int64_t pc = 0; pc < j->K; pc += KC) {
        int64_t kc = j->K - pc < KC ? j->K - pc : KC, kq = (kc + 1) / 2;
        uint32_t *blk = j->dst + (pc / 2) * np * NR;
        for (int64_t p = p0; p < p1; p++) {
            int cols = (int)(j->N - p * NR < NR ? j->N - p * NR : NR);
            pack_b_panel(j->tb, j->B, j->ldb, pc, kc, p * NR, cols, blk + p * NR * kq);
        }
    }
}

void cf__gemm_bf16_pack_b(cf_ctx *ctx, bool tb, int64_t N, int64_t K, const float *B, int64_t ldb,
                          void *dst) {
    pack_job j = {tb, N, K, B, ldb, dst};
    if (ctx->n_threads == 1 || (double)N * (double)K < 65536.0) pack_task(0, 1, &j);
    else cf__pool_run(ctx->pool, pack_task, &j);
}

// The micro-tiles of one mc x nc block of C: pa the packed A block (panel ir at pa + ir * kq),
// pb the block's B panels (columns [jr, jr + NR) at pb + jr * kq); acc: add to C, else replace
// it by (bias, nc floats, or nothing) + the product. Edge columns go through tile (MR x NR).
static void tiles(int64_t mc, int64_t nc, int64_t kq, const uint32_t *pa, const uint32_t *pb,
                  bool acc, const float *bias, float *C, int64_t ldc, float *tile) {
    for (int64_t jr = 0; jr < nc; jr += NR) {
        int64_t nn = nc - jr < NR ? nc - jr : NR;
        const uint32_t *bp = pb + jr * kq;
        // The bias starts the sums of the first K block (the order of filling C with it first).
        const float *bb = bias ? bias + jr : NULL;
        for (int64_t ir = 0; ir < mc; ir += MR) {
            int mm = (int)(mc - ir < MR ? mc - ir : MR);
            float *c = C + ir * ldc + jr;
            if (nn == NR) {
                MICRO(mm, kq, pa + ir * kq, bp, c, ldc, acc, bb);
                continue;
            }
            float edge[NR] = {0};
            if (bb) memcpy(edge, bb, (size_t)nn * 4);
            MICRO(mm, kq, pa + ir * kq, bp, tile, NR, false, edge);
            for (int i = 0; i < mm; i++)
                for (int64_t x = 0; x < nn; x++)
                    c[i * ldc + x] = acc ? c[i * ldc + x] + tile[i * NR + x] : tile[i * NR + x];
        }
    }
}

// pa <- rows [i0, i0 + mc) of op(A) over columns [p0, p0 + kc), panels of MR rows.
static void pack_a(bool ta, const float *A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                   int64_t kc, uint32_t *pa) {
    int64_t kq = (kc + 1) / 2;
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int rows = (int)(mc - ir < MR ? mc - ir : MR);
        if (!ta) PACK_ROWS(MR, rows, A + (i0 + ir) * lda + p0, lda, kc, pa + ir * kq);
        else PACK_COLS(MR, rows, A + p0 * lda + i0 + ir, lda, kc, pa + ir * kq);
    }
}

// Rows [0, M) and columns [n0, n1) (n0 a multiple of NR) of C = A * Bp (+ bias); scratch holds
// the packed A block (MC x KC / 2 words) and an edge tile (MR x NR floats).
static void packed_st(uint32_t *scratch, int64_t M, int64_t n0, int64_t n1, int64_t Np, int64_t K,
                      const float *A, int64_t lda, const uint32_t *Bp, const float *bias, float *C,
                      int64_t ldc) {
    uint32_t *pa = scratch;
    float *tile = (float *)(scratch + MC * (KC / 2));
    for (int64_t jc = n0; jc < n1; jc += NC) {
        int64_t nc = n1 - jc < NC ? n1 - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = K - pc < KC ? K - pc : KC, kq = (kc + 1) / 2;
            const uint32_t *pb = Bp + (pc / 2) * Np + jc * kq;
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = M - ic < MC ? M - ic : MC;
                pack_a(false, A, lda, ic, mc, pc, kc, pa);
                tiles(mc, nc, kq, pa, pb, pc > 0, pc == 0 && bias ? bias + jc : NULL,
                      C + ic * ldc + jc, ldc, tile);
            }
        }
    }
}

// C[M x N] (+)= op(A) * op(B), both packed here; scratch as packed_st's, then the B block
// (KC / 2 x NC words).
static void gemm_st(uint32_t *scratch, bool ta, bool tb, int64_t M, int64_t N, int64_t K,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                    int64_t ldc) {
    uint32_t *pa = scratch;
    float *tile = (float *)(scratch + MC * (KC / 2));
    uint32_t *pb = scratch + MC * (KC / 2) + MR * NR;
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = K - pc < KC ? K - pc : KC, kq = (kc + 1) / 2;
            for (int64_t jr = 0; jr < nc; jr += NR)
                pack_b_panel(tb, B, ldb, pc, kc, jc + jr, (int)(nc - jr < NR ? nc - jr : NR),
                             pb + jr * kq);
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = M - ic < MC ? M - ic : MC;
                pack_a(ta, A, lda, ic, mc, pc, kc, pa);
                tiles(mc, nc, kq, pa, pb, pc > 0 || beta != 0.0f, NULL, C + ic * ldc + jc, ldc,
                      tile);
            }
        }
    }
}

typedef struct gemm_job {
    cf_ctx *ctx;
    int64_t M, N, K, Np;
    const float *A;
    int64_t lda;
    const uint32_t *Bp;  // packed B, or NULL: B (ldb, tb) packed per call
    const float *bias;
    float *C;
    int64_t ldc;
    int tm, tn;
    bool ta, tb;
    const float *B;
    int64_t ldb;
    float beta;
} gemm_job;

static void gemm_task(int ith, int nth, void *arg) {
    const gemm_job *j = arg;
    (void)nth;
    int64_t m0, m1, n0, n1;
    if (!cf__gemm_cell(MR, NR, j->tm, j->tn, ith, j->M, j->N, &m0, &m1, &n0, &n1)) return;
    uint32_t *scratch = (uint32_t *)(j->ctx->scratch + (size_t)ith * j->ctx->scratch_floats);
    const float *A = j->ta ? j->A + m0 : j->A + m0 * j->lda;
    if (j->Bp) {
        packed_st(scratch, m1 - m0, n0, n1, j->Np, j->K, A, j->lda, j->Bp, j->bias,
                  j->C + m0 * j->ldc, j->ldc);
        return;
    }
    const float *B = j->tb ? j->B + n0 * j->ldb : j->B + n0;
    gemm_st(scratch, j->ta, j->tb, m1 - m0, n1 - n0, j->K, A, j->lda, B, j->ldb, j->beta,
            j->C + m0 * j->ldc + n0, j->ldc);
}

void cf__gemm_bf16_packed(cf_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A,
                          int64_t lda, const void *Bp, const float *bias, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    // The scratch the fp32 driver sizes for its own blocks holds these (checked by a test too).
    CF_ASSERT((size_t)MC * (KC / 2) + MR * NR <= ctx->scratch_floats);
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++) {
            if (bias) memcpy(C + i * ldc, bias, (size_t)N * 4);
            else memset(C + i * ldc, 0, (size_t)N * 4);
        }
        return;
    }
    int64_t Np = (N + NR - 1) / NR * NR;
    int nth = ctx->n_threads;
    double flops = 2.0 * (double)M * (double)N * (double)K;
    int tm = nth > 1 && flops >= 2e5 ? cf__gemm_grid(MR, NR, nth, M, N) : 0;
    gemm_job j = {ctx, M, N, K, Np, A, lda, Bp, bias, C, ldc, tm ? tm : 1, tm ? nth / tm : 1,
                  false, false, NULL, 0, 0.0f};
    if (!tm) gemm_task(0, 1, &j);
    else cf__pool_run(ctx->pool, gemm_task, &j);
}

void cf__gemm_bf16(cf_ctx *ctx, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    CF_ASSERT(beta == 0.0f || beta == 1.0f);
    CF_ASSERT((size_t)MC * (KC / 2) + MR * NR + (KC / 2) * NC <= ctx->scratch_floats);
    if (K <= 0) {
        for (int64_t i = 0; i < M && beta == 0.0f; i++) memset(C + i * ldc, 0, (size_t)N * 4);
        return;
    }
    int nth = ctx->n_threads;
    double flops = 2.0 * (double)M * (double)N * (double)K;
    int tm = nth > 1 && flops >= 2e5 ? cf__gemm_grid(MR, NR, nth, M, N) : 0;
    gemm_job j = {ctx, M, N, K, 0, A, lda, NULL, NULL, C, ldc, tm ? tm : 1, tm ? nth / tm : 1,
                  ta, tb, B, ldb, beta};
    if (!tm) gemm_task(0, 1, &j);
    else cf__pool_run(ctx->pool, gemm_task, &j);
}
