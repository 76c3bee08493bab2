/* The quantization regularizers of docs/method.md §3 with their exact derivatives. */
#include <math.h>
#include <string.h>
#include "qreg/quant.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const char *const reg_names[QR_REG_COUNT] = {
    [QR_REG_R1] = "r1",       [QR_REG_R1SQ] = "r1sq",   [QR_REG_REG1A] = "reg1a",
    [QR_REG_REG1B] = "reg1b", [QR_REG_REG1C] = "reg1c", [QR_REG_COS] = "cos",
};

QR_API const char *qr_reg_name(qr_reg_kind k)
{
    return (int)k >= 0 && k < QR_REG_COUNT ? reg_names[k] : NULL;
}

QR_API qr_status qr_reg_parse(const char *name, qr_reg_kind *out)
{
    if (!name)
        return QR_ERR_CONFIG;
    for (int k = 0; k < QR_REG_COUNT; k++)
        if (strcmp(name, reg_names[k]) == 0) {
            *out = (qr_reg_kind)k;
            return QR_OK;
        }
    if (strcmp(name, "reg_n") == 0 || strcmp(name, "regN") == 0 || strcmp(name, "reg_N") == 0) {
        *out = QR_REG_COS;
        return QR_OK;
    }
    return QR_ERR_CONFIG;
}

QR_API int qr_reg_is_binary(qr_reg_kind k)
{
    return k != QR_REG_COS;
}

QR_API int qr_reg_valid(qr_reg_kind k, int bits)
{
    if ((int)k < 0 || k >= QR_REG_COUNT)
        return 0;
    return qr_reg_is_binary(k) ? bits == 1 : bits >= 2 && bits <= 8;
}

QR_API int qr_reg_levels(int bits)
{
    return bits <= 1 ? 1 : (1 << (bits - 1)) - 1;
}

static double sgn(double w)
{
    return (w > 0) - (w < 0);
}

QR_API double qr_reg_value(qr_reg_kind k, int bits, double w)
{
    double a = fabs(w);
    switch (k) {
    case QR_REG_R1: return fabs(1.0 - a);
    case QR_REG_R1SQ: return (1.0 - a) * (1.0 - a);
    case QR_REG_REG1A: return (w * w - 1.0) * (w * w - 1.0);
    case QR_REG_REG1B: return fabs(w * w - 1.0);
    case QR_REG_REG1C: return a <= 1.5 ? cos(M_PI * w) + 1.0 : M_PI * (a - 1.5) + 1.0;
    case QR_REG_COS: {
        double m = qr_reg_levels(bits);
        return a <= 1.0 + 0.25 / m ? 1.0 - cos(2.0 * M_PI * m * w)
                                   : 1.0 + 2.0 * M_PI * ((a - 1.0) * m - 0.25);
    }
    default: return NAN;
    }
}

QR_API double qr_reg_deriv(qr_reg_kind k, int bits, double w)
{
    double a = fabs(w);
    switch (k) {
    case QR_REG_R1: /* d|1 − |w||/dw = −sgn(w)·sgn(1 − |w|) */
        return -sgn(w) * sgn(1.0 - a);
    case QR_REG_R1SQ: return -2.0 * (1.0 - a) * sgn(w);
    case QR_REG_REG1A: return 4.0 * w * (w * w - 1.0);
    case QR_REG_REG1B: return 2.0 * w * sgn(w * w - 1.0);
    case QR_REG_REG1C: return a <= 1.5 ? -M_PI * sin(M_PI * w) : M_PI * sgn(w);
    case QR_REG_COS: {
        double m = qr_reg_levels(bits);
        return a <= 1.0 + 0.25 / m ? 2.0 * M_PI * m * sin(2.0 * M_PI * m * w)
                                   : 2.0 * M_PI * m * sgn(w);
    }
    default: return NAN;
    }
}

/* Round to nearest (ties to even) by the 1.5·2^52 trick: exact for |v| < 2^51, no libm call,
 * so the loops below vectorize (with -fno-fast-math the addition is not reassociated). */
#define QR_ROUND_MAGIC 6755399441055744.0

