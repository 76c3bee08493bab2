/* Audio datasets: reading clips (libsndfile from memory, mono mix, libsamplerate), fitting
 * them to a duration, listing a class-folder tree or a manifest, splits, augmentation and
 * the feature cache around it all. Rules: include/qreg/audio.h; design: docs/audio.md.
 *
 * The loader runs in passes over the file list:
 *   1. list   folders or manifest -> files with labels (and a split from the manifest)
 *   2. hash   read every file's bytes, FNV-1a 64: the cache key depends on contents
 *   3. base   features of every file from the cache, or decoded (the bytes are read again
 *             and must hash the same: what is decoded is what was hashed)
 *   4. split  manifest column, Speech Commands lists or seeded stratified fractions
 *   5. augment K copies of each training clip, from their own cache or computed
 * L samples per clip, T frames, C coefficients. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <fftw3.h>
#include <samplerate.h>
#include <sndfile.h>

#include "datasets/audio_impl.h"
#include "lib/fileio.h"
#include "qreg/audio.h"
#include "qreg/rng.h"

/* Bump when the features of the same bytes and parameters change (it is part of the key). */
#define AUDIO_FEATURES_VERSION 1
/* Audio files larger than this are refused: 1 GiB. */
#define AUDIO_MAX_FILE_BYTES ((size_t)1 << 30)
/* Decoded files longer than this are refused (frames). */
#define AUDIO_MAX_FRAMES ((sf_count_t)1 << 31)

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* "<a>/<b>" (b as is when absolute), malloc'd. */
static char *path_join(const char *a, const char *b)
{
    if (b[0] == '/')
        return dup_str(b);
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ---- decoding from memory ------------------------------------------------------------ */

typedef struct mem_io {
    const unsigned char *p;
    sf_count_t len, pos;
} mem_io;

static sf_count_t mio_len(void *u)
{
    return ((mem_io *)u)->len;
}

static sf_count_t mio_seek(sf_count_t off, int whence, void *u)
{
    mem_io *m = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->len;
    if ((off < 0 && base + off < 0) || (off > 0 && base > INT64_MAX - off))
        return -1;
    m->pos = base + off;
    return m->pos;
}

static sf_count_t mio_read(void *ptr, sf_count_t count, void *u)
{
    mem_io *m = u;
    if (count <= 0 || m->pos >= m->len)
        return 0;
    sf_count_t n = m->len - m->pos < count ? m->len - m->pos : count;
    memcpy(ptr, m->p + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mio_write(const void *ptr, sf_count_t count, void *u)
{
    (void)ptr;
    (void)count;
    (void)u;
    return 0;
}

static sf_count_t mio_tell(void *u)
{
    return ((mem_io *)u)->pos;
}

/* A WAV whose data chunk promises more bytes than the file holds (an interrupted copy or
 * download): libsndfile reads what is there and notes "data : <declared> (should be
 * <present>)" in its log. Streaming writers leave a placeholder there (0, 0x7FFFF000 as
 * espeak-ng --stdout, 0x7FFFFFFF, 0xFFFFFFFF): sizes from 0x7FFF0000 up are not truncation
 * (no file this loader reads is that large). */
static qr_status check_truncated(SNDFILE *sf, const SF_INFO *info, const char *name,
                                 qr_error *err)
{
    int major = info->format & SF_FORMAT_TYPEMASK;
    if (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX && major != SF_FORMAT_RF64)
        return QR_OK;
    char log[4096] = "";
    sf_command(sf, SFC_GET_LOG_INFO, log, (int)sizeof log);
    const char *p = strstr(log, "\ndata : ");
    if (!p)
        return QR_OK;
    char *end;
    unsigned long long declared = strtoull(p + 8, &end, 10);
    if (strncmp(end, " (should be ", 12) != 0)
        return QR_OK;
    unsigned long long present = strtoull(end + 12, NULL, 10);
    if (declared > present && declared < 0x7FFF0000ull)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: truncated: the header declares %llu bytes "
                            "of audio, the file holds %llu", name, declared, present);
    return QR_OK;
}

/* Decode a file's bytes to mono (mean of the channels) at the file's own rate. */
static qr_status decode(const char *name, const unsigned char *data, size_t len,
                        size_t max_channels, float **out, size_t *n, int *rate, qr_error *err)
{
    *out = NULL;
    *n = 0;
    *rate = 0;
    if (len == 0)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: empty file (0 bytes)", name);
    mem_io m = {data, (sf_count_t)len, 0};
    SF_VIRTUAL_IO vio = {mio_len, mio_seek, mio_read, mio_write, mio_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &m);
    if (!sf)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: not readable as audio: %s", name,
                            sf_strerror(NULL));
    qr_status s = QR_OK;
    float *buf = NULL, *mono = NULL;
    if (info.channels < 1)
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: no channels", name);
    else if ((size_t)info.channels > max_channels)
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: %d channels, more than max_channels = %zu",
                         name, info.channels, max_channels);
    else if (info.samplerate < 1)
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: invalid sample rate %d", name, info.samplerate);
    else if (info.frames <= 0)
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: no audio frames", name);
    else if (info.frames > AUDIO_MAX_FRAMES / info.channels)
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: too long (%lld frames)", name,
                         (long long)info.frames);
    else
        s = check_truncated(sf, &info, name, err);
    if (s != QR_OK)
        goto out;
    size_t frames = (size_t)info.frames, ch = (size_t)info.channels;
    buf = malloc(frames * ch * sizeof *buf);
    mono = malloc(frames * sizeof *mono);
    if (!buf || !mono) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    sf_count_t got = sf_readf_float(sf, buf, info.frames);
    if (got != info.frames || sf_error(sf) != SF_ERR_NO_ERROR) {
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: corrupt or truncated audio: decoded %lld of "
                         "%lld frames (%s)", name, (long long)(got > 0 ? got : 0),
                         (long long)info.frames, sf_strerror(sf));
        goto out;
    }
    for (size_t i = 0; i < frames; i++) {
        double sum = 0.0;
        for (size_t c = 0; c < ch; c++)
            sum += (double)buf[i * ch + c];
        if (!isfinite(sum)) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: frame %zu holds a non-finite sample", name,
                             i);
            goto out;
        }
        mono[i] = (float)(sum / (double)ch);
    }
    *out = mono;
    mono = NULL;
    *n = frames;
    *rate = info.samplerate;
out:
    sf_close(sf);
    free(buf);
    free(mono);
    return s;
}

static int src_converter(qr_audio_quality q)
{
    return q == QR_AUDIO_QUALITY_BEST     ? SRC_SINC_BEST_QUALITY
           : q == QR_AUDIO_QUALITY_FASTEST ? SRC_SINC_FASTEST
                                           : SRC_SINC_MEDIUM_QUALITY;
}

