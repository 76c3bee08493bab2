/* CSV loader and dataset utilities: parsing rules, every error with its location, the
 * stratified split and standardization. Every file is written to a fresh temporary
 * directory inside the test. */
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "qreg/data.h"
#include "testlib.h"

/* ---- helpers ------------------------------------------------------------------------- */

static qr_csv_options opts(int header, long label_index)
{
    qr_csv_options o;
    memset(&o, 0, sizeof o);
    o.header = header;
    o.label_index = label_index;
    return o;
}

/* Write `len` bytes of `text` as data.csv in a fresh directory and load it with `o`. */
static qr_status load_bytes(const char *text, size_t len, qr_csv_options o, qr_dataset *d,
                            qr_error *err)
{
    char *dir = tl_tmpdir();
    char *path = tl_write_file(dir, "data.csv", "");
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(text, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
    o.path = path;
    qr_status st = qr_csv_load(&o, d, err);
    tl_rmtree(dir);
    free(path);
    free(dir);
    return st;
}

static qr_status load_text(const char *text, qr_csv_options o, qr_dataset *d, qr_error *err)
{
    return load_bytes(text, strlen(text), o, d, err);
}

/* Load must succeed; returns the dataset. */
static qr_dataset load_ok(const char *text, qr_csv_options o)
{
    qr_dataset d;
    qr_error err = {{0}};
    qr_status st = load_text(text, o, &d, &err);
    ck_assert_msg(st == QR_OK, "load failed: %s (%s)", qr_strerror(st), err.msg);
    return d;
}

static int dataset_is_zero(const qr_dataset *d)
{
    return d->n == 0 && d->t == 0 && d->f == 0 && !d->x && !d->y && d->n_classes == 0 &&
           !d->class_names;
}

/* Load must fail with `want`, the message must contain `where` (e.g. "data.csv:3:2: ") and
 * `what`, and the output must be left zeroed. */
static void expect_error_bytes(const char *text, size_t len, qr_csv_options o, qr_status want,
                               const char *where, const char *what)
{
    qr_dataset d;
    memset(&d, 0x5a, sizeof d);  /* garbage: the loader must zero it */
    qr_error err = {{0}};
    qr_status st = load_bytes(text, len, o, &d, &err);
    ck_assert_msg(st == want, "status %d (%s), want %d; message: %s", (int)st, qr_strerror(st),
                  (int)want, err.msg);
    ck_assert_msg(strstr(err.msg, where) != NULL, "message \"%s\" lacks \"%s\"", err.msg, where);
    ck_assert_msg(strstr(err.msg, what) != NULL, "message \"%s\" lacks \"%s\"", err.msg, what);
    ck_assert(dataset_is_zero(&d));
}

static void expect_error(const char *text, qr_csv_options o, qr_status want, const char *where,
                         const char *what)
{
    expect_error_bytes(text, strlen(text), o, want, where, what);
}

static void assert_floats(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "x[%zu] = %g, want %g", i, (double)got[i],
                      (double)want[i]);
}

