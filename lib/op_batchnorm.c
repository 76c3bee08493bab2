/* Batch normalization over every axis but the last (the channels), Keras conventions.
 *
 * x (..., C) is read as N = size / C rows of C channels. gamma, beta, running_mean and
 * running_var are (C). With μ, σ² the statistics used and x̂ = (x - μ) / sqrt(σ² + ε):
 *   y = γ ⊙ x̂ + β
 * Training mode (qr_graph_training at forward time): μ = mean over the N rows, σ² = the
 * biased variance (divide by N), and the running statistics are updated in forward,
 *   running_mean = m · running_mean + (1 - m) · μ
 *   running_var  = m · running_var  + (1 - m) · σ²        (biased σ², as Keras)
 * Eval mode: μ = running_mean, σ² = running_var, nothing is updated.
 * Keras' BatchNormalization (keras/src/layers/normalization/batch_normalization.py) takes its
 * variance from ops.moments, which divides by N, and feeds that same value to the moving
 * variance; PyTorch instead feeds the unbiased N/(N-1) variance to running_var and writes
 * momentum the other way round (PyTorch momentum 0.01 = Keras / qreg momentum 0.99).
 * Training mode's output never reads the running statistics, so repeated forward passes (a
 * finite-difference check) change the buffers but not the output.
 *
 * Backward (the mode is the one recorded by the last forward):
 *   dβ += Σ dy,  dγ += Σ dy ⊙ x̂
 *   training: dx += γ / (N sqrt(σ² + ε)) ⊙ (N dy - Σ dy - x̂ ⊙ Σ (dy ⊙ x̂))  (through μ, σ²)
 *   eval:     dx += γ / sqrt(σ² + ε) ⊙ dy                                 (constants)
 * Sums over N run in double, the per-element passes in float. running_mean/var must be non-trainable buffers (qr_param with
 * buffer = 1): they are written by forward, and an optimizer must not fight over them.
 *
 * Inputs: in[0] = x, in[1] = gamma, in[2] = beta, in[3] = running_mean, in[4] = running_var.
 * fp[0] = momentum m in [0, 1], fp[1] = ε > 0.
 * aux: [0] = 1 if the last forward used batch statistics, then μ and 1/sqrt(σ²+ε) (see bn_aux). */
#include <math.h>
#include <string.h>
#include "ops.h"

static qr_status bn_shape(qr_graph *g, qr_node *n)
{
    const qr_node *x = n->in[0];
    if (x->ndim < 2)
        return qr_graph_fail(g, QR_ERR_SHAPE,
                             "batchnorm: input %s has %d dimension(s); need (..., C) with a batch",
                             x->name, x->ndim);
    size_t c = x->shape[x->ndim - 1];
    static const char *const what[5] = {"x", "gamma", "beta", "running_mean", "running_var"};
    for (int i = 1; i < 5; i++) {
        const qr_node *p = n->in[i];
        if (p->ndim != 1 || p->batched || p->shape[0] != c)
            return qr_graph_fail(g, QR_ERR_SHAPE, "batchnorm: %s %s must be (C = %zu)", what[i],
                                 p->name, c);
    }
    for (int i = 3; i < 5; i++)
        if (n->in[i]->op != QR_OP_PARAM || n->in[i]->trainable)
            return qr_graph_fail(g, QR_ERR_ARG,
                                 "batchnorm: %s %s must be a non-trainable buffer "
                                 "(qr_param with buffer = 1)",
                                 what[i], n->in[i]->name);
    n->ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++)
        n->shape[i] = x->shape[i];
    n->batched = x->batched;
    return QR_OK;
}

/* The per-element passes walk the data in blocks of W = R·C values (R whole rows, W >= 64
 * and a multiple of 8 when a small R allows it) against per-channel arrays repeated R times:
 * with C = 6 (bts) a loop over one row's channels is 6 iterations and never vector code. */
static size_t bn_width(size_t c)
{
    size_t r = (64 + c - 1) / c, r_max = r + 8;
    while ((r * c) % 8 != 0 && r < r_max)
        r++;
    if ((r * c) % 8 != 0)
        r = (64 + c - 1) / c;
    return r * c;
}

/* aux, doubles: [0] = mode, μ (C), 1/sqrt(σ² + ε) (C), two (C) sums, three (W) blocks
 * (accumulators and the repeated μ); then floats: four (W) repeated coefficients. */
static size_t bn_aux(const qr_node *n)
{
    size_t c = n->in[0]->shape[n->in[0]->ndim - 1], w = bn_width(c);
    return (1 + 4 * c + 3 * w) * sizeof(double) + 4 * w * sizeof(float);
}

