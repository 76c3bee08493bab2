/* libFuzzer target: the float model file reader (model/model_file.c, qr_model_load: header,
 * JSON layer list, quantization plan, tensors, standardization, calibration) and the export
 * of what it loads (export/: integer parameters, batch-norm folding, multipliers, the blob
 * builder, dense and sparse).
 *
 * The input is a .qrm file. The harness recomputes its trailing CRC-32 so mutations reach the
 * parser behind the checksum, writes it to a scratch file and loads it as `qreg export` does
 * (max_batch 1). A failed load must say why. A model that loads is exported twice (dense,
 * and sparse as `qreg export --sparse auto`); an export that succeeds must give a blob the
 * runtime's loader accepts.
 *
 * A model that loads has only finite parameters, standardization and calibration values:
 * the loader refuses any other (issue 16, finding 5), and the harness checks it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/export.h"
#include "qreg/model.h"
#include "qrt.h"

static int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* A value of the model that is NaN or infinite (finding 5 of issue 16). */
static int has_nonfinite(const qr_model *m)
{
    const qr_graph *g = m->graph;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == QR_OP_PARAM && !all_finite(g->nodes[i]->x, g->nodes[i]->max_size))
            return 1;
    return !all_finite(m->mean, m->spec.f) || !all_finite(m->std, m->spec.f) ||
           !all_finite(m->calib, m->spec.n_layers + 1);
}

static void export_and_check(qr_model *m, int sparse)
{
    qr_export_options opt = {.sparse = sparse};
    uint8_t *blob = NULL;
    size_t len = 0;
    qr_export_report rep;
    qr_error err = {{0}};
    qr_status s = qr_export_blob_ex(m, &opt, &blob, &len, &rep, &err);
    if (s == QR_OK) {
        qrt_model q;
        qrt_status st = qrt_model_load(&q, blob, len);
        FUZZ_ASSERT(st == QRT_OK, "the exported blob (sparse %d) does not load: %s", sparse,
                    qrt_strerror(st));
        FUZZ_ASSERT(rep.blob_bytes == len, "report says %zu bytes, blob has %zu",
                    rep.blob_bytes, len);
        qr_export_report_free(&rep);
    } else {
        FUZZ_ASSERT(err.msg[0] != '\0', "export failed (%s) without a message", qr_strerror(s));
    }
    free(blob);
}

/* As the qreg command does: a memory limit, so a header that asks for gigabytes of arenas is
 * refused before anything is allocated (issue 16, findings 2 and 4) instead of an OOM. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    qr_set_memory_limit((size_t)512 << 20, "the fuzz target's 512 MiB");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (size >= 36)
        fuzz_fix_crc(buf, size);
    const char *path = fuzz_write_tmp(".qrm", buf, size);
    free(buf);
    qr_model *m = NULL;
    qr_error err = {{0}};
    qr_status s = qr_model_load(path, 1, &m, &err);
    if (s != QR_OK) {
        FUZZ_ASSERT(m == NULL, "failed load returned a model");
        FUZZ_ASSERT(err.msg[0] != '\0', "load failed (%s) without a message", qr_strerror(s));
        return 0;
    }
    FUZZ_ASSERT(!has_nonfinite(m), "the loader accepted a non-finite value");
    export_and_check(m, 0);
    export_and_check(m, 1);
    qr_model_free(m);
    return 0;
}
