/* qreg — training: a JSON config (data, model, optimizer, training, output), the training
 * loop that keeps the best model on the validation split, and evaluation. The library
 * reports progress through a callback and never prints. Format of the config: docs/config.md. */
#ifndef QREG_TRAIN_H
#define QREG_TRAIN_H

#include <signal.h>
#include "qreg/common.h"
#include "qreg/data.h"
#include "qreg/model.h"
#include "qreg/optim.h"
#include "qreg/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A learning-rate schedule ("optimizer.schedule", docs/optimizers.md#learning-rate-schedules):
 * the learning rate of every optimizer step is a pure function of the epoch and the batch
 * within it, so a resumed run sets the same rates. A linear warm-up over the first
 * warmup_epochs (per step, from lr·warmup_start) is followed by the decay, whose clock starts
 * at the end of the warm-up and advances per epoch or (per_step) per optimizer step. */
typedef enum qr_lr_kind {
    QR_LR_CONSTANT = 0, /* lr */
    QR_LR_STEP,         /* lr·gamma^floor(d/every) (PyTorch StepLR, Keras staircase decay) */
    QR_LR_EXPONENTIAL,  /* lr·gamma^(d/every) (PyTorch ExponentialLR, Keras ExponentialDecay) */
    QR_LR_COSINE        /* min_lr + (lr − min_lr)·(1 + cos(π·d/D))/2 (CosineAnnealingLR) */
} qr_lr_kind;

typedef struct qr_lr_schedule {
    qr_lr_kind kind;
    int per_step;         /* the decay's clock d: 0 epochs (default), 1 optimizer steps */
    size_t warmup_epochs; /* linear warm-up length (0: none); always applied per step */
    double warmup_start;  /* the warm-up's first step runs at lr·warmup_start (default 0) */
    double every;         /* step, exponential: d units per decay by gamma (default 1) */
    double gamma;         /* step (default 0.1), exponential (required): factor in (0, 1] */
    double min_lr;        /* cosine: the rate at the end of the run (default 0) */
} qr_lr_schedule;

/* A constant schedule without warm-up (the default: the optimizer's learning_rate). */
QR_API void qr_lr_schedule_default(qr_lr_schedule *s);
/* The learning rate of the optimizer step at 1-based `epoch`, 0-based `batch` of
 * `batches` per epoch, in a run (or stage) of `epochs` epochs starting at `lr`. */
QR_API double qr_lr_at(const qr_lr_schedule *s, double lr, size_t epoch, size_t batch,
                       size_t batches, size_t epochs);
/* QR_OK if the schedule fits a run of `epochs` epochs at `lr`; else QR_ERR_CONFIG with the
 * reason in *why (a static string naming the key). */
QR_API qr_status qr_lr_schedule_check(const qr_lr_schedule *s, double lr, size_t epochs,
                                      const char **why);

/* Early stopping ("training.early_stopping"): stop when the quantity that selects the kept
 * epoch (fake-quantized validation accuracy under a plan, else validation accuracy) has not
 * improved by more than min_delta for `patience` epochs (Keras EarlyStopping, mode "max"). */
typedef struct qr_early_stopping {
    size_t patience;      /* 0: off */
    double min_delta;     /* >= 0 */
} qr_early_stopping;

/* One stage of a staged recipe (the config's "stages" list, docs/config.md): trained from the
 * previous stage's kept model with its own epochs, optimizer, quantization and pruning. */
typedef struct qr_train_stage {
    size_t epochs;
    qr_optim_config optim;
    qr_lr_schedule lr_schedule; /* "optimizer.schedule" of this stage */
    qr_early_stopping early_stopping; /* "early_stopping" of this stage (or training's) */
    float clip_norm, weight_decay;
    qr_quant_plan quant;     /* n = 0: no plan in this stage */
    int bn_reestimate;       /* "quantize.bn_reestimate" of this stage */
    qr_prune_plan prune;     /* n = 0: no pruning in this stage */
    int dropout_off;         /* "dropout": false: every dropout layer is off in this stage */
} qr_train_stage;

