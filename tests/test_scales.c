/* Grid scales per output channel and the λ normalized across widths (docs/method.md §6, §3.1):
 * the per-channel penalty against the per-element definition and finite differences, the
 * documented maximal slopes, the normalized penalty's values and gradients, the config keys
 * (granularity matrix / channel / auto, lambda_norm) and their errors, the scales' fit, fake
 * quantization and STE per channel, the stored form, and a 2-bit batch-norm-fed convolution
 * that no longer rounds mostly to 0; the STE's edge (ste_clip); LSQ scales (their
 * gradient against finite differences, the SGD step, config and stored form); the mixed-precision search's choice under a budget. The
 * integer export of such models is in test_export.c. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <cjson/cJSON.h>

#include "qreg/model.h"
#include "qreg/quant.h"
#include "qreg/train.h"
#include "testlib.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct { qr_reg_kind k; int bits; } regcase;
static const regcase cases[] = {
    {QR_REG_R1, 1},  {QR_REG_R1SQ, 1}, {QR_REG_REG1A, 1}, {QR_REG_REG1B, 1}, {QR_REG_REG1C, 1},
    {QR_REG_COS, 2}, {QR_REG_COS, 3},  {QR_REG_COS, 4},   {QR_REG_COS, 8},
};
#define NCASES (sizeof cases / sizeof cases[0])

static int near_kink(qr_reg_kind k, double x, double h)
{
    switch (k) {
    case QR_REG_R1: return fabs(x) < h || fabs(fabs(x) - 1) < h;
    case QR_REG_R1SQ: return fabs(x) < h;
    case QR_REG_REG1B: return fabs(fabs(x) - 1) < h;
    default: return 0;
    }
}

/* bts: conv1d(6, k5) → BN → ReLU → spatial dropout → GRU(5) → dropout → dense(2), input 40×3 */
static const char *bts_layers =
    "[{\"type\": \"conv1d\", \"filters\": 6, \"kernel_size\": 5},"
    " {\"type\": \"batchnorm\"}, {\"type\": \"relu\"},"
    " {\"type\": \"spatial_dropout1d\", \"rate\": 0.1}, {\"type\": \"gru\", \"units\": 5},"
    " {\"type\": \"dropout\", \"rate\": 0.2}, {\"type\": \"dense\", \"units\": 2}]";

static void bts_spec(qr_model_spec *spec)
{
    cJSON *j = cJSON_Parse(bts_layers);
    memset(spec, 0, sizeof *spec);
    qr_error err = {{0}};
    ck_assert_int_eq(qr_model_spec_parse(spec, j, "model.json", &err), QR_OK);
    cJSON_Delete(j);
    spec->t = 40;
    spec->f = 3;
    spec->n_classes = 2;
}

static qr_status parse_plan(qr_quant_plan *p, const char *json, const qr_model_spec *spec,
                            qr_error *err)
{
    cJSON *j = cJSON_Parse(json);
    ck_assert_msg(j != NULL, "test JSON does not parse: %s", json);
    ck_assert_int_eq(qr_quant_plan_init(p, spec), QR_OK);
    qr_status s = qr_quant_plan_parse(p, j, spec, 10, "cfg.json", err);
    cJSON_Delete(j);
    if (s != QR_OK)
        qr_quant_plan_free(p);
    return s;
}

static void parse_ok(qr_quant_plan *p, const char *json, const qr_model_spec *spec)
{
    qr_error err = {{0}};
    ck_assert_msg(parse_plan(p, json, spec, &err) == QR_OK, "%s: %s", json, err.msg);
}

/* The model's parameters filled with uniform values in [lo, hi). */
static qr_model *bts_model(const qr_model_spec *spec, float lo, float hi)
{
    qr_model *m = NULL;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_model_new(spec, 4, 7, &m, &err), QR_OK);
    qr_graph *g = qr_model_graph(m);
    for (size_t i = 0; i < qr_graph_n_param_nodes(g); i++) {
        qr_node *p = qr_graph_param_node(g, i);
        tl_fill_uniform(qr_node_data(p), qr_node_size(p), lo, hi, 100 + (unsigned)i);
    }
    return m;
}

static qr_node *node(qr_model *m, const char *name)
{
    qr_node *n = qr_graph_find(qr_model_graph(m), name);
    ck_assert_ptr_nonnull(n);
    return n;
}

/* ---- the per-channel penalty ----------------------------------------------------------- */

/* Σ Reg(w_i/α_c) and g_i += coef·Reg'(w_i/α_c)/α_c, element i in channel i mod C: against
 * the double definitions, central differences of the returned value, and (all α equal) the
 * per-matrix function. */
