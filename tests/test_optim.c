/* Optimizers against an independent reimplementation of Keras 3's formulas, gradient
 * clipping, L2, state reset and checkpoint round trips. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "qreg/optim.h"
#include "testlib.h"

/* ---- reference trajectories ------------------------------------------------------------
 * Computed once in double precision by a separate Python script (not part of the build):
 *
 *   W0 = [0.5, -1.25, 2.0, 0.0];  G = the 5 gradient rows below (step t = 1..5)
 *   SGD:      v = mom*v - lr*g;  w += v  (nesterov: w += mom*v - lr*g);  mom = 0: w -= lr*g
 *   Adam:     alpha = lr*sqrt(1-b2**t)/(1-b1**t)
 *             m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  w -= alpha*m/(sqrt(v)+eps)
 *   Nadam:    ut = b1*(1-0.5*0.96**(d*t));  ut1 = b1*(1-0.5*0.96**(d*(t+1)))
 *             P = P*ut;  P1 = P*ut1                                    (P starts at 1)
 *             m, v as Adam;  mh = ut1*m/(1-P1) + (1-ut)*g/(1-P);  vh = v/(1-b2**t)
 *             w -= mh*lr/(sqrt(vh)+eps)
 * and printed with %.9g. The library computes in float, so rows are compared with an
 * absolute tolerance of 2e-6 (|w| <= 2: float spacing is 2.4e-7). The script also measured
 * how far plausible wrong formulas land, to make sure each check can fail:
 *   nesterov vs plain momentum: 0.21;  Nadam vs Adam: 1.0e-2;  Nadam with u_t in place of
 *   u_{t+1}: 8.4e-5;  Nadam d = 1 vs d = 0.004: 7.2e-4;  Adam with eps on sqrt(v_hat)
 *   (paper form) in the eps = 1e-3 case: 9.4e-3. */
enum { NP = 4, NT = 5 };
static const float W0[NP] = {0.5f, -1.25f, 2.0f, 0.0f};
static const float G[NT][NP] = {
    {0.1f, -0.2f, 0.3f, 1.0f},  {0.05f, 0.4f, -0.3f, -1.0f}, {-0.2f, 0.1f, 0.0f, 0.5f},
    {0.3f, -0.3f, 0.25f, 2.0f}, {0.0f, 0.2f, -0.1f, -0.5f},
};
#define TOL 2e-6

static void run_against(const qr_optim_config *c, float gscale, const double want[NT][NP],
                        const char *what)
{
    qr_optim *o = qr_optim_new(c, NP);
    ck_assert_ptr_nonnull(o);
    float w[NP], g[NP];
    memcpy(w, W0, sizeof w);
    for (int t = 0; t < NT; t++) {
        for (int i = 0; i < NP; i++)
            g[i] = G[t][i] * gscale;
        ck_assert_int_eq(qr_optim_step(o, w, g), QR_OK);
        ck_assert_uint_eq(qr_optim_iterations(o), (uint64_t)t + 1);
        for (int i = 0; i < NP; i++)
            ck_assert_msg(fabs(w[i] - want[t][i]) <= TOL, "%s step %d w[%d] = %.9g, want %.9g",
                          what, t + 1, i, w[i], want[t][i]);
    }
    qr_optim_free(o);
}

START_TEST(test_optim_sgd)
{
    /* lr 0.1, momentum 0 */
    static const double want[NT][NP] = {{0.49, -1.23, 1.97, -0.1},
                                        {0.485, -1.27, 2, 0},
                                        {0.505, -1.28, 2, -0.05},
                                        {0.475, -1.25, 1.975, -0.25},
                                        {0.475, -1.27, 1.985, -0.2}};
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_SGD);
    c.lr = 0.1f;
    c.nesterov = 1; /* ignored without momentum, as in Keras */
    run_against(&c, 1.0f, want, "sgd");
}
END_TEST

