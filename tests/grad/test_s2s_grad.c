// Gradient checks for the encoder-decoder layers against central finite differences (in the
// manner of test_nn.c): cross-attention with a source padding mask and Tq != Tk, label-smoothed
// cross-entropy with ignored rows, scaled embeddings plus learned positions, and a whole
// pre-norm encoder-decoder (separate vocabularies, learned positions, grouped-query
// self-attention, logits bias, SwiGLU) with every registered parameter.
#include <stdlib.h>

#include "../../src/models/model_internal.h"
#include "../test.h"
#include "cformer/seq2seq.h"

typedef cf_tensor *(*build_fn)(cf_graph *g, cf_tensor **in, void *arg);

// L = sum(out * r). Checks d L / d input for every input, by central differences in float with
// a relative step, against the tape's backward.
static void check_op(const char *name, int n_in, cf_tensor *shapes, float **data, build_fn fn,
                     void *arg) {
    cf_ctx_params cp = cf_ctx_default_params();
    cp.n_threads = 2;
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(&cp, &ctx), CF_OK);
    cf_graph g;
    cf__graph_init(&g, ctx);
    float *r = NULL, *grads[4] = {0};
    int64_t n_out = 0;
    for (int pass = 0; pass < 3; pass++) {  // measure, train, then the finite differences
        bool measure = pass == 0;
        cf__graph_begin(&g, pass < 2, measure);
        cf_tensor *in[4];
        for (int i = 0; i < n_in; i++) {
            in[i] = cf__tensor(&g, shapes[i].ndim, shapes[i].shape);
            in[i]->needs_grad = true;
            if (!measure) memcpy(in[i]->data, data[i], (size_t)in[i]->n * sizeof(float));
        }
        cf_tensor *out = fn(&g, in, arg);
        if (measure) {
            n_out = out->n;
            r = malloc((size_t)n_out * sizeof(float));
            cf_rng rng;
            cf__rng_seed(&rng, 5);
            for (int64_t k = 0; k < n_out; k++) r[k] = cf__rng_normal(&rng);
        }
        if (pass == 2) break;
        float *d = cf__grad(&g, out);
        if (d) memcpy(d, r, (size_t)n_out * sizeof(float));
        for (cf_node *n = g.tape; n; n = n->prev)
            if (n->out->grad) n->bwd(&g, n);
        if (measure) {
            CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
        } else {
            for (int i = 0; i < n_in; i++) {
                grads[i] = malloc((size_t)in[i]->n * sizeof(float));
                memcpy(grads[i], in[i]->grad, (size_t)in[i]->n * sizeof(float));
            }
        }
    }
    double worst = 0;
    for (int i = 0; i < n_in; i++) {
        int64_t n = shapes[i].n;
        for (int64_t k = 0; k < n; k += n > 40 ? 3 : 1) {
            float save = data[i][k], h = 1e-2f * (fabsf(save) > 1 ? fabsf(save) : 1);
            double l[2];
            for (int s = 0; s < 2; s++) {
                data[i][k] = save + (s ? -h : h);
                cf__graph_begin(&g, false, false);
                cf_tensor *in[4];
                for (int j = 0; j < n_in; j++) {
                    in[j] = cf__tensor(&g, shapes[j].ndim, shapes[j].shape);
                    memcpy(in[j]->data, data[j], (size_t)in[j]->n * sizeof(float));
                }
                cf_tensor *out = fn(&g, in, arg);
                double acc = 0;
                for (int64_t q = 0; q < n_out; q++) acc += (double)out->data[q] * r[q];
                l[s] = acc;
            }
            data[i][k] = save;
            double fd = (l[0] - l[1]) / (2.0 * h), an = grads[i][k];
            double err = fabs(fd - an) / (fabs(fd) + fabs(an) + 2e-2);
            if (err > worst) worst = err;
        }
        free(grads[i]);
    }
    if (worst > 2e-2) {
        fprintf(stderr, "  %s: worst relative gradient error %.3g\n", name, worst);
        cf_test_failures++;
    } else if (cf_test_verbose) {
        fprintf(stderr, "  %s: worst rel %.2e\n", name, worst);
    }
    free(r);
    cf__graph_deinit(&g);
    cf_ctx_free(ctx);
}

