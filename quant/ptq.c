/* Applying a plan to a model: the penalty's gradient, statistics, post-training
 * quantization (fake-quantized weights) and the thesis' byte accounting. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "qreg/quant.h"
#include "quant_impl.h"

static qr_node *matrix_node(qr_graph *g, const qr_quant_matrix *q)
{
    qr_node *n = qr_graph_find(g, q->name);
    return n && n->op == QR_OP_PARAM ? n : NULL;
}

QR_API double qr_quant_coef(const qr_quant_plan *p, size_t i, size_t n, double t, double t_final)
{
    const qr_quant_matrix *q = &p->m[i];
    double coef = (double)q->lambda * qr_schedule_value(&q->schedule, t, t_final);
    if (q->mean)
        coef /= (double)(n ? n : 1);
    if (q->lambda_norm == QR_LAMBDA_NORM_SLOPE)
        coef /= qr_reg_max_slope(q->reg, q->bits);
    return coef;
}

/* A per-channel matrix whose scales are set: its channel count matches the parameter. */
static int channel_scaled(const qr_quant_plan *p, const qr_quant_matrix *q, size_t cnt)
{
    return q->per_channel && q->channels && cnt % q->channels == 0 &&
           q->alpha_off + q->channels <= p->n_alphas;
}

QR_API double qr_quant_apply(const qr_quant_plan *p, qr_graph *g, double t, double t_final)
{
    double penalty = 0.0;
    for (size_t i = 0; i < p->n; i++) {
        const qr_quant_matrix *q = &p->m[i];
        qr_node *n;
        if (!q->regularized || q->ste || q->lambda == 0.0f || !(n = matrix_node(g, q)) || !n->g)
            continue;
        size_t cnt = qr_shape_size(n);
        double coef = qr_quant_coef(p, i, cnt, t, t_final);
        if (coef == 0.0)
            continue;
        if (channel_scaled(p, q, cnt))
            penalty += coef * qr_reg_apply_channels(q->reg, q->bits, n->x, cnt,
                                                    p->alphas + q->alpha_off, q->channels,
                                                    (float)coef, n->g);
        else
            penalty += coef * qr_reg_apply_scaled(q->reg, q->bits, n->x, cnt,
                                                  qr_quant_alpha(q), (float)coef, n->g);
    }
    return penalty;
}

/* The grid scale α of a matrix (1 unless an opt-in scale mode set it). */
float qr_quant_alpha(const qr_quant_matrix *q)
{
    return q->alpha > 0.0f ? q->alpha : 1.0f;
}

/* The PTQ value of one weight under matrix q, with `a` its grid scale and `scale` its 8-bit
 * min-max scale. */
static float ptq_value(const qr_quant_matrix *q, float w, float a, float scale)
{
    if (q->regularized) {
        return a * qr_reg_nearest(q->bits, w / a);
    }
    if (scale == 0.0f)
        return 0.0f;
    float k = roundf(w / scale);
    k = k > 127.0f ? 127.0f : k < -127.0f ? -127.0f : k;
    return k * scale;
}

static float minmax_scale(const float *w, size_t n)
{
    float mx = 0.0f;
    for (size_t i = 0; i < n; i++)
        if (fabsf(w[i]) > mx)
            mx = fabsf(w[i]);
    return mx / 127.0f;
}

