// cf_model_load: recognises the format of a path and hands it to its loader.
//   a folder, or a config.json            Hugging Face folder (config.json + model.safetensors)
//   a .safetensors with cformer metadata   cformer training checkpoint
//   a .safetensors beside a config.json    Hugging Face folder
//   anything else                          llama2.c legacy checkpoint (header checked strictly)
// Also the cformer training checkpoint's model part.
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "../models/model_internal.h"
#include "load.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static char *dirname_of(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    char *d = cf__malloc(n + 2);
    if (!d) return NULL;
    if (n == 0) strcpy(d, slash ? "/" : ".");
    else {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

cf_status cf__load_cformer_ckpt(cf_ctx *ctx, const char *path, cf_model **out) {
    *out = NULL;
    cf_safetensors st;
    CF_TRY(cf__st_open(ctx, path, &st));
    cf_status s = CF_OK;
    cf_model *m = NULL;
    cJSON *cj = NULL;
    const char *fmt = cf__st_meta(&st, "format");
    const char *cfg_text = cf__st_meta(&st, "config");
    if (!fmt || strcmp(fmt, "cformer-checkpoint") || !cfg_text) {
        s = CF_FORMAT_ERR(ctx, "%s: not a cformer checkpoint (metadata 'format'/'config' missing)",
                          path);
        goto done;
    }
    cj = cJSON_Parse(cfg_text);
    if (!cj || !cJSON_IsObject(cj)) {
        s = CF_FORMAT_ERR(ctx, "%s: metadata 'config' is not a JSON object", path);
        goto done;
    }
    cf_config cfg = cf_config_gpt2();
    if ((s = cf__config_from_json(ctx, path, cj, &cfg)) != CF_OK) goto done;
    if ((s = cf_config_finish(ctx, &cfg)) != CF_OK) goto done;
    if ((s = cf__model_alloc(ctx, &cfg, &m)) != CF_OK) goto done;
    m->source = "cformer";
    const char *tok = cf__st_meta(&st, "tokenizer");
    if (tok) cf_model_set_tokenizer_hint(m, tok);
    if ((s = cf__load_weights_st(m, &st, CF_FAMILY_GENERIC)) != CF_OK) goto done;
    s = cf__model_finish(m);
done:
    if (s != CF_OK) {
        cf_model_free(m);
        m = NULL;
    }
    cJSON_Delete(cj);
    cf__st_close(&st);
    *out = m;
    return s;
}

// True when the file starts like a safetensors file (plausible header size, then '{').
static bool looks_like_safetensors(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    uint8_t b[9];
    size_t n = fread(b, 1, 9, f);
    fclose(f);
    if (n < 9) return false;
    uint64_t len = 0;
    for (int i = 0; i < 8; i++) len |= (uint64_t)b[i] << (8 * i);
    return len > 1 && len < (100u << 20) && b[8] == '{';
}

cf_status cf_model_load(cf_ctx *ctx, const char *path, cf_model **out) {
    *out = NULL;
    if (!path || !*path) return CF_ERR(ctx, CF_ERR_INVALID_ARG, "no model path given");
    if (cf__is_dir(path)) return cf__load_hf(ctx, path, out);
    if (!cf__file_exists(path))
        return CF_ERR(ctx, CF_ERR_IO, "%s: no such file or folder", path);
    cf_status s;
    if (ends_with(path, "config.json") || looks_like_safetensors(path)) {
        if (!ends_with(path, "config.json")) {
            cf_safetensors st;
            s = cf__st_open(ctx, path, &st);
            if (s != CF_OK) return s;
            const char *fmt = cf__st_meta(&st, "format");
            bool own = fmt && !strcmp(fmt, "cformer-checkpoint");
            cf__st_close(&st);
            if (own) return cf__load_cformer_ckpt(ctx, path, out);
        }
        char *dir = dirname_of(path);
        if (!dir) return CF_NOMEM(ctx);
        s = cf__load_hf(ctx, dir, out);
        cf__free(dir);
        return s;
    }
    return cf__load_llama2c(ctx, path, out);
}
