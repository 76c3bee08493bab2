/* Internal helpers shared by the quant/ files. */
#ifndef QREG_QUANT_IMPL_H
#define QREG_QUANT_IMPL_H

#include "qreg/quant.h"

/* The grid scale α of a matrix: its alpha, or 1 when unset. */
float qr_quant_alpha(const qr_quant_matrix *q);

#endif
