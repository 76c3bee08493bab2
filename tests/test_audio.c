/* Audio datasets: reading and resampling, fitting to a duration, MFCC (properties and the
 * NumPy reference tests/mfcc_reference.py on generated WAV files), the folder, list and
 * manifest loaders, every bad-input case and the training config's audio keys. The feature
 * cache is tested in test_audio_cache.c, augmentation in test_audio_augment.c.
 * Every file is written by the test itself into a fresh temporary directory. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <check.h>
#include <sndfile.h>

#include "datasets/audio_impl.h"
#include "lib/crc32.h"
#include "qreg/audio.h"
#include "qreg/rng.h"
#include "qreg/train.h"
#include "testlib.h"
#include "testlib_audio.h"

/* ---- reading, resampling, fitting ------------------------------------------------------- */

/* Amplitude and phase of frequency f in x (least squares over whole periods). */
static double tone_amplitude(const float *x, size_t n, double rate, double f)
{
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        a += (double)x[i] * cos(2 * TA_PI * f * (double)i / rate);
        b += (double)x[i] * sin(2 * TA_PI * f * (double)i / rate);
    }
    return 2.0 * sqrt(a * a + b * b) / (double)n;
}

/* Frequency from the positive-going zero crossings of x (linear interpolation). */
static double zero_cross_freq(const float *x, size_t n, double rate)
{
    double first = -1, last = -1;
    size_t count = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i - 1] < 0 && x[i] >= 0) {
            double t = (double)(i - 1) + (double)x[i - 1] / (double)(x[i - 1] - x[i]);
            if (first < 0)
                first = t;
            last = t;
            count++;
        }
    ck_assert_uint_gt(count, 2);
    return (double)(count - 1) * rate / (last - first);
}

START_TEST(test_resample_sine)
{
    char *dir = tl_tmpdir();
    size_t n = 44100;
    float *x = ta_alloc_f(n);
    ta_fill_sine(x, n, 44100.0, 1000.0, 0.5);
    char *p = ta_join(dir, "sine44k.wav");
    ta_write_wav16(p, 44100, x, n);
    static const qr_audio_quality qs[] = {QR_AUDIO_QUALITY_MEDIUM, QR_AUDIO_QUALITY_BEST};
    for (int q = 0; q < 2; q++) {
        float *y = NULL;
        size_t m = 0;
        qr_error err = {{0}};
        ck_assert_msg(qr_audio_read(p, 16000, 1, qs[q], &y, &m, &err) == QR_OK, "%s", err.msg);
        /* 1 s stays 1 s */
        ck_assert_msg(m >= 15999 && m <= 16001, "%zu samples", m);
        /* the middle 0.5 s (500 whole periods): away from the filter's edge effects */
        const float *mid = y + 4000;
        double amp = tone_amplitude(mid, 8000, 16000.0, 1000.0);
        double f = zero_cross_freq(mid, 8000, 16000.0);
        ck_assert_msg(fabs(amp - 0.5) < 0.5 * 0.002, "amplitude %.6f, want 0.5 +- 0.2 %%", amp);
        ck_assert_msg(fabs(f - 1000.0) < 0.05, "frequency %.5f Hz, want 1000 +- 0.05", f);
        free(y);
    }
    free(p);

    /* 10 kHz is above the new Nyquist frequency (8 kHz): a real resampler removes it */
    ta_fill_sine(x, n, 44100.0, 10000.0, 0.5);
    p = ta_join(dir, "alias.wav");
    ta_write_wav16(p, 44100, x, n);
    float *y = NULL;
    size_t m = 0;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_audio_read(p, 16000, 1, QR_AUDIO_QUALITY_MEDIUM, &y, &m, &err), QR_OK);
    double e = 0;
    for (size_t i = 2000; i < m - 2000; i++)
        e += (double)y[i] * y[i];
    double rms = sqrt(e / (double)(m - 4000));
    ck_assert_msg(rms < 1e-3, "10 kHz leaks through as %g RMS (aliasing)", rms);
    free(y);
    free(p);

    /* the same rate is a bit-exact copy */
    ta_fill_sine(x, 16000, 16000.0, 440.0, 0.3);
    p = ta_join(dir, "same.wav");
    ta_write_wav16(p, 16000, x, 16000);
    ck_assert_int_eq(qr_audio_read(p, 16000, 1, QR_AUDIO_QUALITY_MEDIUM, &y, &m, &err), QR_OK);
    ck_assert_uint_eq(m, 16000);
    for (size_t i = 0; i < m; i++)
        ck_assert_msg(y[i] == (float)round((double)x[i] * 32767.0) / 32768.0f,
                      "sample %zu: %.9g", i, (double)y[i]);
    free(y);
    free(p);
    free(x);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_read_formats_and_mono_mix)
{
    char *dir = tl_tmpdir();
    size_t n = 8000;
    float *st = ta_alloc_f(2 * n);
    for (size_t i = 0; i < n; i++) {
        st[2 * i] = 0.5f;
        st[2 * i + 1] = -0.25f;
    }
    char *p = ta_join(dir, "stereo.flac");
    ta_write_audio(p, 16000, 2, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, st, n);
    float *y = NULL;
    size_t m = 0;
    qr_error err = {{0}};
    ck_assert_msg(qr_audio_read(p, 16000, 2, QR_AUDIO_QUALITY_MEDIUM, &y, &m, &err) == QR_OK, "%s",
                  err.msg);
    ck_assert_uint_eq(m, n);
    /* (round(0.5·32767) + round(−0.25·32767)) / 2 / 32768 */
    float want = (float)((16384.0 - 8192.0) / 2.0 / 32768.0);
    for (size_t i = 0; i < m; i++)
        ck_assert_msg(fabsf(y[i] - want) < 1e-6f, "y[%zu] = %g, want %g", i, (double)y[i],
                      (double)want);
    free(y);
    /* too many channels for max_channels = 1 */
    ck_assert_int_eq(qr_audio_read(p, 16000, 1, QR_AUDIO_QUALITY_MEDIUM, &y, &m, &err),
                     QR_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "stereo.flac: 2 channels, more than max_channels = 1"));
    ck_assert_ptr_null(y);
    free(p);

    /* a streamed WAV (data size left at the placeholder 0x7FFFF000, as espeak-ng --stdout
     * writes) is not truncated: every frame is read */
    float *x = ta_alloc_f(16000);
    ta_fill_sine(x, 1600, 16000.0, 500.0, 0.5);
    p = ta_join(dir, "streamed.wav");
    ta_write_wav16(p, 16000, x, 1600);
    size_t len = 0;
    unsigned char *b = ta_read_bytes(p, &len);
    ck_assert_mem_eq(b + 36, "data", 4);
    b[40] = 0x00, b[41] = 0xf0, b[42] = 0xff, b[43] = 0x7f;
    ta_write_bytes(p, b, len);
    free(b);
    ck_assert_msg(qr_audio_read(p, 16000, 1, QR_AUDIO_QUALITY_MEDIUM, &y, &m, &err) == QR_OK, "%s",
                  err.msg);
    ck_assert_uint_eq(m, 1600);
    free(y);
    free(p);

    /* Ogg Vorbis, lossy: the tone survives */
    ta_fill_sine(x, 16000, 16000.0, 500.0, 0.5);
    p = ta_join(dir, "tone.ogg");
    ta_write_audio(p, 16000, 1, SF_FORMAT_OGG | SF_FORMAT_VORBIS, x, 16000);
    ck_assert_msg(qr_audio_read(p, 16000, 1, QR_AUDIO_QUALITY_MEDIUM, &y, &m, &err) == QR_OK, "%s",
                  err.msg);
    ck_assert_uint_eq(m, 16000);
    double amp = tone_amplitude(y + 4000, 8000, 16000.0, 500.0);
    ck_assert_msg(fabs(amp - 0.5) < 0.02, "ogg amplitude %g", amp);
    free(y);
    free(p);
    free(x);
    free(st);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_fit_crop_pad)
{
    const float x[] = {1, 2, 3, 4, 5, 6, 7};
    float out[10];
    /* crop 7 -> 4: centre drops 1 at the start and 2 at the end (the odd one at the end) */
    qr_audio_fit(x, 7, out, 4, QR_AUDIO_CROP_CENTRE);
    const float c1[] = {2, 3, 4, 5};
    ck_assert(memcmp(out, c1, sizeof c1) == 0);
    qr_audio_fit(x, 7, out, 4, QR_AUDIO_CROP_START);
    const float c2[] = {1, 2, 3, 4};
    ck_assert(memcmp(out, c2, sizeof c2) == 0);
    /* pad 3 -> 6: centre puts 1 zero before and 2 after */
    qr_audio_fit(x, 3, out, 6, QR_AUDIO_CROP_CENTRE);
    const float p1[] = {0, 1, 2, 3, 0, 0};
    ck_assert(memcmp(out, p1, sizeof p1) == 0);
    qr_audio_fit(x, 3, out, 6, QR_AUDIO_CROP_START);
    const float p2[] = {1, 2, 3, 0, 0, 0};
    ck_assert(memcmp(out, p2, sizeof p2) == 0);
    qr_audio_fit(x, 7, out, 7, QR_AUDIO_CROP_CENTRE);
    ck_assert(memcmp(out, x, sizeof x) == 0);
}
END_TEST

