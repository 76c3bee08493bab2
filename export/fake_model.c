/* The fake-quantized model on the integer model's activation grids: a model of the same spec
 * and parameters with a fixed fake quantizer on each tensor the device rounds (the input and
 * each runtime layer's output, the logits and Q15 tensors too) at the export's own bound A and
 * scale s (qr_export_grids), its weights rounded by qr_quant_fake and the integer model's
 * biases and offsets written in. It rounds where the integer model does, so the two agree up
 * to the runtime's Q16/Q15 GRU and tanh/sigmoid steps (docs/runtime.md "The fake-quantized
 * model on the device's grids"); the float model is not changed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/export.h"
#include "export/exporter.h"

/* The evaluation model: m's spec, activation quantizers and parameters, the grids added. */
static qr_status grid_model(qr_model *m, const int32_t *bound, const float *range, qr_model **out,
                            qr_error *err)
{
    qr_model_options o = {.act_bits = m->act_bits, .act_momentum = m->act_momentum,
                          .grid_bound = bound, .grid_range = range};
    qr_model *f = NULL;
    qr_status s = qr_model_new_ex(&m->spec, m->graph->max_batch, 0, &o, &f, err);
    if (s == QR_OK)
        s = qr_model_init_from(f, m, "fake-quantized model", err);
    size_t nc = m->spec.n_layers + 1;
    if (s == QR_OK && !(f->calib = malloc(nc * sizeof *f->calib)))
        s = qr_error_set(err, QR_ERR_NOMEM, "fake-quantized model: out of memory");
    if (s == QR_OK)
        memcpy(f->calib, m->calib, nc * sizeof *f->calib);
    if (s != QR_OK) {
        qr_model_free(f);
        return s;
    }
    f->quant = m->quant; /* borrowed: the grid scales α as the export reads them */
    *out = f;
    return QR_OK;
}

QR_API qr_status qr_export_fake_evaluate(qr_model *m, const qr_export_options *opt,
                                         const qr_dataset *d, double *accuracy, int32_t *pred,
                                         float *logits, qr_error *err)
{
    size_t nl = m->spec.n_layers;
    int act_bits = opt ? opt->act_bits : 0;
    int32_t *bound = malloc((nl + 1) * sizeof *bound);
    double *scale = malloc((nl + 1) * sizeof *scale);
    float *range = malloc((nl + 1) * sizeof *range);
    qr_model *f = NULL;
    qr_quant_plan own = {0};
    qr_status s = QR_OK;
    if (d->t * d->f != m->spec.t * m->spec.f || d->n_classes != m->spec.n_classes)
        s = qr_error_set(err, QR_ERR_SHAPE, "fake-quantized model: the data's shape is not the "
                         "model's");
    else if (!bound || !scale || !range ||
             (!m->quant && qr_quant_plan_init(&own, &m->spec) != QR_OK))
        s = qr_error_set(err, QR_ERR_NOMEM, "fake-quantized model: out of memory");
    if (s == QR_OK)
        s = qr_export_grids(m, act_bits, 0, bound, scale, err);
    for (size_t i = 0; s == QR_OK && i <= nl; i++)
        range[i] = bound[i] > 0 ? (float)(bound[i] * scale[i]) : 0.0f;
    if (s == QR_OK)
        s = grid_model(m, bound, range, &f, err);
    if (s == QR_OK) {
        qr_quant_fake(m->quant ? m->quant : &own, f->graph);
        s = qr_export_grids(f, act_bits, 1, NULL, NULL, err);
    }
    int32_t *p = pred ? pred : malloc((d->n + 1) * sizeof *p);
    if (s == QR_OK && !p)
        s = qr_error_set(err, QR_ERR_NOMEM, "fake-quantized model: out of memory");
    if (s == QR_OK)
        s = qr_model_predict(f, d->x, d->n, logits, p);
    if (s == QR_OK) {
        size_t right = 0;
        for (size_t i = 0; i < d->n; i++)
            right += p[i] == d->y[i];
        *accuracy = d->n ? (double)right / (double)d->n : NAN;
    }
    if (p != pred)
        free(p);
    if (f)
        f->quant = NULL;
    qr_model_free(f);
    qr_quant_plan_free(&own);
    free(bound);
    free(scale);
    free(range);
    return s;
}
