/* Helpers of the runtime suites (test_runtime_*.c): deterministic random numbers, blob
 * byte helpers, a float model with its quantization (a miniature exporter), an independent
 * whole-sequence integer reference and the checks that compare them with the runtime.
 *
 * Dimension letters: T frames, F features, C channels, K dot-product length, H GRU units.
 * Tolerances (docs/runtime.md, "Error bounds"), with s_y the output scale (1 LSB):
 *   requant                 |y − acc·real| ≤ 0.5 + |acc·real|·2^-30 LSB
 *   tanh, sigmoid           ≤ 1.5 LSB of Q15 (4.6e-5), tanh ≤ 0.97 LSB on every input below 6; measured ≈ 1.0 LSB
 *   dense, conv1d, bn,      ≤ 1 LSB of s_y against the same layer in double with the same
 *   relu, prelu               (dequantized) weights and input
 *   gru                     ≤ 3e-4 absolute on h (|h| < 1) against double after T steps
 *   whole models            logits within 0.2 % of the logit range of the fake-quantized
 *                           float model (measured ≤ 0.01 %); identical argmax wherever the
 *                           float margin exceeds 1 % of the range. */
#ifndef QREG_TESTLIB_RUNTIME_H
#define QREG_TESTLIB_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include "../runtime/qrt.h"

typedef struct tr_rng {
    uint64_t s;
} tr_rng;

enum { TR_MAXL = 10 };

typedef struct tr_flayer {
    int kind;                  /* QRT_LAYER_* */
    size_t n_in, n_out;
    size_t k, stride, dil;     /* conv */
    int causal;
    int ret_seq;               /* gru */
    unsigned bits, bits_h;     /* weight bit-widths (8 = min-max) */
    double *w, *wh, *b, *bh;   /* conv/dense: w (n_out, k·n_in), b (n_out); gru: w (3H, F), wh (3H, H) */
    double *gamma, *beta, *mean, *var, eps; /* batchnorm */
    double *alpha;             /* prelu */
    /* quantization */
    double sw, swh;
    int8_t *qw, *qwh;
    double *wq, *whq;          /* dequantized levels (the fake-quantized float weights) */
    int32_t A;                 /* output bound */
    double s;                  /* output scale */
    int32_t *ib, *ibh, *ioff;
    qrt_rq *rq, *rqh;
    uint32_t nrq, nrqh;
    int fold;                  /* conv/dense: the next batchnorm is folded into this layer */
    int folded;                /* batchnorm folded into the previous layer: skipped */
} tr_flayer;

typedef struct tr_fmodel {
    size_t t, f, n;
    tr_flayer L[TR_MAXL];
    int32_t in_max;
    double in_scale;
    int per_channel;           /* per-channel requant for dense/conv/gru (else per tensor) */
    int sparse;                /* build with qrt_builder_set_sparse (smallest encoding) */
    int32_t acap;              /* > 0: every activation bound at most this (narrow storage) */
    int m15;                   /* as the exporter: 15-bit multipliers, a GRU's z and r
                                  recurrent biases added to the input side */
} tr_fmodel;

/* Load a blob into an 8-aligned copy (the tests mutate and free blobs freely). */
typedef struct tr_loaded {
    qrt_model m;
    void *scratch;
    size_t scratch_size;
} tr_loaded;

typedef struct tr_cmp_stats {
    double max_err;            /* max |int·s − float| */
    double range;              /* max |float| */
    size_t n, argmax_same, argmax_n;
} tr_cmp_stats;

uint32_t tr_rng_u32(tr_rng *r);
double tr_rng_unif(tr_rng *r, double lo, double hi);
/* A random level on the N-bit grid. */
int8_t tr_rng_level(tr_rng *r, unsigned bits);
void *tr_xcalloc(size_t n, size_t size);
void tr_put_le32(uint8_t *p, uint32_t v);
uint32_t tr_get_le32(const uint8_t *p);
void tr_fix_crc(uint8_t *b, size_t len);
void tr_fm_add_conv(tr_fmodel *m, tr_rng *r, size_t cin, size_t cout, size_t k, size_t stride,
                    size_t dil, int causal, unsigned bits);
void tr_fm_add_dense(tr_fmodel *m, tr_rng *r, size_t nin, size_t nout, unsigned bits);
void tr_fm_add_bn(tr_fmodel *m, tr_rng *r, size_t c);
void tr_fm_add_act(tr_fmodel *m, tr_rng *r, int kind, size_t c);
void tr_fm_add_gru(tr_fmodel *m, tr_rng *r, size_t f, size_t h, int ret_seq, unsigned bits,
                   unsigned bits_h);
void tr_fm_free(tr_fmodel *m);
/* Quantize weights, calibrate activations on the inputs xs (n_x sequences), choose scales and
 * bounds, fill every layer's integer parameters. fold: fold a batchnorm after conv/dense. */
void tr_fmodel_quantize(tr_fmodel *m, const double *xs, size_t n_x, int fold);
/* Build the blob of a quantized float model. */
uint8_t *tr_fmodel_build(const tr_fmodel *m, size_t *len, qrt_status want);
int32_t *tr_quantize_x(const tr_fmodel *m, const double *x);
void tr_load_ok(tr_loaded *ld, const uint8_t *blob, size_t len);
/* Run the blob of m on inputs xs; compare (a) streaming outputs with the whole-sequence
 * integer reference (bit exact), (b) qrt_run with the final streamed output (bit exact),
 * (c) the dequantized outputs with the float model (fq: fake-quantized) on the dequantized
 * input (deq_in) or on the raw input. */
tr_cmp_stats tr_check_model(const tr_fmodel *m, const uint8_t *blob, size_t len, const double *xs,
                            size_t n_x, int deq_in);
double *tr_rnd_inputs(tr_rng *r, size_t n, double amp);
/* bts: Conv1D(6, 5, valid) → BN → ReLU|PReLU → GRU(5) → Dense(2), input 40 × 3. */
void tr_make_bts(tr_fmodel *m, tr_rng *r, unsigned bits, int prelu);
uint8_t *tr_bts_blob(size_t *len, tr_fmodel *m, int prelu);
/* Load a mutated copy (8-aligned); never QRT_OK. Returns the status. */
qrt_status tr_load_copy(const uint8_t *b, size_t len);
/* Prune a quantized model: each level of every matrix of ≥ 2 bits becomes 0 with probability
 * frac (its fake-quantized float weight too, so the float model stays the reference). */
void tr_fm_prune(tr_fmodel *m, tr_rng *r, double frac);

#endif
