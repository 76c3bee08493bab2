/* qrt codegen, specialized form: the code of one row — its dot product (8-bit rows inline,
 * 1-, 2- and 4-bit rows written out or the runtime's kernels, dual 16-bit MACs on int16 inputs
 * where QRT_DUAL16) and its requantization — for the layers of export/qrt_codegen_spec.c. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "qrt_codegen_spec_impl.h"
#include "qrt_sparse.h"

/* bytes off of the working memory as w-byte elements */
ten qrt_cgs_mem_ten(const spec *g, int w, unsigned long off)
{
    ten x;
    snprintf(x.e, sizeof x.e, "%s_M%d(%lu)", g->up, 8 * w, off);
    snprintf(x.t, sizeof x.t, "%s_i%d", g->name, 8 * w);
    x.w = w;
    x.off = off;
    return x;
}

ten qrt_cgs_arg_ten(const char *e)
{
    ten x;
    snprintf(x.e, sizeof x.e, "%s", e);
    snprintf(x.t, sizeof x.t, "int32_t");
    x.w = 4;
    x.off = 0;
    return x;
}

/* Whether every multiplier of requantization slot s is a 15-bit one (16 zero low bits, the
 * exporter's rounding, export/exporter.c snap15) with r = 15 − shift ≥ 1: then its tensor is
 * int16_t m = mult / 2^16 and the code calls qrt_requant_m15. */
int qrt_cgs_rq_m15(const spec *g, const qrt_slot *s)
{
    const uint8_t *p = slot_data(g, s);
    if (p == NULL)
        return 0;
    for (size_t i = 0; i < QRT_SLOT_COUNT(s->desc); i++)
        if ((rd_i32(p + 8 * i) & 0xFFFF) != 0 || rd_i32(p + 8 * i + 4) > 14)
            return 0;
    return 1;
}

/* "qrt_requant_fast(ACC, mult, shift)" for row variable `row` of a requantization slot (sw:
 * the rows' weights, NULL for a batch norm or PReLU): one pair as constants; one per row as
 * the multiplier tensor and either the shift tensor or, where every row has one shift
 * (rq_one_shift), that shift as a constant. qrt_requant_fast is inline where QRT_HAVE_SMULL
 * (a constant shift folds into it), else qrt_requant. 15-bit multipliers (qrt_cgs_rq_m15)
 * take qrt_requant_m15 (on ARMv6-M qrt_requant15: 54 B and half the cycles of qrt_requant)
 * where `bound`, the largest |result| the rows can give, is below 2^30 (it does not
 * saturate), else qrt_requant_fast on m·2^16: the same value. */
void qrt_cgs_emit_requant(const spec *g, unsigned li, const char *tag, const qrt_slot *s,
                          const qrt_slot *sw, const char *acc, const char *row, double bound)
{
    int m15 = qrt_cgs_rq_m15(g, s), fast = m15 && bound < 1073741824.0;
    const char *fn = fast ? "qrt_requant_m15" : "qrt_requant_fast";
    const uint8_t *p = slot_data(g, s);
    char m[96];
    if (QRT_SLOT_COUNT(s->desc) > 1u)
        snprintf(m, sizeof m, m15 && !fast ? "(int32_t)%s_l%u_%sm[%s] * 65536"
                                           : "%s_l%u_%sm[%s]", g->name, li, tag, row);
    else
        snprintf(m, sizeof m, "%" PRId32, fast ? rd_i32(p) / 65536 : rd_i32(p));
    if (QRT_SLOT_COUNT(s->desc) <= 1u || qrt_cgs_rq_one_shift(g, s, sw))
        fprintf(g->fp, "%s(%s, %s, %" PRId32 ")", fn, acc, m, rd_i32(p + 4));
    else
        fprintf(g->fp, "%s(%s, %s, %s_l%u_%ss[%s])", fn, acc, m, g->name, li, tag, row);
}

