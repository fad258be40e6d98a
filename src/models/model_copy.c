// Copying weights between models by parameter name: how a fine-tuning run starts from a
// pretrained encoder whose checkpoint has other heads (or none) than the task needs.
#include <string.h>

#include "model_internal.h"

static float at(const cf_weight *w, int64_t r, int64_t c) {
    return w->trans ? w->data[c * w->ld + r] : w->data[r * w->ld + c];
}

cf_status cf_model_copy_weights(cf_model *dst, const cf_model *src, int *n_copied,
                                int *n_missing) {
    CF_TRY(cf__model_make_writable(dst));
    cf__model_weights_changed(dst);  // before any copy: an error below leaves weights half copied
    int copied = 0, missing = 0;
    for (int i = 0; i < dst->n_params; i++) {
        cf_param *d = &dst->params[i];
        const cf_param *s = NULL;
        for (int j = 0; j < src->n_params && !s; j++)
            if (!strcmp(src->params[j].name, d->name)) s = &src->params[j];
        if (!s || !s->w->data) {
            missing++;
            continue;
        }
        const cf_weight *a = s->w, *b = d->w;
        if (a->rows != b->rows || a->cols != b->cols)
            return CF_ERR(dst->ctx, CF_ERR_FORMAT,
                          "copying weights: %s is (%lld, %lld) in the source and (%lld, %lld) here",
                          d->name, (long long)a->rows, (long long)a->cols, (long long)b->rows,
                          (long long)b->cols);
        for (int64_t r = 0; r < b->rows; r++)
            for (int64_t c = 0; c < b->cols; c++) {
                float v = at(a, r, c);
                if (b->trans) b->data[c * b->ld + r] = v;
                else b->data[r * b->ld + c] = v;
            }
        copied++;
    }
    if (dst->cfg.tie_embeddings) dst->lm_head = dst->wte;
    if (n_copied) *n_copied = copied;
    if (n_missing) *n_missing = missing;
    if (src->tok_hint[0] && !dst->tok_hint[0]) cf_model_set_tokenizer_hint(dst, src->tok_hint);
    return CF_OK;
}
