/* Reliability (issue 16, docs/reliability.md): memory bounded before allocation, non-finite
 * parameters and inputs refused, exports replaced as a set under injected write failures,
 * stale temporaries cleaned, outputs checked up front, and the sanitizer build catching
 * float-to-int overflow. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "testlib.h"
#include "lib/crc32.h"
#include "lib/fileio.h"
#include "qreg/data.h"
#include "qreg/export.h"
#include "qreg/model.h"
#include "qreg/train.h"

/* ---- helpers ------------------------------------------------------------------------- */

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

static void spill(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Entries of dir whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
    char cmd[4200];
    int n = 0;
    char line[256];
    snprintf(cmd, sizeof cmd, "ls -a '%s'", dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof line, p))
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    pclose(p);
    return n;
}

/* A model from a JSON layer list, input (t, f), `classes` classes. */
static qr_status model_from(const char *layers, size_t t, size_t f, size_t classes,
                            size_t batch, const qr_model_options *opt, qr_model **m,
                            qr_error *err)
{
    cJSON *j = cJSON_Parse(layers);
    ck_assert_ptr_nonnull(j);
    qr_model_spec spec;
    memset(&spec, 0, sizeof spec);
    ck_assert_int_eq(qr_model_spec_parse(&spec, j, "test", err), QR_OK);
    cJSON_Delete(j);
    spec.t = t;
    spec.f = f;
    spec.n_classes = classes;
    qr_status s = qr_model_new_ex(&spec, batch, 1, opt, m, err);
    qr_model_spec_free(&spec);
    return s;
}

