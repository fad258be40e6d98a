// Tokenizer training: byte-level BPE (as GPT-2's vocabulary was built: the GPT-2 pre-tokenizer
// pattern, the 256 byte-level characters as the alphabet, then the most frequent adjacent pair
// merged until the vocabulary is full) and Unigram (SentencePiece style: Metaspace words, a
// seed of frequent substrings, EM over the segmentation lattice, pruning of the least useful
// pieces, characters always kept). The result is written as a tokenizer.json that the
// tokenizers library loads, with the pipeline that goes with it (ByteLevel for BPE, Metaspace
// for Unigram).
//
// The BPE trainer counts pairs once, then updates the counts of only the words a merge touches,
// with a max-heap of (count, pair) whose stale entries are skipped when popped. Ties go to the
// pair with the smaller ids, so training is deterministic.
//
// Not here: WordPiece training, dropout, multi-threading.
#include <cJSON.h>  // defines: cJSON_CreateObject, cJSON_PrintUnformatted
#include <math.h>
#include <stdio.h>
#include <stdlib.h>  // defines: qsort
#include <string.h>

#include "tokenizer_internal.h"

cf_tokenizer_train_params cf_tokenizer_default_train_params(void) {
    cf_tokenizer_train_params p;
    memset(&p, 0, sizeof p);
    p.model = CF_TOKENIZER_BPE;
    p.vocab_size = 8000;
    p.min_frequency = 2;
    p.max_piece_length = 16;
    p.n_threads = 1;
    return p;
}

// ---- words ----

typedef struct wordset {
    cf__strmap index;  // word bytes -> word number
    int64_t *count;
    size_t n, cap;
} wordset;

static bool ws_add(wordset *w, const char *s, size_t n) {
    int32_t k = cf__strmap_get(&w->index, s, n);
    if (k >= 0) {
        w->count[k]++;
        return true;
    }
    if (w->n >= (size_t)INT32_MAX) return false;
    if (!cf__grow((void **)&w->count, &w->cap, w->n + 1, sizeof(int64_t))) return false;
    if (!cf__strmap_put(&w->index, s, n, (int32_t)w->n, false, NULL)) return false;
    w->count[w->n++] = 1;
    return true;
}

static void ws_free(wordset *w) {
    cf__strmap_free(&w->index);
    cf__free(w->count);
}

// The word's bytes: keys live in the map's pool; find them through the slots.
typedef struct wref {
    const char *s;
    size_t n;
} wref;

static wref *ws_words(const wordset *w) {
    wref *r = cf__calloc(w->n + 1, sizeof(wref));
    if (!r) return NULL;
    for (uint32_t i = 0; i < w->index.cap; i++) {
        const cf__sm_slot *e = &w->index.slots[i];
        if (e->len == UINT32_MAX) continue;
        r[e->val].s = w->index.pool + e->off;
        r[e->val].n = e->len;
    }
    return r;
}

// Lines of text with invalid UTF-8 replaced (as the reference would read the file).
static char *clean_text(const char *text, size_t len, size_t *out_len) {
    char *c = cf__malloc(len * 3 + 1);
    if (!c) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int l = cf__utf8_next((const uint8_t *)text + i, len - i, &cp);
        if (l) {
            memcpy(c + w, text + i, (size_t)l);
            w += (size_t)l;
            i += (size_t)l;
        } else {
            memcpy(c + w, "\xEF\xBF\xBD", 3);
            w += 3;
            i += (size_t)cf__utf8_invalid_len((const uint8_t *)text + i, len - i);
        }
    }
    *out_len = w;
    return c;
}

// ---- writing tokenizer.json ----

