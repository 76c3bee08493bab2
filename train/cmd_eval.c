/* qreg eval MODEL --data CSV: accuracy, loss, per-class metrics and labelled confusion matrices
 * of a saved model (float, fake-quantized, integer), per-sample predictions as CSV. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "qreg/audio.h"
#include "metrics.h"
#include "qreg/export.h"
#include "stream_eval.h"

static const char eval_help[] =
    "usage: qreg eval MODEL.qrm --data FILE.csv [options]\n"
    "       qreg eval MODEL.qrm --data DIR [options]\n"
    "       qreg eval MODEL.qrm --data MANIFEST.csv --audio [options]\n"
    "\n"
    "Evaluate a saved model on a labelled CSV file, or on audio (a folder of class folders of\n"
    "WAV/FLAC/OGG files, or a manifest \"path,label[,split]\" with --audio): every clip is\n"
    "evaluated, its features made with the settings stored in the model (a model trained on\n"
    "audio). Then: accuracy and loss, then per model kind\n"
    "(float; fake-quantized with a quantization plan or --int; integer with --int) the\n"
    "per-class precision, recall, F1 and support with macro and weighted averages, and the\n"
    "confusion matrix with the class names as row and column headers.\n"
    "The file is read with the model's input shape and class names; labels the model does\n"
    "not know are an error.\n"
    "\n"
    "options:\n"
    "  --data FILE|DIR   the CSV file, or an audio folder (required)\n"
    "  --audio           FILE is an audio manifest (path,label[,split]; every row is evaluated)\n"
    "  --label COL       label column: a header name or a 0-based index (default: last)\n"
    "  --header MODE     auto (default), yes or no\n"
    "  --int             also run the integer model (the device runtime, built for the host)\n"
    "                    and report its accuracy and agreement with the fake-quantized model\n"
    "                    (which rounds the activations on the integer model's grids)\n"
    "                    (a model trained on the integer audio front end: its features are\n"
    "                    quantized as on the device, NAME_quantize_features)\n"
    "  --act-bits N      with --int: the integer model's activation grids, as qreg export\n"
    "                    --act-bits (16, the default: int16; 32: int32; 2 to 15: post-training\n"
    "                    N-bit grids; a model trained with \"quantize.activations\" keeps its own)\n"
    "  --predictions FILE\n"
    "                    write one CSV row per sample (atomically): index (the data row;\n"
    "                    for audio: path, the clip's file), label, then per model kind its\n"
    "                    prediction (float_pred, fq_pred, int_pred) and its logits\n"
    "                    (float_logit_CLASS, ...; int: the int32 logits times the output\n"
    "                    scale)\n"
    "  --stream          with --int: FILE holds continuous recordings (frame, features, label,\n"
    "                    recording, event); run the integer model frame by frame and report\n"
    "                    per-frame and per-event metrics; --stream-k N, --stream-tolerance S,\n"
    "                    --stream-rate HZ, --stream-out FILE, --stream-window: docs/streaming.md\n"
    "  --json            print the result as one JSON object (with the metrics per model)\n"
    "  -h, --help        this help\n"
    "\n"
    "A loss or logits that are not finite (inputs that overflow the model's float arithmetic)\n"
    "are an error (exit 1) naming the first such sample; no result is printed.\n"
    "Audio: a class the model does not know is an error; a model without stored feature\n"
    "settings cannot read audio; a clip recorded at a rate below twice the model's mel f_max\n"
    "(it has no content in the model's top bands) is a warning.\n";

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

/* The model kinds evaluated: float, fake-quantized, integer. */
enum { KIND_FLOAT, KIND_FQ, KIND_INT, N_KINDS };
static const char *const kind_key[N_KINDS] = {"float", "fq", "int"};
static const char *const kind_title[N_KINDS] = {"float", "fake-quantized", "integer"};

/* Logits (d->n, n_classes) of the model as its weights are now, or NULL (out of memory). */
static float *eval_logits(qr_model *m, const qr_dataset *d)
{
    size_t c = qr_model_spec_of(m)->n_classes;
    float *z = malloc((d->n * c + 1) * sizeof *z);
    if (z && qr_model_predict(m, d->x, d->n, z, NULL) != QR_OK) {
        free(z);
        z = NULL;
    }
    return z;
}

/* The fake-quantized model of a model the export refuses: the weights rounded in place (with
 * trained activation grids the integer model's biases too), evaluated, restored. */
