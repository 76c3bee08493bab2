/* Models: spec parsing (every layer type, every error naming its path), building and Keras
 * initial values, a spec built in C. The .qrm file is tested in test_model_file.c. */
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

/* Parse a JSON layer array into a zeroed spec; "cfg.json" is the message prefix. */
static qr_status parse_spec(const char *json, qr_model_spec *spec, qr_error *err)
{
    cJSON *j = cJSON_Parse(json);
    ck_assert_msg(j != NULL, "test JSON does not parse: %s", json);
    memset(spec, 0, sizeof *spec);
    qr_status s = qr_model_spec_parse(spec, j, "cfg.json", err);
    cJSON_Delete(j);
    return s;
}

static void parse_spec_ok(const char *json, qr_model_spec *spec)
{
    qr_error err = {{0}};
    qr_status s = parse_spec(json, spec, &err);
    ck_assert_msg(s == QR_OK, "parse failed: %s (%s)", qr_strerror(s), err.msg);
}

static qr_model *new_model_ok(const char *json, size_t t, size_t f, size_t classes,
                              size_t max_batch, uint64_t seed)
{
    qr_model_spec spec;
    parse_spec_ok(json, &spec);
    spec.t = t;
    spec.f = f;
    spec.n_classes = classes;
    qr_model *m = NULL;
    qr_error err = {{0}};
    qr_status s = qr_model_new(&spec, max_batch, seed, &m, &err);
    ck_assert_msg(s == QR_OK, "qr_model_new: %s (%s)", qr_strerror(s), err.msg);
    ck_assert_ptr_nonnull(m);
    qr_model_spec_free(&spec);
    return m;
}

static qr_node *param(qr_model *m, const char *name)
{
    qr_node *p = qr_graph_find(qr_model_graph(m), name);
    ck_assert_msg(p != NULL, "no parameter %s", name);
    ck_assert_int_eq(qr_node_op(p), QR_OP_PARAM);
    return p;
}

/* The parameter's shape must be exactly dims[0..ndim). */
static void check_shape(qr_model *m, const char *name, int ndim, const size_t *dims)
{
    qr_node *p = param(m, name);
    ck_assert_msg(qr_node_ndim(p) == ndim, "%s: rank %d, want %d", name, qr_node_ndim(p), ndim);
    for (int i = 0; i < ndim; i++)
        ck_assert_msg(qr_node_dim(p, i) == dims[i], "%s: dim %d is %zu, want %zu", name, i,
                      qr_node_dim(p, i), dims[i]);
}

static void check_constant(qr_model *m, const char *name, float c)
{
    qr_node *p = param(m, name);
    const float *x = qr_node_data(p);
    for (size_t i = 0; i < qr_node_size(p); i++)
        ck_assert_msg(x[i] == c, "%s[%zu] = %g, want %g", name, i, (double)x[i], (double)c);
}

/* Glorot-uniform: every |w| <= sqrt(6 / (fan_in + fan_out)), and the range is used (with
 * >= 16 draws, max |w| > 0.7 limit fails with probability < 0.7^16 = 3e-3 for a correct
 * initializer, and a fixed seed makes it a constant). */
static void check_glorot(qr_model *m, const char *name, size_t fan_in, size_t fan_out)
{
    qr_node *p = param(m, name);
    const float *x = qr_node_data(p);
    double lim = sqrt(6.0 / (double)(fan_in + fan_out)), amax = 0;
    for (size_t i = 0; i < qr_node_size(p); i++) {
        ck_assert_msg(fabs(x[i]) <= lim, "%s[%zu] = %g outside the Glorot limit %g", name, i,
                      (double)x[i], lim);
        amax = fabs(x[i]) > amax ? fabs(x[i]) : amax;
    }
    ck_assert_msg(amax > 0.7 * lim, "%s: max |w| %g, Glorot limit %g: wrong fans?", name, amax,
                  lim);
}


/* ---- fixtures: two models --------------------------------------------------------------- */

static const char mlp_json[] =
    "[{\"type\":\"dense\",\"units\":16},{\"type\":\"relu\"},"
    "{\"type\":\"dropout\",\"rate\":0.1},{\"type\":\"dense\"}]";

