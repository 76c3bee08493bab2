/* The integer audio front end: pre-emphasis, window, block-scaled fixed-point real FFT, mel
 * filterbank, log and DCT on int16 PCM, one frame per hop (numerics in qrt_frontend.h,
 * measured error against the floating-point MFCC in docs/audio.md). */
#include "qrt_frontend.h"

#define LN2_Q30 744261118 /* ln 2 · 2^30, rounded */
#define ONE_Q30 (1 << 30)

static uint32_t n_fft_of(const qrt_frontend_tables *t)
{
    return (uint32_t)1 << t->fft_log2;
}

qrt_status qrt_frontend_check(const qrt_frontend_tables *t)
{
    if (!t || !t->window || !t->sin_q30 || !t->band_lo || !t->band_off || !t->weights)
        return QRT_ERR_ARG;
    if (t->fft_log2 < 4 || t->fft_log2 > 16 || t->win_length < 16 ||
        t->win_length > n_fft_of(t) || t->hop_length < 1 || t->n_mels < 1 ||
        t->n_mels > QRT_FRONTEND_MAX_MELS || t->n_mfcc > t->n_mels || t->preemph_q15 < 0 ||
        t->preemph_q15 > 32767)
        return QRT_ERR_RANGE;
    if (t->n_mfcc && !t->dct_q30)
        return QRT_ERR_ARG;
    uint32_t bins = n_fft_of(t) / 2 + 1, quarter = n_fft_of(t) / 4;
    for (uint32_t j = 0; j <= t->win_length / 2; j++)
        if (t->window[j] < 0 || t->window[j] > ONE_Q30)
            return QRT_ERR_RANGE;
    for (uint32_t i = 0; i <= quarter; i++)
        if (t->sin_q30[i] < 0 || t->sin_q30[i] > ONE_Q30)
            return QRT_ERR_RANGE;
    if (t->band_off[0] != 0)
        return QRT_ERR_RANGE;
    for (uint32_t m = 0; m < t->n_mels; m++) {
        uint32_t a = t->band_off[m], b = t->band_off[m + 1];
        if (b < a || b - a > bins || t->band_lo[m] > bins - (b - a))
            return QRT_ERR_RANGE;
        for (uint32_t i = a; i < b; i++)
            if (t->weights[i] > ONE_Q30)
                return QRT_ERR_RANGE;
    }
    return QRT_OK;
}

uint32_t qrt_frontend_out_len(const qrt_frontend_tables *t)
{
    return t ? (t->n_mfcc ? t->n_mfcc : t->n_mels) : 0;
}

size_t qrt_frontend_buffer_size(const qrt_frontend_tables *t)
{
    return t ? (size_t)t->win_length * sizeof(int16_t) : 0;
}

size_t qrt_frontend_scratch_size(const qrt_frontend_tables *t)
{
    return t ? ((size_t)n_fft_of(t) + 2 + t->n_mels) * sizeof(int32_t) : 0;
}

qrt_status qrt_frontend_init(qrt_frontend *fe, const qrt_frontend_tables *t, int16_t *buf,
                             size_t buf_bytes)
{
    if (!fe || !buf)
        return QRT_ERR_ARG;
    qrt_status s = qrt_frontend_check(t);
    if (s != QRT_OK)
        return s;
    if (buf_bytes < qrt_frontend_buffer_size(t))
        return QRT_ERR_SCRATCH;
    if ((uintptr_t)buf % sizeof(int16_t))
        return QRT_ERR_ALIGN;
    fe->t = t;
    fe->buf = buf;
    qrt_frontend_reset(fe);
    return QRT_OK;
}

void qrt_frontend_reset(qrt_frontend *fe)
{
    if (!fe)
        return;
    fe->fill = 0;
    fe->skip = 0;
    fe->prev = 0;
}

/* Bits needed for x (0 for 0). */
static int bitlen64(uint64_t x)
{
    int n = 0;
    if (x >> 32) {
        n += 32;
        x >>= 32;
    }
    if (x >> 16) {
        n += 16;
        x >>= 16;
    }
    if (x >> 8) {
        n += 8;
        x >>= 8;
    }
    if (x >> 4) {
        n += 4;
        x >>= 4;
    }
    if (x >> 2) {
        n += 2;
        x >>= 2;
    }
    if (x >> 1) {
        n += 1;
        x >>= 1;
    }
    return n + (int)x;
}

