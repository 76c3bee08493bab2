/* The training loop as an explicit state (struct trainer), so that it can be saved to a
 * checkpoint at any batch boundary and resumed bit for bit. Order of one step: gather the
 * batch, STE forward, forward, backward, STE backward, quantization penalty, L2, clipping,
 * pruning masks, optimizer step, pruning. A staged config runs one trainer per stage, each
 * warm-started from the previous stage's kept model; the checkpoint records the stage.
 * Checkpoint format: docs/format.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/crc32.h"
#include "lib/fileio.h"
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/export.h"
#include "qreg/train.h"
#include "train/trainer_impl.h"

double qr_trainer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Kernels (not biases, BN or PReLU parameters) get the L2 penalty, as Keras' kernel_regularizer. */
static int is_kernel(const qr_node *p)
{
    const char *slash = strrchr(p->name, '/');
    return slash && (strcmp(slash + 1, "kernel") == 0 || strcmp(slash + 1, "recurrent_kernel") == 0);
}

qr_status qr_trainer_write_buf(qr_buf *b, const char *path, qr_error *err)
{
    if (b->nomem)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    return qr_file_write_atomic(path, b->data, b->len, err);
}

static void put_str(qr_buf *b, const char *s)
{
    qr_buf_put(b, s, strlen(s));
}

/* Accuracy of the fake-quantized weights: quantize in place (with trained activation grids
 * also the integer model's biases), evaluate, restore. */
static qr_status fq_accuracy(trainer *t, const qr_dataset *d, double *acc)
{
    memcpy(t->save, t->w, t->n_all * sizeof *t->save);
    qr_quant_fake(t->plan, qr_model_graph(t->m));
    qr_status s = qr_export_fake_constants(t->m, NULL);
    if (s == QR_OK)
        s = qr_evaluate(t->m, d, NULL, acc, NULL);
    memcpy(t->w, t->save, t->n_all * sizeof *t->save);
    return s;
}

/* The kept model's fake-quantized accuracy on the integer model's activation grids (after the
 * calibration: qr_export_fake_evaluate), or with the weights rounded alone where the export
 * refuses the model. */
static qr_status fq_grid_accuracy(trainer *t, const qr_dataset *d, double *acc)
{
    qr_error e = {{0}};
    if (qr_export_fake_evaluate(t->m, NULL, d, acc, NULL, NULL, &e) == QR_OK)
        return QR_OK;
    return fq_accuracy(t, d, acc);
}

static qr_status log_quant(trainer *t, size_t epoch, double when, qr_error *err)
{
    if (t->qlog.len == 0)
        put_str(&t->qlog, "epoch,matrix,bits,regularizer,reg,S,share_near,mean_abs_err\n");
    qr_quant_stats(t->plan, qr_model_graph(t->m), when, t->t_final, t->stats);
    for (size_t i = 0; i < t->plan->n; i++) {
        char line[256];
        const qr_quant_matrix *q = &t->plan->m[i];
        snprintf(line, sizeof line, "%zu,%s,%d,%s,%.6g,%.6g,%.6f,%.6g\n", t->epoch0 + epoch,
                 q->name, q->bits,
                 !q->regularized ? "ptq8" : q->ste ? "ste" : qr_reg_name(q->reg),
                 t->stats[i].reg, t->stats[i].schedule, t->stats[i].share_near,
                 t->stats[i].mean_abs_err);
        put_str(&t->qlog, line);
    }
    return qr_trainer_write_buf(&t->qlog, t->c->quant_log_path, err);
}

/* ---- setup ---------------------------------------------------------------------------- */

static void trainer_free(trainer *t)
{
    qr_buf_free(&t->log);
    qr_buf_free(&t->qlog);
    qr_buf_free(&t->plog);
    qr_buf_free(&t->jlog);
    qr_pruner_free(t->pruner);
    qr_quant_ste_free(t->ste);
    qr_hist_log_free(t->hist);
    free(t->teacher);
    free(t->best_alpha);
    free(t->best_alphas);
    free(t->rates);
    free(t->stats);
    free(t->decay);
    free(t->save);
    free(t->best);
    free(t->stage);
    free(t->order);
    qr_optim_free(t->opt);
    qr_model_free(t->m);
}

/* A stage with "dropout": false: every dropout and spatial dropout node at rate 0 (no mask,
 * no random draw) until the stage ends; their rates are kept in t->rates to put back. */
static qr_status dropout_off(trainer *t, qr_error *err)
{
    if (!(t->rates = malloc((t->g->n_nodes + 1) * sizeof *t->rates)))
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory preparing training");
    for (size_t i = 0; i < t->g->n_nodes; i++) {
        qr_node *n = t->g->nodes[i];
        t->rates[i] = n->fp[0];
        if (n->op == QR_OP_DROPOUT || n->op == QR_OP_SPATIAL_DROPOUT)
            n->fp[0] = 0.0f;
    }
    return QR_OK;
}

