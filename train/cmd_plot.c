/* qreg plot: weight histograms of a matrix over its regularizer's curve (thesis Fig. 4.2.5),
 * from a training run's histogram file or from a model's current weights; with --curves, the
 * learning curves of a per-epoch log (plot_curves.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "hist_log.h"
#include "lib/json_util.h"
#include "svg.h"

static const char plot_help[] =
    "usage: qreg plot INPUT [--matrix NAME] [--out FILE.svg]\n"
    "       qreg plot --curves LOG [--out FILE.svg]\n"
    "\n"
    "Draw the weight histogram of one weight matrix over the curve of its regularizer, one\n"
    "panel per snapshot, as SVG: how the weights gather at the grid's minima during training.\n"
    "INPUT is either the histogram file a training run writes (output.histograms: one panel\n"
    "per epoch in output.histogram_epochs) or a model file (.qrm: its current weights).\n"
    "\n"
    "options:\n"
    "  --matrix NAME   the weight matrix, e.g. gru_1/recurrent_kernel (default: the first\n"
    "                  regularized one)\n"
    "  --curves LOG    instead: learning curves of a training run's per-epoch log (output.log\n"
    "                  CSV or output.log_jsonl): loss and accuracy panels, training and\n"
    "                  validation, float and fake-quantized, the learning rate (JSON lines)\n"
    "                  and stage boundaries\n"
    "  --out FILE      the SVG to write (default: <matrix with / as _>.svg; with --curves,\n"
    "                  LOG without its extension + -curves.svg)\n"
    "  -h, --help      this help\n";

typedef struct panel {
    size_t epoch;           /* (size_t)-1: a model's current weights */
    const size_t *counts;
    size_t below, above;
} panel;

/* One panel at (x0, y0) of size (w, h): bars, the regularizer curve, axes and labels. */
static void draw_panel(qr_svg *svg, double x0, double y0, double w, double h, const panel *p,
                       size_t bins, double lo, double hi, qr_reg_kind reg, int bits,
                       int regularized)
{
    const double pad_l = 40, pad_b = 28, pad_t = 22, pad_r = 10;
    double px = x0 + pad_l, py = y0 + pad_t, pw = w - pad_l - pad_r, ph = h - pad_t - pad_b;
    size_t mx = 1;
    for (size_t b = 0; b < bins; b++)
        if (p->counts[b] > mx)
            mx = p->counts[b];
    qr_svg_rect(svg, px, py, pw, ph, "#f7f7f7", 1.0);
    double bw = pw / (double)bins;
    for (size_t b = 0; b < bins; b++)
        if (p->counts[b]) {
            double bh = ph * 0.95 * (double)p->counts[b] / (double)mx;
            qr_svg_rect(svg, px + (double)b * bw, py + ph - bh, bw, bh, "#3b6fb6", 0.85);
        }
    /* the grid's minima k/M closer than 5 px (8 bits: 255 in the panel) draw as a solid block:
     * then only the band they fill is shaded, with the linear tails beyond it */
    int levels = bits == 1 ? 1 : qr_reg_levels(bits);
    int dense = regularized && pw / (hi - lo) / levels < 5.0;
    double edge = bits == 1 ? 1.5 : 1.0 + 0.25 / levels;
    if (dense) {
        double bx0 = px + pw * (-edge - lo) / (hi - lo), bx1 = px + pw * (edge - lo) / (hi - lo);
        qr_svg_rect(svg, bx0, py, bx1 - bx0, ph, "#d1495b", 0.12);
        qr_svg_text(svg, px + pw / 2, py + 12, 9, "middle", "%d minima: too dense to draw",
                    2 * levels + 1);
    }
    if (regularized) {
        /* the regularizer, scaled so its oscillating part (0..2) fills the panel; the linear
         * tails beyond the grid are clipped at the top */
        enum { NPT = 600 };
        double xs[NPT], ys[NPT];
        int k = 0;
        for (int i = 0; i < NPT; i++) {
            double v = lo + (hi - lo) * i / (NPT - 1);
            if (dense && fabs(v) <= edge) {
                if (k > 1)
                    qr_svg_polyline(svg, xs, ys, k, "#d1495b", 1.0);
                k = 0;
                continue;
            }
            double r = qr_reg_value(reg, bits, v);
            if (r > 2.2)
                r = 2.2;
            xs[k] = px + pw * (v - lo) / (hi - lo);
            ys[k++] = py + ph - ph * 0.95 * r / 2.2;
        }
        if (k > 1)
            qr_svg_polyline(svg, xs, ys, k, "#d1495b", 1.0);
    }
    /* axis ticks at -1, 0, 1 (the grid's ends) and the frame */
    for (int t = -1; t <= 1; t++) {
        double tx = px + pw * (t - lo) / (hi - lo);
        qr_svg_line(svg, tx, py, tx, py + ph, "#999999", 0.6, 1);
        qr_svg_text(svg, tx, py + ph + 14, 10, "middle", "%d", t);
    }
    qr_svg_line(svg, px, py + ph, px + pw, py + ph, "#333333", 1, 0);
    qr_svg_line(svg, px, py, px, py + ph, "#333333", 1, 0);
    qr_svg_text(svg, px - 4, py + 8, 9, "end", "%zu", mx);
    qr_svg_text(svg, px - 4, py + ph, 9, "end", "0");
    if (p->epoch == (size_t)-1)
        qr_svg_text(svg, px + pw / 2, y0 + 15, 12, "middle", "trained weights");
    else
        qr_svg_text(svg, px + pw / 2, y0 + 15, 12, "middle", "epoch %zu", p->epoch);
    if (p->below || p->above)
        qr_svg_text(svg, px + pw - 2, py + 12, 9, "end", "%zu below, %zu above range", p->below,
                    p->above);
}