static qr_status fq_weights(qr_model *m, const qr_quant_plan *plan, const qr_dataset *d,
                            double *acc, int32_t *pred, float *logits, qr_error *err)
{
    qr_quant_plan own = {0};
    if (!plan && qr_quant_plan_init(&own, qr_model_spec_of(m)) != QR_OK)
        return QR_ERR_NOMEM;
    size_t n_all;
    float *w = qr_graph_params(qr_model_graph(m), NULL, &n_all);
    float *save = malloc((n_all + 1) * sizeof *save);
    qr_status s = save ? QR_OK : QR_ERR_NOMEM;
    if (s == QR_OK) {
        memcpy(save, w, n_all * sizeof *save);
        qr_quant_fake(plan ? plan : &own, qr_model_graph(m));
        err->msg[0] = 0;
        s = qr_export_fake_constants(m, err);
        if (s == QR_OK)
            s = qr_evaluate(m, d, NULL, acc, pred);
        if (s == QR_OK && logits)
            s = qr_model_predict(m, d->x, d->n, logits, NULL);
        memcpy(w, save, n_all * sizeof *save);
    }
    free(save);
    qr_quant_plan_free(&own);
    return s;
}

/* A clip whose own rate holds nothing up to the model's mel f_max: warn once, naming the
 * first such file and the rates, and counting the others. */
static void warn_nyquist(char *const *paths, size_t n, const qr_audio_options *o)
{
    double f_max = o->mfcc.f_max > 0 ? o->mfcc.f_max : o->sample_rate / 2;
    size_t low = 0, first = 0;
    double first_rate = 0;
    for (size_t i = 0; i < n; i++) {
        double r;
        if (qr_audio_file_rate(paths[i], &r, NULL) != QR_OK || r >= 2.0 * f_max * (1 - 1e-9))
            continue;
        if (low++ == 0) {
            first = i;
            first_rate = r;
        }
    }
    if (low)
        fprintf(stderr, "qreg eval: warning: %s: recorded at %g Hz, it holds nothing above %g "
                "Hz, but the model's mel bands reach f_max = %g Hz (features at %g Hz): its top "
                "bands are empty; %zu of %zu clips are recorded below %g Hz\n",
                paths[first], first_rate, first_rate / 2, f_max, o->sample_rate, low, n,
                2 * f_max);
}

/* Every clip of an audio folder (root) or manifest as the model's input, its features made
 * with the model's stored settings, labels mapped to the model's classes by name; *paths
 * (indexed by d->source_row) the clips' files. 0, or 1 after an error message. */
static int load_audio(qr_model *m, const char *model_path, const char *data, int is_dir,
                      qr_dataset *d, char ***paths, size_t *n_paths)
{
    const char *feat = qr_model_features(m);
    const qr_model_spec *spec = qr_model_spec_of(m);
    const char *const *mc = qr_model_classes(m);
    if (!feat) {
        fprintf(stderr, "qreg eval: %s: the model stores no feature settings (trained on CSV, or "
                "before they were stored), so %s cannot be turned into its input: write the "
                "features with `qreg features CONFIG --out DIR --no-augment` and evaluate a CSV "
                "file\n", model_path, data);
        return 1;
    }
    if (!mc) {
        fprintf(stderr, "qreg eval: %s: the model has no class names to match %s's classes\n",
                model_path, data);
        return 1;
    }
    qr_audio_options o;
    qr_audio_options_default(&o);
    if (is_dir)
        o.root = data;
    else
        o.manifest = data;
    o.split = QR_AUDIO_SPLIT_ALL;
    o.warn = qr_cli_audio_warning;
    qr_error err = {{0}};
    qr_dataset tr = {0}, va = {0};
    if (qr_audio_features_apply(feat, &o, NULL, &err) != QR_OK ||
        qr_audio_load(&o, &tr, &va, d, NULL, &err) != QR_OK ||
        qr_audio_list_paths(&o, paths, n_paths, &err) != QR_OK) {
        fprintf(stderr, "qreg eval: %s\n", err.msg);
        qr_dataset_free(&tr);
        qr_dataset_free(&va);
        return 1;
    }
    qr_dataset_free(&tr);
    qr_dataset_free(&va);
    /* the data's classes (folder names or manifest labels) to the model's by name */
    int32_t *map = malloc((d->n_classes + 1) * sizeof *map);
    char **names = calloc(spec->n_classes + 1, sizeof *names);
    if (!map || !names)
        goto nomem;
    for (size_t k = 0; k < d->n_classes; k++) {
        map[k] = -1;
        for (size_t c = 0; c < spec->n_classes; c++)
            if (strcmp(d->class_names[k], mc[c]) == 0)
                map[k] = (int32_t)c;
        if (map[k] < 0) {
            fprintf(stderr, "qreg eval: %s: class '%s' is not one of the model's classes (",
                    data, d->class_names[k]);
            for (size_t c = 0; c < spec->n_classes; c++)
                fprintf(stderr, "%s%s", c ? ", " : "", mc[c]);
            fprintf(stderr, ")\n");
            free(map);
            free(names);
            return 1;
        }
    }
    for (size_t c = 0; c < spec->n_classes; c++)
        if (!(names[c] = strdup(mc[c])))
            goto nomem;
    for (size_t i = 0; i < d->n; i++)
        d->y[i] = map[d->y[i]];
    for (size_t k = 0; k < d->n_classes; k++)
        free(d->class_names[k]);
    free(d->class_names);
    d->class_names = names;
    d->n_classes = spec->n_classes;
    free(map);
    warn_nyquist(*paths, *n_paths, &o);
    return 0;
nomem:
    if (names)
        for (size_t c = 0; c < spec->n_classes; c++)
            free(names[c]);
    free(names);
    free(map);
    fprintf(stderr, "qreg eval: out of memory\n");
    return 1;
}