/* A trainer for stage `stage` of `root` (c: that stage's config). `from`: the model to start
 * from (the warm-start file, or the previous stage's kept model; NULL: Keras initialization,
 * or a resume that reads everything from the checkpoint). `init_file`: the warm-start model,
 * whose standardization the run keeps. `carry`: the logs of earlier stages (moved in), or
 * NULL to start them. */
static qr_status trainer_init(trainer *t, const qr_train_config *c, const qr_train_config *root,
                              size_t stage, size_t stages, size_t epoch0, stage_result *sr,
                              const qr_split_data *d, const qr_model *from,
                              const qr_model *init_file, qr_buf *carry, qr_error *err)
{
    memset(t, 0, sizeof *t);
    t->c = c;
    t->root = root;
    t->stage_no = stage;
    t->stages = stages;
    t->epoch0 = epoch0;
    t->sr = sr;
    t->d = d;
    if (carry) {
        t->log = carry[0];
        t->qlog = carry[1];
        t->plog = carry[2];
        t->jlog = carry[3];
        memset(carry, 0, 4 * sizeof *carry);
    }
    t->r = (qr_train_result){.val_loss = NAN, .val_accuracy = NAN, .test_loss = NAN,
                             .test_accuracy = NAN, .fq_val_accuracy = NAN,
                             .fq_test_accuracy = NAN};
    const qr_dataset *tr = &d->train;
    /* a NaN or inf would poison the standardization and every batch it lands in (or hide
     * behind a ReLU): refuse it up front, naming the sample */
    size_t row = tr->t * tr->f;
    for (size_t i = 0; i < tr->n * row; i++)
        if (!isfinite(tr->x[i])) {
            size_t k = i / row;
            return qr_error_set(err, QR_ERR_NUMERIC, "training sample %zu (data row %zu), value "
                                "%zu, is not finite; nothing was trained or saved", k,
                                (tr->source_row ? tr->source_row[k] : k) + 1, i % row + 1);
        }
    qr_model_spec spec;
    qr_status s = qr_model_spec_copy(&spec, &c->model);
    if (s != QR_OK)
        return qr_error_set(err, s, "out of memory");
    spec.t = tr->t;
    spec.f = tr->f;
    spec.n_classes = tr->n_classes;
    t->batch = c->batch_size < tr->n ? c->batch_size : tr->n;
    t->batches = (tr->n + t->batch - 1) / t->batch;
    t->row = tr->t * tr->f;
    t->classes = tr->n_classes;
    /* training keeps 6 float copies of the parameters besides the graph: optimizer state
     * (2), best and saved weights, weight-decay mask, STE shadow */
    qr_model_options mopt = {.distill = c->distill, .kd_alpha = c->kd_alpha,
                             .kd_temperature = c->kd_temperature, .kd_t2 = c->kd_t2,
                             .param_copies = 6, .act_bits = root->act_bits,
                             .act_momentum = root->act_momentum};
    s = qr_model_new_ex(&spec, t->batch, root->seed + stage * 1000003u, &mopt, &t->m, err);
    qr_model_spec_free(&spec);
    if (s != QR_OK)
        return s;
    qr_model *m = t->m;
    t->g = m->graph;
    t->loss = qr_model_train_loss(m);
    const qr_quant_plan *plan = c->quant.n ? &c->quant : NULL;
    t->t_final = plan && plan->per_step ? (double)(c->epochs * t->batches) : (double)c->epochs;
    if (t->t_final < 1)
        t->t_final = 1; /* 0 epochs: a warm start evaluated as loaded */
    const char *why;
    if (c->epochs && qr_lr_schedule_check(&c->lr_schedule, c->optim.lr, c->epochs, &why))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: %s%s (%zu epochs)",
                            c->source ? c->source : "config", root->n_stages ? "stage's " : "",
                            why, c->epochs);
    if (c->early_stopping.patience && d->val.n == 0)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'training.early_stopping' needs validation "
                            "data (data.validation or data.validation_split > 0)",
                            c->source ? c->source : "config");
    t->lr = c->optim.lr;
    if (plan) {
        for (size_t i = 0; i < plan->n && c->epochs; i++)
            if (plan->m[i].regularized && qr_schedule_check(&plan->m[i].schedule, t->t_final))
                return qr_error_set(err, QR_ERR_CONFIG,
                                    "%s: the schedule of %s does not fit %g %s (step too large?)",
                                    c->source ? c->source : "config", plan->m[i].name, t->t_final,
                                    plan->per_step ? "steps" : "epochs");
        if ((s = qr_model_set_quant_plan(m, plan)) != QR_OK)
            return qr_error_set(err, s, "out of memory");
        t->plan = m->quant; /* the model's copy: it carries the grid scales α */
        t->quantizing = qr_quant_plan_active(t->plan);
    }
    qr_set_threads(c->threads);
    qr_model_set_classes(m, (const char *const *)tr->class_names, tr->n_classes);
    const float *imean, *istd;
    if (init_file) {
        /* the warm-start model's classes must be the data's, in the same order */
        const char *const *names = qr_model_classes(init_file);
        for (size_t i = 0; names && i < tr->n_classes &&
                           qr_model_spec_of(init_file)->n_classes == tr->n_classes; i++)
            if (strcmp(names[i], tr->class_names[i]) != 0)
                return qr_error_set(err, QR_ERR_SHAPE, "%s: class %zu is '%s', the data's is "
                                    "'%s'", root->init_path, i, names[i], tr->class_names[i]);
        /* its input standardization is part of what it learned: keep it */
        if (qr_model_standardization(init_file, &imean, &istd) &&
            (s = qr_model_set_standardization(m, imean, istd)) != QR_OK)
            return qr_error_set(err, s, "out of memory");
    } else if (c->standardize) {
        qr_standardizer st = {0};
        if ((s = qr_standardizer_fit(&st, tr)) == QR_OK)
            s = qr_model_set_standardization(m, st.mean, st.std);
        qr_standardizer_free(&st);
        if (s != QR_OK)
            return qr_error_set(err, s, "standardization failed");
    }
    if (from) {
        char where[64];
        snprintf(where, sizeof where, "stage %zu's kept model", stage);
        if ((s = qr_model_init_from(m, from, stage == 0 ? root->init_path : where, err)) != QR_OK)
            return s;
    }
    t->w = qr_graph_params(t->g, &t->n_tr, &t->n_all);
    t->gw = qr_graph_grads(t->g);
    t->opt = qr_optim_new(&c->optim, t->n_tr);
    t->order = malloc((tr->n + 1) * sizeof *t->order);
    t->stage = malloc((t->batch * t->row + 1) * sizeof *t->stage);
    t->best = malloc((t->n_all + 1) * sizeof *t->best);
    t->save = malloc((t->n_all + 1) * sizeof *t->save);
    t->decay = calloc(t->n_tr + 1, sizeof *t->decay);
    if (t->plan) {
        t->stats = calloc(t->plan->n + 1, sizeof *t->stats);
        t->best_alpha = calloc(t->plan->n + 1, sizeof *t->best_alpha);
    }
    if (!t->opt || !t->order || !t->stage || !t->best || !t->save || !t->decay ||
        (t->plan && (!t->stats || !t->best_alpha)))
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory preparing training");
    if (t->plan && (s = qr_quant_begin_training(m->graph, m->quant, &t->ste)) != QR_OK)
        return qr_error_set(err, s, "preparing quantization: %s", qr_strerror(s));
    for (size_t i = 0; t->plan && i < t->plan->n; i++)
        t->best_alpha[i] = t->plan->m[i].alpha;
    if (t->plan && t->plan->n_alphas) {
        if (!(t->best_alphas = malloc(t->plan->n_alphas * sizeof *t->best_alphas)))
            return qr_error_set(err, QR_ERR_NOMEM, "out of memory preparing quantization");
        memcpy(t->best_alphas, t->plan->alphas, t->plan->n_alphas * sizeof *t->best_alphas);
    }
    for (size_t i = 0; i < t->g->n_nodes; i++) {
        const qr_node *p = t->g->nodes[i];
        if (p->op == QR_OP_PARAM && p->trainable && is_kernel(p))
            for (size_t k = 0; k < p->max_size; k++)
                t->decay[p->param_offset + k] = 1.0f;
    }
    for (size_t i = 0; i < tr->n; i++)
        t->order[i] = i;
    memcpy(t->best, t->w, t->n_all * sizeof *t->best);
    if (c->dropout_off && (s = dropout_off(t, err)) != QR_OK)
        return s;
    if (c->distill && (s = qr_teacher_logits(c, d, &t->teacher, err)) != QR_OK)
        return s;
    if (c->hist_path && t->plan) {
        t->hist = qr_hist_log_new(t->plan, c->hist_path, c->hist_epochs, c->n_hist_epochs,
                                  c->epochs, &s);
        if (s != QR_OK)
            return qr_error_set(err, s, "%s: out of memory", c->hist_path);
    }
    if (c->prune.n) {
        if (!(t->pruner = qr_pruner_new(&c->prune, qr_model_graph(m), &s)))
            return qr_error_set(err, s, "pruning: %s", qr_strerror(s));
        if (qr_pruner_update(t->pruner, 0))
            qr_optim_reset_elements(t->opt, qr_pruner_mask(t->pruner));
    }
    if (c->log_path && !carry)
        put_str(&t->log,
                "epoch,loss,accuracy,val_loss,val_accuracy,fq_val_accuracy,penalty,seconds\n");
    qr_rng_seed(&t->shuffle, root->seed + 1 + stage * 0x9e3779b97f4a7c15ull);
    t->best_acc = -1.0;
    t->epoch = 1;
    t->fingerprint = qr_trainer_fingerprint(root, d, t->n_all);
    /* a warm start: the starting weights are a candidate too (epoch 0), so a stage never keeps
     * a model worse on validation than the one it started from (not under pruning, which
     * keeps only models at their final sparsity) */
    if (from && d->val.n > 0 && !t->pruner) {
        double acc;
        if ((s = qr_evaluate(m, &d->val, &t->r.val_loss, &t->r.val_accuracy, NULL)) != QR_OK ||
            (t->plan && (s = fq_accuracy(t, &d->val, &t->r.fq_val_accuracy)) != QR_OK))
            return qr_error_set(err, s, "validation failed");
        acc = t->plan ? t->r.fq_val_accuracy : t->r.val_accuracy;
        t->best_acc = acc;
    }
    t->es_best = t->best_acc; /* a warm start's accuracy is the mark to beat */
    t->t0 = qr_trainer_now();
    return QR_OK;
}