static void assert_labels(const qr_dataset *d, const int32_t *want, size_t n)
{
    ck_assert_uint_eq(d->n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(d->y[i] == want[i], "y[%zu] = %d, want %d", i, (int)d->y[i], (int)want[i]);
}

static void assert_classes(const qr_dataset *d, const char *const *want, size_t k)
{
    ck_assert_uint_eq(d->n_classes, k);
    for (size_t i = 0; i < k; i++)
        ck_assert_str_eq(d->class_names[i], want[i]);
}

/* ---- parsing --------------------------------------------------------------------------- */

START_TEST(test_csv_header_label_by_name)
{
    qr_csv_options o = opts(1, 0);
    o.label_name = "label";
    qr_dataset d = load_ok("a,b,label,c\n1,2,x,3\n4,5,y,6\n7,8,x,9\n", o);
    ck_assert_uint_eq(d.t, 1);
    ck_assert_uint_eq(d.f, 3);
    static const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_floats(d.x, x, 9);
    static const int32_t y[] = {0, 1, 0};
    assert_labels(&d, y, 3);
    static const char *const cls[] = {"x", "y"};
    assert_classes(&d, cls, 2);
    qr_dataset_free(&d);
    ck_assert(dataset_is_zero(&d));
}
END_TEST

START_TEST(test_csv_no_header_label_by_index)
{
    const char *text = "1,2,0\n3,4,1\n5,6,0\n";
    /* -1: the last column. */
    qr_dataset d = load_ok(text, opts(0, -1));
    static const float x1[] = {1, 2, 3, 4, 5, 6};
    assert_floats(d.x, x1, 6);
    static const int32_t y1[] = {0, 1, 0};
    assert_labels(&d, y1, 3);
    qr_dataset_free(&d);

    /* -3 and 0: the first column; the features keep file order around it. */
    static const float x2[] = {2, 0, 4, 1, 6, 0};
    static const int32_t y2[] = {0, 1, 2};
    static const char *const cls[] = {"1", "3", "5"};
    long idx[] = {-3, 0};
    for (int k = 0; k < 2; k++) {
        d = load_ok(text, opts(0, idx[k]));
        assert_floats(d.x, x2, 6);
        assert_labels(&d, y2, 3);
        assert_classes(&d, cls, 3);
        qr_dataset_free(&d);
    }

    /* 1: the middle column. */
    d = load_ok(text, opts(0, 1));
    static const float x3[] = {1, 0, 3, 1, 5, 0};
    assert_floats(d.x, x3, 6);
    qr_dataset_free(&d);

    /* header = 0 really reads the first row as data. */
    expect_error("f,g,y\n1,2,0\n3,4,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:1:1: ",
                 "expected a number, got \"f\"");
}
END_TEST

START_TEST(test_csv_detect_header)
{
    qr_dataset d;
    /* Non-numeric feature names. */
    d = load_ok("f1,f2,y\n1,2,0\n3,4,1\n", opts(-1, -1));
    ck_assert_uint_eq(d.n, 2);
    ck_assert_float_eq(d.x[0], 1);
    qr_dataset_free(&d);
    /* All numeric: no header. */
    d = load_ok("1,2,0\n3,4,1\n", opts(-1, -1));
    ck_assert_uint_eq(d.n, 2);
    ck_assert_float_eq(d.x[0], 1);
    qr_dataset_free(&d);
    /* Numeric feature names, a label name over numeric labels: a header. */
    d = load_ok("0,1,label\n1,2,0\n3,4,1\n", opts(-1, -1));
    ck_assert_uint_eq(d.n, 2);
    ck_assert_float_eq(d.x[0], 1);
    qr_dataset_free(&d);
    /* String labels without a header (UCI iris.data style): the first row is data. */
    d = load_ok("5.1,3.5,setosa\n4.9,3.0,virginica\n", opts(-1, -1));
    ck_assert_uint_eq(d.n, 2);
    ck_assert_float_eq(d.x[0], 5.1f);
    static const char *const cls[] = {"setosa", "virginica"};
    assert_classes(&d, cls, 2);
    qr_dataset_free(&d);
    /* A label name means a header, even with header = -1. */
    qr_csv_options o = opts(-1, 0);
    o.label_name = "7";
    d = load_ok("7,8\n1,0\n2,1\n", o);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_float_eq(d.x[0], 0);
    qr_dataset_free(&d);
}
END_TEST

START_TEST(test_csv_integer_labels_numeric_order)
{
    qr_dataset d = load_ok("0.5,3\n0.1,10\n0.2,7\n0.3,10\n0.4,03\n-1,+7\n", opts(0, -1));
    static const char *const cls[] = {"3", "7", "10"};
    assert_classes(&d, cls, 3);
    static const int32_t y[] = {0, 2, 1, 2, 0, 1};
    assert_labels(&d, y, 6);
    qr_dataset_free(&d);

    d = load_ok("1,-2\n2,5\n3,-10\n", opts(0, -1));
    static const char *const cls2[] = {"-10", "-2", "5"};
    assert_classes(&d, cls2, 3);
    qr_dataset_free(&d);
}
END_TEST

START_TEST(test_csv_string_labels)
{
    qr_dataset d = load_ok("1,dog\n2,cat\n3,bird\n4,cat\n", opts(0, -1));
    static const char *const cls[] = {"bird", "cat", "dog"};
    assert_classes(&d, cls, 3);
    static const int32_t y[] = {2, 1, 0, 1};
    assert_labels(&d, y, 4);
    qr_dataset_free(&d);

    /* One non-integer label makes them all strings: lexicographic order. */
    d = load_ok("1,10\n2,9\n3,x\n", opts(0, -1));
    static const char *const cls2[] = {"10", "9", "x"};
    assert_classes(&d, cls2, 3);
    qr_dataset_free(&d);
}
END_TEST

START_TEST(test_csv_sequence_shape)
{
    /* Cell value 10·step + feature (1-based): row-major t = 3 steps of f = 2 features, the
     * label column (index 2) skipped. */
    qr_csv_options o = opts(1, 2);
    o.t = 3;
    o.f = 2;
    qr_dataset d = load_ok("a,b,y,c,d,e,g\n11,12,p,21,22,31,32\n111,112,q,121,122,131,132\n", o);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.t, 3);
    ck_assert_uint_eq(d.f, 2);
    for (size_t i = 0; i < 2; i++)
        for (size_t s = 0; s < 3; s++)
            for (size_t j = 0; j < 2; j++)
                ck_assert_float_eq(d.x[i * 6 + s * 2 + j],
                                   (float)(100 * i + 10 * (s + 1) + j + 1));
    qr_dataset_free(&d);
}
END_TEST

