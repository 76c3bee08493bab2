/* qreg eval MODEL --data CSV: accuracy, loss and confusion matrix of a saved model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "qreg/export.h"

static const char eval_help[] =
    "usage: qreg eval MODEL.qrm --data FILE.csv [options]\n"
    "\n"
    "Evaluate a saved model on a labelled CSV file: accuracy, loss and the confusion matrix.\n"
    "The file is read with the model's input shape and class names; labels the model does\n"
    "not know are an error.\n"
    "\n"
    "options:\n"
    "  --data FILE       the CSV file (required)\n"
    "  --label COL       label column: a header name or a 0-based index (default: last)\n"
    "  --header MODE     auto (default), yes or no\n"
    "  --int             also run the integer model (the device runtime, built for the host)\n"
    "                    and report its accuracy and agreement with the fake-quantized model\n"
    "  --json            print the result as one JSON object\n"
    "  -h, --help        this help\n"
    "\n"
    "A loss or logits that are not finite (inputs that overflow the model's float arithmetic)\n"
    "are an error (exit 1) naming the first such sample; no result is printed.\n";

/* The loss came out NaN or infinite: name the first sample whose logits are not finite (a
 * result built on them would be meaningless, so eval fails). */
static void report_nonfinite(qr_model *m, const qr_dataset *d, const char *data, double loss)
{
    size_t c = qr_model_spec_of(m)->n_classes, row = d->t * d->f, chunk = 256;
    float *z = malloc(chunk * c * sizeof *z);
    for (size_t at = 0; z && at < d->n; at += chunk) {
        size_t b = d->n - at < chunk ? d->n - at : chunk;
        if (qr_model_predict(m, d->x + at * row, b, z, NULL) != QR_OK)
            break;
        for (size_t i = 0; i < b * c; i++)
            if (!isfinite(z[i])) {
                size_t k = at + i / c;
                fprintf(stderr, "qreg eval: %s: the loss is %g: the logits of sample %zu (data "
                        "row %zu) are not finite (%g); its values overflow the model's float "
                        "arithmetic, or the model is broken. No result.\n", data, loss, k + 1,
                        (d->source_row ? d->source_row[k] : k) + 1, (double)z[i]);
                free(z);
                return;
            }
    }
    free(z);
    fprintf(stderr, "qreg eval: %s: the loss is %g (not finite). No result.\n", data, loss);
}

