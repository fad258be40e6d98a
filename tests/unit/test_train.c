// Training: exact resume from a checkpoint, determinism, gradient accumulation, the learning
// rate schedule, that a model actually learns, checkpoint integrity, and the config text format.
#include <stdlib.h>
#include <unistd.h>

#include "../../src/models/model_internal.h"
#include "../test.h"

static cf_config tiny_cfg(void) {
    cf_config c = cf_config_gpt2();
    c.n_layers = 2, c.n_embd = 16, c.n_heads = 2, c.n_kv_heads = 2, c.head_dim = 8, c.n_ff = 32;
    c.vocab_size = 256, c.n_ctx = 32;
    return c;
}

static cf_train_params tiny_params(void) {
    cf_train_params p = cf_train_default_params();
    p.batch_size = 4, p.seq_len = 16, p.max_steps = 40, p.warmup_steps = 5, p.lr = 3e-3f;
    p.min_lr = 3e-4f, p.eval_batches = 2;
    return p;
}

static int32_t *text_tokens(int64_t *n) {
    static const char *line = "the quick brown fox jumps over the lazy dog. ";
    size_t L = strlen(line);
    *n = (int64_t)L * 40;
    int32_t *t = malloc(sizeof(int32_t) * (size_t)*n);
    for (int64_t i = 0; i < *n; i++) t[i] = (uint8_t)line[i % (int64_t)L];
    return t;
}

typedef struct run {
    cf_ctx *ctx;
    cf_model *m;
    cf_trainer *t;
} run;

static run start(const cf_train_params *p, int threads) {
    run r = {0};
    cf_ctx_params cp = {.n_threads = threads};
    CF_CHECK_STATUS(cf_ctx_create(&cp, &r.ctx), CF_OK);
    cf_config c = tiny_cfg();
    CF_CHECK_STATUS(cf_model_create(r.ctx, &c, p->seed, &r.m), CF_OK);
    CF_CHECK_STATUS(cf_trainer_create(r.m, p, &r.t), CF_OK);
    int64_t n;
    int32_t *tok = text_tokens(&n);
    CF_CHECK_STATUS(cf_trainer_set_data(r.t, tok, n), CF_OK);
    free(tok);
    return r;
}

static void stop(run *r) {
    cf_trainer_free(r->t);
    cf_model_free(r->m);
    cf_ctx_free(r->ctx);
}

// A run of `steps` steps saved to TMP/name.safetensors (path), and a new run resumed from it.
static run resumed_after(const cf_train_params *p, int steps, const char *name, char *path,
                         size_t cap) {
    run b = start(p, 2);
    for (int i = 0; i < steps; i++) CF_CHECK_STATUS(cf_trainer_step(b.t, NULL), CF_OK);
    snprintf(path, cap, "%s/%s.safetensors", cf_test_tmpdir(), name);
    CF_CHECK_STATUS(cf_trainer_save(b.t, path), CF_OK);
    stop(&b);
    run c = start(p, 2);
    CF_CHECK_STATUS(cf_trainer_resume(c.t, path), CF_OK);
    return c;
}

static void test_resume_exact(void) {
    cf_train_params p = tiny_params();
    run a = start(&p, 2);
    float la[8];
    for (int i = 0; i < 8; i++) {
        cf_step_stats s;
        CF_CHECK_STATUS(cf_trainer_step(a.t, &s), CF_OK);
        la[i] = s.loss;
    }
    char path[1024];
    run c = resumed_after(&p, 4, "ck", path, sizeof path);
    CF_CHECK_EQ(cf_trainer_step_count(c.t), 4);
    for (int i = 4; i < 8; i++) {
        cf_step_stats s;
        CF_CHECK_STATUS(cf_trainer_step(c.t, &s), CF_OK);
        CF_CHECK(s.loss == la[i]);  // bit for bit
        CF_CHECK_EQ(s.step, i + 1);
    }
    CF_CHECK(memcmp(a.m->slab, c.m->slab, a.m->slab_floats * sizeof(float)) == 0);
    // The checkpoint also loads as a model for inference.
    cf_model *m;
    CF_CHECK_STATUS(cf_model_load(a.ctx, path, &m), CF_OK);
    if (m) CF_CHECK(!strcmp(cf_model_source(m), "cformer"));
    cf_model_free(m);
    stop(&a);
    stop(&c);
}

static void test_determinism(void) {
    cf_train_params p = tiny_params();
    run a = start(&p, 2), b = start(&p, 2);
    for (int i = 0; i < 5; i++) {
        cf_step_stats s1, s2;
        CF_CHECK_STATUS(cf_trainer_step(a.t, &s1), CF_OK);
        CF_CHECK_STATUS(cf_trainer_step(b.t, &s2), CF_OK);
        CF_CHECK(s1.loss == s2.loss && s1.grad_norm == s2.grad_norm);
    }
    stop(&a);
    stop(&b);
    // One thread gives the same losses up to float summation order.
    run c = start(&p, 1), d = start(&p, 2);
    for (int i = 0; i < 3; i++) {
        cf_step_stats s1, s2;
        CF_CHECK_STATUS(cf_trainer_step(c.t, &s1), CF_OK);
        CF_CHECK_STATUS(cf_trainer_step(d.t, &s2), CF_OK);
        CF_CHECK_NEAR(s1.loss, s2.loss, 1e-5);
    }
    stop(&c);
    stop(&d);
}