/* conv1d -> batchnorm -> prelu -> spatial_dropout1d -> gru -> dropout -> dense on (B, 40, 3) */
static const char cgru_json[] =
    "[{\"type\":\"conv1d\",\"filters\":6,\"kernel_size\":5},"
    "{\"type\":\"batchnorm\"},"
    "{\"type\":\"prelu\",\"alpha_init\":0.25},"
    "{\"type\":\"spatial_dropout1d\",\"rate\":0.2},"
    "{\"type\":\"gru\",\"units\":8},"
    "{\"type\":\"dropout\",\"rate\":0.3},"
    "{\"type\":\"dense\"}]";

qr_model *tm_mlp_model(size_t max_batch)
{
    return new_model_ok(mlp_json, 1, 30, 2, max_batch, 5);
}

qr_model *tm_cgru_model(size_t max_batch)
{
    return new_model_ok(cgru_json, 40, 3, 2, max_batch, 11);
}

/* ---- spec parsing ---------------------------------------------------------------------- */

START_TEST(test_spec_every_layer_type)
{
    qr_model_spec spec;
    parse_spec_ok(
        "[{\"type\":\"conv1d\",\"name\":\"front\",\"filters\":6,\"kernel_size\":5,\"strides\":2,"
        "  \"dilation_rate\":3,\"padding\":\"causal\",\"use_bias\":false},"
        " {\"type\":\"batchnorm\",\"momentum\":0.9,\"epsilon\":0.01},"
        " {\"type\":\"prelu\",\"alpha_init\":0.25},"
        " {\"type\":\"spatial_dropout1d\",\"rate\":0.3},"
        " {\"type\":\"maxpool1d\",\"pool_size\":3},"
        " {\"type\":\"maxpool1d\",\"pool_size\":2,\"strides\":1},"
        " {\"type\":\"gru\",\"units\":8,\"return_sequences\":true,\"use_bias\":false},"
        " {\"type\":\"global_average_pooling1d\"},"
        " {\"type\":\"relu\"}, {\"type\":\"sigmoid\"}, {\"type\":\"tanh\"}, {\"type\":\"flatten\"},"
        " {\"type\":\"dropout\",\"rate\":0.5},"
        " {\"type\":\"dense\",\"units\":4,\"use_bias\":false},"
        " {\"type\":\"conv1d\",\"filters\":2,\"kernel_size\":1},"
        " {\"type\":\"batchnorm\"}, {\"type\":\"prelu\"}, {\"type\":\"gru\",\"units\":3},"
        " {\"type\":\"dense\"}]",
        &spec);
    ck_assert_uint_eq(spec.n_layers, 19);
    const qr_layer_spec *l = spec.layers;
    ck_assert_int_eq(l[0].kind, QR_LAYER_CONV1D);
    ck_assert_str_eq(l[0].name, "front");
    ck_assert_uint_eq(l[0].units, 6);
    ck_assert_uint_eq(l[0].kernel, 5);
    ck_assert_uint_eq(l[0].stride, 2);
    ck_assert_uint_eq(l[0].dilation, 3);
    ck_assert_int_eq(l[0].padding, 2);
    ck_assert_int_eq(l[0].use_bias, 0);
    ck_assert_int_eq(l[1].kind, QR_LAYER_BATCHNORM);
    ck_assert_str_eq(l[1].name, "batchnorm_1");
    ck_assert_float_eq(l[1].momentum, 0.9f);
    ck_assert_float_eq(l[1].epsilon, 0.01f);
    ck_assert_int_eq(l[2].kind, QR_LAYER_PRELU);
    ck_assert_float_eq(l[2].alpha_init, 0.25f);
    ck_assert_int_eq(l[3].kind, QR_LAYER_SPATIAL_DROPOUT);
    ck_assert_str_eq(l[3].name, "spatial_dropout1d_1");
    ck_assert_float_eq(l[3].rate, 0.3f);
    ck_assert_int_eq(l[4].kind, QR_LAYER_MAXPOOL1D);
    ck_assert_uint_eq(l[4].kernel, 3);
    ck_assert_uint_eq(l[4].stride, 3); /* Keras: strides default to pool_size */
    ck_assert_str_eq(l[5].name, "maxpool1d_2");
    ck_assert_uint_eq(l[5].kernel, 2);
    ck_assert_uint_eq(l[5].stride, 1);
    ck_assert_int_eq(l[6].kind, QR_LAYER_GRU);
    ck_assert_uint_eq(l[6].units, 8);
    ck_assert_int_eq(l[6].return_sequences, 1);
    ck_assert_int_eq(l[6].use_bias, 0);
    ck_assert_int_eq(l[7].kind, QR_LAYER_GAP1D);
    ck_assert_str_eq(l[7].name, "global_average_pooling1d_1");
    ck_assert_int_eq(l[8].kind, QR_LAYER_RELU);
    ck_assert_int_eq(l[9].kind, QR_LAYER_SIGMOID);
    ck_assert_int_eq(l[10].kind, QR_LAYER_TANH);
    ck_assert_int_eq(l[11].kind, QR_LAYER_FLATTEN);
    ck_assert_int_eq(l[12].kind, QR_LAYER_DROPOUT);
    ck_assert_float_eq(l[12].rate, 0.5f);
    ck_assert_int_eq(l[13].kind, QR_LAYER_DENSE);
    ck_assert_str_eq(l[13].name, "dense_1");
    ck_assert_uint_eq(l[13].units, 4);
    ck_assert_int_eq(l[13].use_bias, 0);
    /* Keras defaults */
    ck_assert_str_eq(l[14].name, "conv1d_2");
    ck_assert_uint_eq(l[14].stride, 1);
    ck_assert_uint_eq(l[14].dilation, 1);
    ck_assert_int_eq(l[14].padding, 0);
    ck_assert_int_eq(l[14].use_bias, 1);
    ck_assert_float_eq(l[15].momentum, 0.99f);
    ck_assert_float_eq(l[15].epsilon, 1e-3f);
    ck_assert_float_eq(l[16].alpha_init, 0.0f);
    ck_assert_int_eq(l[17].return_sequences, 0);
    ck_assert_int_eq(l[17].use_bias, 1);
    ck_assert_str_eq(l[18].name, "dense_2");
    ck_assert_uint_eq(l[18].units, 0); /* the last dense: one unit per class, filled later */
    ck_assert_int_eq(l[18].use_bias, 1);

    /* padding names */
    const char *pads[3] = {"valid", "same", "causal"};
    for (int i = 0; i < 3; i++) {
        char json[160];
        snprintf(json, sizeof json,
                 "[{\"type\":\"conv1d\",\"filters\":1,\"kernel_size\":2,\"padding\":\"%s\"}]",
                 pads[i]);
        qr_model_spec p;
        parse_spec_ok(json, &p);
        ck_assert_int_eq(p.layers[0].padding, i);
        qr_model_spec_free(&p);
    }

    /* to_json -> parse gives the same spec, field for field */
    cJSON *j = qr_model_spec_to_json(&spec);
    ck_assert_ptr_nonnull(j);
    qr_model_spec back = {0};
    qr_error err = {{0}};
    qr_status rs = qr_model_spec_parse(&back, j, "rt", &err);
    ck_assert_msg(rs == QR_OK, "to_json output does not parse back: %s", err.msg);
    cJSON_Delete(j);
    ck_assert_uint_eq(back.n_layers, spec.n_layers);
    for (size_t i = 0; i < spec.n_layers; i++) {
        const qr_layer_spec *a = &spec.layers[i], *b = &back.layers[i];
        ck_assert_int_eq(a->kind, b->kind);
        ck_assert_str_eq(a->name, b->name);
        ck_assert_uint_eq(a->units, b->units);
        ck_assert_uint_eq(a->kernel, b->kernel);
        ck_assert_uint_eq(a->stride, b->stride);
        ck_assert_uint_eq(a->dilation, b->dilation);
        ck_assert_int_eq(a->padding, b->padding);
        ck_assert_int_eq(a->use_bias, b->use_bias);
        ck_assert_int_eq(a->return_sequences, b->return_sequences);
        ck_assert_float_eq(a->rate, b->rate);
        ck_assert_float_eq(a->momentum, b->momentum);
        ck_assert_float_eq(a->epsilon, b->epsilon);
        ck_assert_float_eq(a->alpha_init, b->alpha_init);
    }
    qr_model_spec_free(&back);
    qr_model_spec_free(&spec);
    ck_assert_ptr_null(spec.layers);

    ck_assert_str_eq(qr_layer_kind_name(QR_LAYER_GRU), "gru");
    ck_assert_ptr_null(qr_layer_kind_name(QR_LAYER_COUNT));
    ck_assert_ptr_null(qr_layer_kind_name((qr_layer_kind)-1));
}
END_TEST

