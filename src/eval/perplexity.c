// Perplexity with a sliding window (the method of Hugging Face's perplexity guide): windows of
// ctx tokens start every stride tokens; each window scores only the tokens the previous window
// did not, so every token after the first is scored once, with at least ctx - stride tokens of
// context (except in the first window). Log-probabilities are summed in double.
#include <math.h>

#include "../internal.h"

cf_status cf_perplexity(cf_model *m, const int32_t *tokens, int64_t n, int ctx_len, int stride,
                        cf_perplexity_result *out) {
    cf_ctx *ctx = cf_model_ctx(m);
    const cf_config *c = cf_model_config(m);
    if (n < 2) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "need at least 2 tokens, got %lld",
                             (long long)n);
    if (ctx_len <= 0 || ctx_len > c->n_ctx) ctx_len = c->n_ctx;
    if (ctx_len < 2) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "context must be at least 2");
    if (stride <= 0) stride = ctx_len / 2 > 0 ? ctx_len / 2 : 1;
    if (stride > ctx_len) stride = ctx_len;
    int chunk = ctx_len < 256 ? ctx_len : 256;
    cf_session *s;
    CF_TRY(cf_session_create(m, ctx_len, chunk, &s));
    int64_t V = c->vocab_size;
    float *logits = cf__malloc((size_t)chunk * (size_t)V * sizeof(float));
    if (!logits) {
        cf_session_free(s);
        return CF_NOMEM(ctx);
    }
    cf_status st = CF_OK;
    double nll = 0;
    int64_t scored = 0, scored_until = 0;  // tokens [1, scored_until] are scored
    for (int64_t begin = 0; st == CF_OK; begin += stride) {
        int64_t end = begin + ctx_len < n ? begin + ctx_len : n;
        cf_session_reset(s);
        for (int64_t at = begin; at < end && st == CF_OK; at += chunk) {
            int len = (int)(end - at < chunk ? end - at : chunk);
            st = cf_session_eval(s, tokens + at, len, 1, logits);
            // logits row r predicts token at + r + 1.
            for (int r = 0; st == CF_OK && r < len; r++) {
                int64_t t = at + r + 1;
                if (t >= end || t <= scored_until) continue;
                const float *row = logits + (int64_t)r * V;
                float mx = row[0];
                for (int64_t v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
                double z = 0;
                for (int64_t v = 0; v < V; v++) z += exp((double)(row[v] - mx));
                nll += (double)mx + log(z) - (double)row[tokens[t]];
                scored++;
            }
        }
        scored_until = end - 1;
        if (end == n) break;
    }
    cf__free(logits);
    cf_session_free(s);
    if (st != CF_OK) return st;
    out->n_scored = scored;
    out->nll = nll / (double)scored;
    out->perplexity = exp(out->nll);
    return CF_OK;
}
