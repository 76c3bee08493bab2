/* qrt builder — writes .qrt blobs and model.c/model.h for the device runtime (host only:
 * uses malloc, stdio and double). This header is the contract between the exporter (which
 * turns a trained float model into integers) and the runtime (which only ever sees integers).
 *
 * Typical use (error handling elided; every call returns a qrt_status):
 *
 *   qrt_builder *b;
 *   qrt_builder_input in = {.seq_len = 40, .n_features = 3, .in_max = 32767,
 *                           .in_scale = s_x, .mean = mean, .std = std};
 *   qrt_builder_new(&b, &in);
 *   qrt_builder_set_generator(b, "qreg 0.1.0");
 *   qrt_builder_add_conv1d(b, &conv);   // then _add_batchnorm, _add_relu, _add_gru, _add_dense
 *   qrt_builder_set_output_scale(b, s_logits);
 *   uint8_t *blob; size_t len;
 *   qrt_builder_finish(b, &blob, &len); // validated with qrt_model_load before it is returned
 *   qrt_builder_write_file(blob, len, "model.qrt");
 *   qrt_builder_write_c(blob, len, "bts", "model.c", "model.h", "qreg 0.1.0");
 *   free(blob); qrt_builder_free(b);
 *
 * ---- What the exporter computes (docs/runtime.md, "Exporter recipe") ----
 * Each activation tensor gets a real scale s (real = q·s, zero point 0) and a bound A (the
 * layer's out_max; |q| ≤ A ≤ 2^30). For a layer reading x (scale s_x, bound A_x) with weight
 * levels q_w at scale s_w (regularized N-bit: s_w = 1/M, M = 2^(N−1) − 1; 1-bit: s_w = 1;
 * unregularized 8-bit min-max: s_w = max|W|/127):
 *   accumulator scale   s_acc = s_x · s_w
 *   bias                round(b / s_acc)                          (int32)
 *   requant             qrt_quantize_multiplier(s_acc / s_y)      (per tensor or per channel)
 *   offset (optional)   round(o / s_y), |o_q| < 2^30              (added after requant)
 * and the runtime computes y = clamp(requant(Σ q_w·x + bias) + offset, ±A_y). The loader
 * rejects a layer unless, for every row, Σ|q_w|·A_x + |bias| ≤ 2^31 − 1 (qrt_check_accum):
 * choose A_x ≤ (2^31 − 1 − max|bias|) / qrt_l1_max(W). A_x = 32767 fits any 8-bit matrix with
 * K ≤ 258 inputs per row and a bias below 2^30.
 * BatchNorm after a conv1d/dense folds into it: requant real_c = s_acc·γ_c/σ_c / s_y and
 * offset_c = (β_c − γ_c·μ_c/σ_c) / s_y (σ_c = sqrt(var_c + ε)); elsewhere it is a layer of its
 * own with the same two parameters (s_acc replaced by s_x). PReLU: y = x (x ≥ 0) or
 * requant(x, α_c) (same scale in and out). GRU: x at (s_x, A_x); state h at Q15 (s = 2^-15,
 * A = 32768); gate pre-activations at Q16: rq_i = s_x·s_wi·2^16, rq_h = 2^-15·s_wh·2^16,
 * bi = round(b_i / (s_x·s_wi)), bh = round(b_h / (2^-15·s_wh)). */
#ifndef QRT_BUILDER_H
#define QRT_BUILDER_H

#include <stddef.h>
#include <stdint.h>
#include "qrt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qrt_builder qrt_builder;

/* A weight matrix of `rows` × `cols` levels, row-major, one row per output (y = W·x). */
typedef struct qrt_weights {
    unsigned bits;                 /* N = 1 … 8 */
    const int8_t *levels;          /* N = 1: ±1; N ≥ 2: |q| ≤ 2^(N−1) − 1 */
} qrt_weights;

typedef struct qrt_builder_input {
    uint32_t seq_len;              /* T: frames per sequence (1 for flat feature vectors) */
    uint32_t n_features;           /* F */
    int32_t in_max;                /* A_in: bound of the quantized input, 1 … 2^30 */
    double in_scale;               /* s_in > 0: real (standardized) input = q · s_in */
    const float *mean, *std;       /* F each (std > 0), or both NULL: applied by
                                      qrt_quantize_input before scaling */
} qrt_builder_input;

