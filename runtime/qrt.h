/* qrt — the qreg device runtime: integer-only inference of CGRU-style models on
 * microcontrollers. Freestanding C99: <stdint.h> and <stddef.h> only, no libc call (build with
 * -ffreestanding, or GCC may turn the zeroing loops into memset calls); no malloc, no floating
 * point, no libm, no 64-bit arithmetic outside the qrt_requant_ref test twin (and the separate
 * audio front end, qrt_frontend.h, which uses 64-bit integer products); weights are read
 * in place from a const blob (flash); all working memory is caller scratch. Design notes, numerics and error bounds: docs/runtime.md. Blob
 * layout: docs/format.md, "Integer model (.qrt)". Host-only helpers (they use double):
 * export/qrt_host.h; the blob builder the exporter calls: export/qrt_builder.h.
 *
 * Dimension letters: T time steps (frames), F features per input frame, C channels, K the
 * length of a dot product (F, H, or kernel·Cin for a convolution), H GRU units.
 *
 * Number formats.
 *   activations  int32 holding q, real value q·s with a per-tensor scale s chosen by the
 *                exporter (zero point 0), and |q| ≤ the tensor's bound A (`out_max`, ≤ 2^30).
 *   weights      signed levels at bit-width N = 1..8, stored packed (see "Packing" below).
 *   requant      (mult, shift): y = round_half_up(acc · mult · 2^(shift − 31)), a Q31 multiplier
 *                and a shift in [QRT_SHIFT_MIN, QRT_SHIFT_MAX]; computed by the exporter
 *                (qrt_quantize_multiplier in export/qrt_host.h).
 *   GRU          gate pre-activations in Q16 (QRT_GATE_FRAC), gates and state h in Q15:
 *                1.0 = 32768; the state −32768 ≤ h ≤ 32767 (QRT_STATE_MAX: int16).
 *
 * Packing (N-bit levels in C-bit containers: N = 1 → 1, N = 2 → 2, N = 3..4 → 4, N = 5..8 → 8).
 *   A weight matrix is stored row by row, row-major for y = W·x (one row per output), each
 *   row padded with zero bits to a whole byte (QRT_ROW_BYTES). Inside a byte, the first level
 *   takes the lowest bits ("low bits first"): level i of a row sits in byte (i·C)/8 at bit
 *   (i·C)%8.
 *     C = 1: set bit = +1, clear bit = −1.
 *     C = 2: two's complement, ternary: 00 = 0, 01 = +1, 11 = −1 (10 is invalid).
 *     C = 4: two's-complement nibble, sign-extended as (v ^ 8) − 8; N = 3 keeps |level| ≤ 3.
 *     C = 8: int8 (two's complement); |level| ≤ 2^(N−1) − 1, so −128 never occurs.
 *
 * Arithmetic assumptions (checked at compile time below): two's-complement integers and
 * arithmetic (sign-propagating) right shift of negative values, as every Cortex-M, x86 and
 * RISC-V compiler provides. The blob is little-endian; loading it on a big-endian target fails
 * with QRT_ERR_UNSUPPORTED. */
#ifndef QRT_H
#define QRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Weight widths compiled in (define to 0 to drop a width's kernels from a device build; a
 * blob that uses a dropped width is rejected with QRT_ERR_UNSUPPORTED). */
#ifndef QRT_ENABLE_S1
#define QRT_ENABLE_S1 1
#endif
#ifndef QRT_ENABLE_S2
#define QRT_ENABLE_S2 1
#endif
#ifndef QRT_ENABLE_S4
#define QRT_ENABLE_S4 1
#endif
#ifndef QRT_ENABLE_S8
#define QRT_ENABLE_S8 1
#endif

/* QRT_SMALL=1: smaller code for a few cycles more: the 1-, 2-, 4- and 8-bit dot products as
 * one-level-per-iteration loops instead of unrolled, the GRU's input and recurrent rows
 * through one helper, and on ARMv6-M a requantization with one rounding path (bts on a
 * Cortex-M0+, specialized compiled form: 12 B (8 bits) to 206 B (1 bit) less flash;
 * docs/runtime.md). */