START_TEST(test_channel_apply)
{
    enum { C = 5, N = 7 * C };
    float w[N], g[N], g2[N], alpha[C] = {0.3f, 0.7f, 1.0f, 1.4f, 2.2f};
    tl_fill_uniform(w, N, -3.0f, 3.0f, 11);
    const float coef = 0.37f;
    for (size_t c = 0; c < NCASES; c++) {
        qr_reg_kind k = cases[c].k;
        int bits = cases[c].bits;
        double scale = k == QR_REG_COS ? qr_reg_levels(bits) : 1.0;
        for (int i = 0; i < N; i++)
            g[i] = 0.25f;
        double sum = qr_reg_apply_channels(k, bits, w, N, alpha, C, coef, g), want = 0;
        for (int i = 0; i < N; i++) {
            double a = alpha[i % C], x = (double)w[i] / a;
            want += qr_reg_value(k, bits, x);
            double dg = 0.25 + coef * qr_reg_deriv(k, bits, x) / a;
            if (!near_kink(k, x, 1e-5))
                ck_assert_msg(fabs(g[i] - dg) <= 2e-5 * scale * (1 + fabs(dg)),
                              "%s/%d g[%d]: %g, want %g", qr_reg_name(k), bits, i, g[i], dg);
            /* central differences of the value with respect to w_i */
            const float h = 1e-3f / (float)scale;
            if (near_kink(k, x, 4.0 * h / a))
                continue;
            float keep = w[i];
            w[i] = keep + h;
            double pp = qr_reg_apply_channels(k, bits, w, N, alpha, C, 0.0f, NULL);
            w[i] = keep - h;
            double pm = qr_reg_apply_channels(k, bits, w, N, alpha, C, 0.0f, NULL);
            w[i] = keep;
            double num = (pp - pm) / ((double)(keep + h) - (double)(keep - h));
            double an = qr_reg_deriv(k, bits, x) / a;
            ck_assert_msg(fabs(num - an) <= 2e-3 * scale * scale * (1 + fabs(an)),
                          "%s/%d fd at w[%d] = %g (α %g): analytic %g, numeric %g",
                          qr_reg_name(k), bits, i, (double)keep, a, an, num);
        }
        ck_assert_double_eq_tol(sum, want, 1e-4 * (1 + fabs(want)) * scale);
        /* one scale for every channel: exactly the per-matrix gradient */
        float same[C];
        for (int i = 0; i < C; i++)
            same[i] = 0.7f;
        for (int i = 0; i < N; i++)
            g[i] = g2[i] = 0.5f;
        double s1 = qr_reg_apply_channels(k, bits, w, N, same, C, coef, g);
        double s2 = qr_reg_apply_scaled(k, bits, w, N, 0.7f, coef, g2);
        ck_assert_mem_eq(g, g2, sizeof g);
        ck_assert_double_eq_tol(s1, s2, 1e-12 * (1 + fabs(s2)));
    }
}
END_TEST

/* ---- λ normalized by the largest slope ------------------------------------------------- */

/* The documented constants, and that each is the largest |Reg'| over |w| ≤ 1. */
START_TEST(test_max_slope)
{
    ck_assert_double_eq(qr_reg_max_slope(QR_REG_R1, 1), 1.0);
    ck_assert_double_eq(qr_reg_max_slope(QR_REG_R1SQ, 1), 2.0);
    ck_assert_double_eq_tol(qr_reg_max_slope(QR_REG_REG1A, 1), 1.5396007178390020, 1e-15);
    ck_assert_double_eq(qr_reg_max_slope(QR_REG_REG1B, 1), 2.0);
    ck_assert_double_eq_tol(qr_reg_max_slope(QR_REG_REG1C, 1), M_PI, 1e-15);
    ck_assert_double_eq_tol(qr_reg_max_slope(QR_REG_COS, 2), 2 * M_PI, 1e-14);
    ck_assert_double_eq_tol(qr_reg_max_slope(QR_REG_COS, 4), 14 * M_PI, 1e-13);
    ck_assert_double_eq_tol(qr_reg_max_slope(QR_REG_COS, 8), 254 * M_PI, 1e-12);
    for (size_t c = 0; c < NCASES; c++) {
        qr_reg_kind k = cases[c].k;
        int bits = cases[c].bits;
        double d = qr_reg_max_slope(k, bits), mx = 0;
        for (long i = 0; i <= 400000; i++) {
            double w = -1.0 + i * 5e-6;
            double s = fabs(qr_reg_deriv(k, bits, w));
            mx = s > mx ? s : mx;
        }
        ck_assert_msg(mx <= d * (1 + 1e-9) && mx >= d * (1 - 1e-3),
                      "%s/%d: max |Reg'| on [-1, 1] %.9g, documented %.9g", qr_reg_name(k), bits,
                      mx, d);
    }
}
END_TEST

/* "lambda_norm": "slope": penalty λ·S/D·Σ Reg(w) and gradient λ·S/D·Reg'(w) with D of
 * test_max_slope, at 1, 2, 4 and 8 bits; so the largest pull on a weight is λ·S at every
 * width. With "mean" the coefficient is also divided by the entry count. */
START_TEST(test_lambda_norm_penalty)
{
    qr_model_spec spec;
    bts_spec(&spec);
    static const struct { int bits; const char *reg; double d; } widths[] = {
        {1, "reg1c", M_PI}, {1, "r1", 1.0}, {1, "reg1a", 1.5396007178390020},
        {2, "cos", 2 * M_PI}, {4, "cos", 14 * M_PI}, {8, "cos", 254 * M_PI},
    };
    for (size_t b = 0; b < sizeof widths / sizeof widths[0]; b++) {
        for (int mean = 0; mean < 2; mean++) {
            char json[512];
            snprintf(json, sizeof json,
                     "{\"lambda\": 0.02, \"lambda_norm\": \"slope\", \"reduction\": \"%s\","
                     " \"schedule\": {\"name\": \"linear\"}, \"matrices\": [{\"layer\": \"conv1d\","
                     " \"bits\": %d, \"regularizer\": \"%s\"}]}",
                     mean ? "mean" : "sum", widths[b].bits, widths[b].reg);
            qr_quant_plan p;
            parse_ok(&p, json, &spec);
            ck_assert_int_eq(p.m[0].lambda_norm, QR_LAMBDA_NORM_SLOPE);
            qr_model *m = bts_model(&spec, -1.3f, 1.3f);
            qr_node *n = node(m, "conv1d_1/kernel");
            size_t cnt = qr_node_size(n);
            qr_graph_zero_grad(qr_model_graph(m));
            /* t = 4 of T = 10 on the linear schedule: S = 1/3 */
            double pen = qr_quant_apply(&p, qr_model_graph(m), 4, 10);
            double c = 0.02 * (3.0 / 9.0) / (mean ? (double)cnt : 1.0) / widths[b].d;
            ck_assert_double_eq_tol(qr_quant_coef(&p, 0, cnt, 4, 10), c, 1e-7 * c); /* λ is a float */
            qr_reg_kind k;
            ck_assert_int_eq(qr_reg_parse(widths[b].reg, &k), QR_OK);
            double want = 0;
            const float *w = qr_node_data(n), *g = qr_node_grad(n);
            for (size_t i = 0; i < cnt; i++) {
                want += qr_reg_value(k, widths[b].bits, w[i]);
                double dg = c * qr_reg_deriv(k, widths[b].bits, w[i]);
                ck_assert_msg(fabs(g[i] - dg) <= 1e-5 * fabs(c) * widths[b].d,
                              "%d bits %s: g %g, want %g", widths[b].bits, widths[b].reg, g[i], dg);
                /* the largest pull on the grid's range is λ·S (÷ n for mean) whatever the width
                 * (reg1a's slope grows beyond ±1) */
                if (fabsf(w[i]) <= 1.0f)
                    ck_assert(fabs(g[i]) <= 0.02 / 3.0 / (mean ? (double)cnt : 1.0) * (1 + 1e-5));
            }
            ck_assert_double_eq_tol(pen, c * want, 1e-5 * fabs(c * want) + 1e-12);
            qr_model_free(m);
            qr_quant_plan_free(&p);
        }
    }
    /* the default is the thesis' unnormalized λ */
    qr_quant_plan p;
    parse_ok(&p, "{\"lambda\": 0.02, \"matrices\": [{\"layer\": \"conv1d\", \"bits\": 4}]}", &spec);
    ck_assert_int_eq(p.m[0].lambda_norm, QR_LAMBDA_NORM_NONE);
    ck_assert_double_eq_tol(qr_quant_coef(&p, 0, 90, 1, 10), 0.02, 1e-9);
    qr_quant_plan_free(&p);
    qr_model_spec_free(&spec);
}
END_TEST

