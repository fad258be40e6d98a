// Every kernel of every table this CPU can run (and the 16-lane logic compiled for AVX2)
// against the portable reference: GEMM on odd shapes, transposes, strides and alpha/beta, plus a
// reference-free residual check; GEMV, vector primitives, activations, norms and AdamW by
// normalized MSE.
#include <stdlib.h>

#include "../../src/kernels/kernels.h"
#include "../test.h"

const cf_kernels *cf_test_kernels_vl16(void);

static float frand(cf_rng *r) { return cf__rng_uniform(r) * 2.0f - 1.0f; }

static void fill(cf_rng *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = frand(r);
}

// The tables to test: everything the CPU supports plus the 16-lane emulation.
static int tables(const cf_kernels **out) {
    cf_cpu cpu = cf__cpu_detect();
    int n = 0;
#if defined(__x86_64__)
    if (cpu.avx2 && cpu.fma) {
        out[n++] = cf__kernels_avx2();
        out[n++] = cf_test_kernels_vl16();
    }
    if (cpu.avx512f && cpu.fma) out[n++] = cf__kernels_avx512();
#else
    (void)cpu;
#endif
    return n;
}

static void gemm_case(const cf_kernels *k, float *scratch, cf_rng *r, bool ta, bool tb,
                      int64_t M, int64_t N, int64_t K, float alpha, float beta, int64_t pad) {
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    float *A = malloc(sizeof(float) * (size_t)((ta ? K : M) * lda));
    float *B = malloc(sizeof(float) * (size_t)((tb ? N : K) * ldb));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc)), *R = malloc(sizeof(float) * (size_t)(M * ldc));
    fill(r, A, (ta ? K : M) * lda);
    fill(r, B, (tb ? N : K) * ldb);
    fill(r, C, M * ldc);
    memcpy(R, C, sizeof(float) * (size_t)(M * ldc));
    static float ref_scratch[1 << 20];
    cf__gemm_st(cf__kernels_ref(), ref_scratch, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R,
                ldc);
    cf__gemm_st(k, scratch, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double e = cf_test_nmse(C, R, M * ldc);
    if (!(e < 1e-10)) {
        fprintf(stderr, "  %s gemm ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld: "
                "nmse %.3g\n", k->name, ta, tb, (long long)M, (long long)N, (long long)K, alpha,
                beta, (long long)pad, e);
        cf_test_failures++;
    }
    free(A);
    free(B);
    free(C);
    free(R);
}

static void test_gemm_shapes(void) {
    const cf_kernels *ks[4];
    int nk = tables(ks);
    cf_rng r;
    cf__rng_seed(&r, 1);
    for (int t = 0; t < nk; t++) {
        const cf_kernels *k = ks[t];
        float *scratch = malloc(cf__gemm_scratch_floats(k) * sizeof(float));
        int64_t mr = k->mr, nr = k->nr;
        int64_t ms[] = {1, 2, mr - 1, mr, mr + 1, 13, 2 * mr + 3, 131};
        int64_t ns[] = {1, nr - 1, nr, nr + 1, 37, 3 * nr + 5};
        int64_t kss[] = {1, 7, 64, 257, 300};
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
                for (size_t c = 0; c < sizeof kss / sizeof *kss; c++) {
                    int combo = (int)(a + b + c) % 4;
                    gemm_case(k, scratch, &r, combo & 1, combo & 2, ms[a], ns[b], kss[c], 1.0f,
                              0.0f, 0);
                }
        // alpha/beta, strides and every transpose pair on a block larger than mc/kc.
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                gemm_case(k, scratch, &r, ta, tb, k->mc + 7, 2 * nr + 3, k->kc + 9, 0.5f, 1.0f, 3);
                gemm_case(k, scratch, &r, ta, tb, 5, 3, 11, -2.0f, 0.25f, 1);
            }
        free(scratch);
    }
}

