/* Sweeps (docs/sweeps.md): a base training config, axes of values at config key paths, zip and
 * include points and repetitions, expanded into runs with stable ids; one result row per run
 * as CSV and JSON lines; reading result files back and grouping them for `qreg report`.
 * Used by the qreg program (cmd_sweep.c, cmd_report.c) and tests/test_sweep.c. */
#ifndef QREG_SWEEP_H
#define QREG_SWEEP_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "qreg/common.h"

#define QR_SWEEP_ID_LEN 12 /* hex digits of a run id */

/* ---- key paths ------------------------------------------------------------------------
 * "quantize.matrices[0].bits", "model[4].units": object keys joined by dots, list indices
 * in brackets. Every step but the last must exist in `root`; the last may create a key in an
 * existing object (not an element of a list: indices must be in range). A null `value`
 * removes the key (or list element). `value` is copied. Errors are QR_ERR_CONFIG naming the
 * path and the part that does not exist, prefixed with `where`. */
qr_status qr_sweep_path_set(cJSON *root, const char *path, const cJSON *value, const char *where,
                            qr_error *err);
/* The value at `path`, or NULL (absent, or the path is malformed). */
const cJSON *qr_sweep_path_get(const cJSON *root, const char *path);

/* A JSON value as text with object keys sorted (recursively), no whitespace; caller frees. */
char *qr_sweep_canonical(const cJSON *v);
/* The run id of a config: the first 12 hex digits of the 64-bit FNV-1a hash of its canonical
 * text. */
void qr_sweep_id(const cJSON *config, char id[QR_SWEEP_ID_LEN + 1]);

/* ---- sweeps --------------------------------------------------------------------------- */
typedef struct qr_sweep_point {
    char id[QR_SWEEP_ID_LEN + 1];
    cJSON *config;     /* what the id is made of: the base with this point's settings, the
                        * repetition's seed and training.threads = 1; no "output" or
                        * "description"; data paths as written in the base */
    char **labels;     /* one per column (qr_sweep.columns); "" where the key is absent */
    size_t rep;        /* 1-based repetition */
    long long seed;    /* training.seed of the run */
} qr_sweep_point;

typedef struct qr_sweep {
    char *source;        /* the sweep file (messages) */
    char *base_dir;      /* relative data paths of the base are relative to this directory */
    char *output;        /* "output" of the sweep file, or NULL */
    cJSON *base_output;  /* the base config's "output" section, or NULL */
    char **columns;      /* result columns: axes, then zip and include keys (names) */
    char **column_paths; /* their key paths */
    size_t n_columns;
    qr_sweep_point *points;
    size_t n_points;
} qr_sweep;

/* Read a sweep file (format: docs/sweeps.md) and expand it: axes (cartesian product, first
 * axis varying slowest) × zip points, then include points, each × repetitions. Errors name
 * the sweep file and the axis, point or key. */
qr_status qr_sweep_load(const char *path, qr_sweep *sw, qr_error *err);
/* The same from a parsed spec; `dir` is the directory relative paths are taken from (the
 * sweep file's). */
qr_status qr_sweep_parse(const cJSON *spec, const char *source, const char *dir, qr_sweep *sw,
                         qr_error *err);
void qr_sweep_free(qr_sweep *sw);

/* The config file of a run: the point's config with relative data paths made absolute (from
 * base_dir; "${QREG_DATA}/..." and absolute paths kept), the base's output section with every
 * path moved into run_dir (model: run_dir/model.qrm, log: run_dir/log.csv), and a
 * description naming the point. NULL when out of memory. */
cJSON *qr_sweep_run_config(const qr_sweep *sw, const qr_sweep_point *p, const char *run_dir);

/* Shard `i` of `n` (1 <= i <= n): sel[k] = 1 for the points in it. Points are ordered by id
 * and dealt out round robin, so shards are disjoint, cover every point, differ in size by at
 * most one, and every process that expands the same sweep file agrees. */
void qr_sweep_shard(const qr_sweep *sw, size_t i, size_t n, unsigned char *sel);

