// cformer: tokenizers (text <-> token ids), identical to the reference implementations.
//
// Formats (cf_tokenizer_load picks by content; a folder is searched for them, in this order):
//   tokenizer.json         Hugging Face tokenizers: models BPE (byte-level as GPT-2/RoBERTa/
//                          Llama 3 use it, or with byte fallback as Llama/Mistral), WordPiece and
//                          Unigram, with their normalizers, pre-tokenizers, post-processors,
//                          decoders and added tokens. Ids as the `tokenizers` library gives them.
//   *.model                SentencePiece model protos (Unigram, BPE, word, char; byte fallback;
//                          the normalizer spec with its precompiled charsmap), as Llama 2, T5
//                          and Marian ship them. Ids as the sentencepiece library gives them.
//   encoder.json+vocab.bpe GPT-2's original files (byte-level BPE); also vocab.json+merges.txt.
//   vocab.txt              BERT WordPiece with the BERT basic tokenizer (lower-casing and
//                          accent stripping unless the folder's tokenizer_config.json says
//                          do_lower_case false).
//   tokenizer.bin          llama2.c's format (score-ordered merges with <0xXX> byte fallback).
//   "byte"                 id = byte value, 256 ids, lossless on any input.
//
// Text is UTF-8. Invalid UTF-8 is handled as the reference handles it: Hugging Face pipelines
// see each maximal invalid subpart as U+FFFD (as Rust's from_utf8_lossy and JavaScript's
// TextDecoder do), SentencePiece sees each invalid byte as U+FFFD; nothing crashes. Offsets are
// byte spans of the caller's input, whatever was replaced.
//
// Thread safety: a tokenizer may be used by one thread at a time (it keeps a cache and scratch
// buffers); load one per thread, or serialise the calls.
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

// Loads a tokenizer from a file or a folder (see the formats above), or the word "byte".
// vocab_size is the model's (0: unknown); a tokenizer with more ids than the model is rejected.
// Errors: CF_ERR_IO, CF_ERR_FORMAT (names the file and the problem, with the byte offset where
// one applies), CF_ERR_UNSUPPORTED (a valid file using a component cformer lacks).
// *out: owned by caller, free with cf_tokenizer_free.
CF_API cf_status cf_tokenizer_load(cf_ctx *ctx, const char *path, int32_t vocab_size,
                                   cf_tokenizer **out);
CF_API void cf_tokenizer_free(cf_tokenizer *t);  // NULL is allowed

// The number of ids (the largest id + 1, added tokens included).
CF_API int32_t cf_tokenizer_vocab_size(const cf_tokenizer *t);
CF_API int32_t cf_tokenizer_bos(const cf_tokenizer *t);  // -1 when none
CF_API int32_t cf_tokenizer_eos(const cf_tokenizer *t);  // -1 when none
// "byte", "llama2.c", "tokenizer.json", "sentencepiece", "gpt2" or "wordpiece". Static string.
CF_API const char *cf_tokenizer_kind(const cf_tokenizer *t);

// Encodes len bytes of text. add_special: add the special tokens the tokenizer's post-processor
// adds ([CLS] .. [SEP] for BERT, <s> for Llama, </s> for T5; BOS for llama2.c and SentencePiece
// models that define one, else EOS). Writes at most cap ids; *n_out is the number needed.
// Returns CF_ERR_RANGE (and the needed count) when cap is too small; len + 4 ids suffice for
// byte, llama2.c and GPT-2 tokenizers (other tokenizers may need more: call again).
CF_API cf_status cf_tokenizer_encode(cf_tokenizer *t, const char *text, size_t len,
                                     int add_special, int32_t *ids, int64_t cap,
                                     int64_t *n_out);

// One token of an encoding.
typedef struct cf_token {
    int32_t id;
    int32_t type_id;   // segment id: 0 for the first text, 1 for the pair (BERT-style)
    int32_t seq;       // 0: from text, 1: from pair, -1: added by the post-processor
    int32_t special;   // 1 for added special tokens ([CLS], <s>, and special added tokens)
    int64_t start;     // [start, end): byte span in text (or pair, per seq) the token came from;
    int64_t end;       // 0, 0 for tokens the post-processor added
} cf_token;

