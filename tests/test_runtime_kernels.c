/* The device runtime (runtime/, docs/runtime.md): packing, packed kernels against their _ref
 * twins, requantization and tanh/sigmoid against double, the GRU gates at extremes, and the
 * input transform. Shared helpers: testlib_runtime.h. */
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

/* ---- packing ------------------------------------------------------------------------ */

START_TEST(test_pack_roundtrip)
{
    tr_rng r = {1};
    static const size_t lens[] = {1, 2, 3, 5, 7, 8, 9, 13, 15, 17, 31, 33, 63, 65};
    for (unsigned bits = 1; bits <= 8; bits++) {
        unsigned c = qrt_container_bits(bits);
        ck_assert_uint_eq(c, bits <= 2 ? bits : (bits <= 4 ? 4u : 8u));
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t cols = lens[li], rows = 3;
            int8_t *lv = tr_xcalloc(rows * cols, 1);
            for (size_t i = 0; i < rows * cols; i++)
                lv[i] = tr_rng_level(&r, bits);
            size_t rb = QRT_ROW_BYTES(cols, c);
            ck_assert_uint_eq(rb, (cols * c + 7) / 8);
            uint8_t *pk = tr_xcalloc(rows * rb, 1);
            ck_assert_uint_eq(qrt_pack_rows(pk, lv, rows, cols, bits), rows * rb);
            for (size_t row = 0; row < rows; row++) {
                for (size_t i = 0; i < cols; i++)
                    ck_assert_int_eq(qrt_unpack_level(pk + row * rb, i, c), lv[row * cols + i]);
                size_t used = (cols * c) % 8; /* padding bits are zero */
                if (used)
                    ck_assert_uint_eq(pk[row * rb + rb - 1] >> used, 0);
            }
            free(pk);
            free(lv);
        }
    }
    /* bit order: low bits first; CMSIS-NN's int4 example [1, 2, 3, 4] → [0x21, 0x43] */
    int8_t four[] = {1, 2, 3, 4};
    uint8_t out[2];
    ck_assert_uint_eq(qrt_pack_rows(out, four, 1, 4, 4), 2);
    ck_assert_uint_eq(out[0], 0x21);
    ck_assert_uint_eq(out[1], 0x43);
    int8_t tern[] = {1, -1, 0, 1, -1};
    uint8_t t2[2];
    ck_assert_uint_eq(qrt_pack_rows(t2, tern, 1, 5, 2), 2);
    ck_assert_uint_eq(t2[0], 0x01 | 0x03 << 2 | 0x00 << 4 | 0x01 << 6);
    ck_assert_uint_eq(t2[1], 0x03);
    int8_t bin[] = {1, -1, -1, 1, 1, -1, 1, 1, -1, 1};
    uint8_t b1[2];
    ck_assert_uint_eq(qrt_pack_rows(b1, bin, 1, 10, 1), 2);
    ck_assert_uint_eq(b1[0], 0xD9);
    ck_assert_uint_eq(b1[1], 0x02);
    /* off-grid levels are refused */
    int8_t bad4[] = {0, 8};
    ck_assert_uint_eq(qrt_pack_rows(out, bad4, 1, 2, 4), 0);
    int8_t bad3[] = {4};
    ck_assert_uint_eq(qrt_pack_rows(out, bad3, 1, 1, 3), 0);
    int8_t bad1[] = {0};
    ck_assert_uint_eq(qrt_pack_rows(out, bad1, 1, 1, 1), 0);
    int8_t bad8[] = {-128};
    ck_assert_uint_eq(qrt_pack_rows(out, bad8, 1, 1, 8), 0);
}
END_TEST

/* ---- kernels ------------------------------------------------------------------------ */

