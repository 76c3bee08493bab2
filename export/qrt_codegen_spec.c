/* qrt codegen, specialized form — the body of a compiled model with every layer written out for
 * its own dimensions (host only): const tensors in the narrowest C type that holds them, and
 * NAME_reset/_push/_logits with each layer's loops inline, its bounds, row lengths, per-tensor
 * requantization and output bound as constants. No descriptors and no dispatch: the compiler folds
 * what the generic layers (runtime/qrt_layer.c) look up at run time, and links only the kernels
 * the model calls. The arithmetic is the layers' own, step for step: the same dot products (8-bit
 * rows inline; 1-, 2- and 4-bit rows written out or the runtime's kernels, as QRT_ROWS_S1/_S2/_S4
 * choose at compile time; 8-, 4-, 2- and 1-bit rows on int16 inputs by dual 16-bit MACs where
 * QRT_DUAL16), qrt_requant (qrt_requant_fast: inline where the core has SMULL), clamps in the same
 * order, qrt_gru_unit; the same state as qrt_stream (qrt_run.c), each activation stored in the
 * narrowest type its bound holds (a byte layout of its own, make_layout). Exact rewrites: a ReLU
 * after a dense layer, a convolution or a batch norm is folded into its store; a clamp is left out
 * where the bound of the layer's input proves it idle; a first convolution takes the clamped frame
 * straight into its window; a dense GRU runs unit by unit on rows stored in unit order (no 4H
 * buffer). Layer kinds or options this file does not know make qrt_codegen_spec_supported() false,
 * and the writer then emits the descriptor form (qrt_codegen.c). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "qrt_codegen_spec.h"
#include "qrt_codegen_spec_impl.h"
#include "qrt_format.h"
#include "qrt_layer.h"
#include "qrt_sparse.h"

/* Whether this file writes layer r: a kind and flags it knows (a layer kind or option added
 * to the runtime later falls back to the descriptor form until it is added here). */
static int layer_supported(const qrt_layer_rec *r)
{
    switch (r->kind) {
    case QRT_LAYER_CONV1D:
        return r->flags == QRT_PAD_VALID || r->flags == QRT_PAD_CAUSAL;
    case QRT_LAYER_GRU:
        return (r->flags & ~QRT_FLAG_RETURN_SEQ) == 0u;
    case QRT_LAYER_DENSE:
    case QRT_LAYER_BATCHNORM:
    case QRT_LAYER_RELU:
    case QRT_LAYER_PRELU:
        return r->flags == 0u;
    default:
        return 0;
    }
}

int qrt_codegen_spec_supported(const uint8_t *blob, const qrt_model *m)
{
    uint32_t off = m->layers_off;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const qrt_layer_rec *r = (const qrt_layer_rec *)(const void *)(blob + off);
        if (!layer_supported(r))
            return 0;
        off += (uint32_t)qrt_rec_size(r);
    }
    return 1;
}

/* ---- tensors ------------------------------------------------------------------------- */

/* Row i of a GRU tensor in unit order (unit j's z, r and n rows at 3j, 3j + 1, 3j + 2) is
 * row (i mod 3)·H + i / 3 of the blob's gate order [z | r | n]; hu = 0: no reordering. */
static size_t src_row(size_t i, uint32_t hu)
{
    return hu ? (i % 3u) * hu + i / 3u : i;
}

/* 8-bit dense rows are int8_t levels (read by the inline loop of emit_row_dot); every other
 * weight tensor is bytes for a runtime kernel. */
int qrt_cgs_is_s8(const qrt_slot *s)
{
    unsigned t = QRT_SLOT_TYPE(s->desc);
    return !QRT_T_IS_SPARSE(t) && qrt_container_bits(t) == 8u;
}

/* Packed or sparse weight bytes as <name>_l<li>_<tag> (int8_t levels at 8 bits). */
static void emit_bytes(const spec *g, unsigned li, const char *tag, const qrt_slot *s,
                       size_t nbytes, size_t rb, uint32_t hu)
{
    const uint8_t *p = slot_data(g, s);
    unsigned t = QRT_SLOT_TYPE(s->desc);
    if (qrt_cgs_is_s8(s)) {
        fprintf(g->fp, "static const int8_t %s_l%u_%s[%zu] = { /* %u-bit levels, rows */", g->name,
                li, tag, nbytes, t);
        for (size_t i = 0; i < nbytes; i++)
            fprintf(g->fp, "%s%d,", i % 16 ? " " : "\n    ",
                    (int)(int8_t)p[src_row(i / rb, hu) * rb + i % rb]);
        fprintf(g->fp, "\n};\n");
        return;
    }
    fprintf(g->fp, "static const uint8_t %s_l%u_%s[%zu] = { /* %u-bit levels, %s */", g->name,
            li, tag, nbytes, QRT_T_IS_SPARSE(t) ? QRT_T_WBITS(t) : t,
            !QRT_T_IS_SPARSE(t) ? "packed rows"
            : QRT_T_WENC(t) == QRT_WENC_BITMAP ? "bitmap rows" : "run-length rows");
    for (size_t i = 0; i < nbytes; i++)
        fprintf(g->fp, "%s0x%02x,", i % 16 ? " " : "\n    ",
                (unsigned)p[QRT_T_IS_SPARSE(t) ? i : src_row(i / rb, hu) * rb + i % rb]);
    fprintf(g->fp, "\n};\n");
}

/* The narrowest of int8_t, int16_t, int32_t that holds n values of the int32 array p. */
static const char *narrow_type(const uint8_t *p, size_t n, size_t stride)
{
    int32_t lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t v = rd_i32(p + i * stride);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (lo >= INT8_MIN && hi <= INT8_MAX)
        return "int8_t";
    if (lo >= INT16_MIN && hi <= INT16_MAX)
        return "int16_t";
    return "int32_t";
}

/* The k (1 … 3) of a GRU's input biases that need int32 but are multiples of 2^k within
 * int16·2^k (the exporter's gru_bias_shift): stored as int16 b/2^k, added as b·2^k (bts 4
 * bits: 30 B); 0 otherwise. */
static int gru_bi_shift(const spec *g, const qrt_slot *s)
{
    const uint8_t *p = slot_data(g, s);
    size_t n = p ? QRT_SLOT_COUNT(s->desc) : 0u;
    if (n == 0u || strcmp(narrow_type(p, n, 4), "int32_t") != 0)
        return 0;
    for (int k = 1; k <= 3; k++) {
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++) {
            int32_t v = rd_i32(p + 4 * i);
            ok = v % (1 << k) == 0 && v / (1 << k) >= INT16_MIN && v / (1 << k) <= INT16_MAX;
        }
        if (ok)
            return k;
    }
    return 0;
}

