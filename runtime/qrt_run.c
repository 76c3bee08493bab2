/* qrt — inference: layers, the frame-by-frame stream, and the whole-sequence call built on it.
 * Dimension letters: F features per frame, C channels, K dot-product length, H GRU units.
 *
 * Scratch layout (int32 words, in this order):
 *   state  per layer in model order: conv1d [countdown, window (span, Cin)], maxpool
 *          [countdown, window (pool, C)], gru h (H);
 *          then, without a last-state GRU, the last output (n_outputs)
 *   bufA, bufB   ping-pong frame buffers (buf_words each)
 *   aux          conv gather (k·Cin, dilation > 1) / a sparse GRU's pre-activations (4H);
 *                a dense GRU computes unit by unit, its new state in the free buffer
 * Only the state is kept between calls; the rest is rewritten by every push. */
#include <stdint.h>
#include <stddef.h>
#include "qrt.h"
#include "qrt_format.h"
#include "qrt_layer.h"

static const qrt_layer_rec *rec_at(const qrt_model *m, uint32_t off)
{
    return (const qrt_layer_rec *)(const void *)(m->blob + off);
}

static const void *slot_data(const qrt_model *m, const qrt_slot *s)
{
    return s->desc ? (const void *)(m->blob + s->offset) : NULL;
}

/* Word copy and fill (no libc: newlib-nano's byte loops are slower and larger). */
static void copy_words(int32_t *dst, const int32_t *src, size_t n)
{
    while (n--)
        *dst++ = *src++;
}

static void zero_words(int32_t *dst, size_t n)
{
    while (n--)
        *dst++ = 0;
}

/* ---- decoding a validated record into the qrt_layer.h descriptors ---- */

/* Weight slot ws, bias slot ws + 1, requant slot rqs: rows × k. */
static void decode_mat(qrt_mat *d, const qrt_model *m, const qrt_slot *s, unsigned ws,
                       unsigned bs, unsigned rqs, uint32_t rows, uint32_t k)
{
    unsigned t = QRT_SLOT_TYPE(s[ws].desc);
    d->w = (const uint8_t *)slot_data(m, &s[ws]);
    d->bias = (const int32_t *)slot_data(m, &s[bs]);
    d->rq = (const qrt_rq *)slot_data(m, &s[rqs]);
#if QRT_ENABLE_SPARSE
    if (QRT_T_IS_SPARSE(t)) {
        d->dot = NULL;
        d->sdot = qrt_sdot_for(QRT_T_WENC(t), qrt_container_bits(QRT_T_WBITS(t)));
        d->row_bytes = 0;
    } else
#endif
    {
        d->dot = qrt_dot_for(qrt_container_bits(t));
#if QRT_ENABLE_SPARSE
        d->sdot = NULL;
#endif
        d->row_bytes = (uint32_t)QRT_ROW_BYTES(k, qrt_container_bits(t));
    }
    d->k = k;
    d->rows = rows;
    d->rq_step = QRT_SLOT_COUNT(s[rqs].desc) > 1u;
}

static void decode_dense(qrt_dense *d, const qrt_model *m, const qrt_layer_rec *r, uint32_t k)
{
    const qrt_slot *s = qrt_rec_slots(r);
    decode_mat(&d->mat, m, s, QRT_S_W, QRT_S_BIAS, QRT_S_RQ, r->n_out, k);
    d->off = (const int32_t *)slot_data(m, &s[QRT_S_OFF]);
    d->out_max = r->out_max;
}

static void decode_conv(qrt_conv *d, const qrt_model *m, const qrt_layer_rec *r)
{
    decode_dense(&d->lin, m, r, (uint32_t)r->kernel * r->n_in);
    d->n_in = (uint16_t)r->n_in;
    d->kernel = (uint8_t)r->kernel;
    d->dilation = (uint8_t)r->dilation;
    d->stride = (uint8_t)r->stride;
    d->causal = (r->flags & QRT_FLAG_PAD_MASK) == QRT_PAD_CAUSAL;
    d->pad_left = r->pad_left;
}

static void decode_pool(qrt_pool *d, const qrt_layer_rec *r)
{
    d->n = (uint16_t)r->n_in;
    d->kernel = (uint8_t)r->kernel;
    d->stride = (uint8_t)r->stride;
}

