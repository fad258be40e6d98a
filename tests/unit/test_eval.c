// Evaluation metrics: SQuAD (against the official scripts' outputs in tests/fixtures/eval,
// written by tools/gen_squad_refs.py, plus hand-worked cases), classification metrics and the
// TSV reader (hand-worked), QA windows and span selection (hand-made logits), BLEU (hand-worked
// cases and sacreBLEU's outputs from tools/gen_bleu_refs.py) and the `cformer bleu` command.
#include <cJSON.h>  // defines: cJSON_Parse (reading the fixtures)
#include <stdlib.h>
#include <sys/wait.h>

#include "../../src/internal.h"  // defines: cf__file_read
#include "../test.h"

static cf_ctx *ctx1(void) {
    cf_ctx_params p = cf_ctx_default_params();
    p.n_threads = 1;
    cf_ctx *ctx = NULL;
    CF_CHECK_STATUS(cf_ctx_create(&p, &ctx), CF_OK);
    return ctx;
}

static cJSON *read_json(cf_ctx *ctx, const char *name) {
    char *buf;
    size_t size;
    if (cf__file_read(ctx, cf_test_fixture(name), (size_t)1 << 26, &buf, &size) != CF_OK) {
        fprintf(stderr, "  cannot read fixture %s\n", name);
        cf_test_failures++;
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(buf, size);
    cf__free(buf);
    CF_CHECK(j != NULL);
    return j;
}

static void write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CF_CHECK(f != NULL);
    if (!f) return;
    CF_CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static const char *tmp_path(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", cf_test_tmpdir(), name);
    return buf[k];
}

// ---- SQuAD ----

static void check_norm(cf_ctx *ctx, const char *in, const char *want) {
    char buf[512];
    size_t n = 0;
    CF_CHECK_STATUS(cf_squad_normalize(ctx, in, strlen(in), buf, sizeof buf, &n), CF_OK);
    if (n != strlen(want) || memcmp(buf, want, n)) {
        fprintf(stderr, "  normalize('%s') = '%.*s', want '%s'\n", in, (int)n, buf, want);
        cf_test_failures++;
    }
}

// Worked by hand from normalize_answer: lower(), drop string.punctuation, drop the words
// a/an/the (\b is Python re's Unicode word boundary), ' '.join(split()).
static void test_squad_normalize_hand(void) {
    cf_ctx *ctx = ctx1();
    check_norm(ctx, "The Cat", "cat");
    check_norm(ctx, "A cat and an apple", "cat and apple");
    check_norm(ctx, "Theatre another", "theatre another");  // articles only as whole words
    check_norm(ctx, "(the)", "");            // punctuation goes first, then the article
    check_norm(ctx, "_the_", "");            // '_' is in string.punctuation
    check_norm(ctx, "x-the-y", "xthey");     // the hyphens vanish, no word boundary is left
    check_norm(ctx, "rock'n'roll", "rocknroll");
    check_norm(ctx, "  lots \t of\nspace  ", "lots of space");
    check_norm(ctx, "a\xc2\xa0" "b", "b");    // NBSP is whitespace for str.split()
    check_norm(ctx, "x\xe2\x80\x8b" "y", "x\xe2\x80\x8b" "y");  // U+200B is not ...
    check_norm(ctx, "a\xe2\x80\x8b" "b", "\xe2\x80\x8b" "b");  // ... nor a word char: "a" goes
    check_norm(ctx, "caf\xc3\x89 na\xc3\xafve", "caf\xc3\xa9 na\xc3\xafve");  // Unicode lower
    check_norm(ctx, "\xce\x9f\xce\x94\xce\x9f\xce\xa3", "\xce\xbf\xce\xb4\xce\xbf\xcf\x82");  // final sigma
    check_norm(ctx, "\xce\xa3", "\xcf\x83");  // a lone capital sigma is not final
    check_norm(ctx, "\xc4\xb0", "i\xcc\x87");  // U+0130 lowers to i + U+0307
    check_norm(ctx, "the\xcc\x81 cat", "\xcc\x81 cat");  // a combining mark is not a word char
    check_norm(ctx, "\xc2\xbfQu\xc3\xa9?", "\xc2\xbfqu\xc3\xa9");  // only ASCII punctuation goes
    check_norm(ctx, "", "");
    char small[2];
    size_t n = 0;
    CF_CHECK_STATUS(cf_squad_normalize(ctx, "hello", 5, small, sizeof small, &n), CF_ERR_RANGE);
    CF_CHECK_EQ(n, 5);
    cf_ctx_free(ctx);
}

// Every normalize_answer output the official scripts gave for hard strings.
static void test_squad_normalize_fixture(void) {
    cf_ctx *ctx = ctx1();
    cJSON *j = read_json(ctx, "eval/squad_expected.json");
    const cJSON *norm = cJSON_GetObjectItem(j, "normalize");
    int n = 0;
    for (const cJSON *e = norm ? norm->child : NULL; e; e = e->next, n++)
        check_norm(ctx, cJSON_GetArrayItem(e, 0)->valuestring,
                   cJSON_GetArrayItem(e, 1)->valuestring);
    CF_CHECK(n >= 90);
    cJSON_Delete(j);
    cf_ctx_free(ctx);
}

// exact_match_score/f1_score (v1.1) and compute_exact/compute_f1 (v2.0) on random pairs.
static void test_squad_pairs_fixture(void) {
    cf_ctx *ctx = ctx1();
    cJSON *j = read_json(ctx, "eval/squad_expected.json");
    const cJSON *pairs = cJSON_GetObjectItem(j, "pairs");
    int n = 0;
    for (const cJSON *e = pairs ? pairs->child : NULL; e; e = e->next, n++) {
        const char *g = cJSON_GetArrayItem(e, 0)->valuestring;
        const char *p = cJSON_GetArrayItem(e, 1)->valuestring;
        double em, f1;
        CF_CHECK_STATUS(cf_squad_score(ctx, g, strlen(g), p, strlen(p), CF_SQUAD_V1, &em, &f1),
                        CF_OK);
        CF_CHECK_EQ(em, cJSON_GetArrayItem(e, 2)->valueint);
        CF_CHECK(f1 == strtod(cJSON_GetArrayItem(e, 3)->valuestring, NULL));
        CF_CHECK_STATUS(cf_squad_score(ctx, g, strlen(g), p, strlen(p), CF_SQUAD_V2, &em, &f1),
                        CF_OK);
        CF_CHECK_EQ(em, cJSON_GetArrayItem(e, 4)->valueint);
        CF_CHECK(f1 == strtod(cJSON_GetArrayItem(e, 5)->valuestring, NULL));
    }
    CF_CHECK_EQ(n, 80);
    cJSON_Delete(j);
    cf_ctx_free(ctx);
}

static void score(cf_ctx *ctx, const char *g, const char *p, cf_squad_version v, double em_want,
                  double f1_want) {
    double em = -1, f1 = -1;
    CF_CHECK_STATUS(cf_squad_score(ctx, g, strlen(g), p, strlen(p), v, &em, &f1), CF_OK);
    CF_CHECK_NEAR(em, em_want, 0);
    CF_CHECK_NEAR(f1, f1_want, 1e-15);
}

static void test_squad_score_hand(void) {
    cf_ctx *ctx = ctx1();
    // gold "the cat sat on the mat" -> [cat sat on mat]; pred [cat on mat]: 3 in common,
    // P = 3/3, R = 3/4, F1 = 2 * 1 * 0.75 / 1.75 = 6/7.
    score(ctx, "the cat sat on the mat", "Cat on mat.", CF_SQUAD_V1, 0, 6.0 / 7.0);
    // Counter overlap: gold {x:1, y:2, z:1}, pred {y:3} -> 2 in common; P = 2/3, R = 2/4,
    // F1 = 2 (2/3)(1/2) / (2/3 + 1/2) = 4/7.
    score(ctx, "x y y z", "y y y", CF_SQUAD_V2, 0, 4.0 / 7.0);
    score(ctx, "The Answer!", "answer", CF_SQUAD_V1, 1, 1);
    // Both normalize to nothing: v1.1's f1_score gives 0 (no common token), v2.0's gives 1.
    score(ctx, "the", "", CF_SQUAD_V1, 1, 0);
    score(ctx, "the", "", CF_SQUAD_V2, 1, 1);
    score(ctx, "", "something", CF_SQUAD_V2, 0, 0);
    score(ctx, "a b", "", CF_SQUAD_V2, 0, 0);
    cf_ctx_free(ctx);
}

static double fx(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (!cJSON_IsString(v)) {
        fprintf(stderr, "  fixture lacks %s\n", k);
        cf_test_failures++;
        return -1;
    }
    return strtod(v->valuestring, NULL);
}

// Scores must equal the scripts' to the last bit: same sums in the same order.
#define CHECK_SAME(got, want) CF_CHECK_NEAR(got, want, 0)

static void test_squad_eval_v1_fixture(void) {
    cf_ctx *ctx = ctx1();
    cJSON *j = read_json(ctx, "eval/squad_expected.json");
    const cJSON *r = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "results"), "v1");
    cf_squad *d = NULL;
    cf_squad_preds *p = NULL;
    CF_CHECK_STATUS(cf_squad_load(ctx, cf_test_fixture("eval/squad_v1.json"), &d), CF_OK);
    CF_CHECK_STATUS(cf_squad_preds_load(ctx, cf_test_fixture("eval/squad_v1_pred.json"), NULL,
                                        &p), CF_OK);
    if (d && p) {
        CF_CHECK_EQ(cf_squad_file_version(d), CF_SQUAD_V1);
        CF_CHECK_EQ(cf_squad_size(d), 45);
        const cf_squad_question *q = cf_squad_get(d, 0);
        CF_CHECK(q && !strcmp(q->id, "q000") && q->n_answers >= 1 && q->context_len > 0);
        CF_CHECK(cf_squad_get(d, 45) == NULL);
        cf_squad_result res;
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_AUTO, 1.0, &res), CF_OK);
        CF_CHECK_EQ(res.version, CF_SQUAD_V1);
        CF_CHECK_EQ(res.total, 45);
        CF_CHECK_EQ(res.n_missing, 1);
        CHECK_SAME(res.exact, fx(r, "exact_match"));
        CHECK_SAME(res.f1, fx(r, "f1"));
        // The same dataset under the v2.0 rules, with "" for the missing prediction.
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_V2, 1.0, &res), CF_ERR_INVALID_ARG);
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "q007");
        CF_CHECK_STATUS(cf_squad_preds_set(p, "q007", "", 0), CF_OK);
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_V2, 1.0, &res), CF_OK);
        const cJSON *r2 = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "results"), "v1_as_v2");
        CHECK_SAME(res.exact, fx(r2, "exact"));
        CHECK_SAME(res.f1, fx(r2, "f1"));
        CHECK_SAME(res.has_ans_f1, fx(r2, "HasAns_f1"));
        CF_CHECK_EQ(res.no_ans_total, 0);
    }
    cf_squad_preds_free(p);
    cf_squad_free(d);
    cJSON_Delete(j);
    cf_ctx_free(ctx);
}