/* Replace the JSON header of a .qrm file and fix its lengths and CRC, as an attacker can. */
static void qrm_set_header(const char *path, const char *from, const char *to)
{
    size_t len;
    unsigned char *b = slurp(path, &len);
    uint64_t jl = 0;
    for (int i = 7; i >= 0; i--)
        jl = jl << 8 | b[16 + i];
    char *json = malloc(jl + 1);
    memcpy(json, b + 32, jl);
    json[jl] = 0;
    char *at = strstr(json, from);
    ck_assert_msg(at != NULL, "'%s' not in the header %s", from, json);
    size_t nl = jl - strlen(from) + strlen(to);
    char *nj = malloc(nl + 1);
    snprintf(nj, nl + 1, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
    size_t out_len = len - jl + nl;
    unsigned char *o = malloc(out_len);
    memcpy(o, b, 32);
    for (int i = 0; i < 8; i++)
        o[16 + i] = (unsigned char)(nl >> (8 * i));
    memcpy(o + 32, nj, nl);
    memcpy(o + 32 + nl, b + 32 + jl, len - 32 - jl - 4);
    uint32_t crc = qr_crc32(o, out_len - 4);
    for (int i = 0; i < 4; i++)
        o[out_len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
    spill(path, o, out_len);
    free(o);
    free(nj);
    free(json);
    free(b);
}

static const char gru_layers[] = "[{\"type\": \"gru\", \"units\": 48}, {\"type\": \"dense\"}]";
static const char mlp_layers[] = "[{\"type\": \"dense\", \"units\": 16}, {\"type\": \"relu\"},"
                                 " {\"type\": \"dense\"}]";

/* ---- finding 2 and 4: memory bounded before allocation -------------------------------- */

START_TEST(test_graph_memory_limit)
{
    size_t sx[2] = {8, 100}, sw[2] = {100, 50};
    qr_graph_memory mem;
    for (int pass = 0; pass < 2; pass++) {
        qr_graph *g = qr_graph_new(8);
        qr_node *x = qr_input(g, "x", 2, sx);
        qr_node *w = qr_param(g, "w", 2, sw, 0);
        ck_assert_ptr_nonnull(qr_matmul(g, x, w));
        ck_assert_int_eq(qr_graph_memory_use(g, &mem), QR_OK);
        /* the parameter arena: 5000 floats padded to 16, plus the one every arena has */
        ck_assert_uint_eq(mem.params, (5008 + 1) * sizeof(float));
        ck_assert_uint_eq(mem.param_grads, mem.params);
        ck_assert_uint_eq(mem.acts, (800 + 400 + 1) * sizeof(float));
        ck_assert_uint_eq(mem.total, mem.params + mem.param_grads + mem.acts + mem.act_grads +
                                         mem.aux + mem.scratch);
        ck_assert_str_eq(qr_node_name(mem.largest), "w");
        qr_graph_set_memory_limit(g, pass == 0 ? mem.total - 1 : mem.total);
        qr_status s = qr_graph_compile(g);
        if (pass == 0) {
            ck_assert_int_eq(s, QR_ERR_NOMEM);
            ck_assert_msg(strstr(qr_graph_error(g), "more than the memory limit") &&
                              strstr(qr_graph_error(g), "'w' (100, 50)"),
                          "%s", qr_graph_error(g));
            size_t n_tr, n_all;
            ck_assert_ptr_null(qr_graph_params(g, &n_tr, &n_all)); /* nothing allocated */
        } else {
            ck_assert_int_eq(s, QR_OK);
        }
        qr_graph_free(g);
    }
    /* a shape whose element count does not fit a size_t is refused, limit or not */
    size_t huge[3] = {8, (size_t)1 << 40, (size_t)1 << 30};
    qr_graph *g = qr_graph_new(8);
    qr_node *x = qr_input(g, "x", 3, huge);
    ck_assert_ptr_nonnull(qr_relu(g, x));
    qr_graph_set_memory_limit(g, 0);
    ck_assert_int_eq(qr_graph_compile(g), QR_ERR_NOMEM);
    ck_assert_msg(strstr(qr_graph_error(g), "too large"), "%s", qr_graph_error(g));
    qr_graph_free(g);
}
END_TEST

/* Issue 16 finding 4: dense of 2^24 units, conv1d of 2^24 filters. Refused at once, before
 * the gigabytes are allocated and zero-filled, naming the layer and its output shape. */
START_TEST(test_model_memory_limit_config)
{
    qr_error err = {{0}};
    qr_model *m = NULL;
    qr_model_options opt = {.max_memory = (size_t)256 << 20};
    time_t t0 = time(NULL);
    ck_assert_int_eq(model_from("[{\"type\": \"dense\", \"units\": 16777216}, {\"type\": \"dense\"}]",
                                1, 30, 2, 32, &opt, &m, &err), QR_ERR_NOMEM);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, "layer 'dense_1' (dense, output (32, 16777216))") &&
                      strstr(err.msg, "more than the memory limit of 256.0 MiB") &&
                      strstr(err.msg, "nothing was allocated"), "%s", err.msg);
    ck_assert_int_eq(model_from("[{\"type\": \"conv1d\", \"filters\": 16777216, \"kernel_size\": 1},"
                                " {\"type\": \"flatten\"}, {\"type\": \"dense\"}]",
                                10, 3, 2, 32, &opt, &m, &err), QR_ERR_NOMEM);
    ck_assert_msg(strstr(err.msg, "'conv1d_1' (conv1d, output (32, 10, 16777216))"), "%s",
                  err.msg);
    /* training state counts: 6 copies of 60k parameters (1.4 MiB) against a 1 MiB limit */
    qr_model_options train = {.max_memory = (size_t)1 << 20, .param_copies = 6};
    ck_assert_int_eq(model_from("[{\"type\": \"dense\", \"units\": 2000}, {\"type\": \"dense\"}]", 1,
                                30, 2, 1, &train, &m, &err), QR_ERR_NOMEM);
    ck_assert_msg(strstr(err.msg, "training state"), "%s", err.msg);
    train.param_copies = 0;
    ck_assert_int_eq(model_from("[{\"type\": \"dense\", \"units\": 2000}, {\"type\": \"dense\"}]", 1,
                                30, 2, 1, &train, &m, &err), QR_OK);
    qr_model_free(m);
    ck_assert_int_le(time(NULL) - t0, 5);
}
END_TEST

/* Issue 16 finding 2: a small .qrm whose header says input [400000, 3]. The library's limit
 * (what the qreg command sets) refuses it from the shapes; its note is quoted. */
