/* Building a model's graph from its spec, initializing its parameters, and running it. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/init.h"

/* A parameter "<layer>/<tensor>" of 1 or 2+ dimensions. */
static qr_node *layer_param(qr_graph *g, const qr_layer_spec *l, const char *tensor, int ndim,
                            const size_t *shape, int buffer)
{
    char name[QR_NODE_NAME_MAX];
    snprintf(name, sizeof name, "%s/%s", l->name, tensor);
    return qr_param(g, name, ndim, shape, buffer);
}

static size_t last_dim(const qr_node *h)
{
    return h->shape[h->ndim - 1];
}

/* Append one layer to the graph: returns the layer's output (NULL on error, recorded in the
 * graph or in err). Initial values are written after compile (init_layer). */
static qr_node *build_layer(qr_model *m, const qr_layer_spec *l, qr_node *h, qr_error *err)
{
    qr_graph *g = m->graph;
    size_t c = last_dim(h);
    switch (l->kind) {
    case QR_LAYER_DENSE: {
        size_t sw[2] = {c, l->units}, sb[1] = {l->units};
        qr_node *w = layer_param(g, l, "kernel", 2, sw, 0);
        qr_node *y = qr_matmul(g, h, w);
        if (l->use_bias)
            y = qr_add(g, y, layer_param(g, l, "bias", 1, sb, 0));
        return y;
    }
    case QR_LAYER_RELU:
        return qr_relu(g, h);
    case QR_LAYER_SIGMOID:
        return qr_sigmoid(g, h);
    case QR_LAYER_TANH:
        return qr_tanh(g, h);
    case QR_LAYER_PRELU: {
        size_t sa[1] = {c};
        return qr_prelu(g, h, layer_param(g, l, "alpha", 1, sa, 0));
    }
    case QR_LAYER_DROPOUT:
        return qr_dropout(g, h, l->rate);
    case QR_LAYER_SPATIAL_DROPOUT:
        return qr_spatial_dropout(g, h, l->rate);
    case QR_LAYER_CONV1D: {
        size_t sw[3] = {l->kernel, c, l->units}, sb[1] = {l->units};
        qr_node *w = layer_param(g, l, "kernel", 3, sw, 0);
        qr_node *b = l->use_bias ? layer_param(g, l, "bias", 1, sb, 0) : NULL;
        if (l->use_bias && !b)
            return NULL;
        return qr_conv1d(g, h, w, b, (int)l->stride, (int)l->dilation,
                         (qr_conv_padding)l->padding);
    }
    case QR_LAYER_BATCHNORM: {
        size_t sc[1] = {c};
        qr_node *gamma = layer_param(g, l, "gamma", 1, sc, 0);
        qr_node *beta = layer_param(g, l, "beta", 1, sc, 0);
        qr_node *mean = layer_param(g, l, "moving_mean", 1, sc, 1);
        qr_node *var = layer_param(g, l, "moving_variance", 1, sc, 1);
        return qr_batchnorm(g, h, gamma, beta, mean, var, l->momentum, l->epsilon);
    }
    case QR_LAYER_GRU: {
        size_t u = l->units, si[2] = {c, 3 * u}, sh[2] = {u, 3 * u}, sb[1] = {3 * u};
        qr_node *wi = layer_param(g, l, "kernel", 2, si, 0);
        qr_node *wh = layer_param(g, l, "recurrent_kernel", 2, sh, 0);
        qr_node *bi = NULL, *bh = NULL;
        if (l->use_bias) {
            bi = layer_param(g, l, "bias", 1, sb, 0);
            bh = layer_param(g, l, "recurrent_bias", 1, sb, 0);
        } else {
            /* the fused op always adds biases: constant zero buffers stand in */
            bi = layer_param(g, l, "zero_bias", 1, sb, 1);
            bh = layer_param(g, l, "zero_recurrent_bias", 1, sb, 1);
        }
        if (h->ndim != 3) {
            qr_error_set(err, QR_ERR_CONFIG, "layer '%s': gru needs a (B, T, C) sequence input",
                         l->name);
            return NULL;
        }
        return qr_gru(g, h, wi, wh, bi, bh, NULL, l->return_sequences);
    }
    case QR_LAYER_GAP1D:
        return qr_gap1d(g, h);
    case QR_LAYER_MAXPOOL1D:
        return qr_maxpool1d(g, h, (int)l->kernel, (int)l->stride);
    case QR_LAYER_FLATTEN:
        return qr_flatten(g, h);
    default:
        qr_error_set(err, QR_ERR_UNSUPPORTED, "layer '%s': unknown type", l->name);
        return NULL;
    }
}

