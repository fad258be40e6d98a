// The Hugging Face encode and decode flow, as TokenizerImpl runs it:
//   1. added tokens that are not "normalized" are cut out of the original text (leftmost-
//      longest, with single_word / lstrip / rstrip as AddedVocabulary applies them);
//   2. every other piece is normalized, then the "normalized" added tokens are cut out of it;
//   3. the pre-tokenizer splits what is left, the model tokenizes each split;
//   4. the post-processor adds special tokens and type ids (Bert, Roberta, ByteLevel offset
//      trimming, TemplateProcessing, Sequence).
// Decoding maps ids to pieces (added tokens first), drops special ones on request, and runs
// the decoder chain (ByteLevel, WordPiece, Metaspace, BPEDecoder, ByteFallback, Fuse, Strip,
// Replace, CTC, Sequence); without a decoder the pieces are joined with spaces.
//
// Not here: truncation and padding (the caller's business in an inference engine; a
// tokenizer.json that sets them loads, and they are not applied).
#include <string.h>

#include "tokenizer_internal.h"

void cf__hf_free(cf__hf *h) {
    if (!h) return;
    if (h->norm) {
        cf__normalizer_free(h->norm);
        cf__free(h->norm);
    }
    if (h->pre) {
        cf__pretok_free(h->pre);
        cf__free(h->pre);
    }
    cf__model_free(&h->model);
    if (h->post) {
        for (int k = 0; k < h->post->n_seq; k++) {
            cf__post *q = &h->post->seq[k];
            for (int j = 0; j < q->n_single; j++) cf__free(q->single[j].ids);
            for (int j = 0; j < q->n_pair; j++) cf__free(q->pair[j].ids);
            cf__free(q->single);
            cf__free(q->pair);
        }
        for (int j = 0; j < h->post->n_single; j++) cf__free(h->post->single[j].ids);
        for (int j = 0; j < h->post->n_pair; j++) cf__free(h->post->pair[j].ids);
        cf__free(h->post->single);
        cf__free(h->post->pair);
        cf__free(h->post->seq);
        cf__free(h->post);
    }
    if (h->dec) {
        for (int k = 0; k < h->dec->n_seq; k++) {
            cf__free(h->dec->seq[k].str);
            cf__free(h->dec->seq[k].str2);
            cf__regex_free(h->dec->seq[k].re);
        }
        cf__free(h->dec->seq);
        cf__free(h->dec->str);
        cf__free(h->dec->str2);
        cf__regex_free(h->dec->re);
        cf__free(h->dec);
    }
    for (int k = 0; k < h->n_added; k++) {
        cf__free(h->added[k].content);
        cf__free(h->added[k].norm);
    }
    cf__free(h->added);
    cf__pts_free(&h->pts);
    cf__free(h->tb.v);
    cf__free(h->enc);
    cf__free(h);
}

// ---- added vocabulary ----

const char *cf__hf_id_to_piece(const cf__hf *h, int32_t id, size_t *n) {
    for (int k = h->n_added - 1; k >= 0; k--)
        if (h->added[k].id == id) {
            *n = h->added[k].len;
            return h->added[k].content;
        }
    return cf__vocab_piece(&h->model.vocab, id, n);
}

int32_t cf__hf_piece_to_id(const cf__hf *h, const char *s, size_t n) {
    for (int k = h->n_added - 1; k >= 0; k--)
        if (h->added[k].len == n && !memcmp(h->added[k].content, s, n)) return h->added[k].id;
    return cf__vocab_id(&h->model.vocab, s, n);
}

bool cf__hf_is_special(const cf__hf *h, int32_t id) {
    size_t n;
    const char *p = cf__hf_id_to_piece(h, id, &n);
    if (!p) return false;
    for (int k = 0; k < h->n_added; k++)
        if (h->added[k].special && h->added[k].len == n && !memcmp(h->added[k].content, p, n))
            return true;
    return false;
}

