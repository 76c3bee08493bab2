/* Regularizers and schedules against docs/method.md §3–§4: minima, joints, derivatives, values. */
#include <math.h>
#include <stdlib.h>
#include "testlib.h"
#include "qreg/quant.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Every (kind, bits) pair the library supports. */
typedef struct { qr_reg_kind k; int bits; } regcase;
static const regcase cases[] = {
    {QR_REG_R1, 1},  {QR_REG_R1SQ, 1}, {QR_REG_REG1A, 1}, {QR_REG_REG1B, 1}, {QR_REG_REG1C, 1},
    {QR_REG_COS, 2}, {QR_REG_COS, 3},  {QR_REG_COS, 4},   {QR_REG_COS, 5},   {QR_REG_COS, 6},
    {QR_REG_COS, 7}, {QR_REG_COS, 8},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Points where a regularizer is not differentiable (a kink), for the derivative check. */
static int near_kink(qr_reg_kind k, double w, double h)
{
    switch (k) {
    case QR_REG_R1: return fabs(w) < h || fabs(fabs(w) - 1) < h;
    case QR_REG_R1SQ: return fabs(w) < h;
    case QR_REG_REG1B: return fabs(fabs(w) - 1) < h;
    default: return 0;
    }
}

START_TEST(test_hand_values)
{
    /* 1-bit family at w = 0, 0.5, 2 */
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_R1, 1, 0.5), 0.5, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_R1, 1, 2.0), 1.0, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_R1SQ, 1, 0.5), 0.25, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_R1SQ, 1, -3.0), 4.0, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_REG1A, 1, 0.5), 0.5625, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_REG1A, 1, 2.0), 9.0, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_REG1B, 1, 0.5), 0.75, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_REG1B, 1, -2.0), 3.0, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_REG1C, 1, 0.0), 2.0, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_REG1C, 1, 0.5), 1.0, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_REG1C, 1, 2.0), M_PI / 2 + 1, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_REG1C, 1, -2.0), M_PI / 2 + 1, 1e-12);
    /* Reg_N: N = 2 (M = 1): maximum 2 at w = 1/2; N = 4 (M = 7): maximum at 1/14 */
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_COS, 2, 0.5), 2.0, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_COS, 4, 1.0 / 14), 2.0, 1e-12);
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_COS, 8, 1.0 / 254), 2.0, 1e-12);
    /* linear branch far out: N = 2, w = 3: 1 + 2π((3 − 1)·1 − 1/4) */
    ck_assert_double_eq_tol(qr_reg_value(QR_REG_COS, 2, 3.0), 1 + 2 * M_PI * 1.75, 1e-12);
    ck_assert_double_eq_tol(qr_reg_deriv(QR_REG_COS, 4, -3.0), -2 * M_PI * 7, 1e-12);
    ck_assert_int_eq(qr_reg_levels(2), 1);
    ck_assert_int_eq(qr_reg_levels(4), 7);
    ck_assert_int_eq(qr_reg_levels(8), 127);
}
END_TEST

/* All 2^N − 1 minima of Reg_N are zeros of the function and its derivative, and nothing
 * between two neighbouring minima is as low. */
START_TEST(test_minima)
{
    for (int bits = 2; bits <= 8; bits++) {
        int m = qr_reg_levels(bits);
        int count = 0;
        for (int k = -m; k <= m; k++) {
            double w = (double)k / m;
            ck_assert_double_le(fabs(qr_reg_value(QR_REG_COS, bits, w)), 1e-12);
            ck_assert_double_le(fabs(qr_reg_deriv(QR_REG_COS, bits, w)), 1e-9 * m);
            if (k < m) /* the midpoint is a maximum (value 2) */
                ck_assert_double_eq_tol(qr_reg_value(QR_REG_COS, bits, w + 0.5 / m), 2.0, 1e-9);
            count++;
        }
        ck_assert_int_eq(count, (1 << bits) - 1);
        /* outside the grid the penalty keeps growing */
        ck_assert_double_gt(qr_reg_value(QR_REG_COS, bits, 1.0 + 0.5 / m), 1.0);
        ck_assert_double_gt(qr_reg_value(QR_REG_COS, bits, 2.0),
                            qr_reg_value(QR_REG_COS, bits, 1.0 + 0.5 / m));
    }
    for (size_t c = 0; c < 5; c++) {
        ck_assert_double_le(fabs(qr_reg_value(cases[c].k, 1, 1.0)), 1e-12);
        ck_assert_double_le(fabs(qr_reg_value(cases[c].k, 1, -1.0)), 1e-12);
        ck_assert_double_le(fabs(qr_reg_deriv(cases[c].k, 1, 1.0)), 1e-12);
        ck_assert_double_le(fabs(qr_reg_deriv(cases[c].k, 1, -1.0)), 1e-12);
        ck_assert_double_gt(qr_reg_value(cases[c].k, 1, 0.0), 0.5);
    }
}
END_TEST

