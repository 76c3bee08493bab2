/* qreg train CONFIG: train, keep the best model on validation, report test accuracy, save. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "qreg/export.h"
#include "qreg/audio.h"


static const char train_help[] =
    "usage: qreg train CONFIG.json [options]\n"
    "\n"
    "Train the model a JSON config describes (format: docs/config.md), keep the weights of\n"
    "the epoch with the best validation accuracy (of the fake-quantized weights when the\n"
    "config has a \"quantize\" section), print the test accuracy and save the model (a .qrm\n"
    "file, written atomically).\n"
    "\n"
    "options:\n"
    "  --out FILE       where to save the model (default: output.model, or CONFIG's name\n"
    "                   with .qrm in the working directory)\n"
    "  --log FILE       write per-epoch loss and accuracy as CSV\n"
    "  --log-jsonl FILE write the per-epoch log as JSON lines (one object per epoch, with\n"
    "                   stage and learning rate; overrides output.log_jsonl)\n"
    "  --epochs N       override training.epochs (0 with a warm start: evaluate the model\n"
    "                   as loaded under the config's plan; not with \"stages\")\n"
    "  --init MODEL     start from this trained model's parameters, batch-norm statistics and\n"
    "                   standardization (overrides training.init); layer names and parameter\n"
    "                   shapes must match the config's model\n"
    "  --seed N         override training.seed\n"
    "  --threads N      override training.threads (OpenBLAS threads)\n"
    "  --resume         continue from the checkpoint (output.checkpoint, default MODEL.ckpt);\n"
    "                   the result is bit for bit that of an uninterrupted run\n"
    "  --json           print the final result as one JSON object on stdout\n"
    "  --quiet          no progress output\n"
    "  -h, --help       this help\n"
    "\n"
    "A checkpoint is written atomically after every training.checkpoint_every epochs (default\n"
    "1). Ctrl-C stops at the next batch with a checkpoint (a second Ctrl-C kills at once);\n"
    "the exit status is then 130. A non-finite loss stops training with status 1 and keeps\n"
    "the last checkpoint; the model file is written only when training completes. Every\n"
    "output (model, checkpoint, logs) is checked for writing, and with --resume the\n"
    "checkpoint for existence, before the data is loaded.\n"
    "\n"
    "Progress goes to stderr: one line per epoch with its time and an estimate of the time\n"
    "left (eta) over all epochs (of all stages); optimizer.schedule sets the learning rate\n"
    "per epoch or step, and training.early_stopping ends a run (or stage) whose kept-epoch\n"
    "accuracy stopped improving, which is reported.\n"
    "\n"
    "Under a quantization plan, the \"fake-quantized test accuracy\" line gives the drop\n"
    "against this model's own float weights (after regularization); with\n"
    "training.reference_accuracy set (e.g. the 8-bit model's test accuracy) a second line\n"
    "gives the drop against that reference, the cost of quantization that matters.\n";

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C terminates at once */
}

