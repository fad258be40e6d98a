// The trainer: next-token cross-entropy on windows of a token stream, gradient accumulation,
// global-norm clipping, AdamW with decoupled weight decay (matrices and embeddings only), linear
// warmup then cosine decay, fixed validation windows, and checkpoints that resume exactly (the
// weights, both AdamW moments, the step and the sampler's random state).
//
// Memory: weights, gradients and the two moments are four slabs allocated here once; the
// activation and gradient arenas are planned by a measuring pass on the first step.
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/load.h"
#include "../models/model_internal.h"
#include "cformer/seq2seq.h"
#include "train_internal.h"

enum { SLAB_CHUNK = 1 << 16 };  // floats per chunk of the whole-slab passes

struct cf_trainer {
    cf_model *m;
    cf_ctx *ctx;
    cf_train_params p;
    cf_graph g;        // training graph, planned for (B, T)
    cf_graph ge;       // evaluation graph, planned for (B, T_eval)
    bool planned, eval_planned;
    float *grads, *mom, *vel;  // each m->slab_floats, laid out as the weights
    int64_t step;
    cf_rng rng;
    int32_t *data;     // train tokens then validation tokens
    int64_t n_train, n_val;
    uint64_t data_hash;
    int32_t *batch;    // (accum, B, T + 1)
    int32_t *inputs, *targets;  // (B, T)
    double *partial;   // per-chunk sums of squares of the gradient slab
    // Fine-tuning (encoder_train.c): a per-parameter learning-rate multiplier (0 freezes; NULL:
    // all 1) and the graph of the task steps, planned for the largest batch seen.
    float *lr_scale;   // (n_params)
    cf_graph gt;
};

cf_train_params cf_train_default_params(void) {
    cf_train_params p = {0};
    p.batch_size = 8;
    p.seq_len = 128;
    p.grad_accum = 1;
    p.max_steps = 1000;
    p.lr = 1e-3f;
    p.min_lr = 1e-4f;
    p.warmup_steps = 100;
    p.weight_decay = 0.1f;
    p.beta1 = 0.9f;
    p.beta2 = 0.95f;
    p.eps = 1e-8f;
    p.grad_clip = 1.0f;
    p.val_fraction = 0.1f;
    p.eval_every = 200;
    p.eval_batches = 8;
    p.ckpt_every = 200;
    p.seed = 1337;
    return p;
}

static cf_status check_params(cf_ctx *ctx, const cf_train_params *p, const cf_config *c) {
#define BADP(...) CF_ERR(ctx, CF_ERR_INVALID_ARG, "invalid training parameter: " __VA_ARGS__)
    if (p->batch_size < 1 || p->batch_size > 65536) return BADP("batch_size = %d", p->batch_size);
    if (p->seq_len < 1 || p->seq_len > c->n_ctx)
        return BADP("seq_len = %d (must be 1..n_ctx = %d)", p->seq_len, c->n_ctx);
    if (p->grad_accum < 1 || p->grad_accum > 65536) return BADP("grad_accum = %d", p->grad_accum);
    if (p->max_steps < 1) return BADP("max_steps = %lld", (long long)p->max_steps);
    if (!(p->lr > 0.0f) || p->lr > 10.0f) return BADP("lr = %g", p->lr);
    if (!(p->min_lr >= 0.0f) || p->min_lr > p->lr) return BADP("min_lr = %g (0..lr)", p->min_lr);
    if (p->warmup_steps < 0) return BADP("warmup_steps = %lld", (long long)p->warmup_steps);
    if (!(p->weight_decay >= 0.0f)) return BADP("weight_decay = %g", p->weight_decay);
    if (!(p->beta1 >= 0.0f && p->beta1 < 1.0f)) return BADP("beta1 = %g", p->beta1);
    if (!(p->beta2 >= 0.0f && p->beta2 < 1.0f)) return BADP("beta2 = %g", p->beta2);
    if (!(p->eps > 0.0f)) return BADP("eps = %g", p->eps);
    if (!(p->grad_clip >= 0.0f)) return BADP("grad_clip = %g", p->grad_clip);
    if (!(p->dropout >= 0.0f && p->dropout < 1.0f))
        return BADP("dropout = %g (0 <= x < 1)", p->dropout);
    if (!(p->val_fraction >= 0.0f && p->val_fraction < 1.0f))
        return BADP("val_fraction = %g (0 <= x < 1)", p->val_fraction);
    if (p->eval_every < 0 || p->ckpt_every < 0) return BADP("eval_every/ckpt_every < 0");
    if (p->eval_batches < 1) return BADP("eval_batches = %d", p->eval_batches);
    if (p->schedule != CF_SCHEDULE_COSINE && p->schedule != CF_SCHEDULE_INV_SQRT)
        return BADP("schedule = %d", p->schedule);
#undef BADP
    return CF_OK;
}

