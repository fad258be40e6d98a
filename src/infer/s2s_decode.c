// Decoding for encoder-decoder models: greedy and beam search over batches of sentences.
//
// Per batch of sentences (sorted by source length, max_batch at a time):
//   1. one graph runs the encoder and every decoder block's cross-attention keys and values,
//      which are copied once into buffers replicated per beam (R = sentences x beams rows);
//   2. a step graph, planned once for (R, 1), feeds one token per row at position t with the
//      self-attention KV cache (L_dec, R, max_len, kv_dim) set; the cross keys/values are views
//      of the buffers from step 1;
//   3. beam search as Hugging Face's BeamSearchScorer and fairseq do it: log-softmax, beam
//      scores plus log-probabilities, the best 2K candidates per sentence; an eos candidate among
//      the first K closes a hypothesis scored sum(log p) / len^alpha, the others refill the K
//      beams; the cache rows follow their beams (gathered into a second buffer, then swapped).
//      Greedy is the same with K = 1.
//
// Not here: the model math (src/models/decoder.c) or tokenization.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../models/model_internal.h"
#include "cformer/seq2seq.h"

cf_s2s_decode_params cf_s2s_default_decode_params(void) {
    cf_s2s_decode_params p = {0};
    p.beam_size = 4;
    p.length_penalty = 1.0f;
    p.max_len_a = 1.5f;
    p.max_len_b = 10;
    p.early_stopping = 1;
    p.n_best = 1;
    p.max_batch = 16;
    return p;
}

void cf_s2s_output_free(cf_s2s_output *o) {
    if (!o) return;
    if (o->hyps)
        for (int64_t i = 0; i < (int64_t)o->n_sent * o->n_best; i++) {
            cf__free(o->hyps[i].tokens);
            cf__free(o->hyps[i].logprobs);
        }
    cf__free(o->hyps);
    cf__free(o->n_hyps);
    cf__free(o);
}

// A finished (or length-limited) hypothesis while its sentence is searched.
typedef struct hyp {
    int32_t *tokens;    // (n + finished) generated ids, eos included when finished
    float *logprobs;
    int32_t n;          // tokens without eos
    int32_t finished;
    double score;
} hyp;

typedef struct sent {
    int32_t index;      // position in the caller's input
    int32_t len;        // source ids used (after the length policy)
    int32_t max_len;    // target tokens allowed, eos included
    bool done;
    hyp *hyps;          // (K) kept, any order
    int32_t n_hyps;
} sent;

typedef struct dec {
    cf_model *m;
    cf_ctx *ctx;
    const cf_s2s_decode_params *p;
    int K, nb, R, S, L, nd;
    int nb_max;             // buffers are sized for (nb_max, S, L) of the largest group
    int64_t V, HD, kvd;
    float *cache[2];        // k, v of the self-attention cache
    sent *s;
    int32_t *src;           // (nb, S)
    uint8_t *mask;          // (nb, S)
    float **xk, **xv;       // per block (R, S, HD): xk_own / xv_own, or at beam 1 the encoder
                            // graph's own output (nothing to replicate, so nothing copied)
    float **xk_own, **xv_own;  // allocated for beams > 1, else NULL
    cf_kv_cache kv;         // the self-attention cache over cache[]
    int32_t *anc, *anc2;    // (R, L) beams: the cache slot of each row's positions (kv.rows)
    int32_t *hist, *hist2;  // (R, L) generated tokens per row
    float *lp, *lp2;        // (R, L) their log-probabilities
    double *sum, *sum2;     // (R) beam scores (sum of log-probabilities)
    int32_t *from;          // (R) the row each new beam continues
    int32_t *step_in;       // (R) this step's input tokens
    const float *logits;    // (R, V) this step's logits
    float *lse;             // (R) their log-sum-exp: log-probability = logit - lse
    float *scratch;         // (V) exponentials of one row
    int64_t *cand_tok;      // (2K * K) candidates of one sentence
    double *cand_score;
    float *cand_lp;         // their log-probabilities
    int32_t *cand_row;
} dec;

static double length_norm(const dec *d, int32_t len) {
    return d->p->length_penalty == 0.0f ? 1.0 : pow((double)len, (double)d->p->length_penalty);
}

