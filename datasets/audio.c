/* Audio datasets: qr_audio_load, which runs the loader's passes, its options and the helpers
 * the loader's files share. Rules: include/qreg/audio.h; design: docs/audio.md.
 *
 * The loader runs in passes over the file list:
 *   1. list   folders or manifest -> files with labels (and a split from the manifest)
 *   2. hash   read every file's bytes, FNV-1a 64: the cache key depends on contents
 *   3. base   features of every file from the cache, or decoded (the bytes are read again
 *             and must hash the same: what is decoded is what was hashed)
 *   4. split  manifest column, Speech Commands lists or seeded stratified fractions
 *   5. augment K copies of each training clip, from their own cache or computed
 * L samples per clip, T frames, C coefficients.
 *
 * Files: audio_decode.c (reading clips), audio_list.c (pass 1), audio_features.c (passes 2
 * and 3, the cache lookups), audio_splits.c (classes left after skipping, pass 4),
 * audio_augment.c (pass 5); feature_cache.c (the cache file), audio_config.c (the config's
 * object), mfcc.c (the features). Their shared declarations: audio_impl.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/audio_impl.h"
#include "qreg/audio.h"

/* ---- helpers shared by the loader's files ---------------------------------------------- */

char *qr_audio_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* "<a>/<b>" (b as is when absolute), malloc'd. */
char *qr_audio_path_join(const char *a, const char *b)
{
    if (b[0] == '/')
        return qr_audio_strdup(b);
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

void qr_audio_free_strs(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void qr_audio_warn(qr_audio_loader *ld, const char *fmt, ...)
{
    if (!ld->o->warn)
        return;
    char msg[QR_ERROR_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ld->o->warn(ld->o->warn_user, msg);
}

qr_status qr_audio_nomem(qr_audio_loader *ld)
{
    return qr_error_set(ld->err, QR_ERR_NOMEM, "%s: out of memory", ld->src);
}

/* ---- options --------------------------------------------------------------------------- */

QR_API void qr_audio_options_default(qr_audio_options *o)
{
    memset(o, 0, sizeof *o);
    o->sample_rate = 16000.0;
    o->duration = 1.0;
    o->crop = QR_AUDIO_CROP_CENTRE;
    o->max_channels = 2;
    o->quality = QR_AUDIO_QUALITY_MEDIUM;
    o->on_error = QR_AUDIO_ON_ERROR_FAIL;
    o->split = QR_AUDIO_SPLIT_AUTO;
    o->val_split = -1.0;
    o->test_split = -1.0;
    o->seed = 1;
    qr_mfcc_config_default(&o->mfcc);
    o->augment.copies = 0;
    o->augment.time_shift = 0.1;
    o->augment.noise_prob = 0.8;
    o->augment.snr_min = 5.0;
    o->augment.snr_max = 20.0;
    o->augment.gain_min = -6.0;
    o->augment.gain_max = 6.0;
    o->augment.band_prob = 0.0;
    o->augment.band_low_min = 200.0;
    o->augment.band_low_max = 400.0;
    o->augment.band_high_min = 3000.0;
    o->augment.band_high_max = 3800.0;
    o->augment.band_order = 2;
    o->augment.speed_min = 0.9;
    o->augment.speed_max = 1.1;
    o->augment.tempo_min = 0.9;
    o->augment.tempo_max = 1.1;
    o->augment.pitch_min = -2.0;
    o->augment.pitch_max = 2.0;
    o->augment.rt60_min = 0.2;
    o->augment.rt60_max = 0.8;
    o->augment.drr_min = 0.0;
    o->augment.drr_max = 10.0;
    o->cache = 1;
}

/* A step's probability in [0, 1] and, when it is on, its range ordered within [min, max]. */
static qr_status step_check(const char *name, double prob, const char *what, double lo,
                            double hi, double min, double max, int open_min, qr_error *err)
{
    if (!(prob >= 0.0 && prob <= 1.0))
        return qr_error_set(err, QR_ERR_CONFIG, "audio: augment.%s.prob = %g is outside [0, 1]",
                            name, prob);
    if (prob > 0.0 && !((open_min ? lo > min : lo >= min) && lo <= hi && hi <= max))
        return qr_error_set(err, QR_ERR_CONFIG, "audio: augment.%s.%s [%g, %g] must be ordered "
                            "within %s%g, %g]", name, what, lo, hi, open_min ? "(" : "[", min,
                            max);
    return QR_OK;
}

static qr_status augment_voice_check(const qr_audio_augment *a, qr_error *err)
{
    qr_status s;
    if ((s = step_check("speed", a->speed_prob, "factor", a->speed_min, a->speed_max, 0.5, 2.0,
                        0, err)) ||
        (s = step_check("tempo", a->tempo_prob, "factor", a->tempo_min, a->tempo_max, 0.5, 2.0,
                        0, err)) ||
        (s = step_check("pitch", a->pitch_prob, "semitones", a->pitch_min, a->pitch_max, -12.0,
                        12.0, 0, err)) ||
        (s = step_check("reverb", a->reverb_prob, "rt60_s", a->rt60_min, a->rt60_max, 0.0, 2.0,
                        1, err)))
        return s;
    if (a->reverb_prob > 0.0 && !(a->drr_min >= -20.0 && a->drr_min <= a->drr_max &&
                                  a->drr_max <= 40.0))
        return qr_error_set(err, QR_ERR_CONFIG, "audio: augment.reverb.drr_db [%g, %g] must be "
                            "ordered within [-20, 40]", a->drr_min, a->drr_max);
    return QR_OK;
}

QR_API qr_status qr_audio_options_check(const qr_audio_options *o, qr_error *err)
{
    if (!o)
        return qr_error_set(err, QR_ERR_ARG, "audio: NULL options");
    if (!o->root == !o->manifest)
        return qr_error_set(err, QR_ERR_CONFIG, "audio: give exactly one of root and manifest");
    if (!(o->sample_rate >= 1000.0 && o->sample_rate <= 384000.0))
        return qr_error_set(err, QR_ERR_CONFIG, "audio: sample_rate = %g is outside [1000, 384000]",
                            o->sample_rate);
    if (!(o->duration > 0.0 && o->duration <= 600.0) || o->duration * o->sample_rate < 1.0)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: duration = %g s must be in (0, 600] and at least one sample",
                            o->duration);
    if (o->max_channels < 1 || o->max_channels > 1024)
        return qr_error_set(err, QR_ERR_CONFIG, "audio: max_channels = %zu is outside [1, 1024]",
                            o->max_channels);
    if ((unsigned)o->crop > QR_AUDIO_CROP_START ||
        (unsigned)o->quality > QR_AUDIO_QUALITY_FASTEST ||
        (unsigned)o->on_error > QR_AUDIO_ON_ERROR_SKIP ||
        (unsigned)o->split > QR_AUDIO_SPLIT_ALL)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: crop, quality, on_error or split out of range");
    double v = o->val_split >= 0 ? o->val_split : QR_AUDIO_DEFAULT_FRACTION;
    double t = o->test_split >= 0 ? o->test_split : QR_AUDIO_DEFAULT_FRACTION;
    if (!(v < 1.0 && t < 1.0 && v + t < 1.0) || isnan(o->val_split) || isnan(o->test_split))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: validation_split = %g and test_split = %g must be in [0, 1) "
                            "with a sum below 1", v, t);
    const qr_audio_augment *a = &o->augment;
    if (a->copies > 1000)
        return qr_error_set(err, QR_ERR_CONFIG, "audio: augment.copies = %zu is above 1000",
                            a->copies);
    if (!(a->time_shift >= 0.0 && a->time_shift <= 600.0))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: augment.time_shift = %g s is outside [0, 600]",
                            a->time_shift);
    if (!(a->noise_prob >= 0.0 && a->noise_prob <= 1.0))
        return qr_error_set(err, QR_ERR_CONFIG, "audio: augment.noise_prob = %g is outside [0, 1]",
                            a->noise_prob);
    if (!(a->snr_min >= -100.0 && a->snr_min <= a->snr_max && a->snr_max <= 100.0))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: augment SNR range [%g, %g] dB must be ordered, within "
                            "[-100, 100]", a->snr_min, a->snr_max);
    if (!(a->gain_min >= -60.0 && a->gain_min <= a->gain_max && a->gain_max <= 60.0))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: augment gain range [%g, %g] dB must be ordered, within "
                            "[-60, 60]", a->gain_min, a->gain_max);
    if (!(a->band_prob >= 0.0 && a->band_prob <= 1.0))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: augment.bandlimit.prob = %g is outside [0, 1]", a->band_prob);
    if (a->band_prob > 0.0 &&
        !(a->band_low_min > 0.0 && a->band_low_min <= a->band_low_max &&
          a->band_low_max < a->band_high_min && a->band_high_min <= a->band_high_max &&
          a->band_high_max < o->sample_rate / 2.0))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: augment.bandlimit low_hz [%g, %g] and high_hz [%g, %g] must "
                            "be ordered with 0 < low_hz < high_hz < sample_rate / 2 = %g",
                            a->band_low_min, a->band_low_max, a->band_high_min,
                            a->band_high_max, o->sample_rate / 2.0);
    if (a->band_prob > 0.0 &&
        !(a->band_order >= 2 && a->band_order <= 8 && a->band_order % 2 == 0))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: augment.bandlimit.order = %d is not 2, 4, 6 or 8",
                            a->band_order);
    qr_status s = augment_voice_check(a, err);
    if (s != QR_OK)
        return s;
    if ((unsigned)o->frontend > QR_FRONTEND_INT)
        return qr_error_set(err, QR_ERR_CONFIG, "audio: frontend out of range");
    qr_mfcc_config mc = o->mfcc;
    mc.sample_rate = o->sample_rate;
    return o->frontend == QR_FRONTEND_INT ? qr_ifront_config_check(&mc, err)
                                          : qr_mfcc_config_check(&mc, err);
}