/* Rows of 1, 2 and 4 bits are also written out in the generated code, and QRT_ROWS_S1/_S2/_S4
 * (qrt_layer.h) choose at compile time between that and the runtime's kernel. 1 bit: a bit
 * test and, when set, one add of x a level, on an input sum shared by the matrix's rows (~4
 * cycles a level on a Cortex-M0+, ~7 in qrt_dot_s1, and no call); 2 and 4 bits: a shift pair
 * and a multiply a level (on Thumb-2 one SBFX and an MLA), as the kernels, without the call
 * and the pointer steps. Up to FULL_LEVELS levels (4 bits: twice that) every level of the row
 * is written out; longer 1- and 4-bit rows are a loop over their whole bytes with one byte's
 * levels written out, then the partial byte (on a KWS-sized model, 32-level 1-bit rows
 * written out whole were 596 B more for 2 % fewer cycles on a Cortex-M0+); longer 2-bit rows
 * call qrt_dot_s2, already a multiply a level (there the loop was 316 B more for 2.6 % fewer
 * cycles, the call 220 B for 5.7 %). On ARMv6-M the 4-bit kernel's call is the smaller
 * code, so QRT_ROWS_S4 is 0 there. Returns the container width, or 0 (8 bits, sparse, long
 * 2-bit rows). */
#define FULL_LEVELS 16u

static unsigned written_out(const qrt_slot *sw, uint32_t k)
{
    unsigned t = QRT_SLOT_TYPE(sw->desc), c = qrt_container_bits(t);
    return QRT_T_IS_SPARSE(t) || c == 8u || (c == 2u && k > FULL_LEVELS) ? 0u : c;
}

/* 8-bit rows on a core with dual 16-bit MACs (QRT_DUAL16, qrt_layer.h): SMLAD multiplies
 * 16-bit halves, so it computes W·x exactly when every x_i fits int16 (the products and every
 * partial sum are those of the plain loop, within int32 by the loader's row bound). Used for
 * every matrix whose input bound is at most 32767: a GRU's recurrent rows and the layers that
 * read a state (QRT_STATE_MAX), and every layer of a model exported with 16-bit activations.
 * Rows of 4 levels or more. */
/* Dual 16-bit rows of up to this many levels are written out, longer ones a loop over their
 * words (8 bits: 8 words; 2 bits: 2, the KWS-sized model's 130-level convolution rows unrolled
 * cost 1.4 KB on the M4). */
#define DUAL_FULL_LEVELS 32u

static int d16_rows(const qrt_slot *sw, uint32_t k, double a_in)
{
    return qrt_cgs_is_s8(sw) && k >= 4u && a_in <= 32767.0;
}

/* 4- and 2-bit rows by dual 16-bit MACs (QRT_DUAL16), on inputs that fit int16. 4 bits: a
 * word of eight levels (nibble j at bits 4j) XORed with 0x88888888 makes each nibble
 * n ^ 8 = w + 8 ∈ [0, 15] (w the two's-complement level), and (u >> 4j) & 0x000F000F holds
 * levels j and j + 4 as two 16-bit halves: four SMLAD a word on the input packed
 * (x_j, x_{j+4}), then 8·Σx over those levels (per matrix) taken off. 2 bits: the same with
 * sixteen fields, XOR 0xAAAAAAAA (w + 2), mask 0x00030003, eight SMLAD on (x_j, x_{j+8}),
 * 2·Σx off. Sums are modulo 2^32 (SMLAD's), exact because the result, W·x, lies in int32 (the
 * loader's row bound). The levels after the last whole word are written out. Rows of a word
 * or more. Returns the container width, or 0. */
static unsigned d16_n(const qrt_slot *sw, uint32_t k, double a_in)
{
    unsigned t = QRT_SLOT_TYPE(sw->desc), c = qrt_container_bits(t);
    return !QRT_T_IS_SPARSE(t) && (c == 4u || c == 2u) && k >= 32u / c && a_in <= 32767.0 ? c
                                                                                         : 0u;
}