bool cf__hf_add_token(cf__hf *h, const char *s, size_t n, int32_t id, bool special,
                      bool single_word, bool lstrip, bool rstrip, bool normalized) {
    if (!cf__grow((void **)&h->added, &h->cap_added, (size_t)h->n_added + 1, sizeof(cf__added)))
        return false;
    cf__added *a = &h->added[h->n_added];
    memset(a, 0, sizeof *a);
    a->content = cf__malloc(n + 1);
    if (!a->content) return false;
    memcpy(a->content, s, n);
    a->content[n] = 0;
    a->len = n;
    a->id = id;
    a->special = special;
    a->single_word = single_word;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    a->normalized = normalized;
    h->n_added++;
    return true;
}

bool cf__hf_refresh(cf__hf *h) {
    int32_t nv = h->model.vocab.n;
    for (int k = 0; k < h->n_added; k++) {
        if (h->added[k].id + 1 > nv) nv = h->added[k].id + 1;
        cf__added *a = &h->added[k];
        cf__free(a->norm);
        a->norm = NULL;
        a->norm_len = 0;
        if (!a->normalized || !h->norm) continue;
        // The normalized form of the content is what the normalized trie matches.
        if (!cf__pts_reset(&h->pts, a->content, a->len, 0) || !cf__normalize(h->norm, &h->pts, 0))
            return false;
        cf__seg sp = h->pts.sp[0];
        a->norm = cf__malloc((size_t)sp.len + 1);
        if (!a->norm) return false;
        memcpy(a->norm, h->pts.s + sp.off, sp.len);
        a->norm[sp.len] = 0;
        a->norm_len = sp.len;
    }
    h->n_vocab = nv;
    return true;
}

static bool is_word_end(const char *s, size_t n) {  // \w$ on s[0, n)
    if (n == 0) return false;
    size_t k = n - 1;
    while (k > 0 && ((uint8_t)s[k] & 0xC0) == 0x80) k--;
    uint32_t c;
    cf__utf8_get(s + k, &c);
    return cf__uc_is_word(c);
}

static bool is_word_start(const char *s, size_t n) {  // ^\w on s[0, n)
    if (n == 0) return false;
    uint32_t c;
    cf__utf8_get(s, &c);
    return cf__uc_is_word(c);
}

// The library's find_matches for one trie (normalized or not) over s: triples into p->m with
// the third value 0 (text) or 2 + index of the added token.
static bool find_added(const cf__hf *h, cf__pts *p, const char *s, size_t n, bool normalized) {
    p->nm = 0;
    size_t start_offset = 0;
    for (size_t i = 0; i < n;) {
        // Leftmost-longest: the longest token starting at the first position that has one.
        int best = -1;
        size_t best_len = 0;
        for (int k = 0; k < h->n_added; k++) {
            const cf__added *a = &h->added[k];
            if (a->normalized != normalized) continue;
            const char *pat = normalized && a->norm ? a->norm : a->content;
            size_t pl = normalized && a->norm ? a->norm_len : a->len;
            if (pl == 0 || pl > n - i || pl <= best_len || pat[0] != s[i]) continue;
            if (!memcmp(s + i, pat, pl)) {
                best = k;
                best_len = pl;
            }
        }
        if (best < 0) {
            i++;
            continue;
        }
        const cf__added *a = &h->added[best];
        size_t start = i, stop = i + best_len;
        i = stop;  // the search resumes after this match whether it is used or not
        if (a->single_word) {
            bool start_space = start == 0 || !is_word_end(s, start);
            bool stop_space = stop == n || !is_word_start(s + stop, n - stop);
            if (!start_space || !stop_space) continue;
        }
        if (a->lstrip) {
            size_t k = start;
            while (k > 0) {  // back over trailing whitespace of s[0, start)
                size_t j = k - 1;
                while (j > 0 && ((uint8_t)s[j] & 0xC0) == 0x80) j--;
                uint32_t c;
                cf__utf8_get(s + j, &c);
                if (!cf__uc_is_whitespace(c)) break;
                k = j;
            }
            start = k > start_offset ? k : start_offset;
        }
        if (a->rstrip) {
            while (stop < n) {
                uint32_t c;
                int l = cf__utf8_get(s + stop, &c);
                if (!cf__uc_is_whitespace(c)) break;
                stop += (size_t)l;
            }
            i = stop;
        }
        if (start_offset < start && !cf__pts_push_m(p, start_offset, start, 0)) return false;
        if (!cf__pts_push_m(p, start, stop, 2 + (uint32_t)best)) return false;
        start_offset = stop;
    }
    if (start_offset != n && !cf__pts_push_m(p, start_offset, n, 0)) return false;
    return true;
}

