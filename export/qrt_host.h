/* qrt host helpers: the parts of the runtime that need floating point, for the exporter and
 * for evaluating an integer model on a PC (`qreg eval --int`). Not part of the device build
 * (never built for the device: export/ is host code); hosted C99, double precision. */
#ifndef QRT_HOST_H
#define QRT_HOST_H

#include <stddef.h>
#include <stdint.h>
#include "qrt.h"
#include "qrt_layer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Split a real multiplier into a Q31 multiplier and a shift for qrt_requant:
 * real ≈ mult · 2^(shift − 31), |mult| ∈ [2^30, 2^31) (normalized, relative error ≤ 2^-31).
 * real = 0 gives (0, 0). |real| < 2^-31 is denormalized at shift = −31 (mult may then be 0:
 * it rounds to round(real·2^62)); |real| ≥ 2^30, NaN or infinity give QRT_ERR_RANGE.
 * Negative reals give negative multipliers (BatchNorm with γ < 0, PReLU slopes). */
qrt_status qrt_quantize_multiplier(double real, int32_t *mult, int32_t *shift);
/* The real value a pair represents: mult · 2^(shift − 31). */
double qrt_rq_real(qrt_rq q);

/* What the host section of a loaded model says (QRT_ERR_FORMAT when the blob has none). */
typedef struct qrt_host_view {
    double in_scale;          /* real input (after standardization) = q · in_scale */
    double out_scale;         /* real logit = q · out_scale */
    int standardize;          /* 1: x is standardized as (x − mean[f]) / std[f] first */
    const char *generator;    /* NUL-terminated, inside the blob, e.g. "qreg 0.1.0" */
} qrt_host_view;
qrt_status qrt_host_view_get(const qrt_model *m, qrt_host_view *v);

/* Quantize n_frames frames of raw features x (n_frames, F) for qrt_run / qrt_stream_push:
 * q = clamp(round_half_away((x − mean)/std / in_scale), ±in_max), with the standardization
 * and scale stored in the blob. */
qrt_status qrt_quantize_input(const qrt_model *m, const float *x, size_t n_frames, int32_t *xq);
/* The integer input transform of every feature (out: F entries) for raw integer samples
 * (|raw| ≤ 32768) where one raw count is raw_scale model units (raw_scale > 0; the model's
 * units are those of its training data): see qrt_quantize_raw16 (runtime/qrt_layer.h).
 * QRT_ERR_RANGE when raw_scale is not positive and finite, one raw count is 2^30 input steps
 * or more, or a mean lies 2^29 raw counts or more from zero. *a_out (F, may be NULL) gets each
 * feature's a = raw_scale / (std · in_scale), for the error bound. */
qrt_status qrt_input_consts(const qrt_model *m, double raw_scale, qrt_inq *out, double *a_out);
/* Each feature's mean and std (1 and 0 without standardization), as stored (binary32). */
qrt_status qrt_input_standardization(const qrt_model *m, float *mean, float *std);

/* 1 if a weight matrix of the loaded model is stored sparse (needs qrt_sparse.c). */
int qrt_model_has_sparse(const qrt_model *m);
/* logits (n_outputs) · out_scale → out. */
qrt_status qrt_dequantize_output(const qrt_model *m, const int32_t *logits, float *out);

/* One tensor of a loaded model, for size reports. */
typedef struct qrt_tensor_info {
    const char *name;         /* "weights", "bias", "requant", "offset", "input_weights", … */
    unsigned bits;            /* weights: N (1..8); int32 vectors and requant pairs: 32 */
    unsigned container;       /* weights: 1, 2, 4, 8 bits per level in the blob; else 32 */
    size_t count;             /* elements (levels, int32 values, requant pairs) */
    unsigned encoding;        /* weights: qrt_wenc (0 dense, 1 bitmap, 2 run-length); else 0 */
    size_t bytes;             /* bytes in the blob, row padding included, alignment excluded */
    size_t dense_bytes;       /* weights: the bytes stored dense (zeros included); else = bytes */
    uint32_t offset;          /* absolute offset in the blob */
} qrt_tensor_info;

typedef struct qrt_layer_info {
    qrt_layer_kind kind;
    const char *kind_name;    /* "dense", "conv1d", "batchnorm", "relu", "prelu", "gru" */
    uint32_t n_in, n_out;
    uint32_t kernel, stride, dilation; /* conv1d */
    qrt_padding padding;      /* conv1d */
    int return_sequences;     /* gru */
    int32_t out_max;
    int head;                 /* runs once per sequence, after the last-state GRU */
    size_t n_tensors;         /* present tensors (absent optional ones are skipped) */
    qrt_tensor_info tensors[6];
    size_t record_bytes;      /* the layer record itself */
} qrt_layer_info;

/* Layer i (0 … n_layers − 1) of a loaded model. */
qrt_status qrt_layer_info_get(const qrt_model *m, size_t i, qrt_layer_info *out);

#ifdef __cplusplus
}
#endif

#endif /* QRT_HOST_H */
