/* The audio loader's augmentation: determinism, each step's effect, background noise at a
 * given SNR, time shift, and band-limiting (the filter's response against the analytic
 * Butterworth magnitude, and in the loader). The voice steps are in test_audio_voice.c. */
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

/* ---- augmentation ----------------------------------------------------------------------- */

START_TEST(test_augment_deterministic)
{
    char *dir = ta_make_tree(2);
    char *noise = ta_join(dir, "_background_noise_");
    ta_warns w;
    qr_audio_options o = ta_base_options(dir, &w);
    o.val_split = 0.5;
    o.test_split = 0;
    o.augment.copies = 2;
    o.augment.noise_dir = noise;
    o.augment.noise_prob = 1.0;
    ta_splits a = ta_load_ok(&o);
    size_t row = 94 * 13, nt = 2; /* one training clip per class */
    ck_assert_uint_eq(a.train.n, nt * 3);
    ck_assert_uint_eq(a.val.n, 2);
    ck_assert_uint_eq(a.st.augmented, nt * 2);
    /* copies keep their clip's label: originals, then copy 1 of each, then copy 2 */
    for (size_t k = 1; k < 3; k++)
        for (size_t j = 0; j < nt; j++)
            ck_assert_int_eq(a.train.y[k * nt + j], a.train.y[j]);
    /* copies differ from the original and from each other */
    for (size_t j = 0; j < nt; j++) {
        ck_assert(memcmp(a.train.x + j * row, a.train.x + (nt + j) * row, row * 4) != 0);
        ck_assert(memcmp(a.train.x + (nt + j) * row, a.train.x + (2 * nt + j) * row, row * 4) !=
                  0);
    }
    /* the same seed: the same bytes; another seed: other copies, same originals */
    ta_splits b = ta_load_ok(&o);
    ck_assert(memcmp(a.train.x, b.train.x, a.train.n * row * 4) == 0);
    ta_splits_free(&b);
    o.seed = 2;
    o.val_split = 0; /* keep both training clips whatever the seed */
    o.test_split = 0;
    ta_splits c = ta_load_ok(&o);
    o.seed = 1;
    ta_splits d = ta_load_ok(&o);
    ck_assert_uint_eq(c.train.n, 12);
    ck_assert(memcmp(c.train.x, d.train.x, 4 * row * 4) == 0);
    ck_assert(memcmp(c.train.x + 4 * row, d.train.x + 4 * row, 8 * row * 4) != 0);
    ta_splits_free(&c);
    ta_splits_free(&d);

    /* the cached copies equal the computed ones; a seed change misses the augment cache
     * but hits the features cache */
    o.cache = 1;
    o.val_split = 0.5;
    b = ta_load_ok(&o);
    ck_assert_int_eq(b.st.cache_augment, QR_AUDIO_CACHE_MISS);
    ta_splits e = ta_load_ok(&o);
    ck_assert_int_eq(e.st.cache_features, QR_AUDIO_CACHE_HIT);
    ck_assert_int_eq(e.st.cache_augment, QR_AUDIO_CACHE_HIT);
    ck_assert(memcmp(a.train.x, e.train.x, a.train.n * row * 4) == 0);
    ck_assert(memcmp(b.train.x, e.train.x, a.train.n * row * 4) == 0);
    ta_splits_free(&e);
    ta_splits_free(&b);
    o.seed = 3;
    o.val_split = 0;
    e = ta_load_ok(&o);
    ck_assert_int_eq(e.st.cache_features, QR_AUDIO_CACHE_HIT);
    ck_assert_int_eq(e.st.cache_augment, QR_AUDIO_CACHE_MISS);
    ta_splits_free(&e);
    /* a changed noise file invalidates the augment cache */
    ta_write_clip(dir, "_background_noise_/noise.wav", 2, 1234);
    e = ta_load_ok(&o);
    ck_assert_int_eq(e.st.cache_augment, QR_AUDIO_CACHE_MISS);
    ta_splits_free(&e);
    ck_assert_int_eq(w.n, 0);

    /* a noise folder without audio files, or a silent noise file: errors naming them */
    o.cache = 0;
    char *empty = ta_join(dir, ".hidden");
    char *x = ta_join(dir, ".hidden/x.wav");
    ck_assert_int_eq(unlink(x), 0);
    o.augment.noise_dir = empty;
    ta_expect_fail(&o, QR_ERR_FORMAT, empty, "no noise files");
    float z[1600] = {0};
    ta_write_wav16(x, 16000, z, 1600);
    ta_expect_fail(&o, QR_ERR_FORMAT, x, "the noise file is silent");
    free(x);
    free(empty);
    ta_splits_free(&a);
    free(noise);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_augment_steps)
{
    /* gain only (no shift, no noise): every copy is the clip times 10^(g/20), so its log-mel
     * is the original's plus 2·ln(10)·g/20 in every band above the floor; c0 moves by
     * √M times that and the other coefficients stay */
    char *dir = ta_make_tree(1);
    qr_audio_options o = ta_base_options(dir, NULL);
    o.val_split = o.test_split = 0;
    o.augment.copies = 3;
    o.augment.time_shift = 0;
    o.augment.gain_min = -6;
    o.augment.gain_max = 6;
    ta_splits a = ta_load_ok(&o);
    size_t row = 94 * 13;
    for (size_t k = 1; k <= 3; k++)
        for (size_t j = 0; j < 2; j++) {
            const float *orig = a.train.x + j * row, *cp = a.train.x + (k * 2 + j) * row;
            double dc0 = (double)cp[0] - orig[0];
            double g = dc0 / sqrt(40.0) / (2.0 * log(10.0) / 20.0);
            ck_assert_msg(g >= -6.01 && g <= 6.01, "gain %g dB", g);
            for (size_t t = 0; t < 94; t++) {
                ck_assert(fabs((double)cp[t * 13] - orig[t * 13] - dc0) < 2e-3);
                for (size_t i = 1; i < 13; i++)
                    ck_assert(fabs((double)cp[t * 13 + i] - orig[t * 13 + i]) < 2e-3);
            }
        }
    ta_splits_free(&a);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* MFCC of the file at `path` plus g·(the file at `noise`), both 1 s at 16 kHz (the noise is
 * a whole number of periods long, so its start does not change its power). */
static float *mixed_mfcc(const char *path, const char *noise, double snr_db)
{
    float *x = NULL, *z = NULL;
    size_t n = 0, nz = 0;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_audio_read(path, 16000, 2, QR_AUDIO_QUALITY_MEDIUM, &x, &n, &err), QR_OK);
    ck_assert_int_eq(qr_audio_read(noise, 16000, 2, QR_AUDIO_QUALITY_MEDIUM, &z, &nz, &err),
                     QR_OK);
    ck_assert_uint_eq(n, 16000);
    ck_assert_uint_eq(nz, 16000);
    double ps = 0, pn = 0;
    for (size_t i = 0; i < n; i++) {
        ps += (double)x[i] * x[i];
        pn += (double)z[i] * z[i];
    }
    ps = fmax(ps / (double)n, 1e-6); /* the documented floor for silent clips */
    pn /= (double)n;
    double g = sqrt(ps / (pn * pow(10.0, snr_db / 10.0)));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)x[i] + g * z[i]);
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    qr_mfcc *m = NULL;
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    float *out = ta_alloc_f(94 * 13);
    ck_assert_int_eq(qr_mfcc_compute(m, x, n, out), QR_OK);
    qr_mfcc_free(m);
    free(x);
    free(z);
    return out;
}

