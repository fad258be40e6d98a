// Test helpers that write model files from scratch: safetensors images (valid, or with a raw
// header for corruption), tiny Hugging Face GPT-2 and Llama folders, llama2.c checkpoints and
// tokenizer.bin files; plus an allocator that refuses and records large requests, and an
// explicit leak check for forked tests (which leave with _exit, where LeakSanitizer never runs).
// Shared by tests/loaders and tests/unit/test_cli.c. Written for the tests; no library code.
#ifndef CF_TEST_MODEL_FILES_H
#define CF_TEST_MODEL_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "cformer/cformer.h"

// ---- files ----

// tmpdir/name in a ring of 32 static buffers (valid for the next 31 calls).
const char *tf_path(const char *name);
// Writes len bytes to path (truncating). Returns 0 on success.
int tf_write(const char *path, const void *data, size_t len);
int tf_write_text(const char *path, const char *text);
// Reads a whole file (malloc'd, NUL-terminated). NULL on failure.
uint8_t *tf_read(const char *path, size_t *len);
int tf_mkdir(const char *path);

// ---- growable byte buffer ----

typedef struct tf_buf {
    uint8_t *data;
    size_t len, cap;
} tf_buf;
void tf_put(tf_buf *b, const void *p, size_t n);
void tf_printf(tf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tf_put_i32(tf_buf *b, int32_t v);
void tf_put_f32(tf_buf *b, float v);
void tf_buf_free(tf_buf *b);

// A safetensors image: 8-byte little-endian length of header, header as given, then data.
// *len receives the size. Owned by caller (free).
uint8_t *tf_st_raw(const char *header, const void *data, size_t data_len, size_t *len);

// ---- tensors and model folders ----

enum { TF_F32, TF_F16, TF_BF16, TF_I32 };

typedef struct tf_tensor {
    char name[128];
    int dtype;          // TF_*
    int ndim;
    int64_t shape[8];
    float *values;      // numel values (converted to dtype when written); owned
} tf_tensor;

typedef struct tf_model {
    tf_tensor *t;
    int n;
    char config[4096];  // config.json text
} tf_model;

// Value i of a deterministic pattern, exactly representable in F16 and BF16: k/256, |k| < 128.
float tf_value(int64_t i, int seed);
int64_t tf_numel(const tf_tensor *t);
// Adds a tensor filled with the pattern (seed varies per tensor). Returns it.
tf_tensor *tf_add(tf_model *m, const char *name, int ndim, int64_t d0, int64_t d1);
tf_tensor *tf_find(tf_model *m, const char *name);
// Changes a tensor's shape and refills it with the pattern.
void tf_reshape(tf_tensor *t, int ndim, int64_t d0, int64_t d1);
void tf_drop(tf_model *m, const char *name);
void tf_model_free(tf_model *m);
// Sets every tensor's dtype.
void tf_set_dtype(tf_model *m, int dtype);

// GPT2LMHeadModel (tied lm_head): C embd, L layers, H heads, V vocab, P positions, n_inner 4C.
void tf_gpt2(tf_model *m, int C, int L, int H, int V, int P);
// LlamaForCausalLM (untied): C hidden, F intermediate, L layers, H heads, KVH kv heads.
void tf_llama(tf_model *m, int C, int F, int L, int H, int KVH, int V, int P);

// The safetensors image of the tensors, in order, data contiguous, header padded to 8 bytes.
// meta_json: the body of "__metadata__" (e.g. "\"format\":\"pt\""), or NULL. Owned (free).
uint8_t *tf_st_image(const tf_model *m, const char *meta_json, size_t *len);
// Writes dir/config.json and dir/model.safetensors (creating dir). Returns 0 on success.
int tf_write_folder(const tf_model *m, const char *dir);

// ---- llama2.c ----

// A legacy llama2.c checkpoint: header (dim, hidden, L, H, KVH, V, T; V negated when unshared)
// and the weights the header implies, filled with the pattern. Owned (free).
uint8_t *tf_llama2c(int dim, int hidden, int L, int H, int KVH, int V, int T, int shared,
                    size_t *len);
// A tokenizer.bin: max_token_length, then pieces[i] with score -i (len from strlen).
uint8_t *tf_tokenizer_bin(int32_t max_len, const char *const *pieces, int n, size_t *len);
// The usual llama2.c layout: <unk>, <s>, </s>, 256 <0xXX> pieces, then `extra` merged pieces.
uint8_t *tf_tokenizer_llama(const char *const *extra, int n_extra, size_t *len);

// ---- memory ----

// Installs an allocator that refuses single requests over limit bytes and records the largest
// request seen. limit 0 restores the default allocator.
void tf_alloc_cap(size_t limit);
size_t tf_alloc_largest(void);
// Runs LeakSanitizer now when built with it; returns the number of leak reports (0 otherwise).
int tf_leak_check(void);

// A context with one thread.
cf_ctx *tf_ctx(void);

#endif
