/* Time and pitch changes of a clip for augmentation: speed (resampling), tempo (WSOLA) and
 * pitch (both); each result is refitted to the clip's length. Formulas: include/qreg/audio.h,
 * docs/audio.md. */
#include <math.h>
#include <samplerate.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/audio_impl.h"

#define FACTOR_MIN 0.25
#define FACTOR_MAX 4.0

static int overlaps(const float *x, const float *y, size_t n)
{
    return x < y + n && y < x + n;
}

static int factor_ok(double f)
{
    return f >= FACTOR_MIN && f <= FACTOR_MAX;
}

static int src_converter(qr_audio_quality q)
{
    return q == QR_AUDIO_QUALITY_BEST     ? SRC_SINC_BEST_QUALITY
           : q == QR_AUDIO_QUALITY_FASTEST ? SRC_SINC_FASTEST
                                           : SRC_SINC_MEDIUM_QUALITY;
}

/* x (n) resampled by `ratio` into a malloc'd *out (*m samples). */
static qr_status resample_by(const float *x, size_t n, double ratio, qr_audio_quality q,
                             float **out, size_t *m)
{
    size_t cap = (size_t)ceil((double)n * ratio) + 64;
    float *y = malloc(cap * sizeof *y);
    if (!y)
        return QR_ERR_NOMEM;
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = x;
    d.input_frames = (long)n;
    d.data_out = y;
    d.output_frames = (long)cap;
    d.src_ratio = ratio;
    d.end_of_input = 1;
    if (src_simple(&d, src_converter(q), 1) != 0 || d.output_frames_gen <= 0) {
        free(y);
        return QR_ERR_FORMAT;
    }
    *out = y;
    *m = (size_t)d.output_frames_gen;
    return QR_OK;
}

QR_API qr_status qr_audio_speed(const float *x, float *y, size_t n, double factor,
                                qr_audio_quality q, qr_audio_crop crop)
{
    if (!x || !y || !n || overlaps(x, y, n) || !factor_ok(factor) ||
        (unsigned)q > QR_AUDIO_QUALITY_FASTEST)
        return QR_ERR_ARG;
    float *r = NULL;
    size_t m = 0;
    qr_status s = resample_by(x, n, 1.0 / factor, q, &r, &m);
    if (s == QR_OK)
        qr_audio_fit(r, m, y, n, crop);
    free(r);
    return s;
}

/* The start in [a − D, a + D] whose first H samples best correlate with the H samples at t
 * (xp: the padded input, index 0 = sample 0). Offsets are tried from 0 outwards (0, −1, +1,
 * −2, ...) and only a larger correlation replaces the best, so ties (silence) keep the
 * nominal place and the time line does not drift. */
static long best_start(const float *xp, long t, long a, long D, long H)
{
    long best = a;
    double best_c = -INFINITY;
    for (long i = 0; i <= 2 * D; i++) {
        long d = i % 2 ? -(i + 1) / 2 : i / 2;
        const float *u = xp + t, *v = xp + a + d;
        double c0 = 0.0, c1 = 0.0;
        long j = 0;
        for (; j + 1 < H; j += 2) {
            c0 += (double)u[j] * v[j];
            c1 += (double)u[j + 1] * v[j + 1];
        }
        if (j < H)
            c0 += (double)u[j] * v[j];
        if (c0 + c1 > best_c) {
            best_c = c0 + c1;
            best = a + d;
        }
    }
    return best;
}

/* WSOLA: x (n) time-scaled by 1/factor into out (m = round(n/factor), zeroed here); H the
 * synthesis hop. Frame k is centred at output sample k·H, covers [k·H − H, k·H + H) with a
 * periodic Hann window of W = 2H, and reads input samples from p_k: p_0 = −H, then the start
 * within ±H/2 of round(k·H·factor) − H that best continues frame k − 1 (best_start over the
 * H samples after p_{k−1} + H, the part frame k overlaps). */
static qr_status wsola(const float *x, size_t n, double factor, long H, float *out, size_t m)
{
    long W = 2 * H, D = H / 2;
    long pre = W + D, post = (long)ceil(4.0 * (double)H * factor) + 2 * W + D;
    float *xp = calloc((size_t)pre + n + (size_t)post, sizeof *xp);
    if (!xp)
        return QR_ERR_NOMEM;
    memcpy(xp + pre, x, n * sizeof *x);
    const double pi = 3.14159265358979323846;
    memset(out, 0, m * sizeof *out);
    long prev = -H;
    for (long k = 0; (k - 1) * H < (long)m; k++) {
        long a = (long)floor((double)k * (double)H * factor + 0.5) - H;
        if (a > (long)n + H) /* past the end: only zeros are left */
            break;
        long p = k == 0 ? a : best_start(xp + pre, prev + H, a, D, H);
        for (long j = 0; j < W; j++) {
            long o = k * H - H + j;
            if (o >= 0 && o < (long)m)
                out[o] += (float)((0.5 - 0.5 * cos(2.0 * pi * (double)j / (double)W)) *
                                  xp[pre + p + j]);
        }
        prev = p;
    }
    free(xp);
    return QR_OK;
}

/* Stretched length of n samples at `factor`, at least 1. */
static size_t stretched_len(size_t n, double factor)
{
    size_t m = (size_t)floor((double)n / factor + 0.5);
    return m ? m : 1;
}

static long hop_of(double sample_rate)
{
    long H = (long)floor(0.016 * sample_rate + 0.5);
    return H > 1 ? H : 1;
}

QR_API qr_status qr_audio_tempo(const float *x, float *y, size_t n, double sample_rate,
                                double factor, qr_audio_crop crop)
{
    if (!x || !y || !n || overlaps(x, y, n) || !factor_ok(factor) || !(sample_rate >= 1000.0))
        return QR_ERR_ARG;
    size_t m = stretched_len(n, factor);
    float *t = malloc(m * sizeof *t);
    if (!t)
        return QR_ERR_NOMEM;
    qr_status s = wsola(x, n, factor, hop_of(sample_rate), t, m);
    if (s == QR_OK)
        qr_audio_fit(t, m, y, n, crop);
    free(t);
    return s;
}

QR_API qr_status qr_audio_pitch(const float *x, float *y, size_t n, double sample_rate,
                                double semitones, qr_audio_quality q, qr_audio_crop crop)
{
    if (!x || !y || !n || overlaps(x, y, n) || !(semitones >= -24.0 && semitones <= 24.0) ||
        !(sample_rate >= 1000.0) || (unsigned)q > QR_AUDIO_QUALITY_FASTEST)
        return QR_ERR_ARG;
    double r = pow(2.0, semitones / 12.0);
    size_t m = stretched_len(n, 1.0 / r);
    float *t = malloc(m * sizeof *t), *u = NULL;
    size_t nu = 0;
    if (!t)
        return QR_ERR_NOMEM;
    qr_status s = wsola(x, n, 1.0 / r, hop_of(sample_rate), t, m); /* r times longer */
    if (s == QR_OK)
        s = resample_by(t, m, 1.0 / r, q, &u, &nu); /* back to n, pitch times r */
    if (s == QR_OK)
        qr_audio_fit(u, nu, y, n, crop);
    free(t);
    free(u);
    return s;
}
