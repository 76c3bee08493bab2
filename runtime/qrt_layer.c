/* qrt — layers on decoded descriptors (qrt_layer.h), shared by the blob interpreter and by
 * compiled models. Freestanding, integer-only. */
#include <stdint.h>
#include <stddef.h>
#include "qrt.h"
#include "qrt_layer.h"

static int32_t clamp(int32_t v, int32_t a)
{
    return v > a ? a : (v < -a ? -a : v);
}

/* Word copy, forwards (so it may shift a buffer towards lower addresses in place); no libc:
 * newlib-nano's byte loops are slower and larger. */
static void copy_words(int32_t *dst, const int32_t *src, size_t n)
{
    while (n--)
        *dst++ = *src++;
}

void qrt_clamp_copy(int32_t *y, const int32_t *x, size_t n, int32_t a)
{
    for (size_t i = 0; i < n; i++)
        y[i] = clamp(x[i], a);
}

/* acc = the dot product of the row at w with x; w = the next row. A macro, not a function:
 * the dense path must stay a direct call (a helper taking &w cost ~35 cycles per row on a
 * Cortex-M0+ at -Os, where GCC would not inline it). Without sparse support compiled in
 * (QRT_ENABLE_SPARSE 0) there is no per-row test at all. */
#if QRT_ENABLE_SPARSE
#define ROW_DOT(m, w, x, acc)                                                                \
    do {                                                                                     \
        if ((m)->sdot) {                                                                     \
            int32_t sum_; /* its own variable: taking &acc would keep acc in memory */       \
            (w) = (m)->sdot((w), (x), (m)->k, &sum_);                                        \
            (acc) = sum_;                                                                    \
        } else {                                                                             \
            (acc) = (m)->dot((w), (x), (m)->k);                                              \
            (w) += (m)->row_bytes;                                                           \
        }                                                                                    \
    } while (0)
#else
#define ROW_DOT(m, w, x, acc)                                                                \
    do {                                                                                     \
        (acc) = (m)->dot((w), (x), (m)->k);                                                  \
        (w) += (m)->row_bytes;                                                               \
    } while (0)
#endif

void qrt_dense_run(const qrt_dense *l, const int32_t *x, int32_t *y)
{
    const qrt_mat *m = &l->mat;
    const uint8_t *w = m->w;
    const qrt_rq *rq = m->rq;
    for (uint32_t o = 0; o < m->rows; o++, rq += m->rq_step) {
        int32_t acc;
        ROW_DOT(m, w, x, acc);
        if (m->bias)
            acc += m->bias[o];
        int32_t v = qrt_requant(acc, rq->mult, rq->shift);
        if (l->off)
            v = clamp(v, QRT_ACT_MAX) + l->off[o];
        y[o] = clamp(v, l->out_max);
    }
}

void qrt_conv_reset(const qrt_conv *l, int32_t *state)
{
    uint32_t n = QRT_CONV_STATE_WORDS(l->kernel, l->dilation, l->n_in);
    for (uint32_t i = 0; i < n; i++)
        state[i] = 0;
    if (!l->causal)
        state[0] = (int32_t)QRT_CONV_SPAN(l->kernel, l->dilation) - 1 - (int32_t)l->pad_left;
}

int qrt_conv_push(const qrt_conv *l, int32_t *state, const int32_t *x, int32_t *y,
                  int32_t *aux)
{
    size_t cin = l->n_in, span = QRT_CONV_SPAN(l->kernel, l->dilation);
    int32_t *win = state + 1;
    copy_words(win, win + cin, (span - 1u) * cin); /* drop the oldest frame */
    copy_words(win + (span - 1u) * cin, x, cin);
    if (state[0] > 0) {
        state[0]--;
        return 0;
    }
    state[0] = (int32_t)l->stride - 1;
    const int32_t *in = win;
    if (l->dilation > 1u) {
        for (size_t j = 0; j < l->kernel; j++)
            copy_words(aux + j * cin, win + j * l->dilation * cin, cin);
        in = aux;
    }
    qrt_dense_run(&l->lin, in, y);
    return 1;
}