/* ---- MFCC ------------------------------------------------------------------------------- */

START_TEST(test_mfcc_default_shape)
{
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    qr_mfcc *m = NULL;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    ck_assert_uint_eq(qr_mfcc_frames(m, 16000), 94);
    ck_assert_uint_eq(qr_mfcc_get_config(m)->n_mfcc, 13);
    ck_assert(qr_mfcc_get_config(m)->f_max == 8000.0);
    ck_assert_uint_eq(qr_mfcc_frames(m, 1024), 1);
    ck_assert_uint_eq(qr_mfcc_frames(m, 1023), 0);
    float x[1023] = {0}, out[13];
    ck_assert_int_eq(qr_mfcc_compute(m, x, 1023, out), QR_ERR_SHAPE);
    qr_mfcc_free(m);
    /* centring pads W/2 on both sides: 1 + 16000 / 160 frames */
    c.center = 1;
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    ck_assert_uint_eq(qr_mfcc_frames(m, 16000), 101);
    qr_mfcc_free(m);
}
END_TEST

static void expect_mfcc_config_error(qr_mfcc_config c, const char *what)
{
    qr_mfcc *m = (qr_mfcc *)&c; /* garbage: must be set to NULL */
    qr_error err = {{0}};
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_ERR_CONFIG);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, what) != NULL, "message \"%s\" lacks \"%s\"", err.msg, what);
}

START_TEST(test_mfcc_config_errors)
{
    qr_mfcc_config d, c;
    qr_mfcc_config_default(&d);
    c = d, c.n_mfcc = 41;
    expect_mfcc_config_error(c, "n_mfcc = 41");
    c = d, c.win_length = 2048;
    expect_mfcc_config_error(c, "win_length = 2048");
    c = d, c.f_max = 9000;
    expect_mfcc_config_error(c, "f_max = 9000");
    c = d, c.f_min = 8000;
    expect_mfcc_config_error(c, "f_min = 8000");
    c = d, c.hop_length = 0;
    expect_mfcc_config_error(c, "hop_length = 0");
    c = d, c.preemphasis = 1.0;
    expect_mfcc_config_error(c, "preemphasis = 1");
    c = d, c.log_floor = 0;
    expect_mfcc_config_error(c, "log_floor = 0");
    c = d, c.sample_rate = 500;
    expect_mfcc_config_error(c, "sample_rate = 500");
    /* 128 bands on a 64-point FFT: the lowest bands fall between bins */
    c = d, c.n_fft = 64, c.win_length = 64, c.n_mels = 128;
    expect_mfcc_config_error(c, "contains no FFT bin");
}
END_TEST

