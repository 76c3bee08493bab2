/* Initializers: constant fills, Glorot bounds and variance, orthogonal (Keras semantics). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "qreg/init.h"
#include "qreg/rng.h"
#include "testlib.h"

START_TEST(test_init_zeros_constant)
{
    float w[7];
    qr_init_constant(w, 7, 3.5f);
    for (int i = 0; i < 7; i++)
        ck_assert_float_eq(w[i], 3.5f);
    qr_init_zeros(w, 6);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(w[i], 0.0f);
    ck_assert_float_eq(w[6], 3.5f); /* n respected */
}
END_TEST

START_TEST(test_init_glorot_bounds_variance)
{
    const size_t fan_in = 30, fan_out = 70, n = 100000;
    const double l = sqrt(6.0 / 100.0); /* 0.2449... */
    float *w = malloc(n * sizeof *w);
    ck_assert_ptr_nonnull(w);
    qr_rng r;
    qr_rng_seed(&r, 3);
    qr_init_glorot_uniform(w, fan_in, fan_out, n, &r);
    double s = 0, s2 = 0, amax = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert(fabsf(w[i]) <= (float)l);
        amax = fabs(w[i]) > amax ? fabs(w[i]) : amax;
        s += w[i];
        s2 += (double)w[i] * w[i];
    }
    double mean = s / n, var = s2 / n - mean * mean;
    /* Var U(-l, l) = l²/3 = 2/(fan_in + fan_out) = 0.02; its standard error here is
     * ~0.02·sqrt(0.8/n) ~ 5.7e-5, so 4e-4 is ~7 sigma while a wrong limit (e.g.
     * sqrt(3/(fan_in+fan_out)), variance 0.01) is far outside. */
    ck_assert_double_eq_tol(var, 0.02, 4e-4);
    ck_assert_double_eq_tol(mean, 0.0, 3e-3);
    ck_assert(amax > 0.999 * l); /* the whole range is used */

    /* Same seed, same weights. */
    float a[64], b[64];
    qr_rng_seed(&r, 77);
    qr_init_glorot_uniform(a, 8, 8, 64, &r);
    qr_rng_seed(&r, 77);
    qr_init_glorot_uniform(b, 8, 8, 64, &r);
    ck_assert_mem_eq(a, b, sizeof a);
    free(w);
}
END_TEST

/* max |(W Wᵀ or Wᵀ W) - gain² I| over the small Gram matrix. */
static double ortho_error(const float *w, size_t rows, size_t cols, double gain)
{
    double err = 0;
    if (rows <= cols) {
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < rows; j++) {
                double s = 0;
                for (size_t c = 0; c < cols; c++)
                    s += (double)w[i * cols + c] * w[j * cols + c];
                double e = fabs(s - (i == j ? gain * gain : 0.0));
                err = e > err ? e : err;
            }
    } else {
        for (size_t i = 0; i < cols; i++)
            for (size_t j = 0; j < cols; j++) {
                double s = 0;
                for (size_t rr = 0; rr < rows; rr++)
                    s += (double)w[rr * cols + i] * w[rr * cols + j];
                double e = fabs(s - (i == j ? gain * gain : 0.0));
                err = e > err ? e : err;
            }
    }
    return err;
}

START_TEST(test_init_orthogonal_gram)
{
    static const size_t shapes[][2] = {{5, 15}, {15, 5}, {8, 8}, {16, 48}, {1, 4}, {4, 1}};
    qr_rng r;
    qr_rng_seed(&r, 123);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1];
        float *w = malloc(rows * cols * sizeof *w);
        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(qr_init_orthogonal(w, rows, cols, 1.0f, &r), QR_OK);
        double e = ortho_error(w, rows, cols, 1.0);
        ck_assert_msg(e < 1e-5, "(%zu, %zu): |Gram - I| = %g", rows, cols, e);
        ck_assert_int_eq(qr_init_orthogonal(w, rows, cols, 2.0f, &r), QR_OK);
        e = ortho_error(w, rows, cols, 2.0);
        ck_assert_msg(e < 4e-5, "(%zu, %zu) gain 2: |Gram - 4I| = %g", rows, cols, e);
        free(w);
    }
}
END_TEST

