// The pre-tokenized string: what the tokenizers library calls NormalizedString and
// PreTokenizedString, rebuilt for speed. Every split's normalized bytes live in one buffer and
// each byte carries the span of the original text it came from, [a0, a1) in absolute bytes, so
// that a token's offsets are (a0 of its first byte, a1 of its last byte), as convert_offsets
// computes them. A transform (the library's transform_range: (char, change) pairs) writes the
// split's new bytes at the end of the buffer; a slice is a new split over the same bytes. The
// buffer only grows during one encode call and is reused by the next.
//
// Not here: what the normalizers and pre-tokenizers do (normalize.c, pretokenize.c).
#include <string.h>

#include "tokenizer_internal.h"

void cf__pts_free(cf__pts *p) {
    cf__free(p->s);
    cf__free(p->a0);
    cf__free(p->a1);
    cf__free(p->sp);
    cf__free(p->sp2);
    cf__free(p->tok);
    cf__free(p->tb.v);
    cf__free(p->m);
    memset(p, 0, sizeof *p);
}

// Room for `more` bytes past p->n in the three parallel arrays.
static bool reserve(cf__pts *p, size_t more) {
    size_t need = p->n + more;
    if (need <= p->cap) return true;
    if (need > UINT32_MAX) return false;
    size_t nc = p->cap ? p->cap : 256;
    while (nc < need) nc *= 2;
    char *s = cf__realloc(p->s, nc);
    if (!s) return false;
    p->s = s;
    uint32_t *a0 = cf__realloc(p->a0, nc * sizeof(uint32_t));
    if (!a0) return false;
    p->a0 = a0;
    uint32_t *a1 = cf__realloc(p->a1, nc * sizeof(uint32_t));
    if (!a1) return false;
    p->a1 = a1;
    p->cap = nc;
    return true;
}

static bool push_split(cf__pts *p, cf__seg sp) {
    if (!cf__grow((void **)&p->sp, &p->cap_sp, p->nsp + 1, sizeof(cf__seg))) return false;
    p->sp[p->nsp++] = sp;
    return true;
}

bool cf__pts_add_split(cf__pts *p, const char *text, size_t len, uint32_t base) {
    if (!reserve(p, len)) return false;
    size_t off = p->n;
    if (len) memcpy(p->s + off, text, len);
    // Each byte of a character is aligned to the whole character.
    for (size_t i = 0; i < len;) {
        size_t l = (size_t)cf__utf8_lead_len((uint8_t)text[i]);
        if (i + l > len) l = len - i;
        for (size_t k = 0; k < l; k++) {
            p->a0[off + i + k] = base + (uint32_t)i;
            p->a1[off + i + k] = base + (uint32_t)(i + l);
        }
        i += l;
    }
    p->n += len;
    cf__seg sp = {(uint32_t)off, (uint32_t)len, base, (uint32_t)len, -1, -1};
    return push_split(p, sp);
}

bool cf__pts_reset(cf__pts *p, const char *text, size_t len, uint32_t base) {
    p->n = 0;
    p->nsp = 0;
    p->ntok = 0;
    return cf__pts_add_split(p, text, len, base);
}

bool cf__pts_push_tok(cf__pts *p, int32_t id, uint32_t start, uint32_t end, int32_t special) {
    if (!cf__grow((void **)&p->tok, &p->cap_tok, p->ntok + 1, sizeof(cf__ptok))) return false;
    cf__ptok *t = &p->tok[p->ntok++];
    t->id = id;
    t->start = start;
    t->end = end;
    t->special = special;
    return true;
}

