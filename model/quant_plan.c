/* A model's quantization plan: the default plan over the spec's weight matrices, the
 * selection of matrices by layer for a config's "quantize" section, the stored form's
 * validation, and the plan a model carries. Config format: docs/quantization.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json_util.h"
#include "model/model_impl.h"

/* The weight matrices a layer owns: conv1d and dense "kernel"; gru "kernel" (input) and
 * "recurrent_kernel". Fills names (up to 2), returns their count. */
static int layer_matrices(const qr_layer_spec *l, const char **tensors)
{
    switch (l->kind) {
    case QR_LAYER_DENSE:
    case QR_LAYER_CONV1D:
        tensors[0] = "kernel";
        return 1;
    case QR_LAYER_GRU:
        tensors[0] = "kernel";
        tensors[1] = "recurrent_kernel";
        return 2;
    default:
        return 0;
    }
}

/* The layer after l (dropout aside) is a batch norm: the exporter folds it into l, whose
 * per-channel requantization then also carries a per-channel grid scale for free. */
static int feeds_batchnorm(const qr_model_spec *spec, size_t li)
{
    const qr_layer_spec *l = &spec->layers[li];
    if (l->kind != QR_LAYER_CONV1D && l->kind != QR_LAYER_DENSE)
        return 0;
    size_t j = li + 1;
    while (j < spec->n_layers && (spec->layers[j].kind == QR_LAYER_DROPOUT ||
                                  spec->layers[j].kind == QR_LAYER_SPATIAL_DROPOUT))
        j++;
    return j < spec->n_layers && spec->layers[j].kind == QR_LAYER_BATCHNORM;
}

/* The layer owning weight matrix `name` ("layer/tensor"), or the layer count. */
static size_t matrix_layer(const qr_model_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n_layers; i++) {
        size_t len = strlen(spec->layers[i].name);
        if (strncmp(name, spec->layers[i].name, len) == 0 && name[len] == '/')
            return i;
    }
    return spec->n_layers;
}

int qr_model_feeds_batchnorm(const qr_model_spec *spec, const char *matrix)
{
    size_t li = matrix_layer(spec, matrix);
    return li < spec->n_layers && feeds_batchnorm(spec, li);
}

/* The size of a weight matrix's last axis (its output channels): conv filters, dense units
 * (the classes for a last dense layer without units), 3·units for a GRU; 0 when unknown. */
static size_t matrix_channels(const qr_model_spec *spec, const char *name)
{
    size_t li = matrix_layer(spec, name);
    if (li >= spec->n_layers)
        return 0;
    const qr_layer_spec *l = &spec->layers[li];
    switch (l->kind) {
    case QR_LAYER_CONV1D:
    case QR_LAYER_DENSE: return l->units ? l->units : spec->n_classes;
    case QR_LAYER_GRU: return 3 * l->units;
    default: return 0;
    }
}

QR_API qr_status qr_quant_plan_init(qr_quant_plan *p, const qr_model_spec *spec_in)
{
    memset(p, 0, sizeof *p);
    p->near_eps = 0.05;
    /* the matrices' names as the model will have them (a spec built in C may leave the
     * layer names empty: qr_model_new fills them the same way) */
    qr_model_spec spec_c;
    if (qr_model_spec_copy(&spec_c, spec_in) != QR_OK)
        return QR_ERR_NOMEM;
    qr_status s = qr_model_spec_complete(&spec_c, NULL, NULL);
    if (s != QR_OK) {
        qr_model_spec_free(&spec_c);
        return s;
    }
    const qr_model_spec *spec = &spec_c;
    size_t n = 0;
    const char *t[2];
    for (size_t i = 0; i < spec->n_layers; i++)
        n += (size_t)layer_matrices(&spec->layers[i], t);
    p->m = calloc(n ? n : 1, sizeof *p->m);
    if (!p->m) {
        qr_model_spec_free(&spec_c);
        return QR_ERR_NOMEM;
    }
    for (size_t i = 0; i < spec->n_layers; i++) {
        int k = layer_matrices(&spec->layers[i], t);
        for (int j = 0; j < k; j++) {
            qr_quant_matrix *q = &p->m[p->n++];
            snprintf(q->name, sizeof q->name, "%s/%s", spec->layers[i].name, t[j]);
            q->bits = 8;
            q->reg = QR_REG_COS;
            q->alpha = 1.0f;
            qr_schedule_default(&q->schedule, QR_SCHED_NONE);
        }
    }
    qr_model_spec_free(&spec_c);
    return QR_OK;
}