/* ---- config keys ----------------------------------------------------------------------- */

static void expect_error(const char *json, const qr_model_spec *spec, const char *needle)
{
    qr_quant_plan p;
    qr_error err = {{0}};
    ck_assert_msg(parse_plan(&p, json, spec, &err) == QR_ERR_CONFIG, "accepted: %s", json);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "error '%s' does not name '%s'", err.msg,
                  needle);
}

START_TEST(test_granularity_config)
{
    qr_model_spec spec;
    bts_spec(&spec);
    qr_quant_plan p;
    /* auto: per channel for the kernel whose layer feeds a batch norm (the conv), per matrix
     * for the GRU and the dense layer */
    parse_ok(&p, "{\"matrices\": [{\"layer\": \"all\", \"bits\": 2, \"scale\": \"learned\","
                 " \"granularity\": \"auto\"}]}", &spec);
    ck_assert_int_eq(p.n, 4);
    ck_assert_int_eq(p.m[0].per_channel, 1);
    ck_assert_int_eq(p.m[1].per_channel, 0);
    ck_assert_int_eq(p.m[2].per_channel, 0);
    ck_assert_int_eq(p.m[3].per_channel, 0);
    qr_quant_plan_free(&p);
    parse_ok(&p, "{\"matrices\": [{\"layer\": \"all\", \"bits\": 2, \"method\": \"ste\","
                 " \"scale\": \"fixed\", \"granularity\": \"channel\"}]}", &spec);
    for (size_t i = 0; i < p.n; i++)
        ck_assert_int_eq(p.m[i].per_channel, 1);
    qr_quant_plan_free(&p);
    parse_ok(&p, "{\"matrices\": [{\"layer\": \"all\", \"bits\": 2, \"scale\": \"learned\"}]}",
             &spec);
    ck_assert_int_eq(p.m[0].per_channel, 0); /* default: one α per matrix */
    qr_quant_plan_free(&p);
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 2, \"granularity\": \"channel\"}]}",
                 &spec, "'quantize.matrices[0].granularity'");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 2, \"scale\": \"learned\","
                 " \"granularity\": \"row\"}]}", &spec, "granularity");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 2, \"scale\": \"learned\","
                 " \"granularity\": 1}]}", &spec, "granularity");
    expect_error("{\"lambda_norm\": \"max\", \"matrices\": [{\"layer\": \"all\", \"bits\": 2}]}",
                 &spec, "quantize.lambda_norm");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 2, \"lambda_norm\": \"slope\"}]}",
                 &spec, "lambda_norm");
    qr_model_spec_free(&spec);
}
END_TEST

/* ---- fit, fake quantization, STE, stored form ------------------------------------------ */

/* The least-squares fit of docs/method.md §6 on one channel: α from max|w_c|, two iterations
 * of α ← Σ w q / Σ q², q the nearest level of w/α. */
static float ls_alpha(const float *w, size_t n, size_t c, size_t C, int bits)
{
    float a = 0;
    for (size_t i = c; i < n; i += C)
        a = fabsf(w[i]) > a ? fabsf(w[i]) : a;
    for (int it = 0; it < 2; it++) {
        double wq = 0, qq = 0;
        for (size_t i = c; i < n; i += C) {
            double q = qr_reg_nearest(bits, w[i] / a);
            wq += (double)w[i] * q;
            qq += q * q;
        }
        if (qq > 0 && wq > 0)
            a = (float)(wq / qq);
    }
    return a;
}