/* x (n samples at `from` Hz) -> *out at `to` Hz. The same rate is a copy. */
static qr_status resample(const char *name, const float *x, size_t n, double from, double to,
                          qr_audio_quality q, float **out, size_t *nout, qr_error *err)
{
    *out = NULL;
    *nout = 0;
    if (from == to) {
        float *y = malloc(n * sizeof *y);
        if (!y)
            return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", name);
        memcpy(y, x, n * sizeof *y);
        *out = y;
        *nout = n;
        return QR_OK;
    }
    double ratio = to / from, want = ceil((double)n * ratio) + 64.0;
    if (!src_is_valid_ratio(ratio))
        return qr_error_set(err, QR_ERR_FORMAT,
                            "%s: cannot resample from %g Hz to %g Hz (ratio outside 1/256..256)",
                            name, from, to);
    if (want > (double)AUDIO_MAX_FRAMES || n > (size_t)AUDIO_MAX_FRAMES)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: too long to resample", name);
    size_t cap = (size_t)want;
    float *y = malloc(cap * sizeof *y);
    if (!y)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", name);
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = x;
    d.input_frames = (long)n;
    d.data_out = y;
    d.output_frames = (long)cap;
    d.src_ratio = ratio;
    d.end_of_input = 1;
    int rc = src_simple(&d, src_converter(q), 1);
    if (rc != 0 || d.output_frames_gen <= 0) {
        free(y);
        return qr_error_set(err, QR_ERR_FORMAT, "%s: resampling from %g Hz to %g Hz failed: %s",
                            name, from, to, rc ? src_strerror(rc) : "no output");
    }
    *out = y;
    *nout = (size_t)d.output_frames_gen;
    return QR_OK;
}

/* Decode and resample bytes: mono samples at `rate`. */
static qr_status read_mem(const char *name, const unsigned char *data, size_t len, double rate,
                          size_t max_channels, qr_audio_quality q, float **out, size_t *n,
                          qr_error *err)
{
    float *raw = NULL;
    size_t nraw = 0;
    int from = 0;
    qr_status s = decode(name, data, len, max_channels, &raw, &nraw, &from, err);
    if (s == QR_OK)
        s = resample(name, raw, nraw, (double)from, rate, q, out, n, err);
    free(raw);
    return s;
}

QR_API qr_status qr_audio_read(const char *path, double sample_rate, size_t max_channels,
                               qr_audio_quality quality, float **samples, size_t *n,
                               qr_error *err)
{
    if (samples)
        *samples = NULL;
    if (n)
        *n = 0;
    if (!path || !samples || !n)
        return qr_error_set(err, QR_ERR_ARG, "qr_audio_read: NULL path or output");
    if (!(sample_rate >= 1000.0 && sample_rate <= 384000.0) || max_channels < 1 ||
        (unsigned)quality > QR_AUDIO_QUALITY_FASTEST)
        return qr_error_set(err, QR_ERR_ARG,
                            "%s: sample rate %g outside [1000, 384000], max_channels 0 or a bad "
                            "quality", path, sample_rate);
    unsigned char *data = NULL;
    size_t len = 0;
    qr_status s = qr_file_read_all(path, AUDIO_MAX_FILE_BYTES, &data, &len, err);
    if (s == QR_OK)
        s = read_mem(path, data, len, sample_rate, max_channels, quality, samples, n, err);
    free(data);
    return s;
}

QR_API void qr_audio_fit(const float *x, size_t n, float *out, size_t len, qr_audio_crop crop)
{
    if (n >= len) {
        size_t off = crop == QR_AUDIO_CROP_CENTRE ? (n - len) / 2 : 0;
        memcpy(out, x + off, len * sizeof *out);
        return;
    }
    size_t before = crop == QR_AUDIO_CROP_CENTRE ? (len - n) / 2 : 0;
    memset(out, 0, before * sizeof *out);
    memcpy(out + before, x, n * sizeof *out);
    memset(out + before + n, 0, (len - before - n) * sizeof *out);
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
    o->cache = 1;
}

#define DEFAULT_FRACTION 0.1

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
        (unsigned)o->split > QR_AUDIO_SPLIT_FRACTIONS)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "audio: crop, quality, on_error or split out of range");
    double v = o->val_split >= 0 ? o->val_split : DEFAULT_FRACTION;
    double t = o->test_split >= 0 ? o->test_split : DEFAULT_FRACTION;
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
    qr_mfcc_config mc = o->mfcc;
    mc.sample_rate = o->sample_rate;
    return qr_mfcc_config_check(&mc, err);
}

/* ---- the loader's state ---------------------------------------------------------------- */

enum { SPLIT_NONE = -1, SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 };

typedef struct afile {
    char *path;        /* as opened */
    char *rel;         /* in keys and lists: "class/name.wav", or the manifest's cell */
    size_t line;       /* manifest line, 0 in folder mode */
    size_t label;      /* class index */
    int split;         /* SPLIT_* */
    int readable;      /* bytes read and hashed */
    uint64_t hash;
    size_t size;
    int ok;            /* features present */
} afile;

typedef struct loader {
    const qr_audio_options *o;
    qr_error *err;
    qr_audio_stats st;
    const char *src;           /* root or manifest: prefix of messages about the dataset */
    char *base;                /* root, or the manifest's folder */
    afile *files;
    size_t n_files, cap_files;
    char **classes;
    size_t n_classes;
    int split_column;          /* the manifest has one */
    qr_mfcc *mfcc;
    size_t L, T, C;
    float *clip;               /* (L) */
    float *work;               /* (L) */
    qr_buf key;                /* base features key */
    unsigned char *status;     /* (n_files) 0 ok, 1 skipped */
    float *x;                  /* (n_files, T·C) */
} loader;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void warn(loader *ld, const char *fmt, ...)
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

/* The name of file i in messages: "manifest:line: path" or "path". */
static void file_name(const loader *ld, size_t i, char *buf, size_t n)
{
    const afile *f = &ld->files[i];
    if (f->line)
        snprintf(buf, n, "%s:%zu: %s", ld->o->manifest, f->line, f->path);
    else
        snprintf(buf, n, "%s", f->path);
}

static qr_status nomem(loader *ld)
{
    return qr_error_set(ld->err, QR_ERR_NOMEM, "%s: out of memory", ld->src);
}

