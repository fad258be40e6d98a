// UTF-8 and Unicode for the tokenizers: strict decoding with the maximal-subpart rule for
// invalid input, the character classes the Hugging Face pipeline uses (answered by utf8proc's
// tables, never our own), Rust's char::to_lowercase, and the four normalization forms emitted
// as (character, change) pairs in the order unicode-normalization-alignments yields them, so
// that offsets follow the characters exactly as in the tokenizers library.
//
// Not here: Unicode data of our own. Where the references' Unicode version differs from the
// installed utf8proc's, characters assigned in between may be classified differently.
#include <string.h>
#include <utf8proc.h>  // defines: utf8proc_get_property, utf8proc_decompose_char, ...

#include "tokenizer_internal.h"

// ---- UTF-8 ----

int cf__utf8_next(const uint8_t *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0Fu;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07u;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < (size_t)len || s[1] < lo || s[1] > hi) return 0;
    v = v << 6 | (s[1] & 0x3Fu);
    for (int i = 2; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    *cp = v;
    return len;
}

int cf__utf8_invalid_len(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    int len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 1;
    }
    // The lead byte and every following byte that could still continue the sequence.
    int k = 1;
    if (k < len && (size_t)k < n && s[k] >= lo && s[k] <= hi) {
        k++;
        while (k < len && (size_t)k < n && (s[k] & 0xC0) == 0x80) k++;
    }
    return k >= len ? len - 1 : k;  // a complete sequence is never invalid; stay defensive
}

int cf__utf8_put(uint32_t c, char *o) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

int cf__utf8_get(const char *s, uint32_t *cp) {
    uint8_t c = (uint8_t)s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = (c & 0x1Fu) << 6 | ((uint8_t)s[1] & 0x3Fu);
        return 2;
    }
    if (c < 0xF0) {
        *cp = (c & 0x0Fu) << 12 | ((uint8_t)s[1] & 0x3Fu) << 6 | ((uint8_t)s[2] & 0x3Fu);
        return 3;
    }
    *cp = (c & 0x07u) << 18 | ((uint8_t)s[1] & 0x3Fu) << 12 | ((uint8_t)s[2] & 0x3Fu) << 6 |
          ((uint8_t)s[3] & 0x3Fu);
    return 4;
}

bool cf__utf8_valid(const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        // Eight ASCII bytes at a time.
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int l = cf__utf8_next(u + i, n - i, &cp);
        if (!l) return false;
        i += (size_t)l;
    }
    return true;
}

// ---- character classes ----

static int cat(uint32_t c) { return (int)utf8proc_category((utf8proc_int32_t)c); }

