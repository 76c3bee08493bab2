/* Optimizers (SGD, Adam, Nadam) on a flat parameter array, following Keras 3's
 * keras/src/optimizers/{sgd,adam,nadam}.py operation by operation (same association
 * order in float), so a run tracks Keras' float32 arithmetic closely. Per-step scalars
 * (bias corrections, Nadam's schedule) are computed once per step; the per-element loops
 * are branch-free float loops over restrict pointers, which the compiler can vectorize.
 * Nothing here allocates after qr_optim_new. */
#include "qreg/optim.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

struct qr_optim {
    qr_optim_config cfg;
    size_t n;
    uint64_t iterations;
    size_t state_size; /* floats at state; see the layout in optim.h */
    float *state;
};

QR_API void qr_optim_config_default(qr_optim_config *c, qr_optim_kind kind)
{
    if (c == NULL)
        return;
    c->kind = kind;
    c->lr = (kind == QR_OPTIM_ADAM || kind == QR_OPTIM_NADAM) ? 1e-3f : 0.01f;
    c->momentum = 0.0f;
    c->nesterov = 0;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-7f;
    c->schedule_decay = 1.0f;
}

QR_API qr_status qr_optim_config_check(const qr_optim_config *c)
{
    if (c == NULL)
        return QR_ERR_ARG;
    /* Written so that NaN fails every test. */
    if (!(isfinite(c->lr) && c->lr >= 0.0f))
        return QR_ERR_CONFIG;
    switch (c->kind) {
    case QR_OPTIM_SGD:
        if (!(c->momentum >= 0.0f && c->momentum <= 1.0f))
            return QR_ERR_CONFIG;
        return QR_OK;
    case QR_OPTIM_ADAM:
    case QR_OPTIM_NADAM:
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
            return QR_ERR_CONFIG;
        if (!(isfinite(c->eps) && c->eps >= 0.0f))
            return QR_ERR_CONFIG;
        if (c->kind == QR_OPTIM_NADAM && !(isfinite(c->schedule_decay) && c->schedule_decay >= 0.0f))
            return QR_ERR_CONFIG;
        return QR_OK;
    case QR_OPTIM_KIND_COUNT:
    default:
        return QR_ERR_CONFIG;
    }
}

/* Number of state floats for n parameters, or 0 with *ok = 0 on size overflow. */
static size_t state_floats(const qr_optim_config *c, size_t n, int *ok)
{
    const size_t max = SIZE_MAX / sizeof(float);
    *ok = 1;
    switch (c->kind) {
    case QR_OPTIM_SGD:
        return c->momentum != 0.0f ? n : 0;
    case QR_OPTIM_ADAM:
        if (n > max / 2) {
            *ok = 0;
            return 0;
        }
        return 2 * n;
    case QR_OPTIM_NADAM:
        if (n > (max - 1) / 2) {
            *ok = 0;
            return 0;
        }
        return 2 * n + 1;
    case QR_OPTIM_KIND_COUNT:
    default:
        *ok = 0;
        return 0;
    }
}

QR_API qr_optim *qr_optim_new(const qr_optim_config *c, size_t n)
{
    if (qr_optim_config_check(c) != QR_OK)
        return NULL;
    int ok;
    size_t ns = state_floats(c, n, &ok);
    if (!ok)
        return NULL;
    qr_optim *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->cfg = *c;
    o->n = n;
    o->state_size = ns;
    if (ns > 0) {
        o->state = calloc(ns, sizeof(float));
        if (o->state == NULL) {
            free(o);
            return NULL;
        }
    }
    if (c->kind == QR_OPTIM_NADAM)
        o->state[2 * n] = 1.0f; /* P_0: empty product */
    return o;
}

QR_API void qr_optim_free(qr_optim *o)
{
    if (o == NULL)
        return;
    free(o->state);
    free(o);
}

/* ---- per-element kernels ------------------------------------------------------------ */

