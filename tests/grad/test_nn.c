// Gradient checks: every nn layer's backward against central finite differences of its
// forward, on small random shapes. The scalar checked is L = sum(out * r) for a fixed random r,
// accumulated in double. Both the reference kernels and the SIMD kernels are exercised.
#include <math.h>
#include <stdlib.h>

#include "../../src/models/model_internal.h"
#include "../test.h"

enum { MAX_IN = 3, MAX_W = 4 };

typedef struct gcase gcase;
struct gcase {
    const char *name;
    int n_in;
    int in_ndim[MAX_IN];
    int64_t in_shape[MAX_IN][4];
    float *in_data[MAX_IN];
    float *in_grad[MAX_IN];     // analytic, copied out after backward
    bool in_no_grad[MAX_IN];    // inputs that are not differentiated (e.g. not used as floats)
    int n_w;
    cf_weight w[MAX_W];
    int64_t w_n[MAX_W];
    // Builds the layer on the graph from the leaf inputs.
    cf_tensor *(*fwd)(cf_graph *g, gcase *c, cf_tensor **in);
    int64_t iarg[4];
    float farg[2];
    const int32_t *targets;
    const uint8_t *mask;
};

static float *rnd(cf_rng *r, int64_t n, float scale) {
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = scale * cf__rng_normal(r);
    return x;
}

static int64_t numel(const int64_t *s, int nd) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= s[i];
    return n;
}

// Runs the case's forward (and with train, the backward seeded with r) on g.
static cf_tensor *pass(cf_graph *g, gcase *c, bool train, bool measure, const float *r) {
    cf__graph_begin(g, train, measure);
    g->key_mask = c->mask;
    cf_tensor *in[MAX_IN];
    for (int i = 0; i < c->n_in; i++) {
        in[i] = cf__tensor(g, c->in_ndim[i], c->in_shape[i]);
        in[i]->needs_grad = !c->in_no_grad[i];
        if (!measure) memcpy(in[i]->data, c->in_data[i], (size_t)in[i]->n * sizeof(float));
    }
    cf_tensor *out = c->fwd(g, c, in);
    if (train) {
        float *d = cf__grad(g, out);
        if (d) memcpy(d, r, (size_t)out->n * sizeof(float));
        for (cf_node *n = g->tape; n; n = n->prev)
            if (n->out->grad) n->bwd(g, n);
        if (!measure)
            for (int i = 0; i < c->n_in; i++)
                if (!c->in_no_grad[i] && in[i]->grad)
                    memcpy(c->in_grad[i], in[i]->grad, (size_t)in[i]->n * sizeof(float));
    }
    return out;
}

static double objective(cf_graph *g, gcase *c, const float *r) {
    cf_tensor *out = pass(g, c, false, false, r);
    double s = 0;
    for (int64_t i = 0; i < out->n; i++) s += (double)out->data[i] * r[i];
    return s;
}

static void check_one(const char *what, float *x, const float *analytic, int64_t n,
                      cf_graph *gi, gcase *c, const float *r, const char *isa) {
    double worst = 0;
    int64_t worst_at = -1;
    double fd_at = 0;
    int64_t stride = n > 24 ? n / 24 : 1;  // a spread of elements, always the first and last
    for (int64_t i = 0; i < n; i += (i + stride < n || i == n - 1) ? stride : n - 1 - i) {
        float save = x[i];
        float h = 1e-2f * (fabsf(save) > 1.0f ? fabsf(save) : 1.0f);
        x[i] = save + h;
        double lp = objective(gi, c, r);
        x[i] = save - h;
        double lm = objective(gi, c, r);
        x[i] = save;
        double fd = (lp - lm) / (2.0 * (double)h), an = analytic[i];
        double err = fabs(fd - an) / (fabs(fd) + fabs(an) + 2e-2);
        if (err > worst) {
            worst = err;
            worst_at = i;
            fd_at = fd;
        }
        if (i == n - 1) break;
    }
    if (worst > 2e-2) {
        fprintf(stderr, "  [%s] %s %s: element %lld analytic %.6g vs finite difference %.6g "
                "(rel %.3g)\n", isa, c->name, what, (long long)worst_at, analytic[worst_at],
                fd_at, worst);
        cf_test_failures++;
    } else if (cf_test_verbose) {
        fprintf(stderr, "  [%s] %s %s: worst rel %.2e\n", isa, c->name, what, worst);
    }
}

