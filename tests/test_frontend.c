/* The integer audio front end (runtime/qrt_frontend.c) and its host side
 * (datasets/frontend_int.c): error against the float MFCC on synthesized signals (and the
 * spoken word "yes" when espeak-ng is installed), streaming hop by hop against whole clips,
 * the tables written as C compiled with the device code, the loader's "int" front end and
 * the API's argument checks. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <sndfile.h>

#include "datasets/audio_impl.h"
#include "lib/crc32.h"
#include "lib/fileio.h"
#include "qreg/audio.h"
#include "qreg/export.h"
#include "qreg/model.h"
#include "qreg/rng.h"
#include "qreg/train.h"
#include "qrt_frontend.h"
#include "export/qrt_host.h"
#include "testlib.h"

#define PI 3.14159265358979323846
#define RATE 16000
#define LEN 16000

/* Synthesized test signals as int16 PCM (1 s at 16 kHz); names for the printout. */
enum { SIG_TONE, SIG_LOUD, SIG_QUIET, SIG_NOISE, SIG_HUSH, SIG_CHIRP, SIG_SILENCE, SIG_CLICKS,
       SIG_N };
static const char *const sig_name[SIG_N] = {"440 Hz tone -6 dBFS", "1 kHz tone 0 dBFS",
                                            "3 kHz tone -40 dBFS", "white noise -10 dBFS",
                                            "white noise -70 dBFS", "chirp 100 Hz-7 kHz",
                                            "two tones, then silence", "clicks"};

static void make_signal(int kind, int16_t *pcm, size_t n)
{
    qr_rng r;
    qr_rng_seed(&r, 100 + (uint64_t)kind);
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / RATE, v = 0;
        switch (kind) {
        case SIG_TONE: v = 0.5 * sin(2 * PI * 440 * t); break;
        case SIG_LOUD: v = 0.999 * sin(2 * PI * 1000 * t); break;
        case SIG_QUIET: v = 0.01 * sin(2 * PI * 3000 * t); break;
        case SIG_NOISE: v = 0.3 * (2 * qr_rng_uniform_d(&r) - 1); break;
        case SIG_HUSH: v = 3e-4 * (2 * qr_rng_uniform_d(&r) - 1); break;
        case SIG_CHIRP: v = 0.5 * sin(2 * PI * (100 * t + 0.5 * 6900 * t * t)); break;
        case SIG_SILENCE:
            v = i < n / 2 ? 0.3 * sin(2 * PI * 700 * t) + 0.2 * sin(2 * PI * 2100 * t) : 0;
            break;
        case SIG_CLICKS: v = i % 2000 == 7 ? 0.9 : 0; break;
        }
        double q = round(v * 32768.0);
        pcm[i] = (int16_t)(q > 32767 ? 32767 : q < -32768 ? -32768 : q);
    }
}

typedef struct err_stats {
    double max, sum;
    size_t n;
} err_stats;

static void err_add(err_stats *e, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        e->max = d > e->max ? d : e->max;
        e->sum += d;
    }
    e->n += n;
}

/* Integer and float features of pcm under config c (log_mel or MFCC): their error. */
static err_stats compare(const qr_mfcc_config *c, int log_mel, const int16_t *pcm, size_t n)
{
    qr_mfcc *m = NULL;
    qr_ifront *f = NULL;
    qr_error e;
    ck_assert_msg(qr_mfcc_new(c, &m, &e) == QR_OK, "%s", e.msg);
    ck_assert_msg(qr_ifront_new(c, log_mel, &f, &e) == QR_OK, "%s", e.msg);
    size_t T = qr_mfcc_frames(m, n), D = log_mel ? c->n_mels : c->n_mfcc;
    ck_assert_uint_eq(qr_ifront_frames(f, n), T);
    ck_assert_uint_eq(qr_ifront_out_len(f), D);
    float *x = malloc(n * sizeof *x), *want = malloc(T * D * sizeof *want);
    float *got = malloc(T * D * sizeof *got);
    ck_assert(x && want && got);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)pcm[i] / 32768.0f;
    ck_assert_int_eq(log_mel ? qr_mfcc_log_mel(m, x, n, want) : qr_mfcc_compute(m, x, n, want),
                     QR_OK);
    ck_assert_int_eq(qr_ifront_compute_float(f, x, n, got), QR_OK);
    err_stats s = {0};
    err_add(&s, got, want, T * D);
    free(x);
    free(want);
    free(got);
    qr_mfcc_free(m);
    qr_ifront_free(f);
    return s;
}