/* ---- output ---------------------------------------------------------------------------- */

/* The usable files of one split in file order, then n_aug augmented rows made from the files
 * aug_src[0..n_aug). source_row is the file's index in the listing. */
static qr_status make_split(qr_audio_loader *ld, int split, const float *aug, size_t n_aug,
                            const size_t *aug_src, qr_dataset *out)
{
    size_t row = ld->T * ld->C, n = 0;
    for (size_t i = 0; i < ld->n_files; i++)
        n += ld->files[i].ok && ld->files[i].split == split;
    size_t total = n + n_aug;
    qr_dataset d = {.n = total, .t = ld->T, .f = ld->C, .n_classes = ld->n_classes};
    d.class_names = calloc(ld->n_classes, sizeof *d.class_names);
    d.x = malloc((total && row ? total * row : 1) * sizeof *d.x);
    d.y = malloc((total ? total : 1) * sizeof *d.y);
    d.source_row = malloc((total ? total : 1) * sizeof *d.source_row);
    if (!d.class_names || !d.x || !d.y || !d.source_row) {
        qr_dataset_free(&d);
        return qr_audio_nomem(ld);
    }
    for (size_t c = 0; c < ld->n_classes; c++)
        if (!(d.class_names[c] = qr_audio_strdup(ld->classes[c]))) {
            qr_dataset_free(&d);
            return qr_audio_nomem(ld);
        }
    size_t at = 0;
    for (size_t i = 0; i < ld->n_files; i++) {
        if (!ld->files[i].ok || ld->files[i].split != split)
            continue;
        memcpy(d.x + at * row, ld->x + i * row, row * sizeof *d.x);
        d.source_row[at] = i;
        d.y[at++] = (int32_t)ld->files[i].label;
    }
    if (n_aug)
        memcpy(d.x + at * row, aug, n_aug * row * sizeof *d.x);
    for (size_t j = 0; j < n_aug; j++) {
        d.y[at + j] = (int32_t)ld->files[aug_src[j]].label;
        d.source_row[at + j] = aug_src[j];
    }
    if (total == 0) {
        free(d.x);
        free(d.y);
        free(d.source_row);
        d.x = NULL;
        d.y = NULL;
        d.source_row = NULL;
    }
    *out = d;
    return QR_OK;
}

