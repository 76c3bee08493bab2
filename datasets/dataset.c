/* Dataset utilities: free, subset, stratified split, shared class lists, standardization.
 * N samples, T steps, F features per step (see include/qreg/data.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qreg/data.h"
#include "qreg/rng.h"

static void free_names(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Deep copy of k strings (k may be 0: *dst = NULL). */
static qr_status copy_names(char ***dst, const char *const *src, size_t k)
{
    *dst = NULL;
    if (k == 0)
        return QR_OK;
    if (!src)
        return QR_ERR_ARG;
    char **d = calloc(k, sizeof *d);
    if (!d)
        return QR_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) {
        if (!src[i]) {
            free_names(d, k);
            return QR_ERR_ARG;
        }
        size_t len = strlen(src[i]) + 1;
        if (!(d[i] = malloc(len))) {
            free_names(d, k);
            return QR_ERR_NOMEM;
        }
        memcpy(d[i], src[i], len);
    }
    *dst = d;
    return QR_OK;
}

QR_API void qr_dataset_free(qr_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    free(d->source_row);
    free_names(d->class_names, d->n_classes);
    memset(d, 0, sizeof *d);
}

QR_API qr_status qr_dataset_subset(const qr_dataset *src, const size_t *idx, size_t n,
                                   qr_dataset *out)
{
    if (!src || !out || src == out)
        return QR_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (n && !idx)
        return QR_ERR_ARG;
    size_t row = src->t * src->f;
    if (src->f && row / src->f != src->t)
        return QR_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= src->n)
            return QR_ERR_ARG;
    if (n && (!src->y || (row && !src->x)))
        return QR_ERR_ARG;

    qr_dataset d = {.n = n, .t = src->t, .f = src->f, .n_classes = src->n_classes};
    qr_status st = copy_names(&d.class_names, (const char *const *)src->class_names,
                              src->n_classes);
    if (st != QR_OK)
        return st;
    if (n) {
        if (row && n > SIZE_MAX / sizeof(float) / row) {
            qr_dataset_free(&d);
            return QR_ERR_NOMEM;
        }
        d.y = malloc(n * sizeof *d.y);
        d.x = row ? malloc(n * row * sizeof *d.x) : NULL;
        d.source_row = malloc(n * sizeof *d.source_row);
        if (!d.y || (row && !d.x) || !d.source_row) {
            qr_dataset_free(&d);
            return QR_ERR_NOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            d.y[i] = src->y[idx[i]];
            d.source_row[i] = src->source_row ? src->source_row[idx[i]] : idx[i];
            if (row)
                memcpy(d.x + i * row, src->x + idx[i] * row, row * sizeof *d.x);
        }
    }
    *out = d;
    return QR_OK;
}

/* round(v) with halves up, for v >= 0. */
static size_t round_half_up(double v)
{
    return (size_t)floor(v + 0.5);
}

/* Every sample is assigned 0 (train), 1 (val) or 2 (test); then each output is the subset
 * of its samples in their original order. */
