/* bench/mcu_model.c — one inference of an exported model (`qreg export --out DIR`) on an
 * emulated Cortex-M (bench/mcu/measure.sh), driven by bench/mcu_model.sh. Flags:
 *   -DM_NAME=bts -DM_UP=BTS   the export's --name and its upper-case form
 *   -DBENCH_MODE=2            interpreter: one frame (qrt_stream_push + qrt_stream_logits) on a
 *                             stream already fed SEQ_LEN frames; model.c + the whole runtime
 *   -DBENCH_MODE=4            compiled: the same frame with NAME_push + NAME_logits;
 *                             model_compiled.c + qrt_kernels.c + qrt_layer.c only
 *   -DBENCH_MODE=5            compiled: a whole window (NAME_reset, SEQ_LEN pushes, logits)
 *   -DHOST_MAIN               build for the host: print what bench_main returns
 * The input frames are pseudo-random in ±IN_MAX/2, made on the fly (no input table in flash).
 * bench_main returns a digest of the logits; the device must return what the host returns. */
#include <stdint.h>
#include "qrt.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#if BENCH_MODE >= 4
#include "model_compiled.h"
#define F CAT(M_UP, _N_FEATURES)
#define T CAT(M_UP, _SEQ_LEN)
#define NOUT CAT(M_UP, _N_OUTPUTS)
#define IN_MAX CAT(M_UP, _IN_MAX)
static int32_t mem[CAT(M_UP, _MEM_WORDS)];
#else
#include "model.h"
#define F CAT(M_UP, _N_FEATURES)
#define T CAT(M_UP, _SEQ_LEN)
#define NOUT CAT(M_UP, _N_OUTPUTS)
static qrt_model model;
static qrt_stream stream;
static int32_t scratch[CAT(M_UP, _SCRATCH_SIZE) / 4];
#endif

int bench_main(void);
void bench_setup(void);

static uint32_t seed = 12345u;

/* The next frame: xorshift32 values v ∈ [−2^15, 2^15) scaled to within ±in_max/2, in 32-bit
 * arithmetic (no long-multiply helper on the M0+). */
static void next_frame(int32_t *x, int32_t in_max)
{
    for (int i = 0; i < F; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        int32_t v = (int32_t)(seed & 0xFFFFu) - 32768;
        x[i] = in_max >= 65536 ? v * (in_max >> 16) : (v * in_max) >> 16;
    }
}

static int32_t digest(const int32_t *l)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < NOUT; i++)
        h = (h ^ (uint32_t)l[i]) * 16777619u;
    return (int32_t)(h >> 1);
}

void bench_setup(void)
{
    int32_t x[F];
#if BENCH_MODE == 4
    CAT(M_NAME, _reset)(mem);
    for (int t = 0; t < T; t++) {
        next_frame(x, IN_MAX);
        CAT(M_NAME, _push)(mem, x);
    }
#elif BENCH_MODE == 2
    if (CAT(M_NAME, _load)(&model) != QRT_OK ||
        qrt_stream_init(&stream, &model, scratch, sizeof scratch) != QRT_OK)
        return;
    for (int t = 0; t < T; t++) {
        next_frame(x, model.in_max);
        qrt_stream_push(&stream, x);
    }
#else
    (void)x;
#endif
}

int bench_main(void)
{
    int32_t x[F], logits[NOUT];
#if BENCH_MODE == 4
    next_frame(x, IN_MAX);
    CAT(M_NAME, _push)(mem, x);
    CAT(M_NAME, _logits)(mem, logits);
#elif BENCH_MODE == 5
    CAT(M_NAME, _reset)(mem);
    for (int t = 0; t < T; t++) {
        next_frame(x, IN_MAX);
        CAT(M_NAME, _push)(mem, x);
    }
    CAT(M_NAME, _logits)(mem, logits);
#else
    next_frame(x, model.in_max);
    if (qrt_stream_push(&stream, x) != QRT_OK || qrt_stream_logits(&stream, logits) != QRT_OK)
        return -1;
#endif
    return (int)digest(logits);
}

#ifdef HOST_MAIN
#include <stdio.h>
int main(void)
{
    bench_setup();
    printf("%d\n", bench_main());
    return 0;
}
#endif