/* Keras initial values for one parameter tensor, chosen by its name. */
static qr_status init_param(qr_node *p, const qr_model_spec *spec, qr_rng *r)
{
    const char *slash = strrchr(p->name, '/');
    const char *t = slash ? slash + 1 : p->name;
    size_t n = qr_shape_size(p);
    const qr_layer_spec *l = NULL;
    for (size_t i = 0; i < spec->n_layers; i++)
        if (slash && strlen(spec->layers[i].name) == (size_t)(slash - p->name) &&
            strncmp(spec->layers[i].name, p->name, (size_t)(slash - p->name)) == 0)
            l = &spec->layers[i];
    if (strcmp(t, "kernel") == 0) {
        /* fan_in/fan_out: for a (k, Cin, Cout) conv kernel, the receptive field k times the
         * channels, as Keras computes them */
        size_t fan_out = p->shape[p->ndim - 1], fan_in = n / fan_out;
        size_t rf = p->ndim == 3 ? p->shape[0] : 1;
        qr_init_glorot_uniform(p->x, fan_in, fan_out * rf, n, r);
        return QR_OK;
    }
    if (strcmp(t, "recurrent_kernel") == 0)
        return qr_init_orthogonal(p->x, p->shape[0], p->shape[1], 1.0f, r);
    if (strcmp(t, "gamma") == 0 || strcmp(t, "moving_variance") == 0) {
        qr_init_constant(p->x, n, 1.0f);
        return QR_OK;
    }
    if (strcmp(t, "alpha") == 0) {
        qr_init_constant(p->x, n, l ? l->alpha_init : 0.0f);
        return QR_OK;
    }
    qr_init_zeros(p->x, n); /* biases, beta, moving_mean */
    return QR_OK;
}

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* The model's memory, from its shapes before anything is allocated, against `limit` (0: none):
 * the graph's arenas plus `copies` float copies of the parameters. The message says what was
 * asked for, by what (the largest layer, its output shape) and the limit. Layer i made the
 * nodes first[i] .. first[i + 1] - 1. `library_limit`: the limit is qr_get_memory_limit(), whose
 * origin the message quotes. */
