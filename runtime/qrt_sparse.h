/* qrt sparse weights (issue 7): two encodings of a pruned weight matrix, their row kernels,
 * the loader's validator, and (host only, qrt_sparse_host.c) the encoder and the chooser.
 * Byte-exact formats, measurements and the exporter's rule: docs/sparse.md.
 *
 * Dimension letters: R rows (outputs), K levels per row (the dot-product length).
 * Levels: N-bit, N = 2..8, container c = qrt_container_bits(N) ∈ {2, 4, 8}; 1-bit matrices
 * have no zero level and are never sparse. |level| ≤ 2^(N−1) − 1 (N = 2: ternary).
 *
 * A matrix is its R encoded rows back to back, each a whole number of bytes and of variable
 * length: a layer walks them in order, the row kernel returning where the next row starts.
 *
 * BITMAP, per row: the K-bit presence bitmap (bit i set ⇔ level i ≠ 0; bit i in byte i/8 at
 * bit i%8, low bits first; bits ≥ K of the last byte zero), ceil(K/8) bytes; then the non-zero
 * levels in order, packed low bits first at v bits each, v = 8 (c = 8, int8), 4 (c = 4,
 * two's-complement nibble), 1 (c = 2: only the sign, set = −1, clear = +1), padded with
 * zero bits to a byte. Row bytes: ceil(K/8) + ceil(nnz·v/8).
 *
 * RLE, per row: tokens (run r, level q), each covering r zero levels followed by the level q.
 *   c = 8: two bytes, r (0..255) then q (int8).
 *   c = 4: one byte, q in the low nibble (two's complement), r (0..15) in the high nibble.
 *   c = 2: one byte, q in bits 0–1 (00 = 0, 01 = +1, 11 = −1, 10 invalid), r (0..63) in bits 2–7.
 * The tokens of a row cover exactly K levels. q = 0 only in an escape (r = RMAX, a run of
 * RMAX + 1 zeros: RMAX = 255, 15, 63) or in the row's last token (trailing zeros); the
 * encoder is greedy, so each matrix has exactly one RLE encoding. */
#ifndef QRT_SPARSE_H
#define QRT_SPARSE_H

#include <stddef.h>
#include <stdint.h>
#include "qrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Encodings compiled in (define to 0 to drop one's kernels from a device build; the
 * validator then rejects it with QRT_ERR_UNSUPPORTED). */
#ifndef QRT_ENABLE_BITMAP
#define QRT_ENABLE_BITMAP 1
#endif
#ifndef QRT_ENABLE_RLE
#define QRT_ENABLE_RLE 1
#endif
/* Either: the layers walk sparse rows and the loader accepts sparse slots. With both 0 the
 * layers have no per-row test for them (the fastest, smallest dense build: a compiled model
 * without sparse matrices, or an interpreter that only ever loads dense blobs). */
#define QRT_ENABLE_SPARSE (QRT_ENABLE_BITMAP || QRT_ENABLE_RLE)

/* The encoding of a weight matrix (a stable value: the blob will store it). */
typedef enum qrt_wenc {
    QRT_WENC_DENSE = 0,   /* qrt.h packing: rows of QRT_ROW_BYTES(K, c) */
    QRT_WENC_BITMAP = 1,
    QRT_WENC_RLE = 2,
    QRT_WENC_END
} qrt_wenc;

/* Longest zero run of one RLE token, by container width. */
#define QRT_RLE_RMAX(c) ((c) == 8u ? 255u : (c) == 4u ? 15u : 63u)

/* ---- row kernels (device) --------------------------------------------------------------
 * Compute *dot = Σ_i level_i·x_i over the encoded row at `row` (K = k levels, x (k) int32) and
 * return the start of the next row. Preconditions as for qrt_dot_s*: a validated matrix,
 * |x_i| ≤ 2^30 and every partial sum within int32 (qrt_sparse_check proves this with bias and
 * amax). They read x only inside x[0..k) and the row only inside its bytes. The 2-bit
 * kernels use masks, no multiply. The _ref twins walk the row level by level (as
 * qrt_sparse_row_decode does) and multiply-add: slow, for tests. */
