/* qreg report's text outputs: the table on stdout, summary.csv and summary.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/fileio.h"
#include "report.h"
#include "svg.h"

static void pct(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2f", 100 * v);
}

/* One table row's cells (settings first). */
static void row_cells(const qr_report *rp, const qr_report_group *g, char cells[][64], size_t *nc)
{
    const qr_sweep_row *r = &rp->res.rows[g->first];
    size_t c = 0;
    for (size_t i = 0; i < rp->n_gcols; i++)
        if (rp->varies[i])
            snprintf(cells[c++], 64, "%.60s", r->labels[rp->gcols[i]][0] ? r->labels[rp->gcols[i]] : "-");
    snprintf(cells[c++], 64, "%zu/%zu", g->n_ok, g->n_rows);
    char m[24], s[24];
    pct(m, sizeof m, g->mean);
    if (isnan(g->std))
        snprintf(cells[c++], 64, "%s", m);
    else {
        snprintf(s, sizeof s, "%.2f", 100 * g->std);
        snprintf(cells[c++], 64, "%s ± %s", m, s);
    }
    pct(cells[c++], 64, g->max);
    pct(cells[c++], 64, g->picked);
    pct(cells[c++], 64, g->float_mean);
    if (isnan(g->bytes))
        snprintf(cells[c++], 64, "-");
    else
        snprintf(cells[c++], 64, "%.1f", g->bytes);
    if (isnan(g->reduction))
        snprintf(cells[c++], 64, "-");
    else
        snprintf(cells[c++], 64, "%.1f%%", g->reduction);
    if (isnan(g->delta))
        snprintf(cells[c++], 64, "%s", rp->n_eight || rp->baseline >= 0 ? "-" : "");
    else if ((long)(g - rp->groups) == g->base)
        snprintf(cells[c++], 64, "baseline");
    else
        snprintf(cells[c++], 64, "%+.2f", g->delta);
    snprintf(cells[c++], 64, "%s", g->pareto ? "*" : "");
    *nc = c;
}

static const char *const stat_heads[] = {"n", "acc % (mean ± std)", "best", "best on val",
                                         "float", "bytes", "reduction", "Δ vs baseline",
                                         "pareto"};
#define N_STATS 9

void qr_report_print_table(const qr_report *rp, FILE *f)
{
    size_t nv = 0;
    for (size_t i = 0; i < rp->n_gcols; i++)
        nv += rp->varies[i] != 0;
    size_t ncol = nv + N_STATS;
    size_t *w = calloc(ncol, sizeof *w);
    char (*cells)[64] = calloc(ncol, sizeof *cells);
    const char **heads = calloc(ncol, sizeof *heads);
    if (!w || !cells || !heads) {
        free(w);
        free(cells);
        free(heads);
        return;
    }
    size_t c = 0;
    for (size_t i = 0; i < rp->n_gcols; i++)
        if (rp->varies[i]) {
            heads[c++] = rp->short_names[rp->gcols[i]];
        }
    for (size_t i = 0; i < N_STATS; i++)
        heads[c++] = stat_heads[i];
    for (size_t i = 0; i < ncol; i++)
        w[i] = qr_text_width(heads[i]);
    for (size_t k = 0; k < rp->n_groups; k++) {
        size_t n;
        row_cells(rp, &rp->groups[k], cells, &n);
        for (size_t i = 0; i < n; i++)
            if (qr_text_width(cells[i]) > w[i])
                w[i] = qr_text_width(cells[i]);
    }
    for (size_t i = 0; i < ncol; i++)
        fprintf(f, "%s%s%*s", i ? "  " : "", heads[i], (int)(w[i] - qr_text_width(heads[i])), "");
    fprintf(f, "\n");
    for (size_t k = 0; k < rp->n_groups; k++) {
        size_t n;
        row_cells(rp, &rp->groups[k], cells, &n);
        for (size_t i = 0; i < n; i++) {
            size_t pad = w[i] - qr_text_width(cells[i]);
            if (i < nv) /* settings left-aligned, numbers right-aligned */
                fprintf(f, "%s%s%*s", i ? "  " : "", cells[i], (int)pad, "");
            else
                fprintf(f, "  %*s%s", (int)pad, "", cells[i]);
        }
        fprintf(f, "\n");
    }
    free(w);
    free(cells);
    free(heads);
}