void qrt_pool_reset(const qrt_pool *l, int32_t *state)
{
    uint32_t n = 1u + (uint32_t)l->kernel * l->n;
    for (uint32_t i = 0; i < n; i++)
        state[i] = 0;
    state[0] = (int32_t)l->kernel - 1;
}

int qrt_maxpool_push(const qrt_pool *l, int32_t *state, const int32_t *x, int32_t *y)
{
    size_t n = l->n, k = l->kernel;
    int32_t *win = state + 1;
    copy_words(win, win + n, (k - 1u) * n); /* drop the oldest frame */
    copy_words(win + (k - 1u) * n, x, n);
    if (state[0] > 0) {
        state[0]--;
        return 0;
    }
    state[0] = (int32_t)l->stride - 1;
    for (size_t c = 0; c < n; c++) {
        int32_t v = win[c];
        for (size_t j = 1; j < k; j++)
            v = win[j * n + c] > v ? win[j * n + c] : v;
        y[c] = v;
    }
    return 1;
}

void qrt_act_run(const qrt_act *l, const int32_t *x, int32_t *y)
{
    for (uint32_t i = 0; i < l->n; i++) {
        int32_t v = clamp(qrt_requant(x[i], l->rq.mult, l->rq.shift), QRT_GATE_MAX);
        y[i] = l->tanh ? qrt_tanh_q16(v) : qrt_sigmoid_q16(v);
    }
}

void qrt_relu_run(int32_t a, const int32_t *x, int32_t *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0 ? 0 : (x[i] > a ? a : x[i]);
}

void qrt_bn_run(const qrt_scale *l, const int32_t *x, int32_t *y)
{
    const qrt_rq *rq = l->rq;
    for (uint32_t i = 0; i < l->n; i++, rq += l->rq_step) {
        int32_t v = qrt_requant(x[i], rq->mult, rq->shift);
        if (l->off)
            v = clamp(v, QRT_ACT_MAX) + l->off[i];
        y[i] = clamp(v, l->out_max);
    }
}

void qrt_prelu_run(const qrt_scale *l, const int32_t *x, int32_t *y)
{
    const qrt_rq *rq = l->rq;
    for (uint32_t i = 0; i < l->n; i++, rq += l->rq_step)
        y[i] = clamp(x[i] >= 0 ? x[i] : qrt_requant(x[i], rq->mult, rq->shift), l->out_max);
}

/* r ⊙ g: a Q15 gate (0 … 32768) times a Q16 value (|g| < 2^24), rounded, in 32-bit
 * arithmetic: g = g1·2^15 + g0 with 0 ≤ g0 < 2^15, so (r·g + 2^14) >> 15 = r·g1 +
 * ((r·g0 + 2^14) >> 15) exactly, and neither product exceeds 2^30. */
static int32_t mul_q15(int32_t r, int32_t g)
{
    int32_t g1 = g >> 15, g0 = g & 0x7FFF;
    return r * g1 + ((r * g0 + 16384) >> 15);
}

/* A dense GRU's rows: by index through one helper (the smallest: ARMv6-M, QRT_SMALL), or
 * with pointers stepped H rows at a time, inline (bts on a Cortex-M4: 10,612 → 10,041 cycles
 * a frame for 104 B; on the M0+ 110 cycles for 136 B, not kept there). */
#ifndef QRT_GRU_BY_INDEX
#if QRT_SMALL || defined(__ARM_ARCH_6M__)
#define QRT_GRU_BY_INDEX 1
#else
#define QRT_GRU_BY_INDEX 0
#endif
#endif

