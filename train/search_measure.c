/* What qreg search measures a plan by (docs/quantization.md): the validation loss of the
 * trained model under that plan after rounding it (0 epochs) or after a short STE fine-tune,
 * with the grid scale the training will use and, if asked, batch norms re-estimated. Every
 * measurement is one warm-started qr_train, so it is exactly the recipe's second stage cut
 * short. Two allocations on whole-plan measurements, which see the interactions that summed
 * single-matrix sensitivities miss: greedy (lower one matrix at a time) and exhaustive. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/model_impl.h"
#include "qreg/train.h"

QR_API void qr_search_options_init(qr_search_options *o)
{
    *o = (qr_search_options){.per_channel = 0, .bn_reestimate = 0, .epochs = 0};
}

QR_API qr_status qr_search_measure(qr_train_config *c, const qr_split_data *d,
                                   const qr_search_options *o, const int *bits, double *loss,
                                   double *acc, qr_error *err)
{
    const qr_dataset *val = d->val.n ? &d->val : &d->train;
    /* the config as the measurement needs it, restored on the way out: one plain stage from
     * c->init_path, no files written */
    qr_train_config keep = *c;
    qr_quant_plan plan;
    qr_status s = qr_search_plan(&c->model, bits, o->per_channel, &plan);
    if (s != QR_OK) {
        qr_quant_plan_free(&plan);
        return qr_error_set(err, s, "search: out of memory");
    }
    c->quant = plan;
    c->n_stages = 0;
    c->epochs = o->epochs;
    c->bn_reestimate = o->bn_reestimate;
    c->early_stopping.patience = 0;
    c->checkpoint_every = 0;
    c->log_path = c->log_jsonl_path = c->quant_log_path = c->hist_path = NULL;
    c->prune_log_path = NULL;
    c->prune.n = 0;
    qr_model *m = NULL;
    qr_train_result r;
    s = qr_train(c, d, NULL, NULL, &m, &r, err);
    qr_quant_plan_free(&c->quant);
    *c = keep;
    if (s != QR_OK)
        return s;
    /* the kept model fake-quantized on its (fitted or learned) grid scales */
    qr_quant_fake(m->quant, qr_model_graph(m));
    s = qr_evaluate(m, val, loss, acc, NULL);
    qr_model_free(m);
    return s != QR_OK ? qr_error_set(err, s, "search: evaluation failed") : QR_OK;
}

QR_API qr_status qr_search_sensitivity_ex(qr_train_config *c, const qr_split_data *d,
                                          const qr_search_options *o, size_t n, const int *widths,
                                          size_t nw, double *base_loss, double *base_acc,
                                          double *dloss, double *dacc, qr_error *err)
{
    int *bits = calloc(n + 1, sizeof *bits);
    if (!bits)
        return qr_error_set(err, QR_ERR_NOMEM, "search: out of memory");
    /* the reference: every matrix at 8-bit min-max, put through the same measurement */
    qr_status s = qr_search_measure(c, d, o, bits, base_loss, base_acc, err);
    for (size_t i = 0; s == QR_OK && i < n; i++)
        for (size_t k = 0; s == QR_OK && k < nw; k++) {
            double l, a;
            bits[i] = widths[k];
            s = qr_search_measure(c, d, o, bits, &l, &a, err);
            bits[i] = 0;
            dloss[i * nw + k] = l - *base_loss;
            dacc[i * nw + k] = a - *base_acc;
        }
    free(bits);
    return s;
}

