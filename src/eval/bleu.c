// Corpus BLEU exactly as sacreBLEU 2.x computes it with its defaults: the 13a tokenizer
// (mteval-v13a.pl's rules), n-grams up to 4, clipping against the largest count in any
// reference, the closest reference length (the shorter on a tie) for the brevity penalty, and
// 'exp' smoothing (the k-th order with no match gets precision 100 / (2^k * total)). The
// statistics are summed over the corpus first; the score is computed once, with the same
// floating-point expressions as sacreBLEU (so its two-decimal line agrees exactly).
// Deliberately not here: other tokenizers (intl, zh, ja-mecab, spm), sentence-level BLEU,
// bootstrap confidence intervals, chrF and TER.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval_internal.h"

#define BLEU_MAX_ORDER 4
#define BLEU_MAX_FILE ((size_t)2 << 30)

cf_bleu_params cf_bleu_default_params(void) {
    cf_bleu_params p = {0, 1};
    return p;
}

// ---- the 13a tokenizer ----

// str.replace(pat, rep) with ASCII pat and rep, from a to b.
static void replace(const cf__cps *a, const char *pat, const char *rep, cf__cps *b) {
    size_t np = strlen(pat);
    b->n = 0;
    for (size_t i = 0; i < a->n;) {
        size_t k = 0;
        while (k < np && i + k < a->n && a->v[i + k] == (uint8_t)pat[k]) k++;
        if (k == np) {
            for (const char *r = rep; *r; r++) cf__cps_push(b, (uint8_t)*r);
            i += np;
        } else {
            cf__cps_push(b, a->v[i++]);
        }
    }
}

static void swap(cf__cps *a, cf__cps *b) {
    cf__cps t = *a;
    *a = *b;
    *b = t;
}

static bool is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static bool is_dot_comma(uint32_t c) { return c == '.' || c == ','; }