/* round(acc / 2^30), half up. */
static int64_t round_q30(int64_t acc)
{
    return (acc + (1 << 29)) >> 30;
}

/* W_N^k = cos θ − i·sin θ, θ = 2πk/N, 0 <= k < N/2, from the quarter-wave sine table. */
static void twiddle(const int32_t *q, uint32_t quarter, uint32_t k, int32_t *c, int32_t *s)
{
    if (k <= quarter) {
        *s = q[k];
        *c = q[quarter - k];
    } else {
        *s = q[2 * quarter - k];
        *c = -q[k - quarter];
    }
}

/* Block floating point: halve z[0..n) (rounding) until every |value| < 2^29, so that a
 * butterfly's outputs (at most (1 + √2)·2^29 per component) stay inside int32. Returns the
 * number of halvings. */
static int headroom(int32_t *z, uint32_t n)
{
    uint32_t mx = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t a = z[i] < 0 ? (uint32_t)0 - (uint32_t)z[i] : (uint32_t)z[i];
        mx |= a;
    }
    int k = 0;
    while ((mx >> k) >= ((uint32_t)1 << 29))
        k++;
    if (k)
        for (uint32_t i = 0; i < n; i++)
            z[i] = (int32_t)(((int64_t)z[i] + ((int64_t)1 << (k - 1))) >> k);
    return k;
}

/* In place complex FFT of n2 points z[2i] + i·z[2i + 1] (radix 2, decimation in time), block
 * floating point between the stages. Returns the number of halvings (the result is the DFT
 * times 2^−halvings). */
static int fft_complex(int32_t *z, uint32_t n2, const int32_t *q, uint32_t quarter)
{
    for (uint32_t i = 1, j = 0; i < n2; i++) {
        uint32_t bit = n2 >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            int32_t r = z[2 * i], m = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = r;
            z[2 * j + 1] = m;
        }
    }
    int halvings = 0;
    /* the twiddle of butterfly j in a block of len points is W_n2^(j·n2/len) = W_N^(j·N/len) */
    for (uint32_t len = 2, step = 4 * quarter / 2; len <= n2; len <<= 1, step >>= 1) {
        uint32_t half = len >> 1;
        halvings += headroom(z, 2 * n2);
        for (uint32_t j = 0; j < half; j++) {
            int32_t c, s;
            twiddle(q, quarter, j * step, &c, &s);
            for (uint32_t i = j; i < n2; i += len) {
                int32_t *a = z + 2 * i, *b = z + 2 * (i + half);
                int32_t tr = (int32_t)round_q30((int64_t)b[0] * c + (int64_t)b[1] * s);
                int32_t ti = (int32_t)round_q30((int64_t)b[1] * c - (int64_t)b[0] * s);
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] += tr;
                a[1] += ti;
            }
        }
    }
    return halvings + headroom(z, 2 * n2);
}

/* The real FFT of v[0..N) (in z, N = 4·quarter) from the complex FFT of its N/2 even/odd
 * pairs: X[k] = Fe[k] + W_N^k·Fo[k], X[N/2 − k] = conj(Fe[k] − W_N^k·Fo[k]). z holds
 * N/2 + 1 complex values afterwards (|components| < 2^31), the DFT times 2^−halvings. */
