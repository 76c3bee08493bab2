/* qreg export MODEL.qrm --out DIR: the integer model for the device runtime. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "qreg/audio.h"
#include "qreg/export.h"

static const char help[] =
    "usage: qreg export MODEL.qrm --out DIR [--name NAME] [--sparse MODE] [--raw-scale S]\n"
    "                  [--compiled FORM] [--act-bits N] [--with-runtime] [--json]\n"
    "\n"
    "Write the integer model of a trained model for the freestanding device runtime:\n"
    "  DIR/model.qrt           the binary model (load with qrt_model_load)\n"
    "  DIR/model.c, model.h    the same bytes as const, 8-byte aligned C arrays and NAME_load()\n"
    "  DIR/model_compiled.c, model_compiled.h\n"
    "                          the compiled model: const tensors and each layer's code\n"
    "                          (NAME_reset, NAME_push, NAME_logits, NAME_run), the input\n"
    "                          transform from raw integer samples (NAME_quantize_frame; a float\n"
    "                          one behind NAME_FLOAT_INPUT), the class names, weight bit-widths\n"
    "                          and the model file's SHA-256; link with qrt_kernels.c and\n"
    "                          qrt_layer.c only (no loader, smallest flash)\n"
    "The files are replaced as a set: on any error DIR is left as it was. Deploying: docs/deploy.md.\n"
    "  DIR/NAME_frontend.c, NAME_frontend.h\n"
    "                          for a model trained on audio: the tables of the integer audio\n"
    "                          front end (runtime/qrt_frontend.h) for the model's feature\n"
    "                          settings; link with qrt_frontend.c\n"
    "  DIR/NAME_audio.c, NAME_audio.h\n"
    "                          for a model trained on audio: the clip (rate, samples, crop),\n"
    "                          frames per clip, the front end's memory sizes, and\n"
    "                          NAME_quantize_features (front-end output to model input, the\n"
    "                          standardization folded in); with --with-runtime also\n"
    "                          qrt_frontend.c/.h, and qrt.mk/qrt.cmake list them\n"
    "Weights are packed at their bit-width (1, 2, 4 or 8 bits; 3 in 4, 5-7 in 8) as the model's\n"
    "quantization plan says (8-bit min-max without one); batch norm after a conv1d/dense is\n"
    "folded into its per-channel requantization; activations are int16 (--act-bits), or on\n"
    "the N-bit grids of a model trained with \"quantize.activations\". Prints the bytes per\n"
    "layer: the thesis' accounting (see docs/method.md §2) beside what the blob holds, and the\n"
    "totals.\n"
    "\n"
    "options:\n"
    "  --out DIR     output directory (created if missing; required)\n"
    "  --name NAME   C identifier prefix of the generated arrays and functions (default: model)\n"
    "  --sparse auto|fast|off\n"
    "                auto (default): store each weight matrix in the smallest of its dense,\n"
    "                bitmap and run-length encodings (pruned or ternary matrices); fast:\n"
    "                run-length where smaller than dense, else dense (faster than dense on\n"
    "                a Cortex-M0+ from ~50 % zeros, bitmap is not); off: dense only. A blob\n"
    "                with a sparse matrix is format version 2, and a compiled model then\n"
    "                also needs runtime/qrt_sparse.c (docs/sparse.md)\n"
    "  --compiled specialized|descriptors\n"
    "                the form of model_compiled.c: specialized (default): each layer's code\n"
    "                written out with its dimensions as constants, inline in NAME_push and\n"
    "                NAME_logits (the smallest and fastest); descriptors: const layer\n"
    "                descriptors and calls of the generic layers of qrt_layer.c. Both give\n"
    "                the same results bit for bit (docs/runtime.md, \"Compiled models\")\n"
    "  --act-bits N  the activations' grids (docs/runtime.md, \"Narrow activations\" and\n"
    "                \"N-bit activation grids\"): 16 (default): every bound at most 32767, so\n"
    "                the compiled model stores activations as int16 (int8 where a bound is\n"
    "                at most 127; the GRU state is int16 always); 32: bounds up to 2^24\n"
    "                (int32, 3x the working memory); 2 to 15 (8: int8): the input and every\n"
    "                runtime layer's output but the logits and Q15 tensors on +-(2^(N-1) - 1)\n"
    "                steps scaled from the calibration (post-training). A model trained with\n"
    "                \"quantize.activations\" keeps its trained grids (N must then be its bits,\n"
    "                16 or 32)\n"
    "  --json        print the byte report as one JSON object: layers (from, kind, bits,\n"
    "                theory and actual tensors and bytes), totals, scratch bytes, files\n"
    "  -h, --help    this help\n";

#ifndef QR_PKGDATADIR
#define QR_PKGDATADIR "/usr/local/share/qreg"
#endif

static int is_dir_with_runtime(const char *d)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/qrt.h", d);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Where the runtime sources are: $QREG_RUNTIME_DIR; a qreg run from its build directory takes
 * its source tree's runtime/; an installed one PREFIX/share/qreg/runtime. NULL (and a message)
 * if none holds qrt.h. */
