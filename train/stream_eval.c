/* qreg eval --int --stream: the integer model run frame by frame over continuous recordings
 * (reset at the start of each recording only), per-frame accuracy and per-event detection,
 * false alarms per hour and latency (docs/streaming.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "stream_eval.h"
#include "qreg/export.h"
#include "export/qrt_host.h"

int qr_stream_opt(int argc, char **argv, int *i, qr_stream_opts *o)
{
    const char *v;
    char *end;
    if (strcmp(argv[*i], "--stream") == 0) {
        o->on = 1;
        return 1;
    }
    if (strcmp(argv[*i], "--stream-window") == 0) {
        o->window = 1;
        return 1;
    }
    if (qr_cli_opt(argc, argv, i, "--stream-k", &v))
        return v && qr_cli_size(v, &o->k) == 0 && o->k >= 1 ? 1 : -1;
    if (qr_cli_opt(argc, argv, i, "--stream-tolerance", &v)) {
        o->tolerance = v ? strtod(v, &end) : -1.0;
        return v && *v && !*end && o->tolerance >= 0.0 && o->tolerance < 1e6 ? 1 : -1;
    }
    if (qr_cli_opt(argc, argv, i, "--stream-rate", &v)) {
        o->rate = v ? strtod(v, &end) : -1.0;
        return v && *v && !*end && o->rate > 0.0 && o->rate < 1e9 ? 1 : -1;
    }
    if (qr_cli_opt(argc, argv, i, "--stream-out", &v))
        return (o->frames_out = v) && *v ? 1 : -1;
    return 0;
}

/* The recordings: n frames of f features, a label (class index), recording and event id each. */
typedef struct rec_data {
    size_t n, f, cap;
    float *x;
    int *y;
    long *rec, *ev;
} rec_data;

static void rec_free(rec_data *d)
{
    free(d->x);
    free(d->y);
    free(d->rec);
    free(d->ev);
}

/* Split line (modified in place) at commas into at most max fields; returns the count. */
static size_t split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        fields[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int class_of(const char *s, const char *const *names, size_t n_classes)
{
    for (size_t c = 0; names && c < n_classes; c++)
        if (strcmp(s, names[c]) == 0)
            return (int)c;
    char *end;
    long v = strtol(s, &end, 10);
    if (!names && *s && !*end && v >= 0 && (size_t)v < n_classes)
        return (int)v;
    return -1;
}

#define MAX_COLS 256

static int read_recordings(const char *path, size_t f, const char *const *names,
                           size_t n_classes, rec_data *d)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "qreg eval: %s: cannot open\n", path);
        return 1;
    }
    char *line = NULL, *col[MAX_COLS];
    size_t cap = 0, lineno = 0;
    int li = -1, ri = -1, ei = -1, fi[MAX_COLS], nf = 0, rc = 1;
    size_t ncol = 0;
    while (getline(&line, &cap, fp) > 0) {
        lineno++;
        size_t n = split(line, col, MAX_COLS);
        if (lineno == 1) {
            ncol = n;
            for (size_t j = 0; j < n; j++) {
                if (strcmp(col[j], "label") == 0)
                    li = (int)j;
                else if (strcmp(col[j], "recording") == 0)
                    ri = (int)j;
                else if (strcmp(col[j], "event") == 0)
                    ei = (int)j;
                else if (strcmp(col[j], "frame") != 0)
                    fi[nf++] = (int)j;
            }
            if (li < 0 || (size_t)nf != f) {
                fprintf(stderr, "qreg eval: %s: --stream needs a header with a 'label' column "
                        "and %zu feature columns (the model's frame); found %d (docs/streaming.md)\n",
                        path, f, nf);
                goto done;
            }
            continue;
        }
        if (n == 1 && !*col[0])
            continue;
        if (n != ncol) {
            fprintf(stderr, "qreg eval: %s:%zu: %zu fields, the header has %zu\n", path, lineno,
                    n, ncol);
            goto done;
        }
        if (d->n == d->cap) {
            size_t nc = d->cap ? 2 * d->cap : 4096;
            float *x = realloc(d->x, nc * f * sizeof *x);
            if (x)
                d->x = x;
            int *y = realloc(d->y, nc * sizeof *y);
            if (y)
                d->y = y;
            long *r = realloc(d->rec, nc * sizeof *r);
            if (r)
                d->rec = r;
            long *e = realloc(d->ev, nc * sizeof *e);
            if (e)
                d->ev = e;
            if (!x || !y || !r || !e) {
                fprintf(stderr, "qreg eval: out of memory\n");
                goto done;
            }
            d->cap = nc;
        }
        char *end;
        for (int j = 0; j < nf; j++) {
            d->x[d->n * f + (size_t)j] = strtof(col[fi[j]], &end);
            if (end == col[fi[j]] || *end) {
                fprintf(stderr, "qreg eval: %s:%zu: '%s' is not a number\n", path, lineno,
                        col[fi[j]]);
                goto done;
            }
        }
        if ((d->y[d->n] = class_of(col[li], names, n_classes)) < 0) {
            fprintf(stderr, "qreg eval: %s:%zu: label '%s' is not a class of the model\n", path,
                    lineno, col[li]);
            goto done;
        }
        d->rec[d->n] = ri >= 0 ? strtol(col[ri], NULL, 10) : 0;
        d->ev[d->n] = ei >= 0 ? strtol(col[ei], NULL, 10) : 0;
        d->n++;
    }
    if (!d->n) {
        fprintf(stderr, "qreg eval: %s: no frames\n", path);
        goto done;
    }
    rc = 0;
