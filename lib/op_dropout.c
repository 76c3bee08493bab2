/* Inverted dropout (Keras Dropout, PyTorch nn.Dropout) and spatial dropout (Keras
 * SpatialDropout1D, PyTorch nn.Dropout1d on channels-last data).
 *
 * Training mode (qr_graph_training at forward time), rate p in [0, 1):
 *   dropout:          y = x ⊙ m / (1 - p),  m[i] ~ Bernoulli(1 - p) per element
 *   spatial dropout:  x (B, T, C), y[b, t, c] = x[b, t, c] · m[b, c] / (1 - p): a channel of
 *                     one sample is kept or dropped for the whole sequence
 * so E[y] = x. Eval mode, or p = 0: y = x (no random draw).
 * m[i] = 1 iff u >= p for u = qr_rng_uniform(qr_graph_rng(g)), drawn in element order
 * (spatial: in (b, c) order), so a restored stream replays the same mask.
 * Backward: dx += m / (1 - p) ⊙ dy (spatial: broadcast over T), or dx += dy when the last
 * forward did not drop.
 * Dropped elements are multiplied by 0 (as PyTorch does), so NaN and inf stay NaN.
 * fp[0] = p. aux: byte 0 = 1 if the last forward applied a mask, then one byte per mask entry
 * (element count, or B·C) at the maximum batch. */
#include <string.h>
#include "ops.h"

static qr_status dropout_shape(qr_graph *g, qr_node *n)
{
    const qr_node *x = n->in[0];
    if (n->op == QR_OP_SPATIAL_DROPOUT && x->ndim != 3)
        return qr_graph_fail(g, QR_ERR_SHAPE,
                             "spatial_dropout: input %s has %d dimensions, not (B, T, C)", x->name,
                             x->ndim);
    n->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        n->shape[i] = x->shape[i];
    n->batched = x->batched;
    return QR_OK;
}

/* Mask entries: one per element, or one per (sample, channel). */
static size_t dropout_mask_len(const qr_node *n)
{
    if (n->op == QR_OP_SPATIAL_DROPOUT)
        return n->shape[0] * n->shape[2];
    return qr_shape_size(n);
}

static size_t dropout_aux(const qr_node *n)
{
    return 1 + dropout_mask_len(n);
}

/* Spatial dropout walks one sample's (T, C) values in blocks of W = R·C (R whole rows, W >= 64)
 * against its C channel scales repeated R times: with C = 6 (bts) a loop over one row's
 * channels is never vector code. */
static size_t spatial_width(size_t c)
{
    size_t r = (64 + c - 1) / c;
    return r * c;
}

/* Spatial dropout's repeated scales of one sample (W). */
static size_t dropout_scratch(const qr_node *n)
{
    return n->op == QR_OP_SPATIAL_DROPOUT ? spatial_width(n->shape[2]) : 0;
}

/* scale (W) = the sample's C channel scales (keep or 0) repeated */
static void spatial_scales(float *scale, size_t w, const unsigned char *mask, size_t c,
                           float keep)
{
    for (size_t j = 0; j < c; j++)
        scale[j] = mask[j] ? keep : 0.0f;
    /* copies of the first C (scale[j] = scale[j - C] would wait on its own stores) */
    for (size_t o = c; o < w; o += c)
        for (size_t j = 0; j < c; j++)
            scale[o + j] = scale[j];
}