START_TEST(test_optim_sgd_momentum)
{
    /* lr 0.1, momentum 0.9 */
    static const double want[NT][NP] = {{0.49, -1.23, 1.97, -0.1},
                                        {0.476, -1.252, 1.973, -0.09},
                                        {0.4834, -1.2818, 1.9757, -0.131},
                                        {0.46006, -1.27862, 1.95313, -0.3679},
                                        {0.439054, -1.295758, 1.942817, -0.53111}};
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_SGD);
    c.lr = 0.1f;
    c.momentum = 0.9f;
    run_against(&c, 1.0f, want, "sgd momentum");
}
END_TEST

START_TEST(test_optim_sgd_nesterov)
{
    /* lr 0.1, momentum 0.9, nesterov */
    static const double want[NT][NP] = {{0.481, -1.212, 1.943, -0.19},
                                        {0.4634, -1.2718, 1.9757, -0.081},
                                        {0.49006, -1.30862, 1.97813, -0.1679},
                                        {0.439054, -1.275758, 1.932817, -0.58111},
                                        {0.4201486, -1.3111822, 1.9335353, -0.677999}};
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_SGD);
    c.lr = 0.1f;
    c.momentum = 0.9f;
    c.nesterov = 1;
    run_against(&c, 1.0f, want, "sgd nesterov");
}
END_TEST

START_TEST(test_optim_adam)
{
    /* Keras defaults except lr 0.01 */
    static const double want[NT][NP] = {
        {0.490000316, -1.24000016, 1.99000011, -0.00999996838},
        {0.480678784, -1.24366117, 1.99052642, -0.00947365377},
        {0.482742325, -1.24781765, 1.99093326, -0.0112209054},
        {0.479148342, -1.24748, 1.98826733, -0.0167299833},
        {0.476110606, -1.24908504, 1.98714626, -0.0202250862}};
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_ADAM);
    c.lr = 0.01f;
    run_against(&c, 1.0f, want, "adam");
}
END_TEST

START_TEST(test_optim_adam_epsilon_placement)
{
    /* lr 0.01, eps 1e-3, gradients G * 1e-3: eps dominates sqrt(v), so adding it to
     * sqrt(v) (Keras) rather than to sqrt(v_hat) (paper) changes the result 1000-fold
     * more than the tolerance. */
    static const double want[NT][NP] = {
        {0.499968477, -1.24993715, 1.99990602, -0.0003065343},
        {0.499935649, -1.2499882, 1.99991299, -0.000284009706},
        {0.49995049, -1.25004754, 1.99991837, -0.000363085651},
        {0.499908104, -1.2500418, 1.99987753, -0.000766550892},
        {0.499872296, -1.25007082, 1.99986002, -0.00102709879}};
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_ADAM);
    c.lr = 0.01f;
    c.eps = 1e-3f;
    run_against(&c, 1e-3f, want, "adam eps");
}
END_TEST

START_TEST(test_optim_nadam)
{
    /* Keras 3 defaults (d = 1) except lr 0.01; P after each step:
     * 0.468, 0.22711104, 0.113979945, 0.0590181372, 0.0314615235 */
    static const double want[NT][NP] = {
        {0.489372133, -1.23937213, 1.98937213, -0.010627877},
        {0.484156321, -1.24818878, 1.99608846, -0.00391154573},
        {0.49296146, -1.25093373, 1.99614912, -0.00741857614},
        {0.484140071, -1.24525621, 1.99044045, -0.0166578361},
        {0.483446714, -1.24932036, 1.99233061, -0.0153417432}};
    static const double prod[NT] = {0.468, 0.22711104, 0.113979945, 0.0590181372, 0.0314615235};
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_NADAM);
    c.lr = 0.01f;
    run_against(&c, 1.0f, want, "nadam");

    qr_optim *o = qr_optim_new(&c, NP);
    ck_assert_ptr_nonnull(o);
    ck_assert_float_eq(qr_optim_u_product(o), 1.0f);
    float w[NP];
    memcpy(w, W0, sizeof w);
    for (int t = 0; t < NT; t++) {
        ck_assert_int_eq(qr_optim_step(o, w, G[t]), QR_OK);
        ck_assert_double_eq_tol(qr_optim_u_product(o), prod[t], 1e-7);
        ck_assert_float_eq(qr_optim_state(o)[2 * NP], qr_optim_u_product(o));
    }
    qr_optim_free(o);
}
END_TEST