// Keeps at most K hypotheses, dropping the worst (BeamHypotheses.add).
static cf_status add_hyp(dec *d, sent *st, int32_t row, int32_t n, bool finished, float eos_lp,
                         double score) {
    int K = d->K;
    int slot = st->n_hyps;
    if (st->n_hyps == K) {
        int worst = 0;
        for (int i = 1; i < K; i++)
            if (st->hyps[i].score < st->hyps[worst].score) worst = i;
        if (score <= st->hyps[worst].score) return CF_OK;
        slot = worst;
        cf__free(st->hyps[slot].tokens);
        cf__free(st->hyps[slot].logprobs);
    } else {
        st->n_hyps++;
    }
    hyp *h = &st->hyps[slot];
    int32_t total = n + (finished ? 1 : 0);
    h->tokens = cf__malloc((size_t)(total ? total : 1) * sizeof(int32_t));
    h->logprobs = cf__malloc((size_t)(total ? total : 1) * sizeof(float));
    h->n = n;
    h->finished = finished;
    h->score = score;
    if (!h->tokens || !h->logprobs) return CF_NOMEM(d->ctx);
    memcpy(h->tokens, d->hist + (int64_t)row * d->L, (size_t)n * sizeof(int32_t));
    memcpy(h->logprobs, d->lp + (int64_t)row * d->L, (size_t)n * sizeof(float));
    if (finished) {
        h->tokens[n] = d->m->cfg.eos_id;
        h->logprobs[n] = eos_lp;
    }
    return CF_OK;
}

static double worst_hyp(const sent *st) {
    double w = INFINITY;
    for (int i = 0; i < st->n_hyps; i++)
        if (st->hyps[i].score < w) w = st->hyps[i].score;
    return w;
}

// The log-sum-exp of each row of logits. The log-probabilities themselves (logit - lse) are
// only formed where the candidates are searched, never written out: a row stays in cache between
// its passes.
static void row_lse(dec *d, const float *logits) {
    const cf_kernels *k = d->ctx->k;
    d->logits = logits;
    for (int r = 0; r < d->R; r++) {
        const float *x = logits + (int64_t)r * d->V;
        float mx = k->max(d->V, x);
        float sum = k->exp_sum(d->V, x, mx, d->scratch);
        d->lse[r] = mx + logf(sum);
    }
}

#define CAND_BLOCK 64

// The 2K best (score, row, token) candidates of sentence i, best first (ties: the earlier row
// and token first); pad_id is never generated.
static int candidates(dec *d, int i, int t) {
    int K = d->K, want = 2 * K, n = 0;
    int64_t pad = d->m->cfg.pad_id;
    for (int b = 0; b < K; b++) {
        int r = i * K + b;
        if (t == 0 && b > 0) break;  // at the first step every beam is the same
        const float *x = d->logits + (int64_t)r * d->V;
        float lse = d->lse[r];
        double base = d->sum[r];
        const cf_kernels *k = d->ctx->k;
        for (int64_t v = 0; v < d->V; v++) {
            // Once the list is full, a block of logits whose largest cannot enter it is passed
            // over whole: the score is non-decreasing in the logit, so this skips exactly what
            // the test below would reject (the search is at one row per sentence per step, and
            // this scan was 6 % of greedy decoding).
            if (n == want && v % CAND_BLOCK == 0 && v + CAND_BLOCK <= d->V) {
                double top = base + (double)(k->max(CAND_BLOCK, x + v) - lse);
                if (top <= d->cand_score[n - 1]) {
                    v += CAND_BLOCK - 1;
                    continue;
                }
            }
            float lp = x[v] - lse;
            double sc = base + (double)lp;
            if (!(sc > -INFINITY) || v == pad) continue;
            if (n == want && sc <= d->cand_score[n - 1]) continue;
            int j = n < want ? n++ : n - 1;  // insertion into the sorted list
            while (j > 0 && d->cand_score[j - 1] < sc) {
                d->cand_score[j] = d->cand_score[j - 1];
                d->cand_tok[j] = d->cand_tok[j - 1];
                d->cand_row[j] = d->cand_row[j - 1];
                d->cand_lp[j] = d->cand_lp[j - 1];
                j--;
            }
            d->cand_score[j] = sc;
            d->cand_tok[j] = v;
            d->cand_row[j] = r;
            d->cand_lp[j] = lp;
        }
    }
    return n;
}

