/* qreg report RESULTS...: summarize sweep results (sweep.h) per configuration — the rows
 * grouped by every setting but the seed — as a table on stdout, CSV and markdown files, and
 * SVG plots: accuracy vs bytes with the Pareto front, accuracy per schedule (box plot) and a
 * heat map over two numeric settings. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "lib/fileio.h"
#include "svg.h"
#include "sweep.h"

static const char report_help[] =
    "usage: qreg report RESULTS... [options]\n"
    "\n"
    "Summarize the results of 'qreg sweep'. RESULTS are results CSV files or directories\n"
    "(every results*.csv in them: the files of all shards). Rows with the same id are\n"
    "counted once (the last ok one). Runs are grouped by every setting except the seed; per\n"
    "group: runs ok / run, the accuracy's mean ± std, best, and the test accuracy of the run\n"
    "with the best validation accuracy (the thesis' pick of the best of 5), bytes, the size\n"
    "reduction and the change against the 8-bit baseline group (all weights at 8 bits) when\n"
    "there is one. Accuracy is the fake-quantized test accuracy (the float one for runs\n"
    "without a quantization plan).\n"
    "\n"
    "Writes to the output directory: summary.csv, summary.md, accuracy_vs_bytes.svg (the\n"
    "Pareto front highlighted), accuracy_per_schedule.svg (a box plot, when a setting's name\n"
    "contains 'schedule') and heatmap.svg (mean accuracy over the first two numeric settings).\n"
    "\n"
    "options:\n"
    "  --out DIR        output directory (default: report/ beside the first results file)\n"
    "  --metric M       fq (default), float or int: which test/validation accuracy to use\n"
    "  --baseline S     the baseline group, as setting=value[,setting=value...]\n"
    "  --box NAME       the setting for the box plot (default: one named like 'schedule')\n"
    "  --heatmap X,Y    the two settings of the heat map\n"
    "  --title TEXT     a title prefix for the plots\n"
    "  -h, --help       this help\n";

/* ---- grouping --------------------------------------------------------------------------- */

typedef struct group {
    size_t first;        /* index of its first row */
    size_t *rows, n_rows;
    size_t n_ok;
    double mean, std, min, max, median;
    double picked;       /* test metric of the run with the best validation metric */
    long long picked_seed;
    double float_mean, int_mean, bytes, actual_bytes, baseline_bytes, reduction, seconds;
    long base;           /* its baseline group, or -1 */
    double delta;        /* mean − its baseline's mean, in points; NAN without one */
    int pareto;
} group;

typedef struct report {
    qr_sweep_results res;
    int metric;          /* 0 fq, 1 float, 2 int */
    size_t *gcols;       /* grouping columns (settings without the seed) */
    size_t n_gcols;
    int *varies;         /* per grouping column: more than one value */
    char **short_names;  /* per settings column, for display */
    group *groups;
    size_t n_groups;
    long baseline;       /* the one baseline group (named, or the only 8-bit one), or -1 */
    size_t n_eight;      /* groups with every weight at 8 bits (reduction 0) */
    const char *title;
} report;

static double test_metric(const report *rp, const qr_sweep_row *r)
{
    if (rp->metric == 1)
        return r->test_accuracy;
    if (rp->metric == 2)
        return r->int_test_accuracy;
    return !isnan(r->fq_test_accuracy) ? r->fq_test_accuracy : r->test_accuracy;
}

static double val_metric(const report *rp, const qr_sweep_row *r)
{
    if (rp->metric == 1)
        return r->val_accuracy;
    if (rp->metric == 2)
        return r->int_val_accuracy;
    return !isnan(r->fq_val_accuracy) ? r->fq_val_accuracy : r->val_accuracy;
}

static const char *metric_name(const report *rp)
{
    static const char *const names[] = {"fake-quantized test accuracy", "float test accuracy",
                                        "integer test accuracy"};
    return names[rp->metric];
}

static int is_seed_column(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcmp(name + n - 4, "seed") == 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Quantile q of sorted v[0..n) (linear interpolation). */
static double quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[n - 1];
}

static int same_group(const report *rp, const qr_sweep_row *a, const qr_sweep_row *b)
{
    for (size_t g = 0; g < rp->n_gcols; g++)
        if (strcmp(a->labels[rp->gcols[g]], b->labels[rp->gcols[g]]) != 0)
            return 0;
    return 1;
}

static double mean_of(const report *rp, const group *g, double (*get)(const qr_sweep_row *))
{
    double s = 0;
    size_t n = 0;
    for (size_t i = 0; i < g->n_rows; i++) {
        const qr_sweep_row *r = &rp->res.rows[g->rows[i]];
        double v = get(r);
        if (r->ok && !isnan(v)) {
            s += v;
            n++;
        }
    }
    return n ? s / (double)n : NAN;
}

static double get_float(const qr_sweep_row *r) { return r->test_accuracy; }
static double get_int(const qr_sweep_row *r) { return r->int_test_accuracy; }
static double get_actual(const qr_sweep_row *r) { return r->actual_bytes; }
static double get_bytes(const qr_sweep_row *r) { return r->bytes; }
static double get_base(const qr_sweep_row *r) { return r->baseline_bytes; }
static double get_red(const qr_sweep_row *r) { return r->reduction_pct; }
static double get_sec(const qr_sweep_row *r) { return r->seconds; }