START_TEST(test_mfcc_properties)
{
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    c.preemphasis = 0;
    qr_mfcc *m = NULL;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    size_t T = 94, M = 40, C = 13;
    float *x = ta_alloc_f(16000), *lm = ta_alloc_f(T * M), *cc = ta_alloc_f(T * C);

    /* silence: every band at the floor, c0 = √M·ln(floor), the rest 0 */
    ck_assert_int_eq(qr_mfcc_log_mel(m, x, 16000, lm), QR_OK);
    for (size_t i = 0; i < T * M; i++)
        ck_assert(lm[i] == (float)log(1e-6));
    ck_assert_int_eq(qr_mfcc_compute(m, x, 16000, cc), QR_OK);
    ck_assert(fabs(cc[0] - sqrt(40.0) * log(1e-6)) < 1e-3);
    for (size_t i = 1; i < C; i++)
        ck_assert(fabsf(cc[i]) < 1e-4f);

    /* a 1 kHz tone: the loudest band is the one whose centre is nearest 1 kHz */
    ta_fill_sine(x, 16000, 16000.0, 1000.0, 0.5);
    ck_assert_int_eq(qr_mfcc_log_mel(m, x, 16000, lm), QR_OK);
    double lo = 2595 * log10(1 + 20 / 700.0), hi = 2595 * log10(1 + 8000 / 700.0);
    size_t want = 0;
    double best = 1e9;
    for (size_t b = 0; b < M; b++) {
        double centre = 700 * (pow(10, (lo + (hi - lo) * (double)(b + 1) / 41) / 2595) - 1);
        if (fabs(centre - 1000) < best) {
            best = fabs(centre - 1000);
            want = b;
        }
    }
    for (size_t t = 0; t < T; t++) {
        size_t arg = 0;
        for (size_t b = 1; b < M; b++)
            if (lm[t * M + b] > lm[t * M + arg])
                arg = b;
        ck_assert_uint_eq(arg, want);
    }
    qr_mfcc_free(m);

    /* orthonormal DCT: with C = M the cepstrum keeps the log-mel vector's norm */
    c.n_mfcc = 40;
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    float *cf = ta_alloc_f(T * M);
    ck_assert_int_eq(qr_mfcc_compute(m, x, 16000, cf), QR_OK);
    for (size_t t = 0; t < T; t++) {
        double a = 0, b = 0;
        for (size_t i = 0; i < M; i++) {
            a += (double)lm[t * M + i] * lm[t * M + i];
            b += (double)cf[t * M + i] * cf[t * M + i];
        }
        ck_assert_msg(fabs(a - b) < 1e-5 * a, "frame %zu: |L|² %g, |c|² %g", t, a, b);
    }
    /* the first coefficients of the 40-coefficient run are the 13-coefficient MFCC */
    qr_mfcc_free(m);
    c.n_mfcc = 13;
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    ck_assert_int_eq(qr_mfcc_compute(m, x, 16000, cc), QR_OK);
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < C; i++)
            ck_assert(cc[t * C + i] == cf[t * M + i]);
    /* reuse: computing twice with one object gives the same bits */
    float *again = ta_alloc_f(T * C);
    ck_assert_int_eq(qr_mfcc_compute(m, x, 16000, again), QR_OK);
    ck_assert(memcmp(cc, again, T * C * sizeof *cc) == 0);
    qr_mfcc_free(m);
    free(again);
    free(cf);
    free(x);
    free(lm);
    free(cc);
}
END_TEST

/* ---- MFCC against the NumPy reference --------------------------------------------------- */

/* Tolerances of max |C − reference| (natural-log units) over every signal and frame: the
 * float32 FFT against float64 NumPy on 16-bit input gives at most about 3.4e-3. */
#define REF_TOL_LOGMEL 0.01
#define REF_TOL_MFCC 0.01

static const char *find_python(void)
{
    static const char *const cands[] = {NULL, "python3", "/usr/bin/python3"};
    const char *env = getenv("QR_PYTHON");
    for (int i = 0; i < 3; i++) {
        const char *c = i == 0 ? env : cands[i];
        if (!c || !*c)
            continue;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", c);
        if (system(cmd) == 0)
            return c;
    }
    return NULL;
}

static double *read_f64(const char *path, size_t want)
{
    size_t n = 0;
    unsigned char *b = ta_read_bytes(path, &n);
    ck_assert_msg(n == want * 8, "%s: %zu bytes, want %zu", path, n, want * 8);
    double *v = malloc(want * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < want; i++) {
        uint64_t u = 0;
        for (int k = 7; k >= 0; k--)
            u = u << 8 | b[i * 8 + (size_t)k];
        memcpy(&v[i], &u, 8);
    }
    free(b);
    return v;
}

/* Compare C and reference on each file under one configuration; returns max diffs. */
static void compare_reference(const char *py, const char *dir, char **files, size_t nf,
                              const qr_mfcc_config *c, double *max_lm, double *max_cc)
{
    char *outdir = ta_join(dir, "ref");
    mkdir(outdir, 0755);
    char cmd[8192];
    int k = snprintf(cmd, sizeof cmd,
                     "%s '%s/tests/mfcc_reference.py' --sample-rate %d --win-length %zu "
                     "--hop-length %zu --n-fft %zu --n-mels %zu --n-mfcc %zu --f-min %.17g "
                     "--f-max %.17g --preemphasis %.17g --log-floor %.17g --window %s "
                     "--center %d --out '%s'",
                     py, tl_srcdir(), (int)c->sample_rate, c->win_length, c->hop_length,
                     c->n_fft, c->n_mels, c->n_mfcc, c->f_min, c->f_max, c->preemphasis,
                     c->log_floor, c->window == QR_WINDOW_HANN ? "hann" : "hamming", c->center,
                     outdir);
    for (size_t i = 0; i < nf; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " '%s'", files[i]);
    k += snprintf(cmd + k, sizeof cmd - (size_t)k, " >/dev/null");
    ck_assert_int_lt(k, (int)sizeof cmd);
    ck_assert_msg(system(cmd) == 0, "reference failed: %s", cmd);

    qr_mfcc *m = NULL;
    qr_error err = {{0}};
    ck_assert_msg(qr_mfcc_new(c, &m, &err) == QR_OK, "%s", err.msg);
    for (size_t i = 0; i < nf; i++) {
        float *y = NULL;
        size_t n = 0;
        ck_assert_msg(qr_audio_read(files[i], c->sample_rate, 2, QR_AUDIO_QUALITY_MEDIUM, &y, &n,
                                    &err) == QR_OK, "%s", err.msg);
        size_t T = qr_mfcc_frames(m, n), M = c->n_mels, C = c->n_mfcc;
        ck_assert_uint_gt(T, 0);
        float *lm = ta_alloc_f(T * M), *cc = ta_alloc_f(T * C);
        ck_assert_int_eq(qr_mfcc_log_mel(m, y, n, lm), QR_OK);
        ck_assert_int_eq(qr_mfcc_compute(m, y, n, cc), QR_OK);
        const char *base = strrchr(files[i], '/') + 1;
        char name[512];
        snprintf(name, sizeof name, "%s/%s.logmel.f64", outdir, base);
        double *rl = read_f64(name, T * M);
        snprintf(name, sizeof name, "%s/%s.mfcc.f64", outdir, base);
        double *rc = read_f64(name, T * C);
        double dl = 0, dc = 0;
        for (size_t j = 0; j < T * M; j++)
            dl = fmax(dl, fabs((double)lm[j] - rl[j]));
        for (size_t j = 0; j < T * C; j++)
            dc = fmax(dc, fabs((double)cc[j] - rc[j]));
        fprintf(stderr, "mfcc reference: %-12s win %zu hop %zu: %zu frames, max |diff| log-mel "
                "%.2e, MFCC %.2e\n", base, c->win_length, c->hop_length, T, dl, dc);
        ck_assert_msg(dl <= REF_TOL_LOGMEL, "%s: log-mel differs by %g", base, dl);
        ck_assert_msg(dc <= REF_TOL_MFCC, "%s: MFCC differs by %g", base, dc);
        *max_lm = fmax(*max_lm, dl);
        *max_cc = fmax(*max_cc, dc);
        free(rl);
        free(rc);
        free(lm);
        free(cc);
        free(y);
    }
    qr_mfcc_free(m);
    free(outdir);
}

