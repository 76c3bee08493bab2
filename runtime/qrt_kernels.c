/* qrt — packed dot products and their scalar twins, requantization, fixed-point tanh and
 * sigmoid, argmax. Dimension letters: n levels in a row. Freestanding, integer-only. */
#include <stdint.h>
#include <stddef.h>
#include "qrt.h"

unsigned qrt_container_bits(unsigned bits)
{
    if (bits == 1u || bits == 2u)
        return bits;
    if (bits == 3u || bits == 4u)
        return 4u;
    if (bits >= 5u && bits <= 8u)
        return 8u;
    return 0u;
}

uint32_t qrt_udiv32(uint32_t a, uint32_t b)
{
    uint32_t q = 0;
    for (int k = 31; k >= 0; k--)
        if ((a >> k) >= b) {
            a -= b << k;
            q |= 1u << k;
        }
    return q;
}

int32_t qrt_unpack_level(const uint8_t *row, size_t i, unsigned c)
{
    size_t bit = i * c;
    uint32_t v = ((uint32_t)row[bit >> 3] >> (bit & 7u)) & ((1u << c) - 1u);
    if (c == 1u)
        return v ? 1 : -1;
    /* two's complement in c bits: flip the sign bit, subtract it */
    uint32_t sb = 1u << (c - 1u);
    return (int32_t)(v ^ sb) - (int32_t)sb;
}

/* ---- packed dot products ---------------------------------------------------------------
 * All four walk the row a byte at a time, full bytes unrolled. The 1-bit one (and QRT_SMALL's
 * 2-bit one) use masks, no multiply: BIT_MASK(b, j) is −1 when bit j of b is set and 0 when clear (a shift
 * left and an arithmetic shift right); x & m keeps or zeroes x; (x ^ m) − m keeps or negates
 * it. The 1-bit dot adds the x of set bits (pos) and all x (tot): Σ ±x = pos − (tot − pos),
 * every partial sum bounded by Σ|x|. */
#define BIT_MASK(b, j) ((int32_t)((uint32_t)(b) << (31 - (j))) >> 31)
QRT_STATIC_CHECK(wrap, (int32_t)0xFFFFFFFFu == -1); /* uint32 → int32 wraps (two's complement) */

#if QRT_ENABLE_S1 && QRT_SMALL
/* Compact: a byte of levels at a time, one level per inner iteration (no unrolling). */
int32_t qrt_dot_s1(const uint8_t *w, const int32_t *x, size_t n)
{
    int32_t pos = 0, tot = 0;
    while (n > 0u) {
        uint32_t b = *w++;
        size_t m = n < 8u ? n : 8u;
        n -= m;
        do {
            int32_t v = *x++;
            pos += v & -(int32_t)(b & 1u);
            tot += v;
            b >>= 1;
        } while (--m);
    }
    return pos - (tot - pos);
}
#elif QRT_ENABLE_S1
#define S1_STEP(j)                                                                           \
    do {                                                                                     \
        pos += x[j] & BIT_MASK(b, j);                                                        \
        tot += x[j];                                                                         \
    } while (0)

int32_t qrt_dot_s1(const uint8_t *w, const int32_t *x, size_t n)
{
    int32_t pos = 0, tot = 0;
    uint32_t b;
    for (; n >= 8u; n -= 8u, x += 8) {
        b = *w++;
        S1_STEP(0);
        S1_STEP(1);
        S1_STEP(2);
        S1_STEP(3);
        S1_STEP(4);
        S1_STEP(5);
        S1_STEP(6);
        S1_STEP(7);
    }
    if (n) { /* the last, partial byte (rows are short: often all of it): 4 + 2 + 1 levels
              * as n's bits say, shifting b down (a switch would cost a table and a libgcc
              * call on ARMv6-M, __gnu_thumb1_case_uqi) */
        b = *w;
        if (n & 4u) {
            S1_STEP(0);
            S1_STEP(1);
            S1_STEP(2);
            S1_STEP(3);
            x += 4;
            b >>= 4;
        }
        if (n & 2u) {
            S1_STEP(0);
            S1_STEP(1);
            x += 2;
            b >>= 2;
        }
        if (n & 1u)
            S1_STEP(0);
    }
    return pos - (tot - pos);
}
#endif

