/* Every layer the trainer offers runs on the device (issue 14, item 6): same-padded
 * convolutions (odd and even kernels, strided), max pooling, standalone sigmoid and tanh (in
 * the sequence part and in a head), flatten and global average pooling with and without a
 * dense layer after them. For trained models: the integer model predicts what the
 * fake-quantized one predicts (as test_export's tests require), the stream (push T frames,
 * qrt_stream_finish) gives qrt_run's logits, and the compiled model gives them too (built
 * with the host's cc). Then the loader's checks of the new layer records. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "qreg/export.h"
#include "qreg/train.h"
#include "../runtime/qrt.h"
#include "../runtime/qrt_format.h"
#include "../export/qrt_builder.h"
#include "../export/qrt_host.h"

/* breast_cancer.csv as 10 steps of 3 features: it learns there, so the predictions
 * compared are not one constant class */
static const tl_seq_data bc = {"breast_cancer.csv", 10, 3, 30, 32};

/* The quantized windows of a dataset, (n, T·F). */
static int32_t *quantize_all(const qrt_model *qm, const qr_dataset *d)
{
    size_t row = d->t * d->f;
    int32_t *xq = malloc(d->n * row * sizeof *xq);
    for (size_t i = 0; i < d->n; i++)
        ck_assert_int_eq(qrt_quantize_input(qm, d->x + i * row, d->t, xq + i * row), QRT_OK);
    return xq;
}

/* Stream = window: qrt_stream_push over the T frames, qrt_stream_finish, logits equal
 * qrt_run's on every window of d (and already before finish when it feeds nothing); returns
 * qrt_run's logits (n, n_outputs). */
static int32_t *check_stream(const qrt_model *qm, const int32_t *xq, size_t n)
{
    size_t words = qrt_scratch_size(qm) / 4, no = qm->n_outputs, tf = qm->seq_len * qm->n_features;
    int32_t *scratch = calloc(words + 1, 4), *lg = malloc(n * no * sizeof *lg);
    int32_t *ls = malloc(no * sizeof *ls);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(qrt_run(qm, xq + i * tf, scratch, words * 4, lg + i * no), QRT_OK);
        qrt_stream s;
        ck_assert_int_eq(qrt_stream_init(&s, qm, scratch, words * 4), QRT_OK);
        for (size_t t = 0; t < qm->seq_len; t++)
            ck_assert_int_eq(qrt_stream_push(&s, xq + i * tf + t * qm->n_features), QRT_OK);
        uint32_t before = s.emitted;
        qrt_status pre = qrt_stream_logits(&s, ls);
        ck_assert_int_eq(qrt_stream_finish(&s), QRT_OK);
        if (s.emitted == before) /* nothing to finish (no same padding): already the window's */
            ck_assert(pre == QRT_OK && memcmp(ls, lg + i * no, no * sizeof *ls) == 0);
        ck_assert_int_eq(qrt_stream_logits(&s, ls), QRT_OK);
        ck_assert_mem_eq(ls, lg + i * no, no * sizeof *ls);
    }
    free(scratch);
    free(ls);
    return lg;
}

/* The compiled model of the blob, built with cc against qrt_kernels.c and qrt_layer.c:
 * NAME_run and reset + T × NAME_push + NAME_finish + NAME_logits both give the logits lg
 * on every window. */