cf_status cf_trainer_create(cf_model *m, const cf_train_params *p, cf_trainer **out) {
    *out = NULL;
    cf_ctx *ctx = m->ctx;
    CF_TRY(check_params(ctx, p, &m->cfg));
    CF_TRY(cf__model_make_writable(m));
    CF_TRY(cf__model_positions(m, p->seq_len));
    cf_trainer *t = cf__calloc(1, sizeof *t);
    if (!t) return CF_NOMEM(ctx);
    t->m = m;
    t->ctx = ctx;
    t->p = *p;
    cf__rng_seed(&t->rng, p->seed);
    cf__graph_init(&t->g, ctx);
    cf__graph_init(&t->ge, ctx);
    cf__graph_init(&t->gt, ctx);
    size_t n = m->slab_floats;
    size_t bt = (size_t)p->batch_size * (size_t)p->seq_len;
    t->grads = cf__calloc(n, sizeof(float));
    t->mom = cf__calloc(n, sizeof(float));
    t->vel = cf__calloc(n, sizeof(float));
    t->batch = cf__malloc((size_t)p->grad_accum * (size_t)p->batch_size *
                          ((size_t)p->seq_len + 1) * sizeof(int32_t));
    t->inputs = cf__malloc(bt * sizeof(int32_t));
    t->targets = cf__malloc(bt * sizeof(int32_t));
    t->partial = cf__malloc(((n + SLAB_CHUNK - 1) / SLAB_CHUNK + 1) * sizeof(double));
    if (!t->grads || !t->mom || !t->vel || !t->batch || !t->inputs || !t->targets || !t->partial) {
        cf_trainer_free(t);
        return CF_NOMEM(ctx);
    }
    cf__model_set_grads(m, t->grads);
    *out = t;
    return CF_OK;
}

void cf_trainer_free(cf_trainer *t) {
    if (!t) return;
    cf__model_set_grads(t->m, NULL);
    cf__graph_deinit(&t->g);
    cf__graph_deinit(&t->ge);
    cf__graph_deinit(&t->gt);
    cf__free(t->lr_scale);
    cf__free(t->grads);
    cf__free(t->mom);
    cf__free(t->vel);
    cf__free(t->data);
    cf__free(t->batch);
    cf__free(t->inputs);
    cf__free(t->targets);
    cf__free(t->partial);
    cf__free(t);
}

static uint64_t hash_tokens(const int32_t *x, int64_t n) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)n;
    for (int64_t i = 0; i < n; i++) h = (h ^ (uint32_t)x[i]) * 1099511628211ull;
    return h;
}

cf_status cf_trainer_set_data(cf_trainer *t, const int32_t *tokens, int64_t n) {
    cf_ctx *ctx = t->ctx;
    if (t->m->cfg.n_dec_layers > 0)  // the language-model path; seq2seq: cf_trainer_step_s2s
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "cf_trainer_set_data: %s", CF__S2S_ONLY);
    CF_TRY(cf__check_tokens(ctx, tokens, n, t->m->cfg.vocab_size));
    int64_t n_val = (int64_t)((double)n * t->p.val_fraction);
    int64_t n_train = n - n_val;
    if (n_train < t->p.seq_len + 1)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG,
                      "%lld training tokens is fewer than seq_len + 1 = %d", (long long)n_train,
                      t->p.seq_len + 1);
    int32_t *d = cf__malloc((size_t)n * sizeof(int32_t));
    if (!d) return CF_NOMEM(ctx);
    memcpy(d, tokens, (size_t)n * sizeof(int32_t));
    cf__free(t->data);
    t->data = d;
    t->n_train = n_train;
    t->n_val = n_val;
    t->data_hash = hash_tokens(tokens, n);
    return CF_OK;
}

