/* qrt — the layers on decoded descriptors: one implementation behind both ways of running a
 * model. The blob interpreter (qrt_run.c) decodes each validated layer record into these
 * structs on the fly; a compiled model (qrt_builder_write_compiled, `qreg export`) holds
 * them as const structs pointing at const arrays and calls the layer functions in straight
 * line, so a device build links only the kernels its model uses and no loader.
 *
 * Nothing here validates: the descriptors must come from a blob qrt_model_load accepted
 * (the interpreter) or from the exporter, which validated the same blob on the host (a
 * compiled model). Numerics as qrt.h; dimension letters: K dot-product length, H GRU units,
 * Cin/Cout channels. Freestanding, integer-only, no allocation. */
#ifndef QRT_LAYER_H
#define QRT_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include "qrt.h"
#include "qrt_sparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A weight matrix with its bias and requantization: row o of y = W·x is
 * requant(dot(W_o, x) + bias_o, rq_o). Rows are walked in order: dense rows are row_bytes
 * apart; sparse rows (bitmap or run-length) vary in length and sdot returns the next one. */
typedef struct qrt_mat {
    const uint8_t *w;         /* rows packed rows of row_bytes bytes (low bits first) */
    const int32_t *bias;      /* rows values, or NULL */
    const qrt_rq *rq;         /* rows pairs if rq_step, else one for every row */
    qrt_dot_fn dot;           /* dense rows: the kernel of the weights' container width */
#if QRT_ENABLE_SPARSE
    qrt_sdot_fn sdot;         /* sparse rows (qrt_sparse.h; variable length), else NULL */
#endif
    uint32_t k;               /* levels per row: the dot product's length */
    uint32_t row_bytes;       /* dense: QRT_ROW_BYTES(k, c); sparse: unused (0) */
    uint32_t rows;            /* outputs (a GRU's 3H) */
    uint32_t rq_step;         /* 1: one requantization per row; 0: one for the matrix */
} qrt_mat;

/* Dense: y (rows) = clamp(clamp(requant(W·x + b), 2^30) + off, ±out_max); x (k). */
typedef struct qrt_dense {
    qrt_mat mat;
    const int32_t *off;       /* per-output offset (a folded batch norm's shift), or NULL */
    int32_t out_max;          /* output bound A_out */
} qrt_dense;

/* Conv1D on a stream of frames: the dense layer above applied to a window of `kernel` frames
 * `dilation` apart (mat.k = kernel·n_in), one output every `stride` frames. */
typedef struct qrt_conv {
    qrt_dense lin;
    uint16_t n_in;            /* Cin */
    uint8_t kernel, dilation, stride;
    uint8_t causal;           /* 1: causal padding (emits from the first frame), 0: valid */
    uint16_t pad_left;        /* same padding: zero frames the window starts with (else 0) */
} qrt_conv;
/* Max pooling on a stream of frames: y_c = max of the last `kernel` frames' x_c, one output
 * every `stride` frames once the window is full (valid padding, as a valid convolution). */
typedef struct qrt_pool {
    uint16_t n;               /* channels */
    uint8_t kernel, stride;
} qrt_pool;
/* Sigmoid or tanh: y = f(clamp(requant(x, rq), ±QRT_GATE_MAX)) in Q15, the input in Q16. */
typedef struct qrt_act {
    qrt_rq rq;                /* the input scale times 2^16 */
    uint16_t n;               /* values */
    uint8_t tanh;             /* 1: tanh, 0: the logistic sigmoid */
} qrt_act;

/* Batch norm (rq and off) and PReLU (rq: the negative slope) over n channels. */
typedef struct qrt_scale {
    const qrt_rq *rq;         /* n pairs if rq_step, else one */
    const int32_t *off;       /* batch norm: per-channel offset or NULL; PReLU: unused */
    uint16_t n, rq_step;
    int32_t out_max;
} qrt_scale;

/* Keras reset_after GRU: gate rows [z | r | n] of wi (3H × n_in) and wh (3H × H). */
typedef struct qrt_gru {
    qrt_mat wi, wh;
} qrt_gru;

/* int32 words of a convolution's stream state: [countdown, window (span × Cin)]. */
#define QRT_CONV_SPAN(kernel, dilation) (((uint32_t)(kernel) - 1u) * (uint32_t)(dilation) + 1u)
#define QRT_CONV_STATE_WORDS(kernel, dilation, n_in) \
    (1u + QRT_CONV_SPAN(kernel, dilation) * (uint32_t)(n_in))

/* y = clamp(x, ±a), n values (the input frame's clamp to ±in_max). */
void qrt_clamp_copy(int32_t *y, const int32_t *x, size_t n, int32_t a);
/* Dense layer; x (mat.k), y (mat.rows); y must not alias x. */
void qrt_dense_run(const qrt_dense *l, const int32_t *x, int32_t *y);
/* Reset a convolution's state: empty window, and span − 1 frames to wait (valid padding),
 * span − 1 − pad_left (same), none (causal). */