/* The result is the Q of the QR of the drawn normal matrix with R's diagonal made
 * positive (Keras' sign fix): redraw A from the same seed, and R = Qᵀ A must be upper
 * triangular with a positive diagonal. An orthogonal matrix unrelated to A, or a Q
 * without the sign fix, fails this. */
START_TEST(test_init_orthogonal_is_signed_qr)
{
    static const size_t shapes[][2] = {{15, 5}, {5, 15}, {8, 8}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1];
        size_t m = rows > cols ? rows : cols, k = rows > cols ? cols : rows;
        float *w = malloc(rows * cols * sizeof *w);
        double *a = malloc(m * k * sizeof *a);
        ck_assert(w != NULL && a != NULL);
        qr_rng r;
        qr_rng_seed(&r, 900 + s);
        ck_assert_int_eq(qr_init_orthogonal(w, rows, cols, 1.0f, &r), QR_OK);
        qr_rng_seed(&r, 900 + s);
        for (size_t i = 0; i < m * k; i++)
            a[i] = qr_rng_normal(&r); /* (m, k) row-major, as documented */
        for (size_t i = 0; i < k; i++) {
            for (size_t j = 0; j < k; j++) {
                double rij = 0;
                for (size_t p = 0; p < m; p++) {
                    /* Q (m, k) is W when tall, Wᵀ when wide. */
                    double q = rows >= cols ? w[p * cols + i] : w[i * cols + p];
                    rij += q * a[p * k + j];
                }
                if (i > j)
                    ck_assert_msg(fabs(rij) < 1e-5, "(%zu,%zu) R[%zu][%zu] = %g", rows, cols, i, j, rij);
                if (i == j)
                    ck_assert_msg(rij > 0.1, "(%zu,%zu) R[%zu][%zu] = %g", rows, cols, i, i, rij);
            }
        }
        free(w);
        free(a);
    }
}
END_TEST

START_TEST(test_init_orthogonal_determinism_and_errors)
{
    float a[48], b[48];
    qr_rng r;
    qr_rng_seed(&r, 5);
    ck_assert_int_eq(qr_init_orthogonal(a, 4, 12, 1.0f, &r), QR_OK);
    qr_rng_seed(&r, 5);
    ck_assert_int_eq(qr_init_orthogonal(b, 4, 12, 1.0f, &r), QR_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    qr_rng_seed(&r, 6);
    ck_assert_int_eq(qr_init_orthogonal(b, 4, 12, 1.0f, &r), QR_OK);
    ck_assert(memcmp(a, b, sizeof a) != 0);

    memcpy(b, a, sizeof a);
    ck_assert_int_eq(qr_init_orthogonal(b, 0, 12, 1.0f, &r), QR_ERR_ARG);
    ck_assert_int_eq(qr_init_orthogonal(b, 4, 0, 1.0f, &r), QR_ERR_ARG);
    ck_assert_int_eq(qr_init_orthogonal(NULL, 4, 12, 1.0f, &r), QR_ERR_ARG);
    ck_assert_int_eq(qr_init_orthogonal(b, 4, 12, 1.0f, NULL), QR_ERR_ARG);
    ck_assert_mem_eq(a, b, sizeof a); /* untouched on error */
    /* A size whose temporary cannot be represented is refused, not wrapped around. */
    ck_assert_int_eq(qr_init_orthogonal(b, SIZE_MAX / 4, SIZE_MAX / 4, 1.0f, &r), QR_ERR_NOMEM);
}
END_TEST

Suite *qr_suite_init(void)
{
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, test_init_zeros_constant);
    tcase_add_test(tc, test_init_glorot_bounds_variance);
    tcase_add_test(tc, test_init_orthogonal_gram);
    tcase_add_test(tc, test_init_orthogonal_is_signed_qr);
    tcase_add_test(tc, test_init_orthogonal_determinism_and_errors);
    suite_add_tcase(s, tc);
    return s;
}
