/* qreg — quantization regularizers and their schedules (docs/method.md §3, §4).
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
#include "qreg/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

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
/* The same on a grid scaled by α > 0: Σ Reg(w/α), g += coef · Reg'(w/α) / α. */
QR_API double qr_reg_apply_scaled(qr_reg_kind k, int bits, const float *w, size_t n,
                                  float alpha, float coef, float *g);
/* The same with one scale per channel: w is row-major with `channels` columns (the last axis),
 * element i in channel i mod channels: Σ Reg(w_i/α_c), g_i += coef · Reg'(w_i/α_c) / α_c. */
QR_API double qr_reg_apply_channels(qr_reg_kind k, int bits, const float *w, size_t n,
                                    const float *alpha, size_t channels, float coef, float *g);
/* max |Reg'(w)| over the grid's range |w| ≤ 1: 1 (r1), 2 (r1sq), 8/(3√3) (reg1a), 2 (reg1b),
 * π (reg1c), 2πM (cos, M = 2^(bits−1) − 1). reg1c and cos reach it on ℝ as well; r1sq, reg1a
 * and reg1b grow without bound beyond ±1. The divisor of "lambda_norm": "slope". */
QR_API double qr_reg_max_slope(qr_reg_kind k, int bits);

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
/* The defaults of docs/method.md §4 for a kind (d = 0.01 for inv_linear, 0.001 for inv_poly). */
QR_API void qr_schedule_default(qr_schedule *s, qr_sched_kind kind);
/* QR_ERR_CONFIG for parameters that break S ≥ 0, S(T) ≤ 1, S' ≥ 0 (d ≤ 0, rate outside
 * (0, 1), power ≤ 0, step < 1, or step > t_final for the step schedules). */
QR_API qr_status qr_schedule_check(const qr_schedule *s, double t_final);
/* S(t); a degenerate denominator (t_final = 1) gives 1. */
QR_API double qr_schedule_value(const qr_schedule *s, double t, double t_final);

/* ---- hybrid plans: a bit-width and a regularizer per weight matrix ------------------------ */

struct cJSON;

/* How a matrix's grid scale α is chosen (beyond the thesis; off by default). */
typedef enum qr_scale_mode {
    QR_SCALE_NONE = 0,      /* α = 1: the grid is k/M (the thesis) */
    QR_SCALE_FIXED,         /* α = max|W| when training starts */
    QR_SCALE_LEARNED,       /* α refit after every epoch: α = Σ w·q / Σ q², q the grid levels */
    QR_SCALE_LSQ            /* STE only: α starts as for LEARNED, then follows its own gradient
                               every step (LSQ, Esser et al. 2020), SGD at scale_lr */
} qr_scale_mode;

/* How λ is normalized (beyond the thesis; off by default). */
typedef enum qr_lambda_norm {
    QR_LAMBDA_NORM_NONE = 0, /* c = λ·S(t) (the thesis) */
    QR_LAMBDA_NORM_SLOPE     /* c = λ·S(t) / qr_reg_max_slope: the same largest pull at every width */
} qr_lambda_norm;

/* The STE's gradient inside its edge (beyond the thesis; straight through by default). */
typedef enum qr_ste_grad {
    QR_STE_GRAD_IDENTITY = 0, /* ∂q/∂w = 1 where |w/α| ≤ ste_clip (the clipped STE) */
    QR_STE_GRAD_APPROXSIGN    /* 1 bit: ∂q/∂w = 2 − 2|w/α| for |w/α| < 1, else 0: the derivative
                                 of Bi-Real Net's piecewise-quadratic sign (Liu et al. 2018) */
} qr_ste_grad;

/* One weight matrix (a kernel or recurrent kernel) and how it is quantized. */
typedef struct qr_quant_matrix {
    char name[64];          /* parameter name, "gru_1/recurrent_kernel" */
    int bits;               /* 1..8 */
    int regularized;        /* 1: on the N-bit grid α·k/M (1 bit: ±α), by the regularizer or
                               by STE; 0: no penalty, quantized by 8-bit min-max PTQ (bits 8) */
    int ste;                /* straight-through-estimator fake quantization instead of the
                               penalty (beyond the thesis; off by default) */
    qr_reg_kind reg;
    float lambda;
    int mean;               /* reduction: 0 sum (the thesis), 1 mean over the entries */
    qr_schedule schedule;
    qr_scale_mode scale_mode;
    float alpha;            /* the grid scale α (1 unless scale_mode says otherwise) */
    int per_channel;        /* one α per output channel (the matrix's last axis) instead of one
                               for the matrix; needs scale_mode fixed or learned */
    size_t channels;        /* per_channel: the last axis' size (0 until the scales are set) */
    size_t alpha_off;       /* per_channel: α_c is plan->alphas[alpha_off + c] */
    qr_lambda_norm lambda_norm;
    float scale_lr;         /* QR_SCALE_LSQ: the scales' SGD learning rate */
    float ste_clip;         /* STE: the gradient is zeroed where |w/α| > ste_clip; 0: the default
                               (qr_quant_ste_clip_default), INFINITY: never (identity STE) */
    qr_ste_grad ste_grad;   /* STE at 1 bit: the gradient's shape inside the edge */
} qr_quant_matrix;

