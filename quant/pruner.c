/* The pruning state of a training run: masks in an arena shaped like the parameters. */
#include <stdlib.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "quant_impl.h"

struct qr_pruner {
    const qr_prune_plan *plan;
    uint8_t *mask;          /* n_trainable */
    size_t n_trainable;
    qr_node **nodes;        /* per plan matrix, NULL when not pruned */
    size_t *scratch;        /* largest pruned matrix */
};

QR_API qr_pruner *qr_pruner_new(const qr_prune_plan *p, qr_graph *g, qr_status *status)
{
    *status = QR_OK;
    qr_pruner *pr = calloc(1, sizeof *pr);
    if (!pr)
        goto nomem;
    pr->plan = p;
    qr_graph_params(g, &pr->n_trainable, NULL);
    pr->mask = malloc(pr->n_trainable + 1);
    pr->nodes = calloc(p->n + 1, sizeof *pr->nodes);
    if (!pr->mask || !pr->nodes)
        goto nomem;
    memset(pr->mask, 1, pr->n_trainable + 1);
    size_t largest = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!p->m[i].active)
            continue;
        qr_node *n = qr_graph_find(g, p->m[i].name);
        if (!n || n->op != QR_OP_PARAM || !n->trainable) {
            *status = QR_ERR_ARG;
            qr_pruner_free(pr);
            return NULL;
        }
        pr->nodes[i] = n;
        if (qr_shape_size(n) > largest)
            largest = qr_shape_size(n);
    }
    if (!(pr->scratch = malloc((largest + 1) * sizeof *pr->scratch)))
        goto nomem;
    return pr;
nomem:
    qr_pruner_free(pr);
    *status = QR_ERR_NOMEM;
    return NULL;
}

QR_API void qr_pruner_free(qr_pruner *pr)
{
    if (!pr)
        return;
    free(pr->mask);
    free(pr->nodes);
    free(pr->scratch);
    free(pr);
}

QR_API int qr_pruner_update(qr_pruner *pr, uint64_t t)
{
    int changed = 0;
    for (size_t i = 0; i < pr->plan->n; i++) {
        qr_node *n = pr->nodes[i];
        const qr_prune_matrix *pm = &pr->plan->m[i];
        if (!n || !qr_prune_is_step(pm, t))
            continue;
        qr_prune_mask(n->x, qr_shape_size(n), qr_prune_sparsity(pm, t),
                      pr->mask + n->param_offset, pr->scratch);
        changed = 1;
    }
    if (changed)
        qr_pruner_apply(pr);
    return changed;
}

QR_API void qr_pruner_mask_grads(qr_pruner *pr)
{
    for (size_t i = 0; i < pr->plan->n; i++) {
        qr_node *n = pr->nodes[i];
        if (!n)
            continue;
        const uint8_t *mk = pr->mask + n->param_offset;
        for (size_t k = 0; k < qr_shape_size(n); k++)
            if (!mk[k])
                n->g[k] = 0.0f;
    }
}

QR_API void qr_pruner_apply(qr_pruner *pr)
{
    for (size_t i = 0; i < pr->plan->n; i++) {
        qr_node *n = pr->nodes[i];
        if (!n)
            continue;
        const uint8_t *mk = pr->mask + n->param_offset;
        for (size_t k = 0; k < qr_shape_size(n); k++)
            if (!mk[k])
                n->x[k] = 0.0f;
    }
}

QR_API uint8_t *qr_pruner_mask(qr_pruner *pr)
{
    return pr->mask;
}

QR_API void qr_pruner_sparsity(const qr_pruner *pr, size_t i, uint64_t t, double *target,
                               double *actual)
{
    *target = qr_prune_sparsity(&pr->plan->m[i], t);
    *actual = 0.0;
    const qr_node *n = pr->nodes[i];
    if (!n)
        return;
    size_t zeros = 0, cnt = qr_shape_size(n);
    for (size_t k = 0; k < cnt; k++)
        zeros += n->x[k] == 0.0f;
    *actual = cnt ? (double)zeros / (double)cnt : 0.0;
}
