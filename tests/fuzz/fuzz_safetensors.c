// Fuzzes the safetensors parser (cf__st_parse) on arbitrary bytes. On success every tensor must
// lie inside the buffer, the tensors must tile the data section, names must be found again, and
// float tensors must convert to F32; the header may hold only padding after its JSON object.
#include <cJSON.h>  // defines: cJSON_ParseWithLengthOpts
#include <string.h>

#include "../../src/io/io.h"  // defines: cf__st_parse, cf__st_to_f32
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    cf_safetensors st;
    cf_status s = cf__st_parse(ctx, "fuzz.safetensors", data, size, &st);
    if (s != CF_OK) {
        FUZZ_CHECK(s == CF_ERR_FORMAT || s == CF_ERR_NOMEM);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), "fuzz.safetensors") != NULL);
        return 0;
    }
    // The header is one JSON object, then nothing but (space) padding.
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)data[i] << (8 * i);
    const char *hdr = (const char *)data + 8, *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    FUZZ_CHECK(j != NULL && end != NULL);
    cJSON_Delete(j);
    for (const char *p = end; p < hdr + hlen; p++)
        FUZZ_CHECK(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r');
    size_t total = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const cf_st_tensor *t = &st.tensors[i];
        FUZZ_CHECK(t->data >= data && t->data + t->nbytes <= data + size);
        FUZZ_CHECK(t->nbytes == (size_t)t->numel * cf__dtype_size(t->dtype));
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= CF_ST_MAX_DIMS);
        int64_t n = 1;
        for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
        FUZZ_CHECK(n == t->numel);
        const cf_st_tensor *f = cf__st_find(&st, t->name);
        FUZZ_CHECK(f != NULL && !strcmp(f->name, t->name));
        total += t->nbytes;
        if (t->dtype == CF_DT_F32 || t->dtype == CF_DT_F16 || t->dtype == CF_DT_BF16 ||
            t->dtype == CF_DT_F64) {
            float *dst = malloc((size_t)t->numel * sizeof(float) + 1);
            FUZZ_CHECK(dst != NULL);
            FUZZ_CHECK(cf__st_to_f32(ctx, &st, t, dst) == CF_OK);
            free(dst);
        }
    }
    if (st.n_tensors > 0) FUZZ_CHECK(total <= size);
    for (int i = 0; i < st.n_meta; i++) FUZZ_CHECK(cf__st_meta(&st, st.meta_keys[i]) != NULL);
    cf__st_close(&st);
    return 0;
}
