// BERT benchmark: the bert-base shapes (12 layers, C 768, 12 heads, F 3072, V 30522) with a
// sequence-classification head (2 labels), T tokens per sentence (128). Prints sentences/s for
// inference at batch 1 and batch B (cf_encoder_classify, best of R rounds after a warm-up),
// fine-tuning examples/s (cf_trainer_step_task, SEQ_CLS, AdamW), the model GFLOP/s of each
// and that as a fraction of the measured SGEMM peak, and the peak RSS.
// tools/bert_onnx_bench/ times ONNX Runtime and PyTorch on the same weights.
//   bench_bert [--model DIR] [--threads N] [--batch B] [--train-batch B] [--rounds R]
//              [--seq T] [--no-train] [--no-infer] [--check FILE]
// --model loads a Hugging Face BertForSequenceClassification folder instead of random weights.
// --check reads tools/bert_onnx_bench's check file (B T, then B*T token ids, type ids and mask
// bytes, then the reference logits B x n_labels, whitespace-separated) and prints the largest
// absolute difference between cformer's logits and the reference's.
//
// FLOP count per sentence (forward): 2 N T + 4 L T^2 C, N = the parameters of the matrix
// products (the blocks' projections, pooler, classifier; not the embedding tables, which are
// only gathered); training counts 3x the forward (backward = 2 forward).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "cformer/cformer.h"

typedef struct opts {
    const char *model, *check;
    int threads, batch, train_batch, rounds, T, train, infer;
} opts;

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){NULL, NULL, 0, 32, 0, 3, 128, 1, 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-train")) o->train = 0;
        else if (!strcmp(a, "--no-infer")) o->infer = 0;
        else if (!v) return fprintf(stderr, "bench_bert: %s needs a value\n", a), -1;
        else if (!strcmp(a, "--model")) o->model = v, i++;
        else if (!strcmp(a, "--check")) o->check = v, i++;
        else if (!strcmp(a, "--threads")) o->threads = atoi(v), i++;
        else if (!strcmp(a, "--batch")) o->batch = atoi(v), i++;
        else if (!strcmp(a, "--train-batch")) o->train_batch = atoi(v), i++;
        else if (!strcmp(a, "--rounds")) o->rounds = atoi(v), i++;
        else if (!strcmp(a, "--seq")) o->T = atoi(v), i++;
        else return fprintf(stderr, "bench_bert: unknown option %s\n", a), -1;
    }
    if (!o->train_batch) o->train_batch = o->batch;
    if (o->batch < 1 || o->train_batch < 1 || o->rounds < 1 || o->T < 1 || o->threads < 0)
        return fprintf(stderr, "bench_bert: batch, rounds and seq must be >= 1\n"), -1;
    return 0;
}

// Compares cformer's logits on the check file's batch with the reference logits there.
static int check(cf_model *m, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return fprintf(stderr, "bench_bert: cannot open %s\n", path), 1;
    int B = 0, T = 0, K = cf_model_config(m)->n_labels, bad = 0;
    if (fscanf(f, "%d %d", &B, &T) != 2 || B < 1 || T < 1 || B > 4096 || T > 4096) bad = 1;
    size_t n = bad ? 1 : (size_t)B * (size_t)T;
    int32_t *tok = malloc(n * sizeof(int32_t)), *typ = malloc(n * sizeof(int32_t));
    uint8_t *mask = malloc(n);
    float *ref = malloc((size_t)(bad ? 1 : B * K) * sizeof(float));
    float *got = malloc((size_t)(bad ? 1 : B * K) * sizeof(float));
    for (size_t i = 0; !bad && i < n; i++) bad = fscanf(f, "%d", &tok[i]) != 1;
    for (size_t i = 0; !bad && i < n; i++) bad = fscanf(f, "%d", &typ[i]) != 1;
    for (size_t i = 0; !bad && i < n; i++) {
        int v;
        bad = fscanf(f, "%d", &v) != 1;
        mask[i] = (uint8_t)(v != 0);
    }
    for (int i = 0; !bad && i < B * K; i++) bad = fscanf(f, "%f", &ref[i]) != 1;
    fclose(f);
    int rc = 1;
    if (bad) {
        fprintf(stderr, "bench_bert: %s: malformed check file (B T, ids, types, mask, logits)\n",
                path);
    } else {
        cf_encoder_batch b = {.tokens = tok, .type_ids = typ, .mask = mask, .B = B, .T = T};
        if (cf_encoder_classify(m, &b, got) != CF_OK) {
            fprintf(stderr, "bench_bert: %s\n", cf_errmsg(cf_model_ctx(m)));
        } else {
            double d = 0, mx = 0;
            for (int i = 0; i < B * K; i++) {
                double e = got[i] > ref[i] ? got[i] - ref[i] : ref[i] - got[i];
                d = e > d ? e : d;
                mx = ref[i] > mx ? ref[i] : -ref[i] > mx ? -ref[i] : mx;
            }
            printf("  check %s: %d x %d, logits max |cformer - reference| = %.3g (largest "
                   "|logit| %.3g)\n",
                   path, B, T, d, mx);
            rc = 0;
        }
    }
    free(tok), free(typ), free(mask), free(ref), free(got);
    return rc;
}