static void loader_free(qr_audio_loader *ld)
{
    for (size_t i = 0; i < ld->n_files; i++) {
        free(ld->files[i].path);
        free(ld->files[i].rel);
    }
    free(ld->files);
    qr_audio_free_strs(ld->classes, ld->n_classes);
    free(ld->base);
    qr_mfcc_free(ld->mfcc);
    qr_ifront_free(ld->ifront);
    free(ld->pcm);
    free(ld->ifeat);
    free(ld->clip);
    free(ld->work);
    qr_buf_free(&ld->key);
    free(ld->status);
    free(ld->x);
}

/* ld->src and ld->base: the root, or the manifest and its folder. */
static qr_status set_base(qr_audio_loader *ld)
{
    const qr_audio_options *o = ld->o;
    ld->src = o->root ? o->root : o->manifest;
    if (o->root) {
        ld->base = qr_audio_strdup(o->root);
    } else {
        const char *slash = strrchr(o->manifest, '/');
        size_t n = slash ? (size_t)(slash - o->manifest) : 1;
        if (slash == o->manifest)
            n = 1; /* "/x.csv": the root folder */
        if ((ld->base = malloc(n + 1))) {
            memcpy(ld->base, slash ? o->manifest : ".", n);
            ld->base[n] = '\0';
        }
    }
    return ld->base ? QR_OK : qr_audio_nomem(ld);
}

