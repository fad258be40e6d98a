// The tokenizer API: loading (the format is chosen by file name and content, a folder is
// searched), and the dispatch of encode / decode to the byte tokenizer, llama2.c
// (llama2c.c), the Hugging Face pipeline (pipeline.c, for tokenizer.json, GPT-2 and BERT files)
// and SentencePiece (sentencepiece.c).
//
// Invalid UTF-8 reaches the pipeline as U+FFFD per maximal invalid subpart, the way the
// reference receives text (Rust's from_utf8_lossy, JavaScript's TextDecoder); the offsets of
// the result are mapped back to the caller's bytes. SentencePiece takes the raw bytes (it
// replaces each invalid byte itself).
//
// Not here: any format's parsing or any algorithm.
#include <cJSON.h>  // defines: cJSON_ParseWithLength (tokenizer_config.json)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

cf_tokenizer *cf__tokenizer_new(cf_ctx *ctx, int kind) {
    cf_tokenizer *t = cf__calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ctx = ctx;
    t->kind = kind;
    t->bos = t->eos = -1;
    return t;
}

cf_status cf_tokenizer_create_byte(cf_ctx *ctx, cf_tokenizer **out) {
    cf_tokenizer *t = cf__tokenizer_new(ctx, CF_TOK_BYTE);
    if (!t) return CF_NOMEM(ctx);
    t->n_vocab = 256;
    *out = t;
    return CF_OK;
}

void cf_tokenizer_free(cf_tokenizer *t) {
    if (!t) return;
    cf__hf_free(t->hf);
    cf__spm_free(t->spm);
    cf__l2c_free(t->l2c);
    cf__free(t->clean);
    cf__free(t->orig);
    cf__free(t->toks);
    cf__free(t->ptok);
    cf__free(t);
}

// ---- loading ----

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

// The folder of a path ("." for a bare name), into buf.
static void dir_of(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, cap, ".");
    else snprintf(buf, cap, "%.*s", (int)(slash - path), path);
    if (!*buf) snprintf(buf, cap, "/");
}

// Does the JSON text have "model": { at some point (tokenizer.json, not a piece -> id map)?
static bool has_model_object(const uint8_t *d, size_t n) {
    static const char key[] = "\"model\"";
    for (size_t i = 0; i + sizeof key - 1 < n; i++) {
        if (d[i] != '"' || memcmp(d + i, key, sizeof key - 1)) continue;
        size_t k = i + sizeof key - 1;
        while (k < n && (d[k] == ' ' || d[k] == '\n' || d[k] == '\r' || d[k] == '\t')) k++;
        if (k < n && d[k] == ':') {
            k++;
            while (k < n && (d[k] == ' ' || d[k] == '\n' || d[k] == '\r' || d[k] == '\t')) k++;
            if (k < n && d[k] == '{') return true;
        }
    }
    return false;
}

// do_lower_case from the folder's tokenizer_config.json; else whether the vocabulary has no
// upper-case letters outside [SPECIAL] pieces (bert-base-uncased has none, cased ones many).
static bool bert_lowercase(cf_ctx *ctx, const char *path, const uint8_t *d, size_t n) {
    char dir[4096], *cfg;
    dir_of(path, dir, sizeof dir);
    char *cp = cf__path_join(dir, "tokenizer_config.json");
    size_t sz;
    if (cp && cf__file_exists(cp) && cf__file_read(ctx, cp, 1 << 20, &cfg, &sz) == CF_OK) {
        cJSON *j = cJSON_ParseWithLength(cfg, sz);
        const cJSON *lc = cJSON_GetObjectItemCaseSensitive(j, "do_lower_case");
        int v = cJSON_IsBool(lc) ? cJSON_IsTrue(lc) : -1;
        cJSON_Delete(j);
        cf__free(cfg);
        if (v >= 0) {
            cf__free(cp);
            return v;
        }
    }
    cf__free(cp);
    bool at_line_start = true, in_special = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = d[i];
        if (c == '\n') {
            at_line_start = true;
            in_special = false;
            continue;
        }
        if (at_line_start) in_special = c == '[';
        at_line_start = false;
        if (!in_special && c >= 'A' && c <= 'Z') return false;
    }
    return true;
}