static void decode_gru(qrt_gru *d, const qrt_model *m, const qrt_layer_rec *r)
{
    const qrt_slot *s = qrt_rec_slots(r);
    uint32_t h3 = 3u * r->n_out;
    decode_mat(&d->wi, m, s, QRT_S_GRU_WI, QRT_S_GRU_BI, QRT_S_GRU_RQI, h3, r->n_in);
    decode_mat(&d->wh, m, s, QRT_S_GRU_WH, QRT_S_GRU_BH, QRT_S_GRU_RQH, h3, r->n_out);
}

/* Dense, batchnorm, relu, prelu, sigmoid/tanh: y from x (one frame). */
static void run_frame_layer(const qrt_model *m, const qrt_layer_rec *r, const int32_t *x,
                            int32_t *y)
{
    if (r->kind == QRT_LAYER_DENSE) {
        qrt_dense d;
        decode_dense(&d, m, r, r->n_in);
        qrt_dense_run(&d, x, y);
    } else if (r->kind == QRT_LAYER_RELU) {
        qrt_relu_run(r->out_max, x, y, r->n_out);
    } else if (r->kind == QRT_LAYER_ACT) {
        const qrt_rq *rq = (const qrt_rq *)slot_data(m, &qrt_rec_slots(r)[QRT_S_ACT_RQ]);
        qrt_act d; /* field by field: a struct copy may become a memcpy call */
        d.rq.mult = rq->mult;
        d.rq.shift = rq->shift;
        d.n = (uint16_t)r->n_out;
        d.tanh = (uint8_t)((r->flags & QRT_FLAG_ACT_TANH) != 0u);
        qrt_act_run(&d, x, y);
    } else {
        const qrt_slot *s = qrt_rec_slots(r);
        qrt_scale d;
        d.rq = (const qrt_rq *)slot_data(m, &s[0]);
        d.rq_step = QRT_SLOT_COUNT(s[0].desc) > 1u;
        d.n = (uint16_t)r->n_out;
        d.out_max = r->out_max;
        if (r->kind == QRT_LAYER_BATCHNORM) {
            d.off = (const int32_t *)slot_data(m, &s[QRT_S_BN_OFF]);
            qrt_bn_run(&d, x, y);
        } else {
            d.off = NULL;
            qrt_prelu_run(&d, x, y);
        }
    }
}

static int32_t *buf_a(const qrt_stream *s) { return s->mem + s->model->state_words; }
static int32_t *buf_b(const qrt_stream *s) { return buf_a(s) + s->model->buf_words; }
static int32_t *aux_buf(const qrt_stream *s) { return buf_b(s) + s->model->buf_words; }

qrt_status qrt_stream_reset(qrt_stream *s)
{
    if (s == NULL || s->model == NULL || s->mem == NULL)
        return QRT_ERR_ARG;
    const qrt_model *m = s->model;
    zero_words(s->mem, m->state_words);
    int32_t *st = s->mem;
    uint32_t off = m->layers_off;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const qrt_layer_rec *r = rec_at(m, off);
        if (r->kind == QRT_LAYER_CONV1D) {
            qrt_conv d;
            decode_conv(&d, m, r);
            qrt_conv_reset(&d, st);
        } else if (r->kind == QRT_LAYER_MAXPOOL) {
            qrt_pool d;
            decode_pool(&d, r);
            qrt_pool_reset(&d, st);
        }
        st += qrt_rec_state_words(r);
        off += (uint32_t)qrt_rec_size(r);
    }
    s->frames = 0;
    s->emitted = 0;
    return QRT_OK;
}

qrt_status qrt_stream_init(qrt_stream *s, const qrt_model *m, void *scratch, size_t scratch_size)
{
    if (s == NULL)
        return QRT_ERR_ARG;
    s->model = NULL;
    s->mem = NULL;
    s->frames = s->emitted = 0;
    if (m == NULL || m->blob == NULL || scratch == NULL)
        return QRT_ERR_ARG;
    if ((uintptr_t)scratch & 3u)
        return QRT_ERR_ALIGN;
    if (scratch_size < qrt_scratch_size(m))
        return QRT_ERR_SCRATCH;
    s->model = m;
    s->mem = (int32_t *)scratch;
    return qrt_stream_reset(s);
}

/* Run the sequence part from layer `first` (record offset off, state st) on the frame at
 * cur (buffer a or b); stops where a windowed layer does not emit. */