static qr_status render(const char *out, const char *name, int bits, qr_reg_kind reg,
                        int regularized, const panel *panels, size_t n, size_t bins, double lo,
                        double hi, qr_error *err)
{
    const double pw = 300, ph = 200, head = 46;
    size_t cols = n < 4 ? n : 4, rows = (n + cols - 1) / cols;
    char title[160], caption[160];
    snprintf(title, sizeof title, "%s: %d bit%s, %s", name, bits, bits == 1 ? "" : "s",
             regularized ? qr_reg_name(reg) : "8-bit PTQ (not regularized)");
    snprintf(caption, sizeof caption, "bars: weight histogram (%zu bins on [%g, %g)); "
             "red: the regularizer (clipped at 2.2)", bins, lo, hi);
    /* as wide as the panels, or as the title and caption need (one panel is narrower) */
    double width = pw * (double)cols + 20;
    double need = qr_svg_text_right(12, title, 15 * 1.1) + 12;
    width = need > width ? need : width;
    need = qr_svg_text_right(12, caption, 11) + 12;
    width = need > width ? need : width;
    qr_svg svg;
    qr_svg_begin(&svg, width, ph * (double)rows + head + 24);
    qr_svg_text(&svg, 12, 22, 15, "start", "%s", title);
    qr_svg_text(&svg, 12, 40, 11, "start", "%s", caption);
    for (size_t i = 0; i < n; i++)
        draw_panel(&svg, 10 + pw * (double)(i % cols), head + ph * (double)(i / cols), pw, ph,
                   &panels[i], bins, lo, hi, reg, bits, regularized);
    return qr_svg_save(&svg, out, err);
}

