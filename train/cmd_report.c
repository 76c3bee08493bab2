/* qreg report RESULTS...: summarize sweep results (sweep.h) per configuration — the rows
 * grouped by every setting but the seed (report_groups.c) — as a table on stdout, CSV and
 * markdown files (report_tables.c), and SVG plots: accuracy vs bytes with the Pareto front
 * (report_pareto.c), accuracy per schedule (box plot, report_box.c) and a heat map over two
 * numeric settings (report_heatmap.c). This file: the options, the inputs and the outputs. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "report.h"

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
    "contains 'schedule') and heatmap.svg (mean accuracy over the first two numeric settings);\n"
    "a plot only when it has runs to show (accuracy vs bytes: none for float-only runs, which\n"
    "have no size), and it lists the files it wrote.\n"
    "\n"
    "options:\n"
    "  --out DIR        output directory (default: report/ beside the first results file)\n"
    "  --metric M       fq (default), float or int: which test/validation accuracy to use\n"
    "  --baseline S     the baseline group, as setting=value[,setting=value...]\n"
    "  --box NAME       the setting for the box plot (default: one named like 'schedule')\n"
    "  --heatmap X,Y    the two settings of the heat map\n"
    "  --title TEXT     a title prefix for the plots\n"
    "  --json           print the summary as one JSON object on stdout instead of the table:\n"
    "                   runs, metric, settings alike in every run, baseline, one object per\n"
    "                   configuration with summary.csv's columns, and the files written\n"
    "  -h, --help       this help\n";

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

static long find_column(const qr_report *rp, const char *name)
{
    for (size_t c = 0; c < rp->res.n_columns; c++) {
        if (strcmp(rp->res.columns[c], name) == 0 || strcmp(rp->short_names[c], name) == 0)
            return (long)c;
    }
    return -1;
}

static int is_number(const char *s)
{
    if (!s[0])
        return 0;
    char *end;
    double v = strtod(s, &end);
    return !*end && isfinite(v);
}

/* Is setting column c numeric with more than one value over the non-baseline ok runs? */
static int numeric_axis(const qr_report *rp, size_t c)
{
    const char *first = NULL;
    int varies = 0;
    for (size_t i = 0; i < rp->res.n_rows; i++) {
        const qr_sweep_row *r = &rp->res.rows[i];
        if (!r->ok)
            continue;
        if (rp->baseline >= 0 &&
            qr_report_same_group(rp, r, &rp->res.rows[rp->groups[rp->baseline].first]))
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

/* Text output only without --json; with it, the files written are listed in the JSON. */
#define SAY(...) ((void)(json ? 0 : printf(__VA_ARGS__)))
#define WROTE(p) ((void)(jwrote && cJSON_AddItemToArray(jwrote, cJSON_CreateString(p))))

int qr_cmd_report(int argc, char **argv)
{
    const char *out = NULL, *baseline = NULL, *box = NULL, *heat = NULL, *v;
    int json = 0;
    cJSON *jo = NULL, *jwrote = NULL;
    qr_report rp;
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
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
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
    if ((s = qr_report_build_groups(&rp, baseline, &err)))
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
    if (json) {
        if (!(jo = qr_report_json(&rp, files, n_files)) ||
            !(jwrote = cJSON_AddArrayToObject(jo, "wrote"))) {
            s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    size_t ok = 0;
    for (size_t i = 0; i < rp.res.n_rows; i++)
        ok += rp.res.rows[i].ok != 0;
    SAY("%zu runs (%zu ok, %zu failed) in %zu configurations from %zu file%s", rp.res.n_rows,
           ok, rp.res.n_rows - ok, rp.n_groups, n_files, n_files == 1 ? "" : "s");
    if (raw > rp.res.n_rows)
        SAY(" (%zu repeated rows of the same id counted once)", raw - rp.res.n_rows);
    if (rp.res.skipped)
        SAY(" (%zu malformed lines skipped)", rp.res.skipped);
    SAY("\naccuracy: %s, %%\n", qr_report_metric_name(&rp));
    for (size_t i = 0; i < rp.n_gcols; i++)
        if (!rp.varies[i])
            SAY("same in every run: %s = %s\n", rp.res.columns[rp.gcols[i]],
                   rp.res.rows[0].labels[rp.gcols[i]]);
    if (rp.baseline >= 0) {
        char lab[512];
        qr_report_group_label(&rp, &rp.groups[rp.baseline], lab, sizeof lab, ", ");
        SAY("baseline: %s\n", lab);
    } else if (rp.n_eight) {
        SAY("baselines: the %zu 8-bit configurations; each row is compared with the one "
               "sharing the most settings\n", rp.n_eight);
    }
    SAY("\n");
    if (!json)
        qr_report_print_table(&rp, stdout);
    /* files */
    char *p_csv = out_path(dir, "summary.csv"), *p_md = out_path(dir, "summary.md");
    char *p_par = out_path(dir, "accuracy_vs_bytes.svg");
    char *p_box = out_path(dir, "accuracy_per_schedule.svg"), *p_heat = out_path(dir, "heatmap.svg");
    if (!p_csv || !p_md || !p_par || !p_box || !p_heat)
        s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
    if (s == QR_OK)
        s = qr_report_write_summary_csv(&rp, p_csv, &err);
    if (s == QR_OK)
        s = qr_report_write_summary_md(&rp, p_md, files, n_files, &err);
    SAY("\nwrote %s, %s", p_csv, p_md);
    WROTE(p_csv);
    WROTE(p_md);
    /* only the plots written: each has nothing to draw without ok runs (accuracy vs bytes:
     * without sizes either, as in a float-only sweep) */
    int wrote = 0;
    if (s == QR_OK && (s = qr_report_plot_pareto(&rp, p_par, &wrote, &err)) == QR_OK && wrote)
        SAY(", %s", p_par), WROTE(p_par);
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
    if (s == QR_OK && bcol >= 0 &&
        (s = qr_report_plot_box(&rp, (size_t)bcol, p_box, &wrote, &err)) == QR_OK && wrote)
        SAY(", %s", p_box), WROTE(p_box);
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
        (s = qr_report_plot_heatmap(&rp, (size_t)hx, (size_t)hy, p_heat, &wrote, &err)) ==
            QR_OK && wrote)
        SAY(", %s", p_heat), WROTE(p_heat);
    SAY("\n");
    if (json && s == QR_OK) {
        char *text = cJSON_PrintUnformatted(jo);
        if (text)
            printf("%s\n", text);
        else
            s = qr_error_set(&err, QR_ERR_NOMEM, "out of memory");
        free(text);
    }
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
    cJSON_Delete(jo);
    qr_report_free(&rp);
    free(args);
    return rc;
}
