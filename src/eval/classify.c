// Classification metrics (accuracy, macro-F1, confusion counts) and the labelled-text TSV
// reader used for SST-2 style data.
//
// Macro-F1 follows scikit-learn's f1_score(average="macro") with its default labels: the
// classes that occur in gold or pred, each with F1 = 2 TP / (2 TP + FP + FN) (the same value
// as 2PR / (P + R), and 0 when TP = 0), averaged with equal weight. A class that occurs in
// neither list is not averaged, so 0/0 (zero_division) never arises.
//
// TSV file: one example per line, `label<TAB>text`; or GLUE's files, whose first line is the
// header `sentence<TAB>label` or `label<TAB>sentence` ("text", "content" accepted for "sentence"):
// the column order then follows the header. Lines end at '\n' (a '\r' before it is dropped);
// blank lines are skipped. Deliberately not here: quoting (GLUE files use none).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

#define TSV_MAX_FILE ((size_t)4 << 30)
#define TSV_MAX_INT_LABEL 65535

cf_status cf_classify_score(cf_ctx *ctx, const int32_t *gold, const int32_t *pred, int64_t n,
                            int32_t n_classes, int64_t *confusion, double *f1_per_class,
                            cf_classify_result *out) {
    memset(out, 0, sizeof *out);
    if (n < 1) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no examples to score");
    if (n_classes < 1) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "n_classes must be >= 1");
    for (int64_t i = 0; i < n; i++) {
        if (gold[i] < 0 || gold[i] >= n_classes)
            return CF_ERR(ctx, CF_ERR_RANGE, "gold label %d of example %lld is outside [0, %d)",
                          gold[i], (long long)i, n_classes);
        if (pred[i] < 0 || pred[i] >= n_classes)
            return CF_ERR(ctx, CF_ERR_RANGE, "predicted label %d of example %lld is outside "
                          "[0, %d)", pred[i], (long long)i, n_classes);
    }
    // tp, fp, fn per class
    int64_t *c = cf__calloc((size_t)n_classes * 3, sizeof *c);
    if (!c) return CF_NOMEM(ctx);
    int64_t *tp = c, *fp = c + n_classes, *fn = c + 2 * n_classes;
    if (confusion) memset(confusion, 0, (size_t)n_classes * (size_t)n_classes * sizeof *confusion);
    for (int64_t i = 0; i < n; i++) {
        int32_t g = gold[i], p = pred[i];
        if (confusion) confusion[(int64_t)g * n_classes + p]++;
        if (g == p) {
            tp[g]++;
            out->n_correct++;
        } else {
            fp[p]++;
            fn[g]++;
        }
    }
    double sum = 0;
    for (int32_t k = 0; k < n_classes; k++) {
        double f = 0;
        if (tp[k] + fp[k] + fn[k] > 0) {
            f = 2.0 * (double)tp[k] / (double)(2 * tp[k] + fp[k] + fn[k]);
            sum += f;
            out->n_classes_seen++;
        }
        if (f1_per_class) f1_per_class[k] = f;
    }
    cf__free(c);
    out->n = n;
    out->accuracy = (double)out->n_correct / (double)n;
    out->macro_f1 = sum / (double)out->n_classes_seen;
    return CF_OK;
}

// ---- the TSV reader ----

struct cf_tsv {
    char **text;     // (n)
    char **label;    // (n) the label strings as read
    int32_t *id;     // (n)
    int64_t n, cap;
    char **names;    // (n_classes) borrowed from label[], NULL where no row has the id
    int32_t n_classes;
};

void cf_tsv_free(cf_tsv *t) {
    if (!t) return;
    for (int64_t i = 0; i < t->n; i++) {
        cf__free(t->text[i]);
        cf__free(t->label[i]);
    }
    cf__free(t->text);
    cf__free(t->label);
    cf__free(t->id);
    cf__free(t->names);
    cf__free(t);
}

int64_t cf_tsv_size(const cf_tsv *t) { return t ? t->n : 0; }
int32_t cf_tsv_n_classes(const cf_tsv *t) { return t ? t->n_classes : 0; }
const char *cf_tsv_text(const cf_tsv *t, int64_t i) {
    return t && i >= 0 && i < t->n ? t->text[i] : NULL;
}
int32_t cf_tsv_label(const cf_tsv *t, int64_t i) {
    return t && i >= 0 && i < t->n ? t->id[i] : -1;
}
const char *cf_tsv_label_name(const cf_tsv *t, int32_t id) {
    return t && id >= 0 && id < t->n_classes ? t->names[id] : NULL;
}

