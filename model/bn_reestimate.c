/* Batch-norm statistics re-estimated for a model's deployed (fake-quantized) weights.
 *
 * Training leaves in every batch norm the momentum average (Keras: running = m·running +
 * (1 − m)·batch) of statistics measured with the float weights. Rounding the weights moves
 * every batch norm's input, so the stored statistics no longer fit the deployed model. This
 * recomputes them over a data set, with the weight matrices replaced by their PTQ values:
 *
 *   moving_mean = (1/R) Σ x,   moving_variance = (1/R) Σ (x − moving_mean)²
 *
 * over all R rows (samples × time steps) of the batch norm's input — the exact population
 * statistics, in double, two passes (mean, then the variance around it). The variance is the
 * biased one (divide by R): lib/op_batchnorm.c feeds the biased batch variance to its moving
 * variance and divides by sqrt(moving_variance + ε) in evaluation, as Keras does, so the
 * biased population variance is what that average estimates. Not the momentum average: with
 * m = 0.99 it remembers the last few hundred batches with weights that decay geometrically,
 * and depends on the batch order; the population statistics are what the deployed model sees.
 *
 * Batch norms are done in graph order, each with the graph in evaluation mode (dropout off,
 * earlier batch norms using their already re-estimated statistics): the input of the k-th
 * batch norm is exactly what the deployed model feeds it. The float weights are restored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "model/model_impl.h"

/* One pass over the data up to node `in`: sum[c] += x (mu NULL) or (x − mu[c])². */
static qr_status bn_pass(qr_model *m, qr_node *in, const float *x, size_t n, const double *mu,
                         double *sum, double *rows)
{
    *rows = 0.0;
    qr_graph *g = m->graph;
    size_t row = m->spec.t * m->spec.f, c = in->shape[in->ndim - 1];
    memset(sum, 0, c * sizeof *sum);
    for (size_t at = 0; at < n; at += g->max_batch) {
        size_t b = n - at < g->max_batch ? n - at : g->max_batch;
        qr_status s = qr_graph_set_batch(g, b);
        if (s != QR_OK)
            return s;
        qr_model_load_inputs(m, x + at * row, b);
        qr_graph_forward(g, in);
        size_t total = qr_shape_size(in);
        *rows += (double)(total / c);
        for (size_t k = 0; k < total; k++) {
            double v = in->x[k];
            if (mu)
                v = (v - mu[k % c]) * (v - mu[k % c]);
            sum[k % c] += v;
        }
    }
    return QR_OK;
}

QR_API qr_status qr_model_bn_reestimate(qr_model *m, const qr_quant_plan *plan, const float *x,
                                        size_t n, qr_error *err)
{
    if (!m || !x || n == 0)
        return qr_error_set(err, QR_ERR_ARG, "batch-norm re-estimation: no data");
    qr_graph *g = m->graph;
    size_t n_tr, n_all, cmax = 0;
    float *w = qr_graph_params(g, &n_tr, &n_all);
    for (size_t i = 0; i < m->spec.n_layers; i++)
        if (m->spec.layers[i].kind == QR_LAYER_BATCHNORM) {
            const qr_node *in = m->layer_out[i]->in[0];
            size_t c = in->shape[in->ndim - 1];
            cmax = c > cmax ? c : cmax;
        }
    if (cmax == 0)
        return QR_OK; /* no batch norm */
    float *save = malloc((n_all + 1) * sizeof *save);
    double *mu = malloc(cmax * sizeof *mu), *acc = malloc(cmax * sizeof *acc);
    if (!save || !mu || !acc) {
        free(save);
        free(mu);
        free(acc);
        return qr_error_set(err, QR_ERR_NOMEM, "batch-norm re-estimation: out of memory");
    }
    /* the weight matrices are trainable parameters; the statistics are buffers after them */
    memcpy(save, w, n_all * sizeof *save);
    if (plan)
        qr_quant_fake(plan, g);
    int was_training = g->training;
    qr_graph_set_training(g, 0);
    qr_status s = QR_OK;
    for (size_t i = 0; i < m->spec.n_layers && s == QR_OK; i++) {
        if (m->spec.layers[i].kind != QR_LAYER_BATCHNORM)
            continue;
        qr_node *bn = m->layer_out[i], *in = bn->in[0];
        float *rmean = bn->in[3]->x, *rvar = bn->in[4]->x;
        size_t c = in->shape[in->ndim - 1];
        double rows;
        if ((s = bn_pass(m, in, x, n, NULL, acc, &rows)) != QR_OK)
            break;
        for (size_t j = 0; j < c; j++)
            mu[j] = acc[j] / rows;
        if ((s = bn_pass(m, in, x, n, mu, acc, &rows)) != QR_OK)
            break;
        for (size_t j = 0; j < c && s == QR_OK; j++)
            if (!isfinite(mu[j]) || !isfinite(acc[j]))
                s = QR_ERR_NUMERIC;
        for (size_t j = 0; j < c && s == QR_OK; j++) {
            rmean[j] = (float)mu[j];
            rvar[j] = (float)(acc[j] / rows);
        }
    }
    qr_graph_set_training(g, was_training);
    /* on success the new statistics stay; on failure nothing changes */
    memcpy(w, save, (s == QR_OK ? n_tr : n_all) * sizeof *save);
    free(save);
    free(mu);
    free(acc);
    if (s != QR_OK)
        return qr_error_set(err, s, "batch-norm re-estimation failed: %s", qr_strerror(s));
    return QR_OK;
}