static void dropout_forward(qr_graph *g, qr_node *n)
{
    const float *x = n->in[0]->x;
    unsigned char *aux = n->aux, *mask = aux + 1;
    float p = n->fp[0];
    size_t total = qr_shape_size(n);
    if (!qr_graph_training(g) || p == 0.0f) {
        aux[0] = 0;
        memcpy(n->x, x, total * sizeof(float));
        return;
    }
    aux[0] = 1;
    float keep = 1.0f / (1.0f - p);
    qr_rng *r = qr_graph_rng(g);
    size_t len = dropout_mask_len(n);
    for (size_t i = 0; i < len; i++)
        mask[i] = qr_rng_uniform(r) >= p;
    /* y = x · s with s = keep or 0 (a multiply, not a branch on random bits); the scale of
     * a dropped element is +0, so y is ±0 there (x·0) and NaN stays NaN, as in PyTorch */
    float *restrict y = n->x;
    if (n->op == QR_OP_DROPOUT) {
        for (size_t i = 0; i < total; i++)
            y[i] = x[i] * (mask[i] ? keep : 0.0f);
        return;
    }
    size_t b = n->shape[0], tc = n->shape[1] * n->shape[2], c = n->shape[2];
    size_t w = spatial_width(c);
    float *restrict scale = g->scratch;
    for (size_t i = 0; i < b; i++) {
        spatial_scales(scale, w, mask + i * c, c, keep);
        for (size_t o = 0; o < tc; o += w) {
            const float *restrict xo = x + i * tc + o;
            float *restrict yo = y + i * tc + o;
            size_t k = tc - o < w ? tc - o : w;
            for (size_t j = 0; j < k; j++)
                yo[j] = xo[j] * scale[j];
        }
    }
}

static void dropout_backward(qr_graph *g, qr_node *n)
{
    float *dx = n->in[0]->g;
    if (!dx)
        return;
    const unsigned char *aux = n->aux, *mask = aux + 1;
    size_t total = qr_shape_size(n);
    if (!aux[0]) {
        for (size_t i = 0; i < total; i++)
            dx[i] += n->g[i];
        return;
    }
    float keep = 1.0f / (1.0f - n->fp[0]);
    const float *restrict dy = n->g;
    if (n->op == QR_OP_DROPOUT) {
        for (size_t i = 0; i < total; i++) {
            float d = keep * dy[i]; /* loaded unconditionally: a blend, not a branch */
            dx[i] += mask[i] ? d : 0.0f;
        }
        return;
    }
    size_t b = n->shape[0], tc = n->shape[1] * n->shape[2], c = n->shape[2];
    size_t w = spatial_width(c);
    float *restrict scale = g->scratch;
    for (size_t i = 0; i < b; i++) {
        spatial_scales(scale, w, mask + i * c, c, keep);
        for (size_t o = 0; o < tc; o += w) {
            const float *restrict dyo = dy + i * tc + o;
            float *restrict dxo = dx + i * tc + o;
            size_t k = tc - o < w ? tc - o : w;
            for (size_t j = 0; j < k; j++)
                dxo[j] += dyo[j] * scale[j];
        }
    }
}

const qr_op_def qr_opdef_dropout = {
    .name = "dropout", .shape = dropout_shape, .forward = dropout_forward,
    .backward = dropout_backward, .aux_bytes = dropout_aux, .scratch_floats = dropout_scratch,
};
const qr_op_def qr_opdef_spatial_dropout = {
    .name = "spatial_dropout", .shape = dropout_shape, .forward = dropout_forward,
    .backward = dropout_backward, .aux_bytes = dropout_aux, .scratch_floats = dropout_scratch,
};

static qr_node *dropout_build(qr_graph *g, qr_op op, qr_node *x, float rate)
{
    if (!g)
        return NULL;
    if (!(rate >= 0.0f && rate < 1.0f)) {
        qr_graph_fail(g, QR_ERR_ARG, "%s: rate %g not in [0, 1)", qr_op_name(op), (double)rate);
        return NULL;
    }
    float fp[QR_NODE_NFP] = {rate};
    return qr_graph_add_node(g, op, 1, &x, NULL, fp);
}

QR_API qr_node *qr_dropout(qr_graph *g, qr_node *x, float rate)
{
    return dropout_build(g, QR_OP_DROPOUT, x, rate);
}

QR_API qr_node *qr_spatial_dropout(qr_graph *g, qr_node *x, float rate)
{
    return dropout_build(g, QR_OP_SPATIAL_DROPOUT, x, rate);
}
