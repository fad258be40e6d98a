// cformer perplexity: the model's perplexity on a text file; the last line is `perplexity: X`.
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_perplexity(int argc, char **argv) {
    cli_opt opts[] = {
        {"model", OPT_STR, "PATH", "model (llama2.c .bin, Hugging Face folder, checkpoint)"},
        {"file", OPT_STR, "TEXT", "text file to score"},
        {"tokenizer", OPT_STR, "PATH", "tokenizer (default: found from the model)"},
        {"ctx", OPT_INT, "N", "window length (default: the model's n_ctx)"},
        {"stride", OPT_INT, "N", "window step (default: half the window)"},
        {"no-bos", OPT_FLAG, NULL, "do not start with the BOS token"},
        {"threads", OPT_INT, "N", "threads"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer perplexity --model PATH --file TEXT [options]",
                   "Scores every token of the file (after the first) once with a sliding window "
                   "and prints the perplexity, exp(mean negative log-likelihood), as the last "
                   "line: `perplexity: X`."))
        return 2;
    cli_opt *model = cli_get(opts, "model"), *file = cli_get(opts, "file");
    if (!model->set || !file->set) {
        fprintf(stderr, "cformer perplexity: --model and --file are required\n");
        return 2;
    }
    size_t len = 0;
    char *text = cli_read_file(file->str, &len);
    if (!text) return 1;
    cf_ctx *ctx = cli_ctx_opts(opts);
    if (!ctx) {
        free(text);
        return 1;
    }
    cf_model *m = NULL;
    cf_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int rc = 0;
    cf_status st = cf_model_load(ctx, model->str, &m);
    if (st == CF_OK) st = cli_tokenizer(ctx, m, model->str, cli_get(opts, "tokenizer")->str, &tok);
    int64_t n = 0;
    if (st == CF_OK) st = cli_encode(tok, text, len, !cli_get(opts, "no-bos")->set, &ids, &n);
    cf_perplexity_result r;
    if (st == CF_OK) {
        fprintf(stderr, "scoring %lld tokens of %s with %s ...\n", (long long)n, file->str,
                model->str);
        st = cf_perplexity(m, ids, n, (int)cli_get(opts, "ctx")->i,
                           (int)cli_get(opts, "stride")->i, &r);
    }
    if (st != CF_OK) {
        rc = cli_fail(ctx, "perplexity", st);
    } else {
        printf("tokens: %lld\nscored: %lld\nnll: %.6f\nperplexity: %.4f\n", (long long)n,
               (long long)r.n_scored, r.nll, r.perplexity);
    }
    free(ids);
    free(text);
    cf_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return rc;
}
