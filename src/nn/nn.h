// nn: the layers models are written with, each a forward function that, in training mode,
// records itself on a tape (its backward function and what it saved). cf__graph_backward
// replays the tape in reverse; nobody writes a per-model backward pass.
//
// Memory: activation data comes from a bump arena planned by a measuring pass (the same forward
// runs once with measure set: no compute, sizes only), then reused with no allocation per step.
// Tensor descriptors and tape nodes come from a small chunked "meta" arena, also reset per step.
// Activation gradients are allocated on first use during backward from a gradient arena, zeroed.
//
// Gradient convention: every backward rule accumulates (+=) into its inputs' gradients, so a
// tensor used twice (the residual stream) sums the contributions of both consumers.
#ifndef CF_NN_H
#define CF_NN_H

#include "../kernels/kernels.h"

// An activation: contiguous float32, row-major, up to 4 dimensions.
typedef struct cf_tensor {
    float *data;        // NULL in a measuring pass
    float *grad;        // allocated by cf__grad() during backward; NULL before
    int64_t shape[4];
    int ndim;
    int64_t n;          // element count
    bool needs_grad;    // a gradient must flow into this tensor
} cf_tensor;

// A parameter matrix used as y = x W^T (+ b), W logically (rows = out, cols = in). Stored either
// as W (row i at data + i * ld) or, with trans, as W^T (GPT-2's Conv1D: row j of the stored
// (in, out) matrix at data + j * ld). Vectors (norm weights, biases) have rows = 1.
typedef struct cf_weight {
    float *data;
    float *grad;        // same layout as data; NULL when not trained
    int64_t rows, cols, ld;
    bool trans;
} cf_weight;

typedef struct cf_kv_cache {
    float *k, *v;       // (L, n_ctx, kv_dim) each
    int64_t n_ctx, kv_dim;
    int n_layers;
    int64_t n_seq;      // sequences decoded together: (L, n_seq, n_ctx, kv_dim); 0 or 1: one
    // Beam search: (n_seq, n_ctx) or NULL. Position p of sequence b was cached in the slot of
    // sequence rows[b * n_ctx + p] (beams read their shared prefix where it was written instead
    // of copying it; rows[b * n_ctx + p] == b for the positions being written). Decoding only.
    const int32_t *rows;
} cf_kv_cache;

typedef struct cf_node cf_node;
typedef struct cf_graph cf_graph;
typedef void (*cf_bwd_fn)(cf_graph *g, const cf_node *n);

// One tape entry.
struct cf_node {
    cf_bwd_fn bwd;
    cf_node *prev;
    cf_tensor *in[3];
    cf_tensor *out;
    const cf_weight *w[3];
    float f[4];
    int64_t i[8];
    const void *p;      // op-specific pointer (token ids, targets)
    float *saved;       // op-specific saved values (means, log-sum-exps, ...)
};

typedef struct cf_meta_chunk cf_meta_chunk;

struct cf_graph {
    cf_ctx *ctx;
    const cf_kernels *k;
    cf_arena act;         // activation data and saved values
    cf_arena grads;       // activation gradients
    cf_meta_chunk *meta;  // tensor descriptors and tape nodes
    cf_meta_chunk *meta_cur;
    size_t meta_off;
    bool train;           // record the tape
    bool measure;         // planning pass: allocate sizes only, compute nothing
    bool oom;             // a meta allocation failed; results are garbage, report NOMEM
    cf_node *tape;        // last recorded node
    // Inference with a KV cache: layer l writes its keys/values at positions pos0.. in kv.
    cf_kv_cache *kv;
    int64_t pos0;
    const uint8_t *key_mask;  // (B, Tk) 1 = attend, 0 = padding; NULL = all
    // Scratch per thread for attention scores: nth * attn_scratch floats.
    float *attn_scratch;
    size_t attn_scratch_floats;
    // Inference: the model's packed-weight cache (prepack.c) that linear layers use; NULL = none
    // (pack per call). Reset by cf__graph_begin; set by the model's forward functions.
    struct cf_prepack *prepack;
    // Training: inverted dropout at this rate where the model applies it (cf__dropout); 0: none.
    // Masks come from dropout_seed and the call's index in the pass (dropout_calls, reset by
    // cf__graph_begin), so the planning pass, the real pass and backward agree. Set by the
    // trainer before each pass; inference graphs leave it 0.
    float dropout;
    uint64_t dropout_seed;
    uint64_t dropout_calls;
    uint8_t junk[512];    // handed out when meta allocation fails, so callers never see NULL
};

// ---- graph lifecycle (graph.c) ----

