/* The device runtime (runtime/, docs/runtime.md): packing, packed kernels against their _ref
 * twins, requantization and tanh/sigmoid against double, every integer layer against a float
 * layer, whole bts- and gsc-shaped models against their float (fake-quantized) models,
 * streaming against whole sequences and against an independent whole-sequence integer
 * reference, blob corruption, scratch sizing, and the builder's outputs.
 *
 * Dimension letters: T frames, F features, C channels, K dot-product length, H GRU units.
 * Tolerances (docs/runtime.md, "Error bounds"), with s_y the output scale (1 LSB):
 *   requant                 |y − acc·real| ≤ 0.5 + |acc·real|·2^-30 LSB
 *   tanh, sigmoid           ≤ 1.5 LSB of Q15 (4.6e-5), tanh ≤ 0.97 LSB on every input below 6; measured ≈ 1.0 LSB
 *   dense, conv1d, bn,      ≤ 1 LSB of s_y against the same layer in double with the same
 *   relu, prelu               (dequantized) weights and input
 *   gru                     ≤ 3e-4 absolute on h (|h| < 1) against double after T steps
 *   whole models            logits within 0.2 % of the logit range of the fake-quantized
 *                           float model (measured ≤ 0.01 %); identical argmax wherever the
 *                           float margin exceeds 1 % of the range. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "../runtime/qrt.h"
#include "../export/qrt_builder.h"
#include "../runtime/qrt_format.h"
#include "../export/qrt_host.h"
#include "../runtime/qrt_sparse.h"

/* ---- deterministic random numbers --------------------------------------------------- */

typedef struct trng {
    uint64_t s;
} trng;

static uint32_t trng_u32(trng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t z = r->s;
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    z ^= z >> 33;
    return (uint32_t)(z >> 32);
}

static double trng_unif(trng *r, double lo, double hi)
{
    return lo + (hi - lo) * (trng_u32(r) / 4294967296.0);
}

/* A random level on the N-bit grid. */
static int8_t trng_level(trng *r, unsigned bits)
{
    if (bits == 1)
        return (trng_u32(r) & 1) ? 1 : -1;
    int m = (1 << (bits - 1)) - 1;
    return (int8_t)((int)(trng_u32(r) % (unsigned)(2 * m + 1)) - m);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    ck_assert_ptr_nonnull(p);
    return p;
}