/* Each bad spec is QR_ERR_CONFIG and the message contains the path. */
static const struct {
    const char *json, *path;
} spec_errors[] = {
    /* unknown keys */
    {"[{\"type\":\"dense\",\"units\":4,\"bias\":true},{\"type\":\"dense\"}]", "'model[0].bias'"},
    {"[{\"type\":\"relu\",\"units\":3},{\"type\":\"dense\"}]", "'model[0].units'"},
    {"[{\"type\":\"global_average_pooling1d\",\"pool_size\":2},{\"type\":\"dense\"}]",
     "'model[0].pool_size'"},
    {"[{\"type\":\"dense\",\"units\":4},{\"type\":\"dense\",\"filters\":2}]", "'model[1].filters'"},
    /* wrong types */
    {"[{\"type\":\"dense\",\"units\":4},{\"type\":\"dense\",\"units\":\"2\"}]", "'model[1].units'"},
    {"[{\"type\":\"dense\",\"units\":2.5},{\"type\":\"dense\"}]", "'model[0].units'"},
    {"[{\"type\":\"dense\",\"units\":4,\"use_bias\":\"no\"},{\"type\":\"dense\"}]",
     "'model[0].use_bias'"},
    {"[{\"type\":\"spatial_dropout1d\",\"rate\":\"0.2\"},{\"type\":\"dense\"}]", "'model[0].rate'"},
    {"[{\"type\":\"prelu\",\"alpha_init\":null},{\"type\":\"dense\"}]", "'model[0].alpha_init'"},
    {"[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"padding\":1},{\"type\":\"dense\"}]",
     "'model[0].padding'"},
    {"[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"use_bias\":1},{\"type\":\"dense\"}]",
     "'model[0].use_bias'"},
    {"[{\"type\":\"gru\",\"units\":8,\"return_sequences\":\"yes\"},{\"type\":\"dense\"}]",
     "'model[0].return_sequences'"},
    {"[{\"type\":\"dense\",\"units\":3,\"name\":5},{\"type\":\"dense\"}]", "'model[0].name'"},
    {"[{\"type\":5},{\"type\":\"dense\"}]", "'model[0].type'"},
    /* out of range */
    {"[{\"type\":\"dense\",\"units\":0},{\"type\":\"dense\"}]", "'model[0].units'"},
    {"[{\"type\":\"dense\",\"units\":4},{\"type\":\"dense\",\"units\":-2}]", "'model[1].units'"},
    {"[{\"type\":\"dense\",\"units\":16777217},{\"type\":\"dense\"}]", "'model[0].units'"},
    {"[{\"type\":\"dropout\",\"rate\":1.0},{\"type\":\"dense\"}]", "'model[0].rate'"},
    {"[{\"type\":\"relu\"},{\"type\":\"dropout\",\"rate\":-0.1},{\"type\":\"dense\"}]",
     "'model[1].rate'"},
    {"[{\"type\":\"batchnorm\",\"momentum\":1.5},{\"type\":\"dense\"}]", "'model[0].momentum'"},
    {"[{\"type\":\"batchnorm\",\"epsilon\":0},{\"type\":\"dense\"}]", "'model[0].epsilon'"},
    {"[{\"type\":\"prelu\",\"alpha_init\":11},{\"type\":\"dense\"}]", "'model[0].alpha_init'"},
    {"[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":0},{\"type\":\"dense\"}]",
     "'model[0].kernel_size'"},
    {"[{\"type\":\"conv1d\",\"filters\":0,\"kernel_size\":3},{\"type\":\"dense\"}]",
     "'model[0].filters'"},
    {"[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"strides\":0},{\"type\":\"dense\"}]",
     "'model[0].strides'"},
    {"[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"dilation_rate\":1.5},"
     "{\"type\":\"dense\"}]",
     "'model[0].dilation_rate'"},
    {"[{\"type\":\"maxpool1d\",\"pool_size\":0},{\"type\":\"dense\"}]", "'model[0].pool_size'"},
    {"[{\"type\":\"maxpool1d\",\"strides\":-1},{\"type\":\"dense\"}]", "'model[0].strides'"},
    {"[{\"type\":\"gru\",\"units\":0},{\"type\":\"dense\"}]", "'model[0].units'"},
    /* bad padding string, unknown type */
    {"[{\"type\":\"conv1d\",\"filters\":4,\"kernel_size\":3,\"padding\":\"full\"},"
     "{\"type\":\"dense\"}]",
     "'model[0].padding'"},
    {"[{\"type\":\"lstm\",\"units\":3},{\"type\":\"dense\"}]", "'model[0].type'"},
    /* missing keys */
    {"[{\"type\":\"dense\"},{\"type\":\"dense\"}]", "model[0].units"},
    {"[{\"type\":\"dense\",\"units\":4},{\"type\":\"gru\"},{\"type\":\"dense\"}]",
     "model[1].units"},
    {"[{\"type\":\"conv1d\",\"kernel_size\":3},{\"type\":\"dense\"}]", "model[0].filters"},
    {"[{\"type\":\"conv1d\",\"filters\":3},{\"type\":\"dense\"}]", "model[0].kernel_size"},
    {"[{\"units\":3},{\"type\":\"dense\"}]", "model[0].type"},
    /* names: duplicates (explicit, and against a default name), bad characters, length */
    {"[{\"type\":\"dense\",\"units\":3,\"name\":\"a\"},{\"type\":\"relu\",\"name\":\"a\"},"
     "{\"type\":\"dense\"}]",
     "model[1].name"},
    {"[{\"type\":\"dense\",\"units\":3,\"name\":\"dense_2\"},{\"type\":\"dense\"}]",
     "model[1].name"},
    {"[{\"type\":\"dense\",\"units\":3,\"name\":\"a/b\"},{\"type\":\"dense\"}]", "model[0].name"},
    {"[{\"type\":\"dense\",\"units\":3,\"name\":\"\"},{\"type\":\"dense\"}]", "model[0].name"},
    {"[{\"type\":\"dense\",\"units\":3,"
     "\"name\":\"a123456789b123456789c123456789d123456789\"},{\"type\":\"dense\"}]",
     "model[0].name"},
    /* duplicate key, not an object, not an array, empty */
    {"[{\"type\":\"dense\",\"units\":4},{\"type\":\"dense\",\"units\":2,\"units\":3}]",
     "'model[1].units'"},
    {"[{\"type\":\"dense\",\"units\":4},3]", "model[1]"},
    {"{\"type\":\"dense\"}", "'model'"},
    {"[]", "'model'"},
};

