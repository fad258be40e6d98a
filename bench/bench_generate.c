// Generation benchmark (the shape of llama.cpp's llama-bench): prompt processing of P tokens
// (one prefill pass) and generation of G tokens one at a time with the KV cache, for the GPT-2
// 124M config with random weights (F32). Prints tokens/s for both and the peak RSS.
//   bench_generate [P] [G] [threads] [reps]
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "cformer/cformer.h"

int main(int argc, char **argv) {
    int P = argc > 1 ? atoi(argv[1]) : 128, G = argc > 2 ? atoi(argv[2]) : 128;
    int nt = argc > 3 ? atoi(argv[3]) : 0, reps = argc > 4 ? atoi(argv[4]) : 3;
    cf_ctx_params cp = {.n_threads = nt};
    cf_ctx *ctx;
    if (cf_ctx_create(&cp, &ctx) != CF_OK) return 1;
    cf_config c = cf_config_gpt2();
    cf_model *m;
    if (cf_model_create(ctx, &c, 1, &m) != CF_OK) return 1;
    cf_session *s;
    if (cf_session_create(m, P + G, P, &s) != CF_OK) {
        fprintf(stderr, "%s\n", cf_errmsg(ctx));
        return 1;
    }
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(P + G));
    for (int i = 0; i < P + G; i++) tok[i] = (int32_t)((i * 2654435761u) % 50257u);
    float *logits = malloc(sizeof(float) * 50257);
    double best_pp = 0, best_tg = 0;
    for (int r = 0; r <= reps; r++) {  // the first round warms up
        cf_session_reset(s);
        double t0 = bench_now();
        cf_session_eval(s, tok, P, 0, logits);
        double t1 = bench_now();
        for (int i = 0; i < G; i++) cf_session_eval(s, tok + P + i, 1, 0, logits);
        double t2 = bench_now();
        if (r == 0) continue;
        double pp = P / (t1 - t0), tg = G / (t2 - t1);
        best_pp = pp > best_pp ? pp : best_pp;
        best_tg = tg > best_tg ? tg : best_tg;
    }
    printf("bench_generate: GPT-2 124M F32, %d threads, %s kernels, %s products, %s\n",
           cf_ctx_n_threads(ctx), cf_ctx_isa(ctx), cf_ctx_precision(ctx), bench_cpu_name());
    printf("  pp%d: %.1f tokens/s   tg%d: %.1f tokens/s   peak RSS %.0f MiB\n", P, best_pp, G,
           best_tg, bench_peak_rss_mib());
    free(tok);
    free(logits);
    cf_session_free(s);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return 0;
}
