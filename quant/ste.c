/* Opt-in extensions beyond the thesis: straight-through-estimator fake quantization (QAT as
 * Larq, QKeras and Brevitas do it) and grid scales α, per matrix or per output channel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "quant_impl.h"

struct qr_quant_ste {
    qr_quant_plan *plan;   /* the caller's; outlives this (LSQ scales are updated in it) */
    size_t n;              /* STE matrices */
    double *ga;            /* LSQ: ∂L/∂α per channel of one matrix (the most channels) */
    size_t *plan_index;    /* their index in the plan */
    float **shadow;        /* their float weights while the quantized ones are in place */
};

static qr_node *find(qr_graph *g, const char *name)
{
    qr_node *n = qr_graph_find(g, name);
    return n && n->op == QR_OP_PARAM ? n : NULL;
}

/* α = Σ w·q / Σ q² with q = the nearest grid level of w/α: the least-squares scale for the
 * current assignment of weights to levels; two passes let the assignment follow. Over the
 * elements first, first + stride, … below n (stride 1: the whole matrix; per channel c of C:
 * first c, stride C). */
static float fit_alpha(const float *w, size_t n, size_t first, size_t stride, int bits,
                       float alpha)
{
    for (int it = 0; it < 2; it++) {
        double wq = 0.0, qq = 0.0;
        for (size_t i = first; i < n; i += stride) {
            double q = qr_reg_nearest(bits, w[i] / alpha);
            wq += (double)w[i] * q;
            qq += q * q;
        }
        if (qq > 0.0 && wq > 0.0)
            alpha = (float)(wq / qq);
    }
    return alpha;
}

QR_API qr_status qr_quant_begin_training(qr_graph *g, qr_quant_plan *p, qr_quant_ste **out)
{
    *out = NULL;
    if (!p)
        return QR_OK;
    size_t n_ste = 0;
    int any_channel = 0;
    for (size_t i = 0; i < p->n; i++) {
        qr_quant_matrix *q = &p->m[i];
        qr_node *node = find(g, q->name);
        if (q->per_channel) {
            /* the output channels are the last axis of conv1d (k, Cin, C), dense (in, C) and GRU
             * (F, 3H) kernels */
            if (node && node->ndim < 2)
                return QR_ERR_SHAPE;
            q->channels = node && q->regularized ? node->shape[node->ndim - 1] : 0;
            any_channel = 1;
        }
    }
    if (any_channel) {
        qr_status st = qr_quant_plan_alloc_alphas(p);
        if (st != QR_OK)
            return st;
    }
    for (size_t i = 0; i < p->n; i++) {
        qr_quant_matrix *q = &p->m[i];
        qr_node *node = find(g, q->name);
        if (!node || !q->regularized)
            continue;
        size_t cnt = qr_shape_size(node);
        if (q->per_channel && q->channels && q->scale_mode != QR_SCALE_NONE) {
            for (size_t c = 0; c < q->channels; c++) {
                float mx = 0.0f;
                for (size_t k = c; k < cnt; k += q->channels)
                    mx = fabsf(node->x[k]) > mx ? fabsf(node->x[k]) : mx;
                float a = mx > 0.0f ? mx : 1.0f;
                if (q->scale_mode == QR_SCALE_LEARNED || q->scale_mode == QR_SCALE_LSQ)
                    a = fit_alpha(node->x, cnt, c, q->channels, q->bits, a);
                p->alphas[q->alpha_off + c] = a;
            }
        } else if (q->scale_mode != QR_SCALE_NONE) {
            float mx = 0.0f;
            for (size_t k = 0; k < cnt; k++)
                mx = fabsf(node->x[k]) > mx ? fabsf(node->x[k]) : mx;
            q->alpha = mx > 0.0f ? mx : 1.0f;
            if (q->scale_mode == QR_SCALE_LEARNED || q->scale_mode == QR_SCALE_LSQ)
                q->alpha = fit_alpha(node->x, cnt, 0, 1, q->bits, q->alpha);
        }
        n_ste += q->ste != 0;
    }
    if (n_ste == 0)
        return QR_OK;
    size_t most = 1;
    for (size_t i = 0; i < p->n; i++)
        if (p->m[i].ste && p->m[i].per_channel && p->m[i].channels > most)
            most = p->m[i].channels;
    qr_quant_ste *s = calloc(1, sizeof *s);
    if (!s || !(s->plan_index = calloc(n_ste, sizeof *s->plan_index)) ||
        !(s->shadow = calloc(n_ste, sizeof *s->shadow)) || !(s->ga = calloc(most, sizeof *s->ga))) {
        qr_quant_ste_free(s);
        return QR_ERR_NOMEM;
    }
    s->plan = p;
    for (size_t i = 0; i < p->n; i++) {
        qr_node *node = find(g, p->m[i].name);
        if (!node || !p->m[i].regularized || !p->m[i].ste)
            continue;
        s->plan_index[s->n] = i;
        if (!(s->shadow[s->n++] = malloc(qr_shape_size(node) * sizeof(float)))) {
            qr_quant_ste_free(s);
            return QR_ERR_NOMEM;
        }
    }
    *out = s;
    return QR_OK;
}

