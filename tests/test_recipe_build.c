/* qr_recipe_build (qreg recipe): from the float bts config it writes exactly the stages of
 * the committed best-recipe examples; every refusal names its key; output paths get the tag;
 * relative data paths are made absolute only when the config moves; the rate is written
 * to six digits. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include "lib/json_util.h"
#include "testlib.h"
#include "train/recipe.h"

static cJSON *load_example(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/%s", tl_srcdir(), name);
    cJSON *j = NULL;
    qr_error err = {{0}};
    ck_assert_msg(qr_json_load_file(path, &j, &err) == QR_OK, "%s", err.msg);
    return j;
}

static cJSON *build(const cJSON *src, const qr_recipe_matrix *m, size_t n, char *msg,
                    size_t len)
{
    qr_recipe r;
    qr_recipe_default(&r);
    r.matrices = m;
    r.n_matrices = n;
    r.tag = "t";
    return qr_recipe_build(src, "dir/cfg.json", "dir/out.json", &r, msg, len);
}

START_TEST(test_recipe_equals_examples)
{
    cJSON *bts = load_example("bts.json");
    static const char *const ex[] = {"bts-1bit-nodrop-cos.json", "bts-2bit-nodrop-cos.json"};
    for (int bits = 1; bits <= 2; bits++) {
        qr_recipe_matrix m = {"all", bits};
        qr_recipe r;
        qr_recipe_default(&r);
        r.matrices = &m;
        r.n_matrices = 1;
        char msg[256] = "";
        /* from the examples directory into it: no path changes */
        char src[4096];
        snprintf(src, sizeof src, "%s/examples/bts.json", tl_srcdir());
        cJSON *got = qr_recipe_build(bts, src, src, &r, msg, sizeof msg);
        ck_assert_msg(got != NULL, "%s", msg);
        cJSON *want = load_example(ex[bits - 1]);
        ck_assert_msg(cJSON_Compare(cJSON_GetObjectItem(got, "stages"),
                                    cJSON_GetObjectItem(want, "stages"), 1),
                      "%d bits: the stages differ from %s", bits, ex[bits - 1]);
        ck_assert(cJSON_Compare(cJSON_GetObjectItem(got, "data"),
                                cJSON_GetObjectItem(want, "data"), 1));
        ck_assert(cJSON_Compare(cJSON_GetObjectItem(got, "model"),
                                cJSON_GetObjectItem(want, "model"), 1));
        /* training.epochs goes (each stage has its own); the rest stays */
        cJSON *tr = cJSON_GetObjectItem(got, "training");
        ck_assert_ptr_null(cJSON_GetObjectItem(tr, "epochs"));
        ck_assert_int_eq((int)cJSON_GetObjectItem(tr, "batch_size")->valuedouble, 64);
        ck_assert_ptr_null(cJSON_GetObjectItem(got, "quantize"));
        /* the description comes first */
        ck_assert_str_eq(got->child->string, "description");
        cJSON_Delete(want);
        cJSON_Delete(got);
    }
    cJSON_Delete(bts);
}
END_TEST

START_TEST(test_recipe_refusals)
{
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"{\"training\": {\"epochs\": 10}, \"quantize\": {}}", "'quantize'"},
        {"{\"training\": {\"epochs\": 10}, \"stages\": []}", "'stages'"},
        {"{\"training\": {\"epochs\": 10}, \"prune\": {}}", "'prune'"},
        {"{\"training\": {\"epochs\": 10}, \"output\": {\"histograms\": \"h.csv\"}}",
         "'output.histograms'"},
        {"{\"training\": {\"epochs\": 1}}", "at least 2"},
        {"{}", "at least 2"},
        {"[1]", "not a JSON object"},
    };
    qr_recipe_matrix m = {"all", 4};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *src = cJSON_Parse(cases[i].json);
        char msg[256] = "";
        ck_assert_ptr_null(build(src, &m, 1, msg, sizeof msg));
        ck_assert_msg(strstr(msg, cases[i].needle) && strstr(msg, "dir/cfg.json"),
                      "case %zu: '%s' lacks '%s' or the file name", i, msg, cases[i].needle);
        cJSON_Delete(src);
    }
    cJSON *src = cJSON_Parse("{\"training\": {\"epochs\": 10}}");
    char msg[256] = "";
    qr_recipe_matrix bad = {"all", 9};
    ck_assert_ptr_null(build(src, &bad, 1, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "bits must be 1 to 8"));
    ck_assert_ptr_null(build(src, &m, 0, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "no matrices"));
    qr_recipe r;
    qr_recipe_default(&r);
    r.matrices = &m;
    r.n_matrices = 1;
    r.float_epochs = 10;
    ck_assert_ptr_null(qr_recipe_build(src, "c.json", NULL, &r, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "leaves none"));
    r.float_epochs = 0;
    r.lr_factor = 1e5; /* 1e-3 x 1e5 = 100 > 10 */
    ck_assert_ptr_null(qr_recipe_build(src, "c.json", NULL, &r, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "outside (0, 10]"));
    cJSON_Delete(src);
}
END_TEST