START_TEST(test_spec_errors)
{
    qr_model_spec spec;
    qr_error err = {{0}};
    qr_status s = parse_spec(spec_errors[_i].json, &spec, &err);
    ck_assert_msg(s == QR_ERR_CONFIG, "case %d (%s): status %s, want config error", _i,
                  spec_errors[_i].json, qr_strerror(s));
    ck_assert_msg(strncmp(err.msg, "cfg.json: ", 10) == 0, "case %d: no file prefix: %s", _i,
                  err.msg);
    ck_assert_msg(strstr(err.msg, spec_errors[_i].path) != NULL,
                  "case %d: message lacks %s: %s", _i, spec_errors[_i].path, err.msg);
    qr_model_spec_free(&spec); /* whatever a failed parse left must be freeable */
}
END_TEST

/* ---- building ---------------------------------------------------------------------------- */

START_TEST(test_model_mlp_build_and_init)
{
    qr_model *m = tm_mlp_model(8);
    const qr_model_spec *ms = qr_model_spec_of(m);
    ck_assert_uint_eq(ms->layers[3].units, 2); /* filled from n_classes */
    size_t tr = 0, buf = 1;
    qr_model_count_params(m, &tr, &buf);
    ck_assert_uint_eq(tr, 30 * 16 + 16 + 16 * 2 + 2); /* 530 */
    ck_assert_uint_eq(buf, 0);
    ck_assert_uint_eq(qr_graph_n_param_nodes(qr_model_graph(m)), 4);
    check_shape(m, "dense_1/kernel", 2, (size_t[]){30, 16});
    check_shape(m, "dense_1/bias", 1, (size_t[]){16});
    check_shape(m, "dense_2/kernel", 2, (size_t[]){16, 2});
    check_shape(m, "dense_2/bias", 1, (size_t[]){2});
    check_glorot(m, "dense_1/kernel", 30, 16);
    check_glorot(m, "dense_2/kernel", 16, 2);
    check_constant(m, "dense_1/bias", 0.0f);
    check_constant(m, "dense_2/bias", 0.0f);
    qr_node *x = qr_model_input(m), *z = qr_model_logits(m);
    ck_assert_int_eq(qr_node_ndim(x), 2);
    ck_assert_uint_eq(qr_node_dim(x, 1), 30);
    ck_assert_int_eq(qr_node_ndim(z), 2);
    ck_assert_uint_eq(qr_node_dim(z, 1), 2);
    ck_assert_ptr_nonnull(qr_model_labels(m));
    ck_assert_ptr_nonnull(qr_model_loss(m));
    ck_assert_ptr_null(qr_model_classes(m));
    ck_assert_int_eq(qr_model_standardization(m, NULL, NULL), 0);

    /* the seed decides the weights */
    qr_model *same = tm_mlp_model(8), *other = new_model_ok(mlp_json, 1, 30, 2, 8, 6);
    size_t n1, n2, n3;
    const float *a = qr_graph_params(qr_model_graph(m), NULL, &n1);
    const float *b = qr_graph_params(qr_model_graph(same), NULL, &n2);
    const float *c = qr_graph_params(qr_model_graph(other), NULL, &n3);
    ck_assert_uint_eq(n1, n2);
    ck_assert_uint_eq(n1, n3);
    ck_assert_mem_eq(a, b, n1 * sizeof *a);
    ck_assert_int_ne(memcmp(a, c, n1 * sizeof *a), 0);
    qr_model_free(same);
    qr_model_free(other);
    qr_model_free(m);
}
END_TEST

