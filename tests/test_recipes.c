/* Training recipes beyond one run: warm start from a trained model (bit-identical
 * predictions after 0 epochs, named mismatches), batch-norm re-estimation for the
 * fake-quantized weights (against a plain loop), and staged configs (resumable bit for bit
 * from an interruption in every stage and at the boundary between stages; a stage without
 * dropout and an LSQ scale). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "qreg/train.h"

/* breast_cancer.csv read as 10 steps of 3 features: conv → BN → ReLU → dropout → conv → BN →
 * ReLU → GAP → dense; two batch norms over time steps, dropout, and GRU-free for speed. */
#define MODEL_JSON(f1)                                                                         \
    "[{\"type\": \"conv1d\", \"filters\": " f1 ", \"kernel_size\": 3},"                       \
    " {\"type\": \"batchnorm\"}, {\"type\": \"relu\"}, {\"type\": \"dropout\", \"rate\": 0.1}," \
    " {\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 3}, {\"type\": \"batchnorm\"},"  \
    " {\"type\": \"relu\"}, {\"type\": \"global_average_pooling1d\"}, {\"type\": \"dense\"}]"

static char *write_cfg(const char *dir, const char *name, const char *model, const char *rest)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/breast_cancer.csv\", \"label\": \"label\","
             " \"sequence\": [10, 3], \"validation_split\": 0.2, \"test_split\": 0.2},"
             " \"model\": %s, %s}",
             tl_srcdir(), model, rest);
    return tl_write_file(dir, name, text);
}

static qr_model *train_cfg(const char *path, qr_train_result *r, qr_split_data *keep)
{
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    qr_model *m = NULL;
    ck_assert_msg(qr_train(&c, &d, NULL, NULL, &m, r, &err) == QR_OK, "%s", err.msg);
    if (keep)
        *keep = d;
    else
        qr_split_data_free(&d);
    qr_train_config_free(&c);
    return m;
}

/* A float model trained for 3 epochs, saved to dir/src.qrm; returns the path. */
static char *train_source(const char *dir)
{
    char rest[1024];
    snprintf(rest, sizeof rest,
             "\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.01},"
             " \"training\": {\"epochs\": 3, \"batch_size\": 16, \"seed\": 3, \"checkpoint_every\": 0},"
             " \"output\": {\"model\": \"%s/src.qrm\"}", dir);
    char *cfg = write_cfg(dir, "src.json", MODEL_JSON("4"), rest);
    qr_model *m = train_cfg(cfg, NULL, NULL);
    char *out = malloc(strlen(dir) + 16);
    sprintf(out, "%s/src.qrm", dir);
    qr_error err = {{0}};
    ck_assert_msg(qr_model_save(m, out, &err) == QR_OK, "%s", err.msg);
    qr_model_free(m);
    free(cfg);
    return out;
}

/* Warm start with 0 epochs under another plan, optimizer and seed: the model predicts exactly
 * (bit for bit) as the source model, on every sample of the data file. */
START_TEST(test_warm_start_identical)
{
    char *dir = tl_tmpdir();
    char *src = train_source(dir);
    char rest[2048];
    snprintf(rest, sizeof rest,
             "\"optimizer\": {\"name\": \"sgd\", \"learning_rate\": 0.1},"
             " \"training\": {\"epochs\": 0, \"batch_size\": 16, \"seed\": 11, \"init\": \"%s\"},"
             " \"quantize\": {\"matrices\": [{\"layer\": \"all\", \"bits\": 2}]},"
             " \"output\": {\"model\": \"%s/warm.qrm\"}", src, dir);
    char *cfg = write_cfg(dir, "warm.json", MODEL_JSON("4"), rest);
    qr_split_data d;
    qr_train_result r;
    qr_model *warm = train_cfg(cfg, &r, &d);
    ck_assert_uint_eq(r.best_epoch, 0);
    ck_assert(!isnan(r.fq_test_accuracy));
    qr_model *orig = NULL;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_model_load(src, 16, &orig, &err), QR_OK);
    size_t n = d.train.n, c = 2;
    float *a = malloc(n * c * sizeof *a), *b = malloc(n * c * sizeof *b);
    ck_assert_int_eq(qr_model_predict(orig, d.train.x, n, a, NULL), QR_OK);
    ck_assert_int_eq(qr_model_predict(warm, d.train.x, n, b, NULL), QR_OK);
    ck_assert_msg(memcmp(a, b, n * c * sizeof *a) == 0, "warm-started logits differ");
    /* the batch-norm statistics came along (not the initial 0 / 1) */
    const float *mv = qr_node_data(qr_graph_find(qr_model_graph(warm), "batchnorm_1/moving_variance"));
    ck_assert(mv[0] != 1.0f);
    /* one epoch from there trains (the weights move) */
    qr_train_config tc;
    ck_assert_int_eq(qr_train_config_load(cfg, &tc, &err), QR_OK);
    tc.epochs = 2;
    qr_model *one = NULL;
    /* the starting weights are a candidate (epoch 0): the kept model is never worse on the
     * fake-quantized validation accuracy than the start */
    double start = r.fq_val_accuracy;
    ck_assert_msg(qr_train(&tc, &d, NULL, NULL, &one, &r, &err) == QR_OK, "%s", err.msg);
    ck_assert(r.fq_val_accuracy >= start);
    qr_model_free(one);
    /* without validation data the last epoch is kept: trained, so the logits move */
    size_t n_val = d.val.n;
    d.val.n = 0;
    ck_assert_msg(qr_train(&tc, &d, NULL, NULL, &one, &r, &err) == QR_OK, "%s", err.msg);
    d.val.n = n_val;
    ck_assert_uint_eq(r.best_epoch, 2);
    ck_assert_int_eq(qr_model_predict(one, d.train.x, n, b, NULL), QR_OK);
    ck_assert(memcmp(a, b, n * c * sizeof *a) != 0);
    qr_model_free(one);
    qr_train_config_free(&tc);
    free(a);
    free(b);
    qr_model_free(orig);
    qr_model_free(warm);
    qr_split_data_free(&d);
    free(cfg);
    free(src);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* A model of another shape: the error names the file, the parameter and both shapes; a
 * different layer list names the layer. 0 epochs without a warm start is refused. */
