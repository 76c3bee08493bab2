/* The float model file (.qrm). Layout (all integers little-endian), see docs/format.md:
 *   magic "QRMODEL\x1a" | u32 version | u32 flags (0) | u64 json_len | u64 n_tensors
 *   | json (json_len bytes: qreg version, input shape, classes, model spec, and in version 2
 *     the input features' settings)
 *   | n_tensors × { u16 name_len | name | u8 ndim | u8 dtype (0 = f32) | u16 reserved (0)
 *                   | u64 dims[ndim] | f32 data[prod dims] }
 *   | u32 CRC-32 of every byte before it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "lib/crc32.h"
#include "lib/fileio.h"
#include "lib/graph_impl.h"
#include "lib/json_util.h"
#include "model/model_impl.h"

static const unsigned char qrm_magic[8] = {'Q', 'R', 'M', 'O', 'D', 'E', 'L', 0x1a};
#define QRM_VERSION 1u
/* version 2 = version 1 + the header key "features"; written only when a model has them, so
 * models without (CSV data) stay version 1, readable by older qreg */
#define QRM_VERSION_FEATURES 2u
#define QRM_MAX_BYTES ((size_t)1 << 31)
#define QRM_STD_MEAN "__standardize/mean"
#define QRM_STD_STD "__standardize/std"
#define QRM_CALIB "__calibration/maxabs"

static void put_tensor(qr_buf *b, const char *name, int ndim, const size_t *dims, const float *x)
{
    size_t n = 1;
    qr_buf_u16(b, (uint16_t)strlen(name));
    qr_buf_put(b, name, strlen(name));
    qr_buf_u8(b, (uint8_t)ndim);
    qr_buf_u8(b, 0);
    qr_buf_u16(b, 0);
    for (int i = 0; i < ndim; i++) {
        qr_buf_u64(b, dims[i]);
        n *= dims[i];
    }
    qr_buf_f32(b, x, n);
}