done:
    free(line);
    fclose(fp);
    return rc;
}

/* Predicted class of every frame (-1 before the model's first output), resetting the
 * stream where the recording id changes. */
static int predict(qr_model *m, const rec_data *d, size_t window, int *pred)
{
    qr_error err = {{0}};
    uint8_t *blob = NULL;
    size_t len = 0;
    if (qr_export_blob(m, &blob, &len, NULL, &err) != QR_OK) {
        fprintf(stderr, "qreg eval: %s\n", err.msg);
        return 1;
    }
    qrt_model qm;
    qrt_stream s;
    qrt_status qs = qrt_model_load(&qm, blob, len);
    size_t scratch_n = qs == QRT_OK ? qrt_scratch_size(&qm) : 0;
    void *scratch = malloc(scratch_n + 8);
    int32_t *xq = malloc((d->f + 1) * sizeof *xq), *logits = malloc(((size_t)qm.n_outputs + 1) *
                                                                      sizeof *logits);
    int rc = 1;
    if (qs != QRT_OK || !scratch || !xq || !logits) {
        fprintf(stderr, "qreg eval: integer model: %s\n",
                qs != QRT_OK ? qrt_strerror(qs) : "out of memory");
        goto done;
    }
    if ((qs = qrt_stream_init(&s, &qm, scratch, scratch_n)) != QRT_OK)
        goto fail;
    size_t start = 0; /* the first frame of the current recording */
    for (size_t i = 0; i < d->n; i++) {
        if (i && d->rec[i] != d->rec[i - 1]) {
            start = i;
            if ((qs = qrt_stream_reset(&s)) != QRT_OK)
                goto fail;
        }
        if (window && i + 1 - start < window) { /* not a whole window yet */
            pred[i] = -1;
            continue;
        }
        size_t from = window ? i + 1 - window : i;
        if (window && (qs = qrt_stream_reset(&s)) != QRT_OK)
            goto fail;
        for (size_t j = from; j <= i; j++)
            if ((qs = qrt_quantize_input(&qm, d->x + j * d->f, 1, xq)) != QRT_OK ||
                (qs = qrt_stream_push(&s, xq)) != QRT_OK)
                goto fail;
        /* a window ends: same padding's right-hand zeros (always-on streaming never ends, so
         * a same convolution's outputs there come pad_right frames late) */
        if (window && (qs = qrt_stream_finish(&s)) != QRT_OK)
            goto fail;
        qs = qrt_stream_logits(&s, logits);
        if (qs == QRT_ERR_NOT_READY)
            pred[i] = -1;
        else if (qs == QRT_OK)
            pred[i] = (int)qrt_argmax(logits, qm.n_outputs);
        else
            goto fail;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "qreg eval: integer model: %s\n", qrt_strerror(qs));
done:
    free(blob);
    free(scratch);
    free(xq);
    free(logits);
    return rc;
}

