// cformer: a transformer engine in C. Umbrella header: include this one.
//
//   cf_ctx        status.h     thread pool, kernels, last error message
//   cf_model      model.h      config, weights, load/save, forward
//   cf_tokenizer  tokenizer.h  text <-> ids
//   cf_session    infer.h      KV cache, sampling, generation, perplexity
//   cf_trainer    train.h      AdamW training with resumable checkpoints
//   cf_squad_*    eval.h       metrics: SQuAD EM/F1, accuracy/macro-F1, QA spans, BLEU
//   cf_s2s_*      seq2seq.h    encoder-decoder models: teacher forcing, greedy and beam search
//   cf_encoder_*  encoder.h    BERT-family encoders: hidden states, task heads, embeddings
#ifndef CFORMER_H
#define CFORMER_H

#define CF_VERSION_MAJOR 0
#define CF_VERSION_MINOR 1
#define CF_VERSION_PATCH 0
#define CF_VERSION_STRING "0.1.0"

#include "status.h"     // defines: cf_status, cf_ctx, cf_errmsg
#include "model.h"      // defines: cf_config, cf_model
#include "tokenizer.h"  // defines: cf_tokenizer
#include "infer.h"      // defines: cf_session, cf_sampler, cf_generate, cf_perplexity
#include "train.h"      // defines: cf_trainer
#include "eval.h"       // defines: cf_squad_evaluate, cf_classify_score, cf_qa_*, cf_bleu_*
#include "seq2seq.h"    // defines: cf_s2s_forward, cf_s2s_translate_ids (encoder-decoder)
#include "encoder.h"    // defines: cf_encoder_batch, cf_encoder_forward, the task heads

#endif
