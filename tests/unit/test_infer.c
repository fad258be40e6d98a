// Inference: the KV-cache path against the full forward, chunked prefill, context limits,
// sampling rules and their statistics, stop strings, and perplexity against a hand computation.
#include <stdlib.h>

#include "../../src/models/model_internal.h"
#include "../test.h"

static cf_model *tiny(cf_ctx *ctx, bool llama, int V) {
    cf_config c = llama ? cf_config_llama() : cf_config_gpt2();
    c.n_layers = 2, c.n_embd = 16, c.n_heads = llama ? 4 : 2, c.n_kv_heads = llama ? 2 : 2;
    c.head_dim = llama ? 4 : 8, c.n_ff = 24, c.vocab_size = V, c.n_ctx = 40;
    c.bos_id = -1, c.eos_id = -1;
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 3, &m), CF_OK);
    return m;
}

static void kv_matches_full(bool llama) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    int V = 29, T = 23;
    cf_model *m = tiny(ctx, llama, V);
    int32_t tok[23];
    for (int i = 0; i < T; i++) tok[i] = (i * 7 + 3) % V;
    float *full = malloc(sizeof(float) * (size_t)(T * V)), *inc = malloc(sizeof(float) * (size_t)(T * V));
    CF_CHECK_STATUS(cf_model_forward(m, tok, 1, T, full), CF_OK);
    cf_session *s;
    CF_CHECK_STATUS(cf_session_create(m, 0, 4, &s), CF_OK);  // prompt chunks of 4
    CF_CHECK_STATUS(cf_session_eval(s, tok, 10, 1, inc), CF_OK);  // 10 = 4 + 4 + 2
    for (int i = 10; i < T; i++) CF_CHECK_STATUS(cf_session_eval(s, tok + i, 1, 1, inc + i * V), CF_OK);
    CF_CHECK_EQ(cf_session_pos(s), T);
    cf_test_compare(llama ? "kv vs full (llama)" : "kv vs full (gpt2)", inc, full, T * V, 1e-5, 1e-4);
    // last-position-only logits equal the last row
    float *last = malloc(sizeof(float) * (size_t)V);
    cf_session_reset(s);
    CF_CHECK_STATUS(cf_session_eval(s, tok, T, 0, last), CF_OK);
    cf_test_compare("last logits", last, full + (T - 1) * V, V, 1e-5, 1e-4);
    // beyond the context
    cf_session_reset(s);
    int32_t many[41] = {0};
    CF_CHECK_STATUS(cf_session_eval(s, many, 41, 0, last), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "exceeds");
    int32_t bad = V;
    CF_CHECK_STATUS(cf_session_eval(s, &bad, 1, 0, last), CF_ERR_RANGE);
    free(full), free(inc), free(last);
    cf_session_free(s);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

static void test_kv_gpt2(void) { kv_matches_full(false); }
static void test_kv_llama(void) { kv_matches_full(true); }

