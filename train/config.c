/* The training config: strict JSON, every key known, every error naming its key. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "datasets/audio_impl.h"
#include "lib/json_util.h"
#include "qreg/train.h"

/* The data directory dataset scripts write to: $QREG_DATA, else ~/.local/share/qreg/data. */
static char *data_dir(void)
{
    const char *env = getenv("QREG_DATA"), *home = getenv("HOME");
    if (env && *env)
        return strdup(env);
    const char *tail = "/.local/share/qreg/data";
    if (!home || !*home)
        home = ".";
    char *out = malloc(strlen(home) + strlen(tail) + 1);
    if (out) {
        strcpy(out, home);
        strcat(out, tail);
    }
    return out;
}

/* A data path of the config: "${QREG_DATA}/..." expands to the data directory; other
 * relative paths are taken relative to the config file's directory. Caller frees. */
static char *resolve(const char *path, const char *rel)
{
    static const char var[] = "${QREG_DATA}";
    if (strncmp(rel, var, sizeof var - 1) == 0) {
        char *dir = data_dir();
        if (!dir)
            return NULL;
        const char *tail = rel + sizeof var - 1;
        char *out = malloc(strlen(dir) + strlen(tail) + 1);
        if (out) {
            strcpy(out, dir);
            strcat(out, tail);
        }
        free(dir);
        return out;
    }
    if (rel[0] == '/')
        return strdup(rel);
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    char *out = malloc(dlen + strlen(rel) + 1);
    if (!out)
        return NULL;
    memcpy(out, path, dlen);
    strcpy(out + dlen, rel);
    return out;
}

static qr_status dup_or_fail(char **dst, const char *src, const char *where, qr_error *err)
{
    *dst = strdup(src);
    return *dst ? QR_OK : qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
}

/* "data": {"audio": {...}, "standardize": ...}: WAV folders or a manifest (docs/audio.md). */
static qr_status parse_data_audio(qr_train_config *c, const cJSON *d, const char *where,
                                  qr_error *err)
{
    static const char *const keys[] = {"audio", "standardize", NULL};
    qr_status s = qr_json_check_keys(d, keys, where, "data", err);
    if (s == QR_OK)
        s = qr_json_get_bool(d, "standardize", &c->standardize, where, "data", err);
    if (s == QR_OK)
        s = qr_audio_options_parse(cJSON_GetObjectItemCaseSensitive(d, "audio"), resolve, where,
                                   &c->audio, err);
    return s;
}