/* The files written before the first epoch (epoch 0 = the initial weights). */
static qr_status trainer_start_logs(trainer *t, qr_error *err)
{
    const qr_train_config *c = t->c;
    qr_status s = QR_OK;
    if (c->log_path && (s = qr_trainer_write_buf(&t->log, c->log_path, err)))
        return s;
    if (c->log_jsonl_path && (s = qr_trainer_write_buf(&t->jlog, c->log_jsonl_path, err)))
        return s;
    if (c->quant_log_path && t->plan && (s = log_quant(t, 0, 1, err)))
        return s;
    if (qr_hist_log_wants(t->hist, 0) && (s = qr_hist_log_snapshot(t->hist, t->m, 0, err)))
        return s;
    return s;
}

/* ---- one step, one epoch -------------------------------------------------------------- */

static qr_status trainer_batch(trainer *t, size_t bi, qr_progress_fn fn, void *user,
                               qr_error *err)
{
    const qr_dataset *tr = &t->d->train;
    qr_model *m = t->m;
    size_t at = bi * t->batch, b = tr->n - at < t->batch ? tr->n - at : t->batch;
    t->step++;
    qr_graph_set_batch(t->g, b);
    for (size_t i = 0; i < b; i++)
        memcpy(t->stage + i * t->row, tr->x + t->order[at + i] * t->row,
               t->row * sizeof *t->stage);
    qr_model_load_inputs(m, t->stage, b);
    for (size_t i = 0; i < b; i++)
        m->y->x[i] = (float)tr->y[t->order[at + i]];
    if (t->teacher)
        for (size_t i = 0; i < b; i++)
            memcpy(m->teacher->x + i * t->classes, t->teacher + t->order[at + i] * t->classes,
                   t->classes * sizeof *t->teacher);
    qr_graph_zero_grad(t->g);
    qr_quant_ste_forward(t->ste, m->graph);
    qr_graph_forward(t->g, t->loss);
    float loss = t->loss->x[0];
    if (!isfinite(loss)) {
        qr_quant_ste_backward(t->ste, m->graph);
        return qr_error_set(err, QR_ERR_NUMERIC,
                            "training diverged: loss is %s at epoch %zu, step %zu; the model was "
                            "not saved%s (try a lower learning rate or clipnorm)",
                            isnan(loss) ? "NaN" : loss > 0 ? "+inf" : "-inf",
                            t->epoch, bi + 1,
                            t->c->checkpoint_every ? " and the last checkpoint is kept" : "");
    }
    qr_graph_backward(t->g, t->loss);
    qr_quant_ste_backward(t->ste, m->graph);
    if (t->quantizing)
        t->penalty = qr_quant_apply(t->plan, qr_model_graph(m),
                                    t->plan->per_step ? (double)t->step : (double)t->epoch,
                                    t->t_final);
    if (t->c->weight_decay > 0)
        for (size_t k = 0; k < t->n_tr; k++)
            t->gw[k] += 2.0f * t->c->weight_decay * t->decay[k] * t->w[k];
    if (t->c->clip_norm > 0)
        qr_grad_clip_norm(t->gw, t->n_tr, t->c->clip_norm);
    if (t->pruner)
        qr_pruner_mask_grads(t->pruner);
    /* the schedule's rate: a function of (epoch, batch) only, so a resumed run sets the same */
    float lr = (float)qr_lr_at(&t->c->lr_schedule, t->c->optim.lr, t->epoch, bi, t->batches,
                               t->c->epochs);
    t->lr = lr;
    qr_optim_set_lr(t->opt, lr);
    qr_optim_step(t->opt, t->w, t->gw);
    if (t->pruner) {
        /* masked weights stay exactly zero, and so do their optimizer moments */
        qr_pruner_apply(t->pruner);
        if (qr_pruner_update(t->pruner, t->step))
            qr_optim_reset_elements(t->opt, qr_pruner_mask(t->pruner));
    }
    t->sum_loss += (double)loss * (double)b;
    t->seen += b;
    const float *z = m->logits->x;
    for (size_t i = 0; i < b; i++) {
        size_t arg = 0;
        for (size_t j = 1; j < t->classes; j++)
            if (z[i * t->classes + j] > z[i * t->classes + arg])
                arg = j;
        t->correct += arg == (size_t)tr->y[t->order[at + i]];
    }
    if (fn) {
        qr_train_progress p = {.event = QR_TRAIN_BATCH, .penalty = t->penalty,
                               .fq_val_accuracy = NAN, .epoch = t->epoch, .epochs = t->c->epochs,
                               .batch = bi + 1, .batches = t->batches,
                               .loss = t->sum_loss / (double)t->seen,
                               .accuracy = (double)t->correct / (double)t->seen, .val_loss = NAN,
                               .val_accuracy = NAN, .seconds = qr_trainer_now() - t->t0,
                               .stage = t->stage_no + 1, .stages = t->stages, .lr = t->lr,
                               .epoch_seconds = qr_trainer_now() - t->epoch_t0,
                               .run_epoch = t->epoch0 + t->epoch, .run_epochs = t->root->epochs};
        fn(user, &p);
    }
    return QR_OK;
}