/* The histogram file of a training run. */
static int plot_hist_file(const char *path, const char *matrix, const char *out)
{
    qr_error err = {{0}};
    cJSON *root = NULL;
    if (qr_json_load_file(path, &root, &err) != QR_OK) {
        fprintf(stderr, "qreg plot: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    panel *panels = NULL;
    size_t *all_counts = NULL;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "matrices"), *mj = NULL;
    if (!cJSON_IsArray(ms) || !ms->child) {
        fprintf(stderr, "qreg plot: %s: no 'matrices' (not a histogram file?)\n", path);
        goto done;
    }
    for (const cJSON *it = ms->child; it && !mj; it = it->next) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (!matrix || (cJSON_IsString(nm) && strcmp(nm->valuestring, matrix) == 0))
            mj = it;
    }
    if (!mj) {
        fprintf(stderr, "qreg plot: %s: no matrix named '%s'\n", path, matrix);
        goto done;
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(mj, "name");
    const cJSON *bj = cJSON_GetObjectItemCaseSensitive(mj, "bits");
    const cJSON *rj = cJSON_GetObjectItemCaseSensitive(mj, "regularizer");
    const cJSON *loj = cJSON_GetObjectItemCaseSensitive(mj, "lo");
    const cJSON *hij = cJSON_GetObjectItemCaseSensitive(mj, "hi");
    const cJSON *binj = cJSON_GetObjectItemCaseSensitive(mj, "bins");
    const cJSON *snaps = cJSON_GetObjectItemCaseSensitive(mj, "snapshots");
    qr_reg_kind reg;
    if (!cJSON_IsString(nm) || !cJSON_IsNumber(bj) || !cJSON_IsString(rj) ||
        qr_reg_parse(rj->valuestring, &reg) != QR_OK || !qr_reg_valid(reg, bj->valueint) ||
        !cJSON_IsNumber(loj) || !cJSON_IsNumber(hij) || !(loj->valuedouble < hij->valuedouble) ||
        !cJSON_IsNumber(binj) || binj->valuedouble < 1 || binj->valuedouble > 100000 ||
        !cJSON_IsArray(snaps) || !snaps->child) {
        fprintf(stderr, "qreg plot: %s: malformed matrix entry\n", path);
        goto done;
    }
    size_t bins = (size_t)binj->valuedouble, n = (size_t)cJSON_GetArraySize(snaps);
    panels = calloc(n, sizeof *panels);
    all_counts = calloc(n * bins, sizeof *all_counts);
    if (!panels || !all_counts) {
        fprintf(stderr, "qreg plot: out of memory\n");
        goto done;
    }
    size_t i = 0;
    for (const cJSON *sn = snaps->child; sn; sn = sn->next, i++) {
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(sn, "epoch");
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(sn, "counts");
        const cJSON *be = cJSON_GetObjectItemCaseSensitive(sn, "below");
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(sn, "above");
        if (!cJSON_IsNumber(ep) || ep->valuedouble < 0 || !cJSON_IsArray(cn) ||
            (size_t)cJSON_GetArraySize(cn) != bins || !cJSON_IsNumber(be) || !cJSON_IsNumber(ab)) {
            fprintf(stderr, "qreg plot: %s: malformed snapshot %zu of %s\n", path, i,
                    nm->valuestring);
            goto done;
        }
        size_t b = 0;
        for (const cJSON *v = cn->child; v; v = v->next, b++) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 0) {
                fprintf(stderr, "qreg plot: %s: bad count in snapshot %zu\n", path, i);
                goto done;
            }
            all_counts[i * bins + b] = (size_t)v->valuedouble;
        }
        panels[i] = (panel){(size_t)ep->valuedouble, all_counts + i * bins,
                            (size_t)be->valuedouble, (size_t)ab->valuedouble};
    }
    char def[128];
    if (!out) {
        snprintf(def, sizeof def, "%s.svg", nm->valuestring);
        for (char *c = def; *c; c++)
            if (*c == '/')
                *c = '_';
        out = def;
    }
    if (render(out, nm->valuestring, bj->valueint, reg, 1, panels, n, bins, loj->valuedouble,
               hij->valuedouble, &err) != QR_OK) {
        fprintf(stderr, "qreg plot: %s\n", err.msg);
        goto done;
    }
    printf("wrote %s (%s, %zu snapshots)\n", out, nm->valuestring, n);
    rc = 0;