float cf_trainer_lr_at(const cf_trainer *t, int64_t step) {
    const cf_train_params *p = &t->p;
    if (p->schedule == CF_SCHEDULE_INV_SQRT)  // seq2seq.h; step here is 0-based
        return cf_lr_inverse_sqrt(p->lr, p->warmup_steps, step + 1);
    if (step < p->warmup_steps) return p->lr * (float)(step + 1) / (float)p->warmup_steps;
    if (step >= p->max_steps) return p->min_lr;
    double span = (double)(p->max_steps - p->warmup_steps);
    double ratio = span > 0 ? (double)(step - p->warmup_steps) / span : 1.0;
    double coeff = 0.5 * (1.0 + cos(3.14159265358979323846 * ratio));
    return (float)(p->min_lr + coeff * (p->lr - p->min_lr));
}

int64_t cf_trainer_step_count(const cf_trainer *t) { return t->step; }

void cf__trainer_dropout(cf_trainer *t, cf_graph *g, int64_t micro) {
    g->dropout = t->p.dropout;
    uint64_t at = ((uint64_t)t->step << 20) + (uint64_t)micro;
    g->dropout_seed = cf__mix64(t->p.seed ^ cf__mix64(at));
}

// Forward + loss (+ backward when train) for one (B, T) micro-batch of rows of T+1 tokens
// (micro-batch a of the step: it picks the dropout masks).
static cf_status micro_batch(cf_trainer *t, cf_graph *g, bool *planned, const int32_t *rows,
                             int64_t B, int64_t T, bool train, float seed, float *loss, int64_t a) {
    if (train) cf__trainer_dropout(t, g, a);
    else g->dropout = 0.0f;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < T; i++) {
            t->inputs[b * T + i] = rows[b * (T + 1) + i];
            t->targets[b * T + i] = rows[b * (T + 1) + i + 1];
        }
    if (!*planned) {
        cf__graph_begin(g, train, true);
        cf_tensor *lm = cf__cross_entropy(g, cf__model_forward(g, t->m, t->inputs, B, T, NULL, 0),
                                          t->targets);
        if (train) cf__graph_backward(g, lm, seed);
        CF_TRY(cf__graph_plan(g));
        *planned = true;
    }
    cf__graph_begin(g, train, false);
    cf_tensor *logits = cf__model_forward(g, t->m, t->inputs, B, T, NULL, 0);
    cf_tensor *l = cf__cross_entropy(g, logits, t->targets);
    if (train) cf__graph_backward(g, l, seed);
    if (g->oom) return CF_NOMEM(t->ctx);
    *loss = l->data[0];
    return CF_OK;
}

typedef struct adam_job {
    const cf_kernels *k;
    float *p, *g, *m, *v;
    int64_t n;
    cf_adamw_hp hp;
} adam_job;

static void adam_task(int ith, int nth, void *arg) {
    const adam_job *j = arg;
    int64_t lo, hi;
    cf__split(j->n, 64, ith, nth, &lo, &hi);
    if (lo < hi) j->k->adamw(hi - lo, j->p + lo, j->g + lo, j->m + lo, j->v + lo, &j->hp);
}

// Whole-slab passes, threaded over fixed chunks so the result does not depend on the thread
// count: zeroing the gradients, and their sum of squares (per-chunk partials in double, added
// in chunk order).

typedef struct slab_job {
    const cf_kernels *k;
    float *x;
    size_t n;
    double *partial;  // one per chunk, or NULL to zero x
} slab_job;

static void slab_task(int ith, int nth, void *arg) {
    const slab_job *j = arg;
    int64_t chunks = (int64_t)((j->n + SLAB_CHUNK - 1) / SLAB_CHUNK), c0, c1;
    cf__split(chunks, 1, ith, nth, &c0, &c1);
    for (int64_t c = c0; c < c1; c++) {
        size_t lo = (size_t)c * SLAB_CHUNK, hi = lo + SLAB_CHUNK < j->n ? lo + SLAB_CHUNK : j->n;
        if (!j->partial) {
            memset(j->x + lo, 0, (hi - lo) * sizeof(float));
            continue;
        }
        j->partial[c] = j->k->sumsq((int64_t)(hi - lo), j->x + lo);
    }
}