static void run_case(gcase *c, const char *isa_arg) {
    const char *isa = isa_arg ? isa_arg : "best";
    cf_ctx_params p = {.n_threads = 2, .isa = isa_arg};
    cf_ctx *ctx;
    if (cf_ctx_create(&p, &ctx) != CF_OK) return;  // ISA not available here
    cf_rng rng;
    cf__rng_seed(&rng, 99);
    cf_graph g, gi;
    cf__graph_init(&g, ctx);
    cf__graph_init(&gi, ctx);
    for (int i = 0; i < c->n_w; i++)
        if (c->w[i].grad) memset(c->w[i].grad, 0, (size_t)c->w_n[i] * sizeof(float));
    for (int i = 0; i < c->n_in; i++)
        c->in_grad[i] = calloc((size_t)numel(c->in_shape[i], c->in_ndim[i]), sizeof(float));
    pass(&g, c, true, true, NULL);
    CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
    cf_tensor *o = pass(&gi, c, false, true, NULL);
    CF_CHECK_STATUS(cf__graph_plan(&gi), CF_OK);
    float *r = rnd(&rng, o->n, 1.0f);
    pass(&g, c, true, false, r);
    for (int i = 0; i < c->n_in; i++)
        if (!c->in_no_grad[i])
            check_one("input", c->in_data[i], c->in_grad[i],
                      numel(c->in_shape[i], c->in_ndim[i]), &gi, c, r, isa);
    for (int i = 0; i < c->n_w; i++)
        if (c->w[i].grad) {
            char what[32];
            snprintf(what, sizeof what, "weight %d", i);
            check_one(what, c->w[i].data, c->w[i].grad, c->w_n[i], &gi, c, r, isa);
        }
    for (int i = 0; i < c->n_in; i++) free(c->in_grad[i]);
    free(r);
    cf__graph_deinit(&g);
    cf__graph_deinit(&gi);
    cf_ctx_free(ctx);
}

static void run_both(gcase *c) {
    run_case(c, "ref");
    run_case(c, NULL);  // the best kernels for this CPU
}

static void add_input(gcase *c, cf_rng *r, int nd, const int64_t *shape, float scale) {
    int i = c->n_in++;
    c->in_ndim[i] = nd;
    memcpy(c->in_shape[i], shape, (size_t)nd * sizeof(int64_t));
    c->in_data[i] = rnd(r, numel(shape, nd), scale);
}

static cf_weight *add_weight(gcase *c, cf_rng *r, int64_t rows, int64_t cols, bool trans,
                             int64_t ld, float scale, float offset) {
    int i = c->n_w++;
    cf_weight *w = &c->w[i];
    w->rows = rows;
    w->cols = cols;
    w->trans = trans;
    w->ld = ld ? ld : (trans ? rows : cols);
    int64_t n = (trans ? cols : rows) * w->ld;
    c->w_n[i] = n;
    w->data = rnd(r, n, scale);
    for (int64_t k = 0; k < n; k++) w->data[k] += offset;
    w->grad = calloc((size_t)n, sizeof(float));
    return w;
}

static void free_case(gcase *c) {
    for (int i = 0; i < c->n_in; i++) free(c->in_data[i]);
    for (int i = 0; i < c->n_w; i++) {
        free(c->w[i].data);
        free(c->w[i].grad);
    }
}

// ---- layers ----

static cf_tensor *f_linear(cf_graph *g, gcase *c, cf_tensor **in) {
    return cf__linear(g, in[0], &c->w[0], c->n_w > 1 ? &c->w[1] : NULL);
}

static void test_linear(void) {
    cf_rng r;
    cf__rng_seed(&r, 1);
    for (int variant = 0; variant < 3; variant++) {
        gcase c = {.name = variant == 0 ? "linear" : variant == 1 ? "linear-conv1d" : "linear-strided"};
        int64_t s[3] = {2, 5, 7};
        add_input(&c, &r, 3, s, 1.0f);
        // variant 2: a (in, 3*out) Conv1D block viewed with ld = 3*out, like GPT-2's c_attn
        add_weight(&c, &r, 9, 7, variant > 0, variant == 2 ? 27 : 0, 0.5f, 0.0f);
        add_weight(&c, &r, 1, 9, false, 0, 0.5f, 0.0f);
        c.fwd = f_linear;
        run_both(&c);
        free_case(&c);
    }
}