/* An int32 vector slot (bias, offset) as <name>_l<li>_<tag>, in its narrowest type. */
static void emit_vec_k(const spec *g, unsigned li, const char *tag, const qrt_slot *s,
                       uint32_t hu, int k)
{
    const uint8_t *p = slot_data(g, s);
    if (p == NULL)
        return;
    size_t n = QRT_SLOT_COUNT(s->desc);
    fprintf(g->fp, "static const %s %s_l%u_%s[%zu] = {%s", k ? "int16_t" : narrow_type(p, n, 4),
            g->name, li, tag, n, k ? " /* times 2^k in the code */" : "");
    for (size_t i = 0; i < n; i++)
        fprintf(g->fp, "%s%" PRId32 ",", i % 8 ? " " : "\n    ",
                rd_i32(p + 4 * src_row(i, hu)) / (1 << k));
    fprintf(g->fp, "\n};\n");
}

static void emit_vec(const spec *g, unsigned li, const char *tag, const qrt_slot *s,
                     uint32_t hu)
{
    emit_vec_k(g, li, tag, s, hu, 0);
}

/* Whether the per-row shifts of requantization slot s (n > 1 pairs) are all one value (a
 * batch norm's channel scales within a factor of 2 of each other): then the shift is a
 * constant in the code and only the multipliers are a tensor (bts 4 bits on a Cortex-M0+:
 * 6 B of tensor and 8 B of code). Not for 8-bit rows (sw: their weights), whose inline loop
 * GCC 12 -Os then allocates worse: 2 more instructions a level, bts 8 bits +170 cycles a
 * frame for 6 B. */
int qrt_cgs_rq_one_shift(const spec *g, const qrt_slot *s, const qrt_slot *sw)
{
    const uint8_t *p = slot_data(g, s);
    size_t n = QRT_SLOT_COUNT(s->desc);
    if (n <= 1u || (sw && qrt_cgs_is_s8(sw)))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (rd_i32(p + 8 * i + 4) != rd_i32(p + 4))
            return 0;
    return 1;
}

/* A requantization slot: one pair is folded into the code (nothing emitted); one per row is
 * the Q31 multipliers (<tag>m; int16_t m / 2^16 where they are 15-bit ones, qrt_cgs_rq_m15)
 * and, unless they are all one value, the shifts (<tag>s,
 * int8_t: −31 … 30). */
static void emit_rq(const spec *g, unsigned li, const char *tag, const qrt_slot *s,
                    const qrt_slot *sw, uint32_t hu)
{
    const uint8_t *p = slot_data(g, s);
    size_t n = QRT_SLOT_COUNT(s->desc);
    if (n <= 1u)
        return;
    int m15 = qrt_cgs_rq_m15(g, s); /* 15-bit multipliers: int16_t m = mult / 2^16 */
    fprintf(g->fp, "static const %s %s_l%u_%sm[%zu] = {", m15 ? "int16_t" : "int32_t", g->name, li,
            tag, n);
    for (size_t i = 0; i < n; i++)
        fprintf(g->fp, "%s%" PRId32 ",", i % 6 ? " " : "\n    ",
                rd_i32(p + 8 * src_row(i, hu)) / (m15 ? 65536 : 1));
    if (qrt_cgs_rq_one_shift(g, s, sw)) {
        fprintf(g->fp, "\n};\n");
        return;
    }
    fprintf(g->fp, "\n};\nstatic const int8_t %s_l%u_%ss[%zu] = {", g->name, li, tag, n);
    for (size_t i = 0; i < n; i++)
        fprintf(g->fp, "%s%" PRId32 ",", i % 16 ? " " : "\n    ",
                rd_i32(p + 8 * src_row(i, hu) + 4));
    fprintf(g->fp, "\n};\n");
}

/* Bytes of a weight slot: rows packed at the container width, or the sparse encoding's. */
static size_t weight_bytes(const qrt_slot *s, uint32_t rows, uint32_t k)
{
    unsigned t = QRT_SLOT_TYPE(s->desc);
    if (QRT_T_IS_SPARSE(t))
        return QRT_SLOT_COUNT(s->desc);
    return rows * QRT_ROW_BYTES(k, qrt_container_bits(t));
}

/* The tensors of one weight matrix: weights w, bias b, requantization rq. */
static void emit_mat_data(const spec *g, unsigned li, const char *w, const char *b,
                          const char *rq, const qrt_slot *sw, const qrt_slot *sb,
                          const qrt_slot *srq, uint32_t rows, uint32_t k, uint32_t hu)
{
    emit_bytes(g, li, w, sw, weight_bytes(sw, rows, k),
               QRT_ROW_BYTES(k, qrt_container_bits(QRT_SLOT_TYPE(sw->desc))), hu);
    if (sb) /* NULL: the caller writes the biases (emit_gru_bhn) */
        emit_vec(g, li, b, sb, hu);
    emit_rq(g, li, rq, srq, sw, hu);
}

/* Whether a GRU's input and recurrent rows are one interleaved tensor <name>_l<li>_w (row 0
 * of W_i, row 0 of W_h, row 1 of W_i, …), walked by one pointer: both dense and of one
 * kind (the row loop then keeps one pointer instead of two: bts 4 bits, 8 B less code).
 * Every row code steps the pointer by its row's bytes (emit_row_dot), so after the W_i row
 * it points at the W_h row; the dual 16-bit rows read their words through qrt_le32, at any
 * alignment, so they run on interleaved rows unchanged. */
static int gru_one_w(const qrt_slot *s)
{
    const qrt_slot *wi = &s[QRT_S_GRU_WI], *wh = &s[QRT_S_GRU_WH];
    return !QRT_T_IS_SPARSE(QRT_SLOT_TYPE(wi->desc)) &&
           !QRT_T_IS_SPARSE(QRT_SLOT_TYPE(wh->desc)) && qrt_cgs_is_s8(wi) == qrt_cgs_is_s8(wh);
}

/* Whether a GRU runs unit by unit (emit_gru): every row of it dense, so its rows can be
 * stored in unit order (src_row); sparse rows stay in gate order, with the 4H buffer. */
