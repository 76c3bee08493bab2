/* Passes 2 and 3 of the audio loader: hashing the files, base features from cache or decoded. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>
#include <samplerate.h>
#include <sndfile.h>

#include "datasets/audio_impl.h"
#include "lib/fileio.h"
#include "qreg/audio.h"

/* ---- pass 2: hashing ------------------------------------------------------------------- */

qr_status qr_audio_hash_files(qr_audio_loader *ld)
{
    for (size_t i = 0; i < ld->n_files; i++) {
        qr_audio_file *f = &ld->files[i];
        unsigned char *data = NULL;
        size_t len = 0;
        qr_error e;
        qr_status s = qr_file_read_all(f->path, QR_AUDIO_MAX_FILE_BYTES, &data, &len, &e);
        if (s == QR_ERR_NOMEM)
            return qr_error_set(ld->err, s, "%s", e.msg);
        if (s != QR_OK) {
            if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL) {
                if (f->line)
                    return qr_error_set(ld->err, s, "%s:%zu: %s", ld->o->manifest, f->line,
                                        e.msg);
                return qr_error_set(ld->err, s, "%s", e.msg);
            }
            if (f->line)
                qr_audio_warn(ld, "%s:%zu: %s: skipped", ld->o->manifest, f->line, e.msg);
            else
                qr_audio_warn(ld, "%s: skipped", e.msg);
            ld->st.skipped++;
            continue;
        }
        f->readable = 1;
        f->size = len;
        f->hash = qr_fnv1a64(data, len, QR_FNV1A64_INIT);
        free(data);
    }
    return QR_OK;
}

/* Read file i again; its bytes must hash as in pass 2. */
static qr_status reread(qr_audio_loader *ld, size_t i, unsigned char **data, size_t *len)
{
    qr_audio_file *f = &ld->files[i];
    qr_status s = qr_file_read_all(f->path, QR_AUDIO_MAX_FILE_BYTES, data, len, ld->err);
    if (s != QR_OK)
        return s;
    if (*len != f->size || qr_fnv1a64(*data, *len, QR_FNV1A64_INIT) != f->hash) {
        free(*data);
        *data = NULL;
        return qr_error_set(ld->err, QR_ERR_IO, "%s: the file changed while it was being loaded",
                            f->path);
    }
    return QR_OK;
}

/* ---- pass 3: base features ------------------------------------------------------------- */

/* The name of file i in messages: "manifest:line: path" or "path". */
static void file_name(const qr_audio_loader *ld, size_t i, char *buf, size_t n)
{
    const qr_audio_file *f = &ld->files[i];
    if (f->line)
        snprintf(buf, n, "%s:%zu: %s", ld->o->manifest, f->line, f->path);
    else
        snprintf(buf, n, "%s", f->path);
}

void qr_audio_key_printf(qr_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->nomem = 1; /* never happens for the fixed formats used; refuse rather than cut */
        return;
    }
    qr_buf_put(b, tmp, (size_t)n);
}

/* One file entry of a key: "<hash> <size> <len>:<rel>\n" ("-" for an unreadable file). */
static void key_file(qr_buf *b, const qr_audio_file *f)
{
    if (f->readable)
        qr_audio_key_printf(b, "%016llx %zu ", (unsigned long long)f->hash, f->size);
    else
        qr_audio_key_printf(b, "- - ");
    qr_audio_key_printf(b, "%zu:", strlen(f->rel));
    qr_buf_put(b, f->rel, strlen(f->rel));
    qr_buf_put(b, "\n", 1);
}

static void build_base_key(qr_audio_loader *ld)
{
    const qr_audio_options *o = ld->o;
    const qr_mfcc_config *m = qr_mfcc_get_config(ld->mfcc);
    qr_buf *b = &ld->key;
    qr_audio_key_printf(b, "qreg audio features %d\n", QR_AUDIO_FEATURES_VERSION);
    qr_audio_key_printf(b, "libsndfile %s\nlibsamplerate %s\nfftw %s\n", sf_version_string(),
                        src_get_version(), fftwf_version);
    qr_audio_key_printf(b, "rate %.17g duration %.17g samples %zu crop %d max_channels %zu "
                        "quality %d\n",
                        o->sample_rate, o->duration, ld->L, (int)o->crop, o->max_channels,
                        (int)o->quality);
    qr_audio_key_printf(b, "mfcc win %zu hop %zu fft %zu mels %zu coefficients %zu f_min %.17g "
                        "f_max %.17g preemphasis %.17g floor %.17g window %d center %d\n",
                        m->win_length, m->hop_length, m->n_fft, m->n_mels, m->n_mfcc, m->f_min,
                        m->f_max, m->preemphasis, m->log_floor, (int)m->window, m->center);
    /* the integer front end's own version: bump QR_IFRONT_VERSION when its numerics change */
    if (o->frontend == QR_FRONTEND_INT)
        qr_audio_key_printf(b, "frontend int %d\n", QR_IFRONT_VERSION);
    else
        qr_audio_key_printf(b, "frontend float\n");
    qr_audio_key_printf(b, "files %zu\n", ld->n_files);
    for (size_t i = 0; i < ld->n_files; i++)
        key_file(b, &ld->files[i]);
}

