// cformer: encoder-decoder (translation) models: the original Transformer and Marian (OPUS-MT).
//
// An encoder-decoder model is a cf_model whose config has n_dec_layers > 0: n_layers encoder
// blocks (bidirectional, source padding masked) and n_dec_layers decoder blocks (causal
// self-attention, cross-attention over the encoder output, feed-forward), built from the same
// generic model code as the decoder-only families. vocab_size is the target vocabulary (the
// logits' V); the source shares it unless src_vocab_size is set. Load and save with
// cf_model_load / cf_model_save: a Hugging Face MarianMTModel folder (config.json +
// model.safetensors, see docs/FORMATS.md) or cformer's own names.
//
// Conventions: sources are id sequences that already end with eos_id (Marian appends </s>);
// the decoder is fed decoder_start_id followed by the target, and predicts the target followed
// by eos_id. Objects here follow the thread-safety of the cf_model they use: one thread at a
// time per model.
#ifndef CFORMER_SEQ2SEQ_H
#define CFORMER_SEQ2SEQ_H

#include "model.h"
#include "tokenizer.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

// "Attention is all you need", base: 6 + 6 blocks, C 512, 8 heads, F 2048, post-norm
// LayerNorm without final norms, ReLU, interleaved sinusoidal positions, embeddings scaled by
// sqrt(C), one shared vocabulary (37000) tied to the output; pad 0, bos 1 (= decoder start),
// eos 2.
CF_API cf_config cf_config_transformer(void);
// The same layout, small: 3 + 3 blocks, C 256, 4 heads, F 1024, V 8000, 256 positions.
CF_API cf_config cf_config_transformer_small(void);
// Marian / OPUS-MT (e.g. opus-mt-en-de): the base shapes with SiLU ("swish"), sinusoidal
// positions with the sines in the first half, a final logits bias, V 58101, 512 positions,
// eos 0, pad 58100 = decoder start.
CF_API cf_config cf_config_marian(void);

// Runs the encoder on B sources of S ids (padded) and writes its output (B, S, C) into a caller
// buffer of B*S*C floats. src_mask: (B, S) 1 for a token, 0 for padding; NULL: no padding.
// Returns CF_ERR_INVALID_ARG for a model that is not an encoder-decoder or S > n_ctx,
// CF_ERR_RANGE for an id outside the source vocabulary.
CF_API cf_status cf_s2s_encode(cf_model *m, const int32_t *src, const uint8_t *src_mask, int B,
                               int S, float *out);

// Teacher forcing: the decoder fed tgt_in (B, T) (decoder_start_id, then the target shifted
// right; padding after the end is allowed) over the sources; writes logits (B, T, V) into a
// caller buffer of B*T*V floats. Errors as cf_s2s_encode, and for T > n_ctx.
CF_API cf_status cf_s2s_forward(cf_model *m, const int32_t *src, const uint8_t *src_mask, int B,
                                int S, const int32_t *tgt_in, int T, float *logits);

// Label-smoothed cross-entropy of the teacher-forced logits against labels (B, T): the mean
// over the labels that are >= 0 (-1 marks padding) of
//   (1 - eps) (-log p[label]) + (eps / V) sum_j (-log p[j]),
// torch.nn.CrossEntropyLoss(label_smoothing = eps) and Hugging Face's definition. eps in
// [0, 1). Writes the loss to *loss.
CF_API cf_status cf_s2s_loss(cf_model *m, const int32_t *src, const uint8_t *src_mask, int B,
                             int S, const int32_t *tgt_in, const int32_t *labels, int T,
                             float label_smoothing, float *loss);

// ---- decoding ----

typedef struct cf_s2s_decode_params {
    int32_t beam_size;       // 1: greedy (argmax each step)
    float length_penalty;    // alpha: finished hypotheses rank by sum(log p) / len^alpha, len =
                             // generated tokens including eos (Hugging Face, fairseq)
    float max_len_a;         // at most max_len_a * src_len + max_len_b target tokens (eos
    int32_t max_len_b;       //   included), and never more than n_ctx - 1
    int32_t early_stopping;  // 1: a sentence ends once beam_size hypotheses have finished;
                             // 0: once no running beam can still beat the worst of them
    int32_t n_best;          // hypotheses returned per sentence, best first (1..beam_size)
    int32_t max_batch;       // sentences decoded together, grouped by source length
} cf_s2s_decode_params;

// beam 4, length penalty 1, max_len 1.5 * src + 10, early stopping, n_best 1, batches of 16.
CF_API cf_s2s_decode_params cf_s2s_default_decode_params(void);

