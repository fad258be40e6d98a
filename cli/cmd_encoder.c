// Encoder models (the BERT family) from the command line:
//
//   cformer classify --model PATH [--eval FILE.tsv]      label<TAB>score per stdin line, or accuracy
//   cformer qa --model PATH --context FILE --question T  the answer span
//   cformer qa --model PATH --eval squad.json            exact_match and f1 (official definitions)
//   cformer embed --model PATH                           one vector per stdin line
//   cformer train --task mlm|classify|qa ...             pretraining and fine-tuning
//
// Fine-tuning keeps the best model by the dev metric in --out (Hugging Face layout, with the
// tokenizer file beside it), evaluating after every epoch (or every --eval-every steps), and
// stops early after --patience evaluations without improvement. Masked-LM pretraining writes a
// checkpoint at every evaluation and continues exactly with --resume.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#include "cli.h"

// Returns a failed status to the caller (the CLI has no access to the library's internal macro).
#define TRY(expr)                     \
    do {                              \
        cf_status st_ = (expr);       \
        if (st_ != CF_OK) return st_; \
    } while (0)

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    if (g_stop) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    g_stop = sig;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// splitmix64: the CLI's own seeded stream (shuffles, masking), independent of the library's.
static uint64_t rnd(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rnd_unit(uint64_t *s) { return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0); }
static int64_t rnd_below(uint64_t *s, int64_t n) { return (int64_t)(rnd(s) % (uint64_t)n); }

static void shuffle(int64_t *a, int64_t n, uint64_t *s) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = rnd_below(s, i + 1), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

// ---- encoding into padded batches ----

typedef struct seq {
    int32_t *ids, *types;
    int64_t n;
} seq;

static void seq_free(seq *s) {
    free(s->ids);
    free(s->types);
    s->ids = s->types = NULL;
}

// Encodes text (with the tokenizer's special tokens) truncated to max_len tokens: the tail is
// cut before the last token, which is kept (BERT's closing [SEP], RoBERTa's </s>).
static cf_status encode_text(cf_tokenizer *tok, const char *text, size_t len, int64_t max_len,
                             seq *out) {
    int64_t cap = (int64_t)len + 16, n = 0;
    cf_token *t = NULL;
    for (;;) {
        t = malloc((size_t)cap * sizeof *t);
        if (!t) return CF_ERR_NOMEM;
        cf_status st = cf_tokenizer_encode_tokens(tok, text, len, NULL, 0, 1, t, cap, &n);
        if (st == CF_OK) break;
        free(t);
        if (st != CF_ERR_RANGE || n <= cap) return st;
        cap = n;
    }
    int64_t keep = n <= max_len ? n : max_len;
    out->ids = malloc((size_t)(keep ? keep : 1) * sizeof(int32_t));
    out->types = malloc((size_t)(keep ? keep : 1) * sizeof(int32_t));
    if (!out->ids || !out->types) {
        free(t);
        seq_free(out);
        return CF_ERR_NOMEM;
    }
    for (int64_t i = 0; i < keep; i++) {
        int64_t src = i == keep - 1 && keep < n && t[n - 1].special ? n - 1 : i;
        out->ids[i] = t[src].id;
        out->types[i] = t[src].type_id;
    }
    out->n = keep;
    free(t);
    return CF_OK;
}

typedef struct batchbuf {
    int32_t *tok, *typ, *labels, *sp, *ep;
    uint8_t *mask;
    int64_t cap;  // B * T capacity
    int32_t cap_b;
} batchbuf;

static void bb_free(batchbuf *b) {
    free(b->tok);
    free(b->typ);
    free(b->labels);
    free(b->sp);
    free(b->ep);
    free(b->mask);
    memset(b, 0, sizeof *b);
}

static bool bb_reserve(batchbuf *b, int32_t B, int32_t T) {
    int64_t need = (int64_t)B * T;
    if (need > b->cap) {
        bb_free(b);
        b->tok = malloc((size_t)need * sizeof(int32_t));
        b->typ = malloc((size_t)need * sizeof(int32_t));
        b->labels = malloc((size_t)need * sizeof(int32_t));
        b->mask = malloc((size_t)need);
        b->sp = malloc((size_t)need * sizeof(int32_t));
        b->ep = malloc((size_t)need * sizeof(int32_t));
        if (!b->tok || !b->typ || !b->labels || !b->mask || !b->sp || !b->ep) {
            bb_free(b);
            return false;
        }
        b->cap = need;
    }
    return true;
}

// Fills b with B sequences padded to the longest; returns the batch view.
static bool make_batch(batchbuf *bb, seq *const *s, int32_t B, int32_t pad, cf_encoder_batch *eb) {
    int64_t T = 1;
    for (int32_t i = 0; i < B; i++)
        if (s[i]->n > T) T = s[i]->n;
    if (!bb_reserve(bb, B, (int32_t)T)) return false;
    for (int32_t i = 0; i < B; i++)
        for (int64_t j = 0; j < T; j++) {
            bool in = j < s[i]->n;
            bb->tok[i * T + j] = in ? s[i]->ids[j] : pad;
            bb->typ[i * T + j] = in ? s[i]->types[j] : 0;
            bb->mask[i * T + j] = in;
        }
    memset(eb, 0, sizeof *eb);
    eb->tokens = bb->tok;
    eb->type_ids = bb->typ;
    eb->mask = bb->mask;
    eb->B = B;
    eb->T = (int32_t)T;
    return true;
}

static int32_t pad_id(const cf_model *m) {
    int32_t p = cf_model_config(m)->pad_id;
    return p >= 0 ? p : 0;
}

static int32_t max_len_of(const cf_model *m, long long want) {
    const cf_config *c = cf_model_config(m);
    int32_t cap = c->n_ctx - c->pos_offset;
    return want > 0 && want < cap ? (int32_t)want : cap;
}

// The next line of standard input without its line end (NULL at the end); *lineno counts the
// lines, and invalid UTF-8 in one is reported with its number.
static char *read_line(const char *cmd, long long *lineno, char **buf, size_t *cap) {
    ssize_t n = getline(buf, cap, stdin);
    if (n < 0) return NULL;
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) (*buf)[--n] = 0;
    cli_warn_utf8(cmd, "stdin", ++*lineno, *buf, (size_t)n);
    return *buf;
}

static cf_status load_model_tok(cf_ctx *ctx, const char *path, const char *tok_path,
                                cf_model **m, cf_tokenizer **tok) {
    TRY(cf_model_load(ctx, path, m));
    return cli_tokenizer(ctx, *m, path, tok_path, tok);
}

// ---- classify ----

// Classifies n texts: argmax label and its softmax probability.
static cf_status classify_texts(cf_model *m, cf_tokenizer *tok, const char *const *texts,
                                int64_t n, int32_t bsz, int32_t max_len, int32_t *pred,
                                float *score) {
    const cf_config *c = cf_model_config(m);
    int32_t K = c->n_labels;
    seq *seqs = calloc((size_t)bsz, sizeof *seqs);
    seq **ptr = malloc((size_t)bsz * sizeof *ptr);
    float *logits = malloc((size_t)bsz * (size_t)K * sizeof(float));
    batchbuf bb = {0};
    cf_status st = seqs && ptr && logits ? CF_OK : CF_ERR_NOMEM;
    for (int64_t i0 = 0; st == CF_OK && i0 < n; i0 += bsz) {
        int32_t B = (int32_t)(n - i0 < bsz ? n - i0 : bsz);
        for (int32_t i = 0; i < B && st == CF_OK; i++) {
            st = encode_text(tok, texts[i0 + i], strlen(texts[i0 + i]), max_len, &seqs[i]);
            ptr[i] = &seqs[i];
        }
        cf_encoder_batch eb;
        if (st == CF_OK && !make_batch(&bb, ptr, B, pad_id(m), &eb)) st = CF_ERR_NOMEM;
        if (st == CF_OK) st = cf_encoder_classify(m, &eb, logits);
        for (int32_t i = 0; i < B && st == CF_OK; i++) {
            const float *l = logits + (int64_t)i * K;
            int32_t best = 0;
            for (int32_t k = 1; k < K; k++)
                if (l[k] > l[best]) best = k;
            double z = 0;
            for (int32_t k = 0; k < K; k++) z += exp((double)l[k] - l[best]);
            pred[i0 + i] = best;
            if (score) score[i0 + i] = (float)(1.0 / z);
        }
        for (int32_t i = 0; i < B; i++) seq_free(&seqs[i]);
    }
    bb_free(&bb);
    free(seqs);
    free(ptr);
    free(logits);
    return st;
}

// Maps a TSV label string to the model's label id: by name, else as a number.
static int32_t model_label_of(const cf_model *m, const char *name) {
    int32_t id = cf_model_label_id(m, name);
    if (id >= 0) return id;
    char *end;
    long v = strtol(name, &end, 10);
    if (*name && !*end && v >= 0 && v < cf_model_config(m)->n_labels) return (int32_t)v;
    return -1;
}

