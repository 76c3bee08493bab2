/* qrt — inference: layers, the frame-by-frame stream, and the whole-sequence call built on it.
 * Dimension letters: F features per frame, C channels, K dot-product length, H GRU units.
 *
 * Scratch layout (int32 words, in this order):
 *   state  per layer in model order: conv1d [countdown, window (span, Cin)], gru h (H);
 *          then, without a last-state GRU, the last output (n_outputs)
 *   bufA, bufB   ping-pong frame buffers (buf_words each)
 *   aux          conv gather (k·Cin, dilation > 1) / GRU pre-activations (4H)
 * Only the state is kept between calls; the rest is rewritten by every push. */
#include <stdint.h>
#include <stddef.h>
#include "qrt.h"
#include "qrt_format.h"

static const qrt_layer_rec *rec_at(const qrt_model *m, uint32_t off)
{
    return (const qrt_layer_rec *)(const void *)(m->blob + off);
}

static const void *slot_data(const qrt_model *m, const qrt_slot *s)
{
    return s->desc ? (const void *)(m->blob + s->offset) : NULL;
}

/* Word copies and fills (no libc: newlib-nano's byte loops are slower and larger). copy_words
 * copies forwards, so it may shift a buffer towards lower addresses in place. */
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

static int32_t clamp(int32_t v, int32_t a)
{
    return v > a ? a : (v < -a ? -a : v);
}

static uint32_t conv_span(const qrt_layer_rec *r)
{
    return ((uint32_t)r->kernel - 1u) * r->dilation + 1u;
}

static uint32_t state_words(const qrt_layer_rec *r)
{
    if (r->kind == QRT_LAYER_CONV1D)
        return 1u + conv_span(r) * r->n_in;
    if (r->kind == QRT_LAYER_GRU)
        return r->n_out;
    return 0u;
}

/* y (n_out) = clamp(requant(W·x + b) + o, ±out_max); x (K); W (n_out, K) packed. */
static void linear(int32_t *y, const qrt_model *m, const qrt_layer_rec *r, const int32_t *x,
                   size_t k)
{
    const qrt_slot *s = qrt_rec_slots(r);
    unsigned c = qrt_container_bits(QRT_SLOT_TYPE(s[QRT_S_W].desc));
    qrt_dot_fn dot = qrt_dot_for(c);
    const uint8_t *w = (const uint8_t *)slot_data(m, &s[QRT_S_W]);
    const int32_t *bias = (const int32_t *)slot_data(m, &s[QRT_S_BIAS]);
    const qrt_rq *rq = (const qrt_rq *)slot_data(m, &s[QRT_S_RQ]);
    const int32_t *off = (const int32_t *)slot_data(m, &s[QRT_S_OFF]);
    size_t rq_step = QRT_SLOT_COUNT(s[QRT_S_RQ].desc) > 1u;
    size_t rb = QRT_ROW_BYTES(k, c);
    for (uint32_t o = 0; o < r->n_out; o++, w += rb, rq += rq_step) {
        int32_t acc = dot(w, x, k);
        if (bias)
            acc += bias[o];
        int32_t v = qrt_requant(acc, rq->mult, rq->shift);
        if (off)
            v = clamp(v, QRT_ACT_MAX) + off[o];
        y[o] = clamp(v, r->out_max);
    }
}

