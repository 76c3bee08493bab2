/* Sparse weight encodings (runtime/qrt_sparse.[ch], docs/sparse.md): encode/decode round
 * trips, row kernels against their _ref twins, the dense kernels and an int64 sum, the
 * validator against an independent oracle on every truncation and every single bit flip, and
 * its exact accumulator bound. Every encoded matrix sits in a malloc block of exactly its
 * length and every x in a block of exactly k values, so ASan catches any read outside.
 * Dimension letters: R rows, K levels per row. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "../runtime/qrt.h"
#include "../export/qrt_builder.h"
#include "../runtime/qrt_sparse.h"

/* ---- helpers ------------------------------------------------------------------------ */

typedef struct srng {
    uint64_t s;
} srng;

static uint32_t srng_u32(srng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t z = r->s;
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    z ^= z >> 33;
    return (uint32_t)z;
}

/* uniform in [0, n) */
static uint32_t srng_below(srng *r, uint32_t n) { return (uint32_t)(((uint64_t)srng_u32(r) * n) >> 32); }

static int glim(unsigned bits) { return bits == 1u ? 1 : (1 << (bits - 1u)) - 1; }

static const unsigned encs[2] = {QRT_WENC_BITMAP, QRT_WENC_RLE};
static const unsigned widths[5] = {2, 3, 4, 5, 8}; /* containers 2, 4, 4, 8, 8 */

/* rows × k levels, each zero with probability sparsity/100, else a non-zero level on the grid
 * (half of them ±max when `extreme`). */
static int8_t *gen_levels(srng *r, size_t rows, size_t k, unsigned bits, unsigned sparsity,
                          int extreme)
{
    int8_t *q = malloc(rows * k);
    ck_assert_ptr_nonnull(q);
    int lim = glim(bits);
    for (size_t i = 0; i < rows * k; i++) {
        if (srng_below(r, 100) < sparsity) {
            q[i] = 0;
            continue;
        }
        int v = extreme && (srng_u32(r) & 1u) ? lim : 1 + (int)srng_below(r, (uint32_t)lim);
        q[i] = (int8_t)((srng_u32(r) & 1u) ? -v : v);
    }
    return q;
}

/* The encoding in a malloc block of exactly its length (at least 1 byte allocated). */
static uint8_t *encode(const int8_t *q, size_t rows, size_t k, unsigned enc, unsigned bits,
                       size_t *len)
{
    size_t n = qrt_sparse_size(q, rows, k, enc, bits);
    ck_assert_uint_gt(n, 0);
    uint8_t *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(qrt_sparse_encode(p, n - 1u, len, q, rows, k, enc, bits), QRT_ERR_BOUNDS);
    ck_assert_int_eq(qrt_sparse_encode(p, n, len, q, rows, k, enc, bits), QRT_OK);
    ck_assert_uint_eq(*len, n);
    return p;
}

static int64_t dot64(const int8_t *q, const int32_t *x, size_t k)
{
    int64_t s = 0;
    for (size_t i = 0; i < k; i++)
        s += (int64_t)q[i] * x[i];
    return s;
}

static qrt_sdot_fn ref_for(unsigned enc, unsigned c)
{
    static const qrt_sdot_fn t[2][3] = {
        {qrt_sdot_bm_s2_ref, qrt_sdot_bm_s4_ref, qrt_sdot_bm_s8_ref},
        {qrt_sdot_rle_s2_ref, qrt_sdot_rle_s4_ref, qrt_sdot_rle_s8_ref}};
    return t[enc == QRT_WENC_RLE][c == 2u ? 0 : c == 4u ? 1 : 2];
}

/* Run the kernel, its twin, the dense kernel and an int64 sum over every row of the matrix
 * p[0..len) of levels q; all must agree and the rows must end exactly at p + len. */
static void check_kernels(const uint8_t *p, size_t len, const int8_t *q, size_t rows, size_t k,
                          unsigned enc, unsigned bits, const int32_t *x)
{
    unsigned c = qrt_container_bits(bits);
    qrt_sdot_fn f = qrt_sdot_for(enc, c), fr = ref_for(enc, c);
    ck_assert_ptr_nonnull(f);
    size_t rb = QRT_ROW_BYTES(k, c);
    uint8_t *dense = malloc(rows * rb);
    ck_assert_ptr_nonnull(dense);
    ck_assert_uint_eq(qrt_pack_rows(dense, q, rows, k, bits), rows * rb);
    const uint8_t *a = p, *b = p;
    int8_t *dec = malloc(k);
    ck_assert_ptr_nonnull(dec);
    for (size_t r = 0; r < rows; r++) {
        int32_t d1 = 12345, d2 = -12345;
        const uint8_t *row = a;
        a = f(a, x, k, &d1);
        b = fr(b, x, k, &d2);
        ck_assert_ptr_eq(a, b);
        ck_assert((size_t)(a - p) <= len);
        int64_t want = dot64(q + r * k, x, k);
        ck_assert_int_eq(d1, want);
        ck_assert_int_eq(d2, want);
        ck_assert_int_eq(qrt_dot_for(c)(dense + r * rb, x, k), want);
        ck_assert_ptr_eq(qrt_sparse_row_decode(row, k, enc, c, dec), a);
        ck_assert_mem_eq(dec, q + r * k, k);
    }
    ck_assert_ptr_eq(a, p + len);
    free(dec);
    free(dense);
}

