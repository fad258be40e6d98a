// tokenizer.json (Hugging Face tokenizers, format version 1.0) into a pipeline (pipeline.c).
//
//   key             meaning
//   version         "1.0"
//   added_tokens    [{id, content, single_word, lstrip, rstrip, normalized, special}]; the
//                   library re-adds them in file order (ids: an existing piece keeps its id,
//                   others count up from the model's vocabulary size), and so do we
//   normalizer      null or {type: BertNormalizer | NFD | NFKD | NFC | NFKC | Lowercase | Strip |
//                   StripAccents | Replace | Prepend | Nmt | Precompiled | ByteLevel | Sequence}
//   pre_tokenizer   null or {type: ByteLevel | BertPreTokenizer | Whitespace | WhitespaceSplit |
//                   Metaspace | Split | Punctuation | Digits | CharDelimiterSplit | Sequence}
//   model           {type: BPE (vocab {piece: id}, merges ["a b"] or [["a", "b"]]) | WordPiece |
//                   WordLevel | Unigram (vocab [[piece, score]], unk_id)}; "type" may be missing
//                   in old files, then the fields tell
//   post_processor  null or {type: TemplateProcessing | BertProcessing | RobertaProcessing |
//                   ByteLevel | Sequence}
//   decoder         null or {type: ByteLevel | WordPiece | Metaspace | BPEDecoder | ByteFallback |
//                   Fuse | Strip | Replace | CTC | Sequence}
//   truncation, padding   accepted and not applied (see pipeline.c)
//
// Every value is checked for its type; a bad one is CF_ERR_FORMAT naming the file and the key
// path; a component we do not implement is CF_ERR_UNSUPPORTED.
#include <cJSON.h>  // defines: cJSON_ParseWithLength, cJSON_GetObjectItemCaseSensitive
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tokenizer_internal.h"

typedef struct jctx {
    cf_ctx *ctx;
    const char *path;
    cf_status st;
} jctx;

#define JFAIL(j, ...)                                                     \
    do {                                                                  \
        if ((j)->st == CF_OK) (j)->st = CF_FORMAT_ERR((j)->ctx, __VA_ARGS__); \
        return false;                                                     \
    } while (0)
#define JUNSUP(j, ...)                                                                  \
    do {                                                                                \
        if ((j)->st == CF_OK) (j)->st = CF_ERR((j)->ctx, CF_ERR_UNSUPPORTED, __VA_ARGS__); \
        return false;                                                                   \
    } while (0)
#define JNOMEM(j)                                              \
    do {                                                       \
        if ((j)->st == CF_OK) (j)->st = CF_NOMEM((j)->ctx);    \
        return false;                                          \
    } while (0)

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

// Optional boolean: *v unchanged when absent or null.
static bool opt_bool(jctx *j, const cJSON *o, const char *k, bool *v, const char *where) {
    const cJSON *x = get(o, k);
    if (!x || cJSON_IsNull(x)) return true;
    if (!cJSON_IsBool(x)) JFAIL(j, "%s: %s.%s is not a boolean", j->path, where, k);
    *v = cJSON_IsTrue(x);
    return true;
}

// Optional string, copied (NULL when absent or null).
static bool opt_str(jctx *j, const cJSON *o, const char *k, char **v, size_t *n,
                    const char *where) {
    const cJSON *x = get(o, k);
    *v = NULL;
    if (n) *n = 0;
    if (!x || cJSON_IsNull(x)) return true;
    if (!cJSON_IsString(x)) JFAIL(j, "%s: %s.%s is not a string", j->path, where, k);
    *v = cf__strdup(x->valuestring);
    if (!*v) JNOMEM(j);
    if (n) *n = strlen(*v);
    return true;
}

// A non-negative integer below limit.
static bool json_int(const cJSON *x, double limit, int64_t *v) {
    if (!cJSON_IsNumber(x)) return false;
    double d = x->valuedouble;
    if (!(d >= 0) || d >= limit || d != floor(d)) return false;
    *v = (int64_t)d;
    return true;
}

static bool opt_int(jctx *j, const cJSON *o, const char *k, int64_t *v, double limit,
                    const char *where) {
    const cJSON *x = get(o, k);
    if (!x || cJSON_IsNull(x)) return true;
    if (!json_int(x, limit, v)) JFAIL(j, "%s: %s.%s is not an integer in range", j->path, where, k);
    return true;
}

