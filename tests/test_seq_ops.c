/* Sequence layers: conv1d, batchnorm, dropout, spatial dropout, gap1d, maxpool1d, flatten.
 * Forward values against direct nested-loop computations, finite-difference gradients of
 * every input and parameter, batch changes, train/eval behaviour, shape and argument errors.
 * B = batch, T = length, C / Cin / Cout = channels, k = kernel size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/op_conv1d.h"
#include "testlib.h"

#define EPS 1e-2
#define ATOL 2e-3
#define RTOL 2e-2

/* loss = Σ y ⊙ R with a fixed random R, then compile. R is an input (batched like y), so a
 * smaller batch uses its first rows. */
static qr_node *seq_loss(qr_graph *g, qr_node *y, unsigned seed)
{
    ck_assert_msg(y != NULL, "%s", qr_graph_error(g));
    size_t shape[QR_MAX_DIMS];
    int nd = qr_node_ndim(y);
    for (int i = 0; i < nd; i++)
        shape[i] = qr_node_dim(y, i);
    qr_node *r = qr_input(g, NULL, nd, shape);
    qr_node *loss = qr_sum(g, qr_mul(g, y, r), -1);
    ck_assert_msg(loss != NULL, "%s", qr_graph_error(g));
    ck_assert_msg(qr_graph_compile(g) == QR_OK, "%s", qr_graph_error(g));
    tl_fill_uniform(qr_node_data(r), qr_node_size(r), -1.0f, 1.0f, seed);
    return loss;
}

static void fill(qr_node *n, float lo, float hi, unsigned seed)
{
    tl_fill_uniform(qr_node_data(n), qr_node_size(n), lo, hi, seed);
}

/* ---- conv1d ------------------------------------------------------------------------------ */

/* Reference: pad x explicitly with (pl, pr) zeros, then a plain valid, strided, dilated
 * cross-correlation in double. Returns T_out; y (B, T_out, Cout). */
static size_t naive_conv1d(double *y, const float *x, const float *w, const float *bias,
                           size_t B, size_t T, size_t cin, size_t k, size_t cout, size_t s,
                           size_t d, qr_conv_padding pad)
{
    size_t span = (k - 1) * d + 1, pl = 0, pr = 0;
    if (pad == QR_PAD_SAME) {
        size_t out = (T + s - 1) / s;
        long total = (long)((out - 1) * s + span) - (long)T;
        if (total < 0)
            total = 0;
        pl = (size_t)total / 2;
        pr = (size_t)total - pl;
    } else if (pad == QR_PAD_CAUSAL) {
        pl = span - 1;
    }
    size_t tp = T + pl + pr;
    if (tp < span)
        return 0;
    size_t t_out = (tp - span) / s + 1;
    double *xp = calloc(B * tp * cin, sizeof *xp);
    ck_assert_ptr_nonnull(xp);
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t c = 0; c < cin; c++)
                xp[(b * tp + t + pl) * cin + c] = x[(b * T + t) * cin + c];
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < t_out; t++)
            for (size_t o = 0; o < cout; o++) {
                double acc = bias ? bias[o] : 0.0;
                for (size_t j = 0; j < k; j++)
                    for (size_t c = 0; c < cin; c++)
                        acc += xp[(b * tp + t * s + j * d) * cin + c] * w[(j * cin + c) * cout + o];
                y[(b * t_out + t) * cout + o] = acc;
            }
    free(xp);
    return t_out;
}

typedef struct conv_case {
    size_t k, s, d;
    qr_conv_padding pad;
    int bias;
} conv_case;

/* A conv1d graph x (B, T, Cin) -> y with w (k, Cin, Cout) and optional bias. */
static qr_node *build_conv(qr_graph *g, const conv_case *cc, size_t B, size_t T, size_t cin,
                           size_t cout, qr_node **x, qr_node **w, qr_node **b)
{
    size_t sx[3] = {B, T, cin}, sw[3] = {cc->k, cin, cout}, sb[1] = {cout};
    *x = qr_input(g, "x", 3, sx);
    qr_node_set_requires_grad(*x, 1);
    *w = qr_param(g, "w", 3, sw, 0);
    *b = cc->bias ? qr_param(g, "b", 1, sb, 0) : NULL;
    return qr_conv1d(g, *x, *w, *b, (int)cc->s, (int)cc->d, cc->pad);
}

START_TEST(test_conv1d_forward_naive)
{
    const size_t B = 2, T = 9, cin = 3, cout = 4;
    int n_cases = 0;
    for (size_t k = 1; k <= 5; k++)
        for (size_t s = 1; s <= 3; s++)
            for (size_t d = 1; d <= 3; d++)
                for (int pad = QR_PAD_VALID; pad <= QR_PAD_CAUSAL; pad++) {
                    conv_case cc = {k, s, d, (qr_conv_padding)pad, (int)((k + s + d) % 2)};
                    qr_graph *g = qr_graph_new(B);
                    qr_node *x, *w, *b;
                    qr_node *y = build_conv(g, &cc, B, T, cin, cout, &x, &w, &b);
                    size_t span = (k - 1) * d + 1;
                    if (pad == QR_PAD_VALID && span > T) {
                        ck_assert_ptr_null(y);
                        ck_assert_int_eq(qr_graph_status(g), QR_ERR_SHAPE);
                        qr_graph_free(g);
                        continue;
                    }
                    ck_assert_msg(y != NULL, "%s", qr_graph_error(g));
                    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
                    fill(x, -1, 1, 100 + (unsigned)k);
                    fill(w, -1, 1, 200 + (unsigned)s);
                    if (b)
                        fill(b, -1, 1, 300 + (unsigned)d);
                    qr_graph_forward(g, NULL);
                    double *want = malloc(B * T * cout * sizeof *want);
                    size_t t_out = naive_conv1d(want, qr_node_data(x), qr_node_data(w),
                                                b ? qr_node_data(b) : NULL, B, T, cin, k, cout,
                                                s, d, cc.pad);
                    /* Keras: same and causal give ceil(T / s) outputs */
                    if (pad != QR_PAD_VALID)
                        ck_assert_uint_eq(t_out, (T + s - 1) / s);
                    ck_assert_uint_eq(qr_node_ndim(y), 3);
                    ck_assert_uint_eq(qr_node_dim(y, 0), B);
                    ck_assert_uint_eq(qr_node_dim(y, 1), t_out);
                    ck_assert_uint_eq(qr_node_dim(y, 2), cout);
                    for (size_t i = 0; i < B * t_out * cout; i++)
                        ck_assert_msg(fabs(qr_node_data(y)[i] - want[i]) < 1e-5,
                                      "k %zu s %zu d %zu pad %d: y[%zu] %g want %g", k, s, d,
                                      pad, i, (double)qr_node_data(y)[i], want[i]);
                    free(want);
                    qr_graph_free(g);
                    n_cases++;
                }
    ck_assert_int_gt(n_cases, 100);
}
END_TEST