// One search step for every open sentence: chooses the next beams (d->from, new tokens).
static cf_status search_step(dec *d, int t) {
    int K = d->K;
    int32_t eos = d->m->cfg.eos_id;
    for (int r = 0; r < d->R; r++) d->from[r] = r;
    memcpy(d->sum2, d->sum, (size_t)d->R * sizeof(double));
    int32_t *new_tok = d->step_in;  // the token each new beam appends: the next step's input
    for (int i = 0; i < d->nb; i++) {
        sent *st = &d->s[i];
        if (st->done) {
            for (int b = 0; b < K; b++) new_tok[i * K + b] = d->m->cfg.decoder_start_id;
            continue;
        }
        int n = candidates(d, i, t);
        int filled = 0;
        int32_t len = t + 1;  // generated tokens, this one included
        for (int c = 0; c < n && filled < K; c++) {
            int r = d->cand_row[c];
            int32_t v = (int32_t)d->cand_tok[c];
            float lpv = d->cand_lp[c];
            if (v == eos) {
                if (c < K)  // an eos outside the best K is not a hypothesis (as in HF)
                    CF_TRY(add_hyp(d, st, r, t, true, lpv, d->cand_score[c] / length_norm(d, len)));
                continue;
            }
            int nr = i * K + filled++;
            d->from[nr] = r;
            d->sum2[nr] = d->cand_score[c];
            new_tok[nr] = v;
            d->lp2[(int64_t)nr * d->L + t] = lpv;
        }
        for (; filled < K; filled++) {  // fewer live candidates than beams: dead beams
            int nr = i * K + filled;
            d->from[nr] = i * K;
            d->sum2[nr] = -INFINITY;
            new_tok[nr] = d->m->cfg.decoder_start_id;
            d->lp2[(int64_t)nr * d->L + t] = -INFINITY;
        }
        // Done? K hypotheses and early stopping, or no running beam can beat the worst.
        if (st->n_hyps == K) {
            double best_run = d->sum2[i * K] / length_norm(d, len);
            if (d->p->early_stopping || K == 1 || worst_hyp(st) >= best_run) st->done = true;
        }
    }
    // Gather the rows' histories, then append the new tokens.
    for (int r = 0; r < d->R; r++) {
        int32_t f = d->from[r];
        memcpy(d->hist2 + (int64_t)r * d->L, d->hist + (int64_t)f * d->L, (size_t)t * sizeof(int32_t));
        memcpy(d->lp2 + (int64_t)r * d->L, d->lp + (int64_t)f * d->L, (size_t)t * sizeof(float));
        d->hist2[(int64_t)r * d->L + t] = new_tok[r];
    }
    int32_t *ti = d->hist;
    d->hist = d->hist2;
    d->hist2 = ti;
    float *tl = d->lp;
    d->lp = d->lp2;
    d->lp2 = tl;
    double *ts = d->sum;
    d->sum = d->sum2;
    d->sum2 = ts;
    // Sentences at their length limit: the running beams become hypotheses.
    for (int i = 0; i < d->nb; i++) {
        sent *st = &d->s[i];
        if (st->done || t + 1 < st->max_len) continue;
        for (int b = 0; b < K; b++) {
            int r = i * K + b;
            if (d->sum[r] > -INFINITY)
                CF_TRY(add_hyp(d, st, r, t + 1, false, 0.0f, d->sum[r] / length_norm(d, t + 1)));
        }
        st->done = true;
    }
    // The rows follow their beams: a new beam reads its positions 0..t from the slots its parent
    // read them from (nothing is copied in the cache), and writes its own from t + 1 on.
    bool moved = false;
    for (int r = 0; r < d->R && !moved; r++) moved = d->from[r] != r;
    if (moved) {
        size_t L = (size_t)d->L;
        for (int r = 0; r < d->R; r++) {
            memcpy(d->anc2 + r * L, d->anc + (size_t)d->from[r] * L, (size_t)(t + 1) * sizeof(int32_t));
            for (size_t p = (size_t)t + 1; p < L; p++) d->anc2[r * L + p] = r;
        }
        int32_t *ta = d->anc;
        d->anc = d->anc2;
        d->anc2 = ta;
        d->kv.rows = d->anc;
    }
    return CF_OK;
}

static cf_tensor *view3(cf_graph *g, float *data, int64_t a, int64_t b, int64_t c) {
    cf_tensor *t = cf__meta_alloc(g, sizeof *t);
    t->data = data;
    t->ndim = 3;
    t->shape[0] = a;
    t->shape[1] = b;
    t->shape[2] = c;
    t->n = a * b * c;
    return t;
}