// C = A B checked as C t == A (B t) for a random vector t, with no reference GEMM.
static void test_gemm_residual(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    int64_t M = 301, N = 517, K = 389;
    cf_rng r;
    cf__rng_seed(&r, 2);
    float *A = malloc(sizeof(float) * (size_t)(M * K)), *B = malloc(sizeof(float) * (size_t)(K * N));
    float *C = malloc(sizeof(float) * (size_t)(M * N)), *t = malloc(sizeof(float) * (size_t)N);
    fill(&r, A, M * K);
    fill(&r, B, K * N);
    fill(&r, t, N);
    cf__gemm(ctx, false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    double worst = 0;
    double *bt = calloc((size_t)K, sizeof(double));
    for (int64_t p = 0; p < K; p++)
        for (int64_t j = 0; j < N; j++) bt[p] += (double)B[p * N + j] * t[j];
    for (int64_t i = 0; i < M; i++) {
        double lhs = 0, rhs = 0, scale = 0;
        for (int64_t j = 0; j < N; j++) lhs += (double)C[i * N + j] * t[j];
        for (int64_t p = 0; p < K; p++) {
            rhs += (double)A[i * K + p] * bt[p];
            scale += fabs((double)A[i * K + p] * bt[p]);
        }
        double e = fabs(lhs - rhs) / (scale + 1e-30);
        worst = e > worst ? e : worst;
    }
    CF_CHECK(worst < 1e-5);
    // Threaded result equals the single-threaded one bit for bit (same K order per element).
    float *C1 = malloc(sizeof(float) * (size_t)(M * N));
    cf__gemm_st(ctx->k, ctx->scratch, false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N);
    CF_CHECK(memcmp(C, C1, sizeof(float) * (size_t)(M * N)) == 0);
    free(A), free(B), free(C), free(C1), free(t), free(bt);
    cf_ctx_free(ctx);
}

static void check_vec(const char *what, const cf_kernels *k, const float *a, const float *b,
                      int64_t n, double tol) {
    double e = cf_test_nmse(a, b, n), maxd = 0;
    for (int64_t i = 0; i < n; i++) maxd = fmax(maxd, fabs((double)a[i] - b[i]));
    if (!(e < tol) && !(maxd < 1e-6)) {  // the absolute floor covers outputs that are ~0
        fprintf(stderr, "  %s %s n=%lld: nmse %.3g\n", k->name, what, (long long)n, e);
        cf_test_failures++;
    }
}

static void test_vector_kernels(void) {
    const cf_kernels *ks[4], *ref = cf__kernels_ref();
    int nk = tables(ks);
    cf_rng r;
    cf__rng_seed(&r, 3);
    int64_t sizes[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257, 1000};
    enum { MAXN = 1000 * 40 };
    float *x = malloc(MAXN * 4), *y = malloc(MAXN * 4), *a = malloc(MAXN * 4),
          *b = malloc(MAXN * 4), *w = malloc(MAXN * 4), *bb = malloc(MAXN * 4),
          *a2 = malloc(MAXN * 4), *b2 = malloc(MAXN * 4), *c2 = malloc(MAXN * 4),
          *d2 = malloc(MAXN * 4);
    for (int t = 0; t < nk; t++) {
        const cf_kernels *k = ks[t];
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            int64_t n = sizes[si];
            fill(&r, x, n);
            fill(&r, y, n);
            fill(&r, w, n);
            fill(&r, bb, n);
            for (int64_t i = 0; i < n; i++) x[i] *= 4.0f;  // reach the tails of the activations
            float d0 = ref->dot(n, x, y), d1 = k->dot(n, x, y);
            CF_CHECK_NEAR(d1, d0, 1e-5 * (1 + fabs(d0)) * sqrt((double)n));
            CF_CHECK(k->max(n, x) == ref->max(n, x));
            double q = 0;  // the sum of squares against a plain double loop
            for (int64_t i = 0; i < n; i++) q += (double)x[i] * x[i];
            CF_CHECK_NEAR(ref->sumsq(n, x), q, 1e-6 * q);
            CF_CHECK_NEAR(k->sumsq(n, x), q, 1e-6 * q);
            memcpy(a, y, (size_t)n * 4);
            memcpy(b, y, (size_t)n * 4);
            ref->axpy(n, 0.7f, x, a);
            k->axpy(n, 0.7f, x, b);
            check_vec("axpy", k, b, a, n, 1e-12);
            ref->scale(n, -1.3f, a);
            k->scale(n, -1.3f, b);
            check_vec("scale", k, b, a, n, 1e-12);
            float m = ref->max(n, x);
            float s0 = ref->exp_sum(n, x, m, a), s1 = k->exp_sum(n, x, m, b);
            CF_CHECK_NEAR(s1, s0, 1e-5 * s0);
            check_vec("exp_sum", k, b, a, n, 1e-12);
            for (int op = 0; op < 4; op++) {
                ref->act_fwd((cf_act_op)op, n, x, a);
                k->act_fwd((cf_act_op)op, n, x, b);
                check_vec("act_fwd", k, b, a, n, 1e-12);
                memcpy(a, w, (size_t)n * 4);
                memcpy(b, w, (size_t)n * 4);
                ref->act_bwd((cf_act_op)op, n, x, y, a);
                k->act_bwd((cf_act_op)op, n, x, y, b);
                check_vec("act_bwd", k, b, a, n, 1e-12);
                ref->glu_fwd((cf_act_op)op, n, x, y, a);
                k->glu_fwd((cf_act_op)op, n, x, y, b);
                check_vec("glu_fwd", k, b, a, n, 1e-12);
                memcpy(a, w, (size_t)n * 4), memcpy(b, w, (size_t)n * 4);
                memcpy(a2, bb, (size_t)n * 4), memcpy(b2, bb, (size_t)n * 4);
                ref->glu_bwd((cf_act_op)op, n, x, y, w, a, a2);
                k->glu_bwd((cf_act_op)op, n, x, y, w, b, b2);
                check_vec("glu_bwd dg", k, b, a, n, 1e-12);
                check_vec("glu_bwd du", k, b2, a2, n, 1e-12);
            }
            float m0, r0, m1, r1;
            if (n < 2) continue;  // a one-element LayerNorm is degenerate (variance 0)
            ref->layernorm_fwd(n, x, w, bb, 1e-5f, a, &m0, &r0);
            k->layernorm_fwd(n, x, w, bb, 1e-5f, b, &m1, &r1);
            check_vec("layernorm_fwd", k, b, a, n, 1e-11);
            CF_CHECK_NEAR(r1, r0, 1e-5 * r0);
            for (int64_t i = 0; i < n; i++) a[i] = b[i] = 0.1f, a2[i] = b2[i] = 0.2f,
                                                 c2[i] = d2[i] = 0.3f;
            ref->layernorm_bwd(n, x, w, m0, r0, y, a, a2, c2);
            k->layernorm_bwd(n, x, w, m0, r0, y, b, b2, d2);
            check_vec("layernorm_bwd dx", k, b, a, n, 1e-10);
            check_vec("layernorm_bwd dw", k, b2, a2, n, 1e-11);
            check_vec("layernorm_bwd db", k, d2, c2, n, 1e-11);
            ref->rmsnorm_fwd(n, x, w, 1e-6f, a, &r0);
            k->rmsnorm_fwd(n, x, w, 1e-6f, b, &r1);
            check_vec("rmsnorm_fwd", k, b, a, n, 1e-11);
            for (int64_t i = 0; i < n; i++) a[i] = b[i] = 0.1f, a2[i] = b2[i] = 0.2f;
            ref->rmsnorm_bwd(n, x, w, r0, y, a, a2);
            k->rmsnorm_bwd(n, x, w, r0, y, b, b2);
            check_vec("rmsnorm_bwd dx", k, b, a, n, 1e-10);
            check_vec("rmsnorm_bwd dw", k, b2, a2, n, 1e-11);
            // AdamW: identical math, element-wise.
            float *pa = a, *pb = b, *ma = a2, *mb = b2, *va = c2, *vb = d2;
            for (int64_t i = 0; i < n; i++) {
                pa[i] = pb[i] = w[i];
                ma[i] = mb[i] = 0.01f * y[i];
                va[i] = vb[i] = 0.001f * fabsf(bb[i]);
            }
            cf_adamw_hp hp = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.19f, 0.0975f, 0.7f};
            ref->adamw(n, pa, x, ma, va, &hp);
            k->adamw(n, pb, x, mb, vb, &hp);
            check_vec("adamw p", k, pb, pa, n, 1e-12);
            check_vec("adamw m", k, mb, ma, n, 1e-12);
            check_vec("adamw v", k, vb, va, n, 1e-12);
        }
        // GEMV in both orientations, with strides and beta.
        for (int64_t m = 1; m < 40; m += 7)
            for (int64_t kk = 1; kk < 100; kk += 13) {
                int64_t ld = kk + 5;
                fill(&r, x, m * ld + kk);
                fill(&r, y, kk + m);
                fill(&r, a, m);
                memcpy(b, a, (size_t)m * 4);
                ref->gemv_n(m, kk, x, ld, y, a, 0.5f);
                k->gemv_n(m, kk, x, ld, y, b, 0.5f);
                check_vec("gemv_n", k, b, a, m, 1e-11);
                int64_t ldt = m + 3;
                fill(&r, a, m);
                memcpy(b, a, (size_t)m * 4);
                ref->gemv_t(kk, m, x, ldt, y, a, 0.0f);
                k->gemv_t(kk, m, x, ldt, y, b, 0.0f);
                check_vec("gemv_t", k, b, a, m, 1e-11);
            }
    }
    free(x), free(y), free(a), free(b), free(w), free(bb), free(a2), free(b2), free(c2), free(d2);
}