#if QRT_ENABLE_S2 && QRT_SMALL
/* Compact: one level per iteration, the byte shifted down two bits at a time. */
int32_t qrt_dot_s2(const uint8_t *w, const int32_t *x, size_t n)
{
    int32_t acc = 0;
    uint32_t b = 0;
    for (size_t i = 0; i < n; i++, b >>= 2) {
        if ((i & 3u) == 0u)
            b = *w++;
        int32_t t = x[i] & BIT_MASK(b, 0), s = BIT_MASK(b, 1);
        acc += (t ^ s) - s;
    }
    return acc;
}
#elif QRT_ENABLE_S2
/* One ternary field j (bits 2j, 2j + 1), sign-extended by a shift pair and multiplied: on a
 * Cortex-M0+ (single-cycle MULS) that is 4 cycles a level besides the load, against 7 for the
 * nonzero and sign masks ((x & m) ^ s) − s of the compact kernel. */
#define S2_STEP(j) (acc += ((int32_t)(b << (30 - 2 * (j))) >> 30) * x[j])

int32_t qrt_dot_s2(const uint8_t *w, const int32_t *x, size_t n)
{
    int32_t acc = 0;
    for (; n >= 4u; n -= 4u, x += 4) {
        uint32_t b = *w++;
        S2_STEP(0);
        S2_STEP(1);
        S2_STEP(2);
        S2_STEP(3);
    }
    if (n) { /* the last, partial byte: 2 + 1 levels as n's bits say */
        uint32_t b = *w;
        if (n & 2u) {
            S2_STEP(0);
            S2_STEP(1);
            x += 2;
            b >>= 4;
        }
        if (n & 1u)
            S2_STEP(0);
    }
    return acc;
}
#endif

#if QRT_ENABLE_S4 && QRT_SMALL
/* Compact: one level per iteration, the byte shifted down four bits at a time. */
int32_t qrt_dot_s4(const uint8_t *w, const int32_t *x, size_t n)
{
    int32_t acc = 0;
    uint32_t b = 0;
    for (size_t i = 0; i < n; i++, b >>= 4) {
        if ((i & 1u) == 0u)
            b = *w++;
        acc += ((int32_t)(b << 28) >> 28) * x[i];
    }
    return acc;
}
#elif QRT_ENABLE_S4 && !QRT_HAVE_SMULL
/* ARMv6-M and the host: a byte (two levels) per iteration, the loop left after the low
 * nibble of an odd row's last byte: one walk instead of a pair loop and a tail (Cortex-M0+,
 * bts 4 bits: 80 -> 50 B and 5 % fewer cycles a frame; on a Cortex-M4 4 % more, so there
 * the pair loop below stays). */
int32_t qrt_dot_s4(const uint8_t *w, const int32_t *x, size_t n)
{
    int32_t acc = 0;
    for (const int32_t *e = x + n; x < e; x += 2) {
        uint32_t b = *w++;
        acc += ((int32_t)(b << 28) >> 28) * x[0]; /* low nibble, sign-extended */
        if (x + 1 == e)
            break;
        acc += ((int32_t)(b << 24) >> 28) * x[1]; /* high nibble */
    }
    return acc;
}
#elif QRT_ENABLE_S4
int32_t qrt_dot_s4(const uint8_t *w, const int32_t *x, size_t n)
{
    int32_t acc = 0;
    for (; n >= 2u; n -= 2u, x += 2) {
        uint32_t b = *w++;
        acc += ((int32_t)(b << 28) >> 28) * x[0]; /* low nibble, sign-extended */
        acc += ((int32_t)(b << 24) >> 28) * x[1]; /* high nibble */
    }
    if (n)
        acc += ((int32_t)((uint32_t)*w << 28) >> 28) * x[0];
    return acc;
}
#endif
#if QRT_ENABLE_S4
/* On int16 inputs, one walk as qrt_dot_s4 on ARMv6-M (where a compiled model calls it: the
 * M0+ keeps QRT_ROWS_S4 off); reading int16 saves the widened stack copy of the input (bts
 * 4 bits on a Cortex-M0+: 76 B of code and 80 B of stack). */
