/* qrt — loading and validating a .qrt blob (docs/format.md, "Integer model (.qrt)").
 * Every read is preceded by a bounds check against the blob length; structs are read in place
 * only after the alignment and byte-order checks. Nothing here allocates, and nothing needs
 * 64-bit arithmetic or libc (no libgcc helpers on ARMv6-M besides none at all). */
#include <stdint.h>
#include <stddef.h>
#include "qrt.h"
#include "qrt_format.h"
#include "qrt_sparse.h"

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

/* a · b if it is at most QRT_MAX_COUNT, else QRT_MAX_COUNT + 1 (a, b ≥ 1). */
static uint32_t count_mul(uint32_t a, uint32_t b)
{
    return a <= qrt_udiv32(QRT_MAX_COUNT, b) ? a * b : QRT_MAX_COUNT + 1u;
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
    uint32_t state, buf, aux;      /* scratch words: stream state, a ping-pong buffer, aux */
    uint32_t version;              /* the blob's format version: sparse slots need 2 */
} vctx;

static const void *at(const vctx *v, const qrt_slot *s)
{
    return v->blob + s->offset;
}

/* A vector slot: int32 (QRT_T_I32) or requant pairs (QRT_T_RQ). n elements; requant pairs
 * also accept 1 (per tensor). Absent: allowed for optional slots. Checks the values: requant
 * shifts in [QRT_SHIFT_MIN, QRT_SHIFT_MAX]; with `lim`, |int32| < lim. */
static qrt_status check_vec(const vctx *v, const qrt_slot *s, uint32_t type, uint32_t n,
                            int optional, int32_t lim)
{
    if (s->desc == 0u && s->offset == 0u)
        return optional ? QRT_OK : QRT_ERR_FORMAT;
    uint32_t count = QRT_SLOT_COUNT(s->desc);
    if (QRT_SLOT_TYPE(s->desc) != type)
        return QRT_ERR_FORMAT;
    if (count != n && !(type == QRT_T_RQ && count == 1u))
        return QRT_ERR_SHAPE;
    qrt_status st = check_span(s->offset, count * (type == QRT_T_RQ ? 8u : 4u), v->data_lo,
                               v->data_hi);
    if (st != QRT_OK)
        return st;
    const int32_t *p = (const int32_t *)at(v, s);
    for (uint32_t i = 0; i < count; i++) {
        if (type == QRT_T_RQ) {
            int32_t sh = p[2u * i + 1u];
            if (sh < QRT_SHIFT_MIN || sh > QRT_SHIFT_MAX)
                return QRT_ERR_RANGE;
        } else if (lim && (p[i] <= -lim || p[i] >= lim)) {
            return QRT_ERR_RANGE;
        }
    }
    return QRT_OK;
}

/* A weight matrix (rows, cols) with an optional bias slot: the slots, every level on its grid
 * (|level| ≤ 2^(N−1) − 1, ±1 for N = 1), zero padding bits, and the accumulator bound
 * Σ_i |w_i|·amax + |b| ≤ 2^31 − 1 for every row. */