/* x (k) in a block of exactly k: uniform in [−amax, amax], a quarter of them at ±amax. */
static int32_t *gen_x(srng *r, size_t k, int32_t amax)
{
    int32_t *x = malloc(k * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < k; i++) {
        int64_t v = (srng_u32(r) & 3u) == 0u ? amax
                                              : (int64_t)srng_below(r, (uint32_t)amax + 1u);
        x[i] = (int32_t)((srng_u32(r) & 1u) ? -v : v);
    }
    return x;
}

/* The largest amax ≤ 2^30 that the rows' Σ|q| and the bias allow. */
static int32_t max_amax(const int8_t *q, size_t rows, size_t k, const int32_t *bias)
{
    int64_t best = 1 << 30;
    for (size_t r = 0; r < rows; r++) {
        int64_t l1 = 0, b = bias ? llabs((long long)bias[r]) : 0;
        for (size_t i = 0; i < k; i++)
            l1 += abs(q[r * k + i]);
        if (l1 > 0 && (INT32_MAX - b) / l1 < best)
            best = (INT32_MAX - b) / l1;
    }
    return (int32_t)(best < 1 ? 1 : best);
}

/* ---- round trips and kernels --------------------------------------------------------- */

static const size_t ks[] = {1, 2, 7, 8, 9, 15, 16, 17, 33, 64, 65, 196, 300, 600};
static const unsigned sparsities[] = {0, 10, 50, 75, 90, 95, 99, 100};

START_TEST(test_roundtrip_kernels)
{
    srng r = {7};
    size_t rows = 5;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (size_t si = 0; si < sizeof sparsities / sizeof sparsities[0]; si++)
            for (unsigned wi = 0; wi < 5; wi++)
                for (unsigned ei = 0; ei < 2; ei++) {
                    size_t k = ks[ki], len;
                    unsigned bits = widths[wi], enc = encs[ei];
                    int8_t *q = gen_levels(&r, rows, k, bits, sparsities[si], (int)(si & 1u));
                    uint8_t *p = encode(q, rows, k, enc, bits, &len);
                    int32_t bias[5];
                    for (int i = 0; i < 5; i++)
                        bias[i] = (int32_t)srng_below(&r, 1u << 20) - (1 << 19);
                    int32_t amax = max_amax(q, rows, k, bias);
                    ck_assert_int_eq(qrt_sparse_check(p, len, enc, bits, (uint32_t)rows,
                                                      (uint32_t)k, bias, amax), QRT_OK);
                    int32_t *x = gen_x(&r, k, amax);
                    check_kernels(p, len, q, rows, k, enc, bits, x);
                    free(x);
                    free(p);
                    free(q);
                }
}
END_TEST

/* Rows built to hit every run-length case: all zero, all non-zero, a single level after
 * RMAX − 1 … RMAX + 2 zeros and after K − 1 zeros (several escapes), trailing runs of the same
 * lengths, and the largest |x| = 2^30 with a ±1 level. */