START_TEST(test_mfcc_reference)
{
    const char *py = find_python();
    if (!py) {
        fprintf(stderr, "test_mfcc_reference: SKIPPED the NumPy comparison (no python3 with "
                        "numpy; install python3-numpy or set QR_PYTHON)\n");
        return;
    }
    char *dir = tl_tmpdir();
    char *files[8];
    size_t nf = 0, n = 16000;
    float *x = ta_alloc_f(2 * n);
    /* a 440 Hz tone */
    ta_fill_sine(x, n, 16000.0, 440.0, 0.5);
    ta_write_wav16(files[nf++] = ta_join(dir, "sine.wav"), 16000, x, n);
    /* a linear chirp 100 Hz -> 7 kHz */
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / 16000.0;
        x[i] = (float)(0.4 * sin(2 * TA_PI * (100.0 * t + 0.5 * 6900.0 * t * t)));
    }
    ta_write_wav16(files[nf++] = ta_join(dir, "chirp.wav"), 16000, x, n);
    /* uniform white noise */
    tl_fill_uniform(x, n, -0.3f, 0.3f, 42);
    ta_write_wav16(files[nf++] = ta_join(dir, "noise.wav"), 16000, x, n);
    /* two tones, then 0.25 s of digital silence (floored bands), 0.9 s long */
    for (size_t i = 0; i < 14400; i++)
        x[i] = i < 10400 ? (float)(0.3 * sin(2 * TA_PI * 300.0 * (double)i / 16000) +
                                   0.2 * sin(2 * TA_PI * 3000.0 * (double)i / 16000))
                         : 0.0f;
    ta_write_wav16(files[nf++] = ta_join(dir, "gap.wav"), 16000, x, 14400);
    /* stereo: the channels are averaged by both */
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)(0.5 * sin(2 * TA_PI * 700.0 * (double)i / 16000));
        x[2 * i + 1] = (float)(0.1 * sin(2 * TA_PI * 1900.0 * (double)i / 16000));
    }
    ta_write_audio(files[nf++] = ta_join(dir, "stereo.wav"), 16000, 2,
                SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, n);
    /* a spoken word, when espeak-ng is installed: 22.05 kHz, resampled by qreg, then
     * written as 16 kHz PCM for both implementations */
    if (system("command -v espeak-ng >/dev/null 2>&1") == 0) {
        char *raw = ta_join(dir, "word22k.wav"), cmd[1024];
        snprintf(cmd, sizeof cmd, "espeak-ng -w '%s' 'yes' >/dev/null 2>&1", raw);
        if (system(cmd) == 0) {
            float *y = NULL;
            size_t m = 0;
            qr_error err = {{0}};
            ck_assert_msg(qr_audio_read(raw, 16000, 2, QR_AUDIO_QUALITY_MEDIUM, &y, &m, &err) ==
                          QR_OK, "%s", err.msg);
            float *clip = ta_alloc_f(n);
            qr_audio_fit(y, m, clip, n, QR_AUDIO_CROP_CENTRE);
            ta_write_wav16(files[nf++] = ta_join(dir, "word.wav"), 16000, clip, n);
            free(clip);
            free(y);
        } else {
            fprintf(stderr, "test_mfcc_reference: espeak-ng failed; no spoken word\n");
        }
        free(raw);
    } else {
        fprintf(stderr, "test_mfcc_reference: espeak-ng not installed; no spoken word\n");
    }
    double max_lm = 0, max_cc = 0;
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    compare_reference(py, dir, files, nf, &c, &max_lm, &max_cc);
    /* every other option: Hamming, centring, a shorter window, another band set */
    c.win_length = 400;
    c.hop_length = 160;
    c.n_fft = 512;
    c.n_mels = 26;
    c.n_mfcc = 20;
    c.f_min = 60;
    c.f_max = 7600;
    c.preemphasis = 0.5;
    c.log_floor = 1e-8;
    c.window = QR_WINDOW_HAMMING;
    c.center = 1;
    compare_reference(py, dir, files, nf, &c, &max_lm, &max_cc);
    fprintf(stderr, "mfcc reference: %zu files x 2 configurations, max |diff| log-mel %.2e "
            "(tolerance %g), MFCC %.2e (tolerance %g)\n", nf, max_lm, REF_TOL_LOGMEL, max_cc,
            REF_TOL_MFCC);
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(x);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- loaders ---------------------------------------------------------------------------- */