// Accuracy and macro-F1 of m on a labelled TSV.
static cf_status eval_tsv(cf_ctx *ctx, cf_model *m, cf_tokenizer *tok, const cf_tsv *t,
                          int32_t bsz, int32_t max_len, cf_classify_result *res) {
    int64_t n = cf_tsv_size(t);
    const char **texts = malloc((size_t)n * sizeof *texts);
    int32_t *gold = malloc((size_t)n * sizeof(int32_t)), *pred = malloc((size_t)n * sizeof(int32_t));
    cf_status st = texts && gold && pred ? CF_OK : CF_ERR_NOMEM;
    for (int64_t i = 0; st == CF_OK && i < n; i++) {
        texts[i] = cf_tsv_text(t, i);
        const char *name = cf_tsv_label_name(t, cf_tsv_label(t, i));
        gold[i] = name ? model_label_of(m, name) : -1;
        if (gold[i] < 0) {
            fprintf(stderr, "cformer: row %lld has label '%s', which is not one of the model's %d "
                    "labels\n", (long long)i + 1, name ? name : "?", cf_model_config(m)->n_labels);
            st = CF_ERR_INVALID_ARG;
        }
    }
    if (st == CF_OK) st = classify_texts(m, tok, texts, n, bsz, max_len, pred, NULL);
    if (st == CF_OK)
        st = cf_classify_score(ctx, gold, pred, n, cf_model_config(m)->n_labels, NULL, NULL, res);
    free(texts);
    free(gold);
    free(pred);
    return st;
}

int cmd_classify(int argc, char **argv) {
    cli_opt opts[] = {
        {"model", OPT_STR, "PATH", "a sequence-classification model (Hugging Face folder)"},
        {"eval", OPT_STR, "FILE.tsv", "score label<TAB>text rows: prints macro_f1 and accuracy"},
        {"tokenizer", OPT_STR, "PATH", "tokenizer (default: the one in the model folder)"},
        {"batch", OPT_INT, "N", "sentences per forward pass (default 32)"},
        {"max-len", OPT_INT, "N", "tokens per sentence, longer ones are truncated (default: the "
                                  "model's context)"},
        {"threads", OPT_INT, "N", "threads (default: CF_NUM_THREADS or the core count)"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer classify --model PATH [--eval FILE.tsv] < lines",
                   "Classifies one text per line of standard input and prints label<TAB>score "
                   "(the softmax probability of the label) per line, in order; invalid UTF-8 is "
                   "read as U+FFFD, with a warning naming the line. With --eval it reads a "
                   "labelled TSV instead and prints macro_f1: X and accuracy: X."))
        return 2;
    if (!cli_get(opts, "model")->set) {
        fprintf(stderr, "cformer classify: --model is required\n");
        return 2;
    }
    cf_ctx *ctx = cli_ctx_opts(opts);
    if (!ctx) return 1;
    cf_model *m = NULL;
    cf_tokenizer *tok = NULL;
    cf_tsv *tsv = NULL;
    char *line = NULL;
    size_t lcap = 0;
    int rc = 0;
    int32_t bsz = cli_get(opts, "batch")->set ? (int32_t)cli_get(opts, "batch")->i : 32;
    if (bsz < 1) bsz = 1;
    cf_status st = load_model_tok(ctx, cli_get(opts, "model")->str,
                                  cli_get(opts, "tokenizer")->str, &m, &tok);
    if (st != CF_OK) goto fail;
    if (!(cf_model_config(m)->heads & CF_HEAD_SEQ_CLS)) {
        fprintf(stderr, "cformer classify: %s has no sequence-classification head\n",
                cli_get(opts, "model")->str);
        rc = 1;
        goto done;
    }
    int32_t max_len = max_len_of(m, cli_get(opts, "max-len")->i);
    if (cli_get(opts, "eval")->set) {
        if ((st = cf_tsv_load(ctx, cli_get(opts, "eval")->str, &tsv)) != CF_OK) goto fail;
        cf_classify_result r;
        if ((st = eval_tsv(ctx, m, tok, tsv, bsz, max_len, &r)) != CF_OK) goto fail;
        printf("examples: %lld\nmacro_f1: %.4f\naccuracy: %.4f\n", (long long)r.n, r.macro_f1,
               r.accuracy);
        goto done;
    }
    // Lines are read in batches and answered in order, flushing after each batch.
    char **texts = calloc((size_t)bsz, sizeof *texts);
    int32_t *pred = malloc((size_t)bsz * sizeof(int32_t));
    float *score = malloc((size_t)bsz * sizeof(float));
    if (!texts || !pred || !score) st = CF_ERR_NOMEM;
    bool eof = false;
    long long lineno = 0;
    while (st == CF_OK && !eof) {
        int32_t B = 0;
        while (B < bsz && read_line("classify", &lineno, &line, &lcap)) {
            texts[B] = strdup(line);
            if (!texts[B]) {
                st = CF_ERR_NOMEM;
                break;
            }
            B++;
        }
        if (B < bsz) eof = true;
        if (st == CF_OK && B > 0)
            st = classify_texts(m, tok, (const char *const *)texts, B, bsz, max_len, pred, score);
        for (int32_t i = 0; i < B && st == CF_OK; i++) {
            const char *name = cf_model_label(m, pred[i]);
            if (name) printf("%s\t%.4f\n", name, score[i]);
            else printf("%d\t%.4f\n", pred[i], score[i]);
        }
        fflush(stdout);
        for (int32_t i = 0; i < B; i++) {
            free(texts[i]);
            texts[i] = NULL;
        }
    }
    free(texts);
    free(pred);
    free(score);
    if (st != CF_OK) goto fail;
    goto done;
fail:
    rc = cli_fail(ctx, "classify", st);
done:
    free(line);
    cf_tsv_free(tsv);
    cf_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return rc;
}

// ---- question answering ----

typedef struct qa_opts {
    int64_t max_len, stride;
    int32_t bsz;
    cf_qa_params p;
} qa_opts;

// Runs every window of (question, context) and picks the answer span. *unfit (when given) is
// set when the pair cannot be cut into windows (cf_qa_windows_build's CF_ERR_INVALID_ARG: the
// question leaves the context no room), as distinct from any later failure.
static cf_status answer(cf_ctx *ctx, cf_model *m, cf_tokenizer *tok, const char *q,
                        const char *c, size_t clen, const qa_opts *o, cf_qa_answer *ans,
                        bool *unfit) {
    cf_qa_windows *w = NULL;
    cf_status wst = cf_qa_windows_build(ctx, tok, q, strlen(q), c, clen, o->max_len, o->stride, &w);
    if (unfit) *unfit = wst == CF_ERR_INVALID_ARG;
    if (wst != CF_OK) return wst;
    int64_t T = 1;
    for (int64_t i = 0; i < w->n_windows; i++)
        if (w->w[i].n_tokens > T) T = w->w[i].n_tokens;
    float *sl = malloc((size_t)(w->n_windows * T) * sizeof(float));
    float *el = malloc((size_t)(w->n_windows * T) * sizeof(float));
    seq *seqs = calloc((size_t)o->bsz, sizeof *seqs);
    seq **ptr = malloc((size_t)o->bsz * sizeof *ptr);
    float *s1 = malloc((size_t)(o->bsz * T) * sizeof(float)), *e1 = malloc((size_t)(o->bsz * T) * sizeof(float));
    batchbuf bb = {0};
    cf_status st = sl && el && seqs && ptr && s1 && e1 ? CF_OK : CF_ERR_NOMEM;
    for (int64_t i0 = 0; st == CF_OK && i0 < w->n_windows; i0 += o->bsz) {
        int32_t B = (int32_t)(w->n_windows - i0 < o->bsz ? w->n_windows - i0 : o->bsz);
        for (int32_t i = 0; i < B; i++) {
            seqs[i].ids = w->w[i0 + i].ids;
            seqs[i].types = w->w[i0 + i].type_ids;
            seqs[i].n = w->w[i0 + i].n_tokens;
            ptr[i] = &seqs[i];
        }
        cf_encoder_batch eb;
        if (!make_batch(&bb, ptr, B, pad_id(m), &eb)) {
            st = CF_ERR_NOMEM;
            break;
        }
        if ((st = cf_encoder_qa_logits(m, &eb, s1, e1)) != CF_OK) break;
        for (int32_t i = 0; i < B; i++)
            for (int64_t j = 0; j < T; j++) {
                bool in = j < eb.T;
                sl[(i0 + i) * T + j] = in ? s1[(int64_t)i * eb.T + j] : -1e30f;
                el[(i0 + i) * T + j] = in ? e1[(int64_t)i * eb.T + j] : -1e30f;
            }
    }
    if (st == CF_OK) st = cf_qa_best_span(ctx, w, sl, el, T, &o->p, ans);
    bb_free(&bb);
    free(seqs);
    free(ptr);
    free(sl);
    free(el);
    free(s1);
    free(e1);
    cf_qa_windows_free(w);
    return st;
}