/* 1-bit rows by dual 16-bit MACs (QRT_DUAL16), on inputs that fit int16: a byte b of eight
 * levels spread as u = b | b << 15 holds bits 2j and 2j + 1 at 2j and 2j + 16, so
 * (u >> 2j) & 0x00010001 is levels 2j, 2j + 1 as two 16-bit halves, 0 or 1: one SMLAD a pair
 * on the input as pairs (x_2j, x_2j+1) (read in place, s1_direct, or packed, the odd last
 * level paired with 0) gives pos = Σ x over set bits, and W·x = pos − (tot − pos) as the
 * written-out rows. Any row length. */
static int d16_s1(const qrt_slot *sw, uint32_t k, double a_in)
{
    unsigned t = QRT_SLOT_TYPE(sw->desc);
    return !QRT_T_IS_SPARSE(t) && qrt_container_bits(t) == 1u && k >= 2u && a_in <= 32767.0;
}

/* An int16 input in the working memory at a word boundary already holds the 1-bit dual rows'
 * pairs (x_2j, x_2j+1) as its words, low half first on a little-endian core (the Cortex-M's
 * default; QRT_DUAL16 is for those): read them in place, no packed copy. An odd last pair's
 * high half is the next element's bytes (within the word-aligned region, or the next
 * region's): its level is masked off (& 1, emit_row_dot). */
static int s1_direct(const ten *xt)
{
    return xt->w == 2 && strstr(xt->e, "_M16(") != NULL && xt->off % 4u == 0u;
}

/* 8-bit GRU rows of 16 levels or more call qrt_dot_s8 where there is no dual path: inline in
 * the GRU's row loop, with its unit bookkeeping, GCC 12's Thumb-1 allocation spills inside the
 * loop (10 instructions a level instead of 7; the KWS-sized model on a Cortex-M0+:
 * 5,635,548 → 4,832,867 cycles a window with the call, for the kernel's 108 B). */
static int s8_call(const spec *g, const qrt_slot *sw, uint32_t k)
{
    return g->in_gru && qrt_cgs_is_s8(sw) && k >= 16u;
}

/* Dense 4-bit rows on int16 inputs call qrt_dot16_s4 (no widened copy); on int8 inputs too,
 * on a copy widened to int16 (half the stack of an int32 one, and no qrt_dot_s4 beside it). */
int qrt_cgs_dot16(const qrt_slot *sw, const ten *xt)
{
    unsigned t = QRT_SLOT_TYPE(sw->desc);
    return xt->w <= 2 && !QRT_T_IS_SPARSE(t) && qrt_container_bits(t) == 4u;
}

/* Whether a matrix's rows may call a runtime kernel that reads int32 inputs: sparse rows,
 * 2-bit rows longer than FULL_LEVELS, 1/2/4-bit rows where QRT_ROWS_S* is 0 (but dot16),
 * s8_call. */
static int kernel_rows(const spec *g, const qrt_slot *sw, uint32_t k, const ten *xt)
{
    return (!qrt_cgs_is_s8(sw) && !qrt_cgs_dot16(sw, xt)) || s8_call(g, sw, k);
}

/* Before a row loop, what every row of a matrix reads, named with tag: inline 1-bit rows the
 * sum of the input vector (`int32_t tot<tag>`; qrt_dot_s1 sums it in each call); dual-16
 * rows the input as int16 pairs (x0, x2), (x1, x3), (x4, x6), … as SXTB16 pairs a word of
 * weights (`xp<tag>`); rows that call a kernel on a narrow input the input widened to int32
 * (`xw<tag>`, on the stack: the kernels read int32). */
