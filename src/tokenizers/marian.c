// Marian (OPUS-MT) tokenization: a model folder's source.spm and target.spm (SentencePiece
// models) with vocab.json mapping their pieces to the model's ids, as transformers'
// MarianTokenizer uses them:
//   encode: the side's spm turns text into pieces; each piece becomes its vocab.json id
//           (<unk>'s id when vocab.json lacks it); </s> is appended.
//   decode: eos, pad and the other special ids (<unk>, <s>) are skipped; each remaining id's
//           piece becomes the target spm's id for it (its unk when the spm lacks the piece) and
//           the target spm detokenizes the sequence.
// And the joint vocabulary a training run writes: cformer's Unigram trainer on both sides'
// text, saved as a SentencePiece ModelProto (written below; pieces with their scores, the
// identity normalizer with dummy prefix and whitespace escaping) for both sides, and a
// vocab.json in Marian's order: </s> 0, <unk> 1, the pieces, <pad> last.
//
// ModelProto fields written (protocol buffers, proto2):
//   1 pieces: 1 piece (string), 2 score (float), 3 type (2 UNKNOWN, 3 CONTROL; NORMAL omitted)
//   2 trainer_spec: 3 model_type = 1 (UNIGRAM), 4 vocab_size, 40-42 unk/bos/eos ids,
//     45-47 their pieces
//   3 normalizer_spec: 1 name "identity", 3 add_dummy_prefix, 4 remove_extra_whitespaces,
//     5 escape_whitespaces (all true)
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cformer/seq2seq.h"
#include "tokenizer_internal.h"

struct cf_s2s_tokenizer {
    cf_ctx *ctx;
    cf_tokenizer *spm[2];   // source, target (the same object when target.spm is missing)
    int32_t *to_model[2];   // (spm vocab) spm id -> model id
    int32_t *to_spm;        // (V) model id -> target spm id
    uint8_t *special;       // (V) skipped by decode
    int32_t V, eos, unk, pad;
    int32_t *scratch;       // spm ids of one encoding
    int64_t scratch_cap;
};

enum { VOCAB_JSON_MAX = 64 << 20, VOCAB_MAX = 1 << 24 };

void cf_s2s_tokenizer_free(cf_s2s_tokenizer *t) {
    if (!t) return;
    if (t->spm[1] != t->spm[0]) cf_tokenizer_free(t->spm[1]);
    cf_tokenizer_free(t->spm[0]);
    cf__free(t->to_model[0]);
    cf__free(t->to_model[1]);
    cf__free(t->to_spm);
    cf__free(t->special);
    cf__free(t->scratch);
    cf__free(t);
}

// spm id -> model id for every piece of one spm.
static cf_status map_side(cf_s2s_tokenizer *t, int side, const cf__strmap *vocab) {
    cf_tokenizer *sp = t->spm[side];
    int32_t n = cf_tokenizer_vocab_size(sp);
    t->to_model[side] = cf__malloc((size_t)n * sizeof(int32_t) + 1);
    if (!t->to_model[side]) return CF_NOMEM(t->ctx);
    for (int32_t i = 0; i < n; i++) {
        const char *p = cf_tokenizer_id_to_piece(sp, i);
        int32_t id = p ? cf__strmap_get(vocab, p, strlen(p)) : -1;
        t->to_model[side][i] = id >= 0 ? id : t->unk;
    }
    return CF_OK;
}

