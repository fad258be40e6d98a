// Text generation: prompt -> tokens -> prefill -> sample/decode loop with streaming output,
// stop strings (text is held back only while it could still begin one), end-of-sequence, and
// timing statistics.
#include <math.h>
#include <string.h>

#include "../internal.h"

cf_generate_params cf_generate_default_params(void) {
    cf_generate_params p = {0};
    p.sampler = cf_sampler_default_params();
    p.max_tokens = 256;
    p.stop = NULL;
    p.stop_at_eos = 1;
    p.add_bos = 1;
    return p;
}

// Length of the longest suffix of buf[0, n) that is a proper prefix of some stop string.
static size_t held_back(const char *buf, size_t n, const char *const *stop) {
    size_t best = 0;
    for (int i = 0; stop && stop[i]; i++) {
        size_t sl = strlen(stop[i]);
        for (size_t k = sl > n + 1 ? n : sl - 1; k > best; k--)
            if (!memcmp(buf + n - k, stop[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

// Position of the first complete stop string in buf[0, n), or -1.
static int64_t find_stop(const char *buf, size_t n, const char *const *stop) {
    int64_t first = -1;
    for (int i = 0; stop && stop[i]; i++) {
        size_t sl = strlen(stop[i]);
        if (sl == 0 || sl > n) continue;
        for (size_t at = 0; at + sl <= n; at++)
            if (!memcmp(buf + at, stop[i], sl)) {
                if (first < 0 || (int64_t)at < first) first = (int64_t)at;
                break;
            }
    }
    return first;
}

cf_status cf_generate(cf_session *s, cf_tokenizer *tok, const char *prompt,
                      const cf_generate_params *p, cf_text_fn on_text, void *user,
                      cf_generate_stats *stats) {
    cf_model *m = cf_session_model(s);
    cf_ctx *ctx = cf_model_ctx(m);
    int32_t V = cf_model_config(m)->vocab_size;
    int n_ctx = cf_session_n_ctx(s);
    if (cf_tokenizer_vocab_size(tok) > V)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "tokenizer has %d ids, the model only %d",
                      cf_tokenizer_vocab_size(tok), V);
    size_t plen = strlen(prompt);
    int64_t cap = (int64_t)plen + 8 + (p->max_tokens > 0 ? p->max_tokens : 0);
    int32_t *toks = cf__malloc((size_t)cap * sizeof(int32_t));
    float *logits = cf__malloc((size_t)V * sizeof(float));
    char *pending = NULL;
    cf_sampler *smp = NULL;
    cf_status st = CF_OK;
    cf_generate_stats local = {0};
    local.stop_reason = "length";
    if (!toks || !logits) {
        st = CF_NOMEM(ctx);
        goto done;
    }
    int64_t n = 0;
    st = cf_tokenizer_encode(tok, prompt, plen, p->add_bos, toks, cap, &n);
    int64_t need = n + (p->max_tokens > 0 ? p->max_tokens : 0);
    if ((st == CF_OK || st == CF_ERR_RANGE) && need > cap) {
        // The tokenizer expanded the text (NFKC, byte fallback): room for it and the output.
        cap = need;
        int32_t *bigger = cf__realloc(toks, (size_t)cap * sizeof(int32_t));
        if (!bigger) {
            st = CF_NOMEM(ctx);
            goto done;
        }
        toks = bigger;
        st = cf_tokenizer_encode(tok, prompt, plen, p->add_bos, toks, cap, &n);
    }
    if (st != CF_OK) goto done;
    if (n == 0) {
        st = CF_ERR(ctx, CF_ERR_INVALID_ARG, "empty prompt and the tokenizer has no BOS token");
        goto done;
    }
    if (n >= n_ctx) {
        st = CF_ERR(ctx, CF_ERR_INVALID_ARG, "prompt of %lld tokens does not fit the context of %d",
                    (long long)n, n_ctx);
        goto done;
    }
    if ((st = cf_sampler_create(ctx, &p->sampler, V, &smp)) != CF_OK) goto done;
    size_t pend_cap = 4096, pend_len = 0;
    pending = cf__malloc(pend_cap);
    if (!pending) {
        st = CF_NOMEM(ctx);
        goto done;
    }
    cf_session_reset(s);
    local.n_prompt = n;
    double t0 = cf__now();
    if ((st = cf_session_eval(s, toks, (int)n, 0, logits)) != CF_OK) goto done;
    double t1 = cf__now();
    local.prompt_seconds = t1 - t0;
    int32_t eos = cf_tokenizer_eos(tok);
    bool stopped = false;
    int32_t tv = cf_tokenizer_vocab_size(tok);
    for (int32_t i = 0; i < p->max_tokens && !stopped; i++) {
        // Ids past the tokenizer's vocabulary (a model's padded embedding rows) have no text.
        for (int32_t v = tv; v < V; v++) logits[v] = -INFINITY;
        int32_t id = cf_sampler_sample(smp, logits, toks, n);
        if (p->stop_at_eos && eos >= 0 && id == eos) {
            local.stop_reason = "eos";
            break;
        }
        int32_t prev = toks[n - 1];
        toks[n++] = id;
        local.n_generated++;
        // Decode straight into the pending buffer, growing it when a piece is longer.
        size_t pl;
        st = cf_tokenizer_decode_piece(tok, prev, id, pending + pend_len, pend_cap - pend_len, &pl);
        if (st == CF_ERR_RANGE && pl > pend_cap - pend_len) {
            while (pend_len + pl > pend_cap) pend_cap *= 2;
            char *np = cf__realloc(pending, pend_cap);
            if (!np) {
                st = CF_NOMEM(ctx);
                goto done;
            }
            pending = np;
            st = cf_tokenizer_decode_piece(tok, prev, id, pending + pend_len, pend_cap - pend_len,
                                           &pl);
        }
        if (st != CF_OK) goto done;
        pend_len += pl;
        int64_t at = find_stop(pending, pend_len, p->stop);
        size_t emit = pend_len - held_back(pending, pend_len, p->stop);
        if (at >= 0) {
            emit = (size_t)at;
            stopped = true;
            local.stop_reason = "stop";
        }
        if (emit > 0 && on_text && on_text(pending, emit, user)) {
            stopped = true;
            local.stop_reason = "callback";
        }
        memmove(pending, pending + emit, pend_len - emit);
        pend_len -= emit;
        if (stopped) {
            pend_len = 0;
            break;
        }
        if (i + 1 == p->max_tokens) break;
        if (cf_session_pos(s) >= n_ctx) {
            local.stop_reason = "context";
            break;
        }
        if ((st = cf_session_eval(s, &id, 1, 0, logits)) != CF_OK) goto done;
    }
    if (pend_len && on_text) on_text(pending, pend_len, user);
    local.gen_seconds = cf__now() - t1;
done:
    if (stats) *stats = local;
    cf_sampler_free(smp);
    cf__free(pending);
    cf__free(toks);
    cf__free(logits);
    return st;
}
