// The encoder commands end to end, as a user runs them: `cformer train --task mlm` pretrains a
// tiny BERT on generated sentences, `--task classify` fine-tunes it on a sentiment task whose
// words decide the label, `--task qa` on questions whose answer follows a fixed phrase; then
// `classify` (stdin and --eval), `qa` (--context and --eval) and `embed` read the saved
// Hugging Face folders. The data are made here (a 40-word vocab.txt and templates), so a tiny
// model learns them in seconds; the checks are on what it learned, so a broken loss, head,
// saver or scorer fails them. Bad input (a broken TSV row, labels outside the label set, an
// empty question, a missing head) must give an error that names it.
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../../src/internal.h"
#include "../test.h"
#include "cli_shell.h"

static void put(const char *name, const char *text) { cf_test_put(cf_test_tmpdir(), name, text); }

static const char *WORDS[] = {"the", "a", "movie", "film", "plot", "acting", "was", "is",
                              "really", "quite", "very", "good", "great", "fine", "bad",
                              "awful", "poor", "capital", "of", "france", "italy", "spain",
                              "paris", "rome", "madrid", "what", "?", ".", "city", "and",
                              "big", "old", "river", "near", "in"};

static uint64_t g_rng = 7;
static uint32_t rnd(uint32_t n) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(g_rng >> 33) % n;
}

