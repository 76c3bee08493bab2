/* qreg — tensors and reverse-mode autograd on a static graph.
 *
 * A graph is built once with builder calls (qr_input, qr_param, qr_matmul, ...), compiled
 * (every buffer allocated in a handful of arenas), then run many times: qr_graph_forward,
 * qr_graph_backward, an optimizer step on the parameter arena. Nodes are kept in creation
 * order, which is a topological order because a node can only name nodes that exist.
 * See docs/autograd.md for the design.
 *
 * Tensors are float32, contiguous, row-major, 1 to 4 dimensions. Dimension 0 of every
 * input is the batch; qr_graph_set_batch changes it (up to the compiled maximum) and
 * re-infers all shapes without allocating.
 *
 * Builders never fail loudly: on error they return NULL and record the first error in the
 * graph (qr_graph_status / qr_graph_error); a NULL argument propagates as NULL. Check once
 * after building. All nodes belong to the graph and die with qr_graph_free.
 */
#ifndef QREG_GRAPH_H
#define QREG_GRAPH_H

#include "qreg/common.h"
#include "qreg/rng.h"

#define QR_MAX_DIMS 4

typedef struct qr_graph qr_graph;
typedef struct qr_node qr_node;

/* Operations. The numeric values are internal: files store names (qr_op_name). */
typedef enum qr_op {
    QR_OP_INPUT = 0,   /* data fed by the caller; no gradient */
    QR_OP_PARAM,       /* learnable tensor in the parameter arena (or a non-trainable buffer) */
    QR_OP_MATMUL,      /* y = a · b; a (..., K), b (K, N) -> (..., N) */
    QR_OP_ADD,         /* y = a + b; b's shape equal to a's or to a's trailing dims (bias broadcast) */
    QR_OP_SUB,         /* y = a - b; broadcast as add */
    QR_OP_MUL,         /* y = a ⊙ b; broadcast as add */
    QR_OP_SCALE,       /* y = c · a, c a constant */
    QR_OP_SUM,         /* y = Σ a over one axis, or over all elements (axis -1) -> scalar */
    QR_OP_MEAN,        /* y = mean of a over one axis, or over all elements */
    QR_OP_RESHAPE,     /* same data, new shape (dimension 0 kept as the batch) */
    QR_OP_TRANSPOSE,   /* y = a with two axes swapped */
    QR_OP_SLICE,       /* y = a[..., start:start+len, ...] along one axis */
    QR_OP_CONCAT,      /* y = [a_1, ..., a_n] along one axis */
    QR_OP_RELU,        /* y = max(a, 0) */
    QR_OP_PRELU,       /* y = a if a > 0 else slope[c] · a; slope (C) over the last axis */
    QR_OP_SIGMOID,     /* y = 1 / (1 + exp(-a)) */
    QR_OP_TANH,        /* y = tanh(a) */
    QR_OP_SOFTMAX_CE,  /* y = mean_b -log softmax(logits_b)[label_b]; labels (B) as class indices */
    QR_OP_MSE,         /* y = mean (a - target)^2 */
    /* sequence layers (Conv1D family) */
    /* recurrent layers */
    QR_OP_COUNT
} qr_op;

/* Stable name of an op ("matmul", "softmax_ce", ...); NULL if out of range. */
QR_API const char *qr_op_name(qr_op op);

/* ---- graph lifetime ---------------------------------------------------------------- */

/* A new empty graph whose inputs have at most `max_batch` rows. Free with qr_graph_free. */
QR_API qr_graph *qr_graph_new(size_t max_batch);
QR_API void qr_graph_free(qr_graph *g);

/* First error recorded while building or compiling (QR_OK if none) and its message. */
QR_API qr_status qr_graph_status(const qr_graph *g);
QR_API const char *qr_graph_error(const qr_graph *g);

/* Allocate every buffer: parameter and gradient arenas (same layout, trainable tensors
 * first), activations, gradients of activations, op state. After this, no builder may be
 * called and nothing in forward/backward allocates. */
QR_API qr_status qr_graph_compile(qr_graph *g);

/* Change the batch (1..max_batch) of every input and re-infer shapes. */
QR_API qr_status qr_graph_set_batch(qr_graph *g, size_t batch);
QR_API size_t qr_graph_batch(const qr_graph *g);

/* Training mode switches dropout on and batch norm to batch statistics. Default: off. */
QR_API void qr_graph_set_training(qr_graph *g, int training);
QR_API int qr_graph_training(const qr_graph *g);

/* The graph's random stream (dropout masks). Seeded with qr_rng_seed on the pointer. */
QR_API qr_rng *qr_graph_rng(qr_graph *g);

/* Run every node up to and including `last` (NULL: all nodes). */
QR_API void qr_graph_forward(qr_graph *g, qr_node *last);
/* Back-propagate from the scalar `loss`: zeroes the gradients of activations, seeds
 * d loss = 1 and accumulates (+=) into parameter gradients. Call qr_graph_zero_grad first. */
QR_API void qr_graph_backward(qr_graph *g, qr_node *loss);
/* Set every parameter gradient to zero. */
QR_API void qr_graph_zero_grad(qr_graph *g);