/* Padding placement by hand: x = 1 2 3 4, one channel, w = (1, 10). Keras pads "same" with
 * an even kernel more on the right; "causal" puts all of it on the left. */
START_TEST(test_conv1d_padding_by_hand)
{
    static const float want[3][4] = {{21, 32, 43, 0}, {21, 32, 43, 4}, {10, 21, 32, 43}};
    static const size_t len[3] = {3, 4, 4};
    for (int pad = QR_PAD_VALID; pad <= QR_PAD_CAUSAL; pad++) {
        qr_graph *g = qr_graph_new(1);
        size_t sx[3] = {1, 4, 1}, sw[3] = {2, 1, 1};
        qr_node *x = qr_input(g, "x", 3, sx);
        qr_node *w = qr_param(g, "w", 3, sw, 0);
        qr_node *y = qr_conv1d(g, x, w, NULL, 1, 1, (qr_conv_padding)pad);
        ck_assert_int_eq(qr_graph_compile(g), QR_OK);
        for (int i = 0; i < 4; i++)
            qr_node_data(x)[i] = (float)(i + 1);
        qr_node_data(w)[0] = 1;
        qr_node_data(w)[1] = 10;
        qr_graph_forward(g, NULL);
        ck_assert_uint_eq(qr_node_dim(y, 1), len[pad]);
        for (size_t i = 0; i < len[pad]; i++)
            ck_assert_float_eq(qr_node_data(y)[i], want[pad][i]);
        qr_graph_free(g);
    }
    /* Keras output lengths: T = 9, k = 4, s = 2 same -> 5; T = 10, k = 3 valid -> 8;
     * k = 3, d = 4, T = 9 valid -> 1; k = 3, d = 2, s = 3 causal -> 3 */
    static const struct {
        size_t t, k, s, d;
        qr_conv_padding pad;
        size_t out;
    } lens[] = {{9, 4, 2, 1, QR_PAD_SAME, 5}, {10, 3, 1, 1, QR_PAD_VALID, 8},
                {9, 3, 1, 4, QR_PAD_VALID, 1}, {9, 3, 3, 2, QR_PAD_CAUSAL, 3},
                {9, 2, 4, 1, QR_PAD_VALID, 2}};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        qr_graph *g = qr_graph_new(1);
        size_t sx[3] = {1, lens[i].t, 2}, sw[3] = {lens[i].k, 2, 3};
        qr_node *y = qr_conv1d(g, qr_input(g, "x", 3, sx), qr_param(g, "w", 3, sw, 0), NULL,
                               (int)lens[i].s, (int)lens[i].d, lens[i].pad);
        ck_assert_msg(y != NULL, "%s", qr_graph_error(g));
        ck_assert_uint_eq(qr_node_dim(y, 1), lens[i].out);
        qr_graph_free(g);
    }
}
END_TEST

static const conv_case grad_cases[] = {
    {3, 1, 1, QR_PAD_VALID, 1}, {2, 2, 1, QR_PAD_SAME, 1},  {4, 1, 1, QR_PAD_SAME, 0},
    {3, 2, 2, QR_PAD_CAUSAL, 1}, {5, 3, 1, QR_PAD_SAME, 1}, {1, 1, 1, QR_PAD_VALID, 1},
    {1, 2, 1, QR_PAD_SAME, 0},  {2, 1, 3, QR_PAD_CAUSAL, 0}, {3, 3, 2, QR_PAD_VALID, 1},
};
#define N_GRAD_CASES (sizeof grad_cases / sizeof grad_cases[0])

/* _i: case index × {im2col kept in aux, recomputed in backward} */
START_TEST(test_conv1d_grad)
{
    const conv_case *cc = &grad_cases[_i % N_GRAD_CASES];
    int recompute = _i / (int)N_GRAD_CASES;
    size_t old = qr_conv1d_set_keep_limit(recompute ? 0 : QR_CONV1D_KEEP_COL_BYTES);
    qr_graph *g = qr_graph_new(2);
    qr_node *x, *w, *b;
    qr_node *y = build_conv(g, cc, 2, 8, 3, 2, &x, &w, &b);
    qr_node *loss = seq_loss(g, y, 400 + (unsigned)_i);
    fill(x, -1, 1, 401);
    fill(w, -1, 1, 402);
    if (b)
        fill(b, -1, 1, 403);
    tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
    tl_check_grad(g, loss, w, EPS, ATOL, RTOL);
    if (b)
        tl_check_grad(g, loss, b, EPS, ATOL, RTOL);
    /* a smaller batch: shapes follow, gradients still check */
    ck_assert_int_eq(qr_graph_set_batch(g, 1), QR_OK);
    ck_assert_uint_eq(qr_node_dim(y, 0), 1);
    tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
    tl_check_grad(g, loss, w, EPS, ATOL, RTOL);
    qr_graph_free(g);
    qr_conv1d_set_keep_limit(old);
}
END_TEST