static const char *runtime_dir(void)
{
    const char *env = getenv("QREG_RUNTIME_DIR");
    if (env && *env) {
        if (is_dir_with_runtime(env))
            return env;
        fprintf(stderr, "qreg export: QREG_RUNTIME_DIR=%s: no qrt.h there\n", env);
        return NULL;
    }
#if defined(QR_BUILDDIR) && defined(QR_SRCDIR)
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    size_t bl = strlen(QR_BUILDDIR);
    if (n > 0) {
        exe[n] = '\0';
        if (strncmp(exe, QR_BUILDDIR, bl) == 0 && exe[bl] == '/' &&
            is_dir_with_runtime(QR_SRCDIR "/runtime"))
            return QR_SRCDIR "/runtime";
    }
#endif
    if (is_dir_with_runtime(QR_PKGDATADIR "/runtime"))
        return QR_PKGDATADIR "/runtime";
#if defined(QR_SRCDIR)
    if (is_dir_with_runtime(QR_SRCDIR "/runtime"))
        return QR_SRCDIR "/runtime";
#endif
    fprintf(stderr, "qreg export: --with-runtime: the runtime sources are not in %s/runtime; "
                    "set QREG_RUNTIME_DIR to a copy of qreg's runtime/ folder\n", QR_PKGDATADIR);
    return NULL;
}

static const char *const out_files[] = {"model.qrt", "model.c", "model.h", "model_compiled.c",
                                        "model_compiled.h"};

static cJSON *tensor_json(const qr_export_tensor *t, int actual)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddNumberToObject(o, "bits", t->bits);
    cJSON_AddNumberToObject(o, "count", (double)t->count);
    cJSON_AddNumberToObject(o, "bytes", t->bytes);
    if (actual) {
        static const char *const enc[] = {"dense", "bitmap", "run-length"};
        cJSON_AddStringToObject(o, "encoding", enc[t->encoding >= 0 && t->encoding < 3 ?
                                                   t->encoding : 0]);
        if (t->encoding)
            cJSON_AddNumberToObject(o, "dense_bytes", t->dense_bytes);
    }
    return o;
}

/* The report of --json: what the text table shows, as one object on stdout. */
static void print_json(const char *model, const char *dir, const char *name,
                       const qr_export_report *rep, const char *runtime_from)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", model);
    cJSON_AddStringToObject(j, "out", dir);
    cJSON_AddStringToObject(j, "name", name);
    cJSON *layers = cJSON_AddArrayToObject(j, "layers");
    for (size_t i = 0; i < rep->n; i++) {
        const qr_export_layer *e = &rep->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(layers, o);
        cJSON_AddStringToObject(o, "from", e->from);
        cJSON_AddStringToObject(o, "kind", e->kind);
        cJSON_AddNumberToObject(o, "bits", e->bits);
        cJSON_AddNumberToObject(o, "theory_bytes", e->theory_bytes);
        cJSON_AddNumberToObject(o, "actual_bytes", (double)e->actual_bytes);
        cJSON *th = cJSON_AddArrayToObject(o, "theory"), *ac = cJSON_AddArrayToObject(o, "actual");
        for (size_t t = 0; t < e->n_theory; t++)
            cJSON_AddItemToArray(th, tensor_json(&e->theory[t], 0));
        for (size_t t = 0; t < e->n_actual; t++)
            cJSON_AddItemToArray(ac, tensor_json(&e->actual[t], 1));
    }
    cJSON_AddNumberToObject(j, "theory_bytes", rep->theory_bytes);
    cJSON_AddNumberToObject(j, "baseline_bytes", rep->baseline_bytes);
    cJSON_AddNumberToObject(j, "tensor_bytes", (double)rep->tensor_bytes);
    cJSON_AddNumberToObject(j, "blob_bytes", (double)rep->blob_bytes);
    cJSON_AddNumberToObject(j, "scratch_bytes", (double)rep->scratch_bytes);
    cJSON *files = cJSON_AddArrayToObject(j, "files");
    for (size_t i = 0; i < sizeof out_files / sizeof out_files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, out_files[i]);
        cJSON_AddItemToArray(files, cJSON_CreateString(path));
    }
    if (runtime_from) {
        cJSON_AddStringToObject(j, "runtime_from", runtime_from);
        static const char *const frags[] = {"qrt.mk", "qrt.cmake"};
        for (size_t i = 0; i < 2; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, frags[i]);
            cJSON_AddItemToArray(files, cJSON_CreateString(path));
        }
    }
    char *text = cJSON_PrintUnformatted(j);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(j);
}