START_TEST(test_frontend_error_vs_float)
{
    int16_t *pcm = malloc(LEN * sizeof *pcm);
    ck_assert_ptr_nonnull(pcm);
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    err_stats all_mel = {0}, all_cep = {0};
    for (int k = 0; k < SIG_N; k++) {
        make_signal(k, pcm, LEN);
        err_stats a = compare(&c, 1, pcm, LEN), b = compare(&c, 0, pcm, LEN);
        printf("frontend: %-24s log-mel max %.2e mean %.2e | MFCC max %.2e mean %.2e\n",
               sig_name[k], a.max, a.sum / (double)a.n, b.max, b.sum / (double)b.n);
        all_mel.max = fmax(all_mel.max, a.max);
        all_mel.sum += a.sum;
        all_mel.n += a.n;
        all_cep.max = fmax(all_cep.max, b.max);
        all_cep.sum += b.sum;
        all_cep.n += b.n;
    }
    /* speech, when espeak-ng is installed (22.05 kHz, resampled by qreg) */
    if (system("command -v espeak-ng >/dev/null 2>&1") == 0) {
        static const char *const words[] = {"yes", "stop", "seven", "left"};
        for (int w = 0; w < 4; w++) {
            char cmd[256], path[64];
            snprintf(path, sizeof path, "fe_%s.wav", words[w]);
            snprintf(cmd, sizeof cmd, "espeak-ng -w %s '%s' >/dev/null 2>&1", path, words[w]);
            ck_assert_int_eq(system(cmd), 0);
            float *y = NULL, *fit = malloc(LEN * sizeof *fit);
            size_t n = 0;
            qr_error e;
            ck_assert_msg(qr_audio_read(path, RATE, 1, QR_AUDIO_QUALITY_MEDIUM, &y, &n, &e) ==
                          QR_OK, "%s", e.msg);
            qr_audio_fit(y, n, fit, LEN, QR_AUDIO_CROP_CENTRE);
            qr_audio_to_pcm16(fit, LEN, pcm);
            err_stats a = compare(&c, 1, pcm, LEN), b = compare(&c, 0, pcm, LEN);
            printf("frontend: espeak-ng '%-16s log-mel max %.2e mean %.2e | MFCC max %.2e mean "
                   "%.2e\n", words[w], a.max, a.sum / (double)a.n, b.max, b.sum / (double)b.n);
            ck_assert(a.max < 0.02 && b.max < 0.01);
            ck_assert(a.sum / (double)a.n < 1e-3 && b.sum / (double)b.n < 1e-3);
            free(y);
            free(fit);
        }
    } else {
        printf("frontend: espeak-ng not installed; no speech\n");
    }
    printf("frontend: all signals             log-mel max %.2e mean %.2e | MFCC max %.2e mean "
           "%.2e\n", all_mel.max, all_mel.sum / (double)all_mel.n, all_cep.max,
           all_cep.sum / (double)all_cep.n);
    /* the float MFCC itself is within 3.4e-3 (log-mel) of NumPy's float64 (docs/audio.md) */
    ck_assert(all_mel.max < 0.02 && all_cep.max < 0.01);
    ck_assert(all_mel.sum / (double)all_mel.n < 1e-3 && all_cep.sum / (double)all_cep.n < 1e-3);

    /* another configuration: W = 400 < n_fft = 512 (zero padding), Hamming, 26 bands from
     * 60 to 7600 Hz, 20 coefficients, pre-emphasis 0.5, floor 1e-8, hop 170 */
    qr_mfcc_config d = c;
    d.win_length = 400;
    d.n_fft = 512;
    d.hop_length = 170;
    d.window = QR_WINDOW_HAMMING;
    d.n_mels = 26;
    d.f_min = 60;
    d.f_max = 7600;
    d.n_mfcc = 20;
    d.preemphasis = 0.5;
    d.log_floor = 1e-8;
    for (int k = 0; k < SIG_N; k++) {
        make_signal(k, pcm, LEN);
        err_stats a = compare(&d, 1, pcm, LEN), b = compare(&d, 0, pcm, LEN);
        printf("frontend: (W 400, Hamming) %-24s log-mel max %.2e | MFCC max %.2e\n",
               sig_name[k], a.max, b.max);
        ck_assert(a.max < 0.02 && b.max < 0.01);
    }
    free(pcm);
}
END_TEST

/* The runtime's stream, fed in chunks of every size (1 sample, a hop, odd sizes, a whole
 * clip), gives exactly the frames of the whole-clip computation; hop > W skips samples. */
static void stream_equals_clip(const qr_mfcc_config *c, const int16_t *pcm, size_t n)
{
    qr_ifront *f = NULL;
    qr_error e;
    ck_assert_msg(qr_ifront_new(c, 0, &f, &e) == QR_OK, "%s", e.msg);
    const qrt_frontend_tables *t = qr_ifront_tables(f);
    size_t T = qr_ifront_frames(f, n), D = qr_ifront_out_len(f);
    ck_assert_uint_gt(T, 1);
    int32_t *want = malloc(T * D * sizeof *want), *got = malloc(T * D * sizeof *got);
    int16_t *buf = malloc(qrt_frontend_buffer_size(t));
    size_t sb = qrt_frontend_scratch_size(t);
    void *scratch = malloc(sb);
    ck_assert(want && got && buf && scratch);
    ck_assert_int_eq(qr_ifront_compute(f, pcm, n, want), QR_OK);
    const size_t chunks[] = {1, 7, c->hop_length, c->hop_length + 1, 1000, n};
    for (size_t ci = 0; ci < sizeof chunks / sizeof *chunks; ci++) {
        qrt_frontend fe;
        ck_assert_int_eq(qrt_frontend_init(&fe, t, buf, qrt_frontend_buffer_size(t)), QRT_OK);
        for (int pass = 0; pass < 2; pass++) { /* the second pass after a reset */
            memset(got, 0, T * D * sizeof *got);
            size_t frames = 0, at = 0;
            while (at < n) {
                size_t len = chunks[ci] < n - at ? chunks[ci] : n - at;
                const int16_t *p = pcm + at;
                at += len;
                while (len) {
                    size_t used = 0;
                    int r = qrt_frontend_push(&fe, p, len, &used, got + frames * D, scratch, sb);
                    ck_assert_int_ge(r, 0);
                    ck_assert_uint_le(used, len);
                    frames += (size_t)r;
                    ck_assert_uint_le(frames, T);
                    p += used;
                    len -= used;
                    if (chunks[ci] == c->hop_length)
                        ck_assert(r == 0 || len <= c->hop_length); /* at most one per hop */
                }
            }
            ck_assert_uint_eq(frames, T);
            ck_assert_msg(memcmp(got, want, T * D * sizeof *got) == 0,
                          "stream != clip (chunk %zu)", chunks[ci]);
            qrt_frontend_reset(&fe);
        }
    }
    free(want);
    free(got);
    free(buf);
    free(scratch);
    qr_ifront_free(f);
}

