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
 * Sums over N run in double. running_mean/var must be non-trainable buffers (qr_param with
 * buffer = 1): they are written by forward, and an optimizer must not fight over them.
 *
 * Inputs: in[0] = x, in[1] = gamma, in[2] = beta, in[3] = running_mean, in[4] = running_var.
 * fp[0] = momentum m in [0, 1], fp[1] = ε > 0.
 * aux (doubles): [0] = 1 if the last forward used batch statistics, then μ (C), 1/sqrt(σ²+ε) (C),
 * and two (C) accumulators for backward. */
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

static size_t bn_aux(const qr_node *n)
{
    return (1 + 4 * n->in[0]->shape[n->in[0]->ndim - 1]) * sizeof(double);
}

static void bn_forward(qr_graph *g, qr_node *n)
{
    const qr_node *x = n->in[0];
    const float *gamma = n->in[1]->x, *beta = n->in[2]->x;
    float *rmean = n->in[3]->x, *rvar = n->in[4]->x;
    float m = n->fp[0], eps = n->fp[1];
    size_t c = x->shape[x->ndim - 1], rows = qr_shape_size(x) / c;
    double *st = n->aux, *mean = st + 1, *istd = mean + c;
    int training = qr_graph_training(g);
    st[0] = training;
    if (training) {
        /* two passes: mean, then the variance around it (no E[x²] - E[x]² cancellation) */
        double *var = istd;
        for (size_t j = 0; j < c; j++)
            mean[j] = var[j] = 0.0;
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < c; j++)
                mean[j] += x->x[r * c + j];
        for (size_t j = 0; j < c; j++)
            mean[j] /= (double)rows;
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < c; j++) {
                double dv = x->x[r * c + j] - mean[j];
                var[j] += dv * dv;
            }
        for (size_t j = 0; j < c; j++) {
            var[j] /= (double)rows;
            rmean[j] = (float)(m * (double)rmean[j] + (1.0 - m) * mean[j]);
            rvar[j] = (float)(m * (double)rvar[j] + (1.0 - m) * var[j]);
            istd[j] = 1.0 / sqrt(var[j] + eps);
        }
    } else {
        for (size_t j = 0; j < c; j++) {
            mean[j] = rmean[j];
            istd[j] = 1.0 / sqrt((double)rvar[j] + eps);
        }
    }
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x->x + r * c;
        float *yr = n->x + r * c;
        for (size_t j = 0; j < c; j++)
            yr[j] = (float)(gamma[j] * ((xr[j] - mean[j]) * istd[j]) + beta[j]);
    }
}

static void bn_backward(qr_graph *g, qr_node *n)
{
    (void)g;
    qr_node *x = n->in[0], *gm = n->in[1], *bt = n->in[2];
    size_t c = x->shape[x->ndim - 1], rows = qr_shape_size(x) / c;
    double *st = n->aux, *mean = st + 1, *istd = mean + c, *sdy = istd + c, *sdyx = sdy + c;
    int training = st[0] != 0.0;
    const float *dy = n->g;
    for (size_t j = 0; j < c; j++)
        sdy[j] = sdyx[j] = 0.0;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            double d = dy[r * c + j];
            sdy[j] += d;
            sdyx[j] += d * ((x->x[r * c + j] - mean[j]) * istd[j]);
        }
    if (gm->g)
        for (size_t j = 0; j < c; j++)
            gm->g[j] += (float)sdyx[j];
    if (bt->g)
        for (size_t j = 0; j < c; j++)
            bt->g[j] += (float)sdy[j];
    if (!x->g)
        return;
    const float *gamma = gm->x;
    double nr = (double)rows;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x->x + r * c, *dyr = dy + r * c;
        float *dxr = x->g + r * c;
        if (training)
            for (size_t j = 0; j < c; j++) {
                double xh = (xr[j] - mean[j]) * istd[j];
                dxr[j] += (float)(gamma[j] * istd[j] / nr *
                                  (nr * dyr[j] - sdy[j] - xh * sdyx[j]));
            }
        else
            for (size_t j = 0; j < c; j++)
                dxr[j] += (float)(gamma[j] * istd[j] * dyr[j]);
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