int qr_cmd_export(int argc, char **argv)
{
    const char *model_path = NULL, *out = NULL, *name = "model", *v;
    qr_export_options opt = {.sparse = 1};
    qr_export_write_options wopt = {0};
    int with_runtime = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help, stdout);
            return 0;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!(out = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--sparse", &v)) {
            if (v && strcmp(v, "auto") == 0) {
                opt.sparse = 1;
            } else if (v && strcmp(v, "fast") == 0) {
                opt.sparse = 2;
            } else if (v && strcmp(v, "off") == 0) {
                opt.sparse = 0;
            } else if (v) {
                fprintf(stderr, "qreg export: --sparse: '%s' is not auto, fast or off\n", v);
                return 2;
            } else {
                goto bad;
            }
        } else if (qr_cli_opt(argc, argv, &i, "--raw-scale", &v)) {
            char *end = NULL;
            if (!v)
                goto bad;
            wopt.raw_scale = strtod(v, &end);
            if (end == v || *end || !(wopt.raw_scale > 0.0) || wopt.raw_scale > 1e300) {
                fprintf(stderr, "qreg export: --raw-scale: '%s' is not a positive number\n", v);
                return 2;
            }
        } else if (qr_cli_opt(argc, argv, &i, "--compiled", &v)) {
            if (v && strcmp(v, "specialized") == 0) {
                wopt.compiled_descriptors = 0;
            } else if (v && strcmp(v, "descriptors") == 0) {
                wopt.compiled_descriptors = 1;
            } else if (v) {
                fprintf(stderr, "qreg export: --compiled: '%s' is not specialized or "
                                "descriptors\n", v);
                return 2;
            } else {
                goto bad;
            }
        } else if (qr_cli_opt(argc, argv, &i, "--act-bits", &v)) {
            if (!v)
                goto bad;
            if (qr_cli_act_bits(v, &opt.act_bits)) {
                fprintf(stderr, "qreg export: --act-bits: '%s' is not 2 to 16 or 32\n", v);
                return 2;
            }
        } else if (strcmp(a, "--with-runtime") == 0) {
            with_runtime = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--name", &v)) {
            if (!(name = v) || !*v)
                goto bad;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg export: unknown option '%s' (see qreg export --help)\n", a);
            return 2;
        } else if (!model_path) {
            model_path = a;
        } else {
            fprintf(stderr, "qreg export: more than one model given\n");
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg export: option '%s' needs a value\n", a);
        return 2;
    }
    if (!model_path || !out) {
        fputs(help, stderr);
        return 2;
    }
    if (!qr_export_name_ok(name)) {
        fprintf(stderr, "qreg export: --name '%s' is not a C identifier (a letter or _, then "
                        "letters, digits or _)\n", name);
        return 2;
    }
    if (with_runtime && !(wopt.runtime_dir = runtime_dir()))
        return 1;
    qr_error err = {{0}};
    qr_model *m = NULL;
    if (qr_model_load(model_path, 1, &m, &err) != QR_OK) {
        fprintf(stderr, "qreg export: %s\n", err.msg);
        return 1;
    }
    wopt.class_names = qr_model_classes(m);
    wopt.model_path = model_path;
    uint8_t *blob = NULL;
    size_t len = 0;
    qr_export_report rep = {0}; /* freed at done: also when the write fails */
    int rc = 1;
    if (qr_export_blob_ex(m, &opt, &blob, &len, &rep, &err) != QR_OK ||
        qr_export_write_ex(blob, len, out, name, &wopt, &err) != QR_OK) {
        fprintf(stderr, "qreg export: %s\n", err.msg);
        goto done;
    }
    /* the audio front end the model was trained with, as device tables */
    if (qr_model_features(m)) {
        qr_audio_options ao;
        qr_audio_options_default(&ao);
        qr_ifront *fe = NULL;
        if (qr_audio_features_apply(qr_model_features(m), &ao, NULL, &err) != QR_OK ||
            qr_ifront_new(&ao.mfcc, 0, &fe, &err) != QR_OK) {
            fprintf(stderr, "qreg export: no integer front end for this model: %s\n", err.msg);
        } else if (qr_ifront_write_c(fe, out, name, &err) != QR_OK ||
                   qr_export_write_audio(blob, len, &ao, out, name, wopt.runtime_dir, &err) !=
                       QR_OK) {
            fprintf(stderr, "qreg export: %s\n", err.msg);
            qr_ifront_free(fe);
            goto done;
        } else if (!json) {
            printf("wrote %s/%s_frontend.c, %s/%s_frontend.h: the integer audio front end%s;\n"
                   "      %s/%s_audio.c, %s/%s_audio.h: clip, sizes, features to model input\n",
                   out, name, out, name,
                   ao.frontend == QR_FRONTEND_INT ? " the model was trained with"
                                                  : " (the model was trained with the float "
                                                    "one: features differ slightly)",
                   out, name, out, name);
        }
        qr_ifront_free(fe);
    }
    if (json) {
        print_json(model_path, out, name, &rep, wopt.runtime_dir);
        rc = 0;
        goto done;
    }
    printf("%-40s %6s %8s %12s %12s\n", "layer / tensor", "bits", "count", "theory (B)",
           "actual (B)");
    for (size_t i = 0; i < rep.n; i++) {
        const qr_export_layer *e = &rep.layers[i];
        printf("%s -> runtime %s\n", e->from, e->kind);
        for (size_t t = 0; t < e->n_theory; t++)
            printf("  %-38s %6d %8zu %12.3f %12s\n", e->theory[t].name, e->theory[t].bits,
                   e->theory[t].count, e->theory[t].bytes, "");
        for (size_t t = 0; t < e->n_actual; t++) {
            const qr_export_tensor *a = &e->actual[t];
            char label[80];
            if (a->encoding)
                snprintf(label, sizeof label, "%s (%s; dense %.0f B)", a->name,
                         a->encoding == 1 ? "bitmap" : "run-length", a->dense_bytes);
            else
                snprintf(label, sizeof label, "%s", a->name);
            printf("  %-38s %6d %8zu %12s %12.0f\n", label, a->bits, a->count, "", a->bytes);
        }
        printf("  %-38s %6s %8s %12.3f %12zu\n", "layer total", "", "", e->theory_bytes,
               e->actual_bytes);
    }
    printf("\ntheory: %.3f B (8-bit baseline %.3f B, %+.1f%%)\n", rep.theory_bytes,
           rep.baseline_bytes,
           rep.baseline_bytes > 0 ? 100.0 * (rep.theory_bytes - rep.baseline_bytes) /
                                        rep.baseline_bytes : 0.0);
    printf("actual: %zu B of tensors, %zu B blob (%zu B header, records, alignment, CRC)\n",
           rep.tensor_bytes, rep.blob_bytes, rep.blob_bytes - rep.tensor_bytes);
    printf("scratch: %zu B of caller memory per inference\n", rep.scratch_bytes);
    printf("wrote %s/model.qrt, %s/model.c, %s/model.h, %s/model_compiled.c, "
           "%s/model_compiled.h\n", out, out, out, out, out);
    if (wopt.runtime_dir)
        printf("wrote the runtime files it needs (from %s), %s/qrt.mk and %s/qrt.cmake\n",
               wopt.runtime_dir, out, out);
    rc = 0;
done:
    qr_export_report_free(&rep);
    free(blob);
    qr_model_free(m);
    return rc;
}