#ifndef QRT_SMALL
#define QRT_SMALL 0
#endif

/* QRT_HAVE_SMULL: the target multiplies 32×32→64 in one instruction and shifts int64 without
 * a library call (Cortex-M3/M4/M7, ARMv8-M Mainline): qrt_requant is then the int64 form
 * (qrt_requant_ref); elsewhere (ARMv6-M, the host) the 32-bit form. Both are exact. */
#ifndef QRT_HAVE_SMULL
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define QRT_HAVE_SMULL 1
#else
#define QRT_HAVE_SMULL 0
#endif
#endif

/* QRT_ASM_V6M: on ARMv6-M (Cortex-M0/M0+/M1) with GCC or Clang, qrt_requant is Thumb-1
 * assembly (smaller and faster than the C form, the same results); -DQRT_ASM_V6M=0 keeps C. */
#ifndef QRT_ASM_V6M
#if defined(__ARM_ARCH_6M__) && defined(__GNUC__) && !QRT_HAVE_SMULL
#define QRT_ASM_V6M 1
#else
#define QRT_ASM_V6M 0
#endif
#endif

/* Compile-time checks (C99 has no _Static_assert). */
#define QRT_STATIC_CHECK(name, cond) typedef char qrt_check_##name[(cond) ? 1 : -1]
QRT_STATIC_CHECK(asr, (-1 >> 1) == -1 && (-8 >> 2) == -2);
QRT_STATIC_CHECK(int32, sizeof(int32_t) == 4);

/* ---- status ------------------------------------------------------------------------- */

typedef enum qrt_status {
    QRT_OK = 0,
    QRT_ERR_ARG = -1,         /* NULL pointer or invalid argument */
    QRT_ERR_TRUNCATED = -2,   /* blob shorter than its header, or than the size it declares */
    QRT_ERR_MAGIC = -3,       /* not a .qrt blob */
    QRT_ERR_VERSION = -4,     /* format version this runtime does not read */
    QRT_ERR_CRC = -5,         /* checksum mismatch: the blob is corrupted */
    QRT_ERR_FORMAT = -6,      /* malformed field: reserved bits set, unknown kind, bad slot */
    QRT_ERR_BOUNDS = -7,      /* an offset or length outside its section */
    QRT_ERR_SHAPE = -8,       /* dimensions inconsistent between layers or with the header */
    QRT_ERR_RANGE = -9,       /* a value out of range: level off the grid, shift, bound, overflow */
    QRT_ERR_ALIGN = -10,      /* blob not 8-byte aligned, or scratch not 4-byte aligned */
    QRT_ERR_SCRATCH = -11,    /* scratch smaller than qrt_scratch_size() */
    QRT_ERR_NOT_READY = -12,  /* stream has produced no output yet */
    QRT_ERR_UNSUPPORTED = -13,/* big-endian target, or a weight width compiled out */
    QRT_ERR_NOMEM = -14,      /* host only (builder): out of memory */
    QRT_ERR_IO = -15          /* host only (builder): file I/O */
} qrt_status;

/* A short English description; never NULL. */
const char *qrt_strerror(qrt_status s);

/* ---- format constants --------------------------------------------------------------- */

#define QRT_VERSION 2u              /* newest format version read: 1 = dense weights only,
                                       2 = also sparse (bitmap, run-length) weight slots; the
                                       builder writes 1 unless a matrix is stored sparse */
#define QRT_VERSION_DENSE 1u
#define QRT_MAX_LAYERS 64u
#define QRT_MAX_DIM 65535u          /* n_in, n_out, F, H */
#define QRT_MAX_KERNEL 255u         /* conv kernel, stride and dilation */
#define QRT_MAX_SEQ 1000000u        /* T */
#define QRT_ACT_MAX (1 << 30)       /* largest activation bound A */
#define QRT_SHIFT_MIN (-31)
#define QRT_SHIFT_MAX 30
#define QRT_GATE_FRAC 16            /* GRU gate pre-activations: Q16 */
#define QRT_GATE_MAX ((1 << 24) - 1)/* ... clamped to ±(2^24 − 1), i.e. ±256 */
#define QRT_ONE_Q15 32768           /* 1.0 in Q15 (gates, GRU state) */
#define QRT_STATE_MAX 32767         /* a GRU state's bound: h' ≤ 32767 fits int16 */