/* Keeping im2col and recomputing it give the same numbers, bit for bit. */
START_TEST(test_conv1d_keep_equals_recompute)
{
    float grads[2][64];
    for (int rec = 0; rec < 2; rec++) {
        size_t old = qr_conv1d_set_keep_limit(rec ? 0 : QR_CONV1D_KEEP_COL_BYTES);
        conv_case cc = {3, 2, 1, QR_PAD_SAME, 1};
        qr_graph *g = qr_graph_new(3);
        qr_node *x, *w, *b;
        qr_node *y = build_conv(g, &cc, 3, 7, 4, 5, &x, &w, &b);
        qr_node *loss = seq_loss(g, y, 500);
        qr_conv1d_set_keep_limit(old);
        fill(x, -1, 1, 501);
        fill(w, -1, 1, 502);
        fill(b, -1, 1, 503);
        qr_graph_zero_grad(g);
        qr_graph_forward(g, NULL);
        qr_graph_backward(g, loss);
        ck_assert_uint_le(qr_node_size(w), 64);
        memcpy(grads[rec], qr_node_grad(w), qr_node_size(w) * sizeof(float));
        if (rec)
            ck_assert_int_eq(memcmp(grads[0], grads[1], qr_node_size(w) * sizeof(float)), 0);
        qr_graph_free(g);
    }
}
END_TEST

/* The first rows of a full-batch run equal a run at a smaller batch. */
START_TEST(test_conv1d_set_batch)
{
    conv_case cc = {3, 1, 2, QR_PAD_CAUSAL, 1};
    qr_graph *g = qr_graph_new(4);
    qr_node *x, *w, *b;
    qr_node *y = build_conv(g, &cc, 4, 6, 2, 3, &x, &w, &b);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    fill(x, -1, 1, 600);
    fill(w, -1, 1, 601);
    fill(b, -1, 1, 602);
    qr_graph_forward(g, NULL);
    float full[4 * 6 * 3];
    memcpy(full, qr_node_data(y), sizeof full);
    ck_assert_int_eq(qr_graph_set_batch(g, 2), QR_OK);
    ck_assert_uint_eq(qr_node_size(y), 2 * 6 * 3);
    memset(qr_node_data(y), 0, sizeof full);
    qr_graph_forward(g, NULL);
    for (size_t i = 0; i < 2 * 6 * 3; i++)
        ck_assert_float_eq(qr_node_data(y)[i], full[i]);
    ck_assert_float_eq(qr_node_data(y)[2 * 6 * 3], 0.0f); /* nothing written past the batch */
    qr_graph_free(g);
}
END_TEST

