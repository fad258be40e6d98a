// SentencePiece .model files: a ModelProto (protocol buffers, proto2) read with a small bounded
// reader, and encoding and decoding as sentencepiece's C++ library (v0.1.9x) does them:
// the normalizer (precompiled charsmap, dummy prefix, whitespace rules, user-defined symbols
// kept as they are), then the model (Unigram with the one-pass Viterbi in float, BPE with its
// score-ordered agenda and resegmentation of unused pieces, word, char), then the rules that
// turn pieces into ids (unknown runs merge into one <unk>; under byte fallback an unknown
// piece becomes its <0xXX> bytes).
//
// ModelProto fields read (others are skipped by wire type):
//   1 pieces (repeated SentencePiece: 1 piece string, 2 score float, 3 type enum
//     NORMAL=1 UNKNOWN=2 CONTROL=3 USER_DEFINED=4 UNUSED=5 BYTE=6)
//   2 trainer_spec: 3 model_type (UNIGRAM=1 BPE=2 WORD=3 CHAR=4), 24 treat_whitespace_as_suffix,
//     26 allow_whitespace_only_pieces, 35 byte_fallback, 44 unk_surface, 45-48 unk/bos/eos/pad
//     piece strings
//   3 normalizer_spec and 5 denormalizer_spec: 2 precompiled_charsmap, 3 add_dummy_prefix,
//     4 remove_extra_whitespaces, 5 escape_whitespaces (proto2 defaults: true, true, true)
// Wire types 0 (varint), 1 (64-bit), 2 (length-delimited) and 5 (32-bit) are accepted; every
// length is checked against what is left of its enclosing message.
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "tokenizer_internal.h"

enum { SP_NORMAL = 1, SP_UNKNOWN = 2, SP_CONTROL = 3, SP_USER = 4, SP_UNUSED = 5, SP_BYTE = 6 };
enum { SP_UNIGRAM = 1, SP_BPE = 2, SP_WORD = 3, SP_CHAR = 4 };

typedef struct spm_norm {
    cf__charsmap *cmap;
    bool add_dummy_prefix, remove_extra_ws, escape_ws, treat_ws_as_suffix;
    const cf__trie *user;  // user-defined symbols, matched before anything else (or NULL)
} spm_norm;

struct cf__spm {
    int model_type;
    int32_t n;             // pieces
    cf__vocab pieces;      // every piece by id (NUL-terminated in the pool)
    uint8_t *type;         // (n)
    float *score;          // (n)
    cf__strmap normal;     // NORMAL, USER_DEFINED, UNUSED pieces -> id
    cf__strmap reserved;   // CONTROL, UNKNOWN, BYTE pieces -> id
    cf__trie trie;         // the same normal pieces, for Unigram
    cf__trie user;         // USER_DEFINED pieces
    bool has_user;
    int32_t unk_id;
    bool byte_fallback;
    int32_t byte_id[256];
    float min_score, max_score;
    char *unk_surface;
    spm_norm norm, denorm;
    bool has_denorm;
    bool treat_ws_as_suffix, allow_ws_only;
};

// ---- protocol buffers ----