typedef struct bn_state {
    size_t c, w, total;
    double *mean, *istd, *s1, *s2; /* (C) */
    double *acc1, *acc2, *dmu;     /* (W) */
    float *fmu, *fa, *fb, *fc;     /* (W) */
} bn_state;

static inline QR_CLONE_INLINE bn_state bn_split(const qr_node *n)
{
    const qr_node *x = n->in[0];
    bn_state b;
    b.c = x->shape[x->ndim - 1];
    b.w = bn_width(b.c);
    b.total = qr_shape_size(x);
    double *d = (double *)n->aux + 1;
    b.mean = d;
    b.istd = d + b.c;
    b.s1 = d + 2 * b.c;
    b.s2 = d + 3 * b.c;
    b.acc1 = d + 4 * b.c;
    b.acc2 = b.acc1 + b.w;
    b.dmu = b.acc2 + b.w;
    float *f = (float *)(b.dmu + b.w);
    b.fmu = f;
    b.fa = f + b.w;
    b.fb = f + 2 * b.w;
    b.fc = f + 3 * b.w;
    return b;
}

/* dst (W) = src (C) repeated */
static inline QR_CLONE_INLINE void bn_rep_d(double *dst, const double *src, size_t c, size_t w)
{
    for (size_t i = 0; i < w; i++)
        dst[i] = src[i % c];
}

static inline QR_CLONE_INLINE void bn_rep_f(float *dst, const double *src, size_t c, size_t w)
{
    for (size_t i = 0; i < w; i++)
        dst[i] = (float)src[i % c];
}

/* out (C) = Σ over the R repeats of acc (W) */
static inline QR_CLONE_INLINE void bn_fold(double *out, const double *acc, size_t c, size_t w)
{
    for (size_t j = 0; j < c; j++)
        out[j] = 0.0;
    for (size_t i = 0; i < w; i++)
        out[i % c] += acc[i];
}

/* The per-element passes run in float with per-channel coefficients computed once (in double)
 * from the statistics: y = (x - μ) · a + β with a = γ / sqrt(σ² + ε). Only the sums over the N
 * rows run in double. */
QR_CLONES static void bn_forward(qr_graph *g, qr_node *n)
{
    const qr_node *x = n->in[0];
    const float *gamma = n->in[1]->x, *beta = n->in[2]->x;
    float *rmean = n->in[3]->x, *rvar = n->in[4]->x;
    float m = n->fp[0], eps = n->fp[1];
    bn_state s = bn_split(n);
    size_t c = s.c, w = s.w, total = s.total;
    double rows = (double)(total / c);
    int training = qr_graph_training(g);
    *(double *)n->aux = training;
    if (training) {
        /* two passes: mean, then the variance around it (no E[x²] - E[x]² cancellation) */
        double *restrict acc = s.acc1;
        for (size_t i = 0; i < w; i++)
            acc[i] = 0.0;
        for (size_t o = 0; o < total; o += w) {
            const float *restrict xo = x->x + o;
            size_t len = total - o < w ? total - o : w;
            for (size_t i = 0; i < len; i++)
                acc[i] += xo[i];
        }
        bn_fold(s.mean, acc, c, w);
        for (size_t j = 0; j < c; j++)
            s.mean[j] /= rows;
        bn_rep_d(s.dmu, s.mean, c, w);
        const double *restrict mu = s.dmu;
        for (size_t i = 0; i < w; i++)
            acc[i] = 0.0;
        for (size_t o = 0; o < total; o += w) {
            const float *restrict xo = x->x + o;
            size_t len = total - o < w ? total - o : w;
            for (size_t i = 0; i < len; i++) {
                double dv = xo[i] - mu[i];
                acc[i] += dv * dv;
            }
        }
        double *var = s.istd;
        bn_fold(var, acc, c, w);
        for (size_t j = 0; j < c; j++) {
            var[j] /= rows;
            rmean[j] = (float)(m * (double)rmean[j] + (1.0 - m) * s.mean[j]);
            rvar[j] = (float)(m * (double)rvar[j] + (1.0 - m) * var[j]);
            s.istd[j] = 1.0 / sqrt(var[j] + eps);
        }
    } else {
        for (size_t j = 0; j < c; j++) {
            s.mean[j] = rmean[j];
            s.istd[j] = 1.0 / sqrt((double)rvar[j] + eps);
        }
    }
    for (size_t i = 0; i < w; i++) {
        size_t j = i % c;
        s.fmu[i] = (float)s.mean[j];
        s.fa[i] = (float)(gamma[j] * s.istd[j]);
        s.fb[i] = beta[j];
    }
    const float *restrict mu = s.fmu, *restrict a = s.fa, *restrict b = s.fb;
    for (size_t o = 0; o < total; o += w) {
        const float *restrict xo = x->x + o;
        float *restrict yo = n->x + o;
        size_t len = total - o < w ? total - o : w;
        for (size_t i = 0; i < len; i++)
            yo[i] = (xo[i] - mu[i]) * a[i] + b[i];
    }
}