static const char *type_of(const cJSON *o) {
    const cJSON *t = get(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

// A single character (Metaspace replacement, CharDelimiterSplit delimiter, Strip content).
static bool one_char(jctx *j, const cJSON *o, const char *k, uint32_t *c, const char *where) {
    const cJSON *x = get(o, k);
    if (!cJSON_IsString(x)) JFAIL(j, "%s: %s.%s is not a string", j->path, where, k);
    const char *s = x->valuestring;
    size_t n = strlen(s);
    int l = cf__utf8_next((const uint8_t *)s, n, c);
    if (l == 0 || (size_t)l != n)
        JFAIL(j, "%s: %s.%s must be exactly one character", j->path, where, k);
    return true;
}

// {"String": s} or {"Regex": r} -> a compiled regex (strings are escaped).
static bool pattern(jctx *j, const cJSON *o, cf__regex **re, const char *where) {
    const cJSON *p = get(o, "pattern");
    const cJSON *s = get(p, "String"), *r = get(p, "Regex");
    char err[200];
    if (cJSON_IsString(s)) *re = cf__regex_literal(s->valuestring, strlen(s->valuestring), err,
                                                   sizeof err);
    else if (cJSON_IsString(r)) *re = cf__regex_compile(r->valuestring, strlen(r->valuestring),
                                                        err, sizeof err);
    else JFAIL(j, "%s: %s.pattern needs a String or a Regex", j->path, where);
    if (!*re && !strcmp(err, "out of memory")) JNOMEM(j);
    if (!*re) JFAIL(j, "%s: %s.pattern: %s", j->path, where, err);
    return true;
}

static bool behavior(jctx *j, const cJSON *o, int *b, const char *where, int dflt) {
    const cJSON *x = get(o, "behavior");
    *b = dflt;
    if (!x || cJSON_IsNull(x)) return true;
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    if (cJSON_IsString(x))
        for (int k = 0; k < 5; k++)
            if (!strcmp(x->valuestring, names[k])) {
                *b = k;
                return true;
            }
    JFAIL(j, "%s: %s.behavior is not a known split behaviour", j->path, where);
}

// 0 ok, 1 not base64, 2 out of memory.
static int b64(const char *s, uint8_t **out, size_t *n) {
    size_t len = strlen(s);
    uint8_t *o = cf__malloc(len / 4 * 3 + 3);
    if (!o) return 2;
    uint32_t acc = 0;
    int bits = 0;
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
              : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
        if (c == '=') break;
        if (v < 0) {
            cf__free(o);
            return 1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[w++] = (uint8_t)(acc >> bits);
        }
    }
    *out = o;
    *n = w;
    return 0;
}

// ---- normalizers ----

static bool normalizer(jctx *j, const cJSON *o, cf__normalizer *nz, int depth) {
    const char *w = "normalizer";
    const char *t = type_of(o);
    if (!t) JFAIL(j, "%s: a normalizer has no type", j->path);
    if (depth > CF_TOK_MAX_DEPTH) JFAIL(j, "%s: normalizers nested too deeply", j->path);
    if (!strcmp(t, "BertNormalizer")) {
        nz->type = CF_NORM_BERT;
        nz->clean_text = nz->chinese = nz->lowercase = true;
        bool sa_set = false, sa = false;
        const cJSON *x = get(o, "strip_accents");
        if (x && !cJSON_IsNull(x)) {
            if (!cJSON_IsBool(x)) JFAIL(j, "%s: normalizer.strip_accents is not a boolean", j->path);
            sa_set = true;
            sa = cJSON_IsTrue(x);
        }
        if (!opt_bool(j, o, "clean_text", &nz->clean_text, w) ||
            !opt_bool(j, o, "handle_chinese_chars", &nz->chinese, w) ||
            !opt_bool(j, o, "lowercase", &nz->lowercase, w))
            return false;
        nz->strip_accents = sa_set ? sa : nz->lowercase;
    } else if (!strcmp(t, "NFD")) nz->type = CF_NORM_NFD;
    else if (!strcmp(t, "NFKD")) nz->type = CF_NORM_NFKD;
    else if (!strcmp(t, "NFC")) nz->type = CF_NORM_NFC;
    else if (!strcmp(t, "NFKC")) nz->type = CF_NORM_NFKC;
    else if (!strcmp(t, "Lowercase")) nz->type = CF_NORM_LOWER;
    else if (!strcmp(t, "StripAccents")) nz->type = CF_NORM_STRIP_ACCENTS;
    else if (!strcmp(t, "Nmt")) nz->type = CF_NORM_NMT;
    else if (!strcmp(t, "ByteLevel")) nz->type = CF_NORM_BYTELEVEL;
    else if (!strcmp(t, "Strip")) {
        nz->type = CF_NORM_STRIP;
        nz->left = nz->right = true;
        if (!opt_bool(j, o, "strip_left", &nz->left, w) ||
            !opt_bool(j, o, "strip_right", &nz->right, w))
            return false;
    } else if (!strcmp(t, "Replace")) {
        nz->type = CF_NORM_REPLACE;
        if (!pattern(j, o, &nz->re, w) || !opt_str(j, o, "content", &nz->str, &nz->str_len, w))
            return false;
        if (!nz->str) JFAIL(j, "%s: normalizer Replace has no content", j->path);
    } else if (!strcmp(t, "Prepend")) {
        nz->type = CF_NORM_PREPEND;
        if (!opt_str(j, o, "prepend", &nz->str, &nz->str_len, w)) return false;
        if (!nz->str) JFAIL(j, "%s: normalizer Prepend has no prepend string", j->path);
    } else if (!strcmp(t, "Precompiled")) {
        nz->type = CF_NORM_PRECOMPILED;
        const cJSON *x = get(o, "precompiled_charsmap");
        if (!cJSON_IsString(x))
            JFAIL(j, "%s: normalizer Precompiled has no precompiled_charsmap", j->path);
        uint8_t *blob;
        size_t n;
        int rc = b64(x->valuestring, &blob, &n);
        if (rc == 2) JNOMEM(j);
        if (rc) JFAIL(j, "%s: precompiled_charsmap is not valid base64", j->path);
        char err[200];
        nz->cmap = cf__charsmap_parse(blob, n, err, sizeof err);
        cf__free(blob);
        if (!nz->cmap && !strcmp(err, "out of memory")) JNOMEM(j);
        if (!nz->cmap) JFAIL(j, "%s: %s", j->path, err);
    } else if (!strcmp(t, "Sequence")) {
        nz->type = CF_NORM_SEQUENCE;
        const cJSON *a = get(o, "normalizers");
        if (!cJSON_IsArray(a)) JFAIL(j, "%s: normalizer Sequence has no normalizers list", j->path);
        int n = cJSON_GetArraySize(a);
        nz->seq = cf__calloc((size_t)n + 1, sizeof(cf__normalizer));
        if (!nz->seq) JNOMEM(j);
        for (const cJSON *e = a->child; e; e = e->next) {
            if (!normalizer(j, e, &nz->seq[nz->n_seq], depth + 1)) {
                nz->n_seq++;
                return false;
            }
            nz->n_seq++;
        }
    } else {
        JUNSUP(j, "%s: normalizer type '%.40s' is not supported", j->path, t);
    }
    return true;
}

// ---- pre-tokenizers ----

static bool prepend_scheme(jctx *j, const cJSON *o, int *scheme, const char *where) {
    *scheme = CF_PREPEND_ALWAYS;
    const cJSON *x = get(o, "prepend_scheme");
    if (x && !cJSON_IsNull(x)) {
        if (!cJSON_IsString(x)) JFAIL(j, "%s: %s.prepend_scheme is not a string", j->path, where);
        if (!strcmp(x->valuestring, "first")) *scheme = CF_PREPEND_FIRST;
        else if (!strcmp(x->valuestring, "never")) *scheme = CF_PREPEND_NEVER;
        else if (strcmp(x->valuestring, "always"))
            JFAIL(j, "%s: %s.prepend_scheme '%.20s' is unknown", j->path, where, x->valuestring);
    }
    const cJSON *ap = get(o, "add_prefix_space");
    if (cJSON_IsBool(ap) && !cJSON_IsTrue(ap)) {
        if (x && cJSON_IsString(x) && *scheme != CF_PREPEND_NEVER)
            JFAIL(j, "%s: %s: add_prefix_space does not match prepend_scheme", j->path, where);
        *scheme = CF_PREPEND_NEVER;
    }
    return true;
}

static bool pretok(jctx *j, const cJSON *o, cf__pretok *pt, int depth) {
    const char *w = "pre_tokenizer";
    const char *t = type_of(o);
    if (!t) JFAIL(j, "%s: a pre-tokenizer has no type", j->path);
    if (depth > CF_TOK_MAX_DEPTH) JFAIL(j, "%s: pre-tokenizers nested too deeply", j->path);
    if (!strcmp(t, "ByteLevel")) {
        pt->type = CF_PRE_BYTELEVEL;
        pt->add_prefix_space = pt->use_regex = true;
        if (!opt_bool(j, o, "add_prefix_space", &pt->add_prefix_space, w) ||
            !opt_bool(j, o, "use_regex", &pt->use_regex, w))
            return false;
        if (pt->use_regex && !(pt->re = cf__regex_gpt2())) JNOMEM(j);
    } else if (!strcmp(t, "BertPreTokenizer")) pt->type = CF_PRE_BERT;
    else if (!strcmp(t, "Whitespace")) pt->type = CF_PRE_WHITESPACE;
    else if (!strcmp(t, "WhitespaceSplit")) pt->type = CF_PRE_WHITESPACE_SPLIT;
    else if (!strcmp(t, "Metaspace")) {
        pt->type = CF_PRE_METASPACE;
        pt->split = true;
        if (!one_char(j, o, "replacement", &pt->replacement, w) ||
            !prepend_scheme(j, o, &pt->prepend_scheme, w) || !opt_bool(j, o, "split", &pt->split, w))
            return false;
    } else if (!strcmp(t, "Split")) {
        pt->type = CF_PRE_SPLIT;
        const cJSON *inv = get(o, "invert");
        if (!cJSON_IsBool(inv)) JFAIL(j, "%s: pre_tokenizer Split needs invert", j->path);
        pt->invert = cJSON_IsTrue(inv);
        if (!pattern(j, o, &pt->re, w) || !behavior(j, o, &pt->behavior, w, -1)) return false;
        if (pt->behavior < 0) JFAIL(j, "%s: pre_tokenizer Split needs a behavior", j->path);
    } else if (!strcmp(t, "Punctuation")) {
        pt->type = CF_PRE_PUNCTUATION;
        if (!behavior(j, o, &pt->behavior, w, CF_SPLIT_ISOLATED)) return false;
    } else if (!strcmp(t, "Digits")) {
        pt->type = CF_PRE_DIGITS;
        if (!opt_bool(j, o, "individual_digits", &pt->individual_digits, w)) return false;
    } else if (!strcmp(t, "CharDelimiterSplit")) {
        pt->type = CF_PRE_CHAR_DELIMITER;
        if (!one_char(j, o, "delimiter", &pt->replacement, w)) return false;
    } else if (!strcmp(t, "Sequence")) {
        pt->type = CF_PRE_SEQUENCE;
        const cJSON *a = get(o, "pretokenizers");
        if (!cJSON_IsArray(a)) JFAIL(j, "%s: pre_tokenizer Sequence has no pretokenizers", j->path);
        pt->seq = cf__calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(cf__pretok));
        if (!pt->seq) JNOMEM(j);
        for (const cJSON *e = a->child; e; e = e->next) {
            bool ok = pretok(j, e, &pt->seq[pt->n_seq], depth + 1);
            pt->n_seq++;
            if (!ok) return false;
        }
    } else {
        JUNSUP(j, "%s: pre-tokenizer type '%.40s' is not supported", j->path, t);
    }
    return true;
}

