/* Shape ops: reshape (a view), transpose of two axes, slice and concat along an axis, and
 * the reductions sum and mean over one axis or over everything.
 * An axis splits a tensor into (outer, len, inner): outer = product of the dimensions
 * before it, inner = product of those after it. */
#include <string.h>
#include "ops.h"

static void split_at(const qr_node *n, int axis, size_t *outer, size_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < axis; i++)
        *outer *= n->shape[i];
    for (int i = axis + 1; i < n->ndim; i++)
        *inner *= n->shape[i];
}

/* ---- reshape: ip[0] = ndim, ip[1..4] = dims (dimension 0 follows a batched input) ------ */

static qr_status reshape_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0];
    int nd = n->ip[0];
    if (nd < 1 || nd > QR_MAX_DIMS)
        return QR_ERR_SHAPE;
    size_t want = 1, have = qr_shape_size(a);
    for (int i = 0; i < nd; i++) {
        if (n->ip[1 + i] <= 0)
            return QR_ERR_SHAPE;
        n->shape[i] = (size_t)n->ip[1 + i];
    }
    if (a->batched)
        n->shape[0] = a->shape[0];
    for (int i = 0; i < nd; i++)
        want *= n->shape[i];
    if (want != have)
        return QR_ERR_SHAPE;
    n->ndim = nd;
    n->batched = a->batched;
    return QR_OK;
}

const qr_op_def qr_opdef_reshape = {.name = "reshape", .shape = reshape_shape, .alias = 1};

QR_API qr_node *qr_reshape(qr_graph *g, qr_node *a, int ndim, const size_t *shape)
{
    int ip[QR_NODE_NIP] = {ndim};
    if (ndim < 1 || ndim > QR_MAX_DIMS || !shape) {
        if (g)
            qr_graph_fail(g, QR_ERR_ARG, "reshape: %d dimensions", ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        ip[1 + i] = shape[i] > 0x7fffffff ? -1 : (int)shape[i];
    if (a && a->batched)
        ip[1] = (int)a->shape[0];
    return qr_graph_add_node(g, QR_OP_RESHAPE, 1, &a, ip, NULL);
}

/* ---- transpose: swap axes ip[0] and ip[1] ------------------------------------------------ */

static qr_status transpose_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0];
    int p = n->ip[0], q = n->ip[1];
    if (p < 0 || q < 0 || p >= a->ndim || q >= a->ndim)
        return QR_ERR_SHAPE;
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        n->shape[i] = a->shape[i];
    n->shape[p] = a->shape[q];
    n->shape[q] = a->shape[p];
    n->batched = a->batched && p != 0 && q != 0;
    return QR_OK;
}

/* Copy src into dst with axes p and q swapped (dst shape = src shape swapped). When `acc`,
 * add instead of store (the backward direction, src = dy, dst = da with dims swapped). */
static void transpose_copy(const qr_node *src_shape_node, int p, int q, const float *src,
                           float *dst, int acc)
{
    size_t d[QR_MAX_DIMS] = {1, 1, 1, 1}, st[QR_MAX_DIMS], dst_st[QR_MAX_DIMS];
    int nd = src_shape_node->ndim, off = QR_MAX_DIMS - nd;
    for (int i = 0; i < nd; i++)
        d[off + i] = src_shape_node->shape[i];
    /* source strides (contiguous) */
    st[QR_MAX_DIMS - 1] = 1;
    for (int i = QR_MAX_DIMS - 2; i >= 0; i--)
        st[i] = st[i + 1] * d[i + 1];
    /* destination shape is d with p, q swapped; its contiguous strides, then permuted so
     * dst_st[i] is the destination stride of source axis i */
    size_t dd[QR_MAX_DIMS], ds[QR_MAX_DIMS];
    memcpy(dd, d, sizeof dd);
    dd[off + p] = d[off + q];
    dd[off + q] = d[off + p];
    ds[QR_MAX_DIMS - 1] = 1;
    for (int i = QR_MAX_DIMS - 2; i >= 0; i--)
        ds[i] = ds[i + 1] * dd[i + 1];
    memcpy(dst_st, ds, sizeof dst_st);
    dst_st[off + p] = ds[off + q];
    dst_st[off + q] = ds[off + p];
    for (size_t i0 = 0; i0 < d[0]; i0++)
        for (size_t i1 = 0; i1 < d[1]; i1++)
            for (size_t i2 = 0; i2 < d[2]; i2++) {
                const float *s = src + i0 * st[0] + i1 * st[1] + i2 * st[2];
                float *t = dst + i0 * dst_st[0] + i1 * dst_st[1] + i2 * dst_st[2];
                if (acc)
                    for (size_t i3 = 0; i3 < d[3]; i3++)
                        t[i3 * dst_st[3]] += s[i3];
                else
                    for (size_t i3 = 0; i3 < d[3]; i3++)
                        t[i3 * dst_st[3]] = s[i3];
            }
}

