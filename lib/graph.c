/* The autograd engine: building, compiling (allocation), forward and backward.
 * Design notes: docs/autograd.md. */
#define _DEFAULT_SOURCE 1 /* MADV_HUGEPAGE (glibc hides it under plain _POSIX_C_SOURCE) */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include "ops.h"

#define QR_ALIGN_FLOATS 16  /* 64-byte alignment of every tensor in an arena */

static size_t qr_round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

qr_status qr_graph_fail(qr_graph *g, qr_status s, const char *fmt, ...)
{
    if (g->status == QR_OK) {
        g->status = s;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err, sizeof g->err, fmt, ap);
        va_end(ap);
    }
    return s;
}

QR_API qr_graph *qr_graph_new(size_t max_batch)
{
    if (max_batch == 0)
        return NULL;
    qr_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->max_batch = g->batch = max_batch;
    g->mem_limit = qr_get_memory_limit();
    qr_rng_seed(&g->rng, 0);
    return g;
}

QR_API void qr_graph_free(qr_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_nodes; i++)
        free(g->nodes[i]);
    free(g->nodes);
    free(g->params);
    free(g->pgrads);
    free(g->acts);
    free(g->agrads);
    free(g->aux);
    free(g->scratch);
    free(g);
}

QR_API qr_status qr_graph_status(const qr_graph *g)
{
    return g ? g->status : QR_ERR_ARG;
}

QR_API const char *qr_graph_error(const qr_graph *g)
{
    if (!g)
        return "no graph";
    return g->status == QR_OK ? "" : g->err;
}

static qr_node *qr_graph_new_node(qr_graph *g, qr_op op)
{
    if (g->compiled) {
        qr_graph_fail(g, QR_ERR_STATE, "graph is compiled: no more nodes can be added");
        return NULL;
    }
    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? 2 * g->cap_nodes : 32;
        qr_node **nodes = realloc(g->nodes, cap * sizeof *nodes);
        if (!nodes) {
            qr_graph_fail(g, QR_ERR_NOMEM, "out of memory adding a node");
            return NULL;
        }
        g->nodes = nodes;
        g->cap_nodes = cap;
    }
    qr_node *n = calloc(1, sizeof *n);
    if (!n) {
        qr_graph_fail(g, QR_ERR_NOMEM, "out of memory adding a node");
        return NULL;
    }
    n->op = op;
    n->index = g->n_nodes;
    snprintf(n->name, sizeof n->name, "%s_%zu", qr_op_table[op]->name, n->index);
    g->nodes[g->n_nodes++] = n;
    return n;
}

/* Remove the last node again (its shape was rejected). */
static void qr_graph_drop_last(qr_graph *g)
{
    free(g->nodes[--g->n_nodes]);
}

qr_node *qr_graph_add_node(qr_graph *g, qr_op op, int n_in, qr_node *const *in,
                           const int *ip, const float *fp)
{
    if (!g)
        return NULL;
    if (g->status != QR_OK)
        return NULL;
    if (n_in < 0 || n_in > QR_NODE_MAX_IN) {
        qr_graph_fail(g, QR_ERR_ARG, "%s: %d inputs (at most %d)", qr_op_table[op]->name, n_in,
                      QR_NODE_MAX_IN);
        return NULL;
    }
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) {
            qr_graph_fail(g, QR_ERR_ARG, "%s: input %d is NULL", qr_op_table[op]->name, i);
            return NULL;
        }
        if (in[i]->index >= g->n_nodes || g->nodes[in[i]->index] != in[i]) {
            qr_graph_fail(g, QR_ERR_ARG, "%s: input %d belongs to another graph",
                          qr_op_table[op]->name, i);
            return NULL;
        }
    }
    qr_node *n = qr_graph_new_node(g, op);
    if (!n)
        return NULL;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        n->in[i] = in[i];
        if (in[i]->requires_grad)
            n->requires_grad = 1;
    }
    if (ip)
        memcpy(n->ip, ip, sizeof n->ip);
    if (fp)
        memcpy(n->fp, fp, sizeof n->fp);
    qr_status s = qr_op_table[op]->shape(g, n);
    if (s != QR_OK) {
        qr_graph_fail(g, s, "%s: incompatible input shapes", qr_op_table[op]->name);
        qr_graph_drop_last(g);
        return NULL;
    }
    return n;
}

