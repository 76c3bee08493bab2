/* The fused GRU: forward against a double-precision scalar reference, outputs and every
 * gradient against the same GRU unrolled from primitive ops (the autograd proves the fused
 * backward), finite-difference checks, batch changes after compile, streaming through h0,
 * and shape errors. Dimensions: B batch, T steps, F features, H units; gates [z | r | n]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"

typedef struct gru_cfg {
    size_t b, t, f, h;
} gru_cfg;

/* A GRU (fused or composite) with a readout loss: loss = Σ y ⊙ R, R an input of y's shape
 * (so it follows the batch) filled with fixed random values. */
typedef struct gru_net {
    qr_graph *g;
    qr_node *x, *wi, *wh, *bi, *bh, *h0, *y, *r, *loss;
} gru_net;

/* ---- double-precision scalar reference ------------------------------------------------ */

static double ref_sigmoid(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* y: (B, H) or (B, T, H). h0 NULL: zeros. */
static void ref_gru(gru_cfg c, const float *x, const float *wi, const float *wh, const float *bi,
                    const float *bh, const float *h0, int seq, double *y)
{
    size_t H = c.h, H3 = 3 * c.h;
    double *h = malloc(H * sizeof *h), *hn = malloc(H * sizeof *hn);
    ck_assert(h && hn);
    for (size_t b = 0; b < c.b; b++) {
        for (size_t j = 0; j < H; j++)
            h[j] = h0 ? h0[b * H + j] : 0.0;
        for (size_t t = 0; t < c.t; t++) {
            const float *xt = x + (b * c.t + t) * c.f;
            for (size_t j = 0; j < H; j++) {
                double ax[3], ah[3];
                for (int q = 0; q < 3; q++) {
                    size_t col = (size_t)q * H + j;
                    ax[q] = bi[col];
                    ah[q] = bh[col];
                    for (size_t f = 0; f < c.f; f++)
                        ax[q] += (double)xt[f] * wi[f * H3 + col];
                    for (size_t k = 0; k < H; k++)
                        ah[q] += h[k] * wh[k * H3 + col];
                }
                double z = ref_sigmoid(ax[0] + ah[0]);
                double r = ref_sigmoid(ax[1] + ah[1]);
                double n = tanh(ax[2] + r * ah[2]);
                hn[j] = (1.0 - z) * n + z * h[j];
            }
            memcpy(h, hn, H * sizeof *h);
            if (seq)
                memcpy(y + (b * c.t + t) * H, h, H * sizeof *h);
        }
        if (!seq)
            memcpy(y + b * H, h, H * sizeof *h);
    }
    free(h);
    free(hn);
}

/* ---- the GRU from primitive ops ------------------------------------------------------- */

/* Concatenate any number of parts along `axis` (qr_concat takes at most 16). */
static qr_node *concat_many(qr_graph *g, int axis, size_t n, qr_node **parts)
{
    qr_node *acc = NULL;
    for (size_t i = 0; i < n;) {
        qr_node *chunk[16];
        int k = 0;
        if (acc)
            chunk[k++] = acc;
        while (k < 16 && i < n)
            chunk[k++] = parts[i++];
        acc = qr_concat(g, axis, k, chunk);
    }
    return acc;
}

/* One reset_after GRU unrolled over T; h0 must be a node (zeros if the caller has none). */
static qr_node *gru_composite(qr_graph *g, gru_cfg c, qr_node *x, qr_node *wi, qr_node *wh,
                              qr_node *bi, qr_node *bh, qr_node *h0, int seq)
{
    size_t H = c.h;
    size_t sxt[2] = {c.b, c.f}, sh3[3] = {c.b, 1, H};
    qr_node *bi_g[3], *bh_g[3];
    for (int q = 0; q < 3; q++) {
        bi_g[q] = qr_slice(g, bi, 0, (size_t)q * H, H);
        bh_g[q] = qr_slice(g, bh, 0, (size_t)q * H, H);
    }
    qr_node **steps = malloc(c.t * sizeof *steps);
    ck_assert_ptr_nonnull(steps);
    qr_node *h = h0;
    for (size_t t = 0; t < c.t; t++) {
        qr_node *xt = qr_reshape(g, qr_slice(g, x, 1, t, 1), 2, sxt);
        qr_node *gx = qr_matmul(g, xt, wi); /* (B, 3H) */
        qr_node *gh = qr_matmul(g, h, wh);
        qr_node *ax[3], *ah[3];
        for (int q = 0; q < 3; q++) {
            ax[q] = qr_add(g, qr_slice(g, gx, 1, (size_t)q * H, H), bi_g[q]);
            ah[q] = qr_add(g, qr_slice(g, gh, 1, (size_t)q * H, H), bh_g[q]);
        }
        qr_node *z = qr_sigmoid(g, qr_add(g, ax[0], ah[0]));
        qr_node *r = qr_sigmoid(g, qr_add(g, ax[1], ah[1]));
        qr_node *n = qr_tanh(g, qr_add(g, ax[2], qr_mul(g, r, ah[2])));
        /* h' = (1 - z) n + z h = n + z ⊙ (h - n) */
        h = qr_add(g, n, qr_mul(g, z, qr_sub(g, h, n)));
        steps[t] = seq ? qr_reshape(g, h, 3, sh3) : NULL;
    }
    qr_node *y = seq ? concat_many(g, 1, c.t, steps) : h;
    free(steps);
    return y;
}

/* ---- building and filling ---------------------------------------------------------------- */

static void net_build(gru_net *m, gru_cfg c, size_t max_batch, int with_h0, int seq,
                      int composite)
{
    memset(m, 0, sizeof *m);
    qr_graph *g = m->g = qr_graph_new(max_batch);
    size_t sx[3] = {max_batch, c.t, c.f}, swi[2] = {c.f, 3 * c.h}, swh[2] = {c.h, 3 * c.h};
    size_t sb[1] = {3 * c.h}, sh0[2] = {max_batch, c.h};
    m->x = qr_input(g, "x", 3, sx);
    qr_node_set_requires_grad(m->x, 1);
    m->wi = qr_param(g, "wi", 2, swi, 0);
    m->wh = qr_param(g, "wh", 2, swh, 0);
    m->bi = qr_param(g, "bi", 1, sb, 0);
    m->bh = qr_param(g, "bh", 1, sb, 0);
    if (with_h0 || composite) {
        m->h0 = qr_input(g, "h0", 2, sh0);
        qr_node_set_requires_grad(m->h0, with_h0);
    }
    if (composite)
        m->y = gru_composite(g, c, m->x, m->wi, m->wh, m->bi, m->bh, m->h0, seq);
    else
        m->y = qr_gru(g, m->x, m->wi, m->wh, m->bi, m->bh, with_h0 ? m->h0 : NULL, seq);
    size_t sy[3] = {max_batch, seq ? c.t : c.h, c.h};
    m->r = qr_input(g, "readout", seq ? 3 : 2, sy);
    m->loss = qr_sum(g, qr_mul(g, m->y, m->r), -1);
    ck_assert_msg(m->loss != NULL, "%s", qr_graph_error(g));
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
}

/* Fixed random values; the gates stay out of saturation so every path carries gradient. */
static void net_fill(gru_net *m, unsigned seed)
{
    tl_fill_uniform(qr_node_data(m->x), qr_node_size(m->x), -1.0f, 1.0f, seed);
    tl_fill_uniform(qr_node_data(m->wi), qr_node_size(m->wi), -0.6f, 0.6f, seed + 1);
    tl_fill_uniform(qr_node_data(m->wh), qr_node_size(m->wh), -0.6f, 0.6f, seed + 2);
    tl_fill_uniform(qr_node_data(m->bi), qr_node_size(m->bi), -0.3f, 0.3f, seed + 3);
    tl_fill_uniform(qr_node_data(m->bh), qr_node_size(m->bh), -0.3f, 0.3f, seed + 4);
    if (m->h0)
        tl_fill_uniform(qr_node_data(m->h0), qr_node_size(m->h0), -0.8f, 0.8f, seed + 5);
    tl_fill_uniform(qr_node_data(m->r), qr_node_size(m->r), -1.0f, 1.0f, seed + 6);
}

static void copy_node(qr_node *dst, qr_node *src)
{
    ck_assert_uint_eq(qr_node_size(dst), qr_node_size(src));
    memcpy(qr_node_data(dst), qr_node_data(src), qr_node_size(src) * sizeof(float));
}

static void net_copy_values(gru_net *dst, gru_net *src)
{
    copy_node(dst->x, src->x);
    copy_node(dst->wi, src->wi);
    copy_node(dst->wh, src->wh);
    copy_node(dst->bi, src->bi);
    copy_node(dst->bh, src->bh);
    copy_node(dst->r, src->r);
    if (dst->h0 && src->h0)
        copy_node(dst->h0, src->h0);
    else if (dst->h0)
        memset(qr_node_data(dst->h0), 0, qr_node_size(dst->h0) * sizeof(float));
}

static void net_run(gru_net *m)
{
    qr_graph_zero_grad(m->g);
    qr_graph_forward(m->g, NULL);
    qr_graph_backward(m->g, m->loss);
}

/* The comparison criterion of fused vs composite: every element satisfies
 *   |a - b| <= rtol · (|b| + max_k |b_k|),
 * i.e. rtol relative to the element, with an absolute floor of rtol times the tensor's
 * largest magnitude (an element that cancels to ~0 keeps the rounding error of its terms).
 * Returns the largest |a - b| / (|b| + max|b|). */
static double cmp_tensors(const char *what, const float *a, const float *b, size_t n, double rtol)
{
    double scale = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - (double)b[i]);
        double bound = fabs((double)b[i]) + scale;
        double e = bound > 0 ? diff / bound : diff;
        worst = fmax(worst, e);
        ck_assert_msg(diff <= rtol * bound, "%s[%zu]: fused %.9g vs composite %.9g", what, i,
                      (double)a[i], (double)b[i]);
    }
    return worst;
}