START_TEST(test_warm_start_mismatch)
{
    char *dir = tl_tmpdir();
    char *src = train_source(dir);
    char rest[2048];
    snprintf(rest, sizeof rest,
             "\"training\": {\"epochs\": 1, \"batch_size\": 16, \"init\": \"%s\"}", src);
    const char *models[2] = {MODEL_JSON("5"),
                             "[{\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 3},"
                             " {\"type\": \"relu\"}, {\"type\": \"flatten\"}, {\"type\": \"dense\"}]"};
    const char *want[2][3] = {{"conv1d_1/kernel", "has shape (3, 3, 4)", "expects (3, 3, 5)"},
                              {"layer 2", "'batchnorm_1' batchnorm", "'relu_1' relu"}};
    for (int k = 0; k < 2; k++) {
        char *cfg = write_cfg(dir, "bad.json", models[k], rest);
        qr_train_config c;
        qr_error err = {{0}};
        ck_assert_msg(qr_train_config_load(cfg, &c, &err) == QR_OK, "%s", err.msg);
        qr_split_data d;
        ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_OK);
        qr_model *m = NULL;
        ck_assert_int_eq(qr_train(&c, &d, NULL, NULL, &m, NULL, &err), QR_ERR_SHAPE);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(err.msg, src) != NULL, "%s", err.msg);
        for (int j = 0; j < 3; j++)
            ck_assert_msg(strstr(err.msg, want[k][j]) != NULL, "'%s' not in: %s", want[k][j],
                          err.msg);
        c.epochs = 0;
        free(c.init_path);
        c.init_path = NULL;
        ck_assert_int_eq(qr_train(&c, &d, NULL, NULL, &m, NULL, &err), QR_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, "'training.epochs' is 0") != NULL, "%s", err.msg);
        qr_split_data_free(&d);
        qr_train_config_free(&c);
        free(cfg);
    }
    free(src);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* Batch-norm re-estimation equals the statistics a plain loop computes: weights rounded by
 * the plan, each batch norm's input over all samples and time steps in evaluation mode with
 * the earlier batch norms already re-estimated, population mean and biased variance. */
