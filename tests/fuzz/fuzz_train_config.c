// Fuzzes the training config text parser (cf_train_config_parse), then cf_config_finish on what
// it produced: a config that finishes must be consistent, and a tokenizer path must fit its
// buffer and be NUL-terminated.
#include <math.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_ctx *ctx = fuzz_ctx();
    // As `cformer train` starts: a small GPT-2, derived head_dim and kv heads, byte tokenizer.
    cf_config c = cf_config_gpt2();
    c.n_layers = 4;
    c.n_embd = 256;
    c.n_heads = 8;
    c.head_dim = 0;
    c.n_kv_heads = 0;
    c.n_ff = 1024;
    c.n_ctx = 256;
    c.vocab_size = 256;
    cf_train_params tp = cf_train_default_params();
    char tok[64] = "byte";
    cf_status s = cf_train_config_parse(ctx, "train.cfg", (const char *)data, size, &c, &tp, tok,
                                        sizeof tok);
    if (s != CF_OK) {
        FUZZ_CHECK(s == CF_ERR_FORMAT || s == CF_ERR_NOMEM);
        FUZZ_CHECK(strstr(cf_errmsg(ctx), "train.cfg") != NULL);
        return 0;
    }
    FUZZ_CHECK(memchr(tok, 0, sizeof tok) != NULL);
    // Numbers that parse are finite (a float overflowing to inf is a bad value, not a setting).
    float fl[] = {c.norm_eps, c.rope_theta, tp.lr, tp.min_lr, tp.weight_decay, tp.beta1,
                  tp.beta2, tp.eps, tp.grad_clip, tp.val_fraction};
    for (size_t i = 0; i < sizeof fl / sizeof *fl; i++) FUZZ_CHECK(isfinite(fl[i]));
    s = cf_config_finish(ctx, &c);
    FUZZ_CHECK(s == CF_OK || s == CF_ERR_INVALID_ARG);
    if (s != CF_OK) return 0;
    FUZZ_CHECK(c.n_layers >= 1 && c.n_embd >= 1 && c.n_heads >= 1 && c.n_kv_heads >= 1);
    FUZZ_CHECK(c.n_heads % c.n_kv_heads == 0 && c.head_dim >= 1);
    FUZZ_CHECK(c.pos != CF_POS_ROPE || c.head_dim % 2 == 0);
    FUZZ_CHECK(c.vocab_size >= 1 && c.n_ctx >= 1 && c.n_ff >= 1);
    FUZZ_CHECK((unsigned)c.norm <= CF_NORM_RMSNORM && (unsigned)c.pos <= CF_POS_ROPE);
    FUZZ_CHECK((unsigned)c.act <= CF_ACT_GEGLU && (unsigned)c.family <= CF_FAMILY_LLAMA);
    return 0;
}