static uint32_t crc32_test(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_crc(uint8_t *b, size_t len)
{
    put_le32(b + len - 4, crc32_test(b, len - 4));
}

/* ---- packing ------------------------------------------------------------------------ */

START_TEST(test_pack_roundtrip)
{
    trng r = {1};
    static const size_t lens[] = {1, 2, 3, 5, 7, 8, 9, 13, 15, 17, 31, 33, 63, 65};
    for (unsigned bits = 1; bits <= 8; bits++) {
        unsigned c = qrt_container_bits(bits);
        ck_assert_uint_eq(c, bits <= 2 ? bits : (bits <= 4 ? 4u : 8u));
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t cols = lens[li], rows = 3;
            int8_t *lv = xcalloc(rows * cols, 1);
            for (size_t i = 0; i < rows * cols; i++)
                lv[i] = trng_level(&r, bits);
            size_t rb = QRT_ROW_BYTES(cols, c);
            ck_assert_uint_eq(rb, (cols * c + 7) / 8);
            uint8_t *pk = xcalloc(rows * rb, 1);
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
    trng r = {2};
    static const qrt_dot_fn fast[] = {qrt_dot_s1, qrt_dot_s2, qrt_dot_s4, qrt_dot_s8};
    static const qrt_dot_fn ref[] = {qrt_dot_s1_ref, qrt_dot_s2_ref, qrt_dot_s4_ref, qrt_dot_s8_ref};
    static const unsigned cont[] = {1, 2, 4, 8};
    for (int w = 0; w < 4; w++) {
        ck_assert_ptr_eq(qrt_dot_for(cont[w]), fast[w]);
        for (int trial = 0; trial < 400; trial++) {
            size_t n = 1 + trng_u32(&r) % 80;
            unsigned bits = cont[w] == 8 ? 5 + trng_u32(&r) % 4 : (cont[w] == 4 ? 3 + trng_u32(&r) % 2 : cont[w]);
            int8_t *lv = xcalloc(n, 1);
            int32_t *x = xcalloc(n, sizeof *x);
            /* |x| up to 2^17 keeps Σ|w·x| ≤ 80·127·2^17 < 2^31 */
            int32_t amp = trial % 3 == 0 ? 3 : (trial % 3 == 1 ? 32767 : (1 << 17));
            for (size_t i = 0; i < n; i++) {
                lv[i] = trng_level(&r, bits);
                x[i] = (int32_t)(trng_u32(&r) % (2u * (uint32_t)amp + 1)) - amp;
            }
            uint8_t *pk = xcalloc(QRT_ROW_BYTES(n, cont[w]), 1);
            ck_assert_uint_ne(qrt_pack_rows(pk, lv, 1, n, bits), 0);
            int64_t exact = 0;
            for (size_t i = 0; i < n; i++)
                exact += (int64_t)lv[i] * x[i];
            int32_t a = fast[w](pk, x, n), b = ref[w](pk, x, n);
            ck_assert_int_eq(a, b);
            ck_assert_int_eq(a, exact);
            if (cont[w] == 4 && amp <= 32767) { /* the int16-input twin (narrow activations) */
                int16_t *x16 = xcalloc(n, sizeof *x16);
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
    trng r = {3};
    double worst = 0;
    for (int trial = 0; trial < 200000; trial++) {
        double frac = trng_unif(&r, 0.5, 1.0); /* (sequenced: one draw per statement) */
        int ex = (int)(trng_u32(&r) % 50) - 40;
        double real = ldexp(frac, ex);
        if (trng_u32(&r) & 1)
            real = -real;
        int32_t mult, shift;
        ck_assert_int_eq(qrt_quantize_multiplier(real, &mult, &shift), QRT_OK);
        ck_assert(shift >= QRT_SHIFT_MIN && shift <= QRT_SHIFT_MAX);
        if (shift > QRT_SHIFT_MIN)
            ck_assert(llabs((long long)mult) >= (1ll << 30) && llabs((long long)mult) < (1ll << 31));
        int32_t acc = (int32_t)trng_u32(&r);
        acc >>= trng_u32(&r) % 31;
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
                a = (int32_t)trng_u32(&r);
                a >>= trng_u32(&r) % 32;
                m = (int32_t)trng_u32(&r);
            }
            int32_t y = qrt_requant(a, m, sh);
            int32_t want = requant_exact(a, m, sh);
            bad += y != want || qrt_requant_ref(a, m, sh) != want;
        }
    ck_assert_int_eq(bad, 0);
    ck_assert(worst <= 0.5 + ldexp(1.0, -7));
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

/* ---- a float model, its quantization (a miniature exporter) and references ---------- */

enum { MAXL = 10 };

typedef struct flayer {
    int kind;                  /* QRT_LAYER_* */
    size_t n_in, n_out;
    size_t k, stride, dil;     /* conv */
    int causal;
    int ret_seq;               /* gru */
    unsigned bits, bits_h;     /* weight bit-widths (8 = min-max) */
    double *w, *wh, *b, *bh;   /* conv/dense: w (n_out, k·n_in), b (n_out); gru: w (3H, F), wh (3H, H) */
    double *gamma, *beta, *mean, *var, eps; /* batchnorm */
    double *alpha;             /* prelu */
    /* quantization */
    double sw, swh;
    int8_t *qw, *qwh;
    double *wq, *whq;          /* dequantized levels (the fake-quantized float weights) */
    int32_t A;                 /* output bound */
    double s;                  /* output scale */
    int32_t *ib, *ibh, *ioff;
    qrt_rq *rq, *rqh;
    uint32_t nrq, nrqh;
    int fold;                  /* conv/dense: the next batchnorm is folded into this layer */
    int folded;                /* batchnorm folded into the previous layer: skipped */
} flayer;

typedef struct fmodel {
    size_t t, f, n;
    flayer L[MAXL];
    int32_t in_max;
    double in_scale;
    int per_channel;           /* per-channel requant for dense/conv/gru (else per tensor) */
    int sparse;                /* build with qrt_builder_set_sparse (smallest encoding) */
    int32_t acap;              /* > 0: every activation bound at most this (narrow storage) */
} fmodel;

static double *rnd_vec(trng *r, size_t n, double lo, double hi)
{
    double *v = xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = trng_unif(r, lo, hi);
    return v;
}

static size_t span_of(const flayer *l)
{
    return (l->k - 1) * l->dil + 1;
}

static size_t t_out(const flayer *l, size_t t)
{
    if (l->kind != QRT_LAYER_CONV1D)
        return (l->kind == QRT_LAYER_GRU && !l->ret_seq) ? 1 : t;
    size_t sp = span_of(l);
    if (l->causal)
        return (t - 1) / l->stride + 1;
    return t < sp ? 0 : (t - sp) / l->stride + 1;
}

static void fm_add_conv(fmodel *m, trng *r, size_t cin, size_t cout, size_t k, size_t stride,
                        size_t dil, int causal, unsigned bits)
{
    flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = QRT_LAYER_CONV1D;
    l->n_in = cin, l->n_out = cout, l->k = k, l->stride = stride, l->dil = dil, l->causal = causal;
    l->bits = bits;
    double a = 1.5 / sqrt((double)(k * cin));
    l->w = rnd_vec(r, cout * k * cin, -a, a);
    l->b = rnd_vec(r, cout, -0.2, 0.2);
}

static void fm_add_dense(fmodel *m, trng *r, size_t nin, size_t nout, unsigned bits)
{
    flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = QRT_LAYER_DENSE;
    l->n_in = nin, l->n_out = nout, l->bits = bits;
    double a = 1.5 / sqrt((double)nin);
    l->w = rnd_vec(r, nout * nin, -a, a);
    l->b = rnd_vec(r, nout, -0.2, 0.2);
}

static void fm_add_bn(fmodel *m, trng *r, size_t c)
{
    flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = QRT_LAYER_BATCHNORM;
    l->n_in = l->n_out = c;
    l->gamma = rnd_vec(r, c, 0.5, 1.5);
    l->gamma[0] = -l->gamma[0]; /* a negative γ: negative multipliers */
    l->beta = rnd_vec(r, c, -0.3, 0.3);
    l->mean = rnd_vec(r, c, -0.3, 0.3);
    l->var = rnd_vec(r, c, 0.3, 2.0);
    l->eps = 1e-3;
}

static void fm_add_act(fmodel *m, trng *r, int kind, size_t c)
{
    flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->n_in = l->n_out = c;
    if (kind == QRT_LAYER_PRELU)
        l->alpha = rnd_vec(r, c, 0.05, 0.4);
}

static void fm_add_gru(fmodel *m, trng *r, size_t f, size_t h, int ret_seq, unsigned bits,
                       unsigned bits_h)
{
    flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = QRT_LAYER_GRU;
    l->n_in = f, l->n_out = h, l->ret_seq = ret_seq, l->bits = bits, l->bits_h = bits_h;
    double a = 1.5 / sqrt((double)f), ah = 1.2 / sqrt((double)h);
    l->w = rnd_vec(r, 3 * h * f, -a, a);
    l->wh = rnd_vec(r, 3 * h * h, -ah, ah);
    l->b = rnd_vec(r, 3 * h, -0.3, 0.3);
    l->bh = rnd_vec(r, 3 * h, -0.3, 0.3);
}

static void fm_free(fmodel *m)
{
    for (size_t i = 0; i < m->n; i++) {
        flayer *l = &m->L[i];
        double *d[] = {l->w, l->wh, l->b, l->bh, l->gamma, l->beta, l->mean, l->var, l->alpha,
                       l->wq, l->whq};
        for (size_t k = 0; k < sizeof d / sizeof d[0]; k++)
            free(d[k]);
        free(l->qw);
        free(l->qwh);
        free(l->ib);
        free(l->ibh);
        free(l->ioff);
        free(l->rq);
        free(l->rqh);
    }
    m->n = 0;
}

/* Quantize a matrix to N bits, the grid scaled to its range: levels q, scale s, w ≈ q·s.
 * (A trained regularized matrix would use s = 1/M; random weights need their own range.) */
static void quant_matrix(const double *w, size_t n, unsigned bits, int8_t **q, double **wq,
                         double *s)
{
    *q = xcalloc(n, 1);
    *wq = xcalloc(n, sizeof **wq);
    double mx = 0, ma = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(w[i]));
        ma += fabs(w[i]);
    }
    if (bits == 1) {
        *s = ma / (double)n;
        for (size_t i = 0; i < n; i++)
            (*q)[i] = w[i] >= 0 ? 1 : -1;
    } else {
        int M = (1 << (bits - 1)) - 1;
        *s = mx / M;
        for (size_t i = 0; i < n; i++) {
            long v = lround(w[i] / *s);
            (*q)[i] = (int8_t)(v > M ? M : (v < -M ? -M : v));
        }
    }
    for (size_t i = 0; i < n; i++)
        (*wq)[i] = (*q)[i] * *s;
}

static double sigm(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* Float forward of one layer over a sequence x (t, n_in) → y (t_out, n_out), malloc'd.
 * fq: use the dequantized weights. */
static double *flayer_fwd(const flayer *l, const double *x, size_t t, int fq, size_t *to)
{
    size_t ni = l->n_in, no = l->n_out;
    *to = t_out(l, t);
    double *y = xcalloc(*to * no, sizeof *y);
    const double *w = fq && l->wq ? l->wq : l->w;
    const double *wh = fq && l->whq ? l->whq : l->wh;
    switch (l->kind) {
    case QRT_LAYER_DENSE:
        for (size_t s = 0; s < t; s++)
            for (size_t o = 0; o < no; o++) {
                double a = l->b[o];
                for (size_t i = 0; i < ni; i++)
                    a += w[o * ni + i] * x[s * ni + i];
                y[s * no + o] = a;
            }
        break;
    case QRT_LAYER_CONV1D: {
        size_t pad = l->causal ? span_of(l) - 1 : 0;
        for (size_t s = 0; s < *to; s++)
            for (size_t o = 0; o < no; o++) {
                double a = l->b[o];
                for (size_t j = 0; j < l->k; j++) {
                    long src = (long)(s * l->stride + j * l->dil) - (long)pad;
                    if (src < 0)
                        continue;
                    for (size_t c = 0; c < ni; c++)
                        a += w[o * l->k * ni + j * ni + c] * x[(size_t)src * ni + c];
                }
                y[s * no + o] = a;
            }
        break;
    }
    case QRT_LAYER_BATCHNORM:
        for (size_t s = 0; s < t; s++)
            for (size_t c = 0; c < ni; c++)
                y[s * no + c] = l->gamma[c] * (x[s * ni + c] - l->mean[c]) / sqrt(l->var[c] + l->eps) +
                                l->beta[c];
        break;
    case QRT_LAYER_RELU:
        for (size_t i = 0; i < t * ni; i++)
            y[i] = x[i] > 0 ? x[i] : 0;
        break;
    case QRT_LAYER_PRELU:
        for (size_t s = 0; s < t; s++)
            for (size_t c = 0; c < ni; c++) {
                double v = x[s * ni + c];
                y[s * no + c] = v >= 0 ? v : l->alpha[c] * v;
            }
        break;
    case QRT_LAYER_GRU: {
        size_t H = no;
        double *h = xcalloc(H, sizeof *h), *hn = xcalloc(H, sizeof *hn);
        for (size_t s = 0; s < t; s++) {
            for (size_t j = 0; j < H; j++) {
                double gi[3], gh[3];
                for (int q = 0; q < 3; q++) {
                    size_t row = (size_t)q * H + j;
                    gi[q] = l->b[row];
                    gh[q] = l->bh[row];
                    for (size_t i = 0; i < ni; i++)
                        gi[q] += w[row * ni + i] * x[s * ni + i];
                    for (size_t i = 0; i < H; i++)
                        gh[q] += wh[row * H + i] * h[i];
                }
                double z = sigm(gi[0] + gh[0]), rr = sigm(gi[1] + gh[1]);
                double n = tanh(gi[2] + rr * gh[2]);
                hn[j] = (1 - z) * n + z * h[j];
            }
            memcpy(h, hn, H * sizeof *h);
            if (l->ret_seq)
                memcpy(y + s * H, h, H * sizeof *h);
        }
        if (!l->ret_seq)
            memcpy(y, h, H * sizeof *h);
        free(h);
        free(hn);
        break;
    }
    }
    return y;
}

/* Whole model forward: the last layer's output sequence (*to frames); absmax[i] gets the
 * max |output| of layer i (if non-NULL, accumulated). */
static double *fmodel_fwd(const fmodel *m, const double *x, int fq, size_t *to, double *absmax)
{
    size_t t = m->t;
    double *cur = xcalloc(t * m->f, sizeof *cur);
    memcpy(cur, x, t * m->f * sizeof *cur);
    for (size_t i = 0; i < m->n; i++) {
        size_t tn;
        double *y = flayer_fwd(&m->L[i], cur, t, fq, &tn);
        if (absmax)
            for (size_t k = 0; k < tn * m->L[i].n_out; k++)
                absmax[i] = fmax(absmax[i], fabs(y[k]));
        free(cur);
        cur = y;
        t = tn;
    }
    *to = t;
    return cur;
}

static int is_linear(int kind)
{
    return kind == QRT_LAYER_DENSE || kind == QRT_LAYER_CONV1D || kind == QRT_LAYER_GRU;
}

/* The bound for the tensor entering layer i: limited by the first weighted layer reading it
 * through scale-preserving layers (relu, prelu), with half the accumulator left for the bias;
 * at most 2^22. */
static int32_t bound_for(const fmodel *m, size_t i)
{
    int64_t A = 1 << 22;
    for (; i < m->n; i++) {
        const flayer *l = &m->L[i];
        if (l->kind == QRT_LAYER_RELU || l->kind == QRT_LAYER_PRELU)
            continue;
        if (is_linear(l->kind)) {
            int64_t l1 = qrt_l1_max(l->qw, l->kind == QRT_LAYER_GRU ? 3 * l->n_out : l->n_out,
                                    l->kind == QRT_LAYER_CONV1D ? l->k * l->n_in : l->n_in);
            int64_t lim = (INT32_MAX / 2) / (l1 > 0 ? l1 : 1);
            if (lim < A)
                A = lim;
        }
        break;
    }
    if (m->acap > 0 && A > m->acap)
        A = m->acap;
    return (int32_t)A;
}

static void rq_of(double real, qrt_rq *q)
{
    ck_assert_int_eq(qrt_quantize_multiplier(real, &q->mult, &q->shift), QRT_OK);
}

static int32_t round_i32(double v)
{
    ck_assert(fabs(v) < 2147483647.0);
    return (int32_t)lround(v);
}

/* Quantize weights, calibrate activations on the inputs xs (n_x sequences), choose scales and
 * bounds, fill every layer's integer parameters. fold: fold a batchnorm after conv/dense. */
static void fmodel_quantize(fmodel *m, const double *xs, size_t n_x, int fold)
{
    for (size_t i = 0; i < m->n; i++) {
        flayer *l = &m->L[i];
        if (is_linear(l->kind)) {
            size_t rows = l->kind == QRT_LAYER_GRU ? 3 * l->n_out : l->n_out;
            size_t cols = l->kind == QRT_LAYER_CONV1D ? l->k * l->n_in : l->n_in;
            quant_matrix(l->w, rows * cols, l->bits, &l->qw, &l->wq, &l->sw);
            if (l->kind == QRT_LAYER_GRU)
                quant_matrix(l->wh, rows * l->n_out, l->bits_h, &l->qwh, &l->whq, &l->swh);
        }
        if (fold && (l->kind == QRT_LAYER_DENSE || l->kind == QRT_LAYER_CONV1D) && i + 1 < m->n &&
            m->L[i + 1].kind == QRT_LAYER_BATCHNORM) {
            l->fold = 1;
            m->L[i + 1].folded = 1;
        }
    }
    double absmax[MAXL] = {0}, inmax = 0;
    for (size_t k = 0; k < n_x; k++) {
        size_t to;
        const double *x = xs + k * m->t * m->f;
        for (size_t i = 0; i < m->t * m->f; i++)
            inmax = fmax(inmax, fabs(x[i]));
        free(fmodel_fwd(m, x, 1, &to, absmax));
    }
    m->in_max = bound_for(m, 0);
    m->in_scale = inmax * 1.05 / m->in_max;
    double s_prev = m->in_scale;
    int32_t a_prev = m->in_max;
    for (size_t i = 0; i < m->n; i++) {
        flayer *l = &m->L[i];
        size_t no = l->n_out;
        if (l->folded) { /* output of the folded pair: the batchnorm's */
            l->s = s_prev;
            l->A = a_prev;
            continue;
        }
        if (l->kind == QRT_LAYER_RELU || l->kind == QRT_LAYER_PRELU) {
            l->s = s_prev;
            l->A = a_prev;
        } else if (l->kind == QRT_LAYER_GRU) {
            l->s = 1.0 / 32768;
            l->A = 32768;
        } else {
            size_t src = l->fold ? i + 1 : i;
            l->A = bound_for(m, src + 1);
            l->s = fmax(absmax[src], 1e-6) * 1.1 / l->A;
        }
        switch (l->kind) {
        case QRT_LAYER_DENSE:
        case QRT_LAYER_CONV1D: {
            double sacc = s_prev * l->sw;
            l->ib = xcalloc(no, sizeof *l->ib);
            for (size_t o = 0; o < no; o++)
                l->ib[o] = round_i32(l->b[o] / sacc);
            l->nrq = (m->per_channel || l->fold) ? (uint32_t)no : 1;
            l->rq = xcalloc(l->nrq, sizeof *l->rq);
            if (l->fold) {
                const flayer *bn = &m->L[i + 1];
                l->ioff = xcalloc(no, sizeof *l->ioff);
                for (size_t c = 0; c < no; c++) {
                    double g = bn->gamma[c] / sqrt(bn->var[c] + bn->eps);
                    rq_of(sacc * g / l->s, &l->rq[c]);
                    l->ioff[c] = round_i32((bn->beta[c] - g * bn->mean[c]) / l->s);
                }
            } else {
                for (uint32_t c = 0; c < l->nrq; c++)
                    rq_of(sacc / l->s, &l->rq[c]);
            }
            break;
        }
        case QRT_LAYER_BATCHNORM:
            l->nrq = (uint32_t)no;
            l->rq = xcalloc(no, sizeof *l->rq);
            l->ioff = xcalloc(no, sizeof *l->ioff);
            for (size_t c = 0; c < no; c++) {
                double g = l->gamma[c] / sqrt(l->var[c] + l->eps);
                rq_of(g * s_prev / l->s, &l->rq[c]);
                l->ioff[c] = round_i32((l->beta[c] - g * l->mean[c]) / l->s);
            }
            break;
        case QRT_LAYER_PRELU:
            l->nrq = (uint32_t)no;
            l->rq = xcalloc(no, sizeof *l->rq);
            for (size_t c = 0; c < no; c++)
                rq_of(l->alpha[c], &l->rq[c]);
            break;
        case QRT_LAYER_GRU: {
            size_t h3 = 3 * no;
            double si = s_prev * l->sw, sh = l->swh / 32768.0;
            l->ib = xcalloc(h3, sizeof *l->ib);
            l->ibh = xcalloc(h3, sizeof *l->ibh);
            for (size_t k = 0; k < h3; k++) {
                l->ib[k] = round_i32(l->b[k] / si);
                l->ibh[k] = round_i32(l->bh[k] / sh);
            }
            l->nrq = l->nrqh = m->per_channel ? (uint32_t)h3 : 1;
            l->rq = xcalloc(l->nrq, sizeof *l->rq);
            l->rqh = xcalloc(l->nrqh, sizeof *l->rqh);
            for (uint32_t k = 0; k < l->nrq; k++) {
                rq_of(si * 65536.0, &l->rq[k]);
                rq_of(sh * 65536.0, &l->rqh[k]);
            }
            break;
        }
        default:
            break;
        }
        s_prev = l->s;
        a_prev = l->A;
    }
}

/* Build the blob of a quantized float model. */
static uint8_t *fmodel_build(const fmodel *m, size_t *len, qrt_status want)
{
    qrt_builder *b;
    float *mean = NULL, *std = NULL;
    qrt_builder_input in = {.seq_len = (uint32_t)m->t, .n_features = (uint32_t)m->f,
                            .in_max = m->in_max, .in_scale = m->in_scale, .mean = mean, .std = std};
    ck_assert_int_eq(qrt_builder_new(&b, &in), QRT_OK);
    ck_assert_int_eq(qrt_builder_set_generator(b, "qreg test"), QRT_OK);
    ck_assert_int_eq(qrt_builder_set_sparse(b, m->sparse), QRT_OK);
    for (size_t i = 0; i < m->n; i++) {
        const flayer *l = &m->L[i];
        uint32_t ni = (uint32_t)l->n_in, no = (uint32_t)l->n_out;
        qrt_status st = QRT_OK;
        if (l->folded)
            continue;
        switch (l->kind) {
        case QRT_LAYER_DENSE: {
            qrt_builder_dense p = {ni, no, {l->bits, l->qw}, l->ib, l->rq, l->nrq, l->ioff, l->A};
            st = qrt_builder_add_dense(b, &p);
            break;
        }
        case QRT_LAYER_CONV1D: {
            qrt_builder_conv1d p = {ni, no, (uint32_t)l->k, (uint32_t)l->stride, (uint32_t)l->dil,
                                    l->causal ? QRT_PAD_CAUSAL : QRT_PAD_VALID, {l->bits, l->qw},
                                    l->ib, l->rq, l->nrq, l->ioff, l->A};
            st = qrt_builder_add_conv1d(b, &p);
            break;
        }
        case QRT_LAYER_BATCHNORM: {
            qrt_builder_batchnorm p = {ni, l->rq, l->nrq, l->ioff, l->A};
            st = qrt_builder_add_batchnorm(b, &p);
            break;
        }
        case QRT_LAYER_RELU:
            st = qrt_builder_add_relu(b, ni, l->A);
            break;
        case QRT_LAYER_PRELU: {
            qrt_builder_prelu p = {ni, l->rq, l->nrq, l->A};
            st = qrt_builder_add_prelu(b, &p);
            break;
        }
        case QRT_LAYER_GRU: {
            qrt_builder_gru p = {ni, no, l->ret_seq, {l->bits, l->qw}, {l->bits_h, l->qwh},
                                 l->ib, l->ibh, l->rq, l->nrq, l->rqh, l->nrqh};
            st = qrt_builder_add_gru(b, &p);
            break;
        }
        }
        ck_assert_msg(st == QRT_OK, "add layer %zu: %s", i, qrt_strerror(st));
    }
    ck_assert_int_eq(qrt_builder_set_output_scale(b, m->L[m->n - 1].s), QRT_OK);
    uint8_t *blob = NULL;
    qrt_status st = qrt_builder_finish(b, &blob, len);
    ck_assert_msg(st == want, "finish: %s", qrt_strerror(st));
    qrt_builder_free(b);
    return blob;
}

/* ---- an independent whole-sequence integer reference --------------------------------
 * Layer by layer over whole tensors, with explicit padding, the _ref dot products and the
 * scalar helpers: the same arithmetic as the runtime, none of its streaming machinery. */

static int32_t iclamp(int64_t v, int64_t a)
{
    return (int32_t)(v > a ? a : (v < -a ? -a : v));
}

static int32_t ref_dot(const int8_t *q, const int32_t *x, size_t n, unsigned bits)
{
    /* through the packed _ref twins */
    unsigned c = qrt_container_bits(bits);
    uint8_t *pk = xcalloc(QRT_ROW_BYTES(n, c), 1);
    ck_assert_uint_ne(qrt_pack_rows(pk, q, 1, n, bits), 0);
    int32_t v = c == 1 ? qrt_dot_s1_ref(pk, x, n)
                       : c == 2 ? qrt_dot_s2_ref(pk, x, n)
                                : c == 4 ? qrt_dot_s4_ref(pk, x, n) : qrt_dot_s8_ref(pk, x, n);
    free(pk);
    return v;
}

static int32_t ref_out(const flayer *l, size_t o, int64_t acc)
{
    const qrt_rq *q = &l->rq[l->nrq > 1 ? o : 0];
    int64_t v = qrt_requant((int32_t)acc, q->mult, q->shift);
    if (l->ioff)
        v = iclamp(v, QRT_ACT_MAX) + l->ioff[o];
    return iclamp(v, l->A);
}

static int32_t *ilayer_fwd(const flayer *l, const int32_t *x, size_t t, size_t *to)
{
    size_t ni = l->n_in, no = l->n_out;
    *to = t_out(l, t);
    int32_t *y = xcalloc(*to * no, sizeof *y);
    switch (l->kind) {
    case QRT_LAYER_DENSE:
        for (size_t s = 0; s < t; s++)
            for (size_t o = 0; o < no; o++)
                y[s * no + o] = ref_out(l, o, (int64_t)ref_dot(l->qw + o * ni, x + s * ni, ni, l->bits) + l->ib[o]);
        break;
    case QRT_LAYER_CONV1D: {
        size_t pad = l->causal ? span_of(l) - 1 : 0, kk = l->k * ni;
        int32_t *win = xcalloc(kk, sizeof *win);
        for (size_t s = 0; s < *to; s++) {
            for (size_t j = 0; j < l->k; j++) {
                long src = (long)(s * l->stride + j * l->dil) - (long)pad;
                for (size_t c = 0; c < ni; c++)
                    win[j * ni + c] = src < 0 ? 0 : x[(size_t)src * ni + c];
            }
            for (size_t o = 0; o < no; o++)
                y[s * no + o] = ref_out(l, o, (int64_t)ref_dot(l->qw + o * kk, win, kk, l->bits) + l->ib[o]);
        }
        free(win);
        break;
    }
    case QRT_LAYER_BATCHNORM:
        for (size_t s = 0; s < t; s++)
            for (size_t c = 0; c < ni; c++) {
                int64_t v = qrt_requant(x[s * ni + c], l->rq[c].mult, l->rq[c].shift);
                y[s * no + c] = iclamp(iclamp(v, QRT_ACT_MAX) + l->ioff[c], l->A);
            }
        break;
    case QRT_LAYER_RELU:
        for (size_t i = 0; i < t * ni; i++)
            y[i] = x[i] < 0 ? 0 : iclamp(x[i], l->A);
        break;
    case QRT_LAYER_PRELU:
        for (size_t s = 0; s < t; s++)
            for (size_t c = 0; c < ni; c++) {
                int32_t v = x[s * ni + c];
                y[s * no + c] = iclamp(v >= 0 ? v : qrt_requant(v, l->rq[c].mult, l->rq[c].shift), l->A);
            }
        break;
    case QRT_LAYER_GRU: {
        size_t H = no;
        int32_t *h = xcalloc(H, sizeof *h), *hn = xcalloc(H, sizeof *hn);
        for (size_t s = 0; s < t; s++) {
            for (size_t j = 0; j < H; j++) {
                int32_t gi[3], gh[3];
                for (int q = 0; q < 3; q++) {
                    size_t row = (size_t)q * H + j;
                    const qrt_rq *a = &l->rq[l->nrq > 1 ? row : 0], *b = &l->rqh[l->nrqh > 1 ? row : 0];
                    gi[q] = iclamp(qrt_requant(ref_dot(l->qw + row * ni, x + s * ni, ni, l->bits) + l->ib[row],
                                               a->mult, a->shift), QRT_GATE_MAX);
                    gh[q] = iclamp(qrt_requant(ref_dot(l->qwh + row * H, h, H, l->bits_h) + l->ibh[row],
                                               b->mult, b->shift), QRT_GATE_MAX);
                }
                int64_t z = qrt_sigmoid_q16(gi[0] + gh[0]), rr = qrt_sigmoid_q16(gi[1] + gh[1]);
                int64_t rh = (rr * gh[2] + 16384) >> 15;
                int64_t n = qrt_tanh_q16((int32_t)(gi[2] + rh));
                int64_t v = ((32768 - z) * n + z * h[j] + 16384) >> 15;
                hn[j] = (int32_t)(v > QRT_STATE_MAX ? QRT_STATE_MAX : v);
            }
            memcpy(h, hn, H * sizeof *h);
            if (l->ret_seq)
                memcpy(y + s * H, h, H * sizeof *h);
        }
        if (!l->ret_seq)
            memcpy(y, h, H * sizeof *h);
        free(h);
        free(hn);
        break;
    }
    }
    return y;
}

static int32_t *imodel_fwd(const fmodel *m, const int32_t *xq, size_t *to)
{
    size_t t = m->t;
    int32_t *cur = xcalloc(t * m->f, sizeof *cur);
    for (size_t i = 0; i < t * m->f; i++)
        cur[i] = iclamp(xq[i], m->in_max);
    for (size_t i = 0; i < m->n; i++) {
        if (m->L[i].folded)
            continue;
        size_t tn;
        int32_t *y = ilayer_fwd(&m->L[i], cur, t, &tn);
        free(cur);
        cur = y;
        t = tn;
    }
    *to = t;
    return cur;
}

static int32_t *quantize_x(const fmodel *m, const double *x)
{
    int32_t *q = xcalloc(m->t * m->f, sizeof *q);
    for (size_t i = 0; i < m->t * m->f; i++)
        q[i] = iclamp(llround(x[i] / m->in_scale), m->in_max);
    return q;
}

/* Load a blob into an 8-aligned copy (the tests mutate and free blobs freely). */
typedef struct loaded {
    qrt_model m;
    void *scratch;
    size_t scratch_size;
} loaded;

static void load_ok(loaded *ld, const uint8_t *blob, size_t len)
{
    qrt_status st = qrt_model_load(&ld->m, blob, len);
    ck_assert_msg(st == QRT_OK, "load: %s", qrt_strerror(st));
    ld->scratch_size = qrt_scratch_size(&ld->m);
    ck_assert_uint_gt(ld->scratch_size, 0);
    ld->scratch = xcalloc(1, ld->scratch_size); /* exactly that many bytes: ASan checks them */
}

/* Push every frame; collect the outputs emitted (n_emit × n_out). Checks NOT_READY before
 * the first output and that logits after the last frame equal qrt_run. */
static int32_t *stream_all(loaded *ld, const int32_t *xq, size_t *n_emit, int32_t *final)
{
    const qrt_model *m = &ld->m;
    qrt_stream s;
    ck_assert_int_eq(qrt_stream_init(&s, m, ld->scratch, ld->scratch_size), QRT_OK);
    int32_t *out = xcalloc((size_t)m->seq_len * m->n_outputs, sizeof *out);
    size_t k = 0;
    for (uint32_t t = 0; t < m->seq_len; t++) {
        uint32_t before = s.emitted;
        ck_assert_int_eq(qrt_stream_push(&s, xq + (size_t)t * m->n_features), QRT_OK);
        if (s.emitted == before) {
            if (s.emitted == 0)
                ck_assert_int_eq(qrt_stream_logits(&s, out), QRT_ERR_NOT_READY);
            continue;
        }
        ck_assert_int_eq(qrt_stream_logits(&s, out + k * m->n_outputs), QRT_OK);
        k++;
    }
    ck_assert_int_eq(qrt_stream_logits(&s, final), QRT_OK);
    *n_emit = k;
    return out;
}

typedef struct cmp_stats {
    double max_err;            /* max |int·s − float| */
    double range;              /* max |float| */
    size_t n, argmax_same, argmax_n;
} cmp_stats;

/* Run the blob of m on inputs xs; compare (a) streaming outputs with the whole-sequence
 * integer reference (bit exact), (b) qrt_run with the final streamed output (bit exact),
 * (c) the dequantized outputs with the float model (fq: fake-quantized) on the dequantized
 * input (deq_in) or on the raw input. */
static cmp_stats check_model(const fmodel *m, const uint8_t *blob, size_t len, const double *xs,
                             size_t n_x, int deq_in)
{
    loaded ld;
    load_ok(&ld, blob, len);
    cmp_stats cs = {0};
    size_t no = ld.m.n_outputs;
    int32_t *logits = xcalloc(no, sizeof *logits), *final = xcalloc(no, sizeof *final);
    double *xd = xcalloc(m->t * m->f, sizeof *xd);
    const double s_out = m->L[m->n - 1].s;
    for (size_t k = 0; k < n_x; k++) {
        const double *x = xs + k * m->t * m->f;
        int32_t *xq = quantize_x(m, x);
        size_t n_emit, t_ref;
        int32_t *seq = stream_all(&ld, xq, &n_emit, final);
        int32_t *ref = imodel_fwd(m, xq, &t_ref);
        /* after a last-state GRU only the final output exists; else every emitted frame */
        int head = 0;
        for (size_t i = 0; i < m->n; i++)
            head |= m->L[i].kind == QRT_LAYER_GRU && !m->L[i].ret_seq;
        if (!head) {
            ck_assert_uint_eq(n_emit, t_ref);
            ck_assert_mem_eq(seq, ref, t_ref * no * sizeof *ref);
        }
        ck_assert_mem_eq(final, ref + (t_ref - 1) * no, no * sizeof *ref);
        ck_assert_int_eq(qrt_run(&ld.m, xq, ld.scratch, ld.scratch_size, logits), QRT_OK);
        ck_assert_mem_eq(logits, final, no * sizeof *logits);
        /* against float */
        for (size_t i = 0; i < m->t * m->f; i++)
            xd[i] = deq_in ? xq[i] * m->in_scale : x[i];
        size_t tf;
        double *yf = fmodel_fwd(m, xd, 1, &tf, NULL);
        ck_assert_uint_eq(tf, t_ref);
        for (size_t i = 0; i < tf * no; i++) {
            cs.max_err = fmax(cs.max_err, fabs(ref[i] * s_out - yf[i]));
            cs.range = fmax(cs.range, fabs(yf[i]));
            cs.n++;
        }
        if (no > 1) {
            const double *lastf = yf + (tf - 1) * no;
            size_t af = 0;
            double top = -INFINITY, second = -INFINITY;
            for (size_t i = 0; i < no; i++)
                if (lastf[i] > top) {
                    second = top;
                    top = lastf[i];
                    af = i;
                } else if (lastf[i] > second) {
                    second = lastf[i];
                }
            if (top - second > 0.01 * cs.range) {
                cs.argmax_n++;
                cs.argmax_same += qrt_argmax(logits, no) == af;
            }
        }
        free(yf);
        free(ref);
        free(seq);
        free(xq);
    }
    free(xd);
    free(final);
    free(logits);
    free(ld.scratch);
    return cs;
}

static double *rnd_inputs(trng *r, size_t n, double amp)
{
    return rnd_vec(r, n, -amp, amp);
}

/* ---- single layers ----------------------------------------------------------------- */

/* One (or two) layer model: integer against double within 1 LSB of the output scale. */
static void layer_case(fmodel *m, trng *r, double lsb_tol, const char *what)
{
    double *xs = rnd_inputs(r, 6 * m->t * m->f, 2.0);
    fmodel_quantize(m, xs, 6, 0);
    size_t len;
    uint8_t *blob = fmodel_build(m, &len, QRT_OK);
    cmp_stats cs = check_model(m, blob, len, xs, 6, 1);
    double lsb = m->L[m->n - 1].s;
    ck_assert_msg(cs.max_err <= lsb_tol * lsb, "%s: max error %.3g = %.2f LSB > %.2f", what,
                  cs.max_err, cs.max_err / lsb, lsb_tol);
    free(blob);
    free(xs);
    fm_free(m);
}

START_TEST(test_layer_dense)
{
    trng r = {10};
    static const unsigned bits[] = {1, 2, 3, 4, 5, 8};
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        for (int pc = 0; pc < 2; pc++) {
            fmodel m = {.t = 1, .f = 13, .per_channel = pc};
            fm_add_dense(&m, &r, 13, 7, bits[i]);
            layer_case(&m, &r, 1.0, "dense");
        }
}
END_TEST

START_TEST(test_layer_conv1d)
{
    trng r = {11};
    static const size_t cfg[][4] = {/* k, stride, dilation, causal */
                                    {5, 1, 1, 0}, {5, 1, 1, 1}, {3, 2, 1, 0}, {3, 2, 1, 1},
                                    {3, 1, 2, 0}, {3, 3, 2, 1}, {1, 1, 1, 0}, {4, 2, 3, 0}};
    static const unsigned bits[] = {8, 4, 2, 1};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        for (size_t b = 0; b < 4; b++) {
            fmodel m = {.t = 23, .f = 3, .per_channel = (int)(i & 1)};
            fm_add_conv(&m, &r, 3, 5, cfg[i][0], cfg[i][1], cfg[i][2], (int)cfg[i][3], bits[b]);
            layer_case(&m, &r, 1.0, "conv1d");
        }
}
END_TEST

START_TEST(test_layer_elementwise)
{
    trng r = {12};
    /* a dense layer in front gives the element-wise layer a realistic input scale */
    for (int kind = QRT_LAYER_BATCHNORM; kind <= QRT_LAYER_PRELU; kind++) {
        fmodel m = {.t = 4, .f = 6};
        fm_add_dense(&m, &r, 6, 6, 8);
        if (kind == QRT_LAYER_BATCHNORM)
            fm_add_bn(&m, &r, 6);
        else
            fm_add_act(&m, &r, kind, 6);
        /* 1 LSB of the element-wise layer's own rounding, plus the dense layer's 0.5 LSB
         * carried through (×|γ/σ|·s_x/s_y ≤ ~1 for batchnorm, ×1 or ×α for relu/prelu) */
        layer_case(&m, &r, kind == QRT_LAYER_BATCHNORM ? 2.0 : 1.0, "elementwise");
    }
    /* batchnorm folded into the dense layer in front: per-channel requant and offsets */
    fmodel m = {.t = 4, .f = 6};
    fm_add_dense(&m, &r, 6, 6, 4);
    fm_add_bn(&m, &r, 6);
    double *xs = rnd_inputs(&r, 6 * 4 * 6, 2.0);
    fmodel_quantize(&m, xs, 6, 1);
    size_t len;
    uint8_t *blob = fmodel_build(&m, &len, QRT_OK);
    cmp_stats cs = check_model(&m, blob, len, xs, 6, 1);
    ck_assert(cs.max_err <= 1.0 * m.L[1].s);
    free(blob);
    free(xs);
    fm_free(&m);
}
END_TEST

START_TEST(test_layer_gru)
{
    trng r = {13};
    static const unsigned bits[][2] = {{8, 8}, {4, 8}, {2, 4}, {1, 1}, {8, 2}};
    double worst = 0;
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++)
        for (int seq = 0; seq < 2; seq++) {
            fmodel m = {.t = 30, .f = 6, .per_channel = seq};
            fm_add_gru(&m, &r, 6, 5, seq, bits[b][0], bits[b][1]);
            double *xs = rnd_inputs(&r, 6 * m.t * m.f, 1.5);
            fmodel_quantize(&m, xs, 6, 0);
            size_t len;
            uint8_t *blob = fmodel_build(&m, &len, QRT_OK);
            cmp_stats cs = check_model(&m, blob, len, xs, 6, 1);
            worst = fmax(worst, cs.max_err);
            ck_assert_msg(cs.max_err <= 3e-4, "gru %u/%u bits: max |h error| %.3g", bits[b][0],
                          bits[b][1], cs.max_err);
            free(blob);
            free(xs);
            fm_free(&m);
        }
    printf("runtime: GRU (T = 30, H = 5) max |h error| against double: %.3g\n", worst);
}
END_TEST

/* ---- whole models --------------------------------------------------------------------- */

/* bts: Conv1D(6, 5, valid) → BN → ReLU|PReLU → GRU(5) → Dense(2), input 40 × 3. */
static void make_bts(fmodel *m, trng *r, unsigned bits, int prelu)
{
    memset(m, 0, sizeof *m);
    m->t = 40;
    m->f = 3;
    fm_add_conv(m, r, 3, 6, 5, 1, 1, 0, bits);
    fm_add_bn(m, r, 6);
    fm_add_act(m, r, prelu ? QRT_LAYER_PRELU : QRT_LAYER_RELU, 6);
    fm_add_gru(m, r, 6, 5, 0, bits, bits);
    fm_add_dense(m, r, 5, 2, bits);
}

static void model_case(fmodel *m, trng *r, size_t n_x, int fold, double rel_tol, const char *what)
{
    double *xs = rnd_inputs(r, n_x * m->t * m->f, 2.0);
    fmodel_quantize(m, xs, n_x, fold);
    size_t len;
    uint8_t *blob = fmodel_build(m, &len, QRT_OK);
    cmp_stats cs = check_model(m, blob, len, xs, n_x, 0);
    printf("runtime: %s: %zu B blob, logits max |int − float| = %.3g (%.3f %% of range %.3g), "
           "argmax agrees %zu/%zu\n", what, len, cs.max_err, 100 * cs.max_err / cs.range, cs.range,
           cs.argmax_same, cs.argmax_n);
    ck_assert_msg(cs.max_err <= rel_tol * cs.range, "%s: %.3g > %.3g of %.3g", what, cs.max_err,
                  rel_tol, cs.range);
    ck_assert_uint_eq(cs.argmax_same, cs.argmax_n);
    free(blob);
    free(xs);
    fm_free(m);
}

START_TEST(test_model_bts)
{
    trng r = {20};
    static const unsigned bits[] = {8, 4, 2, 1};
    char what[64];
    for (size_t b = 0; b < 4; b++)
        for (int v = 0; v < 3; v++) { /* 0: relu, 1: prelu, 2: relu with batchnorm folded */
            fmodel m;
            make_bts(&m, &r, bits[b], v == 1);
            snprintf(what, sizeof what, "bts %u-bit%s", bits[b],
                     v == 1 ? " prelu" : (v == 2 ? " folded bn" : ""));
            model_case(&m, &r, 40, v == 2, 0.002, what);
        }
}
END_TEST

/* gsc: Conv1D(128, 10) → BN → ReLU → GRU(196) → BN → Dense(12), input 94 × 13. */
START_TEST(test_model_gsc)
{
    trng r = {21};
    fmodel m = {.t = 94, .f = 13};
    fm_add_conv(&m, &r, 13, 128, 10, 1, 1, 0, 4);
    fm_add_bn(&m, &r, 128);
    fm_add_act(&m, &r, QRT_LAYER_RELU, 128);
    fm_add_gru(&m, &r, 128, 196, 0, 4, 4);
    fm_add_bn(&m, &r, 196);
    fm_add_dense(&m, &r, 196, 12, 8);
    model_case(&m, &r, 3, 0, 0.002, "gsc 4-bit");
}
END_TEST

/* Two convolutions (causal, then strided valid with dilation), a sequence GRU, a dense layer
 * per frame: no head, every frame's output compared. Then a stacked GRU with a head. */
START_TEST(test_model_stacks)
{
    trng r = {22};
    fmodel m = {.t = 37, .f = 4};
    fm_add_conv(&m, &r, 4, 6, 3, 1, 1, 1, 8);
    fm_add_act(&m, &r, QRT_LAYER_RELU, 6);
    fm_add_conv(&m, &r, 6, 5, 3, 2, 2, 0, 4);
    fm_add_gru(&m, &r, 5, 4, 1, 8, 8);
    fm_add_dense(&m, &r, 4, 3, 2);
    model_case(&m, &r, 8, 0, 0.002, "conv-conv-gru(seq)-dense");

    fmodel g = {.t = 25, .f = 3};
    fm_add_gru(&g, &r, 3, 6, 1, 8, 8);
    fm_add_gru(&g, &r, 6, 4, 0, 4, 8);
    fm_add_dense(&g, &r, 4, 4, 8);
    fm_add_act(&g, &r, QRT_LAYER_RELU, 4);
    fm_add_dense(&g, &r, 4, 3, 8);
    model_case(&g, &r, 8, 0, 0.002, "gru(seq)-gru-dense-relu-dense");

    fmodel p = {.t = 1, .f = 10}; /* a flat MLP: T = 1 */
    fm_add_dense(&p, &r, 10, 16, 8);
    fm_add_act(&p, &r, QRT_LAYER_PRELU, 16);
    fm_add_dense(&p, &r, 16, 3, 1);
    model_case(&p, &r, 20, 0, 0.002, "mlp");
}
END_TEST

/* ---- streaming ------------------------------------------------------------------------ */

START_TEST(test_stream)
{
    trng r = {30};
    for (int causal = 0; causal < 2; causal++) {
        fmodel m;
        make_bts(&m, &r, 8, 0);
        m.L[0].causal = causal;
        double *xs = rnd_inputs(&r, 4 * m.t * m.f, 2.0);
        fmodel_quantize(&m, xs, 4, 0);
        size_t len;
        uint8_t *blob = fmodel_build(&m, &len, QRT_OK);
        loaded ld;
        load_ok(&ld, blob, len);
        int32_t *xq = quantize_x(&m, xs);
        int32_t whole[2], st[2];
        ck_assert_int_eq(qrt_run(&ld.m, xq, ld.scratch, ld.scratch_size, whole), QRT_OK);
        qrt_stream s;
        ck_assert_int_eq(qrt_stream_init(&s, &ld.m, ld.scratch, ld.scratch_size), QRT_OK);
        /* push a different sequence first, then reset: no trace of it remains */
        int32_t *noise = quantize_x(&m, xs + m.t * m.f);
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
        void *scratch2 = xcalloc(1, ld.scratch_size);
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
        fm_free(&m);
    }
}
END_TEST

/* ---- blob validation ------------------------------------------------------------------ */

static uint8_t *bts_blob(size_t *len, fmodel *m, int prelu)
{
    trng r = {40};
    make_bts(m, &r, 4, prelu);
    m->L[3].bits = 8; /* hybrid: an 8-bit GRU input kernel */
    double *xs = rnd_inputs(&r, 4 * m->t * m->f, 2.0);
    fmodel_quantize(m, xs, 4, 0);
    free(xs);
    return fmodel_build(m, len, QRT_OK);
}

/* Load a mutated copy (8-aligned); never QRT_OK. Returns the status. */
static qrt_status load_copy(const uint8_t *b, size_t len)
{
    uint8_t *c = xcalloc(len ? len : 1, 1);
    memcpy(c, b, len);
    qrt_model m;
    qrt_status st = qrt_model_load(&m, c, len);
    if (st != QRT_OK)
        for (size_t i = 0; i < sizeof m; i++)
            ck_assert_uint_eq(((uint8_t *)&m)[i], 0);
    free(c);
    return st;
}

START_TEST(test_blob_truncation_and_bitflips)
{
    fmodel m;
    size_t len;
    uint8_t *blob = bts_blob(&len, &m, 0);
    ck_assert_int_eq(load_copy(blob, len), QRT_OK);
    for (size_t n = 0; n < len; n++) {
        qrt_status st = load_copy(blob, n);
        ck_assert_msg(st != QRT_OK, "truncated to %zu loaded", n);
        if (n >= QRT_HEADER_SIZE + QRT_TRAILER_SIZE)
            ck_assert_int_eq(st, QRT_ERR_TRUNCATED);
    }
    /* a longer buffer than the blob declares */
    uint8_t *longer = xcalloc(len + 8, 1);
    memcpy(longer, blob, len);
    ck_assert_int_eq(load_copy(longer, len + 8), QRT_ERR_FORMAT);
    free(longer);
    /* every single bit flip */
    uint8_t *c = xcalloc(len, 1);
    memcpy(c, blob, len);
    size_t n_flips = 0;
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            c[i] ^= (uint8_t)(1u << bit);
            qrt_model mm;
            qrt_status st = qrt_model_load(&mm, c, len);
            ck_assert_msg(st != QRT_OK, "bit flip at byte %zu bit %d loaded", i, bit);
            c[i] ^= (uint8_t)(1u << bit);
            n_flips++;
        }
    ck_assert_int_eq(load_copy(c, len), QRT_OK);
    /* misaligned blob */
    uint8_t *mis = xcalloc(len + 8, 1);
    memcpy(mis + 4, blob, len);
    qrt_model mm;
    ck_assert_int_eq(qrt_model_load(&mm, mis + 4, len), QRT_ERR_ALIGN);
    ck_assert_int_eq(qrt_model_load(&mm, NULL, len), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_model_load(NULL, blob, len), QRT_ERR_ARG);
    printf("runtime: %zu-byte blob: %zu truncations and %zu bit flips rejected\n", len, len, n_flips);
    free(mis);
    free(c);
    free(blob);
    fm_free(&m);
}
END_TEST

/* Set a 32-bit (or 16-bit) field, fix the CRC, expect a status. */
static void expect_field(const uint8_t *blob, size_t len, size_t off, int width, uint32_t v,
                         qrt_status want, const char *what)
{
    uint8_t *c = xcalloc(len, 1);
    memcpy(c, blob, len);
    if (width == 4)
        put_le32(c + off, v);
    else if (width == 2) {
        c[off] = (uint8_t)v;
        c[off + 1] = (uint8_t)(v >> 8);
    } else
        c[off] = (uint8_t)v;
    /* without the CRC fixed: rejected by the checksum (or earlier) */
    qrt_model m;
    ck_assert_msg(qrt_model_load(&m, c, len) != QRT_OK, "%s: loaded with a stale CRC", what);
    fix_crc(c, len);
    qrt_status st = qrt_model_load(&m, c, len);
    ck_assert_msg(st == want, "%s = %u: got %d (%s), want %d (%s)", what, v, st, qrt_strerror(st),
                  want, qrt_strerror(want));
    free(c);
}

#define HOFF(f) offsetof(qrt_header, f)

START_TEST(test_blob_fields)
{
    fmodel m;
    size_t len;
    uint8_t *b = bts_blob(&len, &m, 1);
    const qrt_header *h = (const qrt_header *)(const void *)b;
    uint32_t lo = h->layers_off, ls = h->layers_size, dof = h->data_off, ds = h->data_size;
    uint32_t ho = h->host_off, hs = h->host_size;

    /* header */
    expect_field(b, len, 0, 1, 'X', QRT_ERR_MAGIC, "magic[0]");
    expect_field(b, len, 7, 1, 0, QRT_ERR_MAGIC, "magic[7]");
    expect_field(b, len, HOFF(version), 4, 3, QRT_ERR_VERSION, "version");
    expect_field(b, len, HOFF(version), 4, 0, QRT_ERR_VERSION, "version");
    expect_field(b, len, HOFF(header_size), 4, 64, QRT_ERR_FORMAT, "header_size");
    expect_field(b, len, HOFF(total_size), 4, (uint32_t)len + 8, QRT_ERR_TRUNCATED, "total_size");
    expect_field(b, len, HOFF(total_size), 4, (uint32_t)len - 8, QRT_ERR_FORMAT, "total_size");
    expect_field(b, len, HOFF(flags), 4, 1, QRT_ERR_FORMAT, "flags");
    expect_field(b, len, HOFF(n_layers), 4, 0, QRT_ERR_RANGE, "n_layers");
    expect_field(b, len, HOFF(n_layers), 4, 99, QRT_ERR_RANGE, "n_layers");
    expect_field(b, len, HOFF(n_layers), 4, 4, QRT_ERR_FORMAT, "n_layers");
    expect_field(b, len, HOFF(n_layers), 4, 6, QRT_ERR_BOUNDS, "n_layers");
    expect_field(b, len, HOFF(layers_off), 4, lo + 4, QRT_ERR_ALIGN, "layers_off");
    expect_field(b, len, HOFF(layers_off), 4, 0, QRT_ERR_BOUNDS, "layers_off");
    expect_field(b, len, HOFF(layers_off), 4, 0xFFFFFFF8u, QRT_ERR_BOUNDS, "layers_off");
    expect_field(b, len, HOFF(layers_size), 4, ls + 8, QRT_ERR_BOUNDS, "layers_size");
    expect_field(b, len, HOFF(layers_size), 4, 0xFFFFFFF0u, QRT_ERR_BOUNDS, "layers_size");
    expect_field(b, len, HOFF(layers_size), 4, ls - 8, QRT_ERR_BOUNDS, "layers_size");
    expect_field(b, len, HOFF(data_off), 4, dof + 3, QRT_ERR_ALIGN, "data_off");
    expect_field(b, len, HOFF(data_off), 4, (uint32_t)len, QRT_ERR_BOUNDS, "data_off");
    expect_field(b, len, HOFF(data_size), 4, ds + 1024, QRT_ERR_BOUNDS, "data_size");
    expect_field(b, len, HOFF(data_size), 4, ds - 8, QRT_ERR_BOUNDS, "data_size");
    expect_field(b, len, HOFF(host_off), 4, ho - 8, QRT_ERR_BOUNDS, "host_off");
    expect_field(b, len, HOFF(host_size), 4, hs + 8, QRT_ERR_BOUNDS, "host_size");
    expect_field(b, len, HOFF(host_size), 4, hs - 8, QRT_ERR_BOUNDS, "host_size");
    expect_field(b, len, HOFF(host_size), 4, 0, QRT_ERR_FORMAT, "host_size");
    expect_field(b, len, HOFF(seq_len), 4, 0, QRT_ERR_SHAPE, "seq_len");
    expect_field(b, len, HOFF(seq_len), 4, 4, QRT_ERR_SHAPE, "seq_len"); /* < conv span 5 */
    expect_field(b, len, HOFF(n_features), 4, 4, QRT_ERR_SHAPE, "n_features");
    expect_field(b, len, HOFF(n_features), 4, 0, QRT_ERR_SHAPE, "n_features");
    expect_field(b, len, HOFF(n_outputs), 4, 3, QRT_ERR_SHAPE, "n_outputs");
    expect_field(b, len, HOFF(in_max), 4, 0, QRT_ERR_RANGE, "in_max");
    expect_field(b, len, HOFF(in_max), 4, 0x80000000u, QRT_ERR_RANGE, "in_max");
    expect_field(b, len, HOFF(in_max), 4, 1u << 30, QRT_ERR_RANGE, "in_max"); /* overflow bound */
    for (int i = 0; i < 7; i++)
        expect_field(b, len, HOFF(reserved) + 4 * (size_t)i, 4, 1, QRT_ERR_FORMAT, "reserved");
    expect_field(b, len, len - 8, 4, 1, QRT_ERR_FORMAT, "trailer reserved");
    /* host section */
    expect_field(b, len, ho + 8, 4, 2, QRT_ERR_FORMAT, "host flags");
    expect_field(b, len, ho + 8, 4, 1, QRT_ERR_FORMAT, "host flags (standardize: size)");
    expect_field(b, len, ho + 12, 4, 1, QRT_ERR_FORMAT, "host reserved");
    expect_field(b, len, ho + 16 + 31, 1, 'x', QRT_ERR_FORMAT, "generator NUL");

    /* layer records: conv (0), bn (1), prelu (2), gru (3), dense (4) */
    size_t rec[5], pos = lo;
    for (int i = 0; i < 5; i++) {
        rec[i] = pos;
        const qrt_layer_rec *lr = (const qrt_layer_rec *)(const void *)(b + pos);
        pos += qrt_rec_size(lr);
    }
    ck_assert_uint_eq(pos, lo + ls);
#define ROFF(f) offsetof(qrt_layer_rec, f)
    expect_field(b, len, rec[0] + ROFF(kind), 2, 0, QRT_ERR_FORMAT, "kind");
    expect_field(b, len, rec[0] + ROFF(kind), 2, 99, QRT_ERR_FORMAT, "kind");
    expect_field(b, len, rec[1] + ROFF(kind), 2, QRT_LAYER_RELU, QRT_ERR_FORMAT, "kind bn→relu");
    expect_field(b, len, rec[0] + ROFF(n_slots), 2, 3, QRT_ERR_FORMAT, "n_slots");
    expect_field(b, len, rec[0] + ROFF(n_in), 4, 4, QRT_ERR_SHAPE, "conv n_in");
    expect_field(b, len, rec[0] + ROFF(n_out), 4, 7, QRT_ERR_SHAPE, "conv n_out");
    expect_field(b, len, rec[0] + ROFF(n_out), 4, 0, QRT_ERR_SHAPE, "conv n_out");
    expect_field(b, len, rec[1] + ROFF(n_out), 4, 5, QRT_ERR_SHAPE, "bn n_out");
    expect_field(b, len, rec[3] + ROFF(n_out), 4, 4, QRT_ERR_SHAPE, "gru n_out");
    expect_field(b, len, rec[4] + ROFF(n_in), 4, 6, QRT_ERR_SHAPE, "dense n_in");
    expect_field(b, len, rec[0] + ROFF(out_max), 4, 0, QRT_ERR_RANGE, "out_max");
    expect_field(b, len, rec[0] + ROFF(out_max), 4, (1u << 30) + 1, QRT_ERR_RANGE, "out_max");
    expect_field(b, len, rec[3] + ROFF(out_max), 4, 32767, QRT_ERR_RANGE, "gru out_max");
    expect_field(b, len, rec[0] + ROFF(kernel), 2, 0, QRT_ERR_RANGE, "kernel");
    expect_field(b, len, rec[0] + ROFF(kernel), 2, 4, QRT_ERR_SHAPE, "kernel");
    expect_field(b, len, rec[0] + ROFF(kernel), 2, 300, QRT_ERR_RANGE, "kernel");
    expect_field(b, len, rec[0] + ROFF(stride), 2, 0, QRT_ERR_RANGE, "stride");
    expect_field(b, len, rec[0] + ROFF(dilation), 2, 0, QRT_ERR_RANGE, "dilation");
    expect_field(b, len, rec[0] + ROFF(dilation), 2, 20, QRT_ERR_SHAPE, "dilation"); /* T too short */
    expect_field(b, len, rec[0] + ROFF(flags), 2, 1, QRT_ERR_FORMAT, "padding same without its zeros");
    expect_field(b, len, rec[0] + ROFF(flags), 2, 8, QRT_ERR_FORMAT, "conv flags");
    expect_field(b, len, rec[3] + ROFF(flags), 2, 1, QRT_ERR_FORMAT, "gru flags");
    expect_field(b, len, rec[4] + ROFF(kernel), 2, 1, QRT_ERR_FORMAT, "dense kernel");
    expect_field(b, len, rec[2] + ROFF(reserved), 4, 1, QRT_ERR_FORMAT, "rec reserved");
    /* slots of the conv: [weights, bias, requant, offset] */
    size_t s0 = rec[0] + QRT_REC_SIZE;
    uint32_t wdesc = get_le32(b + s0), woff = get_le32(b + s0 + 4);
    expect_field(b, len, s0, 4, QRT_SLOT_DESC(QRT_T_I32, QRT_SLOT_COUNT(wdesc)), QRT_ERR_FORMAT, "w type");
    expect_field(b, len, s0, 4, QRT_SLOT_DESC(9, QRT_SLOT_COUNT(wdesc)), QRT_ERR_FORMAT, "w bits 9");
    expect_field(b, len, s0, 4, QRT_SLOT_DESC(4, QRT_SLOT_COUNT(wdesc) + 1), QRT_ERR_SHAPE, "w count");
    expect_field(b, len, s0, 4, 0, QRT_ERR_FORMAT, "w absent");
    expect_field(b, len, s0 + 4, 4, woff + 4, QRT_ERR_ALIGN, "w offset");
    expect_field(b, len, s0 + 4, 4, lo, QRT_ERR_BOUNDS, "w offset (in the records)");
    expect_field(b, len, s0 + 4, 4, ho, QRT_ERR_BOUNDS, "w offset (in the host section)");
    expect_field(b, len, s0 + 4, 4, dof + ds - 8, QRT_ERR_BOUNDS, "w offset (past the data)");
    expect_field(b, len, s0 + 8, 4, QRT_SLOT_DESC(QRT_T_I32, 5), QRT_ERR_SHAPE, "bias count");
    expect_field(b, len, s0 + 16, 4, QRT_SLOT_DESC(QRT_T_RQ, 2), QRT_ERR_SHAPE, "rq count");
    expect_field(b, len, s0 + 16, 4, 0, QRT_ERR_FORMAT, "rq absent");
    uint32_t rqoff = get_le32(b + s0 + 20);
    expect_field(b, len, rqoff + 4, 4, 31, QRT_ERR_RANGE, "shift 31");
    expect_field(b, len, rqoff + 4, 4, (uint32_t)-32, QRT_ERR_RANGE, "shift -32");
    /* 4-bit weights: level −8 is off the 4-bit grid; an 8-bit GRU weight −128 too */
    expect_field(b, len, woff, 1, 0x88, QRT_ERR_RANGE, "level -8");
    size_t g0 = rec[3] + QRT_REC_SIZE;
    expect_field(b, len, get_le32(b + g0 + 4), 1, 0x80, QRT_ERR_RANGE, "level -128");
    expect_field(b, len, g0 + 8, 4, QRT_SLOT_DESC(4, 15 * 5 - 1), QRT_ERR_SHAPE, "gru wh count");
    /* a bias that could overflow the accumulator */
    uint32_t boff = get_le32(b + s0 + 12);
    expect_field(b, len, boff, 4, 0x7FFFFFF0u, QRT_ERR_RANGE, "bias overflow");
    /* padding bits of a row: conv rows are 15 levels × 4 bits = 7.5 bytes */
    expect_field(b, len, woff + 7, 1, (uint8_t)(b[woff + 7] | 0x80), QRT_ERR_RANGE, "padding bits");
    /* offset beyond 2^30 */
    uint32_t ooff = get_le32(b + rec[1] + QRT_REC_SIZE + 12);
    expect_field(b, len, ooff, 4, 1u << 30, QRT_ERR_RANGE, "bn offset");
    free(b);
    fm_free(&m);
}
END_TEST

/* Random mutations with the CRC fixed: whatever loads must run within its scratch. */
START_TEST(test_blob_fuzz)
{
    fmodel m;
    size_t len;
    uint8_t *b = bts_blob(&len, &m, 0);
    trng r = {41};
    uint8_t *c = xcalloc(len, 1);
    int32_t *x = xcalloc(m.t * m.f, sizeof *x);
    size_t accepted = 0, rounds = 3000;
    for (size_t k = 0; k < rounds; k++) {
        memcpy(c, b, len);
        int nm = 1 + (int)(trng_u32(&r) % 4);
        for (int i = 0; i < nm; i++) {
            size_t at = trng_u32(&r) % (len - 4);
            uint32_t mode = trng_u32(&r) % 4;
            c[at] = mode == 0 ? (uint8_t)trng_u32(&r) : mode == 1 ? (uint8_t)(c[at] ^ (1u << (trng_u32(&r) % 8)))
                                                      : mode == 2 ? 0 : 0xFF;
        }
        fix_crc(c, len);
        qrt_model mm;
        if (qrt_model_load(&mm, c, len) != QRT_OK)
            continue;
        accepted++;
        size_t ss = qrt_scratch_size(&mm);
        void *scratch = xcalloc(1, ss);
        for (size_t i = 0; i < m.t * m.f; i++)
            x[i] = (int32_t)trng_u32(&r); /* anything: inputs are clamped */
        int32_t *logits = xcalloc(mm.n_outputs, sizeof *logits);
        if (mm.seq_len * mm.n_features <= m.t * m.f) /* our input buffer is big enough */
            ck_assert_int_eq(qrt_run(&mm, x, scratch, ss, logits), QRT_OK);
        free(logits);
        free(scratch);
    }
    printf("runtime: fuzz: %zu of %zu mutated blobs (CRC fixed) loaded and ran in bounds\n",
           accepted, rounds);
    free(x);
    free(c);
    free(b);
    fm_free(&m);
}
END_TEST

START_TEST(test_scratch)
{
    fmodel m;
    size_t len;
    uint8_t *b = bts_blob(&len, &m, 0);
    loaded ld;
    load_ok(&ld, b, len);
    /* bts: conv window 5·3 + countdown, GRU state 5; two buffers of 6; no aux (the dense GRU
     * goes unit by unit, its new state in the free buffer) */
    ck_assert_uint_eq(ld.scratch_size, 4u * (16 + 5 + 2 * 6));
    int32_t *x = xcalloc(m.t * m.f, sizeof *x), logits[2];
    for (size_t i = 0; i < m.t * m.f; i++)
        x[i] = (int32_t)(i * 7919 % 2001) - 1000;
    ck_assert_int_eq(qrt_run(&ld.m, x, ld.scratch, ld.scratch_size, logits), QRT_OK);
    ck_assert_int_eq(qrt_run(&ld.m, x, ld.scratch, ld.scratch_size - 1, logits), QRT_ERR_SCRATCH);
    ck_assert_int_eq(qrt_run(&ld.m, x, (char *)ld.scratch + 2, ld.scratch_size, logits), QRT_ERR_ALIGN);
    ck_assert_int_eq(qrt_run(&ld.m, NULL, ld.scratch, ld.scratch_size, logits), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_run(NULL, x, ld.scratch, ld.scratch_size, logits), QRT_ERR_ARG);
    qrt_model empty;
    memset(&empty, 0, sizeof empty);
    ck_assert_uint_eq(qrt_scratch_size(&empty), 0);
    ck_assert_int_eq(qrt_run(&empty, x, ld.scratch, ld.scratch_size, logits), QRT_ERR_ARG);
    ck_assert_str_eq(qrt_strerror(QRT_ERR_CRC), "checksum mismatch (corrupted blob)");
    ck_assert_str_eq(qrt_strerror((qrt_status)-99), "unknown error");
    free(x);
    free(ld.scratch);
    free(b);
    fm_free(&m);
}
END_TEST

/* ---- builder: C sources, host helpers, argument errors --------------------------------- */

START_TEST(test_builder)
{
    fmodel m;
    size_t len;
    uint8_t *b = bts_blob(&len, &m, 0);
    char *dir = tl_tmpdir();
    char cpath[512], hpath[512], qpath[512];
    snprintf(cpath, sizeof cpath, "%s/model.c", dir);
    snprintf(hpath, sizeof hpath, "%s/model.h", dir);
    snprintf(qpath, sizeof qpath, "%s/model.qrt", dir);
    ck_assert_int_eq(qrt_builder_write_c(b, len, "bts", cpath, hpath, "qreg 0.1.0"), QRT_OK);
    ck_assert_int_eq(qrt_builder_write_file(b, len, qpath), QRT_OK);
    ck_assert_int_eq(qrt_builder_write_c(b, len, "9bad", cpath, hpath, "qreg"), QRT_ERR_ARG);
    /* the .qrt file holds the blob */
    FILE *fp = fopen(qpath, "rb");
    ck_assert_ptr_nonnull(fp);
    uint8_t *fb = xcalloc(len + 1, 1);
    ck_assert_uint_eq(fread(fb, 1, len + 1, fp), len);
    fclose(fp);
    ck_assert_mem_eq(fb, b, len);
    free(fb);
    /* model.c: the words decode back to the blob; const, aligned, stamped */
    fp = fopen(cpath, "r");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *text = xcalloc((size_t)n + 1, 1);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(text, "Generated by qreg 0.1.0"));
    ck_assert_ptr_nonnull(strstr(text, "__attribute__((aligned(8)))"));
    ck_assert_ptr_nonnull(strstr(text, "const uint32_t bts_blob["));
    ck_assert_ptr_nonnull(strstr(text, "qrt_status bts_load(qrt_model *m)"));
    ck_assert_ptr_null(strstr(text, "(void *)"));
    const char *p = strstr(text, "= {");
    ck_assert_ptr_nonnull(p);
    uint8_t *back = xcalloc(len, 1);
    size_t k = 0;
    while ((p = strstr(p, "0x")) != NULL && k < len) {
        uint32_t w = (uint32_t)strtoul(p, NULL, 16);
        put_le32(back + k, w);
        k += 4;
        p += 2;
    }
    ck_assert_uint_eq(k, len);
    ck_assert_mem_eq(back, b, len);
    free(back);
    free(text);
    fp = fopen(hpath, "r");
    ck_assert_ptr_nonnull(fp);
    char hbuf[4096] = {0};
    ck_assert_uint_gt(fread(hbuf, 1, sizeof hbuf - 1, fp), 0);
    fclose(fp);
    ck_assert_ptr_nonnull(strstr(hbuf, "#define BTS_SCRATCH_SIZE 132u"));
    ck_assert_ptr_nonnull(strstr(hbuf, "#define BTS_GENERATOR \"qreg 0.1.0\""));
    ck_assert_ptr_nonnull(strstr(hbuf, "extern const uint32_t bts_blob["));
    tl_rmtree(dir);
    free(dir);

    /* host helpers on the loaded model */
    loaded ld;
    load_ok(&ld, b, len);
    qrt_host_view hv;
    ck_assert_int_eq(qrt_host_view_get(&ld.m, &hv), QRT_OK);
    ck_assert_str_eq(hv.generator, "qreg test");
    ck_assert(fabs(hv.in_scale - m.in_scale) <= 1e-7 * m.in_scale);
    ck_assert_int_eq(hv.standardize, 0);
    float xf[120];
    int32_t xq[120];
    for (int i = 0; i < 120; i++)
        xf[i] = (float)(i % 7) * 0.3f - 1.0f;
    ck_assert_int_eq(qrt_quantize_input(&ld.m, xf, 40, xq), QRT_OK);
    for (int i = 0; i < 120; i++)
        ck_assert(fabs(xq[i] * hv.in_scale - xf[i]) <= 0.5 * hv.in_scale * (1 + 1e-6));
    size_t bytes = 0, weights = 0;
    for (size_t i = 0; i < ld.m.n_layers; i++) {
        qrt_layer_info li;
        ck_assert_int_eq(qrt_layer_info_get(&ld.m, i, &li), QRT_OK);
        bytes += li.record_bytes;
        for (size_t t = 0; t < li.n_tensors; t++) {
            bytes += li.tensors[t].bytes;
            if (li.tensors[t].bits <= 8)
                weights += li.tensors[t].count;
        }
    }
    ck_assert_uint_eq(weights, 6 * 15 + 15 * 6 + 15 * 5 + 2 * 5);
    ck_assert_uint_le(bytes, len);
    qrt_layer_info li;
    ck_assert_int_eq(qrt_layer_info_get(&ld.m, 3, &li), QRT_OK);
    ck_assert_str_eq(li.kind_name, "gru");
    ck_assert_str_eq(li.tensors[0].name, "input_weights");
    ck_assert_uint_eq(li.tensors[0].bits, 8);
    ck_assert_uint_eq(li.tensors[1].container, 4);
    ck_assert_uint_eq(li.tensors[1].bytes, 15 * 3);
    ck_assert_int_eq(li.head, 0);
    ck_assert_int_eq(qrt_layer_info_get(&ld.m, 4, &li), QRT_OK);
    ck_assert_int_eq(li.head, 1);
    ck_assert_int_eq(qrt_layer_info_get(&ld.m, 5, &li), QRT_ERR_ARG);
    free(ld.scratch);

    /* builder argument errors leave the builder usable */
    qrt_builder *bd;
    float mean[3] = {0, 1, 2}, std[3] = {1, 2, 0};
    qrt_builder_input in = {40, 3, 32767, 0.01, mean, std};
    ck_assert_int_eq(qrt_builder_new(&bd, &in), QRT_ERR_RANGE); /* std 0 */
    std[2] = 3;
    in.in_scale = 0;
    ck_assert_int_eq(qrt_builder_new(&bd, &in), QRT_ERR_RANGE);
    in.in_scale = 0.01;
    ck_assert_int_eq(qrt_builder_new(&bd, &in), QRT_OK);
    int8_t lv[6 * 15];
    for (int i = 0; i < 6 * 15; i++)
        lv[i] = (int8_t)(i % 3 - 1);
    qrt_rq one = {1 << 30, 1};
    qrt_builder_conv1d cv = {3, 6, 5, 1, 1, QRT_PAD_VALID, {2, lv}, NULL, &one, 1, NULL, 30000};
    cv.padding = (qrt_padding)3; /* no such padding */
    ck_assert_int_eq(qrt_builder_add_conv1d(bd, &cv), QRT_ERR_ARG);
    cv.padding = QRT_PAD_VALID;
    cv.n_in = 4;
    ck_assert_int_eq(qrt_builder_add_conv1d(bd, &cv), QRT_ERR_SHAPE);
    cv.n_in = 3;
    lv[7] = 2; /* off the 2-bit grid */
    ck_assert_int_eq(qrt_builder_add_conv1d(bd, &cv), QRT_ERR_RANGE);
    lv[7] = 1;
    qrt_rq badshift = {1 << 30, 31};
    cv.rq = &badshift;
    ck_assert_int_eq(qrt_builder_add_conv1d(bd, &cv), QRT_ERR_RANGE);
    cv.rq = &one;
    cv.n_rq = 2;
    ck_assert_int_eq(qrt_builder_add_conv1d(bd, &cv), QRT_ERR_ARG);
    cv.n_rq = 1;
    uint8_t *blob2;
    size_t len2;
    ck_assert_int_eq(qrt_builder_finish(bd, &blob2, &len2), QRT_ERR_SHAPE); /* no layers */
    ck_assert_int_eq(qrt_builder_add_conv1d(bd, &cv), QRT_OK);
    ck_assert_int_eq(qrt_builder_add_relu(bd, 6, 30000), QRT_OK);
    int8_t dl[12];
    for (int i = 0; i < 12; i++)
        dl[i] = (int8_t)(i & 1 ? 1 : -1);
    qrt_builder_dense dn = {6, 2, {1, dl}, NULL, &one, 1, NULL, 1000};
    ck_assert_int_eq(qrt_builder_add_dense(bd, &dn), QRT_OK);
    ck_assert_int_eq(qrt_builder_finish(bd, &blob2, &len2), QRT_OK);
    ck_assert_uint_gt(qrt_builder_overhead(bd), QRT_HEADER_SIZE + QRT_TRAILER_SIZE);
    ck_assert_uint_lt(qrt_builder_overhead(bd), len2);
    qrt_model m2;
    ck_assert_int_eq(qrt_model_load(&m2, blob2, len2), QRT_OK);
    ck_assert_int_eq(qrt_host_view_get(&m2, &hv), QRT_OK);
    ck_assert_int_eq(hv.standardize, 1);
    float fr[3] = {1.0f, 1.0f, 5.0f};
    int32_t q3[3];
    ck_assert_int_eq(qrt_quantize_input(&m2, fr, 1, q3), QRT_OK);
    ck_assert_int_eq(q3[0], 100);   /* (1 − 0)/1 / 0.01 */
    ck_assert_int_eq(q3[1], 0);     /* (1 − 1)/2 */
    ck_assert_int_eq(q3[2], 100);   /* (5 − 2)/3 / 0.01 */
    free(blob2);
    /* a layer that may overflow int32: rejected at finish by the loader's check */
    ck_assert_int_eq(qrt_builder_add_relu(bd, 2, 1 << 30), QRT_OK);
    int8_t big[2 * 300];
    for (int i = 0; i < 600; i++)
        big[i] = 127;
    qrt_builder_dense ov = {2, 300, {8, big}, NULL, &one, 1, NULL, 1000};
    ck_assert_int_eq(qrt_builder_add_dense(bd, &ov), QRT_OK);
    ck_assert_int_eq(qrt_builder_finish(bd, &blob2, &len2), QRT_ERR_RANGE);
    ck_assert_ptr_null(blob2);
    qrt_builder_free(bd);
    free(b);
    fm_free(&m);
}
END_TEST

/* ---- sparse weights (format version 2) ------------------------------------------------ */

/* Prune a quantized model: each level of every matrix of ≥ 2 bits becomes 0 with probability
 * frac (its fake-quantized float weight too, so the float model stays the reference). */
static void fm_prune(fmodel *m, trng *r, double frac)
{
    for (size_t i = 0; i < m->n; i++) {
        flayer *l = &m->L[i];
        size_t nw = 0, nwh = 0;
        if (l->kind == QRT_LAYER_DENSE)
            nw = l->n_out * l->n_in;
        else if (l->kind == QRT_LAYER_CONV1D)
            nw = l->n_out * l->k * l->n_in;
        else if (l->kind == QRT_LAYER_GRU)
            nw = 3 * l->n_out * l->n_in, nwh = 3 * l->n_out * l->n_out;
        for (size_t j = 0; l->bits >= 2 && j < nw; j++)
            if (trng_unif(r, 0, 1) < frac)
                l->qw[j] = 0, l->wq[j] = 0;
        for (size_t j = 0; l->bits_h >= 2 && j < nwh; j++)
            if (trng_unif(r, 0, 1) < frac)
                l->qwh[j] = 0, l->whq[j] = 0;
    }
}

/* Number of sparse weight slots of a loaded blob, and of each encoding. */
static size_t count_sparse(const qrt_model *m, size_t *bitmap, size_t *rle)
{
    size_t n = 0;
    *bitmap = *rle = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        qrt_layer_info li;
        ck_assert_int_eq(qrt_layer_info_get(m, i, &li), QRT_OK);
        for (size_t k = 0; k < li.n_tensors; k++) {
            n += li.tensors[k].encoding != 0;
            *bitmap += li.tensors[k].encoding == QRT_WENC_BITMAP;
            *rle += li.tensors[k].encoding == QRT_WENC_RLE;
        }
    }
    return n;
}