static qr_status build_groups(report *rp, const char *baseline, qr_error *err)
{
    qr_sweep_results *res = &rp->res;
    rp->gcols = calloc(res->n_columns + 1, sizeof *rp->gcols);
    rp->varies = calloc(res->n_columns + 1, sizeof *rp->varies);
    rp->groups = calloc(res->n_rows + 1, sizeof *rp->groups);
    rp->short_names = qr_sweep_short_names(res->columns, res->n_columns);
    if (!rp->gcols || !rp->varies || !rp->groups || !rp->short_names)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < res->n_columns; c++)
        if (!is_seed_column(res->columns[c]))
            rp->gcols[rp->n_gcols++] = c;
    for (size_t g = 0; g < rp->n_gcols; g++)
        for (size_t i = 1; i < res->n_rows; i++)
            if (strcmp(res->rows[i].labels[rp->gcols[g]], res->rows[0].labels[rp->gcols[g]]))
                rp->varies[g] = 1;
    for (size_t i = 0; i < res->n_rows; i++) {
        size_t k = 0;
        while (k < rp->n_groups && !same_group(rp, &res->rows[rp->groups[k].first], &res->rows[i]))
            k++;
        group *g = &rp->groups[k];
        if (k == rp->n_groups) {
            rp->n_groups++;
            g->first = i;
            if (!(g->rows = calloc(res->n_rows, sizeof *g->rows)))
                return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        }
        g->rows[g->n_rows++] = i;
    }
    double *v = calloc(res->n_rows + 1, sizeof *v);
    if (!v)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < rp->n_groups; k++) {
        group *g = &rp->groups[k];
        size_t n = 0;
        double best_val = -INFINITY;
        g->picked = NAN;
        for (size_t i = 0; i < g->n_rows; i++) {
            const qr_sweep_row *r = &res->rows[g->rows[i]];
            double t = test_metric(rp, r), vm = val_metric(rp, r);
            if (!r->ok || isnan(t))
                continue;
            v[n++] = t;
            if (!isnan(vm) && vm > best_val) {
                best_val = vm;
                g->picked = t;
                g->picked_seed = r->seed;
            }
        }
        g->n_ok = n;
        qsort(v, n, sizeof *v, cmp_double);
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++)
            s += v[i];
        g->mean = n ? s / (double)n : NAN;
        for (size_t i = 0; i < n; i++)
            ss += (v[i] - g->mean) * (v[i] - g->mean);
        g->std = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
        g->min = n ? v[0] : NAN;
        g->max = n ? v[n - 1] : NAN;
        g->median = quantile(v, n, 0.5);
        g->float_mean = mean_of(rp, g, get_float);
        g->int_mean = mean_of(rp, g, get_int);
        g->actual_bytes = mean_of(rp, g, get_actual);
        g->bytes = mean_of(rp, g, get_bytes);
        g->baseline_bytes = mean_of(rp, g, get_base);
        g->reduction = mean_of(rp, g, get_red);
        g->seconds = mean_of(rp, g, get_sec);
        g->delta = NAN;
    }
    free(v);
    /* the baseline: named, or the first group with every weight at 8 bits */
    rp->baseline = -1;
    if (baseline) {
        for (size_t k = 0; k < rp->n_groups && rp->baseline < 0; k++) {
            const qr_sweep_row *r = &res->rows[rp->groups[k].first];
            char spec[1024];
            snprintf(spec, sizeof spec, "%s", baseline);
            int match = 1;
            for (char *save = NULL, *tok = strtok_r(spec, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(tok, '=');
                if (!eq)
                    return qr_error_set(err, QR_ERR_ARG, "--baseline: '%s' is not setting=value",
                                        tok);
                *eq = '\0';
                size_t c = 0;
                while (c < res->n_columns && strcmp(res->columns[c], tok) != 0)
                    c++;
                if (c == res->n_columns)
                    return qr_error_set(err, QR_ERR_ARG, "--baseline: no setting '%s'", tok);
                match &= strcmp(r->labels[c], eq + 1) == 0;
            }
            if (match)
                rp->baseline = (long)k;
        }
        if (rp->baseline < 0)
            return qr_error_set(err, QR_ERR_ARG, "--baseline: no group has %s", baseline);
    }
    /* without a named one: every 8-bit group (reduction 0) is a baseline; each group is
     * compared with the one sharing most of its settings (the same architecture and
     * schedule in a grid over bits); a single one is everybody's */
    long last_eight = -1;
    for (size_t k = 0; k < rp->n_groups; k++)
        if (rp->groups[k].n_ok && fabs(rp->groups[k].reduction) < 1e-9) {
            rp->n_eight++;
            last_eight = (long)k;
        }
    if (!baseline && rp->n_eight == 1)
        rp->baseline = last_eight;
    for (size_t k = 0; k < rp->n_groups; k++) {
        group *g = &rp->groups[k];
        g->base = rp->baseline;
        if (baseline || rp->n_eight < 2)
            continue;
        long best_match = -1;
        for (size_t j = 0; j < rp->n_groups; j++) {
            const group *h = &rp->groups[j];
            if (!h->n_ok || fabs(h->reduction) >= 1e-9)
                continue;
            long match = 0;
            for (size_t c = 0; c < rp->n_gcols; c++)
                match += strcmp(rp->res.rows[g->first].labels[rp->gcols[c]],
                                rp->res.rows[h->first].labels[rp->gcols[c]]) == 0;
            if (match > best_match) {
                best_match = match;
                g->base = (long)j;
            }
        }
    }
    for (size_t k = 0; k < rp->n_groups; k++)
        if (rp->groups[k].base >= 0)
            rp->groups[k].delta = 100.0 * (rp->groups[k].mean - rp->groups[rp->groups[k].base].mean);
    /* Pareto front over (bytes, mean): no other group is as small and at least as accurate,
     * with one of the two strictly */
    for (size_t k = 0; k < rp->n_groups; k++) {
        group *g = &rp->groups[k];
        if (isnan(g->bytes) || isnan(g->mean))
            continue;
        g->pareto = 1;
        for (size_t j = 0; j < rp->n_groups && g->pareto; j++) {
            const group *h = &rp->groups[j];
            if (j == k || isnan(h->bytes) || isnan(h->mean))
                continue;
            if (h->bytes <= g->bytes && h->mean >= g->mean &&
                (h->bytes < g->bytes || h->mean > g->mean))
                g->pareto = 0;
        }
    }
    return QR_OK;
}

/* The group's varying settings as "a=x b=y" (or "(all runs)"). */
static void group_label(const report *rp, const group *g, char *buf, size_t n, const char *sep)
{
    const qr_sweep_row *r = &rp->res.rows[g->first];
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < rp->n_gcols && len < n; i++) {
        if (!rp->varies[i])
            continue;
        const char *name = rp->short_names[rp->gcols[i]];
        const char *lab = r->labels[rp->gcols[i]];
        if (!lab[0])
            continue; /* not set in this configuration */
        int w = snprintf(buf + len, n - len, "%s%s=%s", len ? sep : "", name, lab);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (!buf[0])
        snprintf(buf, n, "(all runs)");
}