// Answers every question of a SQuAD file and scores the answers with the official rules. A
// question too long to leave room for the context in a window gets the empty answer (scored
// as wrong, as a missing prediction is by the official script); the count is reported.
static cf_status eval_squad(cf_ctx *ctx, cf_model *m, cf_tokenizer *tok, const cf_squad *d,
                            const qa_opts *o0, FILE *pred_json, cf_squad_result *res) {
    qa_opts o = *o0;
    cf_squad_version v = cf_squad_file_version(d);
    o.p.version_2 = v == CF_SQUAD_V2;
    cf_squad_preds *p = NULL;
    TRY(cf_squad_preds_create(ctx, &p));
    cf_status st = CF_OK;
    int64_t n = cf_squad_size(d), unfit = 0;
    if (pred_json) fputc('{', pred_json);
    for (int64_t i = 0; i < n && st == CF_OK && !g_stop; i++) {
        const cf_squad_question *q = cf_squad_get(d, i);
        cf_qa_answer a;
        bool unfit_q;
        st = answer(ctx, m, tok, q->question, q->context, (size_t)q->context_len, &o, &a, &unfit_q);
        if (unfit_q) {
            if (!unfit++) fprintf(stderr, "question %s: %s; answered empty\n", q->id, cf_errmsg(ctx));
            memset(&a, 0, sizeof a);
            a.is_null = true;
            st = CF_OK;
        }
        if (st != CF_OK) break;
        const char *txt = q->context + a.start;
        size_t len = a.is_null || a.placeholder ? 0 : (size_t)(a.end - a.start);
        st = cf_squad_preds_set(p, q->id, txt, len);
        if (pred_json) {
            fprintf(pred_json, "%s\n\"", i ? "," : "");
            for (const char *s = q->id; *s; s++)
                fprintf(pred_json, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
            fputs("\": \"", pred_json);
            for (size_t k = 0; k < len; k++) {
                unsigned char ch = (unsigned char)txt[k];
                if (ch == '"' || ch == '\\') fprintf(pred_json, "\\%c", ch);
                else if (ch < 0x20) fprintf(pred_json, "\\u%04x", ch);
                else fputc(ch, pred_json);
            }
            fputc('"', pred_json);
        }
        if (isatty(2) && (i % 50 == 0 || i + 1 == n))
            fprintf(stderr, "\r\033[Kanswering %lld/%lld", (long long)i + 1, (long long)n);
    }
    if (isatty(2)) fputc('\n', stderr);
    if (pred_json) fputs("\n}\n", pred_json);
    if (unfit)
        fprintf(stderr, "%lld of %lld questions left no room for the context: answered empty\n",
                (long long)unfit, (long long)n);
    if (st == CF_OK) st = cf_squad_evaluate(ctx, d, p, v, 1.0, res);
    cf_squad_preds_free(p);
    return st;
}

static void qa_opts_from(cli_opt *opts, const cf_model *m, qa_opts *o) {
    o->max_len = max_len_of(m, cli_get(opts, "max-len")->set ? cli_get(opts, "max-len")->i : 384);
    o->stride = cli_get(opts, "doc-stride")->set ? cli_get(opts, "doc-stride")->i : 128;
    if (o->stride >= o->max_len / 2) o->stride = o->max_len / 4;
    o->bsz = cli_get(opts, "batch")->set && cli_get(opts, "batch")->i > 0
                 ? (int32_t)cli_get(opts, "batch")->i : 16;
    o->p = cf_qa_default_params();
    if (cli_get(opts, "max-answer-len")->set)
        o->p.max_answer_len = (int32_t)cli_get(opts, "max-answer-len")->i;
    if (cli_get(opts, "null-threshold")->set)
        o->p.null_threshold = cli_get(opts, "null-threshold")->f;
}

int cmd_qa(int argc, char **argv) {
    cli_opt opts[] = {
        {"model", OPT_STR, "PATH", "an extractive-QA model (Hugging Face folder)"},
        {"context", OPT_STR, "FILE", "the text to answer from"},
        {"question", OPT_STR, "TEXT", "the question"},
        {"eval", OPT_STR, "FILE.json", "answer a SQuAD file and print exact_match and f1"},
        {"predictions", OPT_STR, "FILE.json", "with --eval: also write {id: answer} here"},
        {"tokenizer", OPT_STR, "PATH", "tokenizer (default: the one in the model folder)"},
        {"max-len", OPT_INT, "N", "tokens per window (default 384, at most the model's context)"},
        {"doc-stride", OPT_INT, "N", "overlap of consecutive windows in tokens (default 128)"},
        {"max-answer-len", OPT_INT, "N", "longest answer in tokens (default 30)"},
        {"null-threshold", OPT_FLOAT, "X", "SQuAD 2.0: answer \"\" when null - best > X (default 0)"},
        {"batch", OPT_INT, "N", "windows per forward pass (default 16)"},
        {"threads", OPT_INT, "N", "threads (default: CF_NUM_THREADS or the core count)"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts,
                   "cformer qa --model PATH --context FILE --question TEXT | --eval squad.json",
                   "Extractive question answering: prints the span of the context that answers "
                   "the question (long contexts are read in overlapping windows). With --eval it "
                   "answers every question of a SQuAD v1.1 or v2.0 file and prints exact_match: X "
                   "and f1: Y, 0-100, as the official evaluation scripts compute them."))
        return 2;
    bool ev = cli_get(opts, "eval")->set;
    if (!cli_get(opts, "model")->set || (!ev && (!cli_get(opts, "context")->set ||
                                                 !cli_get(opts, "question")->set))) {
        fprintf(stderr, "cformer qa: --model and either --eval or --context with --question are "
                "required\n");
        return 2;
    }
    if (!ev && !*cli_get(opts, "question")->str) {
        fprintf(stderr, "cformer qa: the question is empty\n");
        return 2;
    }
    cf_ctx *ctx = cli_ctx_opts(opts);
    if (!ctx) return 1;
    cf_model *m = NULL;
    cf_tokenizer *tok = NULL;
    cf_squad *d = NULL;
    char *text = NULL;
    FILE *pf = NULL;
    int rc = 0;
    cf_status st = load_model_tok(ctx, cli_get(opts, "model")->str,
                                  cli_get(opts, "tokenizer")->str, &m, &tok);
    if (st != CF_OK) goto fail;
    if (!(cf_model_config(m)->heads & CF_HEAD_QA)) {
        fprintf(stderr, "cformer qa: %s has no question-answering head\n",
                cli_get(opts, "model")->str);
        rc = 1;
        goto done;
    }
    qa_opts o;
    qa_opts_from(opts, m, &o);
    if (ev) {
        if ((st = cf_squad_load(ctx, cli_get(opts, "eval")->str, &d)) != CF_OK) goto fail;
        if (cli_get(opts, "predictions")->set) {
            pf = fopen(cli_get(opts, "predictions")->str, "w");
            if (!pf) {
                perror(cli_get(opts, "predictions")->str);
                rc = 1;
                goto done;
            }
        }
        cf_squad_result r;
        if ((st = eval_squad(ctx, m, tok, d, &o, pf, &r)) != CF_OK) goto fail;
        printf("questions: %lld\nexact_match: %.4f\nf1: %.4f\n", (long long)r.total, r.exact, r.f1);
        goto done;
    }
    size_t len;
    text = cli_read_file(cli_get(opts, "context")->str, &len);
    if (!text) {
        rc = 1;
        goto done;
    }
    const char *question = cli_get(opts, "question")->str;
    cli_warn_utf8("qa", cli_get(opts, "context")->str, 0, text, len);
    cli_warn_utf8("qa", "the question", 0, question, strlen(question));
    cf_qa_answer a;
    if ((st = answer(ctx, m, tok, question, text, len, &o, &a, NULL)) != CF_OK)
        goto fail;
    if (a.is_null || a.placeholder) printf("\n");
    else printf("%.*s\n", (int)(a.end - a.start), text + a.start);
    goto done;
fail:
    rc = cli_fail(ctx, "qa", st);
done:
    if (pf) fclose(pf);
    free(text);
    cf_squad_free(d);
    cf_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return rc;
}

// ---- embed ----

// Python's str.isspace.
static bool py_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

// s (*n bytes) without the leading and trailing whitespace Python's str.strip() removes, as
// sentence-transformers does to each text before its tokenizer (it matters to byte-level BPE:
// RoBERTa reads a leading space as part of the first word). Returns the start; *n shrinks.
// Invalid UTF-8 at either end stops the stripping there.
static const char *py_strip(const char *s, size_t *n) {
    const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
    size_t a = 0, b = *n;
    utf8proc_ssize_t len;
    utf8proc_int32_t c;
    while (a < b && (len = utf8proc_iterate(u + a, (utf8proc_ssize_t)(b - a), &c)) > 0 &&
           py_space(c))
        a += (size_t)len;
    while (b > a) {
        size_t k = b - 1;  // the start of the last character: back over continuation bytes
        while (k > a && b - k < 4 && (u[k] & 0xC0) == 0x80) k--;
        len = utf8proc_iterate(u + k, (utf8proc_ssize_t)(b - k), &c);
        if (len <= 0 || k + (size_t)len != b || !py_space(c)) break;
        b = k;
    }
    *n = b - a;
    return s + a;
}

int cmd_embed(int argc, char **argv) {
    cli_opt opts[] = {
        {"model", OPT_STR, "PATH", "an encoder (Hugging Face or sentence-transformers folder)"},
        {"pooling", OPT_STR, "MODE", "cls (the first token's state), mean, max or mean_sqrt_len "
                                     "(default: the folder's modules.json, else mean)"},
        {"normalize", OPT_FLAG, NULL, "divide each vector by its L2 norm (default: when "
                                      "modules.json has a Normalize module)"},
        {"no-normalize", OPT_FLAG, NULL, "do not, even when modules.json has one"},
        {"tokenizer", OPT_STR, "PATH", "tokenizer (default: the one in the model folder)"},
        {"batch", OPT_INT, "N", "sentences per forward pass (default 32)"},
        {"max-len", OPT_INT, "N", "tokens per sentence (default: sentence_bert_config.json's "
                                  "max_seq_length, else the model's context)"},
        {"threads", OPT_INT, "N", "threads (default: CF_NUM_THREADS or the core count)"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer embed --model PATH [--pooling MODE] "
                   "[--normalize] < lines",
                   "Prints one sentence embedding per line of standard input: the values "
                   "separated by spaces, in order. A sentence-transformers folder (modules.json: "
                   "Transformer, Pooling, optional Normalize) gives its pooling, normalisation "
                   "and max_seq_length, so the vectors are the ones sentence-transformers "
                   "computes; the options override them. Invalid UTF-8 is read as U+FFFD, with "
                   "a warning naming the line."))
        return 2;
    if (!cli_get(opts, "model")->set) {
        fprintf(stderr, "cformer embed: --model is required\n");
        return 2;
    }
    static const char *pool_names[] = {"cls", "mean", "max", "mean_sqrt_len"};
    int pool_opt = -1;
    if (cli_get(opts, "pooling")->set) {
        const char *p = cli_get(opts, "pooling")->str;
        for (int i = 0; i < 4; i++)
            if (!strcmp(p, pool_names[i])) pool_opt = i;
        if (pool_opt < 0) {
            fprintf(stderr, "cformer embed: --pooling must be cls, mean, max or mean_sqrt_len, "
                            "not '%s'\n", p);
            return 2;
        }
    }
    if (cli_get(opts, "normalize")->set && cli_get(opts, "no-normalize")->set) {
        fprintf(stderr, "cformer embed: --normalize and --no-normalize contradict\n");
        return 2;
    }
    cf_ctx *ctx = cli_ctx_opts(opts);
    if (!ctx) return 1;
    // A sentence-transformers folder: the encoder is its Transformer module's folder.
    const char *model_path = cli_get(opts, "model")->str;
    char module_dir[4096 + 256];
    cf_embed_config ec;
    cf_status st = cf_embed_config_load(ctx, model_path, &ec);
    if (st != CF_OK) {
        int rc = cli_fail(ctx, "embed", st);
        cf_ctx_free(ctx);
        return rc;
    }
    if (ec.found && *ec.module_path) {
        snprintf(module_dir, sizeof module_dir, "%s/%s", model_path, ec.module_path);
        model_path = module_dir;
    }
    cf_pooling pool = pool_opt >= 0 ? (cf_pooling)pool_opt : ec.pooling;
    int normalize = cli_get(opts, "normalize")->set ||
                    (ec.normalize && !cli_get(opts, "no-normalize")->set);
    long long want_len = cli_get(opts, "max-len")->set ? cli_get(opts, "max-len")->i
                                                      : ec.max_seq_length;
    cf_model *m = NULL;
    cf_tokenizer *tok = NULL;
    char *line = NULL;
    size_t lcap = 0;
    int rc = 0;
    int32_t bsz = cli_get(opts, "batch")->set ? (int32_t)cli_get(opts, "batch")->i : 32;
    if (bsz < 1) bsz = 1;
    seq *seqs = NULL;
    seq **ptr = NULL;
    float *out = NULL;
    batchbuf bb = {0};
    st = load_model_tok(ctx, model_path, cli_get(opts, "tokenizer")->str, &m, &tok);
    if (st != CF_OK) goto fail;
    int32_t C = cf_model_config(m)->n_embd, max_len = max_len_of(m, want_len);
    if (ec.dim && ec.dim != C) {
        fprintf(stderr, "cformer embed: the Pooling module expects %d-dimensional token "
                        "embeddings; the model's are %d\n", ec.dim, C);
        rc = 1;
        goto done;
    }
    seqs = calloc((size_t)bsz, sizeof *seqs);
    ptr = malloc((size_t)bsz * sizeof *ptr);
    out = malloc((size_t)bsz * (size_t)C * sizeof(float));
    if (!seqs || !ptr || !out) {
        st = CF_ERR_NOMEM;
        goto fail;
    }
    bool eof = false;
    long long lineno = 0;
    while (!eof && st == CF_OK) {
        int32_t B = 0;
        while (B < bsz && read_line("embed", &lineno, &line, &lcap) && st == CF_OK) {
            size_t n = strlen(line);
            const char *text = ec.found ? py_strip(line, &n) : line;  // as ST's Transformer
            st = encode_text(tok, text, n, max_len, &seqs[B]);
            ptr[B] = &seqs[B];
            if (st == CF_OK) B++;
        }
        if (B < bsz) eof = true;
        cf_encoder_batch eb;
        if (st == CF_OK && B > 0) {
            if (!make_batch(&bb, ptr, B, pad_id(m), &eb)) st = CF_ERR_NOMEM;
            else st = cf_encoder_embed(m, &eb, pool, normalize, out);
            for (int32_t i = 0; i < B && st == CF_OK; i++) {
                for (int32_t j = 0; j < C; j++)
                    printf(j ? " %.6g" : "%.6g", out[(int64_t)i * C + j]);
                putchar('\n');
            }
            fflush(stdout);
        }
        for (int32_t i = 0; i < B; i++) seq_free(&seqs[i]);
    }
    if (st != CF_OK) goto fail;
    goto done;
fail:
    rc = cli_fail(ctx, "embed", st);
done:
    bb_free(&bb);
    free(seqs);
    free(ptr);
    free(out);
    free(line);
    cf_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return rc;
}

// ---- train --task ----

typedef struct task_run {
    cf_ctx *ctx;
    cli_opt *opts;
    cf_model *m;
    cf_tokenizer *tok;
    cf_trainer *tr;
    const char *out;
    int32_t bsz, max_len;
    uint64_t seed;
} task_run;

static long long opt_i(cli_opt *o, const char *n, long long def) {
    return cli_get(o, n)->set ? cli_get(o, n)->i : def;
}
static double opt_f(cli_opt *o, const char *n, double def) {
    return cli_get(o, n)->set ? cli_get(o, n)->f : def;
}

// Copies the tokenizer file(s) of src (a file or a model folder) into dir when dir lacks them.
static void copy_tokenizer(const char *src, const char *dir) {
    static const char *names[] = {"tokenizer.json", "vocab.txt", "tokenizer_config.json",
                                  "special_tokens_map.json"};
    struct stat sb;
    if (!src || stat(src, &sb) != 0) return;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char from[4096], to[4096];
        if (S_ISDIR(sb.st_mode)) snprintf(from, sizeof from, "%s/%s", src, names[i]);
        else if (i == 0 || i == 1) {
            const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
            bool json = strlen(base) > 5 && !strcmp(base + strlen(base) - 5, ".json");
            if ((i == 0) != json) continue;
            snprintf(from, sizeof from, "%s", src);
        } else continue;
        snprintf(to, sizeof to, "%s/%s", dir, names[i]);
        if (access(from, R_OK) == 0 && access(to, F_OK) != 0) cli_copy_file(from, to);
    }
}

