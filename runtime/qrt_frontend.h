/* qrt_frontend — the integer audio front end: int16 PCM in, one feature frame per hop out
 * (MFCC or log-mel energies in Q16 natural-log units), streaming, on caller memory.
 * Freestanding C99 like the rest of runtime/: <stdint.h> and <stddef.h> only, no libc call,
 * no malloc, no floating point. Unlike the model kernels it uses 64-bit integer arithmetic
 * (products of 32-bit values; on a Cortex-M0+ these are libgcc's integer helpers
 * __aeabi_lmul and the 64-bit shifts, never a float helper).
 *
 * It computes qreg's float MFCC (datasets/mfcc.c, docs/audio.md "MFCC") in integers:
 *   pre-emphasis  y = x·2^15 − a·x_prev               a in Q15, y in Q15 PCM units (int32)
 *   window        p = y·w·2^−15                       w in Q30 (the Hann or Hamming table), int64
 *   block scale   v = round(p·2^(sh−30))              one shift sh per frame, the largest that
 *                                                     keeps Σ|v| < 2^30 and n_fft·Σv² < 2^62
 *   real FFT      n_fft/2-point complex radix-2 FFT in int32 with Q30 twiddles (64-bit
 *                 products, rounded), then the real split; no overflow by the bounds above
 *   power, mel    E[m] = Σ_k w_m[k]·|X[k]|² in uint64, Q30 weights (the float filterbank's)
 *   log           ln E by a leading-bit count and 16 squarings (log2, Q16), times ln 2, minus
 *                 (30 + 2·sh)·ln 2 for the scales; max(·, ln log_floor)
 *   DCT-II        c[i] = Σ_m d[i][m]·L[m], d in Q30
 * Outputs are int32 in Q16: the float value is out/65536.
 *
 * The constant tables (window, twiddles, filterbank, DCT) come from the host-side generator
 * (datasets/frontend_int.c: qr_ifront_new builds them from a qr_mfcc_config, and
 * qr_ifront_write_c writes them as C for a firmware build).
 *
 * Streaming: frame t is samples [t·hop, t·hop + W) of the stream, as the float MFCC without
 * centring. The state keeps the W newest samples (int16, caller memory) and the sample
 * before them (for the pre-emphasis; 0 at the start, as y[0] = x[0]). */
#ifndef QRT_FRONTEND_H
#define QRT_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "qrt.h"
#include "qrt_layer.h" /* qrt_inq */

#ifdef __cplusplus
extern "C" {
#endif

#define QRT_FRONTEND_FRAC 16       /* outputs: Q16 (1.0 = 65536) natural-log units */
#define QRT_FRONTEND_MAX_W 65536u  /* window length W: 16 .. 65536 samples */
#define QRT_FRONTEND_MAX_MELS 512u

typedef struct qrt_frontend_tables {
    uint32_t win_length;       /* W, [16, n_fft] */
    uint32_t hop_length;       /* samples per frame step, >= 1 */
    uint32_t fft_log2;         /* n_fft = 2^fft_log2, [4, 16] */
    uint32_t n_mels;           /* M, [1, 512] */
    uint32_t n_mfcc;           /* C, [0, M]; 0: output the M log-mel energies instead */
    int32_t preemph_q15;       /* a·2^15, [0, 32767] */
    int32_t log_floor_q16;     /* ln(log_floor)·2^16 */
    const int32_t *window;     /* W/2 + 1 values in Q30: w[j] for j <= W/2, w[W − j] = w[j] */
    const int32_t *sin_q30;    /* n_fft/4 + 1 values: sin(2π·i/n_fft)·2^30 */
    const uint16_t *band_lo;   /* M: the first FFT bin of band m */
    const uint32_t *band_off;  /* M + 1: band m's weights are weights[band_off[m] .. [m + 1]) */
    const uint32_t *weights;   /* band_off[M] weights in Q30, bin band_lo[m] + i for the i-th */
    const int32_t *dct_q30;    /* C × M, row-major: d[i][m]·2^30 */
} qrt_frontend_tables;

typedef struct qrt_frontend {
    const qrt_frontend_tables *t;
    int16_t *buf;              /* W samples (caller memory): the window being filled */
    uint32_t fill;             /* samples in buf */
    uint32_t skip;             /* samples to drop before the next window (hop > W) */
    int16_t prev;              /* the sample before buf[0] */
} qrt_frontend;

/* Check every field of the tables (ranges, offsets inside the arrays' declared sizes cannot be
 * checked: the arrays must have the lengths above). QRT_OK or QRT_ERR_RANGE / QRT_ERR_ARG. */
qrt_status qrt_frontend_check(const qrt_frontend_tables *t);
/* Values per output frame: n_mfcc, or n_mels when n_mfcc = 0. */
uint32_t qrt_frontend_out_len(const qrt_frontend_tables *t);
/* Bytes of the state buffer (W int16 samples) and of the scratch a frame needs (int32
 * (n_fft + 2) + M; 4-byte aligned). */
size_t qrt_frontend_buffer_size(const qrt_frontend_tables *t);
size_t qrt_frontend_scratch_size(const qrt_frontend_tables *t);

/* Start a stream on caller memory buf (qrt_frontend_buffer_size bytes, 2-byte aligned).
 * The tables are checked (qrt_frontend_check) and must outlive the stream. */
qrt_status qrt_frontend_init(qrt_frontend *fe, const qrt_frontend_tables *t, int16_t *buf,
                             size_t buf_bytes);
/* Forget the samples: the next sample is the start of a new stream. */
void qrt_frontend_reset(qrt_frontend *fe);

/* Consume pcm[0..n) until a frame completes or the samples run out.
 * @return 1: out (qrt_frontend_out_len values) holds a new frame and *used samples were
 *         consumed (call again with the rest); 0: all n samples consumed, no new frame;
 *         < 0: a qrt_status (QRT_ERR_ARG, QRT_ERR_SCRATCH, QRT_ERR_ALIGN).
 * scratch: qrt_frontend_scratch_size bytes, 4-byte aligned. Pushing `hop` samples at a time
 * gives at most one frame per call. */
int qrt_frontend_push(qrt_frontend *fe, const int16_t *pcm, size_t n, size_t *used,
                      int32_t *out, void *scratch, size_t scratch_bytes);

/* One frame from a whole window: win[0..W) and the sample before it (0 at a stream's start).
 * The stream calls this; it is also the stateless entry. */
qrt_status qrt_frontend_frame(const qrt_frontend_tables *t, const int16_t *win, int16_t prev,
                              int32_t *out, void *scratch, size_t scratch_bytes);

/* A frame of the front end's Q16 outputs to the model's quantized input: per value
 *     q = clamp(round_half_away((feat · mult − off) / 2^k), ±in_max)
 * with the constants of qrt_quantize_raw16 (qrt_layer.h) made for one raw count = 2^−16 model
 * units (qrt_input_consts with raw_scale 2^−16: the standardization and the input scale
 * folded in; a model export writes them as NAME_audio.c). Exact in int64 (|feat · mult| <
 * 2^62, |off| < 2^60), so it equals the host's float quantization of feat / 65536 except
 * within (|feat · a| + a)·2^−31 of a rounding boundary (a = mult / 2^k), as raw16's. */
void qrt_frontend_quantize(const qrt_inq *q, const int32_t *feat, int32_t *frame, size_t n,
                           int32_t in_max);

#ifdef __cplusplus
}
#endif

#endif /* QRT_FRONTEND_H */
