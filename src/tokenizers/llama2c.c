// llama2.c's tokenizer.bin.
//
// tokenizer.bin layout (little-endian):
//   offset  size   meaning
//   0       4      int32 max_token_length
//   4       ...    vocab_size records: float32 score, int32 len, len bytes of the piece
// vocab_size is not stored: it is the model's (or, when unknown, every record to the end).
//
// Encoding follows llama2.c's run.c: an optional BOS (id 1), a dummy-prefix space piece when the
// text is not empty, one piece per UTF-8 sequence (at most 4 bytes) or its bytes as fallback ids
// byte + 3, then repeated merging of the adjacent pair whose concatenation is a piece with the
// highest score (leftmost on ties). The merging uses a heap instead of llama2.c's rescans, with
// the same result, so long texts encode in O(n log n). Unlike run.c, which stops at a NUL byte,
// NUL bytes are encoded like any other byte.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

struct cf__l2c {
    int32_t n_vocab;
    char **pieces;       // (n_vocab) NUL-terminated copies
    int32_t *lens;       // (n_vocab)
    float *scores;       // (n_vocab)
    int32_t *table;      // open-addressing hash of piece -> id, cap slots, -1 = empty
    uint32_t cap;
    int32_t byte_piece[256];  // id whose piece decodes to this byte (<0xXX>), or -1
};

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u;  // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int32_t lookup(const cf__l2c *t, const char *s, size_t n) {
    if (!t->table) return -1;
    for (uint32_t i = hash_bytes(s, n) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        int32_t id = t->table[i];
        if (id < 0) return -1;
        if ((size_t)t->lens[id] == n && !memcmp(t->pieces[id], s, n)) return id;
    }
}

