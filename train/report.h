/* The internals of qreg report shared by its files: sweep rows grouped per configuration. */
#ifndef QREG_REPORT_H
#define QREG_REPORT_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "sweep.h"

/* The runs of one configuration: every setting but the seed alike. */
typedef struct qr_report_group {
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
} qr_report_group;

typedef struct qr_report {
    qr_sweep_results res;
    int metric;          /* 0 fq, 1 float, 2 int */
    size_t *gcols;       /* grouping columns (settings without the seed) */
    size_t n_gcols;
    int *varies;         /* per grouping column: more than one value */
    char **short_names;  /* per settings column, for display */
    qr_report_group *groups;
    size_t n_groups;
    long baseline;       /* the one baseline group (named, or the only 8-bit one), or -1 */
    size_t n_eight;      /* groups with every weight at 8 bits (reduction 0) */
    const char *title;
} qr_report;

/* ---- grouping (report_groups.c) ---- */
/* Group rp->res's rows, with their statistics, baselines (`baseline`: setting=value[,...] or
 * NULL) and the Pareto front. */
qr_status qr_report_build_groups(qr_report *rp, const char *baseline, qr_error *err);
void qr_report_free(qr_report *rp);
/* The test accuracy of a run by rp->metric, and the metric's name. */
double qr_report_test_metric(const qr_report *rp, const qr_sweep_row *r);
const char *qr_report_metric_name(const qr_report *rp);
int qr_report_is_seed_column(const char *name);
/* Is row a run of the one baseline group (rp->baseline)? */
int qr_report_in_baseline(const qr_report *rp, size_t row);
int qr_report_same_group(const qr_report *rp, const qr_sweep_row *a, const qr_sweep_row *b);
/* The group's varying settings as "a=x b=y" (or "(all runs)"), `sep` between them. */
void qr_report_group_label(const qr_report *rp, const qr_report_group *g, char *buf, size_t n,
                           const char *sep);
/* qsort's comparison of doubles, and quantile q of sorted v[0..n) (linear interpolation). */
int qr_report_cmp_double(const void *a, const void *b);
double qr_report_quantile(const double *v, size_t n, double q);

/* ---- text outputs (report_tables.c) ---- */
void qr_report_print_table(const qr_report *rp, FILE *f);
qr_status qr_report_write_summary_csv(const qr_report *rp, const char *path, qr_error *err);
qr_status qr_report_write_summary_md(const qr_report *rp, const char *path, char *const *inputs,
                                     size_t n_inputs, qr_error *err);

/* ---- JSON (report_json.c): the summary as one object (caller frees with cJSON_Delete) ---- */
cJSON *qr_report_json(const qr_report *rp, char *const *inputs, size_t n_inputs);

/* ---- the plots (report_pareto.c, report_box.c, report_heatmap.c) ---- */
/* Each sets *wrote to whether it wrote `path`: not when it has nothing to plot (no run with
 * an accuracy, or for accuracy vs bytes none with a size either). */
qr_status qr_report_plot_pareto(const qr_report *rp, const char *path, int *wrote,
                                qr_error *err);
qr_status qr_report_plot_box(const qr_report *rp, size_t col, const char *path, int *wrote,
                             qr_error *err);
qr_status qr_report_plot_heatmap(const qr_report *rp, size_t cx, size_t cy, const char *path,
                                 int *wrote, qr_error *err);

#endif
