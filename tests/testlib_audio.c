/* Helpers of the audio suites: see testlib_audio.h. */
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

char *ta_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void ta_mkdir_in(const char *dir, const char *name)
{
    char *p = ta_join(dir, name);
    ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p, strerror(errno));
    free(p);
}

/* Write interleaved samples (frames x ch) with libsndfile; `format` e.g.
 * SF_FORMAT_WAV | SF_FORMAT_PCM_16. PCM 16 is written as round(x * 32767) through
 * sf_writef_short, so the stored integers are exactly known. */
void ta_write_audio(const char *path, int rate, int ch, int format, const float *x,
                    size_t frames)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = ch;
    info.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(sf != NULL, "%s: %s", path, sf_strerror(NULL));
    if ((format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16) {
        short *s = malloc(frames * (size_t)ch * sizeof *s);
        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < frames * (size_t)ch; i++) {
            double v = round((double)x[i] * 32767.0);
            s[i] = (short)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
        ck_assert_int_eq(sf_writef_short(sf, s, (sf_count_t)frames), (sf_count_t)frames);
        free(s);
    } else {
        ck_assert_int_eq(sf_writef_float(sf, x, (sf_count_t)frames), (sf_count_t)frames);
    }
    ck_assert_int_eq(sf_close(sf), 0);
}

void ta_write_wav16(const char *path, int rate, const float *x, size_t n)
{
    ta_write_audio(path, rate, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16, x, n);
}

float *ta_alloc_f(size_t n)
{
    float *x = calloc(n ? n : 1, sizeof *x);
    ck_assert_ptr_nonnull(x);
    return x;
}

void ta_fill_sine(float *x, size_t n, double rate, double freq, double amp)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(amp * sin(2.0 * TA_PI * freq * (double)i / rate));
}

/* A 1 s, 16 kHz clip "kind" (0: 300 Hz, 1: 1 kHz, 2: 2.5 kHz sine) with a little seeded
 * noise so that every file differs. */
void ta_write_clip(const char *dir, const char *name, int kind, unsigned seed)
{
    static const double freq[] = {300.0, 1000.0, 2500.0};
    size_t n = 16000;
    float *x = ta_alloc_f(n), *z = ta_alloc_f(n);
    ta_fill_sine(x, n, 16000.0, freq[kind], 0.4);
    tl_fill_uniform(z, n, -0.02f, 0.02f, seed);
    for (size_t i = 0; i < n; i++)
        x[i] += z[i];
    char *p = ta_join(dir, name);
    ta_write_wav16(p, 16000, x, n);
    free(p);
    free(x);
    free(z);
}

void ta_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

unsigned char *ta_read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void ta_collect(void *user, const char *msg)
{
    ta_warns *w = user;
    w->n++;
    size_t len = strlen(w->text);
    snprintf(w->text + len, sizeof w->text - len, "%s\n", msg);
}

qr_audio_options ta_base_options(const char *root, ta_warns *w)
{
    qr_audio_options o;
    qr_audio_options_default(&o);
    o.root = root;
    o.cache = 0;
    if (w) {
        memset(w, 0, sizeof *w);
        o.warn = ta_collect;
        o.warn_user = w;
    }
    return o;
}

void ta_splits_free(ta_splits *s)
{
    qr_dataset_free(&s->train);
    qr_dataset_free(&s->val);
    qr_dataset_free(&s->test);
}

ta_splits ta_load_ok(const qr_audio_options *o)
{
    ta_splits s;
    qr_error err = {{0}};
    qr_status st = qr_audio_load(o, &s.train, &s.val, &s.test, &s.st, &err);
    ck_assert_msg(st == QR_OK, "load failed: %s (%s)", qr_strerror(st), err.msg);
    return s;
}

int ta_is_zero(const qr_dataset *d)
{
    return d->n == 0 && !d->x && !d->y && !d->class_names && d->n_classes == 0;
}

/* The load must fail with `want`, naming `what` (and `what2` unless NULL). */
void ta_expect_fail(const qr_audio_options *o, qr_status want, const char *what,
                    const char *what2)
{
    ta_splits s;
    memset(&s, 0x5a, sizeof s);
    qr_error err = {{0}};
    qr_status st = qr_audio_load(o, &s.train, &s.val, &s.test, &s.st, &err);
    ck_assert_msg(st == want, "status %d (%s), want %d; message: %s", (int)st, qr_strerror(st),
                  (int)want, err.msg);
    ck_assert_msg(strstr(err.msg, what) != NULL, "message \"%s\" lacks \"%s\"", err.msg, what);
    ck_assert_msg(!what2 || strstr(err.msg, what2) != NULL, "message \"%s\" lacks \"%s\"",
                  err.msg, what2);
    ck_assert(ta_is_zero(&s.train) && ta_is_zero(&s.val) && ta_is_zero(&s.test));
}

/* MFCC of a clip computed directly (the loader must give exactly this). */
float *ta_direct_mfcc(const qr_audio_options *o, const char *path, size_t *T)
{
    float *y = NULL;
    size_t n = 0;
    qr_error err = {{0}};
    ck_assert_msg(qr_audio_read(path, o->sample_rate, o->max_channels, o->quality, &y, &n,
                                &err) == QR_OK, "%s", err.msg);
    size_t L = (size_t)llround(o->duration * o->sample_rate);
    float *clip = ta_alloc_f(L);
    qr_audio_fit(y, n, clip, L, o->crop);
    qr_mfcc_config c = o->mfcc;
    c.sample_rate = o->sample_rate;
    qr_mfcc *m = NULL;
    ck_assert_int_eq(qr_mfcc_new(&c, &m, &err), QR_OK);
    *T = qr_mfcc_frames(m, L);
    float *out = ta_alloc_f(*T * c.n_mfcc);
    ck_assert_int_eq(qr_mfcc_compute(m, clip, L, out), QR_OK);
    qr_mfcc_free(m);
    free(clip);
    free(y);
    return out;
}

/* A dataset root: classes "no" (300 Hz) and "yes" (1 kHz), `per` clips each, plus a
 * _background_noise_ folder, a hidden folder and a README in a class folder. */
char *ta_make_tree(size_t per)
{
    char *dir = tl_tmpdir();
    ta_mkdir_in(dir, "yes");
    ta_mkdir_in(dir, "no");
    ta_mkdir_in(dir, "_background_noise_");
    ta_mkdir_in(dir, ".hidden");
    for (size_t i = 0; i < per; i++) {
        char name[64];
        snprintf(name, sizeof name, "no/n%02zu.wav", i);
        ta_write_clip(dir, name, 0, (unsigned)(100 + i));
        snprintf(name, sizeof name, "yes/y%02zu.wav", i);
        ta_write_clip(dir, name, 1, (unsigned)(200 + i));
    }
    free(tl_write_file(dir, "yes/README.txt", "not audio\n"));
    ta_write_clip(dir, "_background_noise_/noise.wav", 2, 7);
    ta_write_clip(dir, ".hidden/x.wav", 2, 8);
    return dir;
}