// Splits split i by the added-token matches in p->m; matched pieces get their token. Appends
// the new splits to p->sp2 at *n2.
static bool apply_added(const cf__hf *h, cf__pts *p, size_t i, size_t *n2) {
    cf__seg sp = p->sp[i];
    for (size_t k = 0; k < p->nm; k += 3) {
        uint32_t a = p->m[k], b = p->m[k + 1], what = p->m[k + 2];
        if (b <= a) continue;
        cf__seg ns = {sp.off + a, b - a, p->a0[sp.off + a], 0, -1, -1};
        uint32_t e = p->a1[sp.off + b - 1];
        ns.olen = e > ns.shift ? e - ns.shift : 0;
        if (what >= 2) {
            const cf__added *ad = &h->added[what - 2];
            uint32_t s0, e0;
            cf__pts_span(p, &ns, 0, ns.len, &s0, &e0);
            ns.tok0 = (int32_t)p->ntok;
            ns.ntok = 1;
            if (!cf__pts_push_tok(p, ad->id, s0, e0, ad->special)) return false;
        }
        if (!cf__grow((void **)&p->sp2, &p->cap_sp2, *n2 + 1, sizeof(cf__seg))) return false;
        p->sp2[(*n2)++] = ns;
    }
    return true;
}

static void swap_splits(cf__pts *p, size_t n2) {
    cf__seg *t = p->sp;
    size_t tc = p->cap_sp;
    p->sp = p->sp2;
    p->cap_sp = p->cap_sp2;
    p->sp2 = t;
    p->cap_sp2 = tc;
    p->nsp = n2;
}

// Encodes text; the tokens in split order end up in h->pts.tok[0, ntok) afterwards... in
// order of the splits, gathered into h->enc by the caller through cf__hf_gather.
static int encode_splits(cf__hf *h, const char *text, size_t len) {
    cf__pts *p = &h->pts;
    if (!cf__pts_reset(p, text, len, 0)) return CF_MODEL_OOM;
    bool any_raw = false, any_norm = false;
    for (int k = 0; k < h->n_added; k++) {
        if (h->added[k].normalized) any_norm = true;
        else any_raw = true;
    }
    if (any_raw) {
        size_t n2 = 0;
        if (!find_added(h, p, p->s, p->sp[0].len, false) || !apply_added(h, p, 0, &n2))
            return CF_MODEL_OOM;
        swap_splits(p, n2);
    }
    if (h->norm || any_norm) {
        size_t n2 = 0;
        for (size_t i = 0; i < p->nsp; i++) {
            if (p->sp[i].ntok >= 0) {
                if (!cf__grow((void **)&p->sp2, &p->cap_sp2, n2 + 1, sizeof(cf__seg)))
                    return CF_MODEL_OOM;
                p->sp2[n2++] = p->sp[i];
                continue;
            }
            if (h->norm && !cf__normalize(h->norm, p, i)) return CF_MODEL_OOM;
            if (!find_added(h, p, p->s + p->sp[i].off, p->sp[i].len, true) ||
                !apply_added(h, p, i, &n2))
                return CF_MODEL_OOM;
        }
        swap_splits(p, n2);
    }
    if (h->pre && !cf__pretokenize(h->pre, p)) return CF_MODEL_OOM;
    for (size_t i = 0; i < p->nsp; i++) {
        if (p->sp[i].ntok >= 0 || p->sp[i].len == 0) continue;
        int rc = cf__model_tokenize(&h->model, p, i);
        if (rc) return rc;
    }
    return 0;
}

int cf__hf_encode(cf__hf *h, const char *text, size_t len, cf__ptok **out, size_t *n_out,
                  size_t *cap_out) {
    int rc = encode_splits(h, text, len);
    if (rc) return rc;
    cf__pts *p = &h->pts;
    size_t n = 0;
    for (size_t i = 0; i < p->nsp; i++)
        if (p->sp[i].ntok > 0) n += (size_t)p->sp[i].ntok;
    if (!cf__grow((void **)out, cap_out, n + 1, sizeof(cf__ptok))) return CF_MODEL_OOM;
    size_t w = 0;
    for (size_t i = 0; i < p->nsp; i++)
        for (int32_t k = 0; k < p->sp[i].ntok; k++) (*out)[w++] = p->tok[p->sp[i].tok0 + k];
    *n_out = w;
    return 0;
}

