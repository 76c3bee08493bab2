/* matmul: y (..., N) = a (..., K) · b (K, N). The leading dimensions of a are one GEMM's M. */
#include "ops.h"

static qr_status matmul_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0], *b = n->in[1];
    if (b->ndim != 2 || b->batched || a->shape[a->ndim - 1] != b->shape[0])
        return QR_ERR_SHAPE;
    n->ndim = a->ndim;
    for (int i = 0; i < a->ndim - 1; i++)
        n->shape[i] = a->shape[i];
    n->shape[a->ndim - 1] = b->shape[1];
    n->batched = a->batched;
    return QR_OK;
}

static void matmul_forward(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *a = n->in[0], *b = n->in[1];
    size_t k = b->shape[0], nn = b->shape[1], m = qr_shape_size(a) / k;
    qr_sgemm(0, 0, m, nn, k, 1.0f, a->x, k, b->x, nn, 0.0f, n->x, nn);
}

static void matmul_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *a = n->in[0], *b = n->in[1];
    size_t k = b->shape[0], nn = b->shape[1], m = qr_shape_size(a) / k;
    if (a->g) /* da += dy · bᵀ */
        qr_sgemm(0, 1, m, k, nn, 1.0f, n->g, nn, b->x, nn, 1.0f, a->g, k);
    if (b->g) /* db += aᵀ · dy */
        qr_sgemm(1, 0, k, nn, m, 1.0f, a->x, k, n->g, nn, 1.0f, b->g, nn);
}

const qr_op_def qr_opdef_matmul = {
    .name = "matmul", .shape = matmul_shape, .forward = matmul_forward,
    .backward = matmul_backward,
};

QR_API qr_node *qr_matmul(qr_graph *g, qr_node *a, qr_node *b)
{
    qr_node *in[2] = {a, b};
    return qr_graph_add_node(g, QR_OP_MATMUL, 2, in, NULL, NULL);
}
