// SQuAD evaluation as the official scripts define it (evaluate-v1.1.py, evaluate-v2.0.py):
// reading the dataset and prediction JSON, normalize_answer, exact match, token F1, the v2.0
// HasAns/NoAns breakdown and the no-answer threshold search. Scores are accumulated in the
// same order and with the same floating-point expressions as the scripts, so the printed
// numbers agree to the last digit (tests/fixtures/eval/squad_* come from the scripts).
// Deliberately not here: the v2.0 script's precision-recall curves and plots.
//
// The dataset file:
//   {"version": "1.1" | "v2.0",
//    "data": [ {"title": .., "paragraphs": [ {"context": "...",
//               "qas": [ {"id": "...", "question": "...", "is_impossible": bool,
//                         "answers": [ {"text": "...", "answer_start": N}, ... ]} ]} ]} ]}
// Predictions: {"id": "answer text", ...}; no-answer probabilities: {"id": number, ...}.
#include <cJSON.h>  // defines: cJSON_ParseWithLengthOpts, cJSON_GetObjectItemCaseSensitive
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

#define SQUAD_MAX_FILE ((size_t)4 << 30)

// ---- a string -> index hash (open addressing, FNV-1a) ----
//
// Keys are borrowed: they point to strings that live as long as the map (never moved).

typedef struct idslot {
    const char *key;  // NULL: empty
    int64_t idx;
} idslot;

typedef struct idmap {
    idslot *slot;  // (cap), cap a power of two
    size_t cap, n;
} idmap;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

// The slot holding key, or the empty slot where it would go.
static idslot *idmap_slot(const idmap *m, const char *key) {
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    while (m->slot[i].key && strcmp(m->slot[i].key, key)) i = (i + 1) & (m->cap - 1);
    return &m->slot[i];
}

static int64_t idmap_get(const idmap *m, const char *key) {
    if (!m->n) return -1;
    const idslot *s = idmap_slot(m, key);
    return s->key ? s->idx : -1;
}

// Adds key (not present yet) -> idx, growing the table to a load of at most 1/2.
static bool idmap_put(idmap *m, const char *key, int64_t idx) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        idslot *ns = cf__calloc(cap, sizeof *ns);
        if (!ns) return false;
        idmap old = *m;
        m->slot = ns;
        m->cap = cap;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slot[i].key) *idmap_slot(m, old.slot[i].key) = old.slot[i];
        cf__free(old.slot);
    }
    idslot *s = idmap_slot(m, key);
    s->key = key;
    s->idx = idx;
    m->n++;
    return true;
}

// ---- normalize_answer ----

static bool is_ascii_punct(uint32_t c) {  // Python's string.punctuation
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

static bool is_article(const uint32_t *w, size_t n) {
    if (n == 1) return w[0] == 'a';
    if (n == 2) return w[0] == 'a' && w[1] == 'n';
    return n == 3 && w[0] == 't' && w[1] == 'h' && w[2] == 'e';
}

// lower -> remove_punc -> remove_articles -> white_space_fix. *out: fresh UTF-8 (cf__free).
static bool normalize(const char *s, size_t len, char **out, size_t *out_len) {
    cf__cps in = {0}, low = {0}, np = {0}, res = {0};
    cf__utf8_decode(s, len, &in);
    cf__py_lower(in.v, in.n, &low);
    for (size_t i = 0; i < low.n; i++)
        if (!is_ascii_punct(low.v[i])) cf__cps_push(&np, low.v[i]);
    // \b(a|an|the)\b: a maximal run of word characters that is exactly an article.
    cf__cps na = {0};
    for (size_t i = 0; i < np.n;) {
        if (!cf__py_isword(np.v[i])) {
            cf__cps_push(&na, np.v[i++]);
            continue;
        }
        size_t j = i;
        while (j < np.n && cf__py_isword(np.v[j])) j++;
        if (is_article(np.v + i, j - i)) {
            cf__cps_push(&na, ' ');
        } else {
            for (size_t k = i; k < j; k++) cf__cps_push(&na, np.v[k]);
        }
        i = j;
    }
    // ' '.join(text.split())
    for (size_t i = 0; i < na.n;) {
        if (cf__py_isspace(na.v[i])) {
            i++;
            continue;
        }
        if (res.n) cf__cps_push(&res, ' ');
        while (i < na.n && !cf__py_isspace(na.v[i])) cf__cps_push(&res, na.v[i++]);
    }
    bool ok = !in.oom && !low.oom && !np.oom && !na.oom && !res.oom;
    *out = ok ? cf__utf8_encode(res.v, res.n, out_len) : NULL;
    cf__cps_free(&in);
    cf__cps_free(&low);
    cf__cps_free(&np);
    cf__cps_free(&na);
    cf__cps_free(&res);
    return *out != NULL;
}

cf_status cf_squad_normalize(cf_ctx *ctx, const char *s, size_t len, char *buf, size_t cap,
                             size_t *n_out) {
    char *norm;
    size_t n;
    if (!normalize(s, len, &norm, &n)) return CF_NOMEM(ctx);
    *n_out = n;
    cf_status st = CF_OK;
    if (n > cap) st = CF_ERR(ctx, CF_ERR_RANGE, "buffer of %zu bytes, %zu needed", cap, n);
    else memcpy(buf, norm, n);
    cf__free(norm);
    return st;
}

// ---- exact match and F1 ----

// A normalized answer split into tokens (the normalized text has single spaces).
typedef struct toks {
    char *text;  // normalized, NUL-terminated
    size_t len;
    const char **t;  // (n) sorted token starts
    size_t *tl;      // (n) their lengths, same order
    size_t n;
} toks;

static void toks_free(toks *k) {
    cf__free(k->text);
    cf__free(k->t);
    cf__free(k->tl);
    memset(k, 0, sizeof *k);
}

static int tok_cmp(const char *a, size_t na, const char *b, size_t nb) {
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na < nb ? -1 : na > nb);
}

