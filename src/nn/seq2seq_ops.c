// Layers the encoder-decoder models need beyond the decoder-only set: scaled token embeddings
// plus positions (Marian and the original Transformer multiply the embeddings by sqrt(C) before
// adding positions). Cross-attention itself is the attention kernel with the source padding mask
// (cf__cross_attention in attention.c); label-smoothed cross-entropy is in loss.c.
//
// Not here: the model wiring (src/models/decoder.c) or decoding (src/infer/seq2seq.c).
#include <math.h>

#include "nn.h"

// ---- scale and add positions ----

typedef struct spos_job {
    const cf_kernels *k;
    const float *x;
    float *y;
    const float *wpe, *table;  // rows of C floats at pos0 + t; either may be NULL
    int64_t ld_wpe, rows, T, C, pos0;
    float scale;
} spos_job;

static void spos_task(int ith, int nth, void *arg) {
    const spos_job *j = arg;
    int64_t r0, r1;
    cf__split(j->rows, 1, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t p = j->pos0 + r % j->T;
        const float *x = j->x + r * j->C;
        float *y = j->y + r * j->C;
        for (int64_t c = 0; c < j->C; c++) y[c] = j->scale * x[c];
        if (j->wpe) j->k->axpy(j->C, 1.0f, j->wpe + p * j->ld_wpe, y);
        if (j->table) j->k->axpy(j->C, 1.0f, j->table + p * j->C, y);
    }
}

static void spos_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0], *y = n->out;
    float *dx = x->needs_grad ? cf__grad(g, x) : NULL;
    if (g->measure) return;
    int64_t C = n->i[0], T = n->i[1], pos0 = n->i[2], rows = x->n / C;
    if (dx) g->k->axpy(x->n, n->f[0], y->grad, dx);
    const cf_weight *wpe = n->w[0];
    if (wpe && wpe->grad)  // one thread: two rows of a batch share a position row
        for (int64_t r = 0; r < rows; r++)
            g->k->axpy(C, 1.0f, y->grad + r * C, wpe->grad + (pos0 + r % T) * wpe->ld);
}

cf_tensor *cf__scale_add_pos(cf_graph *g, cf_tensor *x, float scale, const cf_weight *wpe,
                             const float *table, int64_t pos0) {
    CF_ASSERT(x->ndim == 3);
    int64_t T = x->shape[1], C = x->shape[2];
    cf_tensor *y = cf__tensor(g, 3, x->shape);
    if (!g->measure) {
        spos_job j = {g->k, x->data, y->data, wpe ? wpe->data : NULL, table,
                      wpe ? wpe->ld : 0, x->n / C, T, C, pos0, scale};
        cf__run(g, 3.0 * (double)x->n, spos_task, &j);
    }
    cf_node *n = cf__record(g, spos_bwd, y);
    if (n) {
        n->in[0] = x;
        n->w[0] = wpe;
        n->f[0] = scale;
        n->i[0] = C;
        n->i[1] = T;
        n->i[2] = pos0;
    }
    return y;
}