int qr_cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *data = NULL, *label = NULL, *header = "auto", *v;
    const char *predictions = NULL;
    int json = 0, integer = 0, audio = 0, so;
    qr_export_options xopt = {0};
    qr_stream_opts stream = QR_STREAM_OPTS_INIT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(eval_help, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--int") == 0) {
            integer = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--act-bits", &v)) {
            if (!v)
                goto bad;
            if (qr_cli_act_bits(v, &xopt.act_bits)) {
                fprintf(stderr, "qreg eval: --act-bits: '%s' is not 2 to 16 or 32\n", v);
                return 2;
            }
        } else if (strcmp(a, "--audio") == 0) {
            audio = 1;
        } else if ((so = qr_stream_opt(argc, argv, &i, &stream)) != 0) {
            if (so < 0)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--data", &v)) {
            if (!(data = v))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--predictions", &v)) {
            if (!(predictions = v) || !*v)
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
    if (stream.on) { /* train/stream_eval.c */
        int src = integer ? qr_stream_eval(m, model_path, data, &stream, json) : 2;
        if (!integer)
            fputs("qreg eval: --stream runs the integer model: add --int\n", stderr);
        qr_model_free(m);
        return src;
    }
    const qr_model_spec *spec = qr_model_spec_of(m);
    struct stat dst;
    int is_dir = stat(data, &dst) == 0 && S_ISDIR(dst.st_mode);
    char **paths = NULL; /* audio: each clip's file, by source_row */
    size_t n_paths = 0;
    qr_dataset d = {0};
    int rc = 1;
    int32_t *pred[N_KINDS] = {NULL}; /* each kind's predictions, NULL when not run */
    float *logits[N_KINDS] = {NULL}; /* with --predictions: each kind's logits */
    qr_metrics mt[N_KINDS];
    memset(mt, 0, sizeof mt);
    if ((is_dir || audio) && (label || strcmp(header, "auto"))) {
        fprintf(stderr, "qreg eval: --label and --header are for CSV files, not audio\n");
        goto done;
    }
    if (is_dir || audio) {
        if (load_audio(m, model_path, data, is_dir, &d, &paths, &n_paths))
            goto done;
    } else {
        qr_csv_options o = qr_cli_model_csv_options(m, data, label, header);
        if (qr_csv_load(&o, &d, &err) != QR_OK) {
            fprintf(stderr, "qreg eval: %s\n", err.msg);
            goto done;
        }
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
    pred[KIND_FLOAT] = malloc((d.n + 1) * sizeof *pred[KIND_FLOAT]);
    double loss, acc;
    if (!pred[KIND_FLOAT] || qr_evaluate(m, &d, &loss, &acc, pred[KIND_FLOAT]) != QR_OK ||
        (predictions && !(logits[KIND_FLOAT] = eval_logits(m, &d)))) {
        fprintf(stderr, "qreg eval: evaluation failed\n");
        goto done;
    }
    if (!isfinite(loss)) {
        report_nonfinite(m, &d, data, loss);
        goto done;
    }
    /* with a quantization plan (or --int): the accuracy of the weights rounded as deployed */
    const qr_quant_plan *plan = qr_model_quant_plan(m);
    double fq_acc = NAN, int_acc = NAN, agree = NAN;
    if (plan || integer) {
        int32_t *fq = pred[KIND_FQ] = malloc((d.n + 1) * sizeof *fq);
        float *fl = NULL;
        if (fq && predictions)
            fl = logits[KIND_FQ] = malloc((d.n * c + 1) * sizeof *fl);
        if (!fq || (predictions && !fl)) {
            fprintf(stderr, "qreg eval: out of memory\n");
            goto done;
        }
        /* on the integer model's activation grids; a model the export refuses: the weights
         * rounded alone (with --int the export's message) */
        qr_status es = qr_export_fake_evaluate(m, &xopt, &d, &fq_acc, fq, fl, &err);
        if (es != QR_OK && !integer)
            es = fq_weights(m, plan, &d, &fq_acc, fq, fl, &err);
        if (es != QR_OK) {
            fprintf(stderr, "qreg eval: %s\n", err.msg[0] ? err.msg : "evaluation failed");
            goto done;
        }
    }
    if (integer) {
        uint8_t *blob = NULL;
        size_t len = 0;
        int32_t *ipred = pred[KIND_INT] = malloc((d.n + 1) * sizeof *ipred);
        float *il = NULL; /* with --predictions: the integer model's logits, dequantized */
        if (ipred && predictions)
            il = logits[KIND_INT] = malloc((d.n * c + 1) * sizeof *il);
        if (!ipred || (predictions && !il)) {
            fprintf(stderr, "qreg eval: out of memory\n");
            goto done;
        }
        /* a model trained on the integer front end: its input as the device makes it */
        int q16 = 0;
        if (qr_model_features(m)) {
            qr_audio_options ao;
            qr_audio_options_default(&ao);
            q16 = qr_audio_features_apply(qr_model_features(m), &ao, NULL, NULL) == QR_OK &&
                  ao.frontend == QR_FRONTEND_INT;
        }
        if (qr_export_blob_ex(m, &xopt, &blob, &len, NULL, &err) != QR_OK ||
            qr_export_evaluate_logits(blob, len, &d, q16, &int_acc, ipred, il, &err) != QR_OK) {
            fprintf(stderr, "qreg eval: %s\n", err.msg);
            free(blob);
            goto done;
        }
        size_t same = 0;
        for (size_t i = 0; i < d.n; i++)
            same += ipred[i] == pred[KIND_FQ][i];
        agree = d.n ? (double)same / (double)d.n : NAN;
        free(blob);
    }
    const char *const *names = (const char *const *)d.class_names;
    for (int k = 0; k < N_KINDS; k++)
        if (pred[k] && qr_metrics_compute(&mt[k], d.y, pred[k], d.n, c) != QR_OK) {
            fprintf(stderr, "qreg eval: out of memory\n");
            goto done;
        }
    if (predictions) {
        qr_pred_column cols[N_KINDS];
        size_t nc = 0;
        for (int k = 0; k < N_KINDS; k++)
            if (pred[k])
                cols[nc++] = (qr_pred_column){kind_key[k], pred[k], logits[k]};
        if (qr_predictions_write(predictions, d.n, c, d.y, d.source_row,
                                 (const char *const *)paths, names, cols, nc, &err) != QR_OK) {
            fprintf(stderr, "qreg eval: --predictions: %s\n", err.msg);
            goto done;
        }
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
        if (predictions)
            cJSON_AddStringToObject(j, "predictions", predictions);
        cJSON *cl = cJSON_AddArrayToObject(j, "classes");
        for (size_t i = 0; i < c; i++)
            cJSON_AddItemToArray(cl, cJSON_CreateString(names[i]));
        /* "confusion": the float model's (as before "metrics" existed) */
        cJSON *fj = qr_metrics_to_json(&mt[KIND_FLOAT], names);
        cJSON_AddItemToObject(j, "confusion",
                              cJSON_Duplicate(cJSON_GetObjectItem(fj, "confusion"), 1));
        cJSON *all = cJSON_AddObjectToObject(j, "metrics");
        cJSON_AddItemToObject(all, kind_key[KIND_FLOAT], fj);
        for (int k = KIND_FQ; k < N_KINDS; k++)
            if (pred[k])
                cJSON_AddItemToObject(all, kind_key[k], qr_metrics_to_json(&mt[k], names));
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
        for (int k = 0; k < N_KINDS; k++)
            if (pred[k]) {
                printf("\n");
                qr_metrics_print(stdout, &mt[k], kind_title[k], names);
            }
        if (predictions)
            printf("\nwrote %s: %zu predictions\n", predictions, d.n);
    }
    rc = 0;
done:
    for (int k = 0; k < N_KINDS; k++) {
        qr_metrics_free(&mt[k]);
        free(pred[k]);
        free(logits[k]);
    }
    qr_dataset_free(&d);
    for (size_t i = 0; i < n_paths; i++)
        free(paths[i]);
    free(paths);
    qr_model_free(m);
    return rc;
}
