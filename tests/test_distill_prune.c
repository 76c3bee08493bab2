/* Pruning (the schedule against Zhu & Gupta's formula, masks, config refusals, optimizer
 * moments of pruned weights) and distillation inputs (every bad teacher-logits file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "testlib.h"
#include "qreg/optim.h"
#include "qreg/train.h"

START_TEST(test_prune_schedule)
{
    qr_prune_matrix p = {.active = 1, .s_final = 0.8, .s_initial = 0.1, .t0 = 10, .n = 4, .dt = 5};
    /* s_t = s_f + (s_0 − s_f)(1 − (t − t0)/(nΔt))³ */
    const uint64_t ts[] = {10, 15, 20, 25, 30};
    for (int k = 0; k < 5; k++) {
        double r = 1.0 - (double)(ts[k] - 10) / 20.0;
        double want = 0.8 + (0.1 - 0.8) * r * r * r;
        ck_assert_double_eq_tol(qr_prune_sparsity(&p, ts[k]), want, 1e-12);
        ck_assert(qr_prune_is_step(&p, ts[k]));
    }
    ck_assert_double_eq_tol(qr_prune_sparsity(&p, 10), 0.1, 1e-12);       /* s_0 at t0 */
    ck_assert_double_eq_tol(qr_prune_sparsity(&p, 30), 0.8, 1e-12);       /* s_f at the end */
    ck_assert_double_eq_tol(qr_prune_sparsity(&p, 20), 0.8 - 0.7 / 8, 1e-12);
    ck_assert_double_eq(qr_prune_sparsity(&p, 9), 0.0);                   /* before t0 */
    ck_assert_double_eq(qr_prune_sparsity(&p, 1000), 0.8);                /* after */
    ck_assert(!qr_prune_is_step(&p, 9));
    ck_assert(!qr_prune_is_step(&p, 12));
    ck_assert(!qr_prune_is_step(&p, 35));
    /* n = 0: one step at t0 straight to s_f */
    qr_prune_matrix q = {.active = 1, .s_final = 0.5, .t0 = 3, .n = 0, .dt = 7};
    ck_assert(qr_prune_is_step(&q, 3));
    ck_assert(!qr_prune_is_step(&q, 10));
    ck_assert_double_eq(qr_prune_sparsity(&q, 3), 0.5);
}
END_TEST

START_TEST(test_prune_mask)
{
    const float w[8] = {0.5f, -0.1f, 0.3f, -0.3f, 0.0f, 2.0f, -0.05f, 0.3f};
    uint8_t mask[8];
    size_t scratch[8];
    qr_prune_mask(w, 8, 0.5, mask, scratch); /* floor(0.5·8) = 4 smallest: 0, −0.05, −0.1, then
                                               the first of the three 0.3s (index 2) */
    const uint8_t want[8] = {1, 0, 0, 1, 0, 1, 0, 1};
    ck_assert(memcmp(mask, want, 8) == 0);
    qr_prune_mask(w, 8, 0.3, mask, scratch); /* floor(2.4) = 2 */
    size_t zeros = 0;
    for (int i = 0; i < 8; i++)
        zeros += mask[i] == 0;
    ck_assert_uint_eq(zeros, 2);
    ck_assert(mask[4] == 0 && mask[6] == 0);
    qr_prune_mask(w, 8, 0.0, mask, scratch);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(mask[i], 1);
}
END_TEST

static qr_status parse_prune(const char *prune, const char *quant, qr_error *err)
{
    qr_model_spec spec = {0};
    cJSON *layers = cJSON_Parse("[{\"type\": \"dense\", \"units\": 4}, {\"type\": \"relu\"},"
                                " {\"type\": \"dense\", \"units\": 2}]");
    ck_assert_int_eq(qr_model_spec_parse(&spec, layers, "t.json", err), QR_OK);
    qr_quant_plan qp = {0};
    if (quant) {
        cJSON *q = cJSON_Parse(quant);
        ck_assert_int_eq(qr_quant_plan_init(&qp, &spec), QR_OK);
        ck_assert_int_eq(qr_quant_plan_parse(&qp, q, &spec, 10, "t.json", err), QR_OK);
        cJSON_Delete(q);
    }
    cJSON *pj = cJSON_Parse(prune);
    ck_assert_ptr_nonnull(pj);
    qr_prune_plan pp = {0};
    qr_status s = qr_prune_plan_parse(&pp, pj, &spec, quant ? &qp : NULL, "t.json", err);
    if (s == QR_OK) {
        ck_assert_uint_eq(pp.n, 2);
        ck_assert(pp.m[0].active && !pp.m[1].active);
        ck_assert_double_eq_tol(pp.m[0].s_final, 0.6, 1e-12);
    }
    qr_prune_plan_free(&pp);
    qr_quant_plan_free(&qp);
    cJSON_Delete(pj);
    cJSON_Delete(layers);
    qr_model_spec_free(&spec);
    return s;
}