typedef enum qrt_layer_kind {
    QRT_LAYER_DENSE = 1,      /* y = clamp(requant(W·x + b) + o)                         */
    QRT_LAYER_CONV1D = 2,     /* the same on a window of k frames (valid or causal)      */
    QRT_LAYER_BATCHNORM = 3,  /* y_c = clamp(requant(x_c, a_c) + o_c)                    */
    QRT_LAYER_RELU = 4,       /* y = clamp(x, 0, A)                                      */
    QRT_LAYER_PRELU = 5,      /* y = x ≥ 0 ? x : requant(x, α_c), clamped to ±A         */
    QRT_LAYER_GRU = 6,        /* Keras reset_after GRU, gates [z | r | n], h in Q15      */
    QRT_LAYER_MAXPOOL = 7,    /* y_c = max over a window of k frames, every stride frames */
    QRT_LAYER_ACT = 8,        /* sigmoid or tanh of requant(x) in Q16, y in Q15          */
    QRT_LAYER_KIND_END
} qrt_layer_kind;

typedef enum qrt_padding {
    QRT_PAD_VALID = 0,
    QRT_PAD_SAME = 1,         /* pad_left zeros before the first frame, pad_right after the
                                 last (Keras "same"; the record holds both, computed for T) */
    QRT_PAD_CAUSAL = 2        /* (k−1)·dilation zeros on the left (Keras "causal") */
} qrt_padding;

/* One requantization: real multiplier mult · 2^(shift − 31). */
typedef struct qrt_rq {
    int32_t mult;             /* Q31; normalized |mult| ∈ [2^30, 2^31) for full precision, or 0 */
    int32_t shift;            /* QRT_SHIFT_MIN … QRT_SHIFT_MAX */
} qrt_rq;

/* Bytes of one packed row of n levels in c-bit containers. */
#define QRT_ROW_BYTES(n, c) (((size_t)(n) * (size_t)(c) + 7u) / 8u)
/* The container of an N-bit weight: 1, 2, 4 or 8 (0 for N outside 1..8). */
unsigned qrt_container_bits(unsigned bits);

/* ---- model -------------------------------------------------------------------------- */

/* A loaded model: a view of a validated blob plus a few derived sizes (48 bytes on a 32-bit
 * target).
 * The blob is not copied: it must stay valid (and unchanged) as long as the model is used.
 * Treat the fields as read-only. */
typedef struct qrt_model {
    const uint8_t *blob;      /* the blob, 8-byte aligned */
    uint32_t size;            /* its length in bytes */
    uint32_t n_layers;
    uint32_t layers_off;      /* offset of the first layer record */
    uint32_t split;           /* first head layer (after the last-state GRU); n_layers if none */
    uint32_t seq_len;         /* T: frames per sequence for qrt_run */
    uint32_t n_features;      /* F: int32 values per input frame */
    uint32_t n_outputs;       /* logits per output */
    int32_t in_max;           /* input bound: qrt_run/qrt_stream_push clamp inputs to ±in_max */
    uint32_t state_words;     /* stream state (conv windows, GRU state, last output) */
    uint32_t buf_words;       /* each of the two ping-pong frame buffers */
    uint32_t aux_words;       /* conv gather (k·Cin) / sparse GRU pre-activations (4H) */
} qrt_model;

/* Validate a blob and set up *m. Checks, in order: arguments and 8-byte alignment of blob,
 * host byte order, length ≥ header + trailer, magic, version, header size, declared total
 * size == len, CRC-32 (every byte before the last 4), reserved fields, section offsets and
 * lengths, every layer record (kind, slot count and types, dimensions chained from the input,
 * parameters), every tensor slot (type, element count, 8-byte aligned, inside the data
 * section), every weight level (on its grid, padding bits zero), every requant shift, and the
 * int32 accumulator bound of every dot product: for each row, Σ|level|·A_in + |bias| < 2^31.
 * A failed load leaves *m zeroed and never reads outside [blob, blob + len). */
