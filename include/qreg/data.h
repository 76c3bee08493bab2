/* qreg — labelled datasets: the in-memory form, the CSV loader and dataset utilities
 * (stratified split, subset, per-feature standardization, shared class lists).
 *
 * Dimension letters: N samples, T time steps per sample, F features per step.
 * A sample is a (T, F) sequence stored row-major: x[i·T·F + t·F + f]. Flat feature
 * vectors are the case T = 1.
 *
 * Ownership: every qr_dataset and qr_standardizer owns its arrays. Functions that fill one
 * zero it first and leave it zeroed on error, so freeing after a failed call is safe and
 * a no-op. Free with qr_dataset_free / qr_standardizer_free.
 */
#ifndef QREG_DATA_H
#define QREG_DATA_H

#include "qreg/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the dataset --------------------------------------------------------------------- */

typedef struct qr_dataset {
    size_t n;            /* samples */
    size_t t, f;         /* each sample is a (t, f) sequence; t = 1 for flat features */
    float *x;            /* (n, t*f) row-major, owned */
    int32_t *y;          /* (n) class index in [0, n_classes), owned */
    size_t n_classes;
    char **class_names;  /* n_classes strings, owned (numeric labels become "0", "3", ...) */
    size_t *source_row;  /* (n) row of each sample in the file it was loaded from (0-based,
                            data rows only), owned; NULL means sample i is row i. Subsets and
                            splits keep it, so a split's samples can be traced to the file. */
} qr_dataset;

/* Frees the members and zeroes the struct. NULL and zeroed datasets are fine. */
QR_API void qr_dataset_free(qr_dataset *d);

/* ---- CSV loader ---------------------------------------------------------------------- */

typedef struct qr_csv_options {
    const char *path;
    /* 1: the first row is a header; 0: there is none; -1: detect. Detection calls the first
     * row a header when any of its feature cells is not a number, or when its label cell is
     * not a number while the next row's label is (so headerless files with string labels,
     * like UCI iris.data, keep their first sample). With label_name set, -1 means 1. */
    int header;
    const char *label_name;  /* label column by header name (needs a header), or NULL */
    long label_index;        /* label column by 0-based index when label_name is NULL;
                                negative counts from the end: -1 = last column */
    /* Sequence shape. 0, 0 = flat (t = 1, f = feature count); otherwise t·f must equal the
     * feature count and the features of a row are read row-major as t steps of f features:
     * feature column k (counting all columns but the label, in file order) is step k / f,
     * feature k % f. */
    size_t t, f;
    char delimiter;          /* ',' when 0; not '"', '\r' or '\n' */
    /* Optional fixed class list (e.g. the training file's): class i is classes[i], and a
     * label outside the list is an error. Entries must be distinct; n_classes >= 2. NULL to
     * derive the classes from the file. */
    const char *const *classes;
    size_t n_classes;
} qr_csv_options;

/* The largest |feature| a CSV file may hold. */
#define QR_CSV_MAX_ABS 1e18

/* Load a CSV file into `out`.
 *
 * Cells: spaces and tabs around a cell are ignored (unless one is the delimiter); a cell
 * may be quoted ("a, ""b""" reads a, "b"); quoted cells cannot span lines. Lines end in
 * LF or CRLF, the last one optionally; a UTF-8 byte order mark and blank lines before the
 * first row or after the last are skipped; a blank line between rows is an error.
 * Features are decimal numbers read by strtod (so '.' as decimal point under the default
 * "C" locale); NaN, infinities, hexadecimal numbers ("0x10") and magnitudes above
 * QR_CSV_MAX_ABS (1e18: float sums and squares of larger inputs overflow) are errors.
 *
 * Labels are integers or strings. Without a fixed list the classes are the sorted distinct
 * labels: numerically when every label is an integer (then "03" and "3" are the same class,
 * named "3"), by strcmp otherwise. At least 2 classes are required.
 *
 * @param[in]  o    options; o->path required
 * @param[out] out  zeroed, then filled on success; zeroed on error
 * @param[out] err  may be NULL; on error "path:line:column: what" (columns count cells
 *                  from 1)
 * @return QR_OK; QR_ERR_IO (cannot open or read), QR_ERR_FORMAT (empty file, no data rows,
 *         ragged rows, bad/empty/non-finite cells, unterminated quote, blank line inside the
 *         data, fewer than 2 classes, a label not in o->classes), QR_ERR_CONFIG (unknown
 *         label column, index out of range, t·f not the feature count, a bad class list or
 *         delimiter), QR_ERR_ARG (NULL o, o->path or out), QR_ERR_NOMEM. */
