/* Training: the JSON config (every key, every error naming its key or line), data loading
 * with paths relative to the config, and the training loop end to end on the bundled
 * breast-cancer data — accuracy, determinism, separate validation/test files, divergence.
 * Configs and data files are written to a fresh temporary directory in each test. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <check.h>

#include "qreg/train.h"
#include "testlib.h"

/* ---- helpers ------------------------------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The bundled data file (absolute when QR_SRCDIR is set, as under make check). */
static char *bundled(const char *name)
{
    char rel[64];
    snprintf(rel, sizeof rel, "data/%s", name);
    return join(tl_srcdir(), rel);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* Write `text` as dir/cfg.json and load it. Returns the status; *path_out (if not NULL)
 * gets the config's path (caller frees). */
static qr_status load_cfg_in(const char *dir, const char *text, qr_train_config *c,
                             qr_error *err, char **path_out)
{
    char *path = tl_write_file(dir, "cfg.json", text);
    qr_status s = qr_train_config_load(path, c, err);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return s;
}

/* The config must fail with QR_ERR_CONFIG (or `want`), naming the file and `needle`. */
static void expect_cfg_fail(const char *text, qr_status want, const char *needle)
{
    char *dir = tl_tmpdir(), *path = NULL;
    qr_train_config c;
    qr_error err = {{0}};
    qr_status s = load_cfg_in(dir, text, &c, &err, &path);
    ck_assert_msg(s == want, "%s\n-> %s (%s), want %s", text, qr_strerror(s), err.msg,
                  qr_strerror(want));
    ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message lacks '%s': %s", needle, err.msg);
    /* a failed load leaves a zeroed config: freeing it again is harmless */
    ck_assert_ptr_null(c.train_path);
    ck_assert_ptr_null(c.model.layers);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(path);
    free(dir);
}

#define MLP "[{\"type\": \"dense\", \"units\": 8}, {\"type\": \"relu\"}, {\"type\": \"dense\"}]"
#define DATA "{\"train\": \"d.csv\"}"

/* A config with one section replaced: data, model, rest (the other top-level keys). */
static char *cfg(const char *data, const char *model, const char *rest)
{
    size_t n = strlen(data) + strlen(model) + strlen(rest) + 64;
    char *t = malloc(n);
    ck_assert_ptr_nonnull(t);
    snprintf(t, n, "{\"data\": %s, \"model\": %s%s%s}", data, model, *rest ? ", " : "", rest);
    return t;
}

static void expect_cfg_fail3(const char *data, const char *model, const char *rest,
                             const char *needle)
{
    char *t = cfg(data, model, rest);
    expect_cfg_fail(t, QR_ERR_CONFIG, needle);
    free(t);
}

/* ---- config loading ------------------------------------------------------------------- */

/* qr_train_config_init gives a config built in C every default the JSON loader gives (it is
 * the loader's starting point); only the path-bound checkpoint default differs. */
START_TEST(test_config_init_defaults)
{
    char *dir = tl_tmpdir();
    qr_train_config j, c;
    qr_error err = {{0}};
    ck_assert_msg(load_cfg_in(dir, "{\"data\": " DATA ", \"model\": " MLP "}", &j, &err, NULL) ==
                      QR_OK, "%s", err.msg);
    qr_train_config_init(&c);
    ck_assert_int_eq(c.label_index, j.label_index);
    ck_assert_int_eq(c.header, j.header);
    ck_assert(c.val_split == j.val_split && c.test_split == j.test_split);
    ck_assert_int_eq(c.standardize, j.standardize);
    ck_assert(c.optim.kind == j.optim.kind && c.optim.lr == j.optim.lr &&
              c.optim.beta1 == j.optim.beta1 && c.optim.beta2 == j.optim.beta2 &&
              c.optim.eps == j.optim.eps);
    ck_assert(c.clip_norm == j.clip_norm && c.weight_decay == j.weight_decay);
    ck_assert_uint_eq(c.epochs, j.epochs);
    ck_assert_uint_eq(c.batch_size, j.batch_size);
    ck_assert_uint_eq(c.seed, j.seed);
    ck_assert_int_eq(c.threads, j.threads);
    ck_assert(c.kd_alpha == j.kd_alpha && c.kd_temperature == j.kd_temperature &&
              c.kd_t2 == j.kd_t2);
    ck_assert_uint_eq(j.checkpoint_every, 1);
    ck_assert_ptr_nonnull(j.checkpoint_path);
    ck_assert_uint_eq(c.checkpoint_every, 0); /* no path, no checkpoints */
    ck_assert_ptr_null(c.checkpoint_path);
    ck_assert_ptr_null(c.model_path);
    qr_train_config_free(&c); /* an initialized, never filled config frees */
    qr_train_config_free(&j);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_config_every_key)
{
    char *dir = tl_tmpdir(), *path = NULL;
    const char *text =
        "{\n"
        "  \"description\": \"every key\",\n"
        "  \"data\": {\"train\": \"sub/train.csv\", \"validation\": \"../val.csv\",\n"
        "           \"test\": \"/abs/test.csv\", \"label\": \"species\", \"header\": true,\n"
        "           \"sequence\": [4, 2], \"standardize\": false},\n"
        "  \"model\": [{\"type\": \"gru\", \"units\": 5}, {\"type\": \"dense\"}],\n"
        "  \"optimizer\": {\"name\": \"sgd\", \"learning_rate\": 0.05, \"momentum\": 0.9,\n"
        "                \"nesterov\": true, \"clipnorm\": 1.5, \"weight_decay\": 0.001},\n"
        "  \"training\": {\"epochs\": 7, \"batch_size\": 16, \"seed\": 42, \"threads\": 2},\n"
        "  \"output\": {\"model\": \"out/m.qrm\", \"log\": \"out/log.csv\"}\n"
        "}\n";
    qr_train_config c;
    qr_error err = {{0}};
    qr_status s = load_cfg_in(dir, text, &c, &err, &path);
    ck_assert_msg(s == QR_OK, "%s", err.msg);
    char *want = join(dir, "sub/train.csv");
    ck_assert_str_eq(c.train_path, want);
    free(want);
    want = join(dir, "../val.csv");
    ck_assert_str_eq(c.val_path, want);
    free(want);
    ck_assert_str_eq(c.test_path, "/abs/test.csv");
    ck_assert_str_eq(c.label_name, "species");
    ck_assert_int_eq(c.header, 1);
    ck_assert_uint_eq(c.t, 4);
    ck_assert_uint_eq(c.f, 2);
    ck_assert(c.val_split == 0 && c.test_split == 0); /* separate files: no splits */
    ck_assert_int_eq(c.standardize, 0);
    ck_assert_uint_eq(c.model.n_layers, 2);
    ck_assert_int_eq(c.model.layers[0].kind, QR_LAYER_GRU);
    ck_assert_uint_eq(c.model.layers[0].units, 5);
    ck_assert_int_eq(c.optim.kind, QR_OPTIM_SGD);
    ck_assert_float_eq(c.optim.lr, 0.05f);
    ck_assert_float_eq(c.optim.momentum, 0.9f);
    ck_assert_int_eq(c.optim.nesterov, 1);
    ck_assert_float_eq(c.clip_norm, 1.5f);
    ck_assert_float_eq(c.weight_decay, 0.001f);
    ck_assert_uint_eq(c.epochs, 7);
    ck_assert_uint_eq(c.batch_size, 16);
    ck_assert_uint_eq(c.seed, 42);
    ck_assert_int_eq(c.threads, 2);
    ck_assert_str_eq(c.model_path, "out/m.qrm"); /* output paths: as given */
    ck_assert_str_eq(c.log_path, "out/log.csv");
    ck_assert_str_eq(c.source, path);
    qr_train_config_free(&c);
    ck_assert_ptr_null(c.train_path);
    free(path);

    /* the defaults */
    s = load_cfg_in(dir, "{\"data\": {\"train\": \"x.csv\"}, \"model\": " MLP "}", &c, &err,
                    &path);
    ck_assert_msg(s == QR_OK, "%s", err.msg);
    ck_assert_ptr_null(c.val_path);
    ck_assert_ptr_null(c.test_path);
    ck_assert_ptr_null(c.label_name);
    ck_assert_int_eq(c.label_index, -1);
    ck_assert_int_eq(c.header, -1);
    ck_assert(c.t == 0 && c.f == 0);
    ck_assert_double_eq(c.val_split, 0.15);
    ck_assert_double_eq(c.test_split, 0.15);
    ck_assert_int_eq(c.standardize, 1);
    ck_assert_int_eq(c.optim.kind, QR_OPTIM_ADAM);
    ck_assert_float_eq(c.optim.lr, 1e-3f);
    ck_assert_float_eq(c.clip_norm, 0.0f);
    ck_assert_uint_eq(c.epochs, 20);
    ck_assert_uint_eq(c.batch_size, 32);
    ck_assert_uint_eq(c.seed, 1);
    ck_assert_int_eq(c.threads, 1);
    ck_assert_str_eq(c.model_path, "cfg.qrm"); /* the config's name, in the working dir */
    ck_assert_ptr_null(c.log_path);
    qr_train_config_free(&c);
    free(path);

    /* label by index, header "auto"/false, splits, Nadam */
    s = load_cfg_in(dir,
                    "{\"data\": {\"train\": \"x.csv\", \"label\": 0, \"header\": \"auto\","
                    " \"validation_split\": 0.25, \"test_split\": 0},"
                    " \"model\": " MLP ", \"optimizer\": {\"name\": \"nadam\", \"beta_1\": 0.8,"
                    " \"beta_2\": 0.99, \"epsilon\": 1e-5}}",
                    &c, &err, NULL);
    ck_assert_msg(s == QR_OK, "%s", err.msg);
    ck_assert_ptr_null(c.label_name);
    ck_assert_int_eq(c.label_index, 0);
    ck_assert_int_eq(c.header, -1);
    ck_assert_double_eq(c.val_split, 0.25);
    ck_assert_double_eq(c.test_split, 0.0);
    ck_assert_int_eq(c.optim.kind, QR_OPTIM_NADAM);
    ck_assert_float_eq(c.optim.beta1, 0.8f);
    ck_assert_float_eq(c.optim.beta2, 0.99f);
    ck_assert_float_eq(c.optim.eps, 1e-5f);
    qr_train_config_free(&c);
    s = load_cfg_in(dir, "{\"data\": {\"train\": \"x.csv\", \"header\": false}, \"model\": " MLP "}",
                    &c, &err, NULL);
    ck_assert_msg(s == QR_OK, "%s", err.msg);
    ck_assert_int_eq(c.header, 0);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_config_unknown_keys)
{
    expect_cfg_fail3(DATA, MLP, "\"trainig\": {}", "'trainig'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"labels\": \"y\"}", MLP, "", "'data.labels'");
    expect_cfg_fail3(DATA, "[{\"type\": \"dense\", \"unit\": 3}, {\"type\": \"dense\"}]", "",
                     "'model[0].unit'");
    expect_cfg_fail3(DATA, MLP, "\"optimizer\": {\"name\": \"adam\", \"lr\": 0.1}",
                     "'optimizer.lr'");
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"epoch\": 3}", "'training.epoch'");
    expect_cfg_fail3(DATA, MLP, "\"output\": {\"model\": \"m.qrm\", \"path\": \"x\"}",
                     "'output.path'");
    /* a key given twice */
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"epochs\": 3, \"epochs\": 4}",
                     "'training.epochs'");
}
END_TEST

