/* qrt host helpers (floating point; not compiled for the device). */
#include <math.h>
#include <string.h>
#include "qrt_host.h"
#include "qrt_format.h"

qrt_status qrt_quantize_multiplier(double real, int32_t *mult, int32_t *shift)
{
    if (mult == NULL || shift == NULL)
        return QRT_ERR_ARG;
    *mult = 0;
    *shift = 0;
    if (real != real || real > 1e300 || real < -1e300)
        return QRT_ERR_RANGE;
    if (real == 0.0)
        return QRT_OK;
    double a = real < 0 ? -real : real;
    /* a = f · 2^e, f ∈ [0.5, 1): scaling by 2 is exact in binary floating point */
    int e = 0;
    while (a >= 1.0) {
        a *= 0.5;
        e++;
    }
    while (a < 0.5) {
        a *= 2.0;
        e--;
    }
    int64_t q = (int64_t)floor(a * 2147483648.0 + 0.5); /* round(f · 2^31) ∈ [2^30, 2^31] */
    if (q == ((int64_t)1 << 31)) {
        q >>= 1;
        e++;
    }
    if (e > QRT_SHIFT_MAX)
        return QRT_ERR_RANGE;
    if (e < QRT_SHIFT_MIN) { /* denormalize: mult = round(|real| · 2^62), shift = −31 */
        double d = (real < 0 ? -real : real) * 4611686018427387904.0;
        q = (int64_t)floor(d + 0.5);
        e = QRT_SHIFT_MIN;
    }
    *mult = (int32_t)(real < 0 ? -q : q);
    *shift = e;
    return QRT_OK;
}

double qrt_rq_real(qrt_rq q)
{
    return ldexp((double)q.mult, q.shift - 31);
}

static const qrt_header *header_of(const qrt_model *m)
{
    return (const qrt_header *)(const void *)m->blob;
}

