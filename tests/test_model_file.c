/* The .qrm model file: bit-exact round trip, and a loader that rejects truncated, corrupted
 * and inconsistent files with the right status code; saving is atomic.
 *
 * Hand-made files are built by a small independent writer (with its own CRC-32) from the
 * layout in model/model_file.c's header comment, so the tests also pin the documented format.
 * Every file lives in a fresh temporary directory. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <check.h>
#include <cjson/cJSON.h>

#include "qreg/model.h"
#include "testlib.h"
#include "testlib_model.h"

/* ---- helpers ------------------------------------------------------------------------- */

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Entries of a directory besides . and .., with the first name in `first` (if not NULL). */
static int count_entries(const char *dir, char *first, size_t first_size)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n++ == 0 && first)
            snprintf(first, first_size, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

/* CRC-32 (IEEE, reflected 0xEDB88320), written here independently of lib/crc32.c. */
static uint32_t test_crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

/* ---- a .qrm reader/writer independent of the library ---------------------------------- */

typedef struct qrm_tensor {
    char name[128];
    unsigned ndim, dtype, reserved;
    uint64_t dims[16];
    size_t n_bytes;        /* payload bytes */
    unsigned char *data;   /* raw little-endian f32 payload */
} qrm_tensor;

typedef struct qrm_file {
    unsigned char magic[8];
    uint32_t version, flags;
    uint64_t json_len;     /* written as given (lets a test lie about it) */
    char *json;            /* json_len bytes when emitted with json_len = strlen(json) */
    uint64_t n_tensors;    /* written as given */
    size_t count;          /* tensors actually written */
    qrm_tensor t[64];
    const char *trailer;   /* extra bytes before the CRC, or NULL */
} qrm_file;

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(unsigned char **w, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *(*w)++ = (unsigned char)(v >> (8 * i));
}

/* Parse a valid file as documented; asserts on anything unexpected. */
static void qrm_parse(const unsigned char *b, size_t len, qrm_file *q)
{
    memset(q, 0, sizeof *q);
    ck_assert_uint_ge(len, 36);
    ck_assert_uint_eq(test_crc32(b, len - 4), (uint32_t)get_le(b + len - 4, 4));
    memcpy(q->magic, b, 8);
    q->version = (uint32_t)get_le(b + 8, 4);
    q->flags = (uint32_t)get_le(b + 12, 4);
    q->json_len = get_le(b + 16, 8);
    q->n_tensors = get_le(b + 24, 8);
    size_t at = 32;
    ck_assert_uint_le(q->json_len, len - 4 - at);
    q->json = malloc(q->json_len + 1);
    ck_assert_ptr_nonnull(q->json);
    memcpy(q->json, b + at, q->json_len);
    q->json[q->json_len] = '\0';
    at += q->json_len;
    ck_assert_uint_le(q->n_tensors, 64);
    for (size_t k = 0; k < q->n_tensors; k++) {
        qrm_tensor *t = &q->t[k];
        size_t nl = (size_t)get_le(b + at, 2);
        at += 2;
        ck_assert_uint_lt(nl, sizeof t->name);
        memcpy(t->name, b + at, nl);
        at += nl;
        t->ndim = b[at];
        t->dtype = b[at + 1];
        t->reserved = (unsigned)get_le(b + at + 2, 2);
        at += 4;
        ck_assert_uint_le(t->ndim, 16);
        size_t count = 1;
        for (unsigned i = 0; i < t->ndim; i++) {
            t->dims[i] = get_le(b + at, 8);
            count *= (size_t)t->dims[i];
            at += 8;
        }
        t->n_bytes = 4 * count;
        ck_assert_uint_le(at + t->n_bytes, len - 4);
        t->data = malloc(t->n_bytes + 1);
        ck_assert_ptr_nonnull(t->data);
        memcpy(t->data, b + at, t->n_bytes);
        at += t->n_bytes;
    }
    q->count = (size_t)q->n_tensors;
    ck_assert_uint_eq(at, len - 4); /* nothing between the last tensor and the CRC */
}

static void qrm_free(qrm_file *q)
{
    free(q->json);
    for (size_t k = 0; k < q->count; k++)
        free(q->t[k].data);
    memset(q, 0, sizeof *q);
}

/* Serialize with a correct CRC; caller frees. */
static unsigned char *qrm_emit(const qrm_file *q, size_t *len)
{
    size_t cap = 64 + strlen(q->json) + (q->trailer ? strlen(q->trailer) : 0);
    for (size_t k = 0; k < q->count; k++)
        cap += 6 + strlen(q->t[k].name) + 8 * q->t[k].ndim + q->t[k].n_bytes;
    unsigned char *b = malloc(cap), *w = b;
    ck_assert_ptr_nonnull(b);
    memcpy(w, q->magic, 8);
    w += 8;
    put_le(&w, q->version, 4);
    put_le(&w, q->flags, 4);
    put_le(&w, q->json_len, 8);
    put_le(&w, q->n_tensors, 8);
    memcpy(w, q->json, strlen(q->json));
    w += strlen(q->json);
    for (size_t k = 0; k < q->count; k++) {
        const qrm_tensor *t = &q->t[k];
        put_le(&w, strlen(t->name), 2);
        memcpy(w, t->name, strlen(t->name));
        w += strlen(t->name);
        *w++ = (unsigned char)t->ndim;
        *w++ = (unsigned char)t->dtype;
        put_le(&w, t->reserved, 2);
        for (unsigned i = 0; i < t->ndim; i++)
            put_le(&w, t->dims[i], 8);
        memcpy(w, t->data, t->n_bytes);
        w += t->n_bytes;
    }
    if (q->trailer) {
        memcpy(w, q->trailer, strlen(q->trailer));
        w += strlen(q->trailer);
    }
    size_t n = (size_t)(w - b);
    put_le(&w, test_crc32(b, n), 4);
    *len = n + 4;
    ck_assert_uint_le(*len, cap);
    return b;
}

static qrm_tensor *qrm_find(qrm_file *q, const char *name)
{
    for (size_t k = 0; k < q->count; k++)
        if (strcmp(q->t[k].name, name) == 0)
            return &q->t[k];
    ck_abort_msg("tensor %s not in the file", name);
    return NULL;
}

static void qrm_remove(qrm_file *q, const char *name)
{
    qrm_tensor *t = qrm_find(q, name);
    free(t->data);
    size_t k = (size_t)(t - q->t);
    memmove(&q->t[k], &q->t[k + 1], (q->count - k - 1) * sizeof *t);
    q->count--;
    q->n_tensors--;
}

static void qrm_set_json(qrm_file *q, const char *json)
{
    free(q->json);
    q->json = strdup(json);
    ck_assert_ptr_nonnull(q->json);
    q->json_len = strlen(json);
}

/* Edit the JSON header: fn changes the parsed tree. */
static void qrm_edit_json(qrm_file *q, void (*fn)(cJSON *root))
{
    cJSON *root = cJSON_Parse(q->json);
    ck_assert_ptr_nonnull(root);
    fn(root);
    char *text = cJSON_PrintUnformatted(root);
    ck_assert_ptr_nonnull(text);
    qrm_set_json(q, text);
    free(text);
    cJSON_Delete(root);
}


/* ---- fixtures ---------------------------------------------------------------------------- */

/* Random values in every parameter (moving variance and std positive), so that a round
 * trip that dropped or mixed up any tensor would show. */
static void randomize(qr_model *m, unsigned seed)
{
    qr_graph *g = qr_model_graph(m);
    for (size_t i = 0; i < qr_graph_n_param_nodes(g); i++) {
        qr_node *p = qr_graph_param_node(g, i);
        int var = strstr(qr_node_name(p), "moving_variance") != NULL;
        tl_fill_uniform(qr_node_data(p), qr_node_size(p), var ? 0.5f : -1.0f, var ? 2.0f : 1.0f,
                        seed + (unsigned)i);
    }
}

/* A saved MLP with classes and standardization: the base file for the loader tests. */
static void save_mlp(const char *path)
{
    qr_model *m = tm_mlp_model(8);
    randomize(m, 100);
    const char *names[2] = {"benign", "malignant"};
    ck_assert_int_eq(qr_model_set_classes(m, names, 2), QR_OK);
    float mean[30], sd[30];
    tl_fill_uniform(mean, 30, -5, 5, 1);
    tl_fill_uniform(sd, 30, 0.5f, 3, 2);
    ck_assert_int_eq(qr_model_set_standardization(m, mean, sd), QR_OK);
    qr_error err = {{0}};
    qr_status s = qr_model_save(m, path, &err);
    ck_assert_msg(s == QR_OK, "save: %s", err.msg);
    qr_model_free(m);
}

/* Load must fail with `want`; the message must name the file and contain `needle`. */
static void expect_load_fail(const char *path, qr_status want, const char *needle,
                             const char *what)
{
    qr_model *m = (qr_model *)&m; /* must be reset to NULL */
    qr_error err = {{0}};
    qr_status s = qr_model_load(path, 4, &m, &err);
    ck_assert_msg(s == want, "%s: status %s (%s), want %s", what, qr_strerror(s), err.msg,
                  qr_strerror(want));
    ck_assert_msg(m == NULL, "%s: *out set on failure", what);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", what,
                  err.msg);
    if (needle)
        ck_assert_msg(strstr(err.msg, needle) != NULL, "%s: message lacks '%s': %s", what,
                      needle, err.msg);
}