START_TEST(test_csv_crlf_bom_quotes_spaces)
{
    qr_csv_options o = opts(-1, 0);
    o.label_name = "label";
    qr_dataset d = load_ok("\xEF\xBB\xBF"
                           "f1 , f2 ,\"label\"\r\n"
                           " 1.5 , 2 ,\"a, \"\"quoted\"\"\"\r\n"
                           "3,\t4 , \"b\" \r\n"
                           "-5e-1,6e2,b\r\n"
                           "\r\n  \r\n\n",
                           o);
    ck_assert_uint_eq(d.f, 2);
    static const float x[] = {1.5f, 2, 3, 4, -0.5f, 600};
    assert_floats(d.x, x, 6);
    static const char *const cls[] = {"a, \"quoted\"", "b"};
    assert_classes(&d, cls, 2);
    static const int32_t y[] = {0, 1, 1};
    assert_labels(&d, y, 3);
    qr_dataset_free(&d);

    /* No final newline; leading blank lines; quoted numbers. */
    d = load_ok("\n\n1,2,a\n\"3\",4,b", opts(0, -1));
    ck_assert_uint_eq(d.n, 2);
    ck_assert_float_eq(d.x[2], 3);
    qr_dataset_free(&d);

    /* Another delimiter. */
    o = opts(0, -1);
    o.delimiter = '\t';
    d = load_ok("1\t2\tx\n3\t4\ty\n", o);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.f, 2);
    ck_assert_float_eq(d.x[3], 4);
    qr_dataset_free(&d);
}
END_TEST

START_TEST(test_csv_long_lines)
{
    /* No line-length limit: 3 rows of 40000 features (~ 250 kB per line). */
    const size_t nf = 40000;
    size_t cap = 3 * (nf * 7 + 16) + 1, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (size_t r = 0; r < 3; r++) {
        for (size_t j = 0; j < nf; j++)
            len += (size_t)snprintf(text + len, cap - len, "%zu,", (j * 7 + r) % 1000);
        len += (size_t)snprintf(text + len, cap - len, "%s\n", r == 1 ? "b" : "a");
    }
    qr_dataset d = load_ok(text, opts(0, -1));
    free(text);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(d.f, nf);
    ck_assert_float_eq(d.x[2 * nf + nf - 1], (float)(((nf - 1) * 7 + 2) % 1000));
    qr_dataset_free(&d);
}
END_TEST

START_TEST(test_csv_given_classes)
{
    static const char *const given[] = {"dog", "cat", "3"};
    qr_csv_options o = opts(0, -1);
    o.classes = given;
    o.n_classes = 3;
    /* Indices follow the given list; "03" finds "3" by its canonical spelling; a file may
     * lack some classes. */
    qr_dataset d = load_ok("1,cat\n2,03\n3,cat\n", o);
    static const int32_t y[] = {1, 2, 1};
    assert_labels(&d, y, 3);
    assert_classes(&d, given, 3);
    qr_dataset_free(&d);

    /* A class list repeated or too short is a configuration error. */
    static const char *const dup[] = {"a", "b", "a"};
    o.classes = dup;
    expect_error("1,a\n2,b\n", o, QR_ERR_CONFIG, "data.csv", "appears twice");
    o.classes = given;
    o.n_classes = 1;
    expect_error("1,dog\n", o, QR_ERR_CONFIG, "data.csv", "need 2");
}
END_TEST

START_TEST(test_csv_train_test_classes)
{
    char *dir = tl_tmpdir();
    char *ptrain = tl_write_file(dir, "train.csv", "x,y\n1,a\n2,b\n3,c\n");
    char *ptest = tl_write_file(dir, "test.csv", "x,y\n4,c\n5,a\n");
    char *pbad = tl_write_file(dir, "bad.csv", "x,y\n4,c\n5,z\n");
    qr_error err = {{0}};
    qr_csv_options o = opts(1, -1);
    qr_dataset train, test, own;
    o.path = ptrain;
    ck_assert_int_eq(qr_csv_load(&o, &train, &err), QR_OK);

    o.path = ptest;
    ck_assert_int_eq(qr_csv_load_with_classes(&o, &train, &test, &err), QR_OK);
    static const int32_t yt[] = {2, 0};
    assert_labels(&test, yt, 2);
    static const char *const cls[] = {"a", "b", "c"};
    assert_classes(&test, cls, 3);
    qr_dataset_free(&test);

    /* The same through qr_dataset_remap_classes on a separately loaded file. */
    ck_assert_int_eq(qr_csv_load(&o, &own, &err), QR_OK);
    static const int32_t yown[] = {1, 0};
    assert_labels(&own, yown, 2);
    ck_assert_int_eq(qr_dataset_remap_classes(&own, (const char *const *)train.class_names,
                                              train.n_classes, &err),
                     QR_OK);
    assert_labels(&own, yt, 2);
    assert_classes(&own, cls, 3);
    qr_dataset_free(&own);

    /* A label the training set lacks: located error from the loader... */
    o.path = pbad;
    ck_assert_int_eq(qr_csv_load_with_classes(&o, &train, &test, &err), QR_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "bad.csv:3:2: ") && strstr(err.msg, "\"z\""), "%s", err.msg);
    ck_assert(dataset_is_zero(&test));
    /* ...and from the remap, leaving the dataset unchanged. */
    ck_assert_int_eq(qr_csv_load(&o, &own, &err), QR_OK);
    ck_assert_int_eq(qr_dataset_remap_classes(&own, (const char *const *)train.class_names,
                                              train.n_classes, &err),
                     QR_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "\"z\""), "%s", err.msg);
    static const char *const cls_own[] = {"c", "z"};
    assert_classes(&own, cls_own, 2);
    static const int32_t ybad[] = {0, 1};
    assert_labels(&own, ybad, 2);
    qr_dataset_free(&own);

    qr_dataset_free(&train);
    tl_rmtree(dir);
    free(ptrain);
    free(ptest);
    free(pbad);
    free(dir);
}
END_TEST