START_TEST(test_frontend_streaming)
{
    int16_t *pcm = malloc(LEN * sizeof *pcm);
    ck_assert_ptr_nonnull(pcm);
    make_signal(SIG_CHIRP, pcm, LEN);
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    stream_equals_clip(&c, pcm, LEN);
    c.win_length = 400; /* hop > W: the stream skips samples between windows */
    c.n_fft = 512;
    c.hop_length = 480;
    c.n_mels = 20;
    stream_equals_clip(&c, pcm, LEN);
    c.hop_length = 400; /* hop = W */
    stream_equals_clip(&c, pcm, LEN);
    free(pcm);
}
END_TEST

/* The tables written as C, compiled by the host's cc with runtime/qrt_frontend.c alone
 * (strict flags) and streamed hop by hop, give the library's frames bit for bit. */
START_TEST(test_frontend_write_c)
{
    const char *src = getenv("QR_SRCDIR");
    if (src == NULL) {
        printf("frontend: write_c: QR_SRCDIR unset (run through make check); skipped\n");
        return;
    }
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    qr_ifront *f = NULL;
    qr_error e;
    ck_assert_msg(qr_ifront_new(&c, 0, &f, &e) == QR_OK, "%s", e.msg);
    ck_assert_int_eq(qr_ifront_write_c(f, ".", "kws", &e), QR_OK);
    ck_assert_int_eq(qr_ifront_write_c(f, ".", "9bad", &e), QR_ERR_ARG);
    ck_assert_int_eq(qr_ifront_write_c(f, "/nonexistent/dir", "x", &e), QR_ERR_IO);
    size_t n = 4000, T = qr_ifront_frames(f, n), D = qr_ifront_out_len(f);
    int16_t *pcm = malloc(LEN * sizeof *pcm);
    int32_t *want = malloc(T * D * sizeof *want);
    ck_assert(pcm && want);
    make_signal(SIG_SILENCE, pcm, LEN);
    ck_assert_int_eq(qr_ifront_compute(f, pcm + 5000, n, want), QR_OK);
    FILE *d = fopen("fe_driver.c", "w");
    ck_assert_ptr_nonnull(d);
    fprintf(d, "#include <stdio.h>\n#include \"kws_frontend.h\"\nstatic const int16_t pcm[%zu] "
               "= {", n);
    for (size_t i = 0; i < n; i++)
        fprintf(d, "%d,%s", pcm[5000 + i], i % 16 == 15 ? "\n" : "");
    fprintf(d, "};\nstatic const int32_t want[%zu] = {", T * D);
    for (size_t i = 0; i < T * D; i++)
        fprintf(d, "%ld,%s", (long)want[i], i % 8 == 7 ? "\n" : "");
    fprintf(d, "};\nstatic int16_t buf[%zu];\nstatic int32_t scratch[%zu], out[%zu];\n"
               "int main(void)\n{\n    qrt_frontend fe;\n    size_t frames = 0, bad = 0;\n"
               "    if (qrt_frontend_init(&fe, &kws_frontend, buf, sizeof buf) != QRT_OK)\n"
               "        return 2;\n"
               "    for (size_t at = 0; at < %zu; at += %zu) {\n"
               "        const int16_t *p = pcm + at;\n"
               "        for (size_t left = %zu, used = 0; left; p += used, left -= used) {\n"
               "            int r = qrt_frontend_push(&fe, p, left, &used, out, scratch, "
               "sizeof scratch);\n"
               "            if (r < 0)\n                return 3;\n"
               "            for (size_t i = 0; r == 1 && i < %zu; i++)\n"
               "                bad += out[i] != want[frames * %zu + i];\n"
               "            frames += (size_t)r;\n        }\n    }\n"
               "    printf(\"frontend: compiled tables: %%zu frames, %%zu values differ\\n\", "
               "frames, bad);\n    return bad || frames != %zu;\n}\n",
            (size_t)c.win_length, qrt_frontend_scratch_size(qr_ifront_tables(f)) / 4, D, n,
            c.hop_length, c.hop_length, D, D, T);
    ck_assert_int_eq(fclose(d), 0);
    ck_assert_uint_eq(n % c.hop_length, 0);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cc -std=c99 -O1 -Wall -Wextra -Wconversion -Werror -I'%s/runtime' -I. -c "
             "'%s/runtime/qrt_frontend.c' -ffreestanding -o fe_rt.o && "
             "cc -std=c99 -O1 -Wall -Wextra -Werror -I'%s/runtime' -I. fe_driver.c "
             "kws_frontend.c fe_rt.o -o fe_driver && ./fe_driver", src, src, src);
    ck_assert_msg(system(cmd) == 0, "compiled tables differ from the library (%s)", cmd);
    free(pcm);
    free(want);
    qr_ifront_free(f);
}
END_TEST

