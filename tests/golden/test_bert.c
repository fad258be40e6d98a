// Encoder golden tests: cformer's BERT, RoBERTa and DistilBERT against PyTorch. The fixtures
// (tools/gen_bert_refs.py) are Hugging Face folders (BertForMaskedLM with a pooler and an unused
// NSP head, BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering
// saved without the "bert." prefix, RobertaForMaskedLM, DistilBertForSequenceClassification)
// and expected.safetensors with the float64 reference: hidden states, each head's logits, the
// task loss, every parameter's gradient, and [CLS] / mean sentence embeddings. Two sequences of
// 7 tokens, the second padded after 4, 3 heads of width 4.
//
// Also here: save -> reload round trips (same logits, labels, tokenizer files carried), bad
// checkpoints (missing tensor, wrong shape, unknown architecture) and the fine-tuning steps
// (loss goes down, frozen parameters stay put, layer-wise lr decay, class weights).
//
// Tolerances: gen_bert_refs.py prints torch's own float32-vs-float64 spread: at most 1.5e-6 on
// hidden states, 3.4e-6 on MLM logits, 7.4e-7 on gradients, 3.4e-7 on losses. The bounds
// below are those of test_golden.c (logits 1e-5 + 1e-4 relative, gradients 2e-6 + 1e-3
// relative), which leave the same ~5x room over that spread.
#include <limits.h>
#include <stdlib.h>

#include "../../src/io/io.h"                        // defines: cf__st_open, cf__st_write
#include "../../src/models/encoder_internal.h"      // defines: cf__encoder_task_loss
#include "../test.h"
#include "../unit/cli_shell.h"

#define ATOL 1e-5
#define RTOL 1e-4
#define GRAD_ATOL 2e-6
#define GRAD_RTOL 1e-3

typedef struct fx {
    cf_safetensors st;
    bool open;
} fx;

static bool fx_open(fx *f, cf_ctx *ctx, const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/expected.safetensors", cf_test_fixture(dir));
    f->open = cf__st_open(ctx, path, &f->st) == CF_OK;
    const char *magic = f->open ? cf__st_meta(&f->st, "magic") : NULL;
    const char *ver = f->open ? cf__st_meta(&f->st, "fixture_version") : NULL;
    if (!magic || strcmp(magic, "cformer-golden") || !ver || strcmp(ver, "1")) {
        fprintf(stderr, "  %s: missing or not a version 1 fixture (run /usr/bin/python3 "
                "tools/gen_bert_refs.py)\n", path);
        cf_test_failures++;
        if (f->open) cf__st_close(&f->st);
        f->open = false;
    }
    return f->open;
}

// A copy (free with free()) of a fixture tensor of dtype dt with n elements (n < 0: any).
static void *fx_get(const fx *f, const char *name, cf_dtype dt, int64_t n) {
    const cf_st_tensor *t = cf__st_find(&f->st, name);
    if (!t || t->dtype != dt || (n >= 0 && t->numel != n)) {
        fprintf(stderr, "  fixture tensor '%s' missing or of the wrong dtype/size\n", name);
        cf_test_failures++;
        return NULL;
    }
    void *p = malloc(t->nbytes ? t->nbytes : 1);
    memcpy(p, t->data, t->nbytes);
    return p;
}

static cf_ctx *make_ctx(void) {
    cf_ctx_params p = cf_ctx_default_params();
    p.n_threads = 2;
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    return ctx;
}

static cf_model *load(cf_ctx *ctx, const char *path) {
    cf_model *m = NULL;
    if (cf_model_load(ctx, path, &m) != CF_OK) {
        fprintf(stderr, "  cf_model_load(%s): %s\n", path, cf_errmsg(ctx));
        cf_test_failures++;
    }
    return m;
}

enum { B = 2, T = 7 };

// Inputs and labels of a fixture.
typedef struct inputs {
    int32_t *tokens, *types, *labels, *start, *end;
    uint8_t *mask;
    float *class_w;
    cf_encoder_batch b;
} inputs;

static void inputs_load(inputs *in, const fx *f, cf_task task, int64_t n_labels) {
    memset(in, 0, sizeof *in);
    in->tokens = fx_get(f, "tokens", CF_DT_I32, B * T);
    in->types = fx_get(f, "type_ids", CF_DT_I32, B * T);
    in->mask = fx_get(f, "mask", CF_DT_U8, B * T);
    in->labels = fx_get(f, "labels", CF_DT_I32, task == CF_TASK_SEQ_CLS || task == CF_TASK_QA
                                                     ? B : B * T);
    in->start = fx_get(f, "start", CF_DT_I32, B);
    in->end = fx_get(f, "end", CF_DT_I32, B);
    in->class_w = fx_get(f, "class_w", CF_DT_F32, n_labels > 0 ? n_labels : 1);
    cf_encoder_batch b = {in->tokens, in->types, in->mask, B, T, in->labels, in->start, in->end};
    in->b = b;
}

