/* The device runtime (runtime/, docs/runtime.md): whole bts- and gsc-shaped models and stacks
 * against their float (fake-quantized) models, and streaming against whole sequences. Shared
 * helpers: testlib_runtime.h. */
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

/* ---- whole models --------------------------------------------------------------------- */

static void model_case(tr_fmodel *m, tr_rng *r, size_t n_x, int fold, double rel_tol,
                       const char *what)
{
    double *xs = tr_rnd_inputs(r, n_x * m->t * m->f, 2.0);
    tr_fmodel_quantize(m, xs, n_x, fold);
    size_t len;
    uint8_t *blob = tr_fmodel_build(m, &len, QRT_OK);
    tr_cmp_stats cs = tr_check_model(m, blob, len, xs, n_x, 0);
    printf("runtime: %s: %zu B blob, logits max |int − float| = %.3g (%.3f %% of range %.3g), "
           "argmax agrees %zu/%zu\n", what, len, cs.max_err, 100 * cs.max_err / cs.range, cs.range,
           cs.argmax_same, cs.argmax_n);
    ck_assert_msg(cs.max_err <= rel_tol * cs.range, "%s: %.3g > %.3g of %.3g", what, cs.max_err,
                  rel_tol, cs.range);
    ck_assert_uint_eq(cs.argmax_same, cs.argmax_n);
    free(blob);
    free(xs);
    tr_fm_free(m);
}

START_TEST(test_model_bts)
{
    tr_rng r = {20};
    static const unsigned bits[] = {8, 4, 2, 1};
    char what[64];
    for (size_t b = 0; b < 4; b++)
        for (int v = 0; v < 3; v++) { /* 0: relu, 1: prelu, 2: relu with batchnorm folded */
            tr_fmodel m;
            tr_make_bts(&m, &r, bits[b], v == 1);
            snprintf(what, sizeof what, "bts %u-bit%s", bits[b],
                     v == 1 ? " prelu" : (v == 2 ? " folded bn" : ""));
            model_case(&m, &r, 40, v == 2, 0.002, what);
        }
}
END_TEST

/* gsc: Conv1D(128, 10) → BN → ReLU → GRU(196) → BN → Dense(12), input 94 × 13. */
START_TEST(test_model_gsc)
{
    tr_rng r = {21};
    tr_fmodel m = {.t = 94, .f = 13};
    tr_fm_add_conv(&m, &r, 13, 128, 10, 1, 1, 0, 4);
    tr_fm_add_bn(&m, &r, 128);
    tr_fm_add_act(&m, &r, QRT_LAYER_RELU, 128);
    tr_fm_add_gru(&m, &r, 128, 196, 0, 4, 4);
    tr_fm_add_bn(&m, &r, 196);
    tr_fm_add_dense(&m, &r, 196, 12, 8);
    model_case(&m, &r, 3, 0, 0.002, "gsc 4-bit");
}
END_TEST

/* Two convolutions (causal, then strided valid with dilation), a sequence GRU, a dense layer
 * per frame: no head, every frame's output compared. Then a stacked GRU with a head. */
START_TEST(test_model_stacks)
{
    tr_rng r = {22};
    tr_fmodel m = {.t = 37, .f = 4};
    tr_fm_add_conv(&m, &r, 4, 6, 3, 1, 1, 1, 8);
    tr_fm_add_act(&m, &r, QRT_LAYER_RELU, 6);
    tr_fm_add_conv(&m, &r, 6, 5, 3, 2, 2, 0, 4);
    tr_fm_add_gru(&m, &r, 5, 4, 1, 8, 8);
    tr_fm_add_dense(&m, &r, 4, 3, 2);
    model_case(&m, &r, 8, 0, 0.002, "conv-conv-gru(seq)-dense");

    tr_fmodel g = {.t = 25, .f = 3};
    tr_fm_add_gru(&g, &r, 3, 6, 1, 8, 8);
    tr_fm_add_gru(&g, &r, 6, 4, 0, 4, 8);
    tr_fm_add_dense(&g, &r, 4, 4, 8);
    tr_fm_add_act(&g, &r, QRT_LAYER_RELU, 4);
    tr_fm_add_dense(&g, &r, 4, 3, 8);
    model_case(&g, &r, 8, 0, 0.002, "gru(seq)-gru-dense-relu-dense");

    tr_fmodel p = {.t = 1, .f = 10}; /* a flat MLP: T = 1 */
    tr_fm_add_dense(&p, &r, 10, 16, 8);
    tr_fm_add_act(&p, &r, QRT_LAYER_PRELU, 16);
    tr_fm_add_dense(&p, &r, 16, 3, 1);
    model_case(&p, &r, 20, 0, 0.002, "mlp");
}
END_TEST