static cf_tensor *f_layernorm(cf_graph *g, gcase *c, cf_tensor **in) {
    return cf__layernorm(g, in[0], &c->w[0], &c->w[1], 1e-5f);
}
static cf_tensor *f_rmsnorm(cf_graph *g, gcase *c, cf_tensor **in) {
    return cf__rmsnorm(g, in[0], &c->w[0], 1e-5f);
}

static void test_norms(void) {
    cf_rng r;
    cf__rng_seed(&r, 2);
    for (int rms = 0; rms < 2; rms++) {
        gcase c = {.name = rms ? "rmsnorm" : "layernorm"};
        int64_t s[2] = {6, 19};
        add_input(&c, &r, 2, s, 1.0f);
        add_weight(&c, &r, 1, 19, false, 0, 0.3f, 1.0f);
        if (!rms) add_weight(&c, &r, 1, 19, false, 0, 0.3f, 0.0f);
        c.fwd = rms ? f_rmsnorm : f_layernorm;
        run_both(&c);
        free_case(&c);
    }
}

static cf_tensor *f_act(cf_graph *g, gcase *c, cf_tensor **in) {
    return cf__act(g, in[0], (cf_act_op)c->iarg[0]);
}
static cf_tensor *f_glu(cf_graph *g, gcase *c, cf_tensor **in) {
    return cf__glu(g, in[0], in[1], (cf_act_op)c->iarg[0]);
}
static cf_tensor *f_add(cf_graph *g, gcase *c, cf_tensor **in) {
    (void)c;
    // x used twice: checks that gradients from two consumers accumulate.
    return cf__add(g, cf__add(g, in[0], in[1]), in[0]);
}

static void test_elementwise(void) {
    cf_rng r;
    cf__rng_seed(&r, 3);
    const char *names[] = {"gelu", "gelu_tanh", "relu", "silu"};
    for (int op = 0; op < 4; op++) {
        gcase c = {.name = names[op]};
        int64_t s[2] = {3, 37};
        add_input(&c, &r, 2, s, 1.5f);
        if (op == CF_OP_RELU)  // keep away from the kink at 0
            for (int64_t i = 0; i < 3 * 37; i++)
                c.in_data[0][i] += c.in_data[0][i] >= 0 ? 0.1f : -0.1f;
        c.iarg[0] = op;
        c.fwd = f_act;
        run_both(&c);
        free_case(&c);
        gcase d = {.name = names[op]};
        add_input(&d, &r, 2, s, 1.5f);
        add_input(&d, &r, 2, s, 1.0f);
        if (op == CF_OP_RELU)
            for (int64_t i = 0; i < 3 * 37; i++)
                d.in_data[0][i] += d.in_data[0][i] >= 0 ? 0.1f : -0.1f;
        d.iarg[0] = op;
        d.fwd = f_glu;
        run_both(&d);
        free_case(&d);
    }
    gcase c = {.name = "add"};
    int64_t s[2] = {4, 9};
    add_input(&c, &r, 2, s, 1.0f);
    add_input(&c, &r, 2, s, 1.0f);
    c.fwd = f_add;
    run_both(&c);
    free_case(&c);
}

static float *rope_table(int64_t n_ctx, int64_t D, float theta) {
    float *t = malloc((size_t)(n_ctx * D) * sizeof(float));
    for (int64_t i = 0; i < D / 2; i++) {
        float inv = 1.0f / powf(theta, (float)(2 * i) / (float)D);
        for (int64_t p = 0; p < n_ctx; p++) {
            t[(p * (D / 2) + i) * 2] = cosf((float)p * inv);
            t[(p * (D / 2) + i) * 2 + 1] = sinf((float)p * inv);
        }
    }
    return t;
}

static float *g_rope;  // table for the rope case, set before the run

