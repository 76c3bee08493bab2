/* qreg plot --curves: learning curves from a training run's per-epoch log (output.log as CSV
 * or output.log_jsonl): loss and accuracy panels with the training, validation and
 * fake-quantized validation series, the learning rate when the log has it, and the
 * boundaries between stages. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "svg.h"

enum { C_EPOCH, C_STAGE, C_LR, C_LOSS, C_ACC, C_VLOSS, C_VACC, C_FQ, C_N };
static const char *const col_names[C_N] = {"epoch", "stage", "lr", "loss", "accuracy",
                                           "val_loss", "val_accuracy", "fq_val_accuracy"};

typedef struct curves {
    double *v[C_N]; /* n values per column, NAN where absent */
    size_t n, cap;
    int has[C_N];
} curves;

static int curves_push(curves *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        for (int k = 0; k < C_N; k++) {
            double *p = realloc(c->v[k], cap * sizeof *p);
            if (!p)
                return 0;
            c->v[k] = p;
        }
        c->cap = cap;
    }
    for (int k = 0; k < C_N; k++)
        c->v[k][c->n] = NAN;
    c->n++;
    return 1;
}

static void curves_free(curves *c)
{
    for (int k = 0; k < C_N; k++)
        free(c->v[k]);
}

static int col_of(const char *name)
{
    for (int k = 0; k < C_N; k++)
        if (strcmp(col_names[k], name) == 0)
            return k;
    return -1;
}

/* "nan" and empty cells are NAN; anything else must be a number */
static int cell_number(const char *s, double *out)
{
    while (*s == ' ')
        s++;
    if (!*s || strcmp(s, "nan") == 0 || strcmp(s, "-nan") == 0) {
        *out = NAN;
        return 1;
    }
    char *end;
    *out = strtod(s, &end);
    while (*end == ' ' || *end == '\r')
        end++;
    return *end == '\0';
}

static int read_csv(const char *path, char *text, curves *c)
{
    int map[64];
    size_t ncol = 0, line_no = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        line_no++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        if (line_no == 1) {
            for (char *p = line; p && ncol < 64;) {
                char *comma = strchr(p, ',');
                if (comma)
                    *comma = '\0';
                int k = col_of(p);
                map[ncol++] = k;
                if (k >= 0)
                    c->has[k] = 1;
                p = comma ? comma + 1 : NULL;
            }
            if (!c->has[C_EPOCH] || !c->has[C_LOSS]) {
                fprintf(stderr, "qreg plot: %s: not a training log (a header with 'epoch' and "
                        "'loss' columns: output.log)\n", path);
                return 0;
            }
            continue;
        }
        if (!curves_push(c)) {
            fprintf(stderr, "qreg plot: out of memory\n");
            return 0;
        }
        size_t i = 0;
        for (char *p = line; p; i++) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = '\0';
            double v;
            if (i >= ncol || !cell_number(p, &v)) {
                fprintf(stderr, "qreg plot: %s:%zu: column %zu: '%s' is not a number\n", path,
                        line_no, i + 1, p);
                return 0;
            }
            if (map[i] >= 0)
                c->v[map[i]][c->n - 1] = v;
            p = comma ? comma + 1 : NULL;
        }
    }
    return 1;
}

static int read_jsonl(const char *path, char *text, curves *c)
{
    size_t line_no = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        line_no++;
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            fprintf(stderr, "qreg plot: %s:%zu: not a JSON object\n", path, line_no);
            return 0;
        }
        if (!curves_push(c)) {
            cJSON_Delete(o);
            fprintf(stderr, "qreg plot: out of memory\n");
            return 0;
        }
        for (int k = 0; k < C_N; k++) {
            const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, col_names[k]);
            if (cJSON_IsNumber(it)) {
                c->v[k][c->n - 1] = it->valuedouble;
                c->has[k] = 1;
            } else if (it && !cJSON_IsNull(it)) {
                cJSON_Delete(o);
                fprintf(stderr, "qreg plot: %s:%zu: '%s' is not a number\n", path, line_no,
                        col_names[k]);
                return 0;
            }
        }
        cJSON_Delete(o);
        if (isnan(c->v[C_EPOCH][c->n - 1]) || !c->has[C_LOSS]) {
            fprintf(stderr, "qreg plot: %s:%zu: no 'epoch' or 'loss' (not output.log_jsonl?)\n",
                    path, line_no);
            return 0;
        }
    }
    return 1;
}

