/* The quantization regularizers of SPEC.md §2 with their exact derivatives. */
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

/* The hot loop runs in float with sinf/cosf for the cosine families; the value sum is
 * accumulated in double. One switch per call, not per element. With α = 1 (the thesis) the
 * scaling multiplies by exactly 1. */
QR_API double qr_reg_apply_scaled(qr_reg_kind k, int bits, const float *w, size_t n,
                                  float alpha, float coef, float *g)
{
    double sum = 0.0;
    const float pi = (float)M_PI, inv = 1.0f / alpha, gc = coef * inv;
    switch (k) {
    case QR_REG_REG1C:
        for (size_t i = 0; i < n; i++) {
            float x = w[i] * inv, a = fabsf(x);
            if (a <= 1.5f) {
                sum += (double)(cosf(pi * x) + 1.0f);
                if (g)
                    g[i] += gc * (-pi * sinf(pi * x));
            } else {
                sum += (double)(pi * (a - 1.5f) + 1.0f);
                if (g)
                    g[i] += gc * (x > 0 ? pi : -pi);
            }
        }
        return sum;
    case QR_REG_COS: {
        /* Reg_N is periodic in u = w·M with period 1: reduce u to f = u − rint(u) in double
         * (exact for a float times an integer) so sinf/cosf see |2πf| ≤ π and keep full
         * float precision even for M = 127. */
        double m = qr_reg_levels(bits);
        float lim = (float)(1.0 + 0.25 / m), c = (float)(2.0 * M_PI * m);
        for (size_t i = 0; i < n; i++) {
            float x = w[i] * inv, a = fabsf(x);
            if (a <= lim) {
                double u = (double)x * m;
                float ang = 2.0f * pi * (float)(u - rint(u));
                sum += (double)(1.0f - cosf(ang));
                if (g)
                    g[i] += gc * c * sinf(ang);
            } else {
                sum += 1.0 + 2.0 * M_PI * (((double)a - 1.0) * m - 0.25);
                if (g)
                    g[i] += gc * (x > 0 ? c : -c);
            }
        }
        return sum;
    }
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
