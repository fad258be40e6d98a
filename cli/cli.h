// Shared pieces of the cformer command line: option parsing, context and tokenizer set-up,
// file reading. The CLI uses only the public API (include/cformer).
#ifndef CF_CLI_H
#define CF_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "cformer/cformer.h"

typedef enum { OPT_FLAG, OPT_STR, OPT_INT, OPT_FLOAT, OPT_MULTI, OPT_U64 } opt_kind;

typedef struct cli_opt {
    const char *name;     // long name without "--"
    opt_kind kind;
    const char *meta;     // placeholder shown in help, e.g. "N"
    const char *help;
    // filled by cli_parse:
    bool set;
    const char *str;
    long long i;           // OPT_INT: within the int32 range
    unsigned long long u;  // OPT_U64
    double f;
    const char *multi[16];  // OPT_MULTI: up to 16 values, NULL terminated
    int n_multi;
} cli_opt;

// Parses argv against opts (terminated by a NULL name). Prints a message and returns false on
// an unknown option, a missing or malformed value. --help prints usage and exits 0.
bool cli_parse(int argc, char **argv, cli_opt *opts, const char *usage, const char *about);
cli_opt *cli_get(cli_opt *opts, const char *name);

// Prints "cformer <cmd>: <message>" for a failed call and returns the exit status (1).
int cli_fail(cf_ctx *ctx, const char *cmd, cf_status st);
// A context with --threads applied (0: default).
cf_ctx *cli_ctx(int n_threads);
// The same from a command's --threads and --precision ("fp32", "bf16"; unset: CF_PRECISION).
cf_ctx *cli_ctx_opts(cli_opt *opts);
// Picks the tokenizer for a model: explicit path, the model's hint, a tokenizer.bin next to the
// model file or in its folder, or bytes for a 256-id vocabulary.
cf_status cli_tokenizer(cf_ctx *ctx, cf_model *m, const char *model_path, const char *explicit_path,
                        cf_tokenizer **out);
// Encodes text into a fresh id buffer (*ids, free()), sized to what the tokenizer needs.
cf_status cli_encode(cf_tokenizer *tok, const char *text, size_t len, int add_special,
                     int32_t **ids, int64_t *n);
// Reads a whole file (max 2 GiB). Caller frees with free().
char *cli_read_file(const char *path, size_t *len);
// Copies the file from to the path to (whole, max 2 GiB); false, with a message on stderr, when
// it cannot be read or written.
bool cli_copy_file(const char *from, const char *to);
// Warns on stderr when n bytes of s hold invalid UTF-8 (which the tokenizers read as U+FFFD),
// naming where: "cformer CMD: warning: WHERE line L: ..." (line 0: no line number).
void cli_warn_utf8(const char *cmd, const char *where, long long line, const char *s, size_t n);

int cmd_generate(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_bleu(int argc, char **argv);  // cmd_bleu.c
int cmd_info(int argc, char **argv);
int cmd_classify(int argc, char **argv);    // cmd_encoder.c
int cmd_qa(int argc, char **argv);          // cmd_encoder.c
int cmd_embed(int argc, char **argv);       // cmd_encoder.c
int cmd_train_task(int argc, char **argv);  // cmd_encoder.c: train --task mlm|classify|qa
int cmd_translate(int argc, char **argv);        // cmd_translate.c
int cmd_train_translate(int argc, char **argv);  // cmd_translate.c: train --task translate
int cmd_average(int argc, char **argv);          // cmd_translate.c: checkpoint averaging
int cmd_tokenize(int argc, char **argv);    // cmd_tokenize.c
int cmd_detokenize(int argc, char **argv);  // cmd_tokenize.c
int cmd_tokenizer(int argc, char **argv);   // cmd_tokenize.c: tokenizer train

#endif