static double grad_sumsq(cf_trainer *t) {
    size_t n = t->m->slab_floats, chunks = (n + SLAB_CHUNK - 1) / SLAB_CHUNK;
    slab_job j = {t->ctx->k, t->grads, n, t->partial};
    cf__pool_run(t->ctx->pool, slab_task, &j);
    double s = 0;
    for (size_t c = 0; c < chunks; c++) s += t->partial[c];
    return s;
}

cf_status cf_trainer_step_on(cf_trainer *t, const int32_t *tokens, cf_step_stats *st) {
    cf_ctx *ctx = t->ctx;
    cf_model *m = t->m;
    const cf_train_params *p = &t->p;
    int64_t B = p->batch_size, T = p->seq_len, A = p->grad_accum;
    if (m->cfg.n_dec_layers > 0)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "cf_trainer_step_on: %s", CF__S2S_ONLY);
    for (int64_t i = 0; i < A * B * (T + 1); i++) {
        bool is_input = i % (T + 1) < T;  // the last of each row is only a target
        if (tokens[i] >= m->cfg.vocab_size || tokens[i] < (is_input ? 0 : -1))
            return CF_ERR(ctx, CF_ERR_RANGE, "token id %d at index %lld is out of range [%d, %d)",
                          tokens[i], (long long)i, is_input ? 0 : -1, m->cfg.vocab_size);
    }
    double t0 = cf__now();
    cf__trainer_zero_grads(t);
    double loss_sum = 0;
    for (int64_t a = 0; a < A; a++) {
        const int32_t *rows = tokens + a * B * (T + 1);
        float loss;
        CF_TRY(micro_batch(t, &t->g, &t->planned, rows, B, T, true, 1.0f / (float)A, &loss, a));
        loss_sum += loss;
    }
    cf__trainer_update(t, loss_sum / (double)A, A * B * T, t0, st);
    return CF_OK;
}

void cf__trainer_zero_grads(cf_trainer *t) {
    slab_job zero = {t->ctx->k, t->grads, t->m->slab_floats, NULL};
    cf__pool_run(t->ctx->pool, slab_task, &zero);
}

void cf__trainer_update(cf_trainer *t, double loss, int64_t tokens, double t0,
                        cf_step_stats *st) {
    cf_ctx *ctx = t->ctx;
    cf_model *m = t->m;
    const cf_train_params *p = &t->p;
    // Global gradient norm (double, fixed order) and clipping.
    float norm = (float)sqrt(grad_sumsq(t));
    // Clipping scales the gradient inside the AdamW pass, saving a pass over the slab.
    float gscale = p->grad_clip > 0.0f && norm > p->grad_clip ? p->grad_clip / norm : 1.0f;
    float lr = cf_trainer_lr_at(t, t->step);
    int64_t step1 = t->step + 1;
    float bc1 = 1.0f - powf(p->beta1, (float)step1), bc2 = 1.0f - powf(p->beta2, (float)step1);
    cf__model_weights_changed(m);  // packed inference weights are stale from here
    for (int i = 0; i < m->n_params; i++) {
        cf_param *pr = &m->params[i];
        size_t off = cf__weight_offset(m, pr->w);
        float lr_i = t->lr_scale ? lr * t->lr_scale[i] : lr;
        if (t->lr_scale && t->lr_scale[i] == 0.0f) continue;  // frozen: no update, no decay
        adam_job j = {ctx->k, pr->w->data, t->grads + off, t->mom + off, t->vel + off,
                      cf__weight_numel(pr->w),
                      {lr_i, p->beta1, p->beta2, p->eps, pr->decay ? p->weight_decay : 0.0f, bc1,
                       bc2, gscale}};
        if (j.n > 16384 && ctx->n_threads > 1) cf__pool_run(ctx->pool, adam_task, &j);
        else adam_task(0, 1, &j);
    }
    t->step = step1;
    if (st) {
        st->step = t->step;
        st->loss = (float)loss;
        st->lr = lr;
        st->grad_norm = norm;
        st->tokens = tokens;
        st->seconds = cf__now() - t0;
    }
}

cf_model *cf__trainer_model(cf_trainer *t) { return t->m; }
float *cf__trainer_grads(cf_trainer *t) { return t->grads; }
cf_graph *cf__trainer_task_graph(cf_trainer *t) { return &t->gt; }
float **cf__trainer_lr_scale(cf_trainer *t) { return &t->lr_scale; }