START_TEST(test_dot_vs_ref)
{
    tr_rng r = {2};
    static const qrt_dot_fn fast[] = {qrt_dot_s1, qrt_dot_s2, qrt_dot_s4, qrt_dot_s8};
    static const qrt_dot_fn ref[] = {qrt_dot_s1_ref, qrt_dot_s2_ref, qrt_dot_s4_ref, qrt_dot_s8_ref};
    static const unsigned cont[] = {1, 2, 4, 8};
    for (int w = 0; w < 4; w++) {
        ck_assert_ptr_eq(qrt_dot_for(cont[w]), fast[w]);
        for (int trial = 0; trial < 400; trial++) {
            size_t n = 1 + tr_rng_u32(&r) % 80;
            unsigned bits = cont[w] == 8 ? 5 + tr_rng_u32(&r) % 4 : (cont[w] == 4 ? 3 + tr_rng_u32(&r) % 2 : cont[w]);
            int8_t *lv = tr_xcalloc(n, 1);
            int32_t *x = tr_xcalloc(n, sizeof *x);
            /* |x| up to 2^17 keeps Σ|w·x| ≤ 80·127·2^17 < 2^31 */
            int32_t amp = trial % 3 == 0 ? 3 : (trial % 3 == 1 ? 32767 : (1 << 17));
            for (size_t i = 0; i < n; i++) {
                lv[i] = tr_rng_level(&r, bits);
                x[i] = (int32_t)(tr_rng_u32(&r) % (2u * (uint32_t)amp + 1)) - amp;
            }
            uint8_t *pk = tr_xcalloc(QRT_ROW_BYTES(n, cont[w]), 1);
            ck_assert_uint_ne(qrt_pack_rows(pk, lv, 1, n, bits), 0);
            int64_t exact = 0;
            for (size_t i = 0; i < n; i++)
                exact += (int64_t)lv[i] * x[i];
            int32_t a = fast[w](pk, x, n), b = ref[w](pk, x, n);
            ck_assert_int_eq(a, b);
            ck_assert_int_eq(a, exact);
            if (cont[w] == 4 && amp <= 32767) { /* the int16-input twin (narrow activations) */
                int16_t *x16 = tr_xcalloc(n, sizeof *x16);
                for (size_t i = 0; i < n; i++)
                    x16[i] = (int16_t)x[i];
                if (trial % 6 == 1) /* the int16 extremes */
                    for (size_t i = 0; i < n; i++)
                        x[i] = x16[i] = (int16_t)(i & 1u ? -32768 : 32767);
                ck_assert_int_eq(qrt_dot16_s4(pk, x16, n), qrt_dot_s4_ref(pk, x, n));
                free(x16);
            }
            free(pk);
            free(x);
            free(lv);
        }
    }
    ck_assert_ptr_null(qrt_dot_for(3));
    int32_t v[] = {3, 9, -2, 9};
    ck_assert_uint_eq(qrt_argmax(v, 4), 1);
    ck_assert_uint_eq(qrt_argmax(v, 0), 0);
}
END_TEST

/* ---- requantization ----------------------------------------------------------------- */

/* The exact requantization floor((acc·mult + 2^(r−1)) / 2^r), r = 31 − shift, saturated: with
 * a 128-bit integer where the compiler has one, else by long division on 64-bit halves. */
static int32_t requant_exact(int32_t acc, int32_t mult, int32_t shift)
{
    int rs = 31 - shift;
#ifdef __SIZEOF_INT128__
    __int128 p = (__int128)acc * mult + ((__int128)1 << (rs - 1));
    __int128 fl = p >= 0 ? p >> rs : -((-p + ((__int128)1 << rs) - 1) >> rs);
    return fl > INT32_MAX ? INT32_MAX : (fl < INT32_MIN ? INT32_MIN : (int32_t)fl);
#else
    /* |acc·mult| ≤ 2^62 and the rounding term ≤ 2^61 fit int64; floor division by 2^rs */
    int64_t p = (int64_t)acc * mult + ((int64_t)1 << (rs - 1));
    int64_t d = (int64_t)1 << rs;
    int64_t fl = p >= 0 ? p / d : -((-p + d - 1) / d);
    return fl > INT32_MAX ? INT32_MAX : (fl < INT32_MIN ? INT32_MIN : (int32_t)fl);
#endif
}

