// cformer: inference sessions (KV cache), sampling, generation and perplexity.
#ifndef CFORMER_INFER_H
#define CFORMER_INFER_H

#include "model.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

// A session is one sequence being decoded: its KV cache (L, n_ctx, kv_dim) for keys and values
// and an activation arena planned once for the longest chunk. Not thread-safe.
typedef struct cf_session cf_session;

// n_ctx: positions the cache holds (0: the model's n_ctx, at most 8192). max_chunk: tokens per
// forward pass when prompts are fed (0: 256); activations are planned once for that size.
// *out: owned, free with cf_session_free.
CF_API cf_status cf_session_create(cf_model *m, int n_ctx, int max_chunk, cf_session **out);
CF_API int cf_session_n_ctx(const cf_session *s);
CF_API cf_model *cf_session_model(const cf_session *s);  // borrowed
CF_API void cf_session_free(cf_session *s);  // NULL is allowed
CF_API void cf_session_reset(cf_session *s);  // forget all cached positions
CF_API int cf_session_pos(const cf_session *s);  // number of cached positions

// Appends n tokens to the sequence and computes logits. all_logits = 0: logits receives the
// last position's V floats; 1: logits receives (n, V). Returns CF_ERR_RANGE for an id out of
// range, CF_ERR_INVALID_ARG when the sequence would exceed n_ctx. Longer inputs than
// max_chunk are processed in chunks.
CF_API cf_status cf_session_eval(cf_session *s, const int32_t *tokens, int n, int all_logits,
                                 float *logits);

typedef struct cf_sampler_params {
    float temperature;     // 0: greedy (argmax), repeatable
    int32_t top_k;         // 0: off
    float top_p;           // 1: off
    float min_p;           // 0: off; drops tokens with p < min_p * p_max
    float repeat_penalty;  // 1: off; CTRL-style: logit/penalty if > 0 else logit*penalty
    int32_t repeat_last_n; // window of past tokens the penalty looks at
    uint64_t seed;
} cf_sampler_params;

CF_API cf_sampler_params cf_sampler_default_params(void);

typedef struct cf_sampler cf_sampler;
CF_API cf_status cf_sampler_create(cf_ctx *ctx, const cf_sampler_params *p, int32_t vocab_size,
                                   cf_sampler **out);
CF_API void cf_sampler_free(cf_sampler *s);
// Picks a token from logits (V floats, modified in place). history: the n_history tokens so far
// (for the repetition penalty).
CF_API int32_t cf_sampler_sample(cf_sampler *s, float *logits, const int32_t *history,
                                 int64_t n_history);

typedef struct cf_generate_params {
    cf_sampler_params sampler;
    int32_t max_tokens;        // tokens to generate at most
    const char *const *stop;   // NULL-terminated list of stop strings, or NULL
    int32_t stop_at_eos;       // 1: stop at the tokenizer's end-of-sequence id
    int32_t add_bos;           // 1: prepend the tokenizer's BOS id to the prompt, if any
} cf_generate_params;

CF_API cf_generate_params cf_generate_default_params(void);

// Receives generated text as it becomes final (held back only while it could still be the start
// of a stop string). Return non-zero to stop.
typedef int (*cf_text_fn)(const char *text, size_t len, void *user);

typedef struct cf_generate_stats {
    int64_t n_prompt, n_generated;
    double prompt_seconds, gen_seconds;
    const char *stop_reason;  // "length", "eos", "stop", "context", "callback"
} cf_generate_stats;

// Generates a continuation of prompt with the session (reset first). The prompt is not echoed
// to on_text. stats may be NULL.
CF_API cf_status cf_generate(cf_session *s, cf_tokenizer *tok, const char *prompt,
                             const cf_generate_params *p, cf_text_fn on_text, void *user,
                             cf_generate_stats *stats);

typedef struct cf_perplexity_result {
    double nll;          // mean negative log-likelihood per scored token, nats
    double perplexity;   // exp(nll)
    int64_t n_scored;    // tokens scored
} cf_perplexity_result;

// Perplexity of a token sequence with a sliding window of ctx tokens (0: n_ctx) moved by
// stride tokens (0: ctx/2). Every token but the first is scored exactly once, each with at
// least ctx - stride tokens of context except in the first window.
CF_API cf_status cf_perplexity(cf_model *m, const int32_t *tokens, int64_t n, int ctx,
                               int stride, cf_perplexity_result *out);

#ifdef __cplusplus
}
#endif
#endif
