// The model object: config, weight views, the parameter registry, and the generic forward.
// Shared by models/, io/ (loaders fill the views), infer/ and train/.
#ifndef CF_MODEL_INTERNAL_H
#define CF_MODEL_INTERNAL_H

#include "../nn/nn.h"

typedef struct cf_layer {
    cf_weight ln1_w, ln1_b;          // (C) before attention (pre-norm) or after it (post-norm)
    cf_weight wq, wk, wv, wo;        // (H*D, C), (KVH*D, C), (KVH*D, C), (C, H*D)
    cf_weight bq, bk, bv, bo;        // (H*D), (KVH*D), (KVH*D), (C)
    cf_weight ln2_w, ln2_b;          // (C)
    cf_weight w_up, b_up;            // (F, C), (F): fc / up_proj
    cf_weight w_gate;                // (F, C): gated units only
    cf_weight w_down, b_down;        // (C, F), (C)
    // Decoder blocks of encoder-decoder models: cross-attention over the encoder output and its
    // norm (between self-attention and the feed-forward).
    cf_weight lnx_w, lnx_b;          // (C)
    cf_weight xq, xk, xv, xo;        // (H*D, C) x 3, (C, H*D)
    cf_weight bxq, bxk, bxv, bxo;    // (H*D) x 3, (C)
} cf_layer;

// One entry of the parameter registry: every trainable tensor once, in a fixed order.
typedef struct cf_param {
    char name[64];      // cformer's own name, e.g. "layers.3.attn.wq"
    cf_weight *w;
    bool decay;         // weight decay applies (matrices and embeddings)
    bool is_norm;       // norm weight (initialised to 1)
    bool residual;      // output projection into the residual stream (init scaled by 1/sqrt(2L))
} cf_param;

struct cf_model {
    cf_ctx *ctx;
    cf_config cfg;
    cf_weight wte;                   // (V, C)
    cf_weight wpe;                   // (n_ctx, C), learned positions only
    cf_weight lnf_w, lnf_b;          // (C)
    cf_weight lm_head;               // (V, C); a copy of wte's view when tied
    cf_layer *layers;                // (L)
    cf_param *params;
    int n_params;
    float *rope;                     // (pos_len, D/2, 2): cos, sin per position and frequency
    float *sinus;                    // (pos_len, C): fixed sinusoidal positions
    int64_t pos_len;                 // positions the tables cover (<= n_ctx)
    float *slab;                     // owned weight storage (NULL when all views are mapped)
    size_t slab_floats;
    cf_file file;                    // the mapped file the views point into, if any
    bool mapped;
    const char *source;              // "new", "llama2.c", "hf-gpt2", "hf-llama", "cformer"
    char tok_hint[256];              // tokenizer named by the files ("byte"), or ""
    // Encoders (BERT family, see encoder.c); views are empty when the config has no such part.
    cf_weight wtt;                   // (type_vocab, C) token-type embeddings
    cf_weight lne_w, lne_b;          // (C) LayerNorm over the embedding sum
    cf_weight pool_w, pool_b;        // (C, C), (C) pooler dense (tanh; DistilBERT: ReLU)
    cf_weight mlm_w, mlm_b;          // (C, C), (C) MLM transform dense
    cf_weight mlm_ln_w, mlm_ln_b;    // (C) MLM transform LayerNorm
    cf_weight mlm_bias;              // (1, V) bias of the tied MLM decoder
    cf_weight cls_w, cls_b;          // (n_labels, C), (n_labels) sequence / token classifier
    cf_weight qa_w, qa_b;            // (2, C), (2) start / end logits
    char *labels;                    // n_labels NUL-terminated names back to back, or NULL
    char *src_dir;                   // the folder a Hugging Face model was loaded from, or NULL
    cf_graph *enc_graph;             // encoder inference graph (encoder.c), kept between calls so
                                     // its arenas are not mapped afresh each batch; or NULL
    cf_graph *s2s_graphs;            // (2) encoder-decoder decoding graphs (s2s_decode.c), kept
                                     // the same way; or NULL
    // Encoder-decoder models (cfg.n_dec_layers > 0, see encdec.c): layers are the encoder,
    // dec_layers the decoder; wte is the target (and, when shared, source) embedding.
    cf_layer *dec_layers;            // (n_dec_layers)
    cf_weight src_wte;               // (V_src, C) source embeddings when the vocabularies differ
    cf_weight dec_wpe;               // (n_ctx, C) learned decoder positions
    cf_weight dec_lnf_w, dec_lnf_b;  // (C) the decoder's final norm (final_norm)
    cf_weight logits_b;              // (1, V) added to the logits (logits_bias)
    // Inference GEMMs' packed weights (model_prepack.c, nn/prepack.c), made on first use; or
    // NULL. weights_version counts the changes of the weights (cf__model_weights_changed).
    cf_prepack *prepack;
    uint64_t weights_version;
};

