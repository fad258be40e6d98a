// Cross-entropy of logits against integer targets, mean over the targets that are not ignored
// (< 0), optionally label-smoothed. Saves each row's log-sum-exp; backward adds
// (softmax - target distribution) / n_valid into the logits' gradient, recomputing the softmax
// from the logits instead of storing it.
//
// Label smoothing follows torch.nn.CrossEntropyLoss(label_smoothing = eps), which Hugging Face's
// LabelSmoother also computes: the target distribution is (1 - eps) on the label plus eps / V on
// every class, so per row
//   loss = lse - (1 - eps) x[t] - (eps / V) sum_j x[j].
// fairseq's label_smoothed_nll_loss spreads eps / (V - 1) over the other classes instead; the two
// differ by O(eps / V). eps = 0 is the plain cross-entropy, computed as lse - x[t].
#include <math.h>

#include "nn.h"

typedef struct ce_job {
    const cf_kernels *k;
    const float *logits;
    const int32_t *targets;
    int64_t N, V;
    float eps;
    float *lse, *row_loss, *scratch;  // scratch: per thread V floats
    float *dlogits;
    float scale;  // d(loss) / n_valid
} ce_job;

static void ce_fwd_task(int ith, int nth, void *arg) {
    const ce_job *j = arg;
    int64_t r0, r1;
    cf__split(j->N, 1, ith, nth, &r0, &r1);
    float *tmp = j->scratch + (size_t)ith * j->V;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->logits + r * j->V;
        float m = j->k->max(j->V, x);
        float s = j->k->exp_sum(j->V, x, m, tmp);
        j->lse[r] = m + logf(s);
        int32_t t = j->targets[r];
        if (t < 0) {
            j->row_loss[r] = 0.0f;
        } else if (j->eps == 0.0f) {
            j->row_loss[r] = j->lse[r] - x[t];
        } else {
            double sum = 0, eps = j->eps;
            for (int64_t c = 0; c < j->V; c++) sum += x[c];
            j->row_loss[r] =
                (float)((double)j->lse[r] - (1.0 - eps) * x[t] - eps * sum / (double)j->V);
        }
    }
}

static void ce_bwd_task(int ith, int nth, void *arg) {
    const ce_job *j = arg;
    int64_t r0, r1;
    cf__split(j->N, 1, ith, nth, &r0, &r1);
    float *tmp = j->scratch + (size_t)ith * j->V;
    float uniform = j->scale * j->eps / (float)j->V;
    for (int64_t r = r0; r < r1; r++) {
        int32_t t = j->targets[r];
        if (t < 0) continue;
        const float *x = j->logits + r * j->V;
        float *d = j->dlogits + r * j->V;
        j->k->exp_sum(j->V, x, j->lse[r], tmp);
        j->k->axpy(j->V, j->scale, tmp, d);
        if (j->eps != 0.0f)
            for (int64_t c = 0; c < j->V; c++) d[c] -= uniform;
        d[t] -= j->scale * (1.0f - j->eps);
    }
}

static void ce_bwd(cf_graph *g, const cf_node *n) {
    cf_tensor *logits = n->in[0];
    float *dl = cf__grad(g, logits);
    int64_t V = logits->shape[logits->ndim - 1], N = logits->n / V;
    float *scratch = cf__arena_alloc(&g->grads, (size_t)g->ctx->n_threads * (size_t)V * 4);
    if (g->measure) return;
    int64_t valid = n->i[0];
    if (valid == 0) return;
    ce_job j = {g->k, logits->data, n->p, N, V, n->f[0], n->saved, NULL, scratch, dl,
                n->out->grad[0] / (float)valid};
    cf__run(g, 12.0 * (double)logits->n, ce_bwd_task, &j);
}

cf_tensor *cf__cross_entropy_smooth(cf_graph *g, cf_tensor *logits, const int32_t *targets,
                                    float eps) {
    int64_t V = logits->shape[logits->ndim - 1], N = logits->n / V;
    int64_t one = 1;
    cf_tensor *loss = cf__tensor(g, 1, &one);
    float *lse = cf__act_alloc(g, N);
    float *row_loss = cf__act_alloc(g, N);
    float *scratch = cf__act_alloc(g, (int64_t)g->ctx->n_threads * V);
    int32_t *kept = cf__arena_alloc(&g->act, (size_t)N * sizeof(int32_t));
    int64_t valid = 0;
    if (!g->measure) {
        for (int64_t r = 0; r < N; r++) {
            kept[r] = targets[r];
            valid += targets[r] >= 0;
        }
        ce_job j = {g->k, logits->data, kept, N, V, eps, lse, row_loss, scratch, NULL, 0};
        cf__run(g, 12.0 * (double)logits->n, ce_fwd_task, &j);
        double sum = 0;  // fixed order, in double: the same result for any thread count
        for (int64_t r = 0; r < N; r++) sum += row_loss[r];
        loss->data[0] = valid ? (float)(sum / (double)valid) : 0.0f;
    }
    cf_node *n = cf__record(g, ce_bwd, loss);
    if (n) {
        n->in[0] = logits;
        n->saved = lse;
        n->p = kept;
        n->i[0] = valid;
        n->f[0] = eps;
    }
    return loss;
}

cf_tensor *cf__cross_entropy(cf_graph *g, cf_tensor *logits, const int32_t *targets) {
    return cf__cross_entropy_smooth(g, logits, targets, 0.0f);
}
