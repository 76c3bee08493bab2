/* Helpers of the audio suites (test_audio*.c): temporary WAV trees, libsndfile writers and
 * loader wrappers that assert. Every path they return is malloc'ed; the caller frees. */
#ifndef QREG_TESTLIB_AUDIO_H
#define QREG_TESTLIB_AUDIO_H

#include <stddef.h>
#include "qreg/audio.h"
#include "qreg/train.h"

#define TA_PI 3.14159265358979323846

/* Warnings collected from the loader (ta_base_options routes them here). */
typedef struct ta_warns {
    int n;
    char text[16384];
} ta_warns;

/* The three splits and the statistics of one qr_audio_load. */
typedef struct ta_splits {
    qr_dataset train, val, test;
    qr_audio_stats st;
} ta_splits;

/* dir/name, malloc'ed. */
char *ta_join(const char *dir, const char *name);
/* mkdir dir/name (an existing one is fine). */
void ta_mkdir_in(const char *dir, const char *name);
/* Write interleaved samples (frames x ch) with libsndfile; `format` e.g.
 * SF_FORMAT_WAV | SF_FORMAT_PCM_16. PCM 16 is written as round(x * 32767) through
 * sf_writef_short, so the stored integers are exactly known. */
void ta_write_audio(const char *path, int rate, int ch, int format, const float *x,
                    size_t frames);
void ta_write_wav16(const char *path, int rate, const float *x, size_t n);
/* n zeroed floats (at least one). */
float *ta_alloc_f(size_t n);
void ta_fill_sine(float *x, size_t n, double rate, double freq, double amp);
/* A 1 s, 16 kHz clip "kind" (0: 300 Hz, 1: 1 kHz, 2: 2.5 kHz sine) with a little seeded
 * noise so that every file differs. */
void ta_write_clip(const char *dir, const char *name, int kind, unsigned seed);
void ta_write_bytes(const char *path, const void *data, size_t n);
/* The whole file; *n its length. */
unsigned char *ta_read_bytes(const char *path, size_t *n);
/* Default options on `root`, cache off, warnings collected into *w (if w). */
qr_audio_options ta_base_options(const char *root, ta_warns *w);
void ta_splits_free(ta_splits *s);
/* qr_audio_load that must succeed. */
ta_splits ta_load_ok(const qr_audio_options *o);
int ta_is_zero(const qr_dataset *d);
/* The load must fail with `want`, naming `what` (and `what2` unless NULL), and leave every
 * split zeroed. */
void ta_expect_fail(const qr_audio_options *o, qr_status want, const char *what,
                    const char *what2);
/* MFCC of a clip computed directly (the loader must give exactly this). */
float *ta_direct_mfcc(const qr_audio_options *o, const char *path, size_t *T);
/* A dataset root: classes "no" (300 Hz) and "yes" (1 kHz), `per` clips each, plus a
 * _background_noise_ folder, a hidden folder and a README in a class folder. */
char *ta_make_tree(size_t per);

#endif