START_TEST(test_config_wrong_types_and_ranges)
{
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"epochs\": \"ten\"}", "'training.epochs'");
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"epochs\": 2.5}", "'training.epochs'");
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"epochs\": 0}", "'training.epochs'");
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"seed\": -1}", "'training.seed'");
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"seed\": 1.5}", "'training.seed'");
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"batch_size\": 0}", "'training.batch_size'");
    expect_cfg_fail3(DATA, MLP, "\"training\": {\"threads\": 0}", "'training.threads'");
    expect_cfg_fail3(DATA, MLP, "\"training\": [1]", "training");
    expect_cfg_fail3(DATA, MLP, "\"optimizer\": {\"name\": \"rmsprop\"}", "'optimizer.name'");
    expect_cfg_fail3(DATA, MLP, "\"optimizer\": {\"learning_rate\": \"fast\"}",
                     "'optimizer.learning_rate'");
    expect_cfg_fail3(DATA, MLP, "\"optimizer\": {\"learning_rate\": -0.1}",
                     "'optimizer.learning_rate'");
    expect_cfg_fail3(DATA, MLP, "\"optimizer\": {\"name\": \"adam\", \"momentum\": 0.9}",
                     "momentum");
    expect_cfg_fail3(DATA, MLP, "\"optimizer\": {\"name\": \"sgd\", \"beta_1\": 0.9}", "beta_1");
    expect_cfg_fail3(DATA, MLP, "\"output\": {\"model\": 3}", "'output.model'");
    expect_cfg_fail3(DATA, MLP, "\"output\": {\"model\": \"\"}", "'output.model'");
    expect_cfg_fail3(DATA, MLP, "\"description\": 3", "'description'");
    expect_cfg_fail3("{\"train\": 3}", MLP, "", "'data.train'");
    expect_cfg_fail3("{\"train\": \"\"}", MLP, "", "'data.train'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"test\": \"\"}", MLP, "", "'data.test'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"label\": true}", MLP, "", "'data.label'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"label\": 1.5}", MLP, "", "'data.label'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"header\": \"maybe\"}", MLP, "", "'data.header'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"sequence\": [40]}", MLP, "", "'data.sequence'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"sequence\": [40, 0]}", MLP, "", "'data.sequence'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"sequence\": [4.5, 3]}", MLP, "",
                     "'data.sequence'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"standardize\": 1}", MLP, "", "'data.standardize'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"validation_split\": 1.2}", MLP, "",
                     "'data.validation_split'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"test_split\": \"0.2\"}", MLP, "",
                     "'data.test_split'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"validation_split\": 0.5, \"test_split\": 0.5}",
                     MLP, "", "'data.validation_split' + 'data.test_split'");
    expect_cfg_fail3("[\"d.csv\"]", MLP, "", "data");
    expect_cfg_fail3(DATA, "{\"type\": \"dense\"}", "", "'model'");
    expect_cfg_fail3(DATA, "[{\"type\": \"dense\", \"units\": \"8\"}, {\"type\": \"dense\"}]", "",
                     "'model[0].units'");
    expect_cfg_fail("[1, 2]", QR_ERR_CONFIG, "top level");
}
END_TEST