int qr_cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *data = NULL, *label = NULL, *header = "auto", *v;
    int json = 0, integer = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(eval_help, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--int") == 0) {
            integer = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--data", &v)) {
            if (!(data = v))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--label", &v)) {
            if (!(label = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--header", &v)) {
            if (!(header = v) ||
                (strcmp(v, "auto") && strcmp(v, "yes") && strcmp(v, "no")))
                goto bad;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg eval: unknown option '%s' (see qreg eval --help)\n", a);
            return 2;
        } else if (!model_path) {
            model_path = a;
        } else {
            fprintf(stderr, "qreg eval: more than one model given ('%s')\n", a);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg eval: option '%s' needs a valid value (see qreg eval --help)\n", a);
        return 2;
    }
    if (!model_path || !data) {
        fputs(eval_help, stderr);
        return 2;
    }
    qr_error err = {{0}};
    qr_model *m = NULL;
    if (qr_model_load(model_path, 256, &m, &err) != QR_OK) {
        fprintf(stderr, "qreg eval: %s\n", err.msg);
        return 1;
    }
    const qr_model_spec *spec = qr_model_spec_of(m);
    qr_csv_options o = qr_cli_model_csv_options(m, data, label, header);
    qr_dataset d = {0};
    int rc = 1;
    int32_t *pred = NULL, *fq_pred = NULL;
    size_t *confusion = NULL;
    if (qr_csv_load(&o, &d, &err) != QR_OK) {
        fprintf(stderr, "qreg eval: %s\n", err.msg);
        goto done;
    }
    if (d.t * d.f != spec->t * spec->f) {
        fprintf(stderr, "qreg eval: %s: %zu features per sample, the model takes %zu\n", data,
                d.t * d.f, spec->t * spec->f);
        goto done;
    }
    if (d.n_classes != spec->n_classes) {
        fprintf(stderr, "qreg eval: %s: %zu classes, the model has %zu\n", data, d.n_classes,
                spec->n_classes);
        goto done;
    }
    size_t c = spec->n_classes;
    pred = malloc(d.n * sizeof *pred);
    confusion = calloc(c * c, sizeof *confusion);
    double loss, acc;
    if (!pred || !confusion || qr_evaluate(m, &d, &loss, &acc, pred) != QR_OK) {
        fprintf(stderr, "qreg eval: evaluation failed\n");
        goto done;
    }
    if (!isfinite(loss)) {
        report_nonfinite(m, &d, data, loss);
        goto done;
    }
    for (size_t i = 0; i < d.n; i++)
        confusion[(size_t)d.y[i] * c + (size_t)pred[i]]++;
    /* with a quantization plan (or --int): the accuracy of the weights rounded as deployed */
    const qr_quant_plan *plan = qr_model_quant_plan(m);
    double fq_acc = NAN, int_acc = NAN, agree = NAN;
    if (plan || integer) {
        qr_quant_plan own = {0};
        if (!plan && qr_quant_plan_init(&own, qr_model_spec_of(m)) != QR_OK)
            goto done;
        const qr_quant_plan *use = plan ? plan : &own;
        size_t n_all;
        float *w = qr_graph_params(qr_model_graph(m), NULL, &n_all);
        float *save = malloc((n_all + 1) * sizeof *save);
        if (!save) {
            fprintf(stderr, "qreg eval: out of memory\n");
            goto done;
        }
        memcpy(save, w, n_all * sizeof *save);
        qr_quant_fake(use, qr_model_graph(m));
        fq_pred = malloc((d.n + 1) * sizeof *fq_pred);
        qr_status es = fq_pred ? qr_evaluate(m, &d, NULL, &fq_acc, fq_pred) : QR_ERR_NOMEM;
        memcpy(w, save, n_all * sizeof *save);
        free(save);
        qr_quant_plan_free(&own);
        if (es != QR_OK) {
            fprintf(stderr, "qreg eval: evaluation failed\n");
            goto done;
        }
    }
    if (integer) {
        uint8_t *blob = NULL;
        size_t len = 0;
        int32_t *ipred = malloc((d.n + 1) * sizeof *ipred);
        if (!ipred || qr_export_blob(m, &blob, &len, NULL, &err) != QR_OK ||
            qr_export_evaluate(blob, len, &d, &int_acc, ipred, &err) != QR_OK) {
            fprintf(stderr, "qreg eval: %s\n", ipred ? err.msg : "out of memory");
            free(blob);
            free(ipred);
            goto done;
        }
        size_t same = 0;
        for (size_t i = 0; i < d.n; i++)
            same += ipred[i] == fq_pred[i];
        agree = d.n ? (double)same / (double)d.n : NAN;
        free(blob);
        free(ipred);
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", model_path);
        cJSON_AddStringToObject(j, "data", data);
        cJSON_AddNumberToObject(j, "samples", (double)d.n);
        cJSON_AddNumberToObject(j, "accuracy", acc);
        cJSON_AddNumberToObject(j, "loss", loss);
        if (integer) {
            cJSON_AddNumberToObject(j, "int_accuracy", int_acc);
            cJSON_AddNumberToObject(j, "int_fq_agreement", agree);
            if (!plan)
                cJSON_AddNumberToObject(j, "fq_accuracy", fq_acc);
        }
        if (plan) {
            double base, bytes = qr_quant_bytes(plan, qr_model_graph(m), &base);
            cJSON_AddNumberToObject(j, "fq_accuracy", fq_acc);
            cJSON_AddNumberToObject(j, "bytes", bytes);
            cJSON_AddNumberToObject(j, "baseline_bytes", base);
        }
        cJSON *cm = cJSON_AddArrayToObject(j, "confusion");
        for (size_t i = 0; i < c; i++) {
            cJSON *row = cJSON_CreateArray();
            for (size_t k = 0; k < c; k++)
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)confusion[i * c + k]));
            cJSON_AddItemToArray(cm, row);
        }
        char *text = cJSON_PrintUnformatted(j);
        if (text)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(j);
    } else {
        printf("samples: %zu\naccuracy: %.4f\nloss: %.4f\n", d.n, acc, loss);
        if (plan || integer)
            printf("fake-quantized accuracy: %.4f\n", fq_acc);
        if (integer)
            printf("integer accuracy: %.4f (same prediction as fake-quantized on %.2f%% of "
                   "samples)\n", int_acc, 100.0 * agree);
        if (plan)
            qr_cli_print_quant_report(stdout, plan, m);
        printf("confusion (rows: true class, columns: predicted):\n");
        for (size_t i = 0; i < c; i++) {
            printf("  %-12.12s", d.class_names[i]);
            for (size_t k = 0; k < c; k++)
                printf(" %6zu", confusion[i * c + k]);
            printf("\n");
        }
    }
    rc = 0;
done:
    free(confusion);
    free(fq_pred);
    free(pred);
    qr_dataset_free(&d);
    qr_model_free(m);
    return rc;
}