typedef struct qr_train_config {
    /* data: paths resolved against the config file's directory */
    char *train_path, *val_path, *test_path; /* val/test NULL: split from train */
    char *label_name;        /* or NULL: label_index */
    long label_index;        /* default -1: last column */
    int header;              /* 1, 0, -1 (detect) */
    size_t t, f;             /* "sequence": [t, f]; 0, 0 = flat */
    double val_split, test_split;
    int standardize;         /* default 1 */
    struct qr_audio_options *audio; /* "data.audio" (docs/audio.md) or NULL: CSV files */
    /* model */
    qr_model_spec model;     /* t, f, n_classes filled in from the data */
    /* optimizer */
    qr_optim_config optim;
    qr_lr_schedule lr_schedule; /* "optimizer.schedule": constant by default */
    float clip_norm;         /* 0: off */
    float weight_decay;      /* L2 factor on kernels (Keras' l2), 0: off */
    /* training */
    size_t epochs, batch_size; /* with stages: epochs is their sum */
    uint64_t seed;
    int threads;
    qr_early_stopping early_stopping; /* "training.early_stopping": patience 0 = off */
    char *init_path;         /* "training.init": start from this trained model (warm start) */
    double reference_accuracy; /* "training.reference_accuracy" (e.g. the 8-bit model's), or NAN */
    /* distillation ("distill" section): a teacher model or a file of its logits */
    int distill;
    char *teacher_path;      /* a .qrm model, run once over the training data */
    char *teacher_logits_path; /* CSV, one row per row of the training file, one column per class */
    float kd_alpha, kd_temperature;
    int kd_t2;
    /* quantization: a plan when the config has a "quantize" section (quant.n = 0 otherwise) */
    qr_quant_plan quant;
    int dropout_off;         /* train with every dropout and spatial dropout layer at rate 0
                                (a stage's "dropout": false; the model keeps its rates) */
    int bn_reestimate;       /* "quantize.bn_reestimate": re-estimate batch-norm statistics of
                                the kept model with its fake-quantized weights */
    int act_bits;            /* "quantize.activations.bits": fake-quantize activations (0: off) */
    float act_momentum;      /* "quantize.activations.momentum": the ranges' moving max */
    /* pruning: a plan when the config has a "prune" section (prune.n = 0 otherwise) */
    qr_prune_plan prune;
    /* "stages": run in order, each from the previous stage's kept model (n_stages = 0: one
     * run as set above; with stages, quant is a copy of the last stage's plan) */
    size_t n_stages;
    qr_train_stage *stages;
    /* checkpoints: written atomically every checkpoint_every epochs (0: never) and on a stop
     * request; default path: the model path with ".ckpt" appended */
    char *checkpoint_path;
    size_t checkpoint_every;
    /* output: paths as given (relative to the working directory) */
    char *model_path, *log_path;
    char *log_jsonl_path;    /* the per-epoch log as JSON lines, or NULL */
    char *quant_log_path;    /* per epoch and matrix: reg value, S(t), share near a minimum */
    char *hist_path;         /* weight histograms of regularized matrices (JSON), or NULL */
    char *prune_log_path;    /* per epoch and pruned matrix: target and actual sparsity */
    size_t *hist_epochs;     /* epochs to snapshot (0 = initial weights); NULL: 0, T/4, T/2, T */
    size_t n_hist_epochs;
    char *source;            /* the config file (for messages) */
} qr_train_config;

/* Every default the JSON loader gives a config (docs/config.md): the last column as label,
 * header detected, 15 % validation and 15 % test split, standardization on, Adam with
 * Keras' defaults, 20 epochs of batch 32, seed 1, 1 thread, distillation α 0.5, T 4 with
 * T²; no model, no data, no output paths. Checkpoints: checkpoint_every 0 (none), as there
 * is no checkpoint path (the loader derives one from the model path and sets 1); set both
 * for checkpoints. For configs built in C: set train_path (and the other strings) to
 * malloc'd copies and model.layers to a malloc'd array, which qr_train_config_free frees;
 * examples/c/train_mlp.c shows one. */
