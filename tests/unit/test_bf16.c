// bf16 inference products (kernels/gemm_bf16.c, x86/bf16_avx512.c; precision "bf16"):
// the product against a double-precision reference of the bf16-rounded operands, within the
// fp32 summation bound (so a kernel that truncated instead of rounding to nearest even, or
// misplaced a pair, fails); the packed layout; and whole models (GPT-2, BERT, encoder-decoder)
// close to their fp32 outputs while visibly not fp32, with half the packed bytes; a training step
// in a bf16 context (mixed precision) close to fp32's. On CPUs without AVX512_BF16 only the
// refusal is checked.
#include <stdlib.h>

#include "../../src/kernels/kernels.h"
#include "../../src/models/model_internal.h"
#include "../test.h"
#include "cformer/encoder.h"
#include "cformer/seq2seq.h"
#include "cformer/train.h"

// bf16 rounding, nearest even, done in double arithmetic (independent of the bit trick the
// library uses): keep 8 significant bits.
static double bf16_round(float x) {
    if (x == 0.0f || !isfinite(x)) return x;
    int e;
    double m = frexp((double)x, &e);      // x = m 2^e, 0.5 <= |m| < 1
    return ldexp(nearbyint(ldexp(m, 8)), e - 8);  // default rounding: ties to even
}

static bool have_bf16(void) { return cf__cpu_detect().avx512bf16; }

static cf_ctx *bf16_ctx(int threads) {
    cf_ctx_params p = {.n_threads = threads, .blas = "none", .prepack_mib = 1024,
                       .precision = "bf16"};
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    if (ctx) CF_CHECK(!strcmp(cf_ctx_precision(ctx), "bf16"));
    return ctx;
}

static void test_ctx(void) {
    cf_ctx_params p = {.n_threads = 1, .blas = "none", .precision = "fp16"};
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_ERR_INVALID_ARG);
    p.precision = "fp32";
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    if (ctx) CF_CHECK(!strcmp(cf_ctx_precision(ctx), "fp32"));
    cf_ctx_free(ctx);
    p.precision = "bf16";
    if (!have_bf16()) {
        CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_ERR_UNSUPPORTED);
        fprintf(stderr, "  (no AVX512_BF16 on this CPU: the bf16 products are not tested)\n");
        return;
    }
    p.prepack_mib = -1;  // no packed weights: nowhere to run
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_ERR_UNSUPPORTED);
    p.prepack_mib = 0;
    p.isa = "avx2";
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_ERR_UNSUPPORTED);
    p.isa = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    // The driver's blocks fit the scratch the fp32 kernels size.
    if (ctx) CF_CHECK((size_t)CF_BF16_MC * (CF_BF16_KC / 2) + CF_BF16_MR * CF_BF16_NR <=
                      ctx->scratch_floats);
    cf_ctx_free(ctx);
}

static void fill(cf_rng *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = cf__rng_uniform(r) * 2.0f - 1.0f;
}

// Elements of C (M x N, ldc) that miss (bias or beta * C0) + op(A) op(B) computed in double from
// the bf16-rounded operands by more than the fp32 summation bound (products of bf16 numbers are
// exact in fp32; only the K additions round), plus padding columns that changed.
static int64_t check(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                     int64_t lda, const float *B, int64_t ldb, const float *bias, float beta,
                     const float *C0, const float *C, int64_t ldc) {
    int64_t bad = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double s = bias ? bias[j] : beta * C0[i * ldc + j], mag = fabs(s);
            for (int64_t p = 0; p < K; p++) {
                double t = bf16_round(ta ? A[p * lda + i] : A[i * lda + p]) *
                           bf16_round(tb ? B[j * ldb + p] : B[p * ldb + j]);
                s += t;
                mag += fabs(t);
            }
            double tol = (double)(K + 2) * ldexp(1.0, -24) * mag + 1e-30;
            bad += !(fabs(C[i * ldc + j] - s) <= tol);
        }
        for (int64_t j = N; j < ldc; j++) bad += C[i * ldc + j] != C0[i * ldc + j];
    }
    return bad;
}