static void progress(int64_t step, int64_t total, float loss, float lr, double ex_s, double eta,
                     const char *extra) {
    bool tty = isatty(2);
    char e[16];
    if (!(eta >= 0) || eta > 99 * 3600) snprintf(e, sizeof e, "--");
    else if (eta >= 60) snprintf(e, sizeof e, "%dm%02ds", (int)(eta / 60), (int)fmod(eta, 60));
    else snprintf(e, sizeof e, "%ds", (int)eta);
    fprintf(stderr, "%sstep %lld/%lld | loss %.4f | lr %.2e | %.1f ex/s | ETA %s%s%s",
            tty ? "\r\033[K" : "", (long long)step, (long long)total, loss, lr, ex_s, e,
            extra ? " | " : "", extra ? extra : "");
    if (!tty || extra) fputc('\n', stderr);
    fflush(stderr);
}

// Masked-LM pretraining: lines are tokenized, packed into [CLS] chunk [SEP] sequences of
// max_len tokens, and masked anew for every batch (15 %: 80 % [MASK], 10 % random, 10 % kept;
// --wwm chooses whole words, a word being a piece and the "##" pieces after it).
typedef struct mlm_data {
    int32_t *ids;      // packed chunk contents
    int64_t *off;      // (n_seq + 1) offsets into ids
    int64_t n_seq, n_val;
    int32_t cls, sep, mask_id, V;
    uint8_t *cont;     // (V) 1 when a piece continues a word ("##...")
} mlm_data;

static int32_t piece_id(cf_tokenizer *t, const char *a, const char *b) {
    int32_t id = cf_tokenizer_piece_to_id(t, a, strlen(a));
    return id >= 0 ? id : cf_tokenizer_piece_to_id(t, b, strlen(b));
}