/* Scratch words a sparse GRU adds: its 4H pre-activations (a dense GRU needs none). */
static size_t sparse_gru_words(const qrt_model *m)
{
    for (size_t i = 0; i < m->n_layers; i++) {
        qrt_layer_info li;
        ck_assert_int_eq(qrt_layer_info_get(m, i, &li), QRT_OK);
        for (size_t k = 0; li.kind == QRT_LAYER_GRU && k < li.n_tensors; k++)
            if (li.tensors[k].encoding != 0)
                return 4u * li.n_out;
    }
    return 0;
}

/* Pruned models stored sparse: the blob is version 2 and smaller, the loader accepts it, and
 * the interpreter gives bit for bit the logits of the same levels stored dense, and of the
 * independent integer reference (check_model), whole and streamed. */
START_TEST(test_sparse_models)
{
    trng r = {80};
    static const double fracs[] = {0.5, 0.8, 0.95};
    static const unsigned widths[] = {8, 4, 2};
    size_t seen_bm = 0, seen_rle = 0;
    for (int wi = 0; wi < 3; wi++)
        for (int fi = 0; fi < 3; fi++) {
            fmodel m;
            make_bts(&m, &r, widths[wi], fi == 1);
            m.L[0].causal = fi == 2;
            size_t n_x = 4;
            double *xs = rnd_inputs(&r, n_x * m.t * m.f, 2.0);
            fmodel_quantize(&m, xs, n_x, 0);
            fm_prune(&m, &r, fracs[fi]);
            size_t dlen, slen;
            uint8_t *dense = fmodel_build(&m, &dlen, QRT_OK);
            m.sparse = 1;
            uint8_t *sparse = fmodel_build(&m, &slen, QRT_OK);
            ck_assert_uint_eq(get_le32(dense + 8), 1); /* version */
            loaded ld, ls;
            load_ok(&ld, dense, dlen);
            load_ok(&ls, sparse, slen);
            size_t nbm, nrle, ns = count_sparse(&ls.m, &nbm, &nrle);
            seen_bm += nbm;
            seen_rle += nrle;
            ck_assert_uint_eq(get_le32(sparse + 8), ns ? 2 : 1);
            ck_assert_uint_le(slen, dlen);
            /* a sparse GRU walks its rows in order into 4H pre-activations, a dense one
             * needs no aux (bts: no dilated convolution) */
            ck_assert_uint_eq(ld.scratch_size, 4u * (16 + 5 + 2 * 6));
            ck_assert_uint_eq(ls.scratch_size, ld.scratch_size + 4u * sparse_gru_words(&ls.m));
            if (fracs[fi] >= 0.8)
                ck_assert_uint_gt(ns, 0);
            cmp_stats cs = check_model(&m, sparse, slen, xs, n_x, 0);
            ck_assert_uint_eq(cs.argmax_same, cs.argmax_n);
            int32_t *xq = quantize_x(&m, xs);
            int32_t a[2], b[2];
            ck_assert_int_eq(qrt_run(&ld.m, xq, ld.scratch, ld.scratch_size, a), QRT_OK);
            ck_assert_int_eq(qrt_run(&ls.m, xq, ls.scratch, ls.scratch_size, b), QRT_OK);
            ck_assert_mem_eq(a, b, sizeof a);
            /* QRT_SPARSE_FAST: run-length only, and only where smaller than dense */
            m.sparse = QRT_SPARSE_FAST;
            size_t flen;
            uint8_t *fast = fmodel_build(&m, &flen, QRT_OK);
            loaded lf;
            load_ok(&lf, fast, flen);
            size_t fbm, frle, fs = count_sparse(&lf.m, &fbm, &frle);
            ck_assert_uint_eq(fbm, 0);
            ck_assert_uint_eq(fs, frle);
            ck_assert_uint_le(flen, dlen);
            for (size_t i = 0; i < lf.m.n_layers; i++) {
                qrt_layer_info li, ldn;
                ck_assert_int_eq(qrt_layer_info_get(&lf.m, i, &li), QRT_OK);
                ck_assert_int_eq(qrt_layer_info_get(&ld.m, i, &ldn), QRT_OK);
                for (size_t k = 0; k < li.n_tensors; k++)
                    if (li.tensors[k].encoding)
                        ck_assert_uint_lt(li.tensors[k].bytes, ldn.tensors[k].bytes);
            }
            ck_assert_int_eq(qrt_run(&lf.m, xq, lf.scratch, lf.scratch_size, b), QRT_OK);
            ck_assert_mem_eq(a, b, sizeof a);
            free(lf.scratch);
            free(fast);
            printf("runtime: sparse bts %u-bit, %.0f %% pruned: %zu → %zu B blob, %zu sparse "
                   "matrices (%zu bitmap, %zu run-length)\n",
                   widths[wi], 100 * fracs[fi], dlen, slen, ns, nbm, nrle);
            free(xq);
            free(ld.scratch);
            free(ls.scratch);
            free(dense);
            free(sparse);
            free(xs);
            fm_free(&m);
        }
    ck_assert_uint_gt(seen_bm, 0); /* both encodings were exercised */
    ck_assert_uint_gt(seen_rle, 0);
}
END_TEST