static cf_status load_gpt2(cf_ctx *ctx, const char *vocab_path, const char *merges_path,
                           cf_tokenizer **out) {
    cf_file v, m;
    CF_TRY(cf__file_map(ctx, vocab_path, &v));
    cf_status st = cf__file_map(ctx, merges_path, &m);
    if (st == CF_OK) {
        st = cf__tokenizer_parse_gpt2(ctx, vocab_path, v.data, v.size, merges_path, m.data,
                                      m.size, out);
        cf__file_unmap(&m);
    }
    cf__file_unmap(&v);
    return st;
}

static cf_status load_file(cf_ctx *ctx, const char *path, int32_t vocab_size,
                           cf_tokenizer **out) {
    cf_file f;
    CF_TRY(cf__file_map(ctx, path, &f));
    cf_status st;
    size_t k = 0;
    while (k < f.size && (f.data[k] == ' ' || f.data[k] == '\n' || f.data[k] == '\r' ||
                          f.data[k] == '\t'))
        k++;
    if (ends_with(path, ".bin")) {
        st = cf__tokenizer_parse_llama2c(ctx, path, f.data, f.size, vocab_size, out);
    } else if (k < f.size && f.data[k] == '{') {
        if (has_model_object(f.data, f.size)) {
            st = cf__tokenizer_parse_json(ctx, path, f.data, f.size, out);
        } else {
            // A piece -> id map: GPT-2's encoder.json (vocab.bpe beside it) or vocab.json
            // (merges.txt beside it).
            char dir[4096];
            dir_of(path, dir, sizeof dir);
            char *a = cf__path_join(dir, "vocab.bpe"), *b = cf__path_join(dir, "merges.txt");
            if (!a || !b) st = CF_NOMEM(ctx);
            else if (cf__file_exists(a)) st = load_gpt2(ctx, path, a, out);
            else if (cf__file_exists(b)) st = load_gpt2(ctx, path, b, out);
            else st = CF_ERR(ctx, CF_ERR_IO, "%s: a vocabulary without its merges (vocab.bpe or "
                             "merges.txt in %s)", path, dir);
            cf__free(a);
            cf__free(b);
        }
    } else if (ends_with(path, ".txt")) {
        st = cf__tokenizer_parse_vocab_txt(ctx, path, f.data, f.size,
                                           bert_lowercase(ctx, path, f.data, f.size), out);
    } else if (ends_with(path, ".model") || ends_with(path, ".spm") ||
               (f.size > 0 && f.data[0] == 0x0A)) {
        st = cf__tokenizer_parse_spm(ctx, path, f.data, f.size, out);
    } else {
        st = cf__tokenizer_parse_llama2c(ctx, path, f.data, f.size, vocab_size, out);
    }
    cf__file_unmap(&f);
    return st;
}

static cf_status load_dir(cf_ctx *ctx, const char *dir, int32_t vocab_size, cf_tokenizer **out) {
    static const char *const singles[] = {
        "tokenizer.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
        "source.spm", NULL,
    };
    for (int k = 0; singles[k]; k++) {
        char *p = cf__path_join(dir, singles[k]);
        if (!p) return CF_NOMEM(ctx);
        if (cf__file_exists(p)) {
            cf_status st = load_file(ctx, p, vocab_size, out);
            cf__free(p);
            return st;
        }
        cf__free(p);
    }
    static const char *const pairs[][2] = {{"encoder.json", "vocab.bpe"},
                                           {"vocab.json", "merges.txt"}};
    for (int k = 0; k < 2; k++) {
        char *a = cf__path_join(dir, pairs[k][0]), *b = cf__path_join(dir, pairs[k][1]);
        cf_status st = CF_ERR_IO;
        bool found = a && b && cf__file_exists(a) && cf__file_exists(b);
        if (found) st = load_gpt2(ctx, a, b, out);
        cf__free(a);
        cf__free(b);
        if (!a || !b) return CF_NOMEM(ctx);
        if (found) return st;
    }
    static const char *const rest[] = {"vocab.txt", "tokenizer.bin", NULL};
    for (int k = 0; rest[k]; k++) {
        char *p = cf__path_join(dir, rest[k]);
        if (!p) return CF_NOMEM(ctx);
        if (cf__file_exists(p)) {
            cf_status st = load_file(ctx, p, vocab_size, out);
            cf__free(p);
            return st;
        }
        cf__free(p);
    }
    return CF_ERR(ctx, CF_ERR_IO, "%s: no tokenizer file found in it (tokenizer.json, *.model, "
                  "encoder.json + vocab.bpe, vocab.txt, tokenizer.bin)", dir);
}