/* A series as polylines over its finite stretches, with dots when there are few epochs. */
static void series(qr_svg *s, const qr_svg_frame *f, const curves *c, int col, const char *color,
                   double *xs, double *ys)
{
    size_t k = 0;
    for (size_t i = 0; i <= c->n; i++) {
        double v = i < c->n ? c->v[col][i] : NAN;
        if (isfinite(v)) {
            xs[k] = qr_svg_fx(f, c->v[C_EPOCH][i]);
            ys[k++] = qr_svg_fy(f, v);
            if (c->n <= 40)
                qr_svg_circle(s, xs[k - 1], ys[k - 1], 2.5, color, NULL, 0.9);
            continue;
        }
        if (k > 1)
            qr_svg_polyline(s, xs, ys, k, color, 1.8);
        k = 0;
    }
}

/* A panel of `cols` (their finite values set the y range, `lo0`/`hi0` clamp it if not NAN). */
static void panel(qr_svg *s, double x0, double y0, double w, double h, const curves *c,
                  const int *cols, const char *const *colors, size_t ncols, const char *ylabel,
                  double lo0, double hi0, double *xs, double *ys)
{
    qr_svg_frame f = {x0, y0, w, h, c->v[C_EPOCH][0], c->v[C_EPOCH][0], INFINITY, -INFINITY};
    for (size_t i = 0; i < c->n; i++) {
        f.xlo = fmin(f.xlo, c->v[C_EPOCH][i]);
        f.xhi = fmax(f.xhi, c->v[C_EPOCH][i]);
        for (size_t j = 0; j < ncols; j++)
            if (isfinite(c->v[cols[j]][i])) {
                f.ylo = fmin(f.ylo, c->v[cols[j]][i]);
                f.yhi = fmax(f.yhi, c->v[cols[j]][i]);
            }
    }
    if (!isfinite(f.ylo)) {
        f.ylo = 0;
        f.yhi = 1;
    }
    if (!isnan(lo0))
        f.ylo = fmax(f.ylo, lo0);
    if (!isnan(hi0))
        f.yhi = fmin(f.yhi, hi0);
    if (f.yhi - f.ylo < 1e-9) {
        double m = fmax(fabs(f.yhi) * 0.05, 1e-6);
        f.ylo -= m;
        f.yhi += m;
    }
    if (f.xhi <= f.xlo)
        f.xhi = f.xlo + 1;
    qr_svg_axes(s, &f, 1, "epoch", ylabel);
    /* stage boundaries: a dashed line before the first epoch of every later stage */
    for (size_t i = 1; c->has[C_STAGE] && i < c->n; i++)
        if (c->v[C_STAGE][i] != c->v[C_STAGE][i - 1]) {
            double x = qr_svg_fx(&f, (c->v[C_EPOCH][i - 1] + c->v[C_EPOCH][i]) / 2);
            qr_svg_line(s, x, f.y0, x, f.y0 + f.h, "#888", 1.2, 1);
            qr_svg_text(s, x + 4, f.y0 + 14, 10, "start", "stage %.0f", c->v[C_STAGE][i]);
        }
    for (size_t j = 0; j < ncols; j++)
        series(s, &f, c, cols[j], colors[j], xs, ys);
}

