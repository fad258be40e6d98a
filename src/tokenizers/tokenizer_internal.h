// Tokenizer internals shared inside src/ and with the tests and fuzz targets.
#ifndef CF_TOKENIZER_INTERNAL_H
#define CF_TOKENIZER_INTERNAL_H

#include "../internal.h"

// Parses a llama2.c tokenizer.bin image held in memory (path names it in messages).
// vocab_size: the model's (0: every record to the end). *out: owned, cf_tokenizer_free.
cf_status cf__tokenizer_parse_llama2c(cf_ctx *ctx, const char *path, const uint8_t *data,
                                      size_t size, int32_t vocab_size, cf_tokenizer **out);

#endif
