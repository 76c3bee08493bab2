/* Strict JSON getters; see json_util.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_util.h"

static const char *sep(const char *path)
{
    return path && *path ? "." : "";
}

qr_status qr_json_check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                             const char *path, qr_error *err)
{
    if (!cJSON_IsObject(obj))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: %s: expected an object", where,
                            path && *path ? path : "(top level)");
    for (const cJSON *it = obj->child; it; it = it->next) {
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(it->string, *a) == 0)
                known = 1;
        if (!known) {
            char list[256] = "";
            for (const char *const *a = allowed; *a; a++) {
                if (strlen(list) + strlen(*a) + 3 >= sizeof list)
                    break;
                strcat(list, list[0] ? ", " : "");
                strcat(list, *a);
            }
            return qr_error_set(err, QR_ERR_CONFIG, "%s: unknown key '%s%s%s' (known: %s)",
                                where, path ? path : "", sep(path), it->string, list);
        }
        /* duplicate keys: cJSON keeps both; refuse rather than pick one silently */
        for (const cJSON *jt = it->next; jt; jt = jt->next)
            if (strcmp(it->string, jt->string) == 0)
                return qr_error_set(err, QR_ERR_CONFIG, "%s: duplicate key '%s%s%s'", where,
                                    path ? path : "", sep(path), it->string);
    }
    return QR_OK;
}

static qr_status get_number(const cJSON *obj, const char *key, double lo, double hi, int integer,
                            double *out, int *found, const char *where, const char *path,
                            qr_error *err)
{
    *found = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return QR_OK;
    if (!cJSON_IsNumber(v))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s%s%s' must be a number", where,
                            path ? path : "", sep(path), key);
    double d = v->valuedouble;
    if (!isfinite(d) || (integer && d != floor(d)))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s%s%s' must be %s, got %g", where,
                            path ? path : "", sep(path), key,
                            integer ? "an integer" : "a finite number", d);
    if (d < lo || d > hi)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s%s%s' = %g is outside [%g, %g]", where,
                            path ? path : "", sep(path), key, d, lo, hi);
    *out = d;
    *found = 1;
    return QR_OK;
}

qr_status qr_json_get_size(const cJSON *obj, const char *key, size_t lo, size_t hi, size_t *out,
                           const char *where, const char *path, qr_error *err)
{
    double d;
    int found;
    qr_status s = get_number(obj, key, (double)lo, (double)hi, 1, &d, &found, where, path, err);
    if (s == QR_OK && found)
        *out = (size_t)d;
    return s;
}

qr_status qr_json_get_int(const cJSON *obj, const char *key, long lo, long hi, long *out,
                          const char *where, const char *path, qr_error *err)
{
    double d;
    int found;
    qr_status s = get_number(obj, key, (double)lo, (double)hi, 1, &d, &found, where, path, err);
    if (s == QR_OK && found)
        *out = (long)d;
    return s;
}

qr_status qr_json_get_double(const cJSON *obj, const char *key, double lo, double hi,
                             double *out, const char *where, const char *path, qr_error *err)
{
    double d;
    int found;
    qr_status s = get_number(obj, key, lo, hi, 0, &d, &found, where, path, err);
    if (s == QR_OK && found)
        *out = d;
    return s;
}

qr_status qr_json_get_float(const cJSON *obj, const char *key, double lo, double hi, float *out,
                            const char *where, const char *path, qr_error *err)
{
    double d;
    int found;
    qr_status s = get_number(obj, key, lo, hi, 0, &d, &found, where, path, err);
    if (s == QR_OK && found)
        *out = (float)d;
    return s;
}

qr_status qr_json_get_bool(const cJSON *obj, const char *key, int *out, const char *where,
                           const char *path, qr_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return QR_OK;
    if (!cJSON_IsBool(v))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s%s%s' must be true or false", where,
                            path ? path : "", sep(path), key);
    *out = cJSON_IsTrue(v);
    return QR_OK;
}

qr_status qr_json_get_string(const cJSON *obj, const char *key, const char **out,
                             const char *where, const char *path, qr_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return QR_OK;
    if (!cJSON_IsString(v) || !v->valuestring)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s%s%s' must be a string", where,
                            path ? path : "", sep(path), key);
    *out = v->valuestring;
    return QR_OK;
}

qr_status qr_json_get_choice(const cJSON *obj, const char *key, const char *const *choices,
                             int *out, const char *where, const char *path, qr_error *err)
{
    const char *v = NULL;
    qr_status s = qr_json_get_string(obj, key, &v, where, path, err);
    if (s != QR_OK || !v)
        return s;
    for (int i = 0; choices[i]; i++)
        if (strcmp(v, choices[i]) == 0) {
            *out = i;
            return QR_OK;
        }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        if (strlen(list) + strlen(choices[i]) + 3 >= sizeof list)
            break;
        strcat(list, i ? ", " : "");
        strcat(list, choices[i]);
    }
    return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s%s%s' = \"%s\" is not one of: %s", where,
                        path ? path : "", sep(path), key, v, list);
}

qr_status qr_json_load_file(const char *path, cJSON **out, qr_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qr_error_set(err, QR_ERR_IO, "%s: cannot open", path);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return qr_error_set(err, QR_ERR_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        return qr_error_set(err, QR_ERR_FORMAT, "%s: contains a NUL byte", path);
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(buf, &end, 1);
    if (!j) {
        size_t off = end ? (size_t)(end - buf) : 0, line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++) {
            if (buf[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        free(buf);
        return qr_error_set(err, QR_ERR_FORMAT, "%s:%zu:%zu: invalid JSON", path, line, col);
    }
    free(buf);
    *out = j;
    return QR_OK;
}