static cf_tensor *f_rope(cf_graph *g, gcase *c, cf_tensor **in) {
    g->pos0 = c->iarg[2];
    cf_tensor *y = cf__rope(g, in[0], c->iarg[0], c->iarg[1], g_rope, c->iarg[3] != 0);
    g->pos0 = 0;
    return y;
}

static void test_rope(void) {
    cf_rng r;
    cf__rng_seed(&r, 4);
    g_rope = rope_table(32, 6, 10000.0f);
    for (int il = 0; il < 2; il++) {
        gcase c = {.name = il ? "rope-interleaved" : "rope-half"};
        int64_t s[3] = {2, 5, 3 * 6};
        add_input(&c, &r, 3, s, 1.0f);
        c.iarg[0] = 3;
        c.iarg[1] = 6;
        c.iarg[2] = 4;  // positions start at 4
        c.iarg[3] = il;
        c.fwd = f_rope;
        run_both(&c);
        free_case(&c);
    }
    free(g_rope);
}

static cf_tensor *f_attn(cf_graph *g, gcase *c, cf_tensor **in) {
    return cf__attention(g, in[0], in[1], in[2], c->iarg[0], c->iarg[1], c->iarg[2],
                         c->iarg[3] != 0, 0);
}

static void attn_case(cf_rng *r, const char *name, int64_t B, int64_t T, int64_t H,
                      int64_t KVH, int64_t D, bool causal, const uint8_t *mask) {
    gcase c = {.name = name};
    int64_t sq[3] = {B, T, H * D}, sk[3] = {B, T, KVH * D};
    add_input(&c, r, 3, sq, 1.0f);
    add_input(&c, r, 3, sk, 1.0f);
    add_input(&c, r, 3, sk, 1.0f);
    c.iarg[0] = H;
    c.iarg[1] = KVH;
    c.iarg[2] = D;
    c.iarg[3] = causal;
    c.mask = mask;
    c.fwd = f_attn;
    run_both(&c);
    free_case(&c);
}

static void test_attention(void) {
    cf_rng r;
    cf__rng_seed(&r, 5);
    attn_case(&r, "attention-causal", 2, 7, 3, 3, 4, true, NULL);
    attn_case(&r, "attention-bidirectional", 2, 5, 2, 2, 3, false, NULL);
    attn_case(&r, "attention-gqa", 1, 6, 6, 2, 4, true, NULL);
    attn_case(&r, "attention-mqa-1head", 2, 5, 1, 1, 5, true, NULL);
    attn_case(&r, "attention-long", 1, 70, 2, 1, 4, true, NULL);  // more than one query block
    static const uint8_t mask[2 * 6] = {1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0};
    attn_case(&r, "attention-padding-mask", 2, 6, 2, 2, 4, false, mask);
    // BERT's case at length: bidirectional, several key and query blocks, the second sequence
    // padded from position 97 (a question-answering window shorter than the batch's longest)
    static uint8_t long_mask[2 * 130];
    for (int i = 0; i < 2 * 130; i++) long_mask[i] = i < 130 || i - 130 < 97;
    attn_case(&r, "attention-long-bidirectional-padded", 2, 130, 2, 2, 8, false, long_mask);
}

static cf_tensor *f_ce(cf_graph *g, gcase *c, cf_tensor **in) {
    return cf__cross_entropy(g, in[0], c->targets);
}

static void test_cross_entropy(void) {
    cf_rng r;
    cf__rng_seed(&r, 6);
    gcase c = {.name = "cross_entropy"};
    int64_t s[2] = {5, 11};
    add_input(&c, &r, 2, s, 2.0f);
    static const int32_t targets[5] = {3, -1, 10, 0, 7};  // one ignored
    c.targets = targets;
    c.fwd = f_ce;
    run_both(&c);
    free_case(&c);
}

static const int32_t g_tokens[6] = {3, 1, 3, 0, 4, 2};

static cf_tensor *f_embed(cf_graph *g, gcase *c, cf_tensor **in) {
    (void)in;
    cf_tensor *x = cf__embed(g, &c->w[0], &c->w[1], NULL, g_tokens, 2, 3, 1);
    // gather rows 5 and 1 then a linear with the tied embedding: two uses of wte.
    static const int64_t rows[2] = {5, 1};
    x->ndim = 2;
    x->shape[0] = 6;
    x->shape[1] = 4;
    return cf__linear(g, cf__gather_rows(g, x, rows, 2), &c->w[0], NULL);
}

