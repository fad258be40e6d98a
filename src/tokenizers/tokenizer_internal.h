// Tokenizer internals shared inside src/tokenizers and with the tests and fuzz targets.
//
// The files, one concept each:
//   tokenizer.c       the public API: loading (format detection), dispatch, the byte tokenizer
//   llama2c.c         llama2.c's tokenizer.bin
//   util.c            growable buffers, hash maps, the byte trie
//   unicode.c         UTF-8, character classes (utf8proc), normalization forms with alignments
//   nstring.c         the pre-tokenized string: normalized bytes aligned to the original, splits
//   normalize.c       Hugging Face normalizers
//   pretokenize.c     Hugging Face pre-tokenizers and the PCRE2 patterns
//   bpe.c wordpiece.c unigram.c   the models
//   pipeline.c        the encode flow (added tokens .. post-processor) and the decoders
//   tokenizer_json.c  tokenizer.json into a pipeline
//   vocab_files.c     GPT-2 encoder.json + vocab.bpe, vocab.json + merges.txt, BERT vocab.txt
//   sentencepiece.c   SentencePiece .model files
//   train.c           BPE and Unigram training into tokenizer.json
#ifndef CF_TOKENIZER_INTERNAL_H
#define CF_TOKENIZER_INTERNAL_H

#include "../internal.h"

// ---- limits (hostile files) ----

enum {
    CF_TOK_MAX_VOCAB = 1 << 24,       // ids
    CF_TOK_MAX_PIECE = 1 << 16,       // bytes of one vocabulary string
    CF_TOK_MAX_FILE = 1 << 30,        // bytes of a vocabulary file
    CF_TOK_MAX_DEPTH = 16,            // nested Sequence normalizers / pre-tokenizers / decoders
};

// ---- growable arrays and hashing (util.c) ----

// Grows *p (of *cap elements of size elem) to hold at least need elements. false on OOM.
bool cf__grow(void **p, size_t *cap, size_t need, size_t elem);
uint64_t cf__hash(const void *p, size_t n);

// String -> int32 map. Keys are copied (NUL-terminated) into a pool owned by the map.
typedef struct cf__sm_slot {
    uint32_t hash, off, len;
    int32_t val;
} cf__sm_slot;
typedef struct cf__strmap {
    cf__sm_slot *slots;  // cap slots, len == UINT32_MAX marks an empty one
    uint32_t cap, n;
    char *pool;
    size_t pool_len, pool_cap;
} cf__strmap;
int32_t cf__strmap_get(const cf__strmap *m, const char *s, size_t n);  // -1 when absent
// Inserts s -> val. When s is present: keeps the old value (overwrite false) or replaces it.
// *off_out (may be NULL): where the key lives in the pool. false on OOM.
bool cf__strmap_put(cf__strmap *m, const char *s, size_t n, int32_t val, bool overwrite,
                    uint32_t *off_out);
void cf__strmap_free(cf__strmap *m);

// A vocabulary: piece <-> id. Ids without a piece have off == UINT32_MAX.
typedef struct cf__vocab {
    cf__strmap map;
    int32_t n;       // ids 0..n-1
    size_t cap;      // allocated ids
    uint32_t *off;   // (n) offset of the piece in map.pool
    uint32_t *len;   // (n)
} cf__vocab;
// Sets id's piece (growing the id range). overwrite: a piece already present maps to this id
// afterwards (the later entry wins, as a JSON object or a HashMap insert does).
bool cf__vocab_set(cf__vocab *v, int32_t id, const char *s, size_t n, bool overwrite);
int32_t cf__vocab_id(const cf__vocab *v, const char *s, size_t n);
// NULL when id has no piece or is out of range; *n gets its length.
const char *cf__vocab_piece(const cf__vocab *v, int32_t id, size_t *n);
void cf__vocab_free(cf__vocab *v);

