// safetensors: the Hugging Face tensor container, read (memory-mapped, validated) and written.
//
//   offset  size  meaning
//   0       8     N, the header length, unsigned little-endian
//   8       N     JSON object: name -> {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
//                 plus optional "__metadata__": {string: string}; may be padded with spaces
//   8 + N   ...   data section; a tensor's bytes are [b, e) relative to its start, the
//                 tensors tile the section with no holes or overlaps
//
// The reader trusts nothing: every count is checked before it is used.
#include <cJSON.h>  // defines: cJSON_ParseWithLength, cJSON_Print*
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

static const struct {
    const char *name;
    size_t size;
} DTYPES[CF_DT_COUNT] = {
    [CF_DT_F32] = {"F32", 4},   [CF_DT_F16] = {"F16", 2},     [CF_DT_BF16] = {"BF16", 2},
    [CF_DT_F64] = {"F64", 8},   [CF_DT_I64] = {"I64", 8},     [CF_DT_I32] = {"I32", 4},
    [CF_DT_I16] = {"I16", 2},   [CF_DT_I8] = {"I8", 1},       [CF_DT_U8] = {"U8", 1},
    [CF_DT_BOOL] = {"BOOL", 1}, [CF_DT_U16] = {"U16", 2},     [CF_DT_U32] = {"U32", 4},
    [CF_DT_U64] = {"U64", 8},   [CF_DT_F8_E4M3] = {"F8_E4M3", 1},
    [CF_DT_F8_E5M2] = {"F8_E5M2", 1},
};

size_t cf__dtype_size(cf_dtype t) { return (unsigned)t < CF_DT_COUNT ? DTYPES[t].size : 0; }
const char *cf__dtype_name(cf_dtype t) { return (unsigned)t < CF_DT_COUNT ? DTYPES[t].name : "?"; }

enum { MAX_HEADER = 100 * 1024 * 1024, MAX_TENSORS = 1 << 20 };

// An exact non-negative integer no larger than 2^53 (JSON numbers are doubles in cJSON).
static bool json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

static int cmp_offset(const void *a, const void *b) {
    const cf_st_tensor *x = *(const cf_st_tensor *const *)a, *y = *(const cf_st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const cf_st_tensor *const *)a)->name, (*(const cf_st_tensor *const *)b)->name);
}

#define FAIL(...)                                    \
    do {                                             \
        st_ = CF_FORMAT_ERR(ctx, __VA_ARGS__);       \
        goto fail;                                   \
    } while (0)