static cJSON *added_json(const char *const *special, int n_special) {
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; a && k < n_special; k++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", k);
        cJSON_AddStringToObject(t, "content", special[k]);
        cJSON_AddBoolToObject(t, "single_word", 0);
        cJSON_AddBoolToObject(t, "lstrip", 0);
        cJSON_AddBoolToObject(t, "rstrip", 0);
        cJSON_AddBoolToObject(t, "normalized", 0);
        cJSON_AddBoolToObject(t, "special", 1);
        cJSON_AddItemToArray(a, t);
    }
    return a;
}

static cJSON *bytelevel_json(bool prefix, bool trim) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "ByteLevel");
    cJSON_AddBoolToObject(o, "add_prefix_space", prefix);
    cJSON_AddBoolToObject(o, "trim_offsets", trim);
    cJSON_AddBoolToObject(o, "use_regex", 1);
    return o;
}

static cJSON *metaspace_json(void) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "Metaspace");
    cJSON_AddStringToObject(o, "replacement", "\xE2\x96\x81");
    cJSON_AddStringToObject(o, "prepend_scheme", "always");
    cJSON_AddBoolToObject(o, "split", 1);
    return o;
}

static cf_status write_json(cf_ctx *ctx, cJSON *root, const char *path) {
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!s) return CF_NOMEM(ctx);
    size_t n = strlen(s);
    const void *chunks[2] = {s, "\n"};
    size_t lens[2] = {n, 1};
    cf_status st = cf__write_atomic(ctx, path, chunks, lens, 2);
    cJSON_free(s);
    return st;
}

static cJSON *skeleton(const char *const *special, int n_special) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON_AddItemToObject(root, "added_tokens", added_json(special, n_special));
    cJSON_AddNullToObject(root, "normalizer");
    return root;
}

// ---- BPE ----

typedef struct hent {
    int64_t count;
    int32_t pid;
    int32_t a, b;
} hent;

static bool h_before(const hent *x, const hent *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

typedef struct heap {
    hent *v;
    size_t n, cap;
} heap;

static bool h_push(heap *h, hent e) {
    if (!cf__grow((void **)&h->v, &h->cap, h->n + 1, sizeof(hent))) return false;
    size_t i = h->n++;
    h->v[i] = e;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!h_before(&h->v[i], &h->v[p])) break;
        hent t = h->v[i];
        h->v[i] = h->v[p];
        h->v[p] = t;
        i = p;
    }
    return true;
}

static hent h_pop(heap *h) {
    hent top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h_before(&h->v[l], &h->v[m])) m = l;
        if (r < h->n && h_before(&h->v[r], &h->v[m])) m = r;
        if (m == i) break;
        hent t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
    return top;
}

typedef struct bpe_train {
    cf__u64map pid;      // (a << 32 | b) -> pair id
    int64_t *cnt;        // (pairs) current count
    int32_t **where;     // (pairs) words that contained the pair (may repeat or be stale)
    size_t *nwhere, *capwhere;
    size_t n_pairs, cap_pairs;
    heap h;
} bpe_train;

static int32_t pair_id(bpe_train *t, int32_t a, int32_t b, bool *oom) {
    int32_t id, unused;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    if (cf__u64map_get(&t->pid, key, &id, &unused)) return id;
    size_t n = t->n_pairs;
    size_t c1 = t->cap_pairs, c2 = t->cap_pairs, c3 = t->cap_pairs, c4 = t->cap_pairs;
    if (!cf__grow((void **)&t->cnt, &c1, n + 1, sizeof(int64_t)) ||
        !cf__grow((void **)&t->where, &c2, n + 1, sizeof(int32_t *)) ||
        !cf__grow((void **)&t->nwhere, &c3, n + 1, sizeof(size_t)) ||
        !cf__grow((void **)&t->capwhere, &c4, n + 1, sizeof(size_t)) ||
        !cf__u64map_put(&t->pid, key, (int32_t)n, 0)) {
        *oom = true;
        return -1;
    }
    t->cap_pairs = c1;
    t->cnt[n] = 0;
    t->where[n] = NULL;
    t->nwhere[n] = t->capwhere[n] = 0;
    t->n_pairs++;
    return (int32_t)n;
}

