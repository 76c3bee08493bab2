/* The device runtime (runtime/, docs/runtime.md): every integer layer against the same float
 * layer. Shared helpers: testlib_runtime.h. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "testlib_runtime.h"
#include "../runtime/qrt.h"
#include "../export/qrt_builder.h"
#include "../runtime/qrt_format.h"
#include "../export/qrt_host.h"
#include "../runtime/qrt_sparse.h"

/* ---- single layers ----------------------------------------------------------------- */

/* One (or two) layer model: integer against double within 1 LSB of the output scale. */
static void layer_case(tr_fmodel *m, tr_rng *r, double lsb_tol, const char *what)
{
    double *xs = tr_rnd_inputs(r, 6 * m->t * m->f, 2.0);
    tr_fmodel_quantize(m, xs, 6, 0);
    size_t len;
    uint8_t *blob = tr_fmodel_build(m, &len, QRT_OK);
    tr_cmp_stats cs = tr_check_model(m, blob, len, xs, 6, 1);
    double lsb = m->L[m->n - 1].s;
    ck_assert_msg(cs.max_err <= lsb_tol * lsb, "%s: max error %.3g = %.2f LSB > %.2f", what,
                  cs.max_err, cs.max_err / lsb, lsb_tol);
    free(blob);
    free(xs);
    tr_fm_free(m);
}

START_TEST(test_layer_dense)
{
    tr_rng r = {10};
    static const unsigned bits[] = {1, 2, 3, 4, 5, 8};
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        for (int pc = 0; pc < 2; pc++) {
            tr_fmodel m = {.t = 1, .f = 13, .per_channel = pc};
            tr_fm_add_dense(&m, &r, 13, 7, bits[i]);
            layer_case(&m, &r, 1.0, "dense");
        }
}
END_TEST

START_TEST(test_layer_conv1d)
{
    tr_rng r = {11};
    static const size_t cfg[][4] = {/* k, stride, dilation, causal */
                                    {5, 1, 1, 0}, {5, 1, 1, 1}, {3, 2, 1, 0}, {3, 2, 1, 1},
                                    {3, 1, 2, 0}, {3, 3, 2, 1}, {1, 1, 1, 0}, {4, 2, 3, 0}};
    static const unsigned bits[] = {8, 4, 2, 1};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        for (size_t b = 0; b < 4; b++) {
            tr_fmodel m = {.t = 23, .f = 3, .per_channel = (int)(i & 1)};
            tr_fm_add_conv(&m, &r, 3, 5, cfg[i][0], cfg[i][1], cfg[i][2], (int)cfg[i][3], bits[b]);
            layer_case(&m, &r, 1.0, "conv1d");
        }
}
END_TEST

START_TEST(test_layer_elementwise)
{
    tr_rng r = {12};
    /* a dense layer in front gives the element-wise layer a realistic input scale */
    for (int kind = QRT_LAYER_BATCHNORM; kind <= QRT_LAYER_PRELU; kind++) {
        tr_fmodel m = {.t = 4, .f = 6};
        tr_fm_add_dense(&m, &r, 6, 6, 8);
        if (kind == QRT_LAYER_BATCHNORM)
            tr_fm_add_bn(&m, &r, 6);
        else
            tr_fm_add_act(&m, &r, kind, 6);
        /* 1 LSB of the element-wise layer's own rounding, plus the dense layer's 0.5 LSB
         * carried through (×|γ/σ|·s_x/s_y ≤ ~1 for batchnorm, ×1 or ×α for relu/prelu) */
        layer_case(&m, &r, kind == QRT_LAYER_BATCHNORM ? 2.0 : 1.0, "elementwise");
    }
    /* batchnorm folded into the dense layer in front: per-channel requant and offsets */
    tr_fmodel m = {.t = 4, .f = 6};
    tr_fm_add_dense(&m, &r, 6, 6, 4);
    tr_fm_add_bn(&m, &r, 6);
    double *xs = tr_rnd_inputs(&r, 6 * 4 * 6, 2.0);
    tr_fmodel_quantize(&m, xs, 6, 1);
    size_t len;
    uint8_t *blob = tr_fmodel_build(&m, &len, QRT_OK);
    tr_cmp_stats cs = tr_check_model(&m, blob, len, xs, 6, 1);
    ck_assert(cs.max_err <= 1.0 * m.L[1].s);
    free(blob);
    free(xs);
    tr_fm_free(&m);
}
END_TEST

START_TEST(test_layer_gru)
{
    tr_rng r = {13};
    static const unsigned bits[][2] = {{8, 8}, {4, 8}, {2, 4}, {1, 1}, {8, 2}};
    double worst = 0;
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++)
        for (int seq = 0; seq < 2; seq++) {
            tr_fmodel m = {.t = 30, .f = 6, .per_channel = seq};
            tr_fm_add_gru(&m, &r, 6, 5, seq, bits[b][0], bits[b][1]);
            double *xs = tr_rnd_inputs(&r, 6 * m.t * m.f, 1.5);
            tr_fmodel_quantize(&m, xs, 6, 0);
            size_t len;
            uint8_t *blob = tr_fmodel_build(&m, &len, QRT_OK);
            tr_cmp_stats cs = tr_check_model(&m, blob, len, xs, 6, 1);
            worst = fmax(worst, cs.max_err);
            ck_assert_msg(cs.max_err <= 3e-4, "gru %u/%u bits: max |h error| %.3g", bits[b][0],
                          bits[b][1], cs.max_err);
            free(blob);
            free(xs);
            tr_fm_free(&m);
        }
    printf("runtime: GRU (T = 30, H = 5) max |h error| against double: %.3g\n", worst);
}
END_TEST

Suite *qr_suite_runtime_layers(void)
{
    Suite *s = suite_create("runtime_layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_layer_dense);
    tcase_add_test(tc, test_layer_conv1d);
    tcase_add_test(tc, test_layer_elementwise);
    tcase_add_test(tc, test_layer_gru);
    suite_add_tcase(s, tc);
    return s;
}