/* Decoded bytes -> clip (L) -> features (T, C). */
static qr_status bytes_to_clip(qr_audio_loader *ld, const char *name, const unsigned char *data,
                               size_t len, float *clip)
{
    float *y = NULL;
    size_t n = 0;
    qr_status s = qr_audio_read_mem(name, data, len, ld->o->sample_rate, ld->o->max_channels,
                                    ld->o->quality, &y, &n, ld->err);
    if (s == QR_OK)
        qr_audio_fit(y, n, clip, ld->L, ld->o->crop);
    free(y);
    return s;
}

qr_status qr_audio_features_of(qr_audio_loader *ld, const float *clip, float *out)
{
    qr_status s;
    if (ld->ifront) {
        /* the device's code on the clip as int16 PCM; Q16 values are exact floats below 256 */
        qr_audio_to_pcm16(clip, ld->L, ld->pcm);
        if ((s = qr_ifront_compute(ld->ifront, ld->pcm, ld->L, ld->ifeat)) == QR_OK)
            for (size_t i = 0; i < ld->T * ld->C; i++)
                out[i] = (float)ld->ifeat[i] / 65536.0f;
        if (s != QR_OK)
            return qr_error_set(ld->err, s, "%s: integer front end failed (%s)", ld->src,
                                qr_strerror(s));
        return QR_OK;
    }
    s = qr_mfcc_compute(ld->mfcc, clip, ld->L, out);
    if (s != QR_OK)
        return qr_error_set(ld->err, s, "%s: MFCC failed (%s)", ld->src, qr_strerror(s));
    return QR_OK;
}

/* Decode file i into ld->clip. */
qr_status qr_audio_clip_of(qr_audio_loader *ld, size_t i)
{
    unsigned char *data = NULL;
    size_t len = 0;
    qr_status s = reread(ld, i, &data, &len);
    if (s == QR_OK) {
        char name[QR_ERROR_MAX];
        file_name(ld, i, name, sizeof name);
        s = bytes_to_clip(ld, name, data, len, ld->clip);
    }
    free(data);
    return s;
}

qr_status qr_audio_cache_dirs_get(qr_audio_loader *ld, qr_audio_cache_dirs *cd)
{
    cd->primary = cd->fallback = NULL;
    if (ld->o->cache_dir) {
        cd->primary = qr_audio_strdup(ld->o->cache_dir);
        return cd->primary ? QR_OK : qr_audio_nomem(ld);
    }
    if (qr_fcache_default_dirs(ld->base, &cd->primary, &cd->fallback) != QR_OK)
        return qr_audio_nomem(ld);
    return QR_OK;
}

void qr_audio_cache_dirs_free(qr_audio_cache_dirs *cd)
{
    free(cd->primary);
    free(cd->fallback);
}

/* Look the key up in the cache directories. QR_AUDIO_CACHE_HIT (status, x filled),
 * _MISS or _CORRUPT (warned). */
qr_audio_cache_state qr_audio_cache_lookup(qr_audio_loader *ld, const qr_audio_cache_dirs *cd,
                                           uint32_t kind, const qr_buf *key, size_t rows,
                                           unsigned char *status, float *x, char *used,
                                           size_t used_len)
{
    qr_audio_cache_state r = QR_AUDIO_CACHE_MISS;
    const char *dirs[2] = {cd->primary, cd->fallback};
    for (int d = 0; d < 2 && dirs[d]; d++) {
        char *path = qr_fcache_file(dirs[d], key->data, key->len);
        if (!path)
            return QR_AUDIO_CACHE_MISS;
        char why[256] = "";
        qr_fcache_result got = qr_fcache_read(path, kind, key->data, key->len, rows, ld->T,
                                              ld->C, status, x, why, sizeof why);
        if (got == QR_FCACHE_HIT) {
            snprintf(used, used_len, "%s", path);
            free(path);
            return QR_AUDIO_CACHE_HIT;
        }
        if (got == QR_FCACHE_BAD) {
            qr_audio_warn(ld, "%s: ignoring the feature cache: %s; recomputing", path, why);
            r = QR_AUDIO_CACHE_CORRUPT;
        }
        free(path);
    }
    return r;
}