static cf_tensor shape3(int64_t a, int64_t b, int64_t c) {
    cf_tensor t = {0};
    t.ndim = 3;
    t.shape[0] = a, t.shape[1] = b, t.shape[2] = c;
    t.n = a * b * c;
    return t;
}

static float *randn(int64_t n, uint64_t seed, float scale) {
    cf_rng r;
    cf__rng_seed(&r, seed);
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = scale * cf__rng_normal(&r);
    return x;
}

static const uint8_t g_mask[2 * 5] = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1};

static cf_tensor *f_cross(cf_graph *g, cf_tensor **in, void *arg) {
    (void)arg;
    return cf__cross_attention(g, in[0], in[1], in[2], 3, 4, g_mask);
}

static void test_cross_attention(void) {
    cf_tensor s[3] = {shape3(2, 3, 12), shape3(2, 5, 12), shape3(2, 5, 12)};
    float *d[3] = {randn(s[0].n, 1, 1.0f), randn(s[1].n, 2, 1.0f), randn(s[2].n, 3, 1.0f)};
    check_op("cross-attention Tq=3 Tk=5 masked", 3, s, d, f_cross, NULL);
    for (int i = 0; i < 3; i++) free(d[i]);
}

static const int32_t g_targets[6] = {3, -1, 0, 10, 7, -1};

static cf_tensor *f_ls(cf_graph *g, cf_tensor **in, void *arg) {
    in[0]->ndim = 2;
    in[0]->shape[0] = 6;
    in[0]->shape[1] = 11;
    return cf__cross_entropy_smooth(g, in[0], g_targets, *(float *)arg);
}

static void test_label_smoothing(void) {
    cf_tensor s[1] = {shape3(1, 6, 11)};
    float *d[1] = {randn(s[0].n, 4, 2.0f)};
    float eps = 0.1f;
    check_op("label-smoothed cross-entropy eps 0.1", 1, s, d, f_ls, &eps);
    eps = 0.0f;
    check_op("label-smoothed cross-entropy eps 0", 1, s, d, f_ls, &eps);
    // eps = 0 is the plain cross-entropy; eps > 0 matches the closed form on one row.
    cf_ctx *ctx;
    cf_ctx_params cp = cf_ctx_default_params();
    CF_CHECK_STATUS(cf_ctx_create(&cp, &ctx), CF_OK);
    cf_graph g;
    cf__graph_init(&g, ctx);
    float vals[3] = {0};
    for (int pass = 0; pass < 2; pass++) {
        cf__graph_begin(&g, false, pass == 0);
        cf_tensor *x = cf__tensor2(&g, 6, 11);
        if (pass) memcpy(x->data, d[0], 66 * sizeof(float));
        cf_tensor *a = cf__cross_entropy_smooth(&g, x, g_targets, 0.0f);
        cf_tensor *b = cf__cross_entropy(&g, x, g_targets);
        cf_tensor *c = cf__cross_entropy_smooth(&g, x, g_targets, 0.3f);
        if (pass == 0) CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
        else vals[0] = a->data[0], vals[1] = b->data[0], vals[2] = c->data[0];
    }
    CF_CHECK_NEAR(vals[0], vals[1], 1e-6);
    double want = 0;
    int valid = 0;
    for (int r = 0; r < 6; r++) {
        if (g_targets[r] < 0) continue;
        const float *x = d[0] + r * 11;
        double mx = -INFINITY, z = 0, sum_lp = 0;
        for (int v = 0; v < 11; v++) mx = x[v] > mx ? x[v] : mx;
        for (int v = 0; v < 11; v++) z += exp(x[v] - mx);
        for (int v = 0; v < 11; v++) sum_lp += x[v] - mx - log(z);
        want += -0.7 * (x[g_targets[r]] - mx - log(z)) - 0.3 / 11 * sum_lp;
        valid++;
    }
    CF_CHECK_NEAR(vals[2], want / valid, 1e-5);
    cf__graph_deinit(&g);
    cf_ctx_free(ctx);
    free(d[0]);
}

static cf_weight g_wpe;

static cf_tensor *f_spos(cf_graph *g, cf_tensor **in, void *arg) {
    (void)arg;
    return cf__scale_add_pos(g, in[0], 1.7f, &g_wpe, NULL, 2);
}