done:
    free(all_counts);
    free(panels);
    cJSON_Delete(root);
    return rc;
}

/* A model's current weights. */
static int plot_model(const char *path, const char *matrix, const char *out)
{
    qr_error err = {{0}};
    qr_model *m = NULL;
    if (qr_model_load(path, 1, &m, &err) != QR_OK) {
        fprintf(stderr, "qreg plot: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    qr_quant_plan own = {0};
    const qr_quant_plan *plan = qr_model_quant_plan(m);
    if (!plan) {
        if (qr_quant_plan_init(&own, qr_model_spec_of(m)) != QR_OK)
            goto done;
        plan = &own;
    }
    const qr_quant_matrix *q = NULL;
    for (size_t i = 0; i < plan->n && !q; i++)
        if (matrix ? strcmp(plan->m[i].name, matrix) == 0 : plan->m[i].regularized)
            q = &plan->m[i];
    if (!q && !matrix && plan->n)
        q = &plan->m[0];
    if (!q) {
        fprintf(stderr, "qreg plot: %s: no weight matrix named '%s'\n", path,
                matrix ? matrix : "(any)");
        goto done;
    }
    qr_node *n = qr_graph_find(qr_model_graph(m), q->name);
    size_t counts[QR_HIST_BINS];
    panel p = {(size_t)-1, counts, 0, 0};
    double lo = QR_HIST_LO, hi = QR_HIST_HI;
    if (!q->regularized) {
        /* unregularized: the range of the weights themselves */
        const float *w = qr_node_data(n);
        double mx = 0;
        for (size_t i = 0; i < qr_node_size(n); i++)
            mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
        hi = mx > 0 ? mx * 1.05 : 1;
        lo = -hi;
    }
    qr_quant_histogram(qr_node_data(n), qr_node_size(n), lo, hi, QR_HIST_BINS, counts, &p.below,
                       &p.above);
    char def[128];
    if (!out) {
        snprintf(def, sizeof def, "%s.svg", q->name);
        for (char *c = def; *c; c++)
            if (*c == '/')
                *c = '_';
        out = def;
    }
    if (render(out, q->name, q->bits, q->reg, q->regularized, &p, 1, QR_HIST_BINS, lo, hi, &err)) {
        fprintf(stderr, "qreg plot: %s\n", err.msg);
        goto done;
    }
    printf("wrote %s (%s)\n", out, q->name);
    rc = 0;
done:
    qr_quant_plan_free(&own);
    qr_model_free(m);
    return rc;
}

int qr_cmd_plot(int argc, char **argv)
{
    const char *input = NULL, *matrix = NULL, *out = NULL, *curves = NULL, *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(plot_help, stdout);
            return 0;
        } else if (qr_cli_opt(argc, argv, &i, "--matrix", &v)) {
            if (!(matrix = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!(out = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--curves", &v)) {
            if (!(curves = v) || !*v)
                goto bad;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg plot: unknown option '%s' (see qreg plot --help)\n", a);
            return 2;
        } else if (!input) {
            input = a;
        } else {
            fprintf(stderr, "qreg plot: more than one input given\n");
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg plot: option '%s' needs a value\n", a);
        return 2;
    }
    if (curves) {
        if (input || matrix) {
            fprintf(stderr, "qreg plot: --curves takes the log as its value, without INPUT or "
                    "--matrix\n");
            return 2;
        }
        return qr_plot_curves(curves, out);
    }
    if (!input) {
        fputs(plot_help, stderr);
        return 2;
    }
    size_t len = strlen(input);
    if (len > 4 && strcmp(input + len - 4, ".qrm") == 0)
        return plot_model(input, matrix, out);
    return plot_hist_file(input, matrix, out);
}