static cf_status mlm_prepare(task_run *r, const char *path, mlm_data *d) {
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text) return CF_ERR_IO;
    int64_t chunk = r->max_len - 2, cap = 1 << 20, n = 0, scap = 1 << 14;
    d->ids = malloc((size_t)cap * sizeof(int32_t));
    d->off = malloc((size_t)scap * sizeof(int64_t));
    cf_status st = d->ids && d->off ? CF_OK : CF_ERR_NOMEM;
    d->n_seq = 0;
    if (st == CF_OK) d->off[0] = 0;
    char *p = text, *end = text + len;
    while (st == CF_OK && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int32_t *ids = NULL;
        int64_t k = 0;
        if (ll > 0) st = cli_encode(r->tok, p, ll, 0, &ids, &k);
        for (int64_t i = 0; st == CF_OK && i < k; i++) {
            if (n + 1 > cap) {
                int32_t *g = realloc(d->ids, (size_t)cap * 2 * sizeof(int32_t));
                if (!g) st = CF_ERR_NOMEM;
                else d->ids = g, cap *= 2;
                if (st != CF_OK) break;
            }
            d->ids[n++] = ids[i];
            if (n - d->off[d->n_seq] == chunk) {  // a full sequence
                if (d->n_seq + 2 > scap) {
                    int64_t *g = realloc(d->off, (size_t)scap * 2 * sizeof(int64_t));
                    if (!g) st = CF_ERR_NOMEM;
                    else d->off = g, scap *= 2;
                    if (st != CF_OK) break;
                }
                d->off[++d->n_seq] = n;
            }
        }
        free(ids);
        p += ll + 1;
    }
    free(text);
    if (st != CF_OK) return st;
    if (n > d->off[d->n_seq]) d->off[++d->n_seq] = n;  // the last, shorter sequence
    if (d->n_seq < 2) {
        fprintf(stderr, "cformer train: %s gives %lld sequence(s) of %d tokens; need at least 2\n",
                path, (long long)d->n_seq, r->max_len);
        return CF_ERR_INVALID_ARG;
    }
    d->n_val = d->n_seq / 100 > 0 ? d->n_seq / 100 : 1;
    if (d->n_val > 500) d->n_val = 500;
    d->cls = piece_id(r->tok, "[CLS]", "<s>");
    d->sep = piece_id(r->tok, "[SEP]", "</s>");
    d->mask_id = piece_id(r->tok, "[MASK]", "<mask>");
    d->V = cf_model_config(r->m)->vocab_size;
    if (d->cls < 0 || d->sep < 0 || d->mask_id < 0) {
        fprintf(stderr, "cformer train: the tokenizer lacks [CLS]/[SEP]/[MASK] (or <s>/</s>/<mask>)\n");
        return CF_ERR_INVALID_ARG;
    }
    d->cont = calloc((size_t)d->V, 1);
    if (!d->cont) return CF_ERR_NOMEM;
    for (int32_t i = 0; i < d->V && i < cf_tokenizer_vocab_size(r->tok); i++) {
        const char *pc = cf_tokenizer_id_to_piece(r->tok, i);
        d->cont[i] = pc && pc[0] == '#' && pc[1] == '#' && pc[2];
    }
    return CF_OK;
}

// Builds a masked batch of the sequences idx[0..B).
static bool mlm_batch(const mlm_data *d, const int64_t *idx, int32_t B, bool wwm, double prob,
                      uint64_t *rng, int32_t pad, batchbuf *bb, cf_encoder_batch *eb) {
    int64_t T = 0;
    for (int32_t b = 0; b < B; b++) {
        int64_t n = d->off[idx[b] + 1] - d->off[idx[b]] + 2;
        if (n > T) T = n;
    }
    if (!bb_reserve(bb, B, (int32_t)T)) return false;
    for (int32_t b = 0; b < B; b++) {
        const int32_t *s = d->ids + d->off[idx[b]];
        int64_t n = d->off[idx[b] + 1] - d->off[idx[b]];
        int32_t *tk = bb->tok + b * T, *lb = bb->labels + b * T;
        for (int64_t j = 0; j < T; j++) {
            tk[j] = j == 0 ? d->cls : j <= n ? s[j - 1] : j == n + 1 ? d->sep : pad;
            bb->typ[b * T + j] = 0;
            bb->mask[b * T + j] = j <= n + 1;
            lb[j] = -100;
        }
        bool chosen = false;
        for (int64_t j = 1; j <= n; j++) {
            bool start = !wwm || !d->cont[tk[j]] || j == 1;
            if (start) chosen = rnd_unit(rng) < prob;
            if (!chosen) continue;
            lb[j] = tk[j];
            double u = rnd_unit(rng);
            if (u < 0.8) tk[j] = d->mask_id;
            else if (u < 0.9) tk[j] = (int32_t)rnd_below(rng, d->V);
        }
    }
    memset(eb, 0, sizeof *eb);
    eb->tokens = bb->tok;
    eb->type_ids = bb->typ;
    eb->mask = bb->mask;
    eb->labels = bb->labels;
    eb->B = B;
    eb->T = (int32_t)T;
    return true;
}

static cf_status mlm_val_loss(task_run *r, const mlm_data *d, bool wwm, double prob, float *out) {
    uint64_t rng = 12345;  // the same masks at every evaluation
    batchbuf bb = {0};
    double sum = 0;
    int nb = 0;
    cf_status st = CF_OK;
    int64_t first = d->n_seq - d->n_val;
    for (int64_t i = first; i < d->n_seq && st == CF_OK; i += r->bsz) {
        int32_t B = (int32_t)(d->n_seq - i < r->bsz ? d->n_seq - i : r->bsz);
        int64_t idx[1024];
        for (int32_t b = 0; b < B; b++) idx[b] = i + b;
        cf_encoder_batch eb;
        if (!mlm_batch(d, idx, B, wwm, prob, &rng, pad_id(r->m), &bb, &eb)) st = CF_ERR_NOMEM;
        float l;
        if (st == CF_OK && (st = cf_encoder_loss(r->m, CF_TASK_MLM, &eb, NULL, &l)) == CF_OK) {
            sum += l;
            nb++;
        }
    }
    bb_free(&bb);
    *out = nb ? (float)(sum / nb) : 0.0f;
    return st;
}

static cf_status run_mlm(task_run *r, cf_train_params *tp, const char *data, bool resume) {
    mlm_data d = {0};
    batchbuf bb = {0};
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", r->out);
    cf_status st = mlm_prepare(r, data, &d);
    bool wwm = cli_get(r->opts, "wwm")->set;
    double prob = opt_f(r->opts, "mask-prob", 0.15);
    int64_t n_train = d.n_seq - d.n_val;
    if (st == CF_OK) {
        int64_t per_epoch = (n_train + r->bsz - 1) / r->bsz;
        tp->max_steps = opt_i(r->opts, "steps", per_epoch * opt_i(r->opts, "epochs", 1));
        tp->warmup_steps = (int64_t)(opt_f(r->opts, "warmup", 0.06) * (double)tp->max_steps);
        st = cf_trainer_create(r->m, tp, &r->tr);
    }
    if (st == CF_OK && resume) {
        st = cf_trainer_resume(r->tr, ckpt);
        if (st == CF_OK)
            fprintf(stderr, "resumed %s at step %lld\n", ckpt,
                    (long long)cf_trainer_step_count(r->tr));
    }
    if (st != CF_OK) goto out;
    fprintf(stderr, "masked-LM: %lld parameters, %lld sequences of <= %d tokens (%lld held out), "
            "batch %d, %lld steps, %s masking %.0f %%, %d threads\n",
            (long long)cf_model_n_params(r->m), (long long)d.n_seq, r->max_len,
            (long long)d.n_val, r->bsz, (long long)tp->max_steps, wwm ? "whole-word" : "token",
            100 * prob, cf_ctx_n_threads(r->ctx));
    int64_t eval_every = opt_i(r->opts, "eval-every", tp->max_steps / 10 > 0 ? tp->max_steps / 10 : 1);
    double t0 = now_s(), ema = 0;
    int64_t s0 = cf_trainer_step_count(r->tr);
    while (st == CF_OK && cf_trainer_step_count(r->tr) < tp->max_steps && !g_stop) {
        int64_t step = cf_trainer_step_count(r->tr);
        uint64_t rng = r->seed * 0x100000001b3ull + (uint64_t)step;  // resumable: a function of the step
        int64_t idx[1024];
        for (int32_t b = 0; b < r->bsz; b++) idx[b] = rnd_below(&rng, n_train);
        cf_encoder_batch eb;
        if (!mlm_batch(&d, idx, r->bsz, wwm, prob, &rng, pad_id(r->m), &bb, &eb)) {
            st = CF_ERR_NOMEM;
            break;
        }
        cf_step_stats ss;
        double ts = now_s();
        if ((st = cf_trainer_step_task(r->tr, CF_TASK_MLM, &eb, 1, NULL, &ss)) != CF_OK) break;
        double dt = now_s() - ts;
        ema = ema == 0 ? dt : 0.9 * ema + 0.1 * dt;
        bool ev = ss.step % eval_every == 0 || ss.step == tp->max_steps;
        char extra[96] = "";
        if (ev) {
            float vl;
            if ((st = mlm_val_loss(r, &d, wwm, prob, &vl)) != CF_OK) break;
            snprintf(extra, sizeof extra, "val loss %.4f", vl);
            if ((st = cf_trainer_save(r->tr, ckpt)) != CF_OK) break;
            if ((st = cf_model_save(r->m, r->out)) != CF_OK) break;
        }
        if (ev || isatty(2) || ss.step % 50 == 0)
            progress(ss.step, tp->max_steps, ss.loss, ss.lr, r->bsz / dt,
                     ema * (double)(tp->max_steps - ss.step), ev ? extra : NULL);
    }
    if (st == CF_OK && g_stop) {
        st = cf_trainer_save(r->tr, ckpt);
        if (st == CF_OK) st = cf_model_save(r->m, r->out);
        fprintf(stderr, "\nstopped at step %lld; checkpoint in %s (continue with --resume)\n",
                (long long)cf_trainer_step_count(r->tr), ckpt);
    } else if (st == CF_OK) {
        fprintf(stderr, "done: %lld steps in %.0f s; model in %s\n",
                (long long)(cf_trainer_step_count(r->tr) - s0), now_s() - t0, r->out);
    }
out:
    bb_free(&bb);
    free(d.ids);
    free(d.off);
    free(d.cont);
    return st;
}

