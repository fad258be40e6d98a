// Golden tests: cformer against PyTorch. tools/gen_refs.py writes small fixtures into
// tests/fixtures (Hugging Face GPT-2 and Llama folders, llama2.c checkpoints and tokenizer, and
// torch.nn.MultiheadAttention results) with the expected values in expected.safetensors; this
// file loads them through the public and internal C API and compares, with no Python at run
// time:
//   logits (cf_model_forward, the training graph, and a KV-cache session fed in one chunk and
//   token by token), the mean cross-entropy, the gradient of every registered parameter, the
//   losses and gradient norms of 10 AdamW steps (cf_trainer_step_on), attention alone
//   (cf__linear + cf__attention against nn.MultiheadAttention), llama2.c tokenizer ids and
//   decoded pieces, and greedy continuations (cf_session + cf_sampler, and cf_generate).
//
// Not here: finite-difference checks of single layers (tests/grad) or kernel-vs-reference
// checks (tests/unit/test_kernels.c).
//
// Tolerances. The references are float64 evaluations of the float32 weights, so the only error
// left is cformer's own float32 arithmetic. gen_refs.py prints how far float32 PyTorch is from
// the same references: at most 4.5e-6 on logits, 6e-7 on the loss, 1.4e-6 on gradients, 4.3e-6
// on the attention outputs and gradients, and 1.05e-5 on the AdamW losses (gpt2_h1: Adam
// normalises small gradients, so float32 noise grows over the steps). cformer's own differences
// are of the same size; every check below stays under 0.21 of its tolerance (the worst
// |diff| / (atol + rtol |want|)), so the tolerances leave about 5x room and no more.
// The tests can fail: test_detects_perturbation shows that a 1e-3 change to a single weight, or
// the other RoPE pairing, breaks the logits check by 100x and more. Verified by hand as well, in
// a scratch copy of the tree: flipping the RoPE pairing in decoder.c, dropping the 1/sqrt(D)
// scale in attention.c, flipping the sign of the RoPE backward rotation, preferring the
// rightmost pair on merge-score ties in the tokenizer, applying weight decay to every parameter,
// and disabling gradient clipping in the trainer each made the matching tests fail; dividing
// the logit, gradient and attention tolerances by ten failed 4 of the 12 tests.
#include <stdlib.h>

#include "../../src/io/io.h"                  // defines: cf__st_open, cf__st_find, cf__st_meta
#include "../../src/models/model_internal.h"  // defines: struct cf_model, cf__model_forward
#include "../test.h"

// Logits and the loss: float32 forward of a 2-layer model.
#define LOGIT_ATOL 1e-5
#define LOGIT_RTOL 1e-4
#define LOSS_ATOL 1e-5
// Gradients: atol well under the typical entry (1e-3 .. 1e-1), rtol for the large ones.
#define GRAD_ATOL 2e-6
#define GRAD_RTOL 1e-3
// AdamW: 10 steps at lr 1e-2 amplify float32 differences (Adam normalises tiny gradients).
#define TRAIN_LOSS_ATOL 5e-5
#define TRAIN_LOSS_RTOL 0
#define TRAIN_NORM_RTOL 1e-4
// Attention alone (outputs and gradients of one layer).
#define MHA_ATOL 1e-5
#define MHA_RTOL 1e-4

#define FIXTURE_VERSION "1"

// ---- reading expected.safetensors ----

typedef struct fx {
    cf_safetensors st;
    bool open;
} fx;

static bool fx_open(fx *f, cf_ctx *ctx, const char *dir, const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", cf_test_fixture(dir), file);
    f->open = cf__st_open(ctx, path, &f->st) == CF_OK;
    if (!f->open) {
        fprintf(stderr, "  %s: %s (run /usr/bin/python3 tools/gen_refs.py)\n", path,
                cf_errmsg(ctx));
        cf_test_failures++;
        return false;
    }
    const char *magic = cf__st_meta(&f->st, "magic"), *ver = cf__st_meta(&f->st, "fixture_version");
    if (!magic || strcmp(magic, "cformer-golden") || !ver || strcmp(ver, FIXTURE_VERSION)) {
        fprintf(stderr, "  %s: not a version " FIXTURE_VERSION " golden fixture\n", path);
        cf_test_failures++;
        cf__st_close(&f->st);
        f->open = false;
    }
    return f->open;
}

static void fx_close(fx *f) {
    if (f->open) cf__st_close(&f->st);
    f->open = false;
}

static const cf_st_tensor *fx_find(const fx *f, const char *name, cf_dtype dt) {
    const cf_st_tensor *t = cf__st_find(&f->st, name);
    if (t && t->dtype == dt) return t;
    fprintf(stderr, "  fixture tensor '%s' is missing or has the wrong dtype\n", name);
    cf_test_failures++;
    return NULL;
}