QR_API qr_status qr_dataset_split(const qr_dataset *all, double val_frac, double test_frac,
                                  uint64_t seed, qr_dataset *train, qr_dataset *val,
                                  qr_dataset *test, qr_error *err)
{
    qr_dataset *outs[3] = {train, val, test};
    for (int s = 0; s < 3; s++) {
        if (outs[s] && (outs[s] == all || (s > 0 && outs[s] == outs[s - 1]) ||
                        (s == 2 && outs[2] == outs[0])))
            return qr_error_set(err, QR_ERR_ARG,
                                "qr_dataset_split: outputs must be distinct from each other "
                                "and from the input");
    }
    for (int s = 0; s < 3; s++)
        if (outs[s])
            memset(outs[s], 0, sizeof *outs[s]);
    if (!all)
        return qr_error_set(err, QR_ERR_ARG, "qr_dataset_split: NULL dataset");
    if (!(val_frac >= 0.0 && test_frac >= 0.0 && val_frac + test_frac < 1.0))
        return qr_error_set(err, QR_ERR_ARG,
                            "qr_dataset_split: need val_frac >= 0, test_frac >= 0 and "
                            "val_frac + test_frac < 1, got %g and %g", val_frac, test_frac);
    size_t n = all->n, k = all->n_classes;
    if (k == SIZE_MAX)
        return qr_error_set(err, QR_ERR_ARG, "qr_dataset_split: bad class count");
    if (n && !all->y)
        return qr_error_set(err, QR_ERR_ARG, "qr_dataset_split: dataset without labels");
    for (size_t i = 0; i < n; i++)
        if (all->y[i] < 0 || (size_t)all->y[i] >= k)
            return qr_error_set(err, QR_ERR_ARG,
                                "qr_dataset_split: sample %zu has label %d, outside [0, %zu)", i,
                                (int)all->y[i], k);

    /* perm holds the sample indices grouped by class (counting sort), start[c] its groups. */
    size_t *start = calloc(k + 1, sizeof *start);
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    unsigned char *which = malloc(n ? n : 1);
    size_t *sel = malloc((n ? n : 1) * sizeof *sel);
    qr_status st = QR_OK;
    if (!start || !perm || !which || !sel) {
        st = qr_error_set(err, QR_ERR_NOMEM, "qr_dataset_split: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        start[(size_t)all->y[i] + 1]++;
    for (size_t c = 0; c < k; c++)
        start[c + 1] += start[c];
    /* start[c] serves as class c's write cursor, then is shifted back to its start. */
    for (size_t i = 0; i < n; i++)
        perm[start[(size_t)all->y[i]]++] = i;
    for (size_t c = k; c > 0; c--)
        start[c] = start[c - 1];
    start[0] = 0;

    qr_rng rng;
    qr_rng_seed(&rng, seed);
    for (size_t c = 0; c < k; c++) {
        size_t *p = perm + start[c], m = start[c + 1] - start[c];
        qr_rng_shuffle(&rng, p, m);
        /* nv + nt <= m in exact arithmetic (each rounding adds at most 1/2 and
         * val + test < 1); the clamps cover float error when val + test is near 1. */
        size_t nv = round_half_up((double)m * val_frac);
        size_t nt = round_half_up((double)m * test_frac);
        if (nt > m)
            nt = m;
        if (nv > m - nt)
            nv = m - nt;
        if (m >= 1 && nv + nt >= m) {  /* keep one training sample of every class */
            if (nv > 0)
                nv--;
            else
                nt--;
        }
        for (size_t j = 0; j < m; j++)
            which[p[j]] = j < nt ? 2 : j < nt + nv ? 1 : 0;
    }

    for (int s = 0; s < 3 && st == QR_OK; s++) {
        if (!outs[s])
            continue;
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++)
            if (which[i] == s)
                sel[cnt++] = i;
        st = qr_dataset_subset(all, sel, cnt, outs[s]);
        if (st != QR_OK)
            qr_error_set(err, st, "qr_dataset_split: %s while copying a split", qr_strerror(st));
    }
    if (st != QR_OK)
        for (int s = 0; s < 3; s++)
            qr_dataset_free(outs[s]);
out:
    free(start);
    free(perm);
    free(which);
    free(sel);
    return st;
}

/* An entry of a class list, sorted by name for lookups. */
typedef struct class_ref {
    const char *name;
    size_t index;  /* position in the caller's list */
} class_ref;

static int cmp_class_ref(const void *a, const void *b)
{
    return strcmp(((const class_ref *)a)->name, ((const class_ref *)b)->name);
}

QR_API qr_status qr_dataset_remap_classes(qr_dataset *d, const char *const *classes,
                                          size_t n_classes, qr_error *err)
{
    if (!d || !classes || (d->n_classes && !d->class_names) || (d->n && !d->y))
        return qr_error_set(err, QR_ERR_ARG, "qr_dataset_remap_classes: NULL argument");
    if (n_classes < 2 || n_classes > INT32_MAX)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "qr_dataset_remap_classes: the class list has %zu entries; need 2 "
                            "to %d", n_classes, INT32_MAX);
    for (size_t i = 0; i < d->n; i++)
        if (d->y[i] < 0 || (size_t)d->y[i] >= d->n_classes)
            return qr_error_set(err, QR_ERR_ARG,
                                "qr_dataset_remap_classes: sample %zu has label %d, outside "
                                "[0, %zu)", i, (int)d->y[i], d->n_classes);

    class_ref *sorted = malloc(n_classes * sizeof *sorted);
    int32_t *map = malloc((d->n_classes ? d->n_classes : 1) * sizeof *map);
    char **names = NULL;
    qr_status st = QR_OK;
    if (!sorted || !map) {
        st = qr_error_set(err, QR_ERR_NOMEM, "qr_dataset_remap_classes: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_classes; i++) {
        if (!classes[i]) {
            st = qr_error_set(err, QR_ERR_CONFIG, "qr_dataset_remap_classes: class %zu is NULL",
                              i);
            goto out;
        }
        sorted[i].name = classes[i];
        sorted[i].index = i;
    }
    qsort(sorted, n_classes, sizeof *sorted, cmp_class_ref);
    for (size_t i = 1; i < n_classes; i++)
        if (strcmp(sorted[i - 1].name, sorted[i].name) == 0) {
            st = qr_error_set(err, QR_ERR_CONFIG,
                              "qr_dataset_remap_classes: class \"%.40s\" appears twice",
                              sorted[i].name);
            goto out;
        }
    for (size_t c = 0; c < d->n_classes; c++) {
        class_ref key = {d->class_names[c], 0};
        const class_ref *hit =
            key.name ? bsearch(&key, sorted, n_classes, sizeof key, cmp_class_ref) : NULL;
        if (!hit) {
            st = qr_error_set(err, QR_ERR_FORMAT,
                              "class \"%.40s\" is not one of the %zu given classes",
                              key.name ? key.name : "(null)", n_classes);
            goto out;
        }
        map[c] = (int32_t)hit->index;
    }
    if ((st = copy_names(&names, classes, n_classes)) != QR_OK) {
        qr_error_set(err, st, "qr_dataset_remap_classes: out of memory");
        goto out;
    }
    /* Nothing can fail from here: d changes only now. */
    for (size_t i = 0; i < d->n; i++)
        d->y[i] = map[d->y[i]];
    free_names(d->class_names, d->n_classes);
    d->class_names = names;
    d->n_classes = n_classes;
out:
    free(sorted);
    free(map);
    return st;
}

QR_API qr_status qr_standardizer_fit(qr_standardizer *s, const qr_dataset *d)
{
    if (!s)
        return QR_ERR_ARG;
    memset(s, 0, sizeof *s);
    if (!d || !d->x || d->n == 0 || d->t == 0 || d->f == 0)
        return QR_ERR_ARG;
    size_t f = d->f, rows = d->n * d->t;
    double *acc = calloc(2 * f, sizeof *acc);
    float *mean = malloc(f * sizeof *mean);
    float *sd = malloc(f * sizeof *sd);
    if (!acc || !mean || !sd) {
        free(acc);
        free(mean);
        free(sd);
        return QR_ERR_NOMEM;
    }
    /* Two passes (mean, then squared deviations): no cancellation as with sum of squares. */
    double *m = acc, *v = acc + f;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < f; j++)
            m[j] += d->x[r * f + j];
    for (size_t j = 0; j < f; j++)
        m[j] /= (double)rows;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < f; j++) {
            double e = d->x[r * f + j] - m[j];
            v[j] += e * e;
        }
    for (size_t j = 0; j < f; j++) {
        double sdev = sqrt(v[j] / (double)rows);
        mean[j] = (float)m[j];
        sd[j] = sdev >= QR_STANDARDIZER_STD_MIN ? (float)sdev : QR_STANDARDIZER_STD_MIN;
    }
    free(acc);
    s->f = f;
    s->mean = mean;
    s->std = sd;
    return QR_OK;
}

QR_API qr_status qr_standardizer_apply(const qr_standardizer *s, qr_dataset *d)
{
    if (!s || !d || !s->mean || !s->std || (d->n && d->t && d->f && !d->x))
        return QR_ERR_ARG;
    if (s->f != d->f)
        return QR_ERR_SHAPE;
    size_t f = s->f, rows = d->n * d->t;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < f; j++) {
            float *x = &d->x[r * f + j];
            *x = (float)(((double)*x - s->mean[j]) / s->std[j]);
        }
    return QR_OK;
}

QR_API void qr_standardizer_free(qr_standardizer *s)
{
    if (!s)
        return;
    free(s->mean);
    free(s->std);
    memset(s, 0, sizeof *s);
}
