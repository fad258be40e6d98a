// Fuzzes the labelled-text TSV reader (cf_tsv_parse) and the classification metrics on what it
// reads: rows, labels in range, accuracy and macro-F1 within [0, 1]. Seeds:
// tests/fuzz/corpus/fuzz_tsv (SST-2 and GLUE-style files, broken rows).
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    cf_tsv *t = NULL;
    cf_status st = cf_tsv_parse(ctx, "x.tsv", (const char *)data, size, &t);
    if (st != CF_OK) {
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK(st == CF_ERR_FORMAT || st == CF_ERR_NOMEM);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), "x.tsv") || st == CF_ERR_NOMEM);
        return 0;
    }
    int64_t n = cf_tsv_size(t);
    int32_t nc = cf_tsv_n_classes(t);
    FUZZ_CHECK(n >= 1 && nc >= 1);
    int32_t *gold = malloc((size_t)n * sizeof *gold), *pred = malloc((size_t)n * sizeof *pred);
    FUZZ_CHECK(gold && pred);
    for (int64_t i = 0; i < n; i++) {
        FUZZ_CHECK(cf_tsv_text(t, i) != NULL);
        gold[i] = cf_tsv_label(t, i);
        FUZZ_CHECK(gold[i] >= 0 && gold[i] < nc);
        FUZZ_CHECK(cf_tsv_label_name(t, gold[i]) != NULL);
        pred[i] = (int32_t)((gold[i] + (i % 3 == 0)) % nc);
    }
    cf_classify_result r;
    st = cf_classify_score(ctx, gold, pred, n, nc, NULL, NULL, &r);
    FUZZ_CHECK(st == CF_OK || st == CF_ERR_NOMEM);
    if (st == CF_OK) {
        FUZZ_CHECK(r.accuracy >= 0 && r.accuracy <= 1);
        FUZZ_CHECK(r.macro_f1 >= 0 && r.macro_f1 <= 1);
    }
    free(gold);
    free(pred);
    cf_tsv_free(t);
    return 0;
}