#if QRT_GRU_BY_INDEX
/* One gate row of a dense matrix, by index: clamp(requant(W_row·x + bias_row), ±QRT_GATE_MAX). */
static int32_t gate_at(const qrt_mat *m, uint32_t row, const int32_t *x)
{
    const qrt_rq *rq = m->rq + row * m->rq_step;
    int32_t acc = m->dot(m->w + row * m->row_bytes, x, m->k);
    if (m->bias)
        acc += m->bias[row];
    return clamp(qrt_requant(acc, rq->mult, rq->shift), QRT_GATE_MAX);
}
#endif

#if QRT_ENABLE_SPARSE
/* Sparse rows vary in length, so they are walked in order: every row's pre-activation in Q16
 * into pre (4H) — z and r rows as input + recurrent part, n rows split into input part
 * (pre[2H + j]) and recurrent part (pre[3H + j]) — then the gates, which update h in place
 * (all recurrent products are done by then). */
static int32_t gate_next(const qrt_mat *m, const uint8_t **wp, const int32_t *x, size_t row)
{
    const uint8_t *w = *wp;
    int32_t acc;
    ROW_DOT(m, w, x, acc);
    *wp = w;
    if (m->bias)
        acc += m->bias[row];
    const qrt_rq *rq = m->rq + row * m->rq_step;
    return clamp(qrt_requant(acc, rq->mult, rq->shift), QRT_GATE_MAX);
}

static void gru_step_walk(const qrt_gru *l, const int32_t *x, int32_t *h, int32_t *pre)
{
    const qrt_mat *mi = &l->wi, *mh = &l->wh;
    size_t nh = mh->k, h2 = 2u * nh, h3 = 3u * nh;
    const uint8_t *wi = mi->w, *wh = mh->w;
    for (size_t row = 0; row < h3; row++) {
        int32_t gi = gate_next(mi, &wi, x, row), gh = gate_next(mh, &wh, h, row);
        if (row < h2) {
            pre[row] = gi + gh;
        } else {
            pre[row] = gi;
            pre[row + nh] = gh;
        }
    }
    qrt_gru_gates(pre, h, nh);
}
#endif

/* Dense rows are reached by index, so the step goes unit by unit: unit j's z, r and n rows
 * give its four pre-activations (stack words), qrt_gru_unit its new state into hn; h is read
 * by every unit's rows, so it is overwritten only at the end. No 4H buffer. */
void qrt_gru_step(const qrt_gru *l, const int32_t *x, int32_t *h, int32_t *hn, int32_t *pre)
{
    const qrt_mat *mi = &l->wi, *mh = &l->wh;
    uint32_t nh = mh->k;
#if QRT_ENABLE_SPARSE
    if (mi->sdot || mh->sdot) {
        gru_step_walk(l, x, h, pre);
        return;
    }
#else
    (void)pre;
#endif
#if !QRT_GRU_BY_INDEX
    const qrt_rq *rqi = mi->rq, *rqh = mh->rq;
    uint32_t si = nh * mi->row_bytes, sh = nh * mh->row_bytes;
    uint32_t ri = nh * mi->rq_step, rh = nh * mh->rq_step;
#endif
    for (uint32_t j = 0; j < nh; j++) {
        int32_t p[4];
#if !QRT_GRU_BY_INDEX
        const uint8_t *wi = mi->w + j * mi->row_bytes, *wh = mh->w + j * mh->row_bytes;
        const qrt_rq *qi = rqi + j * mi->rq_step, *qh = rqh + j * mh->rq_step;
#endif
        for (uint32_t g = 0; g < 3u; g++) {
#if QRT_GRU_BY_INDEX
            int32_t gi = gate_at(mi, g * nh + j, x), gh = gate_at(mh, g * nh + j, h);
#else
            uint32_t row = g * nh + j;
            int32_t acc = mi->dot(wi, x, mi->k) + (mi->bias ? mi->bias[row] : 0);
            int32_t gi = clamp(qrt_requant(acc, qi->mult, qi->shift), QRT_GATE_MAX);
            acc = mh->dot(wh, h, nh) + (mh->bias ? mh->bias[row] : 0);
            int32_t gh = clamp(qrt_requant(acc, qh->mult, qh->shift), QRT_GATE_MAX);
            wi += si;
            wh += sh;
            qi += ri;
            qh += rh;
#endif
            if (g < 2u) {
                p[g] = gi + gh;
            } else {
                p[2] = gi;
                p[3] = gh;
            }
        }
        hn[j] = qrt_gru_unit(p, 1u, h[j]);
    }
    copy_words(h, hn, nh);
}

