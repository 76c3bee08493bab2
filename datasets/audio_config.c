/* The "data.audio" object of a training config (docs/audio.md): strict, every key known,
 * every error naming its key; the result is one malloc'd block (options + strings). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/audio_impl.h"
#include "lib/json_util.h"

#define P_AUDIO "data.audio"
#define P_MFCC "data.audio.mfcc"
#define P_AUG "data.audio.augment"
#define P_BAND "data.audio.augment.bandlimit"
#define P_SPEED "data.audio.augment.speed"
#define P_TEMPO "data.audio.augment.tempo"
#define P_PITCH "data.audio.augment.pitch"
#define P_REVERB "data.audio.augment.reverb"

/* A path key: absent or null leaves *out NULL; a string is resolved (malloc'd). */
static qr_status get_path(const cJSON *obj, const char *key, qr_path_resolver resolve,
                          const char *where, const char *path, char **out, qr_error *err)
{
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return QR_OK;
    if (!cJSON_IsString(v) || !v->valuestring || !v->valuestring[0])
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.%s' must be a path (a non-empty string) "
                            "or null", where, path, key);
    if (!(*out = resolve(where, v->valuestring)))
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    return QR_OK;
}

/* A [lo, hi] pair of numbers within [min, max] with lo <= hi. */
static qr_status get_range(const cJSON *obj, const char *key, double min, double max,
                           double *lo, double *hi, const char *where, const char *path,
                           qr_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return QR_OK;
    const cJSON *a = cJSON_GetArrayItem(v, 0), *b = cJSON_GetArrayItem(v, 1);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsNumber(a) ||
        !cJSON_IsNumber(b) || !(a->valuedouble >= min && a->valuedouble <= b->valuedouble &&
                                b->valuedouble <= max))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: '%s.%s' must be [low, high] with %g <= low <= high <= %g", where,
                            path, key, min, max);
    *lo = a->valuedouble;
    *hi = b->valuedouble;
    return QR_OK;
}

static qr_status parse_mfcc(const cJSON *m, qr_mfcc_config *c, const char *where, qr_error *err)
{
    static const char *const keys[] = {"win_length", "hop_length", "n_fft", "n_mels", "n_mfcc",
                                       "f_min", "f_max", "preemphasis", "log_floor", "window",
                                       "center", NULL};
    static const char *const windows[] = {"hann", "hamming", NULL};
    int window = (int)c->window;
    qr_status s;
    if ((s = qr_json_check_keys(m, keys, where, P_MFCC, err)) ||
        (s = qr_json_get_size(m, "win_length", 16, 65536, &c->win_length, where, P_MFCC, err)) ||
        (s = qr_json_get_size(m, "hop_length", 1, 1000000, &c->hop_length, where, P_MFCC, err)) ||
        (s = qr_json_get_size(m, "n_fft", 16, 65536, &c->n_fft, where, P_MFCC, err)) ||
        (s = qr_json_get_size(m, "n_mels", 1, 512, &c->n_mels, where, P_MFCC, err)) ||
        (s = qr_json_get_size(m, "n_mfcc", 1, 512, &c->n_mfcc, where, P_MFCC, err)) ||
        (s = qr_json_get_double(m, "f_min", 0, 192000, &c->f_min, where, P_MFCC, err)) ||
        (s = qr_json_get_double(m, "f_max", 0, 192000, &c->f_max, where, P_MFCC, err)) ||
        (s = qr_json_get_double(m, "preemphasis", 0, 0.999999, &c->preemphasis, where, P_MFCC,
                                err)) ||
        (s = qr_json_get_double(m, "log_floor", 1e-30, 1e6, &c->log_floor, where, P_MFCC, err)) ||
        (s = qr_json_get_choice(m, "window", windows, &window, where, P_MFCC, err)) ||
        (s = qr_json_get_bool(m, "center", &c->center, where, P_MFCC, err)))
        return s;
    c->window = (qr_window)window;
    return QR_OK;
}

/* "bandlimit": {"prob": p, "low_hz": [lo, hi], "high_hz": [lo, hi]} at sample_rate. */
static qr_status parse_bandlimit(const cJSON *b, qr_audio_augment *g, double sample_rate,
                                 const char *where, qr_error *err)
{
    static const char *const keys[] = {"prob", "low_hz", "high_hz", "order", NULL};
    qr_status s;
    size_t order = (size_t)g->band_order;
    if ((s = qr_json_check_keys(b, keys, where, P_BAND, err)) ||
        (s = qr_json_get_double(b, "prob", 0, 1, &g->band_prob, where, P_BAND, err)) ||
        (s = get_range(b, "low_hz", 0, 192000, &g->band_low_min, &g->band_low_max, where, P_BAND,
                       err)) ||
        (s = get_range(b, "high_hz", 0, 192000, &g->band_high_min, &g->band_high_max, where,
                       P_BAND, err)) ||
        (s = qr_json_get_size(b, "order", 2, 8, &order, where, P_BAND, err)))
        return s;
    if (order % 2)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '" P_BAND ".order' = %zu must be even (2, 4, "
                            "6 or 8)", where, order);
    g->band_order = (int)order;
    if (!(g->band_low_min > 0.0))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '" P_BAND ".low_hz' must start above 0 Hz "
                            "(got %g)", where, g->band_low_min);
    if (!(g->band_low_max < g->band_high_min))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '" P_BAND ".low_hz' [%g, %g] must lie below "
                            "'" P_BAND ".high_hz' [%g, %g]", where, g->band_low_min,
                            g->band_low_max, g->band_high_min, g->band_high_max);
    if (!(g->band_high_max < sample_rate / 2.0))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '" P_BAND ".high_hz' [%g, %g] must lie below "
                            "the Nyquist frequency %g Hz (sample_rate / 2)", where,
                            g->band_high_min, g->band_high_max, sample_rate / 2.0);
    return QR_OK;
}