static void transpose_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    transpose_copy(n->in[0], n->ip[0], n->ip[1], n->in[0]->x, n->x, 0);
}

static void transpose_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    if (n->in[0]->g) /* dy has the swapped shape: swapping back is the same swap */
        transpose_copy(n, n->ip[0], n->ip[1], n->g, n->in[0]->g, 1);
}

const qr_op_def qr_opdef_transpose = {
    .name = "transpose", .shape = transpose_shape, .forward = transpose_forward,
    .backward = transpose_backward,
};

QR_API qr_node *qr_transpose(qr_graph *g, qr_node *a, int axis0, int axis1)
{
    int ip[QR_NODE_NIP] = {axis0, axis1};
    return qr_graph_add_node(g, QR_OP_TRANSPOSE, 1, &a, ip, NULL);
}

/* ---- slice: ip[0] = axis, ip[1] = start, ip[2] = len ------------------------------------ */

static qr_status slice_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0];
    int axis = n->ip[0];
    if (axis < 0 || axis >= a->ndim || (axis == 0 && a->batched) || n->ip[1] < 0 ||
        n->ip[2] <= 0 || (size_t)n->ip[1] + (size_t)n->ip[2] > a->shape[axis])
        return QR_ERR_SHAPE;
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        n->shape[i] = a->shape[i];
    n->shape[axis] = (size_t)n->ip[2];
    n->batched = a->batched;
    return QR_OK;
}

static void slice_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0];
    size_t outer, inner, len = (size_t)n->ip[2], start = (size_t)n->ip[1];
    split_at(a, n->ip[0], &outer, &inner);
    size_t alen = a->shape[n->ip[0]];
    for (size_t o = 0; o < outer; o++)
        memcpy(n->x + o * len * inner, a->x + (o * alen + start) * inner,
               len * inner * sizeof(float));
}

static void slice_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *a = n->in[0];
    if (!a->g)
        return;
    size_t outer, inner, len = (size_t)n->ip[2], start = (size_t)n->ip[1];
    split_at(a, n->ip[0], &outer, &inner);
    size_t alen = a->shape[n->ip[0]];
    for (size_t o = 0; o < outer; o++) {
        const float *dy = n->g + o * len * inner;
        float *da = a->g + (o * alen + start) * inner;
        for (size_t i = 0; i < len * inner; i++)
            da[i] += dy[i];
    }
}

const qr_op_def qr_opdef_slice = {
    .name = "slice", .shape = slice_shape, .forward = slice_forward,
    .backward = slice_backward,
};

QR_API qr_node *qr_slice(qr_graph *g, qr_node *a, int axis, size_t start, size_t len)
{
    if (start > 0x7fffffff || len > 0x7fffffff) {
        if (g)
            qr_graph_fail(g, QR_ERR_ARG, "slice: start/len too large");
        return NULL;
    }
    int ip[QR_NODE_NIP] = {axis, (int)start, (int)len};
    return qr_graph_add_node(g, QR_OP_SLICE, 1, &a, ip, NULL);
}

/* ---- concat: ip[0] = axis ---------------------------------------------------------------- */

static qr_status concat_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0];
    int axis = n->ip[0];
    if (n->n_in < 1 || axis < 0 || axis >= a->ndim)
        return QR_ERR_SHAPE;
    size_t total = 0;
    for (int k = 0; k < n->n_in; k++) {
        const qr_node *p = n->in[k];
        if (p->ndim != a->ndim || p->batched != a->batched)
            return QR_ERR_SHAPE;
        for (int i = 0; i < a->ndim; i++)
            if (i != axis && p->shape[i] != a->shape[i])
                return QR_ERR_SHAPE;
        total += p->shape[axis];
    }
    if (axis == 0 && a->batched)
        return QR_ERR_SHAPE;
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        n->shape[i] = a->shape[i];
    n->shape[axis] = total;
    n->batched = a->batched;
    return QR_OK;
}