// ---- models ----

static bool model_bpe(jctx *j, const cJSON *o, cf__model *m) {
    const char *w = "model";
    m->type = CF_MODEL_BPE;
    m->unk_id = -1;
    const cJSON *dr = get(o, "dropout");
    if (cJSON_IsNumber(dr) && dr->valuedouble > 0)
        JUNSUP(j, "%s: BPE dropout (a training option) is not supported", j->path);
    char *unk = NULL;
    if (!opt_str(j, o, "unk_token", &unk, NULL, w) ||
        !opt_str(j, o, "continuing_subword_prefix", &m->cont_prefix, &m->cont_len, w) ||
        !opt_str(j, o, "end_of_word_suffix", &m->eow_suffix, &m->eow_len, w) ||
        !opt_bool(j, o, "fuse_unk", &m->fuse_unk, w) ||
        !opt_bool(j, o, "byte_fallback", &m->byte_fallback, w) ||
        !opt_bool(j, o, "ignore_merges", &m->ignore_merges, w)) {
        cf__free(unk);
        return false;
    }
    const cJSON *v = get(o, "vocab"), *mg = get(o, "merges");
    if (!cJSON_IsObject(v) || !cJSON_IsArray(mg)) {
        cf__free(unk);
        JFAIL(j, "%s: BPE model needs a vocab object and a merges list", j->path);
    }
    for (const cJSON *e = v->child; e; e = e->next) {
        int64_t id;
        if (!json_int(e, CF_TOK_MAX_VOCAB, &id)) {
            cf__free(unk);
            JFAIL(j, "%s: model.vocab['%.40s'] is not an id in [0, 2^24)", j->path, e->string);
        }
        if (!cf__vocab_set(&m->vocab, (int32_t)id, e->string, strlen(e->string), true)) {
            cf__free(unk);
            JNOMEM(j);
        }
    }
    if (unk) {
        m->unk_id = cf__vocab_id(&m->vocab, unk, strlen(unk));
        cf__free(unk);
    }
    int32_t rank = 0;
    char err[200];
    bool oom = false;
    for (const cJSON *e = mg->child; e; e = e->next, rank++) {
        const char *a, *b;
        size_t na, nb;
        if (cJSON_IsString(e)) {
            const char *s = e->valuestring, *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' '))
                JFAIL(j, "%s: model.merges[%d] '%.40s' is not two pieces split by a space",
                      j->path, rank, s);
            a = s;
            na = (size_t)(sp - s);
            b = sp + 1;
            nb = strlen(b);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) &&
                   cJSON_IsString(e->child->next)) {
            a = e->child->valuestring;
            na = strlen(a);
            b = e->child->next->valuestring;
            nb = strlen(b);
        } else {
            JFAIL(j, "%s: model.merges[%d] is neither \"a b\" nor [a, b]", j->path, rank);
        }
        if (!cf__bpe_add_merge(m, a, na, b, nb, rank, err, sizeof err, &oom)) {
            if (oom) JNOMEM(j);
            JFAIL(j, "%s: model.%s", j->path, err);
        }
    }
    cf__model_find_bytes(m);
    return true;
}