/* ---- 1. forward against the scalar reference ------------------------------------------ */

static const gru_cfg fwd_cfgs[] = {
    {1, 1, 1, 1}, {2, 5, 3, 4}, {3, 7, 2, 6}, {4, 9, 13, 17}, {8, 12, 16, 40}, {9, 3, 20, 5},
};

START_TEST(test_gru_forward_reference)
{
    for (size_t k = 0; k < sizeof fwd_cfgs / sizeof fwd_cfgs[0]; k++)
        for (int seq = 0; seq < 2; seq++)
            for (int with_h0 = 0; with_h0 < 2; with_h0++) {
                gru_cfg c = fwd_cfgs[k];
                gru_net m;
                net_build(&m, c, c.b, with_h0, seq, 0);
                net_fill(&m, 100 + (unsigned)k);
                qr_graph_forward(m.g, NULL);
                ck_assert_uint_eq(qr_node_ndim(m.y), seq ? 3 : 2);
                ck_assert_uint_eq(qr_node_dim(m.y, seq ? 2 : 1), c.h);
                size_t ny = qr_node_size(m.y);
                double *want = malloc(ny * sizeof *want);
                ck_assert_ptr_nonnull(want);
                ref_gru(c, qr_node_data(m.x), qr_node_data(m.wi), qr_node_data(m.wh),
                        qr_node_data(m.bi), qr_node_data(m.bh),
                        with_h0 ? qr_node_data(m.h0) : NULL, seq, want);
                for (size_t i = 0; i < ny; i++)
                    ck_assert_msg(fabs(qr_node_data(m.y)[i] - want[i]) <= 2e-6 + 1e-5 * fabs(want[i]),
                                  "cfg %zu seq %d h0 %d: y[%zu] = %.9g, reference %.9g", k, seq,
                                  with_h0, i, (double)qr_node_data(m.y)[i], want[i]);
                free(want);
                qr_graph_free(m.g);
            }
}
END_TEST