/* ---- text outputs ----------------------------------------------------------------------- */

static void pct(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2f", 100 * v);
}

/* One table row's cells (settings first). */
static void row_cells(const report *rp, const group *g, char cells[][64], size_t *nc)
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

/* Display width of UTF-8 text (± and Δ are one column each). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void print_table(const report *rp, FILE *f)
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
        w[i] = text_width(heads[i]);
    for (size_t k = 0; k < rp->n_groups; k++) {
        size_t n;
        row_cells(rp, &rp->groups[k], cells, &n);
        for (size_t i = 0; i < n; i++)
            if (text_width(cells[i]) > w[i])
                w[i] = text_width(cells[i]);
    }
    for (size_t i = 0; i < ncol; i++)
        fprintf(f, "%s%s%*s", i ? "  " : "", heads[i], (int)(w[i] - text_width(heads[i])), "");
    fprintf(f, "\n");
    for (size_t k = 0; k < rp->n_groups; k++) {
        size_t n;
        row_cells(rp, &rp->groups[k], cells, &n);
        for (size_t i = 0; i < n; i++) {
            size_t pad = w[i] - text_width(cells[i]);
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

static qr_status write_summary_csv(const report *rp, const char *path, qr_error *err)
{
    qr_buf b = {0};
    for (size_t i = 0; i < rp->n_gcols; i++)
        csv_cell(&b, rp->res.columns[rp->gcols[i]], i == 0);
    qr_buf_printf(&b, "%sn_ok,n_runs,mean,std,min,median,max,best_on_val,best_on_val_seed,"
               "float_mean,int_mean,bytes,actual_bytes,baseline_bytes,reduction_pct,"
               "delta_vs_baseline_points,"
               "seconds_mean,pareto,baseline\n", rp->n_gcols ? "," : "");
    for (size_t k = 0; k < rp->n_groups; k++) {
        const group *g = &rp->groups[k];
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
    if (b.nomem) {
        qr_buf_free(&b);
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    }
    qr_status s = qr_file_write_atomic(path, b.data, b.len, err);
    qr_buf_free(&b);
    return s;
}

static qr_status write_summary_md(const report *rp, const char *path, char *const *inputs,
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
               "accounting).", metric_name(rp));
    if (rp->baseline >= 0) {
        char lab[512];
        group_label(rp, &rp->groups[rp->baseline], lab, sizeof lab, ", ");
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
    if (b.nomem) {
        qr_buf_free(&b);
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    }
    qr_status s = qr_file_write_atomic(path, b.data, b.len, err);
    qr_buf_free(&b);
    return s;
}

/* ---- SVG helpers ------------------------------------------------------------------------- */

/* Tableau 10 without its red, which marks the baseline */
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
                                      "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#17becf"};
#define N_PALETTE 10

