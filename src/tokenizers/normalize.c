// Hugging Face normalizers over one split of the pre-tokenized string: BertNormalizer, NFD,
// NFKD, NFC, NFKC, Lowercase, Strip, StripAccents, Replace, Prepend, Nmt, Precompiled,
// ByteLevel and Sequence. Each builds the (character, change) list the tokenizers library
// builds and hands it to cf__pts_transform, so alignments (hence offsets) match; a step that
// would leave the text as it is does nothing.
//
// Also SentencePiece's precompiled charsmap (a Darts double-array trie of byte strings and
// their replacements), shared with sentencepiece.c:
//   offset  size        meaning
//   0       4           T, the trie size in bytes, little-endian (T < blob size)
//   4       T           T / 4 little-endian uint32 units of the double array
//   4 + T   rest        replacements, each NUL-terminated; a leaf's value is an offset here
#include <string.h>
#include <stdio.h>

#include "tokenizer_internal.h"

// ---- precompiled charsmap ----

struct cf__charsmap {
    uint32_t *units;
    size_t n_units;
    char *norm;
    size_t norm_len;
};

cf__charsmap *cf__charsmap_parse(const uint8_t *blob, size_t n, char *err, size_t err_cap) {
    cf_reader r = {blob, n, 0};
    uint32_t tsize;
    if (!cf__read_u32(&r, &tsize) || (size_t)tsize >= n - 4 + 1 || tsize % 4) {
        snprintf(err, err_cap, "precompiled charsmap of %zu bytes is broken (trie size %u)", n,
                 n >= 4 ? (unsigned)tsize : 0u);
        return NULL;
    }
    cf__charsmap *m = cf__calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    m->n_units = tsize / 4;
    m->norm_len = n - 4 - tsize;
    m->units = cf__malloc(m->n_units * sizeof(uint32_t) + 1);
    m->norm = cf__malloc(m->norm_len + 1);
    if (!m->units || !m->norm) {
        cf__charsmap_free(m);
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < m->n_units; i++) cf__read_u32(&r, &m->units[i]);
    cf__read_bytes(&r, m->norm, m->norm_len);
    m->norm[m->norm_len] = 0;
    if (m->n_units == 0) {
        cf__charsmap_free(m);
        snprintf(err, err_cap, "precompiled charsmap has an empty trie");
        return NULL;
    }
    return m;
}

void cf__charsmap_free(cf__charsmap *m) {
    if (!m) return;
    cf__free(m->units);
    cf__free(m->norm);
    cf__free(m);
}

// Darts-clone units: bit 8 has_leaf, label = bits 0-7 and 31, offset = bits 10-31 shifted
// left by 8 when bit 9 is set, value (of a leaf unit) = bits 0-30.
static uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t u_label(uint32_t u) { return u & (0x80000000u | 0xFFu); }

// Common-prefix search: calls back for each prefix with a value, shortest first, at most max.
// Returns the number found; lens/vals receive them.
static int prefix_search(const cf__charsmap *m, const char *s, size_t n, size_t *lens,
                         uint32_t *vals, int max) {
    int found = 0;
    size_t pos = 0;
    uint32_t u = m->units[0];
    pos ^= u_offset(u);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == 0) break;
        pos ^= c;
        if (pos >= m->n_units) break;
        u = m->units[pos];
        if (u_label(u) != c) break;
        pos ^= u_offset(u);
        if (pos >= m->n_units) break;
        if ((u >> 8) & 1) {
            if (found < max) {
                lens[found] = i + 1;
                vals[found] = m->units[pos] & 0x7FFFFFFFu;
            }
            found++;
        }
    }
    return found < max ? found : max;
}

static bool replacement(const cf__charsmap *m, uint32_t v, const char **rep, size_t *rep_len) {
    if (v >= m->norm_len) return false;
    *rep = m->norm + v;
    *rep_len = strlen(m->norm + v);
    return true;
}

