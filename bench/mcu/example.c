/* bench/mcu/example.c — the smallest bench for bench/mcu/measure.sh: an int8 dot product of
 * 256 elements. bench_setup fills the inputs (not counted); bench_main is measured. */
#include <stdint.h>

static int8_t a[256], b[256];

void bench_setup(void);
int bench_main(void);

void bench_setup(void)
{
    for (int i = 0; i < 256; i++) {
        a[i] = (int8_t)(i - 128);
        b[i] = (int8_t)(3 * i + 7);
    }
}

int bench_main(void)
{
    int32_t s = 0;
    for (int i = 0; i < 256; i++)
        s += a[i] * b[i];
    return (int)s;
}
