/* Losses, each a scalar (shape (1)).
 * softmax_ce: logits (B, C), labels (B) with class indices stored as floats.
 *   L = (1/B) Σ_b [logsumexp(z_b) - z_b[y_b]], computed with the max subtracted so exp
 *   never overflows; the softmax p is kept (aux) and dL/dz = (p - onehot(y)) / B.
 * mse: a and target of equal shape, L = (1/n) Σ (a - t)², dL/da = 2(a - t)/n. */
#include <math.h>
#include "ops.h"

static qr_status ce_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *z = n->in[0], *y = n->in[1];
    if (z->ndim != 2 || y->ndim != 1 || y->shape[0] != z->shape[0])
        return QR_ERR_SHAPE;
    n->ndim = 1;
    n->shape[0] = 1;
    n->batched = 0;
    return QR_OK;
}

static size_t ce_aux(const qr_node *n)
{
    return qr_shape_size(n->in[0]) * sizeof(float);
}

static void ce_forward(qr_graph *g, qr_node *n)
{
    const qr_node *z = n->in[0], *y = n->in[1];
    size_t b = z->shape[0], c = z->shape[1];
    float *p = n->aux;
    double loss = 0.0;
    for (size_t i = 0; i < b; i++) {
        const float *zi = z->x + i * c;
        float *pi = p + i * c;
        float label = y->x[i];
        if (!(label >= 0.0f && label < (float)c) || label != floorf(label)) {
            qr_graph_fail(g, QR_ERR_ARG, "softmax_ce: label %g of sample %zu is not a class in 0..%zu",
                          (double)label, i, c - 1);
            n->x[0] = NAN;
            return;
        }
        float m = zi[0];
        for (size_t j = 1; j < c; j++)
            if (zi[j] > m)
                m = zi[j];
        double s = 0.0;
        for (size_t j = 0; j < c; j++) {
            pi[j] = expf(zi[j] - m);
            s += pi[j];
        }
        float inv = (float)(1.0 / s);
        for (size_t j = 0; j < c; j++)
            pi[j] *= inv;
        loss += (double)m + log(s) - (double)zi[(size_t)label];
    }
    n->x[0] = (float)(loss / (double)b);
}

static void ce_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *z = n->in[0];
    const qr_node *y = n->in[1];
    if (!z->g)
        return;
    size_t b = z->shape[0], c = z->shape[1];
    const float *p = n->aux;
    float k = n->g[0] / (float)b;
    for (size_t i = 0; i < b; i++) {
        size_t label = (size_t)y->x[i];
        for (size_t j = 0; j < c; j++)
            z->g[i * c + j] += k * (p[i * c + j] - (j == label ? 1.0f : 0.0f));
    }
}

const qr_op_def qr_opdef_softmax_ce = {
    .name = "softmax_ce", .shape = ce_shape, .forward = ce_forward, .backward = ce_backward,
    .aux_bytes = ce_aux,
};

QR_API qr_node *qr_softmax_ce(qr_graph *g, qr_node *logits, qr_node *labels)
{
    qr_node *in[2] = {logits, labels};
    return qr_graph_add_node(g, QR_OP_SOFTMAX_CE, 2, in, NULL, NULL);
}

/* The softmax probabilities of the last forward pass, (B, C); NULL for another op. */
QR_API const float *qr_softmax_ce_probs(const qr_node *n)
{
    return n && n->op == QR_OP_SOFTMAX_CE ? n->aux : NULL;
}

/* ---- mse ------------------------------------------------------------------------------- */

static qr_status mse_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0], *t = n->in[1];
    if (a->ndim != t->ndim)
        return QR_ERR_SHAPE;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != t->shape[i])
            return QR_ERR_SHAPE;
    n->ndim = 1;
    n->shape[0] = 1;
    n->batched = 0;
    return QR_OK;
}

static void mse_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0], *t = n->in[1];
    size_t total = qr_shape_size(a);
    double s = 0.0;
    for (size_t i = 0; i < total; i++) {
        double d = (double)a->x[i] - (double)t->x[i];
        s += d * d;
    }
    n->x[0] = (float)(s / (double)total);
}

static void mse_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *a = n->in[0], *t = n->in[1];
    size_t total = qr_shape_size(a);
    float k = 2.0f * n->g[0] / (float)total;
    for (size_t i = 0; i < total; i++) {
        float d = k * (a->x[i] - t->x[i]);
        if (a->g)
            a->g[i] += d;
        if (t->g)
            t->g[i] -= d;
    }
}

const qr_op_def qr_opdef_mse = {
    .name = "mse", .shape = mse_shape, .forward = mse_forward, .backward = mse_backward,
};

QR_API qr_node *qr_mse(qr_graph *g, qr_node *a, qr_node *target)
{
    qr_node *in[2] = {a, target};
    return qr_graph_add_node(g, QR_OP_MSE, 2, in, NULL, NULL);
}