static qr_status add_file(loader *ld, char *path, char *rel, size_t line, size_t label, int split)
{
    if (ld->n_files == ld->cap_files) {
        size_t nc = ld->cap_files ? 2 * ld->cap_files : 256;
        afile *p = realloc(ld->files, nc * sizeof *p);
        if (!p) {
            free(path);
            free(rel);
            return nomem(ld);
        }
        ld->files = p;
        ld->cap_files = nc;
    }
    afile *f = &ld->files[ld->n_files++];
    memset(f, 0, sizeof *f);
    f->path = path;
    f->rel = rel;
    f->line = line;
    f->label = label;
    f->split = split;
    if (!path || !rel)
        return nomem(ld);
    return QR_OK;
}

/* ---- listing: class folders ------------------------------------------------------------ */

static int is_audio_name(const char *s)
{
    static const char *const ext[] = {".wav", ".wave", ".flac", ".ogg", ".oga", NULL};
    const char *dot = strrchr(s, '.');
    if (!dot || dot == s)
        return 0;
    for (int i = 0; ext[i]; i++)
        if (strcasecmp(dot, ext[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_strs(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Sorted names in `dir`: subfolders that can be classes (want_dirs), or audio files (names
 * with an audio extension that are not folders; a broken link is listed so that reading it
 * names it). Other entries add to *ignored. */
static qr_status list_dir(const char *dir, int want_dirs, char ***names, size_t *n,
                          size_t *ignored, qr_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return qr_error_set(err, QR_ERR_IO, "%s: cannot open the folder: %s", dir,
                            strerror(errno));
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    qr_status s = QR_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        char *full = path_join(dir, nm);
        if (!full) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        struct stat stt;
        int have = stat(full, &stt) == 0, isdir = have && S_ISDIR(stt.st_mode);
        free(full);
        int take;
        if (want_dirs)
            take = isdir && nm[0] != '.' && strcmp(nm, "_background_noise_") != 0;
        else
            take = !isdir && is_audio_name(nm);
        if (!take) {
            if (ignored && !(want_dirs && isdir))
                (*ignored)++;
            errno = 0;
            continue;
        }
        if (cnt == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char **p = realloc(v, nc * sizeof *p);
            if (!p) {
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            v = p;
            cap = nc;
        }
        if (!(v[cnt] = dup_str(nm))) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        cnt++;
        errno = 0;
    }
    if (s == QR_OK && errno != 0)
        s = qr_error_set(err, QR_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    closedir(d);
    if (s != QR_OK) {
        free_strs(v, cnt);
        return s;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return QR_OK;
}

static qr_status list_folders(loader *ld)
{
    const char *root = ld->o->root;
    char **dirs = NULL;
    size_t nd = 0;
    qr_status s = list_dir(root, 1, &dirs, &nd, NULL, ld->err);
    if (s != QR_OK)
        return s;
    if (nd == 0) {
        free_strs(dirs, nd);
        return qr_error_set(ld->err, QR_ERR_FORMAT,
                            "%s: no class folders (expected one subfolder per class)", root);
    }
    if (!(ld->classes = calloc(nd, sizeof *ld->classes))) {
        free_strs(dirs, nd);
        return nomem(ld);
    }
    for (size_t c = 0; c < nd && s == QR_OK; c++) {
        char *cdir = path_join(root, dirs[c]);
        char **names = NULL;
        size_t nn = 0;
        if (!cdir) {
            s = nomem(ld);
            break;
        }
        s = list_dir(cdir, 0, &names, &nn, &ld->st.ignored, ld->err);
        if (s == QR_OK && nn == 0) {
            if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL)
                s = qr_error_set(ld->err, QR_ERR_FORMAT,
                                 "%s: class folder without audio files (.wav, .flac, .ogg)", cdir);
            else
                warn(ld, "%s: class folder without audio files: skipped (no class '%s')", cdir,
                     dirs[c]);
        }
        if (s == QR_OK && nn > 0) {
            size_t k = ld->n_classes;
            if (!(ld->classes[k] = dup_str(dirs[c])))
                s = nomem(ld);
            else
                ld->n_classes++;
            for (size_t i = 0; i < nn && s == QR_OK; i++) {
                size_t rl = strlen(dirs[c]) + strlen(names[i]) + 2;
                char *rel = malloc(rl);
                if (rel)
                    snprintf(rel, rl, "%s/%s", dirs[c], names[i]);
                s = add_file(ld, path_join(cdir, names[i]), rel, 0, k, SPLIT_NONE);
            }
        }
        free_strs(names, nn);
        free(cdir);
    }
    free_strs(dirs, nd);
    return s;
}

/* ---- listing: manifest ----------------------------------------------------------------- */

typedef struct cell {
    char *s;
    size_t len;
} cell;

/* Cut one line into at most `max` cells in place (quoted cells, "" inside quotes; spaces
 * around cells ignored). Returns the cell count, or -1 for a quoting error. A count above
 * max means too many cells. */
static long split_cells(char *s, size_t n, cell *cells, size_t max)
{
    size_t i = 0, k = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        char *c0;
        size_t len;
        if (i < n && s[i] == '"') {
            size_t w = ++i;
            c0 = s + w;
            for (;;) {
                if (i >= n)
                    return -1;
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        s[w++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                s[w++] = s[i++];
            }
            len = (size_t)(s + w - c0);
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            if (i < n && s[i] != ',')
                return -1;
        } else {
            size_t b = i;
            while (i < n && s[i] != ',')
                i++;
            size_t e = i;
            while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
            c0 = s + b;
            len = e - b;
        }
        if (k < max) {
            cells[k].s = c0;
            cells[k].len = len;
        }
        k++;
        if (i >= n)
            break;
        i++;
    }
    for (size_t j = 0; j < k && j < max; j++)
        cells[j].s[cells[j].len] = '\0';
    return (long)k;
}

static int cmp_file_rel(const void *a, const void *b)
{
    const afile *x = *(const afile *const *)a, *y = *(const afile *const *)b;
    return strcmp(x->rel, y->rel);
}

static qr_status list_manifest(loader *ld)
{
    const char *mpath = ld->o->manifest;
    unsigned char *raw = NULL;
    size_t len = 0;
    qr_status s = qr_file_read_all(mpath, AUDIO_MAX_FILE_BYTES, &raw, &len, ld->err);
    if (s != QR_OK)
        return s;
    char *buf = realloc(raw, len + 1);
    if (!buf) {
        free(raw);
        return nomem(ld);
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return qr_error_set(ld->err, QR_ERR_FORMAT, "%s: NUL byte in a text file", mpath);
    }
    char **labels = NULL; /* (n_files) pointers into buf */
    size_t cap_labels = 0, pos = 0, line = 0, ncols = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < len && s == QR_OK) {
        char *p = buf + pos, *nl = memchr(p, '\n', len - pos);
        size_t k = nl ? (size_t)(nl - p) : len - pos;
        pos += k + (nl != NULL);
        line++;
        if (k > 0 && p[k - 1] == '\r')
            k--;
        size_t b = 0;
        while (b < k && (p[b] == ' ' || p[b] == '\t'))
            b++;
        if (b == k)
            continue; /* blank lines are ignored */
        cell cells[3];
        long nc = split_cells(p, k, cells, 3);
        if (nc < 0) {
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s:%zu: bad quoting", mpath, line);
            break;
        }
        if (ncols == 0) {
            if (nc != 2 && nc != 3) {
                s = qr_error_set(ld->err, QR_ERR_FORMAT,
                                 "%s:%zu: expected 2 or 3 cells (path,label[,split]), got %ld",
                                 mpath, line, nc);
                break;
            }
            ncols = (size_t)nc;
            ld->split_column = nc == 3;
            if (strcmp(cells[0].s, "path") == 0 && strcmp(cells[1].s, "label") == 0 &&
                (nc == 2 || strcmp(cells[2].s, "split") == 0))
                continue; /* the header */
        } else if ((size_t)nc != ncols) {
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s:%zu: expected %zu cells, got %ld", mpath,
                             line, ncols, nc);
            break;
        }
        if (cells[0].len == 0 || cells[1].len == 0) {
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s:%zu: empty %s cell", mpath, line,
                             cells[0].len == 0 ? "path" : "label");
            break;
        }
        int split = SPLIT_NONE;
        if (ncols == 3) {
            static const char *const names[] = {"train", "validation", "test"};
            for (int j = 0; j < 3; j++)
                if (strcmp(cells[2].s, names[j]) == 0)
                    split = j;
            if (split == SPLIT_NONE) {
                s = qr_error_set(ld->err, QR_ERR_FORMAT,
                                 "%s:%zu: split \"%.40s\" is not train, validation or test", mpath,
                                 line, cells[2].s);
                break;
            }
        }
        if (ld->n_files == cap_labels) {
            size_t ncap = cap_labels ? 2 * cap_labels : 256;
            char **nl2 = realloc(labels, ncap * sizeof *nl2);
            if (!nl2) {
                s = nomem(ld);
                break;
            }
            labels = nl2;
            cap_labels = ncap;
        }
        labels[ld->n_files] = cells[1].s;
        s = add_file(ld, path_join(ld->base, cells[0].s), dup_str(cells[0].s), line, 0, split);
    }
    if (s == QR_OK && ld->n_files == 0)
        s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s: no files listed", mpath);
    /* the same path twice */
    afile **by = NULL;
    if (s == QR_OK && !(by = malloc(ld->n_files * sizeof *by)))
        s = nomem(ld);
    if (s == QR_OK) {
        for (size_t i = 0; i < ld->n_files; i++)
            by[i] = &ld->files[i];
        qsort(by, ld->n_files, sizeof *by, cmp_file_rel);
        for (size_t i = 1; i < ld->n_files && s == QR_OK; i++)
            if (strcmp(by[i - 1]->rel, by[i]->rel) == 0) {
                const afile *a = by[i - 1], *b = by[i];
                if (a->line > b->line) {
                    const afile *t = a;
                    a = b;
                    b = t;
                }
                s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s:%zu: %s is listed twice (first on "
                                 "line %zu)", mpath, b->line, b->rel, a->line);
            }
    }
    free(by);
    /* classes: sorted distinct labels */
    char **u = NULL;
    if (s == QR_OK && !(u = malloc(ld->n_files * sizeof *u)))
        s = nomem(ld);
    if (s == QR_OK) {
        memcpy(u, labels, ld->n_files * sizeof *u);
        qsort(u, ld->n_files, sizeof *u, cmp_str);
        size_t k = 0;
        for (size_t i = 0; i < ld->n_files; i++)
            if (k == 0 || strcmp(u[k - 1], u[i]) != 0)
                u[k++] = u[i];
        if (!(ld->classes = calloc(k, sizeof *ld->classes)))
            s = nomem(ld);
        for (size_t j = 0; s == QR_OK && j < k; j++) {
            if (!(ld->classes[j] = dup_str(u[j])))
                s = nomem(ld);
            ld->n_classes = j + 1;
        }
        for (size_t i = 0; s == QR_OK && i < ld->n_files; i++) {
            char **hit = bsearch(&labels[i], u, k, sizeof *u, cmp_str);
            ld->files[i].label = (size_t)(hit - u);
        }
    }
    free(u);
    free(labels);
    free(buf);
    return s;
}

/* ---- pass 2: hashing ------------------------------------------------------------------- */

static qr_status hash_files(loader *ld)
{
    for (size_t i = 0; i < ld->n_files; i++) {
        afile *f = &ld->files[i];
        unsigned char *data = NULL;
        size_t len = 0;
        qr_error e;
        qr_status s = qr_file_read_all(f->path, AUDIO_MAX_FILE_BYTES, &data, &len, &e);
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
                warn(ld, "%s:%zu: %s: skipped", ld->o->manifest, f->line, e.msg);
            else
                warn(ld, "%s: skipped", e.msg);
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
static qr_status reread(loader *ld, size_t i, unsigned char **data, size_t *len)
{
    afile *f = &ld->files[i];
    qr_status s = qr_file_read_all(f->path, AUDIO_MAX_FILE_BYTES, data, len, ld->err);
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

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void key_printf(qr_buf *b, const char *fmt, ...)
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
static void key_file(qr_buf *b, const afile *f)
{
    if (f->readable)
        key_printf(b, "%016llx %zu ", (unsigned long long)f->hash, f->size);
    else
        key_printf(b, "- - ");
    key_printf(b, "%zu:", strlen(f->rel));
    qr_buf_put(b, f->rel, strlen(f->rel));
    qr_buf_put(b, "\n", 1);
}

static void build_base_key(loader *ld)
{
    const qr_audio_options *o = ld->o;
    const qr_mfcc_config *m = qr_mfcc_get_config(ld->mfcc);
    qr_buf *b = &ld->key;
    key_printf(b, "qreg audio features %d\n", AUDIO_FEATURES_VERSION);
    key_printf(b, "libsndfile %s\nlibsamplerate %s\nfftw %s\n", sf_version_string(),
               src_get_version(), fftwf_version);
    key_printf(b, "rate %.17g duration %.17g samples %zu crop %d max_channels %zu quality %d\n",
               o->sample_rate, o->duration, ld->L, (int)o->crop, o->max_channels,
               (int)o->quality);
    key_printf(b, "mfcc win %zu hop %zu fft %zu mels %zu coefficients %zu f_min %.17g f_max "
               "%.17g preemphasis %.17g floor %.17g window %d center %d\n",
               m->win_length, m->hop_length, m->n_fft, m->n_mels, m->n_mfcc, m->f_min, m->f_max,
               m->preemphasis, m->log_floor, (int)m->window, m->center);
    key_printf(b, "files %zu\n", ld->n_files);
    for (size_t i = 0; i < ld->n_files; i++)
        key_file(b, &ld->files[i]);
}

/* Decoded bytes -> clip (L) -> features (T, C). */
static qr_status bytes_to_clip(loader *ld, const char *name, const unsigned char *data,
                               size_t len, float *clip)
{
    float *y = NULL;
    size_t n = 0;
    qr_status s = read_mem(name, data, len, ld->o->sample_rate, ld->o->max_channels,
                           ld->o->quality, &y, &n, ld->err);
    if (s == QR_OK)
        qr_audio_fit(y, n, clip, ld->L, ld->o->crop);
    free(y);
    return s;
}

static qr_status features_of(loader *ld, const float *clip, float *out)
{
    qr_status s = qr_mfcc_compute(ld->mfcc, clip, ld->L, out);
    if (s != QR_OK)
        return qr_error_set(ld->err, s, "%s: MFCC failed (%s)", ld->src, qr_strerror(s));
    return QR_OK;
}

/* Decode file i into ld->clip. */
static qr_status clip_of(loader *ld, size_t i)
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

/* Where cache files are read and written. */
typedef struct cache_dirs {
    char *primary, *fallback; /* fallback may be NULL */
} cache_dirs;

static qr_status cache_dirs_get(loader *ld, cache_dirs *cd)
{
    cd->primary = cd->fallback = NULL;
    if (ld->o->cache_dir) {
        cd->primary = dup_str(ld->o->cache_dir);
        return cd->primary ? QR_OK : nomem(ld);
    }
    if (qr_fcache_default_dirs(ld->base, &cd->primary, &cd->fallback) != QR_OK)
        return nomem(ld);
    return QR_OK;
}

static void cache_dirs_free(cache_dirs *cd)
{
    free(cd->primary);
    free(cd->fallback);
}

/* Look the key up in the cache directories. QR_AUDIO_CACHE_HIT (status, x filled),
 * _MISS or _CORRUPT (warned). */
static qr_audio_cache_state cache_lookup(loader *ld, const cache_dirs *cd, uint32_t kind,
                                         const qr_buf *key, size_t rows, unsigned char *status,
                                         float *x, char *used, size_t used_len)
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
            warn(ld, "%s: ignoring the feature cache: %s; recomputing", path, why);
            r = QR_AUDIO_CACHE_CORRUPT;
        }
        free(path);
    }
    return r;
}

/* Write to the first directory that works; a failure is a warning, not an error. */
static void cache_store(loader *ld, const cache_dirs *cd, uint32_t kind, const qr_buf *key,
                        size_t rows, const unsigned char *status, const float *x, char *used,
                        size_t used_len)
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
    warn(ld, "cannot write the feature cache (%s): features will be computed again next time",
         first_err);
}

/* Features of every file: from the cache or computed. */
static qr_status base_features(loader *ld, const cache_dirs *cd)
{
    size_t row = ld->T * ld->C, n = ld->n_files;
    if (row && n > SIZE_MAX / sizeof(float) / row)
        return nomem(ld);
    ld->status = malloc(n ? n : 1);
    ld->x = calloc(n && row ? n * row : 1, sizeof *ld->x);
    if (!ld->status || !ld->x)
        return nomem(ld);
    build_base_key(ld);
    if (ld->key.nomem)
        return nomem(ld);
    qr_audio_cache_state cs = QR_AUDIO_CACHE_OFF;
    if (ld->o->cache)
        cs = cache_lookup(ld, cd, QR_FCACHE_KIND_FEATURES, &ld->key, n, ld->status, ld->x,
                          ld->st.cache_path, sizeof ld->st.cache_path);
    ld->st.cache_features = cs;
    if (cs == QR_AUDIO_CACHE_HIT) {
        for (size_t i = 0; i < n; i++) {
            afile *f = &ld->files[i];
            f->ok = ld->status[i] == 0 && f->readable;
            if (f->ok || !f->readable)
                continue; /* unreadable files were reported by the hash pass */
            /* skipped when the cache was built: decode again for the message (or the error) */
            qr_error e;
            qr_error *keep = ld->err;
            ld->err = &e;
            qr_status s = clip_of(ld, i);
            ld->err = keep;
            if (s == QR_OK)
                return qr_error_set(ld->err, QR_ERR_FORMAT,
                                    "%s: the feature cache says the file is bad, but it decodes",
                                    f->path);
            if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL)
                return qr_error_set(ld->err, s, "%s", e.msg);
            warn(ld, "%s: skipped", e.msg);
            ld->st.skipped++;
        }
        return QR_OK;
    }
    for (size_t i = 0; i < n; i++) {
        afile *f = &ld->files[i];
        ld->status[i] = 1;
        if (!f->readable)
            continue;
        qr_error e;
        qr_error *keep = ld->err;
        ld->err = &e;
        qr_status s = clip_of(ld, i);
        ld->err = keep;
        if (s == QR_ERR_NOMEM || s == QR_ERR_IO || (s != QR_OK && ld->o->on_error ==
                                                                  QR_AUDIO_ON_ERROR_FAIL))
            return qr_error_set(ld->err, s, "%s", e.msg);
        if (s != QR_OK) {
            warn(ld, "%s: skipped", e.msg);
            ld->st.skipped++;
            continue;
        }
        if ((s = features_of(ld, ld->clip, ld->x + i * row)) != QR_OK)
            return s;
        ld->status[i] = 0;
        f->ok = 1;
    }
    if (ld->o->cache)
        cache_store(ld, cd, QR_FCACHE_KIND_FEATURES, &ld->key, n, ld->status, ld->x,
                    ld->st.cache_path, sizeof ld->st.cache_path);
    return QR_OK;
}

/* ---- classes after skipping ------------------------------------------------------------ */

/* Drop classes without usable files (skip mode) and renumber; at least 2 must remain. */
static qr_status prune_classes(loader *ld)
{
    size_t k = ld->n_classes;
    size_t *count = calloc(k ? k : 1, sizeof *count), *map = malloc((k ? k : 1) * sizeof *map);
    if (!count || !map) {
        free(count);
        free(map);
        return nomem(ld);
    }
    for (size_t i = 0; i < ld->n_files; i++)
        if (ld->files[i].ok)
            count[ld->files[i].label]++;
    size_t kept = 0;
    qr_status s = QR_OK;
    for (size_t c = 0; c < k; c++) {
        if (count[c]) {
            map[c] = kept;
            ld->classes[kept++] = ld->classes[c];
            continue;
        }
        if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL && s == QR_OK)
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s: class '%s' has no usable files",
                             ld->src, ld->classes[c]);
        else
            warn(ld, "%s: class '%s' has no usable files left: dropped", ld->src,
                 ld->classes[c]);
        free(ld->classes[c]);
        map[c] = SIZE_MAX;
    }
    ld->n_classes = kept;
    for (size_t i = 0; i < ld->n_files; i++)
        if (ld->files[i].ok)
            ld->files[i].label = map[ld->files[i].label];
    free(count);
    free(map);
    if (s == QR_OK && kept < 2)
        s = qr_error_set(ld->err, QR_ERR_FORMAT,
                         "%s: %zu class%s with usable files; need at least 2", ld->src, kept,
                         kept == 1 ? "" : "es");
    return s;
}

