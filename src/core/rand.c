// Seeded random numbers: xoshiro256** seeded through splitmix64. Deterministic on every
// platform; no global state.
#include <math.h>

#include "../internal.h"

// splitmix64: the state advances by the golden ratio; the output is cf__mix64 of the old state.
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = cf__mix64(*x);
    *x += 0x9e3779b97f4a7c15ull;
    return z;
}

void cf__rng_seed(cf_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cf__rng_u64(cf_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float cf__rng_uniform(cf_rng *r) { return (float)(cf__rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float cf__rng_normal(cf_rng *r) {
    // Box-Muller; u1 in (0, 1] so the log is finite.
    double u1 = ((double)(cf__rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(cf__rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t cf__rng_below(cf_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;  // reject the biased tail
    uint64_t x;
    do x = cf__rng_u64(r);
    while (x >= lim);
    return x % n;
}