/* Dense: y (n_out) from x (n_in). */
typedef struct qrt_builder_dense {
    uint32_t n_in, n_out;
    qrt_weights w;                 /* (n_out, n_in) */
    const int32_t *bias;           /* (n_out) at s_acc, or NULL */
    const qrt_rq *rq;              /* n_rq pairs */
    uint32_t n_rq;                 /* 1 (per tensor) or n_out (per channel) */
    const int32_t *offset;         /* (n_out) at s_y, or NULL */
    int32_t out_max;               /* A_y, 1 … 2^30 */
} qrt_builder_dense;

/* Conv1D on (T, Cin) frames: y[t] (Cout) = W · [x[t·s], x[t·s + d], …, x[t·s + (k−1)·d]]
 * (valid), with (k−1)·d zero frames on the left for causal padding. The weight row of output
 * channel o is the window flattened tap-major: element j·Cin + c = Keras kernel[j, c, o]. */
typedef struct qrt_builder_conv1d {
    uint32_t n_in, n_out;          /* Cin, Cout */
    uint32_t kernel, stride, dilation; /* 1 … 255 each */
    qrt_padding padding;           /* QRT_PAD_VALID, QRT_PAD_CAUSAL or QRT_PAD_SAME (its zeros
                                      follow from the frames reaching the layer) */
    qrt_weights w;                 /* (Cout, kernel·Cin) */
    const int32_t *bias;
    const qrt_rq *rq;
    uint32_t n_rq;
    const int32_t *offset;
    int32_t out_max;
} qrt_builder_conv1d;

/* BatchNorm (inference): y_c = requant(x_c, rq_c) + offset_c. */
typedef struct qrt_builder_batchnorm {
    uint32_t n;                    /* channels */
    const qrt_rq *rq;              /* n_rq pairs: γ_c/σ_c · s_x/s_y */
    uint32_t n_rq;                 /* 1 or n */
    const int32_t *offset;         /* (n): (β_c − γ_c·μ_c/σ_c)/s_y, or NULL */
    int32_t out_max;
} qrt_builder_batchnorm;

/* PReLU: y_c = x_c for x_c ≥ 0, requant(x_c, rq_c) (the slope α_c) otherwise. */
typedef struct qrt_builder_prelu {
    uint32_t n;
    const qrt_rq *rq;              /* n_rq pairs: α_c (any sign, |α| < 2^30) */
    uint32_t n_rq;                 /* 1 or n */
    int32_t out_max;
} qrt_builder_prelu;

/* GRU, Keras reset_after=True, gates in row blocks [z | r | n]. The weight matrices are the
 * TRANSPOSES of Keras' kernel (F, 3H) and recurrent_kernel (H, 3H), one row per gate unit. */
typedef struct qrt_builder_gru {
    uint32_t n_in, units;          /* F, H */
    int return_sequences;          /* 0: last state only; the layers after it form the head */
    qrt_weights wi;                /* (3H, F) */
    qrt_weights wh;                /* (3H, H) */
    const int32_t *bi, *bh;        /* (3H) each at s_x·s_wi and 2^-15·s_wh, or NULL */
    const qrt_rq *rq_i;            /* n_rq_i pairs: s_x·s_wi·2^16 */
    uint32_t n_rq_i;               /* 1 or 3H */
    const qrt_rq *rq_h;            /* n_rq_h pairs: 2·s_wh */
    uint32_t n_rq_h;               /* 1 or 3H */
} qrt_builder_gru;

/* How qrt_builder_add_* stores the weight matrices added from now on:
 *   QRT_SPARSE_OFF     dense (the default)
 *   QRT_SPARSE_SMALL   the smallest of dense, bitmap and run-length (qrt_sparse_choose)
 *   QRT_SPARSE_FAST    run-length where it is smaller than dense, else dense: the fastest
 *                      rows on a Cortex-M0+ (bitmap rows are slower than dense below ~75 %
 *                      zeros; docs/sparse.md)
 * A blob with any sparse matrix is format version 2; without, version 1. */