// The decoder graph of one step: R rows, one token each, at position pos.
static cf_tensor *step_graph(dec *d, cf_graph *g, bool measure, int pos) {
    cf__graph_begin(g, false, measure);
    g->kv = &d->kv;
    g->pos0 = pos;
    cf_tensor **kv = cf__meta_alloc(g, 2 * (size_t)d->nd * sizeof(cf_tensor *));
    if (g->oom) return NULL;
    for (int l = 0; l < d->nd; l++) {
        kv[l] = view3(g, d->xk[l], d->R, d->S, d->HD);
        kv[d->nd + l] = view3(g, d->xv[l], d->R, d->S, d->HD);
    }
    // Every beam of a sentence sees its source mask: expand (nb, S) to (R, S) lazily via the
    // mask buffer, which holds R rows (filled in run_batch).
    return cf__encdec_decode(g, d->m, d->step_in, d->R, 1, kv, kv + d->nd, d->mask, NULL, 0);
}

// Moves the rows of the open sentences to the front, in order, and drops the finished ones:
// the sentence records (swapped, so the finished ones stay behind the open ones with their
// hypotheses), the cross keys/values, mask, histories and scores in place, and the self-
// attention cache (positions 0..t-1) in place, laid out for the new row
// count. Then d->nb, d->R are the open sentences and their rows.
static void compact(dec *d, int t) {
    int K = d->K, R_old = d->R, j = 0;
    size_t S = (size_t)d->S, L = (size_t)d->L, HD = (size_t)d->HD, kvd = (size_t)d->kvd;
    for (int i = 0; i < d->nb; i++) {
        if (d->s[i].done) continue;
        for (int b = 0; b < K; b++) d->from[j * K + b] = i * K + b;  // new row <- old row
        if (i != j) {  // j < i: the destination rows are free (moved or finished)
            sent tmp = d->s[j];
            d->s[j] = d->s[i];
            d->s[i] = tmp;
            for (int b = 0; b < K; b++) {
                size_t ro = (size_t)(i * K + b), rn = (size_t)(j * K + b);
                for (int l = 0; l < d->nd; l++) {
                    memmove(d->xk[l] + rn * S * HD, d->xk[l] + ro * S * HD, S * HD * sizeof(float));
                    memmove(d->xv[l] + rn * S * HD, d->xv[l] + ro * S * HD, S * HD * sizeof(float));
                }
                memmove(d->mask + rn * S, d->mask + ro * S, S);
                memmove(d->hist + rn * L, d->hist + ro * L, (size_t)t * sizeof(int32_t));
                memmove(d->lp + rn * L, d->lp + ro * L, (size_t)t * sizeof(float));
                d->sum[rn] = d->sum[ro];
                d->step_in[rn] = d->step_in[ro];
            }
        }
        j++;
    }
    // The cache, (L_dec, R, L, kvd), laid out for the new R in place: rows only move down
    // (from[rn] >= rn, R_new <= R_old), so in ascending order every source is read before any
    // write reaches it (an earlier destination ends at or before this one's start), and only a
    // row's own move can overlap itself (memmove). No second buffer is touched: fresh pages are
    // costly, and the copy was 2 % of greedy decoding.
    int R_new = j * K;
    size_t row = L * kvd, bytes = (size_t)t * kvd * sizeof(float);
    for (int l = 0; l < d->nd && bytes; l++)
        for (int rn = 0; rn < R_new; rn++) {
            size_t ro = (size_t)d->from[rn];
            size_t dst = ((size_t)l * (size_t)R_new + (size_t)rn) * row;
            size_t src = ((size_t)l * (size_t)R_old + ro) * row;
            if (dst == src) continue;
            memmove(d->kv.k + dst, d->kv.k + src, bytes);
            memmove(d->kv.v + dst, d->kv.v + src, bytes);
        }
    d->kv.n_seq = R_new;
    // Beams read from the slots of their own sentence, which moved by the same offset.
    if (d->kv.rows) {
        for (int rn = 0; rn < R_new; rn++) {
            int32_t ro = d->from[rn], off = rn - ro;
            for (size_t p = 0; p < L; p++) d->anc2[rn * L + p] = d->anc[(size_t)ro * L + p] + off;
        }
        int32_t *ta = d->anc;
        d->anc = d->anc2;
        d->anc2 = ta;
        d->kv.rows = d->anc;
    }
    d->nb = j;
    d->R = R_new;
}