static void test_grad_accum(void) {
    // accum 2 x batch 2 == accum 1 x batch 4 on the same rows.
    cf_train_params p1 = tiny_params(), p2 = tiny_params();
    p1.batch_size = 4, p1.grad_accum = 1;
    p2.batch_size = 2, p2.grad_accum = 2;
    run a = start(&p1, 2), b = start(&p2, 2);
    int64_t n;
    int32_t *tok = text_tokens(&n);
    cf_step_stats s1, s2;
    for (int step = 0; step < 3; step++) {
        const int32_t *rows = tok + step * 50;  // 4 rows of 17 tokens, overlapping is fine
        int32_t batch[4 * 17];
        for (int r = 0; r < 4; r++) memcpy(batch + r * 17, rows + r * 9, 17 * sizeof(int32_t));
        CF_CHECK_STATUS(cf_trainer_step_on(a.t, batch, &s1), CF_OK);
        CF_CHECK_STATUS(cf_trainer_step_on(b.t, batch, &s2), CF_OK);
        CF_CHECK_NEAR(s1.loss, s2.loss, 1e-5);
        CF_CHECK_NEAR(s1.grad_norm, s2.grad_norm, 1e-4 * s1.grad_norm);
    }
    double maxd = 0;
    for (size_t i = 0; i < a.m->slab_floats; i++)
        maxd = fmax(maxd, fabs((double)a.m->slab[i] - b.m->slab[i]));
    CF_CHECK(maxd < 1e-5);
    // An input id of -1 is refused; a final target of -1 is ignored.
    int32_t bad[4 * 17];
    memcpy(bad, tok, sizeof bad);
    bad[3] = -1;
    CF_CHECK_STATUS(cf_trainer_step_on(a.t, bad, NULL), CF_ERR_RANGE);
    bad[3] = 1;
    bad[16] = -1;
    CF_CHECK_STATUS(cf_trainer_step_on(a.t, bad, NULL), CF_OK);
    bad[16] = 256;
    CF_CHECK_STATUS(cf_trainer_step_on(a.t, bad, NULL), CF_ERR_RANGE);
    free(tok);
    stop(&a);
    stop(&b);
}

static void test_schedule(void) {
    cf_train_params p = tiny_params();
    p.lr = 1.0f, p.min_lr = 0.1f, p.warmup_steps = 10, p.max_steps = 110;
    run a = start(&p, 1);
    CF_CHECK_NEAR(cf_trainer_lr_at(a.t, 0), 0.1, 1e-6);
    CF_CHECK_NEAR(cf_trainer_lr_at(a.t, 9), 1.0, 1e-6);
    CF_CHECK_NEAR(cf_trainer_lr_at(a.t, 10), 1.0, 1e-6);
    CF_CHECK_NEAR(cf_trainer_lr_at(a.t, 60), 0.55, 1e-6);  // half way down the cosine
    CF_CHECK_NEAR(cf_trainer_lr_at(a.t, 110), 0.1, 1e-6);
    stop(&a);
}

static void test_learns(void) {
    cf_train_params p = tiny_params();
    p.max_steps = 200;
    run a = start(&p, 2);
    float v0, v1;
    CF_CHECK_STATUS(cf_trainer_eval(a.t, &v0), CF_OK);
    CF_CHECK_NEAR(v0, log(256.0), 0.3);  // an untrained model is near uniform
    for (int i = 0; i < 200; i++) CF_CHECK_STATUS(cf_trainer_step(a.t, NULL), CF_OK);
    CF_CHECK_STATUS(cf_trainer_eval(a.t, &v1), CF_OK);
    // The text is one sentence repeated: a trained model predicts most of it.
    if (!(v1 < 2.0f)) fprintf(stderr, "  validation loss %f -> %f\n", v0, v1);
    CF_CHECK(v1 < 2.0f);  // below the ~3 nats of the character frequencies alone
    stop(&a);
}

static void test_checkpoint_integrity(void) {
    cf_train_params p = tiny_params();
    run a = start(&p, 1);
    CF_CHECK_STATUS(cf_trainer_step(a.t, NULL), CF_OK);
    char path[1024];
    snprintf(path, sizeof path, "%s/ck.safetensors", cf_test_tmpdir());
    CF_CHECK_STATUS(cf_trainer_save(a.t, path), CF_OK);
    // No temporary files are left behind.
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CF_CHECK(access(tmp, F_OK) != 0);
    // A truncated checkpoint is refused and the trainer keeps its state.
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    CF_CHECK(truncate(path, len / 2) == 0);
    float before = a.m->slab[0];
    CF_CHECK_STATUS(cf_trainer_resume(a.t, path), CF_ERR_FORMAT);
    CF_CHECK(a.m->slab[0] == before);
    CF_CHECK_EQ(cf_trainer_step_count(a.t), 1);
    // A checkpoint of a different model is refused.
    run b = start(&p, 1);
    CF_CHECK_STATUS(cf_trainer_save(b.t, path), CF_OK);
    stop(&b);
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    cf_config c = tiny_cfg();
    c.n_ff = 48;
    cf_model *m;
    cf_trainer *t;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 1, &m), CF_OK);
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_OK);
    CF_CHECK_STATUS(cf_trainer_resume(t, path), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "differs");
    cf_trainer_free(t);
    cf_model_free(m);
    cf_ctx_free(ctx);
    stop(&a);
}

