// Linear layer y = x W^T + b over the last dimension, and its backward:
//   dx += dy W,  dW += dy^T x,  db += column sums of dy.
// W may be stored transposed (GPT-2's Conv1D); the GEMM's transpose flags absorb that.
// Inference (g->prepack set, not training) multiplies by W packed once (prepack.c). A bf16
// context (cf_ctx_params.precision) does every product here in bf16 with fp32 sums.
#include <string.h>

#include "nn.h"

typedef struct bias_job {
    const float *b;
    float *y;
    const float *dy;
    float *db;
    int64_t rows, cols;
} bias_job;

static void bias_fill_task(int ith, int nth, void *arg) {
    const bias_job *j = arg;
    int64_t r0, r1;
    cf__split(j->rows, 1, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) memcpy(j->y + r * j->cols, j->b, (size_t)j->cols * 4);
}

static void bias_grad_task(int ith, int nth, void *arg) {
    const bias_job *j = arg;
    int64_t c0, c1;
    cf__split(j->cols, 16, ith, nth, &c0, &c1);
    for (int64_t r = 0; r < j->rows; r++) {
        const float *d = j->dy + r * j->cols;
        for (int64_t c = c0; c < c1; c++) j->db[c] += d[c];
    }
}

typedef void (*gemm_fn)(cf_ctx *, bool, bool, int64_t, int64_t, int64_t, float, const float *,
                        int64_t, const float *, int64_t, float, float *, int64_t);

// cf__gemm's signature over cf__gemm_bf16 (alpha is always 1 here).
static void gemm_bf16(cf_ctx *ctx, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, int64_t ldc) {
    CF_ASSERT(alpha == 1.0f);
    cf__gemm_bf16(ctx, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

// The product the context asks for: bf16 operands with fp32 sums, or fp32.
static gemm_fn gemm_of(const cf_ctx *ctx) { return ctx->bf16 ? gemm_bf16 : cf__gemm; }

static void linear_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0], *y = n->out;
    const cf_weight *w = n->w[0], *b = n->w[1];
    int64_t in = w->cols, out = w->rows, rows = x->n / in;
    float *dx = x->needs_grad ? cf__grad(g, x) : NULL;
    if (g->measure) return;
    const float *dy = y->grad;
    // A bf16 context rounds the operands of these products to bf16 too (sums in fp32; the
    // weights, gradients and optimizer stay fp32): mixed-precision training.
    gemm_fn mm = gemm_of(g->ctx);
    cf_ctx *c = g->ctx;
    if (dx) mm(c, false, w->trans, rows, in, out, 1.0f, dy, out, w->data, w->ld, 1.0f, dx, in);
    if (w->grad) {
        if (!w->trans)
            mm(c, true, false, out, in, rows, 1.0f, dy, out, x->data, in, 1.0f, w->grad, w->ld);
        else
            mm(c, true, false, in, out, rows, 1.0f, x->data, in, dy, out, 1.0f, w->grad, w->ld);
    }
    if (b && b->grad) {
        bias_job j = {NULL, NULL, dy, b->grad, rows, out};
        cf__run(g, (double)rows * (double)out, bias_grad_task, &j);
    }
}

cf_tensor *cf__linear(cf_graph *g, cf_tensor *x, const cf_weight *w, const cf_weight *b) {
    int64_t in = x->shape[x->ndim - 1];
    CF_ASSERT(in == w->cols);
    CF_ASSERT(!b || b->cols == w->rows);
    int64_t shape[4];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = w->rows;
    cf_tensor *y = cf__tensor(g, x->ndim, shape);
    int64_t rows = x->n / in, out = w->rows;
    // Inference with the model's cache: W packed once, not on every call (prepack.c).
    const void *wp = NULL;
    // (One row is a GEMV on the stored weights in fp32; in bf16 it too takes the packed bf16
    // weights: half the bytes to read, and a row's result does not depend on its batch.)
    if (g->prepack && !g->train && (rows >= CF_PREPACK_MIN_ROWS || g->ctx->bf16))
        wp = cf__prepack_get(g, w);
    if (!g->measure && wp) {
        // The bias goes in tile by tile with the product: no pass of its own over y.
        if (g->ctx->bf16)
            cf__gemm_bf16_packed(g->ctx, rows, out, in, x->data, in, wp, b ? b->data : NULL,
                                 y->data, out);
        else
            cf__gemm_packed(g->ctx, false, rows, out, in, 1.0f, x->data, in, wp, 0.0f,
                            b ? b->data : NULL, y->data, out);
    } else if (!g->measure) {
        float beta = 0.0f;
        if (b) {
            bias_job j = {b->data, y->data, NULL, NULL, rows, out};
            cf__run(g, (double)rows * (double)out, bias_fill_task, &j);
            beta = 1.0f;
        }
        gemm_of(g->ctx)(g->ctx, false, !w->trans, rows, out, in, 1.0f, x->data, in, w->data,
                        w->ld, beta, y->data, out);
    }
    cf_node *n = cf__record(g, linear_bwd, y);
    if (n) {
        n->in[0] = x;
        n->w[0] = w;
        n->w[1] = b;
    }
    return y;
}