// The two graphs of decoding (encoder, decoder step), kept on the model between calls and
// batches: their arenas only grow, so the activations are not mapped and page-faulted afresh
// for every batch. NULL when out of memory.
static cf_graph *s2s_graphs(cf_model *m) {
    if (!m->s2s_graphs) {
        m->s2s_graphs = cf__malloc(2 * sizeof(cf_graph));
        if (!m->s2s_graphs) return NULL;
        cf__graph_init(&m->s2s_graphs[0], m->ctx);
        cf__graph_init(&m->s2s_graphs[1], m->ctx);
    }
    return m->s2s_graphs;
}

static cf_status run_batch(dec *d) {
    cf_model *m = d->m;
    cf_ctx *ctx = d->ctx;
    int K = d->K, nb = d->nb, R = d->R, S = d->S, nd = d->nd;
    cf_status st = CF_OK;
    cf_graph *gs = s2s_graphs(m);
    if (!gs) return CF_NOMEM(ctx);
    // 1. Encoder and cross keys/values, for nb rows; then replicated per beam.
    cf_graph *ge = &gs[0], *g = &gs[1];
    cf_tensor **kv = NULL;
    for (int measure = 1; measure >= 0 && st == CF_OK; measure--) {
        cf__graph_begin(ge, false, measure);
        cf_tensor *enc = cf__encdec_encode(ge, m, d->src, nb, S, d->mask);
        kv = cf__meta_alloc(ge, 2 * (size_t)nd * sizeof(cf_tensor *));
        if (ge->oom) break;
        for (int l = 0; l < nd; l++) cf__encdec_cross_kv(ge, m, l, enc, &kv[l], &kv[nd + l]);
        if (measure && cf__graph_plan(ge) != CF_OK) st = CF_NOMEM(ctx);
    }
    if (ge->oom && st == CF_OK) st = CF_NOMEM(ctx);
    if (st == CF_OK && K == 1) {  // read in place: the encoder graph is idle until the next group
        for (int l = 0; l < nd; l++) {
            d->xk[l] = kv[l]->data;
            d->xv[l] = kv[nd + l]->data;
        }
    } else if (st == CF_OK) {
        size_t blk = (size_t)S * (size_t)d->HD;
        for (int l = 0; l < nd; l++)
            for (int i = 0; i < nb; i++)
                for (int b = 0; b < K; b++) {
                    size_t dst = (size_t)(i * K + b) * blk, src = (size_t)i * blk;
                    memcpy(d->xk[l] + dst, kv[l]->data + src, blk * sizeof(float));
                    memcpy(d->xv[l] + dst, kv[nd + l]->data + src, blk * sizeof(float));
                }
    }
    if (st != CF_OK) return st;
    // The mask, replicated per beam in place (rows nb..R were left free for it).
    for (int i = nb - 1; i >= 0; i--)
        for (int b = K - 1; b >= 0; b--)
            memmove(d->mask + (size_t)(i * K + b) * S, d->mask + (size_t)i * S, (size_t)S);
    // 2./3. Steps.
    for (int r = 0; r < R; r++) {
        d->sum[r] = r % K == 0 ? 0.0 : -INFINITY;  // only the first beam is live at the start
        d->step_in[r] = m->cfg.decoder_start_id;
    }
    if (!step_graph(d, g, true, 0) || g->oom || cf__graph_plan(g) != CF_OK) st = CF_NOMEM(ctx);
    for (int t = 0; t < d->L && st == CF_OK; t++) {
        int open = 0;
        for (int i = 0; i < d->nb; i++) open += !d->s[i].done;
        if (!open) break;
        // Finished sentences leave the batch (fewer rows per step) once they are an eighth of
        // it: compaction copies the whole cache, so it is not done for every sentence that ends.
        if (open < d->nb && (d->nb - open) * 8 >= d->nb) {
            compact(d, t);
            if (!step_graph(d, g, true, t) || g->oom || cf__graph_plan(g) != CF_OK) {
                st = CF_NOMEM(ctx);
                break;
            }
        }
        cf_tensor *logits = step_graph(d, g, false, t);
        if (!logits || g->oom) {
            st = CF_NOMEM(ctx);
            break;
        }
        row_lse(d, logits->data);
        st = search_step(d, t);
    }
    return st;
}

typedef struct order_item {
    int32_t len, index;
} order_item;