START_TEST(test_augment_noise_snr)
{
    /* noise only (no shift, 0 dB gain, always noise at exactly 10 dB SNR): each copy is the
     * clip plus the 1 kHz noise tone scaled to the SNR, whatever start was drawn */
    char *dir = tl_tmpdir();
    ta_mkdir_in(dir, "quiet");
    ta_mkdir_in(dir, "tone");
    ta_mkdir_in(dir, "_background_noise_");
    float *x = ta_alloc_f(16000);
    char *pq = ta_join(dir, "quiet/a.wav"), *pt = ta_join(dir, "tone/b.wav");
    char *pn = ta_join(dir, "_background_noise_/n.wav"), *nd = ta_join(dir, "_background_noise_");
    ta_write_wav16(pq, 16000, x, 16000); /* digital silence: the SNR is against -60 dBFS */
    ta_fill_sine(x, 16000, 16000.0, 300.0, 0.1);
    ta_write_wav16(pt, 16000, x, 16000);
    ta_fill_sine(x, 16000, 16000.0, 1000.0, 0.5);
    ta_write_wav16(pn, 16000, x, 16000);
    qr_audio_options o = ta_base_options(dir, NULL);
    o.val_split = o.test_split = 0;
    o.augment.copies = 2;
    o.augment.time_shift = 0;
    o.augment.gain_min = o.augment.gain_max = 0;
    o.augment.noise_prob = 1;
    o.augment.noise_dir = nd;
    o.augment.snr_min = o.augment.snr_max = 10;
    ta_splits a = ta_load_ok(&o);
    ck_assert_uint_eq(a.train.n, 6);
    const char *paths[2] = {pq, pt}; /* class order: quiet, tone; one clip each */
    for (size_t j = 0; j < 2; j++) {
        float *want = mixed_mfcc(paths[j], pn, 10.0);
        for (size_t k = 1; k <= 2; k++) {
            const float *got = a.train.x + (k * 2 + j) * 94 * 13;
            double worst = 0;
            for (size_t i = 0; i < 94 * 13; i++)
                worst = fmax(worst, fabs((double)got[i] - want[i]));
            ck_assert_msg(worst < 0.01, "clip %zu copy %zu: MFCC differs by %g from the clip "
                          "with noise at 10 dB SNR", j, k, worst);
        }
        free(want);
    }
    ta_splits_free(&a);
    free(x);
    free(pq);
    free(pt);
    free(pn);
    free(nd);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_augment_shift)
{
    /* shift only, |s| <= 80 samples (5 ms): every copy is exactly the MFCC of the clip moved
     * by some s in [-80, 80] with zero fill, and the copies do not all share one s */
    char *dir = ta_make_tree(1);
    qr_audio_options o = ta_base_options(dir, NULL);
    o.val_split = o.test_split = 0;
    o.augment.copies = 4;
    o.augment.time_shift = 0.005;
    o.augment.gain_min = o.augment.gain_max = 0;
    ta_splits a = ta_load_ok(&o);
    ck_assert_uint_eq(a.train.n, 10);
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    qr_mfcc *m = NULL;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    static const char *const names[] = {"no/n00.wav", "yes/y00.wav"};
    float *sh = ta_alloc_f(16000), *f = ta_alloc_f(94 * 13);
    long seen[8];
    size_t n_seen = 0;
    for (size_t j = 0; j < 2; j++) {
        char *p = ta_join(dir, names[j]);
        float *x = NULL;
        size_t n = 0;
        ck_assert_int_eq(qr_audio_read(p, 16000, 2, QR_AUDIO_QUALITY_MEDIUM, &x, &n, &err), QR_OK);
        ck_assert_uint_eq(n, 16000);
        for (size_t k = 1; k <= 4; k++) {
            const float *got = a.train.x + (k * 2 + j) * 94 * 13;
            long found = LONG_MIN;
            for (long s = -80; s <= 80 && found == LONG_MIN; s++) {
                for (long i = 0; i < 16000; i++)
                    sh[i] = i - s >= 0 && i - s < 16000 ? x[i - s] : 0.0f;
                ck_assert_int_eq(qr_mfcc_compute(m, sh, 16000, f), QR_OK);
                if (memcmp(f, got, 94 * 13 * sizeof *f) == 0)
                    found = s;
            }
            ck_assert_msg(found != LONG_MIN, "clip %zu copy %zu: no shift in [-80, 80] matches",
                          j, k);
            seen[n_seen++] = found;
        }
        free(x);
        free(p);
    }
    int differ = 0;
    for (size_t i = 1; i < n_seen; i++)
        differ |= seen[i] != seen[0];
    ck_assert(differ);
    free(sh);
    free(f);
    qr_mfcc_free(m);
    ta_splits_free(&a);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- band-limiting ---------------------------------------------------------------------- */

/* The analytic response in dB of the 2nd-order Butterworth high-pass at lo and low-pass at
 * hi (bilinear transform prewarped at the cutoff, which the RBJ Q = 1/√2 biquads are). */
static double bandpass_db(double f, double fs, double lo, double hi)
{
    double t = tan(TA_PI * f / fs), tl = tan(TA_PI * lo / fs), th = tan(TA_PI * hi / fs);
    double hp = 1.0 / (1.0 + pow(tl / t, 4)), lp = 1.0 / (1.0 + pow(t / th, 4));
    return 10.0 * log10(hp * lp);
}

/* The same for Butterworth edges of order N. */
static double bandpass_order_db(double f, double fs, double lo, double hi, int N)
{
    double t = tan(TA_PI * f / fs), tl = tan(TA_PI * lo / fs), th = tan(TA_PI * hi / fs);
    double hp = 1.0 / (1.0 + pow(tl / t, 2 * N)), lp = 1.0 / (1.0 + pow(t / th, 2 * N));
    return 10.0 * log10(hp * lp);
}

START_TEST(test_bandpass_order_response)
{
    /* orders 4 and 8 against the analytic response (−3 dB at the cutoffs, 6·N dB per
     * octave); order 2 is qr_audio_bandpass bit for bit; odd or large orders are refused */
    static const double freqs[] = {150.0, 250.0, 300.0, 1000.0, 3400.0, 4000.0, 5000.0};
    static const int orders[] = {4, 8};
    const size_t n = 32000;
    float *x = ta_alloc_f(n), *y = ta_alloc_f(n);
    for (size_t o = 0; o < 2; o++)
        for (size_t k = 0; k < sizeof freqs / sizeof freqs[0]; k++) {
            ta_fill_sine(x, n, 16000.0, freqs[k], 0.5);
            ck_assert_int_eq(qr_audio_bandpass_order(x, n, 16000.0, 300.0, 3400.0, orders[o]),
                             QR_OK);
            double p = 0.0;
            for (size_t i = n / 2; i < n; i++)
                p += (double)x[i] * x[i];
            double got = 10.0 * log10(p / (double)(n / 2) / (0.5 * 0.5 / 2.0));
            double want = bandpass_order_db(freqs[k], 16000.0, 300.0, 3400.0, orders[o]);
            ck_assert_msg(fabs(got - want) < 0.05 + 0.002 * fabs(want),
                          "order %d, %g Hz: %.4f dB, analytic %.4f dB", orders[o], freqs[k],
                          got, want);
            if (freqs[k] == 300.0 || freqs[k] == 3400.0)
                ck_assert_msg(got < -2.9 && got > -3.3, "%g Hz: %g dB", freqs[k], got);
        }
    /* order 8 at 5 kHz: 10·log10(1 + (tan(π·5000/fs)/tan(π·3400/fs))^16) ≈ 44.6 dB */
    ta_fill_sine(x, n, 16000.0, 5000.0, 0.5);
    ck_assert_int_eq(qr_audio_bandpass_order(x, n, 16000.0, 300.0, 3400.0, 8), QR_OK);
    double p = 0.0;
    for (size_t i = n / 2; i < n; i++)
        p += (double)x[i] * x[i];
    double got = 10.0 * log10(p / (double)(n / 2) / (0.5 * 0.5 / 2.0));
    ck_assert_msg(got < -44.0 && got > -45.1, "order 8, 5 kHz: %g dB", got);
    ta_fill_sine(x, n, 16000.0, 440.0, 0.3);
    memcpy(y, x, n * sizeof *x);
    ck_assert_int_eq(qr_audio_bandpass_order(x, n, 16000.0, 250.0, 3000.0, 2), QR_OK);
    ck_assert_int_eq(qr_audio_bandpass(y, n, 16000.0, 250.0, 3000.0), QR_OK);
    ck_assert(memcmp(x, y, n * sizeof *x) == 0);
    ck_assert_int_eq(qr_audio_bandpass_order(x, n, 16000.0, 250.0, 3000.0, 3), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_bandpass_order(x, n, 16000.0, 250.0, 3000.0, 10), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_bandpass_order(x, n, 16000.0, 250.0, 3000.0, 0), QR_ERR_ARG);
    free(x);
    free(y);
}
END_TEST

START_TEST(test_bandpass_response)
{
    /* 1 s tones at 16 kHz through 300–3400 Hz; the gain is measured over the second half
     * (a whole number of periods, the start transient long gone) */
    static const double freqs[] = {100.0, 300.0, 1000.0, 2000.0, 3400.0, 7000.0};
    const size_t n = 16000;
    float *x = ta_alloc_f(n);
    for (size_t k = 0; k < sizeof freqs / sizeof freqs[0]; k++) {
        ta_fill_sine(x, n, 16000.0, freqs[k], 0.5);
        ck_assert_int_eq(qr_audio_bandpass(x, n, 16000.0, 300.0, 3400.0), QR_OK);
        double p = 0.0;
        for (size_t i = n / 2; i < n; i++)
            p += (double)x[i] * x[i];
        double got = 10.0 * log10(p / (double)(n / 2) / (0.5 * 0.5 / 2.0));
        double want = bandpass_db(freqs[k], 16000.0, 300.0, 3400.0);
        ck_assert_msg(fabs(got - want) < 0.02, "%g Hz: %.4f dB, analytic %.4f dB", freqs[k],
                      got, want);
        if (freqs[k] == 1000.0)
            ck_assert_msg(fabs(got) < 1.0, "1 kHz: %g dB", got);
        if (freqs[k] == 100.0) /* 10·log10(1 + (tan(π·300/fs)/tan(π·100/fs))⁴) ≈ 19.1 dB */
            ck_assert_msg(got < -18.5 && got > -19.7, "100 Hz: %g dB", got);
        if (freqs[k] == 7000.0) /* ≈ 32.2 dB */
            ck_assert_msg(got < -31.5 && got > -33.0, "7 kHz: %g dB", got);
        if (freqs[k] == 300.0 || freqs[k] == 3400.0) /* −3 dB at each cutoff */
            ck_assert_msg(got < -2.9 && got > -3.3, "%g Hz: %g dB", freqs[k], got);
    }
    /* deterministic, and arguments outside 0 < low < high < fs/2 leave x alone */
    float *y = ta_alloc_f(n);
    ta_fill_sine(x, n, 16000.0, 440.0, 0.3);
    ta_fill_sine(y, n, 16000.0, 440.0, 0.3);
    ck_assert_int_eq(qr_audio_bandpass(x, n, 16000.0, 250.0, 3000.0), QR_OK);
    ck_assert_int_eq(qr_audio_bandpass(y, n, 16000.0, 250.0, 3000.0), QR_OK);
    ck_assert(memcmp(x, y, n * sizeof *x) == 0);
    memcpy(y, x, n * sizeof *x);
    ck_assert_int_eq(qr_audio_bandpass(x, n, 16000.0, 0.0, 3000.0), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_bandpass(x, n, 16000.0, 3000.0, 3000.0), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_bandpass(x, n, 16000.0, 300.0, 8000.0), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_bandpass(x, n, 16000.0, NAN, 3000.0), QR_ERR_ARG);
    ck_assert(memcmp(x, y, n * sizeof *x) == 0);
    free(x);
    free(y);
}
END_TEST

/* MFCC of the file at `path` (1 s at 16 kHz) band-passed to [lo, hi]. */
static float *bandpassed_mfcc(const char *path, double lo, double hi)
{
    float *x = NULL;
    size_t n = 0;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_audio_read(path, 16000, 2, QR_AUDIO_QUALITY_MEDIUM, &x, &n, &err), QR_OK);
    ck_assert_uint_eq(n, 16000);
    ck_assert_int_eq(qr_audio_bandpass(x, n, 16000.0, lo, hi), QR_OK);
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    qr_mfcc *m = NULL;
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    float *out = ta_alloc_f(94 * 13);
    ck_assert_int_eq(qr_mfcc_compute(m, x, n, out), QR_OK);
    qr_mfcc_free(m);
    free(x);
    return out;
}