static int gru_units(const qrt_slot *s)
{
    return !QRT_T_IS_SPARSE(QRT_SLOT_TYPE(s[QRT_S_GRU_WI].desc)) &&
           !QRT_T_IS_SPARSE(QRT_SLOT_TYPE(s[QRT_S_GRU_WH].desc));
}

/* Whether a unit-by-unit GRU's recurrent biases are those of its n rows only: the exporter
 * adds the z and r rows' recurrent biases to the input side (export/exporter.c gru_biases),
 * so they are 0 and the code adds <name>_l<li>_bhn[j] to unit j's n row alone (bts 4 bits:
 * 40 B of tensor for 8 B of code). Old blobs with z and r recurrent biases keep all rows. */
static int gru_bh_n_only(const spec *g, const qrt_slot *s, uint32_t h)
{
    const uint8_t *p = slot_data(g, &s[QRT_S_GRU_BH]);
    if (p == NULL || !gru_units(s))
        return 0;
    for (uint32_t i = 0; i < 2u * h; i++)
        if (rd_i32(p + 4 * i) != 0)
            return 0;
    return 1;
}

/* The type of <name>_l<li>_bhn (gru_bh_n_only): the n rows, the last h of the slot. */
static const char *gru_bhn_type(const spec *g, const qrt_slot *s, uint32_t h)
{
    return narrow_type(slot_data(g, &s[QRT_S_GRU_BH]) + 8u * h, h, 4);
}

static void emit_gru_bhn(const spec *g, unsigned li, const qrt_slot *s, uint32_t h)
{
    const uint8_t *p = slot_data(g, &s[QRT_S_GRU_BH]) + 8u * h;
    fprintf(g->fp, "static const %s %s_l%u_bhn[%" PRIu32 "] = { /* the n rows' (z, r: 0) */",
            gru_bhn_type(g, s, h), g->name, li, h);
    for (uint32_t i = 0; i < h; i++)
        fprintf(g->fp, "%s%" PRId32 ",", i % 8 ? " " : "\n    ", rd_i32(p + 4 * i));
    fprintf(g->fp, "\n};\n");
}

static void emit_gru_w(const spec *g, unsigned li, const qrt_layer_rec *r)
{
    const qrt_slot *s = qrt_rec_slots(r);
    const uint8_t *pi = slot_data(g, &s[QRT_S_GRU_WI]), *ph = slot_data(g, &s[QRT_S_GRU_WH]);
    unsigned ti = QRT_SLOT_TYPE(s[QRT_S_GRU_WI].desc), th = QRT_SLOT_TYPE(s[QRT_S_GRU_WH].desc);
    size_t ri = QRT_ROW_BYTES(r->n_in, qrt_container_bits(ti));
    size_t rh = QRT_ROW_BYTES(r->n_out, qrt_container_bits(th)), k = 0;
    int s8 = qrt_cgs_is_s8(&s[QRT_S_GRU_WI]);
    fprintf(g->fp, "static const %s %s_l%u_w[%zu] = { /* %u/%u-bit levels, W_i and W_h rows "
                   "interleaved, unit by unit */", s8 ? "int8_t" : "uint8_t", g->name, li,
            3u * r->n_out * (ri + rh), ti, th);
    for (uint32_t i = 0; i < 3u * r->n_out; i++)
        for (size_t j = 0, row = src_row(i, r->n_out); j < ri + rh; j++, k++) {
            uint8_t b = j < ri ? pi[row * ri + j] : ph[row * rh + j - ri];
            if (s8)
                fprintf(g->fp, "%s%d,", k % 16 ? " " : "\n    ", (int)(int8_t)b);
            else
                fprintf(g->fp, "%s0x%02x,", k % 16 ? " " : "\n    ", (unsigned)b);
        }
    fprintf(g->fp, "\n};\n");
}

static void emit_layer_data(const spec *g, unsigned li, const qrt_layer_rec *r)
{
    const qrt_slot *s = qrt_rec_slots(r);
    switch (r->kind) {
    case QRT_LAYER_DENSE:
    case QRT_LAYER_CONV1D: {
        uint32_t k = r->kind == QRT_LAYER_CONV1D ? (uint32_t)r->kernel * r->n_in : r->n_in;
        fprintf(g->fp, "\n/* layer %u: %s, %" PRIu32 " -> %" PRIu32 " */\n", li,
                r->kind == QRT_LAYER_DENSE ? "dense" : "conv1d", r->n_in, r->n_out);
        emit_mat_data(g, li, "w", "b", "rq", &s[QRT_S_W], &s[QRT_S_BIAS], &s[QRT_S_RQ],
                      r->n_out, k, 0u);
        emit_vec(g, li, "off", &s[QRT_S_OFF], 0u);
        break;
    }
    case QRT_LAYER_GRU: {
        uint32_t hu = gru_units(s) ? r->n_out : 0u;
        fprintf(g->fp, "\n/* layer %u: gru, %" PRIu32 " -> %" PRIu32 "%s */\n", li, r->n_in,
                r->n_out, hu ? ", rows unit by unit (z, r, n)" : "");
        if (gru_one_w(s)) {
            emit_gru_w(g, li, r);
            emit_vec_k(g, li, "bi", &s[QRT_S_GRU_BI], hu, gru_bi_shift(g, &s[QRT_S_GRU_BI]));
            emit_rq(g, li, "rqi", &s[QRT_S_GRU_RQI], &s[QRT_S_GRU_WI], hu);
            if (gru_bh_n_only(g, s, r->n_out))
                emit_gru_bhn(g, li, s, r->n_out);
            else
                emit_vec(g, li, "bh", &s[QRT_S_GRU_BH], hu);
            emit_rq(g, li, "rqh", &s[QRT_S_GRU_RQH], &s[QRT_S_GRU_WH], hu);
            break;
        }
        emit_mat_data(g, li, "wi", "bi", "rqi", &s[QRT_S_GRU_WI], NULL, &s[QRT_S_GRU_RQI],
                      3u * r->n_out, r->n_in, hu);
        emit_vec_k(g, li, "bi", &s[QRT_S_GRU_BI], hu, gru_bi_shift(g, &s[QRT_S_GRU_BI]));
        int bhn = gru_bh_n_only(g, s, r->n_out);
        emit_mat_data(g, li, "wh", "bh", "rqh", &s[QRT_S_GRU_WH], bhn ? NULL : &s[QRT_S_GRU_BH],
                      &s[QRT_S_GRU_RQH], 3u * r->n_out, r->n_out, hu);
        if (bhn)
            emit_gru_bhn(g, li, s, r->n_out);
        break;
    }
    case QRT_LAYER_BATCHNORM:
        fprintf(g->fp, "\n/* layer %u: batchnorm, %" PRIu32 " channels */\n", li, r->n_out);
        emit_rq(g, li, "rq", &s[QRT_S_BN_RQ], NULL, 0u);
        emit_vec(g, li, "off", &s[QRT_S_BN_OFF], 0u);
        break;
    case QRT_LAYER_PRELU:
        fprintf(g->fp, "\n/* layer %u: prelu, %" PRIu32 " channels */\n", li, r->n_out);
        emit_rq(g, li, "rq", &s[QRT_S_PRELU_RQ], NULL, 0u);
        break;
    default: /* relu: no tensors */
        break;
    }
}