static int64_t gemm_case(cf_ctx *ctx, cf_rng *r, bool tb, int64_t M, int64_t N, int64_t K,
                         bool with_bias, int64_t pad) {
    int64_t lda = K + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t nb = cf__gemm_bf16_packed_bytes(N, K);
    CF_CHECK_EQ(nb, (size_t)((N + 31) / 32 * 32) * (size_t)((K + 1) / 2) * 4);
    float *A = malloc(sizeof(float) * (size_t)(M * lda));
    float *B = malloc(sizeof(float) * (size_t)((tb ? N : K) * ldb));
    float *C = malloc(sizeof(float) * (size_t)(M * ldc)), *bias = malloc(sizeof(float) * (size_t)N);
    unsigned char *Bp = malloc(nb + 64);
    fill(r, A, M * lda);
    fill(r, B, (tb ? N : K) * ldb);
    fill(r, C, M * ldc);
    fill(r, bias, N);
    memset(Bp + nb, 0xA5, 64);
    float *C0 = malloc(sizeof(float) * (size_t)(M * ldc));
    memcpy(C0, C, sizeof(float) * (size_t)(M * ldc));
    cf__gemm_bf16_pack_b(ctx, tb, N, K, B, ldb, Bp);
    cf__gemm_bf16_packed(ctx, M, N, K, A, lda, Bp, with_bias ? bias : NULL, C, ldc);
    int64_t bad = check(false, tb, M, N, K, A, lda, B, ldb, with_bias ? bias : NULL, 0.0f, C0, C,
                        ldc);
    for (size_t i = nb; i < nb + 64; i++) bad += Bp[i] != 0xA5;
    if (bad)
        fprintf(stderr, "  bf16 gemm (%d threads) tb=%d M=%lld N=%lld K=%lld bias=%d pad=%lld: "
                "%lld bad elements\n", ctx->n_threads, tb, (long long)M, (long long)N,
                (long long)K, with_bias, (long long)pad, (long long)bad);
    free(A), free(B), free(C), free(C0), free(bias), free(Bp);
    return bad;
}

static void test_gemm(void) {
    if (!have_bf16()) return;
    cf_rng r;
    cf__rng_seed(&r, 11);
    for (int nt = 1; nt <= 2; nt++) {
        cf_ctx *ctx = bf16_ctx(nt);
        if (!ctx) return;
        int64_t ms[] = {2, 7, 14, 15, 64, 131, 300};
        int64_t ns[] = {1, 31, 33, 37, 101};
        int64_t ks[] = {1, 2, 7, CF_BF16_KC - 1, CF_BF16_KC, CF_BF16_KC + 1, 2 * CF_BF16_KC + 3};
        int c = 0;
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ks / sizeof *ks; b++, c++)
                cf_test_failures += gemm_case(ctx, &r, c % 3 != 1, ms[a],
                                              ns[(size_t)(c + nt) % (sizeof ns / sizeof *ns)],
                                              ks[b], c % 2, c % 4 == 3 ? 3 : 0) != 0;
        // Column blocks of NC, and row blocks of MC.
        cf_test_failures += gemm_case(ctx, &r, true, 20, CF_BF16_NC + 35, 70, true, 1) != 0;
        cf_test_failures += gemm_case(ctx, &r, false, CF_BF16_MC + 17, 45, 33, false, 2) != 0;
        cf_ctx_free(ctx);
    }
}

