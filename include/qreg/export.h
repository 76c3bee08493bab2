/* qreg — export of a trained model to the integer device runtime (runtime/, prefix qrt_):
 * a validated .qrt blob and model.c / model.h, and evaluation of that integer model on the
 * host, so the accuracy measured here is the accuracy of what runs on the device.
 * Numerics and layout: docs/runtime.md, docs/format.md. */
#ifndef QREG_EXPORT_H
#define QREG_EXPORT_H

#include "qreg/common.h"
#include "qreg/data.h"
#include "qreg/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor's size: a qreg parameter (theory, docs/method.md §2.2) or a runtime tensor (actual). */
typedef struct qr_export_tensor {
    char name[64];          /* "gru_1/recurrent_kernel", or the runtime's "weights", "requant" */
    int bits;               /* per value */
    size_t count;           /* values */
    double bytes;
    int encoding;           /* actual weights: 0 dense, 1 bitmap, 2 run-length (docs/sparse.md) */
    double dense_bytes;     /* actual weights: the bytes stored dense, zeros included */
} qr_export_tensor;

#define QR_EXPORT_MAX_TENSORS 12

/* One runtime layer of an export, with the qreg layers it came from and its sizes. */
typedef struct qr_export_layer {
    char from[96];          /* "conv1d_1 + batchnorm_1" */
    char kind[16];          /* runtime layer: "conv1d", "dense", "gru", "batchnorm", ... */
    int bits;               /* weight bit-width (0: no weights) */
    double theory_bytes;    /* docs/method.md §2.2 accounting of the qreg parameters it holds */
    size_t actual_bytes;    /* its tensors in the blob (row padding included) */
    size_t n_theory, n_actual;
    qr_export_tensor theory[QR_EXPORT_MAX_TENSORS]; /* the qreg parameters it holds */
    qr_export_tensor actual[QR_EXPORT_MAX_TENSORS]; /* the runtime tensors it stores */
} qr_export_layer;

typedef struct qr_export_report {
    size_t n;
    qr_export_layer *layers;    /* owned; free with qr_export_report_free */
    double theory_bytes;        /* total, docs/method.md §2.2 */
    double baseline_bytes;      /* the same model with every weight at 8 bits */
    size_t tensor_bytes;        /* all tensors in the blob */
    size_t blob_bytes;          /* the whole blob: tensors + header, records, alignment, CRC */
    size_t scratch_bytes;       /* caller memory one inference needs (qrt_scratch_size) */
} qr_export_report;

QR_API void qr_export_report_free(qr_export_report *r);

/* Build the integer model of a trained, calibrated model (qr_model_calibrate; models trained
 * by qr_train are). Weight matrices are quantized as the model's plan says (8-bit min-max
 * without one); batch norm after a conv1d/dense folds into its per-channel requantization;
 * dropout is dropped; flatten or global average pooling over a sequence and the dense layer
 * after it become one convolution over the window (without a dense layer after them, an
 * identity window); max pooling, sigmoid, tanh and same padding have device layers of their
 * own. Sizes the runtime cannot hold (qr_export_check_spec) are QR_ERR_UNSUPPORTED naming
 * the layer. *blob is malloc'd (free()); rep may be NULL. */
QR_API qr_status qr_export_blob(qr_model *m, uint8_t **blob, size_t *len, qr_export_report *rep,
                                qr_error *err);

/* QR_OK if every layer of a spec (with t, f and n_classes set) fits the device runtime, else
 * QR_ERR_UNSUPPORTED naming the layer and the reason. Every layer kind runs on the device;
 * what is refused are sizes past the runtime's fields: a kernel, stride, dilation or pool
 * over 255, a flatten or average window over 255 frames, more than 65,535 values per frame,
 * an identity window (flatten/average with no dense layer after it) of more than 2^24 − 1
 * levels. `qreg train` refuses such a config before training, with the same message. */
QR_API qr_status qr_export_check_spec(const qr_model_spec *spec, qr_error *err);

/* Options of qr_export_blob_ex. */
typedef struct qr_export_options {
    int sparse;             /* 0: dense only (qr_export_blob); 1: each weight matrix in the
                               smallest of its dense, bitmap and run-length encodings (pruned
                               matrices; docs/sparse.md); 2: run-length where smaller than
                               dense, else dense (the fastest on a Cortex-M0+) */
    int act_bits;           /* activation grids (docs/runtime.md "Narrow activations"):
                               0 or 16: every bound at most 32767, so the device stores
                               activations as int16 (int8 where a bound is ≤ 127); 32: bounds up
                               to 2^24, int32 activations (the form before 2026-12-07);
                               2 … 15: post-training N-bit grids, ±(2^(N−1) − 1) steps from the
                               calibration, on the input and every runtime layer's output but
                               the logits and Q15 tensors. A model trained with
                               "quantize.activations" keeps its trained grids whatever the
                               setting (2 … 15 must then equal its bits) */
} qr_export_options;

/* For a model trained with activation quantization ("quantize.activations"): write into the
 * model the biases and batch-norm offsets the integer model represents (each bias rounded at
 * its accumulator scale, a batch norm's offset as the export stores it), so that the
 * fake-quantized model computes the integer model's constants too. Call after qr_quant_fake
 * (the weights rounded) and restore every parameter with the weights afterwards. QR_OK and
 * nothing changed for a model without trained ranges. */
QR_API qr_status qr_export_fake_constants(qr_model *m, qr_error *err);