/* With a = γ / sqrt(σ² + ε), x̂ = (x - μ) / sqrt(σ² + ε), S1 = Σ dy, S2 = Σ dy ⊙ x̂:
 *   training  dx += a ⊙ dy + k ⊙ (x - μ) + e,  k = -a S2 / (N sqrt(σ² + ε)),  e = -a S1 / N
 *   eval      dx += a ⊙ dy
 * S2 is accumulated as Σ dy ⊙ (x - μ) in double (float products are exact in double). */
QR_CLONES static void bn_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *x = n->in[0], *gm = n->in[1], *bt = n->in[2];
    bn_state s = bn_split(n);
    size_t c = s.c, w = s.w, total = s.total;
    double rows = (double)(total / c);
    int training = *(const double *)n->aux != 0.0;
    const float *dy = n->g;
    double *restrict a1 = s.acc1, *restrict a2 = s.acc2;
    const double *restrict mu = s.dmu;
    bn_rep_d(s.dmu, s.mean, c, w);
    for (size_t i = 0; i < w; i++)
        a1[i] = a2[i] = 0.0;
    for (size_t o = 0; o < total; o += w) {
        const float *restrict dyo = dy + o, *restrict xo = x->x + o;
        size_t len = total - o < w ? total - o : w;
        for (size_t i = 0; i < len; i++) {
            double d = dyo[i];
            a1[i] += d;
            a2[i] += d * (xo[i] - mu[i]);
        }
    }
    bn_fold(s.s1, a1, c, w);
    bn_fold(s.s2, a2, c, w);
    for (size_t j = 0; j < c; j++)
        s.s2[j] *= s.istd[j]; /* Σ dy ⊙ x̂ */
    if (gm->g)
        for (size_t j = 0; j < c; j++)
            gm->g[j] += (float)s.s2[j];
    if (bt->g)
        for (size_t j = 0; j < c; j++)
            bt->g[j] += (float)s.s1[j];
    if (!x->g)
        return;
    const float *gamma = gm->x;
    for (size_t i = 0; i < w; i++) {
        size_t j = i % c;
        double a = gamma[j] * s.istd[j];
        s.fa[i] = (float)a;
        s.fb[i] = training ? (float)(-a * s.istd[j] * s.s2[j] / rows) : 0.0f;
        s.fc[i] = training ? (float)(-a * s.s1[j] / rows) : 0.0f;
    }
    bn_rep_f(s.fmu, s.mean, c, w);
    const float *restrict fm = s.fmu, *restrict ca = s.fa, *restrict ck = s.fb, *restrict ce = s.fc;
    for (size_t o = 0; o < total; o += w) {
        const float *restrict xo = x->x + o, *restrict dyo = dy + o;
        float *restrict dxo = x->g + o;
        size_t len = total - o < w ? total - o : w;
        if (training)
            for (size_t i = 0; i < len; i++)
                dxo[i] += ca[i] * dyo[i] + ck[i] * (xo[i] - fm[i]) + ce[i];
        else
            for (size_t i = 0; i < len; i++)
                dxo[i] += ca[i] * dyo[i];
    }
}

const qr_op_def qr_opdef_batchnorm = {
    .name = "batchnorm", .shape = bn_shape, .forward = bn_forward, .backward = bn_backward,
    .aux_bytes = bn_aux,
};

QR_API qr_node *qr_batchnorm(qr_graph *g, qr_node *x, qr_node *gamma, qr_node *beta,
                             qr_node *running_mean, qr_node *running_var, float momentum,
                             float eps)
{
    if (!g)
        return NULL;
    if (!(momentum >= 0.0f && momentum <= 1.0f) || !(eps > 0.0f) || isinf(eps)) {
        qr_graph_fail(g, QR_ERR_ARG,
                      "batchnorm: momentum %g must be in [0, 1] and eps %g finite and > 0",
                      (double)momentum, (double)eps);
        return NULL;
    }
    float fp[QR_NODE_NFP] = {momentum, eps};
    qr_node *in[5] = {x, gamma, beta, running_mean, running_var};
    return qr_graph_add_node(g, QR_OP_BATCHNORM, 5, in, NULL, fp);
}
