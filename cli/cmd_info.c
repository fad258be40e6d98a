// cformer info: what a model is and what it needs.
#include <stdio.h>

#include "cli.h"

static const char *bytes_h(double b, char *buf, size_t n) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, "%.1f %s", b, u[i]);
    return buf;
}

int cmd_info(int argc, char **argv) {
    cli_opt opts[] = {
        {"model", OPT_STR, "PATH", "model (llama2.c .bin, Hugging Face folder, checkpoint)"},
        {"batch", OPT_INT, "B", "training batch for the memory estimate (default 4)"},
        {"seq-len", OPT_INT, "T", "training sequence length for the estimate (default n_ctx)"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer info --model PATH",
                   "Prints the architecture, the parameter count and the memory the model needs "
                   "for inference (weights, KV cache, activations) and for training."))
        return 2;
    cli_opt *model = cli_get(opts, "model");
    if (!model->set) {
        fprintf(stderr, "cformer info: --model is required\n");
        return 2;
    }
    cf_ctx *ctx = cli_ctx(1);
    if (!ctx) return 1;
    cf_model *m = NULL;
    cf_status st = cf_model_load(ctx, model->str, &m);
    if (st != CF_OK) {
        int rc = cli_fail(ctx, "info", st);
        cf_ctx_free(ctx);
        return rc;
    }
    const cf_config *c = cf_model_config(m);
    static const char *norms[] = {"layernorm", "rmsnorm"};
    static const char *poss[] = {"none", "learned", "sinusoidal", "rope"};
    static const char *acts[] = {"gelu", "gelu_tanh", "relu", "swiglu", "silu", "geglu"};
    static const char *fams[] = {"generic", "gpt2", "llama", "bert", "roberta", "distilbert",
                                 "marian"};
    int batch = cli_get(opts, "batch")->set ? (int)cli_get(opts, "batch")->i : 4;
    int seq = cli_get(opts, "seq-len")->set ? (int)cli_get(opts, "seq-len")->i : c->n_ctx;
    cf_memory_info mi;
    st = cf_model_memory(m, 0, 0, batch, seq, &mi);
    if (st != CF_OK) {
        int rc = cli_fail(ctx, "info", st);
        cf_model_free(m);
        cf_ctx_free(ctx);
        return rc;
    }
    char b1[32], b2[32], b3[32], b4[32];
    printf("model:        %s (%s)\n", model->str, cf_model_source(m));
    const char *fam = (unsigned)c->family < sizeof fams / sizeof *fams ? fams[c->family] : "?";
    if (c->n_dec_layers > 0)
        printf("family:       %s, encoder-decoder (%d encoder + %d decoder blocks)\n", fam,
               c->n_layers, c->n_dec_layers);
    else
        printf("family:       %s, %s\n", fam, c->causal ? "causal decoder" : "bidirectional encoder");
    printf("layers:       %d\n", c->n_layers);
    printf("width:        %d (heads %d, kv heads %d, head dim %d)\n", c->n_embd, c->n_heads,
           c->n_kv_heads, c->head_dim);
    printf("ffn:          %d, %s%s\n", c->n_ff, acts[c->act], c->mlp_bias ? ", bias" : "");
    printf("norm:         %s, %s, eps %g%s\n", norms[c->norm], c->pre_norm ? "pre-norm" : "post-norm",
           c->norm_eps, c->final_norm ? ", final norm" : "");
    printf("positions:    %s", poss[c->pos]);
    if (c->pos == CF_POS_ROPE)
        printf(" (theta %g, %s)", c->rope_theta, c->rope_style ? "interleaved" : "half");
    printf("\nvocab:        %d%s\n", c->vocab_size, c->tie_embeddings ? " (tied output)" : "");
    printf("context:      %d\n", c->n_ctx);
    printf("parameters:   %lld (%.2f M)\n", (long long)cf_model_n_params(m),
           (double)cf_model_n_params(m) / 1e6);
    printf("weights:      %s float32%s\n", bytes_h((double)mi.weight_bytes, b1, sizeof b1),
           cf_model_is_mapped(m) ? ", memory-mapped" : "");
    printf("kv cache:     %s for %d positions (%s per token)\n",
           bytes_h((double)mi.kv_bytes, b2, sizeof b2), c->n_ctx,
           bytes_h((double)mi.kv_bytes / c->n_ctx, b4, sizeof b4));
    printf("activations:  %s per prefill chunk of %d tokens\n",
           bytes_h((double)mi.activation_bytes, b3, sizeof b3), c->n_ctx < 256 ? c->n_ctx : 256);
    if (mi.train_bytes)
        printf("training:     %s at batch %d x %d (weights, grads, AdamW, activations)\n",
               bytes_h((double)mi.train_bytes, b1, sizeof b1), batch, seq);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return 0;
}