typedef const uint8_t *(*qrt_sdot_fn)(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);

const uint8_t *qrt_sdot_bm_s2(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_bm_s4(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_bm_s8(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_rle_s2(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_rle_s4(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_rle_s8(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_bm_s2_ref(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_bm_s4_ref(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_bm_s8_ref(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_rle_s2_ref(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_rle_s4_ref(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);
const uint8_t *qrt_sdot_rle_s8_ref(const uint8_t *row, const int32_t *x, size_t k, int32_t *dot);

/* The row kernel of encoding enc (BITMAP or RLE) and container c (2, 4, 8), or NULL (other
 * values, or compiled out). */
qrt_sdot_fn qrt_sdot_for(unsigned enc, unsigned c);

/* Decode one encoded row (BITMAP or RLE, container c) into its k levels (int8) and return
 * the next row. Test helper and the _ref twins' engine; preconditions as for the kernels. */
const uint8_t *qrt_sparse_row_decode(const uint8_t *row, size_t k, unsigned enc, unsigned c,
                                     int8_t *levels);

/* ---- validator (device: the loader calls it) -------------------------------------------
 * Check the encoded matrix p[0..len) of `rows` rows of k N-bit levels (bits = N) in encoding
 * enc, with an optional int32 bias per row (NULL: none) and the input bound amax ≥ 1. Walks
 * every row, never reads outside [p, p + len) (nor bias outside [bias, bias + rows)). Checks:
 *   QRT_ERR_ARG          p NULL, or enc/bits/rows/k/amax invalid (rows, k ≥ 1; DENSE: bits
 *                        1..8, BITMAP and RLE: bits 2..8)
 *   QRT_ERR_UNSUPPORTED  the width's or encoding's kernels are compiled out
 *   QRT_ERR_BOUNDS       a row runs past p + len (truncated)
 *   QRT_ERR_FORMAT       len longer than the rows; RLE: a token past K, a zero level that is
 *                        neither an escape nor the row's last token; BITMAP: a zero value
 *   QRT_ERR_RANGE        a level off its grid (|q| > 2^(N−1) − 1, 2-bit code 10, −2^(c−1)),
 *                        a non-zero padding or unused bitmap bit, or the accumulator bound:
 *                        for each row Σ|level|·amax + |bias| ≤ 2^31 − 1, exactly the check of
 *                        qrt_model_load (DENSE is checked exactly as the loader does).
 * Integer-only, no 64-bit arithmetic, no division instruction. */
qrt_status qrt_sparse_check(const uint8_t *p, size_t len, unsigned enc, unsigned bits,
                            uint32_t rows, uint32_t k, const int32_t *bias, int32_t amax);

/* ---- host encoder (qrt_sparse_host.c; libc) ---------------------------------------------
 * levels: (rows, k) int8, row-major, on the N-bit grid (N = bits). */

/* Bytes of the encoding of the matrix, or 0 on invalid arguments (levels off the grid, bits
 * out of range for enc, rows or k zero). */
size_t qrt_sparse_size(const int8_t *levels, size_t rows, size_t k, unsigned enc, unsigned bits);
/* Encode into dst (cap bytes); *len = bytes written. QRT_ERR_ARG on invalid arguments,
 * QRT_ERR_BOUNDS if cap < qrt_sparse_size (nothing is written then). */
qrt_status qrt_sparse_encode(uint8_t *dst, size_t cap, size_t *len, const int8_t *levels,
                             size_t rows, size_t k, unsigned enc, unsigned bits);
/* The smallest encoding of the matrix: DENSE, BITMAP or RLE, ties to the earlier of that
 * list (1-bit: always DENSE); *size (may be NULL) = its bytes. QRT_WENC_END on invalid
 * arguments. */
qrt_wenc qrt_sparse_choose(const int8_t *levels, size_t rows, size_t k, unsigned bits,
                           size_t *size);

#ifdef __cplusplus
}
#endif

#endif /* QRT_SPARSE_H */
