/* qreg — optimizers on one flat parameter array (Keras 3 semantics), and gradient helpers.
 *
 * An optimizer owns its state (moments) for n parameters, laid out like the parameter
 * arena: state element i belongs to w[i]. One qr_optim_step updates all n parameters.
 * t below is the 1-based step number: t = qr_optim_iterations() + 1 during a step.
 * Hyperparameters and arithmetic are float (as Keras' float32 variables); per-step scalar
 * coefficients are computed in double and rounded to float once. docs/optimizers.md has the
 * derivations and the Keras correspondence.
 *
 * SGD (keras.optimizers.SGD):
 *   momentum == 0:   w -= g·lr
 *   momentum  > 0:   v = v·momentum - g·lr;  w += v                  (nesterov = 0)
 *                                            w += v·momentum - g·lr  (nesterov = 1)
 * Adam (keras.optimizers.Adam, amsgrad off):
 *   alpha = lr·sqrt(1 - β2^t) / (1 - β1^t)
 *   m += (g - m)·(1 - β1);  v += (g² - v)·(1 - β2);  w -= m·alpha / (sqrt(v) + ε)
 *   (ε is added to sqrt(v), not to sqrt(v̂): the "epsilon hat" of Kingma & Ba.)
 * Nadam (keras.optimizers.Nadam), with d = schedule_decay (1 by default):
 *   u_t = β1·(1 - 0.5·0.96^(d·t)),  u_{t+1} = β1·(1 - 0.5·0.96^(d·(t+1)))
 *   P_t = P_{t-1}·u_t (P_0 = 1, kept as float state),  P_{t+1} = P_t·u_{t+1}
 *   m += (g - m)·(1 - β1);  v += (g² - v)·(1 - β2)
 *   m̂ = u_{t+1}·m / (1 - P_{t+1}) + (1 - u_t)·g / (1 - P_t);  v̂ = v / (1 - β2^t)
 *   w -= m̂·lr / (sqrt(v̂) + ε)
 *   Keras 3 and tf.keras >= 2.11 use d = 1 (0.96^t); the legacy tf.keras optimizer_v2
 *   Nadam (tf.keras.optimizers.legacy.Nadam, and Keras 2's schedule_decay) uses
 *   d = 0.004, i.e. 0.96^(0.004·t). The rest of the formula is the same in both.
 */
#ifndef QREG_OPTIM_H
#define QREG_OPTIM_H

#include "qreg/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qr_optim_kind {
    QR_OPTIM_SGD = 0,
    QR_OPTIM_ADAM,
    QR_OPTIM_NADAM,
    QR_OPTIM_KIND_COUNT
} qr_optim_kind;

/* Hyperparameters (a plain data bundle). Fields a kind does not use are ignored. */
typedef struct qr_optim_config {
    qr_optim_kind kind;
    float lr;       /* learning rate, finite, >= 0 */
    float momentum; /* SGD only, in [0, 1]; 0 = plain SGD without state */
    int nesterov;   /* SGD only, nonzero = Nesterov momentum (no effect when momentum == 0) */
    float beta1;    /* Adam/Nadam, in [0, 1) */
    float beta2;    /* Adam/Nadam, in [0, 1) */
    float eps;      /* Adam/Nadam, finite, >= 0 */
    float schedule_decay; /* Nadam only, finite, >= 0: 1 = Keras 3, 0.004 = legacy tf.keras */
} qr_optim_config;

/* Keras defaults: SGD lr 0.01, momentum 0, no Nesterov; Adam and Nadam lr 1e-3, β1 0.9,
 * β2 0.999, ε 1e-7; Nadam schedule_decay 1 (Keras 3). Unused fields get those same values. An unknown kind gives SGD
 * defaults with c->kind as passed (qr_optim_config_check then rejects it). */
QR_API void qr_optim_config_default(qr_optim_config *c, qr_optim_kind kind);

/* QR_OK if every field the kind uses is in range, QR_ERR_CONFIG otherwise
 * (QR_ERR_ARG for NULL). */