static void check_v2(const cf_squad_result *res, const cJSON *r, int best) {
    CF_CHECK_EQ(res->version, CF_SQUAD_V2);
    CF_CHECK_EQ(res->total, (int64_t)fx(r, "total"));
    CHECK_SAME(res->exact, fx(r, "exact"));
    CHECK_SAME(res->f1, fx(r, "f1"));
    CF_CHECK_EQ(res->has_ans_total, (int64_t)fx(r, "HasAns_total"));
    CHECK_SAME(res->has_ans_exact, fx(r, "HasAns_exact"));
    CHECK_SAME(res->has_ans_f1, fx(r, "HasAns_f1"));
    CF_CHECK_EQ(res->no_ans_total, (int64_t)fx(r, "NoAns_total"));
    CHECK_SAME(res->no_ans_exact, fx(r, "NoAns_exact"));
    CHECK_SAME(res->no_ans_f1, fx(r, "NoAns_f1"));
    CF_CHECK_EQ(res->has_best, best);
    if (best) {
        CHECK_SAME(res->best_exact, fx(r, "best_exact"));
        CHECK_SAME(res->best_exact_thresh, fx(r, "best_exact_thresh"));
        CHECK_SAME(res->best_f1, fx(r, "best_f1"));
        CHECK_SAME(res->best_f1_thresh, fx(r, "best_f1_thresh"));
    }
}

static void test_squad_eval_v2_fixture(void) {
    cf_ctx *ctx = ctx1();
    cJSON *j = read_json(ctx, "eval/squad_expected.json");
    const cJSON *results = cJSON_GetObjectItem(j, "results");
    cf_squad *d = NULL;
    cf_squad_preds *p = NULL, *pn = NULL;
    CF_CHECK_STATUS(cf_squad_load(ctx, cf_test_fixture("eval/squad_v2.json"), &d), CF_OK);
    CF_CHECK_STATUS(cf_squad_preds_load(ctx, cf_test_fixture("eval/squad_v2_pred.json"), NULL,
                                        &p), CF_OK);
    char na_path[1024];  // cf_test_fixture returns a static buffer
    snprintf(na_path, sizeof na_path, "%s", cf_test_fixture("eval/squad_v2_na.json"));
    CF_CHECK_STATUS(cf_squad_preds_load(ctx, cf_test_fixture("eval/squad_v2_pred.json"), na_path,
                                        &pn), CF_OK);
    if (d && p && pn) {
        CF_CHECK_EQ(cf_squad_file_version(d), CF_SQUAD_V2);
        cf_squad_result res;
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_AUTO, 1.0, &res), CF_OK);
        check_v2(&res, cJSON_GetObjectItem(results, "v2_plain"), 0);
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, pn, CF_SQUAD_AUTO, 1.0, &res), CF_OK);
        check_v2(&res, cJSON_GetObjectItem(results, "v2_na_1.0"), 1);
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, pn, CF_SQUAD_AUTO, 0.5, &res), CF_OK);
        check_v2(&res, cJSON_GetObjectItem(results, "v2_na_0.5"), 1);
        // v1.1 rules refuse unanswerable questions (the script's max() of nothing).
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_V1, 1.0, &res), CF_ERR_INVALID_ARG);
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "no gold answer");
    }
    cf_squad_preds_free(p);
    cf_squad_preds_free(pn);
    cf_squad_free(d);
    cJSON_Delete(j);
    cf_ctx_free(ctx);
}