/* A "schedule" object: {"name": ..., "d", "rate", "step", "power"}. */
static qr_status parse_schedule(const cJSON *o, qr_schedule *s, double t_final, const char *where,
                                const char *path, qr_error *err)
{
    static const char *const keys[] = {"name", "d", "rate", "step", "power", NULL};
    qr_status st = qr_json_check_keys(o, keys, where, path, err);
    if (st != QR_OK)
        return st;
    const char *name = NULL;
    if ((st = qr_json_get_string(o, "name", &name, where, path, err)))
        return st;
    qr_sched_kind kind = QR_SCHED_NONE;
    if (!name || qr_sched_parse(name, &kind) != QR_OK)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: '%s.name' must be one of none, linear, poly2, polyN, inv_linear, "
                            "inv_poly, step_linear, step_inverse, step_bounded", where, path);
    qr_schedule_default(s, kind);
    if ((st = qr_json_get_double(o, "d", 1e-12, 1e12, &s->d, where, path, err)) ||
        (st = qr_json_get_double(o, "rate", 1e-9, 0.999999, &s->rate, where, path, err)) ||
        (st = qr_json_get_double(o, "step", 1, 1e12, &s->step, where, path, err)) ||
        (st = qr_json_get_double(o, "power", 1e-6, 1e6, &s->power, where, path, err)))
        return st;
    if (qr_schedule_check(s, t_final) != QR_OK)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: '%s' does not fit t_final = %g (step must be <= t_final)", where,
                            path, t_final);
    return QR_OK;
}

/* Does selector string `sel` choose layer l? */
static int layer_selected(const char *sel, const qr_layer_spec *l)
{
    return strcmp(sel, "all") == 0 || strcmp(sel, l->name) == 0 ||
           strcmp(sel, qr_layer_kind_name(l->kind)) == 0;
}

/* Does the matrix selector choose tensor t of layer l? */
static int matrix_selected(const char *msel, const qr_layer_spec *l, const char *t)
{
    if (strcmp(msel, "all") == 0 || strcmp(msel, t) == 0)
        return 1;
    return strcmp(msel, "input_kernel") == 0 && l->kind == QR_LAYER_GRU && strcmp(t, "kernel") == 0;
}

qr_status qr_quant_select(const qr_model_spec *spec, const qr_quant_plan *all, const cJSON *e,
                          unsigned char *chosen, size_t *count, const char *where,
                          const char *path, qr_error *err)
{
    *count = 0;
    const cJSON *layer = cJSON_GetObjectItemCaseSensitive(e, "layer");
    const char *msel = "all";
    static const char *const matrix_names[] = {"all", "kernel", "input_kernel",
                                               "recurrent_kernel", NULL};
    int mi;
    qr_status s;
    if ((s = qr_json_get_string(e, "matrix", &msel, where, path, err)) ||
        (s = qr_json_get_choice(e, "matrix", matrix_names, &mi, where, path, err)))
        return s;
    if (!layer)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.layer' is missing (a layer name, a "
                            "layer type, \"all\", or a list of them)", where, path);
    if (!cJSON_IsString(layer) && !cJSON_IsArray(layer))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.layer' must be a string or a list of "
                            "strings", where, path);
    if (cJSON_IsArray(layer))
        for (const cJSON *it = layer->child; it; it = it->next)
            if (!cJSON_IsString(it))
                return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.layer' must list strings", where,
                                    path);
    for (size_t li = 0; li < spec->n_layers; li++) {
        const qr_layer_spec *l = &spec->layers[li];
        int take = 0;
        if (cJSON_IsString(layer))
            take = layer_selected(layer->valuestring, l);
        else
            for (const cJSON *it = layer->child; it && !take; it = it->next)
                take = layer_selected(it->valuestring, l);
        if (!take)
            continue;
        const char *t[2];
        int k = layer_matrices(l, t);
        for (int j = 0; j < k; j++) {
            if (!matrix_selected(msel, l, t[j]))
                continue;
            char name[64];
            snprintf(name, sizeof name, "%s/%s", l->name, t[j]);
            for (size_t q = 0; q < all->n; q++)
                if (strcmp(all->m[q].name, name) == 0 && !chosen[q]) {
                    chosen[q] = 1;
                    (*count)++;
                }
        }
    }
    return QR_OK;
}

/* "ste_clip": the STE's edge in units of α (a number in [0.5, 1000]) or false (no edge:
 * the identity STE); only with "method": "ste". Absent: 0, the default edge. */
