/* Hybrid quantization plans: copying, querying and storing a plan (building one from a model
 * spec and a config is model/quant_plan.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "quant_impl.h"

QR_API void qr_quant_plan_free(qr_quant_plan *p)
{
    if (p) {
        free(p->m);
        free(p->alphas);
        memset(p, 0, sizeof *p);
    }
}

QR_API qr_status qr_quant_plan_copy(qr_quant_plan *dst, const qr_quant_plan *src)
{
    *dst = *src;
    dst->m = malloc((src->n ? src->n : 1) * sizeof *dst->m);
    if (!dst->m)
        return QR_ERR_NOMEM;
    memcpy(dst->m, src->m, src->n * sizeof *dst->m);
    dst->alphas = NULL;
    if (src->n_alphas) {
        if (!(dst->alphas = malloc(src->n_alphas * sizeof *dst->alphas))) {
            free(dst->m);
            dst->m = NULL;
            return QR_ERR_NOMEM;
        }
        memcpy(dst->alphas, src->alphas, src->n_alphas * sizeof *dst->alphas);
    }
    return QR_OK;
}

QR_API qr_status qr_quant_plan_alloc_alphas(qr_quant_plan *p)
{
    size_t total = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->m[i].per_channel)
            total += p->m[i].channels;
    float *a = malloc((total ? total : 1) * sizeof *a);
    if (!a)
        return QR_ERR_NOMEM;
    for (size_t k = 0; k < total; k++)
        a[k] = 1.0f;
    free(p->alphas);
    p->alphas = a;
    p->n_alphas = total;
    size_t off = 0;
    for (size_t i = 0; i < p->n; i++) {
        qr_quant_matrix *q = &p->m[i];
        q->alpha_off = 0;
        if (!q->per_channel)
            continue;
        q->alpha_off = off;
        off += q->channels;
    }
    return QR_OK;
}

QR_API float qr_quant_elem_alpha(const qr_quant_plan *p, size_t i, size_t k)
{
    const qr_quant_matrix *q = &p->m[i];
    if (q->per_channel && q->channels && q->alpha_off + q->channels <= p->n_alphas) {
        float a = p->alphas[q->alpha_off + k % q->channels];
        return a > 0.0f ? a : 1.0f;
    }
    return q->alpha > 0.0f ? q->alpha : 1.0f;
}

QR_API int qr_quant_plan_active(const qr_quant_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->m[i].regularized)
            return 1;
    return 0;
}

QR_API cJSON *qr_quant_plan_to_json(const qr_quant_plan *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "per", p->per_step ? "step" : "epoch");
    cJSON_AddNumberToObject(o, "near_eps", p->near_eps);
    cJSON *arr = cJSON_AddArrayToObject(o, "matrices");
    for (size_t i = 0; i < p->n; i++) {
        const qr_quant_matrix *m = &p->m[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, e);
        cJSON_AddStringToObject(e, "tensor", m->name);
        cJSON_AddNumberToObject(e, "bits", m->bits);
        cJSON_AddBoolToObject(e, "regularize", m->regularized);
        cJSON_AddStringToObject(e, "regularizer", qr_reg_name(m->reg));
        cJSON_AddNumberToObject(e, "lambda", m->lambda);
        cJSON_AddStringToObject(e, "reduction", m->mean ? "mean" : "sum");
        static const char *const scale_names[] = {"none", "fixed", "learned", "lsq"};
        cJSON_AddStringToObject(e, "method", m->ste ? "ste" : "regularize");
        cJSON_AddStringToObject(e, "scale", scale_names[m->scale_mode]);
        cJSON_AddNumberToObject(e, "alpha", m->alpha);
        if (m->per_channel) {
            cJSON_AddStringToObject(e, "granularity", "channel");
            cJSON *al = cJSON_AddArrayToObject(e, "alphas");
            for (size_t c = 0; c < m->channels && m->alpha_off + c < p->n_alphas; c++)
                cJSON_AddItemToArray(al, cJSON_CreateNumber(p->alphas[m->alpha_off + c]));
        }
        if (m->scale_mode == QR_SCALE_LSQ)
            cJSON_AddNumberToObject(e, "scale_lr", m->scale_lr);
        if (m->ste_clip > 0.0f && isinf(m->ste_clip))
            cJSON_AddFalseToObject(e, "ste_clip");
        else if (m->ste_clip > 0.0f)
            cJSON_AddNumberToObject(e, "ste_clip", m->ste_clip);
        if (m->ste_grad == QR_STE_GRAD_APPROXSIGN)
            cJSON_AddStringToObject(e, "ste_grad", "approxsign");
        if (m->lambda_norm == QR_LAMBDA_NORM_SLOPE)
            cJSON_AddStringToObject(e, "lambda_norm", "slope");
        cJSON *sc = cJSON_AddObjectToObject(e, "schedule");
        cJSON_AddStringToObject(sc, "name", qr_sched_name(m->schedule.kind));
        cJSON_AddNumberToObject(sc, "d", m->schedule.d);
        cJSON_AddNumberToObject(sc, "rate", m->schedule.rate);
        cJSON_AddNumberToObject(sc, "step", m->schedule.step);
        cJSON_AddNumberToObject(sc, "power", m->schedule.power);
    }
    return o;
}