// A copy of a tensor (the mapping gives no alignment guarantee to rely on). NULL when missing
// or when n >= 0 and the element count differs. Free with free().
static void *fx_copy(const fx *f, const char *name, cf_dtype dt, int64_t n, int64_t *n_out) {
    const cf_st_tensor *t = fx_find(f, name, dt);
    if (!t) return NULL;
    if (n >= 0 && t->numel != n) {
        fprintf(stderr, "  fixture tensor '%s' has %lld elements, expected %lld\n", name,
                (long long)t->numel, (long long)n);
        cf_test_failures++;
        return NULL;
    }
    void *p = malloc(t->nbytes ? t->nbytes : 1);
    if (p) memcpy(p, t->data, t->nbytes);
    if (n_out) *n_out = t->numel;
    return p;
}

static float *fx_f32(const fx *f, const char *name, int64_t n) {
    return fx_copy(f, name, CF_DT_F32, n, NULL);
}
static int32_t *fx_i32(const fx *f, const char *name, int64_t n, int64_t *n_out) {
    return fx_copy(f, name, CF_DT_I32, n, n_out);
}
static bool fx_has(const fx *f, const char *name) { return cf__st_find(&f->st, name) != NULL; }

static double fx_num(const fx *f, const char *key) {
    const char *v = cf__st_meta(&f->st, key);
    if (!v) {
        fprintf(stderr, "  fixture metadata '%s' is missing\n", key);
        cf_test_failures++;
        return 0;
    }
    return strtod(v, NULL);
}

// The worst |a-b| / (atol + rtol |b|) over n values, without counting a failure (for the
// tests that must see a comparison fail).
static double worst_ratio(const float *got, const float *want, int64_t n, double atol,
                          double rtol) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = fabs((double)got[i] - (double)want[i]) / (atol + rtol * fabs((double)want[i]));
        if (!(r <= worst)) worst = isnan(r) ? INFINITY : r;
    }
    return worst;
}

static cf_ctx *make_ctx(const char *isa, int n_threads) {
    cf_ctx_params p = cf_ctx_default_params();
    p.isa = isa;
    p.n_threads = n_threads;
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    return ctx;
}

static cf_model *load_model(cf_ctx *ctx, const char *dir, const char *file) {
    char path[1024];
    if (file) snprintf(path, sizeof path, "%s/%s", cf_test_fixture(dir), file);
    else snprintf(path, sizeof path, "%s", cf_test_fixture(dir));
    cf_model *m = NULL;
    cf_status st = cf_model_load(ctx, path, &m);
    if (st != CF_OK) {
        fprintf(stderr, "  cf_model_load(%s): %s\n", path, cf_errmsg(ctx));
        cf_test_failures++;
    }
    return m;
}

// ---- forward, loss and gradients through the training graph ----

// Forward + cross-entropy + backward of (B, T) tokens into the model's grad pointers, planned
// by a measuring pass first, as the trainer does. Writes logits (B*T*V) and the loss.
static cf_status train_pass(cf_model *m, const int32_t *tokens, const int32_t *targets, int64_t B,
                            int64_t T, float *logits, float *loss) {
    cf_graph g;
    cf__graph_init(&g, m->ctx);
    cf__graph_begin(&g, true, true);
    cf_tensor *l = cf__cross_entropy(&g, cf__model_forward(&g, m, tokens, B, T, NULL, 0), targets);
    cf__graph_backward(&g, l, 1.0f);
    cf_status st = cf__graph_plan(&g);
    if (st == CF_OK) {
        cf__graph_begin(&g, true, false);
        cf_tensor *lg = cf__model_forward(&g, m, tokens, B, T, NULL, 0);
        l = cf__cross_entropy(&g, lg, targets);
        cf__graph_backward(&g, l, 1.0f);
        if (g.oom) {
            st = CF_ERR_NOMEM;
        } else {
            memcpy(logits, lg->data, (size_t)lg->n * sizeof(float));
            *loss = l->data[0];
        }
    }
    cf__graph_deinit(&g);
    return st;
}

// Compares the gradient of every registered parameter with "grad.<name>", and checks that the
// fixture has no gradient the registry lacks. Returns the largest difference.
static double check_grads(const fx *f, cf_model *m, const char *tag) {
    double worst = 0;
    for (int i = 0; i < m->n_params; i++) {
        const cf_param *p = &m->params[i];
        char name[96], what[160];
        snprintf(name, sizeof name, "grad.%s", p->name);
        snprintf(what, sizeof what, "%s %s", tag, name);
        float *want = fx_f32(f, name, cf__weight_numel(p->w));
        if (!want) continue;
        double d = cf_test_compare(what, p->w->grad, want, cf__weight_numel(p->w), GRAD_ATOL,
                                   GRAD_RTOL);
        worst = d > worst ? d : worst;
        free(want);
    }
    int n_fixture = 0;
    for (int i = 0; i < f->st.n_tensors; i++)
        n_fixture += !strncmp(f->st.tensors[i].name, "grad.", 5);
    CF_CHECK_EQ(n_fixture, m->n_params);
    return worst;
}

