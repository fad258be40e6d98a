// Encoder-decoder tests.
//
// Golden (tools/gen_s2s_refs.py, float64 PyTorch references on the float32 weights):
//   s2s_torch   torch.nn.Transformer with cformer's tensor names: encoder output, teacher-forced
//               logits, label-smoothed loss, every parameter's gradient;
//   s2s_marian  MarianMTModel's math in plain torch, loaded from a Hugging Face Marian folder:
//               the same checks, then save -> reload gives the same logits.
// Decoding: a hand-made model where beam search finds a better sequence than greedy; greedy
// with the KV cache against the teacher-forced logits of its own output; batched translation
// (sorted by length) against one sentence at a time; empty and over-long sources; bad ids.
//
// Tolerances: gen_s2s_refs.py prints float32 PyTorch's distance from the float64 references
// (enc 7.6e-7, logits 3.8e-6, loss 4.1e-7, gradients 2.6e-7); the limits below leave about 5x
// over cformer's measured differences (run with -v).
#include <stdlib.h>

#include "../../src/io/io.h"
#include "../../src/models/model_internal.h"
#include "../test.h"
#include "cformer/seq2seq.h"

#define ENC_ATOL 1e-5
#define LOGIT_ATOL 1e-5
#define LOGIT_RTOL 1e-4
#define LOSS_ATOL 1e-5
#define GRAD_ATOL 2e-6
#define GRAD_RTOL 1e-3

static cf_ctx *make_ctx(void) {
    cf_ctx_params p = cf_ctx_default_params();
    p.n_threads = 2;
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    return ctx;
}

typedef struct fixture {
    cf_safetensors st;
    int B, S, T;
    int32_t *src, *tgt, *labels;
    uint8_t *mask;
    bool ok;
} fixture;

static void *copy_t(fixture *f, const char *name, cf_dtype dt) {
    const cf_st_tensor *t = cf__st_find(&f->st, name);
    if (!t || t->dtype != dt) {
        fprintf(stderr, "  fixture tensor %s missing\n", name);
        cf_test_failures++;
        f->ok = false;
        return calloc(1, 16);
    }
    void *p = malloc(t->nbytes);
    memcpy(p, t->data, t->nbytes);
    return p;
}

static bool fixture_open(cf_ctx *ctx, const char *dir, fixture *f) {
    char path[1024];
    snprintf(path, sizeof path, "%s/expected.safetensors", cf_test_fixture(dir));
    memset(f, 0, sizeof *f);
    if (cf__st_open(ctx, path, &f->st) != CF_OK) {
        fprintf(stderr, "  %s: %s (run /usr/bin/python3 tools/gen_s2s_refs.py)\n", path,
                cf_errmsg(ctx));
        cf_test_failures++;
        return false;
    }
    const char *magic = cf__st_meta(&f->st, "magic");
    CF_CHECK(magic && !strcmp(magic, "cformer-golden"));
    f->B = atoi(cf__st_meta(&f->st, "B"));
    f->S = atoi(cf__st_meta(&f->st, "S"));
    f->T = atoi(cf__st_meta(&f->st, "T"));
    f->ok = true;
    f->src = copy_t(f, "src", CF_DT_I32);
    f->tgt = copy_t(f, "tgt_in", CF_DT_I32);
    f->labels = copy_t(f, "labels", CF_DT_I32);
    f->mask = copy_t(f, "src_mask", CF_DT_U8);
    return f->ok;
}

static void fixture_close(fixture *f) {
    free(f->src);
    free(f->tgt);
    free(f->labels);
    free(f->mask);
    cf__st_close(&f->st);
}

static cf_model *load(cf_ctx *ctx, const char *dir) {
    cf_model *m = NULL;
    if (cf_model_load(ctx, cf_test_fixture(dir), &m) != CF_OK) {
        fprintf(stderr, "  load %s: %s\n", dir, cf_errmsg(ctx));
        cf_test_failures++;
    }
    return m;
}

