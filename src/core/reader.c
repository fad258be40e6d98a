// Bounded little-endian reads over a byte buffer: every read checks the bytes left, and a short
// read is reported, never performed.
#include <string.h>

#include "../internal.h"

bool cf__read_bytes(cf_reader *r, void *dst, size_t n) {
    if (cf__reader_left(r) < n) return false;
    if (n) memcpy(dst, r->base + r->pos, n);
    r->pos += n;
    return true;
}

bool cf__skip(cf_reader *r, size_t n) {
    if (cf__reader_left(r) < n) return false;
    r->pos += n;
    return true;
}

bool cf__read_u32(cf_reader *r, uint32_t *v) {
    uint8_t b[4];
    if (!cf__read_bytes(r, b, 4)) return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

bool cf__read_i32(cf_reader *r, int32_t *v) {
    uint32_t u;
    if (!cf__read_u32(r, &u)) return false;
    memcpy(v, &u, 4);
    return true;
}

bool cf__read_u64(cf_reader *r, uint64_t *v) {
    uint32_t lo, hi;
    if (r->size - r->pos < 8) return false;
    cf__read_u32(r, &lo);
    cf__read_u32(r, &hi);
    *v = (uint64_t)hi << 32 | lo;
    return true;
}

bool cf__read_f32(cf_reader *r, float *v) {
    uint32_t u;
    if (!cf__read_u32(r, &u)) return false;
    memcpy(v, &u, 4);
    return true;
}