void qrt_conv_reset(const qrt_conv *l, int32_t *state);
/* Feed one frame x (Cin; a frame of zeros for same padding's right-hand side); returns 1 and
 * writes y (Cout) when the convolution emits, else 0. aux: kernel·Cin words, used when
 * dilation > 1. */
int qrt_conv_push(const qrt_conv *l, int32_t *state, const int32_t *x, int32_t *y,
                  int32_t *aux);
/* Reset a max pooling's state [countdown, window (kernel × n)]: kernel − 1 frames to wait. */
void qrt_pool_reset(const qrt_pool *l, int32_t *state);
/* Feed one frame x (n); returns 1 and writes y (n) when the pooling emits, else 0. */
int qrt_maxpool_push(const qrt_pool *l, int32_t *state, const int32_t *x, int32_t *y);
/* Sigmoid or tanh of n values; in place ok. */
void qrt_act_run(const qrt_act *l, const int32_t *x, int32_t *y);
/* y = clamp(x, 0, a); may run in place. */
void qrt_relu_run(int32_t a, const int32_t *x, int32_t *y, size_t n);
/* Batch norm: y_c = clamp(clamp(requant(x_c, rq_c), 2^30) + off_c, ±out_max); in place ok. */
void qrt_bn_run(const qrt_scale *l, const int32_t *x, int32_t *y);
/* PReLU: y_c = clamp(x_c ≥ 0 ? x_c : requant(x_c, rq_c), ±out_max); in place ok. */
void qrt_prelu_run(const qrt_scale *l, const int32_t *x, int32_t *y);
/* One GRU step: h (H, Q15) ← GRU(x (n_in), h). hn: H words of scratch (any free buffer, not
 * x or h); pre: 4H words of scratch if either matrix is sparse (its rows are walked in gate
 * order), else unused. */
void qrt_gru_step(const qrt_gru *l, const int32_t *x, int32_t *h, int32_t *hn, int32_t *pre);
/* The gates of a GRU step, once every row's pre-activation is in pre (4H, Q16): z rows,
 * r rows (input + recurrent parts), the n rows' input parts, then their recurrent parts;
 * updates h (H, Q15) in place. qrt_gru_step ends with it for sparse rows. */
void qrt_gru_gates(const int32_t *pre, int32_t *h, size_t nh);
/* One unit's gates from its four pre-activations (Q16) p[0], p[stride], p[2·stride],
 * p[3·stride]: z and r (input + recurrent parts), the n row's input and recurrent parts; h
 * the unit's state (Q15). Returns its new state, ≤ QRT_STATE_MAX. qrt_gru_gates is this
 * for every unit (stride H); specialized models call it unit by unit (stride 1, four words
 * on the stack), with no 4H buffer. */
int32_t qrt_gru_unit(const int32_t *p, size_t stride, int32_t h);

/* clamp(v, ±a): the bound every layer applies to its output (specialized compiled models
 * inline it; the layers above use the same expression). */
static inline int32_t qrt_clamp(int32_t v, int32_t a)
{
    return v > a ? a : (v < -a ? -a : v);
}

/* qrt_requant as specialized compiled models call it: inline where the core has a 32×32→64
 * multiply (QRT_HAVE_SMULL: Cortex-M3/M4/M7), where it is a few instructions (SMLAL and a
 * shift) and a constant shift folds into them; elsewhere the call (on ARMv6-M the 32-bit form
 * is ~130 B, too big to repeat at every call site). The same expression as qrt_requant_ref. */
#if QRT_HAVE_SMULL
static inline int32_t qrt_requant_fast(int32_t acc, int32_t mult, int32_t shift)
{
    unsigned r = (unsigned)(31 - shift); /* 1 … 62 */
    int64_t p = ((int64_t)acc * (int64_t)mult + ((int64_t)1 << (r - 1u))) >> r;
    return p > INT32_MAX ? INT32_MAX : (p < INT32_MIN ? INT32_MIN : (int32_t)p);
}
#else
#define qrt_requant_fast qrt_requant
#endif

/* qrt_requant(acc, m·2^16, shift) for a 15-bit multiplier m (the exporter's rounding) as
 * specialized compiled models call it where the row bound keeps the result within int32:
 * inline on cores with SMULL, else qrt_requant15 (half the code and cycles of qrt_requant on a
 * Cortex-M0+). */
static inline int32_t qrt_requant_m15(int32_t acc, int32_t m, int32_t shift)
{
#if QRT_HAVE_SMULL
    return qrt_requant_fast(acc, (int32_t)((uint32_t)m << 16), shift);
#else
    return qrt_requant15(acc, m, (uint32_t)(15 - shift));
#endif
}

