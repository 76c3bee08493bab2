/* Internal helpers shared by the quant/ files. */
#ifndef QREG_QUANT_IMPL_H
#define QREG_QUANT_IMPL_H

#include <cjson/cJSON.h>
#include "qreg/quant.h"

/* The grid scale α of a matrix: its alpha, or 1 when unset. */
float qr_quant_alpha(const qr_quant_matrix *q);

/* Mark in chosen[] (one flag per entry of `all`, a plan made by qr_quant_plan_init) the
 * matrices a config entry's "layer" (string or list) and "matrix" keys select; returns how
 * many, or QR_ERR_CONFIG naming `path` when the keys are malformed. */
qr_status qr_quant_select(const qr_model_spec *spec, const qr_quant_plan *all, const cJSON *entry,
                          unsigned char *chosen, size_t *count, const char *where,
                          const char *path, qr_error *err);

#endif