static bool toks_make(const char *s, size_t len, toks *k) {
    memset(k, 0, sizeof *k);
    if (!normalize(s, len, &k->text, &k->len)) return false;
    size_t n = 0;
    for (size_t i = 0; i < k->len; i++)
        if (k->text[i] != ' ' && (i == 0 || k->text[i - 1] == ' ')) n++;
    k->t = cf__malloc((n ? n : 1) * sizeof *k->t);
    k->tl = cf__malloc((n ? n : 1) * sizeof *k->tl);
    if (!k->t || !k->tl) {
        toks_free(k);
        return false;
    }
    for (size_t i = 0; i < k->len;) {
        size_t j = i;
        while (j < k->len && k->text[j] != ' ') j++;
        // insertion sort: answers are short
        size_t at = k->n;
        while (at > 0 && tok_cmp(k->t[at - 1], k->tl[at - 1], k->text + i, j - i) > 0) {
            k->t[at] = k->t[at - 1];
            k->tl[at] = k->tl[at - 1];
            at--;
        }
        k->t[at] = k->text + i;
        k->tl[at] = j - i;
        k->n++;
        i = j + 1;
    }
    return true;
}

// sum((Counter(a) & Counter(b)).values()) on sorted token lists.
static size_t common_count(const toks *a, const toks *b) {
    size_t i = 0, j = 0, same = 0;
    while (i < a->n && j < b->n) {
        int c = tok_cmp(a->t[i], a->tl[i], b->t[j], b->tl[j]);
        if (c == 0) {
            same++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    return same;
}

static double f1_of(const toks *gold, const toks *pred, cf_squad_version v) {
    size_t same = common_count(gold, pred);
    if (v == CF_SQUAD_V2 && (gold->n == 0 || pred->n == 0))
        return (double)(gold->n == pred->n);  // both empty: 1 (v2.0's no-answer agreement)
    if (same == 0) return 0;
    double precision = 1.0 * (double)same / (double)pred->n;
    double recall = 1.0 * (double)same / (double)gold->n;
    return (2 * precision * recall) / (precision + recall);
}

static double exact_of(const toks *gold, const toks *pred) {
    return (double)(gold->len == pred->len &&
                    (gold->len == 0 || !memcmp(gold->text, pred->text, gold->len)));
}

cf_status cf_squad_score(cf_ctx *ctx, const char *gold, size_t gold_len, const char *pred,
                         size_t pred_len, cf_squad_version version, double *exact, double *f1) {
    toks g, p;
    if (!toks_make(gold, gold_len, &g)) return CF_NOMEM(ctx);
    if (!toks_make(pred, pred_len, &p)) {
        toks_free(&g);
        return CF_NOMEM(ctx);
    }
    *exact = exact_of(&g, &p);
    *f1 = f1_of(&g, &p, version == CF_SQUAD_V1 ? CF_SQUAD_V1 : CF_SQUAD_V2);
    toks_free(&g);
    toks_free(&p);
    return CF_OK;
}

// ---- the dataset ----

struct cf_squad {
    cf_squad_question *q;  // (n)
    int64_t n, cap;
    char **owned;  // every string allocated for the dataset
    int64_t n_owned, cap_owned;
    idmap ids;
    cf_squad_version file_version;
};

void cf_squad_free(cf_squad *d) {
    if (!d) return;
    for (int64_t i = 0; i < d->n_owned; i++) cf__free(d->owned[i]);
    for (int64_t i = 0; i < d->n; i++) {
        cf__free((void *)d->q[i].answers);
        cf__free((void *)d->q[i].answer_starts);
    }
    cf__free(d->owned);
    cf__free(d->q);
    cf__free(d->ids.slot);
    cf__free(d);
}

int64_t cf_squad_size(const cf_squad *d) { return d ? d->n : 0; }

const cf_squad_question *cf_squad_get(const cf_squad *d, int64_t i) {
    return d && i >= 0 && i < d->n ? &d->q[i] : NULL;
}

cf_squad_version cf_squad_file_version(const cf_squad *d) { return d->file_version; }

static char *own(cf_squad *d, const char *s) {
    if (d->n_owned == d->cap_owned) {
        int64_t nc = d->cap_owned ? d->cap_owned * 2 : 256;
        char **no = cf__realloc(d->owned, (size_t)nc * sizeof *no);
        if (!no) return NULL;
        d->owned = no;
        d->cap_owned = nc;
    }
    char *c = cf__strdup(s);
    if (c) d->owned[d->n_owned++] = c;
    return c;
}

// Line and column (1-based) of byte offset off.
static void line_col(const char *s, size_t off, size_t *line, size_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static cJSON *parse_json(cf_ctx *ctx, const char *name, const char *json, size_t len,
                         cf_status *st) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t line, col, off = end && end >= json && end <= json + len ? (size_t)(end - json)
                                                                         : 0;
        line_col(json, off, &line, &col);
        *st = CF_FORMAT_ERR(ctx, "%s: not valid JSON (line %zu, column %zu)", name, line, col);
        return NULL;
    }
    *st = CF_OK;
    return root;
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cf_status add_question(cf_ctx *ctx, cf_squad *d, const char *name, const cJSON *qa,
                              const char *context, size_t context_len, const char *where) {
    if (!cJSON_IsObject(qa)) return CF_FORMAT_ERR(ctx, "%s: %s is not an object", name, where);
    const cJSON *idj = cJSON_GetObjectItemCaseSensitive(qa, "id");
    if (!cJSON_IsString(idj))
        return CF_FORMAT_ERR(ctx, "%s: %s: \"id\" is missing or not a string", name, where);
    const char *id = idj->valuestring;
    const cJSON *qj = cJSON_GetObjectItemCaseSensitive(qa, "question");
    if (qj && !cJSON_IsString(qj))
        return CF_FORMAT_ERR(ctx, "%s: %s (id %s): \"question\" is not a string", name, where, id);
    const cJSON *ans = cJSON_GetObjectItemCaseSensitive(qa, "answers");
    if (!cJSON_IsArray(ans))
        return CF_FORMAT_ERR(ctx, "%s: %s (id %s): \"answers\" is missing or not an array", name,
                             where, id);
    if (d->n == d->cap) {
        int64_t nc = d->cap ? d->cap * 2 : 64;
        cf_squad_question *nq = cf__realloc(d->q, (size_t)nc * sizeof *nq);
        if (!nq) return CF_NOMEM(ctx);
        d->q = nq;
        d->cap = nc;
    }
    if (idmap_get(&d->ids, id) >= 0)
        return CF_FORMAT_ERR(ctx, "%s: %s: duplicate question id %s", name, where, id);
    int na = cJSON_GetArraySize(ans);
    cf_squad_question *q = &d->q[d->n];
    memset(q, 0, sizeof *q);
    const char **texts = cf__calloc((size_t)(na > 0 ? na : 1), sizeof *texts);
    int64_t *starts = cf__calloc((size_t)(na > 0 ? na : 1), sizeof *starts);
    if (!texts || !starts) {
        cf__free(texts);
        cf__free(starts);
        return CF_NOMEM(ctx);
    }
    q->answers = texts;
    q->answer_starts = starts;
    d->n++;  // from here the question is owned by d (freed with it)
    q->id = own(d, id);
    q->question = own(d, qj ? qj->valuestring : "");
    if (!q->id || !q->question || !idmap_put(&d->ids, q->id, d->n - 1)) return CF_NOMEM(ctx);
    q->context = context;
    q->context_len = (int64_t)context_len;
    int k = 0;
    for (const cJSON *a = ans->child; a; a = a->next, k++) {
        const char *t = cJSON_IsObject(a) ? json_str(a, "text") : NULL;
        if (!t)
            return CF_FORMAT_ERR(ctx, "%s: %s (id %s): answers[%d].text is missing or not a "
                                 "string", name, where, id, k);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(a, "answer_start");
        if (s && !cJSON_IsNumber(s))
            return CF_FORMAT_ERR(ctx, "%s: %s (id %s): answers[%d].answer_start is not a number",
                                 name, where, id, k);
        if (!(texts[k] = own(d, t))) return CF_NOMEM(ctx);
        double sv = s ? s->valuedouble : -1;
        starts[k] = sv >= 0 && sv < 9e15 ? (int64_t)sv : -1;
        q->n_answers = k + 1;
    }
    return CF_OK;
}

static cf_status parse_dataset(cf_ctx *ctx, const char *name, const cJSON *root, cf_squad *d) {
    if (!cJSON_IsObject(root)) return CF_FORMAT_ERR(ctx, "%s: the top level is not an object", name);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data))
        return CF_FORMAT_ERR(ctx, "%s: \"data\" is missing or not an array", name);
    char where[128];
    int i = 0;
    for (const cJSON *art = data->child; art; art = art->next, i++) {
        const cJSON *pars = cJSON_IsObject(art) ? cJSON_GetObjectItemCaseSensitive(art,
                                                                                   "paragraphs")
                                                : NULL;
        if (!cJSON_IsArray(pars))
            return CF_FORMAT_ERR(ctx, "%s: data[%d].paragraphs is missing or not an array", name,
                                 i);
        int j = 0;
        for (const cJSON *p = pars->child; p; p = p->next, j++) {
            const cJSON *qas = cJSON_IsObject(p) ? cJSON_GetObjectItemCaseSensitive(p, "qas")
                                                 : NULL;
            if (!cJSON_IsArray(qas))
                return CF_FORMAT_ERR(ctx, "%s: data[%d].paragraphs[%d].qas is missing or not an "
                                     "array", name, i, j);
            const cJSON *cj = cJSON_GetObjectItemCaseSensitive(p, "context");
            if (cj && !cJSON_IsString(cj))
                return CF_FORMAT_ERR(ctx, "%s: data[%d].paragraphs[%d].context is not a string",
                                     name, i, j);
            const char *context = own(d, cj ? cj->valuestring : "");
            if (!context) return CF_NOMEM(ctx);
            size_t clen = strlen(context);
            int k = 0;
            for (const cJSON *qa = qas->child; qa; qa = qa->next, k++) {
                snprintf(where, sizeof where, "data[%d].paragraphs[%d].qas[%d]", i, j, k);
                CF_TRY(add_question(ctx, d, name, qa, context, clen, where));
            }
        }
    }
    const char *ver = json_str(root, "version");
    if (ver && (!strncmp(ver, "1.", 2) || !strncmp(ver, "v1.", 3))) {
        d->file_version = CF_SQUAD_V1;
    } else if (ver && (!strncmp(ver, "2.", 2) || !strncmp(ver, "v2.", 3))) {
        d->file_version = CF_SQUAD_V2;
    } else {
        d->file_version = CF_SQUAD_V1;
        for (int64_t q = 0; q < d->n; q++)
            if (d->q[q].n_answers == 0) d->file_version = CF_SQUAD_V2;
    }
    return CF_OK;
}

