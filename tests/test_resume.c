/* Interruption: a run stopped (between epochs or in the middle of one) and resumed from its
 * checkpoint ends with exactly the parameters of a straight run; non-finite losses stop
 * training with a message naming epoch and step and leave the checkpoint intact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "qreg/train.h"

/* A config exercising every piece of trainer state: dropout (graph RNG), batch norm
 * (buffers), Nadam (moments and the momentum product), a learned grid scale per matrix and
 * learned scales per channel, a quantization schedule, pruning masks, and logs. */
static char *write_config(const char *dir, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/wine.csv\", \"label\": \"label\","
             " \"validation_split\": 0.2, \"test_split\": 0.2},"
             " \"model\": [{\"type\": \"dense\", \"units\": 12}, {\"type\": \"batchnorm\"},"
             "  {\"type\": \"relu\"}, {\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"dense\"}],"
             " \"optimizer\": {\"name\": \"nadam\", \"learning_rate\": 0.01},"
             " \"training\": {\"epochs\": 6, \"batch_size\": 16, \"seed\": 7},"
             " \"quantize\": {\"lambda\": 0.001, \"schedule\": {\"name\": \"linear\"},"
             "  \"matrices\": [{\"layer\": \"dense_1\", \"bits\": 4, \"scale\": \"learned\"},"
             "                {\"layer\": \"dense_2\", \"bits\": 2, \"scale\": \"learned\","
             "                 \"granularity\": \"channel\"}]},"
             " \"prune\": {\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.5,"
             "  \"begin_step\": 5, \"pruning_steps\": 4, \"frequency\": 5}]},"
             " \"output\": {\"model\": \"%s/m.qrm\", \"log\": \"%s/log.csv\","
             "  \"quant_log\": \"%s/q.csv\", \"prune_log\": \"%s/p.csv\"}%s}",
             tl_srcdir(), dir, dir, dir, dir, extra);
    return tl_write_file(dir, "cfg.json", text);
}

typedef struct stopper {
    volatile sig_atomic_t *flag;
    size_t epoch, batch;  /* request a stop after this batch of this epoch (batch 0: at the end) */
} stopper;

static void on_progress(void *user, const qr_train_progress *p)
{
    stopper *st = user;
    if (p->epoch != st->epoch)
        return;
    if ((st->batch == 0 && p->event == QR_TRAIN_EPOCH) ||
        (st->batch != 0 && p->event == QR_TRAIN_BATCH && p->batch == st->batch))
        *st->flag = 1;
}

static float *train_params(qr_train_config *c, qr_split_data *d, size_t stop_epoch,
                           size_t stop_batch, size_t *n)
{
    volatile sig_atomic_t flag = 0;
    stopper st = {&flag, stop_epoch, stop_batch};
    qr_train_control ctl = {0, &flag};
    qr_model *m = NULL;
    qr_train_result r;
    qr_error err = {{0}};
    qr_status s = qr_train_ex(c, d, &ctl, stop_epoch ? on_progress : NULL, &st, &m, &r, &err);
    if (stop_epoch) {
        ck_assert_msg(s == QR_ERR_STATE, "expected an interruption, got %d: %s", s, err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, "interrupted"));
        ck_assert_ptr_null(m);
        ctl.resume = 1;
        flag = 0;
        s = qr_train_ex(c, d, &ctl, NULL, NULL, &m, &r, &err);
    }
    ck_assert_msg(s == QR_OK, "%s", err.msg);
    size_t n_all;
    float *w = qr_graph_params(qr_model_graph(m), NULL, &n_all);
    /* the learned grid scales are part of the result too: per matrix and per channel */
    const qr_quant_plan *plan = qr_model_quant_plan(m);
    ck_assert_ptr_nonnull(plan);
    ck_assert(plan->m[0].alpha != 1.0f);
    ck_assert_uint_eq(plan->n_alphas, 3);
    float *copy = malloc((n_all + 3) * sizeof *copy);
    memcpy(copy, w, n_all * sizeof *copy);
    memcpy(copy + n_all, plan->alphas, 3 * sizeof *copy);
    ck_assert(plan->alphas[0] != 1.0f);
    *n = n_all + 3;
    qr_model_free(m);
    return copy;
}