enum { QRT_SPARSE_OFF = 0, QRT_SPARSE_SMALL = 1, QRT_SPARSE_FAST = 2 };
qrt_status qrt_builder_set_sparse(qrt_builder *b, int mode);

/* A new builder (*out NULL on error). The input description is copied. */
qrt_status qrt_builder_new(qrt_builder **out, const qrt_builder_input *in);
void qrt_builder_free(qrt_builder *b);
/* Stored in the host section, for qrt_dequantize_output (default 1). */
qrt_status qrt_builder_set_output_scale(qrt_builder *b, double out_scale);
/* Generator stamp in the host section, at most 31 bytes (default "qrt"). */
qrt_status qrt_builder_set_generator(qrt_builder *b, const char *generator);

/* Append a layer. Every array is copied (and weights packed) at the call. Each call checks its
 * own parameters (QRT_ERR_ARG for NULL arrays or zero sizes, QRT_ERR_RANGE for levels off the
 * grid, bad shifts or bounds, QRT_ERR_SHAPE when n_in differs from the previous layer's
 * output); on error the builder is unchanged. */
qrt_status qrt_builder_add_dense(qrt_builder *b, const qrt_builder_dense *p);
qrt_status qrt_builder_add_conv1d(qrt_builder *b, const qrt_builder_conv1d *p);
qrt_status qrt_builder_add_batchnorm(qrt_builder *b, const qrt_builder_batchnorm *p);
qrt_status qrt_builder_add_relu(qrt_builder *b, uint32_t n, int32_t out_max);
qrt_status qrt_builder_add_prelu(qrt_builder *b, const qrt_builder_prelu *p);
qrt_status qrt_builder_add_gru(qrt_builder *b, const qrt_builder_gru *p);
/* Max pooling over `pool` frames every `stride` (valid): scale and bound stay the input's. */
qrt_status qrt_builder_add_maxpool(qrt_builder *b, uint32_t n, uint32_t pool, uint32_t stride);
/* Sigmoid (tanh_ = 0) or tanh: rq = s_x·2^16 takes the input to Q16; the output is Q15
 * (s = 2^-15, A = 32768). */
qrt_status qrt_builder_add_act(qrt_builder *b, uint32_t n, int tanh_, qrt_rq rq);

/* Lay out the blob (header, layer records, tensors, host section, trailer with CRC-32) and
 * validate it with qrt_model_load: any error the loader finds (a layer that may overflow
 * int32, a sequence too short for the convolutions, ...) is returned here. *blob is malloc'd
 * (8-byte aligned); the caller frees it with free(). The builder can be finished again. */
qrt_status qrt_builder_finish(qrt_builder *b, uint8_t **blob, size_t *len);

/* Bytes the layout adds to the tensors themselves: header, records, alignment, host
 * section and trailer (known after finish). */
size_t qrt_builder_overhead(const qrt_builder *b);

/* Write blob bytes to a file (written to path.tmp, then renamed). */
qrt_status qrt_builder_write_file(const uint8_t *blob, size_t len, const char *path);

/* Write C sources for a blob: `c_path` defines
 *     const uint32_t <name>_blob[len/4]   (8-byte aligned, the blob's bytes in little-endian
 *                                          words: the device sees exactly the .qrt bytes)
 *     qrt_status <name>_load(qrt_model *m)   = qrt_model_load(m, <name>_blob, sizeof …)
 * and `h_path` declares them with <NAME>_BLOB_SIZE, <NAME>_SCRATCH_SIZE (bytes),
 * <NAME>_SEQ_LEN, <NAME>_N_FEATURES, <NAME>_N_OUTPUTS, <NAME>_GENERATOR. `name` must be a C
 * identifier; everything generated is const and cast-free; both files name `generator`.
 * The .c includes the .h by its base name; both include "qrt.h". */
qrt_status qrt_builder_write_c(const uint8_t *blob, size_t len, const char *name,
                               const char *c_path, const char *h_path, const char *generator);

