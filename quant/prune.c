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

QR_API qr_status qr_prune_plan_parse(qr_prune_plan *p, const cJSON *sec, const qr_model_spec *spec,
                                     const qr_quant_plan *quant, const char *where, qr_error *err)
{
    memset(p, 0, sizeof *p);
    qr_quant_plan all;
    if (qr_quant_plan_init(&all, spec) != QR_OK)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
    qr_status s = QR_OK;
    unsigned char *chosen = calloc(all.n ? all.n : 1, 1);
    p->m = calloc(all.n ? all.n : 1, sizeof *p->m);
    if (!chosen || !p->m) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", where);
        goto done;
    }
    p->n = all.n;
    for (size_t i = 0; i < all.n; i++)
        memcpy(p->m[i].name, all.m[i].name, sizeof p->m[i].name);
    static const char *const keys[] = {"matrices", NULL};
    if ((s = qr_json_check_keys(sec, keys, where, "prune", err)))
        goto done;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(sec, "matrices");
    if (!cJSON_IsArray(ms) || !ms->child) {
        s = qr_error_set(err, QR_ERR_CONFIG, "%s: 'prune.matrices' must be a non-empty list",
                         where);
        goto done;
    }
    size_t index = 0;
    for (const cJSON *e = ms->child; e; e = e->next, index++) {
        char path[64];
        snprintf(path, sizeof path, "prune.matrices[%zu]", index);
        static const char *const ek[] = {"layer", "matrix", "final_sparsity", "initial_sparsity",
                                         "begin_step", "pruning_steps", "frequency", NULL};
        qr_prune_matrix v = {.active = 1, .n = 10, .dt = 100};
        size_t matched = 0, t0 = 0, n = 10, dt = 100;
        if ((s = qr_json_check_keys(e, ek, where, path, err)))
            goto done;
        if (!cJSON_GetObjectItemCaseSensitive(e, "final_sparsity")) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.final_sparsity' is missing", where, path);
            goto done;
        }
        if ((s = qr_json_get_double(e, "final_sparsity", 0, 0.999, &v.s_final, where, path, err)) ||
            (s = qr_json_get_double(e, "initial_sparsity", 0, 0.999, &v.s_initial, where, path,
                                    err)) ||
            (s = qr_json_get_size(e, "begin_step", 0, (size_t)1 << 40, &t0, where, path, err)) ||
            (s = qr_json_get_size(e, "pruning_steps", 0, (size_t)1 << 30, &n, where, path, err)) ||
            (s = qr_json_get_size(e, "frequency", 1, (size_t)1 << 30, &dt, where, path, err)))
            goto done;
        if (v.s_initial > v.s_final) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s.initial_sparsity' exceeds final_sparsity",
                             where, path);
            goto done;
        }
        v.t0 = t0;
        v.n = n;
        v.dt = dt;
        memset(chosen, 0, all.n);
        if ((s = qr_quant_select(spec, &all, e, chosen, &matched, where, path, err)))
            goto done;
        if (matched == 0) {
            s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' matches no weight matrix of the model",
                             where, path);
            goto done;
        }
        for (size_t i = 0; i < all.n; i++) {
            if (!chosen[i])
                continue;
            for (size_t q = 0; quant && q < quant->n; q++)
                if (strcmp(quant->m[q].name, all.m[i].name) == 0 && quant->m[q].regularized &&
                    quant->m[q].bits == 1) {
                    s = qr_error_set(err, QR_ERR_CONFIG, "%s: '%s' prunes %s, which 'quantize' "
                                     "puts at 1 bit: zero is not on the 1-bit grid {-1, +1}",
                                     where, path, all.m[i].name);
                    goto done;
                }
            char name[64];
            memcpy(name, p->m[i].name, sizeof name);
            p->m[i] = v;
            memcpy(p->m[i].name, name, sizeof name);
        }
    }
done:
    free(chosen);
    qr_quant_plan_free(&all);
    if (s != QR_OK)
        qr_prune_plan_free(p);
    return s;
}
