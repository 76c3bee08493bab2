/* qreg — models: a list of layers (read from the config's "model" array), built into a
 * graph with initialized parameters, saved to and loaded from a versioned, checksummed file.
 *
 * Parameter names are "<layer>/<tensor>" with Keras' tensor names: dense and conv1d
 * "kernel", "bias"; gru "kernel" (input kernel), "recurrent_kernel", "bias", "recurrent_bias";
 * batchnorm "gamma", "beta", "moving_mean", "moving_variance"; prelu "alpha". */
#ifndef QREG_MODEL_H
#define QREG_MODEL_H

#include "qreg/common.h"
#include "qreg/graph.h"
#include "qreg/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

typedef enum qr_layer_kind {
    QR_LAYER_DENSE = 0,
    QR_LAYER_RELU,
    QR_LAYER_PRELU,
    QR_LAYER_SIGMOID,
    QR_LAYER_TANH,
    QR_LAYER_DROPOUT,
    QR_LAYER_CONV1D,
    QR_LAYER_BATCHNORM,
    QR_LAYER_SPATIAL_DROPOUT,
    QR_LAYER_GRU,
    QR_LAYER_GAP1D,
    QR_LAYER_MAXPOOL1D,
    QR_LAYER_FLATTEN,
    QR_LAYER_COUNT
} qr_layer_kind;

#define QR_NAME_MAX 40 /* layer name + "/" + tensor name fits a node name */

/* One layer's settings; fields a kind does not use are ignored. Built in C, start from
 * qr_layer_default(kind) (Keras' defaults, as the JSON parser uses) and set what differs:
 *     qr_layer_spec l = qr_layer_default(QR_LAYER_DENSE);
 *     l.units = 16;
 * A zero-initialized spec also works where zero has no meaning (an empty name, stride,
 * dilation, epsilon, pool size: qr_model_spec_complete fills them), but zero use_bias and
 * momentum are taken as given (no bias; batch-norm momentum 0). */
typedef struct qr_layer_spec {
    qr_layer_kind kind;
    char name[QR_NAME_MAX];  /* unique; default "<type>_<k>" */
    size_t units;            /* dense units (0 on the last dense: the class count), gru units,
                                conv1d filters */
    size_t kernel, stride, dilation; /* conv1d; maxpool1d uses kernel (pool) and stride */
    int padding;             /* conv1d: 0 valid, 1 same, 2 causal */
    int use_bias;            /* dense, conv1d, gru (default 1) */
    int return_sequences;    /* gru (default 0: last state) */
    float rate;              /* dropout, spatial_dropout */
    float momentum, epsilon; /* batchnorm (Keras: 0.99, 1e-3) */
    float alpha_init;        /* prelu initial slope (Keras: 0) */
} qr_layer_spec;

typedef struct qr_model_spec {
    size_t t, f;             /* input: t steps of f features (t = 1: flat vectors (B, f)) */
    size_t n_classes;
    size_t n_layers;
    qr_layer_spec *layers;   /* owned */
} qr_model_spec;

/* Stable type names used in JSON ("dense", "conv1d", "gru", ...). NULL when out of range. */
QR_API const char *qr_layer_kind_name(qr_layer_kind k);

/* A layer of this kind with every default the JSON parser gives it: stride and dilation 1,
 * use_bias 1, batch-norm momentum 0.99 and epsilon 1e-3, pool size and stride 2, no name
 * (filled in as "<type>_<k>"). */
QR_API qr_layer_spec qr_layer_default(qr_layer_kind kind);

/* Complete a spec in place, as the JSON parser does: empty names become "<type>_<k>" (k
 * counts layers of that type from 1), zero stride, dilation, epsilon and pool size their
 * defaults; names must then be unique, at most QR_NAME_MAX - 1 characters and without '/'
 * (QR_ERR_CONFIG naming "model[i]", prefixed with `where`, NULL: "model spec").
 * qr_model_spec_parse, qr_model_new and qr_quant_plan_init call it (the latter two on a
 * copy), so a spec built in C needs it only to read the filled-in names. */
QR_API qr_status qr_model_spec_complete(qr_model_spec *spec, const char *where, qr_error *err);

/* Parse a JSON array of layer objects into spec->layers (t, f, n_classes are set by the
 * caller). Unknown keys, wrong types and bad values are QR_ERR_CONFIG naming the path
 * ("model[2].units"). `where` prefixes messages (e.g. the config file name). */
QR_API qr_status qr_model_spec_parse(qr_model_spec *spec, const struct cJSON *layers,
                                     const char *where, qr_error *err);
/* The layer list as JSON (caller frees with cJSON_Delete). */
QR_API struct cJSON *qr_model_spec_to_json(const qr_model_spec *spec);
QR_API void qr_model_spec_free(qr_model_spec *spec);
QR_API qr_status qr_model_spec_copy(qr_model_spec *dst, const qr_model_spec *src);