/* A sparse blob against corruption: every truncation and bit flip rejected; version 1 with a
 * sparse slot rejected; mutations with the CRC fixed either rejected or run in bounds. */
START_TEST(test_sparse_blob)
{
    trng r = {81};
    fmodel m;
    make_bts(&m, &r, 4, 0);
    double *xs = rnd_inputs(&r, 4 * m.t * m.f, 2.0);
    fmodel_quantize(&m, xs, 4, 0);
    fm_prune(&m, &r, 0.85);
    m.sparse = 1;
    size_t len;
    uint8_t *b = fmodel_build(&m, &len, QRT_OK);
    ck_assert_uint_eq(get_le32(b + 8), 2);
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(load_copy(b, n) != QRT_OK, "truncated to %zu loaded", n);
    uint8_t *c = xcalloc(len, 1);
    memcpy(c, b, len);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            c[i] ^= (uint8_t)(1u << bit);
            qrt_model mm;
            ck_assert_msg(qrt_model_load(&mm, c, len) != QRT_OK, "bit flip %zu.%d loaded", i, bit);
            c[i] ^= (uint8_t)(1u << bit);
        }
    /* version 1 cannot hold sparse slots; version 3 does not exist */
    put_le32(c + 8, 1);
    fix_crc(c, len);
    ck_assert_int_eq(load_copy(c, len), QRT_ERR_FORMAT);
    put_le32(c + 8, 3);
    fix_crc(c, len);
    ck_assert_int_eq(load_copy(c, len), QRT_ERR_VERSION);
    /* mutations inside the data section (the encoded rows), CRC fixed */
    const qrt_header *h = (const qrt_header *)(const void *)b;
    uint32_t lo = h->data_off, n_data = h->data_size;
    int32_t *x = quantize_x(&m, xs);
    size_t accepted = 0, rounds = 3000;
    for (size_t k = 0; k < rounds; k++) {
        memcpy(c, b, len);
        int nm = 1 + (int)(trng_u32(&r) % 3);
        for (int i = 0; i < nm; i++) {
            size_t at = lo + trng_u32(&r) % n_data;
            c[at] = trng_u32(&r) % 2 ? (uint8_t)trng_u32(&r)
                                     : (uint8_t)(c[at] ^ (1u << (trng_u32(&r) % 8)));
        }
        fix_crc(c, len);
        qrt_model mm;
        if (qrt_model_load(&mm, c, len) != QRT_OK)
            continue;
        accepted++;
        size_t ss = qrt_scratch_size(&mm);
        void *scratch = xcalloc(1, ss); /* exactly: ASan checks every access */
        int32_t logits[2];
        ck_assert_int_eq(qrt_run(&mm, x, scratch, ss, logits), QRT_OK);
        free(scratch);
    }
    printf("runtime: sparse %zu-byte blob: every truncation and bit flip rejected; %zu of %zu "
           "data mutations (CRC fixed) loaded and ran in bounds\n", len, accepted, rounds);
    free(x);
    free(c);
    free(b);
    free(xs);
    fm_free(&m);
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
    trng r = {73};
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
                    int32_t v = (int32_t)(trng_u32(&r) % 65536u) - 32768;
                    if (trial < 3)
                        v = trial == 0 ? -32768 : trial == 1 ? 32767 : 0;
                    else if (trial < 2000) /* around the mean, where values are small */
                        v = (int32_t)llround(mean[f] / scales[si]) + (int32_t)(trng_u32(&r) % 201u) - 100;
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