// Compares logits only at the positions that have a label (padding rows are not defined).
static void compare_logits(const char *what, fixture *f, const float *got, const float *want,
                           int64_t V) {
    for (int64_t r = 0; r < (int64_t)f->B * f->T; r++)
        if (f->labels[r] >= 0) {
            char w[96];
            snprintf(w, sizeof w, "%s row %lld", what, (long long)r);
            cf_test_compare(w, got + r * V, want + r * V, V, LOGIT_ATOL, LOGIT_RTOL);
        }
}

// Encoder output (valid positions), logits, loss and all gradients of one fixture.
static void check_fixture(const char *dir, const char *source) {
    cf_ctx *ctx = make_ctx();
    fixture f;
    cf_model *m = load(ctx, dir);
    if (!m || !fixture_open(ctx, dir, &f)) {
        cf_model_free(m);
        cf_ctx_free(ctx);
        return;
    }
    CF_CHECK(!strcmp(cf_model_source(m), source));
    const cf_config *c = cf_model_config(m);
    int64_t B = f.B, S = f.S, T = f.T, C = c->n_embd, V = c->vocab_size;
    float *enc = malloc((size_t)(B * S * C) * sizeof(float));
    float *want_enc = copy_t(&f, "enc", CF_DT_F32);
    CF_CHECK_STATUS(cf_s2s_encode(m, f.src, f.mask, f.B, f.S, enc), CF_OK);
    for (int64_t r = 0; r < B * S; r++)
        if (f.mask[r]) cf_test_compare("encoder output", enc + r * C, want_enc + r * C, C, ENC_ATOL, 1e-4);
    float *logits = malloc((size_t)(B * T * V) * sizeof(float));
    float *want = copy_t(&f, "logits", CF_DT_F32);
    CF_CHECK_STATUS(cf_s2s_forward(m, f.src, f.mask, f.B, f.S, f.tgt, f.T, logits), CF_OK);
    compare_logits("logits", &f, logits, want, V);
    float *want_loss = copy_t(&f, "loss", CF_DT_F32), loss = 0;
    float eps = (float)atof(cf__st_meta(&f.st, "label_smoothing"));
    CF_CHECK_STATUS(cf_s2s_loss(m, f.src, f.mask, f.B, f.S, f.tgt, f.labels, f.T, eps, &loss),
                    CF_OK);
    CF_CHECK_NEAR(loss, want_loss[0], LOSS_ATOL);
    // Gradients through the training graph.
    CF_CHECK_STATUS(cf__model_make_writable(m), CF_OK);
    float *grads = calloc(m->slab_floats, sizeof(float));
    cf__model_set_grads(m, grads);
    cf_graph g;
    cf__graph_init(&g, ctx);
    for (int measure = 1; measure >= 0; measure--) {
        cf__graph_begin(&g, true, measure);
        cf_tensor *lg = cf__encdec_forward(&g, m, f.src, f.mask, B, S, f.tgt, T, NULL);
        cf_tensor *l = cf__cross_entropy_smooth(&g, lg, f.labels, eps);
        cf__graph_backward(&g, l, 1.0f);
        if (measure) CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
        else CF_CHECK_NEAR(l->data[0], want_loss[0], LOSS_ATOL);
    }
    int n_checked = 0;
    for (int i = 0; i < m->n_params; i++) {
        const cf_param *p = &m->params[i];
        char name[96];
        snprintf(name, sizeof name, "grad.%s", p->name);
        const cf_st_tensor *t = cf__st_find(&f.st, name);
        if (!t || t->numel != cf__weight_numel(p->w)) {
            fprintf(stderr, "  %s: %s missing\n", dir, name);
            cf_test_failures++;
            continue;
        }
        float *gw = copy_t(&f, name, CF_DT_F32);
        cf_test_compare(name, p->w->grad, gw, t->numel, GRAD_ATOL, GRAD_RTOL);
        free(gw);
        n_checked++;
    }
    CF_CHECK(n_checked == m->n_params && n_checked > 40);
    cf__graph_deinit(&g);
    cf__model_set_grads(m, NULL);
    // A perturbed cross-attention weight must break the logits check (the test can fail).
    m->dec_layers[1].xv.data[5] += 1e-2f;
    cf__model_weights_changed(m);  // drops packed inference weights
    CF_CHECK_STATUS(cf_s2s_forward(m, f.src, f.mask, f.B, f.S, f.tgt, f.T, logits), CF_OK);
    double worst = 0;
    for (int64_t i = 0; i < B * T * V; i++)
        if (f.labels[i / V] >= 0) {
            double d = fabs((double)logits[i] - want[i]) / (LOGIT_ATOL + LOGIT_RTOL * fabs(want[i]));
            if (d > worst) worst = d;
        }
    CF_CHECK(worst > 3.0);
    free(grads);
    free(enc);
    free(want_enc);
    free(logits);
    free(want);
    free(want_loss);
    fixture_close(&f);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

static void test_torch_transformer(void) { check_fixture("s2s_torch", "cformer"); }
static void test_marian(void) { check_fixture("s2s_marian", "hf-marian"); }

// A Marian folder saved by cformer loads back with the same logits, and the same tensor names
// and config fields the original had.
static void test_marian_roundtrip(void) {
    cf_ctx *ctx = make_ctx();
    fixture f;
    cf_model *m = load(ctx, "s2s_marian");
    if (!m || !fixture_open(ctx, "s2s_marian", &f)) {
        cf_model_free(m);
        cf_ctx_free(ctx);
        return;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/marian", cf_test_tmpdir());
    CF_CHECK_STATUS(cf_model_save(m, dir), CF_OK);
    cf_model *m2 = NULL;
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &m2), CF_OK);
    if (m2) {
        CF_CHECK(!strcmp(cf_model_source(m2), "hf-marian"));
        int64_t V = m->cfg.vocab_size, n = (int64_t)f.B * f.T * V;
        float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
        CF_CHECK_STATUS(cf_s2s_forward(m, f.src, f.mask, f.B, f.S, f.tgt, f.T, a), CF_OK);
        CF_CHECK_STATUS(cf_s2s_forward(m2, f.src, f.mask, f.B, f.S, f.tgt, f.T, b), CF_OK);
        CF_CHECK(!memcmp(a, b, (size_t)n * sizeof(float)));
        free(a);
        free(b);
        char path[600];
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        cf_safetensors st;
        CF_CHECK_STATUS(cf__st_open(ctx, path, &st), CF_OK);
        CF_CHECK(cf__st_find(&st, "model.shared.weight") != NULL);
        CF_CHECK(cf__st_find(&st, "model.decoder.layers.1.encoder_attn.k_proj.weight") != NULL);
        CF_CHECK(cf__st_find(&st, "model.encoder.embed_positions.weight") != NULL);
        const cf_st_tensor *fb = cf__st_find(&st, "final_logits_bias");
        CF_CHECK(fb && fb->ndim == 2 && fb->shape[0] == 1);
        cf__st_close(&st);
        cf_model_free(m2);
    }
    fixture_close(&f);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// ---- decoding ----

// A model whose next-token distribution depends only on the previous token, with weights set
// by hand: every block's output projections are zero (pre-norm, so the residual stream stays
// the one-hot embedding of the previous token), and lm_head[v][k] = log P(v | k).
// Tokens: 0 pad = decoder start, 1 eos, 2 A, 3 B, 4 X, 5 Y.
//   start -> A 0.5, B 0.4, rest 0.1;  A -> eos 0.3, X 0.35, Y 0.35;  B -> eos 0.95;
//   X, Y -> eos 0.9.
// Greedy: A (0.5), then X (0.35), then eos (0.9) = 0.1575; beam search (2 beams) finds
// B, eos = 0.38.
static cf_model *markov_model(cf_ctx *ctx) {
    cf_config c = cf_config_transformer();
    c.n_layers = 1, c.n_dec_layers = 1, c.n_embd = 6, c.n_heads = 1, c.n_kv_heads = 1, c.head_dim = 6;
    c.n_ff = 4;
    c.vocab_size = 6, c.n_ctx = 16, c.pre_norm = 1, c.final_norm = 0, c.pos = CF_POS_NONE;
    c.scale_embedding = 0, c.tie_embeddings = 0, c.pad_id = 0, c.bos_id = -1, c.eos_id = 1;
    c.decoder_start_id = 0;
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 1, &m), CF_OK);
    if (!m) return NULL;
    for (int i = 0; i < m->n_params; i++) {
        cf_param *p = &m->params[i];
        if (!strstr(p->name, "norm"))
            memset(p->w->data, 0, (size_t)cf__weight_numel(p->w) * sizeof(float));
    }
    for (int k = 0; k < 6; k++) m->wte.data[k * 6 + k] = 1.0f;  // one-hot embeddings
    float T[6][6];  // T[from][to]
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) T[a][b] = 0.01f;
    T[0][2] = 0.5f, T[0][3] = 0.4f;
    T[2][1] = 0.3f, T[2][4] = 0.35f, T[2][5] = 0.35f;
    T[3][1] = 0.95f;
    T[4][1] = 0.9f, T[5][1] = 0.9f;
    for (int from = 0; from < 6; from++)
        for (int to = 0; to < 6; to++) m->lm_head.data[to * 6 + from] = logf(T[from][to]);
    return m;
}