static qr_status parse_data(qr_train_config *c, const cJSON *d, const char *where, qr_error *err)
{
    if (cJSON_GetObjectItemCaseSensitive(d, "audio"))
        return parse_data_audio(c, d, where, err);
    static const char *const keys[] = {"train", "validation", "test", "label", "header",
                                       "sequence", "validation_split", "test_split",
                                       "standardize", NULL};
    qr_status s = qr_json_check_keys(d, keys, where, "data", err);
    if (s != QR_OK)
        return s;
    const char *train = NULL, *val = NULL, *test = NULL;
    if ((s = qr_json_get_string(d, "train", &train, where, "data", err)) ||
        (s = qr_json_get_string(d, "validation", &val, where, "data", err)) ||
        (s = qr_json_get_string(d, "test", &test, where, "data", err)))
        return s;
    if (!train)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'data.train' (a CSV file) is missing", where);
    const char *paths[3] = {train, val, test};
    static const char *const keys3[3] = {"train", "validation", "test"};
    for (int i = 0; i < 3; i++)
        if (paths[i] && !*paths[i])
            return qr_error_set(err, QR_ERR_CONFIG, "%s: 'data.%s' is empty", where, keys3[i]);
    char **dst[3] = {&c->train_path, &c->val_path, &c->test_path};
    for (int i = 0; i < 3; i++)
        if (paths[i] && !(*dst[i] = resolve(where, paths[i])))
            return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(d, "label");
    if (label) {
        if (cJSON_IsString(label)) {
            if ((s = dup_or_fail(&c->label_name, label->valuestring, where, err)))
                return s;
        } else if ((s = qr_json_get_int(d, "label", -100000, 100000, &c->label_index, where,
                                        "data", err))) {
            return qr_error_set(err, QR_ERR_CONFIG,
                                "%s: 'data.label' must be a column name or a column index", where);
        }
    }
    const cJSON *header = cJSON_GetObjectItemCaseSensitive(d, "header");
    if (header) {
        if (cJSON_IsString(header) && strcmp(header->valuestring, "auto") == 0)
            c->header = -1;
        else if (cJSON_IsBool(header))
            c->header = cJSON_IsTrue(header);
        else
            return qr_error_set(err, QR_ERR_CONFIG,
                                "%s: 'data.header' must be true, false or \"auto\"", where);
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(d, "sequence");
    if (seq) {
        const cJSON *t = cJSON_GetArrayItem(seq, 0), *f = cJSON_GetArrayItem(seq, 1);
        if (!cJSON_IsArray(seq) || cJSON_GetArraySize(seq) != 2 || !cJSON_IsNumber(t) ||
            !cJSON_IsNumber(f) || t->valuedouble < 1 || f->valuedouble < 1 ||
            t->valuedouble > 1e6 || f->valuedouble > 1e6 ||
            t->valuedouble != (double)(size_t)t->valuedouble ||
            f->valuedouble != (double)(size_t)f->valuedouble)
            return qr_error_set(err, QR_ERR_CONFIG,
                                "%s: 'data.sequence' must be [steps, features] (positive integers)",
                                where);
        c->t = (size_t)t->valuedouble;
        c->f = (size_t)f->valuedouble;
    }
    if ((s = qr_json_get_double(d, "validation_split", 0, 0.9, &c->val_split, where, "data",
                                err)) ||
        (s = qr_json_get_double(d, "test_split", 0, 0.9, &c->test_split, where, "data", err)) ||
        (s = qr_json_get_bool(d, "standardize", &c->standardize, where, "data", err)))
        return s;
    if (c->val_split + c->test_split >= 0.95)
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: 'data.validation_split' + 'data.test_split' must be below 0.95",
                            where);
    /* a split from the training file is only used where no separate file is named */
    if (c->val_path && cJSON_GetObjectItemCaseSensitive(d, "validation_split"))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: give 'data.validation' or 'data.validation_split', not both", where);
    if (c->test_path && cJSON_GetObjectItemCaseSensitive(d, "test_split"))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: give 'data.test' or 'data.test_split', not both", where);
    if (c->val_path)
        c->val_split = 0;
    if (c->test_path)
        c->test_split = 0;
    return QR_OK;
}

/* "optimizer.schedule": {"name", "per", "warmup_epochs", "warmup_start", "every", "gamma",
 * "min_lr"}; keys of another kind of schedule are refused, naming them. */
static qr_status parse_lr_schedule(qr_lr_schedule *ls, const cJSON *o, const char *where,
                                   qr_error *err)
{
    static const char *const keys[] = {"name", "per", "warmup_epochs", "warmup_start", "every",
                                       "gamma", "min_lr", NULL};
    static const char *const names[] = {"constant", "step", "exponential", "cosine", NULL};
    static const char *const pers[] = {"epoch", "step", NULL};
    const char *path = "optimizer.schedule";
    qr_lr_schedule_default(ls);
    if (!cJSON_IsObject(o))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' must be an object", where, path);
    qr_status s = qr_json_check_keys(o, keys, where, path, err);
    int kind = QR_LR_CONSTANT, per = 0;
    if (s || (s = qr_json_get_choice(o, "name", names, &kind, where, path, err)) ||
        (s = qr_json_get_choice(o, "per", pers, &per, where, path, err)) ||
        (s = qr_json_get_size(o, "warmup_epochs", 0, 1000000, &ls->warmup_epochs, where, path,
                              err)) ||
        (s = qr_json_get_double(o, "warmup_start", 0, 1, &ls->warmup_start, where, path, err)) ||
        (s = qr_json_get_double(o, "every", 1e-9, 1e12, &ls->every, where, path, err)) ||
        (s = qr_json_get_double(o, "gamma", 1e-12, 1, &ls->gamma, where, path, err)) ||
        (s = qr_json_get_double(o, "min_lr", 0, 10, &ls->min_lr, where, path, err)))
        return s;
    if (!cJSON_GetObjectItemCaseSensitive(o, "name"))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.name' is missing (\"constant\", "
                            "\"step\", \"exponential\" or \"cosine\")", where, path);
    ls->kind = (qr_lr_kind)kind;
    ls->per_step = per;
    int decays = kind == QR_LR_STEP || kind == QR_LR_EXPONENTIAL;
    if (!decays && (cJSON_GetObjectItemCaseSensitive(o, "every") ||
                    cJSON_GetObjectItemCaseSensitive(o, "gamma")))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.%s' applies to the step and exponential "
                            "schedules only", where, path,
                            cJSON_GetObjectItemCaseSensitive(o, "every") ? "every" : "gamma");
    if (kind != QR_LR_COSINE && cJSON_GetObjectItemCaseSensitive(o, "min_lr"))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.min_lr' applies to the cosine schedule "
                            "only", where, path);
    if (kind == QR_LR_STEP && !cJSON_GetObjectItemCaseSensitive(o, "every"))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.every' is missing (the step schedule "
                            "decays by gamma every that many epochs, or steps with \"per\": "
                            "\"step\")", where, path);
    if (kind == QR_LR_EXPONENTIAL && !cJSON_GetObjectItemCaseSensitive(o, "gamma"))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.gamma' is missing (the exponential "
                            "schedule's factor per epoch, or per step with \"per\": \"step\")",
                            where, path);
    if (!cJSON_GetObjectItemCaseSensitive(o, "warmup_epochs") &&
        cJSON_GetObjectItemCaseSensitive(o, "warmup_start"))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.warmup_start' needs 'warmup_epochs'",
                            where, path);
    return QR_OK;
}