int32_t qrt_dot16_s4(const uint8_t *w, const int16_t *x, size_t n)
{
    int32_t acc = 0;
    for (const int16_t *e = x + n; x < e; x += 2) {
        uint32_t b = *w++;
        acc += ((int32_t)(b << 28) >> 28) * x[0]; /* low nibble, sign-extended */
        if (x + 1 == e)
            break;
        acc += ((int32_t)(b << 24) >> 28) * x[1]; /* high nibble */
    }
    return acc;
}
#endif

#if QRT_ENABLE_S8 && QRT_SMALL
/* Compact: one multiply-accumulate per iteration. */
int32_t qrt_dot_s8(const uint8_t *w, const int32_t *x, size_t n)
{
    const int8_t *q = (const int8_t *)w;
    int32_t acc = 0;
    for (; n > 0u; n--)
        acc += *q++ * *x++;
    return acc;
}
#elif QRT_ENABLE_S8
int32_t qrt_dot_s8(const uint8_t *w, const int32_t *x, size_t n)
{
    const int8_t *q = (const int8_t *)w;
    int32_t acc = 0;
    for (; n >= 4u; n -= 4u, q += 4, x += 4)
        acc += q[0] * x[0] + q[1] * x[1] + q[2] * x[2] + q[3] * x[3];
    for (; n > 0u; n--)
        acc += *q++ * *x++;
    return acc;
}
#endif

static int32_t dot_ref(const uint8_t *w, const int32_t *x, size_t n, unsigned c)
{
    int32_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += qrt_unpack_level(w, i, c) * x[i];
    return acc;
}

int32_t qrt_dot_s1_ref(const uint8_t *w, const int32_t *x, size_t n) { return dot_ref(w, x, n, 1u); }
int32_t qrt_dot_s2_ref(const uint8_t *w, const int32_t *x, size_t n) { return dot_ref(w, x, n, 2u); }
int32_t qrt_dot_s4_ref(const uint8_t *w, const int32_t *x, size_t n) { return dot_ref(w, x, n, 4u); }
int32_t qrt_dot_s8_ref(const uint8_t *w, const int32_t *x, size_t n) { return dot_ref(w, x, n, 8u); }

qrt_dot_fn qrt_dot_for(unsigned c)
{
    switch (c) {
#if QRT_ENABLE_S1
    case 1u: return qrt_dot_s1;
#endif
#if QRT_ENABLE_S2
    case 2u: return qrt_dot_s2;
#endif
#if QRT_ENABLE_S4
    case 4u: return qrt_dot_s4;
#endif
#if QRT_ENABLE_S8
    case 8u: return qrt_dot_s8;
#endif
    default: return NULL;
    }
}

/* ---- requantization ------------------------------------------------------------------- */

static int32_t requant64(int32_t acc, int32_t mult, int32_t shift)
{
    /* |acc·mult| ≤ 2^62 and the rounding term ≤ 2^61: no int64 overflow. */
    unsigned r = (unsigned)(31 - shift); /* 1 … 62 */
    int64_t p = (int64_t)acc * (int64_t)mult + ((int64_t)1 << (r - 1u));
    p >>= r; /* floor (arithmetic shift) */
    if (p > INT32_MAX)
        return INT32_MAX;
    if (p < INT32_MIN)
        return INT32_MIN;
    return (int32_t)p;
}

