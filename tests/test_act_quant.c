/* Activation fake quantization (qr_fake_quant, "quantize.activations"): the op's values, its
 * moving-max range and straight-through gradient; the config's checks; the ranges in the
 * model file; and the integer model on the trained 8-bit grids against the fake-quantized
 * model, window by window. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "qreg/export.h"
#include "qreg/train.h"
#include "../runtime/qrt.h"
#include "../export/qrt_host.h"

/* y = s·clamp(round(x/s), −A, A) at A = 4, r = 2 (s = 0.5), halves away from zero, NaN kept;
 * and the identity while the range is 0. */
START_TEST(test_fake_quant_values)
{
    qr_graph *g = qr_graph_new(1);
    size_t sx[2] = {1, 10}, one[1] = {1};
    qr_node *x = qr_input(g, "x", 2, sx);
    qr_node *r = qr_param(g, "r", 1, one, 1);
    qr_node *y = qr_fake_quant(g, x, r, 4, 0, 0.9f);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    const float xv[10] = {0.1f, 0.26f, -0.26f, 0.75f, -0.75f, 1.9f, 2.2f, -7.0f, 0.24f, NAN};
    const float want[10] = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f, 2.0f, -2.0f, 0.0f, NAN};
    memcpy(qr_node_data(x), xv, sizeof xv);
    qr_node_data(r)[0] = 0.0f;
    qr_graph_set_training(g, 0);
    qr_graph_forward(g, NULL);
    for (int i = 0; i < 9; i++)
        ck_assert_float_eq(qr_node_data(y)[i], xv[i]); /* r = 0: not calibrated, identity */
    qr_node_data(r)[0] = 2.0f;
    qr_graph_forward(g, NULL);
    for (int i = 0; i < 9; i++)
        ck_assert_msg(qr_node_data(y)[i] == want[i], "x %g: %g, want %g", (double)xv[i],
                      (double)qr_node_data(y)[i], (double)want[i]);
    ck_assert(isnan(qr_node_data(y)[9]));
    ck_assert_float_eq(qr_node_data(r)[0], 2.0f); /* update = 0: the range stays */
    /* bad arguments are refused */
    ck_assert_ptr_null(qr_fake_quant(g, x, r, 0, 1, 0.9f));
    qr_graph_free(g);
}
END_TEST

/* The range in training mode: the first batch's max |x|, then the moving max
 * r = m·r + (1 − m)·max|x| (NaN elements aside); eval mode leaves it as it was. */
START_TEST(test_fake_quant_range)
{
    qr_graph *g = qr_graph_new(2);
    size_t sx[2] = {2, 3}, one[1] = {1};
    qr_node *x = qr_input(g, "x", 2, sx);
    qr_node *r = qr_param(g, "r", 1, one, 1);
    qr_node *y = qr_fake_quant(g, x, r, 127, 1, 0.75f);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    float *xv = qr_node_data(x);
    const float b1[6] = {0.5f, -3.0f, 1.0f, 2.0f, 0.0f, -1.0f};
    memcpy(xv, b1, sizeof b1);
    qr_graph_set_training(g, 1);
    qr_graph_forward(g, NULL);
    ck_assert_float_eq(qr_node_data(r)[0], 3.0f);
    ck_assert_float_eq(qr_node_data(y)[1], -3.0f); /* the max itself is on the grid */
    for (int i = 0; i < 6; i++)
        xv[i] = b1[i] * 3.0f; /* max 9 */
    qr_graph_forward(g, NULL);
    ck_assert_float_eq_tol(qr_node_data(r)[0], 0.75f * 3.0f + 0.25f * 9.0f, 1e-6);
    float kept = qr_node_data(r)[0];
    /* on the grid of the updated range: s = r / 127, and clipped at ±r */
    ck_assert_float_eq_tol(qr_node_data(y)[1], -kept, 1e-5);
    ck_assert_float_eq_tol(qr_node_data(y)[0], roundf(1.5f * 127.0f / kept) * kept / 127.0f,
                           1e-6);
    xv[2] = NAN; /* a NaN element does not poison the range (max |x| of the rest: 9) */
    qr_graph_forward(g, NULL);
    kept = 0.75f * kept + 0.25f * 9.0f;
    ck_assert_float_eq_tol(qr_node_data(r)[0], kept, 1e-6);
    qr_graph_set_training(g, 0);
    xv[2] = 100.0f;
    qr_graph_forward(g, NULL);
    ck_assert_float_eq(qr_node_data(r)[0], kept);
    ck_assert_float_eq_tol(qr_node_data(y)[2], kept, 1e-5);
    qr_graph_free(g);
}
END_TEST