static void make_files(void) {
    char *buf = malloc(1 << 20);
    size_t n = 0;
    n += (size_t)sprintf(buf + n, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (size_t i = 0; i < sizeof WORDS / sizeof *WORDS; i++)
        n += (size_t)sprintf(buf + n, "%s\n", WORDS[i]);
    put("vocab.txt", buf);
    static const char *subj[] = {"the movie", "the film", "the plot", "the acting", "a film"};
    static const char *adv[] = {"", "really ", "quite ", "very "};
    static const char *pos[] = {"good", "great", "fine"}, *neg[] = {"bad", "awful", "poor"};
    static const char *ctry[] = {"france", "italy", "spain"}, *cap[] = {"paris", "rome", "madrid"};
    // The pretraining corpus: sentences of both templates.
    n = 0;
    for (int i = 0; i < 600; i++) {
        int k = (int)rnd(3);
        if (i % 2)
            n += (size_t)sprintf(buf + n, "%s was %s%s .\n", subj[rnd(5)], adv[rnd(4)],
                                 rnd(2) ? pos[k] : neg[k]);
        else
            n += (size_t)sprintf(buf + n, "the capital of %s is %s .\n", ctry[k], cap[k]);
    }
    put("corpus.txt", buf);
    // Sentiment: label 1 for the positive words. The dev file has GLUE's header line.
    for (int f = 0; f < 2; f++) {
        n = (size_t)sprintf(buf, f ? "sentence\tlabel\n" : "");
        for (int i = 0; i < (f ? 60 : 400); i++) {
            int y = (int)rnd(2), k = (int)rnd(3);
            const char *s = subj[rnd(5)], *a = adv[rnd(4)], *w = y ? pos[k] : neg[k];
            if (f) n += (size_t)sprintf(buf + n, "%s was %s%s .\t%d\n", s, a, w, y);
            else n += (size_t)sprintf(buf + n, "%d\t%s was %s%s .\n", y, s, a, w);
        }
        put(f ? "dev.tsv" : "train.tsv", buf);
    }
    // QA: the capital named in the context answers the question; filler sentences before and
    // after it move the answer around the window.
    static const char *filler[] = {"the old river is near the big city .", "the film was good .",
                                   "a big city is old .", "the plot was very poor ."};
    for (int f = 0; f < 2; f++) {
        n = (size_t)sprintf(buf, "{\"version\": \"1.1\", \"data\": [{\"title\": \"t\", \"paragraphs\": [");
        for (int i = 0; i < (f ? 30 : 240); i++) {
            char ctxs[512];
            size_t c = 0;
            int q = (int)rnd(3), before = (int)rnd(3), after = (int)rnd(2), start = 0;
            for (int j = 0; j < before; j++) c += (size_t)sprintf(ctxs + c, "%s ", filler[rnd(4)]);
            c += (size_t)sprintf(ctxs + c, "the capital of %s is ", ctry[q]);
            start = (int)c;
            c += (size_t)sprintf(ctxs + c, "%s .", cap[q]);
            for (int j = 0; j < after; j++) c += (size_t)sprintf(ctxs + c, " %s", filler[rnd(4)]);
            n += (size_t)sprintf(buf + n,
                                 "%s{\"context\": \"%s\", \"qas\": [{\"id\": \"q%d_%d\", \"question\": "
                                 "\"what is the capital of %s ?\", \"answers\": [{\"text\": \"%s\", "
                                 "\"answer_start\": %d}]}]}",
                                 i ? ", " : "", ctxs, f, i, ctry[q], cap[q], start);
        }
        n += (size_t)sprintf(buf + n, "]}]}\n");
        put(f ? "qa_dev.json" : "qa_train.json", buf);
    }
    // One ordinary question and one too long to leave a 32-token window room for the context.
    const char *longq = "what is the capital of the country that the film about the old city with "
                        "the big plot and the poor acting was about and that is in europe ?";
    snprintf(buf, 4096,
             "{\"version\": \"1.1\", \"data\": [{\"title\": \"t\", \"paragraphs\": [{\"context\": "
             "\"the capital of italy is rome .\", \"qas\": [{\"id\": \"short\", \"question\": "
             "\"what is the capital of italy ?\", \"answers\": [{\"text\": \"rome\", \"answer_start\": "
             "23}]}, {\"id\": \"long\", \"question\": \"%s\", \"answers\": [{\"text\": \"rome\", "
             "\"answer_start\": 23}]}]}]}]}\n", longq);
    put("qa_long.json", buf);
    snprintf(buf, 4096,
             "{\"version\": \"1.1\", \"data\": [{\"title\": \"t\", \"paragraphs\": [{\"context\": "
             "\"the capital of italy is rome .\", \"qas\": [{\"id\": \"long\", \"question\": \"%s\", "
             "\"answers\": [{\"text\": \"rome\", \"answer_start\": 23}]}]}]}]}\n", longq);
    put("qa_only_long.json", buf);
    put("ctx.txt", "the film was good . the capital of italy is rome . a big city is old .");
    put("lines.txt", "the movie was really awful .\nthe acting was great .\n");
    put("broken.tsv", "1\tthe film was good .\n0 the film was bad .\n");
    put("odd_labels.tsv", "1\tthe film was good .\nmaybe\tthe film was fine .\n");
    free(buf);
}

static double value_after(const char *text, const char *key) {
    const char *p = strstr(text, key);
    return p ? atof(p + strlen(key)) : -1;
}

static void test_encoder_cli(void) {
    if (!cf_cli_path()) return;
    make_files();
    // Pretraining: the held-out masked-LM loss must fall.
    CF_CHECK_EQ(cf_cli_sh("train --task mlm --data corpus.txt --tokenizer vocab.txt --layers 1 --width "
                   "32 --heads 2 --ctx 32 --steps 60 --batch 16 --eval-every 5 --lr 3e-3 "
                   "--out mlm"), 0);
    double v0 = value_after(cf_cli_err, "val loss "), v1 = -1;
    for (const char *p = cf_cli_err; (p = strstr(p, "val loss ")); p++) v1 = atof(p + 9);
    CF_CHECK(v0 > 0 && v1 > 0 && v1 < v0 - 0.3);
    cf_cli_slurp("/dev/null", cf_cli_out, sizeof cf_cli_out);
    char cfgp[1024];
    snprintf(cfgp, sizeof cfgp, "%s/mlm/config.json", cf_test_tmpdir());
    char cfg[8192];
    cf_cli_slurp(cfgp, cfg, sizeof cfg);
    CF_CHECK_STR_CONTAINS(cfg, "BertForMaskedLM");
    // A second run into the same folder without --resume is refused.
    CF_CHECK(cf_cli_sh("train --task mlm --data corpus.txt --tokenizer vocab.txt --steps 1 --out mlm") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "--resume");

    // Classification from the pretrained encoder.
    CF_CHECK_EQ(cf_cli_sh("train --task classify --model mlm --data train.tsv --dev dev.tsv --epochs 4 "
                   "--batch 16 --lr 2e-3 --label-names negative,positive --out cls"), 0);
    CF_CHECK_EQ(cf_cli_sh("classify --model cls --eval dev.tsv"), 0);
    CF_CHECK(value_after(cf_cli_out, "accuracy: ") >= 0.95);
    CF_CHECK(value_after(cf_cli_out, "macro_f1: ") >= 0.95);
    CF_CHECK_EQ(cf_cli_sh("classify --model cls < lines.txt"), 0);
    CF_CHECK(!strncmp(cf_cli_out, "negative\t", 9));
    CF_CHECK(strstr(cf_cli_out, "\npositive\t") != NULL);
    // Averaging an encoder run's checkpoints or folders carries its tokenizer (vocab.txt) and,
    // for one folder twice, its answers; the absent translation files are not complained about.
    CF_CHECK_EQ(cf_cli_sh("average --out avg_ckpt mlm/checkpoint.safetensors"), 0);
    CF_CHECK(strstr(cf_cli_err, "No such file") == NULL);
    CF_CHECK_EQ(cf_cli_sh("embed --model avg_ckpt < lines.txt"), 0);
    CF_CHECK_EQ(cf_cli_sh("average --out avg cls cls"), 0);
    CF_CHECK(strstr(cf_cli_err, "No such file") == NULL);
    CF_CHECK_EQ(cf_cli_sh("classify --model avg < lines.txt"), 0);
    CF_CHECK(!strncmp(cf_cli_out, "negative\t", 9));
    snprintf(cfgp, sizeof cfgp, "%s/cls/config.json", cf_test_tmpdir());
    cf_cli_slurp(cfgp, cfg, sizeof cfg);
    CF_CHECK_STR_CONTAINS(cfg, "BertForSequenceClassification");
    CF_CHECK_STR_CONTAINS(cfg, "positive");

    // Extractive QA.
    CF_CHECK_EQ(cf_cli_sh("train --task qa --model mlm --data qa_train.json --dev qa_dev.json --epochs 6 "
                   "--batch 16 --lr 3e-3 --max-len 32 --doc-stride 8 --out qa"), 0);
    CF_CHECK_EQ(cf_cli_sh("qa --model qa --eval qa_dev.json --max-len 32 --doc-stride 8"), 0);
    double em = value_after(cf_cli_out, "exact_match: "), f1 = value_after(cf_cli_out, "f1: ");
    CF_CHECK(em >= 0 && em <= 100 && f1 >= em && f1 <= 100);
    CF_CHECK(f1 >= 90);
    CF_CHECK_EQ(cf_cli_sh("qa --model qa --context ctx.txt --question 'what is the capital of italy ?' "
                   "--max-len 32 --doc-stride 8"), 0);
    CF_CHECK_STR_CONTAINS(cf_cli_out, "rome");

    // Embeddings: one line of C values per input line; normalised ones have norm 1.
    CF_CHECK_EQ(cf_cli_sh("embed --model mlm --normalize < lines.txt"), 0);
    int lines = 0, vals = 0;
    for (char *p = cf_cli_out, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++) {
        double norm = 0;
        int k = 0;
        for (char *q = p, *end; q < nl; q = end, k++) {
            double x = strtod(q, &end);
            if (end == q) break;
            norm += x * x;
        }
        CF_CHECK_NEAR(sqrt(norm), 1.0, 1e-4);
        if (lines == 0) vals = k;
    }
    CF_CHECK_EQ(lines, 2);
    CF_CHECK_EQ(vals, 32);

    // Bad input.
    CF_CHECK(cf_cli_sh("classify --model cls --eval broken.tsv") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "broken.tsv:2");
    CF_CHECK(cf_cli_sh("classify --model cls --eval odd_labels.tsv") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "maybe");
    CF_CHECK(cf_cli_sh("qa --model qa --context ctx.txt --question ''") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "empty");
    CF_CHECK(cf_cli_sh("qa --model cls --context ctx.txt --question 'what ?'") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "no question-answering head");
    // Invalid UTF-8 is read as U+FFFD (as the reference tokenizers do) and named by line.
    put("bad_utf8.txt", "the movie was good\nthe film was \xff bad\n");
    CF_CHECK_EQ(cf_cli_sh("classify --model cls < bad_utf8.txt"), 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "stdin line 2: 1 invalid UTF-8 sequence");
    CF_CHECK(strstr(cf_cli_out, "\nnegative\t") != NULL);
    CF_CHECK(cf_cli_sh("classify --model mlm < lines.txt") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "no sequence-classification head");
    CF_CHECK(cf_cli_sh("train --task classify --model mlm --data broken.tsv --dev dev.tsv --out x") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "broken.tsv:2");
    CF_CHECK(cf_cli_sh("train --task ner --data train.tsv") == 2);
    CF_CHECK(cf_cli_sh("train --task classify --model mlm --data train.tsv --dev dev.tsv --dropout 1 "
                       "--out x") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "dropout");
    CF_CHECK(cf_cli_sh("train --task mlm --data corpus.txt --tokenizer vocab.txt --beta2 1.5 "
                       "--steps 1 --out beta") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "beta2");

    // A question too long for the window: training skips it (and says so), evaluation answers
    // it with the empty string (scored wrong); a file of nothing else cannot train.
    CF_CHECK_EQ(cf_cli_sh("train --task qa --model qa --data qa_long.json --dev qa_dev.json "
                          "--epochs 1 --max-len 32 --doc-stride 8 --out qa_skip"), 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "skipped 1 of 2 questions");
    CF_CHECK_STR_CONTAINS(cf_cli_err, "skipping question long");
    CF_CHECK_EQ(cf_cli_sh("qa --model qa --eval qa_long.json --max-len 32 --doc-stride 8"), 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "1 of 2 questions left no room");
    CF_CHECK(value_after(cf_cli_out, "exact_match: ") <= 50.0);
    // Only that case is answered empty: a bad parameter still stops the evaluation.
    CF_CHECK(cf_cli_sh("qa --model qa --eval qa_long.json --max-len 32 --doc-stride 8 "
                       "--max-answer-len 0") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "max_answer_len 0");
    CF_CHECK(cf_cli_sh("train --task qa --model qa --data qa_only_long.json --dev qa_dev.json "
                       "--epochs 1 --max-len 32 --doc-stride 8 --out qa_none") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "skipped 1 of 1 questions");
}

// The masked-LM training path end to end against PyTorch (tools/gen_mlm_traj_refs.py replays
// this exact run in torch: same initial weights, packing, batches, masks, AdamW, clipping and
// schedule): the training loss of steps 5, 10, 15, 20 and the held-out loss after them.
static void test_mlm_trajectory(void) {
    if (!cf_cli_path()) return;
    char model[PATH_MAX], corpus[PATH_MAX], want[4096];
    if (!realpath(cf_test_fixture("bert_mlm"), model) ||
        !realpath(cf_test_fixture("bert_mlm_traj/corpus.txt"), corpus)) {
        CF_CHECK(!"fixtures bert_mlm and bert_mlm_traj (run /usr/bin/python3 tools/gen_mlm_traj_refs.py)");
        return;
    }
    cf_cli_slurp(cf_test_fixture("bert_mlm_traj/expected.txt"), want, sizeof want);
    // fp32 to the replay's precision; bf16 products (mixed precision, where the CPU has them)
    // within 0.03 (they land within 0.007 of it).
    for (int bf16 = 0; bf16 <= (int)cf__cpu_detect().avx512bf16; bf16++) {
        double tol = bf16 ? 0.03 : 2e-4;
        CF_CHECK_EQ(cf_cli_sh("train --task mlm --model '%s' --data '%s' --max-len 16 --steps 20 "
                              "--batch 8 --lr 1e-2 --warmup 0.1 --eval-every 5 --seed 3 "
                              "--precision %s --out traj%d", model, corpus,
                              bf16 ? "bf16" : "fp32", bf16), 0);
        int rows = 0;
        for (const char *w = want; *w; w = strchr(w, '\n') ? strchr(w, '\n') + 1 : w + strlen(w)) {
            int step;
            double loss, val;
            if (*w == '#' || sscanf(w, "%d %lf %lf", &step, &loss, &val) != 3) continue;
            char key[32];
            snprintf(key, sizeof key, "step %d/20 | loss ", step);
            const char *line = strstr(cf_cli_err, key);
            CF_CHECK(line != NULL);
            if (!line) continue;
            CF_CHECK_NEAR(atof(line + strlen(key)), loss, tol);
            CF_CHECK_NEAR(value_after(line, "val loss "), val, tol);
            rows++;
        }
        CF_CHECK_EQ(rows, 4);
    }
}

// The BERT models committed under models/ (what `make run` shows) still load and give the
// answers their model cards show: a regression in the loader, tokenizer, heads or span search
// on real weights, or a damaged model file, fails it.
static void test_bundled_encoders(void) {
    if (!cf_cli_path()) return;
    char sst[PATH_MAX], squad[PATH_MAX];
    if (!realpath(cf_test_fixture("../../models/sst2-bert-small"), sst) ||
        !realpath(cf_test_fixture("../../models/squad-bert-small"), squad)) {
        CF_CHECK(!"models/sst2-bert-small and models/squad-bert-small");
        return;
    }
    put("reviews.txt", "a gripping, beautifully acted film\na dull, lifeless mess of a movie\n");
    CF_CHECK_EQ(cf_cli_sh("classify --model '%s' < reviews.txt", sst), 0);
    CF_CHECK(!strncmp(cf_cli_out, "positive\t", 9));
    CF_CHECK_STR_CONTAINS(cf_cli_out, "\nnegative\t");
    static const char *qa[][2] = {{"When was the tower finished?", "1889\n"},
                                  {"How many people visit the tower every year?", "seven million\n"}};
    for (int i = 0; i < 2; i++) {
        CF_CHECK_EQ(cf_cli_sh("qa --model '%s' --max-len 128 --doc-stride 48 --context '%s/example.txt' "
                              "--question '%s'", squad, squad, qa[i][0]), 0);
        CF_CHECK_STR_CONTAINS(cf_cli_out, qa[i][1]);
        CF_CHECK(!strcmp(cf_cli_out, qa[i][1]));  // the answer alone
    }
}

const cf_test tests_cli_encoder[] = {
    {"cli/encoder", test_encoder_cli},
    {"cli/bundled_encoders", test_bundled_encoders},
    {"cli/mlm_trajectory", test_mlm_trajectory},
    {NULL, NULL},
};
