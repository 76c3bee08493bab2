/* qreg distill-logits TEACHER.qrm --data FILE.csv --out LOGITS.csv: run a large teacher once
 * and store its logits, one row per data row, for distillation without the teacher. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "lib/fileio.h"

static const char help[] =
    "usage: qreg distill-logits TEACHER.qrm --data FILE.csv --out LOGITS.csv [options]\n"
    "\n"
    "Run a trained teacher model over every data row of FILE.csv and write its logits as CSV:\n"
    "a header naming the classes, then one row per data row, one column per class. A config's\n"
    "\"distill\": {\"logits\": \"LOGITS.csv\"} then distills from these numbers instead of running\n"
    "the teacher; FILE.csv must be the config's data.train file (rows are matched by position).\n"
    "\n"
    "options:\n"
    "  --data FILE      the training CSV (required)\n"
    "  --out FILE       where to write the logits (required; written atomically)\n"
    "  --label COL      label column: a header name or a 0-based index (default: last)\n"
    "  --header MODE    auto (default), yes or no\n"
    "  -h, --help       this help\n";

int qr_cmd_distill_logits(int argc, char **argv)
{
    const char *model_path = NULL, *data = NULL, *out = NULL, *label = NULL, *header = "auto", *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help, stdout);
            return 0;
        } else if (qr_cli_opt(argc, argv, &i, "--data", &v)) {
            if (!(data = v))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!(out = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--label", &v)) {
            if (!(label = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--header", &v)) {
            if (!(header = v) || (strcmp(v, "auto") && strcmp(v, "yes") && strcmp(v, "no")))
                goto bad;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg distill-logits: unknown option '%s'\n", a);
            return 2;
        } else if (!model_path) {
            model_path = a;
        } else {
            fprintf(stderr, "qreg distill-logits: more than one model given\n");
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg distill-logits: option '%s' needs a valid value\n", a);
        return 2;
    }
    if (!model_path || !data || !out) {
        fputs(help, stderr);
        return 2;
    }
    qr_error err = {{0}};
    qr_model *m = NULL;
    if (qr_model_load(model_path, 256, &m, &err) != QR_OK) {
        fprintf(stderr, "qreg distill-logits: %s\n", err.msg);
        return 1;
    }
    const qr_model_spec *spec = qr_model_spec_of(m);
    qr_csv_options o = qr_cli_model_csv_options(m, data, label, header);
    qr_dataset d = {0};
    float *logits = NULL;
    qr_buf b = {0};
    int rc = 1;
    size_t c = spec->n_classes;
    if (qr_csv_load(&o, &d, &err) != QR_OK) {
        fprintf(stderr, "qreg distill-logits: %s\n", err.msg);
        goto done;
    }
    if (d.t * d.f != spec->t * spec->f) {
        fprintf(stderr, "qreg distill-logits: %s: %zu features per row, the teacher takes %zu\n",
                data, d.t * d.f, spec->t * spec->f);
        goto done;
    }
    if (!(logits = malloc((d.n * c + 1) * sizeof *logits)) ||
        qr_model_predict(m, d.x, d.n, logits, NULL) != QR_OK) {
        fprintf(stderr, "qreg distill-logits: running the teacher failed\n");
        goto done;
    }
    for (size_t j = 0; j < c; j++) {
        const char *name = d.class_names[j];
        if (j)
            qr_buf_put(&b, ",", 1);
        /* class names go in the header as they are, minus separators */
        for (const char *p = name; *p; p++)
            qr_buf_put(&b, (*p == ',' || *p == '\n' || *p == '\r') ? "_" : p, 1);
    }
    qr_buf_put(&b, "\n", 1);
    for (size_t i = 0; i < d.n; i++)
        for (size_t j = 0; j < c; j++) {
            char num[32];
            int k = snprintf(num, sizeof num, "%.9g%s", (double)logits[i * c + j],
                             j + 1 < c ? "," : "\n");
            qr_buf_put(&b, num, (size_t)k);
        }
    if (b.nomem || qr_file_write_atomic(out, b.data, b.len, &err) != QR_OK) {
        fprintf(stderr, "qreg distill-logits: %s\n", b.nomem ? "out of memory" : err.msg);
        goto done;
    }
    printf("wrote %s: %zu rows x %zu classes\n", out, d.n, c);
    rc = 0;
done:
    qr_buf_free(&b);
    free(logits);
    qr_dataset_free(&d);
    qr_model_free(m);
    return rc;
}