// uint64 -> (int32, int32) map (BPE merges: pair of ids -> rank, new id).
typedef struct cf__u64map {
    uint64_t *keys;  // UINT64_MAX: empty
    int32_t *a, *b;
    uint32_t cap, n;
} cf__u64map;
bool cf__u64map_put(cf__u64map *m, uint64_t key, int32_t a, int32_t b);  // replaces
bool cf__u64map_get(const cf__u64map *m, uint64_t key, int32_t *a, int32_t *b);
void cf__u64map_free(cf__u64map *m);

// A byte trie: node 0 is the root; children found through one hash table.
typedef struct cf__trie {
    cf__u64map edges;  // (node << 8 | byte) -> child
    int32_t *val;      // (n_nodes) value stored at a node, -1 when none
    uint32_t n_nodes;
    size_t cap_nodes;
} cf__trie;
bool cf__trie_init(cf__trie *t);
bool cf__trie_insert(cf__trie *t, const char *s, size_t n, int32_t val);  // keeps the old value
// The child of node for byte c, or UINT32_MAX.
static inline uint32_t cf__trie_step(const cf__trie *t, uint32_t node, uint8_t c) {
    int32_t child, unused;
    if (!cf__u64map_get(&t->edges, (uint64_t)node << 8 | c, &child, &unused)) return UINT32_MAX;
    return (uint32_t)child;
}
void cf__trie_free(cf__trie *t);

// ---- UTF-8 and Unicode (unicode.c) ----

// Length of the valid UTF-8 sequence at s (n bytes left), or 0 when s starts an invalid one.
// *cp gets the code point. Surrogates, overlong forms and values past U+10FFFF are invalid.
int cf__utf8_next(const uint8_t *s, size_t n, uint32_t *cp);
// Length of the maximal invalid subpart at s (1 to 3 bytes), the unit that becomes one U+FFFD
// under the WHATWG/Unicode "substitution of maximal subparts" practice.
int cf__utf8_invalid_len(const uint8_t *s, size_t n);
int cf__utf8_put(uint32_t cp, char *out);  // writes 1-4 bytes, returns the count
static inline int cf__utf8_lead_len(uint8_t c) {  // length implied by a lead byte (1 for others)
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
}
// Decodes a valid UTF-8 string's code point at s (no checks); returns its length.
int cf__utf8_get(const char *s, uint32_t *cp);
bool cf__utf8_valid(const char *s, size_t n);

bool cf__uc_is_whitespace(uint32_t c);    // White_Space (Rust char::is_whitespace)
bool cf__uc_is_alnum(uint32_t c);         // Rust char::is_alphanumeric
bool cf__uc_is_numeric(uint32_t c);       // Rust char::is_numeric (N*)
bool cf__uc_is_word(uint32_t c);          // regex \w (Alphabetic, M, Nd, Pc, Join_Control)
bool cf__uc_is_bert_punct(uint32_t c);    // ASCII punctuation or P*
bool cf__uc_is_bert_control(uint32_t c);  // Cc, Cf, Co except \t \n \r
bool cf__uc_is_mark_nonspacing(uint32_t c);
bool cf__uc_is_combining_mark(uint32_t c);  // M*
bool cf__uc_is_chinese(uint32_t c);       // BERT's CJK ideograph blocks
// Rust char::to_lowercase: up to 3 code points into out, returns the count.
int cf__uc_lower(uint32_t c, uint32_t out[3]);

// One output character of a transform and how it relates to the input (the tokenizers
// library's (char, isize) pairs): 0 replaces the next input character, +1 is inserted, -k
// replaces the next character and removes k more.
typedef struct cf__tchar {
    uint32_t c;
    int32_t change;
} cf__tchar;

typedef struct cf__tbuf {
    cf__tchar *v;
    size_t n, cap;
} cf__tbuf;
bool cf__tbuf_push(cf__tbuf *b, uint32_t c, int32_t change);

