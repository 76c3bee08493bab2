/* Checkpoints of the training loop (struct trainer, train/trainer_impl.h): everything a resume
 * needs to continue bit for bit, written atomically at a batch or epoch boundary, and the
 * fingerprint that ties one to its run. Format: docs/format.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/crc32.h"
#include "lib/fileio.h"
#include "train/trainer_impl.h"

/* A fingerprint of everything a checkpoint must agree with to be resumed: the config file,
 * the warm-start model file, epochs (their sum with stages), stages, seed, threads, data. */
uint64_t qr_trainer_fingerprint(const qr_train_config *c, const qr_split_data *d, size_t n_all)
{
    unsigned char *text = NULL;
    size_t len = 0;
    uint32_t crc = 0, init_crc = 0;
    if (c->source && qr_file_read_all(c->source, (size_t)1 << 24, &text, &len, NULL) == QR_OK)
        crc = qr_crc32(text, len);
    free(text);
    text = NULL;
    if (c->init_path && qr_file_read_all(c->init_path, (size_t)1 << 34, &text, &len, NULL) == QR_OK)
        init_crc = qr_crc32(text, len);
    free(text);
    uint64_t v[8] = {crc, c->epochs, c->seed, (uint64_t)c->threads, d->train.n, n_all,
                     init_crc, c->n_stages};
    return ((uint64_t)qr_crc32(v, sizeof v) << 32) | crc;
}

static const unsigned char ckpt_magic[8] = {'Q', 'R', 'C', 'K', 'P', 'T', 0x1a, 0};
#define CKPT_VERSION 4u /* 1: no stages (read as stage 0); 2: no per-channel grid scales,
                            no early stopping, no JSON log; 3: never released */

static void put_f64(qr_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    qr_buf_u64(b, u);
}

static double rd_f64(qr_reader *r)
{
    uint64_t u = qr_rd_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static void put_blob(qr_buf *b, const void *p, size_t n)
{
    qr_buf_u64(b, n);
    qr_buf_put(b, p, n);
}

qr_status qr_trainer_save_checkpoint(trainer *t, qr_error *err)
{
    const qr_train_config *c = t->c;
    if (!c->checkpoint_path) /* a config built in C without one (qr_train_config_init) */
        return qr_error_set(err, QR_ERR_ARG, "training stopped in epoch %zu, but the config "
                            "names no checkpoint_path to save it to", t->epoch);
    qr_buf b = {0};
    qr_buf_put(&b, ckpt_magic, 8);
    qr_buf_u32(&b, CKPT_VERSION);
    qr_buf_u32(&b, (uint32_t)t->stage_no);
    qr_buf_u64(&b, t->fingerprint);
    uint64_t ints[7] = {t->epoch, t->next_batch, t->step, t->correct, t->seen, t->r.best_epoch,
                        qr_optim_iterations(t->opt)};
    for (int i = 0; i < 7; i++)
        qr_buf_u64(&b, ints[i]);
    double reals[8] = {t->sum_loss, t->penalty, t->best_acc, t->r.val_loss, t->r.val_accuracy,
                       t->r.fq_val_accuracy, qr_trainer_now() - t->t0, qr_optim_u_product(t->opt)};
    for (int i = 0; i < 8; i++)
        put_f64(&b, reals[i]);
    for (int i = 0; i < 4; i++)
        qr_buf_u64(&b, t->shuffle.s[i]);
    for (int i = 0; i < 4; i++)
        qr_buf_u64(&b, t->g->rng.s[i]);
    qr_buf_u64(&b, t->n_all);
    qr_buf_f32(&b, t->w, t->n_all);
    qr_buf_f32(&b, t->best, t->n_all);
    qr_buf_u64(&b, t->d->train.n);
    for (size_t i = 0; i < t->d->train.n; i++)
        qr_buf_u64(&b, t->order[i]);
    size_t ns = qr_optim_state_size(t->opt);
    qr_buf_u64(&b, ns);
    qr_buf_f32(&b, qr_optim_state(t->opt), ns);
    size_t np = t->plan ? t->plan->n : 0;
    qr_buf_u64(&b, np);
    for (size_t i = 0; i < np; i++)
        qr_buf_f32(&b, &t->plan->m[i].alpha, 1);
    qr_buf_f32(&b, t->best_alpha, np);
    size_t na = t->plan ? t->plan->n_alphas : 0;
    qr_buf_u64(&b, na);
    if (na) {
        qr_buf_f32(&b, t->plan->alphas, na);
        qr_buf_f32(&b, t->best_alphas, na);
    }
    if (t->pruner)
        put_blob(&b, qr_pruner_mask(t->pruner), t->n_tr);
    else
        put_blob(&b, "", 0);
    put_blob(&b, t->log.data, t->log.len);
    put_blob(&b, t->qlog.data, t->qlog.len);
    put_blob(&b, t->plog.data, t->plog.len);
    char *hist = t->hist ? qr_hist_log_text(t->hist) : NULL;
    put_blob(&b, hist ? hist : "", hist ? strlen(hist) : 0);
    free(hist);
    /* the results of the stages before this one */
    qr_buf_u64(&b, t->stage_no);
    for (size_t i = 0; i < t->stage_no; i++) {
        put_f64(&b, t->sr[i].best_epoch);
        put_f64(&b, t->sr[i].val_accuracy);
        put_f64(&b, t->sr[i].fq_val_accuracy);
    }
    /* version 4 */
    put_f64(&b, t->es_best);
    qr_buf_u64(&b, t->es_wait);
    qr_buf_u64(&b, t->stopped);
    put_blob(&b, t->jlog.data, t->jlog.len);
    qr_status s;
    if (b.nomem) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", c->checkpoint_path);
    } else {
        qr_buf_u32(&b, qr_crc32(b.data, b.len));
        s = qr_trainer_write_buf(&b, c->checkpoint_path, err);
    }
    qr_buf_free(&b);
    return s;
}