START_TEST(test_optim_nadam_legacy_schedule)
{
    /* schedule_decay d = 0.004 (tf.keras optimizer_v2 Nadam), lr 0.01 */
    static const double want[NT][NP] = {
        {0.489435493, -1.23943549, 1.98943549, -0.0105645167},
        {0.484196266, -1.24850106, 1.99638059, -0.00361940959},
        {0.493602394, -1.2513167, 1.99643236, -0.00733508341},
        {0.483928217, -1.24498377, 1.99019016, -0.0173734131},
        {0.483363163, -1.2495777, 1.99247448, -0.0155680956}};
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_NADAM);
    c.lr = 0.01f;
    c.schedule_decay = 0.004f;
    run_against(&c, 1.0f, want, "nadam legacy");
}
END_TEST

START_TEST(test_optim_config)
{
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_SGD);
    ck_assert_int_eq(c.kind, QR_OPTIM_SGD);
    ck_assert_float_eq(c.lr, 0.01f);
    ck_assert_float_eq(c.momentum, 0.0f);
    ck_assert_int_eq(c.nesterov, 0);
    ck_assert_int_eq(qr_optim_config_check(&c), QR_OK);
    for (int k = QR_OPTIM_ADAM; k <= QR_OPTIM_NADAM; k++) {
        qr_optim_config_default(&c, (qr_optim_kind)k);
        ck_assert_int_eq(c.kind, k);
        ck_assert_float_eq(c.lr, 1e-3f);
        ck_assert_float_eq(c.beta1, 0.9f);
        ck_assert_float_eq(c.beta2, 0.999f);
        ck_assert_float_eq(c.eps, 1e-7f);
        ck_assert_float_eq(c.schedule_decay, 1.0f);
        ck_assert_int_eq(qr_optim_config_check(&c), QR_OK);
    }

    qr_optim_config bad;
    qr_optim_config_default(&bad, QR_OPTIM_ADAM);
    bad.beta1 = 1.0f;
    ck_assert_int_eq(qr_optim_config_check(&bad), QR_ERR_CONFIG);
    ck_assert_ptr_null(qr_optim_new(&bad, 4));
    qr_optim_config_default(&bad, QR_OPTIM_ADAM);
    bad.lr = NAN;
    ck_assert_int_eq(qr_optim_config_check(&bad), QR_ERR_CONFIG);
    qr_optim_config_default(&bad, QR_OPTIM_SGD);
    bad.momentum = -0.1f;
    ck_assert_int_eq(qr_optim_config_check(&bad), QR_ERR_CONFIG);
    qr_optim_config_default(&bad, QR_OPTIM_NADAM);
    bad.eps = -1.0f;
    ck_assert_int_eq(qr_optim_config_check(&bad), QR_ERR_CONFIG);
    qr_optim_config_default(&bad, QR_OPTIM_KIND_COUNT);
    ck_assert_int_eq(qr_optim_config_check(&bad), QR_ERR_CONFIG);
    ck_assert_int_eq(qr_optim_config_check(NULL), QR_ERR_ARG);
    ck_assert_ptr_null(qr_optim_new(NULL, 4));

    /* State sizes: 0, n, 2n, 2n + 1. */
    static const struct {
        qr_optim_kind kind;
        float momentum;
        size_t size;
    } sz[] = {{QR_OPTIM_SGD, 0.0f, 0}, {QR_OPTIM_SGD, 0.5f, 10}, {QR_OPTIM_ADAM, 0, 20},
              {QR_OPTIM_NADAM, 0, 21}};
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        qr_optim_config_default(&c, sz[i].kind);
        c.momentum = sz[i].momentum;
        qr_optim *o = qr_optim_new(&c, 10);
        ck_assert_ptr_nonnull(o);
        ck_assert_uint_eq(qr_optim_size(o), 10);
        ck_assert_uint_eq(qr_optim_state_size(o), sz[i].size);
        ck_assert(sz[i].size == 0 ? qr_optim_state(o) == NULL : qr_optim_state(o) != NULL);
        for (size_t j = 0; j < sz[i].size; j++) /* zero moments; Nadam's P starts at 1 */
            ck_assert_float_eq(qr_optim_state(o)[j], j == 20 ? 1.0f : 0.0f);
        ck_assert_int_eq(qr_optim_set_u_product(o, 0.5f),
                         sz[i].kind == QR_OPTIM_NADAM ? QR_OK : QR_ERR_STATE);
        qr_optim_free(o);
    }
    qr_optim_free(NULL);

    /* A zero-length optimizer steps (and counts) without touching memory. */
    qr_optim_config_default(&c, QR_OPTIM_NADAM);
    qr_optim *o = qr_optim_new(&c, 0);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(qr_optim_step(o, NULL, NULL), QR_OK);
    ck_assert_uint_eq(qr_optim_iterations(o), 1);
    qr_optim_free(o);
    qr_optim_config_default(&c, QR_OPTIM_ADAM);
    o = qr_optim_new(&c, 3);
    float w[3] = {0};
    ck_assert_int_eq(qr_optim_step(o, w, NULL), QR_ERR_ARG);
    ck_assert_int_eq(qr_optim_step(NULL, w, w), QR_ERR_ARG);
    ck_assert_uint_eq(qr_optim_iterations(o), 0);
    qr_optim_free(o);
}
END_TEST

