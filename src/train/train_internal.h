// Trainer internals shared by the task steps (encoder_train.c) and the LM steps (trainer.c).
#ifndef CF_TRAIN_INTERNAL_H
#define CF_TRAIN_INTERNAL_H

#include "../models/model_internal.h"

// Zeroes the gradient slab (threaded, fixed chunks).
void cf__trainer_zero_grads(cf_trainer *t);
// After the gradients of one step are in place: global norm, clipping, AdamW (with the
// per-parameter lr scale), step count, and the stats (loss: the step's mean loss; tokens: the
// tokens it processed; t0: cf__now() at the start of the step).
void cf__trainer_update(cf_trainer *t, double loss, int64_t tokens, double t0,
                        cf_step_stats *st);
cf_model *cf__trainer_model(cf_trainer *t);
// Sets g's dropout rate (the params') and the seed of its masks for micro-batch `micro` of the
// current step: a function of the run's seed, the step and micro, so --resume draws the same.
void cf__trainer_dropout(cf_trainer *t, cf_graph *g, int64_t micro);
float *cf__trainer_grads(cf_trainer *t);  // the gradient slab, laid out as the weights
// The graph the task steps run on (planned per batch shape; arenas only grow).
cf_graph *cf__trainer_task_graph(cf_trainer *t);
// The per-parameter learning-rate multipliers (n_params floats; NULL: all 1), owned by the
// trainer (allocated with cf__malloc, freed with it).
float **cf__trainer_lr_scale(cf_trainer *t);

#endif