QR_API qr_status qr_csv_load(const qr_csv_options *o, qr_dataset *out, qr_error *err);

/* qr_csv_load with the class list of `ref` (normally the training set), for validation and
 * test files: out->y indexes ref's classes and out->class_names copies them. o->classes
 * is ignored. */
QR_API qr_status qr_csv_load_with_classes(const qr_csv_options *o, const qr_dataset *ref,
                                          qr_dataset *out, qr_error *err);

/* ---- utilities ----------------------------------------------------------------------- */

/* Re-index d onto a fixed class list (e.g. a training set's class_names, cast to
 * const char *const *), for files loaded separately: afterwards d->class_names is a copy
 * of `classes` and d->y indexes it. Every class of d must appear in the list (by exact
 * name). d is unchanged on error.
 * @return QR_OK, QR_ERR_FORMAT (a class of d is not in the list), QR_ERR_CONFIG (list with
 *         a NULL or repeated entry, or fewer than 2 entries), QR_ERR_ARG, QR_ERR_NOMEM. */
QR_API qr_status qr_dataset_remap_classes(qr_dataset *d, const char *const *classes,
                                          size_t n_classes, qr_error *err);

/* Split into train / val / test with a seeded shuffle (qr_rng), stratified per class.
 *
 * Each class with m samples gives round(m·val_frac) samples to val and round(m·test_frac)
 * to test (halves rounded up), the rest to train; if that would leave the class without a
 * training sample (m >= 1), val and then test give one back. The indices of each class are
 * shuffled with one qr_rng seeded by `seed`, classes taken in index order, so a seed always
 * gives the same split. Within each output the samples keep their order in `all`.
 *
 * @param[in]  all                 source; not modified
 * @param[in]  val_frac,test_frac  each in [0, 1), val_frac + test_frac < 1
 * @param[out] train,val,test      deep copies (all class names kept, also in an empty
 *                                 split); any may be NULL to skip it; must be distinct
 *                                 from each other and from `all`. Zeroed on error.
 * @return QR_OK, QR_ERR_ARG (fractions, NULL all, a label outside [0, n_classes)),
 *         QR_ERR_NOMEM. */
QR_API qr_status qr_dataset_split(const qr_dataset *all, double val_frac, double test_frac,
                                  uint64_t seed, qr_dataset *train, qr_dataset *val,
                                  qr_dataset *test, qr_error *err);

/* Deep copy of the samples src[idx[0]], ..., src[idx[n-1]] (repeats allowed, n may be 0)
 * with all of src's classes. out must not be src; zeroed on error.
 * @return QR_OK, QR_ERR_ARG (NULL pointer, an index >= src->n), QR_ERR_NOMEM. */
QR_API qr_status qr_dataset_subset(const qr_dataset *src, const size_t *idx, size_t n,
                                   qr_dataset *out);

/* Per-feature standardization x' = (x - mean[j]) / std[j] for feature j in [0, f), with
 * statistics pooled over all samples and time steps of one dataset (the training split)
 * and applied to any dataset with the same f. std is the population standard deviation
 * (divide by N·T), floored at QR_STANDARDIZER_STD_MIN so constant features stay finite;
 * sums are accumulated in double, in two passes. */
#define QR_STANDARDIZER_STD_MIN 1e-6f
typedef struct qr_standardizer {
    size_t f;
    float *mean;  /* (f), owned */
    float *std;   /* (f), owned, >= QR_STANDARDIZER_STD_MIN */
} qr_standardizer;

/* Fit on d. s is overwritten (free an old one first); zeroed on error.
 * @return QR_OK, QR_ERR_ARG (NULL, or d has no samples or no features), QR_ERR_NOMEM. */
QR_API qr_status qr_standardizer_fit(qr_standardizer *s, const qr_dataset *d);
/* Standardize d->x in place.
 * @return QR_OK, QR_ERR_ARG (NULL or unfitted s), QR_ERR_SHAPE (s->f != d->f; d unchanged). */
QR_API qr_status qr_standardizer_apply(const qr_standardizer *s, qr_dataset *d);
/* Frees the arrays and zeroes s. NULL is fine. */
QR_API void qr_standardizer_free(qr_standardizer *s);

#ifdef __cplusplus
}
#endif

#endif /* QREG_DATA_H */
