/* Internal layout of a model (shared by model/, the exporter and the trainer). */
#ifndef QREG_MODEL_IMPL_H
#define QREG_MODEL_IMPL_H

#include <cjson/cJSON.h>
#include "qreg/model.h"

struct qr_model {
    qr_model_spec spec;     /* resolved: the last dense layer's units filled in */
    qr_graph *graph;
    qr_node *x, *y, *logits, *loss;
    qr_node *teacher, *kd;  /* distillation: teacher logits input and loss, or NULL */
    char **classes;         /* n_classes_named names, or NULL */
    size_t n_classes_named;
    float *mean, *std;      /* (f) standardization, or NULL */
    qr_quant_plan *quant;   /* bit-width and regularizer per weight matrix, or NULL */
    qr_node **layer_out;    /* (n_layers) each layer's output node */
    float *calib;           /* (n_layers + 1) max |activation|: the standardized input, then each
                               layer's output, measured with the weights rounded as exported;
                               NULL until calibrated */
    int act_bits;           /* activation fake quantization (0: none), qr_model_options */
    float act_momentum;
    qr_node **act_range;    /* (n_layers + 1) the range buffer of the quantizer after layer i
                               (the input's last), or NULL */
    char *features;         /* the input features' settings, a JSON object as text, or NULL */
};

/* Copy n raw samples into the input node and standardize them there. n <= batch. */
void qr_model_load_inputs(qr_model *m, const float *x, size_t n);

/* Whether the tensor after layer i of a spec has an activation quantizer of its own: the
 * output of each runtime layer (export/exporter.c's grouping) whose scale the exporter
 * chooses — a conv1d/dense with no batch norm after it, a batch norm, an identity window
 * (flatten or average pooling over frames with no dense layer after it) — but not the logits
 * (the last layer's output, dropout aside). */
int qr_model_act_quantized(const qr_model_spec *spec, size_t i);
/* Whether layer i's output is not the logits (dropout aside). */
int qr_model_before_logits(const qr_model_spec *spec, size_t i);

/* Mark in chosen[] (one flag per entry of `all`, a plan made by qr_quant_plan_init) the
 * matrices a config entry's "layer" (string or list) and "matrix" keys select; returns how
 * many, or QR_ERR_CONFIG naming `path` when the keys are malformed. */
qr_status qr_quant_select(const qr_model_spec *spec, const qr_quant_plan *all, const cJSON *entry,
                          unsigned char *chosen, size_t *count, const char *where,
                          const char *path, qr_error *err);

/* Whether weight matrix `matrix` ("layer/kernel") belongs to a conv1d or dense layer whose
 * next layer (dropout aside) is a batch norm: the exporter folds that batch norm into it, so
 * a per-channel grid scale costs nothing there ("granularity": "auto"). */
int qr_model_feeds_batchnorm(const qr_model_spec *spec, const char *matrix);

#endif
