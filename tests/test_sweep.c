/* Sweeps (train/sweep*.c): key paths and their errors, grid expansion and run ids (stable
 * across runs and key order), run configs, shards, result rows in CSV and JSON lines, reading
 * results back (torn lines, repeated ids), and appends from several processes at once. */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>

#include "testlib.h"
#include "train/sweep.h"

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    ck_assert_msg(j != NULL, "bad JSON in test: %s", text);
    return j;
}

static char *canon(const cJSON *v)
{
    char *t = qr_sweep_canonical(v);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Expand a sweep given as JSON text (relative paths from `dir`). */
static qr_status expand(const char *text, const char *dir, qr_sweep *sw, qr_error *err)
{
    cJSON *spec = parse(text);
    qr_status s = qr_sweep_parse(spec, "s.json", dir, sw, err);
    cJSON_Delete(spec);
    return s;
}

static const char base_cfg[] =
    "{\"data\": {\"train\": \"d/train.csv\", \"test\": \"${QREG_DATA}/t.csv\","
    "  \"label\": \"label\"},"
    " \"model\": [{\"type\": \"dense\", \"units\": 8}, {\"type\": \"relu\"}, {\"type\": \"dense\"}],"
    " \"training\": {\"epochs\": 2, \"seed\": 7},"
    " \"quantize\": {\"schedule\": {\"name\": \"none\"},"
    "   \"matrices\": [{\"layer\": \"all\", \"bits\": 4}]},"
    " \"output\": {\"model\": \"m.qrm\", \"quant_log\": \"logs/q.csv\"}}";

/* ---- key paths ---------------------------------------------------------------------------- */

START_TEST(test_path_set_get)
{
    cJSON *c = parse(base_cfg), *v = cJSON_CreateNumber(1);
    qr_error err = {{0}};
    ck_assert_int_eq(qr_sweep_path_set(c, "quantize.matrices[0].bits", v, "w", &err), QR_OK);
    ck_assert_double_eq(qr_sweep_path_get(c, "quantize.matrices[0].bits")->valuedouble, 1);
    ck_assert_int_eq(qr_sweep_path_set(c, "model[0].units", v, "w", &err), QR_OK);
    ck_assert_double_eq(qr_sweep_path_get(c, "model[0].units")->valuedouble, 1);
    /* a new key inside an existing object */
    cJSON *r1 = cJSON_CreateString("r1");
    ck_assert_int_eq(qr_sweep_path_set(c, "quantize.matrices[0].regularizer", r1, "w", &err),
                     QR_OK);
    cJSON_Delete(r1);
    ck_assert_str_eq(qr_sweep_path_get(c, "quantize.matrices[0].regularizer")->valuestring, "r1");
    ck_assert_int_eq(qr_sweep_path_set(c, "training.threads", v, "w", &err), QR_OK);
    /* whole subtrees */
    cJSON *list = parse("[{\"layer\": \"dense\", \"bits\": 2}]");
    ck_assert_int_eq(qr_sweep_path_set(c, "quantize.matrices", list, "w", &err), QR_OK);
    ck_assert_str_eq(qr_sweep_path_get(c, "quantize.matrices[0].layer")->valuestring, "dense");
    /* null removes */
    cJSON *null = cJSON_CreateNull();
    ck_assert_int_eq(qr_sweep_path_set(c, "quantize", null, "w", &err), QR_OK);
    ck_assert_ptr_null(qr_sweep_path_get(c, "quantize"));
    ck_assert_ptr_null(qr_sweep_path_get(c, "model[9]"));
    ck_assert_ptr_null(qr_sweep_path_get(c, "model..x"));
    cJSON_Delete(null);
    cJSON_Delete(list);
    cJSON_Delete(v);
    cJSON_Delete(c);
}
END_TEST

START_TEST(test_path_errors)
{
    cJSON *c = parse(base_cfg), *v = cJSON_CreateNumber(3);
    qr_error err = {{0}};
    /* a missing intermediate key names the part that does not exist */
    ck_assert_int_eq(qr_sweep_path_set(c, "traning.epochs", v, "s.json", &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "'traning' does not exist"), "%s", err.msg);
    ck_assert_int_eq(qr_sweep_path_set(c, "quantize.shedule.name", v, "s.json", &err),
                     QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "'quantize.shedule' does not exist"), "%s", err.msg);
    /* indices must be in range, also for the last step */
    ck_assert_int_eq(qr_sweep_path_set(c, "model[3].units", v, "s.json", &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "index 3 is out of range") && strstr(err.msg, "3 entries"),
                  "%s", err.msg);
    ck_assert_int_eq(qr_sweep_path_set(c, "quantize.matrices[1]", v, "s.json", &err),
                     QR_ERR_CONFIG);
    /* wrong kinds */
    ck_assert_int_eq(qr_sweep_path_set(c, "model.units", v, "s.json", &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "'model' is a list"), "%s", err.msg);
    ck_assert_int_eq(qr_sweep_path_set(c, "training[0]", v, "s.json", &err), QR_ERR_CONFIG);
    ck_assert_int_eq(qr_sweep_path_set(c, "training.epochs.x", v, "s.json", &err),
                     QR_ERR_CONFIG);
    /* malformed */
    static const char *const bad[] = {"", "a..b", "[0]", "model[x]", "model[0", ".a", "a.",
                                      NULL};
    for (const char *const *p = bad; *p; p++)
        ck_assert_msg(qr_sweep_path_set(c, *p, v, "s.json", &err) == QR_ERR_CONFIG, "'%s'", *p);
    cJSON_Delete(v);
    cJSON_Delete(c);
}
END_TEST

