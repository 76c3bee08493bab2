/* bench/mcu_bts_gen.c — host tool for bench/mcu_bts.sh: writes a bts-shaped integer model
 * (Conv1D(6, 5, valid) → BatchNorm → ReLU → GRU(5) → Dense(2), input 40 × 3) at 8, 4 and 1
 * bits (the BatchNorm folded into the convolution) as generated C arrays (qrt_builder_write_c), a fixed quantized input sequence, and the
 * results the device must reproduce bit for bit (computed here with the same runtime).
 *
 *   cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Iruntime bench/mcu_bts_gen.c runtime/qrt_*.c -lm
 *   ./a.out OUTDIR
 *
 * Weights are random levels on each bit-width's grid with scales that keep activations in
 * their working range: what is measured is code size, memory and instruction counts, which do
 * not depend on the values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "qrt.h"
#include "qrt_builder.h"
#include "qrt_host.h"

#define T 40
#define F 3
#define C 6
#define K 5
#define H 5
#define NCLS 2
#define A_X 32767

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static double unif(double lo, double hi) { return lo + (hi - lo) * (rnd() / 4294967296.0); }

static void levels(int8_t *q, size_t n, unsigned bits)
{
    int m = bits == 1 ? 1 : (1 << (bits - 1)) - 1;
    for (size_t i = 0; i < n; i++) {
        if (bits == 1)
            q[i] = (rnd() & 1) ? 1 : -1;
        else
            q[i] = (int8_t)((int)(rnd() % (unsigned)(2 * m + 1)) - m);
    }
}

static qrt_rq rq(double real)
{
    qrt_rq q;
    if (qrt_quantize_multiplier(real, &q.mult, &q.shift) != QRT_OK) {
        fprintf(stderr, "multiplier %g out of range\n", real);
        exit(1);
    }
    return q;
}

static void check(qrt_status st, const char *what)
{
    if (st != QRT_OK) {
        fprintf(stderr, "mcu_bts_gen: %s: %s\n", what, qrt_strerror(st));
        exit(1);
    }
}

/* Activations: x in ±A_X at scale 1/A_X (|x| ≲ 1), conv/bn outputs likewise; weights w = q/M
 * (1 bit: ±1/sqrt(K)); GRU state Q15. */
static uint8_t *build(unsigned bits, size_t *len)
{
    double m = bits == 1 ? 1.0 : (double)((1 << (bits - 1)) - 1);
    qrt_builder *b;
    qrt_builder_input in = {T, F, A_X, 1.0 / A_X, NULL, NULL};
    check(qrt_builder_new(&b, &in), "new");
    check(qrt_builder_set_generator(b, "qreg mcu_bts_gen"), "generator");

    int8_t wc[C * K * F], wi[3 * H * C], wh[3 * H * H], wd[NCLS * H];
    int32_t bc[C], bi[3 * H], bh[3 * H], bd[NCLS], off[C];
    qrt_rq rqbn[C];
    levels(wc, sizeof wc, bits);
    levels(wi, sizeof wi, bits);
    levels(wh, sizeof wh, bits);
    levels(wd, sizeof wd, bits);
    /* conv: s_w = 1/(M·sqrt(K·F)), output scale 1/A_X */
    double swc = 1.0 / (m * sqrt((double)(K * F)));
    double sacc = swc / A_X;
    for (int i = 0; i < C; i++)
        bc[i] = (int32_t)lround(unif(-0.1, 0.1) / sacc);
    /* BatchNorm γ/σ ∈ [0.6, 1.4], offset (β − γμ/σ) ∈ ±0.2: folded into the convolution's
     * per-channel requantization and offset, as the exporter does (docs/runtime.md) */
    for (int i = 0; i < C; i++) {
        rqbn[i] = rq(sacc * A_X * unif(0.6, 1.4));
        off[i] = (int32_t)lround(unif(-0.2, 0.2) * A_X);
    }
    qrt_builder_conv1d conv = {F, C, K, 1, 1, QRT_PAD_VALID, {bits, wc}, bc, rqbn, C, off, A_X};
    check(qrt_builder_add_conv1d(b, &conv), "conv1d");
    check(qrt_builder_add_relu(b, C, A_X), "relu");
    /* GRU: s_wi = 1/(M·sqrt(C)), s_wh = 1/(M·sqrt(H)) */
    double swi = 1.0 / (m * sqrt((double)C)), swh = 1.0 / (m * sqrt((double)H));
    for (int i = 0; i < 3 * H; i++) {
        bi[i] = (int32_t)lround(unif(-0.2, 0.2) / (swi / A_X));
        bh[i] = (int32_t)lround(unif(-0.2, 0.2) / (swh / 32768.0));
    }
    qrt_rq ri = rq(swi / A_X * 65536.0), rh = rq(swh / 32768.0 * 65536.0);
    qrt_builder_gru gru = {C, H, 0, {bits, wi}, {bits, wh}, bi, bh, &ri, 1, &rh, 1};
    check(qrt_builder_add_gru(b, &gru), "gru");
    /* dense: logits at scale 1/4096 */
    double swd = 1.0 / (m * sqrt((double)H));
    for (int i = 0; i < NCLS; i++)
        bd[i] = (int32_t)lround(unif(-0.1, 0.1) / (swd / 32768.0));
    qrt_rq rd = rq(swd / 32768.0 * 4096.0);
    qrt_builder_dense dense = {H, NCLS, {bits, wd}, bd, &rd, 1, NULL, 1 << 20};
    check(qrt_builder_add_dense(b, &dense), "dense");
    check(qrt_builder_set_output_scale(b, 1.0 / 4096), "output scale");
    uint8_t *blob;
    check(qrt_builder_finish(b, &blob, len), "finish");
    qrt_builder_free(b);
    return blob;
}