typedef struct cf_s2s_hyp {
    int32_t *tokens;    // (n) the target ids, without decoder start and eos
    int32_t n;
    int32_t finished;   // 1: ended with eos; 0: stopped at the length limit
    float score;        // sum(log p) / len^alpha (greedy: alpha = 0, the sum)
    float *logprobs;    // (n + finished) log-probability of each generated token, eos included
} cf_s2s_hyp;

typedef struct cf_s2s_output {
    int32_t n_sent, n_best;
    int32_t *n_hyps;    // (n_sent) hypotheses per sentence (0 for an empty source)
    cf_s2s_hyp *hyps;   // (n_sent, n_best) in input order; sentence i's j-th at i * n_best + j
} cf_s2s_output;

// Translates n sources. src[i]: src_len[i] ids (ending with eos_id, as the model was trained;
// a source longer than n_ctx keeps its first n_ctx - 1 ids and its last one). An empty source
// gives no hypothesis. Sentences are sorted by length and decoded max_batch at a time with a
// KV cache for the decoder self-attention; the cross-attention keys and values are computed
// once per sentence. pad_id is never generated. Results are in input order.
// *out: owned, free with cf_s2s_output_free. Errors: CF_ERR_INVALID_ARG (parameters, not an
// encoder-decoder model), CF_ERR_RANGE (an id), CF_ERR_NOMEM.
CF_API cf_status cf_s2s_translate_ids(cf_model *m, const int32_t *const *src,
                                      const int32_t *src_len, int n,
                                      const cf_s2s_decode_params *p, cf_s2s_output **out);
CF_API void cf_s2s_output_free(cf_s2s_output *o);  // NULL is allowed

// ---- tokenization (the Marian layout: source.spm, target.spm, vocab.json) ----
//
// As transformers' MarianTokenizer: the side's SentencePiece model splits the text into pieces,
// vocab.json maps each piece to the model's id (<unk>'s id when it lacks the piece), and </s> is
// appended. Decoding skips the special ids (</s>, <pad>, <unk>, <s>), maps the other ids back to
// pieces and detokenizes them with the target SentencePiece model. Invalid UTF-8 in the input
// is handled as SentencePiece does (each bad byte becomes U+FFFD). One thread at a time.

typedef struct cf_s2s_tokenizer cf_s2s_tokenizer;

typedef enum cf_s2s_side {
    CF_S2S_SOURCE = 0,  // source.spm
    CF_S2S_TARGET = 1,  // target.spm (source.spm when the folder has no target.spm)
} cf_s2s_side;

// Loads dir/source.spm, dir/target.spm and dir/vocab.json. vocab_size: the model's (0: the
// largest id in vocab.json + 1); an id at or above it is an error. Errors: CF_ERR_IO,
// CF_ERR_FORMAT (names the file and the entry). *out: owned, free with cf_s2s_tokenizer_free.
CF_API cf_status cf_s2s_tokenizer_load(cf_ctx *ctx, const char *dir, int32_t vocab_size,
                                       cf_s2s_tokenizer **out);
CF_API void cf_s2s_tokenizer_free(cf_s2s_tokenizer *t);  // NULL is allowed
CF_API int32_t cf_s2s_tokenizer_vocab_size(const cf_s2s_tokenizer *t);
CF_API int32_t cf_s2s_tokenizer_eos(const cf_s2s_tokenizer *t);
CF_API int32_t cf_s2s_tokenizer_unk(const cf_s2s_tokenizer *t);
CF_API int32_t cf_s2s_tokenizer_pad(const cf_s2s_tokenizer *t);  // -1 when vocab.json has none

// Encodes len bytes of text with the side's model into model ids ending with </s>. Writes at
// most cap ids; *n_out is the number needed; CF_ERR_RANGE when cap is too small.
CF_API cf_status cf_s2s_tokenizer_encode(cf_s2s_tokenizer *t, cf_s2s_side side, const char *text,
                                         size_t len, int32_t *ids, int64_t cap, int64_t *n_out);
// Decodes n model ids into text (not NUL-terminated, at most cap bytes; *n_out: the length
// needed; CF_ERR_RANGE when cap is too small or an id is out of range).
CF_API cf_status cf_s2s_tokenizer_decode(cf_s2s_tokenizer *t, const int32_t *ids, int64_t n,
                                         char *buf, size_t cap, size_t *n_out);