static void check_compiled(const char *dir, const uint8_t *blob, size_t len, const int32_t *xq,
                           const int32_t *lg, size_t n, size_t tf, size_t no)
{
    const char *src = getenv("QR_SRCDIR");
    if (src == NULL) {
        printf("device layers: compiled: QR_SRCDIR unset (run through make check); skipped\n");
        return;
    }
    char c[4096], h[4096], drv[4096], cmd[16384];
    snprintf(c, sizeof c, "%s/dl.c", dir);
    snprintf(h, sizeof h, "%s/dl.h", dir);
    snprintf(drv, sizeof drv, "%s/dl_driver.c", dir);
    ck_assert_int_eq(qrt_builder_write_compiled(blob, len, "dl", c, h, "qreg test"), QRT_OK);
    FILE *f = fopen(drv, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#include <stdio.h>\n#include <string.h>\n#include \"dl.h\"\n"
               "static const int32_t x[%zu] = {", n * tf);
    for (size_t i = 0; i < n * tf; i++)
        fprintf(f, "%ld,", (long)xq[i]);
    fprintf(f, "};\nstatic const int32_t want[%zu] = {", n * no);
    for (size_t i = 0; i < n * no; i++)
        fprintf(f, "%ld,", (long)lg[i]);
    fprintf(f, "};\nint main(void)\n{\n    static int32_t mem[DL_MEM_WORDS];\n"
               "    int32_t out[DL_N_OUTPUTS];\n    int bad = 0;\n"
               "    for (size_t i = 0; i < %zu; i++) {\n"
               "        dl_run(mem, x + i * %zu, out);\n"
               "        bad += memcmp(out, want + i * DL_N_OUTPUTS, sizeof out) != 0;\n"
               "        dl_reset(mem);\n"
               "        for (size_t t = 0; t < DL_SEQ_LEN; t++)\n"
               "            dl_push(mem, x + i * %zu + t * DL_N_FEATURES);\n"
               "        dl_finish(mem);\n        dl_logits(mem, out);\n"
               "        bad += memcmp(out, want + i * DL_N_OUTPUTS, sizeof out) != 0;\n    }\n"
               "    if (bad)\n        printf(\"compiled: %%d mismatches\\n\", bad);\n"
               "    return bad != 0;\n}\n", n, tf, tf);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd,
             "cc -std=c99 -O1 -Wall -Wextra -Werror -I'%s/runtime' -I'%s' '%s' '%s' "
             "'%s/runtime/qrt_kernels.c' '%s/runtime/qrt_layer.c' '%s/runtime/qrt_sparse.c' "
             "-o '%s/dl_driver' && '%s/dl_driver'",
             src, dir, drv, c, src, src, src, dir, dir);
    ck_assert_msg(system(cmd) == 0, "the compiled model differs from the interpreter (%s)", cmd);
}

static const char *const models[] = {
    /* same (odd kernel), max pooling, flatten folded into the dense layer */
    "[{\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\"},"
    " {\"type\": \"relu\"}, {\"type\": \"maxpool1d\", \"pool_size\": 2},"
    " {\"type\": \"flatten\"}, {\"type\": \"dense\"}]",
    /* same with an even kernel and stride 2 (Keras' extra right zero), a folded batch norm,
     * tanh, global average pooling folded */
    "[{\"type\": \"conv1d\", \"filters\": 6, \"kernel_size\": 4, \"strides\": 2,"
    " \"padding\": \"same\"}, {\"type\": \"batchnorm\"}, {\"type\": \"tanh\"},"
    " {\"type\": \"global_average_pooling1d\"}, {\"type\": \"dense\"}]",
    /* sigmoid, then an average with no dense layer after it (an identity window) */
    "[{\"type\": \"conv1d\", \"filters\": 6, \"kernel_size\": 3}, {\"type\": \"sigmoid\"},"
    " {\"type\": \"global_average_pooling1d\"}, {\"type\": \"relu\"}, {\"type\": \"dense\"}]",
    /* two same convolutions (the second's zeros come after the first's), strided max
     * pooling, flatten then batch norm (an identity window), tanh on flat features */
    "[{\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 5, \"padding\": \"same\"},"
    " {\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 2, \"padding\": \"same\"},"
    " {\"type\": \"maxpool1d\", \"pool_size\": 3, \"strides\": 2}, {\"type\": \"flatten\"},"
    " {\"type\": \"batchnorm\"}, {\"type\": \"dense\", \"units\": 8}, {\"type\": \"tanh\"},"
    " {\"type\": \"dense\"}]",
    /* a same convolution before a last-state GRU, sigmoid in the head */
    "[{\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\"},"
    " {\"type\": \"gru\", \"units\": 6}, {\"type\": \"dense\", \"units\": 6},"
    " {\"type\": \"sigmoid\"}, {\"type\": \"dense\"}]",
};
static const char *const kinds[][3] = {
    {"conv1d", "maxpool", "conv1d"},
    {"conv1d", "tanh", "conv1d"},
    {"conv1d", "sigmoid", "conv1d"},
    {"conv1d", "maxpool", "conv1d"},
    {"conv1d", "gru", "sigmoid"},
};
static const size_t kind_at[][3] = {{0, 2, 3}, {0, 1, 2}, {0, 1, 2}, {0, 2, 3}, {0, 1, 3}};

