/* A minimal SVG writer for qreg's plots (histograms, and later sweep reports). Coordinates
 * are in pixels, origin top-left. Text is XML-escaped. Output is built in memory and written
 * atomically. */
#ifndef QREG_SVG_H
#define QREG_SVG_H

#include "lib/fileio.h"

typedef struct qr_svg {
    qr_buf buf;
    double width, height;
} qr_svg;

void qr_svg_begin(qr_svg *s, double width, double height);
void qr_svg_rect(qr_svg *s, double x, double y, double w, double h, const char *fill,
                 double opacity);
void qr_svg_line(qr_svg *s, double x1, double y1, double x2, double y2, const char *stroke,
                 double width, int dashed);
void qr_svg_polyline(qr_svg *s, const double *xs, const double *ys, size_t n, const char *stroke,
                     double width);
/* anchor: "start", "middle" or "end". */
void qr_svg_text(qr_svg *s, double x, double y, double size, const char *anchor,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
/* Raw SVG markup (printf-style, not escaped) and escaped text, for elements not covered here. */
#define qr_svg_raw(s, ...) qr_buf_printf(&(s)->buf, __VA_ARGS__)
void qr_svg_escaped(qr_svg *s, const char *text);
/* Close the document, write it to `path` atomically, free the buffer. */
qr_status qr_svg_save(qr_svg *s, const char *path, qr_error *err);
void qr_svg_free(qr_svg *s);

#endif