// Trains a joint vocabulary of vocab_size ids on len bytes of text (one sentence per line; give
// it both sides' text) with cformer's Unigram trainer and writes the Marian tokenizer files into
// dir: source.spm and target.spm (the same SentencePiece model: <unk> 0, <s> 1, </s> 2, the
// pieces; identity normalizer) and vocab.json (</s> 0, <unk> 1, the pieces, <pad> last =
// vocab_size - 1). *n_vocab (may be NULL): the ids written (vocab_size unless the text has too
// few distinct pieces). Errors: CF_ERR_INVALID_ARG (vocab_size < 300), CF_ERR_IO.
CF_API cf_status cf_s2s_vocab_train(cf_ctx *ctx, const char *text, size_t len, int32_t vocab_size,
                                    const char *dir, int32_t *n_vocab);

// ---- training ----

// Learning rate of the inverse-square-root ("Noam") schedule at 1-based step s, fairseq's
// inverse_sqrt with a peak: peak * min(s / warmup, sqrt(warmup / s)), linear warmup to peak at
// s = warmup, then peak * sqrt(warmup / s). The paper's d^-0.5 * min(s^-0.5, s * warmup^-1.5)
// times a factor is the same curve with peak = factor * (d * warmup)^-0.5 (cf_lr_noam_peak).
// The trainer uses it when cf_train_params.schedule is CF_SCHEDULE_INV_SQRT (lr is the peak).
CF_API float cf_lr_inverse_sqrt(float peak, int64_t warmup, int64_t s);
CF_API float cf_lr_noam_peak(int32_t d_model, int64_t warmup, float factor);

// One batch of sentence pairs, padded: sources (B, S) with src_mask 1 on tokens; the decoder
// input tgt_in (B, T) = decoder_start_id then the target shifted right; labels (B, T) = the
// target (ending with eos), -1 on padding.
typedef struct cf_s2s_batch {
    int32_t B, S, T;
    const int32_t *src;
    const uint8_t *src_mask;
    const int32_t *tgt_in;
    const int32_t *labels;
    int64_t n_src, n_tgt;  // real (unpadded) source and target tokens
} cf_s2s_batch;

// The token-budget batcher: pairs sorted by (source length, target length), cut in order into
// batches whose padded size B * (S + T) stays within max_tokens (a pair alone over the budget
// is a batch of one); each epoch visits every batch once, in an order shuffled from (seed,
// epoch), so batch k of the stream is a pure function of k and a resumed run sees the same
// batches. Pairs whose source or target (eos included) is longer than max_len, or empty, are
// left out (cf_s2s_batcher_n_skipped). Ids are copied.
typedef struct cf_s2s_batcher cf_s2s_batcher;
CF_API cf_status cf_s2s_batcher_create(cf_model *m, const int32_t *const *src,
                                       const int32_t *src_len, const int32_t *const *tgt,
                                       const int32_t *tgt_len, int64_t n, int32_t max_tokens,
                                       int32_t max_len, uint64_t seed, cf_s2s_batcher **out);
CF_API void cf_s2s_batcher_free(cf_s2s_batcher *b);  // NULL is allowed
CF_API int64_t cf_s2s_batcher_n_batches(const cf_s2s_batcher *b);  // per epoch
CF_API int64_t cf_s2s_batcher_n_skipped(const cf_s2s_batcher *b);
// Batch k of the stream (epoch k / n_batches). *out borrows the batcher's buffers, valid until
// the next call. pair_index (may be NULL): filled with the B pairs' input indices.
CF_API cf_status cf_s2s_batcher_get(cf_s2s_batcher *b, int64_t k, cf_s2s_batch *out,
                                    int64_t *pair_index);

// One optimizer step (trainer.c's AdamW, schedule, clipping) on n_micro batches with the
// label-smoothed cross-entropy (cf_s2s_loss's definition), the gradient of the mean over all
// their target tokens. stats->tokens counts source + target tokens.
CF_API cf_status cf_trainer_step_s2s(cf_trainer *t, const cf_s2s_batch *batches, int32_t n_micro,
                                     float label_smoothing, cf_step_stats *stats);

// Averages the weights of n models (Hugging Face folders or cformer checkpoints of the same
// config) elementwise: the mean of the last checkpoints of a run. *out: a model holding the
// mean, with the first one's config (owned, free with cf_model_free).
CF_API cf_status cf_model_average(cf_ctx *ctx, const char *const *paths, int n, cf_model **out);

#ifdef __cplusplus
}
#endif
#endif
