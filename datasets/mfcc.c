/* MFCC features: pre-emphasis, framing, window, FFTW single-precision r2c, power spectrum,
 * HTK-mel triangular filterbank, log with a floor, orthonormal DCT-II. The formulas are in
 * include/qreg/audio.h; the reasons for the defaults in docs/audio.md.
 *
 * L samples, T frames, W window length, K = n_fft/2 + 1 bins, M mel bands, C coefficients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "datasets/audio_impl.h"
#include "qreg/audio.h"

struct qr_mfcc {
    qr_mfcc_config c;     /* f_max resolved */
    size_t n_bins;        /* K */
    double *window;       /* (W) */
    size_t *band_lo;      /* (M) first bin of band m */
    size_t *band_off;     /* (M + 1) band m's weights are weights[band_off[m] .. band_off[m+1]) */
    double *weights;      /* nonzero filterbank weights, band after band */
    double *dct;          /* (C, M) */
    double *logmel;       /* (M) one frame's log-mel energies */
    double *y;            /* pre-emphasized, padded clip (cap) */
    size_t y_cap;
    float *in;            /* (n_fft) FFTW input, fftwf_malloc'd */
    fftwf_complex *out;   /* (K) FFTW output */
    fftwf_plan plan;
};

QR_API void qr_mfcc_config_default(qr_mfcc_config *c)
{
    memset(c, 0, sizeof *c);
    c->sample_rate = 16000.0;
    c->win_length = 1024;
    c->hop_length = 160;
    c->n_fft = 1024;
    c->n_mels = 40;
    c->n_mfcc = 13;
    c->f_min = 20.0;
    c->f_max = 0.0;
    c->preemphasis = 0.97;
    c->log_floor = 1e-6;
    c->window = QR_WINDOW_HANN;
    c->center = 0;
}

static double hz_to_mel(double f)
{
    return 2595.0 * log10(1.0 + f / 700.0);
}

static double mel_to_hz(double m)
{
    return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

static double resolved_f_max(const qr_mfcc_config *c)
{
    return c->f_max > 0.0 ? c->f_max : c->sample_rate / 2.0;
}

/* Weight of the triangle (left, centre, right) at frequency f: 0 outside, 1 at the centre. */
static double triangle(double f, double left, double centre, double right)
{
    double up = (f - left) / (centre - left), down = (right - f) / (right - centre);
    double w = up < down ? up : down;
    return w > 0.0 ? w : 0.0;
}

/* Band m's mel points in Hz: pts[m], pts[m + 1], pts[m + 2]. */
static void mel_points(const qr_mfcc_config *c, double *pts)
{
    double lo = hz_to_mel(c->f_min), hi = hz_to_mel(resolved_f_max(c));
    for (size_t i = 0; i < c->n_mels + 2; i++)
        pts[i] = mel_to_hz(lo + (hi - lo) * (double)i / (double)(c->n_mels + 1));
}

/* Count (and, with lo/off/weights non-NULL, store) the nonzero weights of each band.
 * Returns the index of the first empty band, or n_mels when none is empty. */
static size_t build_filterbank(const qr_mfcc_config *c, const double *pts, size_t *lo,
                               size_t *off, double *weights, size_t *total)
{
    size_t n_bins = c->n_fft / 2 + 1, at = 0, empty = c->n_mels;
    for (size_t m = 0; m < c->n_mels; m++) {
        size_t first = n_bins, count = 0;
        if (off)
            off[m] = at;
        for (size_t k = 0; k < n_bins; k++) {
            double f = (double)k * c->sample_rate / (double)c->n_fft;
            double w = triangle(f, pts[m], pts[m + 1], pts[m + 2]);
            if (w <= 0.0)
                continue;
            if (first == n_bins)
                first = k;
            /* the weights of a band are contiguous bins: a triangle is convex */
            if (weights)
                weights[at] = w;
            at++;
            count++;
        }
        if (lo)
            lo[m] = first;
        if (count == 0 && empty == c->n_mels)
            empty = m;
    }
    if (off)
        off[c->n_mels] = at;
    if (total)
        *total = at;
    return empty;
}

QR_API qr_status qr_mfcc_config_check(const qr_mfcc_config *c, qr_error *err)
{
    if (!c)
        return qr_error_set(err, QR_ERR_ARG, "mfcc: NULL config");
    if (!(c->sample_rate >= 1000.0 && c->sample_rate <= 384000.0))
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: sample_rate = %g is outside [1000, 384000]",
                            c->sample_rate);
    if (c->n_fft < 16 || c->n_fft > 65536)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: n_fft = %zu is outside [16, 65536]",
                            c->n_fft);
    if (c->win_length < 16 || c->win_length > c->n_fft)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "mfcc: win_length = %zu must be in [16, n_fft = %zu]", c->win_length,
                            c->n_fft);
    if (c->hop_length < 1 || c->hop_length > 1000000)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: hop_length = %zu is outside [1, 1000000]",
                            c->hop_length);
    if (c->n_mels < 1 || c->n_mels > 512)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: n_mels = %zu is outside [1, 512]",
                            c->n_mels);
    if (c->n_mfcc < 1 || c->n_mfcc > c->n_mels)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: n_mfcc = %zu must be in [1, n_mels = %zu]",
                            c->n_mfcc, c->n_mels);
    double nyq = c->sample_rate / 2.0, fmax = resolved_f_max(c);
    if (!(c->f_max >= 0.0 && c->f_max <= nyq))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "mfcc: f_max = %g must be in (f_min, sample_rate/2 = %g] (0: "
                            "sample_rate/2)", c->f_max, nyq);
    if (!(c->f_min >= 0.0 && c->f_min < fmax))
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: f_min = %g must be in [0, f_max = %g)",
                            c->f_min, fmax);
    if (!(c->preemphasis >= 0.0 && c->preemphasis < 1.0))
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: preemphasis = %g is outside [0, 1)",
                            c->preemphasis);
    if (!(c->log_floor > 0.0 && isfinite(c->log_floor)))
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: log_floor = %g must be positive",
                            c->log_floor);
    if (c->window != QR_WINDOW_HANN && c->window != QR_WINDOW_HAMMING)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: unknown window %d", (int)c->window);
    if (c->center != 0 && c->center != 1)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: center must be 0 or 1, not %d", c->center);
    double *pts = malloc((c->n_mels + 2) * sizeof *pts);
    if (!pts)
        return qr_error_set(err, QR_ERR_NOMEM, "mfcc: out of memory");
    mel_points(c, pts);
    size_t empty = build_filterbank(c, pts, NULL, NULL, NULL, NULL);
    qr_status s = QR_OK;
    if (empty < c->n_mels)
        s = qr_error_set(err, QR_ERR_CONFIG,
                         "mfcc: mel band %zu (%.1f to %.1f Hz) contains no FFT bin (bins are "
                         "%.2f Hz apart): use fewer n_mels, a larger n_fft or a higher f_min",
                         empty, pts[empty], pts[empty + 2], c->sample_rate / (double)c->n_fft);
    free(pts);
    return s;
}