static qr_status check_memory(qr_model *m, const size_t *first, size_t copies, size_t limit,
                              int library_limit, qr_error *err)
{
    qr_graph *g = m->graph;
    qr_graph_memory mem;
    qr_status s = qr_graph_memory_use(g, &mem);
    if (s != QR_OK)
        return qr_error_set(err, s, "model: %s", qr_graph_error(g));
    size_t n_par = mem.params / sizeof(float);
    size_t state = n_par && copies > SIZE_MAX / sizeof(float) / n_par
                       ? SIZE_MAX : copies * n_par * sizeof(float);
    size_t total = add_sat(mem.total, state);
    if (total != SIZE_MAX && (!limit || total <= limit))
        return QR_OK;
    size_t big = 0, big_bytes = 0;
    for (size_t i = 0; i < m->spec.n_layers; i++) {
        size_t b = 0;
        for (size_t k = first[i]; k < first[i + 1]; k++)
            b = add_sat(b, qr_node_memory(g, g->nodes[k]));
        if (b > big_bytes) {
            big = i;
            big_bytes = b;
        }
    }
    char t_total[32], t_lim[32], t_act[32], t_par[32], t_aux[32], t_state[32], t_big[32],
        shape[64] = "?";
    qr_bytes_format(total, t_total, sizeof t_total);
    qr_bytes_format(limit, t_lim, sizeof t_lim);
    qr_bytes_format(add_sat(mem.acts, mem.act_grads), t_act, sizeof t_act);
    qr_bytes_format(add_sat(mem.params, mem.param_grads), t_par, sizeof t_par);
    qr_bytes_format(add_sat(mem.aux, mem.scratch), t_aux, sizeof t_aux);
    qr_bytes_format(state, t_state, sizeof t_state);
    qr_bytes_format(big_bytes, t_big, sizeof t_big);
    const qr_layer_spec *l = &m->spec.layers[big];
    if (first[big + 1] > first[big])
        qr_shape_format(g->nodes[first[big + 1] - 1], shape, sizeof shape);
    char why[224];
    const char *origin = qr_memory_limit_origin();
    if (total == SIZE_MAX || !limit)
        snprintf(why, sizeof why, "more than can be addressed");
    else
        snprintf(why, sizeof why, "more than the memory limit of %s%s%s%s", t_lim,
                 library_limit && *origin ? " (" : "", library_limit ? origin : "",
                 library_limit && *origin ? ")" : "");
    return qr_error_set(err, QR_ERR_NOMEM,
                        "model: input (%zu, %zu) at batch %zu needs %s (%zu bytes: activations "
                        "%s, op state and scratch %s, parameters %s%s%s; largest layer '%s' "
                        "(%s, output %s): %s), %s; nothing was allocated", m->spec.t, m->spec.f,
                        g->max_batch, t_total, total, t_act, t_aux, t_par,
                        copies ? ", training state " : "", copies ? t_state : "", l->name,
                        qr_layer_kind_name(l->kind), shape, t_big, why);
}

static int is_dropout(qr_layer_kind k)
{
    return k == QR_LAYER_DROPOUT || k == QR_LAYER_SPATIAL_DROPOUT;
}

/* Layer i is not the last one, dropout aside (its output is not the logits). */
static int before_logits(const qr_model_spec *sp, size_t i)
{
    size_t last = sp->n_layers;
    while (last > 0 && is_dropout(sp->layers[last - 1].kind))
        last--;
    return i + 1 < last;
}

int qr_model_before_logits(const qr_model_spec *sp, size_t i)
{
    return before_logits(sp, i);
}

int qr_model_act_quantized(const qr_model_spec *sp, size_t i)
{
    if (!before_logits(sp, i))
        return 0;
    size_t frames = sp->t > 1, j = i + 1;
    for (size_t k = 0; k < i; k++) {
        const qr_layer_spec *l = &sp->layers[k];
        if ((l->kind == QR_LAYER_GRU && !l->return_sequences) || l->kind == QR_LAYER_FLATTEN ||
            l->kind == QR_LAYER_GAP1D)
            frames = 0;
    }
    while (j < sp->n_layers && is_dropout(sp->layers[j].kind))
        j++;
    qr_layer_kind next = j < sp->n_layers ? sp->layers[j].kind : QR_LAYER_DROPOUT;
    switch (sp->layers[i].kind) {
    case QR_LAYER_CONV1D:
    case QR_LAYER_DENSE:
        return next != QR_LAYER_BATCHNORM;
    case QR_LAYER_BATCHNORM:
        return 1;
    case QR_LAYER_FLATTEN:
    case QR_LAYER_GAP1D:
        return frames && next != QR_LAYER_DENSE;
    default:
        return 0;
    }
}

/* A quantizer with a range of its own, "<layer>/act_range", after h (tensor i: the output of
 * layer i, or the input for i = n_layers). */
