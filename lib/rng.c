/* Seeded random numbers: xoshiro256** (Blackman & Vigna), state filled by splitmix64.
 * The integer and uniform streams are pure integer arithmetic, identical on every
 * platform; qr_rng_normal also depends on the C library's log and cos. */
#include "qreg/rng.h"

#include <math.h>

static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64 spreads one 64-bit seed over the 256-bit state, so nearby seeds give
 * unrelated streams and the all-zero state (a fixed point of xoshiro) cannot occur. */
static uint64_t splitmix64_next(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

QR_API void qr_rng_seed(qr_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64_next(&x);
}

QR_API uint64_t qr_rng_u64(qr_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* The top bits are the best ones of xoshiro256**; k bits times 2^-k is exact. */
QR_API float qr_rng_uniform(qr_rng *r)
{
    return (float)(qr_rng_u64(r) >> 40) * 0x1.0p-24f;
}

QR_API double qr_rng_uniform_d(qr_rng *r)
{
    return (double)(qr_rng_u64(r) >> 11) * 0x1.0p-53;
}

QR_API double qr_rng_normal(qr_rng *r)
{
    /* u1 in (0, 1] so log(u1) is finite; u2 in [0, 1). No cached second value: the
     * state alone determines the stream (checkpoints stay simple). */
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = 1.0 - qr_rng_uniform_d(r);
    double u2 = qr_rng_uniform_d(r);
    return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

QR_API uint64_t qr_rng_below(qr_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* Rejection: accept x >= 2^64 mod n, leaving a range that is a whole multiple of n.
     * (-n) % n is 2^64 mod n in unsigned arithmetic; less than half the values are
     * ever rejected, so the loop ends quickly. */
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = qr_rng_u64(r);
        if (x >= threshold)
            return x % n;
    }
}

QR_API void qr_rng_shuffle(qr_rng *r, size_t *idx, size_t n)
{
    /* Fisher-Yates from the top: position i takes a uniform pick among 0..i. */
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)qr_rng_below(r, (uint64_t)i);
        size_t tmp = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = tmp;
    }
}