/* Argument and table checks of the runtime; configurations the integer front end refuses. */
START_TEST(test_frontend_errors)
{
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    qr_ifront *f = NULL;
    qr_error e;
    c.n_fft = 1536;
    ck_assert_int_eq(qr_ifront_new(&c, 0, &f, &e), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "power of two"));
    c.n_fft = 1024;
    c.center = 1;
    ck_assert_int_eq(qr_ifront_new(&c, 0, &f, &e), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "center"));
    c.center = 0;
    c.n_mels = 600;
    ck_assert_int_eq(qr_ifront_new(&c, 0, &f, &e), QR_ERR_CONFIG);
    ck_assert_ptr_null(f);
    c.n_mels = 40;
    ck_assert_int_eq(qr_ifront_new(&c, 0, &f, &e), QR_OK);
    const qrt_frontend_tables *t = qr_ifront_tables(f);
    ck_assert_int_eq(qrt_frontend_check(t), QRT_OK);
    ck_assert_uint_eq(qrt_frontend_out_len(t), 13);
    ck_assert_uint_eq(qrt_frontend_buffer_size(t), 2048);
    ck_assert_uint_eq(qrt_frontend_scratch_size(t), (1024 + 2 + 40) * 4);
    qrt_frontend_tables bad = *t;
    bad.fft_log2 = 3;
    ck_assert_int_eq(qrt_frontend_check(&bad), QRT_ERR_RANGE);
    bad = *t;
    bad.n_mfcc = 41;
    ck_assert_int_eq(qrt_frontend_check(&bad), QRT_ERR_RANGE);
    bad = *t;
    bad.dct_q30 = NULL;
    ck_assert_int_eq(qrt_frontend_check(&bad), QRT_ERR_ARG);
    bad = *t;
    bad.win_length = 2048;
    ck_assert_int_eq(qrt_frontend_check(&bad), QRT_ERR_RANGE);
    ck_assert_int_eq(qrt_frontend_check(NULL), QRT_ERR_ARG);
    int16_t buf[1024];
    int32_t scratch[1070], out[13];
    qrt_frontend fe;
    ck_assert_int_eq(qrt_frontend_init(&fe, t, buf, sizeof buf - 2), QRT_ERR_SCRATCH);
    ck_assert_int_eq(qrt_frontend_init(&fe, &bad, buf, sizeof buf), QRT_ERR_RANGE);
    ck_assert_int_eq(qrt_frontend_init(&fe, t, buf, sizeof buf), QRT_OK);
    size_t used = 99;
    int16_t pcm[160] = {0};
    ck_assert_int_eq(qrt_frontend_push(&fe, pcm, 160, &used, out, scratch, 1066 * 4 - 4),
                     QRT_ERR_SCRATCH);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(qrt_frontend_push(&fe, pcm, 160, &used, out, (char *)scratch + 2,
                                       1066 * 4), QRT_ERR_ALIGN);
    ck_assert_int_eq(qrt_frontend_push(&fe, NULL, 160, &used, out, scratch, sizeof scratch),
                     QRT_ERR_ARG);
    ck_assert_int_eq(qrt_frontend_push(&fe, pcm, 0, &used, out, scratch, sizeof scratch), 0);
    /* digital silence: every log-mel band at the floor, so c[0] = √M·ln(floor), c[i>0] = 0 */
    int r = 0;
    for (int k = 0; k < 7; k++)
        r = qrt_frontend_push(&fe, pcm, 160, &used, out, scratch, sizeof scratch);
    ck_assert_int_eq(r, 1);
    ck_assert_uint_eq(used, 64); /* 1024 = 6·160 + 64 */
    ck_assert_int_le(labs((long)out[0] - lround(sqrt(40.0) * log(1e-6) * 65536.0)), 4);
    for (int i = 1; i < 13; i++)
        ck_assert_int_le(abs(out[i]), 1);
    ck_assert_int_eq(qr_ifront_compute(f, pcm, 100, out), QR_ERR_SHAPE);
    qr_ifront_free(f);
}
END_TEST