cf_status cf_tokenizer_load(cf_ctx *ctx, const char *path, int32_t vocab_size,
                            cf_tokenizer **out) {
    *out = NULL;
    if (!strcmp(path, "byte")) {
        if (vocab_size > 0 && vocab_size < 256)
            return CF_ERR(ctx, CF_ERR_INVALID_ARG,
                          "byte tokenizer needs a vocabulary of at least 256, the model has %d",
                          vocab_size);
        return cf_tokenizer_create_byte(ctx, out);
    }
    cf_status st = cf__is_dir(path) ? load_dir(ctx, path, vocab_size, out)
                                    : load_file(ctx, path, vocab_size, out);
    if (st != CF_OK) return st;
    if (vocab_size > 0 && (*out)->n_vocab > vocab_size) {
        int32_t n = (*out)->n_vocab;
        cf_tokenizer_free(*out);
        *out = NULL;
        return CF_ERR(ctx, CF_ERR_INVALID_ARG,
                      "%s: the tokenizer has %d ids, but the model a vocabulary of %d", path, n,
                      vocab_size);
    }
    return CF_OK;
}

int32_t cf_tokenizer_vocab_size(const cf_tokenizer *t) { return t->n_vocab; }
int32_t cf_tokenizer_bos(const cf_tokenizer *t) { return t->bos; }
int32_t cf_tokenizer_eos(const cf_tokenizer *t) { return t->eos; }
const char *cf_tokenizer_kind(const cf_tokenizer *t) {
    static const char *const names[] = {"byte", "llama2.c", "tokenizer.json", "sentencepiece",
                                        "gpt2", "wordpiece"};
    return names[t->kind];
}

// ---- encoding ----

int64_t cf_utf8_invalid_count(const char *s, size_t n) {
    if (!s || cf__utf8_valid(s, n)) return 0;
    const uint8_t *u = (const uint8_t *)s;
    int64_t bad = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = cf__utf8_next(u + i, n - i, &cp);
        if (!l) {
            l = cf__utf8_invalid_len(u + i, n - i);
            bad++;
        }
        i += (size_t)l;
    }
    return bad;
}

// Copies text into t->clean with each maximal invalid UTF-8 subpart replaced by U+FFFD, and
// t->orig[i] = the original offset of clean byte i (orig[len] = the text's length).
static bool sanitize(cf_tokenizer *t, const char *text, size_t len, const char **clean,
                     size_t *clen) {
    size_t cap;
    if (!cf__mul_ok(len, 3, &cap) || !cf__add_ok(cap, 4, &cap)) return false;
    if (t->clean_cap < cap) {
        char *c = cf__malloc(cap);
        uint32_t *o = cf__malloc(cap * sizeof(uint32_t));
        if (!c || !o) {
            cf__free(c);
            cf__free(o);
            return false;
        }
        cf__free(t->clean);
        cf__free(t->orig);
        t->clean = c;
        t->orig = o;
        t->clean_cap = cap;
    }
    const uint8_t *u = (const uint8_t *)text;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int l = cf__utf8_next(u + i, len - i, &cp);
        if (l) {
            for (int k = 0; k < l; k++) {
                t->clean[w] = text[i + (size_t)k];
                t->orig[w++] = (uint32_t)(i + (size_t)k);
            }
            i += (size_t)l;
            continue;
        }
        int bad = cf__utf8_invalid_len(u + i, len - i);
        memcpy(t->clean + w, "\xEF\xBF\xBD", 3);
        for (int k = 0; k < 3; k++) t->orig[w++] = (uint32_t)i;
        i += (size_t)bad;
    }
    t->orig[w] = (uint32_t)len;
    *clean = t->clean;
    *clen = w;
    return true;
}