/* The checks of a schedule that need the epochs and the learning rate. */
static qr_status check_lr_schedule(const qr_lr_schedule *ls, float lr, size_t epochs,
                                   const char *where, qr_error *err)
{
    const char *why;
    if (qr_lr_schedule_check(ls, lr, epochs, &why) != QR_OK)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: %s (%zu epochs)", where, why, epochs);
    return QR_OK;
}

/* "early_stopping": {"patience", "min_delta"} in `path` ("training" or "stages[k]"). */
static qr_status parse_early_stopping(qr_early_stopping *es, const cJSON *o, const char *where,
                                      const char *path, qr_error *err)
{
    char key[64];
    snprintf(key, sizeof key, "%s.early_stopping", path);
    memset(es, 0, sizeof *es);
    if (cJSON_IsFalse(o))
        return QR_OK;
    if (!cJSON_IsObject(o))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' must be an object {\"patience\": N, "
                            "\"min_delta\": d}%s", where, key,
                            strcmp(path, "training") ? " or false" : "");
    static const char *const keys[] = {"patience", "min_delta", NULL};
    qr_status s = qr_json_check_keys(o, keys, where, key, err);
    if (s || (s = qr_json_get_size(o, "patience", 1, 1000000, &es->patience, where, key, err)) ||
        (s = qr_json_get_double(o, "min_delta", 0, 1, &es->min_delta, where, key, err)))
        return s;
    if (!es->patience)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.patience' is missing (epochs without "
                            "improvement before training stops, 1 or more)", where, key);
    return QR_OK;
}

static qr_status parse_optimizer(qr_train_config *c, const cJSON *o, const char *where,
                                 qr_error *err)
{
    static const char *const keys[] = {"name", "learning_rate", "momentum", "nesterov",
                                       "beta_1", "beta_2", "epsilon", "clipnorm",
                                       "weight_decay", "schedule", NULL};
    static const char *const names[] = {"sgd", "adam", "nadam", NULL};
    qr_status s = qr_json_check_keys(o, keys, where, "optimizer", err);
    if (s != QR_OK)
        return s;
    int kind = QR_OPTIM_ADAM;
    if ((s = qr_json_get_choice(o, "name", names, &kind, where, "optimizer", err)))
        return s;
    qr_optim_config_default(&c->optim, (qr_optim_kind)kind);
    qr_optim_config *p = &c->optim;
    if ((s = qr_json_get_float(o, "learning_rate", 0, 10, &p->lr, where, "optimizer", err)) ||
        (s = qr_json_get_float(o, "momentum", 0, 0.999999, &p->momentum, where, "optimizer",
                               err)) ||
        (s = qr_json_get_bool(o, "nesterov", &p->nesterov, where, "optimizer", err)) ||
        (s = qr_json_get_float(o, "beta_1", 0, 0.999999, &p->beta1, where, "optimizer", err)) ||
        (s = qr_json_get_float(o, "beta_2", 0, 0.999999999, &p->beta2, where, "optimizer",
                               err)) ||
        (s = qr_json_get_float(o, "epsilon", 0, 1, &p->eps, where, "optimizer", err)) ||
        (s = qr_json_get_float(o, "clipnorm", 0, 1e9, &c->clip_norm, where, "optimizer",
                               err)) ||
        (s = qr_json_get_float(o, "weight_decay", 0, 1, &c->weight_decay, where, "optimizer",
                               err)))
        return s;
    /* the getter's range is inclusive: 0 would pass, and train nothing at all */
    if (!(p->lr > 0.0f))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'optimizer.learning_rate' must be > 0 (0 "
                            "would leave the weights where they start)", where);
    if (kind != QR_OPTIM_SGD && (cJSON_GetObjectItemCaseSensitive(o, "momentum") ||
                                 cJSON_GetObjectItemCaseSensitive(o, "nesterov")))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: 'optimizer.momentum'/'nesterov' apply to sgd only", where);
    if (kind == QR_OPTIM_SGD && (cJSON_GetObjectItemCaseSensitive(o, "beta_1") ||
                                 cJSON_GetObjectItemCaseSensitive(o, "beta_2") ||
                                 cJSON_GetObjectItemCaseSensitive(o, "epsilon")))
        return qr_error_set(err, QR_ERR_CONFIG,
                            "%s: 'optimizer.beta_1'/'beta_2'/'epsilon' apply to adam and nadam",
                            where);
    if (qr_optim_config_check(p) != QR_OK)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'optimizer' values out of range", where);
    qr_lr_schedule_default(&c->lr_schedule);
    const cJSON *sched = cJSON_GetObjectItemCaseSensitive(o, "schedule");
    if (sched && (s = parse_lr_schedule(&c->lr_schedule, sched, where, err)))
        return s;
    return QR_OK;
}

