/* The two models the model suites share (test_model.c defines them). */
#ifndef QREG_TESTLIB_MODEL_H
#define QREG_TESTLIB_MODEL_H

#include <stddef.h>
#include "qreg/model.h"

/* dense(16) -> relu -> dropout(0.1) -> dense on 30 features, 2 classes (seed 5). */
qr_model *tm_mlp_model(size_t max_batch);
/* conv1d(6, 5) -> batchnorm -> prelu -> spatial_dropout1d -> gru(8) -> dropout -> dense on
 * (B, 40, 3), 2 classes (seed 11). */
qr_model *tm_cgru_model(size_t max_batch);

#endif
