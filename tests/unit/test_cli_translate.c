// The translation commands end to end, as a user runs them: `cformer train --task translate`
// learns a toy task (copy a sentence of code words, and reverse one) from files made here, with
// its joint SentencePiece vocabulary, dev BLEU and the Marian folder it saves; `cformer
// translate` then reads stdin: the dev BLEU of what it prints must be high (a broken loss,
// batcher, tokenizer, decoder or saver fails it), the line count out equals the line count in,
// an empty line gives an empty line, invalid UTF-8 and an over-long line do not fail, and the
// output does not depend on --batch-tokens or --threads. `cformer average` averages the kept
// checkpoints into a folder that translates. Bad input names what is wrong.
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "../../src/internal.h"
#include "../test.h"
#include "cli_shell.h"

static FILE *open_in(const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", cf_test_tmpdir(), name);
    return fopen(p, "wb");
}

static const char *W[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                          "golf", "hotel", "india", "juliet", "kilo", "lima"};

static uint64_t g_rng = 11;
static uint32_t rnd(uint32_t n) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(g_rng >> 33) % n;
}

// n pairs: a sentence of 2..6 code words and its copy (or its words reversed).
static void make_pairs(const char *src, const char *tgt, int n, bool reverse) {
    FILE *a = open_in(src), *b = open_in(tgt);
    for (int i = 0; i < n; i++) {
        int k = 2 + (int)rnd(5), w[8];
        for (int j = 0; j < k; j++) w[j] = (int)rnd(12);
        for (int j = 0; j < k; j++) {
            fprintf(a, "%s%s", j ? " " : "", W[w[j]]);
            fprintf(b, "%s%s", j ? " " : "", W[w[reverse ? k - 1 - j : j]]);
        }
        fputc('\n', a);
        fputc('\n', b);
    }
    fclose(a);
    fclose(b);
}