QR_API void qr_train_config_init(qr_train_config *c);
/* Read and check a config file. Unknown keys, wrong types and bad values are QR_ERR_CONFIG
 * naming the key ("quickstart.json: 'training.epochs' must be an integer"). */
QR_API qr_status qr_train_config_load(const char *path, qr_train_config *c, qr_error *err);
QR_API void qr_train_config_free(qr_train_config *c);
/* Set checkpoint_path to model_path + ".ckpt" (after changing model_path). */
QR_API qr_status qr_train_config_default_checkpoint(qr_train_config *c);

/* Datasets of a config: loaded, split (seeded, stratified) and sharing one class list. */
typedef struct qr_split_data {
    qr_dataset train, val, test; /* val.n or test.n may be 0 */
    size_t n_source;             /* data rows of the training file (before any split) */
} qr_split_data;
QR_API qr_status qr_train_load_data(const qr_train_config *c, qr_split_data *d, qr_error *err);
QR_API void qr_split_data_free(qr_split_data *d);

/* Teacher logits for distillation, one row (n_classes floats) per training sample of d, in
 * d->train's order: from the config's teacher model (run in evaluation mode) or logits file
 * (validated: a row per training-file row, a column per class, finite numbers). Caller frees. */
QR_API qr_status qr_teacher_logits(const qr_train_config *c, const qr_split_data *d,
                                   float **logits, qr_error *err);

/* Loss and accuracy of a model on a dataset (evaluation mode). pred (d->n) may be NULL. */
QR_API qr_status qr_evaluate(qr_model *m, const qr_dataset *d, double *loss, double *accuracy,
                             int32_t *pred);

typedef enum qr_train_event {
    QR_TRAIN_BATCH,   /* after each optimizer step */
    QR_TRAIN_EPOCH,   /* after each epoch's validation */
    QR_TRAIN_STAGE,   /* a stage of a staged config has its kept model: epoch = the kept
                         epoch (0: the stage's starting weights), val_accuracy and
                         fq_val_accuracy of the kept model (after batch-norm re-estimation) */
    QR_TRAIN_EARLY_STOP /* after QR_TRAIN_EPOCH of the epoch early stopping ends the run (or
                         stage) with: epoch = that epoch, epochs = the planned ones */
} qr_train_event;

typedef struct qr_train_progress {
    qr_train_event event;
    double penalty;                /* quantization penalty λ·S·ΣReg of the last step (0: none) */
    double fq_val_accuracy;        /* QR_TRAIN_EPOCH with a plan: fake-quantized; else NAN */
    size_t epoch, epochs;          /* 1-based */
    size_t batch, batches;         /* 1-based within the epoch */
    double loss, accuracy;         /* running means over the epoch so far (training) */
    double val_loss, val_accuracy; /* QR_TRAIN_EPOCH with a validation split; else NAN */
    int improved;                  /* this epoch is the best so far */
    double seconds;                /* since training started */
    size_t stage, stages;          /* 1-based stage of a staged config; 1 of 1 otherwise */
    double lr;                     /* the learning rate of the last optimizer step */
    double epoch_seconds;          /* time of this epoch (so far, for QR_TRAIN_BATCH) */
    size_t run_epoch, run_epochs;  /* epoch numbered over all stages, and their total */
} qr_train_progress;

typedef void (*qr_progress_fn)(void *user, const qr_train_progress *p);

typedef struct qr_train_result {
    size_t best_epoch;             /* epoch whose weights were kept */
    double val_loss, val_accuracy; /* of the kept weights (NAN without validation) */
    double test_loss, test_accuracy; /* NAN without a test split */
    /* with a quantization plan: the same for the fake-quantized weights, else NAN */
    double fq_val_accuracy, fq_test_accuracy;
    double seconds;
    size_t stopped_epoch;          /* early stopping ended the (last) stage after this epoch,
                                      numbered over all stages; 0: every epoch ran */
} qr_train_result;