// Encodes one sequence of an HF pipeline into t->ptok[*n0 ..] with original offsets.
static cf_status hf_seq(cf_tokenizer *t, const char *text, size_t len, size_t *n0, size_t *n) {
    cf_ctx *ctx = t->ctx;
    if (len >= UINT32_MAX / 4)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "text of %zu bytes is too long", len);
    const char *s = text;
    size_t sl = len;
    bool dirty = !cf__utf8_valid(text, len);
    if (dirty && !sanitize(t, text, len, &s, &sl)) return CF_NOMEM(ctx);
    cf__ptok *tok = NULL;
    size_t nt = 0, cap = 0;
    int rc = cf__hf_encode(t->hf, s, sl, &tok, &nt, &cap);
    if (rc) {
        cf__free(tok);
        return rc == CF_MODEL_OOM ? CF_NOMEM(ctx)
                                  : CF_ERR(ctx, CF_ERR_FORMAT, "the tokenizer has no usable "
                                           "unknown token for a word of this text");
    }
    if (!cf__grow((void **)&t->ptok, &t->cap_ptok, *n0 + nt + 1, sizeof(cf__ptok))) {
        cf__free(tok);
        return CF_NOMEM(ctx);
    }
    for (size_t i = 0; i < nt; i++) {
        cf__ptok p = tok[i];
        if (dirty) {
            p.start = p.start <= sl ? t->orig[p.start] : (uint32_t)len;
            p.end = p.end <= sl ? t->orig[p.end] : (uint32_t)len;
        }
        t->ptok[*n0 + i] = p;
    }
    cf__free(tok);
    *n = nt;
    return CF_OK;
}

static cf_status spm_seq(cf_tokenizer *t, const char *text, size_t len, bool add_special,
                         size_t *n0, size_t *n) {
    cf__ptok *tok = NULL;
    size_t nt = 0, cap = 0;
    if (len >= UINT32_MAX / 4)
        return CF_ERR(t->ctx, CF_ERR_INVALID_ARG, "text of %zu bytes is too long", len);
    if (!cf__spm_encode(t->spm, text, len, &tok, &nt, &cap)) {
        cf__free(tok);
        return CF_NOMEM(t->ctx);
    }
    if (!cf__grow((void **)&t->ptok, &t->cap_ptok, *n0 + nt + 3, sizeof(cf__ptok))) {
        cf__free(tok);
        return CF_NOMEM(t->ctx);
    }
    size_t w = *n0;
    bool bos = add_special && t->bos >= 0, eos = add_special && !bos && t->eos >= 0;
    if (bos) t->ptok[w++] = (cf__ptok){t->bos, 0, 0, 1};
    for (size_t i = 0; i < nt; i++) t->ptok[w++] = tok[i];
    if (eos) t->ptok[w++] = (cf__ptok){t->eos, (uint32_t)len, (uint32_t)len, 1};
    cf__free(tok);
    *n = w - *n0;
    return CF_OK;
}

cf_status cf_tokenizer_encode_tokens(cf_tokenizer *t, const char *text, size_t len,
                                     const char *pair, size_t pair_len, int add_special,
                                     cf_token *out, int64_t cap, int64_t *n_out) {
    cf_ctx *ctx = t->ctx;
    *n_out = 0;
    if (!text && len) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "text is NULL");
    if (!text) text = "";
    int64_t n = 0;
    if (t->kind == CF_TOK_BYTE || t->kind == CF_TOK_LLAMA2C) {
        for (int seq = 0; seq < (pair ? 2 : 1); seq++) {
            const char *s = seq ? pair : text;
            size_t sl = seq ? pair_len : len;
            int64_t got = 0, room = cap - n > 0 ? cap - n : 0;
            int32_t *ids = cf__malloc((sl + 4) * sizeof(int32_t));
            if (!ids) return CF_NOMEM(ctx);
            cf_status st;
            if (t->kind == CF_TOK_BYTE) {
                for (size_t i = 0; i < sl; i++) ids[i] = (uint8_t)s[i];
                got = (int64_t)sl;
                st = CF_OK;
            } else {
                st = cf__l2c_encode(t, s, sl, add_special, ids, (int64_t)sl + 4, &got);
            }
            if (st != CF_OK) {
                cf__free(ids);
                return st;
            }
            for (int64_t i = 0; i < got; i++) {
                if (i < room) {
                    bool byte = t->kind == CF_TOK_BYTE;
                    bool special = ids[i] == t->bos && !byte;
                    out[n + i] = (cf_token){ids[i], seq, special ? -1 : seq, special,
                                            byte ? i : 0, byte ? i + 1 : 0};
                }
            }
            n += got;
            cf__free(ids);
        }
    } else {
        size_t na = 0, nb = 0, n0 = 0;
        cf_status st = t->kind == CF_TOK_SPM ? spm_seq(t, text, len, add_special, &n0, &na)
                                             : hf_seq(t, text, len, &n0, &na);
        if (st == CF_OK && pair) {
            n0 = na;
            st = t->kind == CF_TOK_SPM ? spm_seq(t, pair, pair_len, add_special, &n0, &nb)
                                       : hf_seq(t, pair, pair_len, &n0, &nb);
        }
        if (st != CF_OK) return st;
        if (t->kind == CF_TOK_SPM) {
            for (size_t i = 0; i < na + nb; i++) {
                const cf__ptok *p = &t->ptok[i];
                int32_t seq = i < na ? 0 : 1;
                if (n < cap)
                    out[n] = (cf_token){p->id, seq, p->special ? -1 : seq, p->special, p->start,
                                        p->end};
                n++;
            }
        } else if (!cf__hf_post(t->hf, t->ptok, na, pair ? t->ptok + na : NULL, nb,
                                add_special != 0, out, cap, &n)) {
            return CF_NOMEM(ctx);
        }
    }
    *n_out = n;
    if (n > cap)
        return CF_ERR(ctx, CF_ERR_RANGE, "token buffer of %lld is too small (%lld needed)",
                      (long long)cap, (long long)n);
    return CF_OK;
}