int32_t qrt_requant_ref(int32_t acc, int32_t mult, int32_t shift)
{
    return requant64(acc, mult, shift);
}

#if QRT_HAVE_SMULL
/* Cortex-M3/M4/M7 and ARMv8-M Mainline: a 32×32→64 multiply (SMULL) and inline 64-bit
 * shifts, no libgcc call, so the exact int64 form is the fastest and smallest. */
int32_t qrt_requant(int32_t acc, int32_t mult, int32_t shift)
{
    return requant64(acc, mult, shift);
}
#elif QRT_ASM_V6M
#define QRT_ASM_ARG __attribute__((__unused__)) /* a naked function's argument (in r0-r2) */
/* ARMv6-M in Thumb-1 assembly (104 B instead of C's 136, 11 instructions fewer a call): the
 * four 16×16 partial products of the C form below, summed into (hi, lo) with ADDS/ADCS (C
 * has no carry), the rounding term 2^(r−1) added as a 64-bit pair and the shift done with
 * register shifts, which give 0 (LSLS, LSRS) from 32 on (the low and high rounding words
 * need no branch). bench/mcu_requant.sh checks it against qrt_requant_ref on the device. */
__attribute__((naked)) int32_t qrt_requant(int32_t acc QRT_ASM_ARG, int32_t mult QRT_ASM_ARG,
                                           int32_t shift QRT_ASM_ARG)
{
    __asm__(".syntax unified\n\t"
            "push  {r4, r5, r6, lr}\n\t"
            "asrs  r3, r0, #16\n\t" /* a1 = acc >> 16 */
            "uxth  r0, r0\n\t"      /* a0 */
            "asrs  r4, r1, #16\n\t" /* b1 = mult >> 16 */
            "uxth  r1, r1\n\t"      /* b0 */
            "movs  r5, r0\n\t"
            "muls  r5, r1, r5\n\t"  /* lo = a0·b0 */
            "movs  r6, r3\n\t"
            "muls  r6, r4, r6\n\t"  /* hi = a1·b1 */
            "muls  r3, r1, r3\n\t"  /* a1·b0 */
            "muls  r0, r4, r0\n\t"  /* a0·b1 */
            "lsls  r1, r3, #16\n\t"
            "asrs  r3, r3, #16\n\t"
            "adds  r5, r5, r1\n\t"
            "adcs  r6, r3\n\t"      /* + a1·b0·2^16 */
            "lsls  r1, r0, #16\n\t"
            "asrs  r0, r0, #16\n\t"
            "adds  r5, r5, r1\n\t"
            "adcs  r6, r0\n\t"      /* + a0·b1·2^16: (hi, lo) = acc·mult */
            "movs  r0, #31\n\t"
            "subs  r2, r0, r2\n\t"  /* r = 31 − shift, 1 … 62 */
            "subs  r3, r2, #1\n\t"
            "movs  r1, #1\n\t"
            "lsls  r1, r3\n\t"      /* 2^(r−1): 0 from r = 33 */
            "subs  r3, #32\n\t"
            "movs  r4, #1\n\t"
            "lsls  r4, r3\n\t"      /* 2^(r−33): 0 below r = 33 (shift count ≥ 224) */
            "adds  r5, r5, r1\n\t"
            "adcs  r6, r4\n\t"
            "cmp   r2, #32\n\t"
            "bge   1f\n\t"
            "lsrs  r5, r2\n\t"
            "movs  r0, #32\n\t"
            "subs  r0, r0, r2\n\t"
            "movs  r1, r6\n\t"
            "lsls  r1, r0\n\t"
            "orrs  r5, r1\n\t"      /* y = low word of (hi, lo) >> r */
            "asrs  r6, r2\n\t"      /* top = hi >> r */
            "movs  r0, r5\n\t"
            "asrs  r5, r5, #31\n\t"
            "cmp   r5, r6\n\t"
            "beq   2f\n\t"          /* top is y's sign extension: in range */
            "asrs  r0, r6, #31\n\t"
            "movs  r1, #1\n\t"
            "lsls  r1, r1, #31\n\t"
            "mvns  r1, r1\n\t"
            "eors  r0, r1\n\t"      /* INT32_MIN below, INT32_MAX above */
            "b     2f\n"
            "1:\n\t"
            "subs  r2, #32\n\t"     /* r ≥ 32: |result| < 2^30, hi >> (r − 32) */
            "asrs  r6, r2\n\t"
            "movs  r0, r6\n"
            "2:\n\t"
            "pop   {r4, r5, r6, pc}\n");
}
#else
/* The same result with 32-bit operations only: ARMv6-M (Cortex-M0/M0+) has no 32×32→64
 * multiply, and the int64 version costs three libgcc calls (__aeabi_lmul, __aeabi_llsl,
 * __aeabi_lasr), about 100 instructions. The signed product is built from four 16×16
 * products of signed high and unsigned low halves (a = a1·2^16 + a0, a1 = a >> 16 signed,
 * 0 ≤ a0 < 2^16; each product fits int32: |a1·b1| ≤ 2^30, |a1·b0|, |a0·b1| < 2^31,
 * a0·b0 < 2^32 unsigned), added into a 64-bit (hi, lo) pair, rounded, shifted. */
