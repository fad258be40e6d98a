// Training encoder-decoder (translation) models on trainer.c's optimizer: the inverse-square-
// root schedule, the token-budget batcher over sentence pairs, the label-smoothed teacher-
// forcing step, and checkpoint averaging.
//
// Not here: the model math (src/models/encdec.c, decoder.c), tokenization
// (src/tokenizers/marian.c), decoding and BLEU (the caller: cli/cmd_translate.c).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cformer/seq2seq.h"
#include "train_internal.h"

// ---- schedule ----

float cf_lr_inverse_sqrt(float peak, int64_t warmup, int64_t s) {
    if (s < 1) s = 1;
    if (warmup < 1) return (float)((double)peak / sqrt((double)s));  // no warmup: peak / sqrt(s)
    double up = (double)s / (double)warmup, down = sqrt((double)warmup / (double)s);
    return (float)((double)peak * (up < down ? up : down));
}

float cf_lr_noam_peak(int32_t d_model, int64_t warmup, float factor) {
    return (float)((double)factor / sqrt((double)d_model * (double)(warmup > 0 ? warmup : 1)));
}

// ---- the batcher ----

typedef struct pair {
    int32_t *src, *tgt;
    int32_t ns, nt;
    int64_t index;
} pair;

typedef struct span {
    int64_t first, n;     // pairs [first, first + n) of the sorted list
    int32_t S, T;
} span;

struct cf_s2s_batcher {
    cf_ctx *ctx;
    pair *pairs;          // sorted by length
    int64_t n_pairs, n_skipped;
    span *batches;
    int64_t n_batches;
    int64_t *order;       // the current epoch's batch order
    int64_t epoch;        // whose order is in order (-1: none yet)
    uint64_t seed;
    int32_t pad, start;
    int32_t *src, *tgt_in, *labels;
    uint8_t *mask;
    size_t cap;           // elements of each buffer
};

void cf_s2s_batcher_free(cf_s2s_batcher *b) {
    if (!b) return;
    for (int64_t i = 0; b->pairs && i < b->n_pairs; i++) {
        cf__free(b->pairs[i].src);
        cf__free(b->pairs[i].tgt);
    }
    cf__free(b->pairs);
    cf__free(b->batches);
    cf__free(b->order);
    cf__free(b->src);
    cf__free(b->tgt_in);
    cf__free(b->labels);
    cf__free(b->mask);
    cf__free(b);
}

static int by_length(const void *x, const void *y) {
    const pair *a = x, *b = y;
    if (a->ns != b->ns) return a->ns < b->ns ? -1 : 1;
    if (a->nt != b->nt) return a->nt < b->nt ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

cf_status cf_s2s_batcher_create(cf_model *m, const int32_t *const *src, const int32_t *src_len,
                                const int32_t *const *tgt, const int32_t *tgt_len, int64_t n,
                                int32_t max_tokens, int32_t max_len, uint64_t seed,
                                cf_s2s_batcher **out) {
    *out = NULL;
    cf_ctx *ctx = m->ctx;
    const cf_config *c = &m->cfg;
    if (c->n_dec_layers <= 0)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "the model is not an encoder-decoder model");
    if (n < 0 || max_tokens < 2 || max_len < 1)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "batcher: n = %lld, max_tokens = %d, max_len = %d",
                      (long long)n, max_tokens, max_len);
    if (max_len > c->n_ctx) max_len = c->n_ctx;
    int32_t Vs = c->src_vocab_size > 0 ? c->src_vocab_size : c->vocab_size;
    cf_s2s_batcher *b = cf__calloc(1, sizeof *b);
    if (!b) return CF_NOMEM(ctx);
    b->ctx = ctx;
    b->seed = seed;
    b->epoch = -1;
    b->pad = c->pad_id >= 0 ? c->pad_id : 0;
    b->start = c->decoder_start_id;
    b->pairs = cf__calloc((size_t)n + 1, sizeof(pair));
    if (!b->pairs) goto oom;
    for (int64_t i = 0; i < n; i++) {
        int32_t ns = src_len[i], nt = tgt_len[i];
        if (ns < 1 || nt < 1 || ns > max_len || nt > max_len) {
            b->n_skipped++;
            continue;
        }
        for (int32_t j = 0; j < ns; j++)
            if (src[i][j] < 0 || src[i][j] >= Vs) {
                cf_s2s_batcher_free(b);
                return CF_ERR(ctx, CF_ERR_RANGE, "pair %lld: source id %d is outside [0, %d)",
                              (long long)i, src[i][j], Vs);
            }
        for (int32_t j = 0; j < nt; j++)
            if (tgt[i][j] < 0 || tgt[i][j] >= c->vocab_size) {
                cf_s2s_batcher_free(b);
                return CF_ERR(ctx, CF_ERR_RANGE, "pair %lld: target id %d is outside [0, %d)",
                              (long long)i, tgt[i][j], c->vocab_size);
            }
        pair *p = &b->pairs[b->n_pairs++];
        p->src = cf__malloc((size_t)ns * sizeof(int32_t));
        p->tgt = cf__malloc((size_t)nt * sizeof(int32_t));
        if (!p->src || !p->tgt) goto oom;
        memcpy(p->src, src[i], (size_t)ns * sizeof(int32_t));
        memcpy(p->tgt, tgt[i], (size_t)nt * sizeof(int32_t));
        p->ns = ns;
        p->nt = nt;
        p->index = i;
    }
    if (b->n_pairs == 0) {
        cf_s2s_batcher_free(b);
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no sentence pair fits (all %lld are empty or "
                      "longer than %d tokens)", (long long)n, max_len);
    }
    qsort(b->pairs, (size_t)b->n_pairs, sizeof(pair), by_length);
    b->batches = cf__calloc((size_t)b->n_pairs, sizeof(span));
    b->order = cf__calloc((size_t)b->n_pairs, sizeof(int64_t));
    if (!b->batches || !b->order) goto oom;
    size_t cap = 0;
    for (int64_t i = 0; i < b->n_pairs;) {
        span s = {i, 0, 0, 0};
        while (i < b->n_pairs) {
            const pair *p = &b->pairs[i];
            int32_t S = p->ns > s.S ? p->ns : s.S, T = p->nt > s.T ? p->nt : s.T;
            if (s.n > 0 && (s.n + 1) * (int64_t)(S + T) > max_tokens) break;
            s.S = S;
            s.T = T;
            s.n++;
            i++;
        }
        b->batches[b->n_batches++] = s;
        size_t need = (size_t)s.n * (size_t)(s.S > s.T ? s.S : s.T);
        if (need > cap) cap = need;
    }
    b->cap = cap;
    b->src = cf__malloc(cap * sizeof(int32_t));
    b->tgt_in = cf__malloc(cap * sizeof(int32_t));
    b->labels = cf__malloc(cap * sizeof(int32_t));
    b->mask = cf__malloc(cap);
    if (!b->src || !b->tgt_in || !b->labels || !b->mask) goto oom;
    *out = b;
    return CF_OK;