static qr_status parse_ste_clip(const cJSON *e, int ste, float *clip, const char *where,
                                const char *path, qr_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "ste_clip");
    if (!v)
        return QR_OK;
    if (!ste)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.ste_clip' needs \"method\": \"ste\"",
                            where, path);
    if (cJSON_IsFalse(v)) {
        *clip = INFINITY;
        return QR_OK;
    }
    if (!cJSON_IsNumber(v))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.ste_clip' must be a number in "
                            "[0.5, 1000] (the STE's edge in units of the grid scale) or false",
                            where, path);
    return qr_json_get_float(e, "ste_clip", 0.5, 1000, clip, where, path, err);
}

/* "ste_grad": "identity" (the default) or "approxsign"; only with "method": "ste", approxsign
 * only at 1 bit and without "ste_clip" (its edge is |w/α| = 1). */
static qr_status parse_ste_grad(const cJSON *e, int ste, int bits, qr_ste_grad *grad,
                                const char *where, const char *path, qr_error *err)
{
    static const char *const grads[] = {"identity", "approxsign", NULL};
    int g = QR_STE_GRAD_IDENTITY;
    qr_status s = qr_json_get_choice(e, "ste_grad", grads, &g, where, path, err);
    if (s != QR_OK)
        return s;
    if (cJSON_GetObjectItemCaseSensitive(e, "ste_grad") && !ste)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.ste_grad' needs \"method\": \"ste\"",
                            where, path);
    if (g == QR_STE_GRAD_APPROXSIGN && bits != 1)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.ste_grad' \"approxsign\" needs bits 1 "
                            "(it approximates sign)", where, path);
    if (g == QR_STE_GRAD_APPROXSIGN && cJSON_GetObjectItemCaseSensitive(e, "ste_clip"))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.ste_grad' \"approxsign\" does not take "
                            "'ste_clip' (its gradient ends at |w/α| = 1)", where, path);
    *grad = (qr_ste_grad)g;
    return QR_OK;
}

/* "scale": "lsq" needs "method": "ste"; its "scale_lr" in (0, 10] (only with "lsq"). */
static qr_status parse_scale_lr(const cJSON *e, int ste, int scale, float *lr, const char *where,
                                const char *path, qr_error *err)
{
    if (scale == QR_SCALE_LSQ && !ste)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.scale' \"lsq\" needs \"method\": "
                            "\"ste\" (the scale learns from the STE's gradient)", where, path);
    if (cJSON_GetObjectItemCaseSensitive(e, "scale_lr") && scale != QR_SCALE_LSQ)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.scale_lr' needs \"scale\": \"lsq\"",
                            where, path);
    qr_status s = qr_json_get_float(e, "scale_lr", 1e-9, 10, lr, where, path, err);
    if (s == QR_OK && !(*lr > 0))
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.scale_lr' must be in (0, 10]", where, path);
    return s;
}

