/* Mixed-precision search under a byte budget (issue 13, item 6; docs/quantization.md): the
 * sensitivity of each weight matrix to rounding at each candidate width, measured on a trained
 * model, and the choice of one width per matrix that minimizes the summed sensitivity within
 * the budget of the thesis' byte accounting (an exact multiple-choice knapsack). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/train.h"

/* ---- the choice --------------------------------------------------------------------- */

/* A partial plan: bits used so far (weights only) and its predicted cost. */
typedef struct point {
    uint64_t bits;
    double cost;
    size_t idx;      /* into the choice store: the width index chosen for each matrix so far */
} point;

static int by_bits(const void *a, const void *b)
{
    const point *x = a, *y = b;
    if (x->bits != y->bits)
        return x->bits < y->bits ? -1 : 1;
    return x->cost < y->cost ? -1 : x->cost > y->cost;
}

QR_API qr_status qr_search_check_budget(const size_t *counts, size_t n, const int *widths,
                                        size_t nw, double fixed_bytes, double budget,
                                        qr_error *err)
{
    /* the smallest plan: every matrix at its narrowest candidate width */
    int narrow = widths[0];
    for (size_t k = 1; k < nw; k++)
        narrow = widths[k] < narrow ? widths[k] : narrow;
    uint64_t min_bits = 0;
    for (size_t i = 0; i < n; i++)
        min_bits += (uint64_t)counts[i] * (uint64_t)narrow;
    double smallest = fixed_bytes + (double)min_bits / 8.0;
    if (!(budget >= smallest))
        return qr_error_set(err, QR_ERR_CONFIG, "budget %.3f B is below the smallest plan "
                            "(every weight matrix at %d bit%s: %.3f B, of which %.3f B are "
                            "biases and batch-norm parameters at 32 bits)", budget, narrow,
                            narrow == 1 ? "" : "s", smallest, fixed_bytes);
    return QR_OK;
}

QR_API qr_status qr_search_choose(const size_t *counts, size_t n, const int *widths, size_t nw,
                                  const double *cost, double fixed_bytes, double budget,
                                  int *choice, double *bytes, double *predicted, qr_error *err)
{
    qr_status cs = qr_search_check_budget(counts, n, widths, nw, fixed_bytes, budget, err);
    if (cs != QR_OK)
        return cs;
    /* weights may use floor((budget − fixed)·8) bits */
    double room = floor((budget - fixed_bytes) * 8.0 + 1e-9);
    uint64_t cap = room >= 1.8e19 ? UINT64_MAX : (uint64_t)room;
    /* the Pareto frontier of (bits, cost) over the first i matrices, with each point's
     * choices; dominated points (more bits, no lower cost) and points over the cap dropped */
    size_t n_pts = 1, store_len = n ? n : 1;
    point *pts = malloc(sizeof *pts), *next = NULL;
    int *store = malloc(store_len * sizeof *store);
    qr_status s = QR_OK;
    if (!pts || !store) {
        s = QR_ERR_NOMEM;
        goto done;
    }
    pts[0] = (point){0, 0.0, 0};
    for (size_t i = 0; i < n; i++) {
        size_t m = n_pts * nw;
        if (!(next = malloc(m * sizeof *next))) {
            s = QR_ERR_NOMEM;
            goto done;
        }
        size_t k = 0;
        for (size_t p = 0; p < n_pts; p++)
            for (size_t w = 0; w < nw; w++) {
                uint64_t b = pts[p].bits + (uint64_t)counts[i] * (uint64_t)widths[w];
                if (b > cap)
                    continue;
                next[k++] = (point){b, pts[p].cost + cost[i * nw + w], p * nw + w};
            }
        qsort(next, k, sizeof *next, by_bits);
        size_t kept = 0;
        for (size_t j = 0; j < k; j++)
            if (kept == 0 || next[j].cost < next[kept - 1].cost)
                next[kept++] = next[j];
        /* the choices of the kept points: their parent's, then this matrix's width */
        int *ns = malloc((kept ? kept : 1) * n * sizeof *ns + 1);
        if (!ns) {
            s = QR_ERR_NOMEM;
            goto done;
        }
        for (size_t j = 0; j < kept; j++) {
            size_t parent = next[j].idx / nw, w = next[j].idx % nw;
            memcpy(ns + j * n, store + pts[parent].idx * n, i * sizeof *ns);
            ns[j * n + i] = (int)w;
            next[j].idx = j;
        }
        free(store);
        store = ns;
        free(pts);
        pts = next;
        next = NULL;
        n_pts = kept;
    }
    if (n_pts == 0) { /* cannot happen: the narrowest plan fits */
        s = QR_ERR_STATE;
        goto done;
    }
    /* the lowest cost is the last point (costs fall along the frontier) */
    const point *best = &pts[n_pts - 1];
    for (size_t i = 0; i < n; i++)
        choice[i] = widths[store[best->idx * n + i]];
    if (bytes)
        *bytes = fixed_bytes + (double)best->bits / 8.0;
    if (predicted)
        *predicted = best->cost;
done:
    free(pts);
    free(next);
    free(store);
    if (s == QR_ERR_NOMEM)
        return qr_error_set(err, s, "search: out of memory");
    if (s != QR_OK)
        return qr_error_set(err, s, "search: no plan fits the budget");
    return QR_OK;
}

