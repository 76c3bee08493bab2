/* The device runtime (runtime/, docs/runtime.md): blob validation: truncation, bit flips, every
 * header and layer field, fuzzing, and scratch sizing. Shared helpers: testlib_runtime.h. */
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

/* ---- blob validation ------------------------------------------------------------------ */

START_TEST(test_blob_truncation_and_bitflips)
{
    tr_fmodel m;
    size_t len;
    uint8_t *blob = tr_bts_blob(&len, &m, 0);
    ck_assert_int_eq(tr_load_copy(blob, len), QRT_OK);
    for (size_t n = 0; n < len; n++) {
        qrt_status st = tr_load_copy(blob, n);
        ck_assert_msg(st != QRT_OK, "truncated to %zu loaded", n);
        if (n >= QRT_HEADER_SIZE + QRT_TRAILER_SIZE)
            ck_assert_int_eq(st, QRT_ERR_TRUNCATED);
    }
    /* a longer buffer than the blob declares */
    uint8_t *longer = tr_xcalloc(len + 8, 1);
    memcpy(longer, blob, len);
    ck_assert_int_eq(tr_load_copy(longer, len + 8), QRT_ERR_FORMAT);
    free(longer);
    /* every single bit flip */
    uint8_t *c = tr_xcalloc(len, 1);
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
    ck_assert_int_eq(tr_load_copy(c, len), QRT_OK);
    /* misaligned blob */
    uint8_t *mis = tr_xcalloc(len + 8, 1);
    memcpy(mis + 4, blob, len);
    qrt_model mm;
    ck_assert_int_eq(qrt_model_load(&mm, mis + 4, len), QRT_ERR_ALIGN);
    ck_assert_int_eq(qrt_model_load(&mm, NULL, len), QRT_ERR_ARG);
    ck_assert_int_eq(qrt_model_load(NULL, blob, len), QRT_ERR_ARG);
    printf("runtime: %zu-byte blob: %zu truncations and %zu bit flips rejected\n", len, len, n_flips);
    free(mis);
    free(c);
    free(blob);
    tr_fm_free(&m);
}
END_TEST

/* Set a 32-bit (or 16-bit) field, fix the CRC, expect a status. */
static void expect_field(const uint8_t *blob, size_t len, size_t off, int width, uint32_t v,
                         qrt_status want, const char *what)
{
    uint8_t *c = tr_xcalloc(len, 1);
    memcpy(c, blob, len);
    if (width == 4)
        tr_put_le32(c + off, v);
    else if (width == 2) {
        c[off] = (uint8_t)v;
        c[off + 1] = (uint8_t)(v >> 8);
    } else
        c[off] = (uint8_t)v;
    /* without the CRC fixed: rejected by the checksum (or earlier) */
    qrt_model m;
    ck_assert_msg(qrt_model_load(&m, c, len) != QRT_OK, "%s: loaded with a stale CRC", what);
    tr_fix_crc(c, len);
    qrt_status st = qrt_model_load(&m, c, len);
    ck_assert_msg(st == want, "%s = %u: got %d (%s), want %d (%s)", what, v, st, qrt_strerror(st),
                  want, qrt_strerror(want));
    free(c);
}

#define HOFF(f) offsetof(qrt_header, f)