static void write_qrm(const char *path, const qrm_file *q)
{
    size_t n;
    unsigned char *b = qrm_emit(q, &n);
    write_all(path, b, n);
    free(b);
}


/* ---- the model file ---------------------------------------------------------------------- */

static void check_same_model(qr_model *a, qr_model *b)
{
    const qr_model_spec *sa = qr_model_spec_of(a), *sb = qr_model_spec_of(b);
    ck_assert_uint_eq(sa->t, sb->t);
    ck_assert_uint_eq(sa->f, sb->f);
    ck_assert_uint_eq(sa->n_classes, sb->n_classes);
    ck_assert_uint_eq(sa->n_layers, sb->n_layers);
    for (size_t i = 0; i < sa->n_layers; i++) {
        ck_assert_int_eq(sa->layers[i].kind, sb->layers[i].kind);
        ck_assert_str_eq(sa->layers[i].name, sb->layers[i].name);
        ck_assert_uint_eq(sa->layers[i].units, sb->layers[i].units);
        ck_assert_float_eq(sa->layers[i].rate, sb->layers[i].rate);
        ck_assert_float_eq(sa->layers[i].momentum, sb->layers[i].momentum);
        ck_assert_float_eq(sa->layers[i].epsilon, sb->layers[i].epsilon);
    }
    /* every parameter and buffer, bit for bit, found by name */
    qr_graph *ga = qr_model_graph(a), *gb = qr_model_graph(b);
    ck_assert_uint_eq(qr_graph_n_param_nodes(ga), qr_graph_n_param_nodes(gb));
    for (size_t i = 0; i < qr_graph_n_param_nodes(ga); i++) {
        qr_node *p = qr_graph_param_node(ga, i);
        qr_node *q = qr_graph_find(gb, qr_node_name(p));
        ck_assert_msg(q != NULL, "%s missing after load", qr_node_name(p));
        ck_assert_uint_eq(qr_node_size(p), qr_node_size(q));
        ck_assert_msg(memcmp(qr_node_data(p), qr_node_data(q), qr_node_size(p) * 4) == 0,
                      "%s differs after load", qr_node_name(p));
    }
    const char *const *ca = qr_model_classes(a), *const *cb = qr_model_classes(b);
    ck_assert_int_eq(ca == NULL, cb == NULL);
    for (size_t i = 0; ca && i < sa->n_classes; i++)
        ck_assert_str_eq(ca[i], cb[i]);
    const float *ma, *da, *mb, *db;
    ck_assert_int_eq(qr_model_standardization(a, &ma, &da), qr_model_standardization(b, &mb, &db));
    if (ma) {
        ck_assert_mem_eq(ma, mb, sa->f * sizeof *ma);
        ck_assert_mem_eq(da, db, sa->f * sizeof *da);
    }
}

