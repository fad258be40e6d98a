// The training config text format: `key = value` lines, `#` comments, blank lines. A `family`
// key applies its preset before every other key, wherever it appears. Unknown keys, malformed
// numbers and impossible values are errors that name the file, the line and the key.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/load.h"

typedef enum { K_I32, K_I64, K_F32, K_BOOL, K_U64, K_ENUM } kind;

typedef struct key {
    const char *name;
    kind k;
    bool model;       // field of cf_config (else cf_train_params)
    size_t off;
    int (*parse)(const char *);  // K_ENUM
} key;

#define M(n, k, f) {n, k, true, offsetof(cf_config, f), NULL}
#define ME(n, f, p) {n, K_ENUM, true, offsetof(cf_config, f), p}
#define TR(n, k, f) {n, k, false, offsetof(cf_train_params, f), NULL}

static const key KEYS[] = {
    M("n_layers", K_I32, n_layers),       M("n_embd", K_I32, n_embd),
    M("n_heads", K_I32, n_heads),         M("n_kv_heads", K_I32, n_kv_heads),
    M("head_dim", K_I32, head_dim),       M("n_ff", K_I32, n_ff),
    M("vocab_size", K_I32, vocab_size),   M("n_ctx", K_I32, n_ctx),
    ME("norm", norm, cf__norm_parse),     M("pre_norm", K_BOOL, pre_norm),
    M("final_norm", K_BOOL, final_norm),  M("norm_eps", K_F32, norm_eps),
    ME("pos", pos, cf__pos_parse),        M("rope_theta", K_F32, rope_theta),
    ME("rope_style", rope_style, cf__rope_parse), ME("act", act, cf__act_parse),
    M("attn_bias", K_BOOL, attn_bias),    M("mlp_bias", K_BOOL, mlp_bias),
    M("tie_embeddings", K_BOOL, tie_embeddings), M("causal", K_BOOL, causal),
    M("bos_id", K_I32, bos_id),           M("eos_id", K_I32, eos_id),
    TR("batch_size", K_I32, batch_size),  TR("seq_len", K_I32, seq_len),
    TR("grad_accum", K_I32, grad_accum),  TR("max_steps", K_I64, max_steps),
    TR("steps", K_I64, max_steps),        TR("lr", K_F32, lr),
    TR("min_lr", K_F32, min_lr),          TR("warmup_steps", K_I64, warmup_steps),
    TR("warmup", K_I64, warmup_steps),    TR("weight_decay", K_F32, weight_decay),
    TR("beta1", K_F32, beta1),            TR("beta2", K_F32, beta2),
    TR("eps", K_F32, eps),                TR("grad_clip", K_F32, grad_clip),
    TR("val_fraction", K_F32, val_fraction), TR("eval_every", K_I64, eval_every),
    TR("eval_batches", K_I32, eval_batches), TR("ckpt_every", K_I64, ckpt_every),
    TR("seed", K_U64, seed),              TR("dropout", K_F32, dropout),
};

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

static bool parse_bool(const char *v, int32_t *out) {
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) *out = 0;
    else return false;
    return true;
}

static bool set_value(const key *k, void *base, const char *v) {
    char *end;
    errno = 0;
    uint8_t *p = (uint8_t *)base + k->off;
    switch (k->k) {
    case K_I32: {
        long long x = strtoll(v, &end, 10);
        if (*end || errno || x < INT32_MIN || x > INT32_MAX) return false;
        int32_t y = (int32_t)x;
        memcpy(p, &y, sizeof y);
        return true;
    }
    case K_I64: {
        long long x = strtoll(v, &end, 10);
        if (*end || errno) return false;
        int64_t y = x;
        memcpy(p, &y, sizeof y);
        return true;
    }
    case K_U64: {
        if (*v == '-') return false;
        unsigned long long x = strtoull(v, &end, 10);
        if (*end || errno) return false;
        uint64_t y = x;
        memcpy(p, &y, sizeof y);
        return true;
    }
    case K_F32: {
        double x = strtod(v, &end);
        if (*end || errno || !isfinite(x) || !isfinite((float)x)) return false;
        float y = (float)x;
        memcpy(p, &y, sizeof y);
        return true;
    }
    case K_BOOL: {
        int32_t y;
        if (!parse_bool(v, &y)) return false;
        memcpy(p, &y, sizeof y);
        return true;
    }
    case K_ENUM: {
        int x = k->parse(v);
        if (x < 0) return false;
        memcpy(p, &x, sizeof x);  // enums are int-sized
        return true;
    }
    }
    return false;
}

