/* qreg summary CONFIG: the layer table with parameter counts and the thesis' byte size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "qreg/audio.h"
#include "lib/graph_impl.h"

static const char summary_help[] =
    "usage: qreg summary CONFIG.json [--classes N] [--json]\n"
    "\n"
    "Print the model of a config: each layer's output shape (without the batch dimension)\n"
    "and parameters with their shapes, the total parameter count and the byte size with\n"
    "every weight at 8 bits and every bias, batch-norm parameter and PReLU slope at 32 bits\n"
    "(the thesis' accounting, see docs/method.md §2).\n"
    "The input shape comes from data.sequence (or the CSV's width when flat); the class\n"
    "count from the last dense layer's units, or --classes, or the training data.\n"
    "\n"
    "options:\n"
    "  --classes N   number of classes when the config does not fix it\n"
    "  --json        print the summary as one JSON object: input, classes, layers (name,\n"
    "                type, output shape, params, bytes at 8 bits, tensors with shapes),\n"
    "                parameters, weights, others, bytes_8bit\n"
    "  -h, --help    this help\n";

/* Weights (kernels) are quantized; everything else is stored at 32 bits. */
static int is_weight(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash && (strcmp(slash + 1, "kernel") == 0 || strcmp(slash + 1, "recurrent_kernel") == 0);
}

