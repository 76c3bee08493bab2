/* bench/sparse_bench.c — sizes and host speed of the sparse weight encodings (issue 7,
 * docs/sparse.md) on matrices shaped like the reference models' (bts, gsc), at 8, 4, 2 bits
 * and 0–95 % sparsity (zeros at random positions, exactly round(s·R·K) of them).
 *
 *   bench/qreg-sparse-bench [-r RUNS] [-t MS]         markdown tables: bytes, ns per W·x
 *   bench/qreg-sparse-bench --emit FILE NAME BITS SPARSITY ENC
 *                                                     a C header for bench/mcu_sparse.c
 *
 * Time: one matrix-vector product (R row kernels) repeated for about MS ms (default 20),
 * median over RUNS runs (default 7) of the per-product time. Every encoding's result is
 * checked against the dense kernels'. Dimension letters: R rows, K levels per row. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../runtime/qrt.h"
#include "../runtime/qrt_sparse.h"

typedef struct shape {
    const char *model, *name;
    size_t rows, k;
} shape;

/* bts: Conv1D(6, 5) on 3 features, GRU(5), Dense(2); gsc: Conv1D(128, 10) on 13 MFCC,
 * GRU(196), Dense(12) (examples/bts.json, examples/gsc.json). */
static const shape shapes[] = {
    {"bts", "conv", 6, 15},       {"bts", "gru_in", 15, 6},   {"bts", "gru_rec", 15, 5},
    {"bts", "dense", 2, 5},       {"gsc", "conv", 128, 130},  {"gsc", "gru_in", 588, 128},
    {"gsc", "gru_rec", 588, 196}, {"gsc", "dense", 12, 196},
};
static const unsigned bits_list[] = {8, 4, 2};
static const unsigned sparsity_list[] = {0, 50, 75, 90, 95};

static uint64_t rng_s = 1;
static uint32_t rng_u32(void)
{
    rng_s = rng_s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t z = rng_s ^ (rng_s >> 33);
    z *= 0xff51afd7ed558ccdull;
    return (uint32_t)(z ^ (z >> 33));
}
static uint32_t rng_below(uint32_t n) { return (uint32_t)(((uint64_t)rng_u32() * n) >> 32); }

/* R×K levels: exactly round(s·R·K/100) zeros at random positions, the rest uniform non-zero
 * levels on the N-bit grid. */
static int8_t *gen_levels(size_t rows, size_t k, unsigned bits, unsigned sparsity)
{
    size_t n = rows * k, zeros = (n * sparsity + 50) / 100;
    int8_t *q = malloc(n);
    int lim = (1 << (bits - 1)) - 1;
    for (size_t i = 0; i < n; i++) {
        int v = 1 + (int)rng_below((uint32_t)lim);
        q[i] = (int8_t)(i < zeros ? 0 : (rng_u32() & 1u) ? -v : v);
    }
    for (size_t i = n - 1; i > 0; i--) { /* shuffle */
        size_t j = rng_below((uint32_t)(i + 1));
        int8_t t = q[i];
        q[i] = q[j];
        q[j] = t;
    }
    return q;
}