void qrt_cgs_emit_mat_pre(const spec *g, const char *ind, const char *tag, const ten *xt,
                          const qrt_slot *sw, uint32_t k, double a_in)
{
    FILE *fp = g->fp;
    const char *x = xt->e;
    unsigned wo = written_out(sw, k);
    int direct = d16_s1(sw, k, a_in) && s1_direct(xt);
    if (direct) /* the pairs are the int16 input's words; their sum by SMLAD with (1, 1) */
        fprintf(fp, "#if QRT_DUAL16\n%sconst %s_i32 *xp%s = %s_M32(%lu);\n"
                    "%sint32_t tot%s = 0;\n%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "%s    tot%s = qrt_smlad(0x00010001u, (uint32_t)xp%s[i], tot%s);\n%s",
                ind, g->name, tag, g->up, xt->off, ind, tag, ind, g->up, k / 2u, ind, tag, tag,
                tag, k % 2u ? "" : "#elif QRT_ROWS_S1\n");
    if (direct && k % 2u)
        fprintf(fp, "%stot%s += (%s)[%" PRIu32 "];\n#elif QRT_ROWS_S1\n", ind, tag, x, k - 1u);
    if (wo == 1u && !direct)
        fprintf(fp, "#if QRT_ROWS_S1%s\n"
                    "%sint32_t tot%s = 0;\n%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "%s    tot%s += (%s)[i];\n#endif\n",
                d16_s1(sw, k, a_in) ? " || QRT_DUAL16" : "", ind, tag, ind, g->up, k, ind, tag,
                x);
    if (direct) /* after its #elif QRT_ROWS_S1 */
        fprintf(fp, "%sint32_t tot%s = 0;\n%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "%s    tot%s += (%s)[i];\n#endif\n",
                ind, tag, ind, g->up, k, ind, tag, x);
    if (xt->w == 1 && qrt_cgs_dot16(sw, xt)) { /* int8 input, qrt_dot16_s4: an int16 copy */
        int dual = d16_n(sw, k, a_in) != 0u;
        fprintf(fp, "#if !QRT_ROWS_S4%s\n%sint16_t xw%s[%" PRIu32 "];\n"
                    "%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "%s    xw%s[i] = (%s)[i];\n#endif\n",
                dual ? " && !QRT_DUAL16" : "", ind, tag, k, ind, g->up, k, ind, tag, x);
    }
    if (xt->w < 4 && kernel_rows(g, sw, k, xt)) {
        /* only where a kernel is what runs: not with the rows written out or dual 16-bit */
        int dual = d16_rows(sw, k, a_in) || d16_n(sw, k, a_in) || d16_s1(sw, k, a_in);
        if (wo || dual)
            fprintf(fp, "#if %s%s%s\n", wo ? (wo == 4u ? "!QRT_ROWS_S4" : wo == 2u ?
                                               "!QRT_ROWS_S2" : "!QRT_ROWS_S1") : "",
                    wo && dual ? " && " : "", dual ? "!QRT_DUAL16" : "");
        fprintf(fp, "%sint32_t xw%s[%" PRIu32 "];\n%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32
                    "u; i++)\n%s    xw%s[i] = (%s)[i];\n",
                ind, tag, k, ind, g->up, k, ind, tag, x);
        if (wo || dual)
            fprintf(fp, "#endif\n");
    }
    if (direct)
        return;
    if (d16_s1(sw, k, a_in)) { /* pair i: levels 2i and 2i + 1 */
        fprintf(fp, "#if QRT_DUAL16\n%suint32_t xp%s[%" PRIu32 "];\n"
                    "%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                    "%s    xp%s[i] = ((uint32_t)(%s)[2 * i] & 0xFFFFu) |\n"
                    "%s            (uint32_t)(%s)[2 * i + 1] << 16;\n",
                ind, tag, (k + 1u) / 2u, ind, g->up, k / 2u, ind, tag, x, ind, x);
        if (k % 2u)
            fprintf(fp, "%sxp%s[%" PRIu32 "] = (uint32_t)(%s)[%" PRIu32 "] & 0xFFFFu;\n", ind,
                    tag, k / 2u, x, k - 1u);
        fprintf(fp, "#endif\n");
        return;
    }
    unsigned dc = d16_n(sw, k, a_in);
    if (dc) { /* pair i: levels i + i / P·P and P later, P = 16 / c pairs a word */
        uint32_t pw = 16u / dc, nw = k / (2u * pw);
        fprintf(fp, "#if QRT_DUAL16\n%suint32_t xp%s[%" PRIu32 "], t8%s = 0;\n"
                    "%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++) {\n"
                    "%s    xp%s[i] = ((uint32_t)(%s)[i + i / %" PRIu32 "u * %" PRIu32 "u] & 0xFFFFu) |\n"
                    "%s            (uint32_t)(%s)[i + i / %" PRIu32 "u * %" PRIu32 "u + %" PRIu32 "u] << 16;\n"
                    "%s    t8%s += (uint32_t)(%s)[i + i / %" PRIu32 "u * %" PRIu32 "u] +\n"
                    "%s            (uint32_t)(%s)[i + i / %" PRIu32 "u * %" PRIu32 "u + %" PRIu32 "u];\n"
                    "%s}\n%st8%s <<= %u;\n#endif\n",
                ind, tag, pw * nw, tag, ind, g->up, pw * nw, ind, tag, x, pw, pw, ind, x, pw, pw,
                pw, ind, tag, x, pw, pw, ind, x, pw, pw, pw, ind, ind, tag, dc - 1u);
        return;
    }
    if (!d16_rows(sw, k, a_in))
        return;
    fprintf(fp, "#if QRT_DUAL16\n%suint32_t xp%s[%" PRIu32 "];\n"
                "%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++) {\n"
                "%s    xp%s[2 * i] = ((uint32_t)(%s)[4 * i] & 0xFFFFu) |\n"
                "%s                (uint32_t)(%s)[4 * i + 2] << 16;\n"
                "%s    xp%s[2 * i + 1] = ((uint32_t)(%s)[4 * i + 1] & 0xFFFFu) |\n"
                "%s                    (uint32_t)(%s)[4 * i + 3] << 16;\n%s}\n#endif\n",
            ind, tag, k / 4u * 2u, ind, g->up, k / 4u, ind, tag, x, ind, x, ind, tag, x, ind, x,
            ind);
}