static void pair_add(bpe_train *t, int32_t a, int32_t b, int64_t delta, int32_t word, bool *oom) {
    int32_t p = pair_id(t, a, b, oom);
    if (p < 0) return;
    t->cnt[p] += delta;
    if (delta > 0) {
        if (!cf__grow((void **)&t->where[p], &t->capwhere[p], t->nwhere[p] + 1, sizeof(int32_t))) {
            *oom = true;
            return;
        }
        t->where[p][t->nwhere[p]++] = word;
        if (!h_push(&t->h, (hent){t->cnt[p], p, a, b})) *oom = true;
    }
}

static void train_free(bpe_train *t) {
    for (size_t i = 0; i < t->n_pairs; i++) cf__free(t->where[i]);
    cf__free(t->where);
    cf__free(t->nwhere);
    cf__free(t->capwhere);
    cf__free(t->cnt);
    cf__u64map_free(&t->pid);
    cf__free(t->h.v);
}

static cf_status train_bpe(cf_ctx *ctx, const cf_tokenizer_train_params *prm, const char *text,
                           size_t len, const char *const *special, int n_special,
                           const char *out_path) {
    cf_status st = CF_OK;
    wordset ws = {0};
    bpe_train t = {0};
    wref *words = NULL;
    int32_t **sym = NULL;
    int32_t *nsym = NULL, *seen = NULL, (*merges)[2] = NULL;
    cf__vocab vocab = {0};
    size_t n_merges = 0, cap_merges = 0, clen = 0;
    bool oom = false;
    char *clean = clean_text(text, len, &clen);
    cf__regex *re = cf__regex_gpt2();
    cJSON *root = NULL;
    if (!clean || !re) goto nomem;
    // Words: GPT-2's pre-tokenizer pattern over the whole text.
    size_t pos = 0, last = SIZE_MAX, ms, me;
    while (cf__regex_next(re, clean, clen, &pos, &last, &ms, &me))
        if (me > ms && !ws_add(&ws, clean + ms, me - ms)) goto nomem;
    // Vocabulary: the special tokens, then the 256 byte-level characters in code point order.
    for (int k = 0; k < n_special; k++)
        if (!cf__vocab_set(&vocab, k, special[k], strlen(special[k]), false)) goto nomem;
    int32_t char_id[256];
    for (uint32_t c = 0, next = (uint32_t)n_special; c < 400; c++) {
        int b = cf__bytelevel_byte(c);
        if (b < 0) continue;
        char u[4];
        int ul = cf__utf8_put(c, u);
        char_id[b] = (int32_t)next;
        if (!cf__vocab_set(&vocab, (int32_t)next++, u, (size_t)ul, false)) goto nomem;
    }
    words = ws_words(&ws);
    sym = cf__calloc(ws.n + 1, sizeof *sym);
    nsym = cf__calloc(ws.n + 1, sizeof *nsym);
    seen = cf__malloc((ws.n + 1) * sizeof *seen);
    if (!words || !sym || !nsym || !seen) goto nomem;
    for (size_t w = 0; w < ws.n; w++) {
        seen[w] = -1;
        sym[w] = cf__malloc((words[w].n + 1) * sizeof(int32_t));
        if (!sym[w]) goto nomem;
        for (size_t k = 0; k < words[w].n; k++) sym[w][k] = char_id[(uint8_t)words[w].s[k]];
        nsym[w] = (int32_t)words[w].n;
        for (int32_t k = 0; k + 1 < nsym[w]; k++)
            pair_add(&t, sym[w][k], sym[w][k + 1], ws.count[w], (int32_t)w, &oom);
        if (oom) goto nomem;
    }
    int64_t min_freq = prm->min_frequency > 1 ? prm->min_frequency : 1;
    int32_t next_id = vocab.n;
    while (next_id < prm->vocab_size && t.h.n > 0) {
        hent e = h_pop(&t.h);
        if (t.cnt[e.pid] != e.count) {  // stale: its count has changed since
            if (t.cnt[e.pid] > 0 && !h_push(&t.h, (hent){t.cnt[e.pid], e.pid, e.a, e.b}))
                goto nomem;
            continue;
        }
        if (e.count < min_freq) break;
        int32_t a = e.a, b = e.b, nw = next_id++;
        size_t la, lb;
        const char *pa = cf__vocab_piece(&vocab, a, &la), *pb = cf__vocab_piece(&vocab, b, &lb);
        char *joined = cf__malloc(la + lb + 1);
        if (!joined) goto nomem;
        memcpy(joined, pa, la);
        memcpy(joined + la, pb, lb);
        bool ok = cf__vocab_set(&vocab, nw, joined, la + lb, false);
        cf__free(joined);
        if (!ok || !cf__grow((void **)&merges, &cap_merges, n_merges + 1, sizeof *merges))
            goto nomem;
        merges[n_merges][0] = a;
        merges[n_merges][1] = b;
        n_merges++;
        // Re-symbolise every word that had the pair; words may be listed more than once.
        int32_t pid = e.pid;
        for (size_t k = 0; k < t.nwhere[pid]; k++) {
            int32_t w = t.where[pid][k];
            if (seen[w] == nw) continue;
            seen[w] = nw;
            int32_t *s = sym[w];
            int64_t c = ws.count[w];
            for (int32_t i = 0; i + 1 < nsym[w]; i++) {
                if (s[i] != a || s[i + 1] != b) continue;
                if (i > 0) {
                    pair_add(&t, s[i - 1], a, -c, w, &oom);
                    pair_add(&t, s[i - 1], nw, c, w, &oom);
                }
                if (i + 2 < nsym[w]) {
                    pair_add(&t, b, s[i + 2], -c, w, &oom);
                    pair_add(&t, nw, s[i + 2], c, w, &oom);
                }
                pair_add(&t, a, b, -c, w, &oom);
                s[i] = nw;
                memmove(s + i + 1, s + i + 2, (size_t)(nsym[w] - i - 2) * sizeof(int32_t));
                nsym[w]--;
            }
            if (oom) goto nomem;
        }
    }
    // tokenizer.json in GPT-2's layout.
    root = skeleton(special, n_special);
    cJSON_AddItemToObject(root, "pre_tokenizer", bytelevel_json(false, true));
    cJSON_AddItemToObject(root, "post_processor", bytelevel_json(true, false));
    cJSON_AddItemToObject(root, "decoder", bytelevel_json(true, true));
    cJSON *model = cJSON_CreateObject(), *v = cJSON_CreateObject(), *m = cJSON_CreateArray();
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", 0);
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    cJSON_AddBoolToObject(model, "ignore_merges", 0);
    for (int32_t id = 0; id < vocab.n; id++) {
        size_t n;
        const char *piece = cf__vocab_piece(&vocab, id, &n);
        cJSON_AddItemToObject(v, piece, cJSON_CreateNumber(id));
    }
    for (size_t k = 0; k < n_merges; k++) {
        size_t la, lb;
        const char *pa = cf__vocab_piece(&vocab, merges[k][0], &la);
        const char *pb = cf__vocab_piece(&vocab, merges[k][1], &lb);
        char *line = cf__malloc(la + lb + 2);
        if (!line) goto nomem;
        memcpy(line, pa, la);
        line[la] = ' ';
        memcpy(line + la + 1, pb, lb);
        line[la + lb + 1] = 0;
        cJSON_AddItemToArray(m, cJSON_CreateString(line));
        cf__free(line);
    }
    cJSON_AddItemToObject(model, "vocab", v);
    cJSON_AddItemToObject(model, "merges", m);
    cJSON_AddItemToObject(root, "model", model);
    st = write_json(ctx, root, out_path);
    root = NULL;
    goto done;
nomem:
    st = CF_NOMEM(ctx);
done:
    cJSON_Delete(root);
    for (size_t w = 0; sym && w < ws.n; w++) cf__free(sym[w]);
    cf__free(sym);
    cf__free(nsym);
    cf__free(seen);
    cf__free(words);
    cf__free(merges);
    cf__free(clean);
    cf__regex_free(re);
    cf__vocab_free(&vocab);
    train_free(&t);
    ws_free(&ws);
    return st;
}

