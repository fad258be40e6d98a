// cformer: the generic transformer description and models built from it.
//
// One cf_config covers the decoder families (GPT-2, Llama, ...) and, with causal = 0, encoders.
// A cf_model holds the weights: created with random initialisation, or loaded from a llama2.c
// .bin, a Hugging Face folder (config.json + model.safetensors) or a cformer checkpoint.
#ifndef CFORMER_MODEL_H
#define CFORMER_MODEL_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_norm_kind {
    CF_NORM_LAYERNORM = 0,  // (x - mean) / sqrt(var + eps) * w + b   (torch.nn.LayerNorm)
    CF_NORM_RMSNORM = 1,    // x / sqrt(mean(x^2) + eps) * w          (Llama RMSNorm)
} cf_norm_kind;

typedef enum cf_pos_kind {
    CF_POS_NONE = 0,
    CF_POS_LEARNED = 1,     // a (n_ctx, C) table added to the token embeddings (GPT-2)
    CF_POS_SINUSOIDAL = 2,  // fixed sin/cos table of "Attention is all you need", added
    CF_POS_ROPE = 3,        // rotary embeddings applied to q and k in every layer
} cf_pos_kind;

typedef enum cf_act_kind {
    CF_ACT_GELU = 0,       // exact: x * Phi(x)
    CF_ACT_GELU_TANH = 1,  // tanh approximation ("gelu_new", GPT-2)
    CF_ACT_RELU = 2,
    CF_ACT_SWIGLU = 3,     // down(silu(gate(x)) * up(x)) (Llama)
    CF_ACT_SILU = 4,
    CF_ACT_GEGLU = 5,      // down(gelu(gate(x)) * up(x))
} cf_act_kind;

typedef enum cf_rope_style {
    CF_ROPE_HALF = 0,         // rotate dims (i, i + D/2): Hugging Face Llama, GPT-NeoX
    CF_ROPE_INTERLEAVED = 1,  // rotate dims (2i, 2i + 1): Meta's Llama, llama2.c, GPT-J
} cf_rope_style;

// Which checkpoint layout a model follows when saved in the Hugging Face layout.
typedef enum cf_family {
    CF_FAMILY_GENERIC = 0,  // cformer's own tensor names, any combination of options
    CF_FAMILY_GPT2 = 1,     // GPT2LMHeadModel: Conv1D weights, fused c_attn, tied lm_head
    CF_FAMILY_LLAMA = 2,    // LlamaForCausalLM: q/k/v/o_proj, gate/up/down_proj, RMSNorm
    CF_FAMILY_BERT = 3,     // BertModel / BertFor*: post-norm encoder, token types, heads
    CF_FAMILY_ROBERTA = 4,  // RobertaModel / RobertaFor*: BERT with positions from pad_id + 1
    CF_FAMILY_DISTILBERT = 5,  // DistilBertModel / DistilBertFor*: no token types, no pooler
    CF_FAMILY_MARIAN = 6,   // MarianMTModel (OPUS-MT): post-norm encoder-decoder, see seq2seq.h
} cf_family;

// Encoder heads a model carries (a bit set in cf_config.heads). Sequence and token
// classification share the checkpoint name "classifier", so a model has at most one of them.
typedef enum cf_head_kind {
    CF_HEAD_POOLER = 1,     // dense (C, C) + tanh on the first token (DistilBERT: + ReLU)
    CF_HEAD_MLM = 2,        // dense + act + LayerNorm, then the tied (V, C) decoder + bias (V)
    CF_HEAD_SEQ_CLS = 4,    // pooler, then classifier (n_labels, C)
    CF_HEAD_TOKEN_CLS = 8,  // classifier (n_labels, C) on every position
    CF_HEAD_QA = 16,        // qa_outputs (2, C): start and end logits per position
} cf_head_kind;