cf_status cf_s2s_tokenizer_load(cf_ctx *ctx, const char *dir, int32_t vocab_size,
                                cf_s2s_tokenizer **out) {
    *out = NULL;
    cf_s2s_tokenizer *t = cf__calloc(1, sizeof *t);
    if (!t) return CF_NOMEM(ctx);
    t->ctx = ctx;
    t->eos = t->unk = t->pad = -1;
    char *src_path = cf__path_join(dir, "source.spm"), *tgt_path = cf__path_join(dir, "target.spm");
    char *voc_path = cf__path_join(dir, "vocab.json"), *text = NULL;
    const char **names = NULL;
    cJSON *root = NULL;
    cf__strmap map = {0};
    cf_status st = CF_OK;
    if (!src_path || !tgt_path || !voc_path) goto oom;
    if ((st = cf_tokenizer_load(ctx, src_path, 0, &t->spm[0])) != CF_OK) goto done;
    if (cf__file_exists(tgt_path)) {
        if ((st = cf_tokenizer_load(ctx, tgt_path, 0, &t->spm[1])) != CF_OK) goto done;
    } else {
        t->spm[1] = t->spm[0];
    }
    size_t size;
    if ((st = cf__file_read(ctx, voc_path, VOCAB_JSON_MAX, &text, &size)) != CF_OK) goto done;
    root = cJSON_ParseWithLength(text, size);
    if (!root || !cJSON_IsObject(root)) {
        st = CF_FORMAT_ERR(ctx, "%s: not a JSON object of piece -> id", voc_path);
        goto done;
    }
    // Ids: integers in [0, VOCAB_MAX), each at most once; V is the largest + 1.
    int32_t V = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1.0;
        if (!(d >= 0.0 && d < VOCAB_MAX) || d != (double)(int32_t)d) {
            st = CF_FORMAT_ERR(ctx, "%s: piece '%.40s' has id %s, expected an integer in "
                               "[0, %d)", voc_path, e->string ? e->string : "",
                               cJSON_IsNumber(e) ? "out of range" : "that is not a number",
                               VOCAB_MAX);
            goto done;
        }
        if ((int32_t)d + 1 > V) V = (int32_t)d + 1;
    }
    if (V == 0) {
        st = CF_FORMAT_ERR(ctx, "%s: empty vocabulary", voc_path);
        goto done;
    }
    if (vocab_size > 0 && V > vocab_size) {
        st = CF_FORMAT_ERR(ctx, "%s: id %d is outside the model's vocabulary of %d", voc_path,
                           V - 1, vocab_size);
        goto done;
    }
    if (vocab_size > 0) V = vocab_size;
    t->V = V;
    names = cf__calloc((size_t)V, sizeof *names);
    t->special = cf__calloc((size_t)V, 1);
    t->to_spm = cf__malloc((size_t)V * sizeof(int32_t));
    if (!names || !t->special || !t->to_spm) goto oom;
    for (const cJSON *e = root->child; e; e = e->next) {
        int32_t id = (int32_t)e->valuedouble;
        if (names[id]) {
            st = CF_FORMAT_ERR(ctx, "%s: id %d is given to both '%.40s' and '%.40s'", voc_path,
                               id, names[id], e->string);
            goto done;
        }
        names[id] = e->string;
        if (!cf__strmap_put(&map, e->string, strlen(e->string), id, false, NULL)) goto oom;
    }
    t->eos = cf__strmap_get(&map, "</s>", 4);
    t->unk = cf__strmap_get(&map, "<unk>", 5);
    t->pad = cf__strmap_get(&map, "<pad>", 5);
    if (t->eos < 0 || t->unk < 0) {
        st = CF_FORMAT_ERR(ctx, "%s: no id for '%s'", voc_path, t->eos < 0 ? "</s>" : "<unk>");
        goto done;
    }
    int32_t s_unk = -1;
    for (int32_t i = 0; i < cf_tokenizer_vocab_size(t->spm[1]) && s_unk < 0; i++) {
        const char *p = cf_tokenizer_id_to_piece(t->spm[1], i);
        if (p && !strcmp(p, "<unk>")) s_unk = i;
    }
    if (s_unk < 0) s_unk = 0;  // sentencepiece's default unk_id
    for (int32_t i = 0; i < V; i++) {
        const char *p = names[i];
        int32_t s = p ? cf_tokenizer_piece_to_id(t->spm[1], p, strlen(p)) : -1;
        t->to_spm[i] = s >= 0 ? s : s_unk;
        t->special[i] = !p || i == t->eos || i == t->unk || i == t->pad ||
                        (p[0] == '<' && (!strcmp(p, "<s>") || !strcmp(p, "</s>")));
    }
    if ((st = map_side(t, 0, &map)) != CF_OK) goto done;
    if ((st = map_side(t, 1, &map)) != CF_OK) goto done;
    *out = t;
    t = NULL;
    goto done;
oom:
    st = CF_NOMEM(ctx);
done:
    cf__strmap_free(&map);
    cJSON_Delete(root);
    cf__free(names);
    cf__free(text);
    cf__free(src_path);
    cf__free(tgt_path);
    cf__free(voc_path);
    cf_s2s_tokenizer_free(t);
    return st;
}

int32_t cf_s2s_tokenizer_vocab_size(const cf_s2s_tokenizer *t) { return t->V; }
int32_t cf_s2s_tokenizer_eos(const cf_s2s_tokenizer *t) { return t->eos; }
int32_t cf_s2s_tokenizer_unk(const cf_s2s_tokenizer *t) { return t->unk; }
int32_t cf_s2s_tokenizer_pad(const cf_s2s_tokenizer *t) { return t->pad; }