START_TEST(test_model_cgru_build_and_init)
{
    qr_model *m = tm_cgru_model(4);
    size_t tr = 0, buf = 0;
    qr_model_count_params(m, &tr, &buf);
    const size_t conv = 5 * 3 * 6 + 6, bn = 2 * 6, prelu = 6;
    const size_t gru = 6 * 24 + 8 * 24 + 24 + 24, dense = 8 * 2 + 2;
    ck_assert_uint_eq(tr, conv + bn + prelu + gru + dense); /* 516 */
    ck_assert_uint_eq(buf, 2 * 6);                          /* BN moving mean, variance */
    ck_assert_uint_eq(qr_graph_n_param_nodes(qr_model_graph(m)), 13);
    check_shape(m, "conv1d_1/kernel", 3, (size_t[]){5, 3, 6});
    check_shape(m, "conv1d_1/bias", 1, (size_t[]){6});
    const char *bn_names[4] = {"batchnorm_1/gamma", "batchnorm_1/beta",
                               "batchnorm_1/moving_mean", "batchnorm_1/moving_variance"};
    for (int i = 0; i < 4; i++) {
        check_shape(m, bn_names[i], 1, (size_t[]){6});
        ck_assert_int_eq(qr_node_trainable(param(m, bn_names[i])), i < 2);
    }
    check_shape(m, "prelu_1/alpha", 1, (size_t[]){6});
    check_shape(m, "gru_1/kernel", 2, (size_t[]){6, 24});
    check_shape(m, "gru_1/recurrent_kernel", 2, (size_t[]){8, 24});
    check_shape(m, "gru_1/bias", 1, (size_t[]){24});
    check_shape(m, "gru_1/recurrent_bias", 1, (size_t[]){24});
    check_shape(m, "dense_1/kernel", 2, (size_t[]){8, 2});
    check_shape(m, "dense_1/bias", 1, (size_t[]){2});

    /* Keras initial values. Conv kernel fans include the receptive field: 5·3 in, 5·6 out. */
    check_glorot(m, "conv1d_1/kernel", 5 * 3, 5 * 6);
    check_glorot(m, "gru_1/kernel", 6, 24);
    check_glorot(m, "dense_1/kernel", 8, 2);
    check_constant(m, "conv1d_1/bias", 0.0f);
    check_constant(m, "batchnorm_1/gamma", 1.0f);
    check_constant(m, "batchnorm_1/beta", 0.0f);
    check_constant(m, "batchnorm_1/moving_mean", 0.0f);
    check_constant(m, "batchnorm_1/moving_variance", 1.0f);
    check_constant(m, "prelu_1/alpha", 0.25f);
    check_constant(m, "gru_1/bias", 0.0f);
    check_constant(m, "gru_1/recurrent_bias", 0.0f);
    check_constant(m, "dense_1/bias", 0.0f);

    /* the recurrent kernel W (8, 24) is orthogonal: W·Wᵀ = I */
    const float *w = qr_node_data(param(m, "gru_1/recurrent_kernel"));
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++) {
            double dot = 0;
            for (size_t k = 0; k < 24; k++)
                dot += (double)w[i * 24 + k] * w[j * 24 + k];
            ck_assert_msg(fabs(dot - (i == j)) < 1e-5, "(W Wt)[%zu][%zu] = %.8f", i, j, dot);
        }

    /* input (B, 40, 3), logits (B, 2); a prediction runs and is finite */
    ck_assert_int_eq(qr_node_ndim(qr_model_input(m)), 3);
    ck_assert_uint_eq(qr_node_dim(qr_model_input(m), 1), 40);
    ck_assert_uint_eq(qr_node_dim(qr_model_input(m), 2), 3);
    float x[6 * 120], z[6 * 2];
    int32_t pred[6];
    tl_fill_uniform(x, 6 * 120, -2, 2, 9);
    ck_assert_int_eq(qr_model_predict(m, x, 6, z, pred), QR_OK); /* 6 > batch 4: two chunks */
    for (int i = 0; i < 6; i++) {
        ck_assert(isfinite(z[2 * i]) && isfinite(z[2 * i + 1]));
        ck_assert_int_eq(pred[i], z[2 * i + 1] > z[2 * i]);
    }
    qr_model_free(m);
}
END_TEST