static qr_node *qr_leaf(qr_graph *g, qr_op op, const char *name, int ndim, const size_t *shape)
{
    if (!g || g->status != QR_OK)
        return NULL;
    if (ndim < 1 || ndim > QR_MAX_DIMS || !shape) {
        qr_graph_fail(g, QR_ERR_ARG, "%s: %d dimensions (1 to %d)", name ? name : "tensor",
                      ndim, QR_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            qr_graph_fail(g, QR_ERR_SHAPE, "%s: dimension %d is zero", name ? name : "tensor", i);
            return NULL;
        }
    if (op == QR_OP_INPUT && shape[0] != g->max_batch) {
        qr_graph_fail(g, QR_ERR_SHAPE, "%s: batch dimension %zu differs from the graph's %zu",
                      name ? name : "input", shape[0], g->max_batch);
        return NULL;
    }
    if (name && qr_graph_find(g, name)) {
        qr_graph_fail(g, QR_ERR_ARG, "duplicate node name '%s'", name);
        return NULL;
    }
    qr_node *n = qr_graph_new_node(g, op);
    if (!n)
        return NULL;
    n->ndim = ndim;
    memcpy(n->shape, shape, (size_t)ndim * sizeof *shape);
    if (op == QR_OP_INPUT) {
        n->batched = 1;
        n->shape[0] = g->batch;
    }
    if (name)
        qr_node_set_name(n, name);
    return n;
}

QR_API qr_node *qr_input(qr_graph *g, const char *name, int ndim, const size_t *shape)
{
    return qr_leaf(g, QR_OP_INPUT, name, ndim, shape);
}

QR_API qr_node *qr_param(qr_graph *g, const char *name, int ndim, const size_t *shape, int buffer)
{
    qr_node *n = qr_leaf(g, QR_OP_PARAM, name, ndim, shape);
    if (n && !buffer)
        n->trainable = n->requires_grad = 1;
    return n;
}

QR_API qr_node *qr_node_set_name(qr_node *n, const char *name)
{
    if (n && name)
        snprintf(n->name, sizeof n->name, "%s", name);
    return n;
}

QR_API void qr_node_set_requires_grad(qr_node *n, int on)
{
    if (n && n->op == QR_OP_INPUT)
        n->requires_grad = on != 0;
}

/* ---- compile ------------------------------------------------------------------------ */

/* A zeroed arena of n elements of `size` bytes (free() releases it). Arenas of 2 MiB and more
 * are 2 MiB-aligned and advised as transparent huge pages (Linux's default THP mode is
 * "madvise"): the GRU's per-step passes touch hundreds of rows each in a different 4 KiB page,
 * and with 4 KiB pages the TLB misses cost more than the arithmetic (gsc). */
static void *arena_alloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (bytes >= huge) {
        void *p = NULL;
        size_t round = (bytes + huge - 1) / huge * huge;
        if (posix_memalign(&p, huge, round) == 0) {
            madvise(p, round, MADV_HUGEPAGE); /* advice only: fine if refused */
            memset(p, 0, round);
            return p;
        }
    }
#endif
    return calloc(n, size);
}

static qr_status qr_graph_infer(qr_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        qr_node *n = g->nodes[i];
        qr_status s = qr_op_table[n->op]->shape(g, n);
        if (s != QR_OK)
            return qr_graph_fail(g, s, "%s: shape inference failed at batch %zu", n->name,
                                 g->batch);
    }
    return QR_OK;
}

/* a + b, saturating at SIZE_MAX (a size that does not fit stays "too large") */
static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t sat_mul(size_t a, size_t b)
{
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

/* n rounded up to a multiple of a, saturating */
static size_t sat_round_up(size_t n, size_t a)
{
    return n > SIZE_MAX - a ? SIZE_MAX : qr_round_up(n, a);
}

void qr_shape_format(const qr_node *n, char *buf, size_t len)
{
    size_t at = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < n->ndim && at < len; i++) {
        int k = snprintf(buf + at, len - at, "%s%zu", i ? ", " : "(", n->shape[i]);
        if (k < 0)
            return;
        at += (size_t)k;
    }
    if (at < len)
        snprintf(buf + at, len - at, ")");
}