enum { CF_NF_NFD = 0, CF_NF_NFKD = 1, CF_NF_NFC = 2, CF_NF_NFKC = 3 };
// Appends the transform of s (valid UTF-8) into form (as unicode-normalization-alignments
// yields it) to out. *changed: false when the result equals the input.
bool cf__uc_normalize(const char *s, size_t n, int form, cf__tbuf *out, bool *changed);
// Byte length of the extended grapheme cluster starting at s (valid UTF-8, n > 0).
size_t cf__uc_grapheme_len(const char *s, size_t n);

// ---- the pre-tokenized string (nstring.c) ----
//
// The normalized text of every split lives in one buffer; each byte carries the span of the
// original input it came from ([a0, a1), absolute byte offsets). Transforms write a new copy of
// a split at the end of the buffer; slicing a split makes a new split over the same bytes.

typedef struct cf__seg {
    uint32_t off, len;   // normalized bytes: s[off, off + len)
    uint32_t shift;      // original offset of the split's start (the library's original_shift)
    uint32_t olen;       // its original length
    int32_t tok0, ntok;  // its tokens in pts.tok once tokenized; ntok -1 before
} cf__seg;

typedef struct cf__ptok {
    int32_t id;
    uint32_t start, end;  // original byte span (in the sanitized text)
    int32_t special;      // from an added special token
} cf__ptok;

typedef struct cf__pts {
    char *s;
    uint32_t *a0, *a1;
    size_t n, cap;
    cf__seg *sp, *sp2;  // current splits and a second array for splitting
    size_t nsp, cap_sp, cap_sp2;
    cf__ptok *tok;
    size_t ntok, cap_tok;
    cf__tbuf tb;          // scratch for transforms
    uint32_t *m;          // scratch for matches: triples (start, end, is_match)
    size_t nm, cap_m;
} cf__pts;

void cf__pts_free(cf__pts *p);
// Starts over with one split holding text (valid UTF-8) at original offset base.
bool cf__pts_reset(cf__pts *p, const char *text, size_t len, uint32_t base);
// Appends a split for text as its own original at base (the added-vocabulary pieces).
bool cf__pts_add_split(cf__pts *p, const char *text, size_t len, uint32_t base);
// Replaces bytes [a, b) of split i (relative) with the transform in p->tb, skipping
// initial_offset input characters first.
bool cf__pts_transform(cf__pts *p, size_t i, size_t a, size_t b, size_t initial_offset);
// The library's NormalizedString::prepend on split i.
bool cf__pts_prepend(cf__pts *p, size_t i, const char *s, size_t n);

// Split behaviours (SplitDelimiterBehavior).
enum { CF_SPLIT_REMOVED, CF_SPLIT_ISOLATED, CF_SPLIT_MERGED_PREV, CF_SPLIT_MERGED_NEXT,
       CF_SPLIT_CONTIGUOUS };

struct cf__regex;
// A pattern: a character predicate, a compiled regex, or a literal string.
typedef struct cf__pattern {
    // A finder of its own: fills p->m with (start, end, is_match) triples covering s.
    bool (*find)(cf__pts *p, const char *s, size_t n, const void *arg);
    bool (*pred)(uint32_t c, const void *arg);
    const void *arg;
    struct cf__regex *re;
    const char *lit;
    size_t lit_len;
    bool invert;
} cf__pattern;
// Splits every untokenized split by pattern with the behaviour; empty splits are dropped.
bool cf__pts_split(cf__pts *p, const cf__pattern *pat, int behavior);
// Finds the matches of pat in s into p->m as (start, end, is_match) triples covering s.
bool cf__pattern_find(cf__pts *p, const cf__pattern *pat, const char *s, size_t n);
// The library's NormalizedString::replace on split i: every match of pat becomes content.
bool cf__pts_replace(cf__pts *p, size_t i, const cf__pattern *pat, const char *content,
                     size_t content_len);
bool cf__pts_push_m(cf__pts *p, size_t s, size_t e, uint32_t what);
// Original span of normalized bytes [a, b) of split sp (the library's convert_offsets).
void cf__pts_span(const cf__pts *p, const cf__seg *sp, size_t a, size_t b, uint32_t *start,
                  uint32_t *end);
