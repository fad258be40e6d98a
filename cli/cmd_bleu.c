// cformer bleu: corpus BLEU of a hypothesis file against one or more reference files, as
// sacreBLEU 2.x computes it by default. stdout gets sacreBLEU's score line
// ("BLEU = 34.12 66.7/40.0/25.0/14.3 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)");
// stderr gets the matching sacreBLEU signature.
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_bleu(int argc, char **argv) {
    cli_opt opts[] = {
        {"hyp", OPT_STR, "FILE", "hypotheses, one segment per line"},
        {"ref", OPT_MULTI, "FILE", "references, same line count (repeat for several)"},
        {"lowercase", OPT_FLAG, NULL, "lower-case before scoring (sacreBLEU -lc)"},
        {"tokenize", OPT_STR, "13a|none", "tokenizer (default 13a)"},
        {NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer bleu --hyp FILE --ref FILE [--ref FILE ...]",
                   "Corpus BLEU exactly as sacreBLEU computes it with its defaults: 13a "
                   "tokenization, 4-grams, exp smoothing, closest reference length, case "
                   "sensitive. Prints sacreBLEU's score line."))
        return 2;
    cli_opt *hyp = cli_get(opts, "hyp"), *ref = cli_get(opts, "ref");
    if (!hyp->set || !ref->set || ref->n_multi < 1) {
        fprintf(stderr, "cformer bleu: --hyp and --ref are required\n");
        return 2;
    }
    cf_bleu_params p = cf_bleu_default_params();
    p.lowercase = cli_get(opts, "lowercase")->set;
    cli_opt *tk = cli_get(opts, "tokenize");
    if (tk->set) {
        if (!strcmp(tk->str, "13a")) {
            p.tokenize = 1;
        } else if (!strcmp(tk->str, "none")) {
            p.tokenize = 0;
        } else {
            fprintf(stderr, "cformer bleu: --tokenize: '%s' is not one of 13a, none\n", tk->str);
            return 2;
        }
    }
    cf_ctx *ctx = cli_ctx(1);
    if (!ctx) return 1;
    cf_bleu_result r;
    cf_status st = cf_bleu_files(ctx, hyp->str, ref->multi, ref->n_multi, &p, &r);
    if (st != CF_OK) {
        int rc = cli_fail(ctx, "bleu", st);
        cf_ctx_free(ctx);
        return rc;
    }
    if (r.n_replaced)
        fprintf(stderr, "cformer bleu: warning: %lld invalid UTF-8 sequences read as U+FFFD\n",
                (long long)r.n_replaced);
    char line[512];
    cf_bleu_format(&r, line, sizeof line);
    printf("%s\n", line);
    fprintf(stderr, "signature: nrefs:%d|case:%s|eff:no|tok:%s|smooth:exp|version:2.6.0\n",
            ref->n_multi, p.lowercase ? "lc" : "mixed", p.tokenize ? "13a" : "none");
    cf_ctx_free(ctx);
    return 0;
}
