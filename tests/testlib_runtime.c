/* Helpers of the runtime suites: see testlib_runtime.h. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "testlib_runtime.h"
#include "../runtime/qrt.h"
#include "../export/qrt_builder.h"
#include "../runtime/qrt_format.h"
#include "../export/qrt_host.h"
#include "../runtime/qrt_sparse.h"

/* ---- deterministic random numbers --------------------------------------------------- */

uint32_t tr_rng_u32(tr_rng *r)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t z = r->s;
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    z ^= z >> 33;
    return (uint32_t)(z >> 32);
}

double tr_rng_unif(tr_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * (tr_rng_u32(r) / 4294967296.0);
}

/* A random level on the N-bit grid. */
int8_t tr_rng_level(tr_rng *r, unsigned bits)
{
    if (bits == 1)
        return (tr_rng_u32(r) & 1) ? 1 : -1;
    int m = (1 << (bits - 1)) - 1;
    return (int8_t)((int)(tr_rng_u32(r) % (unsigned)(2 * m + 1)) - m);
}

void *tr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    ck_assert_ptr_nonnull(p);
    return p;
}

static uint32_t crc32_test(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

void tr_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t tr_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void tr_fix_crc(uint8_t *b, size_t len)
{
    tr_put_le32(b + len - 4, crc32_test(b, len - 4));
}
/* ---- a float model, its quantization (a miniature exporter) and references ---------- */

static double *rnd_vec(tr_rng *r, size_t n, double lo, double hi)
{
    double *v = tr_xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = tr_rng_unif(r, lo, hi);
    return v;
}

static size_t span_of(const tr_flayer *l)
{
    return (l->k - 1) * l->dil + 1;
}

static size_t t_out(const tr_flayer *l, size_t t)
{
    if (l->kind != QRT_LAYER_CONV1D)
        return (l->kind == QRT_LAYER_GRU && !l->ret_seq) ? 1 : t;
    size_t sp = span_of(l);
    if (l->causal)
        return (t - 1) / l->stride + 1;
    return t < sp ? 0 : (t - sp) / l->stride + 1;
}

void tr_fm_add_conv(tr_fmodel *m, tr_rng *r, size_t cin, size_t cout, size_t k, size_t stride,
                    size_t dil, int causal, unsigned bits)
{
    tr_flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = QRT_LAYER_CONV1D;
    l->n_in = cin, l->n_out = cout, l->k = k, l->stride = stride, l->dil = dil, l->causal = causal;
    l->bits = bits;
    double a = 1.5 / sqrt((double)(k * cin));
    l->w = rnd_vec(r, cout * k * cin, -a, a);
    l->b = rnd_vec(r, cout, -0.2, 0.2);
}

void tr_fm_add_dense(tr_fmodel *m, tr_rng *r, size_t nin, size_t nout, unsigned bits)
{
    tr_flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = QRT_LAYER_DENSE;
    l->n_in = nin, l->n_out = nout, l->bits = bits;
    double a = 1.5 / sqrt((double)nin);
    l->w = rnd_vec(r, nout * nin, -a, a);
    l->b = rnd_vec(r, nout, -0.2, 0.2);
}

void tr_fm_add_bn(tr_fmodel *m, tr_rng *r, size_t c)
{
    tr_flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = QRT_LAYER_BATCHNORM;
    l->n_in = l->n_out = c;
    l->gamma = rnd_vec(r, c, 0.5, 1.5);
    l->gamma[0] = -l->gamma[0]; /* a negative γ: negative multipliers */
    l->beta = rnd_vec(r, c, -0.3, 0.3);
    l->mean = rnd_vec(r, c, -0.3, 0.3);
    l->var = rnd_vec(r, c, 0.3, 2.0);
    l->eps = 1e-3;
}

void tr_fm_add_act(tr_fmodel *m, tr_rng *r, int kind, size_t c)
{
    tr_flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->n_in = l->n_out = c;
    if (kind == QRT_LAYER_PRELU)
        l->alpha = rnd_vec(r, c, 0.05, 0.4);
}

void tr_fm_add_gru(tr_fmodel *m, tr_rng *r, size_t f, size_t h, int ret_seq, unsigned bits,
                   unsigned bits_h)
{
    tr_flayer *l = &m->L[m->n++];
    memset(l, 0, sizeof *l);
    l->kind = QRT_LAYER_GRU;
    l->n_in = f, l->n_out = h, l->ret_seq = ret_seq, l->bits = bits, l->bits_h = bits_h;
    double a = 1.5 / sqrt((double)f), ah = 1.2 / sqrt((double)h);
    l->w = rnd_vec(r, 3 * h * f, -a, a);
    l->wh = rnd_vec(r, 3 * h * h, -ah, ah);
    l->b = rnd_vec(r, 3 * h, -0.3, 0.3);
    l->bh = rnd_vec(r, 3 * h, -0.3, 0.3);
}

void tr_fm_free(tr_fmodel *m)
{
    for (size_t i = 0; i < m->n; i++) {
        tr_flayer *l = &m->L[i];
        double *d[] = {l->w, l->wh, l->b, l->bh, l->gamma, l->beta, l->mean, l->var, l->alpha,
                       l->wq, l->whq};
        for (size_t k = 0; k < sizeof d / sizeof d[0]; k++)
            free(d[k]);
        free(l->qw);
        free(l->qwh);
        free(l->ib);
        free(l->ibh);
        free(l->ioff);
        free(l->rq);
        free(l->rqh);
    }
    m->n = 0;
}

/* Quantize a matrix to N bits, the grid scaled to its range: levels q, scale s, w ≈ q·s.
 * (A trained regularized matrix would use s = 1/M; random weights need their own range.) */
static void quant_matrix(const double *w, size_t n, unsigned bits, int8_t **q, double **wq,
                         double *s)
{
    *q = tr_xcalloc(n, 1);
    *wq = tr_xcalloc(n, sizeof **wq);
    double mx = 0, ma = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs(w[i]));
        ma += fabs(w[i]);
    }
    if (bits == 1) {
        *s = ma / (double)n;
        for (size_t i = 0; i < n; i++)
            (*q)[i] = w[i] >= 0 ? 1 : -1;
    } else {
        int M = (1 << (bits - 1)) - 1;
        *s = mx / M;
        for (size_t i = 0; i < n; i++) {
            long v = lround(w[i] / *s);
            (*q)[i] = (int8_t)(v > M ? M : (v < -M ? -M : v));
        }
    }
    for (size_t i = 0; i < n; i++)
        (*wq)[i] = (*q)[i] * *s;
}