/* C¹ at the joints: |w| = 3/2 (reg1c) and |w| = 1 + 1/(4M) (Reg_N), both signs. */
START_TEST(test_joints)
{
    const double h = 1e-9;
    for (size_t c = 0; c < NCASES; c++) {
        double joint;
        if (cases[c].k == QR_REG_REG1C)
            joint = 1.5;
        else if (cases[c].k == QR_REG_COS)
            joint = 1.0 + 0.25 / qr_reg_levels(cases[c].bits);
        else
            continue;
        for (int s = -1; s <= 1; s += 2) {
            double j = s * joint;
            double vl = qr_reg_value(cases[c].k, cases[c].bits, j - h);
            double vr = qr_reg_value(cases[c].k, cases[c].bits, j + h);
            double dl = qr_reg_deriv(cases[c].k, cases[c].bits, j - h);
            double dr = qr_reg_deriv(cases[c].k, cases[c].bits, j + h);
            /* the value at the joint is 1 and the slope ±π (reg1c) or ±2πM (Reg_N) */
            double slope = cases[c].k == QR_REG_REG1C ? M_PI
                                                      : 2 * M_PI * qr_reg_levels(cases[c].bits);
            /* across 2h the value moves by about 2h·slope; the derivative must not jump */
            ck_assert_double_eq_tol(vl, vr, 3 * h * slope);
            ck_assert_double_eq_tol(dl, dr, 1e-4);
            ck_assert_double_eq_tol(qr_reg_value(cases[c].k, cases[c].bits, j), 1.0, 1e-9);
            ck_assert_double_eq_tol(dr, s * slope, 1e-4 * slope);
        }
    }
}
END_TEST

/* Derivatives against central differences on a dense grid from −4 to 4. */
START_TEST(test_derivative_fd)
{
    for (size_t c = 0; c < NCASES; c++) {
        qr_reg_kind k = cases[c].k;
        int bits = cases[c].bits;
        double scale = k == QR_REG_COS ? qr_reg_levels(bits) : 1.0;
        double h = 1e-6 / scale;
        for (int i = 0; i <= 8000; i++) {
            double w = -4.0 + i * 0.001 + 1e-7; /* off the exact grid points */
            if (near_kink(k, w, 2 * h))
                continue;
            double fd = (qr_reg_value(k, bits, w + h) - qr_reg_value(k, bits, w - h)) / (2 * h);
            double an = qr_reg_deriv(k, bits, w);
            ck_assert_msg(fabs(fd - an) <= 1e-4 * (1 + fabs(an)) * scale,
                          "%s/%d at w=%g: analytic %g, numeric %g", qr_reg_name(k), bits, w, an,
                          fd);
        }
    }
}
END_TEST