/* The value bench_main returns for given logits. */
static int32_t digest(const int32_t *l)
{
    return (int32_t)((uint32_t)l[0] * 65599u + (uint32_t)l[1]);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mcu_bts_gen OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char path[1024], hpath[1024], name[32];
    int32_t x[T * F];
    for (int i = 0; i < T * F; i++) /* a smooth, accelerometer-like sequence */
        x[i] = (int32_t)lround(A_X * 0.8 * sin(0.21 * (i / F) + 1.7 * (i % F)) * (0.6 + 0.4 * unif(0, 1)));
    snprintf(path, sizeof path, "%s/bts_input.h", dir);
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        perror(path);
        return 1;
    }
    fprintf(fp, "/* Generated by bench/mcu_bts_gen.c: one quantized input sequence (40, 3) and the\n"
                " * digests bench_main must return (logits[0]·65599 + logits[1], as computed on the host). */\n"
                "#include <stdint.h>\n#define BTS_T %d\n#define BTS_F %d\n"
                "static const int32_t bts_input[%d] = {", T, F, T * F);
    for (int i = 0; i < T * F; i++)
        fprintf(fp, "%s%d,", i % 12 ? " " : "\n    ", (int)x[i]);
    fprintf(fp, "\n};\n");
    static const unsigned widths[] = {8, 4, 1};
    for (int w = 0; w < 3; w++) {
        size_t len;
        uint8_t *blob = build(widths[w], &len);
        snprintf(name, sizeof name, "bts_s%u", widths[w]);
        snprintf(path, sizeof path, "%s/%s.c", dir, name);
        snprintf(hpath, sizeof hpath, "%s/%s.h", dir, name);
        check(qrt_builder_write_c(blob, len, name, path, hpath, "qreg mcu_bts_gen"), "write_c");
        snprintf(name, sizeof name, "bts_s%uc", widths[w]); /* the same model, compiled */
        snprintf(path, sizeof path, "%s/%s.c", dir, name);
        snprintf(hpath, sizeof hpath, "%s/%s.h", dir, name);
        check(qrt_builder_write_compiled(blob, len, name, path, hpath, "qreg mcu_bts_gen"),
              "write_compiled");
        snprintf(name, sizeof name, "bts_s%u", widths[w]);
        /* expected results: whole sequence, and one frame after 39 (= whole), and the
         * frame-41 result of the always-on stream fed frame 0 again */
        qrt_model m;
        check(qrt_model_load(&m, blob, len), "load");
        size_t ss = qrt_scratch_size(&m);
        void *scratch = calloc(1, ss);
        int32_t logits[2];
        check(qrt_run(&m, x, scratch, ss, logits), "run");
        qrt_stream s;
        check(qrt_stream_init(&s, &m, scratch, ss), "stream");
        for (int t = 0; t < T; t++)
            check(qrt_stream_push(&s, x + t * F), "push");
        check(qrt_stream_push(&s, x), "push");
        int32_t l2[2];
        check(qrt_stream_logits(&s, l2), "logits");
        fprintf(fp, "#define BTS_S%u_WHOLE %dL   /* logits %d %d */\n", widths[w], (int)digest(logits),
                (int)logits[0], (int)logits[1]);
        fprintf(fp, "#define BTS_S%u_FRAME41 %dL\n", widths[w], (int)digest(l2));
        fprintf(fp, "#define BTS_S%u_BLOB %zu\n", widths[w], len);
        printf("%s: %zu-byte blob, scratch %zu B, logits %d %d\n", name, len, ss, (int)logits[0],
               (int)logits[1]);
        free(scratch);
        free(blob);
    }
    if (fclose(fp) != 0)
        return 1;
    return 0;
}