oom:
    cf_s2s_batcher_free(b);
    return CF_NOMEM(ctx);
}

int64_t cf_s2s_batcher_n_batches(const cf_s2s_batcher *b) { return b->n_batches; }
int64_t cf_s2s_batcher_n_skipped(const cf_s2s_batcher *b) { return b->n_skipped; }

// The epoch's order: Fisher-Yates from a generator seeded by (seed, epoch).
static void shuffle_epoch(cf_s2s_batcher *b, int64_t epoch) {
    cf_rng r;
    cf__rng_seed(&r, b->seed ^ ((uint64_t)epoch + 1) * 0x9E3779B97F4A7C15ull);
    for (int64_t i = 0; i < b->n_batches; i++) b->order[i] = i;
    for (int64_t i = b->n_batches - 1; i > 0; i--) {
        int64_t j = (int64_t)cf__rng_below(&r, (uint64_t)i + 1);
        int64_t x = b->order[i];
        b->order[i] = b->order[j];
        b->order[j] = x;
    }
    b->epoch = epoch;
}

cf_status cf_s2s_batcher_get(cf_s2s_batcher *b, int64_t k, cf_s2s_batch *out,
                             int64_t *pair_index) {
    if (k < 0) return CF_ERR(b->ctx, CF_ERR_INVALID_ARG, "batch %lld", (long long)k);
    int64_t epoch = k / b->n_batches;
    if (epoch != b->epoch) shuffle_epoch(b, epoch);
    const span *s = &b->batches[b->order[k % b->n_batches]];
    int32_t B = (int32_t)s->n, S = s->S, T = s->T;
    int64_t n_src = 0, n_tgt = 0;
    for (int32_t i = 0; i < B; i++) {
        const pair *p = &b->pairs[s->first + i];
        if (pair_index) pair_index[i] = p->index;
        for (int32_t j = 0; j < S; j++) {
            b->src[(size_t)i * S + j] = j < p->ns ? p->src[j] : b->pad;
            b->mask[(size_t)i * S + j] = j < p->ns;
        }
        for (int32_t j = 0; j < T; j++) {
            b->tgt_in[(size_t)i * T + j] = j == 0 ? b->start : j < p->nt ? p->tgt[j - 1] : b->pad;
            b->labels[(size_t)i * T + j] = j < p->nt ? p->tgt[j] : -1;
        }
        n_src += p->ns;
        n_tgt += p->nt;
    }
    *out = (cf_s2s_batch){B, S, T, b->src, b->mask, b->tgt_in, b->labels, n_src, n_tgt};
    return CF_OK;
}

// ---- the training step ----

