/* The settings that make an audio dataset's features, as a JSON object: written into a model
 * trained on audio (the "features" key of the .qrm header, docs/format.md) and next to the CSV
 * files of `qreg features`, read back into options, and compared between a model and data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "datasets/audio_impl.h"

#define DESCRIBE_VERSION 1

static const char *const crops[] = {"centre", "start", NULL};
static const char *const frontends[] = {"float", "int", NULL};
static const char *const windows[] = {"hann", "hamming", NULL};

QR_API char *qr_audio_features_describe(const qr_audio_options *o, int standardize)
{
    if (!o || (unsigned)o->crop > QR_AUDIO_CROP_START || (unsigned)o->frontend > QR_FRONTEND_INT ||
        (unsigned)o->mfcc.window > QR_WINDOW_HAMMING)
        return NULL;
    const qr_mfcc_config *c = &o->mfcc;
    double rate = o->sample_rate, fmax = c->f_max > 0 ? c->f_max : rate / 2.0;
    size_t L = (size_t)llround(o->duration * rate), pad = c->center ? c->win_length / 2 : 0;
    size_t T = L + 2 * pad >= c->win_length ? 1 + (L + 2 * pad - c->win_length) / c->hop_length
                                            : 0;
    cJSON *r = cJSON_CreateObject(), *m = NULL;
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "kind", "audio");
    cJSON_AddNumberToObject(r, "version", DESCRIBE_VERSION);
    cJSON_AddNumberToObject(r, "sample_rate", rate);
    cJSON_AddNumberToObject(r, "duration", o->duration);
    cJSON_AddStringToObject(r, "crop", crops[o->crop]);
    cJSON_AddStringToObject(r, "frontend", frontends[o->frontend]);
    cJSON_AddBoolToObject(r, "standardize", standardize != 0);
    cJSON_AddNumberToObject(r, "frames", (double)T);
    cJSON_AddNumberToObject(r, "coefficients", (double)c->n_mfcc);
    if ((m = cJSON_AddObjectToObject(r, "mfcc"))) {
        cJSON_AddNumberToObject(m, "win_length", (double)c->win_length);
        cJSON_AddNumberToObject(m, "hop_length", (double)c->hop_length);
        cJSON_AddNumberToObject(m, "n_fft", (double)c->n_fft);
        cJSON_AddNumberToObject(m, "n_mels", (double)c->n_mels);
        cJSON_AddNumberToObject(m, "n_mfcc", (double)c->n_mfcc);
        cJSON_AddNumberToObject(m, "f_min", c->f_min);
        cJSON_AddNumberToObject(m, "f_max", fmax);
        cJSON_AddNumberToObject(m, "preemphasis", c->preemphasis);
        cJSON_AddNumberToObject(m, "log_floor", c->log_floor);
        cJSON_AddStringToObject(m, "window", windows[c->window]);
        cJSON_AddBoolToObject(m, "center", c->center != 0);
    }
    char *s = m ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    return s;
}

static int choice(const cJSON *v, const char *const *names)
{
    if (!cJSON_IsString(v))
        return -1;
    for (int i = 0; names[i]; i++)
        if (strcmp(v->valuestring, names[i]) == 0)
            return i;
    return -1;
}

QR_API qr_status qr_audio_features_apply(const char *json, qr_audio_options *o, int *standardize,
                                         qr_error *err)
{
    if (!json || !o)
        return qr_error_set(err, QR_ERR_ARG, "qr_audio_features_apply: NULL argument");
    cJSON *r = cJSON_Parse(json);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "mfcc");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(r, "kind");
    if (!cJSON_IsObject(r) || !cJSON_IsString(kind) || strcmp(kind->valuestring, "audio") != 0 ||
        !cJSON_IsObject(m)) {
        cJSON_Delete(r);
        return qr_error_set(err, QR_ERR_FORMAT, "features: not an audio description");
    }
    static const char *const nums[] = {"sample_rate", "duration"};
    static const char *const mnums[] = {"win_length", "hop_length", "n_fft", "n_mels", "n_mfcc",
                                        "f_min", "f_max", "preemphasis", "log_floor"};
    double v[2], mv[9];
    const char *bad = NULL;
    for (int i = 0; i < 2 && !bad; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, nums[i]);
        if (!cJSON_IsNumber(x))
            bad = nums[i];
        else
            v[i] = x->valuedouble;
    }
    for (int i = 0; i < 9 && !bad; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(m, mnums[i]);
        if (!cJSON_IsNumber(x) || (i < 5 && !(x->valuedouble >= 1 && x->valuedouble <= 1e9 &&
                                               x->valuedouble == floor(x->valuedouble))))
            bad = mnums[i];
        else
            mv[i] = x->valuedouble;
    }
    int crop = choice(cJSON_GetObjectItemCaseSensitive(r, "crop"), crops);
    int fe = choice(cJSON_GetObjectItemCaseSensitive(r, "frontend"), frontends);
    int win = choice(cJSON_GetObjectItemCaseSensitive(m, "window"), windows);
    const cJSON *centre = cJSON_GetObjectItemCaseSensitive(m, "center");
    const cJSON *stdz = cJSON_GetObjectItemCaseSensitive(r, "standardize");
    if (!bad && crop < 0)
        bad = "crop";
    if (!bad && fe < 0)
        bad = "frontend";
    if (!bad && win < 0)
        bad = "mfcc.window";
    if (!bad && !cJSON_IsBool(centre))
        bad = "mfcc.center";
    if (!bad && !cJSON_IsBool(stdz))
        bad = "standardize";
    if (bad) {
        cJSON_Delete(r);
        return qr_error_set(err, QR_ERR_FORMAT, "features: '%s' missing or invalid", bad);
    }
    o->sample_rate = v[0];
    o->duration = v[1];
    o->crop = (qr_audio_crop)crop;
    o->frontend = (qr_audio_frontend)fe;
    qr_mfcc_config *c = &o->mfcc;
    c->sample_rate = v[0];
    c->win_length = (size_t)mv[0];
    c->hop_length = (size_t)mv[1];
    c->n_fft = (size_t)mv[2];
    c->n_mels = (size_t)mv[3];
    c->n_mfcc = (size_t)mv[4];
    c->f_min = mv[5];
    c->f_max = mv[6];
    c->preemphasis = mv[7];
    c->log_floor = mv[8];
    c->window = (qr_window)win;
    c->center = cJSON_IsTrue(centre);
    if (standardize)
        *standardize = cJSON_IsTrue(stdz);
    cJSON_Delete(r);
    return QR_OK;
}

/* Append "path = a vs b" for every key of a (recursing into objects) that b lacks or holds
 * another value for. */