static void test_embed(void) {
    cf_rng r;
    cf__rng_seed(&r, 7);
    gcase c = {.name = "embed-tied-gather"};
    int64_t s[1] = {1};
    add_input(&c, &r, 1, s, 1.0f);  // unused placeholder input
    c.in_no_grad[0] = true;
    add_weight(&c, &r, 5, 4, false, 0, 1.0f, 0.0f);  // wte (V=5, C=4)
    add_weight(&c, &r, 8, 4, false, 0, 1.0f, 0.0f);  // wpe (n_ctx=8)
    c.fwd = f_embed;
    run_both(&c);
    free_case(&c);
}

// The whole decoder for three families: every registered parameter's gradient.
static void model_case(const char *name, cf_config cfg) {
    cf_ctx *ctx;
    cf_ctx_params p = {.n_threads = 2};
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    cf_model *m;
    CF_CHECK_STATUS(cf_model_create(ctx, &cfg, 11, &m), CF_OK);
    cf_rng r;
    cf__rng_seed(&r, 12);
    for (int i = 0; i < m->n_params; i++) {  // move norms and biases off their initial values
        cf_weight *w = m->params[i].w;
        for (int64_t k = 0; k < cf__weight_numel(w); k++) w->data[k] += 0.2f * cf__rng_normal(&r);
    }
    float *grads = calloc(m->slab_floats, sizeof(float));
    cf__model_set_grads(m, grads);
    int B = 2, T = 6;
    int32_t in[12], tg[12];
    for (int i = 0; i < 12; i++) {
        in[i] = (int32_t)cf__rng_below(&r, (uint64_t)cfg.vocab_size);
        tg[i] = (int32_t)cf__rng_below(&r, (uint64_t)cfg.vocab_size);
    }
    cf_graph g, gi;
    cf__graph_init(&g, ctx);
    cf__graph_init(&gi, ctx);
    for (int measure = 1; measure >= 0; measure--) {
        cf__graph_begin(&g, true, measure);
        cf_tensor *l = cf__cross_entropy(&g, cf__model_forward(&g, m, in, B, T, NULL, 0), tg);
        cf__graph_backward(&g, l, 1.0f);
        if (measure) CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
        cf__graph_begin(&gi, false, true);
        cf__cross_entropy(&gi, cf__model_forward(&gi, m, in, B, T, NULL, 0), tg);
        if (measure) CF_CHECK_STATUS(cf__graph_plan(&gi), CF_OK);
    }
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->n_params; i++) {
        cf_weight *w = m->params[i].w;
        int64_t n = cf__weight_numel(w);
        for (int64_t k = 0; k < n; k += 1 + n / 5) {
            float save = w->data[k], h = 1e-2f;
            double l2[2];
            for (int s = 0; s < 2; s++) {
                w->data[k] = save + (s ? -h : h);
                cf__model_weights_changed(m);  // drops packed inference weights
                cf__graph_begin(&gi, false, false);
                l2[s] = cf__cross_entropy(&gi, cf__model_forward(&gi, m, in, B, T, NULL, 0), tg)
                            ->data[0];
            }
            w->data[k] = save;
            double fd = (l2[0] - l2[1]) / (2 * h), an = w->grad[k];
            double err = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-2);
            if (err > worst) {
                worst = err;
                worst_name = m->params[i].name;
            }
        }
    }
    if (worst > 2e-2) {
        fprintf(stderr, "  model %s: worst relative gradient error %.3g at %s\n", name, worst,
                worst_name);
        cf_test_failures++;
    }
    cf__graph_deinit(&g);
    cf__graph_deinit(&gi);
    cf_model_free(m);
    free(grads);
    cf_ctx_free(ctx);
}

