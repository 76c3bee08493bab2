/* Knowledge-distillation loss (docs/method.md §7, Hinton et al. 2015), fused and stable:
 *   L = mean_b [ α · CE(y_b, softmax(s_b)) + (1 − α) · f · KL(softmax(t_b/T) ‖ softmax(s_b/T)) ]
 * with s the student logits (B, C), t the teacher logits (B, C), y the labels (B) as class
 * indices, f = T² (Hinton, default) or 1 (the thesis' eq. 1.5).
 *   dL/ds_b = (1/B) [ α (p_b − onehot(y_b)) + (1 − α) · f/T · (q_s,b − q_t,b) ]
 * where p = softmax(s), q_s = softmax(s/T), q_t = softmax(t/T). Every softmax and log is taken
 * with the row maximum subtracted (log-sum-exp), so huge logits give finite values.
 * Op parameters: fp[0] = α, fp[1] = T, ip[0] = 1 to multiply the KL term by T². */
#include <math.h>
#include "ops.h"

static qr_status kd_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *s = n->in[0], *t = n->in[1], *y = n->in[2];
    if (s->ndim != 2 || t->ndim != 2 || y->ndim != 1 || t->shape[0] != s->shape[0] ||
        t->shape[1] != s->shape[1] || y->shape[0] != s->shape[0])
        return QR_ERR_SHAPE;
    if (!(n->fp[0] >= 0.0f && n->fp[0] <= 1.0f) || !(n->fp[1] > 0.0f))
        return QR_ERR_ARG;
    n->ndim = 1;
    n->shape[0] = 1;
    n->batched = 0;
    return QR_OK;
}

/* p, q_s, q_t: three (B, C) buffers */
static size_t kd_aux(const qr_node *n)
{
    return 3 * qr_shape_size(n->in[0]) * sizeof(float);
}

/* log-softmax of z/temp into out (C values); returns nothing, out[j] = z_j/T − lse */
static void log_softmax(const float *z, size_t c, float temp, double *out)
{
    double m = z[0] / temp;
    for (size_t j = 1; j < c; j++)
        if (z[j] / temp > m)
            m = z[j] / temp;
    double s = 0.0;
    for (size_t j = 0; j < c; j++)
        s += exp(z[j] / temp - m);
    double lse = m + log(s);
    for (size_t j = 0; j < c; j++)
        out[j] = z[j] / temp - lse;
}

static void kd_forward(qr_graph *g, qr_node *n)
{
    const qr_node *s = n->in[0], *t = n->in[1], *y = n->in[2];
    size_t b = s->shape[0], c = s->shape[1];
    float alpha = n->fp[0], temp = n->fp[1];
    double f = n->ip[0] ? (double)temp * temp : 1.0;
    float *p = n->aux, *qs = p + b * c, *qt = qs + b * c;
    double loss = 0.0;
    /* per-row scratch for three log-softmaxes; C is small (classes), use the graph scratch */
    double *ls = (double *)(void *)g->scratch, *lsT = ls + c, *ltT = lsT + c;
    for (size_t i = 0; i < b; i++) {
        const float *si = s->x + i * c, *ti = t->x + i * c;
        float label = y->x[i];
        if (!(label >= 0.0f && label < (float)c) || label != floorf(label)) {
            qr_graph_fail(g, QR_ERR_ARG, "kd: label %g of sample %zu is not a class in 0..%zu",
                          (double)label, i, c - 1);
            n->x[0] = NAN;
            return;
        }
        log_softmax(si, c, 1.0f, ls);
        log_softmax(si, c, temp, lsT);
        log_softmax(ti, c, temp, ltT);
        double kl = 0.0;
        for (size_t j = 0; j < c; j++) {
            p[i * c + j] = (float)exp(ls[j]);
            qs[i * c + j] = (float)exp(lsT[j]);
            double qtj = exp(ltT[j]);
            qt[i * c + j] = (float)qtj;
            kl += qtj * (ltT[j] - lsT[j]);
        }
        loss += alpha * -ls[(size_t)label] + (1.0 - alpha) * f * kl;
    }
    n->x[0] = (float)(loss / (double)b);
}

static void kd_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *s = n->in[0];
    const qr_node *y = n->in[2];
    if (!s->g)
        return;
    size_t b = s->shape[0], c = s->shape[1];
    float alpha = n->fp[0], temp = n->fp[1];
    float f = n->ip[0] ? temp * temp : 1.0f;
    const float *p = n->aux, *qs = p + b * c, *qt = qs + b * c;
    float k = n->g[0] / (float)b, kl = (1.0f - alpha) * f / temp;
    for (size_t i = 0; i < b; i++) {
        size_t label = (size_t)y->x[i];
        for (size_t j = 0; j < c; j++) {
            size_t o = i * c + j;
            s->g[o] += k * (alpha * (p[o] - (j == label ? 1.0f : 0.0f)) + kl * (qs[o] - qt[o]));
        }
    }
}

static size_t kd_scratch(const qr_node *n)
{
    /* three rows of C doubles, counted in floats */
    return 6 * n->in[0]->shape[1];
}

const qr_op_def qr_opdef_kd = {
    .name = "kd", .shape = kd_shape, .forward = kd_forward, .backward = kd_backward,
    .aux_bytes = kd_aux, .scratch_floats = kd_scratch,
};

QR_API qr_node *qr_kd_loss(qr_graph *g, qr_node *student, qr_node *teacher, qr_node *labels,
                           float alpha, float temperature, int t2)
{
    qr_node *in[3] = {student, teacher, labels};
    int ip[QR_NODE_NIP] = {t2 != 0};
    float fp[QR_NODE_NFP] = {alpha, temperature};
    return qr_graph_add_node(g, QR_OP_KD, 3, in, ip, fp);
}