cf_status cf_squad_parse(cf_ctx *ctx, const char *name, const char *json, size_t len,
                         cf_squad **out) {
    *out = NULL;
    cf_status st;
    cJSON *root = parse_json(ctx, name, json, len, &st);
    if (!root) return st;
    cf_squad *d = cf__calloc(1, sizeof *d);
    if (!d) {
        cJSON_Delete(root);
        return CF_NOMEM(ctx);
    }
    st = parse_dataset(ctx, name, root, d);
    cJSON_Delete(root);
    if (st != CF_OK) {
        cf_squad_free(d);
        return st;
    }
    *out = d;
    return CF_OK;
}

cf_status cf_squad_load(cf_ctx *ctx, const char *path, cf_squad **out) {
    *out = NULL;
    char *buf;
    size_t size;
    CF_TRY(cf__file_read(ctx, path, SQUAD_MAX_FILE, &buf, &size));
    cf_status st = cf_squad_parse(ctx, path, buf, size, out);
    cf__free(buf);
    return st;
}

// ---- predictions ----

typedef struct pred {
    char *id;
    char *text;      // NULL: no answer given for this id (only a probability)
    size_t len;
    double na_prob;
    int64_t na_pos;  // order of the id's first probability (Python dict order), -1 for none
} pred;

struct cf_squad_preds {
    cf_ctx *ctx;
    pred *p;
    int64_t n, cap;
    int64_t n_na;   // ids with a probability
    int na_given;   // probabilities were supplied (even an empty object)
    idmap ids;
};

