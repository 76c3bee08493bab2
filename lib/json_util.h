/* Strict reading of JSON objects (cJSON): every key must be known, every value of the right
 * type and range, and each error names its path ("model[2].units") in `where`'s context. */
#ifndef QREG_JSON_UTIL_H
#define QREG_JSON_UTIL_H

#include <cjson/cJSON.h>
#include "qreg/common.h"

/* QR_ERR_CONFIG naming the first key of `obj` not in the NULL-terminated `allowed`. */
qr_status qr_json_check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                             const char *path, qr_error *err);

/* Each getter leaves *out untouched when the key is absent (the caller's default stands)
 * and returns QR_ERR_CONFIG when present with a wrong type or out of [lo, hi]. */
qr_status qr_json_get_size(const cJSON *obj, const char *key, size_t lo, size_t hi, size_t *out,
                           const char *where, const char *path, qr_error *err);
qr_status qr_json_get_int(const cJSON *obj, const char *key, long lo, long hi, long *out,
                          const char *where, const char *path, qr_error *err);
qr_status qr_json_get_double(const cJSON *obj, const char *key, double lo, double hi,
                             double *out, const char *where, const char *path, qr_error *err);
qr_status qr_json_get_float(const cJSON *obj, const char *key, double lo, double hi, float *out,
                            const char *where, const char *path, qr_error *err);
qr_status qr_json_get_bool(const cJSON *obj, const char *key, int *out, const char *where,
                           const char *path, qr_error *err);
/* *out points into the JSON tree (valid while it lives). */
qr_status qr_json_get_string(const cJSON *obj, const char *key, const char **out,
                             const char *where, const char *path, qr_error *err);
/* Index of the string value of `key` in the NULL-terminated `choices`. */
qr_status qr_json_get_choice(const cJSON *obj, const char *key, const char *const *choices,
                             int *out, const char *where, const char *path, qr_error *err);

/* Read a whole file and parse it; errors name the file and the line of a syntax error. */
qr_status qr_json_load_file(const char *path, cJSON **out, qr_error *err);

#endif