static qr_status parse_entry(qr_quant_plan *p, const cJSON *e, const qr_model_spec *spec,
                             size_t index, float lambda, int mean, const qr_schedule *sched,
                             qr_lambda_norm lnorm, double t_final, const char *where,
                             qr_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "quantize.matrices[%zu]", index);
    static const char *const keys[] = {"layer", "matrix", "bits", "regularizer", "regularize",
                                       "lambda", "reduction", "schedule", "method", "scale",
                                       "granularity", "ste_clip", "scale_lr", "ste_grad",
                                       NULL};
    qr_status s = qr_json_check_keys(e, keys, where, path, err);
    if (s != QR_OK)
        return s;
    const char *regname = NULL;
    long bits = -1;
    if ((s = qr_json_get_int(e, "bits", 1, 8, &bits, where, path, err)))
        return s;
    if (bits < 0)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.bits' is missing (1 to 8)", where, path);
    int regularize = 1;
    if ((s = qr_json_get_bool(e, "regularize", &regularize, where, path, err)) ||
        (s = qr_json_get_string(e, "regularizer", &regname, where, path, err)))
        return s;
    qr_reg_kind reg = bits == 1 ? QR_REG_REG1C : QR_REG_COS;
    if (regname && qr_reg_parse(regname, &reg) != QR_OK)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.regularizer' = \"%s\" is not one of r1, "
                            "r1sq, reg1a, reg1b, reg1c, cos", where, path, regname);
    if (!qr_reg_valid(reg, (int)bits))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.regularizer' %s does not fit %ld bits "
                            "(1-bit regularizers need bits 1, cos needs 2 to 8)", where, path,
                            qr_reg_name(reg), bits);
    if (!regularize && bits != 8)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.bits' must be 8 with 'regularize': "
                            "false (an unregularized matrix is quantized by 8-bit min-max PTQ)",
                            where, path);
    static const char *const methods[] = {"regularize", "ste", NULL};
    static const char *const scales[] = {"none", "fixed", "learned", "lsq", NULL};
    int method = 0, scale = QR_SCALE_NONE;
    if ((s = qr_json_get_choice(e, "method", methods, &method, where, path, err)) ||
        (s = qr_json_get_choice(e, "scale", scales, &scale, where, path, err)))
        return s;
    float scale_lr = 0.01f;
    if ((s = parse_scale_lr(e, method == 1, scale, &scale_lr, where, path, err)))
        return s;
    if (!regularize && (method != 0 || scale != QR_SCALE_NONE))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s': 'method' and 'scale' apply to matrices "
                            "on the N-bit grid, not to 8-bit PTQ ('regularize': false)", where, path);
    static const char *const grans[] = {"matrix", "channel", "auto", NULL};
    int gran = 0;
    if ((s = qr_json_get_choice(e, "granularity", grans, &gran, where, path, err)))
        return s;
    if (gran != 0 && scale == QR_SCALE_NONE)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.granularity' \"%s\" needs a grid scale: "
                            "set 'scale' to \"fixed\" or \"learned\"", where, path, grans[gran]);
    float clip = 0.0f;
    qr_ste_grad grad = QR_STE_GRAD_IDENTITY;
    if ((s = parse_ste_clip(e, method == 1, &clip, where, path, err)) ||
        (s = parse_ste_grad(e, method == 1, (int)bits, &grad, where, path, err)))
        return s;
    float lam = lambda;
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(e, "lambda");
    if (lj && cJSON_IsNumber(lj) && lj->valuedouble < 0)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.lambda' must not be negative", where, path);
    if ((s = qr_json_get_float(e, "lambda", 0, 1e6, &lam, where, path, err)))
        return s;
    int red = mean;
    static const char *const reductions[] = {"sum", "mean", NULL};
    if ((s = qr_json_get_choice(e, "reduction", reductions, &red, where, path, err)))
        return s;
    qr_schedule sc = *sched;
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(e, "schedule");
    if (sj) {
        char spath[80];
        snprintf(spath, sizeof spath, "%s.schedule", path);
        if ((s = parse_schedule(sj, &sc, t_final, where, spath, err)))
            return s;
    }
    /* the matrices last: every early return above has nothing to free */
    unsigned char *chosen = calloc(p->n ? p->n : 1, 1);
    size_t matched = 0;
    if (!chosen)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    s = qr_quant_select(spec, p, e, chosen, &matched, where, path, err);
    if (s == QR_OK && matched == 0)
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' matches no weight matrix of the model "
                         "(layer names, layer types, \"all\"; matrix kernel, input_kernel, "
                         "recurrent_kernel, all)", where, path);
    if (s != QR_OK) {
        free(chosen);
        return s;
    }
    for (size_t q = 0; q < p->n; q++) {
        if (!chosen[q])
            continue;
        qr_quant_matrix *m = &p->m[q];
        m->bits = (int)bits;
        m->regularized = regularize;
        m->reg = reg;
        m->lambda = lam;
        m->mean = red;
        m->schedule = sc;
        m->ste = method == 1;
        m->scale_mode = (qr_scale_mode)scale;
        m->alpha = 1.0f;
        m->per_channel = gran == 1 || (gran == 2 && feeds_batchnorm(spec, matrix_layer(spec,
                                                                                     m->name)));
        m->channels = 0; /* set from the parameter's shape when training starts */
        m->lambda_norm = lnorm;
        m->ste_clip = clip;
        m->ste_grad = grad;
        m->scale_lr = scale_lr;
    }
    free(chosen);
    return QR_OK;
}