cf_status cf__st_parse(cf_ctx *ctx, const char *path, const uint8_t *buf, size_t size,
                       cf_safetensors *st) {
    cf_status st_ = CF_OK;
    cJSON *root = NULL;
    cf_st_tensor **order = NULL;
    memset(st, 0, sizeof *st);
    st->path = path;
    cf_reader r = {buf, size, 0};
    uint64_t hlen;
    if (!cf__read_u64(&r, &hlen))
        return CF_FORMAT_ERR(ctx, "%s: truncated: %zu bytes, no 8-byte safetensors header size",
                             path, size);
    if (hlen > MAX_HEADER || hlen > size - 8)
        return CF_FORMAT_ERR(ctx, "%s: header size %llu exceeds the file (%zu bytes) or limit",
                             path, (unsigned long long)hlen, size);
    if (hlen < 2) return CF_FORMAT_ERR(ctx, "%s: header of %llu bytes", path, (unsigned long long)hlen);
    const char *hdr = (const char *)buf + 8;
    if (hdr[0] != '{') return CF_FORMAT_ERR(ctx, "%s: header does not start with '{'", path);
    const char *json_end = NULL;
    root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &json_end, 0);
    if (!root || !cJSON_IsObject(root))
        FAIL("%s: header is not valid JSON (near byte %td)", path,
             cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - hdr + 8 : (ptrdiff_t)8);
    // After the JSON object only padding (whitespace) may follow inside the header.
    for (const char *c = json_end; c && c < hdr + hlen; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
            FAIL("%s: bytes after the JSON header at byte %td", path, c - hdr + 8);
    const uint8_t *data = buf + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;
    int n = 0, nmeta = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!e->string) FAIL("%s: header entry without a name", path);
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e)) FAIL("%s: __metadata__ is not an object", path);
            for (cJSON *kv = e->child; kv; kv = kv->next) nmeta++;
        } else {
            n++;
        }
    }
    if (n > MAX_TENSORS) FAIL("%s: %d tensors is beyond the limit", path, n);
    st->tensors = cf__calloc((size_t)n + 1, sizeof(cf_st_tensor));
    st->meta_keys = cf__calloc((size_t)nmeta + 1, sizeof(char *));
    st->meta_vals = cf__calloc((size_t)nmeta + 1, sizeof(char *));
    order = cf__calloc((size_t)n + 1, sizeof(*order));
    if (!st->tensors || !st->meta_keys || !st->meta_vals || !order) {
        st_ = CF_NOMEM(ctx);
        goto fail;
    }
    for (cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            for (cJSON *kv = e->child; kv; kv = kv->next) {
                if (!cJSON_IsString(kv) || !kv->string)
                    FAIL("%s: __metadata__ value of '%s' is not a string", path,
                         kv->string ? kv->string : "?");
                st->meta_keys[st->n_meta] = cf__strdup(kv->string);
                st->meta_vals[st->n_meta] = cf__strdup(kv->valuestring);
                st->n_meta++;
                if (!st->meta_keys[st->n_meta - 1] || !st->meta_vals[st->n_meta - 1]) {
                    st_ = CF_NOMEM(ctx);
                    goto fail;
                }
            }
            continue;
        }
        cf_st_tensor *t = &st->tensors[st->n_tensors];
        const char *name = e->string;
        if (strlen(name) == 0 || strlen(name) > 1024) FAIL("%s: tensor name of bad length", path);
        if (!cJSON_IsObject(e)) FAIL("%s: tensor '%s': entry is not an object", path, name);
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dt)) FAIL("%s: tensor '%s': missing dtype", path, name);
        int dtype = -1;
        for (int i = 0; i < CF_DT_COUNT; i++)
            if (DTYPES[i].name && !strcmp(dt->valuestring, DTYPES[i].name)) dtype = i;
        if (dtype < 0) FAIL("%s: tensor '%s': unknown dtype '%.32s'", path, name, dt->valuestring);
        if (!cJSON_IsArray(sh)) FAIL("%s: tensor '%s': missing shape", path, name);
        int nd = cJSON_GetArraySize(sh);
        if (nd > CF_ST_MAX_DIMS) FAIL("%s: tensor '%s': %d dimensions", path, name, nd);
        size_t numel = 1;
        int d = 0;
        for (const cJSON *x = sh->child; x; x = x->next, d++) {
            uint64_t v;
            if (!json_uint(x, &v)) FAIL("%s: tensor '%s': bad dimension %d", path, name, d);
            if (!cf__mul_ok(numel, (size_t)v, &numel))
                FAIL("%s: tensor '%s': shape overflows", path, name);
            t->shape[d] = (int64_t)v;
        }
        uint64_t b, en;
        if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &b) ||
            !json_uint(off->child->next, &en))
            FAIL("%s: tensor '%s': bad data_offsets", path, name);
        size_t nbytes;
        if (!cf__mul_ok(numel, DTYPES[dtype].size, &nbytes))
            FAIL("%s: tensor '%s': byte size overflows", path, name);
        if (b > en || en > data_size)
            FAIL("%s: tensor '%s': data_offsets [%llu, %llu) outside the %zu-byte data section",
                 path, name, (unsigned long long)b, (unsigned long long)en, data_size);
        if (en - b != nbytes)
            FAIL("%s: tensor '%s': %llu bytes stored but shape and dtype %s need %zu", path, name,
                 (unsigned long long)(en - b), DTYPES[dtype].name, nbytes);
        t->name = cf__strdup(name);
        if (!t->name) {
            st_ = CF_NOMEM(ctx);
            goto fail;
        }
        t->dtype = (cf_dtype)dtype;
        t->ndim = nd;
        t->numel = (int64_t)numel;
        t->offset = (size_t)b;
        t->nbytes = nbytes;
        t->data = data + b;
        order[st->n_tensors] = t;
        st->n_tensors++;
    }
    // No duplicates, no overlaps, no holes (the reference loader rejects those too).
    qsort(order, (size_t)st->n_tensors, sizeof *order, cmp_name);
    for (int i = 1; i < st->n_tensors; i++)
        if (!strcmp(order[i]->name, order[i - 1]->name))
            FAIL("%s: tensor '%s' appears twice", path, order[i]->name);
    qsort(order, (size_t)st->n_tensors, sizeof *order, cmp_offset);
    size_t expect = 0;
    for (int i = 0; i < st->n_tensors; i++) {
        if (order[i]->offset != expect)
            FAIL("%s: tensor '%s' starts at %zu, expected %zu (overlap or hole)", path,
                 order[i]->name, order[i]->offset, expect);
        expect = order[i]->offset + order[i]->nbytes;
    }
    if (expect != data_size)
        FAIL("%s: %zu bytes of data after the last tensor", path, data_size - expect);
    cJSON_Delete(root);
    cf__free(order);
    return CF_OK;
fail:
    cJSON_Delete(root);
    cf__free(order);
    cf__st_close(st);
    return st_;
}

cf_status cf__st_open(cf_ctx *ctx, const char *path, cf_safetensors *st) {
    memset(st, 0, sizeof *st);
    cf_file f;
    CF_TRY(cf__file_map(ctx, path, &f));
    cf_status s = cf__st_parse(ctx, path, f.data, f.size, st);
    if (s != CF_OK) {
        cf__file_unmap(&f);
        return s;
    }
    st->file = f;
    return CF_OK;
}

