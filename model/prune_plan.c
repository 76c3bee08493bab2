/* A config's "prune" section: the matrices chosen by layer, with their sparsity schedules
 * (quant/prune.c computes them). Format: docs/distill_prune.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json_util.h"
#include "model/model_impl.h"

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