START_TEST(test_model_memory_limit_file)
{
    char *dir = tl_tmpdir();
    char *path = path_in(dir, "big.qrm");
    qr_error err = {{0}};
    qr_model *m = NULL;
    ck_assert_int_eq(model_from(gru_layers, 10, 3, 2, 4, NULL, &m, &err), QR_OK);
    ck_assert_int_eq(qr_model_save(m, path, &err), QR_OK);
    qr_model_free(m);
    qrm_set_header(path, "\"input\":[10,3]", "\"input\":[400000,3]");
    qr_set_memory_limit((size_t)1 << 30, "set by the test");
    qr_status s = qr_model_load(path, 256, &m, &err);
    qr_set_memory_limit(0, NULL);
    ck_assert_int_eq(s, QR_ERR_NOMEM);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, "big.qrm: model: input (400000, 3) at batch 256 needs") &&
                      strstr(err.msg, "layer 'gru_1' (gru, output (256, 48))") &&
                      strstr(err.msg, "limit of 1.0 GiB (set by the test)"), "%s", err.msg);
    tl_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* ---- finding 5: non-finite parameters and inputs -------------------------------------- */

static qr_model *calibrated_mlp(uint64_t seed)
{
    cJSON *j = cJSON_Parse(mlp_layers);
    qr_model_spec spec;
    memset(&spec, 0, sizeof spec);
    qr_error err = {{0}};
    ck_assert_int_eq(qr_model_spec_parse(&spec, j, "test", &err), QR_OK);
    cJSON_Delete(j);
    spec.t = 1;
    spec.f = 12;
    spec.n_classes = 3;
    qr_model *m = NULL;
    ck_assert_int_eq(qr_model_new(&spec, 8, seed, &m, &err), QR_OK);
    qr_model_spec_free(&spec);
    float x[64 * 12];
    tl_fill_uniform(x, 64 * 12, -1.0f, 1.0f, (unsigned)seed);
    ck_assert_int_eq(qr_model_calibrate(m, x, 64), QR_OK);
    return m;
}

START_TEST(test_qrm_nonfinite_refused)
{
    char *dir = tl_tmpdir();
    char *path = path_in(dir, "nan.qrm");
    qr_model *m = calibrated_mlp(1);
    qr_node *k = qr_graph_find(qr_model_graph(m), "dense_2/kernel");
    qr_node_data(k)[5] = NAN;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_model_save(m, path, &err), QR_OK);
    qr_model *back = NULL;
    ck_assert_int_eq(qr_model_load(path, 4, &back, &err), QR_ERR_NUMERIC);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(err.msg, "tensor 'dense_2/kernel', element 5 of 48, is not finite"),
                  "%s", err.msg);
    qr_node_data(k)[5] = INFINITY;
    ck_assert_int_eq(qr_model_save(m, path, &err), QR_OK);
    ck_assert_int_eq(qr_model_load(path, 4, &back, &err), QR_ERR_NUMERIC);
    /* export guards too (a model built in memory never went through the loader): no NaN or
     * inf is cast to an int8 level */
    uint8_t *blob = NULL;
    size_t len = 0;
    ck_assert_int_eq(qr_export_blob(m, &blob, &len, NULL, &err), QR_ERR_NUMERIC);
    ck_assert_ptr_null(blob);
    ck_assert_msg(strstr(err.msg, "parameter 'dense_2/kernel', element 5"), "%s", err.msg);
    qr_model_free(m);
    tl_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

/* The GRU's exp on a NaN or a huge input: the output is NaN or saturated, and no float is
 * converted to an int out of range (a sanitizer build aborts on that: finding 8). */
START_TEST(test_gru_nonfinite_input)
{
    qr_error err = {{0}};
    qr_model *m = NULL;
    ck_assert_int_eq(model_from(gru_layers, 4, 3, 2, 2, NULL, &m, &err), QR_OK);
    float x[2 * 4 * 3], logits[2 * 2];
    for (int i = 0; i < 24; i++)
        x[i] = 0.5f;
    x[1] = 3e38f;
    x[14] = NAN;
    ck_assert_int_eq(qr_model_predict(m, x, 2, logits, NULL), QR_OK);
    ck_assert(isnan(logits[2]) && isnan(logits[3])); /* NaN in, NaN out */
    x[1] = -3e38f;
    ck_assert_int_eq(qr_model_predict(m, x, 1, logits, NULL), QR_OK);
    qr_model_free(m);
}
END_TEST