typedef struct qr_model qr_model;

/* Build the graph of a spec for batches of up to max_batch samples: input "x" (B, t, f) or
 * (B, f), labels "y" (B), logits (B, n_classes), loss = softmax cross-entropy. Parameters
 * initialized as Keras does (Glorot-uniform kernels, orthogonal recurrent kernels, zero
 * biases, BN gamma 1 / beta 0 / moving variance 1), from `seed`. */
QR_API qr_status qr_model_new(const qr_model_spec *spec, size_t max_batch, uint64_t seed,
                              qr_model **out, qr_error *err);
QR_API void qr_model_free(qr_model *m);

/* Build options beyond qr_model_new. */
typedef struct qr_model_options {
    int distill;              /* add a teacher-logits input and the distillation loss */
    float kd_alpha;           /* weight of the hard-label cross-entropy, [0, 1] */
    float kd_temperature;     /* T > 0 */
    int kd_t2;                /* multiply the KL term by T² (Hinton; default on) */
    size_t max_params;        /* refuse (QR_ERR_FORMAT) a model with more parameters than
                                 this before allocating anything large (0: no limit) */
    size_t max_memory;        /* bytes the model may take (0: the library's limit,
                                 qr_set_memory_limit): refused with QR_ERR_NOMEM before
                                 anything large is allocated, naming the largest layer */
    size_t param_copies;      /* float copies of the parameters the caller will keep besides
                                 the graph (optimizer state, best weights), counted against
                                 the limit too */
    int act_bits;             /* fake-quantize the activation tensors the integer runtime
                                 stores (the input and each runtime layer's output, logits and
                                 Q15 outputs aside) on a grid of ±(2^(bits−1) − 1) steps
                                 (qr_fake_quant); 0: off. 2 … 16 */
    float act_momentum;       /* the ranges' moving max momentum, [0, 1) */
    const int32_t *grid_bound; /* (n_layers + 1) or NULL: a fixed fake quantizer of
                                 ±grid_bound[i] steps over ±grid_range[i] after layer i's
                                 output (i = n_layers: the input) where grid_bound[i] > 0; the
                                 integer model's grids (qr_export_fake_evaluate), for
                                 evaluation only */
    const float *grid_range;
} qr_model_options;

/* qr_model_new with options (NULL: the defaults of qr_model_new). With distill, the graph
 * has an input "teacher" (B, n_classes) for the teacher's logits and the training loss is
 * qr_kd_loss; qr_model_loss stays the plain cross-entropy (for evaluation). */
QR_API qr_status qr_model_new_ex(const qr_model_spec *spec, size_t max_batch, uint64_t seed,
                                 const qr_model_options *opt, qr_model **out, qr_error *err);
/* The teacher-logits input, or NULL when the model was not built for distillation. */
QR_API qr_node *qr_model_teacher(qr_model *m);
/* The loss training minimizes: the distillation loss, or the cross-entropy. */
QR_API qr_node *qr_model_train_loss(qr_model *m);

QR_API const qr_model_spec *qr_model_spec_of(const qr_model *m);
QR_API qr_graph *qr_model_graph(qr_model *m);
QR_API qr_node *qr_model_input(qr_model *m);
QR_API qr_node *qr_model_labels(qr_model *m);
QR_API qr_node *qr_model_logits(qr_model *m);
QR_API qr_node *qr_model_loss(qr_model *m);
/* Parameter count: trainable weights and biases, and non-trainable buffers. */
QR_API void qr_model_count_params(const qr_model *m, size_t *trainable, size_t *buffers);

/* Optional metadata carried in the model file: class names and input standardization. */
QR_API qr_status qr_model_set_classes(qr_model *m, const char *const *names, size_t n);
QR_API const char *const *qr_model_classes(const qr_model *m);
/* Per-feature mean and std (f values each), applied to raw inputs before the graph. */
QR_API qr_status qr_model_set_standardization(qr_model *m, const float *mean, const float *std);
QR_API int qr_model_standardization(const qr_model *m, const float **mean, const float **std);
/* The settings of the features the model was trained on, a JSON object as text (for audio:
 * qr_audio_features_describe in qreg/audio.h), stored in the model file (format version 2);
 * NULL: none (CSV data, or a file written before). set copies it (NULL clears); QR_ERR_ARG
 * when json is not a JSON object. */
QR_API qr_status qr_model_set_features(qr_model *m, const char *json);
QR_API const char *qr_model_features(const qr_model *m);

/* Run the model on `n` samples x (n, t·f) (raw: standardization is applied here), writing
 * logits (n, n_classes) and, if `pred` is not NULL, the arg-max class of each. Works in
 * evaluation mode in chunks of the graph's batch. */
QR_API qr_status qr_model_predict(qr_model *m, const float *x, size_t n, float *logits,
                                  int32_t *pred);