static void one_model(size_t k, int bits4)
{
    const char *plan4 = "\"quantize\": {\"lambda\": 0.0001, \"matrices\": [{\"layer\": \"all\","
                        " \"bits\": 4}]}";
    char *dir = tl_tmpdir();
    qr_split_data d;
    qr_model *m = tl_train_seq(dir, &bc, models[k], bits4 ? plan4 : NULL, &d);
    qr_error err = {{0}};
    qr_export_report rep;
    uint8_t *blob = NULL;
    size_t len = 0;
    ck_assert_msg(qr_export_blob(m, &blob, &len, &rep, &err) == QR_OK, "model %zu: %s", k,
                  err.msg);
    for (int j = 0; j < 3; j++)
        ck_assert_msg(strcmp(rep.layers[kind_at[k][j]].kind, kinds[k][j]) == 0,
                      "model %zu layer %zu: %s, not %s", k, kind_at[k][j],
                      rep.layers[kind_at[k][j]].kind, kinds[k][j]);
    const qr_dataset *sets[3] = {&d.train, &d.val, &d.test};
    for (int s = 0; s < 3; s++) {
        const qr_dataset *ds = sets[s];
        int32_t *ip = malloc(ds->n * sizeof *ip), *fp = malloc(ds->n * sizeof *fp);
        double ia, fa = tl_fq_predict(m, ds, fp);
        ck_assert_msg(qr_export_evaluate(blob, len, ds, &ia, ip, &err) == QR_OK, "%s", err.msg);
        size_t same = 0, first = 0;
        for (size_t i = 0; i < ds->n; i++) {
            same += ip[i] == fp[i];
            first += ip[i] == ip[0];
        }
        ck_assert_msg(first < ds->n, "model %zu split %d: one class predicted", k, s);
        ck_assert_msg(fabs(ia - fa) <= 0.005 + 1e-12 && same * 100 >= ds->n * 99,
                      "model %zu %s split %d: integer %.4f vs fake-quantized %.4f, %zu of %zu "
                      "predictions agree", k, bits4 ? "4-bit" : "8-bit", s, ia, fa, same, ds->n);
        if (s == 2)
            printf("device layers: model %zu, %s: integer %.4f, fake-quantized %.4f, %zu/%zu "
                   "agree\n", k, bits4 ? "4-bit" : "8-bit", ia, fa, same, ds->n);
        free(ip);
        free(fp);
    }
    /* stream and compiled model on the test windows */
    qrt_model qm;
    ck_assert_int_eq(qrt_model_load(&qm, blob, len), QRT_OK);
    int32_t *xq = quantize_all(&qm, &d.test);
    int32_t *lg = check_stream(&qm, xq, d.test.n);
    check_compiled(dir, blob, len, xq, lg, d.test.n, qm.seq_len * qm.n_features, qm.n_outputs);
    free(xq);
    free(lg);
    qr_export_report_free(&rep);
    free(blob);
    qr_model_free(m);
    qr_split_data_free(&d);
    tl_rmtree(dir);
    free(dir);
}

START_TEST(test_device_layers)
{
    one_model((size_t)_i / 2, _i % 2);
}
END_TEST

/* ---- the loader's checks of the new records ------------------------------------------- */