static double bleu_of(const char *hyp, const char *ref) {
    if (cf_cli_sh("bleu --hyp %s --ref %s", hyp, ref) != 0) return -1;
    double b = -1;
    if (sscanf(cf_cli_out, "BLEU = %lf", &b) != 1) return -1;
    return b;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static const char *TRAIN = "train --task translate --spm-vocab 300 --layers 1 --dim 64 "
                           "--heads 4 --ff 128 --ctx 64 --max-tokens 600 --lr 3e-3 "
                           "--warmup 50 --seed 1 --threads 1";

static void test_translate_cli(void) {
    if (!cf_cli_path()) return;
    make_pairs("tr.src", "tr.cpy", 3000, false);
    make_pairs("dv.src", "dv.cpy", 60, false);
    // Copy: learned in a few hundred steps.
    CF_CHECK_EQ(cf_cli_sh("%s --src tr.src --tgt tr.cpy --dev-src dv.src --dev-tgt dv.cpy --out cpy "
                   "--steps 300 --eval-every 100 --keep-last 3 --average 3", TRAIN), 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "dev BLEU");
    CF_CHECK_STR_CONTAINS(cf_cli_err, "average of the last 3 checkpoints");
    CF_CHECK_EQ(cf_cli_sh("translate --model cpy --beam 4 < dv.src"), 0);
    CF_CHECK_EQ(count_lines(cf_cli_out), 60);
    FILE *f = open_in("dv.hyp");
    fputs(cf_cli_out, f);
    fclose(f);
    static char beam_out[1 << 17];
    snprintf(beam_out, sizeof beam_out, "%s", cf_cli_out);
    double b = bleu_of("dv.hyp", "dv.cpy");
    if (cf_test_verbose) fprintf(stderr, "  copy: dev BLEU %.2f (beam 4)\n", b);
    CF_CHECK(b > 90.0);
    // The same output whatever the blocks and threads; greedy agrees on this easy task.
    CF_CHECK_EQ(cf_cli_sh("translate --model cpy --beam 4 --batch-tokens 1 --threads 2 < dv.src"), 0);
    CF_CHECK(!strcmp(cf_cli_out, beam_out));
    // bf16 products (where the CPU has them): the same task, as well translated; an unknown
    // precision is refused by name.
    if (cf__cpu_detect().avx512bf16) {
        CF_CHECK_EQ(cf_cli_sh("translate --model cpy --beam 4 --precision bf16 < dv.src"), 0);
        CF_CHECK_EQ(count_lines(cf_cli_out), 60);
        f = open_in("dv.hyp16");
        fputs(cf_cli_out, f);
        fclose(f);
        CF_CHECK(bleu_of("dv.hyp16", "dv.cpy") > 90.0);
    } else {
        CF_CHECK(cf_cli_sh("translate --model cpy --precision bf16 < dv.src") != 0);
        CF_CHECK_STR_CONTAINS(cf_cli_err, "AVX512_BF16");
    }
    CF_CHECK(cf_cli_sh("translate --model cpy --precision fp8 < dv.src") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "precision 'fp8'");
    // Empty lines, invalid UTF-8, an over-long line, no final newline: one line out per line in.
    f = open_in("odd.src");
    fputs("alpha bravo\n\n   \ncharlie \xff\xfe delta\n", f);
    for (int i = 0; i < 200; i++) fputs("echo ", f);
    fputs("\nfoxtrot golf", f);
    fclose(f);
    CF_CHECK_EQ(cf_cli_sh("translate --model cpy --beam 2 < odd.src"), 0);
    CF_CHECK_EQ(count_lines(cf_cli_out), 6);
    CF_CHECK(!strncmp(cf_cli_out, "alpha bravo\n\n\n", 14));
    CF_CHECK_STR_CONTAINS(cf_cli_out, "\nfoxtrot golf\n");
    CF_CHECK_EQ(cf_cli_sh("translate --model cpy < /dev/null"), 0);
    CF_CHECK_EQ((int)strlen(cf_cli_out), 0);
    // Averaging by hand: the kept checkpoints into a folder that translates.
    CF_CHECK_EQ(cf_cli_sh("average --out avg cpy/ckpt-00000200.safetensors "
                   "cpy/ckpt-00000300.safetensors"), 0);
    CF_CHECK_EQ(cf_cli_sh("translate --model avg --beam 1 < dv.src"), 0);
    CF_CHECK_EQ(count_lines(cf_cli_out), 60);

    // Reverse: harder (attention must learn the order); trained for longer, from the copy
    // model's folder (its tokenizer is reused).
    make_pairs("tr.src2", "tr.rev", 3000, true);
    make_pairs("dv.src2", "dv.rev", 60, true);
    CF_CHECK_EQ(cf_cli_sh("%s --src tr.src2 --tgt tr.rev --dev-src dv.src2 --dev-tgt dv.rev --out rev "
                   "--model cpy --steps 600 --eval-every 300 --keep-last 0", TRAIN), 0);
    CF_CHECK_EQ(cf_cli_sh("translate --model rev --beam 4 < dv.src2"), 0);
    f = open_in("dv.hyp2");
    fputs(cf_cli_out, f);
    fclose(f);
    b = bleu_of("dv.hyp2", "dv.rev");
    if (cf_test_verbose) fprintf(stderr, "  reverse: dev BLEU %.2f (beam 4)\n", b);
    CF_CHECK(b > 90.0);
    // --resume continues a finished run's checkpoint for more steps.
    CF_CHECK_EQ(cf_cli_sh("%s --src tr.src2 --tgt tr.rev --dev-src dv.src2 --dev-tgt dv.rev --out rev "
                   "--model cpy --steps 610 --eval-every 300 --keep-last 0 --resume", TRAIN), 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "resumed");
    CF_CHECK_STR_CONTAINS(cf_cli_err, "at step 600");

    // Bad input.
    CF_CHECK(cf_cli_sh("%s --src tr.src --tgt tr.cpy --dev-src dv.src --dev-tgt dv.cpy --out cpy "
                "--steps 10", TRAIN) != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "already holds a checkpoint");
    CF_CHECK(cf_cli_sh("%s --src tr.src --tgt dv.cpy --dev-src dv.src --dev-tgt dv.cpy --out x "
                "--steps 10", TRAIN) != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "line counts differ");
    CF_CHECK(cf_cli_sh("%s --src missing.txt --tgt tr.cpy --dev-src dv.src --dev-tgt dv.cpy --out x",
                TRAIN) != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "missing.txt");
    CF_CHECK_EQ(cf_cli_sh("translate < dv.src"), 2);
    CF_CHECK(cf_cli_sh("translate --model nowhere < dv.src") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "nowhere");
    CF_CHECK(cf_cli_sh("translate --model cpy --beam 0 < dv.src") != 0);
    f = open_in("cpy/vocab.json");
    fputs("{\"</s>\": 0, \"<unk>\": 1, \"x\": 1}", f);
    fclose(f);
    CF_CHECK(cf_cli_sh("translate --model cpy < dv.src") != 0);
    CF_CHECK_STR_CONTAINS(cf_cli_err, "vocab.json");
    CF_CHECK(cf_cli_sh("average --out x") != 0);
    CF_CHECK(cf_cli_sh("average --out x cpy rev/ckpt-missing.safetensors") != 0);
}

const cf_test tests_cli_translate[] = {
    {"cli/translate", test_translate_cli},
    {NULL, NULL},
};