/* ---- 2. the autograd proves the fused GRU ---------------------------------------------- */

/* Every code path of the fused op: per-step products in loops (H <= 16), in BLAS, or in the
 * AVX-512 tiles (H > 16 and a batch of a multiple of 16: {16, 3, 5, 20} with 16-column
 * blocks, {64, 2, 18, 23} with 64-column blocks and leftover rows; BLAS on CPUs without
 * AVX-512), x regrouped feature-major (F <= 16) or row-wise, dWi as DG·XT (3H <= T·B) or
 * XTᵀ·DGᵀ ({1, 2, 20, 24}); batches around the vector width (8, 16 lanes). */
static const gru_cfg cmp_cfgs[] = {
    {1, 1, 2, 3}, {2, 5, 3, 4}, {3, 16, 8, 12}, {4, 20, 6, 40}, {19, 6, 5, 4}, {17, 4, 21, 18},
    {1, 2, 20, 24}, {16, 3, 5, 20}, {64, 2, 18, 23},
};

START_TEST(test_gru_vs_composite)
{
    const double rtol = 1e-5;
    double worst = 0.0;
    for (size_t k = 0; k < sizeof cmp_cfgs / sizeof cmp_cfgs[0]; k++)
        for (int seq = 0; seq < 2; seq++)
            for (int with_h0 = 0; with_h0 < 2; with_h0++) {
                gru_cfg c = cmp_cfgs[k];
                gru_net f, p;
                net_build(&f, c, c.b, with_h0, seq, 0);
                net_build(&p, c, c.b, with_h0, seq, 1);
                net_fill(&f, 200 + (unsigned)k);
                net_copy_values(&p, &f);
                net_run(&f);
                net_run(&p);
                size_t ny = qr_node_size(f.y);
                ck_assert_uint_eq(ny, qr_node_size(p.y));
                worst = fmax(worst, cmp_tensors("y", qr_node_data(f.y), qr_node_data(p.y), ny, rtol));
                qr_node *pairs[][2] = {{f.x, p.x}, {f.wi, p.wi}, {f.wh, p.wh},
                                       {f.bi, p.bi}, {f.bh, p.bh}, {f.h0, p.h0}};
                for (int q = 0; q < (with_h0 ? 6 : 5); q++) {
                    qr_node *a = pairs[q][0], *b = pairs[q][1];
                    ck_assert_ptr_nonnull(qr_node_grad(a));
                    worst = fmax(worst, cmp_tensors(qr_node_name(a), qr_node_grad(a),
                                                    qr_node_grad(b), qr_node_size(a), rtol));
                }
                /* parameter gradients accumulate (+=) until zero_grad */
                float g0 = qr_node_grad(f.wh)[0];
                qr_graph_forward(f.g, NULL);
                qr_graph_backward(f.g, f.loss);
                ck_assert_float_eq_tol(qr_node_grad(f.wh)[0], 2.0f * g0, 1e-6f * (1 + fabsf(g0)));
                qr_graph_free(f.g);
                qr_graph_free(p.g);
            }
    fprintf(stderr, "gru vs composite: worst |a-b|/(|b|+max|b|) = %.3g\n", worst);
}
END_TEST

