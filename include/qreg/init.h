/* qreg — weight initializers on flat float arrays (Keras semantics).
 *
 * Every random initializer draws from a caller-owned qr_rng, so a seed reproduces the
 * weights. Matrices are row-major: w[i * cols + j] is row i, column j, and a Dense or
 * GRU kernel of Keras shape (in, out) is rows = in, cols = out.
 */
#ifndef QREG_INIT_H
#define QREG_INIT_H

#include "qreg/common.h"
#include "qreg/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* w[i] = 0 for i < n. */
QR_API void qr_init_zeros(float *w, size_t n);

/* w[i] = c for i < n. */
QR_API void qr_init_constant(float *w, size_t n, float c);

/* Keras GlorotUniform: w[i] ~ U[-l, l), l = sqrt(6 / (fan_in + fan_out)), i < n.
 * Variance l^2 / 3 = 2 / (fan_in + fan_out).
 * @param[out]    w        (n) weights
 * @param[in]     fan_in   input units (Keras: shape[0] for a 2-D kernel); fan_in + fan_out >= 1
 * @param[in]     fan_out  output units (shape[1])
 * @param[in,out] r        random stream, advanced by n draws
 * Draws nothing and leaves w unchanged when fan_in + fan_out == 0. */
QR_API void qr_init_glorot_uniform(float *w, size_t fan_in, size_t fan_out, size_t n, qr_rng *r);

/* Keras Orthogonal for a 2-D shape (rows, cols):
 *   A ~ N(0, 1) of shape (max(rows, cols), min(rows, cols)), drawn row-major;
 *   A = Q R (reduced QR, computed in double with Householder reflections);
 *   Q <- Q · diag(sign(diag(R)))       (makes the result unique: R's diagonal is positive);
 *   W = gain · (rows >= cols ? Q : Qᵀ).
 * So W has orthonormal columns (rows >= cols) or orthonormal rows (rows < cols), times gain;
 * a GRU recurrent kernel (h, 3h) gets W·Wᵀ = gain² I. The random stream differs from
 * TensorFlow's, so values differ from Keras for the same seed; the distribution is the same.
 * @param[out]    w     (rows, cols) weights, row-major
 * @param[in]     rows  >= 1
 * @param[in]     cols  >= 1
 * @param[in]     gain  scale factor (Keras default 1)
 * @param[in,out] r     random stream, advanced by rows·cols normal draws
 * @return QR_OK; QR_ERR_ARG for NULL or a zero dimension; QR_ERR_NOMEM if the temporary
 *         (2·rows·cols + min(rows, cols) doubles, freed before returning) cannot be
 *         allocated. On error w is unchanged. */
QR_API qr_status qr_init_orthogonal(float *w, size_t rows, size_t cols, float gain, qr_rng *r);

#ifdef __cplusplus
}
#endif

#endif /* QREG_INIT_H */
