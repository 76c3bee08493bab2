/* Pooling over time for channels-last sequences, and flatten.
 *
 * B = batch, T = input length, C = channels.
 * gap1d (Keras GlobalAveragePooling1D, PyTorch mean over dim 1):
 *   y[b, c] = (1/T) Σ_t x[b, t, c];  (B, T, C) -> (B, C);  dx[b, t, c] += dy[b, c] / T
 * maxpool1d (Keras MaxPooling1D with padding "valid"):
 *   y[b, t, c] = max_{j < pool} x[b, t·stride + j, c];  T_out = floor((T - pool) / stride) + 1
 *   The index of the maximum is kept (aux, uint32 per output at the maximum batch); ties go
 *   to the first (earliest) position, and backward routes dy there only:
 *   dx[b, argmax, c] += dy[b, t, c].
 *   ip[0] = pool, ip[1] = stride.
 * flatten: a reshape to (B, product of the other dimensions) (Keras Flatten). */
#include <stdint.h>
#include <string.h>
#include "ops.h"

/* ---- gap1d --------------------------------------------------------------------------------- */

static qr_status gap1d_shape(qr_graph *g, qr_node *n)
{
    const qr_node *x = n->in[0];
    if (x->ndim != 3)
        return qr_graph_fail(g, QR_ERR_SHAPE, "gap1d: input %s has %d dimensions, not (B, T, C)",
                             x->name, x->ndim);
    n->ndim = 2;
    n->shape[0] = x->shape[0];
    n->shape[1] = x->shape[2];
    n->batched = x->batched;
    return QR_OK;
}

static void gap1d_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *x = n->in[0];
    size_t b = x->shape[0], t = x->shape[1], c = x->shape[2];
    float inv = 1.0f / (float)t;
    for (size_t i = 0; i < b; i++) {
        float *y = n->x + i * c;
        memset(y, 0, c * sizeof *y);
        for (size_t s = 0; s < t; s++) {
            const float *xr = x->x + (i * t + s) * c;
            for (size_t j = 0; j < c; j++)
                y[j] += xr[j];
        }
        for (size_t j = 0; j < c; j++)
            y[j] *= inv;
    }
}

static void gap1d_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *x = n->in[0];
    if (!x->g)
        return;
    size_t b = x->shape[0], t = x->shape[1], c = x->shape[2];
    float inv = 1.0f / (float)t;
    for (size_t i = 0; i < b; i++) {
        const float *dy = n->g + i * c;
        for (size_t s = 0; s < t; s++) {
            float *dx = x->g + (i * t + s) * c;
            for (size_t j = 0; j < c; j++)
                dx[j] += inv * dy[j];
        }
    }
}

const qr_op_def qr_opdef_gap1d = {
    .name = "gap1d", .shape = gap1d_shape, .forward = gap1d_forward, .backward = gap1d_backward,
};

QR_API qr_node *qr_gap1d(qr_graph *g, qr_node *x)
{
    return qr_graph_add_node(g, QR_OP_GAP1D, 1, &x, NULL, NULL);
}

/* ---- maxpool1d -------------------------------------------------------------------------- */

static qr_status maxpool1d_shape(qr_graph *g, qr_node *n)
{
    const qr_node *x = n->in[0];
    if (n->ip[0] < 1 || n->ip[1] < 1)
        return qr_graph_fail(g, QR_ERR_ARG, "maxpool1d: pool %d, stride %d", n->ip[0], n->ip[1]);
    if (x->ndim != 3)
        return qr_graph_fail(g, QR_ERR_SHAPE,
                             "maxpool1d: input %s has %d dimensions, not (B, T, C)", x->name,
                             x->ndim);
    size_t pool = (size_t)n->ip[0], stride = (size_t)n->ip[1], t = x->shape[1];
    if (t < pool)
        return qr_graph_fail(g, QR_ERR_SHAPE, "maxpool1d: input length %zu shorter than pool %zu",
                             t, pool);
    if (t > UINT32_MAX)
        return qr_graph_fail(g, QR_ERR_SHAPE, "maxpool1d: input length %zu too long", t);
    n->ndim = 3;
    n->shape[0] = x->shape[0];
    n->shape[1] = (t - pool) / stride + 1;
    n->shape[2] = x->shape[2];
    n->batched = x->batched;
    return QR_OK;
}

static size_t maxpool1d_aux(const qr_node *n)
{
    return qr_shape_size(n) * sizeof(uint32_t);
}

static void maxpool1d_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *x = n->in[0];
    size_t b = x->shape[0], t = x->shape[1], c = x->shape[2], t_out = n->shape[1];
    size_t pool = (size_t)n->ip[0], stride = (size_t)n->ip[1];
    uint32_t *arg = n->aux; /* (B, T_out, C): time index in x of each output */
    for (size_t i = 0; i < b; i++)
        for (size_t s = 0; s < t_out; s++) {
            size_t t0 = s * stride, o = (i * t_out + s) * c;
            const float *x0 = x->x + (i * t + t0) * c;
            for (size_t j = 0; j < c; j++) {
                n->x[o + j] = x0[j];
                arg[o + j] = (uint32_t)t0;
            }
            for (size_t p = 1; p < pool; p++) {
                const float *xp = x0 + p * c;
                for (size_t j = 0; j < c; j++)
                    if (xp[j] > n->x[o + j]) { /* strict: ties keep the first */
                        n->x[o + j] = xp[j];
                        arg[o + j] = (uint32_t)(t0 + p);
                    }
            }
        }
}

static void maxpool1d_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *x = n->in[0];
    if (!x->g)
        return;
    size_t b = x->shape[0], t = x->shape[1], c = x->shape[2], t_out = n->shape[1];
    const uint32_t *arg = n->aux;
    for (size_t i = 0; i < b; i++)
        for (size_t s = 0; s < t_out; s++) {
            size_t o = (i * t_out + s) * c;
            for (size_t j = 0; j < c; j++)
                x->g[(i * t + arg[o + j]) * c + j] += n->g[o + j];
        }
}

const qr_op_def qr_opdef_maxpool1d = {
    .name = "maxpool1d", .shape = maxpool1d_shape, .forward = maxpool1d_forward,
    .backward = maxpool1d_backward, .aux_bytes = maxpool1d_aux,
};

QR_API qr_node *qr_maxpool1d(qr_graph *g, qr_node *x, int pool, int stride)
{
    if (!g)
        return NULL;
    if (stride == 0)
        stride = pool; /* Keras strides=None */
    if (pool < 1 || stride < 1) {
        qr_graph_fail(g, QR_ERR_ARG, "maxpool1d: pool %d and stride %d must be >= 1", pool,
                      stride);
        return NULL;
    }
    int ip[QR_NODE_NIP] = {pool, stride};
    return qr_graph_add_node(g, QR_OP_MAXPOOL1D, 1, &x, ip, NULL);
}

/* ---- flatten ------------------------------------------------------------------------------- */

QR_API qr_node *qr_flatten(qr_graph *g, qr_node *x)
{
    size_t shape[2] = {1, 1};
    if (x) {
        shape[0] = x->shape[0];
        for (int i = 1; i < x->ndim; i++)
            shape[1] *= x->shape[i];
    }
    return qr_reshape(g, x, 2, shape); /* a NULL x is reported by qr_reshape */
}