static char *dup_n(const char *s, size_t n) {
    char *c = cf__malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

static bool push_row(cf_tsv *t, const char *label, size_t nl, const char *text, size_t nt) {
    if (t->n == t->cap) {
        int64_t nc = t->cap ? t->cap * 2 : 256;
        char **a = cf__realloc(t->text, (size_t)nc * sizeof *a);
        if (!a) return false;
        t->text = a;
        char **b = cf__realloc(t->label, (size_t)nc * sizeof *b);
        if (!b) return false;
        t->label = b;
        t->cap = nc;
    }
    char *x = dup_n(text, nt), *y = dup_n(label, nl);
    if (!x || !y) {
        cf__free(x);
        cf__free(y);
        return false;
    }
    t->text[t->n] = x;
    t->label[t->n] = y;
    t->n++;
    return true;
}

static bool is_text_col(const char *s, size_t n) {
    return (n == 8 && !memcmp(s, "sentence", 8)) || (n == 4 && !memcmp(s, "text", 4)) ||
           (n == 7 && !memcmp(s, "content", 7));  // the SST-2 dev file of the shared data
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Class ids: integer labels keep their value, otherwise the sorted distinct strings.
static cf_status assign_ids(cf_ctx *ctx, const char *name, cf_tsv *t) {
    t->id = cf__malloc((size_t)(t->n ? t->n : 1) * sizeof *t->id);
    if (!t->id) return CF_NOMEM(ctx);
    bool ints = true;
    for (int64_t i = 0; i < t->n && ints; i++) {
        const char *s = t->label[i];
        size_t len = strlen(s);
        ints = len > 0 && len <= 5;
        for (size_t k = 0; k < len && ints; k++) ints = s[k] >= '0' && s[k] <= '9';
        if (ints) ints = atol(s) <= TSV_MAX_INT_LABEL;
    }
    int32_t n_classes = 0;
    if (ints) {
        for (int64_t i = 0; i < t->n; i++) {
            t->id[i] = (int32_t)atol(t->label[i]);
            if (t->id[i] + 1 > n_classes) n_classes = t->id[i] + 1;
        }
    } else {
        char **s = cf__malloc((size_t)t->n * sizeof *s);
        if (!s) return CF_NOMEM(ctx);
        memcpy(s, t->label, (size_t)t->n * sizeof *s);
        qsort(s, (size_t)t->n, sizeof *s, cmp_str);
        int64_t u = 0;
        for (int64_t i = 0; i < t->n; i++)
            if (!u || strcmp(s[u - 1], s[i])) s[u++] = s[i];
        if (u > INT32_MAX) {
            cf__free(s);
            return CF_FORMAT_ERR(ctx, "%s: too many distinct labels", name);
        }
        for (int64_t i = 0; i < t->n; i++) {
            char **hit = bsearch(&t->label[i], s, (size_t)u, sizeof *s, cmp_str);
            t->id[i] = (int32_t)(hit - s);
        }
        cf__free(s);
        n_classes = (int32_t)u;
    }
    t->n_classes = n_classes;
    t->names = cf__calloc((size_t)(n_classes ? n_classes : 1), sizeof *t->names);
    if (!t->names) return CF_NOMEM(ctx);
    for (int64_t i = 0; i < t->n; i++)
        if (!t->names[t->id[i]]) t->names[t->id[i]] = t->label[i];
    return CF_OK;
}

static cf_status parse_tsv(cf_ctx *ctx, const char *name, const char *data, size_t len,
                           cf_tsv *t) {
    int label_col = 0;  // 0: label first
    bool first = true;
    size_t line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *s = data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (n && s[n - 1] == '\r') n--;
        if (n == 0) continue;
        const char *tab = memchr(s, '\t', n);
        if (!tab)
            return CF_FORMAT_ERR(ctx, "%s:%zu: no tab (expected label<TAB>text)", name, line);
        size_t a = (size_t)(tab - s);
        const char *rest = tab + 1;
        size_t b = n - a - 1;
        if (memchr(rest, '\t', b)) {
            size_t fields = 1;
            for (size_t k = 0; k < n; k++) fields += s[k] == '\t';
            return CF_FORMAT_ERR(ctx, "%s:%zu: %zu tab-separated fields, expected 2 (label and "
                                 "text)", name, line, fields);
        }
        if (first) {
            first = false;
            if (is_text_col(s, a) && b == 5 && !memcmp(rest, "label", 5)) {
                label_col = 1;
                continue;
            }
            if (a == 5 && !memcmp(s, "label", 5) && is_text_col(rest, b)) continue;
        }
        const char *lab = label_col ? rest : s, *txt = label_col ? s : rest;
        size_t nlab = label_col ? b : a, ntxt = label_col ? a : b;
        if (nlab == 0) return CF_FORMAT_ERR(ctx, "%s:%zu: empty label", name, line);
        if (memchr(lab, 0, nlab) || memchr(txt, 0, ntxt))
            return CF_FORMAT_ERR(ctx, "%s:%zu: NUL byte in the row", name, line);
        if (!push_row(t, lab, nlab, txt, ntxt)) return CF_NOMEM(ctx);
    }
    if (t->n == 0) return CF_FORMAT_ERR(ctx, "%s: no examples", name);
    return assign_ids(ctx, name, t);
}

cf_status cf_tsv_parse(cf_ctx *ctx, const char *name, const char *data, size_t len,
                       cf_tsv **out) {
    *out = NULL;
    cf_tsv *t = cf__calloc(1, sizeof *t);
    if (!t) return CF_NOMEM(ctx);
    cf_status st = parse_tsv(ctx, name, data, len, t);
    if (st != CF_OK) {
        cf_tsv_free(t);
        return st;
    }
    *out = t;
    return CF_OK;
}

cf_status cf_tsv_load(cf_ctx *ctx, const char *path, cf_tsv **out) {
    *out = NULL;
    char *buf;
    size_t size;
    CF_TRY(cf__file_read(ctx, path, TSV_MAX_FILE, &buf, &size));
    cf_status st = cf_tsv_parse(ctx, path, buf, size, out);
    cf__free(buf);
    return st;
}
