/* qrt — sparse weight rows (bitmap and run-length; formats in qrt_sparse.h and
 * docs/sparse.md): row kernels and their _ref twins, the row decoder, the validator.
 * Dimension letters: K levels per row. Freestanding, integer-only, no division. */
#include <stdint.h>
#include <stddef.h>
#include "qrt.h"
#include "qrt_sparse.h"

/* −1 when bit j of b is set, else 0 (as in qrt_kernels.c). */
#define BIT_MASK(b, j) ((int32_t)((uint32_t)(b) << (31 - (j))) >> 31)
/* ±x: (x ^ s) − s negates x when s = −1. */
#define SIGNED(x, s) (((x) ^ (s)) - (s))

/* ---- bitmap kernels ---------------------------------------------------------------------
 * One bitmap byte covers 8 inputs; the inner loop shifts the byte right until it is empty,
 * so an all-zero byte costs one load and one test, and the bits above the highest set bit
 * cost nothing. n counts the values taken so far. */
#define BM_LOOP(TAKE)                                                                        \
    size_t rb = (k + 7u) >> 3;                                                               \
    const uint8_t *v = row + rb;                                                             \
    uint32_t n = 0;                                                                          \
    int32_t acc = 0;                                                                         \
    for (size_t i = 0; i < rb; i++) {                                                        \
        const int32_t *xp = x + (i << 3);                                                    \
        for (uint32_t b = row[i]; b != 0u; b >>= 1, xp++)                                    \
            if (b & 1u) {                                                                    \
                TAKE;                                                                        \
                n++;                                                                         \
            }                                                                                \
    }                                                                                        \
    *dot = acc

#if QRT_ENABLE_BITMAP
#if QRT_ENABLE_S2
const uint8_t *qrt_sdot_bm_s2(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot)
{
    BM_LOOP({
        int32_t s_ = BIT_MASK(v[n >> 3], n & 7u); /* sign bit: set = −1 */
        acc += SIGNED(*xp, s_);
    });
    return v + ((n + 7u) >> 3);
}
#endif
#if QRT_ENABLE_S4
const uint8_t *qrt_sdot_bm_s4(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot)
{
    BM_LOOP(acc += ((int32_t)((uint32_t)v[n >> 1] << (28u - ((n & 1u) << 2))) >> 28) * *xp);
    return v + ((n + 1u) >> 1);
}
#endif
#if QRT_ENABLE_S8
const uint8_t *qrt_sdot_bm_s8(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot)
{
    BM_LOOP(acc += (int8_t)v[n] * *xp);
    return v + n;
}
#endif
#endif /* QRT_ENABLE_BITMAP */

/* ---- run-length kernels -----------------------------------------------------------------
 * Each token skips r inputs and multiplies the next one by q (0 for an escape or the
 * trailing-zero token); the row ends when the tokens have covered K inputs. */
#if QRT_ENABLE_RLE
#if QRT_ENABLE_S2
const uint8_t *qrt_sdot_rle_s2(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot)
{
    const int32_t *xe = x + k;
    int32_t acc = 0;
    while (x < xe) {
        uint32_t t = *row++;
        x += t >> 2;
        int32_t m_ = *x++ & BIT_MASK(t, 0), s_ = BIT_MASK(t, 1);
        acc += SIGNED(m_, s_);
    }
    *dot = acc;
    return row;
}
#endif
#if QRT_ENABLE_S4
const uint8_t *qrt_sdot_rle_s4(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot)
{
    const int32_t *xe = x + k;
    int32_t acc = 0;
    while (x < xe) {
        uint32_t t = *row++;
        x += t >> 4;
        acc += ((int32_t)(t << 28) >> 28) * *x++;
    }
    *dot = acc;
    return row;
}
#endif
#if QRT_ENABLE_S8
const uint8_t *qrt_sdot_rle_s8(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot)
{
    const int32_t *xe = x + k;
    int32_t acc = 0;
    while (x < xe) {
        x += row[0];
        acc += (int8_t)row[1] * *x++;
        row += 2;
    }
    *dot = acc;
    return row;
}
#endif
#endif /* QRT_ENABLE_RLE */

/* ---- scalar twins and the decoder -------------------------------------------------------
 * One walk, level by level: stores the levels (if `levels`) and multiply-adds x (if `x`). */