bool cf__pts_push_tok(cf__pts *p, int32_t id, uint32_t start, uint32_t end, int32_t special);

// ---- regex (pretokenize.c) ----

typedef struct cf__regex cf__regex;
// Compiles an Oniguruma-syntax pattern (as the tokenizers library's SysRegex) with PCRE2.
// NULL on failure, with a message in err.
cf__regex *cf__regex_compile(const char *pat, size_t n, char *err, size_t err_cap);
// Escapes a literal into a pattern first.
cf__regex *cf__regex_literal(const char *s, size_t n, char *err, size_t err_cap);
// Next match in s[0, n) at or after *pos; false when none. Handles empty matches as
// onig's find_iter does (state in *last_end: pass SIZE_MAX at the start).
bool cf__regex_next(cf__regex *re, const char *s, size_t n, size_t *pos, size_t *last_end,
                    size_t *ms, size_t *me);
void cf__regex_free(cf__regex *re);

// ---- normalizers (normalize.c) ----

enum {
    CF_NORM_BERT = 1, CF_NORM_NFD, CF_NORM_NFKD, CF_NORM_NFC, CF_NORM_NFKC, CF_NORM_LOWER,
    CF_NORM_STRIP, CF_NORM_STRIP_ACCENTS, CF_NORM_REPLACE, CF_NORM_PREPEND, CF_NORM_NMT,
    CF_NORM_PRECOMPILED, CF_NORM_BYTELEVEL, CF_NORM_SEQUENCE,
};

typedef struct cf__charsmap cf__charsmap;  // SentencePiece's precompiled charsmap

typedef struct cf__normalizer {
    int type;
    bool clean_text, chinese, strip_accents, lowercase;  // BERT
    bool left, right;                                     // Strip
    char *str;                                            // Prepend / Replace content
    size_t str_len;
    cf__regex *re;                                        // Replace pattern
    cf__charsmap *cmap;                                   // Precompiled
    struct cf__normalizer *seq;                           // Sequence
    int n_seq;
} cf__normalizer;

// Normalizes split i of p in place.
bool cf__normalize(const cf__normalizer *nz, cf__pts *p, size_t i);
void cf__normalizer_free(cf__normalizer *nz);  // frees the contents, not nz itself

// Precompiled charsmap: [u32 trie bytes][double-array trie][NUL-separated replacements].
// NULL when the blob is malformed (message into err).
cf__charsmap *cf__charsmap_parse(const uint8_t *blob, size_t n, char *err, size_t err_cap);
// Longest prefix of s[0, n) with a replacement: its length (0: none) and the replacement.
size_t cf__charsmap_longest(const cf__charsmap *m, const char *s, size_t n, const char **rep,
                            size_t *rep_len);
// The first (shortest) prefix match, as spm_precompiled's transform does: false when none.
bool cf__charsmap_first(const cf__charsmap *m, const char *s, size_t n, const char **rep,
                        size_t *rep_len);
void cf__charsmap_free(cf__charsmap *m);

// ---- pre-tokenizers (pretokenize.c) ----

enum {
    CF_PRE_BYTELEVEL = 1, CF_PRE_BERT, CF_PRE_WHITESPACE, CF_PRE_WHITESPACE_SPLIT,
    CF_PRE_METASPACE, CF_PRE_SPLIT, CF_PRE_PUNCTUATION, CF_PRE_DIGITS, CF_PRE_CHAR_DELIMITER,
    CF_PRE_SEQUENCE,
};
enum { CF_PREPEND_ALWAYS = 0, CF_PREPEND_FIRST = 1, CF_PREPEND_NEVER = 2 };