START_TEST(test_folder_layout)
{
    char *dir = ta_make_tree(3);
    /* a 44.1 kHz stereo FLAC and an Ogg file are classes' members too */
    float *st = ta_alloc_f(2 * 22050);
    ta_fill_sine(st, 2 * 22050, 44100.0, 1000.0, 0.3);
    char *p = ta_join(dir, "yes/z_stereo.FLAC");
    ta_write_audio(p, 44100, 2, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, st, 22050);
    free(p);
    ta_warns w;
    qr_audio_options o = ta_base_options(dir, &w);
    o.val_split = 0;
    o.test_split = 0;
    ta_splits s = ta_load_ok(&o);
    ck_assert_uint_eq(s.train.n, 7);
    ck_assert_uint_eq(s.val.n, 0);
    ck_assert_uint_eq(s.test.n, 0);
    ck_assert_uint_eq(s.train.t, 94);
    ck_assert_uint_eq(s.train.f, 13);
    ck_assert_uint_eq(s.train.n_classes, 2);
    ck_assert_str_eq(s.train.class_names[0], "no");
    ck_assert_str_eq(s.train.class_names[1], "yes");
    ck_assert_uint_eq(s.val.n_classes, 2);
    ck_assert_uint_eq(s.st.files, 7);
    ck_assert_uint_eq(s.st.loaded, 7);
    ck_assert_uint_eq(s.st.ignored, 1); /* README.txt */
    ck_assert_uint_eq(s.st.skipped, 0);
    ck_assert_int_eq(w.n, 0);
    /* file order: no/n00..n02, yes/y00..y02, yes/z_stereo.FLAC; rows equal direct MFCC */
    static const char *const names[] = {"no/n00.wav", "no/n01.wav", "no/n02.wav", "yes/y00.wav",
                                        "yes/y01.wav", "yes/y02.wav", "yes/z_stereo.FLAC"};
    for (size_t i = 0; i < 7; i++) {
        ck_assert_int_eq(s.train.y[i], i < 3 ? 0 : 1);
        char *f = ta_join(dir, names[i]);
        size_t T = 0;
        float *want = ta_direct_mfcc(&o, f, &T);
        ck_assert(memcmp(s.train.x + i * 94 * 13, want, 94 * 13 * sizeof(float)) == 0);
        free(want);
        free(f);
    }
    ta_splits_free(&s);

    /* fractions: seeded, stratified; the same seed gives the same split */
    o.val_split = 0.34;
    o.test_split = 0.34;
    s = ta_load_ok(&o);
    ck_assert_uint_eq(s.train.n + s.val.n + s.test.n, 7);
    ck_assert_uint_ge(s.train.n, 2);
    ta_splits s2 = ta_load_ok(&o);
    ck_assert_uint_eq(s2.val.n, s.val.n);
    ck_assert(memcmp(s2.val.x, s.val.x, s.val.n * 94 * 13 * sizeof(float)) == 0);
    ta_splits_free(&s);
    ta_splits_free(&s2);
    free(st);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_speech_commands_lists)
{
    char *dir = ta_make_tree(3);
    free(tl_write_file(dir, "validation_list.txt", "yes/y01.wav\nno/n02.wav\n"));
    free(tl_write_file(dir, "testing_list.txt", "no/n00.wav\r\n\r\n"));
    ta_warns w;
    qr_audio_options o = ta_base_options(dir, &w);
    ta_splits s = ta_load_ok(&o);
    ck_assert_uint_eq(s.train.n, 3);
    ck_assert_uint_eq(s.val.n, 2);
    ck_assert_uint_eq(s.test.n, 1);
    /* val in file order: no/n02 then yes/y01 */
    ck_assert_int_eq(s.val.y[0], 0);
    ck_assert_int_eq(s.val.y[1], 1);
    ck_assert_int_eq(s.test.y[0], 0);
    ta_splits_free(&s);

    /* fractions cannot be combined with the lists */
    o.val_split = 0.2;
    ta_expect_fail(&o, QR_ERR_CONFIG, "validation_list.txt", "validation_split");
    o.val_split = -1;

    /* a listed file that is not in the dataset: an error naming list and line, or a warning */
    free(tl_write_file(dir, "testing_list.txt", "no/n00.wav\nno/gone.wav\n"));
    ta_expect_fail(&o, QR_ERR_FORMAT, "testing_list.txt:2:", "no/gone.wav");
    o.on_error = QR_AUDIO_ON_ERROR_SKIP;
    s = ta_load_ok(&o);
    ck_assert_uint_eq(s.test.n, 1);
    ck_assert_ptr_nonnull(strstr(w.text, "1 listed file not in the dataset"));
    ta_splits_free(&s);
    /* one file in both lists */
    free(tl_write_file(dir, "testing_list.txt", "yes/y01.wav\n"));
    ta_expect_fail(&o, QR_ERR_FORMAT, "testing_list.txt:1:", "also in the other list");
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_manifest_layout)
{
    char *dir = tl_tmpdir();
    ta_mkdir_in(dir, "clips");
    ta_write_clip(dir, "clips/a.wav", 0, 1);
    ta_write_clip(dir, "clips/b.wav", 1, 2);
    ta_write_clip(dir, "clips/c.wav", 0, 3);
    ta_write_clip(dir, "clips/d, e.wav", 2, 4);
    ta_write_clip(dir, "clips/f.wav", 1, 5);
    char *m = tl_write_file(dir, "list.csv",
                            "path,label,split\n"
                            "clips/a.wav,low,train\n"
                            "clips/b.wav,mid,train\n"
                            "\n"
                            "\"clips/d, e.wav\",high,train\n"
                            "clips/c.wav,low,validation\n"
                            "  clips/f.wav , mid , test\r\n");
    ta_warns w;
    qr_audio_options o = ta_base_options(NULL, &w);
    o.manifest = m;
    ta_splits s = ta_load_ok(&o);
    ck_assert_uint_eq(s.train.n, 3);
    ck_assert_uint_eq(s.val.n, 1);
    ck_assert_uint_eq(s.test.n, 1);
    ck_assert_uint_eq(s.train.n_classes, 3);
    ck_assert_str_eq(s.train.class_names[0], "high");
    ck_assert_str_eq(s.train.class_names[1], "low");
    ck_assert_str_eq(s.train.class_names[2], "mid");
    ck_assert_int_eq(s.train.y[0], 1);
    ck_assert_int_eq(s.train.y[1], 2);
    ck_assert_int_eq(s.train.y[2], 0);
    ck_assert_int_eq(s.val.y[0], 1);
    ck_assert_int_eq(s.test.y[0], 2);
    size_t T;
    char *f = ta_join(dir, "clips/d, e.wav");
    float *want = ta_direct_mfcc(&o, f, &T);
    ck_assert(memcmp(s.train.x + 2 * 94 * 13, want, 94 * 13 * sizeof(float)) == 0);
    free(want);
    free(f);
    ta_splits_free(&s);
    free(m);

    /* no header, no split column: fractions */
    m = tl_write_file(dir, "two.csv", "clips/a.wav,x\nclips/b.wav,y\nclips/c.wav,x\n"
                                      "clips/f.wav,y\n");
    o.manifest = m;
    o.val_split = 0.5;
    o.test_split = 0;
    s = ta_load_ok(&o);
    ck_assert_uint_eq(s.train.n, 2);
    ck_assert_uint_eq(s.val.n, 2);
    ta_splits_free(&s);
    /* asking for the manifest's split without a split column */
    o.split = QR_AUDIO_SPLIT_MANIFEST;
    o.val_split = o.test_split = -1;
    ta_expect_fail(&o, QR_ERR_CONFIG, "two.csv", "third (split) column");
    free(m);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_manifest_errors)
{
    char *dir = tl_tmpdir();
    ta_write_clip(dir, "a.wav", 0, 1);
    ta_write_clip(dir, "b.wav", 1, 2);
    ta_warns w;
    qr_audio_options o = ta_base_options(NULL, &w);
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        qr_status st;
        const char *what, *what2;
    } cases[] = {
        {"a.wav,x\nb.wav,y\nmissing.wav,x\n", 0, QR_ERR_IO, "m.csv:3: ",
         "missing.wav: cannot open"},
        {"a.wav,x,train\nb.wav,y,dev\n", 0, QR_ERR_FORMAT, "m.csv:2: ",
         "split \"dev\" is not train"},
        {"a.wav,x\nb.wav,y,train\n", 0, QR_ERR_FORMAT, "m.csv:2: ", "expected 2 cells, got 3"},
        {"a.wav\n", 0, QR_ERR_FORMAT, "m.csv:1: ", "expected 2 or 3 cells"},
        {"a.wav,x\nb.wav,\n", 0, QR_ERR_FORMAT, "m.csv:2: ", "empty label cell"},
        {"a.wav,x\nb.wav,y\na.wav,y\n", 0, QR_ERR_FORMAT, "m.csv:3: ",
         "a.wav is listed twice (first on line 1)"},
        {"\"a.wav,x\nb.wav,y\n", 0, QR_ERR_FORMAT, "m.csv:1: ", "bad quoting"},
        {"a.wav,x\na.wav\0,y\n", 17, QR_ERR_FORMAT, "m.csv", "NUL byte"},
        {"", 0, QR_ERR_FORMAT, "m.csv", "no files listed"},
        {"a.wav,x\nb.wav,x\n", 0, QR_ERR_FORMAT, "m.csv",
         "1 class with usable files; need at least 2"},
    };
    char *m = ta_join(dir, "m.csv");
    o.manifest = m;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ta_write_bytes(m, cases[i].text, cases[i].len ? cases[i].len : strlen(cases[i].text));
        ta_expect_fail(&o, cases[i].st, cases[i].what, cases[i].what2);
    }
    /* a missing manifest */
    o.manifest = "/nonexistent/qreg/m.csv";
    ta_expect_fail(&o, QR_ERR_IO, "/nonexistent/qreg/m.csv", "cannot open");
    /* root and manifest both, or neither */
    o.manifest = m;
    o.root = dir;
    ta_expect_fail(&o, QR_ERR_CONFIG, "exactly one of root and manifest", NULL);
    free(m);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- bad audio files -------------------------------------------------------------------- */