START_TEST(test_file_round_trip_bit_exact)
{
    char *dir = tl_tmpdir();
    char *path = join(dir, "cgru.qrm"), *path2 = join(dir, "again.qrm");
    qr_model *m = tm_cgru_model(16);
    randomize(m, 40);
    const char *names[2] = {"quiet", "speech, \"loud\""};
    ck_assert_int_eq(qr_model_set_classes(m, names, 2), QR_OK);
    float mean[3] = {0.5f, -1.25f, 3e-3f}, sd[3] = {2.0f, 0.1f, 7.5f};
    ck_assert_int_eq(qr_model_set_standardization(m, mean, sd), QR_OK);
    enum { N = 21 };
    float *x = malloc(N * 120 * sizeof *x), z1[N * 2], z2[N * 2];
    int32_t p1[N], p2[N];
    ck_assert_ptr_nonnull(x);
    tl_fill_uniform(x, N * 120, -3, 3, 17);
    ck_assert_int_eq(qr_model_predict(m, x, N, z1, p1), QR_OK);

    qr_error err = {{0}};
    ck_assert_msg(qr_model_save(m, path, &err) == QR_OK, "%s", err.msg);
    qr_model *l = NULL;
    ck_assert_msg(qr_model_load(path, 16, &l, &err) == QR_OK, "%s", err.msg);
    check_same_model(m, l);
    ck_assert_int_eq(qr_model_predict(l, x, N, z2, p2), QR_OK);
    ck_assert_mem_eq(z1, z2, sizeof z1);
    ck_assert_mem_eq(p1, p2, sizeof p1);

    /* saving the loaded model writes the same bytes */
    ck_assert_msg(qr_model_save(l, path2, &err) == QR_OK, "%s", err.msg);
    size_t n1, n2;
    unsigned char *b1 = read_all(path, &n1), *b2 = read_all(path2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(b1, b2, n1);

    /* the file is as documented: my parser reads it and my writer reproduces it */
    qrm_file q;
    qrm_parse(b1, n1, &q);
    ck_assert_mem_eq(q.magic, "QRMODEL\x1a", 8);
    ck_assert_uint_eq(q.version, 1);
    ck_assert_uint_eq(q.flags, 0);
    ck_assert_uint_eq(q.n_tensors, 13 + 2);
    size_t ne;
    unsigned char *e = qrm_emit(&q, &ne);
    ck_assert_uint_eq(ne, n1);
    ck_assert_mem_eq(e, b1, n1);
    free(e);
    qrm_free(&q);
    free(b1);
    free(b2);
    qr_model_free(l);

    /* a model without classes or standardization loads without them */
    qr_model *plain = tm_mlp_model(4), *back = NULL;
    ck_assert_msg(qr_model_save(plain, path, &err) == QR_OK, "%s", err.msg);
    ck_assert_msg(qr_model_load(path, 4, &back, &err) == QR_OK, "%s", err.msg);
    check_same_model(plain, back);
    ck_assert_ptr_null(qr_model_classes(back));
    ck_assert_int_eq(qr_model_standardization(back, NULL, NULL), 0);
    qr_model_free(back);
    qr_model_free(plain);

    qr_model_free(m);
    free(x);
    tl_rmtree(dir);
    free(path);
    free(path2);
    free(dir);
}
END_TEST

/* Every proper prefix of a valid file is refused: shorter than the fixed header (32 bytes)
 * plus the CRC it is not a model file at all (format); otherwise the checksum fails. */
START_TEST(test_file_truncated_every_length)
{
    char *dir = tl_tmpdir();
    char *good = join(dir, "good.qrm"), *bad = join(dir, "bad.qrm");
    save_mlp(good);
    size_t n;
    unsigned char *b = read_all(good, &n);
    for (size_t len = 0; len < n; len++) {
        write_all(bad, b, len);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", len, n);
        expect_load_fail(bad, len < 36 ? QR_ERR_FORMAT : QR_ERR_CHECKSUM,
                         len < 36 ? NULL : "checksum", what);
    }
    free(b);
    tl_rmtree(dir);
    free(good);
    free(bad);
    free(dir);
}
END_TEST

/* One flipped bit anywhere: in the magic a format error, in the version field a version
 * error, everywhere else (JSON, tensors, the CRC itself) a checksum error. */
START_TEST(test_file_flipped_bits)
{
    char *dir = tl_tmpdir();
    char *good = join(dir, "good.qrm"), *bad = join(dir, "bad.qrm");
    save_mlp(good);
    size_t n;
    unsigned char *b = read_all(good, &n);
    for (size_t off = 0; off < n; off++) {
        b[off] ^= (unsigned char)(1u << (off % 8));
        write_all(bad, b, n);
        b[off] ^= (unsigned char)(1u << (off % 8));
        char what[64];
        snprintf(what, sizeof what, "bit %zu of byte %zu flipped", off % 8, off);
        expect_load_fail(bad, off < 8 ? QR_ERR_FORMAT : off < 12 ? QR_ERR_VERSION : QR_ERR_CHECKSUM,
                         NULL, what);
    }
    /* and the untouched file still loads */
    qr_model *m = NULL;
    qr_error err = {{0}};
    ck_assert_msg(qr_model_load(good, 4, &m, &err) == QR_OK, "%s", err.msg);
    qr_model_free(m);
    free(b);
    tl_rmtree(dir);
    free(good);
    free(bad);
    free(dir);
}
END_TEST

START_TEST(test_file_magic_and_version)
{
    char *dir = tl_tmpdir();
    char *good = join(dir, "good.qrm"), *bad = join(dir, "bad.qrm");
    save_mlp(good);
    size_t n;
    unsigned char *b = read_all(good, &n);
    qrm_file q;
    qrm_parse(b, n, &q);

    /* wrong magic, with a correct CRC */
    memcpy(q.magic, "QRMODEL\x1b", 8);
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "magic", "magic QRMODEL\\x1b");
    memcpy(q.magic, "\x89PNG\r\n\x1a\n", 8);
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "magic", "PNG magic");
    memcpy(q.magic, "QRMODEL\x1a", 8);

    /* other versions, with a correct CRC */
    const uint32_t versions[3] = {0, 3, 0x01000000u};
    for (int i = 0; i < 3; i++) {
        q.version = versions[i];
        write_qrm(bad, &q);
        char needle[32];
        snprintf(needle, sizeof needle, "version %u", versions[i]);
        expect_load_fail(bad, QR_ERR_VERSION, needle, needle);
    }
    q.version = 1;

    /* files that are not models at all */
    write_all(bad, "", 0);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "empty file");
    write_all(bad, "{\"model\": []}\n", 14);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "JSON file");
    unsigned char zeros[256] = {0};
    write_all(bad, zeros, sizeof zeros);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "zeros");
    char *missing = join(dir, "no-such.qrm");
    expect_load_fail(missing, QR_ERR_IO, NULL, "missing file");
    free(missing);

    /* my writer, unchanged, gives a file that loads */
    write_qrm(bad, &q);
    qr_model *m = NULL;
    qr_error err = {{0}};
    ck_assert_msg(qr_model_load(bad, 4, &m, &err) == QR_OK, "%s", err.msg);
    qr_model_free(m);
    qrm_free(&q);
    free(b);
    tl_rmtree(dir);
    free(good);
    free(bad);
    free(dir);
}
END_TEST