START_TEST(test_optim_set_lr)
{
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_SGD);
    c.lr = 0.5f;
    qr_optim *o = qr_optim_new(&c, 2);
    ck_assert_ptr_nonnull(o);
    float w[2] = {1.0f, 1.0f};
    const float g[2] = {1.0f, -2.0f};
    ck_assert_int_eq(qr_optim_step(o, w, g), QR_OK); /* w = 0.5, 2.0 */
    qr_optim_set_lr(o, 0.25f);
    ck_assert_float_eq(qr_optim_lr(o), 0.25f);
    ck_assert_int_eq(qr_optim_step(o, w, g), QR_OK); /* w = 0.25, 2.5 */
    ck_assert_float_eq(w[0], 0.25f);
    ck_assert_float_eq(w[1], 2.5f);
    qr_optim_config got;
    qr_optim_get_config(o, &got);
    ck_assert_float_eq(got.lr, 0.25f);
    qr_optim_free(o);
}
END_TEST

START_TEST(test_optim_clip_norm)
{
    float g[2] = {3.0f, 4.0f};
    ck_assert_float_eq(qr_grad_clip_norm(g, 2, 10.0f), 5.0f); /* below the bound */
    ck_assert_float_eq(g[0], 3.0f);
    ck_assert_float_eq(g[1], 4.0f);
    ck_assert_float_eq(qr_grad_clip_norm(g, 2, 0.0f), 5.0f); /* disabled */
    ck_assert_float_eq(g[0], 3.0f);
    ck_assert_float_eq(qr_grad_clip_norm(g, 2, 1.0f), 5.0f);
    ck_assert_float_eq_tol(g[0], 0.6f, 1e-7f);
    ck_assert_float_eq_tol(g[1], 0.8f, 1e-7f);
    ck_assert_float_eq_tol(qr_grad_clip_norm(g, 2, -1.0f), 1.0f, 1e-7f);

    /* Non-finite norm: g untouched, the caller sees it. */
    float h[3] = {1.0f, INFINITY, 2.0f};
    ck_assert(isinf(qr_grad_clip_norm(h, 3, 1.0f)));
    ck_assert_float_eq(h[0], 1.0f);
    ck_assert_float_eq(h[2], 2.0f);

    /* Double accumulation: 1e4² = 1e8 followed by 1e6 squares of 0.1 (total 1e4). A float
     * sum stays at 1e8 (spacing 8 > 0.01), giving 10000; the true norm is 10000.5. */
    const size_t n = 1000001;
    float *big = malloc(n * sizeof *big);
    ck_assert_ptr_nonnull(big);
    big[0] = 1e4f;
    for (size_t i = 1; i < n; i++)
        big[i] = 0.1f;
    double want = sqrt(1e8 + 1e6 * (double)0.1f * (double)0.1f);
    ck_assert_double_eq_tol(qr_grad_clip_norm(big, n, 0.0f), want, 2e-3);
    free(big);
}
END_TEST

