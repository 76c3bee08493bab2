/* The autograd engine and every op: shapes, forward values, and finite-difference
 * gradient checks (kinks kept out of reach of the finite-difference step). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"

#define EPS 1e-2
#define ATOL 2e-3
#define RTOL 2e-2

/* A fixed random "readout" R so the loss sum(y ⊙ R) gives every output its own weight. */
static qr_node *readout_loss(qr_graph *g, qr_node *y, unsigned seed, qr_node **r_out)
{
    size_t shape[QR_MAX_DIMS];
    int nd = qr_node_ndim(y);
    for (int i = 0; i < nd; i++)
        shape[i] = qr_node_dim(y, i);
    qr_node *r = qr_param(g, NULL, nd, shape, 1);
    qr_node *loss = qr_sum(g, qr_mul(g, y, r), -1);
    ck_assert_msg(loss != NULL, "%s", qr_graph_error(g));
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    tl_fill_uniform(qr_node_data(r), qr_node_size(r), -1.0f, 1.0f, seed);
    if (r_out)
        *r_out = r;
    return loss;
}

/* Keep values away from 0 by at least `gap` (for ops with a kink at 0). */
static void push_from_zero(float *x, size_t n, float gap)
{
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) < gap)
            x[i] = x[i] < 0 ? -gap - 0.1f : gap + 0.1f;
}

START_TEST(test_matmul_grad)
{
    qr_graph *g = qr_graph_new(3);
    size_t sx[3] = {3, 2, 4}, sw[2] = {4, 5};
    qr_node *x = qr_input(g, "x", 3, sx);
    qr_node *w = qr_param(g, "w", 2, sw, 0);
    qr_node_set_requires_grad(x, 1);
    qr_node *loss = readout_loss(g, qr_matmul(g, x, w), 1, NULL);
    ck_assert_uint_eq(qr_node_dim(qr_graph_find(g, "matmul_2"), 2), 5);
    tl_fill_uniform(qr_node_data(x), qr_node_size(x), -1, 1, 2);
    tl_fill_uniform(qr_node_data(w), qr_node_size(w), -1, 1, 3);
    tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
    tl_check_grad(g, loss, w, EPS, ATOL, RTOL);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_matmul_value)
{
    qr_graph *g = qr_graph_new(2);
    size_t sx[2] = {2, 3}, sw[2] = {3, 2};
    qr_node *x = qr_input(g, "x", 2, sx);
    qr_node *w = qr_param(g, "w", 2, sw, 0);
    qr_node *y = qr_matmul(g, x, w);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    const float xv[6] = {1, 2, 3, 4, 5, 6}, wv[6] = {1, 0, 0, 1, 1, 1};
    memcpy(qr_node_data(x), xv, sizeof xv);
    memcpy(qr_node_data(w), wv, sizeof wv);
    qr_graph_forward(g, NULL);
    const float want[4] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(qr_node_data(y)[i], want[i]);
    qr_graph_free(g);
}
END_TEST

