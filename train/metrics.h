/* Classification metrics of qreg eval: the confusion matrix, per-class precision, recall,
 * F1 and support, their macro and weighted averages; printed as labelled tables, as JSON,
 * and the per-sample predictions as a CSV file. */
#ifndef QREG_METRICS_H
#define QREG_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "qreg/common.h"

typedef struct qr_class_metrics {
    double precision, recall, f1; /* NAN where undefined (no prediction / no sample of it) */
    size_t support;               /* samples whose true class it is */
} qr_class_metrics;

typedef struct qr_metrics {
    size_t n, n_classes;
    size_t *confusion;            /* (n_classes, n_classes): rows true, columns predicted */
    qr_class_metrics *cls;        /* (n_classes) */
    double accuracy;
    /* unweighted mean over the classes with samples (scikit-learn's "macro", ignoring
     * undefined values), and the mean weighted by support */
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
} qr_metrics;

/* Metrics of n predictions against labels y (both in [0, n_classes)). */
qr_status qr_metrics_compute(qr_metrics *m, const int32_t *y, const int32_t *pred, size_t n,
                             size_t n_classes);
void qr_metrics_free(qr_metrics *m);

/* "<model> model: per-class precision, recall, F1 (N samples)" and the table, then
 * "<model> model: confusion matrix (...)" with the class names as row and column headers. */
void qr_metrics_print(FILE *f, const qr_metrics *m, const char *model,
                      const char *const *class_names);
/* {"accuracy", "per_class": [{"class", "precision", "recall", "f1", "support"}], "macro":
 * {...}, "weighted": {...}, "confusion": [[...]]} (undefined values are null). */
cJSON *qr_metrics_to_json(const qr_metrics *m, const char *const *class_names);

/* One model kind's predictions for the predictions file. */
typedef struct qr_pred_column {
    const char *kind;             /* "float", "fq", "int": the column names' prefix */
    const int32_t *pred;          /* (n) */
    const float *logits;          /* (n, n_classes) or NULL */
} qr_pred_column;

/* Write the per-sample predictions as CSV, atomically: "index,label" (the sample's index in
 * the data file and its true class name), then per kind "<kind>_pred" (a class name) and,
 * where logits are given, "<kind>_logit_<class>" for every class. source_row (n) may be NULL
 * (sample i is row i). With paths (indexed by source_row) the first column is "path" (the
 * sample's file) instead of "index". */
qr_status qr_predictions_write(const char *path, size_t n, size_t n_classes, const int32_t *y,
                               const size_t *source_row, const char *const *paths,
                               const char *const *class_names, const qr_pred_column *cols,
                               size_t n_cols, qr_error *err);

#endif