// Logits through cf_model_forward, a KV-cache session (whole rows, then token by token), and
// the training graph; the loss and every gradient when the fixture has them.
static void check_forward_backward(cf_ctx *ctx, const fx *f, const char *dir, const char *file,
                                   const char *tag) {
    const cf_st_tensor *tt = fx_find(f, "tokens", CF_DT_I32);
    const cf_st_tensor *lt = fx_find(f, "logits", CF_DT_F32);
    if (!tt || !lt || tt->ndim != 2 || lt->ndim != 3) return;
    int64_t B = tt->shape[0], T = tt->shape[1], V = lt->shape[2];
    cf_model *m = load_model(ctx, dir, file);
    int32_t *tokens = fx_i32(f, "tokens", B * T, NULL);
    int32_t *targets = fx_i32(f, "targets", B * T, NULL);
    float *want = fx_f32(f, "logits", B * T * V);
    float *loss_want = fx_f32(f, "loss", 1);
    float *got = calloc((size_t)(B * T * V), sizeof(float));
    float *grads = NULL;
    cf_session *s = NULL;
    char what[160];
    if (!m || !tokens || !targets || !want || !loss_want || !got) goto done;
    CF_CHECK_EQ(m->cfg.vocab_size, V);

    // The public forward, on the weights as loaded (mapped, Conv1D as transposed views).
    CF_CHECK_STATUS(cf_model_forward(m, tokens, (int)B, (int)T, got), CF_OK);
    snprintf(what, sizeof what, "%s logits (cf_model_forward)", tag);
    cf_test_compare(what, got, want, B * T * V, LOGIT_ATOL, LOGIT_RTOL);

    // The KV-cache path: each row as one chunk with all logits, then one token at a time.
    CF_CHECK_STATUS(cf_session_create(m, 0, 0, &s), CF_OK);
    for (int64_t b = 0; s && b < B; b++) {
        cf_session_reset(s);
        CF_CHECK_STATUS(cf_session_eval(s, tokens + b * T, (int)T, 1, got), CF_OK);
        snprintf(what, sizeof what, "%s logits row %lld (session, one chunk)", tag, (long long)b);
        cf_test_compare(what, got, want + b * T * V, T * V, LOGIT_ATOL, LOGIT_RTOL);
        cf_session_reset(s);
        for (int64_t t = 0; t < T; t++)
            CF_CHECK_STATUS(cf_session_eval(s, tokens + b * T + t, 1, 0, got + t * V), CF_OK);
        snprintf(what, sizeof what, "%s logits row %lld (session, token by token)", tag,
                 (long long)b);
        cf_test_compare(what, got, want + b * T * V, T * V, LOGIT_ATOL, LOGIT_RTOL);
    }

    // The training graph: logits, loss and the gradient of every parameter.
    CF_CHECK_STATUS(cf__model_make_writable(m), CF_OK);
    grads = calloc(m->slab_floats, sizeof(float));
    if (!grads) goto done;
    cf__model_set_grads(m, grads);
    float loss = 0;
    CF_CHECK_STATUS(train_pass(m, tokens, targets, B, T, got, &loss), CF_OK);
    snprintf(what, sizeof what, "%s logits (training graph)", tag);
    cf_test_compare(what, got, want, B * T * V, LOGIT_ATOL, LOGIT_RTOL);
    snprintf(what, sizeof what, "%s loss", tag);
    cf_test_compare(what, &loss, loss_want, 1, LOSS_ATOL, 0);
    if (fx_has(f, "grad.tok_embeddings")) check_grads(f, m, tag);
    cf__model_set_grads(m, NULL);
done:
    cf_session_free(s);
    cf_model_free(m);
    free(tokens);
    free(targets);
    free(want);
    free(loss_want);
    free(got);
    free(grads);
}

// ---- AdamW ----

// 10 optimizer steps on the fixture's batches (S, A, B, T + 1) with a constant learning rate;
// the loss and the pre-clipping gradient norm of every step against torch.optim.AdamW.
static void check_training(cf_ctx *ctx, const fx *f, const char *dir, const char *tag) {
    cf_train_params p = cf_train_default_params();
    p.batch_size = (int32_t)fx_num(f, "batch_size");
    p.seq_len = (int32_t)fx_num(f, "seq_len");
    p.grad_accum = (int32_t)fx_num(f, "grad_accum");
    int64_t S = (int64_t)fx_num(f, "steps");
    p.max_steps = S;
    p.lr = p.min_lr = (float)fx_num(f, "lr");  // constant: min_lr == lr, no warmup
    p.warmup_steps = 0;
    p.beta1 = (float)fx_num(f, "beta1");
    p.beta2 = (float)fx_num(f, "beta2");
    p.eps = (float)fx_num(f, "eps");
    p.weight_decay = (float)fx_num(f, "weight_decay");
    p.grad_clip = (float)fx_num(f, "grad_clip");
    p.val_fraction = 0;
    p.eval_every = 0;
    int64_t per_step = (int64_t)p.grad_accum * p.batch_size * (p.seq_len + 1);
    cf_model *m = load_model(ctx, dir, NULL);
    int32_t *batches = fx_i32(f, "train.batches", S * per_step, NULL);
    float *loss_want = fx_f32(f, "train.loss", S), *norm_want = fx_f32(f, "train.grad_norm", S);
    float *loss = calloc((size_t)S, sizeof(float)), *norm = calloc((size_t)S, sizeof(float));
    cf_trainer *t = NULL;
    if (!m || !batches || !loss_want || !norm_want || !loss || !norm) goto done;
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_OK);
    for (int64_t s = 0; t && s < S; s++) {
        cf_step_stats st;
        CF_CHECK_STATUS(cf_trainer_step_on(t, batches + s * per_step, &st), CF_OK);
        CF_CHECK_NEAR(st.lr, p.lr, 0);
        loss[s] = st.loss;
        norm[s] = st.grad_norm;
    }
    char what[160];
    snprintf(what, sizeof what, "%s AdamW losses (%lld steps)", tag, (long long)S);
    cf_test_compare(what, loss, loss_want, S, TRAIN_LOSS_ATOL, TRAIN_LOSS_RTOL);
    snprintf(what, sizeof what, "%s AdamW gradient norms", tag);
    cf_test_compare(what, norm, norm_want, S, 0, TRAIN_NORM_RTOL);
    if (p.grad_clip > 0) {  // the fixture is meant to exercise clipping
        int clipped = 0;
        for (int64_t s = 0; s < S; s++) clipped += norm_want[s] > p.grad_clip;
        CF_CHECK(clipped > 0);
    }