qrt_status qrt_model_load(qrt_model *m, const void *blob, size_t len);

/* Bytes of scratch qrt_run and a stream need (a multiple of 4; the scratch must be 4-byte
 * aligned). 0 for NULL. */
size_t qrt_scratch_size(const qrt_model *m);

/* Run a whole sequence: x (T, F) int32, already quantized at the input scale stored in the
 * blob (qrt_quantize_input in export/qrt_host.h does it on a host); values are clamped to ±in_max.
 * logits (n_outputs). Exactly qrt_stream_init + T × qrt_stream_push + qrt_stream_finish +
 * qrt_stream_logits. */
qrt_status qrt_run(const qrt_model *m, const int32_t *x, void *scratch, size_t scratch_size,
                   int32_t *logits);

/* Index of the largest of v[0..n) (the first one on ties); 0 for n = 0. */
size_t qrt_argmax(const int32_t *v, size_t n);

/* ---- streaming (always-on, frame by frame) ------------------------------------------
 * The model is split into a sequence part, run on every frame, and a head: the layers after
 * a GRU that returns only its last state (return_sequences = 0), run on demand by
 * qrt_stream_logits. A convolution keeps its last (k−1)·dilation + 1 frames; with valid
 * padding it emits its first output once it has seen that many frames, with causal padding
 * on the first frame (the window starts as zeros), with same padding once it has seen
 * span − pad_left frames (pad_left zeros start the window), then every `stride` frames; the
 * layers after it only run when it emits. Same padding's right-hand zeros belong to the end
 * of a sequence, which a stream never sees: qrt_stream_finish feeds them (so a same
 * convolution's outputs come pad_right frames late while streaming). A max pooling layer
 * emits like a valid convolution. After the T frames of a sequence and qrt_stream_finish,
 * qrt_stream_logits gives bit for bit what qrt_run gives (without same padding finish does
 * nothing). Without a last-state GRU, the logits are the output of the last layer for the
 * latest frame that reached it. */
typedef struct qrt_stream {
    const qrt_model *model;
    int32_t *mem;             /* the caller's scratch (qrt_scratch_size bytes) */
    uint32_t frames;          /* frames pushed since init or reset */
    uint32_t emitted;         /* outputs that reached the end of the sequence part */
} qrt_stream;

/* Attach scratch and reset. The scratch holds the whole stream state: keep it untouched
 * between calls. */
qrt_status qrt_stream_init(qrt_stream *s, const qrt_model *m, void *scratch, size_t scratch_size);
/* Forget all frames: zero the GRU states and conv windows. */
qrt_status qrt_stream_reset(qrt_stream *s);
/* Feed one frame of F int32 values (clamped to ±in_max). */
qrt_status qrt_stream_push(qrt_stream *s, const int32_t *frame);
/* End a sequence: feed every same-padded convolution, in layer order, its pad_right zero
 * frames (their outputs run through the layers after it). A no-op without same padding. The
 * stream is then at the end of a window: reset it before the next one. */
qrt_status qrt_stream_finish(qrt_stream *s);
/* Logits (n_outputs) for the frames pushed so far; QRT_ERR_NOT_READY before the first output
 * (a valid convolution not yet full). Does not change the stream state. */
qrt_status qrt_stream_logits(qrt_stream *s, int32_t *logits);

/* ---- kernels (used by the layers; public for tests and custom graphs) ----------------
 * Preconditions: |x[i]| ≤ 2^30, levels on their grid, and the exact result and every partial
 * sum within int32 (the loader proves this for every layer of a model). */

/* Σ_i w_i·x_i over a packed row of n levels. s1 uses masks and adds, no multiply (the sum of
 * the x with a set bit, pos, and of all x, tot: Σ ±x = pos − (tot − pos)); s2 sign-extends each
 * 2-bit field with a shift pair and multiplies (QRT_SMALL: a nonzero and a sign mask, no
 * multiply); s4 and s8 multiply. */