static qr_status parse_training(qr_train_config *c, const cJSON *o, const char *where,
                                qr_error *err)
{
    static const char *const keys[] = {"epochs", "batch_size", "seed", "threads",
                                       "checkpoint_every", "init", "reference_accuracy",
                                       "early_stopping", NULL};
    qr_status s = qr_json_check_keys(o, keys, where, "training", err);
    if (s != QR_OK)
        return s;
    long threads = c->threads;
    double seed = (double)c->seed;
    const char *init = NULL;
    if ((s = qr_json_get_string(o, "init", &init, where, "training", err)))
        return s;
    if (init && !*init)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'training.init' is empty", where);
    if (init && !(c->init_path = resolve(where, init)))
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    /* 0 epochs: a warm start evaluated as it is (checked when training starts, as --init
     * may supply the model) */
    if ((s = qr_json_get_size(o, "epochs", 0, 1000000, &c->epochs, where, "training", err)) ||
        (s = qr_json_get_double(o, "reference_accuracy", 0, 1, &c->reference_accuracy, where,
                                "training", err)) ||
        (s = qr_json_get_size(o, "batch_size", 1, 65536, &c->batch_size, where, "training",
                              err)) ||
        (s = qr_json_get_double(o, "seed", 0, 9007199254740991.0, &seed, where, "training",
                                err)) ||
        (s = qr_json_get_int(o, "threads", 1, 256, &threads, where, "training", err)) ||
        (s = qr_json_get_size(o, "checkpoint_every", 0, 1000000, &c->checkpoint_every, where,
                              "training", err)))
        return s;
    if (seed != (double)(uint64_t)seed)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'training.seed' must be an integer", where);
    if (c->epochs == 0 && !init)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'training.epochs' must be at least 1 (0 "
                            "only with 'training.init': a warm start evaluated as loaded)", where);
    c->seed = (uint64_t)seed;
    c->threads = (int)threads;
    const cJSON *es = cJSON_GetObjectItemCaseSensitive(o, "early_stopping");
    if (es && (cJSON_IsFalse(es) ? (s = qr_error_set(err, QR_ERR_CONFIG, "%s: "
                                    "'training.early_stopping' must be an object {\"patience\": "
                                    "N, \"min_delta\": d}", where))
                                 : (s = parse_early_stopping(&c->early_stopping, es, where,
                                                             "training", err))))
        return s;
    return QR_OK;
}

static qr_status parse_distill(qr_train_config *c, const cJSON *o, const char *where,
                               qr_error *err)
{
    static const char *const keys[] = {"teacher", "logits", "alpha", "temperature", "t2", NULL};
    qr_status s = qr_json_check_keys(o, keys, where, "distill", err);
    const char *teacher = NULL, *logits = NULL;
    if (s || (s = qr_json_get_string(o, "teacher", &teacher, where, "distill", err)) ||
        (s = qr_json_get_string(o, "logits", &logits, where, "distill", err)) ||
        (s = qr_json_get_float(o, "alpha", 0, 1, &c->kd_alpha, where, "distill", err)) ||
        (s = qr_json_get_float(o, "temperature", 1e-3, 1e3, &c->kd_temperature, where, "distill",
                               err)) ||
        (s = qr_json_get_bool(o, "t2", &c->kd_t2, where, "distill", err)))
        return s;
    if (!teacher == !logits)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'distill' needs exactly one of 'teacher' (a "
                            "model file) and 'logits' (a file of teacher logits)", where);
    char **dst = teacher ? &c->teacher_path : &c->teacher_logits_path;
    if (!(*dst = resolve(where, teacher ? teacher : logits)))
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    c->distill = 1;
    return QR_OK;
}