START_TEST(test_conv1d_errors)
{
    size_t sx[3] = {2, 5, 3}, sx2[2] = {2, 5}, sw[3] = {3, 3, 4}, swbad[3] = {3, 2, 4},
           sb[1] = {4}, sbbad[1] = {3}, sw2[2] = {3, 4};
    static const struct {
        int what, stride, dilation, pad;
        qr_status want;
    } cases[] = {
        {0, 0, 1, QR_PAD_VALID, QR_ERR_ARG},   {0, 1, 0, QR_PAD_VALID, QR_ERR_ARG},
        {0, -2, 1, QR_PAD_SAME, QR_ERR_ARG},   {0, 1, 1, 7, QR_ERR_ARG},
        {0, 1, 1, -1, QR_ERR_ARG},             {1, 1, 1, QR_PAD_VALID, QR_ERR_SHAPE},
        {2, 1, 1, QR_PAD_VALID, QR_ERR_SHAPE}, {3, 1, 1, QR_PAD_VALID, QR_ERR_SHAPE},
        {4, 1, 1, QR_PAD_VALID, QR_ERR_SHAPE}, {0, 1, 3, QR_PAD_VALID, QR_ERR_SHAPE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qr_graph *g = qr_graph_new(2);
        qr_node *x = cases[i].what == 1 ? qr_input(g, "x", 2, sx2) : qr_input(g, "x", 3, sx);
        qr_node *w = cases[i].what == 2   ? qr_param(g, "w", 3, swbad, 0)
                     : cases[i].what == 4 ? qr_param(g, "w", 2, sw2, 0)
                                          : qr_param(g, "w", 3, sw, 0);
        qr_node *b = qr_param(g, "b", 1, cases[i].what == 3 ? sbbad : sb, 0);
        size_t before = qr_graph_n_nodes(g);
        qr_node *y = qr_conv1d(g, x, w, b, cases[i].stride, cases[i].dilation,
                               (qr_conv_padding)cases[i].pad);
        ck_assert_ptr_null(y);
        ck_assert_msg(qr_graph_status(g) == cases[i].want, "case %zu: status %d (%s)", i,
                      qr_graph_status(g), qr_graph_error(g));
        ck_assert(strstr(qr_graph_error(g), "conv1d") != NULL);
        ck_assert_uint_eq(qr_graph_n_nodes(g), before); /* the rejected node is gone */
        qr_graph_free(g);
    }
    /* NULL propagates */
    ck_assert_ptr_null(qr_conv1d(NULL, NULL, NULL, NULL, 1, 1, QR_PAD_VALID));
}
END_TEST

/* ---- batchnorm ----------------------------------------------------------------------------- */

typedef struct bn_graph {
    qr_graph *g;
    qr_node *x, *gamma, *beta, *rm, *rv, *y, *loss;
} bn_graph;

/* x of shape `shape` (ndim 2 or 3), C = last dim; gamma, beta random, running stats set. */
static void bn_build(bn_graph *bg, int ndim, const size_t *shape, float momentum, float eps)
{
    size_t c[1] = {shape[ndim - 1]};
    bg->g = qr_graph_new(shape[0]);
    bg->x = qr_input(bg->g, "x", ndim, shape);
    qr_node_set_requires_grad(bg->x, 1);
    bg->gamma = qr_param(bg->g, "gamma", 1, c, 0);
    bg->beta = qr_param(bg->g, "beta", 1, c, 0);
    bg->rm = qr_param(bg->g, "running_mean", 1, c, 1);
    bg->rv = qr_param(bg->g, "running_var", 1, c, 1);
    bg->y = qr_batchnorm(bg->g, bg->x, bg->gamma, bg->beta, bg->rm, bg->rv, momentum, eps);
    bg->loss = seq_loss(bg->g, bg->y, 700);
    fill(bg->x, -2, 3, 701);
    fill(bg->gamma, 0.5f, 1.5f, 702);
    fill(bg->beta, -0.5f, 0.5f, 703);
    fill(bg->rm, -0.3f, 0.3f, 704);
    fill(bg->rv, 0.5f, 2.0f, 705);
}

/* Direct computation; `mean`, `var` (C) get the batch statistics (biased variance). */
static void bn_naive(double *y, double *mean, double *var, const float *x, size_t rows,
                     size_t c, const float *gamma, const float *beta, const float *rm,
                     const float *rv, int training, double eps)
{
    for (size_t j = 0; j < c; j++) {
        double s = 0, s2 = 0;
        for (size_t r = 0; r < rows; r++)
            s += x[r * c + j];
        mean[j] = s / (double)rows;
        for (size_t r = 0; r < rows; r++)
            s2 += (x[r * c + j] - mean[j]) * (x[r * c + j] - mean[j]);
        var[j] = s2 / (double)rows;
        double mu = training ? mean[j] : rm[j], v = training ? var[j] : rv[j];
        for (size_t r = 0; r < rows; r++)
            y[r * c + j] = gamma[j] * (x[r * c + j] - mu) / sqrt(v + eps) + beta[j];
    }
}

START_TEST(test_batchnorm_forward_and_running_stats)
{
    for (int training = 0; training < 2; training++) {
        size_t shape[3] = {3, 4, 5};
        bn_graph bg;
        bn_build(&bg, 3, shape, QR_BN_MOMENTUM, QR_BN_EPS);
        qr_graph_set_training(bg.g, training);
        float rm0[5], rv0[5];
        memcpy(rm0, qr_node_data(bg.rm), sizeof rm0);
        memcpy(rv0, qr_node_data(bg.rv), sizeof rv0);
        double y[60], mean[5], var[5];
        bn_naive(y, mean, var, qr_node_data(bg.x), 12, 5, qr_node_data(bg.gamma),
                 qr_node_data(bg.beta), rm0, rv0, training, QR_BN_EPS);
        qr_graph_forward(bg.g, NULL);
        for (int i = 0; i < 60; i++)
            ck_assert_double_eq_tol(qr_node_data(bg.y)[i], y[i], 1e-5);
        for (int j = 0; j < 5; j++) {
            /* Keras: running = 0.99 running + 0.01 batch, biased variance; eval: untouched */
            double wm = training ? 0.99 * rm0[j] + 0.01 * mean[j] : rm0[j];
            double wv = training ? 0.99 * rv0[j] + 0.01 * var[j] : rv0[j];
            ck_assert_double_eq_tol(qr_node_data(bg.rm)[j], wm, 1e-6);
            ck_assert_double_eq_tol(qr_node_data(bg.rv)[j], wv, 1e-6);
        }
        if (training) {
            /* a training-mode output has zero mean and (biased) variance var/(var+eps) */
            for (int j = 0; j < 5; j++) {
                double s = 0, s2 = 0;
                float gm = qr_node_data(bg.gamma)[j], bt = qr_node_data(bg.beta)[j];
                for (int r = 0; r < 12; r++) {
                    double z = (qr_node_data(bg.y)[r * 5 + j] - bt) / gm;
                    s += z;
                    s2 += z * z;
                }
                ck_assert_double_eq_tol(s / 12, 0.0, 1e-5);
                ck_assert_double_eq_tol(s2 / 12, var[j] / (var[j] + QR_BN_EPS), 1e-5);
            }
            /* a second step moves the running statistics again, by the same formula */
            float rm1 = qr_node_data(bg.rm)[0];
            qr_graph_forward(bg.g, NULL);
            ck_assert_double_eq_tol(qr_node_data(bg.rm)[0], 0.99 * rm1 + 0.01 * mean[0], 1e-6);
        }
        qr_graph_free(bg.g);
    }
}
END_TEST

/* momentum 0 copies the batch statistics; momentum 1 freezes the running ones. */
START_TEST(test_batchnorm_momentum_extremes)
{
    for (int mi = 0; mi < 2; mi++) {
        size_t shape[2] = {6, 3};
        bn_graph bg;
        bn_build(&bg, 2, shape, (float)mi, 1e-5f);
        qr_graph_set_training(bg.g, 1);
        float rm0 = qr_node_data(bg.rm)[1], rv0 = qr_node_data(bg.rv)[1];
        double y[18], mean[3], var[3];
        bn_naive(y, mean, var, qr_node_data(bg.x), 6, 3, qr_node_data(bg.gamma),
                 qr_node_data(bg.beta), qr_node_data(bg.rm), qr_node_data(bg.rv), 1, 1e-5);
        qr_graph_forward(bg.g, NULL);
        ck_assert_double_eq_tol(qr_node_data(bg.rm)[1], mi ? rm0 : mean[1], 1e-6);
        ck_assert_double_eq_tol(qr_node_data(bg.rv)[1], mi ? rv0 : var[1], 1e-5);
        qr_graph_free(bg.g);
    }
}
END_TEST

/* _i: {2-D, 3-D input} × {eval, training} */
START_TEST(test_batchnorm_grad)
{
    int three_d = _i % 2, training = _i / 2;
    size_t s3[3] = {3, 4, 2}, s2[2] = {5, 3};
    bn_graph bg;
    bn_build(&bg, three_d ? 3 : 2, three_d ? s3 : s2, QR_BN_MOMENTUM, QR_BN_EPS);
    qr_graph_set_training(bg.g, training);
    float rv_before = qr_node_data(bg.rv)[0];
    tl_check_grad(bg.g, bg.loss, bg.x, EPS, ATOL, RTOL);
    tl_check_grad(bg.g, bg.loss, bg.gamma, EPS, ATOL, RTOL);
    tl_check_grad(bg.g, bg.loss, bg.beta, EPS, ATOL, RTOL);
    /* the many forward passes moved the running statistics only in training mode */
    if (training)
        ck_assert_float_ne(qr_node_data(bg.rv)[0], rv_before);
    else
        ck_assert_float_eq(qr_node_data(bg.rv)[0], rv_before);
    /* batch change: fewer rows in the statistics, the gradient still checks */
    ck_assert_int_eq(qr_graph_set_batch(bg.g, 2), QR_OK);
    tl_check_grad(bg.g, bg.loss, bg.x, EPS, ATOL, RTOL);
    tl_check_grad(bg.g, bg.loss, bg.gamma, EPS, ATOL, RTOL);
    qr_graph_free(bg.g);
}
END_TEST

/* The training-mode gradient with respect to x is orthogonal to constants and to x̂ per
 * channel (Σ_rows dx = 0), a property the eval-mode gradient does not have. */
START_TEST(test_batchnorm_train_grad_sums_to_zero)
{
    size_t shape[2] = {8, 2};
    bn_graph bg;
    bn_build(&bg, 2, shape, QR_BN_MOMENTUM, QR_BN_EPS);
    qr_graph_set_training(bg.g, 1);
    qr_graph_zero_grad(bg.g);
    qr_graph_forward(bg.g, NULL);
    qr_graph_backward(bg.g, bg.loss);
    for (int j = 0; j < 2; j++) {
        double s = 0;
        for (int r = 0; r < 8; r++)
            s += qr_node_grad(bg.x)[r * 2 + j];
        ck_assert_double_eq_tol(s, 0.0, 1e-5);
    }
    qr_graph_free(bg.g);
}
END_TEST

START_TEST(test_batchnorm_errors)
{
    size_t sx[3] = {2, 4, 3}, sx1[1] = {2}, c[1] = {3}, c4[1] = {4};
    for (int k = 0; k < 7; k++) {
        qr_graph *g = qr_graph_new(2);
        qr_node *x = k == 5 ? qr_input(g, "x", 1, sx1) : qr_input(g, "x", 3, sx);
        qr_node *gm = qr_param(g, "gamma", 1, k == 2 ? c4 : c, 0);
        qr_node *bt = qr_param(g, "beta", 1, c, 0);
        qr_node *rm = qr_param(g, "rm", 1, c, k == 3 ? 0 : 1); /* k 3: trainable: refused */
        qr_node *rv = k == 4 ? qr_input(g, "rv", 1, sx1) : qr_param(g, "rv", 1, c, 1);
        float mom = k == 0 ? 1.5f : QR_BN_MOMENTUM, eps = k == 1 ? 0.0f : QR_BN_EPS;
        if (k == 6)
            eps = NAN;
        qr_node *y = qr_batchnorm(g, x, gm, bt, rm, rv, mom, eps);
        ck_assert_ptr_null(y);
        /* k 4: a batched (B) running_var is refused for its shape */
        qr_status want = k <= 1 || k == 3 || k == 6 ? QR_ERR_ARG : QR_ERR_SHAPE;
        ck_assert_msg(qr_graph_status(g) == want, "case %d: %d (%s)", k, qr_graph_status(g),
                      qr_graph_error(g));
        ck_assert(strstr(qr_graph_error(g), "batchnorm") != NULL);
        qr_graph_free(g);
    }
}
END_TEST

/* ---- dropout ------------------------------------------------------------------------------ */

START_TEST(test_dropout_eval_identity)
{
    for (int spatial = 0; spatial < 2; spatial++) {
        qr_graph *g = qr_graph_new(2);
        size_t sx[3] = {2, 5, 3};
        qr_node *x = qr_input(g, "x", 3, sx);
        qr_node_set_requires_grad(x, 1);
        qr_node *y = spatial ? qr_spatial_dropout(g, x, 0.5f) : qr_dropout(g, x, 0.5f);
        qr_node *loss = seq_loss(g, y, 800);
        fill(x, -1, 1, 801);
        qr_rng before = *qr_graph_rng(g);
        qr_graph_forward(g, NULL);
        ck_assert_int_eq(memcmp(qr_node_data(y), qr_node_data(x), 30 * sizeof(float)), 0);
        /* no random draw in eval mode */
        ck_assert_int_eq(memcmp(&before, qr_graph_rng(g), sizeof before), 0);
        tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
        /* rate 0 in training mode is the identity too */
        qr_graph_free(g);
        g = qr_graph_new(2);
        x = qr_input(g, "x", 3, sx);
        y = spatial ? qr_spatial_dropout(g, x, 0.0f) : qr_dropout(g, x, 0.0f);
        ck_assert_int_eq(qr_graph_compile(g), QR_OK);
        qr_graph_set_training(g, 1);
        fill(x, -1, 1, 802);
        qr_graph_forward(g, NULL);
        ck_assert_int_eq(memcmp(qr_node_data(y), qr_node_data(x), 30 * sizeof(float)), 0);
        qr_graph_free(g);
    }
}
END_TEST

/* Element dropout on ones: every output is 0 or 1/(1-p), about p of them 0, mean about 1. */
START_TEST(test_dropout_train_statistics)
{
    const float rates[3] = {0.1f, 0.3f, 0.7f};
    for (int ri = 0; ri < 3; ri++) {
        float p = rates[ri];
        qr_graph *g = qr_graph_new(8);
        size_t sx[3] = {8, 250, 10};
        qr_node *x = qr_input(g, "x", 3, sx);
        qr_node *y = qr_dropout(g, x, p);
        ck_assert_int_eq(qr_graph_compile(g), QR_OK);
        qr_rng_seed(qr_graph_rng(g), 900 + (uint64_t)ri);
        qr_graph_set_training(g, 1);
        size_t n = qr_node_size(x);
        for (size_t i = 0; i < n; i++)
            qr_node_data(x)[i] = 1.0f;
        qr_graph_forward(g, NULL);
        size_t zeros = 0;
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            float v = qr_node_data(y)[i];
            ck_assert(v == 0.0f || v == 1.0f / (1.0f - p));
            zeros += v == 0.0f;
            sum += v;
        }
        /* n = 20000: the standard error of the zero share is < 0.0033 */
        ck_assert_double_eq_tol((double)zeros / (double)n, p, 0.02);
        ck_assert_double_eq_tol(sum / (double)n, 1.0, 0.05);
        /* the next forward draws a new mask */
        float *first = malloc(n * sizeof *first);
        ck_assert_ptr_nonnull(first);
        memcpy(first, qr_node_data(y), n * sizeof *first);
        qr_graph_forward(g, NULL);
        ck_assert_int_ne(memcmp(first, qr_node_data(y), n * sizeof *first), 0);
        free(first);
        qr_graph_free(g);
    }
}
END_TEST