// ---- post-processing ----
//
// As in the library, a post-processor turns a list of encodings into another list (Template
// makes one per template piece), and the final encoding is their concatenation.

enum { MAX_ENC = 64 };

typedef struct penc {
    cf_token *t;
    size_t n;
} penc;

// ByteLevel's process_offsets: leading/trailing spaces (as 'Ġ' or whitespace) of each token's
// string move the offsets inward.
static void trim_offsets(const cf__hf *h, cf_token *t, size_t n, bool add_prefix_space) {
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = cf__hf_id_to_piece(h, t[i].id, &len);
        if (!s) continue;
        size_t lead = 0, trail = 0;
        bool in_lead = true;
        for (size_t k = 0; k < len;) {
            uint32_t c;
            k += (size_t)cf__utf8_get(s + k, &c);
            bool sp = c == 0x120 || cf__uc_is_whitespace(c);
            if (in_lead && sp) lead++;
            else in_lead = false;
            trail = sp ? trail + 1 : 0;
        }
        if (!lead && !trail) continue;
        if (lead) {
            bool is_first = i == 0 || t[i].start == 0;
            if (is_first && add_prefix_space && lead == 1) lead = 0;
            int64_t ns = t[i].start + (int64_t)lead;
            t[i].start = ns < t[i].end ? ns : t[i].end;
        }
        if (trail && t[i].end >= (int64_t)trail) {
            int64_t ne = t[i].end - (int64_t)trail;
            t[i].end = ne > t[i].start ? ne : t[i].start;
        }
    }
}

typedef struct plist {
    penc e[MAX_ENC];
    size_t n;
    cf_token *buf;  // storage for new encodings
    size_t used, cap;
} plist;

static cf_token *pl_new(plist *l, size_t n) {
    if (l->n >= MAX_ENC || l->used + n > l->cap) return NULL;
    cf_token *t = l->buf + l->used;
    l->e[l->n].t = t;
    l->e[l->n].n = n;
    l->n++;
    l->used += n;
    return t;
}

static void pl_copy(plist *l, const penc *e) {
    cf_token *t = pl_new(l, e->n);
    if (t) memcpy(t, e->t, e->n * sizeof(cf_token));
}

static void pl_special(plist *l, const int32_t *ids, size_t n, int32_t type_id) {
    cf_token *t = pl_new(l, n);
    if (!t) return;
    for (size_t k = 0; k < n; k++) t[k] = (cf_token){ids[k], type_id, -1, 1, 0, 0};
}