static bool model_wordpiece(jctx *j, const cJSON *o, cf__model *m, bool level) {
    const char *w = "model";
    m->type = level ? CF_MODEL_WORDLEVEL : CF_MODEL_WORDPIECE;
    m->unk_id = -1;
    char *unk = NULL;
    int64_t maxc = 100;
    if (!opt_str(j, o, "unk_token", &unk, NULL, w)) return false;
    if (!level && (!opt_str(j, o, "continuing_subword_prefix", &m->cont_prefix, &m->cont_len, w) ||
                   !opt_int(j, o, "max_input_chars_per_word", &maxc, 1e9, w))) {
        cf__free(unk);
        return false;
    }
    if (!level && !m->cont_prefix) {
        m->cont_prefix = cf__strdup("##");
        m->cont_len = 2;
        if (!m->cont_prefix) {
            cf__free(unk);
            JNOMEM(j);
        }
    }
    m->max_chars = (int32_t)maxc;
    const cJSON *v = get(o, "vocab");
    if (!cJSON_IsObject(v)) {
        cf__free(unk);
        JFAIL(j, "%s: model needs a vocab object", j->path);
    }
    for (const cJSON *e = v->child; e; e = e->next) {
        int64_t id;
        if (!json_int(e, CF_TOK_MAX_VOCAB, &id)) {
            cf__free(unk);
            JFAIL(j, "%s: model.vocab['%.40s'] is not an id in [0, 2^24)", j->path, e->string);
        }
        if (!cf__vocab_set(&m->vocab, (int32_t)id, e->string, strlen(e->string), true)) {
            cf__free(unk);
            JNOMEM(j);
        }
    }
    const char *u = unk ? unk : "[UNK]";
    m->unk_id = cf__vocab_id(&m->vocab, u, strlen(u));
    cf__free(unk);
    return true;
}