QR_API qr_status qr_model_save(const qr_model *m, const char *path, qr_error *err)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    cJSON_AddStringToObject(root, "qreg_version", QR_VERSION_STRING);
    cJSON *input = cJSON_AddArrayToObject(root, "input");
    cJSON_AddItemToArray(input, cJSON_CreateNumber((double)m->spec.t));
    cJSON_AddItemToArray(input, cJSON_CreateNumber((double)m->spec.f));
    cJSON_AddNumberToObject(root, "n_classes", (double)m->spec.n_classes);
    if (m->classes) {
        cJSON *cl = cJSON_AddArrayToObject(root, "classes");
        for (size_t i = 0; i < m->n_classes_named; i++)
            cJSON_AddItemToArray(cl, cJSON_CreateString(m->classes[i]));
    }
    cJSON *layers = qr_model_spec_to_json(&m->spec);
    if (layers)
        cJSON_AddItemToObject(root, "model", layers);
    if (m->quant) {
        cJSON *q = qr_quant_plan_to_json(m->quant);
        if (!q) {
            cJSON_Delete(root);
            return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
        }
        cJSON_AddItemToObject(root, "quantize", q);
    }
    if (m->act_bits) {
        cJSON *a = cJSON_AddObjectToObject(root, "activations");
        if (!a || !cJSON_AddNumberToObject(a, "bits", m->act_bits) ||
            !cJSON_AddNumberToObject(a, "momentum", (double)m->act_momentum)) {
            cJSON_Delete(root);
            return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    if (m->features) {
        cJSON *fe = cJSON_Parse(m->features);
        if (!fe) {
            cJSON_Delete(root);
            return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
        }
        cJSON_AddItemToObject(root, "features", fe);
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json || !layers) {
        free(json);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    const qr_graph *g = m->graph;
    size_t n_tensors = qr_graph_n_param_nodes(g) + (m->mean ? 2 : 0) + (m->calib ? 1 : 0);
    qr_buf b = {0};
    qr_buf_put(&b, qrm_magic, sizeof qrm_magic);
    qr_buf_u32(&b, m->features ? QRM_VERSION_FEATURES : QRM_VERSION);
    qr_buf_u32(&b, 0);
    qr_buf_u64(&b, strlen(json));
    qr_buf_u64(&b, n_tensors);
    qr_buf_put(&b, json, strlen(json));
    free(json);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const qr_node *p = g->nodes[i];
        if (p->op == QR_OP_PARAM)
            put_tensor(&b, p->name, p->ndim, p->shape, p->x);
    }
    if (m->mean) {
        size_t d[1] = {m->spec.f};
        put_tensor(&b, QRM_STD_MEAN, 1, d, m->mean);
        put_tensor(&b, QRM_STD_STD, 1, d, m->std);
    }
    if (m->calib) {
        size_t d[1] = {m->spec.n_layers + 1};
        put_tensor(&b, QRM_CALIB, 1, d, m->calib);
    }
    if (b.nomem) {
        qr_buf_free(&b);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    qr_buf_u32(&b, qr_crc32(b.data, b.len));
    qr_status s = b.nomem ? qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path)
                          : qr_file_write_atomic(path, b.data, b.len, err);
    qr_buf_free(&b);
    return s;
}

/* Parse the JSON header into a spec and class list. */
static qr_status parse_header(const char *path, const char *json, size_t len, qr_model_spec *spec,
                              cJSON **root_out, qr_error *err)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: header is not valid JSON", path);
    *root_out = root;
    static const char *const keys[] = {"qreg_version", "input", "n_classes", "classes", "model",
                                       "quantize", "features", "activations", NULL};
    qr_status s = qr_json_check_keys(root, keys, path, "", err);
    if (s != QR_OK)
        return QR_ERR_FORMAT;
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (!cJSON_IsArray(input) || cJSON_GetArraySize(input) != 2)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: header 'input' must be [t, f]", path);
    double t = cJSON_GetArrayItem(input, 0)->valuedouble;
    double f = cJSON_GetArrayItem(input, 1)->valuedouble;
    if (!(t >= 1 && t <= 1e6 && f >= 1 && f <= 1e6) || t != (double)(size_t)t ||
        f != (double)(size_t)f)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: header 'input' out of range", path);
    spec->t = (size_t)t;
    spec->f = (size_t)f;
    spec->n_classes = 0;
    if ((s = qr_json_get_size(root, "n_classes", 2, 1u << 20, &spec->n_classes, path, "", err)))
        return QR_ERR_FORMAT;
    if (spec->n_classes == 0)
        return qr_error_set(err, QR_ERR_FORMAT, "%s: header has no n_classes", path);
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(root, "classes");
    if (cl) {
        if (!cJSON_IsArray(cl) || (size_t)cJSON_GetArraySize(cl) != spec->n_classes)
            return qr_error_set(err, QR_ERR_FORMAT, "%s: header 'classes' must list %zu names",
                                path, spec->n_classes);
        for (const cJSON *it = cl->child; it; it = it->next)
            if (!cJSON_IsString(it))
                return qr_error_set(err, QR_ERR_FORMAT, "%s: class names must be strings", path);
    }
    if ((s = qr_model_spec_parse(spec, cJSON_GetObjectItemCaseSensitive(root, "model"), path,
                                 err)) != QR_OK)
        return QR_ERR_FORMAT;
    return QR_OK;
}