static void inputs_free(inputs *in) {
    free(in->tokens);
    free(in->types);
    free(in->mask);
    free(in->labels);
    free(in->start);
    free(in->end);
    free(in->class_w);
}

// Logits of the fixture's head through the public API into out; returns the element count.
static int64_t head_logits(cf_model *m, cf_task task, const cf_encoder_batch *b, float *out) {
    const cf_config *c = cf_model_config(m);
    switch (task) {
    case CF_TASK_MLM:
        CF_CHECK_STATUS(cf_encoder_mlm_logits(m, b, out), CF_OK);
        return (int64_t)B * T * c->vocab_size;
    case CF_TASK_SEQ_CLS:
        CF_CHECK_STATUS(cf_encoder_classify(m, b, out), CF_OK);
        return (int64_t)B * c->n_labels;
    case CF_TASK_TOKEN_CLS:
        CF_CHECK_STATUS(cf_encoder_token_classify(m, b, out), CF_OK);
        return (int64_t)B * T * c->n_labels;
    case CF_TASK_QA: {
        float s[B * T], e[B * T];
        CF_CHECK_STATUS(cf_encoder_qa_logits(m, b, s, e), CF_OK);
        for (int i = 0; i < B * T; i++) {  // interleave as the fixture's (B, T, 2)
            out[2 * i] = s[i];
            out[2 * i + 1] = e[i];
        }
        return 2 * B * T;
    }
    }
    return 0;
}

static const char *head_key(cf_task task) {
    static const char *k[] = {"out.mlm", "out.seq", "out.tok", "out.qa"};
    return k[task];
}

// Loss and every parameter's gradient through the training graph.
static void check_grads(cf_model *m, const fx *f, cf_task task, const inputs *in,
                        const float *class_w, const char *tag) {
    float *grads = calloc(m->slab_floats, sizeof(float));
    cf__model_set_grads(m, grads);
    cf_graph g;
    cf__graph_init(&g, m->ctx);
    cf__graph_begin(&g, true, true);
    cf__graph_backward(&g, cf__encoder_task_loss(&g, m, task, &in->b, class_w), 1.0f);
    CF_CHECK_STATUS(cf__graph_plan(&g), CF_OK);
    cf__graph_begin(&g, true, false);
    cf_tensor *l = cf__encoder_task_loss(&g, m, task, &in->b, class_w);
    cf__graph_backward(&g, l, 1.0f);
    float *want_loss = fx_get(f, "loss", CF_DT_F32, 1);
    if (want_loss) {
        char what[96];
        snprintf(what, sizeof what, "%s loss (train graph)", tag);
        cf_test_compare(what, l->data, want_loss, 1, ATOL, RTOL);
    }
    free(want_loss);
    int checked = 0;
    for (int i = 0; i < m->n_params; i++) {
        const cf_param *p = &m->params[i];
        char name[96], what[160];
        snprintf(name, sizeof name, "grad.%s", p->name);
        snprintf(what, sizeof what, "%s %s", tag, name);
        float *want = fx_get(f, name, CF_DT_F32, cf__weight_numel(p->w));
        if (!want) continue;
        cf_test_compare(what, p->w->grad, want, cf__weight_numel(p->w), GRAD_ATOL, GRAD_RTOL);
        checked++;
        free(want);
    }
    // Every gradient in the fixture belongs to a parameter of the model.
    int in_fixture = 0;
    for (int i = 0; i < f->st.n_tensors; i++)
        in_fixture += !strncmp(f->st.tensors[i].name, "grad.", 5);
    CF_CHECK_EQ(checked, in_fixture);
    cf__graph_deinit(&g);
    cf__model_set_grads(m, NULL);
    free(grads);
}