START_TEST(test_blob_fields)
{
    tr_fmodel m;
    size_t len;
    uint8_t *b = tr_bts_blob(&len, &m, 1);
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
    uint32_t wdesc = tr_get_le32(b + s0), woff = tr_get_le32(b + s0 + 4);
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
    uint32_t rqoff = tr_get_le32(b + s0 + 20);
    expect_field(b, len, rqoff + 4, 4, 31, QRT_ERR_RANGE, "shift 31");
    expect_field(b, len, rqoff + 4, 4, (uint32_t)-32, QRT_ERR_RANGE, "shift -32");
    /* 4-bit weights: level −8 is off the 4-bit grid; an 8-bit GRU weight −128 too */
    expect_field(b, len, woff, 1, 0x88, QRT_ERR_RANGE, "level -8");
    size_t g0 = rec[3] + QRT_REC_SIZE;
    expect_field(b, len, tr_get_le32(b + g0 + 4), 1, 0x80, QRT_ERR_RANGE, "level -128");
    expect_field(b, len, g0 + 8, 4, QRT_SLOT_DESC(4, 15 * 5 - 1), QRT_ERR_SHAPE, "gru wh count");
    /* a bias that could overflow the accumulator */
    uint32_t boff = tr_get_le32(b + s0 + 12);
    expect_field(b, len, boff, 4, 0x7FFFFFF0u, QRT_ERR_RANGE, "bias overflow");
    /* padding bits of a row: conv rows are 15 levels × 4 bits = 7.5 bytes */
    expect_field(b, len, woff + 7, 1, (uint8_t)(b[woff + 7] | 0x80), QRT_ERR_RANGE, "padding bits");
    /* offset beyond 2^30 */
    uint32_t ooff = tr_get_le32(b + rec[1] + QRT_REC_SIZE + 12);
    expect_field(b, len, ooff, 4, 1u << 30, QRT_ERR_RANGE, "bn offset");
    free(b);
    tr_fm_free(&m);
}
END_TEST

/* Random mutations with the CRC fixed: whatever loads must run within its scratch. */
START_TEST(test_blob_fuzz)
{
    tr_fmodel m;
    size_t len;
    uint8_t *b = tr_bts_blob(&len, &m, 0);
    tr_rng r = {41};
    uint8_t *c = tr_xcalloc(len, 1);
    int32_t *x = tr_xcalloc(m.t * m.f, sizeof *x);
    size_t accepted = 0, rounds = 3000;
    for (size_t k = 0; k < rounds; k++) {
        memcpy(c, b, len);
        int nm = 1 + (int)(tr_rng_u32(&r) % 4);
        for (int i = 0; i < nm; i++) {
            size_t at = tr_rng_u32(&r) % (len - 4);
            uint32_t mode = tr_rng_u32(&r) % 4;
            c[at] = mode == 0 ? (uint8_t)tr_rng_u32(&r) : mode == 1 ? (uint8_t)(c[at] ^ (1u << (tr_rng_u32(&r) % 8)))
                                                      : mode == 2 ? 0 : 0xFF;
        }
        tr_fix_crc(c, len);
        qrt_model mm;
        if (qrt_model_load(&mm, c, len) != QRT_OK)
            continue;
        accepted++;
        size_t ss = qrt_scratch_size(&mm);
        void *scratch = tr_xcalloc(1, ss);
        for (size_t i = 0; i < m.t * m.f; i++)
            x[i] = (int32_t)tr_rng_u32(&r); /* anything: inputs are clamped */
        int32_t *logits = tr_xcalloc(mm.n_outputs, sizeof *logits);
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
    tr_fm_free(&m);
}
END_TEST

START_TEST(test_scratch)
{
    tr_fmodel m;
    size_t len;
    uint8_t *b = tr_bts_blob(&len, &m, 0);
    tr_loaded ld;
    tr_load_ok(&ld, b, len);
    /* bts: conv window 5·3 + countdown, GRU state 5; two buffers of 6; no aux (the dense GRU
     * goes unit by unit, its new state in the free buffer) */
    ck_assert_uint_eq(ld.scratch_size, 4u * (16 + 5 + 2 * 6));
    int32_t *x = tr_xcalloc(m.t * m.f, sizeof *x), logits[2];
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
    tr_fm_free(&m);
}
END_TEST

Suite *qr_suite_runtime_blob(void)
{
    Suite *s = suite_create("runtime_blob");
    TCase *tc = tcase_create("blob");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_blob_truncation_and_bitflips);
    tcase_add_test(tc, test_blob_fields);
    tcase_add_test(tc, test_blob_fuzz);
    tcase_add_test(tc, test_scratch);
    suite_add_tcase(s, tc);
    return s;
}
