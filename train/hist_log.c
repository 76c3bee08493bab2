/* Histogram snapshots during training; see hist_log.h. */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "hist_log.h"
#include "lib/fileio.h"

struct qr_hist_log {
    const qr_quant_plan *plan;
    char *path;
    size_t *epochs, n_epochs;
    cJSON *root;
    cJSON **snapshots;  /* per plan matrix: its "snapshots" array, NULL if not regularized */
};

qr_hist_log *qr_hist_log_new(const qr_quant_plan *plan, const char *path, const size_t *epochs,
                             size_t n_epochs, size_t total_epochs, qr_status *err)
{
    *err = QR_OK;
    if (!qr_quant_plan_active(plan))
        return NULL;
    qr_hist_log *h = calloc(1, sizeof *h);
    size_t defaults[4] = {0, total_epochs / 4, total_epochs / 2, total_epochs};
    if (!epochs) {
        epochs = defaults;
        n_epochs = 4;
    }
    if (!h || !(h->path = strdup(path)) || !(h->epochs = malloc(n_epochs * sizeof *h->epochs)) ||
        !(h->snapshots = calloc(plan->n, sizeof *h->snapshots)) ||
        !(h->root = cJSON_CreateObject())) {
        qr_hist_log_free(h);
        *err = QR_ERR_NOMEM;
        return NULL;
    }
    h->plan = plan;
    memcpy(h->epochs, epochs, n_epochs * sizeof *epochs);
    h->n_epochs = n_epochs;
    cJSON *arr = cJSON_AddArrayToObject(h->root, "matrices");
    for (size_t i = 0; i < plan->n; i++) {
        const qr_quant_matrix *q = &plan->m[i];
        if (!q->regularized)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", q->name);
        cJSON_AddNumberToObject(o, "bits", q->bits);
        cJSON_AddStringToObject(o, "regularizer", qr_reg_name(q->reg));
        cJSON_AddNumberToObject(o, "lo", QR_HIST_LO);
        cJSON_AddNumberToObject(o, "hi", QR_HIST_HI);
        cJSON_AddNumberToObject(o, "bins", QR_HIST_BINS);
        h->snapshots[i] = cJSON_AddArrayToObject(o, "snapshots");
        if (!h->snapshots[i]) {
            qr_hist_log_free(h);
            *err = QR_ERR_NOMEM;
            return NULL;
        }
    }
    return h;
}

int qr_hist_log_wants(const qr_hist_log *h, size_t epoch)
{
    if (!h)
        return 0;
    for (size_t i = 0; i < h->n_epochs; i++)
        if (h->epochs[i] == epoch)
            return 1;
    return 0;
}

qr_status qr_hist_log_snapshot(qr_hist_log *h, qr_model *m, size_t epoch, qr_error *err)
{
    size_t counts[QR_HIST_BINS], below, above;
    qr_graph *g = qr_model_graph(m);
    for (size_t i = 0; i < h->plan->n; i++) {
        if (!h->snapshots[i])
            continue;
        qr_node *n = qr_graph_find(g, h->plan->m[i].name);
        if (!n)
            continue;
        qr_quant_histogram(qr_node_data(n), qr_node_size(n), QR_HIST_LO, QR_HIST_HI,
                           QR_HIST_BINS, counts, &below, &above);
        cJSON *snap = cJSON_CreateObject();
        cJSON_AddItemToArray(h->snapshots[i], snap);
        cJSON_AddNumberToObject(snap, "epoch", (double)epoch);
        cJSON_AddNumberToObject(snap, "below", (double)below);
        cJSON_AddNumberToObject(snap, "above", (double)above);
        cJSON *c = cJSON_AddArrayToObject(snap, "counts");
        for (size_t b = 0; b < QR_HIST_BINS; b++)
            cJSON_AddItemToArray(c, cJSON_CreateNumber((double)counts[b]));
    }
    char *text = cJSON_PrintUnformatted(h->root);
    if (!text)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", h->path);
    qr_status s = qr_file_write_atomic(h->path, text, strlen(text), err);
    free(text);
    return s;
}

void qr_hist_log_free(qr_hist_log *h)
{
    if (!h)
        return;
    cJSON_Delete(h->root);
    free(h->snapshots);
    free(h->epochs);
    free(h->path);
    free(h);
}

char *qr_hist_log_text(const qr_hist_log *h)
{
    return cJSON_PrintUnformatted(h->root);
}

qr_status qr_hist_log_restore(qr_hist_log *h, const char *json)
{
    cJSON *root = cJSON_Parse(json);
    const cJSON *arr = root ? cJSON_GetObjectItemCaseSensitive(root, "matrices") : NULL;
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(root);
        return QR_ERR_FORMAT;
    }
    /* re-link each regularized matrix to its snapshots array in the restored tree */
    cJSON **snaps = calloc(h->plan->n + 1, sizeof *snaps);
    if (!snaps) {
        cJSON_Delete(root);
        return QR_ERR_NOMEM;
    }
    for (size_t i = 0; i < h->plan->n; i++) {
        if (!h->snapshots[i])
            continue;
        for (cJSON *it = arr->child; it; it = it->next) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
            cJSON *sn = cJSON_GetObjectItemCaseSensitive(it, "snapshots");
            if (cJSON_IsString(nm) && strcmp(nm->valuestring, h->plan->m[i].name) == 0 &&
                cJSON_IsArray(sn))
                snaps[i] = sn;
        }
        if (!snaps[i]) {
            free(snaps);
            cJSON_Delete(root);
            return QR_ERR_FORMAT;
        }
    }
    cJSON_Delete(h->root);
    h->root = root;
    memcpy(h->snapshots, snaps, h->plan->n * sizeof *snaps);
    free(snaps);
    return QR_OK;
}