/* ---- result rows ---------------------------------------------------------------------- */
typedef struct qr_sweep_row {
    char id[QR_SWEEP_ID_LEN + 1];
    char **labels;     /* n_columns settings */
    size_t n_columns;
    char **columns;    /* their names (owned) */
    size_t rep;
    long long seed;
    int ok;            /* status: 1 "ok", 0 "failed" */
    char *error;       /* failed: the message; NULL when ok */
    /* NAN where unknown (no split, no plan, not measured) */
    double val_accuracy, test_accuracy, fq_val_accuracy, fq_test_accuracy;
    double int_val_accuracy, int_test_accuracy, val_loss, test_loss;
    double best_epoch, bytes, actual_bytes, baseline_bytes, reduction_pct, seconds;
} qr_sweep_row;

/* A fresh row for point p of sw: settings copied, metrics NAN, status failed. */
qr_status qr_sweep_row_init(qr_sweep_row *r, const qr_sweep *sw, const qr_sweep_point *p);
void qr_sweep_row_free(qr_sweep_row *r);
/* Fill the metrics from the JSON object `qreg train --json` prints; ok = 1. Returns nonzero
 * when the text is not such an object. reduction_pct = 100·(1 − bytes/baseline_bytes). */
int qr_sweep_row_set_result(qr_sweep_row *r, const char *json_text);
/* Keep the message (trimmed, at most 300 characters); ok = 0. */
void qr_sweep_row_set_error(qr_sweep_row *r, const char *msg);

/* The CSV header line and one row, each ending in "\n" (RFC 4180 quoting; empty cells for
 * NAN). Caller frees. Columns: id, the settings, rep, seed, status, error, val_accuracy,
 * test_accuracy, fq_val_accuracy, fq_test_accuracy, int_val_accuracy, int_test_accuracy,
 * val_loss, test_loss, best_epoch, bytes, actual_bytes, baseline_bytes, reduction_pct,
 * seconds. */
char *qr_sweep_csv_header(char *const *columns, size_t n_columns);
char *qr_sweep_row_csv(const qr_sweep_row *r);
/* One JSON object on one line ending in "\n": the same fields, settings as an object, null
 * for NAN. Caller frees. */
char *qr_sweep_row_jsonl(const qr_sweep_row *r);
/* Parse a line written by qr_sweep_row_jsonl. Nonzero when malformed. */
int qr_sweep_row_from_jsonl(qr_sweep_row *r, const char *line);
/* Is `name` one of the fixed (non-setting) columns? */
int qr_sweep_is_fixed_column(const char *name);

/* Append `len` bytes to an O_APPEND descriptor with one write(2): rows never interleave with
 * other writers' and a row is either wholly in the file or not at all (short writes, which a
 * regular file only gives on a full disk or a signal, are an error). */
qr_status qr_sweep_append(int fd, const char *text, size_t len, const char *path, qr_error *err);

/* Short display names of result columns (caller frees each and the array): the last key of a
 * key path ("bits" for "quantize.matrices[0].bits"), or the key before a last "name" or
 * "type" ("schedule" for "quantize.schedule.name"); the whole name when two would clash. */
char **qr_sweep_short_names(char *const *columns, size_t n);
void qr_sweep_short_names_free(char **names, size_t n);

/* ---- reading results back ------------------------------------------------------------- */
typedef struct qr_sweep_results {
    char **columns;   /* settings columns, in order of first appearance over the files */
    size_t n_columns;
    qr_sweep_row *rows; /* labels indexed like columns ("" when a file lacks the column) */
    size_t n_rows;
    size_t skipped;   /* malformed lines ignored (a torn last line, a wrong cell count) */
} qr_sweep_results;

/* Read a results CSV file and append its rows. Errors name the file and line. */
qr_status qr_sweep_results_read_csv(qr_sweep_results *res, const char *path, qr_error *err);
/* Keep one row per id: the last "ok" row, else the last row; order of first appearance. */
void qr_sweep_results_dedup(qr_sweep_results *res);
void qr_sweep_results_free(qr_sweep_results *res);

/* The ids with status ok in a results JSONL file (malformed lines skipped, a missing file is
 * empty), appended to *ids (malloc'd array of QR_SWEEP_ID_LEN + 1 strings). */
qr_status qr_sweep_done_ids(const char *path, char (**ids)[QR_SWEEP_ID_LEN + 1], size_t *n,
                            qr_error *err);

#endif