// A tiny v2.0 case worked by hand, including the threshold search.
static void test_squad_eval_hand(void) {
    cf_ctx *ctx = ctx1();
    const char *data =
        "{\"version\": \"v2.0\", \"data\": [{\"paragraphs\": [{\"context\": \"ctx\", \"qas\": ["
        "{\"id\": \"a\", \"answers\": [{\"text\": \"the red cat\"}, {\"text\": \"cat\"}]},"
        "{\"id\": \"b\", \"answers\": []},"
        "{\"id\": \"c\", \"answers\": [{\"text\": \"blue sky\"}]}]}]}]}";
    const char *preds = "{\"a\": \"red cat\", \"b\": \"something\", \"c\": \"\"}";
    const char *na = "{\"c\": 0.9, \"a\": 0.2, \"b\": 0.8}";
    cf_squad *d = NULL;
    cf_squad_preds *p = NULL;
    CF_CHECK_STATUS(cf_squad_parse(ctx, "hand.json", data, strlen(data), &d), CF_OK);
    CF_CHECK_STATUS(cf_squad_preds_parse(ctx, "p.json", preds, strlen(preds), "na.json", na,
                                         strlen(na), &p), CF_OK);
    if (d && p) {
        cf_squad_result r;
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_AUTO, 1.0, &r), CF_OK);
        // a: EM max(0 vs "red cat"... "red cat" == "red cat"? gold 1 normalizes to "red cat":
        //    EM 1, F1 1. b: gold [""] vs "something": 0, 0. c: "" vs "blue sky": 0, 0.
        CF_CHECK_NEAR(r.exact, 100.0 / 3, 1e-12);
        CF_CHECK_NEAR(r.f1, 100.0 / 3, 1e-12);
        CF_CHECK_EQ(r.has_ans_total, 2);
        CF_CHECK_NEAR(r.has_ans_exact, 50, 0);
        CF_CHECK_EQ(r.no_ans_total, 1);
        CF_CHECK_NEAR(r.no_ans_exact, 0, 0);
        // Threshold search over probabilities sorted: a 0.2, b 0.8, c 0.9. Start at the number
        // of unanswerable questions (1); a: +1 (its score) -> 2 at 0.2; b: has no answer but
        // a prediction -> -1 -> 1; c: +0 -> 1. Best 2 of 3 at threshold 0.2.
        CF_CHECK(r.has_best);
        CF_CHECK_NEAR(r.best_exact, 200.0 / 3, 1e-12);
        CF_CHECK_NEAR(r.best_exact_thresh, 0.2, 0);
        // --na-prob-thresh 0.5: b (0.8) and c (0.9) become "", b is right then, c wrong.
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_AUTO, 0.5, &r), CF_OK);
        CF_CHECK_NEAR(r.exact, 200.0 / 3, 1e-12);
        CF_CHECK_NEAR(r.no_ans_exact, 100, 0);
    }
    cf_squad_preds_free(p);
    cf_squad_free(d);
    cf_ctx_free(ctx);
}

static void expect_bad_squad(cf_ctx *ctx, const char *json, const char *msg) {
    cf_squad *d = (cf_squad *)1;
    cf_status st = cf_squad_parse(ctx, "bad.json", json, strlen(json), &d);
    CF_CHECK_STATUS(st, CF_ERR_FORMAT);
    CF_CHECK(d == NULL);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "bad.json");
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), msg);
}

static void test_squad_bad_files(void) {
    cf_ctx *ctx = ctx1();
    expect_bad_squad(ctx, "{\"data\": [\n{\"paragraphs\": [}]}", "line 2");
    expect_bad_squad(ctx, "[]", "top level");
    expect_bad_squad(ctx, "{\"version\": \"1.1\"}", "\"data\"");
    expect_bad_squad(ctx, "{\"data\": [{\"title\": \"x\"}]}", "data[0].paragraphs");
    expect_bad_squad(ctx, "{\"data\": [{\"paragraphs\": [{\"context\": 5, \"qas\": []}]}]}",
                     "context is not a string");
    expect_bad_squad(ctx, "{\"data\": [{\"paragraphs\": [{\"qas\": [{\"id\": \"Q1\"}]}]}]}",
                     "(id Q1): \"answers\"");
    expect_bad_squad(ctx, "{\"data\": [{\"paragraphs\": [{\"qas\": [{\"id\": 7, \"answers\": "
                          "[]}]}]}]}", "\"id\" is missing or not a string");
    expect_bad_squad(ctx, "{\"data\": [{\"paragraphs\": [{\"qas\": [{\"id\": \"Q2\", "
                          "\"answers\": [{\"text\": 1}]}]}]}]}", "(id Q2): answers[0].text");
    expect_bad_squad(ctx, "{\"data\": [{\"paragraphs\": [{\"qas\": [{\"id\": \"Q3\", "
                          "\"answers\": []}, {\"id\": \"Q3\", \"answers\": []}]}]}]}",
                     "duplicate question id Q3");
    cf_squad_preds *p = (cf_squad_preds *)1;
    CF_CHECK_STATUS(cf_squad_preds_parse(ctx, "p.json", "{\"Q9\": 3}", 9, NULL, NULL, 0, &p),
                    CF_ERR_FORMAT);
    CF_CHECK(p == NULL);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "p.json: the answer of id Q9 is not a string");
    CF_CHECK_STATUS(cf_squad_preds_parse(ctx, "p.json", "{}", 2, "na.json", "{\"Q8\": \"x\"}",
                                         11, &p), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "na.json: the value of id Q8 is not a number");
    CF_CHECK_STATUS(cf_squad_preds_parse(ctx, "p.json", "[1]", 3, NULL, NULL, 0, &p),
                    CF_ERR_FORMAT);
    CF_CHECK_STATUS(cf_squad_load(ctx, tmp_path("missing.json"), (cf_squad **)&p), CF_ERR_IO);
    // Predictions: the later duplicate key wins (as Python's json.load).
    const char *data = "{\"data\": [{\"paragraphs\": [{\"qas\": [{\"id\": \"a\", \"answers\": "
                       "[{\"text\": \"x\"}]}]}]}]}";
    cf_squad *d = NULL;
    CF_CHECK_STATUS(cf_squad_parse(ctx, "d.json", data, strlen(data), &d), CF_OK);
    CF_CHECK_STATUS(cf_squad_preds_parse(ctx, "p.json", "{\"a\": \"y\", \"a\": \"x\"}", 20, NULL,
                                         NULL, 0, &p), CF_OK);
    cf_squad_result r;
    if (d && p) {
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_AUTO, 1.0, &r), CF_OK);
        CF_CHECK_NEAR(r.exact, 100, 0);
        CF_CHECK_EQ(r.version, CF_SQUAD_V1);  // no version field, every question answerable
    }
    cf_squad_preds_free(p);
    // v2.0 with probabilities that miss a question.
    CF_CHECK_STATUS(cf_squad_preds_parse(ctx, "p.json", "{\"a\": \"x\"}", 10, "na.json",
                                         "{\"b\": 0.5}", 10, &p), CF_OK);
    if (d && p) {
        CF_CHECK_STATUS(cf_squad_evaluate(ctx, d, p, CF_SQUAD_V2, 1.0, &r), CF_ERR_INVALID_ARG);
        CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "no no-answer probability for question a");
    }
    cf_squad_preds_free(p);
    cf_squad_free(d);
    cf_ctx_free(ctx);
}