static float f32_of(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

qrt_status qrt_host_view_get(const qrt_model *m, qrt_host_view *v)
{
    if (m == NULL || m->blob == NULL || v == NULL)
        return QRT_ERR_ARG;
    const qrt_header *h = header_of(m);
    if (h->host_size == 0)
        return QRT_ERR_FORMAT;
    const qrt_host_info *hi = (const qrt_host_info *)(const void *)(m->blob + h->host_off);
    v->in_scale = f32_of(hi->in_scale);
    v->out_scale = f32_of(hi->out_scale);
    v->standardize = (hi->flags & QRT_HOST_STANDARDIZE) != 0;
    v->generator = hi->generator;
    return QRT_OK;
}

qrt_status qrt_quantize_input(const qrt_model *m, const float *x, size_t n_frames, int32_t *xq)
{
    qrt_host_view v;
    if (x == NULL || xq == NULL)
        return QRT_ERR_ARG;
    qrt_status st = qrt_host_view_get(m, &v);
    if (st != QRT_OK)
        return st;
    if (!(v.in_scale > 0))
        return QRT_ERR_RANGE;
    const qrt_header *h = header_of(m);
    const uint8_t *extra = m->blob + h->host_off + QRT_HOST_SIZE;
    size_t f = m->n_features;
    for (size_t t = 0; t < n_frames; t++)
        for (size_t i = 0; i < f; i++) {
            double val = x[t * f + i];
            if (v.standardize) {
                uint32_t mb, sb;
                memcpy(&mb, extra + 4 * i, 4);
                memcpy(&sb, extra + 4 * (f + i), 4);
                val = (val - f32_of(mb)) / f32_of(sb);
            }
            double q = val / v.in_scale;
            q = q < 0 ? -floor(-q + 0.5) : floor(q + 0.5);
            if (q != q)
                q = 0;
            if (q > m->in_max)
                q = m->in_max;
            if (q < -m->in_max)
                q = -m->in_max;
            xq[t * f + i] = (int32_t)q;
        }
    return QRT_OK;
}

qrt_status qrt_input_standardization(const qrt_model *m, float *mean, float *std)
{
    qrt_host_view v;
    if (mean == NULL || std == NULL)
        return QRT_ERR_ARG;
    qrt_status st = qrt_host_view_get(m, &v);
    if (st != QRT_OK)
        return st;
    const uint8_t *extra = m->blob + header_of(m)->host_off + QRT_HOST_SIZE;
    size_t f = m->n_features;
    for (size_t i = 0; i < f; i++) {
        mean[i] = 0.0f;
        std[i] = 1.0f;
        if (v.standardize) {
            uint32_t mb, sb;
            memcpy(&mb, extra + 4 * i, 4);
            memcpy(&sb, extra + 4 * (f + i), 4);
            mean[i] = f32_of(mb);
            std[i] = f32_of(sb);
        }
    }
    return QRT_OK;
}

qrt_status qrt_input_consts(const qrt_model *m, double raw_scale, qrt_inq *out, double *a_out)
{
    qrt_host_view v;
    if (out == NULL)
        return QRT_ERR_ARG;
    if (!(raw_scale > 0.0) || raw_scale > 1e300)
        return QRT_ERR_RANGE;
    qrt_status st = qrt_host_view_get(m, &v);
    if (st != QRT_OK)
        return st;
    if (!(v.in_scale > 0))
        return QRT_ERR_RANGE;
    for (size_t i = 0; i < m->n_features; i++) {
        float mean, sd;
        const uint8_t *extra = m->blob + header_of(m)->host_off + QRT_HOST_SIZE;
        mean = 0.0f;
        sd = 1.0f;
        if (v.standardize) {
            uint32_t mb, sb;
            memcpy(&mb, extra + 4 * i, 4);
            memcpy(&sb, extra + 4 * (m->n_features + i), 4);
            mean = f32_of(mb);
            sd = f32_of(sb);
        }
        /* the host computes ((x − mean) / std) / in_scale in double from these binary32s */
        double a = raw_scale / ((double)sd * v.in_scale);
        double c = (double)mean / ((double)sd * v.in_scale);
        if (!(a > 0.0) || !(a < 1073741824.0) || !(fabs(c / a) < 536870912.0))
            return QRT_ERR_RANGE; /* |mean| ≥ 2^29 raw counts: not this sensor's data */
        int e;
        frexp(a, &e);         /* a ∈ [2^(e−1), 2^e) */
        int k = 31 - e;       /* a · 2^k ∈ [2^30, 2^31) */
        k = k < 1 ? 1 : k > 62 ? 62 : k;
        double mult = floor(ldexp(a, k) + 0.5);
        if (mult >= 2147483648.0)
            mult = 2147483647.0;
        double off = floor(ldexp(c, k) + 0.5); /* |off| < 2^29 · 2^31 = 2^60: exact below 2^53 */
        qrt_inq q;
        q.mult = (int32_t)mult;
        q.k = (uint32_t)k;
        /* off as two's complement (hi, lo): off = hi · 2^32 + lo, 0 ≤ lo < 2^32 */
        double hi = floor(off / 4294967296.0);
        q.off_hi = (int32_t)hi;
        q.off_lo = (uint32_t)(off - hi * 4294967296.0);
        out[i] = q;
        if (a_out)
            a_out[i] = a;
    }
    return QRT_OK;
}

int qrt_model_has_sparse(const qrt_model *m)
{
    if (m == NULL || m->blob == NULL)
        return 0;
    uint32_t off = m->layers_off;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const qrt_layer_rec *r = (const qrt_layer_rec *)(const void *)(m->blob + off);
        const qrt_slot *s = qrt_rec_slots(r);
        for (unsigned k = 0; k < r->n_slots; k++)
            if (QRT_T_IS_SPARSE(QRT_SLOT_TYPE(s[k].desc)))
                return 1;
        off += (uint32_t)qrt_rec_size(r);
    }
    return 0;
}

qrt_status qrt_dequantize_output(const qrt_model *m, const int32_t *logits, float *out)
{
    qrt_host_view v;
    if (logits == NULL || out == NULL)
        return QRT_ERR_ARG;
    qrt_status st = qrt_host_view_get(m, &v);
    if (st != QRT_OK)
        return st;
    for (size_t i = 0; i < m->n_outputs; i++)
        out[i] = (float)(logits[i] * v.out_scale);
    return QRT_OK;
}

