/* qreg report --json: the summary — runs, the metric, the settings alike in every run, the
 * baseline and one object per configuration with the summary.csv columns — as one JSON object. */
#include <math.h>
#include <stdio.h>
#include "report.h"

cJSON *qr_report_json(const qr_report *rp, char *const *inputs, size_t n_inputs)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    size_t ok = 0;
    for (size_t i = 0; i < rp->res.n_rows; i++)
        ok += rp->res.rows[i].ok != 0;
    cJSON_AddNumberToObject(o, "runs", (double)rp->res.n_rows);
    cJSON_AddNumberToObject(o, "ok", (double)ok);
    cJSON_AddNumberToObject(o, "failed", (double)(rp->res.n_rows - ok));
    cJSON_AddNumberToObject(o, "configurations", (double)rp->n_groups);
    cJSON_AddNumberToObject(o, "malformed_lines", (double)rp->res.skipped);
    cJSON *in = cJSON_AddArrayToObject(o, "inputs");
    for (size_t i = 0; in && i < n_inputs; i++)
        cJSON_AddItemToArray(in, cJSON_CreateString(inputs[i]));
    cJSON_AddStringToObject(o, "metric", qr_report_metric_name(rp));
    cJSON *same = cJSON_AddObjectToObject(o, "same");
    for (size_t i = 0; same && i < rp->n_gcols; i++)
        if (!rp->varies[i])
            cJSON_AddStringToObject(same, rp->res.columns[rp->gcols[i]],
                                    rp->res.rows[0].labels[rp->gcols[i]]);
    if (rp->baseline >= 0) {
        char lab[512];
        qr_report_group_label(rp, &rp->groups[rp->baseline], lab, sizeof lab, ", ");
        cJSON_AddStringToObject(o, "baseline", lab);
    } else {
        cJSON_AddNullToObject(o, "baseline");
    }
    cJSON_AddNumberToObject(o, "eight_bit_configurations", (double)rp->n_eight);
    cJSON *groups = cJSON_AddArrayToObject(o, "groups");
    for (size_t k = 0; groups && k < rp->n_groups; k++) {
        const qr_report_group *g = &rp->groups[k];
        const qr_sweep_row *r = &rp->res.rows[g->first];
        cJSON *j = cJSON_CreateObject();
        if (!j || !cJSON_AddItemToArray(groups, j)) {
            cJSON_Delete(j);
            break;
        }
        cJSON *set = cJSON_AddObjectToObject(j, "settings");
        for (size_t i = 0; set && i < rp->n_gcols; i++)
            cJSON_AddStringToObject(set, rp->res.columns[rp->gcols[i]], r->labels[rp->gcols[i]]);
        /* the columns of summary.csv; NaN (nothing to average) is null */
        cJSON_AddNumberToObject(j, "n_ok", (double)g->n_ok);
        cJSON_AddNumberToObject(j, "n_runs", (double)g->n_rows);
        cJSON_AddNumberToObject(j, "mean", g->mean);
        cJSON_AddNumberToObject(j, "std", g->std);
        cJSON_AddNumberToObject(j, "min", g->min);
        cJSON_AddNumberToObject(j, "median", g->median);
        cJSON_AddNumberToObject(j, "max", g->max);
        cJSON_AddNumberToObject(j, "best_on_val", g->picked);
        if (isnan(g->picked))
            cJSON_AddNullToObject(j, "best_on_val_seed");
        else
            cJSON_AddNumberToObject(j, "best_on_val_seed", (double)g->picked_seed);
        cJSON_AddNumberToObject(j, "float_mean", g->float_mean);
        cJSON_AddNumberToObject(j, "int_mean", g->int_mean);
        cJSON_AddNumberToObject(j, "bytes", g->bytes);
        cJSON_AddNumberToObject(j, "actual_bytes", g->actual_bytes);
        cJSON_AddNumberToObject(j, "baseline_bytes", g->baseline_bytes);
        cJSON_AddNumberToObject(j, "reduction_pct", g->reduction);
        cJSON_AddNumberToObject(j, "delta_vs_baseline_points", g->delta);
        cJSON_AddNumberToObject(j, "seconds_mean", g->seconds);
        cJSON_AddBoolToObject(j, "pareto", g->pareto);
        cJSON_AddBoolToObject(j, "baseline", (long)k == g->base);
    }
    return o;
}