START_TEST(test_config_structure_errors)
{
    /* a separate file and a split of the same kind */
    expect_cfg_fail3("{\"train\": \"d.csv\", \"validation\": \"v.csv\", \"validation_split\": 0.2}",
                     MLP, "", "'data.validation' or 'data.validation_split'");
    expect_cfg_fail3("{\"train\": \"d.csv\", \"test\": \"t.csv\", \"test_split\": 0.2}", MLP, "",
                     "'data.test' or 'data.test_split'");
    /* missing pieces */
    expect_cfg_fail3("{\"validation\": \"v.csv\"}", MLP, "", "'data.train'");
    expect_cfg_fail("{\"model\": " MLP "}", QR_ERR_CONFIG, "'data'");
    expect_cfg_fail("{\"data\": " DATA "}", QR_ERR_CONFIG, "'model'");
    expect_cfg_fail3(DATA, "[]", "", "'model'");
    expect_cfg_fail3(DATA, "[{\"type\": \"dense\"}, {\"type\": \"dense\"}]", "",
                     "model[0].units");

    /* invalid JSON: the message has the line and column of the error */
    const char *broken = "{\n  \"data\": {\"train\": \"d.csv\"},\n  \"training\": {\"epochs\": 3 4},\n"
                         "  \"model\": []\n}\n";
    char *dir = tl_tmpdir(), *path = NULL;
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_int_eq(load_cfg_in(dir, broken, &c, &err, &path), QR_ERR_FORMAT);
    char want[4200];
    snprintf(want, sizeof want, "%s:3:", path);
    ck_assert_msg(strstr(err.msg, want) != NULL, "want %s<col>: in: %s", want, err.msg);
    regex_t re;
    ck_assert_int_eq(regcomp(&re, ":3:[0-9]+: ", REG_EXTENDED), 0);
    ck_assert_msg(regexec(&re, err.msg, 0, NULL, 0) == 0, "no line:col in %s", err.msg);
    regfree(&re);
    qr_train_config_free(&c);
    free(path);
    /* an empty file, a truncated object */
    ck_assert_int_eq(load_cfg_in(dir, "", &c, &err, NULL), QR_ERR_FORMAT);
    ck_assert_int_eq(load_cfg_in(dir, "{\"data\": {", &c, &err, NULL), QR_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, ":1:") != NULL, "%s", err.msg);

    /* a config that does not exist */
    char *missing = join(dir, "nope.json");
    ck_assert_int_eq(qr_train_config_load(missing, &c, &err), QR_ERR_IO);
    ck_assert_msg(strstr(err.msg, missing) != NULL, "%s", err.msg);
    free(missing);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* Data paths resolve against the config's directory, wherever the working directory is;
 * a data file that does not exist is an I/O error naming it. */