static void golden_case(const char *dir, cf_task task, int heads, int n_labels, const char *src) {
    cf_ctx *ctx = make_ctx();
    fx f;
    if (!fx_open(&f, ctx, dir)) {
        cf_ctx_free(ctx);
        return;
    }
    cf_model *m = load(ctx, cf_test_fixture(dir));
    if (!m) goto out;
    const cf_config *c = cf_model_config(m);
    CF_CHECK_EQ(c->heads, heads);
    CF_CHECK_EQ(c->n_labels, n_labels);
    CF_CHECK(!strcmp(cf_model_source(m), src));
    CF_CHECK(cf_model_is_mapped(m));  // F32 weights stay in the file
    inputs in;
    inputs_load(&in, &f, task, n_labels);
    const float *cw = task == CF_TASK_SEQ_CLS ? in.class_w : NULL;
    int64_t C = c->n_embd;
    float *hidden = malloc((size_t)(B * T * C) * sizeof(float));
    CF_CHECK_STATUS(cf_encoder_forward(m, &in.b, hidden), CF_OK);
    float *want = fx_get(&f, "hidden", CF_DT_F32, B * T * C);
    char what[128];
    snprintf(what, sizeof what, "%s hidden", dir);
    if (want) cf_test_compare(what, hidden, want, B * T * C, ATOL, RTOL);
    free(want);
    float *logits = malloc((size_t)(B * T * c->vocab_size) * sizeof(float));
    int64_t n = head_logits(m, task, &in.b, logits);
    want = fx_get(&f, head_key(task), CF_DT_F32, n);
    snprintf(what, sizeof what, "%s %s", dir, head_key(task));
    if (want) cf_test_compare(what, logits, want, n, ATOL, RTOL);
    free(want);
    float loss = 0;
    CF_CHECK_STATUS(cf_encoder_loss(m, task, &in.b, cw, &loss), CF_OK);
    want = fx_get(&f, "loss", CF_DT_F32, 1);
    snprintf(what, sizeof what, "%s loss", dir);
    if (want) cf_test_compare(what, &loss, want, 1, ATOL, RTOL);
    free(want);
    // Sentence embeddings, each of sentence-transformers' pooling modes, L2-normalised or not.
    float emb[B * 64];
    static const struct {
        const char *key;
        cf_pooling pool;
        int normalize;
    } embeds[] = {{"embed.cls", CF_POOL_CLS, 1}, {"embed.mean", CF_POOL_MEAN, 1},
                  {"embed.mean_raw", CF_POOL_MEAN, 0}, {"embed.max", CF_POOL_MAX, 1},
                  {"embed.mean_sqrt_len_raw", CF_POOL_MEAN_SQRT_LEN, 0}};
    for (size_t k = 0; k < sizeof embeds / sizeof embeds[0]; k++) {
        CF_CHECK_STATUS(cf_encoder_embed(m, &in.b, embeds[k].pool, embeds[k].normalize, emb),
                        CF_OK);
        want = fx_get(&f, embeds[k].key, CF_DT_F32, B * C);
        snprintf(what, sizeof what, "%s %s", dir, embeds[k].key);
        if (want) cf_test_compare(what, emb, want, B * C, ATOL, RTOL);
        free(want);
    }
    // Gradients need writable weights (the mapped file is read-only).
    CF_CHECK_STATUS(cf__model_make_writable(m), CF_OK);
    check_grads(m, &f, task, &in, cw, dir);
    free(hidden);
    free(logits);
    inputs_free(&in);
    cf_model_free(m);
out:
    cf__st_close(&f.st);
    cf_ctx_free(ctx);
}

static void test_bert_mlm(void) {
    golden_case("bert_mlm", CF_TASK_MLM, CF_HEAD_MLM | CF_HEAD_POOLER, 0, "hf-bert");
}
static void test_bert_seq(void) {
    golden_case("bert_seq", CF_TASK_SEQ_CLS, CF_HEAD_SEQ_CLS | CF_HEAD_POOLER, 3, "hf-bert");
}
static void test_bert_tok(void) {
    golden_case("bert_tok", CF_TASK_TOKEN_CLS, CF_HEAD_TOKEN_CLS, 5, "hf-bert");
}
static void test_bert_qa(void) {
    golden_case("bert_qa", CF_TASK_QA, CF_HEAD_QA, 0, "hf-bert");
}
static void test_roberta_mlm(void) {
    golden_case("roberta_mlm", CF_TASK_MLM, CF_HEAD_MLM, 0, "hf-roberta");
}
static void test_distilbert_seq(void) {
    golden_case("distilbert_seq", CF_TASK_SEQ_CLS, CF_HEAD_SEQ_CLS | CF_HEAD_POOLER, 3,
                "hf-distilbert");
}

// A 1e-3 change to one weight must break the hidden-state comparison: the check can fail.
static void test_bert_detects_perturbation(void) {
    cf_ctx *ctx = make_ctx();
    fx f;
    if (!fx_open(&f, ctx, "bert_seq")) {
        cf_ctx_free(ctx);
        return;
    }
    cf_model *m = load(ctx, cf_test_fixture("bert_seq"));
    if (m) {
        inputs in;
        inputs_load(&in, &f, CF_TASK_SEQ_CLS, 3);
        CF_CHECK_STATUS(cf__model_make_writable(m), CF_OK);
        m->layers[1].wv.data[5] += 1e-3f;
        cf__model_weights_changed(m);  // drops packed inference weights
        float *hidden = malloc((size_t)(B * T * 12) * sizeof(float));
        float *want = fx_get(&f, "hidden", CF_DT_F32, B * T * 12);
        CF_CHECK_STATUS(cf_encoder_forward(m, &in.b, hidden), CF_OK);
        double worst = 0;
        for (int i = 0; want && i < B * T * 12; i++) {
            double r = fabs((double)hidden[i] - want[i]) / (ATOL + RTOL * fabs((double)want[i]));
            worst = r > worst ? r : worst;
        }
        CF_CHECK(worst > 10);
        // Without the padding mask, the padded sequence's outputs change: the mask is used.
        inputs no_mask = in;
        no_mask.b.mask = NULL;
        m->layers[1].wv.data[5] -= 1e-3f;
        cf__model_weights_changed(m);
        CF_CHECK_STATUS(cf_encoder_forward(m, &no_mask.b, hidden), CF_OK);
        worst = 0;
        for (int i = T * 12; want && i < B * T * 12; i++) {
            double r = fabs((double)hidden[i] - want[i]) / (ATOL + RTOL * fabs((double)want[i]));
            worst = r > worst ? r : worst;
        }
        CF_CHECK(worst > 10);
        free(hidden);
        free(want);
        inputs_free(&in);
    }
    cf_model_free(m);
    cf__st_close(&f.st);
    cf_ctx_free(ctx);
}