/* Spatial dropout: per (sample, channel) all T steps dropped or all kept and scaled. */
START_TEST(test_spatial_dropout_pattern)
{
    const float p = 0.4f;
    qr_graph *g = qr_graph_new(8);
    size_t sx[3] = {8, 7, 64};
    qr_node *x = qr_input(g, "x", 3, sx);
    qr_node *y = qr_spatial_dropout(g, x, p);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    qr_rng_seed(qr_graph_rng(g), 950);
    qr_graph_set_training(g, 1);
    fill(x, 0.5f, 1.5f, 951); /* no zeros in x: a zero in y is a drop */
    qr_graph_forward(g, NULL);
    size_t dropped = 0;
    const float *xv = qr_node_data(x), *yv = qr_node_data(y);
    for (size_t b = 0; b < 8; b++)
        for (size_t c = 0; c < 64; c++) {
            int off = yv[(b * 7) * 64 + c] == 0.0f;
            dropped += (size_t)off;
            for (size_t t = 0; t < 7; t++) {
                size_t i = (b * 7 + t) * 64 + c;
                if (off)
                    ck_assert_float_eq(yv[i], 0.0f);
                else
                    ck_assert_float_eq(yv[i], xv[i] * (1.0f / (1.0f - p)));
            }
        }
    /* 512 channels: standard error of the share is 0.022 */
    ck_assert_double_eq_tol((double)dropped / 512.0, p, 0.09);
    /* different samples get different masks */
    ck_assert_int_ne(memcmp(yv, yv + 7 * 64, 64 * sizeof(float)), 0);
    /* mean-preserving on average: Σ y ≈ Σ x */
    double sx_ = 0, sy = 0;
    for (size_t i = 0; i < qr_node_size(x); i++) {
        sx_ += xv[i];
        sy += yv[i];
    }
    ck_assert_double_eq_tol(sy / sx_, 1.0, 0.15);
    qr_graph_free(g);
}
END_TEST