START_TEST(test_special_rows)
{
    srng r = {11};
    for (unsigned wi = 0; wi < 5; wi++)
        for (unsigned ei = 0; ei < 2; ei++) {
            unsigned bits = widths[wi], enc = encs[ei], c = qrt_container_bits(bits);
            unsigned rmax = QRT_RLE_RMAX(c);
            size_t k = 2u * rmax + 40u, rows = 0, len;
            int8_t *q = calloc(64 * k, 1);
            ck_assert_ptr_nonnull(q);
            rows++; /* all zero */
            for (size_t i = 0; i < k; i++) /* all non-zero */
                q[rows * k + i] = (int8_t)((i & 1u) ? -glim(bits) : 1);
            rows++;
            for (unsigned z = rmax - 1u; z <= rmax + 2u; z++) {
                q[rows * k + z] = (int8_t)glim(bits); /* z zeros, a level, trailing zeros */
                rows++;
                q[rows * k + (k - 1u - z)] = -1; /* a level, then exactly z trailing zeros */
                rows++;
                q[rows * k + 2u * z + 1u] = 1; /* two runs of z */
                q[rows * k + z] = -1;
                rows++;
            }
            q[rows * k + k - 1u] = 1; /* k − 1 zeros: escapes then a level */
            rows++;
            uint8_t *p = encode(q, rows, k, enc, bits, &len);
            int32_t amax = max_amax(q, rows, k, NULL);
            ck_assert_int_eq(qrt_sparse_check(p, len, enc, bits, (uint32_t)rows, (uint32_t)k,
                                              NULL, amax), QRT_OK);
            ck_assert_int_eq(qrt_sparse_check(p, len, enc, bits, (uint32_t)rows, (uint32_t)k,
                                              NULL, amax + 1), QRT_ERR_RANGE);
            int32_t *x = gen_x(&r, k, amax);
            check_kernels(p, len, q, rows, k, enc, bits, x);
            /* all-zero row: exactly the escapes and one final token, or a zero bitmap */
            size_t zero_row = enc == QRT_WENC_BITMAP ? (k + 7u) / 8u
                                                     : (c == 8u ? 2u : 1u) * ((k + rmax) / (rmax + 1u));
            ck_assert_uint_eq(qrt_sparse_size(q, 1, k, enc, bits), zero_row);
            free(x);
            free(p);
            free(q);
        }
    /* |x| = 2^30 with a single ±1 in a long row */
    for (unsigned ei = 0; ei < 2; ei++) {
        size_t k = 300, len;
        int8_t q[300] = {0};
        q[299] = -1;
        q[0] = 1;
        int32_t *x = malloc(k * sizeof *x);
        for (size_t i = 0; i < k; i++)
            x[i] = (i & 1u) ? -(1 << 30) : (1 << 30);
        for (unsigned wi = 0; wi < 5; wi++) {
            uint8_t *p = encode(q, 1, k, encs[ei], widths[wi], &len);
            ck_assert_int_eq(qrt_sparse_check(p, len, encs[ei], widths[wi], 1, 300, NULL, 1 << 30),
                             QRT_ERR_RANGE); /* 2·2^30 > 2^31 − 1 */
            q[0] = 0;
            free(p);
            p = encode(q, 1, k, encs[ei], widths[wi], &len);
            ck_assert_int_eq(qrt_sparse_check(p, len, encs[ei], widths[wi], 1, 300, NULL, 1 << 30),
                             QRT_OK);
            check_kernels(p, len, q, 1, k, encs[ei], widths[wi], x);
            q[0] = 1;
            free(p);
        }
        free(x);
    }
}
END_TEST