typedef struct event {
    size_t first, last; /* frame indices */
    int cls;            /* the event's class: its first non-background label, 0 if none */
    long detected_at;   /* frame of its first detection, -1 */
} event;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int qr_stream_eval(qr_model *m, const char *model_path, const char *path,
                   const qr_stream_opts *o, int json)
{
    const qr_model_spec *spec = qr_model_spec_of(m);
    const char *const *names = qr_model_classes(m);
    size_t nc = spec->n_classes;
    rec_data d = {0};
    d.f = spec->f;
    int *pred = NULL, rc = 1;
    event *ev = NULL;
    unsigned char *near = NULL;
    double *lat = NULL;
    size_t n_ev = 0;
    if (read_recordings(path, d.f, names, nc, &d))
        goto done;
    pred = malloc(d.n * sizeof *pred);
    near = calloc(d.n, 1);
    ev = malloc(d.n * sizeof *ev);
    size_t *per_true = calloc(2 * nc, sizeof *per_true); /* frames, correct per true class */
    if (!pred || !near || !ev || !per_true) {
        free(per_true);
        fprintf(stderr, "qreg eval: out of memory\n");
        goto done;
    }
    if (predict(m, &d, o->window ? spec->t : 0, pred)) {
        free(per_true);
        goto done;
    }
    if (o->frames_out) {
        FILE *fo = fopen(o->frames_out, "w");
        if (!fo) {
            free(per_true);
            fprintf(stderr, "qreg eval: %s: cannot write\n", o->frames_out);
            goto done;
        }
        for (size_t i = 0; i < d.n; i++) {
            if (pred[i] < 0)
                fputs("-\n", fo);
            else if (names)
                fprintf(fo, "%s\n", names[pred[i]]);
            else
                fprintf(fo, "%d\n", pred[i]);
        }
        if (fclose(fo) != 0) {
            free(per_true);
            fprintf(stderr, "qreg eval: %s: write failed\n", o->frames_out);
            goto done;
        }
    }
    /* per frame */
    size_t ready = 0, correct = 0, n_rec = 0;
    for (size_t i = 0; i < d.n; i++) {
        n_rec += !i || d.rec[i] != d.rec[i - 1];
        if (pred[i] < 0)
            continue;
        ready++;
        correct += pred[i] == d.y[i];
        per_true[2 * (size_t)d.y[i]]++;
        per_true[2 * (size_t)d.y[i] + 1] += pred[i] == d.y[i];
    }
    /* events: runs of one nonzero event id within a recording */
    for (size_t i = 0; i < d.n; i++) {
        if (!d.ev[i])
            continue;
        if (i && d.ev[i] == d.ev[i - 1] && d.rec[i] == d.rec[i - 1] && n_ev) {
            ev[n_ev - 1].last = i;
            if (!ev[n_ev - 1].cls)
                ev[n_ev - 1].cls = d.y[i];
            continue;
        }
        ev[n_ev++] = (event){i, i, d.y[i], -1};
    }
    long tol = (long)floor(o->tolerance * o->rate + 0.5);
    size_t n_target = 0;
    for (size_t e = 0; e < n_ev; e++) {
        if (!ev[e].cls)
            continue;
        n_target++;
        long lo = (long)ev[e].first - tol, hi = (long)ev[e].last + tol;
        for (long j = lo < 0 ? 0 : lo; j <= hi && (size_t)j < d.n; j++)
            if (d.rec[j] == d.rec[ev[e].first])
                near[j] = 1;
    }
    /* detections: the k-th frame of a run of one non-background prediction */
    size_t false_alarms = 0, detections = 0, run = 0;
    for (size_t i = 0; i < d.n; i++) {
        int newrec = !i || d.rec[i] != d.rec[i - 1];
        if (pred[i] <= 0 || newrec || pred[i] != pred[i - 1])
            run = 0;
        if (pred[i] <= 0)
            continue;
        if (++run != o->k)
            continue;
        detections++;
        int hit = 0;
        for (size_t e = 0; e < n_ev; e++) {
            if (ev[e].cls != pred[i] || d.rec[ev[e].first] != d.rec[i] ||
                (long)i < (long)ev[e].first - tol || (long)i > (long)ev[e].last + tol)
                continue;
            hit = 1;
            if (ev[e].detected_at < 0)
                ev[e].detected_at = (long)i;
        }
        false_alarms += !hit;
    }
    size_t idle = 0, n_det = 0;
    for (size_t i = 0; i < d.n; i++)
        idle += !near[i];
    lat = malloc((n_target + 1) * sizeof *lat);
    if (!lat) {
        free(per_true);
        goto done;
    }
    for (size_t e = 0; e < n_ev; e++)
        if (ev[e].cls && ev[e].detected_at >= 0)
            lat[n_det++] = (double)(ev[e].detected_at - (long)ev[e].first) / o->rate;
    qsort(lat, n_det, sizeof *lat, cmp_double);
    double lat_mean = 0.0;
    for (size_t e = 0; e < n_det; e++)
        lat_mean += lat[e] / (double)n_det;
    double idle_h = (double)idle / o->rate / 3600.0;
    double acc = ready ? (double)correct / (double)ready : NAN;
    double recall = n_target ? (double)n_det / (double)n_target : NAN;
    double fa_h = idle_h > 0.0 ? (double)false_alarms / idle_h : NAN;
    double lat_med = n_det ? (n_det % 2 ? lat[n_det / 2] : 0.5 * (lat[n_det / 2 - 1] + lat[n_det / 2]))
                           : NAN;
    double lat_max = n_det ? lat[n_det - 1] : NAN;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", model_path);
        cJSON_AddStringToObject(j, "data", path);
        cJSON_AddNumberToObject(j, "recordings", (double)n_rec);
        cJSON_AddNumberToObject(j, "frames", (double)d.n);
        cJSON_AddNumberToObject(j, "frames_with_output", (double)ready);
        cJSON_AddNumberToObject(j, "frame_accuracy", acc);
        cJSON *pr = cJSON_AddArrayToObject(j, "frame_recall");
        for (size_t c = 0; c < nc; c++)
            cJSON_AddItemToArray(pr, cJSON_CreateNumber(per_true[2 * c] ?
                (double)per_true[2 * c + 1] / (double)per_true[2 * c] : NAN));
        cJSON_AddBoolToObject(j, "window", o->window);
        cJSON_AddNumberToObject(j, "k", (double)o->k);
        cJSON_AddNumberToObject(j, "tolerance_s", o->tolerance);
        cJSON_AddNumberToObject(j, "rate_hz", o->rate);
        cJSON_AddNumberToObject(j, "events", (double)n_target);
        cJSON_AddNumberToObject(j, "events_detected", (double)n_det);
        cJSON_AddNumberToObject(j, "event_recall", recall);
        cJSON_AddNumberToObject(j, "detections", (double)detections);
        cJSON_AddNumberToObject(j, "false_alarms", (double)false_alarms);
        cJSON_AddNumberToObject(j, "idle_hours", idle_h);
        cJSON_AddNumberToObject(j, "false_alarms_per_hour", fa_h);
        cJSON_AddNumberToObject(j, "latency_mean_s", n_det ? lat_mean : NAN);
        cJSON_AddNumberToObject(j, "latency_median_s", lat_med);
        cJSON_AddNumberToObject(j, "latency_max_s", lat_max);
        char *text = cJSON_PrintUnformatted(j);
        if (text)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
    } else {
        printf("recordings: %zu, frames: %zu (%.1f min at %g Hz), %s\n", n_rec, d.n,
               (double)d.n / o->rate / 60.0, o->rate, o->window ?
               "each frame classified by the window ending at it (--stream-window)" :
               "reset at each recording's start");
        printf("integer model, per frame: accuracy %.4f over %zu frames with an output\n", acc,
               ready);
        printf("  recall per true class:");
        for (size_t c = 0; c < nc; c++) {
            if (names)
                printf(" %s", names[c]);
            else
                printf(" %zu", c);
            if (per_true[2 * c])
                printf(" %.4f (%zu frames)", (double)per_true[2 * c + 1] /
                       (double)per_true[2 * c], per_true[2 * c]);
            else
                printf(" - (0 frames)");
        }
        printf("\n");
        printf("events (a prediction held %zu frames within the event's span +- %g s): "
               "%zu of %zu detected (%.4f)\n", o->k, o->tolerance, n_det, n_target, recall);
        printf("  latency from the event's start: mean %.2f s, median %.2f s, max %.2f s\n",
               n_det ? lat_mean : NAN, lat_med, lat_max);
        printf("false alarms: %zu of %zu detections, in %.3f h away from events: %.1f per hour\n",
               false_alarms, detections, idle_h, fa_h);
    }
    free(per_true);
    rc = 0;
done:
    rec_free(&d);
    free(pred);
    free(near);
    free(ev);
    free(lat);
    return rc;
}