static qr_status load_csv_text(const char *text, qr_dataset *d, qr_error *err)
{
    char *dir = tl_tmpdir();
    char *path = tl_write_file(dir, "data.csv", text);
    qr_csv_options o = {0};
    o.path = path;
    o.header = 0;
    o.label_index = -1;
    qr_status s = qr_csv_load(&o, d, err);
    tl_rmtree(dir);
    free(path);
    free(dir);
    return s;
}

/* Finding 5 (absurd values) and 7 (hex floats): refused at load with file:line:column. */
START_TEST(test_csv_hex_and_absurd)
{
    qr_dataset d = {0};
    qr_error err = {{0}};
    ck_assert_int_eq(load_csv_text("1,2,0\n3,0x10,1\n", &d, &err), QR_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "data.csv:2:2: hexadecimal numbers are not accepted"), "%s",
                  err.msg);
    ck_assert_int_eq(load_csv_text("1,2,0\n-0X1p3,4,1\n", &d, &err), QR_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "data.csv:2:1: hexadecimal"), "%s", err.msg);
    ck_assert_int_eq(load_csv_text("1,2,0\n3,3e38,1\n", &d, &err), QR_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "data.csv:2:2: number too large for a feature: \"3e38\""),
                  "%s", err.msg);
    ck_assert_int_eq(load_csv_text("1,2,0\n3,-2e18,1\n", &d, &err), QR_ERR_FORMAT);
    /* the bound itself and ordinary large numbers are fine; "0" and "0.5" are not hex */
    ck_assert_int_eq(load_csv_text("1e18,0,0\n-123456789012,0.5,1\n", &d, &err), QR_OK);
    ck_assert_float_eq(d.x[0], 1e18f);
    qr_dataset_free(&d);
}
END_TEST

/* ---- finding 3: an export replaced as a set -------------------------------------------- */

static const char *const export_files[] = {"model.qrt", "model.c", "model.h",
                                           "model_compiled.c", "model_compiled.h"};

/* Run fn with writes limited to `limit` bytes per file (RLIMIT_FSIZE: a write past it fails
 * with EFBIG, as on a full disk), SIGXFSZ ignored. Restored afterwards. */
static qr_status with_file_limit(rlim_t limit, const uint8_t *blob, size_t len, const char *dir,
                                 qr_error *err)
{
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = limit;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    qr_status s = qr_export_write(blob, len, dir, "m", err);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    return s;
}