cf_status cf_s2s_tokenizer_encode(cf_s2s_tokenizer *t, cf_s2s_side side, const char *text,
                                  size_t len, int32_t *ids, int64_t cap, int64_t *n_out) {
    *n_out = 0;
    if (side != CF_S2S_SOURCE && side != CF_S2S_TARGET)
        return CF_ERR(t->ctx, CF_ERR_INVALID_ARG, "side %d", (int)side);
    cf_tokenizer *sp = t->spm[side];
    int64_t n = 0;
    for (;;) {
        cf_status st = cf_tokenizer_encode(sp, text, len, 0, t->scratch, t->scratch_cap, &n);
        if (st == CF_OK) break;
        if (st != CF_ERR_RANGE || n <= t->scratch_cap) return st;
        int32_t *s = cf__malloc((size_t)n * sizeof(int32_t));
        if (!s) return CF_NOMEM(t->ctx);
        cf__free(t->scratch);
        t->scratch = s;
        t->scratch_cap = n;
    }
    *n_out = n + 1;
    if (n + 1 > cap) return CF_ERR(t->ctx, CF_ERR_RANGE, "%lld ids do not fit in %lld",
                                   (long long)(n + 1), (long long)cap);
    for (int64_t i = 0; i < n; i++) ids[i] = t->to_model[side][t->scratch[i]];
    ids[n] = t->eos;
    return CF_OK;
}

cf_status cf_s2s_tokenizer_decode(cf_s2s_tokenizer *t, const int32_t *ids, int64_t n, char *buf,
                                  size_t cap, size_t *n_out) {
    *n_out = 0;
    if (n > t->scratch_cap) {
        int32_t *s = cf__malloc((size_t)n * sizeof(int32_t));
        if (!s) return CF_NOMEM(t->ctx);
        cf__free(t->scratch);
        t->scratch = s;
        t->scratch_cap = n;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->V)
            return CF_ERR(t->ctx, CF_ERR_RANGE, "id %d at position %lld is outside [0, %d)",
                          ids[i], (long long)i, t->V);
        if (!t->special[ids[i]]) t->scratch[k++] = t->to_spm[ids[i]];
    }
    return cf_tokenizer_decode(t->spm[1], t->scratch, k, 1, buf, cap, n_out);
}

// ---- the joint vocabulary ----

static void pb_varint(cf_wbuf *b, uint64_t v) {
    uint8_t x[10];
    size_t n = 0;
    do {
        x[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) x[n] |= 0x80;
        n++;
    } while (v);
    cf__wbuf_put(b, x, n);
}

