/* Model specs: the "model" array of a config, parsed strictly, and written back as JSON
 * (the model file stores its spec that way). Keys follow Keras' argument names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json_util.h"
#include "qreg/model.h"

static const char *const kind_names[QR_LAYER_COUNT + 1] = {
    [QR_LAYER_DENSE] = "dense",
    [QR_LAYER_RELU] = "relu",
    [QR_LAYER_PRELU] = "prelu",
    [QR_LAYER_SIGMOID] = "sigmoid",
    [QR_LAYER_TANH] = "tanh",
    [QR_LAYER_DROPOUT] = "dropout",
    [QR_LAYER_CONV1D] = "conv1d",
    [QR_LAYER_BATCHNORM] = "batchnorm",
    [QR_LAYER_SPATIAL_DROPOUT] = "spatial_dropout1d",
    [QR_LAYER_GRU] = "gru",
    [QR_LAYER_GAP1D] = "global_average_pooling1d",
    [QR_LAYER_MAXPOOL1D] = "maxpool1d",
    [QR_LAYER_FLATTEN] = "flatten",
    [QR_LAYER_COUNT] = NULL,
};

static const char *const padding_names[] = {"valid", "same", "causal", NULL};

QR_API const char *qr_layer_kind_name(qr_layer_kind k)
{
    return (int)k >= 0 && k < QR_LAYER_COUNT ? kind_names[k] : NULL;
}

/* The one source of a layer's defaults (Keras'), for the JSON parser and specs built in C. */
static void layer_defaults(qr_layer_spec *l, qr_layer_kind kind)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->stride = 1;
    l->dilation = 1;
    l->use_bias = 1;
    l->momentum = 0.99f;
    l->epsilon = 1e-3f;
    if (kind == QR_LAYER_MAXPOOL1D) {
        l->kernel = 2;
        l->stride = 2; /* Keras: strides default to pool_size */
    }
}

QR_API qr_layer_spec qr_layer_default(qr_layer_kind kind)
{
    qr_layer_spec l;
    layer_defaults(&l, kind);
    return l;
}

/* Keys each kind accepts besides "type" and "name". */
static const char *const *layer_keys(qr_layer_kind k)
{
    static const char *const none[] = {"type", "name", NULL};
    static const char *const dense[] = {"type", "name", "units", "use_bias", NULL};
    static const char *const prelu[] = {"type", "name", "alpha_init", NULL};
    static const char *const drop[] = {"type", "name", "rate", NULL};
    static const char *const conv[] = {"type", "name", "filters", "kernel_size", "strides",
                                       "dilation_rate", "padding", "use_bias", NULL};
    static const char *const bn[] = {"type", "name", "momentum", "epsilon", NULL};
    static const char *const gru[] = {"type", "name", "units", "return_sequences", "use_bias",
                                      NULL};
    static const char *const pool[] = {"type", "name", "pool_size", "strides", NULL};
    switch (k) {
    case QR_LAYER_DENSE: return dense;
    case QR_LAYER_PRELU: return prelu;
    case QR_LAYER_DROPOUT:
    case QR_LAYER_SPATIAL_DROPOUT: return drop;
    case QR_LAYER_CONV1D: return conv;
    case QR_LAYER_BATCHNORM: return bn;
    case QR_LAYER_GRU: return gru;
    case QR_LAYER_MAXPOOL1D: return pool;
    default: return none;
    }
}

