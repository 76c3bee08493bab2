/* Sweeps: key paths, grid expansion, run ids, shards, result rows; see sweep.h. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "lib/json_util.h"
#include "sweep.h"

#define MAX_POINTS 1000000
#define MAX_ERROR_CHARS 300

static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

/* ---- key paths ------------------------------------------------------------------------ */

/* One step of a key path: a key (name, len) or a list index. Returns the rest after the step,
 * or NULL when malformed. */
static const char *path_step(const char *p, int first, const char **name, size_t *len,
                             long *index)
{
    *name = NULL;
    *len = 0;
    *index = -1;
    if (*p == '[') {
        if (first)
            return NULL;
        p++;
        if (*p < '0' || *p > '9')
            return NULL;
        long v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v > 100000000)
                return NULL;
            v = v * 10 + (*p++ - '0');
        }
        if (*p != ']')
            return NULL;
        *index = v;
        return p + 1;
    }
    if (!first) {
        if (*p != '.')
            return NULL;
        p++;
    }
    const char *s = p;
    while (*p && *p != '.' && *p != '[' && *p != ']')
        p++;
    if (p == s)
        return NULL;
    *name = s;
    *len = (size_t)(p - s);
    return p;
}

static cJSON *object_get_n(const cJSON *obj, const char *name, size_t len)
{
    for (cJSON *it = obj ? obj->child : NULL; it; it = it->next)
        if (it->string && strlen(it->string) == len && memcmp(it->string, name, len) == 0)
            return it;
    return NULL;
}

const cJSON *qr_sweep_path_get(const cJSON *root, const char *path)
{
    const cJSON *cur = root;
    const char *p = path;
    for (int first = 1; *p; first = 0) {
        const char *name;
        size_t len;
        long index;
        if (!(p = path_step(p, first, &name, &len, &index)))
            return NULL;
        if (name)
            cur = cJSON_IsObject(cur) ? object_get_n(cur, name, len) : NULL;
        else
            cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, (int)index) : NULL;
        if (!cur)
            return NULL;
    }
    return path[0] ? cur : NULL;
}

qr_status qr_sweep_path_set(cJSON *root, const char *path, const cJSON *value, const char *where,
                            qr_error *err)
{
    cJSON *cur = root;
    const char *p = path;
    if (!*p)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: an empty key path", where);
    for (int first = 1; *p; first = 0) {
        const char *name;
        size_t len;
        long index;
        const char *start = p;
        if (!(p = path_step(p, first, &name, &len, &index)))
            return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' is not a key path (keys joined "
                                "by dots, list indices in brackets: 'model[0].units')", where,
                                path);
        int last = *p == '\0';
        int done = (int)(start - path); /* the prefix already walked */
        if (name) {
            if (!cJSON_IsObject(cur))
                return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s': '%.*s' is %s, not an object",
                                    where, path, done, path,
                                    cJSON_IsArray(cur) ? "a list (use an index: [0])" : "a value");
            cJSON *child = object_get_n(cur, name, len);
            if (last) {
                char key[256];
                if (len >= sizeof key)
                    return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s': key too long", where, path);
                memcpy(key, name, len);
                key[len] = '\0';
                if (cJSON_IsNull(value)) {
                    cJSON_DeleteItemFromObjectCaseSensitive(cur, key);
                    return QR_OK;
                }
                cJSON *copy = cJSON_Duplicate(value, 1);
                if (!copy)
                    return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
                if (child)
                    cJSON_ReplaceItemInObjectCaseSensitive(cur, key, copy); /* keeps the key */
                else
                    cJSON_AddItemToObject(cur, key, copy);
                return QR_OK;
            }
            if (!child)
                return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s': '%.*s' does not exist in the "
                                    "base config (only the last key of a path may be new)",
                                    where, path, (int)(p - path), path);
            cur = child;
        } else {
            if (!cJSON_IsArray(cur))
                return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s': '%.*s' is not a list", where,
                                    path, done, path);
            int n = cJSON_GetArraySize(cur);
            if (index >= n)
                return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s': index %ld is out of range "
                                    "('%.*s' has %d entries)", where, path, index, done, path, n);
            cJSON *child = cJSON_GetArrayItem(cur, (int)index);
            if (last) {
                if (cJSON_IsNull(value)) {
                    cJSON_DeleteItemFromArray(cur, (int)index);
                    return QR_OK;
                }
                cJSON *copy = cJSON_Duplicate(value, 1);
                if (!copy)
                    return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
                cJSON_ReplaceItemViaPointer(cur, child, copy);
                return QR_OK;
            }
            cur = child;
        }
    }
    return QR_OK;
}