static const char *str_at(const cJSON *j, const char *a, const char *b)
{
    const cJSON *o = cJSON_GetObjectItem(j, a);
    const cJSON *v = b ? cJSON_GetObjectItem(o, b) : o;
    ck_assert_msg(cJSON_IsString(v), "%s.%s is not a string", a, b ? b : "");
    return v->valuestring;
}

START_TEST(test_recipe_paths_and_numbers)
{
    char *dir = tl_tmpdir();
    char sub[4096], src_path[4200], out_path[4200];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(src_path, sizeof src_path, "%s/cfg.json", dir);
    cJSON *src = cJSON_Parse(
        "{\"data\": {\"train\": \"d/train.csv\", \"test\": \"/abs/test.csv\","
        " \"validation\": \"${QREG_DATA}/v.csv\"},"
        " \"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.002},"
        " \"training\": {\"epochs\": 15, \"init\": \"f.qrm\"},"
        " \"output\": {\"model\": \"runs/m.qrm\", \"log\": \"log\", \"checkpoint\": \".ck\","
        " \"quant_log\": \"a.b/q.csv\"}}");
    qr_recipe_matrix m[2] = {{"all", 2}, {"dense", 8}};
    qr_recipe r;
    qr_recipe_default(&r);
    r.matrices = m;
    r.n_matrices = 2;
    r.tag = "2bit";
    r.lr_factor = 5;
    char msg[256] = "";
    /* same directory: paths as they were */
    cJSON *got = qr_recipe_build(src, src_path, src_path, &r, msg, sizeof msg);
    ck_assert_msg(got != NULL, "%s", msg);
    ck_assert_str_eq(str_at(got, "data", "train"), "d/train.csv");
    ck_assert_str_eq(str_at(got, "training", "init"), "f.qrm");
    ck_assert_str_eq(str_at(got, "output", "model"), "runs/m-2bit.qrm");
    ck_assert_str_eq(str_at(got, "output", "log"), "log-2bit");
    ck_assert_str_eq(str_at(got, "output", "checkpoint"), ".ck-2bit");
    ck_assert_str_eq(str_at(got, "output", "quant_log"), "a.b/q-2bit.csv");
    cJSON *st = cJSON_GetObjectItem(got, "stages");
    ck_assert_int_eq(cJSON_GetArraySize(st), 2);
    ck_assert_int_eq((int)cJSON_GetObjectItem(cJSON_GetArrayItem(st, 0), "epochs")->valuedouble, 7);
    cJSON *s2 = cJSON_GetArrayItem(st, 1);
    ck_assert_int_eq((int)cJSON_GetObjectItem(s2, "epochs")->valuedouble, 8);
    /* 5 x 0.002, written to six digits */
    char *txt = cJSON_PrintUnformatted(cJSON_GetObjectItem(s2, "optimizer"));
    ck_assert_ptr_nonnull(strstr(txt, "\"learning_rate\":0.01,"));
    free(txt);
    cJSON *ms = cJSON_GetObjectItem(cJSON_GetObjectItem(s2, "quantize"), "matrices");
    ck_assert_int_eq(cJSON_GetArraySize(ms), 2);
    ck_assert_str_eq(str_at(cJSON_GetArrayItem(ms, 1), "layer", NULL), "dense");
    ck_assert_int_eq((int)cJSON_GetObjectItem(cJSON_GetArrayItem(ms, 1), "bits")->valuedouble, 8);
    cJSON_Delete(got);
    /* into another directory: relative data and init paths become absolute, the others not */
    snprintf(out_path, sizeof out_path, "%s/out.json", sub);
    got = qr_recipe_build(src, src_path, out_path, &r, msg, sizeof msg);
    ck_assert_msg(got != NULL, "%s", msg);
    char *real = realpath(dir, NULL);
    char want[4200];
    snprintf(want, sizeof want, "%s/d/train.csv", real);
    ck_assert_str_eq(str_at(got, "data", "train"), want);
    snprintf(want, sizeof want, "%s/f.qrm", real);
    ck_assert_str_eq(str_at(got, "training", "init"), want);
    ck_assert_str_eq(str_at(got, "data", "test"), "/abs/test.csv");
    ck_assert_str_eq(str_at(got, "data", "validation"), "${QREG_DATA}/v.csv");
    free(real);
    cJSON_Delete(got);
    cJSON_Delete(src);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* --progressive: the committed progressive KWS recipe exactly; a mixed plan keeps its wider
 * entries at their width in every stage; too few grid epochs for the stages is refused. */
START_TEST(test_recipe_progressive)
{
    cJSON *kws = load_example("kws-small.json");
    qr_recipe_matrix m = {"all", 1};
    qr_recipe r;
    qr_recipe_default(&r);
    r.matrices = &m;
    r.n_matrices = 1;
    r.progressive = 1;
    char msg[256] = "", src[4096];
    snprintf(src, sizeof src, "%s/examples/kws-small.json", tl_srcdir());
    cJSON *got = qr_recipe_build(kws, src, src, &r, msg, sizeof msg);
    ck_assert_msg(got != NULL, "%s", msg);
    cJSON *want = load_example("kws-small-1bit-prog.json");
    ck_assert_msg(cJSON_Compare(cJSON_GetObjectItem(got, "stages"),
                                cJSON_GetObjectItem(want, "stages"), 1),
                  "the stages differ from kws-small-1bit-prog.json");
    cJSON_Delete(want);
    cJSON_Delete(got);
    /* 2 bits with the dense layer at 8: stages 4/8 then 2/8, 50 grid epochs as 25 + 25 */
    qr_recipe_matrix mm[2] = {{"all", 2}, {"dense", 8}};
    r.matrices = mm;
    r.n_matrices = 2;
    r.epochs = 101;
    got = qr_recipe_build(kws, src, src, &r, msg, sizeof msg);
    ck_assert_msg(got != NULL, "%s", msg);
    cJSON *st = cJSON_GetObjectItem(got, "stages");
    ck_assert_int_eq(cJSON_GetArraySize(st), 3);
    static const int ep[3] = {50, 25, 26}, b0[3] = {0, 4, 2};
    for (int k = 0; k < 3; k++) {
        cJSON *sk = cJSON_GetArrayItem(st, k);
        ck_assert_int_eq((int)cJSON_GetObjectItem(sk, "epochs")->valuedouble, ep[k]);
        if (k == 0)
            continue;
        cJSON *ms = cJSON_GetObjectItem(cJSON_GetObjectItem(sk, "quantize"), "matrices");
        ck_assert_int_eq((int)cJSON_GetObjectItem(cJSON_GetArrayItem(ms, 0), "bits")->valuedouble,
                         b0[k]);
        ck_assert_int_eq((int)cJSON_GetObjectItem(cJSON_GetArrayItem(ms, 1), "bits")->valuedouble,
                         8);
    }
    cJSON_Delete(got);
    /* 4 bits and wider: one grid stage, as without --progressive */
    mm[0].bits = 4;
    got = qr_recipe_build(kws, src, src, &r, msg, sizeof msg);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(got, "stages")), 2);
    cJSON_Delete(got);
    /* 1 bit needs three grid epochs */
    r.matrices = &m;
    r.n_matrices = 1;
    r.epochs = 4;
    r.float_epochs = 2;
    ck_assert_ptr_null(qr_recipe_build(kws, src, src, &r, msg, sizeof msg));
    ck_assert_ptr_nonnull(strstr(msg, "cannot make 3 progressive stages"));
    cJSON_Delete(kws);
}
END_TEST

Suite *qr_suite_recipe_build(void)
{
    Suite *s = suite_create("recipe_build");
    TCase *tc = tcase_create("build");
    tcase_add_test(tc, test_recipe_equals_examples);
    tcase_add_test(tc, test_recipe_refusals);
    tcase_add_test(tc, test_recipe_paths_and_numbers);
    tcase_add_test(tc, test_recipe_progressive);
    suite_add_tcase(s, tc);
    return s;
}
