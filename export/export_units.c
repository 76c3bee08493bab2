/* The exporter's runtime layers ("units", export/export_units.h): a conv1d/dense with the batch
 * norm right after it is one unit, dropout disappears, a flatten or average pooling folds into
 * the dense layer after it; every weight matrix quantized exactly as qr_quant_fake does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qreg/export.h"
#include "export/export_units.h"
#include "export/qrt_builder.h"
#include "qrt_format.h"

const qr_node *qr_export_param(qr_model *m, const char *layer, const char *tensor)
{
    char name[QR_NODE_NAME_MAX];
    snprintf(name, sizeof name, "%s/%s", layer, tensor);
    const qr_node *n = qr_graph_find(m->graph, name);
    return n && n->op == QR_OP_PARAM ? n : NULL;
}

/* The plan index of a weight matrix (the model's plan, or a default 8-bit PTQ entry), or
 * p->n when the plan does not name it. */
size_t qr_export_plan_entry(const qr_quant_plan *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->m[i].name, name) == 0)
            return i;
    return p->n;
}

/* A rounded weight k clamped to ±m as an int8 level. A NaN (export refuses non-finite
 * parameters first: check_finite) gives 0: a NaN cast to an integer is undefined behaviour. */
static int8_t clamp_level(float k, float m)
{
    if (k >= -m && k <= m)
        return (int8_t)k;
    return (int8_t)(k > m ? m : k < -m ? -m : 0.0f);
}

/* Quantize W (in, out) into levels (out, in) by the plan's rule, as qr_quant_fake rounds
 * (qi: the matrix's plan index), and the real step of every row into s_w (out values): the
 * same for every row, or its output channel's grid scale with per-channel scales. */
static int8_t *quantize_matrix(const qr_node *n, const qr_quant_plan *p, size_t qi, size_t in,
                               size_t out, double **s_w_out, int *bits)
{
    int8_t *lv = malloc(in * out + 1);
    double *s_w = malloc((out + 1) * sizeof *s_w);
    *s_w_out = s_w;
    if (!lv || !s_w) {
        free(lv);
        return NULL;
    }
    const qr_quant_matrix *q = qi < p->n ? &p->m[qi] : NULL;
    const float *w = n->x;
    if (q && q->regularized) {
        *bits = q->bits;
        float m = (float)qr_reg_levels(q->bits);
        for (size_t o = 0; o < out; o++) {
            /* element i·out + o is in output channel o */
            float a = qr_quant_elem_alpha(p, qi, o);
            if (q->bits == 1) {
                s_w[o] = a;
                for (size_t i = 0; i < in; i++)
                    lv[o * in + i] = w[i * out + o] / a >= 0.0f ? 1 : -1;
            } else {
                s_w[o] = (double)a / (double)m;
                for (size_t i = 0; i < in; i++) {
                    lv[o * in + i] = clamp_level(roundf(w[i * out + o] / a * m), m);
                }
            }
        }
        return lv;
    }
    float mx = 0.0f;
    for (size_t i = 0; i < in * out; i++)
        mx = fabsf(w[i]) > mx ? fabsf(w[i]) : mx;
    float scale = mx / 127.0f;
    *bits = 8;
    for (size_t o = 0; o < out; o++)
        s_w[o] = scale > 0.0f ? (double)scale : 1.0;
    for (size_t o = 0; o < out; o++)
        for (size_t i = 0; i < in; i++) {
            float k = scale > 0.0f ? roundf(w[i * out + o] / scale) : 0.0f;
            lv[o * in + i] = clamp_level(k, 127.0f);
        }
    return lv;
}

void qr_export_free_units(unit *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(u[i].w);
        free(u[i].wh);
        free(u[i].s_w);
        free(u[i].s_wh);
    }
    free(u);
}

/* The next layer after i that is not dropout (n_layers if none). */
size_t qr_export_next_real(const qr_model_spec *sp, size_t i)
{
    size_t j = i + 1;
    while (j < sp->n_layers && (sp->layers[j].kind == QR_LAYER_DROPOUT ||
                                sp->layers[j].kind == QR_LAYER_SPATIAL_DROPOUT))
        j++;
    return j;
}

