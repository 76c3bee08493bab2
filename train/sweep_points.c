/* Sweeps: the config file of a run and shards of the points (sweep.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sweep_internal.h"

/* ---- run configs ---------------------------------------------------------------------- */

static int absolutize(cJSON *root, const char *path, const char *base_dir)
{
    cJSON *v = (cJSON *)qr_sweep_path_get(root, path);
    if (!cJSON_IsString(v) || !v->valuestring[0] || v->valuestring[0] == '/' ||
        strncmp(v->valuestring, "${QREG_DATA}", 12) == 0)
        return 0;
    char *abs = qr_sweep_join(base_dir, v->valuestring);
    if (!abs)
        return 1;
    int bad = cJSON_SetValuestring(v, abs) == NULL;
    free(abs);
    return bad;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

cJSON *qr_sweep_run_config(const qr_sweep *sw, const qr_sweep_point *p, const char *run_dir)
{
    static const char *const data_paths[] = {
        "data.train", "data.validation", "data.test", "data.audio.root", "data.audio.manifest",
        "data.audio.cache_dir", "data.audio.augment.noise_dir", "distill.teacher",
        "distill.logits", NULL};
    cJSON *c = cJSON_Duplicate(p->config, 1);
    if (!c)
        return NULL;
    int bad = 0;
    for (const char *const *k = data_paths; *k; k++)
        bad |= absolutize(c, *k, sw->base_dir);
    char desc[1024];
    int n = snprintf(desc, sizeof desc, "%s: run %s (rep %zu, seed %lld)", base_name(sw->source),
                     p->id, p->rep, p->seed);
    for (size_t i = 0; i < sw->n_columns && n > 0 && (size_t)n < sizeof desc; i++)
        n += snprintf(desc + n, sizeof desc - (size_t)n, "%s %s=%s", i ? "," : ":",
                      sw->columns[i], p->labels[i]);
    bad |= cJSON_AddStringToObject(c, "description", desc) == NULL;
    cJSON *out = sw->base_output ? cJSON_Duplicate(sw->base_output, 1) : cJSON_CreateObject();
    if (!out || !cJSON_IsObject(out)) {
        cJSON_Delete(out);
        cJSON_Delete(c);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(out, "checkpoint"); /* default: model + ".ckpt" */
    for (cJSON *it = out->child; it; it = it->next)
        if (cJSON_IsString(it) && it->valuestring[0]) {
            char *moved = qr_sweep_join(run_dir, base_name(it->valuestring));
            bad |= !moved || cJSON_SetValuestring(it, moved) == NULL;
            free(moved);
        }
    static const char *const fixed[][2] = {{"model", "model.qrm"}, {"log", "log.csv"}};
    for (size_t i = 0; i < 2; i++) {
        char *path = qr_sweep_join(run_dir, fixed[i][1]);
        cJSON *v = path ? cJSON_CreateString(path) : NULL;
        free(path);
        if (!v) {
            bad = 1;
            continue;
        }
        if (cJSON_GetObjectItemCaseSensitive(out, fixed[i][0]))
            cJSON_ReplaceItemInObjectCaseSensitive(out, fixed[i][0], v);
        else
            cJSON_AddItemToObject(out, fixed[i][0], v);
    }
    cJSON_AddItemToObject(c, "output", out);
    if (bad) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

/* ---- shards --------------------------------------------------------------------------- */

static const qr_sweep *shard_sw; /* qsort has no context argument in C11 */

static int cmp_index_by_id(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return strcmp(shard_sw->points[i].id, shard_sw->points[j].id);
}

void qr_sweep_shard(const qr_sweep *sw, size_t i, size_t n, unsigned char *sel)
{
    size_t *order = malloc((sw->n_points ? sw->n_points : 1) * sizeof *order);
    for (size_t k = 0; k < sw->n_points; k++)
        sel[k] = 0;
    if (!order || n == 0 || i < 1 || i > n) {
        free(order);
        return;
    }
    for (size_t k = 0; k < sw->n_points; k++)
        order[k] = k;
    shard_sw = sw;
    qsort(order, sw->n_points, sizeof *order, cmp_index_by_id);
    shard_sw = NULL;
    for (size_t k = i - 1; k < sw->n_points; k += n)
        sel[order[k]] = 1;
    free(order);
}