// ---- classification ----

static void test_classify_hand(void) {
    cf_ctx *ctx = ctx1();
    // gold 0 0 1 1 2, pred 0 1 1 1 0, 4 classes (3 never occurs).
    // class 0: TP 1, FP 1 (ex 4), FN 1 (ex 1) -> F1 2/4 = 0.5
    // class 1: TP 2, FP 1 (ex 1), FN 0        -> F1 4/5 = 0.8
    // class 2: TP 0, FP 0, FN 1 (ex 4)        -> F1 0
    // class 3: absent from both, not averaged -> macro (0.5 + 0.8 + 0) / 3 = 0.4333...
    // (sklearn's f1_score(average="macro") with labels = the classes seen gives the same.)
    int32_t gold[] = {0, 0, 1, 1, 2}, pred[] = {0, 1, 1, 1, 0};
    int64_t conf[16];
    double f1[4];
    cf_classify_result r;
    CF_CHECK_STATUS(cf_classify_score(ctx, gold, pred, 5, 4, conf, f1, &r), CF_OK);
    CF_CHECK_EQ(r.n, 5);
    CF_CHECK_EQ(r.n_correct, 3);
    CF_CHECK_NEAR(r.accuracy, 0.6, 1e-15);
    CF_CHECK_NEAR(f1[0], 0.5, 1e-15);
    CF_CHECK_NEAR(f1[1], 0.8, 1e-15);
    CF_CHECK_NEAR(f1[2], 0.0, 0);
    CF_CHECK_NEAR(f1[3], 0.0, 0);
    CF_CHECK_EQ(r.n_classes_seen, 3);
    CF_CHECK_NEAR(r.macro_f1, 1.3 / 3, 1e-15);
    int64_t want[16] = {1, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};  // [gold][pred]
    for (int i = 0; i < 16; i++) CF_CHECK_EQ(conf[i], want[i]);
    // Perfect predictions: accuracy 1, macro-F1 1.
    CF_CHECK_STATUS(cf_classify_score(ctx, gold, gold, 5, 3, NULL, NULL, &r), CF_OK);
    CF_CHECK_NEAR(r.macro_f1, 1, 0);
    int32_t bad[] = {0, 0, 7, 1, 2};
    CF_CHECK_STATUS(cf_classify_score(ctx, gold, bad, 5, 3, NULL, NULL, &r), CF_ERR_RANGE);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "example 2");
    CF_CHECK_STATUS(cf_classify_score(ctx, gold, pred, 0, 3, NULL, NULL, &r), CF_ERR_INVALID_ARG);
    cf_ctx_free(ctx);
}

