/* qreg report's heat map: the mean accuracy over two numeric settings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "svg.h"

static int cmp_num_str(const void *a, const void *b)
{
    double x = strtod(*(const char *const *)a, NULL), y = strtod(*(const char *const *)b, NULL);
    return x < y ? -1 : x > y;
}

qr_status qr_report_plot_heatmap(const qr_report *rp, size_t cx, size_t cy, const char *path,
                                 int *wrote, qr_error *err)
{
    *wrote = 0;
    const qr_sweep_results *res = &rp->res;
    size_t n = res->n_rows + 1, nx = 0, ny = 0;
    const char **xs = calloc(n, sizeof *xs), **ys = calloc(n, sizeof *ys);
    const qr_report_group *bg = rp->baseline >= 0 ? &rp->groups[rp->baseline] : NULL;
    qr_status st = QR_OK;
    double *sum = NULL, *cnt = NULL;
    if (!xs || !ys) {
        st = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < res->n_rows; i++) {
            const qr_sweep_row *r = &res->rows[i];
            if (!r->ok || qr_report_in_baseline(rp, i) || isnan(qr_report_test_metric(rp, r)))
                continue;
            const char *v = r->labels[pass ? cy : cx];
            const char **list = pass ? ys : xs;
            size_t *nl = pass ? &ny : &nx, j = 0;
            while (j < *nl && strcmp(list[j], v) != 0)
                j++;
            if (j == *nl)
                list[(*nl)++] = v;
        }
    if (!nx || !ny)
        goto out;
    qsort(xs, nx, sizeof *xs, cmp_num_str);
    qsort(ys, ny, sizeof *ys, cmp_num_str);
    sum = calloc(nx * ny, sizeof *sum);
    cnt = calloc(nx * ny, sizeof *cnt);
    if (!sum || !cnt) {
        st = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < res->n_rows; i++) {
        const qr_sweep_row *r = &res->rows[i];
        double v = qr_report_test_metric(rp, r);
        if (!r->ok || qr_report_in_baseline(rp, i) || isnan(v))
            continue;
        size_t a = 0, b = 0;
        while (strcmp(xs[a], r->labels[cx]) != 0)
            a++;
        while (strcmp(ys[b], r->labels[cy]) != 0)
            b++;
        sum[b * nx + a] += 100 * v;
        cnt[b * nx + a] += 1;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < nx * ny; k++)
        if (cnt[k]) {
            lo = fmin(lo, sum[k] / cnt[k]);
            hi = fmax(hi, sum[k] / cnt[k]);
        }
    if (hi - lo < 1e-9) {
        lo -= 0.5;
        hi += 0.5;
    }
    double cell = fmin(80, fmax(46, 520.0 / (double)(nx > ny ? nx : ny)));
    double x0 = 90, y0 = 74, W = x0 + cell * (double)nx + 150, H = y0 + cell * (double)ny + 70;
    if (W < 680)
        W = 680;
    /* what the cells pool: the other settings that vary among their runs */
    char sub[512], sub2[512] = "";
    size_t sl = (size_t)snprintf(sub, sizeof sub, "n: runs per cell");
    int first = 1;
    for (size_t c = 0; c < res->n_columns && sl < sizeof sub; c++) {
        if (c == cx || c == cy || qr_report_is_seed_column(res->columns[c]))
            continue;
        const char *seen = NULL;
        int varies = 0;
        for (size_t i = 0; i < res->n_rows && !varies; i++) {
            const qr_sweep_row *r = &res->rows[i];
            if (!r->ok || (bg && qr_report_same_group(rp, r, &res->rows[bg->first])))
                continue;
            if (!seen)
                seen = r->labels[c];
            else
                varies = strcmp(seen, r->labels[c]) != 0;
        }
        if (!varies)
            continue;
        sl += (size_t)snprintf(sub + sl, sizeof sub - sl, "%s%s", first ? "; pooled over " : ", ",
                               rp->short_names[c]);
        first = 0;
    }
    if (bg && !isnan(bg->mean)) {
        char lab[256];
        qr_report_group_label(rp, bg, lab, sizeof lab, " ");
        snprintf(sub2, sizeof sub2, "baseline, not in the map: %.1f%% (%s)", 100 * bg->mean, lab);
    }
    const char *xn = rp->short_names[cx], *yn = rp->short_names[cy];
    char title[256];
    snprintf(title, sizeof title, "Mean %s (%%)", qr_report_metric_name(rp));
    /* wide enough for the title and the captions too */
    W = fmax(W, fmax(qr_svg_title_right(rp->title, x0, title),
                     fmax(qr_svg_text_right(x0, sub, 11), qr_svg_text_right(x0, sub2, 11))));
    qr_svg s;
    qr_svg_begin(&s, W, H);
    qr_svg_title(&s, rp->title, x0, title);
    qr_svg_text_ex(&s, x0, 44, 11, "start", 0, "fill=\"#555\"", sub);
    if (sub2[0])
        qr_svg_text_ex(&s, x0, 58, 11, "start", 0, "fill=\"#555\"", sub2);
    for (size_t b = 0; b < ny; b++)
        for (size_t a = 0; a < nx; a++) {
            size_t k = b * nx + a;
            /* the first y value at the bottom, as on an axis */
            double x = x0 + cell * (double)a, y = y0 + cell * (double)(ny - 1 - b);
            if (!cnt[k]) {
                qr_svg_box(&s, x, y, cell, cell, "#f4f4f4", 1, "white");
                continue;
            }
            double m = sum[k] / cnt[k], t = (m - lo) / (hi - lo);
            char color[16], txt[32], ntxt[32];
            qr_svg_viridis(t, color, sizeof color);
            qr_svg_box(&s, x, y, cell, cell, color, 1, "white");
            snprintf(txt, sizeof txt, "%.1f", m);
            snprintf(ntxt, sizeof ntxt, "n=%.0f", cnt[k]);
            const char *ink = t > 0.6 ? "fill=\"#111\"" : "fill=\"white\"";
            qr_svg_text_ex(&s, x + cell / 2, y + cell / 2 + 2, cell > 56 ? 13 : 11, "middle", 0,
                           ink, txt);
            char ink2[64];
            snprintf(ink2, sizeof ink2, "%s fill-opacity=\"0.8\"", ink);
            qr_svg_text_ex(&s, x + cell / 2, y + cell / 2 + 15, 9, "middle", 0, ink2, ntxt);
        }
    for (size_t a = 0; a < nx; a++)
        qr_svg_text_ex(&s, x0 + cell * ((double)a + 0.5), y0 + cell * (double)ny + 16, 11, "middle",
                       0, NULL, xs[a]);
    for (size_t b = 0; b < ny; b++)
        qr_svg_text_ex(&s, x0 - 8, y0 + cell * ((double)(ny - 1 - b) + 0.5) + 4, 11, "end", 0, NULL,
                       ys[b]);
    qr_svg_text_ex(&s, x0 + cell * (double)nx / 2, y0 + cell * (double)ny + 40, 13, "middle", 0,
                   NULL, xn);
    qr_svg_text_ex(&s, x0 - 52, y0 + cell * (double)ny / 2, 13, "middle", -90, NULL, yn);
    /* colour bar */
    double bx = x0 + cell * (double)nx + 30, bh = cell * (double)ny, bwid = 16;
    for (int i = 0; i < 50; i++) {
        char color[16];
        qr_svg_viridis((i + 0.5) / 50.0, color, sizeof color);
        qr_svg_box(&s, bx, y0 + bh * (1 - (i + 1) / 50.0), bwid, bh / 50.0 + 0.5, color, 1, color);
    }
    qr_svg_raw(&s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
                "stroke=\"#444\"/>\n", bx, y0, bwid, bh);
    double t[16], stp;
    size_t nt = qr_svg_nice_ticks(lo, hi, 5, t, 16, &stp);
    for (size_t i = 0; i < nt; i++) {
        double y = y0 + bh * (1 - (t[i] - lo) / (hi - lo));
        char lab[32];
        qr_svg_fmt_tick(lab, sizeof lab, t[i], stp);
        qr_svg_line(&s, bx + bwid, y, bx + bwid + 4, y, "#444", 1, 0);
        qr_svg_text_ex(&s, bx + bwid + 7, y + 4, 10, "start", 0, NULL, lab);
    }
    qr_svg_text_ex(&s, bx + bwid + 48, y0 + bh / 2, 11, "middle", -90, NULL, "accuracy (%)");
    st = qr_svg_save(&s, path, err);
    *wrote = st == QR_OK;
out:
    free(xs);
    free(ys);
    free(sum);
    free(cnt);
    return st;
}