/* ---- pass 4: splits -------------------------------------------------------------------- */

static int cmp_rel_key(const void *key, const void *elem)
{
    return strcmp((const char *)key, (*(const afile *const *)elem)->rel);
}

/* Apply one Speech Commands list (root/name, lines "class/file.wav"). *found: it exists. */
static qr_status apply_list(loader *ld, afile **by_rel, const char *name, int split, int *found)
{
    char *path = path_join(ld->o->root, name);
    if (!path)
        return nomem(ld);
    struct stat stt;
    *found = stat(path, &stt) == 0;
    if (!*found) {
        free(path);
        return QR_OK;
    }
    unsigned char *raw = NULL;
    size_t len = 0;
    qr_status s = qr_file_read_all(path, AUDIO_MAX_FILE_BYTES, &raw, &len, ld->err);
    char *buf = s == QR_OK ? realloc(raw, len + 1) : NULL;
    if (s == QR_OK && !buf) {
        free(raw);
        s = nomem(ld);
    }
    size_t pos = 0, line = 0, missing = 0;
    if (s == QR_OK) {
        buf[len] = '\0';
        if (memchr(buf, '\0', len))
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s: NUL byte in a text file", path);
    }
    while (s == QR_OK && pos < len) {
        char *p = buf + pos, *nl = memchr(p, '\n', len - pos);
        size_t k = nl ? (size_t)(nl - p) : len - pos;
        pos += k + (nl != NULL);
        line++;
        while (k > 0 && (p[k - 1] == '\r' || p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        while (k > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            k--;
        }
        if (k == 0)
            continue;
        p[k] = '\0';
        afile **hit = bsearch(p, by_rel, ld->n_files, sizeof *by_rel, cmp_rel_key);
        if (!hit) {
            if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL)
                s = qr_error_set(ld->err, QR_ERR_FORMAT,
                                 "%s:%zu: '%.200s' is not an audio file of the dataset", path,
                                 line, p);
            else
                missing++;
            continue;
        }
        afile *f = *hit;
        if (f->split != SPLIT_NONE && f->split != split)
            s = qr_error_set(ld->err, QR_ERR_FORMAT,
                             "%s:%zu: '%.200s' is also in the other list", path, line, p);
        f->split = split;
    }
    if (s == QR_OK && missing)
        warn(ld, "%s: %zu listed file%s not in the dataset: ignored", path, missing,
             missing == 1 ? "" : "s");
    free(buf);
    free(path);
    return s;
}

static size_t round_half_up(double v)
{
    return (size_t)floor(v + 0.5);
}

/* Stratified fractions over the usable files, the rule of qr_dataset_split. */
static qr_status split_fractions(loader *ld, double val, double test)
{
    size_t n = ld->n_files, k = ld->n_classes;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return nomem(ld);
    qr_rng rng;
    qr_rng_seed(&rng, ld->o->seed);
    for (size_t c = 0; c < k; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (ld->files[i].ok && ld->files[i].label == c)
                idx[m++] = i;
        qr_rng_shuffle(&rng, idx, m);
        size_t nv = round_half_up((double)m * val), nt = round_half_up((double)m * test);
        if (nt > m)
            nt = m;
        if (nv > m - nt)
            nv = m - nt;
        if (m >= 1 && nv + nt >= m) {
            if (nv > 0)
                nv--;
            else
                nt--;
        }
        for (size_t j = 0; j < m; j++)
            ld->files[idx[j]].split = j < nt ? SPLIT_TEST : j < nt + nv ? SPLIT_VAL : SPLIT_TRAIN;
    }
    free(idx);
    return QR_OK;
}

static qr_status assign_splits(loader *ld)
{
    const qr_audio_options *o = ld->o;
    qr_audio_split mode = o->split;
    const char *from = NULL;
    int lists_exist = 0;
    if (o->root) {
        static const char *const names[] = {"validation_list.txt", "testing_list.txt"};
        for (int j = 0; j < 2; j++) {
            char *p = path_join(o->root, names[j]);
            struct stat stt;
            if (!p)
                return nomem(ld);
            lists_exist |= stat(p, &stt) == 0;
            free(p);
        }
    }
    if (mode == QR_AUDIO_SPLIT_AUTO)
        mode = ld->split_column ? QR_AUDIO_SPLIT_MANIFEST
               : lists_exist    ? QR_AUDIO_SPLIT_LISTS
                                : QR_AUDIO_SPLIT_FRACTIONS;
    if (mode == QR_AUDIO_SPLIT_MANIFEST && !ld->split_column)
        return qr_error_set(ld->err, QR_ERR_CONFIG, "%s: split \"manifest\" needs a manifest with "
                            "a third (split) column", ld->src);
    if (mode == QR_AUDIO_SPLIT_LISTS && (!o->root || !lists_exist))
        return qr_error_set(ld->err, QR_ERR_CONFIG, "%s: split \"lists\" needs "
                            "validation_list.txt or testing_list.txt in the root folder", ld->src);
    if (mode != QR_AUDIO_SPLIT_FRACTIONS && (o->val_split >= 0 || o->test_split >= 0))
        return qr_error_set(ld->err, QR_ERR_CONFIG,
                            "%s: validation_split/test_split given, but the split comes from %s",
                            ld->src,
                            mode == QR_AUDIO_SPLIT_MANIFEST
                                ? "the manifest's split column"
                                : "validation_list.txt/testing_list.txt");
    if (mode == QR_AUDIO_SPLIT_MANIFEST)
        return QR_OK; /* set while listing */
    if (mode == QR_AUDIO_SPLIT_FRACTIONS) {
        (void)from;
        return split_fractions(ld, o->val_split >= 0 ? o->val_split : DEFAULT_FRACTION,
                               o->test_split >= 0 ? o->test_split : DEFAULT_FRACTION);
    }
    afile **by = malloc((ld->n_files ? ld->n_files : 1) * sizeof *by);
    if (!by)
        return nomem(ld);
    for (size_t i = 0; i < ld->n_files; i++)
        by[i] = &ld->files[i];
    qsort(by, ld->n_files, sizeof *by, cmp_file_rel);
    int found;
    qr_status s = apply_list(ld, by, "validation_list.txt", SPLIT_VAL, &found);
    if (s == QR_OK)
        s = apply_list(ld, by, "testing_list.txt", SPLIT_TEST, &found);
    free(by);
    for (size_t i = 0; i < ld->n_files; i++)
        if (ld->files[i].split == SPLIT_NONE)
            ld->files[i].split = SPLIT_TRAIN;
    return s;
}

/* ---- pass 5: augmentation -------------------------------------------------------------- */

typedef struct noise_set {
    size_t n;
    float **x;      /* (n) clips at the target rate */
    size_t *len;
    qr_buf key;     /* entries of the augment key */
} noise_set;

static void noise_free(noise_set *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->x[i]);
    free(ns->x);
    free(ns->len);
    qr_buf_free(&ns->key);
    memset(ns, 0, sizeof *ns);
}