static qr_status parse_output(qr_train_config *c, const cJSON *o, const char *where,
                              qr_error *err)
{
    static const char *const keys[] = {"model", "log", "quant_log", "histograms",
                                       "histogram_epochs", "prune_log", "checkpoint",
                                       "log_jsonl", NULL};
    qr_status s = qr_json_check_keys(o, keys, where, "output", err);
    const char *model = NULL, *log = NULL, *qlog = NULL, *hist = NULL;
    if (s || (s = qr_json_get_string(o, "model", &model, where, "output", err)) ||
        (s = qr_json_get_string(o, "log", &log, where, "output", err)) ||
        (s = qr_json_get_string(o, "quant_log", &qlog, where, "output", err)) ||
        (s = qr_json_get_string(o, "histograms", &hist, where, "output", err)))
        return s;
    if (hist && *hist && (s = dup_or_fail(&c->hist_path, hist, where, err)))
        return s;
    const char *plog = NULL, *ckpt = NULL, *jlog = NULL;
    if ((s = qr_json_get_string(o, "log_jsonl", &jlog, where, "output", err)))
        return s;
    if (jlog && *jlog && (s = dup_or_fail(&c->log_jsonl_path, jlog, where, err)))
        return s;
    if ((s = qr_json_get_string(o, "prune_log", &plog, where, "output", err)) ||
        (s = qr_json_get_string(o, "checkpoint", &ckpt, where, "output", err)))
        return s;
    if (ckpt && *ckpt && (s = dup_or_fail(&c->checkpoint_path, ckpt, where, err)))
        return s;
    if (plog && *plog && (s = dup_or_fail(&c->prune_log_path, plog, where, err)))
        return s;
    const cJSON *he = cJSON_GetObjectItemCaseSensitive(o, "histogram_epochs");
    if (he) {
        size_t n = cJSON_IsArray(he) ? (size_t)cJSON_GetArraySize(he) : 0;
        if (n == 0 || n > 64)
            return qr_error_set(err, QR_ERR_CONFIG, "%s: 'output.histogram_epochs' must be a list "
                                "of 1 to 64 epoch numbers", where);
        if (!(c->hist_epochs = calloc(n, sizeof *c->hist_epochs)))
            return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
        c->n_hist_epochs = n;
        size_t i = 0;
        for (const cJSON *it = he->child; it; it = it->next, i++) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e7 ||
                it->valuedouble != (double)(size_t)it->valuedouble)
                return qr_error_set(err, QR_ERR_CONFIG, "%s: 'output.histogram_epochs[%zu]' must "
                                    "be a whole number >= 0", where, i);
            c->hist_epochs[i] = (size_t)it->valuedouble;
        }
    }
    if (qlog && *qlog && (s = dup_or_fail(&c->quant_log_path, qlog, where, err)))
        return s;
    if (model && !*model)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'output.model' is empty", where);
    if (model && (s = dup_or_fail(&c->model_path, model, where, err)))
        return s;
    if (log && *log && (s = dup_or_fail(&c->log_path, log, where, err)))
        return s;
    return QR_OK;
}

/* "<dir>/name.json" -> "name.qrm" in the working directory. */
static char *default_model_path(const char *config)
{
    const char *base = strrchr(config, '/');
    base = base ? base + 1 : config;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    char *out = malloc(n + 5);
    if (out) {
        memcpy(out, base, n);
        strcpy(out + n, ".qrm");
    }
    return out;
}

/* A copy of `base` (or an empty object) with the keys of `over` replacing its own; the list
 * `append` (if named) of `over` is appended to base's instead. NULL when out of memory. */