/* ---- errors: each with its status and location ------------------------------------------ */

START_TEST(test_csv_err_missing_file)
{
    qr_csv_options o = opts(0, -1);
    qr_dataset d;
    qr_error err = {{0}};
    o.path = "/nonexistent-qreg-dir/data.csv";
    ck_assert_int_eq(qr_csv_load(&o, &d, &err), QR_ERR_IO);
    ck_assert_msg(strstr(err.msg, "/nonexistent-qreg-dir/data.csv: cannot open"), "%s", err.msg);
    ck_assert(dataset_is_zero(&d));

    /* A directory opens but cannot be read. */
    char *dir = tl_tmpdir();
    o.path = dir;
    ck_assert_int_eq(qr_csv_load(&o, &d, &err), QR_ERR_IO);
    ck_assert_msg(strstr(err.msg, dir) != NULL, "%s", err.msg);
    tl_rmtree(dir);
    free(dir);

    /* NULL arguments. */
    o.path = "data.csv";
    ck_assert_int_eq(qr_csv_load(NULL, &d, &err), QR_ERR_ARG);
    ck_assert_int_eq(qr_csv_load(&o, NULL, &err), QR_ERR_ARG);
}
END_TEST

START_TEST(test_csv_err_empty)
{
    expect_error("", opts(-1, -1), QR_ERR_FORMAT, "data.csv:1:1: ", "empty file");
    expect_error("\n  \r\n\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:1:1: ", "empty file");
    expect_error("\xEF\xBB\xBF", opts(0, -1), QR_ERR_FORMAT, "data.csv:1:1: ", "empty file");
    expect_error("a,b,y\n", opts(1, -1), QR_ERR_FORMAT, "data.csv:2:1: ", "no data rows");
    expect_error("a,b,y\n\n", opts(-1, -1), QR_ERR_FORMAT, "data.csv:2:1: ", "no data rows");
}
END_TEST

START_TEST(test_csv_err_ragged)
{
    expect_error("1,2,0\n3,4,1\n5,6\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:3:3: ",
                 "expected 3 cells, got 2");
    expect_error("a,b,y\n1,2,0\n3,4,1,9\n", opts(1, -1), QR_ERR_FORMAT, "data.csv:3:4: ",
                 "expected 3 cells, got 4");
    /* A trailing delimiter is one more (empty) cell. */
    expect_error("1,2,0\n3,4,1,\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:4: ",
                 "expected 3 cells, got 4");
    expect_error("5\n6\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:1:1: ", "at least 2 columns");
}
END_TEST

START_TEST(test_csv_err_not_a_number)
{
    expect_error("a,b,y\n1,2,0\n3,abc,1\n", opts(1, -1), QR_ERR_FORMAT, "data.csv:3:2: ",
                 "expected a number, got \"abc\"");
    expect_error("1,2,0\n3,4 5,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:2: ",
                 "got \"4 5\"");
    expect_error("1,2,0\n0x,4,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:1: ", "\"0x\"");
}
END_TEST

START_TEST(test_csv_err_not_finite)
{
    expect_error("1,2,0\n3,nan,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:2: ",
                 "not a finite number: \"nan\"");
    expect_error("1,2,0\n3,4,1\n-inf,1,0\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:3:1: ",
                 "not a finite number: \"-inf\"");
    expect_error("1,Infinity,0\n3,4,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:1:2: ",
                 "not a finite number");
    expect_error("1,2,0\n1e999,4,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:1: ",
                 "out of float range: \"1e999\"");
    /* Finite as a double, infinite as a float. */
    expect_error("1,2,0\n3,-1e39,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:2: ",
                 "out of float range");
    /* Underflow is not an error. */
    qr_dataset d = load_ok("1e-999,2,0\n3,4,1\n", opts(0, -1));
    ck_assert_float_eq(d.x[0], 0);
    qr_dataset_free(&d);
}
END_TEST