static qrt_status check_weights(const vctx *v, const qrt_slot *ws, const qrt_slot *bs,
                                uint32_t rows, uint32_t cols, int32_t amax)
{
    unsigned bits = QRT_SLOT_TYPE(ws->desc);
    if (QRT_T_IS_SPARSE(bits)) { /* version 2: a bitmap or run-length encoded matrix */
        if (v->version < 2u)
            return QRT_ERR_FORMAT;
#if !QRT_ENABLE_SPARSE
        return QRT_ERR_UNSUPPORTED;
#else
        uint32_t n = QRT_SLOT_COUNT(ws->desc); /* bytes */
        qrt_status st = check_span(ws->offset, n, v->data_lo, v->data_hi);
        if (st == QRT_OK)
            st = check_vec(v, bs, QRT_T_I32, rows, 1, 0);
        if (st != QRT_OK)
            return st;
        return qrt_sparse_check((const uint8_t *)at(v, ws), n, QRT_T_WENC(bits),
                                QRT_T_WBITS(bits), rows, cols,
                                bs->desc ? (const int32_t *)at(v, bs) : NULL, amax);
#endif
    }
    unsigned c = qrt_container_bits(bits);
    if (ws->desc == 0u || c == 0u)
        return QRT_ERR_FORMAT;
    if (qrt_dot_for(c) == NULL)
        return QRT_ERR_UNSUPPORTED;
    if (QRT_SLOT_COUNT(ws->desc) != count_mul(rows, cols))
        return QRT_ERR_SHAPE;
    uint32_t rb = (uint32_t)QRT_ROW_BYTES(cols, c); /* rows · rb ≤ rows · cols < 2^24 */
    qrt_status st = check_span(ws->offset, rows * rb, v->data_lo, v->data_hi);
    if (st == QRT_OK)
        st = check_vec(v, bs, QRT_T_I32, rows, 1, 0);
    if (st != QRT_OK)
        return st;
    const int32_t *bias = bs->desc ? (const int32_t *)at(v, bs) : NULL;
    int32_t lim = bits == 1u ? 1 : (int32_t)(1u << (bits - 1u)) - 1;
    uint32_t used = (cols * c) & 7u; /* bits used in a row's last byte (0: all) */
    const uint8_t *row = (const uint8_t *)at(v, ws);
    for (uint32_t r = 0; r < rows; r++, row += rb) {
        uint32_t l1 = 0; /* ≤ cols · 127 < 2^31 */
        for (uint32_t i = 0; i < cols; i++) {
            int32_t q = qrt_unpack_level(row, i, c);
            if (q > lim || q < -lim)
                return QRT_ERR_RANGE;
            l1 += (uint32_t)(q < 0 ? -q : q);
        }
        if (used && (row[rb - 1u] >> used) != 0u)
            return QRT_ERR_RANGE;
        uint32_t b = 0;
        if (bias)
            b = bias[r] < 0 ? 0u - (uint32_t)bias[r] : (uint32_t)bias[r];
        if (b > (uint32_t)INT32_MAX || l1 > qrt_udiv32((uint32_t)INT32_MAX - b, (uint32_t)amax))
            return QRT_ERR_RANGE;
    }
    return QRT_OK;
}