static cJSON *merge_section(const cJSON *base, const cJSON *over, const char *append)
{
    cJSON *out = base ? cJSON_Duplicate(base, 1) : cJSON_CreateObject();
    if (!out)
        return NULL;
    for (const cJSON *it = over ? over->child : NULL; it; it = it->next) {
        cJSON *mine = cJSON_GetObjectItemCaseSensitive(out, it->string);
        if (append && strcmp(it->string, append) == 0 && cJSON_IsArray(mine) &&
            cJSON_IsArray(it)) {
            for (const cJSON *e = it->child; e; e = e->next) {
                cJSON *dup = cJSON_Duplicate(e, 1);
                if (!dup || !cJSON_AddItemToArray(mine, dup)) {
                    cJSON_Delete(dup);
                    cJSON_Delete(out);
                    return NULL;
                }
            }
            continue;
        }
        cJSON *dup = cJSON_Duplicate(it, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(out, it->string);
        if (!dup || !cJSON_AddItemToObject(out, it->string, dup)) {
            cJSON_Delete(dup);
            cJSON_Delete(out);
            return NULL;
        }
    }
    return out;
}

/* A "quantize" section: its plan, and "bn_reestimate" (a trainer option, not part of the
 * plan). `t_final` is the run's epoch count. */
static qr_status parse_quantize(const cJSON *q, const qr_model_spec *spec, size_t epochs,
                                qr_quant_plan *plan, int *bn, const char *where, qr_error *err)
{
    qr_status s = qr_json_check_keys(q, (const char *const[]){"lambda", "reduction", "schedule",
                                     "per", "near_eps", "lambda_norm", "matrices",
                                     "bn_reestimate", "activations", NULL},
                                     where, "quantize", err);
    if (s || (s = qr_json_get_bool(q, "bn_reestimate", bn, where, "quantize", err)))
        return s;
    /* activations only (parse_activations): no weight plan */
    if (cJSON_GetObjectItemCaseSensitive(q, "activations") &&
        !cJSON_GetObjectItemCaseSensitive(q, "matrices"))
        return QR_OK;
    cJSON *copy = cJSON_Duplicate(q, 1);
    if (!copy)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "bn_reestimate");
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "activations");
    /* per-step schedules are checked against the real step count when training starts */
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(copy, "per");
    int per_step = cJSON_IsString(per) && strcmp(per->valuestring, "step") == 0;
    if ((s = qr_quant_plan_init(plan, spec)) != QR_OK)
        qr_error_set(err, s, "%s: out of memory", where);
    else
        s = qr_quant_plan_parse(plan, copy, spec, per_step ? 1e12 : (double)(epochs ? epochs : 1),
                                where, err);
    cJSON_Delete(copy);
    return s;
}

/* "quantize.activations": {"bits", "momentum"} of the top-level quantize section: activation
 * fake quantization is part of the model's graph, the same in every stage. */
static qr_status parse_activations(qr_train_config *c, const cJSON *q, const char *path,
                                   qr_error *err)
{
    const cJSON *a = q ? cJSON_GetObjectItemCaseSensitive(q, "activations") : NULL;
    if (!a || cJSON_IsFalse(a))
        return QR_OK;
    if (!cJSON_IsObject(a))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'quantize.activations' must be an object "
                            "such as {\"bits\": 8} or false", path);
    static const char *const keys[] = {"bits", "momentum", NULL};
    long bits = 0;
    double mom = 0.99;
    qr_status s;
    if ((s = qr_json_check_keys(a, keys, path, "quantize.activations", err)) ||
        (s = qr_json_get_int(a, "bits", 2, 16, &bits, path, "quantize.activations", err)) ||
        (s = qr_json_get_double(a, "momentum", 0.0, 0.999999, &mom, path,
                                "quantize.activations", err)))
        return s;
    if (!cJSON_GetObjectItemCaseSensitive(a, "bits"))
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'quantize.activations.bits' is missing (2 "
                            "to 16; 8 for the int8 tensors of the device)", path);
    c->act_bits = (int)bits;
    c->act_momentum = (float)mom;
    return QR_OK;
}

/* "stages": [{"epochs", "optimizer", "quantize", "prune"}, ...]. A stage's optimizer with a
 * "name" replaces the top-level one, without it overrides the top-level keys; its quantize
 * keys override the top-level section's and its matrices entries follow the top-level ones
 * (false: no plan); its prune section replaces the top-level one (false: none). */