int32_t qrt_dot_s1(const uint8_t *w, const int32_t *x, size_t n);
int32_t qrt_dot_s2(const uint8_t *w, const int32_t *x, size_t n);
int32_t qrt_dot_s4(const uint8_t *w, const int32_t *x, size_t n);
int32_t qrt_dot_s8(const uint8_t *w, const int32_t *x, size_t n);
/* qrt_dot_s4 on int16 inputs (a compiled model's narrow activations, docs/runtime.md "Narrow
 * activations"): the same sum, checked against qrt_dot_s4_ref. */
int32_t qrt_dot16_s4(const uint8_t *w, const int16_t *x, size_t n);
/* Scalar twins: unpack each level with qrt_unpack_level and multiply-add. */
int32_t qrt_dot_s1_ref(const uint8_t *w, const int32_t *x, size_t n);
int32_t qrt_dot_s2_ref(const uint8_t *w, const int32_t *x, size_t n);
int32_t qrt_dot_s4_ref(const uint8_t *w, const int32_t *x, size_t n);
int32_t qrt_dot_s8_ref(const uint8_t *w, const int32_t *x, size_t n);
/* The dot product for container width c (1, 2, 4, 8), or NULL. */
typedef int32_t (*qrt_dot_fn)(const uint8_t *w, const int32_t *x, size_t n);
qrt_dot_fn qrt_dot_for(unsigned c);

/* a / b for b ≥ 1 by shift and subtract: ARMv6-M has no divide instruction, and the loader
 * and the sparse validator must not pull in libgcc's. */
uint32_t qrt_udiv32(uint32_t a, uint32_t b);

/* Level i of a packed row in c-bit containers (1, 2, 4, 8). */
int32_t qrt_unpack_level(const uint8_t *row, size_t i, unsigned c);

/* round_half_up(acc · mult · 2^(shift − 31)) = floor(acc·mult / 2^(31 − shift) + 1/2), the
 * exact 64-bit product rounded once, saturated to int32; shift ∈ [QRT_SHIFT_MIN, QRT_SHIFT_MAX].
 * qrt_requant uses 32-bit operations only (16-bit partial products: fast on ARMv6-M, which has
 * no long multiply), or the int64 form where QRT_HAVE_SMULL (ARMv7-M: one SMULL);
 * qrt_requant_ref is the int64 twin. They agree bit for bit. */
int32_t qrt_requant(int32_t acc, int32_t mult, int32_t shift);
int32_t qrt_requant_ref(int32_t acc, int32_t mult, int32_t shift);
/* The same for a 15-bit multiplier m ∈ [−2^15, 2^15), the shift as r = 15 − shift ∈ [1, 46]:
 * qrt_requant15(acc, m, 15 − shift) = qrt_requant(acc, m·2^16, shift) whenever that result
 * needs no saturation (|acc·m·2^−r| < 2^31: the caller's bound, not checked). Two 16×16
 * products, no 64-bit pair: 54 B instead of 104 on a Cortex-M0+. The exporter rounds every
 * multiplier it can to 15 significant bits (docs/runtime.md), and specialized compiled models
 * call this where their row bounds allow. */
int32_t qrt_requant15(int32_t acc, int32_t m, uint32_t r);

/* tanh and the logistic sigmoid of a Q16 input (any int32), result in Q15 (1.0 = 32768):
 * tanh ∈ [−32768, 32768], sigmoid ∈ [0, 32768]. A quartic on each of 8 segments (x ∈ [0, 2) in
 * halves, [2, 6) in units; an 80-byte table of integer coefficients fitted to this
 * evaluation), 1.0 beyond; σ(x) = (1 + tanh(x/2))/2. Max abs error ≈ 1.0 LSB (3.0e-5). */
int32_t qrt_tanh_q16(int32_t x);
int32_t qrt_sigmoid_q16(int32_t x);

#ifdef __cplusplus
}
#endif

#endif /* QRT_H */