static qr_status load(qr_audio_loader *ld, qr_dataset *train, qr_dataset *val, qr_dataset *test)
{
    const qr_audio_options *o = ld->o;
    qr_status s = qr_audio_options_check(o, ld->err);
    if (s != QR_OK)
        return s;
    if ((s = set_base(ld)) != QR_OK)
        return s;
    qr_mfcc_config mc = o->mfcc;
    mc.sample_rate = o->sample_rate;
    if ((s = qr_mfcc_new(&mc, &ld->mfcc, ld->err)) != QR_OK)
        return s;
    ld->L = (size_t)llround(o->duration * o->sample_rate);
    ld->T = qr_mfcc_frames(ld->mfcc, ld->L);
    ld->C = mc.n_mfcc;
    if (ld->T == 0)
        return qr_error_set(ld->err, QR_ERR_CONFIG,
                            "audio: duration %g s (%zu samples) is shorter than one MFCC window "
                            "(%zu samples)", o->duration, ld->L, mc.win_length);
    ld->clip = malloc(ld->L * sizeof *ld->clip);
    ld->work = malloc(ld->L * sizeof *ld->work);
    if (!ld->clip || !ld->work)
        return qr_audio_nomem(ld);
    if (o->frontend == QR_FRONTEND_INT) {
        if ((s = qr_ifront_new(&mc, 0, &ld->ifront, ld->err)) != QR_OK)
            return s;
        ld->pcm = malloc(ld->L * sizeof *ld->pcm);
        ld->ifeat = malloc(ld->T * ld->C * sizeof *ld->ifeat);
        if (!ld->pcm || !ld->ifeat)
            return qr_audio_nomem(ld);
    }

    s = o->root ? qr_audio_list_folders(ld) : qr_audio_list_manifest(ld);
    if (s == QR_OK)
        s = qr_audio_hash_files(ld);
    qr_audio_cache_dirs cd = {0};
    if (s == QR_OK)
        s = qr_audio_cache_dirs_get(ld, &cd);
    if (s == QR_OK)
        s = qr_audio_base_features(ld, &cd);
    if (s == QR_OK)
        s = qr_audio_prune_classes(ld);
    if (s == QR_OK)
        s = qr_audio_assign_splits(ld);
    size_t n_train = 0, *train_idx = NULL, *aug_src = NULL;
    float *aug = NULL;
    if (s == QR_OK) {
        train_idx = malloc((ld->n_files ? ld->n_files : 1) * sizeof *train_idx);
        if (!train_idx)
            s = qr_audio_nomem(ld);
        for (size_t i = 0; s == QR_OK && i < ld->n_files; i++)
            if (ld->files[i].ok && ld->files[i].split == QR_AUDIO_PART_TRAIN)
                train_idx[n_train++] = i;
    }
    size_t n_aug = 0;
    if (s == QR_OK && o->augment.copies > 0 && n_train > 0) {
        s = qr_audio_augment_all(ld, &cd, train_idx, n_train, &aug);
        n_aug = o->augment.copies * n_train;
        if (s == QR_OK && !(aug_src = malloc(n_aug * sizeof *aug_src)))
            s = qr_audio_nomem(ld);
        for (size_t j = 0; s == QR_OK && j < n_aug; j++)
            aug_src[j] = train_idx[j % n_train];
    }
    qr_audio_cache_dirs_free(&cd);
    if (s == QR_OK)
        s = make_split(ld, QR_AUDIO_PART_TRAIN, aug, n_aug, aug_src, train);
    if (s == QR_OK)
        s = make_split(ld, QR_AUDIO_PART_VAL, NULL, 0, NULL, val);
    if (s == QR_OK)
        s = make_split(ld, QR_AUDIO_PART_TEST, NULL, 0, NULL, test);
    free(train_idx);
    free(aug_src);
    free(aug);
    if (s == QR_OK) {
        ld->st.files = ld->n_files;
        for (size_t i = 0; i < ld->n_files; i++)
            ld->st.loaded += ld->files[i].ok;
        if (ld->st.skipped)
            qr_audio_warn(ld, "%s: skipped %zu of %zu audio files (on_error: skip)", ld->src,
                          ld->st.skipped, ld->n_files);
    }
    return s;
}

