/* A minimal SVG writer for qreg's plots (histograms, sweep reports), and a small plotting
 * kit on top of it (axes with nice ticks, legends, a palette, a colour map). Coordinates are in
 * pixels, origin top-left. Text is XML-escaped. Output is built in memory and written
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

/* ---- a small plotting kit ---------------------------------------------------------------- */

/* Tableau 10 without its red, which marks a baseline. */
#define QR_SVG_N_PALETTE 10
extern const char *const qr_svg_palette[QR_SVG_N_PALETTE];

/* Display width of UTF-8 text in columns (± and Δ are one column each), and an estimate of
 * its width in pixels at font size `size`. */
size_t qr_text_width(const char *s);
double qr_svg_text_px(const char *t, double size);
/* Text with extra attributes: rotated by `rotate` degrees about (x, y) and `attrs` (raw
 * markup such as weight or colour, may be NULL). */
void qr_svg_text_ex(qr_svg *s, double x, double y, double size, const char *anchor,
                    double rotate, const char *attrs, const char *text);
/* A circle (stroke NULL: none) and a rectangle with a 1-pixel outline. */
void qr_svg_circle(qr_svg *s, double x, double y, double r, const char *fill,
                   const char *stroke, double opacity);
void qr_svg_box(qr_svg *s, double x, double y, double w, double h, const char *fill,
                double opacity, const char *stroke);

/* "Nice" ticks covering [lo, hi]: about `want` of them at 1, 2, 2.5 or 5 × 10^k, at most
 * `max`; *step is their distance. A tick's label with as many decimals as the step needs. */
size_t qr_svg_nice_ticks(double lo, double hi, int want, double *ticks, size_t max,
                         double *step);
void qr_svg_fmt_tick(char *buf, size_t n, double v, double step);

/* A plot area in pixels and the data range it shows. */
typedef struct qr_svg_frame {
    double x0, y0, w, h;       /* plot area */
    double xlo, xhi, ylo, yhi; /* data range */
} qr_svg_frame;

static inline double qr_svg_fx(const qr_svg_frame *f, double x)
{
    return f->x0 + (x - f->xlo) / (f->xhi - f->xlo) * f->w;
}
static inline double qr_svg_fy(const qr_svg_frame *f, double y)
{
    return f->y0 + f->h - (y - f->ylo) / (f->yhi - f->ylo) * f->h;
}
/* Grid, ticks and labels of a numeric y axis (and of the x axis when x_numeric), the frame
 * and the axis labels (either may be NULL); the ranges of `f` are widened to whole ticks. */
void qr_svg_axes(qr_svg *s, qr_svg_frame *f, int x_numeric, const char *xlabel,
                 const char *ylabel);
/* A bold title at (x, 26): "PREFIX: WHAT", or WHAT when prefix is NULL. */
void qr_svg_title(qr_svg *s, const char *prefix, double x, const char *what);
/* How far right text at font size `size` from x on reaches, and that title, with a margin:
 * the width a drawing needs not to clip them (from qr_svg_text_px, an upper estimate). */
double qr_svg_text_right(double x, const char *text, double size);
double qr_svg_title_right(const char *prefix, double x, const char *what);

/* A legend box at (x, y), with an optional bold head, one entry a line. */
typedef struct qr_svg_legend_entry {
    const char *text;
    const char *color;
    int kind; /* marker: 0 dot, 1 ring, 2 dashed line, 3 square */
} qr_svg_legend_entry;
void qr_svg_legend(qr_svg *s, double x, double y, const char *head,
                   const qr_svg_legend_entry *e, size_t n);

/* The viridis colour map at t in [0, 1] (NaN: 0) as "#rrggbb". */
void qr_svg_viridis(double t, char *out, size_t n);

#endif