// Runs one post-processor from `in` into `out` (whose buffer is empty).
static bool process(const cf__hf *h, const cf__post *pp, plist *in, plist *out,
                    bool add_special) {
    out->n = 0;
    out->used = 0;
    switch (pp->type) {
    case CF_POST_BYTELEVEL:
        for (size_t k = 0; k < in->n; k++) {
            if (pp->trim_offsets) trim_offsets(h, in->e[k].t, in->e[k].n, pp->add_prefix_space);
            pl_copy(out, &in->e[k]);
        }
        return true;
    case CF_POST_ROBERTA:
    case CF_POST_BERT: {
        bool roberta = pp->type == CF_POST_ROBERTA;
        for (size_t k = 0; k < in->n; k++) {
            if (roberta && pp->trim_offsets)
                trim_offsets(h, in->e[k].t, in->e[k].n, pp->add_prefix_space);
            if (roberta)
                for (size_t j = 0; j < in->e[k].n; j++) in->e[k].t[j].type_id = 0;
        }
        if (!add_special || in->n == 0) {
            for (size_t k = 0; k < in->n; k++) pl_copy(out, &in->e[k]);
            return true;
        }
        pl_special(out, &pp->cls_id, 1, 0);
        pl_copy(out, &in->e[0]);
        pl_special(out, &pp->sep_id, 1, 0);
        if (in->n > 1) {
            if (roberta) pl_special(out, &pp->sep_id, 1, 0);
            pl_copy(out, &in->e[1]);
            pl_special(out, &pp->sep_id, 1, roberta ? 0 : 1);
        }
        return true;
    }
    case CF_POST_TEMPLATE: {
        const cf__tpl_piece *tp = in->n > 1 ? pp->pair : pp->single;
        int ntp = in->n > 1 ? pp->n_pair : pp->n_single;
        for (int k = 0; k < ntp; k++) {
            if (tp[k].is_seq) {
                if ((size_t)tp[k].seq >= in->n) continue;
                const penc *e = &in->e[tp[k].seq];
                cf_token *t = pl_new(out, e->n);
                if (!t) continue;
                for (size_t j = 0; j < e->n; j++) {
                    t[j] = e->t[j];
                    t[j].type_id = tp[k].type_id;
                }
            } else if (add_special) {
                pl_special(out, tp[k].ids, (size_t)tp[k].n_ids, tp[k].type_id);
            }
        }
        return true;
    }
    case CF_POST_SEQUENCE: {
        // Each processor reads the list the one before wrote; two scratch lists alternate.
        plist *tmp = cf__malloc(2 * sizeof(plist));
        cf_token *buf = cf__malloc(2 * out->cap * sizeof(cf_token) + 1);
        if (!tmp || !buf) {
            cf__free(tmp);
            cf__free(buf);
            return false;
        }
        for (int k = 0; k < 2; k++) {
            tmp[k].n = tmp[k].used = 0;
            tmp[k].cap = out->cap;
            tmp[k].buf = buf + (size_t)k * out->cap;
        }
        plist *src = in;
        bool ok = true;
        for (int k = 0; k < pp->n_seq && ok; k++) {
            plist *dst = k == pp->n_seq - 1 ? out : (src == &tmp[0] ? &tmp[1] : &tmp[0]);
            ok = process(h, &pp->seq[k], src, dst, add_special);
            src = dst;
        }
        if (ok && src != out)
            for (size_t k = 0; k < src->n; k++) pl_copy(out, &src->e[k]);
        cf__free(tmp);
        cf__free(buf);
        return ok;
    }
    default:
        for (size_t k = 0; k < in->n; k++) pl_copy(out, &in->e[k]);
        return true;
    }
}

static size_t max_added(const cf__post *pp) {
    if (!pp) return 0;
    size_t n = 4;
    for (int k = 0; k < pp->n_single; k++) n += (size_t)pp->single[k].n_ids;
    for (int k = 0; k < pp->n_pair; k++) n += (size_t)pp->pair[k].n_ids;
    for (int k = 0; k < pp->n_seq; k++) n += max_added(&pp->seq[k]);
    return n;
}

bool cf__hf_post(cf__hf *h, const cf__ptok *a, size_t na, const cf__ptok *b, size_t nb,
                 bool add_special, cf_token *out, int64_t cap, int64_t *n_out) {
    // Three lists, each with room for both sequences twice over (a template may repeat one)
    // and every special token.
    size_t per = 2 * (na + nb) + max_added(h->post) + 8;
    cf_token *work = cf__malloc(2 * per * sizeof(cf_token));
    if (!work) return false;
    plist *l = cf__malloc(2 * sizeof(plist));
    if (!l) {
        cf__free(work);
        return false;
    }
    for (int k = 0; k < 2; k++) {
        l[k].n = 0;
        l[k].used = 0;
        l[k].cap = per;
        l[k].buf = work + (size_t)k * per;
    }
    cf_token *t = pl_new(&l[0], na);
    for (size_t i = 0; i < na; i++)
        t[i] = (cf_token){a[i].id, 0, 0, a[i].special, a[i].start, a[i].end};
    if (b) {
        t = pl_new(&l[0], nb);
        for (size_t i = 0; i < nb; i++)
            t[i] = (cf_token){b[i].id, 1, 1, b[i].special, b[i].start, b[i].end};
    }
    plist *res = &l[0];
    if (h->post) {
        if (!process(h, h->post, &l[0], &l[1], add_special)) {
            cf__free(l);
            cf__free(work);
            return false;
        }
        res = &l[1];
    }
    int64_t w = 0;
    for (size_t k = 0; k < res->n; k++)
        for (size_t j = 0; j < res->e[k].n; j++) {
            if (w < cap) out[w] = res->e[k].t[j];
            w++;
        }
    *n_out = w;
    cf__free(l);
    cf__free(work);
    return true;
}

