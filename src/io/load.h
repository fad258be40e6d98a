// Loader entry points shared inside src/ (io/ and the trainer's checkpoints).
#ifndef CF_LOAD_H
#define CF_LOAD_H

#include <cJSON.h>

#include "io.h"

struct cf_model;

cf_status cf__load_hf(cf_ctx *ctx, const char *dir, struct cf_model **out);
// Parses a config.json text (Hugging Face gpt2/llama/mistral, or cformer's own) into a finished,
// validated config and the tensor-name family. source: static string ("hf-gpt2", ...).
cf_status cf__hf_config_parse(cf_ctx *ctx, const char *path, const char *text, size_t len,
                              cf_config *cfg, cf_family *family, const char **source);
cf_status cf__load_llama2c(cf_ctx *ctx, const char *path, struct cf_model **out);
// Parses a llama2.c image already in memory (for fuzzing): validates header and size only.
cf_status cf__llama2c_check(cf_ctx *ctx, const char *path, const uint8_t *buf, size_t size,
                            cf_config *cfg);
cf_status cf__load_cformer_ckpt(cf_ctx *ctx, const char *path, struct cf_model **out);
// Saves the model as a Hugging Face folder; extra_key/extra_val (may be NULL) is added to
// config.json (e.g. the tokenizer kind).
cf_status cf__save_hf(struct cf_model *m, const char *dir, const char *extra_key,
                      const char *extra_val);
// Weights from a safetensors file whose tensor names follow `family` (generic: cformer names).
cf_status cf__load_weights_st(struct cf_model *m, cf_safetensors *st, cf_family family);

cJSON *cf__config_to_json(const cf_config *c);
cf_status cf__config_from_json(cf_ctx *ctx, const char *path, const cJSON *o, cf_config *c);
// Reads a true/false field of o into *v (1/0); absent or null leaves *v. False, with *st set to a
// format error naming path and key, when the field is something else.
bool cf__json_bool(cf_ctx *ctx, const char *path, const cJSON *o, const char *key, int32_t *v,
                   cf_status *st);

const char *cf__norm_name(int v);
const char *cf__pos_name(int v);
const char *cf__act_name(int v);
const char *cf__rope_name(int v);
const char *cf__family_name(int v);
int cf__norm_parse(const char *s);
int cf__pos_parse(const char *s);
int cf__act_parse(const char *s);
int cf__rope_parse(const char *s);
int cf__family_parse(const char *s);

#endif