/* Sizes: the documented formulas (docs/sparse.md) and the chooser. */
START_TEST(test_sizes_and_choose)
{
    srng r = {3};
    for (unsigned wi = 0; wi < 5; wi++)
        for (size_t si = 0; si < sizeof sparsities / sizeof sparsities[0]; si++) {
            unsigned bits = widths[wi], c = qrt_container_bits(bits);
            size_t rows = 7, k = 196;
            int8_t *q = gen_levels(&r, rows, k, bits, sparsities[si], 0);
            size_t bm = 0, rle = 0, dense = rows * QRT_ROW_BYTES(k, c);
            unsigned rmax = QRT_RLE_RMAX(c), vb = c == 2u ? 1u : c, tb = c == 8u ? 2u : 1u;
            for (size_t rr = 0; rr < rows; rr++) {
                size_t nnz = 0, gap = 0;
                for (size_t i = 0; i < k; i++)
                    if (q[rr * k + i]) {
                        rle += tb * (1u + gap / (rmax + 1u));
                        gap = 0;
                        nnz++;
                    } else
                        gap++;
                if (gap)
                    rle += tb * ((gap + rmax) / (rmax + 1u));
                bm += (k + 7u) / 8u + (nnz * vb + 7u) / 8u;
            }
            ck_assert_uint_eq(qrt_sparse_size(q, rows, k, QRT_WENC_DENSE, bits), dense);
            ck_assert_uint_eq(qrt_sparse_size(q, rows, k, QRT_WENC_BITMAP, bits), bm);
            ck_assert_uint_eq(qrt_sparse_size(q, rows, k, QRT_WENC_RLE, bits), rle);
            size_t n = 0;
            qrt_wenc e = qrt_sparse_choose(q, rows, k, bits, &n);
            size_t best = dense < bm ? dense : bm;
            best = rle < best ? rle : best;
            ck_assert_uint_eq(n, best);
            ck_assert_int_eq(e, best == dense ? QRT_WENC_DENSE
                                              : best == bm ? QRT_WENC_BITMAP : QRT_WENC_RLE);
            /* dense through the encoder is qrt_pack_rows, and the validator takes it */
            size_t len;
            uint8_t *p = encode(q, rows, k, QRT_WENC_DENSE, bits, &len);
            uint8_t *ref = malloc(len);
            ck_assert_uint_eq(qrt_pack_rows(ref, q, rows, k, bits), len);
            ck_assert_mem_eq(p, ref, len);
            ck_assert_int_eq(qrt_sparse_check(p, len, QRT_WENC_DENSE, bits, (uint32_t)rows,
                                              (uint32_t)k, NULL, 1), QRT_OK);
            free(ref);
            free(p);
            free(q);
        }
    /* 0 % sparsity: dense wins everywhere; 100 %: a sparse encoding wins */
    int8_t q1[2 * 40], q0[2 * 40] = {0};
    for (int i = 0; i < 80; i++)
        q1[i] = (int8_t)(i % 3 - 1 ? i % 3 - 1 : 1);
    for (unsigned wi = 0; wi < 5; wi++) {
        ck_assert_int_eq(qrt_sparse_choose(q1, 2, 40, widths[wi], NULL), QRT_WENC_DENSE);
        ck_assert_int_ne(qrt_sparse_choose(q0, 2, 40, widths[wi], NULL), QRT_WENC_DENSE);
    }
    /* 1-bit: dense only; invalid arguments */
    ck_assert_int_eq(qrt_sparse_choose(q1, 2, 40, 1, NULL), QRT_WENC_DENSE);
    ck_assert_uint_eq(qrt_sparse_size(q1, 2, 40, QRT_WENC_RLE, 1), 0);
    ck_assert_uint_eq(qrt_sparse_size(q1, 2, 40, QRT_WENC_BITMAP, 9), 0);
    ck_assert_uint_eq(qrt_sparse_size(NULL, 2, 40, QRT_WENC_BITMAP, 8), 0);
    ck_assert_uint_eq(qrt_sparse_size(q1, 0, 40, QRT_WENC_BITMAP, 8), 0);
    q1[5] = 2; /* off the 2-bit grid */
    ck_assert_uint_eq(qrt_sparse_size(q1, 2, 40, QRT_WENC_RLE, 2), 0);
    ck_assert_int_eq(qrt_sparse_choose(q1, 2, 40, 2, NULL), QRT_WENC_END);
    size_t len = 99;
    uint8_t buf[64];
    ck_assert_int_eq(qrt_sparse_encode(buf, sizeof buf, &len, q1, 2, 40, QRT_WENC_RLE, 2),
                     QRT_ERR_ARG);
    ck_assert_uint_eq(len, 0);
}
END_TEST

/* ---- validator ------------------------------------------------------------------------ */

/* The oracle: p[0..len) is valid iff a lenient, bounds-checked parse yields levels on the
 * grid whose encoding is exactly p[0..len) and whose rows satisfy the accumulator bound.
 * Independent of qrt_sparse_check and qrt_sparse_row_decode. Returns the levels or NULL. */
static int8_t *oracle(const uint8_t *p, size_t len, unsigned enc, unsigned bits, size_t rows,
                      size_t k, const int32_t *bias, int32_t amax)
{
    unsigned c = qrt_container_bits(bits);
    int8_t *q = calloc(rows * k, 1);
    size_t at = 0;
    for (size_t r = 0; r < rows; r++) {
        int8_t *row = q + r * k;
        if (enc == QRT_WENC_DENSE) {
            size_t rb = (k * c + 7) / 8;
            if (at + rb > len)
                goto bad;
            for (size_t i = 0; i < k; i++) {
                unsigned raw = (p[at + i * c / 8] >> (i * c % 8)) & ((1u << c) - 1);
                row[i] = (int8_t)(c == 1 ? (raw ? 1 : -1)
                                         : (raw >= (1u << (c - 1)) ? (int)raw - (1 << c) : (int)raw));
            }
            at += rb;
        } else if (enc == QRT_WENC_BITMAP) {
            size_t rb = (k + 7) / 8, n = 0;
            if (at + rb > len)
                goto bad;
            for (size_t i = 0; i < k; i++)
                if (p[at + i / 8] >> (i % 8) & 1)
                    n++;
            size_t vb = c == 2 ? 1 : c, nb = (n * vb + 7) / 8;
            if (at + rb + nb > len)
                goto bad;
            size_t j = 0;
            for (size_t i = 0; i < k; i++)
                if (p[at + i / 8] >> (i % 8) & 1) {
                    unsigned raw = (p[at + rb + j * vb / 8] >> (j * vb % 8)) & ((1u << vb) - 1);
                    row[i] = (int8_t)(c == 2 ? (raw ? -1 : 1) : (raw >= (1u << (c - 1)) ? (int)raw - (1 << c) : (int)raw));
                    j++;
                }
            at += rb + nb;
        } else {
            size_t pos = 0, tb = c == 8 ? 2 : 1;
            while (pos < k) {
                if (at + tb > len)
                    goto bad;
                unsigned run = c == 8 ? p[at] : p[at] >> c;
                unsigned raw = c == 8 ? p[at + 1] : p[at] & ((1u << c) - 1);
                at += tb;
                pos += run;
                if (pos >= k)
                    goto bad;
                row[pos++] = (int8_t)(raw >= (1u << (c - 1)) ? (int)raw - (1 << c) : (int)raw);
            }
        }
    }
    for (size_t i = 0; i < rows * k; i++)
        if (abs(q[i]) > glim(bits))
            goto bad;
    if (qrt_sparse_size(q, rows, k, enc, bits) != len)
        goto bad;
    uint8_t *re = malloc(len);
    size_t n;
    int same = qrt_sparse_encode(re, len, &n, q, rows, k, enc, bits) == QRT_OK &&
               memcmp(re, p, len) == 0;
    free(re);
    if (!same)
        goto bad;
    for (size_t r = 0; r < rows; r++) {
        int64_t l1 = 0;
        for (size_t i = 0; i < k; i++)
            l1 += abs(q[r * k + i]);
        if (l1 * amax + (bias ? llabs((long long)bias[r]) : 0) > INT32_MAX)
            goto bad;
    }
    return q;
bad:
    free(q);
    return NULL;
}

