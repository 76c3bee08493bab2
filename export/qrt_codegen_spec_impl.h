/* Internal to the specialized code generator (export/qrt_codegen_spec.c: tensors, layers, the
 * working memory; export/qrt_codegen_rows.c: the code of one row and its requantization). */
#ifndef QRT_CODEGEN_SPEC_IMPL_H
#define QRT_CODEGEN_SPEC_IMPL_H

#include <stdint.h>
#include <stdio.h>
#include "qrt_format.h"
#include "qrt_layer.h"

/* What every emitter needs: the output, the C name prefix, the blob. */
typedef struct spec {
    FILE *fp;
    const char *name, *up;   /* prefix of C names, and in upper case of macros */
    const uint8_t *blob;
    int in_gru;              /* writing a GRU's rows (s8_call) */
} spec;

static inline int32_t rd_i32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static inline const uint8_t *slot_data(const spec *g, const qrt_slot *s)
{
    return s->desc ? g->blob + s->offset : NULL;
}

/* ---- code ----------------------------------------------------------------------------
 * A tensor in the code is a C expression and its element type: a region of the working memory
 * (NAME_M16(44): bytes 44… of mem as int16), "frame" or "logits" (int32). Each activation is
 * stored in the narrowest type its bound A holds (act_width): int8 for A ≤ 127, int16 for
 * A ≤ 32767, else int32; the GRU state is int16 (QRT_STATE_MAX). Sums stay int32. */

typedef struct ten {
    char e[64];   /* the expression: a pointer to the first element */
    char t[32];   /* the element type */
    int w;        /* bytes an element */
    unsigned long off; /* a region of the working memory: its byte offset */
} ten;

static inline int act_width(double a)
{
    return a <= 127.0 ? 1 : a <= 32767.0 ? 2 : 4;
}

/* 8-bit dense rows are int8_t levels (export/qrt_codegen_spec.c). */
int qrt_cgs_is_s8(const qrt_slot *s);
/* Every row of requantization slot s (weights sw) has one shift. */
int qrt_cgs_rq_one_shift(const spec *g, const qrt_slot *s, const qrt_slot *sw);

/* ---- export/qrt_codegen_rows.c ---- */
ten qrt_cgs_mem_ten(const spec *g, int w, unsigned long off);
ten qrt_cgs_arg_ten(const char *e);
int qrt_cgs_dot16(const qrt_slot *sw, const ten *xt);
int qrt_cgs_rq_m15(const spec *g, const qrt_slot *s);
void qrt_cgs_emit_requant(const spec *g, unsigned li, const char *tag, const qrt_slot *s,
                          const qrt_slot *sw, const char *acc, const char *row, double bound);
void qrt_cgs_emit_mat_pre(const spec *g, const char *ind, const char *tag, const ten *xt,
                          const qrt_slot *sw, uint32_t k, double a_in);
void qrt_cgs_emit_row_dot(const spec *g, const char *ind, const char *acc, const char *w,
                          const ten *xt, const qrt_slot *sw, uint32_t k, const char *bias,
                          const char *tag, double a_in);

#endif