START_TEST(test_prune_config)
{
    qr_error err = {{0}};
    ck_assert_int_eq(parse_prune("{\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.6}]}",
                                 NULL, &err), QR_OK);
    /* zero is not on the 1-bit grid */
    ck_assert_int_eq(parse_prune("{\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.6}]}",
                                 "{\"matrices\": [{\"layer\": \"dense_1\", \"bits\": 1}]}", &err),
                     QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "1-bit grid"));
    /* but N >= 2 is fine: zero is a minimum of Reg_N */
    ck_assert_int_eq(parse_prune("{\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.6}]}",
                                 "{\"matrices\": [{\"layer\": \"dense_1\", \"bits\": 2}]}", &err),
                     QR_OK);
    const char *bad[] = {
        "{\"matrices\": [{\"layer\": \"dense_1\"}]}",                                /* no target */
        "{\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 1.0}]}",       /* 1 */
        "{\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.3,"
        " \"initial_sparsity\": 0.5}]}",                                             /* s0 > sf */
        "{\"matrices\": [{\"layer\": \"gru\", \"final_sparsity\": 0.3}]}",           /* no match */
        "{\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.3, \"frequency\": 0}]}",
        "{\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.3, \"typo\": 1}]}",
        "{\"matrices\": []}",
        "{\"layers\": []}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        ck_assert_msg(parse_prune(bad[i], NULL, &err) == QR_ERR_CONFIG, "accepted: %s", bad[i]);
        ck_assert_msg(strstr(err.msg, "t.json") != NULL, "%s", err.msg);
    }
}
END_TEST

/* Pruned entries: weights exactly zero and optimizer moments zero, step after step. */
START_TEST(test_pruner_optimizer)
{
    qr_model_spec spec = {0};
    qr_error err = {{0}};
    cJSON *layers = cJSON_Parse("[{\"type\": \"dense\", \"units\": 6}, {\"type\": \"dense\"}]");
    ck_assert_int_eq(qr_model_spec_parse(&spec, layers, "t", &err), QR_OK);
    spec.t = 1;
    spec.f = 5;
    spec.n_classes = 3;
    qr_model *m = NULL;
    ck_assert_int_eq(qr_model_new(&spec, 4, 3, &m, &err), QR_OK);
    cJSON *pj = cJSON_Parse("{\"matrices\": [{\"layer\": \"dense_1\", \"final_sparsity\": 0.5,"
                            " \"begin_step\": 2, \"pruning_steps\": 2, \"frequency\": 2}]}");
    qr_prune_plan pp;
    ck_assert_int_eq(qr_prune_plan_parse(&pp, pj, &spec, NULL, "t", &err), QR_OK);
    qr_status st;
    qr_pruner *pr = qr_pruner_new(&pp, qr_model_graph(m), &st);
    ck_assert_ptr_nonnull(pr);
    qr_graph *g = qr_model_graph(m);
    size_t n_tr;
    float *w = qr_graph_params(g, &n_tr, NULL), *gw = qr_graph_grads(g);
    qr_optim_config oc;
    qr_optim_config_default(&oc, QR_OPTIM_ADAM);
    qr_optim *opt = qr_optim_new(&oc, n_tr);
    qr_node *k = qr_graph_find(g, "dense_1/kernel");
    size_t off = qr_node_param_offset(k), cnt = qr_node_size(k);
    for (uint64_t t = 1; t <= 10; t++) {
        for (size_t i = 0; i < n_tr; i++)
            gw[i] = 0.1f * (float)((i * 7 + t) % 5) - 0.2f; /* gradients everywhere */
        qr_pruner_mask_grads(pr);
        qr_optim_step(opt, w, gw);
        qr_pruner_apply(pr);
        if (qr_pruner_update(pr, t))
            qr_optim_reset_elements(opt, qr_pruner_mask(pr));
        const uint8_t *mk = qr_pruner_mask(pr);
        const float *state = qr_optim_state(opt); /* Adam: [m | v] */
        size_t zeros = 0;
        for (size_t i = 0; i < cnt; i++)
            if (!mk[off + i]) {
                zeros++;
                ck_assert_float_eq(w[off + i], 0.0f);
                ck_assert_float_eq(state[off + i], 0.0f);
                ck_assert_float_eq(state[n_tr + off + i], 0.0f);
            }
        double target, actual;
        qr_pruner_sparsity(pr, 0, t, &target, &actual);
        if (t >= 6) /* the last pruning step is t0 + nΔt = 6 */
            ck_assert_uint_eq(zeros, cnt / 2);
        ck_assert_double_eq_tol(actual, (double)zeros / (double)cnt, 1e-12);
    }
    qr_optim_free(opt);
    qr_pruner_free(pr);
    qr_prune_plan_free(&pp);
    cJSON_Delete(pj);
    cJSON_Delete(layers);
    qr_model_free(m);
    qr_model_spec_free(&spec);
}
END_TEST