size_t cf__charsmap_longest(const cf__charsmap *m, const char *s, size_t n, const char **rep,
                            size_t *rep_len) {
    size_t lens[32];
    uint32_t vals[32];
    int k = prefix_search(m, s, n, lens, vals, 32);
    size_t best = 0;
    uint32_t bv = 0;
    for (int i = 0; i < k; i++)
        if (best == 0 || lens[i] > best) {
            best = lens[i];
            bv = vals[i];
        }
    if (best == 0 || !replacement(m, bv, rep, rep_len)) return 0;
    return best;
}

bool cf__charsmap_first(const cf__charsmap *m, const char *s, size_t n, const char **rep,
                        size_t *rep_len) {
    size_t lens[1];
    uint32_t vals[1];
    if (prefix_search(m, s, n, lens, vals, 1) < 1) return false;
    return replacement(m, vals[0], rep, rep_len);
}

// ---- helpers building transforms ----

// NormalizedString::filter followed by map (map keeps every change at 0, so both fold into
// one transform): removed characters are folded into the kept one before them; those before
// the first kept one are skipped through initial_offset.
typedef bool (*keep_fn)(uint32_t c);
typedef uint32_t (*map_fn)(uint32_t c);

static bool filter_map(cf__pts *p, size_t i, keep_fn keep, map_fn map) {
    cf__seg sp = p->sp[i];
    const char *s = p->s + sp.off;
    bool any = false;
    for (size_t k = 0; k < sp.len;) {
        uint32_t c;
        k += (size_t)cf__utf8_get(s + k, &c);
        if (!keep(c) || (map && map(c) != c)) {
            any = true;
            break;
        }
    }
    if (!any) return true;
    cf__tbuf *tb = &p->tb;
    tb->n = 0;
    int32_t removed = 0;
    size_t removed_start = 0;
    bool have_last = false;
    uint32_t last = 0;
    for (size_t k = 0; k < sp.len;) {
        uint32_t c;
        k += (size_t)cf__utf8_get(s + k, &c);
        if (keep(c)) {
            if (have_last) {
                if (!cf__tbuf_push(tb, map ? map(last) : last, -removed)) return false;
            } else {
                removed_start = (size_t)removed;
            }
            last = c;
            have_last = true;
            removed = 0;
        } else {
            removed++;
        }
    }
    if (have_last && !cf__tbuf_push(tb, map ? map(last) : last, -removed)) return false;
    return cf__pts_transform(p, i, 0, sp.len, removed_start);
}

static bool keep_bert(uint32_t c) { return !(c == 0 || c == 0xFFFD || cf__uc_is_bert_control(c)); }
static uint32_t map_bert_ws(uint32_t c) { return cf__uc_is_whitespace(c) ? ' ' : c; }
static bool keep_not_mn(uint32_t c) { return !cf__uc_is_mark_nonspacing(c); }
static bool keep_not_mark(uint32_t c) { return !cf__uc_is_combining_mark(c); }

static bool keep_nmt(uint32_t c) {
    return !((c >= 1 && c <= 8) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
             c == 0x8F || c == 0x9F);
}
static uint32_t map_nmt(uint32_t c) {
    switch (c) {
    case 0x09: case 0x0A: case 0x0C: case 0x0D: case 0x1680: case 0x2028: case 0x2029:
    case 0x2581: case 0xFEFF: case 0xFFFD:
        return ' ';
    default:
        return c >= 0x200B && c <= 0x200F ? ' ' : c;
    }
}

static bool chinese_chars(cf__pts *p, size_t i) {
    cf__seg sp = p->sp[i];
    const char *s = p->s + sp.off;
    bool any = false;
    for (size_t k = 0; k < sp.len && !any;) {
        uint32_t c;
        k += (size_t)cf__utf8_get(s + k, &c);
        any = cf__uc_is_chinese(c);
    }
    if (!any) return true;
    cf__tbuf *tb = &p->tb;
    tb->n = 0;
    for (size_t k = 0; k < sp.len;) {
        uint32_t c;
        k += (size_t)cf__utf8_get(s + k, &c);
        if (cf__uc_is_chinese(c)) {
            if (!cf__tbuf_push(tb, ' ', 0) || !cf__tbuf_push(tb, c, 1) ||
                !cf__tbuf_push(tb, ' ', 1))
                return false;
        } else if (!cf__tbuf_push(tb, c, 0)) {
            return false;
        }
    }
    return cf__pts_transform(p, i, 0, sp.len, 0);
}

