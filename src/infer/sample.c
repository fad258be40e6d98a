// Sampling a token from logits: repetition penalty, then greedy (temperature 0) or
// top-k -> temperature -> softmax -> min-p -> top-p -> a seeded draw.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"

typedef struct cand {
    float logit;
    int32_t id;
} cand;

// Descending logit; ties: lower id first, so results do not depend on the sort's stability.
static int by_logit_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

struct cf_sampler {
    cf_ctx *ctx;
    cf_sampler_params p;
    cf_rng rng;
    int32_t V;
    float *prob;     // (V)
    int32_t *idx;    // (V) candidate ids
    cand *sorted;    // (V) candidates being sorted
    uint8_t *seen;   // (V) marks for the penalty window
};

cf_sampler_params cf_sampler_default_params(void) {
    cf_sampler_params p = {0};
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64;
    p.seed = 0;
    return p;
}

cf_status cf_sampler_create(cf_ctx *ctx, const cf_sampler_params *p, int32_t V,
                            cf_sampler **out) {
    *out = NULL;
    if (!(p->temperature >= 0.0f) || p->top_k < 0 || !(p->top_p > 0.0f && p->top_p <= 1.0f) ||
        !(p->min_p >= 0.0f && p->min_p <= 1.0f) || !(p->repeat_penalty > 0.0f) ||
        p->repeat_last_n < 0)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG,
                      "sampler: need temperature >= 0, top_k >= 0, 0 < top_p <= 1, "
                      "0 <= min_p <= 1, repeat_penalty > 0");
    cf_sampler *s = cf__calloc(1, sizeof *s);
    if (!s) return CF_NOMEM(ctx);
    s->ctx = ctx;
    s->p = *p;
    s->V = V;
    cf__rng_seed(&s->rng, p->seed);
    s->prob = cf__malloc((size_t)V * sizeof(float));
    s->idx = cf__malloc((size_t)V * sizeof(int32_t));
    s->seen = cf__calloc((size_t)V, 1);
    s->sorted = cf__malloc((size_t)V * sizeof(cand));
    if (!s->prob || !s->idx || !s->seen || !s->sorted) {
        cf_sampler_free(s);
        return CF_NOMEM(ctx);
    }
    *out = s;
    return CF_OK;
}

void cf_sampler_free(cf_sampler *s) {
    if (!s) return;
    cf__free(s->prob);
    cf__free(s->idx);
    cf__free(s->seen);
    cf__free(s->sorted);
    cf__free(s);
}


int32_t cf_sampler_sample(cf_sampler *s, float *logits, const int32_t *history,
                          int64_t n_history) {
    const cf_sampler_params *p = &s->p;
    int32_t V = s->V;
    if (p->repeat_penalty != 1.0f && p->repeat_last_n > 0 && n_history > 0) {
        int64_t from = n_history > p->repeat_last_n ? n_history - p->repeat_last_n : 0;
        for (int64_t i = from; i < n_history; i++) {
            int32_t t = history[i];
            if (t < 0 || t >= V || s->seen[t]) continue;
            s->seen[t] = 1;
            logits[t] = logits[t] > 0 ? logits[t] / p->repeat_penalty
                                      : logits[t] * p->repeat_penalty;
        }
        for (int64_t i = from; i < n_history; i++)
            if (history[i] >= 0 && history[i] < V) s->seen[history[i]] = 0;
    }
    if (p->temperature == 0.0f) {
        int32_t best = 0;
        for (int32_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    // Candidates: all ids, or the top k.
    int32_t n = V;
    for (int32_t i = 0; i < V; i++) s->idx[i] = i;
    float mx = -INFINITY;
    for (int32_t i = 0; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    // Probabilities at temperature T over all ids first (for the exact top-p prefilter).
    double sum = 0;
    for (int32_t i = 0; i < V; i++) {
        s->prob[i] = expf((logits[i] - mx) / p->temperature);
        sum += s->prob[i];
    }
    bool need_sort = (p->top_k > 0 && p->top_k < V) || p->top_p < 1.0f;
    if (need_sort) {
        // Tokens below (1 - top_p) / V in probability can never enter the nucleus, nor the top k
        // unless fewer than k remain; keep enough of them for both rules to be exact.
        float cut = p->top_p < 1.0f ? (float)((1.0 - p->top_p) / V * sum) : 0.0f;
        int32_t kept = 0;
        for (int32_t i = 0; i < V; i++)
            if (s->prob[i] >= cut) s->idx[kept++] = i;
        if (p->top_k > 0 && kept < p->top_k && kept < V) {
            kept = V;  // rare: fall back to all ids
            for (int32_t i = 0; i < V; i++) s->idx[i] = i;
        }
        n = kept;
        for (int32_t i = 0; i < n; i++) s->sorted[i] = (cand){logits[s->idx[i]], s->idx[i]};
        qsort(s->sorted, (size_t)n, sizeof(cand), by_logit_desc);
        for (int32_t i = 0; i < n; i++) s->idx[i] = s->sorted[i].id;
        if (p->top_k > 0 && p->top_k < n) n = p->top_k;
    }
    // Renormalise over the candidates, then min-p and top-p.
    double z = 0;
    float pmax = 0;
    for (int32_t i = 0; i < n; i++) {
        float q = s->prob[s->idx[i]];
        z += q;
        pmax = q > pmax ? q : pmax;
    }
    if (p->min_p > 0.0f) {
        int32_t k = 0;
        double z2 = 0;
        for (int32_t i = 0; i < n; i++) {
            float q = s->prob[s->idx[i]];
            if (q >= p->min_p * pmax) {
                s->idx[k++] = s->idx[i];
                z2 += q;
            }
        }
        n = k;
        z = z2;
    }
    if (p->top_p < 1.0f) {
        double cum = 0;
        int32_t k = 0;
        while (k < n) {
            cum += s->prob[s->idx[k]] / z;
            k++;
            if (cum >= p->top_p) break;
        }
        double z2 = 0;
        for (int32_t i = 0; i < k; i++) z2 += s->prob[s->idx[i]];
        n = k;
        z = z2;
    }
    double r = (double)cf__rng_uniform(&s->rng) * z, acc = 0;
    for (int32_t i = 0; i < n; i++) {
        acc += s->prob[s->idx[i]];
        if (r < acc) return s->idx[i];
    }
    return s->idx[n - 1];
}