QR_API void qr_quant_ste_forward(qr_quant_ste *s, qr_graph *g)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n; k++) {
        size_t pi = s->plan_index[k];
        const qr_quant_matrix *q = &s->plan->m[pi];
        qr_node *node = find(g, q->name);
        size_t cnt = qr_shape_size(node);
        memcpy(s->shadow[k], node->x, cnt * sizeof(float));
        if (q->per_channel) {
            for (size_t i = 0; i < cnt; i++) {
                float a = qr_quant_elem_alpha(s->plan, pi, i);
                node->x[i] = a * qr_reg_nearest(q->bits, node->x[i] / a);
            }
        } else {
            float a = qr_quant_alpha(q);
            for (size_t i = 0; i < cnt; i++)
                node->x[i] = a * qr_reg_nearest(q->bits, node->x[i] / a);
        }
    }
}

QR_API float qr_quant_lsq_dq(int bits, float w, float alpha)
{
    float u = w / alpha, n = qr_reg_nearest(bits, u);
    return bits == 1 || fabsf(u) > 1.0f ? n : n - u;
}

/* LSQ: every α of matrix k takes one SGD step on its gradient Σ g·∂q/∂α over its entries
 * (before the STE's edge), scaled by 1/sqrt(entries·M) as Esser et al. (2020) do. */
static void lsq_step(qr_quant_ste *s, size_t k, const float *w, const float *g, size_t cnt)
{
    size_t pi = s->plan_index[k];
    qr_quant_matrix *q = &s->plan->m[pi];
    size_t ch = q->per_channel && q->channels ? q->channels : 1;
    memset(s->ga, 0, ch * sizeof *s->ga);
    for (size_t i = 0; i < cnt; i++)
        s->ga[i % ch] += (double)g[i] *
                         qr_quant_lsq_dq(q->bits, w[i], qr_quant_elem_alpha(s->plan, pi, i));
    double scale = 1.0 / sqrt((double)(cnt / ch) * (double)qr_reg_levels(q->bits));
    for (size_t c = 0; c < ch; c++) {
        float *a = ch > 1 ? &s->plan->alphas[q->alpha_off + c] : &q->alpha;
        double next = (double)*a - (double)q->scale_lr * scale * s->ga[c];
        /* a step through 0 would flip the grid: shrink by at most half instead */
        *a = (float)(next > 0.5 * (double)*a ? next : 0.5 * (double)*a);
    }
}

QR_API void qr_quant_ste_backward(qr_quant_ste *s, qr_graph *g)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n; k++) {
        size_t pi = s->plan_index[k];
        const qr_quant_matrix *q = &s->plan->m[pi];
        qr_node *node = find(g, q->name);
        size_t cnt = qr_shape_size(node);
        memcpy(node->x, s->shadow[k], cnt * sizeof(float));
        if (q->scale_mode == QR_SCALE_LSQ && node->g)
            lsq_step(s, k, node->x, node->g, cnt);
        if (node->g && q->ste_grad == QR_STE_GRAD_APPROXSIGN) {
            for (size_t i = 0; i < cnt; i++)
                node->g[i] *= qr_quant_ste_grad_factor(
                    q, node->x[i] / qr_quant_elem_alpha(s->plan, pi, i));
            continue;
        }
        /* beyond the edge no gradient (by default where the rounding is flat: the clipped STE) */
        float rel = qr_quant_ste_clip(q);
        if (!node->g || isinf(rel))
            continue;
        if (q->per_channel) {
            for (size_t i = 0; i < cnt; i++)
                if (fabsf(node->x[i]) > qr_quant_elem_alpha(s->plan, pi, i) * rel)
                    node->g[i] = 0.0f;
        } else {
            float edge = qr_quant_alpha(q) * rel;
            for (size_t i = 0; i < cnt; i++)
                if (fabsf(node->x[i]) > edge)
                    node->g[i] = 0.0f;
        }
    }
}

QR_API float qr_quant_ste_clip_default(int bits)
{
    return bits == 1 ? 1.0f : 1.0f + 0.5f / (float)qr_reg_levels(bits);
}

QR_API float qr_quant_ste_clip(const qr_quant_matrix *q)
{
    return q->ste_clip > 0.0f ? q->ste_clip : qr_quant_ste_clip_default(q->bits);
}

QR_API float qr_quant_ste_grad_factor(const qr_quant_matrix *q, float u)
{
    float a = fabsf(u);
    if (q->ste_grad == QR_STE_GRAD_APPROXSIGN)
        return a < 1.0f ? 2.0f - 2.0f * a : 0.0f;
    return a > qr_quant_ste_clip(q) ? 0.0f : 1.0f;
}

QR_API void qr_quant_ste_free(qr_quant_ste *s)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n; k++)
        free(s->shadow[k]);
    free(s->shadow);
    free(s->ga);
    free(s->plan_index);
    free(s);
}

QR_API void qr_quant_refit_scales(qr_graph *g, qr_quant_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        qr_quant_matrix *q = &p->m[i];
        qr_node *node;
        if (!q->regularized || q->scale_mode != QR_SCALE_LEARNED || !(node = find(g, q->name)))
            continue;
        size_t cnt = qr_shape_size(node);
        if (q->per_channel) {
            for (size_t c = 0; q->alpha_off + q->channels <= p->n_alphas && c < q->channels; c++)
                p->alphas[q->alpha_off + c] = fit_alpha(node->x, cnt, c, q->channels, q->bits,
                                                        qr_quant_elem_alpha(p, i, c));
        } else {
            q->alpha = fit_alpha(node->x, cnt, 0, 1, q->bits, qr_quant_alpha(q));
        }
    }
}
