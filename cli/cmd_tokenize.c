// cformer tokenize / detokenize / tokenizer train: the tokenizers from the command line.
//
//   cformer tokenize --tokenizer PATH [--file F] [--pair F2] [--no-special] [--offsets]
//       prints the ids of the whole content of F (standard input without --file), separated
//       by spaces, on one line; --offsets adds a second line of start:end byte spans, --pair
//       encodes F2 as the second sequence and adds a line of type ids.
//   cformer detokenize --tokenizer PATH [--file F] [--skip-special]
//       reads ids (separated by white space or commas) and prints the decoded text.
//   cformer tokenizer train --model bpe|unigram --vocab-size N --file F --out tokenizer.json
//       learns a vocabulary from a text file and writes a tokenizer.json.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *read_input(const char *path, size_t *len) {
    if (path) return cli_read_file(path, len);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (n < cap) {
            if (ferror(stdin)) {
                fprintf(stderr, "cformer: error reading standard input\n");
                free(buf);
                return NULL;
            }
            break;
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf) {
        fprintf(stderr, "cformer: out of memory reading standard input\n");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int cmd_tokenize(int argc, char **argv) {
    cli_opt opts[] = {
        {"tokenizer", OPT_STR, "PATH", "tokenizer file or folder (tokenizer.json, .model, "
                                       "encoder.json, vocab.txt, tokenizer.bin) or 'byte'"},
        {"file", OPT_STR, "F", "text to encode (default: standard input)"},
        {"pair", OPT_STR, "F2", "second sequence (BERT-style pair: type ids are printed)"},
        {"no-special", OPT_FLAG, NULL, "add no special tokens ([CLS], <s>, ...)"},
        {"offsets", OPT_FLAG, NULL, "also print each token's start:end byte span"},
        {NULL, 0, NULL, NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer tokenize --tokenizer PATH [--file F] [options]",
                   "Prints the token ids of a text on one line, separated by spaces."))
        return 2;
    cli_opt *tp = cli_get(opts, "tokenizer");
    if (!tp->set) {
        fprintf(stderr, "cformer tokenize: --tokenizer is required\n");
        return 2;
    }
    size_t len = 0, plen = 0;
    char *text = read_input(cli_get(opts, "file")->str, &len), *pair = NULL;
    if (!text) return 1;
    if (cli_get(opts, "pair")->set && !(pair = cli_read_file(cli_get(opts, "pair")->str, &plen))) {
        free(text);
        return 1;
    }
    cf_ctx *ctx = cli_ctx(1);
    if (!ctx) {
        free(text);
        free(pair);
        return 1;
    }
    cf_tokenizer *tok = NULL;
    cf_token *t = NULL;
    int rc = 0;
    cf_status st = cf_tokenizer_load(ctx, tp->str, 0, &tok);
    int64_t n = 0, cap = (int64_t)(len + plen) + 16;
    while (st == CF_OK) {
        free(t);
        t = malloc((size_t)cap * sizeof *t);
        if (!t) {
            st = CF_ERR_NOMEM;
            break;
        }
        st = cf_tokenizer_encode_tokens(tok, text, len, pair, plen,
                                        !cli_get(opts, "no-special")->set, t, cap, &n);
        if (st == CF_ERR_RANGE && n > cap) {
            cap = n;
            st = CF_OK;
            continue;
        }
        break;
    }
    if (st != CF_OK) {
        rc = cli_fail(ctx, "tokenize", st);
    } else {
        for (int64_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", t[i].id);
        printf("\n");
        if (cli_get(opts, "offsets")->set) {
            for (int64_t i = 0; i < n; i++)
                printf("%s%lld:%lld", i ? " " : "", (long long)t[i].start, (long long)t[i].end);
            printf("\n");
        }
        if (pair) {
            for (int64_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", t[i].type_id);
            printf("\n");
        }
        if (fflush(stdout) != 0) {
            fprintf(stderr, "cformer tokenize: cannot write the output\n");
            rc = 1;
        }
    }
    free(t);
    free(text);
    free(pair);
    cf_tokenizer_free(tok);
    cf_ctx_free(ctx);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    cli_opt opts[] = {
        {"tokenizer", OPT_STR, "PATH", "tokenizer file or folder, or 'byte'"},
        {"file", OPT_STR, "F", "ids to decode (default: standard input)"},
        {"skip-special", OPT_FLAG, NULL, "leave special tokens out"},
        {NULL, 0, NULL, NULL},
    };
    if (!cli_parse(argc, argv, opts, "cformer detokenize --tokenizer PATH [--file F]",
                   "Reads token ids (separated by spaces, newlines or commas) and prints the "
                   "decoded text."))
        return 2;
    cli_opt *tp = cli_get(opts, "tokenizer");
    if (!tp->set) {
        fprintf(stderr, "cformer detokenize: --tokenizer is required\n");
        return 2;
    }
    size_t len = 0;
    char *in = read_input(cli_get(opts, "file")->str, &len);
    if (!in) return 1;
    // Parse the ids.
    size_t cap = len / 2 + 2, n = 0;
    int32_t *ids = malloc(cap * sizeof(int32_t));
    int rc = 0;
    for (char *p = in; ids && *p;) {
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == ',' || *p == '[' ||
               *p == ']')
            p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX) {
            fprintf(stderr, "cformer detokenize: '%.20s' is not a token id\n", p);
            rc = 2;
            break;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    if (!ids) {
        fprintf(stderr, "cformer detokenize: out of memory\n");
        rc = 1;
    }
    cf_ctx *ctx = rc ? NULL : cli_ctx(1);
    if (!rc && !ctx) rc = 1;
    cf_tokenizer *tok = NULL;
    char *out = NULL;
    if (!rc) {
        cf_status st = cf_tokenizer_load(ctx, tp->str, 0, &tok);
        size_t ocap = n * 16 + 64, on = 0;
        while (st == CF_OK) {
            free(out);
            out = malloc(ocap);
            if (!out) {
                st = CF_ERR_NOMEM;
                break;
            }
            st = cf_tokenizer_decode(tok, ids, (int64_t)n, cli_get(opts, "skip-special")->set,
                                     out, ocap, &on);
            if (st == CF_ERR_RANGE && on > ocap) {
                ocap = on;
                st = CF_OK;
                continue;
            }
            break;
        }
        if (st != CF_OK) rc = cli_fail(ctx, "detokenize", st);
        else if (fwrite(out, 1, on, stdout) != on || fflush(stdout) != 0) {
            fprintf(stderr, "cformer detokenize: cannot write the output\n");
            rc = 1;
        }
    }
    free(out);
    free(ids);
    free(in);
    cf_tokenizer_free(tok);
    cf_ctx_free(ctx);
    return rc;
}

static int train(int argc, char **argv) {
    cli_opt opts[] = {
        {"model", OPT_STR, "bpe|unigram", "byte-level BPE (GPT-2 style) or Unigram (default bpe)"},
        {"vocab-size", OPT_INT, "N", "vocabulary size, special tokens included (default 8000)"},
        {"min-frequency", OPT_INT, "N", "BPE: merge only pairs seen at least N times (default 2)"},
        {"special", OPT_MULTI, "TOKEN", "a special token (repeatable; ids from 0)"},
        {"max-piece-length", OPT_INT, "N", "Unigram: longest piece in characters (default 16)"},
        {"file", OPT_STR, "F", "training text (lines are sentences)"},
        {"out", OPT_STR, "PATH", "where to write tokenizer.json"},
        {NULL, 0, NULL, NULL},
    };
    if (!cli_parse(argc, argv, opts,
                   "cformer tokenizer train --file F --out tokenizer.json [options]",
                   "Learns a tokenizer vocabulary from a text file and writes a tokenizer.json "
                   "that the Hugging Face tokenizers library loads."))
        return 2;
    cli_opt *file = cli_get(opts, "file"), *out = cli_get(opts, "out");
    if (!file->set || !out->set) {
        fprintf(stderr, "cformer tokenizer train: --file and --out are required\n");
        return 2;
    }
    cf_tokenizer_train_params p = cf_tokenizer_default_train_params();
    const char *model = cli_get(opts, "model")->set ? cli_get(opts, "model")->str : "bpe";
    if (!strcmp(model, "bpe")) p.model = CF_TOKENIZER_BPE;
    else if (!strcmp(model, "unigram")) p.model = CF_TOKENIZER_UNIGRAM;
    else {
        fprintf(stderr, "cformer tokenizer train: --model is bpe or unigram, not '%s'\n", model);
        return 2;
    }
    if (cli_get(opts, "vocab-size")->set) p.vocab_size = (int32_t)cli_get(opts, "vocab-size")->i;
    if (cli_get(opts, "min-frequency")->set)
        p.min_frequency = (int32_t)cli_get(opts, "min-frequency")->i;
    if (cli_get(opts, "max-piece-length")->set)
        p.max_piece_length = (int32_t)cli_get(opts, "max-piece-length")->i;
    cli_opt *sp = cli_get(opts, "special");
    if (sp->n_multi) p.special = sp->multi;
    size_t len;
    char *text = cli_read_file(file->str, &len);
    if (!text) return 1;
    cf_ctx *ctx = cli_ctx(1);
    int rc = 0;
    if (!ctx) rc = 1;
    else {
        cf_status st = cf_tokenizer_train(ctx, &p, text, len, out->str);
        if (st != CF_OK) rc = cli_fail(ctx, "tokenizer train", st);
        else fprintf(stderr, "wrote %s\n", out->str);
    }
    free(text);
    cf_ctx_free(ctx);
    return rc;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return train(argc - 1, argv + 1);
    fprintf(stderr, "usage: cformer tokenizer train --file F --out tokenizer.json [options]\n");
    return 2;
}