static void test_models(void) {
    cf_config c = cf_config_gpt2();
    c.n_layers = 2, c.n_embd = 12, c.n_heads = 3, c.n_kv_heads = 3, c.head_dim = 4, c.n_ff = 20;
    c.vocab_size = 11, c.n_ctx = 16;
    model_case("gpt2", c);
    cf_config l = cf_config_llama();
    l.n_layers = 2, l.n_embd = 12, l.n_heads = 3, l.n_kv_heads = 1, l.head_dim = 4, l.n_ff = 20;
    l.vocab_size = 11, l.n_ctx = 16;
    model_case("llama-gqa", l);
    l.rope_style = CF_ROPE_INTERLEAVED, l.tie_embeddings = 1, l.act = CF_ACT_GEGLU;
    model_case("llama-interleaved-tied-geglu", l);
    cf_config e = cf_config_gpt2();  // post-norm bidirectional encoder (BERT-like)
    e.n_layers = 2, e.n_embd = 12, e.n_heads = 2, e.n_kv_heads = 2, e.head_dim = 6, e.n_ff = 16;
    e.vocab_size = 9, e.n_ctx = 16, e.pre_norm = 0, e.final_norm = 0, e.causal = 0;
    e.act = CF_ACT_GELU, e.pos = CF_POS_SINUSOIDAL, e.tie_embeddings = 0, e.family = CF_FAMILY_GENERIC;
    model_case("post-norm-bidirectional-sinusoidal", e);
}

// ---- encoder layers (src/nn/encoder_layers.c) ----

static cf_tensor *f_tanh(cf_graph *g, gcase *c, cf_tensor **in) {
    (void)c;
    return cf__tanh(g, in[0]);
}

static const uint8_t g_pool_mask[2 * 5] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0};

// Masked mean over positions, then L2 normalisation (the sentence-embedding path).
static cf_tensor *f_pool(cf_graph *g, gcase *c, cf_tensor **in) {
    cf_tensor *p = cf__masked_mean(g, in[0], c->iarg[0] ? g_pool_mask : NULL, 2, 5);
    return c->iarg[1] ? cf__l2_normalize(g, p, 1e-12f) : p;
}

static const int32_t g_etok[6] = {3, 1, 3, 0, 4, 2}, g_epos[6] = {2, 3, 4, 1, 2, 1},
                     g_etype[6] = {0, 1, 1, 0, 0, 1};

static cf_tensor *f_embed_sum(cf_graph *g, gcase *c, cf_tensor **in) {
    (void)in;
    return cf__embed_sum(g, &c->w[0], &c->w[1], &c->w[2], g_etok, g_epos, g_etype, 2, 3);
}

static const float g_class_w[4] = {0.5f, 2.0f, 1.0f, 1.5f};

static cf_tensor *f_wce(cf_graph *g, gcase *c, cf_tensor **in) {
    return cf__cross_entropy_w(g, in[0], c->targets, c->iarg[0] ? g_class_w : NULL);
}

static const int32_t g_qa_start[3] = {1, -4, 2}, g_qa_end[3] = {4, 9, 5};  // -4 -> 0, 9 ignored

static cf_tensor *f_qa(cf_graph *g, gcase *c, cf_tensor **in) {
    (void)c;
    return cf__qa_loss(g, in[0], 3, 5, g_qa_start, g_qa_end);
}

static void test_encoder_layers(void) {
    cf_rng r;
    cf__rng_seed(&r, 8);
    gcase t = {.name = "tanh"};
    int64_t s2[2] = {3, 11};
    add_input(&t, &r, 2, s2, 1.2f);
    t.fwd = f_tanh;
    run_both(&t);
    free_case(&t);
    for (int v = 0; v < 3; v++) {  // mean (all), masked mean, masked mean + normalize
        gcase p = {.name = v == 0 ? "mean-pool" : v == 1 ? "masked-mean-pool" : "mean-pool-l2"};
        int64_t s[2] = {10, 6};
        add_input(&p, &r, 2, s, 1.0f);
        p.iarg[0] = v > 0;
        p.iarg[1] = v == 2;
        p.fwd = f_pool;
        run_both(&p);
        free_case(&p);
    }
    gcase e = {.name = "embed-sum"};
    int64_t one[1] = {1};
    add_input(&e, &r, 1, one, 1.0f);  // unused placeholder input
    e.in_no_grad[0] = true;
    add_weight(&e, &r, 5, 4, false, 0, 1.0f, 0.0f);  // wte (V=5, C=4)
    add_weight(&e, &r, 6, 4, false, 0, 1.0f, 0.0f);  // wpe
    add_weight(&e, &r, 2, 4, false, 0, 1.0f, 0.0f);  // token types
    e.fwd = f_embed_sum;
    run_both(&e);
    free_case(&e);
    static const int32_t targets[5] = {3, -100, 1, 0, 3};
    for (int w = 0; w < 2; w++) {
        gcase c = {.name = w ? "cross_entropy-class-weights" : "cross_entropy-small"};
        int64_t s[2] = {5, 4};
        add_input(&c, &r, 2, s, 2.0f);
        c.targets = targets;
        c.iarg[0] = w;
        c.fwd = f_wce;
        run_both(&c);
        free_case(&c);
    }
    gcase q = {.name = "qa-loss"};
    int64_t sq[2] = {15, 2};
    add_input(&q, &r, 2, sq, 2.0f);
    q.fwd = f_qa;
    run_both(&q);
    free_case(&q);
}