START_TEST(test_bn_reestimate)
{
    char *dir = tl_tmpdir();
    char *src = train_source(dir);
    qr_error err = {{0}};
    qr_model *lib = NULL, *ref = NULL;
    ck_assert_int_eq(qr_model_load(src, 16, &lib, &err), QR_OK);
    ck_assert_int_eq(qr_model_load(src, 16, &ref, &err), QR_OK);
    qr_quant_plan plan;
    ck_assert_int_eq(qr_quant_plan_init(&plan, qr_model_spec_of(lib)), QR_OK);
    for (size_t i = 0; i < plan.n; i++) {
        plan.m[i].bits = 2;
        plan.m[i].regularized = 1;
    }
    /* data: 150 samples (not a multiple of the batch) */
    size_t n = 150, row = 30;
    float *x = malloc(n * row * sizeof *x);
    tl_fill_uniform(x, n * row, -2.0f, 2.0f, 5);
    qr_graph *gl = qr_model_graph(lib), *gr = qr_model_graph(ref);
    size_t n_tr, n_all;
    float *wl = qr_graph_params(gl, &n_tr, &n_all);
    float *before = malloc(n_all * sizeof *before);
    memcpy(before, wl, n_all * sizeof *before);
    ck_assert_msg(qr_model_bn_reestimate(lib, &plan, x, n, &err) == QR_OK, "%s", err.msg);
    /* float weights as they were */
    ck_assert(memcmp(before, wl, n_tr * sizeof *wl) == 0);
    /* the plain loop on ref */
    qr_quant_fake(&plan, gr);
    const size_t bn_layers[2] = {1, 5};
    const char *names[2] = {"batchnorm_1", "batchnorm_2"};
    for (int k = 0; k < 2; k++) {
        qr_node *in = qr_model_layer_output(ref, bn_layers[k] - 1);
        size_t c = qr_node_dim(in, 2);
        long double sum[8] = {0}, sq[8] = {0}, rows = 0;
        for (size_t at = 0; at < n; at += 16) {
            size_t b = n - at < 16 ? n - at : 16;
            ck_assert_int_eq(qr_model_predict(ref, x + at * row, b, NULL, NULL), QR_OK);
            const float *v = qr_node_data(in);
            size_t cnt = qr_node_size(in);
            for (size_t i = 0; i < cnt; i++) {
                sum[i % c] += v[i];
                sq[i % c] += (long double)v[i] * v[i];
            }
            rows += (long double)(cnt / c);
        }
        char pm[64], pv[64];
        snprintf(pm, sizeof pm, "%s/moving_mean", names[k]);
        snprintf(pv, sizeof pv, "%s/moving_variance", names[k]);
        float *rm = qr_node_data(qr_graph_find(gr, pm)), *rv = qr_node_data(qr_graph_find(gr, pv));
        const float *lm = qr_node_data(qr_graph_find(gl, pm)), *lv = qr_node_data(qr_graph_find(gl, pv));
        for (size_t j = 0; j < c; j++) {
            long double mu = sum[j] / rows, var = sq[j] / rows - mu * mu;
            ck_assert_msg(fabsl(lm[j] - mu) <= 1e-5L * (1 + fabsl(mu)), "%s mean[%zu] %g vs %Lg",
                          names[k], j, (double)lm[j], mu);
            /* (a filter rounded to all zeros has variance 0: an absolute floor) */
            ck_assert_msg(fabsl(lv[j] - var) <= 1e-5L * fabsl(var) + 1e-9L, "%s var[%zu] %g vs %Lg",
                          names[k], j,
                          (double)lv[j], var);
            /* the statistics did change */
            ck_assert(lv[j] != before[qr_node_param_offset(qr_graph_find(gl, pv)) + j]);
            rm[j] = (float)mu; /* the next batch norm sees these */
            rv[j] = (float)var;
        }
    }
    qr_quant_plan_free(&plan);
    ck_assert_int_eq(qr_model_bn_reestimate(lib, NULL, x, 0, &err), QR_ERR_ARG);
    free(before);
    free(x);
    qr_model_free(lib);
    qr_model_free(ref);
    free(src);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- stages ------------------------------------------------------------------------------ */

/* Two stages: a 4-bit regularizer with Nadam, then STE with a learned scale, another learning
 * rate, pruning and batch-norm re-estimation; logs across both. */
static char *stage_config(const char *dir)
{
    char rest[4096];
    snprintf(rest, sizeof rest,
             "\"optimizer\": {\"name\": \"nadam\", \"learning_rate\": 0.01},"
             " \"training\": {\"batch_size\": 16, \"seed\": 5},"
             " \"quantize\": {\"lambda\": 0.001, \"schedule\": {\"name\": \"linear\"},"
             "  \"matrices\": [{\"layer\": \"all\", \"bits\": 4}]},"
             " \"stages\": [{\"epochs\": 3},"
             "  {\"epochs\": 3, \"optimizer\": {\"learning_rate\": 0.002}, \"dropout\": false,"
             "   \"quantize\": {\"bn_reestimate\": true, \"matrices\": [{\"layer\": \"conv1d\","
             "    \"bits\": 4, \"method\": \"ste\", \"scale\": \"learned\"},"
             "    {\"layer\": \"conv1d_2\", \"bits\": 4, \"method\": \"ste\", \"scale\": \"lsq\","
             "     \"scale_lr\": 0.05}]},"
             "   \"prune\": {\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.5,"
             "    \"begin_step\": 2, \"pruning_steps\": 2, \"frequency\": 4}]}}],"
             " \"output\": {\"model\": \"%s/m.qrm\", \"log\": \"%s/log.csv\","
             "  \"quant_log\": \"%s/q.csv\", \"prune_log\": \"%s/p.csv\"}",
             dir, dir, dir, dir);
    return write_cfg(dir, "staged.json", MODEL_JSON("4"), rest);
}

typedef struct stopper {
    volatile sig_atomic_t *flag;
    size_t stage, epoch, batch; /* stop after this batch (0: at the end of the epoch) */
} stopper;

static void on_progress(void *user, const qr_train_progress *p)
{
    stopper *st = user;
    if (p->stage != st->stage || p->epoch != st->epoch)
        return;
    if ((st->batch == 0 && p->event == QR_TRAIN_EPOCH) ||
        (st->batch != 0 && p->event == QR_TRAIN_BATCH && p->batch == st->batch))
        *st->flag = 1;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc((size_t)len + 1, 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return b;
}

/* Train the staged config, interrupted at (stage, epoch, batch) and resumed (stage 0: not
 * interrupted); returns the parameters, the learned scale and the quant log. */
static float *staged_params(qr_train_config *c, qr_split_data *d, stopper st, size_t *n,
                            float alpha[2], char **qlog)
{
    volatile sig_atomic_t flag = 0;
    st.flag = &flag;
    qr_train_control ctl = {0, &flag};
    qr_model *m = NULL;
    qr_train_result r;
    qr_error err = {{0}};
    qr_status s = qr_train_ex(c, d, &ctl, st.stage ? on_progress : NULL, &st, &m, &r, &err);
    if (st.stage) {
        ck_assert_msg(s == QR_ERR_STATE, "expected an interruption, got %d: %s", s, err.msg);
        ck_assert_ptr_null(m);
        ctl.resume = 1;
        flag = 0;
        s = qr_train_ex(c, d, &ctl, NULL, NULL, &m, &r, &err);
    }
    ck_assert_msg(s == QR_OK, "%s", err.msg);
    size_t n_all;
    float *w = qr_graph_params(qr_model_graph(m), NULL, &n_all);
    float *copy = malloc(n_all * sizeof *copy);
    memcpy(copy, w, n_all * sizeof *copy);
    const qr_quant_plan *plan = qr_model_quant_plan(m);
    ck_assert_ptr_nonnull(plan);
    ck_assert(plan->m[0].ste && plan->m[0].alpha != 1.0f);
    ck_assert(plan->m[1].ste && plan->m[1].scale_mode == QR_SCALE_LSQ);
    alpha[0] = plan->m[0].alpha;
    alpha[1] = plan->m[1].alpha;
    *n = n_all;
    *qlog = read_text(c->quant_log_path);
    qr_model_free(m);
    return copy;
}

static void check_staged_resume(size_t stage, size_t epoch, size_t batch)
{
    char *dir = tl_tmpdir();
    char *path = stage_config(dir);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(c.n_stages, 2);
    ck_assert_uint_eq(c.epochs, 6);
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    size_t n1, n2;
    float a1[2], a2[2];
    char *q1, *q2;
    float *straight = staged_params(&c, &d, (stopper){0}, &n1, a1, &q1);
    remove(c.checkpoint_path);
    float *resumed = staged_params(&c, &d, (stopper){NULL, stage, epoch, batch}, &n2, a2, &q2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(straight, resumed, n1 * sizeof *straight) == 0,
                  "resumed run (stopped in stage %zu epoch %zu batch %zu) differs", stage, epoch,
                  batch);
    ck_assert(a1[0] == a2[0] && a1[1] == a2[1]);
    ck_assert_str_eq(q1, q2);
    /* the quant log runs over both stages, epochs numbered 0..6 */
    ck_assert_ptr_nonnull(strstr(q1, "\n6,conv1d_1/kernel,4,ste,"));
    ck_assert_ptr_nonnull(strstr(q1, "\n3,conv1d_1/kernel,4,cos,"));
    free(q1);
    free(q2);
    free(straight);
    free(resumed);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(path);
    free(dir);
}

START_TEST(test_staged_resume_stage1)
{
    check_staged_resume(1, 2, 3);
}
END_TEST

START_TEST(test_staged_resume_boundary)
{
    check_staged_resume(1, 3, 0); /* after the first stage's last epoch */
}
END_TEST

START_TEST(test_staged_resume_stage2)
{
    check_staged_resume(2, 2, 5);
}
END_TEST

/* A staged run differs from its first stage alone, and its stages are what the config says:
 * plans, optimizers, epochs. Config errors name the key. */
START_TEST(test_stages_config)
{
    char *dir = tl_tmpdir();
    char *path = stage_config(dir);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(c.stages[0].epochs, 3);
    ck_assert(c.stages[0].optim.lr == 0.01f && c.stages[1].optim.lr == 0.002f);
    ck_assert_int_eq(c.stages[1].optim.kind, QR_OPTIM_NADAM);
    ck_assert(!c.stages[0].quant.m[0].ste && c.stages[1].quant.m[0].ste);
    ck_assert(!c.stages[1].quant.m[2].ste && c.stages[1].quant.m[2].bits == 4); /* dense: top */
    ck_assert(!c.stages[0].bn_reestimate && c.stages[1].bn_reestimate);
    ck_assert(!c.stages[0].dropout_off && c.stages[1].dropout_off);
    ck_assert_uint_eq(c.stages[0].prune.n, 0);
    ck_assert_uint_gt(c.stages[1].prune.n, 0);
    ck_assert(c.quant.m[0].ste); /* the config's plan: the last stage's */
    qr_train_config_free(&c);
    static const struct {
        const char *stages, *training, *want;
    } bad[] = {
        {"[{\"epochs\": 2}]", "\"epochs\": 3", "'training.epochs' does not apply"},
        {"[]", "\"seed\": 1", "'stages' must be a list"},
        {"[{\"optimizer\": {}}]", "\"seed\": 1", "'stages[0].epochs' is missing"},
        {"[{\"epochs\": 2, \"quantise\": {}}]", "\"seed\": 1", "unknown key 'stages[0].quantise'"},
        {"[{\"epochs\": 2, \"quantize\": 3}]", "\"seed\": 1", "'stages[0].quantize' must be"},
        {"[{\"epochs\": 2, \"optimizer\": {\"learning_rate\": -1}}]", "\"seed\": 1",
         "stages[0]: 'optimizer.learning_rate'"},
        {"[{\"epochs\": 2}, {\"epochs\": 1, \"quantize\": {\"bn_reestimate\": 1}}]", "\"seed\": 1",
         "stages[1]: 'quantize.bn_reestimate'"},
        {"[{\"epochs\": 2}]", "\"reference_accuracy\": 2", "'training.reference_accuracy'"},
        {"[{\"epochs\": 2, \"dropout\": 0}]", "\"seed\": 1", "'stages[0].dropout' must be"},
        {"[{\"epochs\": 2}]", "\"init\": \"\"", "'training.init' is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char rest[1024];
        snprintf(rest, sizeof rest, "\"training\": {%s}, \"stages\": %s,"
                 " \"quantize\": {\"matrices\": [{\"layer\": \"all\", \"bits\": 4}]}",
                 bad[i].training, bad[i].stages);
        char *p = write_cfg(dir, "bad.json", MODEL_JSON("4"), rest);
        ck_assert_int_eq(qr_train_config_load(p, &c, &err), QR_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, bad[i].want) != NULL, "case %zu: %s", i, err.msg);
        free(p);
    }
    /* quantize: false in a stage means a float stage */
    char *p = write_cfg(dir, "float.json", MODEL_JSON("4"),
                        "\"stages\": [{\"epochs\": 1, \"quantize\": false}, {\"epochs\": 1}],"
                        " \"quantize\": {\"bn_reestimate\": true,"
                        "  \"matrices\": [{\"layer\": \"all\", \"bits\": 2}]}");
    ck_assert_msg(qr_train_config_load(p, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(c.stages[0].quant.n, 0);
    ck_assert_uint_gt(c.stages[1].quant.n, 0);
    ck_assert(!c.stages[0].bn_reestimate && c.stages[1].bn_reestimate);
    qr_train_config_free(&c);
    free(p);
    tl_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* Parameters after training cfg (a fresh copy). */
static float *trained_params(const char *cfg, size_t *n)
{
    qr_model *m = train_cfg(cfg, NULL, NULL);
    float *w = qr_graph_params(qr_model_graph(m), NULL, n);
    float *copy = malloc(*n * sizeof *copy);
    memcpy(copy, w, *n * sizeof *copy);
    qr_model_free(m);
    return copy;
}

/* A stage with "dropout": false trains exactly (bit for bit) as the same model with every
 * dropout rate 0, and differs from the stage with dropout on; a later stage has it back. */
START_TEST(test_stage_dropout_off)
{
    char *dir = tl_tmpdir();
    char model0[1024];
    snprintf(model0, sizeof model0, "%s", MODEL_JSON("4"));
    char *r = strstr(model0, "\"rate\": 0.1");
    ck_assert_ptr_nonnull(r);
    r[strlen("\"rate\": 0.")] = '0';
    static const char *const run =
        "\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.01},"
        " \"training\": {\"batch_size\": 16, \"seed\": 3, \"checkpoint_every\": 0},"
        " \"stages\": [%s]";
    char rest[512];
    snprintf(rest, sizeof rest, run, "{\"epochs\": 2, \"dropout\": false}");
    char *off = write_cfg(dir, "off.json", MODEL_JSON("4"), rest);
    snprintf(rest, sizeof rest, run, "{\"epochs\": 2}");
    char *zero = write_cfg(dir, "zero.json", model0, rest);
    char *on = write_cfg(dir, "on.json", MODEL_JSON("4"), rest);
    /* the stage after a dropout-free one has its dropout back */
    snprintf(rest, sizeof rest, run, "{\"epochs\": 2, \"dropout\": false}, {\"epochs\": 2}");
    char *off_on = write_cfg(dir, "off_on.json", MODEL_JSON("4"), rest);
    snprintf(rest, sizeof rest, run, "{\"epochs\": 2, \"dropout\": false},"
             " {\"epochs\": 2, \"dropout\": false}");
    char *off_off = write_cfg(dir, "off_off.json", MODEL_JSON("4"), rest);
    size_t n1, n2, n3, n4, n5;
    float *a = trained_params(off, &n1), *b = trained_params(zero, &n2);
    float *c = trained_params(on, &n3);
    float *d = trained_params(off_on, &n4), *e = trained_params(off_off, &n5);
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_eq(n1, n3);
    ck_assert_msg(memcmp(a, b, n1 * sizeof *a) == 0, "dropout off != dropout rate 0");
    ck_assert_msg(memcmp(a, c, n1 * sizeof *a) != 0, "dropout off == dropout on");
    ck_assert_msg(memcmp(d, e, n4 * sizeof *d) != 0, "the second stage's dropout stayed off");
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    free(off);
    free(zero);
    free(on);
    free(off_on);
    free(off_off);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* The committed recipes with a dropout-free STE stage (docs/accuracy-1bit.md) load, and say
 * what the document measured: float 50, then 50 epochs of STE at 1e-2 on a learned scale per
 * output channel of every matrix, dropout off, a per-step cosine decay, batch norms
 * re-estimated. */
START_TEST(test_nodrop_examples)
{
    static const struct { const char *file; int bits; float clip; } ex[] = {
        {"bts-1bit-nodrop-cos.json", 1, 0.0f},
        {"bts-2bit-nodrop-cos.json", 2, 0.0f},
        /* the same with the STE's edge at 1.5 α (docs/accuracy-1bit.md) */
        {"bts-1bit-nodrop-cos-clip.json", 1, 1.5f},
    };
    for (size_t i = 0; i < sizeof ex / sizeof *ex; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/examples/%s", tl_srcdir(), ex[i].file);
        qr_train_config c;
        qr_error err = {{0}};
        ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s: %s", path, err.msg);
        ck_assert_uint_eq(c.n_stages, 2);
        ck_assert_uint_eq(c.epochs, 100);
        ck_assert_uint_eq(c.stages[0].epochs, 50);
        ck_assert_uint_eq(c.stages[0].quant.n, 0);
        ck_assert(!c.stages[0].dropout_off && c.stages[1].dropout_off);
        ck_assert(c.stages[1].optim.lr == 0.01f && c.stages[1].optim.kind == QR_OPTIM_NADAM);
        ck_assert_int_eq(c.stages[1].lr_schedule.kind, QR_LR_COSINE);
        ck_assert(c.stages[1].lr_schedule.per_step && c.stages[1].lr_schedule.min_lr == 0);
        ck_assert_int_eq(c.stages[0].lr_schedule.kind, QR_LR_CONSTANT);
        ck_assert(c.stages[1].bn_reestimate);
        ck_assert_uint_eq(c.stages[1].quant.n, 4);
        for (size_t k = 0; k < c.stages[1].quant.n; k++) {
            const qr_quant_matrix *q = &c.stages[1].quant.m[k];
            ck_assert(q->ste && q->per_channel && q->scale_mode == QR_SCALE_LEARNED);
            ck_assert_int_eq(q->bits, ex[i].bits);
            ck_assert_float_eq(q->ste_clip, ex[i].clip);
        }
        qr_train_config_free(&c);
    }
}
END_TEST

/* The search's measurements (qreg search): deterministic and leaving the config as it was; at 0
 * epochs with "auto" scales, no batch-norm re-estimation, exactly the sensitivities of
 * qr_search_sensitivity (rounding the loaded model); every matrix at 0: the 8-bit min-max
 * model's loss. */
START_TEST(test_search_measure)
{
    char *dir = tl_tmpdir();
    char *src = train_source(dir);
    char rest[2048];
    snprintf(rest, sizeof rest,
             "\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.01},"
             " \"training\": {\"epochs\": 4, \"batch_size\": 16, \"seed\": 5, \"init\": \"%s\"},"
             " \"output\": {\"model\": \"%s/s.qrm\", \"log\": \"%s/s.csv\"}", src, dir, dir);
    char *cfg = write_cfg(dir, "s.json", MODEL_JSON("4"), rest);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_train_config_load(cfg, &c, &err), QR_OK);
    qr_split_data d;
    ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_OK);
    qr_model *m = NULL;
    ck_assert_int_eq(qr_model_load(src, 16, &m, &err), QR_OK);
    enum { N = 3, NW = 4 };
    static const int widths[NW] = {1, 2, 4, 8};
    double bl, ba, dl[N * NW], da[N * NW], bl2, ba2, dl2[N * NW], da2[N * NW];
    ck_assert_int_eq(qr_search_sensitivity(m, &d.val, widths, NW, &bl, &ba, dl, da, &err), QR_OK);
    qr_search_options o;
    qr_search_options_init(&o);
    ck_assert_msg(qr_search_sensitivity_ex(&c, &d, &o, N, widths, NW, &bl2, &ba2, dl2, da2,
                                           &err) == QR_OK, "%s", err.msg);
    ck_assert_double_eq_tol(bl2, bl, 1e-6);
    ck_assert_double_eq(ba2, ba);
    for (size_t k = 0; k < N * NW; k++) {
        ck_assert_double_eq_tol(dl2[k], dl[k], 1e-6);
        ck_assert_double_eq_tol(da2[k], da[k], 1e-12);
    }
    /* every matrix at 0: the 8-bit min-max PTQ of the model, evaluated directly */
    qr_quant_plan all;
    ck_assert_int_eq(qr_quant_plan_init(&all, qr_model_spec_of(m)), QR_OK);
    qr_quant_fake(&all, qr_model_graph(m));
    double l8, a8;
    ck_assert_int_eq(qr_evaluate(m, &d.val, &l8, &a8, NULL), QR_OK);
    ck_assert_double_eq_tol(bl2, l8, 1e-6);
    ck_assert_double_eq(ba2, a8);
    /* fine-tuned, per channel, batch norms re-estimated: the same twice, the config untouched
     * (no log file written), and the fine-tune changes the measurement */
    int bits[N] = {1, 0, 2};
    double l1, a1, l2, a2, l0, a0;
    o.per_channel = 1;
    o.bn_reestimate = 1;
    ck_assert_int_eq(qr_search_measure(&c, &d, &o, bits, &l0, &a0, &err), QR_OK);
    o.epochs = 2;
    ck_assert_int_eq(qr_search_measure(&c, &d, &o, bits, &l1, &a1, &err), QR_OK);
    ck_assert_int_eq(qr_search_measure(&c, &d, &o, bits, &l2, &a2, &err), QR_OK);
    ck_assert_double_eq(l1, l2);
    ck_assert_double_eq(a1, a2);
    ck_assert(l1 != l0);
    ck_assert_uint_eq(c.epochs, 4);
    ck_assert_uint_eq(c.quant.n, 0);
    ck_assert_int_eq(c.bn_reestimate, 0);
    ck_assert_ptr_nonnull(c.log_path);
    char log[1024];
    snprintf(log, sizeof log, "%s/s.csv", dir);
    FILE *f = fopen(log, "r");
    ck_assert_msg(!f, "a measurement wrote the config's log");
    qr_quant_plan_free(&all);
    qr_model_free(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(cfg);
    free(src);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* Greedy allocation: within every budget tried (the plan's bytes are its widths'), each
 * lowering the one a plain re-implementation picks from qr_search_measure (the least loss
 * increase per byte saved), its reported loss that plan's measurement, the same twice; the
 * 8-bit size keeps every matrix at 8 bits with no lowering; a budget below every matrix at
 * 1 bit is refused naming the smallest size. */
START_TEST(test_search_greedy)
{
    char *dir = tl_tmpdir();
    char *src = train_source(dir);
    char rest[2048];
    snprintf(rest, sizeof rest,
             "\"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.01},"
             " \"training\": {\"epochs\": 4, \"batch_size\": 16, \"seed\": 5, \"init\": \"%s\"}",
             src);
    char *cfg = write_cfg(dir, "g.json", MODEL_JSON("4"), rest);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_train_config_load(cfg, &c, &err), QR_OK);
    qr_split_data d;
    ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_OK);
    enum { N = 3, NW = 4 };
    static const int widths[NW] = {1, 2, 4, 8};
    /* conv 3·3·4, conv 3·4·4, dense 4·2 weights */
    static const size_t counts[N] = {36, 48, 8};
    const double fixed = 100.0, all8 = fixed + 92.0, all1 = fixed + 92.0 / 8;
    qr_search_options o;
    qr_search_options_init(&o);
    o.per_channel = 1;
    o.bn_reestimate = 1;
    for (int t = 0; t <= 6; t++) {
        o.epochs = t % 2; /* rounding and a 1-epoch fine-tune */
        double budget = all1 + (all8 - all1) * t / 6.0;
        int choice[N], again[N];
        double bytes, loss, acc, loss2;
        size_t steps;
        ck_assert_msg(qr_search_greedy(&c, &d, &o, counts, N, widths, NW, fixed, budget, choice,
                                       &bytes, &loss, &acc, &steps, &err) == QR_OK, "%s",
                      err.msg);
        double b = fixed;
        for (size_t i = 0; i < N; i++)
            b += counts[i] * choice[i] / 8.0;
        ck_assert_msg(b <= budget + 1e-9, "budget %.3f: plan of %.3f B", budget, b);
        ck_assert_double_eq_tol(bytes, b, 1e-9);
        ck_assert_int_eq(qr_search_greedy(&c, &d, &o, counts, N, widths, NW, fixed, budget,
                                          again, NULL, &loss2, NULL, NULL, &err), QR_OK);
        ck_assert_mem_eq(choice, again, sizeof choice);
        ck_assert_double_eq(loss, loss2);
        /* the same walk, re-implemented */
        int cur[N] = {8, 8, 8};
        size_t at[N] = {3, 3, 3}, n_steps = 0;
        double cl, ca, bits8 = 92.0 * 8;
        ck_assert_int_eq(qr_search_measure(&c, &d, &o, cur, &cl, &ca, &err), QR_OK);
        while (fixed + bits8 / 8 > budget + 1e-9) {
            size_t best = N;
            double best_r = INFINITY, best_l = 0;
            for (size_t i = 0; i < N; i++) {
                if (!at[i])
                    continue;
                int cand[N];
                memcpy(cand, cur, sizeof cand);
                cand[i] = widths[at[i] - 1];
                double l, a;
                ck_assert_int_eq(qr_search_measure(&c, &d, &o, cand, &l, &a, &err), QR_OK);
                double r = (l - cl) / (counts[i] * (cur[i] - cand[i]) / 8.0);
                if (r < best_r) {
                    best_r = r;
                    best = i;
                    best_l = l;
                }
            }
            ck_assert_uint_lt(best, N);
            bits8 -= (double)counts[best] * (cur[best] - widths[at[best] - 1]);
            cur[best] = widths[--at[best]];
            cl = best_l;
            n_steps++;
        }
        ck_assert_mem_eq(choice, cur, sizeof cur);
        ck_assert_uint_eq(steps, n_steps);
        ck_assert_double_eq(loss, cl);
        if (t == 6) {
            ck_assert_uint_eq(steps, 0);
            ck_assert_int_eq(choice[0] + choice[1] + choice[2], 24);
        }
        if (t == 0)
            ck_assert_int_eq(choice[0] + choice[1] + choice[2], 3);
    }
    int choice[N];
    ck_assert_int_eq(qr_search_greedy(&c, &d, &o, counts, N, widths, NW, fixed, all1 - 0.01,
                                      choice, NULL, NULL, NULL, NULL, &err), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "111.500 B"));
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(cfg);
    free(src);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* The committed Fashion-MNIST recipes (docs/accuracy-fashion.md, recipe prog-f5-cos) load,
 * and say what the document measured: 15 epochs in all, float 5, then STE stages through the
 * widths down to the plan's (a learned scale per output channel of every matrix, Adam 2e-3,
 * no batch norm to re-estimate), the last stage's rate decayed to 0 by a per-step cosine. */
START_TEST(test_fashion_prog_examples)
{
    static const struct {
        const char *file;
        size_t n;              /* STE stages */
        int bits[3];
        size_t epochs[3];
        qr_ste_grad grad;      /* of the last stage */
    } ex[] = {
        {"fashion-mnist-gru-2bit-prog.json", 2, {4, 2}, {4, 6}, QR_STE_GRAD_IDENTITY},
        {"fashion-mnist-gru-1bit-prog.json", 3, {4, 2, 1}, {3, 3, 4}, QR_STE_GRAD_APPROXSIGN},
    };
    for (size_t i = 0; i < sizeof ex / sizeof *ex; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/examples/%s", tl_srcdir(), ex[i].file);
        qr_train_config c;
        qr_error err = {{0}};
        ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s: %s", path, err.msg);
        ck_assert_uint_eq(c.n_stages, 1 + ex[i].n);
        ck_assert_uint_eq(c.epochs, 15);
        ck_assert_uint_eq(c.stages[0].epochs, 5);
        ck_assert_uint_eq(c.stages[0].quant.n, 0);
        for (size_t s = 1; s <= ex[i].n; s++) {
            const qr_train_stage *st = &c.stages[s];
            ck_assert_uint_eq(st->epochs, ex[i].epochs[s - 1]);
            ck_assert(st->optim.lr == 0.002f && st->optim.kind == QR_OPTIM_ADAM);
            ck_assert_int_eq(st->lr_schedule.kind, s == ex[i].n ? QR_LR_COSINE : QR_LR_CONSTANT);
            ck_assert(s < ex[i].n || st->lr_schedule.per_step);
            ck_assert(!st->bn_reestimate && !st->dropout_off);
            ck_assert_uint_eq(st->quant.n, 3);
            for (size_t k = 0; k < st->quant.n; k++) {
                const qr_quant_matrix *q = &st->quant.m[k];
                ck_assert(q->ste && q->per_channel && q->scale_mode == QR_SCALE_LEARNED);
                ck_assert_int_eq(q->bits, ex[i].bits[s - 1]);
                ck_assert_int_eq(q->ste_grad, s == ex[i].n ? ex[i].grad : QR_STE_GRAD_IDENTITY);
            }
        }
        qr_train_config_free(&c);
    }
}
END_TEST

/* The committed KWS 1-bit recipe (docs/accuracy-kws.md, recipe prog-nodrop-cos) loads and says
 * what was measured: 40 epochs, float 20, then STE at 4, 2 and 1 bits for 6, 6 and 8 epochs,
 * each at Nadam 1e-2 with a per-step cosine, dropout off, batch norms re-estimated, a learned
 * scale per output channel of every matrix. */
START_TEST(test_kws_prog_example)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/kws-small-1bit-prog.json", tl_srcdir());
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s: %s", path, err.msg);
    static const int bits[] = {4, 2, 1};
    static const size_t epochs[] = {6, 6, 8};
    ck_assert_uint_eq(c.n_stages, 4);
    ck_assert_uint_eq(c.epochs, 40);
    ck_assert_uint_eq(c.stages[0].epochs, 20);
    ck_assert_uint_eq(c.stages[0].quant.n, 0);
    ck_assert(!c.stages[0].dropout_off);
    for (size_t s = 1; s < 4; s++) {
        const qr_train_stage *st = &c.stages[s];
        ck_assert_uint_eq(st->epochs, epochs[s - 1]);
        ck_assert(st->optim.lr == 0.01f && st->optim.kind == QR_OPTIM_NADAM);
        ck_assert_int_eq(st->lr_schedule.kind, QR_LR_COSINE);
        ck_assert(st->lr_schedule.per_step && st->dropout_off && st->bn_reestimate);
        ck_assert_uint_eq(st->quant.n, 4);
        for (size_t k = 0; k < st->quant.n; k++) {
            const qr_quant_matrix *q = &st->quant.m[k];
            ck_assert(q->ste && q->per_channel && q->scale_mode == QR_SCALE_LEARNED);
            ck_assert_int_eq(q->bits, bits[s - 1]);
        }
    }
    qr_train_config_free(&c);
}
END_TEST

Suite *qr_suite_recipes(void)
{
    Suite *s = suite_create("recipes");
    TCase *tc = tcase_create("recipes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_warm_start_identical);
    tcase_add_test(tc, test_warm_start_mismatch);
    tcase_add_test(tc, test_bn_reestimate);
    tcase_add_test(tc, test_staged_resume_stage1);
    tcase_add_test(tc, test_staged_resume_boundary);
    tcase_add_test(tc, test_staged_resume_stage2);
    tcase_add_test(tc, test_stages_config);
    tcase_add_test(tc, test_stage_dropout_off);
    tcase_add_test(tc, test_nodrop_examples);
    tcase_add_test(tc, test_search_measure);
    tcase_add_test(tc, test_search_greedy);
    tcase_add_test(tc, test_fashion_prog_examples);
    tcase_add_test(tc, test_kws_prog_example);
    suite_add_tcase(s, tc);
    return s;
}