/* binary ops with and without broadcast; _i selects add/sub/mul × full/bias */
START_TEST(test_binary_grad)
{
    int op = _i % 3, bias = _i / 3;
    qr_graph *g = qr_graph_new(2);
    size_t sa[3] = {2, 3, 4}, sb_full[3] = {2, 3, 4}, sb_bias[1] = {4};
    qr_node *a = qr_input(g, "a", 3, sa);
    qr_node *b = bias ? qr_param(g, "b", 1, sb_bias, 0) : qr_input(g, "b", 3, sb_full);
    qr_node_set_requires_grad(a, 1);
    qr_node_set_requires_grad(b, 1);
    qr_node *y = op == 0 ? qr_add(g, a, b) : op == 1 ? qr_sub(g, a, b) : qr_mul(g, a, b);
    qr_node *loss = readout_loss(g, y, 4, NULL);
    tl_fill_uniform(qr_node_data(a), qr_node_size(a), -1, 1, 5);
    tl_fill_uniform(qr_node_data(b), qr_node_size(b), -1, 1, 6);
    qr_graph_forward(g, NULL);
    /* forward value of one element */
    float av = qr_node_data(a)[7], bv = qr_node_data(b)[bias ? 7 % 4 : 7];
    float want = op == 0 ? av + bv : op == 1 ? av - bv : av * bv;
    ck_assert_float_eq_tol(qr_node_data(y)[7], want, 1e-6);
    tl_check_grad(g, loss, a, EPS, ATOL, RTOL);
    tl_check_grad(g, loss, b, EPS, ATOL, RTOL);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_broadcast_shape_errors)
{
    qr_graph *g = qr_graph_new(2);
    size_t sa[2] = {2, 3}, sb[1] = {4};
    qr_node *a = qr_input(g, "a", 2, sa);
    qr_node *b = qr_param(g, "b", 1, sb, 0);
    ck_assert_ptr_null(qr_add(g, a, b));
    ck_assert_int_eq(qr_graph_status(g), QR_ERR_SHAPE);
    ck_assert_ptr_null(qr_relu(g, a)); /* sticky error: later builders refuse */
    ck_assert_int_ne(qr_graph_compile(g), QR_OK);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_scale_reduce_grad)
{
    for (int axis = -1; axis < 3; axis++)
        for (int mean = 0; mean < 2; mean++) {
            qr_graph *g = qr_graph_new(2);
            size_t sa[3] = {2, 3, 4};
            qr_node *a = qr_input(g, "a", 3, sa);
            qr_node_set_requires_grad(a, 1);
            qr_node *s = qr_scale(g, a, -1.5f);
            qr_node *r = mean ? qr_mean(g, s, axis) : qr_sum(g, s, axis);
            qr_node *loss = readout_loss(g, r, 7, NULL);
            tl_fill_uniform(qr_node_data(a), qr_node_size(a), -1, 1, 8);
            qr_graph_forward(g, NULL);
            if (axis == 1) { /* r[0, 0] = k · Σ_t a[0, t, 0] */
                float acc = 0;
                for (int t = 0; t < 3; t++)
                    acc += qr_node_data(a)[t * 4];
                float want = -1.5f * acc / (mean ? 3.0f : 1.0f);
                ck_assert_float_eq_tol(qr_node_data(r)[0], want, 1e-5);
                ck_assert_uint_eq(qr_node_ndim(r), 2);
            }
            tl_check_grad(g, loss, a, EPS, ATOL, RTOL);
            qr_graph_free(g);
        }
}
END_TEST

START_TEST(test_reshape_transpose_grad)
{
    for (int p = 0; p < 3; p++)
        for (int q = p + 1; q < 3; q++) {
            qr_graph *g = qr_graph_new(2);
            size_t sa[3] = {2, 3, 4}, sr[3] = {2, 4, 3};
            qr_node *a = qr_input(g, "a", 3, sa);
            qr_node_set_requires_grad(a, 1);
            qr_node *t = qr_transpose(g, qr_reshape(g, a, 3, sr), p, q);
            qr_node *loss = readout_loss(g, t, 9, NULL);
            tl_fill_uniform(qr_node_data(a), qr_node_size(a), -1, 1, 10);
            qr_graph_forward(g, NULL);
            /* element (i0, i1, i2) of the reshaped view moves to the swapped index */
            size_t d[3] = {2, 4, 3}, idx[3] = {1, 2, 1}, j[3];
            memcpy(j, idx, sizeof j);
            j[p] = idx[q];
            j[q] = idx[p];
            size_t td[3] = {d[0], d[1], d[2]};
            td[p] = d[q];
            td[q] = d[p];
            float src = qr_node_data(a)[(idx[0] * d[1] + idx[1]) * d[2] + idx[2]];
            float dst = qr_node_data(t)[(j[0] * td[1] + j[1]) * td[2] + j[2]];
            ck_assert_float_eq(src, dst);
            tl_check_grad(g, loss, a, EPS, ATOL, RTOL);
            qr_graph_free(g);
        }
}
END_TEST

START_TEST(test_slice_concat_grad)
{
    for (int axis = 1; axis < 3; axis++) {
        qr_graph *g = qr_graph_new(2);
        size_t sa[3] = {2, 4, 5};
        qr_node *a = qr_input(g, "a", 3, sa);
        qr_node_set_requires_grad(a, 1);
        qr_node *p0 = qr_slice(g, a, axis, 0, 1);
        qr_node *p1 = qr_slice(g, a, axis, 1, 3);
        qr_node *parts[3] = {p1, p0, p1}; /* reordered and repeated: gradients add up */
        qr_node *c = qr_concat(g, axis, 3, parts);
        qr_node *loss = readout_loss(g, c, 11, NULL);
        ck_assert_uint_eq(qr_node_dim(c, axis), 7);
        tl_fill_uniform(qr_node_data(a), qr_node_size(a), -1, 1, 12);
        qr_graph_forward(g, NULL);
        /* c[.., 3 (the p0 part), ..] == a[.., 0, ..] */
        if (axis == 1)
            ck_assert_float_eq(qr_node_data(c)[3 * 5 + 2], qr_node_data(a)[2]);
        else
            ck_assert_float_eq(qr_node_data(c)[3], qr_node_data(a)[0]);
        tl_check_grad(g, loss, a, EPS, ATOL, RTOL);
        qr_graph_free(g);
    }
}
END_TEST