/* Write to the first directory that works; a failure is a warning, not an error. */
void qr_audio_cache_store(qr_audio_loader *ld, const qr_audio_cache_dirs *cd, uint32_t kind,
                          const qr_buf *key, size_t rows, const unsigned char *status,
                          const float *x, char *used, size_t used_len)
{
    const char *dirs[2] = {cd->primary, cd->fallback};
    char first_err[QR_ERROR_MAX] = "";
    for (int d = 0; d < 2 && dirs[d]; d++) {
        char *path = qr_fcache_file(dirs[d], key->data, key->len);
        if (!path)
            return;
        qr_error e = {{0}};
        /* the default fallback may need its parents (~/.cache) */
        int mk = d == 1 ? qr_fcache_mkdirs(dirs[d]) : 0;
        if (mk == 0 &&
            qr_fcache_write(path, kind, key->data, key->len, rows, ld->T, ld->C, status, x, &e) ==
                QR_OK) {
            snprintf(used, used_len, "%s", path);
            free(path);
            return;
        }
        if (mk != 0)
            snprintf(e.msg, sizeof e.msg, "%s: cannot create: %s", dirs[d], strerror(mk));
        if (!first_err[0])
            snprintf(first_err, sizeof first_err, "%s", e.msg);
        free(path);
    }
    qr_audio_warn(ld, "cannot write the feature cache (%s): features will be computed again "
                  "next time",
                  first_err);
}

/* Features of every file: from the cache or computed. */
qr_status qr_audio_base_features(qr_audio_loader *ld, const qr_audio_cache_dirs *cd)
{
    size_t row = ld->T * ld->C, n = ld->n_files;
    if (row && n > SIZE_MAX / sizeof(float) / row)
        return qr_audio_nomem(ld);
    ld->status = malloc(n ? n : 1);
    ld->x = calloc(n && row ? n * row : 1, sizeof *ld->x);
    if (!ld->status || !ld->x)
        return qr_audio_nomem(ld);
    build_base_key(ld);
    if (ld->key.nomem)
        return qr_audio_nomem(ld);
    qr_audio_cache_state cs = QR_AUDIO_CACHE_OFF;
    if (ld->o->cache)
        cs = qr_audio_cache_lookup(ld, cd, QR_FCACHE_KIND_FEATURES, &ld->key, n, ld->status, ld->x,
                                   ld->st.cache_path, sizeof ld->st.cache_path);
    ld->st.cache_features = cs;
    if (cs == QR_AUDIO_CACHE_HIT) {
        for (size_t i = 0; i < n; i++) {
            qr_audio_file *f = &ld->files[i];
            f->ok = ld->status[i] == 0 && f->readable;
            if (f->ok || !f->readable)
                continue; /* unreadable files were reported by the hash pass */
            /* skipped when the cache was built: decode again for the message (or the error) */
            qr_error e;
            qr_error *keep = ld->err;
            ld->err = &e;
            qr_status s = qr_audio_clip_of(ld, i);
            ld->err = keep;
            if (s == QR_OK)
                return qr_error_set(ld->err, QR_ERR_FORMAT,
                                    "%s: the feature cache says the file is bad, but it decodes",
                                    f->path);
            if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL)
                return qr_error_set(ld->err, s, "%s", e.msg);
            qr_audio_warn(ld, "%s: skipped", e.msg);
            ld->st.skipped++;
        }
        return QR_OK;
    }
    for (size_t i = 0; i < n; i++) {
        qr_audio_file *f = &ld->files[i];
        ld->status[i] = 1;
        if (!f->readable)
            continue;
        qr_error e;
        qr_error *keep = ld->err;
        ld->err = &e;
        qr_status s = qr_audio_clip_of(ld, i);
        ld->err = keep;
        if (s == QR_ERR_NOMEM || s == QR_ERR_IO || (s != QR_OK && ld->o->on_error ==
                                                                  QR_AUDIO_ON_ERROR_FAIL))
            return qr_error_set(ld->err, s, "%s", e.msg);
        if (s != QR_OK) {
            qr_audio_warn(ld, "%s: skipped", e.msg);
            ld->st.skipped++;
            continue;
        }
        if ((s = qr_audio_features_of(ld, ld->clip, ld->x + i * row)) != QR_OK)
            return s;
        ld->status[i] = 0;
        f->ok = 1;
    }
    if (ld->o->cache)
        qr_audio_cache_store(ld, cd, QR_FCACHE_KIND_FEATURES, &ld->key, n, ld->status, ld->x,
                             ld->st.cache_path, sizeof ld->st.cache_path);
    return QR_OK;
}