done:
    cf_trainer_free(t);
    cf_model_free(m);
    free(batches);
    free(loss_want);
    free(norm_want);
    free(loss);
    free(norm);
}

// ---- greedy decoding ----

// Greedy continuation through a session and a temperature-0 sampler, fed token by token after
// the prompt, against the torch twin's argmax continuation.
static void check_greedy_ids(cf_model *m, const fx *f, const char *prefix, const char *tag) {
    char name[96], what[160];
    int64_t np = 0, ng = 0;
    snprintf(name, sizeof name, "%s.prompt", prefix);
    int32_t *prompt = fx_i32(f, name, -1, &np);
    snprintf(name, sizeof name, "%s.tokens", prefix);
    int32_t *want = fx_i32(f, name, -1, &ng);
    int32_t V = m->cfg.vocab_size;
    float *logits = malloc((size_t)V * sizeof(float));
    int32_t *hist = malloc((size_t)(np + ng) * sizeof(int32_t));
    cf_session *s = NULL;
    cf_sampler *smp = NULL;
    cf_sampler_params sp = cf_sampler_default_params();
    sp.temperature = 0;
    if (!prompt || !want || !logits || !hist) goto done;
    CF_CHECK_STATUS(cf_session_create(m, 0, 0, &s), CF_OK);
    CF_CHECK_STATUS(cf_sampler_create(m->ctx, &sp, V, &smp), CF_OK);
    if (!s || !smp) goto done;
    memcpy(hist, prompt, (size_t)np * sizeof(int32_t));
    CF_CHECK_STATUS(cf_session_eval(s, prompt, (int)np, 0, logits), CF_OK);
    int64_t n = np, mismatch = -1;
    for (int64_t i = 0; i < ng; i++) {
        int32_t id = cf_sampler_sample(smp, logits, hist, n);
        hist[n++] = id;
        if (id != want[i] && mismatch < 0) mismatch = i;
        if (i + 1 < ng) CF_CHECK_STATUS(cf_session_eval(s, &id, 1, 0, logits), CF_OK);
    }
    snprintf(what, sizeof what, "%s greedy %s", tag, prefix);
    if (mismatch >= 0) {
        fprintf(stderr, "  %s: token %lld is %d, torch says %d\n", what, (long long)mismatch,
                hist[np + mismatch], want[mismatch]);
        cf_test_failures++;
    } else if (cf_test_verbose) {
        fprintf(stderr, "  %s: %lld tokens identical\n", what, (long long)ng);
    }
done:
    cf_sampler_free(smp);
    cf_session_free(s);
    free(prompt);
    free(want);
    free(logits);
    free(hist);
}

// ---- HF model fixtures ----

static void run_hf_fixture(const char *dir) {
    cf_ctx *ctx = make_ctx(NULL, 0);
    fx f;
    if (ctx && fx_open(&f, ctx, dir, "expected.safetensors")) {
        check_forward_backward(ctx, &f, dir, NULL, dir);
        check_training(ctx, &f, dir, dir);
        if (fx_has(&f, "greedy.tokens")) {
            cf_model *m = load_model(ctx, dir, NULL);
            if (m) check_greedy_ids(m, &f, "greedy", dir);
            cf_model_free(m);
        }
        fx_close(&f);
    }
    cf_ctx_free(ctx);
}

static void test_gpt2_h1(void) { run_hf_fixture("gpt2_h1"); }
static void test_gpt2_h3(void) { run_hf_fixture("gpt2_h3"); }
static void test_gpt2_h4(void) { run_hf_fixture("gpt2_h4"); }
static void test_llama_h6_kv2(void) { run_hf_fixture("llama_h6_kv2"); }
static void test_llama_h3_kv1(void) { run_hf_fixture("llama_h3_kv1"); }
static void test_llama_h2_hd10(void) { run_hf_fixture("llama_h2_hd10"); }