/* List and hash the noise files (decoding waits until the augment cache misses). */
static qr_status noise_list(loader *ld, noise_set *ns, char ***names, size_t *nn)
{
    const char *dir = ld->o->augment.noise_dir;
    qr_status s = list_dir(dir, 0, names, nn, NULL, ld->err);
    if (s != QR_OK)
        return s;
    if (*nn == 0)
        return qr_error_set(ld->err, QR_ERR_FORMAT, "%s: no noise files (.wav, .flac, .ogg)",
                            dir);
    key_printf(&ns->key, "noise %zu\n", *nn);
    for (size_t i = 0; i < *nn; i++) {
        char *p = path_join(dir, (*names)[i]);
        unsigned char *data = NULL;
        size_t len = 0;
        if (!p)
            return nomem(ld);
        s = qr_file_read_all(p, AUDIO_MAX_FILE_BYTES, &data, &len, ld->err);
        free(p);
        if (s != QR_OK)
            return s;
        key_printf(&ns->key, "%016llx %zu %zu:", (unsigned long long)qr_fnv1a64(data, len,
                   QR_FNV1A64_INIT), len, strlen((*names)[i]));
        qr_buf_put(&ns->key, (*names)[i], strlen((*names)[i]));
        qr_buf_put(&ns->key, "\n", 1);
        free(data);
    }
    return ns->key.nomem ? nomem(ld) : QR_OK;
}

