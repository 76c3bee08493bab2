/* The minimal SVG writer; see svg.h. */
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