QR_API qr_status qr_quant_plan_parse(qr_quant_plan *p, const cJSON *q, const qr_model_spec *spec,
                                     double t_final, const char *where, qr_error *err)
{
    static const char *const keys[] = {"lambda", "reduction", "schedule", "per", "near_eps",
                                       "lambda_norm", "matrices", NULL};
    qr_status s = qr_json_check_keys(q, keys, where, "quantize", err);
    if (s != QR_OK)
        return s;
    float lambda = 1e-3f;
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(q, "lambda");
    if (lj && cJSON_IsNumber(lj) && lj->valuedouble < 0)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'quantize.lambda' must not be negative", where);
    int mean = 0, per = 0, lnorm = QR_LAMBDA_NORM_NONE;
    static const char *const reductions[] = {"sum", "mean", NULL};
    static const char *const pers[] = {"epoch", "step", NULL};
    static const char *const lnorms[] = {"none", "slope", NULL};
    if ((s = qr_json_get_float(q, "lambda", 0, 1e6, &lambda, where, "quantize", err)) ||
        (s = qr_json_get_choice(q, "lambda_norm", lnorms, &lnorm, where, "quantize", err)) ||
        (s = qr_json_get_choice(q, "reduction", reductions, &mean, where, "quantize", err)) ||
        (s = qr_json_get_choice(q, "per", pers, &per, where, "quantize", err)) ||
        (s = qr_json_get_double(q, "near_eps", 1e-9, 0.5, &p->near_eps, where, "quantize", err)))
        return s;
    p->per_step = per;
    qr_schedule sched;
    qr_schedule_default(&sched, QR_SCHED_NONE);
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(q, "schedule");
    if (sj && (s = parse_schedule(sj, &sched, t_final, where, "quantize.schedule", err)))
        return s;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(q, "matrices");
    if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) == 0)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'quantize.matrices' must be a non-empty list",
                            where);
    size_t i = 0;
    for (const cJSON *e = ms->child; e; e = e->next, i++)
        if ((s = parse_entry(p, e, spec, i, lambda, mean, &sched, (qr_lambda_norm)lnorm, t_final,
                             where, err)))
            return s;
    return QR_OK;
}