/* ---- compiled models ------------------------------------------------------------------ */

/* A whole text file (malloc'd, NUL-terminated), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *t = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (t = malloc((size_t)n + 1)) != NULL) {
        if (fread(t, 1, (size_t)n, f) != (size_t)n) {
            free(t);
            t = NULL;
        } else {
            t[n] = '\0';
        }
    }
    fclose(f);
    return t;
}

/* Append one compiled model's expectations to the driver: n_x input sequences, their qrt_run
 * logits, and the stream's per-frame emission flags and logits (from the interpreter). */
static void compiled_expect(FILE *drv, const char *name, const uint8_t *blob, size_t len,
                            const int32_t *xq, size_t n_x)
{
    loaded ld;
    load_ok(&ld, blob, len);
    const qrt_model *m = &ld.m;
    size_t tf = (size_t)m->seq_len * m->n_features, no = m->n_outputs;
    fprintf(drv, "static const int32_t %s_x[%zu] = {", name, n_x * tf);
    for (size_t i = 0; i < n_x * tf; i++)
        fprintf(drv, "%ld,", (long)xq[i]);
    fprintf(drv, "};\nstatic const int32_t %s_whole[%zu] = {", name, n_x * no);
    int32_t *lg = xcalloc(no, sizeof *lg);
    for (size_t i = 0; i < n_x; i++) {
        ck_assert_int_eq(qrt_run(m, xq + i * tf, ld.scratch, ld.scratch_size, lg), QRT_OK);
        for (size_t o = 0; o < no; o++)
            fprintf(drv, "%ld,", (long)lg[o]);
    }
    /* the stream over all n_x sequences back to back, no reset in between (always-on) */
    fprintf(drv, "};\nstatic const int32_t %s_frames[%zu] = {", name,
            n_x * m->seq_len * (no + 1));
    qrt_stream st;
    ck_assert_int_eq(qrt_stream_init(&st, m, ld.scratch, ld.scratch_size), QRT_OK);
    for (size_t t = 0; t < n_x * m->seq_len; t++) {
        uint32_t before = st.emitted;
        ck_assert_int_eq(qrt_stream_push(&st, xq + t * m->n_features), QRT_OK);
        int emitted = st.emitted != before;
        memset(lg, 0, no * sizeof *lg);
        if (emitted)
            ck_assert_int_eq(qrt_stream_logits(&st, lg), QRT_OK);
        fprintf(drv, "%d,", emitted);
        for (size_t o = 0; o < no; o++)
            fprintf(drv, "%ld,", (long)lg[o]);
    }
    fprintf(drv, "};\n");
    free(lg);
    free(ld.scratch);
}