START_TEST(test_export_atomic_set)
{
    char *dir = tl_tmpdir(), *other = tl_tmpdir();
    qr_error err = {{0}};
    uint8_t *a = NULL, *b = NULL;
    size_t la, lb;
    qr_model *ma = calibrated_mlp(1), *mb = calibrated_mlp(2);
    ck_assert_int_eq(qr_export_blob(ma, &a, &la, NULL, &err), QR_OK);
    ck_assert_int_eq(qr_export_blob(mb, &b, &lb, NULL, &err), QR_OK);
    ck_assert_int_eq(qr_export_write(a, la, dir, "m", &err), QR_OK);
    ck_assert_int_eq(qr_export_write(b, lb, other, "m", &err), QR_OK);
    unsigned char *old[5];
    size_t old_len[5], biggest = 0;
    for (int i = 0; i < 5; i++) {
        char *p = path_in(dir, export_files[i]), *q = path_in(other, export_files[i]);
        old[i] = slurp(p, &old_len[i]);
        size_t n;
        free(slurp(q, &n));
        biggest = n > biggest ? n : biggest;
        free(p);
        free(q);
    }
    /* the disk "fills" on the largest of B's files: before the fix the files written
     * before it were already B's beside A's others (issue 16: a new model_compiled.h by an
     * old model_compiled.c) */
    ck_assert_int_eq(with_file_limit(biggest - 1, b, lb, dir, &err), QR_ERR_IO);
    for (int i = 0; i < 5; i++) {
        char *p = path_in(dir, export_files[i]);
        size_t n;
        unsigned char *now = slurp(p, &n);
        ck_assert_msg(n == old_len[i] && memcmp(now, old[i], n) == 0,
                      "%s was replaced by a failed export", export_files[i]);
        free(now);
        free(p);
    }
    ck_assert_msg(strstr(err.msg, "no file in") != NULL, "%s", err.msg);
    ck_assert_int_eq(count_prefix(dir, ".qreg-set."), 0); /* the temporary is gone */
    /* A's and B's stamps differ (a CRC-32 would not: the blob ends in its own CRC) */
    char *ha = path_in(dir, "model.h"), *hb = path_in(other, "model.h");
    size_t na, nb;
    char *ta = (char *)slurp(ha, &na), *tb = (char *)slurp(hb, &nb);
    ck_assert_ptr_nonnull(strstr(ta, "M_EXPORT_STAMP 0x"));
    ck_assert_ptr_nonnull(strstr(tb, "M_EXPORT_STAMP 0x"));
    ck_assert_int_ne(memcmp(strstr(ta, "M_EXPORT_STAMP 0x"), strstr(tb, "M_EXPORT_STAMP 0x"), 34),
                     0);
    free(ta);
    free(tb);
    free(ha);
    free(hb);
    /* without the limit: all five are B's, each pair stamped alike */
    ck_assert_int_eq(qr_export_write(b, lb, dir, "m", &err), QR_OK);
    for (int i = 0; i < 5; i++) {
        char *p = path_in(dir, export_files[i]), *q = path_in(other, export_files[i]);
        size_t n1, n2;
        unsigned char *x = slurp(p, &n1), *y = slurp(q, &n2);
        ck_assert_msg(n1 == n2 && memcmp(x, y, n1) == 0, "%s is not B's", export_files[i]);
        if (i >= 1) {
            const char *want = i % 2 ? "#if !defined(M_EXPORT_STAMP) || M_EXPORT_STAMP != 0x"
                                     : "#define M_EXPORT_STAMP 0x";
            ck_assert_msg(strstr((char *)x, want), "%s has no stamp", export_files[i]);
        }
        free(x);
        free(y);
        free(p);
        free(q);
    }
    for (int i = 0; i < 5; i++)
        free(old[i]);
    free(a);
    free(b);
    qr_model_free(ma);
    qr_model_free(mb);
    tl_rmtree(dir);
    tl_rmtree(other);
    free(dir);
    free(other);
}
END_TEST

