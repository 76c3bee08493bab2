/* Weight initializers (Keras semantics). The orthogonal one runs a Householder QR in
 * double: it is called once per weight, and double keeps W·Wᵀ = I to ~1e-15 before the
 * final rounding to float. */
#include "qreg/init.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

QR_API void qr_init_zeros(float *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] = 0.0f;
}

QR_API void qr_init_constant(float *w, size_t n, float c)
{
    for (size_t i = 0; i < n; i++)
        w[i] = c;
}

QR_API void qr_init_glorot_uniform(float *w, size_t fan_in, size_t fan_out, size_t n, qr_rng *r)
{
    if (fan_in + fan_out == 0)
        return;
    const float limit = (float)sqrt(6.0 / ((double)fan_in + (double)fan_out));
    /* 2u - 1 is exact for a 24-bit u, so the only rounding is the product: w in [-l, l). */
    for (size_t i = 0; i < n; i++)
        w[i] = limit * (2.0f * qr_rng_uniform(r) - 1.0f);
}

/* In-place Householder QR of the m×k row-major matrix a (m >= k). On return column j of a
 * holds, from row j down, the reflector v_j with H_j = I - 2 v vᵀ / (vᵀv), and rdiag[j]
 * is R[j][j]. The sign choice beta = -sign(alpha)·|x| avoids cancellation in v's head. */
static void householder_qr(double *a, size_t m, size_t k, double *rdiag)
{
    for (size_t j = 0; j < k; j++) {
        double norm2 = 0.0;
        for (size_t i = j; i < m; i++)
            norm2 += a[i * k + j] * a[i * k + j];
        double norm = sqrt(norm2);
        double alpha = a[j * k + j];
        double beta = alpha >= 0.0 ? -norm : norm;
        rdiag[j] = beta;
        if (norm == 0.0)
            continue; /* zero column (probability 0): H_j = I, marked by v_j = 0 */
        a[j * k + j] = alpha - beta;
        /* vᵀv = norm2 - alpha² + (alpha - beta)² = 2·norm·(norm + |alpha|). */
        double vtv = 2.0 * norm * (norm + fabs(alpha));
        for (size_t c = j + 1; c < k; c++) {
            double s = 0.0;
            for (size_t i = j; i < m; i++)
                s += a[i * k + j] * a[i * k + c];
            double f = 2.0 * s / vtv;
            for (size_t i = j; i < m; i++)
                a[i * k + c] -= f * a[i * k + j];
        }
    }
}

/* q (m×k) = H_0 H_1 ... H_{k-1} applied to the first k columns of the identity, using
 * the reflectors householder_qr left in a. Applied from the last reflector back, each
 * H_j touches only rows j..m-1. */
static void householder_form_q(const double *a, size_t m, size_t k, double *q)
{
    for (size_t i = 0; i < m; i++)
        for (size_t c = 0; c < k; c++)
            q[i * k + c] = i == c ? 1.0 : 0.0;
    for (size_t jj = k; jj-- > 0;) {
        double vtv = 0.0;
        for (size_t i = jj; i < m; i++)
            vtv += a[i * k + jj] * a[i * k + jj];
        if (vtv == 0.0)
            continue;
        for (size_t c = jj; c < k; c++) {
            double s = 0.0;
            for (size_t i = jj; i < m; i++)
                s += a[i * k + jj] * q[i * k + c];
            double f = 2.0 * s / vtv;
            for (size_t i = jj; i < m; i++)
                q[i * k + c] -= f * a[i * k + jj];
        }
    }
}

QR_API qr_status qr_init_orthogonal(float *w, size_t rows, size_t cols, float gain, qr_rng *r)
{
    if (w == NULL || r == NULL || rows == 0 || cols == 0)
        return QR_ERR_ARG;
    const size_t m = rows > cols ? rows : cols;
    const size_t k = rows > cols ? cols : rows;
    /* Two m×k matrices plus R's diagonal, in one block; guard the size arithmetic. */
    if (m > SIZE_MAX / k || m * k > (SIZE_MAX / sizeof(double) - k) / 2)
        return QR_ERR_NOMEM;
    double *buf = malloc((2 * m * k + k) * sizeof(double));
    if (buf == NULL)
        return QR_ERR_NOMEM;
    double *a = buf, *q = buf + m * k, *rdiag = buf + 2 * m * k;

    for (size_t i = 0; i < m * k; i++)
        a[i] = qr_rng_normal(r);
    householder_qr(a, m, k, rdiag);
    householder_form_q(a, m, k, q);

    /* Scale column c of Q by sign(R[c][c]) (numpy/Keras convention), transpose when the
     * shape is wide, then apply the gain. sign(0) is taken as +1 (probability 0). */
    for (size_t c = 0; c < k; c++) {
        double s = rdiag[c] < 0.0 ? -(double)gain : (double)gain;
        for (size_t i = 0; i < m; i++) {
            float v = (float)(s * q[i * k + c]);
            if (rows >= cols)
                w[i * cols + c] = v; /* W = Q: (m = rows, k = cols) */
            else
                w[c * cols + i] = v; /* W = Qᵀ: Q is (m = cols, k = rows) */
        }
    }
    free(buf);
    return QR_OK;
}