START_TEST(test_channel_fit_fake_ste)
{
    qr_model_spec spec;
    bts_spec(&spec);
    static const char *const names[] = {"conv1d_1/kernel", "gru_1/kernel",
                                        "gru_1/recurrent_kernel", "dense_1/kernel"};
    static const size_t channels[] = {6, 15, 15, 2};
    for (int bits = 1; bits <= 8; bits++) {
        if (bits == 3 || (bits > 4 && bits < 8))
            continue;
        char json[256];
        snprintf(json, sizeof json, "{\"matrices\": [{\"layer\": \"all\", \"bits\": %d,"
                 " \"method\": \"ste\", \"scale\": \"learned\", \"granularity\": \"channel\"}]}",
                 bits);
        qr_quant_plan p;
        parse_ok(&p, json, &spec);
        qr_model *m = bts_model(&spec, -0.8f, 0.8f);
        /* channels with very different magnitudes */
        for (int k = 0; k < 4; k++) {
            qr_node *n = node(m, names[k]);
            float *w = qr_node_data(n);
            for (size_t i = 0; i < qr_node_size(n); i++)
                w[i] *= 0.2f + 0.3f * (float)(i % channels[k]);
        }
        qr_quant_ste *ste = NULL;
        ck_assert_int_eq(qr_quant_begin_training(qr_model_graph(m), &p, &ste), QR_OK);
        ck_assert_ptr_nonnull(ste);
        ck_assert_uint_eq(p.n_alphas, 6 + 15 + 15 + 2);
        for (int k = 0; k < 4; k++) {
            qr_node *n = node(m, names[k]);
            const float *w = qr_node_data(n);
            size_t cnt = qr_node_size(n);
            ck_assert_uint_eq(p.m[k].channels, channels[k]);
            for (size_t c = 0; c < channels[k]; c++)
                ck_assert_float_eq(p.alphas[p.m[k].alpha_off + c],
                                   ls_alpha(w, cnt, c, channels[k], bits));
            for (size_t i = 0; i < cnt; i++)
                ck_assert_float_eq(qr_quant_elem_alpha(&p, (size_t)k, i),
                                   p.alphas[p.m[k].alpha_off + i % channels[k]]);
        }
        /* STE forward: the grid values α_c·nearest(w/α_c); backward restores the floats and
         * zeroes the gradient beyond the channel's last level plus half a step */
        size_t n_all;
        float *params = qr_graph_params(qr_model_graph(m), NULL, &n_all);
        float *keep = malloc(n_all * sizeof *keep);
        memcpy(keep, params, n_all * sizeof *keep);
        qr_quant_ste_forward(ste, qr_model_graph(m));
        for (int k = 0; k < 4; k++) {
            qr_node *n = node(m, names[k]);
            const float *q = qr_node_data(n);
            size_t off = (size_t)(q - params);
            for (size_t i = 0; i < qr_node_size(n); i++) {
                float a = p.alphas[p.m[k].alpha_off + i % channels[k]];
                ck_assert_float_eq(q[i], a * qr_reg_nearest(bits, keep[off + i] / a));
            }
            float *g = qr_node_grad(n);
            for (size_t i = 0; i < qr_node_size(n); i++)
                g[i] = 1.0f;
        }
        qr_quant_ste_backward(ste, qr_model_graph(m));
        ck_assert_mem_eq(params, keep, n_all * sizeof *keep);
        for (int k = 0; k < 4; k++) {
            qr_node *n = node(m, names[k]);
            const float *w = qr_node_data(n), *g = qr_node_grad(n);
            float rel = bits == 1 ? 1.0f : 1.0f + 0.5f / (float)qr_reg_levels(bits);
            for (size_t i = 0; i < qr_node_size(n); i++) {
                float a = p.alphas[p.m[k].alpha_off + i % channels[k]];
                ck_assert_float_eq(g[i], fabsf(w[i]) > a * rel ? 0.0f : 1.0f);
            }
        }
        /* fake quantization: the same values */
        qr_quant_fake(&p, qr_model_graph(m));
        for (int k = 0; k < 4; k++) {
            qr_node *n = node(m, names[k]);
            const float *q = qr_node_data(n);
            size_t off = (size_t)(q - params);
            for (size_t i = 0; i < qr_node_size(n); i++) {
                float a = p.alphas[p.m[k].alpha_off + i % channels[k]];
                ck_assert_float_eq(q[i], a * qr_reg_nearest(bits, keep[off + i] / a));
            }
        }
        /* statistics: on the grid now, the scale column is the mean step α_c/M */
        qr_quant_stat st[4];
        qr_quant_stats(&p, qr_model_graph(m), 1, 1, st);
        for (int k = 0; k < 4; k++) {
            double mean = 0;
            for (size_t c = 0; c < channels[k]; c++)
                mean += p.alphas[p.m[k].alpha_off + c] / (float)qr_reg_levels(bits);
            ck_assert_double_eq_tol(st[k].scale, mean / (double)channels[k], 1e-6);
            ck_assert_double_eq(st[k].share_near, 1.0);
        }
        /* the stored form keeps every α_c exactly; a wrong count is refused */
        cJSON *j = qr_quant_plan_to_json(&p);
        qr_quant_plan back;
        qr_error err = {{0}};
        ck_assert_msg(qr_quant_plan_from_json(&back, j, &spec, "m.qrm", &err) == QR_OK, "%s",
                      err.msg);
        ck_assert_uint_eq(back.n_alphas, p.n_alphas);
        ck_assert_mem_eq(back.alphas, p.alphas, p.n_alphas * sizeof *p.alphas);
        for (int k = 0; k < 4; k++) {
            ck_assert_int_eq(back.m[k].per_channel, 1);
            ck_assert_uint_eq(back.m[k].channels, channels[k]);
            ck_assert_uint_eq(back.m[k].alpha_off, p.m[k].alpha_off);
        }
        qr_quant_plan_free(&back);
        cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "matrices"), 0);
        cJSON_DeleteItemFromArray(cJSON_GetObjectItem(e0, "alphas"), 0);
        ck_assert_int_eq(qr_quant_plan_from_json(&back, j, &spec, "m.qrm", &err), QR_ERR_FORMAT);
        ck_assert_ptr_nonnull(strstr(err.msg, "alphas"));
        cJSON_Delete(j);
        free(keep);
        qr_quant_ste_free(ste);
        qr_model_free(m);
        qr_quant_plan_free(&p);
    }
    qr_model_spec_free(&spec);
}
END_TEST

/* ---- the 2-bit collapse of a batch-norm-fed convolution -------------------------------- */