typedef struct cf_config {
    cf_family family;
    int32_t n_layers;    // L
    int32_t n_embd;      // C, the residual width
    int32_t n_heads;     // H, query heads
    int32_t n_kv_heads;  // key/value heads; H must be a multiple (grouped-query attention)
    int32_t head_dim;    // D; n_embd / n_heads when 0 is given to cf_config_finish
    int32_t n_ff;        // width of the feed-forward hidden layer
    int32_t vocab_size;  // V
    int32_t n_ctx;       // the longest sequence the model supports
    cf_norm_kind norm;
    int32_t pre_norm;    // 1: x + f(norm(x)) (GPT-2, Llama); 0: norm(x + f(x)) (BERT)
    int32_t final_norm;  // 1: a norm after the last block (pre-norm models)
    float norm_eps;
    cf_pos_kind pos;
    float rope_theta;
    cf_rope_style rope_style;
    cf_act_kind act;
    int32_t attn_bias;   // biases on q, k, v and the attention output projection
    int32_t mlp_bias;    // biases on the feed-forward projections
    int32_t tie_embeddings;  // the output projection reuses the token embedding matrix
    int32_t causal;      // 1: each position sees itself and the past only
    int32_t bos_id;      // -1: none
    int32_t eos_id;      // -1: none
    // Encoders (BERT family); 0 in the decoder presets, which then behave as before.
    int32_t type_vocab_size;  // token-type (segment) embeddings (type_vocab, C); 0: none
    int32_t embd_norm;   // 1: LayerNorm (norm_eps) over the embedding sum (BERT)
    int32_t pad_id;      // padding token; -1: none
    int32_t pos_offset;  // learned position ids start here (RoBERTa: pad_id + 1; pads get pad_id)
    int32_t heads;       // cf_head_kind bits
    int32_t n_labels;    // outputs of the sequence / token classifier (1..65536 when present)
    // Encoder-decoder (translation) models, see seq2seq.h; 0 in the other presets.
    int32_t n_dec_layers;      // > 0: n_layers encoder blocks, then n_dec_layers decoder blocks
                               // with causal self-attention and cross-attention
    int32_t src_vocab_size;    // source vocabulary when separate; 0: shared (vocab_size, the
                               // target vocabulary and the logits' V, serves both)
    int32_t scale_embedding;   // 1: token embeddings are multiplied by sqrt(n_embd)
    int32_t logits_bias;       // 1: a bias (target V) is added to the logits (final_logits_bias)
    int32_t sinus_split;       // sinusoidal layout: 0 sin/cos interleaved per frequency ("Attention
                               // is all you need"); 1 sin in the first half, cos in the second
    int32_t decoder_start_id;  // first decoder input (Marian: pad_id); -1: none
} cf_config;

// GPT-2 defaults (124M when unchanged): LayerNorm, learned positions, gelu_tanh, biases, tied.
CF_API cf_config cf_config_gpt2(void);
// Llama defaults: RMSNorm, RoPE (half style), SwiGLU, no biases, untied.
CF_API cf_config cf_config_llama(void);
// bert-base-uncased shapes: 12 layers, C 768, 12 heads, F 3072, V 30522, 512 positions, 2 token
// types, post-norm LayerNorm eps 1e-12, exact GELU, biases, embedding LayerNorm,
// bidirectional, untied (no LM head: heads pooler + MLM with the decoder tied to the
// embeddings), pad id 0.
CF_API cf_config cf_config_bert(void);
// roberta-base: BERT shapes with V 50265, 514 positions, 1 token type, pad 1, positions from 2.
CF_API cf_config cf_config_roberta(void);
// distilbert-base-uncased: 6 layers, no token types, no pooler, pad 0.
CF_API cf_config cf_config_distilbert(void);

// Fills derived fields (head_dim, n_kv_heads when 0) and checks every value against the others.
// Returns CF_ERR_INVALID_ARG with a message naming the field on an impossible config.
CF_API cf_status cf_config_finish(cf_ctx *ctx, cf_config *cfg);

typedef struct cf_model cf_model;