/* A 16-bit mono WAV of pcm at 16 kHz. */
static void write_pcm(const char *path, const int16_t *pcm, size_t n)
{
    SF_INFO info = {.samplerate = RATE, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(sf != NULL, "%s: %s", path, sf_strerror(NULL));
    ck_assert_int_eq(sf_write_short(sf, pcm, (sf_count_t)n), (sf_count_t)n);
    ck_assert_int_eq(sf_close(sf), 0);
}

/* data.audio.frontend = "int": the loader's features are the runtime's on the clip's int16
 * samples (bit for bit, base and augmented rows alike), close to the float front end's, and
 * cached under a key of their own. */
START_TEST(test_frontend_loader)
{
    char *dir = tl_tmpdir_plain();
    char path[4096];
    int16_t *pcm = malloc(LEN * sizeof *pcm);
    ck_assert_ptr_nonnull(pcm);
    static const char *const cls[2] = {"a", "b"};
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, cls[c]);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        for (int i = 0; i < 3; i++) {
            make_signal(c ? SIG_CHIRP : SIG_SILENCE, pcm, LEN);
            for (size_t j = 0; j < LEN; j += 97)
                pcm[j] = (int16_t)(pcm[j] + 50 * i); /* every file differs */
            snprintf(path, sizeof path, "%s/%s/%d.wav", dir, cls[c], i);
            write_pcm(path, pcm, LEN);
        }
    }
    char json[4096];
    snprintf(json, sizeof json,
             "{\"data\": {\"audio\": {\"root\": \"%s\", \"frontend\": \"int\","
             " \"validation_split\": 0, \"test_split\": 0,"
             " \"augment\": {\"copies\": 1}}},"
             " \"model\": [{\"type\": \"flatten\"}, {\"type\": \"dense\"}]}", dir);
    char *cfg = tl_write_file(dir, "kws.json", json);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(cfg, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_int_eq(c.audio->frontend, QR_FRONTEND_INT);
    qr_audio_options o = *c.audio;
    qr_dataset tr[2], va[2], te[2];
    qr_audio_stats st[2];
    for (int k = 0; k < 2; k++) {
        o.frontend = k ? QR_FRONTEND_INT : QR_FRONTEND_FLOAT;
        ck_assert_msg(qr_audio_load(&o, &tr[k], &va[k], &te[k], &st[k], &err) == QR_OK, "%s",
                      err.msg);
        ck_assert_int_eq(st[k].cache_features, QR_AUDIO_CACHE_MISS);
        ck_assert_uint_eq(tr[k].n, 12);
        ck_assert_uint_eq(tr[k].t, 94);
        ck_assert_uint_eq(tr[k].f, 13);
    }
    ck_assert_str_ne(st[0].cache_path, st[1].cache_path);
    qr_ifront *f = NULL;
    ck_assert_int_eq(qr_ifront_new(&o.mfcc, 0, &f, &err), QR_OK);
    float *x = malloc(LEN * sizeof *x), *want = malloc(94 * 13 * sizeof *want);
    ck_assert(x && want);
    err_stats e = {0};
    for (size_t r = 0; r < 6; r++) {
        snprintf(path, sizeof path, "%s/%s/%zu.wav", dir, cls[r / 3], r % 3);
        float *y = NULL;
        size_t n = 0;
        ck_assert_int_eq(qr_audio_read(path, RATE, 2, QR_AUDIO_QUALITY_MEDIUM, &y, &n, &err),
                         QR_OK);
        ck_assert_uint_eq(n, LEN);
        ck_assert_int_eq(qr_ifront_compute_float(f, y, n, want), QR_OK);
        ck_assert(memcmp(tr[1].x + r * 94 * 13, want, sizeof(float) * 94 * 13) == 0);
        err_add(&e, tr[1].x + r * 94 * 13, tr[0].x + r * 94 * 13, 94 * 13);
        free(y);
    }
    ck_assert(e.max < 0.01);
    /* the second load of each kind hits its own cache file */
    for (int k = 0; k < 2; k++) {
        qr_dataset a, b, d;
        qr_audio_stats s2;
        o.frontend = k ? QR_FRONTEND_INT : QR_FRONTEND_FLOAT;
        ck_assert_int_eq(qr_audio_load(&o, &a, &b, &d, &s2, &err), QR_OK);
        ck_assert_int_eq(s2.cache_features, QR_AUDIO_CACHE_HIT);
        ck_assert_int_eq(s2.cache_augment, QR_AUDIO_CACHE_HIT);
        ck_assert_str_eq(s2.cache_path, st[k].cache_path);
        ck_assert(memcmp(a.x, tr[k].x, sizeof(float) * 12 * 94 * 13) == 0);
        qr_dataset_free(&a);
        qr_dataset_free(&b);
        qr_dataset_free(&d);
    }
    /* the integer front end refuses settings it cannot compute */
    o.frontend = QR_FRONTEND_INT;
    o.mfcc.center = 1;
    ck_assert_int_eq(qr_audio_options_check(&o, &err), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "center"));
    o.mfcc.center = 0;
    o.frontend = (qr_audio_frontend)2;
    ck_assert_int_eq(qr_audio_options_check(&o, &err), QR_ERR_CONFIG);
    qr_train_config_free(&c);
    free(cfg);
    snprintf(json, sizeof json, "{\"data\": {\"audio\": {\"root\": \"x\", \"frontend\": "
             "\"fixed\"}}, \"model\": [{\"type\": \"dense\"}]}");
    cfg = tl_write_file(dir, "bad.json", json);
    ck_assert_int_eq(qr_train_config_load(cfg, &c, &err), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "'data.audio.frontend'"));
    free(cfg);
    for (int k = 0; k < 2; k++) {
        qr_dataset_free(&tr[k]);
        qr_dataset_free(&va[k]);
        qr_dataset_free(&te[k]);
    }
    qr_ifront_free(f);
    free(x);
    free(want);
    free(pcm);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* The feature settings: described, applied back, compared; stored in the model file
 * (version 2 only when present; a model without them stays version 1). */
