// cformer: evaluation metrics that do not depend on a model.
//
//   SQuAD       exact match and token F1 as the official v1.1 and v2.0 scripts compute them
//               (v2.0 adds HasAns/NoAns and the no-answer threshold search)
//   classify    accuracy, macro-F1 and confusion counts; a `label<TAB>text` TSV reader
//   QA spans    question + context windows with doc stride, and the best answer span from
//               start/end logits as Hugging Face's question-answering post-processing picks it
//   BLEU        corpus BLEU exactly as sacreBLEU 2.x computes it by default (13a tokenizer,
//               4-grams, 'exp' smoothing, closest reference length)
//
// Text is UTF-8; invalid bytes are read as U+FFFD (one per maximal invalid subpart, as Python's
// errors="replace" decoding does), never a crash. docs/EVALUATION.md defines every number.
//
// Thread safety: the objects here may be used by one thread at a time; the pure functions
// (those without an object) may be called from any thread.
#ifndef CFORMER_EVAL_H
#define CFORMER_EVAL_H

#include "status.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- SQuAD ----

typedef enum cf_squad_version {
    CF_SQUAD_AUTO = 0,  // from the dataset's "version" field (see cf_squad_file_version)
    CF_SQUAD_V1 = 1,    // evaluate-v1.1.py rules
    CF_SQUAD_V2 = 2,    // evaluate-v2.0.py rules
} cf_squad_version;

// One question of a SQuAD file. All strings are NUL-terminated UTF-8 as decoded from the JSON.
typedef struct cf_squad_question {
    const char *id;
    const char *question;          // "" when the file has none
    const char *context;           // the paragraph's context, "" when the file has none
    int64_t context_len;           // bytes
    int32_t n_answers;             // 0: unanswerable (SQuAD 2.0)
    const char *const *answers;    // (n_answers) gold texts
    const int64_t *answer_starts;  // (n_answers) "answer_start" (characters), -1 when absent
} cf_squad_question;

typedef struct cf_squad cf_squad;

// Reads a SQuAD dataset ({"version": .., "data": [{"paragraphs": [{"context": .., "qas":
// [{"id": .., "question": .., "answers": [{"text": .., "answer_start": ..}]}]}]}]}) from a file
// or from len bytes of JSON (name is used in messages). Errors: CF_ERR_IO, CF_ERR_FORMAT naming
// the file, the JSON path (data[i].paragraphs[j].qas[k]), the question id and what is wrong
// (duplicate ids are rejected). *out: owned by caller, free with cf_squad_free.
CF_API cf_status cf_squad_load(cf_ctx *ctx, const char *path, cf_squad **out);
CF_API cf_status cf_squad_parse(cf_ctx *ctx, const char *name, const char *json, size_t len,
                                cf_squad **out);
CF_API void cf_squad_free(cf_squad *d);  // NULL is allowed
CF_API int64_t cf_squad_size(const cf_squad *d);
// Question i in file order (borrowed, valid until cf_squad_free); NULL when i is out of range.
CF_API const cf_squad_question *cf_squad_get(const cf_squad *d, int64_t i);
// The rules the file asks for: "version" 1.x -> V1, 2.x or v2.x -> V2; without a recognised
// version field, V2 when some question has no answer, else V1.
CF_API cf_squad_version cf_squad_file_version(const cf_squad *d);

// Predictions: question id -> answer text ("" = no answer), and optionally id -> no-answer
// probability (the v2.0 script's na_prob.json).
typedef struct cf_squad_preds cf_squad_preds;

CF_API cf_status cf_squad_preds_create(cf_ctx *ctx, cf_squad_preds **out);
// Sets the answer of id (a later call for the same id replaces it, as a JSON object's later
// duplicate key does). Errors: CF_ERR_NOMEM.
CF_API cf_status cf_squad_preds_set(cf_squad_preds *p, const char *id, const char *text,
                                    size_t len);