static bool model_unigram(jctx *j, const cJSON *o, cf__model *m) {
    m->type = CF_MODEL_UNIGRAM;
    m->unk_id = -1;
    if (!opt_bool(j, o, "byte_fallback", &m->byte_fallback, "model")) return false;
    const cJSON *v = get(o, "vocab");
    if (!cJSON_IsArray(v)) JFAIL(j, "%s: Unigram model needs a vocab list", j->path);
    int n = cJSON_GetArraySize(v);
    if (n <= 0 || n > CF_TOK_MAX_VOCAB) JFAIL(j, "%s: Unigram vocab has %d pieces", j->path, n);
    m->scores = cf__malloc((size_t)n * sizeof(double));
    if (!m->scores) JNOMEM(j);
    int32_t id = 0;
    for (const cJSON *e = v->child; e; e = e->next, id++) {
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(e->child) ||
            !cJSON_IsNumber(e->child->next))
            JFAIL(j, "%s: model.vocab[%d] is not [piece, score]", j->path, id);
        const char *p = e->child->valuestring;
        m->scores[id] = e->child->next->valuedouble;
        if (!cf__vocab_set(&m->vocab, id, p, strlen(p), true)) JNOMEM(j);
    }
    const cJSON *u = get(o, "unk_id");
    if (u && !cJSON_IsNull(u)) {
        int64_t uid;
        if (!json_int(u, n, &uid))
            JFAIL(j, "%s: model.unk_id is not an id below the vocabulary size %d", j->path, n);
        m->unk_id = (int32_t)uid;
    }
    cf__model_find_bytes(m);
    if (!cf__unigram_build(m)) JNOMEM(j);
    return true;
}

static bool model(jctx *j, const cJSON *o, cf__model *m) {
    if (!cJSON_IsObject(o)) JFAIL(j, "%s: no model object", j->path);
    const char *t = type_of(o);
    if (!t) {  // old files: the fields tell the model
        const cJSON *v = get(o, "vocab");
        if (get(o, "merges")) t = "BPE";
        else if (cJSON_IsArray(v)) t = "Unigram";
        else if (get(o, "continuing_subword_prefix") || get(o, "max_input_chars_per_word"))
            t = "WordPiece";
        else t = "WordLevel";
    }
    if (!strcmp(t, "BPE")) return model_bpe(j, o, m);
    if (!strcmp(t, "WordPiece")) return model_wordpiece(j, o, m, false);
    if (!strcmp(t, "WordLevel")) return model_wordpiece(j, o, m, true);
    if (!strcmp(t, "Unigram")) return model_unigram(j, o, m);
    JUNSUP(j, "%s: model type '%.40s' is not supported", j->path, t);
}

// ---- post-processors ----

static bool id_pair(jctx *j, const cJSON *o, const char *k, int32_t *id) {
    const cJSON *x = get(o, k);
    int64_t v;
    if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 2 || !cJSON_IsString(x->child) ||
        !json_int(x->child->next, CF_TOK_MAX_VOCAB, &v))
        JFAIL(j, "%s: post_processor.%s is not [token, id]", j->path, k);
    *id = (int32_t)v;
    return true;
}

