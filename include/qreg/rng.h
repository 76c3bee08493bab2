/* qreg — seeded random numbers (xoshiro256**, seeded through splitmix64).
 * The same seed gives the same stream on every platform: results are reproducible bit for
 * bit for the same seed and thread count. The state is a plain struct so checkpoints can
 * save and restore it. */
#ifndef QREG_RNG_H
#define QREG_RNG_H

#include "qreg/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qr_rng {
    uint64_t s[4];
} qr_rng;

QR_API void qr_rng_seed(qr_rng *r, uint64_t seed);
QR_API uint64_t qr_rng_u64(qr_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
QR_API float qr_rng_uniform(qr_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
QR_API double qr_rng_uniform_d(qr_rng *r);
/* Standard normal (Box-Muller, no cached second value so the state alone is the stream). */
QR_API double qr_rng_normal(qr_rng *r);
/* Uniform integer in [0, n), unbiased; n >= 1. */
QR_API uint64_t qr_rng_below(qr_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
QR_API void qr_rng_shuffle(qr_rng *r, size_t *idx, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* QREG_RNG_H */