START_TEST(test_requant)
{
    tr_rng r = {3};
    double worst = 0;
    for (int trial = 0; trial < 200000; trial++) {
        double frac = tr_rng_unif(&r, 0.5, 1.0); /* (sequenced: one draw per statement) */
        int ex = (int)(tr_rng_u32(&r) % 50) - 40;
        double real = ldexp(frac, ex);
        if (tr_rng_u32(&r) & 1)
            real = -real;
        int32_t mult, shift;
        ck_assert_int_eq(qrt_quantize_multiplier(real, &mult, &shift), QRT_OK);
        ck_assert(shift >= QRT_SHIFT_MIN && shift <= QRT_SHIFT_MAX);
        if (shift > QRT_SHIFT_MIN)
            ck_assert(llabs((long long)mult) >= (1ll << 30) && llabs((long long)mult) < (1ll << 31));
        int32_t acc = (int32_t)tr_rng_u32(&r);
        acc >>= tr_rng_u32(&r) % 31;
        double y = (double)acc * real;
        if (fabs(y) > 2e9)
            continue;
        int32_t q = qrt_requant(acc, mult, shift);
        /* exactly floor(acc·mult / 2^(31−shift) + 1/2) */
        ck_assert_int_eq(q, requant_exact(acc, mult, shift));
        /* the multiplier's relative error is ≤ 2^-31 (normalized), the rounding ≤ 1/2 */
        double err = fabs(q - y);
        double bound = 0.5 + fabs(y) * ldexp(1.0, -31) + 1e-9;
        ck_assert_msg(err <= bound, "requant(%d, %d, %d) = %d, real %.17g: error %.3g > %.3g",
                      acc, mult, shift, q, y, err, bound);
        if (fabs(y) < (1 << 24) && err > worst)
            worst = err;
    }
    printf("runtime: requant max |error| for |y| < 2^24: %.6f LSB\n", worst);
    /* the 32-bit implementation against its int64 twin and the exact value, every shift, any operands */
    static const int32_t edge[] = {INT32_MIN, INT32_MIN + 1, -65536, -65535, -1, 0, 1, 65535,
                                   65536, INT32_MAX - 1, INT32_MAX};
    long bad = 0;
    for (int32_t sh = QRT_SHIFT_MIN; sh <= QRT_SHIFT_MAX; sh++)
        for (int k = 0; k < 20000; k++) {
            int32_t a, m;
            if (k < 121) {
                a = edge[k % 11];
                m = edge[k / 11];
            } else {
                a = (int32_t)tr_rng_u32(&r);
                a >>= tr_rng_u32(&r) % 32;
                m = (int32_t)tr_rng_u32(&r);
            }
            int32_t y = qrt_requant(a, m, sh);
            int32_t want = requant_exact(a, m, sh);
            bad += y != want || qrt_requant_ref(a, m, sh) != want;
        }
    ck_assert_int_eq(bad, 0);
    ck_assert(worst <= 0.5 + ldexp(1.0, -7));
    /* the 15-bit form = the exact value of m·2^16, every r, wherever that fits int32 (edge
     * operands crossed, then random ones of every magnitude) */
    static const int32_t edge15[] = {-32768, -32767, -1, 0, 1, 255, 256, 16384, 32767};
    long n15 = 0;
    for (uint32_t rr = 1; rr <= 46; rr++)
        for (int k = 0; k < 20000; k++) {
            int32_t a, m;
            if (k < 99) {
                a = edge[k % 11];
                m = edge15[k / 11];
            } else {
                a = (int32_t)tr_rng_u32(&r);
                a >>= tr_rng_u32(&r) % 32;
                m = (int32_t)(tr_rng_u32(&r) >> 16) - 32768;
            }
            int32_t sh = 15 - (int32_t)rr;
            int32_t want = requant_exact(a, m * 65536, sh);
            if (ldexp(fabs((double)a * m), -(int)rr) >= 2147483647.0)
                continue; /* beyond the caller's bound */
            n15++;
            bad += qrt_requant15(a, m, rr) != want;
        }
    ck_assert_int_eq(bad, 0);
    ck_assert(n15 > 800000);
    /* edges: saturation, zero, the extreme shifts, ties round up */
    ck_assert_int_eq(qrt_requant(INT32_MAX, INT32_MAX, 30), INT32_MAX);
    ck_assert_int_eq(qrt_requant(INT32_MIN, INT32_MAX, 30), INT32_MIN);
    ck_assert_int_eq(qrt_requant(12345, 0, 0), 0);
    ck_assert_int_eq(qrt_requant(3, 1 << 30, 0), 2);   /* 1.5 → 2 */
    ck_assert_int_eq(qrt_requant(-3, 1 << 30, 0), -1); /* −1.5 → −1 (half up) */
    ck_assert_int_eq(qrt_requant(INT32_MAX, 1, -31), 0);
    int32_t m, s;
    ck_assert_int_eq(qrt_quantize_multiplier(1.0, &m, &s), QRT_OK);
    ck_assert_int_eq(m, 1 << 30);
    ck_assert_int_eq(s, 1);
    ck_assert_int_eq(qrt_requant(-777, m, s), -777);
    ck_assert_int_eq(qrt_quantize_multiplier(0.0, &m, &s), QRT_OK);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(qrt_quantize_multiplier(ldexp(1.0, 30), &m, &s), QRT_ERR_RANGE);
    ck_assert_int_eq(qrt_quantize_multiplier(NAN, &m, &s), QRT_ERR_RANGE);
    ck_assert_int_eq(qrt_quantize_multiplier(ldexp(0.75, -40), &m, &s), QRT_OK);
    ck_assert_int_eq(s, QRT_SHIFT_MIN);
    ck_assert(fabs(qrt_rq_real((qrt_rq){m, s}) - ldexp(0.75, -40)) <= ldexp(1.0, -63));
    ck_assert_int_eq(qrt_quantize_multiplier(-0.999999999999, &m, &s), QRT_OK); /* rounds to 2^31 */
    ck_assert_int_eq(m, -(1 << 30));
    ck_assert_int_eq(s, 1);
}
END_TEST