static void test_encoder_models(void) {
    cf_config b = cf_config_bert();
    b.n_layers = 2, b.n_embd = 12, b.n_heads = 3, b.n_kv_heads = 3, b.head_dim = 4, b.n_ff = 20;
    b.vocab_size = 11, b.n_ctx = 16;
    model_case("bert-mlm", b);  // embedding LayerNorm, token types, post-norm, MLM head
    cf_config rb = cf_config_roberta();
    rb.n_layers = 1, rb.n_embd = 8, rb.n_heads = 2, rb.n_kv_heads = 2, rb.head_dim = 4;
    rb.n_ff = 12, rb.vocab_size = 9, rb.n_ctx = 10;
    model_case("roberta-mlm", rb);  // positions from pad_id + 1
}

// ---- dropout ----
//
// Not through gcase: its finite differences run the forward in inference mode, where dropout is
// the identity. Here every pass trains, with the same seed, so the masks repeat.

// in -> dropout (-> GELU -> dropout when two); backward seeded with r; returns the output.
static cf_tensor *drop_pass(cf_graph *g, const float *x, int64_t n, uint64_t seed, float p,
                            bool two, const float *r, float *dx, bool measure) {
    cf__graph_begin(g, true, measure);
    g->dropout = p;
    g->dropout_seed = seed;
    int64_t shape[1] = {n};
    cf_tensor *in = cf__tensor(g, 1, shape);
    in->needs_grad = true;
    if (!measure) memcpy(in->data, x, (size_t)n * sizeof(float));
    cf_tensor *y = cf__dropout(g, in);
    if (two) y = cf__dropout(g, cf__act(g, y, CF_OP_GELU));
    float *d = cf__grad(g, y);
    if (d && r) memcpy(d, r, (size_t)n * sizeof(float));
    for (cf_node *nd = g->tape; nd; nd = nd->prev)
        if (nd->out->grad) nd->bwd(g, nd);
    if (!measure && dx) memcpy(dx, in->grad, (size_t)n * sizeof(float));
    return y;
}

static float *drop_run(cf_ctx *ctx, const float *x, int64_t n, uint64_t seed, float p, bool two,
                       const float *r, float *dx) {
    cf_graph g;
    cf__graph_init(&g, ctx);
    drop_pass(&g, x, n, seed, p, two, r, NULL, true);
    CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
    cf_tensor *y = drop_pass(&g, x, n, seed, p, two, r, dx, false);
    float *out = malloc((size_t)n * sizeof(float));
    memcpy(out, y->data, (size_t)n * sizeof(float));
    cf__graph_deinit(&g);
    return out;
}

