// File formats: safetensors (read and write), Hugging Face folders, llama2.c checkpoints and
// cformer's training checkpoints. io/ depends only on core (and models/ for the loaders that
// fill a cf_model).
#ifndef CF_IO_H
#define CF_IO_H

#include "../internal.h"

typedef enum cf_dtype {
    CF_DT_F32 = 0,
    CF_DT_F16,
    CF_DT_BF16,
    CF_DT_F64,
    CF_DT_I64,
    CF_DT_I32,
    CF_DT_I16,
    CF_DT_I8,
    CF_DT_U8,
    CF_DT_BOOL,
    CF_DT_U16,
    CF_DT_U32,
    CF_DT_U64,
    CF_DT_F8_E4M3,
    CF_DT_F8_E5M2,
    CF_DT_COUNT
} cf_dtype;

size_t cf__dtype_size(cf_dtype t);
const char *cf__dtype_name(cf_dtype t);

enum { CF_ST_MAX_DIMS = 8 };

typedef struct cf_st_tensor {
    char *name;
    cf_dtype dtype;
    int ndim;
    int64_t shape[CF_ST_MAX_DIMS];
    int64_t numel;
    size_t offset;         // from the start of the data section
    size_t nbytes;
    const uint8_t *data;   // into the file
} cf_st_tensor;

typedef struct cf_safetensors {
    cf_file file;
    const char *path;      // for messages; borrowed
    cf_st_tensor *tensors;
    int n_tensors;
    char **meta_keys, **meta_vals;  // __metadata__ (string to string)
    int n_meta;
} cf_safetensors;

// Parses a safetensors image (8-byte little-endian header size, JSON header, data). Checks
// every field: header size within the file and under 100 MB, known dtypes, shapes with no
// negative or overflowing dimensions, offsets inside the data section, byte counts matching
// the shape, no overlaps or holes, no duplicate names. path names the file in messages.
// The tensors point into buf, which must outlive st. Errors: CF_ERR_FORMAT, CF_ERR_NOMEM.
cf_status cf__st_parse(cf_ctx *ctx, const char *path, const uint8_t *buf, size_t size,
                       cf_safetensors *st);
// Maps the file and parses it.
cf_status cf__st_open(cf_ctx *ctx, const char *path, cf_safetensors *st);
void cf__st_close(cf_safetensors *st);
const cf_st_tensor *cf__st_find(const cf_safetensors *st, const char *name);
const char *cf__st_meta(const cf_safetensors *st, const char *key);  // NULL if absent
// Converts n elements of a float tensor (F32, F16, BF16, F64) to float32.
cf_status cf__st_to_f32(cf_ctx *ctx, const cf_safetensors *st, const cf_st_tensor *t, float *dst);

// One tensor to write: float32 data (rows, cols) compact, or a generic byte blob.
typedef struct cf_st_entry {
    const char *name;
    cf_dtype dtype;
    int ndim;
    int64_t shape[CF_ST_MAX_DIMS];
    const void *data;      // numel * dtype size bytes
} cf_st_entry;

// Writes a safetensors file atomically; the header is padded so the data starts 64-byte
// aligned. meta: n_meta key/value pairs for __metadata__ (may be 0).
cf_status cf__st_write(cf_ctx *ctx, const char *path, const cf_st_entry *e, int n,
                       const char *const *meta_keys, const char *const *meta_vals, int n_meta);

// Half-precision conversions.
float cf__f16_to_f32(uint16_t h);
float cf__bf16_to_f32(uint16_t h);
uint16_t cf__f32_to_bf16(float f);  // round to nearest even
uint16_t cf__f32_to_f16(float f);   // round to nearest even

#endif