static void test_beam_beats_greedy(void) {
    cf_ctx *ctx = make_ctx();
    cf_model *m = markov_model(ctx);
    if (!m) return;
    int32_t src[2] = {4, 1};
    const int32_t *srcs[1] = {src};
    int32_t len[1] = {2};
    cf_s2s_decode_params p = cf_s2s_default_decode_params();
    p.beam_size = 1;
    p.length_penalty = 0;  // scores are plain sums of log-probabilities
    p.max_len_a = 0, p.max_len_b = 8;
    cf_s2s_output *o = NULL;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, len, 1, &p, &o), CF_OK);
    if (o) {
        CF_CHECK_EQ(o->n_hyps[0], 1);
        CF_CHECK_EQ(o->hyps[0].n, 2);
        CF_CHECK_EQ(o->hyps[0].tokens[0], 2);  // A
        CF_CHECK_EQ(o->hyps[0].tokens[1], 4);  // X (the first of the tied X, Y)
        CF_CHECK_EQ(o->hyps[0].finished, 1);
        // The sum of log-probabilities (the pad token is banned, so renormalised over 5).
        float greedy = o->hyps[0].score;
        CF_CHECK(greedy < logf(0.2f));
        cf_s2s_output_free(o);
        p.beam_size = 2;  // the beam's answer is the most probable sequence
        p.n_best = 2;
        CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, len, 1, &p, &o), CF_OK);
        if (o) {
            CF_CHECK_EQ(o->n_hyps[0], 2);
            CF_CHECK_EQ(o->hyps[0].n, 1);
            CF_CHECK_EQ(o->hyps[0].tokens[0], 3);  // B, then eos
            CF_CHECK(o->hyps[0].score > greedy + 0.5f);
            CF_CHECK(o->hyps[0].score >= o->hyps[1].score);
            // The score is the sum of the per-token log-probabilities.
            CF_CHECK_NEAR(o->hyps[0].score, o->hyps[0].logprobs[0] + o->hyps[0].logprobs[1], 1e-5);
        }
    }
    cf_s2s_output_free(o);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// A 2 + 2 block transformer (C 16, 4 heads, V 23, start 1, eos 2, pad 0) with its matrices
