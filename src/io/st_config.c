// sentence-transformers folders: how the embedding of a sentence is made from the encoder's
// hidden states. A folder written by sentence-transformers holds
//   modules.json                 [{"idx", "name", "path", "type"}, ...] in order of application
//   <Transformer path>/          the encoder (config.json, model.safetensors, tokenizer files)
//                                and sentence_bert_config.json {"max_seq_length", "do_lower_case"}
//   <Pooling path>/config.json   {"word_embedding_dimension", "pooling_mode_cls_token",
//                                 "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
//                                 "pooling_mode_mean_sqrt_len_tokens", ...}
//   <Normalize path>/            no files: the L2 normalisation
// Only the Transformer -> Pooling [-> Normalize] chain is read; anything else (Dense, CNN,
// several pooling modes concatenated) is refused with its name rather than half applied.
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../internal.h"
#include "cformer/encoder.h"

// The last dotted component of a module type ("sentence_transformers.models.Pooling").
static const char *type_tail(const char *t) {
    const char *d = strrchr(t, '.');
    return d ? d + 1 : t;
}

// A module path must stay inside the folder: relative, no ".." component.
static bool path_inside(const char *p) {
    if (p[0] == '/') return false;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') return false;
        s += n + (e != NULL);
    }
    return true;
}

// Reads the JSON file dir/rel/name into *root (NULL, CF_OK when the file is missing and
// optional).
static cf_status read_json(cf_ctx *ctx, const char *dir, const char *rel, const char *name,
                           bool optional, cJSON **root, char *path, size_t path_cap) {
    *root = NULL;
    snprintf(path, path_cap, "%s%s%s/%s", dir, *rel ? "/" : "", rel, name);
    if (optional && !cf__file_exists(path)) return CF_OK;
    char *text = NULL;
    size_t len = 0;
    CF_TRY(cf__file_read(ctx, path, 1 << 20, &text, &len));
    *root = cJSON_ParseWithLength(text, len);
    cf__free(text);
    if (!*root) return CF_FORMAT_ERR(ctx, "%s: not valid JSON", path);
    return CF_OK;
}

// A JSON number that is a whole number in [1, max], into *out.
static bool whole_in(const cJSON *v, double max, int32_t *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1 && v->valuedouble <= max) ||
        v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (int32_t)v->valuedouble;
    return true;
}

static cf_status pooling_config(cf_ctx *ctx, const char *dir, const char *rel,
                                cf_embed_config *out) {
    char path[4096];
    cJSON *root;
    CF_TRY(read_json(ctx, dir, rel, "config.json", false, &root, path, sizeof path));
    static const struct {
        const char *key;
        int pool;  // -1: a mode cformer does not have
    } modes[] = {
        {"pooling_mode_cls_token", CF_POOL_CLS},
        {"pooling_mode_mean_tokens", CF_POOL_MEAN},
        {"pooling_mode_max_tokens", CF_POOL_MAX},
        {"pooling_mode_mean_sqrt_len_tokens", CF_POOL_MEAN_SQRT_LEN},
        {"pooling_mode_weightedmean_tokens", -1},
        {"pooling_mode_lasttoken", -1},
    };
    cf_status st = CF_OK;
    int n_on = 0;
    const char *first = NULL;
    if (!cJSON_IsObject(root)) st = CF_FORMAT_ERR(ctx, "%s: not a JSON object", path);
    for (size_t i = 0; st == CF_OK && i < sizeof modes / sizeof modes[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, modes[i].key);
        if (!v) continue;
        if (!cJSON_IsBool(v)) {
            st = CF_FORMAT_ERR(ctx, "%s: %s must be true or false", path, modes[i].key);
        } else if (cJSON_IsTrue(v)) {
            if (modes[i].pool < 0)
                st = CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: %s is not supported", path,
                            modes[i].key);
            else if (n_on++)
                st = CF_ERR(ctx, CF_ERR_UNSUPPORTED,
                            "%s: %s and %s at once (concatenated poolings) are not supported",
                            path, first, modes[i].key);
            first = modes[i].key;
            out->pooling = (cf_pooling)modes[i].pool;
        }
    }
    if (st == CF_OK && !n_on)
        st = CF_FORMAT_ERR(ctx, "%s: no pooling_mode_* is true", path);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "word_embedding_dimension");
    if (st == CF_OK && d && !whole_in(d, 1 << 20, &out->dim))
        st = CF_FORMAT_ERR(ctx, "%s: word_embedding_dimension must be a positive integer", path);
    cJSON_Delete(root);
    return st;
}

