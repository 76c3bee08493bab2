/* Element-wise add, sub, mul with bias broadcast, and scale by a constant.
 * Broadcast: b's shape equals a's, or a's trailing dimensions (a bias (C) over (B, T, C)).
 * Then a is `rows` repetitions of b's `cols` elements. */
#include "ops.h"

static qr_status binary_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0], *b = n->in[1];
    if (b->ndim > a->ndim)
        return QR_ERR_SHAPE;
    int off = a->ndim - b->ndim;
    for (int i = 0; i < b->ndim; i++)
        if (b->shape[i] != a->shape[off + i])
            return QR_ERR_SHAPE;
    /* a batched b must line up with a's batch axis (same rank) */
    if (b->batched && off != 0)
        return QR_ERR_SHAPE;
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        n->shape[i] = a->shape[i];
    n->batched = a->batched;
    return QR_OK;
}

static void binary_dims(const qr_node *n, size_t *rows, size_t *cols)
{
    *cols = qr_shape_size(n->in[1]);
    *rows = qr_shape_size(n->in[0]) / *cols;
}

static void add_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    size_t rows, cols;
    binary_dims(n, &rows, &cols);
    const float *a = n->in[0]->x, *b = n->in[1]->x;
    float *y = n->x;
    for (size_t r = 0; r < rows; r++, a += cols, y += cols)
        for (size_t j = 0; j < cols; j++)
            y[j] = a[j] + b[j];
}

static void sub_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    size_t rows, cols;
    binary_dims(n, &rows, &cols);
    const float *a = n->in[0]->x, *b = n->in[1]->x;
    float *y = n->x;
    for (size_t r = 0; r < rows; r++, a += cols, y += cols)
        for (size_t j = 0; j < cols; j++)
            y[j] = a[j] - b[j];
}

static void mul_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    size_t rows, cols;
    binary_dims(n, &rows, &cols);
    const float *a = n->in[0]->x, *b = n->in[1]->x;
    float *y = n->x;
    for (size_t r = 0; r < rows; r++, a += cols, y += cols)
        for (size_t j = 0; j < cols; j++)
            y[j] = a[j] * b[j];
}

/* add and sub: da += dy; db += sign · Σ_rows dy */
static void addsub_backward(qr_node *n, float sign)
{
    size_t rows, cols;
    binary_dims(n, &rows, &cols);
    qr_node *a = n->in[0], *b = n->in[1];
    const float *dy = n->g;
    if (a->g) {
        size_t total = rows * cols;
        for (size_t i = 0; i < total; i++)
            a->g[i] += dy[i];
    }
    if (b->g)
        for (size_t r = 0; r < rows; r++, dy += cols)
            for (size_t j = 0; j < cols; j++)
                b->g[j] += sign * dy[j];
}

static void add_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    addsub_backward(n, 1.0f);
}

static void sub_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    addsub_backward(n, -1.0f);
}

/* mul: da += dy ⊙ b; db += Σ_rows dy ⊙ a */
static void mul_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    size_t rows, cols;
    binary_dims(n, &rows, &cols);
    qr_node *a = n->in[0], *b = n->in[1];
    const float *dy = n->g, *ax = a->x;
    for (size_t r = 0; r < rows; r++, dy += cols, ax += cols) {
        if (a->g) {
            float *da = a->g + r * cols;
            for (size_t j = 0; j < cols; j++)
                da[j] += dy[j] * b->x[j];
        }
        if (b->g)
            for (size_t j = 0; j < cols; j++)
                b->g[j] += dy[j] * ax[j];
    }
}

const qr_op_def qr_opdef_add = {
    .name = "add", .shape = binary_shape, .forward = add_forward, .backward = add_backward,
};
const qr_op_def qr_opdef_sub = {
    .name = "sub", .shape = binary_shape, .forward = sub_forward, .backward = sub_backward,
};
const qr_op_def qr_opdef_mul = {
    .name = "mul", .shape = binary_shape, .forward = mul_forward, .backward = mul_backward,
};

QR_API qr_node *qr_add(qr_graph *g, qr_node *a, qr_node *b)
{
    qr_node *in[2] = {a, b};
    return qr_graph_add_node(g, QR_OP_ADD, 2, in, NULL, NULL);
}

QR_API qr_node *qr_sub(qr_graph *g, qr_node *a, qr_node *b)
{
    qr_node *in[2] = {a, b};
    return qr_graph_add_node(g, QR_OP_SUB, 2, in, NULL, NULL);
}

QR_API qr_node *qr_mul(qr_graph *g, qr_node *a, qr_node *b)
{
    qr_node *in[2] = {a, b};
    return qr_graph_add_node(g, QR_OP_MUL, 2, in, NULL, NULL);
}

/* ---- scale: y = c · a (fp[0] = c) ------------------------------------------------------ */

static qr_status same_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0];
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++)
        n->shape[i] = a->shape[i];
    n->batched = a->batched;
    return QR_OK;
}

static void scale_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    size_t total = qr_shape_size(n);
    float c = n->fp[0];
    for (size_t i = 0; i < total; i++)
        n->x[i] = c * n->in[0]->x[i];
}

static void scale_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *a = n->in[0];
    if (!a->g)
        return;
    size_t total = qr_shape_size(n);
    float c = n->fp[0];
    for (size_t i = 0; i < total; i++)
        a->g[i] += c * n->g[i];
}

const qr_op_def qr_opdef_scale = {
    .name = "scale", .shape = same_shape, .forward = scale_forward, .backward = scale_backward,
};

QR_API qr_node *qr_scale(qr_graph *g, qr_node *a, float c)
{
    float fp[QR_NODE_NFP] = {c};
    return qr_graph_add_node(g, QR_OP_SCALE, 1, &a, NULL, fp);
}