/* Text with extra attributes (rotation, weight, colour). */
static void svg_text_ex(qr_svg *s, double x, double y, double size, const char *anchor,
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

static void svg_circle(qr_svg *s, double x, double y, double r, const char *fill,
                       const char *stroke, double opacity)
{
    qr_svg_raw(s, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\" fill-opacity=\"%.2f\"", x,
            y, r, fill, opacity);
    if (stroke)
        qr_svg_raw(s, " stroke=\"%s\" stroke-width=\"1.5\"", stroke);
    qr_svg_raw(s, "/>\n");
}

static void svg_box(qr_svg *s, double x, double y, double w, double h, const char *fill,
                    double opacity, const char *stroke)
{
    qr_svg_raw(s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
               "fill-opacity=\"%.2f\" stroke=\"%s\" stroke-width=\"1\"/>\n", x, y, w, h, fill,
            opacity, stroke);
}

static double text_px(const char *t, double size)
{
    return 0.58 * size * (double)text_width(t);
}

/* "Nice" ticks covering [lo, hi]: about `want` of them at 1, 2, 2.5 or 5 × 10^k. */
static size_t nice_ticks(double lo, double hi, int want, double *ticks, size_t max, double *step)
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

static void fmt_tick(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (step < 1 && fabs(step * pow(10, dec) - round(step * pow(10, dec))) > 1e-6)
        dec++;
    snprintf(buf, n, "%.*f", dec > 6 ? 6 : dec, v);
}

typedef struct frame {
    double x0, y0, w, h;       /* plot area */
    double xlo, xhi, ylo, yhi; /* data range */
} frame;

static double fx(const frame *f, double x) { return f->x0 + (x - f->xlo) / (f->xhi - f->xlo) * f->w; }
static double fy(const frame *f, double y) { return f->y0 + f->h - (y - f->ylo) / (f->yhi - f->ylo) * f->h; }

/* Grid, ticks and labels of a numeric y axis (and x axis unless xcat); the ranges of `f` are
 * widened to whole ticks. */
static void draw_axes(qr_svg *s, frame *f, int x_numeric, const char *xlabel, const char *ylabel)
{
    double t[32], st;
    size_t n = nice_ticks(f->ylo, f->yhi, 6, t, 32, &st);
    f->ylo = floor(f->ylo / st + 1e-9) * st;
    f->yhi = ceil(f->yhi / st - 1e-9) * st;
    n = nice_ticks(f->ylo, f->yhi, 6, t, 32, &st);
    for (size_t i = 0; i < n; i++) {
        double y = fy(f, t[i]);
        char lab[32];
        fmt_tick(lab, sizeof lab, t[i], st);
        qr_svg_line(s, f->x0, y, f->x0 + f->w, y, "#e4e4e4", 1, 0);
        qr_svg_line(s, f->x0 - 4, y, f->x0, y, "#444", 1, 0);
        qr_svg_text(s, f->x0 - 7, y + 4, 11, "end", "%s", lab);
    }
    if (x_numeric) {
        double tx[32], sx;
        nice_ticks(f->xlo, f->xhi, 7, tx, 32, &sx);
        f->xlo = floor(f->xlo / sx + 1e-9) * sx;
        f->xhi = ceil(f->xhi / sx - 1e-9) * sx;
        size_t m = nice_ticks(f->xlo, f->xhi, 7, tx, 32, &sx);
        for (size_t i = 0; i < m; i++) {
            double x = fx(f, tx[i]);
            char lab[32];
            fmt_tick(lab, sizeof lab, tx[i], sx);
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
        svg_text_ex(s, f->x0 - 48, f->y0 + f->h / 2, 13, "middle", -90, NULL, ylabel);
}

static void draw_title(qr_svg *s, const report *rp, double x, const char *what)
{
    char t[512];
    snprintf(t, sizeof t, "%s%s%s", rp->title ? rp->title : "", rp->title ? ": " : "", what);
    svg_text_ex(s, x, 26, 16, "start", 0, "font-weight=\"bold\"", t);
}

/* A legend box at (x, y): entries of marker kind (0 dot, 1 ring, 2 dashed line, 3 square). */
typedef struct legend_entry {
    const char *text;
    const char *color;
    int kind;
} legend_entry;

static void draw_legend(qr_svg *s, double x, double y, const char *head,
                        const legend_entry *e, size_t n)
{
    double w = head ? text_px(head, 12) : 0;
    for (size_t i = 0; i < n; i++)
        if (text_px(e[i].text, 11) + 24 > w)
            w = text_px(e[i].text, 11) + 24;
    double h = 10 + (head ? 18 : 0) + 17 * (double)n;
    svg_box(s, x, y, w + 16, h, "white", 0.92, "#bbb");
    double yy = y + 8;
    if (head) {
        svg_text_ex(s, x + 8, yy + 10, 12, "start", 0, "font-weight=\"bold\"", head);
        yy += 18;
    }
    for (size_t i = 0; i < n; i++, yy += 17) {
        double cy = yy + 6;
        if (e[i].kind == 0)
            svg_circle(s, x + 15, cy, 5, e[i].color, NULL, 0.9);
        else if (e[i].kind == 1)
            svg_circle(s, x + 15, cy, 7, "none", e[i].color, 0);
        else if (e[i].kind == 2)
            qr_svg_line(s, x + 6, cy, x + 24, cy, e[i].color, 1.5, 1);
        else
            svg_box(s, x + 10, cy - 5, 10, 10, e[i].color, 0.9, "#222");
        svg_text_ex(s, x + 30, cy + 4, 11, "start", 0, NULL, e[i].text);
    }
}

static int is_number(const char *s)
{
    if (!s[0])
        return 0;
    char *end;
    double v = strtod(s, &end);
    return !*end && isfinite(v);
}

/* ---- plot 1: accuracy vs bytes ----------------------------------------------------------- */

static int cmp_group_bytes(const void *a, const void *b)
{
    const group *x = *(const group *const *)a, *y = *(const group *const *)b;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes ? 1 : (x->mean > y->mean ? -1 : 1);
}

static qr_status plot_pareto(const report *rp, const char *path, qr_error *err)
{
    size_t n = 0;
    for (size_t k = 0; k < rp->n_groups; k++)
        n += !isnan(rp->groups[k].bytes) && !isnan(rp->groups[k].mean);
    if (n == 0)
        return QR_OK;
    /* colour by the first varying setting with at most N_PALETTE values */
    long ccol = -1;
    const char *vals[N_PALETTE];
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
                if (nvals == N_PALETTE)
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
    group **front = calloc(n, sizeof *front);
    if (!front)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    size_t nf = 0;
    for (size_t k = 0; k < rp->n_groups; k++)
        if (rp->groups[k].pareto)
            front[nf++] = &rp->groups[k];
    qsort(front, nf, sizeof *front, cmp_group_bytes);
    size_t n_listed = nf < 14 ? nf : 14;
    double W = 1000, H = fmax(560, 260 + 28.0 * (double)n_listed + 60);
    frame f = {78, 56, 560, H - 56 - 66, INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (size_t k = 0; k < rp->n_groups; k++) {
        const group *g = &rp->groups[k];
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
    snprintf(ylab, sizeof ylab, "%s (%%)", metric_name(rp));
    ylab[0] = (char)toupper((unsigned char)ylab[0]);
    draw_axes(&s, &f, 1, "model size (bytes; N bits per weight, 32 per bias)", ylab);
    char title[256];
    snprintf(title, sizeof title, "Accuracy vs size: %zu configurations, Pareto front", n);
    draw_title(&s, rp, f.x0, title);
    svg_text_ex(&s, f.x0, 44, 11, "start", 0, "fill=\"#555\"",
                "dots: mean over the repetitions, bars: ± 1 std (clipped to the plot); "
                "numbered rings: the Pareto front");
    qr_svg_raw(&s, "<clipPath id=\"plot\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
                "height=\"%.2f\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n", f.x0, f.y0, f.w,
            f.h);
    if (rp->baseline >= 0 && !isnan(rp->groups[rp->baseline].mean)) {
        double y = fy(&f, 100 * rp->groups[rp->baseline].mean);
        qr_svg_line(&s, f.x0, y, f.x0 + f.w, y, "#d62728", 1.2, 1);
    }
    for (size_t k = 0; k < rp->n_groups; k++) {
        const group *g = &rp->groups[k];
        if (isnan(g->bytes) || isnan(g->mean) || isnan(g->std))
            continue;
        double x = fx(&f, g->bytes);
        qr_svg_line(&s, x, fy(&f, 100 * (g->mean - g->std)), x, fy(&f, 100 * (g->mean + g->std)),
                    "#aaa", 1, 0);
    }
    if (nf > 1) {
        double *xs = calloc(2 * nf, sizeof *xs), *ys = calloc(2 * nf, sizeof *ys);
        size_t m = 0;
        for (size_t i = 0; xs && ys && i < nf; i++) {
            double x = fx(&f, front[i]->bytes), y = fy(&f, 100 * front[i]->mean);
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
        const group *g = &rp->groups[k];
        if (isnan(g->bytes) || isnan(g->mean))
            continue;
        double x = fx(&f, g->bytes), y = fy(&f, 100 * g->mean);
        if ((long)k == rp->baseline) {
            svg_box(&s, x - 5, y - 5, 10, 10, "#d62728", 0.9, "#222");
            continue;
        }
        const char *color = palette[0];
        if (ccol >= 0) {
            const char *lab = rp->res.rows[g->first].labels[ccol];
            for (size_t j = 0; j < nvals; j++)
                if (strcmp(vals[j], lab) == 0)
                    color = palette[j];
        }
        svg_circle(&s, x, y, 5, color, NULL, 0.85);
    }
    for (size_t i = 0; i < nf; i++) {
        double x = fx(&f, front[i]->bytes), y = fy(&f, 100 * front[i]->mean);
        svg_circle(&s, x, y, 8, "none", "#222", 0);
        if (i < n_listed) {
            char num[16];
            snprintf(num, sizeof num, "%zu", i + 1);
            /* numbers of points at the same place fan out */
            size_t same = 0;
            for (size_t j = 0; j < i; j++)
                same += fabs(fx(&f, front[j]->bytes) - x) < 12 &&
                        fabs(fy(&f, 100 * front[j]->mean) - y) < 12;
            svg_text_ex(&s, x + 10 + 9 * (double)same, y - 8, 11, "start", 0,
                        "font-weight=\"bold\" fill=\"#222\"", num);
        }
    }
    qr_svg_raw(&s, "</g>\n");
    /* legend, then the front's settings */
    legend_entry e[N_PALETTE + 3];
    size_t ne = 0;
    char head[128] = "";
    if (ccol >= 0) {
        snprintf(head, sizeof head, "%s", rp->short_names[ccol]);
        for (size_t j = 0; j < nvals; j++)
            e[ne++] = (legend_entry){vals[j][0] ? vals[j] : "-", palette[j], 0};
    } else {
        e[ne++] = (legend_entry){"configuration", palette[0], 0};
    }
    e[ne++] = (legend_entry){"Pareto front", "#222", 1};
    char base[160];
    if (rp->baseline >= 0) {
        snprintf(base, sizeof base, "baseline %.2f%%", 100 * rp->groups[rp->baseline].mean);
        e[ne++] = (legend_entry){base, "#d62728", 3};
    }
    double lx = f.x0 + f.w + 18;
    draw_legend(&s, lx, f.y0, head[0] ? head : NULL, e, ne);
    double ly = f.y0 + 10 + (head[0] ? 18 : 0) + 17 * (double)ne + 30;
    svg_text_ex(&s, lx, ly, 12, "start", 0, "font-weight=\"bold\"", "Pareto front");
    ly += 17;
    int fit = (int)((W - (lx + 96) - 8) / (0.58 * 10)); /* characters of settings that fit */
    for (size_t i = 0; i < n_listed; i++, ly += 15) {
        char lab[256], cell[300];
        group_label(rp, front[i], lab, sizeof lab, " ");
        snprintf(cell, sizeof cell, "%zu", i + 1);
        svg_text_ex(&s, lx + 8, ly, 10, "end", 0, "font-weight=\"bold\"", cell);
        snprintf(cell, sizeof cell, "%.1f%%", 100 * front[i]->mean);
        svg_text_ex(&s, lx + 50, ly, 10, "end", 0, NULL, cell);
        snprintf(cell, sizeof cell, "%.0f B", front[i]->bytes);
        svg_text_ex(&s, lx + 90, ly, 10, "end", 0, NULL, cell);
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
            svg_text_ex(&s, lx + 98, ly, 10, "start", 0, NULL, cell);
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
        svg_text_ex(&s, lx, ly, 10, "start", 0, "fill=\"#555\"", more);
    }
    free(front);
    return qr_svg_save(&s, path, err);
}

/* ---- plot 2: box plot per schedule ------------------------------------------------------- */

static qr_status plot_box(const report *rp, size_t col, const char *path, qr_error *err)
{
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
    const group *bg = rp->baseline >= 0 ? &rp->groups[rp->baseline] : NULL;
    for (size_t i = 0; i < res->n_rows; i++) {
        const qr_sweep_row *r = &res->rows[i];
        double v = test_metric(rp, r);
        if (!r->ok || isnan(v))
            continue;
        int in_base = 0;
        for (size_t j = 0; bg && j < bg->n_rows; j++)
            in_base |= bg->rows[j] == i;
        if (in_base)
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
        maxw = fmax(maxw, text_px(cats[c][0] ? cats[c] : "-", 11));
    double W = fmax(600, 150 + 80.0 * (double)ncat);
    double slot = (W - 78 - 30) / (double)ncat;
    int rotate = maxw > slot - 6;
    double below = rotate ? 40 + 0.574 * maxw : 70, H = 60 + 380 + below;
    frame f = {78, 60, W - 78 - 30, 380, 0, 1, INFINITY, -INFINITY};
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
    const char *name = rp->short_names[col];
    char ylab[96];
    snprintf(ylab, sizeof ylab, "%s (%%)", metric_name(rp));
    ylab[0] = (char)toupper((unsigned char)ylab[0]);
    draw_axes(&s, &f, 0, NULL, ylab);
    char title[256];
    snprintf(title, sizeof title, "Accuracy per %s (%zu runs)", name, nv);
    draw_title(&s, rp, f.x0, title);
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
        qsort(v, m, sizeof *v, cmp_double);
        double q1 = quantile(v, m, 0.25), q2 = quantile(v, m, 0.5), q3 = quantile(v, m, 0.75);
        double iqr = q3 - q1, lo = q1 - 1.5 * iqr, hi = q3 + 1.5 * iqr;
        double wlo = q1, whi = q3;
        for (size_t i = 0; i < m; i++) {
            if (v[i] >= lo && v[i] < wlo)
                wlo = v[i];
            if (v[i] <= hi && v[i] > whi)
                whi = v[i];
        }
        double cx = f.x0 + slot * ((double)c + 0.5), bw = fmin(46, slot * 0.55);
        const char *color = palette[c % N_PALETTE];
        qr_svg_line(&s, cx, fy(&f, wlo), cx, fy(&f, q1), "#333", 1.2, 0);
        qr_svg_line(&s, cx, fy(&f, q3), cx, fy(&f, whi), "#333", 1.2, 0);
        qr_svg_line(&s, cx - bw / 4, fy(&f, wlo), cx + bw / 4, fy(&f, wlo), "#333", 1.2, 0);
        qr_svg_line(&s, cx - bw / 4, fy(&f, whi), cx + bw / 4, fy(&f, whi), "#333", 1.2, 0);
        svg_box(&s, cx - bw / 2, fy(&f, q3), bw, fmax(fy(&f, q1) - fy(&f, q3), 1), color, 0.35,
                "#333");
        qr_svg_line(&s, cx - bw / 2, fy(&f, q2), cx + bw / 2, fy(&f, q2), "#111", 2.2, 0);
        for (size_t i = 0; i < m; i++) {
            /* deterministic jitter: a low-discrepancy sequence */
            double jit = (fmod((double)i * 0.618034, 1.0) - 0.5) * bw * 0.7;
            int outlier = v[i] < lo || v[i] > hi;
            svg_circle(&s, cx + jit, fy(&f, v[i]), outlier ? 3.2 : 2.2,
                       outlier ? "#d62728" : "#222", NULL, outlier ? 0.9 : 0.45);
        }
        char lab[128], nlab[32];
        snprintf(lab, sizeof lab, "%s", cats[c][0] ? cats[c] : "-");
        snprintf(nlab, sizeof nlab, "n=%zu", m);
        if (rotate)
            svg_text_ex(&s, cx + 4, f.y0 + f.h + 14, 11, "end", -35, NULL, lab);
        else {
            svg_text_ex(&s, cx, f.y0 + f.h + 17, 11, "middle", 0, NULL, lab);
            svg_text_ex(&s, cx, f.y0 + f.h + 31, 10, "middle", 0, "fill=\"#666\"", nlab);
        }
    }
    free(v);
    if (bg && !isnan(bg->mean)) {
        double y = fy(&f, 100 * bg->mean);
        char t[64];
        qr_svg_line(&s, f.x0, y, f.x0 + f.w, y, "#d62728", 1.2, 1);
        snprintf(t, sizeof t, "baseline %.2f%%", 100 * bg->mean);
        svg_text_ex(&s, f.x0 + f.w - 4, y - 5, 10, "end", 0, "fill=\"#d62728\"", t);
    }
    double xl = rotate ? f.y0 + f.h + 24 + 0.574 * maxw : f.y0 + f.h + 52;
    svg_text_ex(&s, f.x0 + f.w / 2, xl, 13, "middle", 0, NULL, name);
    svg_text_ex(&s, f.x0, 44, 11, "start", 0, "fill=\"#555\"",
                "box: quartiles; thick line: median; whiskers: last run within 1.5 IQR; "
                "dots: runs (red: outliers)");
    st = qr_svg_save(&s, path, err);
out:
    free(cats);
    free(vals);
    free(cat_of);
    return st;
}

/* ---- plot 3: heat map -------------------------------------------------------------------- */

static void viridis(double t, char *out, size_t n)
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

static int cmp_num_str(const void *a, const void *b)
{
    double x = strtod(*(const char *const *)a, NULL), y = strtod(*(const char *const *)b, NULL);
    return x < y ? -1 : x > y;
}

static qr_status plot_heatmap(const report *rp, size_t cx, size_t cy, const char *path,
                              qr_error *err)
{
    const qr_sweep_results *res = &rp->res;
    size_t n = res->n_rows + 1, nx = 0, ny = 0;
    const char **xs = calloc(n, sizeof *xs), **ys = calloc(n, sizeof *ys);
    const group *bg = rp->baseline >= 0 ? &rp->groups[rp->baseline] : NULL;
    qr_status st = QR_OK;
    double *sum = NULL, *cnt = NULL;
    if (!xs || !ys) {
        st = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < res->n_rows; i++) {
            const qr_sweep_row *r = &res->rows[i];
            int in_base = 0;
            for (size_t j = 0; bg && j < bg->n_rows; j++)
                in_base |= bg->rows[j] == i;
            if (!r->ok || in_base || isnan(test_metric(rp, r)))
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
        int in_base = 0;
        for (size_t j = 0; bg && j < bg->n_rows; j++)
            in_base |= bg->rows[j] == i;
        double v = test_metric(rp, r);
        if (!r->ok || in_base || isnan(v))
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
    qr_svg s;
    qr_svg_begin(&s, W, H);
    const char *xn = rp->short_names[cx], *yn = rp->short_names[cy];
    char title[256];
    snprintf(title, sizeof title, "Mean %s (%%)", metric_name(rp));
    draw_title(&s, rp, x0, title);
    /* what the cells pool: the other settings that vary among their runs */
    char sub[512], sub2[512] = "";
    size_t sl = (size_t)snprintf(sub, sizeof sub, "n: runs per cell");
    int first = 1;
    for (size_t c = 0; c < res->n_columns && sl < sizeof sub; c++) {
        if (c == cx || c == cy || is_seed_column(res->columns[c]))
            continue;
        const char *seen = NULL;
        int varies = 0;
        for (size_t i = 0; i < res->n_rows && !varies; i++) {
            const qr_sweep_row *r = &res->rows[i];
            if (!r->ok || (bg && same_group(rp, r, &res->rows[bg->first])))
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
        group_label(rp, bg, lab, sizeof lab, " ");
        snprintf(sub2, sizeof sub2, "baseline, not in the map: %.1f%% (%s)", 100 * bg->mean, lab);
    }
    svg_text_ex(&s, x0, 44, 11, "start", 0, "fill=\"#555\"", sub);
    if (sub2[0])
        svg_text_ex(&s, x0, 58, 11, "start", 0, "fill=\"#555\"", sub2);
    for (size_t b = 0; b < ny; b++)
        for (size_t a = 0; a < nx; a++) {
            size_t k = b * nx + a;
            /* the first y value at the bottom, as on an axis */
            double x = x0 + cell * (double)a, y = y0 + cell * (double)(ny - 1 - b);
            if (!cnt[k]) {
                svg_box(&s, x, y, cell, cell, "#f4f4f4", 1, "white");
                continue;
            }
            double m = sum[k] / cnt[k], t = (m - lo) / (hi - lo);
            char color[16], txt[32], ntxt[32];
            viridis(t, color, sizeof color);
            svg_box(&s, x, y, cell, cell, color, 1, "white");
            snprintf(txt, sizeof txt, "%.1f", m);
            snprintf(ntxt, sizeof ntxt, "n=%.0f", cnt[k]);
            const char *ink = t > 0.6 ? "fill=\"#111\"" : "fill=\"white\"";
            svg_text_ex(&s, x + cell / 2, y + cell / 2 + 2, cell > 56 ? 13 : 11, "middle", 0, ink,
                        txt);
            char ink2[64];
            snprintf(ink2, sizeof ink2, "%s fill-opacity=\"0.8\"", ink);
            svg_text_ex(&s, x + cell / 2, y + cell / 2 + 15, 9, "middle", 0, ink2, ntxt);
        }
    for (size_t a = 0; a < nx; a++)
        svg_text_ex(&s, x0 + cell * ((double)a + 0.5), y0 + cell * (double)ny + 16, 11, "middle",
                    0, NULL, xs[a]);
    for (size_t b = 0; b < ny; b++)
        svg_text_ex(&s, x0 - 8, y0 + cell * ((double)(ny - 1 - b) + 0.5) + 4, 11, "end", 0, NULL,
                    ys[b]);
    svg_text_ex(&s, x0 + cell * (double)nx / 2, y0 + cell * (double)ny + 40, 13, "middle", 0,
                NULL, xn);
    svg_text_ex(&s, x0 - 52, y0 + cell * (double)ny / 2, 13, "middle", -90, NULL, yn);
    /* colour bar */
    double bx = x0 + cell * (double)nx + 30, bh = cell * (double)ny, bwid = 16;
    for (int i = 0; i < 50; i++) {
        char color[16];
        viridis((i + 0.5) / 50.0, color, sizeof color);
        svg_box(&s, bx, y0 + bh * (1 - (i + 1) / 50.0), bwid, bh / 50.0 + 0.5, color, 1, color);
    }
    qr_svg_raw(&s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
                "stroke=\"#444\"/>\n", bx, y0, bwid, bh);
    double t[16], stp;
    size_t nt = nice_ticks(lo, hi, 5, t, 16, &stp);
    for (size_t i = 0; i < nt; i++) {
        double y = y0 + bh * (1 - (t[i] - lo) / (hi - lo));
        char lab[32];
        fmt_tick(lab, sizeof lab, t[i], stp);
        qr_svg_line(&s, bx + bwid, y, bx + bwid + 4, y, "#444", 1, 0);
        svg_text_ex(&s, bx + bwid + 7, y + 4, 10, "start", 0, NULL, lab);
    }
    svg_text_ex(&s, bx + bwid + 48, y0 + bh / 2, 11, "middle", -90, NULL, "accuracy (%)");
    st = qr_svg_save(&s, path, err);
out:
    free(xs);
    free(ys);
    free(sum);
    free(cnt);
    return st;
}

/* ---- the command ------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Expand the inputs: files as they are, directories into their results*.csv (sorted). */
static qr_status collect_inputs(char **args, size_t n_args, char ***files, size_t *n,
                                qr_error *err)
{
    *files = NULL;
    *n = 0;
    for (size_t i = 0; i < n_args; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0)
            return qr_error_set(err, QR_ERR_IO, "%s: %s", args[i], strerror(errno));
        size_t before = *n;
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(args[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                size_t len = strlen(e->d_name);
                if (strncmp(e->d_name, "results", 7) != 0 || len < 11 ||
                    strcmp(e->d_name + len - 4, ".csv") != 0)
                    continue;
                char **f = realloc(*files, (*n + 1) * sizeof *f);
                if (!f)
                    break;
                *files = f;
                f[*n] = malloc(strlen(args[i]) + len + 2);
                if (!f[*n])
                    break;
                sprintf(f[(*n)++], "%s/%s", args[i], e->d_name);
            }
            if (d)
                closedir(d);
            if (*n == before)
                return qr_error_set(err, QR_ERR_IO, "%s: no results*.csv in this directory",
                                    args[i]);
            qsort(*files + before, *n - before, sizeof **files, cmp_str);
        } else {
            char **f = realloc(*files, (*n + 1) * sizeof *f);
            if (!f || !(f[*n] = strdup(args[i])))
                return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
            *files = f;
            (*n)++;
        }
    }
    return QR_OK;
}

static char *out_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    if (p)
        sprintf(p, "%s/%s", dir, name);
    return p;
}

static long find_column(const report *rp, const char *name)
{
    for (size_t c = 0; c < rp->res.n_columns; c++) {
        if (strcmp(rp->res.columns[c], name) == 0 || strcmp(rp->short_names[c], name) == 0)
            return (long)c;
    }
    return -1;
}

/* Is setting column c numeric with more than one value over the non-baseline ok runs? */
static int numeric_axis(const report *rp, size_t c)
{
    const char *first = NULL;
    int varies = 0;
    for (size_t i = 0; i < rp->res.n_rows; i++) {
        const qr_sweep_row *r = &rp->res.rows[i];
        if (!r->ok)
            continue;
        if (rp->baseline >= 0 && same_group(rp, r, &rp->res.rows[rp->groups[rp->baseline].first]))
            continue;
        if (!is_number(r->labels[c]))
            return 0;
        if (!first)
            first = r->labels[c];
        else if (strcmp(first, r->labels[c]) != 0)
            varies = 1;
    }
    return varies;
}

int qr_cmd_report(int argc, char **argv)
{
    const char *out = NULL, *baseline = NULL, *box = NULL, *heat = NULL, *v;
    report rp;
    memset(&rp, 0, sizeof rp);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    size_t n_args = 0;
    if (!args)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(report_help, stdout);
            free(args);
            return 0;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!(out = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--baseline", &v)) {
            if (!(baseline = v) || !strchr(v, '='))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--box", &v)) {
            if (!(box = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--heatmap", &v)) {
            if (!(heat = v) || !strchr(v, ','))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--title", &v)) {
            if (!(rp.title = v))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--metric", &v)) {
            if (v && strcmp(v, "fq") == 0)
                rp.metric = 0;
            else if (v && strcmp(v, "float") == 0)
                rp.metric = 1;
            else if (v && strcmp(v, "int") == 0)
                rp.metric = 2;
            else
                goto bad;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg report: unknown option '%s' (see qreg report --help)\n", a);
            free(args);
            return 2;
        } else {
            args[n_args++] = (char *)a;
        }
        continue;
    bad:
        fprintf(stderr, "qreg report: option '%s' needs a valid value (see qreg report --help)\n",
                a);
        free(args);
        return 2;
    }
    if (!n_args) {
        fputs(report_help, stderr);
        free(args);
        return 2;
    }
    qr_error err = {{0}};
    char **files = NULL, *dir = NULL;
    size_t n_files = 0;
    int rc = 1;
    qr_status s = collect_inputs(args, n_args, &files, &n_files, &err);
    for (size_t i = 0; s == QR_OK && i < n_files; i++)
        s = qr_sweep_results_read_csv(&rp.res, files[i], &err);
    if (s)
        goto done;
    size_t raw = rp.res.n_rows;
    qr_sweep_results_dedup(&rp.res);
    if (rp.res.n_rows == 0) {
        s = qr_error_set(&err, QR_ERR_FORMAT, "%s: no result rows", files[0]);
        goto done;
    }
    if ((s = build_groups(&rp, baseline, &err)))
        goto done;
    if (out) {
        dir = strdup(out);
    } else {
        const char *slash = strrchr(files[0], '/');
        size_t dl = slash ? (size_t)(slash - files[0]) : 0;
        dir = malloc(dl + 8);
        if (dir)
            sprintf(dir, "%.*s%sreport", (int)dl, files[0], dl ? "/" : "");
    }
    if (!dir || (mkdir(dir, 0777) != 0 && errno != EEXIST)) {
        s = qr_error_set(&err, QR_ERR_IO, "%s: %s", dir ? dir : "report",
                         dir ? strerror(errno) : "out of memory");
        goto done;
    }
    size_t ok = 0;
    for (size_t i = 0; i < rp.res.n_rows; i++)
        ok += rp.res.rows[i].ok != 0;
    printf("%zu runs (%zu ok, %zu failed) in %zu configurations from %zu file%s", rp.res.n_rows,
           ok, rp.res.n_rows - ok, rp.n_groups, n_files, n_files == 1 ? "" : "s");
    if (raw > rp.res.n_rows)
        printf(" (%zu repeated rows of the same id counted once)", raw - rp.res.n_rows);
    if (rp.res.skipped)
        printf(" (%zu malformed lines skipped)", rp.res.skipped);
    printf("\naccuracy: %s, %%\n", metric_name(&rp));
    for (size_t i = 0; i < rp.n_gcols; i++)
        if (!rp.varies[i])
            printf("same in every run: %s = %s\n", rp.res.columns[rp.gcols[i]],
                   rp.res.rows[0].labels[rp.gcols[i]]);
    if (rp.baseline >= 0) {
        char lab[512];
        group_label(&rp, &rp.groups[rp.baseline], lab, sizeof lab, ", ");
        printf("baseline: %s\n", lab);
    } else if (rp.n_eight) {
        printf("baselines: the %zu 8-bit configurations; each row is compared with the one "
               "sharing the most settings\n", rp.n_eight);
    }
    printf("\n");
    print_table(&rp, stdout);
    /* files */
    char *p_csv = out_path(dir, "summary.csv"), *p_md = out_path(dir, "summary.md");
    char *p_par = out_path(dir, "accuracy_vs_bytes.svg");
    char *p_box = out_path(dir, "accuracy_per_schedule.svg"), *p_heat = out_path(dir, "heatmap.svg");
    if (!p_csv || !p_md || !p_par || !p_box || !p_heat)
        s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
    if (s == QR_OK)
        s = write_summary_csv(&rp, p_csv, &err);
    if (s == QR_OK)
        s = write_summary_md(&rp, p_md, files, n_files, &err);
    printf("\nwrote %s, %s", p_csv, p_md);
    if (s == QR_OK && (s = plot_pareto(&rp, p_par, &err)) == QR_OK)
        printf(", %s", p_par);
    long bcol = -1;
    if (box) {
        if ((bcol = find_column(&rp, box)) < 0 && s == QR_OK)
            s = qr_error_set(&err, QR_ERR_ARG, "--box: no setting '%s'", box);
    } else {
        for (size_t i = 0; i < rp.n_gcols && bcol < 0; i++) {
            char low[256];
            snprintf(low, sizeof low, "%s", rp.res.columns[rp.gcols[i]]);
            for (char *q = low; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            if (rp.varies[i] && strstr(low, "schedule"))
                bcol = (long)rp.gcols[i];
        }
    }
    if (s == QR_OK && bcol >= 0 && (s = plot_box(&rp, (size_t)bcol, p_box, &err)) == QR_OK)
        printf(", %s", p_box);
    long hx = -1, hy = -1;
    if (heat) {
        char spec[256];
        snprintf(spec, sizeof spec, "%s", heat);
        char *comma = strchr(spec, ',');
        *comma = '\0';
        hx = find_column(&rp, spec);
        hy = find_column(&rp, comma + 1);
        if ((hx < 0 || hy < 0 || hx == hy) && s == QR_OK)
            s = qr_error_set(&err, QR_ERR_ARG, "--heatmap: '%s' are not two settings", heat);
    } else {
        for (size_t i = 0; i < rp.n_gcols; i++) {
            if (!rp.varies[i] || !numeric_axis(&rp, rp.gcols[i]))
                continue;
            if (hx < 0)
                hx = (long)rp.gcols[i];
            else if (hy < 0)
                hy = (long)rp.gcols[i];
        }
    }
    if (s == QR_OK && hx >= 0 && hy >= 0 &&
        (s = plot_heatmap(&rp, (size_t)hx, (size_t)hy, p_heat, &err)) == QR_OK)
        printf(", %s", p_heat);
    printf("\n");
    free(p_csv);
    free(p_md);
    free(p_par);
    free(p_box);
    free(p_heat);
    if (s == QR_OK)
        rc = 0;
done:
    if (s)
        fprintf(stderr, "qreg report: %s\n", err.msg);
    for (size_t i = 0; i < n_files; i++)
        free(files[i]);
    free(files);
    free(dir);
    for (size_t k = 0; k < rp.n_groups; k++)
        free(rp.groups[k].rows);
    free(rp.groups);
    free(rp.gcols);
    free(rp.varies);
    qr_sweep_short_names_free(rp.short_names, rp.res.n_columns);
    qr_sweep_results_free(&rp.res);
    free(args);
    return rc;
}