CF_API cf_status cf_squad_preds_set_na_prob(cf_squad_preds *p, const char *id, double na_prob);
// Reads predictions ({"id": "text", ...}) and, when na_path is not NULL, no-answer
// probabilities ({"id": number, ...}). Errors: CF_ERR_IO, CF_ERR_FORMAT naming file and id.
// *out: owned by caller, free with cf_squad_preds_free.
CF_API cf_status cf_squad_preds_load(cf_ctx *ctx, const char *path, const char *na_path,
                                     cf_squad_preds **out);
CF_API cf_status cf_squad_preds_parse(cf_ctx *ctx, const char *name, const char *json,
                                      size_t len, const char *na_name, const char *na_json,
                                      size_t na_len, cf_squad_preds **out);
CF_API void cf_squad_preds_free(cf_squad_preds *p);  // NULL is allowed

// Scores, 0-100, as the official scripts print them.
typedef struct cf_squad_result {
    cf_squad_version version;  // the rules applied
    double exact, f1;          // over all questions
    int64_t total;
    int64_t n_missing;         // V1: questions without a prediction (scored 0, as v1.1 does)
    // V2 only (zero for V1):
    double has_ans_exact, has_ans_f1;  // questions with gold answers
    int64_t has_ans_total;
    double no_ans_exact, no_ans_f1;    // questions without
    int64_t no_ans_total;
    int has_best;              // 1 when no-answer probabilities were given: the fields below
    double best_exact, best_exact_thresh, best_f1, best_f1_thresh;
} cf_squad_result;

// Evaluates predictions against a dataset. version: CF_SQUAD_AUTO uses cf_squad_file_version.
// na_prob_thresh: V2's --na-prob-thresh (1.0 is the script's default): a prediction whose
// no-answer probability exceeds it counts as "" (probabilities default to 0 when none given).
// Errors: CF_ERR_INVALID_ARG naming the question id for what the official script cannot score
// (V1: a question without gold answers; V2: a question without a prediction, or without a
// no-answer probability when probabilities were given).
CF_API cf_status cf_squad_evaluate(cf_ctx *ctx, const cf_squad *d, const cf_squad_preds *p,
                                   cf_squad_version version, double na_prob_thresh,
                                   cf_squad_result *out);

// normalize_answer of the official scripts: Python's str.lower(), ASCII punctuation removed,
// the words a/an/the removed, whitespace collapsed to single spaces. Writes at most cap bytes
// into buf (not NUL-terminated); *n_out is the length needed. CF_ERR_RANGE when cap is too
// small, CF_ERR_NOMEM. ctx may be NULL (no message is kept then).
CF_API cf_status cf_squad_normalize(cf_ctx *ctx, const char *s, size_t len, char *buf,
                                    size_t cap, size_t *n_out);
// Exact match (0 or 1) and token F1 (0..1) of one prediction against one gold answer, under
// the V1 or V2 rules (they differ when either side normalizes to nothing).
CF_API cf_status cf_squad_score(cf_ctx *ctx, const char *gold, size_t gold_len, const char *pred,
                                size_t pred_len, cf_squad_version version, double *exact,
                                double *f1);

// ---- classification ----

typedef struct cf_classify_result {
    int64_t n;               // examples
    int64_t n_correct;
    double accuracy;         // n_correct / n
    double macro_f1;         // mean per-class F1 over the classes present (see below)
    int32_t n_classes_seen;  // classes that occur in gold or pred: the macro-F1 denominator
} cf_classify_result;

// Accuracy and macro-F1 of n predictions, labels in [0, n_classes). Per class c,
// F1 = 2 TP / (2 TP + FP + FN); the macro average runs over the classes that occur in gold or
// pred, as scikit-learn's f1_score(average="macro") does with its default labels (a class that
// occurs in neither is left out, so zero_division never applies). confusion: NULL or
// (n_classes, n_classes) counts, [gold][pred]. f1_per_class: NULL or (n_classes), 0 for absent
// classes. Errors: CF_ERR_INVALID_ARG (n < 1, n_classes < 1), CF_ERR_RANGE (a label out of
// range, with its index).
CF_API cf_status cf_classify_score(cf_ctx *ctx, const int32_t *gold, const int32_t *pred,
                                   int64_t n, int32_t n_classes, int64_t *confusion,
                                   double *f1_per_class, cf_classify_result *out);