// ---- Unigram ----

typedef struct upiece {
    uint32_t off, len;  // in the piece pool
    uint32_t chars;
    double score;
    double freq;        // expected count in the last E step
    bool required;      // single characters stay
} upiece;

typedef struct uni {
    upiece *p;
    size_t n, cap;
    char *pool;
    size_t pool_len, pool_cap;
    cf__trie trie;      // piece bytes -> index into p
} uni;

static bool uni_add(uni *u, const char *s, size_t n, uint32_t chars, double score, bool req) {
    if (!cf__grow((void **)&u->p, &u->cap, u->n + 1, sizeof(upiece)) ||
        !cf__grow((void **)&u->pool, &u->pool_cap, u->pool_len + n, 1))
        return false;
    memcpy(u->pool + u->pool_len, s, n);
    u->p[u->n++] = (upiece){(uint32_t)u->pool_len, (uint32_t)n, chars, score, 0, req};
    u->pool_len += n;
    return true;
}

static bool uni_build_trie(uni *u) {
    cf__trie_free(&u->trie);
    if (!cf__trie_init(&u->trie)) return false;
    for (size_t i = 0; i < u->n; i++)
        if (!cf__trie_insert(&u->trie, u->pool + u->p[i].off, u->p[i].len, (int32_t)i))
            return false;
    return true;
}

