/* Sweeps: key paths into a config, canonical JSON text and run ids (sweep.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sweep.h"

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