/* QRT_ROWS_S1, _S2, _S4 (0 or 1): whether specialized compiled models run their 1-, 2- and
 * 4-bit rows as written out in the generated code (every level, or for long rows a loop over
 * the bytes with one byte's levels written out; 2-bit rows of up to 16 levels only) or call
 * qrt_dot_s1/_s2/_s4. Written out is
 * faster on every core (bts on a Cortex-M0+: 1 bit 9,074 → 6,144 cycles a frame) and for the
 * 1- and 2-bit rows of bts about as small as the kernels. Default 1, except with QRT_SMALL
 * (the kernels: the smallest code) and for 4 bits on ARMv6-M, where the 80-B kernel and its
 * calls are 220 B smaller for bts (docs/runtime.md). */
#ifndef QRT_ROWS_S1
#define QRT_ROWS_S1 (!QRT_SMALL)
#endif
#ifndef QRT_ROWS_S2
#define QRT_ROWS_S2 (!QRT_SMALL)
#endif
#ifndef QRT_ROWS_S4
#if defined(__ARM_ARCH_6M__)
#define QRT_ROWS_S4 0
#else
#define QRT_ROWS_S4 (!QRT_SMALL)
#endif
#endif

/* Dual 16-bit multiply-accumulate for specialized compiled models: SMLAD adds two products
 * of signed 16-bit halves to a 32-bit accumulator, SXTB16 sign-extends bytes 0 and 2 of a word
 * into its two halves. A compiled model uses them for an 8-, 4-, 2- or 1-bit matrix whose
 * input provably fits int16 (docs/runtime.md, "Dual 16-bit MACs"). QRT_DUAL16 (default: the target has the
 * DSP extension, __ARM_FEATURE_DSP: Cortex-M4/M7/M33, and GCC or Clang) selects that path;
 * elsewhere the twins below, portable C with the instructions' results, let a host test run
 * the same path. */
#if defined(__ARM_FEATURE_DSP) && (defined(__GNUC__) || defined(__clang__))
#define QRT_DSP_BUILTINS 1 /* GCC's and Clang's, as <arm_acle.h> wraps them */
#else
#define QRT_DSP_BUILTINS 0
#endif
#ifndef QRT_DUAL16
#define QRT_DUAL16 QRT_DSP_BUILTINS
#endif
#if QRT_DUAL16
/* Four int8 levels from any address as one little-endian word (on the M4, where unaligned
 * word loads are allowed, GCC makes it one LDR). */
static inline uint32_t qrt_le32(const int8_t *p)
{
    const uint8_t *q = (const uint8_t *)p;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}
#endif
#if QRT_DUAL16 && QRT_DSP_BUILTINS
static inline uint32_t qrt_sxtb16(uint32_t u) { return (uint32_t)__builtin_arm_sxtb16((int32_t)u); }
static inline int32_t qrt_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return __builtin_arm_smlad((int32_t)a, (int32_t)b, acc);
}
#elif QRT_DUAL16
static inline uint32_t qrt_sxtb16(uint32_t u)
{
    return ((uint32_t)(int32_t)(int8_t)(u & 0xFFu) & 0xFFFFu) |
           (uint32_t)(int32_t)(int8_t)((u >> 16) & 0xFFu) << 16;
}
static inline int32_t qrt_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t lo = (int32_t)(int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu);
    int32_t hi = (int32_t)(int16_t)(a >> 16) * (int16_t)(b >> 16);
    return (int32_t)((uint32_t)acc + (uint32_t)lo + (uint32_t)hi); /* modulo 2^32 */
}
#endif

/* One input feature's transform from a raw integer sample (an int16 ADC count, say) to the
 * model's quantized input: the integer form of qrt_quantize_input (export/qrt_host.h) with
 * x = raw · raw_scale, i.e. of q = round_half_away(raw · a − c), a = raw_scale / (std · in_scale),
 * c = mean / (std · in_scale):
 *     q = clamp(round_half_away((raw · mult − off) / 2^k), ±in_max)
 * with mult = round(a · 2^k) (|mult| < 2^31, k = 1 … 62 as large as that allows) and
 * off = round(c · 2^k), computed exactly in 64-bit two's complement made of 32-bit pieces (no
 * 64-bit operation, no libgcc call on ARMv6-M). Constants from qrt_input_consts
 * (export/qrt_host.h); compiled models call it as NAME_quantize_frame. Rounding ties go away
 * from zero as on the host, so the result equals the host's float quantization except where
 * the exact value v lies within ε = (|raw · a| + a) · 2^−31 of a rounding boundary (the two
 * constants' roundings), and there it differs by 1 (docs/runtime.md, "Input transform"). */
typedef struct qrt_inq {
    int32_t mult;             /* a · 2^k, rounded */
    int32_t off_hi;           /* off = off_hi · 2^32 + off_lo: c · 2^k, rounded */
    uint32_t off_lo;
    uint32_t k;               /* 1 … 62 */
} qrt_inq;
/* frame[i] = the transform of raw[i] with q[i], for i < n. */
void qrt_quantize_raw16(const qrt_inq *q, const int16_t *raw, int32_t *frame, size_t n,
                        int32_t in_max);

#ifdef __cplusplus
}
#endif

#endif /* QRT_LAYER_H */