/* A 44-byte canonical WAV header + data with format tag `tag`, `ch` channels, 16 bits. */
static void write_wav_header(const char *path, unsigned tag, unsigned ch, size_t data_bytes)
{
    unsigned char h[44 + 64] = {0};
    unsigned rate = 16000, bits = 16, align = ch * bits / 8;
    memcpy(h, "RIFF", 4);
    unsigned riff = (unsigned)(36 + data_bytes);
    for (int i = 0; i < 4; i++)
        h[4 + i] = (unsigned char)(riff >> (8 * i));
    memcpy(h + 8, "WAVEfmt ", 8);
    h[16] = 16;
    h[20] = (unsigned char)tag;
    h[21] = (unsigned char)(tag >> 8);
    h[22] = (unsigned char)ch;
    for (int i = 0; i < 4; i++) {
        h[24 + i] = (unsigned char)(rate >> (8 * i));
        h[28 + i] = (unsigned char)((rate * align) >> (8 * i));
        h[40 + i] = (unsigned char)(data_bytes >> (8 * i));
    }
    h[32] = (unsigned char)align;
    h[34] = (unsigned char)bits;
    memcpy(h + 36, "data", 4);
    for (size_t i = 0; i < data_bytes && i < 64; i++)
        h[44 + i] = (unsigned char)(i * 37);
    ta_write_bytes(path, h, 44 + (data_bytes < 64 ? data_bytes : 64));
}

/* Each bad file, in its own class-folder tree: an error naming the file in "fail" mode;
 * skipped with a warning and counted in "skip" mode. */
START_TEST(test_bad_audio_files)
{
    enum { CORRUPT, EMPTY, CHANNELS, NO_FRAMES, UNSUPPORTED, NAN_SAMPLE, TRUNCATED, N_CASES };
    static const char *const file[] = {"yes/bad.wav",      "yes/empty.wav",  "yes/surround.wav",
                                       "yes/noframes.wav", "yes/format.wav", "yes/nan.wav",
                                       "yes/cut.wav"};
    static const char *const what[] = {"not readable as audio", "empty file (0 bytes)",
                                       "3 channels, more than max_channels = 2",
                                       "no audio frames", "not readable as audio",
                                       "non-finite sample",
                                       "truncated: the header declares 3200 bytes of audio, "
                                       "the file holds 1000"};
    for (int c = 0; c < N_CASES; c++) {
        char *dir = ta_make_tree(2);
        char *p = ta_join(dir, file[c]);
        if (c == CORRUPT) {
            unsigned char junk[4096];
            qr_rng r;
            qr_rng_seed(&r, 9);
            for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (unsigned char)qr_rng_u64(&r);
            memcpy(junk, "RIFF", 4); /* looks like a WAV at first */
            ta_write_bytes(p, junk, sizeof junk);
        } else if (c == EMPTY) {
            ta_write_bytes(p, "", 0);
        } else if (c == CHANNELS) {
            float *x = ta_alloc_f(3 * 1600);
            ta_write_audio(p, 16000, 3, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, 1600);
            free(x);
        } else if (c == NO_FRAMES) {
            write_wav_header(p, 1, 1, 0);
        } else if (c == UNSUPPORTED) {
            write_wav_header(p, 0x7777, 1, 64); /* an unknown sample format tag */
        } else if (c == NAN_SAMPLE) {
            float *x = ta_alloc_f(1600);
            x[800] = NAN;
            ta_write_audio(p, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, x, 1600);
            free(x);
        } else {
            /* an interrupted copy: 1000 of the 3200 data bytes */
            float *x = ta_alloc_f(1600);
            ta_fill_sine(x, 1600, 16000.0, 440.0, 0.5);
            ta_write_wav16(p, 16000, x, 1600);
            size_t len = 0;
            unsigned char *b = ta_read_bytes(p, &len);
            ck_assert_uint_eq(len, 44 + 3200);
            ta_write_bytes(p, b, 44 + 1000);
            free(b);
            free(x);
        }
        ta_warns w;
        qr_audio_options o = ta_base_options(dir, &w);
        o.val_split = o.test_split = 0;
        ta_expect_fail(&o, QR_ERR_FORMAT, p, what[c]);
        o.on_error = QR_AUDIO_ON_ERROR_SKIP;
        ta_splits s = ta_load_ok(&o);
        ck_assert_uint_eq(s.train.n, 4);
        ck_assert_uint_eq(s.st.files, 5);
        ck_assert_uint_eq(s.st.skipped, 1);
        ck_assert_int_eq(w.n, 2);
        ck_assert_msg(strstr(w.text, p) && strstr(w.text, what[c]) && strstr(w.text, "skipped"),
                      "warnings: %s", w.text);
        ck_assert_msg(strstr(w.text, "skipped 1 of 5 audio files"), "warnings: %s", w.text);
        ta_splits_free(&s);
        /* the same from the cache: the skipped file is marked in it, decoded again for its
         * warning, and still an error in "fail" mode */
        o.cache = 1;
        ta_splits s1 = ta_load_ok(&o);
        ck_assert_int_eq(s1.st.cache_features, QR_AUDIO_CACHE_MISS);
        memset(&w, 0, sizeof w);
        ta_splits s2 = ta_load_ok(&o);
        ck_assert_int_eq(s2.st.cache_features, QR_AUDIO_CACHE_HIT);
        ck_assert_uint_eq(s2.st.skipped, 1);
        ck_assert_uint_eq(s2.train.n, 4);
        ck_assert(memcmp(s1.train.x, s2.train.x, 4 * 94 * 13 * sizeof(float)) == 0);
        ck_assert_msg(w.n == 2 && strstr(w.text, what[c]), "warnings: %s", w.text);
        ta_splits_free(&s1);
        ta_splits_free(&s2);
        o.on_error = QR_AUDIO_ON_ERROR_FAIL;
        ta_expect_fail(&o, QR_ERR_FORMAT, p, what[c]);
        free(p);
        tl_rmtree(dir);
        free(dir);
    }
}
END_TEST

