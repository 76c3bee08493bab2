/* qreg report's grouping of sweep rows per configuration: statistics, baselines, Pareto front. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"

double qr_report_test_metric(const qr_report *rp, const qr_sweep_row *r)
{
    if (rp->metric == 1)
        return r->test_accuracy;
    if (rp->metric == 2)
        return r->int_test_accuracy;
    return !isnan(r->fq_test_accuracy) ? r->fq_test_accuracy : r->test_accuracy;
}

static double val_metric(const qr_report *rp, const qr_sweep_row *r)
{
    if (rp->metric == 1)
        return r->val_accuracy;
    if (rp->metric == 2)
        return r->int_val_accuracy;
    return !isnan(r->fq_val_accuracy) ? r->fq_val_accuracy : r->val_accuracy;
}

const char *qr_report_metric_name(const qr_report *rp)
{
    static const char *const names[] = {"fake-quantized test accuracy", "float test accuracy",
                                        "integer test accuracy"};
    return names[rp->metric];
}

int qr_report_is_seed_column(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcmp(name + n - 4, "seed") == 0;
}

int qr_report_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double qr_report_quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[n - 1];
}

int qr_report_same_group(const qr_report *rp, const qr_sweep_row *a, const qr_sweep_row *b)
{
    for (size_t g = 0; g < rp->n_gcols; g++)
        if (strcmp(a->labels[rp->gcols[g]], b->labels[rp->gcols[g]]) != 0)
            return 0;
    return 1;
}

static double mean_of(const qr_report *rp, const qr_report_group *g,
                      double (*get)(const qr_sweep_row *))
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

qr_status qr_report_build_groups(qr_report *rp, const char *baseline, qr_error *err)
{
    qr_sweep_results *res = &rp->res;
    rp->gcols = calloc(res->n_columns + 1, sizeof *rp->gcols);
    rp->varies = calloc(res->n_columns + 1, sizeof *rp->varies);
    rp->groups = calloc(res->n_rows + 1, sizeof *rp->groups);
    rp->short_names = qr_sweep_short_names(res->columns, res->n_columns);
    if (!rp->gcols || !rp->varies || !rp->groups || !rp->short_names)
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < res->n_columns; c++)
        if (!qr_report_is_seed_column(res->columns[c]))
            rp->gcols[rp->n_gcols++] = c;
    for (size_t g = 0; g < rp->n_gcols; g++)
        for (size_t i = 1; i < res->n_rows; i++)
            if (strcmp(res->rows[i].labels[rp->gcols[g]], res->rows[0].labels[rp->gcols[g]]))
                rp->varies[g] = 1;
    for (size_t i = 0; i < res->n_rows; i++) {
        size_t k = 0;
        while (k < rp->n_groups &&
               !qr_report_same_group(rp, &res->rows[rp->groups[k].first], &res->rows[i]))
            k++;
        qr_report_group *g = &rp->groups[k];
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
        qr_report_group *g = &rp->groups[k];
        size_t n = 0;
        double best_val = -INFINITY;
        g->picked = NAN;
        for (size_t i = 0; i < g->n_rows; i++) {
            const qr_sweep_row *r = &res->rows[g->rows[i]];
            double t = qr_report_test_metric(rp, r), vm = val_metric(rp, r);
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
        qsort(v, n, sizeof *v, qr_report_cmp_double);
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++)
            s += v[i];
        g->mean = n ? s / (double)n : NAN;
        for (size_t i = 0; i < n; i++)
            ss += (v[i] - g->mean) * (v[i] - g->mean);
        g->std = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
        g->min = n ? v[0] : NAN;
        g->max = n ? v[n - 1] : NAN;
        g->median = qr_report_quantile(v, n, 0.5);
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
        qr_report_group *g = &rp->groups[k];
        g->base = rp->baseline;
        if (baseline || rp->n_eight < 2)
            continue;
        long best_match = -1;
        for (size_t j = 0; j < rp->n_groups; j++) {
            const qr_report_group *h = &rp->groups[j];
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
        qr_report_group *g = &rp->groups[k];
        if (isnan(g->bytes) || isnan(g->mean))
            continue;
        g->pareto = 1;
        for (size_t j = 0; j < rp->n_groups && g->pareto; j++) {
            const qr_report_group *h = &rp->groups[j];
            if (j == k || isnan(h->bytes) || isnan(h->mean))
                continue;
            if (h->bytes <= g->bytes && h->mean >= g->mean &&
                (h->bytes < g->bytes || h->mean > g->mean))
                g->pareto = 0;
        }
    }
    return QR_OK;
}

int qr_report_in_baseline(const qr_report *rp, size_t row)
{
    const qr_report_group *bg = rp->baseline >= 0 ? &rp->groups[rp->baseline] : NULL;
    for (size_t j = 0; bg && j < bg->n_rows; j++)
        if (bg->rows[j] == row)
            return 1;
    return 0;
}

void qr_report_group_label(const qr_report *rp, const qr_report_group *g, char *buf, size_t n,
                           const char *sep)
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

void qr_report_free(qr_report *rp)
{
    for (size_t k = 0; k < rp->n_groups; k++)
        free(rp->groups[k].rows);
    free(rp->groups);
    free(rp->gcols);
    free(rp->varies);
    qr_sweep_short_names_free(rp->short_names, rp->res.n_columns);
    qr_sweep_results_free(&rp->res);
}