typedef struct progress_ctx {
    int tty, quiet;
    const qr_train_config *c;
    double t_start;        /* when training started in this process */
    size_t steps;          /* optimizer steps done in this process */
} progress_ctx;

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "42s", "3:05", "1:02:03" */
static void fmt_duration(char *out, size_t n, double sec)
{
    long s = sec > 0 ? (long)(sec + 0.5) : 0;
    if (s < 60)
        snprintf(out, n, "%lds", s);
    else if (s < 3600)
        snprintf(out, n, "%ld:%02ld", s / 60, s % 60);
    else
        snprintf(out, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

/* The time left over all epochs of all stages, from the time per step of this process (the
 * validation included); an early stop ends sooner. */
static void fmt_eta(char *out, size_t n, const progress_ctx *ctx, const qr_train_progress *p)
{
    size_t left = p->run_epochs > p->run_epoch ? (p->run_epochs - p->run_epoch) * p->batches : 0;
    if (p->event == QR_TRAIN_BATCH)
        left += p->batches - p->batch;
    if (ctx->steps == 0) {
        snprintf(out, n, "?");
        return;
    }
    fmt_duration(out, n, (mono_seconds() - ctx->t_start) / (double)ctx->steps * (double)left);
}

static void on_progress(void *user, const qr_train_progress *p)
{
    progress_ctx *ctx = user;
    if (p->event == QR_TRAIN_BATCH)
        ctx->steps++;
    if (ctx->quiet)
        return;
    char eta[32];
    if (p->event == QR_TRAIN_EARLY_STOP) {
        const qr_early_stopping *es = ctx->c->n_stages
                                          ? &ctx->c->stages[p->stage - 1].early_stopping
                                          : &ctx->c->early_stopping;
        if (p->stages > 1)
            fprintf(stderr, "stage %zu/%zu ", p->stage, p->stages);
        fprintf(stderr, "early stopping after epoch %zu/%zu: no improvement of %s by more than "
                "%g in %zu epochs\n", p->epoch, p->epochs,
                isnan(p->fq_val_accuracy) ? "val_acc" : "fq_val_acc", es->min_delta,
                es->patience);
        return;
    }
    if (p->event == QR_TRAIN_BATCH) {
        if (!ctx->tty)
            return;
        fmt_eta(eta, sizeof eta, ctx, p);
        int width = 24, done = (int)(width * p->batch / p->batches);
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < done ? '=' : (i == done ? '>' : ' ');
        bar[width] = '\0';
        fprintf(stderr, "\repoch %zu/%zu [%s] %zu/%zu  loss %.4f  acc %.4f  eta %s ", p->epoch,
                p->epochs, bar, p->batch, p->batches, p->loss, p->accuracy, eta);
        fflush(stderr);
        return;
    }
    if (ctx->tty)
        fprintf(stderr, "\r\033[K");
    if (p->event == QR_TRAIN_STAGE) {
        fprintf(stderr, "stage %zu/%zu kept epoch %zu", p->stage, p->stages, p->epoch);
        if (!isnan(p->val_accuracy))
            fprintf(stderr, "  val_acc %.4f", p->val_accuracy);
        if (!isnan(p->fq_val_accuracy))
            fprintf(stderr, "  fq_val_acc %.4f", p->fq_val_accuracy);
        fprintf(stderr, "  (%.1fs)\n", p->seconds);
        return;
    }
    if (p->stages > 1)
        fprintf(stderr, "stage %zu/%zu ", p->stage, p->stages);
    fprintf(stderr, "epoch %zu/%zu  loss %.4f  acc %.4f", p->epoch, p->epochs, p->loss,
            p->accuracy);
    if (p->penalty > 0)
        fprintf(stderr, "  penalty %.4g", p->penalty);
    if (!isnan(p->val_accuracy))
        fprintf(stderr, "  val_loss %.4f  val_acc %.4f", p->val_loss, p->val_accuracy);
    if (!isnan(p->fq_val_accuracy))
        fprintf(stderr, "  fq_val_acc %.4f", p->fq_val_accuracy);
    if (!isnan(p->val_accuracy))
        fprintf(stderr, "%s", p->improved ? "  *" : "");
    fmt_eta(eta, sizeof eta, ctx, p);
    fprintf(stderr, "  (%.1fs, eta %s)\n", p->epoch_seconds, eta);
}

int qr_cmd_train(int argc, char **argv)
{
    const char *config = NULL, *out = NULL, *log = NULL, *jlog = NULL, *init = NULL, *v;
    size_t epochs = 0, seed = 0, threads = 0;
    int have_seed = 0, have_epochs = 0, json = 0, quiet = 0, resume = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(train_help, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--resume") == 0) {
            resume = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!(out = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--log", &v)) {
            if (!(log = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--log-jsonl", &v)) {
            if (!(jlog = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--epochs", &v)) {
            if (qr_cli_size(v, &epochs))
                goto bad;
            have_epochs = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--init", &v)) {
            if (!(init = v) || !*v)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--seed", &v)) {
            if (qr_cli_size(v, &seed))
                goto bad;
            have_seed = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--threads", &v)) {
            if (qr_cli_size(v, &threads) || threads == 0 || threads > 256)
                goto bad;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg train: unknown option '%s' (see qreg train --help)\n", a);
            return 2;
        } else if (!config) {
            config = a;
        } else {
            fprintf(stderr, "qreg train: more than one config given ('%s')\n", a);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg train: option '%s' needs a valid value (see qreg train --help)\n", a);
        return 2;
    }
    if (!config) {
        fputs(train_help, stderr);
        return 2;
    }
    qr_error err = {{0}};
    qr_train_config c;
    if (qr_train_config_load(config, &c, &err) != QR_OK) {
        fprintf(stderr, "qreg train: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    if (c.audio)
        c.audio->warn = qr_cli_audio_warning;
    if (have_epochs && epochs == 0 && !init && !c.init_path) {
        fprintf(stderr, "qreg train: option '--epochs' 0 needs a warm start (--init MODEL or "
                        "training.init)\n");
        qr_train_config_free(&c);
        return 2;
    }
    if (have_epochs && c.n_stages) {
        fprintf(stderr, "qreg train: --epochs does not apply to a config with \"stages\" (each "
                        "stage sets its own epochs)\n");
        qr_train_config_free(&c);
        return 2;
    }
    if (have_epochs)
        c.epochs = epochs;
    if (init) {
        free(c.init_path);
        if (!(c.init_path = strdup(init))) {
            fprintf(stderr, "qreg train: out of memory\n");
            qr_train_config_free(&c);
            return 1;
        }
    }
    if (have_seed)
        c.seed = seed;
    if (threads)
        c.threads = (int)threads;
    if (out) {
        /* a checkpoint path derived from the old model path follows the new one */
        int derived = c.checkpoint_path && strlen(c.checkpoint_path) == strlen(c.model_path) + 5 &&
                      strncmp(c.checkpoint_path, c.model_path, strlen(c.model_path)) == 0;
        free(c.model_path);
        c.model_path = strdup(out);
        if (c.model_path && derived && qr_train_config_default_checkpoint(&c) != QR_OK) {
            fprintf(stderr, "qreg train: out of memory\n");
            qr_train_config_free(&c);
            return 1;
        }
    }
    if (log) {
        free(c.log_path);
        c.log_path = strdup(log);
    }
    if (jlog) {
        free(c.log_jsonl_path);
        c.log_jsonl_path = strdup(jlog);
    }
    qr_split_data d;
    qr_model *m = NULL;
    if (!c.model_path || (log && !c.log_path) || (jlog && !c.log_jsonl_path)) {
        fprintf(stderr, "qreg train: out of memory\n");
        goto done_config;
    }
    /* before loading data (audio can take minutes) and training: an output that cannot be
     * written, or a --resume with nothing to resume, fails now rather than at the end */
    if (qr_train_check_outputs(&c, resume, &err) != QR_OK) {
        fprintf(stderr, "qreg train: %s\n", err.msg);
        goto done_config;
    }
    if (qr_train_load_data(&c, &d, &err) != QR_OK) {
        fprintf(stderr, "qreg train: %s\n", err.msg);
        goto done_config;
    }
    if (!quiet)
        fprintf(stderr, "data: %zu train, %zu validation, %zu test samples of %zu x %zu, "
                        "%zu classes\n", d.train.n, d.val.n, d.test.n, d.train.t, d.train.f,
                d.train.n_classes);
    {   /* a model the device runtime cannot hold is refused now, not at export */
        qr_model_spec sp = c.model;
        qr_error xe = {{0}};
        sp.t = d.train.t;
        sp.f = d.train.f;
        sp.n_classes = d.train.n_classes;
        if (qr_export_check_spec(&sp, &xe) != QR_OK) {
            fprintf(stderr, "qreg train: %s: %s: the model could not run on the device "
                            "(qreg export)\n", config, xe.msg);
            goto done_data;
        }
    }
    progress_ctx ctx = {isatty(STDERR_FILENO), quiet, &c, mono_seconds(), 0};
    qr_train_result r;
    qr_train_control ctl = {resume, &stop_requested};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    qr_status ts = qr_train_ex(&c, &d, &ctl, on_progress, &ctx, &m, &r, &err);
    signal(SIGINT, SIG_DFL);
    if (ts != QR_OK) {
        if (ctx.tty && !quiet)
            fprintf(stderr, "\r\033[K");
        fprintf(stderr, "qreg train: %s\n", err.msg);
        if (stop_requested && ts == QR_ERR_STATE)
            rc = 130;
        goto done_data;
    }
    if (c.audio) { /* the front end is part of the model (docs/format.md, "features") */
        char *fj = qr_audio_features_describe(c.audio, c.standardize);
        qr_status fs = fj ? qr_model_set_features(m, fj) : QR_ERR_NOMEM;
        free(fj);
        if (fs != QR_OK) {
            fprintf(stderr, "qreg train: cannot describe the audio features (%s)\n",
                    qr_strerror(fs));
            goto done_data;
        }
    }
    if (qr_model_save(m, c.model_path, &err) != QR_OK) {
        fprintf(stderr, "qreg train: %s\n", err.msg);
        goto done_data;
    }
    /* the run is complete and saved: its checkpoint has nothing left to resume */
    if (c.checkpoint_path)
        remove(c.checkpoint_path);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", c.model_path);
        cJSON_AddNumberToObject(o, "best_epoch", (double)r.best_epoch);
        /* NaN (no validation or test split) is printed as null */
        cJSON_AddNumberToObject(o, "val_accuracy", r.val_accuracy);
        cJSON_AddNumberToObject(o, "val_loss", r.val_loss);
        cJSON_AddNumberToObject(o, "test_accuracy", r.test_accuracy);
        cJSON_AddNumberToObject(o, "test_loss", r.test_loss);
        cJSON_AddNumberToObject(o, "fq_val_accuracy", r.fq_val_accuracy);
        cJSON_AddNumberToObject(o, "fq_test_accuracy", r.fq_test_accuracy);
        if (!isnan(c.reference_accuracy))
            cJSON_AddNumberToObject(o, "reference_accuracy", c.reference_accuracy);
        const qr_quant_plan *plan = qr_model_quant_plan(m);
        if (plan) {
            double base, bytes = qr_quant_bytes(plan, qr_model_graph(m), &base);
            cJSON_AddNumberToObject(o, "bytes", bytes);
            cJSON_AddNumberToObject(o, "baseline_bytes", base);
        }
        cJSON_AddNumberToObject(o, "seconds", r.seconds);
        if (r.stopped_epoch)
            cJSON_AddNumberToObject(o, "stopped_epoch", (double)r.stopped_epoch);
        else
            cJSON_AddNullToObject(o, "stopped_epoch");
        char *text = cJSON_PrintUnformatted(o);
        if (text)
            printf("%s\n", text);
        free(text);
        cJSON_Delete(o);
    } else {
        /* the quantity that chose the epoch: the fake-quantized validation accuracy with a
         * quantization plan, else the float one */
        if (r.stopped_epoch)
            printf("stopped early after epoch %zu of %zu (training.early_stopping)\n",
                   r.stopped_epoch, c.epochs);
        printf("best epoch: %zu", r.best_epoch);
        if (!isnan(r.fq_val_accuracy))
            printf(" (fake-quantized validation accuracy %.4f; float %.4f)", r.fq_val_accuracy,
                   r.val_accuracy);
        else if (!isnan(r.val_accuracy))
            printf(" (validation accuracy %.4f)", r.val_accuracy);
        printf("\n");
        if (!isnan(r.test_accuracy))
            printf("test accuracy: %.4f (%zu samples), test loss %.4f\n", r.test_accuracy,
                   d.test.n, r.test_loss);
        const qr_quant_plan *plan = qr_model_quant_plan(m);
        if (plan) {
            if (!isnan(r.fq_test_accuracy))
                printf("fake-quantized test accuracy: %.4f (%+.2f points vs this model's float "
                       "weights)\n", r.fq_test_accuracy,
                       100.0 * (r.fq_test_accuracy - r.test_accuracy));
            if (!isnan(r.fq_test_accuracy) && !isnan(c.reference_accuracy))
                printf("drop vs reference accuracy %.4f (training.reference_accuracy): %+.2f "
                       "points\n", c.reference_accuracy,
                       100.0 * (r.fq_test_accuracy - c.reference_accuracy));
            qr_cli_print_quant_report(stdout, plan, m);
        }
        printf("saved model: %s (%.1f s)\n", c.model_path, r.seconds);
    }
    rc = 0;
done_data:
    qr_model_free(m);
    qr_split_data_free(&d);
done_config:
    qr_train_config_free(&c);
    return rc;
}
