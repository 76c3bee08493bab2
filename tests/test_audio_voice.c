/* The voice augmentations of the audio loader: speed, tempo and pitch measured on tone
 * bursts (duration by the first and last loud sample, frequency by interpolated zero
 * crossings), the room impulse response's decay and DRR, the reverb's convolution, and in
 * the loader: exact copies, determinism, independence of the other steps' draws, the augment
 * cache key and the option rules. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <check.h>
#include <sndfile.h>

#include "qreg/audio.h"
#include "qreg/rng.h"
#include "testlib.h"
#include "testlib_audio.h"

#define FS 16000.0
#define N 16000

/* A tone burst: `freq` Hz at amplitude 0.5 from t0 to t1 seconds, zero elsewhere. */
static void burst(float *x, double freq, double t0, double t1)
{
    for (size_t i = 0; i < N; i++) {
        double t = (double)i / FS;
        x[i] = t >= t0 && t < t1 ? (float)(0.5 * sin(2.0 * TA_PI * freq * (t - t0))) : 0.0f;
    }
}

typedef struct measured {
    double start, end; /* s: the first and last sample above half the amplitude */
    double freq;       /* Hz: rising zero crossings in the middle, interpolated */
} measured;

static measured measure(const float *y)
{
    measured m = {-1, -1, 0};
    for (size_t i = 0; i < N; i++)
        if (fabsf(y[i]) > 0.25f) {
            if (m.start < 0)
                m.start = (double)i / FS;
            m.end = (double)i / FS;
        }
    ck_assert(m.start >= 0);
    size_t a = (size_t)((m.start + 0.03) * FS), b = (size_t)((m.end - 0.03) * FS), c = 0;
    double first = 0, last = 0;
    for (size_t i = a; i + 1 < b; i++)
        if (y[i] <= 0.0f && y[i + 1] > 0.0f) {
            double t = ((double)i + (double)y[i] / ((double)y[i] - (double)y[i + 1])) / FS;
            if (c++ == 0)
                first = t;
            last = t;
        }
    ck_assert(c > 10);
    m.freq = (double)(c - 1) / (last - first);
    return m;
}

/* tol: seconds of duration and centre (WSOLA moves a frame by up to 8 ms at 16 kHz) */
static void expect(const char *what, measured m, double dur, double freq, double tol)
{
    double got = m.end - m.start;
    printf("%s: %.4f s (want %.4f), %.2f Hz (want %.2f), centre %.4f s\n", what, got, dur,
           m.freq, freq, (m.start + m.end) / 2.0);
    ck_assert_msg(fabs(got - dur) < tol, "%s: duration %.4f s, want %.4f s", what, got, dur);
    ck_assert_msg(fabs(m.freq / freq - 1.0) < 0.003, "%s: %.2f Hz, want %.2f Hz", what, m.freq,
                  freq);
    /* refitted by the centre: the burst stays centred on 0.5 s */
    ck_assert_msg(fabs((m.start + m.end) / 2.0 - 0.5) < tol, "%s: centred on %.4f s", what,
                  (m.start + m.end) / 2.0);
}