START_TEST(test_short_names)
{
    char *cols[] = {"quantize.matrices[0].bits", "quantize.schedule.name", "model[4].units",
                    "group", "model[0].units", "model[2].type"};
    char **n = qr_sweep_short_names(cols, 6);
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n[0], "bits");
    ck_assert_str_eq(n[1], "schedule");
    ck_assert_str_eq(n[2], "model[4].units"); /* "units" twice: the whole names */
    ck_assert_str_eq(n[3], "group");
    ck_assert_str_eq(n[4], "model[0].units");
    ck_assert_str_eq(n[5], "type");
    qr_sweep_short_names_free(n, 6);
}
END_TEST

/* ---- canonical text and ids ----------------------------------------------------------- */

START_TEST(test_ids_stable)
{
    cJSON *a = parse("{\"b\": 1, \"a\": {\"y\": [1, 2, {\"q\": 1, \"p\": 2}], \"x\": \"s\"}}");
    cJSON *b = parse("{\"a\": {\"x\": \"s\", \"y\": [1, 2, {\"p\": 2, \"q\": 1}]}, \"b\": 1.0}");
    char *ta = canon(a), *tb = canon(b);
    ck_assert_str_eq(ta, "{\"a\":{\"x\":\"s\",\"y\":[1,2,{\"p\":2,\"q\":1}]},\"b\":1}");
    ck_assert_str_eq(ta, tb);
    char ia[QR_SWEEP_ID_LEN + 1], ib[QR_SWEEP_ID_LEN + 1];
    qr_sweep_id(a, ia);
    qr_sweep_id(b, ib);
    ck_assert_str_eq(ia, ib);
    ck_assert_int_eq((int)strlen(ia), QR_SWEEP_ID_LEN);
    /* the hash is part of the file format: results of earlier runs must still be found */
    ck_assert_str_eq(ia, "75dcbc246308");
    cJSON *c = parse("{\"b\": 2, \"a\": {\"y\": [1, 2, {\"q\": 1, \"p\": 2}], \"x\": \"s\"}}");
    char ic[QR_SWEEP_ID_LEN + 1];
    qr_sweep_id(c, ic);
    ck_assert_str_ne(ia, ic);
    free(ta);
    free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}
END_TEST

/* ---- expansion ---------------------------------------------------------------------------- */