/* A number of the JSON log: as the CSV log prints it, null when not a number. */
static void put_num(qr_buf *b, const char *key, char kind, int prec, double v)
{
    char text[64];
    int n = snprintf(text, sizeof text, ",\"%s\":", key);
    qr_buf_put(b, text, (size_t)n);
    if (isfinite(v))
        n = kind == 'f' ? snprintf(text, sizeof text, "%.*f", prec, v)
                        : snprintf(text, sizeof text, "%.*g", prec, v);
    else
        n = snprintf(text, sizeof text, "null");
    qr_buf_put(b, text, (size_t)n);
}

/* One JSON object per epoch (output.log_jsonl), the same numbers as the CSV log. The lines
 * are kept (and checkpointed) without a path too, so a resume that adds one gets them all. */
static qr_status log_jsonl(trainer *t, const qr_train_progress *p, qr_error *err)
{
    char head[64];
    int n = snprintf(head, sizeof head, "{\"epoch\":%zu,\"stage\":%zu", t->epoch0 + p->epoch,
                     p->stage);
    qr_buf_put(&t->jlog, head, (size_t)n);
    put_num(&t->jlog, "lr", 'g', 7, p->lr);
    put_num(&t->jlog, "loss", 'f', 6, p->loss);
    put_num(&t->jlog, "accuracy", 'f', 6, p->accuracy);
    put_num(&t->jlog, "val_loss", 'f', 6, p->val_loss);
    put_num(&t->jlog, "val_accuracy", 'f', 6, p->val_accuracy);
    put_num(&t->jlog, "fq_val_accuracy", 'f', 6, p->fq_val_accuracy);
    put_num(&t->jlog, "penalty", 'g', 6, p->penalty);
    put_num(&t->jlog, "seconds", 'f', 3, p->seconds);
    put_num(&t->jlog, "epoch_seconds", 'f', 3, p->epoch_seconds);
    put_str(&t->jlog, p->improved ? ",\"improved\":true" : ",\"improved\":false");
    put_str(&t->jlog, t->stopped ? ",\"early_stop\":true}\n" : "}\n");
    return t->c->log_jsonl_path ? qr_trainer_write_buf(&t->jlog, t->c->log_jsonl_path, err) : QR_OK;
}

