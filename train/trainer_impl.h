/* Internal to the trainer: the training loop's state (train/trainer.c) shared with its
 * checkpoints (train/checkpoint.c). */
#ifndef QREG_TRAINER_IMPL_H
#define QREG_TRAINER_IMPL_H

#include "hist_log.h"
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/train.h"

/* What a finished stage leaves for the report (and the checkpoint). */
typedef struct stage_result {
    double best_epoch, val_accuracy, fq_val_accuracy;
} stage_result;

typedef struct trainer {
    const qr_train_config *c;    /* the stage's config (the run's without stages) */
    const qr_train_config *root; /* the run's config */
    size_t stage_no, stages, epoch0; /* 0-based stage, their count, epochs of earlier stages */
    stage_result *sr;            /* (stages) the run's, filled as stages finish */
    const qr_split_data *d;
    qr_model *m;
    qr_graph *g;
    const qr_quant_plan *plan;   /* the model's own copy (carries α), or NULL */
    int quantizing;
    double t_final;              /* the schedule's clock: epochs or steps */
    qr_node *loss;               /* what training minimizes (KD or CE) */
    float *w, *gw;
    size_t n_tr, n_all, batch, batches, row, classes;
    qr_optim *opt;
    size_t *order;               /* the current shuffle of the training samples */
    float *stage, *best, *save, *decay, *best_alpha, *best_alphas, *teacher;
    float *rates;                /* dropout_off: every node's fp[0] before it was set to 0 */
    qr_quant_stat *stats;
    qr_buf log, qlog, plog, jlog; /* jlog: JSON lines, kept even without a path */
    qr_hist_log *hist;
    qr_quant_ste *ste;
    qr_pruner *pruner;
    qr_rng shuffle;
    /* progress: `epoch` is in progress with `next_batch` batches done (0: not shuffled yet) */
    size_t epoch, next_batch, step, correct, seen;
    double sum_loss, penalty, best_acc, t0;
    double lr, epoch_t0;         /* the last step's learning rate; this epoch's start time */
    /* early stopping (Keras' EarlyStopping): best monitored value, epochs without improving
     * on it by more than min_delta, and the epoch that stopped the stage (0: none) */
    double es_best;
    size_t es_wait, stopped;
    qr_train_result r;
    uint64_t fingerprint;
} trainer;

/* Monotonic seconds. */
double qr_trainer_now(void);
/* Write a buffer atomically (QR_ERR_NOMEM if it ran out of memory while it was filled). */
qr_status qr_trainer_write_buf(qr_buf *b, const char *path, qr_error *err);

/* A fingerprint of everything a checkpoint must agree with to be resumed. */
uint64_t qr_trainer_fingerprint(const qr_train_config *c, const qr_split_data *d, size_t n_all);
qr_status qr_trainer_save_checkpoint(trainer *t, qr_error *err);
qr_status qr_trainer_load_checkpoint(trainer *t, qr_error *err);
/* The stage index a checkpoint was written in (its header; the rest is checked on load). */
qr_status qr_trainer_checkpoint_stage(const char *path, size_t stages, size_t *stage,
                                      qr_error *err);

#endif