int qr_plot_curves(const char *path, const char *out)
{
    unsigned char *data = NULL;
    size_t len = 0;
    qr_error err = {{0}};
    if (qr_file_read_all(path, (size_t)1 << 30, &data, &len, &err) != QR_OK) {
        fprintf(stderr, "qreg plot: %s\n", err.msg);
        return 1;
    }
    char *text = malloc(len + 1);
    if (!text) {
        free(data);
        fprintf(stderr, "qreg plot: out of memory\n");
        return 1;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    free(data);
    curves c = {0};
    const char *p = text;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    int ok = *p == '{' ? read_jsonl(path, text, &c) : read_csv(path, text, &c);
    free(text);
    int rc = 1;
    double *xs = NULL, *ys = NULL;
    if (ok && c.n == 0) {
        fprintf(stderr, "qreg plot: %s: no epochs in the log\n", path);
        ok = 0;
    }
    if (ok && (!(xs = malloc((c.n + 1) * sizeof *xs)) || !(ys = malloc((c.n + 1) * sizeof *ys)))) {
        fprintf(stderr, "qreg plot: out of memory\n");
        ok = 0;
    }
    if (!ok)
        goto done;
    int fq = 0, lr = c.has[C_LR];
    for (size_t i = 0; i < c.n; i++)
        fq |= isfinite(c.v[C_FQ][i]);
    const double pw = 430, ph = 300, ml = 78, top = 70, gap = 96;
    size_t npanels = lr ? 3 : 2;
    double width = ml + (pw + gap) * (double)npanels - gap + 200, height = top + ph + 64;
    char def[1024];
    if (!out) {
        const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
        size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
        snprintf(def, sizeof def, "%.*s-curves.svg", (int)(stem < 1000 ? stem : 1000), path);
        out = def;
    }
    const char *title = "learning curves";
    width = fmax(width, qr_svg_title_right(NULL, ml, title));
    qr_svg svg;
    qr_svg_begin(&svg, width, height);
    qr_svg_title(&svg, NULL, ml, title);
    qr_svg_text(&svg, ml, 46, 11, "start", "%s: %zu epochs%s", path, c.n,
                c.has[C_STAGE] && c.v[C_STAGE][c.n - 1] > 1 ? ", dashed: a new stage" : "");
    static const char *const colors[3] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
    int lcols[2] = {C_LOSS, C_VLOSS}, acols[3] = {C_ACC, C_VACC, C_FQ};
    panel(&svg, ml, top, pw, ph, &c, lcols, colors, 2, "loss (cross-entropy)", 0, NAN, xs, ys);
    panel(&svg, ml + pw + gap, top, pw, ph, &c, acols, colors, fq ? 3 : 2, "accuracy", 0, 1, xs,
          ys);
    if (lr) {
        static const char *const lcolor[1] = {"#7f7f7f"};
        int lrc[1] = {C_LR};
        panel(&svg, ml + 2 * (pw + gap), top, pw, ph, &c, lrc, lcolor, 1, "learning rate", 0,
              NAN, xs, ys);
    }
    qr_svg_legend_entry e[4] = {{"training", colors[0], 0}, {"validation (float)", colors[1], 0},
                                {"validation, fake-quantized", colors[2], 0},
                                {"learning rate", "#7f7f7f", 0}};
    size_t ne = fq ? 3 : 2;
    if (lr)
        e[ne++] = e[3];
    qr_svg_legend(&svg, ml + (pw + gap) * (double)npanels - gap + 16, top, NULL, e, ne);
    if (qr_svg_save(&svg, out, &err) != QR_OK) {
        fprintf(stderr, "qreg plot: %s\n", err.msg);
        goto done;
    }
    printf("wrote %s (%zu epochs: loss, accuracy%s%s)\n", out, c.n,
           fq ? " with fake-quantized validation" : "", lr ? ", learning rate" : "");
    rc = 0;
done:
    free(xs);
    free(ys);
    curves_free(&c);
    return rc;
}