static qr_node *act_quant(qr_model *m, qr_node *h, const char *layer, size_t i, qr_node **cur)
{
    char name[QR_NODE_NAME_MAX];
    size_t one[1] = {1};
    snprintf(name, sizeof name, "%s/act_range", layer);
    qr_node *r = qr_param(m->graph, name, 1, one, 1);
    m->act_range[i] = r;
    *cur = r;
    return r ? qr_fake_quant(m->graph, h, r, (1 << (m->act_bits - 1)) - 1, 1, m->act_momentum)
             : NULL;
}

/* A fixed quantizer on the integer model's grid of tensor i (qr_model_options.grid_bound):
 * "<layer>/grid_range" holds the range, set here. */
static qr_node *grid_quant(qr_graph *g, qr_node *h, const char *layer, const qr_model_options *o,
                           size_t i)
{
    if (!h || !o || !o->grid_bound || o->grid_bound[i] <= 0)
        return h;
    char name[QR_NODE_NAME_MAX];
    size_t one[1] = {1};
    snprintf(name, sizeof name, "%s/grid_range", layer);
    qr_node *r = qr_param(g, name, 1, one, 1);
    if (r)
        qr_node_set_requires_grad(r, 0);
    return r ? qr_fake_quant(g, h, r, (int)o->grid_bound[i], 0, 0.0f) : NULL;
}

QR_API int qr_model_act_bits(const qr_model *m)
{
    return m->act_bits;
}

QR_API int qr_model_act_range(const qr_model *m, size_t i, float *range)
{
    if (!m->act_range || i > m->spec.n_layers || !m->act_range[i])
        return 0;
    *range = m->act_range[i]->x[0];
    return 1;
}

QR_API qr_status qr_model_new(const qr_model_spec *spec, size_t max_batch, uint64_t seed,
                              qr_model **out, qr_error *err)
{
    return qr_model_new_ex(spec, max_batch, seed, NULL, out, err);
}