void cf__graph_init(cf_graph *g, cf_ctx *ctx);
void cf__graph_deinit(cf_graph *g);
// Starts a pass: resets arenas, meta and tape.
void cf__graph_begin(cf_graph *g, bool train, bool measure);
// Plans: after a measuring pass, sizes the arenas to what it used (grows only).
cf_status cf__graph_plan(cf_graph *g);
// Inference graphs free a block's intermediate activations as the block ends: mark before the
// block, then keep(mark, out) moves out (allocated after mark) down to mark and releases the
// rest of the arena past it, so the arena holds one block's activations at a time instead of all
// of them. Training graphs (the tape still needs them) are left alone. Returns out.
size_t cf__graph_mark(const cf_graph *g);
cf_tensor *cf__graph_keep(cf_graph *g, size_t mark, cf_tensor *out);
// Runs the tape backward from a scalar loss whose gradient is set to seed (1, or 1/n when n
// micro-batches accumulate into one step).
void cf__graph_backward(cf_graph *g, cf_tensor *loss, float seed);

cf_tensor *cf__tensor(cf_graph *g, int ndim, const int64_t *shape);
cf_tensor *cf__tensor2(cf_graph *g, int64_t d0, int64_t d1);
cf_tensor *cf__tensor3(cf_graph *g, int64_t d0, int64_t d1, int64_t d2);
float *cf__act_alloc(cf_graph *g, int64_t n);  // from the activation arena; NULL when measuring
float *cf__grad(cf_graph *g, cf_tensor *t);  // the gradient of t, allocated zeroed on first use
cf_node *cf__record(cf_graph *g, cf_bwd_fn bwd, cf_tensor *out);  // NULL when not training
void *cf__meta_alloc(cf_graph *g, size_t n);

// Runs fn(ith, nth, arg) on the pool when the work is worth it, else on this thread alone.
void cf__run(cf_graph *g, double flops, cf_task_fn fn, void *arg);

// ---- packed weights for inference (prepack.c) ----
//
// A cache of weight matrices packed once into the GEMM's panel layout, so inference GEMMs skip
// packing B. Owned by a model; every change of the weights must call cf__prepack_invalidate.
// Memory: one more copy of each packed matrix (columns padded to the micro-tile), at most
// budget bytes in all.
typedef struct cf_prepack cf_prepack;
// Linear layers use the cache for products of at least this many rows (1 row: GEMV reads W).
#define CF_PREPACK_MIN_ROWS 2
cf_prepack *cf__prepack_create(size_t budget);  // owned, cf__prepack_free; NULL on OOM
void cf__prepack_free(cf_prepack *p);           // NULL is allowed
// The weights changed: drops every packed matrix (NULL is allowed).
void cf__prepack_invalidate(cf_prepack *p);
// Bytes of packed matrices held now, or (planned) those noted so far, packed or not, capped
// at the budget.
size_t cf__prepack_bytes(const cf_prepack *p, bool planned);
// W packed for g->ctx's kernels as cf__gemm_pack_b packs op(B) of y = x W^T (as bf16 pairs by
// cf__gemm_bf16_pack_b in a bf16 context; borrowed, valid until the cache is invalidated or
// freed), packed now when missing or stale. NULL when g has
// no cache, in a measuring pass (which notes the entry), past the budget, or out of memory
// (which also sets g->oom): the caller then multiplies unpacked.
const void *cf__prepack_get(cf_graph *g, const cf_weight *w);

// ---- layers ----

// y[b, t] = wte[tokens[b, t]] (+ wpe[pos0 + t] when wpe; + table[pos0 + t] when table).
// tokens must already be range-checked. wpe: learned (n_ctx, C); table: fixed, no gradient.
cf_tensor *cf__embed(cf_graph *g, const cf_weight *wte, const cf_weight *wpe, const float *table,
                     const int32_t *tokens, int64_t B, int64_t T, int64_t pos0);
// y = x W^T + b over the last dimension.
cf_tensor *cf__linear(cf_graph *g, cf_tensor *x, const cf_weight *w, const cf_weight *b);
cf_tensor *cf__layernorm(cf_graph *g, cf_tensor *x, const cf_weight *w, const cf_weight *b,
                         float eps);
cf_tensor *cf__rmsnorm(cf_graph *g, cf_tensor *x, const cf_weight *w, float eps);
cf_tensor *cf__act(cf_graph *g, cf_tensor *x, cf_act_op op);
cf_tensor *cf__glu(cf_graph *g, cf_tensor *gate, cf_tensor *up, cf_act_op op);
cf_tensor *cf__add(cf_graph *g, cf_tensor *a, cf_tensor *b);
// Inverted dropout (torch.nn.Dropout in training mode): y = x * keep / (1 - p) with p =
// g->dropout, keep = 0 with probability p, drawn per element from a counter-based hash of
// (g->dropout_seed, this call's index, the element's index): backward recomputes the mask
// instead of storing it, and results do not depend on the thread count. Returns x itself when
// the graph is not training or p is 0.
cf_tensor *cf__dropout(cf_graph *g, cf_tensor *x);
// Rotary embedding on (B, T, n_heads * D) at positions pos0 + t; cos_sin: (n_ctx, D/2, 2).
cf_tensor *cf__rope(cf_graph *g, cf_tensor *x, int64_t n_heads, int64_t D, const float *cos_sin,
                    bool interleaved);