/* The check a driver runs for one compiled model (returns the number of mismatches). */
static void compiled_check_fn(FILE *drv, const char *name, const char *up, size_t n_x)
{
    fprintf(drv,
            "static int check_%s(void)\n{\n"
            "    static int32_t mem[%s_MEM_WORDS];\n"
            "    int32_t lg[%s_N_OUTPUTS];\n    int bad = 0;\n"
            "    const size_t tf = %s_SEQ_LEN * %s_N_FEATURES;\n"
            "    for (size_t i = 0; i < %zu; i++) {\n"
            "        %s_run(mem, %s_x + i * tf, lg);\n"
            "        bad += memcmp(lg, %s_whole + i * %s_N_OUTPUTS, sizeof lg) != 0;\n    }\n"
            "    %s_reset(mem);\n"
            "    const int32_t *e = %s_frames;\n"
            "    for (size_t t = 0; t < %zu * %s_SEQ_LEN; t++, e += 1 + %s_N_OUTPUTS) {\n"
            "        int em = %s_push(mem, %s_x + t * %s_N_FEATURES);\n"
            "        bad += em != e[0];\n"
            "        if (em) {\n"
            "            %s_logits(mem, lg);\n"
            "            bad += memcmp(lg, e + 1, sizeof lg) != 0;\n        }\n    }\n"
            "    if (bad)\n        printf(\"%s: %%d mismatches\\n\", bad);\n"
            "    return bad;\n}\n",
            name, up, up, up, up, n_x, name, name, name, up, name, name, n_x, up, up, name, name,
            up, name, name);
}