QR_API qr_status qr_model_new_ex(const qr_model_spec *spec, size_t max_batch, uint64_t seed,
                                 const qr_model_options *opt, qr_model **out, qr_error *err)
{
    *out = NULL;
    if (!spec || spec->n_layers == 0 || spec->f == 0 || spec->t == 0 || max_batch == 0)
        return qr_error_set(err, QR_ERR_ARG, "model: empty spec or zero input size");
    if (spec->n_classes < 2)
        return qr_error_set(err, QR_ERR_ARG, "model: %zu classes (at least 2)", spec->n_classes);
    qr_model *m = calloc(1, sizeof *m);
    if (!m)
        return qr_error_set(err, QR_ERR_NOMEM, "model: out of memory");
    qr_status s = qr_model_spec_copy(&m->spec, spec);
    if (s != QR_OK) {
        free(m);
        return qr_error_set(err, s, "model: out of memory");
    }
    /* a spec built in C: names and defaults as the JSON parser gives them */
    if ((s = qr_model_spec_complete(&m->spec, "model", err)) != QR_OK) {
        qr_model_free(m);
        return s;
    }
    /* the last dense layer without units gets one per class */
    for (size_t i = m->spec.n_layers; i-- > 0;)
        if (m->spec.layers[i].kind == QR_LAYER_DENSE) {
            if (m->spec.layers[i].units == 0)
                m->spec.layers[i].units = spec->n_classes;
            break;
        }
    m->graph = qr_graph_new(max_batch);
    if (!m->graph) {
        qr_model_free(m);
        return qr_error_set(err, QR_ERR_NOMEM, "model: out of memory");
    }
    qr_graph *g = m->graph;
    size_t sx[3] = {max_batch, spec->t, spec->f}, sy[1] = {max_batch};
    if (spec->t == 1) {
        size_t sflat[2] = {max_batch, spec->f};
        m->x = qr_input(g, "x", 2, sflat);
    } else {
        m->x = qr_input(g, "x", 3, sx);
    }
    m->y = qr_input(g, "y", 1, sy);
    qr_node *h = m->x;
    m->layer_out = calloc(m->spec.n_layers, sizeof *m->layer_out);
    if (!m->layer_out) {
        qr_model_free(m);
        return qr_error_set(err, QR_ERR_NOMEM, "model: out of memory");
    }
    size_t *first = calloc(m->spec.n_layers + 1, sizeof *first);
    if (!first) {
        qr_model_free(m);
        return qr_error_set(err, QR_ERR_NOMEM, "model: out of memory");
    }
    if (opt && opt->act_bits) {
        if (opt->act_bits < 2 || opt->act_bits > 16 ||
            !(opt->act_momentum >= 0.0f && opt->act_momentum < 1.0f)) {
            qr_model_free(m);
            free(first);
            return qr_error_set(err, QR_ERR_ARG, "model: activation bits %d (2 to 16) or "
                                "momentum %g ([0, 1)) out of range", opt->act_bits,
                                (double)opt->act_momentum);
        }
        m->act_bits = opt->act_bits;
        m->act_momentum = opt->act_momentum;
        if (!(m->act_range = calloc(m->spec.n_layers + 1, sizeof *m->act_range))) {
            qr_model_free(m);
            free(first);
            return qr_error_set(err, QR_ERR_NOMEM, "model: out of memory");
        }
    }
    qr_node *cur = NULL; /* the range of the grid h is on (activation quantization) */
    if (m->act_bits && !(h = act_quant(m, h, "__input", m->spec.n_layers, &cur))) {
        qr_status gs = qr_graph_status(g) ? qr_graph_status(g) : QR_ERR_NOMEM;
        qr_error_set(err, gs, "model: %s", qr_graph_error(g));
        qr_model_free(m);
        free(first);
        return gs;
    }
    h = grid_quant(g, h, "__input", opt, m->spec.n_layers);
    for (size_t i = 0; i < m->spec.n_layers && h; i++) {
        const qr_layer_spec *l = &m->spec.layers[i];
        qr_error lerr = {{0}};
        first[i] = g->n_nodes;
        first[i + 1] = g->n_nodes;
        h = build_layer(m, l, h, &lerr);
        m->layer_out[i] = h;
        if (h && m->act_bits) {
            if (qr_model_act_quantized(&m->spec, i)) {
                h = act_quant(m, h, l->name, i, &cur);
            } else if (l->kind == QR_LAYER_PRELU && cur && qr_model_before_logits(&m->spec, i)) {
                /* the device rounds PReLU's output on its input's grid */
                h = qr_fake_quant(g, h, cur, (1 << (m->act_bits - 1)) - 1, 0, m->act_momentum);
            } else if (l->kind != QR_LAYER_RELU && l->kind != QR_LAYER_MAXPOOL1D &&
                       l->kind != QR_LAYER_DROPOUT && l->kind != QR_LAYER_SPATIAL_DROPOUT &&
                       l->kind != QR_LAYER_PRELU) {
                cur = NULL; /* a new scale without a quantizer of its own (GRU, tanh, ...) */
            }
        }
        h = grid_quant(g, h, l->name, opt, i);
        first[i + 1] = g->n_nodes;
        if (!h) {
            if (lerr.msg[0])
                qr_error_set(err, QR_ERR_CONFIG, "%s", lerr.msg);
            else
                qr_error_set(err, qr_graph_status(g), "layer '%s' (%s): %s", l->name,
                             qr_layer_kind_name(l->kind), qr_graph_error(g));
            qr_model_free(m);
            free(first);
            return QR_ERR_CONFIG;
        }
    }
    if (h->ndim != 2 || h->shape[1] != spec->n_classes) {
        char shape[64] = "";
        for (int i = 1; i < h->ndim; i++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ", %zu", h->shape[i]);
        qr_error_set(err, QR_ERR_CONFIG,
                     "model: the last layer's output is (B%s) but must be (B, %zu), one logit "
                     "per class: end the model with a dense layer", shape, spec->n_classes);
        qr_model_free(m);
        free(first);
        return QR_ERR_CONFIG;
    }
    m->logits = qr_node_set_name(h, "logits");
    m->loss = qr_softmax_ce(g, m->logits, m->y);
    if (opt && opt->distill) {
        size_t st[2] = {max_batch, spec->n_classes};
        m->teacher = qr_input(g, "teacher", 2, st);
        m->kd = qr_kd_loss(g, m->logits, m->teacher, m->y, opt->kd_alpha, opt->kd_temperature,
                           opt->kd_t2);
        if (!m->kd) {
            qr_error_set(err, QR_ERR_CONFIG, "model: distillation needs 0 <= alpha <= 1 and a "
                         "temperature > 0 (%s)", qr_graph_error(g));
            qr_model_free(m);
            free(first);
            return QR_ERR_CONFIG;
        }
    }
    if (opt && opt->max_params) {
        /* the shapes are known before compile: count without allocating the arenas */
        size_t count = 0;
        for (size_t i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == QR_OP_PARAM)
                count += qr_shape_size(g->nodes[i]);
        if (count > opt->max_params) {
            qr_error_set(err, QR_ERR_FORMAT, "model: declares %zu parameters, more than the "
                         "%zu the data can hold", count, opt->max_params);
            qr_model_free(m);
            free(first);
            return QR_ERR_FORMAT;
        }
    }
    size_t limit = opt && opt->max_memory ? opt->max_memory : qr_get_memory_limit();
    s = check_memory(m, first, opt ? opt->param_copies : 0, limit,
                     !(opt && opt->max_memory), err);
    free(first);
    if (s != QR_OK) {
        qr_model_free(m);
        return s;
    }
    qr_graph_set_memory_limit(g, limit);
    if ((s = qr_graph_compile(g)) != QR_OK) {
        qr_error_set(err, s, "model: %s", qr_graph_error(g));
        qr_model_free(m);
        return s;
    }
    qr_rng r;
    qr_rng_seed(&r, seed);
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == QR_OP_PARAM &&
            (s = init_param(g->nodes[i], &m->spec, &r)) != QR_OK) {
            qr_error_set(err, s, "model: initializing %s failed", g->nodes[i]->name);
            qr_model_free(m);
            return s;
        }
    for (size_t i = 0; opt && opt->grid_bound && i <= m->spec.n_layers; i++) {
        char name[QR_NODE_NAME_MAX];
        snprintf(name, sizeof name, "%s/grid_range",
                 i < m->spec.n_layers ? m->spec.layers[i].name : "__input");
        qr_node *gr = qr_graph_find(g, name);
        if (gr)
            gr->x[0] = opt->grid_range[i];
    }
    /* dropout masks draw from the graph's stream, seeded apart from the initializers */
    qr_rng_seed(qr_graph_rng(g), seed ^ 0x9e3779b97f4a7c15ULL);
    *out = m;
    return QR_OK;
}