// scaled by gain: sharper distributions than the 0.02 initialisation.
static cf_model *sharp_model(cf_ctx *ctx, int kv_heads, int n_ctx, uint64_t seed, float gain) {
    cf_config c = cf_config_transformer();
    c.n_layers = 2, c.n_dec_layers = 2, c.n_embd = 16, c.n_heads = 4, c.head_dim = 4;
    c.n_kv_heads = kv_heads, c.n_ff = 24;
    c.vocab_size = 23, c.n_ctx = n_ctx, c.pad_id = 0, c.eos_id = 2, c.decoder_start_id = 1;
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, seed, &m), CF_OK);
    if (!m) return NULL;
    for (int i = 0; i < m->n_params; i++) {
        cf_weight *w = m->params[i].w;
        if (w->rows > 1)
            for (int64_t k = 0; k < cf__weight_numel(w); k++) w->data[k] *= gain;
    }
    cf__model_weights_changed(m);
    return m;
}

enum { MAX_SRC = 10 };

// n random sources of lens[i] <= MAX_SRC ids in 3..22, each ending with eos (2).
static void random_sources(int n, const int32_t *lens, uint64_t seed, int32_t (*data)[MAX_SRC],
                           const int32_t **srcs) {
    cf_rng r;
    cf__rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < lens[i]; j++) data[i][j] = 3 + (int32_t)cf__rng_below(&r, 20);
        data[i][lens[i] - 1] = 2;
        srcs[i] = data[i];
    }
}

