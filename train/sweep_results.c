/* Sweeps: reading results files back and keeping one row per id (sweep.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "sweep_internal.h"

/* Parse one CSV record starting at *p (RFC 4180). Cells are malloc'd into *cells. Returns the
 * number of cells, 0 at the end of the text, -1 when out of memory or the record is torn (an
 * unterminated quote, no final line break). */
static long csv_record(const char **p, const char *end, char ***cells)
{
    *cells = NULL;
    if (*p >= end)
        return 0;
    qr_buf cell = {0};
    size_t n = 0, cap = 0;
    const char *s = *p;
    int quoted = 0, done = 0, ok = 0;
    while (!done) {
        if (s >= end)
            break; /* torn: no line break at the end */
        char ch = *s++;
        if (quoted) {
            if (ch == '"') {
                if (s < end && *s == '"') {
                    qr_buf_put(&cell, "\"", 1);
                    s++;
                } else {
                    quoted = 0;
                }
            } else {
                qr_buf_put(&cell, &ch, 1);
            }
            continue;
        }
        if (ch == '"' && cell.len == 0) {
            quoted = 1;
            continue;
        }
        if (ch == ',' || ch == '\n') {
            if (ch == '\n' && cell.len && cell.data[cell.len - 1] == '\r')
                cell.len--;
            qr_buf_put(&cell, "", 1);
            if (cell.nomem)
                break;
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                char **c = realloc(*cells, cap * sizeof *c);
                if (!c)
                    break;
                *cells = c;
            }
            (*cells)[n++] = (char *)cell.data;
            memset(&cell, 0, sizeof cell);
            if (ch == '\n')
                done = ok = 1;
            continue;
        }
        qr_buf_put(&cell, &ch, 1);
    }
    qr_buf_free(&cell);
    *p = s;
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free((*cells)[i]);
        free(*cells);
        *cells = NULL;
        return -1;
    }
    return (long)n;
}

