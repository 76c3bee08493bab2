/* The minimal SVG writer and the plotting kit of qreg report's plots; see svg.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "svg.h"

void qr_svg_escaped(qr_svg *s, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&': qr_buf_put(&s->buf, "&amp;", 5); break;
        case '<': qr_buf_put(&s->buf, "&lt;", 4); break;
        case '>': qr_buf_put(&s->buf, "&gt;", 4); break;
        case '"': qr_buf_put(&s->buf, "&quot;", 6); break;
        default: qr_buf_put(&s->buf, p, 1);
        }
    }
}

void qr_svg_begin(qr_svg *s, double width, double height)
{
    memset(s, 0, sizeof *s);
    s->width = width;
    s->height = height;
    qr_svg_raw(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
           "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
           "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n",
        width, height, width, height, width, height);
}

void qr_svg_rect(qr_svg *s, double x, double y, double w, double h, const char *fill,
                 double opacity)
{
    qr_svg_raw(s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
           "fill-opacity=\"%.2f\"/>\n", x, y, w, h, fill, opacity);
}

void qr_svg_line(qr_svg *s, double x1, double y1, double x2, double y2, const char *stroke,
                 double width, int dashed)
{
    qr_svg_raw(s, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
           "stroke-width=\"%.2f\"%s/>\n", x1, y1, x2, y2, stroke, width,
        dashed ? " stroke-dasharray=\"4 3\"" : "");
}

void qr_svg_polyline(qr_svg *s, const double *xs, const double *ys, size_t n, const char *stroke,
                     double width)
{
    qr_svg_raw(s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" points=\"", stroke, width);
    for (size_t i = 0; i < n; i++)
        qr_svg_raw(s, "%s%.2f,%.2f", i ? " " : "", xs[i], ys[i]);
    qr_svg_raw(s, "\"/>\n");
}

void qr_svg_text(qr_svg *s, double x, double y, double size, const char *anchor,
                 const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    qr_svg_raw(s, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.1f\" text-anchor=\"%s\">", x, y, size,
        anchor);
    qr_svg_escaped(s, tmp);
    qr_svg_raw(s, "</text>\n");
}

qr_status qr_svg_save(qr_svg *s, const char *path, qr_error *err)
{
    qr_svg_raw(s, "</svg>\n");
    qr_status st = s->buf.nomem ? qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path)
                                : qr_file_write_atomic(path, s->buf.data, s->buf.len, err);
    qr_svg_free(s);
    return st;
}

void qr_svg_free(qr_svg *s)
{
    qr_buf_free(&s->buf);
}

/* ---- the plotting kit (qreg report's plots) ----------------------------------------------- */

const char *const qr_svg_palette[QR_SVG_N_PALETTE] = {
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
    "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#17becf"};

size_t qr_text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

void qr_svg_text_ex(qr_svg *s, double x, double y, double size, const char *anchor,
                    double rotate, const char *attrs, const char *text)
{
    qr_svg_raw(s, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.1f\" text-anchor=\"%s\"", x, y, size,
            anchor);
    if (rotate != 0)
        qr_svg_raw(s, " transform=\"rotate(%.1f %.2f %.2f)\"", rotate, x, y);
    qr_svg_raw(s, " %s>", attrs ? attrs : "");
    qr_svg_escaped(s, text);
    qr_svg_raw(s, "</text>\n");
}

void qr_svg_circle(qr_svg *s, double x, double y, double r, const char *fill,
                   const char *stroke, double opacity)
{
    qr_svg_raw(s, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\" fill-opacity=\"%.2f\"", x,
            y, r, fill, opacity);
    if (stroke)
        qr_svg_raw(s, " stroke=\"%s\" stroke-width=\"1.5\"", stroke);
    qr_svg_raw(s, "/>\n");
}

void qr_svg_box(qr_svg *s, double x, double y, double w, double h, const char *fill,
                double opacity, const char *stroke)
{
    qr_svg_raw(s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
               "fill-opacity=\"%.2f\" stroke=\"%s\" stroke-width=\"1\"/>\n", x, y, w, h, fill,
            opacity, stroke);
}

double qr_svg_text_px(const char *t, double size)
{
    return 0.58 * size * (double)qr_text_width(t);
}

size_t qr_svg_nice_ticks(double lo, double hi, int want, double *ticks, size_t max,
                         double *step)
{
    double range = hi - lo;
    if (!(range > 0))
        range = fabs(hi) > 0 ? fabs(hi) : 1;
    double raw = range / want, mag = pow(10, floor(log10(raw)));
    double st = mag;
    static const double mult[] = {1, 2, 2.5, 5, 10};
    for (size_t i = 0; i < 5; i++)
        if (mag * mult[i] >= raw) {
            st = mag * mult[i];
            break;
        }
    size_t n = 0;
    for (double t = ceil(lo / st - 1e-9) * st; t <= hi + 1e-9 * st && n < max; t += st)
        ticks[n++] = fabs(t) < 1e-12 * st ? 0 : t;
    *step = st;
    return n;
}

void qr_svg_fmt_tick(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (step < 1 && fabs(step * pow(10, dec) - round(step * pow(10, dec))) > 1e-6)
        dec++;
    snprintf(buf, n, "%.*f", dec > 6 ? 6 : dec, v);
}