// Every hypothesis of o carries the teacher-forced log-probabilities of its tokens (V = 23,
// start id 1) and, with length penalty 1, their mean as its score.
static void check_hyps_teacher_forced(cf_model *m, const int32_t *const *srcs, const int32_t *lens,
                                      int n, const cf_s2s_output *o) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < o->n_hyps[i]; k++) {
            const cf_s2s_hyp *h = &o->hyps[i * o->n_best + k];
            int T = h->n + h->finished;
            int32_t tin[64];
            CF_CHECK(T >= 1 && T <= 64);
            if (T < 1 || T > 64) continue;
            tin[0] = 1;
            for (int t = 1; t < T; t++) tin[t] = h->tokens[t - 1];
            float *lg = malloc((size_t)T * 23 * sizeof(float));
            CF_CHECK_STATUS(cf_s2s_forward(m, srcs[i], NULL, 1, lens[i], tin, T, lg), CF_OK);
            double sum = 0;
            for (int t = 0; t < T; t++) {
                const float *row = lg + t * 23;
                double mx = -INFINITY, s = 0;
                for (int v = 0; v < 23; v++) mx = row[v] > mx ? row[v] : mx;
                for (int v = 0; v < 23; v++) s += exp(row[v] - mx);
                double lp = row[h->tokens[t]] - mx - log(s);
                CF_CHECK_NEAR(h->logprobs[t], lp, 2e-4);  // logits of about +-20 here
                sum += lp;
            }
            CF_CHECK_NEAR(h->score, sum / T, 1e-4);
            free(lg);
        }
}

// Beam search on a model with flat enough distributions that the beams keep changing places:
// every hypothesis still has the log-probabilities of the teacher-forced forward, so each beam
// read its own prefix from the KV cache (cf_kv_cache.rows) however the beams were reordered.
static void test_beam_cache_reorder(void) {
    cf_ctx *ctx = make_ctx();
    cf_model *m = sharp_model(ctx, 4, 48, 11, 12.0f);
    if (!m) return;
    enum { N = 4 };
    int32_t lens[N] = {7, 4, 10, 5};
    int32_t data[N][MAX_SRC];
    const int32_t *srcs[N];
    random_sources(N, lens, 5, data, srcs);
    cf_s2s_decode_params p = cf_s2s_default_decode_params();
    p.beam_size = 4, p.n_best = 4, p.max_len_a = 2.0f, p.max_len_b = 8;
    cf_s2s_output *o = NULL;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, N, &p, &o), CF_OK);
    if (o) check_hyps_teacher_forced(m, srcs, lens, N, o);
    cf_s2s_output_free(o);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// Greedy decoding with the KV cache and cached cross keys/values gives, token by token, the