static bool lowercase(cf__pts *p, size_t i) {
    cf__seg sp = p->sp[i];
    const char *s = p->s + sp.off;
    bool any = false;
    for (size_t k = 0; k < sp.len && !any;) {
        uint32_t c, lo[3];
        k += (size_t)cf__utf8_get(s + k, &c);
        any = cf__uc_lower(c, lo) != 1 || lo[0] != c;
    }
    if (!any) return true;
    cf__tbuf *tb = &p->tb;
    tb->n = 0;
    for (size_t k = 0; k < sp.len;) {
        uint32_t c, lo[3];
        k += (size_t)cf__utf8_get(s + k, &c);
        int nl = cf__uc_lower(c, lo);
        for (int j = 0; j < nl; j++)
            if (!cf__tbuf_push(tb, lo[j], j > 0)) return false;
    }
    return cf__pts_transform(p, i, 0, sp.len, 0);
}

static bool unicode_form(cf__pts *p, size_t i, int form) {
    cf__seg sp = p->sp[i];
    p->tb.n = 0;
    bool changed;
    if (!cf__uc_normalize(p->s + sp.off, sp.len, form, &p->tb, &changed)) return false;
    return !changed || cf__pts_transform(p, i, 0, sp.len, 0);
}

static bool strip(cf__pts *p, size_t i, bool left, bool right) {
    cf__seg sp = p->sp[i];
    const char *s = p->s + sp.off;
    size_t count = 0, lead = 0, trail = 0;
    bool in_lead = left;
    for (size_t k = 0; k < sp.len;) {
        uint32_t c;
        k += (size_t)cf__utf8_get(s + k, &c);
        bool ws = cf__uc_is_whitespace(c);
        if (in_lead && ws) lead++;
        else in_lead = false;
        trail = ws ? trail + 1 : 0;
        count++;
    }
    if (!right) trail = 0;
    if (lead == count) trail = 0;  // all whitespace: leading takes all
    if (!lead && !trail) return true;
    p->tb.n = 0;
    size_t idx = 0;
    for (size_t k = 0; k < sp.len; idx++) {
        uint32_t c;
        k += (size_t)cf__utf8_get(s + k, &c);
        if (idx >= lead && idx < count - trail && !cf__tbuf_push(&p->tb, c, 0)) return false;
    }
    return cf__pts_transform(p, i, 0, sp.len, lead);
}

// The library's Precompiled normalizer: graphemes shorter than 6 bytes are looked up whole
// (their first prefix match replaces all of them), the others character by character.
static void replace_chars(cf__tbuf *tb, size_t old_count, const char *rep, size_t rep_len,
                          bool *ok) {
    size_t new_count = 0, start = tb->n;
    for (size_t k = 0; k < rep_len;) {
        uint32_t c;
        k += (size_t)cf__utf8_get(rep + k, &c);
        if (!cf__tbuf_push(tb, c, 0)) *ok = false;
        new_count++;
    }
    (void)start;
    if (new_count > old_count) {
        size_t diff = new_count - old_count;
        for (size_t k = 0; k < diff && k < tb->n; k++) tb->v[tb->n - 1 - k].change = 1;
    } else if (new_count < old_count && tb->n > 0) {
        tb->v[tb->n - 1].change -= (int32_t)(old_count - new_count);
    }
}

static size_t count_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t k = 0; k < n; k += (size_t)cf__utf8_lead_len((uint8_t)s[k])) c++;
    return c;
}