// ---- save and reload ----

static void roundtrip(const char *dir, cf_task task) {
    cf_ctx *ctx = make_ctx();
    fx f;
    if (!fx_open(&f, ctx, dir)) {
        cf_ctx_free(ctx);
        return;
    }
    cf_model *m = load(ctx, cf_test_fixture(dir)), *m2 = NULL;
    if (!m) goto out;
    inputs in;
    inputs_load(&in, &f, task, cf_model_config(m)->n_labels);
    char out_dir[512];
    snprintf(out_dir, sizeof out_dir, "%s/%s", cf_test_tmpdir(), dir);
    CF_CHECK_STATUS(cf_model_save(m, out_dir), CF_OK);
    m2 = load(ctx, out_dir);
    if (m2) {
        const cf_config *a = cf_model_config(m), *b = cf_model_config(m2);
        CF_CHECK_EQ(a->heads, b->heads);
        CF_CHECK_EQ(a->family, b->family);
        CF_CHECK_EQ(cf_model_n_params(m), cf_model_n_params(m2));
        for (int32_t i = 0; i < a->n_labels; i++)
            CF_CHECK(cf_model_label(m2, i) && !strcmp(cf_model_label(m, i), cf_model_label(m2, i)));
        float *x = malloc((size_t)(B * T * a->vocab_size) * sizeof(float));
        float *y = malloc((size_t)(B * T * a->vocab_size) * sizeof(float));
        int64_t n = head_logits(m, task, &in.b, x);
        CF_CHECK_EQ(head_logits(m2, task, &in.b, y), n);
        CF_CHECK(memcmp(x, y, (size_t)n * sizeof(float)) == 0);  // same weights, same logits
        free(x);
        free(y);
    }
    inputs_free(&in);
out:
    cf_model_free(m);
    cf_model_free(m2);
    cf__st_close(&f.st);
    cf_ctx_free(ctx);
}