QR_API void qr_model_free(qr_model *m)
{
    if (!m)
        return;
    qr_graph_free(m->graph);
    qr_model_spec_free(&m->spec);
    if (m->classes)
        for (size_t i = 0; i < m->n_classes_named; i++)
            free(m->classes[i]);
    free(m->classes);
    free(m->mean);
    free(m->std);
    free(m->layer_out);
    free(m->act_range);
    free(m->calib);
    free(m->features);
    if (m->quant) {
        qr_quant_plan_free(m->quant);
        free(m->quant);
    }
    free(m);
}

QR_API const qr_model_spec *qr_model_spec_of(const qr_model *m) { return &m->spec; }
QR_API qr_graph *qr_model_graph(qr_model *m) { return m->graph; }
QR_API qr_node *qr_model_input(qr_model *m) { return m->x; }
QR_API qr_node *qr_model_labels(qr_model *m) { return m->y; }
QR_API qr_node *qr_model_logits(qr_model *m) { return m->logits; }
QR_API qr_node *qr_model_loss(qr_model *m) { return m->loss; }
QR_API qr_node *qr_model_teacher(qr_model *m) { return m->teacher; }
QR_API qr_node *qr_model_train_loss(qr_model *m) { return m->kd ? m->kd : m->loss; }

QR_API void qr_model_count_params(const qr_model *m, size_t *trainable, size_t *buffers)
{
    size_t t = 0, b = 0;
    for (size_t i = 0; i < m->graph->n_nodes; i++) {
        const qr_node *n = m->graph->nodes[i];
        if (n->op != QR_OP_PARAM)
            continue;
        if (n->trainable)
            t += n->max_size;
        else
            b += n->max_size;
    }
    if (trainable)
        *trainable = t;
    if (buffers)
        *buffers = b;
}

