/* bench/tanh_fit.c — the coefficient table of qrt_tanh_q16 (runtime/qrt_kernels.c).
 *
 *   cc -O2 bench/tanh_fit.c -lm -o tanh_fit && ./tanh_fit     (~30 s; deterministic)
 *
 * Per segment (x ∈ [0, 2) in halves, [2, 6) in units): a least-squares quartic in s ∈ [0, 1),
 * rounded to the runtime's fixed-point scales, then random local moves on the integers that
 * keep the smallest max |error| of the runtime's own evaluation (eval(), the same integer
 * steps) over every Q16 input of the segment. Prints the rows of qrt_tanh_tab and each
 * segment's max error in LSB of Q15. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define NSEG 8 /* [0, 2) in halves, [2, 6) in units */
static int32_t eval(const int32_t *c, int32_t s) /* as qrt_tanh_q16, c[0] in Q16 − 32768 */
{
    int32_t p = c[4];
    for (int k = 3; k > 0; k--)
        p = c[k] + ((p * s) >> 16);
    return (c[0] + ((p * s) >> 15) + 32769) >> 1;
}
/* segment seg: x from seg_lo(seg), width seg_w(seg) (Q16) */
static int32_t seg_lo(int seg) { return seg < 4 ? seg << 15 : (4 << 15) + ((seg - 4) << 16); }
static int32_t seg_w(int seg) { return seg < 4 ? 1 << 15 : 1 << 16; }
static double segerr(const int32_t *c, int seg)
{
    double e = 0;
    for (int32_t a = 0; a < seg_w(seg); a++) { /* every Q16 input; s as qrt_tanh_q16 forms it */
        int32_t s = seg < 4 ? a : a >> 1;
        double d = fabs(eval(c, s) / 32768.0 - tanh((seg_lo(seg) + a) / 65536.0));
        if (d > e)
            e = d;
    }
    return e * 32768;
}
int main(void)
{
    static const int q[5] = {16, 16, 17, 18, 19};
    srand(1);
    for (int seg = 0; seg < NSEG; seg++) {
        double A[5][6] = {{0}}, x[5];
        for (int j = 0; j <= 400; j++) { /* least squares in s = 0 … 1 */
            double s = j / 400.0, y = tanh((seg_lo(seg) + s * seg_w(seg)) / 65536.0), pw[5] = {1, s, s * s, s * s * s, s * s * s * s};
            for (int r = 0; r < 5; r++) {
                for (int k = 0; k < 5; k++)
                    A[r][k] += pw[r] * pw[k];
                A[r][5] += pw[r] * y;
            }
        }
        for (int r = 0; r < 5; r++)
            for (int k = r + 1; k < 5; k++) {
                double f = A[k][r] / A[r][r];
                for (int m = r; m < 6; m++)
                    A[k][m] -= f * A[r][m];
            }
        for (int r = 4; r >= 0; r--) {
            double v = A[r][5];
            for (int k = r + 1; k < 5; k++)
                v -= A[r][k] * x[k];
            x[r] = v / A[r][r];
        }
        int32_t c[5], t[5];
        for (int r = 0; r < 5; r++)
            c[r] = (int32_t)lround(x[r] * ldexp(1, q[r]));
        c[0] = seg ? c[0] - 32768 : -32768; /* tanh(0) = 0 exactly */
        double e = segerr(c, seg);
        for (int it = 0; it < 3000; it++) { /* random local moves on the integers */
            memcpy(t, c, sizeof t);
            for (int r = seg == 0; r < 5; r++)
                if (rand() % 3 == 0)
                    t[r] += rand() % 7 - 3;
            double e2 = segerr(t, seg);
            if (e2 < e) {
                e = e2;
                memcpy(c, t, sizeof t);
            }
        }
        printf("    {%d, %d, %d, %d, %d}, /* %.3f LSB */\n", c[0], c[1], c[2], c[3], c[4], e);
    }
    return 0;
}