/* The share of a trained model's conv kernel entries that round to 0. */
static double conv_zero_share(const char *dir, const char *entry, double *fq_acc)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/wine.csv\", \"label\": \"label\","
             " \"sequence\": [13, 1], \"validation_split\": 0.2, \"test_split\": 0.2},"
             " \"model\": [{\"type\": \"conv1d\", \"filters\": 6, \"kernel_size\": 3},"
             "  {\"type\": \"batchnorm\"}, {\"type\": \"relu\"}, {\"type\": \"gru\", \"units\": 6},"
             "  {\"type\": \"dense\"}],"
             " \"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.01},"
             " \"training\": {\"epochs\": 40, \"batch_size\": 16, \"seed\": 5,"
             "  \"checkpoint_every\": 0},"
             " \"quantize\": {\"lambda\": 0.01, \"schedule\": {\"name\": \"linear\"},"
             "  \"matrices\": [{\"layer\": \"all\", \"bits\": 2%s}]}}",
             tl_srcdir(), entry);
    char *path = tl_write_file(dir, "c.json", text);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    qr_model *m = NULL;
    qr_train_result r;
    ck_assert_msg(qr_train(&c, &d, NULL, NULL, &m, &r, &err) == QR_OK, "%s", err.msg);
    *fq_acc = r.fq_test_accuracy;
    qr_quant_fake(qr_model_quant_plan(m), qr_model_graph(m));
    qr_node *n = node(m, "conv1d_1/kernel");
    size_t zeros = 0;
    for (size_t i = 0; i < qr_node_size(n); i++)
        zeros += qr_node_data(n)[i] == 0.0f;
    double share = (double)zeros / (double)qr_node_size(n);
    qr_model_free(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(path);
    return share;
}

/* The thesis' fixed grid: the regularizer pulls the scale-free conv kernel onto 0 (most of it
 * rounds to 0); with a per-channel learned scale the grid follows the kernel, and most
 * entries round to ±α_c. */
START_TEST(test_2bit_bn_conv_no_collapse)
{
    char *dir = tl_tmpdir();
    double acc_fixed, acc_ch;
    double fixed = conv_zero_share(dir, "", &acc_fixed);
    double ch = conv_zero_share(dir, ", \"scale\": \"learned\", \"granularity\": \"auto\"",
                                &acc_ch);
    printf("2-bit conv kernel rounding to 0: fixed grid %.0f%% (fq test %.3f), per-channel "
           "scale %.0f%% (fq test %.3f)\n", 100 * fixed, acc_fixed, 100 * ch, acc_ch);
    ck_assert_msg(fixed > 0.5, "the fixed grid did not collapse here (%.2f): the test no longer "
                  "shows the effect", fixed);
    ck_assert_msg(ch < 0.5, "per-channel scales: %.0f%% of the conv kernel rounds to 0",
                  100 * ch);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- mixed-precision search: the choice under a budget --------------------------------- */

/* Every plan by brute force: the lowest cost within the budget (INFINITY: none fits). */
static double brute_best(const size_t *counts, size_t n, const int *widths, size_t nw,
                         const double *cost, double fixed, double budget)
{
    double best = INFINITY;
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total *= nw;
    for (size_t code = 0; code < total; code++) {
        size_t c = code;
        double bits = 0, sum = 0;
        for (size_t i = 0; i < n; i++, c /= nw) {
            bits += (double)counts[i] * widths[c % nw];
            sum += cost[i * nw + c % nw];
        }
        if (fixed + bits / 8.0 <= budget && sum < best)
            best = sum;
    }
    return best;
}

/* Random sizes, sensitivities and budgets: the chosen plan never exceeds its budget, its
 * reported bytes and cost are those of its widths, and no plan within the budget is cheaper
 * (brute force); a budget below every matrix at the narrowest width is refused, naming the
 * smallest size. */
START_TEST(test_search_choose)
{
    static const int widths[] = {1, 2, 4, 8};
    enum { NMAX = 6 };
    unsigned seed = 17;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + (size_t)(trial % NMAX), counts[NMAX], nw = 2 + (size_t)(trial % 3);
        double cost[NMAX * 4];
        float r[NMAX * 6];
        tl_fill_uniform(r, NMAX * 6, 0.0f, 1.0f, seed++);
        double all8 = 0, all1 = 0, fixed = 4.0 * (1 + trial % 7);
        for (size_t i = 0; i < n; i++) {
            counts[i] = 1 + (size_t)(r[i] * 300);
            all8 += counts[i] * widths[nw - 1] / 8.0;
            all1 += counts[i] * widths[0] / 8.0;
            /* narrower costs more (as measured), with noise, sometimes not monotone */
            for (size_t k = 0; k < nw; k++)
                cost[i * nw + k] = (double)r[NMAX + i * 4 + k] * (double)(nw - k) +
                                   (trial % 5 == 0 ? (double)r[i] : 0.0);
        }
        double budget = fixed + all1 + (all8 - all1) * (double)r[5 * NMAX + trial % NMAX];
        int choice[NMAX];
        double bytes, pred;
        qr_error err = {{0}};
        ck_assert_msg(qr_search_choose(counts, n, widths, nw, cost, fixed, budget, choice, &bytes,
                                       &pred, &err) == QR_OK, "%s", err.msg);
        double b = fixed, c = 0;
        for (size_t i = 0; i < n; i++) {
            size_t k = 0;
            while (k < nw && widths[k] != choice[i])
                k++;
            ck_assert_uint_lt(k, nw);
            b += counts[i] * choice[i] / 8.0;
            c += cost[i * nw + k];
        }
        ck_assert_msg(b <= budget, "trial %d: plan of %.3f B over the budget %.3f B", trial, b,
                      budget);
        ck_assert_double_eq_tol(bytes, b, 1e-9);
        ck_assert_double_eq_tol(pred, c, 1e-9);
        ck_assert_double_eq_tol(pred, brute_best(counts, n, widths, nw, cost, fixed, budget),
                                1e-9);
    }
    /* impossible: below every matrix at 1 bit */
    size_t counts[2] = {480, 32};
    double cost[8] = {0};
    int choice[2];
    qr_error err = {{0}};
    ck_assert_int_eq(qr_search_choose(counts, 2, widths, 4, cost, 72, 135.9, choice, NULL, NULL,
                                      &err), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "136.000 B"));
    /* exactly the smallest plan fits; the whole 8-bit size gives every matrix 8 bits when the
     * narrower widths cost more */
    ck_assert_int_eq(qr_search_choose(counts, 2, widths, 4, cost, 72, 136, choice, NULL, NULL,
                                      &err), QR_OK);
    ck_assert_int_eq(choice[0], 1);
    double mono[8] = {3, 2, 1, 0, 3, 2, 1, 0};
    double bytes;
    ck_assert_int_eq(qr_search_choose(counts, 2, widths, 4, mono, 72, 584, choice, &bytes, NULL,
                                      &err), QR_OK);
    ck_assert_int_eq(choice[0], 8);
    ck_assert_int_eq(choice[1], 8);
    ck_assert_double_eq(bytes, 584);
}
END_TEST