/* The straight-through gradient against its definition on a coarse grid (A = 3): dL/dx =
 * dL/dy inside the range, 0 outside (|x| ≤ r passes, the boundary included); and by finite
 * differences on a grid fine enough (A = 2^20, rounding error 5·10^-7 against a step of
 * 10^-2) that the op is the clip function the estimator differentiates, with values kept
 * away from ±r. */
START_TEST(test_fake_quant_grad)
{
    for (int fine = 0; fine < 2; fine++) {
        qr_graph *g = qr_graph_new(2);
        size_t sx[2] = {2, 8}, one[1] = {1};
        qr_node *x = qr_param(g, "x", 2, sx, 0);
        qr_node *rg = qr_param(g, "range", 1, one, 1);
        qr_node *rd = qr_param(g, "readout", 2, sx, 1);
        qr_node *y = qr_fake_quant(g, x, rg, fine ? 1 << 20 : 3, 0, 0.0f);
        qr_node *loss = qr_sum(g, qr_mul(g, y, rd), -1);
        ck_assert_msg(loss != NULL, "%s", qr_graph_error(g));
        ck_assert_int_eq(qr_graph_compile(g), QR_OK);
        qr_graph_set_training(g, 1);
        float *xv = qr_node_data(x), *c = qr_node_data(rd);
        tl_fill_uniform(c, 16, -1.0f, 1.0f, 7);
        tl_fill_uniform(xv, 16, -3.0f, 3.0f, 8);
        qr_node_data(rg)[0] = 1.5f;
        for (int i = 0; i < 16; i++)
            if (fabsf(fabsf(xv[i]) - 1.5f) < 0.05f)
                xv[i] += 0.1f;
        if (fine) {
            double worst = tl_check_grad(g, loss, x, 1e-2, 1e-4, 1e-3);
            ck_assert(worst < 1e-3);
        } else {
            xv[3] = 1.5f; /* the boundary: inside */
            xv[4] = -1.5f;
            qr_graph_zero_grad(g);
            qr_graph_forward(g, loss);
            qr_graph_backward(g, loss);
            const float *dx = qr_node_grad(x);
            int inside = 0, outside = 0;
            for (int i = 0; i < 16; i++) {
                int in = fabsf(xv[i]) <= 1.5f;
                inside += in;
                outside += !in;
                ck_assert_msg(dx[i] == (in ? c[i] : 0.0f), "x %g: gradient %g, want %g",
                              (double)xv[i], (double)dx[i], (double)(in ? c[i] : 0.0f));
            }
            ck_assert(inside >= 4 && outside >= 4); /* both sides are exercised */
        }
        qr_graph_free(g);
    }
}
END_TEST

static qr_status load_text(const char *dir, const char *quantize, qr_error *err)
{
    char text[2048];
    snprintf(text, sizeof text, "{\"data\": {\"train\": \"x.csv\"}, \"model\": [{\"type\": "
             "\"dense\"}], %s}", quantize);
    char *path = tl_write_file(dir, "c.json", text);
    qr_train_config c;
    qr_status s = qr_train_config_load(path, &c, err);
    if (s == QR_OK)
        qr_train_config_free(&c);
    free(path);
    return s;
}

/* "quantize.activations": accepted alone or beside a plan; every malformed form refused with
 * a message naming the key. */