// Sentences/s of cf_encoder_classify at batch B: best of rounds after one warm-up round. At
// batch 1 a round is several sentences one after the other.
static double infer_rate(cf_model *m, const int32_t *tok, int B, int T, int rounds) {
    int calls = B == 1 ? 8 : 1;
    float *logits = malloc(sizeof(float) * (size_t)B * (size_t)cf_model_config(m)->n_labels);
    cf_encoder_batch b = {.tokens = tok, .B = B, .T = T};
    double best = 0;
    for (int r = 0; r <= rounds; r++) {
        double t0 = bench_now();
        for (int c = 0; c < calls; c++) {
            b.tokens = tok + (size_t)c * (size_t)T;  // a different sentence each call
            if (cf_encoder_classify(m, &b, logits) != CF_OK) {
                fprintf(stderr, "bench_bert: %s\n", cf_errmsg(cf_model_ctx(m)));
                exit(1);
            }
        }
        double rate = calls * B / (bench_now() - t0);
        if (r > 0) best = rate > best ? rate : best;
    }
    free(logits);
    return best;
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o)) return 2;
    cf_ctx_params cp = cf_ctx_default_params();
    cp.n_threads = o.threads;
    cf_ctx *ctx;
    if (cf_ctx_create(&cp, &ctx) != CF_OK) return 1;
    cf_model *m;
    cf_config c = cf_config_bert();
    c.heads = CF_HEAD_POOLER | CF_HEAD_SEQ_CLS;
    c.n_labels = 2;
    cf_status st = o.model ? cf_model_load(ctx, o.model, &m) : cf_model_create(ctx, &c, 1, &m);
    if (st != CF_OK) {
        fprintf(stderr, "bench_bert: %s\n", cf_errmsg(ctx));
        return 1;
    }
    c = *cf_model_config(m);
    if (!(c.heads & CF_HEAD_SEQ_CLS)) {
        fprintf(stderr, "bench_bert: %s has no sequence-classification head\n", o.model);
        return 1;
    }
    int nt = cf_ctx_n_threads(ctx), T = o.T;
    printf("bench_bert: BERT L=%d C=%d H=%d F=%d V=%d (%s), T=%d, %d threads, %s kernels, %s "
           "products, %s\n", c.n_layers, c.n_embd, c.n_heads, c.n_ff, c.vocab_size,
           o.model ? o.model : "random weights", T, nt, cf_ctx_isa(ctx), cf_ctx_precision(ctx),
           bench_cpu_name());
    if (o.check && check(m, o.check)) return 1;

    int maxb = o.batch > o.train_batch ? o.batch : o.train_batch;
    maxb = maxb > 8 ? maxb : 8;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)maxb * (size_t)T);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)maxb);
    for (int i = 0; i < maxb * T; i++)  // [CLS] ... ids in the ordinary word range ... [SEP]
        tok[i] = i % T == 0 ? 101 : i % T == T - 1 ? 102
                                                   : 1000 + (int32_t)((i * 2654435761u) % 28000u);
    for (int i = 0; i < maxb; i++) labels[i] = i & 1;

    double C = c.n_embd, F = c.n_ff, L = c.n_layers;
    double N = L * (4 * C * C + 2 * C * F) + C * C + C * c.n_labels;
    double fwd = 2.0 * N * T + 4.0 * L * T * T * C;  // flops per sentence
    const char *who;
    double peak = bench_sgemm_peak(nt, &who);
    printf("  %.1f GFLOP per sentence forward; SGEMM peak %.1f GFLOP/s (%s)\n", fwd / 1e9, peak,
           who);
    if (o.infer) {
        int bs[2] = {1, o.batch};
        for (int i = 0; i < (o.batch == 1 ? 1 : 2); i++) {
            double r = infer_rate(m, tok, bs[i], T, o.rounds);
            printf("  inference batch %-3d %7.2f sentences/s  %6.1f GFLOP/s  %3.0f%% of peak\n",
                   bs[i], r, r * fwd / 1e9, 100.0 * r * fwd / 1e9 / peak);
        }
    }
    if (o.train) {
        cf_train_params p = cf_train_default_params();
        p.max_steps = 1000000;
        p.warmup_steps = 10;
        p.lr = 2e-5f;
        p.min_lr = 0.0f;
        cf_trainer *t;
        if (cf_trainer_create(m, &p, &t) != CF_OK) {
            fprintf(stderr, "bench_bert: %s\n", cf_errmsg(ctx));
            return 1;
        }
        cf_encoder_batch b = {.tokens = tok, .B = o.train_batch, .T = T, .labels = labels};
        cf_step_stats s;
        double best = 0;
        for (int r = 0; r <= o.rounds; r++) {  // the first step plans the arenas
            double t0 = bench_now();
            if (cf_trainer_step_task(t, CF_TASK_SEQ_CLS, &b, 1, NULL, &s) != CF_OK) {
                fprintf(stderr, "bench_bert: %s\n", cf_errmsg(ctx));
                return 1;
            }
            double rate = o.train_batch / (bench_now() - t0);
            if (r > 0) best = rate > best ? rate : best;
        }
        printf("  fine-tune batch %-3d %7.2f examples/s   %6.1f GFLOP/s  %3.0f%% of peak  (%.0f "
               "ms/step, loss %.3f)\n",
               o.train_batch, best, best * 3 * fwd / 1e9, 100.0 * best * 3 * fwd / 1e9 / peak,
               1e3 * o.train_batch / best, s.loss);
        cf_trainer_free(t);
    }
    printf("  peak RSS %.0f MiB\n", bench_peak_rss_mib());
    free(tok);
    free(labels);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return 0;
}