// ---- decoding ----

// A list of strings in one buffer.
typedef struct slist {
    char *buf;
    size_t len, cap;
    size_t *off, *n;
    size_t count, cap_s;
    bool oom;
} slist;

static void sl_free(slist *l) {
    cf__free(l->buf);
    cf__free(l->off);
    cf__free(l->n);
    memset(l, 0, sizeof *l);
}

static void sl_reset(slist *l) {
    l->len = 0;
    l->count = 0;
}

// Starts a new string.
static void sl_begin(slist *l) {
    if (l->oom) return;
    if (l->count == l->cap_s) {
        size_t c1 = l->cap_s, c2 = l->cap_s;
        if (!cf__grow((void **)&l->off, &c1, l->count + 1, sizeof(size_t)) ||
            !cf__grow((void **)&l->n, &c2, l->count + 1, sizeof(size_t))) {
            l->oom = true;
            return;
        }
        l->cap_s = c1 < c2 ? c1 : c2;
    }
    l->off[l->count] = l->len;
    l->n[l->count] = 0;
    l->count++;
}

// Appends bytes to the current string.
static void sl_add(slist *l, const char *s, size_t n) {
    if (l->oom || !n) return;
    if (!cf__grow((void **)&l->buf, &l->cap, l->len + n, 1)) {
        l->oom = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->n[l->count - 1] += n;
}

static const char *sl_str(const slist *l, size_t i, size_t *n) {
    *n = l->n[i];
    return l->buf ? l->buf + l->off[i] : "";
}

// Appends s with invalid UTF-8 replaced by U+FFFD (maximal subparts), as from_utf8_lossy.
static void add_lossy(slist *l, const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        uint32_t cp;
        int k = cf__utf8_next(u + i, n - i, &cp);
        if (k) {
            i += (size_t)k;
            continue;
        }
        sl_add(l, s + run, i - run);
        sl_add(l, "\xEF\xBF\xBD", 3);
        i += (size_t)cf__utf8_invalid_len(u + i, n - i);
        run = i;
    }
    if (n > run) sl_add(l, s + run, n - run);
}

static bool starts_with(const char *s, size_t n, const char *p, size_t pn) {
    return n >= pn && !memcmp(s, p, pn);
}

// Replaces every occurrence of `from` in s with `to`, appending to the current string. s may
// lie in l's own buffer: room is made first.
static void add_replaced(slist *l, const char *s, size_t n, const char *from, size_t fn,
                         const char *to, size_t tn) {
    if (l->oom) return;
    size_t worst = n + (fn ? n / fn + 1 : 1) * tn;
    if (l->buf && s >= l->buf && s < l->buf + l->cap) {
        size_t at = (size_t)(s - l->buf);
        if (!cf__grow((void **)&l->buf, &l->cap, l->len + worst, 1)) {
            l->oom = true;
            return;
        }
        s = l->buf + at;
    } else if (!cf__grow((void **)&l->buf, &l->cap, l->len + worst, 1)) {
        l->oom = true;
        return;
    }
    size_t i = 0, run = 0;
    while (fn && i + fn <= n) {
        if (!memcmp(s + i, from, fn)) {
            sl_add(l, s + run, i - run);
            sl_add(l, to, tn);
            i += fn;
            run = i;
        } else {
            i++;
        }
    }
    if (n > run) sl_add(l, s + run, n - run);
}

// WordPiece's cleanup(): " ." -> "." and the like, applied in this order, appended to l.
static void add_cleanup(slist *l, const char *s, size_t n) {
    static const char *const rules[][2] = {
        {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},   {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"},         {" 's", "'s"},
        {" 've", "'ve"}, {" 're", "'re"},
    };
    // No rule makes a string longer: two buffers of n bytes hold every step.
    char *x = cf__malloc(n + 1), *y = cf__malloc(n + 1);
    if (!x || !y) {
        cf__free(x);
        cf__free(y);
        l->oom = true;
        return;
    }
    if (n) memcpy(x, s, n);
    size_t xn = n;
    for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
        const char *from = rules[r][0], *to = rules[r][1];
        size_t fn = strlen(from), tn = strlen(to), yn = 0, i = 0;
        while (i < xn) {
            if (i + fn <= xn && !memcmp(x + i, from, fn)) {
                memcpy(y + yn, to, tn);
                yn += tn;
                i += fn;
            } else {
                y[yn++] = x[i++];
            }
        }
        char *t = x;
        x = y;
        y = t;
        xn = yn;
    }
    sl_add(l, x, xn);
    cf__free(x);
    cf__free(y);
}

