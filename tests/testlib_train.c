/* Training helpers shared by the export and device-layer suites: a small model trained on
 * one of the bundled CSV files read as sequences, and its fake-quantized predictions (what
 * the integer model is compared with). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "qreg/export.h"
#include "qreg/train.h"

qr_model *tl_train_seq(const char *dir, const tl_seq_data *s, const char *layers,
                       const char *quantize, qr_split_data *d)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/%s\", \"label\": \"label\","
             " \"sequence\": [%zu, %zu], \"validation_split\": 0.2, \"test_split\": 0.3},"
             " \"model\": %s,"
             " \"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.01},"
             " \"training\": {\"epochs\": %zu, \"batch_size\": %zu, \"seed\": 2,"
             "  \"checkpoint_every\": 0}%s%s}",
             tl_srcdir(), s->csv, s->t, s->f, layers, s->epochs, s->batch,
             quantize ? ", " : "", quantize ? quantize : "");
    char *path = tl_write_file(dir, "seq.json", text);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_msg(qr_train_load_data(&c, d, &err) == QR_OK, "%s", err.msg);
    qr_model *m = NULL;
    ck_assert_msg(qr_train(&c, d, NULL, NULL, &m, NULL, &err) == QR_OK, "%s", err.msg);
    qr_train_config_free(&c);
    free(path);
    return m;
}

double tl_fq_predict(qr_model *m, const qr_dataset *d, int32_t *pred)
{
    size_t n_all;
    float *w = qr_graph_params(qr_model_graph(m), NULL, &n_all);
    float *save = malloc(n_all * sizeof *save);
    ck_assert_ptr_nonnull(save);
    memcpy(save, w, n_all * sizeof *save);
    qr_quant_plan own = {0};
    const qr_quant_plan *plan = qr_model_quant_plan(m);
    if (!plan) {
        ck_assert_int_eq(qr_quant_plan_init(&own, qr_model_spec_of(m)), QR_OK);
        plan = &own;
    }
    qr_quant_fake(plan, qr_model_graph(m));
    qr_error err = {{0}};
    ck_assert_msg(qr_export_fake_constants(m, &err) == QR_OK, "%s", err.msg);
    double acc;
    ck_assert_int_eq(qr_evaluate(m, d, NULL, &acc, pred), QR_OK);
    memcpy(w, save, n_all * sizeof *save);
    free(save);
    qr_quant_plan_free(&own);
    return acc;
}