cf_status cf_tokenizer_encode(cf_tokenizer *t, const char *text, size_t len, int add_special,
                              int32_t *ids, int64_t cap, int64_t *n_out) {
    if (t->kind == CF_TOK_LLAMA2C) return cf__l2c_encode(t, text, len, add_special, ids, cap, n_out);
    if (t->kind == CF_TOK_BYTE) {
        *n_out = (int64_t)len;
        if ((int64_t)len > cap)
            return CF_ERR(t->ctx, CF_ERR_RANGE, "token buffer of %lld is too small (%zu needed)",
                          (long long)cap, len);
        for (size_t i = 0; i < len; i++) ids[i] = (uint8_t)text[i];
        return CF_OK;
    }
    // Through the token path, into the scratch array.
    int64_t want = (int64_t)len + 8;
    for (;;) {
        if (!cf__grow((void **)&t->toks, &t->cap_toks, (size_t)want, sizeof(cf_token)))
            return CF_NOMEM(t->ctx);
        int64_t n;
        cf_status st = cf_tokenizer_encode_tokens(t, text, len, NULL, 0, add_special, t->toks,
                                                  (int64_t)t->cap_toks, &n);
        if (st == CF_ERR_RANGE && n > (int64_t)t->cap_toks) {
            want = n;
            continue;
        }
        if (st != CF_OK) return st;
        *n_out = n;
        for (int64_t i = 0; i < n && i < cap; i++) ids[i] = t->toks[i].id;
        if (n > cap)
            return CF_ERR(t->ctx, CF_ERR_RANGE, "token buffer of %lld is too small (%lld needed)",
                          (long long)cap, (long long)n);
        return CF_OK;
    }
}

// ---- decoding ----

static cf_status check_ids(const cf_tokenizer *t, const int32_t *ids, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return CF_ERR(t->ctx, CF_ERR_RANGE, "token id %d is outside [0, %d)", ids[i],
                          t->n_vocab);
    return CF_OK;
}

static cf_status emit(cf_tokenizer *t, const char *s, size_t n, char *buf, size_t cap,
                      size_t *n_out) {
    *n_out = n;
    if (n > cap)
        return CF_ERR(t->ctx, CF_ERR_RANGE, "text of %zu bytes exceeds the buffer of %zu", n, cap);
    if (n) memcpy(buf, s, n);
    return CF_OK;
}