/* Level i of a row against xs[i], from the byte b that holds it as field j = i mod 8/c:
 * 1 bit, `if (bit j) pos += x`, bit j tested as the sign of b << (31 − j) (one LSLS and a
 * branch on ARMv6-M, where b & (1 << j) may need the mask in a register); 2 and 4 bits, the
 * field sign-extended by a shift pair and multiplied. */
static void emit_level(FILE *fp, const char *ind, const char *acc, unsigned c, const char *xs,
                       uint32_t i)
{
    uint32_t j = i % (8u / c);
    if (c == 1u)
        fprintf(fp, "%sif ((int32_t)(b << %" PRIu32 ") < 0)\n%s    pos += (%s)[%" PRIu32 "];\n",
                ind, 31u - j, ind, xs, i);
    else
        fprintf(fp, "%s%s += ((int32_t)(b << %" PRIu32 ") >> %u) * (%s)[%" PRIu32 "];\n", ind,
                acc, 32u - c - c * j, 32u - c, xs, i);
}

/* A row of c = 1, 2 or 4 bits written out (written_out): `int32_t ACC = W_row · X (+ bias);`
 * and W moved on. 1 bit: pos = Σ x over set bits and W·x = pos − (tot − pos), qrt_dot_s1's
 * expression (every partial sum bounded by Σ|x|); 2 and 4 bits: Σ level·x from the bias on,
 * as qrt_dot_s2/_s4 (sums in another order are exact: the loader's row bound). */