static void csv_cell(qr_buf *b, const char *s, int first)
{
    if (!first)
        qr_buf_put(b, ",", 1);
    if (!strpbrk(s, ",\"\n")) {
        qr_buf_put(b, s, strlen(s));
        return;
    }
    qr_buf_put(b, "\"", 1);
    for (const char *p = s; *p; p++)
        qr_buf_put(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    qr_buf_put(b, "\"", 1);
}

static void csv_num(qr_buf *b, double v)
{
    if (isnan(v))
        qr_buf_put(b, ",", 1);
    else
        qr_buf_printf(b, ",%.6g", v);
}

/* Write b to path atomically and free it. */
static qr_status save(qr_buf *b, const char *path, qr_error *err)
{
    qr_status s = b->nomem ? qr_error_set(err, QR_ERR_NOMEM, "out of memory")
                           : qr_file_write_atomic(path, b->data, b->len, err);
    qr_buf_free(b);
    return s;
}

qr_status qr_report_write_summary_csv(const qr_report *rp, const char *path, qr_error *err)
{
    qr_buf b = {0};
    for (size_t i = 0; i < rp->n_gcols; i++)
        csv_cell(&b, rp->res.columns[rp->gcols[i]], i == 0);
    qr_buf_printf(&b, "%sn_ok,n_runs,mean,std,min,median,max,best_on_val,best_on_val_seed,"
               "float_mean,int_mean,bytes,actual_bytes,baseline_bytes,reduction_pct,"
               "delta_vs_baseline_points,"
               "seconds_mean,pareto,baseline\n", rp->n_gcols ? "," : "");
    for (size_t k = 0; k < rp->n_groups; k++) {
        const qr_report_group *g = &rp->groups[k];
        const qr_sweep_row *r = &rp->res.rows[g->first];
        for (size_t i = 0; i < rp->n_gcols; i++)
            csv_cell(&b, r->labels[rp->gcols[i]], i == 0);
        qr_buf_printf(&b, "%s%zu,%zu", rp->n_gcols ? "," : "", g->n_ok, g->n_rows);
        csv_num(&b, g->mean);
        csv_num(&b, g->std);
        csv_num(&b, g->min);
        csv_num(&b, g->median);
        csv_num(&b, g->max);
        csv_num(&b, g->picked);
        if (isnan(g->picked))
            qr_buf_put(&b, ",", 1);
        else
            qr_buf_printf(&b, ",%lld", g->picked_seed);
        csv_num(&b, g->float_mean);
        csv_num(&b, g->int_mean);
        csv_num(&b, g->bytes);
        csv_num(&b, g->actual_bytes);
        csv_num(&b, g->baseline_bytes);
        csv_num(&b, g->reduction);
        csv_num(&b, g->delta);
        csv_num(&b, g->seconds);
        qr_buf_printf(&b, ",%d,%d\n", g->pareto, (long)k == g->base);
    }
    return save(&b, path, err);
}

qr_status qr_report_write_summary_md(const qr_report *rp, const char *path, char *const *inputs,
                                     size_t n_inputs, qr_error *err)
{
    qr_buf b = {0};
    size_t ok = 0;
    for (size_t i = 0; i < rp->res.n_rows; i++)
        ok += rp->res.rows[i].ok != 0;
    qr_buf_printf(&b, "# Sweep report\n\n%zu runs (%zu ok) in %zu configurations, from", rp->res.n_rows,
               ok, rp->n_groups);
    for (size_t i = 0; i < n_inputs; i++)
        qr_buf_printf(&b, " `%s`", inputs[i]);
    qr_buf_printf(&b, ". Accuracy: %s in %%, mean ± sample std over the runs of a configuration; "
               "\"best on val\": the test accuracy of the run with the best validation accuracy. "
               "Bytes: N bits per weight, 32 per bias and batch-norm parameter (the thesis' "
               "accounting).", qr_report_metric_name(rp));
    if (rp->baseline >= 0) {
        char lab[512];
        qr_report_group_label(rp, &rp->groups[rp->baseline], lab, sizeof lab, ", ");
        qr_buf_printf(&b, " Δ: points against the baseline (%s).", lab);
    } else if (rp->n_eight) {
        qr_buf_printf(&b, " Δ: points against the 8-bit configuration (\"baseline\") that shares "
                   "the most settings.");
    }
    size_t fixed = 0;
    for (size_t i = 0; i < rp->n_gcols; i++)
        if (!rp->varies[i] && rp->res.n_rows) {
            qr_buf_printf(&b, "%s`%s` = `%s`", fixed++ ? ", " : " Same in every run: ",
                       rp->res.columns[rp->gcols[i]],
                       rp->res.rows[0].labels[rp->gcols[i]]);
        }
    qr_buf_printf(&b, "%s\n\n|", fixed ? "." : "");
    size_t nv = 0;
    for (size_t i = 0; i < rp->n_gcols; i++)
        if (rp->varies[i]) {
            qr_buf_printf(&b, " %s |", rp->short_names[rp->gcols[i]]);
            nv++;
        }
    for (size_t i = 0; i < N_STATS; i++)
        qr_buf_printf(&b, " %s |", stat_heads[i]);
    qr_buf_printf(&b, "\n|");
    for (size_t i = 0; i < nv + N_STATS; i++)
        qr_buf_printf(&b, "%s|", i < nv ? "---" : "---:");
    qr_buf_printf(&b, "\n");
    char cells[64][64];
    for (size_t k = 0; k < rp->n_groups; k++) {
        size_t n;
        if (nv + N_STATS > 64)
            break;
        row_cells(rp, &rp->groups[k], cells, &n);
        qr_buf_printf(&b, "|");
        for (size_t i = 0; i < n; i++)
            qr_buf_printf(&b, " %s |", cells[i]);
        qr_buf_printf(&b, "\n");
    }
    return save(&b, path, err);
}