static qr_status parse_stages(qr_train_config *c, const cJSON *root, const cJSON *stages,
                              const char *path, qr_error *err)
{
    size_t n = cJSON_IsArray(stages) ? (size_t)cJSON_GetArraySize(stages) : 0;
    if (n == 0 || n > 64)
        return qr_error_set(err, QR_ERR_CONFIG, "%s: 'stages' must be a list of 1 to 64 stage "
                            "objects", path);
    if (!(c->stages = calloc(n, sizeof *c->stages)))
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    c->n_stages = n;
    const cJSON *top_opt = cJSON_GetObjectItemCaseSensitive(root, "optimizer");
    const cJSON *top_q = cJSON_GetObjectItemCaseSensitive(root, "quantize");
    const cJSON *top_p = cJSON_GetObjectItemCaseSensitive(root, "prune");
    static const char *const keys[] = {"epochs", "optimizer", "quantize", "prune",
                                       "early_stopping", "dropout", NULL};
    size_t k = 0, total = 0;
    qr_status s = QR_OK;
    for (const cJSON *st = stages->child; st && s == QR_OK; st = st->next, k++) {
        qr_train_stage *g = &c->stages[k];
        char where[512], key[32];
        snprintf(where, sizeof where, "%s: stages[%zu]", path, k);
        snprintf(key, sizeof key, "stages[%zu]", k);
        if ((s = qr_json_check_keys(st, keys, path, key, err)))
            break;
        g->epochs = 0;
        if ((s = qr_json_get_size(st, "epochs", 1, 1000000, &g->epochs, path, key, err)))
            break;
        if (g->epochs == 0) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.epochs' is missing (1 or more)", path,
                             key);
            break;
        }
        total += g->epochs;
        int dropout = 1;
        if ((s = qr_json_get_bool(st, "dropout", &dropout, path, key, err)))
            break;
        g->dropout_off = !dropout;
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(st, "optimizer");
        g->optim = c->optim;
        g->lr_schedule = c->lr_schedule;
        g->clip_norm = c->clip_norm;
        g->weight_decay = c->weight_decay;
        g->early_stopping = c->early_stopping;
        const cJSON *es = cJSON_GetObjectItemCaseSensitive(st, "early_stopping");
        if (es && (s = parse_early_stopping(&g->early_stopping, es, path, key, err)))
            break;
        if (o) {
            int fresh = !cJSON_IsObject(o) || cJSON_GetObjectItemCaseSensitive(o, "name");
            cJSON *merged = fresh ? cJSON_Duplicate(o, 1) : merge_section(top_opt, o, NULL);
            qr_train_config tmp;
            memset(&tmp, 0, sizeof tmp);
            if (!merged)
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            else if ((s = parse_optimizer(&tmp, merged, where, err)) == QR_OK) {
                g->optim = tmp.optim;
                g->lr_schedule = tmp.lr_schedule;
                g->clip_norm = tmp.clip_norm;
                g->weight_decay = tmp.weight_decay;
            }
            cJSON_Delete(merged);
            if (s)
                break;
        }
        if ((s = check_lr_schedule(&g->lr_schedule, g->optim.lr, g->epochs, where, err)))
            break;
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(st, "quantize");
        if (q && !cJSON_IsFalse(q) && !cJSON_IsObject(q)) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.quantize' must be an object or false",
                             path, key);
            break;
        }
        if (cJSON_IsObject(q) && cJSON_GetObjectItemCaseSensitive(q, "activations")) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.quantize.activations': set it in the "
                             "top-level 'quantize' (it is part of the model, every stage's)",
                             path, key);
            break;
        }
        if (!cJSON_IsFalse(q) && (q || top_q)) {
            cJSON *merged = merge_section(top_q, q, "matrices");
            if (!merged)
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            else
                s = parse_quantize(merged, &c->model, g->epochs, &g->quant, &g->bn_reestimate,
                                   where, err);
            cJSON_Delete(merged);
            if (s)
                break;
        }
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(st, "prune");
        if (p && !cJSON_IsFalse(p) && !cJSON_IsObject(p)) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.prune' must be an object or false",
                             path, key);
            break;
        }
        if (!p)
            p = top_p;
        if (p && !cJSON_IsFalse(p))
            s = qr_prune_plan_parse(&g->prune, p, &c->model, g->quant.n ? &g->quant : NULL,
                                    where, err);
    }
    c->epochs = total;
    if (s == QR_OK && c->stages[n - 1].quant.n &&
        qr_quant_plan_copy(&c->quant, &c->stages[n - 1].quant) != QR_OK)
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    return s;
}

/* The one source of the config's defaults: the JSON loader starts from them. */
QR_API void qr_train_config_init(qr_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->label_index = -1;
    c->header = -1;
    c->val_split = 0.15;
    c->test_split = 0.15;
    c->standardize = 1;
    c->epochs = 20;
    c->batch_size = 32;
    c->seed = 1;
    c->threads = 1;
    c->checkpoint_every = 0; /* no checkpoint path yet: the loader derives one, and sets 1 */
    c->kd_alpha = 0.5f;
    c->kd_temperature = 4.0f;
    c->kd_t2 = 1;
    c->reference_accuracy = NAN;
    qr_optim_config_default(&c->optim, QR_OPTIM_ADAM);
    qr_lr_schedule_default(&c->lr_schedule);
}