static char *read_text(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

static void test_bert_roundtrip(void) {
    roundtrip("bert_mlm", CF_TASK_MLM);
    roundtrip("bert_seq", CF_TASK_SEQ_CLS);
    roundtrip("bert_tok", CF_TASK_TOKEN_CLS);
    roundtrip("bert_qa", CF_TASK_QA);
    roundtrip("roberta_mlm", CF_TASK_MLM);
    roundtrip("distilbert_seq", CF_TASK_SEQ_CLS);
    // The saved folders are Hugging Face folders: names, architectures, labels, tokenizer.
    char path[600];
    snprintf(path, sizeof path, "%s/bert_seq/config.json", cf_test_tmpdir());
    char *cfg = read_text(path);
    CF_CHECK_STR_CONTAINS(cfg, "\"BertForSequenceClassification\"");
    CF_CHECK_STR_CONTAINS(cfg, "\"id2label\"");
    CF_CHECK_STR_CONTAINS(cfg, "\"POS\"");
    free(cfg);
    snprintf(path, sizeof path, "%s/bert_mlm/vocab.txt", cf_test_tmpdir());
    char *vocab = read_text(path);
    CF_CHECK_STR_CONTAINS(vocab, "[MASK]");
    free(vocab);
    cf_ctx *ctx = make_ctx();
    cf_safetensors st;
    snprintf(path, sizeof path, "%s/bert_mlm/model.safetensors", cf_test_tmpdir());
    if (cf__st_open(ctx, path, &st) == CF_OK) {
        CF_CHECK(cf__st_find(&st, "bert.encoder.layer.1.attention.self.query.weight") != NULL);
        CF_CHECK(cf__st_find(&st, "cls.predictions.transform.LayerNorm.bias") != NULL);
        CF_CHECK(cf__st_find(&st, "cls.predictions.bias") != NULL);
        CF_CHECK(cf__st_find(&st, "bert.pooler.dense.weight") != NULL);
        cf__st_close(&st);
    } else {
        CF_CHECK(0);
    }
    snprintf(path, sizeof path, "%s/roberta_mlm/model.safetensors", cf_test_tmpdir());
    if (cf__st_open(ctx, path, &st) == CF_OK) {
        CF_CHECK(cf__st_find(&st, "lm_head.layer_norm.weight") != NULL);
        CF_CHECK(cf__st_find(&st, "roberta.embeddings.token_type_embeddings.weight") != NULL);
        cf__st_close(&st);
    }
    snprintf(path, sizeof path, "%s/distilbert_seq/model.safetensors", cf_test_tmpdir());
    if (cf__st_open(ctx, path, &st) == CF_OK) {
        CF_CHECK(cf__st_find(&st, "pre_classifier.weight") != NULL);
        CF_CHECK(cf__st_find(&st, "distilbert.transformer.layer.0.ffn.lin1.weight") != NULL);
        cf__st_close(&st);
    }
    cf_ctx_free(ctx);
}

// ---- bad checkpoints ----

// Copies the fixture folder's files into dir, rewriting model.safetensors without tensor
// `drop` (NULL: none) and with tensor `shrink` (NULL: none) one row shorter.
static void write_variant(cf_ctx *ctx, const char *src, const char *dir, const char *drop,
                          const char *shrink, const char *cfg_replace_from,
                          const char *cfg_replace_to) {
    char path[600];
    CF_CHECK_STATUS(cf__mkdir_p(ctx, dir), CF_OK);
    snprintf(path, sizeof path, "%s/config.json", cf_test_fixture(src));
    char *cfg = read_text(path);
    if (cfg_replace_from) {
        char *at = strstr(cfg, cfg_replace_from);
        CF_CHECK(at != NULL);
        if (at) {
            char *rest = strdup(at + strlen(cfg_replace_from));
            strcpy(at, cfg_replace_to);
            strcat(cfg, rest);
            free(rest);
        }
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *fp = fopen(path, "wb");
    fputs(cfg, fp);
    fclose(fp);
    free(cfg);
    cf_safetensors st;
    snprintf(path, sizeof path, "%s/model.safetensors", cf_test_fixture(src));
    if (cf__st_open(ctx, path, &st) != CF_OK) {
        CF_CHECK(0);
        return;
    }
    cf_st_entry *e = calloc((size_t)st.n_tensors, sizeof *e);
    int n = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const cf_st_tensor *t = &st.tensors[i];
        if (drop && !strcmp(t->name, drop)) continue;
        e[n].name = t->name;
        e[n].dtype = t->dtype;
        e[n].ndim = t->ndim;
        memcpy(e[n].shape, t->shape, sizeof t->shape);
        if (shrink && !strcmp(t->name, shrink)) e[n].shape[0]--;
        e[n].data = t->data;
        n++;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CF_CHECK_STATUS(cf__st_write(ctx, path, e, n, NULL, NULL, 0), CF_OK);
    free(e);
    cf__st_close(&st);
}

static void test_bert_bad_files(void) {
    cf_ctx *ctx = make_ctx();
    char dir[600];
    cf_model *m = NULL;
    // Missing tensor: the message names the file and the tensor.
    snprintf(dir, sizeof dir, "%s/missing", cf_test_tmpdir());
    write_variant(ctx, "bert_seq", dir, "bert.encoder.layer.1.output.dense.bias", NULL, NULL, NULL);
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &m), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "model.safetensors");
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "bert.encoder.layer.1.output.dense.bias");
    CF_CHECK(m == NULL);
    // A missing head tensor.
    snprintf(dir, sizeof dir, "%s/missing_head", cf_test_tmpdir());
    write_variant(ctx, "bert_qa", dir, "qa_outputs.weight", NULL, NULL, NULL);
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &m), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "qa_outputs.weight");
    // Wrong shape (a classifier with one label fewer than id2label says).
    snprintf(dir, sizeof dir, "%s/shape", cf_test_tmpdir());
    write_variant(ctx, "bert_seq", dir, NULL, "classifier.weight", NULL, NULL);
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &m), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "classifier.weight");
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "shape");
    // Unknown architecture.
    snprintf(dir, sizeof dir, "%s/arch", cf_test_tmpdir());
    write_variant(ctx, "bert_seq", dir, NULL, NULL, "BertForSequenceClassification",
                  "BertForMultipleChoice");
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &m), CF_ERR_UNSUPPORTED);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "BertForMultipleChoice");
    // Relative positions are not implemented.
    snprintf(dir, sizeof dir, "%s/relpos", cf_test_tmpdir());
    write_variant(ctx, "bert_seq", dir, NULL, NULL, "\"absolute\"", "\"relative_key\"");
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &m), CF_ERR_UNSUPPORTED);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "position_embedding_type");
    // id2label that does not name ids 0..n-1.
    snprintf(dir, sizeof dir, "%s/labels", cf_test_tmpdir());
    write_variant(ctx, "bert_seq", dir, NULL, NULL, "\"2\": \"POS\"", "\"7\": \"POS\"");
    CF_CHECK_STATUS(cf_model_load(ctx, dir, &m), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "id2label");
    cf_ctx_free(ctx);
}

// `cformer embed` on the rows of a fixture's texts.txt with args, against expected key (3, C).
static void check_embed_cli(const fx *f, const char *model, const char *args, const char *key) {
    if (!cf_cli_path()) return;
    CF_CHECK_EQ(cf_cli_sh("embed --model '%s' %s < '%s/texts.txt'", model, args, model), 0);
    enum { N = 3, C = 12 };
    float got[N * C];
    int n = 0;
    for (char *p = cf_cli_out, *end; n < N * C; p = end, n++) {
        got[n] = strtof(p, &end);
        if (end == p) break;
    }
    CF_CHECK_EQ(n, N * C);
    float *want = fx_get(f, key, CF_DT_F32, N * C);
    char what[256];
    snprintf(what, sizeof what, "embed %s", args);
    if (want && n == N * C) cf_test_compare(what, got, want, N * C, ATOL, RTOL);
    free(want);
}