void qr_bytes_format(size_t bytes, char *buf, size_t len)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    if (bytes == SIZE_MAX)
        snprintf(buf, len, "more than 16 EiB");
    else if (u == 0)
        snprintf(buf, len, "%zu bytes", bytes);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
}

size_t qr_node_memory(const qr_graph *g, const qr_node *n)
{
    const qr_op_def *d = qr_op_table[n->op];
    size_t size = g->compiled ? n->max_size : qr_shape_size_checked(n);
    if (size > SIZE_MAX / 64)
        return SIZE_MAX;
    size_t sz = qr_round_up(size, QR_ALIGN_FLOATS), own = 0;
    if (n->op == QR_OP_PARAM)
        own = n->trainable ? 2 * sz : sz;
    else if (!d->alias)
        own = n->requires_grad ? 2 * sz : sz;
    own *= sizeof(float);
    if (d->aux_bytes)
        own = sat_add(own, sat_round_up(d->aux_bytes(n), 64));
    return own;
}

/* Sizes of every arena (elements or bytes, as allocated) from the node shapes at the current
 * batch, which compile sets to the maximum. A node larger than SIZE_MAX / 64 elements
 * saturates everything: ops' aux and scratch sizes multiply node sizes by small factors. */
typedef struct arena_plan {
    size_t n_tr, n_buf, n_acts, n_agr, n_aux, n_scr; /* floats (aux: bytes) */
    int overflow;
    qr_graph_memory mem;
} arena_plan;

static void plan_arenas(qr_graph *g, arena_plan *p)
{
    memset(p, 0, sizeof *p);
    const size_t huge = SIZE_MAX / 64;
    for (size_t i = 0; i < g->n_nodes; i++) {
        qr_node *n = g->nodes[i];
        const qr_op_def *d = qr_op_table[n->op];
        size_t size = g->compiled ? n->max_size : qr_shape_size_checked(n);
        if (size > huge) {
            p->overflow = 1;
            size = huge;
        }
        size_t sz = qr_round_up(size, QR_ALIGN_FLOATS);
        if (n->op == QR_OP_PARAM) {
            if (n->trainable)
                p->n_tr = sat_add(p->n_tr, sz);
            else
                p->n_buf = sat_add(p->n_buf, sz);
        } else if (!d->alias) {
            p->n_acts = sat_add(p->n_acts, sz);
            if (n->requires_grad)
                p->n_agr = sat_add(p->n_agr, sz);
        }
        if (d->aux_bytes && !p->overflow)
            p->n_aux = sat_add(p->n_aux, sat_round_up(d->aux_bytes(n), 64));
        size_t own = qr_node_memory(g, n);
        if (d->scratch_floats && !p->overflow) {
            size_t sf = d->scratch_floats(n);
            if (sf > p->n_scr)
                p->n_scr = sf;
        }
        if (own > p->mem.largest_bytes || !p->mem.largest) {
            p->mem.largest = n;
            p->mem.largest_bytes = own;
        }
    }
    qr_graph_memory *m = &p->mem;
    size_t n_par = sat_add(p->n_tr, p->n_buf);
    m->params = sat_mul(sat_add(n_par, 1), sizeof(float));
    m->param_grads = m->params;
    m->acts = sat_mul(sat_add(p->n_acts, 1), sizeof(float));
    m->act_grads = sat_mul(sat_add(p->n_agr, 1), sizeof(float));
    m->aux = sat_add(p->n_aux, 1);
    m->scratch = sat_mul(sat_add(p->n_scr, 1), sizeof(float));
    m->total = sat_add(sat_add(sat_add(m->params, m->param_grads), sat_add(m->acts, m->act_grads)),
                       sat_add(m->aux, m->scratch));
    if (p->overflow)
        m->total = SIZE_MAX;
}

QR_API qr_status qr_graph_memory_use(qr_graph *g, qr_graph_memory *out)
{
    if (!g || !out)
        return QR_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (g->status != QR_OK)
        return g->status;
    if (!g->compiled && g->batch != g->max_batch) {
        g->batch = g->max_batch;
        for (size_t i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == QR_OP_INPUT)
                g->nodes[i]->shape[0] = g->batch;
        qr_status s = qr_graph_infer(g);
        if (s != QR_OK)
            return s;
    }
    arena_plan p;
    plan_arenas(g, &p);
    *out = p.mem;
    return QR_OK;
}