/* ---- tanh and sigmoid ---------------------------------------------------------------- */

START_TEST(test_tanh_sigmoid)
{
    double et = 0, es = 0;
    int32_t prev_t = -40000, prev_s = -40000;
    long bad_mono = 0, bad_odd = 0;
    for (int64_t x = -20 * 65536; x <= 20 * 65536; x += 3) {
        int32_t t = qrt_tanh_q16((int32_t)x), s = qrt_sigmoid_q16((int32_t)x);
        double xr = x / 65536.0;
        double dt = fabs(t / 32768.0 - tanh(xr)), ds = fabs(s / 32768.0 - 1.0 / (1.0 + exp(-xr)));
        if (dt > et)
            et = dt;
        if (ds > es)
            es = ds;
        /* monotone up to one LSB, odd (no ck_assert in the loop: each one is a mark point) */
        bad_mono += t < prev_t - 1 || s < prev_s - 1;
        bad_odd += qrt_tanh_q16((int32_t)-x) != -t;
        prev_t = t;
        prev_s = s;
    }
    ck_assert_int_eq(bad_mono, 0);
    ck_assert_int_eq(bad_odd, 0);
    ck_assert_int_eq(qrt_tanh_q16(0), 0);
    ck_assert_int_eq(qrt_sigmoid_q16(0), 16384);
    ck_assert_int_eq(qrt_tanh_q16(INT32_MAX), 32768);
    ck_assert_int_eq(qrt_tanh_q16(INT32_MIN), -32768);
    ck_assert_int_eq(qrt_sigmoid_q16(INT32_MIN), 0);
    ck_assert_int_eq(qrt_sigmoid_q16(INT32_MAX), 32768);
    printf("runtime: max |tanh error| %.3g (%.2f LSB Q15), max |sigmoid error| %.3g (%.2f LSB)\n",
           et, et * 32768, es, es * 32768);
    ck_assert(et <= 1.5 / 32768);
    ck_assert(es <= 1.5 / 32768);
    /* every Q16 input of the quartic segments (x < 6): the fitted table's own bound */
    double eq = 0;
    for (int32_t x = 0; x < 6 * 65536; x++) {
        double d = fabs(qrt_tanh_q16(x) / 32768.0 - tanh(x / 65536.0));
        if (d > eq)
            eq = d;
    }
    printf("runtime: tanh below 6, every input: max |error| %.2f LSB\n", eq * 32768);
    ck_assert(eq <= 0.97 / 32768);
}
END_TEST

