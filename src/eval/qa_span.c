// Extractive question answering around a model, without the model: the windows a long context
// is cut into (question + context slice, Hugging Face's truncation="only_second" with a
// stride), and the answer span chosen from per-window start/end logits as transformers'
// examples/pytorch/question-answering/utils_qa.py (postprocess_qa_predictions) chooses it.
// Offsets are bytes of the caller's context, so context[start:end] is the answer text.
// Deliberately not here: running the model, the beam-search variant (XLNet), the optional
// token_is_max_context filter of the original BERT run_squad.py.
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

// ---- windows ----

void cf_qa_windows_free(cf_qa_windows *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_windows; i++) {
        cf__free(w->w[i].ids);
        cf__free(w->w[i].type_ids);
        cf__free(w->w[i].offsets);
        cf__free(w->w[i].is_context);
    }
    cf__free(w->w);
    cf__free(w);
}

// Encodes question + context with the tokenizer's pair template; *toks: fresh (cf__free).
static cf_status encode_pair(cf_tokenizer *tok, const char *q, size_t nq, const char *c,
                             size_t nc, cf_token **toks, int64_t *n) {
    int64_t cap = (int64_t)(nq + nc) + 16;
    for (int tries = 0; tries < 3; tries++) {
        *toks = cf__malloc((size_t)cap * sizeof **toks);
        if (!*toks) return CF_ERR_NOMEM;
        cf_status st = cf_tokenizer_encode_tokens(tok, q, nq, c, nc, 1, *toks, cap, n);
        if (st == CF_OK) return CF_OK;
        cf__free(*toks);
        *toks = NULL;
        if (st != CF_ERR_RANGE || *n <= cap) return st;
        cap = *n;
    }
    return CF_ERR_INTERNAL;
}

cf_status cf_qa_windows_build(cf_ctx *ctx, cf_tokenizer *tok, const char *question,
                              size_t question_len, const char *context, size_t context_len,
                              int64_t max_len, int64_t doc_stride, cf_qa_windows **out) {
    *out = NULL;
    if (max_len < 2 || doc_stride < 0)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "max_len %lld and doc_stride %lld: need "
                      "max_len >= 2 and doc_stride >= 0", (long long)max_len,
                      (long long)doc_stride);
    // run_qa.py strips the question's leading whitespace (Python str.lstrip()).
    cf__cps q = {0};
    cf__utf8_decode(question, question_len, &q);
    size_t skip = 0, cp = 0;
    const uint8_t *qb = (const uint8_t *)question;
    while (cp < q.n && cf__py_isspace(q.v[cp])) {
        cp++;
        skip++;
        while (skip < question_len && (qb[skip] & 0xC0) == 0x80) skip++;
    }
    cf__cps_free(&q);
    question += skip;
    question_len -= skip;

    cf_token *t = NULL;
    int64_t n = 0;
    cf_status st = encode_pair(tok, question, question_len, context, context_len, &t, &n);
    if (st == CF_ERR_NOMEM) return CF_NOMEM(ctx);
    if (st != CF_OK) return CF_ERR(ctx, st, "encoding question and context: %s", cf_errmsg(ctx));
    int64_t n_ctx = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if (t[i].seq == 1) {
            if (first < 0) first = i;
            n_ctx++;
        }
    int64_t n_other = n - n_ctx;  // question and special tokens
    // tokenizers' truncate_encodings: the pair is cut to max_len - (the rest), in windows of
    // that many tokens, each starting `room - stride` tokens after the previous one.
    int64_t room = n_ctx;
    if (n > max_len) {
        room = max_len - n_other;
        if (room <= 0) {
            cf__free(t);
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "the question and special tokens take %lld "
                          "of the %lld tokens: no room for the context", (long long)n_other,
                          (long long)max_len);
        }
        if (doc_stride >= room) {
            cf__free(t);
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "doc_stride %lld must be smaller than the "
                          "%lld context tokens a window holds", (long long)doc_stride,
                          (long long)room);
        }
    }
    int64_t step = n > max_len ? room - doc_stride : (n_ctx ? n_ctx : 1);
    int64_t n_win = 1;
    if (n > max_len)
        for (int64_t s = 0; s + room < n_ctx; s += step) n_win++;
    cf_qa_windows *w = cf__calloc(1, sizeof *w);
    if (!w || !(w->w = cf__calloc((size_t)n_win, sizeof *w->w))) {
        cf__free(w);
        cf__free(t);
        return CF_NOMEM(ctx);
    }
    w->max_len = max_len;
    for (int64_t k = 0; k < n_win; k++) {
        int64_t lo = k * step, hi = lo + room < n_ctx ? lo + room : n_ctx;  // context slice
        cf_qa_window *win = &w->w[k];
        w->n_windows = k + 1;
        int64_t len = n_other + (hi - lo);
        win->ids = cf__malloc((size_t)len * sizeof *win->ids);
        win->type_ids = cf__malloc((size_t)len * sizeof *win->type_ids);
        win->offsets = cf__malloc((size_t)len * 2 * sizeof *win->offsets);
        win->is_context = cf__malloc((size_t)len);
        if (!win->ids || !win->type_ids || !win->offsets || !win->is_context) {
            cf_qa_windows_free(w);
            cf__free(t);
            return CF_NOMEM(ctx);
        }
        // The whole encoding with the context tokens outside [lo, hi) left out: the template's
        // special tokens stay where post-processing puts them.
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) {
            bool is_c = t[i].seq == 1;
            if (is_c && (i - first < lo || i - first >= hi)) continue;
            win->ids[m] = t[i].id;
            win->type_ids[m] = t[i].type_id;
            win->offsets[2 * m] = is_c ? t[i].start : -1;
            win->offsets[2 * m + 1] = is_c ? t[i].end : -1;
            win->is_context[m] = is_c;
            m++;
        }
        win->n_tokens = m;
    }
    cf__free(t);
    *out = w;
    return CF_OK;
}

