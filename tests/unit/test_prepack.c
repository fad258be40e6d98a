// Packed inference weights (nn/prepack.c, models/model_prepack.c): decoder, encoder and
// encoder-decoder outputs with the cache equal those without it bit for bit (the packed GEMM
// does the same arithmetic), the cache is really used, and it is never stale: after a training
// step, a resume, a weight copy, the next inference sees the new weights.
#include <stdlib.h>

#include "../../src/models/model_internal.h"
#include "../test.h"
#include "cformer/encoder.h"
#include "cformer/infer.h"
#include "cformer/seq2seq.h"
#include "cformer/train.h"

static cf_ctx *mkctx(int threads) {
    cf_ctx_params p = {.n_threads = threads, .blas = "none"};
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    if (ctx && !ctx->prepack_budget) ctx->prepack_budget = (size_t)1 << 30;  // CF_PREPACK=0 set
    return ctx;
}

static size_t held(const cf_model *m) { return cf__prepack_bytes(m->prepack, false); }

// The same call with the cache off (the context's budget 0), then on; *used: the cache held
// packed matrices afterwards.
typedef cf_status (*infer_fn)(cf_model *m, const void *arg, float *out);

static bool same_both_ways(cf_model *m, infer_fn fn, const void *arg, int64_t n, const char *what) {
    cf_ctx *ctx = cf_model_ctx(m);
    float *off = malloc((size_t)n * sizeof(float)), *on = malloc((size_t)n * sizeof(float));
    size_t budget = ctx->prepack_budget;
    ctx->prepack_budget = 0;
    size_t before = held(m);
    CF_CHECK_STATUS(fn(m, arg, off), CF_OK);
    CF_CHECK_EQ(held(m), before);  // off: nothing packed
    ctx->prepack_budget = budget;
    CF_CHECK_STATUS(fn(m, arg, on), CF_OK);
    bool used = held(m) > 0;
    bool same = memcmp(on, off, (size_t)n * sizeof(float)) == 0;
    if (!same) {
        double worst = 0;
        for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)on[i] - off[i]));
        fprintf(stderr, "  %s: with and without packed weights differ by up to %.3g\n", what,
                worst);
        cf_test_failures++;
    }
    if (!used) {
        fprintf(stderr, "  %s: the cache was not used\n", what);
        cf_test_failures++;
    }
    free(off);
    free(on);
    return same && used;
}

// ---- decoder-only ----

typedef struct lm_arg {
    const int32_t *tokens;
    int B, T;
} lm_arg;

static cf_status lm_forward(cf_model *m, const void *arg, float *out) {
    const lm_arg *a = arg;
    return cf_model_forward(m, a->tokens, a->B, a->T, out);
}

static cf_config tiny_gpt2(void) {
    cf_config c = cf_config_gpt2();
    c.n_layers = 2, c.n_embd = 48, c.n_heads = 4, c.n_kv_heads = 4, c.head_dim = 12, c.n_ff = 100;
    c.vocab_size = 67, c.n_ctx = 64;
    return c;
}