/* A voice step {"prob": p, <range>: [lo, hi]} (speed, tempo, pitch): the range within
 * [min, max]. */
static qr_status parse_step(const cJSON *v, const char *range, double min, double max,
                            double *prob, double *lo, double *hi, const char *where,
                            const char *path, qr_error *err)
{
    const char *keys[] = {"prob", range, NULL};
    qr_status s;
    if ((s = qr_json_check_keys(v, keys, where, path, err)) ||
        (s = qr_json_get_double(v, "prob", 0, 1, prob, where, path, err)) ||
        (s = get_range(v, range, min, max, lo, hi, where, path, err)))
        return s;
    return QR_OK;
}

/* "reverb": {"prob": p, "rt60_s": [lo, hi], "drr_db": [lo, hi]}. */
static qr_status parse_reverb(const cJSON *v, qr_audio_augment *g, const char *where,
                              qr_error *err)
{
    static const char *const keys[] = {"prob", "rt60_s", "drr_db", NULL};
    qr_status s;
    if ((s = qr_json_check_keys(v, keys, where, P_REVERB, err)) ||
        (s = qr_json_get_double(v, "prob", 0, 1, &g->reverb_prob, where, P_REVERB, err)) ||
        (s = get_range(v, "rt60_s", 0, 2, &g->rt60_min, &g->rt60_max, where, P_REVERB, err)) ||
        (s = get_range(v, "drr_db", -20, 40, &g->drr_min, &g->drr_max, where, P_REVERB, err)))
        return s;
    if (!(g->rt60_min > 0.0))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '" P_REVERB ".rt60_s' must start above 0 s "
                            "(got %g)", where, g->rt60_min);
    return QR_OK;
}

/* The voice steps of "augment" that are present. */
static qr_status parse_voice(const cJSON *a, qr_audio_augment *g, const char *where,
                             qr_error *err)
{
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(a, "speed");
    const cJSON *te = cJSON_GetObjectItemCaseSensitive(a, "tempo");
    const cJSON *pi = cJSON_GetObjectItemCaseSensitive(a, "pitch");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(a, "reverb");
    qr_status s;
    if ((sp && (s = parse_step(sp, "factor", 0.5, 2, &g->speed_prob, &g->speed_min,
                               &g->speed_max, where, P_SPEED, err))) ||
        (te && (s = parse_step(te, "factor", 0.5, 2, &g->tempo_prob, &g->tempo_min,
                               &g->tempo_max, where, P_TEMPO, err))) ||
        (pi && (s = parse_step(pi, "semitones", -12, 12, &g->pitch_prob, &g->pitch_min,
                               &g->pitch_max, where, P_PITCH, err))) ||
        (rv && (s = parse_reverb(rv, g, where, err))))
        return s;
    return QR_OK;
}

static qr_status parse_augment(const cJSON *a, qr_audio_augment *g, double sample_rate,
                               qr_path_resolver resolve, char **noise_dir, const char *where,
                               qr_error *err)
{
    static const char *const keys[] = {"copies", "time_shift", "noise_dir", "noise_prob",
                                       "snr_db", "gain_db", "bandlimit", "speed", "tempo",
                                       "pitch", "reverb", NULL};
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(a, "bandlimit");
    qr_status s;
    if ((s = qr_json_check_keys(a, keys, where, P_AUG, err)) ||
        (s = qr_json_get_size(a, "copies", 0, 1000, &g->copies, where, P_AUG, err)) ||
        (s = qr_json_get_double(a, "time_shift", 0, 600, &g->time_shift, where, P_AUG, err)) ||
        (s = get_path(a, "noise_dir", resolve, where, P_AUG, noise_dir, err)) ||
        (s = qr_json_get_double(a, "noise_prob", 0, 1, &g->noise_prob, where, P_AUG, err)) ||
        (s = get_range(a, "snr_db", -100, 100, &g->snr_min, &g->snr_max, where, P_AUG, err)) ||
        (s = get_range(a, "gain_db", -60, 60, &g->gain_min, &g->gain_max, where, P_AUG, err)) ||
        (b && (s = parse_bandlimit(b, g, sample_rate, where, err))) ||
        (s = parse_voice(a, g, where, err)))
        return s;
    return QR_OK;
}