// ([\{-\~\[-\` -\&\(-\+\:-\@\/]): ASCII punctuation and symbols except - ' , . (and space).
static bool is_sym(uint32_t c) {
    return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
           (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}

// re.sub of a two-character pattern (x)(y) by x' 'y' ' (kind 0) or ' 'x' 'y (kind 1):
// leftmost matches, not overlapping, left to right.
static void sub_pair(const cf__cps *a, bool (*px)(uint32_t), bool (*py)(uint32_t), int kind,
                     cf__cps *b) {
    b->n = 0;
    for (size_t i = 0; i < a->n;) {
        if (i + 1 < a->n && px(a->v[i]) && py(a->v[i + 1])) {
            if (kind == 1) cf__cps_push(b, ' ');
            cf__cps_push(b, a->v[i]);
            cf__cps_push(b, ' ');
            cf__cps_push(b, a->v[i + 1]);
            if (kind == 0) cf__cps_push(b, ' ');
            i += 2;
        } else {
            cf__cps_push(b, a->v[i++]);
        }
    }
}

static bool not_digit(uint32_t c) { return !is_digit(c); }
static bool is_dash(uint32_t c) { return c == '-'; }

// Tokenizes the code points in a (consumed as scratch) into b: tokens separated by one space.
static void tok_13a(cf__cps *a, cf__cps *b, bool do_13a) {
    if (do_13a) {
        replace(a, "<skipped>", "", b);
        replace(b, "-\n", "", a);
        replace(a, "\n", " ", b);
        bool amp = false;
        for (size_t i = 0; i < b->n && !amp; i++) amp = b->v[i] == '&';
        if (amp) {
            replace(b, "&quot;", "\"", a);
            replace(a, "&amp;", "&", b);
            replace(b, "&lt;", "<", a);
            replace(a, "&gt;", ">", b);
        }
        // b holds the line; pad with spaces and split off symbols.
        a->n = 0;
        cf__cps_push(a, ' ');
        for (size_t i = 0; i < b->n; i++) {
            uint32_t c = b->v[i];
            if (is_sym(c)) {
                cf__cps_push(a, ' ');
                cf__cps_push(a, c);
                cf__cps_push(a, ' ');
            } else {
                cf__cps_push(a, c);
            }
        }
        cf__cps_push(a, ' ');
        sub_pair(a, not_digit, is_dot_comma, 0, b);  // period and comma unless after a digit
        sub_pair(b, is_dot_comma, not_digit, 1, a);  // ... unless before a digit
        sub_pair(a, is_digit, is_dash, 0, b);        // dash after a digit
        swap(a, b);
    }
    // ' '.join(line.split())
    b->n = 0;
    for (size_t i = 0; i < a->n;) {
        if (cf__py_isspace(a->v[i])) {
            i++;
            continue;
        }
        if (b->n) cf__cps_push(b, ' ');
        while (i < a->n && !cf__py_isspace(a->v[i])) cf__cps_push(b, a->v[i++]);
    }
}

// Decodes, lower-cases (optionally), strips and tokenizes one segment into out.
typedef struct scratch {
    cf__cps a, b, c;
} scratch;

static size_t preprocess(const char *s, size_t len, const cf_bleu_params *p, scratch *w,
                         cf__cps *out) {
    w->a.n = 0;
    size_t replaced = cf__utf8_decode(s, len, &w->a);
    if (p->lowercase) {
        w->c.n = 0;
        cf__py_lower(w->a.v, w->a.n, &w->c);
        swap(&w->a, &w->c);
    }
    w->a.n = cf__py_rstrip_len(w->a.v, w->a.n);
    tok_13a(&w->a, out, p->tokenize != 0);
    return replaced;
}

static void scratch_free(scratch *w) {
    cf__cps_free(&w->a);
    cf__cps_free(&w->b);
    cf__cps_free(&w->c);
}

cf_status cf_bleu_tokenize(cf_ctx *ctx, const char *line, size_t len,
                           const cf_bleu_params *params, char *buf, size_t cap, size_t *n_out) {
    cf_bleu_params p = params ? *params : cf_bleu_default_params();
    scratch w = {0};
    cf__cps out = {0};
    preprocess(line, len, &p, &w, &out);
    bool oom = w.a.oom || w.b.oom || w.c.oom || out.oom;
    size_t n = 0;
    char *s = oom ? NULL : cf__utf8_encode(out.v, out.n, &n);
    scratch_free(&w);
    cf__cps_free(&out);
    if (!s) return CF_NOMEM(ctx);
    *n_out = n;
    cf_status st = CF_OK;
    if (n > cap) st = CF_ERR(ctx, CF_ERR_RANGE, "buffer of %zu bytes, %zu needed", cap, n);
    else memcpy(buf, s, n);
    cf__free(s);
    return st;
}

// ---- n-gram statistics ----

// A tokenized segment: code points with single-space separators, and its tokens.
typedef struct seg {
    cf__cps cp;
    size_t *start, *len;  // (n) token positions in cp
    uint64_t *hash;       // (n) token hashes
    size_t n, cap;
} seg;

static bool seg_split(seg *s) {
    s->n = 0;
    for (size_t i = 0; i < s->cp.n;) {
        size_t j = i;
        while (j < s->cp.n && s->cp.v[j] != ' ') j++;
        if (s->n == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 64;
            size_t *a = cf__realloc(s->start, nc * sizeof *a);
            if (!a) return false;
            s->start = a;
            size_t *b = cf__realloc(s->len, nc * sizeof *b);
            if (!b) return false;
            s->len = b;
            uint64_t *h = cf__realloc(s->hash, nc * sizeof *h);
            if (!h) return false;
            s->hash = h;
            s->cap = nc;
        }
        uint64_t h = 1469598103934665603ULL;
        for (size_t k = i; k < j; k++) h = (h ^ s->cp.v[k]) * 1099511628211ULL;
        s->start[s->n] = i;
        s->len[s->n] = j - i;
        s->hash[s->n] = h;
        s->n++;
        i = j + 1;
    }
    return true;
}

static void seg_free(seg *s) {
    cf__cps_free(&s->cp);
    cf__free(s->start);
    cf__free(s->len);
    cf__free(s->hash);
}

static bool ngram_eq(const seg *a, size_t i, const seg *b, size_t j, int n) {
    for (int k = 0; k < n; k++) {
        size_t la = a->len[i + (size_t)k];
        if (la != b->len[j + (size_t)k] || a->hash[i + (size_t)k] != b->hash[j + (size_t)k] ||
            memcmp(a->cp.v + a->start[i + (size_t)k], b->cp.v + b->start[j + (size_t)k],
                   la * sizeof(uint32_t)))
            return false;
    }
    return true;
}

static uint64_t ngram_hash(const seg *s, size_t i, int n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    for (int k = 0; k < n; k++) h = (h ^ s->hash[i + (size_t)k]) * 0x100000001B3ULL + 0x2545F491ULL;
    return h;
}

// The hypothesis n-grams of one segment: open addressing, keyed by (order, first token).
typedef struct gram {
    uint64_t hash;
    int32_t n;       // order, 0 = empty slot
    int32_t count;   // in the hypothesis
    int32_t ref_max; // largest count in one reference
    int32_t cur;     // count in the reference being read
    size_t at;       // first token in the hypothesis
} gram;

typedef struct table {
    gram *g;
    size_t cap;
} table;

static gram *table_find(const table *t, const seg *hyp, const seg *s, size_t i, int n,
                        uint64_t h) {
    size_t k = (size_t)h & (t->cap - 1);
    for (;; k = (k + 1) & (t->cap - 1)) {
        gram *g = &t->g[k];
        if (!g->n || (g->hash == h && g->n == n && ngram_eq(hyp, g->at, s, i, n))) return g;
    }
}

typedef struct bleu_acc {
    int64_t hyp_len, ref_len;
    int64_t correct[BLEU_MAX_ORDER], total[BLEU_MAX_ORDER];
} bleu_acc;

// Adds one segment's statistics: hyp against refs[0..n_refs).
static bool add_segment(const seg *hyp, const seg *refs, int n_refs, table *t, bleu_acc *acc) {
    size_t need = 64;
    while (need < hyp->n * BLEU_MAX_ORDER * 2 + 2) need *= 2;
    if (t->cap < need) {
        gram *g = cf__realloc(t->g, need * sizeof *g);
        if (!g) return false;
        t->g = g;
        t->cap = need;
    }
    memset(t->g, 0, t->cap * sizeof *t->g);
    for (int n = 1; n <= BLEU_MAX_ORDER; n++)
        for (size_t i = 0; i + (size_t)n <= hyp->n; i++) {
            uint64_t h = ngram_hash(hyp, i, n);
            gram *g = table_find(t, hyp, hyp, i, n, h);
            if (!g->n) {
                g->n = n;
                g->hash = h;
                g->at = i;
            }
            g->count++;
            acc->total[n - 1]++;
        }
    int64_t hyp_len = (int64_t)hyp->n, closest = -1, closest_diff = -1;
    for (int r = 0; r < n_refs; r++) {
        const seg *ref = &refs[r];
        for (int n = 1; n <= BLEU_MAX_ORDER; n++)
            for (size_t i = 0; i + (size_t)n <= ref->n; i++) {
                gram *g = table_find(t, hyp, ref, i, n, ngram_hash(ref, i, n));
                if (g->n) g->cur++;
            }
        for (size_t k = 0; k < t->cap; k++) {
            gram *g = &t->g[k];
            if (g->cur > g->ref_max) g->ref_max = g->cur;
            g->cur = 0;
        }
        // the closest reference length, the shorter one on a tie
        int64_t len = (int64_t)ref->n, diff = len > hyp_len ? len - hyp_len : hyp_len - len;
        if (closest_diff < 0 || diff < closest_diff || (diff == closest_diff && len < closest)) {
            closest_diff = diff;
            closest = len;
        }
    }
    for (size_t k = 0; k < t->cap; k++) {
        const gram *g = &t->g[k];
        if (g->n) acc->correct[g->n - 1] += g->count < g->ref_max ? g->count : g->ref_max;
    }
    acc->hyp_len += hyp_len;
    acc->ref_len += closest;
    return true;
}

// sacreBLEU's my_log: log, with log(0) floored to -9999999999.
static double my_log(double x) { return x == 0.0 ? -9999999999.0 : log(x); }

// BLEU.compute_bleu with smooth_method='exp', effective_order=False.
static void compute(const bleu_acc *acc, cf_bleu_result *r) {
    r->hyp_len = acc->hyp_len;
    r->ref_len = acc->ref_len;
    memcpy(r->correct, acc->correct, sizeof r->correct);
    memcpy(r->total, acc->total, sizeof r->total);
    double bp = 1.0;
    if (acc->hyp_len < acc->ref_len)
        bp = acc->hyp_len > 0 ? exp(1 - (double)acc->ref_len / (double)acc->hyp_len) : 0.0;
    r->bp = bp;
    r->ratio = acc->ref_len ? (double)acc->hyp_len / (double)acc->ref_len : 0;
    for (int n = 0; n < BLEU_MAX_ORDER; n++) r->precisions[n] = 0.0;
    bool any = false;
    for (int n = 0; n < BLEU_MAX_ORDER; n++) any |= acc->correct[n] != 0;
    if (!any) {
        r->score = 0.0;
        return;
    }
    double smooth = 1.0;
    for (int n = 0; n < BLEU_MAX_ORDER; n++) {
        if (acc->total[n] == 0) break;
        if (acc->correct[n] == 0) {
            smooth *= 2;
            r->precisions[n] = 100. / (smooth * (double)acc->total[n]);
        } else {
            r->precisions[n] = 100. * (double)acc->correct[n] / (double)acc->total[n];
        }
    }
    double sum = 0;  // Python's sum() of the list, left to right
    for (int n = 0; n < BLEU_MAX_ORDER; n++) sum += my_log(r->precisions[n]);
    r->score = bp * exp(sum / BLEU_MAX_ORDER);
}

cf_status cf_bleu_corpus(cf_ctx *ctx, const char *const *hyps, int64_t n,
                         const char *const *const *refs, int n_refs,
                         const cf_bleu_params *params, cf_bleu_result *out) {
    memset(out, 0, sizeof *out);
    if (n < 1) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no hypotheses to score");
    if (n_refs < 1) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no references");
    cf_bleu_params p = params ? *params : cf_bleu_default_params();
    seg *segs = cf__calloc((size_t)n_refs + 1, sizeof *segs);
    if (!segs) return CF_NOMEM(ctx);
    scratch w = {0};
    table t = {0};
    bleu_acc acc = {0};
    bool ok = true;
    for (int64_t i = 0; i < n && ok; i++) {
        out->n_replaced += (int64_t)preprocess(hyps[i], strlen(hyps[i]), &p, &w, &segs[0].cp);
        for (int r = 0; r < n_refs; r++)
            out->n_replaced += (int64_t)preprocess(refs[r][i], strlen(refs[r][i]), &p, &w,
                                                   &segs[r + 1].cp);
        for (int r = 0; r <= n_refs && ok; r++) ok = !segs[r].cp.oom && seg_split(&segs[r]);
        ok = ok && !w.a.oom && !w.b.oom && !w.c.oom;
        ok = ok && add_segment(&segs[0], segs + 1, n_refs, &t, &acc);
    }
    for (int r = 0; r <= n_refs; r++) seg_free(&segs[r]);
    cf__free(segs);
    scratch_free(&w);
    cf__free(t.g);
    if (!ok) return CF_NOMEM(ctx);
    int64_t replaced = out->n_replaced;
    compute(&acc, out);
    out->n_replaced = replaced;
    return CF_OK;
}

// ---- files ----

// Splits buf (NUL-terminated, size bytes) into lines in place, as Python iterates a file
// opened with newline="\n": lines end at '\n', a last line without one counts, an empty file
// has none. *lines: fresh array (cf__free) of pointers into buf.
static bool split_lines(char *buf, size_t size, char ***lines, int64_t *n) {
    int64_t count = 0;
    for (size_t i = 0; i < size; i++) count += buf[i] == '\n';
    if (size && buf[size - 1] != '\n') count++;
    char **l = cf__malloc((size_t)(count ? count : 1) * sizeof *l);
    if (!l) return false;
    int64_t k = 0;
    for (size_t i = 0; i < size;) {
        l[k++] = buf + i;
        char *nl = memchr(buf + i, '\n', size - i);
        if (!nl) break;
        *nl = 0;
        i = (size_t)(nl - buf) + 1;
    }
    *lines = l;
    *n = count;
    return true;
}

cf_status cf_bleu_files(cf_ctx *ctx, const char *hyp_path, const char *const *ref_paths,
                        int n_refs, const cf_bleu_params *params, cf_bleu_result *out) {
    memset(out, 0, sizeof *out);
    if (n_refs < 1) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no reference files");
    int nf = n_refs + 1;
    char **buf = cf__calloc((size_t)nf, sizeof *buf);
    char ***lines = cf__calloc((size_t)nf, sizeof *lines);
    int64_t *count = cf__calloc((size_t)nf, sizeof *count);
    cf_status st = CF_OK;
    if (!buf || !lines || !count) {
        st = CF_NOMEM(ctx);
        goto done;
    }
    for (int f = 0; f < nf && st == CF_OK; f++) {
        const char *path = f == 0 ? hyp_path : ref_paths[f - 1];
        size_t size;
        st = cf__file_read(ctx, path, BLEU_MAX_FILE, &buf[f], &size);
        if (st != CF_OK) break;
        if (memchr(buf[f], 0, size)) {
            st = CF_FORMAT_ERR(ctx, "%s: contains a NUL byte (not a text file)", path);
            break;
        }
        if (!split_lines(buf[f], size, &lines[f], &count[f])) st = CF_NOMEM(ctx);
        else if (count[f] == 0) st = CF_FORMAT_ERR(ctx, "%s: no lines", path);
        else if (f > 0 && count[f] != count[0])
            st = CF_FORMAT_ERR(ctx, "line counts differ: %s has %lld lines, %s has %lld",
                               hyp_path, (long long)count[0], path, (long long)count[f]);
    }
    if (st == CF_OK)
        st = cf_bleu_corpus(ctx, (const char *const *)lines[0], count[0],
                            (const char *const *const *)(lines + 1), n_refs, params, out);
done:
    for (int f = 0; f < nf && buf; f++) cf__free(buf[f]);
    for (int f = 0; f < nf && lines; f++) cf__free(lines[f]);
    cf__free(buf);
    cf__free(lines);
    cf__free(count);
    return st;
}

size_t cf_bleu_format(const cf_bleu_result *r, char *buf, size_t cap) {
    int n = snprintf(buf, cap,
                     "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld "
                     "ref_len = %lld)",
                     r->score, r->precisions[0], r->precisions[1], r->precisions[2],
                     r->precisions[3], r->bp, r->ratio, (long long)r->hyp_len,
                     (long long)r->ref_len);
    return n < 0 ? 0 : (size_t)n;
}