// log-probabilities of the teacher-forced forward over its own output; batching sentences
// (sorted by length, results in input order) changes nothing.
static void test_greedy_cache_and_batching(void) {
    cf_ctx *ctx = make_ctx();
    cf_model *m = sharp_model(ctx, 2, 32, 7, 40.0f);
    if (!m) return;
    enum { N = 5 };
    int32_t lens[N] = {6, 3, 9, 1, 4};
    int32_t data[N][MAX_SRC];
    const int32_t *srcs[N];
    random_sources(N, lens, 3, data, srcs);
    cf_s2s_decode_params p = cf_s2s_default_decode_params();
    p.beam_size = 1;
    p.max_len_a = 1.0f, p.max_len_b = 3;
    cf_s2s_output *all = NULL;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, N, &p, &all), CF_OK);
    if (!all) goto out;
    int total = 0;
    for (int i = 0; i < N; i++) {
        CF_CHECK_EQ(all->n_hyps[i], 1);
        const cf_s2s_hyp *h = &all->hyps[i];
        int n_gen = h->n + h->finished;
        total += h->n;
        CF_CHECK(n_gen >= 1 && n_gen <= lens[i] + 3);
        // Teacher-forced forward on [start, tokens...]: the same log-probabilities.
        int T = n_gen;
        int32_t tin[32];
        tin[0] = 1;
        for (int t = 1; t < T; t++) tin[t] = h->tokens[t - 1];
        float *lg = malloc((size_t)T * 23 * sizeof(float));
        CF_CHECK_STATUS(cf_s2s_forward(m, srcs[i], NULL, 1, lens[i], tin, T, lg), CF_OK);
        for (int t = 0; t < T; t++) {
            const float *row = lg + t * 23;
            double mx = -INFINITY, s = 0;
            for (int v = 0; v < 23; v++) mx = row[v] > mx ? row[v] : mx;
            for (int v = 0; v < 23; v++) s += exp(row[v] - mx);
            int32_t tok = t < h->n ? h->tokens[t] : 2;
            double lp = row[tok] - mx - log(s);
            CF_CHECK_NEAR(h->logprobs[t], lp, 2e-5);
            for (int v = 1; v < 23; v++) CF_CHECK(row[v] <= row[tok] + 1e-5f);  // argmax (pad banned)
        }
        free(lg);
        // One sentence alone: the same tokens.
        cf_s2s_output *one = NULL;
        CF_CHECK_STATUS(cf_s2s_translate_ids(m, &srcs[i], &lens[i], 1, &p, &one), CF_OK);
        if (one) {
            CF_CHECK_EQ(one->hyps[0].n, h->n);
            CF_CHECK(!memcmp(one->hyps[0].tokens, h->tokens, (size_t)h->n * sizeof(int32_t)));
        }
        cf_s2s_output_free(one);
    }
    CF_CHECK(total > N);  // the test decodes real sequences, not just eos
    // Beam search over the same batch in groups of 2 equals one group of 5.
    p.beam_size = 3, p.n_best = 2, p.max_batch = 2;
    cf_s2s_output *b2 = NULL, *b5 = NULL;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, N, &p, &b2), CF_OK);
    p.max_batch = 5;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, N, &p, &b5), CF_OK);
    if (b5) check_hyps_teacher_forced(m, srcs, lens, N, b5);
    if (b2 && b5)
        for (int i = 0; i < N * 2; i++) {
            CF_CHECK_EQ(b2->hyps[i].n, b5->hyps[i].n);
            CF_CHECK_NEAR(b2->hyps[i].score, b5->hyps[i].score, 1e-4);
            CF_CHECK(!memcmp(b2->hyps[i].tokens, b5->hyps[i].tokens,
                             (size_t)b2->hyps[i].n * sizeof(int32_t)));
        }
    cf_s2s_output_free(b2);
    cf_s2s_output_free(b5);
out:
    cf_s2s_output_free(all);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// Empty sources give no hypothesis; an over-long source is cut to n_ctx (its eos kept); bad