/* _i: {dropout, spatial} — gradients in training mode follow the mask (the checker replays
 * the random stream, so every evaluation sees the same mask). */
START_TEST(test_dropout_grad)
{
    int spatial = _i;
    qr_graph *g = qr_graph_new(3);
    size_t sx[3] = {3, 4, 5};
    qr_node *x = qr_input(g, "x", 3, sx);
    qr_node_set_requires_grad(x, 1);
    qr_node *y = spatial ? qr_spatial_dropout(g, x, 0.5f) : qr_dropout(g, x, 0.5f);
    qr_node *loss = seq_loss(g, qr_tanh(g, y), 1000);
    qr_graph_set_training(g, 1);
    qr_rng_seed(qr_graph_rng(g), 1001);
    fill(x, -1, 1, 1002);
    tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
    /* dropped entries get exactly no gradient */
    qr_graph_zero_grad(g);
    qr_graph_forward(g, NULL);
    qr_graph_backward(g, loss);
    size_t zeros = 0;
    for (size_t i = 0; i < qr_node_size(x); i++)
        if (qr_node_data(y)[i] == 0.0f) {
            ck_assert_float_eq(qr_node_grad(x)[i], 0.0f);
            zeros++;
        }
    ck_assert_uint_gt(zeros, 0);
    ck_assert_int_eq(qr_graph_set_batch(g, 2), QR_OK);
    tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_dropout_errors)
{
    const float bad[4] = {1.0f, -0.1f, 1.5f, NAN};
    size_t sx[3] = {2, 3, 4}, sx2[2] = {2, 3};
    for (int i = 0; i < 4; i++)
        for (int spatial = 0; spatial < 2; spatial++) {
            qr_graph *g = qr_graph_new(2);
            qr_node *x = qr_input(g, "x", 3, sx);
            qr_node *y = spatial ? qr_spatial_dropout(g, x, bad[i]) : qr_dropout(g, x, bad[i]);
            ck_assert_ptr_null(y);
            ck_assert_int_eq(qr_graph_status(g), QR_ERR_ARG);
            ck_assert(strstr(qr_graph_error(g), "dropout") != NULL);
            qr_graph_free(g);
        }
    qr_graph *g = qr_graph_new(2);
    qr_node *x = qr_input(g, "x", 2, sx2);
    ck_assert_ptr_nonnull(qr_dropout(g, x, 0.5f)); /* any shape */
    ck_assert_ptr_null(qr_spatial_dropout(g, x, 0.5f));
    ck_assert_int_eq(qr_graph_status(g), QR_ERR_SHAPE);
    qr_graph_free(g);
}
END_TEST

/* ---- gap1d, maxpool1d, flatten ---------------------------------------------------------- */

START_TEST(test_gap1d)
{
    qr_graph *g = qr_graph_new(3);
    size_t sx[3] = {3, 5, 4};
    qr_node *x = qr_input(g, "x", 3, sx);
    qr_node_set_requires_grad(x, 1);
    qr_node *y = qr_gap1d(g, x);
    qr_node *loss = seq_loss(g, y, 1100);
    ck_assert_uint_eq(qr_node_ndim(y), 2);
    ck_assert_uint_eq(qr_node_dim(y, 1), 4);
    fill(x, -1, 1, 1101);
    qr_graph_forward(g, NULL);
    for (size_t b = 0; b < 3; b++)
        for (size_t c = 0; c < 4; c++) {
            double s = 0;
            for (size_t t = 0; t < 5; t++)
                s += qr_node_data(x)[(b * 5 + t) * 4 + c];
            ck_assert_double_eq_tol(qr_node_data(y)[b * 4 + c], s / 5, 1e-6);
        }
    tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
    ck_assert_int_eq(qr_graph_set_batch(g, 1), QR_OK);
    ck_assert_uint_eq(qr_node_size(y), 4);
    tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
    qr_graph_free(g);
    g = qr_graph_new(3);
    size_t s2[2] = {3, 5};
    ck_assert_ptr_null(qr_gap1d(g, qr_input(g, "x", 2, s2)));
    ck_assert_int_eq(qr_graph_status(g), QR_ERR_SHAPE);
    qr_graph_free(g);
}
END_TEST