START_TEST(test_augment_bandlimit)
{
    char *dir = ta_make_tree(1);
    qr_audio_options o = ta_base_options(dir, NULL);
    o.val_split = o.test_split = 0;
    o.augment.copies = 2;
    o.augment.time_shift = 0;
    o.augment.gain_min = o.augment.gain_max = 0;
    size_t row = 94 * 13;
    /* off (the default): copies are the originals (no shift, no gain, no noise) */
    ta_splits off = ta_load_ok(&o);
    ck_assert_uint_eq(off.train.n, 6);
    for (size_t k = 1; k <= 2; k++)
        ck_assert(memcmp(off.train.x, off.train.x + k * 2 * row, 2 * row * 4) == 0);
    /* always, at fixed cutoffs: each copy is the MFCC of the band-passed clip */
    o.augment.band_prob = 1;
    o.augment.band_low_min = o.augment.band_low_max = 300;
    o.augment.band_high_min = o.augment.band_high_max = 3400;
    ta_splits a = ta_load_ok(&o);
    char **paths = NULL;
    size_t np = 0;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_audio_list_paths(&o, &paths, &np, &err), QR_OK);
    ck_assert_uint_eq(np, 2);
    for (size_t j = 0; j < 2; j++) {
        float *want = bandpassed_mfcc(paths[j], 300, 3400);
        for (size_t k = 1; k <= 2; k++) {
            const float *got = a.train.x + (k * 2 + j) * row;
            double worst = 0;
            for (size_t i = 0; i < row; i++)
                worst = fmax(worst, fabs((double)got[i] - want[i]));
            ck_assert_msg(worst < 1e-3, "clip %zu copy %zu: MFCC differs by %g from the "
                          "band-passed clip", j, k, worst);
        }
        ck_assert(memcmp(a.train.x + j * row, off.train.x + j * row, row * 4) == 0);
        free(want);
        free(paths[j]);
    }
    free(paths);
    ta_splits_free(&a);

    /* random cutoffs and prob 0.5: the same seed gives the same bytes, another seed not */
    o.augment.copies = 4;
    o.augment.band_prob = 0.5;
    o.augment.band_low_min = 200;
    o.augment.band_low_max = 400;
    o.augment.band_high_min = 3000;
    o.augment.band_high_max = 3800;
    ta_splits b = ta_load_ok(&o), c = ta_load_ok(&o);
    ck_assert(memcmp(b.train.x, c.train.x, b.train.n * row * 4) == 0);
    size_t filtered = 0;
    for (size_t r = 2; r < b.train.n; r++)
        filtered += memcmp(b.train.x + r * row, b.train.x + (r % 2) * row, row * 4) != 0;
    ck_assert_msg(filtered > 0 && filtered < 8, "%zu of 8 copies band-limited", filtered);
    ta_splits_free(&c);
    o.seed = 2;
    c = ta_load_ok(&o);
    ck_assert(memcmp(b.train.x + 2 * row, c.train.x + 2 * row, 8 * row * 4) != 0);
    ta_splits_free(&c);
    o.seed = 1;

    /* the settings are part of the augment cache key */
    o.cache = 1;
    c = ta_load_ok(&o);
    ck_assert_int_eq(c.st.cache_augment, QR_AUDIO_CACHE_MISS);
    ta_splits_free(&c);
    c = ta_load_ok(&o);
    ck_assert_int_eq(c.st.cache_augment, QR_AUDIO_CACHE_HIT);
    ck_assert(memcmp(b.train.x, c.train.x, b.train.n * row * 4) == 0);
    ta_splits_free(&c);
    o.augment.band_high_max = 3700;
    c = ta_load_ok(&o);
    ck_assert_int_eq(c.st.cache_augment, QR_AUDIO_CACHE_MISS);
    ta_splits_free(&c);
    o.augment.band_prob = 0.6;
    c = ta_load_ok(&o);
    ck_assert_int_eq(c.st.cache_augment, QR_AUDIO_CACHE_MISS);
    ta_splits_free(&c);
    o.augment.band_order = 8; /* another order: another key and other copies */
    c = ta_load_ok(&o);
    ck_assert_int_eq(c.st.cache_augment, QR_AUDIO_CACHE_MISS);
    ta_splits e = ta_load_ok(&o);
    ck_assert_int_eq(e.st.cache_augment, QR_AUDIO_CACHE_HIT);
    ta_splits_free(&e);
    o.augment.band_order = 2;
    e = ta_load_ok(&o);
    ck_assert(memcmp(c.train.x + 2 * row, e.train.x + 2 * row, 8 * row * 4) != 0);
    ta_splits_free(&e);
    ta_splits_free(&c);
    ta_splits_free(&b);

    /* the option rules */
    o.cache = 0;
    o.augment.band_prob = 1.5;
    ta_expect_fail(&o, QR_ERR_CONFIG, "augment.bandlimit.prob", NULL);
    o.augment.band_prob = 0.5;
    o.augment.band_high_max = 8000;
    ta_expect_fail(&o, QR_ERR_CONFIG, "augment.bandlimit", "sample_rate / 2");
    o.augment.band_high_max = 3800;
    o.augment.band_low_max = 3500;
    ta_expect_fail(&o, QR_ERR_CONFIG, "augment.bandlimit", "ordered");
    o.augment.band_low_max = 400;
    o.augment.band_order = 5;
    ta_expect_fail(&o, QR_ERR_CONFIG, "augment.bandlimit.order = 5", NULL);
    o.augment.band_prob = 0; /* off: the ranges are not used, not checked */
    ta_splits d = ta_load_ok(&o);
    ck_assert(memcmp(d.train.x, off.train.x, 2 * row * 4) == 0);
    ta_splits_free(&d);
    ta_splits_free(&off);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

Suite *qr_suite_audio_augment(void)
{
    Suite *s = suite_create("audio_augment");
    TCase *tc;

    tc = tcase_create("augment");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_augment_deterministic);
    tcase_add_test(tc, test_augment_steps);
    tcase_add_test(tc, test_augment_noise_snr);
    tcase_add_test(tc, test_augment_shift);
    tcase_add_test(tc, test_bandpass_response);
    tcase_add_test(tc, test_bandpass_order_response);
    tcase_add_test(tc, test_augment_bandlimit);
    suite_add_tcase(s, tc);
    return s;
}