void cf__l2c_free(cf__l2c *t) {
    if (!t) return;
    if (t->pieces)
        for (int32_t i = 0; i < t->n_vocab; i++) cf__free(t->pieces[i]);
    cf__free(t->pieces);
    cf__free(t->lens);
    cf__free(t->scores);
    cf__free(t->table);
    cf__free(t);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// "<0xAB>" -> 0xAB, else -1.
static int byte_token_value(const char *p, int32_t n) {
    if (n != 6 || memcmp(p, "<0x", 3) || p[5] != '>') return -1;
    int a = hexval(p[3]), b = hexval(p[4]);
    return a < 0 || b < 0 ? -1 : a * 16 + b;
}

cf_status cf__tokenizer_parse_llama2c(cf_ctx *ctx, const char *path, const uint8_t *data,
                                      size_t size, int32_t vocab_size, cf_tokenizer **out) {
    *out = NULL;
    cf__l2c *t = cf__calloc(1, sizeof *t);
    cf_status st = CF_OK;
    if (!t) return CF_NOMEM(ctx);
    cf_reader r = {data, size, 0};
    int32_t max_len;
    if (!cf__read_i32(&r, &max_len)) {
        st = CF_FORMAT_ERR(ctx, "%s: truncated at byte 0: no max_token_length", path);
        goto fail;
    }
    if (max_len <= 0 || max_len > 65536) {
        st = CF_FORMAT_ERR(ctx, "%s: max_token_length %d is out of range", path, max_len);
        goto fail;
    }
    // Count the records first (to the end of the file when vocab_size is unknown).
    int32_t n = 0;
    size_t pos = r.pos;
    while (cf__reader_left(&r) > 0 && (vocab_size <= 0 || n < vocab_size)) {
        float score;
        int32_t len;
        size_t at = r.pos;
        if (!cf__read_f32(&r, &score) || !cf__read_i32(&r, &len)) {
            st = CF_FORMAT_ERR(ctx, "%s: truncated record %d at byte %zu", path, n, at);
            goto fail;
        }
        if (len < 0 || len > max_len) {
            st = CF_FORMAT_ERR(ctx, "%s: record %d at byte %zu has length %d (max_token_length "
                               "%d)", path, n, at, len, max_len);
            goto fail;
        }
        if (!cf__skip(&r, (size_t)len)) {
            st = CF_FORMAT_ERR(ctx, "%s: record %d at byte %zu: piece runs past the end", path,
                               n, at);
            goto fail;
        }
        n++;
        if (n > (1 << 24)) {
            st = CF_FORMAT_ERR(ctx, "%s: more than 2^24 pieces", path);
            goto fail;
        }
    }
    if (vocab_size > 0 && n < vocab_size) {
        st = CF_FORMAT_ERR(ctx, "%s: %d pieces, but the model has a vocabulary of %d", path, n,
                           vocab_size);
        goto fail;
    }
    if (n < 3) {
        st = CF_FORMAT_ERR(ctx, "%s: only %d pieces (need <unk>, <s>, </s> at least)", path, n);
        goto fail;
    }
    t->n_vocab = n;
    t->pieces = cf__calloc((size_t)n, sizeof(char *));
    t->lens = cf__calloc((size_t)n, sizeof(int32_t));
    t->scores = cf__calloc((size_t)n, sizeof(float));
    t->cap = 1;
    while (t->cap < (uint32_t)n * 2) t->cap <<= 1;
    t->table = cf__malloc(t->cap * sizeof(int32_t));
    if (!t->pieces || !t->lens || !t->scores || !t->table) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    memset(t->table, 0xff, t->cap * sizeof(int32_t));
    for (int i = 0; i < 256; i++) t->byte_piece[i] = -1;
    r.pos = pos;
    for (int32_t i = 0; i < n; i++) {
        int32_t len;
        cf__read_f32(&r, &t->scores[i]);
        cf__read_i32(&r, &len);
        t->pieces[i] = cf__malloc((size_t)len + 1);
        if (!t->pieces[i]) {
            st = CF_NOMEM(ctx);
            goto fail;
        }
        cf__read_bytes(&r, t->pieces[i], (size_t)len);
        t->pieces[i][len] = 0;
        t->lens[i] = len;
        int bv = byte_token_value(t->pieces[i], len);
        if (bv >= 0 && t->byte_piece[bv] < 0) t->byte_piece[bv] = i;
        if (lookup(t, t->pieces[i], (size_t)len) >= 0) continue;  // duplicate: first id wins
        uint32_t h = hash_bytes(t->pieces[i], (size_t)len) & (t->cap - 1);
        while (t->table[h] >= 0) h = (h + 1) & (t->cap - 1);
        t->table[h] = i;
    }
    cf_tokenizer *tok = cf__tokenizer_new(ctx, CF_TOK_LLAMA2C);
    if (!tok) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    tok->l2c = t;
    tok->n_vocab = t->n_vocab;
    tok->bos = 1;
    tok->eos = 2;
    *out = tok;
    return CF_OK;
fail:
    if (t->pieces == NULL) t->n_vocab = 0;
    cf__l2c_free(t);
    return st;
}

// ---- llama2.c encoding: initial pieces, then heap-ordered merges ----

typedef struct sym {
    int32_t id;
    int32_t prev, next;  // linked list over positions; -1 at the ends
    int32_t start, len;  // byte span in the source text (for concatenation)
    bool dead;
    bool fallback;       // a <0xXX> byte id: run.c concatenates its piece text ("<0x..>"),
                         // which never forms a piece, so it never merges
} sym;

typedef struct cand {
    float score;
    int32_t left, right;   // symbol indices
    int32_t id;            // merged id
    int32_t llen, rlen;    // lengths when queued (stale if changed)
} cand;

// Max-heap on score, then smaller left index (the leftmost pair wins ties, as in run.c).
static bool cand_before(const cand *a, const cand *b) {
    if (a->score != b->score) return a->score > b->score;
    return a->left < b->left;
}

static void heap_push(cand *h, int64_t *n, cand c) {
    int64_t i = (*n)++;
    h[i] = c;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!cand_before(&h[i], &h[p])) break;
        cand t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static cand heap_pop(cand *h, int64_t *n) {
    cand top = h[0];
    h[0] = h[--(*n)];
    int64_t i = 0;
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, b = i;
        if (l < *n && cand_before(&h[l], &h[b])) b = l;
        if (r < *n && cand_before(&h[r], &h[b])) b = r;
        if (b == i) break;
        cand t = h[i];
        h[i] = h[b];
        h[b] = t;
        i = b;
    }
    return top;
}

// Each symbol's bytes live in `buf` (the dummy prefix and the text, concatenated); symbols are
// contiguous spans of it, so a pair's concatenation is a span too.
static void try_pair(const cf__l2c *t, const char *buf, sym *s, int32_t a, cand *h,
                     int64_t *nh) {
    if (a < 0 || s[a].next < 0) return;
    int32_t b = s[a].next;
    if (s[a].fallback || s[b].fallback) return;
    int32_t id = lookup(t, buf + s[a].start, (size_t)(s[a].len + s[b].len));
    if (id < 0) return;
    cand c = {t->scores[id], a, b, id, s[a].len, s[b].len};
    heap_push(h, nh, c);
}