static void sgd_plain(float *restrict w, const float *restrict g, size_t n, float lr)
{
    for (size_t i = 0; i < n; i++)
        w[i] -= g[i] * lr;
}

static void sgd_momentum(float *restrict w, float *restrict vel, const float *restrict g, size_t n,
                         float lr, float mom)
{
    for (size_t i = 0; i < n; i++) {
        vel[i] = vel[i] * mom - g[i] * lr;
        w[i] += vel[i];
    }
}

static void sgd_nesterov(float *restrict w, float *restrict vel, const float *restrict g, size_t n,
                         float lr, float mom)
{
    for (size_t i = 0; i < n; i++) {
        vel[i] = vel[i] * mom - g[i] * lr;
        w[i] += vel[i] * mom - g[i] * lr;
    }
}

static void adam_update(float *restrict w, float *restrict m, float *restrict v,
                        const float *restrict g, size_t n, float alpha, float c1, float c2,
                        float eps)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] += (gi - m[i]) * c1;
        v[i] += (gi * gi - v[i]) * c2;
        w[i] -= (m[i] * alpha) / (sqrtf(v[i]) + eps);
    }
}

/* Scalars of one Nadam step; names follow keras/src/optimizers/nadam.py. */
typedef struct nadam_coef {
    float u_t1;          /* u_{t+1} */
    float one_m_u_t;     /* 1 - u_t */
    float one_m_prod_t;  /* 1 - P_t */
    float one_m_prod_t1; /* 1 - P_{t+1} */
    float one_m_b2p;     /* 1 - β2^t */
} nadam_coef;

static void nadam_update(float *restrict w, float *restrict m, float *restrict v,
                         const float *restrict g, size_t n, nadam_coef k, float lr, float c1,
                         float c2, float eps)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] += (gi - m[i]) * c1;
        v[i] += (gi * gi - v[i]) * c2;
        float m_hat = (k.u_t1 * m[i]) / k.one_m_prod_t1 + (k.one_m_u_t * gi) / k.one_m_prod_t;
        float v_hat = v[i] / k.one_m_b2p;
        w[i] -= (m_hat * lr) / (sqrtf(v_hat) + eps);
    }
}

/* ---- step ----------------------------------------------------------------------------- */

QR_API qr_status qr_optim_step(qr_optim *o, float *w, const float *g)
{
    if (o == NULL || (o->n > 0 && (w == NULL || g == NULL)))
        return QR_ERR_ARG;
    const qr_optim_config *c = &o->cfg;
    const size_t n = o->n;
    const double t = (double)o->iterations + 1.0; /* Keras local_step */

    switch (c->kind) {
    case QR_OPTIM_SGD:
        if (c->momentum == 0.0f)
            sgd_plain(w, g, n, c->lr);
        else if (c->nesterov)
            sgd_nesterov(w, o->state, g, n, c->lr, c->momentum);
        else
            sgd_momentum(w, o->state, g, n, c->lr, c->momentum);
        break;
    case QR_OPTIM_ADAM: {
        /* Bias corrections folded into the step size (Keras form). */
        double b1p = pow((double)c->beta1, t), b2p = pow((double)c->beta2, t);
        float alpha = (float)((double)c->lr * sqrt(1.0 - b2p) / (1.0 - b1p));
        adam_update(w, o->state, o->state + n, g, n, alpha, 1.0f - c->beta1, 1.0f - c->beta2,
                    c->eps);
        break;
    }
    case QR_OPTIM_NADAM: {
        /* Keras updates the running product before the per-variable step:
         * P_t = P_{t-1}·β1·(1 - 0.5·0.96^(d·t)), in float, in this association order. */
        float *prod = &o->state[2 * n];
        const double d = (double)c->schedule_decay;
        float sched_t = (float)(1.0 - 0.5 * pow(0.96, d * t));
        float sched_t1 = (float)(1.0 - 0.5 * pow(0.96, d * (t + 1.0)));
        *prod = (*prod * c->beta1) * sched_t;
        float u_t = c->beta1 * sched_t;
        float u_t1 = c->beta1 * sched_t1;
        float prod_t1 = *prod * u_t1;
        nadam_coef k = {
            .u_t1 = u_t1,
            .one_m_u_t = 1.0f - u_t,
            .one_m_prod_t = 1.0f - *prod,
            .one_m_prod_t1 = 1.0f - prod_t1,
            .one_m_b2p = (float)(1.0 - pow((double)c->beta2, t)),
        };
        nadam_update(w, o->state, o->state + n, g, n, k, c->lr, 1.0f - c->beta1,
                     1.0f - c->beta2, c->eps);
        break;
    }
    case QR_OPTIM_KIND_COUNT:
    default:
        return QR_ERR_STATE; /* unreachable: the config was checked in qr_optim_new */
    }
    o->iterations++;
    return QR_OK;
}