int32_t qrt_requant(int32_t acc, int32_t mult, int32_t shift)
{
    int32_t a1 = acc >> 16, b1 = mult >> 16;
    uint32_t a0 = (uint32_t)acc & 0xFFFFu, b0 = (uint32_t)mult & 0xFFFFu;
    int32_t m1 = a1 * (int32_t)b0, m2 = (int32_t)a0 * b1;
    uint32_t lo = a0 * b0, t;
    int32_t hi = a1 * b1 + (m1 >> 16) + (m2 >> 16);
    t = lo + ((uint32_t)m1 << 16);
    hi += t < lo;
    lo = t + ((uint32_t)m2 << 16);
    hi += lo < t;
    unsigned r = (unsigned)(31 - shift); /* 1 … 62 */
#if QRT_SMALL
    /* Compact (124 B instead of 136 on a Cortex-M0+, ~15 cycles more a call for shifts below
     * 0): a shift r beyond 31 becomes r − 31 on (hi, lo) = floor(P / 2^31), exact as the
     * floors nest and |P| < 2^62 keeps 2·hi + 1 bit within int32; then one path for all. */
    if (r > 31u) {
        lo = ((uint32_t)hi << 1) | (lo >> 31);
        hi >>= 31;
        r -= 31u; /* 1 … 31 */
    }
    t = lo + (1u << (r - 1u));
    hi += t < lo;
    int32_t y = (int32_t)((t >> r) | ((uint32_t)hi << (32u - r)));
    if ((hi >> r) != (y >> 31))
        return (hi >> 31) ^ INT32_MAX; /* INT32_MIN below, INT32_MAX above */
    return y;
#else
    if (r <= 32u) {
        t = lo + (1u << (r - 1u));
        hi += t < lo;
        if (r == 32u)
            return hi;
        /* (hi, t) >> r: the result is the low word if the high word is its sign extension */
        int32_t y = (int32_t)((t >> r) | ((uint32_t)hi << (32u - r)));
        int32_t top = hi >> r;
        if (top != (y >> 31))
            return top < 0 ? INT32_MIN : INT32_MAX;
        return y;
    }
    return (hi + (int32_t)(1u << (r - 33u))) >> (r - 32u);
#endif
}
#endif

