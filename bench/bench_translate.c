// Translation benchmark: a translation model folder (Marian layout) translating a source file
// (one sentence per line, e.g. the Multi30k val split) with cf_s2s_translate_ids, the way
// `cformer translate` does (sentences sorted by length, batches of --batch), and training steps
// on the same model. Prints:
//   decode: sentences, target tokens generated (eos included), seconds, target tokens/s
//   train:  tokens/s (source + target tokens of the batches, the trainer's count) over
//           --train-steps AdamW steps on token-budget batches of --max-tokens
//   peak RSS
//   bench_translate --model DIR --src FILE [--tgt FILE] [--beam N] [--threads N] [--batch N]
//                   [--train-steps N] [--max-tokens N] [--dump-ids FILE] [--dump-out FILE]
// --dump-ids writes the tokenized sources (one line of ids per sentence) for
// tools/bench_translate_torch.py, which runs the same model and search in PyTorch;
// --dump-out writes the generated ids, to compare the two engines' outputs.
// Tokenization is done before the clock starts (the same for both engines).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "cformer/cformer.h"

typedef struct opts {
    const char *model, *src, *tgt, *dump_ids, *dump_out;
    int beam, threads, batch, train_steps, max_tokens;
} opts;

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){NULL, NULL, NULL, NULL, NULL, 4, 0, 64, 0, 3000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return fprintf(stderr, "bench_translate: %s needs a value\n", a), -1;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--src")) o->src = v;
        else if (!strcmp(a, "--tgt")) o->tgt = v;
        else if (!strcmp(a, "--dump-ids")) o->dump_ids = v;
        else if (!strcmp(a, "--dump-out")) o->dump_out = v;
        else if (!strcmp(a, "--beam")) o->beam = atoi(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--train-steps")) o->train_steps = atoi(v);
        else if (!strcmp(a, "--max-tokens")) o->max_tokens = atoi(v);
        else return fprintf(stderr, "bench_translate: unknown option %s\n", a), -1;
        i++;
    }
    if (!o->model || !o->src || o->beam < 1 || o->batch < 1 || o->threads < 0 ||
        o->max_tokens < 2 || (o->train_steps > 0 && !o->tgt))
        return fprintf(stderr, "usage: bench_translate --model DIR --src FILE [--tgt FILE] "
                       "[--beam N] [--threads N] [--batch N] [--train-steps N] [--max-tokens N] "
                       "[--dump-ids FILE] [--dump-out FILE]\n"), -1;
    return 0;
}