/* Every bad teacher-logits file is refused with a message naming it. */
START_TEST(test_bad_logits)
{
    char *dir = tl_tmpdir();
    char text[1024];
    /* iris: 150 rows, 3 classes; no split, so the logits file maps row to row */
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/iris.csv\", \"label\": \"label\","
             " \"validation_split\": 0, \"test_split\": 0},"
             " \"model\": [{\"type\": \"dense\"}], \"training\": {\"epochs\": 1},"
             " \"distill\": {\"logits\": \"l.csv\"}}", tl_srcdir());
    char *cfg = tl_write_file(dir, "c.json", text);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(cfg, &c, &err) == QR_OK, "%s", err.msg);
    qr_split_data d;
    ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_OK);
    ck_assert_uint_eq(d.n_source, 150);
    /* a good file: 150 rows of 3 numbers */
    size_t cap = 20000;
    char *good = malloc(cap);
    strcpy(good, "a,b,c\n");
    for (int i = 0; i < 150; i++)
        snprintf(good + strlen(good), cap - strlen(good), "%d,-1.5,2e-3\n", i);
    free(tl_write_file(dir, "l.csv", good));
    float *logits = NULL;
    ck_assert_msg(qr_teacher_logits(&c, &d, &logits, &err) == QR_OK, "%s", err.msg);
    ck_assert_float_eq(logits[7 * 3], 7.0f); /* row 7 of the file is sample 7 */
    free(logits);
    struct { const char *what, *body, *msg; } cases[] = {
        {"too few rows", "a,b,c\n1,2,3\n", "rows"},
        {"header with 2 columns", "a,b\n", "columns"},
        {"a row with 2 columns", "a,b,c\n1,2\n", "columns"},
        {"a row with 4 columns", "a,b,c\n1,2,3,4\n", "columns"},
        {"not a number", "a,b,c\n1,x,3\n", "finite number"},
        {"infinity", "a,b,c\n1,inf,3\n", "finite number"},
        {"NaN", "a,b,c\nnan,1,3\n", "finite number"},
        {"overflow", "a,b,c\n1,1e999,3\n", "finite number"},
        {"empty", "", "columns"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        free(tl_write_file(dir, "l.csv", cases[i].body));
        err.msg[0] = '\0';
        ck_assert_msg(qr_teacher_logits(&c, &d, &logits, &err) == QR_ERR_FORMAT, "%s accepted",
                      cases[i].what);
        ck_assert_ptr_null(logits);
        ck_assert_msg(strstr(err.msg, "l.csv") && strstr(err.msg, cases[i].msg), "%s: %s",
                      cases[i].what, err.msg);
    }
    /* too many rows: the good file plus one */
    snprintf(good + strlen(good), cap - strlen(good), "1,2,3\n");
    free(tl_write_file(dir, "l.csv", good));
    ck_assert_int_eq(qr_teacher_logits(&c, &d, &logits, &err), QR_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "more rows"));
    /* a missing file */
    char path[4096];
    snprintf(path, sizeof path, "%s/l.csv", dir);
    remove(path);
    ck_assert_int_eq(qr_teacher_logits(&c, &d, &logits, &err), QR_ERR_IO);
    free(good);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    /* config: exactly one of teacher and logits */
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/iris.csv\"}, \"model\": [{\"type\": \"dense\"}],"
             " \"distill\": {\"logits\": \"l.csv\", \"teacher\": \"t.qrm\"}}", tl_srcdir());
    free(cfg);
    cfg = tl_write_file(dir, "c.json", text);
    ck_assert_int_eq(qr_train_config_load(cfg, &c, &err), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "exactly one"));
    free(cfg);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

Suite *qr_suite_distill_prune(void)
{
    Suite *s = suite_create("distill_prune");
    TCase *tc = tcase_create("prune");
    tcase_add_test(tc, test_prune_schedule);
    tcase_add_test(tc, test_prune_mask);
    tcase_add_test(tc, test_prune_config);
    tcase_add_test(tc, test_pruner_optimizer);
    suite_add_tcase(s, tc);
    TCase *td = tcase_create("distill");
    tcase_add_test(td, test_bad_logits);
    suite_add_tcase(s, td);
    return s;
}
