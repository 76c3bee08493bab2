/* Data preparation, evaluation and the training loop. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/fileio.h"
#include "lib/graph_impl.h"
#include "lib/model_impl.h"
#include "qreg/train.h"
#include "hist_log.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static qr_csv_options csv_options(const qr_train_config *c, const char *path)
{
    qr_csv_options o = {0};
    o.path = path;
    o.header = c->label_name ? 1 : c->header;
    o.label_name = c->label_name;
    o.label_index = c->label_index;
    o.t = c->t;
    o.f = c->f;
    return o;
}

QR_API void qr_split_data_free(qr_split_data *d)
{
    qr_dataset_free(&d->train);
    qr_dataset_free(&d->val);
    qr_dataset_free(&d->test);
}

QR_API qr_status qr_train_load_data(const qr_train_config *c, qr_split_data *d, qr_error *err)
{
    memset(d, 0, sizeof *d);
    qr_dataset all = {0};
    qr_csv_options o = csv_options(c, c->train_path);
    qr_status s = qr_csv_load(&o, &all, err);
    if (s != QR_OK)
        return s;
    d->n_source = all.n;
    if (c->val_split > 0 || c->test_split > 0) {
        s = qr_dataset_split(&all, c->val_split, c->test_split, c->seed, &d->train,
                             c->val_split > 0 ? &d->val : NULL,
                             c->test_split > 0 ? &d->test : NULL, err);
        qr_dataset_free(&all);
    } else {
        d->train = all;
    }
    if (s == QR_OK && c->val_path) {
        o = csv_options(c, c->val_path);
        s = qr_csv_load_with_classes(&o, &d->train, &d->val, err);
    }
    if (s == QR_OK && c->test_path) {
        o = csv_options(c, c->test_path);
        s = qr_csv_load_with_classes(&o, &d->train, &d->test, err);
    }
    if (s == QR_OK && d->train.n == 0)
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: no training samples after the split",
                         c->train_path);
    if (s != QR_OK)
        qr_split_data_free(d);
    return s;
}

QR_API qr_status qr_evaluate(qr_model *m, const qr_dataset *d, double *loss, double *accuracy,
                             int32_t *pred)
{
    qr_graph *g = m->graph;
    size_t row = m->spec.t * m->spec.f, c = m->spec.n_classes;
    if (d->t * d->f != row || d->n_classes != c)
        return QR_ERR_SHAPE;
    int was_training = g->training;
    qr_graph_set_training(g, 0);
    double sum_loss = 0.0;
    size_t correct = 0;
    qr_status s = QR_OK;
    for (size_t at = 0; at < d->n; at += g->max_batch) {
        size_t b = d->n - at < g->max_batch ? d->n - at : g->max_batch;
        if ((s = qr_graph_set_batch(g, b)) != QR_OK)
            break;
        qr_model_load_inputs(m, d->x + at * row, b);
        for (size_t i = 0; i < b; i++)
            m->y->x[i] = (float)d->y[at + i];
        qr_graph_forward(g, m->loss);
        sum_loss += (double)m->loss->x[0] * (double)b;
        const float *z = m->logits->x;
        for (size_t i = 0; i < b; i++) {
            size_t best = 0;
            for (size_t j = 1; j < c; j++)
                if (z[i * c + j] > z[i * c + best])
                    best = j;
            correct += best == (size_t)d->y[at + i];
            if (pred)
                pred[at + i] = (int32_t)best;
        }
    }
    qr_graph_set_training(g, was_training);
    if (loss)
        *loss = d->n ? sum_loss / (double)d->n : NAN;
    if (accuracy)
        *accuracy = d->n ? (double)correct / (double)d->n : NAN;
    return s;
}

/* Kernels (not biases, BN or PReLU parameters) get the L2 penalty, as Keras' kernel_regularizer. */
static int is_kernel(const qr_node *p)
{
    const char *slash = strrchr(p->name, '/');
    return slash && (strcmp(slash + 1, "kernel") == 0 || strcmp(slash + 1, "recurrent_kernel") == 0);
}

/* Append text to an in-memory log and rewrite the log file atomically. */
static qr_status write_log(qr_buf *log, const char *path, const char *text, qr_error *err)
{
    qr_buf_put(log, text, strlen(text));
    if (log->nomem)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    return qr_file_write_atomic(path, log->data, log->len, err);
}

