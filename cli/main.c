// cformer: the command-line front end. Each subcommand lives in its own file and uses only the
// public API. Results go to stdout, progress and statistics to stderr.
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "cformer %s: train, fine-tune and run transformer models on a CPU\n\n"
            "usage: cformer <command> [options]   (cformer <command> --help for details)\n\n"
            "commands:\n"
            "  generate     generate text from a model (llama2.c .bin, Hugging Face folder, "
            "cformer checkpoint)\n"
            "  train        train a decoder from a text file; resumable checkpoints; with --task\n"
            "               mlm|classify|qa: pretrain or fine-tune an encoder (BERT); --task\n"
            "               translate: a translation model from parallel text\n"
            "  translate    translate stdin line by line with an encoder-decoder (Marian) model\n"
            "  average      average checkpoints elementwise into a model folder\n"
            "  classify     label each line of stdin (or --eval a TSV: accuracy)\n"
            "  qa           answer a question from a context (or --eval a SQuAD file: EM/F1)\n"
            "  embed        one sentence embedding per line of stdin\n"
            "  perplexity   perplexity of a model on a text file\n"
            "  bleu         corpus BLEU of a hypothesis file against references (as sacreBLEU)\n"
            "  info         architecture, parameter count and memory of a model\n"
            "  tokenize     print the token ids of a text (any tokenizer format)\n"
            "  detokenize   print the text of token ids\n"
            "  tokenizer    tokenizer tools: 'tokenizer train' learns a vocabulary\n"
            "  version      print the version\n",
            CF_VERSION_STRING);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "generate")) return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "perplexity")) return cmd_perplexity(argc - 1, argv + 1);
    if (!strcmp(cmd, "bleu")) return cmd_bleu(argc - 1, argv + 1);
    if (!strcmp(cmd, "translate")) return cmd_translate(argc - 1, argv + 1);
    if (!strcmp(cmd, "average")) return cmd_average(argc - 1, argv + 1);
    if (!strcmp(cmd, "classify")) return cmd_classify(argc - 1, argv + 1);
    if (!strcmp(cmd, "qa")) return cmd_qa(argc - 1, argv + 1);
    if (!strcmp(cmd, "embed")) return cmd_embed(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenize")) return cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "detokenize")) return cmd_detokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenizer")) return cmd_tokenizer(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("cformer %s\n", CF_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "cformer: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