static uint32_t umax(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* Max pooling: a window of `kernel` frames like a valid convolution's, no tensors; its output
 * keeps the input's bound (the maximum of values bounded by A). */
static qrt_status check_maxpool(vctx *v, const qrt_layer_rec *r)
{
    uint32_t k = r->kernel;
    if (r->n_out != r->n_in)
        return QRT_ERR_SHAPE;
    if (k < 1u || k > QRT_MAX_KERNEL || r->stride < 1u || r->stride > QRT_MAX_KERNEL ||
        r->dilation != 1u || r->out_max != v->amax)
        return QRT_ERR_RANGE;
    uint32_t win = count_mul(k, r->n_in);
    if (win > QRT_MAX_COUNT)
        return QRT_ERR_RANGE;
    v->frames = v->frames < k ? 0u : qrt_udiv32(v->frames - k, r->stride) + 1u;
    if (v->frames == 0u)
        return QRT_ERR_SHAPE;
    v->state += 1u + win;
    return QRT_OK;
}

/* Sigmoid/tanh: one requantization to Q16, a Q15 output. */
static qrt_status check_act(const vctx *v, const qrt_layer_rec *r)
{
    if (r->n_out != r->n_in)
        return QRT_ERR_SHAPE;
    if (r->out_max != QRT_ONE_Q15)
        return QRT_ERR_RANGE;
    return check_vec(v, &qrt_rec_slots(r)[QRT_S_ACT_RQ], QRT_T_RQ, 1u, 0, 0);
}

static qrt_status check_layer(vctx *v, const qrt_layer_rec *r, uint32_t index, uint32_t *split)
{
    const qrt_slot *s = qrt_rec_slots(r);
    uint32_t n_in = r->n_in, n_out = r->n_out, kind = r->kind;
    qrt_status st;

    int windowed = kind == QRT_LAYER_CONV1D || kind == QRT_LAYER_MAXPOOL;
    uint32_t flag_ok = kind == QRT_LAYER_CONV1D ? QRT_FLAG_PAD_MASK
                     : kind == QRT_LAYER_GRU ? QRT_FLAG_RETURN_SEQ
                     : kind == QRT_LAYER_ACT ? QRT_FLAG_ACT_TANH : 0u;
    if (r->reserved || (r->flags & ~flag_ok))
        return QRT_ERR_FORMAT;
    if (!windowed && (r->kernel || r->stride || r->dilation))
        return QRT_ERR_FORMAT;
    if ((r->pad_left || r->pad_right) &&
        !(kind == QRT_LAYER_CONV1D && (r->flags & QRT_FLAG_PAD_MASK) == QRT_PAD_SAME))
        return QRT_ERR_FORMAT;
    if ((windowed || kind == QRT_LAYER_GRU) && v->head)
        return QRT_ERR_FORMAT; /* only dense and element-wise layers after a last-state GRU */
    if (n_in == 0u || n_in > QRT_MAX_DIM || n_out == 0u || n_out > QRT_MAX_DIM || n_in != v->width)
        return QRT_ERR_SHAPE;
    if (r->out_max < 1 || r->out_max > QRT_ACT_MAX)
        return QRT_ERR_RANGE;

    /* the newer kinds in functions of their own, not cases: a switch this long becomes a
     * jump table, which needs a libgcc helper on ARMv6-M */
    if (kind == QRT_LAYER_MAXPOOL || kind == QRT_LAYER_ACT) {
        st = kind == QRT_LAYER_MAXPOOL ? check_maxpool(v, r) : check_act(v, r);
        if (st != QRT_OK)
            return st;
        v->width = n_out;
        v->amax = r->out_max;
        v->buf = umax(v->buf, n_out);
        return QRT_OK;
    }
    switch (kind) {
    case QRT_LAYER_DENSE:
    case QRT_LAYER_CONV1D: {
        uint32_t k = 1u;
        if (kind == QRT_LAYER_CONV1D) {
            uint32_t pad = r->flags & QRT_FLAG_PAD_MASK;
            k = r->kernel;
            if (pad == 3u)
                return QRT_ERR_FORMAT;
            if (k < 1u || k > QRT_MAX_KERNEL || r->stride < 1u || r->stride > QRT_MAX_KERNEL ||
                r->dilation < 1u || r->dilation > QRT_MAX_KERNEL)
                return QRT_ERR_RANGE;
            uint32_t span = (k - 1u) * r->dilation + 1u;
            uint32_t win = count_mul(span, n_in);
            if (win > QRT_MAX_COUNT)
                return QRT_ERR_RANGE;
            if (pad == QRT_PAD_SAME) {
                /* exactly Keras' zeros for this layer's frames: T_out = ⌈T/s⌉, total =
                 * max((T_out − 1)·s + span − T, 0), left ⌊total/2⌋ */
                uint32_t t_out = qrt_udiv32(v->frames - 1u, r->stride) + 1u;
                uint32_t need = (t_out - 1u) * r->stride + span; /* ≤ 2^28 */
                uint32_t total = need > v->frames ? need - v->frames : 0u;
                if ((uint32_t)r->pad_left + r->pad_right != total || r->pad_left != total / 2u)
                    return QRT_ERR_FORMAT;
                v->frames = t_out;
            } else if (pad == QRT_PAD_VALID) { /* frames out over one sequence */
                v->frames = v->frames < span ? 0u : qrt_udiv32(v->frames - span, r->stride) + 1u;
            } else {
                v->frames = qrt_udiv32(v->frames - 1u, r->stride) + 1u;
            }
            if (v->frames == 0u)
                return QRT_ERR_SHAPE;
            v->state += 1u + win;
            if (r->dilation > 1u)
                v->aux = umax(v->aux, k * n_in);
        }
        st = check_weights(v, &s[QRT_S_W], &s[QRT_S_BIAS], n_out, k * n_in, v->amax);
        if (st == QRT_OK)
            st = check_vec(v, &s[QRT_S_RQ], QRT_T_RQ, n_out, 0, 0);
        if (st == QRT_OK)
            st = check_vec(v, &s[QRT_S_OFF], QRT_T_I32, n_out, 1, QRT_ACT_MAX);
        break;
    }
    case QRT_LAYER_BATCHNORM:
    case QRT_LAYER_RELU:
    case QRT_LAYER_PRELU:
        if (n_out != n_in)
            return QRT_ERR_SHAPE;
        st = QRT_OK;
        if (kind != QRT_LAYER_RELU) /* slot 0: the scale (batchnorm) or slope (prelu) */
            st = check_vec(v, &s[0], QRT_T_RQ, n_out, 0, 0);
        if (st == QRT_OK && kind == QRT_LAYER_BATCHNORM)
            st = check_vec(v, &s[QRT_S_BN_OFF], QRT_T_I32, n_out, 1, QRT_ACT_MAX);
        break;
    case QRT_LAYER_GRU: {
        uint32_t h3 = 3u * n_out;
        if (r->out_max != QRT_ONE_Q15)
            return QRT_ERR_RANGE;
        st = check_weights(v, &s[QRT_S_GRU_WI], &s[QRT_S_GRU_BI], h3, n_in, v->amax);
        if (st == QRT_OK)
            st = check_weights(v, &s[QRT_S_GRU_WH], &s[QRT_S_GRU_BH], h3, n_out, QRT_ONE_Q15);
        if (st == QRT_OK)
            st = check_vec(v, &s[QRT_S_GRU_RQI], QRT_T_RQ, h3, 0, 0);
        if (st == QRT_OK)
            st = check_vec(v, &s[QRT_S_GRU_RQH], QRT_T_RQ, h3, 0, 0);
        v->state += n_out;
        /* a dense GRU goes unit by unit (new state in a free ping-pong buffer); sparse rows
         * are walked in order, into 4H pre-activations */
        if (QRT_T_IS_SPARSE(QRT_SLOT_TYPE(s[QRT_S_GRU_WI].desc)) ||
            QRT_T_IS_SPARSE(QRT_SLOT_TYPE(s[QRT_S_GRU_WH].desc)))
            v->aux = umax(v->aux, 4u * n_out);
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
    for (unsigned i = 0; i < QRT_MAGIC_LEN; i++)
        if (h->magic[i] != (uint8_t)QRT_MAGIC[i])
            return QRT_ERR_MAGIC;
    if (h->version < QRT_VERSION_DENSE || h->version > QRT_VERSION)
        return QRT_ERR_VERSION;
    if (h->header_size != QRT_HEADER_SIZE)
        return QRT_ERR_FORMAT;
    if (h->total_size > len)
        return QRT_ERR_TRUNCATED;
    if (h->total_size != len || (len & 7u))
        return QRT_ERR_FORMAT;
    const uint32_t *trailer = (const uint32_t *)(const void *)(b + len - QRT_TRAILER_SIZE);
    if (crc32_bytes(b, len - 4u) != trailer[1])
        return QRT_ERR_CRC;
    if (trailer[0] != 0u || h->flags != 0u)
        return QRT_ERR_FORMAT;
    for (unsigned i = 0; i < 7u; i++)
        if (h->reserved[i])
            return QRT_ERR_FORMAT;

    uint32_t end = (uint32_t)len - QRT_TRAILER_SIZE;
    qrt_status st = check_span(h->layers_off, h->layers_size, QRT_HEADER_SIZE, end);
    if (st == QRT_OK)
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

    vctx v = {b, h->data_off, h->data_off + h->data_size, h->n_features, h->in_max, h->seq_len,
              0, 0u, h->n_features, 0u, h->version};
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
    /* each layer adds at most 2^24 + 1 state words, so no overflow below */
    if (v.state + 2u * v.buf + v.aux > 0x0FFFFFFFu)
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
    m->state_words = v.state;
    m->buf_words = v.buf;
    m->aux_words = v.aux;
    return QRT_OK;
}

static void zero_model(qrt_model *m)
{
    uint8_t *p = (uint8_t *)m; /* a loop, not memset: no libc in the device build */
    for (size_t i = 0; i < sizeof *m; i++)
        p[i] = 0;
}

qrt_status qrt_model_load(qrt_model *m, const void *blob, size_t len)
{
    if (m == NULL)
        return QRT_ERR_ARG;
    zero_model(m);
    qrt_status st = blob == NULL ? QRT_ERR_ARG
                  : len > 0xFFFFFFF8u ? QRT_ERR_RANGE
                                      : load(m, (const uint8_t *)blob, len);
    if (st != QRT_OK)
        zero_model(m);
    return st;
}

size_t qrt_scratch_size(const qrt_model *m)
{
    if (m == NULL || m->blob == NULL)
        return 0;
    return 4u * ((size_t)m->state_words + 2u * (size_t)m->buf_words + (size_t)m->aux_words);
}