// "<0xAB>" as ByteFallback reads it (u8::from_str_radix, which also takes "+A").
static bool is_byte_token(const char *s, size_t n, int *v) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return false;
    int x = 0;
    for (int k = s[3] == '+' ? 4 : 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return false;
        x = x * 16 + d;
    }
    *v = x;
    return true;
}

// One decoder: in -> out.
static void decode_step(const cf__decoder *d, slist *in, slist *out, slist *tmp) {
    sl_reset(out);
    size_t n;
    const char *s;
    switch (d->type) {
    case CF_DEC_BYTELEVEL: {
        // All tokens into one byte string, then lossy UTF-8.
        slist *raw = tmp;
        sl_reset(raw);
        sl_begin(raw);
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            bool all = true;
            for (size_t k = 0; k < n && all;) {
                uint32_t c;
                k += (size_t)cf__utf8_get(s + k, &c);
                all = cf__bytelevel_byte(c) >= 0;
            }
            if (!all) {
                sl_add(raw, s, n);
                continue;
            }
            for (size_t k = 0; k < n;) {
                uint32_t c;
                k += (size_t)cf__utf8_get(s + k, &c);
                char b = (char)cf__bytelevel_byte(c);
                sl_add(raw, &b, 1);
            }
        }
        sl_begin(out);
        s = sl_str(raw, 0, &n);
        add_lossy(out, s, n);
        return;
    }
    case CF_DEC_WORDPIECE: {
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            sl_reset(tmp);
            sl_begin(tmp);
            if (i != 0) {
                if (starts_with(s, n, d->str, d->str_len)) {
                    sl_add(tmp, s + d->str_len, n - d->str_len);
                } else {
                    sl_add(tmp, " ", 1);
                    sl_add(tmp, s, n);
                }
            } else {
                sl_add(tmp, s, n);
            }
            size_t tn;
            const char *ts = sl_str(tmp, 0, &tn);
            sl_begin(out);
            if (d->cleanup) add_cleanup(out, ts, tn);
            else sl_add(out, ts, tn);
        }
        return;
    }
    case CF_DEC_METASPACE: {
        char rep[4];
        size_t rl = (size_t)cf__utf8_put(d->replacement, rep);
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            sl_begin(out);
            bool drop = i == 0 && d->prepend_scheme != CF_PREPEND_NEVER;
            add_replaced(out, s, n, rep, rl, " ", drop ? 0 : 1);
        }
        return;
    }
    case CF_DEC_BPE:
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            sl_begin(out);
            bool last = i + 1 == in->count;
            add_replaced(out, s, n, d->str, d->str_len, " ", last ? 0 : 1);
        }
        return;
    case CF_DEC_BYTEFALLBACK: {
        size_t i = 0;
        while (i < in->count) {
            int v;
            s = sl_str(in, i, &n);
            if (!is_byte_token(s, n, &v)) {
                sl_begin(out);
                sl_add(out, s, n);
                i++;
                continue;
            }
            size_t j = i;
            sl_reset(tmp);
            sl_begin(tmp);
            while (j < in->count) {
                s = sl_str(in, j, &n);
                if (!is_byte_token(s, n, &v)) break;
                char b = (char)v;
                sl_add(tmp, &b, 1);
                j++;
            }
            size_t bn;
            const char *bs = sl_str(tmp, 0, &bn);
            if (cf__utf8_valid(bs, bn)) {
                sl_begin(out);
                sl_add(out, bs, bn);
            } else {
                for (size_t k = i; k < j; k++) {
                    sl_begin(out);
                    sl_add(out, "\xEF\xBF\xBD", 3);
                }
            }
            i = j;
        }
        return;
    }
    case CF_DEC_FUSE:
        sl_begin(out);
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            sl_add(out, s, n);
        }
        return;
    case CF_DEC_STRIP: {
        char cb[4];
        size_t cl = (size_t)cf__utf8_put(d->strip_char, cb);
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            size_t a = 0, b = n;
            for (int k = 0; k < d->strip_start && a + cl <= b && !memcmp(s + a, cb, cl); k++)
                a += cl;
            for (int k = 0; k < d->strip_stop && b >= a + cl && !memcmp(s + b - cl, cb, cl); k++)
                b -= cl;
            sl_begin(out);
            sl_add(out, s + a, b - a);
        }
        return;
    }
    case CF_DEC_REPLACE:
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            sl_begin(out);
            size_t pos = 0, last = SIZE_MAX, ms, me, run = 0;
            while (d->re && cf__regex_next(d->re, s, n, &pos, &last, &ms, &me)) {
                sl_add(out, s + run, ms - run);
                sl_add(out, d->str, d->str_len);
                run = me;
            }
            sl_add(out, s + run, n - run);
        }
        return;
    case CF_DEC_CTC:
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            if (i > 0) {
                size_t pn;
                const char *ps = sl_str(in, i - 1, &pn);
                if (pn == n && !memcmp(ps, s, n)) continue;  // dedup
            }
            sl_reset(tmp);
            sl_begin(tmp);
            add_replaced(tmp, s, n, d->str, d->str_len, "", 0);
            if (d->cleanup) {
                size_t tn;
                const char *ts = sl_str(tmp, 0, &tn);
                sl_begin(tmp);
                add_cleanup(tmp, ts, tn);
            }
            size_t tn;
            const char *ts = sl_str(tmp, tmp->count - 1, &tn);
            if (d->cleanup) {
                // The delimiter becomes a space; re-read after the buffer may have moved.
                sl_begin(tmp);
                ts = sl_str(tmp, tmp->count - 2, &tn);
                add_replaced(tmp, ts, tn, d->str2, d->str2_len, " ", 1);
                ts = sl_str(tmp, tmp->count - 1, &tn);
            }
            if (tn == 0) continue;  // empty results are dropped
            sl_begin(out);
            sl_add(out, ts, tn);
        }
        return;
    default:
        for (size_t i = 0; i < in->count; i++) {
            s = sl_str(in, i, &n);
            sl_begin(out);
            sl_add(out, s, n);
        }
        return;
    }
}