/* The generated input transform of a compiled model: NAME_quantize_frame equals
 * qrt_quantize_raw16 with qrt_input_consts' constants (tested against the host above) on
 * random int16 frames, and NAME_quantize_frame_f (binary32) equals qrt_quantize_input except
 * within |v|·2^−21 + 2^−20 of a rounding boundary, where it may differ by 1 + |v|·2^−21. */
static void compiled_input_check(FILE *drv, const char *name, const char *up,
                                 const uint8_t *blob, size_t len, trng *r)
{
    qrt_model m;
    ck_assert_int_eq(qrt_model_load(&m, blob, len), QRT_OK);
    qrt_host_view hv;
    ck_assert_int_eq(qrt_host_view_get(&m, &hv), QRT_OK);
    size_t nf = m.n_features, nfr = 200;
    qrt_inq *q = xcalloc(nf, sizeof *q);
    ck_assert_int_eq(qrt_input_consts(&m, 1.0, q, NULL), QRT_OK);
    int16_t *raw = xcalloc(nf * nfr, sizeof *raw);
    float *x = xcalloc(nf * nfr, sizeof *x);
    int32_t *e = xcalloc(nf * nfr, sizeof *e), *ef = xcalloc(nf * nfr, sizeof *ef);
    for (size_t i = 0; i < nf * nfr; i++) {
        raw[i] = (int16_t)((int32_t)(trng_u32(r) % 65536u) - 32768);
        x[i] = (float)(((double)(trng_u32(r) % 2000001u) - 1e6) * 1e-6 * m.in_max * hv.in_scale * 1.2);
    }
    for (size_t t = 0; t < nfr; t++) {
        qrt_quantize_raw16(q, raw + t * nf, e + t * nf, nf, m.in_max);
        ck_assert_int_eq(qrt_quantize_input(&m, x + t * nf, 1, ef + t * nf), QRT_OK);
    }
    fprintf(drv, "static const int16_t %s_raw[%zu] = {", name, nf * nfr);
    for (size_t i = 0; i < nf * nfr; i++)
        fprintf(drv, "%d,", raw[i]);
    fprintf(drv, "};\nstatic const int32_t %s_rawq[%zu] = {", name, nf * nfr);
    for (size_t i = 0; i < nf * nfr; i++)
        fprintf(drv, "%ld,", (long)e[i]);
    fprintf(drv, "};\nstatic const float %s_xf[%zu] = {", name, nf * nfr);
    for (size_t i = 0; i < nf * nfr; i++)
        fprintf(drv, "%.9ef,", (double)x[i]);
    fprintf(drv, "};\nstatic const int32_t %s_xq[%zu] = {", name, nf * nfr);
    for (size_t i = 0; i < nf * nfr; i++)
        fprintf(drv, "%ld,", (long)ef[i]);
    fprintf(drv, "};\nstatic const int32_t %s_xtol[%zu] = {", name, nf * nfr);
    for (size_t i = 0; i < nf * nfr; i++) { /* v as the host computes it */
        double v = (double)x[i] / hv.in_scale, d = fabs(v - floor(v) - 0.5);
        double slack = fabs(v) * ldexp(1, -21);
        fprintf(drv, "%ld,", d <= slack + ldexp(1, -20) ? (long)(1 + slack) : 0L);
    }
    fprintf(drv,
            "};\nstatic int check_input_%s(void)\n{\n"
            "    int bad = 0;\n    int32_t fr[%s_N_FEATURES];\n"
            "    for (size_t t = 0; t < %zu; t++) {\n"
            "        %s_quantize_frame(%s_raw + t * %s_N_FEATURES, fr);\n"
            "        bad += memcmp(fr, %s_rawq + t * %s_N_FEATURES, sizeof fr) != 0;\n"
            "        %s_quantize_frame_f(%s_xf + t * %s_N_FEATURES, fr);\n"
            "        for (size_t i = 0; i < %s_N_FEATURES; i++) {\n"
            "            int32_t d = fr[i] - %s_xq[t * %s_N_FEATURES + i];\n"
            "            bad += (d < 0 ? -d : d) > %s_xtol[t * %s_N_FEATURES + i];\n        }\n    }\n"
            "    if (bad)\n        printf(\"%s: input transform: %%d mismatches\\n\", bad);\n"
            "    return bad;\n}\n",
            name, up, nfr, name, name, up, name, up, name, name, up, up, name, up, name, up, name);
    free(q), free(raw), free(x), free(e), free(ef);
}

/* A compiled model (qrt_builder_write_compiled) computes bit for bit what the interpreter
 * computes, whole sequences and frame by frame, for every layer kind and option, in both forms
 * (cmN: specialized, the default; cdN: descriptors): the test writes the generated sources and
 * a driver holding the interpreter's results, compiles them with the host's cc against
 * runtime/qrt_kernels.c, qrt_layer.c and (for the two pruned models stored sparse)
 * qrt_sparse.c only, and runs it. The last input sequence of each model is ±in_max at random,
 * which drives the layers into their clamps (the specialized form leaves out the clamps it
 * proves idle). */
