/* Room reverberation for augmentation: a synthetic impulse response (a direct path and an
 * exponentially decaying Gaussian tail, 60 dB down at RT60) and its FFT convolution with a
 * clip. Formulas: include/qreg/audio.h, docs/audio.md. */
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "datasets/audio_impl.h"
#include "qreg/rng.h"

#define RT60_MAX 10.0

QR_API qr_status qr_audio_room_ir(float *h, size_t n, double sample_rate, double rt60,
                                  double drr_db, uint64_t seed)
{
    if (!h || n < 2 || !(sample_rate >= 1000.0 && sample_rate <= 384000.0) ||
        !(rt60 > 0.0 && rt60 <= RT60_MAX) || !isfinite(drr_db))
        return QR_ERR_ARG;
    qr_rng r;
    qr_rng_seed(&r, seed);
    double e = 0.0, rate = -3.0 * log(10.0) / (rt60 * sample_rate); /* ln of 10^(−3/(rt60·fs)) */
    h[0] = 1.0f;
    for (size_t i = 1; i < n; i++) {
        double v = qr_rng_normal(&r) * exp(rate * (double)i);
        h[i] = (float)v;
        e += v * v;
    }
    /* the tail's energy to 10^(−drr/10) of the direct path's (1) */
    double g = e > 0.0 ? sqrt(pow(10.0, -drr_db / 10.0) / e) : 0.0;
    for (size_t i = 1; i < n; i++)
        h[i] = (float)(g * (double)h[i]);
    return QR_OK;
}

QR_API qr_status qr_audio_reverb(float *x, size_t n, double sample_rate, double rt60,
                                 double drr_db, uint64_t seed)
{
    if (!x || !n || !(rt60 > 0.0 && rt60 <= RT60_MAX) ||
        !(sample_rate >= 1000.0 && sample_rate <= 384000.0))
        return QR_ERR_ARG;
    size_t nh = (size_t)ceil(rt60 * sample_rate) + 1, N = 1;
    while (N < n + nh - 1)
        N *= 2;
    if (N > ((size_t)1 << 28))
        return QR_ERR_ARG;
    size_t nb = N / 2 + 1;
    float *a = fftwf_malloc(N * sizeof *a), *b = fftwf_malloc(N * sizeof *b);
    fftwf_complex *A = fftwf_malloc(nb * sizeof *A), *B = fftwf_malloc(nb * sizeof *B);
    fftwf_plan pa = NULL, pb = NULL, pi = NULL;
    qr_status s = QR_ERR_NOMEM;
    if (!a || !b || !A || !B)
        goto out;
    /* FFTW_ESTIMATE: the plans (and so the bits) do not depend on timing; made before the
     * arrays are filled, as planning may overwrite them */
    pa = fftwf_plan_dft_r2c_1d((int)N, a, A, FFTW_ESTIMATE);
    pb = fftwf_plan_dft_r2c_1d((int)N, b, B, FFTW_ESTIMATE);
    pi = fftwf_plan_dft_c2r_1d((int)N, A, a, FFTW_ESTIMATE);
    if (!pa || !pb || !pi)
        goto out;
    memset(a, 0, N * sizeof *a);
    memset(b, 0, N * sizeof *b);
    memcpy(a, x, n * sizeof *a);
    if ((s = qr_audio_room_ir(b, nh, sample_rate, rt60, drr_db, seed)) != QR_OK)
        goto out;
    fftwf_execute(pa);
    fftwf_execute(pb);
    for (size_t k = 0; k < nb; k++) { /* A ·= B */
        float re = A[k][0] * B[k][0] - A[k][1] * B[k][1];
        float im = A[k][0] * B[k][1] + A[k][1] * B[k][0];
        A[k][0] = re;
        A[k][1] = im;
    }
    fftwf_execute(pi); /* unnormalized: N times the convolution */
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)a[i] / (double)N);
    s = QR_OK;
out:
    if (pa)
        fftwf_destroy_plan(pa);
    if (pb)
        fftwf_destroy_plan(pb);
    if (pi)
        fftwf_destroy_plan(pi);
    fftwf_free(a);
    fftwf_free(b);
    fftwf_free(A);
    fftwf_free(B);
    return s;
}