cf_status cf_tokenizer_decode(cf_tokenizer *t, const int32_t *ids, int64_t n, int skip_special,
                              char *buf, size_t cap, size_t *n_out) {
    *n_out = 0;
    CF_TRY(check_ids(t, ids, n));
    char *text = NULL;
    size_t len = 0;
    bool ok = true;
    if (t->kind == CF_TOK_BYTE || t->kind == CF_TOK_LLAMA2C) {
        size_t w = 0;
        int32_t prev = -1;
        char piece[70000];
        for (int64_t i = 0; i < n; i++) {
            size_t pl;
            cf_status st = t->kind == CF_TOK_BYTE
                               ? (piece[0] = (char)ids[i], pl = 1, CF_OK)
                               : cf__l2c_decode_piece(t, prev, ids[i], piece, sizeof piece, &pl);
            if (st != CF_OK) return st;
            if (w + pl <= cap) memcpy(buf + w, piece, pl);
            w += pl;
            prev = ids[i];
        }
        *n_out = w;
        if (w > cap)
            return CF_ERR(t->ctx, CF_ERR_RANGE, "text of %zu bytes exceeds the buffer of %zu", w,
                          cap);
        return CF_OK;
    }
    if (t->kind == CF_TOK_SPM) {
        int32_t *kept = cf__malloc(((size_t)n + 1) * sizeof(int32_t));
        if (!kept) return CF_NOMEM(t->ctx);
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++)
            if (!skip_special || !cf__spm_is_special(t->spm, ids[i])) kept[k++] = ids[i];
        ok = cf__spm_decode(t->spm, kept, k, &text, &len);
        cf__free(kept);
    } else {
        ok = cf__hf_decode(t->hf, ids, n, skip_special != 0, &text, &len);
    }
    if (!ok) return CF_NOMEM(t->ctx);
    cf_status st = emit(t, text, len, buf, cap, n_out);
    cf__free(text);
    return st;
}

// Does the decoder (chain) contain a decoder of this type?
static bool has_decoder(const cf__hf *h, int type) {
    if (!h->dec) return false;
    if (h->dec->type == type) return true;
    for (int k = 0; k < h->dec->n_seq; k++)
        if (h->dec->seq[k].type == type) return true;
    return false;
}