// Converts a character index of a UTF-8 string into a byte offset.
static int64_t char_to_byte(const char *s, int64_t len, int64_t ch) {
    int64_t b = 0;
    for (int64_t c = 0; c < ch && b < len; c++) {
        b++;
        while (b < len && ((unsigned char)s[b] & 0xC0) == 0x80) b++;
    }
    return b;
}

// Examples of fine-tuning: token sequences with a label (classification) or start/end
// positions (QA windows).
typedef struct examples {
    seq *s;
    int32_t *label, *sp, *ep;
    int64_t n, cap;
} examples;

static bool ex_push(examples *e) {
    if (e->n < e->cap) return true;
    int64_t c = e->cap ? 2 * e->cap : 1024;
    seq *s = realloc(e->s, (size_t)c * sizeof *s);
    if (s) e->s = s;
    int32_t *a = realloc(e->label, (size_t)c * sizeof *a);
    if (a) e->label = a;
    int32_t *b = realloc(e->sp, (size_t)c * sizeof *b);
    if (b) e->sp = b;
    int32_t *d = realloc(e->ep, (size_t)c * sizeof *d);
    if (d) e->ep = d;
    if (!s || !a || !b || !d) return false;
    e->cap = c;
    return true;
}

static void ex_free(examples *e) {
    for (int64_t i = 0; i < e->n; i++) seq_free(&e->s[i]);
    free(e->s);
    free(e->label);
    free(e->sp);
    free(e->ep);
    memset(e, 0, sizeof *e);
}

// QA training windows: the first gold answer's tokens inside the window's context part, or
// (0, 0) (the [CLS] position) when the answer is not in the window or there is none. A question
// too long to leave the context room in a window (CF_ERR_INVALID_ARG) is skipped and counted:
// one odd question must not stop a training run; the count and the first are reported.
static cf_status qa_examples(task_run *r, const cf_squad *d, int64_t max_len, int64_t stride,
                             examples *e, int64_t *n_questions) {
    int64_t nq = 0, skipped = 0;
    for (int64_t i = 0; i < cf_squad_size(d); i++) {
        const cf_squad_question *q = cf_squad_get(d, i);
        cf_qa_windows *w = NULL;
        cf_status st = cf_qa_windows_build(r->ctx, r->tok, q->question, strlen(q->question),
                                           q->context, (size_t)q->context_len, max_len, stride,
                                           &w);
        if (st == CF_ERR_INVALID_ARG) {
            if (!skipped++)
                fprintf(stderr, "cformer train: skipping question %s: %s\n", q->id,
                        cf_errmsg(r->ctx));
            continue;
        }
        if (st != CF_OK) return st;
        int64_t s_b = -1, e_b = -1;
        if (q->n_answers > 0) {
            const char *a = q->answers[0];
            size_t al = strlen(a);
            if (q->answer_starts[0] >= 0)
                s_b = char_to_byte(q->context, q->context_len, q->answer_starts[0]);
            if (s_b < 0 || s_b + (int64_t)al > q->context_len || memcmp(q->context + s_b, a, al)) {
                const char *f = al ? strstr(q->context, a) : NULL;  // fall back to a search
                s_b = f ? f - q->context : -1;
            }
            if (s_b >= 0) e_b = s_b + (int64_t)al;
        }
        for (int64_t k = 0; k < w->n_windows; k++) {
            const cf_qa_window *win = &w->w[k];
            int32_t sp = 0, ep = 0;
            if (s_b >= 0 && e_b > s_b) {
                int64_t first = -1, last = -1;
                for (int64_t t = 0; t < win->n_tokens; t++)
                    if (win->is_context[t]) {
                        if (first < 0) first = t;
                        last = t;
                    }
                if (first >= 0 && win->offsets[2 * first] <= s_b && win->offsets[2 * last + 1] >= e_b) {
                    int64_t ts = first, te = last;
                    while (ts <= last && win->offsets[2 * ts] <= s_b) ts++;
                    ts--;
                    while (te >= first && win->offsets[2 * te + 1] >= e_b) te--;
                    te++;
                    if (ts >= first && te <= last && ts <= te) sp = (int32_t)ts, ep = (int32_t)te;
                }
            }
            if (!ex_push(e)) {
                cf_qa_windows_free(w);
                return CF_ERR_NOMEM;
            }
            seq *s = &e->s[e->n];
            s->n = win->n_tokens;
            s->ids = malloc((size_t)s->n * sizeof(int32_t));
            s->types = malloc((size_t)s->n * sizeof(int32_t));
            if (!s->ids || !s->types) {
                seq_free(s);
                cf_qa_windows_free(w);
                return CF_ERR_NOMEM;
            }
            memcpy(s->ids, win->ids, (size_t)s->n * sizeof(int32_t));
            memcpy(s->types, win->type_ids, (size_t)s->n * sizeof(int32_t));
            e->sp[e->n] = sp;
            e->ep[e->n] = ep;
            e->label[e->n] = 0;
            e->n++;
        }
        cf_qa_windows_free(w);
        nq++;
    }
    if (skipped)
        fprintf(stderr, "cformer train: skipped %lld of %lld questions (no room for the context "
                "in %lld tokens with a stride of %lld)\n", (long long)skipped,
                (long long)cf_squad_size(d), (long long)max_len, (long long)stride);
    *n_questions = nq;
    return nq > 0 ? CF_OK : CF_ERR_INVALID_ARG;
}

// Fine-tuning loop shared by classification and QA: epochs over shuffled examples, evaluation
// after each epoch (or every eval_every steps), the best model saved, early stopping.
typedef cf_status (*eval_fn)(task_run *r, void *arg, double *metric, char *desc, size_t n);

static cf_status finetune(task_run *r, cf_train_params *tp, cf_task task, examples *e,
                          const float *class_w, eval_fn ev, void *ev_arg) {
    int64_t per_epoch = (e->n + r->bsz - 1) / r->bsz;
    tp->max_steps = opt_i(r->opts, "steps", per_epoch * opt_i(r->opts, "epochs", 3));
    tp->warmup_steps = (int64_t)(opt_f(r->opts, "warmup", 0.1) * (double)tp->max_steps);
    TRY(cf_trainer_create(r->m, tp, &r->tr));
    if (cli_get(r->opts, "layer-decay")->set)
        TRY(cf_trainer_layer_decay(r->tr, (float)cli_get(r->opts, "layer-decay")->f));
    if (cli_get(r->opts, "freeze-embeddings")->set || cli_get(r->opts, "freeze-layers")->set)
        TRY(cf_trainer_freeze(r->tr, cli_get(r->opts, "freeze-embeddings")->set,
                                 (int32_t)opt_i(r->opts, "freeze-layers", 0)));
    int64_t eval_every = opt_i(r->opts, "eval-every", per_epoch);
    int64_t patience = opt_i(r->opts, "patience", 0);
    fprintf(stderr, "fine-tuning %lld parameters on %lld examples: batch %d, %lld steps "
            "(%lld per epoch), lr %.2e, %d threads\n", (long long)cf_model_n_params(r->m),
            (long long)e->n, r->bsz, (long long)tp->max_steps, (long long)per_epoch, tp->lr,
            cf_ctx_n_threads(r->ctx));
    int64_t *order = malloc((size_t)e->n * sizeof(int64_t));
    seq **ptr = malloc((size_t)r->bsz * sizeof *ptr);
    int32_t *lab = malloc((size_t)r->bsz * sizeof(int32_t)), *sp = malloc((size_t)r->bsz * sizeof(int32_t)),
            *ep = malloc((size_t)r->bsz * sizeof(int32_t));
    batchbuf bb = {0};
    cf_status st = order && ptr && lab && sp && ep ? CF_OK : CF_ERR_NOMEM;
    uint64_t rng = r->seed ^ 0x5bd1e995ull;
    double best = -1, ema = 0;
    int64_t since_best = 0, pos = e->n;
    while (st == CF_OK && cf_trainer_step_count(r->tr) < tp->max_steps && !g_stop) {
        if (pos + r->bsz > e->n) {  // a new epoch: reshuffle
            for (int64_t i = 0; i < e->n; i++) order[i] = i;
            shuffle(order, e->n, &rng);
            pos = 0;
        }
        int32_t B = (int32_t)(e->n - pos < r->bsz ? e->n - pos : r->bsz);
        for (int32_t b = 0; b < B; b++) {
            int64_t k = order[pos + b];
            ptr[b] = &e->s[k];
            lab[b] = e->label[k];
            sp[b] = e->sp[k];
            ep[b] = e->ep[k];
        }
        pos += B;
        cf_encoder_batch eb;
        if (!make_batch(&bb, ptr, B, pad_id(r->m), &eb)) {
            st = CF_ERR_NOMEM;
            break;
        }
        eb.labels = lab;
        eb.start_positions = sp;
        eb.end_positions = ep;
        cf_step_stats ss;
        double ts = now_s();
        if ((st = cf_trainer_step_task(r->tr, task, &eb, 1, class_w, &ss)) != CF_OK) break;
        double dt = now_s() - ts;
        ema = ema == 0 ? dt : 0.9 * ema + 0.1 * dt;
        bool evn = ss.step % eval_every == 0 || ss.step == tp->max_steps;
        char extra[160] = "";
        if (evn) {
            double metric;
            char desc[128];
            if ((st = ev(r, ev_arg, &metric, desc, sizeof desc)) != CF_OK) break;
            if (metric > best) {
                best = metric;
                since_best = 0;
                if ((st = cf_model_save(r->m, r->out)) != CF_OK) break;
                snprintf(extra, sizeof extra, "dev %s (best, saved)", desc);
            } else {
                since_best++;
                snprintf(extra, sizeof extra, "dev %s (best %.4f)", desc, best);
            }
        }
        if (evn || isatty(2) || ss.step % 50 == 0)
            progress(ss.step, tp->max_steps, ss.loss, ss.lr, B / dt,
                     ema * (double)(tp->max_steps - ss.step), evn ? extra : NULL);
        if (evn && patience > 0 && since_best >= patience) {
            fprintf(stderr, "early stop: no improvement in %lld evaluations\n", (long long)patience);
            break;
        }
    }
    if (st == CF_OK) fprintf(stderr, "best dev metric %.4f; model in %s\n", best, r->out);
    bb_free(&bb);
    free(order);
    free(ptr);
    free(lab);
    free(sp);
    free(ep);
    return st;
}