// Allocates the model object and the registry for cfg (finished and validated); weights are
// not allocated. *out owned.
cf_status cf__model_alloc(cf_ctx *ctx, const cf_config *cfg, cf_model **out);
// Allocates one compact slab for every registered weight and points the views into it
// (rows x cols, ld = cols, not transposed). Contents are zero.
cf_status cf__model_alloc_slab(cf_model *m);
// Makes the weights a compact owned slab (copying from a mapping or strided views), so they
// can be trained and saved. No-op when already so.
cf_status cf__model_make_writable(cf_model *m);
// Finishes a model whose weights and config are set: ties the output, computes a first
// position table (bounded by the size of the weights).
cf_status cf__model_finish(cf_model *m);
// Grows the position tables to cover n positions (at most n_ctx). Every entry point that runs
// the forward on more positions calls this first; cf__model_forward asserts it.
cf_status cf__model_positions(cf_model *m, int64_t n);
// Sets every registered weight's grad pointer into grads (a slab laid out as the weights).
void cf__model_set_grads(cf_model *m, float *grads);
// Offset in floats of a registered weight inside the slab.
size_t cf__weight_offset(const cf_model *m, const cf_weight *w);
int64_t cf__weight_numel(const cf_weight *w);
// Finds a registered parameter by cformer name; NULL if none.
cf_param *cf__model_param(cf_model *m, const char *name);

// The generic forward. tokens (B, T) already range-checked; positions start at g->pos0.
// rows: when not NULL, only those rows of the (B*T, C) final hidden state get logits.
// Returns logits (B*T or n_rows, V).
cf_tensor *cf__model_forward(cf_graph *g, cf_model *m, const int32_t *tokens, int64_t B,
                             int64_t T, const int64_t *rows, int64_t n_rows);

// Registers the encoder head weights the config asks for (encoder.c), starting at index n;
// returns the new count.
int cf__model_reg_heads(cf_model *m, int n);

// ---- encoder-decoder (encdec.c, decoder.c) ----

// Checks the encoder-decoder fields of a config (called by cf_config_finish).
cf_status cf__encdec_check(cf_ctx *ctx, cf_config *c);
// Registers the decoder blocks and the other encoder-decoder weights from index n; returns the
// new count. No-op unless cfg.n_dec_layers > 0.
int cf__model_reg_encdec(cf_model *m, int n);
// Registry entries an encoder-decoder config needs beyond the decoder-only count.
size_t cf__encdec_n_params(const cf_config *c);
// The source embedding table (src_wte when separate, else wte).
const cf_weight *cf__encdec_src_wte(const cf_model *m);

// Encoder: src (B, S) ids (range-checked) at positions 0.., src_mask (B, S) 1 = token, 0 = pad
// (NULL: none). Returns the encoder output (B, S, C).
cf_tensor *cf__encdec_encode(cf_graph *g, cf_model *m, const int32_t *src, int64_t B, int64_t S,
                             const uint8_t *src_mask);
// Cross-attention keys and values of decoder block l from the encoder output (B, S, C).
void cf__encdec_cross_kv(cf_graph *g, cf_model *m, int l, cf_tensor *enc, cf_tensor **k,
                         cf_tensor **v);
// Decoder: tgt (B, T) ids at positions g->pos0.. (with g->kv: the self-attention cache, n_dec
// layers). xk, xv: per decoder block the cross keys/values (B, S, H*D) from cf__encdec_cross_kv.
// rows: as cf__model_forward. Returns logits (B*T or n_rows, V).
cf_tensor *cf__encdec_decode(cf_graph *g, cf_model *m, const int32_t *tgt, int64_t B, int64_t T,
                             cf_tensor *const *xk, cf_tensor *const *xv, const uint8_t *src_mask,
                             const int64_t *rows, int64_t n_rows);

// The generic forward up to the final norm: hidden states (B*T, C). type_ids: (B, T) token
// types or NULL (all 0); the padding mask is g->key_mask.
cf_tensor *cf__model_hidden(cf_graph *g, cf_model *m, const int32_t *tokens,
                            const int32_t *type_ids, int64_t B, int64_t T);
// Encoder pieces (encoder.c): the embeddings of an encoder config (word + position ids +
// token types, then the embedding LayerNorm); the MLM head on hidden rows x (N, C) -> (N, V).
cf_tensor *cf__encoder_embed(cf_graph *g, cf_model *m, const int32_t *tokens,
                             const int32_t *type_ids, int64_t B, int64_t T);
cf_tensor *cf__encoder_mlm(cf_graph *g, cf_model *m, cf_tensor *x);

// Teacher forcing: encoder, every block's cross keys/values, decoder from position 0. Returns
// logits (B*T, V); *enc_out (may be NULL) receives the encoder output (B, S, C).
cf_tensor *cf__encdec_forward(cf_graph *g, cf_model *m, const int32_t *src,
                              const uint8_t *src_mask, int64_t B, int64_t S, const int32_t *tgt,
                              int64_t T, cf_tensor **enc_out);
// Checks an encoder-decoder batch (model kind, sizes, ids; tgt may be NULL) and grows the
// position tables to cover it.
cf_status cf__encdec_check_batch(cf_model *m, const int32_t *src, int B, int S,
                                 const int32_t *tgt, int T);
// The message of the decoder-only entry points (forward, session, LM trainer) refusing an
// encoder-decoder model.
#define CF__S2S_ONLY                                                                      \
    "the model is an encoder-decoder (translation) model; use the seq2seq API "           \
    "(cf_s2s_forward, cf_s2s_translate_ids, cf_trainer_step_s2s: seq2seq.h)"

// ---- packed weights for inference (model_prepack.c) ----

// Points g at the model's packed-weight cache (made here on first use) unless g trains or the
// context has no budget for it. Called by each forward function that takes (g, m).
void cf__model_use_prepack(cf_graph *g, cf_model *m);
// Every change of the weights (training updates, resume, copies, averaging, moving them) calls
// this: the cache is dropped and repacked by the next inference.
void cf__model_weights_changed(cf_model *m);

// Range check of token ids against V, with a message naming the first bad one.
cf_status cf__check_tokens(cf_ctx *ctx, const int32_t *tokens, int64_t n, int32_t V);

#endif