static qr_status parse_layer(qr_layer_spec *l, const cJSON *o, size_t index, int last,
                             const char *where, qr_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "model[%zu]", index);
    if (!cJSON_IsObject(o))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: %s must be an object", where, path);
    int kind = -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!type)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: %s.type is missing", where, path);
    qr_status s = qr_json_get_choice(o, "type", kind_names, &kind, where, path, err);
    if (s != QR_OK)
        return s;
    layer_defaults(l, (qr_layer_kind)kind);
    if ((s = qr_json_check_keys(o, layer_keys(l->kind), where, path, err)) != QR_OK)
        return s;
    const char *name = NULL;
    if ((s = qr_json_get_string(o, "name", &name, where, path, err)) != QR_OK)
        return s;
    if (name) {
        if (!*name || strlen(name) >= QR_NAME_MAX || strchr(name, '/'))
            return qr_error_set(err, QR_ERR_CONFIG,
                                "%s: %s.name must be 1 to %d characters without '/'", where,
                                path, QR_NAME_MAX - 1);
        snprintf(l->name, sizeof l->name, "%s", name);
    }
    const size_t big = (size_t)1 << 24;
    switch (l->kind) {
    case QR_LAYER_DENSE:
        if (!cJSON_GetObjectItemCaseSensitive(o, "units") && !last)
            return qr_error_set(err, QR_ERR_CONFIG,
                                "%s: %s.units is missing (only the last dense layer may omit "
                                "it: it then has one unit per class)", where, path);
        if ((s = qr_json_get_size(o, "units", 1, big, &l->units, where, path, err)) != QR_OK)
            return s;
        return qr_json_get_bool(o, "use_bias", &l->use_bias, where, path, err);
    case QR_LAYER_PRELU:
        return qr_json_get_float(o, "alpha_init", -10, 10, &l->alpha_init, where, path, err);
    case QR_LAYER_DROPOUT:
    case QR_LAYER_SPATIAL_DROPOUT:
        if ((s = qr_json_get_float(o, "rate", 0, 0.99, &l->rate, where, path, err)) != QR_OK)
            return s;
        return QR_OK;
    case QR_LAYER_CONV1D: {
        if (!cJSON_GetObjectItemCaseSensitive(o, "filters"))
            return qr_error_set(err, QR_ERR_CONFIG, "%s: %s.filters is missing", where, path);
        if (!cJSON_GetObjectItemCaseSensitive(o, "kernel_size"))
            return qr_error_set(err, QR_ERR_CONFIG, "%s: %s.kernel_size is missing", where, path);
        int pad = 0;
        if ((s = qr_json_get_size(o, "filters", 1, big, &l->units, where, path, err)) ||
            (s = qr_json_get_size(o, "kernel_size", 1, 4096, &l->kernel, where, path, err)) ||
            (s = qr_json_get_size(o, "strides", 1, 4096, &l->stride, where, path, err)) ||
            (s = qr_json_get_size(o, "dilation_rate", 1, 4096, &l->dilation, where, path, err)) ||
            (s = qr_json_get_choice(o, "padding", padding_names, &pad, where, path, err)) ||
            (s = qr_json_get_bool(o, "use_bias", &l->use_bias, where, path, err)))
            return s;
        l->padding = pad;
        return QR_OK;
    }
    case QR_LAYER_BATCHNORM:
        if ((s = qr_json_get_float(o, "momentum", 0, 1, &l->momentum, where, path, err)))
            return s;
        return qr_json_get_float(o, "epsilon", 1e-12, 1, &l->epsilon, where, path, err);
    case QR_LAYER_GRU:
        if (!cJSON_GetObjectItemCaseSensitive(o, "units"))
            return qr_error_set(err, QR_ERR_CONFIG, "%s: %s.units is missing", where, path);
        if ((s = qr_json_get_size(o, "units", 1, big, &l->units, where, path, err)) ||
            (s = qr_json_get_bool(o, "return_sequences", &l->return_sequences, where, path,
                                  err)))
            return s;
        return qr_json_get_bool(o, "use_bias", &l->use_bias, where, path, err);
    case QR_LAYER_MAXPOOL1D:
        if ((s = qr_json_get_size(o, "pool_size", 1, 4096, &l->kernel, where, path, err)))
            return s;
        l->stride = l->kernel; /* Keras: strides default to pool_size */
        return qr_json_get_size(o, "strides", 1, 4096, &l->stride, where, path, err);
    default:
        return QR_OK;
    }
}

/* Fields left zero that no layer can use take their defaults; default names "<type>_<k>"
 * (k counts that type from 1); then names are checked and must be unique. The JSON parser
 * and qr_model_new (for specs built in C) both go through here. */
QR_API qr_status qr_model_spec_complete(qr_model_spec *spec, const char *where, qr_error *err)
{
    if (!where)
        where = "model spec";
    size_t count[QR_LAYER_COUNT] = {0};
    for (size_t i = 0; i < spec->n_layers; i++) {
        qr_layer_spec *l = &spec->layers[i];
        if ((int)l->kind < 0 || l->kind >= QR_LAYER_COUNT)
            return qr_error_set(err, QR_ERR_CONFIG, "%s: model[%zu].kind %d is not a layer type",
                                where, i, (int)l->kind);
        qr_layer_spec d;
        layer_defaults(&d, l->kind);
        if (l->kind == QR_LAYER_MAXPOOL1D) {
            if (!l->kernel)
                l->kernel = d.kernel;
            if (!l->stride)
                l->stride = l->kernel;
        }
        if (!l->stride)
            l->stride = d.stride;
        if (!l->dilation)
            l->dilation = d.dilation;
        if (l->epsilon <= 0)
            l->epsilon = d.epsilon;
        count[l->kind]++;
        if (!memchr(l->name, '\0', sizeof l->name) || strchr(l->name, '/'))
            return qr_error_set(err, QR_ERR_CONFIG,
                                "%s: model[%zu].name must be 1 to %d characters without '/'",
                                where, i, QR_NAME_MAX - 1);
        if (!l->name[0])
            snprintf(l->name, sizeof l->name, "%s_%zu", kind_names[l->kind], count[l->kind]);
    }
    for (size_t i = 0; i < spec->n_layers; i++)
        for (size_t j = i + 1; j < spec->n_layers; j++)
            if (strcmp(spec->layers[i].name, spec->layers[j].name) == 0)
                return qr_error_set(err, QR_ERR_CONFIG, "%s: model[%zu].name '%s' is used twice",
                                    where, j, spec->layers[j].name);
    return QR_OK;
}