static bool pb_varint(cf_reader *r, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (!cf__read_bytes(r, &b, 1)) return false;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

// Reads a field key; *data/*len for length-delimited fields, *v for varints and fixed32.
typedef struct pb_field {
    uint32_t num;
    int wire;
    uint64_t v;
    const uint8_t *data;
    size_t len;
} pb_field;

static bool pb_next(cf_reader *r, pb_field *f, const char **why) {
    uint64_t key;
    if (!pb_varint(r, &key)) {
        *why = "truncated field key";
        return false;
    }
    f->num = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    if (f->num == 0 || key >> 3 > 0x1FFFFFFF) {
        *why = "field number out of range";
        return false;
    }
    switch (f->wire) {
    case 0:
        if (!pb_varint(r, &f->v)) {
            *why = "truncated varint";
            return false;
        }
        return true;
    case 1:
        if (!cf__skip(r, 8)) {
            *why = "truncated 64-bit field";
            return false;
        }
        return true;
    case 2: {
        uint64_t n;
        if (!pb_varint(r, &n) || n > cf__reader_left(r)) {
            *why = "length-delimited field runs past its message";
            return false;
        }
        f->data = r->base + r->pos;
        f->len = (size_t)n;
        r->pos += (size_t)n;
        return true;
    }
    case 5: {
        uint32_t u;
        if (!cf__read_u32(r, &u)) {
            *why = "truncated 32-bit field";
            return false;
        }
        f->v = u;
        return true;
    }
    default:
        *why = "unsupported wire type (groups are not used by ModelProto)";
        return false;
    }
}

// ---- loading ----

typedef struct spm_load {
    cf_ctx *ctx;
    const char *path;
    const uint8_t *base;
} spm_load;

static cf_status bad(spm_load *l, const uint8_t *at, const char *what) {
    return CF_FORMAT_ERR(l->ctx, "%s: %s (near byte %zu)", l->path, what, (size_t)(at - l->base));
}

static cf_status read_norm(spm_load *l, const uint8_t *d, size_t n, spm_norm *o) {
    cf_reader r = {d, n, 0};
    o->add_dummy_prefix = o->remove_extra_ws = o->escape_ws = true;
    while (cf__reader_left(&r) > 0) {
        pb_field f;
        const char *why;
        if (!pb_next(&r, &f, &why)) return bad(l, d + r.pos, why);
        if (f.num == 2 && f.wire == 2 && f.len > 0) {
            char err[200];
            cf__charsmap_free(o->cmap);
            o->cmap = cf__charsmap_parse(f.data, f.len, err, sizeof err);
            if (!o->cmap && !strcmp(err, "out of memory")) return CF_NOMEM(l->ctx);
            if (!o->cmap) return bad(l, f.data, err);
        } else if (f.num == 3 && f.wire == 0) o->add_dummy_prefix = f.v != 0;
        else if (f.num == 4 && f.wire == 0) o->remove_extra_ws = f.v != 0;
        else if (f.num == 5 && f.wire == 0) o->escape_ws = f.v != 0;
    }
    return CF_OK;
}

typedef struct trainer {
    int model_type;
    bool byte_fallback, treat_ws_as_suffix, allow_ws_only, has_unk_surface;
    char pieces[4][64];  // unk, bos, eos, pad piece strings
    const uint8_t *unk_surface;
    size_t unk_surface_len;
} trainer;

static cf_status read_trainer(spm_load *l, const uint8_t *d, size_t n, trainer *t) {
    cf_reader r = {d, n, 0};
    while (cf__reader_left(&r) > 0) {
        pb_field f;
        const char *why;
        if (!pb_next(&r, &f, &why)) return bad(l, d + r.pos, why);
        if (f.wire == 0) {
            if (f.num == 3) t->model_type = (int)f.v;
            else if (f.num == 35) t->byte_fallback = f.v != 0;
            else if (f.num == 24) t->treat_ws_as_suffix = f.v != 0;
            else if (f.num == 26) t->allow_ws_only = f.v != 0;
        } else if (f.wire == 2) {
            if (f.num == 44) {
                t->has_unk_surface = true;
                t->unk_surface = f.data;
                t->unk_surface_len = f.len;
            } else if (f.num >= 45 && f.num <= 48 && f.len > 0) {
                if (f.len >= sizeof t->pieces[0]) return bad(l, f.data, "special piece too long");
                memcpy(t->pieces[f.num - 45], f.data, f.len);
                t->pieces[f.num - 45][f.len] = 0;
            }
        }
    }
    return CF_OK;
}

static int byte_of_piece(const char *p, size_t n) {
    if (n != 6 || memcmp(p, "<0x", 3) || p[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

void cf__spm_free(cf__spm *s) {
    if (!s) return;
    cf__vocab_free(&s->pieces);
    cf__free(s->type);
    cf__free(s->score);
    cf__strmap_free(&s->normal);
    cf__strmap_free(&s->reserved);
    cf__trie_free(&s->trie);
    cf__trie_free(&s->user);
    cf__free(s->unk_surface);
    cf__charsmap_free(s->norm.cmap);
    cf__charsmap_free(s->denorm.cmap);
    cf__free(s);
}

static int32_t piece_to_id(const cf__spm *s, const char *p, size_t n) {
    int32_t id = cf__strmap_get(&s->reserved, p, n);
    if (id >= 0) return id;
    id = cf__strmap_get(&s->normal, p, n);
    return id >= 0 ? id : s->unk_id;
}

cf_status cf__tokenizer_parse_spm(cf_ctx *ctx, const char *path, const uint8_t *data,
                                  size_t size, cf_tokenizer **out) {
    *out = NULL;
    spm_load l = {ctx, path, data};
    if (size > CF_TOK_MAX_FILE) return CF_FORMAT_ERR(ctx, "%s: %zu bytes is too large", path, size);
    cf__spm *s = cf__calloc(1, sizeof *s);
    if (!s) return CF_NOMEM(ctx);
    cf_status st = CF_OK;
    trainer tr = {.model_type = SP_UNIGRAM};
    strcpy(tr.pieces[0], "<unk>");
    strcpy(tr.pieces[1], "<s>");
    strcpy(tr.pieces[2], "</s>");
    strcpy(tr.pieces[3], "<pad>");
    s->unk_id = -1;
    // First pass: count pieces, read the specs.
    cf_reader r = {data, size, 0};
    int32_t n = 0;
    const uint8_t *norm_d = NULL, *denorm_d = NULL;
    size_t norm_n = 0, denorm_n = 0;
    bool has_norm = false;
    while (cf__reader_left(&r) > 0) {
        pb_field f;
        const char *why;
        if (!pb_next(&r, &f, &why)) {
            st = bad(&l, data + r.pos, why);
            goto fail;
        }
        if (f.wire != 2) continue;
        if (f.num == 1) {
            if (++n > CF_TOK_MAX_VOCAB) {
                st = bad(&l, f.data, "more than 2^24 pieces");
                goto fail;
            }
        } else if (f.num == 2) {
            if ((st = read_trainer(&l, f.data, f.len, &tr)) != CF_OK) goto fail;
        } else if (f.num == 3) {
            norm_d = f.data;
            norm_n = f.len;
            has_norm = true;
        } else if (f.num == 5) {
            denorm_d = f.data;
            denorm_n = f.len;
            s->has_denorm = true;
        }
    }
    if (n == 0) {
        st = CF_FORMAT_ERR(ctx, "%s: no pieces (not a SentencePiece model)", path);
        goto fail;
    }
    if (tr.model_type < SP_UNIGRAM || tr.model_type > SP_CHAR) {
        st = CF_FORMAT_ERR(ctx, "%s: unknown model_type %d", path, tr.model_type);
        goto fail;
    }
    s->model_type = tr.model_type;
    s->byte_fallback = tr.byte_fallback;
    s->treat_ws_as_suffix = tr.treat_ws_as_suffix;
    s->allow_ws_only = tr.allow_ws_only;
    s->n = n;
    s->type = cf__malloc((size_t)n);
    s->score = cf__malloc((size_t)n * sizeof(float));
    if (!s->type || !s->score || !cf__trie_init(&s->trie) || !cf__trie_init(&s->user)) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    for (int b = 0; b < 256; b++) s->byte_id[b] = -1;
    // Second pass: the pieces.
    r.pos = 0;
    int32_t id = 0;
    s->min_score = FLT_MAX;
    s->max_score = FLT_MIN;
    while (cf__reader_left(&r) > 0) {
        pb_field f;
        const char *why;
        pb_next(&r, &f, &why);
        if (f.num != 1 || f.wire != 2) continue;
        cf_reader pr = {f.data, f.len, 0};
        const uint8_t *piece = NULL;
        size_t plen = 0;
        float score = 0;
        int type = SP_NORMAL;
        while (cf__reader_left(&pr) > 0) {
            pb_field g;
            if (!pb_next(&pr, &g, &why)) {
                st = bad(&l, f.data + pr.pos, why);
                goto fail;
            }
            if (g.num == 1 && g.wire == 2) {
                piece = g.data;
                plen = g.len;
            } else if (g.num == 2 && g.wire == 5) {
                uint32_t u = (uint32_t)g.v;
                memcpy(&score, &u, 4);
            } else if (g.num == 3 && g.wire == 0) {
                type = (int)g.v;
            }
        }
        if (!piece || plen == 0) {
            st = bad(&l, f.data, "piece must not be empty");
            goto fail;
        }
        if (plen > CF_TOK_MAX_PIECE || type < SP_NORMAL || type > SP_BYTE) {
            st = bad(&l, f.data, plen > CF_TOK_MAX_PIECE ? "piece too long" : "unknown piece type");
            goto fail;
        }
        const char *p = (const char *)piece;
        bool normal = type == SP_NORMAL || type == SP_USER || type == SP_UNUSED;
        cf__strmap *map = normal ? &s->normal : &s->reserved;
        if (cf__strmap_get(&s->normal, p, plen) >= 0 || cf__strmap_get(&s->reserved, p, plen) >= 0) {
            char msg[120];
            snprintf(msg, sizeof msg, "piece %d '%.*s' is already defined", id,
                     (int)(plen > 40 ? 40 : plen), p);
            st = bad(&l, f.data, msg);
            goto fail;
        }
        if (!cf__strmap_put(map, p, plen, id, false, NULL) ||
            !cf__vocab_set(&s->pieces, id, p, plen, false)) {
            st = CF_NOMEM(ctx);
            goto fail;
        }
        s->type[id] = (uint8_t)type;
        s->score[id] = score;
        if (type == SP_UNKNOWN) {
            if (s->unk_id >= 0) {
                st = bad(&l, f.data, "unk is already defined");
                goto fail;
            }
            s->unk_id = id;
        }
        if (type == SP_BYTE) {
            int b = byte_of_piece(p, plen);
            if (!tr.byte_fallback || b < 0) {
                st = bad(&l, f.data, !tr.byte_fallback ? "byte piece found although byte_fallback "
                                                         "is false" : "invalid byte piece");
                goto fail;
            }
            s->byte_id[b] = id;
        }
        if (type == SP_NORMAL) {
            if (score < s->min_score) s->min_score = score;
            if (score > s->max_score) s->max_score = score;
        }
        if (normal && !cf__trie_insert(&s->trie, p, plen, id)) {
            st = CF_NOMEM(ctx);
            goto fail;
        }
        if (type == SP_USER) {
            s->has_user = true;
            if (!cf__trie_insert(&s->user, p, plen, id)) {
                st = CF_NOMEM(ctx);
                goto fail;
            }
        }
        id++;
    }
    if (s->unk_id < 0) {
        st = CF_FORMAT_ERR(ctx, "%s: unk is not defined", path);
        goto fail;
    }
    if (tr.byte_fallback)
        for (int b = 0; b < 256; b++)
            if (s->byte_id[b] < 0) {
                st = CF_FORMAT_ERR(ctx, "%s: there are not 256 byte pieces although byte_fallback "
                                   "is true", path);
                goto fail;
            }
    if (has_norm && (st = read_norm(&l, norm_d, norm_n, &s->norm)) != CF_OK) goto fail;
    if (!has_norm) s->norm.add_dummy_prefix = s->norm.remove_extra_ws = s->norm.escape_ws = true;
    s->norm.treat_ws_as_suffix = tr.treat_ws_as_suffix;
    s->norm.user = s->has_user ? &s->user : NULL;
    if (s->has_denorm) {
        if ((st = read_norm(&l, denorm_d, denorm_n, &s->denorm)) != CF_OK) goto fail;
        if (!s->denorm.cmap) s->has_denorm = false;  // only a charsmap makes a denormalizer
    }
    const uint8_t *us = tr.has_unk_surface ? tr.unk_surface : (const uint8_t *)" \xE2\x81\x87 ";
    size_t ul = tr.has_unk_surface ? tr.unk_surface_len : 5;
    if (!(s->unk_surface = cf__malloc(ul + 1))) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    memcpy(s->unk_surface, us, ul);
    s->unk_surface[ul] = 0;
    cf_tokenizer *t = cf__tokenizer_new(ctx, CF_TOK_SPM);
    if (!t) {
        st = CF_NOMEM(ctx);
        goto fail;
    }
    t->spm = s;
    t->n_vocab = n;
    int32_t b = piece_to_id(s, tr.pieces[1], strlen(tr.pieces[1]));
    int32_t e = piece_to_id(s, tr.pieces[2], strlen(tr.pieces[2]));
    t->bos = b >= 0 && s->type[b] == SP_CONTROL ? b : -1;
    t->eos = e >= 0 && s->type[e] == SP_CONTROL ? e : -1;
    *out = t;
    return CF_OK;
fail:
    cf__spm_free(s);
    return st;
}

// ---- normalizer ----

// SentencePiece's UTF-8 check: the length of the valid character at s, or 0 when invalid
// (U+FFFD itself counts as valid).
static size_t spm_char(const char *s, size_t n) {
    uint32_t cp;
    return (size_t)cf__utf8_next((const uint8_t *)s, n, &cp);
}

// NormalizePrefix: how many input bytes the next unit consumes and what it becomes.
static size_t norm_prefix(const spm_norm *nm, const char *s, size_t n, const char **rep,
                          size_t *rl) {
    if (nm->user) {
        size_t best = 0;
        uint32_t node = 0;
        for (size_t k = 0; k < n; k++) {
            node = cf__trie_step(nm->user, node, (uint8_t)s[k]);
            if (node == UINT32_MAX) break;
            if (nm->user->val[node] >= 0) best = k + 1;
        }
        if (best) {
            *rep = s;
            *rl = best;
            return best;
        }
    }
    if (nm->cmap) {
        size_t len = cf__charsmap_longest(nm->cmap, s, n, rep, rl);
        if (len) return len;
    }
    size_t len = spm_char(s, n);
    if (!len) {
        *rep = "\xEF\xBF\xBD";
        *rl = 3;
        return 1;
    }
    *rep = s;
    *rl = len;
    return len;
}

typedef struct nbuf {
    char *s;
    uint32_t *orig;  // (len + 1)
    size_t len, cap, cap_orig;
} nbuf;

static bool nb_put(nbuf *b, const char *s, size_t n, uint32_t orig) {
    if (!cf__grow((void **)&b->s, &b->cap, b->len + n + 1, 1) ||
        !cf__grow((void **)&b->orig, &b->cap_orig, b->len + n + 1, sizeof(uint32_t)))
        return false;
    for (size_t k = 0; k < n; k++) {
        b->s[b->len + k] = s[k];
        b->orig[b->len + k] = orig;
    }
    b->len += n;
    return true;
}

static bool ends_with_str(const nbuf *b, const char *s, size_t n) {
    return b->len >= n && !memcmp(b->s + b->len - n, s, n);
}

// Normalizer::Normalize: the normalized text and, for each of its bytes (and one past the
// end), the input offset it came from.
static bool spm_normalize(const spm_norm *nm, const char *in, size_t n, nbuf *o) {
    o->len = 0;
    static const char ws[] = "\xE2\x96\x81";
    const char *sp = nm->escape_ws ? ws : " ";
    size_t spl = nm->escape_ws ? 3 : 1;
    size_t consumed = 0;
    const char *rep;
    size_t rl;
    if (n == 0) goto done;
    if (nm->remove_extra_ws) {
        while (consumed < n) {
            size_t c = norm_prefix(nm, in + consumed, n - consumed, &rep, &rl);
            if (!(rl == 1 && rep[0] == ' ')) break;
            consumed += c;
        }
    }
    if (consumed == n) goto done;
    if (!nm->treat_ws_as_suffix && nm->add_dummy_prefix && !nb_put(o, sp, spl, (uint32_t)consumed))
        return false;
    bool prev_space = nm->remove_extra_ws;
    while (consumed < n) {
        size_t c = norm_prefix(nm, in + consumed, n - consumed, &rep, &rl);
        // Drop leading spaces of the replacement after a space.
        while (prev_space && rl > 0 && rep[0] == ' ') {
            rep++;
            rl--;
        }
        if (rl > 0) {
            for (size_t k = 0; k < rl; k++) {
                bool ok = nm->escape_ws && rep[k] == ' ' ? nb_put(o, ws, 3, (uint32_t)consumed)
                                                         : nb_put(o, rep + k, 1, (uint32_t)consumed);
                if (!ok) return false;
            }
            prev_space = rep[rl - 1] == ' ';
        }
        consumed += c;
        if (!nm->remove_extra_ws) prev_space = false;
    }
    if (nm->remove_extra_ws) {
        while (ends_with_str(o, sp, spl)) {
            size_t len = o->len - spl;
            consumed = o->orig[len];
            o->len = len;
        }
    }
    if (nm->treat_ws_as_suffix && nm->add_dummy_prefix && !nb_put(o, sp, spl, (uint32_t)consumed))
        return false;
done:
    if (!nb_put(o, "", 0, 0)) return false;  // room for the final entry and the NUL
    o->orig[o->len] = (uint32_t)consumed;
    o->s[o->len] = 0;
    return true;
}

// ---- models ----

typedef struct piece_out {
    uint32_t start, len;  // in the normalized text
    int32_t id;
} piece_out;

typedef struct pvec {
    piece_out *v;
    size_t n, cap;
} pvec;

static bool pv_push(pvec *p, size_t start, size_t len, int32_t id) {
    if (!cf__grow((void **)&p->v, &p->cap, p->n + 1, sizeof(piece_out))) return false;
    p->v[p->n++] = (piece_out){(uint32_t)start, (uint32_t)len, id};
    return true;
}

static size_t one_char_len(const char *s, size_t n) {
    static const uint8_t tab[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    size_t l = tab[(uint8_t)s[0] >> 4];
    return l < n ? l : n;
}

// PrefixMatcher::PrefixMatch over user-defined symbols: (length, found).
static size_t user_prefix(const cf__spm *s, const char *t, size_t n, bool *found) {
    *found = false;
    if (s->has_user) {
        size_t best = 0;
        uint32_t node = 0;
        for (size_t k = 0; k < n; k++) {
            node = cf__trie_step(&s->user, node, (uint8_t)t[k]);
            if (node == UINT32_MAX) break;
            if (s->user.val[node] >= 0) best = k + 1;
        }
        if (best) {
            *found = true;
            return best;
        }
    }
    return one_char_len(t, n);
}

typedef struct best {
    int32_t id;
    float score;
    int32_t start;
} best;

static bool encode_unigram(const cf__spm *s, const char *t, size_t n, pvec *out) {
    best *b = cf__malloc((n + 1) * sizeof(best));
    if (!b) return false;
    for (size_t i = 0; i <= n; i++) b[i] = (best){-1, 0.0f, -1};
    const float unk_score = s->min_score - 10.0f;
    for (size_t st = 0; st < n;) {
        float till = b[st].score;
        bool single = false;
        size_t mblen = one_char_len(t + st, n - st);
        uint32_t node = 0;
        for (size_t k = st; k < n; k++) {
            node = cf__trie_step(&s->trie, node, (uint8_t)t[k]);
            if (node == UINT32_MAX) break;
            int32_t id = s->trie.val[node];
            if (id < 0 || s->type[id] == SP_UNUSED) continue;
            size_t len = k + 1 - st;
            // Mixed precision as in the C++: the score is a double (user-defined bonus), the
            // best-path sums are stored as float.
            double score = s->type[id] == SP_USER ? (double)len * (double)s->max_score - 0.1
                                                  : (double)s->score[id];
            double cand = score + (double)till;
            best *tn = &b[k + 1];
            if (tn->start == -1 || cand > (double)tn->score) {
                tn->score = (float)cand;
                tn->start = (int32_t)st;
                tn->id = id;
            }
            if (len == mblen) single = true;
        }
        if (!single) {
            float cand = unk_score + till;
            best *tn = &b[st + mblen];
            if (tn->start == -1 || cand > tn->score) {
                tn->score = cand;
                tn->start = (int32_t)st;
                tn->id = s->unk_id;
            }
        }
        st += mblen;
    }
    size_t first = out->n;
    for (size_t e = n; e > 0;) {
        size_t st = (size_t)b[e].start;
        if (!pv_push(out, st, e - st, b[e].id)) {
            cf__free(b);
            return false;
        }
        e = st;
    }
    for (size_t i = first, j = out->n ? out->n - 1 : 0; i < j; i++, j--) {
        piece_out x = out->v[i];
        out->v[i] = out->v[j];
        out->v[j] = x;
    }
    cf__free(b);
    return true;
}

typedef struct sym {
    int32_t prev, next;
    bool freeze;
    uint32_t start, len;  // len 0: merged away
} sym;

typedef struct agenda_item {
    int32_t left, right;
    float score;
    uint32_t size;
} agenda_item;

// Higher score first; on ties the smaller left index.
static bool ag_before(const agenda_item *a, const agenda_item *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct agenda {
    agenda_item *v;
    size_t n, cap;
} agenda;

static bool ag_push(agenda *a, agenda_item x) {
    if (!cf__grow((void **)&a->v, &a->cap, a->n + 1, sizeof(agenda_item))) return false;
    size_t i = a->n++;
    a->v[i] = x;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ag_before(&a->v[i], &a->v[p])) break;
        agenda_item t = a->v[i];
        a->v[i] = a->v[p];
        a->v[p] = t;
        i = p;
    }
    return true;
}

static agenda_item ag_pop(agenda *a) {
    agenda_item top = a->v[0];
    a->v[0] = a->v[--a->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < a->n && ag_before(&a->v[l], &a->v[m])) m = l;
        if (r < a->n && ag_before(&a->v[r], &a->v[m])) m = r;
        if (m == i) break;
        agenda_item t = a->v[i];
        a->v[i] = a->v[m];
        a->v[m] = t;
        i = m;
    }
    return top;
}

// The merges that formed unused pieces, for resegmentation: piece (start, len) -> halves.
typedef struct revm {
    uint32_t start, len, lstart, llen, rstart, rlen;
} revm;

typedef struct bpe_state {
    const cf__spm *s;
    const char *t;
    sym *sy;
    agenda ag;
    revm *rev;
    size_t nrev, cap_rev;
    bool oom;
} bpe_state;

static void maybe_add(bpe_state *b, int32_t left, int32_t right) {
    if (left < 0 || right < 0 || b->sy[left].freeze || b->sy[right].freeze) return;
    uint32_t start = b->sy[left].start, len = b->sy[left].len + b->sy[right].len;
    int32_t id = cf__strmap_get(&b->s->normal, b->t + start, len);
    if (id < 0) return;
    if (!ag_push(&b->ag, (agenda_item){left, right, b->s->score[id], len})) b->oom = true;
    if (b->s->type[id] == SP_UNUSED) {
        if (!cf__grow((void **)&b->rev, &b->cap_rev, b->nrev + 1, sizeof(revm))) {
            b->oom = true;
            return;
        }
        b->rev[b->nrev++] = (revm){start, len, b->sy[left].start, b->sy[left].len,
                                   b->sy[right].start, b->sy[right].len};
    }
}

static bool resegment(bpe_state *b, uint32_t start, uint32_t len, pvec *out, int depth) {
    const cf__spm *s = b->s;
    int32_t id = piece_to_id(s, b->t + start, len);
    if (id < 0 || s->type[id] != SP_UNUSED || depth > 64) return pv_push(out, start, len, id);
    // The latest recorded split of this exact piece (same bytes) wins, as a map insert does.
    for (size_t k = b->nrev; k-- > 0;) {
        const revm *r = &b->rev[k];
        if (r->len == len && !memcmp(b->t + r->start, b->t + start, len)) {
            // Halves are given as the same bytes relative to this occurrence.
            uint32_t l = r->llen;
            return resegment(b, start, l, out, depth + 1) &&
                   resegment(b, start + l, len - l, out, depth + 1);
        }
    }
    return pv_push(out, start, len, id);
}

static bool encode_bpe(const cf__spm *s, const char *t, size_t n, pvec *out) {
    bpe_state b = {s, t, NULL, {0}, NULL, 0, 0, false};
    b.sy = cf__malloc((n + 1) * sizeof(sym));
    if (!b.sy) return false;
    int32_t ns = 0;
    for (size_t i = 0; i < n;) {
        bool freeze;
        size_t l = user_prefix(s, t + i, n - i, &freeze);
        b.sy[ns] = (sym){ns - 1, i + l < n ? ns + 1 : -1, freeze, (uint32_t)i, (uint32_t)l};
        ns++;
        i += l;
    }
    for (int32_t i = 1; i < ns; i++) maybe_add(&b, i - 1, i);
    while (b.ag.n > 0 && !b.oom) {
        agenda_item top = ag_pop(&b.ag);
        sym *L = &b.sy[top.left], *R = &b.sy[top.right];
        if (L->len == 0 || R->len == 0 || L->len + R->len != top.size) continue;
        L->len += R->len;
        L->next = R->next;
        if (R->next >= 0) b.sy[R->next].prev = top.left;
        R->len = 0;
        maybe_add(&b, L->prev, top.left);
        maybe_add(&b, top.left, L->next);
    }
    bool ok = !b.oom;
    for (int32_t i = ns > 0 ? 0 : -1; ok && i != -1; i = b.sy[i].next)
        ok = resegment(&b, b.sy[i].start, b.sy[i].len, out, 0);
    cf__free(b.sy);
    cf__free(b.ag.v);
    cf__free(b.rev);
    return ok;
}

// SplitIntoWords with the library's defaults for the word model.
static bool encode_word(const cf__spm *s, const char *t, size_t n, pvec *out) {
    static const char ws[] = "\xE2\x96\x81";
    size_t ws_start = 0;
    bool have = false;
    for (size_t i = 0; i < n;) {
        size_t l = one_char_len(t + i, n - i);
        bool is_ws = l == 3 && !memcmp(t + i, ws, 3);
        if (i == 0 || is_ws) {
            if (have && !pv_push(out, ws_start, i - ws_start,
                                 piece_to_id(s, t + ws_start, i - ws_start)))
                return false;
            ws_start = i;
            have = true;
        }
        i += l;
    }
    if (have && !pv_push(out, ws_start, n - ws_start, piece_to_id(s, t + ws_start, n - ws_start)))
        return false;
    return true;
}

static bool encode_char(const cf__spm *s, const char *t, size_t n, pvec *out) {
    for (size_t i = 0; i < n;) {
        bool found;
        size_t l = user_prefix(s, t + i, n - i, &found);
        if (!pv_push(out, i, l, piece_to_id(s, t + i, l))) return false;
        i += l;
    }
    return true;
}

bool cf__spm_encode(cf__spm *s, const char *text, size_t len, cf__ptok **tok, size_t *ntok,
                    size_t *cap_tok) {
    nbuf nb = {0};
    pvec pv = {0};
    bool ok = spm_normalize(&s->norm, text, len, &nb);
    if (ok && nb.len > 0) {
        switch (s->model_type) {
        case SP_UNIGRAM: ok = encode_unigram(s, nb.s, nb.len, &pv); break;
        case SP_BPE: ok = encode_bpe(s, nb.s, nb.len, &pv); break;
        case SP_WORD: ok = encode_word(s, nb.s, nb.len, &pv); break;
        default: ok = encode_char(s, nb.s, nb.len, &pv); break;
        }
    }
    // PopulateSentencePieceText: pieces -> ids with original spans.
    *ntok = 0;
    bool prev_unk = false;
    size_t consumed = 0;
    for (size_t i = 0; ok && i < pv.n; i++) {
        const piece_out *p = &pv.v[i];
        int32_t id = p->id;
        bool is_unk = id == s->unk_id;
        if (id >= 0 && s->type[id] == SP_CONTROL) {
            uint32_t at = nb.orig[consumed];
            ok = cf__grow((void **)tok, cap_tok, *ntok + 1, sizeof(cf__ptok));
            if (ok) (*tok)[(*ntok)++] = (cf__ptok){id, at, at, 1};
            prev_unk = is_unk;
            continue;
        }
        uint32_t ob = nb.orig[consumed], oe = nb.orig[consumed + p->len];
        if (is_unk && s->byte_fallback) {
            ok = cf__grow((void **)tok, cap_tok, *ntok + p->len, sizeof(cf__ptok));
            for (uint32_t k = 0; ok && k < p->len; k++) {
                uint8_t byte = (uint8_t)nb.s[p->start + k];
                bool last = k + 1 == p->len;
                (*tok)[(*ntok)++] = (cf__ptok){s->byte_id[byte], ob, last ? oe : ob, 0};
            }
        } else if (prev_unk && is_unk && *ntok > 0) {
            (*tok)[*ntok - 1].end = oe;  // runs of unknown pieces merge
        } else {
            ok = cf__grow((void **)tok, cap_tok, *ntok + 1, sizeof(cf__ptok));
            if (ok) (*tok)[(*ntok)++] = (cf__ptok){id, ob, oe, 0};
        }
        consumed += p->len;
        prev_unk = is_unk;
    }
    cf__free(nb.s);
    cf__free(nb.orig);
    cf__free(pv.v);
    return ok;
}

// ---- decoding ----

typedef struct obuf {
    char *p;
    size_t len, cap;
    bool oom;
} obuf;

static void ob_put(obuf *o, const char *s, size_t n) {
    if (o->oom) return;
    if (!cf__grow((void **)&o->p, &o->cap, o->len + n + 1, 1)) {
        o->oom = true;
        return;
    }
    if (n) memcpy(o->p + o->len, s, n);
    o->len += n;
}

bool cf__spm_decode(const cf__spm *s, const int32_t *ids, int64_t n, char **out,
                    size_t *out_len) {
    static const char ws[] = "\xE2\x96\x81";
    obuf o = {0}, bytes = {0};
    bool is_bos_ws = true, bos_ws_seen = false;
    for (int64_t i = 0; i <= n; i++) {
        if (i < n && s->type[ids[i]] == SP_BYTE) {
            char b = (char)cf__spm_is_byte(s, ids[i]);
            ob_put(&bytes, &b, 1);
            continue;
        }
        // A run of byte pieces: whole characters, each invalid byte as U+FFFD.
        for (size_t off = 0; off < bytes.len;) {
            size_t c = spm_char(bytes.p + off, bytes.len - off);
            if (!c) {
                ob_put(&o, "\xEF\xBF\xBD", 3);
                off++;
            } else {
                ob_put(&o, bytes.p + off, c);
                off += c;
            }
        }
        bytes.len = 0;
        if (i == n) break;
        if (bos_ws_seen || o.len > 0) is_bos_ws = false;
        bos_ws_seen = false;
        int32_t id = ids[i];
        size_t pl;
        const char *piece = cf__vocab_piece(&s->pieces, id, &pl);
        if (s->type[id] == SP_CONTROL) continue;  // <s>, </s>: invisible
        if (s->type[id] == SP_UNKNOWN) {
            ob_put(&o, s->unk_surface, strlen(s->unk_surface));
            continue;
        }
        if (is_bos_ws && (s->norm.add_dummy_prefix || s->norm.remove_extra_ws) && pl >= 3 &&
            !memcmp(piece, ws, 3)) {
            // The dummy-prefix space goes (all leading ones when extra spaces are removed).
            piece += 3;
            pl -= 3;
            bos_ws_seen = !s->norm.remove_extra_ws;
        }
        for (size_t k = 0; k < pl;) {
            if (k + 3 <= pl && !memcmp(piece + k, ws, 3)) {
                ob_put(&o, " ", 1);
                k += 3;
            } else {
                ob_put(&o, piece + k, 1);
                k++;
            }
        }
    }
    cf__free(bytes.p);
    if (!o.oom && s->has_denorm) {
        nbuf nb = {0};
        bool ok = spm_normalize(&s->denorm, o.p ? o.p : "", o.len, &nb);
        cf__free(o.p);
        cf__free(nb.orig);
        o.p = nb.s;
        o.len = nb.len;
        o.oom = !ok;
    }
    if (!o.oom) ob_put(&o, "", 0);
    if (o.oom) {
        cf__free(o.p);
        return false;
    }
    o.p[o.len] = 0;
    *out = o.p;
    *out_len = o.len;
    return true;
}

const char *cf__spm_id_to_piece(const cf__spm *s, int32_t id, size_t *n) {
    return cf__vocab_piece(&s->pieces, id, n);
}

int32_t cf__spm_piece_to_id(const cf__spm *s, const char *p, size_t n) {
    int32_t id = cf__strmap_get(&s->reserved, p, n);
    return id >= 0 ? id : cf__strmap_get(&s->normal, p, n);
}

bool cf__spm_is_special(const cf__spm *s, int32_t id) {
    return id >= 0 && id < s->n && s->type[id] == SP_CONTROL;
}

int cf__spm_is_byte(const cf__spm *s, int32_t id) {
    if (id < 0 || id >= s->n || s->type[id] != SP_BYTE) return -1;
    size_t n;
    const char *p = cf__vocab_piece(&s->pieces, id, &n);
    return byte_of_piece(p, n);
}