/* ---- parameter arena ------------------------------------------------------------- */

/* Flat views of the arenas: `*n_trainable` floats of trainable parameters come first,
 * then non-trainable buffers (batch-norm running statistics), `*n_total` in all.
 * Owned by the graph. */
QR_API float *qr_graph_params(qr_graph *g, size_t *n_trainable, size_t *n_total);
QR_API float *qr_graph_grads(qr_graph *g);
/* Parameter tensors in arena order. */
QR_API size_t qr_graph_n_param_nodes(const qr_graph *g);
QR_API qr_node *qr_graph_param_node(const qr_graph *g, size_t i);
/* A node by name (NULL if none). */
QR_API qr_node *qr_graph_find(const qr_graph *g, const char *name);

/* ---- nodes --------------------------------------------------------------------------- */

QR_API qr_op qr_node_op(const qr_node *n);
QR_API const char *qr_node_name(const qr_node *n);
QR_API int qr_node_ndim(const qr_node *n);
QR_API size_t qr_node_dim(const qr_node *n, int axis);
QR_API size_t qr_node_size(const qr_node *n);         /* elements at the current batch */
QR_API float *qr_node_data(qr_node *n);              /* values (owned by the graph) */
QR_API float *qr_node_grad(qr_node *n);              /* gradient, NULL if none */
QR_API int qr_node_trainable(const qr_node *n);
/* Offset of a parameter node's data in the parameter arena. */
QR_API size_t qr_node_param_offset(const qr_node *n);

/* ---- builders (NULL on error; error recorded in the graph) --------------------------- */

/* shape[0] is the maximum batch and must equal the graph's max_batch. */
QR_API qr_node *qr_input(qr_graph *g, const char *name, int ndim, const size_t *shape);
/* A parameter of fixed shape (no batch dimension). Trainable unless `buffer` is set. */
QR_API qr_node *qr_param(qr_graph *g, const char *name, int ndim, const size_t *shape, int buffer);

QR_API qr_node *qr_matmul(qr_graph *g, qr_node *a, qr_node *b);
QR_API qr_node *qr_add(qr_graph *g, qr_node *a, qr_node *b);
QR_API qr_node *qr_sub(qr_graph *g, qr_node *a, qr_node *b);
QR_API qr_node *qr_mul(qr_graph *g, qr_node *a, qr_node *b);
QR_API qr_node *qr_scale(qr_graph *g, qr_node *a, float c);
QR_API qr_node *qr_sum(qr_graph *g, qr_node *a, int axis);   /* axis -1: all -> scalar */
QR_API qr_node *qr_mean(qr_graph *g, qr_node *a, int axis);
/* shape[0] is ignored and kept equal to the input's batch; the rest must match in count. */
QR_API qr_node *qr_reshape(qr_graph *g, qr_node *a, int ndim, const size_t *shape);
QR_API qr_node *qr_transpose(qr_graph *g, qr_node *a, int axis0, int axis1);
QR_API qr_node *qr_slice(qr_graph *g, qr_node *a, int axis, size_t start, size_t len);
QR_API qr_node *qr_concat(qr_graph *g, int axis, int n, qr_node *const *parts);
QR_API qr_node *qr_relu(qr_graph *g, qr_node *a);
QR_API qr_node *qr_prelu(qr_graph *g, qr_node *a, qr_node *slope);
QR_API qr_node *qr_sigmoid(qr_graph *g, qr_node *a);
QR_API qr_node *qr_tanh(qr_graph *g, qr_node *a);
/* logits (B, C), labels (B) holding class indices 0..C-1 as floats. Scalar mean loss. */
QR_API qr_node *qr_softmax_ce(qr_graph *g, qr_node *logits, qr_node *labels);
QR_API qr_node *qr_mse(qr_graph *g, qr_node *a, qr_node *target);
/* The softmax probabilities (B, C) of a softmax_ce node's last forward; NULL otherwise. */
QR_API const float *qr_softmax_ce_probs(const qr_node *n);

/* Ask for the gradient of an input (gradient checks, saliency). Before compiling. */
QR_API void qr_node_set_requires_grad(qr_node *n, int on);
/* Number of nodes. */
QR_API size_t qr_graph_n_nodes(const qr_graph *g);

/* Give a node a name (copied, at most 63 chars). Returns n. */
QR_API qr_node *qr_node_set_name(qr_node *n, const char *name);

/* ---- matrix multiply ----------------------------------------------------------------- */

/* C = alpha · op(A) · op(B) + beta · C, row-major, op = transpose when trans_* is set.
 * Goes to cblas_sgemm, or to plain loops for small products (and when forced). */
QR_API void qr_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                     const float *a, size_t lda, const float *b, size_t ldb, float beta,
                     float *c, size_t ldc);
/* The plain-C reference used by qr_sgemm for small sizes. */
QR_API void qr_sgemm_ref(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                         const float *a, size_t lda, const float *b, size_t ldb, float beta,
                         float *c, size_t ldc);
/* 0: choose by size (default); 1: always BLAS; 2: always the reference. For tests/benchmarks. */
QR_API void qr_sgemm_set_mode(int mode);

#endif /* QREG_GRAPH_H */
