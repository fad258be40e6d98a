// I/O: safetensors write/read round trip (dtypes, metadata, alignment), half-precision
// conversions on known values, atomic writes.
#include <stdlib.h>
#include <unistd.h>

#include "../../src/io/io.h"
#include "../test.h"

static void test_safetensors_roundtrip(void) {
    cf_ctx *ctx;
    CF_CHECK_STATUS(cf_ctx_create(NULL, &ctx), CF_OK);
    float a[6] = {1, -2, 3.5f, 0, 1e-20f, -7};
    uint16_t h[3] = {0x3c00, 0xc000, 0x7bff};  // F16: 1, -2, 65504
    int32_t ids[2] = {-5, 70000};
    cf_st_entry e[3] = {
        {"a", CF_DT_F32, 2, {2, 3}, a},
        {"h.half", CF_DT_F16, 1, {3}, h},
        {"ids", CF_DT_I32, 1, {2}, ids},
    };
    const char *mk[] = {"k1", "format"}, *mv[] = {"v1", "pt"};
    char path[1024];
    snprintf(path, sizeof path, "%s/t.safetensors", cf_test_tmpdir());
    CF_CHECK_STATUS(cf__st_write(ctx, path, e, 3, mk, mv, 2), CF_OK);
    cf_safetensors st;
    CF_CHECK_STATUS(cf__st_open(ctx, path, &st), CF_OK);
    CF_CHECK_EQ(st.n_tensors, 3);
    CF_CHECK(!strcmp(cf__st_meta(&st, "k1"), "v1"));
    CF_CHECK(cf__st_meta(&st, "nope") == NULL);
    const cf_st_tensor *t = cf__st_find(&st, "a");
    CF_CHECK(t && t->dtype == CF_DT_F32 && t->ndim == 2 && t->shape[1] == 3 && t->numel == 6);
    // The data section starts 64-byte aligned so float tensors can be used in place.
    CF_CHECK(t && ((uintptr_t)t->data - (uintptr_t)st.file.data) % 64 == 0);
    CF_CHECK(t && !memcmp(t->data, a, sizeof a));
    const cf_st_tensor *th = cf__st_find(&st, "h.half");
    float hf[3];
    CF_CHECK(th != NULL);
    if (th) {
        CF_CHECK_STATUS(cf__st_to_f32(ctx, &st, th, hf), CF_OK);
        CF_CHECK(hf[0] == 1.0f && hf[1] == -2.0f && hf[2] == 65504.0f);
    }
    const cf_st_tensor *ti = cf__st_find(&st, "ids");
    float junk[2];
    if (ti) CF_CHECK_STATUS(cf__st_to_f32(ctx, &st, ti, junk), CF_ERR_FORMAT);
    cf__st_close(&st);
    // No temporary file is left next to the result.
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CF_CHECK(access(tmp, F_OK) != 0);
    cf_ctx_free(ctx);
}

static void test_half_conversions(void) {
    struct { uint16_t h; float f; } f16[] = {
        {0x0000, 0.0f}, {0x8000, -0.0f}, {0x3c00, 1.0f}, {0xbc00, -1.0f}, {0x3555, 0.333251953125f},
        {0x7bff, 65504.0f}, {0x0001, 5.960464477539063e-08f}, {0x03ff, 6.097555160522461e-05f},
        {0x0400, 6.103515625e-05f}, {0x7c00, INFINITY}, {0xfc00, -INFINITY},
    };
    for (size_t i = 0; i < sizeof f16 / sizeof *f16; i++) {
        CF_CHECK(cf__f16_to_f32(f16[i].h) == f16[i].f);
        CF_CHECK_EQ(cf__f32_to_f16(f16[i].f), f16[i].h);
    }
    CF_CHECK(isnan(cf__f16_to_f32(0x7e00)));
    CF_CHECK_EQ(cf__f32_to_f16(1e6f), 0x7c00);        // overflow to infinity
    CF_CHECK_EQ(cf__f32_to_f16(1.00048828125f), 0x3c00);  // tie to even (down)
    CF_CHECK_EQ(cf__f32_to_f16(1.00146484375f), 0x3c02);  // tie to even (up)
    CF_CHECK_EQ(cf__f32_to_f16(2.98e-08f), 0x0000);   // below half the smallest subnormal
    CF_CHECK_EQ(cf__f32_to_f16(4.5e-08f), 0x0001);
    // Every half value survives f16 -> f32 -> f16.
    for (uint32_t hv = 0; hv < 65536; hv++) {
        if ((hv & 0x7c00) == 0x7c00 && (hv & 0x3ff)) continue;  // NaNs
        if (cf__f32_to_f16(cf__f16_to_f32((uint16_t)hv)) != hv) {
            fprintf(stderr, "  f16 %04x does not round trip\n", hv);
            cf_test_failures++;
            break;
        }
    }
    CF_CHECK(cf__bf16_to_f32(0x3f80) == 1.0f);
    CF_CHECK(cf__bf16_to_f32(0xc040) == -3.0f);
    CF_CHECK_EQ(cf__f32_to_bf16(1.0f), 0x3f80);
    CF_CHECK_EQ(cf__f32_to_bf16(1.00390625f), 0x3f80);  // tie to even
    CF_CHECK_EQ(cf__f32_to_bf16(1.01171875f), 0x3f82);  // tie to even (up)
    CF_CHECK(isnan(cf__bf16_to_f32(cf__f32_to_bf16(NAN))));
}

const cf_test tests_io[] = {
    {"io/safetensors_roundtrip", test_safetensors_roundtrip},
    {"io/half_conversions", test_half_conversions},
    {NULL, NULL},
};
