// Token embeddings with learned or fixed absolute positions, and rotary position embeddings.
#include <string.h>

#include "nn.h"

typedef struct embed_job {
    const cf_kernels *k;
    const cf_weight *wte, *wpe;
    const float *table;
    const int32_t *tokens;
    int64_t B, T, C, pos0;
    float *y;
    const float *dy;
} embed_job;

static void embed_task(int ith, int nth, void *arg) {
    const embed_job *j = arg;
    int64_t r0, r1;
    cf__split(j->B * j->T, 1, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {
        int64_t t = r % j->T;
        float *y = j->y + r * j->C;
        memcpy(y, j->wte->data + (int64_t)j->tokens[r] * j->wte->ld, (size_t)j->C * 4);
        if (j->wpe) j->k->axpy(j->C, 1.0f, j->wpe->data + (j->pos0 + t) * j->wpe->ld, y);
        if (j->table) j->k->axpy(j->C, 1.0f, j->table + (j->pos0 + t) * j->C, y);
    }
}

// Scatter-add into the embedding rows. Threads split the columns, so two positions with the
// same token never race and the sum order is fixed.
static void embed_bwd_task(int ith, int nth, void *arg) {
    const embed_job *j = arg;
    int64_t c0, c1;
    cf__split(j->C, 16, ith, nth, &c0, &c1);
    if (c0 >= c1) return;
    for (int64_t r = 0; r < j->B * j->T; r++) {
        const float *d = j->dy + r * j->C + c0;
        if (j->wte->grad)
            j->k->axpy(c1 - c0, 1.0f, d, j->wte->grad + (int64_t)j->tokens[r] * j->wte->ld + c0);
        if (j->wpe && j->wpe->grad)
            j->k->axpy(c1 - c0, 1.0f, d, j->wpe->grad + (j->pos0 + r % j->T) * j->wpe->ld + c0);
    }
}

static void embed_bwd(cf_graph *g, const cf_node *n) {
    if (g->measure) return;
    embed_job j = {g->k, n->w[0], n->w[1], NULL, n->p, n->i[0], n->i[1], n->i[2], n->i[3],
                   NULL, n->out->grad};
    cf__run(g, 2.0 * (double)n->out->n, embed_bwd_task, &j);
}

cf_tensor *cf__embed(cf_graph *g, const cf_weight *wte, const cf_weight *wpe, const float *table,
                     const int32_t *tokens, int64_t B, int64_t T, int64_t pos0) {
    int64_t C = wte->cols;
    cf_tensor *y = cf__tensor3(g, B, T, C);
    int32_t *kept = cf__arena_alloc(&g->act, (size_t)(B * T) * sizeof(int32_t));
    if (!g->measure) {
        memcpy(kept, tokens, (size_t)(B * T) * sizeof(int32_t));
        embed_job j = {g->k, wte, wpe, table, tokens, B, T, C, pos0, y->data, NULL};
        cf__run(g, 2.0 * (double)y->n, embed_task, &j);
    }
    cf_node *n = cf__record(g, embed_bwd, y);
    if (n) {
        n->w[0] = wte;
        n->w[1] = wpe;
        n->p = kept;
        n->i[0] = B;
        n->i[1] = T;
        n->i[2] = C;
        n->i[3] = pos0;
    }
    return y;
}

// ---- rotary embeddings ----

typedef struct rope_job {
    const float *x;
    float *y;
    const float *cs;  // (n_ctx, D/2, 2) cos, sin
    int64_t rows, T, H, D, pos0;
    bool interleaved;
    float sign;       // +1 forward, -1 backward (rotation by -angle)
} rope_job;

static void rope_task(int ith, int nth, void *arg) {
    const rope_job *j = arg;
    int64_t r0, r1, half = j->D / 2;
    cf__split(j->rows, 1, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) {  // r = (b * T + t)
        int64_t pos = j->pos0 + r % j->T;
        const float *cs = j->cs + pos * half * 2;
        for (int64_t h = 0; h < j->H; h++) {
            const float *x = j->x + (r * j->H + h) * j->D;
            float *y = j->y + (r * j->H + h) * j->D;
            for (int64_t i = 0; i < half; i++) {
                float c = cs[2 * i], s = j->sign * cs[2 * i + 1];
                int64_t a = j->interleaved ? 2 * i : i, b = j->interleaved ? 2 * i + 1 : i + half;
                float x0 = x[a], x1 = x[b];
                y[a] = x0 * c - x1 * s;
                y[b] = x0 * s + x1 * c;
            }
            if (j->D % 2) y[j->D - 1] = x[j->D - 1];
        }
    }
}

static void rope_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *x = n->in[0], *y = n->out;
    float *dx = cf__grad(g, x);
    // The inverse rotation of dy, added into dx (via a scratch of y's size).
    float *tmp = cf__arena_alloc(&g->grads, (size_t)y->n * sizeof(float));
    if (g->measure) return;
    rope_job j = {y->grad, tmp, n->p, x->n / (n->i[0] * n->i[1]), x->shape[1], n->i[0],
                  n->i[1], n->i[2], n->i[3] != 0, -1.0f};
    cf__run(g, 6.0 * (double)x->n, rope_task, &j);
    g->k->axpy(x->n, 1.0f, tmp, dx);
}

cf_tensor *cf__rope(cf_graph *g, cf_tensor *x, int64_t H, int64_t D, const float *cos_sin,
                    bool interleaved) {
    CF_ASSERT(x->ndim == 3 && x->shape[2] == H * D);
    cf_tensor *y = cf__tensor(g, x->ndim, x->shape);
    if (!g->measure) {
        rope_job j = {x->data, y->data, cos_sin, x->shape[0] * x->shape[1], x->shape[1], H, D,
                      g->pos0, interleaved, 1.0f};
        cf__run(g, 6.0 * (double)x->n, rope_task, &j);
    }
    cf_node *n = cf__record(g, rope_bwd, y);
    if (n) {
        n->in[0] = x;
        n->p = cos_sin;
        n->i[0] = H;
        n->i[1] = D;
        n->i[2] = g->pos0;
        n->i[3] = interleaved;
    }
    return y;
}