cf_status cf_trainer_step(cf_trainer *t, cf_step_stats *st) {
    if (!t->data) return CF_ERR(t->ctx, CF_ERR_INVALID_ARG, "no training data set");
    const cf_train_params *p = &t->p;
    int64_t T = p->seq_len, rows = (int64_t)p->grad_accum * p->batch_size;
    for (int64_t r = 0; r < rows; r++) {
        uint64_t off = cf__rng_below(&t->rng, (uint64_t)(t->n_train - T));
        memcpy(t->batch + r * (T + 1), t->data + off, (size_t)(T + 1) * sizeof(int32_t));
    }
    return cf_trainer_step_on(t, t->batch, st);
}

cf_status cf_trainer_eval(cf_trainer *t, float *val_loss) {
    cf_ctx *ctx = t->ctx;
    if (!t->data || t->n_val < 2)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no validation data (val_fraction too small)");
    const cf_train_params *p = &t->p;
    int64_t B = p->batch_size;
    int64_t T = p->seq_len < t->n_val - 1 ? p->seq_len : t->n_val - 1;
    const int32_t *val = t->data + t->n_train;
    int64_t windows = (int64_t)p->eval_batches * B, span = t->n_val - (T + 1);
    double sum = 0;
    for (int64_t e = 0; e < p->eval_batches; e++) {
        for (int64_t b = 0; b < B; b++) {
            int64_t w = e * B + b;
            int64_t off = windows > 1 ? span * w / (windows - 1) : 0;
            memcpy(t->batch + b * (T + 1), val + off, (size_t)(T + 1) * sizeof(int32_t));
        }
        float loss;
        CF_TRY(micro_batch(t, &t->ge, &t->eval_planned, t->batch, B, T, false, 1.0f, &loss, 0));
        sum += loss;
    }
    *val_loss = (float)(sum / (double)p->eval_batches);
    return CF_OK;
}

// ---- checkpoints ----

static char *params_json(const cf_train_params *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "batch_size", p->batch_size);
    cJSON_AddNumberToObject(o, "seq_len", p->seq_len);
    cJSON_AddNumberToObject(o, "grad_accum", p->grad_accum);
    cJSON_AddNumberToObject(o, "max_steps", (double)p->max_steps);
    cJSON_AddNumberToObject(o, "lr", p->lr);
    cJSON_AddNumberToObject(o, "min_lr", p->min_lr);
    cJSON_AddNumberToObject(o, "warmup_steps", (double)p->warmup_steps);
    cJSON_AddNumberToObject(o, "weight_decay", p->weight_decay);
    cJSON_AddNumberToObject(o, "beta1", p->beta1);
    cJSON_AddNumberToObject(o, "beta2", p->beta2);
    cJSON_AddNumberToObject(o, "eps", p->eps);
    cJSON_AddNumberToObject(o, "grad_clip", p->grad_clip);
    cJSON_AddNumberToObject(o, "val_fraction", p->val_fraction);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    cJSON_AddNumberToObject(o, "dropout", p->dropout);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

cf_status cf_trainer_save(cf_trainer *t, const char *path) {
    cf_ctx *ctx = t->ctx;
    cf_model *m = t->m;
    int n = m->n_params;
    cf_st_entry *e = cf__calloc((size_t)n * 3, sizeof *e);
    char (*names)[80] = cf__calloc((size_t)n * 2, sizeof *names);
    cJSON *cj = cf__config_to_json(&m->cfg);
    char *cfg = cj ? cJSON_PrintUnformatted(cj) : NULL;
    char *tp = params_json(&t->p);
    cf_status st = CF_OK;
    if (!e || !names || !cfg || !tp) {
        st = CF_NOMEM(ctx);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const cf_param *pr = &m->params[i];
        size_t off = cf__weight_offset(m, pr->w);
        int64_t rows = pr->w->rows, cols = pr->w->cols;
        cf_st_entry base = {pr->name, CF_DT_F32, rows == 1 ? 1 : 2,
                            {rows == 1 ? cols : rows, cols}, pr->w->data};
        e[3 * i] = base;
        snprintf(names[2 * i], sizeof names[0], "optim.m.%s", pr->name);
        snprintf(names[2 * i + 1], sizeof names[0], "optim.v.%s", pr->name);
        e[3 * i + 1] = base;
        e[3 * i + 1].name = names[2 * i];
        e[3 * i + 1].data = t->mom + off;
        e[3 * i + 2] = base;
        e[3 * i + 2].name = names[2 * i + 1];
        e[3 * i + 2].data = t->vel + off;
    }
    char step[32], rng[80], dh[32];
    snprintf(step, sizeof step, "%lld", (long long)t->step);
    snprintf(rng, sizeof rng, "%016llx%016llx%016llx%016llx", (unsigned long long)t->rng.s[0],
             (unsigned long long)t->rng.s[1], (unsigned long long)t->rng.s[2],
             (unsigned long long)t->rng.s[3]);
    snprintf(dh, sizeof dh, "%016llx", (unsigned long long)t->data_hash);
    const char *keys[] = {"format", "version", "config", "train", "step", "rng", "data_hash",
                          "tokenizer"};
    const char *vals[] = {"cformer-checkpoint", "1", cfg, tp, step, rng, dh, m->tok_hint};
    st = cf__st_write(ctx, path, e, 3 * n, keys, vals, m->tok_hint[0] ? 8 : 7);
done:
    cf__free(e);
    cf__free(names);
    cJSON_Delete(cj);
    free(cfg);
    free(tp);
    return st;
}