/* Every truncation, one byte more, and every single bit flip of one encoded matrix: the
 * validator agrees with the oracle; accepted mutants run through the kernels in bounds. */
static unsigned mutate_all(const int8_t *q, size_t rows, size_t k, unsigned enc, unsigned bits,
                           const int32_t *bias, int32_t amax, srng *r, unsigned *n_accepted)
{
    size_t len;
    uint8_t *p = encode(q, rows, k, enc, bits, &len);
    ck_assert_int_eq(qrt_sparse_check(p, len, enc, bits, (uint32_t)rows, (uint32_t)k, bias, amax),
                     QRT_OK);
    for (size_t t = 0; t < len; t++) { /* every truncation */
        uint8_t *c = malloc(t ? t : 1);
        memcpy(c, p, t);
        ck_assert_int_eq(qrt_sparse_check(c, t, enc, bits, (uint32_t)rows, (uint32_t)k, bias, amax),
                         QRT_ERR_BOUNDS);
        free(c);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, p, len);
    longer[len] = 0;
    ck_assert_int_eq(qrt_sparse_check(longer, len + 1, enc, bits, (uint32_t)rows, (uint32_t)k,
                                      bias, amax), QRT_ERR_FORMAT);
    free(longer);
    int32_t *x = gen_x(r, k, amax);
    unsigned rejected = 0;
    for (size_t bit = 0; bit < 8 * len; bit++) {
        uint8_t *m = malloc(len);
        memcpy(m, p, len);
        m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        qrt_status st = qrt_sparse_check(m, len, enc, bits, (uint32_t)rows, (uint32_t)k, bias, amax);
        int8_t *mq = oracle(m, len, enc, bits, rows, k, bias, amax);
        if (st == QRT_OK) {
            ck_assert_msg(mq != NULL, "accepted an invalid mutant (bit %zu)", bit);
            if (enc != QRT_WENC_DENSE)
                check_kernels(m, len, mq, rows, k, enc, bits, x);
            ++*n_accepted;
        } else {
            ck_assert_msg(mq == NULL, "rejected a valid mutant (bit %zu): %d", bit, (int)st);
            ck_assert(st == QRT_ERR_RANGE || st == QRT_ERR_FORMAT || st == QRT_ERR_BOUNDS);
            rejected++;
        }
        free(mq);
        free(m);
    }
    free(x);
    free(p);
    return rejected;
}

START_TEST(test_validator_mutations)
{
    srng r = {5};
    static const size_t mk[] = {1, 7, 9, 20, 33};
    static const unsigned msp[] = {0, 50, 90, 100};
    unsigned acc_total = 0, rej_total = 0;
    static const unsigned mw[6] = {1, 2, 3, 4, 5, 8};
    for (unsigned wi = 0; wi < 6; wi++)
        for (unsigned e = 0; e < 3; e++)
            for (size_t ki = 0; ki < 5; ki++)
                for (size_t si = 0; si < 4; si++) {
                    size_t rows = 3, k = mk[ki];
                    if (mw[wi] == 1u && e != QRT_WENC_DENSE)
                        continue; /* 1-bit: dense only, no zeros */
                    int8_t *q = gen_levels(&r, rows, k, mw[wi], mw[wi] == 1u ? 0 : msp[si], 1);
                    int32_t bias[3] = {1000, -77, 0};
                    int32_t amax = max_amax(q, rows, k, bias);
                    if (si & 1u) /* with slack: level flips that grow Σ|q| may stay in bound */
                        amax = amax / 4 + 1;
                    rej_total += mutate_all(q, rows, k, e, mw[wi], bias, amax, &r, &acc_total);
                    free(q);
                }
    /* both outcomes occur (so neither branch above is dead) */
    ck_assert_uint_gt(acc_total, 100);
    ck_assert_uint_gt(rej_total, 100);
    /* the RLE long-run rows: flips in escapes */
    for (unsigned wi = 0; wi < 5; wi++)
        for (unsigned ei = 0; ei < 2; ei++) {
            unsigned c = qrt_container_bits(widths[wi]);
            size_t k = QRT_RLE_RMAX(c) * 2u + 5u;
            int8_t *q = calloc(2 * k, 1);
            q[QRT_RLE_RMAX(c) + 1u] = 1;
            q[k + k - 1u] = -1;
            rej_total += mutate_all(q, 2, k, encs[ei], widths[wi], NULL, 1000, &r, &acc_total);
            free(q);
        }
}
END_TEST