START_TEST(test_speed_tempo_pitch_bursts)
{
    float *x = ta_alloc_f(N), *y = ta_alloc_f(N);
    burst(x, 1000.0, 0.3, 0.7);
    expect("original", measure(x), 0.4, 1000.0, 0.001);
    static const double f[] = {0.9, 1.1};
    for (size_t k = 0; k < 2; k++) {
        char what[64];
        /* speed: duration / f, frequency · f */
        ck_assert_int_eq(qr_audio_speed(x, y, N, f[k], QR_AUDIO_QUALITY_MEDIUM,
                                        QR_AUDIO_CROP_CENTRE), QR_OK);
        snprintf(what, sizeof what, "speed %g", f[k]);
        expect(what, measure(y), 0.4 / f[k], 1000.0 * f[k], 0.002);
        /* tempo: duration / f, the frequency stays */
        ck_assert_int_eq(qr_audio_tempo(x, y, N, FS, f[k], QR_AUDIO_CROP_CENTRE), QR_OK);
        snprintf(what, sizeof what, "tempo %g", f[k]);
        expect(what, measure(y), 0.4 / f[k], 1000.0, 0.008);
    }
    /* pitch: the duration stays, frequency · 2^(s/12) */
    static const double st[] = {-2.0, 2.0, 1.0};
    for (size_t k = 0; k < 3; k++) {
        char what[64];
        ck_assert_int_eq(qr_audio_pitch(x, y, N, FS, st[k], QR_AUDIO_QUALITY_MEDIUM,
                                        QR_AUDIO_CROP_CENTRE), QR_OK);
        snprintf(what, sizeof what, "pitch %+g", st[k]);
        expect(what, measure(y), 0.4, 1000.0 * pow(2.0, st[k] / 12.0), 0.008);
    }
    /* tempo keeps a low voice's pitch too (a 120 Hz tone: periods of 8.3 ms) */
    burst(x, 120.0, 0.3, 0.7);
    ck_assert_int_eq(qr_audio_tempo(x, y, N, FS, 1.1, QR_AUDIO_CROP_CENTRE), QR_OK);
    expect("tempo 1.1 of 120 Hz", measure(y), 0.4 / 1.1, 120.0, 0.008);
    /* the level stays: WSOLA's Hann windows at half overlap sum to 1 */
    burst(x, 1000.0, 0.3, 0.7);
    ck_assert_int_eq(qr_audio_tempo(x, y, N, FS, 0.9, QR_AUDIO_CROP_CENTRE), QR_OK);
    double px = 0, py = 0;
    for (size_t i = 0; i < N; i++) {
        px += (double)x[i] * x[i];
        py += (double)y[i] * y[i];
    }
    ck_assert_msg(fabs(py / px - 1.0 / 0.9) < 0.02, "tempo 0.9: energy ratio %g", py / px);
    /* deterministic; bad arguments */
    float *z = ta_alloc_f(N);
    ck_assert_int_eq(qr_audio_pitch(x, y, N, FS, 1.5, QR_AUDIO_QUALITY_MEDIUM,
                                    QR_AUDIO_CROP_CENTRE), QR_OK);
    ck_assert_int_eq(qr_audio_pitch(x, z, N, FS, 1.5, QR_AUDIO_QUALITY_MEDIUM,
                                    QR_AUDIO_CROP_CENTRE), QR_OK);
    ck_assert(memcmp(y, z, N * sizeof *y) == 0);
    ck_assert_int_eq(qr_audio_speed(x, y, N, 0.2, QR_AUDIO_QUALITY_MEDIUM, 0), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_speed(x, x, N, 1.1, QR_AUDIO_QUALITY_MEDIUM, 0), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_tempo(x, y, N, FS, NAN, 0), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_tempo(x, y, 0, FS, 1.0, 0), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_pitch(x, y, N, FS, 30.0, QR_AUDIO_QUALITY_MEDIUM, 0), QR_ERR_ARG);
    free(x);
    free(y);
    free(z);
}
END_TEST

START_TEST(test_room_ir)
{
    /* the tail's level in 10 ms windows falls on a line of −60 dB per RT60 (least squares
     * over 0.05·RT60 .. 1.5·RT60), and the DRR is exactly the one asked for */
    static const double rt60s[] = {0.2, 0.5, 0.8};
    for (size_t k = 0; k < 3; k++) {
        double rt60 = rt60s[k];
        size_t n = (size_t)(2.0 * rt60 * FS), w = 160;
        float *h = ta_alloc_f(n);
        ck_assert_int_eq(qr_audio_room_ir(h, n, FS, rt60, 3.0, 42 + k), QR_OK);
        ck_assert(h[0] == 1.0f);
        double e = 0;
        for (size_t i = 1; i < n; i++)
            e += (double)h[i] * h[i];
        ck_assert_msg(fabs(10.0 * log10(1.0 / e) - 3.0) < 1e-4, "DRR %g dB",
                      10.0 * log10(1.0 / e));
        double st = 0, sl = 0, stt = 0, stl = 0, cnt = 0;
        for (size_t a = 1; a + w <= n; a += w) {
            double t = ((double)a + (double)w / 2.0) / FS, p = 0;
            if (t < 0.05 * rt60 || t > 1.5 * rt60)
                continue;
            for (size_t i = a; i < a + w; i++)
                p += (double)h[i] * h[i];
            double l = 10.0 * log10(p / (double)w);
            st += t;
            sl += l;
            stt += t * t;
            stl += t * l;
            cnt += 1;
        }
        double slope = (cnt * stl - st * sl) / (cnt * stt - st * st);
        ck_assert_msg(fabs(slope * rt60 + 60.0) < 1.5, "RT60 %g s: %.2f dB per RT60", rt60,
                      slope * rt60);
        free(h);
    }
    float h[4];
    ck_assert_int_eq(qr_audio_room_ir(h, 4, FS, 0.0, 0.0, 1), QR_ERR_ARG);
    ck_assert_int_eq(qr_audio_room_ir(h, 1, FS, 0.3, 0.0, 1), QR_ERR_ARG);
}
END_TEST