cf_status cf__l2c_encode(cf_tokenizer *tok, const char *text, size_t len, int add_bos,
                         int32_t *ids, int64_t cap, int64_t *n_out) {
    cf_ctx *ctx = tok->ctx;
    const cf__l2c *t = tok->l2c;
    // buf = " " + text when text is not empty (llama2.c's dummy prefix).
    size_t blen = len ? len + 1 : 0;
    char *buf = cf__malloc(blen + 1);
    sym *s = cf__malloc((blen * 4 + 4) * sizeof(sym));
    cand *h = cf__malloc((blen * 4 + 4) * sizeof(cand));
    if (!buf || !s || !h) {
        cf__free(buf);
        cf__free(s);
        cf__free(h);
        return CF_NOMEM(ctx);
    }
    if (len) {
        buf[0] = ' ';
        memcpy(buf + 1, text, len);
    }
    int32_t ns = 0;
    int32_t space = len ? lookup(t, " ", 1) : -1;
    size_t i = 0;
    if (len && space >= 0) {
        s[ns++] = (sym){space, -1, -1, 0, 1, false, false};
        i = 1;
    }
    // One symbol per UTF-8 sequence (a lead byte plus at most 3 continuation bytes); unknown
    // sequences become one byte-fallback symbol per byte.
    while (i < blen) {
        size_t j = i + 1;
        while (j < blen && ((uint8_t)buf[j] & 0xC0) == 0x80 && j - i < 4) j++;
        int32_t id = lookup(t, buf + i, j - i);
        if (id >= 0) {
            s[ns++] = (sym){id, -1, -1, (int32_t)i, (int32_t)(j - i), false, false};
        } else {
            for (size_t k = i; k < j; k++) {
                int32_t bid = (int32_t)(uint8_t)buf[k] + 3;
                if (bid >= t->n_vocab) bid = 0;  // a vocabulary without byte pieces: <unk>
                s[ns++] = (sym){bid, -1, -1, (int32_t)k, 1, false, true};
            }
        }
        i = j;
    }
    for (int32_t k = 0; k < ns; k++) {
        s[k].prev = k - 1;
        s[k].next = k + 1 < ns ? k + 1 : -1;
    }
    int64_t nh = 0;
    for (int32_t k = 0; k < ns; k++) try_pair(t, buf, s, k, h, &nh);
    while (nh > 0) {
        cand c = heap_pop(h, &nh);
        sym *a = &s[c.left], *b = &s[c.right];
        if (a->dead || b->dead || a->next != c.right || a->len != c.llen || b->len != c.rlen)
            continue;  // stale
        a->id = c.id;
        a->len += b->len;
        b->dead = true;
        a->next = b->next;
        if (b->next >= 0) s[b->next].prev = c.left;
        try_pair(t, buf, s, a->prev, h, &nh);
        try_pair(t, buf, s, c.left, h, &nh);
    }
    int64_t n = 0;
    if (add_bos && tok->bos >= 0) {
        if (n < cap) ids[n] = tok->bos;
        n++;
    }
    for (int32_t k = ns > 0 ? 0 : -1; k >= 0; k = s[k].next) {
        if (n < cap) ids[n] = s[k].id;
        n++;
    }
    cf__free(buf);
    cf__free(s);
    cf__free(h);
    *n_out = n;
    return n > cap ? CF_ERR(ctx, CF_ERR_RANGE, "token buffer of %lld is too small (%lld needed)",
                            (long long)cap, (long long)n)
                   : CF_OK;
}

cf_status cf__l2c_decode_piece(cf_tokenizer *tok, int32_t prev, int32_t id, char *buf,
                               size_t cap, size_t *n_out) {
    const cf__l2c *t = tok->l2c;
    *n_out = 0;
    if (id == tok->bos || id == tok->eos) return CF_OK;
    const char *p = t->pieces[id];
    size_t n = (size_t)t->lens[id];
    char one;
    int bv = byte_token_value(p, t->lens[id]);
    if (bv >= 0) {
        one = (char)bv;
        p = &one;
        n = 1;
    } else if (prev == tok->bos && n > 0 && p[0] == ' ') {
        p++;  // llama2.c drops the dummy-prefix space after BOS
        n--;
    }
    *n_out = n;
    if (n > cap) return CF_ERR(tok->ctx, CF_ERR_RANGE, "piece of %zu bytes exceeds buffer", n);
    memcpy(buf, p, n);
    return CF_OK;
}

const char *cf__l2c_piece(const cf__l2c *t, int32_t id, size_t *n) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    *n = (size_t)t->lens[id];
    return t->pieces[id];
}

int32_t cf__l2c_piece_to_id(const cf__l2c *t, const char *s, size_t n) { return lookup(t, s, n); }