cf_status cf_trainer_step_s2s(cf_trainer *t, const cf_s2s_batch *batches, int32_t n_micro,
                              float label_smoothing, cf_step_stats *st) {
    cf_model *m = cf__trainer_model(t);
    cf_ctx *ctx = m->ctx;
    if (n_micro < 1 || !batches)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "%d micro-batches", n_micro);
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "label_smoothing = %g (must be in [0, 1))",
                      label_smoothing);
    int64_t valid = 0, tokens = 0;
    for (int32_t a = 0; a < n_micro; a++) {
        const cf_s2s_batch *b = &batches[a];
        CF_TRY(cf__encdec_check_batch(m, b->src, b->B, b->S, b->tgt_in, b->T));
        for (int64_t i = 0; i < (int64_t)b->B * b->T; i++) {
            if (b->labels[i] < -1 || b->labels[i] >= m->cfg.vocab_size)
                return CF_ERR(ctx, CF_ERR_RANGE, "batch %d: label %d at %lld is outside [-1, %d)",
                              a, b->labels[i], (long long)i, m->cfg.vocab_size);
            valid += b->labels[i] >= 0;
        }
        for (int64_t i = 0; i < (int64_t)b->B * b->S; i++) tokens += !b->src_mask || b->src_mask[i];
    }
    tokens += valid;
    double t0 = cf__now();
    cf__trainer_zero_grads(t);
    cf_graph *g = cf__trainer_task_graph(t);
    double loss_sum = 0;
    for (int32_t a = 0; a < n_micro; a++) {
        const cf_s2s_batch *b = &batches[a];
        int64_t va = 0;
        for (int64_t i = 0; i < (int64_t)b->B * b->T; i++) va += b->labels[i] >= 0;
        if (va == 0) continue;
        // Each micro-batch's mean, weighted by its share of the tokens: the gradient of the
        // mean over all of them.
        float seed = (float)va / (float)valid;
        cf__trainer_dropout(t, g, a);
        for (int measure = 1; measure >= 0; measure--) {
            cf__graph_begin(g, true, measure);
            cf_tensor *logits = cf__encdec_forward(g, m, b->src, b->src_mask, b->B, b->S,
                                                   b->tgt_in, b->T, NULL);
            cf_tensor *l = cf__cross_entropy_smooth(g, logits, b->labels, label_smoothing);
            cf__graph_backward(g, l, seed);
            if (g->oom) return CF_NOMEM(ctx);
            if (measure) CF_TRY(cf__graph_plan(g));
            else loss_sum += (double)l->data[0] * (double)va;
        }
    }
    cf__trainer_update(t, valid ? loss_sum / (double)valid : 0.0, tokens, t0, st);
    return CF_OK;
}

// ---- checkpoint averaging ----

cf_status cf_model_average(cf_ctx *ctx, const char *const *paths, int n, cf_model **out) {
    *out = NULL;
    if (n < 1 || !paths) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "average of %d models", n);
    cf_model *sum = NULL, *m = NULL;
    double *acc = NULL;
    cf_status st = cf_model_load(ctx, paths[0], &sum);
    if (st != CF_OK) return st;
    if ((st = cf__model_make_writable(sum)) != CF_OK) goto done;
    size_t nf = sum->slab_floats;
    acc = cf__malloc(nf * sizeof(double) + 1);
    if (!acc) {
        st = CF_NOMEM(ctx);
        goto done;
    }
    for (size_t i = 0; i < nf; i++) acc[i] = sum->slab[i];
    for (int k = 1; k < n; k++) {
        if ((st = cf_model_load(ctx, paths[k], &m)) != CF_OK) goto done;
        if (m->n_params != sum->n_params) {
            st = CF_ERR(ctx, CF_ERR_INVALID_ARG, "%s has %d tensors, %s has %d", paths[k],
                        m->n_params, paths[0], sum->n_params);
            goto done;
        }
        for (int i = 0; i < sum->n_params; i++) {
            const cf_weight *a = sum->params[i].w, *w = m->params[i].w;
            if (strcmp(sum->params[i].name, m->params[i].name) || a->rows != w->rows ||
                a->cols != w->cols) {
                st = CF_ERR(ctx, CF_ERR_INVALID_ARG, "%s: tensor '%s' differs in name or shape "
                            "from %s", paths[k], m->params[i].name, paths[0]);
                goto done;
            }
            double *d = acc + cf__weight_offset(sum, a);
            for (int64_t r = 0; r < w->rows; r++)
                for (int64_t c = 0; c < w->cols; c++)
                    d[r * w->cols + c] += w->trans ? w->data[c * w->ld + r] : w->data[r * w->ld + c];
        }
        cf_model_free(m);
        m = NULL;
    }
    for (size_t i = 0; i < nf; i++) sum->slab[i] = (float)(acc[i] / n);
    cf__model_weights_changed(sum);
    *out = sum;
    sum = NULL;
done:
    cf__free(acc);
    cf_model_free(m);
    cf_model_free(sum);
    return st;
}