// The per-call product (training, unpacked inference): op(A) * op(B) + beta C, all four
// transpose cases, beta 0 and 1.
static int64_t gemm_case2(cf_ctx *ctx, cf_rng *r, bool ta, bool tb, int64_t M, int64_t N,
                          int64_t K, float beta, int64_t pad) {
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    float *A = malloc(sizeof(float) * (size_t)((ta ? K : M) * lda));
    float *B = malloc(sizeof(float) * (size_t)((tb ? N : K) * ldb));
    size_t nc = sizeof(float) * (size_t)(M * ldc);
    float *C = malloc(nc), *C0 = malloc(nc);
    fill(r, A, (ta ? K : M) * lda);
    fill(r, B, (tb ? N : K) * ldb);
    fill(r, C, M * ldc);
    memcpy(C0, C, sizeof(float) * (size_t)(M * ldc));
    cf__gemm_bf16(ctx, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    int64_t bad = check(ta, tb, M, N, K, A, lda, B, ldb, NULL, beta, C0, C, ldc);
    if (bad)
        fprintf(stderr, "  bf16 gemm (%d threads) ta=%d tb=%d M=%lld N=%lld K=%lld beta=%g "
                "pad=%lld: %lld bad elements\n", ctx->n_threads, ta, tb, (long long)M,
                (long long)N, (long long)K, beta, (long long)pad, (long long)bad);
    free(A), free(B), free(C), free(C0);
    return bad;
}

static void test_gemm_unpacked(void) {
    if (!have_bf16()) return;
    cf_rng r;
    cf__rng_seed(&r, 13);
    for (int nt = 1; nt <= 2; nt++) {
        cf_ctx *ctx = bf16_ctx(nt);
        if (!ctx) return;
        int64_t ms[] = {1, 3, 14, 29, 150};
        int64_t ns[] = {1, 17, 32, 45, 99};
        int64_t ks[] = {1, 6, CF_BF16_KC + 1, 2 * CF_BF16_KC + 3};
        int c = 0;
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ks / sizeof *ks; b++, c++)
                cf_test_failures += gemm_case2(ctx, &r, c % 2, (c / 2) % 2, ms[a],
                                               ns[(size_t)(c + nt) % (sizeof ns / sizeof *ns)],
                                               ks[b], (float)(c % 3 == 1), c % 4 == 3 ? 2 : 0) != 0;
        cf_test_failures += gemm_case2(ctx, &r, true, false, 40, CF_BF16_NC + 40, 33, 1.0f, 0) != 0;
        cf_ctx_free(ctx);
    }
}

// The packed layout, word by word: (K x N) op(B) with pairs along K.
static void test_layout(void) {
    if (!have_bf16()) return;
    cf_ctx *ctx = bf16_ctx(1);
    if (!ctx) return;
    cf_rng r;
    cf__rng_seed(&r, 5);
    int64_t N = 70, K = CF_BF16_KC + 9, Np = 96, ldb = K;
    float *B = malloc(sizeof(float) * (size_t)(N * ldb));
    uint32_t *Bp = malloc(cf__gemm_bf16_packed_bytes(N, K));
    fill(&r, B, N * ldb);
    cf__gemm_bf16_pack_b(ctx, true, N, K, B, ldb, Bp);
    int64_t bad = 0;
    for (int64_t p = 0; p < K; p++) {
        int64_t pc = p / CF_BF16_KC * CF_BF16_KC, kb = K - pc < CF_BF16_KC ? K - pc : CF_BF16_KC;
        int64_t kq = (kb + 1) / 2, q = (p - pc) / 2;
        for (int64_t j = 0; j < Np; j++) {
            uint32_t w = Bp[(pc / 2) * Np + j / 32 * 32 * kq + q * 32 + j % 32];
            uint32_t half = (p - pc) % 2 ? w >> 16 : w & 0xffff, bits = half << 16;
            float got;
            memcpy(&got, &bits, 4);
            double want = j >= N ? 0.0 : bf16_round(B[j * ldb + p]);
            bad += (double)got != want;
        }
    }
    // The pad half of the last pair (K odd) is zero.
    int64_t pc = K / CF_BF16_KC * CF_BF16_KC, kq = (K - pc + 1) / 2;
    for (int64_t j = 0; j < Np; j++)
        bad += (Bp[(pc / 2) * Np + j / 32 * 32 * kq + (kq - 1) * 32 + j % 32] >> 16) != 0;
    CF_CHECK_EQ(bad, 0);
    free(B), free(Bp);
    cf_ctx_free(ctx);
}

// ---- models: close to fp32, but bf16 ----

static double rel_err(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den + 1e-30));
}

