/* Reading clips: libsndfile from memory, the mono mix, libsamplerate; qr_audio_read/_fit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <samplerate.h>
#include <sndfile.h>

#include "datasets/audio_impl.h"
#include "lib/fileio.h"
#include "qreg/audio.h"

/* Decoded files longer than this are refused (frames: 2^27, 46 min at 48 kHz, a 512 MiB
 * mono buffer). The header's frame count is a claim: a 58-byte FLAC header can claim
 * gigabytes, so buffers grow with what actually decodes, in chunks of AUDIO_CHUNK frames. */
#define AUDIO_MAX_FRAMES ((sf_count_t)1 << 27)
#define AUDIO_CHUNK ((size_t)1 << 16)

/* ---- decoding from memory -------------------------------------------------------------- */

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
    size_t frames = (size_t)info.frames, ch = (size_t)info.channels, done = 0, cap = 0;
    buf = malloc(AUDIO_CHUNK * ch * sizeof *buf);
    if (!buf) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", name);
        goto out;
    }
    while (done < frames) {
        size_t want = frames - done < AUDIO_CHUNK ? frames - done : AUDIO_CHUNK;
        sf_count_t got = sf_readf_float(sf, buf, (sf_count_t)want);
        if (got != (sf_count_t)want || sf_error(sf) != SF_ERR_NO_ERROR) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: corrupt or truncated audio: decoded %lld "
                             "of %lld frames (%s)", name,
                             (long long)done + (got > 0 ? (long long)got : 0),
                             (long long)info.frames, sf_strerror(sf));
            goto out;
        }
        if (done + want > cap) { /* grows with what decodes, never past the header's count */
            size_t nc = cap ? cap * 2 : AUDIO_CHUNK;
            nc = nc < done + want ? done + want : nc > frames ? frames : nc;
            float *m2 = realloc(mono, nc * sizeof *m2);
            if (!m2) {
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", name);
                goto out;
            }
            mono = m2;
            cap = nc;
        }
        for (size_t j = 0; j < want; j++) {
            size_t i = done + j;
            double sum = 0.0;
            for (size_t c = 0; c < ch; c++)
                sum += (double)buf[j * ch + c];
            if (!isfinite(sum)) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: frame %zu holds a non-finite sample",
                                 name, i);
                goto out;
            }
            /* float files may clip a little past ±1, but a sample of 6e37 is not audio: its
             * spectrum overflows single precision and the features turn to garbage silently */
            if (fabs(sum / (double)ch) > QR_AUDIO_MAX_SAMPLE) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: frame %zu holds the sample %g, out of "
                                 "range (audio samples belong in [-1, 1]; beyond ±%g is not "
                                 "audio)", name, i, sum / (double)ch, QR_AUDIO_MAX_SAMPLE);
                goto out;
            }
            mono[i] = (float)(sum / (double)ch);
        }
        done += want;
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
qr_status qr_audio_read_mem(const char *name, const unsigned char *data, size_t len, double rate,
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
    qr_status s = qr_file_read_all(path, QR_AUDIO_MAX_FILE_BYTES, &data, &len, err);
    if (s == QR_OK)
        s = qr_audio_read_mem(path, data, len, sample_rate, max_channels, quality, samples, n, err);
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

QR_API qr_status qr_audio_file_rate(const char *path, double *rate, qr_error *err)
{
    if (rate)
        *rate = 0.0;
    if (!path || !rate)
        return qr_error_set(err, QR_ERR_ARG, "qr_audio_file_rate: NULL argument");
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: not readable as audio: %s", path,
                            sf_strerror(NULL));
    sf_close(sf);
    if (info.samplerate < 1)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: invalid sample rate %d", path,
                            info.samplerate);
    *rate = (double)info.samplerate;
    return QR_OK;
}