static const uint8_t *walk(const uint8_t *row, const int32_t *x, size_t k, unsigned enc,
                           unsigned c, int8_t *levels, int32_t *dot)
{
    int32_t acc = 0;
    size_t i = 0;
    if (enc == QRT_WENC_BITMAP) {
        size_t rb = (k + 7u) >> 3, n = 0;
        const uint8_t *v = row + rb;
        for (; i < k; i++) {
            int32_t q = 0;
            if (((uint32_t)row[i >> 3] >> (i & 7u)) & 1u) {
                if (c == 2u)
                    q = ((uint32_t)v[n >> 3] >> (n & 7u)) & 1u ? -1 : 1;
                else
                    q = qrt_unpack_level(v, n, c);
                n++;
            }
            if (levels)
                levels[i] = (int8_t)q;
            if (x)
                acc += q * x[i];
        }
        row = v + ((n * (c == 2u ? 1u : c) + 7u) >> 3);
    } else {
        while (i < k) {
            uint32_t r = c == 8u ? row[0] : (uint32_t)row[0] >> c;
            int32_t q = qrt_unpack_level(row + (c == 8u), 0, c);
            row += c == 8u ? 2 : 1;
            for (; r > 0u; r--, i++)
                if (levels)
                    levels[i] = 0;
            if (levels)
                levels[i] = (int8_t)q;
            if (x)
                acc += q * x[i];
            i++;
        }
    }
    if (dot)
        *dot = acc;
    return row;
}

const uint8_t *qrt_sparse_row_decode(const uint8_t *row, size_t k, unsigned enc, unsigned c,
                                     int8_t *levels)
{
    return walk(row, NULL, k, enc, c, levels, NULL);
}

#define REF(name, enc, c)                                                                    \
    const uint8_t *name(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot)        \
    {                                                                                        \
        return walk(row, x, k, enc, c, NULL, dot);                                           \
    }
REF(qrt_sdot_bm_s2_ref, QRT_WENC_BITMAP, 2u)
REF(qrt_sdot_bm_s4_ref, QRT_WENC_BITMAP, 4u)
REF(qrt_sdot_bm_s8_ref, QRT_WENC_BITMAP, 8u)
REF(qrt_sdot_rle_s2_ref, QRT_WENC_RLE, 2u)
REF(qrt_sdot_rle_s4_ref, QRT_WENC_RLE, 4u)
REF(qrt_sdot_rle_s8_ref, QRT_WENC_RLE, 8u)

qrt_sdot_fn qrt_sdot_for(unsigned enc, unsigned c)
{
#if QRT_ENABLE_BITMAP
    if (enc == QRT_WENC_BITMAP) {
#if QRT_ENABLE_S2
        if (c == 2u)
            return qrt_sdot_bm_s2;
#endif
#if QRT_ENABLE_S4
        if (c == 4u)
            return qrt_sdot_bm_s4;
#endif
#if QRT_ENABLE_S8
        if (c == 8u)
            return qrt_sdot_bm_s8;
#endif
    }
#endif
#if QRT_ENABLE_RLE
    if (enc == QRT_WENC_RLE) {
#if QRT_ENABLE_S2
        if (c == 2u)
            return qrt_sdot_rle_s2;
#endif
#if QRT_ENABLE_S4
        if (c == 4u)
            return qrt_sdot_rle_s4;
#endif
#if QRT_ENABLE_S8
        if (c == 8u)
            return qrt_sdot_rle_s8;
#endif
    }
#endif
    (void)enc;
    (void)c;
    return NULL;
}

/* ---- validator ------------------------------------------------------------------------- */

/* One level's contribution to a row's Σ|level|: QRT_ERR_RANGE once it exceeds lim. */
#define ADD_L1(q)                                                                            \
    do {                                                                                     \
        l1 += (uint32_t)((q) < 0 ? -(q) : (q));                                              \
        if (l1 > lim)                                                                        \
            return QRT_ERR_RANGE;                                                            \
    } while (0)

