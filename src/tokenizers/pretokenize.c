// Hugging Face pre-tokenizers (ByteLevel, BertPreTokenizer, Whitespace, WhitespaceSplit,
// Metaspace, Split, Punctuation, Digits, CharDelimiterSplit, Sequence) over the pre-tokenized
// string, and the regular expressions they use, compiled with PCRE2.
//
// The tokenizers library compiles its patterns with Oniguruma (Ruby syntax, Unicode classes).
// PCRE2 reads the same patterns once a few escapes are translated to what Oniguruma means by
// them: \s is White_Space (which includes U+0085, absent from PCRE2's \s), \w is Letter, Mark,
// Decimal_Number and Connector_Punctuation, \h is a hex digit, and ^ $ are line anchors.
//
// Not here: UnicodeScripts (CF_ERR_UNSUPPORTED at load).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>  // defines: pcre2_compile, pcre2_match, pcre2_jit_compile
#include <stdio.h>
#include <string.h>

#include "tokenizer_internal.h"

// ---- regex ----

struct cf__regex {
    pcre2_code *code;
    pcre2_match_data *md;
};

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (!cf__grow((void **)&b->p, &b->cap, b->n + n + 1, 1)) {
        b->oom = true;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

// Oniguruma escapes -> PCRE2 (see the file comment).
static void translate(const char *pat, size_t n, sbuf *o) {
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char e = pat[i + 1];
            const char *rep = NULL;
            switch (e) {
            case 's': rep = in_class ? "\\p{White_Space}" : "[\\p{White_Space}]"; break;
            case 'S': rep = "\\P{White_Space}"; break;
            case 'w': rep = in_class ? "\\p{L}\\p{M}\\p{Nd}\\p{Pc}" : "[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]"; break;
            case 'W': rep = in_class ? "\\W" : "[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}]"; break;
            case 'h': rep = in_class ? "0-9a-fA-F" : "[0-9a-fA-F]"; break;
            case 'H': rep = in_class ? "\\H" : "[^0-9a-fA-F]"; break;
            default: break;
            }
            if (rep) sb_str(o, rep);
            else sb_put(o, pat + i, 2);
            i++;
            continue;
        }
        if (c == '[') {
            if (in_class && i + 1 < n && pat[i + 1] == ':') {  // POSIX class [:alpha:]
                const char *end = NULL;
                for (size_t k = i + 2; k + 1 < n; k++)
                    if (pat[k] == ':' && pat[k + 1] == ']') {
                        end = pat + k + 2;
                        break;
                    }
                if (end) {
                    sb_put(o, pat + i, (size_t)(end - (pat + i)));
                    i = (size_t)(end - pat) - 1;
                    continue;
                }
            }
            in_class++;
            sb_put(o, &c, 1);
            // A ']' right after '[' or '[^' is a literal.
            if (i + 1 < n && pat[i + 1] == '^') {
                sb_put(o, "^", 1);
                i++;
            }
            if (i + 1 < n && pat[i + 1] == ']') {
                sb_put(o, "\\]", 2);
                i++;
            }
            continue;
        }
        if (c == ']' && in_class) in_class--;
        sb_put(o, &c, 1);
    }
}

static cf__regex *compile_pcre(const char *pat, size_t n, char *err, size_t err_cap) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, n, PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE,
                                     &ec, &eo, NULL);
    if (!code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, err_cap, "bad regex at %zu: %s", (size_t)eo, (const char *)msg);
        return NULL;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // the interpreter serves if JIT is missing
    cf__regex *re = cf__calloc(1, sizeof *re);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    if (!re || !md) {
        cf__free(re);
        pcre2_match_data_free(md);
        pcre2_code_free(code);
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    re->code = code;
    re->md = md;
    return re;
}

cf__regex *cf__regex_compile(const char *pat, size_t n, char *err, size_t err_cap) {
    sbuf o = {0};
    translate(pat, n, &o);
    if (o.oom) {
        cf__free(o.p);
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    cf__regex *re = compile_pcre(o.p ? o.p : "", o.n, err, err_cap);
    cf__free(o.p);
    return re;
}

cf__regex *cf__regex_literal(const char *s, size_t n, char *err, size_t err_cap) {
    sbuf o = {0};
    sb_str(&o, "\\Q");
    // \Q..\E quotes everything but "\E" itself.
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'E') {
            sb_str(&o, "\\E\\\\\\Q");
            continue;
        }
        sb_put(&o, s + i, 1);
    }
    sb_str(&o, "\\E");
    if (o.oom) {
        cf__free(o.p);
        snprintf(err, err_cap, "out of memory");
        return NULL;
    }
    cf__regex *re = compile_pcre(o.p, o.n, err, err_cap);
    cf__free(o.p);
    return re;
}