/* ---- streaming ------------------------------------------------------------------------ */

START_TEST(test_stream)
{
    tr_rng r = {30};
    for (int causal = 0; causal < 2; causal++) {
        tr_fmodel m;
        tr_make_bts(&m, &r, 8, 0);
        m.L[0].causal = causal;
        double *xs = tr_rnd_inputs(&r, 4 * m.t * m.f, 2.0);
        tr_fmodel_quantize(&m, xs, 4, 0);
        size_t len;
        uint8_t *blob = tr_fmodel_build(&m, &len, QRT_OK);
        tr_loaded ld;
        tr_load_ok(&ld, blob, len);
        int32_t *xq = tr_quantize_x(&m, xs);
        int32_t whole[2], st[2];
        ck_assert_int_eq(qrt_run(&ld.m, xq, ld.scratch, ld.scratch_size, whole), QRT_OK);
        qrt_stream s;
        ck_assert_int_eq(qrt_stream_init(&s, &ld.m, ld.scratch, ld.scratch_size), QRT_OK);
        /* push a different sequence first, then reset: no trace of it remains */
        int32_t *noise = tr_quantize_x(&m, xs + m.t * m.f);
        for (size_t t = 0; t < 17; t++)
            ck_assert_int_eq(qrt_stream_push(&s, noise + t * m.f), QRT_OK);
        ck_assert_int_eq(qrt_stream_reset(&s), QRT_OK);
        for (size_t t = 0; t < m.t; t++) {
            ck_assert_int_eq(qrt_stream_push(&s, xq + t * m.f), QRT_OK);
            /* valid: the first output after k frames; causal: on the first frame */
            ck_assert_uint_eq(s.emitted, causal ? t + 1 : (t + 1 >= 5 ? t + 1 - 4 : 0));
            if (s.emitted == 0)
                ck_assert_int_eq(qrt_stream_logits(&s, st), QRT_ERR_NOT_READY);
        }
        ck_assert_int_eq(qrt_stream_logits(&s, st), QRT_OK);
        ck_assert_mem_eq(st, whole, sizeof st);
        /* logits do not change the state: asking twice gives the same */
        ck_assert_int_eq(qrt_stream_logits(&s, st), QRT_OK);
        ck_assert_mem_eq(st, whole, sizeof st);
        /* always-on: keep pushing past T frames; a second stream fed the same frames from a
         * fresh start stays identical frame after frame */
        qrt_stream s2;
        void *scratch2 = tr_xcalloc(1, ld.scratch_size);
        ck_assert_int_eq(qrt_stream_init(&s2, &ld.m, scratch2, ld.scratch_size), QRT_OK);
        for (size_t t = 0; t < m.t; t++)
            ck_assert_int_eq(qrt_stream_push(&s2, xq + t * m.f), QRT_OK);
        for (size_t t = 0; t < 10; t++) {
            ck_assert_int_eq(qrt_stream_push(&s, noise + t * m.f), QRT_OK);
            ck_assert_int_eq(qrt_stream_push(&s2, noise + t * m.f), QRT_OK);
            int32_t a[2], b[2];
            ck_assert_int_eq(qrt_stream_logits(&s, a), QRT_OK);
            ck_assert_int_eq(qrt_stream_logits(&s2, b), QRT_OK);
            ck_assert_mem_eq(a, b, sizeof a);
        }
        free(scratch2);
        free(noise);
        free(xq);
        free(ld.scratch);
        free(blob);
        free(xs);
        tr_fm_free(&m);
    }
}
END_TEST

Suite *qr_suite_runtime_models(void)
{
    Suite *s = suite_create("runtime_models");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_model_bts);
    tcase_add_test(tc, test_model_gsc);
    tcase_add_test(tc, test_model_stacks);
    tcase_add_test(tc, test_stream);
    suite_add_tcase(s, tc);
    return s;
}