/* Files with a correct CRC whose content does not match the model they describe. */
static void json_three_classes(cJSON *root)
{
    cJSON_ReplaceItemInObject(root, "n_classes", cJSON_CreateNumber(3));
    cJSON_DeleteItemFromObject(root, "classes");
}
static void json_unknown_key(cJSON *root)
{
    cJSON_AddNumberToObject(root, "extra", 1);
}
static void json_unknown_layer(cJSON *root)
{
    cJSON *l = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "model"), 1);
    cJSON_ReplaceItemInObject(l, "type", cJSON_CreateString("lstm"));
}
static void json_bad_input(cJSON *root)
{
    cJSON *in = cJSON_GetObjectItem(root, "input");
    cJSON_ReplaceItemInArray(in, 0, cJSON_CreateString("one"));
}
static void json_zero_input(cJSON *root)
{
    cJSON *in = cJSON_GetObjectItem(root, "input");
    cJSON_ReplaceItemInArray(in, 1, cJSON_CreateNumber(0));
}
static void json_fractional_input(cJSON *root)
{
    cJSON *in = cJSON_GetObjectItem(root, "input");
    cJSON_ReplaceItemInArray(in, 1, cJSON_CreateNumber(30.5));
}
static void json_wider_input(cJSON *root)
{
    cJSON *in = cJSON_GetObjectItem(root, "input");
    cJSON_ReplaceItemInArray(in, 1, cJSON_CreateNumber(31));
}
static void json_classes_wrong_count(cJSON *root)
{
    cJSON_AddItemToArray(cJSON_GetObjectItem(root, "classes"), cJSON_CreateString("third"));
}
static void json_no_model(cJSON *root)
{
    cJSON_DeleteItemFromObject(root, "model");
}