/* ---- accessors ------------------------------------------------------------------------ */

QR_API size_t qr_optim_size(const qr_optim *o)
{
    return o != NULL ? o->n : 0;
}

QR_API void qr_optim_get_config(const qr_optim *o, qr_optim_config *out)
{
    if (o != NULL && out != NULL)
        *out = o->cfg;
}

QR_API uint64_t qr_optim_iterations(const qr_optim *o)
{
    return o != NULL ? o->iterations : 0;
}

QR_API void qr_optim_set_iterations(qr_optim *o, uint64_t it)
{
    if (o != NULL)
        o->iterations = it;
}

QR_API void qr_optim_set_lr(qr_optim *o, float lr)
{
    if (o != NULL)
        o->cfg.lr = lr;
}

QR_API float qr_optim_lr(const qr_optim *o)
{
    return o != NULL ? o->cfg.lr : 0.0f;
}

QR_API size_t qr_optim_state_size(const qr_optim *o)
{
    return o != NULL ? o->state_size : 0;
}

QR_API float *qr_optim_state(qr_optim *o)
{
    return o != NULL ? o->state : NULL;
}

QR_API float qr_optim_u_product(const qr_optim *o)
{
    if (o == NULL || o->cfg.kind != QR_OPTIM_NADAM)
        return 1.0f;
    return o->state[2 * o->n];
}

QR_API qr_status qr_optim_set_u_product(qr_optim *o, float p)
{
    if (o == NULL)
        return QR_ERR_ARG;
    if (o->cfg.kind != QR_OPTIM_NADAM)
        return QR_ERR_STATE;
    o->state[2 * o->n] = p;
    return QR_OK;
}

QR_API qr_status qr_optim_reset_elements(qr_optim *o, const uint8_t *mask)
{
    if (o == NULL || (o->n > 0 && mask == NULL))
        return QR_ERR_ARG;
    /* Per-element state is whole blocks of n floats from the start (velocity, or m then
     * v); Nadam's trailing P is not per element and is kept. */
    size_t blocks = o->cfg.kind == QR_OPTIM_SGD ? (o->state_size > 0 ? 1 : 0) : 2;
    for (size_t b = 0; b < blocks; b++) {
        float *s = o->state + b * o->n;
        for (size_t i = 0; i < o->n; i++)
            s[i] = mask[i] ? s[i] : 0.0f;
    }
    return QR_OK;
}

/* ---- gradient helpers ----------------------------------------------------------------- */

QR_API float qr_grad_clip_norm(float *g, size_t n, float max_norm)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * (double)g[i];
    double norm = sqrt(ss);
    if (max_norm > 0.0f && isfinite(norm) && norm > (double)max_norm) {
        const float scale = (float)((double)max_norm / norm);
        for (size_t i = 0; i < n; i++)
            g[i] *= scale;
    }
    return (float)norm;
}

QR_API void qr_grad_add_l2(float *g, const float *w, size_t n, float l2)
{
    const float k = 2.0f * l2; /* d/dw (l2·w²) */
    for (size_t i = 0; i < n; i++)
        g[i] += k * w[i];
}
