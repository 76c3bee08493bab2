/* qr_export_check_spec: the sizes past the device runtime's limits, refused before training
 * (qreg train) and before export, naming the layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qreg/export.h"
#include "export/export_units.h"
#include "export/qrt_builder.h"
#include "qrt_format.h"

static qr_status too_big(const qr_layer_spec *l, const char *what, size_t v, unsigned lim,
                         qr_error *err)
{
    return qr_error_set(err, QR_ERR_UNSUPPORTED, "layer '%s' (%s): %s %zu; the device runtime "
                        "takes at most %u", l->name, qr_layer_kind_name(l->kind), what, v, lim);
}

/* A weight matrix of rows × cols levels fits a tensor slot (QRT_MAX_COUNT elements). */
static qr_status check_levels(const qr_layer_spec *l, const char *what, size_t rows, size_t cols,
                              qr_error *err)
{
    if (cols && rows > QRT_MAX_COUNT / cols)
        return qr_error_set(err, QR_ERR_UNSUPPORTED, "layer '%s' (%s): %s of %zu x %zu levels; "
                            "the device runtime holds at most %u per tensor", l->name,
                            qr_layer_kind_name(l->kind), what, rows, cols, QRT_MAX_COUNT);
    return QR_OK;
}

/* Every layer kind runs on the device; what is refused here are sizes past the runtime's
 * fields: a window of at most QRT_MAX_KERNEL frames, QRT_MAX_DIM values per frame,
 * QRT_MAX_COUNT levels per weight matrix. */
QR_API qr_status qr_export_check_spec(const qr_model_spec *sp, qr_error *err)
{
    size_t frames = sp->t > 1 ? sp->t : 0; /* frames per sequence; 0: flat vectors */
    size_t width = sp->f;
    qr_status s = QR_OK;
    for (size_t i = 0; i < sp->n_layers && s == QR_OK; i++) {
        const qr_layer_spec *l = &sp->layers[i];
        size_t units = l->units ? l->units : sp->n_classes;
        switch (l->kind) {
        case QR_LAYER_CONV1D: {
            size_t span = (l->kernel - 1) * l->dilation + 1;
            if (l->kernel > QRT_MAX_KERNEL)
                return too_big(l, "kernel_size", l->kernel, QRT_MAX_KERNEL, err);
            if (l->stride > QRT_MAX_KERNEL)
                return too_big(l, "strides", l->stride, QRT_MAX_KERNEL, err);
            if (l->dilation > QRT_MAX_KERNEL)
                return too_big(l, "dilation_rate", l->dilation, QRT_MAX_KERNEL, err);
            if (units <= QRT_MAX_DIM && (s = check_levels(l, "the kernel", units,
                                                          l->kernel * width, err)) == QR_OK)
                s = check_levels(l, "the window", span, width, err);
            frames = qr_export_frames_after(frames, span, l->stride, (int)l->padding);
            width = units;
            break;
        }
        case QR_LAYER_MAXPOOL1D:
            if (l->kernel > QRT_MAX_KERNEL)
                return too_big(l, "pool_size", l->kernel, QRT_MAX_KERNEL, err);
            if (l->stride > QRT_MAX_KERNEL)
                return too_big(l, "strides", l->stride, QRT_MAX_KERNEL, err);
            frames = qr_export_frames_after(frames, l->kernel, l->stride, QR_PAD_VALID);
            break;
        case QR_LAYER_DENSE:
            if (units <= QRT_MAX_DIM)
                s = check_levels(l, "the kernel", units, width, err);
            width = units;
            break;
        case QR_LAYER_GRU:
            if (units <= QRT_MAX_DIM && (s = check_levels(l, "the kernel", 3 * units, width,
                                                          err)) == QR_OK)
                s = check_levels(l, "the recurrent kernel", 3 * units, units, err);
            width = units;
            if (!l->return_sequences)
                frames = 0;
            break;
        case QR_LAYER_FLATTEN:
        case QR_LAYER_GAP1D: {
            if (!frames)
                break; /* flat already: the identity */
            if (frames > QRT_MAX_KERNEL)
                return too_big(l, "a window of frames", frames, QRT_MAX_KERNEL, err);
            size_t j = qr_export_next_real(sp, i);
            if (j < sp->n_layers && sp->layers[j].kind == QR_LAYER_DENSE) {
                /* folded: the dense layer's levels, once per frame for the average */
                const qr_layer_spec *d = &sp->layers[j];
                s = check_levels(d, "the kernel over the window", d->units ? d->units
                                 : sp->n_classes, frames * width, err);
                if (l->kind == QR_LAYER_FLATTEN)
                    width = 1; /* the dense layer sets the width; its input is no frame */
                frames = 0;
                break;
            }
            /* not folded: a window layer of identity levels, out × (frames · C) of them */
            size_t out = l->kind == QR_LAYER_FLATTEN ? frames * width : width;
            if (out > QRT_MAX_DIM)
                return too_big(l, "values per output", out, QRT_MAX_DIM, err);
            s = check_levels(l, "identity weights (no dense layer right after it)", out,
                             frames * width, err);
            width = out;
            frames = 0;
            break;
        }
        default:
            break;
        }
        if (s == QR_OK && width > QRT_MAX_DIM)
            return too_big(l, "values per frame", width, QRT_MAX_DIM, err);
    }
    return s;
}