START_TEST(test_grid_expansion)
{
    char sweep[2048];
    snprintf(sweep, sizeof sweep,
             "{\"base\": %s,"
             " \"axes\": {\"quantize.matrices[0].bits\": [1, 2],"
             "            \"quantize.schedule.name\": [\"none\", \"linear\", \"poly2\"]},"
             " \"zip\": [{\"model[0].units\": 4, \"training.epochs\": 3},"
             "           {\"model[0].units\": 16, \"training.epochs\": 5}],"
             " \"repeat\": 2, \"names\": {\"quantize.schedule.name\": \"schedule\"}}",
             base_cfg);
    qr_sweep sw;
    qr_error err = {{0}};
    ck_assert_msg(expand(sweep, "/x/y", &sw, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(sw.n_points, 2 * 3 * 2 * 2);
    ck_assert_uint_eq(sw.n_columns, 4);
    ck_assert_str_eq(sw.columns[0], "quantize.matrices[0].bits");
    ck_assert_str_eq(sw.columns[1], "schedule");
    ck_assert_str_eq(sw.column_paths[1], "quantize.schedule.name");
    ck_assert_str_eq(sw.columns[2], "model[0].units");
    ck_assert_str_eq(sw.columns[3], "training.epochs");
    /* order: first axis slowest, then zip points, then repetitions */
    const qr_sweep_point *p = sw.points;
    ck_assert_str_eq(p[0].labels[0], "1");
    ck_assert_str_eq(p[0].labels[1], "none");
    ck_assert_str_eq(p[0].labels[2], "4");
    ck_assert_uint_eq(p[0].rep, 1);
    ck_assert_int_eq(p[0].seed, 7);
    ck_assert_uint_eq(p[1].rep, 2);
    ck_assert_int_eq(p[1].seed, 8);
    ck_assert_str_eq(p[2].labels[2], "16");
    ck_assert_str_eq(p[2].labels[3], "5");
    ck_assert_str_eq(p[4].labels[1], "linear");
    ck_assert_str_eq(p[12].labels[0], "2");
    ck_assert_str_eq(p[23].labels[1], "poly2");
    /* the config of a point: settings, seed, one thread, no output or description */
    const cJSON *c = p[23].config;
    ck_assert_double_eq(qr_sweep_path_get(c, "quantize.matrices[0].bits")->valuedouble, 2);
    ck_assert_str_eq(qr_sweep_path_get(c, "quantize.schedule.name")->valuestring, "poly2");
    ck_assert_double_eq(qr_sweep_path_get(c, "model[0].units")->valuedouble, 16);
    ck_assert_double_eq(qr_sweep_path_get(c, "training.seed")->valuedouble, 8);
    ck_assert_double_eq(qr_sweep_path_get(c, "training.threads")->valuedouble, 1);
    ck_assert_ptr_null(qr_sweep_path_get(c, "output"));
    /* ids are distinct, and the same in a second expansion */
    for (size_t i = 0; i < sw.n_points; i++)
        for (size_t j = i + 1; j < sw.n_points; j++)
            ck_assert_str_ne(sw.points[i].id, sw.points[j].id);
    qr_sweep sw2;
    ck_assert_int_eq(expand(sweep, "/x/y", &sw2, &err), QR_OK);
    for (size_t i = 0; i < sw.n_points; i++)
        ck_assert_str_eq(sw.points[i].id, sw2.points[i].id);
    qr_sweep_free(&sw2);
    /* the base's key order and formatting do not change ids */
    char sweep3[2048];
    snprintf(sweep3, sizeof sweep3,
             "{\"repeat\": 2, \"names\": {\"quantize.schedule.name\": \"schedule\"},"
             " \"zip\": [{\"training.epochs\": 3, \"model[0].units\": 4.0},"
             "           {\"model[0].units\": 16, \"training.epochs\": 5}],"
             " \"axes\": {\"quantize.matrices[0].bits\": [1, 2],"
             "            \"quantize.schedule.name\": [\"none\", \"linear\", \"poly2\"]},"
             " \"base\": {\"training\": {\"seed\": 7, \"epochs\": 2},"
             "  \"output\": {\"model\": \"elsewhere.qrm\"},"
             "  \"model\": [{\"units\": 8, \"type\": \"dense\"}, {\"type\": \"relu\"}, {\"type\": \"dense\"}],"
             "  \"quantize\": {\"matrices\": [{\"bits\": 4, \"layer\": \"all\"}], \"schedule\": {\"name\": \"none\"}},"
             "  \"data\": {\"label\": \"label\", \"test\": \"${QREG_DATA}/t.csv\", \"train\": \"d/train.csv\"}}}");
    ck_assert_msg(expand(sweep3, "/x/y", &sw2, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(sw2.n_points, sw.n_points);
    for (size_t i = 0; i < sw.n_points; i++)
        ck_assert_str_eq(sw.points[i].id, sw2.points[i].id);
    qr_sweep_free(&sw2);
    qr_sweep_free(&sw);
}
END_TEST

START_TEST(test_labels_include_repeat_list)
{
    char sweep[2048];
    snprintf(sweep, sizeof sweep,
             "{\"base\": %s,"
             " \"axes\": {\"quantize.matrices[0].layer\": {\"first\": \"dense_1\","
             "                                    \"both\": [\"dense_1\", \"dense_2\"]}},"
             " \"include\": [{\"quantize.matrices[0].bits\": 8,"
             "                \"quantize.matrices[0].regularize\": false}],"
             " \"repeat\": [3, 10], \"names\": {\"quantize.matrices[0].layer\": \"group\","
             "   \"quantize.matrices[0].bits\": \"bits\"}}", base_cfg);
    qr_sweep sw;
    qr_error err = {{0}};
    ck_assert_msg(expand(sweep, "/x", &sw, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(sw.n_points, 3 * 2);
    ck_assert_str_eq(sw.columns[0], "group");
    ck_assert_str_eq(sw.columns[1], "bits");
    ck_assert_str_eq(sw.points[0].labels[0], "first");
    ck_assert_str_eq(sw.points[0].labels[1], "4"); /* not set: read from the config */
    ck_assert_int_eq(sw.points[0].seed, 3);
    ck_assert_int_eq(sw.points[1].seed, 10);
    ck_assert_str_eq(sw.points[2].labels[0], "both");
    const cJSON *layer = qr_sweep_path_get(sw.points[2].config, "quantize.matrices[0].layer");
    ck_assert(cJSON_IsArray(layer));
    /* the include point: its own settings; the unset axis shows the config's value, with the
     * axis' label when it equals an axis value */
    ck_assert_str_eq(sw.points[4].labels[1], "8");
    ck_assert_str_eq(sw.points[4].labels[2], "false");
    ck_assert_str_eq(sw.points[0].labels[2], ""); /* absent in the grid's configs */
    ck_assert_str_eq(sw.points[4].labels[0], "all");
    qr_sweep_free(&sw);
}
END_TEST

/* "set" applies to every point; a setting inside a subtree another one replaces lands in the
 * new subtree whatever the order in the file */
START_TEST(test_set_and_nesting)
{
    qr_sweep sw;
    qr_error err = {{0}};
    ck_assert_msg(expand("{\"base\": {\"training\": {\"epochs\": 5}},"
                         " \"set\": {\"quantize.lambda\": 0.5, \"training.epochs\": 9,"
                         "   \"quantize\": {\"matrices\": [{\"layer\": \"all\", \"bits\": 1}]}},"
                         " \"axes\": {\"quantize.matrices[0].regularizer\": [\"r1\", \"reg1c\"]},"
                         " \"zip\": [{\"quantize.matrices[0]\": {\"layer\": \"gru\", \"bits\": 1}}]}",
                         "/", &sw, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(sw.n_points, 2);
    ck_assert_uint_eq(sw.n_columns, 2); /* "set" keys are no columns */
    const cJSON *c = sw.points[1].config;
    ck_assert_double_eq(qr_sweep_path_get(c, "quantize.lambda")->valuedouble, 0.5);
    ck_assert_double_eq(qr_sweep_path_get(c, "training.epochs")->valuedouble, 9);
    ck_assert_str_eq(qr_sweep_path_get(c, "quantize.matrices[0].layer")->valuestring, "gru");
    ck_assert_str_eq(qr_sweep_path_get(c, "quantize.matrices[0].regularizer")->valuestring,
                     "reg1c");
    qr_sweep_free(&sw);
}
END_TEST

START_TEST(test_sweep_errors)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"axes\": {\"training.epochs\": [1]}}", "'base'"},
        {"{\"base\": {\"training\": {}}, \"axes\": {\"traning.epochs\": [1, 2]}}",
         "'traning' does not exist"},
        {"{\"base\": {\"model\": [{}]}, \"axes\": {\"model[1].units\": [1, 2]}}",
         "index 1 is out of range"},
        {"{\"base\": {\"training\": {}}, \"axes\": {\"training.epochs\": []}}",
         "non-empty list"},
        {"{\"base\": {\"training\": {}}, \"axes\": {\"training.epochs\": [1, 1]}}",
         "value '1' twice"},
        {"{\"base\": {\"training\": {}}, \"zip\": [{\"training.epochs\": 1}, {\"training.epochs\": 1}]}",
         "same config"},
        {"{\"base\": {\"training\": {}}, \"repeat\": 0}", "'repeat'"},
        {"{\"base\": {\"training\": {}}}", "nothing to sweep"},
        {"{\"base\": {\"training\": {}}, \"axes\": {\"training.epochs\": [1, 2]}, \"frob\": 1}",
         "unknown key 'frob'"},
        {"{\"base\": {\"training\": {}}, \"axes\": {\"training.epochs\": [1, 2]},"
         " \"names\": {\"training.epochs\": \"seed\"}}", "cannot name a result column"},
        {"{\"base\": {\"training\": {}}, \"axes\": {\"training.epochs\": [1, 2]},"
         " \"names\": {\"training.batch_size\": \"b\"}}", "which no axis"},
        {"{\"base\": \"no-such-base.json\", \"repeat\": 2}", "no-such-base.json"},
        {"{\"base\": {}, \"set\": [1], \"repeat\": 2}", "'set' must be an object"},
        {"{\"base\": {}, \"set\": {\"training.seed\": 2}, \"repeat\": 2}",
         "set: 'training.seed': 'training' does not exist"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qr_sweep sw;
        qr_error err = {{0}};
        ck_assert_msg(expand(cases[i].text, "/nonexistent", &sw, &err) != QR_OK, "case %zu", i);
        ck_assert_msg(strstr(err.msg, cases[i].want), "case %zu: '%s' lacks '%s'", i, err.msg,
                      cases[i].want);
        ck_assert_msg(strncmp(err.msg, "s.json", 6) == 0 || strstr(err.msg, "no-such"),
                      "case %zu: '%s' does not name the sweep file", i, err.msg);
        ck_assert_ptr_null(sw.points);
    }
}
END_TEST

START_TEST(test_base_file_and_run_config)
{
    char *dir = tl_tmpdir();
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/configs", dir);
    ck_assert_int_eq(mkdir(sub, 0777), 0);
    free(tl_write_file(sub, "base.json", base_cfg));
    char *sp = tl_write_file(dir, "s.json", "{\"base\": \"configs/base.json\", \"repeat\": 2}");
    qr_sweep sw;
    qr_error err = {{0}};
    ck_assert_msg(qr_sweep_load(sp, &sw, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(sw.n_points, 2);
    ck_assert_uint_eq(sw.n_columns, 0);
    cJSON *rc = qr_sweep_run_config(&sw, &sw.points[1], "/out/runs/abc");
    ck_assert_ptr_nonnull(rc);
    char want[4200];
    char *real = realpath(sub, NULL);
    snprintf(want, sizeof want, "%s/d/train.csv", real);
    ck_assert_str_eq(qr_sweep_path_get(rc, "data.train")->valuestring, want);
    ck_assert_str_eq(qr_sweep_path_get(rc, "data.test")->valuestring, "${QREG_DATA}/t.csv");
    ck_assert_str_eq(qr_sweep_path_get(rc, "output.model")->valuestring, "/out/runs/abc/model.qrm");
    ck_assert_str_eq(qr_sweep_path_get(rc, "output.log")->valuestring, "/out/runs/abc/log.csv");
    ck_assert_str_eq(qr_sweep_path_get(rc, "output.quant_log")->valuestring,
                     "/out/runs/abc/q.csv");
    ck_assert_double_eq(qr_sweep_path_get(rc, "training.seed")->valuedouble, 8);
    ck_assert(cJSON_IsString(qr_sweep_path_get(rc, "description")));
    /* the id is made of the config before paths are resolved: moving the tree keeps it */
    ck_assert_str_eq(qr_sweep_path_get(sw.points[1].config, "data.train")->valuestring,
                     "d/train.csv");
    free(real);
    cJSON_Delete(rc);
    qr_sweep_free(&sw);
    free(sp);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- shards --------------------------------------------------------------------------- */

START_TEST(test_shards_partition)
{
    qr_sweep sw;
    qr_error err = {{0}};
    ck_assert_int_eq(expand("{\"base\": {\"training\": {}}, \"axes\": {\"training.epochs\": "
                            "[1, 2, 3, 4, 5, 6, 7], \"training.batch_size\": [8, 16, 32]}}",
                            "/", &sw, &err), QR_OK);
    ck_assert_uint_eq(sw.n_points, 21);
    unsigned char sel[21];
    for (size_t n = 1; n <= 6; n++) {
        int count[21] = {0};
        size_t lo = 99, hi = 0;
        for (size_t i = 1; i <= n; i++) {
            qr_sweep_shard(&sw, i, n, sel);
            size_t m = 0;
            for (size_t k = 0; k < 21; k++) {
                count[k] += sel[k];
                m += sel[k];
            }
            lo = m < lo ? m : lo;
            hi = m > hi ? m : hi;
        }
        for (size_t k = 0; k < 21; k++)
            ck_assert_msg(count[k] == 1, "n=%zu: point %zu in %d shards", n, k, count[k]);
        ck_assert_uint_le(hi - lo, 1);
    }
    /* the same slice from a second expansion (another process) */
    qr_sweep sw2;
    ck_assert_int_eq(expand("{\"base\": {\"training\": {}}, \"axes\": {\"training.epochs\": "
                            "[1, 2, 3, 4, 5, 6, 7], \"training.batch_size\": [8, 16, 32]}}",
                            "/", &sw2, &err), QR_OK);
    unsigned char sel2[21];
    qr_sweep_shard(&sw, 2, 4, sel);
    qr_sweep_shard(&sw2, 2, 4, sel2);
    ck_assert_mem_eq(sel, sel2, 21);
    qr_sweep_free(&sw2);
    qr_sweep_free(&sw);
}
END_TEST

/* ---- rows ----------------------------------------------------------------------------- */

static void make_row(qr_sweep_row *r, const qr_sweep *sw, size_t k, int ok)
{
    ck_assert_int_eq(qr_sweep_row_init(r, sw, &sw->points[k]), QR_OK);
    if (ok)
        ck_assert_int_eq(qr_sweep_row_set_result(r,
            "{\"model\":\"m\",\"best_epoch\":3,\"val_accuracy\":0.9,\"val_loss\":0.3,"
            "\"test_accuracy\":0.875,\"test_loss\":0.4,\"fq_val_accuracy\":0.85,"
            "\"fq_test_accuracy\":0.8125,\"bytes\":128.5,\"baseline_bytes\":257,"
            "\"seconds\":1.5}"), 0);
    else
        qr_sweep_row_set_error(r, "  boom, \"quoted\"\nsecond line  ");
}

START_TEST(test_rows_csv_jsonl)
{
    qr_sweep sw;
    qr_error err = {{0}};
    ck_assert_int_eq(expand("{\"base\": {\"training\": {}, \"optimizer\": {}},"
                            " \"axes\": {\"optimizer.name\": [\"adam\", \"sgd\"],"
                            "  \"training.batch_size\": {\"small, odd\": 3, \"big\": 64}}}",
                            "/", &sw, &err), QR_OK);
    char *head = qr_sweep_csv_header(sw.columns, sw.n_columns);
    ck_assert_str_eq(head, "id,optimizer.name,training.batch_size,rep,seed,status,error,"
                           "val_accuracy,test_accuracy,fq_val_accuracy,fq_test_accuracy,"
                           "int_val_accuracy,int_test_accuracy,val_loss,test_loss,best_epoch,"
                           "bytes,actual_bytes,baseline_bytes,reduction_pct,seconds\n");
    qr_sweep_row ok, bad;
    make_row(&ok, &sw, 0, 1);
    make_row(&bad, &sw, 1, 0);
    ck_assert_str_eq(bad.error, "boom, \"quoted\" second line");
    ck_assert_double_eq_tol(ok.reduction_pct, 50, 1e-9);
    char *c1 = qr_sweep_row_csv(&ok), *c2 = qr_sweep_row_csv(&bad);
    char want[512];
    snprintf(want, sizeof want, "%s,adam,\"small, odd\",1,1,ok,,0.9,0.875,0.85,0.8125,,,0.3,0.4,"
             "3,128.5,,257,50,1.5\n", ok.id);
    ck_assert_str_eq(c1, want);
    ck_assert_msg(strstr(c2, ",failed,\"boom, \"\"quoted\"\" second line\",,,"), "%s", c2);
    ck_assert_uint_lt(strlen(c1), 4096); /* below PIPE_BUF */
    /* JSON lines round trip */
    char *j1 = qr_sweep_row_jsonl(&ok), *j2 = qr_sweep_row_jsonl(&bad);
    ck_assert_int_eq(j1[strlen(j1) - 1], '\n');
    ck_assert(strchr(j1, '\n') == j1 + strlen(j1) - 1); /* one line */
    qr_sweep_row back;
    ck_assert_int_eq(qr_sweep_row_from_jsonl(&back, j1), 0);
    ck_assert_str_eq(back.id, ok.id);
    ck_assert(back.ok);
    ck_assert_str_eq(back.labels[1], "small, odd");
    ck_assert_double_eq(back.fq_test_accuracy, 0.8125);
    ck_assert(isnan(back.int_test_accuracy));
    qr_sweep_row_free(&back);
    ck_assert_int_eq(qr_sweep_row_from_jsonl(&back, j2), 0);
    ck_assert(!back.ok);
    ck_assert_str_eq(back.error, bad.error);
    qr_sweep_row_free(&back);
    ck_assert_int_ne(qr_sweep_row_from_jsonl(&back, "{\"id\": \"abc\""), 0);
    ck_assert_int_ne(qr_sweep_row_set_result(&bad, "not json"), 0);

    /* a results file: header, rows, a repeated id (failed then ok), a torn last line */
    char *dir = tl_tmpdir();
    char text[4096];
    qr_sweep_row ok2;
    make_row(&ok2, &sw, 1, 1);
    char *c3 = qr_sweep_row_csv(&ok2);
    snprintf(text, sizeof text, "%s%s%s%s%.30s", head, c1, c2, c3, c1);
    char *path = tl_write_file(dir, "results.csv", text);
    qr_sweep_results res = {0};
    ck_assert_msg(qr_sweep_results_read_csv(&res, path, &err) == QR_OK, "%s", err.msg);
    ck_assert_uint_eq(res.n_rows, 3);
    ck_assert_uint_eq(res.skipped, 1);
    ck_assert_uint_eq(res.n_columns, 2);
    ck_assert_str_eq(res.rows[1].labels[1], "big");
    ck_assert_str_eq(res.rows[1].error, bad.error);
    qr_sweep_results_dedup(&res);
    ck_assert_uint_eq(res.n_rows, 2);
    ck_assert(res.rows[1].ok); /* the ok row of id 1 replaced the failed one */
    ck_assert_double_eq(res.rows[0].bytes, 128.5);
    qr_sweep_results_free(&res);
    char *p2 = tl_write_file(dir, "other.csv", "a,b\n1,2\n");
    ck_assert_int_eq(qr_sweep_results_read_csv(&res, p2, &err), QR_ERR_FORMAT);
    qr_sweep_results_free(&res);

    /* done ids: ok rows only, a torn last line ignored */
    snprintf(text, sizeof text, "%s%s%.20s", j1, j2, j1);
    char *jp = tl_write_file(dir, "results.jsonl", text);
    char (*ids)[QR_SWEEP_ID_LEN + 1] = NULL;
    size_t n = 0;
    ck_assert_int_eq(qr_sweep_done_ids(jp, &ids, &n, &err), QR_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ids[0], ok.id);
    free(ids);
    ids = NULL;
    n = 0;
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/none.jsonl", dir);
    ck_assert_int_eq(qr_sweep_done_ids(missing, &ids, &n, &err), QR_OK);
    ck_assert_uint_eq(n, 0);

    free(jp);
    free(p2);
    free(path);
    tl_rmtree(dir);
    free(dir);
    free(c1);
    free(c2);
    free(c3);
    free(j1);
    free(j2);
    free(head);
    qr_sweep_row_free(&ok);
    qr_sweep_row_free(&ok2);
    qr_sweep_row_free(&bad);
    qr_sweep_free(&sw);
}
END_TEST

/* Several processes append rows to one O_APPEND file at once: every row arrives whole. */
START_TEST(test_atomic_appends)
{
    char *dir = tl_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/rows.csv", dir);
    enum { PROCS = 4, ROWS = 300 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] == 0) {
            int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
            char row[3000];
            for (int i = 0; i < ROWS; i++) {
                /* long rows of varying length, ending in a checkable marker */
                int len = 200 + (i * 37 + p * 101) % 2500;
                memset(row, 'a' + p, (size_t)len);
                int n = len + snprintf(row + len, sizeof row - (size_t)len, ",%d,%d,%d\n", p,
                                       i, len);
                qr_error e;
                if (fd < 0 || qr_sweep_append(fd, row, (size_t)n, path, &e) != QR_OK)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st;
        ck_assert_int_eq(waitpid(pids[p], &st, 0), pids[p]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char line[4096];
    int seen[PROCS][ROWS] = {{0}}, lines = 0;
    while (fgets(line, sizeof line, f)) {
        int p, i, len;
        char *c = strchr(line, ',');
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(sscanf(c, ",%d,%d,%d", &p, &i, &len), 3);
        ck_assert_int_eq((int)(c - line), len);
        for (int k = 0; k < len; k++)
            ck_assert_int_eq(line[k], 'a' + p);
        seen[p][i]++;
        lines++;
    }
    fclose(f);
    ck_assert_int_eq(lines, PROCS * ROWS);
    for (int p = 0; p < PROCS; p++)
        for (int i = 0; i < ROWS; i++)
            ck_assert_int_eq(seen[p][i], 1);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

Suite *qr_suite_sweep(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("paths");
    tcase_add_test(tc, test_path_set_get);
    tcase_add_test(tc, test_path_errors);
    tcase_add_test(tc, test_ids_stable);
    tcase_add_test(tc, test_short_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("expand");
    tcase_add_test(tc, test_grid_expansion);
    tcase_add_test(tc, test_labels_include_repeat_list);
    tcase_add_test(tc, test_set_and_nesting);
    tcase_add_test(tc, test_sweep_errors);
    tcase_add_test(tc, test_base_file_and_run_config);
    tcase_add_test(tc, test_shards_partition);
    suite_add_tcase(s, tc);
    tc = tcase_create("results");
    tcase_add_test(tc, test_rows_csv_jsonl);
    tcase_add_test(tc, test_atomic_appends);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