int qr_cmd_summary(int argc, char **argv)
{
    const char *config = NULL, *v;
    size_t classes = 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(summary_help, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--classes", &v)) {
            if (qr_cli_size(v, &classes) || classes < 2) {
                fprintf(stderr, "qreg summary: --classes needs a number >= 2\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg summary: unknown option '%s'\n", a);
            return 2;
        } else if (!config) {
            config = a;
        } else {
            fprintf(stderr, "qreg summary: more than one config given\n");
            return 2;
        }
    }
    if (!config) {
        fputs(summary_help, stderr);
        return 2;
    }
    qr_error err = {{0}};
    qr_train_config c;
    if (qr_train_config_load(config, &c, &err) != QR_OK) {
        fprintf(stderr, "qreg summary: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    qr_model *m = NULL;
    if (c.audio)
        c.audio->warn = qr_cli_audio_warning;
    qr_model_spec spec;
    qr_split_data d = {0};
    if (qr_model_spec_copy(&spec, &c.model) != QR_OK)
        goto done;
    spec.t = c.t ? c.t : 1;
    spec.f = c.f;
    size_t last_dense = 0;
    for (size_t i = 0; i < spec.n_layers; i++)
        if (spec.layers[i].kind == QR_LAYER_DENSE)
            last_dense = spec.layers[i].units;
    spec.n_classes = classes ? classes : last_dense;
    if (!spec.f || !spec.n_classes) {
        /* shape or classes not in the config: read them from the data */
        if (qr_train_load_data(&c, &d, &err) != QR_OK) {
            fprintf(stderr, "qreg summary: %s\n", err.msg);
            goto done_spec;
        }
        spec.t = d.train.t;
        spec.f = d.train.f;
        if (!spec.n_classes)
            spec.n_classes = d.train.n_classes;
    }
    if (qr_model_new(&spec, 1, 0, &m, &err) != QR_OK) {
        fprintf(stderr, "qreg summary: %s\n", err.msg);
        goto done_spec;
    }
    const qr_model_spec *ms = qr_model_spec_of(m);
    qr_graph *g = qr_model_graph(m);
    cJSON *jo = json ? cJSON_CreateObject() : NULL, *jl = NULL;
    if (json) {
        cJSON_AddStringToObject(jo, "config", config);
        cJSON *in = cJSON_AddArrayToObject(jo, "input");
        cJSON_AddItemToArray(in, cJSON_CreateNumber((double)ms->t));
        cJSON_AddItemToArray(in, cJSON_CreateNumber((double)ms->f));
        cJSON_AddNumberToObject(jo, "classes", (double)ms->n_classes);
        jl = cJSON_AddArrayToObject(jo, "layers");
    } else {
        printf("input: %zu x %zu, %zu classes\n\n", ms->t, ms->f, ms->n_classes);
        printf("%-40s %-10s %10s %11s  %s\n", "layer", "output", "params", "bytes@8bit",
               "tensors");
    }
    size_t total = 0, weights = 0, others = 0;
    for (size_t li = 0; li < ms->n_layers; li++) {
        const qr_layer_spec *l = &ms->layers[li];
        cJSON *jlayer = NULL, *jt = NULL;
        if (json) {
            jlayer = cJSON_CreateObject();
            cJSON_AddItemToArray(jl, jlayer);
            cJSON_AddStringToObject(jlayer, "name", l->name);
            cJSON_AddStringToObject(jlayer, "type", qr_layer_kind_name(l->kind));
        }
        /* the output shape without the batch dimension: (units) or (steps, channels) */
        const qr_node *o = qr_model_layer_output(m, li);
        char oshape[48] = "(";
        cJSON *jos = json ? cJSON_AddArrayToObject(jlayer, "output") : NULL;
        for (int k = 1; k < o->ndim; k++) {
            char one[24];
            snprintf(one, sizeof one, "%s%zu", k > 1 ? "," : "", o->shape[k]);
            strncat(oshape, one, sizeof oshape - strlen(oshape) - 2);
            if (jos)
                cJSON_AddItemToArray(jos, cJSON_CreateNumber((double)o->shape[k]));
        }
        strcat(oshape, ")");
        if (json)
            jt = cJSON_AddArrayToObject(jlayer, "tensors");
        char layer[96];
        snprintf(layer, sizeof layer, "%s (%s)", l->name, qr_layer_kind_name(l->kind));
        size_t lcount = 0, lbytes = 0;
        char shapes[128] = "";
        for (size_t i = 0; i < g->n_nodes; i++) {
            const qr_node *p = g->nodes[i];
            size_t nl = strlen(l->name);
            if (p->op != QR_OP_PARAM || strncmp(p->name, l->name, nl) != 0 || p->name[nl] != '/')
                continue;
            lcount += p->max_size;
            if (is_weight(p->name)) {
                lbytes += p->max_size;
                weights += p->max_size;
            } else {
                lbytes += 4 * p->max_size;
                others += p->max_size;
            }
            char one[48];
            snprintf(one, sizeof one, "%s%s(", shapes[0] ? " " : "", strrchr(p->name, '/') + 1);
            strncat(shapes, one, sizeof shapes - strlen(shapes) - 1);
            cJSON *jtensor = NULL, *js = NULL;
            if (json) {
                jtensor = cJSON_CreateObject();
                cJSON_AddItemToArray(jt, jtensor);
                cJSON_AddStringToObject(jtensor, "name", p->name);
                js = cJSON_AddArrayToObject(jtensor, "shape");
                cJSON_AddNumberToObject(jtensor, "bits", is_weight(p->name) ? 8 : 32);
            }
            for (int k = 0; k < p->ndim; k++) {
                snprintf(one, sizeof one, "%s%zu", k ? "," : "", p->shape[k]);
                strncat(shapes, one, sizeof shapes - strlen(shapes) - 1);
                if (js)
                    cJSON_AddItemToArray(js, cJSON_CreateNumber((double)p->shape[k]));
            }
            strncat(shapes, ")", sizeof shapes - strlen(shapes) - 1);
        }
        total += lcount;
        if (json) {
            cJSON_AddNumberToObject(jlayer, "params", (double)lcount);
            cJSON_AddNumberToObject(jlayer, "bytes_8bit", (double)lbytes);
        } else {
            printf("%-40s %-10s %10zu %11zu  %s\n", layer, oshape, lcount, lbytes,
                   shapes[0] ? shapes : "-");
        }
    }
    if (json) {
        cJSON_AddNumberToObject(jo, "parameters", (double)total);
        cJSON_AddNumberToObject(jo, "weights", (double)weights);
        cJSON_AddNumberToObject(jo, "others", (double)others);
        cJSON_AddNumberToObject(jo, "bytes_8bit", (double)(weights + 4 * others));
        char *text = cJSON_PrintUnformatted(jo);
        if (text)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(jo);
    } else {
        printf("\nparameters: %zu (%zu weights, %zu biases/normalization/slopes)\n", total,
               weights, others);
        printf("size at 8 bits: %zu B (weights 1 B each, the rest 4 B each)\n",
               weights + 4 * others);
    }
    rc = 0;
    qr_model_free(m);
done_spec:
    qr_model_spec_free(&spec);
    qr_split_data_free(&d);
done:
    qr_train_config_free(&c);
    return rc;
}
