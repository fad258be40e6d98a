// Fuzzes BLEU's text path: the input's lines (split at '\n'; the part after the first NUL byte
// gives the references, else each line is its own reference shifted by one) are tokenized by
// the 13a rules (plain and lower-cased) and scored. Invalid UTF-8 and odd characters must
// neither crash nor give a score outside [0, 100]. Seeds: tests/fuzz/corpus/fuzz_bleu.
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

// Splits s[0..n) at '\n' into fresh NUL-terminated strings; returns their count.
static int split(const char *s, size_t n, char ***out) {
    int count = 1;
    for (size_t i = 0; i < n; i++) count += s[i] == '\n';
    char **l = calloc((size_t)count, sizeof *l);
    FUZZ_CHECK(l != NULL);
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || s[i] == '\n') {
            l[k] = malloc(i - start + 1);
            FUZZ_CHECK(l[k] != NULL);
            memcpy(l[k], s + start, i - start);
            l[k][i - start] = 0;
            k++;
            start = i + 1;
        }
    *out = l;
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    const char *s = (const char *)data;
    const char *nul = memchr(s, 0, size);
    size_t a = nul ? (size_t)(nul - s) : size;
    char **hyp, **ref;
    int nh = split(s, a, &hyp);
    int nr = nul ? split(nul + 1, size - a - 1, &ref) : split(s, a, &ref);
    for (int lc = 0; lc < 2; lc++) {
        cf_bleu_params p = cf_bleu_default_params();
        p.lowercase = lc;
        for (int i = 0; i < nh; i++) {
            char buf[256];
            size_t n = 0;
            cf_status st = cf_bleu_tokenize(ctx, hyp[i], strlen(hyp[i]), &p, buf, sizeof buf, &n);
            FUZZ_CHECK(st == CF_OK || st == CF_ERR_RANGE || st == CF_ERR_NOMEM);
            FUZZ_CHECK(st != CF_OK || n <= sizeof buf);
        }
        int n = nh < nr ? nh : nr;
        const char **rs = malloc((size_t)n * sizeof *rs);
        FUZZ_CHECK(rs != NULL);
        for (int i = 0; i < n; i++) rs[i] = nul ? ref[i] : ref[(i + 1) % n];
        const char *const *refs[2] = {rs, rs};
        cf_bleu_result r;
        cf_status st = cf_bleu_corpus(ctx, (const char *const *)hyp, n, refs, 1 + lc, &p, &r);
        FUZZ_CHECK(st == CF_OK || st == CF_ERR_NOMEM);
        if (st == CF_OK) {
            FUZZ_CHECK(r.score >= 0 && r.score <= 100 + 1e-9);
            FUZZ_CHECK(r.bp >= 0 && r.bp <= 1);
            for (int k = 0; k < 4; k++) FUZZ_CHECK(r.correct[k] <= r.total[k]);
        }
        free(rs);
    }
    for (int i = 0; i < nh; i++) free(hyp[i]);
    for (int i = 0; i < nr; i++) free(ref[i]);
    free(hyp);
    free(ref);
    return 0;
}
