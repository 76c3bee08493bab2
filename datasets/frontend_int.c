/* The integer front end on the host: builds the runtime's tables (runtime/qrt_frontend.h) from
 * an MFCC configuration by quantizing the float MFCC's own window, filterbank and DCT, runs the
 * runtime's code on clips (training features, qreg's tests) and writes the tables as C. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/audio_impl.h"
#include "lib/fileio.h"
#include "qrt_frontend.h"

struct qr_ifront {
    qrt_frontend_tables t;
    qr_mfcc_config c;  /* f_max resolved */
    int32_t *window;
    int32_t *sin_q30;
    uint16_t *band_lo;
    uint32_t *band_off;
    uint32_t *weights;
    int32_t *dct;
    void *scratch;
    size_t scratch_bytes;
};

static int log2_exact(size_t n)
{
    int k = 0;
    while (((size_t)1 << k) < n)
        k++;
    return ((size_t)1 << k) == n ? k : -1;
}

QR_API qr_status qr_ifront_config_check(const qr_mfcc_config *c, qr_error *err)
{
    qr_status s = qr_mfcc_config_check(c, err);
    if (s != QR_OK)
        return s;
    if (log2_exact(c->n_fft) < 4)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: n_fft = %zu: the integer front end needs "
                            "a power of two", c->n_fft);
    if (c->center)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: center: the integer front end streams "
                            "and does not centre frames (set center to false)");
    if (c->hop_length > UINT32_MAX)
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: hop_length = %zu is too large",
                            c->hop_length);
    return QR_OK;
}

QR_API void qr_ifront_free(qr_ifront *f)
{
    if (!f)
        return;
    free(f->window);
    free(f->sin_q30);
    free(f->band_lo);
    free(f->band_off);
    free(f->weights);
    free(f->dct);
    free(f->scratch);
    free(f);
}

QR_API qr_status qr_ifront_new(const qr_mfcc_config *c, int log_mel, qr_ifront **out,
                               qr_error *err)
{
    if (out)
        *out = NULL;
    if (!c || !out)
        return qr_error_set(err, QR_ERR_ARG, "qr_ifront_new: NULL config or output");
    qr_status s = qr_ifront_config_check(c, err);
    if (s != QR_OK)
        return s;
    qr_mfcc *mf = NULL;
    if ((s = qr_mfcc_new(c, &mf, err)) != QR_OK)
        return s;
    qr_ifront *f = calloc(1, sizeof *f);
    if (!f) {
        qr_mfcc_free(mf);
        return qr_error_set(err, QR_ERR_NOMEM, "mfcc: out of memory");
    }
    f->c = *qr_mfcc_get_config(mf);
    const double *win, *weights, *dct;
    const size_t *lo, *off;
    qr_mfcc_tables(mf, &win, &lo, &off, &weights, &dct);
    size_t W = c->win_length, N = c->n_fft, M = c->n_mels, C = log_mel ? 0 : c->n_mfcc;
    size_t nw = off[M];
    f->window = malloc((W / 2 + 1) * sizeof *f->window);
    f->sin_q30 = malloc((N / 4 + 1) * sizeof *f->sin_q30);
    f->band_lo = malloc(M * sizeof *f->band_lo);
    f->band_off = malloc((M + 1) * sizeof *f->band_off);
    f->weights = malloc((nw ? nw : 1) * sizeof *f->weights);
    f->dct = malloc((C ? C * M : 1) * sizeof *f->dct);
    if (!f->window || !f->sin_q30 || !f->band_lo || !f->band_off || !f->weights || !f->dct) {
        qr_mfcc_free(mf);
        qr_ifront_free(f);
        return qr_error_set(err, QR_ERR_NOMEM, "mfcc: out of memory");
    }
    for (size_t j = 0; j <= W / 2; j++)
        f->window[j] = (int32_t)llround(win[j] * 1073741824.0);
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i <= N / 4; i++)
        f->sin_q30[i] = (int32_t)llround(sin(two_pi * (double)i / (double)N) * 1073741824.0);
    f->sin_q30[N / 4] = 1 << 30;
    for (size_t m = 0; m < M; m++) {
        f->band_lo[m] = (uint16_t)lo[m];
        f->band_off[m] = (uint32_t)off[m];
    }
    f->band_off[M] = (uint32_t)nw;
    for (size_t i = 0; i < nw; i++)
        f->weights[i] = (uint32_t)llround(weights[i] * 1073741824.0);
    for (size_t i = 0; i < C * M; i++)
        f->dct[i] = (int32_t)llround(dct[i] * 1073741824.0);
    qr_mfcc_free(mf);

    double a = round(c->preemphasis * 32768.0);
    f->t = (qrt_frontend_tables){
        .win_length = (uint32_t)W,
        .hop_length = (uint32_t)c->hop_length,
        .fft_log2 = (uint32_t)log2_exact(N),
        .n_mels = (uint32_t)M,
        .n_mfcc = (uint32_t)C,
        .preemph_q15 = (int32_t)(a > 32767 ? 32767 : a),
        .log_floor_q16 = (int32_t)llround(log(c->log_floor) * 65536.0),
        .window = f->window,
        .sin_q30 = f->sin_q30,
        .band_lo = f->band_lo,
        .band_off = f->band_off,
        .weights = f->weights,
        .dct_q30 = C ? f->dct : NULL,
    };
    f->scratch_bytes = qrt_frontend_scratch_size(&f->t);
    f->scratch = malloc(f->scratch_bytes);
    if (!f->scratch) {
        qr_ifront_free(f);
        return qr_error_set(err, QR_ERR_NOMEM, "mfcc: out of memory");
    }
    if (qrt_frontend_check(&f->t) != QRT_OK) { /* cannot happen: the config was checked */
        qr_ifront_free(f);
        return qr_error_set(err, QR_ERR_CONFIG, "mfcc: settings outside the integer front end");
    }
    *out = f;
    return QR_OK;
}