START_TEST(test_file_set)
{
    char *dir = tl_tmpdir();
    char *pa = path_in(dir, "a.txt"), *pb = path_in(dir, "b.txt");
    spill(pa, "old a", 5);
    spill(pb, "old b", 5);
    qr_error err = {{0}};
    qr_file_set s;
    /* abort: untouched */
    ck_assert_int_eq(qr_file_set_begin(&s, dir, &err), QR_OK);
    const char *ta = qr_file_set_add(&s, "a.txt", &err);
    ck_assert_ptr_nonnull(ta);
    ck_assert_ptr_null(qr_file_set_add(&s, "a.txt", &err)); /* twice */
    ck_assert_ptr_null(qr_file_set_add(&s, "../x", &err));
    spill(ta, "new a", 5);
    qr_file_set_abort(&s);
    size_t n;
    unsigned char *t = slurp(pa, &n);
    ck_assert_mem_eq(t, "old a", 5);
    free(t);
    /* a file added but never written: commit fails, nothing replaced */
    ck_assert_int_eq(qr_file_set_begin(&s, dir, &err), QR_OK);
    spill(qr_file_set_add(&s, "a.txt", &err), "new a", 5);
    ck_assert_ptr_nonnull(qr_file_set_add(&s, "b.txt", &err));
    ck_assert_int_eq(qr_file_set_commit(&s, &err), QR_ERR_IO);
    t = slurp(pa, &n);
    ck_assert_mem_eq(t, "old a", 5);
    free(t);
    /* commit: both replaced, a new one created, no temporary left */
    ck_assert_int_eq(qr_file_set_begin(&s, dir, &err), QR_OK);
    spill(qr_file_set_add(&s, "a.txt", &err), "new a", 5);
    spill(qr_file_set_add(&s, "b.txt", &err), "new b", 5);
    spill(qr_file_set_add(&s, "c.txt", &err), "new c", 5);
    ck_assert_int_eq(qr_file_set_commit(&s, &err), QR_OK);
    t = slurp(pb, &n);
    ck_assert_mem_eq(t, "new b", 5);
    free(t);
    ck_assert_int_eq(count_prefix(dir, ".qreg-set."), 0);
    /* a rename that fails midway (c.txt is now a non-empty directory) is rolled back */
    char *pc = path_in(dir, "c.txt"), *pcx = path_in(pc, "x");
    ck_assert_int_eq(unlink(pc), 0);
    ck_assert_int_eq(mkdir(pc, 0755), 0);
    spill(pcx, "x", 1);
    ck_assert_int_eq(qr_file_set_begin(&s, dir, &err), QR_OK);
    spill(qr_file_set_add(&s, "a.txt", &err), "3rd a", 5);
    spill(qr_file_set_add(&s, "c.txt", &err), "3rd c", 5);
    ck_assert_int_eq(qr_file_set_commit(&s, &err), QR_ERR_IO);
    ck_assert_msg(strstr(err.msg, "nothing was replaced"), "%s", err.msg);
    t = slurp(pa, &n);
    ck_assert_mem_eq(t, "new a", 5);
    free(t);
    ck_assert_int_eq(count_prefix(dir, ".qreg-set."), 0);
    tl_rmtree(dir);
    free(pa);
    free(pb);
    free(pc);
    free(pcx);
    free(dir);
}
END_TEST

/* ---- finding 7: stale temporaries, outputs, resume, learning rate ----------------------- */

