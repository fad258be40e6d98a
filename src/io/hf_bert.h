// Hugging Face encoder folders (BERT, RoBERTa, DistilBERT): the pieces hf.c calls.
#ifndef CF_HF_BERT_H
#define CF_HF_BERT_H

#include <cJSON.h>

#include "io.h"

struct cf_model;

// True for the model_type values handled here (bert, roberta, xlm-roberta, distilbert).
bool cf__hf_bert_type(const char *model_type);
// Reads an encoder config.json (root object; model_type already known to be an encoder) into
// *c (not yet finished) and the family. Errors name the file and the field.
cf_status cf__hf_bert_config(cf_ctx *ctx, const char *path, const cJSON *root, cf_config *c,
                             cf_family *family, const char **source);
// Adds or drops the pooler by whether the checkpoint has its tensors (BERT, RoBERTa).
void cf__hf_bert_adjust(cf_config *c, cf_family fam, const cf_safetensors *st);
// The checkpoint name of one of our parameters (written into out); false if the family has none.
bool cf__hf_bert_name(const cf_config *c, cf_family fam, const char *ours, char *out, size_t cap);
// name without its "bert." / "roberta." / "distilbert." prefix, or NULL when it has none.
const char *cf__hf_bert_unprefixed(const char *name);
// Label names from config.json's id2label (when the model has labels).
cf_status cf__hf_labels_load(struct cf_model *m, const char *path, const cJSON *root);
// Whether the config can be written in the family's Hugging Face layout.
bool cf__hf_bert_fits(const cf_config *c, cf_family fam);
// Fills the encoder fields of config.json (architectures entry, model_type, sizes, labels).
void cf__hf_bert_config_json(const struct cf_model *m, cf_family fam, cJSON *o, cJSON *arch,
                             double norm_eps);
// Copies the tokenizer files of the folder the model was loaded from into dir.
cf_status cf__hf_copy_tokenizer(struct cf_model *m, const char *dir);
// Records the folder a model was loaded from (copied).
cf_status cf__model_set_src_dir(struct cf_model *m, const char *dir);

#endif