// Every model fixture's forward and gradients again with the portable reference kernels on
// one thread, so the comparison with PyTorch does not depend on the SIMD path chosen.
static void test_ref_kernels(void) {
    static const char *const hf[] = {"gpt2_h1", "gpt2_h3", "gpt2_h4", "llama_h6_kv2",
                                     "llama_h3_kv1", "llama_h2_hd10"};
    cf_ctx *ctx = make_ctx("ref", 1);
    if (!ctx) return;
    fx f;
    for (size_t i = 0; i < sizeof hf / sizeof *hf; i++) {
        if (!fx_open(&f, ctx, hf[i], "expected.safetensors")) continue;
        char tag[64];
        snprintf(tag, sizeof tag, "%s (ref, 1 thread)", hf[i]);
        check_forward_backward(ctx, &f, hf[i], NULL, tag);
        fx_close(&f);
    }
    if (fx_open(&f, ctx, "llama2c", "expected_shared.safetensors")) {
        check_forward_backward(ctx, &f, "llama2c", "model_shared.bin",
                               "llama2c model_shared (ref, 1 thread)");
        fx_close(&f);
    }
    cf_ctx_free(ctx);
}

// ---- llama2.c ----

// The legacy .bin checkpoints: interleaved RoPE, grouped-query attention with an unshared
// classifier (model.bin), and a shared classifier with gradients (model_shared.bin).
static void test_llama2c_models(void) {
    cf_ctx *ctx = make_ctx(NULL, 0);
    fx f;
    if (ctx && fx_open(&f, ctx, "llama2c", "expected.safetensors")) {
        check_forward_backward(ctx, &f, "llama2c", "model.bin", "llama2c model");
        fx_close(&f);
    }
    if (ctx && fx_open(&f, ctx, "llama2c", "expected_shared.safetensors")) {
        check_forward_backward(ctx, &f, "llama2c", "model_shared.bin", "llama2c model_shared");
        fx_close(&f);
    }
    cf_ctx_free(ctx);
}

static cf_tokenizer *load_tokenizer(cf_ctx *ctx, int32_t vocab_size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.bin", cf_test_fixture("llama2c"));
    cf_tokenizer *tok = NULL;
    if (cf_tokenizer_load(ctx, path, vocab_size, &tok) != CF_OK) {
        fprintf(stderr, "  cf_tokenizer_load(%s): %s\n", path, cf_errmsg(ctx));
        cf_test_failures++;
    }
    return tok;
}

// run.c's encode() on edge-case strings (multi-byte UTF-8, pieces missing from the vocabulary,
// invalid UTF-8, the empty string, runs of spaces, score ties), and decode() of every id after
// BOS and after an ordinary piece.
static void test_llama2c_tokenizer(void) {
    cf_ctx *ctx = make_ctx(NULL, 0);
    fx f;
    if (!ctx || !fx_open(&f, ctx, "llama2c", "expected.safetensors")) {
        cf_ctx_free(ctx);
        return;
    }
    cf_tokenizer *tok = load_tokenizer(ctx, 0);
    int64_t n_text = 0, n_ids = 0, n_strings = 0, n_dec = 0;
    uint8_t *text = fx_copy(&f, "tok.text", CF_DT_U8, -1, &n_text);
    int32_t *text_len = fx_i32(&f, "tok.text_len", -1, &n_strings);
    int32_t *ids = fx_i32(&f, "tok.ids", -1, &n_ids);
    int32_t *ids_len = fx_i32(&f, "tok.ids_len", n_strings, NULL);
    int32_t *prev = fx_i32(&f, "tok.decode_prev", 2, NULL);
    int32_t *buf = NULL;
    if (!tok || !text || !text_len || !ids || !ids_len || !prev) goto done;
    buf = malloc((size_t)(n_text + 4) * sizeof(int32_t));
    if (!buf) goto done;
    int64_t to = 0, io = 0;
    for (int64_t i = 0; i < n_strings; i++) {
        const char *s = (const char *)text + to;
        size_t len = (size_t)text_len[i];
        for (int bos = 1; bos >= 0; bos--) {
            int64_t n = -1;
            CF_CHECK_STATUS(cf_tokenizer_encode(tok, s, len, bos, buf, n_text + 4, &n), CF_OK);
            const int32_t *want = ids + io + (bos ? 0 : 1);
            int64_t n_want = ids_len[i] - (bos ? 0 : 1);
            bool same = n == n_want && !memcmp(buf, want, (size_t)n_want * sizeof(int32_t));
            if (!same) {
                fprintf(stderr, "  string %lld (\"%.*s\", bos %d): got %lld ids, want %lld:",
                        (long long)i, (int)len, s, bos, (long long)n, (long long)n_want);
                for (int64_t k = 0; k < n_want; k++) fprintf(stderr, " %d", want[k]);
                fprintf(stderr, " | got");
                for (int64_t k = 0; k < n && k < n_text + 4; k++) fprintf(stderr, " %d", buf[k]);
                fprintf(stderr, "\n");
                cf_test_failures++;
            }
        }
        to += text_len[i];
        io += ids_len[i];
    }
    CF_CHECK_EQ(to, n_text);
    CF_CHECK_EQ(io, n_ids);
    if (cf_test_verbose)
        fprintf(stderr, "  llama2c tokenizer: %lld strings, %lld ids compared\n",
                (long long)n_strings, (long long)n_ids);
    // decode(): ids 1 and 2 (BOS, EOS) are skipped, since cformer decodes special tokens to no
    // bytes where run.c prints "\n<s>\n".
    static const char *const tables[2] = {"tok.decode_bos", "tok.decode_a"};
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s_len", tables[k]);
        int32_t *lens = fx_i32(&f, name, -1, &n_dec);
        uint8_t *bytes = fx_copy(&f, tables[k], CF_DT_U8, -1, NULL);
        if (lens && bytes) {
            CF_CHECK_EQ(n_dec, cf_tokenizer_vocab_size(tok));
            int64_t off = 0, bad = 0;
            for (int32_t id = 0; id < (int32_t)n_dec; id++) {
                char piece[64];
                size_t pl = 0;
                cf_status st =
                    cf_tokenizer_decode_piece(tok, prev[k], id, piece, sizeof piece, &pl);
                bool same = pl == (size_t)lens[id] && !memcmp(piece, bytes + off, pl);
                bool ok = st == CF_OK && (id == 1 || id == 2 || same);
                if (!ok && bad++ < 5)
                    fprintf(stderr, "  decode(prev %d, id %d): %zu bytes, want %d\n", prev[k], id,
                            pl, lens[id]);
                off += lens[id];
            }
            CF_CHECK_EQ(bad, 0);
        }
        free(lens);
        free(bytes);
    }