static bool template(jctx *j, const cJSON *o, const char *k, cf__tpl_piece **out, int *n,
                     const cJSON *specials) {
    const cJSON *a = get(o, k);
    if (!cJSON_IsArray(a)) JFAIL(j, "%s: post_processor.%s is not a list", j->path, k);
    int cnt = cJSON_GetArraySize(a);
    if (cnt > 32) JUNSUP(j, "%s: post_processor.%s has %d pieces", j->path, k, cnt);
    *out = cf__calloc((size_t)cnt + 1, sizeof(cf__tpl_piece));
    if (!*out) JNOMEM(j);
    for (const cJSON *e = a->child; e; e = e->next) {
        cf__tpl_piece *p = &(*out)[(*n)++];
        const cJSON *sq = get(e, "Sequence"), *sp = get(e, "SpecialToken");
        const cJSON *body = sq ? sq : sp;
        const cJSON *id = get(body, "id");
        int64_t tid = 0;
        if (!body || !cJSON_IsString(id) || !json_int(get(body, "type_id"), 1 << 20, &tid))
            JFAIL(j, "%s: post_processor.%s has a bad piece", j->path, k);
        p->type_id = (int32_t)tid;
        if (sq) {
            p->is_seq = 1;
            p->seq = !strcmp(id->valuestring, "A") ? 0 : 1;
            continue;
        }
        const cJSON *st = get(specials, id->valuestring);
        const cJSON *ids = get(st, "ids");
        if (!cJSON_IsArray(ids))
            JFAIL(j, "%s: post_processor special token '%.40s' is not defined", j->path,
                  id->valuestring);
        int ni = cJSON_GetArraySize(ids);
        if (ni > 64) JUNSUP(j, "%s: special token '%.40s' has %d ids", j->path, id->valuestring, ni);
        p->ids = cf__malloc(((size_t)ni + 1) * sizeof(int32_t));
        if (!p->ids) JNOMEM(j);
        for (const cJSON *x = ids->child; x; x = x->next) {
            int64_t v;
            if (!json_int(x, CF_TOK_MAX_VOCAB, &v))
                JFAIL(j, "%s: special token '%.40s' has a bad id", j->path, id->valuestring);
            p->ids[p->n_ids++] = (int32_t)v;
        }
    }
    return true;
}

static bool post(jctx *j, const cJSON *o, cf__post *pp, int depth) {
    const char *w = "post_processor";
    const char *t = type_of(o);
    if (!t) JFAIL(j, "%s: a post-processor has no type", j->path);
    if (depth > CF_TOK_MAX_DEPTH) JFAIL(j, "%s: post-processors nested too deeply", j->path);
    if (!strcmp(t, "BertProcessing")) {
        pp->type = CF_POST_BERT;
        return id_pair(j, o, "sep", &pp->sep_id) && id_pair(j, o, "cls", &pp->cls_id);
    }
    if (!strcmp(t, "RobertaProcessing")) {
        pp->type = CF_POST_ROBERTA;
        pp->trim_offsets = pp->add_prefix_space = true;
        return id_pair(j, o, "sep", &pp->sep_id) && id_pair(j, o, "cls", &pp->cls_id) &&
               opt_bool(j, o, "trim_offsets", &pp->trim_offsets, w) &&
               opt_bool(j, o, "add_prefix_space", &pp->add_prefix_space, w);
    }
    if (!strcmp(t, "ByteLevel")) {
        pp->type = CF_POST_BYTELEVEL;
        pp->trim_offsets = pp->add_prefix_space = true;
        return opt_bool(j, o, "trim_offsets", &pp->trim_offsets, w) &&
               opt_bool(j, o, "add_prefix_space", &pp->add_prefix_space, w);
    }
    if (!strcmp(t, "TemplateProcessing")) {
        pp->type = CF_POST_TEMPLATE;
        const cJSON *sp = get(o, "special_tokens");
        return template(j, o, "single", &pp->single, &pp->n_single, sp) &&
               template(j, o, "pair", &pp->pair, &pp->n_pair, sp);
    }
    if (!strcmp(t, "Sequence")) {
        pp->type = CF_POST_SEQUENCE;
        const cJSON *a = get(o, "processors");
        if (!cJSON_IsArray(a)) JFAIL(j, "%s: post_processor Sequence has no processors", j->path);
        pp->seq = cf__calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(cf__post));
        if (!pp->seq) JNOMEM(j);
        for (const cJSON *e = a->child; e; e = e->next) {
            bool ok = post(j, e, &pp->seq[pp->n_seq], depth + 1);
            pp->n_seq++;
            if (!ok) return false;
        }
        return true;
    }
    JUNSUP(j, "%s: post-processor type '%.40s' is not supported", j->path, t);
}

// ---- decoders ----