START_TEST(test_frontend_model_features)
{
    qr_audio_options o, back;
    qr_audio_options_default(&o);
    o.root = "x";
    o.sample_rate = 8000;
    o.duration = 0.5;
    o.frontend = QR_FRONTEND_INT;
    o.mfcc.win_length = o.mfcc.n_fft = 256;
    o.mfcc.hop_length = 80;
    o.mfcc.n_mels = 20;
    o.mfcc.n_mfcc = 10;
    char *d = qr_audio_features_describe(&o, 1);
    ck_assert_ptr_nonnull(d);
    cJSON *j = cJSON_Parse(d);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "frontend")->valuestring, "int");
    ck_assert_int_eq((int)cJSON_GetObjectItem(j, "frames")->valuedouble, 1 + (4000 - 256) / 80);
    ck_assert(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "mfcc"), "f_max")->valuedouble == 4000);
    cJSON_Delete(j);
    qr_audio_options_default(&back);
    back.root = "x";
    int stdz = 0;
    qr_error e;
    ck_assert_msg(qr_audio_features_apply(d, &back, &stdz, &e) == QR_OK, "%s", e.msg);
    ck_assert_int_eq(stdz, 1);
    ck_assert(back.sample_rate == 8000 && back.duration == 0.5);
    ck_assert_int_eq(back.frontend, QR_FRONTEND_INT);
    ck_assert_uint_eq(back.mfcc.n_mels, 20);
    ck_assert_int_eq(qr_audio_options_check(&back, &e), QR_OK);
    char *d2 = qr_audio_features_describe(&back, 1);
    ck_assert_str_eq(d, d2);
    ck_assert_int_eq(qr_audio_features_compare(d, d2, &e), QR_OK);
    free(d2);
    back.mfcc.n_fft = 512;
    back.frontend = QR_FRONTEND_FLOAT;
    d2 = qr_audio_features_describe(&back, 1);
    ck_assert_int_eq(qr_audio_features_compare(d, d2, &e), QR_ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "frontend = \"int\" (model) vs \"float\" (data)") &&
                  strstr(e.msg, "mfcc.n_fft = 256 (model) vs 512 (data)"), "%s", e.msg);
    free(d2);
    ck_assert_int_eq(qr_audio_features_apply("{\"kind\": \"csv\"}", &back, NULL, &e),
                     QR_ERR_FORMAT);
    ck_assert_int_eq(qr_audio_features_apply("{\"kind\": \"audio\", \"mfcc\": {}}", &back, NULL,
                                             &e), QR_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "sample_rate"));

    /* in the model file */
    cJSON *layers = cJSON_Parse("[{\"type\": \"flatten\"}, {\"type\": \"dense\"}]");
    qr_model_spec spec;
    memset(&spec, 0, sizeof spec);
    ck_assert_int_eq(qr_model_spec_parse(&spec, layers, "t", &e), QR_OK);
    cJSON_Delete(layers);
    spec.t = 46;
    spec.f = 10;
    spec.n_classes = 3;
    qr_model *m = NULL, *l = NULL;
    ck_assert_int_eq(qr_model_new(&spec, 4, 1, &m, &e), QR_OK);
    qr_model_spec_free(&spec);
    ck_assert_ptr_null(qr_model_features(m));
    ck_assert_int_eq(qr_model_set_features(m, "[1, 2]"), QR_ERR_ARG);
    ck_assert_int_eq(qr_model_set_features(m, "{"), QR_ERR_ARG);
    ck_assert_int_eq(qr_model_save(m, "plain.qrm", &e), QR_OK);
    ck_assert_int_eq(qr_model_set_features(m, d), QR_OK);
    ck_assert_int_eq(qr_model_save(m, "audio.qrm", &e), QR_OK);
    unsigned char hdr[12];
    for (int k = 0; k < 2; k++) {
        FILE *fp = fopen(k ? "audio.qrm" : "plain.qrm", "rb");
        ck_assert_ptr_nonnull(fp);
        ck_assert_uint_eq(fread(hdr, 1, 12, fp), 12);
        fclose(fp);
        ck_assert_int_eq(hdr[8], k ? 2 : 1); /* the format version */
        ck_assert_msg(qr_model_load(k ? "audio.qrm" : "plain.qrm", 4, &l, &e) == QR_OK, "%s",
                      e.msg);
        if (k)
            ck_assert_int_eq(qr_audio_features_compare(d, qr_model_features(l), &e), QR_OK);
        else
            ck_assert_ptr_null(qr_model_features(l));
        qr_model_free(l);
    }
    /* "features" in a version-1 file is malformed */
    unsigned char *bytes = NULL;
    size_t nb = 0;
    ck_assert_int_eq(qr_file_read_all("audio.qrm", 1 << 24, &bytes, &nb, &e), QR_OK);
    bytes[8] = 1;
    uint32_t crc = qr_crc32(bytes, nb - 4);
    for (int i = 0; i < 4; i++)
        bytes[nb - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    ck_assert_int_eq(qr_file_write_atomic("v1.qrm", bytes, nb, &e), QR_OK);
    free(bytes);
    ck_assert_int_eq(qr_model_load("v1.qrm", 4, &l, &e), QR_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "'features'"));
    ck_assert_int_eq(qr_model_set_features(m, NULL), QR_OK);
    ck_assert_ptr_null(qr_model_features(m));
    qr_model_free(m);
    free(d);
}
END_TEST

/* qrt_frontend_quantize: round half away from zero of (feat·mult − off) / 2^k, clamped, against
 * a 128-bit reference over the whole input range and constants at their limits; and equal to
 * qrt_quantize_raw16 (the raw sensor transform, the same constants) on int16 inputs. */
__extension__ typedef __int128 i128;

static int32_t quantize_ref(const qrt_inq *q, int32_t x, int32_t in_max)
{
    i128 off = (i128)q->off_hi * 4294967296 + q->off_lo;
    i128 v = (i128)x * q->mult - off, half = (i128)1 << (q->k - 1);
    i128 r = v >= 0 ? (v + half) >> q->k : -((-v + half) >> q->k);
    return r > in_max ? in_max : r < -in_max ? -in_max : (int32_t)r;
}