typedef struct cf__pretok {
    int type;
    bool add_prefix_space, use_regex;    // ByteLevel
    uint32_t replacement;                // Metaspace, CharDelimiterSplit
    int prepend_scheme;                  // Metaspace
    bool split;                          // Metaspace
    int behavior;                        // Split, Punctuation
    bool invert;                         // Split
    bool individual_digits;              // Digits
    cf__regex *re;                       // Split
    struct cf__pretok *seq;              // Sequence
    int n_seq;
} cf__pretok;

bool cf__pretokenize(const cf__pretok *pt, cf__pts *p);
void cf__pretok_free(cf__pretok *pt);
// GPT-2's pre-tokenizer pattern, compiled once per tokenizer.
cf__regex *cf__regex_gpt2(void);
extern const uint32_t cf__bytelevel_char[256];  // byte -> GPT-2's printable character
int cf__bytelevel_byte(uint32_t c);             // inverse, -1 for others

// ---- models ----

enum { CF_MODEL_BPE = 1, CF_MODEL_WORDPIECE, CF_MODEL_UNIGRAM, CF_MODEL_WORDLEVEL };

// A model's token within a word: id and byte span [s, e) of the word.
typedef struct cf__mtok {
    int32_t id;
    uint32_t s, e;
} cf__mtok;
typedef struct cf__mtoks {
    cf__mtok *v;
    size_t n, cap;
} cf__mtoks;
bool cf__mtoks_push(cf__mtoks *o, int32_t id, size_t s, size_t e);

typedef struct cf__bpe_cache_entry {
    uint64_t hash;
    uint32_t key_off, key_len;  // in the cache's byte pool
    uint32_t tok_off, ntok;     // in the cache's token pool: (id, byte length) pairs
} cf__bpe_cache_entry;

typedef struct cf__model {
    int type;
    cf__vocab vocab;
    int32_t unk_id;              // -1: none
    // BPE
    cf__u64map merges;           // (a << 32 | b) -> (rank, new id)
    char *cont_prefix, *eow_suffix;  // continuing_subword_prefix / end_of_word_suffix or NULL
    size_t cont_len, eow_len;
    bool fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_id[256];        // <0xXX> ids for byte fallback (-1 when missing)
    // WordPiece
    int32_t max_chars;
    // Unigram
    double *scores;              // (vocab.n)
    double min_score;
    cf__trie trie;
    // cache of word -> tokens (BPE, WordPiece, Unigram are pure functions of the word)
    cf__bpe_cache_entry *cache;
    uint32_t cache_cap, cache_n;
    char *cache_keys;
    size_t cache_keys_len, cache_keys_cap;
    uint32_t *cache_toks;
    size_t cache_toks_len, cache_toks_cap;
    // scratch
    void *scratch;
    size_t scratch_cap;
    cf__mtoks mt;
    char *word;
    size_t word_cap;
} cf__model;


// Model results: 0 ok, CF_MODEL_OOM, CF_MODEL_NO_UNK (an unknown word and no usable unk token,
// which the library reports as an error).
enum { CF_MODEL_OOM = 1, CF_MODEL_NO_UNK = 2 };

// Tokenizes split i of p (its normalized text) and appends the tokens with original spans.
int cf__model_tokenize(cf__model *m, cf__pts *p, size_t i);
void cf__model_free(cf__model *m);
int cf__bpe_word(cf__model *m, const char *s, size_t n, cf__mtoks *out);
int cf__wordpiece_word(cf__model *m, const char *s, size_t n, cf__mtoks *out);
int cf__unigram_word(cf__model *m, const char *s, size_t n, cf__mtoks *out);
// Adds merge a + b (a, b and their join, b without the continuing prefix, must be pieces).
// false with a message in err (or *oom set).
bool cf__bpe_add_merge(cf__model *m, const char *a, size_t na, const char *b, size_t nb,
                       int32_t rank, char *err, size_t err_cap, bool *oom);
bool cf__unigram_build(cf__model *m);  // trie and min score once vocab and scores are set
void cf__model_find_bytes(cf__model *m);  // fills byte_id from <0xXX> pieces

// ---- post-processors and decoders (pipeline.c) ----