typedef struct qr_quant_plan {
    size_t n;
    qr_quant_matrix *m;     /* every weight matrix of the model, in parameter order; owned */
    size_t n_alphas;        /* the per-channel scales of every per_channel matrix; owned */
    float *alphas;
    int per_step;           /* the schedule's t counts optimizer steps (else epochs) */
    double near_eps;        /* "near a minimum": within near_eps/M (1 bit: near_eps) */
} qr_quant_plan;

QR_API void qr_quant_plan_free(qr_quant_plan *p);
QR_API qr_status qr_quant_plan_copy(qr_quant_plan *dst, const qr_quant_plan *src);
/* The plan as JSON (stored in model files; read back by qr_quant_plan_from_json, qreg/model.h). */
QR_API struct cJSON *qr_quant_plan_to_json(const qr_quant_plan *p);

/* Whether any matrix is regularized. */
QR_API int qr_quant_plan_active(const qr_quant_plan *p);
/* Give every per_channel matrix `channels` scales (set its channels first; 0 leaves it
 * unscaled) in a new plan->alphas, all 1; replaces an earlier array. */
QR_API qr_status qr_quant_plan_alloc_alphas(qr_quant_plan *p);
/* The grid scale of element k of plan matrix i: α_(k mod C) per channel, else α (1 if unset). */
QR_API float qr_quant_elem_alpha(const qr_quant_plan *p, size_t i, size_t k);
/* The penalty's coefficient λ·S(t) (÷ n for mean, ÷ max|Reg'| for lambda_norm slope) of
 * plan matrix i with n entries. */
QR_API double qr_quant_coef(const qr_quant_plan *p, size_t i, size_t n, double t, double t_final);

/* Per-matrix state of one evaluation of the penalty. */
typedef struct qr_quant_stat {
    double reg;             /* Σ Reg(w) over the matrix (no λ, no S) */
    double schedule;        /* S(t) */
    double share_near;      /* share of entries within ε of their nearest minimum */
    double mean_abs_err;    /* mean |w − q(w)| to the PTQ value */
    double scale;           /* PTQ scale: 1/M, 1 for 1 bit, max|W|/127 for 8-bit min-max */
} qr_quant_stat;

/* Add the penalty's gradient λ·S(t)·Reg'(w) (÷ n for mean) of every regularized matrix of
 * the graph to its gradient arena; returns the penalty λ·S(t)·Σ Reg (÷ n). */
QR_API double qr_quant_apply(const qr_quant_plan *p, qr_graph *g, double t, double t_final);
/* Statistics of every matrix (stats has p->n entries). */
QR_API void qr_quant_stats(const qr_quant_plan *p, qr_graph *g, double t, double t_final,
                           qr_quant_stat *stats);

/* Post-training quantization (docs/method.md §5) of the model's weight matrices in place: a
 * regularized N-bit matrix to clamp(round(w·M), −M, M)/M, a 1-bit one to sign(w), every
 * other matrix to 8-bit symmetric min-max s·clamp(round(w/s), −127, 127), s = max|W|/127.
 * Biases, batch norm and PReLU slopes stay float: this is the "fake-quantized" model. */
QR_API void qr_quant_fake(const qr_quant_plan *p, qr_graph *g);

/* Byte size in the thesis' accounting (docs/method.md §2.2): N bits per weight at its
 * bit-width, 32 bits per bias, batch-norm parameter (4 per channel) and PReLU slope.
 * `baseline` gets the size with every weight at 8 bits. */
QR_API double qr_quant_bytes(const qr_quant_plan *p, qr_graph *g, double *baseline);

/* Straight-through estimation and grid scales (opt-in extensions, docs/quantization.md). */
typedef struct qr_quant_ste qr_quant_ste;
/* Prepare a run on plan p (a model's own plan, which it updates): α of QR_SCALE_FIXED and
 * QR_SCALE_LEARNED matrices from the graph's current weights (per channel: channels set from
 * the parameter's last axis and plan->alphas allocated; QR_ERR_SHAPE for a per-channel matrix
 * of fewer than 2 axes), and a shadow buffer for the STE matrices (*ste NULL when there are
 * none). The plan must outlive *ste. */
QR_API qr_status qr_quant_begin_training(qr_graph *g, qr_quant_plan *p, qr_quant_ste **ste);
/* Before forward: save the float weights of STE matrices and put their quantized values in. */
QR_API void qr_quant_ste_forward(qr_quant_ste *s, qr_graph *g);
/* After backward: restore the float weights; the gradient computed at the quantized weights
 * is kept (straight through), zeroed where |w/α| is beyond qr_quant_ste_clip: by default the
 * grid's end (the clipped STE of BinaryConnect and QKeras). */
