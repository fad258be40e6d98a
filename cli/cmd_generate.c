// cformer generate: prints the prompt, then the continuation as it is generated.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int print_text(const char *text, size_t len, void *user) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    cli_opt opts[] = {
        {"model", OPT_STR, "PATH", "llama2.c .bin, Hugging Face folder, or cformer checkpoint"},
        {"tokenizer", OPT_STR, "PATH", "tokenizer file, or 'byte' (default: found from the model)"},
        {"prompt", OPT_STR, "TEXT", "text to continue"},
        {"max-tokens", OPT_INT, "N", "tokens to generate (default 256)"},
        {"temperature", OPT_FLOAT, "T", "0 is greedy and repeatable (default 0.8)"},
        {"top-k", OPT_INT, "K", "keep the K most likely tokens, 0 = off (default 40)"},
        {"top-p", OPT_FLOAT, "P", "nucleus sampling, 1 = off (default 0.95)"},
        {"min-p", OPT_FLOAT, "P", "drop tokens below P x the best one's probability (0.05)"},
        {"repeat-penalty", OPT_FLOAT, "R", "penalise the last 64 tokens, 1 = off (default 1)"},
        {"seed", OPT_U64, "S", "random seed (default 0)"},
        {"stop", OPT_MULTI, "TEXT", "stop before this text (repeatable)"},
        {"no-bos", OPT_FLAG, NULL, "do not start the prompt with the BOS token"},
        {"ignore-eos", OPT_FLAG, NULL, "keep generating after end-of-sequence"},
        {"ctx", OPT_INT, "N", "context length to allocate (default: the model's, at most 8192)"},
        {"threads", OPT_INT, "N", "threads (default: CF_NUM_THREADS or the core count)"},
        {"precision", OPT_STR, "P", "fp32 (default) or bf16: weight products in bf16, fp32 sums"},
        {"quiet", OPT_FLAG, NULL, "no statistics on stderr"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer generate --model PATH --prompt TEXT [options]",
                   "Generates a continuation of the prompt. stdout gets the prompt followed by "
                   "the generated text, streamed token by token."))
        return 2;
    cli_opt *model = cli_get(opts, "model"), *prompt = cli_get(opts, "prompt");
    if (!model->set) {
        fprintf(stderr, "cformer generate: --model is required\n");
        return 2;
    }
    cf_generate_params gp = cf_generate_default_params();
    cli_opt *o;
    if ((o = cli_get(opts, "max-tokens"))->set) gp.max_tokens = (int32_t)o->i;
    if ((o = cli_get(opts, "temperature"))->set) gp.sampler.temperature = (float)o->f;
    if ((o = cli_get(opts, "top-k"))->set) gp.sampler.top_k = (int32_t)o->i;
    if ((o = cli_get(opts, "top-p"))->set) gp.sampler.top_p = (float)o->f;
    if ((o = cli_get(opts, "min-p"))->set) gp.sampler.min_p = (float)o->f;
    if ((o = cli_get(opts, "repeat-penalty"))->set) gp.sampler.repeat_penalty = (float)o->f;
    if ((o = cli_get(opts, "seed"))->set) gp.sampler.seed = o->u;
    if ((o = cli_get(opts, "stop"))->set) gp.stop = o->multi;
    gp.add_bos = !cli_get(opts, "no-bos")->set;
    gp.stop_at_eos = !cli_get(opts, "ignore-eos")->set;
    if (gp.max_tokens < 0) {
        fprintf(stderr, "cformer generate: --max-tokens must be >= 0\n");
        return 2;
    }
    cf_ctx *ctx = cli_ctx_opts(opts);
    if (!ctx) return 1;
    cf_model *m = NULL;
    cf_tokenizer *tok = NULL;
    cf_session *s = NULL;
    int rc = 0;
    cf_status st = cf_model_load(ctx, model->str, &m);
    if (st == CF_OK) st = cli_tokenizer(ctx, m, model->str, cli_get(opts, "tokenizer")->str, &tok);
    if (st == CF_OK) st = cf_session_create(m, (int)cli_get(opts, "ctx")->i, 0, &s);
    if (st != CF_OK) {
        rc = cli_fail(ctx, "generate", st);
        goto done;
    }
    const char *text = prompt->set ? prompt->str : "";
    fputs(text, stdout);
    fflush(stdout);
    cf_generate_stats gs;
    st = cf_generate(s, tok, text, &gp, print_text, NULL, &gs);
    fputc('\n', stdout);
    fflush(stdout);
    if (st != CF_OK) {
        rc = cli_fail(ctx, "generate", st);
        goto done;
    }
    if (!cli_get(opts, "quiet")->set)
        fprintf(stderr,
                "prompt: %lld tokens in %.3f s (%.1f tok/s) | generated: %lld tokens in %.3f s "
                "(%.1f tok/s) | stop: %s | %s, %d threads\n",
                (long long)gs.n_prompt, gs.prompt_seconds,
                gs.prompt_seconds > 0 ? (double)gs.n_prompt / gs.prompt_seconds : 0.0,
                (long long)gs.n_generated, gs.gen_seconds,
                gs.gen_seconds > 0 && gs.n_generated > 1
                    ? (double)(gs.n_generated - 1) / gs.gen_seconds
                    : 0.0,
                gs.stop_reason, cf_ctx_isa(ctx), cf_ctx_n_threads(ctx));
done:
    cf_session_free(s);
    cf_tokenizer_free(tok);
    cf_model_free(m);
    cf_ctx_free(ctx);
    return rc;
}
