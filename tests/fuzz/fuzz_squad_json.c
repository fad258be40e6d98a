// Fuzzes the SQuAD readers and evaluation: the input is a dataset JSON, then (after a NUL byte)
// a predictions JSON, then (after another NUL) a no-answer probability JSON. Whatever parses is
// evaluated under the v1.1 and v2.0 rules; errors must be format/argument errors with a
// message, scores must stay within [0, 100]. Seeds: tests/fuzz/corpus/fuzz_squad_json (small
// hand-made files and cut-down copies of tests/fixtures/eval/squad_*).
#include <string.h>

#include "fuzz_common.h"

static void check_result(const cf_squad_result *r) {
    FUZZ_CHECK(r->exact >= 0 && r->exact <= 100);
    FUZZ_CHECK(r->f1 >= 0 && r->f1 <= 100);
    FUZZ_CHECK(r->has_ans_total + r->no_ans_total == r->total || r->version == CF_SQUAD_V1);
    if (r->has_best) {
        FUZZ_CHECK(r->best_exact >= 0 && r->best_exact <= 100);
        FUZZ_CHECK(r->best_f1 >= 0 && r->best_f1 <= 100);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    const char *s = (const char *)data;
    const char *n1 = memchr(s, 0, size);
    size_t a = n1 ? (size_t)(n1 - s) : size;
    const char *p = n1 ? n1 + 1 : NULL;
    size_t pl = n1 ? size - a - 1 : 0;
    const char *n2 = p ? memchr(p, 0, pl) : NULL;
    const char *na = n2 ? n2 + 1 : NULL;
    size_t nal = n2 ? pl - (size_t)(n2 - p) - 1 : 0;
    if (n2) pl = (size_t)(n2 - p);

    cf_squad *d = NULL;
    cf_status st = cf_squad_parse(ctx, "data.json", s, a, &d);
    if (st != CF_OK) {
        FUZZ_CHECK(d == NULL);
        FUZZ_CHECK(st == CF_ERR_FORMAT || st == CF_ERR_NOMEM);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), "data.json") || st == CF_ERR_NOMEM);
        return 0;
    }
    for (int64_t i = 0; i < cf_squad_size(d); i++) {
        const cf_squad_question *q = cf_squad_get(d, i);
        FUZZ_CHECK(q && q->id && q->context && (int64_t)strlen(q->context) == q->context_len);
        char buf[64];
        size_t n;
        for (int32_t k = 0; k < q->n_answers; k++) {
            cf_status ns = cf_squad_normalize(ctx, q->answers[k], strlen(q->answers[k]), buf,
                                              sizeof buf, &n);
            FUZZ_CHECK(ns == CF_OK || ns == CF_ERR_RANGE || ns == CF_ERR_NOMEM);
            FUZZ_CHECK(ns != CF_OK || n <= sizeof buf);
        }
    }
    cf_squad_preds *pr = NULL;
    if (p) {
        st = cf_squad_preds_parse(ctx, "pred.json", p, pl, "na.json", na, nal, &pr);
        FUZZ_CHECK(st == CF_OK || st == CF_ERR_FORMAT || st == CF_ERR_NOMEM);
        FUZZ_CHECK((st == CF_OK) == (pr != NULL));
    }
    if (pr) {
        const cf_squad_version vs[3] = {CF_SQUAD_AUTO, CF_SQUAD_V1, CF_SQUAD_V2};
        const double th[2] = {1.0, 0.3};
        for (int v = 0; v < 3; v++)
            for (int t = 0; t < 2; t++) {
                cf_squad_result r;
                st = cf_squad_evaluate(ctx, d, pr, vs[v], th[t], &r);
                FUZZ_CHECK(st == CF_OK || st == CF_ERR_INVALID_ARG || st == CF_ERR_NOMEM);
                if (st == CF_OK) check_result(&r);
            }
    }
    cf_squad_preds_free(pr);
    cf_squad_free(d);
    return 0;
}