START_TEST(test_file_inconsistent_content)
{
    char *dir = tl_tmpdir();
    char *good = join(dir, "good.qrm"), *bad = join(dir, "bad.qrm");
    save_mlp(good);
    size_t n;
    unsigned char *b = read_all(good, &n);
    qrm_file q;
#define FRESH() (qrm_free(&q), qrm_parse(b, n, &q))
    qrm_parse(b, n, &q);

    /* a tensor of the wrong shape: same element count (transposed), other count, other rank */
    qrm_tensor *t = qrm_find(&q, "dense_1/kernel");
    t->dims[0] = 16;
    t->dims[1] = 30;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "'dense_1/kernel' has the wrong shape", "transposed");
    FRESH();
    t = qrm_find(&q, "dense_2/bias");
    t->dims[0] = 3;
    t->n_bytes = 12;
    t->data = realloc(t->data, 12);
    ck_assert_ptr_nonnull(t->data);
    memset(t->data, 0, 12);
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "'dense_2/bias' has the wrong shape", "3 biases");
    FRESH();
    t = qrm_find(&q, "dense_2/bias");
    t->ndim = 2;
    t->dims[1] = 1;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "'dense_2/bias' has the wrong shape", "rank 2 bias");

    /* a missing tensor (count adjusted), an extra one, one twice */
    FRESH();
    qrm_remove(&q, "dense_2/bias");
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_2/bias", "missing tensor");
    FRESH();
    qrm_tensor *x = &q.t[q.count++];
    *x = *qrm_find(&q, "dense_2/bias");
    snprintf(x->name, sizeof x->name, "dense_3/bias");
    x->data = malloc(x->n_bytes);
    ck_assert_ptr_nonnull(x->data);
    memset(x->data, 0, x->n_bytes);
    q.n_tensors++;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_3/bias", "extra tensor");
    FRESH();
    x = &q.t[q.count++];
    *x = *qrm_find(&q, "dense_1/bias");
    x->data = malloc(x->n_bytes);
    ck_assert_ptr_nonnull(x->data);
    memcpy(x->data, qrm_find(&q, "dense_1/bias")->data, x->n_bytes);
    q.n_tensors++;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "twice", "duplicate tensor");
    FRESH();
    qrm_remove(&q, "__standardize/std");
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "mean without std");
    FRESH();
    memset(qrm_find(&q, "__standardize/std")->data + 8, 0, 4); /* std[2] = 0 */
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "std", "zero std");

    /* the tensor count disagrees with the tensors present; bytes after the last one */
    FRESH();
    q.n_tensors++;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "n_tensors + 1");
    FRESH();
    q.n_tensors--;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "n_tensors - 1");
    FRESH();
    q.n_tensors = (uint64_t)1 << 40;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "n_tensors 2^40");
    FRESH();
    q.trailer = "junk";
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "trailing", "trailing bytes");

    /* bad tensor headers: dtype, reserved, rank, dimensions, name */
    FRESH();
    qrm_find(&q, "dense_1/bias")->dtype = 1;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_1/bias", "dtype 1");
    FRESH();
    qrm_find(&q, "dense_1/bias")->reserved = 7;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_1/bias", "reserved 7");
    FRESH();
    t = qrm_find(&q, "dense_1/bias");
    t->ndim = 0;
    t->n_bytes = 4;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_1/bias", "rank 0");
    FRESH();
    t = qrm_find(&q, "dense_1/bias");
    t->ndim = 9;
    for (int i = 1; i < 9; i++)
        t->dims[i] = 1;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_1/bias", "rank 9");
    FRESH();
    qrm_find(&q, "dense_1/bias")->dims[0] = 0;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_1/bias", "dimension 0");
    FRESH();
    t = qrm_find(&q, "dense_1/kernel");
    t->dims[0] = (uint64_t)1 << 30;
    t->dims[1] = (uint64_t)1 << 30;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_1/kernel", "2^60 elements");
    FRESH();
    t = qrm_find(&q, "dense_1/kernel");
    t->dims[0] = (uint64_t)1 << 40;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "dense_1/kernel", "dimension 2^40");
    FRESH();
    qrm_find(&q, "__standardize/std")->n_bytes = 60; /* the last tensor: half its payload */
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "'__standardize/std' is truncated", "short payload");
    FRESH();
    snprintf(qrm_find(&q, "dense_1/kernel")->name, sizeof t->name, "%s", "");
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "empty tensor name");

    /* header fields and the JSON header */
    FRESH();
    q.flags = 1;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "flags 1");
    FRESH();
    q.json_len += 100000;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "json_len too large");
    FRESH();
    q.json_len = UINT64_MAX;
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, NULL, "json_len 2^64-1");
    FRESH();
    qrm_set_json(&q, "{\"input\": [1, 30], ");
    write_qrm(bad, &q);
    expect_load_fail(bad, QR_ERR_FORMAT, "JSON", "broken JSON");
    void (*edits[])(cJSON *) = {json_three_classes, json_unknown_key,   json_unknown_layer,
                                json_bad_input,     json_zero_input,    json_fractional_input,
                                json_wider_input,
                                json_classes_wrong_count, json_no_model};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        FRESH();
        qrm_edit_json(&q, edits[i]);
        write_qrm(bad, &q);
        char what[32];
        snprintf(what, sizeof what, "JSON edit %zu", i);
        expect_load_fail(bad, QR_ERR_FORMAT, NULL, what);
    }
