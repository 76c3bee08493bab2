/* Sweeps: the runs of one point (config, seed, id, labels) and result columns (sweep.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sweep_internal.h"

#define MAX_POINTS 1000000

char *qr_sweep_value_label(const cJSON *v)
{
    if (cJSON_IsString(v))
        return xstrdup(v->valuestring);
    if (cJSON_IsNull(v))
        return xstrdup(""); /* a removed key: absent, as in a config without it */
    char *s = cJSON_PrintUnformatted(v);
    return s;
}

void qr_sweep_point_free(qr_sweep_point *p, size_t n_columns)
{
    cJSON_Delete(p->config);
    if (p->labels)
        for (size_t i = 0; i < n_columns; i++)
            free(p->labels[i]);
    free(p->labels);
}

static qr_status set_number(cJSON *root, const char *path, double v, const char *where,
                            qr_error *err)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (!n)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    qr_status s = qr_sweep_path_set(root, path, n, where, err);
    cJSON_Delete(n);
    return s;
}

/* The label of column `c` for a point: the setting's label when the point sets the column's
 * path, else the config's value there (an axis label when it equals an axis value). */
static char *column_label(const expand_ctx *x, size_t c, const setting *set, size_t n_set,
                          const cJSON *config)
{
    const char *path = x->sw->column_paths[c];
    for (size_t i = n_set; i-- > 0;)
        if (strcmp(set[i].path, path) == 0)
            return set[i].label ? xstrdup(set[i].label) : qr_sweep_value_label(set[i].value);
    const cJSON *v = qr_sweep_path_get(config, path);
    if (!v)
        return xstrdup("");
    for (size_t a = 0; a < x->n_axes; a++) {
        if (strcmp(x->axes[a].path, path) != 0)
            continue;
        char *cv = qr_sweep_canonical(v);
        for (size_t j = 0; cv && j < x->axes[a].n; j++) {
            char *av = qr_sweep_canonical(x->axes[a].values[j]);
            int same = av && strcmp(av, cv) == 0;
            free(av);
            if (same) {
                free(cv);
                return xstrdup(x->axes[a].labels[j]);
            }
        }
        free(cv);
    }
    return qr_sweep_value_label(v);
}

/* The number of steps of a key path after the first. */
static size_t path_depth(const char *path)
{
    size_t d = 0;
    for (const char *p = path; *p; p++)
        d += *p == '.' || *p == '[';
    return d;
}