// ---- pre-packed B (cf__gemm_pack_b + cf__gemm_packed) ----

// One product with B packed whole against cf__gemm_st packing per call: bit-identical when
// M > 1 (the same micro-kernel calls per element); M == 1 goes to GEMV there, so by NMSE. The
// packed buffer has a guard zone that must stay untouched, as must C's padding columns.
static void packed_case(cf_ctx *ctx, float *ref_scratch, cf_rng *r, bool ta, bool tb, int64_t M,
                        int64_t N, int64_t K, float alpha, float beta, int64_t pad) {
    const cf_kernels *k = ctx->k;
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t nb = cf__gemm_packed_floats(k, N, K);
    CF_CHECK_EQ(nb, (size_t)((N + k->nr - 1) / k->nr * k->nr * K));
    float *A = malloc(sizeof(float) * (size_t)((ta ? K : M) * lda));
    float *B = malloc(sizeof(float) * (size_t)((tb ? N : K) * ldb));
    float *Bp = malloc(sizeof(float) * (nb + 16));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc)), *R = malloc(sizeof(float) * (size_t)(M * ldc));
    fill(r, A, (ta ? K : M) * lda);
    fill(r, B, (tb ? N : K) * ldb);
    fill(r, C, M * ldc);
    memcpy(R, C, sizeof(float) * (size_t)(M * ldc));
    for (size_t i = nb; i < nb + 16; i++) Bp[i] = 12345.0f;
    cf__gemm_pack_b(ctx, tb, N, K, B, ldb, Bp);
    // Half the cases with a bias row: against C filled with it and beta 1.
    float *bias = NULL;
    if ((M + N + K) % 2) {
        bias = malloc(sizeof(float) * (size_t)N);
        fill(r, bias, N);
        for (int64_t i = 0; i < M; i++) memcpy(R + i * ldc, bias, sizeof(float) * (size_t)N);
    }
    cf__gemm_packed(ctx, ta, M, N, K, alpha, A, lda, Bp, beta, bias, C, ldc);
    cf__gemm_st(k, ref_scratch, ta, tb, M, N, K, alpha, A, lda, B, ldb, bias ? 1.0f : beta, R,
                ldc);
    bool guard = true;
    for (size_t i = nb; i < nb + 16; i++) guard = guard && Bp[i] == 12345.0f;
    bool ok = M > 1 ? memcmp(C, R, sizeof(float) * (size_t)(M * ldc)) == 0
                    : cf_test_nmse(C, R, M * ldc) < 1e-10;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = N; j < ldc; j++) ok = ok && C[i * ldc + j] == R[i * ldc + j];
    if (!ok || !guard) {
        fprintf(stderr, "  %s packed gemm (%d threads) ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g "
                "beta=%g pad=%lld bias=%d: %s\n", k->name, ctx->n_threads, ta, tb, (long long)M,
                (long long)N, (long long)K, alpha, beta, (long long)pad, bias != NULL,
                guard ? "differs from the unpacked product" : "wrote past the packed size");
        cf_test_failures++;
    }
    free(A), free(B), free(Bp), free(C), free(R), free(bias);
}