/* sin(2πf) and cos(2πf) for f in [−1/2, 1/2]: reduce to a quarter turn q = round(4f) and
 * t = f − q/4 in [−1/8, 1/8], evaluate the Taylor polynomials of a = 2πt (|a| ≤ π/4: error
 * below 2e-9), then rotate by q·π/2 with selects. Branch-free, for vectorization. */
static inline void sincos_turn(double f, double *sn, double *cs)
{
    double q = (4.0 * f + QR_ROUND_MAGIC) - QR_ROUND_MAGIC;
    double a = 2.0 * M_PI * (f - 0.25 * q), a2 = a * a;
    double s = a * (1.0 + a2 * (-1.0 / 6 + a2 * (1.0 / 120 + a2 * (-1.0 / 5040 + a2 / 362880))));
    double c = 1.0 + a2 * (-0.5 + a2 * (1.0 / 24 + a2 * (-1.0 / 720 + a2 / 40320)));
    /* q ∈ {−2, −1, 0, 1, 2}: sin(a + qπ/2), cos(a + qπ/2) */
    double s1 = q == 1.0 ? c : q == -1.0 ? -c : q == 0.0 ? s : -s;
    double c1 = q == 1.0 ? -s : q == -1.0 ? s : q == 0.0 ? c : -c;
    *sn = s1;
    *cs = c1;
}

/* Reg_N over w/α, g += gc·Reg'(w/α) with gc = coef/α. Reg_N is periodic in u = x·M with period
 * 1, so u is reduced to f = u − round(u) exactly in double before the trigonometry. Eight
 * lanes of partial sums keep the value's summation order fixed and let the loop vectorize. */
static double cos_apply(int bits, const float *w, size_t n, float inv, float gc, float *g)
{
    double m = qr_reg_levels(bits);
    double lim = 1.0 + 0.25 / m, c = 2.0 * M_PI * m;
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        double val[8], der[8];
        for (size_t j = 0; j < 8; j++) { /* pure arithmetic: vectorizes */
            double x = (double)(w[i + j] * inv), ax = fabs(x);
            double u = x * m, f = u - ((u + QR_ROUND_MAGIC) - QR_ROUND_MAGIC);
            double sn, cs;
            sincos_turn(f, &sn, &cs);
            int in = ax <= lim;
            val[j] = in ? 1.0 - cs : 1.0 + 2.0 * M_PI * ((ax - 1.0) * m - 0.25);
            der[j] = in ? c * sn : (x > 0 ? c : -c);
        }
        for (size_t j = 0; j < 8; j++)
            lane[j] += val[j];
        if (g)
            for (size_t j = 0; j < 8; j++)
                g[i + j] += gc * (float)der[j];
    }
    double sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; i < n; i++) {
        double x = (double)(w[i] * inv), ax = fabs(x);
        double u = x * m, f = u - ((u + QR_ROUND_MAGIC) - QR_ROUND_MAGIC);
        double sn, cs;
        sincos_turn(f, &sn, &cs);
        int in = ax <= lim;
        sum += in ? 1.0 - cs : 1.0 + 2.0 * M_PI * ((ax - 1.0) * m - 0.25);
        if (g)
            g[i] += gc * (float)(in ? c * sn : (x > 0 ? c : -c));
    }
    return sum;
}

/* reg1c at one element in float (value, and its derivative in *d): the one expression both
 * the per-matrix and the per-channel loops use, so they agree bit for bit. */
static inline float reg1c_elem(float x, float *d)
{
    const float pi = (float)M_PI;
    if (fabsf(x) <= 1.5f) {
        *d = -pi * sinf(pi * x);
        return cosf(pi * x) + 1.0f;
    }
    *d = x > 0 ? pi : -pi;
    return pi * (fabsf(x) - 1.5f) + 1.0f;
}

/* reg1c's loop runs in float with sinf/cosf, Reg_N's in cos_apply above; the value sum is
 * accumulated in double. One switch per call, not per element. With α = 1 (the thesis) the
 * scaling multiplies by exactly 1. */