bool cf__regex_next(cf__regex *re, const char *s, size_t n, size_t *pos, size_t *last_end,
                    size_t *ms, size_t *me) {
    for (;;) {
        if (*pos > n) return false;
        int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, *pos, PCRE2_NO_UTF_CHECK, re->md, NULL);
        if (rc < 0) return false;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
        size_t a = ov[0], b = ov[1];
        if (b < a) return false;  // \K tricks; not used by tokenizers
        // Onig's find_iter: no empty match right where the previous match ended.
        if (a == b && *last_end == b) {
            *pos += *pos < n ? (size_t)cf__utf8_lead_len((uint8_t)s[*pos]) : 1;
            continue;
        }
        *pos = b;
        *last_end = b;
        *ms = a;
        *me = b;
        return true;
    }
}

void cf__regex_free(cf__regex *re) {
    if (!re) return;
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    cf__free(re);
}

cf__regex *cf__regex_gpt2(void) {
    static const char pat[] =
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    char err[200];
    return cf__regex_compile(pat, sizeof pat - 1, err, sizeof err);
}

// ---- byte-level alphabet ----

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others (controls, space,
// 0x7F-0xA0, 0xAD) take 256, 257, ... in byte order.
const uint32_t cf__bytelevel_char[256] = {
    256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270, 271,
    272, 273, 274, 275, 276, 277, 278, 279, 280, 281, 282, 283, 284, 285, 286, 287,
    288, 33,  34,  35,  36,  37,  38,  39,  40,  41,  42,  43,  44,  45,  46,  47,
    48,  49,  50,  51,  52,  53,  54,  55,  56,  57,  58,  59,  60,  61,  62,  63,
    64,  65,  66,  67,  68,  69,  70,  71,  72,  73,  74,  75,  76,  77,  78,  79,
    80,  81,  82,  83,  84,  85,  86,  87,  88,  89,  90,  91,  92,  93,  94,  95,
    96,  97,  98,  99,  100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 289,
    290, 291, 292, 293, 294, 295, 296, 297, 298, 299, 300, 301, 302, 303, 304, 305,
    306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321,
    322, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 323, 174, 175,
    176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191,
    192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207,
    208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223,
    224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
    240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255,
};

int cf__bytelevel_byte(uint32_t c) {
    if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255)) return (int)c;
    if (c < 256 || c > 323) return -1;
    static const uint8_t rest[68] = {
        0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,
        17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31,  32,  127,
        128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144,
        145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 173,
    };
    return rest[c - 256];
}

// ---- pre-tokenizers ----

static bool pred_ws(uint32_t c, const void *a) {
    (void)a;
    return cf__uc_is_whitespace(c);
}
static bool pred_punct(uint32_t c, const void *a) {
    (void)a;
    return cf__uc_is_bert_punct(c);
}
static bool pred_numeric(uint32_t c, const void *a) {
    (void)a;
    return cf__uc_is_numeric(c);
}
static bool pred_eq(uint32_t c, const void *a) { return c == *(const uint32_t *)a; }

// Matches of \w+|[^\w\s]+ (the Whitespace pre-tokenizer's Rust regex) as triples.
static bool find_words(cf__pts *p, const char *s, size_t n, const void *arg) {
    (void)arg;
    p->nm = 0;
    if (n == 0) return cf__pts_push_m(p, 0, 0, 0);
    size_t prev = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        int l = cf__utf8_get(s + i, &c);
        int kind = cf__uc_is_word(c) ? 1 : cf__uc_is_whitespace(c) ? 0 : 2;
        if (!kind) {
            i += (size_t)l;
            continue;
        }
        size_t j = i + (size_t)l;
        while (j < n) {
            uint32_t d;
            int dl = cf__utf8_get(s + j, &d);
            int dk = cf__uc_is_word(d) ? 1 : cf__uc_is_whitespace(d) ? 0 : 2;
            if (dk != kind) break;
            j += (size_t)dl;
        }
        if (prev != i && !cf__pts_push_m(p, prev, i, 0)) return false;
        if (!cf__pts_push_m(p, i, j, 1)) return false;
        prev = i = j;
    }
    if (prev != n && !cf__pts_push_m(p, prev, n, 0)) return false;
    return true;
}

