/* Teacher logits for distillation: from a teacher model run once over the training data, or
 * from a logits file (`qreg distill-logits` writes one). File format: a header line naming the
 * classes, then one line per data row of the training file, one finite number per class. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/fileio.h"
#include "qreg/train.h"

/* Parse the logits file into rows (n_rows × c). Errors name line and column. */
static qr_status read_logits(const char *path, size_t n_rows, size_t c, float *out, qr_error *err)
{
    unsigned char *data;
    size_t len;
    qr_status s = qr_file_read_all(path, (size_t)1 << 31, &data, &len, err);
    if (s != QR_OK)
        return s;
    char *text = realloc(data, len + 1);
    if (!text) {
        free(data);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        return qr_error_set(err, QR_ERR_FORMAT, "%s: contains a NUL byte", path);
    }
    size_t line = 1, row = 0;
    char *p = text;
    /* the header: c comma-separated names */
    size_t cols = 1;
    while (*p && *p != '\n') {
        cols += *p == ',';
        p++;
    }
    if (cols != c) {
        free(text);
        return qr_error_set(err, QR_ERR_FORMAT, "%s:1: the header has %zu columns, the model has "
                            "%zu classes", path, cols, c);
    }
    while (*p) {
        if (*p == '\n')
            p++;
        line++;
        if (*p == '\0' || (*p == '\r' && p[1] == '\0'))
            break;
        if (row == n_rows) {
            free(text);
            return qr_error_set(err, QR_ERR_FORMAT, "%s:%zu: more rows than the %zu rows of the "
                                "training file", path, line, n_rows);
        }
        for (size_t j = 0; j < c; j++) {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            if (end == p || errno == ERANGE || !isfinite(v)) {
                free(text);
                return qr_error_set(err, QR_ERR_FORMAT, "%s:%zu:%zu: expected a finite number",
                                    path, line, j + 1);
            }
            out[row * c + j] = (float)v;
            p = end;
            while (*p == ' ' || *p == '\t')
                p++;
            if (j + 1 < c) {
                if (*p != ',') {
                    free(text);
                    return qr_error_set(err, QR_ERR_FORMAT, "%s:%zu: %zu columns, expected %zu "
                                        "(one per class)", path, line, j + 1, c);
                }
                p++;
            }
        }
        if (*p == '\r')
            p++;
        if (*p != '\n' && *p != '\0') {
            free(text);
            return qr_error_set(err, QR_ERR_FORMAT, "%s:%zu: more than %zu columns (one per "
                                "class)", path, line, c);
        }
        row++;
    }
    free(text);
    if (row != n_rows)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: %zu rows of logits, the training file has "
                            "%zu", path, row, n_rows);
    return QR_OK;
}

QR_API qr_status qr_teacher_logits(const qr_train_config *c, const qr_split_data *d,
                                   float **logits, qr_error *err)
{
    *logits = NULL;
    const qr_dataset *tr = &d->train;
    size_t k = tr->n_classes;
    float *out = malloc((tr->n * k + 1) * sizeof *out);
    if (!out)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory for teacher logits");
    qr_status s = QR_OK;
    if (c->teacher_path) {
        qr_model *t = NULL;
        if ((s = qr_model_load(c->teacher_path, 256, &t, err)) != QR_OK)
            goto fail;
        const qr_model_spec *ts = qr_model_spec_of(t);
        const char *const *names = qr_model_classes(t);
        int same = ts->n_classes == k && ts->t * ts->f == tr->t * tr->f;
        for (size_t i = 0; same && names && i < k; i++)
            same = strcmp(names[i], tr->class_names[i]) == 0;
        if (!same) {
            qr_model_free(t);
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: the teacher's input (%zu values) or classes "
                             "(%zu) do not match the data (%zu values, %zu classes)",
                             c->teacher_path, ts->t * ts->f, ts->n_classes, tr->t * tr->f, k);
            goto fail;
        }
        s = qr_model_predict(t, tr->x, tr->n, out, NULL);
        qr_model_free(t);
        if (s != QR_OK) {
            qr_error_set(err, s, "%s: running the teacher failed", c->teacher_path);
            goto fail;
        }
    } else {
        float *rows = malloc((d->n_source * k + 1) * sizeof *rows);
        if (!rows) {
            s = qr_error_set(err, QR_ERR_NOMEM, "out of memory for teacher logits");
            goto fail;
        }
        if ((s = read_logits(c->teacher_logits_path, d->n_source, k, rows, err)) != QR_OK) {
            free(rows);
            goto fail;
        }
        for (size_t i = 0; i < tr->n; i++) {
            size_t r = tr->source_row ? tr->source_row[i] : i;
            memcpy(out + i * k, rows + r * k, k * sizeof *out);
        }
        free(rows);
    }
    *logits = out;
    return QR_OK;
fail:
    free(out);
    return s;
}