/* The fused float loop agrees with the double definitions, and g accumulates coef·Reg'. */
START_TEST(test_apply)
{
    enum { N = 997 };
    float *w = malloc(N * sizeof *w), *g = malloc(N * sizeof *g);
    tl_fill_uniform(w, N, -2.5f, 2.5f, 31);
    for (size_t c = 0; c < NCASES; c++) {
        qr_reg_kind k = cases[c].k;
        int bits = cases[c].bits;
        for (int i = 0; i < N; i++)
            g[i] = 1.0f;
        double sum = qr_reg_apply(k, bits, w, N, 0.5f, g), want = 0;
        double scale = k == QR_REG_COS ? qr_reg_levels(bits) : 1.0;
        for (int i = 0; i < N; i++) {
            want += qr_reg_value(k, bits, w[i]);
            double dg = 1.0 + 0.5 * qr_reg_deriv(k, bits, w[i]);
            ck_assert_double_eq_tol(g[i], dg, 2e-5 * scale * (1 + fabs(dg)));
        }
        ck_assert_double_eq_tol(sum, want, 1e-4 * (1 + fabs(want)) * scale);
        ck_assert_double_eq_tol(qr_reg_apply(k, bits, w, N, 1.0f, NULL), sum, 1e-9 * fabs(sum));
    }
    free(w);
    free(g);
}
END_TEST

START_TEST(test_nearest_and_share)
{
    ck_assert_float_eq(qr_reg_nearest(1, 0.3f), 1.0f);
    ck_assert_float_eq(qr_reg_nearest(1, -0.01f), -1.0f);
    ck_assert_float_eq(qr_reg_nearest(1, 0.0f), 1.0f);
    ck_assert_float_eq(qr_reg_nearest(2, 0.4f), 0.0f);
    ck_assert_float_eq(qr_reg_nearest(2, -0.6f), -1.0f);
    ck_assert_float_eq(qr_reg_nearest(2, 7.0f), 1.0f);
    ck_assert_float_eq(qr_reg_nearest(4, 0.3f), 2.0f / 7.0f);   /* 0.3·7 = 2.1 → 2 */
    ck_assert_float_eq(qr_reg_nearest(4, -5.0f), -1.0f);
    float w[4] = {0.0f, 0.51f, 1.2f, -0.98f};
    /* 2 bits, eps 0.05: 0 (yes), 0.51 (no), 1.2 (no: nearest 1, 0.2 away), −0.98 (yes) */
    ck_assert_double_eq(qr_reg_share_near(2, w, 4, 0.05), 0.5);
}
END_TEST

START_TEST(test_names)
{
    qr_reg_kind k;
    for (int i = 0; i < QR_REG_COUNT; i++) {
        ck_assert_int_eq(qr_reg_parse(qr_reg_name((qr_reg_kind)i), &k), QR_OK);
        ck_assert_int_eq(k, i);
    }
    ck_assert_int_eq(qr_reg_parse("reg_n", &k), QR_OK);
    ck_assert_int_eq(k, QR_REG_COS);
    ck_assert_int_eq(qr_reg_parse("l2", &k), QR_ERR_CONFIG);
    ck_assert(qr_reg_valid(QR_REG_REG1C, 1));
    ck_assert(!qr_reg_valid(QR_REG_REG1C, 4));
    ck_assert(!qr_reg_valid(QR_REG_COS, 1));
    ck_assert(qr_reg_valid(QR_REG_COS, 3));
    ck_assert(!qr_reg_valid(QR_REG_COS, 9));
    qr_sched_kind s;
    for (int i = 0; i < QR_SCHED_COUNT; i++) {
        ck_assert_int_eq(qr_sched_parse(qr_sched_name((qr_sched_kind)i), &s), QR_OK);
        ck_assert_int_eq(s, i);
    }
    ck_assert_int_eq(qr_sched_parse("cosine", &s), QR_ERR_CONFIG);
}
END_TEST

