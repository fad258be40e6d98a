// Training step benchmark: GPT-2 124M config (random weights), batch B x T tokens, AdamW.
// Prints ms/step, tokens/s, model GFLOP/s (6N + 12 L T C flops per token, as llm.c and the PaLM
// paper count them) and that as a fraction of the measured SGEMM peak, and the peak RSS.
//   bench_train [B] [T] [steps] [threads]
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "cformer/cformer.h"

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 4, T = argc > 2 ? atoi(argv[2]) : 64;
    int steps = argc > 3 ? atoi(argv[3]) : 5, nt = argc > 4 ? atoi(argv[4]) : 0;
    cf_ctx_params cp = {.n_threads = nt};
    cf_ctx *ctx;
    if (cf_ctx_create(&cp, &ctx) != CF_OK) return 1;
    cf_config c = cf_config_gpt2();
    cf_model *m;
    if (cf_model_create(ctx, &c, 1, &m) != CF_OK) return 1;
    cf_train_params p = cf_train_default_params();
    p.batch_size = B, p.seq_len = T, p.max_steps = 1000000, p.warmup_steps = 10;
    cf_trainer *t;
    if (cf_trainer_create(m, &p, &t) != CF_OK) {
        fprintf(stderr, "%s\n", cf_errmsg(ctx));
        return 1;
    }
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(B * (T + 1)));
    for (int i = 0; i < B * (T + 1); i++) tok[i] = (int32_t)((i * 2654435761u) % 50257u);
    cf_step_stats st;
    cf_trainer_step_on(t, tok, &st);  // plans the arenas
    double t0 = bench_now();
    for (int s = 0; s < steps; s++) cf_trainer_step_on(t, tok, &st);
    double dt = (bench_now() - t0) / steps;
    double N = (double)cf_model_n_params(m);
    double flops = (6.0 * N + 12.0 * c.n_layers * T * c.n_embd) * B * T;
    const char *who;
    double peak = bench_sgemm_peak(cf_ctx_n_threads(ctx), &who);
    printf("bench_train: GPT-2 124M, batch %d x %d, %d threads, %s kernels, %s products, %s\n", B,
           T, cf_ctx_n_threads(ctx), cf_ctx_isa(ctx), cf_ctx_precision(ctx), bench_cpu_name());
    printf("  %.1f ms/step  %.1f tokens/s  %.1f GFLOP/s  %.0f%% of the SGEMM peak (%.1f GFLOP/s, "
           "%s)  peak RSS %.0f MiB  loss %.3f\n",
           dt * 1e3, B * T / dt, flops / dt / 1e9, 100.0 * flops / dt / 1e9 / peak, peak, who,
           bench_peak_rss_mib(), st.loss);
    cf_trainer_free(t);
    cf_model_free(m);
    cf_ctx_free(ctx);
    free(tok);
    return 0;
}