/* Each kind of error on purpose, with its status. */
START_TEST(test_validator_errors)
{
    int8_t q[2 * 9] = {0, 3, 0, 0, -1, 0, 0, 0, 2, /* */ 1, 0, 0, 0, 0, 0, 0, 0, 0};
    size_t len;
    for (unsigned ei = 0; ei < 2; ei++) {
        unsigned enc = encs[ei];
        uint8_t *p = encode(q, 2, 9, enc, 8, &len);
        ck_assert_int_eq(qrt_sparse_check(p, len, enc, 8, 2, 9, NULL, 1), QRT_OK);
        /* the same bytes read as 3-bit (c = 4) or with another K are wrong */
        ck_assert_int_ne(qrt_sparse_check(p, len, enc, 4, 2, 9, NULL, 1), QRT_OK);
        ck_assert_int_ne(qrt_sparse_check(p, len, enc, 8, 2, 17, NULL, 1), QRT_OK);
        ck_assert_int_ne(qrt_sparse_check(p, len, enc, 8, 2, 8, NULL, 1), QRT_OK);
        ck_assert_int_eq(qrt_sparse_check(p, len, enc, 8, 1, 9, NULL, 1), QRT_ERR_FORMAT);
        ck_assert_int_eq(qrt_sparse_check(p, len, enc, 8, 3, 9, NULL, 1), QRT_ERR_BOUNDS);
        /* off-grid at 3 bits: the 3 is fine, a 4 is not; at 2 bits any |q| > 1 */
        int8_t g[9] = {0, 3, 0, 0, -3, 0, 0, 0, 0};
        uint8_t *p3 = encode(g, 1, 9, enc, 3, &len);
        ck_assert_int_eq(qrt_sparse_check(p3, len, enc, 3, 1, 9, NULL, 1), QRT_OK);
        /* the level 3 → 4: one nibble, at the first value (BITMAP) or token (RLE) */
        if (enc == QRT_WENC_BITMAP)
            p3[2] = (uint8_t)((p3[2] & 0xF0u) | 4u);
        else
            p3[0] = (uint8_t)((p3[0] & 0xF0u) | 4u);
        ck_assert_int_eq(qrt_sparse_check(p3, len, enc, 3, 1, 9, NULL, 1), QRT_ERR_RANGE);
        ck_assert_int_eq(qrt_sparse_check(p3, len, enc, 4, 1, 9, NULL, 1), QRT_OK); /* on the 4-bit grid */
        /* −8 is never valid in a nibble */
        if (enc == QRT_WENC_BITMAP)
            p3[2] = (uint8_t)((p3[2] & 0xF0u) | 8u);
        else
            p3[0] = (uint8_t)((p3[0] & 0xF0u) | 8u);
        ck_assert_int_eq(qrt_sparse_check(p3, len, enc, 4, 1, 9, NULL, 1), QRT_ERR_RANGE);
        free(p3);
        /* −128 is never valid at 8 bits */
        int8_t h[9] = {0, 0, 5, 0, 0, 0, 0, 0, 0};
        uint8_t *p8 = encode(h, 1, 9, enc, 8, &len);
        p8[len - 1] = 0x80; /* the only value (BITMAP) / the level byte of the first token (RLE) */
        if (enc == QRT_WENC_RLE)
            p8[1] = 0x80, p8[len - 1] = 0;
        ck_assert_int_eq(qrt_sparse_check(p8, len, enc, 8, 1, 9, NULL, 1), QRT_ERR_RANGE);
        free(p8);
        /* 2-bit code 10 (RLE) */
        int8_t t[9] = {0, 1, 0, 0, 0, 0, 0, 0, -1};
        uint8_t *p2 = encode(t, 1, 9, enc, 2, &len);
        ck_assert_int_eq(qrt_sparse_check(p2, len, enc, 2, 1, 9, NULL, 1), QRT_OK);
        if (enc == QRT_WENC_RLE) {
            p2[0] = (uint8_t)((p2[0] & 0xFCu) | 2u);
            ck_assert_int_eq(qrt_sparse_check(p2, len, enc, 2, 1, 9, NULL, 1), QRT_ERR_RANGE);
        } else { /* bitmap: a sign-padding bit (2 signs in byte 2: bits 2..7 unused) */
            p2[2] |= 0x80u;
            ck_assert_int_eq(qrt_sparse_check(p2, len, enc, 2, 1, 9, NULL, 1), QRT_ERR_RANGE);
        }
        free(p2);
        free(p);
    }
    /* bitmap: an unused bit past K (K = 9: bits 1..7 of byte 1) and a zero value */
    {
        int8_t b[9] = {1, 0, 0, 0, 0, 0, 0, 0, 1};
        uint8_t *p = encode(b, 1, 9, QRT_WENC_BITMAP, 8, &len); /* 03 01 | 01 01 → bm 01 01, vals */
        ck_assert_uint_eq(len, 4);
        p[1] |= 2u;
        ck_assert_int_eq(qrt_sparse_check(p, len, QRT_WENC_BITMAP, 8, 1, 9, NULL, 1), QRT_ERR_RANGE);
        p[1] &= 1u;
        p[3] = 0;
        ck_assert_int_eq(qrt_sparse_check(p, len, QRT_WENC_BITMAP, 8, 1, 9, NULL, 1), QRT_ERR_FORMAT);
        free(p);
        /* 4-bit values: 2 values in one byte, no padding; 1 value: the high nibble is padding */
        int8_t b1[9] = {0, 0, 0, 0, 0, 0, 0, 0, 7};
        p = encode(b1, 1, 9, QRT_WENC_BITMAP, 4, &len);
        ck_assert_uint_eq(len, 3);
        p[2] |= 0x10u;
        ck_assert_int_eq(qrt_sparse_check(p, len, QRT_WENC_BITMAP, 4, 1, 9, NULL, 1), QRT_ERR_RANGE);
        free(p);
    }
    /* RLE: a zero level in the middle (not an escape), a token past K */
    {
        int8_t b[9] = {1, 0, 0, 0, 0, 0, 0, 0, 1};
        uint8_t *p = encode(b, 1, 9, QRT_WENC_RLE, 4, &len); /* tokens 01, 71 */
        ck_assert_uint_eq(len, 2);
        ck_assert_uint_eq(p[0], 0x01);
        ck_assert_uint_eq(p[1], 0x71);
        p[0] = 0x00;
        ck_assert_int_eq(qrt_sparse_check(p, len, QRT_WENC_RLE, 4, 1, 9, NULL, 1), QRT_ERR_FORMAT);
        p[0] = 0x01;
        p[1] = 0x81; /* run 8 after position 1: past K */
        ck_assert_int_eq(qrt_sparse_check(p, len, QRT_WENC_RLE, 4, 1, 9, NULL, 1), QRT_ERR_FORMAT);
        p[1] = 0x70; /* the last token with a zero level: valid form, but not canonical... */
        ck_assert_int_eq(qrt_sparse_check(p, len, QRT_WENC_RLE, 4, 1, 9, NULL, 1), QRT_OK);
        free(p); /* ... it is the encoding of {1, 0, …, 0}: canonical after all */
    }
    /* arguments */
    uint8_t z[4] = {0};
    ck_assert_int_eq(qrt_sparse_check(NULL, 4, QRT_WENC_RLE, 4, 1, 9, NULL, 1), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_sparse_check(z, 4, QRT_WENC_RLE, 1, 1, 9, NULL, 1), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_sparse_check(z, 4, QRT_WENC_BITMAP, 9, 1, 9, NULL, 1), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_sparse_check(z, 4, 3, 4, 1, 9, NULL, 1), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_sparse_check(z, 4, QRT_WENC_RLE, 4, 0, 9, NULL, 1), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_sparse_check(z, 4, QRT_WENC_RLE, 4, 1, 0, NULL, 1), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_sparse_check(z, 4, QRT_WENC_RLE, 4, 1, 9, NULL, 0), QRT_ERR_ARG);
    ck_assert_ptr_null(qrt_sdot_for(QRT_WENC_DENSE, 8));
    ck_assert_ptr_null(qrt_sdot_for(QRT_WENC_RLE, 1));
    ck_assert_ptr_null(qrt_sdot_for(QRT_WENC_BITMAP, 3));
}
END_TEST