static void emit_row_out(const spec *g, const char *ind, const char *acc, const char *w,
                         const ten *xt, uint32_t k, const char *bias, unsigned c,
                         const char *tag)
{
    const char *x = xt->e;
    FILE *fp = g->fp;
    uint32_t per = 8u / c, full = k <= (c == 4u ? 2u : 1u) * FULL_LEVELS;
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    if (c == 1u)
        fprintf(fp, "%sint32_t %s;\n%s{\n%s    int32_t pos = 0;\n", ind, acc, ind, ind);
    else
        fprintf(fp, "%sint32_t %s = %s;\n%s{\n", ind, acc, bias ? bias : "0", ind);
    fprintf(fp, "%s    uint32_t b;\n", ind);
    if (full) { /* every level, constant offsets */
        for (uint32_t i = 0; i < k; i++) {
            if (i % per == 0u)
                fprintf(fp, "%s    b = %s[%" PRIu32 "];\n", ind, w, i / per);
            emit_level(fp, in2, acc, c, x, i);
        }
    } else { /* the whole bytes in a loop, one byte's levels written out; the partial byte */
        char in3[64];
        snprintf(in3, sizeof in3, "%s        ", ind);
        fprintf(fp, "%s    const uint8_t *wb = %s;\n%s    const %s *xb = %s;\n"
                    "%s    %s_LOOP for (uint32_t j = 0; j < %" PRIu32 "u; j++, xb += %" PRIu32
                    ") {\n"
                    "%s        b = *wb++;\n",
                ind, w, ind, xt->t, x, ind, g->up, k / per, per, ind);
        for (uint32_t i = 0; i < per; i++)
            emit_level(fp, in3, acc, c, "xb", i);
        fprintf(fp, "%s    }\n", ind);
        if (k % per)
            fprintf(fp, "%s    b = *wb;\n", ind);
        for (uint32_t i = 0; i < k % per; i++)
            emit_level(fp, in2, acc, c, "xb", i);
    }
    if (c == 1u)
        fprintf(fp, "%s    %s = pos - (tot%s - pos)%s%s;\n", ind, acc, tag, bias ? " + " : "",
                bias ? bias : "");
    fprintf(fp, "%s}\n%s%s += %zuu;\n", ind, ind, w, QRT_ROW_BYTES(k, c));
}

/* `int32_t ACC = W_row · X (+ bias[row]);` and W moved to the next row. 8-bit rows: an inline
 * loop with the row length a constant (on a Cortex-M0+ smaller and faster than a call for
 * rows this short), and where QRT_DUAL16 the packed path too; 1-, 2- and 4-bit rows: written
 * out (emit_row_out) or the runtime's kernel; sparse rows: the row walker. Integer sums in any
 * order are the same: the loader proves every partial sum is within int32. */