static int byte_piece(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

cf_status cf_tokenizer_decode_piece(cf_tokenizer *t, int32_t prev, int32_t id, char *buf,
                                    size_t cap, size_t *n_out) {
    *n_out = 0;
    if (id < 0 || id >= t->n_vocab)
        return CF_ERR(t->ctx, CF_ERR_RANGE, "token id %d is outside [0, %d)", id, t->n_vocab);
    if (t->kind == CF_TOK_BYTE) {
        char one = (char)id;
        return emit(t, &one, 1, buf, cap, n_out);
    }
    if (t->kind == CF_TOK_LLAMA2C) return cf__l2c_decode_piece(t, prev, id, buf, cap, n_out);
    if (prev < 0 || prev >= t->n_vocab) prev = -1;
    size_t pn;
    const char *p = cf_tokenizer_id_to_piece(t, id);
    pn = p ? strlen(p) : 0;
    if (cf_tokenizer_is_special(t, id)) return CF_OK;
    // Raw bytes where a piece stands for bytes: byte-level pieces, <0xXX> byte fallback.
    if (t->kind == CF_TOK_SPM) {
        int b = cf__spm_is_byte(t->spm, id);
        if (b >= 0) {
            char one = (char)b;
            return emit(t, &one, 1, buf, cap, n_out);
        }
    } else if (p) {
        int b = byte_piece(p, pn);
        if (b >= 0 && has_decoder(t->hf, CF_DEC_BYTEFALLBACK)) {
            char one = (char)b;
            return emit(t, &one, 1, buf, cap, n_out);
        }
        if (has_decoder(t->hf, CF_DEC_BYTELEVEL)) {
            char *raw = cf__malloc(pn + 1);
            if (!raw) return CF_NOMEM(t->ctx);
            size_t w = 0;
            bool all = true;
            for (size_t k = 0; k < pn && all;) {
                uint32_t c;
                k += (size_t)cf__utf8_get(p + k, &c);
                int v = cf__bytelevel_byte(c);
                if (v < 0) all = false;
                else raw[w++] = (char)v;
            }
            cf_status st = all ? emit(t, raw, w, buf, cap, n_out) : emit(t, p, pn, buf, cap, n_out);
            cf__free(raw);
            return st;
        }
    }
    // Otherwise the difference the token makes to the decoded text after prev.
    int32_t two[2] = {prev, id};
    bool with_prev = prev >= 0 && !cf_tokenizer_is_special(t, prev);
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    bool ok;
    if (t->kind == CF_TOK_SPM) {
        ok = cf__spm_decode(t->spm, with_prev ? two : two + 1, with_prev ? 2 : 1, &a, &al) &&
             (!with_prev || cf__spm_decode(t->spm, two, 1, &b, &bl));
    } else {
        ok = cf__hf_decode(t->hf, with_prev ? two : two + 1, with_prev ? 2 : 1, false, &a, &al) &&
             (!with_prev || cf__hf_decode(t->hf, two, 1, false, &b, &bl));
    }
    cf_status st;
    if (!ok) st = CF_NOMEM(t->ctx);
    else if (with_prev && bl <= al && !memcmp(a, b, bl)) st = emit(t, a + bl, al - bl, buf, cap, n_out);
    else if (with_prev) {
        // The pair does not extend prev's text (a decoder rule joined them): the token alone.
        cf__free(a);
        a = NULL;
        ok = t->kind == CF_TOK_SPM ? cf__spm_decode(t->spm, two + 1, 1, &a, &al)
                                   : cf__hf_decode(t->hf, two + 1, 1, false, &a, &al);
        st = ok ? emit(t, a, al, buf, cap, n_out) : CF_NOMEM(t->ctx);
    } else {
        st = emit(t, a, al, buf, cap, n_out);
    }
    cf__free(a);
    cf__free(b);
    return st;
}

// ---- vocabulary ----

const char *cf_tokenizer_id_to_piece(const cf_tokenizer *t, int32_t id) {
    size_t n;
    static const char *const none = NULL;
    if (id < 0 || id >= t->n_vocab) return none;
    switch (t->kind) {
    case CF_TOK_LLAMA2C: return cf__l2c_piece(t->l2c, id, &n);
    case CF_TOK_SPM: return cf__spm_id_to_piece(t->spm, id, &n);
    case CF_TOK_BYTE: return NULL;
    default: return cf__hf_id_to_piece(t->hf, id, &n);
    }
}

int32_t cf_tokenizer_piece_to_id(const cf_tokenizer *t, const char *piece, size_t len) {
    switch (t->kind) {
    case CF_TOK_LLAMA2C: return cf__l2c_piece_to_id(t->l2c, piece, len);
    case CF_TOK_SPM: return cf__spm_piece_to_id(t->spm, piece, len);
    case CF_TOK_BYTE: return len == 1 ? (uint8_t)piece[0] : -1;
    default: return cf__hf_piece_to_id(t->hf, piece, len);
    }
}

int cf_tokenizer_is_special(const cf_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->n_vocab) return 0;
    switch (t->kind) {
    case CF_TOK_LLAMA2C: return id == t->bos || id == t->eos;
    case CF_TOK_SPM: return cf__spm_is_special(t->spm, id);
    case CF_TOK_BYTE: return 0;
    default: return cf__hf_is_special(t->hf, id);
    }
}

cf_status cf_tokenizer_add_tokens(cf_tokenizer *t, const char *const *tokens, int n, int special,
                                  int *n_added) {
    if (n_added) *n_added = 0;
    if (!t->hf)
        return CF_ERR(t->ctx, CF_ERR_UNSUPPORTED, "%s tokenizers take no added tokens",
                      cf_tokenizer_kind(t));
    int32_t next = t->hf->n_vocab;
    for (int k = 0; k < n; k++) {
        size_t len = strlen(tokens[k]);
        if (!len) continue;
        if (!cf__utf8_valid(tokens[k], len))
            return CF_ERR(t->ctx, CF_ERR_INVALID_ARG, "added token %d is not valid UTF-8", k);
        bool dup = false;
        for (int j = 0; j < t->hf->n_added && !dup; j++)
            dup = t->hf->added[j].len == len && !memcmp(t->hf->added[j].content, tokens[k], len);
        if (dup) continue;
        int32_t id = cf__vocab_id(&t->hf->model.vocab, tokens[k], len);
        if (id < 0) {
            id = next++;
            if (n_added) (*n_added)++;
        }
        // As the library adds them: special tokens unnormalized, others normalized.
        if (!cf__hf_add_token(t->hf, tokens[k], len, id, special != 0, false, false, false,
                              !special))
            return CF_NOMEM(t->ctx);
    }
    if (!cf__hf_refresh(t->hf)) return CF_NOMEM(t->ctx);
    t->n_vocab = t->hf->n_vocab;
    return CF_OK;
}
