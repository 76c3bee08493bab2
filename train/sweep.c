/* Sweeps: reading a sweep file and walking its grid of axes, zip and include points. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/json_util.h"
#include "sweep_internal.h"

/* A list of points ("zip", "include"): objects of key path -> value. */
static qr_status check_point_list(const cJSON *list, const char *key, const char *where,
                                  qr_error *err)
{
    if (!list)
        return QR_OK;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' must be a non-empty list of objects "
                            "(key path -> value)", where, key);
    int i = 0;
    for (const cJSON *it = list->child; it; it = it->next, i++)
        if (!cJSON_IsObject(it) || !it->child)
            return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s[%d]' must be an object of key "
                                "path -> value with at least one key", where, key, i);
    return QR_OK;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    char *d = malloc((size_t)(slash - path) + 1);
    if (d) {
        memcpy(d, path, (size_t)(slash - path));
        d[slash - path] = '\0';
    }
    return d;
}

/* An absolute form of directory `dir` (realpath when it exists). */
static char *abs_dir(const char *dir)
{
    char *r = realpath(dir, NULL);
    if (r)
        return r;
    if (dir[0] == '/')
        return xstrdup(dir);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return xstrdup(dir);
    char *out = malloc(strlen(cwd) + strlen(dir) + 2);
    if (out)
        sprintf(out, "%s/%s", cwd, dir);
    return out;
}

char *qr_sweep_join(const char *dir, const char *rel)
{
    char *out = malloc(strlen(dir) + strlen(rel) + 2);
    if (out)
        sprintf(out, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
    return out;
}

static void free_axes(axis *axes, size_t n)
{
    for (size_t a = 0; a < n; a++) {
        for (size_t j = 0; j < axes[a].n; j++)
            free(axes[a].labels ? axes[a].labels[j] : NULL);
        free(axes[a].labels);
        free(axes[a].values);
    }
    free(axes);
}

static qr_status parse_axes(const cJSON *ax, expand_ctx *x, const char *where, qr_error *err)
{
    if (!ax)
        return QR_OK;
    if (!cJSON_IsObject(ax))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'axes' must be an object of key path -> "
                            "list of values (or object of label -> value)", where);
    size_t n = (size_t)cJSON_GetArraySize(ax);
    if (!(x->axes = calloc(n ? n : 1, sizeof *x->axes)))
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    for (const cJSON *it = ax->child; it; it = it->next) {
        axis *a = &x->axes[x->n_axes++];
        a->path = it->string;
        if (!(cJSON_IsArray(it) || cJSON_IsObject(it)) || cJSON_GetArraySize(it) == 0)
            return qr_error_set(err, QR_ERR_CONFIG, "%s: axis '%s' must be a non-empty list of "
                                "values or an object of label -> value", where, it->string);
        a->n = (size_t)cJSON_GetArraySize(it);
        a->values = calloc(a->n, sizeof *a->values);
        a->labels = calloc(a->n, sizeof *a->labels);
        if (!a->values || !a->labels)
            return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
        size_t j = 0;
        for (const cJSON *v = it->child; v; v = v->next, j++) {
            a->values[j] = v;
            a->labels[j] = cJSON_IsObject(it) ? xstrdup(v->string) : qr_sweep_value_label(v);
            if (!a->labels[j])
                return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
            for (size_t k = 0; k < j; k++)
                if (strcmp(a->labels[k], a->labels[j]) == 0)
                    return qr_error_set(err, QR_ERR_CONFIG, "%s: axis '%s' has the value '%s' "
                                        "twice", where, a->path, a->labels[j]);
        }
        for (const cJSON *jt = it->next; jt; jt = jt->next)
            if (strcmp(it->string, jt->string) == 0)
                return qr_error_set(err, QR_ERR_CONFIG, "%s: axis '%s' given twice", where,
                                    it->string);
    }
    return QR_OK;
}

