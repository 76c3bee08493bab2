/* Learning-rate schedules (each formula against hand-computed values, the rate the trainer
 * really sets, strict config errors), early stopping (stops `patience` epochs after the kept
 * epoch, per stage, reported), the JSON-lines log (one object per epoch, the CSV log's
 * numbers) and resume: a run with all of them interrupted mid-epoch ends bit for bit as a
 * straight run, with the same logs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "qreg/train.h"

static double lr_of(const qr_lr_schedule *s, size_t epoch, size_t batch, size_t batches,
                    size_t epochs)
{
    return qr_lr_at(s, 0.1, epoch, batch, batches, epochs);
}

#define NEAR(got, want) ck_assert_msg(fabs((got) - (want)) <= 1e-12, "%.15g != %.15g", \
                                      (double)(got), (double)(want))

START_TEST(test_lr_formulas)
{
    qr_lr_schedule s;
    /* constant */
    qr_lr_schedule_default(&s);
    NEAR(lr_of(&s, 1, 0, 10, 5), 0.1);
    NEAR(lr_of(&s, 5, 9, 10, 5), 0.1);
    /* linear warm-up over 2 epochs of 10 steps: lr·k/20 for the k-th step (0-based) */
    s.warmup_epochs = 2;
    NEAR(lr_of(&s, 1, 0, 10, 5), 0.0);
    NEAR(lr_of(&s, 1, 5, 10, 5), 0.025);
    NEAR(lr_of(&s, 2, 9, 10, 5), 0.095);
    NEAR(lr_of(&s, 3, 0, 10, 5), 0.1);
    s.warmup_start = 0.1; /* lr·(0.1 + 0.9·5/20) */
    NEAR(lr_of(&s, 1, 5, 10, 5), 0.0325);
    NEAR(lr_of(&s, 1, 0, 10, 5), 0.01);
    /* step, per epoch: every 3 epochs by 0.5 */
    qr_lr_schedule_default(&s);
    s.kind = QR_LR_STEP;
    s.every = 3;
    s.gamma = 0.5;
    NEAR(lr_of(&s, 1, 0, 10, 10), 0.1);
    NEAR(lr_of(&s, 3, 9, 10, 10), 0.1);
    NEAR(lr_of(&s, 4, 0, 10, 10), 0.05);
    NEAR(lr_of(&s, 6, 9, 10, 10), 0.05);
    NEAR(lr_of(&s, 7, 0, 10, 10), 0.025);
    s.warmup_epochs = 2; /* the decay's clock starts after the warm-up */
    NEAR(lr_of(&s, 3, 0, 10, 10), 0.1);
    NEAR(lr_of(&s, 5, 9, 10, 10), 0.1);
    NEAR(lr_of(&s, 6, 0, 10, 10), 0.05);
    /* step, per step: every 4 steps by 0.1 */
    qr_lr_schedule_default(&s);
    s.kind = QR_LR_STEP;
    s.per_step = 1;
    s.every = 4;
    s.gamma = 0.1;
    NEAR(lr_of(&s, 1, 3, 10, 3), 0.1);
    NEAR(lr_of(&s, 1, 4, 10, 3), 0.01);
    NEAR(lr_of(&s, 2, 0, 10, 3), 0.001); /* step 10: floor(10/4) = 2 */
    /* exponential per epoch: 0.1·0.9^(epoch−1) */
    qr_lr_schedule_default(&s);
    s.kind = QR_LR_EXPONENTIAL;
    s.gamma = 0.9;
    NEAR(lr_of(&s, 1, 7, 10, 10), 0.1);
    NEAR(lr_of(&s, 3, 0, 10, 10), 0.081);
    s.every = 2; /* 0.1·0.5^(1/2) at epoch 2 */
    s.gamma = 0.5;
    NEAR(lr_of(&s, 2, 0, 10, 10), 0.0707106781186548);
    /* exponential per step: 0.1·0.99^15 at step 15 */
    s.every = 1;
    s.gamma = 0.99;
    s.per_step = 1;
    NEAR(lr_of(&s, 2, 5, 10, 10), 0.0860058354641480);
    /* cosine per epoch over 10 epochs to 0.01 */
    qr_lr_schedule_default(&s);
    s.kind = QR_LR_COSINE;
    s.min_lr = 0.01;
    NEAR(lr_of(&s, 1, 5, 10, 10), 0.1);
    NEAR(lr_of(&s, 6, 0, 10, 10), 0.055);              /* cos(π/2) = 0 */
    NEAR(lr_of(&s, 10, 0, 10, 10), 0.0122024567667181); /* 0.01 + 0.09·(1 + cos(0.9π))/2 */
    NEAR(lr_of(&s, 11, 0, 10, 10), 0.01);              /* past the end: min_lr */
    /* cosine per step after a 1-epoch warm-up, 3 epochs of 4 steps: D = 8 steps */
    s.per_step = 1;
    s.warmup_epochs = 1;
    NEAR(lr_of(&s, 1, 2, 4, 3), 0.05);                 /* warm-up: 0.1·2/4 */
    NEAR(lr_of(&s, 2, 0, 4, 3), 0.1);
    NEAR(lr_of(&s, 2, 2, 4, 3), 0.0868198051533946);   /* 0.01 + 0.09·(1 + cos(π/4))/2 */
    NEAR(lr_of(&s, 3, 3, 4, 3), 0.0134254210369921);   /* 0.01 + 0.09·(1 + cos(7π/8))/2 */
    /* checks */
    const char *why = NULL;
    ck_assert_int_eq(qr_lr_schedule_check(&s, 0.1, 3, &why), QR_OK);
    ck_assert_int_eq(qr_lr_schedule_check(&s, 0.1, 1, &why), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(why, "'optimizer.schedule.warmup_epochs'"));
    ck_assert_int_eq(qr_lr_schedule_check(&s, 0.005, 3, &why), QR_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(why, "'optimizer.schedule.min_lr'"));
}
END_TEST

