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

#ifdef __cplusplus
extern "C" {
#endif

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
    QR_OP_KD,          /* distillation: α·CE(y, softmax s) + (1−α)·T²·KL(softmax t/T ‖ softmax s/T) */
    /* sequence layers (Conv1D family) */
    QR_OP_CONV1D,      /* y = x ⋆ w + bias; x (B, T, Cin), w (k, Cin, Cout) -> (B, T_out, Cout) */
    QR_OP_BATCHNORM,   /* y = γ (x - μ) / sqrt(σ² + ε) + β per channel (the last axis) */
    QR_OP_DROPOUT,     /* y = x ⊙ m / (1 - p), m ~ Bernoulli(1 - p) in training; eval: y = x */
    QR_OP_SPATIAL_DROPOUT, /* dropout of whole channels: m (B, C) shared over T of (B, T, C) */
    QR_OP_GAP1D,       /* y[b, c] = mean_t x[b, t, c]; (B, T, C) -> (B, C) */
    QR_OP_MAXPOOL1D,   /* y[b, t, c] = max_{j < pool} x[b, t·stride + j, c]; valid padding */
    /* recurrent layers */
    QR_OP_GRU,         /* fused GRU, reset_after, gates [z | r | n]: see qr_gru */
    /* quantization */
    QR_OP_FAKE_QUANT,  /* y = s·clamp(round(x/s), −A, A), straight-through gradient: qr_fake_quant */
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
 * called and nothing in forward/backward allocates. Their size is checked against the
 * graph's memory limit first (qr_graph_set_memory_limit). */
QR_API qr_status qr_graph_compile(qr_graph *g);

/* What the arenas of a graph take at its maximum batch, in bytes, computed from the shapes
 * without allocating anything (before or after compile). */
typedef struct qr_graph_memory {
    size_t params;          /* parameters and buffers */
    size_t param_grads;     /* their gradients */
    size_t acts;            /* activations */
    size_t act_grads;       /* gradients of activations */
    size_t aux;             /* op state kept from forward to backward */
    size_t scratch;         /* temporaries shared by the ops */
    size_t total;           /* the sum; SIZE_MAX when it does not fit a size_t */
    const qr_node *largest; /* the node whose own buffers (values, gradient, state) are largest */
    size_t largest_bytes;
} qr_graph_memory;
/* Fill *out (QR_OK), or return the shape-inference error of an unbuilt graph. */
QR_API qr_status qr_graph_memory_use(qr_graph *g, qr_graph_memory *out);
/* qr_graph_compile fails with QR_ERR_NOMEM, allocating nothing, when the total would exceed
 * `bytes` (0: no limit). A new graph starts with the library's limit (qr_set_memory_limit). */
QR_API void qr_graph_set_memory_limit(qr_graph *g, size_t bytes);

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
/* Distillation loss (docs/method.md §7): student logits (B, C), teacher logits (B, C) (no
 * gradient), labels (B); mean over the batch of α·CE + (1 − α)·f·KL(softmax(t/T) ‖ softmax(s/T)),
 * f = T² when t2 is set (Hinton), 1 otherwise (the thesis' eq. 1.5). α in [0, 1], T > 0. */
QR_API qr_node *qr_kd_loss(qr_graph *g, qr_node *student, qr_node *teacher, qr_node *labels,
                           float alpha, float temperature, int t2);
/* The softmax probabilities (B, C) of a softmax_ce node's last forward; NULL otherwise. */
QR_API const float *qr_softmax_ce_probs(const qr_node *n);

/* Ask for the gradient of an input (gradient checks, saliency). Before compiling. */
QR_API void qr_node_set_requires_grad(qr_node *n, int on);
/* Number of nodes. */
QR_API size_t qr_graph_n_nodes(const qr_graph *g);

/* Give a node a name (copied, at most 63 chars). Returns n. */
QR_API qr_node *qr_node_set_name(qr_node *n, const char *name);

/* ---- recurrent layers ----------------------------------------------------------------
 * A fused GRU (PyTorch / Keras reset_after = True, two bias vectors), one node with full
 * backpropagation through time. Dimensions: B batch, T steps, F features, H units.
 *   z = σ(x_t Wi_z + bi_z + h Wh_z + bh_z)
 *   r = σ(x_t Wi_r + bi_r + h Wh_r + bh_r)
 *   n = tanh(x_t Wi_n + bi_n + r ⊙ (h Wh_n + bh_n))
 *   h' = (1 - z) ⊙ n + z ⊙ h
 * The 3H axis of wi, wh, bi, bh is three column blocks in Keras order [z | r | n]: a Keras
 * GRU(reset_after=True) loads as is (kernel -> wi, recurrent_kernel -> wh, bias[0] -> bi,
 * bias[1] -> bh). PyTorch stores weight_ih_l0 as (3H, F) in order [r | z | n]: transpose
 * it and swap the first two H-blocks (same for weight_hh_l0, bias_ih_l0, bias_hh_l0).
 * Streaming (stateful GRU): give h0 an input (B, H), run a chunk of T steps with
 * return_sequences = 0, copy the output into h0 and run the next chunk; the result equals
 * one run over the concatenated sequence. Gradients stop at the chunk boundary (truncated
 * BPTT) unless h0 asks for a gradient. Design and memory: docs/gru.md.
 * @param[in] x   (B, T, F) sequence.
 * @param[in] wi  (F, 3H) input kernel, wh (H, 3H) recurrent kernel; bi, bh (3H) biases.
 * @param[in] h0  (B, H) initial state, or NULL for zeros.
 * @param[in] return_sequences  0: the last state (B, H); nonzero: every state (B, T, H).
 * @return the node, or NULL with QR_ERR_SHAPE recorded on mismatched shapes. */
QR_API qr_node *qr_gru(qr_graph *g, qr_node *x, qr_node *wi, qr_node *wh, qr_node *bi,
                       qr_node *bh, qr_node *h0, int return_sequences);

/* ---- sequence layers (Conv1D family) --------------------------------------------------
 * Channels-last sequences (B, T, C); formulas, shapes and the Keras / PyTorch
 * correspondence in docs/layers.md. */

/* Conv1D padding, Keras semantics (k kernel size, d dilation, s stride, T input length). */
typedef enum qr_conv_padding {
    QR_PAD_VALID = 0, /* none: T_out = floor((T - (k-1)·d - 1) / s) + 1, needs T > (k-1)·d */
    QR_PAD_SAME,      /* T_out = ceil(T / s); total max((T_out-1)·s + (k-1)·d + 1 - T, 0) zeros,
                         floor(total / 2) on the left, the rest on the right */
    QR_PAD_CAUSAL     /* (k-1)·d zeros on the left only: T_out = ceil(T / s), y[t] sees x[<= t·s] */
} qr_conv_padding;

/* 1-D convolution as Keras Conv1D (a cross-correlation, no kernel flip):
 *   y[b, t, o] = bias[o] + Σ_j Σ_c x[b, t·s + j·d - pad_left, c] · w[j, c, o]
 * @param[in] x     (B, T, Cin) sequence.
 * @param[in] w     (k, Cin, Cout) kernel, Keras layout (PyTorch weight (Cout, Cin, k) permuted).
 * @param[in] bias  (Cout), or NULL for none.
 * @param[in] stride, dilation  >= 1 (unlike Keras, both > 1 together are accepted).
 * @return (B, T_out, Cout), or NULL with QR_ERR_ARG (bad parameters) or QR_ERR_SHAPE
 *         (mismatched shapes, input shorter than the kernel span) recorded. */
QR_API qr_node *qr_conv1d(qr_graph *g, qr_node *x, qr_node *w, qr_node *bias, int stride,
                          int dilation, qr_conv_padding pad);

/* Keras BatchNormalization defaults (PyTorch momentum 0.1 and eps 1e-5 differ). */
#define QR_BN_MOMENTUM 0.99f
#define QR_BN_EPS 1e-3f
/* Batch normalization over every axis but the last: y = γ (x - μ) / sqrt(σ² + ε) + β.
 * Training mode: μ, σ² are the batch mean and biased variance, and forward updates
 *   running = momentum · running + (1 - momentum) · batch      (Keras convention)
 * for both statistics, the biased variance included (Keras; PyTorch's momentum m_pt is
 * 1 - momentum and it feeds the unbiased variance to running_var). Eval mode: μ, σ² are the
 * running statistics. Backward follows the mode of the last forward.
 * @param[in] x             (..., C), at least 2 dimensions.
 * @param[in] gamma, beta   (C) scale and offset (Keras init: ones, zeros).
 * @param[in,out] running_mean, running_var  (C) non-trainable buffers (qr_param with
 *                buffer = 1; Keras init: zeros, ones), written by training-mode forward.
 * @param[in] momentum      in [0, 1] (QR_BN_MOMENTUM); eps > 0 (QR_BN_EPS).
 * @return (same shape as x), or NULL with QR_ERR_ARG / QR_ERR_SHAPE recorded. */
QR_API qr_node *qr_batchnorm(qr_graph *g, qr_node *x, qr_node *gamma, qr_node *beta,
                             qr_node *running_mean, qr_node *running_var, float momentum,
                             float eps);

/* Inverted dropout: in training mode y = x ⊙ m / (1 - rate), m[i] ~ Bernoulli(1 - rate)
 * from qr_graph_rng; y = x in eval mode. rate in [0, 1). Any shape. */
QR_API qr_node *qr_dropout(qr_graph *g, qr_node *x, float rate);
/* Keras SpatialDropout1D: x (B, T, C); each sample drops whole channels (one mask (B, C)
 * shared by all T steps), kept ones scaled by 1 / (1 - rate). rate in [0, 1). */
QR_API qr_node *qr_spatial_dropout(qr_graph *g, qr_node *x, float rate);
/* GlobalAveragePooling1D: (B, T, C) -> (B, C), the mean over T. */
QR_API qr_node *qr_gap1d(qr_graph *g, qr_node *x);
/* MaxPooling1D, valid padding: (B, T, C) -> (B, floor((T - pool) / stride) + 1, C).
 * pool >= 1; stride >= 1, or 0 for stride = pool (Keras strides=None). Ties: the first max
 * gets the gradient. */
QR_API qr_node *qr_maxpool1d(qr_graph *g, qr_node *x, int pool, int stride);
/* Flatten: a qr_reshape to (B, product of the other dimensions); (B) becomes (B, 1). */
QR_API qr_node *qr_flatten(qr_graph *g, qr_node *x);

/* Activation fake quantization (QAT), the grid of the integer runtime's tensors:
 *   y = s · clamp(round(x / s), −A, A),  s = r / A,  r = range[0]
 * (round half away from zero), and y = x while r = 0 (not calibrated yet). Training mode with
 * update = 1 first moves the range toward the batch's largest |x| m (TF's moving max):
 *   r = m on the first batch (r = 0), else r = momentum · r + (1 − momentum) · m.
 * Backward is the straight-through estimator clipped to the range: dx += dy where |x| ≤ r
 * (everywhere while r = 0), 0 outside; the range gets no gradient.
 * @param[in,out] range  a 1-element non-trainable buffer (qr_param with buffer = 1), shared
 *               by quantizers on the same grid (update = 0 for all but one).
 * @param[in] levels     A ≥ 1 (127 for 8 bits); momentum in [0, 1].
 * @return (same shape as x), or NULL with QR_ERR_ARG recorded. */
QR_API qr_node *qr_fake_quant(qr_graph *g, qr_node *x, qr_node *range, int levels, int update,
                              float momentum);

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

#ifdef __cplusplus
}
#endif

#endif /* QREG_GRAPH_H */