const struct qrt_frontend_tables *qr_ifront_tables(const qr_ifront *f)
{
    return f ? &f->t : NULL;
}

QR_API size_t qr_ifront_frames(const qr_ifront *f, size_t n)
{
    if (!f || n < f->c.win_length)
        return 0;
    return 1 + (n - f->c.win_length) / f->c.hop_length;
}

QR_API size_t qr_ifront_out_len(const qr_ifront *f)
{
    return f ? qrt_frontend_out_len(&f->t) : 0;
}

QR_API qr_status qr_ifront_compute(qr_ifront *f, const int16_t *pcm, size_t n, int32_t *out)
{
    if (!f || (!pcm && n) || !out)
        return QR_ERR_ARG;
    size_t T = qr_ifront_frames(f, n), D = qr_ifront_out_len(f), hop = f->c.hop_length;
    if (T == 0)
        return QR_ERR_SHAPE;
    for (size_t t = 0; t < T; t++) {
        size_t at = t * hop;
        qrt_status s = qrt_frontend_frame(&f->t, pcm + at, at ? pcm[at - 1] : 0, out + t * D,
                                          f->scratch, f->scratch_bytes);
        if (s != QRT_OK)
            return QR_ERR_ARG;
    }
    return QR_OK;
}

QR_API void qr_audio_to_pcm16(const float *x, size_t n, int16_t *out)
{
    for (size_t i = 0; i < n; i++) {
        double v = round((double)x[i] * 32768.0);
        out[i] = (int16_t)(v > 32767.0 ? 32767 : v < -32768.0 ? -32768 : (isnan(v) ? 0 : v));
    }
}

QR_API qr_status qr_ifront_compute_float(qr_ifront *f, const float *x, size_t n, float *out)
{
    if (!f || (!x && n) || !out)
        return QR_ERR_ARG;
    size_t T = qr_ifront_frames(f, n), D = qr_ifront_out_len(f);
    if (T == 0)
        return QR_ERR_SHAPE;
    int16_t *pcm = malloc(n * sizeof *pcm);
    int32_t *q = malloc(T * D * sizeof *q);
    qr_status s = pcm && q ? QR_OK : QR_ERR_NOMEM;
    if (s == QR_OK) {
        qr_audio_to_pcm16(x, n, pcm);
        s = qr_ifront_compute(f, pcm, n, q);
    }
    if (s == QR_OK)
        for (size_t i = 0; i < T * D; i++)
            out[i] = (float)q[i] / 65536.0f;
    free(pcm);
    free(q);
    return s;
}

/* ---- C output ------------------------------------------------------------------------- */

static void put_u16s(qr_buf *b, const char *type, const char *name, const char *arr,
                     const uint16_t *v, size_t n)
{
    qr_buf_printf(b, "static const %s %s_%s[%zu] = {", type, name, arr, n ? n : 1);
    for (size_t i = 0; i < n; i++)
        qr_buf_printf(b, "%s%u,", i % 12 ? " " : "\n    ", (unsigned)v[i]);
    qr_buf_printf(b, "%s};\n", n ? "\n" : "0");
}