static void test_decoder(void) {
    cf_ctx *ctx = mkctx(2);
    if (!ctx) return;
    int32_t tok[3 * 21];
    for (int i = 0; i < 3 * 21; i++) tok[i] = (i * 7 + 3) % 67;
    // A GPT-2 Hugging Face folder, mapped: Conv1D (transposed) views, q/k/v slices of c_attn.
    cf_config c = tiny_gpt2();
    cf_model *m = NULL, *mapped = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 7, &m), CF_OK);
    const char *dir = cf_test_tmpdir();
    if (m) CF_CHECK_STATUS(cf_model_save(m, dir), CF_OK);
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &mapped), CF_OK);
    if (mapped) {
        CF_CHECK(mapped->layers[0].wq.trans && mapped->layers[0].wq.ld == 3 * 48);
        for (int T = 2; T <= 21; T += 19) {
            lm_arg a = {tok, 3, T};
            same_both_ways(mapped, lm_forward, &a, 3 * T * 67, "gpt2 (mapped, Conv1D)");
        }
        // One row: GEMV on the weights as stored, no cache needed.
        cf_model_free(mapped);
    }
    // Llama: RMSNorm, gated feed-forward, grouped-query attention, untied head.
    cf_config l = cf_config_llama();
    l.n_layers = 2, l.n_embd = 32, l.n_heads = 4, l.n_kv_heads = 2, l.head_dim = 8, l.n_ff = 70;
    l.vocab_size = 67, l.n_ctx = 64;
    cf_model *ll = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &l, 9, &ll), CF_OK);
    if (ll) {
        lm_arg a = {tok, 2, 17};
        same_both_ways(ll, lm_forward, &a, 2 * 17 * 67, "llama");
        // A session (prompt chunk, then one-token steps) agrees with the full forward.
        float *full = malloc(sizeof(float) * 2 * 17 * 67), *lg = malloc(sizeof(float) * 67);
        CF_CHECK_STATUS(cf_model_forward(ll, tok, 1, 17, full), CF_OK);
        cf_session *s = NULL;
        CF_CHECK_STATUS(cf_session_create(ll, 32, 8, &s), CF_OK);
        if (s) {
            CF_CHECK_STATUS(cf_session_eval(s, tok, 16, 0, lg), CF_OK);
            CF_CHECK(cf_test_nmse(lg, full + 15 * 67, 67) < 1e-10);
            CF_CHECK_STATUS(cf_session_eval(s, tok + 16, 1, 0, lg), CF_OK);
            CF_CHECK(cf_test_nmse(lg, full + 16 * 67, 67) < 1e-10);
        }
        cf_session_free(s);
        free(full);
        free(lg);
    }
    cf_model_free(ll);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// ---- training, resume and copies never leave a stale cache ----

static void test_stale(void) {
    cf_ctx *ctx = mkctx(2);
    if (!ctx) return;
    cf_config c = tiny_gpt2();
    cf_model *m = NULL, *other = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 7, &m), CF_OK);
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 8, &other), CF_OK);
    if (!m || !other) {
        cf_model_free(m);
        cf_model_free(other);
        cf_ctx_free(ctx);
        return;
    }
    int32_t tok[4 * 17];
    for (int i = 0; i < 4 * 17; i++) tok[i] = (i * 5 + 1) % 67;
    lm_arg a = {tok, 2, 16};
    int64_t n = 2 * 16 * 67;
    float *before = malloc(sizeof(float) * (size_t)n), *after = malloc(sizeof(float) * (size_t)n);
    CF_CHECK_STATUS(cf_model_forward(m, tok, 2, 16, before), CF_OK);  // builds the cache
    CF_CHECK(held(m) > 0);
    uint64_t v0 = m->weights_version;

    cf_train_params p = cf_train_default_params();
    p.batch_size = 2, p.seq_len = 16, p.lr = 1e-2f, p.warmup_steps = 0, p.min_lr = 1e-2f;
    cf_trainer *t = NULL;
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_OK);
    char ck[1024];
    snprintf(ck, sizeof ck, "%s/prepack.ckpt", cf_test_tmpdir());
    if (t) {
        CF_CHECK_STATUS(cf_trainer_save(t, ck), CF_OK);
        CF_CHECK_STATUS(cf_trainer_step_on(t, tok, NULL), CF_OK);
        CF_CHECK(m->weights_version > v0);
        CF_CHECK_EQ(held(m), 0);  // dropped by the update
        // The next inference uses the new weights: it differs from before and matches the
        // uncached forward.
        if (same_both_ways(m, lm_forward, &a, n, "after a training step")) {
            CF_CHECK_STATUS(cf_model_forward(m, tok, 2, 16, after), CF_OK);
            CF_CHECK(memcmp(before, after, sizeof(float) * (size_t)n) != 0);
        }
        // Resume restores the step-0 weights: the logits of before, not the cached ones.
        CF_CHECK_STATUS(cf_trainer_resume(t, ck), CF_OK);
        CF_CHECK_STATUS(cf_model_forward(m, tok, 2, 16, after), CF_OK);
        CF_CHECK(memcmp(before, after, sizeof(float) * (size_t)n) == 0);
        cf_trainer_free(t);
    }
    // Weights copied from another model: its logits.
    float *want = malloc(sizeof(float) * (size_t)n);
    CF_CHECK_STATUS(cf_model_forward(other, tok, 2, 16, want), CF_OK);
    CF_CHECK_STATUS(cf_model_copy_weights(m, other, NULL, NULL), CF_OK);
    CF_CHECK_STATUS(cf_model_forward(m, tok, 2, 16, after), CF_OK);
    CF_CHECK(memcmp(want, after, sizeof(float) * (size_t)n) == 0);
    CF_CHECK(memcmp(before, after, sizeof(float) * (size_t)n) != 0);
    free(want);
    free(before);
    free(after);
    cf_model_free(m);
    cf_model_free(other);
    cf_ctx_free(ctx);
}

