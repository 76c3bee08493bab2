/* CSV loader: one delimited text file -> qr_dataset (rules in include/qreg/data.h).
 *
 * The whole file is read into one buffer and cells are cut in place: each cell is unquoted
 * over its own bytes and NUL-terminated where its delimiter or line end was, so there is no
 * line-length limit and labels can point into the buffer until the classes are built.
 * Errors name "path:line:column", line counting from 1 over physical lines (header and
 * blank lines included), column counting cells from 1. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qreg/data.h"

typedef struct csv_cell {
    char *s;     /* NUL-terminated, unquoted and trimmed, inside the file buffer */
    size_t len;
} csv_cell;

/* An entry of a caller-given class list, sorted by name for lookups. */
typedef struct csv_class_ref {
    const char *name;
    size_t index;  /* position in the caller's list = class index */
} csv_class_ref;

typedef struct csv_load {
    const qr_csv_options *o;
    qr_error *err;
    const char *path;
    char delim;

    char *buf;          /* the whole file plus a NUL */
    size_t len, pos;    /* bytes in buf (without the NUL); next unread byte */
    size_t line;        /* number of the line last read */
    size_t rows_seen;   /* non-blank lines returned so far */
    csv_cell *cells;    /* cells of the row last read */
    size_t ncells, cells_cap;

    size_t ncols, li, nfeat;  /* cells per row, label column, feature columns */
    size_t first_data_line;

    size_t n, cap;      /* rows stored, rows allocated */
    float *x;           /* (cap, nfeat) */
    char **labels;      /* (cap) pointers into buf */
    int32_t *y;         /* (cap), filled while reading only with a given class list */

    csv_class_ref *given;  /* (o->n_classes) sorted, or NULL */
} csv_load;

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static qr_status fail_at(const csv_load *c, qr_status s, size_t line, size_t col,
                         const char *fmt, ...)
{
    char what[QR_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return qr_error_set(c->err, s, "%s:%zu:%zu: %s", c->path, line, col, what);
}

/* Cells are echoed in messages cut to this many bytes, so the location always fits. */
#define CSV_ECHO 40
#define CSV_ECHO_ARGS(s) CSV_ECHO, (s), (strlen(s) > CSV_ECHO ? "..." : "")

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void free_names(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- reading and splitting ----------------------------------------------------------- */

static qr_status read_file(csv_load *c)
{
    FILE *fp = fopen(c->path, "rb");
    if (!fp)
        return qr_error_set(c->err, QR_ERR_IO, "%s: cannot open: %s", c->path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
    }
    for (;;) {
        if (cap - len < 2) {  /* keep one byte for the final NUL */
            if (cap > SIZE_MAX / 2) {
                free(buf);
                fclose(fp);
                return qr_error_set(c->err, QR_ERR_NOMEM, "%s: file too large", c->path);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(fp);
                return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, fp);
        len += got;
        if (got == 0)
            break;
    }
    /* A directory opens on Linux but fails to read; ferror catches it. */
    int bad = ferror(fp);
    int e = errno;
    fclose(fp);
    if (bad) {
        free(buf);
        return qr_error_set(c->err, QR_ERR_IO, "%s: read error: %s", c->path, strerror(e));
    }
    buf[len] = '\0';
    c->buf = buf;
    c->len = len;
    return QR_OK;
}

/* A NUL byte would silently cut a label short (labels are C strings): reject binary data. */
static qr_status check_no_nul(csv_load *c)
{
    const char *z = memchr(c->buf, '\0', c->len);
    if (!z)
        return QR_OK;
    size_t line = 1, col = 1;
    for (const char *p = c->buf; p < z; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else if (*p == c->delim) {
            col++;
        }
    }
    return fail_at(c, QR_ERR_FORMAT, line, col, "NUL byte in a text file");
}

/* Next physical line without its LF or CRLF; 0 at the end of the buffer. */
static int next_line(csv_load *c, char **s, size_t *n)
{
    if (c->pos >= c->len)
        return 0;
    char *p = c->buf + c->pos;
    char *nl = memchr(p, '\n', c->len - c->pos);
    size_t k = nl ? (size_t)(nl - p) : c->len - c->pos;
    c->pos += k + (nl != NULL);
    c->line++;
    if (k > 0 && p[k - 1] == '\r')
        k--;
    *s = p;
    *n = k;
    return 1;
}

/* Spaces around cells are ignored, except when the space character is the delimiter. */
static int is_pad(const csv_load *c, char ch)
{
    return (ch == ' ' || ch == '\t') && ch != c->delim;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

static qr_status push_cell(csv_load *c, char *s, size_t len)
{
    if (c->ncells == c->cells_cap) {
        size_t nc = c->cells_cap ? c->cells_cap * 2 : 16;
        if (nc > SIZE_MAX / sizeof *c->cells)
            return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
        csv_cell *p = realloc(c->cells, nc * sizeof *p);
        if (!p)
            return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
        c->cells = p;
        c->cells_cap = nc;
    }
    c->cells[c->ncells].s = s;
    c->cells[c->ncells].len = len;
    c->ncells++;
    return QR_OK;
}

/* Cut line s[0..n) into c->cells. s[n] is the line's terminator (or the buffer's final
 * NUL), so it can be overwritten by the last cell's NUL. Unquoted text is never longer
 * than its quoted form, so unquoting writes over the cell's own bytes. */
static qr_status split_line(csv_load *c, char *s, size_t n)
{
    c->ncells = 0;
    size_t i = 0;
    for (;;) {
        size_t col = c->ncells + 1;
        while (i < n && is_pad(c, s[i]))
            i++;
        char *cell;
        size_t len;
        if (i < n && s[i] == '"') {
            size_t w = i;
            cell = s + w;
            i++;
            for (;;) {
                if (i >= n)
                    return fail_at(c, QR_ERR_FORMAT, c->line, col,
                                   "unterminated quoted cell (quoted cells cannot span lines)");
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        s[w++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                s[w++] = s[i++];
            }
            len = (size_t)(s + w - cell);
            while (i < n && is_pad(c, s[i]))
                i++;
            if (i < n && s[i] != c->delim)
                return fail_at(c, QR_ERR_FORMAT, c->line, col,
                               "unexpected '%c' after a closing quote", s[i]);
        } else {
            size_t b = i;
            while (i < n && s[i] != c->delim)
                i++;
            size_t e = i;
            while (e > b && is_pad(c, s[e - 1]))
                e--;
            cell = s + b;
            len = e - b;
        }
        qr_status st = push_cell(c, cell, len);
        if (st != QR_OK)
            return st;
        /* Terminate only now: cell[len] may be the delimiter tested above. */
        cell[len] = '\0';
        if (i >= n)
            return QR_OK;
        i++;  /* past the delimiter */
    }
}

/* Next non-blank line, split into c->cells: 1, 0 at end of file, or a negative status.
 * Blank lines before the first row and after the last are skipped; between rows they are
 * an error (a truncated or concatenated file is more likely than intent). */
static int next_row(csv_load *c)
{
    char *s;
    size_t n;
    size_t blank = 0;
    while (next_line(c, &s, &n)) {
        if (is_blank(s, n)) {
            if (!blank)
                blank = c->line;
            continue;
        }
        if (blank && c->rows_seen > 0)
            return fail_at(c, QR_ERR_FORMAT, blank, 1, "blank line between data rows");
        qr_status st = split_line(c, s, n);
        if (st != QR_OK)
            return st;
        c->rows_seen++;
        return 1;
    }
    return 0;
}

/* ---- cells ---------------------------------------------------------------------------- */

/* Whether the whole cell reads as a number (NaN and infinities included): header
 * detection only, the data rows are checked by parse_float. */
static int looks_numeric(const csv_cell *cell)
{
    if (cell->len == 0)
        return 0;
    char *end;
    (void)strtod(cell->s, &end);
    return end == cell->s + cell->len;
}

static qr_status parse_float(const csv_load *c, const csv_cell *cell, size_t line, size_t col,
                             float *v)
{
    if (cell->len == 0)
        return fail_at(c, QR_ERR_FORMAT, line, col, "empty cell");
    /* strtod also reads C99 hexadecimal floats ("0x10" is 16, "0x1p-3" 0.125): a CSV number
     * is decimal, and a hex cell is far more likely an ID or a byte dump than a feature */
    const char *digits = cell->s + (cell->s[0] == '+' || cell->s[0] == '-');
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        return fail_at(c, QR_ERR_FORMAT, line, col, "hexadecimal numbers are not accepted, "
                       "got \"%.*s%s\" (write it in decimal)", CSV_ECHO_ARGS(cell->s));
    char *end;
    errno = 0;
    double d = strtod(cell->s, &end);
    int range = errno == ERANGE;
    if (end != cell->s + cell->len)
        return fail_at(c, QR_ERR_FORMAT, line, col, "expected a number, got \"%.*s%s\"",
                       CSV_ECHO_ARGS(cell->s));
    if (isnan(d) || (isinf(d) && !range))
        return fail_at(c, QR_ERR_FORMAT, line, col, "not a finite number: \"%.*s%s\"",
                       CSV_ECHO_ARGS(cell->s));
    /* Overflow of double (ERANGE, +-HUGE_VAL) or of float; underflow just rounds to 0. */
    if (fabs(d) > FLT_MAX)
        return fail_at(c, QR_ERR_FORMAT, line, col, "number out of float range: \"%.*s%s\"",
                       CSV_ECHO_ARGS(cell->s));
    /* Finite but absurd: a feature of 3e38 overflows the first weighted sum to inf, and
     * inf - inf is NaN (a GRU gate, a loss of nan). Beyond 1e18 no float sum or square in
     * the model is safe, and no measured feature needs it. */
    if (fabs(d) > QR_CSV_MAX_ABS)
        return fail_at(c, QR_ERR_FORMAT, line, col, "number too large for a feature: "
                       "\"%.*s%s\" (|x| above %g; scale the column)", CSV_ECHO_ARGS(cell->s),
                       QR_CSV_MAX_ABS);
    *v = (float)d;
    return QR_OK;
}

/* An integer label: optional sign, decimal digits, fits in long long. */
static int parse_int_label(const char *s, long long *v)
{
    const char *d = (*s == '+' || *s == '-') ? s + 1 : s;
    if (!isdigit((unsigned char)*d))
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return 0;
    *v = x;
    return 1;
}

/* ---- classes -------------------------------------------------------------------------- */

static int cmp_class_ref(const void *a, const void *b)
{
    return strcmp(((const csv_class_ref *)a)->name, ((const csv_class_ref *)b)->name);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static qr_status prepare_given(csv_load *c)
{
    const qr_csv_options *o = c->o;
    if (!o->classes)
        return QR_OK;
    if (o->n_classes < 2 || o->n_classes > INT32_MAX)
        return qr_error_set(c->err, QR_ERR_CONFIG,
                            "%s: the given class list has %zu entries; need 2 to %d", c->path,
                            o->n_classes, INT32_MAX);
    c->given = malloc(o->n_classes * sizeof *c->given);
    if (!c->given)
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
    for (size_t i = 0; i < o->n_classes; i++) {
        if (!o->classes[i])
            return qr_error_set(c->err, QR_ERR_CONFIG, "%s: given class %zu is NULL", c->path,
                                i);
        c->given[i].name = o->classes[i];
        c->given[i].index = i;
    }
    qsort(c->given, o->n_classes, sizeof *c->given, cmp_class_ref);
    for (size_t i = 1; i < o->n_classes; i++)
        if (strcmp(c->given[i - 1].name, c->given[i].name) == 0)
            return qr_error_set(c->err, QR_ERR_CONFIG,
                                "%s: class \"%.*s%s\" appears twice in the given class list",
                                c->path, CSV_ECHO_ARGS(c->given[i].name));
    return QR_OK;
}

/* Index of `label` in the given list: by exact name, else an integer label by its
 * canonical spelling ("03" finds "3"). -1 if absent. */
static long find_given(const csv_load *c, const char *label)
{
    csv_class_ref key = {label, 0};
    const csv_class_ref *hit = bsearch(&key, c->given, c->o->n_classes, sizeof key, cmp_class_ref);
    long long v;
    char canon[32];
    if (!hit && parse_int_label(label, &v)) {
        snprintf(canon, sizeof canon, "%lld", v);
        key.name = canon;
        hit = bsearch(&key, c->given, c->o->n_classes, sizeof key, cmp_class_ref);
    }
    return hit ? (long)hit->index : -1;
}

/* Classes from the labels: sorted distinct values, numerically when all are integers.
 * Fills c->y and the names. */
static qr_status build_classes(csv_load *c, char ***names_out, size_t *k_out)
{
    size_t n = c->n, k = 0;
    char **names = NULL;
    qr_status st = QR_OK;
    if (n > SIZE_MAX / sizeof(long long))
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: too many rows", c->path);
    long long *vals = malloc(n * sizeof *vals);
    if (!vals)
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
    int numeric = 1;
    for (size_t i = 0; i < n && numeric; i++)
        numeric = parse_int_label(c->labels[i], &vals[i]);

    if (numeric) {
        long long *u = malloc(n * sizeof *u);
        if (!u) {
            free(vals);
            return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
        }
        memcpy(u, vals, n * sizeof *u);
        qsort(u, n, sizeof *u, cmp_ll);
        for (size_t i = 0; i < n; i++)
            if (k == 0 || u[k - 1] != u[i])
                u[k++] = u[i];
        if (k >= 2 && k <= INT32_MAX) {
            names = calloc(k, sizeof *names);
            for (size_t j = 0; names && j < k; j++) {
                char tmp[32];
                snprintf(tmp, sizeof tmp, "%lld", u[j]);
                if (!(names[j] = dup_str(tmp)))
                    st = QR_ERR_NOMEM;
            }
            if (!names)
                st = QR_ERR_NOMEM;
            for (size_t i = 0; st == QR_OK && i < n; i++) {
                const long long *hit = bsearch(&vals[i], u, k, sizeof *u, cmp_ll);
                c->y[i] = (int32_t)(hit - u);
            }
        }
        free(u);
    } else {
        const char **u = malloc(n * sizeof *u);
        if (!u) {
            free(vals);
            return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
        }
        memcpy(u, c->labels, n * sizeof *u);
        qsort(u, n, sizeof *u, cmp_str_ptr);
        for (size_t i = 0; i < n; i++)
            if (k == 0 || strcmp(u[k - 1], u[i]) != 0)
                u[k++] = u[i];
        if (k >= 2 && k <= INT32_MAX) {
            names = calloc(k, sizeof *names);
            for (size_t j = 0; names && j < k; j++)
                if (!(names[j] = dup_str(u[j])))
                    st = QR_ERR_NOMEM;
            if (!names)
                st = QR_ERR_NOMEM;
            for (size_t i = 0; st == QR_OK && i < n; i++) {
                const char *key = c->labels[i];
                const char **hit = bsearch(&key, u, k, sizeof *u, cmp_str_ptr);
                c->y[i] = (int32_t)(hit - u);
            }
        }
        free(u);
    }
    free(vals);

    size_t col = c->li + 1;
    if (st != QR_OK) {
        free_names(names, k);
        return qr_error_set(c->err, st, "%s: out of memory", c->path);
    }
    if (k < 2)
        return fail_at(c, QR_ERR_FORMAT, c->first_data_line, col,
                       "every label is \"%.*s%s\"; need at least 2 classes",
                       CSV_ECHO_ARGS(c->labels[0]));
    if (k > INT32_MAX)
        return fail_at(c, QR_ERR_FORMAT, c->first_data_line, col, "too many classes (%zu)", k);
    *names_out = names;
    *k_out = k;
    return QR_OK;
}

/* ---- rows ----------------------------------------------------------------------------- */

static qr_status grow_rows(csv_load *c)
{
    size_t nc = c->cap ? c->cap * 2 : 64;
    if (nc < c->cap || (c->nfeat && nc > SIZE_MAX / sizeof(float) / c->nfeat) ||
        nc > SIZE_MAX / sizeof(char *))
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: too many rows", c->path);
    float *x = realloc(c->x, nc * c->nfeat * sizeof *x);
    if (!x)
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
    c->x = x;
    char **l = realloc(c->labels, nc * sizeof *l);
    if (!l)
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
    c->labels = l;
    int32_t *y = realloc(c->y, nc * sizeof *y);
    if (!y)
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
    c->y = y;
    c->cap = nc;
    return QR_OK;
}

static qr_status add_row(csv_load *c, const csv_cell *cells, size_t ncells, size_t line)
{
    if (ncells != c->ncols)
        return fail_at(c, QR_ERR_FORMAT, line, (ncells < c->ncols ? ncells : c->ncols) + 1,
                       "expected %zu cells, got %zu", c->ncols, ncells);
    if (c->n == c->cap) {
        qr_status st = grow_rows(c);
        if (st != QR_OK)
            return st;
    }
    if (c->n == 0)
        c->first_data_line = line;
    float *xr = c->x + c->n * c->nfeat;
    size_t k = 0;
    for (size_t j = 0; j < ncells; j++) {
        if (j != c->li) {
            qr_status st = parse_float(c, &cells[j], line, j + 1, &xr[k++]);
            if (st != QR_OK)
                return st;
            continue;
        }
        if (cells[j].len == 0)
            return fail_at(c, QR_ERR_FORMAT, line, j + 1, "empty label cell");
        c->labels[c->n] = cells[j].s;
        if (c->given) {
            long idx = find_given(c, cells[j].s);
            if (idx < 0)
                return fail_at(c, QR_ERR_FORMAT, line, j + 1,
                               "label \"%.*s%s\" is not one of the %zu given classes",
                               CSV_ECHO_ARGS(cells[j].s), c->o->n_classes);
            c->y[c->n] = (int32_t)idx;
        }
    }
    c->n++;
    return QR_OK;
}

/* ---- the loader ----------------------------------------------------------------------- */

static qr_status check_options(const qr_csv_options *o, char delim, qr_error *err)
{
    if (o->header < -1 || o->header > 1)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: header must be 1, 0 or -1, not %d", o->path,
                            o->header);
    if (delim == '"' || delim == '\r' || delim == '\n')
        return qr_error_set(err, QR_ERR_CONFIG, "%s: invalid delimiter 0x%02x", o->path,
                            (unsigned)(unsigned char)delim);
    if (o->label_name && o->header == 0)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: label column \"%s\" given by name but header = 0", o->path,
                            o->label_name);
    if ((o->t == 0) != (o->f == 0))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: sequence shape t=%zu f=%zu: both must be 0 (flat) or both > 0",
                            o->path, o->t, o->f);
    return QR_OK;
}

/* The label column from the first row: by header name or by (negative) index. */
static qr_status resolve_label(csv_load *c, const csv_cell *first, size_t line)
{
    const qr_csv_options *o = c->o;
    size_t nc = c->ncols;
    if (o->label_name) {
        size_t found = nc;
        for (size_t j = 0; j < nc; j++) {
            if (strcmp(first[j].s, o->label_name) != 0)
                continue;
            if (found != nc)
                return fail_at(c, QR_ERR_CONFIG, line, j + 1,
                               "column name \"%.*s%s\" also names column %zu",
                               CSV_ECHO_ARGS(o->label_name), found + 1);
            found = j;
        }
        if (found == nc)
            return fail_at(c, QR_ERR_CONFIG, line, 1, "no column named \"%.*s%s\" in the header",
                           CSV_ECHO_ARGS(o->label_name));
        c->li = found;
        return QR_OK;
    }
    long i = o->label_index;
    /* -(i + 1) cannot overflow, even for LONG_MIN. */
    if (i < 0 ? (unsigned long)(-(i + 1)) >= nc : (unsigned long)i >= nc)
        return fail_at(c, QR_ERR_CONFIG, line, 1,
                       "label column index %ld is out of range for %zu columns", i, nc);
    c->li = i < 0 ? nc - (size_t)(-(i + 1)) - 1 : (size_t)i;
    return QR_OK;
}

static qr_status load(csv_load *c, size_t *t_out, size_t *f_out)
{
    const qr_csv_options *o = c->o;
    qr_status st = check_options(o, c->delim, c->err);
    if (st == QR_OK)
        st = prepare_given(c);
    if (st == QR_OK)
        st = read_file(c);
    if (st == QR_OK)
        st = check_no_nul(c);
    if (st != QR_OK)
        return st;
    if (c->len >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0)
        c->pos = 3;

    int r = next_row(c);
    if (r < 0)
        return (qr_status)r;
    if (r == 0)
        return fail_at(c, QR_ERR_FORMAT, 1, 1, "empty file");
    /* The first row's cells live in the buffer; only the pointer array is reused. */
    size_t first_line = c->line;
    c->ncols = c->ncells;
    csv_cell *first = malloc(c->ncols * sizeof *first);
    if (!first)
        return qr_error_set(c->err, QR_ERR_NOMEM, "%s: out of memory", c->path);
    memcpy(first, c->cells, c->ncols * sizeof *first);

    if (c->ncols < 2) {
        st = fail_at(c, QR_ERR_FORMAT, first_line, 1,
                     "need at least 2 columns (features and a label), found 1");
        goto out;
    }
    if ((st = resolve_label(c, first, first_line)) != QR_OK)
        goto out;
    c->nfeat = c->ncols - 1;
    size_t t = o->t, f = o->f;
    if (t == 0) {
        t = 1;
        f = c->nfeat;
    } else if (t > c->nfeat / f || t * f != c->nfeat) {
        st = fail_at(c, QR_ERR_CONFIG, first_line, 1,
                     "sequence shape t=%zu f=%zu does not match the %zu feature columns", t, f,
                     c->nfeat);
        goto out;
    }

    int header = o->label_name ? 1 : o->header;
    int pending = 0;  /* a second row already read (and split) by the detection */
    if (header < 0) {
        header = 0;
        for (size_t j = 0; j < c->ncols; j++)
            if (j != c->li && !looks_numeric(&first[j]))
                header = 1;
        if (!header && !looks_numeric(&first[c->li])) {
            r = next_row(c);
            if (r < 0) {
                st = (qr_status)r;
                goto out;
            }
            pending = r;
            if (pending && c->ncells > c->li && looks_numeric(&c->cells[c->li]))
                header = 1;
        }
    }

    if (!header && (st = add_row(c, first, c->ncols, first_line)) != QR_OK)
        goto out;
    if (pending && (st = add_row(c, c->cells, c->ncells, c->line)) != QR_OK)
        goto out;
    while ((r = next_row(c)) == 1)
        if ((st = add_row(c, c->cells, c->ncells, c->line)) != QR_OK)
            goto out;
    if (r < 0) {
        st = (qr_status)r;
        goto out;
    }
    if (c->n == 0)
        st = fail_at(c, QR_ERR_FORMAT, first_line + 1, 1, "no data rows after the header");
    *t_out = t;
    *f_out = f;
out:
    free(first);
    return st;
}

QR_API qr_status qr_csv_load(const qr_csv_options *o, qr_dataset *out, qr_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!o || !o->path || !out)
        return qr_error_set(err, QR_ERR_ARG, "qr_csv_load: NULL options, path or output");
    csv_load c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.err = err;
    c.path = o->path;
    c.delim = o->delimiter ? o->delimiter : ',';

    size_t t = 0, f = 0, k = 0;
    char **names = NULL;
    qr_status st = load(&c, &t, &f);
    if (st == QR_OK) {
        if (c.given) {
            k = o->n_classes;
            names = calloc(k, sizeof *names);
            for (size_t j = 0; names && j < k; j++)
                if (!(names[j] = dup_str(o->classes[j])))
                    st = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", c.path);
            if (!names)
                st = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", c.path);
        } else {
            st = build_classes(&c, &names, &k);
        }
    }
    free(c.buf);
    free(c.cells);
    free(c.labels);
    free(c.given);
    if (st != QR_OK) {
        free_names(names, k);
        free(c.x);
        free(c.y);
        return st;
    }
    out->n = c.n;
    out->t = t;
    out->f = f;
    out->x = c.x;
    out->y = c.y;
    out->n_classes = k;
    out->class_names = names;
    return QR_OK;
}

QR_API qr_status qr_csv_load_with_classes(const qr_csv_options *o, const qr_dataset *ref,
                                          qr_dataset *out, qr_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!o || !ref || !ref->class_names)
        return qr_error_set(err, QR_ERR_ARG, "qr_csv_load_with_classes: NULL options or classes");
    qr_csv_options oc = *o;
    /* char ** to const char *const * is safe but needs the cast in C. */
    oc.classes = (const char *const *)ref->class_names;
    oc.n_classes = ref->n_classes;
    return qr_csv_load(&oc, out, err);
}