START_TEST(test_optim_l2)
{
    float g[3] = {1.0f, 2.0f, 0.0f};
    const float w[3] = {0.5f, -1.0f, 4.0f};
    qr_grad_add_l2(g, w, 3, 0.01f);
    /* d/dw 0.01·w² = 0.02·w (a missing factor 2 would give 1.005, 1.99, 0.04) */
    ck_assert_float_eq_tol(g[0], 1.01f, 1e-7f);
    ck_assert_float_eq_tol(g[1], 1.98f, 1e-7f);
    ck_assert_float_eq_tol(g[2], 0.08f, 1e-8f);
}
END_TEST

START_TEST(test_optim_reset_elements)
{
    static const uint8_t mask[NP] = {1, 0, 1, 0};
    const qr_optim_kind kinds[] = {QR_OPTIM_SGD, QR_OPTIM_ADAM, QR_OPTIM_NADAM};
    for (size_t k = 0; k < 3; k++) {
        qr_optim_config c;
        qr_optim_config_default(&c, kinds[k]);
        c.momentum = 0.9f;
        qr_optim *o = qr_optim_new(&c, NP);
        ck_assert_ptr_nonnull(o);
        float w[NP];
        memcpy(w, W0, sizeof w);
        ck_assert_int_eq(qr_optim_step(o, w, G[0]), QR_OK);
        ck_assert_int_eq(qr_optim_step(o, w, G[1]), QR_OK);
        size_t ns = qr_optim_state_size(o);
        float before[2 * NP + 1];
        memcpy(before, qr_optim_state(o), ns * sizeof(float));
        float p_before = qr_optim_u_product(o);
        ck_assert_int_eq(qr_optim_reset_elements(o, mask), QR_OK);
        const float *s = qr_optim_state(o);
        size_t blocks = kinds[k] == QR_OPTIM_SGD ? 1 : 2;
        for (size_t b = 0; b < blocks; b++)
            for (size_t i = 0; i < NP; i++) {
                ck_assert(before[b * NP + i] != 0.0f); /* every gradient row 0/1 is nonzero */
                ck_assert_float_eq(s[b * NP + i], mask[i] ? before[b * NP + i] : 0.0f);
            }
        ck_assert_float_eq(qr_optim_u_product(o), p_before);
        ck_assert_uint_eq(qr_optim_iterations(o), 2);
        ck_assert_int_eq(qr_optim_reset_elements(o, NULL), QR_ERR_ARG);
        qr_optim_free(o);
    }

    /* n = 1: Nadam's state is [m, v, P]; resetting the element must keep P. */
    qr_optim_config c;
    qr_optim_config_default(&c, QR_OPTIM_NADAM);
    qr_optim *o = qr_optim_new(&c, 1);
    ck_assert_ptr_nonnull(o);
    float w = 1.0f, g = 0.5f;
    const uint8_t off = 0;
    ck_assert_int_eq(qr_optim_step(o, &w, &g), QR_OK);
    float p = qr_optim_u_product(o);
    ck_assert_int_eq(qr_optim_reset_elements(o, &off), QR_OK);
    ck_assert_float_eq(qr_optim_state(o)[0], 0.0f);
    ck_assert_float_eq(qr_optim_state(o)[1], 0.0f);
    ck_assert_float_eq(qr_optim_state(o)[2], p);
    ck_assert(p != 0.0f && p != 1.0f);
    qr_optim_free(o);
}
END_TEST