/* ---- value bounds: clamps that provably change nothing are left out ----------------- */

/* max over rows of |requant(W_row·x + b_row)| for any |x_i| ≤ a_in (a bound: the exact value
 * plus the rounding, with a margin for double's rounding); HUGE_VAL for sparse rows, which
 * are not analysed. w = NULL: a per-channel scale (batch norm), |x| ≤ a_in. */
static double rows_bound(const spec *g, const qrt_slot *sw, const qrt_slot *sb,
                         const qrt_slot *srq, uint32_t rows, uint32_t k, double a_in)
{
    unsigned t = sw ? QRT_SLOT_TYPE(sw->desc) : 0u;
    if (sw && QRT_T_IS_SPARSE(t))
        return HUGE_VAL;
    unsigned c = sw ? qrt_container_bits(t) : 0u;
    const uint8_t *w = sw ? slot_data(g, sw) : NULL, *b = sb ? slot_data(g, sb) : NULL;
    const uint8_t *rq = slot_data(g, srq);
    size_t rb = sw ? QRT_ROW_BYTES(k, c) : 0u, nrq = QRT_SLOT_COUNT(srq->desc);
    double worst = 0.0;
    for (uint32_t o = 0; o < rows; o++) {
        double l1 = w ? 0.0 : 1.0;
        for (uint32_t i = 0; w && i < k; i++)
            l1 += fabs((double)qrt_unpack_level(w + o * rb, i, c));
        double acc = l1 * a_in + (b ? fabs((double)rd_i32(b + 4u * o)) : 0.0);
        const uint8_t *q = rq + 8u * (nrq > 1u ? o : 0u);
        double v = acc * fabs((double)rd_i32(q)) * ldexp(1.0, (int)rd_i32(q + 4) - 31);
        v = v * (1.0 + 1e-9) + 1.0;
        worst = v > worst ? v : worst;
    }
    return worst;
}

/* max |value| of an int32 vector slot (0 when absent). */
static double vec_bound(const spec *g, const qrt_slot *s)
{
    const uint8_t *p = slot_data(g, s);
    double m = 0.0;
    for (size_t i = 0; p && i < QRT_SLOT_COUNT(s->desc); i++)
        m = fabs((double)rd_i32(p + 4u * i)) > m ? fabs((double)rd_i32(p + 4u * i)) : m;
    return m;
}

/* `v = clamp(v, QRT_ACT_MAX) + off[i];` (v ≤ vb before; the clamp only where it can act) and
 * the bound after it. */
static double emit_offset(const spec *g, const char *ind, unsigned li, const qrt_slot *soff,
                          const char *i, double vb)
{
    if (vb > (double)QRT_ACT_MAX) {
        fprintf(g->fp, "%sv = qrt_clamp(v, QRT_ACT_MAX) + %s_l%u_off[%s];\n", ind, g->name, li, i);
        vb = (double)QRT_ACT_MAX;
    } else {
        fprintf(g->fp, "%sv += %s_l%u_off[%s];\n", ind, g->name, li, i);
    }
    return vb + vec_bound(g, soff);
}

/* The last step of a layer's output (|v| ≤ vb): y = clamp(v, ±A), or with the ReLU after it
 * folded in (relu > 0: its bound), relu(clamp(v, ±A)) = v < 0 ? 0 : min(v, min(A, relu));
 * the upper clamp only where it can act. Stored in y's type, which holds the bound. */
static void emit_store(const spec *g, const char *ind, const ten *y, const char *i, int32_t a,
                       int32_t relu, double vb)
{
    int32_t b = relu > 0 && relu < a ? relu : a;
    int clip = vb > (double)b;
    if (relu > 0 && clip)
        fprintf(g->fp, "%s(%s)[%s] = (%s)(v < 0 ? 0 : (v > %" PRId32 " ? %" PRId32 " : v));\n",
                ind, y->e, i, y->t, b, b);
    else if (relu > 0)
        fprintf(g->fp, "%s(%s)[%s] = (%s)(v < 0 ? 0 : v);\n", ind, y->e, i, y->t);
    else if (clip)
        fprintf(g->fp, "%s(%s)[%s] = (%s)qrt_clamp(v, %" PRId32 ");\n", ind, y->e, i, y->t, a);
    else
        fprintf(g->fp, "%s(%s)[%s] = (%s)v;\n", ind, y->e, i, y->t);
}

/* Dense rows (a dense layer, or a convolution's window) from x to y: clamp(clamp(requant(
 * W·x + b), 2^30) + off, ±A), as qrt_dense_run. */
static void emit_dense(const spec *g, unsigned li, const qrt_layer_rec *r, uint32_t k,
                       const ten *x, const ten *y, int32_t relu, double a_in)
{
    const qrt_slot *s = qrt_rec_slots(r);
    double vb = rows_bound(g, &s[QRT_S_W], &s[QRT_S_BIAS], &s[QRT_S_RQ], r->n_out, k, a_in);
    FILE *fp = g->fp;
    char bias[64];
    snprintf(bias, sizeof bias, "%s_l%u_b[o]", g->name, li);
    fprintf(fp, "    {\n        const %s *w = %s_l%u_w;\n",
            qrt_cgs_is_s8(&s[QRT_S_W]) ? "int8_t" : "uint8_t", g->name, li);
    qrt_cgs_emit_mat_pre(g, "        ", "", x, &s[QRT_S_W], k, a_in);
    fprintf(fp, "        %s_LOOP for (uint32_t o = 0; o < %" PRIu32 "u; o++) {\n"
                "            %s_OPAQUE(o);\n",
            g->up, r->n_out, g->up);
    qrt_cgs_emit_row_dot(g, "            ", "acc", "w", x, &s[QRT_S_W], k,
                 s[QRT_S_BIAS].desc ? bias : NULL, "", a_in);
    fprintf(fp, "            int32_t v = ");
    qrt_cgs_emit_requant(g, li, "rq", &s[QRT_S_RQ], &s[QRT_S_W], "acc", "o", vb);
    fprintf(fp, ";\n");
    if (s[QRT_S_OFF].desc)
        vb = emit_offset(g, "            ", li, &s[QRT_S_OFF], "o", vb);
    emit_store(g, "            ", y, "o", r->out_max, relu, vb);
    fprintf(fp, "        }\n    }\n");
}