// ---- encoders ----

typedef struct enc_arg {
    const cf_encoder_batch *b;
} enc_arg;

static cf_status enc_classify(cf_model *m, const void *arg, float *out) {
    return cf_encoder_classify(m, ((const enc_arg *)arg)->b, out);
}

static cf_status enc_mlm(cf_model *m, const void *arg, float *out) {
    return cf_encoder_mlm_logits(m, ((const enc_arg *)arg)->b, out);
}

static void test_encoder(void) {
    cf_ctx *ctx = mkctx(2);
    if (!ctx) return;
    cf_config c = cf_config_bert();
    c.n_layers = 2, c.n_embd = 32, c.n_heads = 4, c.n_kv_heads = 4, c.head_dim = 8, c.n_ff = 72;
    c.vocab_size = 53, c.n_ctx = 40;
    c.heads = CF_HEAD_POOLER | CF_HEAD_MLM | CF_HEAD_SEQ_CLS, c.n_labels = 3;
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 5, &m), CF_OK);
    if (!m) {
        cf_ctx_free(ctx);
        return;
    }
    enum { B = 3, T = 19 };
    int32_t tok[B * T], types[B * T], labels[B] = {0, 2, 1};
    uint8_t mask[B * T];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (i * 11 + 2) % 53;
        types[i] = (i % T) > 9;
        mask[i] = (i % T) < (i / T == 1 ? 7 : T);  // the second sequence is padded
    }
    cf_encoder_batch b = {tok, types, mask, B, T, labels, NULL, NULL};
    enc_arg a = {&b};
    same_both_ways(m, enc_classify, &a, B * 3, "bert classify");
    same_both_ways(m, enc_mlm, &a, B * T * 53, "bert mlm");
    cf_encoder_batch one = b;
    one.B = 1;
    same_both_ways(m, enc_classify, &(enc_arg){&one}, 3, "bert classify, batch 1");
    // A fine-tuning step: the next classification sees the new weights.
    float before[B * 3], after[B * 3], plain[B * 3];
    CF_CHECK_STATUS(cf_encoder_classify(m, &b, before), CF_OK);
    cf_train_params p = cf_train_default_params();
    p.seq_len = T, p.lr = 1e-2f, p.warmup_steps = 0, p.min_lr = 1e-2f;
    cf_trainer *t = NULL;
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_OK);
    if (t) CF_CHECK_STATUS(cf_trainer_step_task(t, CF_TASK_SEQ_CLS, &b, 1, NULL, NULL), CF_OK);
    cf_trainer_free(t);
    CF_CHECK_STATUS(cf_encoder_classify(m, &b, after), CF_OK);
    size_t budget = ctx->prepack_budget;
    ctx->prepack_budget = 0;
    CF_CHECK_STATUS(cf_encoder_classify(m, &b, plain), CF_OK);
    ctx->prepack_budget = budget;
    CF_CHECK(memcmp(after, plain, sizeof after) == 0);
    CF_CHECK(memcmp(after, before, sizeof after) != 0);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// ---- encoder-decoder ----

typedef struct s2s_arg {
    const int32_t *src, *tgt;
    const uint8_t *mask;
    int B, S, T;
} s2s_arg;

static cf_status s2s_forward(cf_model *m, const void *arg, float *out) {
    const s2s_arg *a = arg;
    return cf_s2s_forward(m, a->src, a->mask, a->B, a->S, a->tgt, a->T, out);
}