START_TEST(test_bad_folders)
{
    /* a class folder without audio files */
    char *dir = ta_make_tree(2);
    ta_mkdir_in(dir, "empty");
    free(tl_write_file(dir, "empty/notes.txt", "x"));
    ta_warns w;
    qr_audio_options o = ta_base_options(dir, &w);
    char *p = ta_join(dir, "empty");
    ta_expect_fail(&o, QR_ERR_FORMAT, p, "class folder without audio files");
    o.on_error = QR_AUDIO_ON_ERROR_SKIP;
    ta_splits s = ta_load_ok(&o);
    ck_assert_uint_eq(s.train.n_classes, 2);
    ck_assert_ptr_nonnull(strstr(w.text, "no class 'empty'"));
    ta_splits_free(&s);
    free(p);
    /* skip mode: a class whose only file is bad is dropped, with a warning */
    ta_mkdir_in(dir, "zz");
    p = ta_join(dir, "zz/bad.wav");
    ta_write_bytes(p, "RIFFjunk", 8);
    s = ta_load_ok(&o);
    ck_assert_uint_eq(s.train.n_classes, 2);
    ck_assert_ptr_nonnull(strstr(w.text, "class 'zz' has no usable files left: dropped"));
    ta_splits_free(&s);
    free(p);
    tl_rmtree(dir);
    free(dir);

    /* no class folders; a missing root */
    dir = tl_tmpdir();
    o = ta_base_options(dir, NULL);
    ta_expect_fail(&o, QR_ERR_FORMAT, dir, "no class folders");
    o.root = "/nonexistent/qreg-root";
    ta_expect_fail(&o, QR_ERR_IO, "/nonexistent/qreg-root", "cannot open the folder");
    /* one class only */
    ta_mkdir_in(dir, "one");
    ta_write_clip(dir, "one/a.wav", 0, 1);
    o.root = dir;
    ta_expect_fail(&o, QR_ERR_FORMAT, dir, "1 class with usable files");
    /* a duration shorter than one MFCC window */
    ta_mkdir_in(dir, "two");
    ta_write_clip(dir, "two/a.wav", 1, 2);
    o.duration = 0.05;
    ta_expect_fail(&o, QR_ERR_CONFIG, "shorter than one MFCC window", NULL);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- the training config ---------------------------------------------------------------- */

START_TEST(test_config_audio)
{
    char *dir = ta_make_tree(3);
    char json[4096];
    snprintf(json, sizeof json,
             "{\"data\": {\"audio\": {\"root\": \"%s\", \"manifest\": null, \"cache\": false,"
             " \"validation_split\": 0.34, \"test_split\": 0,"
             " \"mfcc\": {\"n_mfcc\": 10, \"window\": \"hamming\"},"
             " \"augment\": {\"copies\": 1, \"snr_db\": [0, 10], \"bandlimit\":"
             " {\"prob\": 0.25, \"low_hz\": [250, 350], \"high_hz\": [3100, 3500], \"order\": 6},"
             " \"speed\": {\"prob\": 0.5, \"factor\": [0.95, 1.05]}, \"tempo\": {\"prob\": 0.4},"
             " \"pitch\": {\"semitones\": [-1, 3]}, \"reverb\": {\"prob\": 0.3, \"rt60_s\":"
             " [0.1, 0.5], \"drr_db\": [-3, 6]}}}},"
             " \"model\": [{\"type\": \"flatten\"}, {\"type\": \"dense\"}]}",
             dir);
    char *cfg = tl_write_file(dir, "kws.json", json);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(cfg, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(c.audio);
    ck_assert_str_eq(c.audio->root, dir);
    ck_assert_ptr_null(c.audio->manifest);
    ck_assert_uint_eq(c.audio->mfcc.n_mfcc, 10);
    ck_assert_int_eq(c.audio->mfcc.window, QR_WINDOW_HAMMING);
    ck_assert_uint_eq(c.audio->augment.copies, 1);
    ck_assert(c.audio->augment.snr_min == 0 && c.audio->augment.snr_max == 10);
    ck_assert(c.audio->augment.band_prob == 0.25 && c.audio->augment.band_low_min == 250 &&
              c.audio->augment.band_low_max == 350 && c.audio->augment.band_high_min == 3100 &&
              c.audio->augment.band_high_max == 3500 && c.audio->augment.band_order == 6);
    ck_assert(c.audio->augment.speed_prob == 0.5 && c.audio->augment.speed_min == 0.95 &&
              c.audio->augment.speed_max == 1.05);
    ck_assert(c.audio->augment.tempo_prob == 0.4 && c.audio->augment.tempo_min == 0.9 &&
              c.audio->augment.tempo_max == 1.1);
    ck_assert(c.audio->augment.pitch_prob == 0 && c.audio->augment.pitch_min == -1 &&
              c.audio->augment.pitch_max == 3);
    ck_assert(c.audio->augment.reverb_prob == 0.3 && c.audio->augment.rt60_min == 0.1 &&
              c.audio->augment.rt60_max == 0.5 && c.audio->augment.drr_min == -3 &&
              c.audio->augment.drr_max == 6);
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(d.train.t, 94);
    ck_assert_uint_eq(d.train.f, 10);
    ck_assert_uint_eq(d.val.n, 2);
    ck_assert_uint_eq(d.train.n, 8); /* 4 clips + 4 copies */
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(cfg);

    /* strict: unknown keys and bad values name the key */
    static const struct {
        const char *audio, *what;
    } bad[] = {
        {"\"root\": \"x\", \"mfcc\": {\"n_ffts\": 512}", "'data.audio.mfcc.n_ffts'"},
        {"\"root\": \"x\", \"rate\": 8000", "'data.audio.rate'"},
        {"\"root\": \"x\", \"augment\": {\"copies\": 1.5}", "'data.audio.augment.copies'"},
        {"\"root\": \"x\", \"augment\": {\"gain_db\": [3, -3]}", "'data.audio.augment.gain_db'"},
        {"\"root\": \"x\", \"crop\": \"middle\"", "'data.audio.crop' = \"middle\""},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": {\"prob\": 1.5}}",
         "'data.audio.augment.bandlimit.prob'"},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": {\"p\": 0.5}}",
         "'data.audio.augment.bandlimit.p'"},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": 0.5}",
         "data.audio.augment.bandlimit: expected an object"},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": {\"low_hz\": [400, 200]}}",
         "'data.audio.augment.bandlimit.low_hz'"},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": {\"low_hz\": [0, 200]}}",
         "'data.audio.augment.bandlimit.low_hz' must start above 0 Hz"},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": {\"low_hz\": [200, 3200]}}",
         "'data.audio.augment.bandlimit.low_hz' [200, 3200] must lie below"},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": {\"high_hz\": [3000, 4000]}}, "
         "\"sample_rate\": 8000", "'data.audio.augment.bandlimit.high_hz' [3000, 4000] must lie "
         "below the Nyquist frequency 4000 Hz"},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": {\"order\": 3}}",
         "'data.audio.augment.bandlimit.order' = 3 must be even"},
        {"\"root\": \"x\", \"augment\": {\"bandlimit\": {\"order\": 10}}",
         "'data.audio.augment.bandlimit.order'"},
        {"\"root\": \"x\", \"augment\": {\"speed\": {\"prob\": 2}}",
         "'data.audio.augment.speed.prob'"},
        {"\"root\": \"x\", \"augment\": {\"speed\": {\"factor\": [1.1, 0.9]}}",
         "'data.audio.augment.speed.factor' must be [low, high] with 0.5 <= low <= high <= 2"},
        {"\"root\": \"x\", \"augment\": {\"tempo\": {\"factor\": [0.3, 1]}}",
         "'data.audio.augment.tempo.factor'"},
        {"\"root\": \"x\", \"augment\": {\"tempo\": {\"rate\": 1}}",
         "'data.audio.augment.tempo.rate'"},
        {"\"root\": \"x\", \"augment\": {\"pitch\": {\"semitones\": [-13, 0]}}",
         "'data.audio.augment.pitch.semitones'"},
        {"\"root\": \"x\", \"augment\": {\"pitch\": 1}",
         "data.audio.augment.pitch: expected an object"},
        {"\"root\": \"x\", \"augment\": {\"reverb\": {\"rt60_s\": [0, 0.5]}}",
         "'data.audio.augment.reverb.rt60_s' must start above 0 s"},
        {"\"root\": \"x\", \"augment\": {\"reverb\": {\"rt60_s\": [0.2, 3]}}",
         "'data.audio.augment.reverb.rt60_s'"},
        {"\"root\": \"x\", \"augment\": {\"reverb\": {\"drr_db\": [5, 1]}}",
         "'data.audio.augment.reverb.drr_db'"},
        {"\"root\": \"x\", \"augment\": {\"reverb\": {\"prob\": -1}}",
         "'data.audio.augment.reverb.prob'"},
        {"\"root\": \"x\", \"mfcc\": {\"n_mfcc\": 50}", "n_mfcc = 50"},
        {"\"root\": 3", "'data.audio.root' must be a path"},
        {"\"manifest\": null", "give one of 'data.audio.root'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json,
                 "{\"data\": {\"audio\": {%s}}, \"model\": [{\"type\": \"dense\"}]}",
                 bad[i].audio);
        cfg = tl_write_file(dir, "bad.json", json);
        ck_assert_int_eq(qr_train_config_load(cfg, &c, &err), QR_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, bad[i].what) && strstr(err.msg, "bad.json"),
                      "message \"%s\" lacks \"%s\"", err.msg, bad[i].what);
        free(cfg);
    }
    /* CSV keys do not mix with data.audio */
    cfg = tl_write_file(dir, "mix.json",
                        "{\"data\": {\"audio\": {\"root\": \"x\"}, \"train\": \"a.csv\"},"
                        " \"model\": [{\"type\": \"dense\"}]}");
    ck_assert_int_eq(qr_train_config_load(cfg, &c, &err), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "'data.train'"));
    free(cfg);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

Suite *qr_suite_audio(void)
{
    Suite *s = suite_create("audio");
    TCase *tc;

    tc = tcase_create("read");
    tcase_add_test(tc, test_resample_sine);
    tcase_add_test(tc, test_read_formats_and_mono_mix);
    tcase_add_test(tc, test_fit_crop_pad);
    suite_add_tcase(s, tc);

    tc = tcase_create("mfcc");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_mfcc_default_shape);
    tcase_add_test(tc, test_mfcc_config_errors);
    tcase_add_test(tc, test_mfcc_properties);
    tcase_add_test(tc, test_mfcc_reference);
    suite_add_tcase(s, tc);

    tc = tcase_create("loader");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_folder_layout);
    tcase_add_test(tc, test_speech_commands_lists);
    tcase_add_test(tc, test_manifest_layout);
    tcase_add_test(tc, test_manifest_errors);
    tcase_add_test(tc, test_bad_audio_files);
    tcase_add_test(tc, test_bad_folders);
    tcase_add_test(tc, test_config_audio);
    suite_add_tcase(s, tc);
    return s;
}