/* Accuracy of the fake-quantized weights: quantize a copy in place, evaluate, restore. */
static qr_status fq_accuracy(qr_model *m, const qr_quant_plan *plan, const qr_dataset *d,
                             float *save, size_t n_all, double *acc)
{
    float *w = qr_graph_params(m->graph, NULL, NULL);
    memcpy(save, w, n_all * sizeof *save);
    qr_quant_fake(plan, m);
    qr_status s = qr_evaluate(m, d, NULL, acc, NULL);
    memcpy(w, save, n_all * sizeof *save);
    return s;
}

/* One epoch's lines of the quantization log. */
static qr_status log_quant(qr_buf *qlog, const char *path, const qr_quant_plan *plan, qr_model *m,
                           size_t epoch, double t, double t_final, qr_quant_stat *stats,
                           qr_error *err)
{
    qr_quant_stats(plan, m, t, t_final, stats);
    for (size_t i = 0; i < plan->n; i++) {
        char line[256];
        const qr_quant_matrix *q = &plan->m[i];
        snprintf(line, sizeof line, "%zu,%s,%d,%s,%.6g,%.6g,%.6f,%.6g\n", epoch, q->name, q->bits,
                 !q->regularized ? "ptq8" : q->ste ? "ste" : qr_reg_name(q->reg), stats[i].reg,
                 stats[i].schedule,
                 stats[i].share_near, stats[i].mean_abs_err);
        qr_buf_put(qlog, line, strlen(line));
    }
    if (qlog->nomem)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    return qr_file_write_atomic(path, qlog->data, qlog->len, err);
}