QR_API void qr_quant_ste_backward(qr_quant_ste *s, qr_graph *g);
QR_API void qr_quant_ste_free(qr_quant_ste *s);
/* The STE's edge in units of α: beyond the last level plus half a step, 1 + 1/(2M) (1 at
 * 1 bit), where the rounding is flat. */
QR_API float qr_quant_ste_clip_default(int bits);
/* The edge matrix q's STE uses: q->ste_clip, or the default for its bits when 0. */
QR_API float qr_quant_ste_clip(const qr_quant_matrix *q);
/* The factor matrix q's STE multiplies the gradient of a weight at u = w/α by: 1 inside the
 * edge and 0 beyond it, or with QR_STE_GRAD_APPROXSIGN max(0, 2 − 2|u|). */
QR_API float qr_quant_ste_grad_factor(const qr_quant_matrix *q, float u);
/* LSQ's ∂q/∂α of one weight w on the grid α·levels (q = α·nearest(w/α), the rounding passed
 * straight through): nearest(w/α) at 1 bit; nearest(w/α) − w/α inside the grid (|w/α| ≤ 1) and
 * nearest(w/α) = ±1 beyond it at N bits. */
QR_API float qr_quant_lsq_dq(int bits, float w, float alpha);
/* After an epoch: refit α of the plan's QR_SCALE_LEARNED matrices (two least-squares
 * iterations). */
QR_API void qr_quant_refit_scales(qr_graph *g, qr_quant_plan *p);

/* ---- magnitude pruning (Zhu & Gupta 2017, docs/method.md §8) ------------------------------ */

typedef struct qr_prune_matrix {
    char name[64];          /* parameter name */
    int active;             /* pruned at all */
    double s_final, s_initial; /* target and initial sparsity, 0 <= s_initial <= s_final < 1 */
    uint64_t t0, n, dt;     /* start step, number of pruning steps, steps between them */
} qr_prune_matrix;

typedef struct qr_prune_plan {
    size_t n;
    qr_prune_matrix *m;     /* every weight matrix of the model, in parameter order; owned */
} qr_prune_plan;

/* s_t = s_f + (s_0 − s_f)(1 − (t − t0)/(nΔt))³ for t0 <= t <= t0 + nΔt; 0 before t0 (no
 * pruning yet), s_f after. n = 0 means one step at t0 straight to s_f. */
QR_API double qr_prune_sparsity(const qr_prune_matrix *p, uint64_t t);
/* Whether t is one of t0, t0 + Δt, …, t0 + nΔt. */
QR_API int qr_prune_is_step(const qr_prune_matrix *p, uint64_t t);
/* mask[i] = 0 for the floor(s·n) smallest |w[i]| (ties: lower index first), 1 otherwise.
 * `scratch` holds n size_t. */
QR_API void qr_prune_mask(const float *w, size_t n, double sparsity, uint8_t *mask,
                          size_t *scratch);
QR_API void qr_prune_plan_free(qr_prune_plan *p);

/* Pruning state of a training run: a mask arena laid out like the trainable parameters
 * (1 keep, 0 pruned; 1 everywhere outside pruned matrices). */
typedef struct qr_pruner qr_pruner;
QR_API qr_pruner *qr_pruner_new(const qr_prune_plan *p, qr_graph *g, qr_status *status);
QR_API void qr_pruner_free(qr_pruner *pr);
/* At optimizer step t (0 = before the first step): recompute the masks of the matrices for
 * which t is a pruning step. Returns 1 when a mask changed (reset the optimizer's moments
 * with qr_optim_reset_elements(opt, qr_pruner_mask(pr)) then). */
QR_API int qr_pruner_update(qr_pruner *pr, uint64_t t);
/* Zero the gradients (before the optimizer step) or the weights (after it) of pruned entries. */
QR_API void qr_pruner_mask_grads(qr_pruner *pr);
QR_API void qr_pruner_apply(qr_pruner *pr);
/* The mask arena (n_trainable bytes), for the optimizer and checkpoints. */
QR_API uint8_t *qr_pruner_mask(qr_pruner *pr);
/* Target sparsity at step t and actual share of zeros of the plan's matrix i. */
QR_API void qr_pruner_sparsity(const qr_pruner *pr, size_t i, uint64_t t, double *target,
                               double *actual);

/* Histogram of w over [lo, hi) in `bins` equal bins (counts zeroed first); values below lo
 * and at or above hi are counted in *below / *above. */
QR_API void qr_quant_histogram(const float *w, size_t n, double lo, double hi, size_t bins,
                               size_t *counts, size_t *below, size_t *above);

#ifdef __cplusplus
}
#endif

#endif /* QREG_QUANT_H */
