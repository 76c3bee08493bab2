/* Pass 5 of the audio loader: augmented copies of the training clips (speed, tempo, pitch,
 * reverberation, shift, noise, gain, band-limiting), and the band-pass filter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/audio_impl.h"
#include "lib/fileio.h"
#include "qreg/rng.h"

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
static qr_status noise_list(qr_audio_loader *ld, noise_set *ns, char ***names, size_t *nn)
{
    const char *dir = ld->o->augment.noise_dir;
    qr_status s = qr_audio_list_dir(dir, 0, names, nn, NULL, ld->err);
    if (s != QR_OK)
        return s;
    if (*nn == 0)
        return qr_error_set(ld->err, QR_ERR_FORMAT, "%s: no noise files (.wav, .flac, .ogg)",
                            dir);
    qr_audio_key_printf(&ns->key, "noise %zu\n", *nn);
    for (size_t i = 0; i < *nn; i++) {
        char *p = qr_audio_path_join(dir, (*names)[i]);
        unsigned char *data = NULL;
        size_t len = 0;
        if (!p)
            return qr_audio_nomem(ld);
        s = qr_file_read_all(p, QR_AUDIO_MAX_FILE_BYTES, &data, &len, ld->err);
        free(p);
        if (s != QR_OK)
            return s;
        qr_audio_key_printf(&ns->key, "%016llx %zu %zu:", (unsigned long long)qr_fnv1a64(data, len,
                   QR_FNV1A64_INIT), len, strlen((*names)[i]));
        qr_buf_put(&ns->key, (*names)[i], strlen((*names)[i]));
        qr_buf_put(&ns->key, "\n", 1);
        free(data);
    }
    return ns->key.nomem ? qr_audio_nomem(ld) : QR_OK;
}

static qr_status noise_decode(qr_audio_loader *ld, noise_set *ns, char **names, size_t nn)
{
    const char *dir = ld->o->augment.noise_dir;
    ns->x = calloc(nn, sizeof *ns->x);
    ns->len = calloc(nn, sizeof *ns->len);
    if (!ns->x || !ns->len)
        return qr_audio_nomem(ld);
    ns->n = nn;
    for (size_t i = 0; i < nn; i++) {
        char *p = qr_audio_path_join(dir, names[i]);
        if (!p)
            return qr_audio_nomem(ld);
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

/* ---- band-pass ------------------------------------------------------------------------- */

typedef struct biquad {
    double b0, b1, b2, a1, a2; /* normalized by a0 */
    double x1, x2, y1, y2;     /* direct form I state */
} biquad;

/* RBJ cookbook low-pass (hp = 0) or high-pass (hp = 1) at f0 with quality Q. */
static void biquad_init(biquad *q, double fs, double f0, double Q, int hp)
{
    const double pi = 3.14159265358979323846;
    double w0 = 2.0 * pi * f0 / fs, c = cos(w0);
    double alpha = sin(w0) / (2.0 * Q);
    double a0 = 1.0 + alpha;
    double b = hp ? (1.0 + c) / 2.0 : (1.0 - c) / 2.0;
    q->b0 = b / a0;
    q->b1 = (hp ? -2.0 * b : 2.0 * b) / a0;
    q->b2 = b / a0;
    q->a1 = -2.0 * c / a0;
    q->a2 = (1.0 - alpha) / a0;
    q->x1 = q->x2 = q->y1 = q->y2 = 0.0;
}

static double biquad_step(biquad *q, double x)
{
    double y = q->b0 * x + q->b1 * q->x1 + q->b2 * q->x2 - q->a1 * q->y1 - q->a2 * q->y2;
    q->x2 = q->x1;
    q->x1 = x;
    q->y2 = q->y1;
    q->y1 = y;
    return y;
}

QR_API qr_status qr_audio_bandpass_order(float *x, size_t n, double sample_rate, double low_hz,
                                         double high_hz, int order)
{
    if (!(sample_rate > 0.0 && low_hz > 0.0 && low_hz < high_hz &&
          high_hz < sample_rate / 2.0) || (n && !x) || order < 2 || order > 8 || order % 2)
        return QR_ERR_ARG;
    /* a Butterworth of order N as N/2 biquads with Q_k = 1 / (2·cos((2k − 1)·π / (2N))) */
    const double pi = 3.14159265358979323846;
    biquad hp[4], lp[4];
    int m = order / 2;
    for (int k = 0; k < m; k++) {
        /* order 2: the expression of the first version, so its copies keep their bits */
        double Q = order == 2 ? 1.0 / sqrt(2.0)
                              : 1.0 / (2.0 * cos((2.0 * k + 1.0) * pi / (2.0 * order)));
        biquad_init(&hp[k], sample_rate, low_hz, Q, 1);
        biquad_init(&lp[k], sample_rate, high_hz, Q, 0);
    }
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i];
        for (int k = 0; k < m; k++)
            v = biquad_step(&hp[k], v);
        for (int k = 0; k < m; k++)
            v = biquad_step(&lp[k], v);
        x[i] = (float)v;
    }
    return QR_OK;
}

