/* The distillation loss: hand-computed values, α = 1 is plain cross-entropy, gradients by
 * finite differences with and without the T² factor, stability with huge logits. */
#include <math.h>
#include <string.h>
#include "testlib.h"

static qr_graph *kd_graph(float alpha, float temp, int t2, qr_node **s, qr_node **t, qr_node **y,
                          qr_node **loss, qr_node **ce)
{
    qr_graph *g = qr_graph_new(3);
    size_t sz[2] = {3, 4}, sy[1] = {3};
    *s = qr_input(g, "s", 2, sz);
    *t = qr_input(g, "t", 2, sz);
    *y = qr_input(g, "y", 1, sy);
    qr_node_set_requires_grad(*s, 1);
    *loss = qr_kd_loss(g, *s, *t, *y, alpha, temp, t2);
    *ce = qr_softmax_ce(g, *s, *y);
    ck_assert_msg(*loss != NULL, "%s", qr_graph_error(g));
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    const float sv[12] = {1, 2, 0.5f, -1, 0, 0, 0, 0, 3, -2, 1, 0.25f};
    const float tv[12] = {0.5f, 3, 0, -2, 1, -1, 2, 0, 2, -1, 0, 1};
    const float yv[3] = {1, 2, 0};
    memcpy(qr_node_data(*s), sv, sizeof sv);
    memcpy(qr_node_data(*t), tv, sizeof tv);
    memcpy(qr_node_data(*y), yv, sizeof yv);
    return g;
}

/* The definition, in double. */
static double kd_reference(const float *s, const float *t, const float *y, double alpha,
                           double temp, int t2)
{
    double total = 0;
    for (int i = 0; i < 3; i++) {
        double ps[4], qs[4], qt[4], zs = 0, zsT = 0, ztT = 0;
        for (int j = 0; j < 4; j++) {
            zs += exp(s[i * 4 + j]);
            zsT += exp(s[i * 4 + j] / temp);
            ztT += exp(t[i * 4 + j] / temp);
        }
        double kl = 0;
        for (int j = 0; j < 4; j++) {
            ps[j] = exp(s[i * 4 + j]) / zs;
            qs[j] = exp(s[i * 4 + j] / temp) / zsT;
            qt[j] = exp(t[i * 4 + j] / temp) / ztT;
            kl += qt[j] * log(qt[j] / qs[j]);
        }
        total += alpha * -log(ps[(int)y[i]]) + (1 - alpha) * (t2 ? temp * temp : 1) * kl;
    }
    return total / 3;
}

START_TEST(test_kd_values)
{
    const float alphas[] = {0.0f, 0.3f, 1.0f}, temps[] = {1.0f, 2.0f, 4.0f};
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < 3; k++)
            for (int t2 = 0; t2 < 2; t2++) {
                qr_node *s, *t, *y, *loss, *ce;
                qr_graph *g = kd_graph(alphas[a], temps[k], t2, &s, &t, &y, &loss, &ce);
                qr_graph_forward(g, NULL);
                double want = kd_reference(qr_node_data(s), qr_node_data(t), qr_node_data(y),
                                           alphas[a], temps[k], t2);
                ck_assert_double_eq_tol(qr_node_data(loss)[0], want, 1e-5 * (1 + fabs(want)));
                if (alphas[a] == 1.0f) /* α = 1 is exactly the plain cross-entropy */
                    ck_assert_float_eq_tol(qr_node_data(loss)[0], qr_node_data(ce)[0], 1e-6f);
                qr_graph_free(g);
            }
}
END_TEST

/* One row by hand: s = t (teacher = student) makes the KL term vanish at any T. */
START_TEST(test_kd_self_distill)
{
    qr_node *s, *t, *y, *loss, *ce;
    qr_graph *g = kd_graph(0.0f, 3.0f, 1, &s, &t, &y, &loss, &ce);
    memcpy(qr_node_data(t), qr_node_data(s), 12 * sizeof(float));
    qr_graph_forward(g, NULL);
    ck_assert_float_eq_tol(qr_node_data(loss)[0], 0.0f, 1e-7f);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_kd_grad)
{
    const float alphas[] = {0.0f, 0.5f, 1.0f};
    for (int a = 0; a < 3; a++)
        for (int t2 = 0; t2 < 2; t2++) {
            qr_node *s, *t, *y, *loss, *ce;
            qr_graph *g = kd_graph(alphas[a], 2.5f, t2, &s, &t, &y, &loss, &ce);
            tl_check_grad(g, loss, s, 1e-2, 1e-3, 1e-2);
            qr_graph_free(g);
        }
}
END_TEST

START_TEST(test_kd_stable)
{
    qr_node *s, *t, *y, *loss, *ce;
    qr_graph *g = kd_graph(0.5f, 2.0f, 1, &s, &t, &y, &loss, &ce);
    qr_graph_forward(g, NULL);
    float base = qr_node_data(loss)[0];
    for (int i = 0; i < 12; i++) { /* shifting every logit by a constant changes nothing */
        qr_node_data(s)[i] += 5000.0f;
        qr_node_data(t)[i] -= 5000.0f;
    }
    qr_graph_forward(g, NULL);
    ck_assert(isfinite(qr_node_data(loss)[0]));
    ck_assert_float_eq_tol(qr_node_data(loss)[0], base, 2e-3f);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_kd_errors)
{
    qr_graph *g = qr_graph_new(2);
    size_t sz[2] = {2, 3}, st[2] = {2, 4}, sy[1] = {2};
    qr_node *s = qr_input(g, "s", 2, sz), *t = qr_input(g, "t", 2, st), *y = qr_input(g, "y", 1, sy);
    ck_assert_ptr_null(qr_kd_loss(g, s, t, y, 0.5f, 2.0f, 1)); /* class counts differ */
    qr_graph_free(g);
    g = qr_graph_new(2);
    s = qr_input(g, "s", 2, sz);
    t = qr_input(g, "t", 2, sz);
    y = qr_input(g, "y", 1, sy);
    ck_assert_ptr_null(qr_kd_loss(g, s, t, y, 1.5f, 2.0f, 1)); /* α outside [0, 1] */
    qr_graph_free(g);
    g = qr_graph_new(2);
    s = qr_input(g, "s", 2, sz);
    t = qr_input(g, "t", 2, sz);
    y = qr_input(g, "y", 1, sy);
    ck_assert_ptr_null(qr_kd_loss(g, s, t, y, 0.5f, 0.0f, 1)); /* T = 0 */
    qr_graph_free(g);
}
END_TEST

Suite *qr_suite_kd(void)
{
    Suite *s = suite_create("kd");
    TCase *tc = tcase_create("loss");
    tcase_add_test(tc, test_kd_values);
    tcase_add_test(tc, test_kd_self_distill);
    tcase_add_test(tc, test_kd_grad);
    tcase_add_test(tc, test_kd_stable);
    tcase_add_test(tc, test_kd_errors);
    suite_add_tcase(s, tc);
    return s;
}