static void test_scale_pos(void) {
    cf_tensor s[1] = {shape3(2, 3, 5)};
    float *d[1] = {randn(s[0].n, 6, 1.0f)};
    g_wpe = (cf_weight){randn(8 * 5, 7, 1.0f), NULL, 8, 5, 5, false};
    check_op("scale-add-positions", 1, s, d, f_spos, NULL);
    free(g_wpe.data);
    free(d[0]);
}

// The whole model: every parameter's gradient of the label-smoothed loss.
static void test_encdec_model(void) {
    cf_ctx_params cp = cf_ctx_default_params();
    cp.n_threads = 2;
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(&cp, &ctx), CF_OK);
    cf_config c = cf_config_transformer();
    c.n_layers = 2, c.n_dec_layers = 1, c.n_embd = 12, c.n_heads = 3, c.n_kv_heads = 1;
    c.head_dim = 4, c.n_ff = 10, c.vocab_size = 9, c.src_vocab_size = 7, c.n_ctx = 16;
    c.pre_norm = 1, c.final_norm = 1, c.pos = CF_POS_LEARNED, c.act = CF_ACT_SWIGLU;
    c.tie_embeddings = 0, c.logits_bias = 1, c.norm = CF_NORM_RMSNORM;
    c.pad_id = 0, c.eos_id = 2, c.decoder_start_id = 1;
    cf_model *m = NULL;
    CF_CHECK_STATUS(cf_model_create(ctx, &c, 3, &m), CF_OK);
    if (!m) return;
    cf_rng r;
    cf__rng_seed(&r, 9);
    for (int i = 0; i < m->n_params; i++) {
        cf_weight *w = m->params[i].w;
        for (int64_t k = 0; k < cf__weight_numel(w); k++) w->data[k] += 0.3f * cf__rng_normal(&r);
    }
    float *grads = calloc(m->slab_floats, sizeof(float));
    cf__model_set_grads(m, grads);
    int32_t src[2 * 5] = {3, 4, 5, 2, 0, 6, 3, 3, 4, 2};
    static const uint8_t mask[10] = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1};
    int32_t tgt[2 * 4] = {1, 5, 6, 7, 1, 8, 3, 0};
    int32_t lab[2 * 4] = {5, 6, 7, 2, 8, 3, 2, -1};
    cf_graph g;
    cf__graph_init(&g, ctx);
    for (int measure = 1; measure >= 0; measure--) {
        cf__graph_begin(&g, true, measure);
        cf_tensor *l = cf__cross_entropy_smooth(
            &g, cf__encdec_forward(&g, m, src, mask, 2, 5, tgt, 4, NULL), lab, 0.1f);
        cf__graph_backward(&g, l, 1.0f);
        if (measure) CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
    }
    cf__model_set_grads(m, NULL);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->n_params; i++) {
        cf_weight *w = m->params[i].w;
        int64_t n = cf__weight_numel(w);
        float *gw = grads + cf__weight_offset(m, w);
        for (int64_t k = 0; k < n; k += 1 + n / 5) {
            float save = w->data[k], h = 1e-2f;
            float l2[2];
            for (int s = 0; s < 2; s++) {
                w->data[k] = save + (s ? -h : h);
                cf__model_weights_changed(m);  // drops packed inference weights
                CF_CHECK_STATUS(cf_s2s_loss(m, src, mask, 2, 5, tgt, lab, 4, 0.1f, &l2[s]), CF_OK);
            }
            w->data[k] = save;
            double fd = ((double)l2[0] - l2[1]) / (2 * h), an = gw[k];
            double err = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-2);
            if (err > worst) {
                worst = err;
                worst_name = m->params[i].name;
            }
        }
    }
    if (worst > 2e-2) {
        fprintf(stderr, "  encoder-decoder: worst relative gradient error %.3g at %s\n", worst,
                worst_name);
        cf_test_failures++;
    }
    CF_CHECK(cf__model_param(m, "dec_layers.0.cross.wk") && cf__model_param(m, "logits_bias") &&
             cf__model_param(m, "src_tok_embeddings") && cf__model_param(m, "dec_pos_embeddings"));
    cf__graph_deinit(&g);
    free(grads);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

const cf_test tests_s2s_grad[] = {
    {"grad/s2s-cross-attention", test_cross_attention},
    {"grad/s2s-label-smoothing", test_label_smoothing},
    {"grad/s2s-scale-positions", test_scale_pos},
    {"grad/s2s-model", test_encdec_model},
    {NULL, NULL},
};