// The documented layout, element by element: op(B)[p][j] at block (p / kc) (starting at
// (p / kc) * kc * Np), panel j / nr (at + (j / nr) * nr * kc_blk), row p % kc, lane j % nr; zero
// past N.
static void packed_layout(cf_ctx *ctx, cf_rng *r, bool tb, int64_t N, int64_t K) {
    const cf_kernels *k = ctx->k;
    int64_t nr = k->nr, kc = k->kc, Np = (N + nr - 1) / nr * nr, ldb = (tb ? K : N) + 2;
    float *B = malloc(sizeof(float) * (size_t)((tb ? N : K) * ldb));
    float *Bp = malloc(sizeof(float) * cf__gemm_packed_floats(k, N, K));
    fill(r, B, (tb ? N : K) * ldb);
    cf__gemm_pack_b(ctx, tb, N, K, B, ldb, Bp);
    int64_t bad = 0;
    for (int64_t p = 0; p < K; p++) {
        int64_t pc = p / kc * kc, kb = K - pc < kc ? K - pc : kc;
        for (int64_t j = 0; j < Np; j++) {
            float want = j >= N ? 0.0f : tb ? B[j * ldb + p] : B[p * ldb + j];
            float got = Bp[pc * Np + j / nr * nr * kb + (p - pc) * nr + j % nr];
            bad += got != want;
        }
    }
    if (bad) {
        fprintf(stderr, "  %s packed layout tb=%d N=%lld K=%lld: %lld elements misplaced\n",
                k->name, tb, (long long)N, (long long)K, (long long)bad);
        cf_test_failures++;
    }
    free(B), free(Bp);
}