static int by_len(const void *a, const void *b) {
    const order_item *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int by_score(const void *a, const void *b) {
    const hyp *x = a, *y = b;
    return x->score > y->score ? -1 : x->score < y->score;
}

static cf_status check_params(cf_ctx *ctx, const cf_config *c, const cf_s2s_decode_params *p) {
#define BADP(...) CF_ERR(ctx, CF_ERR_INVALID_ARG, "invalid decoding parameter: " __VA_ARGS__)
    if (c->n_dec_layers <= 0) return BADP("the model is not an encoder-decoder model");
    if (c->eos_id < 0) return BADP("the model has no eos_id");
    if (p->beam_size < 1 || p->beam_size > 256) return BADP("beam_size = %d", p->beam_size);
    if (p->n_best < 1 || p->n_best > p->beam_size)
        return BADP("n_best = %d (must be 1..beam_size)", p->n_best);
    if (!isfinite(p->length_penalty)) return BADP("length_penalty is not finite");
    if (!(p->max_len_a >= 0.0f && p->max_len_a <= 1000.0f)) return BADP("max_len_a = %g", p->max_len_a);
    if (p->max_len_b < 0) return BADP("max_len_b = %d", p->max_len_b);
    if (p->max_batch < 1 || p->max_batch > 4096) return BADP("max_batch = %d", p->max_batch);
#undef BADP
    return CF_OK;
}

static void free_hyps(sent *st) {
    for (int h = 0; h < st->n_hyps; h++) {
        cf__free(st->hyps[h].tokens);
        cf__free(st->hyps[h].logprobs);
        st->hyps[h].tokens = NULL;
        st->hyps[h].logprobs = NULL;
    }
    st->n_hyps = 0;
}

static void dec_free(dec *d) {
    if (d->xk_own)
        for (int l = 0; l < d->nd; l++) {
            cf__free(d->xk_own[l]);
            cf__free(d->xv_own[l]);
        }
    cf__free(d->xk_own);
    cf__free(d->xv_own);
    cf__free(d->xk);
    cf__free(d->xv);
    for (int i = 0; i < 2; i++) cf__free(d->cache[i]);
    void *bufs[] = {d->src, d->mask, d->anc, d->anc2, d->hist, d->hist2, d->lp, d->lp2, d->sum, d->sum2,
                    d->from, d->step_in, d->lse, d->scratch, d->cand_tok, d->cand_score,
                    d->cand_lp, d->cand_row};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cf__free(bufs[i]);
    if (d->s)
        for (int i = 0; i < d->nb_max; i++) {
            free_hyps(&d->s[i]);
            cf__free(d->s[i].hyps);
        }
    cf__free(d->s);
    memset(d, 0, sizeof *d);
}

// The target tokens allowed for a source of len ids (eos included).
static int32_t max_len_of(const cf_config *c, const cf_s2s_decode_params *p, int32_t len) {
    int32_t limit = c->n_ctx - 1 > 0 ? c->n_ctx - 1 : 1;
    double ml = floor((double)p->max_len_a * len + p->max_len_b);
    return ml < 1 ? 1 : ml > limit ? limit : (int32_t)ml;
}

// Allocates the decoding buffers once per call, for groups of up to nb_max sentences with up to
// S source ids and L target tokens; every group reuses them with its own (smaller) dimensions.
static cf_status dec_alloc(dec *d, cf_model *m, const cf_s2s_decode_params *p, int nb_max, int S,
                           int L) {
    const cf_config *c = &m->cfg;
    memset(d, 0, sizeof *d);
    d->m = m;
    d->ctx = m->ctx;
    d->p = p;
    d->K = p->beam_size;
    d->nb_max = nb_max;
    d->nd = c->n_dec_layers;
    d->V = c->vocab_size;
    d->HD = (int64_t)c->n_heads * c->head_dim;
    d->kvd = (int64_t)c->n_kv_heads * c->head_dim;
    size_t R = (size_t)nb_max * (size_t)d->K;
    d->s = cf__calloc((size_t)nb_max, sizeof(sent));
    if (!d->s) return CF_NOMEM(d->ctx);
    for (int i = 0; i < nb_max; i++)
        if (!(d->s[i].hyps = cf__calloc((size_t)d->K, sizeof(hyp)))) return CF_NOMEM(d->ctx);
    d->src = cf__calloc((size_t)nb_max * (size_t)S, sizeof(int32_t));
    d->mask = cf__calloc(R * (size_t)S, 1);
    d->anc = cf__calloc(R * (size_t)L, sizeof(int32_t));
    d->anc2 = cf__calloc(R * (size_t)L, sizeof(int32_t));
    d->hist = cf__calloc(R * (size_t)L, sizeof(int32_t));
    d->hist2 = cf__calloc(R * (size_t)L, sizeof(int32_t));
    d->lp = cf__calloc(R * (size_t)L, sizeof(float));
    d->lp2 = cf__calloc(R * (size_t)L, sizeof(float));
    d->sum = cf__calloc(R, sizeof(double));
    d->sum2 = cf__calloc(R, sizeof(double));
    d->from = cf__calloc(R, sizeof(int32_t));
    d->step_in = cf__calloc(R, sizeof(int32_t));
    d->lse = cf__calloc(R, sizeof(float));
    d->scratch = cf__malloc((size_t)d->V * sizeof(float));
    d->cand_tok = cf__calloc(2 * (size_t)d->K, sizeof(int64_t));
    d->cand_score = cf__calloc(2 * (size_t)d->K, sizeof(double));
    d->cand_lp = cf__calloc(2 * (size_t)d->K, sizeof(float));
    d->cand_row = cf__calloc(2 * (size_t)d->K, sizeof(int32_t));
    d->xk = cf__calloc((size_t)d->nd, sizeof(float *));
    d->xv = cf__calloc((size_t)d->nd, sizeof(float *));
    // The cache is only read where it was written: no need to clear it.
    size_t cache = (size_t)d->nd * R * (size_t)L * (size_t)d->kvd;
    for (int i = 0; i < 2; i++) d->cache[i] = cf__malloc(cache * sizeof(float));
    if (!d->src || !d->mask || !d->anc || !d->anc2 || !d->hist || !d->hist2 || !d->lp || !d->lp2 || !d->sum ||
        !d->sum2 || !d->from || !d->step_in || !d->lse || !d->scratch || !d->cand_tok ||
        !d->cand_score || !d->cand_lp || !d->cand_row || !d->xk || !d->xv || !d->cache[0] || !d->cache[1])
        return CF_NOMEM(d->ctx);
    if (d->K == 1) return CF_OK;  // the cross keys/values are read where the encoder made them
    d->xk_own = cf__calloc((size_t)d->nd, sizeof(float *));
    d->xv_own = cf__calloc((size_t)d->nd, sizeof(float *));
    if (!d->xk_own || !d->xv_own) return CF_NOMEM(d->ctx);
    for (int l = 0; l < d->nd; l++) {
        d->xk[l] = d->xk_own[l] = cf__malloc(R * (size_t)S * (size_t)d->HD * sizeof(float));
        d->xv[l] = d->xv_own[l] = cf__malloc(R * (size_t)S * (size_t)d->HD * sizeof(float));
        if (!d->xk[l] || !d->xv[l]) return CF_NOMEM(d->ctx);
    }
    return CF_OK;
}

// Decodes the sentences order[0..nb) (nb <= d->nb_max) and moves their hypotheses into out.
static cf_status decode_group(dec *d, const int32_t *const *src, const order_item *order, int nb,
                              cf_s2s_output *out) {
    cf_model *m = d->m;
    const cf_config *c = &m->cfg;
    d->nb = nb;
    d->R = nb * d->K;
    d->S = d->L = 0;
    for (int i = 0; i < nb; i++) {
        sent *s = &d->s[i];
        free_hyps(s);
        s->done = false;
        s->index = order[i].index;
        s->len = order[i].len < c->n_ctx ? order[i].len : c->n_ctx;
        s->max_len = max_len_of(c, d->p, s->len);
        if (s->len > d->S) d->S = s->len;
        if (s->max_len > d->L) d->L = s->max_len;
    }
    int S = d->S, L = d->L;
    d->kv = (cf_kv_cache){d->cache[0], d->cache[1], L, d->kvd, d->nd, d->R};
    if (d->K > 1) {  // every row starts reading its own slot
        for (int r = 0; r < d->R; r++)
            for (int p = 0; p < L; p++) d->anc[(size_t)r * (size_t)L + (size_t)p] = r;
        d->kv.rows = d->anc;
    }
    int32_t pad = c->pad_id >= 0 ? c->pad_id : 0;
    for (int i = 0; i < nb; i++) {
        const int32_t *x = src[d->s[i].index];
        int32_t n = d->s[i].len, full = order[i].len;
        for (int j = 0; j < S; j++) {
            // The length policy: a source over n_ctx keeps its first n_ctx - 1 ids and its last.
            int32_t id = j >= n ? pad : (j == n - 1 ? x[full - 1] : x[j]);
            d->src[(size_t)i * S + j] = id;
            d->mask[(size_t)i * S + j] = j < n;
        }
    }
    CF_TRY(cf__model_positions(m, S > L ? S : L));
    cf_status st = run_batch(d);
    d->nb = nb;  // compaction moved the finished sentences behind the open ones: all nb remain
    d->R = nb * d->K;
    if (st != CF_OK) return st;
    for (int i = 0; i < nb; i++) {
        sent *s = &d->s[i];
        qsort(s->hyps, (size_t)s->n_hyps, sizeof(hyp), by_score);
        int keep = s->n_hyps < out->n_best ? s->n_hyps : out->n_best;
        out->n_hyps[s->index] = keep;
        for (int h = 0; h < keep; h++) {
            cf_s2s_hyp *o = &out->hyps[(int64_t)s->index * out->n_best + h];
            o->tokens = s->hyps[h].tokens;
            o->logprobs = s->hyps[h].logprobs;
            o->n = s->hyps[h].n;
            o->finished = s->hyps[h].finished;
            o->score = (float)s->hyps[h].score;
            s->hyps[h].tokens = NULL;
            s->hyps[h].logprobs = NULL;
        }
        free_hyps(s);
    }
    return CF_OK;
}

cf_status cf_s2s_translate_ids(cf_model *m, const int32_t *const *src, const int32_t *src_len,
                               int n, const cf_s2s_decode_params *p, cf_s2s_output **out) {
    *out = NULL;
    cf_ctx *ctx = m->ctx;
    const cf_config *c = &m->cfg;
    CF_TRY(check_params(ctx, c, p));
    if (n < 0) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "n = %d sentences", n);
    int32_t Vs = c->src_vocab_size > 0 ? c->src_vocab_size : c->vocab_size;
    for (int i = 0; i < n; i++) {
        if (src_len[i] < 0 || (src_len[i] > 0 && !src[i]))
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "sentence %d: length %d", i, src_len[i]);
        for (int32_t j = 0; j < src_len[i]; j++)
            if (src[i][j] < 0 || src[i][j] >= Vs)
                return CF_ERR(ctx, CF_ERR_RANGE,
                              "sentence %d: token id %d at position %d is outside [0, %d)", i,
                              src[i][j], j, Vs);
    }
    cf_s2s_output *o = cf__calloc(1, sizeof *o);
    order_item *order = cf__calloc((size_t)n + 1, sizeof *order);
    if (!o || !order) {
        cf__free(o);
        cf__free(order);
        return CF_NOMEM(ctx);
    }
    o->n_sent = n;
    o->n_best = p->n_best;
    o->n_hyps = cf__calloc((size_t)n + 1, sizeof(int32_t));
    o->hyps = cf__calloc((size_t)n * (size_t)p->n_best + 1, sizeof(cf_s2s_hyp));
    cf_status st = o->n_hyps && o->hyps ? CF_OK : CF_NOMEM(ctx);
    int n_live = 0;
    for (int i = 0; i < n; i++)
        if (src_len[i] > 0) order[n_live++] = (order_item){src_len[i], i};  // empty: no output
    qsort(order, (size_t)n_live, sizeof *order, by_len);
    // Buffers for the largest group: the longest sources are last (sorted); the target limit
    // grows with the source length.
    dec d = {0};
    if (st == CF_OK && n_live > 0) {
        int nb_max = n_live < p->max_batch ? n_live : p->max_batch;
        int32_t S = order[n_live - 1].len < c->n_ctx ? order[n_live - 1].len : c->n_ctx;
        st = dec_alloc(&d, m, p, nb_max, S, max_len_of(c, p, S));
    }
    // Longest group first: the graphs are planned for the largest shapes at once and the
    // later (smaller) groups reuse their arenas instead of growing them group by group.
    for (int end = n_live; end > 0 && st == CF_OK; end -= p->max_batch) {
        int first = end - p->max_batch > 0 ? end - p->max_batch : 0;
        st = decode_group(&d, src, order + first, end - first, o);
    }
    dec_free(&d);
    cf__free(order);
    if (st != CF_OK) {
        cf_s2s_output_free(o);
        return st;
    }
    *out = o;
    return CF_OK;
}