static double lse(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log(exp(a - m) + exp(b - m));
}

// Forward-backward over the word's lattice; adds expected piece counts (times count) to freq.
// Returns false on OOM. skip: a piece index to leave out (-1 none); best: Viterbi score out.
static bool lattice(uni *u, const char *w, size_t n, double count, double *alpha, double *beta,
                    int32_t skip, double *best_out, bool em) {
    for (size_t i = 0; i <= n; i++) alpha[i] = beta[i] = -INFINITY;
    alpha[0] = 0;
    for (size_t st = 0; st < n; st++) {
        if (alpha[st] == -INFINITY) continue;
        uint32_t node = 0;
        for (size_t k = st; k < n; k++) {
            node = cf__trie_step(&u->trie, node, (uint8_t)w[k]);
            if (node == UINT32_MAX) break;
            int32_t id = u->trie.val[node];
            if (id < 0 || id == skip) continue;
            double sc = alpha[st] + u->p[id].score;
            alpha[k + 1] = em ? lse(alpha[k + 1], sc) : (sc > alpha[k + 1] ? sc : alpha[k + 1]);
        }
    }
    if (best_out) *best_out = alpha[n];
    if (!em || alpha[n] == -INFINITY) return true;
    beta[n] = 0;
    for (size_t e = n; e-- > 0;) {
        uint32_t node = 0;
        for (size_t k = e; k < n; k++) {
            node = cf__trie_step(&u->trie, node, (uint8_t)w[k]);
            if (node == UINT32_MAX) break;
            int32_t id = u->trie.val[node];
            if (id < 0 || beta[k + 1] == -INFINITY) continue;
            beta[e] = lse(beta[e], u->p[id].score + beta[k + 1]);
        }
    }
    double z = alpha[n];
    for (size_t st = 0; st < n; st++) {
        if (alpha[st] == -INFINITY) continue;
        uint32_t node = 0;
        for (size_t k = st; k < n; k++) {
            node = cf__trie_step(&u->trie, node, (uint8_t)w[k]);
            if (node == UINT32_MAX) break;
            int32_t id = u->trie.val[node];
            if (id < 0) continue;
            double lp = alpha[st] + u->p[id].score + beta[k + 1] - z;
            if (lp > -50) u->p[id].freq += count * exp(lp);
        }
    }
    return true;
}