static qr_status trainer_end_epoch(trainer *t, qr_progress_fn fn, void *user, qr_error *err)
{
    const qr_train_config *c = t->c;
    const qr_split_data *d = t->d;
    size_t epoch = t->epoch;
    qr_status s;
    if (t->plan)
        qr_quant_refit_scales(t->m->graph, t->m->quant);
    qr_train_progress p = {.event = QR_TRAIN_EPOCH, .penalty = t->penalty,
                           .fq_val_accuracy = NAN, .epoch = epoch, .epochs = c->epochs,
                           .batch = t->batches, .batches = t->batches,
                           .loss = t->sum_loss / (double)t->seen,
                           .accuracy = (double)t->correct / (double)t->seen, .val_loss = NAN,
                           .val_accuracy = NAN, .stage = t->stage_no + 1, .stages = t->stages,
                           .lr = t->lr, .run_epoch = t->epoch0 + epoch,
                           .run_epochs = t->root->epochs};
    if (d->val.n > 0) {
        if ((s = qr_evaluate(t->m, &d->val, &p.val_loss, &p.val_accuracy, NULL)) != QR_OK ||
            (t->plan && (s = fq_accuracy(t, &d->val, &p.fq_val_accuracy))))
            return qr_error_set(err, s, "validation failed");
        /* Keras' ModelCheckpoint(save_best_only): strictly better validation accuracy — of the
         * weights as they will be deployed, i.e. fake-quantized, under a plan */
        double acc = t->plan ? p.fq_val_accuracy : p.val_accuracy;
        /* under pruning only models at their final sparsity can be kept */
        int eligible = 1;
        for (size_t i = 0; t->pruner && i < c->prune.n; i++)
            if (c->prune.m[i].active && t->step < c->prune.m[i].t0 + c->prune.m[i].n * c->prune.m[i].dt)
                eligible = 0;
        if (eligible && acc > t->best_acc) {
            t->best_acc = acc;
            p.improved = 1;
        }
        /* a schedule longer than the run: keep the last (most pruned) epoch */
        if (!eligible && epoch == c->epochs && t->r.best_epoch == 0)
            p.improved = 1;
        /* early stopping on the same quantity (Keras: improved if acc − min_delta > best),
         * counted only where an epoch could be kept */
        const qr_early_stopping *es = &c->early_stopping;
        if (es->patience && eligible) {
            if (acc - es->min_delta > t->es_best) {
                t->es_best = acc;
                t->es_wait = 0;
            } else if (++t->es_wait >= es->patience && epoch < c->epochs) {
                t->stopped = epoch;
            }
        }
    } else {
        p.improved = 1; /* no validation data: keep the last epoch */
    }
    if (p.improved) {
        memcpy(t->best, t->w, t->n_all * sizeof *t->best);
        for (size_t i = 0; t->plan && i < t->plan->n; i++)
            t->best_alpha[i] = t->plan->m[i].alpha;
        if (t->best_alphas)
            memcpy(t->best_alphas, t->plan->alphas, t->plan->n_alphas * sizeof *t->best_alphas);
        t->r.best_epoch = epoch;
        t->r.val_loss = p.val_loss;
        t->r.val_accuracy = p.val_accuracy;
        t->r.fq_val_accuracy = p.fq_val_accuracy;
    }
    p.seconds = qr_trainer_now() - t->t0;
    p.epoch_seconds = qr_trainer_now() - t->epoch_t0;
    if (fn)
        fn(user, &p);
    if (t->stopped && fn) {
        qr_train_progress q = p;
        q.event = QR_TRAIN_EARLY_STOP;
        fn(user, &q);
    }
    if ((s = log_jsonl(t, &p, err)))
        return s;
    if (c->log_path) {
        char line[256];
        snprintf(line, sizeof line, "%zu,%.6f,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f\n", t->epoch0 + epoch,
                 p.loss,
                 p.accuracy, p.val_loss, p.val_accuracy, p.fq_val_accuracy, p.penalty, p.seconds);
        put_str(&t->log, line);
        if ((s = qr_trainer_write_buf(&t->log, c->log_path, err)))
            return s;
    }
    double when = t->plan && t->plan->per_step ? (double)t->step : (double)epoch;
    if (c->quant_log_path && t->plan && (s = log_quant(t, epoch, when, err)))
        return s;
    if (qr_hist_log_wants(t->hist, epoch) && (s = qr_hist_log_snapshot(t->hist, t->m, epoch, err)))
        return s;
    if (t->pruner && c->prune_log_path) {
        if (t->plog.len == 0)
            put_str(&t->plog, "epoch,step,matrix,target_sparsity,sparsity\n");
        for (size_t i = 0; i < c->prune.n; i++) {
            if (!c->prune.m[i].active)
                continue;
            double target, actual;
            char line[192];
            qr_pruner_sparsity(t->pruner, i, t->step, &target, &actual);
            snprintf(line, sizeof line, "%zu,%zu,%s,%.6f,%.6f\n", t->epoch0 + epoch, t->step,
                     c->prune.m[i].name, target, actual);
            put_str(&t->plog, line);
        }
        if ((s = qr_trainer_write_buf(&t->plog, c->prune_log_path, err)))
            return s;
    }
    return QR_OK;
}