static void concat_run(qr_node *n, int backward)
{
    size_t outer, inner;
    split_at(n, n->ip[0], &outer, &inner);
    size_t ylen = n->shape[n->ip[0]], at = 0;
    for (int k = 0; k < n->n_in; k++) {
        qr_node *p = n->in[k];
        size_t plen = p->shape[n->ip[0]], blk = plen * inner;
        if (!backward) {
            for (size_t o = 0; o < outer; o++)
                memcpy(n->x + (o * ylen + at) * inner, p->x + o * blk, blk * sizeof(float));
        } else if (p->g) {
            for (size_t o = 0; o < outer; o++) {
                const float *dy = n->g + (o * ylen + at) * inner;
                float *dp = p->g + o * blk;
                for (size_t i = 0; i < blk; i++)
                    dp[i] += dy[i];
            }
        }
        at += plen;
    }
}

static void concat_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    concat_run(n, 0);
}

static void concat_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    concat_run(n, 1);
}

const qr_op_def qr_opdef_concat = {
    .name = "concat", .shape = concat_shape, .forward = concat_forward,
    .backward = concat_backward,
};

QR_API qr_node *qr_concat(qr_graph *g, int axis, int n, qr_node *const *parts)
{
    int ip[QR_NODE_NIP] = {axis};
    if (n < 1 || n > QR_NODE_MAX_IN || !parts) {
        if (g)
            qr_graph_fail(g, QR_ERR_ARG, "concat: %d parts (1 to %d)", n, QR_NODE_MAX_IN);
        return NULL;
    }
    return qr_graph_add_node(g, QR_OP_CONCAT, n, parts, ip, NULL);
}

/* ---- sum and mean: ip[0] = axis, -1 for all (a scalar of shape (1)) ---------------------- */

static qr_status reduce_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0];
    int axis = n->ip[0];
    if (axis < -1 || axis >= a->ndim)
        return QR_ERR_SHAPE;
    if (axis == -1 || a->ndim == 1) {
        n->ndim = 1;
        n->shape[0] = 1;
        n->batched = 0;
        return QR_OK;
    }
    n->ndim = a->ndim - 1;
    for (int i = 0, j = 0; i < a->ndim; i++)
        if (i != axis)
            n->shape[j++] = a->shape[i];
    n->batched = a->batched && axis != 0;
    return QR_OK;
}

/* scale = 1 (sum) or 1/len (mean) */
static void reduce_forward_scaled(qr_node *n, int mean)
{
    const qr_node *a = n->in[0];
    size_t outer, inner, len;
    if (n->ip[0] == -1) {
        outer = inner = 1;
        len = qr_shape_size(a);
    } else {
        split_at(a, n->ip[0], &outer, &inner);
        len = a->shape[n->ip[0]];
    }
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double s = 0.0; /* double: a long sum in float loses the small terms */
            for (size_t l = 0; l < len; l++)
                s += a->x[(o * len + l) * inner + i];
            n->x[o * inner + i] = (float)(mean ? s / (double)len : s);
        }
}

static void reduce_backward_scaled(qr_node *n, int mean)
{
    qr_node *a = n->in[0];
    if (!a->g)
        return;
    size_t outer, inner, len;
    if (n->ip[0] == -1) {
        outer = inner = 1;
        len = qr_shape_size(a);
    } else {
        split_at(a, n->ip[0], &outer, &inner);
        len = a->shape[n->ip[0]];
    }
    float k = mean ? 1.0f / (float)len : 1.0f;
    for (size_t o = 0; o < outer; o++)
        for (size_t l = 0; l < len; l++) {
            float *da = a->g + (o * len + l) * inner;
            const float *dy = n->g + o * inner;
            for (size_t i = 0; i < inner; i++)
                da[i] += k * dy[i];
        }
}

static void sum_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    reduce_forward_scaled(n, 0);
}
static void sum_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    reduce_backward_scaled(n, 0);
}
static void mean_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    reduce_forward_scaled(n, 1);
}
static void mean_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    reduce_backward_scaled(n, 1);
}

const qr_op_def qr_opdef_sum = {
    .name = "sum", .shape = reduce_shape, .forward = sum_forward, .backward = sum_backward,
};
const qr_op_def qr_opdef_mean = {
    .name = "mean", .shape = reduce_shape, .forward = mean_forward, .backward = mean_backward,
};

QR_API qr_node *qr_sum(qr_graph *g, qr_node *a, int axis)
{
    int ip[QR_NODE_NIP] = {axis};
    return qr_graph_add_node(g, QR_OP_SUM, 1, &a, ip, NULL);
}

QR_API qr_node *qr_mean(qr_graph *g, qr_node *a, int axis)
{
    int ip[QR_NODE_NIP] = {axis};
    return qr_graph_add_node(g, QR_OP_MEAN, 1, &a, ip, NULL);
}