START_TEST(test_csv_err_empty_cell)
{
    expect_error("1,2,0\n3,,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:2: ", "empty cell");
    expect_error("1,2,0\n3,  ,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:2: ", "empty cell");
    expect_error("1,2,0\n3,\"\",1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:2: ",
                 "empty cell");
    expect_error("1,2,0\n3,4,\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:3: ",
                 "empty label cell");
}
END_TEST

START_TEST(test_csv_err_quotes_blank_nul)
{
    expect_error("1,2,0\n3,4,\"abc\n5,6,1\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:3: ",
                 "unterminated quoted cell");
    expect_error("1,2,0\n3,4,\"a\"b\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:2:3: ",
                 "after a closing quote");
    expect_error("1,2,0\n3,4,1\n\n5,6,0\n", opts(0, -1), QR_ERR_FORMAT, "data.csv:3:1: ",
                 "blank line");
    static const char nul[] = "1,2,0\n3,4\0,1\n";
    expect_error_bytes(nul, sizeof nul - 1, opts(0, -1), QR_ERR_FORMAT, "data.csv:2:2: ",
                       "NUL byte");
}
END_TEST

START_TEST(test_csv_err_label_column)
{
    qr_csv_options o = opts(1, 0);
    o.label_name = "zzz";
    expect_error("a,b,y\n1,2,0\n3,4,1\n", o, QR_ERR_CONFIG, "data.csv:1:1: ",
                 "no column named \"zzz\"");
    o.label_name = "a";
    expect_error("a,b,a\n1,2,0\n3,4,1\n", o, QR_ERR_CONFIG, "data.csv:1:3: ",
                 "also names column 1");
    o = opts(0, 0);
    o.label_name = "y";
    expect_error("y,b\n1,2\n", o, QR_ERR_CONFIG, "data.csv", "header = 0");

    expect_error("1,2,0\n3,4,1\n", opts(0, 3), QR_ERR_CONFIG, "data.csv:1:1: ",
                 "label column index 3 is out of range for 3 columns");
    expect_error("1,2,0\n3,4,1\n", opts(0, -4), QR_ERR_CONFIG, "data.csv:1:1: ",
                 "index -4 is out of range");
    expect_error("\n1,2,0\n3,4,1\n", opts(0, LONG_MIN), QR_ERR_CONFIG, "data.csv:2:1: ",
                 "out of range");
}
END_TEST

START_TEST(test_csv_err_shape)
{
    qr_csv_options o = opts(1, -1);
    o.t = 2;
    o.f = 2;
    expect_error("a,b,c,y\n1,2,3,0\n4,5,6,1\n", o, QR_ERR_CONFIG, "data.csv:1:1: ",
                 "t=2 f=2 does not match the 3 feature columns");
    o.t = SIZE_MAX;
    o.f = 3;
    expect_error("a,b,c,y\n1,2,3,0\n4,5,6,1\n", o, QR_ERR_CONFIG, "data.csv:1:1: ",
                 "does not match");
    o.t = 3;
    o.f = 0;
    expect_error("a,b,c,y\n1,2,3,0\n4,5,6,1\n", o, QR_ERR_CONFIG, "data.csv", "both must be 0");
}
END_TEST

START_TEST(test_csv_err_one_class)
{
    /* "05" and "5" are the same integer class. */
    expect_error("a,b,y\n1,2,5\n3,4,05\n", opts(1, -1), QR_ERR_FORMAT, "data.csv:2:3: ",
                 "need at least 2 classes");
    expect_error("y,a\ncat,1\ncat,2\n", opts(1, 0), QR_ERR_FORMAT, "data.csv:2:1: ",
                 "every label is \"cat\"");
}
END_TEST

START_TEST(test_csv_err_label_not_in_list)
{
    static const char *const given[] = {"cat", "dog"};
    qr_csv_options o = opts(1, -1);
    o.classes = given;
    o.n_classes = 2;
    expect_error("a,y\n1,cat\n2,dog\n3,bird\n", o, QR_ERR_FORMAT, "data.csv:4:2: ",
                 "label \"bird\" is not one of the 2 given classes");
}
END_TEST

/* ---- split, subset, standardization ----------------------------------------------------- */