static double sigm(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* Float forward of one layer over a sequence x (t, n_in) → y (t_out, n_out), malloc'd.
 * fq: use the dequantized weights. */
static double *flayer_fwd(const tr_flayer *l, const double *x, size_t t, int fq, size_t *to)
{
    size_t ni = l->n_in, no = l->n_out;
    *to = t_out(l, t);
    double *y = tr_xcalloc(*to * no, sizeof *y);
    const double *w = fq && l->wq ? l->wq : l->w;
    const double *wh = fq && l->whq ? l->whq : l->wh;
    switch (l->kind) {
    case QRT_LAYER_DENSE:
        for (size_t s = 0; s < t; s++)
            for (size_t o = 0; o < no; o++) {
                double a = l->b[o];
                for (size_t i = 0; i < ni; i++)
                    a += w[o * ni + i] * x[s * ni + i];
                y[s * no + o] = a;
            }
        break;
    case QRT_LAYER_CONV1D: {
        size_t pad = l->causal ? span_of(l) - 1 : 0;
        for (size_t s = 0; s < *to; s++)
            for (size_t o = 0; o < no; o++) {
                double a = l->b[o];
                for (size_t j = 0; j < l->k; j++) {
                    long src = (long)(s * l->stride + j * l->dil) - (long)pad;
                    if (src < 0)
                        continue;
                    for (size_t c = 0; c < ni; c++)
                        a += w[o * l->k * ni + j * ni + c] * x[(size_t)src * ni + c];
                }
                y[s * no + o] = a;
            }
        break;
    }
    case QRT_LAYER_BATCHNORM:
        for (size_t s = 0; s < t; s++)
            for (size_t c = 0; c < ni; c++)
                y[s * no + c] = l->gamma[c] * (x[s * ni + c] - l->mean[c]) / sqrt(l->var[c] + l->eps) +
                                l->beta[c];
        break;
    case QRT_LAYER_RELU:
        for (size_t i = 0; i < t * ni; i++)
            y[i] = x[i] > 0 ? x[i] : 0;
        break;
    case QRT_LAYER_PRELU:
        for (size_t s = 0; s < t; s++)
            for (size_t c = 0; c < ni; c++) {
                double v = x[s * ni + c];
                y[s * no + c] = v >= 0 ? v : l->alpha[c] * v;
            }
        break;
    case QRT_LAYER_GRU: {
        size_t H = no;
        double *h = tr_xcalloc(H, sizeof *h), *hn = tr_xcalloc(H, sizeof *hn);
        for (size_t s = 0; s < t; s++) {
            for (size_t j = 0; j < H; j++) {
                double gi[3], gh[3];
                for (int q = 0; q < 3; q++) {
                    size_t row = (size_t)q * H + j;
                    gi[q] = l->b[row];
                    gh[q] = l->bh[row];
                    for (size_t i = 0; i < ni; i++)
                        gi[q] += w[row * ni + i] * x[s * ni + i];
                    for (size_t i = 0; i < H; i++)
                        gh[q] += wh[row * H + i] * h[i];
                }
                double z = sigm(gi[0] + gh[0]), rr = sigm(gi[1] + gh[1]);
                double n = tanh(gi[2] + rr * gh[2]);
                hn[j] = (1 - z) * n + z * h[j];
            }
            memcpy(h, hn, H * sizeof *h);
            if (l->ret_seq)
                memcpy(y + s * H, h, H * sizeof *h);
        }
        if (!l->ret_seq)
            memcpy(y, h, H * sizeof *h);
        free(h);
        free(hn);
        break;
    }
    }
    return y;
}

/* Whole model forward: the last layer's output sequence (*to frames); absmax[i] gets the
 * max |output| of layer i (if non-NULL, accumulated). */
static double *fmodel_fwd(const tr_fmodel *m, const double *x, int fq, size_t *to, double *absmax)
{
    size_t t = m->t;
    double *cur = tr_xcalloc(t * m->f, sizeof *cur);
    memcpy(cur, x, t * m->f * sizeof *cur);
    for (size_t i = 0; i < m->n; i++) {
        size_t tn;
        double *y = flayer_fwd(&m->L[i], cur, t, fq, &tn);
        if (absmax)
            for (size_t k = 0; k < tn * m->L[i].n_out; k++)
                absmax[i] = fmax(absmax[i], fabs(y[k]));
        free(cur);
        cur = y;
        t = tn;
    }
    *to = t;
    return cur;
}

static int is_linear(int kind)
{
    return kind == QRT_LAYER_DENSE || kind == QRT_LAYER_CONV1D || kind == QRT_LAYER_GRU;
}

/* The bound for the tensor entering layer i: limited by the first weighted layer reading it
 * through scale-preserving layers (relu, prelu), with half the accumulator left for the bias;
 * at most 2^22. */
static int32_t bound_for(const tr_fmodel *m, size_t i)
{
    int64_t A = 1 << 22;
    for (; i < m->n; i++) {
        const tr_flayer *l = &m->L[i];
        if (l->kind == QRT_LAYER_RELU || l->kind == QRT_LAYER_PRELU)
            continue;
        if (is_linear(l->kind)) {
            int64_t l1 = qrt_l1_max(l->qw, l->kind == QRT_LAYER_GRU ? 3 * l->n_out : l->n_out,
                                    l->kind == QRT_LAYER_CONV1D ? l->k * l->n_in : l->n_in);
            int64_t lim = (INT32_MAX / 2) / (l1 > 0 ? l1 : 1);
            if (lim < A)
                A = lim;
        }
        break;
    }
    if (m->acap > 0 && A > m->acap)
        A = m->acap;
    return (int32_t)A;
}

/* m->m15: real rounded to 15 significant bits first (export/exporter.c snap15) */
static void rq_of(const tr_fmodel *m, double real, qrt_rq *q)
{
    int e;
    double f = frexp(real, &e);
    if (m->m15 && real != 0.0)
        real = ldexp(round(ldexp(f, 15)), e - 15);
    ck_assert_int_eq(qrt_quantize_multiplier(real, &q->mult, &q->shift), QRT_OK);
    ck_assert(!m->m15 || (q->mult & 0xFFFF) == 0);
}

static int32_t round_i32(double v)
{
    ck_assert(fabs(v) < 2147483647.0);
    return (int32_t)lround(v);
}

/* Quantize weights, calibrate activations on the inputs xs (n_x sequences), choose scales and
 * bounds, fill every layer's integer parameters. fold: fold a batchnorm after conv/dense. */
void tr_fmodel_quantize(tr_fmodel *m, const double *xs, size_t n_x, int fold)
{
    for (size_t i = 0; i < m->n; i++) {
        tr_flayer *l = &m->L[i];
        if (is_linear(l->kind)) {
            size_t rows = l->kind == QRT_LAYER_GRU ? 3 * l->n_out : l->n_out;
            size_t cols = l->kind == QRT_LAYER_CONV1D ? l->k * l->n_in : l->n_in;
            quant_matrix(l->w, rows * cols, l->bits, &l->qw, &l->wq, &l->sw);
            if (l->kind == QRT_LAYER_GRU)
                quant_matrix(l->wh, rows * l->n_out, l->bits_h, &l->qwh, &l->whq, &l->swh);
        }
        if (fold && (l->kind == QRT_LAYER_DENSE || l->kind == QRT_LAYER_CONV1D) && i + 1 < m->n &&
            m->L[i + 1].kind == QRT_LAYER_BATCHNORM) {
            l->fold = 1;
            m->L[i + 1].folded = 1;
        }
    }
    double absmax[TR_MAXL] = {0}, inmax = 0;
    for (size_t k = 0; k < n_x; k++) {
        size_t to;
        const double *x = xs + k * m->t * m->f;
        for (size_t i = 0; i < m->t * m->f; i++)
            inmax = fmax(inmax, fabs(x[i]));
        free(fmodel_fwd(m, x, 1, &to, absmax));
    }
    m->in_max = bound_for(m, 0);
    m->in_scale = inmax * 1.05 / m->in_max;
    double s_prev = m->in_scale;
    int32_t a_prev = m->in_max;
    for (size_t i = 0; i < m->n; i++) {
        tr_flayer *l = &m->L[i];
        size_t no = l->n_out;
        if (l->folded) { /* output of the folded pair: the batchnorm's */
            l->s = s_prev;
            l->A = a_prev;
            continue;
        }
        if (l->kind == QRT_LAYER_RELU || l->kind == QRT_LAYER_PRELU) {
            l->s = s_prev;
            l->A = a_prev;
        } else if (l->kind == QRT_LAYER_GRU) {
            l->s = 1.0 / 32768;
            l->A = 32768;
        } else {
            size_t src = l->fold ? i + 1 : i;
            l->A = bound_for(m, src + 1);
            l->s = fmax(absmax[src], 1e-6) * 1.1 / l->A;
        }
        switch (l->kind) {
        case QRT_LAYER_DENSE:
        case QRT_LAYER_CONV1D: {
            double sacc = s_prev * l->sw;
            l->ib = tr_xcalloc(no, sizeof *l->ib);
            for (size_t o = 0; o < no; o++)
                l->ib[o] = round_i32(l->b[o] / sacc);
            l->nrq = (m->per_channel || l->fold) ? (uint32_t)no : 1;
            l->rq = tr_xcalloc(l->nrq, sizeof *l->rq);
            if (l->fold) {
                const tr_flayer *bn = &m->L[i + 1];
                l->ioff = tr_xcalloc(no, sizeof *l->ioff);
                for (size_t c = 0; c < no; c++) {
                    double g = bn->gamma[c] / sqrt(bn->var[c] + bn->eps);
                    rq_of(m, sacc * g / l->s, &l->rq[c]);
                    l->ioff[c] = round_i32((bn->beta[c] - g * bn->mean[c]) / l->s);
                }
            } else {
                for (uint32_t c = 0; c < l->nrq; c++)
                    rq_of(m, sacc / l->s, &l->rq[c]);
            }
            break;
        }
        case QRT_LAYER_BATCHNORM:
            l->nrq = (uint32_t)no;
            l->rq = tr_xcalloc(no, sizeof *l->rq);
            l->ioff = tr_xcalloc(no, sizeof *l->ioff);
            for (size_t c = 0; c < no; c++) {
                double g = l->gamma[c] / sqrt(l->var[c] + l->eps);
                rq_of(m, g * s_prev / l->s, &l->rq[c]);
                l->ioff[c] = round_i32((l->beta[c] - g * l->mean[c]) / l->s);
            }
            break;
        case QRT_LAYER_PRELU:
            l->nrq = (uint32_t)no;
            l->rq = tr_xcalloc(no, sizeof *l->rq);
            for (size_t c = 0; c < no; c++)
                rq_of(m, l->alpha[c], &l->rq[c]);
            break;
        case QRT_LAYER_GRU: {
            size_t h3 = 3 * no;
            double si = s_prev * l->sw, sh = l->swh / 32768.0;
            l->ib = tr_xcalloc(h3, sizeof *l->ib);
            l->ibh = tr_xcalloc(h3, sizeof *l->ibh);
            for (size_t k = 0; k < h3; k++) {
                int zr = m->m15 && k < 2 * no; /* z, r: both biases on the input side */
                l->ib[k] = round_i32((l->b[k] + (zr ? l->bh[k] : 0.0)) / si);
                l->ibh[k] = zr ? 0 : round_i32(l->bh[k] / sh);
                if (m->m15) /* even, one beyond int16: the compiled form's int16 b/2 */
                    l->ib[k] = k == 0 ? 40000 : l->ib[k] / 2 * 2;
            }
            l->nrq = l->nrqh = m->per_channel ? (uint32_t)h3 : 1;
            l->rq = tr_xcalloc(l->nrq, sizeof *l->rq);
            l->rqh = tr_xcalloc(l->nrqh, sizeof *l->rqh);
            for (uint32_t k = 0; k < l->nrq; k++) {
                rq_of(m, si * 65536.0, &l->rq[k]);
                rq_of(m, sh * 65536.0, &l->rqh[k]);
            }
            break;
        }
        default:
            break;
        }
        s_prev = l->s;
        a_prev = l->A;
    }
}

/* Build the blob of a quantized float model. */
uint8_t *tr_fmodel_build(const tr_fmodel *m, size_t *len, qrt_status want)
{
    qrt_builder *b;
    float *mean = NULL, *std = NULL;
    qrt_builder_input in = {.seq_len = (uint32_t)m->t, .n_features = (uint32_t)m->f,
                            .in_max = m->in_max, .in_scale = m->in_scale, .mean = mean, .std = std};
    ck_assert_int_eq(qrt_builder_new(&b, &in), QRT_OK);
    ck_assert_int_eq(qrt_builder_set_generator(b, "qreg test"), QRT_OK);
    ck_assert_int_eq(qrt_builder_set_sparse(b, m->sparse), QRT_OK);
    for (size_t i = 0; i < m->n; i++) {
        const tr_flayer *l = &m->L[i];
        uint32_t ni = (uint32_t)l->n_in, no = (uint32_t)l->n_out;
        qrt_status st = QRT_OK;
        if (l->folded)
            continue;
        switch (l->kind) {
        case QRT_LAYER_DENSE: {
            qrt_builder_dense p = {ni, no, {l->bits, l->qw}, l->ib, l->rq, l->nrq, l->ioff, l->A};
            st = qrt_builder_add_dense(b, &p);
            break;
        }
        case QRT_LAYER_CONV1D: {
            qrt_builder_conv1d p = {ni, no, (uint32_t)l->k, (uint32_t)l->stride, (uint32_t)l->dil,
                                    l->causal ? QRT_PAD_CAUSAL : QRT_PAD_VALID, {l->bits, l->qw},
                                    l->ib, l->rq, l->nrq, l->ioff, l->A};
            st = qrt_builder_add_conv1d(b, &p);
            break;
        }
        case QRT_LAYER_BATCHNORM: {
            qrt_builder_batchnorm p = {ni, l->rq, l->nrq, l->ioff, l->A};
            st = qrt_builder_add_batchnorm(b, &p);
            break;
        }
        case QRT_LAYER_RELU:
            st = qrt_builder_add_relu(b, ni, l->A);
            break;
        case QRT_LAYER_PRELU: {
            qrt_builder_prelu p = {ni, l->rq, l->nrq, l->A};
            st = qrt_builder_add_prelu(b, &p);
            break;
        }
        case QRT_LAYER_GRU: {
            qrt_builder_gru p = {ni, no, l->ret_seq, {l->bits, l->qw}, {l->bits_h, l->qwh},
                                 l->ib, l->ibh, l->rq, l->nrq, l->rqh, l->nrqh};
            st = qrt_builder_add_gru(b, &p);
            break;
        }
        }
        ck_assert_msg(st == QRT_OK, "add layer %zu: %s", i, qrt_strerror(st));
    }
    ck_assert_int_eq(qrt_builder_set_output_scale(b, m->L[m->n - 1].s), QRT_OK);
    uint8_t *blob = NULL;
    qrt_status st = qrt_builder_finish(b, &blob, len);
    ck_assert_msg(st == want, "finish: %s", qrt_strerror(st));
    qrt_builder_free(b);
    return blob;
}

/* ---- an independent whole-sequence integer reference --------------------------------
 * Layer by layer over whole tensors, with explicit padding, the _ref dot products and the
 * scalar helpers: the same arithmetic as the runtime, none of its streaming machinery. */

static int32_t iclamp(int64_t v, int64_t a)
{
    return (int32_t)(v > a ? a : (v < -a ? -a : v));
}

static int32_t ref_dot(const int8_t *q, const int32_t *x, size_t n, unsigned bits)
{
    /* through the packed _ref twins */
    unsigned c = qrt_container_bits(bits);
    uint8_t *pk = tr_xcalloc(QRT_ROW_BYTES(n, c), 1);
    ck_assert_uint_ne(qrt_pack_rows(pk, q, 1, n, bits), 0);
    int32_t v = c == 1 ? qrt_dot_s1_ref(pk, x, n)
                       : c == 2 ? qrt_dot_s2_ref(pk, x, n)
                                : c == 4 ? qrt_dot_s4_ref(pk, x, n) : qrt_dot_s8_ref(pk, x, n);
    free(pk);
    return v;
}

static int32_t ref_out(const tr_flayer *l, size_t o, int64_t acc)
{
    const qrt_rq *q = &l->rq[l->nrq > 1 ? o : 0];
    int64_t v = qrt_requant((int32_t)acc, q->mult, q->shift);
    if (l->ioff)
        v = iclamp(v, QRT_ACT_MAX) + l->ioff[o];
    return iclamp(v, l->A);
}

static int32_t *ilayer_fwd(const tr_flayer *l, const int32_t *x, size_t t, size_t *to)
{
    size_t ni = l->n_in, no = l->n_out;
    *to = t_out(l, t);
    int32_t *y = tr_xcalloc(*to * no, sizeof *y);
    switch (l->kind) {
    case QRT_LAYER_DENSE:
        for (size_t s = 0; s < t; s++)
            for (size_t o = 0; o < no; o++)
                y[s * no + o] = ref_out(l, o, (int64_t)ref_dot(l->qw + o * ni, x + s * ni, ni, l->bits) + l->ib[o]);
        break;
    case QRT_LAYER_CONV1D: {
        size_t pad = l->causal ? span_of(l) - 1 : 0, kk = l->k * ni;
        int32_t *win = tr_xcalloc(kk, sizeof *win);
        for (size_t s = 0; s < *to; s++) {
            for (size_t j = 0; j < l->k; j++) {
                long src = (long)(s * l->stride + j * l->dil) - (long)pad;
                for (size_t c = 0; c < ni; c++)
                    win[j * ni + c] = src < 0 ? 0 : x[(size_t)src * ni + c];
            }
            for (size_t o = 0; o < no; o++)
                y[s * no + o] = ref_out(l, o, (int64_t)ref_dot(l->qw + o * kk, win, kk, l->bits) + l->ib[o]);
        }
        free(win);
        break;
    }
    case QRT_LAYER_BATCHNORM:
        for (size_t s = 0; s < t; s++)
            for (size_t c = 0; c < ni; c++) {
                int64_t v = qrt_requant(x[s * ni + c], l->rq[c].mult, l->rq[c].shift);
                y[s * no + c] = iclamp(iclamp(v, QRT_ACT_MAX) + l->ioff[c], l->A);
            }
        break;
    case QRT_LAYER_RELU:
        for (size_t i = 0; i < t * ni; i++)
            y[i] = x[i] < 0 ? 0 : iclamp(x[i], l->A);
        break;
    case QRT_LAYER_PRELU:
        for (size_t s = 0; s < t; s++)
            for (size_t c = 0; c < ni; c++) {
                int32_t v = x[s * ni + c];
                y[s * no + c] = iclamp(v >= 0 ? v : qrt_requant(v, l->rq[c].mult, l->rq[c].shift), l->A);
            }
        break;
    case QRT_LAYER_GRU: {
        size_t H = no;
        int32_t *h = tr_xcalloc(H, sizeof *h), *hn = tr_xcalloc(H, sizeof *hn);
        for (size_t s = 0; s < t; s++) {
            for (size_t j = 0; j < H; j++) {
                int32_t gi[3], gh[3];
                for (int q = 0; q < 3; q++) {
                    size_t row = (size_t)q * H + j;
                    const qrt_rq *a = &l->rq[l->nrq > 1 ? row : 0], *b = &l->rqh[l->nrqh > 1 ? row : 0];
                    gi[q] = iclamp(qrt_requant(ref_dot(l->qw + row * ni, x + s * ni, ni, l->bits) + l->ib[row],
                                               a->mult, a->shift), QRT_GATE_MAX);
                    gh[q] = iclamp(qrt_requant(ref_dot(l->qwh + row * H, h, H, l->bits_h) + l->ibh[row],
                                               b->mult, b->shift), QRT_GATE_MAX);
                }
                int64_t z = qrt_sigmoid_q16(gi[0] + gh[0]), rr = qrt_sigmoid_q16(gi[1] + gh[1]);
                int64_t rh = (rr * gh[2] + 16384) >> 15;
                int64_t n = qrt_tanh_q16((int32_t)(gi[2] + rh));
                int64_t v = ((32768 - z) * n + z * h[j] + 16384) >> 15;
                hn[j] = (int32_t)(v > QRT_STATE_MAX ? QRT_STATE_MAX : v);
            }
            memcpy(h, hn, H * sizeof *h);
            if (l->ret_seq)
                memcpy(y + s * H, h, H * sizeof *h);
        }
        if (!l->ret_seq)
            memcpy(y, h, H * sizeof *h);
        free(h);
        free(hn);
        break;
    }
    }
    return y;
}

static int32_t *imodel_fwd(const tr_fmodel *m, const int32_t *xq, size_t *to)
{
    size_t t = m->t;
    int32_t *cur = tr_xcalloc(t * m->f, sizeof *cur);
    for (size_t i = 0; i < t * m->f; i++)
        cur[i] = iclamp(xq[i], m->in_max);
    for (size_t i = 0; i < m->n; i++) {
        if (m->L[i].folded)
            continue;
        size_t tn;
        int32_t *y = ilayer_fwd(&m->L[i], cur, t, &tn);
        free(cur);
        cur = y;
        t = tn;
    }
    *to = t;
    return cur;
}

int32_t *tr_quantize_x(const tr_fmodel *m, const double *x)
{
    int32_t *q = tr_xcalloc(m->t * m->f, sizeof *q);
    for (size_t i = 0; i < m->t * m->f; i++)
        q[i] = iclamp(llround(x[i] / m->in_scale), m->in_max);
    return q;
}

void tr_load_ok(tr_loaded *ld, const uint8_t *blob, size_t len)
{
    qrt_status st = qrt_model_load(&ld->m, blob, len);
    ck_assert_msg(st == QRT_OK, "load: %s", qrt_strerror(st));
    ld->scratch_size = qrt_scratch_size(&ld->m);
    ck_assert_uint_gt(ld->scratch_size, 0);
    ld->scratch = tr_xcalloc(1, ld->scratch_size); /* exactly that many bytes: ASan checks them */
}

/* Push every frame; collect the outputs emitted (n_emit × n_out). Checks NOT_READY before
 * the first output and that logits after the last frame equal qrt_run. */
static int32_t *stream_all(tr_loaded *ld, const int32_t *xq, size_t *n_emit, int32_t *final)
{
    const qrt_model *m = &ld->m;
    qrt_stream s;
    ck_assert_int_eq(qrt_stream_init(&s, m, ld->scratch, ld->scratch_size), QRT_OK);
    int32_t *out = tr_xcalloc((size_t)m->seq_len * m->n_outputs, sizeof *out);
    size_t k = 0;
    for (uint32_t t = 0; t < m->seq_len; t++) {
        uint32_t before = s.emitted;
        ck_assert_int_eq(qrt_stream_push(&s, xq + (size_t)t * m->n_features), QRT_OK);
        if (s.emitted == before) {
            if (s.emitted == 0)
                ck_assert_int_eq(qrt_stream_logits(&s, out), QRT_ERR_NOT_READY);
            continue;
        }
        ck_assert_int_eq(qrt_stream_logits(&s, out + k * m->n_outputs), QRT_OK);
        k++;
    }
    ck_assert_int_eq(qrt_stream_logits(&s, final), QRT_OK);
    *n_emit = k;
    return out;
}

/* Run the blob of m on inputs xs; compare (a) streaming outputs with the whole-sequence
 * integer reference (bit exact), (b) qrt_run with the final streamed output (bit exact),
 * (c) the dequantized outputs with the float model (fq: fake-quantized) on the dequantized
 * input (deq_in) or on the raw input. */
tr_cmp_stats tr_check_model(const tr_fmodel *m, const uint8_t *blob, size_t len, const double *xs,
                            size_t n_x, int deq_in)
{
    tr_loaded ld;
    tr_load_ok(&ld, blob, len);
    tr_cmp_stats cs = {0};
    size_t no = ld.m.n_outputs;
    int32_t *logits = tr_xcalloc(no, sizeof *logits), *final = tr_xcalloc(no, sizeof *final);
    double *xd = tr_xcalloc(m->t * m->f, sizeof *xd);
    const double s_out = m->L[m->n - 1].s;
    for (size_t k = 0; k < n_x; k++) {
        const double *x = xs + k * m->t * m->f;
        int32_t *xq = tr_quantize_x(m, x);
        size_t n_emit, t_ref;
        int32_t *seq = stream_all(&ld, xq, &n_emit, final);
        int32_t *ref = imodel_fwd(m, xq, &t_ref);
        /* after a last-state GRU only the final output exists; else every emitted frame */
        int head = 0;
        for (size_t i = 0; i < m->n; i++)
            head |= m->L[i].kind == QRT_LAYER_GRU && !m->L[i].ret_seq;
        if (!head) {
            ck_assert_uint_eq(n_emit, t_ref);
            ck_assert_mem_eq(seq, ref, t_ref * no * sizeof *ref);
        }
        ck_assert_mem_eq(final, ref + (t_ref - 1) * no, no * sizeof *ref);
        ck_assert_int_eq(qrt_run(&ld.m, xq, ld.scratch, ld.scratch_size, logits), QRT_OK);
        ck_assert_mem_eq(logits, final, no * sizeof *logits);
        /* against float */
        for (size_t i = 0; i < m->t * m->f; i++)
            xd[i] = deq_in ? xq[i] * m->in_scale : x[i];
        size_t tf;
        double *yf = fmodel_fwd(m, xd, 1, &tf, NULL);
        ck_assert_uint_eq(tf, t_ref);
        for (size_t i = 0; i < tf * no; i++) {
            cs.max_err = fmax(cs.max_err, fabs(ref[i] * s_out - yf[i]));
            cs.range = fmax(cs.range, fabs(yf[i]));
            cs.n++;
        }
        if (no > 1) {
            const double *lastf = yf + (tf - 1) * no;
            size_t af = 0;
            double top = -INFINITY, second = -INFINITY;
            for (size_t i = 0; i < no; i++)
                if (lastf[i] > top) {
                    second = top;
                    top = lastf[i];
                    af = i;
                } else if (lastf[i] > second) {
                    second = lastf[i];
                }
            if (top - second > 0.01 * cs.range) {
                cs.argmax_n++;
                cs.argmax_same += qrt_argmax(logits, no) == af;
            }
        }
        free(yf);
        free(ref);
        free(seq);
        free(xq);
    }
    free(xd);
    free(final);
    free(logits);
    free(ld.scratch);
    return cs;
}

double *tr_rnd_inputs(tr_rng *r, size_t n, double amp)
{
    return rnd_vec(r, n, -amp, amp);
}

/* ---- models, blobs and pruning that several suites share ---------------------------- */

/* bts: Conv1D(6, 5, valid) → BN → ReLU|PReLU → GRU(5) → Dense(2), input 40 × 3. */
void tr_make_bts(tr_fmodel *m, tr_rng *r, unsigned bits, int prelu)
{
    memset(m, 0, sizeof *m);
    m->t = 40;
    m->f = 3;
    tr_fm_add_conv(m, r, 3, 6, 5, 1, 1, 0, bits);
    tr_fm_add_bn(m, r, 6);
    tr_fm_add_act(m, r, prelu ? QRT_LAYER_PRELU : QRT_LAYER_RELU, 6);
    tr_fm_add_gru(m, r, 6, 5, 0, bits, bits);
    tr_fm_add_dense(m, r, 5, 2, bits);
}

uint8_t *tr_bts_blob(size_t *len, tr_fmodel *m, int prelu)
{
    tr_rng r = {40};
    tr_make_bts(m, &r, 4, prelu);
    m->L[3].bits = 8; /* hybrid: an 8-bit GRU input kernel */
    double *xs = tr_rnd_inputs(&r, 4 * m->t * m->f, 2.0);
    tr_fmodel_quantize(m, xs, 4, 0);
    free(xs);
    return tr_fmodel_build(m, len, QRT_OK);
}

/* Load a mutated copy (8-aligned); never QRT_OK. Returns the status. */
qrt_status tr_load_copy(const uint8_t *b, size_t len)
{
    uint8_t *c = tr_xcalloc(len ? len : 1, 1);
    memcpy(c, b, len);
    qrt_model m;
    qrt_status st = qrt_model_load(&m, c, len);
    if (st != QRT_OK)
        for (size_t i = 0; i < sizeof m; i++)
            ck_assert_uint_eq(((uint8_t *)&m)[i], 0);
    free(c);
    return st;
}

/* Prune a quantized model: each level of every matrix of ≥ 2 bits becomes 0 with probability
 * frac (its fake-quantized float weight too, so the float model stays the reference). */
void tr_fm_prune(tr_fmodel *m, tr_rng *r, double frac)
{
    for (size_t i = 0; i < m->n; i++) {
        tr_flayer *l = &m->L[i];
        size_t nw = 0, nwh = 0;
        if (l->kind == QRT_LAYER_DENSE)
            nw = l->n_out * l->n_in;
        else if (l->kind == QRT_LAYER_CONV1D)
            nw = l->n_out * l->k * l->n_in;
        else if (l->kind == QRT_LAYER_GRU)
            nw = 3 * l->n_out * l->n_in, nwh = 3 * l->n_out * l->n_out;
        for (size_t j = 0; l->bits >= 2 && j < nw; j++)
            if (tr_rng_unif(r, 0, 1) < frac)
                l->qw[j] = 0, l->wq[j] = 0;
        for (size_t j = 0; l->bits_h >= 2 && j < nwh; j++)
            if (tr_rng_unif(r, 0, 1) < frac)
                l->qwh[j] = 0, l->whq[j] = 0;
    }
}