/* The config of stage k: the run's with that stage's epochs, optimizer and plans. */
static qr_train_config stage_config(const qr_train_config *c, size_t k)
{
    qr_train_config sc = *c;
    if (c->n_stages) {
        const qr_train_stage *st = &c->stages[k];
        sc.epochs = st->epochs;
        sc.optim = st->optim;
        sc.lr_schedule = st->lr_schedule;
        sc.early_stopping = st->early_stopping;
        sc.clip_norm = st->clip_norm;
        sc.weight_decay = st->weight_decay;
        sc.quant = st->quant;
        sc.bn_reestimate = st->bn_reestimate;
        sc.dropout_off = st->dropout_off;
        sc.prune = st->prune;
    }
    return sc;
}

/* The end of a stage: its kept weights and grid scales back in place, batch-norm statistics
 * re-estimated for the fake-quantized weights if asked, validation of what is kept. */
static qr_status trainer_finish_stage(trainer *t, qr_error *err)
{
    const qr_train_config *c = t->c;
    qr_status s = QR_OK;
    for (size_t i = 0; t->rates && i < t->g->n_nodes; i++)
        t->g->nodes[i]->fp[0] = t->rates[i];
    memcpy(t->w, t->best, t->n_all * sizeof *t->best);
    for (size_t i = 0; t->plan && i < t->plan->n; i++)
        t->m->quant->m[i].alpha = t->best_alpha[i];
    if (t->best_alphas)
        memcpy(t->m->quant->alphas, t->best_alphas, t->plan->n_alphas * sizeof *t->best_alphas);
    int changed = c->epochs == 0; /* nothing trained: validate the model as loaded */
    if (c->bn_reestimate) {
        if ((s = qr_model_bn_reestimate(t->m, t->plan, t->d->train.x, t->d->train.n, err)))
            return s;
        changed = 1;
    }
    if (changed && t->d->val.n > 0 &&
        ((s = qr_evaluate(t->m, &t->d->val, &t->r.val_loss, &t->r.val_accuracy, NULL)) != QR_OK ||
         (t->plan && (s = fq_accuracy(t, &t->d->val, &t->r.fq_val_accuracy)) != QR_OK)))
        return qr_error_set(err, s, "validation failed");
    t->sr[t->stage_no] = (stage_result){(double)t->r.best_epoch, t->r.val_accuracy,
                                     t->r.fq_val_accuracy};
    t->r.stopped_epoch = t->stopped ? t->epoch0 + t->stopped : 0;
    return QR_OK;
}