bool cf__pts_transform(cf__pts *p, size_t i, size_t a, size_t b, size_t initial_offset) {
    const cf__tbuf *tb = &p->tb;
    size_t out_bytes = 0;
    for (size_t k = 0; k < tb->n; k++) out_bytes += tb->v[k].c < 0x80 ? 1 : 4;
    cf__seg sp = p->sp[i];
    size_t len = sp.len;
    if (!reserve(p, a + out_bytes + (len - b))) return false;
    const char *old = p->s + sp.off;
    const uint32_t *o0 = p->a0 + sp.off, *o1 = p->a1 + sp.off;
    size_t w = p->n;
    memcpy(p->s + w, old, a);
    memcpy(p->a0 + w, o0, a * sizeof(uint32_t));
    memcpy(p->a1 + w, o1, a * sizeof(uint32_t));
    w += a;
    size_t off = a;
    for (size_t k = 0; k < initial_offset && off < b; k++)
        off += (size_t)cf__utf8_lead_len((uint8_t)old[off]);
    for (size_t k = 0; k < tb->n; k++) {
        uint32_t c = tb->v[k].c;
        int32_t change = tb->v[k].change;
        uint32_t al0, al1;
        if (change > 0) {
            // An inserted character shares the alignment of the byte before it.
            if (off < 1) {
                al0 = al1 = sp.shift;
            } else {
                size_t j = off - 1 < len ? off - 1 : len - 1;
                al0 = o0[j];
                al1 = o1[j];
            }
        } else if (off < len) {
            al0 = o0[off];
            al1 = o1[off];
        } else if (len > 0) {  // past the end: the library would fail; keep the last span
            al0 = o0[len - 1];
            al1 = o1[len - 1];
        } else {
            al0 = al1 = sp.shift;
        }
        if (change <= 0 && off < b) off += (size_t)cf__utf8_lead_len((uint8_t)old[off]);
        for (int32_t r = 0; r < -change && off < b; r++)
            off += (size_t)cf__utf8_lead_len((uint8_t)old[off]);
        int cl = cf__utf8_put(c, p->s + w);
        for (int q = 0; q < cl; q++) {
            p->a0[w + (size_t)q] = al0;
            p->a1[w + (size_t)q] = al1;
        }
        w += (size_t)cl;
    }
    memcpy(p->s + w, old + b, len - b);
    memcpy(p->a0 + w, o0 + b, (len - b) * sizeof(uint32_t));
    memcpy(p->a1 + w, o1 + b, (len - b) * sizeof(uint32_t));
    w += len - b;
    p->sp[i].off = (uint32_t)p->n;
    p->sp[i].len = (uint32_t)(w - p->n);
    p->n = w;
    return true;
}

bool cf__pts_prepend(cf__pts *p, size_t i, const char *s, size_t n) {
    cf__seg sp = p->sp[i];
    if (sp.len == 0) return true;
    uint32_t next;
    int nl = cf__utf8_get(p->s + sp.off, &next);
    p->tb.n = 0;
    bool first = true;
    for (size_t k = 0; k < n;) {
        uint32_t c;
        k += (size_t)cf__utf8_get(s + k, &c);
        if (!cf__tbuf_push(&p->tb, c, first ? 0 : 1)) return false;
        first = false;
    }
    if (!cf__tbuf_push(&p->tb, next, 1)) return false;
    return cf__pts_transform(p, i, 0, (size_t)nl, 0);
}

void cf__pts_span(const cf__pts *p, const cf__seg *sp, size_t a, size_t b, uint32_t *start,
                  uint32_t *end) {
    if (a == b) {  // convert_offsets returns an empty range as it is
        *start = sp->shift + (uint32_t)a;
        *end = sp->shift + (uint32_t)b;
    } else if (b > sp->len || a > b) {
        *start = (uint32_t)a;
        *end = (uint32_t)b;
    } else {
        *start = p->a0[sp->off + a];
        *end = p->a1[sp->off + b - 1];
    }
}

// ---- patterns ----

bool cf__pts_push_m(cf__pts *p, size_t s, size_t e, uint32_t what) {
    if (!cf__grow((void **)&p->m, &p->cap_m, p->nm + 3, sizeof(uint32_t))) return false;
    p->m[p->nm++] = (uint32_t)s;
    p->m[p->nm++] = (uint32_t)e;
    p->m[p->nm++] = what;
    return true;
}