// sentence-transformers folders: modules.json decides pooling, normalisation and length, and
// `cformer embed` prints the vectors sentence-transformers makes (the fixture's reference is
// its Pooling and Normalize written in torch). Malformed or unsupported set-ups are refused by
// name.
static void test_sentence_transformers(void) {
    cf_ctx *ctx = make_ctx();
    char model[PATH_MAX];
    if (!realpath(cf_test_fixture("st_embed"), model)) {
        CF_CHECK(!"tests/fixtures/st_embed (run /usr/bin/python3 tools/gen_bert_refs.py)");
        cf_ctx_free(ctx);
        return;
    }
    cf_embed_config ec;
    CF_CHECK_STATUS(cf_embed_config_load(ctx, model, &ec), CF_OK);
    CF_CHECK_EQ(ec.found, 1);
    CF_CHECK_EQ(ec.pooling, CF_POOL_MAX);
    CF_CHECK_EQ(ec.normalize, 1);
    CF_CHECK_EQ(ec.max_seq_length, 8);
    CF_CHECK_EQ(ec.dim, 12);
    CF_CHECK(!strcmp(ec.module_path, ""));
    CF_CHECK_STATUS(cf_embed_config_load(ctx, cf_test_fixture("bert_seq"), &ec), CF_OK);
    CF_CHECK_EQ(ec.found, 0);
    CF_CHECK_EQ(ec.pooling, CF_POOL_MEAN);
    CF_CHECK_EQ(ec.normalize, 0);
    fx f;
    if (fx_open(&f, ctx, "st_embed")) {
        check_embed_cli(&f, model, "", "cli.default");  // max pooling, normalised, 8 tokens
        check_embed_cli(&f, model, "--pooling mean_sqrt_len --no-normalize",
                        "cli.mean_sqrt_len_raw");
        check_embed_cli(&f, model, "--pooling cls --max-len 4", "cli.cls_len4");
        cf__st_close(&f.st);
    }
    // Each line is stripped as Python's str.strip() does before the tokenizer (ST does), seen
    // through a tokenizer with a token for the space (WordPiece would drop whitespace anyway).
    if (cf_cli_path()) {
        const char *tmp = cf_test_tmpdir();
        cf_test_put(tmp, "ws.json",
                    "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, "
                    "\"pre_tokenizer\": null, \"post_processor\": null, \"decoder\": null, "
                    "\"model\": {\"type\": \"BPE\", \"unk_token\": \"[UNK]\", \"vocab\": "
                    "{\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"[MASK]\": 4, "
                    "\" \": 5, \"a\": 6, \"b\": 7, \"ab\": 8}, \"merges\": [\"a b\"]}}");
        cf_test_put(tmp, "ws_text.txt", " \xe3\x80\x80" "ab\xc2\xa0 ");
        CF_CHECK_EQ(cf_cli_sh("tokenize --tokenizer ws.json --file ws_text.txt"), 0);
        CF_CHECK(strcmp(cf_cli_out, "8\n") != 0);  // the tokenizer does see the spaces
        cf_test_put(tmp, "ws_lines.txt", " \xe3\x80\x80" "ab\xc2\xa0 \nab\n");
        CF_CHECK_EQ(cf_cli_sh("embed --model '%s' --tokenizer ws.json < ws_lines.txt", model), 0);
        char *nl = strchr(cf_cli_out, '\n');
        CF_CHECK(nl && strlen(nl + 1) == (size_t)(nl - cf_cli_out) + 1 &&
                 !strncmp(cf_cli_out, nl + 1, (size_t)(nl - cf_cli_out)));
    }

    // Bad set-ups, each in a folder of its own.
    static const struct {
        const char *modules, *pooling, *sbert;
        cf_status st;
        const char *says;
    } bad[] = {
        {"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
         " {\"path\": \"../up\", \"type\": \"sentence_transformers.models.Pooling\"}]",
         NULL, NULL, CF_ERR_FORMAT, "leaves the folder"},
        {"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
         " {\"path\": \"p\", \"type\": \"sentence_transformers.models.Pooling\"},"
         " {\"path\": \"d\", \"type\": \"sentence_transformers.models.Dense\"}]",
         "{\"pooling_mode_mean_tokens\": true}", NULL, CF_ERR_UNSUPPORTED, "Dense"},
        {"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
         " {\"path\": \"p\", \"type\": \"sentence_transformers.models.Pooling\"}]",
         "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": true}", NULL,
         CF_ERR_UNSUPPORTED, "pooling_mode_mean_tokens"},
        {"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
         " {\"path\": \"p\", \"type\": \"sentence_transformers.models.Pooling\"}]",
         "{\"pooling_mode_lasttoken\": true}", NULL, CF_ERR_UNSUPPORTED, "lasttoken"},
        {"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
         " {\"path\": \"p\", \"type\": \"sentence_transformers.models.Pooling\"}]",
         "{\"pooling_mode_mean_tokens\": true}", "{\"do_lower_case\": true}",
         CF_ERR_UNSUPPORTED, "do_lower_case"},
        {"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
         " {\"path\": \"p\", \"type\": \"sentence_transformers.models.Pooling\"}]",
         "{\"pooling_mode_mean_tokens\": true}", "{\"max_seq_length\": -3}", CF_ERR_FORMAT,
         "max_seq_length"},
        {"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
         " {\"path\": \"p\", \"type\": \"sentence_transformers.models.Pooling\"}]",
         NULL, NULL, CF_ERR_IO, "p/config.json"},
        {"[{\"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"}]",
         NULL, NULL, CF_ERR_UNSUPPORTED, "no Pooling module"},
        {"[{\"path\": \"\", \"type\": ", NULL, NULL, CF_ERR_FORMAT, "modules.json"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[1024], sub[1100];
        snprintf(dir, sizeof dir, "%s/st_bad%zu", cf_test_tmpdir(), i);
        snprintf(sub, sizeof sub, "%s/p", dir);
        CF_CHECK_STATUS(cf__mkdir_p(ctx, sub), CF_OK);
        cf_test_put(dir, "modules.json", bad[i].modules);
        if (bad[i].pooling) cf_test_put(sub, "config.json", bad[i].pooling);
        if (bad[i].sbert) cf_test_put(dir, "sentence_bert_config.json", bad[i].sbert);
        CF_CHECK_STATUS(cf_embed_config_load(ctx, dir, &ec), bad[i].st);
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), bad[i].says);
    }
    cf_ctx_free(ctx);
}