qrt_status qrt_sparse_check(const uint8_t *p, size_t len, unsigned enc, unsigned bits,
                            uint32_t rows, uint32_t k, const int32_t *bias, int32_t amax)
{
    unsigned c = qrt_container_bits(bits);
    if (p == NULL || c == 0u || enc >= (unsigned)QRT_WENC_END || rows == 0u || k == 0u ||
        amax < 1 || (enc != QRT_WENC_DENSE && c == 1u))
        return QRT_ERR_ARG;
    if (enc == QRT_WENC_DENSE ? qrt_dot_for(c) == NULL : qrt_sdot_for(enc, c) == NULL)
        return QRT_ERR_UNSUPPORTED;
    int32_t glim = c == 1u ? 1 : (int32_t)(1u << (bits - 1u)) - 1; /* |level| ≤ glim */
    uint32_t rmax = QRT_RLE_RMAX(c);
    size_t rem = len; /* bytes from the current row's start to the end */
    for (uint32_t r = 0; r < rows; r++) {
        uint32_t b = 0, l1 = 0;
        if (bias)
            b = bias[r] < 0 ? 0u - (uint32_t)bias[r] : (uint32_t)bias[r];
        if (b > (uint32_t)INT32_MAX)
            return QRT_ERR_RANGE;
        uint32_t lim = qrt_udiv32((uint32_t)INT32_MAX - b, (uint32_t)amax); /* Σ|level| ≤ lim */
        size_t used;
        if (enc == QRT_WENC_DENSE) {
            /* (k·c + 7)/8 without overflow */
            size_t rb = (size_t)(k >> 3) * c + (((k & 7u) * c + 7u) >> 3);
            if (rb > rem)
                return QRT_ERR_BOUNDS;
            for (uint32_t i = 0; i < k; i++) {
                int32_t q = qrt_unpack_level(p, i, c);
                if (q > glim || q < -glim)
                    return QRT_ERR_RANGE;
                ADD_L1(q);
            }
            unsigned pad = ((k & 7u) * c) & 7u; /* bits used in the last byte (0: all) */
            if (pad && (p[rb - 1u] >> pad) != 0u)
                return QRT_ERR_RANGE;
            used = rb;
        } else if (enc == QRT_WENC_BITMAP) {
            size_t rb = (k >> 3) + ((k & 7u) != 0u);
            if (rb > rem)
                return QRT_ERR_BOUNDS;
            if ((k & 7u) && (p[rb - 1u] >> (k & 7u)) != 0u)
                return QRT_ERR_RANGE; /* bits past K */
            uint32_t nnz = 0;
            for (size_t i = 0; i < rb; i++)
                for (uint32_t t = p[i]; t; t >>= 1)
                    nnz += t & 1u;
            unsigned vb = c == 2u ? 1u : c; /* bits per stored value */
            size_t nb = (size_t)(nnz >> 3) * vb + (((nnz & 7u) * vb + 7u) >> 3);
            if (nb > rem - rb)
                return QRT_ERR_BOUNDS;
            const uint8_t *v = p + rb;
            if (c == 2u) {
                if (nnz > lim)
                    return QRT_ERR_RANGE;
                l1 = nnz;
            } else {
                for (uint32_t n = 0; n < nnz; n++) {
                    int32_t q = qrt_unpack_level(v, n, c);
                    if (q == 0)
                        return QRT_ERR_FORMAT;
                    if (q > glim || q < -glim)
                        return QRT_ERR_RANGE;
                    ADD_L1(q);
                }
            }
            unsigned pad = ((nnz & 7u) * vb) & 7u;
            if (pad && (v[nb - 1u] >> pad) != 0u)
                return QRT_ERR_RANGE;
            used = rb + nb;
        } else { /* RLE */
            size_t tb = c == 8u ? 2u : 1u;
            uint32_t pos = 0;
            used = 0;
            while (pos < k) {
                if (tb > rem - used)
                    return QRT_ERR_BOUNDS;
                const uint8_t *t = p + used;
                uint32_t run = c == 8u ? t[0] : (uint32_t)t[0] >> c;
                int32_t q = qrt_unpack_level(t + (c == 8u), 0, c);
                used += tb;
                if (run >= k - pos)
                    return QRT_ERR_FORMAT; /* covers more than the row */
                pos += run + 1u;
                if (q == 0) {
                    if (run != rmax && pos != k)
                        return QRT_ERR_FORMAT; /* neither an escape nor the last token */
                } else {
                    if (q > glim || q < -glim)
                        return QRT_ERR_RANGE;
                    ADD_L1(q);
                }
            }
        }
        p += used;
        rem -= used;
    }
    return rem == 0u ? QRT_OK : QRT_ERR_FORMAT;
}