/* n samples, f = 1 with x[i] = i (the sample's identity), labels y[i] = cls(i). */
static qr_dataset make_ids(size_t n, size_t k, int32_t (*cls)(size_t))
{
    qr_dataset d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.t = 1;
    d.f = 1;
    d.x = malloc(n * sizeof *d.x);
    d.y = malloc(n * sizeof *d.y);
    d.n_classes = k;
    d.class_names = calloc(k, sizeof *d.class_names);
    ck_assert(d.x && d.y && d.class_names);
    for (size_t c = 0; c < k; c++) {
        d.class_names[c] = malloc(24);
        ck_assert_ptr_nonnull(d.class_names[c]);
        snprintf(d.class_names[c], 24, "c%zu", c);
    }
    for (size_t i = 0; i < n; i++) {
        d.x[i] = (float)i;
        d.y[i] = cls(i);
    }
    return d;
}

static int32_t cls_60_40(size_t i)
{
    return i % 5 < 3 ? 0 : 1;
}

static size_t count_class(const qr_dataset *d, int32_t c)
{
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++)
        m += d->y[i] == c;
    return m;
}

START_TEST(test_split_sizes_stratified_disjoint)
{
    qr_dataset all = make_ids(100, 2, cls_60_40);
    qr_dataset tr, va, te;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_dataset_split(&all, 0.2, 0.1, 7, &tr, &va, &te, &err), QR_OK);
    /* Class 0: 60 -> val 12, test 6, train 42; class 1: 40 -> 8, 4, 28. */
    ck_assert_uint_eq(tr.n, 70);
    ck_assert_uint_eq(va.n, 20);
    ck_assert_uint_eq(te.n, 10);
    ck_assert_uint_eq(count_class(&tr, 0), 42);
    ck_assert_uint_eq(count_class(&va, 0), 12);
    ck_assert_uint_eq(count_class(&te, 0), 6);
    ck_assert_uint_eq(count_class(&te, 1), 4);

    /* Every sample in exactly one split, with its label, in the original order. */
    int seen[100] = {0};
    const qr_dataset *parts[3] = {&tr, &va, &te};
    for (int s = 0; s < 3; s++) {
        const qr_dataset *p = parts[s];
        ck_assert_uint_eq(p->n_classes, 2);
        ck_assert_str_eq(p->class_names[1], "c1");
        for (size_t i = 0; i < p->n; i++) {
            size_t id = (size_t)p->x[i];
            ck_assert_uint_lt(id, 100);
            seen[id]++;
            ck_assert_int_eq(p->y[i], all.y[id]);
            if (i > 0)
                ck_assert_float_lt(p->x[i - 1], p->x[i]);
        }
    }
    for (size_t i = 0; i < 100; i++)
        ck_assert_int_eq(seen[i], 1);
    /* Deep copies: the input is untouched and owns nothing shared. */
    ck_assert_ptr_ne(tr.class_names[0], all.class_names[0]);

    qr_dataset_free(&tr);
    qr_dataset_free(&va);
    qr_dataset_free(&te);
    qr_dataset_free(&all);
}
END_TEST

START_TEST(test_split_deterministic_by_seed)
{
    qr_dataset all = make_ids(100, 2, cls_60_40);
    qr_dataset a, b, c;
    ck_assert_int_eq(qr_dataset_split(&all, 0.3, 0.0, 11, NULL, &a, NULL, NULL), QR_OK);
    ck_assert_int_eq(qr_dataset_split(&all, 0.3, 0.0, 11, NULL, &b, NULL, NULL), QR_OK);
    ck_assert_int_eq(qr_dataset_split(&all, 0.3, 0.0, 12, NULL, &c, NULL, NULL), QR_OK);
    ck_assert_uint_eq(a.n, 30);
    ck_assert_uint_eq(c.n, 30);
    ck_assert(memcmp(a.x, b.x, a.n * sizeof *a.x) == 0);
    ck_assert_msg(memcmp(a.x, c.x, a.n * sizeof *a.x) != 0, "seeds 11 and 12 gave one split");
    qr_dataset_free(&a);
    qr_dataset_free(&b);
    qr_dataset_free(&c);

    /* A zero fraction gives an empty split that still has the classes. */
    qr_dataset te;
    ck_assert_int_eq(qr_dataset_split(&all, 0.3, 0.0, 11, NULL, NULL, &te, NULL), QR_OK);
    ck_assert_uint_eq(te.n, 0);
    ck_assert_ptr_null(te.x);
    ck_assert_uint_eq(te.n_classes, 2);
    qr_dataset_free(&te);
    qr_dataset_free(&all);
}
END_TEST

static int32_t cls_3_2_1(size_t i)
{
    return i < 3 ? 0 : i < 5 ? 1 : 2;
}

