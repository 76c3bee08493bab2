/* qr_rng: reference stream, ranges, moments, unbiased integers, shuffle. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "qreg/rng.h"
#include "testlib.h"

/* First outputs of xoshiro256** after seeding with splitmix64, computed once by an
 * independent pure-Python implementation (unbounded ints masked to 64 bits):
 *   x += 0x9e3779b97f4a7c15; z = x; z = (z^(z>>30))*0xbf58476d1ce4e5b9;
 *   z = (z^(z>>27))*0x94d049bb133111eb; s[i] = z^(z>>31)      (i = 0..3)
 *   out = rotl(s1*5, 7)*9; t = s1<<17; s2^=s0; s3^=s1; s1^=s2; s0^=s3; s2^=t;
 *   s3 = rotl(s3, 45)                                                          */
START_TEST(test_rng_reference_stream)
{
    static const struct {
        uint64_t seed;
        uint64_t out[5];
    } ref[] = {
        {0, {UINT64_C(0x99ec5f36cb75f2b4), UINT64_C(0xbf6e1f784956452a), UINT64_C(0x1a5f849d4933e6e0),
             UINT64_C(0x6aa594f1262d2d2c), UINT64_C(0xbba5ad4a1f842e59)}},
        {42, {UINT64_C(0x15780b2e0c2ec716), UINT64_C(0x6104d9866d113a7e), UINT64_C(0xae17533239e499a1),
              UINT64_C(0xecb8ad4703b360a1), UINT64_C(0xfde6dc7fe2ec5e64)}},
        {0xdeadbeef, {UINT64_C(0xc5555444a74d7e83), UINT64_C(0x65c30d37b4b16e38),
                      UINT64_C(0x54f773200a4efa23), UINT64_C(0x429aed75fb958af7),
                      UINT64_C(0xfb0e1dd69c255b2e)}},
    };
    for (size_t k = 0; k < sizeof ref / sizeof ref[0]; k++) {
        qr_rng r;
        qr_rng_seed(&r, ref[k].seed);
        for (int i = 0; i < 5; i++) {
            uint64_t x = qr_rng_u64(&r);
            ck_assert_msg(x == ref[k].out[i], "seed %llu output %d: got %016llx want %016llx",
                          (unsigned long long)ref[k].seed, i, (unsigned long long)x,
                          (unsigned long long)ref[k].out[i]);
        }
    }
}
END_TEST

/* Same Python script: (x>>40)/2^24, (x>>11)/2^53 and Box-Muller
 * sqrt(-2 ln(1 - u_a)) cos(2 pi u_b) with u_a, u_b consecutive 53-bit uniforms. */
START_TEST(test_rng_reference_conversions)
{
    qr_rng r;
    qr_rng_seed(&r, 42);
    const float uf[3] = {0.08386296033859253f, 0.37898021936416626f, 0.6800433993339539f};
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq(qr_rng_uniform(&r), uf[i]);
    qr_rng_seed(&r, 42);
    const double ud[3] = {0.08386297105988216, 0.3789802506626686, 0.6800434110281394};
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(qr_rng_uniform_d(&r), ud[i]);
    qr_rng_seed(&r, 7);
    const double nd[3] = {-0.2790239910251981, 1.8997685786889567, 2.136306014732201};
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(qr_rng_normal(&r), nd[i], 1e-12);
}
END_TEST

START_TEST(test_rng_same_seed_same_stream)
{
    qr_rng a, b;
    qr_rng_seed(&a, 1234);
    qr_rng_seed(&b, 1234);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(qr_rng_u64(&a), qr_rng_u64(&b));
    /* The state is the whole stream: a copy continues identically (checkpoints). */
    qr_rng c = a;
    for (int i = 0; i < 100; i++)
        ck_assert_double_eq(qr_rng_normal(&a), qr_rng_normal(&c));
}
END_TEST

START_TEST(test_rng_different_seeds_differ)
{
    qr_rng a, b;
    qr_rng_seed(&a, 1);
    qr_rng_seed(&b, 2);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += qr_rng_u64(&a) == qr_rng_u64(&b);
    ck_assert_int_eq(same, 0);
}
END_TEST

START_TEST(test_rng_uniform_range_and_mean)
{
    qr_rng r;
    qr_rng_seed(&r, 99);
    const int n = 100000;
    double sf = 0, sd = 0;
    float minf = 1, maxf = 0;
    for (int i = 0; i < n; i++) {
        float f = qr_rng_uniform(&r);
        double d = qr_rng_uniform_d(&r);
        ck_assert(f >= 0.0f && f < 1.0f);
        ck_assert(d >= 0.0 && d < 1.0);
        minf = f < minf ? f : minf;
        maxf = f > maxf ? f : maxf;
        sf += f;
        sd += d;
    }
    /* Mean of U(0,1) has standard error 1/sqrt(12 n) ~ 9e-4; 5e-3 is > 5 sigma. */
    ck_assert_double_eq_tol(sf / n, 0.5, 5e-3);
    ck_assert_double_eq_tol(sd / n, 0.5, 5e-3);
    ck_assert(minf < 1e-3f && maxf > 0.999f);
}
END_TEST