// Reads and tokenizes every line of path (side), ids ending with </s>.
static int read_ids(cf_s2s_tokenizer *tok, cf_s2s_side side, const char *path, int32_t ***ids,
                    int32_t **len, int *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "bench_translate: cannot open %s\n", path), -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int k = 0, kcap = 1024;
    *ids = malloc((size_t)kcap * sizeof **ids);
    *len = malloc((size_t)kcap * sizeof **len);
    while ((got = getline(&line, &cap, f)) >= 0) {
        if (got && line[got - 1] == '\n') line[--got] = 0;
        if (k == kcap) {
            kcap *= 2;
            *ids = realloc(*ids, (size_t)kcap * sizeof **ids);
            *len = realloc(*len, (size_t)kcap * sizeof **len);
        }
        int64_t need = 0, room = got + 16;
        (*ids)[k] = malloc((size_t)room * sizeof(int32_t));
        if (cf_s2s_tokenizer_encode(tok, side, line, (size_t)got, (*ids)[k], room, &need) != CF_OK) {
            (*ids)[k] = realloc((*ids)[k], (size_t)need * sizeof(int32_t));
            cf_s2s_tokenizer_encode(tok, side, line, (size_t)got, (*ids)[k], need, &need);
        }
        (*len)[k] = (int32_t)need;
        k++;
    }
    free(line);
    fclose(f);
    *n = k;
    return 0;
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o)) return 2;
    cf_ctx_params cp = cf_ctx_default_params();
    cp.n_threads = o.threads;
    cf_ctx *ctx = NULL;
    cf_model *m = NULL;
    cf_s2s_tokenizer *tok = NULL;
    if (cf_ctx_create(&cp, &ctx) != CF_OK || cf_model_load(ctx, o.model, &m) != CF_OK ||
        cf_s2s_tokenizer_load(ctx, o.model, cf_model_config(m)->vocab_size, &tok) != CF_OK) {
        fprintf(stderr, "bench_translate: %s\n", ctx ? cf_errmsg(ctx) : "no context");
        return 1;
    }
    int32_t **src = NULL, *slen = NULL;
    int n = 0;
    if (read_ids(tok, CF_S2S_SOURCE, o.src, &src, &slen, &n)) return 1;
    int64_t src_tokens = 0;
    for (int i = 0; i < n; i++) src_tokens += slen[i];
    if (o.dump_ids) {
        FILE *f = fopen(o.dump_ids, "w");
        for (int i = 0; f && i < n; i++)
            for (int j = 0; j < slen[i]; j++) fprintf(f, "%d%c", src[i][j], j + 1 < slen[i] ? ' ' : '\n');
        if (f) fclose(f);
    }
    const cf_config *c = cf_model_config(m);
    printf("model %s: %d+%d layers, C %d, H %d, F %d, V %d, %.2fM parameters; %d threads (%s, "
           "%s products)\n", o.model, c->n_layers, c->n_dec_layers, c->n_embd, c->n_heads, c->n_ff,
           c->vocab_size, (double)cf_model_n_params(m) / 1e6, cf_ctx_n_threads(ctx),
           cf_ctx_isa(ctx), cf_ctx_precision(ctx));
    cf_s2s_decode_params p = cf_s2s_default_decode_params();
    p.beam_size = o.beam;
    p.max_batch = o.batch;
    // Warm-up on a few sentences (plans, first-touch of the weights), then the timed run.
    cf_s2s_output *out = NULL;
    int warm = n < 16 ? n : 16;
    if (cf_s2s_translate_ids(m, (const int32_t *const *)src, slen, warm, &p, &out) != CF_OK) {
        fprintf(stderr, "bench_translate: %s\n", cf_errmsg(ctx));
        return 1;
    }
    cf_s2s_output_free(out);
    double t0 = bench_now();
    if (cf_s2s_translate_ids(m, (const int32_t *const *)src, slen, n, &p, &out) != CF_OK) {
        fprintf(stderr, "bench_translate: %s\n", cf_errmsg(ctx));
        return 1;
    }
    double secs = bench_now() - t0;
    int64_t tgt_tokens = 0;
    for (int i = 0; i < n; i++)
        if (out->n_hyps[i]) tgt_tokens += out->hyps[i * out->n_best].n + out->hyps[i * out->n_best].finished;
    printf("decode beam %d, batch %d: %d sentences, %lld source tokens, %lld target tokens in "
           "%.2f s: %.0f target tokens/s, %.1f sentences/s\n", o.beam, o.batch, n,
           (long long)src_tokens, (long long)tgt_tokens, secs, (double)tgt_tokens / secs,
           (double)n / secs);
    if (o.dump_out) {
        FILE *f = fopen(o.dump_out, "w");
        for (int i = 0; f && i < n; i++) {
            const cf_s2s_hyp *h = &out->hyps[i * out->n_best];
            for (int j = 0; out->n_hyps[i] && j < h->n; j++) fprintf(f, j ? " %d" : "%d", h->tokens[j]);
            fputc('\n', f);
        }
        if (f) fclose(f);
    }
    cf_s2s_output_free(out);
    if (o.tgt) {
        int32_t **tgt = NULL, *tlen = NULL;
        int nt = 0;
        if (read_ids(tok, CF_S2S_TARGET, o.tgt, &tgt, &tlen, &nt) || nt != n)
            return fprintf(stderr, "bench_translate: --tgt must have the --src line count\n"), 1;
        if (o.dump_ids) {  // the targets next to the sources: FILE.tgt
            char p2[4096];
            snprintf(p2, sizeof p2, "%s.tgt", o.dump_ids);
            FILE *f = fopen(p2, "w");
            for (int i = 0; f && i < n; i++)
                for (int j = 0; j < tlen[i]; j++)
                    fprintf(f, "%d%c", tgt[i][j], j + 1 < tlen[i] ? ' ' : '\n');
            if (f) fclose(f);
        }
        if (o.train_steps > 0) {
            cf_s2s_batcher *b = NULL;
            cf_trainer *t = NULL;
            cf_train_params tp = cf_train_default_params();
            tp.batch_size = 1;
            tp.seq_len = 1;
            tp.schedule = CF_SCHEDULE_INV_SQRT;
            tp.lr = 1e-4f;
            if (cf_s2s_batcher_create(m, (const int32_t *const *)src, slen,
                                      (const int32_t *const *)tgt, tlen, n, o.max_tokens, c->n_ctx, 1,
                                      &b) != CF_OK ||
                cf_trainer_create(m, &tp, &t) != CF_OK) {
                fprintf(stderr, "bench_translate: %s\n", cf_errmsg(ctx));
                return 1;
            }
            int64_t tokens = 0;
            double tsec = 0;
            for (int s = 0; s <= o.train_steps; s++) {  // step 0 is the warm-up
                cf_s2s_batch x;
                cf_step_stats st;
                cf_s2s_batcher_get(b, s, &x, NULL);
                if (cf_trainer_step_s2s(t, &x, 1, 0.1f, &st) != CF_OK) {
                    fprintf(stderr, "bench_translate: %s\n", cf_errmsg(ctx));
                    return 1;
                }
                if (s > 0) {
                    tokens += st.tokens;
                    tsec += st.seconds;
                }
            }
            printf("train: %d steps of <= %d tokens: %lld tokens (source + target) in %.2f s: %.0f "
                   "tokens/s\n", o.train_steps, o.max_tokens, (long long)tokens, tsec,
                   (double)tokens / tsec);
            cf_trainer_free(t);
            cf_s2s_batcher_free(b);
        }
        for (int i = 0; i < nt; i++) free(tgt[i]);
        free(tgt);
        free(tlen);
    }
    printf("peak RSS %.1f MiB\n", bench_peak_rss_mib());
    for (int i = 0; i < n; i++) free(src[i]);
    free(src);
    free(slen);
    cf_s2s_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return 0;
}
