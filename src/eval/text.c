// Text as the Python reference scripts see it: UTF-8 decoding with replacement, str.lower()
// (full lower-case mappings and the Final_Sigma rule, as CPython applies them), str.isspace()
// and the re module's \w. Character data comes from utf8proc; the few properties it does not
// expose (Other_Lowercase/Other_Uppercase, Word_Break quotes) are small tables here.
// Deliberately not here: normalization forms, case folding, locale rules (Python applies none).
#include <utf8proc.h>  // defines: utf8proc_category, utf8proc_tolower

#include "eval_internal.h"

// ---- buffers ----

void cf__cps_push(cf__cps *b, uint32_t c) {
    if (b->oom) return;
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 64;
        uint32_t *nv = cf__realloc(b->v, ncap * sizeof *nv);
        if (!nv) {
            b->oom = true;
            return;
        }
        b->v = nv;
        b->cap = ncap;
    }
    b->v[b->n++] = c;
}

void cf__cps_free(cf__cps *b) {
    cf__free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
    b->oom = false;
}

// ---- UTF-8 ----

// Length of the valid sequence at s (1-4), or 0 when invalid; *bad is then the length of the
// maximal invalid subpart (the bytes that start a valid-looking prefix), at least 1.
static int utf8_one(const uint8_t *s, size_t n, uint32_t *cp, int *bad) {
    uint8_t c = s[0];
    *bad = 1;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int need;
    uint32_t v;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= n) return 0;
        uint8_t d = s[i];
        if (i == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) return 0;
        v = (v << 6) | (d & 0x3F);
        *bad = i + 1;
    }
    *cp = v;
    return need + 1;
}

size_t cf__utf8_decode(const char *s, size_t len, cf__cps *out) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, replaced = 0;
    while (i < len) {
        uint32_t cp;
        int bad;
        int k = utf8_one(p + i, len - i, &cp, &bad);
        if (k > 0) {
            cf__cps_push(out, cp);
            i += (size_t)k;
        } else {
            cf__cps_push(out, 0xFFFD);
            i += (size_t)bad;
            replaced++;
        }
    }
    return replaced;
}

char *cf__utf8_encode(const uint32_t *c, size_t n, size_t *len) {
    size_t cap;
    if (!cf__mul_ok(n, 4, &cap) || !cf__add_ok(cap, 1, &cap)) return NULL;
    char *o = cf__malloc(cap);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = c[i];
        if (v < 0x80) {
            o[k++] = (char)v;
        } else if (v < 0x800) {
            o[k++] = (char)(0xC0 | (v >> 6));
            o[k++] = (char)(0x80 | (v & 0x3F));
        } else if (v < 0x10000) {
            o[k++] = (char)(0xE0 | (v >> 12));
            o[k++] = (char)(0x80 | ((v >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (v & 0x3F));
        } else {
            o[k++] = (char)(0xF0 | (v >> 18));
            o[k++] = (char)(0x80 | ((v >> 12) & 0x3F));
            o[k++] = (char)(0x80 | ((v >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (v & 0x3F));
        }
    }
    o[k] = 0;
    if (len) *len = k;
    return o;
}

// ---- character classes ----

static int cat(uint32_t c) { return (int)utf8proc_category((utf8proc_int32_t)c); }

bool cf__py_isspace(uint32_t c) {
    // CPython's _PyUnicode_IsWhitespace: bidirectional type WS, B or S, or category Zs.
    if (c <= 0x20) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
        return true;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

bool cf__py_isword(uint32_t c) {
    // SRE's Unicode word class: str.isalnum() (isalpha: L*; isdecimal/isdigit/isnumeric: N*)
    // or the underscore. Combining marks are not word characters for Python's re.
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    int k = cat(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

// Other_Lowercase and Other_Uppercase (PropList.txt, Unicode 14): with Lu, Ll and Lt they make
// the Cased property that the Final_Sigma rule looks at.
static const uint32_t OTHER_CASED[][2] = {
    {0x00AA, 0x00AA}, {0x00BA, 0x00BA}, {0x02B0, 0x02B8}, {0x02C0, 0x02C1}, {0x02E0, 0x02E4},
    {0x0345, 0x0345}, {0x037A, 0x037A}, {0x10FC, 0x10FC}, {0x1D2C, 0x1D6A}, {0x1D78, 0x1D78},
    {0x1D9B, 0x1DBF}, {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C}, {0x2160, 0x217F},
    {0x24B6, 0x24E9}, {0x2C7C, 0x2C7D}, {0xA69C, 0xA69D}, {0xA770, 0xA770}, {0xA7F8, 0xA7F9},
    {0xAB5C, 0xAB5F}, {0x10780, 0x10780}, {0x10783, 0x10785}, {0x10787, 0x107B0},
    {0x107B2, 0x107BA}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
};

static bool is_cased(uint32_t c) {
    int k = cat(c);
    if (k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT)
        return true;
    for (size_t i = 0; i < sizeof OTHER_CASED / sizeof *OTHER_CASED; i++)
        if (c >= OTHER_CASED[i][0] && c <= OTHER_CASED[i][1]) return true;
    return false;
}

// Case_Ignorable (DerivedCoreProperties): Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter,
// MidNumLet and Single_Quote.
static bool is_case_ignorable(uint32_t c) {
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55:
    case 0xFF07: case 0xFF0E: case 0xFF1A:
        return true;
    default:
        break;
    }
    if (c < 0x80) return c == '^' || c == '`';  // Sk
    int k = cat(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME ||
           k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
}

// CPython's handle_capital_sigma: U+03A3 lowers to final U+03C2 when a cased letter precedes
// it (skipping case-ignorables) and none follows it (skipping case-ignorables).
static uint32_t lower_sigma(const uint32_t *c, size_t n, size_t i) {
    size_t j = i;
    uint32_t x = 0;
    bool found = false;
    while (j > 0) {
        x = c[--j];
        if (!is_case_ignorable(x)) {
            found = true;
            break;
        }
    }
    bool final = found && is_cased(x);
    if (final && i + 1 < n) {
        size_t k = i + 1;
        for (; k < n; k++)
            if (!is_case_ignorable(c[k])) break;
        final = k == n || !is_cased(c[k]);
    }
    return final ? 0x3C2 : 0x3C3;
}

void cf__py_lower(const uint32_t *c, size_t n, cf__cps *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t x = c[i];
        if (x < 0x80) {
            cf__cps_push(out, x >= 'A' && x <= 'Z' ? x + 32 : x);
        } else if (x == 0x130) {
            // The one unconditional multi-character lower-case mapping (SpecialCasing.txt).
            cf__cps_push(out, 'i');
            cf__cps_push(out, 0x307);
        } else if (x == 0x3A3) {
            cf__cps_push(out, lower_sigma(c, n, i));
        } else {
            cf__cps_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)x));
        }
    }
}

size_t cf__py_rstrip_len(const uint32_t *c, size_t n) {
    while (n > 0 && cf__py_isspace(c[n - 1])) n--;
    return n;
}