cf_status cf_train_config_parse(cf_ctx *ctx, const char *path, const char *text, size_t len,
                                cf_config *model, cf_train_params *train, char *tokenizer,
                                size_t cap) {
    if (memchr(text, 0, len))
        return CF_FORMAT_ERR(ctx, "%s: contains a NUL byte; not a text config", path);
    char *buf = cf__malloc(len + 1);
    if (!buf) return CF_NOMEM(ctx);
    cf_status st = CF_OK;
    for (int pass = 0; pass < 2 && st == CF_OK; pass++) {
        memcpy(buf, text, len);
        buf[len] = 0;
        int line_no = 0;
        for (char *line = buf, *next; line && st == CF_OK; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            line_no++;
            char *hash = strchr(line, '#');
            if (hash) *hash = 0;
            char *s = trim(line);
            if (!*s) continue;
            char *eq = strchr(s, '=');
            if (!eq) {
                st = CF_FORMAT_ERR(ctx, "%s:%d: expected `key = value`", path, line_no);
                break;
            }
            *eq = 0;
            char *k = trim(s), *v = trim(eq + 1);
            if (!*v) {
                st = CF_FORMAT_ERR(ctx, "%s:%d: key '%s' has no value", path, line_no, k);
                break;
            }
            if (!strcmp(k, "family")) {
                if (pass == 1) continue;
                int f = cf__family_parse(v);
                if (f < 0 || f > CF_FAMILY_LLAMA) {  // encoders are fine-tuned, not LM-trained
                    st = CF_FORMAT_ERR(ctx, "%s:%d: family '%s' (gpt2, llama, generic)", path,
                                       line_no, v);
                    break;
                }
                int32_t V = model->vocab_size, T = model->n_ctx;
                *model = f == CF_FAMILY_LLAMA ? cf_config_llama() : cf_config_gpt2();
                model->vocab_size = V;  // keep the caller's tokenizer-derived defaults
                model->n_ctx = T;
                model->family = (cf_family)f;
                model->n_kv_heads = 0;  // derived from n_heads unless given
                model->head_dim = 0;    // n_embd / n_heads unless given
                continue;
            }
            if (pass == 0) continue;
            if (!strcmp(k, "tokenizer")) {
                if (strlen(v) >= cap) {
                    st = CF_FORMAT_ERR(ctx, "%s:%d: tokenizer path too long", path, line_no);
                    break;
                }
                memcpy(tokenizer, v, strlen(v) + 1);
                continue;
            }
            if (!strcmp(k, "bias")) {
                int32_t b;
                if (!parse_bool(v, &b)) {
                    st = CF_FORMAT_ERR(ctx, "%s:%d: bias: expected true or false", path, line_no);
                    break;
                }
                model->attn_bias = model->mlp_bias = b;
                continue;
            }
            const key *found = NULL;
            for (size_t i = 0; i < sizeof KEYS / sizeof *KEYS; i++)
                if (!strcmp(KEYS[i].name, k)) found = &KEYS[i];
            if (!found) {
                st = CF_FORMAT_ERR(ctx, "%s:%d: unknown key '%s'", path, line_no, k);
                break;
            }
            if (!set_value(found, found->model ? (void *)model : (void *)train, v))
                st = CF_FORMAT_ERR(ctx, "%s:%d: bad value '%s' for %s", path, line_no, v, k);
        }
    }
    cf__free(buf);
    return st;
}
