/* Activation fake quantization with a straight-through gradient (QAT of the integer runtime's
 * activation tensors, docs/quantization.md "Activations"):
 *   forward   y = s · clamp(round(x / s), −A, A),  s = r / A,  r = range[0]; y = x while r = 0
 *   backward  dx += dy where |x| ≤ r (or r = 0), else 0
 * Training mode with update set first moves r toward the batch's max |x| (moving max).
 * in[0] = x, in[1] = range (a 1-element buffer); ip[0] = A, ip[1] = update; fp[0] = momentum.
 * aux: the range the forward used, so backward clips where forward did. */
#include <math.h>
#include "ops.h"

static qr_status fq_shape(qr_graph *g, qr_node *n)
{
    const qr_node *a = n->in[0];
    if (qr_shape_size(n->in[1]) != 1)
        return qr_graph_fail(g, QR_ERR_SHAPE, "fake_quant: the range must have 1 element");
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        n->shape[i] = a->shape[i];
    n->batched = a->batched;
    return QR_OK;
}

static size_t fq_aux(const qr_node *n)
{
    (void)n;
    return sizeof(float);
}

static void fq_forward(qr_graph *g, qr_node *n)
{
    size_t total = qr_shape_size(n);
    const float *x = n->in[0]->x;
    float *range = n->in[1]->x;
    float a = (float)n->ip[0];
    if (qr_graph_training(g) && n->ip[1]) {
        float m = 0.0f;
        for (size_t i = 0; i < total; i++)
            m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
        /* NaN elements are passed over (fabsf(NaN) > m is false); an all-zero batch or an
         * infinite one leaves the range as it was */
        if (isfinite(m) && m > 0.0f)
            range[0] = range[0] > 0.0f ? n->fp[0] * range[0] + (1.0f - n->fp[0]) * m : m;
    }
    float r = range[0];
    *(float *)n->aux = r;
    if (!(r > 0.0f)) {
        for (size_t i = 0; i < total; i++)
            n->x[i] = x[i];
        return;
    }
    float s = r / a, inv = a / r;
    for (size_t i = 0; i < total; i++) {
        float q = roundf(x[i] * inv);
        q = q > a ? a : q < -a ? -a : q; /* NaN stays NaN */
        n->x[i] = q * s;
    }
}

static void fq_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    float *dx = n->in[0]->g;
    if (!dx)
        return;
    size_t total = qr_shape_size(n);
    const float *x = n->in[0]->x, *dy = n->g;
    float r = *(const float *)n->aux;
    if (!(r > 0.0f)) {
        for (size_t i = 0; i < total; i++)
            dx[i] += dy[i];
        return;
    }
    for (size_t i = 0; i < total; i++) {
        float d = dy[i];
        dx[i] += fabsf(x[i]) <= r ? d : 0.0f;
    }
}

const qr_op_def qr_opdef_fake_quant = {
    .name = "fake_quant", .shape = fq_shape, .forward = fq_forward, .backward = fq_backward,
    .aux_bytes = fq_aux,
};

QR_API qr_node *qr_fake_quant(qr_graph *g, qr_node *x, qr_node *range, int levels, int update,
                              float momentum)
{
    if (!g)
        return NULL;
    if (levels < 1 || !(momentum >= 0.0f && momentum <= 1.0f) || !range) {
        qr_graph_fail(g, QR_ERR_ARG, "fake_quant: levels %d must be >= 1, momentum %g in "
                      "[0, 1], and a range given", levels, (double)momentum);
        return NULL;
    }
    int ip[QR_NODE_NIP] = {levels, update != 0};
    float fp[QR_NODE_NFP] = {momentum};
    qr_node *in[2] = {x, range};
    return qr_graph_add_node(g, QR_OP_FAKE_QUANT, 2, in, ip, fp);
}