QR_API qr_status qr_model_set_classes(qr_model *m, const char *const *names, size_t n)
{
    if (n != m->spec.n_classes)
        return QR_ERR_ARG;
    char **c = calloc(n, sizeof *c);
    if (!c)
        return QR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i] = strdup(names[i] ? names[i] : "");
        if (!c[i]) {
            for (size_t j = 0; j < i; j++)
                free(c[j]);
            free(c);
            return QR_ERR_NOMEM;
        }
    }
    if (m->classes)
        for (size_t i = 0; i < m->n_classes_named; i++)
            free(m->classes[i]);
    free(m->classes);
    m->classes = c;
    m->n_classes_named = n;
    return QR_OK;
}

QR_API qr_status qr_model_set_features(qr_model *m, const char *json)
{
    if (!m)
        return QR_ERR_ARG;
    char *copy = NULL;
    if (json) {
        cJSON *o = cJSON_Parse(json);
        int ok = cJSON_IsObject(o);
        cJSON_Delete(o);
        if (!ok)
            return QR_ERR_ARG;
        if (!(copy = strdup(json)))
            return QR_ERR_NOMEM;
    }
    free(m->features);
    m->features = copy;
    return QR_OK;
}

QR_API const char *qr_model_features(const qr_model *m)
{
    return m ? m->features : NULL;
}

QR_API const char *const *qr_model_classes(const qr_model *m)
{
    return (const char *const *)m->classes;
}

QR_API qr_status qr_model_set_standardization(qr_model *m, const float *mean, const float *std)
{
    size_t f = m->spec.f;
    if (!mean || !std)
        return QR_ERR_ARG;
    for (size_t i = 0; i < f; i++)
        if (!(std[i] > 0.0f))
            return QR_ERR_ARG;
    float *mu = malloc(f * sizeof *mu), *sd = malloc(f * sizeof *sd);
    if (!mu || !sd) {
        free(mu);
        free(sd);
        return QR_ERR_NOMEM;
    }
    memcpy(mu, mean, f * sizeof *mu);
    memcpy(sd, std, f * sizeof *sd);
    free(m->mean);
    free(m->std);
    m->mean = mu;
    m->std = sd;
    return QR_OK;
}

QR_API int qr_model_standardization(const qr_model *m, const float **mean, const float **std)
{
    if (mean)
        *mean = m->mean;
    if (std)
        *std = m->std;
    return m->mean != NULL;
}

void qr_model_load_inputs(qr_model *m, const float *x, size_t n)
{
    size_t row = m->spec.t * m->spec.f, f = m->spec.f;
    float *dst = m->x->x;
    memcpy(dst, x, n * row * sizeof *dst);
    if (m->mean)
        for (size_t i = 0; i < n * m->spec.t; i++)
            for (size_t j = 0; j < f; j++)
                dst[i * f + j] = (dst[i * f + j] - m->mean[j]) / m->std[j];
}

