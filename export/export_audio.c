/* The audio input of an export: what a firmware needs between its PCM samples and the
 * compiled model of a model trained on audio — the clip's length and rate, the front end's
 * memory sizes, and the front end's Q16 outputs to the model's quantized input with the
 * standardization folded in (qrt_frontend_quantize). docs/deploy.md "Keyword spotting". */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/fileio.h"
#include "qreg/audio.h"
#include "qreg/export.h"
#include "export/qrt_host.h"
#include "qrt_frontend.h"

static void upper(char *up, size_t n, const char *name)
{
    size_t i = 0;
    for (; name[i] && i + 1 < n; i++)
        up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
    up[i] = '\0';
}

/* "#define UP_KEY VALUE", the comment aligned after it. */
__attribute__((format(printf, 5, 6)))
static void define(qr_buf *h, const char *up, const char *key, const char *why, const char *fmt,
                   ...)
{
    char val[64], line[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "#define %s_%s %s", up, key, val);
    qr_buf_printf(h, "%-44s /* %s */\n", line, why);
}

/* NAME_audio.h: the clip, the front end's sizes and NAME_quantize_features. */
static void write_header(qr_buf *h, const char *name, const char *up, const qr_audio_options *o,
                         size_t L, size_t T, size_t F, const qrt_frontend_tables *t,
                         double out_scale)
{
    const qr_mfcc_config *c = &o->mfcc;
    int centre = o->crop == QR_AUDIO_CROP_CENTRE;
    qr_buf_printf(h,
        "/* %s_audio.h — written by qreg export: from PCM samples to the input of the compiled\n"
        " * model (model_compiled.h), integers only. Per clip:\n"
        " *   qrt_frontend_init(&fe, &%s_frontend, buf, %s_FRONTEND_BUF_BYTES); %s_reset(mem);\n"
        " *   push the clip's %s_CLIP_SAMPLES samples (16-bit PCM at %s_SAMPLE_RATE Hz) with\n"
        " *   qrt_frontend_push, %s_HOP_SAMPLES at a time; each time it returns 1 (a feature\n"
        " *   frame of %s_FRONTEND_OUT Q16 values): %s_quantize_features(feat, frame) and\n"
        " *   %s_push(mem, frame); after the last frame %s_logits(mem, logits), qrt_argmax.\n"
        " * A recording longer than the clip is cut, a shorter one padded with zeros (%s),\n"
        " * as in training and in `qreg eval`. Example: examples/kws-device/. */\n"
        "#ifndef %s_AUDIO_H\n#define %s_AUDIO_H\n\n#include <stdint.h>\n#include \"%s_frontend.h\"\n\n"
        "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n",
        name, name, up, name, up, up, up, up, name, name, name,
        centre ? "around the centre" : "at the end", up, up, name);
    define(h, up, "SAMPLE_RATE", "Hz", "%luu", (unsigned long)lround(o->sample_rate));
    define(h, up, "CLIP_SAMPLES", "samples per clip", "%zuu", L);
    define(h, up, "CLIP_CROP_CENTRE", "1: cut/pad around the centre; 0: at the end", "%d", centre);
    define(h, up, "WIN_SAMPLES", "samples per feature frame", "%zuu", c->win_length);
    define(h, up, "HOP_SAMPLES", "samples between feature frames", "%zuu", c->hop_length);
    define(h, up, "CLIP_FRAMES", "feature frames per clip (the model's SEQ_LEN)", "%zuu", T);
    define(h, up, "FRONTEND_OUT", c->n_mfcc ? "values per feature frame (MFCC)"
                                            : "values per feature frame (log-mel)", "%zuu", F);
    define(h, up, "FRONTEND_BUF_BYTES", "the stream's samples (int16, 2-byte aligned)", "%zuu",
           qrt_frontend_buffer_size(t));
    define(h, up, "FRONTEND_SCRATCH_BYTES", "one frame's scratch (4-byte aligned)", "%zuu",
           qrt_frontend_scratch_size(t));
    define(h, up, "OUT_SCALE", "real logit = int32 logit × this (host checks)", "%.17g",
           out_scale);
    qr_buf_printf(h,
        "\n/* A feature frame (%s_FRONTEND_OUT Q16 values) to the model's quantized input frame: the\n"
        " * stored standardization and input scale folded into one integer multiply-shift per\n"
        " * value (qrt_frontend_quantize, qrt_frontend.h). */\n"
        "void %s_quantize_features(const int32_t *feat, int32_t *frame);\n\n"
        "#ifdef __cplusplus\n}\n#endif\n\n#endif\n", up, name);
}