QR_API qr_status qr_model_load(const char *path, size_t max_batch, qr_model **out,
                               qr_error *err)
{
    *out = NULL;
    unsigned char *data;
    size_t len;
    qr_status s = qr_file_read_all(path, QRM_MAX_BYTES, &data, &len, err);
    if (s != QR_OK)
        return s;
    qr_model_spec spec = {0};
    cJSON *root = NULL;
    qr_model *m = NULL;
    float *mean = NULL, *std = NULL;
    qr_reader r = {data, len, 0, 0};
    unsigned char magic[8];
    if (len < sizeof magic + 28 || !qr_rd_bytes(&r, magic, 8) ||
        memcmp(magic, qrm_magic, 8) != 0) {
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: not a qreg model file (bad magic or too short)",
                         path);
        goto done;
    }
    uint32_t version = qr_rd_u32(&r);
    if (version != QRM_VERSION && version != QRM_VERSION_FEATURES) {
        s = qr_error_set(err, QR_ERR_VERSION, "%s: format version %u (this qreg reads %u and %u)",
                         path, version, QRM_VERSION, QRM_VERSION_FEATURES);
        goto done;
    }
    uint32_t stored = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 |
                      (uint32_t)data[len - 2] << 16 | (uint32_t)data[len - 1] << 24;
    if (qr_crc32(data, len - 4) != stored) {
        s = qr_error_set(err, QR_ERR_CHECKSUM, "%s: checksum mismatch (file corrupt or truncated)",
                         path);
        goto done;
    }
    r.len = len - 4; /* the checksum is not payload */
    uint32_t flags = qr_rd_u32(&r);
    uint64_t json_len = qr_rd_u64(&r), n_tensors = qr_rd_u64(&r);
    if (flags != 0 || json_len > r.len - r.pos || n_tensors > 100000) {
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: bad header fields", path);
        goto done;
    }
    if ((s = parse_header(path, (const char *)data + r.pos, (size_t)json_len, &spec, &root, err)))
        goto done;
    r.pos += (size_t)json_len;
    qr_error build_err = {{0}};
    /* a small file must not make us allocate a huge model: every parameter is a 4-byte
     * float in the file, so the file's length bounds their count */
    qr_model_options limit = {.max_params = len / 4};
    const cJSON *aj = cJSON_GetObjectItemCaseSensitive(root, "activations");
    if (aj) {
        /* activation quantization is part of the graph: its quantizers' ranges are tensors */
        static const char *const akeys[] = {"bits", "momentum", NULL};
        long bits = 0;
        double mom = 0.0;
        if ((s = qr_json_check_keys(aj, akeys, path, "activations", err)) ||
            (s = qr_json_get_int(aj, "bits", 2, 16, &bits, path, "activations", err)) ||
            (s = qr_json_get_double(aj, "momentum", 0.0, 1.0, &mom, path, "activations", err)))
            goto done;
        if (bits < 2 || mom >= 1.0) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: header 'activations' needs bits 2 to 16 "
                             "and momentum in [0, 1)", path);
            goto done;
        }
        limit.act_bits = (int)bits;
        limit.act_momentum = (float)mom;
    }
    if ((s = qr_model_new_ex(&spec, max_batch, 0, &limit, &m, &build_err)) != QR_OK) {
        /* a header describing an impossible model is a malformed file, not a bad config */
        if (s == QR_ERR_CONFIG || s == QR_ERR_SHAPE)
            s = QR_ERR_FORMAT;
        qr_error_set(err, s, "%s: %s", path, build_err.msg);
        goto done;
    }
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(root, "classes");
    if (cl) {
        const char **names = calloc(spec.n_classes, sizeof *names);
        if (!names) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        size_t i = 0;
        for (const cJSON *it = cl->child; it; it = it->next)
            names[i++] = it->valuestring;
        s = qr_model_set_classes(m, names, spec.n_classes);
        free(names);
        if (s != QR_OK) {
            qr_error_set(err, s, "%s: out of memory", path);
            goto done;
        }
    }
    const cJSON *qj = cJSON_GetObjectItemCaseSensitive(root, "quantize");
    if (qj) {
        qr_quant_plan plan;
        if ((s = qr_quant_plan_from_json(&plan, qj, &m->spec, path, err)) != QR_OK)
            goto done;
        s = qr_model_set_quant_plan(m, &plan);
        qr_quant_plan_free(&plan);
        if (s != QR_OK) {
            qr_error_set(err, s, "%s: out of memory", path);
            goto done;
        }
    }
    const cJSON *fj = cJSON_GetObjectItemCaseSensitive(root, "features");
    if (fj) {
        char *text = version == QRM_VERSION_FEATURES && cJSON_IsObject(fj)
                         ? cJSON_PrintUnformatted(fj) : NULL;
        if (!text) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: header 'features' must be an object (in "
                             "format version 2)", path);
            goto done;
        }
        s = qr_model_set_features(m, text);
        free(text);
        if (s != QR_OK) {
            qr_error_set(err, s, "%s: out of memory", path);
            goto done;
        }
    }
    qr_graph *g = m->graph;
    size_t n_params = qr_graph_n_param_nodes(g), loaded = 0;
    unsigned char *seen = calloc(g->n_nodes, 1);
    if (!seen) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (uint64_t k = 0; k < n_tensors && s == QR_OK; k++) {
        char name[QR_NODE_NAME_MAX + 1];
        uint16_t nl = qr_rd_u16(&r);
        if (nl == 0 || nl > QR_NODE_NAME_MAX || !qr_rd_bytes(&r, name, nl)) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: tensor %llu: bad name", path,
                             (unsigned long long)k);
            break;
        }
        name[nl] = '\0';
        int ndim = qr_rd_u8(&r), dtype = qr_rd_u8(&r);
        uint16_t reserved = qr_rd_u16(&r);
        size_t dims[QR_MAX_DIMS], count = 1;
        if (r.bad || ndim < 1 || ndim > QR_MAX_DIMS || dtype != 0 || reserved != 0) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: tensor '%s': bad rank or type", path, name);
            break;
        }
        for (int i = 0; i < ndim; i++) {
            uint64_t d = qr_rd_u64(&r);
            if (d == 0 || d > (1u << 30) || count > ((size_t)1 << 32) / d) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: tensor '%s': bad dimension", path, name);
                break;
            }
            dims[i] = (size_t)d;
            count *= dims[i];
        }
        if (s != QR_OK)
            break;
        float *dst = NULL;
        if (strcmp(name, QRM_CALIB) == 0) {
            if (ndim != 1 || dims[0] != spec.n_layers + 1 || m->calib) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: '%s' must have %zu values, once", path,
                                 name, spec.n_layers + 1);
                break;
            }
            if (!(m->calib = malloc(dims[0] * sizeof(float)))) {
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            dst = m->calib;
        } else if (strcmp(name, QRM_STD_MEAN) == 0 || strcmp(name, QRM_STD_STD) == 0) {
            if (ndim != 1 || dims[0] != spec.f) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: '%s' must have %zu values", path, name,
                                 spec.f);
                break;
            }
            float **slot = strcmp(name, QRM_STD_MEAN) == 0 ? &mean : &std;
            if (*slot) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: '%s' appears twice", path, name);
                break;
            }
            if (!(*slot = malloc(spec.f * sizeof(float)))) {
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            dst = *slot;
        } else {
            qr_node *p = qr_graph_find(g, name);
            if (!p || p->op != QR_OP_PARAM) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: tensor '%s' is not a parameter of the "
                                 "model", path, name);
                break;
            }
            int same = p->ndim == ndim;
            for (int i = 0; same && i < ndim; i++)
                same = p->shape[i] == dims[i];
            if (!same) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: tensor '%s' has the wrong shape", path,
                                 name);
                break;
            }
            if (seen[p->index]++) {
                s = qr_error_set(err, QR_ERR_FORMAT, "%s: tensor '%s' appears twice", path, name);
                break;
            }
            loaded++;
            dst = p->x;
        }
        if (!qr_rd_f32(&r, dst, count)) {
            s = qr_error_set(err, QR_ERR_FORMAT, "%s: tensor '%s' is truncated", path, name);
            break;
        }
        /* a NaN or inf weight makes every output NaN, and export would cast it to an integer
         * (undefined behaviour): refuse it here, naming it */
        for (size_t i = 0; i < count; i++)
            if (!isfinite(dst[i])) {
                s = qr_error_set(err, QR_ERR_NUMERIC, "%s: tensor '%s', element %zu of %zu, is "
                                 "not finite (%g)", path, name, i, count, (double)dst[i]);
                break;
            }
    }
    if (s == QR_OK && loaded != n_params) {
        const char *missing = "?";
        for (size_t i = 0; i < n_params; i++)
            if (!seen[qr_graph_param_node(g, i)->index]) {
                missing = qr_graph_param_node(g, i)->name;
                break;
            }
        s = qr_error_set(err, QR_ERR_FORMAT,
                         "%s: tensor '%s' is missing (%zu of %zu parameters present)", path,
                         missing, loaded, n_params);
    }
    free(seen);
    if (s != QR_OK)
        goto done;
    if (r.pos != r.len) {
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: %zu trailing bytes after the last tensor", path,
                         r.len - r.pos);
        goto done;
    }
    if ((mean == NULL) != (std == NULL)) {
        s = qr_error_set(err, QR_ERR_FORMAT, "%s: '%s' and '%s' must come together", path,
                         QRM_STD_MEAN, QRM_STD_STD);
        goto done;
    }
    if (mean && (s = qr_model_set_standardization(m, mean, std)) != QR_OK) {
        qr_error_set(err, QR_ERR_FORMAT, "%s: invalid standardization (std must be > 0)", path);
        s = QR_ERR_FORMAT;
        goto done;
    }
    *out = m;
    m = NULL;
done:
    free(mean);
    free(std);
    qr_model_free(m);
    cJSON_Delete(root);
    qr_model_spec_free(&spec);
    free(data);
    return s;
}