QR_API void qr_mfcc_free(qr_mfcc *m)
{
    if (!m)
        return;
    if (m->plan)
        fftwf_destroy_plan(m->plan);
    fftwf_free(m->in);
    fftwf_free(m->out);
    free(m->window);
    free(m->band_lo);
    free(m->band_off);
    free(m->weights);
    free(m->dct);
    free(m->logmel);
    free(m->y);
    free(m);
}

QR_API qr_status qr_mfcc_new(const qr_mfcc_config *c, qr_mfcc **out, qr_error *err)
{
    if (out)
        *out = NULL;
    if (!c || !out)
        return qr_error_set(err, QR_ERR_ARG, "qr_mfcc_new: NULL config or output");
    qr_status s = qr_mfcc_config_check(c, err);
    if (s != QR_OK)
        return s;
    qr_mfcc *m = calloc(1, sizeof *m);
    if (!m)
        return qr_error_set(err, QR_ERR_NOMEM, "mfcc: out of memory");
    m->c = *c;
    m->c.f_max = resolved_f_max(c);
    size_t W = c->win_length, M = c->n_mels, C = c->n_mfcc;
    m->n_bins = c->n_fft / 2 + 1;
    double *pts = malloc((M + 2) * sizeof *pts);
    m->window = malloc(W * sizeof *m->window);
    m->band_lo = malloc(M * sizeof *m->band_lo);
    m->band_off = malloc((M + 1) * sizeof *m->band_off);
    m->dct = malloc(C * M * sizeof *m->dct);
    m->logmel = malloc(M * sizeof *m->logmel);
    m->in = fftwf_malloc(c->n_fft * sizeof *m->in);
    m->out = fftwf_malloc(m->n_bins * sizeof *m->out);
    if (!pts || !m->window || !m->band_lo || !m->band_off || !m->dct || !m->logmel || !m->in ||
        !m->out)
        goto nomem;

    const double two_pi = 6.283185307179586476925286766559;
    double a0 = c->window == QR_WINDOW_HANN ? 0.5 : 0.54, a1 = 1.0 - a0;
    for (size_t j = 0; j < W; j++)
        m->window[j] = a0 - a1 * cos(two_pi * (double)j / (double)W);

    size_t total = 0;
    mel_points(&m->c, pts);
    build_filterbank(&m->c, pts, NULL, NULL, NULL, &total);
    if (!(m->weights = malloc((total ? total : 1) * sizeof *m->weights)))
        goto nomem;
    build_filterbank(&m->c, pts, m->band_lo, m->band_off, m->weights, NULL);

    const double pi = 3.14159265358979323846264338327950288;
    for (size_t i = 0; i < C; i++) {
        double scale = sqrt((i == 0 ? 1.0 : 2.0) / (double)M);
        for (size_t k = 0; k < M; k++)
            m->dct[i * M + k] = scale * cos(pi * (double)i * ((double)k + 0.5) / (double)M);
    }

    /* Plan once; FFTW_ESTIMATE neither touches the arrays nor depends on timing. */
    m->plan = fftwf_plan_dft_r2c_1d((int)c->n_fft, m->in, m->out, FFTW_ESTIMATE);
    if (!m->plan)
        goto nomem;
    free(pts);
    *out = m;
    return QR_OK;
nomem:
    free(pts);
    qr_mfcc_free(m);
    return qr_error_set(err, QR_ERR_NOMEM, "mfcc: out of memory");
}

