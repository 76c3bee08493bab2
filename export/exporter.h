/* Internal to the library: the exporter's activation grids, shared with the fake-quantized
 * evaluation (export/fake_model.c), so that both use one computation of them. */
#ifndef QREG_EXPORTER_H
#define QREG_EXPORTER_H

#include "qreg/model.h"

/* The grids qr_export_blob_ex (options sparse 0 and act_bits) gives model m: bound[i] and
 * scale[i] of the tensor after layer i (i = n_layers: the input) for each runtime layer's last
 * qreg layer, bound 0 elsewhere (arrays of n_layers + 1, or NULL). With write, the integer
 * model's biases and batch-norm offsets are written into m's parameters (for a model whose
 * weights qr_quant_fake rounded). The export's errors where it would fail. */
qr_status qr_export_grids(qr_model *m, int act_bits, int write, int32_t *bound, double *scale,
                          qr_error *err);

#endif