/* Frames out of a window of span frames with stride s over `frames` (0: flat vectors). */
size_t qr_export_frames_after(size_t frames, size_t span, size_t s, int pad)
{
    if (!frames)
        return 0;
    if (pad == QR_PAD_VALID)
        return frames >= span ? (frames - span) / s + 1 : 0;
    return (frames - 1) / s + 1; /* same, causal: ⌈T/s⌉ */
}

/* A flatten (avg = 0) or global average pooling over `frames` frames of c channels that no
 * dense layer follows: a valid convolution with kernel = frames and identity levels (2-bit,
 * 0 and 1): flatten's output t·c + ch takes x[t, ch] at step 1, the average's output ch
 * sums x[t, ch] over t at step 1/frames (divided in the requantization). */
static int ident_window(unit *v, int avg, size_t frames, size_t c)
{
    v->kind = U_CONV;
    v->ident = 1;
    v->kernel = frames;
    v->stride = v->dilation = 1;
    v->n_out = avg ? c : frames * c;
    v->w_cols = frames * c;
    v->bits = 2;
    v->w = calloc(v->n_out * v->w_cols + 1, 1);
    v->s_w = malloc(v->n_out * sizeof *v->s_w);
    if (!v->w || !v->s_w)
        return 0;
    for (size_t o = 0; o < v->n_out; o++) {
        v->s_w[o] = avg ? 1.0 / (double)frames : 1.0;
        if (avg)
            for (size_t t = 0; t < frames; t++)
                v->w[o * v->w_cols + t * c + o] = 1;
        else
            v->w[o * v->w_cols + o] = 1;
    }
    return 1;
}

/* Group the spec's layers into runtime layers and quantize their weights. A flatten or global
 * average pooling over a sequence of T frames and the dense layer after it become one
 * convolution with kernel T (valid, stride 1): flatten's order t·C + c is the kernel's
 * tap-major order, and the average's weights are the dense levels repeated for every tap at
 * 1/T of the scale (the integer sum over the window, divided in the requantization). */