static qr_status parse_repeat(const cJSON *rep, const char *where, qr_error *err)
{
    if (!rep)
        return QR_OK;
    if (cJSON_IsNumber(rep)) {
        double v = rep->valuedouble;
        if (v >= 1 && v <= 10000 && v == floor(v))
            return QR_OK;
    } else if (cJSON_IsArray(rep) && cJSON_GetArraySize(rep) > 0) {
        int ok = 1;
        for (const cJSON *it = rep->child; it; it = it->next)
            ok &= cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble <= 9e15 &&
                  it->valuedouble == floor(it->valuedouble);
        if (ok)
            return QR_OK;
    }
    return qr_error_set(err, QR_ERR_CONFIG, "%s: 'repeat' must be a number of repetitions "
                        "(1..10000; seeds training.seed, +1, ...) or a list of seeds", where);
}

qr_status qr_sweep_parse(const cJSON *spec, const char *source, const char *dir, qr_sweep *sw,
                         qr_error *err)
{
    memset(sw, 0, sizeof *sw);
    const char *where = source;
    static const char *const keys[] = {"description", "base", "axes", "zip", "include",
                                       "repeat", "names", "output", "set", NULL};
    qr_status s = qr_json_check_keys(spec, keys, where, "", err);
    if (s)
        return s;
    if (!(sw->source = xstrdup(source)))
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    const cJSON *base_item = cJSON_GetObjectItemCaseSensitive(spec, "base");
    const cJSON *ax = cJSON_GetObjectItemCaseSensitive(spec, "axes");
    const cJSON *zip = cJSON_GetObjectItemCaseSensitive(spec, "zip");
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(spec, "include");
    const cJSON *rep = cJSON_GetObjectItemCaseSensitive(spec, "repeat");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(spec, "names");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(spec, "output");
    cJSON *base_loaded = NULL;
    expand_ctx x = {sw, NULL, rep, cJSON_GetObjectItemCaseSensitive(spec, "set"), NULL, 0, 0,
                    where};
    setting *set = NULL;
    size_t *odo = NULL;
    if (out && (!cJSON_IsString(out) || !out->valuestring[0])) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'output' must be a directory name", where);
        goto done;
    }
    if (out && !(sw->output = xstrdup(out->valuestring))) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    if (x.fixed && !cJSON_IsObject(x.fixed)) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'set' must be an object of key path -> "
                         "value (settings of every run)", where);
        goto done;
    }
    if (names && !cJSON_IsObject(names)) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'names' must be an object of key path -> "
                         "column name", where);
        goto done;
    }
    if (cJSON_IsString(base_item)) {
        const char *b = base_item->valuestring;
        char *bpath = b[0] == '/' ? xstrdup(b) : qr_sweep_join(dir, b);
        if (!bpath) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
            goto done;
        }
        s = qr_json_load_file(bpath, &base_loaded, err);
        char *bdir = s == QR_OK ? dir_of(bpath) : NULL;
        free(bpath);
        if (s)
            goto done;
        sw->base_dir = bdir ? abs_dir(bdir) : NULL;
        free(bdir);
        x.base = base_loaded;
    } else if (cJSON_IsObject(base_item)) {
        sw->base_dir = abs_dir(dir);
        x.base = base_item;
    } else {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'base' (a config file, relative to the sweep "
                         "file, or a config object) is missing", where);
        goto done;
    }
    if (!sw->base_dir) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    if (!cJSON_IsObject(x.base)) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: the base config is not a JSON object", where);
        goto done;
    }
    const cJSON *bo = cJSON_GetObjectItemCaseSensitive(x.base, "output");
    if (bo && !(sw->base_output = cJSON_Duplicate(bo, 1))) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    if ((s = parse_axes(ax, &x, where, err)) || (s = check_point_list(zip, "zip", where, err)) ||
        (s = check_point_list(inc, "include", where, err)) || (s = parse_repeat(rep, where, err)))
        goto done;
    if (!ax && !zip && !inc && !rep) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: nothing to sweep: give 'axes', 'zip', "
                         "'include' or 'repeat'", where);
        goto done;
    }
    for (size_t a = 0; a < x.n_axes; a++)
        if ((s = qr_sweep_add_column(sw, x.axes[a].path, names, where, err)))
            goto done;
    for (int pass = 0; pass < 2; pass++)
        for (const cJSON *pt = pass ? (inc ? inc->child : NULL) : (zip ? zip->child : NULL); pt;
             pt = pt->next)
            for (const cJSON *kv = pt->child; kv; kv = kv->next)
                if ((s = qr_sweep_add_column(sw, kv->string, names, where, err)))
                    goto done;
    for (const cJSON *nm = names ? names->child : NULL; nm; nm = nm->next) {
        size_t c = 0;
        while (c < sw->n_columns && strcmp(sw->column_paths[c], nm->string) != 0)
            c++;
        if (c == sw->n_columns) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'names' names '%s', which no axis, zip or "
                             "include point sets", where, nm->string);
            goto done;
        }
    }
    /* grid: odometer over the axes (the last varies fastest), times the zip points */
    size_t max_set = x.n_axes + 1;
    for (int pass = 0; pass < 2; pass++)
        for (const cJSON *pt = pass ? (inc ? inc->child : NULL) : (zip ? zip->child : NULL); pt;
             pt = pt->next)
            max_set = x.n_axes + (size_t)cJSON_GetArraySize(pt) > max_set
                          ? x.n_axes + (size_t)cJSON_GetArraySize(pt)
                          : max_set;
    set = calloc(max_set, sizeof *set);
    odo = calloc(x.n_axes + 1, sizeof *odo);
    if (!set || !odo) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    if (x.n_axes || zip || !inc) {
        for (;;) {
            size_t n_set = 0;
            char what[256] = "";
            for (size_t a = 0; a < x.n_axes; a++) {
                set[n_set++] = (setting){x.axes[a].path, x.axes[a].values[odo[a]],
                                         x.axes[a].labels[odo[a]]};
                size_t l = strlen(what);
                snprintf(what + l, sizeof what - l, "%saxis '%s' = %s", a ? ", " : "",
                         x.axes[a].path, x.axes[a].labels[odo[a]]);
            }
            int zi = 0;
            for (const cJSON *pt = zip ? zip->child : NULL;; pt = pt->next, zi++) {
                if (zip && !pt)
                    break;
                size_t n_all = n_set;
                char w2[320];
                snprintf(w2, sizeof w2, "%s", what);
                if (pt) {
                    for (const cJSON *kv = pt->child; kv; kv = kv->next)
                        set[n_all++] = (setting){kv->string, kv, NULL};
                    size_t l = strlen(w2);
                    snprintf(w2 + l, sizeof w2 - l, "%szip[%d]", n_set ? ", " : "", zi);
                }
                if ((s = qr_sweep_add_point(&x, set, n_all, w2[0] ? w2 : "repeat", err)))
                    goto done;
                if (!zip)
                    break;
            }
            size_t a = x.n_axes; /* advance the odometer; done when it wraps */
            while (a > 0 && ++odo[a - 1] == x.axes[a - 1].n)
                odo[--a] = 0;
            if (a == 0)
                break;
        }
    }
    int ii = 0;
    for (const cJSON *pt = inc ? inc->child : NULL; pt; pt = pt->next, ii++) {
        size_t n_set = 0;
        for (const cJSON *kv = pt->child; kv; kv = kv->next)
            set[n_set++] = (setting){kv->string, kv, NULL};
        char what[64];
        snprintf(what, sizeof what, "include[%d]", ii);
        if ((s = qr_sweep_add_point(&x, set, n_set, what, err)))
            goto done;
    }
done:
    free(set);
    free(odo);
    free_axes(x.axes, x.n_axes);
    cJSON_Delete(base_loaded);
    if (s)
        qr_sweep_free(sw);
    return s;
}

qr_status qr_sweep_load(const char *path, qr_sweep *sw, qr_error *err)
{
    memset(sw, 0, sizeof *sw);
    cJSON *spec;
    qr_status s = qr_json_load_file(path, &spec, err);
    if (s)
        return s;
    char *dir = dir_of(path);
    if (!dir) {
        cJSON_Delete(spec);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    s = qr_sweep_parse(spec, path, dir, sw, err);
    free(dir);
    cJSON_Delete(spec);
    return s;
}

void qr_sweep_free(qr_sweep *sw)
{
    for (size_t i = 0; i < sw->n_points; i++)
        qr_sweep_point_free(&sw->points[i], sw->n_columns);
    free(sw->points);
    for (size_t c = 0; c < sw->n_columns; c++) {
        free(sw->columns[c]);
        free(sw->column_paths[c]);
    }
    free(sw->columns);
    free(sw->column_paths);
    free(sw->source);
    free(sw->base_dir);
    free(sw->output);
    cJSON_Delete(sw->base_output);
    memset(sw, 0, sizeof *sw);
}