static void run_from(qrt_stream *s, uint32_t first, uint32_t off, int32_t *st, int32_t *cur)
{
    const qrt_model *m = s->model;
    int32_t *a = buf_a(s), *b = buf_b(s), *aux = aux_buf(s);
    for (uint32_t i = first; i < m->split; i++) {
        const qrt_layer_rec *r = rec_at(m, off);
        int32_t *out = cur == a ? b : a;
        off += (uint32_t)qrt_rec_size(r);
        if (r->kind == QRT_LAYER_CONV1D) {
            qrt_conv d;
            decode_conv(&d, m, r);
            if (!qrt_conv_push(&d, st, cur, out, aux))
                return; /* no output this frame: nothing downstream runs */
        } else if (r->kind == QRT_LAYER_MAXPOOL) {
            qrt_pool d;
            decode_pool(&d, r);
            if (!qrt_maxpool_push(&d, st, cur, out))
                return;
        } else if (r->kind == QRT_LAYER_GRU) {
            qrt_gru d;
            decode_gru(&d, m, r);
            qrt_gru_step(&d, cur, st, out, aux); /* out: free until the GRU's output */
            out = st; /* the state is the output */
        } else {
            run_frame_layer(m, r, cur, out);
        }
        st += qrt_rec_state_words(r);
        cur = out;
    }
    if (m->split == m->n_layers)
        copy_words(st, cur, m->n_outputs); /* st is now the last-output buffer */
    s->emitted++;
}

qrt_status qrt_stream_push(qrt_stream *s, const int32_t *frame)
{
    if (s == NULL || s->model == NULL || s->mem == NULL || frame == NULL)
        return QRT_ERR_ARG;
    const qrt_model *m = s->model;
    qrt_clamp_copy(buf_a(s), frame, m->n_features, m->in_max);
    s->frames++;
    run_from(s, 0u, m->layers_off, s->mem, buf_a(s));
    return QRT_OK;
}

qrt_status qrt_stream_finish(qrt_stream *s)
{
    if (s == NULL || s->model == NULL || s->mem == NULL)
        return QRT_ERR_ARG;
    const qrt_model *m = s->model;
    int32_t *st = s->mem;
    uint32_t off = m->layers_off;
    for (uint32_t i = 0; i < m->split; i++) {
        const qrt_layer_rec *r = rec_at(m, off);
        if (r->kind == QRT_LAYER_CONV1D)
            for (uint32_t p = 0; p < r->pad_right; p++) {
                /* a zero frame in buffer b (it holds n_in, every layer's input width); the
                 * convolution writes to a */
                zero_words(buf_b(s), r->n_in);
                run_from(s, i, off, st, buf_b(s));
            }
        off += (uint32_t)qrt_rec_size(r);
        st += qrt_rec_state_words(r);
    }
    return QRT_OK;
}

qrt_status qrt_stream_logits(qrt_stream *s, int32_t *logits)
{
    if (s == NULL || s->model == NULL || s->mem == NULL || logits == NULL)
        return QRT_ERR_ARG;
    if (s->emitted == 0u)
        return QRT_ERR_NOT_READY;
    const qrt_model *m = s->model;
    int32_t *a = buf_a(s), *b = buf_b(s);
    int32_t *cur = s->mem;
    uint32_t off = m->layers_off;
    for (uint32_t i = 0; i < m->split; i++) { /* find the split layer's output in the state */
        const qrt_layer_rec *r = rec_at(m, off);
        off += (uint32_t)qrt_rec_size(r);
        if (i + 1u < m->split || m->split == m->n_layers)
            cur += qrt_rec_state_words(r);
    }
    for (uint32_t i = m->split; i < m->n_layers; i++) {
        const qrt_layer_rec *r = rec_at(m, off);
        int32_t *out = cur == a ? b : a;
        off += (uint32_t)qrt_rec_size(r);
        run_frame_layer(m, r, cur, out);
        cur = out;
    }
    copy_words(logits, cur, m->n_outputs);
    return QRT_OK;
}

qrt_status qrt_run(const qrt_model *m, const int32_t *x, void *scratch, size_t scratch_size,
                   int32_t *logits)
{
    if (x == NULL || logits == NULL)
        return QRT_ERR_ARG;
    qrt_stream s;
    qrt_status st = qrt_stream_init(&s, m, scratch, scratch_size);
    for (uint32_t t = 0; st == QRT_OK && t < m->seq_len; t++)
        st = qrt_stream_push(&s, x + (size_t)t * m->n_features);
    if (st == QRT_OK)
        st = qrt_stream_finish(&s);
    if (st == QRT_OK)
        st = qrt_stream_logits(&s, logits);
    return st;
}
