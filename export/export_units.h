/* Internal to the exporter: the runtime layers ("units") a qreg model groups into, each with
 * its weights quantized as qr_quant_fake rounds them (export/export_units.c), and the size
 * checks of qr_export_check_spec (export/export_check.c). exporter.c chooses the bounds and
 * scales and hands the units to the builder. */
#ifndef QREG_EXPORT_UNITS_H
#define QREG_EXPORT_UNITS_H

#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/quant.h"

/* What one runtime layer is made of. */
typedef enum unit_kind { U_DENSE, U_CONV, U_GRU, U_BN, U_RELU, U_PRELU, U_POOL, U_ACT } unit_kind;

typedef struct unit {
    unit_kind kind;
    size_t layer;           /* the main qreg layer */
    long bn;                /* a folded batch norm's layer, or -1 */
    size_t last;            /* the last qreg layer it covers (its output's calibration) */
    size_t n_in, n_out;
    /* quantized weights, rows = outputs */
    int8_t *w, *wh;         /* (n_out, k·n_in) or GRU (3H, F) and (3H, H) */
    size_t w_cols;
    int bits, bits_h;
    double *s_w, *s_wh;     /* the weight step per row (output): one value repeated, or the
                               per-channel grid scales' steps α_c/M (1 bit: α_c) */
    int32_t out_max;
    double s_out;
    int narrow;             /* out_max and s_out are an N-bit grid's (act_grid) */
    size_t kernel, stride, dilation; /* conv; max pooling: pool, stride, 1 */
    int causal, same;
    int ident;              /* a flatten or average over the window with no dense layer after
                               it: identity levels, no parameters of its own */
    int tanh;               /* U_ACT: tanh, else the sigmoid */
} unit;

/* The parameter LAYER/TENSOR of m, or NULL. */
const qr_node *qr_export_param(qr_model *m, const char *layer, const char *tensor);
/* The plan index of a weight matrix (the model's plan, or a default 8-bit PTQ entry), or
 * p->n when the plan does not name it. */
size_t qr_export_plan_entry(const qr_quant_plan *p, const char *name);
/* The next layer after i that is not dropout (n_layers if none). */
size_t qr_export_next_real(const qr_model_spec *sp, size_t i);
/* Frames out of a window of span frames with stride s over `frames` (0: flat vectors). */
size_t qr_export_frames_after(size_t frames, size_t span, size_t s, int pad);
/* Group the spec's layers into runtime layers and quantize their weights by `plan`
 * (*out: n_out units, free with qr_export_free_units). */
qr_status qr_export_make_units(qr_model *m, const qr_quant_plan *plan, unit **out,
                               size_t *n_out, qr_error *err);
void qr_export_free_units(unit *u, size_t n);

#endif