bool cf__pattern_find(cf__pts *p, const cf__pattern *pat, const char *s, size_t n) {
    p->nm = 0;
    uint32_t yes = pat->invert ? 0 : 1, no = pat->invert ? 1 : 0;
    if (pat->lit && pat->lit_len == 0) {  // the library counts characters here (sic)
        size_t chars = 0;
        for (size_t i = 0; i < n; i += (size_t)cf__utf8_lead_len((uint8_t)s[i])) chars++;
        return cf__pts_push_m(p, 0, chars, no);
    }
    if (pat->find) {
        if (!pat->find(p, s, n, pat->arg)) return false;
        if (pat->invert)
            for (size_t k = 2; k < p->nm; k += 3) p->m[k] = !p->m[k];
        return true;
    }
    if (n == 0) return cf__pts_push_m(p, 0, 0, no);
    size_t prev = 0;
    if (pat->pred) {
        size_t last = 0;
        for (size_t i = 0; i < n;) {
            uint32_t c;
            int l = cf__utf8_get(s + i, &c);
            if (pat->pred(c, pat->arg)) {
                if (last < i && !cf__pts_push_m(p, last, i, no)) return false;
                if (!cf__pts_push_m(p, i, i + (size_t)l, yes)) return false;
                last = i + (size_t)l;
            }
            i += (size_t)l;
        }
        if (last < n && !cf__pts_push_m(p, last, n, no)) return false;
        return true;
    }
    if (pat->lit) {
        for (size_t i = 0; i + pat->lit_len <= n;) {
            const char *f = memchr(s + i, pat->lit[0], n - i - pat->lit_len + 1);
            if (!f) break;
            size_t at = (size_t)(f - s);
            if (memcmp(f, pat->lit, pat->lit_len)) {
                i = at + 1;
                continue;
            }
            if (prev != at && !cf__pts_push_m(p, prev, at, no)) return false;
            if (!cf__pts_push_m(p, at, at + pat->lit_len, yes)) return false;
            prev = i = at + pat->lit_len;
        }
    } else {
        size_t pos = 0, last_end = SIZE_MAX, ms, me;
        while (cf__regex_next(pat->re, s, n, &pos, &last_end, &ms, &me)) {
            if (prev != ms && !cf__pts_push_m(p, prev, ms, no)) return false;
            if (!cf__pts_push_m(p, ms, me, yes)) return false;
            prev = me;
        }
    }
    if (prev != n && !cf__pts_push_m(p, prev, n, no)) return false;
    return true;
}

// Applies a split behaviour to the match triples of p->m in place: afterwards each triple is
// (start, end, remove).
static void apply_behavior(cf__pts *p, int behavior) {
    uint32_t *m = p->m;
    size_t nm = p->nm / 3, w = 0;
    bool prev_match = false;
    switch (behavior) {
    case CF_SPLIT_ISOLATED:
        for (size_t k = 0; k < nm; k++) m[3 * k + 2] = 0;
        return;
    case CF_SPLIT_REMOVED:
        return;
    case CF_SPLIT_CONTIGUOUS:
        for (size_t k = 0; k < nm; k++) {
            bool is = m[3 * k + 2] != 0;
            if (is == prev_match && w > 0) {
                m[3 * (w - 1) + 1] = m[3 * k + 1];
            } else {
                m[3 * w] = m[3 * k];
                m[3 * w + 1] = m[3 * k + 1];
                m[3 * w + 2] = 0;
                w++;
            }
            prev_match = is;
        }
        break;
    case CF_SPLIT_MERGED_PREV:
        for (size_t k = 0; k < nm; k++) {
            bool is = m[3 * k + 2] != 0;
            if (is && !prev_match && w > 0) {
                m[3 * (w - 1) + 1] = m[3 * k + 1];
            } else {
                m[3 * w] = m[3 * k];
                m[3 * w + 1] = m[3 * k + 1];
                m[3 * w + 2] = 0;
                w++;
            }
            prev_match = is;
        }
        break;
    case CF_SPLIT_MERGED_NEXT: {
        // Walk backwards, merging a match into the piece after it; then reverse.
        size_t r = 0;  // built from the end: entries written at 3*r in reverse order
        uint32_t *tmp = m;
        for (size_t kk = nm; kk-- > 0;) {
            uint32_t s0 = tmp[3 * kk], e0 = tmp[3 * kk + 1];
            bool is = tmp[3 * kk + 2] != 0;
            if (is && !prev_match && r > 0) {
                m[3 * (nm - r)] = s0;  // extend the last pushed piece to the left
            } else {
                r++;
                m[3 * (nm - r)] = s0;
                m[3 * (nm - r) + 1] = e0;
                m[3 * (nm - r) + 2] = 0;
            }
            prev_match = is;
        }
        // The pieces sit at the end of m in order; move them to the front.
        memmove(m, m + 3 * (nm - r), 3 * r * sizeof(uint32_t));
        w = r;
        break;
    }
    default:
        return;
    }
    p->nm = 3 * w;
}

