/* bench/mcu_bts.c — one bts inference on an emulated Cortex-M (bench/mcu/measure.sh),
 * run from generated C arrays (bench/mcu_bts_gen.c). Build flags choose:
 *   -DBTS_BITS=8|4|1        the model's weight bit-width (bts_s8.c, bts_s4.c, bts_s1.c)
 *   -DBENCH_MODE=1          whole sequence: qrt_run over 40 frames (model loaded in setup)
 *   -DBENCH_MODE=2          always-on: one qrt_stream_push + qrt_stream_logits on a stream
 *                           already fed the 40 frames (the per-frame cost)
 *   -DBENCH_MODE=3          qrt_model_load: validation and CRC-32 of the blob
 *   -DBENCH_MODE=4          compiled model (bts_s<N>c.c, qrt_builder_write_compiled): one
 *                           frame, as mode 2, with <name>_push + <name>_logits
 *   -DBENCH_MODE=5          compiled model: the whole sequence (<name>_run), as mode 1
 * Modes 4 and 5 link only qrt_kernels.c and qrt_layer.c (no loader, no interpreter).
 * bench_main returns logits[0]·65599 + logits[1] (modes 1, 2) or the blob size (mode 3), or a
 * negative qrt_status; bench/mcu_bts.sh compares it with the host's result (bts_input.h).
 * Driven by bench/mcu_bts.sh; numbers in docs/runtime.md. */
#include <stdint.h>
#include "qrt.h"
#include "bts_input.h"

#ifndef BENCH_MODE
#define BENCH_MODE 1
#endif

#if BENCH_MODE >= 4 /* a compiled model */
#include "qrt_layer.h"
#if BTS_BITS == 8
#include "bts_s8c.h"
#define C_PUSH bts_s8c_push
#define C_LOGITS bts_s8c_logits
#define C_RUN bts_s8c_run
#define C_RESET bts_s8c_reset
#define C_MEM BTS_S8C_MEM_WORDS
#elif BTS_BITS == 4
#include "bts_s4c.h"
#define C_PUSH bts_s4c_push
#define C_LOGITS bts_s4c_logits
#define C_RUN bts_s4c_run
#define C_RESET bts_s4c_reset
#define C_MEM BTS_S4C_MEM_WORDS
#elif BTS_BITS == 1
#include "bts_s1c.h"
#define C_PUSH bts_s1c_push
#define C_LOGITS bts_s1c_logits
#define C_RUN bts_s1c_run
#define C_RESET bts_s1c_reset
#define C_MEM BTS_S1C_MEM_WORDS
#else
#error "BTS_BITS must be 8, 4 or 1"
#endif
#elif BTS_BITS == 8
#include "bts_s8.h"
#define MODEL_LOAD bts_s8_load
#define SCRATCH_SIZE BTS_S8_SCRATCH_SIZE
#elif BTS_BITS == 4
#include "bts_s4.h"
#define MODEL_LOAD bts_s4_load
#define SCRATCH_SIZE BTS_S4_SCRATCH_SIZE
#elif BTS_BITS == 1
#include "bts_s1.h"
#define MODEL_LOAD bts_s1_load
#define SCRATCH_SIZE BTS_S1_SCRATCH_SIZE
#else
#error "BTS_BITS must be 8, 4 or 1"
#endif

int bench_main(void);
void bench_setup(void);

#if BENCH_MODE >= 4
static int32_t mem[C_MEM];
#else
static qrt_model model;
#endif
#if BENCH_MODE <= 2
static int32_t scratch[SCRATCH_SIZE / 4];
#endif
#if BENCH_MODE == 2
static qrt_stream stream;
#endif

#if BENCH_MODE != 3
static int32_t digest(const int32_t *l)
{
    return (int32_t)((uint32_t)l[0] * 65599u + (uint32_t)l[1]);
}
#endif

void bench_setup(void)
{
#if BENCH_MODE == 4
    C_RESET(mem);
    for (int t = 0; t < BTS_T; t++)
        C_PUSH(mem, bts_input + t * BTS_F);
#endif
#if BENCH_MODE <= 2
    if (MODEL_LOAD(&model) != QRT_OK)
        return;
#endif
#if BENCH_MODE == 2
    if (qrt_stream_init(&stream, &model, scratch, sizeof scratch) != QRT_OK)
        return;
    for (int t = 0; t < BTS_T; t++)
        qrt_stream_push(&stream, bts_input + t * BTS_F);
#endif
}

int bench_main(void)
{
#if BENCH_MODE == 3
    qrt_status st = MODEL_LOAD(&model);
    return st == QRT_OK ? (int)model.size : (int)st;
#elif BENCH_MODE >= 4
    int32_t logits[2];
#if BENCH_MODE == 4
    C_PUSH(mem, bts_input); /* frame 41: the first frame again */
    C_LOGITS(mem, logits);
#else
    C_RUN(mem, bts_input, logits);
#endif
    return (int)digest(logits);
#else
    int32_t logits[2];
#if BENCH_MODE == 1
    qrt_status st = qrt_run(&model, bts_input, scratch, sizeof scratch, logits);
#else
    qrt_status st = qrt_stream_push(&stream, bts_input); /* frame 41: the first frame again */
    if (st == QRT_OK)
        st = qrt_stream_logits(&stream, logits);
#endif
    return st == QRT_OK ? (int)digest(logits) : (int)st;
#endif
}