// Bad batches: clear errors, never a crash.
static void test_bert_bad_batches(void) {
    cf_ctx *ctx = make_ctx();
    cf_model *m = load(ctx, cf_test_fixture("bert_seq"));
    if (!m) {
        cf_ctx_free(ctx);
        return;
    }
    int32_t tok[B * T] = {0}, types[B * T] = {0}, labels[B] = {0, 3};
    float out[B * T * 64];
    cf_encoder_batch b = {tok, types, NULL, B, T, labels, NULL, NULL};
    tok[3] = 40;  // V = 40
    CF_CHECK_STATUS(cf_encoder_forward(m, &b, out), CF_ERR_RANGE);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "token id 40");
    tok[3] = 5;
    types[2] = 2;  // type_vocab_size = 2
    CF_CHECK_STATUS(cf_encoder_forward(m, &b, out), CF_ERR_RANGE);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "type_ids[2]");
    types[2] = 1;
    float loss;
    CF_CHECK_STATUS(cf_encoder_loss(m, CF_TASK_SEQ_CLS, &b, NULL, &loss), CF_ERR_RANGE);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "labels[1] = 3");
    CF_CHECK_STATUS(cf_encoder_qa_logits(m, &b, out, out), CF_ERR_UNSUPPORTED);
    CF_CHECK_STATUS(cf_encoder_mlm_logits(m, &b, out), CF_ERR_UNSUPPORTED);
    b.T = 17;  // n_ctx = 16
    CF_CHECK_STATUS(cf_encoder_forward(m, &b, out), CF_ERR_INVALID_ARG);
    CF_CHECK_EQ(cf_model_label_id(m, "NEU"), 1);
    CF_CHECK(cf_model_label(m, 3) == NULL);
    cf_model_free(m);
    cf_ctx_free(ctx);
}

// ---- fine-tuning ----

