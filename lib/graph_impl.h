/* Internal layout of graphs and nodes, shared by the engine (graph.c) and the ops. */
#ifndef QREG_GRAPH_IMPL_H
#define QREG_GRAPH_IMPL_H

#include "qreg/graph.h"

#define QR_NODE_MAX_IN 16   /* inputs of one node (concat parts included) */
#define QR_NODE_NAME_MAX 64
#define QR_NODE_NIP 8       /* integer op parameters */
#define QR_NODE_NFP 4       /* float op parameters */

struct qr_node {
    qr_op op;
    int ndim;
    size_t shape[QR_MAX_DIMS];  /* at the current batch */
    size_t max_size;            /* elements at the maximum batch (what is allocated) */
    int batched;                /* dimension 0 follows the graph's batch */
    int n_in;
    qr_node *in[QR_NODE_MAX_IN];
    float *x;                   /* values */
    float *g;                   /* gradient; NULL when nothing upstream needs one */
    void *aux;                  /* op state kept from forward to backward (masks, caches) */
    size_t aux_bytes;
    int requires_grad;          /* this node needs a gradient */
    int trainable;              /* parameter updated by the optimizer */
    size_t param_offset;        /* parameters: offset in the arena */
    size_t index;               /* position in the graph (topological) */
    int ip[QR_NODE_NIP];        /* op parameters, meaning per op (see the op's file) */
    float fp[QR_NODE_NFP];
    char name[QR_NODE_NAME_MAX];
};

struct qr_graph {
    size_t max_batch, batch;
    qr_node **nodes;
    size_t n_nodes, cap_nodes;
    int training;
    int compiled;
    qr_rng rng;
    /* parameter arena and its gradient twin: trainable first, then buffers */
    float *params, *pgrads;
    size_t n_trainable, n_params;
    /* activations and their gradients */
    float *acts, *agrads;
    size_t n_acts, n_agrads;
    unsigned char *aux;         /* op state, 64-byte aligned slots */
    size_t n_aux;
    float *scratch;             /* temporary space shared by all ops (never live across ops) */
    size_t n_scratch;
    size_t mem_limit;           /* bytes the arenas may take (0: no limit) */
    qr_status status;
    char err[QR_ERROR_MAX];
};

/* Element count of a node at its current shape. */
static inline size_t qr_shape_size(const qr_node *n)
{
    size_t s = 1;
    for (int i = 0; i < n->ndim; i++)
        s *= n->shape[i];
    return s;
}

/* Element count of a node at its current shape, SIZE_MAX if it does not fit a size_t. */
static inline size_t qr_shape_size_checked(const qr_node *n)
{
    size_t s = 1;
    for (int i = 0; i < n->ndim; i++)
        if (__builtin_mul_overflow(s, n->shape[i], &s))
            return SIZE_MAX;
    return s;
}

/* Bytes of a node's own buffers at the current batch (values unless an alias, gradient,
 * op state), as compile allocates them; SIZE_MAX when too large to count. */
size_t qr_node_memory(const qr_graph *g, const qr_node *n);
/* "(256, 400000, 48)": a node's shape at the current batch, for messages. */
void qr_shape_format(const qr_node *n, char *buf, size_t len);
/* "12.3 GiB": a byte count for messages. */
void qr_bytes_format(size_t bytes, char *buf, size_t len);

/* Record the first error of a graph (later ones are dropped). Returns s. */
qr_status qr_graph_fail(qr_graph *g, qr_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Append a node of operation `op` with inputs; runs shape inference. NULL on error. */
qr_node *qr_graph_add_node(qr_graph *g, qr_op op, int n_in, qr_node *const *in,
                           const int *ip, const float *fp);

#endif