qr_status qr_export_make_units(qr_model *m, const qr_quant_plan *plan, unit **out, size_t *n_out,
                            qr_error *err)
{
    const qr_model_spec *sp = &m->spec;
    qr_status cs = qr_export_check_spec(sp, err);
    if (cs != QR_OK)
        return cs;
    unit *u = calloc(sp->n_layers + 1, sizeof *u);
    if (!u)
        return qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
    size_t n = 0, feat = sp->f, frames = sp->t > 1 ? sp->t : 0;
    for (size_t i = 0; i < sp->n_layers; i++) {
        const qr_layer_spec *l = &sp->layers[i];
        unit *v = &u[n];
        v->layer = v->last = i;
        v->bn = -1;
        v->n_in = feat;
        char nm[QR_NODE_NAME_MAX];
        switch (l->kind) {
        case QR_LAYER_DROPOUT:
        case QR_LAYER_SPATIAL_DROPOUT:
            if (n > 0)
                u[n - 1].last = i; /* the identity at inference: its output is the previous one */
            continue;
        case QR_LAYER_FLATTEN:
        case QR_LAYER_GAP1D:
            if (!frames) { /* flat already */
                if (n > 0)
                    u[n - 1].last = i;
                continue;
            }
            if (qr_export_next_real(sp, i) >= sp->n_layers ||
                sp->layers[qr_export_next_real(sp, i)].kind != QR_LAYER_DENSE) {
                if (!ident_window(v, l->kind == QR_LAYER_GAP1D, frames, feat)) {
                    qr_export_free_units(u, n + 1);
                    return qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
                }
                feat = v->n_out;
                frames = 1;
                break;
            }
            /* the dense layer after it, as a convolution over the window */
            /* fall through */
        case QR_LAYER_DENSE:
        case QR_LAYER_CONV1D: {
            int conv = l->kind == QR_LAYER_CONV1D;
            size_t window = 0, rep = 1;
            if (l->kind == QR_LAYER_FLATTEN || l->kind == QR_LAYER_GAP1D) {
                window = frames;
                rep = l->kind == QR_LAYER_GAP1D ? frames : 1;
                i = qr_export_next_real(sp, i); /* checked: a dense layer */
                l = &sp->layers[i];
                v->layer = v->last = i;
            }
            size_t k = conv ? l->kernel : window ? window : 1;
            v->kind = conv || window ? U_CONV : U_DENSE;
            v->kernel = k;
            v->stride = conv ? l->stride : 1;
            v->dilation = conv ? l->dilation : 1;
            v->causal = conv && l->padding == QR_PAD_CAUSAL;
            v->same = conv && l->padding == QR_PAD_SAME;
            v->n_out = l->units;
            v->w_cols = k * feat;
            snprintf(nm, sizeof nm, "%s/kernel", l->name);
            v->w = quantize_matrix(qr_export_param(m, l->name, "kernel"), plan,
                                   qr_export_plan_entry(plan, nm), v->w_cols / rep, v->n_out,
                                   &v->s_w, &v->bits);
            if (v->w && rep > 1) { /* the average: each row's levels once per frame */
                int8_t *w = malloc(v->n_out * v->w_cols + 1);
                size_t c = feat;
                for (size_t o = 0; w && o < v->n_out; o++)
                    for (size_t t = 0; t < rep; t++)
                        memcpy(w + o * v->w_cols + t * c, v->w + o * c, c);
                free(v->w);
                v->w = w;
                for (size_t o = 0; w && o < v->n_out; o++)
                    v->s_w[o] /= (double)rep;
            }
            if (conv || window)
                frames = conv ? qr_export_frames_after(frames, (k - 1) * v->dilation + 1, v->stride,
                                             (int)l->padding)
                              : 1;
            /* a batch norm right after (dropout aside) folds into this layer */
            size_t j = qr_export_next_real(sp, i);
            if (j < sp->n_layers && sp->layers[j].kind == QR_LAYER_BATCHNORM) {
                v->bn = (long)j;
                v->last = j;
                i = j;
            }
            feat = v->n_out;
            break;
        }
        case QR_LAYER_GRU: {
            size_t h = l->units;
            v->kind = U_GRU;
            v->n_out = h;
            v->w_cols = feat;
            snprintf(nm, sizeof nm, "%s/kernel", l->name);
            v->w = quantize_matrix(qr_export_param(m, l->name, "kernel"), plan,
                                   qr_export_plan_entry(plan, nm), feat, 3 * h,
                                   &v->s_w, &v->bits);
            snprintf(nm, sizeof nm, "%s/recurrent_kernel", l->name);
            v->wh = quantize_matrix(qr_export_param(m, l->name, "recurrent_kernel"), plan,
                                    qr_export_plan_entry(plan, nm), h, 3 * h, &v->s_wh, &v->bits_h);
            if (!v->wh) {
                qr_export_free_units(u, n + 1);
                return qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
            }
            if (!l->return_sequences)
                frames = 0;
            feat = h;
            break;
        }
        case QR_LAYER_BATCHNORM:
            v->kind = U_BN;
            v->n_out = feat;
            break;
        case QR_LAYER_RELU:
            v->kind = U_RELU;
            v->n_out = feat;
            break;
        case QR_LAYER_PRELU:
            v->kind = U_PRELU;
            v->n_out = feat;
            break;
        case QR_LAYER_MAXPOOL1D:
            v->kind = U_POOL;
            v->n_out = feat;
            v->kernel = l->kernel;
            v->stride = l->stride;
            frames = qr_export_frames_after(frames, l->kernel, l->stride, QR_PAD_VALID);
            break;
        case QR_LAYER_SIGMOID:
        case QR_LAYER_TANH:
            v->kind = U_ACT;
            v->n_out = feat;
            v->tanh = l->kind == QR_LAYER_TANH;
            break;
        default: /* refused by qr_export_check_spec */
            qr_export_free_units(u, n);
            return qr_error_set(err, QR_ERR_UNSUPPORTED, "export: layer '%s' (%s) has no integer "
                                "kernel in the runtime", l->name, qr_layer_kind_name(l->kind));
        }
        if ((v->kind == U_DENSE || v->kind == U_CONV || v->kind == U_GRU) && !v->w) {
            qr_export_free_units(u, n + 1);
            return qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
        }
        n++;
    }
    *out = u;
    *n_out = n;
    return QR_OK;
}