/* Read a length-prefixed blob into a qr_buf (replacing its contents). */
static int rd_blob(qr_reader *r, qr_buf *into, size_t max)
{
    uint64_t n = qr_rd_u64(r);
    if (r->bad || n > max || n > r->len - r->pos) {
        r->bad = 1;
        return 0;
    }
    into->len = 0;
    qr_buf_put(into, r->data + r->pos, (size_t)n);
    r->pos += (size_t)n;
    return !into->nomem;
}

qr_status qr_trainer_load_checkpoint(trainer *t, qr_error *err)
{
    const char *path = t->c->checkpoint_path;
    unsigned char *data;
    size_t len;
    qr_status s = qr_file_read_all(path, (size_t)1 << 34, &data, &len, err);
    if (s != QR_OK)
        return s;
    qr_reader r = {data, len, 0, 0};
    unsigned char magic[8];
    s = QR_ERR_FORMAT;
    qr_buf hist = {0};
    if (len < 32 || !qr_rd_bytes(&r, magic, 8) || memcmp(magic, ckpt_magic, 8) != 0) {
        qr_error_set(err, s, "%s: not a qreg checkpoint", path);
        goto done;
    }
    uint32_t stored = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 |
                      (uint32_t)data[len - 2] << 16 | (uint32_t)data[len - 1] << 24;
    if (qr_crc32(data, len - 4) != stored) {
        s = qr_error_set(err, QR_ERR_CHECKSUM, "%s: checksum mismatch (corrupt or truncated "
                         "checkpoint)", path);
        goto done;
    }
    r.len = len - 4;
    uint32_t version = qr_rd_u32(&r), stage = qr_rd_u32(&r);
    if (version < 1 || version > CKPT_VERSION || version == 3 || (version == 1 && stage != 0)) {
        s = qr_error_set(err, QR_ERR_VERSION, "%s: unsupported checkpoint version", path);
        goto done;
    }
    if (qr_rd_u64(&r) != t->fingerprint) {
        s = qr_error_set(err, QR_ERR_STATE, "%s: the checkpoint belongs to another run (config "
                         "file, epochs, seed, threads or data differ); remove it to start over",
                         path);
        goto done;
    }
    uint64_t ints[7];
    double reals[8];
    for (int i = 0; i < 7; i++)
        ints[i] = qr_rd_u64(&r);
    for (int i = 0; i < 8; i++)
        reals[i] = rd_f64(&r);
    qr_rng shuffle, grng;
    for (int i = 0; i < 4; i++)
        shuffle.s[i] = qr_rd_u64(&r);
    for (int i = 0; i < 4; i++)
        grng.s[i] = qr_rd_u64(&r);
    if (r.bad || qr_rd_u64(&r) != t->n_all || !qr_rd_f32(&r, t->w, t->n_all) ||
        !qr_rd_f32(&r, t->best, t->n_all) || qr_rd_u64(&r) != t->d->train.n)
        goto bad;
    for (size_t i = 0; i < t->d->train.n; i++) {
        uint64_t o = qr_rd_u64(&r);
        if (o >= t->d->train.n)
            goto bad;
        t->order[i] = (size_t)o;
    }
    size_t ns = qr_optim_state_size(t->opt), np = t->plan ? t->plan->n : 0;
    if (qr_rd_u64(&r) != ns || !qr_rd_f32(&r, qr_optim_state(t->opt), ns) ||
        qr_rd_u64(&r) != np)
        goto bad;
    for (size_t i = 0; i < np; i++)
        if (!qr_rd_f32(&r, &t->m->quant->m[i].alpha, 1))
            goto bad;
    if (!qr_rd_f32(&r, t->best_alpha, np))
        goto bad;
    size_t na = t->plan ? t->plan->n_alphas : 0;
    if (version >= 4 && (qr_rd_u64(&r) != na ||
                         (na && (!qr_rd_f32(&r, t->m->quant->alphas, na) ||
                                 !qr_rd_f32(&r, t->best_alphas, na)))))
        goto bad;
    if (version < 4 && na)
        goto bad;
    qr_buf mask = {0};
    int ok = rd_blob(&r, &mask, t->n_tr) && mask.len == (t->pruner ? t->n_tr : 0);
    if (ok && t->pruner)
        memcpy(qr_pruner_mask(t->pruner), mask.data, t->n_tr);
    qr_buf_free(&mask);
    if (!ok || !rd_blob(&r, &t->log, (size_t)1 << 30) || !rd_blob(&r, &t->qlog, (size_t)1 << 30) ||
        !rd_blob(&r, &t->plog, (size_t)1 << 30) || !rd_blob(&r, &hist, (size_t)1 << 31))
        goto bad;
    if (stage != t->stage_no || (version >= 2 && qr_rd_u64(&r) != t->stage_no))
        goto bad;
    for (size_t i = 0; version >= 2 && i < t->stage_no; i++) {
        t->sr[i].best_epoch = rd_f64(&r);
        t->sr[i].val_accuracy = rd_f64(&r);
        t->sr[i].fq_val_accuracy = rd_f64(&r);
    }
    double es_best = reals[2];
    uint64_t es_wait = 0, stopped = 0;
    if (version >= 4) {
        es_best = rd_f64(&r);
        es_wait = qr_rd_u64(&r);
        stopped = qr_rd_u64(&r);
        if (!rd_blob(&r, &t->jlog, (size_t)1 << 30) || stopped > t->c->epochs)
            goto bad;
    }
    if (r.bad || r.pos != r.len)
        goto bad;
    if (t->hist && hist.len) {
        qr_buf_put(&hist, "", 1);
        if (hist.nomem || qr_hist_log_restore(t->hist, (const char *)hist.data) != QR_OK)
            goto bad;
    }
    if (ints[0] < 1 || ints[0] > t->c->epochs + 1 || ints[1] > t->batches)
        goto bad;
    t->epoch = ints[0];
    t->next_batch = ints[1];
    t->step = ints[2];
    t->correct = ints[3];
    t->seen = ints[4];
    t->r.best_epoch = ints[5];
    qr_optim_set_iterations(t->opt, ints[6]);
    t->sum_loss = reals[0];
    t->penalty = reals[1];
    t->best_acc = reals[2];
    t->r.val_loss = reals[3];
    t->r.val_accuracy = reals[4];
    t->r.fq_val_accuracy = reals[5];
    t->t0 = qr_trainer_now() - reals[6];
    qr_optim_set_u_product(t->opt, (float)reals[7]);
    t->es_best = es_best;
    t->es_wait = (size_t)es_wait;
    t->stopped = (size_t)stopped;
    t->shuffle = shuffle;
    t->g->rng = grng;
    s = QR_OK;
    goto done;
bad:
    s = qr_error_set(err, QR_ERR_FORMAT, "%s: malformed checkpoint", path);
done:
    qr_buf_free(&hist);
    free(data);
    return s;
}

/* The stage index a checkpoint was written in (its header; the rest is checked on load). */
qr_status qr_trainer_checkpoint_stage(const char *path, size_t stages, size_t *stage, qr_error *err)
{
    unsigned char *data;
    size_t len;
    qr_status s = qr_file_read_all(path, (size_t)1 << 34, &data, &len, err);
    if (s != QR_OK)
        return s;
    qr_reader r = {data, len, 0, 0};
    unsigned char magic[8];
    uint32_t version = 0, st = 0;
    if (len >= 32 && qr_rd_bytes(&r, magic, 8) && memcmp(magic, ckpt_magic, 8) == 0) {
        version = qr_rd_u32(&r);
        st = qr_rd_u32(&r);
    }
    free(data);
    if (version == 0)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: not a qreg checkpoint", path);
    if (st >= stages)
        return qr_error_set(err, QR_ERR_STATE, "%s: the checkpoint belongs to another run (stage "
                            "%u of %zu); remove it to start over", path, st + 1, stages);
    *stage = st;
    return QR_OK;
}