static bool decoder(jctx *j, const cJSON *o, cf__decoder *d, int depth) {
    const char *w = "decoder";
    const char *t = type_of(o);
    if (!t) JFAIL(j, "%s: a decoder has no type", j->path);
    if (depth > CF_TOK_MAX_DEPTH) JFAIL(j, "%s: decoders nested too deeply", j->path);
    if (!strcmp(t, "ByteLevel")) d->type = CF_DEC_BYTELEVEL;
    else if (!strcmp(t, "ByteFallback")) d->type = CF_DEC_BYTEFALLBACK;
    else if (!strcmp(t, "Fuse")) d->type = CF_DEC_FUSE;
    else if (!strcmp(t, "WordPiece")) {
        d->type = CF_DEC_WORDPIECE;
        d->cleanup = true;
        if (!opt_str(j, o, "prefix", &d->str, &d->str_len, w) ||
            !opt_bool(j, o, "cleanup", &d->cleanup, w))
            return false;
        if (!d->str && !(d->str = cf__strdup("##"))) JNOMEM(j);
        d->str_len = strlen(d->str);
    } else if (!strcmp(t, "Metaspace")) {
        d->type = CF_DEC_METASPACE;
        if (!one_char(j, o, "replacement", &d->replacement, w) ||
            !prepend_scheme(j, o, &d->prepend_scheme, w))
            return false;
    } else if (!strcmp(t, "BPEDecoder")) {
        d->type = CF_DEC_BPE;
        if (!opt_str(j, o, "suffix", &d->str, &d->str_len, w)) return false;
        if (!d->str && !(d->str = cf__strdup("</w>"))) JNOMEM(j);
        d->str_len = strlen(d->str);
    } else if (!strcmp(t, "Strip")) {
        d->type = CF_DEC_STRIP;
        int64_t a = 0, b = 0;
        if (!one_char(j, o, "content", &d->strip_char, w) ||
            !opt_int(j, o, "start", &a, 1 << 20, w) || !opt_int(j, o, "stop", &b, 1 << 20, w))
            return false;
        d->strip_start = (int)a;
        d->strip_stop = (int)b;
    } else if (!strcmp(t, "Replace")) {
        d->type = CF_DEC_REPLACE;
        if (!pattern(j, o, &d->re, w) || !opt_str(j, o, "content", &d->str, &d->str_len, w))
            return false;
        if (!d->str) JFAIL(j, "%s: decoder Replace has no content", j->path);
    } else if (!strcmp(t, "CTC")) {
        d->type = CF_DEC_CTC;
        d->cleanup = true;
        if (!opt_str(j, o, "pad_token", &d->str, &d->str_len, w) ||
            !opt_str(j, o, "word_delimiter_token", &d->str2, &d->str2_len, w) ||
            !opt_bool(j, o, "cleanup", &d->cleanup, w))
            return false;
        if (!d->str && !(d->str = cf__strdup("<pad>"))) JNOMEM(j);
        if (!d->str2 && !(d->str2 = cf__strdup("|"))) JNOMEM(j);
        d->str_len = strlen(d->str);
        d->str2_len = strlen(d->str2);
    } else if (!strcmp(t, "Sequence")) {
        if (depth > 0) JUNSUP(j, "%s: nested decoder sequences are not supported", j->path);
        d->type = CF_DEC_SEQUENCE;
        const cJSON *a = get(o, "decoders");
        if (!cJSON_IsArray(a)) JFAIL(j, "%s: decoder Sequence has no decoders", j->path);
        d->seq = cf__calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(cf__decoder));
        if (!d->seq) JNOMEM(j);
        for (const cJSON *e = a->child; e; e = e->next) {
            bool ok = decoder(j, e, &d->seq[d->n_seq], depth + 1);
            d->n_seq++;
            if (!ok) return false;
        }
    } else {
        JUNSUP(j, "%s: decoder type '%.40s' is not supported", j->path, t);
    }
    return true;
}

// ---- added tokens and the whole file ----

// AddedVocabulary::add_tokens over the file's list, in one call as the library makes it: ids
// in file order (an existing piece keeps its id, new ones count up from the model's vocabulary
// size), then specials first and the others after, each in file order, for matching.
static bool added_tokens(jctx *j, const cJSON *a, cf__hf *h) {
    if (!a || cJSON_IsNull(a)) return true;
    if (!cJSON_IsArray(a)) JFAIL(j, "%s: added_tokens is not a list", j->path);
    int count = cJSON_GetArraySize(a);
    if (count > CF_TOK_MAX_VOCAB) JFAIL(j, "%s: too many added tokens", j->path);
    int32_t *ids = cf__malloc(((size_t)count + 1) * sizeof(int32_t));
    if (!ids) JNOMEM(j);
    int32_t next_id = h->model.type == CF_MODEL_UNIGRAM ? h->model.vocab.n
                                                         : (int32_t)h->model.vocab.map.n;
    int idx = 0;
    bool ok = true;
    for (const cJSON *e = a->child; e && ok; e = e->next, idx++) {
        const cJSON *c = get(e, "content");
        ids[idx] = -1;
        if (!cJSON_IsString(c)) {
            j->st = CF_FORMAT_ERR(j->ctx, "%s: added_tokens[%d] has no content", j->path, idx);
            ok = false;
            break;
        }
        size_t n = strlen(c->valuestring);
        if (n == 0) continue;
        if (n > CF_TOK_MAX_PIECE) {
            j->st = CF_FORMAT_ERR(j->ctx, "%s: added_tokens[%d] is %zu bytes long", j->path,
                                  idx, n);
            ok = false;
            break;
        }
        // Earlier tokens of this list count as existing.
        int32_t id = -1;
        const cJSON *p = a->child;
        for (int k = 0; k < idx; k++, p = p->next)
            if (ids[k] >= 0 && !strcmp(get(p, "content")->valuestring, c->valuestring)) {
                id = ids[k];
                break;
            }
        if (id < 0) id = cf__vocab_id(&h->model.vocab, c->valuestring, n);
        if (id < 0) id = next_id++;
        ids[idx] = id;
    }
    for (int pass = 0; pass < 2 && ok; pass++) {
        idx = 0;
        for (const cJSON *e = a->child; e && ok; e = e->next, idx++) {
            if (ids[idx] < 0) continue;
            const char *c = get(e, "content")->valuestring;
            bool special = false, sw = false, ls = false, rs = false, norm = true;
            ok = opt_bool(j, e, "special", &special, "added_tokens") &&
                 opt_bool(j, e, "single_word", &sw, "added_tokens") &&
                 opt_bool(j, e, "lstrip", &ls, "added_tokens") &&
                 opt_bool(j, e, "rstrip", &rs, "added_tokens") &&
                 opt_bool(j, e, "normalized", &norm, "added_tokens");
            if (!ok || special != (pass == 0)) continue;
            size_t n = strlen(c);
            bool dup = false;
            for (int k = 0; k < h->n_added && !dup; k++)
                dup = h->added[k].len == n && !memcmp(h->added[k].content, c, n);
            if (dup) continue;
            if (!cf__hf_add_token(h, c, n, ids[idx], special, sw, ls, rs, norm)) {
                j->st = CF_NOMEM(j->ctx);
                ok = false;
            }
        }
    }
    cf__free(ids);
    return ok;
}