/* ---- 3. finite differences --------------------------------------------------------------- */

START_TEST(test_gru_grad_fd)
{
    const gru_cfg c = {2, 4, 3, 3};
    int seq = _i & 1, with_h0 = (_i >> 1) & 1;
    gru_net m;
    net_build(&m, c, c.b, with_h0, seq, 0);
    net_fill(&m, 300 + (unsigned)_i);
    const double eps = 1e-2, atol = 1e-3, rtol = 1e-2;
    tl_check_grad(m.g, m.loss, m.x, eps, atol, rtol);
    tl_check_grad(m.g, m.loss, m.wi, eps, atol, rtol);
    tl_check_grad(m.g, m.loss, m.wh, eps, atol, rtol);
    tl_check_grad(m.g, m.loss, m.bi, eps, atol, rtol);
    tl_check_grad(m.g, m.loss, m.bh, eps, atol, rtol);
    if (with_h0)
        tl_check_grad(m.g, m.loss, m.h0, eps, atol, rtol);
    qr_graph_free(m.g);
}
END_TEST

/* ---- 4. batch changes after compile --------------------------------------------------------- */

START_TEST(test_gru_set_batch)
{
    const gru_cfg c = {5, 6, 4, 7};
    int seq = _i & 1;
    gru_net m;
    net_build(&m, c, c.b, 1, seq, 0);
    net_fill(&m, 400);
    qr_graph_forward(m.g, NULL);
    size_t ny = qr_node_size(m.y), per = ny / c.b;
    float *full = malloc(ny * sizeof *full);
    ck_assert_ptr_nonnull(full);
    memcpy(full, qr_node_data(m.y), ny * sizeof *full);

    for (size_t nb = 1; nb < c.b; nb++) {
        ck_assert_int_eq(qr_graph_set_batch(m.g, nb), QR_OK);
        ck_assert_uint_eq(qr_node_dim(m.y, 0), nb);
        net_run(&m);
        for (size_t i = 0; i < nb * per; i++)
            ck_assert_float_eq_tol(qr_node_data(m.y)[i], full[i], 1e-6f);
        /* gradients at the smaller batch equal those of a graph compiled for it */
        gru_cfg cs = c;
        cs.b = nb;
        gru_net s;
        net_build(&s, cs, nb, 1, seq, 0);
        net_copy_values(&s, &m);
        net_run(&s);
        cmp_tensors("y", qr_node_data(m.y), qr_node_data(s.y), nb * per, 1e-6);
        qr_node *pairs[][2] = {{m.x, s.x}, {m.wi, s.wi}, {m.wh, s.wh},
                               {m.bi, s.bi}, {m.bh, s.bh}, {m.h0, s.h0}};
        for (int q = 0; q < 6; q++)
            cmp_tensors(qr_node_name(pairs[q][0]), qr_node_grad(pairs[q][0]),
                        qr_node_grad(pairs[q][1]), qr_node_size(pairs[q][1]), 1e-6);
        qr_graph_free(s.g);
    }
    /* and back up to the full batch */
    ck_assert_int_eq(qr_graph_set_batch(m.g, c.b), QR_OK);
    qr_graph_forward(m.g, NULL);
    for (size_t i = 0; i < ny; i++)
        ck_assert_float_eq_tol(qr_node_data(m.y)[i], full[i], 1e-6f);
    free(full);
    qr_graph_free(m.g);
}
END_TEST

