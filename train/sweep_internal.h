/* Declarations shared by the sweep*.c files behind sweep.h (not for other callers). */
#ifndef QREG_SWEEP_INTERNAL_H
#define QREG_SWEEP_INTERNAL_H

#include <string.h>
#include "sweep.h"

/* strdup of s, "" for NULL */
static inline char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

/* ---- sweep.c ---------------------------------------------------------------------------- */
/* Join dir and a relative path (one '/' between them); caller frees. */
char *qr_sweep_join(const char *dir, const char *rel);

/* ---- sweep_expand.c: points from settings ------------------------------------------------ */
/* One setting of a point: a value at a key path, with its label. */
typedef struct setting {
    const char *path;
    const cJSON *value;
    const char *label; /* NULL: qr_sweep_value_label(value) */
} setting;

typedef struct axis {
    const char *path;
    size_t n;
    const cJSON **values;
    char **labels;
} axis;

typedef struct expand_ctx {
    qr_sweep *sw;
    const cJSON *base;
    const cJSON *repeat;
    const cJSON *fixed; /* "set": settings of every point, before its own */
    axis *axes;
    size_t n_axes;
    size_t cap_points;
    const char *where;
} expand_ctx;

/* The text of a value in a result column: strings as they are, everything else as JSON. */
char *qr_sweep_value_label(const cJSON *v);
void qr_sweep_point_free(qr_sweep_point *p, size_t n_columns);
/* Add the repetitions of one point with settings `set` to x->sw; `what` names the point in
 * errors. */
qr_status qr_sweep_add_point(expand_ctx *x, const setting *set, size_t n_set, const char *what,
                             qr_error *err);
/* Add a result column for key path `path` (named by "names" when it has it), unless there is
 * one. */
qr_status qr_sweep_add_column(qr_sweep *sw, const char *path, const cJSON *names,
                              const char *where, qr_error *err);

/* ---- sweep_row.c: the fixed columns of a row ------------------------------------------------ */
/* "id", "rep", "seed", "status", "error", then the QR_SWEEP_N_METRICS metrics; NULL-ended */
extern const char *const qr_sweep_fixed_columns[];
#define QR_SWEEP_N_METRICS 14 /* the doubles from val_accuracy to seconds */
/* The k-th metric of a row (fixed column k + 5). */
double *qr_sweep_metric(qr_sweep_row *r, size_t k);
/* Clear r (metrics NAN) and allocate n_columns empty labels and column names. */
qr_status qr_sweep_row_alloc(qr_sweep_row *r, size_t n_columns);
/* reduction_pct from bytes and baseline_bytes when it is unknown. */
void qr_sweep_derive_reduction(qr_sweep_row *r);

#endif