static void test_tsv(void) {
    cf_ctx *ctx = ctx1();
    cf_tsv *t = NULL;
    const char *a = "1\tgreat movie\r\n0\tterrible\n\n1\tfine , really\n";
    CF_CHECK_STATUS(cf_tsv_parse(ctx, "a.tsv", a, strlen(a), &t), CF_OK);
    CF_CHECK_EQ(cf_tsv_size(t), 3);
    CF_CHECK_EQ(cf_tsv_n_classes(t), 2);
    CF_CHECK(!strcmp(cf_tsv_text(t, 0), "great movie"));
    CF_CHECK_EQ(cf_tsv_label(t, 1), 0);
    CF_CHECK(!strcmp(cf_tsv_label_name(t, 1), "1"));
    CF_CHECK(cf_tsv_text(t, 3) == NULL);
    cf_tsv_free(t);
    // GLUE SST-2: header "sentence<TAB>label", label last.
    const char *g = "sentence\tlabel\nit 's a charming journey . \t1\nbad\t0";
    CF_CHECK_STATUS(cf_tsv_parse(ctx, "dev.tsv", g, strlen(g), &t), CF_OK);
    CF_CHECK_EQ(cf_tsv_size(t), 2);
    CF_CHECK(t && !strcmp(cf_tsv_text(t, 0), "it 's a charming journey . "));
    CF_CHECK_EQ(cf_tsv_label(t, 0), 1);
    cf_tsv_free(t);
    const char *h = "label\tsentence\n2\tx\n";
    CF_CHECK_STATUS(cf_tsv_parse(ctx, "h.tsv", h, strlen(h), &t), CF_OK);
    CF_CHECK_EQ(cf_tsv_size(t), 1);
    CF_CHECK_EQ(cf_tsv_n_classes(t), 3);
    CF_CHECK(cf_tsv_label_name(t, 0) == NULL);
    cf_tsv_free(t);
    // Named labels: ids in byte order of the names.
    const char *n = "positive\tgood\nnegative\tbad\nneutral\tmeh\npositive\tnice\n";
    CF_CHECK_STATUS(cf_tsv_parse(ctx, "n.tsv", n, strlen(n), &t), CF_OK);
    CF_CHECK_EQ(cf_tsv_n_classes(t), 3);
    CF_CHECK_EQ(cf_tsv_label(t, 0), 2);
    CF_CHECK_EQ(cf_tsv_label(t, 1), 0);
    CF_CHECK_EQ(cf_tsv_label(t, 2), 1);
    CF_CHECK(!strcmp(cf_tsv_label_name(t, 2), "positive"));
    cf_tsv_free(t);
    // Broken rows: file:line and what is wrong.
    const char *b1 = "1\tok\nno tab here\n";
    CF_CHECK_STATUS(cf_tsv_parse(ctx, "b.tsv", b1, strlen(b1), &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "b.tsv:2: no tab");
    const char *b2 = "1\tok\n\n1\ta\tb\n";
    CF_CHECK_STATUS(cf_tsv_parse(ctx, "b.tsv", b2, strlen(b2), &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "b.tsv:3: 3 tab-separated fields");
    const char *b3 = "\tno label\n";
    CF_CHECK_STATUS(cf_tsv_parse(ctx, "b.tsv", b3, strlen(b3), &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "b.tsv:1: empty label");
    CF_CHECK_STATUS(cf_tsv_parse(ctx, "e.tsv", "\n\n", 2, &t), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "no examples");
    CF_CHECK(t == NULL);
    write_file(tmp_path("f.tsv"), a, strlen(a));
    CF_CHECK_STATUS(cf_tsv_load(ctx, tmp_path("f.tsv"), &t), CF_OK);
    CF_CHECK_EQ(cf_tsv_size(t), 3);
    cf_tsv_free(t);
    cf_ctx_free(ctx);
}

// ---- QA windows and spans ----

// A window by hand: [CLS] q q [SEP] c c c c c [SEP] with the context tokens at byte offsets
// 0-3, 4-7, 8-11, 12-15, 16-19 ("aaa bbb ccc ddd eee").
static int64_t OFFS[10][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}, {0, 3},
                              {4, 7},   {8, 11},  {12, 15}, {16, 19}, {-1, -1}};
static uint8_t ISC[10] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 0};

static void hand_windows(cf_qa_windows *w, cf_qa_window *win, int n) {
    for (int k = 0; k < n; k++) {
        memset(&win[k], 0, sizeof win[k]);
        win[k].n_tokens = 10;
        win[k].offsets = &OFFS[0][0];
        win[k].is_context = ISC;
    }
    w->n_windows = n;
    w->max_len = 10;
    w->w = win;
}

static void test_qa_span_hand(void) {
    cf_ctx *ctx = ctx1();
    cf_qa_window win[2];
    cf_qa_windows w;
    hand_windows(&w, win, 1);
    cf_qa_params p = cf_qa_default_params();
    cf_qa_answer a;
    // Start best at 5, end best at 7: "bbb ccc ddd" = bytes 4..15, score 3 + 4.
    float s1[10] = {0, 0, 0, 0, 1, 3, 0, 0, 0, 0}, e1[10] = {0, 0, 0, 0, 0, 0, 1, 4, 0, 0};
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s1, e1, 10, &p, &a), CF_OK);
    CF_CHECK_EQ(a.start, 4);
    CF_CHECK_EQ(a.end, 15);
    CF_CHECK_EQ(a.start_token, 5);
    CF_CHECK_EQ(a.end_token, 7);
    CF_CHECK_NEAR(a.score, 7, 0);
    CF_CHECK_EQ(a.is_null, 0);
    // max_answer_len 2: (5,7) is 3 tokens; best allowed: (5,6) = 3 + 1 = 4, tied with
    // (6,7) = 0 + 4 but found first (start 5 is visited before start 6).
    p.max_answer_len = 2;
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s1, e1, 10, &p, &a), CF_OK);
    CF_CHECK_EQ(a.start_token, 5);
    CF_CHECK_EQ(a.end_token, 6);
    p = cf_qa_default_params();
    // End before start is never taken: the best start is 8 (5), the best end 4 (6), so the
    // candidates are (8,8) = 5 + 2 = 7 and (4,4) = 1 + 6 = 7, ... A tie keeps the order of
    // discovery (Python's stable sort): starts are visited best first, so (8,8) wins.
    float s2[10] = {0, 0, 0, 0, 1, 0, 0, 0, 5, 0}, e2[10] = {0, 0, 0, 0, 6, 0, 0, 0, 2, 0};
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s2, e2, 10, &p, &a), CF_OK);
    CF_CHECK_EQ(a.start_token, 8);
    CF_CHECK_EQ(a.end_token, 8);
    CF_CHECK_NEAR(a.score, 7, 0);
    // Question tokens take top-k slots: n_best 2 over start logits where positions 1 and 2
    // (question) are the highest: no context start survives, so no span at all.
    float s3[10] = {0, 9, 8, 0, 1, 0, 0, 0, 0, 0}, e3[10] = {0, 0, 0, 0, 0, 5, 0, 0, 0, 0};
    p.n_best = 2;
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s3, e3, 10, &p, &a), CF_OK);
    CF_CHECK_EQ(a.placeholder, 1);
    p.n_best = 3;  // now position 4 is among the top 3 starts
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s3, e3, 10, &p, &a), CF_OK);
    CF_CHECK_EQ(a.placeholder, 0);
    CF_CHECK_EQ(a.start, 0);
    CF_CHECK_EQ(a.end, 7);
    // Two windows: the better span is in the second.
    hand_windows(&w, win, 2);
    p = cf_qa_default_params();
    float s4[20] = {0, 0, 0, 0, 2, 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0, 0, 3, 0, 0, 0};
    float e4[20] = {0, 0, 0, 0, 2, 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0, 0, 0, 0, 3, 0};
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s4, e4, 10, &p, &a), CF_OK);
    CF_CHECK_EQ(a.window, 1);
    CF_CHECK_EQ(a.start, 8);
    CF_CHECK_EQ(a.end, 19);
    // SQuAD 2.0: null score = min over windows of CLS start + end = min(1 + 1, 0.5 + 1) = 1.5;
    // best non-null 3 + 3 = 6; diff 1.5 - 6 = -4.5 <= 0: the span wins.
    s4[0] = 1;
    e4[0] = 1;
    s4[10] = 0.5f;
    e4[10] = 1;
    p.version_2 = 1;
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s4, e4, 10, &p, &a), CF_OK);
    CF_CHECK_NEAR(a.null_score, 1.5, 0);
    CF_CHECK_NEAR(a.score_diff, -4.5, 0);
    CF_CHECK_EQ(a.is_null, 0);
    CF_CHECK_EQ(a.start, 8);
    // With CLS logits of 4 + 4 in both windows: null 8, diff 8 - 6 = 2 > 0: no answer.
    s4[0] = e4[0] = s4[10] = e4[10] = 4;
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s4, e4, 10, &p, &a), CF_OK);
    CF_CHECK_EQ(a.is_null, 1);
    CF_CHECK_NEAR(a.score_diff, 2, 0);
    p.null_threshold = 2.5;  // a threshold above the difference keeps the span
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s4, e4, 10, &p, &a), CF_OK);
    CF_CHECK_EQ(a.is_null, 0);
    CF_CHECK_EQ(a.end, 19);
    // Padded logits (T > window length) and bad arguments.
    float s5[24] = {0}, e5[24] = {0};
    s5[11] = 50;  // padding position of window 0: never a span
    e5[11] = 50;
    s5[4] = 1;
    e5[4] = 1;
    p = cf_qa_default_params();
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s5, e5, 12, &p, &a), CF_OK);
    CF_CHECK_EQ(a.start_token, 4);
    CF_CHECK_EQ(a.window, 0);
    CF_CHECK_STATUS(cf_qa_best_span(ctx, &w, s5, e5, 9, &p, &a), CF_ERR_INVALID_ARG);
    cf_ctx_free(ctx);
}

