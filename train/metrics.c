/* Classification metrics of qreg eval: confusion matrix, per-class precision, recall, F1 and
 * support, as labelled tables, JSON, and a per-sample predictions CSV (written atomically). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/fileio.h"
#include "metrics.h"

qr_status qr_metrics_compute(qr_metrics *m, const int32_t *y, const int32_t *pred, size_t n,
                             size_t n_classes)
{
    memset(m, 0, sizeof *m);
    m->n = n;
    m->n_classes = n_classes;
    m->confusion = calloc(n_classes * n_classes + 1, sizeof *m->confusion);
    m->cls = calloc(n_classes + 1, sizeof *m->cls);
    if (!m->confusion || !m->cls) {
        qr_metrics_free(m);
        return QR_ERR_NOMEM;
    }
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || (size_t)y[i] >= n_classes || pred[i] < 0 ||
            (size_t)pred[i] >= n_classes) {
            qr_metrics_free(m);
            return QR_ERR_ARG;
        }
        m->confusion[(size_t)y[i] * n_classes + (size_t)pred[i]]++;
        correct += y[i] == pred[i];
    }
    m->accuracy = n ? (double)correct / (double)n : NAN;
    double sum[3] = {0}, wsum[3] = {0};
    size_t cnt[3] = {0}, wn = 0;
    for (size_t c = 0; c < n_classes; c++) {
        size_t tp = m->confusion[c * n_classes + c], predicted = 0, actual = 0;
        for (size_t k = 0; k < n_classes; k++) {
            predicted += m->confusion[k * n_classes + c];
            actual += m->confusion[c * n_classes + k];
        }
        qr_class_metrics *cm = &m->cls[c];
        cm->support = actual;
        cm->precision = predicted ? (double)tp / (double)predicted : NAN;
        cm->recall = actual ? (double)tp / (double)actual : NAN;
        if (!isnan(cm->precision) && !isnan(cm->recall))
            cm->f1 = cm->precision + cm->recall > 0
                         ? 2 * cm->precision * cm->recall / (cm->precision + cm->recall)
                         : 0.0;
        else
            cm->f1 = actual ? 0.0 : NAN; /* a class never predicted: F1 0 */
        if (actual && isnan(cm->precision))
            cm->precision = 0.0; /* samples of it, none predicted: nothing right */
        double v[3] = {cm->precision, cm->recall, cm->f1};
        for (int j = 0; j < 3; j++)
            if (!isnan(v[j]) && actual) {
                sum[j] += v[j];
                cnt[j]++;
                wsum[j] += v[j] * (double)actual;
            }
        wn += actual;
    }
    double *macro[3] = {&m->macro_precision, &m->macro_recall, &m->macro_f1};
    double *weighted[3] = {&m->weighted_precision, &m->weighted_recall, &m->weighted_f1};
    for (int j = 0; j < 3; j++) {
        *macro[j] = cnt[j] ? sum[j] / (double)cnt[j] : NAN;
        *weighted[j] = wn ? wsum[j] / (double)wn : NAN;
    }
    return QR_OK;
}

void qr_metrics_free(qr_metrics *m)
{
    if (!m)
        return;
    free(m->confusion);
    free(m->cls);
    memset(m, 0, sizeof *m);
}

static void print_value(FILE *f, double v)
{
    if (isnan(v))
        fprintf(f, " %9s", "-");
    else
        fprintf(f, " %9.4f", v);
}

void qr_metrics_print(FILE *f, const qr_metrics *m, const char *model,
                      const char *const *class_names)
{
    size_t c = m->n_classes, w = 12; /* the class-name column: "weighted avg" */
    for (size_t i = 0; i < c; i++)
        if (strlen(class_names[i]) > w)
            w = strlen(class_names[i]);
    if (w > 24)
        w = 24;
    int wi = (int)w;
    fprintf(f, "%s model: per-class precision, recall, F1 and support (%zu samples)\n", model,
            m->n);
    fprintf(f, "  %-*s %9s %9s %9s %9s\n", wi, "class", "precision", "recall", "f1", "support");
    for (size_t i = 0; i < c; i++) {
        fprintf(f, "  %-*.*s", wi, wi, class_names[i]);
        print_value(f, m->cls[i].precision);
        print_value(f, m->cls[i].recall);
        print_value(f, m->cls[i].f1);
        fprintf(f, " %9zu\n", m->cls[i].support);
    }
    fprintf(f, "  %-*s", wi, "macro avg");
    print_value(f, m->macro_precision);
    print_value(f, m->macro_recall);
    print_value(f, m->macro_f1);
    fprintf(f, " %9zu\n", m->n);
    fprintf(f, "  %-*s", wi, "weighted avg");
    print_value(f, m->weighted_precision);
    print_value(f, m->weighted_recall);
    print_value(f, m->weighted_f1);
    fprintf(f, " %9zu\n", m->n);

    /* columns as wide as their class name (at least 6, at most 12 characters) */
    fprintf(f, "%s model: confusion matrix (rows: true class, columns: predicted class)\n", model);
    fprintf(f, "  %-*s", wi, "true \\ pred");
    int *cw = malloc((c + 1) * sizeof *cw);
    for (size_t k = 0; k < c; k++) {
        size_t l = strlen(class_names[k]);
        int width = l < 6 ? 6 : l > 12 ? 12 : (int)l;
        if (cw)
            cw[k] = width;
        fprintf(f, " %*.*s", width, width, class_names[k]);
    }
    fprintf(f, "\n");
    for (size_t i = 0; i < c; i++) {
        fprintf(f, "  %-*.*s", wi, wi, class_names[i]);
        for (size_t k = 0; k < c; k++)
            fprintf(f, " %*zu", cw ? cw[k] : 6, m->confusion[i * c + k]);
        fprintf(f, "\n");
    }
    free(cw);
}