QR_API void qr_quant_stats(const qr_quant_plan *p, qr_graph *g, double t, double t_final,
                           qr_quant_stat *stats)
{
    for (size_t i = 0; i < p->n; i++) {
        const qr_quant_matrix *q = &p->m[i];
        qr_quant_stat *st = &stats[i];
        memset(st, 0, sizeof *st);
        qr_node *n = matrix_node(g, q);
        if (!n)
            continue;
        size_t cnt = qr_shape_size(n);
        int per_ch = q->regularized && channel_scaled(p, q, cnt);
        float alpha = qr_quant_alpha(q);
        float mm = q->bits == 1 ? 1.0f : (float)qr_reg_levels(q->bits);
        float scale = q->regularized ? alpha / mm : minmax_scale(n->x, cnt);
        if (per_ch) { /* the mean step over the channels */
            double sum = 0.0;
            for (size_t c = 0; c < q->channels; c++)
                sum += (double)(p->alphas[q->alpha_off + c] / mm);
            st->scale = sum / (double)q->channels;
        } else {
            st->scale = scale;
        }
        st->schedule = q->regularized ? qr_schedule_value(&q->schedule, t, t_final) : 0.0;
        st->reg = !q->regularized ? 0.0
                  : per_ch ? qr_reg_apply_channels(q->reg, q->bits, n->x, cnt,
                                                   p->alphas + q->alpha_off, q->channels, 0.0f,
                                                   NULL)
                           : qr_reg_apply_scaled(q->reg, q->bits, n->x, cnt, alpha, 0.0f, NULL);
        /* ε is relative to the grid spacing: near_eps·α/M for N bits, near_eps·α for ±α,
         * near_eps·s for 8-bit min-max (per channel: that channel's α) */
        size_t near = 0;
        double err = 0.0;
        for (size_t k = 0; k < cnt; k++) {
            float a = per_ch ? qr_quant_elem_alpha(p, i, k) : alpha;
            double eps = p->near_eps * (per_ch ? (double)(a / mm) : (double)scale);
            double d = fabs((double)n->x[k] - (double)ptq_value(q, n->x[k], a, scale));
            err += d;
            near += d <= eps;
        }
        st->share_near = cnt ? (double)near / (double)cnt : 0.0;
        st->mean_abs_err = cnt ? err / (double)cnt : 0.0;
    }
}

QR_API void qr_quant_fake(const qr_quant_plan *p, qr_graph *g)
{
    for (size_t i = 0; i < p->n; i++) {
        const qr_quant_matrix *q = &p->m[i];
        qr_node *n = matrix_node(g, q);
        if (!n)
            continue;
        size_t cnt = qr_shape_size(n);
        float scale = q->regularized ? 0.0f : minmax_scale(n->x, cnt);
        int per_ch = q->regularized && channel_scaled(p, q, cnt);
        float alpha = qr_quant_alpha(q);
        for (size_t k = 0; k < cnt; k++)
            n->x[k] = ptq_value(q, n->x[k], per_ch ? qr_quant_elem_alpha(p, i, k) : alpha, scale);
    }
}

QR_API double qr_quant_bytes(const qr_quant_plan *p, qr_graph *g, double *baseline)
{
    double bits = 0.0, base = 0.0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const qr_node *n = g->nodes[i];
        if (n->op != QR_OP_PARAM)
            continue;
        /* constant stand-ins (a bias-free GRU's zero biases) are not stored */
        const char *slash = strrchr(n->name, '/');
        if (slash && strncmp(slash + 1, "zero_", 5) == 0)
            continue;
        double cnt = (double)qr_shape_size(n);
        int weight_bits = 0;
        for (size_t k = 0; k < p->n; k++)
            if (strcmp(p->m[k].name, n->name) == 0)
                weight_bits = p->m[k].bits;
        bits += cnt * (weight_bits ? weight_bits : 32);
        base += cnt * (weight_bits ? 8 : 32);
    }
    if (baseline)
        *baseline = base / 8.0;
    return bits / 8.0;
}

QR_API void qr_quant_histogram(const float *w, size_t n, double lo, double hi, size_t bins,
                               size_t *counts, size_t *below, size_t *above)
{
    memset(counts, 0, bins * sizeof *counts);
    *below = *above = 0;
    double scale = (double)bins / (hi - lo);
    for (size_t i = 0; i < n; i++) {
        double v = w[i];
        if (v < lo) {
            (*below)++;
        } else if (v >= hi || !(v == v)) {
            (*above)++;
        } else {
            size_t b = (size_t)((v - lo) * scale);
            counts[b < bins ? b : bins - 1]++;
        }
    }
}