static qr_status noise_decode(loader *ld, noise_set *ns, char **names, size_t nn)
{
    const char *dir = ld->o->augment.noise_dir;
    ns->x = calloc(nn, sizeof *ns->x);
    ns->len = calloc(nn, sizeof *ns->len);
    if (!ns->x || !ns->len)
        return nomem(ld);
    ns->n = nn;
    for (size_t i = 0; i < nn; i++) {
        char *p = path_join(dir, names[i]);
        if (!p)
            return nomem(ld);
        qr_status s = qr_audio_read(p, ld->o->sample_rate, ld->o->max_channels, ld->o->quality,
                                    &ns->x[i], &ns->len[i], ld->err);
        double pw = 0.0;
        for (size_t j = 0; s == QR_OK && j < ns->len[i]; j++)
            pw += (double)ns->x[i][j] * ns->x[i][j];
        if (s == QR_OK && pw == 0.0)
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s: the noise file is silent", p);
        free(p);
        if (s != QR_OK)
            return s;
    }
    return QR_OK;
}

static uint64_t mix64(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* One augmented copy of `clip` into `out` (both L), drawn from `r` (see audio.h). */
static void augment_clip(const qr_audio_options *o, const noise_set *ns, const float *clip,
                         float *out, size_t L, qr_rng *r)
{
    const qr_audio_augment *a = &o->augment;
    double u_shift = qr_rng_uniform_d(r), u_noise = qr_rng_uniform_d(r);
    double u_pick = qr_rng_uniform_d(r), u_off = qr_rng_uniform_d(r);
    double u_snr = qr_rng_uniform_d(r), u_gain = qr_rng_uniform_d(r);

    long S = (long)floor(a->time_shift * o->sample_rate);
    if ((size_t)S >= L)
        S = (long)L - 1;
    long sh = (long)floor(u_shift * (double)(2 * S + 1)) - S;
    if (sh > S)
        sh = S;
    for (size_t i = 0; i < L; i++) {
        long j = (long)i - sh;
        out[i] = j >= 0 && (size_t)j < L ? clip[j] : 0.0f;
    }
    if (ns->n && u_noise < a->noise_prob) {
        size_t k = (size_t)floor(u_pick * (double)ns->n);
        if (k >= ns->n)
            k = ns->n - 1;
        const float *nz = ns->x[k];
        size_t nl = ns->len[k], off = (size_t)floor(u_off * (double)nl);
        if (off >= nl)
            off = nl - 1;
        double ps = 0.0, pn = 0.0;
        for (size_t i = 0; i < L; i++) {
            double v = nz[(off + i) % nl];
            ps += (double)out[i] * out[i];
            pn += v * v;
        }
        ps /= (double)L;
        pn /= (double)L;
        if (ps < 1e-6)
            ps = 1e-6;
        double snr = a->snr_min + u_snr * (a->snr_max - a->snr_min);
        if (pn > 0.0) {
            double g = sqrt(ps / (pn * pow(10.0, snr / 10.0)));
            for (size_t i = 0; i < L; i++)
                out[i] = (float)((double)out[i] + g * nz[(off + i) % nl]);
        }
    }
    double gain = pow(10.0, (a->gain_min + u_gain * (a->gain_max - a->gain_min)) / 20.0);
    for (size_t i = 0; i < L; i++)
        out[i] = (float)((double)out[i] * gain);
}

/* The random stream of copy `k` of a file: from the seed, the file's name and k only. */
static void copy_rng(qr_rng *r, uint64_t seed, const char *rel, size_t k)
{
    uint64_t h = qr_fnv1a64(rel, strlen(rel), QR_FNV1A64_INIT);
    qr_rng_seed(r, mix64(mix64(seed ^ UINT64_C(0x6175676d656e7421)) ^ h) ^ (uint64_t)k);
}

/* Augmented rows (copies · n_train, T·C): copy 1 of each training file, copy 2, ... */
static qr_status augment_all(loader *ld, const cache_dirs *cd, const size_t *train,
                             size_t n_train, float **out)
{
    const qr_audio_options *o = ld->o;
    const qr_audio_augment *a = &o->augment;
    size_t K = a->copies, rows = K * n_train, row = ld->T * ld->C;
    *out = NULL;
    if (rows && row && rows > SIZE_MAX / sizeof(float) / row)
        return nomem(ld);
    noise_set ns = {0};
    char **names = NULL;
    size_t nn = 0;
    qr_buf key = {0};
    unsigned char *status = calloc(rows ? rows : 1, 1);
    float *x = calloc(rows && row ? rows * row : 1, sizeof *x);
    qr_status s = status && x ? QR_OK : nomem(ld);
    if (s == QR_OK && a->noise_dir && a->noise_prob > 0.0)
        s = noise_list(ld, &ns, &names, &nn);
    if (s == QR_OK) {
        key_printf(&key, "qreg audio augment %d\n", AUDIO_FEATURES_VERSION);
        qr_buf_put(&key, ld->key.data, ld->key.len);
        key_printf(&key, "copies %zu shift %.17g noise_prob %.17g snr %.17g %.17g gain %.17g "
                   "%.17g seed %llu\n", K, a->time_shift, nn ? a->noise_prob : 0.0, a->snr_min,
                   a->snr_max, a->gain_min, a->gain_max, (unsigned long long)o->seed);
        key_printf(&key, "train %zu\n", n_train);
        for (size_t j = 0; j < n_train; j++)
            key_printf(&key, "%zu\n", train[j]);
        qr_buf_put(&key, ns.key.data ? (const char *)ns.key.data : "", ns.key.len);
        if (key.nomem)
            s = nomem(ld);
    }
    qr_audio_cache_state cs = QR_AUDIO_CACHE_OFF;
    char used[sizeof ld->st.cache_path];
    if (s == QR_OK && o->cache)
        cs = cache_lookup(ld, cd, QR_FCACHE_KIND_AUGMENT, &key, rows, status, x, used,
                          sizeof used);
    if (s == QR_OK && cs != QR_AUDIO_CACHE_HIT) {
        if (nn)
            s = noise_decode(ld, &ns, names, nn);
        for (size_t j = 0; j < n_train && s == QR_OK; j++) {
            size_t i = train[j];
            if ((s = clip_of(ld, i)) != QR_OK)
                break;
            for (size_t k = 0; k < K && s == QR_OK; k++) {
                qr_rng r;
                copy_rng(&r, o->seed, ld->files[i].rel, k + 1);
                augment_clip(o, &ns, ld->clip, ld->work, ld->L, &r);
                s = features_of(ld, ld->work, x + (k * n_train + j) * row);
            }
        }
        if (s == QR_OK && o->cache)
            cache_store(ld, cd, QR_FCACHE_KIND_AUGMENT, &key, rows, status, x, used, sizeof used);
    }
    ld->st.cache_augment = cs;
    free_strs(names, nn);
    noise_free(&ns);
    qr_buf_free(&key);
    free(status);
    if (s != QR_OK) {
        free(x);
        return s;
    }
    ld->st.augmented = rows;
    *out = x;
    return QR_OK;
}

/* ---- output ---------------------------------------------------------------------------- */

/* The usable files of one split in file order, then n_aug augmented rows made from the files
 * aug_src[0..n_aug). source_row is the file's index in the listing. */
static qr_status make_split(loader *ld, int split, const float *aug, size_t n_aug,
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
        return nomem(ld);
    }
    for (size_t c = 0; c < ld->n_classes; c++)
        if (!(d.class_names[c] = dup_str(ld->classes[c]))) {
            qr_dataset_free(&d);
            return nomem(ld);
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

static void loader_free(loader *ld)
{
    for (size_t i = 0; i < ld->n_files; i++) {
        free(ld->files[i].path);
        free(ld->files[i].rel);
    }
    free(ld->files);
    free_strs(ld->classes, ld->n_classes);
    free(ld->base);
    qr_mfcc_free(ld->mfcc);
    free(ld->clip);
    free(ld->work);
    qr_buf_free(&ld->key);
    free(ld->status);
    free(ld->x);
}

static qr_status load(loader *ld, qr_dataset *train, qr_dataset *val, qr_dataset *test)
{
    const qr_audio_options *o = ld->o;
    qr_status s = qr_audio_options_check(o, ld->err);
    if (s != QR_OK)
        return s;
    ld->src = o->root ? o->root : o->manifest;
    if (o->root) {
        ld->base = dup_str(o->root);
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
    if (!ld->base)
        return nomem(ld);
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
        return nomem(ld);

    s = o->root ? list_folders(ld) : list_manifest(ld);
    if (s == QR_OK)
        s = hash_files(ld);
    cache_dirs cd = {0};
    if (s == QR_OK)
        s = cache_dirs_get(ld, &cd);
    if (s == QR_OK)
        s = base_features(ld, &cd);
    if (s == QR_OK)
        s = prune_classes(ld);
    if (s == QR_OK)
        s = assign_splits(ld);
    size_t n_train = 0, *train_idx = NULL, *aug_src = NULL;
    float *aug = NULL;
    if (s == QR_OK) {
        train_idx = malloc((ld->n_files ? ld->n_files : 1) * sizeof *train_idx);
        if (!train_idx)
            s = nomem(ld);
        for (size_t i = 0; s == QR_OK && i < ld->n_files; i++)
            if (ld->files[i].ok && ld->files[i].split == SPLIT_TRAIN)
                train_idx[n_train++] = i;
    }
    size_t n_aug = 0;
    if (s == QR_OK && o->augment.copies > 0 && n_train > 0) {
        s = augment_all(ld, &cd, train_idx, n_train, &aug);
        n_aug = o->augment.copies * n_train;
        if (s == QR_OK && !(aug_src = malloc(n_aug * sizeof *aug_src)))
            s = nomem(ld);
        for (size_t j = 0; s == QR_OK && j < n_aug; j++)
            aug_src[j] = train_idx[j % n_train];
    }
    cache_dirs_free(&cd);
    if (s == QR_OK)
        s = make_split(ld, SPLIT_TRAIN, aug, n_aug, aug_src, train);
    if (s == QR_OK)
        s = make_split(ld, SPLIT_VAL, NULL, 0, NULL, val);
    if (s == QR_OK)
        s = make_split(ld, SPLIT_TEST, NULL, 0, NULL, test);
    free(train_idx);
    free(aug_src);
    free(aug);
    if (s == QR_OK) {
        ld->st.files = ld->n_files;
        for (size_t i = 0; i < ld->n_files; i++)
            ld->st.loaded += ld->files[i].ok;
        if (ld->st.skipped)
            warn(ld, "%s: skipped %zu of %zu audio files (on_error: skip)", ld->src,
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
    loader ld;
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