/* ---- sensitivities ------------------------------------------------------------------- */

QR_API qr_status qr_search_sensitivity(qr_model *m, const qr_dataset *val, const int *widths,
                                       size_t nw, double *base_loss, double *base_acc,
                                       double *dloss, double *dacc, qr_error *err)
{
    const qr_model_spec *spec = qr_model_spec_of(m);
    qr_quant_plan all;
    qr_status s = qr_quant_plan_init(&all, spec);
    if (s != QR_OK)
        return qr_error_set(err, s, "search: out of memory");
    size_t n_all;
    float *w = qr_graph_params(qr_model_graph(m), NULL, &n_all);
    float *keep = malloc((n_all + 1) * sizeof *keep);
    qr_quant_plan one = {0};
    if (!keep) {
        s = qr_error_set(err, QR_ERR_NOMEM, "search: out of memory");
        goto done;
    }
    memcpy(keep, w, n_all * sizeof *keep);
    /* the baseline: every matrix at 8-bit min-max PTQ (the thesis' 8-bit model) */
    qr_quant_fake(&all, qr_model_graph(m));
    s = qr_evaluate(m, val, base_loss, base_acc, NULL);
    memcpy(w, keep, n_all * sizeof *keep);
    if (s != QR_OK) {
        qr_error_set(err, s, "search: evaluation failed");
        goto done;
    }
    for (size_t i = 0; i < all.n; i++)
        for (size_t k = 0; k < nw; k++) {
            double l, a;
            if ((s = qr_quant_plan_copy(&one, &all)) != QR_OK) {
                qr_error_set(err, s, "search: out of memory");
                goto done;
            }
            /* only matrix i on the grid of widths[k], with a learned scale (per channel where
             * a batch norm follows: "auto"), as the STE recipe that trains the plan uses */
            qr_quant_matrix *q = &one.m[i];
            q->bits = widths[k];
            q->regularized = 1;
            q->reg = widths[k] == 1 ? QR_REG_REG1C : QR_REG_COS;
            q->scale_mode = QR_SCALE_LEARNED;
            q->per_channel = qr_model_feeds_batchnorm(spec, q->name);
            qr_quant_ste *ste = NULL;
            if ((s = qr_quant_begin_training(qr_model_graph(m), &one, &ste)) != QR_OK) {
                qr_error_set(err, s, "search: %s", qr_strerror(s));
                goto done;
            }
            qr_quant_ste_free(ste);
            qr_quant_fake(&one, qr_model_graph(m));
            s = qr_evaluate(m, val, &l, &a, NULL);
            memcpy(w, keep, n_all * sizeof *keep);
            qr_quant_plan_free(&one);
            if (s != QR_OK) {
                qr_error_set(err, s, "search: evaluation failed");
                goto done;
            }
            dloss[i * nw + k] = l - *base_loss;
            dacc[i * nw + k] = a - *base_acc;
        }
done:
    qr_quant_plan_free(&one);
    qr_quant_plan_free(&all);
    free(keep);
    return s;
}

QR_API qr_status qr_search_plan(const qr_model_spec *spec, const int *choice, int per_channel,
                                qr_quant_plan *p)
{
    qr_status s = qr_quant_plan_init(p, spec);
    if (s != QR_OK)
        return s;
    for (size_t i = 0; i < p->n; i++) {
        qr_quant_matrix *q = &p->m[i];
        if (!choice[i])
            continue;
        q->bits = choice[i];
        q->regularized = 1;
        q->ste = 1;
        q->reg = choice[i] == 1 ? QR_REG_REG1C : QR_REG_COS;
        q->scale_mode = QR_SCALE_LEARNED;
        q->per_channel = per_channel || qr_model_feeds_batchnorm(spec, q->name);
    }
    return QR_OK;
}