/* Copy s into the block's tail at *at; returns the copy (or NULL for NULL). */
static const char *place(char *block, size_t *at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(block + *at, s, n);
    *at += n;
    return block + *at - n;
}

qr_status qr_audio_options_parse(const cJSON *obj, qr_path_resolver resolve, const char *where,
                                 qr_audio_options **out, qr_error *err)
{
    static const char *const keys[] = {"root", "manifest", "sample_rate", "duration", "crop",
                                       "max_channels", "resample_quality", "on_error", "split",
                                       "validation_split", "test_split", "cache", "cache_dir",
                                       "mfcc", "augment", "frontend", NULL};
    static const char *const frontends[] = {"float", "int", NULL};
    static const char *const crops[] = {"centre", "start", NULL};
    static const char *const qualities[] = {"best", "medium", "fastest", NULL};
    static const char *const on_errors[] = {"fail", "skip", NULL};
    static const char *const splits[] = {"auto", "manifest", "lists", "fractions", "all", NULL};
    *out = NULL;
    qr_audio_options o;
    qr_audio_options_default(&o);
    char *str[4] = {NULL, NULL, NULL, NULL}; /* root, manifest, cache_dir, noise_dir */
    int crop = (int)o.crop, quality = (int)o.quality, on_error = (int)o.on_error;
    int split = (int)o.split, frontend = (int)o.frontend;
    qr_status s;
    if ((s = qr_json_check_keys(obj, keys, where, P_AUDIO, err)) ||
        (s = get_path(obj, "root", resolve, where, P_AUDIO, &str[0], err)) ||
        (s = get_path(obj, "manifest", resolve, where, P_AUDIO, &str[1], err)) ||
        (s = qr_json_get_double(obj, "sample_rate", 1000, 384000, &o.sample_rate, where,
                                P_AUDIO, err)) ||
        (s = qr_json_get_double(obj, "duration", 1e-3, 600, &o.duration, where, P_AUDIO, err)) ||
        (s = qr_json_get_choice(obj, "crop", crops, &crop, where, P_AUDIO, err)) ||
        (s = qr_json_get_size(obj, "max_channels", 1, 1024, &o.max_channels, where, P_AUDIO,
                              err)) ||
        (s = qr_json_get_choice(obj, "resample_quality", qualities, &quality, where, P_AUDIO,
                                err)) ||
        (s = qr_json_get_choice(obj, "on_error", on_errors, &on_error, where, P_AUDIO, err)) ||
        (s = qr_json_get_choice(obj, "split", splits, &split, where, P_AUDIO, err)) ||
        (s = qr_json_get_double(obj, "validation_split", 0, 0.9, &o.val_split, where, P_AUDIO,
                                err)) ||
        (s = qr_json_get_double(obj, "test_split", 0, 0.9, &o.test_split, where, P_AUDIO, err)) ||
        (s = qr_json_get_bool(obj, "cache", &o.cache, where, P_AUDIO, err)) ||
        (s = get_path(obj, "cache_dir", resolve, where, P_AUDIO, &str[2], err)) ||
        (s = qr_json_get_choice(obj, "frontend", frontends, &frontend, where, P_AUDIO, err)))
        goto out;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "mfcc");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, "augment");
    if ((m && (s = parse_mfcc(m, &o.mfcc, where, err))) ||
        (a && (s = parse_augment(a, &o.augment, o.sample_rate, resolve, &str[3], where,
                                    err))))
        goto out;
    if (!str[0] == !str[1]) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: give one of '" P_AUDIO ".root' (class folders) "
                         "and '" P_AUDIO ".manifest' (a CSV list)%s", where,
                         str[0] ? ", not both" : "");
        goto out;
    }
    o.crop = (qr_audio_crop)crop;
    o.quality = (qr_audio_quality)quality;
    o.on_error = (qr_audio_on_error)on_error;
    o.split = (qr_audio_split)split;
    o.frontend = (qr_audio_frontend)frontend;
    /* One block: the options, then the strings they point to. */
    size_t total = sizeof o;
    for (int i = 0; i < 4; i++)
        total += str[i] ? strlen(str[i]) + 1 : 0;
    char *block = malloc(total);
    if (!block) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
        goto out;
    }
    size_t at = sizeof o;
    o.root = place(block, &at, str[0]);
    o.manifest = place(block, &at, str[1]);
    o.cache_dir = place(block, &at, str[2]);
    o.augment.noise_dir = place(block, &at, str[3]);
    memcpy(block, &o, sizeof o);
    /* every remaining rule (ranges that depend on each other, the mel bands) */
    qr_error e;
    if ((s = qr_audio_options_check((const qr_audio_options *)(void *)block, &e)) != QR_OK) {
        free(block);
        const char *msg = strncmp(e.msg, "audio: ", 7) == 0 ? e.msg + 7 : e.msg;
        s = qr_error_set(err, s, "%s: '" P_AUDIO "': %s", where, msg);
        goto out;
    }
    *out = (qr_audio_options *)(void *)block;
out:
    for (int i = 0; i < 4; i++)
        free(str[i]);
    return s;
}