/* ---- streaming: chunks chained through h0 equal one run ----------------------------------- */

START_TEST(test_gru_streaming)
{
    const gru_cfg whole = {3, 12, 4, 6}, chunk = {3, 4, 4, 6};
    gru_net a, s;
    net_build(&a, whole, whole.b, 0, 0, 0);
    net_fill(&a, 500);
    qr_graph_forward(a.g, NULL);
    net_build(&s, chunk, chunk.b, 1, 0, 0);
    copy_node(s.wi, a.wi);
    copy_node(s.wh, a.wh);
    copy_node(s.bi, a.bi);
    copy_node(s.bh, a.bh);
    memset(qr_node_data(s.h0), 0, qr_node_size(s.h0) * sizeof(float));
    size_t nck = whole.t / chunk.t, F = whole.f;
    for (size_t k = 0; k < nck; k++) {
        for (size_t b = 0; b < whole.b; b++)
            memcpy(qr_node_data(s.x) + b * chunk.t * F,
                   qr_node_data(a.x) + (b * whole.t + k * chunk.t) * F,
                   chunk.t * F * sizeof(float));
        qr_graph_forward(s.g, NULL);
        copy_node(s.h0, s.y); /* the carried state */
    }
    for (size_t i = 0; i < qr_node_size(a.y); i++)
        ck_assert_float_eq_tol(qr_node_data(s.y)[i], qr_node_data(a.y)[i], 1e-6f);
    qr_graph_free(a.g);
    qr_graph_free(s.g);
}
END_TEST