static int32_t *gen_x(size_t k, int32_t amax)
{
    int32_t *x = malloc(k * sizeof *x);
    for (size_t i = 0; i < k; i++)
        x[i] = (int32_t)rng_below(2u * (uint32_t)amax + 1u) - amax;
    return x;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static volatile int32_t sink;

/* One W·x in encoding enc; returns Σ_r (r + 1)·y_r (wrapping) as a checksum. */
static uint32_t matvec(const uint8_t *w, size_t rows, size_t k, unsigned enc, unsigned c,
                       const int32_t *x)
{
    uint32_t sum = 0;
    if (enc == QRT_WENC_DENSE) {
        qrt_dot_fn f = qrt_dot_for(c);
        size_t rb = QRT_ROW_BYTES(k, c);
        for (size_t r = 0; r < rows; r++, w += rb)
            sum += (uint32_t)(r + 1u) * (uint32_t)f(w, x, k);
    } else {
        qrt_sdot_fn f = qrt_sdot_for(enc, c);
        for (size_t r = 0; r < rows; r++) {
            int32_t d;
            w = f(w, x, k, &d);
            sum += (uint32_t)(r + 1u) * (uint32_t)d;
        }
    }
    return sum;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double time_matvec(const uint8_t *w, size_t rows, size_t k, unsigned enc, unsigned c,
                          const int32_t *x, int runs, double ms)
{
    double t[64];
    size_t reps = 1;
    for (;;) { /* calibrate: reps products take about ms */
        double t0 = now_ns();
        for (size_t i = 0; i < reps; i++)
            sink = (int32_t)matvec(w, rows, k, enc, c, x);
        double dt = now_ns() - t0;
        if (dt > ms * 1e6 / 4 || reps > ((size_t)1 << 30))
            break;
        reps *= 2;
    }
    reps *= 4;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < reps; i++)
            sink = (int32_t)matvec(w, rows, k, enc, c, x);
        t[r] = (now_ns() - t0) / (double)reps;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    return t[runs / 2];
}

/* The largest input bound ≤ 2^30 the matrix allows (no bias). */
static int32_t max_amax(const int8_t *q, size_t rows, size_t k)
{
    int64_t best = 1 << 30;
    for (size_t r = 0; r < rows; r++) {
        int64_t l1 = 0;
        for (size_t i = 0; i < k; i++)
            l1 += abs(q[r * k + i]);
        if (l1 > 0 && INT32_MAX / l1 < best)
            best = INT32_MAX / l1;
    }
    return (int32_t)best;
}

static const char *enc_name[] = {"dense", "bitmap", "rle"};

static int emit(const char *path, const char *name, unsigned bits, unsigned sparsity,
                unsigned enc)
{
    const shape *s = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char full[64];
        snprintf(full, sizeof full, "%s_%s", shapes[i].model, shapes[i].name);
        if (strcmp(full, name) == 0)
            s = &shapes[i];
    }
    if (!s || qrt_container_bits(bits) < 2 || enc >= QRT_WENC_END) {
        fprintf(stderr, "sparse_bench: bad --emit arguments\n");
        return 2;
    }
    rng_s = 1000003u * bits + 7919u * sparsity + (uint64_t)(s - shapes);
    int8_t *q = gen_levels(s->rows, s->k, bits, sparsity);
    int32_t amax = max_amax(q, s->rows, s->k);
    if (amax > 32767)
        amax = 32767;
    int32_t *x = gen_x(s->k, amax);
    size_t len = qrt_sparse_size(q, s->rows, s->k, enc, bits);
    uint8_t *w = malloc(len);
    if (qrt_sparse_encode(w, len, &len, q, s->rows, s->k, enc, bits) != QRT_OK ||
        qrt_sparse_check(w, len, enc, bits, (uint32_t)s->rows, (uint32_t)s->k, NULL, amax) != QRT_OK)
        return 1;
    unsigned c = qrt_container_bits(bits);
    uint32_t want = matvec(w, s->rows, s->k, enc, c, x);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "/* generated by bench/qreg-sparse-bench --emit: %s, %u bits, %u %% zeros, %s */\n",
            name, bits, sparsity, enc_name[enc]);
    fprintf(f, "#define SP_ROWS %zu\n#define SP_K %zu\n#define SP_C %u\n#define SP_ENC %u\n",
            s->rows, s->k, c, enc);
    fprintf(f, "#define SP_BYTES %zu\n#define SP_EXPECT %ld\n", len, (long)(int32_t)want);
    fprintf(f, "static const uint8_t sp_w[%zu] __attribute__((aligned(8))) = {", len);
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%s%u,", i % 24 ? "" : "\n", w[i]);
    fprintf(f, "\n};\nstatic const int32_t sp_x[%zu] = {", s->k);
    for (size_t i = 0; i < s->k; i++)
        fprintf(f, "%s%d,", i % 12 ? "" : "\n", (int)x[i]);
    fprintf(f, "\n};\n");
    fclose(f);
    free(w);
    free(x);
    free(q);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 7;
    double ms = 20;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--emit") == 0 && i + 5 < argc)
            return emit(argv[i + 1], argv[i + 2], (unsigned)atoi(argv[i + 3]),
                        (unsigned)atoi(argv[i + 4]), (unsigned)atoi(argv[i + 5]));
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            ms = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-r RUNS] [-t MS] | --emit FILE NAME BITS SPARSITY ENC\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 64)
        runs = 7;
    printf("host ns per W·x: median of %d runs of ~%.0f ms each\n\n", runs, ms);
    printf("| model | matrix | R×K | bits | zeros %% | dense B | bitmap B | RLE B | smallest "
           "| dense ns | bitmap ns | RLE ns | fastest |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    int bad = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t bi = 0; bi < 3; bi++)
            for (size_t pi = 0; pi < 5; pi++) {
                const shape *s = &shapes[si];
                unsigned bits = bits_list[bi], sp = sparsity_list[pi];
                unsigned c = qrt_container_bits(bits);
                rng_s = 1000003u * bits + 7919u * sp + si;
                int8_t *q = gen_levels(s->rows, s->k, bits, sp);
                int32_t *x = gen_x(s->k, max_amax(q, s->rows, s->k));
                size_t n[3];
                double t[3];
                uint32_t ck[3];
                for (unsigned e = 0; e < 3; e++) {
                    n[e] = qrt_sparse_size(q, s->rows, s->k, e, bits);
                    uint8_t *w = malloc(n[e]);
                    size_t len;
                    if (qrt_sparse_encode(w, n[e], &len, q, s->rows, s->k, e, bits) != QRT_OK)
                        bad = 1;
                    ck[e] = matvec(w, s->rows, s->k, e, c, x);
                    t[e] = time_matvec(w, s->rows, s->k, e, c, x, runs, ms);
                    free(w);
                }
                if (ck[1] != ck[0] || ck[2] != ck[0])
                    bad = 1;
                unsigned small = qrt_sparse_choose(q, s->rows, s->k, bits, NULL);
                unsigned fast = t[0] <= t[1] && t[0] <= t[2] ? 0 : t[1] <= t[2] ? 1 : 2;
                printf("| %s | %s | %zu×%zu | %u | %u | %zu | %zu | %zu | %s | %.0f | %.0f | "
                       "%.0f | %s |\n",
                       s->model, s->name, s->rows, s->k, bits, sp, n[0], n[1], n[2],
                       enc_name[small], t[0], t[1], t[2], enc_name[fast]);
                fflush(stdout);
                free(x);
                free(q);
            }
    if (bad)
        fprintf(stderr, "sparse_bench: encodings disagree\n");
    return bad;
}