static void naive_maxpool(float *y, const float *x, size_t B, size_t T, size_t C, size_t pool,
                          size_t stride, size_t t_out)
{
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < t_out; t++)
            for (size_t c = 0; c < C; c++) {
                float m = -INFINITY;
                for (size_t j = 0; j < pool; j++)
                    m = fmaxf(m, x[(b * T + t * stride + j) * C + c]);
                y[(b * t_out + t) * C + c] = m;
            }
}

START_TEST(test_maxpool1d_forward_and_grad)
{
    static const int cfg[][3] = {/* pool, stride, expected T_out for T = 9 */
                                 {2, 0, 4}, {2, 2, 4}, {3, 1, 7}, {3, 2, 4},
                                 {4, 3, 2}, {1, 1, 9}, {9, 1, 1}, {2, 5, 2}};
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        qr_graph *g = qr_graph_new(2);
        size_t sx[3] = {2, 9, 3};
        qr_node *x = qr_input(g, "x", 3, sx);
        qr_node_set_requires_grad(x, 1);
        qr_node *y = qr_maxpool1d(g, x, cfg[k][0], cfg[k][1]);
        qr_node *loss = seq_loss(g, y, 1200 + (unsigned)k);
        size_t t_out = (size_t)cfg[k][2];
        ck_assert_uint_eq(qr_node_dim(y, 1), t_out);
        /* distinct values 0.1 apart in random order: no max flips under the ±EPS step */
        size_t n = qr_node_size(x);
        size_t *perm = malloc(n * sizeof *perm);
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        qr_rng r;
        qr_rng_seed(&r, 1300 + k);
        qr_rng_shuffle(&r, perm, n);
        for (size_t i = 0; i < n; i++)
            qr_node_data(x)[i] = 0.1f * (float)perm[i] - 2.0f;
        free(perm);
        qr_graph_forward(g, NULL);
        float want[2 * 9 * 3];
        size_t stride = cfg[k][1] ? (size_t)cfg[k][1] : (size_t)cfg[k][0];
        naive_maxpool(want, qr_node_data(x), 2, 9, 3, (size_t)cfg[k][0], stride, t_out);
        for (size_t i = 0; i < 2 * t_out * 3; i++)
            ck_assert_float_eq(qr_node_data(y)[i], want[i]);
        tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
        ck_assert_int_eq(qr_graph_set_batch(g, 1), QR_OK);
        tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
        qr_graph_free(g);
    }
}
END_TEST

/* Ties: the first maximum of a window gets the whole gradient. */
START_TEST(test_maxpool1d_ties)
{
    qr_graph *g = qr_graph_new(1);
    size_t sx[3] = {1, 6, 1};
    qr_node *x = qr_input(g, "x", 3, sx);
    qr_node_set_requires_grad(x, 1);
    qr_node *y = qr_maxpool1d(g, x, 3, 3);
    qr_node *loss = qr_sum(g, y, -1);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    const float xv[6] = {1, 5, 5, 2, 2, 2};
    memcpy(qr_node_data(x), xv, sizeof xv);
    qr_graph_zero_grad(g);
    qr_graph_forward(g, NULL);
    qr_graph_backward(g, loss);
    ck_assert_float_eq(qr_node_data(y)[0], 5);
    ck_assert_float_eq(qr_node_data(y)[1], 2);
    const float want[6] = {0, 1, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(qr_node_grad(x)[i], want[i]);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_maxpool1d_errors)
{
    static const int bad[][3] = {/* pool, stride, status */
                                 {0, 1, QR_ERR_ARG}, {2, -1, QR_ERR_ARG}, {-3, 0, QR_ERR_ARG},
                                 {6, 1, QR_ERR_SHAPE}};
    size_t sx[3] = {2, 5, 3}, sx2[2] = {2, 5};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        qr_graph *g = qr_graph_new(2);
        qr_node *x = qr_input(g, "x", 3, sx);
        ck_assert_ptr_null(qr_maxpool1d(g, x, bad[k][0], bad[k][1]));
        ck_assert_int_eq(qr_graph_status(g), bad[k][2]);
        ck_assert(strstr(qr_graph_error(g), "maxpool1d") != NULL);
        qr_graph_free(g);
    }
    qr_graph *g = qr_graph_new(2);
    ck_assert_ptr_null(qr_maxpool1d(g, qr_input(g, "x", 2, sx2), 2, 2));
    ck_assert_int_eq(qr_graph_status(g), QR_ERR_SHAPE);
    qr_graph_free(g);
}
END_TEST

START_TEST(test_flatten)
{
    qr_graph *g = qr_graph_new(3);
    size_t sx[3] = {3, 4, 5}, sv[1] = {3};
    qr_node *x = qr_input(g, "x", 3, sx);
    qr_node_set_requires_grad(x, 1);
    qr_node *f = qr_flatten(g, x);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(qr_node_ndim(f), 2);
    ck_assert_uint_eq(qr_node_dim(f, 0), 3);
    ck_assert_uint_eq(qr_node_dim(f, 1), 20);
    qr_node *v = qr_flatten(g, qr_input(g, "v", 1, sv));
    ck_assert_uint_eq(qr_node_dim(v, 1), 1);
    qr_node *loss = seq_loss(g, qr_tanh(g, f), 1400);
    fill(x, -1, 1, 1401);
    qr_graph_forward(g, NULL);
    ck_assert_ptr_eq(qr_node_data(f), qr_node_data(x)); /* a view */
    tl_check_grad(g, loss, x, EPS, ATOL, RTOL);
    ck_assert_int_eq(qr_graph_set_batch(g, 2), QR_OK);
    ck_assert_uint_eq(qr_node_dim(f, 0), 2);
    ck_assert_uint_eq(qr_node_dim(f, 1), 20);
    qr_graph_free(g);
    ck_assert_ptr_null(qr_flatten(NULL, NULL));
    g = qr_graph_new(1);
    ck_assert_ptr_null(qr_flatten(g, NULL));
    ck_assert_int_ne(qr_graph_status(g), QR_OK);
    qr_graph_free(g);
}
END_TEST