cf_status cf_squad_preds_create(cf_ctx *ctx, cf_squad_preds **out) {
    *out = cf__calloc(1, sizeof **out);
    if (!*out) return CF_NOMEM(ctx);
    (*out)->ctx = ctx;
    return CF_OK;
}

void cf_squad_preds_free(cf_squad_preds *p) {
    if (!p) return;
    for (int64_t i = 0; i < p->n; i++) {
        cf__free(p->p[i].id);
        cf__free(p->p[i].text);
    }
    cf__free(p->p);
    cf__free(p->ids.slot);
    cf__free(p);
}

static pred *pred_entry(cf_squad_preds *p, const char *id) {
    int64_t k = idmap_get(&p->ids, id);
    if (k >= 0) return &p->p[k];
    if (p->n == p->cap) {
        int64_t nc = p->cap ? p->cap * 2 : 64;
        pred *np = cf__realloc(p->p, (size_t)nc * sizeof *np);
        if (!np) return NULL;
        p->p = np;
        p->cap = nc;
    }
    pred *e = &p->p[p->n];
    memset(e, 0, sizeof *e);
    e->na_pos = -1;
    if (!(e->id = cf__strdup(id))) return NULL;
    if (!idmap_put(&p->ids, e->id, p->n)) {
        cf__free(e->id);
        return NULL;
    }
    p->n++;
    return e;
}