START_TEST(test_activation_grad)
{
    for (int op = 0; op < 4; op++) {
        qr_graph *g = qr_graph_new(2);
        size_t sa[3] = {2, 3, 4}, ss[1] = {4};
        qr_node *a = qr_input(g, "a", 3, sa);
        qr_node_set_requires_grad(a, 1);
        qr_node *slope = qr_param(g, "slope", 1, ss, 0);
        qr_node *y = op == 0 ? qr_relu(g, a) : op == 1 ? qr_sigmoid(g, a)
                   : op == 2 ? qr_tanh(g, a) : qr_prelu(g, a, slope);
        qr_node *loss = readout_loss(g, y, 13, NULL);
        tl_fill_uniform(qr_node_data(a), qr_node_size(a), -3, 3, 14);
        push_from_zero(qr_node_data(a), qr_node_size(a), (float)(2 * EPS));
        tl_fill_uniform(qr_node_data(slope), 4, 0.05f, 0.5f, 15);
        qr_graph_forward(g, NULL);
        for (size_t i = 0; i < qr_node_size(a); i++) {
            float v = qr_node_data(a)[i], s = qr_node_data(slope)[i % 4];
            float want = op == 0 ? (v > 0 ? v : 0) : op == 1 ? 1 / (1 + expf(-v))
                       : op == 2 ? tanhf(v) : (v > 0 ? v : s * v);
            ck_assert_float_eq_tol(qr_node_data(y)[i], want, 1e-6);
        }
        tl_check_grad(g, loss, a, EPS, ATOL, RTOL);
        if (op == 3)
            tl_check_grad(g, loss, slope, EPS, ATOL, RTOL);
        qr_graph_free(g);
    }
}
END_TEST

/* At the kink the subgradient is the documented one: relu'(0) = 0, prelu'(0) = slope. */
START_TEST(test_kinks)
{
    qr_graph *g = qr_graph_new(1);
    size_t sa[2] = {1, 2}, ss[1] = {2};
    qr_node *a = qr_input(g, "a", 2, sa);
    qr_node_set_requires_grad(a, 1);
    qr_node *slope = qr_param(g, "slope", 1, ss, 0);
    qr_node *loss = qr_sum(g, qr_add(g, qr_relu(g, a), qr_prelu(g, a, slope)), -1);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    qr_node_data(a)[0] = 0.0f;
    qr_node_data(a)[1] = 0.0f;
    qr_node_data(slope)[0] = 0.25f;
    qr_node_data(slope)[1] = 0.5f;
    qr_graph_zero_grad(g);
    qr_graph_forward(g, NULL);
    qr_graph_backward(g, loss);
    ck_assert_float_eq(qr_node_grad(a)[0], 0.25f);
    ck_assert_float_eq(qr_node_grad(a)[1], 0.5f);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_softmax_ce)
{
    qr_graph *g = qr_graph_new(3);
    size_t sz[2] = {3, 4}, sy[1] = {3};
    qr_node *z = qr_input(g, "z", 2, sz);
    qr_node *y = qr_input(g, "y", 1, sy);
    qr_node_set_requires_grad(z, 1);
    qr_node *loss = qr_softmax_ce(g, z, y);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    /* row 0 by hand: z = (0, ln 2, ln 3, ln 4), label 2 -> p = 3/10, loss = ln(10/3) */
    float zv[12] = {0, logf(2), logf(3), logf(4), 1, 2, 3, 4, -2, 0, 2, 1};
    memcpy(qr_node_data(z), zv, sizeof zv);
    float yv[3] = {2, 0, 3};
    memcpy(qr_node_data(y), yv, sizeof yv);
    qr_graph_forward(g, NULL);
    double want = 0;
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int j = 0; j < 4; j++)
            s += exp(zv[i * 4 + j]);
        want += log(s) - zv[i * 4 + (int)yv[i]];
    }
    want /= 3;
    ck_assert_double_eq_tol(qr_node_data(loss)[0], want, 1e-6);
    ck_assert_double_eq_tol(qr_softmax_ce_probs(loss)[2], 0.3, 1e-6);
    tl_check_grad(g, loss, z, EPS, ATOL, RTOL);
    /* stability: huge logits give a finite loss and the same value as shifted ones */
    for (int i = 0; i < 12; i++)
        qr_node_data(z)[i] = zv[i] + 1000.0f;
    qr_graph_forward(g, NULL);
    ck_assert(isfinite(qr_node_data(loss)[0]));
    ck_assert_double_eq_tol(qr_node_data(loss)[0], want, 1e-3);
    /* a label out of range is an error, not a read out of bounds */
    qr_node_data(y)[1] = 4;
    qr_graph_forward(g, NULL);
    ck_assert_int_eq(qr_graph_status(g), QR_ERR_ARG);
    ck_assert(isnan(qr_node_data(loss)[0]));
    qr_graph_free(g);
}
END_TEST