/* Write a compiled model for a blob (export/qrt_codegen.c): `c_path` holds the blob's
 * device tensors as const arrays and the functions <name>_reset, <name>_push, <name>_logits,
 * <name>_run on caller memory of <NAME>_MEM_WORDS int32 words (the scratch layout of
 * qrt_stream), in the specialized form (QRT_CODEGEN_SPECIALIZED: each layer's loops inline,
 * its dimensions constants; export/qrt_codegen_spec.c); qrt_builder_write_compiled_ex can ask
 * for the descriptor form (const layer descriptors, qrt_layer.h, and calls of the generic
 * layers in straight line). `h_path` declares them with <NAME>_SEQ_LEN, _N_FEATURES, _N_OUTPUTS, _IN_MAX,
 * _MEM_WORDS, _GENERATOR. Link with qrt_kernels.c and qrt_layer.c only: no loader, no
 * interpreter, and the linker keeps just the kernels the model uses. The blob is validated
 * with qrt_model_load first (its error is returned); the result equals qrt_run bit for bit.
 * Both files are written atomically. */
qrt_status qrt_builder_write_compiled(const uint8_t *blob, size_t len, const char *name,
                                      const char *c_path, const char *h_path,
                                      const char *generator);

/* What a compiled model's header carries beyond the blob (every field optional). */
typedef struct qrt_codegen_meta {
    double raw_scale;              /* one raw input count = raw_scale model units (0: 1) */
    const char *const *class_names;/* n_outputs names in label order, or NULL ("0", "1", …) */
    const char *model_file;        /* the source model's file name, or NULL */
    const char *model_hash;        /* its SHA-256 in hex, or NULL */
    int form;                      /* qrt_codegen_form of the layer code */
} qrt_codegen_meta;

/* The form of a compiled model's layer code. Both compute the same bits. */
typedef enum qrt_codegen_form {
    /* every layer written out for its own dimensions, inline in NAME_push/_logits
     * (export/qrt_codegen_spec.c); the descriptor form for a layer kind it lacks */
    QRT_CODEGEN_SPECIALIZED = 0,
    /* const descriptors and calls of the generic layers (qrt_dense_run, qrt_gru_step, …) */
    QRT_CODEGEN_DESCRIPTORS = 1
} qrt_codegen_form;

/* qrt_builder_write_compiled, and: the class names (<name>_class_names, <NAME>_N_CLASSES),
 * the weight bit-widths per layer (<NAME>_WEIGHT_BITS), the source model's name and hash, and
 * — when the blob has a host section — the input transform: <name>_quantize_frame(const
 * int16_t *raw, int32_t *frame) (integers only: qrt_quantize_raw16 with the constants of
 * qrt_input_consts for meta->raw_scale; QRT_ERR_RANGE when they do not fit) and, when
 * <NAME>_FLOAT_INPUT or QRT_HAVE_FLOAT is defined, <name>_quantize_frame_f(const float *x, …)
 * for input in model units. Every declaration is inside extern "C" for C++. */
qrt_status qrt_builder_write_compiled_ex(const uint8_t *blob, size_t len, const char *name,
                                         const char *c_path, const char *h_path,
                                         const char *generator, const qrt_codegen_meta *meta);

/* ---- helpers for the exporter and the tests ---- */

/* Pack rows × cols levels at bit-width `bits` (1 … 8) into dst (rows · QRT_ROW_BYTES(cols, c)
 * bytes, c = qrt_container_bits(bits)); returns the bytes written, 0 if a level is off the
 * grid or the arguments are invalid. Low bits first, rows padded with zero bits. */
size_t qrt_pack_rows(uint8_t *dst, const int8_t *levels, size_t rows, size_t cols, unsigned bits);
/* max over rows of Σ_j |level| (0 on invalid arguments). */
int64_t qrt_l1_max(const int8_t *levels, size_t rows, size_t cols);
/* The loader's accumulator check for one matrix: Σ|q|·amax + |bias_r| ≤ 2^31 − 1 for every row
 * (bias may be NULL): QRT_OK or QRT_ERR_RANGE. */
qrt_status qrt_check_accum(const int8_t *levels, size_t rows, size_t cols, const int32_t *bias,
                           int32_t amax);

#ifdef __cplusplus
}
#endif

#endif /* QRT_BUILDER_H */