/* The bound of a ReLU right after layer i that folds into it (dense, conv1d, batchnorm), or
 * 0. Both must be in the same part (sequence part or head: [i, end)). */
static int32_t fused_relu(const qrt_layer_rec *const *recs, uint32_t i, uint32_t end)
{
    unsigned k = recs[i]->kind;
    if (i + 1u < end && recs[i + 1u]->kind == QRT_LAYER_RELU &&
        (k == QRT_LAYER_DENSE || k == QRT_LAYER_CONV1D || k == QRT_LAYER_BATCHNORM))
        return recs[i + 1u]->out_max;
    return 0;
}

/* ---- the working memory ------------------------------------------------------------
 * Bytes, laid out by the generator (not the interpreter's scratch): every layer's state (a
 * convolution's window in its input's type and its countdown, a GRU's int16 state; the last
 * output of a model without a head), widest first so that nothing needs padding, then two
 * ping-pong buffers for a frame's activations and aux (a dilated convolution's taps, a
 * sparse GRU's 4H pre-activations), each 4-byte aligned. */
typedef struct layout {
    double a_in[QRT_MAX_LAYERS];       /* the bound of layer i's input */
    unsigned long st[QRT_MAX_LAYERS];  /* layer i's state: window or h */
    unsigned long cd[QRT_MAX_LAYERS];  /* a convolution's countdown */
    int cd_w[QRT_MAX_LAYERS];
    unsigned long out, buf[2], aux, state_end, bytes;
    int out_w;
} layout;

static double stored_bound(const qrt_layer_rec *r, int32_t relu)
{
    if (r->kind == QRT_LAYER_GRU)
        return (double)QRT_STATE_MAX;
    return (double)(relu > 0 && relu < r->out_max ? relu : r->out_max);
}

static unsigned long up4(unsigned long v)
{
    return (v + 3u) & ~3ul;
}

static void make_layout(layout *L, const qrt_model *m, const qrt_layer_rec *const *recs)
{
    unsigned long bufb = 0, auxb = 0, sz[QRT_MAX_LAYERS] = {0}, cds[QRT_MAX_LAYERS] = {0};
    int w_of[QRT_MAX_LAYERS] = {0};
    memset(L, 0, sizeof *L);
    double a = (double)m->in_max;
    if (m->split == 0 || recs[0]->kind != QRT_LAYER_CONV1D)
        bufb = (unsigned long)m->n_features * (unsigned long)act_width(a);
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const qrt_layer_rec *r = recs[i];
        int32_t relu = fused_relu(recs, i, i < m->split ? m->split : m->n_layers);
        if (i == m->split)
            a = (double)QRT_STATE_MAX; /* the head reads the last-state GRU's h */
        L->a_in[i] = a;
        w_of[i] = act_width(a);
        if (r->kind == QRT_LAYER_CONV1D) {
            uint32_t span = QRT_CONV_SPAN(r->kernel, r->dilation);
            sz[i] = (unsigned long)span * r->n_in * (unsigned long)w_of[i];
            L->cd_w[i] = act_width((double)(span > r->stride ? span : r->stride));
            cds[i] = (unsigned long)L->cd_w[i];
            if (r->dilation > 1u && (unsigned long)r->kernel * r->n_in * w_of[i] > auxb)
                auxb = (unsigned long)r->kernel * r->n_in * (unsigned long)w_of[i];
        }
        if (r->kind == QRT_LAYER_GRU) {
            w_of[i] = 2;
            sz[i] = 2ul * r->n_out;
            if (!gru_units(qrt_rec_slots(r)) && 16ul * r->n_out > auxb)
                auxb = 16ul * r->n_out; /* the 4H int32 pre-activations */
        }
        double b = stored_bound(r, relu);
        unsigned long ob = (unsigned long)r->n_out * (unsigned long)act_width(b);
        if (ob > bufb) /* a layer's output, or a GRU's new state */
            bufb = ob;
        if (relu) {
            L->a_in[i + 1u] = b;
            i++;
        }
        a = b;
    }
    L->out_w = act_width(a);
    unsigned long off = 0;
    for (int w = 4; w >= 1; w /= 2) { /* widest first: every region at a multiple of its width */
        for (uint32_t i = 0; i < m->n_layers; i++) {
            if (sz[i] && w_of[i] == w) {
                L->st[i] = off;
                off += sz[i];
            }
            if (cds[i] && L->cd_w[i] == w) {
                L->cd[i] = off;
                off += cds[i];
            }
        }
        if (m->split == m->n_layers && L->out_w == w) {
            L->out = off;
            off += (unsigned long)m->n_outputs * (unsigned long)w;
        }
    }
    L->state_end = off;
    L->buf[0] = up4(off);
    L->buf[1] = L->buf[0] + up4(bufb);
    L->aux = L->buf[1] + up4(bufb);
    L->bytes = L->aux + up4(auxb);
}

/* A convolution fed one frame from src (the push's input, clamped to ±IN_MAX, when `first`):
 * its window of span frames of Cin (the oldest first) and countdown, as qrt_conv_push; the
 * push returns 0 while the convolution does not emit. */