void cf__st_close(cf_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_tensors; i++) cf__free(st->tensors[i].name);
    for (int i = 0; i < st->n_meta; i++) {
        cf__free(st->meta_keys[i]);
        cf__free(st->meta_vals[i]);
    }
    cf__free(st->tensors);
    cf__free(st->meta_keys);
    cf__free(st->meta_vals);
    cf__file_unmap(&st->file);
    memset(st, 0, sizeof *st);
}

const cf_st_tensor *cf__st_find(const cf_safetensors *st, const char *name) {
    for (int i = 0; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *cf__st_meta(const cf_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_keys[i], key)) return st->meta_vals[i];
    return NULL;
}

// ---- half precision ----

float cf__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float cf__bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t cf__f32_to_bf16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40);  // quiet NaN
    b += 0x7fffu + ((b >> 16) & 1);
    return (uint16_t)(b >> 16);
}

uint16_t cf__f32_to_f16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    uint32_t sign = (b >> 16) & 0x8000, ab = b & 0x7fffffffu;
    if (ab > 0x7f800000u) return (uint16_t)(sign | 0x7e00);
    if (ab >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  // overflow to inf
    if (ab < 0x38800000u) {  // subnormal or zero in half
        if (ab < 0x33000000u) return (uint16_t)sign;
        uint32_t man = (ab & 0x7fffff) | 0x800000;
        int shift = 113 - (int)(ab >> 23) + 13;
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t r = ab + 0xfffu + ((ab >> 13) & 1) - (112u << 23);
    return (uint16_t)(sign | (r >> 13));
}

cf_status cf__st_to_f32(cf_ctx *ctx, const cf_safetensors *st, const cf_st_tensor *t,
                        float *dst) {
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case CF_DT_F32: memcpy(dst, p, t->nbytes); return CF_OK;
    case CF_DT_F16:
    case CF_DT_BF16:
        for (int64_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = t->dtype == CF_DT_F16 ? cf__f16_to_f32(h) : cf__bf16_to_f32(h);
        }
        return CF_OK;
    case CF_DT_F64:
        for (int64_t i = 0; i < t->numel; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        return CF_OK;
    default:
        return CF_FORMAT_ERR(ctx, "%s: tensor '%s' has dtype %s, expected a float type",
                             st->path, t->name, cf__dtype_name(t->dtype));
    }
}

// ---- writer ----

cf_status cf__st_write(cf_ctx *ctx, const char *path, const cf_st_entry *e, int n,
                       const char *const *meta_keys, const char *const *meta_vals, int n_meta) {
    cJSON *root = cJSON_CreateObject();
    char *json = NULL;
    uint8_t *head = NULL;
    const void **chunks = NULL;
    size_t *lens = NULL;
    cf_status st = CF_OK;
    if (!root) return CF_NOMEM(ctx);
    if (n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; meta && i < n_meta; i++)
            if (!cJSON_AddStringToObject(meta, meta_keys[i], meta_vals[i])) meta = NULL;
        if (!meta) goto oom;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_AddObjectToObject(root, e[i].name);
        if (!t || !cJSON_AddStringToObject(t, "dtype", cf__dtype_name(e[i].dtype))) goto oom;
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        if (!sh) goto oom;
        size_t numel = 1;
        for (int d = 0; d < e[i].ndim; d++) {
            numel *= (size_t)e[i].shape[d];
            cJSON *v = cJSON_CreateNumber((double)e[i].shape[d]);
            if (!v || !cJSON_AddItemToArray(sh, v)) goto oom;
        }
        size_t nb = numel * cf__dtype_size(e[i].dtype);
        cJSON *of = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON *v0 = cJSON_CreateNumber((double)off), *v1 = cJSON_CreateNumber((double)(off + nb));
        if (!of || !v0 || !v1) goto oom;
        cJSON_AddItemToArray(of, v0);
        cJSON_AddItemToArray(of, v1);
        off += nb;
    }
    json = cJSON_PrintUnformatted(root);
    if (!json) goto oom;
    size_t jl = strlen(json);
    size_t hl = (8 + jl + 63) / 64 * 64 - 8;  // data starts 64-byte aligned
    head = cf__malloc(8 + hl);
    chunks = cf__malloc(sizeof(void *) * ((size_t)n + 1));
    lens = cf__malloc(sizeof(size_t) * ((size_t)n + 1));
    if (!head || !chunks || !lens) goto oom;
    for (int i = 0; i < 8; i++) head[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(head + 8, json, jl);
    memset(head + 8 + jl, ' ', hl - jl);
    chunks[0] = head;
    lens[0] = 8 + hl;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < e[i].ndim; d++) numel *= (size_t)e[i].shape[d];
        chunks[i + 1] = e[i].data;
        lens[i + 1] = numel * cf__dtype_size(e[i].dtype);
    }
    st = cf__write_atomic(ctx, path, chunks, lens, n + 1);
    goto done;
oom:
    st = CF_NOMEM(ctx);
done:
    cJSON_Delete(root);
    free(json);  // cJSON allocates with malloc
    cf__free(head);
    cf__free(chunks);
    cf__free(lens);
    return st;
}
