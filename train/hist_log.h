/* Weight-histogram snapshots of the regularized matrices during training, written as JSON
 * for `qreg plot` (format in docs/quantization.md). */
#ifndef QREG_HIST_LOG_H
#define QREG_HIST_LOG_H

#include "qreg/model.h"

#define QR_HIST_LO (-1.5)
#define QR_HIST_HI 1.5
#define QR_HIST_BINS 300

typedef struct qr_hist_log qr_hist_log;

/* NULL (and nothing to log) when the plan regularizes no matrix; *err set on failure. */
qr_hist_log *qr_hist_log_new(const qr_quant_plan *plan, const char *path, const size_t *epochs,
                             size_t n_epochs, size_t total_epochs, qr_status *err);
int qr_hist_log_wants(const qr_hist_log *h, size_t epoch);
/* Add the current weights as the snapshot of `epoch` and rewrite the file atomically. */
qr_status qr_hist_log_snapshot(qr_hist_log *h, qr_model *m, size_t epoch, qr_error *err);
void qr_hist_log_free(qr_hist_log *h);
/* The snapshots so far as JSON text (caller frees), and restoring them (checkpoints). */
char *qr_hist_log_text(const qr_hist_log *h);
qr_status qr_hist_log_restore(qr_hist_log *h, const char *json);

#endif