#undef FRESH
    qrm_free(&q);
    free(b);
    tl_rmtree(dir);
    free(good);
    free(bad);
    free(dir);
}
END_TEST

START_TEST(test_file_save_errors_and_atomic_replace)
{
    char *dir = tl_tmpdir();
    qr_model *m = tm_mlp_model(4);
    qr_error err = {{0}};
    char name[256];

    /* a directory that does not exist: an I/O error naming the path, nothing left behind */
    char *nodir = join(dir, "no/such/dir/m.qrm");
    ck_assert_int_eq(qr_model_save(m, nodir, &err), QR_ERR_IO);
    ck_assert_msg(strstr(err.msg, nodir) != NULL, "%s", err.msg);
    ck_assert_int_eq(count_entries(dir, NULL, 0), 0);

    /* over an existing file: replaced by rename (a new inode), no temporary left */
    char *path = tl_write_file(dir, "m.qrm", "an old model\n");
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    ck_assert_msg(qr_model_save(m, path, &err) == QR_OK, "%s", err.msg);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_msg(before.st_ino != after.st_ino, "the file was rewritten in place");
    ck_assert_int_eq(after.st_mode & 0777, 0644);
    ck_assert_int_eq(count_entries(dir, name, sizeof name), 1);
    ck_assert_str_eq(name, "m.qrm");
    qr_model *l = NULL;
    ck_assert_msg(qr_model_load(path, 4, &l, &err) == QR_OK, "%s", err.msg);
    check_same_model(m, l);
    qr_model_free(l);

    /* a save that fails at the rename (the target is a directory) leaves no temporary and
     * the target untouched */
    char *sub = join(dir, "sub");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    char *target = join(sub, "model.qrm");
    ck_assert_int_eq(mkdir(target, 0755), 0);
    free(tl_write_file(target, "keep", "x"));
    ck_assert_int_eq(qr_model_save(m, target, &err), QR_ERR_IO);
    ck_assert_msg(strstr(err.msg, target) != NULL, "%s", err.msg);
    ck_assert_int_eq(count_entries(sub, name, sizeof name), 1);
    ck_assert_str_eq(name, "model.qrm");
    ck_assert_int_eq(count_entries(target, name, sizeof name), 1);
    ck_assert_str_eq(name, "keep");

    qr_model_free(m);
    tl_rmtree(dir);
    free(target);
    free(sub);
    free(path);
    free(nodir);
    free(dir);
}
END_TEST

Suite *qr_suite_model_file(void)
{
    Suite *s = suite_create("model_file");
    TCase *tc = tcase_create("file");
    tcase_set_timeout(tc, 60); /* thousands of loads; slow under sanitizers */
    tcase_add_test(tc, test_file_round_trip_bit_exact);
    tcase_add_test(tc, test_file_truncated_every_length);
    tcase_add_test(tc, test_file_flipped_bits);
    tcase_add_test(tc, test_file_magic_and_version);
    tcase_add_test(tc, test_file_inconsistent_content);
    tcase_add_test(tc, test_file_save_errors_and_atomic_replace);
    suite_add_tcase(s, tc);
    return s;
}