/* ---- canonical text and ids ----------------------------------------------------------- */

static int cmp_item_keys(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* Sort every object's members by key, in place. Returns nonzero when out of memory. */
static int sort_keys(cJSON *v)
{
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return 0;
    size_t n = 0;
    for (cJSON *it = v->child; it; it = it->next) {
        if (sort_keys(it))
            return 1;
        n++;
    }
    if (!cJSON_IsObject(v) || n < 2)
        return 0;
    cJSON **items = malloc(n * sizeof *items);
    if (!items)
        return 1;
    n = 0;
    for (cJSON *it = v->child; it; it = it->next)
        items[n++] = it;
    qsort(items, n, sizeof *items, cmp_item_keys);
    for (size_t i = 0; i < n; i++) {
        items[i]->next = i + 1 < n ? items[i + 1] : NULL;
        items[i]->prev = i ? items[i - 1] : items[n - 1]; /* cJSON: head->prev is the tail */
    }
    v->child = items[0];
    free(items);
    return 0;
}

char *qr_sweep_canonical(const cJSON *v)
{
    cJSON *copy = cJSON_Duplicate(v, 1);
    if (!copy)
        return NULL;
    char *text = sort_keys(copy) ? NULL : cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void qr_sweep_id(const cJSON *config, char id[QR_SWEEP_ID_LEN + 1])
{
    char *text = qr_sweep_canonical(config);
    uint64_t h = fnv1a(text ? text : "");
    free(text);
    snprintf(id, QR_SWEEP_ID_LEN + 1, "%012llx", (unsigned long long)(h >> 16));
}

/* ---- sweep files ---------------------------------------------------------------------- */

/* The text of a value in a result column: strings as they are, everything else as JSON. */
static char *value_label(const cJSON *v)
{
    if (cJSON_IsString(v))
        return xstrdup(v->valuestring);
    if (cJSON_IsNull(v))
        return xstrdup(""); /* a removed key: absent, as in a config without it */
    char *s = cJSON_PrintUnformatted(v);
    return s;
}

/* One setting of a point: a value at a key path, with its label. */
typedef struct setting {
    const char *path;
    const cJSON *value;
    const char *label; /* NULL: value_label(value) */
} setting;

typedef struct axis {
    const char *path;
    size_t n;
    const cJSON **values;
    char **labels;
} axis;

typedef struct expand_ctx {
    qr_sweep *sw;
    const cJSON *base;
    const cJSON *repeat;
    const cJSON *fixed; /* "set": settings of every point, before its own */
    axis *axes;
    size_t n_axes;
    size_t cap_points;
    const char *where;
} expand_ctx;

static void point_free(qr_sweep_point *p, size_t n_columns)
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
            return set[i].label ? xstrdup(set[i].label) : value_label(set[i].value);
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
    return value_label(v);
}

/* The number of steps of a key path after the first. */
static size_t path_depth(const char *path)
{
    size_t d = 0;
    for (const char *p = path; *p; p++)
        d += *p == '.' || *p == '[';
    return d;
}

/* Add the repetitions of one point with settings `set`. */
static qr_status add_point(expand_ctx *x, const setting *set, size_t n_set, const char *what,
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
            point_free(p, sw->n_columns);
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
                point_free(p, sw->n_columns);
                return QR_ERR_CONFIG;
            }
        sw->n_points++;
    }
    return QR_OK;
}