/* Bi-Real Net's piecewise-quadratic approximation of sign (Liu et al. 2018), written out here
 * independently of quant/ste.c: its derivative is what "ste_grad": "approxsign" passes. */
static double approx_sign(double u)
{
    return u < -1.0 ? -1.0 : u < 0.0 ? 2.0 * u + u * u : u < 1.0 ? 2.0 * u - u * u : 1.0;
}

/* "ste_grad": "approxsign": the factor equals the finite-difference derivative of ApproxSign
 * (away from its kinks at 0 and ±1); after backward every gradient is the incoming one times
 * that factor at w/α_c, per channel and per matrix; it is stored and reloaded; its errors. */
START_TEST(test_ste_grad_approxsign)
{
    qr_model_spec spec;
    bts_spec(&spec);
    qr_quant_matrix q = {.bits = 1, .ste = 1, .ste_grad = QR_STE_GRAD_APPROXSIGN};
    qr_quant_matrix id = {.bits = 1, .ste = 1};
    for (double u = -2.0; u <= 2.0; u += 0.0625) {
        if (fabs(fabs(u) - 1.0) < 1e-9 || fabs(u) < 1e-9)
            continue;
        double h = 1e-4, fd = (approx_sign(u + h) - approx_sign(u - h)) / (2.0 * h);
        ck_assert_msg(fabs(qr_quant_ste_grad_factor(&q, (float)u) - fd) < 1e-4,
                      "u %g: factor %g, finite difference %g", u,
                      qr_quant_ste_grad_factor(&q, (float)u), fd);
        /* the default: 1 inside the edge (1 at 1 bit), 0 beyond */
        ck_assert_float_eq(qr_quant_ste_grad_factor(&id, (float)u), fabs(u) > 1.0 ? 0.0f : 1.0f);
    }
    for (int gran = 0; gran < 2; gran++) {
        char json[256];
        snprintf(json, sizeof json, "{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\":"
                 " \"ste\", \"scale\": \"learned\", \"granularity\": \"%s\", \"ste_grad\":"
                 " \"approxsign\"}]}", gran ? "channel" : "matrix");
        qr_quant_plan p;
        parse_ok(&p, json, &spec);
        ck_assert_int_eq(p.m[0].ste_grad, QR_STE_GRAD_APPROXSIGN);
        qr_model *m = bts_model(&spec, -1.0f, 1.0f);
        qr_quant_ste *ste = NULL;
        ck_assert_int_eq(qr_quant_begin_training(qr_model_graph(m), &p, &ste), QR_OK);
        for (size_t k = 0; k < p.n; k++) {
            qr_node *n = node(m, p.m[k].name);
            float *w = qr_node_data(n);
            for (size_t i = 0; i < qr_node_size(n); i++)
                w[i] *= 2.0f;
        }
        qr_quant_ste_forward(ste, qr_model_graph(m));
        for (size_t k = 0; k < p.n; k++) {
            qr_node *n = node(m, p.m[k].name);
            float *g = qr_node_grad(n);
            for (size_t i = 0; i < qr_node_size(n); i++)
                g[i] = 0.5f + (float)i;
        }
        qr_quant_ste_backward(ste, qr_model_graph(m));
        size_t inside = 0, beyond = 0;
        for (size_t k = 0; k < p.n; k++) {
            qr_node *n = node(m, p.m[k].name);
            const float *w = qr_node_data(n), *g = qr_node_grad(n);
            for (size_t i = 0; i < qr_node_size(n); i++) {
                double u = w[i] / qr_quant_elem_alpha(&p, k, i);
                double want = (0.5 + (double)i) * (fabs(u) < 1.0 ? 2.0 - 2.0 * fabs(u) : 0.0);
                ck_assert_msg(fabs(g[i] - want) <= 1e-5 * (1.0 + fabs(want)),
                              "%s[%zu]: u %g, gradient %g, want %g", p.m[k].name, i, u, g[i], want);
                inside += fabs(u) < 1.0;
                beyond += fabs(u) >= 1.0;
            }
        }
        ck_assert_uint_gt(inside, 0);
        ck_assert_uint_gt(beyond, 0);
        cJSON *j = qr_quant_plan_to_json(&p);
        qr_quant_plan back;
        qr_error err = {{0}};
        ck_assert_msg(qr_quant_plan_from_json(&back, j, &spec, "m.qrm", &err) == QR_OK, "%s",
                      err.msg);
        for (size_t k = 0; k < p.n; k++)
            ck_assert_int_eq(back.m[k].ste_grad, QR_STE_GRAD_APPROXSIGN);
        cJSON_Delete(j);
        qr_quant_plan_free(&back);
        qr_quant_ste_free(ste);
        qr_model_free(m);
        qr_quant_plan_free(&p);
    }
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"ste_grad\": \"approxsign\"}]}",
                 &spec, "'quantize.matrices[0].ste_grad' needs");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 2, \"method\": \"ste\","
                 " \"ste_grad\": \"approxsign\"}]}", &spec, "needs bits 1");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"ste_grad\": \"approxsign\", \"ste_clip\": 2}]}", &spec, "does not take");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"ste_grad\": \"tanh\"}]}", &spec, "'quantize.matrices[0].ste_grad'");
    qr_model_spec_free(&spec);
}
END_TEST

/* "ste_clip": the STE keeps the gradient where |w/α_c| ≤ edge and zeroes it beyond, the edge
 * being the entry's ste_clip, the default 1 + 1/(2M) (1 at 1 bit), or none (false: the
 * identity STE); per channel and per matrix; its config errors and stored form. */