/* ---- shape errors ---------------------------------------------------------------------------- */

START_TEST(test_gru_shape_errors)
{
    /* _i: 0 wi rows != F, 1 wi cols != 3H, 2 wh not (H, 3H), 3 bi length, 4 bh length,
     * 5 h0 width, 6 x not 3-D */
    qr_graph *g = qr_graph_new(2);
    size_t F = 3, H = 4;
    size_t sx[3] = {2, 5, F}, sx2[2] = {2, F};
    size_t swi[2] = {_i == 0 ? F + 1 : F, _i == 1 ? 3 * H + 1 : 3 * H};
    size_t swh[2] = {H, _i == 2 ? 3 * H + 3 : 3 * H};
    size_t sbi[1] = {_i == 3 ? 3 * H - 1 : 3 * H}, sbh[1] = {_i == 4 ? H : 3 * H};
    size_t sh0[2] = {2, _i == 5 ? H + 1 : H};
    qr_node *x = _i == 6 ? qr_input(g, "x", 2, sx2) : qr_input(g, "x", 3, sx);
    qr_node *wi = qr_param(g, "wi", 2, swi, 0), *wh = qr_param(g, "wh", 2, swh, 0);
    qr_node *bi = qr_param(g, "bi", 1, sbi, 0), *bh = qr_param(g, "bh", 1, sbh, 0);
    qr_node *h0 = qr_input(g, "h0", 2, sh0);
    ck_assert_int_eq(qr_graph_status(g), QR_OK);
    ck_assert_ptr_null(qr_gru(g, x, wi, wh, bi, bh, h0, 0));
    ck_assert_int_eq(qr_graph_status(g), QR_ERR_SHAPE);
    qr_graph_free(g);
    /* and the correct shapes build, with either output */
    g = qr_graph_new(2);
    x = qr_input(g, "x", 3, sx);
    size_t okwi[2] = {F, 3 * H}, okwh[2] = {H, 3 * H}, okb[1] = {3 * H}, okh0[2] = {2, H};
    wi = qr_param(g, "wi", 2, okwi, 0);
    wh = qr_param(g, "wh", 2, okwh, 0);
    bi = qr_param(g, "bi", 1, okb, 0);
    bh = qr_param(g, "bh", 1, okb, 0);
    h0 = qr_input(g, "h0", 2, okh0);
    qr_node *y1 = qr_gru(g, x, wi, wh, bi, bh, h0, 0);
    qr_node *y2 = qr_gru(g, x, wi, wh, bi, bh, NULL, 1);
    ck_assert_msg(y1 && y2, "%s", qr_graph_error(g));
    ck_assert_int_eq(qr_node_op(y1), QR_OP_GRU);
    ck_assert_str_eq(qr_op_name(QR_OP_GRU), "gru");
    ck_assert_uint_eq(qr_node_ndim(y1), 2);
    ck_assert_uint_eq(qr_node_dim(y1, 1), H);
    ck_assert_uint_eq(qr_node_ndim(y2), 3);
    ck_assert_uint_eq(qr_node_dim(y2, 1), 5);
    ck_assert_int_eq(qr_graph_compile(g), QR_OK);
    qr_graph_free(g);
}
END_TEST

Suite *qr_suite_gru(void)
{
    Suite *s = suite_create("gru");
    TCase *tc = tcase_create("gru");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_gru_forward_reference);
    tcase_add_test(tc, test_gru_vs_composite);
    tcase_add_loop_test(tc, test_gru_grad_fd, 0, 4);
    tcase_add_loop_test(tc, test_gru_set_batch, 0, 2);
    tcase_add_test(tc, test_gru_streaming);
    tcase_add_loop_test(tc, test_gru_shape_errors, 0, 7);
    suite_add_tcase(s, tc);
    return s;
}