static bool precompiled(cf__pts *p, size_t i, const cf__charsmap *m) {
    cf__seg sp = p->sp[i];
    const char *s = p->s + sp.off;
    cf__tbuf *tb = &p->tb;
    tb->n = 0;
    bool modified = false, ok = true;
    const char *rep;
    size_t rl;
    for (size_t k = 0; k < sp.len && ok;) {
        size_t g = cf__uc_grapheme_len(s + k, sp.len - k);
        if (g < 6 && cf__charsmap_first(m, s + k, g, &rep, &rl) && cf__utf8_valid(rep, rl)) {
            modified = true;
            replace_chars(tb, count_chars(s + k, g), rep, rl, &ok);
            k += g;
            continue;
        }
        for (size_t j = 0; j < g;) {
            uint32_t c;
            int cl = cf__utf8_get(s + k + j, &c);
            if (cf__charsmap_first(m, s + k + j, (size_t)cl, &rep, &rl) && cf__utf8_valid(rep, rl)) {
                modified = true;
                replace_chars(tb, 1, rep, rl, &ok);
            } else if (!cf__tbuf_push(tb, c, 0)) {
                ok = false;
            }
            j += (size_t)cl;
        }
        k += g;
    }
    if (!ok) return false;
    return !modified || cf__pts_transform(p, i, 0, sp.len, 0);
}

static bool bytelevel(cf__pts *p, size_t i) {
    cf__seg sp = p->sp[i];
    if (sp.len == 0) return true;
    const uint8_t *s = (const uint8_t *)p->s + sp.off;
    p->tb.n = 0;
    for (size_t k = 0; k < sp.len;) {
        size_t l = (size_t)cf__utf8_lead_len(s[k]);
        for (size_t j = 0; j < l && k + j < sp.len; j++)
            if (!cf__tbuf_push(&p->tb, cf__bytelevel_char[s[k + j]], j > 0)) return false;
        k += l;
    }
    return cf__pts_transform(p, i, 0, sp.len, 0);
}

bool cf__normalize(const cf__normalizer *nz, cf__pts *p, size_t i) {
    switch (nz->type) {
    case CF_NORM_BERT:
        if (nz->clean_text && !filter_map(p, i, keep_bert, map_bert_ws)) return false;
        if (nz->chinese && !chinese_chars(p, i)) return false;
        if (nz->strip_accents &&
            (!unicode_form(p, i, CF_NF_NFD) || !filter_map(p, i, keep_not_mn, NULL)))
            return false;
        return !nz->lowercase || lowercase(p, i);
    case CF_NORM_NFD: return unicode_form(p, i, CF_NF_NFD);
    case CF_NORM_NFKD: return unicode_form(p, i, CF_NF_NFKD);
    case CF_NORM_NFC: return unicode_form(p, i, CF_NF_NFC);
    case CF_NORM_NFKC: return unicode_form(p, i, CF_NF_NFKC);
    case CF_NORM_LOWER: return lowercase(p, i);
    case CF_NORM_STRIP: return strip(p, i, nz->left, nz->right);
    case CF_NORM_STRIP_ACCENTS: return filter_map(p, i, keep_not_mark, NULL);
    case CF_NORM_REPLACE: {
        cf__pattern pat = {.re = nz->re};
        return cf__pts_replace(p, i, &pat, nz->str, nz->str_len);
    }
    case CF_NORM_PREPEND: return cf__pts_prepend(p, i, nz->str, nz->str_len);
    case CF_NORM_NMT: return filter_map(p, i, keep_nmt, map_nmt);
    case CF_NORM_PRECOMPILED: return precompiled(p, i, nz->cmap);
    case CF_NORM_BYTELEVEL: return bytelevel(p, i);
    case CF_NORM_SEQUENCE:
        for (int k = 0; k < nz->n_seq; k++)
            if (!cf__normalize(&nz->seq[k], p, i)) return false;
        return true;
    default:
        return true;
    }
}

void cf__normalizer_free(cf__normalizer *nz) {
    if (!nz) return;
    cf__free(nz->str);
    cf__regex_free(nz->re);
    cf__charsmap_free(nz->cmap);
    for (int k = 0; k < nz->n_seq; k++) cf__normalizer_free(&nz->seq[k]);
    cf__free(nz->seq);
    memset(nz, 0, sizeof *nz);
}