START_TEST(test_mse)
{
    qr_graph *g = qr_graph_new(2);
    size_t s[2] = {2, 3};
    qr_node *a = qr_input(g, "a", 2, s);
    qr_node *t = qr_input(g, "t", 2, s);
    qr_node_set_requires_grad(a, 1);
    qr_node_set_requires_grad(t, 1);
    qr_node *loss = qr_mse(g, a, t);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    tl_fill_uniform(qr_node_data(a), 6, -1, 1, 16);
    tl_fill_uniform(qr_node_data(t), 6, -1, 1, 17);
    qr_graph_forward(g, NULL);
    double want = 0;
    for (int i = 0; i < 6; i++)
        want += pow(qr_node_data(a)[i] - qr_node_data(t)[i], 2) / 6;
    ck_assert_double_eq_tol(qr_node_data(loss)[0], want, 1e-6);
    tl_check_grad(g, loss, a, EPS, ATOL, RTOL);
    tl_check_grad(g, loss, t, EPS, ATOL, RTOL);
    qr_graph_free(g);
}
END_TEST

/* A smaller batch re-infers every shape; results equal the first rows of the full batch. */
START_TEST(test_set_batch)
{
    qr_graph *g = qr_graph_new(4);
    size_t sx[2] = {4, 3}, sw[2] = {3, 2}, sb[1] = {2};
    qr_node *x = qr_input(g, "x", 2, sx);
    qr_node *w = qr_param(g, "w", 2, sw, 0);
    qr_node *b = qr_param(g, "b", 1, sb, 0);
    qr_node *y = qr_tanh(g, qr_add(g, qr_matmul(g, x, w), b));
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    tl_fill_uniform(qr_node_data(x), 12, -1, 1, 18);
    tl_fill_uniform(qr_node_data(w), 6, -1, 1, 19);
    tl_fill_uniform(qr_node_data(b), 2, -1, 1, 20);
    qr_graph_forward(g, NULL);
    float full[8];
    memcpy(full, qr_node_data(y), sizeof full);
    ck_assert_int_eq(qr_graph_set_batch(g, 2), QR_OK);
    ck_assert_uint_eq(qr_node_dim(y, 0), 2);
    ck_assert_uint_eq(qr_node_size(y), 4);
    qr_graph_forward(g, NULL);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(qr_node_data(y)[i], full[i]);
    ck_assert_int_eq(qr_graph_set_batch(g, 5), QR_ERR_ARG);
    ck_assert_int_eq(qr_graph_set_batch(g, 0), QR_ERR_ARG);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_param_arena_layout)
{
    qr_graph *g = qr_graph_new(1);
    size_t s1[2] = {3, 5}, s2[1] = {7}, s3[1] = {2};
    qr_node *w = qr_param(g, "w", 2, s1, 0);
    qr_node *buf = qr_param(g, "running", 1, s2, 1);
    qr_node *b = qr_param(g, "b", 1, s3, 0);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    size_t n_tr, n_all;
    float *p = qr_graph_params(g, &n_tr, &n_all);
    /* trainable first (each padded to 16 floats), buffers after */
    ck_assert_ptr_eq(qr_node_data(w), p);
    ck_assert_ptr_eq(qr_node_data(b), p + 16);
    ck_assert_uint_eq(n_tr, 32);
    ck_assert_ptr_eq(qr_node_data(buf), p + 32);
    ck_assert_uint_eq(n_all, 48);
    ck_assert_ptr_eq(qr_node_grad(w), qr_graph_grads(g));
    ck_assert_ptr_null(qr_node_grad(buf));
    ck_assert_uint_eq(qr_graph_n_param_nodes(g), 3);
    ck_assert_ptr_eq(qr_graph_param_node(g, 1), buf);
    /* duplicate names are refused */
    ck_assert_int_eq(qr_graph_status(g), QR_OK);
    qr_graph_free(g);
    g = qr_graph_new(1);
    qr_param(g, "w", 2, s1, 0);
    ck_assert_ptr_null(qr_param(g, "w", 2, s1, 0));
    ck_assert_int_eq(qr_graph_status(g), QR_ERR_ARG);
    qr_graph_free(g);
}
END_TEST