// fp32 and bf16 outputs of the same model (weights copied through a save): relative error
// (root of the NMSE) above 1e-6 (so bf16 really ran) and below tol.
static void compare(const char *what, const float *f32, const float *b16, int64_t n, double tol) {
    double e = rel_err(b16, f32, n);
    if (cf_test_verbose) fprintf(stderr, "  %s: bf16 vs fp32 relative error %.3g\n", what, e);
    if (!(e > 1e-6 && e < tol)) {
        fprintf(stderr, "  %s: bf16 vs fp32 relative error %.3g, expected in (1e-6, %g)\n", what,
                e, tol);
        cf_test_failures++;
    }
}

// The same weights in both contexts: made in c32, saved to DIR/name, loaded in c16.
static void twin(cf_ctx *c32, cf_ctx *c16, const cf_config *c, uint64_t seed, const char *name,
                 cf_model **m, cf_model **m16) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", cf_test_tmpdir(), name);
    *m = *m16 = NULL;
    CF_CHECK_STATUS(cf_model_create(c32, c, seed, m), CF_OK);
    if (*m) CF_CHECK_STATUS(cf_model_save(*m, path), CF_OK);
    CF_CHECK_STATUS(cf_model_load(c16, path, m16), CF_OK);
}

static void test_models(void) {
    if (!have_bf16()) return;
    cf_ctx_params fp = {.n_threads = 2, .blas = "none", .prepack_mib = 1024};
    cf_ctx *c32 = NULL, *c16 = bf16_ctx(2);
    CF_CHECK_STATUS(cf_ctx_create(&fp, &c32), CF_OK);
    if (!c32 || !c16) {
        cf_ctx_free(c32), cf_ctx_free(c16);
        return;
    }
    // BERT: classification and MLM logits.
    cf_config c = cf_config_bert();
    c.n_layers = 2, c.n_embd = 64, c.n_heads = 4, c.n_kv_heads = 4, c.head_dim = 16, c.n_ff = 150;
    c.vocab_size = 97, c.n_ctx = 40;
    c.heads = CF_HEAD_POOLER | CF_HEAD_MLM | CF_HEAD_SEQ_CLS, c.n_labels = 3;
    cf_model *m, *m16;
    twin(c32, c16, &c, 5, "bert", &m, &m16);
    if (m && m16) {
        enum { B = 3, T = 23 };
        int32_t tok[B * T], types[B * T];
        uint8_t mask[B * T];
        for (int i = 0; i < B * T; i++) {
            tok[i] = (i * 11 + 2) % 97;
            types[i] = (i % T) > 9;
            mask[i] = (i % T) < (i / T == 1 ? 7 : T);
        }
        cf_encoder_batch b = {tok, types, mask, B, T, NULL, NULL, NULL};
        float a32[B * T * 97], a16[B * T * 97];
        CF_CHECK_STATUS(cf_encoder_classify(m, &b, a32), CF_OK);
        CF_CHECK_STATUS(cf_encoder_classify(m16, &b, a16), CF_OK);
        compare("bert classify", a32, a16, B * 3, 2e-2);
        CF_CHECK_STATUS(cf_encoder_mlm_logits(m, &b, a32), CF_OK);
        CF_CHECK_STATUS(cf_encoder_mlm_logits(m16, &b, a16), CF_OK);
        compare("bert mlm", a32, a16, B * T * 97, 2e-2);
        // Half the packed bytes of fp32.
        size_t h32 = cf__prepack_bytes(m->prepack, false);
        size_t h16 = cf__prepack_bytes(m16->prepack, false);
        CF_CHECK(h16 > 0 && h16 * 2 <= h32 + 4096);
        // Training in a bf16 context (mixed precision): one step from the same weights moves
        // them as in fp32, closely but not identically.
        int32_t labels[B] = {0, 2, 1};
        b.labels = labels;
        cf_train_params p = cf_train_default_params();
        p.seq_len = T, p.lr = 1e-3f, p.warmup_steps = 0, p.min_lr = 1e-3f;
        cf_model *ms[2] = {m, m16};
        float out[2][B * 3], before[B * 3];
        cf_step_stats st[2];
        CF_CHECK_STATUS(cf_encoder_classify(m, &b, before), CF_OK);
        for (int w = 0; w < 2; w++) {
            cf_trainer *t = NULL;
            CF_CHECK_STATUS(cf_trainer_create(ms[w], &p, &t), CF_OK);
            memset(&st[w], 0, sizeof st[w]);
            if (t)
                CF_CHECK_STATUS(cf_trainer_step_task(t, CF_TASK_SEQ_CLS, &b, 1, NULL, &st[w]),
                                CF_OK);
            cf_trainer_free(t);
            cf_ctx *cx = w ? c16 : c32;
            bool was = cx->bf16;
            size_t budget = cx->prepack_budget;
            cx->prepack_budget = 0;  // fp32 inference on both to compare the weights
            cx->bf16 = false;
            CF_CHECK_STATUS(cf_encoder_classify(ms[w], &b, out[w]), CF_OK);
            cx->bf16 = was;
            cx->prepack_budget = budget;
        }
        CF_CHECK(fabs(st[1].loss - st[0].loss) < 2e-2 * fabs(st[0].loss));
        CF_CHECK(st[1].loss != st[0].loss);
        float d32[B * 3], d16[B * 3];  // what the step changed
        for (int i = 0; i < B * 3; i++) {
            d32[i] = out[0][i] - before[i];
            d16[i] = out[1][i] - before[i];
        }
        compare("bert training step", d32, d16, B * 3, 5e-2);
    }
    cf_model_free(m), cf_model_free(m16);
    // GPT-2: mapped, transposed (Conv1D) weights.
    cf_config g = cf_config_gpt2();
    g.n_layers = 2, g.n_embd = 64, g.n_heads = 4, g.n_kv_heads = 4, g.head_dim = 16, g.n_ff = 130;
    g.vocab_size = 67, g.n_ctx = 64;
    twin(c32, c16, &g, 7, "gpt2", &m, &m16);
    if (m && m16) {
        int32_t tok[2 * 30];
        for (int i = 0; i < 60; i++) tok[i] = (i * 7 + 3) % 67;
        float *a32 = malloc(sizeof(float) * 60 * 67), *a16 = malloc(sizeof(float) * 60 * 67);
        CF_CHECK_STATUS(cf_model_forward(m, tok, 2, 30, a32), CF_OK);
        CF_CHECK_STATUS(cf_model_forward(m16, tok, 2, 30, a16), CF_OK);
        compare("gpt2", a32, a16, 60 * 67, 2e-2);
        free(a32), free(a16);
    }
    cf_model_free(m), cf_model_free(m16);
    // Encoder-decoder (Marian layout).
    cf_config s = cf_config_marian();
    s.n_layers = 2, s.n_dec_layers = 2, s.n_embd = 64, s.n_heads = 4, s.n_kv_heads = 4;
    s.head_dim = 16, s.n_ff = 120, s.vocab_size = 61, s.pad_id = 60, s.decoder_start_id = 60;
    s.eos_id = 0, s.n_ctx = 64;
    twin(c32, c16, &s, 3, "marian", &m, &m16);
    if (m && m16) {
        int32_t src[2 * 12], tgt[2 * 9];
        uint8_t mask[2 * 12];
        for (int i = 0; i < 24; i++) src[i] = (i * 5 + 1) % 61, mask[i] = i < 12 || i % 12 < 8;
        for (int i = 0; i < 18; i++) tgt[i] = (i * 3 + 2) % 61;
        float a32[2 * 9 * 61], a16[2 * 9 * 61];
        CF_CHECK_STATUS(cf_s2s_forward(m, src, mask, 2, 12, tgt, 9, a32), CF_OK);
        CF_CHECK_STATUS(cf_s2s_forward(m16, src, mask, 2, 12, tgt, 9, a16), CF_OK);
        compare("marian", a32, a16, 2 * 9 * 61, 2e-2);
    }
    cf_model_free(m), cf_model_free(m16);
    cf_ctx_free(c32), cf_ctx_free(c16);
}

const cf_test tests_bf16[] = {
    {"bf16/ctx", test_ctx},
    {"bf16/gemm", test_gemm},
    {"bf16/gemm_unpacked", test_gemm_unpacked},
    {"bf16/layout", test_layout},
    {"bf16/models", test_models},
    {NULL, NULL},
};