// Windows on a byte tokenizer (no special tokens: question then context), worked by hand.
static void test_qa_windows_byte(void) {
    cf_ctx *ctx = ctx1();
    cf_tokenizer *tok = NULL;
    CF_CHECK_STATUS(cf_tokenizer_create_byte(ctx, &tok), CF_OK);
    cf_qa_windows *w = NULL;
    // question "ab" (leading spaces stripped), context 10 bytes, max_len 6: room for 4 context
    // tokens; stride 1 -> windows start every 3: [0,4) [3,7) [6,10).
    CF_CHECK_STATUS(cf_qa_windows_build(ctx, tok, "  ab", 4, "0123456789", 10, 6, 1, &w), CF_OK);
    if (w) {
        CF_CHECK_EQ(w->n_windows, 3);
        int64_t starts[3] = {0, 3, 6};
        for (int k = 0; k < 3 && k < w->n_windows; k++) {
            const cf_qa_window *x = &w->w[k];
            CF_CHECK_EQ(x->n_tokens, 6);
            CF_CHECK_EQ(x->ids[0], 'a');
            CF_CHECK_EQ(x->is_context[1], 0);
            CF_CHECK_EQ(x->is_context[2], 1);
            CF_CHECK_EQ(x->offsets[2 * 2], starts[k]);
            CF_CHECK_EQ(x->ids[2], '0' + starts[k]);
            CF_CHECK_EQ(x->offsets[2 * 5 + 1], starts[k] + 4);
            CF_CHECK_EQ(x->offsets[0], -1);
        }
    }
    cf_qa_windows_free(w);
    // Fits in one window: nothing is cut.
    CF_CHECK_STATUS(cf_qa_windows_build(ctx, tok, "q", 1, "abc", 3, 64, 16, &w), CF_OK);
    CF_CHECK(w && w->n_windows == 1 && w->w[0].n_tokens == 4);
    cf_qa_windows_free(w);
    // The last window ends exactly at the end: [0,4) [2,6); no third window.
    CF_CHECK_STATUS(cf_qa_windows_build(ctx, tok, "q", 1, "abcdef", 6, 5, 2, &w), CF_OK);
    CF_CHECK(w && w->n_windows == 2);
    cf_qa_windows_free(w);
    w = NULL;
    CF_CHECK_STATUS(cf_qa_windows_build(ctx, tok, "ab", 2, "0123456789", 10, 6, 4, &w),
                    CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "doc_stride 4");
    CF_CHECK_STATUS(cf_qa_windows_build(ctx, tok, "abcdef", 6, "0123456789", 10, 6, 1, &w),
                    CF_ERR_INVALID_ARG);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "no room for the context");
    CF_CHECK(w == NULL);
    cf_tokenizer_free(tok);
    cf_ctx_free(ctx);
}

// Windows on a BERT WordPiece tokenizer: [CLS] q [SEP] slice [SEP] in every window, slices
// as the full encoding's context tokens cut by the HF rule, offsets into the context.
static void test_qa_windows_bert(void) {
    cf_ctx *ctx = ctx1();
    cf_tokenizer *tok = NULL;
    CF_CHECK_STATUS(cf_tokenizer_load(ctx, cf_test_fixture("tokenizers/wordpiece_uncased.json"),
                                      0, &tok), CF_OK);
    if (!tok) {
        cf_ctx_free(ctx);
        return;
    }
    const char *q = "who won the game?";
    const char *c = "the denver broncos won the super bowl in february of the year 2016 , "
                    "beating the carolina panthers by ten points at levi's stadium .";
    cf_token full[256];
    int64_t nf = 0;
    CF_CHECK_STATUS(cf_tokenizer_encode_tokens(tok, q, strlen(q), c, strlen(c), 1, full, 256,
                                               &nf), CF_OK);
    int64_t nq = 0, nc = 0;
    for (int64_t i = 0; i < nf; i++) {
        nq += full[i].seq == 0;
        nc += full[i].seq == 1;
    }
    int64_t n_special = nf - nq - nc, max_len = nq + n_special + 8, stride = 3;
    cf_qa_windows *w = NULL;
    CF_CHECK_STATUS(cf_qa_windows_build(ctx, tok, q, strlen(q), c, strlen(c), max_len, stride,
                                        &w), CF_OK);
    if (w) {
        // 8 context tokens per window, each starting 5 after the previous.
        int64_t want = 1;
        for (int64_t s = 0; s + 8 < nc; s += 5) want++;
        CF_CHECK_EQ(w->n_windows, want);
        int64_t first_ctx = nq + 2;  // [CLS] q.. [SEP]
        for (int64_t k = 0; k < w->n_windows; k++) {
            const cf_qa_window *x = &w->w[k];
            int64_t lo = 5 * k, hi = lo + 8 < nc ? lo + 8 : nc;
            CF_CHECK_EQ(x->n_tokens, nq + n_special + (hi - lo));
            CF_CHECK_EQ(x->ids[0], full[0].id);                  // [CLS]
            CF_CHECK_EQ(x->ids[x->n_tokens - 1], full[nf - 1].id);  // [SEP]
            for (int64_t i = 0; i < hi - lo; i++) {
                const cf_token *t = &full[first_ctx + lo + i];
                CF_CHECK_EQ(x->ids[nq + 2 + i], t->id);
                CF_CHECK_EQ(x->offsets[2 * (nq + 2 + i)], t->start);
                CF_CHECK_EQ(x->is_context[nq + 2 + i], 1);
                CF_CHECK_EQ(x->type_ids[nq + 2 + i], 1);
            }
            CF_CHECK_EQ(x->is_context[nq + 1], 0);
        }
    }
    cf_qa_windows_free(w);
    cf_tokenizer_free(tok);
    cf_ctx_free(ctx);
}

// ---- BLEU ----

static void check_tok(cf_ctx *ctx, const char *in, const char *want, int lowercase) {
    char buf[1024];
    size_t n = 0;
    cf_bleu_params p = cf_bleu_default_params();
    p.lowercase = lowercase;
    CF_CHECK_STATUS(cf_bleu_tokenize(ctx, in, strlen(in), &p, buf, sizeof buf, &n), CF_OK);
    if (n != strlen(want) || memcmp(buf, want, n)) {
        fprintf(stderr, "  13a('%s') = '%.*s', want '%s'\n", in, (int)n, buf, want);
        cf_test_failures++;
    }
}

// The 13a rules worked by hand (and confirmed with sacreBLEU 2.6.0).
static void test_bleu_tokenize_hand(void) {
    cf_ctx *ctx = ctx1();
    // '$' and ',' '.' split, unless the period/comma sits between digits (3.5, 1,000).
    check_tok(ctx, "It costs $3.5, or 1,000 dollars.", "It costs $ 3.5 , or 1,000 dollars .", 0);
    // '-' splits only after a digit.
    check_tok(ctx, "state-of-the-art 2-3 10-", "state-of-the-art 2 - 3 10 -", 0);
    // Entities, in order quot, amp, lt, gt: "&amp;lt;" becomes "&lt;" and then "<".
    check_tok(ctx, "AT&amp;T &lt;b&gt; &amp;lt; &quot;q&quot;", "AT & T < b > < \" q \"", 0);
    check_tok(ctx, "a<skipped>b <skipped>", "ab", 0);
    check_tok(ctx, "e.g. U.S.", "e . g . U . S .", 0);
    // Regex passes consume their match: "a.." splits the second period in the next pass.
    check_tok(ctx, "a..b ,,x 3..4 5,,6", "a . . b , , x 3 . . 4 5 , , 6", 0);
    check_tok(ctx, "x.5 5.x .5. (a)[b]{c}", "x . 5 5 . x . 5 . ( a ) [ b ] { c }", 0);
    check_tok(ctx, "Hello, world!  \t", "Hello , world !", 0);
    check_tok(ctx, "\xc3\x89" "COLE \xce\xa3\xce\x9f\xce\xa6\xce\x99\xce\x91\xce\xa3", "\xc3\xa9"
              "cole \xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1\xcf\x82", 1);  // -lc, final sigma
    check_tok(ctx, "a\xc2\xa0" "b\xe3\x80\x80" "c", "a b c", 0);  // Unicode whitespace splits
    check_tok(ctx, "bad \xff\xfe byte", "bad \xef\xbf\xbd\xef\xbf\xbd byte", 0);  // U+FFFD each
    check_tok(ctx, "", "", 0);
    cf_ctx_free(ctx);
}