static void test_encdec(void) {
    cf_ctx *ctx = mkctx(2);
    if (!ctx) return;
    cf_config c = cf_config_marian();
    c.n_layers = 2, c.n_dec_layers = 2, c.n_embd = 32, c.n_heads = 4, c.n_kv_heads = 4;
    c.head_dim = 8, c.n_ff = 40, c.vocab_size = 45, c.pad_id = 44, c.decoder_start_id = 44;
    c.eos_id = 0, c.n_ctx = 32;
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 3, &m), CF_OK);
    if (!m) {
        cf_ctx_free(ctx);
        return;
    }
    enum { B = 2, S = 9, T = 7 };
    int32_t src[B * S], tgt[B * T];
    uint8_t mask[B * S];
    for (int i = 0; i < B * S; i++) {
        src[i] = 1 + (i * 7) % 40;
        mask[i] = i < S || (i % S) < 5;
    }
    for (int i = 0; i < B * T; i++) tgt[i] = i % T == 0 ? 44 : 1 + (i * 3) % 40;
    s2s_arg a = {src, tgt, mask, B, S, T};
    same_both_ways(m, s2s_forward, &a, B * T * 45, "encoder-decoder forward");
    // Beam search (rows = beams per step): the same hypotheses with and without the cache.
    const int32_t *srcs[2] = {src, src + S};
    int32_t lens[2] = {S, 5};
    cf_s2s_decode_params dp = cf_s2s_default_decode_params();
    dp.max_len_b = 6;
    cf_s2s_output *o1 = NULL, *o2 = NULL;
    size_t budget = ctx->prepack_budget;
    ctx->prepack_budget = 0;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, 2, &dp, &o1), CF_OK);
    ctx->prepack_budget = budget;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, 2, &dp, &o2), CF_OK);
    if (o1 && o2) {
        for (int i = 0; i < 2; i++) {
            const cf_s2s_hyp *h1 = &o1->hyps[i * o1->n_best], *h2 = &o2->hyps[i * o2->n_best];
            CF_CHECK_EQ(h1->n, h2->n);
            CF_CHECK(h1->score == h2->score);
            CF_CHECK(h1->n == h2->n && !memcmp(h1->tokens, h2->tokens, sizeof(int32_t) * (size_t)h1->n));
        }
    }
    cf_s2s_output_free(o1);
    cf_s2s_output_free(o2);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// ---- budget, switches, memory report ----

static void test_budget(void) {
    cf_ctx_params p = {.n_threads = 1, .prepack_mib = -1};
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    if (ctx) CF_CHECK_EQ(ctx->prepack_budget, 0);
    cf_ctx_free(ctx);
    p.prepack_mib = 3;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    if (!ctx) return;
    CF_CHECK_EQ(ctx->prepack_budget, 3 << 20);
    cf_config c = tiny_gpt2();
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 7, &m), CF_OK);
    if (m) {
        // The memory report counts what inference would pack: every linear weight, columns
        // padded to the micro-tile.
        cf_memory_info mi;
        CF_CHECK_STATUS(cf_model_memory(m, 0, 8, 0, 0, &mi), CF_OK);
        int64_t nr = ctx->k->nr, want = 0;
        for (int l = 0; l < 2; l++) {
            int64_t outs[] = {48, 48, 48, 48, 100, 48}, ins[] = {48, 48, 48, 48, 48, 100};
            for (int i = 0; i < 6; i++) want += (outs[i] + nr - 1) / nr * nr * ins[i] * 4;
        }
        want += (67 + nr - 1) / nr * nr * 48 * 4;  // the tied output layer
        CF_CHECK_EQ(mi.prepack_bytes, want);
    }
    cf_model_free(m);
    m = NULL;
    // A budget smaller than one matrix: nothing packed, the same logits.
    ctx->prepack_budget = 1000;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 7, &m), CF_OK);
    if (m) {
        int32_t tok[16];
        for (int i = 0; i < 16; i++) tok[i] = i * 3 % 67;
        float a[16 * 67], b[16 * 67];
        CF_CHECK_STATUS(cf_model_forward(m, tok, 1, 16, a), CF_OK);
        CF_CHECK(m->prepack != NULL);
        CF_CHECK_EQ(held(m), 0);
        ctx->prepack_budget = 0;
        CF_CHECK_STATUS(cf_model_forward(m, tok, 1, 16, b), CF_OK);
        CF_CHECK(memcmp(a, b, sizeof a) == 0);
    }
    cf_model_free(m);
    cf_ctx_free(ctx);
}

const cf_test tests_prepack[] = {
    {"prepack/decoder", test_decoder},
    {"prepack/stale", test_stale},
    {"prepack/encoder", test_encoder},
    {"prepack/encdec", test_encdec},
    {"prepack/budget", test_budget},
    {NULL, NULL},
};