void qrt_gru_gates(const int32_t *pre, int32_t *h, size_t nh)
{
    for (size_t j = 0; j < nh; j++)
        h[j] = qrt_gru_unit(pre + j, nh, h[j]);
}

int32_t qrt_gru_unit(const int32_t *p, size_t stride, int32_t h)
{
    int32_t pz = p[0], pr = p[stride], gin = p[2u * stride], ghn = p[3u * stride];
    int32_t n = qrt_tanh_q16(gin + mul_q15(qrt_sigmoid_q16(pr), ghn));
    uint32_t z = (uint32_t)qrt_sigmoid_q16(pz);
    /* (1 − z)·n + z·h = n + z·(h − n), |result| ≤ 2^30; z·(h − n) can reach 2^31, so
     * modulo 2^32 (unsigned), exact once the sum is back in range */
    int32_t v = (int32_t)(z * (uint32_t)(h - n) + ((uint32_t)n << 15) + 16384u) >> 15;
    /* the state is int16 (QRT_STATE_MAX): only z = 0, n = 1.0 reaches 32768 */
    return v > QRT_STATE_MAX ? QRT_STATE_MAX : v;
}

/* (hi, lo) = raw · mult − off, exactly (|raw · mult| < 2^47, |off| < 2^61), then rounded half
 * away from zero at bit k and shifted down. */
void qrt_quantize_raw16(const qrt_inq *q, const int16_t *raw, int32_t *frame, size_t n,
                        int32_t in_max)
{
    for (size_t i = 0; i < n; i++, q++) {
        int32_t r = raw[i];
        int32_t p1 = r * (q->mult >> 16);                  /* |.| ≤ 2^30 */
        int32_t p0 = r * (int32_t)((uint32_t)q->mult & 0xFFFFu); /* fits: |r| ≤ 2^15 */
        uint32_t lo = (uint32_t)p1 << 16, t;
        int32_t hi = p1 >> 16;                             /* p1 · 2^16 = hi · 2^32 + lo */
        t = lo + (uint32_t)p0;                             /* + p0 */
        hi += (int32_t)(t < lo) - (p0 < 0);
        lo = t;
        t = lo - q->off_lo;                                /* − off */
        hi -= q->off_hi + (int32_t)(lo < q->off_lo);
        lo = t;
        uint32_t k = q->k, neg = hi < 0 ? 1u : 0u, r_lo;
        int32_t r_hi = 0;
        /* + 2^(k−1), or 2^(k−1) − 1 below zero: ties away from zero as on the host */
        if (k <= 32u) {
            r_lo = (1u << (k - 1u)) - neg;
        } else {
            r_lo = 0u - neg;
            r_hi = (int32_t)(1u << (k - 33u)) - (int32_t)neg;
        }
        t = lo + r_lo;
        hi += r_hi + (int32_t)(t < lo);
        lo = t;
        int32_t y, top;
        if (k < 32u) {
            y = (int32_t)((lo >> k) | ((uint32_t)hi << (32u - k)));
            top = hi >> k;
        } else {
            y = hi >> (k - 32u);
            top = hi >> 31;
        }
        if (top != (y >> 31))
            y = top < 0 ? -in_max : in_max;
        frame[i] = clamp(y, in_max);
    }
}