static void free_cells(char **cells, long n)
{
    for (long i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

static double parse_num(const char *s)
{
    if (!s[0])
        return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

qr_status qr_sweep_results_read_csv(qr_sweep_results *res, const char *path, qr_error *err)
{
    unsigned char *data;
    size_t len;
    qr_status s = qr_file_read_all(path, (size_t)1 << 31, &data, &len, err);
    if (s)
        return s;
    const char *p = (const char *)data, *end = p + len;
    char **head;
    long nh = csv_record(&p, end, &head);
    if (nh <= 0 || strcmp(head[0], "id") != 0) {
        if (nh > 0)
            free_cells(head, nh);
        free(data);
        return qr_error_set(err, QR_ERR_FORMAT, "%s: not a qreg sweep results file (the first "
                            "line must be a header starting with 'id')", path);
    }
    /* where each cell goes: a settings column (>= 0), or -1 - k for fixed column k */
    long *map = calloc((size_t)nh, sizeof *map);
    if (!map) {
        free_cells(head, nh);
        free(data);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    int have[32] = {0};
    for (long i = 0; i < nh && s == QR_OK; i++) {
        long fixed = -1;
        for (long k = 0; qr_sweep_fixed_columns[k]; k++)
            if (strcmp(head[i], qr_sweep_fixed_columns[k]) == 0)
                fixed = k;
        if (fixed >= 0) {
            map[i] = -1 - fixed;
            have[fixed] = 1;
            continue;
        }
        size_t c = 0;
        while (c < res->n_columns && strcmp(res->columns[c], head[i]) != 0)
            c++;
        if (c == res->n_columns) {
            char **cols = realloc(res->columns, (c + 1) * sizeof *cols);
            if (!cols || !(cols[c] = xstrdup(head[i]))) {
                if (cols)
                    res->columns = cols;
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            res->columns = cols;
            res->n_columns++;
        }
        map[i] = (long)c;
    }
    if (s == QR_OK && (!have[3] || !have[8]))
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: the header has no '%s' column", path,
                         have[3] ? "fq_test_accuracy" : "status");
    size_t line = 1;
    while (s == QR_OK) {
        char **cells;
        const char *before = p;
        long nc = csv_record(&p, end, &cells);
        line++;
        if (nc == 0)
            break;
        for (const char *q = before; q < p; q++)
            line += *q == '\n' && q + 1 < p;
        if (nc != nh) {
            if (nc > 0)
                free_cells(cells, nc);
            res->skipped++;
            continue;
        }
        qr_sweep_row *rows = realloc(res->rows, (res->n_rows + 1) * sizeof *rows);
        if (!rows) {
            free_cells(cells, nc);
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        res->rows = rows;
        qr_sweep_row *r = &rows[res->n_rows];
        if (qr_sweep_row_alloc(r, res->n_columns) != QR_OK) {
            free_cells(cells, nc);
            qr_sweep_row_free(r);
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        int bad = 0;
        for (size_t c = 0; c < res->n_columns; c++)
            bad |= !(r->columns[c] = xstrdup(res->columns[c]));
        for (long i = 0; i < nc; i++) {
            const char *v = cells[i];
            if (map[i] >= 0) {
                free(r->labels[map[i]]);
                bad |= !(r->labels[map[i]] = xstrdup(v));
                continue;
            }
            long k = -1 - map[i];
            if (k == 0) {
                if (strlen(v) != QR_SWEEP_ID_LEN)
                    bad = 2;
                else
                    memcpy(r->id, v, QR_SWEEP_ID_LEN + 1);
            } else if (k == 1) {
                r->rep = (size_t)strtoull(v, NULL, 10);
            } else if (k == 2) {
                r->seed = strtoll(v, NULL, 10);
            } else if (k == 3) {
                r->ok = strcmp(v, "ok") == 0;
                if (!r->ok && strcmp(v, "failed") != 0)
                    bad = 2;
            } else if (k == 4) {
                if (v[0])
                    bad |= !(r->error = xstrdup(v));
            } else {
                *qr_sweep_metric(r, (size_t)(k - 5)) = parse_num(v);
            }
        }
        for (size_t c = 0; c < res->n_columns; c++)
            if (!r->labels[c])
                bad |= !(r->labels[c] = xstrdup(""));
        free_cells(cells, nc);
        if (bad) {
            qr_sweep_row_free(r);
            if (bad == 1) {
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            res->skipped++; /* an id or status that is not ours: a torn or foreign line */
            continue;
        }
        qr_sweep_derive_reduction(r);
        res->n_rows++;
    }
    /* rows read from earlier files lack columns this file added */
    for (size_t i = 0; s == QR_OK && i < res->n_rows; i++) {
        qr_sweep_row *r = &res->rows[i];
        if (r->n_columns == res->n_columns)
            continue;
        char **lab = realloc(r->labels, res->n_columns * sizeof *lab);
        char **col = lab ? realloc(r->columns, res->n_columns * sizeof *col) : NULL;
        if (lab)
            r->labels = lab;
        if (col)
            r->columns = col;
        if (!lab || !col) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        for (size_t c = r->n_columns; c < res->n_columns; c++) {
            r->labels[c] = xstrdup("");
            r->columns[c] = xstrdup(res->columns[c]);
        }
        r->n_columns = res->n_columns;
    }
    free(map);
    free_cells(head, nh);
    free(data);
    return s;
}

void qr_sweep_results_dedup(qr_sweep_results *res)
{
    size_t out = 0;
    for (size_t i = 0; i < res->n_rows; i++) {
        size_t j = 0;
        while (j < out && strcmp(res->rows[j].id, res->rows[i].id) != 0)
            j++;
        if (j == out) {
            if (out != i)
                res->rows[out] = res->rows[i];
            out++;
            continue;
        }
        /* a later ok row replaces; a later failed row replaces only a failed one */
        if (res->rows[i].ok || !res->rows[j].ok) {
            qr_sweep_row_free(&res->rows[j]);
            res->rows[j] = res->rows[i];
        } else {
            qr_sweep_row_free(&res->rows[i]);
        }
    }
    res->n_rows = out;
}

void qr_sweep_results_free(qr_sweep_results *res)
{
    for (size_t i = 0; i < res->n_rows; i++)
        qr_sweep_row_free(&res->rows[i]);
    free(res->rows);
    for (size_t c = 0; c < res->n_columns; c++)
        free(res->columns[c]);
    free(res->columns);
    memset(res, 0, sizeof *res);
}

qr_status qr_sweep_done_ids(const char *path, char (**ids)[QR_SWEEP_ID_LEN + 1], size_t *n,
                            qr_error *err)
{
    if (access(path, F_OK) != 0)
        return QR_OK;
    unsigned char *data;
    size_t len;
    qr_status s = qr_file_read_all(path, (size_t)1 << 31, &data, &len, err);
    if (s)
        return s;
    char *text = realloc(data, len + 1);
    if (!text) {
        free(data);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    text[len] = '\0';
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break; /* a torn last line is not a finished run */
        *nl = '\0';
        qr_sweep_row r;
        if (qr_sweep_row_from_jsonl(&r, line) == 0) {
            if (r.ok) {
                char (*more)[QR_SWEEP_ID_LEN + 1] = realloc(*ids, (*n + 1) * sizeof *more);
                if (!more) {
                    qr_sweep_row_free(&r);
                    free(text);
                    return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
                }
                *ids = more;
                memcpy((*ids)[(*n)++], r.id, QR_SWEEP_ID_LEN + 1);
            }
            qr_sweep_row_free(&r);
        }
        line = nl + 1;
    }
    free(text);
    return QR_OK;
}