static uint32_t crc32_le(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void fix_crc(uint8_t *b, size_t len)
{
    uint32_t c = crc32_le(b, len - 4);
    memcpy(b + len - 4, &c, 4);
}

/* T = 10, F = 2: conv same (k 4, stride 3: 4 frames, 3 zeros: 1 left, 2 right), max pooling
 * (2, stride 1), tanh, dense 3. */
static uint8_t *small_blob(size_t *len)
{
    qrt_builder_input in = {.seq_len = 10, .n_features = 2, .in_max = 1000, .in_scale = 0.01};
    qrt_builder *b = NULL;
    ck_assert_int_eq(qrt_builder_new(&b, &in), QRT_OK);
    int8_t wc[3 * 8], wd[3 * 3];
    int32_t bias[3] = {5, -5, 0};
    for (int i = 0; i < 24; i++)
        wc[i] = (int8_t)(i % 7 - 3);
    for (int i = 0; i < 9; i++)
        wd[i] = (int8_t)(i % 5 - 2);
    qrt_rq rq = {1 << 30, -3}, rq16 = {1 << 30, 5};
    qrt_builder_conv1d c = {2, 3, 4, 3, 1, QRT_PAD_SAME, {8, wc}, bias, &rq, 1, NULL, 2000};
    ck_assert_int_eq(qrt_builder_add_conv1d(b, &c), QRT_OK);
    ck_assert_int_eq(qrt_builder_add_maxpool(b, 3, 2, 1), QRT_OK);
    ck_assert_int_eq(qrt_builder_add_act(b, 3, 1, rq16), QRT_OK);
    qrt_builder_dense dn = {3, 3, {4, wd}, bias, &rq, 1, NULL, 1 << 20};
    for (int i = 0; i < 9; i++)
        wd[i] = (int8_t)(wd[i] > 7 ? 7 : wd[i]);
    ck_assert_int_eq(qrt_builder_add_dense(b, &dn), QRT_OK);
    uint8_t *blob = NULL;
    ck_assert_int_eq(qrt_builder_finish(b, &blob, len), QRT_OK);
    qrt_builder_free(b);
    return blob;
}

static qrt_layer_rec *rec_n(uint8_t *blob, unsigned n)
{
    const qrt_header *h = (const qrt_header *)(const void *)blob;
    uint8_t *p = blob + h->layers_off;
    for (unsigned i = 0; i < n; i++)
        p += qrt_rec_size((const qrt_layer_rec *)(const void *)p);
    return (qrt_layer_rec *)(void *)p;
}

START_TEST(test_loader_new_records)
{
    size_t len;
    uint8_t *blob = small_blob(&len), *w = malloc(len);
    qrt_model m;
    ck_assert_int_eq(qrt_model_load(&m, blob, len), QRT_OK);
    qrt_layer_rec *r = rec_n(blob, 0);
    ck_assert_uint_eq(r->pad_left, 1);
    ck_assert_uint_eq(r->pad_right, 2);
    /* 1 + 4·2 (conv) + 1 + 2·3 (pool) + 3 (last output) */
    ck_assert_uint_eq(m.state_words, 9 + 7 + 3);
    struct { unsigned layer; size_t at; uint16_t v; qrt_status want; } bad[] = {
        {0, offsetof(qrt_layer_rec, pad_left), 0, QRT_ERR_FORMAT},   /* zeros not Keras' */
        {0, offsetof(qrt_layer_rec, pad_right), 1, QRT_ERR_FORMAT},
        {0, offsetof(qrt_layer_rec, flags), QRT_PAD_VALID, QRT_ERR_FORMAT}, /* pads on valid */
        {0, offsetof(qrt_layer_rec, flags), 3, QRT_ERR_FORMAT},
        {1, offsetof(qrt_layer_rec, dilation), 2, QRT_ERR_RANGE},    /* pooling: dilation 1 */
        {1, offsetof(qrt_layer_rec, kernel), 0, QRT_ERR_RANGE},
        {1, offsetof(qrt_layer_rec, kernel), 5, QRT_ERR_SHAPE},      /* 4 frames < pool 5 */
        {1, offsetof(qrt_layer_rec, stride), 0, QRT_ERR_RANGE},
        {1, offsetof(qrt_layer_rec, out_max), 1999, QRT_ERR_RANGE},  /* not the input's bound */
        {1, offsetof(qrt_layer_rec, flags), QRT_FLAG_ACT_TANH, QRT_ERR_FORMAT},
        {1, offsetof(qrt_layer_rec, pad_left), 1, QRT_ERR_FORMAT},
        {2, offsetof(qrt_layer_rec, out_max), 32767, QRT_ERR_RANGE}, /* act: Q15 */
        {2, offsetof(qrt_layer_rec, flags), 0x10, QRT_ERR_FORMAT},
        {2, offsetof(qrt_layer_rec, kernel), 1, QRT_ERR_FORMAT},
        {3, offsetof(qrt_layer_rec, flags), QRT_FLAG_ACT_TANH, QRT_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(w, blob, len);
        uint8_t *f = (uint8_t *)rec_n(w, bad[i].layer) + bad[i].at;
        if (bad[i].at == offsetof(qrt_layer_rec, out_max)) {
            int32_t v = bad[i].v;
            memcpy(f, &v, 4);
        } else {
            memcpy(f, &bad[i].v, 2);
        }
        fix_crc(w, len);
        ck_assert_msg(qrt_model_load(&m, w, len) == bad[i].want, "case %zu: %s", i,
                      qrt_strerror(qrt_model_load(&m, w, len)));
    }
    /* every byte of the records flipped (CRC fixed): refused, or loaded and run safely */
    const qrt_header *h = (const qrt_header *)(const void *)blob;
    int32_t x[20], lg[3], scratch[256];
    for (int i = 0; i < 20; i++)
        x[i] = i * 97 - 900;
    for (size_t at = h->layers_off; at < h->layers_off + h->layers_size; at++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(w, blob, len);
            w[at] ^= (uint8_t)(1u << bit);
            fix_crc(w, len);
            if (qrt_model_load(&m, w, len) == QRT_OK && qrt_scratch_size(&m) <= sizeof scratch)
                ck_assert_int_eq(qrt_run(&m, x, scratch, sizeof scratch, lg), QRT_OK);
        }
    free(w);
    free(blob);
}
END_TEST

/* A same convolution's stream: its outputs come pad_right frames late; qrt_stream_finish
 * feeds the zeros, and only then are the logits the window's. Without same padding finish
 * changes nothing. */
START_TEST(test_same_stream_latency)
{
    size_t len;
    uint8_t *blob = small_blob(&len);
    qrt_model m;
    ck_assert_int_eq(qrt_model_load(&m, blob, len), QRT_OK);
    int32_t x[20], lw[3], ls[3], scratch[256];
    for (int i = 0; i < 20; i++)
        x[i] = (i * 37) % 200 - 100;
    ck_assert_int_eq(qrt_run(&m, x, scratch, sizeof scratch, lw), QRT_OK);
    qrt_stream s;
    ck_assert_int_eq(qrt_stream_init(&s, &m, scratch, sizeof scratch), QRT_OK);
    for (int t = 0; t < 10; t++)
        ck_assert_int_eq(qrt_stream_push(&s, x + 2 * t), QRT_OK);
    /* conv: first output once 4 − 1 frames arrived (1 zero on the left), then every 3rd
     * frame: frames 3, 6, 9 → 3 outputs; pooling (2, 1): 2 of them */
    ck_assert_uint_eq(s.emitted, 2);
    ck_assert_int_eq(qrt_stream_finish(&s), QRT_OK);
    ck_assert_uint_eq(s.emitted, 3); /* the 4th conv output, from the right zeros */
    ck_assert_int_eq(qrt_stream_logits(&s, ls), QRT_OK);
    ck_assert_mem_eq(ls, lw, sizeof ls);
    ck_assert_int_eq(qrt_stream_finish(NULL), QRT_ERR_ARG);
    free(blob);
}
END_TEST

Suite *qr_suite_devlayers(void)
{
    Suite *s = suite_create("device_layers");
    TCase *tc = tcase_create("trained");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_device_layers, 0, 10);
    suite_add_tcase(s, tc);
    tc = tcase_create("records");
    tcase_add_test(tc, test_loader_new_records);
    tcase_add_test(tc, test_same_stream_latency);
    suite_add_tcase(s, tc);
    return s;
}