/* Calibration for integer export: run the model (evaluation mode, weight matrices rounded by
 * the model's quantization plan, or by 8-bit PTQ without one) over n raw samples and keep
 * the largest |value| of the standardized input and of each layer's output. Stored in the
 * model file. The float weights are left as they were. */
QR_API qr_status qr_model_calibrate(qr_model *m, const float *x, size_t n);
/* Activation fake quantization: its bits (0: none) and, with ranges, the trained range of
 * the tensor after layer i (i < n_layers) or of the input (i = n_layers) through *range; 0
 * (and *range untouched) when that tensor has no quantizer of its own. */
QR_API int qr_model_act_bits(const qr_model *m);
QR_API int qr_model_act_range(const qr_model *m, size_t i, float *range);
/* The calibration (n_layers + 1 values) or NULL. */
QR_API const float *qr_model_calibration(const qr_model *m);
/* Each layer's output node (i < n_layers). */
QR_API qr_node *qr_model_layer_output(qr_model *m, size_t i);

/* Warm start: copy every parameter and batch-norm statistic of `src` (a trained model) into
 * `dst` (a model built from a config), and src's input standardization when it has one. The
 * layer lists (names and types), input sizes and every parameter's name and shape must agree;
 * otherwise QR_ERR_SHAPE names the first mismatch, prefixed by `where` (the source file):
 * "init.qrm: parameter 'dense_1/kernel' has shape (5, 3), the config's model expects (5, 2)",
 * and dst is left unchanged. */
QR_API qr_status qr_model_init_from(qr_model *dst, const qr_model *src, const char *where,
                                    qr_error *err);

/* Re-estimate every batch norm's moving mean and variance over n raw samples x (n, t·f) with
 * the weight matrices fake-quantized by `plan` (NULL: the float weights): the exact
 * population mean and biased variance of each batch norm's input, in graph order, the graph
 * in evaluation mode (earlier batch norms use their new statistics). The float weights are
 * left as they were; on failure nothing changes. Details: model/bn_reestimate.c. */
QR_API qr_status qr_model_bn_reestimate(qr_model *m, const qr_quant_plan *plan, const float *x,
                                        size_t n, qr_error *err);

/* ---- a model's quantization and pruning plans (computed by quant/, qreg/quant.h) ---------- */

/* Every weight matrix of a model spec, unregularized at 8 bits. */
QR_API qr_status qr_quant_plan_init(qr_quant_plan *p, const qr_model_spec *spec);
/* Apply a config's "quantize" section to a plan made by qr_quant_plan_init. Matrices are
 * chosen by layer (a name, a type such as "gru", "all", or a list) and matrix ("kernel",
 * "input_kernel", "recurrent_kernel", "all"); later entries override earlier ones. Errors
 * (QR_ERR_CONFIG) name the key: an entry matching no matrix, bits outside 1..8, a 1-bit
 * regularizer with bits > 1 (or cos with 1), a negative λ, a bad schedule. The schedule's
 * t_final is `t_final` (epochs, or steps with "per": "step"). Format: docs/quantization.md. */
QR_API qr_status qr_quant_plan_parse(qr_quant_plan *p, const struct cJSON *section,
                                     const qr_model_spec *spec, double t_final,
                                     const char *where, qr_error *err);
/* A plan stored by qr_quant_plan_to_json, checked against the spec's matrices. */
QR_API qr_status qr_quant_plan_from_json(qr_quant_plan *p, const struct cJSON *j,
                                         const qr_model_spec *spec, const char *where,
                                         qr_error *err);
/* A model's plan (saved with it); NULL when it has none. Set copies the plan. */
QR_API qr_status qr_model_set_quant_plan(qr_model *m, const qr_quant_plan *p);
QR_API const qr_quant_plan *qr_model_quant_plan(const qr_model *m);
/* Parse a config's "prune" section: entries choose matrices as in "quantize" (layer, matrix)
 * and set final_sparsity, initial_sparsity (0), begin_step (0), pruning_steps (10) and
 * frequency (100). A matrix that `quant` puts at 1 bit is refused: zero is not on the ±1 grid. */
QR_API qr_status qr_prune_plan_parse(qr_prune_plan *p, const struct cJSON *section,
                                     const qr_model_spec *spec, const qr_quant_plan *quant,
                                     const char *where, qr_error *err);

/* Save to `path` atomically (temporary file + rename): format in docs/format.md. */
QR_API qr_status qr_model_save(const qr_model *m, const char *path, qr_error *err);
/* Load a model saved by qr_model_save and build it for batches of up to max_batch. The
 * header's shapes are checked against the library's memory limit (qr_set_memory_limit)
 * before anything is allocated; non-finite parameters are refused (QR_ERR_NUMERIC, naming
 * the tensor and element). */
QR_API qr_status qr_model_load(const char *path, size_t max_batch, qr_model **out,
                               qr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* QREG_MODEL_H */