QR_API const qr_mfcc_config *qr_mfcc_get_config(const qr_mfcc *m)
{
    return m ? &m->c : NULL;
}

static size_t pad_of(const qr_mfcc *m)
{
    return m->c.center ? m->c.win_length / 2 : 0;
}

QR_API size_t qr_mfcc_frames(const qr_mfcc *m, size_t n)
{
    if (!m)
        return 0;
    size_t pad = pad_of(m), W = m->c.win_length;
    if (n > SIZE_MAX - 2 * pad)
        return 0;
    size_t len = n + 2 * pad;
    return len >= W ? 1 + (len - W) / m->c.hop_length : 0;
}

/* One pass over the frames; `cepstra` selects MFCC (T, C) or log-mel (T, M) output. */
static qr_status run(qr_mfcc *m, const float *x, size_t n, float *out, int cepstra)
{
    if (!m || (!x && n) || !out)
        return QR_ERR_ARG;
    size_t T = qr_mfcc_frames(m, n);
    if (T == 0)
        return QR_ERR_SHAPE;
    size_t pad = pad_of(m), len = n + 2 * pad;
    if (len > m->y_cap) {
        double *y = realloc(m->y, len * sizeof *y);
        if (!y)
            return QR_ERR_NOMEM;
        m->y = y;
        m->y_cap = len;
    }
    double *y = m->y, a = m->c.preemphasis;
    memset(y, 0, pad * sizeof *y);
    memset(y + pad + n, 0, pad * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[pad + i] = (double)x[i] - (i ? a * (double)x[i - 1] : 0.0);

    size_t W = m->c.win_length, nfft = m->c.n_fft, M = m->c.n_mels, C = m->c.n_mfcc;
    double floor_v = m->c.log_floor;
    for (size_t t = 0; t < T; t++) {
        const double *frame = y + t * m->c.hop_length;
        for (size_t j = 0; j < W; j++)
            m->in[j] = (float)(frame[j] * m->window[j]);
        memset(m->in + W, 0, (nfft - W) * sizeof *m->in);
        fftwf_execute(m->plan);
        for (size_t b = 0; b < M; b++) {
            const double *w = m->weights + m->band_off[b];
            size_t cnt = m->band_off[b + 1] - m->band_off[b], k0 = m->band_lo[b];
            double e = 0.0;
            for (size_t k = 0; k < cnt; k++) {
                double re = m->out[k0 + k][0], im = m->out[k0 + k][1];
                e += w[k] * (re * re + im * im);
            }
            m->logmel[b] = log(e > floor_v ? e : floor_v);
        }
        if (!cepstra) {
            for (size_t b = 0; b < M; b++)
                out[t * M + b] = (float)m->logmel[b];
            continue;
        }
        for (size_t i = 0; i < C; i++) {
            const double *d = m->dct + i * M;
            double s = 0.0;
            for (size_t b = 0; b < M; b++)
                s += d[b] * m->logmel[b];
            out[t * C + i] = (float)s;
        }
    }
    return QR_OK;
}

QR_API qr_status qr_mfcc_compute(qr_mfcc *m, const float *x, size_t n, float *out)
{
    return run(m, x, n, out, 1);
}

QR_API qr_status qr_mfcc_log_mel(qr_mfcc *m, const float *x, size_t n, float *out)
{
    return run(m, x, n, out, 0);
}

void qr_mfcc_tables(const qr_mfcc *m, const double **window, const size_t **band_lo,
                    const size_t **band_off, const double **weights, const double **dct)
{
    *window = m->window;
    *band_lo = m->band_lo;
    *band_off = m->band_off;
    *weights = m->weights;
    *dct = m->dct;
}
