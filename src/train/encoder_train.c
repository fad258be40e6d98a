// Fine-tuning steps for the encoder tasks (masked-LM, sequence and token classification,
// extractive QA) on trainer.c's optimizer: the same gradient slab, global-norm clipping, AdamW,
// warmup + cosine schedule and checkpoints, with the recipe's options: per-parameter
// learning-rate scales, frozen embeddings or first layers, layer-wise learning-rate decay, and
// class weights.
//
// Not here: data loading, early stopping and metrics (the caller evaluates with
// cf_encoder_loss / the heads and saves with cf_trainer_save or cf_model_save when it wants).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../models/encoder_internal.h"
#include "train_internal.h"

static cf_status ensure_scales(cf_trainer *t) {
    float **s = cf__trainer_lr_scale(t);
    if (*s) return CF_OK;
    cf_model *m = cf__trainer_model(t);
    *s = cf__malloc((size_t)m->n_params * sizeof(float));
    if (!*s) return CF_NOMEM(m->ctx);
    for (int i = 0; i < m->n_params; i++) (*s)[i] = 1.0f;
    return CF_OK;
}

// A frozen parameter gets no gradient (its grad view is dropped, so backward skips the work)
// and no update; the others get theirs back.
static void sync_grads(cf_trainer *t) {
    cf_model *m = cf__trainer_model(t);
    float *scale = *cf__trainer_lr_scale(t);
    float *first = cf__trainer_grads(t);
    for (int i = 0; i < m->n_params; i++) {
        cf_weight *w = m->params[i].w;
        w->grad = scale && scale[i] == 0.0f ? NULL : first + cf__weight_offset(m, w);
    }
    if (m->cfg.tie_embeddings) m->lm_head = m->wte;
}

cf_status cf_trainer_set_lr_scale(cf_trainer *t, const char *prefix, float scale) {
    cf_model *m = cf__trainer_model(t);
    if (!prefix || !(scale >= 0.0f) || !isfinite(scale))
        return CF_ERR(m->ctx, CF_ERR_INVALID_ARG, "lr scale %g for '%s'", scale,
                      prefix ? prefix : "(null)");
    CF_TRY(ensure_scales(t));
    float *s = *cf__trainer_lr_scale(t);
    int hit = 0;
    for (int i = 0; i < m->n_params; i++)
        if (!strncmp(m->params[i].name, prefix, strlen(prefix))) {
            s[i] = scale;
            hit++;
        }
    if (!hit)
        return CF_ERR(m->ctx, CF_ERR_INVALID_ARG, "no parameter name starts with '%s'", prefix);
    sync_grads(t);
    return CF_OK;
}

// Depth of a parameter: 0 for the embeddings, l + 1 for block l, L + 1 for the rest (heads,
// final norm).
static int depth_of(const cf_model *m, const char *name) {
    int l;
    if (sscanf(name, "layers.%d.", &l) == 1) return l + 1;
    if (!strncmp(name, "tok_", 4) || !strncmp(name, "pos_", 4) || !strncmp(name, "norm_e.", 7))
        return 0;
    return m->cfg.n_layers + 1;
}

cf_status cf_trainer_freeze(cf_trainer *t, int embeddings, int32_t n_layers) {
    cf_model *m = cf__trainer_model(t);
    if (n_layers < 0 || n_layers > m->cfg.n_layers)
        return CF_ERR(m->ctx, CF_ERR_INVALID_ARG, "freeze %d layers of %d", n_layers,
                      m->cfg.n_layers);
    CF_TRY(ensure_scales(t));
    float *s = *cf__trainer_lr_scale(t);
    for (int i = 0; i < m->n_params; i++) {
        int d = depth_of(m, m->params[i].name);
        if ((d == 0 && embeddings) || (d >= 1 && d <= n_layers)) s[i] = 0.0f;
    }
    sync_grads(t);
    return CF_OK;
}

cf_status cf_trainer_layer_decay(cf_trainer *t, float decay) {
    cf_model *m = cf__trainer_model(t);
    if (!(decay > 0.0f && decay <= 1.0f))
        return CF_ERR(m->ctx, CF_ERR_INVALID_ARG, "layer decay %g (must be in (0, 1])", decay);
    CF_TRY(ensure_scales(t));
    float *s = *cf__trainer_lr_scale(t);
    int top = m->cfg.n_layers + 1;
    for (int i = 0; i < m->n_params; i++)
        if (s[i] != 0.0f)  // frozen stays frozen
            s[i] = powf(decay, (float)(top - depth_of(m, m->params[i].name)));
    return CF_OK;
}

float cf_trainer_lr_scale_of(cf_trainer *t, const char *name) {
    cf_model *m = cf__trainer_model(t);
    float *s = *cf__trainer_lr_scale(t);
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return s ? s[i] : 1.0f;
    return -1.0f;
}

cf_status cf_trainer_step_task(cf_trainer *t, cf_task task, const cf_encoder_batch *batches,
                               int32_t n_micro, const float *class_weights, cf_step_stats *st) {
    cf_model *m = cf__trainer_model(t);
    cf_ctx *ctx = m->ctx;
    if (n_micro < 1 || !batches)
        return CF_ERR(ctx, CF_ERR_INVALID_ARG, "%d micro-batches", n_micro);
    for (int32_t a = 0; a < n_micro; a++) CF_TRY(cf__encoder_check(m, &batches[a], (int)task));
    if (class_weights) {
        if (task != CF_TASK_SEQ_CLS && task != CF_TASK_TOKEN_CLS)
            return CF_ERR(ctx, CF_ERR_INVALID_ARG, "class weights are for classification tasks");
        for (int32_t k = 0; k < m->cfg.n_labels; k++)
            if (!(class_weights[k] >= 0.0f) || !isfinite(class_weights[k]))
                return CF_ERR(ctx, CF_ERR_INVALID_ARG, "class weight %d = %g", k,
                              class_weights[k]);
    }
    double t0 = cf__now();
    cf__trainer_zero_grads(t);
    cf_graph *g = cf__trainer_task_graph(t);
    double loss_sum = 0;
    int64_t tokens = 0;
    float seed = 1.0f / (float)n_micro;
    for (int32_t a = 0; a < n_micro; a++) {
        const cf_encoder_batch *b = &batches[a];
        cf__trainer_dropout(t, g, a);
        // Batches are padded to their own length: plan this shape (arenas only ever grow).
        cf__graph_begin(g, true, true);
        cf__graph_backward(g, cf__encoder_task_loss(g, m, task, b, class_weights), seed);
        CF_TRY(cf__graph_plan(g));
        cf__graph_begin(g, true, false);
        cf_tensor *l = cf__encoder_task_loss(g, m, task, b, class_weights);
        cf__graph_backward(g, l, seed);
        if (g->oom) return CF_NOMEM(ctx);
        loss_sum += l->data[0];
        for (int64_t i = 0; i < (int64_t)b->B * b->T; i++) tokens += !b->mask || b->mask[i];
    }
    cf__trainer_update(t, loss_sum / n_micro, tokens, t0, st);
    return CF_OK;
}