START_TEST(test_compiled)
{
    const char *src = getenv("QR_SRCDIR");
    if (src == NULL) {
        printf("runtime: compiled: QR_SRCDIR unset (run through make check); skipped\n");
        return;
    }
    trng r = {70};
    enum { NM = 20 };
    fmodel ms[NM];
    memset(ms, 0, sizeof ms);
    int fold[NM] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
        n_rq_shift[2] = {0, 0},
        n_gru_w[2] = {0, 0};
    make_bts(&ms[0], &r, 8, 0);
    make_bts(&ms[1], &r, 4, 1); /* prelu, standalone batch norm (not folded) */
    ms[1].L[0].causal = 1;
    ms[2].t = 37, ms[2].f = 4; /* dilated causal conv, strided valid conv, GRU sequence */
    fm_add_conv(&ms[2], &r, 4, 6, 3, 1, 1, 1, 8);
    fm_add_act(&ms[2], &r, QRT_LAYER_RELU, 6);
    fm_add_conv(&ms[2], &r, 6, 5, 3, 2, 2, 0, 4);
    fm_add_gru(&ms[2], &r, 5, 4, 1, 2, 8);
    fm_add_dense(&ms[2], &r, 4, 3, 2);
    ms[3].t = 25, ms[3].f = 3; /* a head after the last-state GRU */
    fm_add_gru(&ms[3], &r, 3, 6, 1, 8, 8);
    fm_add_gru(&ms[3], &r, 6, 4, 0, 4, 1);
    fm_add_dense(&ms[3], &r, 4, 4, 8);
    fm_add_bn(&ms[3], &r, 4);
    fm_add_act(&ms[3], &r, QRT_LAYER_PRELU, 4);
    fm_add_dense(&ms[3], &r, 4, 3, 8);
    ms[4].t = 1, ms[4].f = 10; /* an MLP */
    fm_add_dense(&ms[4], &r, 10, 16, 8);
    fm_add_act(&ms[4], &r, QRT_LAYER_PRELU, 16);
    fm_add_dense(&ms[4], &r, 16, 3, 1);
    make_bts(&ms[5], &r, 1, 0);
    for (int c = 0; c < 6; c++) /* one folded scale on every channel (up to sign): one shift */
        ms[5].L[1].gamma[c] = c ? 1.0 : -1.0, ms[5].L[1].var[c] = 1.0;
    make_bts(&ms[6], &r, 8, 0); /* pruned and stored sparse (bitmap) */
    make_bts(&ms[7], &r, 4, 1); /* pruned harder: run-length rows too */
    ms[6].sparse = ms[7].sparse = 1;
    ms[8].t = 12, ms[8].f = 3; /* ReLUs after a dense layer and a batch norm in the head */
    fm_add_gru(&ms[8], &r, 3, 5, 0, 8, 8);
    fm_add_dense(&ms[8], &r, 5, 6, 8);
    fm_add_act(&ms[8], &r, QRT_LAYER_RELU, 6);
    fm_add_bn(&ms[8], &r, 6);
    fm_add_act(&ms[8], &r, QRT_LAYER_RELU, 6);
    fm_add_dense(&ms[8], &r, 6, 3, 4);
    /* 1- and 2-bit rows written out in the specialized form, every level (up to 16 levels)
     * or longer 1-bit ones a byte at a time: rows of 36, 3, 8 and 9 */
    ms[9].t = 20, ms[9].f = 4;
    fm_add_conv(&ms[9], &r, 4, 3, 9, 1, 1, 0, 1);
    fm_add_gru(&ms[9], &r, 3, 8, 0, 2, 1);
    fm_add_dense(&ms[9], &r, 8, 9, 1);
    fm_add_dense(&ms[9], &r, 9, 3, 2);
    /* rows of 18 (2-bit conv, by the kernel), 32, 17, 33 and 35 (4 bits) levels */
    ms[10].t = 15, ms[10].f = 2;
    fm_add_conv(&ms[10], &r, 2, 4, 9, 1, 1, 1, 2);
    fm_add_gru(&ms[10], &r, 4, 32, 0, 1, 2);
    fm_add_dense(&ms[10], &r, 32, 17, 1);
    fm_add_dense(&ms[10], &r, 17, 33, 2);
    fm_add_dense(&ms[10], &r, 33, 35, 1);
    fm_add_dense(&ms[10], &r, 35, 3, 4);
    /* GRUs with weights 8 times larger: gates saturate, and the states reach 1.0, cut to
     * QRT_STATE_MAX (32767, int16) so the dual 16-bit rows that read them need no fallback:
     * recurrent rows, a second GRU's input rows and a head */
    ms[11].t = 30, ms[11].f = 3;
    fm_add_gru(&ms[11], &r, 3, 6, 1, 8, 8);
    fm_add_gru(&ms[11], &r, 6, 5, 0, 8, 8);
    for (size_t l = 0; l < 2; l++) {
        size_t h = ms[11].L[l].n_out;
        for (size_t i = 0; i < 3 * h * ms[11].L[l].n_in; i++)
            ms[11].L[l].w[i] *= 8.0;
        for (size_t i = 0; i < 3 * h * h; i++)
            ms[11].L[l].wh[i] *= 8.0;
    }
    fm_add_dense(&ms[11], &r, 5, 3, 8);
    /* narrow activations: every bound capped at 32767 (int16 storage) or 127 (int8), so the
     * specialized form stores them narrow: bts at 8 bits (dual 16-bit rows everywhere) and
     * 4 bits (the kernel's rows read an int32 copy), 1-bit long rows (a byte loop on int8),
     * a dilated convolution's taps and a GRU sequence, and a pruned (sparse) GRU */
    make_bts(&ms[12], &r, 8, 0);
    ms[12].acap = 32767;
    make_bts(&ms[13], &r, 4, 1);
    ms[13].acap = 127;
    ms[14].t = 20, ms[14].f = 4;
    fm_add_conv(&ms[14], &r, 4, 3, 9, 1, 1, 0, 1);
    fm_add_gru(&ms[14], &r, 3, 8, 0, 2, 1);
    fm_add_dense(&ms[14], &r, 8, 9, 1);
    fm_add_dense(&ms[14], &r, 9, 3, 2);
    ms[14].acap = 127;
    ms[15].t = 37, ms[15].f = 4;
    fm_add_conv(&ms[15], &r, 4, 6, 3, 1, 1, 1, 8);
    fm_add_act(&ms[15], &r, QRT_LAYER_RELU, 6);
    fm_add_conv(&ms[15], &r, 6, 5, 3, 2, 2, 0, 4);
    fm_add_gru(&ms[15], &r, 5, 4, 1, 2, 8);
    fm_add_dense(&ms[15], &r, 4, 3, 2);
    ms[15].acap = 127;
    make_bts(&ms[16], &r, 8, 0);
    ms[16].sparse = 1;
    ms[16].acap = 32767;
    /* dual 16-bit rows longer than DUAL_FULL_LEVELS: a loop over the words (4-bit rows
     * of 75 levels, 8-bit rows of 36) */
    ms[17].t = 1, ms[17].f = 75;
    fm_add_dense(&ms[17], &r, 75, 36, 4);
    fm_add_dense(&ms[17], &r, 36, 3, 8);
    ms[17].acap = 32767;
    /* 8-bit GRU rows of 16 levels: qrt_dot_s8 where there is no dual path, on the int16
     * input widened and on the state's int32 copy */
    ms[18].t = 9, ms[18].f = 16;
    fm_add_gru(&ms[18], &r, 16, 16, 0, 8, 8);
    fm_add_dense(&ms[18], &r, 16, 3, 8);
    ms[18].acap = 32767;
    /* 2-bit dual 16-bit rows: 150 levels (a loop over 9 words and 6 levels after) and 16 (one
     * word, written out otherwise) */
    ms[19].t = 1, ms[19].f = 150;
    fm_add_dense(&ms[19], &r, 150, 16, 2);
    fm_add_dense(&ms[19], &r, 16, 3, 2);
    ms[19].acap = 32767;

    FILE *drv = fopen("compiled_driver.c", "w");
    ck_assert_ptr_nonnull(drv);
    fprintf(drv, "#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n#include \"qrt_layer.h\"\n");
    char name[16], up[16], c[32], h[32];
    const size_t n_x = 4;
    for (int i = 0; i < NM; i++) {
        double *xs = rnd_inputs(&r, n_x * ms[i].t * ms[i].f, 2.0);
        fmodel_quantize(&ms[i], xs, n_x, fold[i]);
        if (ms[i].sparse)
            fm_prune(&ms[i], &r, i == 6 || i == 16 ? 0.6 : 0.9);
        size_t len;
        uint8_t *blob = fmodel_build(&ms[i], &len, QRT_OK);
        size_t tf = ms[i].t * ms[i].f;
        int32_t *xq = xcalloc(n_x * tf, sizeof *xq);
        for (size_t k = 0; k + 1 < n_x; k++) {
            int32_t *q = quantize_x(&ms[i], xs + k * tf);
            memcpy(xq + k * tf, q, tf * sizeof *q);
            free(q);
        }
        qrt_model qm;
        ck_assert_int_eq(qrt_model_load(&qm, blob, len), QRT_OK);
        for (size_t j = 0; j < tf; j++) /* the extreme sequence */
            xq[(n_x - 1) * tf + j] = trng_u32(&r) & 1u ? qm.in_max : -qm.in_max;
        for (int form = 0; form < 2; form++) {
            snprintf(name, sizeof name, "c%c%d", form ? 'd' : 'm', i);
            snprintf(up, sizeof up, "C%c%d", form ? 'D' : 'M', i);
            snprintf(c, sizeof c, "%s.c", name);
            snprintf(h, sizeof h, "%s.h", name);
            if (form) {
                qrt_codegen_meta meta = {0.0, NULL, NULL, NULL, QRT_CODEGEN_DESCRIPTORS};
                ck_assert_int_eq(qrt_builder_write_compiled_ex(blob, len, name, c, h,
                                                               "qreg test", &meta), QRT_OK);
            } else {
                ck_assert_int_eq(qrt_builder_write_compiled(blob, len, name, c, h, "qreg test"),
                                 QRT_OK);
            }
            char *text = slurp(c);
            ck_assert_ptr_nonnull(text);
            /* the form asked for; the pruned models' matrices walked by sparse row kernels */
            ck_assert_ptr_nonnull(strstr(text, form ? "static const qrt_" : "_OPAQUE(o)"));
            if (ms[i].sparse)
                ck_assert_ptr_nonnull(strstr(text, form ? (i == 6 ? ".sdot = qrt_sdot_bm_s8"
                                                                  : ".sdot = qrt_sdot_")
                                                        : (i == 6 ? "= qrt_sdot_bm_s8("
                                                                  : "= qrt_sdot_")));
            if (!form && (i == 5 || i == 9)) /* 1-bit rows written out, the sum of x shared */
                ck_assert_ptr_nonnull(strstr(text, "acc = pos - (tot - pos) + "));
            if (!form && i == 9) /* and 2-bit ones */
                ck_assert_ptr_nonnull(strstr(text, ") >> 30) * ("));
            if (!form && i == 1) /* rows written out and by the kernel, QRT_ROWS_S4 chooses */
                ck_assert(strstr(text, "#if QRT_ROWS_S4") && strstr(text, ") >> 28) * (") &&
                          strstr(text, "= qrt_dot_s4("));
            if (!form && (i == 9 || i == 10)) /* long rows: a loop over the bytes */
                ck_assert_ptr_nonnull(strstr(text, "b = *wb++;"));
            if (!form && i == 11) /* dual 16-bit rows on a state: recurrent, input, head */
                ck_assert(strstr(text, "xph[0], ah)") && strstr(text, "xpi[0], ai)") &&
                          strstr(text, "xp[0], acc)"));
            if (!form && i == 12) /* every 8-bit row dual 16-bit: the conv reads int16 */
                ck_assert(strstr(text, "xp[0], acc)") && strstr(text, "(CM12_M16(") &&
                          !strstr(text, "(CM12_M32("));
            if (!form && (i == 13 || i == 14 || i == 15)) /* int8 activations */
                ck_assert(strstr(text, i == 13 ? "CM13_M8(" : i == 14 ? "CM14_M8(" : "CM15_M8(") &&
                          strstr(text, "xw[i] = (") != NULL);
            if (!form && i == 13) /* 4-bit rows by dual 16-bit MACs on narrow inputs */
                ck_assert_ptr_nonnull(strstr(text, ")) ^ 0x88888888u;"));
            if (!form && i == 18)
                ck_assert(strstr(text, "ai += qrt_dot_s8((const uint8_t *)w, xwi, 16u);") &&
                          strstr(text, "ah += qrt_dot_s8((const uint8_t *)w, (const int32_t *)(xwh), 16u);"));
            if (!form && i == 19)
                ck_assert(strstr(text, "uint32_t u = qrt_le32((const int8_t *)wq) ^ 0xAAAAAAAAu;") &&
                          strstr(text, "uint32_t u0 = qrt_le32((const int8_t *)(w + 0)) ^ 0xAAAAAAAAu;"));
            if (!form && i == 17) /* 4-bit rows on int16 by the int16 kernel (QRT_SMALL) */
                ck_assert_ptr_nonnull(strstr(text, "= qrt_dot16_s4(w, CM17_M16("));
            if (!form && i == 17) /* both word loops */
                ck_assert(strstr(text, "uint32_t u = qrt_le32((const int8_t *)wq) ^ 0x88888888u;") &&
                          strstr(text, "uint32_t u = qrt_le32(wq);"));
            if (!form && i == 14) /* a byte loop over int8 inputs */
                ck_assert_ptr_nonnull(strstr(text, "const cm14_i8 *xb"));
            if (!form && i == 16) /* a sparse GRU keeps the 4H buffer, h int16 */
                ck_assert_ptr_nonnull(strstr(text, "= (cm16_i16)qrt_gru_unit(pre + i, "));
            if (!form && !ms[i].sparse && strstr(text, "gru,")) /* dense GRUs: unit by unit */
                ck_assert_ptr_nonnull(strstr(text, "units, unit by unit */"));
            if (!form && i == 10) /* 2-bit rows of more than 16 levels: the kernel only */
                ck_assert(strstr(text, "qrt_dot_s2(") && !strstr(text, "#if QRT_ROWS_S2"));
            if (!form && i == 11) /* the dual 16-bit rows on interleaved W_i, W_h rows */
                ck_assert_ptr_nonnull(strstr(text, "W_h rows interleaved"));
            /* per-row requantizations: shifts as a tensor, or one shift in the code when
             * every row has the same (both cases must occur among these models) */
            const char *pm = form ? NULL : strstr(text, "_rqm[o], ");
            if (pm)
                n_rq_shift[pm[9] == '-' || (pm[9] >= '0' && pm[9] <= '9')]++;
            /* a GRU's W_i and W_h rows: one interleaved tensor, or two (sparse rows) */
            if (!form) {
                n_gru_w[0] += strstr(text, "*wi = ") != NULL;
                n_gru_w[1] += strstr(text, "W_h rows interleaved") != NULL;
            }
            free(text);
            fprintf(drv, "#include \"%s\"\n", h);
            compiled_expect(drv, name, blob, len, xq, n_x);
            compiled_check_fn(drv, name, up, n_x);
            if (i == 0)
                compiled_input_check(drv, name, up, blob, len, &r);
        }
        free(xq);
        free(blob);
        free(xs);
        fm_free(&ms[i]);
    }
    /* qrt_requant_fast (inline where QRT_HAVE_SMULL, the third build below) against the
     * int64 twin: every shift, edge and pseudo-random operands, saturation included */
    fprintf(drv, "static int check_requant_fast(void)\n{\n"
                 "    static const int32_t edge[] = {INT32_MIN, INT32_MIN + 1, -65536, -1, 0, 1,\n"
                 "                                   65535, INT32_MAX - 1, INT32_MAX};\n"
                 "    uint32_t s = 1u;\n    int bad = 0;\n"
                 "    for (int32_t sh = QRT_SHIFT_MIN; sh <= QRT_SHIFT_MAX; sh++)\n"
                 "        for (int k = 0; k < 2000; k++) {\n"
                 "            s ^= s << 13, s ^= s >> 17, s ^= s << 5;\n"
                 "            int32_t a = k < 81 ? edge[k %% 9] : (int32_t)s >> (s %% 31u);\n"
                 "            s ^= s << 13, s ^= s >> 17, s ^= s << 5;\n"
                 "            int32_t m = k < 81 ? edge[k / 9] : (int32_t)s;\n"
                 "            bad += qrt_requant_fast(a, m, sh) != qrt_requant_ref(a, m, sh);\n"
                 "        }\n"
                 "    if (bad)\n        printf(\"qrt_requant_fast: %%d mismatches\\n\", bad);\n"
                 "    return bad;\n}\n");
    printf("runtime: compiled: per-row requantizations with a shift tensor %d, one shift %d\n",
           n_rq_shift[0], n_rq_shift[1]);
    ck_assert_int_gt(n_rq_shift[0], 0);
    ck_assert_int_gt(n_rq_shift[1], 0);
    printf("runtime: compiled: GRU weights as two tensors %d, interleaved %d\n", n_gru_w[0],
           n_gru_w[1]);
    ck_assert_int_gt(n_gru_w[0], 0);
    ck_assert_int_gt(n_gru_w[1], 0);
    /* the requantization of this build (QRT_SMALL has its own on ARMv6-M and the host)
     * against the int64 form, random operands over every shift, normalized multipliers */
    fprintf(drv, "static int check_requant(void)\n{\n    uint32_t s = 12345u;\n    int bad = 0;\n"
                 "    for (long i = 0; i < 2000000; i++) {\n"
                 "        s = s * 1664525u + 1013904223u;\n        int32_t acc = (int32_t)s;\n"
                 "        s = s * 1664525u + 1013904223u;\n"
                 "        if (i & 1)\n            acc >>= s %% 31u;\n"
                 "        int32_t m = (int32_t)((s >> 1) | 0x40000000u);\n"
                 "        if (s & 1u)\n            m = -m;\n"
                 "        int32_t sh = (int32_t)(i %% 62) - 31;\n"
                 "        if (i < 62 * 4)\n            acc = i & 2 ? INT32_MIN : INT32_MAX,"
                 " m = i & 1 ? -INT32_MAX : INT32_MAX;\n"
                 "        bad += qrt_requant(acc, m, sh) != qrt_requant_ref(acc, m, sh);\n    }\n"
                 "    if (bad)\n        printf(\"requant: %%d mismatches\\n\", bad);\n"
                 "    return bad;\n}\n");
    fprintf(drv, "int main(void)\n{\n    int bad = check_requant() + check_requant_fast();\n");
    for (int i = 0; i < NM; i++)
        fprintf(drv, "    bad += check_cm%d();\n    bad += check_cd%d();\n", i, i);
    fprintf(drv, "    bad += check_input_cm0();\n    bad += check_input_cd0();\n");
    fprintf(drv, "    printf(\"compiled: %%s\\n\", bad ? \"MISMATCH\" : \"%d models identical in "
                 "both forms\");\n    return bad != 0;\n}\n", (int)NM);
    ck_assert_int_eq(fclose(drv), 0);
    /* a blob the loader refuses, or bad arguments: an error and nothing written */
    static uint64_t junk[8];
    ck_assert_int_ne(qrt_builder_write_compiled((const uint8_t *)junk, sizeof junk, "x", "x.c",
                                                "x.h", "g"), QRT_OK);
    ck_assert_int_eq(qrt_builder_write_compiled(NULL, 0, "x", "x.c", "x.h", "g"), QRT_ERR_ARG);
    FILE *probe = fopen("x.c", "r");
    ck_assert_ptr_null(probe);

    /* with the default kernels (in the specialized form 1-, 2- and 4-bit rows written out:
     * QRT_ROWS_S1/_S2/_S4 are 1 on the host), and with QRT_SMALL's compact ones (the 1-, 2-,
     * 4- and 8-bit dot products one level per iteration, the GRU's rows through one helper;
     * the specialized form then calls them: QRT_ROWS_S* are 0); models 3, 4, 5, 9 and 10 have
     * 1-bit matrices with rows of 4 to 36 levels, 2, 9 and 10 2-bit ones with rows of 3 to 18 */
    char files[1600] = "";
    for (int i = 0; i < NM; i++) {
        size_t n = strlen(files);
        snprintf(files + n, sizeof files - n, "cm%d.c cd%d.c ", i, i);
    }
    /* and a third time as on a Cortex-M4 (QRT_HAVE_SMULL=1: qrt_requant_fast inline, the int64
     * form; QRT_DUAL16=1: 8-bit rows on int16 inputs by the SMLAD and SXTB16 twins, also on
     * saturated GRU states, as the extreme sequences make them) */
    for (int small = 0; small < 3; small++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "cc -std=c99 -O1 -Wall -Wextra -Werror -DQRT_SMALL=%d%s -DQRT_HAVE_FLOAT -I'%s/runtime' -I. "
                 "compiled_driver.c %s"
                 "'%s/runtime/qrt_kernels.c' '%s/runtime/qrt_layer.c' "
                 "'%s/runtime/qrt_sparse.c' -o compiled_driver && ./compiled_driver",
                 small == 1, small == 2 ? " -DQRT_HAVE_SMULL=1 -DQRT_DUAL16=1" : "", src, files, src, src, src);
        ck_assert_msg(system(cmd) == 0, "compiled models differ from the interpreter (%s)", cmd);
    }
}
END_TEST

Suite *qr_suite_runtime(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, test_pack_roundtrip);
    tcase_add_test(tc, test_dot_vs_ref);
    tcase_add_test(tc, test_requant);
    tcase_add_test(tc, test_tanh_sigmoid);
    tcase_add_test(tc, test_gru_gates_extremes);
    tcase_add_test(tc, test_input_transform);
    suite_add_tcase(s, tc);
    tc = tcase_create("layers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_layer_dense);
    tcase_add_test(tc, test_layer_conv1d);
    tcase_add_test(tc, test_layer_elementwise);
    tcase_add_test(tc, test_layer_gru);
    suite_add_tcase(s, tc);
    tc = tcase_create("models");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_model_bts);
    tcase_add_test(tc, test_model_gsc);
    tcase_add_test(tc, test_model_stacks);
    tcase_add_test(tc, test_stream);
    tcase_add_test(tc, test_compiled);
    tcase_add_test(tc, test_sparse_models);
    suite_add_tcase(s, tc);
    tc = tcase_create("blob");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_blob_truncation_and_bitflips);
    tcase_add_test(tc, test_blob_fields);
    tcase_add_test(tc, test_blob_fuzz);
    tcase_add_test(tc, test_scratch);
    tcase_add_test(tc, test_builder);
    tcase_add_test(tc, test_sparse_blob);
    suite_add_tcase(s, tc);
    return s;
}