static void add_number(cJSON *o, const char *key, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, v);
}

static cJSON *average(const char *cls, double p, double r, double f1, size_t support)
{
    cJSON *o = cJSON_CreateObject();
    if (cls)
        cJSON_AddStringToObject(o, "class", cls);
    add_number(o, "precision", p);
    add_number(o, "recall", r);
    add_number(o, "f1", f1);
    cJSON_AddNumberToObject(o, "support", (double)support);
    return o;
}

cJSON *qr_metrics_to_json(const qr_metrics *m, const char *const *class_names)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    size_t c = m->n_classes;
    add_number(j, "accuracy", m->accuracy);
    cJSON *pc = cJSON_AddArrayToObject(j, "per_class");
    for (size_t i = 0; i < c; i++) {
        cJSON_AddItemToArray(pc, average(class_names[i], m->cls[i].precision, m->cls[i].recall,
                                         m->cls[i].f1, m->cls[i].support));
    }
    cJSON_AddItemToObject(j, "macro",
                          average(NULL, m->macro_precision, m->macro_recall, m->macro_f1, m->n));
    cJSON_AddItemToObject(j, "weighted", average(NULL, m->weighted_precision,
                                                 m->weighted_recall, m->weighted_f1, m->n));
    cJSON *cm = cJSON_AddArrayToObject(j, "confusion");
    for (size_t i = 0; i < c; i++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t k = 0; k < c; k++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)m->confusion[i * c + k]));
        cJSON_AddItemToArray(cm, row);
    }
    return j;
}

/* A CSV field: quoted (with "" for ") when it holds a comma, quote or line break. */
static void csv_field(qr_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        qr_buf_put(b, s, strlen(s));
        return;
    }
    qr_buf_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            qr_buf_put(b, "\"", 1);
        qr_buf_put(b, s, 1);
    }
    qr_buf_put(b, "\"", 1);
}

qr_status qr_predictions_write(const char *path, size_t n, size_t n_classes, const int32_t *y,
                               const size_t *source_row, const char *const *paths,
                               const char *const *class_names, const qr_pred_column *cols,
                               size_t n_cols, qr_error *err)
{
    qr_buf b = {0};
    char name[256];
    qr_buf_printf(&b, paths ? "path,label" : "index,label");
    for (size_t k = 0; k < n_cols; k++) {
        qr_buf_printf(&b, ",%s_pred", cols[k].kind);
        if (!cols[k].logits)
            continue;
        for (size_t c = 0; c < n_classes; c++) {
            snprintf(name, sizeof name, "%s_logit_%s", cols[k].kind, class_names[c]);
            qr_buf_put(&b, ",", 1);
            csv_field(&b, name);
        }
    }
    qr_buf_put(&b, "\n", 1);
    for (size_t i = 0; i < n; i++) {
        size_t r = source_row ? source_row[i] : i;
        if (paths) {
            csv_field(&b, paths[r]);
            qr_buf_put(&b, ",", 1);
        } else {
            qr_buf_printf(&b, "%zu,", r);
        }
        csv_field(&b, class_names[y[i]]);
        for (size_t k = 0; k < n_cols; k++) {
            qr_buf_put(&b, ",", 1);
            csv_field(&b, class_names[cols[k].pred[i]]);
            if (!cols[k].logits)
                continue;
            for (size_t c = 0; c < n_classes; c++)
                qr_buf_printf(&b, ",%.9g", (double)cols[k].logits[i * n_classes + c]);
        }
        qr_buf_put(&b, "\n", 1);
    }
    qr_status s = b.nomem ? qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path)
                          : qr_file_write_atomic(path, b.data, b.len, err);
    qr_buf_free(&b);
    return s;
}