/* S(1), S(mid), S(T) for T = 350 with the defaults of docs/method.md §4, computed by hand. */
START_TEST(test_schedule_values)
{
    const double T = 350;
    struct { qr_sched_kind k; double s1, tm, sm, sT; } want[] = {
        {QR_SCHED_NONE, 1, 175, 1, 1},
        {QR_SCHED_LINEAR, 0, 175.5, 0.5, 1},
        {QR_SCHED_POLY2, 0, 175, (175.0 * 175 - 1) / (350.0 * 350 - 1), 1},
        {QR_SCHED_POLYN, pow(1 / 350.0, 3), 175, 0.125, 1},
        {QR_SCHED_INV_LINEAR, 1 / 101.0, 100, 0.5, 1 / (1 + 1 / 3.5)},
        {QR_SCHED_INV_POLY, 1 / 1001.0, sqrt(1000), 0.5, 1 / (1 + 1 / 122.5)},
        {QR_SCHED_STEP_LINEAR, 0, 175, 17.0 / 35, 1},
        {QR_SCHED_STEP_INVERSE, pow(0.8, 35), 175, pow(0.8, 18), 1},
        {QR_SCHED_STEP_BOUNDED, 0, 175, 1 - pow(0.8, 17), 1 - pow(0.8, 35)},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        qr_schedule s;
        qr_schedule_default(&s, want[i].k);
        ck_assert_int_eq(qr_schedule_check(&s, T), QR_OK);
        ck_assert_double_eq_tol(qr_schedule_value(&s, 1, T), want[i].s1, 1e-12);
        ck_assert_double_eq_tol(qr_schedule_value(&s, want[i].tm, T), want[i].sm, 1e-12);
        ck_assert_double_eq_tol(qr_schedule_value(&s, T, T), want[i].sT, 1e-12);
    }
}
END_TEST

/* S ≥ 0, S(T) ≤ 1 and non-decreasing for every schedule and several parameter choices. */
START_TEST(test_schedule_monotone)
{
    const double Ts[] = {10, 100, 350, 500};
    const double params[][4] = {{0.01, 0.8, 3, 10}, {0.1, 0.5, 1, 1}, {1e-4, 0.95, 0.5, 7}};
    for (int k = 0; k < QR_SCHED_COUNT; k++)
        for (size_t ti = 0; ti < 4; ti++)
            for (size_t p = 0; p < 3; p++) {
                qr_schedule s = {(qr_sched_kind)k, params[p][0], params[p][1], params[p][2],
                                 params[p][3]};
                double T = Ts[ti];
                if (qr_schedule_check(&s, T) != QR_OK)
                    continue;
                double prev = -1;
                for (double t = 1; t <= T; t++) {
                    double v = qr_schedule_value(&s, t, T);
                    ck_assert_msg(v >= 0 && v <= 1 + 1e-12 && v >= prev - 1e-15,
                                  "%s T=%g t=%g: S=%g after %g", qr_sched_name(s.kind), T, t, v,
                                  prev);
                    prev = v;
                }
            }
}
END_TEST

START_TEST(test_schedule_check)
{
    qr_schedule s;
    qr_schedule_default(&s, QR_SCHED_STEP_INVERSE);
    s.rate = 1.0;
    ck_assert_int_eq(qr_schedule_check(&s, 100), QR_ERR_CONFIG);
    s.rate = 0.8;
    s.step = 200;
    ck_assert_int_eq(qr_schedule_check(&s, 100), QR_ERR_CONFIG);
    qr_schedule_default(&s, QR_SCHED_INV_LINEAR);
    s.d = 0;
    ck_assert_int_eq(qr_schedule_check(&s, 100), QR_ERR_CONFIG);
    qr_schedule_default(&s, QR_SCHED_POLYN);
    s.power = -1;
    ck_assert_int_eq(qr_schedule_check(&s, 100), QR_ERR_CONFIG);
    qr_schedule_default(&s, QR_SCHED_INV_POLY);
    ck_assert_double_eq(s.d, 0.001);
    /* t_final = 1: the degenerate denominators give 1, not NaN */
    qr_schedule_default(&s, QR_SCHED_LINEAR);
    ck_assert_double_eq(qr_schedule_value(&s, 1, 1), 1.0);
}
END_TEST

Suite *qr_suite_quant(void)
{
    Suite *s = suite_create("quant");
    TCase *tr = tcase_create("regularizers");
    tcase_add_test(tr, test_hand_values);
    tcase_add_test(tr, test_minima);
    tcase_add_test(tr, test_joints);
    tcase_add_test(tr, test_derivative_fd);
    tcase_add_test(tr, test_apply);
    tcase_add_test(tr, test_nearest_and_share);
    tcase_add_test(tr, test_names);
    suite_add_tcase(s, tr);
    TCase *ts = tcase_create("schedules");
    tcase_add_test(ts, test_schedule_values);
    tcase_add_test(ts, test_schedule_monotone);
    tcase_add_test(ts, test_schedule_check);
    suite_add_tcase(s, ts);
    return s;
}