QR_API qr_status qr_model_spec_parse(qr_model_spec *spec, const cJSON *layers, const char *where,
                                     qr_error *err)
{
    if (!cJSON_IsArray(layers))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'model' must be an array of layers", where);
    size_t n = (size_t)cJSON_GetArraySize(layers);
    if (n == 0)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'model' has no layers", where);
    qr_layer_spec *ls = calloc(n, sizeof *ls);
    if (!ls)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    size_t i = 0;
    for (const cJSON *it = layers->child; it; it = it->next, i++) {
        qr_status s = parse_layer(&ls[i], it, i, i + 1 == n, where, err);
        if (s != QR_OK) {
            free(ls);
            return s;
        }
    }
    free(spec->layers);
    spec->layers = ls;
    spec->n_layers = n;
    return qr_model_spec_complete(spec, where, err);
}

QR_API cJSON *qr_model_spec_to_json(const qr_model_spec *spec)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < spec->n_layers; i++) {
        const qr_layer_spec *l = &spec->layers[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "type", kind_names[l->kind]);
        cJSON_AddStringToObject(o, "name", l->name);
        switch (l->kind) {
        case QR_LAYER_DENSE:
            if (l->units) /* 0: the last dense layer before n_classes is known */
                cJSON_AddNumberToObject(o, "units", (double)l->units);
            cJSON_AddBoolToObject(o, "use_bias", l->use_bias);
            break;
        case QR_LAYER_PRELU:
            cJSON_AddNumberToObject(o, "alpha_init", l->alpha_init);
            break;
        case QR_LAYER_DROPOUT:
        case QR_LAYER_SPATIAL_DROPOUT:
            cJSON_AddNumberToObject(o, "rate", l->rate);
            break;
        case QR_LAYER_CONV1D:
            cJSON_AddNumberToObject(o, "filters", (double)l->units);
            cJSON_AddNumberToObject(o, "kernel_size", (double)l->kernel);
            cJSON_AddNumberToObject(o, "strides", (double)l->stride);
            cJSON_AddNumberToObject(o, "dilation_rate", (double)l->dilation);
            cJSON_AddStringToObject(o, "padding", padding_names[l->padding]);
            cJSON_AddBoolToObject(o, "use_bias", l->use_bias);
            break;
        case QR_LAYER_BATCHNORM:
            cJSON_AddNumberToObject(o, "momentum", l->momentum);
            cJSON_AddNumberToObject(o, "epsilon", l->epsilon);
            break;
        case QR_LAYER_GRU:
            cJSON_AddNumberToObject(o, "units", (double)l->units);
            cJSON_AddBoolToObject(o, "return_sequences", l->return_sequences);
            cJSON_AddBoolToObject(o, "use_bias", l->use_bias);
            break;
        case QR_LAYER_MAXPOOL1D:
            cJSON_AddNumberToObject(o, "pool_size", (double)l->kernel);
            cJSON_AddNumberToObject(o, "strides", (double)l->stride);
            break;
        default:
            break;
        }
    }
    return arr;
}

QR_API void qr_model_spec_free(qr_model_spec *spec)
{
    if (!spec)
        return;
    free(spec->layers);
    memset(spec, 0, sizeof *spec);
}

QR_API qr_status qr_model_spec_copy(qr_model_spec *dst, const qr_model_spec *src)
{
    *dst = *src;
    dst->layers = NULL;
    if (src->n_layers) {
        dst->layers = malloc(src->n_layers * sizeof *dst->layers);
        if (!dst->layers)
            return QR_ERR_NOMEM;
        memcpy(dst->layers, src->layers, src->n_layers * sizeof *dst->layers);
    }
    return QR_OK;
}