QR_API void qr_graph_set_memory_limit(qr_graph *g, size_t bytes)
{
    if (g)
        g->mem_limit = bytes;
}

/* A node gets a gradient buffer iff it requires a gradient: a trainable parameter, an
 * input asked for one, or anything computed from those. */
QR_API qr_status qr_graph_compile(qr_graph *g)
{
    if (!g)
        return QR_ERR_ARG;
    if (g->status != QR_OK)
        return g->status;
    if (g->compiled)
        return qr_graph_fail(g, QR_ERR_STATE, "graph already compiled");
    g->batch = g->max_batch;
    qr_status s = qr_graph_infer(g);
    if (s != QR_OK)
        return s;

    /* the sizes first, checked against the limit: nothing is allocated (or zero-filled, which
     * is what takes the time) for a graph that cannot fit */
    arena_plan p;
    plan_arenas(g, &p);
    if (p.overflow || (g->mem_limit && p.mem.total > g->mem_limit)) {
        char total[64], limit[64], largest[64], shape[64];
        qr_bytes_format(p.mem.total, total, sizeof total);
        qr_bytes_format(g->mem_limit, limit, sizeof limit);
        qr_bytes_format(p.mem.largest_bytes, largest, sizeof largest);
        qr_shape_format(p.mem.largest, shape, sizeof shape);
        const char *origin = qr_memory_limit_origin();
        if (p.overflow || !g->mem_limit)
            return qr_graph_fail(g, QR_ERR_NOMEM, "the graph's arenas at batch %zu would take "
                                 "%s: node '%s' %s alone is too large to allocate",
                                 g->max_batch, total, p.mem.largest->name, shape);
        return qr_graph_fail(g, QR_ERR_NOMEM, "the graph's arenas at batch %zu would take %s "
                             "(%zu bytes; largest: node '%s' %s, %s), more than the memory limit "
                             "of %s%s%s%s; nothing was allocated", g->max_batch, total,
                             p.mem.total, p.mem.largest->name, shape, largest, limit,
                             *origin ? " (" : "", origin, *origin ? ")" : "");
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->max_size = qr_shape_size(g->nodes[i]);
    size_t n_tr = p.n_tr, n_buf = p.n_buf, n_acts = p.n_acts, n_agr = p.n_agr, n_aux = p.n_aux,
           n_scr = p.n_scr;
    g->n_trainable = n_tr;
    g->n_params = n_tr + n_buf;
    g->n_acts = n_acts;
    g->n_agrads = n_agr;
    g->n_aux = n_aux;
    g->n_scratch = n_scr;
    /* calloc: parameters start at zero, gradients are zero, and an arena of size zero
     * still gives a valid pointer. */
    g->params = arena_alloc(g->n_params + 1, sizeof(float));
    g->pgrads = arena_alloc(g->n_params + 1, sizeof(float));
    g->acts = arena_alloc(n_acts + 1, sizeof(float));
    g->agrads = arena_alloc(n_agr + 1, sizeof(float));
    g->aux = arena_alloc(n_aux + 1, 1);
    g->scratch = arena_alloc(n_scr + 1, sizeof(float));
    if (!g->params || !g->pgrads || !g->acts || !g->agrads || !g->aux || !g->scratch)
        return qr_graph_fail(g, QR_ERR_NOMEM, "out of memory allocating the graph's arenas");

    size_t o_tr = 0, o_buf = n_tr, o_act = 0, o_agr = 0, o_aux = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        qr_node *n = g->nodes[i];
        const qr_op_def *d = qr_op_table[n->op];
        size_t sz = qr_round_up(n->max_size, QR_ALIGN_FLOATS);
        if (n->op == QR_OP_PARAM) {
            size_t *o = n->trainable ? &o_tr : &o_buf;
            n->param_offset = *o;
            n->x = g->params + *o;
            n->g = n->trainable ? g->pgrads + *o : NULL;
            *o += sz;
        } else if (d->alias) {
            n->x = n->in[0]->x;
            n->g = n->requires_grad ? n->in[0]->g : NULL;
        } else {
            n->x = g->acts + o_act;
            o_act += sz;
            if (n->requires_grad) {
                n->g = g->agrads + o_agr;
                o_agr += sz;
            }
        }
        if (d->aux_bytes) {
            n->aux_bytes = d->aux_bytes(n);
            n->aux = g->aux + o_aux;
            o_aux += qr_round_up(n->aux_bytes, 64);
        }
    }
    g->compiled = 1;
    return QR_OK;
}