cf_status cf_squad_preds_set(cf_squad_preds *p, const char *id, const char *text, size_t len) {
    pred *e = pred_entry(p, id);
    char *t = e ? cf__malloc(len + 1) : NULL;
    if (!t) return CF_NOMEM(p->ctx);
    memcpy(t, text, len);
    t[len] = 0;
    cf__free(e->text);
    e->text = t;
    e->len = len;
    return CF_OK;
}

cf_status cf_squad_preds_set_na_prob(cf_squad_preds *p, const char *id, double na_prob) {
    pred *e = pred_entry(p, id);
    if (!e) return CF_NOMEM(p->ctx);
    if (e->na_pos < 0) e->na_pos = p->n_na++;
    e->na_prob = na_prob;
    p->na_given = 1;
    return CF_OK;
}

static cf_status parse_preds(cf_squad_preds *p, const char *name, const char *json, size_t len,
                             int na) {
    cf_status st;
    cJSON *root = parse_json(p->ctx, name, json, len, &st);
    if (!root) return st;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return CF_FORMAT_ERR(p->ctx, "%s: the top level is not an object (id -> %s)", name,
                             na ? "probability" : "answer text");
    }
    if (na) p->na_given = 1;
    for (const cJSON *e = root->child; e && st == CF_OK; e = e->next) {
        const char *id = e->string ? e->string : "";
        if (na && !cJSON_IsNumber(e))
            st = CF_FORMAT_ERR(p->ctx, "%s: the value of id %s is not a number", name, id);
        else if (!na && !cJSON_IsString(e))
            st = CF_FORMAT_ERR(p->ctx, "%s: the answer of id %s is not a string", name, id);
        else if (na)
            st = cf_squad_preds_set_na_prob(p, id, e->valuedouble);
        else
            st = cf_squad_preds_set(p, id, e->valuestring, strlen(e->valuestring));
    }
    cJSON_Delete(root);
    return st;
}