// A labelled text file: one `label<TAB>text` per line (SST-2 style), or GLUE's `sentence<TAB>
// label` / `label<TAB>sentence` with that header line (detected: the column order follows the
// header). Blank lines are skipped; "\r\n" endings are accepted.
typedef struct cf_tsv cf_tsv;

// Labels that are all decimal integers keep their value as the class id (at most 65535);
// otherwise classes are the distinct label strings, numbered in byte order. Errors: CF_ERR_IO,
// CF_ERR_FORMAT "file:line: what is wrong" (no tab, too many fields, empty label).
// *out: owned by caller, free with cf_tsv_free.
CF_API cf_status cf_tsv_load(cf_ctx *ctx, const char *path, cf_tsv **out);
CF_API cf_status cf_tsv_parse(cf_ctx *ctx, const char *name, const char *data, size_t len,
                              cf_tsv **out);
CF_API void cf_tsv_free(cf_tsv *t);  // NULL is allowed
CF_API int64_t cf_tsv_size(const cf_tsv *t);
CF_API int32_t cf_tsv_n_classes(const cf_tsv *t);  // largest class id + 1
// Row i: its text (NUL-terminated, borrowed until cf_tsv_free) and class id; NULL / -1 when i
// is out of range.
CF_API const char *cf_tsv_text(const cf_tsv *t, int64_t i);
CF_API int32_t cf_tsv_label(const cf_tsv *t, int64_t i);
// The label string of a class id (borrowed), NULL when none.
CF_API const char *cf_tsv_label_name(const cf_tsv *t, int32_t id);

// ---- question answering: windows and spans ----

// One window: tokens of "question + a slice of the context" with the tokenizer's special tokens
// (e.g. [CLS] q [SEP] c [SEP]).
typedef struct cf_qa_window {
    int64_t n_tokens;      // <= max_len
    int32_t *ids;          // (n_tokens)
    int32_t *type_ids;     // (n_tokens) segment ids
    int64_t *offsets;      // (n_tokens, 2) byte span [start, end) in the context; -1, -1 for
                           // tokens that are not context
    uint8_t *is_context;   // (n_tokens) 1 for context tokens
} cf_qa_window;

typedef struct cf_qa_windows {
    int64_t n_windows;
    int64_t max_len;
    cf_qa_window *w;       // (n_windows)
} cf_qa_windows;

// Splits question + context into windows of at most max_len tokens (special tokens included)
// as a Hugging Face tokenizer does with truncation="only_second", stride=doc_stride and
// return_overflowing_tokens: the context tokens are cut into slices of
// max_len - n_question - n_special tokens, each slice starting doc_stride tokens before the
// previous one ended. The question's leading whitespace is removed first (as run_qa.py does).
// Errors: CF_ERR_INVALID_ARG when the question leaves no room for context or doc_stride is
// not smaller than the room left; tokenizer errors. *out: owned, free with cf_qa_windows_free.
CF_API cf_status cf_qa_windows_build(cf_ctx *ctx, cf_tokenizer *tok, const char *question,
                                     size_t question_len, const char *context,
                                     size_t context_len, int64_t max_len, int64_t doc_stride,
                                     cf_qa_windows **out);
CF_API void cf_qa_windows_free(cf_qa_windows *w);  // NULL is allowed

typedef struct cf_qa_params {
    int32_t n_best;           // top start and end positions tried per window (20)
    int32_t max_answer_len;   // tokens (30)
    int32_t version_2;        // 1: the null answer competes (SQuAD 2.0)
    double null_threshold;    // null_score_diff_threshold: "" when null - best > this (0)
} cf_qa_params;

CF_API cf_qa_params cf_qa_default_params(void);

