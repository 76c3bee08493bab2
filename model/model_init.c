/* Starting a model from another: the parameters and batch-norm statistics of a trained model
 * copied into a freshly built one after checking that the two describe the same network. */
#include <stdio.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "model/model_impl.h"

static void shape_text(const qr_node *n, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < n->ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, i ? ", %zu" : "%zu", n->shape[i]);
    if (at < len)
        snprintf(buf + at, len - at, ")");
}

static int same_shape(const qr_node *a, const qr_node *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

static int ends_with(const char *name, const char *tail)
{
    size_t n = strlen(name), k = strlen(tail);
    return n > k && strcmp(name + n - k, tail) == 0;
}

/* An activation quantizer's range ("<layer>/act_range", or an evaluation model's fixed
 * "<layer>/grid_range"): optional in a warm start. */
static int act_range(const char *name)
{
    return ends_with(name, "/act_range") || ends_with(name, "/grid_range");
}

QR_API qr_status qr_model_init_from(qr_model *dst, const qr_model *src, const char *where,
                                    qr_error *err)
{
    const char *w = where ? where : "model";
    const qr_model_spec *ds = &dst->spec, *ss = &src->spec;
    if (ds->t != ss->t || ds->f != ss->f)
        return qr_error_set(err, QR_ERR_SHAPE, "%s: input (%zu, %zu) (steps, features), the "
                            "config's model expects (%zu, %zu)", w, ss->t, ss->f, ds->t, ds->f);
    size_t nl = ds->n_layers > ss->n_layers ? ds->n_layers : ss->n_layers;
    for (size_t i = 0; i < nl; i++) {
        const qr_layer_spec *a = i < ds->n_layers ? &ds->layers[i] : NULL;
        const qr_layer_spec *b = i < ss->n_layers ? &ss->layers[i] : NULL;
        if (a && b && a->kind == b->kind && strcmp(a->name, b->name) == 0)
            continue;
        return qr_error_set(err, QR_ERR_SHAPE, "%s: layer %zu is %s%s%s%s, the config's model "
                            "expects %s%s%s%s", w, i + 1, b ? "'" : "(none)", b ? b->name : "",
                            b ? "' " : "", b ? qr_layer_kind_name(b->kind) : "", a ? "'" : "(none)",
                            a ? a->name : "", a ? "' " : "", a ? qr_layer_kind_name(a->kind) : "");
    }
    const qr_graph *dg = dst->graph, *sg = src->graph;
    /* every check before the first copy: a mismatch leaves dst as it was */
    for (int pass = 0; pass < 2; pass++) {
        qr_status s;
        if (pass == 1 && src->mean &&
            (s = qr_model_set_standardization(dst, src->mean, src->std)) != QR_OK)
            return qr_error_set(err, s, "%s: out of memory", w);
        for (size_t i = 0; i < dg->n_nodes; i++) {
            qr_node *p = dg->nodes[i];
            if (p->op != QR_OP_PARAM)
                continue;
            qr_node *q = qr_graph_find(sg, p->name);
            char want[64], got[64];
            shape_text(p, want, sizeof want);
            if ((!q || q->op != QR_OP_PARAM) && act_range(p->name))
                continue; /* a float model warm-starts activation quantization: ranges from 0 */
            if (!q || q->op != QR_OP_PARAM)
                return qr_error_set(err, QR_ERR_SHAPE, "%s: parameter '%s' (expected shape %s) "
                                    "is missing", w, p->name, want);
            if (!same_shape(p, q)) {
                shape_text(q, got, sizeof got);
                return qr_error_set(err, QR_ERR_SHAPE, "%s: parameter '%s' has shape %s, the "
                                    "config's model expects %s", w, p->name, got, want);
            }
            if (pass == 1)
                memcpy(p->x, q->x, qr_shape_size(p) * sizeof *p->x);
        }
        for (size_t i = 0; pass == 0 && i < sg->n_nodes; i++) {
            const qr_node *q = sg->nodes[i];
            const qr_node *p = q->op == QR_OP_PARAM ? qr_graph_find(dg, q->name) : NULL;
            if (q->op == QR_OP_PARAM && (!p || p->op != QR_OP_PARAM) && !act_range(q->name))
                return qr_error_set(err, QR_ERR_SHAPE, "%s: parameter '%s' is not in the "
                                    "config's model", w, q->name);
        }
    }
    return QR_OK;
}