static void check_resume(size_t stop_epoch, size_t stop_batch)
{
    char *dir = tl_tmpdir();
    char *path = write_config(dir, "");
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    size_t n1, n2;
    float *straight = train_params(&c, &d, 0, 0, &n1);
    remove(c.checkpoint_path);
    float *resumed = train_params(&c, &d, stop_epoch, stop_batch, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(straight, resumed, n1 * sizeof *straight) == 0,
                  "resumed run (stopped at epoch %zu batch %zu) differs from a straight run",
                  stop_epoch, stop_batch);
    free(straight);
    free(resumed);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(path);
    free(dir);
}

START_TEST(test_resume_between_epochs)
{
    check_resume(3, 0);
}
END_TEST

START_TEST(test_resume_mid_epoch)
{
    check_resume(2, 3);
}
END_TEST

/* A checkpoint of another run (different seed) is refused. */
START_TEST(test_resume_other_run)
{
    char *dir = tl_tmpdir();
    char *path = write_config(dir, "");
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_train_config_load(path, &c, &err), QR_OK);
    qr_split_data d;
    ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_OK);
    size_t n;
    free(train_params(&c, &d, 0, 0, &n)); /* leaves a checkpoint after the last epoch */
    c.seed = 8;
    qr_train_control ctl = {1, NULL};
    qr_model *m = NULL;
    ck_assert_int_eq(qr_train_ex(&c, &d, &ctl, NULL, NULL, &m, NULL, &err), QR_ERR_STATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "another run"));
    /* a corrupt checkpoint is refused with a checksum error */
    c.seed = 7;
    FILE *f = fopen(c.checkpoint_path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 100, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    ck_assert_int_eq(qr_train_ex(&c, &d, &ctl, NULL, NULL, &m, NULL, &err), QR_ERR_CHECKSUM);
    ck_assert_ptr_null(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*len + 1);
    ck_assert_uint_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

/* A NaN in the data stops training with a message naming the sample, writes no model, and
 * the checkpoint of the last good epoch is left as it was. */
START_TEST(test_nan_stops)
{
    char *dir = tl_tmpdir();
    char *path = write_config(dir, "");
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_train_config_load(path, &c, &err), QR_OK);
    qr_split_data d;
    ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_OK);
    volatile sig_atomic_t flag = 0;
    stopper st = {&flag, 2, 0};
    qr_train_control ctl = {0, &flag};
    qr_model *m = NULL;
    ck_assert_int_eq(qr_train_ex(&c, &d, &ctl, on_progress, &st, &m, NULL, &err), QR_ERR_STATE);
    size_t len0, len1;
    unsigned char *before = slurp(c.checkpoint_path, &len0);
    d.train.x[5 * d.train.f + 3] = NAN; /* the data turns bad; resume from the checkpoint */
    ctl.resume = 1;
    flag = 0;
    ck_assert_int_eq(qr_train_ex(&c, &d, &ctl, NULL, NULL, &m, NULL, &err), QR_ERR_NUMERIC);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, "not finite") != NULL && strstr(err.msg, "sample 5 "),
                  "%s", err.msg);
    unsigned char *after = slurp(c.checkpoint_path, &len1);
    ck_assert_uint_eq(len0, len1);
    ck_assert(memcmp(before, after, len0) == 0);
    free(before);
    free(after);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* Pruned weights are exactly zero after training, at the target sparsity. */
START_TEST(test_pruned_zero)
{
    char *dir = tl_tmpdir();
    char *path = write_config(dir, "");
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_train_config_load(path, &c, &err), QR_OK);
    qr_split_data d;
    ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_OK);
    qr_model *m = NULL;
    ck_assert_msg(qr_train(&c, &d, NULL, NULL, &m, NULL, &err) == QR_OK, "%s", err.msg);
    qr_node *k = qr_graph_find(qr_model_graph(m), "dense_1/kernel");
    size_t zeros = 0;
    for (size_t i = 0; i < qr_node_size(k); i++)
        zeros += qr_node_data(k)[i] == 0.0f;
    /* 13 x 12 = 156 weights at 50 %: exactly floor(0.5 · 156) = 78 are zero */
    ck_assert_uint_eq(qr_node_size(k), 156);
    ck_assert_uint_eq(zeros, 78);
    qr_model_free(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

Suite *qr_suite_resume(void)
{
    Suite *s = suite_create("resume");
    TCase *tc = tcase_create("checkpoints");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_resume_between_epochs);
    tcase_add_test(tc, test_resume_mid_epoch);
    tcase_add_test(tc, test_resume_other_run);
    tcase_add_test(tc, test_nan_stops);
    tcase_add_test(tc, test_pruned_zero);
    suite_add_tcase(s, tc);
    return s;
}