QR_API double qr_reg_apply_scaled(qr_reg_kind k, int bits, const float *w, size_t n,
                                  float alpha, float coef, float *g)
{
    double sum = 0.0;
    const float inv = 1.0f / alpha, gc = coef * inv;
    switch (k) {
    case QR_REG_REG1C:
        for (size_t i = 0; i < n; i++) {
            float d, v = reg1c_elem(w[i] * inv, &d);
            sum += (double)v;
            if (g)
                g[i] += gc * d;
        }
        return sum;
    case QR_REG_COS:
        return cos_apply(bits, w, n, inv, gc, g);
    default:
        for (size_t i = 0; i < n; i++) {
            float x = w[i] * inv;
            sum += qr_reg_value(k, bits, x);
            if (g)
                g[i] += gc * (float)qr_reg_deriv(k, bits, x);
        }
        return sum;
    }
}

/* Per channel: element i uses the formulas of qr_reg_apply_scaled with its channel's 1/α
 * (the same float expressions, so one channel of scale α gives the same values as the
 * per-matrix call); the value is summed in double in element order. */
QR_API double qr_reg_apply_channels(qr_reg_kind k, int bits, const float *w, size_t n,
                                    const float *alpha, size_t channels, float coef, float *g)
{
    double sum = 0.0;
    double m = qr_reg_levels(bits), lim = 1.0 + 0.25 / m, c2 = 2.0 * M_PI * m;
    for (size_t i = 0, ch = 0; i < n; i++, ch = ch + 1 == channels ? 0 : ch + 1) {
        const float inv = 1.0f / alpha[ch], gc = coef * inv;
        float x = w[i] * inv;
        if (k == QR_REG_REG1C) {
            float d, v = reg1c_elem(x, &d);
            sum += (double)v;
            if (g)
                g[i] += gc * d;
        } else if (k == QR_REG_COS) {
            double xd = (double)x, ax = fabs(xd);
            double u = xd * m, f = u - ((u + QR_ROUND_MAGIC) - QR_ROUND_MAGIC);
            double sn, cs;
            sincos_turn(f, &sn, &cs);
            int in = ax <= lim;
            sum += in ? 1.0 - cs : 1.0 + 2.0 * M_PI * ((ax - 1.0) * m - 0.25);
            if (g)
                g[i] += gc * (float)(in ? c2 * sn : (xd > 0 ? c2 : -c2));
        } else {
            sum += qr_reg_value(k, bits, x);
            if (g)
                g[i] += gc * (float)qr_reg_deriv(k, bits, x);
        }
    }
    return sum;
}

QR_API double qr_reg_max_slope(qr_reg_kind k, int bits)
{
    switch (k) {
    case QR_REG_R1: return 1.0;                       /* |Reg'| = 1 off the kinks */
    case QR_REG_R1SQ: return 2.0;                     /* 2(1 − |w|), largest as w → 0 */
    case QR_REG_REG1A: return 8.0 / (3.0 * sqrt(3.0)); /* |4w(w² − 1)| at w² = 1/3 */
    case QR_REG_REG1B: return 2.0;                    /* |2w|, largest as |w| → 1 */
    case QR_REG_REG1C: return M_PI;                   /* π |sin πw| at w = ±1/2, and beyond 3/2 */
    case QR_REG_COS: return 2.0 * M_PI * qr_reg_levels(bits); /* at w = 1/(4M), and beyond */
    default: return NAN;
    }
}

QR_API double qr_reg_apply(qr_reg_kind k, int bits, const float *w, size_t n, float coef,
                           float *g)
{
    return qr_reg_apply_scaled(k, bits, w, n, 1.0f, coef, g);
}

QR_API float qr_reg_nearest(int bits, float w)
{
    if (bits <= 1)
        return w >= 0.0f ? 1.0f : -1.0f;
    float m = (float)qr_reg_levels(bits);
    float q = roundf(w * m);
    if (q > m)
        q = m;
    if (q < -m)
        q = -m;
    return q / m;
}

QR_API double qr_reg_share_near(int bits, const float *w, size_t n, double eps)
{
    if (n == 0)
        return 0.0;
    size_t near = 0;
    for (size_t i = 0; i < n; i++)
        near += fabs((double)w[i] - (double)qr_reg_nearest(bits, w[i])) <= eps;
    return (double)near / (double)n;
}
