/* Sweeps: result rows, their CSV and JSON-line text, appends, short column names. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "sweep_internal.h"

#define MAX_ERROR_CHARS 300

const char *const qr_sweep_fixed_columns[] = {
    "id", "rep", "seed", "status", "error", "val_accuracy", "test_accuracy", "fq_val_accuracy",
    "fq_test_accuracy", "int_val_accuracy", "int_test_accuracy", "val_loss", "test_loss",
    "best_epoch", "bytes", "actual_bytes", "baseline_bytes", "reduction_pct", "seconds", NULL};

int qr_sweep_is_fixed_column(const char *name)
{
    for (const char *const *c = qr_sweep_fixed_columns; *c; c++)
        if (strcmp(*c, name) == 0)
            return 1;
    return 0;
}

double *qr_sweep_metric(qr_sweep_row *r, size_t k)
{
    double *m[QR_SWEEP_N_METRICS] = {&r->val_accuracy, &r->test_accuracy, &r->fq_val_accuracy,
                                     &r->fq_test_accuracy, &r->int_val_accuracy,
                                     &r->int_test_accuracy, &r->val_loss, &r->test_loss,
                                     &r->best_epoch, &r->bytes, &r->actual_bytes,
                                     &r->baseline_bytes, &r->reduction_pct, &r->seconds};
    return m[k];
}

static void row_clear(qr_sweep_row *r)
{
    memset(r, 0, sizeof *r);
    for (size_t k = 0; k < QR_SWEEP_N_METRICS; k++)
        *qr_sweep_metric(r, k) = NAN;
}

qr_status qr_sweep_row_alloc(qr_sweep_row *r, size_t n_columns)
{
    row_clear(r);
    r->n_columns = n_columns;
    r->labels = calloc(n_columns ? n_columns : 1, sizeof *r->labels);
    r->columns = calloc(n_columns ? n_columns : 1, sizeof *r->columns);
    return r->labels && r->columns ? QR_OK : QR_ERR_NOMEM;
}

qr_status qr_sweep_row_init(qr_sweep_row *r, const qr_sweep *sw, const qr_sweep_point *p)
{
    if (qr_sweep_row_alloc(r, sw->n_columns) != QR_OK) {
        qr_sweep_row_free(r);
        return QR_ERR_NOMEM;
    }
    memcpy(r->id, p->id, sizeof r->id);
    r->rep = p->rep;
    r->seed = p->seed;
    for (size_t c = 0; c < sw->n_columns; c++)
        if (!(r->labels[c] = xstrdup(p->labels[c])) || !(r->columns[c] = xstrdup(sw->columns[c]))) {
            qr_sweep_row_free(r);
            return QR_ERR_NOMEM;
        }
    return QR_OK;
}

void qr_sweep_row_free(qr_sweep_row *r)
{
    for (size_t c = 0; c < r->n_columns; c++) {
        free(r->labels ? r->labels[c] : NULL);
        free(r->columns ? r->columns[c] : NULL);
    }
    free(r->labels);
    free(r->columns);
    free(r->error);
    row_clear(r);
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

void qr_sweep_derive_reduction(qr_sweep_row *r)
{
    if (isnan(r->reduction_pct) && r->baseline_bytes > 0 && !isnan(r->bytes))
        r->reduction_pct = 100.0 * (1.0 - r->bytes / r->baseline_bytes);
}

int qr_sweep_row_set_result(qr_sweep_row *r, const char *json_text)
{
    cJSON *o = cJSON_Parse(json_text);
    if (!cJSON_IsObject(o) || !cJSON_GetObjectItemCaseSensitive(o, "best_epoch")) {
        cJSON_Delete(o);
        return 1;
    }
    for (size_t k = 0; k < QR_SWEEP_N_METRICS; k++)
        *qr_sweep_metric(r, k) = json_num(o, qr_sweep_fixed_columns[k + 5]);
    qr_sweep_derive_reduction(r);
    cJSON_Delete(o);
    r->ok = 1;
    free(r->error);
    r->error = NULL;
    return 0;
}

void qr_sweep_row_set_error(qr_sweep_row *r, const char *msg)
{
    r->ok = 0;
    free(r->error);
    if (!msg)
        msg = "";
    while (*msg == ' ' || *msg == '\t' || *msg == '\n' || *msg == '\r')
        msg++;
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == ' ' || msg[n - 1] == '\n' || msg[n - 1] == '\r' ||
                 msg[n - 1] == '\t'))
        n--;
    int cut = n > MAX_ERROR_CHARS;
    if (cut)
        n = MAX_ERROR_CHARS;
    r->error = malloc(n + 4);
    if (!r->error)
        return;
    memcpy(r->error, msg, n);
    strcpy(r->error + n, cut ? "..." : "");
    for (char *p = r->error; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

static void put_str(qr_buf *b, const char *s)
{
    qr_buf_put(b, s, strlen(s));
}

static void put_cell(qr_buf *b, const char *s, int first)
{
    if (!first)
        put_str(b, ",");
    if (!strpbrk(s, ",\"\n\r") && s[0] != ' ' && (!s[0] || s[strlen(s) - 1] != ' ')) {
        put_str(b, s);
        return;
    }
    put_str(b, "\"");
    for (const char *p = s; *p; p++)
        qr_buf_put(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    put_str(b, "\"");
}

static char *finish(qr_buf *b)
{
    qr_buf_put(b, "", 1);
    if (b->nomem) {
        qr_buf_free(b);
        return NULL;
    }
    return (char *)b->data;
}

char *qr_sweep_csv_header(char *const *columns, size_t n_columns)
{
    qr_buf b = {0};
    put_cell(&b, "id", 1);
    for (size_t c = 0; c < n_columns; c++)
        put_cell(&b, columns[c], 0);
    for (const char *const *f = qr_sweep_fixed_columns + 1; *f; f++)
        put_cell(&b, *f, 0);
    put_str(&b, "\n");
    return finish(&b);
}

static void fmt_num(char *buf, size_t n, double v)
{
    if (isnan(v) || isinf(v))
        buf[0] = '\0';
    else
        snprintf(buf, n, "%.10g", v);
}

char *qr_sweep_row_csv(const qr_sweep_row *r)
{
    qr_buf b = {0};
    char tmp[64];
    put_cell(&b, r->id, 1);
    for (size_t c = 0; c < r->n_columns; c++)
        put_cell(&b, r->labels[c], 0);
    snprintf(tmp, sizeof tmp, "%zu", r->rep);
    put_cell(&b, tmp, 0);
    snprintf(tmp, sizeof tmp, "%lld", r->seed);
    put_cell(&b, tmp, 0);
    put_cell(&b, r->ok ? "ok" : "failed", 0);
    put_cell(&b, r->error ? r->error : "", 0);
    for (size_t k = 0; k < QR_SWEEP_N_METRICS; k++) {
        fmt_num(tmp, sizeof tmp, *qr_sweep_metric((qr_sweep_row *)r, k));
        put_cell(&b, tmp, 0);
    }
    put_str(&b, "\n");
    return finish(&b);
}

char *qr_sweep_row_jsonl(const qr_sweep_row *r)
{
    cJSON *o = cJSON_CreateObject(), *set = cJSON_CreateObject();
    if (!o || !set) {
        cJSON_Delete(o);
        cJSON_Delete(set);
        return NULL;
    }
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddItemToObject(o, "settings", set);
    for (size_t c = 0; c < r->n_columns; c++)
        cJSON_AddStringToObject(set, r->columns[c], r->labels[c]);
    cJSON_AddNumberToObject(o, "rep", (double)r->rep);
    cJSON_AddNumberToObject(o, "seed", (double)r->seed);
    cJSON_AddStringToObject(o, "status", r->ok ? "ok" : "failed");
    if (r->error)
        cJSON_AddStringToObject(o, "error", r->error);
    else
        cJSON_AddNullToObject(o, "error");
    for (size_t k = 0; k < QR_SWEEP_N_METRICS; k++) {
        double v = *qr_sweep_metric((qr_sweep_row *)r, k);
        if (isnan(v) || isinf(v))
            cJSON_AddNullToObject(o, qr_sweep_fixed_columns[k + 5]);
        else
            cJSON_AddNumberToObject(o, qr_sweep_fixed_columns[k + 5], v);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

int qr_sweep_row_from_jsonl(qr_sweep_row *r, const char *line)
{
    row_clear(r);
    cJSON *o = cJSON_Parse(line);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(o, "settings");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    if (!cJSON_IsObject(o) || !cJSON_IsString(id) || strlen(id->valuestring) != QR_SWEEP_ID_LEN ||
        !cJSON_IsString(status) || (set && !cJSON_IsObject(set)) ||
        qr_sweep_row_alloc(r, set ? (size_t)cJSON_GetArraySize(set) : 0) != QR_OK) {
        cJSON_Delete(o);
        qr_sweep_row_free(r);
        return 1;
    }
    memcpy(r->id, id->valuestring, QR_SWEEP_ID_LEN + 1);
    size_t c = 0;
    int bad = 0;
    for (const cJSON *it = set ? set->child : NULL; it; it = it->next, c++) {
        r->columns[c] = xstrdup(it->string);
        r->labels[c] = cJSON_IsString(it) ? xstrdup(it->valuestring) : qr_sweep_value_label(it);
        bad |= !r->columns[c] || !r->labels[c];
    }
    double rep = json_num(o, "rep"), seed = json_num(o, "seed");
    r->rep = isnan(rep) || rep < 0 ? 0 : (size_t)rep;
    r->seed = isnan(seed) ? 0 : (long long)seed;
    r->ok = strcmp(status->valuestring, "ok") == 0;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (cJSON_IsString(e))
        bad |= !(r->error = xstrdup(e->valuestring));
    for (size_t k = 0; k < QR_SWEEP_N_METRICS; k++)
        *qr_sweep_metric(r, k) = json_num(o, qr_sweep_fixed_columns[k + 5]);
    cJSON_Delete(o);
    if (bad) {
        qr_sweep_row_free(r);
        return 1;
    }
    return 0;
}

qr_status qr_sweep_append(int fd, const char *text, size_t len, const char *path, qr_error *err)
{
    for (;;) {
        ssize_t w = write(fd, text, len);
        if (w == (ssize_t)len)
            return QR_OK;
        if (w < 0 && errno == EINTR)
            continue;
        return qr_error_set(err, QR_ERR_IO, "%s: %s", path,
                            w < 0 ? strerror(errno) : "short write (disk full?)");
    }
}

/* The short form of one column name into buf. */
static void short_name(const char *col, char *buf, size_t n)
{
    const char *end = col + strlen(col), *start = col;
    for (int pass = 0; pass < 2; pass++) {
        const char *dot = end;
        while (dot > col && dot[-1] != '.')
            dot--;
        start = dot;
        size_t len = (size_t)(end - start);
        const char *br = memchr(start, '[', len);
        if (br)
            len = (size_t)(br - start);
        int generic = (len == 4 && (memcmp(start, "name", 4) == 0 || memcmp(start, "type", 4) == 0));
        if (pass == 0 && generic && dot > col && dot[-2] != ']') {
            end = dot - 1; /* "schedule.name" -> "schedule"; not "model[2].type" -> "model" */
            continue;
        }
        snprintf(buf, n, "%.*s", (int)len, start);
        return;
    }
}

char **qr_sweep_short_names(char *const *columns, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    char a[256], b[256];
    for (size_t c = 0; c < n; c++) {
        short_name(columns[c], a, sizeof a);
        int clash = !a[0];
        for (size_t d = 0; d < n && !clash; d++) {
            short_name(columns[d], b, sizeof b);
            clash = d != c && strcmp(a, b) == 0;
        }
        if (!(out[c] = xstrdup(clash ? columns[c] : a))) {
            qr_sweep_short_names_free(out, c);
            return NULL;
        }
    }
    return out;
}

void qr_sweep_short_names_free(char **names, size_t n)
{
    for (size_t c = 0; names && c < n; c++)
        free(names[c]);
    free(names);
}
