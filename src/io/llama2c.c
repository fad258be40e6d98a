// llama2.c checkpoints, the legacy (version 0) format that llama2.c's export writes:
//
//   offset  size                 meaning
//   0       7 x int32            dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//                                seq_len; vocab_size < 0 means a separate classifier follows
//   28      V*C floats           token embeddings (V, C)
//           L*C                  attention RMSNorm weights
//           L*C*C, L*C*KV (x2)   wq (C out, C in), wk and wv (KV out, C in)
//           L*C*C                wo
//           L*C                  feed-forward RMSNorm weights
//           L*F*C, L*C*F, L*F*C  w1 (gate), w2 (down), w3 (up)
//           C                    final RMSNorm
//           2 * T*D/2            legacy RoPE tables (skipped)
//           V*C                  classifier, only when vocab_size < 0
//
// Little-endian float32 throughout, no padding; the file size must match the header exactly.
// RoPE rotates interleaved pairs with theta 10000; RMSNorm eps 1e-5. Weights stay mapped.
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../models/model_internal.h"
#include "load.h"

#define LLAMA2C_V1_MAGIC 0x616b3432u  // "ak42": llama2.c's later export versions

cf_status cf__llama2c_check(cf_ctx *ctx, const char *path, const uint8_t *buf, size_t size,
                            cf_config *cfg) {
    cf_reader r = {buf, size, 0};
    int32_t h[7];
    uint32_t magic = 0;
    if (size >= 4) memcpy(&magic, buf, 4);
    if (magic == LLAMA2C_V1_MAGIC)
        return CF_ERR(ctx, CF_ERR_UNSUPPORTED,
                      "%s: llama2.c export version 1/2 (magic ak42); only the legacy format is "
                      "supported: re-export with --version 0",
                      path);
    for (int i = 0; i < 7; i++)
        if (!cf__read_i32(&r, &h[i]))
            return CF_FORMAT_ERR(ctx, "%s: truncated header (%zu bytes, need 28)", path, size);
    int32_t dim = h[0], hidden = h[1], L = h[2], H = h[3], KVH = h[4], V = h[5], T = h[6];
    bool shared = V > 0;
    if (V < 0 && V != INT32_MIN) V = -V;  // INT32_MIN stays negative and is rejected below
    if (dim <= 0 || hidden <= 0 || L <= 0 || H <= 0 || KVH <= 0 || V <= 0 || T <= 0)
        return CF_FORMAT_ERR(ctx, "%s: header has a non-positive size (dim %d, hidden %d, layers %d, "
                             "heads %d, kv heads %d, vocab %d, seq_len %d)",
                             path, dim, hidden, L, H, KVH, V, T);
    if (dim % H)
        return CF_FORMAT_ERR(ctx, "%s: dim %d is not a multiple of n_heads %d", path, dim, H);
    *cfg = cf_config_llama();
    cfg->n_layers = L;
    cfg->n_embd = dim;
    cfg->n_heads = H;
    cfg->n_kv_heads = KVH;
    cfg->head_dim = dim / H;
    cfg->n_ff = hidden;
    cfg->vocab_size = V;
    cfg->n_ctx = T;
    cfg->rope_style = CF_ROPE_INTERLEAVED;
    cfg->tie_embeddings = shared;
    cfg->family = CF_FAMILY_GENERIC;  // interleaved RoPE is not the HF Llama layout
    cf_status st = cf_config_finish(ctx, cfg);
    if (st != CF_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %s", path, cf_errmsg(ctx));
        return CF_FORMAT_ERR(ctx, "%s", msg);
    }
    // Expected size in floats, in double first to reject absurd headers without overflow.
    double C = dim, F = hidden, KV = (double)KVH * (dim / H), D = dim / H;
    double floats = V * C + L * (C + C * C + 2 * C * KV + C * C + C + 3 * F * C) + C +
                    (double)T * D + (shared ? 0 : V * C);
    double bytes = 28.0 + 4.0 * floats;
    if (bytes != (double)size)
        return CF_FORMAT_ERR(ctx, "%s: %zu bytes, but the header (dim %d, hidden %d, layers %d, "
                             "heads %d/%d, vocab %d%s, seq_len %d) implies %.0f",
                             path, size, dim, hidden, L, H, KVH, V, shared ? "" : " unshared", T,
                             bytes);
    return CF_OK;
}

// Points the weight at byte offset `field` of every layer at its slice of a stacked (L, n)
// array starting at p; returns the position after the array.
static float *stack(cf_model *m, size_t field, float *p, int64_t n) {
    for (int l = 0; l < m->cfg.n_layers; l++) {
        cf_weight *w = (cf_weight *)(void *)((char *)&m->layers[l] + field);
        w->data = p + l * n;
    }
    return p + (int64_t)m->cfg.n_layers * n;
}

cf_status cf__load_llama2c(cf_ctx *ctx, const char *path, cf_model **out) {
    *out = NULL;
    cf_file f;
    CF_TRY(cf__file_map(ctx, path, &f));
    cf_config cfg;
    cf_status st = cf__llama2c_check(ctx, path, f.data, f.size, &cfg);
    cf_model *m = NULL;
    if (st == CF_OK) st = cf__model_alloc(ctx, &cfg, &m);
    if (st != CF_OK) {
        cf__file_unmap(&f);
        return st;
    }
    m->source = "llama2.c";
    float *p = (float *)(void *)(f.data + 28);
    int64_t C = cfg.n_embd, F = cfg.n_ff, V = cfg.vocab_size;
    int64_t KV = (int64_t)cfg.n_kv_heads * cfg.head_dim;
    m->wte.data = p;
    p += V * C;
    p = stack(m, offsetof(cf_layer, ln1_w), p, C);
    p = stack(m, offsetof(cf_layer, wq), p, C * C);
    p = stack(m, offsetof(cf_layer, wk), p, KV * C);
    p = stack(m, offsetof(cf_layer, wv), p, KV * C);
    p = stack(m, offsetof(cf_layer, wo), p, C * C);
    p = stack(m, offsetof(cf_layer, ln2_w), p, C);
    p = stack(m, offsetof(cf_layer, w_gate), p, F * C);
    p = stack(m, offsetof(cf_layer, w_down), p, C * F);
    p = stack(m, offsetof(cf_layer, w_up), p, F * C);
    m->lnf_w.data = p;
    p += C;
    p += (int64_t)cfg.n_ctx * cfg.head_dim;  // legacy RoPE tables
    if (!cfg.tie_embeddings) m->lm_head.data = p;
    m->file = f;
    m->mapped = true;
    st = cf__model_finish(m);
    if (st != CF_OK) {
        cf_model_free(m);
        return st;
    }
    *out = m;
    return CF_OK;
}