bool cf__pts_split(cf__pts *p, const cf__pattern *pat, int behavior) {
    size_t nsp2 = 0;
    for (size_t i = 0; i < p->nsp; i++) {
        cf__seg sp = p->sp[i];
        if (sp.ntok >= 0) {
            if (!cf__grow((void **)&p->sp2, &p->cap_sp2, nsp2 + 1, sizeof(cf__seg)))
                return false;
            p->sp2[nsp2++] = sp;
            continue;
        }
        if (!cf__pattern_find(p, pat, p->s + sp.off, sp.len)) return false;
        apply_behavior(p, behavior);
        for (size_t k = 0; k < p->nm; k += 3) {
            uint32_t a = p->m[k], b = p->m[k + 1];
            if (p->m[k + 2] || b <= a || b > sp.len) continue;  // removed or empty
            cf__seg ns = {sp.off + a, b - a, p->a0[sp.off + a], 0, -1, -1};
            uint32_t e = p->a1[sp.off + b - 1];
            ns.olen = e > ns.shift ? e - ns.shift : 0;
            if (!cf__grow((void **)&p->sp2, &p->cap_sp2, nsp2 + 1, sizeof(cf__seg)))
                return false;
            p->sp2[nsp2++] = ns;
        }
    }
    cf__seg *t = p->sp;
    size_t tc = p->cap_sp;
    p->sp = p->sp2;
    p->cap_sp = p->cap_sp2;
    p->sp2 = t;
    p->cap_sp2 = tc;
    p->nsp = nsp2;
    return true;
}

bool cf__pts_replace(cf__pts *p, size_t i, const cf__pattern *pat, const char *content,
                     size_t content_len) {
    cf__seg sp = p->sp[i];
    if (!cf__pattern_find(p, pat, p->s + sp.off, sp.len)) return false;
    size_t nmatch = 0;
    for (size_t k = 0; k < p->nm; k += 3) nmatch += p->m[k + 2] != 0;
    if (!nmatch) return true;
    // Each match's characters are removed and content's characters inserted after them: they
    // share the alignment of the match's last byte (of the byte before an empty match).
    size_t cap;
    if (!cf__mul_ok(nmatch, content_len, &cap) || !cf__add_ok(cap, sp.len, &cap) ||
        !reserve(p, cap))
        return false;
    const char *old = p->s + sp.off;
    const uint32_t *o0 = p->a0 + sp.off, *o1 = p->a1 + sp.off;
    size_t w = p->n;
    for (size_t k = 0; k < p->nm; k += 3) {
        size_t a = p->m[k], b = p->m[k + 1];
        if (!p->m[k + 2]) {
            memcpy(p->s + w, old + a, b - a);
            memcpy(p->a0 + w, o0 + a, (b - a) * sizeof(uint32_t));
            memcpy(p->a1 + w, o1 + a, (b - a) * sizeof(uint32_t));
            w += b - a;
            continue;
        }
        uint32_t al0 = sp.shift, al1 = sp.shift;
        if (b >= 1 && b - 1 < sp.len) {
            al0 = o0[b - 1];
            al1 = o1[b - 1];
        }
        memcpy(p->s + w, content, content_len);
        for (size_t q = 0; q < content_len; q++) {
            p->a0[w + q] = al0;
            p->a1[w + q] = al1;
        }
        w += content_len;
    }
    p->sp[i].off = (uint32_t)p->n;
    p->sp[i].len = (uint32_t)(w - p->n);
    p->n = w;
    return true;
}
