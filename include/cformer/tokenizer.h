// cformer: tokenizers (text <-> token ids).
//
// Kinds: "byte" (id = byte value, 256 ids, lossless on any input) and llama2.c's tokenizer.bin
// (score-ordered pair merges with <0xXX> byte fallback, as llama2.c's run.c encodes).
#ifndef CFORMER_TOKENIZER_H
#define CFORMER_TOKENIZER_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_tokenizer cf_tokenizer;

// A byte-level tokenizer: ids 0..255 are the bytes; no special tokens are added.
// *out: owned, free with cf_tokenizer_free.
CF_API cf_status cf_tokenizer_create_byte(cf_ctx *ctx, cf_tokenizer **out);

// Loads a tokenizer from a file (llama2.c tokenizer.bin), or the word "byte". vocab_size is the
// model's (0: unknown); a tokenizer with more ids than the model is rejected. Errors:
// CF_ERR_IO, CF_ERR_FORMAT (names the file and the byte offset). *out: owned.
CF_API cf_status cf_tokenizer_load(cf_ctx *ctx, const char *path, int32_t vocab_size,
                                   cf_tokenizer **out);
CF_API void cf_tokenizer_free(cf_tokenizer *t);  // NULL is allowed

CF_API int32_t cf_tokenizer_vocab_size(const cf_tokenizer *t);
CF_API int32_t cf_tokenizer_bos(const cf_tokenizer *t);  // -1 when none
CF_API int32_t cf_tokenizer_eos(const cf_tokenizer *t);  // -1 when none
CF_API const char *cf_tokenizer_kind(const cf_tokenizer *t);

// Encodes len bytes of text. add_special: prepend BOS where the tokenizer has one. Writes at
// most cap ids; *n_out is the number needed. Returns CF_ERR_RANGE (and the needed count) when
// cap is too small; text + 2 ids always suffice.
CF_API cf_status cf_tokenizer_encode(cf_tokenizer *t, const char *text, size_t len,
                                     int add_special, int32_t *ids, int64_t cap,
                                     int64_t *n_out);

// The bytes that token id adds to the text when it follows token prev (-1 at the start):
// written into buf (cap bytes), *n_out set to their count. Special tokens give no bytes.
// Returns CF_ERR_RANGE for an id out of range, or for a buffer smaller than the piece, with
// *n_out set to the bytes needed (pieces can be long: size buf from *n_out and call again).
CF_API cf_status cf_tokenizer_decode_piece(cf_tokenizer *t, int32_t prev, int32_t id, char *buf,
                                           size_t cap, size_t *n_out);

#ifdef __cplusplus
}
#endif
#endif