static void bleu1(cf_ctx *ctx, const char *hyp, const char *ref, cf_bleu_result *r) {
    const char *h[1] = {hyp}, *rr[1] = {ref};
    const char *const *refs[1] = {rr};
    CF_CHECK_STATUS(cf_bleu_corpus(ctx, h, 1, refs, 1, NULL, r), CF_OK);
}

static void test_bleu_hand(void) {
    cf_ctx *ctx = ctx1();
    cf_bleu_result r;
    char line[256];
    // Perfect match: every precision 100, BP 1 -> 100.
    bleu1(ctx, "the cat sat on the mat", "the cat sat on the mat", &r);
    CF_CHECK_NEAR(r.score, 100, 1e-12);
    cf_bleu_format(&r, line, sizeof line);
    CF_CHECK(!strcmp(line, "BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 "
                           "hyp_len = 6 ref_len = 6)"));
    // No 3- or 4-gram match ('exp' smoothing): hyp [the cat the mat], ref [the cat sat on the
    // mat]. 1-grams 4/4; 2-grams {the cat, cat the, the mat}: 2/3; 3-grams 0/2; 4-grams 0/1.
    // exp smoothing: p3 = 100 / (2 * 2) = 25, p4 = 100 / (4 * 1) = 25.
    // BP = exp(1 - 6/4) = exp(-0.5) = 0.60653. BLEU = BP * (100 * 66.667 * 25 * 25)^(1/4)
    //    = 0.60653 * 45.180 = 27.403 (sacreBLEU: 27.403115968356843).
    bleu1(ctx, "the cat the mat", "the cat sat on the mat", &r);
    CF_CHECK_EQ(r.correct[0], 4);
    CF_CHECK_EQ(r.correct[1], 2);
    CF_CHECK_EQ(r.correct[2], 0);
    CF_CHECK_EQ(r.total[2], 2);
    CF_CHECK_EQ(r.total[3], 1);
    CF_CHECK_NEAR(r.precisions[2], 25, 0);
    CF_CHECK_NEAR(r.precisions[3], 25, 0);
    double want = exp(-0.5) * exp((log(100.0) + log(200.0 / 3) + log(25.0) + log(25.0)) / 4);
    CF_CHECK_NEAR(r.score, want, 1e-12);
    CF_CHECK_NEAR(r.score, 27.403115968356843, 1e-12);
    cf_bleu_format(&r, line, sizeof line);
    CF_CHECK(!strcmp(line, "BLEU = 27.40 100.0/66.7/25.0/25.0 (BP = 0.607 ratio = 0.667 "
                           "hyp_len = 4 ref_len = 6)"));
    // Short hypothesis: all n-grams match (5/5, 4/4, 3/3, 2/2), BP = exp(1 - 6/5) = 0.81873.
    bleu1(ctx, "the cat sat on the", "the cat sat on the mat", &r);
    CF_CHECK_NEAR(r.bp, exp(-0.2), 1e-15);
    CF_CHECK_NEAR(r.score, 100 * exp(-0.2), 1e-12);
    // Too short for 3-grams: no 3-gram at all, log(0) floored -> BLEU 0 (sacreBLEU's value).
    bleu1(ctx, "the cat", "the cat sat on the mat", &r);
    CF_CHECK_NEAR(r.score, 0, 0);
    CF_CHECK_NEAR(r.precisions[1], 100, 0);
    // Nothing matches at all: 0, precisions 0.
    bleu1(ctx, "x y z w", "a b c d", &r);
    CF_CHECK_NEAR(r.score, 0, 0);
    CF_CHECK_NEAR(r.precisions[0], 0, 0);
    // Tokenization matters: "3.5" is one token, "$" splits; 13a makes these identical.
    bleu1(ctx, "It costs $3.5, or 1,000 dollars.", "It costs $ 3.5 , or 1,000 dollars .", &r);
    CF_CHECK_NEAR(r.score, 100, 1e-12);
    CF_CHECK_EQ(r.hyp_len, 9);
    // Several references: the closest length, the shorter on a tie (hyp 4; refs 6 and 2 -> 2).
    const char *h[1] = {"a b c d"}, *r1[1] = {"a b c d e f"}, *r2[1] = {"a b"};
    const char *const *refs[2] = {r1, r2};
    CF_CHECK_STATUS(cf_bleu_corpus(ctx, h, 1, refs, 2, NULL, &r), CF_OK);
    CF_CHECK_EQ(r.ref_len, 2);
    CF_CHECK_NEAR(r.score, 100, 1e-12);  // clipped against the largest count in any reference
    CF_CHECK_STATUS(cf_bleu_corpus(ctx, h, 0, refs, 2, NULL, &r), CF_ERR_INVALID_ARG);
    cf_ctx_free(ctx);
}