static void test_bert_finetune(void) {
    cf_ctx *ctx = make_ctx();
    fx f;
    if (!fx_open(&f, ctx, "bert_seq")) {
        cf_ctx_free(ctx);
        return;
    }
    cf_model *m = load(ctx, cf_test_fixture("bert_seq"));
    if (!m) goto out;
    inputs in;
    inputs_load(&in, &f, CF_TASK_SEQ_CLS, 3);
    cf_train_params p = cf_train_default_params();
    p.seq_len = T;
    p.batch_size = B;
    p.lr = 1e-2f;
    p.min_lr = 1e-2f;
    p.warmup_steps = 0;
    p.max_steps = 20;
    cf_trainer *t = NULL;
    CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_OK);
    if (!t) goto out_m;
    CF_CHECK_STATUS(cf_trainer_layer_decay(t, 0.5f), CF_OK);
    CF_CHECK_STATUS(cf_trainer_freeze(t, 1, 1), CF_OK);
    CF_CHECK_NEAR(cf_trainer_lr_scale_of(t, "classifier.weight"), 1.0, 0);
    CF_CHECK_NEAR(cf_trainer_lr_scale_of(t, "layers.1.attn.wq"), 0.5, 0);  // L = 2: 0.5^1
    CF_CHECK_NEAR(cf_trainer_lr_scale_of(t, "layers.0.attn.wq"), 0.0, 0);  // frozen
    CF_CHECK_NEAR(cf_trainer_lr_scale_of(t, "tok_type_embeddings"), 0.0, 0);
    float w_frozen = m->layers[0].wq.data[3], w_emb = m->wte.data[100];
    float w_live = m->layers[1].wq.data[3];
    float first = 0, last = 0;
    for (int s = 0; s < 15; s++) {
        cf_step_stats st;
        CF_CHECK_STATUS(cf_trainer_step_task(t, CF_TASK_SEQ_CLS, &in.b, 1, in.class_w, &st),
                        CF_OK);
        if (s == 0) first = st.loss;
        last = st.loss;
        CF_CHECK_EQ(st.tokens, 7 + 4);  // unmasked tokens
    }
    // The first step's loss is the fixture's (class-weighted) loss.
    float *want = fx_get(&f, "loss", CF_DT_F32, 1);
    if (want) CF_CHECK_NEAR(first, want[0], 1e-5);
    free(want);
    CF_CHECK(last < 0.5f * first);
    CF_CHECK(m->layers[0].wq.data[3] == w_frozen);
    CF_CHECK(m->wte.data[100] == w_emb);
    CF_CHECK(m->layers[1].wq.data[3] != w_live);
    // Class weights change the loss (and a bad one is rejected).
    float l1 = 0, l2 = 0, bad[3] = {1, -1, 1};
    CF_CHECK_STATUS(cf_encoder_loss(m, CF_TASK_SEQ_CLS, &in.b, NULL, &l1), CF_OK);
    CF_CHECK_STATUS(cf_encoder_loss(m, CF_TASK_SEQ_CLS, &in.b, in.class_w, &l2), CF_OK);
    CF_CHECK(l1 != l2);
    CF_CHECK_STATUS(cf_trainer_step_task(t, CF_TASK_SEQ_CLS, &in.b, 1, bad, NULL),
                    CF_ERR_INVALID_ARG);
    // Another task's step on this model: its head is missing.
    CF_CHECK_STATUS(cf_trainer_step_task(t, CF_TASK_QA, &in.b, 1, NULL, NULL), CF_ERR_UNSUPPORTED);
    cf_trainer_free(t);
out_m:
    inputs_free(&in);
    cf_model_free(m);
out:
    cf__st_close(&f.st);
    cf_ctx_free(ctx);
}

// MLM fine-tuning through two micro-batches (tied decoder: embeddings learn through it).
static void test_bert_mlm_train(void) {
    cf_ctx *ctx = make_ctx();
    fx f;
    if (!fx_open(&f, ctx, "bert_mlm")) {
        cf_ctx_free(ctx);
        return;
    }
    cf_model *m = load(ctx, cf_test_fixture("bert_mlm"));
    if (m) {
        inputs in;
        inputs_load(&in, &f, CF_TASK_MLM, 0);
        cf_train_params p = cf_train_default_params();
        p.seq_len = T;
        p.lr = 5e-3f;
        p.min_lr = 5e-3f;
        p.warmup_steps = 0;
        cf_trainer *t = NULL;
        CF_CHECK_STATUS(cf_trainer_create(m, &p, &t), CF_OK);
        cf_encoder_batch two[2] = {in.b, in.b};
        float first = 0, last = 0;
        for (int s = 0; t && s < 10; s++) {
            cf_step_stats st;
            CF_CHECK_STATUS(cf_trainer_step_task(t, CF_TASK_MLM, two, 2, NULL, &st), CF_OK);
            if (s == 0) first = st.loss;
            last = st.loss;
        }
        float *want = fx_get(&f, "loss", CF_DT_F32, 1);
        if (want) CF_CHECK_NEAR(first, want[0], 1e-5);
        free(want);
        CF_CHECK(last < first);
        cf_trainer_free(t);
        inputs_free(&in);
    }
    cf_model_free(m);
    cf__st_close(&f.st);
    cf_ctx_free(ctx);
}

const cf_test tests_bert[] = {
    {"golden/bert_mlm", test_bert_mlm},
    {"golden/bert_seq_cls", test_bert_seq},
    {"golden/bert_token_cls", test_bert_tok},
    {"golden/bert_qa", test_bert_qa},
    {"golden/roberta_mlm", test_roberta_mlm},
    {"golden/distilbert_seq_cls", test_distilbert_seq},
    {"golden/bert_detects_perturbation", test_bert_detects_perturbation},
    {"golden/bert_roundtrip", test_bert_roundtrip},
    {"golden/bert_bad_files", test_bert_bad_files},
    {"golden/bert_bad_batches", test_bert_bad_batches},
    {"golden/sentence_transformers", test_sentence_transformers},
    {"golden/bert_finetune", test_bert_finetune},
    {"golden/bert_mlm_train", test_bert_mlm_train},
    {NULL, NULL},
};