QR_API qr_status qr_train_config_load(const char *path, qr_train_config *c, qr_error *err)
{
    qr_train_config_init(c);
    c->checkpoint_every = 1; /* to the checkpoint path derived from the model path below */
    cJSON *root = NULL;
    qr_status s = qr_json_load_file(path, &root, err);
    if (s != QR_OK)
        return s;
    static const char *const keys[] = {"data", "model", "optimizer", "training", "output",
                                       "quantize", "prune", "distill", "description", "stages",
                                       NULL};
    if (!(c->source = strdup(path))) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((s = qr_json_check_keys(root, keys, path, "", err)))
        goto done;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!data || !model) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' is missing", path, data ? "model" : "data");
        goto done;
    }
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc && !cJSON_IsString(desc)) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'description' must be a string", path);
        goto done;
    }
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(root, "optimizer");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "training");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(root, "output");
    if ((s = parse_data(c, data, path, err)) ||
        (s = qr_model_spec_parse(&c->model, model, path, err)) ||
        (opt && (s = parse_optimizer(c, opt, path, err))) ||
        (tr && (s = parse_training(c, tr, path, err))) ||
        (out && (s = parse_output(c, out, path, err))))
        goto done;
    const cJSON *distill = cJSON_GetObjectItemCaseSensitive(root, "distill");
    if (distill && (s = parse_distill(c, distill, path, err)))
        goto done;
    if ((s = parse_activations(c, cJSON_GetObjectItemCaseSensitive(root, "quantize"), path,
                               err)))
        goto done;
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(root, "stages");
    if (stages) {
        /* each stage sets its own epochs; the top-level quantize and prune are the base
         * sections the stages start from */
        if (tr && cJSON_GetObjectItemCaseSensitive(tr, "epochs")) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'training.epochs' does not apply with "
                             "'stages' (each stage sets its own 'epochs')", path);
            goto done;
        }
        if (c->hist_path) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'output.histograms' is not supported with "
                             "'stages'", path);
            goto done;
        }
        if ((s = parse_stages(c, root, stages, path, err)))
            goto done;
    } else {
        if ((s = check_lr_schedule(&c->lr_schedule, c->optim.lr, c->epochs, path, err)))
            goto done;
        const cJSON *quant = cJSON_GetObjectItemCaseSensitive(root, "quantize");
        if (quant && (s = parse_quantize(quant, &c->model, c->epochs, &c->quant,
                                         &c->bn_reestimate, path, err)))
            goto done;
        /* after quantize: pruning a 1-bit matrix is refused */
        const cJSON *prune = cJSON_GetObjectItemCaseSensitive(root, "prune");
        if (prune && (s = qr_prune_plan_parse(&c->prune, prune, &c->model,
                                              c->quant.n ? &c->quant : NULL, path, err)))
            goto done;
    }
    if (!c->model_path && !(c->model_path = default_model_path(path))) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (!c->checkpoint_path && (s = qr_train_config_default_checkpoint(c)) != QR_OK)
        qr_error_set(err, s, "%s: out of memory", path);
done:
    cJSON_Delete(root);
    if (s != QR_OK)
        qr_train_config_free(c);
    return s;
}

QR_API qr_status qr_train_config_default_checkpoint(qr_train_config *c)
{
    size_t n = strlen(c->model_path);
    char *p = malloc(n + 6);
    if (!p)
        return QR_ERR_NOMEM;
    memcpy(p, c->model_path, n);
    strcpy(p + n, ".ckpt");
    free(c->checkpoint_path);
    c->checkpoint_path = p;
    return QR_OK;
}

QR_API void qr_train_config_free(qr_train_config *c)
{
    if (!c)
        return;
    free(c->train_path);
    free(c->audio);
    free(c->val_path);
    free(c->test_path);
    free(c->label_name);
    free(c->model_path);
    free(c->log_path);
    free(c->log_jsonl_path);
    free(c->quant_log_path);
    free(c->teacher_path);
    free(c->prune_log_path);
    free(c->checkpoint_path);
    qr_prune_plan_free(&c->prune);
    free(c->teacher_logits_path);
    free(c->hist_path);
    free(c->hist_epochs);
    free(c->source);
    free(c->init_path);
    for (size_t i = 0; c->stages && i < c->n_stages; i++) {
        qr_quant_plan_free(&c->stages[i].quant);
        qr_prune_plan_free(&c->stages[i].prune);
    }
    free(c->stages);
    qr_quant_plan_free(&c->quant);
    qr_model_spec_free(&c->model);
    memset(c, 0, sizeof *c);
}