void qr_svg_axes(qr_svg *s, qr_svg_frame *f, int x_numeric, const char *xlabel,
                 const char *ylabel)
{
    double t[32], st;
    size_t n = qr_svg_nice_ticks(f->ylo, f->yhi, 6, t, 32, &st);
    f->ylo = floor(f->ylo / st + 1e-9) * st;
    f->yhi = ceil(f->yhi / st - 1e-9) * st;
    n = qr_svg_nice_ticks(f->ylo, f->yhi, 6, t, 32, &st);
    for (size_t i = 0; i < n; i++) {
        double y = qr_svg_fy(f, t[i]);
        char lab[32];
        qr_svg_fmt_tick(lab, sizeof lab, t[i], st);
        qr_svg_line(s, f->x0, y, f->x0 + f->w, y, "#e4e4e4", 1, 0);
        qr_svg_line(s, f->x0 - 4, y, f->x0, y, "#444", 1, 0);
        qr_svg_text(s, f->x0 - 7, y + 4, 11, "end", "%s", lab);
    }
    if (x_numeric) {
        double tx[32], sx;
        qr_svg_nice_ticks(f->xlo, f->xhi, 7, tx, 32, &sx);
        f->xlo = floor(f->xlo / sx + 1e-9) * sx;
        f->xhi = ceil(f->xhi / sx - 1e-9) * sx;
        size_t m = qr_svg_nice_ticks(f->xlo, f->xhi, 7, tx, 32, &sx);
        for (size_t i = 0; i < m; i++) {
            double x = qr_svg_fx(f, tx[i]);
            char lab[32];
            qr_svg_fmt_tick(lab, sizeof lab, tx[i], sx);
            qr_svg_line(s, x, f->y0, x, f->y0 + f->h, "#e4e4e4", 1, 0);
            qr_svg_line(s, x, f->y0 + f->h, x, f->y0 + f->h + 4, "#444", 1, 0);
            qr_svg_text(s, x, f->y0 + f->h + 17, 11, "middle", "%s", lab);
        }
    }
    qr_svg_raw(s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
               "stroke=\"#444\" stroke-width=\"1\"/>\n", f->x0, f->y0, f->w, f->h);
    if (xlabel)
        qr_svg_text(s, f->x0 + f->w / 2, f->y0 + f->h + 38, 13, "middle", "%s", xlabel);
    if (ylabel)
        qr_svg_text_ex(s, f->x0 - 48, f->y0 + f->h / 2, 13, "middle", -90, NULL, ylabel);
}

static void title_text(char *t, size_t n, const char *prefix, const char *what)
{
    snprintf(t, n, "%s%s%s", prefix ? prefix : "", prefix ? ": " : "", what);
}

void qr_svg_title(qr_svg *s, const char *prefix, double x, const char *what)
{
    char t[512];
    title_text(t, sizeof t, prefix, what);
    qr_svg_text_ex(s, x, 26, 16, "start", 0, "font-weight=\"bold\"", t);
}

double qr_svg_text_right(double x, const char *text, double size)
{
    return x + qr_svg_text_px(text, size) + 10;
}

double qr_svg_title_right(const char *prefix, double x, const char *what)
{
    char t[512];
    title_text(t, sizeof t, prefix, what);
    return qr_svg_text_right(x, t, 16 * 1.1); /* bold: wider */
}

void qr_svg_legend(qr_svg *s, double x, double y, const char *head,
                   const qr_svg_legend_entry *e, size_t n)
{
    double w = head ? qr_svg_text_px(head, 12) : 0;
    for (size_t i = 0; i < n; i++)
        if (qr_svg_text_px(e[i].text, 11) + 24 > w)
            w = qr_svg_text_px(e[i].text, 11) + 24;
    double h = 10 + (head ? 18 : 0) + 17 * (double)n;
    qr_svg_box(s, x, y, w + 16, h, "white", 0.92, "#bbb");
    double yy = y + 8;
    if (head) {
        qr_svg_text_ex(s, x + 8, yy + 10, 12, "start", 0, "font-weight=\"bold\"", head);
        yy += 18;
    }
    for (size_t i = 0; i < n; i++, yy += 17) {
        double cy = yy + 6;
        if (e[i].kind == 0)
            qr_svg_circle(s, x + 15, cy, 5, e[i].color, NULL, 0.9);
        else if (e[i].kind == 1)
            qr_svg_circle(s, x + 15, cy, 7, "none", e[i].color, 0);
        else if (e[i].kind == 2)
            qr_svg_line(s, x + 6, cy, x + 24, cy, e[i].color, 1.5, 1);
        else
            qr_svg_box(s, x + 10, cy - 5, 10, 10, e[i].color, 0.9, "#222");
        qr_svg_text_ex(s, x + 30, cy + 4, 11, "start", 0, NULL, e[i].text);
    }
}

void qr_svg_viridis(double t, char *out, size_t n)
{
    static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140},
                                       {94, 201, 98}, {253, 231, 37}};
    if (isnan(t))
        t = 0;
    t = fmin(1, fmax(0, t)) * 4;
    int i = (int)t;
    if (i > 3)
        i = 3;
    double u = t - i;
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (int)lround(stops[i][k] * (1 - u) + stops[i + 1][k] * u);
    snprintf(out, n, "#%02x%02x%02x", c[0], c[1], c[2]);
}
