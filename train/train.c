/* A training config's data (CSV or audio, split and standardized) and the evaluation of a model
 * on a dataset; the training loop itself is trainer.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/audio.h"
#include "qreg/train.h"
#include "hist_log.h"

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

/* Audio: features of WAV folders or a manifest, split and augmented by the loader. */
static qr_status load_audio(const qr_train_config *c, qr_split_data *d, qr_error *err)
{
    qr_audio_options o = *c->audio;
    qr_audio_stats st;
    o.seed = c->seed;
    qr_status s = qr_audio_load(&o, &d->train, &d->val, &d->test, &st, err);
    d->n_source = st.files;
    if (s == QR_OK && d->train.n == 0 && o.split == QR_AUDIO_SPLIT_ALL)
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'data.audio.split' \"all\" puts every clip in "
                         "the test set (a test-only set for `qreg features` and `qreg eval`): "
                         "nothing to train on; choose \"lists\", \"manifest\" or \"fractions\"",
                         o.root ? o.root : o.manifest);
    else if (s == QR_OK && d->train.n == 0)
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: no training clips after the split",
                         o.root ? o.root : o.manifest);
    if (s != QR_OK)
        qr_split_data_free(d);
    return s;
}

QR_API qr_status qr_train_load_data(const qr_train_config *c, qr_split_data *d, qr_error *err)
{
    memset(d, 0, sizeof *d);
    if (c->audio)
        return load_audio(c, d, err);
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

/* `path` (a `role` output) can be replaced atomically: its directory takes a new file and it
 * is not a directory itself. */
static qr_status check_writable(const char *path, const char *role, qr_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return qr_error_set(err, QR_ERR_IO, "%s output %s is a directory; nothing was trained",
                            role, path);
    qr_atomic_file f;
    qr_error e = {{0}};
    if (qr_atomic_open(&f, path, &e) != QR_OK)
        return qr_error_set(err, QR_ERR_IO, "%s output %s cannot be written (%s); nothing was "
                            "trained", role, path, e.msg);
    qr_atomic_abort(&f);
    return QR_OK;
}

QR_API qr_status qr_train_check_outputs(const qr_train_config *c, int resume, qr_error *err)
{
    const struct {
        const char *path, *role;
    } out[] = {{c->model_path, "the model"},
               {c->checkpoint_every || resume ? c->checkpoint_path : NULL, "the checkpoint"},
               {c->log_path, "the log"},
               {c->log_jsonl_path, "the JSON-lines log"},
               {c->quant_log_path, "the quantization log"},
               {c->hist_path, "the histogram log"},
               {c->prune_log_path, "the pruning log"}};
    qr_status s;
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        if (out[i].path && (s = check_writable(out[i].path, out[i].role, err)) != QR_OK)
            return s;
    if (resume) {
        if (!c->checkpoint_path)
            return qr_error_set(err, QR_ERR_STATE, "--resume: the config has no checkpoint path");
        if (access(c->checkpoint_path, F_OK) != 0)
            return qr_error_set(err, QR_ERR_STATE, "--resume: there is no checkpoint %s to resume "
                                "from (%s): the run finished (its checkpoint is removed once the "
                                "model is saved), never wrote one, or wrote it elsewhere "
                                "(output.checkpoint, --out); run without --resume to start over",
                                c->checkpoint_path, strerror(errno));
    }
    return QR_OK;
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
