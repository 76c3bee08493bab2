/* qrt builder: .qrt blobs and model.c/model.h from integer parameters (host only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qrt_builder.h"
#include "qrt_format.h"
#include "qrt_host.h"
#include "qrt_sparse.h"

/* A growable byte buffer. */
typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static int bytes_reserve(bytes *b, size_t extra)
{
    if (b->cap - b->n >= extra)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->n < extra)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL)
        return 0;
    b->p = p;
    b->cap = cap;
    return 1;
}

struct qrt_builder {
    qrt_builder_input in;
    float *mean, *std;             /* owned copies */
    double out_scale;
    char generator[32];
    uint32_t width;                /* output width of the last layer added */
    uint32_t frames;               /* frames it emits over one sequence (same padding's zeros) */
    int32_t out_max;               /* its bound */
    uint32_t n_layers;
    bytes recs;                    /* records; slot offsets relative to the data section */
    bytes data;                    /* tensors, each 8-aligned */
    size_t overhead;
    int sparse;                    /* QRT_SPARSE_*: store matrices sparse where smaller */
    int has_sparse;                /* some matrix is: the blob is format version 2 */
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

qrt_status qrt_builder_new(qrt_builder **out, const qrt_builder_input *in)
{
    if (out == NULL)
        return QRT_ERR_ARG;
    *out = NULL;
    if (in == NULL || in->seq_len < 1 || in->seq_len > QRT_MAX_SEQ || in->n_features < 1 ||
        in->n_features > QRT_MAX_DIM || (in->mean == NULL) != (in->std == NULL))
        return QRT_ERR_ARG;
    if (in->in_max < 1 || in->in_max > QRT_ACT_MAX || !(in->in_scale > 0) || in->in_scale > 1e30)
        return QRT_ERR_RANGE;
    if (in->std)
        for (uint32_t i = 0; i < in->n_features; i++)
            if (!(in->std[i] > 0))
                return QRT_ERR_RANGE;
    qrt_builder *b = calloc(1, sizeof *b);
    if (b == NULL)
        return QRT_ERR_NOMEM;
    b->in = *in;
    if (in->mean) {
        b->mean = malloc(in->n_features * sizeof *b->mean);
        b->std = malloc(in->n_features * sizeof *b->std);
        if (b->mean == NULL || b->std == NULL) {
            qrt_builder_free(b);
            return QRT_ERR_NOMEM;
        }
        memcpy(b->mean, in->mean, in->n_features * sizeof *b->mean);
        memcpy(b->std, in->std, in->n_features * sizeof *b->std);
    }
    b->in.mean = b->mean;
    b->in.std = b->std;
    b->out_scale = 1.0;
    strcpy(b->generator, "qrt");
    b->width = in->n_features;
    b->frames = in->seq_len;
    *out = b;
    return QRT_OK;
}

void qrt_builder_free(qrt_builder *b)
{
    if (b == NULL)
        return;
    free(b->mean);
    free(b->std);
    free(b->recs.p);
    free(b->data.p);
    free(b);
}

qrt_status qrt_builder_set_output_scale(qrt_builder *b, double out_scale)
{
    if (b == NULL)
        return QRT_ERR_ARG;
    if (!(out_scale > 0) || out_scale > 1e30)
        return QRT_ERR_RANGE;
    b->out_scale = out_scale;
    return QRT_OK;
}

qrt_status qrt_builder_set_sparse(qrt_builder *b, int mode)
{
    if (b == NULL || mode < QRT_SPARSE_OFF || mode > QRT_SPARSE_FAST)
        return QRT_ERR_ARG;
    b->sparse = mode;
    return QRT_OK;
}

qrt_status qrt_builder_set_generator(qrt_builder *b, const char *generator)
{
    if (b == NULL || generator == NULL || strlen(generator) >= sizeof b->generator)
        return QRT_ERR_ARG;
    memset(b->generator, 0, sizeof b->generator);
    strcpy(b->generator, generator);
    return QRT_OK;
}

/* ---- packing and checks ---- */

size_t qrt_pack_rows(uint8_t *dst, const int8_t *levels, size_t rows, size_t cols, unsigned bits)
{
    unsigned c = qrt_container_bits(bits);
    if (dst == NULL || levels == NULL || c == 0 || rows == 0 || cols == 0)
        return 0;
    int lim = bits == 1 ? 1 : (1 << (bits - 1)) - 1;
    size_t rb = QRT_ROW_BYTES(cols, c);
    memset(dst, 0, rows * rb);
    for (size_t r = 0; r < rows; r++) {
        uint8_t *row = dst + r * rb;
        for (size_t i = 0; i < cols; i++) {
            int q = levels[r * cols + i];
            if (q > lim || q < -lim || (bits == 1 && q == 0))
                return 0;
            unsigned v = bits == 1 ? (q > 0 ? 1u : 0u) : ((unsigned)q & ((1u << c) - 1u));
            size_t bit = i * c;
            row[bit >> 3] |= (uint8_t)(v << (bit & 7u));
        }
    }
    return rows * rb;
}

int64_t qrt_l1_max(const int8_t *levels, size_t rows, size_t cols)
{
    if (levels == NULL)
        return 0;
    int64_t best = 0;
    for (size_t r = 0; r < rows; r++) {
        int64_t s = 0;
        for (size_t i = 0; i < cols; i++)
            s += levels[r * cols + i] < 0 ? -levels[r * cols + i] : levels[r * cols + i];
        if (s > best)
            best = s;
    }
    return best;
}

qrt_status qrt_check_accum(const int8_t *levels, size_t rows, size_t cols, const int32_t *bias,
                           int32_t amax)
{
    if (levels == NULL || amax < 0)
        return QRT_ERR_ARG;
    for (size_t r = 0; r < rows; r++) {
        int64_t s = 0;
        for (size_t i = 0; i < cols; i++)
            s += levels[r * cols + i] < 0 ? -levels[r * cols + i] : levels[r * cols + i];
        int64_t b = bias ? (bias[r] < 0 ? -(int64_t)bias[r] : bias[r]) : 0;
        if (s * amax + b > INT32_MAX)
            return QRT_ERR_RANGE;
    }
    return QRT_OK;
}

static qrt_status check_rq(const qrt_rq *rq, uint32_t n_rq, uint32_t n)
{
    if (rq == NULL || (n_rq != 1 && n_rq != n))
        return QRT_ERR_ARG;
    for (uint32_t i = 0; i < n_rq; i++)
        if (rq[i].shift < QRT_SHIFT_MIN || rq[i].shift > QRT_SHIFT_MAX)
            return QRT_ERR_RANGE;
    return QRT_OK;
}

static qrt_status check_offsets(const int32_t *o, uint32_t n)
{
    for (uint32_t i = 0; o && i < n; i++)
        if (o[i] <= -QRT_ACT_MAX || o[i] >= QRT_ACT_MAX)
            return QRT_ERR_RANGE;
    return QRT_OK;
}

static qrt_status check_w(const qrt_weights *w)
{
    if (w->levels == NULL)
        return QRT_ERR_ARG;
    if (qrt_container_bits(w->bits) == 0)
        return QRT_ERR_RANGE;
    return QRT_OK;
}

/* ---- appending ---- */

/* A layer under construction: the record and its slots, then the tensors in the data buffer.
 * On failure the builder's buffers are rolled back. */
typedef struct pending {
    qrt_builder *b;
    size_t recs_n, data_n;
    uint8_t rec[QRT_REC_SIZE + 6 * QRT_SLOT_SIZE];
    unsigned n_slots;
    qrt_status st;
} pending;

static void pend_begin(pending *p, qrt_builder *b, unsigned kind, uint32_t n_in, uint32_t n_out,
                       int32_t out_max)
{
    memset(p, 0, sizeof *p);
    p->b = b;
    p->recs_n = b->recs.n;
    p->data_n = b->data.n;
    p->n_slots = qrt_kind_slots(kind);
    put16(p->rec + 0, kind);
    put16(p->rec + 2, p->n_slots);
    put32(p->rec + 4, n_in);
    put32(p->rec + 8, n_out);
    put32(p->rec + 12, (uint32_t)out_max);
}

static void pend_conv(pending *p, uint32_t k, uint32_t s, uint32_t d, uint32_t flags)
{
    put16(p->rec + 16, k);
    put16(p->rec + 18, s);
    put16(p->rec + 20, d);
    put16(p->rec + 22, flags);
}

/* Same padding's zeros for a window of span frames, stride s, over `frames` input frames
 * (Keras: T_out = ⌈T/s⌉, total = max((T_out − 1)·s + span − T, 0), left ⌊total/2⌋). */
static void same_pads(uint32_t frames, uint32_t span, uint32_t s, uint32_t *left, uint32_t *right)
{
    uint64_t t_out = frames ? (frames - 1u) / s + 1u : 0u;
    uint64_t need = t_out ? (t_out - 1u) * s + span : 0u;
    uint32_t total = need > frames ? (uint32_t)(need - frames) : 0u;
    *left = total / 2u;
    *right = total - *left;
}

static void pend_pads(pending *p, uint32_t left, uint32_t right)
{
    put16(p->rec + 24, left);
    put16(p->rec + 26, right);
}

/* Append n bytes (8-aligned start) to the data section, return where they go (NULL: OOM). */
static uint8_t *pend_alloc(pending *p, unsigned slot, uint32_t type, size_t count, size_t n)
{
    bytes *d = &p->b->data;
    size_t pad = (8 - d->n % 8) % 8;
    if (p->st != QRT_OK)
        return NULL;
    if (count > QRT_MAX_COUNT) {
        p->st = QRT_ERR_RANGE;
        return NULL;
    }
    if (!bytes_reserve(d, pad + n)) {
        p->st = QRT_ERR_NOMEM;
        return NULL;
    }
    memset(d->p + d->n, 0, pad);
    d->n += pad;
    uint8_t *at = d->p + d->n;
    uint8_t *s = p->rec + QRT_REC_SIZE + slot * QRT_SLOT_SIZE;
    put32(s, QRT_SLOT_DESC(type, count));
    put32(s + 4, (uint32_t)d->n); /* relative to the data section until finish */
    d->n += n;
    return at;
}

static void pend_i32(pending *p, unsigned slot, const int32_t *v, size_t n)
{
    if (v == NULL)
        return;
    uint8_t *at = pend_alloc(p, slot, QRT_T_I32, n, 4 * n);
    for (size_t i = 0; at && i < n; i++)
        put32(at + 4 * i, (uint32_t)v[i]);
}

static void pend_rq(pending *p, unsigned slot, const qrt_rq *rq, size_t n)
{
    uint8_t *at = pend_alloc(p, slot, QRT_T_RQ, n, 8 * n);
    for (size_t i = 0; at && i < n; i++) {
        put32(at + 8 * i, (uint32_t)rq[i].mult);
        put32(at + 8 * i + 4, (uint32_t)rq[i].shift);
    }
}

static void pend_w(pending *p, unsigned slot, const qrt_weights *w, size_t rows, size_t cols)
{
    unsigned c = qrt_container_bits(w->bits);
    size_t n = rows * QRT_ROW_BYTES(cols, c), sn = 0;
    qrt_wenc enc = QRT_WENC_DENSE;
    if (p->b->sparse && p->st == QRT_OK) {
        enc = qrt_sparse_choose(w->levels, rows, cols, w->bits, &sn);
        if (enc == QRT_WENC_END) { /* a level off the grid */
            p->st = QRT_ERR_RANGE;
            return;
        }
        if (p->b->sparse == QRT_SPARSE_FAST && w->bits >= 2u) {
            /* run-length wherever it is smaller than dense: the fastest rows on a
             * Cortex-M0+ from 50 % zeros on (docs/sparse.md); never bitmap */
            sn = qrt_sparse_size(w->levels, rows, cols, QRT_WENC_RLE, w->bits);
            enc = sn > 0 && sn < n ? QRT_WENC_RLE : QRT_WENC_DENSE;
        }
        if (sn > QRT_MAX_COUNT) /* a sparse slot's count is its bytes */
            enc = QRT_WENC_DENSE;
    }
    if (enc != QRT_WENC_DENSE) {
        uint32_t type = enc == QRT_WENC_BITMAP ? QRT_T_WBM(w->bits) : QRT_T_WRLE(w->bits);
        size_t got = 0;
        uint8_t *at = pend_alloc(p, slot, type, sn, sn);
        if (at && qrt_sparse_encode(at, sn, &got, w->levels, rows, cols, enc, w->bits) != QRT_OK)
            p->st = QRT_ERR_RANGE;
        p->b->has_sparse = 1;
        return;
    }
    uint8_t *at = pend_alloc(p, slot, QRT_T_W(w->bits), rows * cols, n);
    if (at && qrt_pack_rows(at, w->levels, rows, cols, w->bits) != n)
        p->st = QRT_ERR_RANGE;
}

static qrt_status pend_end(pending *p, uint32_t n_out)
{
    qrt_builder *b = p->b;
    size_t n = QRT_REC_SIZE + p->n_slots * QRT_SLOT_SIZE;
    if (p->st == QRT_OK && !bytes_reserve(&b->recs, n))
        p->st = QRT_ERR_NOMEM;
    if (p->st != QRT_OK) {
        b->recs.n = p->recs_n;
        b->data.n = p->data_n;
        return p->st;
    }
    memcpy(b->recs.p + b->recs.n, p->rec, n);
    b->recs.n += n;
    b->n_layers++;
    b->width = n_out;
    b->out_max = (int32_t)((uint32_t)p->rec[12] | (uint32_t)p->rec[13] << 8 |
                           (uint32_t)p->rec[14] << 16 | (uint32_t)p->rec[15] << 24);
    return QRT_OK;
}

static qrt_status check_common(const qrt_builder *b, uint32_t n_in, uint32_t n_out, int32_t out_max)
{
    if (n_in == 0 || n_out == 0 || n_in > QRT_MAX_DIM || n_out > QRT_MAX_DIM)
        return QRT_ERR_ARG;
    if (n_in != b->width)
        return QRT_ERR_SHAPE;
    if (out_max < 1 || out_max > QRT_ACT_MAX)
        return QRT_ERR_RANGE;
    if (b->n_layers >= QRT_MAX_LAYERS)
        return QRT_ERR_RANGE;
    return QRT_OK;
}

static qrt_status add_linear(qrt_builder *b, unsigned kind, uint32_t n_in, uint32_t n_out,
                             uint32_t k, const qrt_weights *w, const int32_t *bias,
                             const qrt_rq *rq, uint32_t n_rq, const int32_t *offset,
                             int32_t out_max, uint32_t conv_k, uint32_t stride, uint32_t dil,
                             uint32_t pad)
{
    qrt_status st = check_common(b, n_in, n_out, out_max);
    if (st == QRT_OK)
        st = check_w(w);
    if (st == QRT_OK)
        st = check_rq(rq, n_rq, n_out);
    if (st == QRT_OK)
        st = check_offsets(offset, n_out);
    if (st != QRT_OK)
        return st;
    pending p;
    pend_begin(&p, b, kind, n_in, n_out, out_max);
    uint32_t frames = b->frames;
    if (kind == QRT_LAYER_CONV1D) {
        uint32_t span = (conv_k - 1u) * dil + 1u, left = 0, right = 0;
        pend_conv(&p, conv_k, stride, dil, pad);
        if (pad == QRT_PAD_SAME) {
            same_pads(frames, span, stride, &left, &right);
            pend_pads(&p, left, right);
        }
        frames = pad == QRT_PAD_VALID ? (frames < span ? 0u : (frames - span) / stride + 1u)
                                      : (frames ? (frames - 1u) / stride + 1u : 0u);
    }
    pend_w(&p, QRT_S_W, w, n_out, (size_t)k * n_in);
    pend_i32(&p, QRT_S_BIAS, bias, n_out);
    pend_rq(&p, QRT_S_RQ, rq, n_rq);
    pend_i32(&p, QRT_S_OFF, offset, n_out);
    st = pend_end(&p, n_out);
    if (st == QRT_OK)
        b->frames = frames;
    return st;
}

qrt_status qrt_builder_add_dense(qrt_builder *b, const qrt_builder_dense *p)
{
    if (b == NULL || p == NULL)
        return QRT_ERR_ARG;
    return add_linear(b, QRT_LAYER_DENSE, p->n_in, p->n_out, 1, &p->w, p->bias, p->rq, p->n_rq,
                      p->offset, p->out_max, 0, 0, 0, 0);
}

qrt_status qrt_builder_add_conv1d(qrt_builder *b, const qrt_builder_conv1d *p)
{
    if (b == NULL || p == NULL)
        return QRT_ERR_ARG;
    if (p->padding != QRT_PAD_VALID && p->padding != QRT_PAD_CAUSAL &&
        p->padding != QRT_PAD_SAME)
        return QRT_ERR_ARG;
    if (p->kernel < 1 || p->kernel > QRT_MAX_KERNEL || p->stride < 1 ||
        p->stride > QRT_MAX_KERNEL || p->dilation < 1 || p->dilation > QRT_MAX_KERNEL)
        return QRT_ERR_RANGE;
    return add_linear(b, QRT_LAYER_CONV1D, p->n_in, p->n_out, p->kernel, &p->w, p->bias, p->rq,
                      p->n_rq, p->offset, p->out_max, p->kernel, p->stride, p->dilation,
                      (uint32_t)p->padding);
}

qrt_status qrt_builder_add_batchnorm(qrt_builder *b, const qrt_builder_batchnorm *p)
{
    if (b == NULL || p == NULL)
        return QRT_ERR_ARG;
    qrt_status st = check_common(b, p->n, p->n, p->out_max);
    if (st == QRT_OK)
        st = check_rq(p->rq, p->n_rq, p->n);
    if (st == QRT_OK)
        st = check_offsets(p->offset, p->n);
    if (st != QRT_OK)
        return st;
    pending q;
    pend_begin(&q, b, QRT_LAYER_BATCHNORM, p->n, p->n, p->out_max);
    pend_rq(&q, QRT_S_BN_RQ, p->rq, p->n_rq);
    pend_i32(&q, QRT_S_BN_OFF, p->offset, p->n);
    return pend_end(&q, p->n);
}

qrt_status qrt_builder_add_relu(qrt_builder *b, uint32_t n, int32_t out_max)
{
    if (b == NULL)
        return QRT_ERR_ARG;
    qrt_status st = check_common(b, n, n, out_max);
    if (st != QRT_OK)
        return st;
    pending q;
    pend_begin(&q, b, QRT_LAYER_RELU, n, n, out_max);
    return pend_end(&q, n);
}

qrt_status qrt_builder_add_prelu(qrt_builder *b, const qrt_builder_prelu *p)
{
    if (b == NULL || p == NULL)
        return QRT_ERR_ARG;
    qrt_status st = check_common(b, p->n, p->n, p->out_max);
    if (st == QRT_OK)
        st = check_rq(p->rq, p->n_rq, p->n);
    if (st != QRT_OK)
        return st;
    pending q;
    pend_begin(&q, b, QRT_LAYER_PRELU, p->n, p->n, p->out_max);
    pend_rq(&q, QRT_S_PRELU_RQ, p->rq, p->n_rq);
    return pend_end(&q, p->n);
}

qrt_status qrt_builder_add_maxpool(qrt_builder *b, uint32_t n, uint32_t pool, uint32_t stride)
{
    if (b == NULL)
        return QRT_ERR_ARG;
    if (pool < 1 || pool > QRT_MAX_KERNEL || stride < 1 || stride > QRT_MAX_KERNEL)
        return QRT_ERR_RANGE;
    int32_t a = b->n_layers ? b->out_max : b->in.in_max; /* the maximum keeps the bound */
    qrt_status st = check_common(b, n, n, a);
    if (st != QRT_OK)
        return st;
    pending q;
    pend_begin(&q, b, QRT_LAYER_MAXPOOL, n, n, a);
    pend_conv(&q, pool, stride, 1, 0);
    st = pend_end(&q, n);
    if (st == QRT_OK)
        b->frames = b->frames < pool ? 0u : (b->frames - pool) / stride + 1u;
    return st;
}

qrt_status qrt_builder_add_act(qrt_builder *b, uint32_t n, int tanh_, qrt_rq rq)
{
    if (b == NULL)
        return QRT_ERR_ARG;
    qrt_status st = check_common(b, n, n, QRT_ONE_Q15);
    if (st == QRT_OK)
        st = check_rq(&rq, 1, n);
    if (st != QRT_OK)
        return st;
    pending q;
    pend_begin(&q, b, QRT_LAYER_ACT, n, n, QRT_ONE_Q15);
    pend_conv(&q, 0, 0, 0, tanh_ ? QRT_FLAG_ACT_TANH : 0);
    pend_rq(&q, QRT_S_ACT_RQ, &rq, 1);
    return pend_end(&q, n);
}

qrt_status qrt_builder_add_gru(qrt_builder *b, const qrt_builder_gru *p)
{
    if (b == NULL || p == NULL)
        return QRT_ERR_ARG;
    uint32_t h3 = 3 * p->units;
    qrt_status st = check_common(b, p->n_in, p->units, QRT_ONE_Q15);
    if (st == QRT_OK)
        st = check_w(&p->wi);
    if (st == QRT_OK)
        st = check_w(&p->wh);
    if (st == QRT_OK)
        st = check_rq(p->rq_i, p->n_rq_i, h3);
    if (st == QRT_OK)
        st = check_rq(p->rq_h, p->n_rq_h, h3);
    if (st != QRT_OK)
        return st;
    pending q;
    pend_begin(&q, b, QRT_LAYER_GRU, p->n_in, p->units, QRT_ONE_Q15);
    pend_conv(&q, 0, 0, 0, p->return_sequences ? QRT_FLAG_RETURN_SEQ : 0);
    pend_w(&q, QRT_S_GRU_WI, &p->wi, h3, p->n_in);
    pend_w(&q, QRT_S_GRU_WH, &p->wh, h3, p->units);
    pend_i32(&q, QRT_S_GRU_BI, p->bi, h3);
    pend_i32(&q, QRT_S_GRU_BH, p->bh, h3);
    pend_rq(&q, QRT_S_GRU_RQI, p->rq_i, p->n_rq_i);
    pend_rq(&q, QRT_S_GRU_RQH, p->rq_h, p->n_rq_h);
    return pend_end(&q, p->units);
}

/* ---- finishing ---- */

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static uint32_t f32_bits(double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

qrt_status qrt_builder_finish(qrt_builder *b, uint8_t **blob, size_t *len)
{
    if (blob)
        *blob = NULL;
    if (len)
        *len = 0;
    if (b == NULL || blob == NULL || len == NULL)
        return QRT_ERR_ARG;
    if (b->n_layers == 0)
        return QRT_ERR_SHAPE;
    uint32_t f = b->in.n_features;
    size_t layers_off = QRT_HEADER_SIZE, layers_size = b->recs.n;
    size_t data_off = align8(layers_off + layers_size), data_size = b->data.n;
    size_t host_off = align8(data_off + data_size);
    size_t host_size = QRT_HOST_SIZE + (b->mean ? 8u * f : 0u);
    size_t total = align8(host_off + host_size) + QRT_TRAILER_SIZE;
    if (total > 0xFFFFFFF0u)
        return QRT_ERR_RANGE;
    /* 8-aligned allocation (malloc's alignment is at least 8 on every host we build on,
     * but do not rely on it) */
    uint8_t *raw = NULL;
    void *mem = NULL;
#if defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200112L
    if (posix_memalign(&mem, 8, total) != 0)
        mem = NULL;
#else
    mem = malloc(total);
#endif
    raw = mem;
    if (raw == NULL)
        return QRT_ERR_NOMEM;
    memset(raw, 0, total);
    memcpy(raw, QRT_MAGIC, QRT_MAGIC_LEN);
    put32(raw + 8, b->has_sparse ? QRT_VERSION : QRT_VERSION_DENSE);
    put32(raw + 12, QRT_HEADER_SIZE);
    put32(raw + 16, (uint32_t)total);
    put32(raw + 20, 0);
    put32(raw + 24, b->n_layers);
    put32(raw + 28, (uint32_t)layers_off);
    put32(raw + 32, (uint32_t)layers_size);
    put32(raw + 36, (uint32_t)data_off);
    put32(raw + 40, (uint32_t)data_size);
    put32(raw + 44, (uint32_t)host_off);
    put32(raw + 48, (uint32_t)host_size);
    put32(raw + 52, b->in.seq_len);
    put32(raw + 56, f);
    put32(raw + 60, b->width);
    put32(raw + 64, (uint32_t)b->in.in_max);
    /* records, with slot offsets made absolute */
    memcpy(raw + layers_off, b->recs.p, layers_size);
    for (size_t pos = layers_off; pos < layers_off + layers_size;) {
        uint8_t *rec = raw + pos;
        unsigned ns = (unsigned)rec[2] | (unsigned)rec[3] << 8;
        for (unsigned k = 0; k < ns; k++) {
            uint8_t *s = rec + QRT_REC_SIZE + k * QRT_SLOT_SIZE;
            uint32_t desc = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                            (uint32_t)s[3] << 24;
            if (desc) {
                uint32_t rel = (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 |
                               (uint32_t)s[7] << 24;
                put32(s + 4, (uint32_t)(data_off + rel));
            }
        }
        pos += QRT_REC_SIZE + ns * QRT_SLOT_SIZE;
    }
    if (data_size)
        memcpy(raw + data_off, b->data.p, data_size);
    uint8_t *h = raw + host_off;
    put32(h + 0, f32_bits(b->in.in_scale));
    put32(h + 4, f32_bits(b->out_scale));
    put32(h + 8, b->mean ? QRT_HOST_STANDARDIZE : 0);
    memcpy(h + 16, b->generator, sizeof b->generator);
    for (uint32_t i = 0; b->mean && i < f; i++) {
        put32(h + QRT_HOST_SIZE + 4 * i, f32_bits(b->mean[i]));
        put32(h + QRT_HOST_SIZE + 4 * (f + i), f32_bits(b->std[i]));
    }
    put32(raw + total - 4, crc32_ieee(raw, total - 4));

    qrt_model m;
    qrt_status st = qrt_model_load(&m, raw, total);
    if (st != QRT_OK) {
        free(raw);
        return st;
    }
    b->overhead = total - data_size;
    *blob = raw;
    *len = total;
    return QRT_OK;
}

size_t qrt_builder_overhead(const qrt_builder *b)
{
    return b ? b->overhead : 0;
}

qrt_status qrt_builder_write_file(const uint8_t *blob, size_t len, const char *path)
{
    if (blob == NULL || path == NULL)
        return QRT_ERR_ARG;
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (tmp == NULL)
        return QRT_ERR_NOMEM;
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    FILE *fp = fopen(tmp, "wb");
    int ok = fp != NULL;
    if (ok)
        ok = fwrite(blob, 1, len, fp) == len;
    if (fp && fclose(fp) != 0)
        ok = 0;
    if (ok)
        ok = rename(tmp, path) == 0;
    if (!ok)
        remove(tmp);
    free(tmp);
    return ok ? QRT_OK : QRT_ERR_IO;
}