/* One stage's epochs, from wherever the trainer stands (a fresh start or a checkpoint). */
static qr_status trainer_run(trainer *t, const qr_train_control *ctl, qr_progress_fn fn,
                             void *user, qr_error *err)
{
    const qr_train_config *c = t->c;
    const qr_split_data *d = t->d;
    qr_status s = QR_OK;
    while (s == QR_OK && t->epoch <= c->epochs && !t->stopped) {
        t->epoch_t0 = qr_trainer_now();
        if (t->next_batch == 0 && ctl && ctl->stop && *ctl->stop) {
            /* between epochs: stop before the shuffle, so the checkpoint is an epoch start */
            if ((s = qr_trainer_save_checkpoint(t, err)) == QR_OK)
                s = qr_error_set(err, QR_ERR_STATE, "interrupted before epoch %zu%s; checkpoint "
                                 "written to %s (continue with --resume)", t->epoch,
                                 t->stages > 1 ? " of a stage" : "", c->checkpoint_path);
            break;
        }
        if (t->next_batch == 0) {
            qr_rng_shuffle(&t->shuffle, t->order, d->train.n);
            t->sum_loss = t->penalty = 0.0;
            t->correct = t->seen = 0;
        }
        qr_graph_set_training(t->g, 1);
        for (; t->next_batch < t->batches && s == QR_OK; t->next_batch++) {
            if (ctl && ctl->stop && *ctl->stop) {
                /* a clean stop at a batch boundary: everything needed to go on is saved */
                if ((s = qr_trainer_save_checkpoint(t, err)) == QR_OK)
                    s = qr_error_set(err, QR_ERR_STATE, "interrupted in epoch %zu after %zu of "
                                     "%zu batches; checkpoint written to %s (continue with "
                                     "--resume)", t->epoch, t->next_batch, t->batches,
                                     c->checkpoint_path);
                break;
            }
            s = trainer_batch(t, t->next_batch, fn, user, err);
        }
        if (s != QR_OK)
            break;
        if ((s = trainer_end_epoch(t, fn, user, err)) != QR_OK)
            break;
        t->epoch++;
        t->next_batch = 0;
        if (c->checkpoint_every && c->checkpoint_path &&
            ((t->epoch - 1) % c->checkpoint_every == 0 ||
             t->epoch > c->epochs || t->stopped))
            s = qr_trainer_save_checkpoint(t, err);
    }
    return s;
}