done:
    free(buf);
    free(text);
    free(text_len);
    free(ids);
    free(ids_len);
    free(prev);
    cf_tokenizer_free(tok);
    fx_close(&f);
    cf_ctx_free(ctx);
}

typedef struct text_buf {
    char data[4096];
    size_t len;
} text_buf;

static int collect_text(const char *text, size_t len, void *user) {
    text_buf *b = user;
    if (b->len + len <= sizeof b->data) memcpy(b->data + b->len, text, len);
    b->len += len;
    return 0;
}

// Greedy decoding of the llama2.c model, byte-exact: ids through a session and a sampler, and
// text through cf_generate (prompt encoded by cformer, pieces decoded as run.c does), for a
// prompt and for BOS alone (where the first piece's leading space is dropped).
static void test_llama2c_greedy(void) {
    cf_ctx *ctx = make_ctx(NULL, 0);
    fx f;
    if (!ctx || !fx_open(&f, ctx, "llama2c", "expected.safetensors")) {
        cf_ctx_free(ctx);
        return;
    }
    cf_model *m = load_model(ctx, "llama2c", "model.bin");
    cf_tokenizer *tok = m ? load_tokenizer(ctx, m->cfg.vocab_size) : NULL;
    cf_session *s = NULL;
    if (m && tok) CF_CHECK_STATUS(cf_session_create(m, 0, 0, &s), CF_OK);
    static const char *const runs[] = {"greedy", "greedy_bos"};
    for (size_t r = 0; s && r < sizeof runs / sizeof *runs; r++) {
        check_greedy_ids(m, &f, runs[r], "llama2c");
        char name[64];
        snprintf(name, sizeof name, "%s.prompt_text", runs[r]);
        char *prompt = fx_copy(&f, name, CF_DT_U8, -1, NULL);  // NUL-terminated
        snprintf(name, sizeof name, "%s.text", runs[r]);
        int64_t n_want = 0;
        char *want = fx_copy(&f, name, CF_DT_U8, -1, &n_want);
        snprintf(name, sizeof name, "%s.prompt", runs[r]);
        int64_t n_prompt = 0;
        int32_t *prompt_ids = fx_i32(&f, name, -1, &n_prompt);
        if (prompt && want && prompt_ids) {
            cf_generate_params gp = cf_generate_default_params();
            gp.sampler.temperature = 0;
            gp.max_tokens = 20;
            gp.add_bos = 1;
            gp.stop_at_eos = 1;
            text_buf out = {{0}, 0};
            cf_generate_stats stats;
            CF_CHECK_STATUS(cf_generate(s, tok, prompt, &gp, collect_text, &out, &stats), CF_OK);
            CF_CHECK_EQ(stats.n_prompt, n_prompt);
            CF_CHECK_EQ(stats.n_generated, 20);
            size_t wl = (size_t)n_want - 1;  // without the NUL
            if (out.len != wl || memcmp(out.data, want, wl)) {
                fprintf(stderr, "  %s: cf_generate gave %zu bytes, torch twin %zu:\n    got ",
                        runs[r], out.len, wl);
                for (size_t i = 0; i < out.len && i < sizeof out.data; i++)
                    fprintf(stderr, "%02x", (uint8_t)out.data[i]);
                fprintf(stderr, "\n    want ");
                for (size_t i = 0; i < wl; i++) fprintf(stderr, "%02x", (uint8_t)want[i]);
                fprintf(stderr, "\n");
                cf_test_failures++;
            }
        }
        free(prompt);
        free(want);
        free(prompt_ids);
    }
    cf_session_free(s);
    cf_tokenizer_free(tok);
    cf_model_free(m);
    fx_close(&f);
    cf_ctx_free(ctx);
}