START_TEST(test_reverb_convolution)
{
    /* reverb of a signal is its direct convolution with the IR of ceil(rt60·fs) + 1 samples,
     * cut to the clip's length; of an impulse, the IR itself */
    const double rt60 = 0.05;
    size_t n = 3000, nh = (size_t)ceil(rt60 * FS) + 1;
    float *x = ta_alloc_f(n), *y = ta_alloc_f(n), *h = ta_alloc_f(nh);
    tl_fill_uniform(x, n, -0.5f, 0.5f, 9);
    memcpy(y, x, n * sizeof *x);
    ck_assert_int_eq(qr_audio_reverb(y, n, FS, rt60, 2.0, 77), QR_OK);
    ck_assert_int_eq(qr_audio_room_ir(h, nh, FS, rt60, 2.0, 77), QR_OK);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        for (size_t j = 0; j <= i && j < nh; j++)
            v += (double)h[j] * x[i - j];
        worst = fmax(worst, fabs(v - y[i]));
    }
    ck_assert_msg(worst < 1e-5, "FFT convolution differs by %g", worst);
    memset(x, 0, n * sizeof *x);
    x[0] = 1.0f;
    ck_assert_int_eq(qr_audio_reverb(x, n, FS, rt60, 2.0, 77), QR_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert(fabs((double)x[i] - (i < nh ? h[i] : 0.0)) < 1e-6);
    ck_assert_int_eq(qr_audio_reverb(x, n, FS, 0.0, 2.0, 77), QR_ERR_ARG);
    free(x);
    free(y);
    free(h);
}
END_TEST

/* ---- in the loader ---------------------------------------------------------------------- */

static void write_wav16(const char *path, const float *x, size_t n)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = (int)FS;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(sf != NULL, "%s: %s", path, sf_strerror(NULL));
    ck_assert_int_eq(sf_writef_float(sf, x, (sf_count_t)n), (sf_count_t)n);
    ck_assert_int_eq(sf_close(sf), 0);
}

/* Two classes of one clip each: bursts of 300 Hz and 1 kHz; returns the root. */
static char *voice_tree(char *paths[2])
{
    char *dir = tl_tmpdir();
    static const char *const cls[] = {"a", "b"};
    static const double freq[] = {300.0, 1000.0};
    float *x = ta_alloc_f(N);
    for (size_t k = 0; k < 2; k++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, cls[k]);
        ck_assert_int_eq(mkdir(p, 0700), 0);
        snprintf(p, sizeof p, "%s/%s/c.wav", dir, cls[k]);
        burst(x, freq[k], 0.3, 0.7);
        write_wav16(p, x, N);
        paths[k] = strdup(p);
    }
    free(x);
    return dir;
}

typedef enum { V_SPEED, V_TEMPO, V_PITCH, V_REVERB } voice_step;

/* MFCC of the clip at `path` after one voice step at a fixed value (as the loader does). */
static float *stepped_mfcc(const char *path, voice_step st, double v, uint64_t ir_seed)
{
    float *x = NULL, *y = ta_alloc_f(N);
    size_t n = 0;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_audio_read(path, FS, 2, QR_AUDIO_QUALITY_MEDIUM, &x, &n, &err), QR_OK);
    ck_assert_uint_eq(n, N);
    if (st == V_SPEED)
        ck_assert_int_eq(qr_audio_speed(x, y, N, v, QR_AUDIO_QUALITY_MEDIUM, 0), QR_OK);
    else if (st == V_TEMPO)
        ck_assert_int_eq(qr_audio_tempo(x, y, N, FS, v, 0), QR_OK);
    else if (st == V_PITCH)
        ck_assert_int_eq(qr_audio_pitch(x, y, N, FS, v, QR_AUDIO_QUALITY_MEDIUM, 0), QR_OK);
    else {
        memcpy(y, x, N * sizeof *y);
        ck_assert_int_eq(qr_audio_reverb(y, N, FS, v, 5.0, ir_seed), QR_OK);
    }
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    qr_mfcc *m = NULL;
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    float *out = ta_alloc_f(94 * 13);
    ck_assert_int_eq(qr_mfcc_compute(m, y, N, out), QR_OK);
    qr_mfcc_free(m);
    free(x);
    free(y);
    return out;
}