bool cf__hf_decode(const cf__hf *h, const int32_t *ids, int64_t n, bool skip_special,
                   char **out, size_t *out_len) {
    slist a = {0}, b = {0}, tmp = {0};
    for (int64_t i = 0; i < n; i++) {
        size_t len;
        const char *p = cf__hf_id_to_piece(h, ids[i], &len);
        if (!p) continue;
        if (skip_special && cf__hf_is_special(h, ids[i])) continue;
        sl_begin(&a);
        sl_add(&a, p, len);
    }
    slist *cur = &a, *nxt = &b;
    const cf__decoder *d = h->dec;
    if (d) {
        int nd = d->type == CF_DEC_SEQUENCE ? d->n_seq : 1;
        for (int k = 0; k < nd; k++) {
            const cf__decoder *dk = d->type == CF_DEC_SEQUENCE ? &d->seq[k] : d;
            decode_step(dk, cur, nxt, &tmp);
            slist *t = cur;
            cur = nxt;
            nxt = t;
        }
    }
    bool ok = !a.oom && !b.oom && !tmp.oom;
    size_t total = 0;
    for (size_t i = 0; i < cur->count; i++) total += cur->n[i] + (d ? 0 : 1);
    char *r = ok ? cf__malloc(total + 1) : NULL;
    if (r) {
        size_t w = 0;
        for (size_t i = 0; i < cur->count; i++) {
            if (!d && i > 0) r[w++] = ' ';
            if (cur->n[i]) memcpy(r + w, cur->buf + cur->off[i], cur->n[i]);
            w += cur->n[i];
        }
        r[w] = 0;
        *out = r;
        *out_len = w;
    }
    sl_free(&a);
    sl_free(&b);
    sl_free(&tmp);
    return r != NULL;
}