/* Save state + iterations after 3 steps, restore into a fresh optimizer, and the next
 * 3 steps are bit-identical to an uninterrupted run. Restoring only the per-element
 * moments (not the iteration count, or not Nadam's P) must not be enough. */
static void continue_run(qr_optim *o, float *w)
{
    for (int t = 3; t < 6; t++)
        ck_assert_int_eq(qr_optim_step(o, w, G[t % NT]), QR_OK);
}

START_TEST(test_optim_state_roundtrip)
{
    const qr_optim_kind kinds[] = {QR_OPTIM_SGD, QR_OPTIM_ADAM, QR_OPTIM_NADAM};
    for (size_t k = 0; k < 3; k++) {
        qr_optim_config c;
        qr_optim_config_default(&c, kinds[k]);
        c.momentum = 0.9f;
        c.nesterov = 1;
        c.lr = 0.05f;
        qr_optim *a = qr_optim_new(&c, NP);
        ck_assert_ptr_nonnull(a);
        float w[NP];
        memcpy(w, W0, sizeof w);
        for (int t = 0; t < 3; t++)
            ck_assert_int_eq(qr_optim_step(a, w, G[t]), QR_OK);

        /* checkpoint */
        size_t ns = qr_optim_state_size(a);
        float saved_state[2 * NP + 1], saved_w[NP];
        memcpy(saved_state, qr_optim_state(a), ns * sizeof(float));
        memcpy(saved_w, w, sizeof w);
        uint64_t saved_it = qr_optim_iterations(a);

        continue_run(a, w); /* uninterrupted */

        qr_optim *b = qr_optim_new(&c, NP);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(qr_optim_state_size(b), ns);
        memcpy(qr_optim_state(b), saved_state, ns * sizeof(float));
        qr_optim_set_iterations(b, saved_it);
        float w2[NP];
        memcpy(w2, saved_w, sizeof w2);
        continue_run(b, w2);
        ck_assert_mem_eq(w, w2, sizeof w);
        ck_assert_mem_eq(qr_optim_state(a), qr_optim_state(b), ns * sizeof(float));
        ck_assert_uint_eq(qr_optim_iterations(a), qr_optim_iterations(b));

        if (kinds[k] != QR_OPTIM_SGD) {
            /* Without the iteration count the bias corrections differ. */
            qr_optim *d = qr_optim_new(&c, NP);
            memcpy(qr_optim_state(d), saved_state, ns * sizeof(float));
            memcpy(w2, saved_w, sizeof w2);
            continue_run(d, w2);
            ck_assert(memcmp(w, w2, sizeof w) != 0);
            qr_optim_free(d);
        }
        if (kinds[k] == QR_OPTIM_NADAM) {
            /* Without P (left at 1), Nadam's momentum correction differs. */
            qr_optim *d = qr_optim_new(&c, NP);
            memcpy(qr_optim_state(d), saved_state, 2 * NP * sizeof(float));
            qr_optim_set_iterations(d, saved_it);
            memcpy(w2, saved_w, sizeof w2);
            continue_run(d, w2);
            ck_assert(memcmp(w, w2, sizeof w) != 0);
            qr_optim_free(d);
        }
        qr_optim_free(a);
        qr_optim_free(b);
    }
}
END_TEST

Suite *qr_suite_optim(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, test_optim_sgd);
    tcase_add_test(tc, test_optim_sgd_momentum);
    tcase_add_test(tc, test_optim_sgd_nesterov);
    tcase_add_test(tc, test_optim_adam);
    tcase_add_test(tc, test_optim_adam_epsilon_placement);
    tcase_add_test(tc, test_optim_nadam);
    tcase_add_test(tc, test_optim_nadam_legacy_schedule);
    tcase_add_test(tc, test_optim_config);
    tcase_add_test(tc, test_optim_set_lr);
    tcase_add_test(tc, test_optim_clip_norm);
    tcase_add_test(tc, test_optim_l2);
    tcase_add_test(tc, test_optim_reset_elements);
    tcase_add_test(tc, test_optim_state_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