QR_API qr_status qr_audio_load(const qr_audio_options *o, qr_dataset *train, qr_dataset *val,
                               qr_dataset *test, qr_audio_stats *stats, qr_error *err)
{
    qr_dataset *outs[3] = {train, val, test};
    for (int i = 0; i < 3; i++)
        if (outs[i])
            memset(outs[i], 0, sizeof *outs[i]);
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!o || !train || !val || !test || train == val || val == test || train == test)
        return qr_error_set(err, QR_ERR_ARG, "qr_audio_load: NULL or repeated argument");
    qr_audio_loader ld;
    memset(&ld, 0, sizeof ld);
    ld.o = o;
    ld.err = err;
    qr_status s = load(&ld, train, val, test);
    if (s != QR_OK)
        for (int i = 0; i < 3; i++)
            qr_dataset_free(outs[i]);
    if (stats)
        *stats = ld.st;
    loader_free(&ld);
    return s;
}

QR_API qr_status qr_audio_list_paths(const qr_audio_options *o, char ***paths, size_t *n,
                                     qr_error *err)
{
    if (paths)
        *paths = NULL;
    if (n)
        *n = 0;
    if (!o || !paths || !n)
        return qr_error_set(err, QR_ERR_ARG, "qr_audio_list_paths: NULL argument");
    if (!o->root == !o->manifest)
        return qr_error_set(err, QR_ERR_CONFIG, "audio: give exactly one of root and manifest");
    qr_audio_loader ld;
    memset(&ld, 0, sizeof ld);
    ld.o = o;
    ld.err = err;
    qr_status s = set_base(&ld);
    if (s == QR_OK)
        s = o->root ? qr_audio_list_folders(&ld) : qr_audio_list_manifest(&ld);
    char **v = NULL;
    if (s == QR_OK && !(v = calloc(ld.n_files ? ld.n_files : 1, sizeof *v)))
        s = qr_audio_nomem(&ld);
    for (size_t i = 0; s == QR_OK && i < ld.n_files; i++) {
        v[i] = ld.files[i].path; /* taken over */
        ld.files[i].path = NULL;
    }
    if (s == QR_OK) {
        *paths = v;
        *n = ld.n_files;
    }
    loader_free(&ld);
    return s;
}