typedef struct cls_eval {
    cf_tsv *dev;
} cls_eval;

static cf_status cls_eval_fn(task_run *r, void *arg, double *metric, char *desc, size_t n) {
    cls_eval *c = arg;
    cf_classify_result res;
    TRY(eval_tsv(r->ctx, r->m, r->tok, c->dev, 64, r->max_len, &res));
    *metric = res.accuracy;
    snprintf(desc, n, "accuracy %.4f macro-F1 %.4f", res.accuracy, res.macro_f1);
    return CF_OK;
}

typedef struct qa_eval {
    cf_squad *dev;
    qa_opts o;
} qa_eval;

static cf_status qa_eval_fn(task_run *r, void *arg, double *metric, char *desc, size_t n) {
    qa_eval *q = arg;
    cf_squad_result res;
    TRY(eval_squad(r->ctx, r->m, r->tok, q->dev, &q->o, NULL, &res));
    *metric = res.f1;
    snprintf(desc, n, "EM %.2f F1 %.2f", res.exact, res.f1);
    return CF_OK;
}



int cmd_train_task(int argc, char **argv) {
    cli_opt opts[] = {
        {"task", OPT_STR, "mlm|classify|qa", "what to train"},
        {"data", OPT_STR, "FILE", "mlm: text, one paragraph per line; classify: label<TAB>text "
                                  "TSV; qa: SQuAD JSON"},
        {"dev", OPT_STR, "FILE", "classify/qa: the dev set that picks the best model"},
        {"model", OPT_STR, "PATH", "start from this encoder (its heads are replaced as needed)"},
        {"tokenizer", OPT_STR, "PATH", "vocab.txt or tokenizer.json (default: the model's)"},
        {"out", OPT_STR, "DIR", "output folder (default: out)"},
        {"layers", OPT_INT, "N", "new model: blocks (default 4)"},
        {"width", OPT_INT, "N", "new model: hidden width (default 256)"},
        {"heads", OPT_INT, "N", "new model: attention heads (default 4)"},
        {"ff", OPT_INT, "N", "new model: feed-forward width (default 4 x width)"},
        {"ctx", OPT_INT, "N", "new model: positions (default 128)"},
        {"epochs", OPT_INT, "N", "passes over the data (default: mlm 1, others 3)"},
        {"steps", OPT_INT, "N", "optimizer steps (overrides --epochs)"},
        {"batch", OPT_INT, "N", "examples per step (default 32)"},
        {"max-len", OPT_INT, "N", "tokens per example (default: mlm/classify 128, qa 384)"},
        {"lr", OPT_FLOAT, "X", "peak learning rate (default: mlm 5e-4, others 5e-5)"},
        {"warmup", OPT_FLOAT, "X", "warmup as a fraction of the steps (default 0.1; mlm 0.06)"},
        {"weight-decay", OPT_FLOAT, "X", "AdamW decoupled weight decay (default 0.01)"},
        {"beta2", OPT_FLOAT, "X", "AdamW second-moment decay (default 0.999, as BERT)"},
        {"grad-clip", OPT_FLOAT, "X", "global gradient-norm clipping, 0 for none (default 1)"},
        {"dropout", OPT_FLOAT, "X", "dropout on the embeddings, block outputs and classifier input (default: classify/qa 0.1, as BERT; mlm 0)"},
        {"freeze-embeddings", OPT_FLAG, NULL, "do not train the embeddings"},
        {"freeze-layers", OPT_INT, "N", "do not train the first N blocks"},
        {"layer-decay", OPT_FLOAT, "X", "layer-wise lr decay: block l gets lr x X^(L - l)"},
        {"class-weights", OPT_STR, "auto|W,W,..", "classify: loss weight per class (auto: "
                                                  "inverse frequency)"},
        {"label-names", OPT_STR, "A,B,..", "classify: names of the classes, in id order"},
        {"limit", OPT_INT, "N", "use only N training examples (a seeded sample)"},
        {"patience", OPT_INT, "N", "stop after N evaluations without a better dev metric"},
        {"eval-every", OPT_INT, "N", "steps between evaluations (default: an epoch; mlm: 1/10)"},
        {"mask-prob", OPT_FLOAT, "X", "mlm: share of tokens to predict (default 0.15)"},
        {"wwm", OPT_FLAG, NULL, "mlm: whole-word masking"},
        {"doc-stride", OPT_INT, "N", "qa: window overlap in tokens (default 128)"},
        {"seed", OPT_U64, "N", "initialisation, sampling and masking (default 1)"},
        {"resume", OPT_FLAG, NULL, "mlm: continue from DIR/checkpoint.safetensors"},
        {"threads", OPT_INT, "N", "threads (default: CF_NUM_THREADS or the core count)"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer train --task mlm|classify|qa --data FILE "
                   "[--model PATH | --tokenizer PATH] [--dev FILE] [--out DIR]",
                   "Trains an encoder: masked-LM pretraining of a new or given model, or "
                   "fine-tuning for sequence classification or extractive QA. Fine-tuning keeps "
                   "the model with the best dev metric in --out (Hugging Face layout)."))
        return 2;
    const char *task_s = cli_get(opts, "task")->str;
    cf_task task;
    if (!strcmp(task_s, "mlm")) task = CF_TASK_MLM;
    else if (!strcmp(task_s, "classify")) task = CF_TASK_SEQ_CLS;
    else if (!strcmp(task_s, "qa")) task = CF_TASK_QA;
    else {
        fprintf(stderr, "cformer train: --task must be lm, mlm, classify or qa, not '%s'\n", task_s);
        return 2;
    }
    if (!cli_get(opts, "data")->set) {
        fprintf(stderr, "cformer train: --data is required\n");
        return 2;
    }
    if (task != CF_TASK_MLM && !cli_get(opts, "dev")->set) {
        fprintf(stderr, "cformer train: --task %s needs --dev (the set that picks the best model)\n",
                task_s);
        return 2;
    }
    if (!cli_get(opts, "model")->set && !cli_get(opts, "tokenizer")->set) {
        fprintf(stderr, "cformer train: a new model needs --tokenizer (or pass --model)\n");
        return 2;
    }
    task_run r = {0};
    r.opts = opts;
    r.out = cli_get(opts, "out")->set ? cli_get(opts, "out")->str : "out";
    r.bsz = (int32_t)opt_i(opts, "batch", 32);
    r.seed = cli_get(opts, "seed")->set ? cli_get(opts, "seed")->u : 1;
    if (r.bsz < 1 || r.bsz > 1024) {
        fprintf(stderr, "cformer train: --batch must be 1..1024\n");
        return 2;
    }
    r.ctx = cli_ctx_opts(opts);
    if (!r.ctx) return 1;
    cf_model *pre = NULL;
    cf_tsv *tsv = NULL, *dev_tsv = NULL;
    cf_squad *sq = NULL, *dev_sq = NULL;
    examples ex = {0};
    float *cw = NULL;
    int rc = 0;
    cf_status st = CF_OK;
    cf_config cfg;
    const char *mpath = cli_get(opts, "model")->str;
    const char *tpath = cli_get(opts, "tokenizer")->str;
    if (mpath) {
        if ((st = cf_model_load(r.ctx, mpath, &pre)) != CF_OK) goto fail;
        cfg = *cf_model_config(pre);
        if ((st = cli_tokenizer(r.ctx, pre, mpath, tpath, &r.tok)) != CF_OK) goto fail;
    } else {
        if ((st = cf_tokenizer_load(r.ctx, tpath, 0, &r.tok)) != CF_OK) goto fail;
        cfg = cf_config_bert();
        cfg.n_layers = (int32_t)opt_i(opts, "layers", 4);
        cfg.n_embd = (int32_t)opt_i(opts, "width", 256);
        cfg.n_heads = (int32_t)opt_i(opts, "heads", 4);
        cfg.n_kv_heads = 0;
        cfg.head_dim = 0;
        cfg.n_ff = (int32_t)opt_i(opts, "ff", 4 * (long long)cfg.n_embd);
        cfg.n_ctx = (int32_t)opt_i(opts, "ctx", 128);
        cfg.vocab_size = cf_tokenizer_vocab_size(r.tok);
        int32_t pad = piece_id(r.tok, "[PAD]", "<pad>");
        cfg.pad_id = pad >= 0 ? pad : 0;
    }
    // The heads the task needs; the rest of the encoder is kept.
    cfg.heads &= ~(CF_HEAD_SEQ_CLS | CF_HEAD_TOKEN_CLS | CF_HEAD_QA);
    if (task == CF_TASK_MLM) cfg.heads |= CF_HEAD_MLM;
    if (task == CF_TASK_QA) cfg.heads |= CF_HEAD_QA;
    if (task == CF_TASK_SEQ_CLS) {
        if ((st = cf_tsv_load(r.ctx, cli_get(opts, "data")->str, &tsv)) != CF_OK) goto fail;
        if ((st = cf_tsv_load(r.ctx, cli_get(opts, "dev")->str, &dev_tsv)) != CF_OK) goto fail;
        cfg.heads |= CF_HEAD_SEQ_CLS | CF_HEAD_POOLER;
        cfg.n_labels = cf_tsv_n_classes(tsv);
        if (cfg.n_labels < 2) {
            fprintf(stderr, "cformer train: %s has %d class(es); classification needs 2 or more\n",
                    cli_get(opts, "data")->str, cfg.n_labels);
            rc = 1;
            goto done;
        }
    } else if (!(cfg.heads & (CF_HEAD_SEQ_CLS | CF_HEAD_TOKEN_CLS))) {
        cfg.n_labels = 0;
    }
    r.max_len = (int32_t)opt_i(opts, "max-len", task == CF_TASK_QA ? 384 : 128);
    if (r.max_len > cfg.n_ctx - cfg.pos_offset) r.max_len = cfg.n_ctx - cfg.pos_offset;
    if ((st = cf_config_finish(r.ctx, &cfg)) != CF_OK) goto fail;
    if ((st = cf_model_create(r.ctx, &cfg, r.seed, &r.m)) != CF_OK) goto fail;
    if (pre) {
        int copied, missing;
        if ((st = cf_model_copy_weights(r.m, pre, &copied, &missing)) != CF_OK) goto fail;
        fprintf(stderr, "initialised from %s: %d tensors copied, %d new (the task's head)\n",
                mpath, copied, missing);
        cf_model_free(pre);
        pre = NULL;
    }
    mkdir(r.out, 0755);
    copy_tokenizer(mpath ? mpath : tpath, r.out);
    cf_train_params tp = cf_train_default_params();
    tp.lr = (float)opt_f(opts, "lr", task == CF_TASK_MLM ? 5e-4 : 5e-5);
    tp.min_lr = 0.0f;
    tp.weight_decay = (float)opt_f(opts, "weight-decay", 0.01);
    tp.beta2 = (float)opt_f(opts, "beta2", 0.999);  // BERT's (and transformers') AdamW setting
    tp.grad_clip = (float)opt_f(opts, "grad-clip", 1.0);
    tp.dropout = (float)opt_f(opts, "dropout", task == CF_TASK_MLM ? 0.0 : 0.1);
    tp.seed = r.seed;
    tp.val_fraction = 0;
    tp.eval_every = 0;
    tp.batch_size = r.bsz;  // unused by the task steps, but checked against the model
    tp.seq_len = r.max_len;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (task == CF_TASK_MLM) {
        char ck[4096];
        snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", r.out);
        bool resume = cli_get(opts, "resume")->set;
        if (!resume && access(ck, F_OK) == 0) {
            fprintf(stderr, "cformer train: %s already holds a checkpoint; pass --resume to "
                    "continue it, or choose another --out\n", r.out);
            rc = 1;
            goto done;
        }
        st = run_mlm(&r, &tp, cli_get(opts, "data")->str, resume);
        if (st != CF_OK) goto fail;
        if (g_stop) rc = 128 + (int)g_stop;
        goto done;
    }
    uint64_t lrng = r.seed;
    if (task == CF_TASK_SEQ_CLS) {
        int32_t K = cfg.n_labels;
        const char *names[4096];
        char *ln = NULL;
        if (cli_get(opts, "label-names")->set) {
            ln = strdup(cli_get(opts, "label-names")->str);
            int32_t k = 0;
            for (char *tokp = strtok(ln, ","); tokp && k < 4096; tokp = strtok(NULL, ",")) names[k++] = tokp;
            if (k != K) {
                fprintf(stderr, "cformer train: --label-names gives %d names for %d classes\n", k, K);
                free(ln);
                rc = 2;
                goto done;
            }
        } else {
            for (int32_t k = 0; k < K && k < 4096; k++) {
                const char *nm = cf_tsv_label_name(tsv, k);
                names[k] = nm ? nm : "";
            }
        }
        st = K <= 4096 ? cf_model_set_labels(r.m, K, names) : CF_OK;
        free(ln);
        if (st != CF_OK) goto fail;
        int64_t n = cf_tsv_size(tsv);
        int64_t *idx = malloc((size_t)n * sizeof(int64_t));
        if (!idx) {
            st = CF_ERR_NOMEM;
            goto fail;
        }
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        int64_t use = n;
        if (cli_get(opts, "limit")->set && cli_get(opts, "limit")->i < n) {
            shuffle(idx, n, &lrng);
            use = cli_get(opts, "limit")->i > 0 ? cli_get(opts, "limit")->i : 1;
        }
        int64_t *count = calloc((size_t)K, sizeof(int64_t));
        for (int64_t j = 0; j < use && st == CF_OK; j++) {
            int64_t i = idx[j];
            if (!ex_push(&ex)) {
                st = CF_ERR_NOMEM;
                break;
            }
            const char *txt = cf_tsv_text(tsv, i);
            st = encode_text(r.tok, txt, strlen(txt), r.max_len, &ex.s[ex.n]);
            ex.label[ex.n] = cf_tsv_label(tsv, i);
            ex.sp[ex.n] = ex.ep[ex.n] = 0;
            if (st == CF_OK && count) count[ex.label[ex.n]]++;
            if (st == CF_OK) ex.n++;
        }
        free(idx);
        const char *cws = cli_get(opts, "class-weights")->str;
        if (st == CF_OK && cws && strcmp(cws, "none")) {
            cw = malloc((size_t)K * sizeof(float));
            if (!cw) st = CF_ERR_NOMEM;
            for (int32_t k = 0; st == CF_OK && k < K; k++)
                cw[k] = count && count[k] ? (float)((double)ex.n / ((double)K * (double)count[k])) : 1.0f;
            if (st == CF_OK && strcmp(cws, "auto")) {
                char *dup = strdup(cws), *save = NULL;
                int32_t k = 0;
                for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                    if (k < K) cw[k] = strtof(t, NULL);
                    k++;
                }
                free(dup);
                if (k != K) {
                    fprintf(stderr, "cformer train: --class-weights gives %d values for %d classes\n", k, K);
                    free(count);
                    rc = 2;
                    goto done;
                }
            }
        }
        free(count);
        if (st != CF_OK) goto fail;
        cls_eval ce = {dev_tsv};
        st = finetune(&r, &tp, task, &ex, cw, cls_eval_fn, &ce);
    } else {
        if ((st = cf_squad_load(r.ctx, cli_get(opts, "data")->str, &sq)) != CF_OK) goto fail;
        if ((st = cf_squad_load(r.ctx, cli_get(opts, "dev")->str, &dev_sq)) != CF_OK) goto fail;
        qa_eval qe = {dev_sq, {0}};
        qe.o.max_len = r.max_len;
        qe.o.stride = opt_i(opts, "doc-stride", 128);
        if (qe.o.stride >= r.max_len / 2) qe.o.stride = r.max_len / 4;
        qe.o.bsz = 16;
        qe.o.p = cf_qa_default_params();
        int64_t nq;
        if ((st = qa_examples(&r, sq, r.max_len, qe.o.stride, &ex, &nq)) != CF_OK) goto fail;
        if (cli_get(opts, "limit")->set && cli_get(opts, "limit")->i < ex.n) {
            // a seeded sample of windows
            int64_t *idx = malloc((size_t)ex.n * sizeof(int64_t));
            if (!idx) {
                st = CF_ERR_NOMEM;
                goto fail;
            }
            for (int64_t i = 0; i < ex.n; i++) idx[i] = i;
            shuffle(idx, ex.n, &lrng);
            int64_t use = cli_get(opts, "limit")->i > 0 ? cli_get(opts, "limit")->i : 1;
            uint8_t *keep = calloc((size_t)ex.n, 1);
            if (!keep) {
                free(idx);
                st = CF_ERR_NOMEM;
                goto fail;
            }
            for (int64_t j = 0; j < use; j++) keep[idx[j]] = 1;
            int64_t w = 0;
            for (int64_t i = 0; i < ex.n; i++) {
                if (!keep[i]) {
                    seq_free(&ex.s[i]);
                    continue;
                }
                ex.s[w] = ex.s[i];
                ex.sp[w] = ex.sp[i];
                ex.ep[w] = ex.ep[i];
                ex.label[w] = ex.label[i];
                w++;
            }
            free(keep);
            ex.n = use;
            free(idx);
        }
        fprintf(stderr, "%lld questions -> %lld windows of <= %d tokens (stride %lld)\n",
                (long long)nq, (long long)ex.n, r.max_len, (long long)qe.o.stride);
        st = finetune(&r, &tp, task, &ex, NULL, qa_eval_fn, &qe);
    }
    if (st != CF_OK) goto fail;
    goto done;
fail:
    if (isatty(2)) fputc('\n', stderr);
    rc = cli_fail(r.ctx, "train", st);
done:
    ex_free(&ex);
    free(cw);
    cf_tsv_free(tsv);
    cf_tsv_free(dev_tsv);
    cf_squad_free(sq);
    cf_squad_free(dev_sq);
    cf_trainer_free(r.tr);
    cf_model_free(r.m);
    cf_model_free(pre);
    cf_tokenizer_free(r.tok);
    cf_ctx_free(r.ctx);
    return rc;
}
