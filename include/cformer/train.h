// cformer: training (next-token cross-entropy, AdamW, warmup + cosine schedule, clipping,
// gradient accumulation, validation, checkpoints that resume exactly).
#ifndef CFORMER_TRAIN_H
#define CFORMER_TRAIN_H

#include "encoder.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_train_params {
    int32_t batch_size;      // B: sequences per micro-batch
    int32_t seq_len;         // T: tokens per sequence (<= n_ctx)
    int32_t grad_accum;      // micro-batches per optimizer step
    int64_t max_steps;       // optimizer steps
    float lr;                // peak learning rate
    float min_lr;            // floor of the cosine decay
    int64_t warmup_steps;    // linear warmup from lr/warmup to lr
    float weight_decay;      // decoupled (AdamW), on matrices and embeddings only
    float beta1, beta2, eps;
    float grad_clip;         // clip the global gradient L2 norm to this; 0: off
    float val_fraction;      // share of the data held out for validation (the tail)
    int64_t eval_every;      // steps between validation runs; 0: never
    int32_t eval_batches;    // micro-batches per validation run
    int64_t ckpt_every;      // steps between checkpoints; 0: only at the end
    uint64_t seed;           // sampling of batches and initialisation
    int32_t schedule;        // cf_lr_schedule
    float dropout;           // inverted dropout on the embeddings, each block's attention and
                             // feed-forward outputs and the classification heads' inputs, as
                             // BERT's hidden_dropout_prob (not on attention probabilities);
                             // 0 (the default): none
} cf_train_params;

typedef enum cf_lr_schedule {
    CF_SCHEDULE_COSINE = 0,    // linear warmup to lr, cosine decay to min_lr at max_steps
    CF_SCHEDULE_INV_SQRT = 1,  // inverse square root with peak lr (seq2seq.h, cf_lr_inverse_sqrt)
} cf_lr_schedule;

CF_API cf_train_params cf_train_default_params(void);

// Parses cformer's training config text: one `key = value` per line, `#` starts a comment.
// `family = gpt2 | llama | generic` (if present, wherever it is) first loads that family's
// preset; the other keys override fields of the model config (n_layers, n_embd, n_heads,
// n_kv_heads, head_dim, n_ff, vocab_size, n_ctx, norm, pre_norm, final_norm, norm_eps, pos,
// rope_theta, rope_style, act, attn_bias, mlp_bias, bias, tie_embeddings, causal, bos_id,
// eos_id) or of the training parameters (the cf_train_params field names; steps = max_steps,
// warmup = warmup_steps). `tokenizer = byte | PATH` is returned in tokenizer (cap bytes).
// *model and *train must hold defaults on entry. Errors name the file, line and key.
CF_API cf_status cf_train_config_parse(cf_ctx *ctx, const char *path, const char *text,
                                       size_t len, cf_config *model, cf_train_params *train,
                                       char *tokenizer, size_t cap);

typedef struct cf_trainer cf_trainer;

// Makes a trainer for m (which must stay alive). The model's weights become writable (a mapped
// model is copied into memory). Gradients and the AdamW moments are allocated here, once.
// *out: owned, free with cf_trainer_free.
CF_API cf_status cf_trainer_create(cf_model *m, const cf_train_params *p, cf_trainer **out);
CF_API void cf_trainer_free(cf_trainer *t);

// Hands the trainer its data: n token ids (all < vocab_size), copied. The last val_fraction
// becomes the validation set. Batches are windows of T+1 tokens at seeded random offsets.
CF_API cf_status cf_trainer_set_data(cf_trainer *t, const int32_t *tokens, int64_t n);

typedef struct cf_step_stats {
    int64_t step;       // the step just finished (1-based)
    float loss;         // mean training loss over the step's micro-batches
    float lr;           // learning rate used
    float grad_norm;    // global L2 norm before clipping
    int64_t tokens;     // tokens processed by this step
    double seconds;     // wall time of the step
} cf_step_stats;

// One optimizer step on batches drawn from the data.
CF_API cf_status cf_trainer_step(cf_trainer *t, cf_step_stats *stats);

// One optimizer step on caller batches: tokens (grad_accum, B, T + 1); inputs are the first T
// of each row and targets the last T. Targets equal to -1 are ignored.
CF_API cf_status cf_trainer_step_on(cf_trainer *t, const int32_t *tokens, cf_step_stats *st);

// Mean loss over eval_batches fixed validation windows (the same windows every call).
CF_API cf_status cf_trainer_eval(cf_trainer *t, float *val_loss);

CF_API int64_t cf_trainer_step_count(const cf_trainer *t);
CF_API float cf_trainer_lr_at(const cf_trainer *t, int64_t step);

// ---- fine-tuning encoders (encoder.h) ----
//
// The task steps share the optimizer, schedule, clipping and checkpoints above; batch_size and
// seq_len in the params are unused by them (each batch carries its own B and T).

// One optimizer step on n_micro labelled batches of task (gradients averaged over them).
// class_weights: (n_labels) for SEQ_CLS / TOKEN_CLS, or NULL. stats->tokens counts the
// unmasked tokens. Errors: those of the batch checks (CF_ERR_RANGE naming the bad label),
// CF_ERR_UNSUPPORTED when the model lacks the task's head.
CF_API cf_status cf_trainer_step_task(cf_trainer *t, cf_task task, const cf_encoder_batch *batches,
                                      int32_t n_micro, const float *class_weights,
                                      cf_step_stats *stats);
// Sets the learning-rate multiplier of every parameter whose cformer name starts with prefix
// ("layers.3.", "tok_", "classifier.", ...). 0 freezes (no gradient, no update, no decay).
CF_API cf_status cf_trainer_set_lr_scale(cf_trainer *t, const char *prefix, float scale);
// Freezes the embeddings (word, position, token type, their LayerNorm; with tied MLM heads
// the decoder too, as it is the same tensor) and/or the first n_layers blocks.
CF_API cf_status cf_trainer_freeze(cf_trainer *t, int embeddings, int32_t n_layers);
// Layer-wise learning-rate decay: heads (and final norm) x1, block l x decay^(L - l), the
// embeddings x decay^(L + 1). Frozen parameters stay frozen; call before cf_trainer_freeze or
// after, the result is the same.
CF_API cf_status cf_trainer_layer_decay(cf_trainer *t, float decay);
// The multiplier of the parameter named name, or -1 when there is none.
CF_API float cf_trainer_lr_scale_of(cf_trainer *t, const char *name);

// Writes a checkpoint (weights, AdamW moments, step, sampler state, params) to path atomically:
// a temporary file in the same folder, fsync, then rename.
CF_API cf_status cf_trainer_save(cf_trainer *t, const char *path);
// Restores a checkpoint written by cf_trainer_save into this trainer; the model must have the
// same config. Training then continues exactly as if it had not stopped.
CF_API cf_status cf_trainer_resume(cf_trainer *t, const char *path);

#ifdef __cplusplus
}
#endif
#endif