static const char *const kind_names[QRT_LAYER_KIND_END] = {
    [QRT_LAYER_DENSE] = "dense",   [QRT_LAYER_CONV1D] = "conv1d", [QRT_LAYER_BATCHNORM] = "batchnorm",
    [QRT_LAYER_RELU] = "relu",     [QRT_LAYER_PRELU] = "prelu",   [QRT_LAYER_GRU] = "gru",
    [QRT_LAYER_MAXPOOL] = "maxpool", [QRT_LAYER_ACT] = "act",
};

static const char *slot_name(unsigned kind, size_t i)
{
    static const char *const lin[] = {"weights", "bias", "requant", "offset"};
    static const char *const bn[] = {"requant", "offset"};
    static const char *const gru[] = {"input_weights", "recurrent_weights", "input_bias",
                                      "recurrent_bias", "input_requant", "recurrent_requant"};
    switch (kind) {
    case QRT_LAYER_DENSE:
    case QRT_LAYER_CONV1D: return lin[i];
    case QRT_LAYER_BATCHNORM: return bn[i];
    case QRT_LAYER_PRELU: return "slope_requant";
    case QRT_LAYER_ACT: return "input_requant";
    case QRT_LAYER_GRU: return gru[i];
    default: return "?";
    }
}

qrt_status qrt_layer_info_get(const qrt_model *m, size_t i, qrt_layer_info *out)
{
    if (m == NULL || m->blob == NULL || out == NULL || i >= m->n_layers)
        return QRT_ERR_ARG;
    memset(out, 0, sizeof *out);
    uint32_t off = m->layers_off;
    const qrt_layer_rec *r = NULL;
    for (size_t k = 0; k <= i; k++) {
        r = (const qrt_layer_rec *)(const void *)(m->blob + off);
        off += (uint32_t)qrt_rec_size(r);
    }
    out->kind = (qrt_layer_kind)r->kind;
    out->kind_name = kind_names[r->kind];
    if (r->kind == QRT_LAYER_ACT)
        out->kind_name = (r->flags & QRT_FLAG_ACT_TANH) ? "tanh" : "sigmoid";
    out->n_in = r->n_in;
    out->n_out = r->n_out;
    out->kernel = r->kernel;
    out->stride = r->stride;
    out->dilation = r->dilation;
    out->padding = (qrt_padding)(r->flags & QRT_FLAG_PAD_MASK);
    out->return_sequences = (r->flags & QRT_FLAG_RETURN_SEQ) != 0;
    out->out_max = r->out_max;
    out->head = i >= m->split;
    out->record_bytes = qrt_rec_size(r);
    const qrt_slot *s = qrt_rec_slots(r);
    for (size_t k = 0; k < r->n_slots; k++) {
        if (s[k].desc == 0)
            continue;
        qrt_tensor_info *t = &out->tensors[out->n_tensors++];
        unsigned type = QRT_SLOT_TYPE(s[k].desc);
        t->name = slot_name(r->kind, k);
        t->count = QRT_SLOT_COUNT(s[k].desc);
        t->offset = s[k].offset;
        t->encoding = 0;
        if (QRT_T_IS_SPARSE(type)) { /* the slot counts bytes; levels are rows × cols */
            size_t rows = r->kind == QRT_LAYER_GRU ? 3u * r->n_out : r->n_out;
            size_t cols = r->kind == QRT_LAYER_GRU && k == QRT_S_GRU_WH ? r->n_out
                        : r->kind == QRT_LAYER_CONV1D ? (size_t)r->kernel * r->n_in : r->n_in;
            t->bits = QRT_T_WBITS(type);
            t->container = qrt_container_bits(t->bits);
            t->encoding = QRT_T_WENC(type);
            t->bytes = t->count;
            t->count = rows * cols;
            t->dense_bytes = rows * QRT_ROW_BYTES(cols, t->container);
        } else if (type >= 1 && type <= 8) {
            /* rows: the output count (3H for the GRU) */
            size_t rows = r->kind == QRT_LAYER_GRU ? 3u * r->n_out : r->n_out;
            size_t cols = t->count / rows;
            t->bits = type;
            t->container = qrt_container_bits(type);
            t->bytes = rows * QRT_ROW_BYTES(cols, t->container);
            t->dense_bytes = t->bytes;
        } else {
            t->bits = 32;
            t->container = 32;
            t->bytes = t->count * (type == QRT_T_RQ ? 8u : 4u);
            t->dense_bytes = t->bytes;
        }
    }
    return QRT_OK;
}