static void test_dropout(void) {
    cf_ctx_params cp = {.n_threads = 2}, cp1 = {.n_threads = 1};
    cf_ctx *ctx, *ctx1;
    CF_CHECK_STATUS(cf_ctx_create(&cp, &ctx), CF_OK);
    CF_CHECK_STATUS(cf_ctx_create(&cp1, &ctx1), CF_OK);
    cf_rng rng;
    cf__rng_seed(&rng, 5);
    const int64_t n = 100000;
    const float p = 0.3f, scale = 1.0f / (1.0f - p);
    float *x = rnd(&rng, n, 1.0f), *r = rnd(&rng, n, 1.0f);
    float *dx = malloc((size_t)n * sizeof(float));
    // The identity outside training and at rate 0.
    cf_graph g;
    cf__graph_init(&g, ctx);
    cf__graph_begin(&g, false, true);
    g.dropout = p;
    int64_t sh[1] = {4};
    cf_tensor *t = cf__tensor(&g, 1, sh);
    CF_CHECK(cf__dropout(&g, t) == t);
    cf__graph_begin(&g, true, true);
    g.dropout = 0.0f;
    t = cf__tensor(&g, 1, sh);
    CF_CHECK(cf__dropout(&g, t) == t);
    cf__graph_deinit(&g);
    // Rate, scaling, and a backward that uses the forward's mask.
    float *y = drop_run(ctx, x, n, 42, p, false, r, dx);
    int64_t zeros = 0, bad_keep = 0, bad_grad = 0;
    for (int64_t i = 0; i < n; i++) {
        bool dropped = y[i] == 0.0f;
        zeros += dropped;
        bad_keep += !dropped && y[i] != x[i] * scale;
        bad_grad += dx[i] != (dropped ? 0.0f : r[i] * scale);
    }
    double frac = (double)zeros / (double)n, sd = sqrt(p * (1.0 - p) / (double)n);
    CF_CHECK(fabs(frac - p) < 4.5 * sd);
    CF_CHECK_EQ(bad_keep, 0);
    CF_CHECK_EQ(bad_grad, 0);
    // Masks: the same for the same seed on one thread, another for another seed.
    float *y1 = drop_run(ctx1, x, n, 42, p, false, r, NULL);
    float *y2 = drop_run(ctx, x, n, 43, p, false, r, NULL);
    int64_t same = 0;
    for (int64_t i = 0; i < n; i++) same += (y2[i] == 0.0f) == (y[i] == 0.0f);
    CF_CHECK(memcmp(y, y1, (size_t)n * sizeof(float)) == 0);
    CF_CHECK(same < n * 7 / 10);  // independent masks agree on p^2 + (1-p)^2 = 58 %
    free(y);
    free(y1);
    free(y2);
    // Two dropouts in one pass draw different masks, and the gradient through both (and the
    // GELU between) matches central differences of the training-mode forward.
    const int64_t m = 40;
    float *dm = malloc((size_t)m * sizeof(float));
    float *ym = drop_run(ctx, x, m, 7, 0.5f, true, r, dm);
    double worst = 0;
    for (int64_t i = 0; i < m; i++) {
        const float h = 1e-2f;
        float keep = x[i];
        x[i] = keep + h;
        float *a = drop_run(ctx, x, m, 7, 0.5f, true, r, NULL);
        x[i] = keep - h;
        float *b = drop_run(ctx, x, m, 7, 0.5f, true, r, NULL);
        x[i] = keep;
        double fd = 0;
        for (int64_t k = 0; k < m; k++) fd += ((double)a[k] - (double)b[k]) * r[k];
        fd /= 2.0 * h;
        double e = fabs(fd - dm[i]) / (fabs(fd) + fabs(dm[i]) + 1e-3);
        if (e > worst) worst = e;
        free(a);
        free(b);
    }
    CF_CHECK(worst < 1e-3);
    int64_t nz = 0;
    for (int64_t i = 0; i < m; i++) nz += dm[i] != 0.0f;
    CF_CHECK(nz > 0 && nz < m);  // some paths dropped, some not
    free(ym);
    free(dm);
    free(x);
    free(r);
    free(dx);
    cf_ctx_free(ctx);
    cf_ctx_free(ctx1);
}

const cf_test tests_nn[] = {
    {"grad/linear", test_linear},
    {"grad/norms", test_norms},
    {"grad/elementwise", test_elementwise},
    {"grad/rope", test_rope},
    {"grad/attention", test_attention},
    {"grad/cross_entropy", test_cross_entropy},
    {"grad/embed", test_embed},
    {"grad/models", test_models},
    {"grad/encoder_layers", test_encoder_layers},
    {"grad/encoder_models", test_encoder_models},
    {"grad/dropout", test_dropout},
    {NULL, NULL},
};