static void diff(const cJSON *a, const cJSON *b, const char *prefix, char *msg, size_t len,
                 int *n)
{
    for (const cJSON *x = a ? a->child : NULL; x; x = x->next) {
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
        char path[256];
        snprintf(path, sizeof path, "%.120s%.120s", prefix, x->string);
        if (cJSON_IsObject(x) && cJSON_IsObject(y)) {
            char sub[256];
            snprintf(sub, sizeof sub, "%.250s.", path);
            diff(x, y, sub, msg, len, n);
            continue;
        }
        int same = 0;
        if (cJSON_IsNumber(x) && cJSON_IsNumber(y))
            same = fabs(x->valuedouble - y->valuedouble) <=
                   1e-9 * fmax(fabs(x->valuedouble), fabs(y->valuedouble));
        else if (cJSON_IsString(x) && cJSON_IsString(y))
            same = strcmp(x->valuestring, y->valuestring) == 0;
        else if (cJSON_IsBool(x) && cJSON_IsBool(y))
            same = cJSON_IsTrue(x) == cJSON_IsTrue(y);
        if (same)
            continue;
        char *xs = cJSON_PrintUnformatted(x), *ys = y ? cJSON_PrintUnformatted(y) : NULL;
        size_t at = strlen(msg);
        snprintf(msg + at, len - at, "%s%s = %s (model) vs %s (data)", (*n)++ ? ", " : "", path,
                 xs ? xs : "?", ys ? ys : "none");
        free(xs);
        free(ys);
    }
}

QR_API qr_status qr_audio_features_compare(const char *model, const char *data, qr_error *err)
{
    cJSON *a = model ? cJSON_Parse(model) : NULL, *b = data ? cJSON_Parse(data) : NULL;
    if (!cJSON_IsObject(a) || !cJSON_IsObject(b)) {
        cJSON_Delete(a);
        cJSON_Delete(b);
        return qr_error_set(err, QR_ERR_ARG, "features: not a JSON object");
    }
    /* what is compared: everything the model records, but the description's version */
    cJSON_DeleteItemFromObjectCaseSensitive(a, "version");
    char msg[QR_ERROR_MAX - 96] = "";
    int n = 0;
    diff(a, b, "", msg, sizeof msg, &n);
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (n == 0)
        return QR_OK;
    return qr_error_set(err, QR_ERR_CONFIG, "the data's features were made with other settings "
                        "than the model's: %s", msg);
}