static qr_audio_options plain_options(const char *root)
{
    qr_audio_options o;
    qr_audio_options_default(&o);
    o.root = root;
    o.cache = 0;
    o.val_split = o.test_split = 0;
    o.augment.time_shift = 0;
    o.augment.gain_min = o.augment.gain_max = 0;
    return o;
}

typedef struct loaded {
    qr_dataset train, val, test;
    qr_audio_stats st;
} loaded;

static loaded load(const qr_audio_options *o)
{
    loaded l;
    qr_error err = {{0}};
    qr_status s = qr_audio_load(o, &l.train, &l.val, &l.test, &l.st, &err);
    ck_assert_msg(s == QR_OK, "load: %s", err.msg);
    return l;
}

static void loaded_free(loaded *l)
{
    qr_dataset_free(&l->train);
    qr_dataset_free(&l->val);
    qr_dataset_free(&l->test);
}

#define ROW (94 * 13)

START_TEST(test_augment_voice_exact)
{
    /* each step on its own at a fixed value: every copy is the MFCC of the stepped clip
     * (the reverb's IR seed is the copy's; all copies then differ but keep the level) */
    char *paths[2];
    char *dir = voice_tree(paths);
    qr_audio_options o = plain_options(dir);
    o.augment.copies = 2;
    for (int st = V_SPEED; st <= V_PITCH; st++) {
        qr_audio_options p = o;
        double v = st == V_PITCH ? 1.5 : 1.08;
        if (st == V_SPEED) {
            p.augment.speed_prob = 1;
            p.augment.speed_min = p.augment.speed_max = v;
        } else if (st == V_TEMPO) {
            p.augment.tempo_prob = 1;
            p.augment.tempo_min = p.augment.tempo_max = v;
        } else {
            p.augment.pitch_prob = 1;
            p.augment.pitch_min = p.augment.pitch_max = v;
        }
        loaded l = load(&p);
        ck_assert_uint_eq(l.train.n, 6);
        for (size_t j = 0; j < 2; j++) {
            float *want = stepped_mfcc(paths[j], (voice_step)st, v, 0);
            for (size_t k = 1; k <= 2; k++) {
                const float *got = l.train.x + (k * 2 + j) * ROW;
                double worst = 0;
                for (size_t i = 0; i < ROW; i++)
                    worst = fmax(worst, fabs((double)got[i] - want[i]));
                ck_assert_msg(worst < 1e-3, "step %d clip %zu copy %zu: MFCC differs by %g", st,
                              j, k, worst);
            }
            free(want);
        }
        loaded_free(&l);
    }
    /* reverb: a copy equals the MFCC of the clip reverberated with some IR seed; checked for
     * rt60 fixed, drr fixed, by matching the first coefficient's mean within 0.05 */
    o.augment.reverb_prob = 1;
    o.augment.rt60_min = o.augment.rt60_max = 0.4;
    o.augment.drr_min = o.augment.drr_max = 5.0;
    loaded l = load(&o);
    for (size_t j = 0; j < 2; j++) {
        float *want = stepped_mfcc(paths[j], V_REVERB, 0.4, 1);
        double mw = 0, mg = 0, mo = 0;
        for (size_t t = 0; t < 94; t++) {
            mw += want[t * 13];
            mg += l.train.x[(2 + j) * ROW + t * 13];
            mo += l.train.x[j * ROW + t * 13];
        }
        ck_assert_msg(fabs(mw - mg) / 94 < 0.05 * fabs(mw / 94) + 0.5, "reverb c0 %g vs %g",
                      mg / 94, mw / 94);
        ck_assert(fabs(mg - mo) > 1.0); /* the tail fills the silence around the burst */
        free(want);
    }
    ck_assert(memcmp(l.train.x + 2 * ROW, l.train.x + 4 * ROW, 2 * ROW * 4) != 0);
    loaded_free(&l);
    for (size_t j = 0; j < 2; j++)
        free(paths[j]);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_augment_voice_draws)
{
    /* with the usual steps on (shift, gain) and a voice step at prob 0.5: copies without it
     * are byte for byte the copies with the voice steps off (their draws come last); the
     * same seed gives the same bytes */
    char *paths[2];
    char *dir = voice_tree(paths);
    qr_audio_options o = plain_options(dir);
    o.augment.copies = 6;
    o.augment.time_shift = 0.05;
    o.augment.gain_min = -6;
    o.augment.gain_max = 6;
    loaded off = load(&o);
    for (int st = V_SPEED; st <= V_REVERB; st++) {
        qr_audio_options p = o;
        if (st == V_SPEED)
            p.augment.speed_prob = 0.5;
        else if (st == V_TEMPO)
            p.augment.tempo_prob = 0.5;
        else if (st == V_PITCH)
            p.augment.pitch_prob = 0.5;
        else
            p.augment.reverb_prob = 0.5;
        loaded a = load(&p), b = load(&p);
        ck_assert(memcmp(a.train.x, b.train.x, a.train.n * ROW * 4) == 0);
        size_t same = 0;
        for (size_t r = 2; r < a.train.n; r++)
            same += memcmp(a.train.x + r * ROW, off.train.x + r * ROW, ROW * 4) == 0;
        ck_assert_msg(same > 0 && same < 12, "step %d: %zu of 12 copies untouched", st, same);
        loaded_free(&a);
        loaded_free(&b);
    }
    loaded_free(&off);
    for (size_t j = 0; j < 2; j++)
        free(paths[j]);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_augment_voice_cache_and_rules)
{
    char *paths[2];
    char *dir = voice_tree(paths);
    qr_audio_options o = plain_options(dir);
    o.augment.copies = 1;
    o.cache = 1;
    loaded l = load(&o);
    ck_assert_int_eq(l.st.cache_augment, QR_AUDIO_CACHE_MISS);
    loaded_free(&l);
    /* each step's settings select another augment cache file; a repeat hits */
    double *knobs[] = {&o.augment.speed_prob, &o.augment.speed_max, &o.augment.tempo_prob,
                       &o.augment.tempo_min, &o.augment.pitch_prob, &o.augment.pitch_max,
                       &o.augment.reverb_prob, &o.augment.rt60_max, &o.augment.drr_min};
    static const double to[] = {0.5, 1.05, 0.5, 0.95, 0.5, 1.0, 0.5, 0.6, 2.0};
    for (size_t k = 0; k < sizeof to / sizeof to[0]; k++) {
        *knobs[k] = to[k];
        l = load(&o);
        ck_assert_msg(l.st.cache_augment == QR_AUDIO_CACHE_MISS, "knob %zu: no miss", k);
        loaded_free(&l);
        l = load(&o);
        ck_assert_msg(l.st.cache_augment == QR_AUDIO_CACHE_HIT, "knob %zu: no hit", k);
        loaded_free(&l);
    }
    /* the rules, errors naming the key */
    static const struct {
        size_t knob;
        double v;
        const char *msg;
    } bad[] = {
        {0, 1.5, "augment.speed.prob"},     {1, 3.0, "augment.speed.factor"},
        {2, -0.1, "augment.tempo.prob"},    {3, 0.4, "augment.tempo.factor"},
        {4, 2.0, "augment.pitch.prob"},     {5, 13.0, "augment.pitch.semitones"},
        {6, 1.01, "augment.reverb.prob"},   {7, 2.5, "augment.reverb.rt60_s"},
        {8, 50.0, "augment.reverb.drr_db"},
    };
    o.cache = 0;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        qr_audio_options p = o;
        double *kn = (double *)((char *)&p + ((char *)knobs[bad[k].knob] - (char *)&o));
        *kn = bad[k].v;
        qr_error err = {{0}};
        ck_assert_int_eq(qr_audio_options_check(&p, &err), QR_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, bad[k].msg) != NULL, "'%s' lacks '%s'", err.msg,
                      bad[k].msg);
    }
    for (size_t j = 0; j < 2; j++)
        free(paths[j]);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

Suite *qr_suite_audio_voice(void)
{
    Suite *s = suite_create("audio_voice");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_speed_tempo_pitch_bursts);
    tcase_add_test(tc, test_room_ir);
    tcase_add_test(tc, test_reverb_convolution);
    tcase_add_test(tc, test_augment_voice_exact);
    tcase_add_test(tc, test_augment_voice_draws);
    tcase_add_test(tc, test_augment_voice_cache_and_rules);
    suite_add_tcase(s, tc);
    return s;
}