cf_status cf_squad_preds_parse(cf_ctx *ctx, const char *name, const char *json, size_t len,
                               const char *na_name, const char *na_json, size_t na_len,
                               cf_squad_preds **out) {
    *out = NULL;
    cf_squad_preds *p;
    CF_TRY(cf_squad_preds_create(ctx, &p));
    cf_status st = parse_preds(p, name, json, len, 0);
    if (st == CF_OK && na_json) st = parse_preds(p, na_name ? na_name : "na_prob", na_json,
                                                 na_len, 1);
    if (st != CF_OK) {
        cf_squad_preds_free(p);
        return st;
    }
    *out = p;
    return CF_OK;
}

cf_status cf_squad_preds_load(cf_ctx *ctx, const char *path, const char *na_path,
                              cf_squad_preds **out) {
    *out = NULL;
    char *buf = NULL, *na_buf = NULL;
    size_t size = 0, na_size = 0;
    CF_TRY(cf__file_read(ctx, path, SQUAD_MAX_FILE, &buf, &size));
    cf_status st = na_path ? cf__file_read(ctx, na_path, SQUAD_MAX_FILE, &na_buf, &na_size)
                           : CF_OK;
    if (st == CF_OK) st = cf_squad_preds_parse(ctx, path, buf, size, na_path, na_buf, na_size, out);
    cf__free(buf);
    cf__free(na_buf);
    return st;
}

// ---- evaluation ----

static const pred *pred_get(const cf_squad_preds *p, const char *id) {
    int64_t k = idmap_get(&p->ids, id);
    return k >= 0 ? &p->p[k] : NULL;
}

// Scores one question: the max over its gold answers (V2: gold answers that normalize to
// nothing are dropped, and [""] stands for none).
static cf_status score_question(cf_ctx *ctx, const cf_squad_question *q, const pred *pr,
                                cf_squad_version v, double *em, double *f1) {
    toks pt;
    if (!toks_make(pr->text, pr->len, &pt)) return CF_NOMEM(ctx);
    *em = 0;
    *f1 = 0;
    int used = 0;
    for (int32_t a = 0; a < q->n_answers; a++) {
        toks gt;
        if (!toks_make(q->answers[a], strlen(q->answers[a]), &gt)) {
            toks_free(&pt);
            return CF_NOMEM(ctx);
        }
        if (v == CF_SQUAD_V1 || gt.len > 0) {
            double e = exact_of(&gt, &pt), f = f1_of(&gt, &pt, v);
            *em = used && *em >= e ? *em : e;
            *f1 = used && *f1 >= f ? *f1 : f;
            used = 1;
        }
        toks_free(&gt);
    }
    if (!used) {  // V2, no usable gold answer: the gold is ""
        toks gt = {0};
        *em = exact_of(&gt, &pt);
        *f1 = f1_of(&gt, &pt, v);
    }
    toks_free(&pt);
    return CF_OK;
}

typedef struct na_item {
    double prob;
    int64_t pos;
    int64_t q;  // question index, -1 when the id is not in the dataset
} na_item;

