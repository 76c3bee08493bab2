/* The nine schedules S(t) of docs/method.md §4 that pace the quantization penalty. */
#include <math.h>
#include <string.h>
#include "qreg/quant.h"

static const char *const sched_names[QR_SCHED_COUNT] = {
    [QR_SCHED_NONE] = "none",
    [QR_SCHED_LINEAR] = "linear",
    [QR_SCHED_POLY2] = "poly2",
    [QR_SCHED_POLYN] = "polyN",
    [QR_SCHED_INV_LINEAR] = "inv_linear",
    [QR_SCHED_INV_POLY] = "inv_poly",
    [QR_SCHED_STEP_LINEAR] = "step_linear",
    [QR_SCHED_STEP_INVERSE] = "step_inverse",
    [QR_SCHED_STEP_BOUNDED] = "step_bounded",
};

QR_API const char *qr_sched_name(qr_sched_kind k)
{
    return (int)k >= 0 && k < QR_SCHED_COUNT ? sched_names[k] : NULL;
}

QR_API qr_status qr_sched_parse(const char *name, qr_sched_kind *out)
{
    if (!name)
        return QR_ERR_CONFIG;
    for (int k = 0; k < QR_SCHED_COUNT; k++)
        if (strcmp(name, sched_names[k]) == 0) {
            *out = (qr_sched_kind)k;
            return QR_OK;
        }
    if (strcmp(name, "polyn") == 0) {
        *out = QR_SCHED_POLYN;
        return QR_OK;
    }
    return QR_ERR_CONFIG;
}

QR_API void qr_schedule_default(qr_schedule *s, qr_sched_kind kind)
{
    s->kind = kind;
    s->d = kind == QR_SCHED_INV_POLY ? 0.001 : 0.01;
    s->rate = 0.8;
    s->power = 3.0;
    s->step = 10.0;
}

QR_API qr_status qr_schedule_check(const qr_schedule *s, double t_final)
{
    if ((int)s->kind < 0 || s->kind >= QR_SCHED_COUNT || !(t_final >= 1.0))
        return QR_ERR_CONFIG;
    switch (s->kind) {
    case QR_SCHED_POLYN:
        return s->power > 0.0 && isfinite(s->power) ? QR_OK : QR_ERR_CONFIG;
    case QR_SCHED_INV_LINEAR:
    case QR_SCHED_INV_POLY:
        return s->d > 0.0 && isfinite(s->d) ? QR_OK : QR_ERR_CONFIG;
    case QR_SCHED_STEP_LINEAR:
        return s->step >= 1.0 && s->step <= t_final ? QR_OK : QR_ERR_CONFIG;
    case QR_SCHED_STEP_INVERSE:
    case QR_SCHED_STEP_BOUNDED:
        return s->step >= 1.0 && s->step <= t_final && s->rate > 0.0 && s->rate < 1.0
                   ? QR_OK : QR_ERR_CONFIG;
    default:
        return QR_OK;
    }
}

QR_API double qr_schedule_value(const qr_schedule *s, double t, double T)
{
    switch (s->kind) {
    case QR_SCHED_NONE:
        return 1.0;
    case QR_SCHED_LINEAR:
        return T > 1.0 ? (t - 1.0) / (T - 1.0) : 1.0;
    case QR_SCHED_POLY2:
        return T > 1.0 ? (t * t - 1.0) / (T * T - 1.0) : 1.0;
    case QR_SCHED_POLYN:
        return pow(t / T, s->power);
    case QR_SCHED_INV_LINEAR:
        return 1.0 / (1.0 + 1.0 / (s->d * t));
    case QR_SCHED_INV_POLY:
        return 1.0 / (1.0 + 1.0 / (s->d * t * t));
    case QR_SCHED_STEP_LINEAR: {
        double den = floor(T / s->step);
        return den > 0.0 ? floor(t / s->step) / den : 1.0;
    }
    case QR_SCHED_STEP_INVERSE:
        return pow(s->rate, floor(T / s->step) - floor(t / s->step));
    case QR_SCHED_STEP_BOUNDED:
        return 1.0 - pow(s->rate, floor(t / s->step));
    default:
        return NAN;
    }
}