/* Train a model on prepared data. On success *out is the trained model (best validation
 * accuracy — of the fake-quantized weights when the config has a quantization plan; the
 * last epoch without validation data) with classes, standardization and plan set.
 * With c->init_path the run starts from that model's parameters, batch-norm statistics and
 * standardization (a warm start; names and shapes are checked, QR_ERR_SHAPE naming the first
 * mismatch), its starting weights count as epoch 0 among the candidates to keep, and 0
 * epochs are allowed (the model as loaded, under the config's plan). With stages, each stage
 * starts from the previous one's kept model; the result is the last stage's.
 * A non-finite loss stops training with QR_ERR_NUMERIC naming epoch and step. */
QR_API qr_status qr_train(const qr_train_config *c, const qr_split_data *d, qr_progress_fn fn,
                          void *user, qr_model **out, qr_train_result *res, qr_error *err);

/* Control of a training run beyond the config. */
typedef struct qr_train_control {
    int resume;                  /* continue from the config's checkpoint */
    /* polled at every batch boundary: when it becomes nonzero (a SIGINT handler sets it),
     * training writes a checkpoint and returns QR_ERR_STATE ("interrupted") */
    volatile sig_atomic_t *stop;
} qr_train_control;

/* Before a long run: every output path of the config (model, checkpoint, logs) can be
 * written — a temporary file is created next to each and removed, as the atomic writes at
 * the end will — and, with `resume`, the checkpoint exists. QR_ERR_IO or QR_ERR_STATE naming
 * the path and its role; nothing is left behind. qr_train_ex calls it first. */
QR_API qr_status qr_train_check_outputs(const qr_train_config *c, int resume, qr_error *err);

/* qr_train with checkpoints, resume and stop requests (ctl may be NULL). A resumed run
 * produces bit for bit the model an uninterrupted run with the same config, seed and thread
 * count produces. A checkpoint written for another config, seed, epoch count or data set is
 * refused (QR_ERR_STATE). */
QR_API qr_status qr_train_ex(const qr_train_config *c, const qr_split_data *d,
                             const qr_train_control *ctl, qr_progress_fn fn, void *user,
                             qr_model **out, qr_train_result *res, qr_error *err);

/* ---- mixed-precision search (qreg search, docs/quantization.md) ------------------------ */

/* Sensitivity of each weight matrix of m (trained) to rounding: for matrix i (plan order, as
 * qr_quant_plan_init lists them) and width widths[k], the validation loss and accuracy when
 * only matrix i is rounded to that width (on a least-squares grid scale, per channel for a
 * kernel feeding a batch norm) and every other matrix by 8-bit min-max PTQ, minus those of
 * the all-8-bit model (*base_loss, *base_acc). dloss and dacc hold n_matrices × nw values.
 * m's weights are left as they were. */
QR_API qr_status qr_search_sensitivity(qr_model *m, const qr_dataset *val, const int *widths,
                                       size_t nw, double *base_loss, double *base_acc,
                                       double *dloss, double *dacc, qr_error *err);

/* One width per matrix (choice[i] ∈ widths) minimizing Σ_i cost[i·nw + k_i] subject to
 * fixed_bytes + Σ_i counts[i]·width_i / 8 ≤ budget (the thesis' byte accounting: fixed_bytes
 * are the 32-bit biases, batch-norm and PReLU parameters). Exact (a Pareto-frontier dynamic
 * program over the weight bits). *bytes gets the plan's size, *predicted its summed cost.
 * QR_ERR_CONFIG with a message giving the smallest possible size when even every matrix at
 * the narrowest width exceeds the budget. */
QR_API qr_status qr_search_choose(const size_t *counts, size_t n, const int *widths, size_t nw,
                                  const double *cost, double fixed_bytes, double budget,
                                  int *choice, double *bytes, double *predicted, qr_error *err);

