/* libFuzzer target: the device runtime's blob loader and interpreter (runtime/), and the
 * host helpers that read a blob (export/qrt_host.c: layer info, host section, input
 * quantization) as `qreg eval --int` uses them.
 *
 * The input is a .qrt blob. Before loading, the harness stores the input's length in the
 * header's total-size field and recomputes the trailing CRC-32, so mutations reach the checks
 * behind the checksum (a corrupted CRC is a one-line check, tested in tests/test_runtime_blob.c).
 * A blob that loads must run: qrt_run on T frames and a stream of the same frames (then
 * qrt_stream_finish, which feeds same padding's right-hand zeros) must both succeed and agree
 * bit for bit (runtime/qrt.h promises it), and every logit must lie within
 * the last layer's bound. The work is bounded: inference runs only when the scratch is at
 * most 64 MiB, and on at most 256 frames, fewer when a budget of about 5·10^6 operations
 * allows fewer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "qrt.h"
#include "qrt_host.h"

#define MAX_SCRATCH ((size_t)64 << 20)
#define OPS_BUDGET 5000000.0
#define MAX_INPUT_VALUES ((size_t)1 << 22)

static int32_t input_value(uint64_t *rng, int32_t in_max)
{
    uint64_t r = fuzz_rng_next(rng);
    switch (r & 7) {
    case 0:
        return in_max;
    case 1:
        return -in_max;
    case 2:
        return (r >> 8) & 1 ? INT32_MAX : INT32_MIN;
    case 3:
        return (int32_t)(uint32_t)(r >> 32);
    default:
        return (int32_t)((r >> 16) % 129) - 64;
    }
}

static float float_value(uint64_t *rng)
{
    uint64_t r = fuzz_rng_next(rng);
    if ((r & 3) == 0) {
        uint32_t bits = (uint32_t)(r >> 32); /* any float: NaN, inf, huge, denormal */
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    return (float)((double)(int32_t)(r >> 32) / 1e8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > UINT32_MAX)
        return 0;
    /* the loader wants an 8-byte aligned blob: copy it (malloc aligns to 16) */
    uint8_t *blob = malloc(size ? size : 1);
    if (!blob)
        return 0;
    memcpy(blob, data, size);
    if (size >= 104) {
        fuzz_put_u32(blob + 16, (uint32_t)size);
        fuzz_fix_crc(blob, size);
    }
    qrt_model m;
    qrt_status st = qrt_model_load(&m, blob, size);
    if (st != QRT_OK) {
        static const qrt_model zero;
        FUZZ_ASSERT(memcmp(&m, &zero, sizeof m) == 0, "a failed load (%d) left *m set", (int)st);
        FUZZ_ASSERT(qrt_strerror(st) != NULL, "no message for %d", (int)st);
        free(blob);
        return 0;
    }
    FUZZ_ASSERT(m.n_layers >= 1 && m.n_layers <= QRT_MAX_LAYERS, "n_layers %u", m.n_layers);

    /* what the host tools read of it */
    double work = (double)size; /* every weight is read once per frame at most */
    int32_t last_max = 0;
    for (size_t i = 0; i < m.n_layers; i++) {
        qrt_layer_info li;
        st = qrt_layer_info_get(&m, i, &li);
        FUZZ_ASSERT(st == QRT_OK, "layer info %zu: %d", i, (int)st);
        FUZZ_ASSERT(li.n_tensors <= 6, "layer %zu: %zu tensors", i, li.n_tensors);
        work += (double)li.n_in + (double)li.n_out * (li.kind == QRT_LAYER_GRU ? 8.0 : 1.0);
        if (li.kind == QRT_LAYER_CONV1D || li.kind == QRT_LAYER_MAXPOOL)
            work += (double)li.kernel * (double)li.n_in;
        last_max = li.out_max;
    }
    qrt_host_view hv;
    int have_host = qrt_host_view_get(&m, &hv) == QRT_OK;

    size_t scratch_size = qrt_scratch_size(&m);
    FUZZ_ASSERT(scratch_size % 4 == 0, "scratch size %zu", scratch_size);
    size_t T = m.seq_len, F = m.n_features;
    double budget = OPS_BUDGET / (work > 1.0 ? work : 1.0);
    size_t frames = budget < 1.0 ? 1 : budget > 256.0 ? 256 : (size_t)budget;
    if (frames > T)
        frames = T;
    if (scratch_size == 0 || scratch_size > MAX_SCRATCH || F == 0 ||
        frames > MAX_INPUT_VALUES / F) {
        free(blob);
        return 0;
    }

    uint64_t rng = qr_crc32(data, size) | 1ull << 40;
    int32_t *x = malloc(frames * F * sizeof *x);
    int32_t *scratch = malloc(scratch_size);
    int32_t *l1 = malloc((m.n_outputs + 1) * sizeof *l1);
    int32_t *l2 = malloc((m.n_outputs + 1) * sizeof *l2);
    float *fx = malloc(F * sizeof *fx);
    float *fo = malloc((m.n_outputs + 1) * sizeof *fo);
    if (!x || !scratch || !l1 || !l2 || !fx || !fo)
        goto out;
    for (size_t i = 0; i < frames * F; i++)
        x[i] = input_value(&rng, m.in_max);
    if (have_host) {
        /* the first frame through the host's float quantizer instead */
        for (size_t f = 0; f < F; f++)
            fx[f] = float_value(&rng);
        st = qrt_quantize_input(&m, fx, 1, x);
        if (st == QRT_OK)
            for (size_t f = 0; f < F; f++)
                FUZZ_ASSERT(x[f] >= -m.in_max && x[f] <= m.in_max, "quantized input %d",
                            (int)x[f]);
    }

    int ran = 0;
    if (frames == T) {
        st = qrt_run(&m, x, scratch, scratch_size, l1);
        FUZZ_ASSERT(st == QRT_OK, "qrt_run: %s", qrt_strerror(st));
        ran = 1;
    }
    qrt_stream s;
    st = qrt_stream_init(&s, &m, scratch, scratch_size);
    FUZZ_ASSERT(st == QRT_OK, "qrt_stream_init: %s", qrt_strerror(st));
    for (size_t t = 0; t < frames; t++) {
        st = qrt_stream_push(&s, x + t * F);
        FUZZ_ASSERT(st == QRT_OK, "qrt_stream_push %zu: %s", t, qrt_strerror(st));
    }
    if (ran) {
        st = qrt_stream_finish(&s);
        FUZZ_ASSERT(st == QRT_OK, "qrt_stream_finish: %s", qrt_strerror(st));
    }
    st = qrt_stream_logits(&s, l2);
    FUZZ_ASSERT(st == QRT_OK || st == QRT_ERR_NOT_READY, "qrt_stream_logits: %s",
                qrt_strerror(st));
    if (ran) {
        FUZZ_ASSERT(st == QRT_OK, "qrt_run gave logits, the stream %s", qrt_strerror(st));
        FUZZ_ASSERT(memcmp(l1, l2, m.n_outputs * sizeof *l1) == 0,
                    "qrt_run and the stream disagree");
    }
    if (st == QRT_OK) {
        for (size_t i = 0; i < m.n_outputs; i++)
            FUZZ_ASSERT(l2[i] >= -last_max && l2[i] <= last_max, "logit %zu = %d, bound %d", i,
                        (int)l2[i], (int)last_max);
        (void)qrt_argmax(l2, m.n_outputs);
        if (have_host)
            (void)qrt_dequantize_output(&m, l2, fo);
    }
    st = qrt_stream_reset(&s);
    FUZZ_ASSERT(st == QRT_OK, "qrt_stream_reset: %s", qrt_strerror(st));
out:
    free(x);
    free(scratch);
    free(l1);
    free(l2);
    free(fx);
    free(fo);
    free(blob);
    return 0;
}