START_TEST(test_ste_clip)
{
    qr_model_spec spec;
    bts_spec(&spec);
    static const char *const clips[] = {NULL, "2.5", "false", "0.75"};
    for (int bits = 1; bits <= 2; bits++)
        for (int gran = 0; gran < 2; gran++)
            for (int c = 0; c < 4; c++) {
                char json[256];
                snprintf(json, sizeof json, "{\"matrices\": [{\"layer\": \"all\", \"bits\": %d,"
                         " \"method\": \"ste\", \"scale\": \"learned\", \"granularity\": \"%s\"%s%s}]}",
                         bits, gran ? "channel" : "matrix", clips[c] ? ", \"ste_clip\": " : "",
                         clips[c] ? clips[c] : "");
                qr_quant_plan p;
                parse_ok(&p, json, &spec);
                float edge = !clips[c] ? (bits == 1 ? 1.0f : 1.0f + 0.5f / 1.0f)
                             : c == 2 ? INFINITY : (float)atof(clips[c]);
                ck_assert_float_eq(qr_quant_ste_clip(&p.m[0]), edge);
                /* weights up to 4α: a wide spread around every edge tried */
                qr_model *m = bts_model(&spec, -1.0f, 1.0f);
                qr_quant_ste *ste = NULL;
                ck_assert_int_eq(qr_quant_begin_training(qr_model_graph(m), &p, &ste), QR_OK);
                for (size_t k = 0; k < p.n; k++) {
                    qr_node *n = node(m, p.m[k].name);
                    float *w = qr_node_data(n);
                    for (size_t i = 0; i < qr_node_size(n); i++)
                        w[i] *= 4.0f;
                }
                qr_quant_ste_forward(ste, qr_model_graph(m));
                for (size_t k = 0; k < p.n; k++) {
                    qr_node *n = node(m, p.m[k].name);
                    float *g = qr_node_grad(n);
                    for (size_t i = 0; i < qr_node_size(n); i++)
                        g[i] = 0.5f + (float)i;
                }
                qr_quant_ste_backward(ste, qr_model_graph(m));
                size_t kept = 0, zeroed = 0;
                for (size_t k = 0; k < p.n; k++) {
                    qr_node *n = node(m, p.m[k].name);
                    const float *w = qr_node_data(n), *g = qr_node_grad(n);
                    for (size_t i = 0; i < qr_node_size(n); i++) {
                        float a = qr_quant_elem_alpha(&p, k, i);
                        int out = fabsf(w[i]) / a > edge;
                        ck_assert_float_eq(g[i], out ? 0.0f : 0.5f + (float)i);
                        kept += !out;
                        zeroed += out;
                    }
                }
                /* both sides of the edge were exercised (none beyond it without an edge) */
                ck_assert_uint_gt(kept, 0);
                if (c == 2)
                    ck_assert_uint_eq(zeroed, 0);
                else
                    ck_assert_uint_gt(zeroed, 0);
                /* the stored form keeps it */
                cJSON *j = qr_quant_plan_to_json(&p);
                qr_quant_plan back;
                qr_error err = {{0}};
                ck_assert_msg(qr_quant_plan_from_json(&back, j, &spec, "m.qrm", &err) == QR_OK,
                              "%s", err.msg);
                for (size_t k = 0; k < p.n; k++)
                    ck_assert_float_eq(qr_quant_ste_clip(&back.m[k]), edge);
                cJSON_Delete(j);
                qr_quant_plan_free(&back);
                qr_quant_ste_free(ste);
                qr_model_free(m);
                qr_quant_plan_free(&p);
            }
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"ste_clip\": 2}]}",
                 &spec, "'quantize.matrices[0].ste_clip' needs");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"ste_clip\": 0.1}]}", &spec, "'quantize.matrices[0].ste_clip'");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"ste_clip\": true}]}", &spec, "'quantize.matrices[0].ste_clip' must be");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"ste_clip\": \"none\"}]}", &spec, "'quantize.matrices[0].ste_clip' must be");
    qr_model_spec_free(&spec);
}
END_TEST

/* LSQ's ∂q/∂α against central differences: at 1 bit of the true q(α) = α·sign(w); at N bits of
 * LSQ's surrogate α·clip(w/α, −1, 1) + α·(nearest − clip) with the rounding residual held
 * fixed (the rounding passed straight through). */
START_TEST(test_lsq_dq_fd)
{
    const float alpha = 0.7f;
    const double h = 1e-4;
    for (int bits = 1; bits <= 8; bits++)
        for (int i = -60; i <= 60; i++) {
            float w = 0.0313f * (float)i + 0.001f;
            double u0 = (double)w / alpha, n0 = qr_reg_nearest(bits, (float)u0);
            double clip0 = u0 > 1 ? 1 : u0 < -1 ? -1 : u0, res = n0 - clip0;
            double fp, fm;
            if (bits == 1) {
                fp = (alpha + h) * n0;
                fm = (alpha - h) * n0;
            } else {
                double up = (double)w / (alpha + h), um = (double)w / (alpha - h);
                up = up > 1 ? 1 : up < -1 ? -1 : up;
                um = um > 1 ? 1 : um < -1 ? -1 : um;
                fp = (alpha + h) * (up + res);
                fm = (alpha - h) * (um + res);
            }
            if (bits > 1 && fabs(fabs(u0) - 1) < 1e-3)
                continue; /* the clip's kink */
            double fd = (fp - fm) / (2 * h);
            ck_assert_msg(fabs(qr_quant_lsq_dq(bits, w, alpha) - fd) < 1e-3,
                          "bits %d w %g: dq %g, finite difference %g", bits, w,
                          qr_quant_lsq_dq(bits, w, alpha), fd);
        }
}
END_TEST

/* "scale": "lsq": α starts at the least-squares fit, and every STE backward moves each α by
 * one SGD step −scale_lr·Σ g·∂q/∂α / sqrt(entries·M) (per channel over the channel's
 * entries); no refit after an epoch; the stored form keeps mode and rate; config errors. */