static void test_sampler_rules(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    // probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1
    const float base[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    float l[4];
    cf_sampler_params p = cf_sampler_default_params();
    p.temperature = 0, p.top_k = 0, p.top_p = 1, p.min_p = 0;
    cf_sampler *s;
    CF_CHECK_STATUS(cf_sampler_create(ctx, &p, 4, &s), CF_OK);
    memcpy(l, base, sizeof l);
    CF_CHECK_EQ(cf_sampler_sample(s, l, NULL, 0), 0);
    cf_sampler_free(s);
    // Plain sampling follows the softmax.
    p.temperature = 1;
    p.seed = 7;
    CF_CHECK_STATUS(cf_sampler_create(ctx, &p, 4, &s), CF_OK);
    int counts[4] = {0};
    int N = 40000;
    for (int i = 0; i < N; i++) {
        memcpy(l, base, sizeof l);
        counts[cf_sampler_sample(s, l, NULL, 0)]++;
    }
    const double want[4] = {0.5, 0.3, 0.15, 0.05};
    for (int i = 0; i < 4; i++) CF_CHECK_NEAR((double)counts[i] / N, want[i], 0.01);
    cf_sampler_free(s);
    // top-p 0.79 keeps {0, 1}; min-p 0.4 keeps p >= 0.2: {0, 1}; top-k 3 never gives 3.
    struct { int top_k; float top_p, min_p; int allowed; } rules[] = {
        {0, 0.79f, 0.0f, 2}, {0, 1.0f, 0.4f, 2}, {3, 1.0f, 0.0f, 3}, {1, 1.0f, 0.0f, 1},
        {0, 0.81f, 0.0f, 3},
    };
    for (size_t k = 0; k < sizeof rules / sizeof *rules; k++) {
        p.top_k = rules[k].top_k, p.top_p = rules[k].top_p, p.min_p = rules[k].min_p;
        CF_CHECK_STATUS(cf_sampler_create(ctx, &p, 4, &s), CF_OK);
        int seen[4] = {0};
        for (int i = 0; i < 4000; i++) {
            memcpy(l, base, sizeof l);
            seen[cf_sampler_sample(s, l, NULL, 0)] = 1;
        }
        for (int i = 0; i < 4; i++) CF_CHECK_EQ(seen[i], i < rules[k].allowed);
        cf_sampler_free(s);
    }
    // Repetition penalty turns the greedy choice away from a recent token.
    p.temperature = 0, p.top_k = 0, p.top_p = 1, p.min_p = 0, p.repeat_penalty = 2.0f;
    CF_CHECK_STATUS(cf_sampler_create(ctx, &p, 4, &s), CF_OK);
    float l2[4] = {2.0f, 1.5f, 0.0f, -1.0f};
    int32_t hist[1] = {0};
    CF_CHECK_EQ(cf_sampler_sample(s, l2, hist, 1), 1);  // 2.0 / 2 = 1.0 < 1.5
    cf_sampler_free(s);
    // Same seed, same draws.
    p = cf_sampler_default_params();
    p.seed = 123;
    cf_sampler *a, *b;
    CF_CHECK_STATUS(cf_sampler_create(ctx, &p, 4, &a), CF_OK);
    CF_CHECK_STATUS(cf_sampler_create(ctx, &p, 4, &b), CF_OK);
    for (int i = 0; i < 100; i++) {
        float x[4], y[4];
        memcpy(x, base, sizeof x);
        memcpy(y, base, sizeof y);
        CF_CHECK_EQ(cf_sampler_sample(a, x, NULL, 0), cf_sampler_sample(b, y, NULL, 0));
    }
    cf_sampler_free(a), cf_sampler_free(b);
    p.top_p = 0;
    CF_CHECK_STATUS(cf_sampler_create(ctx, &p, 4, &a), CF_ERR_INVALID_ARG);
    cf_ctx_free(ctx);
}

typedef struct sink {
    char buf[4096];
    size_t n;
    int calls;
} sink;

static int collect(const char *text, size_t len, void *user) {
    sink *k = user;
    if (k->n + len < sizeof k->buf) memcpy(k->buf + k->n, text, len);
    k->n += len;
    k->buf[k->n < sizeof k->buf ? k->n : sizeof k->buf - 1] = 0;
    k->calls++;
    return 0;
}

static void test_generate_stop(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    cf_model *m = tiny(ctx, false, 256);
    // Bias the output towards printable letters so the text has structure.
    for (int v = 0; v < 256; v++)
        for (int c = 0; c < 16; c++)
            m->wte.data[v * 16 + c] += (v >= 'a' && v <= 'z') ? 0.3f * (float)((v * 7 + c) % 5) : -0.5f;
    cf_tokenizer *tok;
    CF_CHECK_STATUS(cf_tokenizer_create_byte(ctx, &tok), CF_OK);
    cf_session *s;
    CF_CHECK_STATUS(cf_session_create(m, 0, 0, &s), CF_OK);
    cf_generate_params gp = cf_generate_default_params();
    gp.sampler.temperature = 0;
    gp.max_tokens = 30;
    sink full = {0};
    cf_generate_stats st;
    CF_CHECK_STATUS(cf_generate(s, tok, "ab", &gp, collect, &full, &st), CF_OK);
    CF_CHECK_EQ(full.n, 30);
    CF_CHECK_EQ(st.n_generated, 30);
    CF_CHECK(!strcmp(st.stop_reason, "length"));
    // Greedy is repeatable.
    sink again = {0};
    CF_CHECK_STATUS(cf_generate(s, tok, "ab", &gp, collect, &again, NULL), CF_OK);
    CF_CHECK(full.n == again.n && !memcmp(full.buf, again.buf, full.n));
    // A stop string taken from the middle of the output cuts it right before.
    char stop[4];
    memcpy(stop, full.buf + 12, 3);
    stop[3] = 0;
    const char *first = strstr(full.buf, stop);
    size_t cut = (size_t)(first - full.buf);
    const char *stops[] = {"zzzzzzzzzzzz-never", stop, NULL};
    gp.stop = stops;
    sink part = {0};
    CF_CHECK_STATUS(cf_generate(s, tok, "ab", &gp, collect, &part, &st), CF_OK);
    CF_CHECK_EQ(part.n, cut);
    CF_CHECK(!memcmp(part.buf, full.buf, cut));
    CF_CHECK(!strcmp(st.stop_reason, "stop"));
    // Context limit: a prompt that fills the context is refused with a clear message.
    char longp[64];
    memset(longp, 'a', 45);
    longp[45] = 0;
    gp.stop = NULL;
    CF_CHECK_STATUS(cf_generate(s, tok, longp, &gp, collect, &part, NULL), CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "context");
    cf_session_free(s);
    cf_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

static void test_perplexity(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    int V = 17;
    cf_model *m = tiny(ctx, true, V);
    int32_t tok[30];
    for (int i = 0; i < 30; i++) tok[i] = (i * 5 + 1) % V;
    // By hand: windows of 8 every 4 tokens; each token after the first scored once.
    double nll = 0;
    int scored = 0, until = 0;
    float *lg = malloc(sizeof(float) * (size_t)(8 * V));
    for (int begin = 0;; begin += 4) {
        int end = begin + 8 < 30 ? begin + 8 : 30;
        CF_CHECK_STATUS(cf_model_forward(m, tok + begin, 1, end - begin, lg), CF_OK);
        for (int t = begin + 1; t < end; t++) {
            if (t <= until) continue;
            const float *row = lg + (t - 1 - begin) * V;
            double z = 0;
            for (int v = 0; v < V; v++) z += exp(row[v]);
            nll += log(z) - row[tok[t]];
            scored++;
        }
        until = end - 1;
        if (end == 30) break;
    }
    cf_perplexity_result r;
    CF_CHECK_STATUS(cf_perplexity(m, tok, 30, 8, 4, &r), CF_OK);
    CF_CHECK_EQ(r.n_scored, 29);
    CF_CHECK_EQ(scored, 29);
    CF_CHECK_NEAR(r.nll, nll / scored, 1e-5);
    // A model with a zero output layer is uniform: perplexity exactly V.
    memset(m->lm_head.data, 0, sizeof(float) * (size_t)(V * 16));
    cf__model_weights_changed(m);  // drops packed inference weights
    CF_CHECK_STATUS(cf_perplexity(m, tok, 30, 0, 0, &r), CF_OK);
    CF_CHECK_NEAR(r.perplexity, V, 1e-3);
    CF_CHECK_STATUS(cf_perplexity(m, tok, 1, 0, 0, &r), CF_ERR_INVALID_ARG);
    free(lg);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// A tokenizer whose normalizer expands text (NFKC turns U+FDFA into 18 characters) gives more
// ids than the prompt has bytes: generation sizes its buffers to what it gets.
static void test_generate_expanding_tokenizer(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    cf_tokenizer *tok;
    CF_CHECK_STATUS(cf_tokenizer_load(ctx, cf_test_fixture("tokenizers/norm_nfkc.json"), 0, &tok),
                    CF_OK);
    if (!tok) return;
    cf_model *m = tiny(ctx, false, cf_tokenizer_vocab_size(tok));
    cf_session *s;
    CF_CHECK_STATUS(cf_session_create(m, 0, 0, &s), CF_OK);
    const char *prompt = "\xef\xb7\xba";  // U+FDFA
    int32_t ids[256];
    int64_t n;
    CF_CHECK_STATUS(cf_tokenizer_encode(tok, prompt, strlen(prompt), 0, ids, 256, &n), CF_OK);
    CF_CHECK(n > (int64_t)strlen(prompt) + 8);  // the case being tested
    cf_generate_params gp = cf_generate_default_params();
    gp.sampler.temperature = 0;
    gp.max_tokens = 4;
    gp.add_bos = 0;
    sink out = {0};
    cf_generate_stats st;
    CF_CHECK_STATUS(cf_generate(s, tok, prompt, &gp, collect, &out, &st), CF_OK);
    CF_CHECK_EQ(st.n_prompt, n);
    cf_session_free(s);
    cf_model_free(m);
    cf_tokenizer_free(tok);
    cf_ctx_free(ctx);
}

const cf_test tests_infer[] = {
    {"infer/generate_expanding_tokenizer", test_generate_expanding_tokenizer},
    {"infer/kv_cache_gpt2", test_kv_gpt2},
    {"infer/kv_cache_llama_gqa", test_kv_llama},
    {"infer/sampler", test_sampler_rules},
    {"infer/generate_stop", test_generate_stop},
    {"infer/perplexity", test_perplexity},
    {NULL, NULL},
};
