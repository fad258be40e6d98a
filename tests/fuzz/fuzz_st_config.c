// Fuzzes the sentence-transformers set-up reader (cf_embed_config_load). The first byte picks
// the file that gets the rest of the input (0: modules.json, 1: the Pooling module's
// config.json, 2: sentence_bert_config.json); the other two are valid. An accepted set-up must
// name a pooling cformer has, a module path inside the folder and sane lengths; a refused one
// must say which file.
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cformer/encoder.h"
#include "fuzz_common.h"

static const char *MODULES =
    "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", "
    "\"type\": \"sentence_transformers.models.Transformer\"}, "
    "{\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", "
    "\"type\": \"sentence_transformers.models.Pooling\"}]";
static const char *POOLING = "{\"word_embedding_dimension\": 8, \"pooling_mode_mean_tokens\": true}";
static const char *SBERT = "{\"max_seq_length\": 16, \"do_lower_case\": false}";

static void put(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[64], files[3][128];
    if (!*dir) {
        strcpy(dir, "/tmp/cf_fuzz_st_XXXXXX");
        if (!mkdtemp(dir)) abort();
        char sub[96];
        snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
        if (mkdir(sub, 0700)) abort();
        snprintf(files[0], sizeof files[0], "%s/modules.json", dir);
        snprintf(files[1], sizeof files[1], "%s/1_Pooling/config.json", dir);
        snprintf(files[2], sizeof files[2], "%s/sentence_bert_config.json", dir);
    }
    if (size < 1) return 0;
    const char *good[3] = {MODULES, POOLING, SBERT};
    int which = data[0] % 3;
    for (int i = 0; i < 3; i++) {
        if (i == which) put(files[i], data + 1, size - 1);
        else put(files[i], good[i], strlen(good[i]));
    }
    cf_ctx *ctx = fuzz_ctx();
    cf_embed_config ec;
    cf_status s = cf_embed_config_load(ctx, dir, &ec);
    if (s != CF_OK) {
        FUZZ_CHECK(s == CF_ERR_FORMAT || s == CF_ERR_UNSUPPORTED || s == CF_ERR_IO ||
                   s == CF_ERR_NOMEM);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), dir) != NULL);
        return 0;
    }
    FUZZ_CHECK(ec.found == 1);
    FUZZ_CHECK(ec.pooling >= CF_POOL_CLS && ec.pooling <= CF_POOL_MEAN_SQRT_LEN);
    FUZZ_CHECK(ec.max_seq_length >= 0 && ec.dim >= 0);
    FUZZ_CHECK(memchr(ec.module_path, 0, sizeof ec.module_path) != NULL);
    FUZZ_CHECK(ec.module_path[0] != '/' && strncmp(ec.module_path, "../", 3) &&
               strcmp(ec.module_path, "..") && !strstr(ec.module_path, "/../"));
    return 0;
}