// ---- attention alone against torch.nn.MultiheadAttention ----

// Self-attention y = out_proj(attention(in_proj(x))) on a graph of cf__linear and
// cf__attention, backward from the fixture's upstream gradient dy.
static void mha_variant(cf_ctx *ctx, const fx *f, const char *v, int64_t E, int64_t H) {
    const char *shape = cf__st_meta(&f->st, v);
    long B = 0, T = 0, causal = 0;
    if (!shape || sscanf(shape, "%ld,%ld,%ld", &B, &T, &causal) != 3) {
        fprintf(stderr, "  mha: metadata for '%s' is missing\n", v);
        cf_test_failures++;
        return;
    }
    int64_t n = (int64_t)B * T * E;
    char name[96], what[128];
    float *w_in = fx_f32(f, "in_proj_weight", 3 * E * E), *b_in = fx_f32(f, "in_proj_bias", 3 * E);
    float *w_out = fx_f32(f, "out_proj_weight", E * E), *b_out = fx_f32(f, "out_proj_bias", E);
    snprintf(name, sizeof name, "%s.x", v);
    float *x = fx_f32(f, name, n);
    snprintf(name, sizeof name, "%s.upstream", v);
    float *up = fx_f32(f, name, n);
    float *dw_in = calloc((size_t)(3 * E * E), sizeof(float));
    float *db_in = calloc((size_t)(3 * E), sizeof(float));
    float *dw_out = calloc((size_t)(E * E), sizeof(float));
    float *db_out = calloc((size_t)E, sizeof(float));
    float *y = malloc((size_t)n * sizeof(float)), *dx = malloc((size_t)n * sizeof(float));
    cf_graph g;
    cf__graph_init(&g, ctx);
    if (!w_in || !b_in || !w_out || !b_out || !x || !up || !dw_in || !db_in || !dw_out ||
        !db_out || !y || !dx)
        goto done;
    // in_proj_weight is (3E, E): rows [0, E) project q, [E, 2E) k, [2E, 3E) v.
    cf_weight wq = {w_in, dw_in, E, E, E, false};
    cf_weight wk = {w_in + E * E, dw_in + E * E, E, E, E, false};
    cf_weight wv = {w_in + 2 * E * E, dw_in + 2 * E * E, E, E, E, false};
    cf_weight bq = {b_in, db_in, 1, E, E, false}, bk = {b_in + E, db_in + E, 1, E, E, false},
              bv = {b_in + 2 * E, db_in + 2 * E, 1, E, E, false};
    cf_weight wo = {w_out, dw_out, E, E, E, false}, bo = {b_out, db_out, 1, E, E, false};
    for (int pass = 0; pass < 2; pass++) {
        bool measure = pass == 0;
        cf__graph_begin(&g, true, measure);
        cf_tensor *xt = cf__tensor3(&g, B, T, E);
        if (!measure) memcpy(xt->data, x, (size_t)n * sizeof(float));
        cf_tensor *q = cf__linear(&g, xt, &wq, &bq), *k = cf__linear(&g, xt, &wk, &bk),
                  *vv = cf__linear(&g, xt, &wv, &bv);
        cf_tensor *a = cf__attention(&g, q, k, vv, H, H, E / H, causal != 0, 0);
        cf_tensor *yt = cf__linear(&g, a, &wo, &bo);
        // Seed the output's gradient with dy; backward sets element 0 to the same value.
        float *dy = cf__grad(&g, yt);
        if (dy) memcpy(dy, up, (size_t)n * sizeof(float));
        cf__graph_backward(&g, yt, up[0]);
        if (measure) {
            CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
        } else if (!g.oom) {
            memcpy(y, yt->data, (size_t)n * sizeof(float));
            memcpy(dx, xt->grad, (size_t)n * sizeof(float));
        }
    }
    static const char *const outs[] = {"out", "dx", "d_in_proj_weight", "d_in_proj_bias",
                                       "d_out_proj_weight", "d_out_proj_bias"};
    const float *got[] = {y, dx, dw_in, db_in, dw_out, db_out};
    const int64_t cnt[] = {n, n, 3 * E * E, 3 * E, E * E, E};
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "%s.%s", v, outs[i]);
        float *want = fx_f32(f, name, cnt[i]);
        snprintf(what, sizeof what, "mha %s (B %ld, T %ld, causal %ld) %s", v, B, T, causal,
                 outs[i]);
        if (want) cf_test_compare(what, got[i], want, cnt[i], MHA_ATOL, MHA_RTOL);
        free(want);
    }