START_TEST(test_rng_normal_moments)
{
    qr_rng r;
    qr_rng_seed(&r, 2024);
    const int n = 100000;
    double s = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < n; i++) {
        double x = qr_rng_normal(&r);
        ck_assert(isfinite(x));
        s += x;
        s2 += x * x;
        s4 += x * x * x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    /* Standard errors: mean 1/sqrt(n) ~ 3.2e-3, variance sqrt(2/n) ~ 4.5e-3,
     * fourth moment sqrt(96/n) ~ 3.1e-2 (it is 3 for a normal, 1.8 for a uniform). */
    ck_assert_double_eq_tol(mean, 0.0, 0.02);
    ck_assert_double_eq_tol(var, 1.0, 0.025);
    ck_assert_double_eq_tol(s4 / n, 3.0, 0.15);
}
END_TEST

START_TEST(test_rng_below_range_and_uniformity)
{
    qr_rng r;
    qr_rng_seed(&r, 5);
    ck_assert_uint_eq(qr_rng_below(&r, 1), 0);
    enum { K = 7, N = 70000 };
    size_t count[K] = {0};
    for (int i = 0; i < N; i++) {
        uint64_t x = qr_rng_below(&r, K);
        ck_assert_uint_lt(x, K);
        count[x]++;
    }
    /* Chi-square with 6 degrees of freedom: P(chi2 > 22.5) ~ 1e-3. */
    double chi2 = 0, e = (double)N / K;
    for (int k = 0; k < K; k++)
        chi2 += (count[k] - e) * (count[k] - e) / e;
    ck_assert_msg(chi2 < 22.5, "chi2 = %g", chi2);

    /* n ~ 2/3 of 2^64: a plain x % n (no rejection) maps twice as many 64-bit values
     * onto [0, 2^64 - n) ~ [0, n/2), so P(x < n/2) would be 2/3 instead of 1/2. */
    const uint64_t big = UINT64_C(0xAAAAAAAAAAAAAAAA);
    int low = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t x = qr_rng_below(&r, big);
        ck_assert(x < big);
        low += x < big / 2;
    }
    /* Unbiased: 10000 +- 71 (1 sigma); biased: ~13333. */
    ck_assert_msg(low > 9500 && low < 10500, "low = %d", low);
}
END_TEST

START_TEST(test_rng_shuffle_is_permutation)
{
    qr_rng r;
    qr_rng_seed(&r, 11);
    enum { N = 1000 };
    size_t idx[N];
    for (size_t i = 0; i < N; i++)
        idx[i] = i;
    qr_rng_shuffle(&r, idx, N);
    unsigned char seen[N] = {0};
    size_t fixed = 0;
    for (size_t i = 0; i < N; i++) {
        ck_assert_uint_lt(idx[i], N);
        ck_assert(!seen[idx[i]]);
        seen[idx[i]] = 1;
        fixed += idx[i] == i;
    }
    /* A random permutation has ~1 fixed point; an identity "shuffle" has N. */
    ck_assert_uint_lt(fixed, 10);

    /* Every position is reachable: the first element of 3 lands anywhere equally. */
    size_t where[3] = {0};
    for (int t = 0; t < 30000; t++) {
        size_t a[3] = {0, 1, 2};
        qr_rng_shuffle(&r, a, 3);
        for (size_t k = 0; k < 3; k++)
            if (a[k] == 0)
                where[k]++;
    }
    for (int k = 0; k < 3; k++)
        ck_assert_msg(where[k] > 9500 && where[k] < 10500, "pos %d: %zu", k, where[k]);

    qr_rng_shuffle(&r, idx, 0); /* n = 0 and 1 are no-ops */
    qr_rng_shuffle(&r, idx, 1);
}
END_TEST

Suite *qr_suite_rng(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("Core");
    tcase_add_test(tc, test_rng_reference_stream);
    tcase_add_test(tc, test_rng_reference_conversions);
    tcase_add_test(tc, test_rng_same_seed_same_stream);
    tcase_add_test(tc, test_rng_different_seeds_differ);
    tcase_add_test(tc, test_rng_uniform_range_and_mean);
    tcase_add_test(tc, test_rng_normal_moments);
    tcase_add_test(tc, test_rng_below_range_and_uniformity);
    tcase_add_test(tc, test_rng_shuffle_is_permutation);
    suite_add_tcase(s, tc);
    return s;
}
