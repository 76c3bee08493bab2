/* bench/mcu_requant.c — qrt_requant and qrt_requant15 on the device against qrt_requant_ref on
 * the host (bench/mcu_requant.sh): every shift (QRT_SHIFT_MIN … QRT_SHIFT_MAX) with the edge
 * accumulators and multipliers (the 16-bit piece boundaries, INT32_MIN/MAX: saturation)
 * crossed, and xorshift pairs; then every r of qrt_requant15 on random pairs within its
 * bound (no saturation). bench_main returns an FNV-1a digest of every result, so the device
 * must return what the host build (-DHOST_MAIN, the int64 reference) prints. */
#include <stdint.h>
#include "qrt.h"

#ifdef HOST_MAIN
#define RQ qrt_requant_ref
#define RQ15(a, m, r) qrt_requant_ref((a), (int32_t)((uint32_t)(m) << 16), 15 - (int32_t)(r))
#else
#define RQ qrt_requant
#define RQ15 qrt_requant15
#endif

int bench_main(void);

static const int32_t edge_acc[] = {
    0, 1, -1, 2, -2, 32767, 32768, -32768, -32769, 65535, 65536, -65536, -65537, 1 << 24,
    -(1 << 24), 0x7FFF0000, (int32_t)0x80010000, INT32_MAX, INT32_MIN, INT32_MIN + 1,
};
static const int32_t edge_mult[] = {
    0, 1, -1, 65535, 65536, -65536, 1 << 30, -(1 << 30), 1518500250, INT32_MAX, -INT32_MAX,
    INT32_MIN,
};
#define N_ACC (sizeof edge_acc / sizeof edge_acc[0])
#define N_MULT (sizeof edge_mult / sizeof edge_mult[0])
#define N_RANDOM 300u /* pairs a shift */

static uint32_t h = 2166136261u, seed = 2463534242u;

static void mix(int32_t v)
{
    h = (h ^ (uint32_t)v) * 16777619u;
}

static uint32_t next(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

int bench_main(void)
{
    for (int32_t s = QRT_SHIFT_MIN; s <= QRT_SHIFT_MAX; s++) {
        for (unsigned i = 0; i < N_ACC; i++)
            for (unsigned j = 0; j < N_MULT; j++)
                mix(RQ(edge_acc[i], edge_mult[j], s));
        for (unsigned k = 0; k < N_RANDOM; k++) {
            uint32_t a = next(), m = next();
            /* accumulators of every magnitude: a random right shift of a random word */
            int32_t acc = (int32_t)a >> (m & 31u);
            mix(RQ(acc, (int32_t)m, s));
        }
    }
    for (uint32_t r = 1; r <= 46u; r++)
        for (unsigned k = 0; k < N_RANDOM; k++) {
            uint32_t a = next(), m = next();
            /* |acc| < 2^(16 + r) keeps |acc·m·2^−r| < 2^31, then a random magnitude */
            int32_t acc = (int32_t)a >> (r < 16u ? 16u - r : 0u);
            acc >>= m & 15u;
            mix(RQ15(acc, (int32_t)(m >> 16) - 32768, r));
        }
    return (int)(h >> 1);
}

#ifdef HOST_MAIN
#include <stdio.h>
int main(void)
{
    printf("%d\n", bench_main());
    return 0;
}
#endif