/* The accumulator bound at its exact edge, for every encoding, against the loader's rule
 * (qrt_check_accum): Σ|q|·amax + |bias| ≤ 2^31 − 1. */
START_TEST(test_validator_accum)
{
    srng r = {9};
    for (unsigned bits = 2; bits <= 8; bits++)
        for (unsigned e = 0; e < 3; e++)
            for (int trial = 0; trial < 20; trial++) {
                size_t rows = 4, k = 1 + srng_below(&r, 200), len;
                int8_t *q = gen_levels(&r, rows, k, bits, srng_below(&r, 96), trial & 1);
                q[k - 1] = 1; /* row 0 non-zero */
                int32_t bias[4];
                for (int i = 0; i < 4; i++)
                    bias[i] = (int32_t)srng_u32(&r) >> (1 + srng_below(&r, 30));
                if (trial == 3)
                    bias[2] = INT32_MIN;
                if (trial == 4)
                    bias[1] = INT32_MAX;
                if (trial == 5)
                    bias[1] = -INT32_MAX;
                uint8_t *p = encode(q, rows, k, e, bits, &len);
                /* the largest amax that passes row by row, then ±1 around it */
                int64_t l1 = 0;
                for (size_t i = 0; i < k; i++)
                    l1 += abs(q[i]);
                int64_t edge = (INT32_MAX - llabs((long long)bias[0])) / l1;
                for (int64_t a = edge - 1; a <= edge + 1; a++) {
                    if (a < 1 || a > INT32_MAX)
                        continue;
                    qrt_status want = qrt_check_accum(q, rows, k, bias, (int32_t)a);
                    ck_assert_int_eq(qrt_sparse_check(p, len, e, bits, (uint32_t)rows,
                                                      (uint32_t)k, bias, (int32_t)a), want);
                    ck_assert_int_eq(qrt_sparse_check(p, len, e, bits, (uint32_t)rows,
                                                      (uint32_t)k, NULL, (int32_t)a),
                                     qrt_check_accum(q, rows, k, NULL, (int32_t)a));
                }
                free(p);
                free(q);
            }
    /* the edge itself, by hand: K = 3 levels 7, 7, 7 at 4 bits, amax = (2^31 − 1 − 5)/21 */
    int8_t q[3] = {7, 7, 7};
    int32_t b = -5, amax = (INT32_MAX - 5) / 21;
    size_t len;
    for (unsigned e = 0; e < 3; e++) {
        uint8_t *p = encode(q, 1, 3, e, 4, &len);
        ck_assert_int_eq(qrt_sparse_check(p, len, e, 4, 1, 3, &b, amax), QRT_OK);
        ck_assert_int_eq(qrt_sparse_check(p, len, e, 4, 1, 3, &b, amax + 1), QRT_ERR_RANGE);
        int32_t b2 = b - (int32_t)((INT32_MAX - 5) % 21) - 1;
        ck_assert_int_eq(qrt_sparse_check(p, len, e, 4, 1, 3, &b2, amax), QRT_ERR_RANGE);
        free(p);
    }
}
END_TEST