static cf_status transformer_config(cf_ctx *ctx, const char *dir, const char *rel,
                                    cf_embed_config *out) {
    char path[4096];
    cJSON *root;
    CF_TRY(read_json(ctx, dir, rel, "sentence_bert_config.json", true, &root, path, sizeof path));
    if (!root) return CF_OK;
    cf_status st = CF_OK;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "max_seq_length");
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(root, "do_lower_case");
    if (!cJSON_IsObject(root)) {
        st = CF_FORMAT_ERR(ctx, "%s: not a JSON object", path);
    } else if (n && !cJSON_IsNull(n) && !whole_in(n, 1 << 24, &out->max_seq_length)) {
        st = CF_FORMAT_ERR(ctx, "%s: max_seq_length must be a positive integer", path);
    }
    if (st == CF_OK && cJSON_IsTrue(lc))
        st = CF_ERR(ctx, CF_ERR_UNSUPPORTED,
                    "%s: do_lower_case true (lower-casing before the tokenizer) is not supported",
                    path);
    cJSON_Delete(root);
    return st;
}

cf_status cf_embed_config_load(cf_ctx *ctx, const char *dir, cf_embed_config *out) {
    memset(out, 0, sizeof *out);
    out->pooling = CF_POOL_MEAN;
    char path[4096];
    cJSON *root;
    CF_TRY(read_json(ctx, dir, "", "modules.json", true, &root, path, sizeof path));
    if (!root) return CF_OK;
    cf_status st = CF_OK;
    if (!cJSON_IsArray(root)) st = CF_FORMAT_ERR(ctx, "%s: not a JSON array", path);
    // The chain Transformer, Pooling, then at most a Normalize.
    static const char *order[] = {"Transformer", "Pooling", "Normalize"};
    int k = 0;
    const cJSON *mod;
    cJSON_ArrayForEach(mod, root) {
        if (st != CF_OK) break;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(mod, "type");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(mod, "path");
        if (!cJSON_IsString(t) || (p && !cJSON_IsString(p))) {
            st = CF_FORMAT_ERR(ctx, "%s: module %d has no string type / path", path, k);
            break;
        }
        const char *rel = p ? p->valuestring : "";
        const char *name = type_tail(t->valuestring);
        if (k >= 3 || strcmp(name, order[k])) {
            st = CF_ERR(ctx, CF_ERR_UNSUPPORTED,
                        "%s: module %d is %s; only Transformer, Pooling and an optional "
                        "Normalize, in that order, are supported", path, k, t->valuestring);
            break;
        }
        if (!path_inside(rel) || strlen(rel) >= sizeof out->module_path) {
            st = CF_FORMAT_ERR(ctx, "%s: module path '%s' leaves the folder", path, rel);
            break;
        }
        if (k == 0) {
            strcpy(out->module_path, rel);
            st = transformer_config(ctx, dir, rel, out);
        } else if (k == 1) {
            st = pooling_config(ctx, dir, rel, out);
        } else {
            out->normalize = 1;
        }
        k++;
    }
    if (st == CF_OK && k < 2)
        st = CF_ERR(ctx, CF_ERR_UNSUPPORTED, "%s: no %s module", path, order[k]);
    cJSON_Delete(root);
    if (st == CF_OK) out->found = 1;
    return st;
}