/* batchnorm, relu, prelu: y (C) from x (C). */
static void elementwise(int32_t *y, const qrt_model *m, const qrt_layer_rec *r, const int32_t *x)
{
    const qrt_slot *s = qrt_rec_slots(r);
    int32_t a = r->out_max;
    if (r->kind == QRT_LAYER_RELU) {
        for (uint32_t i = 0; i < r->n_out; i++)
            y[i] = x[i] < 0 ? 0 : (x[i] > a ? a : x[i]);
        return;
    }
    const qrt_rq *rq = (const qrt_rq *)slot_data(m, &s[0]);
    size_t rq_step = QRT_SLOT_COUNT(s[0].desc) > 1u;
    if (r->kind == QRT_LAYER_BATCHNORM) {
        const int32_t *off = (const int32_t *)slot_data(m, &s[QRT_S_BN_OFF]);
        for (uint32_t i = 0; i < r->n_out; i++, rq += rq_step) {
            int32_t v = qrt_requant(x[i], rq->mult, rq->shift);
            if (off)
                v = clamp(v, QRT_ACT_MAX) + off[i];
            y[i] = clamp(v, a);
        }
    } else { /* prelu */
        for (uint32_t i = 0; i < r->n_out; i++, rq += rq_step)
            y[i] = clamp(x[i] >= 0 ? x[i] : qrt_requant(x[i], rq->mult, rq->shift), a);
    }
}

/* r ⊙ g: a Q15 gate (0 … 32768) times a Q16 value (|g| < 2^24), rounded, in 32-bit
 * arithmetic: g = g1·2^15 + g0 with 0 ≤ g0 < 2^15, so (r·g + 2^14) >> 15 = r·g1 +
 * ((r·g0 + 2^14) >> 15) exactly, and neither product exceeds 2^30. */
static int32_t mul_q15(int32_t r, int32_t g)
{
    int32_t g1 = g >> 15, g0 = g & 0x7FFF;
    return r * g1 + ((r * g0 + 16384) >> 15);
}

/* One GRU step: h (H, Q15) ← GRU(x (F), h). Gate rows [z | r | n]. pre (4H) scratch:
 * first every row's pre-activation in Q16 — z and r rows as input + recurrent part, n rows
 * split into input part (pre[2H + j]) and recurrent part (pre[3H + j]) — then the gates,
 * which update h in place (all recurrent products are done by then). */
static void gru_step(const qrt_model *m, const qrt_layer_rec *r, const int32_t *x, int32_t *h,
                     int32_t *pre)
{
    const qrt_slot *s = qrt_rec_slots(r);
    size_t f = r->n_in, nh = r->n_out, h2 = 2u * nh, h3 = 3u * nh;
    unsigned ci = qrt_container_bits(QRT_SLOT_TYPE(s[QRT_S_GRU_WI].desc));
    unsigned ch = qrt_container_bits(QRT_SLOT_TYPE(s[QRT_S_GRU_WH].desc));
    qrt_dot_fn doti = qrt_dot_for(ci), doth = qrt_dot_for(ch);
    const uint8_t *wi = (const uint8_t *)slot_data(m, &s[QRT_S_GRU_WI]);
    const uint8_t *wh = (const uint8_t *)slot_data(m, &s[QRT_S_GRU_WH]);
    const int32_t *bi = (const int32_t *)slot_data(m, &s[QRT_S_GRU_BI]);
    const int32_t *bh = (const int32_t *)slot_data(m, &s[QRT_S_GRU_BH]);
    const qrt_rq *rqi = (const qrt_rq *)slot_data(m, &s[QRT_S_GRU_RQI]);
    const qrt_rq *rqh = (const qrt_rq *)slot_data(m, &s[QRT_S_GRU_RQH]);
    size_t step_i = QRT_SLOT_COUNT(s[QRT_S_GRU_RQI].desc) > 1u;
    size_t step_h = QRT_SLOT_COUNT(s[QRT_S_GRU_RQH].desc) > 1u;
    size_t rbi = QRT_ROW_BYTES(f, ci), rbh = QRT_ROW_BYTES(nh, ch);

    for (size_t row = 0; row < h3; row++, wi += rbi, wh += rbh, rqi += step_i, rqh += step_h) {
        int32_t acc = doti(wi, x, f) + (bi ? bi[row] : 0);
        int32_t gi = clamp(qrt_requant(acc, rqi->mult, rqi->shift), QRT_GATE_MAX);
        acc = doth(wh, h, nh) + (bh ? bh[row] : 0);
        int32_t gh = clamp(qrt_requant(acc, rqh->mult, rqh->shift), QRT_GATE_MAX);
        if (row < h2) {
            pre[row] = gi + gh;
        } else {
            pre[row] = gi;
            pre[row + nh] = gh;
        }
    }
    for (size_t j = 0; j < nh; j++) {
        int32_t z = qrt_sigmoid_q16(pre[j]);
        int32_t rr = qrt_sigmoid_q16(pre[nh + j]);
        int32_t n = qrt_tanh_q16(pre[h2 + j] + mul_q15(rr, pre[h3 + j]));
        /* (1 − z)·n + z·h: both products ≤ 2^30 and so is their sum */
        h[j] = ((QRT_ONE_Q15 - z) * n + z * h[j] + 16384) >> 15;
    }
}