static void pb_key(cf_wbuf *b, uint32_t field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void pb_bytes(cf_wbuf *b, uint32_t field, const void *p, size_t n) {
    pb_key(b, field, 2);
    pb_varint(b, n);
    cf__wbuf_put(b, p, n);
}

static void pb_int(cf_wbuf *b, uint32_t field, int64_t v) {
    pb_key(b, field, 0);
    pb_varint(b, (uint64_t)v);
}

static void pb_float(cf_wbuf *b, uint32_t field, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t x[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    pb_key(b, field, 5);
    cf__wbuf_put(b, x, 4);
}

// pieces[i], scores[i], types[i] (1 normal, 2 unknown, 3 control) -> a ModelProto in out.
static void spm_proto(cf_wbuf *out, const char *const *pieces, const float *scores,
                      const uint8_t *types, int32_t n) {
    cf_wbuf m = {0};
    for (int32_t i = 0; i < n; i++) {
        m.len = 0;
        pb_bytes(&m, 1, pieces[i], strlen(pieces[i]));
        pb_float(&m, 2, scores[i]);
        if (types[i] != 1) pb_int(&m, 3, types[i]);
        pb_bytes(out, 1, m.data, m.len);
    }
    m.len = 0;
    pb_int(&m, 3, 1);
    pb_int(&m, 4, n);
    pb_int(&m, 40, 0);
    pb_int(&m, 41, 1);
    pb_int(&m, 42, 2);
    pb_bytes(&m, 45, "<unk>", 5);
    pb_bytes(&m, 46, "<s>", 3);
    pb_bytes(&m, 47, "</s>", 4);
    pb_bytes(out, 2, m.data, m.len);
    m.len = 0;
    pb_bytes(&m, 1, "identity", 8);
    pb_int(&m, 3, 1);
    pb_int(&m, 4, 1);
    pb_int(&m, 5, 1);
    pb_bytes(out, 3, m.data, m.len);
    if (m.oom) out->oom = true;
    cf__wbuf_free(&m);
}

cf_status cf_s2s_vocab_train(cf_ctx *ctx, const char *text, size_t len, int32_t vocab_size,
                             const char *dir, int32_t *n_vocab) {
    if (n_vocab) *n_vocab = 0;
    if (vocab_size < 300 || vocab_size > VOCAB_MAX)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "vocabulary size %d (must be 300..%d)",
                      vocab_size, VOCAB_MAX);
    CF_TRY(cf__mkdir_p(ctx, dir));
    // The trainer's ids: <unk> 0, <s> 1, </s> 2, then the pieces. Marian's drops <s> and adds
    // <pad> at the end: the same count.
    static const char *const special[] = {"<unk>", "<s>", "</s>", NULL};
    cf_tokenizer_train_params p = cf_tokenizer_default_train_params();
    p.model = CF_TOKENIZER_UNIGRAM;
    p.vocab_size = vocab_size;
    p.special = special;
    char *tmp = cf__path_join(dir, "joint-vocab.tokenizer.json"), *json = NULL;
    char *paths[3] = {cf__path_join(dir, "source.spm"), cf__path_join(dir, "target.spm"),
                      cf__path_join(dir, "vocab.json")};
    cJSON *root = NULL, *vj = NULL;
    const char **pieces = NULL;
    float *scores = NULL;
    uint8_t *types = NULL;
    char *vtext = NULL;
    cf_wbuf proto = {0};
    cf_status st = CF_OK;
    if (!tmp || !paths[0] || !paths[1] || !paths[2]) goto oom;
    if ((st = cf_tokenizer_train(ctx, &p, text, len, tmp)) != CF_OK) goto done;
    size_t size;
    if ((st = cf__file_read(ctx, tmp, VOCAB_JSON_MAX, &json, &size)) != CF_OK) goto done;
    remove(tmp);
    root = cJSON_ParseWithLength(json, size);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    int n = cJSON_GetArraySize(vocab);
    if (!cJSON_IsArray(vocab) || n < 4) {
        st = CF_ERR(ctx, CF_ERR_INTERNAL, "the Unigram trainer wrote no vocabulary");
        goto done;
    }
    pieces = cf__calloc((size_t)n, sizeof *pieces);
    scores = cf__calloc((size_t)n, sizeof *scores);
    types = cf__calloc((size_t)n, 1);
    vj = cJSON_CreateObject();
    if (!pieces || !scores || !types || !vj) goto oom;
    int i = 0;
    for (const cJSON *e = vocab->child; e; e = e->next, i++) {
        const cJSON *s = cJSON_GetArrayItem(e, 0), *f = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsString(s) || !cJSON_IsNumber(f)) {
            st = CF_ERR(ctx, CF_ERR_INTERNAL, "vocabulary entry %d is not [piece, score]", i);
            goto done;
        }
        pieces[i] = s->valuestring;
        scores[i] = i < 3 ? 0.0f : (float)f->valuedouble;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
    }
    spm_proto(&proto, pieces, scores, types, n);
    if (proto.oom) goto oom;
    for (int k = 0; k < 2; k++) {
        const void *chunk[1] = {proto.data};
        size_t lens[1] = {proto.len};
        if ((st = cf__write_atomic(ctx, paths[k], chunk, lens, 1)) != CF_OK) goto done;
    }
    // vocab.json: </s> 0, <unk> 1, the pieces 2.., <pad> last.
    cJSON_AddNumberToObject(vj, "</s>", 0);
    cJSON_AddNumberToObject(vj, "<unk>", 1);
    int next = 2;
    for (int k = 3; k < n; k++) cJSON_AddNumberToObject(vj, pieces[k], next++);
    cJSON_AddNumberToObject(vj, "<pad>", next++);
    vtext = cJSON_Print(vj);
    if (!vtext) goto oom;
    {
        const void *chunk[2] = {vtext, "\n"};
        size_t lens[2] = {strlen(vtext), 1};
        if ((st = cf__write_atomic(ctx, paths[2], chunk, lens, 2)) != CF_OK) goto done;
    }
    if (n_vocab) *n_vocab = next;
    goto done;
oom:
    st = CF_NOMEM(ctx);
done:
    cf__wbuf_free(&proto);
    free(vtext);
    cJSON_Delete(vj);
    cJSON_Delete(root);
    cf__free(pieces);
    cf__free(scores);
    cf__free(types);
    cf__free(json);
    cf__free(tmp);
    for (int k = 0; k < 3; k++) cf__free(paths[k]);
    return st;
}