enum { CF_POST_BERT = 1, CF_POST_ROBERTA, CF_POST_BYTELEVEL, CF_POST_TEMPLATE,
       CF_POST_SEQUENCE };

typedef struct cf__tpl_piece {
    int is_seq;        // 1: a sequence ($A = 0 / $B = 1 in seq), 0: a special token
    int seq;
    int32_t type_id;
    int32_t *ids;      // special token ids
    int n_ids;
} cf__tpl_piece;

typedef struct cf__post {
    int type;
    int32_t cls_id, sep_id;             // Bert / Roberta
    bool trim_offsets, add_prefix_space;  // Roberta / ByteLevel
    cf__tpl_piece *single, *pair;       // Template
    int n_single, n_pair;
    struct cf__post *seq;
    int n_seq;
} cf__post;

enum {
    CF_DEC_BYTELEVEL = 1, CF_DEC_WORDPIECE, CF_DEC_METASPACE, CF_DEC_BPE, CF_DEC_BYTEFALLBACK,
    CF_DEC_FUSE, CF_DEC_STRIP, CF_DEC_REPLACE, CF_DEC_CTC, CF_DEC_SEQUENCE,
};

typedef struct cf__decoder {
    int type;
    char *str, *str2;         // WordPiece prefix, BPE suffix, Replace content, CTC pad/delim
    size_t str_len, str2_len;
    bool cleanup;
    uint32_t replacement;     // Metaspace
    int prepend_scheme;
    uint32_t strip_char;      // Strip
    int strip_start, strip_stop;
    cf__regex *re;            // Replace pattern
    struct cf__decoder *seq;
    int n_seq;
} cf__decoder;

typedef struct cf__added {
    char *content;
    size_t len;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized, special;
    char *norm;               // content after the normalizer (normalized tokens)
    size_t norm_len;
} cf__added;

// A Hugging Face pipeline: what a tokenizer.json describes.
typedef struct cf__hf {
    cf__normalizer *norm;     // NULL: none
    cf__pretok *pre;
    cf__model model;
    cf__post *post;
    cf__decoder *dec;
    cf__added *added;         // in the order the library matches them
    int n_added;
    size_t cap_added;
    int32_t n_vocab;          // model ids and added ids
    cf__pts pts;              // scratch
    cf__tbuf tb;
    cf__ptok *enc;            // scratch encodings (first, pair, merged)
    size_t cap_enc;
} cf__hf;

void cf__hf_free(cf__hf *h);
// Recomputes n_vocab and the normalized forms of added tokens (after a change).
bool cf__hf_refresh(cf__hf *h);
bool cf__hf_add_token(cf__hf *h, const char *s, size_t n, int32_t id, bool special,
                      bool single_word, bool lstrip, bool rstrip, bool normalized);
// Encodes valid UTF-8 text (one sequence, no post-processing) into *out (grown as needed),
// offsets into text. Returns 0 or CF_MODEL_OOM / CF_MODEL_NO_UNK.
int cf__hf_encode(cf__hf *h, const char *text, size_t len, cf__ptok **out, size_t *n_out,
                  size_t *cap_out);
const char *cf__hf_id_to_piece(const cf__hf *h, int32_t id, size_t *n);
int32_t cf__hf_piece_to_id(const cf__hf *h, const char *s, size_t n);
bool cf__hf_is_special(const cf__hf *h, int32_t id);
// Post-processes the encodings of a (na tokens) and b (nb tokens, b NULL for none) into out
// (cap tokens; *n_out needed), as the tokenizer's post-processor does.
bool cf__hf_post(cf__hf *h, const cf__ptok *a, size_t na, const cf__ptok *b, size_t nb,
                 bool add_special, cf_token *out, int64_t cap, int64_t *n_out);

// The decoder chain applied to pieces; result into *out (cf__malloc'ed) of *out_len bytes.
bool cf__hf_decode(const cf__hf *h, const int32_t *ids, int64_t n, bool skip_special,
                   char **out, size_t *out_len);