START_TEST(test_frontend_quantize)
{
    qr_rng rng;
    qr_rng_seed(&rng, 11);
    size_t bad = 0, bad16 = 0, n = 0;
    for (int c = 0; c < 400; c++) {
        qrt_inq q;
        q.k = 1 + (uint32_t)(qr_rng_u64(&rng) % 62);
        q.mult = (int32_t)((1u << 30) + (uint32_t)(qr_rng_u64(&rng) % (1u << 30)));
        if (c % 7 == 0)
            q.mult = INT32_MAX;
        /* |off| < 2^60, or 0, or a tie-making multiple of 2^(k−1) */
        int64_t off = (int64_t)(qr_rng_u64(&rng) >> 4) * (qr_rng_u64(&rng) & 1 ? 1 : -1);
        if (c % 5 == 0)
            off = 0;
        if (c % 5 == 1 && q.k <= 50)
            off = ((int64_t)(qr_rng_u64(&rng) % 1024) - 512) * ((int64_t)1 << (q.k - 1));
        q.off_hi = (int32_t)(off >> 32);
        q.off_lo = (uint32_t)off;
        int32_t in_max = c % 3 ? 127 : (int32_t)(1u << 30);
        for (int i = 0; i < 200; i++, n++) {
            int32_t x = (int32_t)(uint32_t)qr_rng_u64(&rng);
            if (i < 4)
                x = (int32_t[]){INT32_MIN, INT32_MAX, 0, -1}[i];
            if (i % 3 == 1)
                x >>= 16; /* the int16 range too */
            int32_t got;
            qrt_frontend_quantize(&q, &x, &got, 1, in_max);
            bad += got != quantize_ref(&q, x, in_max);
            if (x >= -32768 && x <= 32767) {
                int16_t r16 = (int16_t)x;
                int32_t want16;
                qrt_quantize_raw16(&q, &r16, &want16, 1, in_max);
                bad16 += got != want16;
            }
        }
    }
    ck_assert_msg(bad == 0, "qrt_frontend_quantize: %zu of %zu differ from the reference", bad, n);
    ck_assert_msg(bad16 == 0, "qrt_frontend_quantize: %zu differ from qrt_quantize_raw16", bad16);
}
END_TEST

/* qr_export_write_audio: NAME_audio.h/.c for a model trained on audio; the generated
 * kws_quantize_features, compiled by the host's cc with qrt_frontend.c, equals
 * qrt_frontend_quantize with qrt_input_consts(2^−16) (what `qreg eval --int` runs for such a
 * model) on 4,000 Q16 feature values, and that differs from the host's float quantization of
 * feat / 65536 (qrt_quantize_input) only by 1 within the documented bound of a rounding
 * boundary; settings that do not give the model's input are refused. */