done:
    cf__graph_deinit(&g);
    free(w_in);
    free(b_in);
    free(w_out);
    free(b_out);
    free(x);
    free(up);
    free(dw_in);
    free(db_in);
    free(dw_out);
    free(db_out);
    free(y);
    free(dx);
}

static void test_mha(void) {
    cf_ctx *ctx = make_ctx(NULL, 0);
    fx f;
    if (ctx && fx_open(&f, ctx, "mha", "expected.safetensors")) {
        int64_t E = (int64_t)fx_num(&f, "embed_dim"), H = (int64_t)fx_num(&f, "num_heads");
        mha_variant(ctx, &f, "full", E, H);
        mha_variant(ctx, &f, "causal", E, H);
        mha_variant(ctx, &f, "causal_long", E, H);
        fx_close(&f);
    }
    cf_ctx_free(ctx);
}

// ---- the comparisons can fail ----

// A 1e-3 change to one weight, and the other RoPE pairing, must each push the logits outside
// the tolerances, while the unchanged model stays well inside them.
static void test_detects_perturbation(void) {
    cf_ctx *ctx = make_ctx(NULL, 0);
    fx f;
    if (!ctx) return;
    if (fx_open(&f, ctx, "gpt2_h3", "expected.safetensors")) {
        int64_t B = 2, T = 13, V = 61;
        int32_t *tokens = fx_i32(&f, "tokens", B * T, NULL);
        float *want = fx_f32(&f, "logits", B * T * V);
        float *got = calloc((size_t)(B * T * V), sizeof(float));
        cf_model *m = load_model(ctx, "gpt2_h3", NULL);
        if (m && tokens && want && got && cf__model_make_writable(m) == CF_OK) {
            CF_CHECK_STATUS(cf_model_forward(m, tokens, (int)B, (int)T, got), CF_OK);
            double clean = worst_ratio(got, want, B * T * V, LOGIT_ATOL, LOGIT_RTOL);
            m->layers[1].wv.data[7] += 1e-3f;
            cf__model_weights_changed(m);  // drops packed inference weights
            CF_CHECK_STATUS(cf_model_forward(m, tokens, (int)B, (int)T, got), CF_OK);
            double dirty = worst_ratio(got, want, B * T * V, LOGIT_ATOL, LOGIT_RTOL);
            if (cf_test_verbose)
                fprintf(stderr, "  gpt2_h3 logits: worst/tolerance %.3g clean, %.3g perturbed\n",
                        clean, dirty);
            CF_CHECK(clean < 0.5);
            CF_CHECK(dirty > 1.0);
        }
        cf_model_free(m);
        free(tokens);
        free(want);
        free(got);
        fx_close(&f);
    }
    if (fx_open(&f, ctx, "llama_h6_kv2", "expected.safetensors")) {
        int64_t B = 2, T = 7, V = 64;
        int32_t *tokens = fx_i32(&f, "tokens", B * T, NULL);
        float *want = fx_f32(&f, "logits", B * T * V);
        float *got = calloc((size_t)(B * T * V), sizeof(float));
        cf_model *m = load_model(ctx, "llama_h6_kv2", NULL);
        if (m && tokens && want && got) {
            CF_CHECK_STATUS(cf_model_forward(m, tokens, (int)B, (int)T, got), CF_OK);
            double clean = worst_ratio(got, want, B * T * V, LOGIT_ATOL, LOGIT_RTOL);
            m->cfg.rope_style = CF_ROPE_INTERLEAVED;  // llama2.c's pairing instead of HF's
            CF_CHECK_STATUS(cf_model_forward(m, tokens, (int)B, (int)T, got), CF_OK);
            double dirty = worst_ratio(got, want, B * T * V, LOGIT_ATOL, LOGIT_RTOL);
            if (cf_test_verbose)
                fprintf(stderr, "  llama_h6_kv2 logits: worst/tolerance %.3g clean, %.3g with "
                        "interleaved RoPE\n", clean, dirty);
            CF_CHECK(clean < 0.5);
            CF_CHECK(dirty > 1.0);
        }
        cf_model_free(m);
        free(tokens);
        free(want);
        free(got);
        fx_close(&f);
    }
    cf_ctx_free(ctx);
}

const cf_test tests_golden[] = {
    {"golden/gpt2_h1", test_gpt2_h1},
    {"golden/gpt2_h3", test_gpt2_h3},
    {"golden/gpt2_h4", test_gpt2_h4},
    {"golden/llama_h6_kv2", test_llama_h6_kv2},
    {"golden/llama_h3_kv1", test_llama_h3_kv1},
    {"golden/llama_h2_hd10", test_llama_h2_hd10},
    {"golden/ref_kernels", test_ref_kernels},
    {"golden/llama2c_models", test_llama2c_models},
    {"golden/llama2c_tokenizer", test_llama2c_tokenizer},
    {"golden/llama2c_greedy", test_llama2c_greedy},
    {"golden/mha", test_mha},
    {"golden/detects_perturbation", test_detects_perturbation},
    {NULL, NULL},
};
