/* qreg report's plot of accuracy vs bytes, the Pareto front numbered and listed beside it. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "svg.h"

static int cmp_group_bytes(const void *a, const void *b)
{
    const qr_report_group *x = *(const qr_report_group *const *)a;
    const qr_report_group *y = *(const qr_report_group *const *)b;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes ? 1 : (x->mean > y->mean ? -1 : 1);
}

qr_status qr_report_plot_pareto(const qr_report *rp, const char *path, int *wrote,
                                qr_error *err)
{
    *wrote = 0;
    size_t n = 0;
    for (size_t k = 0; k < rp->n_groups; k++)
        n += !isnan(rp->groups[k].bytes) && !isnan(rp->groups[k].mean);
    if (n == 0)
        return QR_OK;
    /* colour by the first varying setting with at most QR_SVG_N_PALETTE values */
    long ccol = -1;
    const char *vals[QR_SVG_N_PALETTE];
    size_t nvals = 0;
    for (size_t i = 0; i < rp->n_gcols && ccol < 0; i++) {
        if (!rp->varies[i])
            continue;
        nvals = 0;
        int fits = 1;
        for (size_t k = 0; k < rp->n_groups && fits; k++) {
            if ((long)k == rp->baseline)
                continue;
            const char *lab = rp->res.rows[rp->groups[k].first].labels[rp->gcols[i]];
            size_t j = 0;
            while (j < nvals && strcmp(vals[j], lab) != 0)
                j++;
            if (j == nvals) {
                if (nvals == QR_SVG_N_PALETTE)
                    fits = 0;
                else
                    vals[nvals++] = lab;
            }
        }
        if (fits && nvals > 1)
            ccol = (long)rp->gcols[i];
    }
    if (ccol < 0)
        nvals = 0;
    /* the front, by size */
    qr_report_group **front = calloc(n, sizeof *front);
    if (!front)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    size_t nf = 0;
    for (size_t k = 0; k < rp->n_groups; k++)
        if (rp->groups[k].pareto)
            front[nf++] = &rp->groups[k];
    qsort(front, nf, sizeof *front, cmp_group_bytes);
    size_t n_listed = nf < 14 ? nf : 14;
    static const char caption[] = "dots: mean over the repetitions, bars: ± 1 std (clipped to "
                                  "the plot); numbered rings: the Pareto front";
    char title[256];
    snprintf(title, sizeof title, "Accuracy vs size: %zu configurations, Pareto front", n);
    double W = 1000, H = fmax(560, 260 + 28.0 * (double)n_listed + 60);
    qr_svg_frame f = {78, 56, 560, H - 56 - 66, INFINITY, -INFINITY, INFINITY, -INFINITY};
    /* wide enough for the title and the caption (the front's list takes what is left) */
    W = fmax(W, fmax(qr_svg_title_right(rp->title, f.x0, title),
                     qr_svg_text_right(f.x0, caption, 11)));
    for (size_t k = 0; k < rp->n_groups; k++) {
        const qr_report_group *g = &rp->groups[k];
        if (isnan(g->bytes) || isnan(g->mean))
            continue;
        f.xlo = fmin(f.xlo, g->bytes);
        f.xhi = fmax(f.xhi, g->bytes);
        f.ylo = fmin(f.ylo, 100 * g->mean);
        f.yhi = fmax(f.yhi, 100 * g->mean);
    }
    /* the range follows the means (error bars are clipped to it) */
    double xpad = (f.xhi - f.xlo) * 0.06, ypad = (f.yhi - f.ylo) * 0.08 + 0.5;
    if (xpad <= 0)
        xpad = fmax(1, 0.1 * f.xlo);
    f.xlo = fmax(0, f.xlo - xpad);
    f.xhi += xpad;
    f.ylo = fmax(0, f.ylo - ypad);
    f.yhi = fmin(100, f.yhi + ypad);
    qr_svg s;
    qr_svg_begin(&s, W, H);
    char ylab[96];
    snprintf(ylab, sizeof ylab, "%s (%%)", qr_report_metric_name(rp));
    ylab[0] = (char)toupper((unsigned char)ylab[0]);
    qr_svg_axes(&s, &f, 1, "model size (bytes; N bits per weight, 32 per bias)", ylab);
    qr_svg_title(&s, rp->title, f.x0, title);
    qr_svg_text_ex(&s, f.x0, 44, 11, "start", 0, "fill=\"#555\"", caption);
    qr_svg_raw(&s, "<clipPath id=\"plot\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
                "height=\"%.2f\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n", f.x0, f.y0, f.w,
            f.h);
    if (rp->baseline >= 0 && !isnan(rp->groups[rp->baseline].mean)) {
        double y = qr_svg_fy(&f, 100 * rp->groups[rp->baseline].mean);
        qr_svg_line(&s, f.x0, y, f.x0 + f.w, y, "#d62728", 1.2, 1);
    }
    for (size_t k = 0; k < rp->n_groups; k++) {
        const qr_report_group *g = &rp->groups[k];
        if (isnan(g->bytes) || isnan(g->mean) || isnan(g->std))
            continue;
        double x = qr_svg_fx(&f, g->bytes);
        qr_svg_line(&s, x, qr_svg_fy(&f, 100 * (g->mean - g->std)), x,
                    qr_svg_fy(&f, 100 * (g->mean + g->std)), "#aaa", 1, 0);
    }
    if (nf > 1) {
        double *xs = calloc(2 * nf, sizeof *xs), *ys = calloc(2 * nf, sizeof *ys);
        size_t m = 0;
        for (size_t i = 0; xs && ys && i < nf; i++) {
            double x = qr_svg_fx(&f, front[i]->bytes), y = qr_svg_fy(&f, 100 * front[i]->mean);
            if (i) { /* a staircase: what the front guarantees between its points */
                xs[m] = x;
                ys[m] = ys[m - 1];
                m++;
            }
            xs[m] = x;
            ys[m++] = y;
        }
        if (xs && ys)
            qr_svg_polyline(&s, xs, ys, m, "#222", 1.6);
        free(xs);
        free(ys);
    }
    for (size_t k = 0; k < rp->n_groups; k++) {
        const qr_report_group *g = &rp->groups[k];
        if (isnan(g->bytes) || isnan(g->mean))
            continue;
        double x = qr_svg_fx(&f, g->bytes), y = qr_svg_fy(&f, 100 * g->mean);
        if ((long)k == rp->baseline) {
            qr_svg_box(&s, x - 5, y - 5, 10, 10, "#d62728", 0.9, "#222");
            continue;
        }
        const char *color = qr_svg_palette[0];
        if (ccol >= 0) {
            const char *lab = rp->res.rows[g->first].labels[ccol];
            for (size_t j = 0; j < nvals; j++)
                if (strcmp(vals[j], lab) == 0)
                    color = qr_svg_palette[j];
        }
        qr_svg_circle(&s, x, y, 5, color, NULL, 0.85);
    }
    for (size_t i = 0; i < nf; i++) {
        double x = qr_svg_fx(&f, front[i]->bytes), y = qr_svg_fy(&f, 100 * front[i]->mean);
        qr_svg_circle(&s, x, y, 8, "none", "#222", 0);
        if (i < n_listed) {
            char num[16];
            snprintf(num, sizeof num, "%zu", i + 1);
            /* numbers of points at the same place fan out */
            size_t same = 0;
            for (size_t j = 0; j < i; j++)
                same += fabs(qr_svg_fx(&f, front[j]->bytes) - x) < 12 &&
                        fabs(qr_svg_fy(&f, 100 * front[j]->mean) - y) < 12;
            qr_svg_text_ex(&s, x + 10 + 9 * (double)same, y - 8, 11, "start", 0,
                           "font-weight=\"bold\" fill=\"#222\"", num);
        }
    }
    qr_svg_raw(&s, "</g>\n");
    /* legend, then the front's settings */
    qr_svg_legend_entry e[QR_SVG_N_PALETTE + 3];
    size_t ne = 0;
    char head[128] = "";
    if (ccol >= 0) {
        snprintf(head, sizeof head, "%s", rp->short_names[ccol]);
        for (size_t j = 0; j < nvals; j++)
            e[ne++] = (qr_svg_legend_entry){vals[j][0] ? vals[j] : "-", qr_svg_palette[j], 0};
    } else {
        e[ne++] = (qr_svg_legend_entry){"configuration", qr_svg_palette[0], 0};
    }
    e[ne++] = (qr_svg_legend_entry){"Pareto front", "#222", 1};
    char base[160];
    if (rp->baseline >= 0) {
        snprintf(base, sizeof base, "baseline %.2f%%", 100 * rp->groups[rp->baseline].mean);
        e[ne++] = (qr_svg_legend_entry){base, "#d62728", 3};
    }
    double lx = f.x0 + f.w + 18;
    qr_svg_legend(&s, lx, f.y0, head[0] ? head : NULL, e, ne);
    double ly = f.y0 + 10 + (head[0] ? 18 : 0) + 17 * (double)ne + 30;
    qr_svg_text_ex(&s, lx, ly, 12, "start", 0, "font-weight=\"bold\"", "Pareto front");
    ly += 17;
    int fit = (int)((W - (lx + 96) - 8) / (0.58 * 10)); /* characters of settings that fit */
    for (size_t i = 0; i < n_listed; i++, ly += 15) {
        char lab[256], cell[300];
        qr_report_group_label(rp, front[i], lab, sizeof lab, " ");
        snprintf(cell, sizeof cell, "%zu", i + 1);
        qr_svg_text_ex(&s, lx + 8, ly, 10, "end", 0, "font-weight=\"bold\"", cell);
        snprintf(cell, sizeof cell, "%.1f%%", 100 * front[i]->mean);
        qr_svg_text_ex(&s, lx + 50, ly, 10, "end", 0, NULL, cell);
        snprintf(cell, sizeof cell, "%.0f B", front[i]->bytes);
        qr_svg_text_ex(&s, lx + 90, ly, 10, "end", 0, NULL, cell);
        /* the settings on up to two lines, broken at a space */
        const char *rest = lab;
        for (int line = 0; line < 2 && *rest; line++) {
            int take = (int)strlen(rest);
            if (take > fit) {
                take = fit;
                while (take > 0 && rest[take] != ' ')
                    take--;
                if (take == 0 || line == 1)
                    take = fit;
            }
            int more = line == 1 && (int)strlen(rest) > take;
            snprintf(cell, sizeof cell, "%.*s%s", take, rest, more ? "…" : "");
            qr_svg_text_ex(&s, lx + 98, ly, 10, "start", 0, NULL, cell);
            rest += take;
            while (*rest == ' ')
                rest++;
            if (*rest && line == 0)
                ly += 13;
        }
    }
    if (nf > n_listed) {
        char more[64];
        snprintf(more, sizeof more, "… and %zu more (summary.csv, column pareto)", nf - n_listed);
        qr_svg_text_ex(&s, lx, ly, 10, "start", 0, "fill=\"#555\"", more);
    }
    free(front);
    qr_status st = qr_svg_save(&s, path, err);
    *wrote = st == QR_OK;
    return st;
}
