/* bench/mcu_sparse.c — one matrix-vector product (BENCH_MODE 1) or one validation
 * (BENCH_MODE 2) of a weight matrix in one encoding, for bench/mcu/measure.sh; driven
 * by bench/mcu_sparse.sh, which generates sparse_data.h (bench/qreg-sparse-bench --emit).
 * The kernel is called by name, so the image holds only its code. bench_main returns the
 * checksum Σ_r (r + 1)·y_r (mode 1, must equal SP_EXPECT) or the qrt_status (mode 2). */
#include <stdint.h>
#include <stddef.h>
#include "qrt.h"
#include "qrt_sparse.h"
#include "sparse_data.h"

#ifndef BENCH_MODE
#define BENCH_MODE 1
#endif

#define CAT3(a, b, c) a##b##c
#define NAME3(a, b, c) CAT3(a, b, c)
#if SP_ENC == 0
#define SP_DOT NAME3(qrt_dot_s, SP_C, )
#elif SP_ENC == 1
#define SP_DOT NAME3(qrt_sdot_bm_s, SP_C, )
#else
#define SP_DOT NAME3(qrt_sdot_rle_s, SP_C, )
#endif

int bench_main(void);
int bench_main(void)
{
#if BENCH_MODE == 1
    const uint8_t *w = sp_w;
    uint32_t sum = 0;
    for (uint32_t r = 0; r < SP_ROWS; r++) {
#if SP_ENC == 0
        sum += (r + 1u) * (uint32_t)SP_DOT(w, sp_x, SP_K);
        w += QRT_ROW_BYTES(SP_K, SP_C);
#else
        int32_t d;
        w = SP_DOT(w, sp_x, SP_K, &d);
        sum += (r + 1u) * (uint32_t)d;
#endif
    }
    return (int)sum;
#else
    return (int)qrt_sparse_check(sp_w, SP_BYTES, SP_ENC, SP_C, SP_ROWS, SP_K, NULL, 1);
#endif
}