static int cmp_score(const void *a, const void *b) {
    const upiece *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    return 0;
}

typedef struct scored {
    double key;
    size_t i;
} scored;

static int cmp_key(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static cf_status train_unigram(cf_ctx *ctx, const cf_tokenizer_train_params *prm,
                               const char *text, size_t len, const char *const *special,
                               int n_special, const char *out_path) {
    static const char ws_sym[] = "\xE2\x96\x81";
    cf_status st = CF_OK;
    wordset ws = {0}, subs = {0};
    uni u = {0};
    wref *words = NULL, *sw = NULL;
    double *alpha = NULL, *beta = NULL;
    scored *rank = NULL;
    char *buf = NULL;
    size_t clen, maxw = 0;
    cJSON *root = NULL;
    char *clean = clean_text(text, len, &clen);
    if (!clean) goto nomem;
    // Words as the Metaspace pre-tokenizer makes them: per line, spaces become U+2581, one is
    // put in front, and every U+2581 starts a word.
    buf = cf__malloc(clen * 3 + 4);
    if (!buf) goto nomem;
    for (size_t i = 0; i < clen;) {
        const char *nl = memchr(clean + i, '\n', clen - i);
        size_t e = nl ? (size_t)(nl - clean) : clen, bn = 0;
        memcpy(buf, ws_sym, 3);
        bn = 3;
        for (size_t k = i; k < e; k++) {
            if (clean[k] == ' ') {
                if (!(k == i)) {
                    memcpy(buf + bn, ws_sym, 3);
                    bn += 3;
                }
            } else if (clean[k] != '\r') {
                buf[bn++] = clean[k];
            }
        }
        // Split before every U+2581.
        size_t ws0 = 0;
        for (size_t k = 3; k <= bn; k++) {
            if (k == bn || (k + 3 <= bn && !memcmp(buf + k, ws_sym, 3))) {
                if (k > ws0 && !ws_add(&ws, buf + ws0, k - ws0)) goto nomem;
                if (k - ws0 > maxw) maxw = k - ws0;
                ws0 = k;
            }
        }
        i = e + 1;
    }
    words = ws_words(&ws);
    if (!words) goto nomem;
    // Seed: every character, and substrings of up to max_piece_length characters scored by
    // count x length.
    size_t maxc = prm->max_piece_length > 0 ? (size_t)prm->max_piece_length : 16;
    for (size_t w = 0; w < ws.n; w++) {
        const char *s = words[w].s;
        size_t n = words[w].n;
        for (size_t a = 0; a < n; a += (size_t)cf__utf8_lead_len((uint8_t)s[a])) {
            size_t b = a, chars = 0;
            while (b < n && chars < maxc) {
                b += (size_t)cf__utf8_lead_len((uint8_t)s[b]);
                if (b > n) b = n;
                chars++;
                // Pieces never hold U+2581 after their first character.
                if (chars > 1 && b - a >= 3 && !memcmp(s + b - 3, ws_sym, 3)) break;
                int32_t k = cf__strmap_get(&subs.index, s + a, b - a);
                if (k < 0) {
                    if (!ws_add(&subs, s + a, b - a)) goto nomem;
                    subs.count[subs.n - 1] = ws.count[w];
                } else {
                    subs.count[k] += ws.count[w];
                }
            }
        }
    }
    sw = ws_words(&subs);
    rank = cf__malloc((subs.n + 1) * sizeof *rank);
    if (!sw || !rank) goto nomem;
    double total = 0;
    for (size_t k = 0; k < subs.n; k++) {
        size_t chars = 0;
        for (size_t i = 0; i < sw[k].n; i += (size_t)cf__utf8_lead_len((uint8_t)sw[k].s[i]))
            chars++;
        rank[k].key = chars == 1 ? INFINITY : (double)subs.count[k] * (double)chars;
        rank[k].i = k;
        total += (double)subs.count[k];
    }
    qsort(rank, subs.n, sizeof *rank, cmp_key);
    size_t target = (size_t)(prm->vocab_size - n_special);
    size_t seed = target * 8 > 1000000 ? 1000000 : target * 8;
    for (size_t r = 0; r < subs.n && (r < seed || rank[r].key == INFINITY); r++) {
        size_t k = rank[r].i;
        size_t chars = 0;
        for (size_t i = 0; i < sw[k].n; i += (size_t)cf__utf8_lead_len((uint8_t)sw[k].s[i]))
            chars++;
        if (!uni_add(&u, sw[k].s, sw[k].n, (uint32_t)chars, log((double)subs.count[k] / total),
                     chars == 1))
            goto nomem;
    }
    alpha = cf__malloc((maxw + 2) * sizeof(double));
    beta = cf__malloc((maxw + 2) * sizeof(double));
    if (!alpha || !beta) goto nomem;
    // EM and pruning rounds.
    for (int round = 0; round < 40; round++) {
        for (int it = 0; it < 2; it++) {
            if (!uni_build_trie(&u)) goto nomem;
            for (size_t i = 0; i < u.n; i++) u.p[i].freq = 0;
            for (size_t w = 0; w < ws.n; w++)
                if (!lattice(&u, words[w].s, words[w].n, (double)ws.count[w], alpha, beta, -1,
                             NULL, true))
                    goto nomem;
            double sum = 0;
            for (size_t i = 0; i < u.n; i++) sum += u.p[i].freq;
            // Drop pieces that are never used (characters stay), re-estimate the rest.
            size_t w = 0;
            for (size_t i = 0; i < u.n; i++) {
                if (u.p[i].freq < 0.5 && !u.p[i].required) continue;
                u.p[w] = u.p[i];
                u.p[w].score = log((u.p[i].freq > 0.5 ? u.p[i].freq : 0.5) / (sum > 0 ? sum : 1));
                w++;
            }
            u.n = w;
        }
        if (u.n <= target) break;
        // Loss of each piece: its frequency times how much worse the best segmentation of its
        // own text gets without it. Keep the most useful, shrinking by a quarter per round.
        if (!uni_build_trie(&u)) goto nomem;
        cf__free(rank);
        rank = cf__malloc(u.n * sizeof *rank);
        if (!rank) goto nomem;
        for (size_t i = 0; i < u.n; i++) {
            double alt = -INFINITY;
            if (!u.p[i].required)
                lattice(&u, u.pool + u.p[i].off, u.p[i].len, 0, alpha, beta, (int32_t)i, &alt,
                        false);
            rank[i].key = u.p[i].required ? INFINITY : u.p[i].freq * (u.p[i].score - alt);
            rank[i].i = i;
        }
        qsort(rank, u.n, sizeof *rank, cmp_key);
        size_t keep = (size_t)((double)u.n * 0.75);
        if (keep < target) keep = target;
        bool *kept = cf__calloc(u.n, sizeof(bool));
        if (!kept) goto nomem;
        for (size_t r = 0; r < u.n; r++)
            if (r < keep || rank[r].key == INFINITY) kept[rank[r].i] = true;
        size_t w = 0;
        for (size_t i = 0; i < u.n; i++)
            if (kept[i]) u.p[w++] = u.p[i];
        u.n = w;
        cf__free(kept);
    }
    qsort(u.p, u.n, sizeof *u.p, cmp_score);
    // tokenizer.json: Unigram with Metaspace.
    root = skeleton(special, n_special);
    cJSON_AddItemToObject(root, "pre_tokenizer", metaspace_json());
    cJSON_AddNullToObject(root, "post_processor");
    cJSON_AddItemToObject(root, "decoder", metaspace_json());
    cJSON *model = cJSON_CreateObject(), *v = cJSON_CreateArray();
    cJSON_AddStringToObject(model, "type", "Unigram");
    int unk = 0;
    for (int k = 0; k < n_special; k++)
        if (!strcmp(special[k], "<unk>")) unk = k;
    cJSON_AddNumberToObject(model, "unk_id", unk);
    for (int k = 0; k < n_special; k++) {
        cJSON *e = cJSON_CreateArray();
        cJSON_AddItemToArray(e, cJSON_CreateString(special[k]));
        cJSON_AddItemToArray(e, cJSON_CreateNumber(0.0));
        cJSON_AddItemToArray(v, e);
    }
    for (size_t i = 0; i < u.n; i++) {
        char *piece = cf__malloc(u.p[i].len + 1);
        if (!piece) goto nomem;
        memcpy(piece, u.pool + u.p[i].off, u.p[i].len);
        piece[u.p[i].len] = 0;
        cJSON *e = cJSON_CreateArray();
        cJSON_AddItemToArray(e, cJSON_CreateString(piece));
        cJSON_AddItemToArray(e, cJSON_CreateNumber(u.p[i].score));
        cJSON_AddItemToArray(v, e);
        cf__free(piece);
    }
    cJSON_AddItemToObject(model, "vocab", v);
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    cJSON_AddItemToObject(root, "model", model);
    st = write_json(ctx, root, out_path);
    root = NULL;
    goto done;
nomem:
    st = CF_NOMEM(ctx);
done:
    cJSON_Delete(root);
    cf__free(clean);
    cf__free(buf);
    cf__free(words);
    cf__free(sw);
    cf__free(rank);
    cf__free(alpha);
    cf__free(beta);
    cf__free(u.p);
    cf__free(u.pool);
    cf__trie_free(&u.trie);
    ws_free(&ws);
    ws_free(&subs);
    return st;
}

cf_status cf_tokenizer_train(cf_ctx *ctx, const cf_tokenizer_train_params *params,
                             const char *text, size_t len, const char *out_path) {
    cf_tokenizer_train_params p = params ? *params : cf_tokenizer_default_train_params();
    // Special tokens: the caller's; Unigram needs an <unk> and gets one first if missing.
    const char *list[257];
    int n = 0;
    bool has_unk = false;
    for (int k = 0; p.special && p.special[k]; k++) {
        if (n >= 256) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "more than 256 special tokens");
        if (!*p.special[k] || !cf__utf8_valid(p.special[k], strlen(p.special[k])))
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "special token %d is empty or not UTF-8", k);
        if (!strcmp(p.special[k], "<unk>")) has_unk = true;
        list[n++] = p.special[k];
    }
    if (p.model == CF_TOKENIZER_UNIGRAM && !has_unk) {
        memmove(list + 1, list, (size_t)n * sizeof *list);
        list[0] = "<unk>";
        n++;
    }
    if (!text && len) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no training text");
    if (len > ((size_t)1 << 31))
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "training text of %zu bytes is too large", len);
    if (p.model == CF_TOKENIZER_BPE) {
        if (p.vocab_size < n + 256 || p.vocab_size > CF_TOK_MAX_VOCAB)
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "vocab_size %d: byte-level BPE needs at least "
                          "256 + %d special tokens", p.vocab_size, n);
        return train_bpe(ctx, &p, text ? text : "", len, list, n, out_path);
    }
    if (p.model == CF_TOKENIZER_UNIGRAM) {
        if (p.vocab_size < n + 1 || p.vocab_size > CF_TOK_MAX_VOCAB)
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "vocab_size %d is too small", p.vocab_size);
        return train_unigram(ctx, &p, text ? text : "", len, list, n, out_path);
    }
    return CF_ERR(ctx, CF_ERR_INVALID_ARG, "unknown tokenizer model %d", (int)p.model);
}