START_TEST(test_frontend_export_audio)
{
    const char *src = getenv("QR_SRCDIR");
    if (src == NULL) {
        printf("frontend: export_audio: QR_SRCDIR unset (run through make check); skipped\n");
        return;
    }
    qr_audio_options o;
    qr_audio_options_default(&o);
    o.root = "x";
    o.sample_rate = 8000;
    o.duration = 0.5;
    o.frontend = QR_FRONTEND_INT;
    o.mfcc.win_length = o.mfcc.n_fft = 256;
    o.mfcc.hop_length = 80;
    o.mfcc.n_mels = 20;
    o.mfcc.n_mfcc = 10;
    const size_t T = 47, F = 10, N = 8;
    qr_error e;
    cJSON *layers = cJSON_Parse("[{\"type\": \"flatten\"}, {\"type\": \"dense\"}]");
    qr_model_spec spec;
    memset(&spec, 0, sizeof spec);
    ck_assert_int_eq(qr_model_spec_parse(&spec, layers, "t", &e), QR_OK);
    cJSON_Delete(layers);
    spec.t = T;
    spec.f = F;
    spec.n_classes = 3;
    qr_model *m = NULL;
    ck_assert_int_eq(qr_model_new(&spec, 4, 1, &m, &e), QR_OK);
    qr_model_spec_free(&spec);
    float mean[10], sd[10], *x = malloc(N * T * F * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < F; i++) {
        mean[i] = -40.0f + 7.3f * (float)i;
        sd[i] = 0.3f + 1.7f * (float)i;
    }
    ck_assert_int_eq(qr_model_set_standardization(m, mean, sd), QR_OK);
    qr_rng rng;
    qr_rng_seed(&rng, 5);
    for (size_t i = 0; i < N * T * F; i++)
        x[i] = mean[i % F] + 3.0f * sd[i % F] * (2.0f * qr_rng_uniform(&rng) - 1.0f);
    ck_assert_int_eq(qr_model_calibrate(m, x, N), QR_OK);
    uint8_t *blob = NULL;
    size_t len = 0;
    ck_assert_msg(qr_export_blob(m, &blob, &len, NULL, &e) == QR_OK, "%s", e.msg);

    qr_ifront *f = NULL;
    ck_assert_msg(qr_ifront_new(&o.mfcc, 0, &f, &e) == QR_OK, "%s", e.msg);
    ck_assert_int_eq(qr_ifront_write_c(f, ".", "kws", &e), QR_OK);
    qr_ifront_free(f);
    ck_assert_msg(qr_export_write_audio(blob, len, &o, ".", "kws", NULL, &e) == QR_OK, "%s",
                  e.msg);
    qr_audio_options bad = o;
    bad.mfcc.hop_length = 100; /* 38 frames, the model takes 47 */
    ck_assert_int_eq(qr_export_write_audio(blob, len, &bad, ".", "kws", NULL, &e),
                     QR_ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "47 frames of 10"), "%s", e.msg);
    ck_assert_int_eq(qr_export_write_audio(blob, len, &o, ".", "9kws", NULL, &e), QR_ERR_ARG);

    /* feature values as the front end gives them (Q16); the device's transform with the
     * export's constants, and the host's float quantization (qrt_quantize_input) */
    enum { FRAMES = 400 };
    int32_t *feat = malloc(FRAMES * F * sizeof *feat), *want = malloc(FRAMES * F * sizeof *want);
    int32_t *host = malloc(FRAMES * F * sizeof *host);
    float *xf = malloc(FRAMES * F * sizeof *xf);
    ck_assert(feat && want && host && xf);
    for (size_t i = 0; i < FRAMES * F; i++) {
        double v = mean[i % F] + 4.0 * sd[i % F] * (2.0 * qr_rng_uniform_d(&rng) - 1.0);
        feat[i] = (int32_t)lround(v * 65536.0);
        xf[i] = (float)feat[i] / 65536.0f; /* exact: |feat| < 2^24 */
    }
    qrt_model qm;
    qrt_host_view hv;
    qrt_inq inq[10];
    ck_assert_int_eq(qrt_model_load(&qm, blob, len), QRT_OK);
    ck_assert_int_eq(qrt_host_view_get(&qm, &hv), QRT_OK);
    ck_assert_int_eq(qrt_input_consts(&qm, 1.0 / 65536.0, inq, NULL), QRT_OK);
    ck_assert_int_eq(qrt_quantize_input(&qm, xf, FRAMES, host), QRT_OK);
    size_t differ = 0;
    for (size_t i = 0; i < FRAMES * F; i++) {
        qrt_frontend_quantize(&inq[i % F], &feat[i], &want[i], 1, qm.in_max);
        if (want[i] == host[i])
            continue;
        /* only within ε = (|feat·a| + a)·2^−31 steps of a rounding boundary, and by 1 */
        long double a = 1.0L / (65536.0L * sd[i % F] * (long double)hv.in_scale);
        long double v = ((long double)xf[i] - mean[i % F]) / sd[i % F] / hv.in_scale;
        long double gap = fabsl(v - floorl(v) - 0.5L);
        ck_assert_msg(abs(want[i] - host[i]) == 1 &&
                          gap <= (fabsl((long double)feat[i] * a) + a) * 0x1p-31L,
                      "feature %zu = %ld (Q16): device %ld, host %ld, %Lg from a boundary",
                      i % F, (long)feat[i], (long)want[i], (long)host[i], gap);
        differ++;
    }
    printf("frontend: qrt_frontend_quantize vs the host's float quantization: %zu of %d differ "
           "by 1, each within its bound of a rounding boundary\n", differ, FRAMES * (int)F);
    FILE *d = fopen("fq_driver.c", "w");
    ck_assert_ptr_nonnull(d);
    fprintf(d, "#include <stdio.h>\n#include \"kws_audio.h\"\nstatic const int32_t feat[] = {");
    for (size_t i = 0; i < FRAMES * F; i++)
        fprintf(d, "%ld,%s", (long)feat[i], i % 8 == 7 ? "\n" : "");
    fprintf(d, "};\nstatic const int32_t want[] = {");
    for (size_t i = 0; i < FRAMES * F; i++)
        fprintf(d, "%ld,%s", (long)want[i], i % 8 == 7 ? "\n" : "");
    fprintf(d, "};\nint main(void)\n{\n    size_t bad = 0;\n"
               "    for (size_t t = 0; t < %d; t++) {\n"
               "        int32_t q[KWS_FRONTEND_OUT];\n"
               "        kws_quantize_features(feat + t * KWS_FRONTEND_OUT, q);\n"
               "        for (size_t i = 0; i < KWS_FRONTEND_OUT; i++)\n"
               "            if (q[i] != want[t * KWS_FRONTEND_OUT + i] && ++bad)\n"
               "                printf(\"feature %%zu: %%ld (Q16): device %%ld, host %%ld\\n\", i,\n"
               "                       (long)feat[t * KWS_FRONTEND_OUT + i], (long)q[i],\n"
               "                       (long)want[t * KWS_FRONTEND_OUT + i]);\n    }\n"
               "    printf(\"frontend: kws_quantize_features: %%zu of %d values differ from "
               "qrt_frontend_quantize\\n\", bad);\n"
               "    return bad != 0 || KWS_CLIP_FRAMES != 47u || KWS_CLIP_SAMPLES != 4000u;\n}\n",
            FRAMES, FRAMES * (int)F);
    ck_assert_int_eq(fclose(d), 0);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cc -std=c99 -O1 -Wall -Wextra -Werror -I'%s/runtime' -I. fq_driver.c kws_audio.c "
             "'%s/runtime/qrt_frontend.c' -o fq_driver && ./fq_driver", src, src);
    ck_assert_msg(system(cmd) == 0, "kws_quantize_features differs (%s)", cmd);
    free(feat);
    free(host);
    free(want);
    free(xf);
    free(x);
    free(blob);
    qr_model_free(m);
}
END_TEST

Suite *qr_suite_frontend(void)
{
    Suite *s = suite_create("frontend");
    TCase *tc = tcase_create("numerics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_frontend_error_vs_float);
    tcase_add_test(tc, test_frontend_streaming);
    tcase_add_test(tc, test_frontend_write_c);
    tcase_add_test(tc, test_frontend_errors);
    tcase_add_test(tc, test_frontend_loader);
    tcase_add_test(tc, test_frontend_model_features);
    tcase_add_test(tc, test_frontend_quantize);
    tcase_add_test(tc, test_frontend_export_audio);
    suite_add_tcase(s, tc);
    return s;
}