// sacreBLEU's own numbers on 14 random corpora (304 segments: punctuation, numbers, entities,
// Unicode, odd whitespace; 1-4 references; some lower-cased).
static void test_bleu_sacrebleu_fixture(void) {
    cf_ctx *ctx = ctx1();
    cJSON *j = read_json(ctx, "eval/bleu_sacrebleu.json");
    const cJSON *corpora = cJSON_GetObjectItem(j, "corpora");
    int nc = 0, nseg = 0;
    for (const cJSON *c = corpora ? corpora->child : NULL; c; c = c->next, nc++) {
        cf_bleu_params p = cf_bleu_default_params();
        p.lowercase = cJSON_IsTrue(cJSON_GetObjectItem(c, "lowercase"));
        const cJSON *hj = cJSON_GetObjectItem(c, "hyps"), *rj = cJSON_GetObjectItem(c, "refs");
        const cJSON *tj = cJSON_GetObjectItem(c, "tok_hyps");
        int n = cJSON_GetArraySize(hj), nr = cJSON_GetArraySize(rj);
        const char **hyps = calloc((size_t)n, sizeof *hyps);
        const char ***refs = calloc((size_t)nr, sizeof *refs);
        for (int i = 0; i < n; i++) {
            hyps[i] = cJSON_GetArrayItem(hj, i)->valuestring;
            check_tok(ctx, hyps[i], cJSON_GetArrayItem(tj, i)->valuestring, p.lowercase);
        }
        for (int r = 0; r < nr; r++) {
            refs[r] = calloc((size_t)n, sizeof **refs);
            for (int i = 0; i < n; i++)
                refs[r][i] = cJSON_GetArrayItem(cJSON_GetArrayItem(rj, r), i)->valuestring;
        }
        cf_bleu_result res;
        CF_CHECK_STATUS(cf_bleu_corpus(ctx, hyps, n, (const char *const *const *)refs, nr, &p,
                                       &res), CF_OK);
        for (int k = 0; k < 4; k++) {
            CF_CHECK_EQ(res.correct[k], cJSON_GetArrayItem(cJSON_GetObjectItem(c, "counts"), k)
                                            ->valueint);
            CF_CHECK_EQ(res.total[k], cJSON_GetArrayItem(cJSON_GetObjectItem(c, "totals"), k)
                                          ->valueint);
        }
        CF_CHECK_EQ(res.hyp_len, cJSON_GetObjectItem(c, "sys_len")->valueint);
        CF_CHECK_EQ(res.ref_len, cJSON_GetObjectItem(c, "ref_len")->valueint);
        double want = strtod(cJSON_GetObjectItem(c, "score")->valuestring, NULL);
        CF_CHECK_NEAR(res.score, want, 1e-12 * (want > 1 ? want : 1));
        char line[256];
        cf_bleu_format(&res, line, sizeof line);
        if (strcmp(line, cJSON_GetObjectItem(c, "line")->valuestring)) {
            fprintf(stderr, "  corpus %d: '%s' vs sacreBLEU '%s'\n", nc, line,
                    cJSON_GetObjectItem(c, "line")->valuestring);
            cf_test_failures++;
        }
        nseg += n;
        for (int r = 0; r < nr; r++) free(refs[r]);
        free(refs);
        free(hyps);
    }
    CF_CHECK_EQ(nc, 14);
    CF_CHECK_EQ(nseg, 304);
    cJSON_Delete(j);
    cf_ctx_free(ctx);
}

static void test_bleu_files(void) {
    cf_ctx *ctx = ctx1();
    const char *hyp = tmp_path("hyp.txt"), *ref = tmp_path("ref.txt"), *ref2 = tmp_path("r2.txt");
    // CRLF endings and a last line without a newline; a stray invalid byte.
    const char *ht = "the cat sat on the mat\r\nhello world \xff\n";
    const char *rt = "the cat sat on the mat\nhello world \xff";
    write_file(hyp, ht, strlen(ht));
    write_file(ref, rt, strlen(rt));
    const char *refs[1] = {ref};
    cf_bleu_result r;
    CF_CHECK_STATUS(cf_bleu_files(ctx, hyp, refs, 1, NULL, &r), CF_OK);
    CF_CHECK_NEAR(r.score, 100, 1e-12);
    CF_CHECK_EQ(r.hyp_len, 9);
    CF_CHECK_EQ(r.n_replaced, 2);
    write_file(ref2, "one line only\n", 14);
    const char *refs2[2] = {ref, ref2};
    CF_CHECK_STATUS(cf_bleu_files(ctx, hyp, refs2, 2, NULL, &r), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "line counts differ");
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "r2.txt has 1");
    write_file(ref2, "", 0);
    CF_CHECK_STATUS(cf_bleu_files(ctx, ref2, refs, 1, NULL, &r), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "no lines");
    write_file(ref2, "a\0b\n", 4);
    CF_CHECK_STATUS(cf_bleu_files(ctx, ref2, refs, 1, NULL, &r), CF_ERR_FORMAT);
    CF_CHECK_STR_CONTAINS(cf_errmsg(ctx), "NUL byte");
    const char *missing[1] = {tmp_path("nope.txt")};
    CF_CHECK_STATUS(cf_bleu_files(ctx, hyp, missing, 1, NULL, &r), CF_ERR_IO);
    cf_ctx_free(ctx);
}

// `cformer bleu` prints sacreBLEU's score line and fails cleanly on mismatched files.
static void test_bleu_cli(void) {
    const char *cli = getenv("CF_CLI");
    if (!cli || !*cli) {
        fprintf(stderr, "  CF_CLI is not set; skipping (run through `make test-unit`)\n");
        return;
    }
    const char *hyp = tmp_path("h.txt"), *ref = tmp_path("r.txt"), *ref2 = tmp_path("r2.txt");
    write_file(hyp, "the cat the mat\n", 16);
    write_file(ref, "the cat sat on the mat\n", 23);
    write_file(ref2, "a\nb\n", 4);
    char cmd[4096], out[512] = {0};
    snprintf(cmd, sizeof cmd, "'%s' bleu --hyp '%s' --ref '%s' 2>/dev/null", cli, hyp, ref);
    FILE *f = popen(cmd, "r");
    CF_CHECK(f != NULL);
    if (!f) return;
    size_t n = fread(out, 1, sizeof out - 1, f);
    int rc = pclose(f);
    out[n] = 0;
    CF_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    CF_CHECK(!strcmp(out, "BLEU = 27.40 100.0/66.7/25.0/25.0 (BP = 0.607 ratio = 0.667 "
                          "hyp_len = 4 ref_len = 6)\n"));
    snprintf(cmd, sizeof cmd, "'%s' bleu --hyp '%s' --ref '%s' --ref '%s' 2>&1", cli, hyp, ref,
             ref2);
    f = popen(cmd, "r");
    CF_CHECK(f != NULL);
    if (!f) return;
    n = fread(out, 1, sizeof out - 1, f);
    rc = pclose(f);
    out[n] = 0;
    CF_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) != 0);
    CF_CHECK_STR_CONTAINS(out, "line counts differ");
    snprintf(cmd, sizeof cmd, "'%s' bleu --hyp '%s' >/dev/null 2>&1", cli, hyp);
    rc = system(cmd);
    CF_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

const cf_test tests_eval[] = {
    {"eval_squad_normalize_hand", test_squad_normalize_hand},
    {"eval_squad_normalize_fixture", test_squad_normalize_fixture},
    {"eval_squad_pairs_fixture", test_squad_pairs_fixture},
    {"eval_squad_score_hand", test_squad_score_hand},
    {"eval_squad_v1_fixture", test_squad_eval_v1_fixture},
    {"eval_squad_v2_fixture", test_squad_eval_v2_fixture},
    {"eval_squad_hand", test_squad_eval_hand},
    {"eval_squad_bad_files", test_squad_bad_files},
    {"eval_classify_hand", test_classify_hand},
    {"eval_tsv", test_tsv},
    {"eval_qa_span_hand", test_qa_span_hand},
    {"eval_qa_windows_byte", test_qa_windows_byte},
    {"eval_qa_windows_bert", test_qa_windows_bert},
    {"eval_bleu_tokenize_hand", test_bleu_tokenize_hand},
    {"eval_bleu_hand", test_bleu_hand},
    {"eval_bleu_sacrebleu_fixture", test_bleu_sacrebleu_fixture},
    {"eval_bleu_files", test_bleu_files},
    {"eval_bleu_cli", test_bleu_cli},
    {NULL, NULL},
};
