/* qrt — loading and validating a .qrt blob (docs/format.md, "Integer model (.qrt)").
 * Every read is preceded by a bounds check against the blob length; structs are read in place
 * only after the alignment and byte-order checks. Nothing here allocates. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "qrt.h"
#include "qrt_format.h"

const char *qrt_strerror(qrt_status s)
{
    switch (s) {
    case QRT_OK: return "ok";
    case QRT_ERR_ARG: return "invalid argument";
    case QRT_ERR_TRUNCATED: return "blob truncated";
    case QRT_ERR_MAGIC: return "not a qrt blob (bad magic)";
    case QRT_ERR_VERSION: return "unsupported qrt format version";
    case QRT_ERR_CRC: return "checksum mismatch (corrupted blob)";
    case QRT_ERR_FORMAT: return "malformed blob field";
    case QRT_ERR_BOUNDS: return "offset or length out of bounds";
    case QRT_ERR_SHAPE: return "inconsistent dimensions";
    case QRT_ERR_RANGE: return "value out of range";
    case QRT_ERR_ALIGN: return "misaligned blob or scratch";
    case QRT_ERR_SCRATCH: return "scratch buffer too small";
    case QRT_ERR_NOT_READY: return "no output yet";
    case QRT_ERR_UNSUPPORTED: return "unsupported by this runtime build";
    case QRT_ERR_NOMEM: return "out of memory";
    case QRT_ERR_IO: return "I/O error";
    }
    return "unknown error";
}

/* CRC-32 (IEEE, reflected 0xEDB88320, as zlib), bitwise: no table in flash; runs once per load. */
static uint32_t crc32_bytes(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (n--) {
        crc ^= *p++;
        for (unsigned k = 0; k < 8u; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* a / b for b ≥ 1 by shift and subtract (ARMv6-M has no divide instruction). */
static uint32_t udiv32(uint32_t a, uint32_t b)
{
    uint32_t q = 0;
    for (int k = 31; k >= 0; k--)
        if ((a >> k) >= b) {
            a -= b << k;
            q |= 1u << k;
        }
    return q;
}

/* [off, off + size) is a multiple-of-8 offset inside [lo, hi). */
static qrt_status check_span(uint32_t off, uint32_t size, uint32_t lo, uint32_t hi)
{
    if (off & 7u)
        return QRT_ERR_ALIGN;
    if (off < lo || off > hi || size > hi - off)
        return QRT_ERR_BOUNDS;
    return QRT_OK;
}

/* Validation context: the walk over the layers. */
typedef struct vctx {
    const uint8_t *blob;
    uint32_t data_lo, data_hi;     /* the data section */
    uint32_t width;                /* values per frame entering the current layer */
    int32_t amax;                  /* their bound */
    uint32_t frames;               /* frames reaching the current layer over one sequence */
    int head;                      /* past the last-state GRU */
    uint64_t state;                /* scratch words: stream state */
    uint32_t buf, aux;             /* ... a ping-pong buffer, the aux buffer */
} vctx;

/* A tensor slot: type, count and placement. `need` = expected element count; count_alt a
 * second accepted count (requant: 1 or per channel), 0 if none. */
static qrt_status check_slot(const vctx *v, const qrt_slot *s, uint32_t type, uint32_t need,
                             uint32_t count_alt, int optional, uint32_t bytes_per)
{
    if (s->desc == 0u && s->offset == 0u)
        return optional ? QRT_OK : QRT_ERR_FORMAT;
    uint32_t count = QRT_SLOT_COUNT(s->desc);
    if (QRT_SLOT_TYPE(s->desc) != type)
        return QRT_ERR_FORMAT;
    if (count != need && (count_alt == 0u || count != count_alt))
        return QRT_ERR_SHAPE;
    uint64_t bytes = (uint64_t)count * bytes_per;
    if (bytes > 0xFFFFFFFFu)
        return QRT_ERR_BOUNDS;
    return check_span(s->offset, (uint32_t)bytes, v->data_lo, v->data_hi);
}

/* Requant pairs: the shift in range. */
static qrt_status check_rq(const vctx *v, const qrt_slot *s)
{
    const qrt_rq *q = (const qrt_rq *)(const void *)(v->blob + s->offset);
    for (uint32_t i = 0; i < QRT_SLOT_COUNT(s->desc); i++)
        if (q[i].shift < QRT_SHIFT_MIN || q[i].shift > QRT_SHIFT_MAX)
            return QRT_ERR_RANGE;
    return QRT_OK;
}

/* Offsets added after requantization: |o| < 2^30. */
static qrt_status check_off(const vctx *v, const qrt_slot *s)
{
    if (s->desc == 0u)
        return QRT_OK;
    const int32_t *o = (const int32_t *)(const void *)(v->blob + s->offset);
    for (uint32_t i = 0; i < QRT_SLOT_COUNT(s->desc); i++)
        if (o[i] <= -QRT_ACT_MAX || o[i] >= QRT_ACT_MAX)
            return QRT_ERR_RANGE;
    return QRT_OK;
}

/* A weight matrix (rows, cols) at the slot's bit-width with an optional bias slot: the slot
 * itself, every level on its grid (|level| ≤ 2^(N−1) − 1, ±1 for N = 1), zero padding bits,
 * and the accumulator bound Σ_i |w_i|·amax + |b| ≤ 2^31 − 1 for every row. */
static qrt_status check_weights(const vctx *v, const qrt_slot *ws, const qrt_slot *bs,
                                uint32_t rows, uint32_t cols, int32_t amax)
{
    unsigned bits = QRT_SLOT_TYPE(ws->desc);
    unsigned c = qrt_container_bits(bits);
    if (ws->desc == 0u || c == 0u)
        return QRT_ERR_FORMAT;
    if (qrt_dot_for(c) == NULL)
        return QRT_ERR_UNSUPPORTED;
    if (QRT_SLOT_COUNT(ws->desc) != (uint64_t)rows * cols)
        return QRT_ERR_SHAPE;
    uint64_t rb = QRT_ROW_BYTES(cols, c);
    uint64_t bytes = rb * rows;
    if (bytes > 0xFFFFFFFFu)
        return QRT_ERR_BOUNDS;
    qrt_status st = check_span(ws->offset, (uint32_t)bytes, v->data_lo, v->data_hi);
    if (st != QRT_OK)
        return st;
    st = check_slot(v, bs, QRT_T_I32, rows, 0u, 1, 4u);
    if (st != QRT_OK)
        return st;
    const int32_t *bias = bs->desc ? (const int32_t *)(const void *)(v->blob + bs->offset) : NULL;
    int32_t lim = bits == 1u ? 1 : (int32_t)(1u << (bits - 1u)) - 1;
    const uint8_t *row = v->blob + ws->offset;
    for (uint32_t r = 0; r < rows; r++, row += rb) {
        uint64_t l1 = 0;
        for (uint32_t i = 0; i < cols; i++) {
            int32_t q = qrt_unpack_level(row, i, c);
            if (q > lim || q < -lim)
                return QRT_ERR_RANGE;
            l1 += (uint64_t)(q < 0 ? -q : q);
        }
        uint32_t used = (uint32_t)(((uint64_t)cols * c) & 7u);
        if (used && (row[rb - 1u] >> used) != 0u)
            return QRT_ERR_RANGE;
        uint64_t b = 0;
        if (bias)
            b = bias[r] < 0 ? (uint64_t)0 - (uint64_t)(int64_t)bias[r] : (uint64_t)bias[r];
        if (l1 * (uint64_t)amax + b > (uint64_t)INT32_MAX)
            return QRT_ERR_RANGE;
    }
    return QRT_OK;
}

static uint32_t umax(uint32_t a, uint32_t b) { return a > b ? a : b; }

static qrt_status check_layer(vctx *v, const qrt_layer_rec *r, uint32_t index, uint32_t *split)
{
    const qrt_slot *s = qrt_rec_slots(r);
    uint32_t n_in = r->n_in, n_out = r->n_out;
    qrt_status st;

    if (r->reserved[0] || r->reserved[1])
        return QRT_ERR_FORMAT;
    if (r->kind != QRT_LAYER_CONV1D && (r->kernel || r->stride || r->dilation))
        return QRT_ERR_FORMAT;
    if (r->kind != QRT_LAYER_CONV1D && r->kind != QRT_LAYER_GRU && r->flags)
        return QRT_ERR_FORMAT;
    if (n_in == 0u || n_in > QRT_MAX_DIM || n_out == 0u || n_out > QRT_MAX_DIM)
        return QRT_ERR_SHAPE;
    if (n_in != v->width)
        return QRT_ERR_SHAPE;
    if (r->out_max < 1 || r->out_max > QRT_ACT_MAX)
        return QRT_ERR_RANGE;

    switch (r->kind) {
    case QRT_LAYER_DENSE:
    case QRT_LAYER_CONV1D: {
        uint32_t k = 1u;
        if (r->kind == QRT_LAYER_CONV1D) {
            k = r->kernel;
            uint32_t pad = r->flags & QRT_FLAG_PAD_MASK;
            if (v->head)
                return QRT_ERR_FORMAT;
            if ((r->flags & ~QRT_FLAG_PAD_MASK) || (pad != QRT_PAD_VALID && pad != QRT_PAD_CAUSAL))
                return QRT_ERR_FORMAT;
            if (k < 1u || k > QRT_MAX_KERNEL || r->stride < 1u || r->stride > QRT_MAX_KERNEL ||
                r->dilation < 1u || r->dilation > QRT_MAX_KERNEL)
                return QRT_ERR_RANGE;
            uint32_t span = (k - 1u) * r->dilation + 1u;
            /* frames out over one sequence */
            if (pad == QRT_PAD_VALID)
                v->frames = v->frames < span ? 0u : udiv32(v->frames - span, r->stride) + 1u;
            else
                v->frames = udiv32(v->frames - 1u, r->stride) + 1u;
            if (v->frames == 0u)
                return QRT_ERR_SHAPE;
            v->state += 1u + (uint64_t)span * n_in;
            if (r->dilation > 1u)
                v->aux = umax(v->aux, k * n_in);
        }
        st = check_weights(v, &s[QRT_S_W], &s[QRT_S_BIAS], n_out, k * n_in, v->amax);
        if (st == QRT_OK)
            st = check_slot(v, &s[QRT_S_RQ], QRT_T_RQ, n_out, 1u, 0, 8u);
        if (st == QRT_OK)
            st = check_rq(v, &s[QRT_S_RQ]);
        if (st == QRT_OK)
            st = check_slot(v, &s[QRT_S_OFF], QRT_T_I32, n_out, 0u, 1, 4u);
        if (st == QRT_OK)
            st = check_off(v, &s[QRT_S_OFF]);
        break;
    }
    case QRT_LAYER_BATCHNORM:
        if (n_out != n_in)
            return QRT_ERR_SHAPE;
        st = check_slot(v, &s[QRT_S_BN_RQ], QRT_T_RQ, n_out, 1u, 0, 8u);
        if (st == QRT_OK)
            st = check_rq(v, &s[QRT_S_BN_RQ]);
        if (st == QRT_OK)
            st = check_slot(v, &s[QRT_S_BN_OFF], QRT_T_I32, n_out, 0u, 1, 4u);
        if (st == QRT_OK)
            st = check_off(v, &s[QRT_S_BN_OFF]);
        break;
    case QRT_LAYER_RELU:
        st = n_out == n_in ? QRT_OK : QRT_ERR_SHAPE;
        break;
    case QRT_LAYER_PRELU:
        if (n_out != n_in)
            return QRT_ERR_SHAPE;
        st = check_slot(v, &s[QRT_S_PRELU_RQ], QRT_T_RQ, n_out, 1u, 0, 8u);
        if (st == QRT_OK)
            st = check_rq(v, &s[QRT_S_PRELU_RQ]);
        break;
    case QRT_LAYER_GRU: {
        uint32_t h3 = 3u * n_out;
        if (v->head)
            return QRT_ERR_FORMAT;
        if (r->flags & ~QRT_FLAG_RETURN_SEQ)
            return QRT_ERR_FORMAT;
        if (r->out_max != QRT_ONE_Q15)
            return QRT_ERR_RANGE;
        st = check_weights(v, &s[QRT_S_GRU_WI], &s[QRT_S_GRU_BI], h3, n_in, v->amax);
        if (st == QRT_OK)
            st = check_weights(v, &s[QRT_S_GRU_WH], &s[QRT_S_GRU_BH], h3, n_out, QRT_ONE_Q15);
        if (st == QRT_OK)
            st = check_slot(v, &s[QRT_S_GRU_RQI], QRT_T_RQ, h3, 1u, 0, 8u);
        if (st == QRT_OK)
            st = check_rq(v, &s[QRT_S_GRU_RQI]);
        if (st == QRT_OK)
            st = check_slot(v, &s[QRT_S_GRU_RQH], QRT_T_RQ, h3, 1u, 0, 8u);
        if (st == QRT_OK)
            st = check_rq(v, &s[QRT_S_GRU_RQH]);
        v->state += n_out;
        v->aux = umax(v->aux, n_out);
        if (!(r->flags & QRT_FLAG_RETURN_SEQ)) {
            v->head = 1;
            *split = index + 1u;
        }
        break;
    }
    default:
        return QRT_ERR_FORMAT;
    }
    if (st != QRT_OK)
        return st;
    v->width = n_out;
    v->amax = r->out_max;
    v->buf = umax(v->buf, n_out);
    return QRT_OK;
}

static qrt_status load(qrt_model *m, const uint8_t *b, size_t len)
{
    const uint32_t one = 1u;
    if (*(const uint8_t *)&one != 1u)
        return QRT_ERR_UNSUPPORTED; /* the format is little-endian, read in place */
    if ((uintptr_t)b & 7u)
        return QRT_ERR_ALIGN;
    if (len < QRT_HEADER_SIZE + QRT_TRAILER_SIZE)
        return QRT_ERR_TRUNCATED;
    const qrt_header *h = (const qrt_header *)(const void *)b;
    if (memcmp(h->magic, QRT_MAGIC, QRT_MAGIC_LEN) != 0)
        return QRT_ERR_MAGIC;
    if (h->version != QRT_VERSION)
        return QRT_ERR_VERSION;
    if (h->header_size != QRT_HEADER_SIZE)
        return QRT_ERR_FORMAT;
    if (h->total_size > len)
        return QRT_ERR_TRUNCATED;
    if (h->total_size != len || (len & 7u) || len > 0xFFFFFFFFu)
        return QRT_ERR_FORMAT;
    if (crc32_bytes(b, len - 4u) != rd32(b + len - 4u))
        return QRT_ERR_CRC;
    if (rd32(b + len - 8u) != 0u || h->flags != 0u)
        return QRT_ERR_FORMAT;
    for (unsigned i = 0; i < 7u; i++)
        if (h->reserved[i])
            return QRT_ERR_FORMAT;

    uint32_t end = (uint32_t)len - QRT_TRAILER_SIZE;
    qrt_status st = check_span(h->layers_off, h->layers_size, QRT_HEADER_SIZE, end);
    if (st != QRT_OK)
        return st;
    st = check_span(h->data_off, h->data_size, h->layers_off + h->layers_size, end);
    if (st != QRT_OK)
        return st;
    if (h->host_size == 0u) {
        if (h->host_off != 0u)
            return QRT_ERR_FORMAT;
    } else {
        st = check_span(h->host_off, h->host_size, h->data_off + h->data_size, end);
        if (st != QRT_OK)
            return st;
    }

    if (h->n_layers < 1u || h->n_layers > QRT_MAX_LAYERS)
        return QRT_ERR_RANGE;
    if (h->seq_len < 1u || h->seq_len > QRT_MAX_SEQ || h->n_features < 1u ||
        h->n_features > QRT_MAX_DIM || h->n_outputs < 1u || h->n_outputs > QRT_MAX_DIM)
        return QRT_ERR_SHAPE;
    if (h->in_max < 1 || h->in_max > QRT_ACT_MAX)
        return QRT_ERR_RANGE;

    if (h->host_size != 0u) {
        const qrt_host_info *hi = (const qrt_host_info *)(const void *)(b + h->host_off);
        if (h->host_size < QRT_HOST_SIZE)
            return QRT_ERR_BOUNDS;
        if ((hi->flags & ~QRT_HOST_STANDARDIZE) || hi->reserved ||
            hi->generator[sizeof hi->generator - 1u] != 0)
            return QRT_ERR_FORMAT;
        uint32_t want = QRT_HOST_SIZE + ((hi->flags & QRT_HOST_STANDARDIZE) ? 8u * h->n_features : 0u);
        if (h->host_size != want)
            return QRT_ERR_FORMAT;
    }

    vctx v;
    memset(&v, 0, sizeof v);
    v.blob = b;
    v.data_lo = h->data_off;
    v.data_hi = h->data_off + h->data_size;
    v.width = h->n_features;
    v.amax = h->in_max;
    v.frames = h->seq_len;
    v.buf = h->n_features;
    uint32_t split = h->n_layers;
    uint32_t pos = h->layers_off, lend = h->layers_off + h->layers_size;
    for (uint32_t i = 0; i < h->n_layers; i++) {
        if (lend - pos < QRT_REC_SIZE)
            return QRT_ERR_BOUNDS;
        const qrt_layer_rec *r = (const qrt_layer_rec *)(const void *)(b + pos);
        if (r->kind < QRT_LAYER_DENSE || r->kind >= QRT_LAYER_KIND_END ||
            r->n_slots != qrt_kind_slots(r->kind))
            return QRT_ERR_FORMAT;
        if (lend - pos < qrt_rec_size(r))
            return QRT_ERR_BOUNDS;
        st = check_layer(&v, r, i, &split);
        if (st != QRT_OK)
            return st;
        pos += (uint32_t)qrt_rec_size(r);
    }
    if (pos != lend)
        return QRT_ERR_FORMAT;
    if (v.width != h->n_outputs)
        return QRT_ERR_SHAPE;
    if (split == h->n_layers)
        v.state += h->n_outputs; /* the last output, kept for qrt_stream_logits */
    if (v.state + 2u * (uint64_t)v.buf + v.aux > 0x0FFFFFFFu)
        return QRT_ERR_RANGE; /* scratch of 1 GiB or more: not a microcontroller model */

    m->blob = b;
    m->size = (uint32_t)len;
    m->n_layers = h->n_layers;
    m->layers_off = h->layers_off;
    m->split = split;
    m->seq_len = h->seq_len;
    m->n_features = h->n_features;
    m->n_outputs = h->n_outputs;
    m->in_max = h->in_max;
    m->state_words = (uint32_t)v.state;
    m->buf_words = v.buf;
    m->aux_words = v.aux;
    return QRT_OK;
}

qrt_status qrt_model_load(qrt_model *m, const void *blob, size_t len)
{
    if (m == NULL)
        return QRT_ERR_ARG;
    memset(m, 0, sizeof *m);
    if (blob == NULL)
        return QRT_ERR_ARG;
    qrt_status st = load(m, (const uint8_t *)blob, len);
    if (st != QRT_OK)
        memset(m, 0, sizeof *m);
    return st;
}

size_t qrt_scratch_size(const qrt_model *m)
{
    if (m == NULL || m->blob == NULL)
        return 0;
    return 4u * ((size_t)m->state_words + 2u * (size_t)m->buf_words + (size_t)m->aux_words);
}