// Encodes text (and, when pair is not NULL, the pair as a second sequence: "[CLS] a [SEP] b
// [SEP]" with type ids 0 then 1 for BERT) into tokens with their ids, type ids and byte offsets
// (offsets as the Hugging Face tokenizers library gives them, in bytes of the caller's input).
// Writes at most cap tokens; *n_out is the number needed; CF_ERR_RANGE when cap is too small.
// Tokenizers without a pair template (byte, llama2.c, SentencePiece) concatenate the two
// encodings, the second with type id 1.
CF_API cf_status cf_tokenizer_encode_tokens(cf_tokenizer *t, const char *text, size_t len,
                                            const char *pair, size_t pair_len, int add_special,
                                            cf_token *tokens, int64_t cap, int64_t *n_out);

// Decodes n ids into text as the reference decoder does (byte-level, WordPiece "##" joining,
// Metaspace, byte fallback, SentencePiece's rules). skip_special: leave out special tokens.
// Writes at most cap bytes into buf (not NUL-terminated); *n_out is the length needed.
// Returns CF_ERR_RANGE for an id out of range or a too small buffer (see *n_out).
CF_API cf_status cf_tokenizer_decode(cf_tokenizer *t, const int32_t *ids, int64_t n,
                                     int skip_special, char *buf, size_t cap, size_t *n_out);

// The bytes that token id adds to the text when it follows token prev (-1 at the start), for
// streaming output: the concatenated pieces of a lossless encoding give back its text (pieces
// may end inside a UTF-8 sequence). Special tokens give no bytes. Written into buf (cap bytes),
// *n_out set to their count. Returns CF_ERR_RANGE for an id out of range or a too small buffer
// (64 bytes always suffice for byte and llama2.c tokenizers; *n_out says how much is needed).
CF_API cf_status cf_tokenizer_decode_piece(cf_tokenizer *t, int32_t prev, int32_t id, char *buf,
                                           size_t cap, size_t *n_out);

// The vocabulary string of an id (added tokens included), NUL-terminated, or NULL when the id
// has none. Borrowed, valid until the tokenizer is freed or changed.
CF_API const char *cf_tokenizer_id_to_piece(const cf_tokenizer *t, int32_t id);
// The id of a vocabulary string (added tokens first), or -1.
CF_API int32_t cf_tokenizer_piece_to_id(const cf_tokenizer *t, const char *piece, size_t len);
// 1 when id is a special token (skipped by decode with skip_special), else 0.
CF_API int cf_tokenizer_is_special(const cf_tokenizer *t, int32_t id);

// Adds tokens that are matched in the text before any other processing and never split, as the
// tokenizers library's add_tokens / add_special_tokens do (existing strings keep their ids, new
// ones get the next free ids). special: 1 for special tokens. Tokenizer.json, GPT-2 and
// WordPiece tokenizers only (CF_ERR_UNSUPPORTED otherwise). *n_added: how many were new.
CF_API cf_status cf_tokenizer_add_tokens(cf_tokenizer *t, const char *const *tokens, int n,
                                         int special, int *n_added);

// The number of maximal invalid UTF-8 subparts in n bytes of s: what the tokenizers read as
// U+FFFD (0 for valid UTF-8). For callers that warn about such input.
CF_API int64_t cf_utf8_invalid_count(const char *s, size_t n);

// ---- training ----

typedef enum cf_tokenizer_model {
    CF_TOKENIZER_BPE = 0,      // byte-level BPE (GPT-2 style: ByteLevel pre-tokenizer/decoder)
    CF_TOKENIZER_UNIGRAM = 1,  // Unigram with a Metaspace pre-tokenizer (SentencePiece style)
} cf_tokenizer_model;

typedef struct cf_tokenizer_train_params {
    cf_tokenizer_model model;
    int32_t vocab_size;            // target size, special tokens and the alphabet included
    int32_t min_frequency;         // BPE: a pair must occur this often to be merged
    const char *const *special;    // special tokens (ids 0..), NULL-terminated list or NULL
    int32_t max_piece_length;      // Unigram: longest piece in characters (16)
    int32_t n_threads;             // reserved; training runs on one thread
} cf_tokenizer_train_params;

CF_API cf_tokenizer_train_params cf_tokenizer_default_train_params(void);

// Learns a vocabulary from len bytes of UTF-8 text (lines are sentences) and writes it to
// out_path as a tokenizer.json that the tokenizers library and cf_tokenizer_load read.
// Errors: CF_ERR_INVALID_ARG (vocab_size too small for the alphabet and special tokens),
// CF_ERR_IO, CF_ERR_NOMEM.
CF_API cf_status cf_tokenizer_train(cf_ctx *ctx, const cf_tokenizer_train_params *params,
                                    const char *text, size_t len, const char *out_path);

#ifdef __cplusplus
}
#endif
#endif