static void age(const char *path, int seconds)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= seconds;
    ts[1] = ts[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

START_TEST(test_stale_temporaries_removed)
{
    char *dir = tl_tmpdir();
    char *target = path_in(dir, "m.qrm");
    char *stale = path_in(dir, "m.qrm.tmp.AbC123"), *fresh = path_in(dir, "m.qrm.tmp.XyZ789");
    char *unlike = path_in(dir, "m.qrm.tmp.old"), *other = path_in(dir, "n.qrm.tmp.AbC123");
    char *set = path_in(dir, ".qreg-set.Q1w2E3"), *inset = path_in(set, "model.c");
    spill(stale, "x", 1);
    spill(fresh, "x", 1);
    spill(unlike, "x", 1);
    spill(other, "x", 1);
    ck_assert_int_eq(mkdir(set, 0700), 0);
    spill(inset, "x", 1);
    age(stale, 2 * QR_STALE_TMP_SECONDS);
    age(unlike, 2 * QR_STALE_TMP_SECONDS);
    age(other, 2 * QR_STALE_TMP_SECONDS);
    age(inset, 2 * QR_STALE_TMP_SECONDS);
    age(set, 2 * QR_STALE_TMP_SECONDS);
    qr_error err = {{0}};
    ck_assert_int_eq(qr_file_write_atomic(target, "model", 5, &err), QR_OK);
    ck_assert_msg(!exists(stale), "a stale temporary of the target was kept");
    ck_assert_msg(exists(fresh), "a fresh temporary (a live writer's) was removed");
    ck_assert_msg(exists(unlike), "a file not named like a temporary was removed");
    ck_assert_msg(exists(other), "another target's temporary was removed");
    ck_assert(exists(set));
    qr_file_set s;
    ck_assert_int_eq(qr_file_set_begin(&s, dir, &err), QR_OK);
    qr_file_set_abort(&s);
    ck_assert_msg(!exists(set), "a stale set directory was kept");
    tl_rmtree(dir);
    free(target);
    free(stale);
    free(fresh);
    free(unlike);
    free(other);
    free(set);
    free(inset);
    free(dir);
}
END_TEST

static qr_status config_text(const char *dir, const char *optimizer, const char *output,
                             qr_train_config *c, qr_error *err)
{
    char text[12000];
    snprintf(text, sizeof text,
             "{\"data\": {\"train\": \"%s/data/iris.csv\", \"label\": \"label\"},"
             " \"model\": [{\"type\": \"dense\"}], \"optimizer\": %s, \"output\": %s,"
             " \"training\": {\"epochs\": 1}}", tl_srcdir(), optimizer, output);
    char *path = tl_write_file(dir, "c.json", text);
    qr_status s = qr_train_config_load(path, c, err);
    free(path);
    return s;
}

START_TEST(test_learning_rate_zero_refused)
{
    char *dir = tl_tmpdir();
    qr_train_config c;
    qr_error err = {{0}};
    ck_assert_int_eq(config_text(dir, "{\"learning_rate\": 0}", "{}", &c, &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "'optimizer.learning_rate' must be > 0"), "%s", err.msg);
    ck_assert_int_eq(config_text(dir, "{\"learning_rate\": 1e-9}", "{}", &c, &err), QR_OK);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_outputs_checked_up_front)
{
    char *dir = tl_tmpdir();
    qr_train_config c;
    qr_error err = {{0}};
    char out[4200];
    snprintf(out, sizeof out, "{\"model\": \"%s/m.qrm\", \"log\": \"%s/no/such/dir/log.csv\"}",
             dir, dir);
    ck_assert_int_eq(config_text(dir, "{}", out, &c, &err), QR_OK);
    ck_assert_int_eq(qr_train_check_outputs(&c, 0, &err), QR_ERR_IO);
    ck_assert_msg(strstr(err.msg, "the log output") && strstr(err.msg, "nothing was trained"),
                  "%s", err.msg);
    /* qr_train_ex refuses before training: no data needed to see it */
    qr_split_data d;
    memset(&d, 0, sizeof d);
    qr_model *m = NULL;
    ck_assert_int_eq(qr_train_ex(&c, &d, NULL, NULL, NULL, &m, NULL, &err), QR_ERR_IO);
    free(c.log_path);
    c.log_path = NULL;
    ck_assert_int_eq(qr_train_check_outputs(&c, 0, &err), QR_OK);
    ck_assert_int_eq(count_prefix(dir, "m.qrm"), 0); /* the probes left nothing */
    ck_assert_int_eq(qr_train_check_outputs(&c, 1, &err), QR_ERR_STATE);
    ck_assert_msg(strstr(err.msg, "--resume: there is no checkpoint") &&
                      strstr(err.msg, "run without --resume to start over"), "%s", err.msg);
    qr_train_config_free(&c);
    tl_rmtree(dir);
    free(dir);
}
END_TEST

/* ---- finding 8: the sanitizer build checks float-to-int conversions ------------------- */

START_TEST(test_sanitizer_float_cast_overflow)
{
#if defined(__SANITIZE_ADDRESS__)
    /* an ASan build is the sanitizer build (configure --enable-sanitizers): UBSan must stop
     * a float-to-int conversion out of range, which -fsanitize=undefined alone does not */
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        volatile float f = 3e38f;
        volatile int i = (int)f;
        _exit(i == 12345 ? 3 : 0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(!(WIFEXITED(st) && WEXITSTATUS(st) == 0),
                  "a float-to-int overflow went unnoticed: the sanitizer flags lack "
                  "-fsanitize=float-cast-overflow");
#endif
}
END_TEST

Suite *qr_suite_reliability(void)
{
    Suite *s = suite_create("reliability");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_graph_memory_limit);
    tcase_add_test(tc, test_model_memory_limit_config);
    tcase_add_test(tc, test_model_memory_limit_file);
    tcase_add_test(tc, test_qrm_nonfinite_refused);
    tcase_add_test(tc, test_gru_nonfinite_input);
    tcase_add_test(tc, test_csv_hex_and_absurd);
    tcase_add_test(tc, test_export_atomic_set);
    tcase_add_test(tc, test_file_set);
    tcase_add_test(tc, test_stale_temporaries_removed);
    tcase_add_test(tc, test_learning_rate_zero_refused);
    tcase_add_test(tc, test_outputs_checked_up_front);
    tcase_add_test(tc, test_sanitizer_float_cast_overflow);
    suite_add_tcase(s, tc);
    return s;
}