static char *write_cfg(const char *dir, const char *name, const char *optimizer,
                       const char *training, const char *rest)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/breast_cancer.csv\", \"label\": \"label\","
             " \"validation_split\": 0.2, \"test_split\": 0.2},"
             " \"model\": [{\"type\": \"dense\", \"units\": 8}, {\"type\": \"relu\"},"
             "  {\"type\": \"dropout\", \"rate\": 0.1}, {\"type\": \"dense\"}],"
             " \"optimizer\": {%s}, \"training\": {%s}%s}",
             tl_srcdir(), optimizer, training, rest);
    return tl_write_file(dir, name, text);
}

START_TEST(test_schedule_config_errors)
{
    char *dir = tl_tmpdir();
    static const struct {
        const char *optimizer, *training, *want;
    } bad[] = {
        {"\"schedule\": {\"name\": \"linear\"}", "", "'optimizer.schedule.name'"},
        {"\"schedule\": {}", "", "'optimizer.schedule.name' is missing"},
        {"\"schedule\": 3", "", "'optimizer.schedule' must be an object"},
        {"\"schedule\": {\"name\": \"step\"}", "", "'optimizer.schedule.every' is missing"},
        {"\"schedule\": {\"name\": \"exponential\"}", "", "'optimizer.schedule.gamma' is missing"},
        {"\"schedule\": {\"name\": \"cosine\", \"gamma\": 0.5}", "",
         "'optimizer.schedule.gamma' applies"},
        {"\"schedule\": {\"name\": \"step\", \"every\": 2, \"min_lr\": 0}", "",
         "'optimizer.schedule.min_lr' applies"},
        {"\"learning_rate\": 0.01, \"schedule\": {\"name\": \"cosine\", \"min_lr\": 0.5}", "",
         "'optimizer.schedule.min_lr' must be"},
        {"\"schedule\": {\"name\": \"step\", \"every\": 2, \"gamma\": 2}", "",
         "'optimizer.schedule.gamma'"},
        {"\"schedule\": {\"name\": \"step\", \"every\": 0, \"gamma\": 0.5}", "",
         "'optimizer.schedule.every'"},
        {"\"schedule\": {\"name\": \"cosine\", \"warmup_epochs\": 5}", "\"epochs\": 5",
         "'optimizer.schedule.warmup_epochs' must be less"},
        {"\"schedule\": {\"name\": \"cosine\", \"warmup_epochs\": 1.5}", "",
         "'optimizer.schedule.warmup_epochs'"},
        {"\"schedule\": {\"name\": \"cosine\", \"per\": \"batch\"}", "",
         "'optimizer.schedule.per'"},
        {"\"schedule\": {\"name\": \"cosine\", \"decay\": 1}", "",
         "unknown key 'optimizer.schedule.decay'"},
        {"\"schedule\": {\"name\": \"constant\", \"warmup_start\": 0.5}", "",
         "'optimizer.schedule.warmup_start' needs"},
        {"\"schedule\": {\"name\": \"constant\", \"warmup_epochs\": 1, \"warmup_start\": 2}", "",
         "'optimizer.schedule.warmup_start'"},
        {"", "\"early_stopping\": {\"patience\": 0}", "'training.early_stopping.patience'"},
        {"", "\"early_stopping\": {\"min_delta\": 0.1}",
         "'training.early_stopping.patience' is missing"},
        {"", "\"early_stopping\": {\"patience\": 2, \"min_delta\": -1}",
         "'training.early_stopping.min_delta'"},
        {"", "\"early_stopping\": {\"patience\": 2, \"monitor\": \"x\"}",
         "unknown key 'training.early_stopping.monitor'"},
        {"", "\"early_stopping\": false", "'training.early_stopping' must be an object"},
    };
    qr_train_config c;
    qr_error err = {{0}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *p = write_cfg(dir, "bad.json", bad[i].optimizer, bad[i].training, "");
        ck_assert_int_eq(qr_train_config_load(p, &c, &err), QR_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, bad[i].want) != NULL, "case %zu: %s", i, err.msg);
        free(p);
    }
    /* stages: the stage's optimizer merges the top-level one (schedule replaced as a whole),
     * a stage's warm-up must fit the stage, early stopping per stage */
    char *p = write_cfg(dir, "st.json", "\"learning_rate\": 0.01, \"schedule\": {\"name\": "
                        "\"cosine\", \"warmup_epochs\": 1}", "\"early_stopping\": {\"patience\": 3}",
                        ", \"stages\": [{\"epochs\": 4},"
                        " {\"epochs\": 3, \"optimizer\": {\"schedule\": {\"name\": \"step\","
                        "  \"every\": 1, \"gamma\": 0.5}}, \"early_stopping\": false},"
                        " {\"epochs\": 2, \"optimizer\": {\"name\": \"sgd\"},"
                        "  \"early_stopping\": {\"patience\": 1, \"min_delta\": 0.01}}]");
    ck_assert_msg(qr_train_config_load(p, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_int_eq(c.stages[0].lr_schedule.kind, QR_LR_COSINE);
    ck_assert_uint_eq(c.stages[0].lr_schedule.warmup_epochs, 1);
    ck_assert_uint_eq(c.stages[0].early_stopping.patience, 3);
    ck_assert_int_eq(c.stages[1].lr_schedule.kind, QR_LR_STEP);
    ck_assert(c.stages[1].optim.lr == 0.01f && c.stages[1].lr_schedule.gamma == 0.5);
    ck_assert_uint_eq(c.stages[1].lr_schedule.warmup_epochs, 0);
    ck_assert_uint_eq(c.stages[1].early_stopping.patience, 0);
    ck_assert_int_eq(c.stages[2].lr_schedule.kind, QR_LR_CONSTANT); /* a new optimizer */
    ck_assert_uint_eq(c.stages[2].early_stopping.patience, 1);
    ck_assert(c.stages[2].early_stopping.min_delta == 0.01);
    qr_train_config_free(&c);
    free(p);
    p = write_cfg(dir, "st2.json", "\"schedule\": {\"name\": \"cosine\", \"warmup_epochs\": 2}", "",
                  ", \"stages\": [{\"epochs\": 4}, {\"epochs\": 2}]");
    ck_assert_int_eq(qr_train_config_load(p, &c, &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "stages[1]: 'optimizer.schedule.warmup_epochs'"), "%s", err.msg);
    free(p);
    p = write_cfg(dir, "st3.json", "", "", ", \"stages\": [{\"epochs\": 4, \"early_stopping\": "
                  "{\"patience\": \"x\"}}]");
    ck_assert_int_eq(qr_train_config_load(p, &c, &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "'stages[0].early_stopping.patience'"), "%s", err.msg);
    free(p);
    /* early stopping without validation data is refused when training starts */
    p = write_cfg(dir, "noval.json", "", "\"epochs\": 3, \"early_stopping\": {\"patience\": 1}",
                  "");
    ck_assert_msg(qr_train_config_load(p, &c, &err) == QR_OK, "%s", err.msg);
    c.val_split = 0;
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    qr_model *m = NULL;
    ck_assert_int_eq(qr_train(&c, &d, NULL, NULL, &m, NULL, &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "'training.early_stopping' needs validation"), "%s", err.msg);
    /* and a warm-up as long as an --epochs override */
    c.val_split = 0.2;
    qr_lr_schedule_default(&c.lr_schedule);
    c.early_stopping.patience = 0;
    c.lr_schedule.warmup_epochs = 3;
    ck_assert_int_eq(qr_train(&c, &d, NULL, NULL, &m, NULL, &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "'optimizer.schedule.warmup_epochs'"), "%s", err.msg);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(p);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* Every batch event carries the rate the optimizer used: the schedule's, rounded to float. */
typedef struct lr_watch {
    const qr_train_config *c;
    size_t batches, checked, bad, epoch_events, stops, stop_epoch, stop_stage;
} lr_watch;

static void watch_lr(void *user, const qr_train_progress *p)
{
    lr_watch *w = user;
    if (p->event == QR_TRAIN_BATCH) {
        const qr_train_config *c = w->c;
        const qr_lr_schedule *s = c->n_stages ? &c->stages[p->stage - 1].lr_schedule
                                              : &c->lr_schedule;
        float lr0 = c->n_stages ? c->stages[p->stage - 1].optim.lr : c->optim.lr;
        float want = (float)qr_lr_at(s, lr0, p->epoch, p->batch - 1, p->batches, p->epochs);
        w->bad += (float)p->lr != want;
        w->checked++;
    } else if (p->event == QR_TRAIN_EPOCH) {
        w->epoch_events++;
    } else if (p->event == QR_TRAIN_EARLY_STOP) {
        w->stops++;
        w->stop_epoch = p->epoch;
        w->stop_stage = p->stage;
    }
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* Early stopping: with min_delta 0 the monitor is the kept epoch's accuracy, so the run stops
 * exactly `patience` epochs after the kept epoch; reported in the result and by an event. */
START_TEST(test_early_stopping)
{
    char *dir = tl_tmpdir();
    char rest[512];
    snprintf(rest, sizeof rest, ", \"output\": {\"model\": \"%s/m.qrm\", \"log\": \"%s/l.csv\","
             " \"log_jsonl\": \"%s/l.jsonl\"}", dir, dir, dir);
    char *p = write_cfg(dir, "es.json", "\"learning_rate\": 0.01, \"schedule\": {\"name\": "
                        "\"exponential\", \"gamma\": 0.9}",
                        "\"epochs\": 200, \"seed\": 2, \"early_stopping\": {\"patience\": 3}", rest);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(p, &c, &err) == QR_OK, "%s", err.msg);
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    qr_model *m = NULL;
    qr_train_result r;
    lr_watch w = {.c = &c};
    ck_assert_msg(qr_train(&c, &d, watch_lr, &w, &m, &r, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_gt(r.stopped_epoch, 0);
    ck_assert_uint_lt(r.stopped_epoch, 200);
    ck_assert_uint_eq(r.stopped_epoch, r.best_epoch + 3);
    ck_assert_uint_eq(w.stops, 1);
    ck_assert_uint_eq(w.stop_epoch, r.stopped_epoch);
    ck_assert_uint_eq(w.epoch_events, r.stopped_epoch);
    ck_assert_uint_gt(w.checked, 0);
    ck_assert_uint_eq(w.bad, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/l.jsonl", dir);
    ck_assert_uint_eq(count_lines(path), r.stopped_epoch);
    qr_model_free(m);
    /* a higher min_delta never stops later */
    c.early_stopping.min_delta = 0.05;
    qr_train_result r2;
    ck_assert_msg(qr_train(&c, &d, NULL, NULL, &m, &r2, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_gt(r2.stopped_epoch, 0);
    ck_assert_uint_le(r2.stopped_epoch, r.stopped_epoch);
    qr_model_free(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(p);
    /* per stage: the first stage stops early, the second runs on from its kept model; epochs of
     * the second stage are numbered after all of the first's */
    snprintf(rest, sizeof rest, ", \"stages\": [{\"epochs\": 100, \"early_stopping\":"
             " {\"patience\": 2}}, {\"epochs\": 3, \"optimizer\": {\"learning_rate\": 0.001,"
             " \"schedule\": {\"name\": \"cosine\", \"per\": \"step\", \"warmup_epochs\": 1}}}],"
             " \"output\": {\"model\": \"%s/s.qrm\", \"log_jsonl\": \"%s/s.jsonl\"}", dir, dir);
    p = write_cfg(dir, "st.json", "\"learning_rate\": 0.01", "\"seed\": 2", rest);
    ck_assert_msg(qr_train_config_load(p, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    lr_watch w2 = {.c = &c};
    ck_assert_msg(qr_train(&c, &d, watch_lr, &w2, &m, &r, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(w2.stops, 1);
    ck_assert_uint_eq(w2.stop_stage, 1);
    ck_assert_uint_lt(w2.stop_epoch, 100);
    ck_assert_uint_eq(w2.epoch_events, w2.stop_epoch + 3);
    ck_assert_uint_eq(w2.bad, 0);
    ck_assert_uint_eq(r.stopped_epoch, 0); /* the last stage ran all its epochs */
    snprintf(path, sizeof path, "%s/s.jsonl", dir);
    ck_assert_uint_eq(count_lines(path), w2.stop_epoch + 3);
    char *text = NULL;
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    text = calloc(1 << 16, 1);
    ck_assert_uint_gt(fread(text, 1, (1 << 16) - 1, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "{\"epoch\":101,\"stage\":2,"));
    ck_assert_ptr_nonnull(strstr(text, "\"early_stop\":true"));
    free(text);
    qr_model_free(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(p);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

typedef struct stopper {
    volatile sig_atomic_t *flag;
    size_t stage, epoch, batch;
} stopper;

static void on_progress(void *user, const qr_train_progress *p)
{
    stopper *st = user;
    if (p->stage == st->stage && p->epoch == st->epoch && p->event == QR_TRAIN_BATCH &&
        p->batch == st->batch)
        *st->flag = 1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *b = calloc(1 << 20, 1);
    ck_assert_uint_gt(fread(b, 1, (1 << 20) - 1, f), 0);
    fclose(f);
    return b;
}

/* Drop the time fields (",seconds" of the CSV, "seconds"/"epoch_seconds" of the JSON). */
static void strip_times(char *s)
{
    char *out = s;
    for (char *line = s; *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        char *sec = strstr(line, ",\"seconds\"");
        if (sec && sec < line + len) {
            char *imp = strstr(sec, ",\"improved\"");
            memmove(out, line, (size_t)(sec - line));
            out += sec - line;
            memmove(out, imp, (size_t)(line + len - imp));
            out += line + len - imp;
        } else {
            size_t keep = len;
            while (keep > 0 && line[keep - 1] != ',')
                keep--;
            keep = keep ? keep - 1 : len;
            memmove(out, line, keep);
            out += keep;
            *out++ = '\n';
        }
        line += len;
    }
    *out = '\0';
}

/* A staged run with schedules (warm-up per step, cosine, step) and early stopping, stopped in
 * the middle of an epoch of each stage and resumed, ends with the straight run's parameters
 * and logs; the JSON log parses to the CSV log's numbers. */
START_TEST(test_schedule_resume)
{
    char *dir = tl_tmpdir();
    char rest[1024];
    snprintf(rest, sizeof rest, ", \"stages\": [{\"epochs\": 6, \"early_stopping\":"
             " {\"patience\": 4}}, {\"epochs\": 4, \"optimizer\": {\"learning_rate\": 0.003,"
             " \"schedule\": {\"name\": \"step\", \"every\": 5, \"gamma\": 0.5, \"per\": \"step\"}}}],"
             " \"output\": {\"model\": \"%s/m.qrm\", \"log\": \"%s/l.csv\","
             " \"log_jsonl\": \"%s/l.jsonl\"}", dir, dir, dir);
    char *p = write_cfg(dir, "r.json", "\"name\": \"nadam\", \"learning_rate\": 0.01,"
                        " \"schedule\": {\"name\": \"cosine\", \"warmup_epochs\": 2,"
                        "  \"warmup_start\": 0.2, \"per\": \"step\", \"min_lr\": 0.001}",
                        "\"seed\": 5, \"batch_size\": 32", rest);
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(p, &c, &err) == QR_OK, "%s", err.msg);
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    qr_model *m = NULL;
    ck_assert_msg(qr_train(&c, &d, NULL, NULL, &m, NULL, &err) == QR_OK, "%s", err.msg);
    size_t n;
    float *w = qr_graph_params(qr_model_graph(m), NULL, &n);
    float *straight = malloc(n * sizeof *straight);
    memcpy(straight, w, n * sizeof *straight);
    qr_model_free(m);
    char *csv1 = slurp(c.log_path), *json1 = slurp(c.log_jsonl_path);
    static const size_t at[][3] = {{1, 2, 3}, {2, 3, 2}};
    for (size_t k = 0; k < 2; k++) {
        remove(c.checkpoint_path);
        volatile sig_atomic_t flag = 0;
        stopper st = {&flag, at[k][0], at[k][1], at[k][2]};
        qr_train_control ctl = {0, &flag};
        ck_assert_int_eq(qr_train_ex(&c, &d, &ctl, on_progress, &st, &m, NULL, &err),
                         QR_ERR_STATE);
        ctl.resume = 1;
        flag = 0;
        ck_assert_msg(qr_train_ex(&c, &d, &ctl, NULL, NULL, &m, NULL, &err) == QR_OK, "%s",
                      err.msg);
        w = qr_graph_params(qr_model_graph(m), NULL, &n);
        ck_assert_msg(memcmp(w, straight, n * sizeof *w) == 0, "resumed run %zu differs", k);
        qr_model_free(m);
        char *csv2 = slurp(c.log_path), *json2 = slurp(c.log_jsonl_path);
        char *a = strdup(csv1), *b = strdup(json1);
        strip_times(a);
        strip_times(csv2);
        strip_times(b);
        strip_times(json2);
        ck_assert_str_eq(a, csv2);
        ck_assert_str_eq(b, json2);
        free(a);
        free(b);
        free(csv2);
        free(json2);
    }
    free(straight);
    free(csv1);
    free(json1);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(p);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

Suite *qr_suite_schedules(void)
{
    Suite *s = suite_create("schedules");
    TCase *tc = tcase_create("schedules");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_lr_formulas);
    tcase_add_test(tc, test_schedule_config_errors);
    tcase_add_test(tc, test_early_stopping);
    tcase_add_test(tc, test_schedule_resume);
    suite_add_tcase(s, tc);
    return s;
}