static void test_config_text(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    const char *text =
        "# a model\n"
        "n_layers = 3   # trailing comment\n"
        "n_embd=48\n"
        "family = llama\n"  // applied first, wherever it is
        "n_heads = 6\n n_kv_heads = 2\n"
        "rope_style = interleaved\n"
        "bias = true\n"
        "steps = 77\nlr = 2e-4\nseed = 5\n"
        "tokenizer = byte\n";
    cf_config c = cf_config_gpt2();
    c.vocab_size = 256;
    cf_train_params p = cf_train_default_params();
    char tok[64] = "";
    CF_CHECK_STATUS(cf_train_config_parse(ctx, "x.cfg", text, strlen(text), &c, &p, tok, sizeof tok),
                    CF_OK);
    CF_CHECK_EQ(c.family, CF_FAMILY_LLAMA);
    CF_CHECK_EQ(c.norm, CF_NORM_RMSNORM);
    CF_CHECK_EQ(c.n_layers, 3);
    CF_CHECK_EQ(c.n_embd, 48);
    CF_CHECK_EQ(c.n_kv_heads, 2);
    CF_CHECK_EQ(c.rope_style, CF_ROPE_INTERLEAVED);
    CF_CHECK_EQ(c.attn_bias, 1);
    CF_CHECK_EQ(c.vocab_size, 256);
    CF_CHECK_EQ(p.max_steps, 77);
    CF_CHECK_NEAR(p.lr, 2e-4, 1e-9);
    CF_CHECK(!strcmp(tok, "byte"));
    CF_CHECK_STATUS(cf_config_finish(ctx, &c), CF_OK);
    CF_CHECK_EQ(c.head_dim, 8);
    const char *bad = "n_layers = 2\nn_lairs = 3\n";
    CF_CHECK_STATUS(cf_train_config_parse(ctx, "y.cfg", bad, strlen(bad), &c, &p, tok, sizeof tok),
                    CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "y.cfg:2");
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "n_lairs");
    cf_ctx_free(ctx);
}

// Dropout: a step with it differs from one without; runs repeat and resume exactly (the masks
// follow the seed and the step); evaluation never drops; rates outside [0, 1) are refused.
static void test_dropout(void) {
    cf_train_params p = tiny_params(), p0 = tiny_params();
    p.dropout = 0.2f;
    run a = start(&p, 2), z = start(&p0, 2);
    float va, vz;
    CF_CHECK_STATUS(cf_trainer_eval(a.t, &va), CF_OK);
    CF_CHECK_STATUS(cf_trainer_eval(z.t, &vz), CF_OK);
    CF_CHECK(va == vz);  // same weights, and no dropout in evaluation
    float la[6];
    for (int i = 0; i < 6; i++) {
        cf_step_stats s, s0;
        CF_CHECK_STATUS(cf_trainer_step(a.t, &s), CF_OK);
        CF_CHECK_STATUS(cf_trainer_step(z.t, &s0), CF_OK);
        la[i] = s.loss;
        if (i == 0) CF_CHECK(s.loss != s0.loss);
    }
    char path[1024];
    run c = resumed_after(&p, 3, "ckd", path, sizeof path);
    for (int i = 3; i < 6; i++) {
        cf_step_stats s;
        CF_CHECK_STATUS(cf_trainer_step(c.t, &s), CF_OK);
        CF_CHECK(s.loss == la[i]);
    }
    CF_CHECK(memcmp(a.m->slab, c.m->slab, a.m->slab_floats * sizeof(float)) == 0);
    stop(&a);
    stop(&c);
    stop(&z);
    cf_ctx *ctx;
    cf_ctx_params cp = {.n_threads = 1};
    CF_CHECK_STATUS(cf_ctx_create(&cp, &ctx), CF_OK);
    cf_config cfg = tiny_cfg();
    cf_model *m;
    CF_CHECK_STATUS(cf_model_create(ctx, &cfg, 1, &m), CF_OK);
    cf_trainer *t = NULL;
    p.dropout = 1.0f;
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "dropout");
    cf_model_free(m);
    cf_ctx_free(ctx);
}

const cf_test tests_train[] = {
    {"train/resume_exact", test_resume_exact},
    {"train/determinism", test_determinism},
    {"train/grad_accum", test_grad_accum},
    {"train/schedule", test_schedule},
    {"train/learns", test_learns},
    {"train/checkpoint_integrity", test_checkpoint_integrity},
    {"train/config_text", test_config_text},
    {"train/dropout", test_dropout},
    {NULL, NULL},
};