QR_API qr_status qr_graph_set_batch(qr_graph *g, size_t batch)
{
    if (!g || batch == 0 || batch > g->max_batch)
        return QR_ERR_ARG;
    if (batch == g->batch)
        return QR_OK;
    g->batch = batch;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == QR_OP_INPUT)
            g->nodes[i]->shape[0] = batch;
    return qr_graph_infer(g);
}

QR_API size_t qr_graph_batch(const qr_graph *g)
{
    return g->batch;
}

QR_API void qr_graph_set_training(qr_graph *g, int training)
{
    g->training = training != 0;
}

QR_API int qr_graph_training(const qr_graph *g)
{
    return g->training;
}

QR_API qr_rng *qr_graph_rng(qr_graph *g)
{
    return &g->rng;
}

/* ---- run -------------------------------------------------------------------------------- */

QR_API void qr_graph_forward(qr_graph *g, qr_node *last)
{
    size_t end = last ? last->index + 1 : g->n_nodes;
    for (size_t i = 0; i < end; i++) {
        qr_node *n = g->nodes[i];
        const qr_op_def *d = qr_op_table[n->op];
        if (d->forward)
            d->forward(g, n);
    }
}

QR_API void qr_graph_backward(qr_graph *g, qr_node *loss)
{
    if (!loss || !loss->g)
        return;
    memset(g->agrads, 0, g->n_agrads * sizeof(float));
    /* d loss / d loss = 1 (a scalar loss; for a tensor, every element seeded with 1) */
    size_t nl = qr_shape_size(loss);
    for (size_t i = 0; i < nl; i++)
        loss->g[i] += 1.0f;
    for (size_t i = loss->index + 1; i-- > 0;) {
        qr_node *n = g->nodes[i];
        const qr_op_def *d = qr_op_table[n->op];
        if (n->g && d->backward)
            d->backward(g, n);
    }
}

QR_API void qr_graph_zero_grad(qr_graph *g)
{
    memset(g->pgrads, 0, g->n_params * sizeof(float));
}

/* ---- accessors ------------------------------------------------------------------------ */

QR_API float *qr_graph_params(qr_graph *g, size_t *n_trainable, size_t *n_total)
{
    if (n_trainable)
        *n_trainable = g->n_trainable;
    if (n_total)
        *n_total = g->n_params;
    return g->params;
}

QR_API float *qr_graph_grads(qr_graph *g)
{
    return g->pgrads;
}

QR_API size_t qr_graph_n_param_nodes(const qr_graph *g)
{
    size_t c = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        c += g->nodes[i]->op == QR_OP_PARAM;
    return c;
}

QR_API qr_node *qr_graph_param_node(const qr_graph *g, size_t k)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == QR_OP_PARAM && k-- == 0)
            return g->nodes[i];
    return NULL;
}

QR_API qr_node *qr_graph_find(const qr_graph *g, const char *name)
{
    if (!g || !name)
        return NULL;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    return NULL;
}

QR_API size_t qr_graph_n_nodes(const qr_graph *g)
{
    return g->n_nodes;
}

QR_API qr_op qr_node_op(const qr_node *n) { return n->op; }
QR_API const char *qr_node_name(const qr_node *n) { return n->name; }
QR_API int qr_node_ndim(const qr_node *n) { return n->ndim; }
QR_API size_t qr_node_dim(const qr_node *n, int axis)
{
    return axis >= 0 && axis < n->ndim ? n->shape[axis] : 0;
}
QR_API size_t qr_node_size(const qr_node *n) { return qr_shape_size(n); }
QR_API float *qr_node_data(qr_node *n) { return n->x; }
QR_API float *qr_node_grad(qr_node *n) { return n->g; }
QR_API int qr_node_trainable(const qr_node *n) { return n->trainable; }
QR_API size_t qr_node_param_offset(const qr_node *n) { return n->param_offset; }