cf_status cf_trainer_resume(cf_trainer *t, const char *path) {
    cf_ctx *ctx = t->ctx;
    cf_model *m = t->m;
    cf_safetensors st;
    CF_TRY(cf__st_open(ctx, path, &st));
    cf_status s = CF_OK;
    cJSON *mine = cf__config_to_json(&m->cfg), *theirs = NULL;
    const char *fmt = cf__st_meta(&st, "format"), *cfg = cf__st_meta(&st, "config");
    const char *step = cf__st_meta(&st, "step"), *rng = cf__st_meta(&st, "rng");
    const char *dh = cf__st_meta(&st, "data_hash");
    if (!fmt || strcmp(fmt, "cformer-checkpoint") || !cfg || !step || !rng || !dh ||
        strlen(rng) != 64) {
        s = CF_FORMAT_ERR(ctx, "%s: not a cformer training checkpoint", path);
        goto done;
    }
    theirs = cJSON_Parse(cfg);
    if (!mine || !theirs || !cJSON_Compare(mine, theirs, 1)) {
        s = CF_ERR(ctx, CF_ERR_INVALID_ARG,
                   "%s: the checkpoint's model config differs from this model's", path);
        goto done;
    }
    char *end;
    unsigned long long hash = strtoull(dh, &end, 16);
    if (t->data && hash != t->data_hash) {
        s = CF_ERR(ctx, CF_ERR_INVALID_ARG,
                   "%s: the checkpoint was trained on different data; resume with the same "
                   "--data, or start a new run", path);
        goto done;
    }
    long long stp = strtoll(step, &end, 10);
    if (*end || stp < 0) {
        s = CF_FORMAT_ERR(ctx, "%s: bad step '%s'", path, step);
        goto done;
    }
    cf_rng r;
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, rng + 16 * i, 16);
        part[16] = 0;
        r.s[i] = strtoull(part, &end, 16);
        if (*end) {
            s = CF_FORMAT_ERR(ctx, "%s: bad rng state", path);
            goto done;
        }
    }
    cf__model_weights_changed(m);  // overwritten below (also when a tensor turns out bad)
    for (int i = 0; i < m->n_params && s == CF_OK; i++) {
        const cf_param *pr = &m->params[i];
        size_t off = cf__weight_offset(m, pr->w);
        char name[80];
        float *dst[3] = {pr->w->data, t->mom + off, t->vel + off};
        const char *pre[3] = {"", "optim.m.", "optim.v."};
        for (int k = 0; k < 3 && s == CF_OK; k++) {
            snprintf(name, sizeof name, "%s%s", pre[k], pr->name);
            const cf_st_tensor *x = cf__st_find(&st, name);
            if (!x || x->dtype != CF_DT_F32 || x->numel != cf__weight_numel(pr->w)) {
                s = CF_FORMAT_ERR(ctx, "%s: tensor '%s' missing or of the wrong size", path, name);
                break;
            }
            memcpy(dst[k], x->data, x->nbytes);
        }
    }
    if (s == CF_OK) {
        t->step = stp;
        t->rng = r;
    }
done:
    cJSON_Delete(mine);
    cJSON_Delete(theirs);
    cf__st_close(&st);
    return s;
}