// ---- the best span ----

cf_qa_params cf_qa_default_params(void) {
    cf_qa_params p = {20, 30, 0, 0.0};
    return p;
}

// The k largest of x[0..T) in decreasing order, ties to the lower index (np.argsort's order on
// ties is unspecified); idx has room for k.
static int64_t top_k(const float *x, int64_t T, int64_t k, int64_t *idx) {
    int64_t m = 0;
    for (int64_t i = 0; i < T; i++) {
        if (m == k && !(x[i] > x[idx[m - 1]])) continue;
        int64_t at = m < k ? m++ : m - 1;
        while (at > 0 && x[i] > x[idx[at - 1]]) {
            idx[at] = idx[at - 1];
            at--;
        }
        idx[at] = i;
    }
    return m;
}

typedef struct cand {
    float score, start_logit, end_logit;
    int64_t window, s, e;  // token positions
    int64_t start, end;    // byte offsets
    int64_t order;         // insertion order (Python's sort is stable)
} cand;

static int cand_cmp(const void *a, const void *b) {  // by score, decreasing; stable
    const cand *x = a, *y = b;
    if (x->score > y->score) return -1;
    if (x->score < y->score) return 1;
    return (x->order > y->order) - (x->order < y->order);
}

cf_status cf_qa_best_span(cf_ctx *ctx, const cf_qa_windows *w, const float *start_logits,
                          const float *end_logits, int64_t T, const cf_qa_params *params,
                          cf_qa_answer *out) {
    cf_qa_params p = params ? *params : cf_qa_default_params();
    memset(out, 0, sizeof *out);
    out->window = out->start_token = out->end_token = -1;
    if (w->n_windows < 1 || T < 1)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no windows or T < 1");
    for (int64_t k = 0; k < w->n_windows; k++)
        if (w->w[k].n_tokens > T)
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "window %lld has %lld tokens, more than the "
                          "%lld logits per window", (long long)k, (long long)w->w[k].n_tokens,
                          (long long)T);
    if (p.n_best < 1 || p.max_answer_len < 1)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "n_best %d and max_answer_len %d must be >= 1",
                      p.n_best, p.max_answer_len);
    int64_t kb = p.n_best < T ? p.n_best : T;
    int64_t *si = cf__malloc((size_t)kb * sizeof *si), *ei = cf__malloc((size_t)kb * sizeof *ei);
    size_t cap = 64, nc = 0;
    cand *c = cf__malloc(cap * sizeof *c);
    if (!si || !ei || !c) {
        cf__free(si);
        cf__free(ei);
        cf__free(c);
        return CF_NOMEM(ctx);
    }
    bool have_null = false;
    cand null = {0};
    cf_status st = CF_OK;
    for (int64_t k = 0; k < w->n_windows && st == CF_OK; k++) {
        const cf_qa_window *win = &w->w[k];
        const float *sl = start_logits + k * T, *el = end_logits + k * T;
        float ns = sl[0] + el[0];
        if (!have_null || null.score > ns) {  // the minimum null score over the windows
            have_null = true;
            null.score = ns;
            null.start_logit = sl[0];
            null.end_logit = el[0];
            null.window = k;
        }
        int64_t n_s = top_k(sl, T, kb, si), n_e = top_k(el, T, kb, ei);
        for (int64_t a = 0; a < n_s; a++)
            for (int64_t b = 0; b < n_e; b++) {
                int64_t s = si[a], e = ei[b];
                if (s >= win->n_tokens || e >= win->n_tokens || !win->is_context[s] ||
                    !win->is_context[e])
                    continue;
                if (e < s || e - s + 1 > p.max_answer_len) continue;
                if (nc == cap) {
                    cand *g = cf__realloc(c, cap * 2 * sizeof *g);
                    if (!g) {
                        st = CF_NOMEM(ctx);
                        break;
                    }
                    c = g;
                    cap *= 2;
                }
                cand *x = &c[nc];
                x->score = sl[s] + el[e];
                x->start_logit = sl[s];
                x->end_logit = el[e];
                x->window = k;
                x->s = s;
                x->e = e;
                x->start = win->offsets[2 * s];
                x->end = win->offsets[2 * e + 1];
                x->order = (int64_t)nc;
                nc++;
            }
    }
    cf__free(si);
    cf__free(ei);
    if (st != CF_OK) {
        cf__free(c);
        return st;
    }
    qsort(c, nc, sizeof *c, cand_cmp);
    // The best candidate with a non-empty text: HF sorts the n_best candidates (and the null
    // one, for SQuAD 2.0) and takes the first whose text is not "".
    const cand *best = NULL;
    if (!p.version_2) {
        // predictions[0]: the top candidate, even with an empty text ("" then, or the
        // placeholder when it is the only one).
        if (nc == 0 || (nc == 1 && c[0].end <= c[0].start)) {
            out->is_null = 1;
            out->placeholder = 1;
        } else if (c[0].end <= c[0].start) {
            out->is_null = 1;
            out->window = c[0].window;
            out->start_token = c[0].s;
            out->end_token = c[0].e;
            out->score = c[0].score;
        } else {
            best = &c[0];
        }
    }
    for (size_t i = 0; p.version_2 && i < nc && !best; i++)
        if (c[i].end > c[i].start) best = &c[i];
    if (p.version_2) {
        out->null_score = null.score;
        // No non-empty candidate: HF inserts a placeholder "empty" with logits 0.
        float bs = best ? best->start_logit : 0.0f, be = best ? best->end_logit : 0.0f;
        out->score_diff = null.score - bs - be;
        if ((double)out->score_diff > p.null_threshold) {
            out->is_null = 1;
            out->score = best ? best->score : 0.0f;
            cf__free(c);
            return CF_OK;
        }
    }
    if (!best) {
        if (p.version_2) {
            out->is_null = 1;
            out->placeholder = 1;
        }
    } else {
        out->start = best->start;
        out->end = best->end;
        out->window = best->window;
        out->start_token = best->s;
        out->end_token = best->e;
        out->score = best->score;
    }
    cf__free(c);
    return CF_OK;
}