/* A spec whose last layer is not (B, n_classes) is refused with a message giving both. */
START_TEST(test_model_last_layer_shape_error)
{
    static const struct {
        const char *json;
        size_t t, f;
        const char *shape;
    } cases[] = {
        {"[{\"type\":\"dense\",\"units\":4},{\"type\":\"relu\"}]", 1, 30, "(B, 4)"},
        {"[{\"type\":\"dense\",\"units\":3}]", 1, 30, "(B, 3)"},
        {"[{\"type\":\"conv1d\",\"filters\":2,\"kernel_size\":3}]", 40, 3, "(B, 38, 2)"},
        {"[{\"type\":\"gru\",\"units\":2,\"return_sequences\":true}]", 40, 3, "(B, 40, 2)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qr_model_spec spec;
        parse_spec_ok(cases[i].json, &spec);
        spec.t = cases[i].t;
        spec.f = cases[i].f;
        spec.n_classes = 2;
        qr_model *m = (qr_model *)&spec;
        qr_error err = {{0}};
        qr_status s = qr_model_new(&spec, 4, 1, &m, &err);
        ck_assert_msg(s == QR_ERR_CONFIG, "case %zu: %s", i, qr_strerror(s));
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(err.msg, cases[i].shape) && strstr(err.msg, "(B, 2)"),
                      "case %zu: %s", i, err.msg);
        qr_model_spec_free(&spec);
    }

    /* a gru on flat input, fewer than 2 classes, zero batch */
    qr_model_spec spec;
    parse_spec_ok("[{\"type\":\"gru\",\"units\":4},{\"type\":\"dense\"}]", &spec);
    spec.t = 1;
    spec.f = 30;
    spec.n_classes = 2;
    qr_model *m = NULL;
    qr_error err = {{0}};
    ck_assert_int_eq(qr_model_new(&spec, 4, 1, &m, &err), QR_ERR_CONFIG);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, "gru_1") != NULL, "%s", err.msg);
    spec.t = 10;
    spec.f = 3;
    spec.n_classes = 1;
    ck_assert_int_eq(qr_model_new(&spec, 4, 1, &m, &err), QR_ERR_ARG);
    spec.n_classes = 2;
    ck_assert_int_eq(qr_model_new(&spec, 0, 1, &m, &err), QR_ERR_ARG);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(qr_model_new(&spec, 4, 1, &m, &err), QR_OK);
    qr_model_free(m);
    qr_model_spec_free(&spec);
}
END_TEST