START_TEST(test_act_config)
{
    char *dir = tl_tmpdir();
    qr_error err = {{0}};
    ck_assert_msg(load_text(dir, "\"quantize\": {\"activations\": {\"bits\": 8}}", &err) ==
                  QR_OK, "%s", err.msg);
    ck_assert_msg(load_text(dir, "\"quantize\": {\"activations\": {\"bits\": 8, \"momentum\": "
                            "0.9}, \"matrices\": [{\"layer\": \"all\", \"bits\": 4}]}", &err) ==
                  QR_OK, "%s", err.msg);
    static const char *const bad[] = {
        "\"quantize\": {\"activations\": {\"bits\": 1}}",
        "\"quantize\": {\"activations\": {\"bits\": 17}}",
        "\"quantize\": {\"activations\": {}}",
        "\"quantize\": {\"activations\": {\"bits\": 8, \"momentum\": 1}}",
        "\"quantize\": {\"activations\": {\"bits\": 8, \"levels\": 3}}",
        "\"quantize\": {\"activations\": 8}",
        "\"stages\": [{\"epochs\": 1, \"quantize\": {\"activations\": {\"bits\": 8}}}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        ck_assert_int_eq(load_text(dir, bad[i], &err), QR_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, "activations") != NULL, "%s: %s", bad[i], err.msg);
    }
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* bts' shape on breast_cancer.csv as 10 steps of 3 features: conv-BN-ReLU-GRU-dense. */
#define BTS_LAYERS \
    "[{\"type\": \"conv1d\", \"filters\": 6, \"kernel_size\": 3}," \
    "  {\"type\": \"batchnorm\"}, {\"type\": \"relu\"}," \
    "  {\"type\": \"spatial_dropout1d\", \"rate\": 0.1}, {\"type\": \"gru\", \"units\": 8}," \
    "  {\"type\": \"dropout\", \"rate\": 0.1}, {\"type\": \"dense\"}]"
static const tl_seq_data bc = {"breast_cancer.csv", 10, 3, 15, 32};

/* Quantizers where the exporter has a tensor of its own: the input and the conv + batch norm
 * unit's output (after the batch norm); not the conv alone (folded), the GRU (Q15) or the
 * logits. The ranges survive the model file, and the integer model sits on them: in_max =
 * A = 127 and the input scale r/127 exactly. */
START_TEST(test_act_model_file)
{
    char *dir = tl_tmpdir();
    qr_split_data d;
    qr_model *m = tl_train_seq(dir, &bc, BTS_LAYERS, "\"quantize\": {\"activations\": "
                               "{\"bits\": 8}}", &d);
    ck_assert_int_eq(qr_model_act_bits(m), 8);
    size_t nl = qr_model_spec_of(m)->n_layers;
    float r_in = 0.0f, r_bn = 0.0f, r;
    ck_assert(qr_model_act_range(m, nl, &r_in) && r_in > 0.0f);
    ck_assert(qr_model_act_range(m, 1, &r_bn) && r_bn > 0.0f);
    for (size_t i = 0; i < nl; i++)
        ck_assert_int_eq(qr_model_act_range(m, i, &r), i == 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/a8.qrm", dir);
    qr_error err = {{0}};
    ck_assert_msg(qr_model_save(m, path, &err) == QR_OK, "%s", err.msg);
    qr_model *l = NULL;
    ck_assert_msg(qr_model_load(path, 16, &l, &err) == QR_OK, "%s", err.msg);
    ck_assert_int_eq(qr_model_act_bits(l), 8);
    ck_assert(qr_model_act_range(l, nl, &r) && r == r_in);
    ck_assert(qr_model_act_range(l, 1, &r) && r == r_bn);
    uint8_t *blob = NULL;
    size_t len = 0;
    ck_assert_msg(qr_export_blob(l, &blob, &len, NULL, &err) == QR_OK, "%s", err.msg);
    qrt_model qm;
    ck_assert_int_eq(qrt_model_load(&qm, blob, len), QRT_OK);
    ck_assert_int_eq(qm.in_max, 127);
    qrt_host_view hv;
    ck_assert_int_eq(qrt_host_view_get(&qm, &hv), QRT_OK);
    double want = (double)r_in / 127.0; /* stored as binary32 in the blob */
    ck_assert_msg(fabs(hv.in_scale - want) <= 1e-7 * want, "input scale %g, trained %g",
                  hv.in_scale, want);
    /* another width than the trained one is refused; the same is fine */
    qr_export_options o = {.act_bits = 4};
    uint8_t *b2 = NULL;
    ck_assert_int_eq(qr_export_blob_ex(l, &o, &b2, &len, NULL, &err), QR_ERR_ARG);
    free(blob);
    qr_model_free(l);
    qr_model_free(m);
    qr_split_data_free(&d);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* How many of the integer predictions ip the fake-quantized model without
 * qr_export_fake_constants (the weights rounded, the biases as trained) makes. */
static size_t weights_only_agree(qr_model *m, const qr_dataset *d, const int32_t *ip)
{
    size_t n_all, same = 0;
    float *w = qr_graph_params(qr_model_graph(m), NULL, &n_all);
    float *save = malloc(n_all * sizeof *save);
    int32_t *fp = malloc(d->n * sizeof *fp);
    ck_assert(save && fp);
    memcpy(save, w, n_all * sizeof *save);
    qr_quant_plan own = {0};
    const qr_quant_plan *plan = qr_model_quant_plan(m);
    if (!plan) {
        ck_assert_int_eq(qr_quant_plan_init(&own, qr_model_spec_of(m)), QR_OK);
        plan = &own;
    }
    qr_quant_fake(plan, qr_model_graph(m));
    double acc;
    ck_assert_int_eq(qr_evaluate(m, d, NULL, &acc, fp), QR_OK);
    memcpy(w, save, n_all * sizeof *save);
    for (size_t i = 0; i < d->n; i++)
        same += fp[i] == ip[i];
    free(save);
    free(fp);
    qr_quant_plan_free(&own);
    return same;
}

/* Item 3 of the job: the fake-quantized model (activation grids and, through
 * qr_export_fake_constants, the integer model's biases included) and the integer model on the
 * trained grids give the same prediction on every window of every split: 8-bit activations
 * with 8-bit PTQ weights and with 4-bit regularized weights, and 4-bit activations with 1-bit
 * weights (where the biases' rounding at the coarse accumulator scale matters: without the
 * constants 561 of 569 agree). Post-training 8-bit grids (act_bits = 8 on a model trained
 * without: no trained grid in the float model) are held to the 99 % of test_export. */
START_TEST(test_act_int_matches_fake_quant)
{
    const char *plans[] = {
        "\"quantize\": {\"activations\": {\"bits\": 8}}",
        "\"quantize\": {\"activations\": {\"bits\": 8}, \"lambda\": 0.001, \"matrices\": "
        "[{\"layer\": \"all\", \"bits\": 4}]}",
        NULL,
        "\"quantize\": {\"activations\": {\"bits\": 4}, \"lambda\": 0.001, \"matrices\": "
        "[{\"layer\": \"all\", \"bits\": 1}]}",
    };
    for (size_t p = 0; p < 4; p++) {
        char *dir = tl_tmpdir();
        qr_split_data d;
        qr_model *m = tl_train_seq(dir, &bc, BTS_LAYERS, plans[p], &d);
        uint8_t *blob = NULL;
        size_t len = 0;
        qr_error err = {{0}};
        qr_export_options o = {.act_bits = p == 2 ? 8 : 0};
        ck_assert_msg(qr_export_blob_ex(m, &o, &blob, &len, NULL, &err) == QR_OK, "%s",
                      err.msg);
        qrt_model qm;
        ck_assert_int_eq(qrt_model_load(&qm, blob, len), QRT_OK);
        ck_assert_int_eq(qm.in_max, p == 3 ? 7 : 127);
        const qr_dataset *sets[3] = {&d.train, &d.val, &d.test};
        size_t same_all = 0, n_all = 0, same_w = 0;
        for (int k = 0; k < 3; k++) {
            const qr_dataset *ds = sets[k];
            int32_t *ip = malloc(ds->n * sizeof *ip), *fp = malloc(ds->n * sizeof *fp);
            double ia, fa = tl_fq_predict(m, ds, fp);
            ck_assert_msg(qr_export_evaluate(blob, len, ds, &ia, ip, &err) == QR_OK, "%s",
                          err.msg);
            size_t same = 0;
            for (size_t i = 0; i < ds->n; i++)
                same += ip[i] == fp[i];
            same_w += weights_only_agree(m, ds, ip);
            ck_assert_msg(p != 2 ? same == ds->n : same * 100 >= ds->n * 99,
                          "plan %zu split %d: integer %.4f vs fake-quantized %.4f, %zu of %zu "
                          "predictions agree", p, k, ia, fa, same, ds->n);
            same_all += same;
            n_all += ds->n;
            free(ip);
            free(fp);
        }
        printf("export, activations, plan %zu: %zu of %zu predictions agree (%zu with the "
               "weights rounded but the float biases)\n", p, same_all, n_all, same_w);
        free(blob);
        qr_model_free(m);
        qr_split_data_free(&d);
        tl_rmtree(dir);
        free(dir);
    }
}
END_TEST

/* The other layer kinds on 4-bit activation grids (A = 7, where a quantizer missing or
 * misplaced against the export shows): PReLU re-rounding on its input's grid, max pooling,
 * flatten and average pooling folded into the dense layer after them or standing alone (an
 * identity window), a standalone batch norm, tanh and sigmoid (their inputs on the grid, their
 * Q15 outputs not), a GRU. The integer model agrees with the fake-quantized one on ≥ 99.5 %
 * of all windows (the rest: bias rounding at the coarse accumulator scale, runtime.md; without
 * the PReLU's re-rounding model 0 falls to 98.1 %). */
START_TEST(test_act_layer_kinds)
{
    static const char *const models[] = {
        "[{\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\"},"
        " {\"type\": \"prelu\", \"alpha_init\": 0.25}, {\"type\": \"maxpool1d\", \"pool_size\": 2},"
        " {\"type\": \"flatten\"}, {\"type\": \"dense\"}]",
        "[{\"type\": \"conv1d\", \"filters\": 6, \"kernel_size\": 3}, {\"type\": \"batchnorm\"},"
        " {\"type\": \"tanh\"}, {\"type\": \"global_average_pooling1d\"}, {\"type\": \"dense\"}]",
        "[{\"type\": \"conv1d\", \"filters\": 6, \"kernel_size\": 3}, {\"type\": \"sigmoid\"},"
        " {\"type\": \"global_average_pooling1d\"}, {\"type\": \"relu\"}, {\"type\": \"dense\"}]",
        "[{\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\"},"
        " {\"type\": \"maxpool1d\", \"pool_size\": 2}, {\"type\": \"flatten\"},"
        " {\"type\": \"batchnorm\"}, {\"type\": \"dense\", \"units\": 8}, {\"type\": \"tanh\"},"
        " {\"type\": \"dense\"}]",
        "[{\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 3, \"padding\": \"causal\"},"
        " {\"type\": \"gru\", \"units\": 6}, {\"type\": \"dense\", \"units\": 6},"
        " {\"type\": \"prelu\"}, {\"type\": \"dense\"}]",
    };
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        char *dir = tl_tmpdir();
        qr_split_data d;
        qr_model *m = tl_train_seq(dir, &bc, models[k], "\"quantize\": {\"activations\": "
                                   "{\"bits\": 4}}", &d);
        uint8_t *blob = NULL;
        size_t len = 0;
        qr_error err = {{0}};
        ck_assert_msg(qr_export_blob(m, &blob, &len, NULL, &err) == QR_OK, "%s", err.msg);
        qrt_model qm;
        ck_assert_int_eq(qrt_model_load(&qm, blob, len), QRT_OK);
        ck_assert_int_eq(qm.in_max, 7);
        const qr_dataset *sets[3] = {&d.train, &d.val, &d.test};
        size_t same = 0, n = 0;
        for (int s = 0; s < 3; s++) {
            const qr_dataset *ds = sets[s];
            int32_t *ip = malloc(ds->n * sizeof *ip), *fp = malloc(ds->n * sizeof *fp);
            double ia;
            tl_fq_predict(m, ds, fp);
            ck_assert_msg(qr_export_evaluate(blob, len, ds, &ia, ip, &err) == QR_OK, "%s",
                          err.msg);
            for (size_t i = 0; i < ds->n; i++)
                same += ip[i] == fp[i];
            n += ds->n;
            free(ip);
            free(fp);
        }
        printf("export, 4-bit activations, model %zu: %zu of %zu predictions agree\n", k, same,
               n);
        ck_assert_msg(same * 1000 >= n * 995, "model %zu: %zu of %zu agree", k, same, n);
        free(blob);
        qr_model_free(m);
        qr_split_data_free(&d);
        tl_rmtree(dir);
        free(dir);
    }
}
END_TEST

/* A float model warm-starts a config with activations (its ranges are not in the float file)
 * and, kept at 0 epochs, gets the calibrated ranges: its integer model is byte for byte the
 * post-training export of the float model (act_bits = 8). */
START_TEST(test_act_warm_start_is_ptq)
{
    char *dir = tl_tmpdir();
    qr_split_data d;
    qr_model *f = tl_train_seq(dir, &bc, BTS_LAYERS, NULL, &d);
    char path[1024], text[8192];
    snprintf(path, sizeof path, "%s/float.qrm", dir);
    qr_error err = {{0}};
    ck_assert_msg(qr_model_save(f, path, &err) == QR_OK, "%s", err.msg);
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/breast_cancer.csv\", \"label\": \"label\","
             " \"sequence\": [10, 3], \"validation_split\": 0.2, \"test_split\": 0.3},"
             " \"model\": %s, \"training\": {\"epochs\": 0, \"seed\": 2, \"init\": \"%s\","
             " \"checkpoint_every\": 0}, \"quantize\": {\"activations\": {\"bits\": 8}}}",
             tl_srcdir(), BTS_LAYERS, path);
    char *cfg = tl_write_file(dir, "a8.json", text);
    qr_train_config c;
    ck_assert_msg(qr_train_config_load(cfg, &c, &err) == QR_OK, "%s", err.msg);
    qr_model *m = NULL;
    ck_assert_msg(qr_train(&c, &d, NULL, NULL, &m, NULL, &err) == QR_OK, "%s", err.msg);
    float r;
    ck_assert(qr_model_act_range(m, 1, &r) && r == qr_model_calibration(f)[2]);
    ck_assert(qr_model_act_range(m, qr_model_spec_of(m)->n_layers, &r) &&
              r == qr_model_calibration(f)[0]);
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    qr_export_options o = {.act_bits = 8};
    ck_assert_msg(qr_export_blob_ex(f, &o, &b1, &l1, NULL, &err) == QR_OK, "%s", err.msg);
    ck_assert_msg(qr_export_blob(m, &b2, &l2, NULL, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(l1, l2);
    ck_assert(memcmp(b1, b2, l1) == 0);
    /* and it differs from the wide int32 export */
    uint8_t *b3 = NULL;
    size_t l3 = 0;
    ck_assert_msg(qr_export_blob(f, &b3, &l3, NULL, &err) == QR_OK, "%s", err.msg);
    ck_assert(l3 != l1 || memcmp(b1, b3, l1) != 0);
    free(b1);
    free(b2);
    free(b3);
    free(cfg);
    qr_train_config_free(&c);
    qr_model_free(m);
    qr_model_free(f);
    qr_split_data_free(&d);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* Models trained without activation quantization: qr_export_fake_evaluate rounds on the
 * export's own grids (A, s), so its prediction is the integer model's on every window of every
 * split — at the default bounds (32767, int16), the wide ones (--act-bits 32) and post-training
 * 8, 4 and 2-bit grids. The weights rounded alone (what the fake-quantized model of such a
 * model was before) miss windows on the coarse grids: the test fails without the grids. */
START_TEST(test_fq_export_grids)
{
    static const tl_seq_data flat = {"breast_cancer.csv", 1, 30, 15, 32};
    static const char *const layers[] = {
        BTS_LAYERS,
        "[{\"type\": \"dense\", \"units\": 12}, {\"type\": \"batchnorm\"},"
        " {\"type\": \"relu\"}, {\"type\": \"dense\", \"units\": 8}, {\"type\": \"relu\"},"
        " {\"type\": \"dense\"}]",
    };
    const tl_seq_data *data[] = {&bc, &flat};
    static const char *const quant[] = {
        NULL, "\"quantize\": {\"lambda\": 0.001, \"matrices\": [{\"layer\": \"all\", "
              "\"bits\": 1}]}"};
    static const int bits[] = {0, 32, 8, 4, 2};
    size_t missed_w = 0;
    for (size_t k = 0; k < 4; k++) {
        char *dir = tl_tmpdir();
        qr_split_data d;
        qr_model *m = tl_train_seq(dir, data[k / 2], layers[k / 2], quant[k % 2], &d);
        for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
            qr_export_options o = {.act_bits = bits[b]};
            uint8_t *blob = NULL;
            size_t len = 0;
            qr_error err = {{0}};
            ck_assert_msg(qr_export_blob_ex(m, &o, &blob, &len, NULL, &err) == QR_OK, "%s",
                          err.msg);
            const qr_dataset *sets[3] = {&d.train, &d.val, &d.test};
            size_t same = 0, same_w = 0, n = 0;
            for (int s = 0; s < 3; s++) {
                const qr_dataset *ds = sets[s];
                int32_t *ip = malloc(ds->n * sizeof *ip), *fp = malloc(ds->n * sizeof *fp);
                int32_t *wp = malloc(ds->n * sizeof *wp);
                double ia, fa;
                ck_assert(ip && fp && wp);
                ck_assert_msg(qr_export_evaluate(blob, len, ds, &ia, ip, &err) == QR_OK, "%s",
                              err.msg);
                ck_assert_msg(qr_export_fake_evaluate(m, &o, ds, &fa, fp, NULL, &err) == QR_OK,
                              "%s", err.msg);
                tl_fq_predict(m, ds, wp);
                for (size_t i = 0; i < ds->n; i++) {
                    same += ip[i] == fp[i];
                    same_w += ip[i] == wp[i];
                }
                n += ds->n;
                free(ip);
                free(fp);
                free(wp);
            }
            printf("fake-quantized on the export's grids, model %zu, --act-bits %d: %zu of %zu "
                   "agree (%zu with the weights rounded alone)\n", k, bits[b], same, n, same_w);
            /* the bts shapes at 2^24 (the int32 form): the GRU's own Q16/Q15 steps are not
             * the float GRU's, and its input grid is fine enough for that to show at a tie
             * (1-bit weights: 568 of 569) */
            ck_assert_msg(same == n || (bits[b] == 32 && k < 2 && same + 1 >= n),
                          "model %zu, act_bits %d: %zu of %zu agree", k, bits[b], same, n);
            missed_w += n - same_w;
            free(blob);
        }
        qr_model_free(m);
        qr_split_data_free(&d);
        tl_rmtree(dir);
        free(dir);
    }
    ck_assert(missed_w > 0);
}
END_TEST

Suite *qr_suite_act_quant(void)
{
    Suite *s = suite_create("act_quant");
    TCase *tc = tcase_create("act_quant");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fake_quant_values);
    tcase_add_test(tc, test_fake_quant_range);
    tcase_add_test(tc, test_fake_quant_grad);
    tcase_add_test(tc, test_act_config);
    tcase_add_test(tc, test_act_model_file);
    tcase_add_test(tc, test_act_int_matches_fake_quant);
    tcase_add_test(tc, test_act_warm_start_is_ptq);
    tcase_add_test(tc, test_act_layer_kinds);
    tcase_add_test(tc, test_fq_export_grids);
    suite_add_tcase(s, tc);
    return s;
}