static int fft_real(int32_t *z, const int32_t *q, uint32_t quarter)
{
    uint32_t n2 = 2 * quarter;
    int halvings = fft_complex(z, n2, q, quarter);
    int32_t r0 = z[0], i0 = z[1];
    z[0] = r0 + i0;
    z[1] = 0;
    z[2 * n2] = r0 - i0;
    z[2 * n2 + 1] = 0;
    for (uint32_t k = 1; k <= n2 / 2; k++) {
        uint32_t m = n2 - k;
        int64_t ar = z[2 * k], ai = z[2 * k + 1], br = z[2 * m], bi = -(int64_t)z[2 * m + 1];
        int64_t er = ar + br, ei = ai + bi;   /* 2·Fe */
        int64_t or_ = ai - bi, oi = br - ar;  /* 2·Fo = −i·(A − B) */
        int32_t c, s;
        twiddle(q, quarter, k, &c, &s);
        int64_t tr = round_q30(or_ * c + oi * s), ti = round_q30(oi * c - or_ * s);
        z[2 * k] = (int32_t)((er + tr + 1) >> 1);
        z[2 * k + 1] = (int32_t)((ei + ti + 1) >> 1);
        if (m != k) {
            z[2 * m] = (int32_t)((er - tr + 1) >> 1);
            z[2 * m + 1] = (int32_t)((ti - ei + 1) >> 1);
        }
    }
    return halvings;
}

/* log2(x)·2^16 for x >= 1: the leading bit, then 16 fraction bits by squaring (truncated). */
static int32_t log2_q16(uint64_t x)
{
    int e = bitlen64(x) - 1;
    uint64_t m = e >= 30 ? x >> (e - 30) : x << (30 - e); /* [2^30, 2^31) */
    uint32_t frac = 0;
    for (int b = 0; b < 16; b++) {
        m = (m * m) >> 30;
        frac <<= 1;
        if (m >= ((uint64_t)1 << 31)) {
            m >>= 1;
            frac |= 1;
        }
    }
    return (int32_t)(((uint32_t)e << 16) | frac);
}

qrt_status qrt_frontend_frame(const qrt_frontend_tables *t, const int16_t *win, int16_t prev,
                              int32_t *out, void *scratch, size_t scratch_bytes)
{
    if (!t || !win || !out || !scratch)
        return QRT_ERR_ARG;
    if (scratch_bytes < qrt_frontend_scratch_size(t))
        return QRT_ERR_SCRATCH;
    if ((uintptr_t)scratch % sizeof(int32_t))
        return QRT_ERR_ALIGN;
    const uint32_t W = t->win_length, N = n_fft_of(t), quarter = N / 4, M = t->n_mels;
    const int32_t a = t->preemph_q15;
    int32_t *z = (int32_t *)scratch, *logmel = z + N + 2;

    /* pass 1: the frame's largest |y·w| chooses the input scale */
    uint64_t max = 0;
    for (uint32_t j = 0; j < W; j++) {
        int32_t xp = j ? win[j - 1] : prev;
        int32_t y = (int32_t)win[j] * 32768 - a * xp;
        int64_t p = ((int64_t)y * t->window[j <= W / 2 ? j : W - j] + (1 << 14)) >> 15;
        uint64_t ap = (uint64_t)(p < 0 ? -p : p);
        if (ap > max)
            max = ap;
    }
    int sh = 59 - bitlen64(max); /* |p| < 2^46: sh >= 13 */
    if (sh > 30)
        sh = 30;
    int rs = 30 - sh; /* in [0, 17] */

    /* pass 2: v = round(y·w·2^(sh − 30)) (|v| <= 2^29), zero-padded to N, as N/2 complex
     * pairs */
    for (uint32_t j = 0; j < W; j++) {
        int32_t xp = j ? win[j - 1] : prev;
        int32_t y = (int32_t)win[j] * 32768 - a * xp;
        int64_t p = ((int64_t)y * t->window[j <= W / 2 ? j : W - j] + (1 << 14)) >> 15;
        z[j] = (int32_t)(rs ? (p + ((int64_t)1 << (rs - 1))) >> rs : p);
    }
    for (uint32_t j = W; j < N; j++)
        z[j] = 0;
    int halvings = fft_real(z, t->sin_q30, quarter);

    /* |X|² >> r with r such that a band's sum stays below 2^63: |component| < 2^bx,
     * |X|² < 2^(2·bx + 1), at most `widest` bins per band */
    uint32_t mx = 0, widest = 0;
    for (uint32_t i = 0; i < N + 2; i++)
        mx |= z[i] < 0 ? (uint32_t)0 - (uint32_t)z[i] : (uint32_t)z[i];
    for (uint32_t m = 0; m < M; m++)
        if (t->band_off[m + 1] - t->band_off[m] > widest)
            widest = t->band_off[m + 1] - t->band_off[m];
    int r = 2 * bitlen64(mx) + 1 + bitlen64(widest) - 63;
    if (r < 0)
        r = 0;

    /* mel energies and their logs; E is in units of 2^−offset of the real-valued power */
    const int32_t offset = (30 + 2 * sh - 2 * halvings - r) * 65536;
    for (uint32_t m = 0; m < M; m++) {
        uint32_t off = t->band_off[m], cnt = t->band_off[m + 1] - off, lo = t->band_lo[m];
        const uint32_t *w = t->weights + off;
        uint64_t e = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            const int32_t *x = z + 2 * (lo + i);
            uint64_t pw = ((uint64_t)((int64_t)x[0] * x[0]) + (uint64_t)((int64_t)x[1] * x[1]))
                          >> r;
            e += (pw >> 30) * w[i] + (((pw & (ONE_Q30 - 1)) * w[i]) >> 30);
        }
        int32_t l = t->log_floor_q16;
        if (e) {
            int64_t d = (int64_t)log2_q16(e) - offset;
            int32_t v = (int32_t)round_q30(d * LN2_Q30);
            if (v > l)
                l = v;
        }
        logmel[m] = l;
    }
    if (!t->n_mfcc) {
        for (uint32_t m = 0; m < M; m++)
            out[m] = logmel[m];
        return QRT_OK;
    }
    for (uint32_t i = 0; i < t->n_mfcc; i++) {
        const int32_t *d = t->dct_q30 + (size_t)i * M;
        int64_t acc = 0;
        for (uint32_t m = 0; m < M; m++)
            acc += (int64_t)d[m] * logmel[m];
        out[i] = (int32_t)round_q30(acc);
    }
    return QRT_OK;
}