/* Reference-model shapes (bts and gsc) at 50–95 % sparsity through every kernel. */
START_TEST(test_model_shapes)
{
    static const size_t shapes[][2] = {{15, 6}, {15, 5}, {6, 15}, {2, 5},
                                       {128, 130}, {588, 128}, {588, 196}, {12, 196}};
    srng r = {13};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (unsigned wi = 0; wi < 5; wi += 2) /* 2, 4, 8 bits */
            for (unsigned ei = 0; ei < 2; ei++) {
                size_t rows = shapes[s][0], k = shapes[s][1], len;
                int8_t *q = gen_levels(&r, rows, k, widths[wi], 50 + 15 * (unsigned)ei, 0);
                uint8_t *p = encode(q, rows, k, encs[ei], widths[wi], &len);
                int32_t amax = max_amax(q, rows, k, NULL);
                ck_assert_int_eq(qrt_sparse_check(p, len, encs[ei], widths[wi], (uint32_t)rows,
                                                  (uint32_t)k, NULL, amax), QRT_OK);
                int32_t *x = gen_x(&r, k, amax);
                check_kernels(p, len, q, rows, k, encs[ei], widths[wi], x);
                free(x);
                free(p);
                free(q);
            }
}
END_TEST

Suite *qr_suite_sparse(void)
{
    Suite *s = suite_create("sparse");
    TCase *tc = tcase_create("encode");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_roundtrip_kernels);
    tcase_add_test(tc, test_special_rows);
    tcase_add_test(tc, test_sizes_and_choose);
    tcase_add_test(tc, test_model_shapes);
    suite_add_tcase(s, tc);
    tc = tcase_create("validator");
    tcase_set_timeout(tc, 300); /* every bit flip; slow under sanitizers */
    tcase_add_test(tc, test_validator_mutations);
    tcase_add_test(tc, test_validator_errors);
    tcase_add_test(tc, test_validator_accum);
    suite_add_tcase(s, tc);
    return s;
}