START_TEST(test_lsq_step)
{
    qr_model_spec spec;
    bts_spec(&spec);
    for (int bits = 1; bits <= 4; bits += 3)
        for (int gran = 0; gran < 2; gran++) {
            char json[256];
            snprintf(json, sizeof json, "{\"matrices\": [{\"layer\": \"all\", \"bits\": %d,"
                     " \"method\": \"ste\", \"scale\": \"lsq\", \"scale_lr\": 0.05,"
                     " \"granularity\": \"%s\"}]}", bits, gran ? "channel" : "matrix");
            qr_quant_plan p;
            parse_ok(&p, json, &spec);
            ck_assert_int_eq(p.m[1].scale_mode, QR_SCALE_LSQ);
            ck_assert_float_eq(p.m[1].scale_lr, 0.05f);
            qr_model *m = bts_model(&spec, -0.8f, 0.8f);
            qr_quant_ste *ste = NULL;
            ck_assert_int_eq(qr_quant_begin_training(qr_model_graph(m), &p, &ste), QR_OK);
            /* the start: as "learned" */
            for (size_t k = 0; k < p.n; k++) {
                qr_node *n = node(m, p.m[k].name);
                size_t C = gran ? p.m[k].channels : 1;
                for (size_t c = 0; c < C; c++)
                    ck_assert_float_eq(qr_quant_elem_alpha(&p, k, c),
                                       ls_alpha(qr_node_data(n), qr_node_size(n), c, C, bits));
            }
            float before[64];
            size_t na = 0;
            for (size_t k = 0; k < p.n; k++)
                for (size_t c = 0; c < (gran ? p.m[k].channels : 1); c++)
                    before[na++] = qr_quant_elem_alpha(&p, k, c);
            qr_quant_ste_forward(ste, qr_model_graph(m));
            for (size_t k = 0; k < p.n; k++) {
                qr_node *n = node(m, p.m[k].name);
                float *g = qr_node_grad(n);
                for (size_t i = 0; i < qr_node_size(n); i++)
                    g[i] = 0.3f * sinf(1.7f * (float)i + (float)k);
            }
            qr_quant_ste_backward(ste, qr_model_graph(m));
            size_t j = 0;
            for (size_t k = 0; k < p.n; k++) {
                qr_node *n = node(m, p.m[k].name);
                const float *w = qr_node_data(n);
                size_t cnt = qr_node_size(n), C = gran ? p.m[k].channels : 1;
                for (size_t c = 0; c < C; c++, j++) {
                    double ga = 0;
                    for (size_t i = c; i < cnt; i += C)
                        ga += (double)(0.3f * sinf(1.7f * (float)i + (float)k)) *
                              qr_quant_lsq_dq(bits, w[i], before[j]);
                    double want = before[j] - 0.05 * ga /
                                  sqrt((double)(cnt / C) * (double)qr_reg_levels(bits));
                    if (want < 0.5 * before[j])
                        want = 0.5 * before[j];
                    ck_assert_msg(fabs(qr_quant_elem_alpha(&p, k, c) - want) < 1e-6 * before[j],
                                  "bits %d %s c %zu: alpha %g, want %g", bits, p.m[k].name, c,
                                  qr_quant_elem_alpha(&p, k, c), want);
                    ck_assert(qr_quant_elem_alpha(&p, k, c) != before[j]);
                }
            }
            /* no refit after an epoch */
            float kept = qr_quant_elem_alpha(&p, 1, 0);
            qr_quant_refit_scales(qr_model_graph(m), &p);
            ck_assert_float_eq(qr_quant_elem_alpha(&p, 1, 0), kept);
            cJSON *jp = qr_quant_plan_to_json(&p);
            qr_quant_plan back;
            qr_error err = {{0}};
            ck_assert_msg(qr_quant_plan_from_json(&back, jp, &spec, "m.qrm", &err) == QR_OK,
                          "%s", err.msg);
            ck_assert_int_eq(back.m[1].scale_mode, QR_SCALE_LSQ);
            ck_assert_float_eq(back.m[1].scale_lr, 0.05f);
            cJSON_Delete(jp);
            qr_quant_plan_free(&back);
            qr_quant_ste_free(ste);
            qr_model_free(m);
            qr_quant_plan_free(&p);
        }
    qr_quant_plan p;
    parse_ok(&p, "{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"scale\": \"lsq\"}]}", &spec);
    ck_assert_float_eq(p.m[0].scale_lr, 0.01f); /* the default rate */
    qr_quant_plan_free(&p);
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"scale\": \"lsq\"}]}",
                 &spec, "'quantize.matrices[0].scale' \"lsq\" needs");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"scale\": \"learned\", \"scale_lr\": 0.1}]}", &spec,
                 "'quantize.matrices[0].scale_lr' needs");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"scale\": \"lsq\", \"scale_lr\": 0}]}", &spec,
                 "'quantize.matrices[0].scale_lr'");
    expect_error("{\"matrices\": [{\"layer\": \"all\", \"bits\": 1, \"method\": \"ste\","
                 " \"scale\": \"lsq\", \"scale_lr\": 11}]}", &spec,
                 "'quantize.matrices[0].scale_lr'");
    qr_model_spec_free(&spec);
}
END_TEST

Suite *qr_suite_scales(void)
{
    Suite *s = suite_create("scales");
    TCase *tc = tcase_create("scales");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_channel_apply);
    tcase_add_test(tc, test_max_slope);
    tcase_add_test(tc, test_lambda_norm_penalty);
    tcase_add_test(tc, test_granularity_config);
    tcase_add_test(tc, test_channel_fit_fake_ste);
    tcase_add_test(tc, test_ste_clip);
    tcase_add_test(tc, test_ste_grad_approxsign);
    tcase_add_test(tc, test_lsq_dq_fd);
    tcase_add_test(tc, test_lsq_step);
    tcase_add_test(tc, test_2bit_bn_conv_no_collapse);
    tcase_add_test(tc, test_search_choose);
    suite_add_tcase(s, tc);
    return s;
}
