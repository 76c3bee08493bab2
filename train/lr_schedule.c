/* Learning-rate schedules: linear warm-up, then constant, step, exponential or cosine decay.
 * The rate is a pure function of (epoch, batch), so a resumed run sets the same rates bit for
 * bit. Formulas and their Keras/PyTorch counterparts: docs/optimizers.md. */
#include <math.h>
#include <string.h>
#include "qreg/train.h"

QR_API void qr_lr_schedule_default(qr_lr_schedule *s)
{
    memset(s, 0, sizeof *s);
    s->kind = QR_LR_CONSTANT;
    s->every = 1.0;
    s->gamma = 0.1;
}

QR_API double qr_lr_at(const qr_lr_schedule *s, double lr, size_t epoch, size_t batch,
                       size_t batches, size_t epochs)
{
    if (batches == 0)
        batches = 1;
    size_t e = epoch ? epoch - 1 : 0;                 /* epochs completed */
    double k = (double)e * (double)batches + (double)batch; /* steps completed before this one */
    double w = (double)s->warmup_epochs * (double)batches;  /* warm-up steps */
    if (k < w)
        return lr * (s->warmup_start + (1.0 - s->warmup_start) * k / w);
    /* the decay's clock d starts at the end of the warm-up; D is its length */
    double d, big_d;
    size_t left = epochs > s->warmup_epochs ? epochs - s->warmup_epochs : 0;
    if (s->per_step) {
        d = k - w;
        big_d = (double)left * (double)batches;
    } else {
        d = (double)(e - s->warmup_epochs);
        big_d = (double)left;
    }
    double every = s->every > 0 ? s->every : 1.0;
    switch (s->kind) {
    case QR_LR_STEP:
        return lr * pow(s->gamma, floor(d / every));
    case QR_LR_EXPONENTIAL:
        return lr * pow(s->gamma, d / every);
    case QR_LR_COSINE: {
        double x = big_d > 0 && d < big_d ? d / big_d : 1.0;
        return s->min_lr + (lr - s->min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * x));
    }
    case QR_LR_CONSTANT:
    default:
        return lr;
    }
}

QR_API qr_status qr_lr_schedule_check(const qr_lr_schedule *s, double lr, size_t epochs,
                                      const char **why)
{
    const char *w = NULL;
    if ((unsigned)s->kind > QR_LR_COSINE)
        w = "'optimizer.schedule.name' must be \"constant\", \"step\", \"exponential\" or "
            "\"cosine\"";
    else if (!(s->warmup_start >= 0 && s->warmup_start <= 1))
        w = "'optimizer.schedule.warmup_start' must be in [0, 1]";
    else if (s->warmup_epochs > 0 && s->warmup_epochs >= epochs)
        w = "'optimizer.schedule.warmup_epochs' must be less than the run's (or stage's) epochs";
    else if ((s->kind == QR_LR_STEP || s->kind == QR_LR_EXPONENTIAL) &&
             !(s->gamma > 0 && s->gamma <= 1))
        w = "'optimizer.schedule.gamma' must be in (0, 1]";
    else if ((s->kind == QR_LR_STEP || s->kind == QR_LR_EXPONENTIAL) && !(s->every > 0))
        w = "'optimizer.schedule.every' must be > 0";
    else if (s->kind == QR_LR_COSINE && !(s->min_lr >= 0 && s->min_lr < lr))
        w = "'optimizer.schedule.min_lr' must be >= 0 and below 'optimizer.learning_rate'";
    if (why)
        *why = w;
    return w ? QR_ERR_CONFIG : QR_OK;
}