// ---- SentencePiece (sentencepiece.c) ----

typedef struct cf__spm cf__spm;
// Encodes valid-or-not UTF-8 text into tokens (offsets into text). add_special: BOS when the
// model has one, else EOS.
bool cf__spm_encode(cf__spm *s, const char *text, size_t len, cf__ptok **tok, size_t *ntok,
                    size_t *cap_tok);
bool cf__spm_decode(const cf__spm *s, const int32_t *ids, int64_t n, char **out,
                    size_t *out_len);
const char *cf__spm_id_to_piece(const cf__spm *s, int32_t id, size_t *n);
int32_t cf__spm_piece_to_id(const cf__spm *s, const char *p, size_t n);
bool cf__spm_is_special(const cf__spm *s, int32_t id);  // control and unknown pieces
int cf__spm_is_byte(const cf__spm *s, int32_t id);      // byte value of a <0xXX> piece, or -1
void cf__spm_free(cf__spm *s);

// ---- llama2.c (llama2c.c) ----

typedef struct cf__l2c cf__l2c;
cf_status cf__l2c_encode(cf_tokenizer *t, const char *text, size_t len, int add_bos,
                         int32_t *ids, int64_t cap, int64_t *n_out);
cf_status cf__l2c_decode_piece(cf_tokenizer *t, int32_t prev, int32_t id, char *buf, size_t cap,
                               size_t *n_out);
const char *cf__l2c_piece(const cf__l2c *l, int32_t id, size_t *n);
int32_t cf__l2c_piece_to_id(const cf__l2c *l, const char *s, size_t n);
void cf__l2c_free(cf__l2c *l);

// ---- the tokenizer object ----

enum { CF_TOK_BYTE = 0, CF_TOK_LLAMA2C, CF_TOK_JSON, CF_TOK_SPM, CF_TOK_GPT2, CF_TOK_WORDPIECE };

struct cf_tokenizer {
    cf_ctx *ctx;
    int kind;
    int32_t n_vocab;
    int32_t bos, eos;
    cf__hf *hf;          // tokenizer.json, GPT-2 and WordPiece files
    cf__spm *spm;
    cf__l2c *l2c;
    // scratch: the input with invalid UTF-8 replaced, and where each of its bytes came from
    char *clean;
    uint32_t *orig;      // (clean length + 1) original offset of each clean byte
    size_t clean_cap;
    cf_token *toks;
    size_t cap_toks;
    cf__ptok *ptok;
    size_t cap_ptok;
};

// Allocates a tokenizer of the given kind (fields zero, bos/eos -1). NULL on OOM.
cf_tokenizer *cf__tokenizer_new(cf_ctx *ctx, int kind);

// ---- loaders (memory entry points: path names the file in messages) ----

cf_status cf__tokenizer_parse_llama2c(cf_ctx *ctx, const char *path, const uint8_t *data,
                                      size_t size, int32_t vocab_size, cf_tokenizer **out);
cf_status cf__tokenizer_parse_json(cf_ctx *ctx, const char *path, const uint8_t *data,
                                   size_t size, cf_tokenizer **out);
cf_status cf__tokenizer_parse_spm(cf_ctx *ctx, const char *path, const uint8_t *data,
                                  size_t size, cf_tokenizer **out);
// BERT vocab.txt; lowercase: the basic tokenizer lower-cases and strips accents.
cf_status cf__tokenizer_parse_vocab_txt(cf_ctx *ctx, const char *path, const uint8_t *data,
                                        size_t size, bool lowercase, cf_tokenizer **out);
// GPT-2 encoder.json (or vocab.json) and vocab.bpe (or merges.txt).
cf_status cf__tokenizer_parse_gpt2(cf_ctx *ctx, const char *vocab_path, const uint8_t *vocab,
                                   size_t vocab_size, const char *merges_path,
                                   const uint8_t *merges, size_t merges_size, cf_tokenizer **out);

#endif