QR_API qr_status qr_search_greedy(qr_train_config *c, const qr_split_data *d,
                                  const qr_search_options *o, const size_t *counts, size_t n,
                                  const int *widths, size_t nw, double fixed_bytes, double budget,
                                  int *choice, double *bytes, double *loss, double *acc,
                                  size_t *steps, qr_error *err)
{
    /* the same refusal as the knapsack: the narrowest plan must fit */
    qr_status s = qr_search_check_budget(counts, n, widths, nw, fixed_bytes, budget, err);
    if (s != QR_OK)
        return s;
    int *cand = calloc(n + 1, sizeof *cand);
    size_t *at = calloc(n + 1, sizeof *at); /* index of choice[i] in widths */
    if (!cand || !at) {
        free(cand);
        free(at);
        return qr_error_set(err, QR_ERR_NOMEM, "search: out of memory");
    }
    uint64_t bits = 0, cap = (uint64_t)floor((budget - fixed_bytes) * 8.0 + 1e-9);
    for (size_t i = 0; i < n; i++) {
        at[i] = nw - 1;
        choice[i] = widths[nw - 1];
        bits += (uint64_t)counts[i] * (uint64_t)choice[i];
    }
    double cur, cur_acc = NAN;
    s = qr_search_measure(c, d, o, choice, &cur, &cur_acc, err);
    size_t n_steps = 0;
    /* lower the matrix whose next narrower width costs the least loss per byte saved, each
     * candidate measured as a whole plan, until the plan fits */
    while (s == QR_OK && bits > cap) {
        size_t best = n;
        double best_ratio = INFINITY, best_loss = 0, best_acc = 0;
        for (size_t i = 0; s == QR_OK && i < n; i++) {
            if (at[i] == 0)
                continue;
            memcpy(cand, choice, n * sizeof *cand);
            cand[i] = widths[at[i] - 1];
            double l, a;
            if ((s = qr_search_measure(c, d, o, cand, &l, &a, err)) != QR_OK)
                break;
            double saved = (double)counts[i] * (choice[i] - cand[i]) / 8.0;
            double ratio = (l - cur) / saved;
            if (ratio < best_ratio) {
                best = i;
                best_ratio = ratio;
                best_loss = l;
                best_acc = a;
            }
        }
        if (s != QR_OK)
            break;
        if (best == n) { /* cannot happen: the narrowest plan fits */
            s = qr_error_set(err, QR_ERR_STATE, "search: no plan fits the budget");
            break;
        }
        bits -= (uint64_t)counts[best] * (uint64_t)(choice[best] - widths[at[best] - 1]);
        choice[best] = widths[--at[best]];
        cur = best_loss;
        cur_acc = best_acc;
        n_steps++;
    }
    if (s == QR_OK) {
        if (bytes)
            *bytes = fixed_bytes + (double)bits / 8.0;
        if (loss)
            *loss = cur;
        if (acc)
            *acc = cur_acc;
        if (steps)
            *steps = n_steps;
    }
    free(cand);
    free(at);
    return s;
}

QR_API qr_status qr_search_exhaustive(qr_train_config *c, const qr_split_data *d,
                                      const qr_search_options *o, const size_t *counts, size_t n,
                                      const int *widths, size_t nw, double fixed_bytes,
                                      double budget, int *choice, double *bytes, double *loss,
                                      double *acc, qr_search_visit_fn visit, void *user,
                                      qr_error *err)
{
    qr_status s = qr_search_check_budget(counts, n, widths, nw, fixed_bytes, budget, err);
    if (s != QR_OK)
        return s;
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        if (total > QR_SEARCH_EXHAUSTIVE_MAX / nw)
            return qr_error_set(err, QR_ERR_CONFIG, "search: %zu matrices at %zu widths are more "
                                "than %d plans to measure; use --allocate knapsack or greedy",
                                n, nw, QR_SEARCH_EXHAUSTIVE_MAX);
        total *= nw;
    }
    int *cand = calloc(n + 1, sizeof *cand);
    if (!cand)
        return qr_error_set(err, QR_ERR_NOMEM, "search: out of memory");
    uint64_t cap = (uint64_t)floor((budget - fixed_bytes) * 8.0 + 1e-9);
    double best = INFINITY, best_acc = NAN;
    uint64_t best_bits = 0;
    /* every plan within the budget, measured; the lowest loss wins (ties: the first, in the
     * order of the widths with the last matrix fastest) */
    for (size_t code = 0; s == QR_OK && code < total; code++) {
        uint64_t bits = 0;
        for (size_t i = n, k = code; i-- > 0; k /= nw) {
            cand[i] = widths[k % nw];
            bits += (uint64_t)counts[i] * (uint64_t)cand[i];
        }
        if (bits > cap)
            continue;
        double l, a;
        if ((s = qr_search_measure(c, d, o, cand, &l, &a, err)) != QR_OK)
            break;
        if (visit)
            visit(user, cand, fixed_bytes + (double)bits / 8.0, l, a);
        if (l < best) {
            best = l;
            best_acc = a;
            best_bits = bits;
            memcpy(choice, cand, n * sizeof *cand);
        }
    }
    if (s == QR_OK) {
        if (bytes)
            *bytes = fixed_bytes + (double)best_bits / 8.0;
        if (loss)
            *loss = best;
        if (acc)
            *acc = best_acc;
    }
    free(cand);
    return s;
}