int qrt_frontend_push(qrt_frontend *fe, const int16_t *pcm, size_t n, size_t *used,
                      int32_t *out, void *scratch, size_t scratch_bytes)
{
    if (used)
        *used = 0;
    if (!fe || !fe->t || !fe->buf || (!pcm && n) || !used || !out || !scratch)
        return QRT_ERR_ARG;
    const qrt_frontend_tables *t = fe->t;
    if (scratch_bytes < qrt_frontend_scratch_size(t))
        return QRT_ERR_SCRATCH;
    if ((uintptr_t)scratch % sizeof(int32_t))
        return QRT_ERR_ALIGN;
    const uint32_t W = t->win_length, hop = t->hop_length;
    size_t i = 0;
    while (i < n) {
        if (fe->skip) {
            size_t k = n - i < fe->skip ? n - i : fe->skip;
            fe->prev = pcm[i + k - 1];
            fe->skip -= (uint32_t)k;
            i += k;
            continue;
        }
        fe->buf[fe->fill++] = pcm[i++];
        if (fe->fill < W)
            continue;
        qrt_status s = qrt_frontend_frame(t, fe->buf, fe->prev, out, scratch, scratch_bytes);
        if (hop < W) {
            fe->prev = fe->buf[hop - 1];
            for (uint32_t j = 0; j + hop < W; j++)
                fe->buf[j] = fe->buf[j + hop];
            fe->fill = W - hop;
        } else {
            fe->prev = fe->buf[W - 1];
            fe->fill = 0;
            fe->skip = hop - W;
        }
        *used = i;
        return s == QRT_OK ? 1 : (int)s;
    }
    *used = n;
    return 0;
}

void qrt_frontend_quantize(const qrt_inq *q, const int32_t *feat, int32_t *frame, size_t n,
                           int32_t in_max)
{
    for (size_t i = 0; i < n; i++, q++) {
        int64_t off = (int64_t)((uint64_t)(uint32_t)q->off_hi << 32 | q->off_lo);
        int64_t v = (int64_t)feat[i] * q->mult - off;
        /* + 2^(k−1), or 2^(k−1) − 1 below zero: ties away from zero as on the host */
        v += ((int64_t)1 << (q->k - 1u)) - (v < 0);
        v >>= q->k; /* arithmetic: the floor, as qrt_quantize_raw16's shifts */
        frame[i] = v > in_max ? in_max : v < -in_max ? -in_max : (int32_t)v;
    }
}