// ids and parameters are errors naming the sentence; the output count equals the input count.
static void test_bad_input(void) {
    cf_ctx *ctx = make_ctx();
    cf_model *m = markov_model(ctx);
    if (!m) return;
    int32_t longsrc[40];
    for (int i = 0; i < 40; i++) longsrc[i] = 4;
    longsrc[39] = 1;
    int32_t bad[2] = {4, 6};
    const int32_t *srcs[3] = {NULL, longsrc, longsrc};
    int32_t lens[3] = {0, 40, 5};
    cf_s2s_decode_params p = cf_s2s_default_decode_params();
    cf_s2s_output *o = NULL;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, 3, &p, &o), CF_OK);
    if (o) {
        CF_CHECK_EQ(o->n_sent, 3);
        CF_CHECK_EQ(o->n_hyps[0], 0);
        CF_CHECK_EQ(o->n_hyps[1], 1);
        CF_CHECK_EQ(o->n_hyps[2], 1);
    }
    cf_s2s_output_free(o);
    srcs[1] = bad;
    lens[1] = 2;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, 3, &p, &o), CF_ERR_RANGE);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "sentence 1");
    p.n_best = 9;
    CF_CHECK_STATUS(cf_s2s_translate_ids(m, srcs, lens, 3, &p, &o), CF_ERR_INVALID_ARG);
    CF_CHECK(o == NULL);
    // Not an encoder-decoder model.
    cf_config d = cf_config_gpt2();
    d.n_layers = 1, d.n_embd = 8, d.n_heads = 2, d.n_kv_heads = 2, d.head_dim = 4, d.n_ff = 8;
    d.vocab_size = 9;
    d.n_ctx = 8;
    cf_model *gpt = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &d, 1, &gpt), CF_OK);
    float out[64];
    if (gpt) CF_CHECK_STATUS(cf_s2s_encode(gpt, bad, NULL, 1, 1, out), CF_ERR_INVALID_ARG);
    cf_model_free(gpt);
    // Config checks.
    cf_config c = cf_config_transformer_small();
    c.decoder_start_id = c.vocab_size;
    cf_model *x = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 1, &x), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "decoder_start_id");
    cf_config e = cf_config_gpt2();
    e.logits_bias = 1;
    CF_CHECK_STATUS(cf_config_finish(ctx, &e), CF_ERR_INVALID_ARG);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// The Marian sinusoidal table: sin in the first half, cos in the second; the original
// Transformer's interleaved.
static void test_sinusoid_layouts(void) {
    cf_ctx *ctx = make_ctx();
    cf_config c = cf_config_marian();
    c.n_layers = 1, c.n_dec_layers = 1, c.n_embd = 8, c.n_heads = 2, c.n_kv_heads = 2, c.head_dim = 4;
    c.n_ff = 8;
    c.vocab_size = 10, c.pad_id = 9, c.decoder_start_id = 9, c.n_ctx = 16;
    for (int split = 0; split < 2; split++) {
        c.sinus_split = split;
        cf_model *m = NULL;
        CF_CHECK_STATUS(cf_model_create(ctx, &c, 1, &m), CF_OK);
        if (!m) continue;
        int p = 3;
        for (int i = 0; i < 4; i++) {
            double ang = p / pow(10000.0, 2.0 * i / 8);
            int si = split ? i : 2 * i, ci = split ? 4 + i : 2 * i + 1;
            CF_CHECK_NEAR(m->sinus[p * 8 + si], sin(ang), 1e-6);
            CF_CHECK_NEAR(m->sinus[p * 8 + ci], cos(ang), 1e-6);
        }
        cf_model_free(m);
    }
    cf_ctx_free(ctx);
}

const cf_test tests_s2s[] = {
    {"s2s/golden-torch-transformer", test_torch_transformer},
    {"s2s/golden-marian", test_marian},
    {"s2s/marian-roundtrip", test_marian_roundtrip},
    {"s2s/beam-beats-greedy", test_beam_beats_greedy},
    {"s2s/beam-cache-reorder", test_beam_cache_reorder},
    {"s2s/greedy-cache-batching", test_greedy_cache_and_batching},
    {"s2s/bad-input", test_bad_input},
    {"s2s/sinusoid-layouts", test_sinusoid_layouts},
    {NULL, NULL},
};