/* The accuracy on d (and optionally each sample's prediction and its n_classes logits) of
 * the fake-quantized model on the grids the export with opt (NULL: the defaults) gives the
 * integer model: the weights rounded as deployed, the integer model's biases and offsets, and
 * each tensor the device rounds (the input, each runtime layer's output) rounded on the
 * export's bound A and scale s, in a model built for the evaluation; m is not changed. Fails
 * where the export would (the model needs its calibration). */
QR_API qr_status qr_export_fake_evaluate(qr_model *m, const qr_export_options *opt,
                                         const qr_dataset *d, double *accuracy, int32_t *pred,
                                         float *logits, qr_error *err);

/* qr_export_blob with options (opt NULL: the defaults, all 0). */
QR_API qr_status qr_export_blob_ex(qr_model *m, const qr_export_options *opt, uint8_t **blob,
                                   size_t *len, qr_export_report *rep, qr_error *err);

/* 1 if name can prefix the generated C identifiers (a letter or _, then letters, digits, _). */
QR_API int qr_export_name_ok(const char *name);

/* Write DIR/model.qrt, DIR/model.c and DIR/model.h (C identifier prefix `name`, all const,
 * 8-byte aligned, stamped with the qreg version), and the compiled model
 * DIR/model_compiled.c and .h (const tensors and straight-line layer calls: name_reset,
 * name_push, name_logits, name_run, name_quantize_frame; see qrt_builder_write_compiled_ex).
 * The files are replaced as a set (qr_export_write_ex): all written into a temporary directory
 * in DIR first, then renamed in, so a failed write (a full disk) leaves the previous export
 * whole; each header defines NAME_EXPORT_STAMP and its .c fails to compile (#error) against a
 * header of another export. Stale temporary directories of killed exports are removed
 * (docs/format.md). */
QR_API qr_status qr_export_write(const uint8_t *blob, size_t len, const char *dir,
                                 const char *name, qr_error *err);

/* Options of qr_export_write_ex (all zero: what qr_export_write writes). */
typedef struct qr_export_write_options {
    double raw_scale;                /* one raw input count = raw_scale model units, for
                                        NAME_quantize_frame (0: 1) */
    const char *const *class_names;  /* the outputs' names in label order, or NULL */
    const char *model_path;          /* the exported .qrm: its file name and SHA-256 go into
                                        model_compiled.h (NULL: none) */
    const char *runtime_dir;         /* non-NULL: also copy the runtime files the model needs
                                        from this directory (qrt.h, …; qrt_sparse.c only for a
                                        sparse model) and write qrt.mk and qrt.cmake */
    int compiled_descriptors;        /* 1: model_compiled.c as const layer descriptors and
                                        calls of the generic layers; 0: each layer's code
                                        specialized for its dimensions (smaller, faster) */
} qr_export_write_options;

/* qr_export_write with options. The files of one export are replaced as a set: everything is
 * written into a temporary directory inside DIR (created if missing), then moved in; on any
 * error nothing in DIR has changed (a DIR this call created is removed again). */
QR_API qr_status qr_export_write_ex(const uint8_t *blob, size_t len, const char *dir,
                                    const char *name, const qr_export_write_options *opt,
                                    qr_error *err);

/* For a model trained on audio (o: its stored feature settings, qr_audio_features_apply):
 * write DIR/NAME_audio.h and NAME_audio.c, what a firmware needs between the integer front
 * end (NAME_frontend.c, qr_ifront_write_c) and the compiled model: the clip's rate, length and
 * crop, the frames per clip, the front end's buffer and scratch sizes, and
 * NAME_quantize_features (the front end's Q16 outputs to the model's quantized input, the
 * standardization folded in: qrt_frontend_quantize). runtime_dir non-NULL: also copy
 * qrt_frontend.h/.c from there and add the audio sources to DIR/qrt.mk and DIR/qrt.cmake
 * (written by qr_export_write_ex with a runtime_dir first). @return QR_OK, QR_ERR_CONFIG
 * (the settings do not give the model's input shape), QR_ERR_NUMERIC (a mean beyond ±8192),
 * QR_ERR_IO, QR_ERR_ARG. */
struct qr_audio_options;
QR_API qr_status qr_export_write_audio(const uint8_t *blob, size_t len,
                                       const struct qr_audio_options *o, const char *dir,
                                       const char *name, const char *runtime_dir, qr_error *err);

/* Accuracy of the integer model in `blob` on a dataset (raw features: the blob standardizes
 * and quantizes them), with each prediction in pred (d->n, may be NULL). */
QR_API qr_status qr_export_evaluate(const uint8_t *blob, size_t len, const qr_dataset *d,
                                    double *accuracy, int32_t *pred, qr_error *err);
/* The same, and each sample's real logits in out (d->n × outputs, may be NULL): the integer
 * logits times the blob's output scale, as floats (qrt_dequantize_output). q16 = 1: the
 * features are the integer audio front end's (each value a Q16 integer / 65536, as the loader
 * makes them with "frontend": "int"), quantized as the device does (NAME_quantize_features:
 * qrt_frontend_quantize), so predictions and logits are a device's bit for bit; q16 = 0: the
 * host's float quantization (qrt_quantize_input). */
QR_API qr_status qr_export_evaluate_logits(const uint8_t *blob, size_t len, const qr_dataset *d,
                                           int q16, double *accuracy, int32_t *pred, float *out,
                                           qr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* QREG_EXPORT_H */