START_TEST(test_split_rounding_and_errors)
{
    /* Classes of 3, 2 and 1 samples, val = test = 0.25:
     * 3 -> round(0.75) = 1 val, 1 test, 1 train;
     * 2 -> round(0.5) = 1 val, 1 test, none left: val gives one back -> 0 val, 1 test, 1 train;
     * 1 -> round(0.25) = 0, 0 -> 1 train. */
    qr_dataset all = make_ids(6, 3, cls_3_2_1);
    qr_dataset tr, va, te;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_dataset_split(&all, 0.25, 0.25, 1, &tr, &va, &te, &err), QR_OK);
    ck_assert_uint_eq(count_class(&tr, 0), 1);
    ck_assert_uint_eq(count_class(&va, 0), 1);
    ck_assert_uint_eq(count_class(&te, 0), 1);
    ck_assert_uint_eq(count_class(&tr, 1), 1);
    ck_assert_uint_eq(count_class(&va, 1), 0);
    ck_assert_uint_eq(count_class(&te, 1), 1);
    ck_assert_uint_eq(count_class(&tr, 2), 1);
    ck_assert_uint_eq(tr.n + va.n + te.n, 6);
    qr_dataset_free(&tr);
    qr_dataset_free(&va);
    qr_dataset_free(&te);

    ck_assert_int_eq(qr_dataset_split(&all, 0.5, 0.5, 1, &tr, &va, &te, &err), QR_ERR_ARG);
    ck_assert(dataset_is_zero(&tr));
    ck_assert_int_eq(qr_dataset_split(&all, -0.1, 0.2, 1, &tr, NULL, NULL, &err), QR_ERR_ARG);
    ck_assert_int_eq(qr_dataset_split(&all, NAN, 0.2, 1, &tr, NULL, NULL, &err), QR_ERR_ARG);
    ck_assert_int_eq(qr_dataset_split(&all, 0.1, 0.2, 1, &tr, &tr, NULL, &err), QR_ERR_ARG);
    ck_assert_int_eq(qr_dataset_split(NULL, 0.1, 0.2, 1, &tr, NULL, NULL, &err), QR_ERR_ARG);
    all.y[2] = 3;  /* outside [0, n_classes) */
    ck_assert_int_eq(qr_dataset_split(&all, 0.1, 0.2, 1, &tr, NULL, NULL, &err), QR_ERR_ARG);
    qr_dataset_free(&all);
}
END_TEST

START_TEST(test_subset)
{
    qr_dataset all = make_ids(10, 3, cls_3_2_1);
    qr_dataset s;
    static const size_t idx[] = {4, 0, 4};
    ck_assert_int_eq(qr_dataset_subset(&all, idx, 3, &s), QR_OK);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_float_eq(s.x[0], 4);
    ck_assert_float_eq(s.x[1], 0);
    ck_assert_int_eq(s.y[0], 1);
    ck_assert_int_eq(s.y[1], 0);
    ck_assert_uint_eq(s.n_classes, 3);
    s.x[0] = 99;  /* a deep copy */
    ck_assert_float_eq(all.x[4], 4);
    qr_dataset_free(&s);

    static const size_t bad[] = {1, 10};
    ck_assert_int_eq(qr_dataset_subset(&all, bad, 2, &s), QR_ERR_ARG);
    ck_assert(dataset_is_zero(&s));
    ck_assert_int_eq(qr_dataset_subset(&all, NULL, 1, &s), QR_ERR_ARG);
    ck_assert_int_eq(qr_dataset_subset(&all, idx, 1, &all), QR_ERR_ARG);
    ck_assert_uint_eq(all.n, 10);
    qr_dataset_free(&all);
}
END_TEST

/* Pooled mean and population std of feature j over all samples and steps. */
static void moments(const qr_dataset *d, size_t j, double *mean, double *sd)
{
    size_t rows = d->n * d->t;
    double m = 0, v = 0;
    for (size_t r = 0; r < rows; r++)
        m += d->x[r * d->f + j];
    m /= (double)rows;
    for (size_t r = 0; r < rows; r++)
        v += (d->x[r * d->f + j] - m) * (d->x[r * d->f + j] - m);
    *mean = m;
    *sd = sqrt(v / (double)rows);
}