void qrt_cgs_emit_row_dot(const spec *g, const char *ind, const char *acc, const char *w,
                          const ten *xt, const qrt_slot *sw, uint32_t k, const char *bias,
                          const char *tag, double a_in)
{
    unsigned t = QRT_SLOT_TYPE(sw->desc);
    FILE *fp = g->fp;
    const char *x = xt->e;
    char xk[96]; /* what a kernel reads: int32 */
    if (xt->w < 4)
        snprintf(xk, sizeof xk, "xw%s", tag);
    else
        snprintf(xk, sizeof xk, "(const int32_t *)(%s)", x);
    int d16 = d16_rows(sw, k, a_in);
    unsigned wo = written_out(sw, k);
    unsigned dc = d16_n(sw, k, a_in);
    if (d16_s1(sw, k, a_in)) { /* a byte at a time: spread, then a SMLAD a pair */
        uint32_t np = (k + 1u) / 2u;
        fprintf(fp, "#if QRT_DUAL16\n%sint32_t %s;\n%s{\n%s    int32_t pos = 0;\n"
                    "%s    uint32_t u, m = 0x00010001u;\n%s    %s_OPAQUE(m);\n", ind, acc, ind, ind,
                ind, ind, g->up);
        if (k > DUAL_FULL_LEVELS) { /* the whole bytes in a loop */
            fprintf(fp, "%s    const uint8_t *wq = %s;\n"
                        "%s    %s_LOOP for (uint32_t q = 0; q < %" PRIu32 "u; q++) {\n"
                        "%s        u = *wq++;\n%s        u |= u << 15;\n",
                    ind, w, ind, g->up, k / 8u, ind, ind);
            for (uint32_t j = 0; j < 4u; j++)
                fprintf(fp, "%s        pos = qrt_smlad((u >> %" PRIu32 ") & m, "
                            "(uint32_t)xp%s[4u * q + %" PRIu32 "u], pos);\n", ind, 2u * j, tag, j);
            fprintf(fp, "%s    }\n", ind);
        }
        for (uint32_t m = k > DUAL_FULL_LEVELS ? k / 8u * 4u : 0u; m < np; m++) {
            if (m % 4u == 0u)
                fprintf(fp, "%s    u = %s[%" PRIu32 "];\n%s    u |= u << 15;\n", ind, w, m / 4u,
                        ind);
            fprintf(fp, "%s    pos = qrt_smlad((u >> %" PRIu32 ") & %s, (uint32_t)xp%s[%" PRIu32
                        "], pos);\n", ind, 2u * (m % 4u), k % 2u && m + 1u == np ? "1u" : "m",
                    tag, m);
        }
        fprintf(fp, "%s    %s = pos - (tot%s - pos)%s%s;\n%s}\n%s%s += %zuu;\n", ind, acc, tag,
                bias ? " + " : "", bias ? bias : "", ind, ind, w, QRT_ROW_BYTES(k, 1u));
        fprintf(fp, "#elif QRT_ROWS_S1\n");
        emit_row_out(g, ind, acc, w, xt, k, bias, 1u, tag);
        fprintf(fp, "#else\n");
        wo = 1u; /* closes with the kernel's #endif below */
    } else if (dc) { /* the packed path, then the levels after the last word */
        uint32_t pw = 16u / dc, lw = 2u * pw, nw = k / lw; /* pairs, levels, words */
        const char *xr = dc == 4u ? "0x88888888u" : "0xAAAAAAAAu";
        const char *mk = dc == 4u ? "0x000F000Fu" : "0x00030003u";
        fprintf(fp, "#if QRT_DUAL16\n%sint32_t %s = %s;\n%s{\n", ind, acc, bias ? bias : "0",
                ind);
        if (nw > DUAL_FULL_LEVELS / lw) { /* a loop over the words */
            fprintf(fp, "%s    const uint8_t *wq = %s;\n"
                        "%s    %s_LOOP for (uint32_t q = 0; q < %" PRIu32 "u; q++, wq += 4) {\n"
                        "%s        uint32_t u = qrt_le32((const int8_t *)wq) ^ %s;\n",
                    ind, w, ind, g->up, nw, ind, xr);
            for (uint32_t j = 0; j < pw; j++)
                fprintf(fp, "%s        %s = qrt_smlad((u >> %" PRIu32 ") & %s, "
                            "xp%s[%" PRIu32 "u * q + %" PRIu32 "u], %s);\n",
                        ind, acc, dc * j, mk, tag, pw, j, acc);
            fprintf(fp, "%s    }\n", ind);
        }
        for (uint32_t q = 0; nw <= DUAL_FULL_LEVELS / lw && q < nw; q++) {
            fprintf(fp, "%s    uint32_t u%" PRIu32 " = qrt_le32((const int8_t *)(%s + %" PRIu32
                        ")) ^ %s;\n", ind, q, w, 4u * q, xr);
            for (uint32_t j = 0; j < pw; j++)
                fprintf(fp, "%s    %s = qrt_smlad((u%" PRIu32 " >> %" PRIu32 ") & %s, "
                            "xp%s[%" PRIu32 "], %s);\n",
                        ind, acc, q, dc * j, mk, tag, pw * q + j, acc);
        }
        fprintf(fp, "%s    %s = (int32_t)((uint32_t)%s - t8%s);\n", ind, acc, acc, tag);
        for (uint32_t i = nw * lw; i < k; i++) /* field i % (8/c) of byte i / (8/c) */
            fprintf(fp, "%s    %s += ((int32_t)((uint32_t)%s[%" PRIu32 "] << %u) >> %u) * "
                        "(%s)[%" PRIu32 "];\n",
                    ind, acc, w, i / (8u / dc), 32u - dc - dc * (i % (8u / dc)), 32u - dc, x, i);
        fprintf(fp, "%s}\n%s%s += %zuu;\n", ind, ind, w, QRT_ROW_BYTES(k, dc));
        if (wo) {
            fprintf(fp, "#elif QRT_ROWS_S%u\n", wo);
            emit_row_out(g, ind, acc, w, xt, k, bias, wo, tag);
        }
        fprintf(fp, "#else\n");
        wo = dc; /* closes with the kernel's #endif below */
    } else if (wo) {
        fprintf(fp, "#if QRT_ROWS_S%u\n", wo);
        emit_row_out(g, ind, acc, w, xt, k, bias, wo, tag);
        fprintf(fp, "#else\n");
    }
    if (QRT_T_IS_SPARSE(t)) {
        fprintf(fp, "%sint32_t %s;\n%s%s = qrt_sdot_%s_s%u(%s, %s, %" PRIu32 "u, &%s);\n", ind,
                acc, ind, w, QRT_T_WENC(t) == QRT_WENC_BITMAP ? "bm" : "rle",
                qrt_container_bits(QRT_T_WBITS(t)), w, xk, k, acc);
        if (bias)
            fprintf(fp, "%s%s += %s;\n", ind, acc, bias);
    } else if (qrt_cgs_is_s8(sw)) {
        fprintf(fp, "%sint32_t %s = %s;\n", ind, acc, bias ? bias : "0");
        if (d16) { /* the packed path: a word of 4 levels, two SXTB16 and two SMLAD */
            fprintf(fp, "#if QRT_DUAL16\n%s{\n", ind);
            if (k / 4u > DUAL_FULL_LEVELS / 4u) /* a loop over the words (the KWS
                                                   convolution's 32: 1.1 KB less code) */
                fprintf(fp, "%s    const int8_t *wq = %s;\n"
                            "%s    %s_LOOP for (uint32_t q = 0; q < %" PRIu32 "u; q++, wq += 4) {\n"
                            "%s        uint32_t u = qrt_le32(wq);\n"
                            "%s        %s = qrt_smlad(qrt_sxtb16(u), xp%s[2u * q], %s);\n"
                            "%s        %s = qrt_smlad(qrt_sxtb16(u >> 8), xp%s[2u * q + 1u], %s);\n"
                            "%s    }\n",
                        ind, w, ind, g->up, k / 4u, ind, ind, acc, tag, acc, ind, acc, tag, acc,
                        ind);
            for (uint32_t q = 0; k / 4u <= DUAL_FULL_LEVELS / 4u && q < k / 4u; q++)
                fprintf(fp, "%s    uint32_t u%" PRIu32 " = qrt_le32(%s + %" PRIu32 ");\n"
                            "%s    %s = qrt_smlad(qrt_sxtb16(u%" PRIu32 "), xp%s[%" PRIu32
                            "], %s);\n"
                            "%s    %s = qrt_smlad(qrt_sxtb16(u%" PRIu32 " >> 8), xp%s[%" PRIu32
                            "], %s);\n",
                        ind, q, w, 4u * q, ind, acc, q, tag, 2u * q, acc, ind, acc, q, tag,
                        2u * q + 1u, acc);
            for (uint32_t i = k / 4u * 4u; i < k; i++) /* the levels after the last word */
                fprintf(fp, "%s    %s += %s[%" PRIu32 "] * (%s)[%" PRIu32 "];\n", ind, acc, w, i,
                        x, i);
            fprintf(fp, "%s}\n#else\n", ind);
        }
        if (s8_call(g, sw, k))
            fprintf(fp, "%s%s += qrt_dot_s8((const uint8_t *)%s, %s, %" PRIu32 "u);\n", ind,
                    acc, w, xk, k);
        else
            fprintf(fp, "%s%s_LOOP for (uint32_t i = 0; i < %" PRIu32 "u; i++)\n"
                        "%s    %s += %s[i] * (%s)[i];\n",
                    ind, g->up, k, ind, acc, w, x);
        if (d16)
            fprintf(fp, "#endif\n");
        fprintf(fp, "%s%s += %" PRIu32 "u;\n", ind, w, k);
    } else {
        unsigned c = qrt_container_bits(t);
        fprintf(fp, "%sint32_t %s = qrt_dot%s_s%u(%s, %s, %" PRIu32 "u)%s%s;\n%s%s += %zuu;\n",
                ind, acc, qrt_cgs_dot16(sw, xt) ? "16" : "", c, w,
                qrt_cgs_dot16(sw, xt) && xt->w == 2 ? x : xk, k,
                bias ? " + " : "", bias ? bias : "", ind, w,
                QRT_ROW_BYTES(k, c));
    }
    if (wo)
        fprintf(fp, "#endif\n");
}