// Multi-head attention. q: (B, Tq, H*D); k, v: (B, Tk, KVH*D). With g->kv set, k and v are the
// new positions (Tk == Tq): they are written to the cache of `layer` and queries attend to all
// pos0 + Tq cached positions. causal: query t sees keys <= pos0 + t. Output (B, Tq, H*D).
cf_tensor *cf__attention(cf_graph *g, cf_tensor *q, cf_tensor *k, cf_tensor *v, int64_t H,
                         int64_t KVH, int64_t D, bool causal, int layer);
// Mean cross-entropy of logits (N, V) against targets (N); targets < 0 are ignored. Returns a
// 1-element tensor. Its backward writes softmax - onehot into the logits' gradient.
cf_tensor *cf__cross_entropy(cf_graph *g, cf_tensor *logits, const int32_t *targets);
// Rows of x selected by index: y[r] = x[rows[r]] (e.g. the last position of each sequence).
cf_tensor *cf__gather_rows(cf_graph *g, cf_tensor *x, const int64_t *rows, int64_t n);

// ---- encoder layers (encoder_layers.c) ----

// y[b, t] = wte[tokens] + wpe[pos_ids] (when wpe) + wtt[type_ids] (when wtt; NULL ids: type 0).
// Ids (B, T) already range-checked. Output (B, T, C).
cf_tensor *cf__embed_sum(cf_graph *g, const cf_weight *wte, const cf_weight *wpe,
                         const cf_weight *wtt, const int32_t *tokens, const int32_t *pos_ids,
                         const int32_t *type_ids, int64_t B, int64_t T);
cf_tensor *cf__tanh(cf_graph *g, cf_tensor *x);
// Mean over the positions of x (B*T, C) where mask (B, T) is 1 (NULL: all). Output (B, C); a
// row with no positions gives zeros.
cf_tensor *cf__masked_mean(cf_graph *g, cf_tensor *x, const uint8_t *mask, int64_t B, int64_t T);
// y = x / max(|x|, eps) per row of the last dimension (torch.nn.functional.normalize).
cf_tensor *cf__l2_normalize(cf_graph *g, cf_tensor *x, float eps);
// Cross-entropy of logits (N, K) with optional class weights (K): sum_i w[y_i] nll_i /
// sum_i w[y_i] over targets >= 0 (torch.nn.CrossEntropyLoss(weight), ignore_index < 0).
cf_tensor *cf__cross_entropy_w(cf_graph *g, cf_tensor *logits, const int32_t *targets,
                               const float *class_w);
// BertForQuestionAnswering's loss on logits (B*T, 2) (start, end per position): positions are
// clamped to [0, T], T is ignored, and the loss is the mean of the start and end
// cross-entropies over the positions along T.
cf_tensor *cf__qa_loss(cf_graph *g, cf_tensor *logits, int64_t B, int64_t T,
                       const int32_t *start, const int32_t *end);

// ---- encoder-decoder layers (seq2seq_ops.c, attention.c) ----

// y[b, t] = scale * x[b, t] (+ wpe[pos0 + t] when wpe; + table[pos0 + t] when table), for
// x (B, T, C): scaled token embeddings plus positions (Marian, the original Transformer).
cf_tensor *cf__scale_add_pos(cf_graph *g, cf_tensor *x, float scale, const cf_weight *wpe,
                             const float *table, int64_t pos0);
// Label-smoothed cross-entropy of logits (N, V) against targets (N), torch's definition
// (CrossEntropyLoss(label_smoothing = eps)); targets < 0 are ignored; mean over the rest.
cf_tensor *cf__cross_entropy_smooth(cf_graph *g, cf_tensor *logits, const int32_t *targets,
                                    float eps);
// Cross-attention: queries q (B, Tq, H*D) from the decoder attend to keys/values k, v
// (B, Tk, H*D) made from the encoder output, bidirectionally, with key_mask (B, Tk) the source
// padding (1 = token, 0 = pad; NULL = none). Never touches the KV cache. Output (B, Tq, H*D).
cf_tensor *cf__cross_attention(cf_graph *g, cf_tensor *q, cf_tensor *k, cf_tensor *v, int64_t H,
                               int64_t D, const uint8_t *key_mask);

#endif