// Creates a model with freshly initialised weights (GPT-2 style: normal(0, 0.02), residual
// projections scaled by 1/sqrt(2L), norms at 1, biases at 0). *out: owned, free with
// cf_model_free.
CF_API cf_status cf_model_create(cf_ctx *ctx, const cf_config *cfg, uint64_t seed,
                                 cf_model **out);

// Loads a model. path may be a llama2.c checkpoint (.bin), a Hugging Face folder (or its
// config.json / model.safetensors), or a cformer training checkpoint (.safetensors). F32
// weights are memory-mapped when the file layout allows; F16/BF16 are converted to F32.
// Errors: CF_ERR_IO, CF_ERR_FORMAT (message names the file and what is wrong),
// CF_ERR_UNSUPPORTED. *out: owned, free with cf_model_free.
CF_API cf_status cf_model_load(cf_ctx *ctx, const char *path, cf_model **out);

// Writes the model as a Hugging Face folder: dir/config.json and dir/model.safetensors, each
// written to a temporary file and renamed, so a crash never leaves a half-written file.
CF_API cf_status cf_model_save(cf_model *m, const char *dir);

CF_API void cf_model_free(cf_model *m);  // NULL is allowed
CF_API const cf_config *cf_model_config(const cf_model *m);  // borrowed, lives with m
CF_API int64_t cf_model_n_params(const cf_model *m);         // unique parameters (tied once)
CF_API cf_ctx *cf_model_ctx(const cf_model *m);
// 1 when the weights are a read-only mapping of the file.
CF_API int cf_model_is_mapped(const cf_model *m);
// Short description of where the model came from ("llama2.c", "hf-gpt2", ...). Static string.
CF_API const char *cf_model_source(const cf_model *m);

// The tokenizer a model was saved with, when its files say so ("byte"), else NULL.
CF_API const char *cf_model_tokenizer_hint(const cf_model *m);
// Records the tokenizer to name in saved files (at most 255 bytes; NULL clears it).
CF_API void cf_model_set_tokenizer_hint(cf_model *m, const char *hint);

// Copies into dst every weight that src has under the same cformer name (shapes must agree),
// e.g. a pretrained encoder into a model made with the heads a task needs; dst's other weights
// (new heads) keep their initialisation. Counts go to *n_copied and *n_missing (either may be
// NULL). Errors: CF_ERR_FORMAT naming a tensor whose shapes differ.
CF_API cf_status cf_model_copy_weights(cf_model *dst, const cf_model *src, int *n_copied,
                                       int *n_missing);

typedef struct cf_memory_info {
    int64_t weight_bytes;      // parameters in float32 (mapped or in memory)
    int64_t kv_bytes;          // KV cache for n_ctx positions, one sequence
    int64_t activation_bytes;  // planned activation arena for one chunk of prefill
    int64_t train_bytes;       // training: weights + grads + AdamW moments (4x weights), plus
                               // the activations and their gradients for (batch, seq_len)
    int64_t prepack_bytes;     // inference: the weight matrices kept packed for the GEMM (one
                               // more copy of them, up to the context's prepack_mib; 0: off)
} cf_memory_info;

// Computes the memory a model needs (planning passes only, no large allocation). n_ctx 0: the
// model's; chunk: prefill chunk (0: 256); batch, seq_len: a training shape (0: skip training).
CF_API cf_status cf_model_memory(cf_model *m, int n_ctx, int chunk, int batch, int seq_len,
                                 cf_memory_info *out);

// Runs the model on B sequences of T tokens (no cache) and writes logits (B, T, V) into a
// caller buffer of B*T*V floats. tokens: (B, T) ids in [0, V). Returns CF_ERR_RANGE on an id
// out of range and CF_ERR_INVALID_ARG when T > n_ctx.
CF_API cf_status cf_model_forward(cf_model *m, const int32_t *tokens, int B, int T,
                                  float *logits);

#ifdef __cplusplus
}
#endif
#endif