static void test_gemm_packed(void) {
    const cf_kernels *ks[5];
    ks[0] = cf__kernels_ref();
    int nk = 1 + tables(ks + 1);
    size_t most = 0;
    for (int t = 0; t < nk; t++)
        if (cf__gemm_scratch_floats(ks[t]) > most) most = cf__gemm_scratch_floats(ks[t]);
    float *ref_scratch = malloc(most * sizeof(float));
    float *scratch = malloc(2 * most * sizeof(float));
    cf_rng r;
    cf__rng_seed(&r, 3);
    for (int nt = 1; nt <= 2; nt++) {
        cf_ctx_params cp = {.n_threads = nt, .isa = "ref"};
        cf_ctx *ctx;
        CF_CHECK_STATUS(cf_ctx_create(&cp, &ctx), CF_OK);
        if (!ctx) break;
        // Each table in turn (the 16-lane emulation has no ISA name), with scratch for any.
        float *own = ctx->scratch;
        ctx->scratch = scratch;
        ctx->scratch_floats = most;
        for (int t = 0; t < nk; t++) {
            const cf_kernels *k = ctx->k = ks[t];
            int64_t mr = k->mr, nr = k->nr, kc = k->kc;
            int64_t ms[] = {1, 2, 7, mr + 1, 64, 131, 300};
            int64_t ns[] = {1, nr - 1, nr + 1, 37, 3 * nr + 5};
            int64_t kss[] = {1, 7, kc - 1, kc + 9, 2 * kc + 3};
            int c = 0;
            for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
                for (size_t b = 0; b < sizeof kss / sizeof *kss; b++)
                    for (int h = 0; h < 2; h++, c++) {
                        int64_t N = ns[(size_t)(c + nt) % (sizeof ns / sizeof *ns)];
                        bool tb = c % 3 != 1, ta = c % 5 == 4;
                        if (c % 4 == 3) packed_case(ctx, ref_scratch, &r, ta, tb, ms[a], N, kss[b], 0.5f, 1.0f, 3);
                        else packed_case(ctx, ref_scratch, &r, ta, tb, ms[a], N, kss[b], 1.0f, 0.0f, 0);
                    }
            // Column blocks of nc: a thread's range crosses more than one.
            packed_case(ctx, ref_scratch, &r, false, true, 20, k->nc + nr + 3, kc + 5, 1.0f, 1.0f, 1);
            packed_layout(ctx, &r, true, 2 * nr + 3, 2 * kc + 5);
            packed_layout(ctx, &r, false, nr - 1, kc + 1);
        }
        ctx->scratch = own;
        ctx->scratch_floats = cf__gemm_scratch_floats(cf__kernels_ref());
        ctx->k = cf__kernels_ref();
        cf_ctx_free(ctx);
    }
    free(ref_scratch);
    free(scratch);
}

static void test_dispatch(void) {
    cf_cpu cpu = cf__cpu_detect();
    CF_CHECK(cf__kernels_select(&cpu, "ref") == cf__kernels_ref());
    CF_CHECK(cf__kernels_select(&cpu, "nonsense") == NULL);
    const cf_kernels *best = cf__kernels_select(&cpu, NULL);
    CF_CHECK(best != NULL);
    if (cpu.avx512f) CF_CHECK(!strcmp(best->name, "avx512"));
    else if (cpu.avx2 && cpu.fma) CF_CHECK(!strcmp(best->name, "avx2"));
    cf_ctx_params p = {.n_threads = 1, .isa = "ref"};
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    CF_CHECK(!strcmp(cf_ctx_isa(ctx), "ref"));
    cf_ctx_free(ctx);
    p.isa = "bogus";
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_ERR_UNSUPPORTED);
}

const cf_test tests_kernels[] = {
    {"kernels/dispatch", test_dispatch},
    {"kernels/gemm_shapes", test_gemm_shapes},
    {"kernels/gemm_residual", test_gemm_residual},
    {"kernels/gemm_packed", test_gemm_packed},
    {"kernels/vector", test_vector_kernels},
    {NULL, NULL},
};
