// Inference sessions: one sequence, its KV cache, and an activation arena planned once for the
// largest chunk. Prompts are fed in chunks through the same forward the trainer uses, with the
// graph's KV cache set; decoding feeds one token at a time.
#include <string.h>

#include "../models/model_internal.h"

struct cf_session {
    cf_model *m;
    cf_graph g;
    cf_kv_cache kv;
    int n_ctx;
    int max_chunk;
    int64_t pos;
};

void cf_session_free(cf_session *s) {
    if (!s) return;
    cf__graph_deinit(&s->g);
    cf__free(s->kv.k);
    cf__free(s->kv.v);
    cf__free(s);
}

cf_status cf_session_create(cf_model *m, int n_ctx, int max_chunk, cf_session **out) {
    *out = NULL;
    cf_ctx *ctx = m->ctx;
    const cf_config *c = &m->cfg;
    if (c->n_dec_layers > 0)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "cf_session_create: %s", CF__S2S_ONLY);
    if (n_ctx <= 0) n_ctx = c->n_ctx < 8192 ? c->n_ctx : 8192;
    if (n_ctx > c->n_ctx)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "context of %d exceeds the model's n_ctx = %d",
                      n_ctx, c->n_ctx);
    CF_TRY(cf__model_positions(m, n_ctx));
    if (max_chunk <= 0) max_chunk = 256;
    if (max_chunk > n_ctx) max_chunk = n_ctx;
    cf_session *s = cf__calloc(1, sizeof *s);
    if (!s) return CF_NOMEM(ctx);
    s->m = m;
    s->n_ctx = n_ctx;
    s->max_chunk = max_chunk;
    int64_t kvd = (int64_t)c->n_kv_heads * c->head_dim;
    size_t cache = (size_t)c->n_layers * (size_t)n_ctx * (size_t)kvd;
    s->kv = (cf_kv_cache){cf__calloc(cache, sizeof(float)), cf__calloc(cache, sizeof(float)),
                          n_ctx, kvd, c->n_layers};
    cf__graph_init(&s->g, ctx);
    if (!s->kv.k || !s->kv.v) {
        cf_session_free(s);
        return CF_NOMEM(ctx);
    }
    // Plan for the worst case: a full chunk with every position's logits, and with one.
    int32_t *zeros = cf__calloc((size_t)max_chunk, sizeof(int32_t));
    if (!zeros) {
        cf_session_free(s);
        return CF_NOMEM(ctx);
    }
    int64_t last = max_chunk - 1;
    s->g.kv = &s->kv;
    s->g.pos0 = 0;
    cf_status st = CF_OK;
    for (int pass = 0; pass < 2 && st == CF_OK; pass++) {
        cf__graph_begin(&s->g, false, true);
        cf__model_forward(&s->g, m, zeros, 1, max_chunk, pass ? &last : NULL, pass ? 1 : 0);
        st = cf__graph_plan(&s->g);
    }
    cf__free(zeros);
    if (st != CF_OK) {
        cf_session_free(s);
        return CF_NOMEM(ctx);
    }
    *out = s;
    return CF_OK;
}

void cf_session_reset(cf_session *s) { s->pos = 0; }
int cf_session_pos(const cf_session *s) { return (int)s->pos; }
int cf_session_n_ctx(const cf_session *s) { return s->n_ctx; }

cf_status cf_session_eval(cf_session *s, const int32_t *tokens, int n, int all_logits,
                          float *logits) {
    cf_ctx *ctx = s->m->ctx;
    int64_t V = s->m->cfg.vocab_size;
    if (n < 1) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no tokens to evaluate");
    if (s->pos + n > s->n_ctx)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG,
                      "sequence of %lld tokens exceeds the session context of %d",
                      (long long)(s->pos + n), s->n_ctx);
    CF_TRY(cf__check_tokens(ctx, tokens, n, (int32_t)V));
    for (int done = 0; done < n;) {
        int chunk = n - done < s->max_chunk ? n - done : s->max_chunk;
        bool last_chunk = done + chunk == n;
        int64_t last = chunk - 1;
        s->g.kv = &s->kv;
        s->g.pos0 = s->pos;
        cf__graph_begin(&s->g, false, false);
        cf_tensor *out = cf__model_forward(&s->g, s->m, tokens + done, 1, chunk,
                                           all_logits ? NULL : &last, all_logits ? 0 : 1);
        if (s->g.oom) return CF_NOMEM(ctx);
        if (all_logits)
            memcpy(logits + (int64_t)done * V, out->data, (size_t)(chunk * V) * sizeof(float));
        else if (last_chunk)
            memcpy(logits, out->data, (size_t)V * sizeof(float));
        s->pos += chunk;
        done += chunk;
    }
    return CF_OK;
}

cf_model *cf_session_model(const cf_session *s) { return s->m; }