QR_API qr_status qr_optim_config_check(const qr_optim_config *c);

typedef struct qr_optim qr_optim;

/* A new optimizer for n parameters with zeroed state, iteration 0 (and Nadam's P = 1).
 * The config is copied. Returns NULL if c is NULL or fails qr_optim_config_check, or if
 * memory runs out. n may be 0. Free with qr_optim_free. */
QR_API qr_optim *qr_optim_new(const qr_optim_config *c, size_t n);
QR_API void qr_optim_free(qr_optim *o);

/* One update of all n parameters and the state, then iterations += 1. No allocation.
 * @param[in,out] w  (n) parameters
 * @param[in]     g  (n) gradients (may not alias w)
 * @return QR_OK, or QR_ERR_ARG for a NULL pointer with n > 0. */
QR_API qr_status qr_optim_step(qr_optim *o, float *w, const float *g);

/* Number of parameters n, and a copy of the config (with the current lr). */
QR_API size_t qr_optim_size(const qr_optim *o);
QR_API void qr_optim_get_config(const qr_optim *o, qr_optim_config *out);

/* Steps done so far (Keras `optimizer.iterations`). Setting it changes the bias
 * corrections and Nadam's schedule of the next step; restore it with the state. */
QR_API uint64_t qr_optim_iterations(const qr_optim *o);
QR_API void qr_optim_set_iterations(qr_optim *o, uint64_t it);

/* Learning rate for the next steps (schedules call this between steps). lr must be
 * finite and >= 0; it is stored as given. */
QR_API void qr_optim_set_lr(qr_optim *o, float lr);
QR_API float qr_optim_lr(const qr_optim *o);

/* The whole mutable state, for checkpoints: qr_optim_state_size() floats at
 * qr_optim_state() (NULL when the size is 0), plus qr_optim_iterations(). Saving both and
 * writing them back into an optimizer made from the same config and n continues the run
 * bit for bit. Layout (each block n floats, element i belongs to w[i]):
 *   SGD, momentum == 0:  (empty)                     size 0
 *   SGD, momentum  > 0:  [velocity]                  size n
 *   Adam:                [m | v]                     size 2n
 *   Nadam:               [m | v | P]                 size 2n + 1 (P: running product of u_t)
 * The pointer stays valid until qr_optim_free; the caller may read and write through it. */
QR_API size_t qr_optim_state_size(const qr_optim *o);
QR_API float *qr_optim_state(qr_optim *o);

/* Nadam's running momentum product P (the last state float); 1 for other kinds.
 * Setting it on a non-Nadam optimizer returns QR_ERR_STATE. */
QR_API float qr_optim_u_product(const qr_optim *o);
QR_API qr_status qr_optim_set_u_product(qr_optim *o, float p);

/* Zero every per-element moment of w[i] where mask[i] == 0 (pruned weights restart from
 * a clean state if revived); iterations and P are kept.
 * @param[in] mask (n) 0 = reset, nonzero = keep
 * @return QR_OK, or QR_ERR_ARG for NULL. */
QR_API qr_status qr_optim_reset_elements(qr_optim *o, const uint8_t *mask);

/* Global L2-norm clipping (Keras `global_clipnorm` for one array): norm = sqrt(Σ g²),
 * accumulated in double; if max_norm > 0 and norm > max_norm, g *= max_norm / norm.
 * max_norm <= 0 disables clipping. A non-finite norm leaves g unchanged: the caller
 * sees it in the return value (Keras would turn every gradient into NaN).
 * @return the norm before clipping. */
QR_API float qr_grad_clip_norm(float *g, size_t n, float max_norm);

/* Gradient of Keras' L2 regularizer loss l2·Σ w², added to g: g[i] += 2·l2·w[i].
 * Note the factor 2: Keras' `l2` multiplies Σ w² directly (no 1/2). */
QR_API void qr_grad_add_l2(float *g, const float *w, size_t n, float l2);

#ifdef __cplusplus
}
#endif

#endif /* QREG_OPTIM_H */
