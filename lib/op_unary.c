/* Element-wise activations: relu, sigmoid, tanh, and prelu with one slope per channel
 * (the last axis). Backward of relu/sigmoid/tanh uses the output y, so no state is kept. */
#include <math.h>
#include "ops.h"

static qr_status unary_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0];
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        n->shape[i] = a->shape[i];
    n->batched = a->batched;
    return QR_OK;
}

/* relu: y = max(a, 0), NaN stays NaN; dy/da = 1 where a > 0 (0 at the kink, as PyTorch) */
static void relu_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    size_t total = qr_shape_size(n);
    const float *a = n->in[0]->x;
    for (size_t i = 0; i < total; i++)
        n->x[i] = a[i] < 0.0f ? 0.0f : a[i]; /* NaN propagates, as in PyTorch */
}

static void relu_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    float *da = n->in[0]->g;
    if (!da)
        return;
    size_t total = qr_shape_size(n);
    const float *restrict y = n->x, *restrict dy = n->g;
    float *restrict dx = da;
    /* dy is loaded unconditionally so that the select is a vector blend (a load under the
     * condition cannot be speculated: the loop stayed a mispredicting branch, 4 ns/element) */
    for (size_t i = 0; i < total; i++) {
        float d = dy[i];
        dx[i] += y[i] > 0.0f ? d : 0.0f;
    }
}

/* sigmoid: y = 1/(1+e^-a), written so that exp never overflows; dy/da = y(1-y) */
static void sigmoid_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    size_t total = qr_shape_size(n);
    const float *a = n->in[0]->x;
    for (size_t i = 0; i < total; i++) {
        float v = a[i];
        if (v >= 0.0f) {
            n->x[i] = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v);
            n->x[i] = e / (1.0f + e);
        }
    }
}

static void sigmoid_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    float *da = n->in[0]->g;
    if (!da)
        return;
    size_t total = qr_shape_size(n);
    for (size_t i = 0; i < total; i++)
        da[i] += n->g[i] * n->x[i] * (1.0f - n->x[i]);
}

/* tanh: dy/da = 1 - y² */
static void tanh_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    size_t total = qr_shape_size(n);
    const float *a = n->in[0]->x;
    for (size_t i = 0; i < total; i++)
        n->x[i] = tanhf(a[i]);
}

static void tanh_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    float *da = n->in[0]->g;
    if (!da)
        return;
    size_t total = qr_shape_size(n);
    for (size_t i = 0; i < total; i++)
        da[i] += n->g[i] * (1.0f - n->x[i] * n->x[i]);
}

const qr_op_def qr_opdef_relu = {
    .name = "relu", .shape = unary_shape, .forward = relu_forward, .backward = relu_backward,
};
const qr_op_def qr_opdef_sigmoid = {
    .name = "sigmoid", .shape = unary_shape, .forward = sigmoid_forward,
    .backward = sigmoid_backward,
};
const qr_op_def qr_opdef_tanh = {
    .name = "tanh", .shape = unary_shape, .forward = tanh_forward, .backward = tanh_backward,
};

QR_API qr_node *qr_relu(qr_graph *g, qr_node *a)
{
    return qr_graph_add_node(g, QR_OP_RELU, 1, &a, NULL, NULL);
}

QR_API qr_node *qr_sigmoid(qr_graph *g, qr_node *a)
{
    return qr_graph_add_node(g, QR_OP_SIGMOID, 1, &a, NULL, NULL);
}

QR_API qr_node *qr_tanh(qr_graph *g, qr_node *a)
{
    return qr_graph_add_node(g, QR_OP_TANH, 1, &a, NULL, NULL);
}

/* ---- prelu: y = a if a > 0 else s[c]·a, c = index on the last axis ---------------------- */

static qr_status prelu_shape(qr_graph *g, qr_node *n)
{
    const qr_node *a = n->in[0], *s = n->in[1];
    if (s->ndim != 1 || s->batched || s->shape[0] != a->shape[a->ndim - 1])
        return QR_ERR_SHAPE;
    return unary_shape(g, n);
}

static void prelu_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    const float *a = n->in[0]->x, *s = n->in[1]->x;
    size_t c = n->in[1]->shape[0], rows = qr_shape_size(n) / c;
    float *y = n->x;
    for (size_t r = 0; r < rows; r++, a += c, y += c)
        for (size_t j = 0; j < c; j++)
            y[j] = a[j] > 0.0f ? a[j] : s[j] * a[j];
}

static void prelu_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *in = n->in[0], *sl = n->in[1];
    size_t c = sl->shape[0], rows = qr_shape_size(n) / c;
    for (size_t r = 0; r < rows; r++) {
        const float *a = in->x + r * c, *dy = n->g + r * c;
        if (in->g) {
            float *da = in->g + r * c;
            for (size_t j = 0; j < c; j++)
                da[j] += a[j] > 0.0f ? dy[j] : sl->x[j] * dy[j];
        }
        if (sl->g)
            for (size_t j = 0; j < c; j++)
                sl->g[j] += a[j] > 0.0f ? 0.0f : dy[j] * a[j];
    }
}

const qr_op_def qr_opdef_prelu = {
    .name = "prelu", .shape = prelu_shape, .forward = prelu_forward, .backward = prelu_backward,
};

QR_API qr_node *qr_prelu(qr_graph *g, qr_node *a, qr_node *slope)
{
    qr_node *in[2] = {a, slope};
    return qr_graph_add_node(g, QR_OP_PRELU, 2, in, NULL, NULL);
}
