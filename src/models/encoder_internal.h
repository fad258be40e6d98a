// Encoder pieces shared with train/: batch validation and the task losses built on the graph.
#ifndef CF_ENCODER_INTERNAL_H
#define CF_ENCODER_INTERNAL_H

#include "cformer/encoder.h"
#include "model_internal.h"

// Checks a batch against the model: shape, ids, types, and (with task >= 0) the task's labels
// and that the model has the head. Messages name the field and the first bad index.
cf_status cf__encoder_check(cf_model *m, const cf_encoder_batch *b, int task);

// Forward + loss of task on the graph (the tape is recorded when g->train). Sets g->key_mask
// to b->mask. class_w: (n_labels) or NULL. Returns the 1-element loss.
cf_tensor *cf__encoder_task_loss(cf_graph *g, cf_model *m, cf_task task,
                                 const cf_encoder_batch *b, const float *class_w);

#endif