/* The stored form names each tensor; everything is re-validated on load. */
QR_API qr_status qr_quant_plan_from_json(qr_quant_plan *p, const cJSON *j,
                                         const qr_model_spec *spec, const char *where,
                                         qr_error *err)
{
    qr_status s = qr_quant_plan_init(p, spec);
    if (s != QR_OK)
        return qr_error_set(err, s, "%s: out of memory", where);
    static const char *const keys[] = {"per", "near_eps", "matrices", NULL};
    static const char *const pers[] = {"epoch", "step", NULL};
    int per = 0;
    if ((s = qr_json_check_keys(j, keys, where, "quantize", err)) ||
        (s = qr_json_get_choice(j, "per", pers, &per, where, "quantize", err)) ||
        (s = qr_json_get_double(j, "near_eps", 1e-9, 0.5, &p->near_eps, where, "quantize", err)))
        goto fail;
    p->per_step = per;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "matrices");
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != p->n) {
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: quantize.matrices must list the model's %zu "
                         "weight matrices", where, p->n);
        goto fail;
    }
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        static const char *const ek[] = {"tensor", "bits", "regularize", "regularizer", "lambda",
                                         "reduction", "schedule", "method", "scale", "alpha",
                                         "granularity", "alphas", "lambda_norm", "ste_clip",
                                         "scale_lr", "ste_grad", NULL};
        static const char *const grans[] = {"matrix", "channel", NULL};
        static const char *const lnorms[] = {"none", "slope", NULL};
        int gran = 0, lnorm = 0;
        static const char *const methods[] = {"regularize", "ste", NULL};
        static const char *const scales[] = {"none", "fixed", "learned", "lsq", NULL};
        int method = 0, scale = 0;
        static const char *const reductions[] = {"sum", "mean", NULL};
        qr_quant_matrix *m = &p->m[i];
        const char *tensor = NULL, *reg = NULL;
        long bits = -1;
        int red = 0;
        if ((s = qr_json_check_keys(e, ek, where, "quantize.matrices", err)) ||
            (s = qr_json_get_string(e, "tensor", &tensor, where, "quantize.matrices", err)) ||
            (s = qr_json_get_int(e, "bits", 1, 8, &bits, where, "quantize.matrices", err)) ||
            (s = qr_json_get_bool(e, "regularize", &m->regularized, where, "quantize.matrices",
                                  err)) ||
            (s = qr_json_get_string(e, "regularizer", &reg, where, "quantize.matrices", err)) ||
            (s = qr_json_get_float(e, "lambda", 0, 1e6, &m->lambda, where, "quantize.matrices",
                                   err)) ||
            (s = qr_json_get_choice(e, "reduction", reductions, &red, where, "quantize.matrices",
                                    err)) ||
            (s = qr_json_get_choice(e, "method", methods, &method, where, "quantize.matrices",
                                    err)) ||
            (s = qr_json_get_choice(e, "scale", scales, &scale, where, "quantize.matrices", err)) ||
            (s = qr_json_get_float(e, "alpha", 1e-30, 1e30, &m->alpha, where, "quantize.matrices",
                                   err)) ||
            (s = qr_json_get_choice(e, "granularity", grans, &gran, where, "quantize.matrices",
                                    err)) ||
            (s = qr_json_get_choice(e, "lambda_norm", lnorms, &lnorm, where, "quantize.matrices",
                                    err)))
            goto fail;
        m->lambda_norm = (qr_lambda_norm)lnorm;
        m->ste_clip = 0.0f;
        m->ste_grad = QR_STE_GRAD_IDENTITY;
        m->scale_lr = 0.01f;
        if ((s = parse_ste_clip(e, method == 1, &m->ste_clip, where, "quantize.matrices", err)) ||
            (s = parse_ste_grad(e, method == 1, (int)bits, &m->ste_grad, where,
                                "quantize.matrices", err)) ||
            (s = parse_scale_lr(e, method == 1, scale, &m->scale_lr, where, "quantize.matrices",
                                err)))
            goto fail;
        m->per_channel = gran == 1;
        const cJSON *al = cJSON_GetObjectItemCaseSensitive(e, "alphas");
        size_t want = matrix_channels(spec, m->name);
        if (al && (!m->per_channel || !cJSON_IsArray(al) ||
                   (want && (size_t)cJSON_GetArraySize(al) != want) ||
                   (!want && cJSON_GetArraySize(al) == 0))) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: quantize.matrices[%zu].alphas must list one "
                             "grid scale per output channel of a per-channel matrix", where, i);
            goto fail;
        }
        m->channels = al ? (size_t)cJSON_GetArraySize(al) : 0;
        if (m->per_channel && (scale == QR_SCALE_NONE || !m->regularized)) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: quantize.matrices[%zu] is invalid", where, i);
            goto fail;
        }
        m->mean = red;
        m->ste = method == 1;
        m->scale_mode = (qr_scale_mode)scale;
        if (!tensor || strcmp(tensor, m->name) != 0 || bits < 1 || !reg ||
            qr_reg_parse(reg, &m->reg) != QR_OK || !qr_reg_valid(m->reg, (int)bits) ||
            (!m->regularized && (bits != 8 || m->ste || m->scale_mode != QR_SCALE_NONE))) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: quantize.matrices[%zu] is invalid", where, i);
            goto fail;
        }
        m->bits = (int)bits;
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(e, "schedule");
        if (sc && (s = parse_schedule(sc, &m->schedule, 1e12, where, "quantize.matrices.schedule",
                                      err)))
            goto fail;
    }
    /* the per-channel scales, checked positive and finite as "alpha" is */
    if ((s = qr_quant_plan_alloc_alphas(p)) != QR_OK) {
        qr_error_set(err, s, "%s: out of memory", where);
        goto fail;
    }
    i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        const qr_quant_matrix *m = &p->m[i];
        const cJSON *al = cJSON_GetObjectItemCaseSensitive(e, "alphas");
        size_t c = 0;
        for (const cJSON *v = al ? al->child : NULL; v; v = v->next, c++) {
            if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1e-30 && v->valuedouble <= 1e30)) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: quantize.matrices[%zu].alphas[%zu] must "
                                 "be a positive number", where, i, c);
                goto fail;
            }
            p->alphas[m->alpha_off + c] = (float)v->valuedouble;
        }
    }
    return QR_OK;
fail:
    qr_quant_plan_free(p);
    return s == QR_ERR_CONFIG ? QR_ERR_FORMAT : s;
}

QR_API qr_status qr_model_set_quant_plan(qr_model *m, const qr_quant_plan *p)
{
    qr_quant_plan *copy = NULL;
    if (p) {
        if (!(copy = malloc(sizeof *copy)))
            return QR_ERR_NOMEM;
        if (qr_quant_plan_copy(copy, p) != QR_OK) {
            free(copy);
            return QR_ERR_NOMEM;
        }
    }
    if (m->quant) {
        qr_quant_plan_free(m->quant);
        free(m->quant);
    }
    m->quant = copy;
    return QR_OK;
}

QR_API const qr_quant_plan *qr_model_quant_plan(const qr_model *m)
{
    return m->quant;
}