// The ids a post-processor adds must be ids of the vocabulary (the library would emit them
// anyway; cformer promises every id is below the vocabulary size).
static int32_t post_max_id(const cf__post *pp) {
    int32_t m = -1;
    if (pp->type == CF_POST_BERT || pp->type == CF_POST_ROBERTA)
        m = pp->cls_id > pp->sep_id ? pp->cls_id : pp->sep_id;
    for (int k = 0; k < pp->n_single; k++)
        for (int i = 0; i < pp->single[k].n_ids; i++)
            if (pp->single[k].ids[i] > m) m = pp->single[k].ids[i];
    for (int k = 0; k < pp->n_pair; k++)
        for (int i = 0; i < pp->pair[k].n_ids; i++)
            if (pp->pair[k].ids[i] > m) m = pp->pair[k].ids[i];
    for (int k = 0; k < pp->n_seq; k++) {
        int32_t x = post_max_id(&pp->seq[k]);
        if (x > m) m = x;
    }
    return m;
}

cf_status cf__tokenizer_parse_json(cf_ctx *ctx, const char *path, const uint8_t *data,
                                   size_t size, cf_tokenizer **out) {
    *out = NULL;
    jctx j = {ctx, path, CF_OK};
    if (size > CF_TOK_MAX_FILE) return CF_FORMAT_ERR(ctx, "%s: %zu bytes is too large", path, size);
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!root || !cJSON_IsObject(root)) {
        const char *ep = cJSON_GetErrorPtr();
        size_t at = ep && ep >= (const char *)data && ep <= (const char *)data + size
                        ? (size_t)(ep - (const char *)data)
                        : 0;
        cJSON_Delete(root);
        return CF_FORMAT_ERR(ctx, "%s: not a JSON object (error near byte %zu)", path, at);
    }
    cf_tokenizer *t = cf__tokenizer_new(ctx, CF_TOK_JSON);
    cf__hf *h = cf__calloc(1, sizeof *h);
    if (!t || !h) {
        cf__free(h);
        cf_tokenizer_free(t);
        cJSON_Delete(root);
        return CF_NOMEM(ctx);
    }
    t->hf = h;
    const cJSON *ver = get(root, "version");
    if (ver && (!cJSON_IsString(ver) || strcmp(ver->valuestring, "1.0")))
        j.st = CF_FORMAT_ERR(ctx, "%s: unknown tokenizer.json version (want \"1.0\")", path);
    const cJSON *x;
    if (j.st == CF_OK) model(&j, get(root, "model"), &h->model);
    if (j.st == CF_OK && (x = get(root, "normalizer")) && !cJSON_IsNull(x)) {
        if (!(h->norm = cf__calloc(1, sizeof *h->norm))) j.st = CF_NOMEM(ctx);
        else normalizer(&j, x, h->norm, 0);
    }
    if (j.st == CF_OK && (x = get(root, "pre_tokenizer")) && !cJSON_IsNull(x)) {
        if (!(h->pre = cf__calloc(1, sizeof *h->pre))) j.st = CF_NOMEM(ctx);
        else pretok(&j, x, h->pre, 0);
    }
    if (j.st == CF_OK && (x = get(root, "post_processor")) && !cJSON_IsNull(x)) {
        if (!(h->post = cf__calloc(1, sizeof *h->post))) j.st = CF_NOMEM(ctx);
        else post(&j, x, h->post, 0);
    }
    if (j.st == CF_OK && (x = get(root, "decoder")) && !cJSON_IsNull(x)) {
        if (!(h->dec = cf__calloc(1, sizeof *h->dec))) j.st = CF_NOMEM(ctx);
        else decoder(&j, x, h->dec, 0);
    }
    if (j.st == CF_OK) added_tokens(&j, get(root, "added_tokens"), h);
    if (j.st == CF_OK && !cf__hf_refresh(h)) j.st = CF_NOMEM(ctx);
    if (j.st == CF_OK && h->post && post_max_id(h->post) >= h->n_vocab)
        j.st = CF_FORMAT_ERR(ctx, "%s: post_processor adds id %d, beyond the vocabulary of %d",
                             path, post_max_id(h->post), h->n_vocab);
    cJSON_Delete(root);
    if (j.st != CF_OK) {
        cf_tokenizer_free(t);
        return j.st;
    }
    t->n_vocab = h->n_vocab;
    *out = t;
    return CF_OK;
}
