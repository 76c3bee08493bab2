/* qrt sparse weights, host side: encoded sizes, the encoder, the chooser (qrt_sparse.h).
 * Dimension letters: R rows, K levels per row. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "qrt.h"
#include "qrt_sparse.h"

/* The arguments are valid and every level is on the N-bit grid. */
static int args_ok(const int8_t *levels, size_t rows, size_t k, unsigned enc, unsigned bits)
{
    unsigned c = qrt_container_bits(bits);
    if (levels == NULL || rows == 0u || k == 0u || c == 0u || enc >= (unsigned)QRT_WENC_END ||
        (enc != QRT_WENC_DENSE && c == 1u) || k > SIZE_MAX / rows)
        return 0;
    int lim = bits == 1u ? 1 : (1 << (bits - 1u)) - 1;
    for (size_t i = 0; i < rows * k; i++) {
        int q = levels[i];
        if (q > lim || q < -lim || (bits == 1u && q == 0))
            return 0;
    }
    return 1;
}

/* Bytes of one encoded row; writes it to dst if dst is not NULL. */
static size_t row_encode(uint8_t *dst, const int8_t *q, size_t k, unsigned enc, unsigned c)
{
    size_t n = 0;
    if (enc == QRT_WENC_DENSE) {
        n = QRT_ROW_BYTES(k, c);
        if (dst) { /* as qrt_pack_rows: low bits first, 1-bit set = +1 */
            memset(dst, 0, n);
            for (size_t i = 0; i < k; i++) {
                unsigned v = c == 1u ? (q[i] > 0) : ((unsigned)(uint8_t)q[i] & ((1u << c) - 1u));
                dst[i * c / 8u] |= (uint8_t)(v << (i * c % 8u));
            }
        }
        return n;
    }
    if (enc == QRT_WENC_BITMAP) {
        size_t rb = (k + 7u) / 8u, nnz = 0;
        unsigned vb = c == 2u ? 1u : c;
        if (dst)
            memset(dst, 0, rb);
        for (size_t i = 0; i < k; i++)
            if (q[i] != 0) {
                if (dst) {
                    dst[i / 8u] |= (uint8_t)(1u << (i % 8u));
                    uint32_t code = c == 2u ? (q[i] < 0) : ((uint32_t)(uint8_t)q[i] & ((1u << c) - 1u));
                    size_t bit = nnz * vb;
                    if (bit % 8u == 0u)
                        dst[rb + bit / 8u] = 0;
                    dst[rb + bit / 8u] |= (uint8_t)(code << (bit % 8u));
                }
                nnz++;
            }
        return rb + (nnz * vb + 7u) / 8u;
    }
    /* RLE: greedy tokens; tb bytes each */
    size_t tb = c == 8u ? 2u : 1u, gap = 0;
    unsigned rmax = QRT_RLE_RMAX(c);
#define TOKEN(r, v)                                                                          \
    do {                                                                                     \
        if (dst) {                                                                           \
            uint8_t *t_ = dst + n;                                                           \
            if (c == 8u) {                                                                   \
                t_[0] = (uint8_t)(r);                                                        \
                t_[1] = (uint8_t)(v);                                                        \
            } else                                                                           \
                t_[0] = (uint8_t)(((unsigned)(r) << c) | ((unsigned)(uint8_t)(v) & ((1u << c) - 1u))); \
        }                                                                                    \
        n += tb;                                                                             \
    } while (0)
    for (size_t i = 0; i < k; i++) {
        if (q[i] == 0) {
            gap++;
            continue;
        }
        for (; gap > rmax; gap -= rmax + 1u)
            TOKEN(rmax, 0);
        TOKEN(gap, q[i]);
        gap = 0;
    }
    if (gap > 0u) {
        for (; gap > rmax + 1u; gap -= rmax + 1u)
            TOKEN(rmax, 0);
        TOKEN(gap - 1u, 0);
    }
#undef TOKEN
    return n;
}

size_t qrt_sparse_size(const int8_t *levels, size_t rows, size_t k, unsigned enc, unsigned bits)
{
    if (!args_ok(levels, rows, k, enc, bits))
        return 0;
    unsigned c = qrt_container_bits(bits);
    size_t n = 0;
    for (size_t r = 0; r < rows; r++)
        n += row_encode(NULL, levels + r * k, k, enc, c);
    return n;
}

qrt_status qrt_sparse_encode(uint8_t *dst, size_t cap, size_t *len, const int8_t *levels,
                             size_t rows, size_t k, unsigned enc, unsigned bits)
{
    if (len)
        *len = 0;
    if (dst == NULL || len == NULL || !args_ok(levels, rows, k, enc, bits))
        return QRT_ERR_ARG;
    size_t need = qrt_sparse_size(levels, rows, k, enc, bits);
    if (cap < need)
        return QRT_ERR_BOUNDS;
    unsigned c = qrt_container_bits(bits);
    size_t n = 0;
    for (size_t r = 0; r < rows; r++)
        n += row_encode(dst + n, levels + r * k, k, enc, c);
    *len = n;
    return QRT_OK;
}

qrt_wenc qrt_sparse_choose(const int8_t *levels, size_t rows, size_t k, unsigned bits,
                           size_t *size)
{
    qrt_wenc best = QRT_WENC_END;
    size_t best_n = 0;
    if (size)
        *size = 0;
    for (unsigned e = QRT_WENC_DENSE; e < (unsigned)QRT_WENC_END; e++) {
        if (e != QRT_WENC_DENSE && bits == 1u)
            break;
        size_t n = qrt_sparse_size(levels, rows, k, e, bits);
        if (n != 0u && (best == QRT_WENC_END || n < best_n)) {
            best = (qrt_wenc)e;
            best_n = n;
        }
    }
    if (size)
        *size = best_n;
    return best;
}