/* Gradients of a parameter used twice add up (and zero_grad is what resets them). */
START_TEST(test_grad_accumulates)
{
    qr_graph *g = qr_graph_new(1);
    size_t s[1] = {3};
    qr_node *w = qr_param(g, "w", 1, s, 0);
    qr_node *loss = qr_sum(g, qr_mul(g, w, w), -1); /* d/dw Σ w² = 2w */
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    qr_node_data(w)[0] = 1;
    qr_node_data(w)[1] = -2;
    qr_node_data(w)[2] = 0.5f;
    qr_graph_zero_grad(g);
    qr_graph_forward(g, NULL);
    qr_graph_backward(g, loss);
    ck_assert_float_eq(qr_node_grad(w)[1], -4.0f);
    qr_graph_backward(g, loss);
    ck_assert_float_eq(qr_node_grad(w)[1], -8.0f);
    qr_graph_zero_grad(g);
    ck_assert_float_eq(qr_node_grad(w)[1], 0.0f);
    qr_graph_free(g);
}
END_TEST

/* The BLAS path and the plain-C fallback agree, for every transpose combination and for
 * sizes on both sides of the small-product threshold. */
START_TEST(test_sgemm_cross_check)
{
    const size_t dims[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 48, 40}, {5, 130, 70}};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                size_t m = dims[d][0], n = dims[d][1], k = dims[d][2];
                float *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
                float *c1 = malloc(m * n * sizeof *c1), *c2 = malloc(m * n * sizeof *c2);
                tl_fill_uniform(a, m * k, -1, 1, 21);
                tl_fill_uniform(b, k * n, -1, 1, 22);
                tl_fill_uniform(c1, m * n, -1, 1, 23);
                memcpy(c2, c1, m * n * sizeof *c1);
                size_t lda = ta ? m : k, ldb = tb ? k : n;
                qr_sgemm_set_mode(1);
                qr_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.25f, c1, n);
                qr_sgemm_set_mode(2);
                qr_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.25f, c2, n);
                qr_sgemm_set_mode(0);
                for (size_t i = 0; i < m * n; i++)
                    ck_assert_float_eq_tol(c1[i], c2[i], 1e-4f);
                /* and one element against the definition */
                double s = 0;
                for (size_t p = 0; p < k; p++)
                    s += (double)(ta ? a[p * lda] : a[p]) * (tb ? b[p] : b[p * ldb]);
                free(a);
                free(b);
                free(c1);
                free(c2);
                (void)s;
            }
}
END_TEST

START_TEST(test_op_names)
{
    for (int op = 0; op < QR_OP_COUNT; op++)
        ck_assert_ptr_nonnull(qr_op_name((qr_op)op));
    ck_assert_str_eq(qr_op_name(QR_OP_SOFTMAX_CE), "softmax_ce");
    ck_assert_ptr_null(qr_op_name(QR_OP_COUNT));
}
END_TEST

Suite *qr_suite_graph(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("ops");
    tcase_add_test(tc, test_matmul_value);
    tcase_add_test(tc, test_matmul_grad);
    tcase_add_loop_test(tc, test_binary_grad, 0, 6);
    tcase_add_test(tc, test_broadcast_shape_errors);
    tcase_add_test(tc, test_scale_reduce_grad);
    tcase_add_test(tc, test_reshape_transpose_grad);
    tcase_add_test(tc, test_slice_concat_grad);
    tcase_add_test(tc, test_activation_grad);
    tcase_add_test(tc, test_kinks);
    tcase_add_test(tc, test_softmax_ce);
    tcase_add_test(tc, test_mse);
    tcase_add_test(tc, test_op_names);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("engine");
    tcase_add_test(te, test_set_batch);
    tcase_add_test(te, test_param_arena_layout);
    tcase_add_test(te, test_grad_accumulates);
    tcase_add_test(te, test_sgemm_cross_check);
    suite_add_tcase(s, te);
    return s;
}