static int na_cmp(const void *a, const void *b) {  // sorted(..., key=prob): stable by position
    const na_item *x = a, *y = b;
    if (x->prob < y->prob) return -1;
    if (x->prob > y->prob) return 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

// find_best_thresh of the v2.0 script over raw scores.
static void best_thresh(const cf_squad *d, const na_item *order,
                        int64_t n_order, const double *raw, const pred *const *qp,
                        double *best, double *thresh) {
    double cur = 0;
    for (int64_t i = 0; i < d->n; i++) cur += d->q[i].n_answers == 0;
    double best_score = cur;
    *thresh = 0.0;
    for (int64_t k = 0; k < n_order; k++) {
        int64_t q = order[k].q;
        if (q < 0) continue;
        double diff = d->q[q].n_answers > 0 ? raw[q] : (qp[q]->len ? -1 : 0);
        cur += diff;
        if (cur > best_score) {
            best_score = cur;
            *thresh = order[k].prob;
        }
    }
    *best = 100.0 * best_score / (double)d->n;
}

cf_status cf_squad_evaluate(cf_ctx *ctx, const cf_squad *d, const cf_squad_preds *p,
                            cf_squad_version version, double na_prob_thresh,
                            cf_squad_result *out) {
    memset(out, 0, sizeof *out);
    cf_squad_version v = version == CF_SQUAD_AUTO ? d->file_version : version;
    if (v != CF_SQUAD_V1 && v != CF_SQUAD_V2)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "unknown SQuAD version %d", (int)version);
    if (d->n == 0) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "the dataset has no questions");
    out->version = v;
    out->total = d->n;
    size_t n = (size_t)d->n;
    double *em = cf__calloc(n, sizeof *em), *f1 = cf__calloc(n, sizeof *f1);
    const pred **qp = cf__calloc(n, sizeof *qp);
    na_item *order = NULL;
    cf_status st = CF_OK;
    if (!em || !f1 || !qp) {
        st = CF_NOMEM(ctx);
        goto done;
    }
    for (int64_t i = 0; i < d->n && st == CF_OK; i++) {
        const cf_squad_question *q = &d->q[i];
        const pred *pr = pred_get(p, q->id);
        if (pr && !pr->text) pr = NULL;  // a probability without an answer
        qp[i] = pr;
        if (v == CF_SQUAD_V1) {
            if (!pr) {
                out->n_missing++;  // "Unanswered question ... will receive score 0."
            } else if (q->n_answers == 0) {
                st = CF_ERR(ctx, CF_ERR_INVALID_ARG, "question %s has no gold answer: the v1.1 "
                            "rules cannot score it (use the v2.0 rules)", q->id);
            } else {
                st = score_question(ctx, q, pr, v, &em[i], &f1[i]);
            }
            continue;
        }
        if (!pr) {
            st = CF_ERR(ctx, CF_ERR_INVALID_ARG, "no prediction for question %s (the v2.0 "
                        "rules need one for every question)", q->id);
            break;
        }
        const pred *np = pred_get(p, q->id);
        if (p->na_given && (!np || np->na_pos < 0)) {
            st = CF_ERR(ctx, CF_ERR_INVALID_ARG, "no no-answer probability for question %s",
                        q->id);
            break;
        }
        st = score_question(ctx, q, pr, v, &em[i], &f1[i]);
    }
    if (st != CF_OK) goto done;
    if (v == CF_SQUAD_V1) {
        double se = 0, sf = 0;
        for (size_t i = 0; i < n; i++) {
            se += em[i];
            sf += f1[i];
        }
        out->exact = 100.0 * se / (double)n;
        out->f1 = 100.0 * sf / (double)n;
        goto done;
    }
    // V2: apply_no_ans_threshold, then the totals and the HasAns/NoAns breakdown.
    double se = 0, sf = 0, he = 0, hf = 0, ne = 0, nf = 0;
    for (size_t i = 0; i < n; i++) {
        const cf_squad_question *q = &d->q[i];
        double prob = p->na_given ? pred_get(p, q->id)->na_prob : 0.0;
        int has = q->n_answers > 0;
        double e = em[i], f = f1[i];
        if (prob > na_prob_thresh) e = f = (double)!has;
        se += e;
        sf += f;
        if (has) {
            he += e;
            hf += f;
            out->has_ans_total++;
        } else {
            ne += e;
            nf += f;
            out->no_ans_total++;
        }
    }
    out->exact = 100.0 * se / (double)n;
    out->f1 = 100.0 * sf / (double)n;
    if (out->has_ans_total) {
        out->has_ans_exact = 100.0 * he / (double)out->has_ans_total;
        out->has_ans_f1 = 100.0 * hf / (double)out->has_ans_total;
    }
    if (out->no_ans_total) {
        out->no_ans_exact = 100.0 * ne / (double)out->no_ans_total;
        out->no_ans_f1 = 100.0 * nf / (double)out->no_ans_total;
    }
    if (p->na_given) {
        order = cf__malloc((size_t)(p->n_na ? p->n_na : 1) * sizeof *order);
        if (!order) {
            st = CF_NOMEM(ctx);
            goto done;
        }
        int64_t k = 0;
        for (int64_t i = 0; i < p->n; i++) {
            const pred *e = &p->p[i];
            if (e->na_pos < 0) continue;
            int64_t q = idmap_get(&d->ids, e->id);
            order[k].prob = e->na_prob;
            order[k].pos = e->na_pos;
            order[k].q = q;
            k++;
        }
        qsort(order, (size_t)k, sizeof *order, na_cmp);
        best_thresh(d, order, k, em, qp, &out->best_exact, &out->best_exact_thresh);
        best_thresh(d, order, k, f1, qp, &out->best_f1, &out->best_f1_thresh);
        out->has_best = 1;
    }
done:
    cf__free(em);
    cf__free(f1);
    cf__free((void *)qp);
    cf__free(order);
    return st;
}