static qr_status write_runtime(const char *dir, const char *name, const char *rt, qr_error *err)
{
    static const char *const files[] = {"qrt_frontend.h", "qrt_frontend.c"};
    char src[4096], dst[4096];
    qr_status s = QR_OK;
    for (int i = 0; i < 2 && s == QR_OK; i++) {
        unsigned char *d = NULL;
        size_t n = 0;
        snprintf(src, sizeof src, "%s/%s", rt, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        if ((s = qr_file_read_all(src, (size_t)1 << 24, &d, &n, err)) == QR_OK)
            s = qr_file_write_atomic(dst, d, n, err);
        free(d);
    }
    /* qrt.mk and qrt.cmake (just written by qr_export_write_ex) get the audio sources */
    qr_buf mk = {0}, cm = {0};
    qr_buf_printf(&mk, "# the audio input (a model trained on audio): PCM -> features -> input\n"
                  "QRT_SRCS += $(QRT_DIR)/%s_audio.c $(QRT_DIR)/%s_frontend.c "
                  "$(QRT_DIR)/qrt_frontend.c\nQRT_OBJS := $(QRT_SRCS:.c=.o)\n", name, name);
    qr_buf_printf(&cm, "# the audio input (a model trained on audio): PCM -> features -> input\n"
                  "target_sources(%s_qrt PRIVATE \"${QRT_DIR}/%s_audio.c\" "
                  "\"${QRT_DIR}/%s_frontend.c\" \"${QRT_DIR}/qrt_frontend.c\")\n",
                  name, name, name);
    const char *frag[2] = {"qrt.mk", "qrt.cmake"};
    qr_buf *add[2] = {&mk, &cm};
    for (int i = 0; i < 2 && s == QR_OK; i++) {
        unsigned char *d = NULL;
        size_t n = 0;
        snprintf(dst, sizeof dst, "%s/%s", dir, frag[i]);
        if (add[i]->nomem) {
            s = qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
        } else if ((s = qr_file_read_all(dst, (size_t)1 << 24, &d, &n, err)) == QR_OK) {
            qr_buf all = {0};
            qr_buf_put(&all, d, n);
            qr_buf_put(&all, add[i]->data, add[i]->len);
            s = all.nomem ? qr_error_set(err, QR_ERR_NOMEM, "export: out of memory")
                          : qr_file_write_atomic(dst, all.data, all.len, err);
            qr_buf_free(&all);
        }
        free(d);
    }
    qr_buf_free(&mk);
    qr_buf_free(&cm);
    return s;
}

QR_API qr_status qr_export_write_audio(const uint8_t *blob, size_t len,
                                       const struct qr_audio_options *o, const char *dir,
                                       const char *name, const char *runtime_dir, qr_error *err)
{
    if (!blob || !o || !dir || !name)
        return qr_error_set(err, QR_ERR_ARG, "qr_export_write_audio: NULL argument");
    if (!qr_export_name_ok(name))
        return qr_error_set(err, QR_ERR_ARG, "export: '%s' is not a C identifier", name);
    qrt_model m;
    qrt_status qs = qrt_model_load(&m, blob, len);
    if (qs != QRT_OK)
        return qr_error_set(err, QR_ERR_FORMAT, "export: integer model: %s", qrt_strerror(qs));
    const qr_mfcc_config *c = &o->mfcc;
    size_t L = (size_t)llround(o->duration * o->sample_rate);
    size_t T = L >= c->win_length ? 1 + (L - c->win_length) / c->hop_length : 0;
    size_t F = c->n_mfcc ? c->n_mfcc : c->n_mels;
    if (c->center || T != m.seq_len || F != m.n_features)
        return qr_error_set(err, QR_ERR_CONFIG, "export: the model's input (%u frames of %u) is "
                            "not the integer front end's (%zu frames of %zu%s)",
                            (unsigned)m.seq_len, (unsigned)m.n_features, T, F,
                            c->center ? ", centred" : "");
    qrt_frontend_tables t = {0}; /* the sizes only */
    t.win_length = (uint32_t)c->win_length;
    t.n_mels = (uint32_t)c->n_mels;
    for (t.fft_log2 = 0; ((size_t)1 << t.fft_log2) < c->n_fft; t.fft_log2++)
        ;
    qrt_inq *q = malloc(F * sizeof *q);
    if (!q)
        return qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
    if (qrt_input_consts(&m, 1.0 / 65536.0, q, NULL) != QRT_OK) {
        free(q);
        return qr_error_set(err, QR_ERR_NUMERIC, "export: the model's standardization does not "
                            "fit the integer feature transform (a mean beyond ±8192)");
    }
    char up[128];
    upper(up, sizeof up, name);
    qr_buf h = {0}, b = {0};
    qrt_host_view hv;
    if (qrt_host_view_get(&m, &hv) != QRT_OK) {
        free(q);
        return qr_error_set(err, QR_ERR_FORMAT, "export: integer model without a host section");
    }
    write_header(&h, name, up, o, L, T, F, &t, hv.out_scale);
    qr_buf_printf(&b, "/* %s_audio.c — written by qreg export (see %s_audio.h). */\n"
                  "#include \"%s_audio.h\"\n#include \"qrt_frontend.h\"\n\n"
                  "/* per feature {mult, off_hi, off_lo, k}: q = round((feat·mult − off) / 2^k) */\n"
                  "static const qrt_inq %s_feat_q[%zu] = {", name, name, name, name, F);
    for (size_t i = 0; i < F; i++)
        qr_buf_printf(&b, "\n    {%ld, %ld, %luu, %uu},", (long)q[i].mult, (long)q[i].off_hi,
                      (unsigned long)q[i].off_lo, (unsigned)q[i].k);
    qr_buf_printf(&b, "\n};\n\nvoid %s_quantize_features(const int32_t *feat, int32_t *frame)\n"
                  "{\n    qrt_frontend_quantize(%s_feat_q, feat, frame, %zuu, %ld);\n}\n",
                  name, name, F, (long)m.in_max);
    free(q);
    qr_status s = QR_OK;
    char path[4096];
    if (h.nomem || b.nomem) {
        s = qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
    } else {
        snprintf(path, sizeof path, "%s/%s_audio.h", dir, name);
        s = qr_file_write_atomic(path, h.data, h.len, err);
        snprintf(path, sizeof path, "%s/%s_audio.c", dir, name);
        if (s == QR_OK)
            s = qr_file_write_atomic(path, b.data, b.len, err);
    }
    qr_buf_free(&h);
    qr_buf_free(&b);
    if (s == QR_OK && runtime_dir)
        s = write_runtime(dir, name, runtime_dir, err);
    return s;
}