qr_status qr_sweep_add_point(expand_ctx *x, const setting *set, size_t n_set, const char *what,
                             qr_error *err)
{
    qr_sweep *sw = x->sw;
    size_t reps = 1;
    if (cJSON_IsNumber(x->repeat))
        reps = (size_t)x->repeat->valuedouble;
    else if (cJSON_IsArray(x->repeat))
        reps = (size_t)cJSON_GetArraySize(x->repeat);
    char where[QR_ERROR_MAX / 2];
    snprintf(where, sizeof where, "%s: %s", x->where, what);
    size_t max_depth = 0;
    for (size_t i = 0; i < n_set; i++)
        if (path_depth(set[i].path) > max_depth)
            max_depth = path_depth(set[i].path);
    for (size_t r = 0; r < reps; r++) {
        if (sw->n_points >= MAX_POINTS)
            return qr_error_set(err, QR_ERR_CONFIG, "%s: more than %d runs", x->where,
                                MAX_POINTS);
        if (sw->n_points == x->cap_points) {
            size_t cap = x->cap_points ? 2 * x->cap_points : 64;
            qr_sweep_point *pts = realloc(sw->points, cap * sizeof *pts);
            if (!pts)
                return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", x->where);
            sw->points = pts;
            x->cap_points = cap;
        }
        qr_sweep_point *p = &sw->points[sw->n_points];
        memset(p, 0, sizeof *p);
        qr_status s = QR_OK;
        if (!(p->config = cJSON_Duplicate(x->base, 1)))
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", x->where);
        size_t fixed_depth = 0;
        for (const cJSON *kv = x->fixed ? x->fixed->child : NULL; kv; kv = kv->next)
            if (path_depth(kv->string) > fixed_depth)
                fixed_depth = path_depth(kv->string);
        for (size_t depth = 0; s == QR_OK && x->fixed && depth <= fixed_depth; depth++)
            for (const cJSON *kv = x->fixed->child; s == QR_OK && kv; kv = kv->next)
                if (path_depth(kv->string) == depth) {
                    char w2[QR_ERROR_MAX / 2];
                    snprintf(w2, sizeof w2, "%s: set", x->where);
                    s = qr_sweep_path_set(p->config, kv->string, kv, w2, err);
                }
        /* enclosing paths first ("quantize" before "quantize.lambda"), so a setting inside a
         * subtree another setting replaces lands in the new subtree; otherwise in order */
        for (size_t depth = 0; s == QR_OK && depth <= max_depth; depth++)
            for (size_t i = 0; s == QR_OK && i < n_set; i++)
                if (path_depth(set[i].path) == depth)
                    s = qr_sweep_path_set(p->config, set[i].path, set[i].value, where, err);
        cJSON *training = NULL;
        if (s == QR_OK) {
            training = cJSON_GetObjectItemCaseSensitive(p->config, "training");
            if (!training)
                training = cJSON_AddObjectToObject(p->config, "training");
            if (!cJSON_IsObject(training))
                s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'training' is not an object", where);
        }
        if (s == QR_OK) {
            const cJSON *seed = cJSON_GetObjectItemCaseSensitive(training, "seed");
            double v = cJSON_IsNumber(seed) ? seed->valuedouble : 1.0;
            if (cJSON_IsNumber(x->repeat))
                v += (double)r;
            else if (cJSON_IsArray(x->repeat))
                v = cJSON_GetArrayItem(x->repeat, (int)r)->valuedouble;
            p->seed = (long long)v;
            p->rep = r + 1;
            if (x->repeat)
                s = set_number(p->config, "training.seed", v, where, err);
        }
        if (s == QR_OK)
            s = set_number(p->config, "training.threads", 1, where, err);
        if (s == QR_OK) {
            cJSON_DeleteItemFromObjectCaseSensitive(p->config, "output");
            cJSON_DeleteItemFromObjectCaseSensitive(p->config, "description");
            qr_sweep_id(p->config, p->id);
            if (!(p->labels = calloc(sw->n_columns ? sw->n_columns : 1, sizeof *p->labels)))
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", x->where);
        }
        for (size_t c = 0; s == QR_OK && c < sw->n_columns; c++)
            if (!(p->labels[c] = column_label(x, c, set, n_set, p->config)))
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", x->where);
        if (s != QR_OK) {
            qr_sweep_point_free(p, sw->n_columns);
            return s;
        }
        for (size_t k = 0; k < sw->n_points; k++)
            if (strcmp(sw->points[k].id, p->id) == 0) {
                char a[160] = "", b[160] = "";
                for (size_t c = 0; c < sw->n_columns; c++) {
                    size_t la = strlen(a), lb = strlen(b);
                    snprintf(a + la, sizeof a - la, "%s%s=%s", c ? " " : "", sw->columns[c],
                             sw->points[k].labels[c]);
                    snprintf(b + lb, sizeof b - lb, "%s%s=%s", c ? " " : "", sw->columns[c],
                             p->labels[c]);
                }
                qr_error_set(err, QR_ERR_CONFIG, "%s: two runs have the same config (id %s): "
                             "[%s] seed %lld and [%s] seed %lld", x->where, p->id, a,
                             sw->points[k].seed, b, p->seed);
                qr_sweep_point_free(p, sw->n_columns);
                return QR_ERR_CONFIG;
            }
        sw->n_points++;
    }
    return QR_OK;
}

qr_status qr_sweep_add_column(qr_sweep *sw, const char *path, const cJSON *names,
                              const char *where, qr_error *err)
{
    for (size_t i = 0; i < sw->n_columns; i++)
        if (strcmp(sw->column_paths[i], path) == 0)
            return QR_OK;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(names, path);
    const char *name = path;
    if (nm) {
        if (!cJSON_IsString(nm) || !nm->valuestring[0])
            return qr_error_set(err, QR_ERR_CONFIG, "%s: 'names.%s' must be a non-empty string",
                                where, path);
        name = nm->valuestring;
    }
    if (strpbrk(name, "\n\r\"") || qr_sweep_is_fixed_column(name))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' cannot name a result column (%s)",
                            where, name, qr_sweep_is_fixed_column(name)
                                             ? "a fixed column has that name: give the axis "
                                               "another one in 'names'"
                                             : "quotes and line breaks are not allowed");
    for (size_t i = 0; i < sw->n_columns; i++)
        if (strcmp(sw->columns[i], name) == 0)
            return qr_error_set(err, QR_ERR_CONFIG, "%s: two result columns are named '%s'",
                                where, name);
    char **c = realloc(sw->columns, (sw->n_columns + 1) * sizeof *c);
    if (c)
        sw->columns = c;
    char **cp = realloc(sw->column_paths, (sw->n_columns + 1) * sizeof *cp);
    if (cp)
        sw->column_paths = cp;
    if (!c || !cp)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    c[sw->n_columns] = xstrdup(name);
    cp[sw->n_columns] = xstrdup(path);
    sw->n_columns++;
    if (!c[sw->n_columns - 1] || !cp[sw->n_columns - 1])
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    return QR_OK;
}