QR_API qr_status qr_audio_bandpass(float *x, size_t n, double sample_rate, double low_hz,
                                   double high_hz)
{
    return qr_audio_bandpass_order(x, n, sample_rate, low_hz, high_hz, 2);
}

/* ---- copies ---------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double lerp(double lo, double hi, double u)
{
    return lo + u * (hi - lo);
}

/* The scratch buffer that is not `cur` (the latest result, or NULL: still the clip). */
static float *other_buf(float *buf[2], const float *cur)
{
    return cur == buf[0] ? buf[1] : buf[0];
}

/* The voice steps (speed, tempo, pitch, reverb) on `clip`, each writing into the buffer the
 * step before did not; *res is clip itself when none applies. u: the nine values drawn for
 * them. */
static qr_status voice_steps(const qr_audio_options *o, const float *clip, float *buf[2],
                             size_t L, const double *u, uint64_t ir_seed, const float **res)
{
    const qr_audio_augment *a = &o->augment;
    float *cur = NULL, *y;
    qr_status s = QR_OK;
    if (u[0] < a->speed_prob) {
        y = other_buf(buf, cur);
        s = qr_audio_speed(cur ? cur : clip, y, L, lerp(a->speed_min, a->speed_max, u[1]),
                           o->quality, o->crop);
        cur = y;
    }
    if (s == QR_OK && u[2] < a->tempo_prob) {
        y = other_buf(buf, cur);
        s = qr_audio_tempo(cur ? cur : clip, y, L, o->sample_rate,
                           lerp(a->tempo_min, a->tempo_max, u[3]), o->crop);
        cur = y;
    }
    if (s == QR_OK && u[4] < a->pitch_prob) {
        y = other_buf(buf, cur);
        s = qr_audio_pitch(cur ? cur : clip, y, L, o->sample_rate,
                           lerp(a->pitch_min, a->pitch_max, u[5]), o->quality, o->crop);
        cur = y;
    }
    if (s == QR_OK && u[6] < a->reverb_prob) {
        if (!cur)
            cur = memcpy(buf[0], clip, L * sizeof *clip);
        s = qr_audio_reverb(cur, L, o->sample_rate, lerp(a->rt60_min, a->rt60_max, u[7]),
                            lerp(a->drr_min, a->drr_max, u[8]), ir_seed);
    }
    *res = cur ? cur : clip;
    return s;
}

/* One augmented copy of `clip` into `out` (both L), drawn from `r` (see audio.h); buf: two
 * scratch clips (L). */
static qr_status augment_clip(const qr_audio_options *o, const noise_set *ns, const float *clip,
                              float *out, size_t L, float *buf[2], qr_rng *r)
{
    const qr_audio_augment *a = &o->augment;
    double u_shift = qr_rng_uniform_d(r), u_noise = qr_rng_uniform_d(r);
    double u_pick = qr_rng_uniform_d(r), u_off = qr_rng_uniform_d(r);
    double u_snr = qr_rng_uniform_d(r), u_gain = qr_rng_uniform_d(r);
    /* drawn after the others, so copies without band-limiting are what they were before */
    double u_band = qr_rng_uniform_d(r), u_low = qr_rng_uniform_d(r);
    double u_high = qr_rng_uniform_d(r);
    /* and so on for the voice steps: speed (whether, factor), tempo (2), pitch (2),
     * reverb (whether, rt60, drr), then the impulse response's seed */
    double u_voice[9];
    for (size_t i = 0; i < 9; i++)
        u_voice[i] = qr_rng_uniform_d(r);
    uint64_t ir_seed = qr_rng_u64(r);
    qr_status s = voice_steps(o, clip, buf, L, u_voice, ir_seed, &clip);
    if (s != QR_OK)
        return s;

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
    if (u_band < a->band_prob) {
        double lo = a->band_low_min + u_low * (a->band_low_max - a->band_low_min);
        double hi = a->band_high_min + u_high * (a->band_high_max - a->band_high_min);
        /* checked with the options */
        (void)qr_audio_bandpass_order(out, L, o->sample_rate, lo, hi, a->band_order);
    }
    return QR_OK;
}

/* The random stream of copy `k` of a file: from the seed, the file's name and k only. */
static void copy_rng(qr_rng *r, uint64_t seed, const char *rel, size_t k)
{
    uint64_t h = qr_fnv1a64(rel, strlen(rel), QR_FNV1A64_INIT);
    qr_rng_seed(r, mix64(mix64(seed ^ UINT64_C(0x6175676d656e7421)) ^ h) ^ (uint64_t)k);
}