QR_API qr_status qr_train_ex(const qr_train_config *c, const qr_split_data *d,
                             const qr_train_control *ctl, qr_progress_fn fn, void *user,
                             qr_model **out, qr_train_result *res, qr_error *err)
{
    *out = NULL;
    size_t stages = c->n_stages ? c->n_stages : 1, first = 0;
    if (c->epochs == 0 && !c->init_path)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'training.epochs' is 0: only a warm start "
                            "('training.init' or --init) can be evaluated without training",
                            c->source ? c->source : "config");
    int resume = ctl && ctl->resume;
    qr_status cs = qr_train_check_outputs(c, resume, err);
    if (cs != QR_OK)
        return cs;
    if (resume && !c->checkpoint_path)
        return qr_error_set(err, QR_ERR_ARG, "resume: no checkpoint path");
    qr_status s = QR_OK;
    if (resume &&
        (s = qr_trainer_checkpoint_stage(c->checkpoint_path, stages, &first, err)) != QR_OK)
        return s;
    qr_model *init_file = NULL, *prev = NULL;
    if (c->init_path) {
        qr_error lerr = {{0}};
        if ((s = qr_model_load(c->init_path, 1, &init_file, &lerr)) != QR_OK)
            return qr_error_set(err, s, "warm start: %s", lerr.msg);
    }
    stage_result *sr = calloc(stages, sizeof *sr);
    if (!sr) {
        qr_model_free(init_file);
        return qr_error_set(err, QR_ERR_NOMEM, "out of memory");
    }
    qr_buf carry[4] = {{0}};
    size_t epoch0 = 0;
    for (size_t k = 0; k < first; k++)
        epoch0 += c->stages[k].epochs;
    trainer t;
    int have_t = 0;
    for (size_t k = first; s == QR_OK && k < stages; k++) {
        qr_train_config sc = stage_config(c, k);
        int resuming = resume && k == first;
        /* the first stage starts from the warm-start file, later ones from the stage before */
        const qr_model *from = resuming ? NULL : k == 0 ? init_file : prev;
        s = trainer_init(&t, &sc, c, k, stages, epoch0, sr, d, from, init_file,
                         k > first ? carry : NULL, err);
        have_t = 1;
        qr_model_free(prev);
        prev = NULL;
        if (s == QR_OK)
            s = resuming ? qr_trainer_load_checkpoint(&t, err)
                : k == 0 ? trainer_start_logs(&t, err)
                         : QR_OK;
        if (s == QR_OK)
            s = trainer_run(&t, ctl, fn, user, err);
        if (s == QR_OK)
            s = trainer_finish_stage(&t, err);
        if (s == QR_OK && fn && c->n_stages) {
            qr_train_progress p = {.event = QR_TRAIN_STAGE, .fq_val_accuracy = t.r.fq_val_accuracy,
                                   .epoch = t.r.best_epoch, .epochs = sc.epochs,
                                   .val_loss = t.r.val_loss, .val_accuracy = t.r.val_accuracy,
                                   .loss = NAN, .accuracy = NAN,
                                   .seconds = qr_trainer_now() - t.t0, .stage = k + 1,
                                   .stages = stages};
            fn(user, &p);
        }
        if (s == QR_OK && k + 1 < stages) {
            /* hand the kept model and the logs to the next stage */
            prev = t.m;
            t.m = NULL;
            carry[0] = t.log;
            carry[1] = t.qlog;
            carry[2] = t.plog;
            carry[3] = t.jlog;
            memset(&t.jlog, 0, sizeof t.jlog);
            memset(&t.log, 0, sizeof t.log);
            memset(&t.qlog, 0, sizeof t.qlog);
            memset(&t.plog, 0, sizeof t.plog);
            epoch0 += sc.epochs;
            trainer_free(&t);
            have_t = 0;
        }
    }
    if (s == QR_OK) {
        /* activation ranges for the integer export, on the training data */
        if ((s = qr_model_calibrate(t.m, d->train.x, d->train.n)) != QR_OK)
            qr_error_set(err, s, "calibration failed");
        /* the kept model's fake-quantized validation again, on the export's grids */
        if (s == QR_OK && t.plan && d->val.n > 0 &&
            (s = fq_grid_accuracy(&t, &d->val, &t.r.fq_val_accuracy)) != QR_OK)
            qr_error_set(err, s, "validation failed");
        if (s == QR_OK && d->test.n > 0 &&
            ((s = qr_evaluate(t.m, &d->test, &t.r.test_loss, &t.r.test_accuracy, NULL)) != QR_OK ||
             (t.plan && (s = fq_grid_accuracy(&t, &d->test, &t.r.fq_test_accuracy)))))
            qr_error_set(err, s, "test evaluation failed");
    }
    if (s == QR_OK) {
        t.r.seconds = qr_trainer_now() - t.t0;
        if (res)
            *res = t.r;
        *out = t.m;
        t.m = NULL;
    }
    if (have_t)
        trainer_free(&t);
    for (int i = 0; i < 4; i++)
        qr_buf_free(&carry[i]);
    qr_model_free(prev);
    qr_model_free(init_file);
    free(sr);
    return s;
}

QR_API qr_status qr_train(const qr_train_config *c, const qr_split_data *d, qr_progress_fn fn,
                          void *user, qr_model **out, qr_train_result *res, qr_error *err)
{
    return qr_train_ex(c, d, NULL, fn, user, out, res, err);
}
