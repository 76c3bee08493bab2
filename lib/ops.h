/* The op protocol: every operation supplies shape inference, forward and backward.
 * Forward writes n->x; backward adds (+=) into in[i]->g for the inputs whose g is not NULL.
 * Neither allocates: per-op state lives in n->aux (sized by aux_bytes at the maximum batch)
 * and temporaries in the graph's shared scratch (sized by scratch_floats). */
#ifndef QREG_OPS_H
#define QREG_OPS_H

#include "graph_impl.h"

typedef struct qr_op_def {
    const char *name;
    /* Infer n->ndim, n->shape and n->batched from the inputs' current shapes. */
    qr_status (*shape)(qr_graph *g, qr_node *n);
    void (*forward)(qr_graph *g, qr_node *n);
    void (*backward)(qr_graph *g, qr_node *n);
    size_t (*aux_bytes)(const qr_node *n);      /* optional; at the maximum batch */
    size_t (*scratch_floats)(const qr_node *n); /* optional; at the maximum batch */
    int alias;  /* output shares its input's value and gradient buffers (reshape) */
} qr_op_def;

extern const qr_op_def *const qr_op_table[QR_OP_COUNT];

/* Hot element-wise ops are also built for x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512): 8 or
 * 16 floats a vector instead of SSE2's 4, on x86-64 with GCC, and the loader picks one
 * (target_clones); helpers they call must then be forced inline (QR_CLONE_INLINE), which GCC
 * otherwise refuses across targets. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define QR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define QR_CLONE_INLINE __attribute__((always_inline))
#else
#define QR_CLONES
#define QR_CLONE_INLINE
#endif

/* Definitions, one per op, in the op_*.c files. */
extern const qr_op_def qr_opdef_input, qr_opdef_param;
extern const qr_op_def qr_opdef_matmul;
extern const qr_op_def qr_opdef_add, qr_opdef_sub, qr_opdef_mul, qr_opdef_scale;
extern const qr_op_def qr_opdef_sum, qr_opdef_mean;
extern const qr_op_def qr_opdef_reshape, qr_opdef_transpose, qr_opdef_slice, qr_opdef_concat;
extern const qr_op_def qr_opdef_relu, qr_opdef_prelu, qr_opdef_sigmoid, qr_opdef_tanh;
extern const qr_op_def qr_opdef_softmax_ce, qr_opdef_mse, qr_opdef_kd;
extern const qr_op_def qr_opdef_conv1d, qr_opdef_batchnorm, qr_opdef_dropout,
    qr_opdef_spatial_dropout, qr_opdef_gap1d, qr_opdef_maxpool1d;
extern const qr_op_def qr_opdef_gru;
extern const qr_op_def qr_opdef_fake_quant;

#endif