/* Augmented rows (copies · n_train, T·C): copy 1 of each training file, copy 2, ... */
qr_status qr_audio_augment_all(qr_audio_loader *ld, const qr_audio_cache_dirs *cd,
                               const size_t *train, size_t n_train, float **out)
{
    const qr_audio_options *o = ld->o;
    const qr_audio_augment *a = &o->augment;
    size_t K = a->copies, rows = K * n_train, row = ld->T * ld->C;
    *out = NULL;
    if (rows && row && rows > SIZE_MAX / sizeof(float) / row)
        return qr_audio_nomem(ld);
    noise_set ns = {0};
    char **names = NULL;
    size_t nn = 0;
    qr_buf key = {0};
    unsigned char *status = calloc(rows ? rows : 1, 1);
    float *x = calloc(rows && row ? rows * row : 1, sizeof *x);
    float *buf[2] = {malloc(ld->L * sizeof(float)), malloc(ld->L * sizeof(float))};
    qr_status s = status && x && buf[0] && buf[1] ? QR_OK : qr_audio_nomem(ld);
    if (s == QR_OK && a->noise_dir && a->noise_prob > 0.0)
        s = noise_list(ld, &ns, &names, &nn);
    if (s == QR_OK) {
        qr_audio_key_printf(&key, "qreg audio augment %d\n", QR_AUDIO_FEATURES_VERSION);
        qr_buf_put(&key, ld->key.data, ld->key.len);
        qr_audio_key_printf(&key, "copies %zu shift %.17g noise_prob %.17g snr %.17g %.17g gain "
                            "%.17g %.17g seed %llu\n", K, a->time_shift,
                            nn ? a->noise_prob : 0.0, a->snr_min,
                            a->snr_max, a->gain_min, a->gain_max, (unsigned long long)o->seed);
        if (a->band_prob > 0.0) /* absent when off: caches from before band-limiting stay valid */
            qr_audio_key_printf(&key, "bandlimit %.17g low %.17g %.17g high %.17g %.17g\n",
                                a->band_prob, a->band_low_min, a->band_low_max,
                                a->band_high_min, a->band_high_max);
        if (a->band_prob > 0.0 && a->band_order != 2) /* absent at 2, the order before it */
            qr_audio_key_printf(&key, "bandlimit order %d\n", a->band_order);
        /* likewise for the voice steps (the crop rule and resampler are in the base key);
         * "v1": bump when audio_stretch.c or audio_reverb.c change their numerics */
        if (a->speed_prob > 0.0)
            qr_audio_key_printf(&key, "speed v1 %.17g %.17g %.17g\n", a->speed_prob,
                                a->speed_min, a->speed_max);
        if (a->tempo_prob > 0.0)
            qr_audio_key_printf(&key, "tempo v1 %.17g %.17g %.17g\n", a->tempo_prob,
                                a->tempo_min, a->tempo_max);
        if (a->pitch_prob > 0.0)
            qr_audio_key_printf(&key, "pitch v1 %.17g %.17g %.17g\n", a->pitch_prob,
                                a->pitch_min, a->pitch_max);
        if (a->reverb_prob > 0.0)
            qr_audio_key_printf(&key, "reverb v1 %.17g rt60 %.17g %.17g drr %.17g %.17g\n",
                                a->reverb_prob, a->rt60_min, a->rt60_max, a->drr_min,
                                a->drr_max);
        qr_audio_key_printf(&key, "train %zu\n", n_train);
        for (size_t j = 0; j < n_train; j++)
            qr_audio_key_printf(&key, "%zu\n", train[j]);
        qr_buf_put(&key, ns.key.data ? (const char *)ns.key.data : "", ns.key.len);
        if (key.nomem)
            s = qr_audio_nomem(ld);
    }
    qr_audio_cache_state cs = QR_AUDIO_CACHE_OFF;
    char used[sizeof ld->st.cache_path];
    if (s == QR_OK && o->cache)
        cs = qr_audio_cache_lookup(ld, cd, QR_FCACHE_KIND_AUGMENT, &key, rows, status, x, used,
                                   sizeof used);
    if (s == QR_OK && cs != QR_AUDIO_CACHE_HIT) {
        if (nn)
            s = noise_decode(ld, &ns, names, nn);
        for (size_t j = 0; j < n_train && s == QR_OK; j++) {
            size_t i = train[j];
            if ((s = qr_audio_clip_of(ld, i)) != QR_OK)
                break;
            for (size_t k = 0; k < K && s == QR_OK; k++) {
                qr_rng r;
                copy_rng(&r, o->seed, ld->files[i].rel, k + 1);
                s = augment_clip(o, &ns, ld->clip, ld->work, ld->L, buf, &r);
                if (s != QR_OK) {
                    s = qr_error_set(ld->err, s, "%s: augmenting copy %zu failed (%s)",
                                     ld->files[i].path, k + 1, qr_strerror(s));
                    break;
                }
                s = qr_audio_features_of(ld, ld->work, x + (k * n_train + j) * row);
            }
        }
        if (s == QR_OK && o->cache)
            qr_audio_cache_store(ld, cd, QR_FCACHE_KIND_AUGMENT, &key, rows, status, x, used,
                                 sizeof used);
    }
    ld->st.cache_augment = cs;
    qr_audio_free_strs(names, nn);
    noise_free(&ns);
    qr_buf_free(&key);
    free(buf[0]);
    free(buf[1]);
    free(status);
    if (s != QR_OK) {
        free(x);
        return s;
    }
    ld->st.augmented = rows;
    *out = x;
    return QR_OK;
}