START_TEST(test_config_relative_data_paths)
{
    char *dir = tl_tmpdir();
    char *sub = join(dir, "configs");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    char *csv = bundled("iris.csv");
    char *text = read_text(csv);
    free(csv);
    free(tl_write_file(dir, "iris.csv", text));
    free(text);
    char *path = tl_write_file(sub, "c.json",
                               "{\"data\": {\"train\": \"../iris.csv\", \"label\": \"label\"},"
                               " \"model\": " MLP "}");
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    char *want = join(sub, "../iris.csv");
    ck_assert_str_eq(c.train_path, want);
    free(want);
    qr_split_data d;
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(d.train.n + d.val.n + d.test.n, 150);
    ck_assert_uint_eq(d.train.f, 4);
    ck_assert_uint_eq(d.train.n_classes, 3);
    ck_assert_uint_eq(d.val.n_classes, 3);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(path);

    /* a missing data file: I/O error naming the resolved path */
    path = tl_write_file(sub, "c.json",
                         "{\"data\": {\"train\": \"nowhere/x.csv\"}, \"model\": " MLP "}");
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_ERR_IO);
    want = join(sub, "nowhere/x.csv");
    ck_assert_msg(strstr(err.msg, want) != NULL, "message does not name %s: %s", want, err.msg);
    free(want);
    qr_train_config_free(&c);
    free(path);
    /* and a missing validation file, after the training file loaded */
    path = tl_write_file(sub, "c.json",
                         "{\"data\": {\"train\": \"../iris.csv\", \"validation\": \"v.csv\"},"
                         " \"model\": " MLP "}");
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_int_eq(qr_train_load_data(&c, &d, &err), QR_ERR_IO);
    want = join(sub, "v.csv");
    ck_assert_msg(strstr(err.msg, want) != NULL, "message does not name %s: %s", want, err.msg);
    free(want);
    qr_train_config_free(&c);
    free(path);

    tl_rmtree(dir);
    free(sub);
    free(dir);
}
END_TEST