bool cf__uc_is_whitespace(uint32_t c) {
    if (c == ' ' || (c >= 9 && c <= 13)) return true;
    if (c < 0x85) return false;
    if (c == 0x85) return true;
    int k = cat(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

bool cf__uc_is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    int k = cat(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

static bool is_letter(int k) { return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO; }
static bool is_mark(int k) { return k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_ME; }
static bool is_punct(int k) { return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO; }

// Other_Alphabetic symbols (circled and squared Latin letters): alphabetic though So.
static bool other_alpha_symbol(uint32_t c) {
    return (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
           (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
}

bool cf__uc_is_alnum(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
    int k = cat(c);
    return is_letter(k) || k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL ||
           k == UTF8PROC_CATEGORY_NO || other_alpha_symbol(c) ||
           ((k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC) && c >= 0x300);
}

bool cf__uc_is_word(uint32_t c) {
    if (c < 0x80)
        return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c == '_';
    int k = cat(c);
    return is_letter(k) || is_mark(k) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC || c == 0x200C || c == 0x200D ||
           other_alpha_symbol(c);
}

bool cf__uc_is_bert_punct(uint32_t c) {
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    return is_punct(cat(c));
}

bool cf__uc_is_bert_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) return true;
    if (c < 0xA0) return false;
    int k = cat(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO;
}

bool cf__uc_is_mark_nonspacing(uint32_t c) {
    return c >= 0x300 && cat(c) == UTF8PROC_CATEGORY_MN;
}

bool cf__uc_is_combining_mark(uint32_t c) { return c >= 0x300 && is_mark(cat(c)); }

bool cf__uc_is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int cf__uc_lower(uint32_t c, uint32_t out[3]) {
    if (c < 0x80) {
        out[0] = c >= 'A' && c <= 'Z' ? c + 32 : c;
        return 1;
    }
    // The one unconditional multi-character lower-case mapping (SpecialCasing.txt): Rust's
    // to_lowercase applies it, the simple mapping utf8proc gives does not.
    if (c == 0x130) {
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

bool cf__tbuf_push(cf__tbuf *b, uint32_t c, int32_t change) {
    if (b->n == b->cap && !cf__grow((void **)&b->v, &b->cap, b->n + 1, sizeof(cf__tchar)))
        return false;
    b->v[b->n].c = c;
    b->v[b->n].change = change;
    b->n++;
    return true;
}

// ---- normalization forms ----

static int ccc(uint32_t c) {
    if (c < 0x300) return 0;
    return utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
}

// Canonical composition of a starter and the following character, or -1.
static int64_t compose(uint32_t a, uint32_t b) {
    utf8proc_int32_t buf[2] = {(utf8proc_int32_t)a, (utf8proc_int32_t)b};
    utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE | UTF8PROC_STABLE);
    return n == 1 ? (int64_t)buf[0] : -1;
}

// Stable sort of v[lo, hi) by combining class (insertion sort: runs are short).
static void sort_by_ccc(cf__tchar *v, int *cls, size_t lo, size_t hi) {
    for (size_t i = lo + 1; i < hi; i++) {
        cf__tchar x = v[i];
        int cx = cls[i];
        size_t j = i;
        while (j > lo && cls[j - 1] > cx) {
            v[j] = v[j - 1];
            cls[j] = cls[j - 1];
            j--;
        }
        v[j] = x;
        cls[j] = cx;
    }
}

// Decomposes s into d (appended), then orders each run of non-starters by combining class
// (the sort happens when a starter arrives, and at the end).
static bool decompose(const char *s, size_t n, bool compat, cf__tbuf *d, int **cls,
                      size_t *cls_cap) {
    size_t start = d->n, pending = d->n;  // pending: first entry not yet sorted
    for (size_t i = 0; i < n;) {
        uint32_t c;
        i += (size_t)cf__utf8_get(s + i, &c);
        utf8proc_int32_t buf[32];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char(
            (utf8proc_int32_t)c, buf, 32,
            UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0), &last);
        if (k < 0 || k > 32) {  // cannot happen for valid code points; keep the character
            buf[0] = (utf8proc_int32_t)c;
            k = 1;
        }
        for (utf8proc_ssize_t j = 0; j < k; j++) {
            uint32_t ch = (uint32_t)buf[j];
            int cl = ccc(ch);
            if (!cf__grow((void **)cls, cls_cap, d->n + 1, sizeof(int))) return false;
            if (cl == 0) {
                sort_by_ccc(d->v, *cls, pending, d->n);
                pending = d->n;
            }
            if (!cf__tbuf_push(d, ch, j == 0 ? 0 : 1)) return false;
            (*cls)[d->n - 1] = cl;
        }
    }
    sort_by_ccc(d->v, *cls, pending, d->n);
    (void)start;
    return true;
}

// The recomposition state machine of unicode-normalization-alignments (Recompositions), fed
// with the decomposed pairs in[0, n), appending to out.
static bool recompose(const cf__tchar *in, size_t n, cf__tbuf *out, cf__tbuf *buf) {
    bool have_composee = false, have_last = false;
    cf__tchar composee = {0, 0};
    int last_ccc = 0;
    buf->n = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t ch = in[i].c;
        int32_t change = in[i].change;
        int ch_class = ccc(ch);
        if (!have_composee) {
            if (ch_class != 0) {
                if (!cf__tbuf_push(out, ch, change)) return false;
                continue;
            }
            composee = in[i];
            have_composee = true;
            continue;
        }
        if (!have_last) {
            int64_t r = compose(composee.c, ch);
            if (r >= 0) {
                composee.c = (uint32_t)r;
                composee.change = composee.change + change - 1;
                continue;
            }
            if (ch_class == 0) {
                if (!cf__tbuf_push(out, composee.c, composee.change)) return false;
                composee = in[i];
                continue;
            }
            if (!cf__tbuf_push(buf, ch, change)) return false;
            last_ccc = ch_class;
            have_last = true;
            continue;
        }
        if (last_ccc >= ch_class) {
            if (ch_class == 0) {
                // Purge: the composee, then the buffered characters; the new starter waits.
                if (!cf__tbuf_push(out, composee.c, composee.change)) return false;
                for (size_t j = 0; j < buf->n; j++)
                    if (!cf__tbuf_push(out, buf->v[j].c, buf->v[j].change)) return false;
                buf->n = 0;
                composee = in[i];
                have_last = false;
                continue;
            }
            if (!cf__tbuf_push(buf, ch, change)) return false;
            last_ccc = ch_class;
            continue;
        }
        int64_t r = compose(composee.c, ch);
        if (r >= 0) {
            composee.c = (uint32_t)r;
            composee.change = composee.change + change - 1;
            continue;
        }
        if (!cf__tbuf_push(buf, ch, change)) return false;
        last_ccc = ch_class;
    }
    // Finished: the buffered characters come first, then the composee.
    for (size_t j = 0; j < buf->n; j++)
        if (!cf__tbuf_push(out, buf->v[j].c, buf->v[j].change)) return false;
    buf->n = 0;
    if (have_composee && !cf__tbuf_push(out, composee.c, composee.change)) return false;
    return true;
}

bool cf__uc_normalize(const char *s, size_t n, int form, cf__tbuf *out, bool *changed) {
    *changed = false;
    bool ascii = true;
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)s[i] >= 0x80) {
            ascii = false;
            break;
        }
    if (ascii) {  // every form leaves ASCII unchanged
        for (size_t i = 0; i < n; i++)
            if (!cf__tbuf_push(out, (uint8_t)s[i], 0)) return false;
        return true;
    }
    bool compat = form == CF_NF_NFKD || form == CF_NF_NFKC;
    cf__tbuf d = {0}, buf = {0};
    int *cls = NULL;
    size_t cls_cap = 0;
    size_t start = out->n;
    bool ok;
    if (form == CF_NF_NFD || form == CF_NF_NFKD) {
        ok = decompose(s, n, compat, out, &cls, &cls_cap);
    } else {
        ok = decompose(s, n, compat, &d, &cls, &cls_cap) && recompose(d.v, d.n, out, &buf);
    }
    if (ok) {
        // Changed unless the same characters come out with no insertion or removal.
        size_t i = 0, k = start;
        while (i < n && k < out->n) {
            uint32_t c;
            i += (size_t)cf__utf8_get(s + i, &c);
            if (out->v[k].c != c || out->v[k].change != 0) break;
            k++;
        }
        *changed = !(i == n && k == out->n);
    }
    cf__free(d.v);
    cf__free(buf.v);
    cf__free(cls);
    return ok;
}

size_t cf__uc_grapheme_len(const char *s, size_t n) {
    uint32_t prev;
    size_t i = (size_t)cf__utf8_get(s, &prev);
    utf8proc_int32_t state = 0;
    while (i < n) {
        uint32_t c;
        int l = cf__utf8_get(s + i, &c);
        if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c, &state))
            break;
        prev = c;
        i += (size_t)l;
    }
    return i;
}