/* qrt_gru_gates at the corners: z, r ∈ {0, 1} (saturated sigmoids), n = ±1, h = ±1, where
 * the state update's intermediate product z·(h − n) reaches 2^31; against the int64 form,
 * whose 32768 (z = 0, n = 1.0) the state's int16 bound QRT_STATE_MAX cuts to 32767. */
START_TEST(test_gru_gates_extremes)
{
    static const int32_t big[] = {-(1 << 24), -(3 << 16), 0, 3 << 16, 1 << 24};
    long bad = 0, hit = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int c = 0; c < 5; c++)
                for (int d = 0; d < 5; d++)
                    for (int32_t h0 = -32768; h0 <= 32768; h0 += 16384) {
                        int32_t pre[4] = {big[a], big[b], big[c], big[d]}, h = h0;
                        qrt_gru_gates(pre, &h, 1);
                        int64_t z = qrt_sigmoid_q16(pre[0]), rr = qrt_sigmoid_q16(pre[1]);
                        int64_t n = qrt_tanh_q16((int32_t)(pre[2] + ((rr * pre[3] + 16384) >> 15)));
                        int64_t want = ((32768 - z) * n + z * h0 + 16384) >> 15;
                        hit += want == 32768; /* the value int16 cannot hold occurs */
                        bad += h != (int32_t)(want > QRT_STATE_MAX ? QRT_STATE_MAX : want);
                    }
    ck_assert_int_eq(bad, 0);
    ck_assert(hit > 0);
}
END_TEST
/* ---- input transform ------------------------------------------------------------------ */

/* Distance of v to the nearest half-integer (a rounding boundary). */
static double to_boundary(double v)
{
    double f = v - floor(v);
    return fabs(f - 0.5);
}

/* qrt_quantize_raw16 with the constants of qrt_input_consts against the host's float
 * quantization (qrt_quantize_input of x = raw · raw_scale, computed in double from the stored
 * binary32 mean, std and input scale), for every feature, many random raw values, the
 * extremes, several raw scales (dyadic ones, where x is exact in binary32, against
 * qrt_quantize_input itself; others against the same formula in double) and input bounds. The
 * results are equal except where the exact value lies within the documented
 * ε = (|raw·a| + a)·2^−31 (+ |v|·2^−50 for the host's own double arithmetic) of a rounding
 * boundary, and there they differ by 1. */