QR_API qr_status qr_model_predict(qr_model *m, const float *x, size_t n, float *logits,
                                  int32_t *pred)
{
    qr_graph *g = m->graph;
    size_t row = m->spec.t * m->spec.f, c = m->spec.n_classes;
    int was_training = g->training;
    qr_graph_set_training(g, 0);
    for (size_t at = 0; at < n; at += g->max_batch) {
        size_t b = n - at < g->max_batch ? n - at : g->max_batch;
        qr_status s = qr_graph_set_batch(g, b);
        if (s != QR_OK)
            return s;
        qr_model_load_inputs(m, x + at * row, b);
        qr_graph_forward(g, m->logits);
        const float *z = m->logits->x;
        if (logits)
            memcpy(logits + at * c, z, b * c * sizeof *z);
        if (pred)
            for (size_t i = 0; i < b; i++) {
                size_t best = 0;
                for (size_t j = 1; j < c; j++)
                    if (z[i * c + j] > z[i * c + best])
                        best = j;
                pred[at + i] = (int32_t)best;
            }
    }
    qr_graph_set_training(g, was_training);
    return QR_OK;
}

QR_API qr_node *qr_model_layer_output(qr_model *m, size_t i)
{
    return i < m->spec.n_layers ? m->layer_out[i] : NULL;
}

QR_API const float *qr_model_calibration(const qr_model *m)
{
    return m->calib;
}

static void track_max(const qr_node *n, float *mx)
{
    size_t cnt = qr_shape_size(n);
    for (size_t k = 0; k < cnt; k++)
        if (fabsf(n->x[k]) > *mx)
            *mx = fabsf(n->x[k]);
}

QR_API qr_status qr_model_calibrate(qr_model *m, const float *x, size_t n)
{
    qr_graph *g = m->graph;
    size_t n_layers = m->spec.n_layers, n_all, row = m->spec.t * m->spec.f;
    float *w = qr_graph_params(g, NULL, &n_all);
    float *save = malloc((n_all + 1) * sizeof *save);
    float *mx = calloc(n_layers + 1, sizeof *mx);
    qr_quant_plan own = {0};
    const qr_quant_plan *plan = m->quant;
    if (!save || !mx || (!plan && qr_quant_plan_init(&own, &m->spec) != QR_OK)) {
        free(save);
        free(mx);
        qr_quant_plan_free(&own);
        return QR_ERR_NOMEM;
    }
    if (!plan)
        plan = &own;
    memcpy(save, w, n_all * sizeof *save);
    qr_quant_fake(plan, m->graph);
    int was_training = g->training;
    qr_graph_set_training(g, 0);
    qr_status s = QR_OK;
    for (size_t at = 0; at < n && s == QR_OK; at += g->max_batch) {
        size_t b = n - at < g->max_batch ? n - at : g->max_batch;
        if ((s = qr_graph_set_batch(g, b)) != QR_OK)
            break;
        qr_model_load_inputs(m, x + at * row, b);
        qr_graph_forward(g, m->logits);
        track_max(m->x, &mx[0]);
        for (size_t i = 0; i < n_layers; i++)
            track_max(m->layer_out[i], &mx[i + 1]);
    }
    qr_graph_set_training(g, was_training);
    memcpy(w, save, n_all * sizeof *save);
    free(save);
    qr_quant_plan_free(&own);
    if (s != QR_OK) {
        free(mx);
        return s;
    }
    for (size_t i = 0; i <= n_layers; i++)
        if (!isfinite(mx[i])) {
            free(mx);
            return QR_ERR_NUMERIC;
        }
    free(m->calib);
    m->calib = mx;
    /* an activation quantizer that never saw a training batch (a warm start kept at epoch 0,
     * or 0 epochs) gets the calibrated range, so that evaluation and export share one grid */
    for (size_t i = 0; m->act_range && i <= n_layers; i++)
        if (m->act_range[i] && !(m->act_range[i]->x[0] > 0.0f))
            m->act_range[i]->x[0] = mx[i == n_layers ? 0 : i + 1];
    return QR_OK;
}