/* ---- training ----------------------------------------------------------------------------- */

static char *quickstart_path(void)
{
    return join(tl_srcdir(), "examples/quickstart.json");
}

static void load_quickstart(qr_train_config *c, qr_split_data *d)
{
    char *path = quickstart_path();
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, c, &err) == QR_OK, "%s", err.msg);
    ck_assert_msg(qr_train_load_data(c, d, &err) == QR_OK, "%s", err.msg);
    free(path);
}

static qr_model *train_ok(const qr_train_config *c, const qr_split_data *d, qr_train_result *r)
{
    qr_model *m = NULL;
    qr_error err = {{0}};
    qr_status s = qr_train(c, d, NULL, NULL, &m, r, &err);
    ck_assert_msg(s == QR_OK, "qr_train: %s (%s)", qr_strerror(s), err.msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

typedef struct progress_log {
    size_t batches, epochs, improved, last_epoch;
} progress_log;

static void count_progress(void *user, const qr_train_progress *p)
{
    progress_log *l = user;
    if (p->event == QR_TRAIN_BATCH) {
        l->batches++;
        return;
    }
    l->epochs++;
    l->improved += p->improved != 0;
    l->last_epoch = p->epoch;
    ck_assert(isfinite(p->loss) && isfinite(p->val_accuracy));
}

/* The quickstart as shipped: 40 epochs of a 30-16-2 MLP with Adam, seed 1, on a stratified
 * 66/15/20 split of the 569 samples. Measured: test accuracy 0.9558 on the 113 test samples
 * (validation 0.9535, best epoch 28) in about 0.02 s; the bar is 0.93. */
START_TEST(test_train_quickstart_accuracy)
{
    qr_train_config c;
    qr_split_data d;
    load_quickstart(&c, &d);
    ck_assert_uint_eq(d.train.n + d.val.n + d.test.n, 569);
    ck_assert_uint_eq(d.test.n, 113);
    ck_assert_uint_eq(d.train.f, 30);
    progress_log pl = {0};
    qr_model *m = NULL;
    qr_train_result r;
    qr_error err = {{0}};
    qr_status s = qr_train(&c, &d, count_progress, &pl, &m, &r, &err);
    ck_assert_msg(s == QR_OK, "%s", err.msg);
    ck_assert_msg(r.test_accuracy >= 0.93, "quickstart test accuracy %.4f < 0.93",
                  r.test_accuracy);
    ck_assert_uint_eq(pl.epochs, c.epochs);
    ck_assert_uint_eq(pl.last_epoch, c.epochs);
    ck_assert_uint_eq(pl.batches, c.epochs * ((d.train.n + c.batch_size - 1) / c.batch_size));
    ck_assert_uint_ge(pl.improved, 1);
    ck_assert(r.best_epoch >= 1 && r.best_epoch <= c.epochs);

    /* the model returned holds the kept (best-validation) weights: re-evaluating it gives
     * the reported numbers exactly */
    double loss, acc;
    ck_assert_int_eq(qr_evaluate(m, &d.val, &loss, &acc, NULL), QR_OK);
    ck_assert_double_eq(acc, r.val_accuracy);
    ck_assert_double_eq(loss, r.val_loss);
    ck_assert_int_eq(qr_evaluate(m, &d.test, &loss, &acc, NULL), QR_OK);
    ck_assert_double_eq(acc, r.test_accuracy);
    ck_assert_double_eq(loss, r.test_loss);
    /* classes and standardization travel with the model */
    const char *const *cl = qr_model_classes(m);
    ck_assert_ptr_nonnull(cl);
    ck_assert_str_eq(cl[0], "0");
    ck_assert_str_eq(cl[1], "1");
    ck_assert_int_eq(qr_model_standardization(m, NULL, NULL), 1);
    qr_model_free(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
}
END_TEST

/* Same seed and thread count (1 and 2): bit-identical parameters. Another seed: different. */
START_TEST(test_train_deterministic)
{
    qr_train_config c;
    qr_split_data d;
    load_quickstart(&c, &d);
    c.epochs = 8;
    qr_train_result r1, r2, r3;
    qr_model *a = train_ok(&c, &d, &r1), *b = train_ok(&c, &d, &r2);
    size_t na, nb;
    const float *pa = qr_graph_params(qr_model_graph(a), NULL, &na);
    const float *pb = qr_graph_params(qr_model_graph(b), NULL, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_mem_eq(pa, pb, na * sizeof *pa);
    ck_assert_uint_eq(r1.best_epoch, r2.best_epoch);
    ck_assert_double_eq(r1.val_loss, r2.val_loss);
    ck_assert_double_eq(r1.test_loss, r2.test_loss);
    /* two BLAS threads, twice: identical to each other */
    c.threads = 2;
    qr_model *t1 = train_ok(&c, &d, &r3), *t2 = train_ok(&c, &d, &r3);
    ck_assert_mem_eq(qr_graph_params(qr_model_graph(t1), NULL, NULL),
                     qr_graph_params(qr_model_graph(t2), NULL, NULL), na * sizeof *pa);
    qr_model_free(t2);
    qr_model_free(t1);
    c.threads = 1;
    c.seed = 2;
    qr_model *o = train_ok(&c, &d, &r3);
    ck_assert_int_ne(memcmp(pa, qr_graph_params(qr_model_graph(o), NULL, NULL), na * sizeof *pa),
                     0);
    qr_model_free(o);
    qr_model_free(b);
    qr_model_free(a);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
}
END_TEST

/* Validation and test from their own files: no split of the training file, one class list. */
START_TEST(test_train_separate_files)
{
    char *dir = tl_tmpdir();
    char *csv = bundled("breast_cancer.csv");
    char *text = read_text(csv);
    free(csv);
    /* header, then rows 0-399 train, 400-484 validation, 485-568 test */
    char *rows[600];
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line && n < 600; line = strtok(NULL, "\n"))
        rows[n++] = line;
    ck_assert_uint_eq(n, 570);
    const char *names[3] = {"train.csv", "val.csv", "test.csv"};
    const size_t from[3] = {1, 401, 486}, to[3] = {401, 486, 570};
    for (int k = 0; k < 3; k++) {
        char *p = join(dir, names[k]);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "%s\n", rows[0]);
        for (size_t i = from[k]; i < to[k]; i++)
            fprintf(f, "%s\n", rows[i]);
        ck_assert_int_eq(fclose(f), 0);
        free(p);
    }
    free(text);
    char *path = tl_write_file(dir, "c.json",
                               "{\"data\": {\"train\": \"train.csv\", \"validation\": \"val.csv\","
                               " \"test\": \"test.csv\", \"label\": \"label\"},"
                               " \"model\": [{\"type\": \"dense\", \"units\": 16},"
                               "  {\"type\": \"relu\"}, {\"type\": \"dense\"}],"
                               " \"training\": {\"epochs\": 15}}");
    qr_train_config c;
    qr_split_data d;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(d.train.n, 400);
    ck_assert_uint_eq(d.val.n, 85);
    ck_assert_uint_eq(d.test.n, 84);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(d.val.class_names[i], d.train.class_names[i]);
        ck_assert_str_eq(d.test.class_names[i], d.train.class_names[i]);
    }
    qr_train_result r;
    qr_model *m = train_ok(&c, &d, &r);
    ck_assert(!isnan(r.val_accuracy) && !isnan(r.test_accuracy));
    ck_assert_msg(r.val_accuracy > 0.85 && r.test_accuracy > 0.85, "val %.3f test %.3f",
                  r.val_accuracy, r.test_accuracy);
    double acc;
    ck_assert_int_eq(qr_evaluate(m, &d.test, NULL, &acc, NULL), QR_OK);
    ck_assert_double_eq(acc, r.test_accuracy);
    qr_model_free(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(path);

    /* without validation or test data: the last epoch is kept, their results are NaN */
    path = tl_write_file(dir, "c.json",
                         "{\"data\": {\"train\": \"train.csv\", \"validation_split\": 0,"
                         " \"test_split\": 0}, \"model\": " MLP ", \"training\": {\"epochs\": 3}}");
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(d.train.n, 400);
    ck_assert_uint_eq(d.val.n + d.test.n, 0);
    m = train_ok(&c, &d, &r);
    ck_assert_uint_eq(r.best_epoch, 3);
    ck_assert(isnan(r.val_accuracy) && isnan(r.test_accuracy));
    qr_model_free(m);
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(path);

    /* a test file with a class the training file lacks */
    free(tl_write_file(dir, "odd.csv", "a,b,label\n1,2,0\n3,4,7\n"));
    path = tl_write_file(dir, "c.json",
                         "{\"data\": {\"train\": \"train.csv\", \"test\": \"odd.csv\"},"
                         " \"model\": " MLP "}");
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_int_ne(qr_train_load_data(&c, &d, &err), QR_OK);
    ck_assert_msg(strstr(err.msg, "odd.csv") != NULL, "%s", err.msg);
    qr_train_config_free(&c);
    free(path);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* Training must stop with QR_ERR_NUMERIC, no model, and a message naming epoch and step
 * ("epoch 1, step 6") that contains `want`. */
static void expect_numeric(const qr_train_config *c, const qr_split_data *d, const char *want)
{
    qr_model *m = (qr_model *)&m;
    qr_train_result r = {0};
    r.best_epoch = 12345;
    qr_error err = {{0}};
    qr_status s = qr_train(c, d, NULL, NULL, &m, &r, &err);
    ck_assert_msg(s == QR_ERR_NUMERIC, "status %s (%s), want numeric", qr_strerror(s), err.msg);
    ck_assert_ptr_null(m);
    ck_assert_uint_eq(r.best_epoch, 12345); /* no result on failure */
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "epoch [0-9]+, step [0-9]+", REG_EXTENDED), 0);
    ck_assert_msg(regexec(&re, err.msg, 0, NULL, 0) == 0, "no epoch/step in: %s", err.msg);
    regfree(&re);
    if (want)
        ck_assert_msg(strstr(err.msg, want) != NULL, "want '%s' in: %s", want, err.msg);
}

START_TEST(test_train_diverges)
{
    /* A linear two-layer model, SGD with learning rate 10 on raw (unstandardized) features
     * of up to ~4000: the weights grow geometrically and the loss is NaN within the first
     * epoch (measured: epoch 1, step 6). */
    char *dir = tl_tmpdir();
    char *csv = bundled("breast_cancer.csv");
    size_t n = strlen(csv) + 400;
    char *text = malloc(n);
    ck_assert_ptr_nonnull(text);
    snprintf(text, n,
             "{\"data\": {\"train\": \"%s\", \"label\": \"label\", \"standardize\": false},"
             " \"model\": [{\"type\": \"dense\", \"units\": 16}, {\"type\": \"dense\"}],"
             " \"optimizer\": {\"name\": \"sgd\", \"learning_rate\": 10},"
             " \"training\": {\"epochs\": 5, \"batch_size\": 32, \"seed\": 1}}",
             csv);
    free(csv);
    char *path = tl_write_file(dir, "div.json", text);
    free(text);
    qr_train_config c;
    qr_split_data d;
    qr_error err = {{0}};
    ck_assert_msg(qr_train_config_load(path, &c, &err) == QR_OK, "%s", err.msg);
    ck_assert_msg(qr_train_load_data(&c, &d, &err) == QR_OK, "%s", err.msg);
    expect_numeric(&c, &d, "epoch 1, step ");

    /* the same model and data with Adam at 1e-3 trains fine: the divergence is the
     * learning rate's, not the data's */
    qr_optim_config_default(&c.optim, QR_OPTIM_ADAM);
    c.epochs = 2;
    qr_train_result r;
    qr_model_free(train_ok(&c, &d, &r));

    /* an infinity in one training sample is refused before training starts, naming the
     * sample and the value (with or without standardization, which it would spoil) */
    d.train.x[7 * d.train.f + 3] = INFINITY;
    for (int standardize = 0; standardize < 2; standardize++) {
        c.standardize = standardize;
        qr_model *m = NULL;
        qr_status s = qr_train(&c, &d, NULL, NULL, &m, NULL, &err);
        ck_assert_int_eq(s, QR_ERR_NUMERIC);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(err.msg, "training sample 7 ") && strstr(err.msg, "value 4,") &&
                      strstr(err.msg, "not finite"), "%s", err.msg);
    }
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    free(path);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

Suite *qr_suite_train(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_config_every_key);
    tcase_add_test(tc, test_config_init_defaults);
    tcase_add_test(tc, test_config_unknown_keys);
    tcase_add_test(tc, test_config_wrong_types_and_ranges);
    tcase_add_test(tc, test_config_structure_errors);
    tcase_add_test(tc, test_config_relative_data_paths);
    suite_add_tcase(s, tc);

    tc = tcase_create("train");
    tcase_set_timeout(tc, 60); /* well under a second each; slow under sanitizers */
    tcase_add_test(tc, test_train_quickstart_accuracy);
    tcase_add_test(tc, test_train_deterministic);
    tcase_add_test(tc, test_train_separate_files);
    tcase_add_test(tc, test_train_diverges);
    suite_add_tcase(s, tc);
    return s;
}