/* The plan qreg search trains: matrix i (qr_quant_plan_init's order) at choice[i] bits by STE
 * on a learned grid scale, per channel for every matrix with per_channel, else for a kernel
 * feeding a batch norm ("auto"); choice[i] = 0 leaves matrix i off the plan (float while
 * training, 8-bit min-max when fake-quantized). */
QR_API qr_status qr_search_plan(const qr_model_spec *spec, const int *choice, int per_channel,
                                qr_quant_plan *p);

/* Refuse a budget below the narrowest plan (every matrix at the narrowest of widths):
 * QR_ERR_CONFIG with a message giving that plan's size. */
QR_API qr_status qr_search_check_budget(const size_t *counts, size_t n, const int *widths,
                                        size_t nw, double fixed_bytes, double budget,
                                        qr_error *err);

/* How a plan is measured (train/search_measure.c): the trained model (c->init_path) under the
 * plan, each matrix by STE on a least-squares (learned) grid scale — per output channel for
 * every matrix with per_channel, else only for kernels feeding a batch norm ("auto") — after
 * `epochs` epochs of STE fine-tuning by c's optimizer (0: rounded as it is), batch-norm
 * statistics re-estimated with the rounded weights if bn_reestimate; then its validation loss
 * and accuracy fake-quantized. */
typedef struct qr_search_options {
    int per_channel;
    int bn_reestimate;
    size_t epochs;
} qr_search_options;
QR_API void qr_search_options_init(qr_search_options *o);

/* The measurement of one plan: bits[i] for matrix i (qr_quant_plan_init's order), 0 for
 * "8-bit min-max PTQ, float while fine-tuning". c is used as the template of a warm-started
 * run (one stage, no files written) and left as it was. Deterministic for a given c->seed. */
QR_API qr_status qr_search_measure(qr_train_config *c, const qr_split_data *d,
                                   const qr_search_options *o, const int *bits, double *loss,
                                   double *acc, qr_error *err);

/* qr_search_sensitivity by qr_search_measure: the loss and accuracy with only matrix i at
 * widths[k] (the others at 0) minus those of every matrix at 0 (*base_loss, *base_acc). */
QR_API qr_status qr_search_sensitivity_ex(qr_train_config *c, const qr_split_data *d,
                                          const qr_search_options *o, size_t n, const int *widths,
                                          size_t nw, double *base_loss, double *base_acc,
                                          double *dloss, double *dacc, qr_error *err);

/* Greedy joint allocation: from every matrix at the widest of widths, lower by one candidate
 * width the matrix whose lowering costs the least measured loss per byte saved (each
 * candidate measured as a whole plan), until the plan is within the budget. choice gets the
 * widths, *bytes the size, *loss and *acc the final plan's measurement, *steps the lowerings
 * (any of them may be NULL). The budget is checked as by qr_search_check_budget. */
QR_API qr_status qr_search_greedy(qr_train_config *c, const qr_split_data *d,
                                  const qr_search_options *o, const size_t *counts, size_t n,
                                  const int *widths, size_t nw, double fixed_bytes, double budget,
                                  int *choice, double *bytes, double *loss, double *acc,
                                  size_t *steps, qr_error *err);

/* Exhaustive allocation: every plan of widths within the budget measured, the lowest loss
 * kept (for models with few matrices: refused, QR_ERR_CONFIG, beyond
 * QR_SEARCH_EXHAUSTIVE_MAX plans in all). visit (may be NULL) sees every measured plan. */
#define QR_SEARCH_EXHAUSTIVE_MAX 4096
typedef void (*qr_search_visit_fn)(void *user, const int *bits, double bytes, double loss,
                                   double acc);
QR_API qr_status qr_search_exhaustive(qr_train_config *c, const qr_split_data *d,
                                      const qr_search_options *o, const size_t *counts, size_t n,
                                      const int *widths, size_t nw, double fixed_bytes,
                                      double budget, int *choice, double *bytes, double *loss,
                                      double *acc, qr_search_visit_fn visit, void *user,
                                      qr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* QREG_TRAIN_H */