// Maps every byte of split i to its byte-level character.
static bool bytelevel_map(cf__pts *p, size_t i) {
    cf__seg sp = p->sp[i];
    const uint8_t *s = (const uint8_t *)p->s + sp.off;
    bool identity = true;
    for (size_t k = 0; k < sp.len; k++)
        if (s[k] < 33 || s[k] > 126) {
            identity = false;
            break;
        }
    if (identity) return true;  // printable ASCII stands for itself
    p->tb.n = 0;
    for (size_t k = 0; k < sp.len;) {
        size_t l = (size_t)cf__utf8_lead_len(s[k]);
        for (size_t j = 0; j < l && k + j < sp.len; j++)
            if (!cf__tbuf_push(&p->tb, cf__bytelevel_char[s[k + j]], j > 0)) return false;
        k += l;
    }
    return cf__pts_transform(p, i, 0, sp.len, 0);
}

static bool metaspace(const cf__pretok *pt, cf__pts *p) {
    char rep[4];
    size_t rl = (size_t)cf__utf8_put(pt->replacement, rep);
    uint32_t space = ' ';
    cf__pattern sp_pat = {.pred = pred_eq, .arg = &space};
    for (size_t i = 0; i < p->nsp; i++) {
        if (p->sp[i].ntok >= 0) continue;
        if (!cf__pts_replace(p, i, &sp_pat, rep, rl)) return false;
        cf__seg *sp = &p->sp[i];
        bool starts = sp->len >= rl && !memcmp(p->s + sp->off, rep, rl);
        bool prepend = pt->prepend_scheme == CF_PREPEND_ALWAYS ||
                       (pt->prepend_scheme == CF_PREPEND_FIRST && sp->shift == 0);
        if (prepend && !starts && !cf__pts_prepend(p, i, rep, rl)) return false;
    }
    if (!pt->split) return true;
    uint32_t r = pt->replacement;
    cf__pattern pat = {.pred = pred_eq, .arg = &r};
    return cf__pts_split(p, &pat, CF_SPLIT_MERGED_NEXT);
}

bool cf__pretokenize(const cf__pretok *pt, cf__pts *p) {
    cf__pattern pat = {0};
    switch (pt->type) {
    case CF_PRE_BYTELEVEL:
        for (size_t i = 0; i < p->nsp; i++) {
            if (p->sp[i].ntok >= 0 || !pt->add_prefix_space) continue;
            cf__seg *sp = &p->sp[i];
            if (sp->len > 0 && p->s[sp->off] != ' ' && !cf__pts_prepend(p, i, " ", 1))
                return false;
        }
        if (pt->use_regex) {
            pat.re = pt->re;
            if (!cf__pts_split(p, &pat, CF_SPLIT_ISOLATED)) return false;
        }
        for (size_t i = 0; i < p->nsp; i++)
            if (p->sp[i].ntok < 0 && !bytelevel_map(p, i)) return false;
        return true;
    case CF_PRE_BERT:
        pat.pred = pred_ws;
        if (!cf__pts_split(p, &pat, CF_SPLIT_REMOVED)) return false;
        pat.pred = pred_punct;
        return cf__pts_split(p, &pat, CF_SPLIT_ISOLATED);
    case CF_PRE_WHITESPACE:
        pat.find = find_words;
        pat.invert = true;
        return cf__pts_split(p, &pat, CF_SPLIT_REMOVED);
    case CF_PRE_WHITESPACE_SPLIT:
        pat.pred = pred_ws;
        return cf__pts_split(p, &pat, CF_SPLIT_REMOVED);
    case CF_PRE_METASPACE:
        return metaspace(pt, p);
    case CF_PRE_SPLIT:
        pat.re = pt->re;
        pat.invert = pt->invert;
        return cf__pts_split(p, &pat, pt->behavior);
    case CF_PRE_PUNCTUATION:
        pat.pred = pred_punct;
        return cf__pts_split(p, &pat, pt->behavior);
    case CF_PRE_DIGITS:
        pat.pred = pred_numeric;
        return cf__pts_split(p, &pat,
                             pt->individual_digits ? CF_SPLIT_ISOLATED : CF_SPLIT_CONTIGUOUS);
    case CF_PRE_CHAR_DELIMITER:
        pat.pred = pred_eq;
        pat.arg = &pt->replacement;
        return cf__pts_split(p, &pat, CF_SPLIT_REMOVED);
    case CF_PRE_SEQUENCE:
        for (int k = 0; k < pt->n_seq; k++)
            if (!cf__pretokenize(&pt->seq[k], p)) return false;
        return true;
    default:
        return true;
    }
}

void cf__pretok_free(cf__pretok *pt) {
    if (!pt) return;
    cf__regex_free(pt->re);
    for (int k = 0; k < pt->n_seq; k++) cf__pretok_free(&pt->seq[k]);
    cf__free(pt->seq);
    memset(pt, 0, sizeof *pt);
}
