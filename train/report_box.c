/* qreg report's box plot: the accuracy of every run per value of one setting (the schedule). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "svg.h"

qr_status qr_report_plot_box(const qr_report *rp, size_t col, const char *path, int *wrote,
                             qr_error *err)
{
    *wrote = 0;
    const qr_sweep_results *res = &rp->res;
    /* categories in order of appearance; values of every ok run outside the baseline */
    size_t cap = res->n_rows + 1, ncat = 0;
    const char **cats = calloc(cap, sizeof *cats);
    double *vals = calloc(cap, sizeof *vals);
    size_t *cat_of = calloc(cap, sizeof *cat_of);
    qr_status st = QR_OK;
    if (!cats || !vals || !cat_of) {
        st = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t nv = 0;
    const qr_report_group *bg = rp->baseline >= 0 ? &rp->groups[rp->baseline] : NULL;
    for (size_t i = 0; i < res->n_rows; i++) {
        const qr_sweep_row *r = &res->rows[i];
        double v = qr_report_test_metric(rp, r);
        if (!r->ok || isnan(v) || qr_report_in_baseline(rp, i))
            continue;
        const char *lab = r->labels[col];
        size_t c = 0;
        while (c < ncat && strcmp(cats[c], lab) != 0)
            c++;
        if (c == ncat)
            cats[ncat++] = lab;
        vals[nv] = 100 * v;
        cat_of[nv++] = c;
    }
    if (ncat == 0)
        goto out;
    double maxw = 0;
    for (size_t c = 0; c < ncat; c++)
        maxw = fmax(maxw, qr_svg_text_px(cats[c][0] ? cats[c] : "-", 11));
    static const char caption[] = "box: quartiles; thick line: median; whiskers: last run "
                                  "within 1.5 IQR; dots: runs (red: outliers)";
    const char *name = rp->short_names[col];
    char title[256];
    snprintf(title, sizeof title, "Accuracy per %s (%zu runs)", name, nv);
    /* wide enough for the title and the caption too */
    double W = fmax(fmax(600, 150 + 80.0 * (double)ncat),
                    fmax(qr_svg_title_right(rp->title, 78, title),
                         qr_svg_text_right(78, caption, 11)));
    double slot = (W - 78 - 30) / (double)ncat;
    int rotate = maxw > slot - 6;
    double below = rotate ? 40 + 0.574 * maxw : 70, H = 60 + 380 + below;
    qr_svg_frame f = {78, 60, W - 78 - 30, 380, 0, 1, INFINITY, -INFINITY};
    for (size_t i = 0; i < nv; i++) {
        f.ylo = fmin(f.ylo, vals[i]);
        f.yhi = fmax(f.yhi, vals[i]);
    }
    if (bg && !isnan(bg->mean)) {
        f.ylo = fmin(f.ylo, 100 * bg->mean);
        f.yhi = fmax(f.yhi, 100 * bg->mean);
    }
    double pad = (f.yhi - f.ylo) * 0.05 + 0.5;
    f.ylo -= pad;
    f.yhi = fmin(100, f.yhi + pad);
    qr_svg s;
    qr_svg_begin(&s, W, H);
    char ylab[96];
    snprintf(ylab, sizeof ylab, "%s (%%)", qr_report_metric_name(rp));
    ylab[0] = (char)toupper((unsigned char)ylab[0]);
    qr_svg_axes(&s, &f, 0, NULL, ylab);
    qr_svg_title(&s, rp->title, f.x0, title);
    double *v = calloc(nv + 1, sizeof *v);
    if (!v) {
        qr_svg_free(&s);
        st = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < ncat; c++) {
        size_t m = 0;
        for (size_t i = 0; i < nv; i++)
            if (cat_of[i] == c)
                v[m++] = vals[i];
        qsort(v, m, sizeof *v, qr_report_cmp_double);
        double q1 = qr_report_quantile(v, m, 0.25), q2 = qr_report_quantile(v, m, 0.5);
        double q3 = qr_report_quantile(v, m, 0.75);
        double iqr = q3 - q1, lo = q1 - 1.5 * iqr, hi = q3 + 1.5 * iqr;
        double wlo = q1, whi = q3;
        for (size_t i = 0; i < m; i++) {
            if (v[i] >= lo && v[i] < wlo)
                wlo = v[i];
            if (v[i] <= hi && v[i] > whi)
                whi = v[i];
        }
        double cx = f.x0 + slot * ((double)c + 0.5), bw = fmin(46, slot * 0.55);
        const char *color = qr_svg_palette[c % QR_SVG_N_PALETTE];
        qr_svg_line(&s, cx, qr_svg_fy(&f, wlo), cx, qr_svg_fy(&f, q1), "#333", 1.2, 0);
        qr_svg_line(&s, cx, qr_svg_fy(&f, q3), cx, qr_svg_fy(&f, whi), "#333", 1.2, 0);
        qr_svg_line(&s, cx - bw / 4, qr_svg_fy(&f, wlo), cx + bw / 4, qr_svg_fy(&f, wlo), "#333",
                    1.2, 0);
        qr_svg_line(&s, cx - bw / 4, qr_svg_fy(&f, whi), cx + bw / 4, qr_svg_fy(&f, whi), "#333",
                    1.2, 0);
        qr_svg_box(&s, cx - bw / 2, qr_svg_fy(&f, q3), bw,
                   fmax(qr_svg_fy(&f, q1) - qr_svg_fy(&f, q3), 1), color, 0.35, "#333");
        qr_svg_line(&s, cx - bw / 2, qr_svg_fy(&f, q2), cx + bw / 2, qr_svg_fy(&f, q2), "#111",
                    2.2, 0);
        for (size_t i = 0; i < m; i++) {
            /* deterministic jitter: a low-discrepancy sequence */
            double jit = (fmod((double)i * 0.618034, 1.0) - 0.5) * bw * 0.7;
            int outlier = v[i] < lo || v[i] > hi;
            qr_svg_circle(&s, cx + jit, qr_svg_fy(&f, v[i]), outlier ? 3.2 : 2.2,
                          outlier ? "#d62728" : "#222", NULL, outlier ? 0.9 : 0.45);
        }
        char lab[128], nlab[32];
        snprintf(lab, sizeof lab, "%s", cats[c][0] ? cats[c] : "-");
        snprintf(nlab, sizeof nlab, "n=%zu", m);
        if (rotate)
            qr_svg_text_ex(&s, cx + 4, f.y0 + f.h + 14, 11, "end", -35, NULL, lab);
        else {
            qr_svg_text_ex(&s, cx, f.y0 + f.h + 17, 11, "middle", 0, NULL, lab);
            qr_svg_text_ex(&s, cx, f.y0 + f.h + 31, 10, "middle", 0, "fill=\"#666\"", nlab);
        }
    }
    free(v);
    if (bg && !isnan(bg->mean)) {
        double y = qr_svg_fy(&f, 100 * bg->mean);
        char t[64];
        qr_svg_line(&s, f.x0, y, f.x0 + f.w, y, "#d62728", 1.2, 1);
        snprintf(t, sizeof t, "baseline %.2f%%", 100 * bg->mean);
        qr_svg_text_ex(&s, f.x0 + f.w - 4, y - 5, 10, "end", 0, "fill=\"#d62728\"", t);
    }
    double xl = rotate ? f.y0 + f.h + 24 + 0.574 * maxw : f.y0 + f.h + 52;
    qr_svg_text_ex(&s, f.x0 + f.w / 2, xl, 13, "middle", 0, NULL, name);
    qr_svg_text_ex(&s, f.x0, 44, 11, "start", 0, "fill=\"#555\"", caption);
    st = qr_svg_save(&s, path, err);
    *wrote = st == QR_OK;
out:
    free(cats);
    free(vals);
    free(cat_of);
    return st;
}
