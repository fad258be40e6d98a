// Fuzzes the llama2.c checkpoint check (cf__llama2c_check). An image that passes is written to
// a temporary file and loaded with the real loader, and small ones run one forward pass of two
// tokens: a checked header must never lead to out-of-bounds weight views.
#include <string.h>
#include <unistd.h>

#include "../../src/io/load.h"  // defines: cf__llama2c_check, cf__load_llama2c
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    cf_config cfg;
    cf_status s = cf__llama2c_check(ctx, "fuzz.bin", data, size, &cfg);
    if (s != CF_OK) {
        FUZZ_CHECK(s == CF_ERR_FORMAT || s == CF_ERR_UNSUPPORTED);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), "fuzz.bin") != NULL);
        return 0;
    }
    FUZZ_CHECK(size >= 28 && (size - 28) % 4 == 0);
    char path[64];
    snprintf(path, sizeof path, "/tmp/cf_fuzz_llama2c_%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = fwrite(data, 1, size, f);
    fclose(f);
    if (w != size) {
        unlink(path);
        return 0;
    }
    cf_model *m = NULL;
    s = cf__load_llama2c(ctx, path, &m);
    unlink(path);
    FUZZ_CHECK(s == CF_OK || s == CF_ERR_NOMEM);
    if (s != CF_OK) return 0;
    const cf_config *c = cf_model_config(m);
    FUZZ_CHECK(c->n_embd == cfg.n_embd && c->vocab_size == cfg.vocab_size);
    if (size <= (1u << 16)) {
        int32_t toks[2] = {0, c->vocab_size - 1};
        int T = c->n_ctx >= 2 ? 2 : 1;
        float *logits = malloc(sizeof(float) * (size_t)(T * c->vocab_size));
        FUZZ_CHECK(logits != NULL);
        s = cf_model_forward(m, toks, 1, T, logits);
        FUZZ_CHECK(s == CF_OK || s == CF_ERR_NOMEM);
        free(logits);
    }
    cf_model_free(m);
    return 0;
}
