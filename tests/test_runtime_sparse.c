/* The device runtime (runtime/, docs/runtime.md): sparse weights (format version 2): models
 * against their float models, and blobs. Shared helpers: testlib_runtime.h. */
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

/* ---- sparse weights (format version 2) ------------------------------------------------ */

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
 * independent integer reference (tr_check_model), whole and streamed. */
START_TEST(test_sparse_models)
{
    tr_rng r = {80};
    static const double fracs[] = {0.5, 0.8, 0.95};
    static const unsigned widths[] = {8, 4, 2};
    size_t seen_bm = 0, seen_rle = 0;
    for (int wi = 0; wi < 3; wi++)
        for (int fi = 0; fi < 3; fi++) {
            tr_fmodel m;
            tr_make_bts(&m, &r, widths[wi], fi == 1);
            m.L[0].causal = fi == 2;
            size_t n_x = 4;
            double *xs = tr_rnd_inputs(&r, n_x * m.t * m.f, 2.0);
            tr_fmodel_quantize(&m, xs, n_x, 0);
            tr_fm_prune(&m, &r, fracs[fi]);
            size_t dlen, slen;
            uint8_t *dense = tr_fmodel_build(&m, &dlen, QRT_OK);
            m.sparse = 1;
            uint8_t *sparse = tr_fmodel_build(&m, &slen, QRT_OK);
            ck_assert_uint_eq(tr_get_le32(dense + 8), 1); /* version */
            tr_loaded ld, ls;
            tr_load_ok(&ld, dense, dlen);
            tr_load_ok(&ls, sparse, slen);
            size_t nbm, nrle, ns = count_sparse(&ls.m, &nbm, &nrle);
            seen_bm += nbm;
            seen_rle += nrle;
            ck_assert_uint_eq(tr_get_le32(sparse + 8), ns ? 2 : 1);
            ck_assert_uint_le(slen, dlen);
            /* a sparse GRU walks its rows in order into 4H pre-activations, a dense one
             * needs no aux (bts: no dilated convolution) */
            ck_assert_uint_eq(ld.scratch_size, 4u * (16 + 5 + 2 * 6));
            ck_assert_uint_eq(ls.scratch_size, ld.scratch_size + 4u * sparse_gru_words(&ls.m));
            if (fracs[fi] >= 0.8)
                ck_assert_uint_gt(ns, 0);
            tr_cmp_stats cs = tr_check_model(&m, sparse, slen, xs, n_x, 0);
            ck_assert_uint_eq(cs.argmax_same, cs.argmax_n);
            int32_t *xq = tr_quantize_x(&m, xs);
            int32_t a[2], b[2];
            ck_assert_int_eq(qrt_run(&ld.m, xq, ld.scratch, ld.scratch_size, a), QRT_OK);
            ck_assert_int_eq(qrt_run(&ls.m, xq, ls.scratch, ls.scratch_size, b), QRT_OK);
            ck_assert_mem_eq(a, b, sizeof a);
            /* QRT_SPARSE_FAST: run-length only, and only where smaller than dense */
            m.sparse = QRT_SPARSE_FAST;
            size_t flen;
            uint8_t *fast = tr_fmodel_build(&m, &flen, QRT_OK);
            tr_loaded lf;
            tr_load_ok(&lf, fast, flen);
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
            tr_fm_free(&m);
        }
    ck_assert_uint_gt(seen_bm, 0); /* both encodings were exercised */
    ck_assert_uint_gt(seen_rle, 0);
}
END_TEST

/* A sparse blob against corruption: every truncation and bit flip rejected; version 1 with a
 * sparse slot rejected; mutations with the CRC fixed either rejected or run in bounds. */
START_TEST(test_sparse_blob)
{
    tr_rng r = {81};
    tr_fmodel m;
    tr_make_bts(&m, &r, 4, 0);
    double *xs = tr_rnd_inputs(&r, 4 * m.t * m.f, 2.0);
    tr_fmodel_quantize(&m, xs, 4, 0);
    tr_fm_prune(&m, &r, 0.85);
    m.sparse = 1;
    size_t len;
    uint8_t *b = tr_fmodel_build(&m, &len, QRT_OK);
    ck_assert_uint_eq(tr_get_le32(b + 8), 2);
    for (size_t n = 0; n < len; n++)
        ck_assert_msg(tr_load_copy(b, n) != QRT_OK, "truncated to %zu loaded", n);
    uint8_t *c = tr_xcalloc(len, 1);
    memcpy(c, b, len);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            c[i] ^= (uint8_t)(1u << bit);
            qrt_model mm;
            ck_assert_msg(qrt_model_load(&mm, c, len) != QRT_OK, "bit flip %zu.%d loaded", i, bit);
            c[i] ^= (uint8_t)(1u << bit);
        }
    /* version 1 cannot hold sparse slots; version 3 does not exist */
    tr_put_le32(c + 8, 1);
    tr_fix_crc(c, len);
    ck_assert_int_eq(tr_load_copy(c, len), QRT_ERR_FORMAT);
    tr_put_le32(c + 8, 3);
    tr_fix_crc(c, len);
    ck_assert_int_eq(tr_load_copy(c, len), QRT_ERR_VERSION);
    /* mutations inside the data section (the encoded rows), CRC fixed */
    const qrt_header *h = (const qrt_header *)(const void *)b;
    uint32_t lo = h->data_off, n_data = h->data_size;
    int32_t *x = tr_quantize_x(&m, xs);
    size_t accepted = 0, rounds = 3000;
    for (size_t k = 0; k < rounds; k++) {
        memcpy(c, b, len);
        int nm = 1 + (int)(tr_rng_u32(&r) % 3);
        for (int i = 0; i < nm; i++) {
            size_t at = lo + tr_rng_u32(&r) % n_data;
            c[at] = tr_rng_u32(&r) % 2 ? (uint8_t)tr_rng_u32(&r)
                                     : (uint8_t)(c[at] ^ (1u << (tr_rng_u32(&r) % 8)));
        }
        tr_fix_crc(c, len);
        qrt_model mm;
        if (qrt_model_load(&mm, c, len) != QRT_OK)
            continue;
        accepted++;
        size_t ss = qrt_scratch_size(&mm);
        void *scratch = tr_xcalloc(1, ss); /* exactly: ASan checks every access */
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
    tr_fm_free(&m);
}
END_TEST

Suite *qr_suite_runtime_sparse(void)
{
    Suite *s = suite_create("runtime_sparse");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sparse_models);
    suite_add_tcase(s, tc);
    tc = tcase_create("blob");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sparse_blob);
    suite_add_tcase(s, tc);
    return s;
}