/* acc·m = h·2^16 + l with 0 ≤ l < 2^16 (h = (acc >> 16)·m + the high half of (acc & 0xFFFF)·m,
 * |h| < 2^30 + 2^15). r ≤ 16: h·2^(16−r) + round(l / 2^r), in uint32 (exact when the result
 * fits, which the caller guarantees); r > 16: l only moves the floor below 2^16, so
 * (h + 2^(r−17)) >> (r − 16). */
int32_t qrt_requant15(int32_t acc, int32_t m, uint32_t r)
{
    int32_t lo = (int32_t)((uint32_t)acc & 0xFFFFu) * m; /* |lo| < 2^31 */
    int32_t h = (acc >> 16) * m + (lo >> 16);
    uint32_t l = (uint32_t)lo & 0xFFFFu;
    if (r <= 16u)
        return (int32_t)(((uint32_t)h << (16u - r)) + ((l + (1u << (r - 1u))) >> r));
    return (h + (int32_t)(1u << (r - 17u))) >> (r - 16u);
}

/* ---- tanh and sigmoid ------------------------------------------------------------------
 * tanh on 8 segments, x ∈ [0, 2) in halves and [2, 6) in units (where tanh is flat enough),
 * each a quartic in s = the offset into the segment scaled to [0, 1) in Q15:
 * y = c0 + s·(c1 + s·(c2 + s·(c3 + s·c4))), the coefficients in Q16, Q16, Q17, Q18, Q19 (one
 * more bit per order, so the inner Horner steps all shift by 16; the last, by 15, lands in
 * Q16), c0 stored as y − 0.5 so it fits int16. The integers are fitted by bench/tanh_fit.c to the smallest max error of this very
 * evaluation, checked on every Q16 input: ≤ 0.97 LSB of Q15. From 6 on, 1.0 (error 0.4 LSB).
 * 80 B of table and ~100 B of code on a Cortex-M0+, 74 B less than the former 49-entry
 * table of tanh(i/8) with a cubic Taylor step from the node (1.1 LSB). */
static const int16_t qrt_tanh_tab[8][5] = {
    {-32768, 32749, 299, -12641, 4381},
    {-2483, 25785, -12109, -2042, 3265},
    {17144, 13769, -10568, 3880, -371},
    {26552, 5921, -5350, 2835, -763},
    {30411, 4606, -8568, 9019, -4348},
    {32444, 642, -1221, 1326, -656},
    {32724, 87, -164, 180, -87},
    {32762, 12, -22, 27, -12},
};

int32_t qrt_tanh_q16(int32_t x)
{
    int32_t sg = x >> 31; /* 0 or −1: |x| and the sign restored without branches (16 B) */
    uint32_t a = ((uint32_t)x ^ (uint32_t)sg) - (uint32_t)sg;
    int32_t y = QRT_ONE_Q15;
    if (a < (6u << 16)) {
        uint32_t i = a >> 15, s = a & 0x7FFFu;
        if (i >= 4u) { /* from 2 on, unit segments; the dropped input bit moves y < 0.04 LSB */
            i = (a >> 16) + 2u;
            s = (a & 0xFFFFu) >> 1;
        }
        const int16_t *c = qrt_tanh_tab[i], *k = c + 4;
        int32_t p = *k; /* |p·s| < 2^31 at every step */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8 && QRT_HAVE_SMULL
#pragma GCC unroll 3 /* ARMv7-M: unrolled */
#elif defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#pragma GCC unroll 1 /* ARMv6-M: a loop (GCC peels it whole even at -Os: 12 B) */
#endif
        while (--k != c)
            p = *k + ((p * (int32_t)s) >> 16);
        y = (*c + ((p * (int32_t)s) >> 15) + 32769) >> 1; /* Q16 + 0.5, rounded to Q15 */
    }
    return (y ^ sg) - sg;
}

int32_t qrt_sigmoid_q16(int32_t x)
{
    return (QRT_ONE_Q15 + qrt_tanh_q16(x >> 1) + 1) >> 1;
}

size_t qrt_argmax(const int32_t *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}