QR_API qr_status qr_train(const qr_train_config *c, const qr_split_data *d, qr_progress_fn fn,
                          void *user, qr_model **out, qr_train_result *res, qr_error *err)
{
    *out = NULL;
    const qr_dataset *tr = &d->train;
    qr_train_result r = {.val_loss = NAN, .val_accuracy = NAN, .test_loss = NAN,
                         .test_accuracy = NAN, .fq_val_accuracy = NAN, .fq_test_accuracy = NAN};
    qr_model_spec spec;
    qr_status s = qr_model_spec_copy(&spec, &c->model);
    if (s != QR_OK)
        return qr_error_set(err, s, "out of memory");
    spec.t = tr->t;
    spec.f = tr->f;
    spec.n_classes = tr->n_classes;
    size_t batch = c->batch_size < tr->n ? c->batch_size : tr->n;
    size_t batches = (tr->n + batch - 1) / batch;
    qr_model *m = NULL;
    qr_model_options mopt = {c->distill, c->kd_alpha, c->kd_temperature, c->kd_t2};
    s = qr_model_new_ex(&spec, batch, c->seed, &mopt, &m, err);
    qr_model_spec_free(&spec);
    if (s != QR_OK)
        return s;
    float *teacher = NULL; /* (n_train, classes) teacher logits in d->train's order */
    qr_node *train_loss = qr_model_train_loss(m);
    const qr_quant_plan *plan = c->quant.n ? &c->quant : NULL;
    int quantizing = plan && qr_quant_plan_active(plan);
    /* the schedule's clock: epochs (the thesis) or optimizer steps */
    double t_final = plan && plan->per_step ? (double)(c->epochs * batches) : (double)c->epochs;
    if (plan) {
        for (size_t i = 0; i < plan->n; i++)
            if (plan->m[i].regularized && qr_schedule_check(&plan->m[i].schedule, t_final)) {
                qr_model_free(m);
                return qr_error_set(err, QR_ERR_CONFIG,
                                    "%s: the schedule of %s does not fit %g %s (step too large?)",
                                    c->source ? c->source : "config", plan->m[i].name, t_final,
                                    plan->per_step ? "steps" : "epochs");
            }
        if ((s = qr_model_set_quant_plan(m, plan)) != QR_OK) {
            qr_model_free(m);
            return qr_error_set(err, s, "out of memory");
        }
        /* from here on the model's own copy: it carries the grid scales α */
        plan = m->quant;
    }
    qr_set_threads(c->threads);
    qr_model_set_classes(m, (const char *const *)tr->class_names, tr->n_classes);
    if (c->standardize) {
        qr_standardizer st = {0};
        if ((s = qr_standardizer_fit(&st, tr)) == QR_OK)
            s = qr_model_set_standardization(m, st.mean, st.std);
        qr_standardizer_free(&st);
        if (s != QR_OK) {
            qr_model_free(m);
            return qr_error_set(err, s, "standardization failed");
        }
    }
    qr_graph *g = m->graph;
    size_t n_tr, n_all;
    float *w = qr_graph_params(g, &n_tr, &n_all);
    float *gw = qr_graph_grads(g);
    qr_optim *opt = qr_optim_new(&c->optim, n_tr);
    size_t row = tr->t * tr->f;
    size_t *order = malloc(tr->n * sizeof *order);
    float *stage = malloc(batch * row * sizeof *stage);
    float *best = malloc((n_all + 1) * sizeof *best);
    float *save = malloc((n_all + 1) * sizeof *save);
    float *decay = calloc(n_tr + 1, sizeof *decay); /* 1 on kernel entries, 0 elsewhere */
    qr_quant_stat *stats = plan ? calloc(plan->n, sizeof *stats) : NULL;
    qr_buf log = {0}, qlog = {0};
    qr_hist_log *hist = NULL;
    qr_quant_ste *ste = NULL;
    qr_pruner *pruner = NULL;
    qr_buf plog = {0};
    float *best_alpha = plan ? calloc(plan->n + 1, sizeof *best_alpha) : NULL;
    if (plan && (!best_alpha || (s = qr_quant_begin_training(m, &ste)) != QR_OK)) {
        s = qr_error_set(err, QR_ERR_NOMEM, "out of memory preparing quantization");
        goto done;
    }
    for (size_t i = 0; plan && i < plan->n; i++)
        best_alpha[i] = plan->m[i].alpha;
    if (c->hist_path && plan) {
        hist = qr_hist_log_new(plan, c->hist_path, c->hist_epochs, c->n_hist_epochs, c->epochs,
                               &s);
        if (s != QR_OK) {
            qr_error_set(err, s, "%s: out of memory", c->hist_path);
            goto done;
        }
    }
    if (!opt || !order || !stage || !best || !save || !decay || (plan && !stats)) {
        s = qr_error_set(err, QR_ERR_NOMEM, "out of memory preparing training");
        goto done;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const qr_node *p = g->nodes[i];
        if (p->op == QR_OP_PARAM && p->trainable && is_kernel(p))
            for (size_t k = 0; k < p->max_size; k++)
                decay[p->param_offset + k] = 1.0f;
    }
    for (size_t i = 0; i < tr->n; i++)
        order[i] = i;
    memcpy(best, w, n_all * sizeof *best);
    if (c->distill && (s = qr_teacher_logits(c, d, &teacher, err)) != QR_OK)
        goto done;
    if (c->prune.n) {
        if (!(pruner = qr_pruner_new(&c->prune, m, &s))) {
            qr_error_set(err, s, "pruning: %s", qr_strerror(s));
            goto done;
        }
        if (qr_pruner_update(pruner, 0))
            qr_optim_reset_elements(opt, qr_pruner_mask(pruner));
        if (c->prune_log_path)
            qr_buf_put(&plog, "epoch,step,matrix,target_sparsity,sparsity\n",
                       strlen("epoch,step,matrix,target_sparsity,sparsity\n"));
    }
    if (c->log_path &&
        (s = write_log(&log, c->log_path,
                       "epoch,loss,accuracy,val_loss,val_accuracy,fq_val_accuracy,penalty,seconds\n",
                       err)))
        goto done;
    if (c->quant_log_path && plan) {
        const char *head = "epoch,matrix,bits,regularizer,reg,S,share_near,mean_abs_err\n";
        qr_buf_put(&qlog, head, strlen(head));
        /* epoch 0: the initial weights */
        if ((s = log_quant(&qlog, c->quant_log_path, plan, m, 0, 1, t_final, stats, err)))
            goto done;
    }
    if (qr_hist_log_wants(hist, 0) && (s = qr_hist_log_snapshot(hist, m, 0, err)))
        goto done;
    qr_rng shuffle;
    qr_rng_seed(&shuffle, c->seed + 1);
    double t0 = now_seconds(), best_acc = -1.0;
    size_t step = 0;
    for (size_t epoch = 1; epoch <= c->epochs; epoch++) {
        qr_rng_shuffle(&shuffle, order, tr->n);
        qr_graph_set_training(g, 1);
        double sum_loss = 0.0, penalty = 0.0;
        size_t correct = 0, seen = 0;
        for (size_t bi = 0; bi < batches; bi++) {
            size_t at = bi * batch, b = tr->n - at < batch ? tr->n - at : batch;
            step++;
            qr_graph_set_batch(g, b);
            for (size_t i = 0; i < b; i++)
                memcpy(stage + i * row, tr->x + order[at + i] * row, row * sizeof *stage);
            qr_model_load_inputs(m, stage, b);
            for (size_t i = 0; i < b; i++)
                m->y->x[i] = (float)tr->y[order[at + i]];
            if (teacher)
                for (size_t i = 0; i < b; i++)
                    memcpy(m->teacher->x + i * tr->n_classes,
                           teacher + order[at + i] * tr->n_classes,
                           tr->n_classes * sizeof *teacher);
            qr_graph_zero_grad(g);
            qr_quant_ste_forward(ste, m);
            qr_graph_forward(g, train_loss);
            float loss = train_loss->x[0];
            if (!isfinite(loss)) {
                s = qr_error_set(err, QR_ERR_NUMERIC,
                                 "training diverged: loss is %g at epoch %zu, step %zu; the model "
                                 "was not saved (try a lower learning rate or clipnorm)",
                                 (double)loss, epoch, bi + 1);
                goto done;
            }
            qr_graph_backward(g, train_loss);
            qr_quant_ste_backward(ste, m);
            if (quantizing)
                penalty = qr_quant_apply(plan, m, plan->per_step ? (double)step : (double)epoch,
                                         t_final);
            if (c->weight_decay > 0)
                for (size_t k = 0; k < n_tr; k++)
                    gw[k] += 2.0f * c->weight_decay * decay[k] * w[k];
            if (c->clip_norm > 0)
                qr_grad_clip_norm(gw, n_tr, c->clip_norm);
            if (pruner)
                qr_pruner_mask_grads(pruner);
            qr_optim_step(opt, w, gw);
            if (pruner) {
                /* masked weights stay exactly zero, and so do their optimizer moments */
                qr_pruner_apply(pruner);
                if (qr_pruner_update(pruner, step))
                    qr_optim_reset_elements(opt, qr_pruner_mask(pruner));
            }
            sum_loss += (double)loss * (double)b;
            seen += b;
            const float *z = m->logits->x;
            size_t nc = tr->n_classes;
            for (size_t i = 0; i < b; i++) {
                size_t arg = 0;
                for (size_t j = 1; j < nc; j++)
                    if (z[i * nc + j] > z[i * nc + arg])
                        arg = j;
                correct += arg == (size_t)tr->y[order[at + i]];
            }
            if (fn) {
                qr_train_progress p = {.event = QR_TRAIN_BATCH, .penalty = penalty,
                                       .fq_val_accuracy = NAN, .epoch = epoch,
                                       .epochs = c->epochs, .batch = bi + 1, .batches = batches,
                                       .loss = sum_loss / (double)seen,
                                       .accuracy = (double)correct / (double)seen,
                                       .val_loss = NAN, .val_accuracy = NAN,
                                       .seconds = now_seconds() - t0};
                fn(user, &p);
            }
        }
        if (plan)
            qr_quant_refit_scales(m);
        qr_train_progress p = {.event = QR_TRAIN_EPOCH, .penalty = penalty,
                               .fq_val_accuracy = NAN, .epoch = epoch, .epochs = c->epochs,
                               .batch = batches, .batches = batches,
                               .loss = sum_loss / (double)seen,
                               .accuracy = (double)correct / (double)seen, .val_loss = NAN,
                               .val_accuracy = NAN};
        if (d->val.n > 0) {
            if ((s = qr_evaluate(m, &d->val, &p.val_loss, &p.val_accuracy, NULL)) != QR_OK ||
                (plan && (s = fq_accuracy(m, plan, &d->val, save, n_all, &p.fq_val_accuracy)))) {
                qr_error_set(err, s, "validation failed");
                goto done;
            }
            /* Keras' ModelCheckpoint(save_best_only): strictly better validation accuracy —
             * of the weights as they will be deployed, i.e. fake-quantized, under a plan */
            double acc = plan ? p.fq_val_accuracy : p.val_accuracy;
            /* under pruning only models at their final sparsity can be kept */
            int eligible = 1;
            for (size_t i = 0; pruner && i < c->prune.n; i++)
                if (c->prune.m[i].active &&
                    step < c->prune.m[i].t0 + c->prune.m[i].n * c->prune.m[i].dt)
                    eligible = 0;
            if (eligible && acc > best_acc) {
                best_acc = acc;
                p.improved = 1;
            }
            /* a schedule longer than the run: keep the last (most pruned) epoch */
            if (!eligible && epoch == c->epochs && r.best_epoch == 0)
                p.improved = 1;
        } else {
            p.improved = 1; /* no validation data: keep the last epoch */
        }
        if (p.improved) {
            memcpy(best, w, n_all * sizeof *best);
            for (size_t i = 0; plan && i < plan->n; i++)
                best_alpha[i] = plan->m[i].alpha;
            r.best_epoch = epoch;
            r.val_loss = p.val_loss;
            r.val_accuracy = p.val_accuracy;
            r.fq_val_accuracy = p.fq_val_accuracy;
        }
        p.seconds = now_seconds() - t0;
        if (fn)
            fn(user, &p);
        if (c->log_path) {
            char line[256];
            snprintf(line, sizeof line, "%zu,%.6f,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f\n", epoch, p.loss,
                     p.accuracy, p.val_loss, p.val_accuracy, p.fq_val_accuracy, p.penalty,
                     p.seconds);
            if ((s = write_log(&log, c->log_path, line, err)) != QR_OK)
                goto done;
        }
        if (c->quant_log_path && plan &&
            (s = log_quant(&qlog, c->quant_log_path, plan, m, epoch,
                           plan->per_step ? (double)step : (double)epoch, t_final, stats, err)))
            goto done;
        if (qr_hist_log_wants(hist, epoch) && (s = qr_hist_log_snapshot(hist, m, epoch, err)))
            goto done;
        if (pruner && c->prune_log_path) {
            for (size_t i = 0; i < c->prune.n; i++) {
                if (!c->prune.m[i].active)
                    continue;
                double target, actual;
                char line[192];
                qr_pruner_sparsity(pruner, i, step, &target, &actual);
                int k = snprintf(line, sizeof line, "%zu,%zu,%s,%.6f,%.6f\n", epoch, step,
                                 c->prune.m[i].name, target, actual);
                qr_buf_put(&plog, line, (size_t)k);
            }
            if ((s = plog.nomem ? QR_ERR_NOMEM
                                : qr_file_write_atomic(c->prune_log_path, plog.data, plog.len,
                                                       err)) != QR_OK)
                goto done;
        }
    }
    memcpy(w, best, n_all * sizeof *best);
    for (size_t i = 0; plan && i < plan->n; i++)
        m->quant->m[i].alpha = best_alpha[i];
    if (d->test.n > 0) {
        if ((s = qr_evaluate(m, &d->test, &r.test_loss, &r.test_accuracy, NULL)) != QR_OK ||
            (plan && (s = fq_accuracy(m, plan, &d->test, save, n_all, &r.fq_test_accuracy)))) {
            qr_error_set(err, s, "test evaluation failed");
            goto done;
        }
    }
    r.seconds = now_seconds() - t0;
    if (res)
        *res = r;
    *out = m;
    m = NULL;
done:
    qr_buf_free(&plog);
    qr_pruner_free(pruner);
    free(teacher);
    qr_quant_ste_free(ste);
    free(best_alpha);
    qr_hist_log_free(hist);
    qr_buf_free(&log);
    qr_buf_free(&qlog);
    free(stats);
    free(decay);
    free(save);
    free(best);
    free(stage);
    free(order);
    qr_optim_free(opt);
    qr_model_free(m);
    return s;
}