static void emit_conv(const spec *g, unsigned li, const qrt_layer_rec *r, const layout *L,
                      const ten *src, int first, const ten *y, int32_t relu)
{
    FILE *fp = g->fp;
    uint32_t cin = r->n_in, span = QRT_CONV_SPAN(r->kernel, r->dilation);
    uint32_t keep = (span - 1u) * cin;
    double a_in = L->a_in[li];
    ten win = qrt_cgs_mem_ten(g, act_width(a_in), L->st[li]);
    ten cd = qrt_cgs_mem_ten(g, L->cd_w[li], L->cd[li]);
    fprintf(fp, "    /* layer %u: conv1d, kernel %u, dilation %u, stride %u, %s */\n", li,
            (unsigned)r->kernel, (unsigned)r->dilation, (unsigned)r->stride,
            (r->flags & QRT_FLAG_PAD_MASK) == QRT_PAD_CAUSAL ? "causal" : "valid");
    if (keep > 0u)
        fprintf(fp, "    %s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++) /* drop the oldest frame */\n"
                    "        (%s)[i] = (%s)[i + %" PRIu32 "u];\n",
                g->up, keep, win.e, win.e, cin);
    if (first)
        fprintf(fp, "    %s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "        (%s)[%" PRIu32 "u + i] = (%s)qrt_clamp(%s[i], %s_IN_MAX);\n",
                g->up, cin, win.e, keep, win.t, src->e, g->up);
    else
        fprintf(fp, "    %s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "        (%s)[%" PRIu32 "u + i] = (%s)(%s)[i];\n",
                g->up, cin, win.e, keep, win.t, src->e);
    fprintf(fp, "    if ((%s)[0] > 0) {\n        (%s)[0]--;\n        return 0;\n    }\n"
                "    (%s)[0] = %u;\n",
            cd.e, cd.e, cd.e, (unsigned)r->stride - 1u);
    if (r->dilation > 1u) {
        ten taps = qrt_cgs_mem_ten(g, win.w, L->aux);
        fprintf(fp, "    %s_LOOP for (uint32_t j = 0; j < %uu; j++) /* the dilated taps */\n"
                    "        for (uint32_t c = 0; c < %" PRIu32 "u; c++)\n"
                    "            (%s)[j * %" PRIu32 "u + c] = (%s)[j * %" PRIu32 "u + c];\n",
                g->up, (unsigned)r->kernel, cin, taps.e, cin, win.e,
                (uint32_t)r->dilation * cin);
        emit_dense(g, li, r, (uint32_t)r->kernel * cin, &taps, y, relu, a_in);
    } else {
        emit_dense(g, li, r, (uint32_t)r->kernel * cin, &win, y, relu, a_in);
    }
}

/* One GRU step on x, the state h (int16) in place. Dense rows are stored unit by unit
 * (src_row): unit j's z, r and n rows in turn (each its W_i and W_h part), then
 * qrt_gru_unit writes h'_j into hn (a free buffer; h is read by every unit's rows until the
 * last), copied to h at the end: no 4H buffer. Sparse rows keep the gate order, every
 * pre-activation in aux (4H int32), then qrt_gru_unit for each unit. */
static void emit_gru(const spec *g0, unsigned li, const qrt_layer_rec *r, const layout *L,
                     const ten *x, const ten *hn)
{
    spec gs = *g0;
    const spec *g = &gs;
    gs.in_gru = 1;
    const qrt_slot *s = qrt_rec_slots(r);
    double a_in = L->a_in[li], a_h = (double)QRT_STATE_MAX;
    double bi_max = rows_bound(g, &s[QRT_S_GRU_WI], &s[QRT_S_GRU_BI], &s[QRT_S_GRU_RQI],
                               3u * r->n_out, r->n_in, a_in);
    double bh_max = rows_bound(g, &s[QRT_S_GRU_WH], &s[QRT_S_GRU_BH], &s[QRT_S_GRU_RQH],
                               3u * r->n_out, r->n_out, a_h);
    int clip_i = bi_max > (double)QRT_GATE_MAX, clip_h = bh_max > (double)QRT_GATE_MAX;
    FILE *fp = g->fp;
    uint32_t nh = r->n_out;
    int units = gru_units(s), one = gru_one_w(s);
    ten h = qrt_cgs_mem_ten(g, 2, L->st[li]);
    char bi[64], bh[64];
    int kb = gru_bi_shift(g, &s[QRT_S_GRU_BI]);
    if (kb)
        snprintf(bi, sizeof bi, "(int32_t)%s_l%u_bi[row] * %d", g->name, li, 1 << kb);
    else
        snprintf(bi, sizeof bi, "%s_l%u_bi[row]", g->name, li);
    snprintf(bh, sizeof bh, "%s_l%u_bh[row]", g->name, li);
    fprintf(fp, "    { /* layer %u: gru, %" PRIu32 " units%s */\n", li, nh,
            units ? ", unit by unit" : "");
    if (one)
        fprintf(fp, "        const %s *w = %s_l%u_w;\n",
                qrt_cgs_is_s8(&s[QRT_S_GRU_WI]) ? "int8_t" : "uint8_t", g->name, li);
    else
        fprintf(fp, "        const %s *wi = %s_l%u_wi;\n        const %s *wh = %s_l%u_wh;\n",
                qrt_cgs_is_s8(&s[QRT_S_GRU_WI]) ? "int8_t" : "uint8_t", g->name, li,
                qrt_cgs_is_s8(&s[QRT_S_GRU_WH]) ? "int8_t" : "uint8_t", g->name, li);
    qrt_cgs_emit_mat_pre(g, "        ", "i", x, &s[QRT_S_GRU_WI], r->n_in, a_in);
    /* the state read by every row as int32 (a stack copy of H words): a Cortex-M0+ has no
     * LDRSH with an immediate offset, and the recurrent rows' extra register spilled (bts 8
     * bits: 277 cycles a frame for 16 B of code) */
    /* 4-bit: qrt_dot16_s4 reads the int16 state itself */
    ten hw = qrt_cgs_dot16(&s[QRT_S_GRU_WH], &h) ? h : qrt_cgs_arg_ten("xwh");
    if (hw.w == 4)
        fprintf(fp, "        int32_t xwh[%" PRIu32 "];\n"
                    "        %s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "            xwh[i] = (%s)[i];\n", nh, g->up, nh, h.e);
    qrt_cgs_emit_mat_pre(g, "        ", "h", &hw, &s[QRT_S_GRU_WH], nh, a_h);
    int bhn = gru_bh_n_only(g, s, nh);
    if (units) /* the unit's pre-activations; unit j's new state into hn[j] */
        fprintf(fp, "        int32_t pre[4];\n        uint32_t gate = 0, j = 0;\n");
    else
        fprintf(fp, "        %s_i32 *pre = %s_M32(%lu);\n", g->name, g->up, L->aux);
    fprintf(fp, "        %s_LOOP for (uint32_t row = 0; row < %" PRIu32 "u; row++) {\n"
                "            %s_OPAQUE(row);\n",
            g->up, 3u * nh, g->up);
    qrt_cgs_emit_row_dot(g, "            ", "ai", one ? "w" : "wi", x, &s[QRT_S_GRU_WI], r->n_in,
                 s[QRT_S_GRU_BI].desc ? bi : NULL, "i", a_in);
    fprintf(fp, "            int32_t gi = %s", clip_i ? "qrt_clamp(" : "");
    qrt_cgs_emit_requant(g, li, "rqi", &s[QRT_S_GRU_RQI], &s[QRT_S_GRU_WI], "ai", "row", bi_max);
    fprintf(fp, "%s;\n", clip_i ? ", QRT_GATE_MAX)" : "");
    qrt_cgs_emit_row_dot(g, "            ", "ah", one ? "w" : "wh", &hw, &s[QRT_S_GRU_WH], nh,
                 s[QRT_S_GRU_BH].desc && !bhn ? bh : NULL, "h", a_h);
    if (bhn) /* the n rows' recurrent biases, one a unit */
        fprintf(fp, "            if (gate == 2)\n                ah += %s_l%u_bhn[j];\n", g->name, li);
    fprintf(fp, "            int32_t gh = %s", clip_h ? "qrt_clamp(" : "");
    qrt_cgs_emit_requant(g, li, "rqh", &s[QRT_S_GRU_RQH], &s[QRT_S_GRU_WH], "ah", "row", bh_max);
    fprintf(fp, "%s;\n", clip_h ? ", QRT_GATE_MAX)" : "");
    if (units) { /* z, r rows: pre[gate] = gi + gh; the n row: pre[2] = gi, pre[3] = gh, then
                  * the unit (one branch on the gate: bts 4 bits on a Cortex-M0+, 16 B less) */
        fprintf(fp, "            pre[gate] = gi;\n"
                    "            if (gate < 2) {\n                pre[gate] += gh;\n"
                    "                gate++;\n                continue;\n            }\n"
                    "            pre[3] = gh;\n"
                    "            (%s)[j] = (%s)qrt_gru_unit(pre, 1u, (%s)[j]);\n"
                    "            j++;\n            gate = 0;\n        }\n"
                    "        %s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "            (%s)[i] = (%s)[i];\n    }\n",
                hn->e, hn->t, h.e, g->up, nh, h.e, hn->e);
        return;
    }
    /* z, r rows: pre[row] = gi + gh; n rows: pre[row] = gi, pre[row + H] = gh */
    fprintf(fp, "            %s_i32 *q = pre + row;\n"
                "            if (row < %" PRIu32 "u)\n                gi += gh;\n"
                "            else\n                q[%" PRIu32 "] = gh;\n"
                "            *q = gi;\n        }\n"
                "        %s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                "            (%s)[i] = (%s_i16)qrt_gru_unit(pre + i, %" PRIu32 "u, (%s)[i]);\n"
                "    }\n",
            g->name, 2u * nh, nh, g->up, nh, h.e, g->name, nh, h.e);
}