START_TEST(test_standardizer)
{
    /* n = 200 sequences of t = 2 steps, f = 3 features: feature 0 ~ U(-1, 1)·5 + 100,
     * feature 1 ~ U(0, 1e-3), feature 2 constant 7. */
    qr_dataset all;
    memset(&all, 0, sizeof all);
    all.n = 200;
    all.t = 2;
    all.f = 3;
    all.x = malloc(200 * 6 * sizeof *all.x);
    all.y = malloc(200 * sizeof *all.y);
    all.n_classes = 2;
    all.class_names = calloc(2, sizeof *all.class_names);
    ck_assert(all.x && all.y && all.class_names);
    all.class_names[0] = malloc(2);
    all.class_names[1] = malloc(2);
    ck_assert(all.class_names[0] && all.class_names[1]);
    strcpy(all.class_names[0], "a");
    strcpy(all.class_names[1], "b");
    float *u = malloc(200 * 6 * sizeof *u);
    ck_assert_ptr_nonnull(u);
    tl_fill_uniform(u, 200 * 6, -1, 1, 5);
    for (size_t r = 0; r < 400; r++) {
        all.x[r * 3 + 0] = u[r * 3] * 5 + 100;
        all.x[r * 3 + 1] = (u[r * 3 + 1] + 1) * 5e-4f;
        all.x[r * 3 + 2] = 7;
    }
    free(u);
    for (size_t i = 0; i < 200; i++)
        all.y[i] = (int32_t)(i % 2);

    qr_dataset tr, te, te_raw;
    ck_assert_int_eq(qr_dataset_split(&all, 0.0, 0.25, 3, &tr, NULL, &te, NULL), QR_OK);
    ck_assert_int_eq(qr_dataset_subset(&te, (size_t[]){0, 1, 2, 3}, 4, &te_raw), QR_OK);

    qr_standardizer s;
    ck_assert_int_eq(qr_standardizer_fit(&s, &tr), QR_OK);
    ck_assert_uint_eq(s.f, 3);
    ck_assert_float_eq(s.std[2], QR_STANDARDIZER_STD_MIN);
    ck_assert_int_eq(qr_standardizer_apply(&s, &tr), QR_OK);
    for (size_t j = 0; j < 2; j++) {
        double m, sd;
        moments(&tr, j, &m, &sd);
        ck_assert_msg(fabs(m) < 1e-5, "feature %zu mean %g", j, m);
        ck_assert_msg(fabs(sd - 1) < 1e-4, "feature %zu std %g", j, sd);
    }
    for (size_t r = 0; r < tr.n * tr.t; r++)
        ck_assert_float_eq(tr.x[r * 3 + 2], 0);  /* constant: finite, 0 */

    /* The test split uses the training statistics, not its own. */
    ck_assert_int_eq(qr_standardizer_apply(&s, &te), QR_OK);
    for (size_t k = 0; k < 4 * 6; k++) {
        size_t j = k % 3;
        float want = (float)(((double)te_raw.x[k] - s.mean[j]) / s.std[j]);
        ck_assert_float_eq_tol(te.x[k], want, 1e-6f);
    }
    qr_standardizer own;
    ck_assert_int_eq(qr_standardizer_fit(&own, &te_raw), QR_OK);
    ck_assert_float_ne(own.mean[0], s.mean[0]);
    qr_standardizer_free(&own);

    /* Shape mismatch leaves the data alone. */
    qr_dataset other = make_ids(3, 2, cls_60_40);
    ck_assert_int_eq(qr_standardizer_apply(&s, &other), QR_ERR_SHAPE);
    ck_assert_float_eq(other.x[2], 2);
    qr_dataset_free(&other);
    qr_standardizer_free(&s);
    ck_assert_ptr_null(s.mean);

    qr_dataset empty;
    memset(&empty, 0, sizeof empty);
    ck_assert_int_eq(qr_standardizer_fit(&s, &empty), QR_ERR_ARG);

    qr_dataset_free(&te_raw);
    qr_dataset_free(&tr);
    qr_dataset_free(&te);
    qr_dataset_free(&all);
}
END_TEST

Suite *qr_suite_csv(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_csv_header_label_by_name);
    tcase_add_test(tc, test_csv_no_header_label_by_index);
    tcase_add_test(tc, test_csv_detect_header);
    tcase_add_test(tc, test_csv_integer_labels_numeric_order);
    tcase_add_test(tc, test_csv_string_labels);
    tcase_add_test(tc, test_csv_sequence_shape);
    tcase_add_test(tc, test_csv_crlf_bom_quotes_spaces);
    tcase_add_test(tc, test_csv_long_lines);
    tcase_add_test(tc, test_csv_given_classes);
    tcase_add_test(tc, test_csv_train_test_classes);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_csv_err_missing_file);
    tcase_add_test(tc, test_csv_err_empty);
    tcase_add_test(tc, test_csv_err_ragged);
    tcase_add_test(tc, test_csv_err_not_a_number);
    tcase_add_test(tc, test_csv_err_not_finite);
    tcase_add_test(tc, test_csv_err_empty_cell);
    tcase_add_test(tc, test_csv_err_quotes_blank_nul);
    tcase_add_test(tc, test_csv_err_label_column);
    tcase_add_test(tc, test_csv_err_shape);
    tcase_add_test(tc, test_csv_err_one_class);
    tcase_add_test(tc, test_csv_err_label_not_in_list);
    suite_add_tcase(s, tc);

    tc = tcase_create("dataset");
    tcase_add_test(tc, test_split_sizes_stratified_disjoint);
    tcase_add_test(tc, test_split_deterministic_by_seed);
    tcase_add_test(tc, test_split_rounding_and_errors);
    tcase_add_test(tc, test_subset);
    tcase_add_test(tc, test_standardizer);
    suite_add_tcase(s, tc);
    return s;
}
