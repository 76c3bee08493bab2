/* The device runtime (runtime/, docs/runtime.md): compiled models (specialized and descriptor
 * forms), built and run on the host against the interpreter. Shared helpers: testlib_runtime.h. */
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
    tr_loaded ld;
    tr_load_ok(&ld, blob, len);
    const qrt_model *m = &ld.m;
    size_t tf = (size_t)m->seq_len * m->n_features, no = m->n_outputs;
    fprintf(drv, "static const int32_t %s_x[%zu] = {", name, n_x * tf);
    for (size_t i = 0; i < n_x * tf; i++)
        fprintf(drv, "%ld,", (long)xq[i]);
    fprintf(drv, "};\nstatic const int32_t %s_whole[%zu] = {", name, n_x * no);
    int32_t *lg = tr_xcalloc(no, sizeof *lg);
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
                                 const uint8_t *blob, size_t len, tr_rng *r)
{
    qrt_model m;
    ck_assert_int_eq(qrt_model_load(&m, blob, len), QRT_OK);
    qrt_host_view hv;
    ck_assert_int_eq(qrt_host_view_get(&m, &hv), QRT_OK);
    size_t nf = m.n_features, nfr = 200;
    qrt_inq *q = tr_xcalloc(nf, sizeof *q);
    ck_assert_int_eq(qrt_input_consts(&m, 1.0, q, NULL), QRT_OK);
    int16_t *raw = tr_xcalloc(nf * nfr, sizeof *raw);
    float *x = tr_xcalloc(nf * nfr, sizeof *x);
    int32_t *e = tr_xcalloc(nf * nfr, sizeof *e), *ef = tr_xcalloc(nf * nfr, sizeof *ef);
    for (size_t i = 0; i < nf * nfr; i++) {
        raw[i] = (int16_t)((int32_t)(tr_rng_u32(r) % 65536u) - 32768);
        x[i] = (float)(((double)(tr_rng_u32(r) % 2000001u) - 1e6) * 1e-6 * m.in_max * hv.in_scale * 1.2);
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
    tr_rng r = {70};
    enum { NM = 20 };
    tr_fmodel ms[NM];
    memset(ms, 0, sizeof ms);
    int fold[NM] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
        n_rq_shift[2] = {0, 0},
        n_gru_w[2] = {0, 0}, n_bi_shift = 0;
    tr_make_bts(&ms[0], &r, 8, 0);
    tr_make_bts(&ms[1], &r, 4, 1); /* prelu, standalone batch norm (not folded) */
    ms[1].L[0].causal = 1;
    ms[2].t = 37, ms[2].f = 4; /* dilated causal conv, strided valid conv, GRU sequence */
    tr_fm_add_conv(&ms[2], &r, 4, 6, 3, 1, 1, 1, 8);
    tr_fm_add_act(&ms[2], &r, QRT_LAYER_RELU, 6);
    tr_fm_add_conv(&ms[2], &r, 6, 5, 3, 2, 2, 0, 4);
    tr_fm_add_gru(&ms[2], &r, 5, 4, 1, 2, 8);
    tr_fm_add_dense(&ms[2], &r, 4, 3, 2);
    ms[3].t = 25, ms[3].f = 3; /* a head after the last-state GRU */
    tr_fm_add_gru(&ms[3], &r, 3, 6, 1, 8, 8);
    tr_fm_add_gru(&ms[3], &r, 6, 4, 0, 4, 1);
    tr_fm_add_dense(&ms[3], &r, 4, 4, 8);
    tr_fm_add_bn(&ms[3], &r, 4);
    tr_fm_add_act(&ms[3], &r, QRT_LAYER_PRELU, 4);
    tr_fm_add_dense(&ms[3], &r, 4, 3, 8);
    ms[4].t = 1, ms[4].f = 10; /* an MLP */
    tr_fm_add_dense(&ms[4], &r, 10, 16, 8);
    tr_fm_add_act(&ms[4], &r, QRT_LAYER_PRELU, 16);
    tr_fm_add_dense(&ms[4], &r, 16, 3, 1);
    tr_make_bts(&ms[5], &r, 1, 0);
    for (int c = 0; c < 6; c++) /* one folded scale on every channel (up to sign): one shift */
        ms[5].L[1].gamma[c] = c ? 1.0 : -1.0, ms[5].L[1].var[c] = 1.0;
    tr_make_bts(&ms[6], &r, 8, 0); /* pruned and stored sparse (bitmap) */
    tr_make_bts(&ms[7], &r, 4, 1); /* pruned harder: run-length rows too */
    ms[6].sparse = ms[7].sparse = 1;
    ms[8].t = 12, ms[8].f = 3; /* ReLUs after a dense layer and a batch norm in the head */
    tr_fm_add_gru(&ms[8], &r, 3, 5, 0, 8, 8);
    tr_fm_add_dense(&ms[8], &r, 5, 6, 8);
    tr_fm_add_act(&ms[8], &r, QRT_LAYER_RELU, 6);
    tr_fm_add_bn(&ms[8], &r, 6);
    tr_fm_add_act(&ms[8], &r, QRT_LAYER_RELU, 6);
    tr_fm_add_dense(&ms[8], &r, 6, 3, 4);
    /* 1- and 2-bit rows written out in the specialized form, every level (up to 16 levels)
     * or longer 1-bit ones a byte at a time: rows of 36, 3, 8 and 9 */
    ms[9].t = 20, ms[9].f = 4;
    tr_fm_add_conv(&ms[9], &r, 4, 3, 9, 1, 1, 0, 1);
    tr_fm_add_gru(&ms[9], &r, 3, 8, 0, 2, 1);
    tr_fm_add_dense(&ms[9], &r, 8, 9, 1);
    tr_fm_add_dense(&ms[9], &r, 9, 3, 2);
    /* rows of 18 (2-bit conv, by the kernel), 32, 17, 33 and 35 (4 bits) levels */
    ms[10].t = 15, ms[10].f = 2;
    tr_fm_add_conv(&ms[10], &r, 2, 4, 9, 1, 1, 1, 2);
    tr_fm_add_gru(&ms[10], &r, 4, 32, 0, 1, 2);
    tr_fm_add_dense(&ms[10], &r, 32, 17, 1);
    tr_fm_add_dense(&ms[10], &r, 17, 33, 2);
    tr_fm_add_dense(&ms[10], &r, 33, 35, 1);
    tr_fm_add_dense(&ms[10], &r, 35, 3, 4);
    /* GRUs with weights 8 times larger: gates saturate, and the states reach 1.0, cut to
     * QRT_STATE_MAX (32767, int16) so the dual 16-bit rows that read them need no fallback:
     * recurrent rows, a second GRU's input rows and a head */
    ms[11].t = 30, ms[11].f = 3;
    tr_fm_add_gru(&ms[11], &r, 3, 6, 1, 8, 8);
    tr_fm_add_gru(&ms[11], &r, 6, 5, 0, 8, 8);
    for (size_t l = 0; l < 2; l++) {
        size_t h = ms[11].L[l].n_out;
        for (size_t i = 0; i < 3 * h * ms[11].L[l].n_in; i++)
            ms[11].L[l].w[i] *= 8.0;
        for (size_t i = 0; i < 3 * h * h; i++)
            ms[11].L[l].wh[i] *= 8.0;
    }
    tr_fm_add_dense(&ms[11], &r, 5, 3, 8);
    /* narrow activations: every bound capped at 32767 (int16 storage) or 127 (int8), so the
     * specialized form stores them narrow: bts at 8 bits (dual 16-bit rows everywhere) and
     * 4 bits (the kernel's rows read an int32 copy), 1-bit long rows (a byte loop on int8),
     * a dilated convolution's taps and a GRU sequence, and a pruned (sparse) GRU */
    tr_make_bts(&ms[12], &r, 8, 0);
    ms[12].acap = 32767;
    tr_make_bts(&ms[13], &r, 4, 1);
    ms[13].acap = 127;
    ms[14].t = 20, ms[14].f = 4;
    tr_fm_add_conv(&ms[14], &r, 4, 3, 9, 1, 1, 0, 1);
    tr_fm_add_gru(&ms[14], &r, 3, 8, 0, 2, 1);
    tr_fm_add_dense(&ms[14], &r, 8, 9, 1);
    tr_fm_add_dense(&ms[14], &r, 9, 3, 2);
    ms[14].acap = 127;
    ms[15].t = 37, ms[15].f = 4;
    tr_fm_add_conv(&ms[15], &r, 4, 6, 3, 1, 1, 1, 8);
    tr_fm_add_act(&ms[15], &r, QRT_LAYER_RELU, 6);
    tr_fm_add_conv(&ms[15], &r, 6, 5, 3, 2, 2, 0, 4);
    tr_fm_add_gru(&ms[15], &r, 5, 4, 1, 2, 8);
    tr_fm_add_dense(&ms[15], &r, 4, 3, 2);
    ms[15].acap = 127;
    tr_make_bts(&ms[16], &r, 8, 0);
    ms[16].sparse = 1;
    ms[16].acap = 32767;
    /* dual 16-bit rows longer than DUAL_FULL_LEVELS: a loop over the words (4-bit rows
     * of 75 levels, 8-bit rows of 36) */
    ms[17].t = 1, ms[17].f = 75;
    tr_fm_add_dense(&ms[17], &r, 75, 36, 4);
    tr_fm_add_dense(&ms[17], &r, 36, 3, 8);
    ms[17].acap = 32767;
    /* 8-bit GRU rows of 16 levels: qrt_dot_s8 where there is no dual path, on the int16
     * input widened and on the state's int32 copy */
    ms[18].t = 9, ms[18].f = 16;
    tr_fm_add_gru(&ms[18], &r, 16, 16, 0, 8, 8);
    tr_fm_add_dense(&ms[18], &r, 16, 3, 8);
    ms[18].acap = 32767;
    /* 2-bit dual 16-bit rows: 150 levels (a loop over 9 words and 6 levels after) and 16 (one
     * word, written out otherwise) */
    ms[19].t = 1, ms[19].f = 150;
    tr_fm_add_dense(&ms[19], &r, 150, 16, 2);
    tr_fm_add_dense(&ms[19], &r, 16, 3, 2);
    ms[19].acap = 32767;
    /* multipliers and GRU biases as the exporter writes them: qrt_requant_m15 where the row
     * bounds allow, the n rows' recurrent biases alone (narrow, 4-bit, a GRU sequence, a
     * prelu and a standalone batch norm) */
    ms[1].m15 = ms[2].m15 = ms[3].m15 = ms[13].m15 = 1;

    FILE *drv = fopen("compiled_driver.c", "w");
    ck_assert_ptr_nonnull(drv);
    fprintf(drv, "#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n#include \"qrt_layer.h\"\n");
    char name[16], up[16], c[32], h[32];
    const size_t n_x = 4;
    for (int i = 0; i < NM; i++) {
        double *xs = tr_rnd_inputs(&r, n_x * ms[i].t * ms[i].f, 2.0);
        tr_fmodel_quantize(&ms[i], xs, n_x, fold[i]);
        if (ms[i].sparse)
            tr_fm_prune(&ms[i], &r, i == 6 || i == 16 ? 0.6 : 0.9);
        size_t len;
        uint8_t *blob = tr_fmodel_build(&ms[i], &len, QRT_OK);
        size_t tf = ms[i].t * ms[i].f;
        int32_t *xq = tr_xcalloc(n_x * tf, sizeof *xq);
        for (size_t k = 0; k + 1 < n_x; k++) {
            int32_t *q = tr_quantize_x(&ms[i], xs + k * tf);
            memcpy(xq + k * tf, q, tf * sizeof *q);
            free(q);
        }
        qrt_model qm;
        ck_assert_int_eq(qrt_model_load(&qm, blob, len), QRT_OK);
        for (size_t j = 0; j < tf; j++) /* the extreme sequence */
            xq[(n_x - 1) * tf + j] = tr_rng_u32(&r) & 1u ? qm.in_max : -qm.in_max;
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
            if (!form && ms[i].m15) /* 15-bit multipliers, and a GRU's n-row biases */
                ck_assert_msg(strstr(text, "qrt_requant_m15(") &&
                              (!strstr(text, "unit by unit") || strstr(text, "_bhn[j];")),
                              "model %d", i);
            /* even GRU input biases beyond int16 (the testlib's m15 ones where the rest fit
             * int16·2): int16 halves */
            n_bi_shift += !form && strstr(text, "_bi[row] * 2") != NULL;
            if (!form && !ms[i].m15)
                ck_assert(!strstr(text, "qrt_requant_m15(") && !strstr(text, "_bhn["));
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
        tr_fm_free(&ms[i]);
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
    printf("runtime: compiled: GRU input biases stored as int16 halves %d\n", n_bi_shift);
    ck_assert_int_gt(n_bi_shift, 0);
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

Suite *qr_suite_runtime_compiled(void)
{
    Suite *s = suite_create("runtime_compiled");
    TCase *tc = tcase_create("models");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_compiled);
    suite_add_tcase(s, tc);
    return s;
}