/* A one-frame layer (dense, batchnorm, relu, prelu) from x to y. */
static void emit_frame_layer(const spec *g, unsigned li, const qrt_layer_rec *r, const ten *x,
                             const ten *y, int32_t relu, double a_in)
{
    const qrt_slot *s = qrt_rec_slots(r);
    FILE *fp = g->fp;
    if (r->kind == QRT_LAYER_DENSE) {
        fprintf(fp, "    /* layer %u: dense%s */\n", li, relu ? ", and the relu after it" : "");
        emit_dense(g, li, r, r->n_in, x, y, relu, a_in);
        return;
    }
    fprintf(fp, "    %s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++) { /* layer %u: %s */\n"
                "        int32_t v = (%s)[i];\n",
            g->up, r->n_out, li, r->kind == QRT_LAYER_RELU ? "relu"
                                 : r->kind == QRT_LAYER_PRELU ? "prelu" : "batchnorm", x->e);
    if (r->kind == QRT_LAYER_RELU) { /* as qrt_relu_run */
        emit_store(g, "        ", y, "i", r->out_max, r->out_max, a_in);
    } else if (r->kind == QRT_LAYER_PRELU) { /* as qrt_prelu_run */
        fprintf(fp, "        if (v < 0)\n            v = ");
        qrt_cgs_emit_requant(g, li, "rq", &s[QRT_S_PRELU_RQ], NULL, "v", "i",
                             rows_bound(g, NULL, NULL, &s[QRT_S_PRELU_RQ], r->n_out, 0u, a_in));
        fprintf(fp, ";\n");
        emit_store(g, "        ", y, "i", r->out_max, 0, HUGE_VAL);
    } else { /* batchnorm, as qrt_bn_run */
        double vb = rows_bound(g, NULL, NULL, &s[QRT_S_BN_RQ], r->n_out, 0u, a_in);
        fprintf(fp, "        v = ");
        qrt_cgs_emit_requant(g, li, "rq", &s[QRT_S_BN_RQ], NULL, "v", "i", vb);
        fprintf(fp, ";\n");
        if (s[QRT_S_BN_OFF].desc)
            vb = emit_offset(g, "        ", li, &s[QRT_S_BN_OFF], "i", vb);
        emit_store(g, "        ", y, "i", r->out_max, relu, vb);
    }
    fprintf(fp, "    }\n");
}

static void layer_recs(const qrt_model *m, const uint8_t *blob, const qrt_layer_rec **recs)
{
    uint32_t off = m->layers_off;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        recs[i] = (const qrt_layer_rec *)(const void *)(blob + off);
        off += (uint32_t)qrt_rec_size(recs[i]);
    }
}

size_t qrt_codegen_spec_mem_words(const uint8_t *blob, const qrt_model *m)
{
    const qrt_layer_rec *recs[QRT_MAX_LAYERS];
    layout L;
    layer_recs(m, blob, recs);
    make_layout(&L, m, recs);
    return (size_t)(L.bytes + 3u) / 4u;
}

