// cformer: encoder models (BERT, RoBERTa, DistilBERT) and their task heads.
//
// An encoder is a cf_model whose config has causal = 0, post-norm blocks, an embedding
// LayerNorm and (BERT, RoBERTa) token-type embeddings; cf_config_bert() and the Hugging Face
// loader (BertModel, BertForMaskedLM, BertForSequenceClassification,
// BertForTokenClassification, BertForQuestionAnswering and the RoBERTa/DistilBERT twins) make
// one. The heads a model carries are cf_config.heads; their label names come from config.json.
//
// Every function here runs one batch (planning its memory on the way) and writes into caller
// buffers. Thread safety: one call at a time per model (the model's context is shared).
#ifndef CFORMER_ENCODER_H
#define CFORMER_ENCODER_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

// The training tasks the heads serve.
typedef enum cf_task {
    CF_TASK_MLM = 0,        // masked-LM: labels (B, T), -100 (any negative) ignored
    CF_TASK_SEQ_CLS = 1,    // sequence classification: labels (B)
    CF_TASK_TOKEN_CLS = 2,  // token classification: labels (B, T), negative ignored
    CF_TASK_QA = 3,         // extractive QA: start_positions, end_positions (B)
} cf_task;

// Sentence-embedding pooling over the final hidden states, as sentence-transformers' Pooling
// module defines each mode.
typedef enum cf_pooling {
    CF_POOL_CLS = 0,            // the hidden state of the first token
    CF_POOL_MEAN = 1,           // the mean over the positions whose mask is 1
    CF_POOL_MAX = 2,            // the element-wise maximum over the positions whose mask is 1
    CF_POOL_MEAN_SQRT_LEN = 3,  // the sum over those positions divided by sqrt(their count)
} cf_pooling;

// One batch of B sequences padded to T tokens.
typedef struct cf_encoder_batch {
    const int32_t *tokens;    // (B, T) ids in [0, V)
    const int32_t *type_ids;  // (B, T) token types in [0, type_vocab_size), or NULL (all 0)
    const uint8_t *mask;      // (B, T) 1 = token, 0 = padding (never attended), or NULL (all 1)
    int32_t B, T;             // T <= n_ctx - pos_offset
    // Targets, read only by the losses and the trainer:
    const int32_t *labels;           // SEQ_CLS: (B) in [0, n_labels); MLM, TOKEN_CLS: (B, T)
    const int32_t *start_positions;  // QA: (B); clamped to [0, T] and T is ignored, as
    const int32_t *end_positions;    //     BertForQuestionAnswering does
} cf_encoder_batch;

// Final hidden states (B, T, C) into a caller buffer of B*T*C floats.
// Errors: CF_ERR_INVALID_ARG (shape), CF_ERR_RANGE (an id, type or label out of range).
CF_API cf_status cf_encoder_forward(cf_model *m, const cf_encoder_batch *b, float *hidden);

// Masked-LM logits (B, T, V). CF_ERR_UNSUPPORTED when the model has no MLM head.
CF_API cf_status cf_encoder_mlm_logits(cf_model *m, const cf_encoder_batch *b, float *logits);

// Sequence-classification logits (B, n_labels): pooler (dense + tanh on the first token), then
// the classifier. CF_ERR_UNSUPPORTED without a sequence-classification head.
CF_API cf_status cf_encoder_classify(cf_model *m, const cf_encoder_batch *b, float *logits);

// Token-classification logits (B, T, n_labels).
CF_API cf_status cf_encoder_token_classify(cf_model *m, const cf_encoder_batch *b,
                                           float *logits);

// Extractive-QA start and end logits, (B, T) each.
CF_API cf_status cf_encoder_qa_logits(cf_model *m, const cf_encoder_batch *b, float *start,
                                      float *end);

// Sentence embeddings (B, C): the hidden states pooled as pooling says, divided by their L2
// norm when normalize (torch.nn.functional.normalize, eps 1e-12).
CF_API cf_status cf_encoder_embed(cf_model *m, const cf_encoder_batch *b, cf_pooling pooling,
                                  int normalize, float *out);

// How a sentence-transformers folder makes its embeddings: modules.json lists a Transformer
// module (its folder: module_path), a Pooling module (its config.json's pooling_mode_* flags)
// and optionally a Normalize module; the Transformer folder's sentence_bert_config.json gives
// max_seq_length.
typedef struct cf_embed_config {
    int found;               // 1: read from modules.json; 0: the folder has none (defaults)
    cf_pooling pooling;      // CF_POOL_MEAN when not found
    int normalize;           // 1 when a Normalize module follows the pooling
    int32_t max_seq_length;  // tokens per sentence (0: not given, the model's context)
    int32_t dim;             // the Pooling module's word_embedding_dimension (0: not given)
    char module_path[256];   // the Transformer module's folder relative to dir ("" = dir)
} cf_embed_config;

// Reads dir's sentence-transformers set-up into *out; a folder without modules.json gives
// found = 0 and the defaults. Errors: CF_ERR_FORMAT (a malformed file, a module path leaving
// the folder), CF_ERR_UNSUPPORTED (modules other than Transformer, Pooling and Normalize, in
// that order; more than one pooling mode at once, or weightedmean / lasttoken; do_lower_case),
// CF_ERR_IO.
CF_API cf_status cf_embed_config_load(cf_ctx *ctx, const char *dir, cf_embed_config *out);

// The task's loss on a labelled batch (no gradients). class_weights: (n_labels) for SEQ_CLS
// and TOKEN_CLS, or NULL.
CF_API cf_status cf_encoder_loss(cf_model *m, cf_task task, const cf_encoder_batch *b,
                                 const float *class_weights, float *loss);

// Label names (id2label of config.json). Borrowed, valid until the labels change; NULL when
// id is out of range or the model has no names.
CF_API const char *cf_model_label(const cf_model *m, int32_t id);
// The id of a label name (label2id), or -1.
CF_API int32_t cf_model_label_id(const cf_model *m, const char *name);
// Sets the names of the n_labels labels (copied; each at most 255 bytes). names NULL clears.
// CF_ERR_INVALID_ARG when n differs from the config's n_labels.
CF_API cf_status cf_model_set_labels(cf_model *m, int32_t n, const char *const *names);

#ifdef __cplusplus
}
#endif
#endif