/* Feed x (Cin) to a convolution; 1 and y (Cout) when it emits. st = [countdown, window]. */
static int conv_push(int32_t *y, const qrt_model *m, const qrt_layer_rec *r, int32_t *st,
                     const int32_t *x, int32_t *aux)
{
    size_t cin = r->n_in, span = conv_span(r), k = r->kernel, d = r->dilation;
    int32_t *win = st + 1;
    copy_words(win, win + cin, (span - 1u) * cin); /* drop the oldest frame */
    copy_words(win + (span - 1u) * cin, x, cin);
    if (st[0] > 0) {
        st[0]--;
        return 0;
    }
    st[0] = (int32_t)r->stride - 1;
    const int32_t *in = win;
    if (d > 1u) {
        for (size_t j = 0; j < k; j++)
            copy_words(aux + j * cin, win + j * d * cin, cin);
        in = aux;
    }
    linear(y, m, r, in, k * cin);
    return 1;
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
        if (r->kind == QRT_LAYER_CONV1D && (r->flags & QRT_FLAG_PAD_MASK) == QRT_PAD_VALID)
            st[0] = (int32_t)conv_span(r) - 1; /* frames to wait before the first output */
        st += state_words(r);
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

qrt_status qrt_stream_push(qrt_stream *s, const int32_t *frame)
{
    if (s == NULL || s->model == NULL || s->mem == NULL || frame == NULL)
        return QRT_ERR_ARG;
    const qrt_model *m = s->model;
    int32_t *a = buf_a(s), *b = buf_b(s), *aux = aux_buf(s);
    int32_t *st = s->mem;
    for (uint32_t i = 0; i < m->n_features; i++)
        a[i] = clamp(frame[i], m->in_max);
    int32_t *cur = a;
    uint32_t off = m->layers_off;
    s->frames++;
    for (uint32_t i = 0; i < m->split; i++) {
        const qrt_layer_rec *r = rec_at(m, off);
        int32_t *out = cur == a ? b : a;
        off += (uint32_t)qrt_rec_size(r);
        switch (r->kind) {
        case QRT_LAYER_CONV1D:
            if (!conv_push(out, m, r, st, cur, aux))
                return QRT_OK; /* no output this frame: nothing downstream runs */
            break;
        case QRT_LAYER_GRU:
            gru_step(m, r, cur, st, aux);
            out = st; /* the state is the output */
            break;
        case QRT_LAYER_DENSE:
            linear(out, m, r, cur, r->n_in);
            break;
        default:
            elementwise(out, m, r, cur);
            break;
        }
        st += state_words(r);
        cur = out;
    }
    if (m->split == m->n_layers)
        copy_words(st, cur, m->n_outputs); /* st is now the last-output buffer */
    s->emitted++;
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
            cur += state_words(r);
    }
    for (uint32_t i = m->split; i < m->n_layers; i++) {
        const qrt_layer_rec *r = rec_at(m, off);
        int32_t *out = cur == a ? b : a;
        off += (uint32_t)qrt_rec_size(r);
        if (r->kind == QRT_LAYER_DENSE)
            linear(out, m, r, cur, r->n_in);
        else
            elementwise(out, m, r, cur);
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
        st = qrt_stream_logits(&s, logits);
    return st;
}