START_TEST(test_input_transform)
{
    enum { F = 6 };
    float mean[F] = {0.0f, 512.25f, -300.5f, 2048.0f, 13.0f, 9.81f};
    float sd[F] = {1.0f, 80.5f, 12.25f, 1000.0f, 2.0f, 3.3f};
    const int32_t in_maxes[3] = {32767, 1 << 20, 1 << 24};
    const double scales[5] = {1.0, 0.5, 0.0625, 9.81 / 4096.0, 3.0};
    const int dyadic[5] = {1, 1, 1, 0, 0};
    tr_rng r = {73};
    size_t n_cmp = 0, n_diff = 0;
    double worst_eps = 0.0;
    for (int k = 0; k < 3; k++) {
        int32_t A = in_maxes[k];
        qrt_builder *b;
        qrt_builder_input in = {1, F, A, 6.0 / A, mean, sd};
        ck_assert_int_eq(qrt_builder_new(&b, &in), QRT_OK);
        int8_t w[2 * F];
        for (size_t i = 0; i < 2 * F; i++)
            w[i] = 1;
        qrt_rq rq = {1 << 30, -20};
        qrt_builder_dense d = {F, 2, {8, w}, NULL, &rq, 1, NULL, 1 << 24};
        ck_assert_int_eq(qrt_builder_add_dense(b, &d), QRT_OK);
        uint8_t *blob;
        size_t len;
        ck_assert_int_eq(qrt_builder_finish(b, &blob, &len), QRT_OK);
        qrt_builder_free(b);
        qrt_model m;
        ck_assert_int_eq(qrt_model_load(&m, blob, len), QRT_OK);
        qrt_host_view hv;
        ck_assert_int_eq(qrt_host_view_get(&m, &hv), QRT_OK);
        for (int si = 0; si < 5; si++) {
            qrt_inq q[F];
            double a[F];
            ck_assert_int_eq(qrt_input_consts(&m, scales[si], q, a), QRT_OK);
            if (k == 2 && si == 0) { /* one raw count = 2^30 steps or more; not positive */
                qrt_inq q2[F];
                ck_assert_int_eq(qrt_input_consts(&m, 1e6, q2, NULL), QRT_ERR_RANGE);
                ck_assert_int_eq(qrt_input_consts(&m, 0.0, q2, NULL), QRT_ERR_RANGE);
                ck_assert_int_eq(qrt_input_consts(&m, 1e-12, q2, NULL), QRT_ERR_RANGE);
            }
            for (int trial = 0; trial < 20000; trial++) {
                int16_t raw[F];
                float x[F];
                int32_t dev[F], host[F];
                for (size_t f = 0; f < F; f++) {
                    int32_t v = (int32_t)(tr_rng_u32(&r) % 65536u) - 32768;
                    if (trial < 3)
                        v = trial == 0 ? -32768 : trial == 1 ? 32767 : 0;
                    else if (trial < 2000) /* around the mean, where values are small */
                        v = (int32_t)llround(mean[f] / scales[si]) + (int32_t)(tr_rng_u32(&r) % 201u) - 100;
                    v = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
                    raw[f] = (int16_t)v;
                    x[f] = (float)(v * scales[si]);
                }
                qrt_quantize_raw16(q, raw, dev, F, m.in_max);
                if (dyadic[si])
                    ck_assert_int_eq(qrt_quantize_input(&m, x, 1, host), QRT_OK);
                for (size_t f = 0; f < F; f++) {
                    double v = ((double)raw[f] * scales[si] - (double)mean[f]) / (double)sd[f] /
                               hv.in_scale;
                    if (!dyadic[si]) {
                        double rv = v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
                        host[f] = rv > A ? A : rv < -A ? -A : (int32_t)rv;
                    }
                    double eps = (fabs(raw[f] * a[f]) + a[f]) * ldexp(1, -31) +
                                 fabs(v) * ldexp(1, -50);
                    n_cmp++;
                    if (dev[f] != host[f]) {
                        n_diff++;
                        worst_eps = eps > worst_eps ? eps : worst_eps;
                        ck_assert_msg(abs(dev[f] - host[f]) == 1 && to_boundary(v) <= eps,
                                      "in_max %ld scale %g feature %zu raw %d: device %ld, host "
                                      "%ld, v = %.9f (ε %.3g)", (long)A, scales[si], f,
                                      (int)raw[f], (long)dev[f], (long)host[f], v, eps);
                    }
                }
            }
        }
        free(blob);
    }
    printf("runtime: input transform: %zu raw values, %zu differ from the host's float "
           "quantization (each by 1, within ε ≤ %.3g of a rounding boundary)\n", n_cmp, n_diff,
           worst_eps);
}
END_TEST

Suite *qr_suite_runtime_kernels(void)
{
    Suite *s = suite_create("runtime_kernels");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, test_pack_roundtrip);
    tcase_add_test(tc, test_dot_vs_ref);
    tcase_add_test(tc, test_requant);
    tcase_add_test(tc, test_tanh_sigmoid);
    tcase_add_test(tc, test_gru_gates_extremes);
    tcase_add_test(tc, test_input_transform);
    suite_add_tcase(s, tc);
    return s;
}