void qrt_codegen_spec_emit(FILE *fp, const char *name, const char *up, const qrt_model *m,
                           const uint8_t *blob)
{
    spec g = {fp, name, up, blob, 0};
    const qrt_layer_rec *recs[QRT_MAX_LAYERS];
    layout L;
    layer_recs(m, blob, recs);
    make_layout(&L, m, recs);
    fprintf(fp, "\n/* Loops stay loops: GCC peels short constant-count loops whole even at -Os. _LOOP\n"
                " * before a loop asks it not to; _OPAQUE(o) on a row counter hides its value, so a\n"
                " * row loop is not peeled either (bts at 8 bits on a Cortex-M0+: 72 B less code\n"
                " * and 10 %% fewer cycles). */\n"
                "#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8\n"
                "#define %s_LOOP _Pragma(\"GCC unroll 1\")\n#else\n#define %s_LOOP\n#endif\n"
                "#if defined(__GNUC__) || defined(__clang__)\n"
                "#define %s_OPAQUE(v) __asm__(\"\" : \"+r\"(v))\n#else\n"
                "#define %s_OPAQUE(v) ((void)0)\n#endif\n",
            up, up, up, up);
    fprintf(fp, "\n/* The working memory is bytes (%lu of %s_MEM_WORDS words): each activation in the\n"
                " * narrowest type its bound holds. A buffer holds tensors of different types in\n"
                " * turn, so the types may alias. */\n"
                "typedef int8_t %s_i8;\n"
                "#if defined(__GNUC__) || defined(__clang__)\n"
                "typedef int16_t __attribute__((__may_alias__)) %s_i16;\n"
                "typedef int32_t __attribute__((__may_alias__)) %s_i32;\n#else\n"
                "typedef int16_t %s_i16;\ntypedef int32_t %s_i32;\n#endif\n"
                "#define %s_M8(o) ((%s_i8 *)(void *)((unsigned char *)mem + (o)))\n"
                "#define %s_M16(o) ((%s_i16 *)(void *)((unsigned char *)mem + (o)))\n"
                "#define %s_M32(o) ((%s_i32 *)(void *)((unsigned char *)mem + (o)))\n",
            L.bytes, up, name, name, name, name, name, up, name, up, name, up, name);
    for (uint32_t i = 0; i < m->n_layers; i++)
        emit_layer_data(&g, (unsigned)i, recs[i]);

    fprintf(fp, "\nvoid %s_reset(int32_t *mem)\n{\n"
                "    %s_LOOP for (uint32_t i = 0; i < %luu; i++)\n"
                "        ((unsigned char *)mem)[i] = 0;\n",
            name, up, L.state_end);
    for (uint32_t i = 0; i < m->n_layers; i++)
        if (recs[i]->kind == QRT_LAYER_CONV1D &&
            (recs[i]->flags & QRT_FLAG_PAD_MASK) != QRT_PAD_CAUSAL)
            fprintf(fp, "    %s_M%d(%lu)[0] = %lu; /* layer %u (valid): frames to wait */\n", up,
                    8 * L.cd_w[i], L.cd[i],
                    (unsigned long)QRT_CONV_SPAN(recs[i]->kernel, recs[i]->dilation) - 1u,
                    (unsigned)i);
    fprintf(fp, "}\n");

    /* the sequence part: ping-pong between the two buffers (cur: the one holding the input);
     * a first convolution takes the frame straight into its window */
    fprintf(fp, "\nint %s_push(int32_t *mem, const int32_t *frame)\n{\n", name);
    int cur = 0, first = 1;
    ten x = qrt_cgs_mem_ten(&g, act_width((double)m->in_max), L.buf[0]), y;
    ten frame = qrt_cgs_arg_ten("frame");
    if (m->split == 0 || recs[0]->kind != QRT_LAYER_CONV1D) {
        fprintf(fp, "    %s_LOOP for (uint32_t i = 0; i < %s_N_FEATURES; i++)\n"
                    "        (%s)[i] = (%s)qrt_clamp(frame[i], %s_IN_MAX);\n",
                up, up, x.e, x.t, up);
        first = 0;
    }
    double a = (double)m->in_max; /* the bound of the values in x (every layer clamps) */
    for (uint32_t i = 0; i < m->split; i++) {
        const qrt_layer_rec *r = recs[i];
        int32_t relu = fused_relu(recs, i, m->split);
        double b = stored_bound(r, relu);
        y = qrt_cgs_mem_ten(&g, act_width(b), L.buf[1 - cur]);
        if (r->kind == QRT_LAYER_CONV1D) {
            emit_conv(&g, (unsigned)i, r, &L, first ? &frame : &x, first, &y, relu);
        } else if (r->kind == QRT_LAYER_GRU) {
            ten hn = qrt_cgs_mem_ten(&g, 2, L.buf[1 - cur]);
            emit_gru(&g, (unsigned)i, r, &L, &x, &hn);
            y = qrt_cgs_mem_ten(&g, 2, L.st[i]);
        } else {
            emit_frame_layer(&g, (unsigned)i, r, &x, &y, relu, a);
        }
        a = b;
        if (relu)
            i++;
        first = 0;
        cur = 1 - cur;
        x = y;
    }
    ten out = qrt_cgs_mem_ten(&g, L.out_w, L.out);
    if (m->split == m->n_layers)
        fprintf(fp, "    %s_LOOP for (uint32_t i = 0; i < %s_N_OUTPUTS; i++)\n"
                    "        (%s)[i] = (%s)(%s)[i];\n",
                up, up, out.e, out.t, x.e);
    fprintf(fp, "    return 1;\n}\n");

    /* the head, its last layer writing the logits */
    fprintf(fp, "\nvoid %s_logits(int32_t *mem, int32_t *logits)\n{\n", name);
    if (m->split == m->n_layers) {
        fprintf(fp, "    %s_LOOP for (uint32_t i = 0; i < %s_N_OUTPUTS; i++)\n"
                    "        logits[i] = (%s)[i];\n",
                up, up, out.e);
    } else {
        x = qrt_cgs_mem_ten(&g, 2, L.st[m->split - 1]);
        cur = 1;
        a = (double)QRT_STATE_MAX; /* the last-state GRU's h */
        for (uint32_t i = m->split; i < m->n_layers; i++) {
            int32_t relu = fused_relu(recs, i, m->n_layers);
            uint32_t last = relu ? i + 1u : i;
            double b = stored_bound(recs[i], relu);
            if (last + 1u == m->n_layers)
                y = qrt_cgs_arg_ten("logits");
            else
                y = qrt_cgs_mem_ten(&g, act_width(b), L.buf[1 - cur]);
            emit_frame_layer(&g, (unsigned)i, recs[i], &x, &y, relu, a);
            a = b;
            i = last;
            cur = 1 - cur;
            x = y;
        }
    }
    fprintf(fp, "}\n");

    fprintf(fp, "\nvoid %s_run(int32_t *mem, const int32_t *x, int32_t *logits)\n{\n"
                "    %s_reset(mem);\n"
                "    for (uint32_t t = 0; t < %s_SEQ_LEN; t++)\n"
                "        %s_push(mem, x + t * %s_N_FEATURES);\n"
                "    %s_logits(mem, logits);\n}\n",
            name, name, up, name, up, name);
}
