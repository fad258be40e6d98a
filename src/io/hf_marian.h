// Hugging Face MarianMTModel folders (hf_marian.c), hooked into hf.c's loader and saver.
#ifndef CF_HF_MARIAN_H
#define CF_HF_MARIAN_H

#include <cJSON.h>

#include "io.h"

struct cf_model;

// Parses a model_type "marian" config.json object into a config (not yet finished).
cf_status cf__hf_marian_config(cf_ctx *ctx, const char *path, const cJSON *o, cf_config *c);
// Fills the model's weights from a Marian model.safetensors (copies into one slab).
cf_status cf__hf_marian_load_weights(struct cf_model *m, cf_safetensors *st);
// Whether the config can be written as a MarianMTModel.
bool cf__hf_marian_fits(const cf_config *c);
// Writes dir/config.json and dir/model.safetensors in the Marian layout (atomically each).
cf_status cf__hf_marian_save(struct cf_model *m, const char *dir);

#endif
