/* Magnitude pruning with Zhu & Gupta's polynomial sparsity schedule (docs/method.md §8). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json_util.h"
#include "quant_impl.h"

QR_API double qr_prune_sparsity(const qr_prune_matrix *p, uint64_t t)
{
    if (!p->active || t < p->t0)
        return 0.0;
    double span = (double)p->n * (double)p->dt;
    if (span <= 0.0 || (double)(t - p->t0) >= span)
        return p->s_final;
    double r = 1.0 - (double)(t - p->t0) / span;
    return p->s_final + (p->s_initial - p->s_final) * r * r * r;
}

QR_API int qr_prune_is_step(const qr_prune_matrix *p, uint64_t t)
{
    if (!p->active || t < p->t0)
        return 0;
    uint64_t k = t - p->t0;
    if (p->dt == 0)
        return k == 0;
    return k % p->dt == 0 && k / p->dt <= p->n;
}

/* Sort key for the mask: |w| ascending, then index, so ties are deterministic. */
static const float *mask_w;
static int cmp_mag(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    float x = fabsf(mask_w[i]), y = fabsf(mask_w[j]);
    if (x != y)
        return x < y ? -1 : 1;
    return i < j ? -1 : i > j;
}

QR_API void qr_prune_mask(const float *w, size_t n, double sparsity, uint8_t *mask,
                          size_t *scratch)
{
    size_t drop = (size_t)floor(sparsity * (double)n + 1e-9);
    if (drop > n)
        drop = n;
    for (size_t i = 0; i < n; i++) {
        scratch[i] = i;
        mask[i] = 1;
    }
    mask_w = w; /* qsort has no context argument; pruning runs on one thread */
    qsort(scratch, n, sizeof *scratch, cmp_mag);
    for (size_t i = 0; i < drop; i++)
        mask[scratch[i]] = 0;
}

QR_API void qr_prune_plan_free(qr_prune_plan *p)
{
    if (p) {
        free(p->m);
        memset(p, 0, sizeof *p);
    }
}