static void put_i32s(qr_buf *b, const char *type, const char *name, const char *arr,
                     const void *v, int is_signed, size_t n)
{
    qr_buf_printf(b, "static const %s %s_%s[%zu] = {", type, name, arr, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        const char *sep = i % 8 ? " " : "\n    ";
        if (is_signed) {
            int32_t x = ((const int32_t *)v)[i];
            /* INT32_MIN cannot occur: |values| <= 2^30 */
            qr_buf_printf(b, "%s%ld,", sep, (long)x);
        } else {
            qr_buf_printf(b, "%s%luu,", sep, (unsigned long)((const uint32_t *)v)[i]);
        }
    }
    qr_buf_printf(b, "%s};\n", n ? "\n" : "0");
}

QR_API qr_status qr_ifront_write_c(const qr_ifront *f, const char *dir, const char *name,
                                   qr_error *err)
{
    if (!f || !dir || !name || !name[0])
        return qr_error_set(err, QR_ERR_ARG, "qr_ifront_write_c: NULL argument");
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_') || (p == name && isdigit((unsigned char)*p)))
            return qr_error_set(err, QR_ERR_ARG, "'%s' is not a C identifier", name);
    const qrt_frontend_tables *t = &f->t;
    const qr_mfcc_config *c = &f->c;
    qr_buf h = {0}, b = {0};
    qr_buf_printf(&h, "/* %s_frontend.h — written by qreg: the integer audio front end's tables "
                  "(runtime/qrt_frontend.h). */\n#ifndef %s_FRONTEND_H\n#define %s_FRONTEND_H\n\n"
                  "#include \"qrt_frontend.h\"\n\n"
                  "/* %.17g Hz, window %zu, hop %zu, n_fft %zu, %zu mel bands %.17g..%.17g Hz, "
                  "%u %s, pre-emphasis %.17g, floor %.17g, %s window */\n"
                  "extern const qrt_frontend_tables %s_frontend;\n\n#endif\n",
                  name, name, name, c->sample_rate, c->win_length, c->hop_length, c->n_fft,
                  c->n_mels, c->f_min, c->f_max, t->n_mfcc ? t->n_mfcc : t->n_mels,
                  t->n_mfcc ? "MFCC" : "log-mel energies", c->preemphasis, c->log_floor,
                  c->window == QR_WINDOW_HANN ? "Hann" : "Hamming", name);
    qr_buf_printf(&b, "/* %s_frontend.c — written by qreg: the integer audio front end's tables "
                  "(runtime/qrt_frontend.h). */\n#include \"%s_frontend.h\"\n\n", name, name);
    put_i32s(&b, "int32_t", name, "window", t->window, 1, t->win_length / 2 + 1);
    put_i32s(&b, "int32_t", name, "sin_q30", t->sin_q30, 1, ((size_t)1 << t->fft_log2) / 4 + 1);
    put_u16s(&b, "uint16_t", name, "band_lo", t->band_lo, t->n_mels);
    put_i32s(&b, "uint32_t", name, "band_off", t->band_off, 0, t->n_mels + 1);
    put_i32s(&b, "uint32_t", name, "weights", t->weights, 0, t->band_off[t->n_mels]);
    if (t->n_mfcc)
        put_i32s(&b, "int32_t", name, "dct_q30", t->dct_q30, 1, (size_t)t->n_mfcc * t->n_mels);
    qr_buf_printf(&b, "\nconst qrt_frontend_tables %s_frontend = {\n"
                  "    %luu, %luu, %luu, %luu, %luu, %ld, %ld,\n"
                  "    %s_window, %s_sin_q30, %s_band_lo, %s_band_off, %s_weights, %s%s\n};\n",
                  name, (unsigned long)t->win_length, (unsigned long)t->hop_length,
                  (unsigned long)t->fft_log2, (unsigned long)t->n_mels,
                  (unsigned long)t->n_mfcc, (long)t->preemph_q15, (long)t->log_floor_q16, name,
                  name, name, name, name, t->n_mfcc ? name : "NULL",
                  t->n_mfcc ? "_dct_q30" : "");
    qr_status s = QR_OK;
    if (h.nomem || b.nomem) {
        s = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    } else {
        size_t n = strlen(dir) + strlen(name) + 32;
        char *path = malloc(n);
        if (!path) {
            s = qr_error_set(err, QR_ERR_NOMEM, "out of memory");
        } else {
            snprintf(path, n, "%s/%s_frontend.h", dir, name);
            s = qr_file_write_atomic(path, h.data, h.len, err);
            if (s == QR_OK) {
                snprintf(path, n, "%s/%s_frontend.c", dir, name);
                s = qr_file_write_atomic(path, b.data, b.len, err);
            }
            free(path);
        }
    }
    qr_buf_free(&h);
    qr_buf_free(&b);
    return s;
}
