// The model's packed-weight cache (nn/prepack.c): made on the first inference pass that can
// use it, dropped whenever the weights change, freed with the model (cf_model_free).
//
// Every change of the weights calls cf__model_weights_changed: the trainer's update
// (cf__trainer_update) and resume, cf_model_copy_weights, cf_model_average and
// cf__model_make_writable (the weights move). A loader fills a fresh model, which has no cache
// yet. Training passes (g->train) never use the cache.
#include "model_internal.h"

void cf__model_use_prepack(cf_graph *g, cf_model *m) {
    if (g->train || !m->ctx->prepack_budget) {
        g->prepack = NULL;
        return;
    }
    if (!m->prepack) m->prepack = cf__prepack_create(m->ctx->prepack_budget);
    if (!m->prepack) g->oom = true;  // reported as CF_ERR_NOMEM by the entry point
    g->prepack = m->prepack;
}

void cf__model_weights_changed(cf_model *m) {
    m->weights_version++;
    cf__prepack_invalidate(m->prepack);
}
