/* qreg — quantization regularizers and their schedules (SPEC.md §2, §3).
 *
 * J(W) = L + λ · S(t) · Σ_i Σ_{w ∈ W_i} Reg_{N_i}(w): each regularized weight matrix W_i has
 * its own bit-width N_i and regularizer; S(t) paces the penalty over training.
 *
 * 1-bit regularizers (minima at ±1):
 *   r1     |1 − |w||                    (Darabi et al. 2020)
 *   r1sq   (1 − |w|)²                   (Darabi et al. 2020)
 *   reg1a  (w² − 1)²                    (thesis eq. 4.3)
 *   reg1b  |w² − 1|                     (thesis eq. 4.4)
 *   reg1c  cos(πw) + 1 for |w| ≤ 3/2, else π(|w| − 3/2) + 1   (thesis eq. 4.5, C¹)
 * N-bit cosine regularizer, N ≥ 2, M = 2^(N−1) − 1:
 *   cos_N  1 − cos(2πMw) for |w| ≤ 1 + 1/(4M), else 1 + 2π((|w| − 1)M − 1/4)   (C¹)
 *   with 2^N − 1 minima k/M, |k| ≤ M.
 * Derivatives at the kinks of r1, r1sq, reg1b (w = 0, |w| = 1) are taken as 0, the value
 * that keeps a weight sitting exactly on a minimum (or on the symmetric maximum) there. */
#ifndef QREG_QUANT_H
#define QREG_QUANT_H

#include "qreg/common.h"

typedef enum qr_reg_kind {
    QR_REG_R1 = 0,
    QR_REG_R1SQ,
    QR_REG_REG1A,
    QR_REG_REG1B,
    QR_REG_REG1C,
    QR_REG_COS,      /* Reg_N, N = bits (2..8) */
    QR_REG_COUNT
} qr_reg_kind;

/* "r1", "r1sq", "reg1a", "reg1b", "reg1c", "cos"; NULL out of range. */
QR_API const char *qr_reg_name(qr_reg_kind k);
/* Parse a name (also "reg_n"/"regN" for cos); QR_ERR_CONFIG if unknown. */
QR_API qr_status qr_reg_parse(const char *name, qr_reg_kind *out);
/* 1 for the 1-bit family, 0 for cos. */
QR_API int qr_reg_is_binary(qr_reg_kind k);
/* Whether (k, bits) is a valid pair: 1-bit regularizers need bits = 1, cos needs 2..8. */
QR_API int qr_reg_valid(qr_reg_kind k, int bits);

/* Reg(w) and Reg'(w) in double. */
QR_API double qr_reg_value(qr_reg_kind k, int bits, double w);
QR_API double qr_reg_deriv(qr_reg_kind k, int bits, double w);

/* Σ_i Reg(w[i]) (returned, accumulated in double) and g[i] += coef · Reg'(w[i]) (g may be
 * NULL to only evaluate). This is the fused gradient update of the penalty coef·Σ Reg(w). */
QR_API double qr_reg_apply(qr_reg_kind k, int bits, const float *w, size_t n, float coef,
                           float *g);

/* The grid: M = 2^(bits−1) − 1 for bits ≥ 2 (levels k/M), 1 for bits = 1 (levels ±1). */
QR_API int qr_reg_levels(int bits);
/* The minimum nearest to w: sign(w) (w = 0 → +1) for 1 bit, clamp(round(w·M), −M, M)/M else. */
QR_API float qr_reg_nearest(int bits, float w);
/* Share of w within eps of its nearest minimum. */
QR_API double qr_reg_share_near(int bits, const float *w, size_t n, double eps);

/* ---- schedules: S(t) for t = 1 … t_final -------------------------------------------- */

typedef enum qr_sched_kind {
    QR_SCHED_NONE = 0,    /* 1 */
    QR_SCHED_LINEAR,      /* (t − 1)/(T − 1) */
    QR_SCHED_POLY2,       /* (t² − 1)/(T² − 1) */
    QR_SCHED_POLYN,       /* (t/T)^power */
    QR_SCHED_INV_LINEAR,  /* 1/(1 + 1/(d·t)) */
    QR_SCHED_INV_POLY,    /* 1/(1 + 1/(d·t²)) */
    QR_SCHED_STEP_LINEAR, /* ⌊t/step⌋ / ⌊T/step⌋ */
    QR_SCHED_STEP_INVERSE,/* rate^(⌊T/step⌋ − ⌊t/step⌋) */
    QR_SCHED_STEP_BOUNDED,/* 1 − rate^⌊t/step⌋ */
    QR_SCHED_COUNT
} qr_sched_kind;

typedef struct qr_schedule {
    qr_sched_kind kind;
    double d;      /* inv_linear (default 0.01), inv_poly (default 0.001) */
    double rate;   /* step_inverse, step_bounded (default 0.8) */
    double power;  /* polyN (default 3) */
    double step;   /* step_* (default 10) */
} qr_schedule;

QR_API const char *qr_sched_name(qr_sched_kind k);
QR_API qr_status qr_sched_parse(const char *name, qr_sched_kind *out);
/* The SPEC's defaults for a kind (d = 0.01 for inv_linear, 0.001 for inv_poly). */
QR_API void qr_schedule_default(qr_schedule *s, qr_sched_kind kind);
/* QR_ERR_CONFIG for parameters that break S ≥ 0, S(T) ≤ 1, S' ≥ 0 (d ≤ 0, rate outside
 * (0, 1), power ≤ 0, step < 1, or step > t_final for the step schedules). */
QR_API qr_status qr_schedule_check(const qr_schedule *s, double t_final);
/* S(t); a degenerate denominator (t_final = 1) gives 1. */
QR_API double qr_schedule_value(const qr_schedule *s, double t, double t_final);

#endif /* QREG_QUANT_H */