static qr_status add_column(qr_sweep *sw, const char *path, const cJSON *names,
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

/* Join dir and a relative path. */
static char *join(const char *dir, const char *rel)
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
            a->labels[j] = cJSON_IsObject(it) ? xstrdup(v->string) : value_label(v);
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
        char *bpath = b[0] == '/' ? xstrdup(b) : join(dir, b);
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
        if ((s = add_column(sw, x.axes[a].path, names, where, err)))
            goto done;
    for (int pass = 0; pass < 2; pass++)
        for (const cJSON *pt = pass ? (inc ? inc->child : NULL) : (zip ? zip->child : NULL); pt;
             pt = pt->next)
            for (const cJSON *kv = pt->child; kv; kv = kv->next)
                if ((s = add_column(sw, kv->string, names, where, err)))
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
                if ((s = add_point(&x, set, n_all, w2[0] ? w2 : "repeat", err)))
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
        if ((s = add_point(&x, set, n_set, what, err)))
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
        point_free(&sw->points[i], sw->n_columns);
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

/* ---- run configs ---------------------------------------------------------------------- */

static int absolutize(cJSON *root, const char *path, const char *base_dir)
{
    cJSON *v = (cJSON *)qr_sweep_path_get(root, path);
    if (!cJSON_IsString(v) || !v->valuestring[0] || v->valuestring[0] == '/' ||
        strncmp(v->valuestring, "${QREG_DATA}", 12) == 0)
        return 0;
    char *abs = join(base_dir, v->valuestring);
    if (!abs)
        return 1;
    int bad = cJSON_SetValuestring(v, abs) == NULL;
    free(abs);
    return bad;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

cJSON *qr_sweep_run_config(const qr_sweep *sw, const qr_sweep_point *p, const char *run_dir)
{
    static const char *const data_paths[] = {
        "data.train", "data.validation", "data.test", "data.audio.root", "data.audio.manifest",
        "data.audio.cache_dir", "data.audio.augment.noise_dir", "distill.teacher",
        "distill.logits", NULL};
    cJSON *c = cJSON_Duplicate(p->config, 1);
    if (!c)
        return NULL;
    int bad = 0;
    for (const char *const *k = data_paths; *k; k++)
        bad |= absolutize(c, *k, sw->base_dir);
    char desc[1024];
    int n = snprintf(desc, sizeof desc, "%s: run %s (rep %zu, seed %lld)", base_name(sw->source),
                     p->id, p->rep, p->seed);
    for (size_t i = 0; i < sw->n_columns && n > 0 && (size_t)n < sizeof desc; i++)
        n += snprintf(desc + n, sizeof desc - (size_t)n, "%s %s=%s", i ? "," : ":",
                      sw->columns[i], p->labels[i]);
    bad |= cJSON_AddStringToObject(c, "description", desc) == NULL;
    cJSON *out = sw->base_output ? cJSON_Duplicate(sw->base_output, 1) : cJSON_CreateObject();
    if (!out || !cJSON_IsObject(out)) {
        cJSON_Delete(out);
        cJSON_Delete(c);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(out, "checkpoint"); /* default: model + ".ckpt" */
    for (cJSON *it = out->child; it; it = it->next)
        if (cJSON_IsString(it) && it->valuestring[0]) {
            char *moved = join(run_dir, base_name(it->valuestring));
            bad |= !moved || cJSON_SetValuestring(it, moved) == NULL;
            free(moved);
        }
    static const char *const fixed[][2] = {{"model", "model.qrm"}, {"log", "log.csv"}};
    for (size_t i = 0; i < 2; i++) {
        char *path = join(run_dir, fixed[i][1]);
        cJSON *v = path ? cJSON_CreateString(path) : NULL;
        free(path);
        if (!v) {
            bad = 1;
            continue;
        }
        if (cJSON_GetObjectItemCaseSensitive(out, fixed[i][0]))
            cJSON_ReplaceItemInObjectCaseSensitive(out, fixed[i][0], v);
        else
            cJSON_AddItemToObject(out, fixed[i][0], v);
    }
    cJSON_AddItemToObject(c, "output", out);
    if (bad) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

/* ---- shards --------------------------------------------------------------------------- */

static const qr_sweep *shard_sw; /* qsort has no context argument in C11 */

static int cmp_index_by_id(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return strcmp(shard_sw->points[i].id, shard_sw->points[j].id);
}

void qr_sweep_shard(const qr_sweep *sw, size_t i, size_t n, unsigned char *sel)
{
    size_t *order = malloc((sw->n_points ? sw->n_points : 1) * sizeof *order);
    for (size_t k = 0; k < sw->n_points; k++)
        sel[k] = 0;
    if (!order || n == 0 || i < 1 || i > n) {
        free(order);
        return;
    }
    for (size_t k = 0; k < sw->n_points; k++)
        order[k] = k;
    shard_sw = sw;
    qsort(order, sw->n_points, sizeof *order, cmp_index_by_id);
    shard_sw = NULL;
    for (size_t k = i - 1; k < sw->n_points; k += n)
        sel[order[k]] = 1;
    free(order);
}

/* ---- rows ----------------------------------------------------------------------------- */

static const char *const fixed_columns[] = {
    "id", "rep", "seed", "status", "error", "val_accuracy", "test_accuracy", "fq_val_accuracy",
    "fq_test_accuracy", "int_val_accuracy", "int_test_accuracy", "val_loss", "test_loss",
    "best_epoch", "bytes", "actual_bytes", "baseline_bytes", "reduction_pct", "seconds", NULL};
#define N_METRICS 14 /* the doubles from val_accuracy to seconds */

int qr_sweep_is_fixed_column(const char *name)
{
    for (const char *const *c = fixed_columns; *c; c++)
        if (strcmp(*c, name) == 0)
            return 1;
    return 0;
}

static double *metric(qr_sweep_row *r, size_t k)
{
    double *m[N_METRICS] = {&r->val_accuracy, &r->test_accuracy, &r->fq_val_accuracy,
                            &r->fq_test_accuracy, &r->int_val_accuracy, &r->int_test_accuracy,
                            &r->val_loss, &r->test_loss, &r->best_epoch, &r->bytes,
                            &r->actual_bytes, &r->baseline_bytes, &r->reduction_pct,
                            &r->seconds};
    return m[k];
}

static void row_clear(qr_sweep_row *r)
{
    memset(r, 0, sizeof *r);
    for (size_t k = 0; k < N_METRICS; k++)
        *metric(r, k) = NAN;
}

static qr_status row_alloc(qr_sweep_row *r, size_t n_columns)
{
    row_clear(r);
    r->n_columns = n_columns;
    r->labels = calloc(n_columns ? n_columns : 1, sizeof *r->labels);
    r->columns = calloc(n_columns ? n_columns : 1, sizeof *r->columns);
    return r->labels && r->columns ? QR_OK : QR_ERR_NOMEM;
}

qr_status qr_sweep_row_init(qr_sweep_row *r, const qr_sweep *sw, const qr_sweep_point *p)
{
    if (row_alloc(r, sw->n_columns) != QR_OK) {
        qr_sweep_row_free(r);
        return QR_ERR_NOMEM;
    }
    memcpy(r->id, p->id, sizeof r->id);
    r->rep = p->rep;
    r->seed = p->seed;
    for (size_t c = 0; c < sw->n_columns; c++)
        if (!(r->labels[c] = xstrdup(p->labels[c])) || !(r->columns[c] = xstrdup(sw->columns[c]))) {
            qr_sweep_row_free(r);
            return QR_ERR_NOMEM;
        }
    return QR_OK;
}

void qr_sweep_row_free(qr_sweep_row *r)
{
    for (size_t c = 0; c < r->n_columns; c++) {
        free(r->labels ? r->labels[c] : NULL);
        free(r->columns ? r->columns[c] : NULL);
    }
    free(r->labels);
    free(r->columns);
    free(r->error);
    row_clear(r);
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void derive_reduction(qr_sweep_row *r)
{
    if (isnan(r->reduction_pct) && r->baseline_bytes > 0 && !isnan(r->bytes))
        r->reduction_pct = 100.0 * (1.0 - r->bytes / r->baseline_bytes);
}

int qr_sweep_row_set_result(qr_sweep_row *r, const char *json_text)
{
    cJSON *o = cJSON_Parse(json_text);
    if (!cJSON_IsObject(o) || !cJSON_GetObjectItemCaseSensitive(o, "best_epoch")) {
        cJSON_Delete(o);
        return 1;
    }
    for (size_t k = 0; k < N_METRICS; k++)
        *metric(r, k) = json_num(o, fixed_columns[k + 5]);
    derive_reduction(r);
    cJSON_Delete(o);
    r->ok = 1;
    free(r->error);
    r->error = NULL;
    return 0;
}

void qr_sweep_row_set_error(qr_sweep_row *r, const char *msg)
{
    r->ok = 0;
    free(r->error);
    if (!msg)
        msg = "";
    while (*msg == ' ' || *msg == '\t' || *msg == '\n' || *msg == '\r')
        msg++;
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == ' ' || msg[n - 1] == '\n' || msg[n - 1] == '\r' ||
                 msg[n - 1] == '\t'))
        n--;
    int cut = n > MAX_ERROR_CHARS;
    if (cut)
        n = MAX_ERROR_CHARS;
    r->error = malloc(n + 4);
    if (!r->error)
        return;
    memcpy(r->error, msg, n);
    strcpy(r->error + n, cut ? "..." : "");
    for (char *p = r->error; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
}

static void put_str(qr_buf *b, const char *s)
{
    qr_buf_put(b, s, strlen(s));
}

static void put_cell(qr_buf *b, const char *s, int first)
{
    if (!first)
        put_str(b, ",");
    if (!strpbrk(s, ",\"\n\r") && s[0] != ' ' && (!s[0] || s[strlen(s) - 1] != ' ')) {
        put_str(b, s);
        return;
    }
    put_str(b, "\"");
    for (const char *p = s; *p; p++)
        qr_buf_put(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    put_str(b, "\"");
}

static char *finish(qr_buf *b)
{
    qr_buf_put(b, "", 1);
    if (b->nomem) {
        qr_buf_free(b);
        return NULL;
    }
    return (char *)b->data;
}

char *qr_sweep_csv_header(char *const *columns, size_t n_columns)
{
    qr_buf b = {0};
    put_cell(&b, "id", 1);
    for (size_t c = 0; c < n_columns; c++)
        put_cell(&b, columns[c], 0);
    for (const char *const *f = fixed_columns + 1; *f; f++)
        put_cell(&b, *f, 0);
    put_str(&b, "\n");
    return finish(&b);
}

static void fmt_num(char *buf, size_t n, double v)
{
    if (isnan(v) || isinf(v))
        buf[0] = '\0';
    else
        snprintf(buf, n, "%.10g", v);
}

char *qr_sweep_row_csv(const qr_sweep_row *r)
{
    qr_buf b = {0};
    char tmp[64];
    put_cell(&b, r->id, 1);
    for (size_t c = 0; c < r->n_columns; c++)
        put_cell(&b, r->labels[c], 0);
    snprintf(tmp, sizeof tmp, "%zu", r->rep);
    put_cell(&b, tmp, 0);
    snprintf(tmp, sizeof tmp, "%lld", r->seed);
    put_cell(&b, tmp, 0);
    put_cell(&b, r->ok ? "ok" : "failed", 0);
    put_cell(&b, r->error ? r->error : "", 0);
    for (size_t k = 0; k < N_METRICS; k++) {
        fmt_num(tmp, sizeof tmp, *metric((qr_sweep_row *)r, k));
        put_cell(&b, tmp, 0);
    }
    put_str(&b, "\n");
    return finish(&b);
}

char *qr_sweep_row_jsonl(const qr_sweep_row *r)
{
    cJSON *o = cJSON_CreateObject(), *set = cJSON_CreateObject();
    if (!o || !set) {
        cJSON_Delete(o);
        cJSON_Delete(set);
        return NULL;
    }
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddItemToObject(o, "settings", set);
    for (size_t c = 0; c < r->n_columns; c++)
        cJSON_AddStringToObject(set, r->columns[c], r->labels[c]);
    cJSON_AddNumberToObject(o, "rep", (double)r->rep);
    cJSON_AddNumberToObject(o, "seed", (double)r->seed);
    cJSON_AddStringToObject(o, "status", r->ok ? "ok" : "failed");
    if (r->error)
        cJSON_AddStringToObject(o, "error", r->error);
    else
        cJSON_AddNullToObject(o, "error");
    for (size_t k = 0; k < N_METRICS; k++) {
        double v = *metric((qr_sweep_row *)r, k);
        if (isnan(v) || isinf(v))
            cJSON_AddNullToObject(o, fixed_columns[k + 5]);
        else
            cJSON_AddNumberToObject(o, fixed_columns[k + 5], v);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

int qr_sweep_row_from_jsonl(qr_sweep_row *r, const char *line)
{
    row_clear(r);
    cJSON *o = cJSON_Parse(line);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(o, "settings");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    if (!cJSON_IsObject(o) || !cJSON_IsString(id) || strlen(id->valuestring) != QR_SWEEP_ID_LEN ||
        !cJSON_IsString(status) || (set && !cJSON_IsObject(set)) ||
        row_alloc(r, set ? (size_t)cJSON_GetArraySize(set) : 0) != QR_OK) {
        cJSON_Delete(o);
        qr_sweep_row_free(r);
        return 1;
    }
    memcpy(r->id, id->valuestring, QR_SWEEP_ID_LEN + 1);
    size_t c = 0;
    int bad = 0;
    for (const cJSON *it = set ? set->child : NULL; it; it = it->next, c++) {
        r->columns[c] = xstrdup(it->string);
        r->labels[c] = cJSON_IsString(it) ? xstrdup(it->valuestring) : value_label(it);
        bad |= !r->columns[c] || !r->labels[c];
    }
    double rep = json_num(o, "rep"), seed = json_num(o, "seed");
    r->rep = isnan(rep) || rep < 0 ? 0 : (size_t)rep;
    r->seed = isnan(seed) ? 0 : (long long)seed;
    r->ok = strcmp(status->valuestring, "ok") == 0;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (cJSON_IsString(e))
        bad |= !(r->error = xstrdup(e->valuestring));
    for (size_t k = 0; k < N_METRICS; k++)
        *metric(r, k) = json_num(o, fixed_columns[k + 5]);
    cJSON_Delete(o);
    if (bad) {
        qr_sweep_row_free(r);
        return 1;
    }
    return 0;
}

qr_status qr_sweep_append(int fd, const char *text, size_t len, const char *path, qr_error *err)
{
    for (;;) {
        ssize_t w = write(fd, text, len);
        if (w == (ssize_t)len)
            return QR_OK;
        if (w < 0 && errno == EINTR)
            continue;
        return qr_error_set(err, QR_ERR_IO, "%s: %s", path,
                            w < 0 ? strerror(errno) : "short write (disk full?)");
    }
}

/* The short form of one column name into buf. */
static void short_name(const char *col, char *buf, size_t n)
{
    const char *end = col + strlen(col), *start = col;
    for (int pass = 0; pass < 2; pass++) {
        const char *dot = end;
        while (dot > col && dot[-1] != '.')
            dot--;
        start = dot;
        size_t len = (size_t)(end - start);
        const char *br = memchr(start, '[', len);
        if (br)
            len = (size_t)(br - start);
        int generic = (len == 4 && (memcmp(start, "name", 4) == 0 || memcmp(start, "type", 4) == 0));
        if (pass == 0 && generic && dot > col && dot[-2] != ']') {
            end = dot - 1; /* "schedule.name" -> "schedule"; not "model[2].type" -> "model" */
            continue;
        }
        snprintf(buf, n, "%.*s", (int)len, start);
        return;
    }
}

char **qr_sweep_short_names(char *const *columns, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    char a[256], b[256];
    for (size_t c = 0; c < n; c++) {
        short_name(columns[c], a, sizeof a);
        int clash = !a[0];
        for (size_t d = 0; d < n && !clash; d++) {
            short_name(columns[d], b, sizeof b);
            clash = d != c && strcmp(a, b) == 0;
        }
        if (!(out[c] = xstrdup(clash ? columns[c] : a))) {
            qr_sweep_short_names_free(out, c);
            return NULL;
        }
    }
    return out;
}

void qr_sweep_short_names_free(char **names, size_t n)
{
    for (size_t c = 0; names && c < n; c++)
        free(names[c]);
    free(names);
}

/* ---- reading results ------------------------------------------------------------------ */

/* Parse one CSV record starting at *p (RFC 4180). Cells are malloc'd into *cells. Returns the
 * number of cells, 0 at the end of the text, -1 when out of memory or the record is torn (an
 * unterminated quote, no final line break). */
static long csv_record(const char **p, const char *end, char ***cells)
{
    *cells = NULL;
    if (*p >= end)
        return 0;
    qr_buf cell = {0};
    size_t n = 0, cap = 0;
    const char *s = *p;
    int quoted = 0, done = 0, ok = 0;
    while (!done) {
        if (s >= end)
            break; /* torn: no line break at the end */
        char ch = *s++;
        if (quoted) {
            if (ch == '"') {
                if (s < end && *s == '"') {
                    qr_buf_put(&cell, "\"", 1);
                    s++;
                } else {
                    quoted = 0;
                }
            } else {
                qr_buf_put(&cell, &ch, 1);
            }
            continue;
        }
        if (ch == '"' && cell.len == 0) {
            quoted = 1;
            continue;
        }
        if (ch == ',' || ch == '\n') {
            if (ch == '\n' && cell.len && cell.data[cell.len - 1] == '\r')
                cell.len--;
            qr_buf_put(&cell, "", 1);
            if (cell.nomem)
                break;
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                char **c = realloc(*cells, cap * sizeof *c);
                if (!c)
                    break;
                *cells = c;
            }
            (*cells)[n++] = (char *)cell.data;
            memset(&cell, 0, sizeof cell);
            if (ch == '\n')
                done = ok = 1;
            continue;
        }
        qr_buf_put(&cell, &ch, 1);
    }
    qr_buf_free(&cell);
    *p = s;
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free((*cells)[i]);
        free(*cells);
        *cells = NULL;
        return -1;
    }
    return (long)n;
}

static void free_cells(char **cells, long n)
{
    for (long i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

static double parse_num(const char *s)
{
    if (!s[0])
        return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

qr_status qr_sweep_results_read_csv(qr_sweep_results *res, const char *path, qr_error *err)
{
    unsigned char *data;
    size_t len;
    qr_status s = qr_file_read_all(path, (size_t)1 << 31, &data, &len, err);
    if (s)
        return s;
    const char *p = (const char *)data, *end = p + len;
    char **head;
    long nh = csv_record(&p, end, &head);
    if (nh <= 0 || strcmp(head[0], "id") != 0) {
        if (nh > 0)
            free_cells(head, nh);
        free(data);
        return qr_error_set(err, QR_ERR_FORMAT, "%s: not a qreg sweep results file (the first "
                            "line must be a header starting with 'id')", path);
    }
    /* where each cell goes: a settings column (>= 0), or -1 - k for fixed column k */
    long *map = calloc((size_t)nh, sizeof *map);
    if (!map) {
        free_cells(head, nh);
        free(data);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    int have[32] = {0};
    for (long i = 0; i < nh && s == QR_OK; i++) {
        long fixed = -1;
        for (long k = 0; fixed_columns[k]; k++)
            if (strcmp(head[i], fixed_columns[k]) == 0)
                fixed = k;
        if (fixed >= 0) {
            map[i] = -1 - fixed;
            have[fixed] = 1;
            continue;
        }
        size_t c = 0;
        while (c < res->n_columns && strcmp(res->columns[c], head[i]) != 0)
            c++;
        if (c == res->n_columns) {
            char **cols = realloc(res->columns, (c + 1) * sizeof *cols);
            if (!cols || !(cols[c] = xstrdup(head[i]))) {
                if (cols)
                    res->columns = cols;
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            res->columns = cols;
            res->n_columns++;
        }
        map[i] = (long)c;
    }
    if (s == QR_OK && (!have[3] || !have[8]))
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: the header has no '%s' column", path,
                         have[3] ? "fq_test_accuracy" : "status");
    size_t line = 1;
    while (s == QR_OK) {
        char **cells;
        const char *before = p;
        long nc = csv_record(&p, end, &cells);
        line++;
        if (nc == 0)
            break;
        for (const char *q = before; q < p; q++)
            line += *q == '\n' && q + 1 < p;
        if (nc != nh) {
            if (nc > 0)
                free_cells(cells, nc);
            res->skipped++;
            continue;
        }
        qr_sweep_row *rows = realloc(res->rows, (res->n_rows + 1) * sizeof *rows);
        if (!rows) {
            free_cells(cells, nc);
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        res->rows = rows;
        qr_sweep_row *r = &rows[res->n_rows];
        if (row_alloc(r, res->n_columns) != QR_OK) {
            free_cells(cells, nc);
            qr_sweep_row_free(r);
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        int bad = 0;
        for (size_t c = 0; c < res->n_columns; c++)
            bad |= !(r->columns[c] = xstrdup(res->columns[c]));
        for (long i = 0; i < nc; i++) {
            const char *v = cells[i];
            if (map[i] >= 0) {
                free(r->labels[map[i]]);
                bad |= !(r->labels[map[i]] = xstrdup(v));
                continue;
            }
            long k = -1 - map[i];
            if (k == 0) {
                if (strlen(v) != QR_SWEEP_ID_LEN)
                    bad = 2;
                else
                    memcpy(r->id, v, QR_SWEEP_ID_LEN + 1);
            } else if (k == 1) {
                r->rep = (size_t)strtoull(v, NULL, 10);
            } else if (k == 2) {
                r->seed = strtoll(v, NULL, 10);
            } else if (k == 3) {
                r->ok = strcmp(v, "ok") == 0;
                if (!r->ok && strcmp(v, "failed") != 0)
                    bad = 2;
            } else if (k == 4) {
                if (v[0])
                    bad |= !(r->error = xstrdup(v));
            } else {
                *metric(r, (size_t)(k - 5)) = parse_num(v);
            }
        }
        for (size_t c = 0; c < res->n_columns; c++)
            if (!r->labels[c])
                bad |= !(r->labels[c] = xstrdup(""));
        free_cells(cells, nc);
        if (bad) {
            qr_sweep_row_free(r);
            if (bad == 1) {
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            res->skipped++; /* an id or status that is not ours: a torn or foreign line */
            continue;
        }
        derive_reduction(r);
        res->n_rows++;
    }
    /* rows read from earlier files lack columns this file added */
    for (size_t i = 0; s == QR_OK && i < res->n_rows; i++) {
        qr_sweep_row *r = &res->rows[i];
        if (r->n_columns == res->n_columns)
            continue;
        char **lab = realloc(r->labels, res->n_columns * sizeof *lab);
        char **col = lab ? realloc(r->columns, res->n_columns * sizeof *col) : NULL;
        if (lab)
            r->labels = lab;
        if (col)
            r->columns = col;
        if (!lab || !col) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        for (size_t c = r->n_columns; c < res->n_columns; c++) {
            r->labels[c] = xstrdup("");
            r->columns[c] = xstrdup(res->columns[c]);
        }
        r->n_columns = res->n_columns;
    }
    free(map);
    free_cells(head, nh);
    free(data);
    return s;
}

void qr_sweep_results_dedup(qr_sweep_results *res)
{
    size_t out = 0;
    for (size_t i = 0; i < res->n_rows; i++) {
        size_t j = 0;
        while (j < out && strcmp(res->rows[j].id, res->rows[i].id) != 0)
            j++;
        if (j == out) {
            if (out != i)
                res->rows[out] = res->rows[i];
            out++;
            continue;
        }
        /* a later ok row replaces; a later failed row replaces only a failed one */
        if (res->rows[i].ok || !res->rows[j].ok) {
            qr_sweep_row_free(&res->rows[j]);
            res->rows[j] = res->rows[i];
        } else {
            qr_sweep_row_free(&res->rows[i]);
        }
    }
    res->n_rows = out;
}

void qr_sweep_results_free(qr_sweep_results *res)
{
    for (size_t i = 0; i < res->n_rows; i++)
        qr_sweep_row_free(&res->rows[i]);
    free(res->rows);
    for (size_t c = 0; c < res->n_columns; c++)
        free(res->columns[c]);
    free(res->columns);
    memset(res, 0, sizeof *res);
}

qr_status qr_sweep_done_ids(const char *path, char (**ids)[QR_SWEEP_ID_LEN + 1], size_t *n,
                            qr_error *err)
{
    if (access(path, F_OK) != 0)
        return QR_OK;
    unsigned char *data;
    size_t len;
    qr_status s = qr_file_read_all(path, (size_t)1 << 31, &data, &len, err);
    if (s)
        return s;
    char *text = realloc(data, len + 1);
    if (!text) {
        free(data);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    text[len] = '\0';
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break; /* a torn last line is not a finished run */
        *nl = '\0';
        qr_sweep_row r;
        if (qr_sweep_row_from_jsonl(&r, line) == 0) {
            if (r.ok) {
                char (*more)[QR_SWEEP_ID_LEN + 1] = realloc(*ids, (*n + 1) * sizeof *more);
                if (!more) {
                    qr_sweep_row_free(&r);
                    free(text);
                    return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
                }
                *ids = more;
                memcpy((*ids)[(*n)++], r.id, QR_SWEEP_ID_LEN + 1);
            }
            qr_sweep_row_free(&r);
        }
        line = nl + 1;
    }
    free(text);
    return QR_OK;
}