/* ---- the CGRU front end in one graph -------------------------------------------------- */

/* Conv1D -> BatchNorm -> tanh -> SpatialDropout -> GAP -> Dropout -> Dense -> softmax CE, in
 * training mode: every parameter's gradient checks through the whole chain. (tanh rather
 * than relu, and no max pooling, keep kinks away from the finite differences.) */
START_TEST(test_seq_chain_grad)
{
    const size_t B = 4, T = 10, F = 3, C = 4, K = 3, NC = 3;
    qr_graph *g = qr_graph_new(B);
    size_t sx[3] = {B, T, F}, sy[1] = {B}, sw[3] = {K, F, C}, sc[1] = {C}, sd[2] = {C, NC},
           snc[1] = {NC};
    qr_node *x = qr_input(g, "x", 3, sx);
    qr_node *lab = qr_input(g, "labels", 1, sy);
    qr_node *w = qr_param(g, "conv_w", 3, sw, 0);
    qr_node *cb = qr_param(g, "conv_b", 1, sc, 0);
    qr_node *gm = qr_param(g, "bn_gamma", 1, sc, 0);
    qr_node *bt = qr_param(g, "bn_beta", 1, sc, 0);
    qr_node *rm = qr_param(g, "bn_mean", 1, sc, 1);
    qr_node *rv = qr_param(g, "bn_var", 1, sc, 1);
    qr_node *dw = qr_param(g, "dense_w", 2, sd, 0);
    qr_node *db = qr_param(g, "dense_b", 1, snc, 0);
    qr_node *h = qr_conv1d(g, x, w, cb, 1, 1, QR_PAD_SAME);
    h = qr_batchnorm(g, h, gm, bt, rm, rv, QR_BN_MOMENTUM, QR_BN_EPS);
    h = qr_spatial_dropout(g, qr_tanh(g, h), 0.25f);
    h = qr_dropout(g, qr_gap1d(g, h), 0.25f);
    qr_node *loss = qr_softmax_ce(g, qr_add(g, qr_matmul(g, h, dw), db), lab);
    ck_assert_msg(loss != NULL, "%s", qr_graph_error(g));
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    fill(x, -1, 1, 1500);
    fill(w, -1, 1, 1501);
    fill(cb, -0.5f, 0.5f, 1502);
    fill(gm, 0.5f, 1.5f, 1503);
    fill(bt, -0.5f, 0.5f, 1504);
    fill(dw, -1, 1, 1505);
    fill(db, -0.5f, 0.5f, 1506);
    for (size_t i = 0; i < C; i++)
        qr_node_data(rv)[i] = 1.0f;
    for (size_t i = 0; i < B; i++)
        qr_node_data(lab)[i] = (float)(i % NC);
    qr_graph_set_training(g, 1);
    qr_rng_seed(qr_graph_rng(g), 1507);
    qr_node *params[6] = {w, cb, gm, bt, dw, db};
    for (int i = 0; i < 6; i++)
        tl_check_grad(g, loss, params[i], EPS, ATOL, RTOL);
    /* eval mode: deterministic, the same value twice */
    qr_graph_set_training(g, 0);
    qr_graph_forward(g, NULL);
    float l0 = qr_node_data(loss)[0];
    qr_graph_forward(g, NULL);
    ck_assert_float_eq(qr_node_data(loss)[0], l0);
    tl_check_grad(g, loss, w, EPS, ATOL, RTOL);
    qr_graph_free(g);
}
END_TEST

Suite *qr_suite_seq_ops(void)
{
    Suite *s = suite_create("seq_ops");
    TCase *tc = tcase_create("conv1d");
    tcase_add_test(tc, test_conv1d_forward_naive);
    tcase_add_test(tc, test_conv1d_padding_by_hand);
    tcase_add_loop_test(tc, test_conv1d_grad, 0, 2 * (int)N_GRAD_CASES);
    tcase_add_test(tc, test_conv1d_keep_equals_recompute);
    tcase_add_test(tc, test_conv1d_set_batch);
    tcase_add_test(tc, test_conv1d_errors);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("batchnorm");
    tcase_add_test(tb, test_batchnorm_forward_and_running_stats);
    tcase_add_test(tb, test_batchnorm_momentum_extremes);
    tcase_add_loop_test(tb, test_batchnorm_grad, 0, 4);
    tcase_add_test(tb, test_batchnorm_train_grad_sums_to_zero);
    tcase_add_test(tb, test_batchnorm_errors);
    suite_add_tcase(s, tb);
    TCase *td = tcase_create("dropout");
    tcase_add_test(td, test_dropout_eval_identity);
    tcase_add_test(td, test_dropout_train_statistics);
    tcase_add_test(td, test_spatial_dropout_pattern);
    tcase_add_loop_test(td, test_dropout_grad, 0, 2);
    tcase_add_test(td, test_dropout_errors);
    suite_add_tcase(s, td);
    TCase *tp = tcase_create("pool");
    tcase_add_test(tp, test_gap1d);
    tcase_add_test(tp, test_maxpool1d_forward_and_grad);
    tcase_add_test(tp, test_maxpool1d_ties);
    tcase_add_test(tp, test_maxpool1d_errors);
    tcase_add_test(tp, test_flatten);
    tcase_add_test(tp, test_seq_chain_grad);
    suite_add_tcase(s, tp);
    return s;
}