/* A spec built in C: qr_layer_default gives what the JSON parser gives; a zero-initialized
 * layer list builds (names and zero-meaning fields filled by the library, one code path);
 * duplicate and bad names are refused; a plan from the C spec names the model's matrices. */
START_TEST(test_spec_built_in_c)
{
    qr_model_spec js;
    qr_error err = {{0}};
    ck_assert_int_eq(parse_spec("[{\"type\": \"conv1d\", \"filters\": 4, \"kernel_size\": 3},"
                                " {\"type\": \"batchnorm\"}, {\"type\": \"relu\"},"
                                " {\"type\": \"maxpool1d\"}, {\"type\": \"gru\", \"units\": 3},"
                                " {\"type\": \"dense\", \"units\": 5}, {\"type\": \"dense\"}]",
                                &js, &err), QR_OK);
    qr_layer_kind kinds[] = {QR_LAYER_CONV1D, QR_LAYER_BATCHNORM, QR_LAYER_RELU,
                             QR_LAYER_MAXPOOL1D, QR_LAYER_GRU, QR_LAYER_DENSE, QR_LAYER_DENSE};
    qr_layer_spec cl[7];
    for (size_t i = 0; i < 7; i++)
        cl[i] = qr_layer_default(kinds[i]);
    cl[0].units = 4;
    cl[0].kernel = 3;
    cl[4].units = 3;
    cl[5].units = 5;
    qr_model_spec cs = {.t = 1, .f = 1, .n_classes = 0, .n_layers = 7, .layers = cl};
    ck_assert_int_eq(qr_model_spec_complete(&cs, NULL, &err), QR_OK);
    for (size_t i = 0; i < 7; i++)
    {
        const qr_layer_spec *a = &cl[i], *b = &js.layers[i];
        ck_assert_msg(a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
                          a->units == b->units && a->kernel == b->kernel &&
                          a->stride == b->stride && a->dilation == b->dilation &&
                          a->padding == b->padding && a->use_bias == b->use_bias &&
                          a->return_sequences == b->return_sequences && a->rate == b->rate &&
                          a->momentum == b->momentum && a->epsilon == b->epsilon &&
                          a->alpha_init == b->alpha_init,
                      "layer %zu (%s) differs from the JSON parser's", i, b->name);
    }
    ck_assert_str_eq(cl[6].name, "dense_2");
    qr_model_spec_free(&js);

    /* zero-initialized: the documented "duplicate node name '/kernel'" no longer happens */
    qr_layer_spec zl[3] = {{.kind = QR_LAYER_DENSE, .units = 8, .use_bias = 1},
                           {.kind = QR_LAYER_RELU},
                           {.kind = QR_LAYER_DENSE, .use_bias = 1}};
    qr_model_spec zs = {.t = 1, .f = 4, .n_classes = 3, .n_layers = 3, .layers = zl};
    qr_quant_plan plan;
    ck_assert_int_eq(qr_quant_plan_init(&plan, &zs), QR_OK);
    ck_assert_uint_eq(plan.n, 2);
    ck_assert_str_eq(plan.m[0].name, "dense_1/kernel");
    ck_assert_str_eq(plan.m[1].name, "dense_2/kernel");
    qr_quant_plan_free(&plan);
    ck_assert_str_eq(zl[0].name, ""); /* the caller's spec is left as it was */
    qr_model *m = NULL;
    ck_assert_msg(qr_model_new(&zs, 4, 1, &m, &err) == QR_OK, "%s", err.msg);
    const qr_model_spec *ms = qr_model_spec_of(m);
    ck_assert_str_eq(ms->layers[0].name, "dense_1");
    ck_assert_str_eq(ms->layers[1].name, "relu_1");
    ck_assert_str_eq(ms->layers[2].name, "dense_2");
    ck_assert_uint_eq(ms->layers[2].units, 3);
    ck_assert_ptr_nonnull(qr_graph_find(qr_model_graph(m), "dense_2/bias"));
    qr_model_free(m);

    /* a zero stride, dilation, epsilon, pool size take their defaults */
    qr_layer_spec pl[1] = {{.kind = QR_LAYER_MAXPOOL1D}};
    qr_model_spec ps = {.n_layers = 1, .layers = pl};
    ck_assert_int_eq(qr_model_spec_complete(&ps, NULL, &err), QR_OK);
    ck_assert_uint_eq(pl[0].kernel, 2);
    ck_assert_uint_eq(pl[0].stride, 2);
    ck_assert_str_eq(pl[0].name, "maxpool1d_1");

    /* names: a duplicate and a '/' are errors naming the layer */
    snprintf(zl[0].name, sizeof zl[0].name, "same");
    snprintf(zl[2].name, sizeof zl[2].name, "same");
    ck_assert_int_eq(qr_model_new(&zs, 4, 1, &m, &err), QR_ERR_CONFIG);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, "model[2].name 'same' is used twice"), "%s", err.msg);
    snprintf(zl[2].name, sizeof zl[2].name, "a/b");
    ck_assert_int_eq(qr_model_spec_complete(&zs, "spec.c", &err), QR_ERR_CONFIG);
    ck_assert_msg(strstr(err.msg, "spec.c: model[2].name must be"), "%s", err.msg);
}
END_TEST


Suite *qr_suite_model(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, test_spec_every_layer_type);
    tcase_add_loop_test(tc, test_spec_errors, 0,
                        (int)(sizeof spec_errors / sizeof spec_errors[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("build");
    tcase_add_test(tc, test_model_mlp_build_and_init);
    tcase_add_test(tc, test_spec_built_in_c);
    tcase_add_test(tc, test_model_cgru_build_and_init);
    tcase_add_test(tc, test_model_last_layer_shape_error);
    suite_add_tcase(s, tc);
    return s;
}