typedef struct cf_qa_answer {
    int64_t start, end;       // byte span of the answer in the context; 0, 0 for ""
    int32_t is_null;          // 1: the answer is "" (no answer)
    int32_t placeholder;      // 1: no candidate span at all (HF writes the text "empty")
    int64_t window;           // window of the chosen span, -1 for none
    int64_t start_token, end_token;  // inclusive token positions in that window, -1 for none
    float score;              // start + end logit of the chosen span (best non-null span)
    float null_score;         // V2: the smallest CLS start + end logit over the windows
    float score_diff;         // V2: null_score - best non-null score (HF's null_odds)
} cf_qa_answer;

// Picks the answer as transformers' postprocess_qa_predictions does: in each window the
// n_best highest start and end positions (over all T positions, ties to the lower index),
// pairs with both ends in the context, end >= start and end - start + 1 <= max_answer_len,
// score = start logit + end logit; the best over all windows. start_logits, end_logits:
// (n_windows, T) with T >= the longest window (positions past a window's end are padding).
// Errors: CF_ERR_INVALID_ARG for T or params out of range.
CF_API cf_status cf_qa_best_span(cf_ctx *ctx, const cf_qa_windows *w, const float *start_logits,
                                 const float *end_logits, int64_t T, const cf_qa_params *params,
                                 cf_qa_answer *out);

// ---- BLEU ----

typedef struct cf_bleu_params {
    int32_t lowercase;  // 1: sacreBLEU's -lc (Python str.lower() before tokenizing)
    int32_t tokenize;   // 1: 13a (the default); 0: none (split on whitespace only)
} cf_bleu_params;

CF_API cf_bleu_params cf_bleu_default_params(void);

typedef struct cf_bleu_result {
    double score;             // 0-100
    double precisions[4];     // n-gram precisions, 0-100 (smoothed as 'exp' smoothing does)
    double bp;                // brevity penalty
    double ratio;             // hyp_len / ref_len (0 when ref_len is 0)
    int64_t hyp_len, ref_len; // tokens
    int64_t correct[4], total[4];  // clipped matches and hypothesis n-grams per order
    int64_t n_replaced;       // invalid UTF-8 sequences read as U+FFFD (sacreBLEU would stop)
} cf_bleu_result;

// Tokenizes one line as sacreBLEU's 13a tokenizer does (after str.rstrip(), with optional
// lower-casing): tokens joined by single spaces. Writes at most cap bytes into buf (not
// NUL-terminated); *n_out is the length needed; CF_ERR_RANGE when cap is too small.
CF_API cf_status cf_bleu_tokenize(cf_ctx *ctx, const char *line, size_t len,
                                  const cf_bleu_params *params, char *buf, size_t cap,
                                  size_t *n_out);

// Corpus BLEU of n hypotheses (NUL-terminated lines) against n_refs reference sets, refs[r][i]
// the r-th reference of line i. Errors: CF_ERR_INVALID_ARG (n < 1, n_refs < 1), CF_ERR_NOMEM.
CF_API cf_status cf_bleu_corpus(cf_ctx *ctx, const char *const *hyps, int64_t n,
                                const char *const *const *refs, int n_refs,
                                const cf_bleu_params *params, cf_bleu_result *out);

// The same from files, one segment per line (lines end at '\n'; a last line without one
// counts). Errors: CF_ERR_IO, CF_ERR_FORMAT when the files' line counts differ or a file is
// empty (the message names the files and counts).
CF_API cf_status cf_bleu_files(cf_ctx *ctx, const char *hyp_path, const char *const *ref_paths,
                               int n_refs, const cf_bleu_params *params, cf_bleu_result *out);

// sacreBLEU's score line without the signature: "BLEU = 34.12 66.7/40.0/25.0/14.3 (BP = 1.000
// ratio = 1.000 hyp_len = 9 ref_len = 9)". Writes at most cap bytes including the NUL;
// returns the length needed (snprintf-style).
CF_API size_t cf_bleu_format(const cf_bleu_result *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
