/* Export of a trained qreg model to the integer runtime's blob (export/qrt_builder.h is the
 * contract). Steps: group the layers into runtime layers (a conv1d/dense with the batch norm
 * right after it is one layer; dropout disappears), quantize every weight matrix exactly as
 * qr_quant_fake does, choose each activation tensor's bound A from the accumulator limit of the
 * weight layer that reads it and its scale from the calibrated range (s = max|x| / A), then
 * hand integer parameters to the builder. Recipe: docs/runtime.md. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "qreg/export.h"
#include "export/exporter.h"
#include "export/export_units.h"
#include "export/qrt_builder.h"
#include "export/qrt_host.h"
#include "qrt_frontend.h"
#include "qrt_format.h"

#define ACT_CAP (1 << 24)       /* largest bound chosen for an activation (2^24: 7 digits) */
#define WEIGHT_BUDGET 0.45      /* share of the int32 accumulator the weights·inputs may use */

/* Every parameter, the calibration and the standardization finite, or QR_ERR_NUMERIC naming
 * the first that is not. */
static qr_status check_finite(const qr_model *m, qr_error *err)
{
    const qr_graph *g = m->graph;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const qr_node *p = g->nodes[i];
        size_t cnt = p->op == QR_OP_PARAM ? qr_shape_size(p) : 0;
        for (size_t k = 0; k < cnt; k++)
            if (!isfinite(p->x[k]))
                return qr_error_set(err, QR_ERR_NUMERIC, "export: parameter '%s', element %zu, "
                                    "is not finite (%g)", p->name, k, (double)p->x[k]);
    }
    for (size_t k = 0; m->calib && k <= m->spec.n_layers; k++)
        if (!isfinite(m->calib[k]))
            return qr_error_set(err, QR_ERR_NUMERIC, "export: calibration value %zu is not "
                                "finite", k);
    for (size_t k = 0; m->mean && k < m->spec.f; k++)
        if (!isfinite(m->mean[k]) || !isfinite(m->std[k]))
            return qr_error_set(err, QR_ERR_NUMERIC, "export: standardization of feature %zu "
                                "is not finite", k);
    return QR_OK;
}

/* The bound for an input read by weights `lv` (rows × cols): a share of the accumulator. */
static int32_t bound_for(const int8_t *lv, size_t rows, size_t cols, double shrink, double cap)
{
    int64_t l1 = qrt_l1_max(lv, rows, cols);
    double a = l1 > 0 ? WEIGHT_BUDGET * 2147483647.0 / (double)l1 : cap;
    a *= shrink;
    if (a > cap)
        a = cap;
    return a < 1.0 ? 1 : (int32_t)a;
}

/* The largest bound an activation may get (qr_export_options.act_bits): 32767 (int16 on the
 * device, the default: the runtime stores each tensor in the narrowest type its bound holds)
 * or 2^24 (int32). A tensor whose own bound is lower (≤ 127: int8) keeps it; the logits keep
 * 2^24 (consumer_bound). */
static double act_cap(int act_bits)
{
    return act_bits == 32 ? (double)ACT_CAP : 32767.0;
}

/* The post-training N-bit grids --act-bits asks for (2 … 15: act_grid), or 0: 16 is the cap
 * above (the exporter's own bounds up to 32767, so an accumulator bound below it still holds)
 * and 32 the wide cap, not grids of their own. */
static int ptq_bits(int act_bits)
{
    return act_bits >= 2 && act_bits <= 15 ? act_bits : 0;
}

/* real rounded to 15 significant bits: the multiplier qrt_requant15 takes (a compiled model's
 * requantization on a Cortex-M0+ is then two 16×16 products instead of a 64-bit one; its
 * relative error ≤ 2^-15, far below a grid step's). The exporter rounds every multiplier whose
 * change the fake-quantized model can follow: a per-tensor one moves the output grid's scale by
 * as much, a batch norm's gain or a PReLU slope is written into the model (write_constants);
 * the GRU's gates and the tanh/sigmoid inputs are not modeled there anyway. Per-row weight
 * scales without a batch norm keep their 31 bits (the qrt_requant call). */
static double snap15(double real)
{
    int e;
    double f = frexp(real, &e); /* real = f·2^e, |f| ∈ [0.5, 1): exact */
    return real == 0.0 || !isfinite(real) ? real : ldexp(round(ldexp(f, 15)), e - 15);
}

/* Per-channel multipliers (a batch norm's, a PReLU's) rounded to 15 bits in place, at one
 * shift where their exponents span at most 3 (every |m_c| ≥ 2^(e−3), e the largest one's
 * exponent, |m| < 2^e: within a factor of 8), the largest one's: a compiled model then keeps
 * the shift in its code, not a tensor (bts 4 bits, 22 B), and a smaller channel keeps at
 * least 12 significant bits (13 unless the largest rounds up to a power of 2). Returns that
 * shift, or INT_MIN (each rounded alone, snap15). */
static int snap_channels(double *real, size_t c)
{
    int e = INT_MIN, ec;
    for (size_t i = 0; i < c; i++)
        if (real[i] != 0.0 && isfinite(real[i]) && (frexp(real[i], &ec), ec > e))
            e = ec;
    for (size_t i = 0; e != INT_MIN && i < c; i++)
        if (real[i] != 0.0 && (!isfinite(real[i]) || (frexp(real[i], &ec), ec < e - 2)))
            e = INT_MIN;
    if (e == INT_MIN) {
        for (size_t i = 0; i < c; i++)
            real[i] = snap15(real[i]);
        return INT_MIN;
    }
    for (size_t i = 0; i < c; i++) /* a channel rounded up to 2^15: one more bit of shift */
        if (fabs(round(ldexp(real[i], 15 - e))) >= 32768.0)
            e++;
    for (size_t i = 0; i < c; i++)
        real[i] = ldexp(round(ldexp(real[i], 15 - e)), e - 15);
    return e;
}

/* A batch norm's multipliers s_x·s_w,c·g_c/s_out (s_w NULL: 1, a batch norm alone) into re,
 * rounded by snap_channels, and the gains g_c they give: one expression for build() and
 * write_constants(), which must agree bit for bit. Returns snap_channels' shift. */
static int bn_multipliers(double *re, double *g, size_t c, double s_x, const double *s_w,
                          double s_out)
{
    for (size_t i = 0; i < c; i++)
        re[i] = s_x * (s_w ? s_w[i] : 1.0) * g[i] / s_out;
    int e = snap_channels(re, c);
    for (size_t i = 0; i < c; i++)
        g[i] = re[i] * s_out / (s_x * (s_w ? s_w[i] : 1.0));
    return e;
}

static qr_status rq_of(double real, qrt_rq *out, const char *what, qr_error *err);

/* rq_of at shift e (snap_channels'; INT_MIN: rq_of's own): real·2^(31−e) is then an integer. */
static qr_status rq_at(double real, int e, qrt_rq *out, const char *what, qr_error *err)
{
    if (e == INT_MIN || e < QRT_SHIFT_MIN || e > QRT_SHIFT_MAX)
        return rq_of(real, out, what, err);
    out->mult = (int32_t)ldexp(real, 31 - e);
    out->shift = e;
    return QR_OK;
}

static qr_status rq_of(double real, qrt_rq *out, const char *what, qr_error *err)
{
    if (qrt_quantize_multiplier(real, &out->mult, &out->shift) != QRT_OK)
        return qr_error_set(err, QR_ERR_UNSUPPORTED, "export: %s: multiplier %g is out of the "
                            "runtime's range", what, real);
    return QR_OK;
}

/* A GRU's biases of row r (gate order z, r, n; h units) as the integer model adds them: the z
 * and r rows' two biases are summed onto the input side (both are added before the sigmoid, so
 * the model is the same; one rounding instead of two, and a compiled model stores the
 * recurrent biases of the n rows only), the n rows keep b_in and b_hn (b_hn is multiplied by
 * the reset gate). No bias: 0. */
static void gru_biases(const float *bi, const float *bh, size_t r, size_t h, double *fi,
                       double *fh)
{
    *fi = bi ? (double)bi[r] : 0.0;
    *fh = bh ? (double)bh[r] : 0.0;
    if (r < 2 * h) {
        *fi += *fh;
        *fh = 0.0;
    }
}

/* The low bits (0 … 3) a GRU's input biases drop so that they fit int16 in steps of 2^k of
 * their accumulator (a compiled model then stores them as int16: bts 4 bits, 30 B): only
 * where a step stays ≤ 2^-12 (16 steps of the gates' Q16 pre-activation, a tanh moved by
 * < 4 Q15 steps; the fake-quantized model does not reproduce the gates' integer steps), and
 * 0 where they fit at k = 0. s_acc[r] = s_x·s_w,r. */
static int gru_bias_shift(const float *bi, const float *bh, double s_x, const double *s_w,
                          size_t h)
{
    for (int k = 0; k <= 3; k++) {
        int fits = 1;
        for (size_t r = 0; r < 3 * h && fits; r++) {
            double fi, fh, step = ldexp(s_x * s_w[r], k);
            gru_biases(bi, bh, r, h, &fi, &fh);
            if (k > 0 && step > ldexp(1.0, -12))
                return 0;
            fits = fabs(round(fi / step)) <= 32767.0;
        }
        if (fits)
            return k;
    }
    return 0;
}

/* Whether the n steps are all equal (one requantization serves every row). */
static int uniform(const double *s, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (s[i] != s[0])
            return 0;
    return 1;
}

static int32_t round_i32(double v, int *overflow)
{
    double r = round(v);
    if (!(fabs(r) < 2147483647.0)) {
        *overflow = 1;
        return 0;
    }
    return (int32_t)r;
}

/* Batch-norm parameters as per-channel gain g = γ/σ and offset o = β − g·μ. */
static void bn_affine(qr_model *m, const qr_layer_spec *l, size_t c, double *g, double *o)
{
    const float *gamma = qr_export_param(m, l->name, "gamma")->x;
    const float *beta = qr_export_param(m, l->name, "beta")->x;
    const float *mean = qr_export_param(m, l->name, "moving_mean")->x;
    const float *var = qr_export_param(m, l->name, "moving_variance")->x;
    for (size_t i = 0; i < c; i++) {
        double sd = sqrt((double)var[i] + (double)l->epsilon);
        g[i] = (double)gamma[i] / sd;
        o[i] = (double)beta[i] - g[i] * (double)mean[i];
    }
}

/* docs/method.md §2.2 bytes of a qreg layer's parameters (weights at their bits, the rest 32 bits),
 * each listed in e->theory. */
static void layer_bytes(qr_model *m, const qr_quant_plan *plan, const char *layer, double *bytes,
                        double *baseline, qr_export_layer *e)
{
    size_t nl = strlen(layer);
    for (size_t i = 0; i < m->graph->n_nodes; i++) {
        const qr_node *n = m->graph->nodes[i];
        if (n->op != QR_OP_PARAM || strncmp(n->name, layer, nl) != 0 || n->name[nl] != '/' ||
            strncmp(n->name + nl + 1, "zero_", 5) == 0)
            continue;
        size_t qi = qr_export_plan_entry(plan, n->name);
        const qr_quant_matrix *q = qi < plan->n ? &plan->m[qi] : NULL;
        double cnt = (double)qr_shape_size(n);
        int bits = q ? q->bits : 32;
        *bytes += cnt * bits / 8.0;
        *baseline += cnt * (q ? 8 : 32) / 8.0;
        if (e->n_theory < QR_EXPORT_MAX_TENSORS) {
            qr_export_tensor *t = &e->theory[e->n_theory++];
            snprintf(t->name, sizeof t->name, "%s", n->name);
            t->bits = bits;
            t->count = qr_shape_size(n);
            t->bytes = cnt * bits / 8.0;
        }
    }
}

QR_API void qr_export_report_free(qr_export_report *r)
{
    if (r) {
        free(r->layers);
        memset(r, 0, sizeof *r);
    }
}

/* The bound of the tensor unit `from` produces (from = −1: the input): set by the first unit
 * after it that changes the scale. Pass-through units (relu, prelu) share it. */
static int32_t consumer_bound(const unit *u, size_t n, long from, double shrink, double cap)
{
    for (size_t k = (size_t)(from + 1); k < n; k++) {
        switch (u[k].kind) {
        case U_RELU:
        case U_PRELU:
        case U_POOL:
            continue;
        case U_DENSE:
        case U_CONV:
            return bound_for(u[k].w, u[k].n_out, u[k].w_cols, shrink, cap);
        case U_GRU:
            return bound_for(u[k].w, 3 * u[k].n_out, u[k].w_cols, shrink, cap);
        case U_BN:
        case U_ACT: /* a requantization: the finest grid the cap allows */
            return (int32_t)(cap * shrink) > 0 ? (int32_t)(cap * shrink) : 1;
        }
    }
    /* the logits: int32 on the device whatever act_bits (the caller's array), and the finest
     * grid keeps near ties apart (a 1-bit wine model: one test prediction in 44 moved at 32767) */
    return (int32_t)(ACT_CAP * shrink) > 0 ? (int32_t)(ACT_CAP * shrink) : 1;
}

static double scale_of(float maxabs, int32_t bound)
{
    return (maxabs > 0.0f ? (double)maxabs : 1.0) / (double)bound;
}

/* N-bit activation grids (docs/runtime.md "N-bit activation grids"): the bound A = 2^(N−1) − 1
 * and scale s of the tensor after qreg layers first … last (first = last = n_layers: the
 * input). A model trained with activation quantization has its trained range r there (s = r/A,
 * the grid its fake quantizers used); otherwise bits > 0 asks for it after training, from the
 * calibration (s = max|x|/A). Returns 0 where the tensor keeps the exporter's own bound. */
static int act_grid(const qr_model *m, int bits, size_t first, size_t last, int32_t *a,
                    double *scale)
{
    const qr_model_spec *sp = &m->spec;
    size_t n = sp->n_layers;
    int grid = 0;
    float r = 0.0f;
    for (size_t j = first; j <= last && !grid; j++) {
        int own = m->act_bits && qr_model_act_range(m, j, &r);
        if (own || (bits && (j == n || qr_model_act_quantized(sp, j)))) {
            grid = 1;
            if (!own || !(r > 0.0f)) /* untrained (0 epochs): the calibrated range */
                r = m->calib[j == n ? 0 : last + 1];
        }
    }
    if (!grid)
        return 0;
    int b = m->act_bits ? m->act_bits : bits;
    *a = (1 << (b - 1)) - 1;
    *scale = scale_of(r, *a);
    return 1;
}

/* The device's two roundings of a folded batch norm, requant(acc) + round(o/s_y), are a step
 * off the fake-quantized round((g·x + o)/s_y) where the two halves round the same way: the
 * offset goes into the bias instead (one rounding, at the accumulator's far finer scale)
 * wherever the bias then stays within `lim` (with every offset there, the layer has none:
 * bts 4 bits, 20 B less on a Cortex-M0+). */
static void fold_offsets(int32_t *bias, int32_t *offset, const double *o, const double *g,
                         const float *bv, double s_x, const double *s_w, size_t c, double lim)
{
    for (size_t i = 0; i < c; i++) {
        double v = g[i] != 0.0 ? ((bv ? bv[i] : 0.0) + o[i] / g[i]) / (s_x * s_w[i]) : INFINITY;
        if (fabs(v) < lim) {
            bias[i] = (int32_t)round(v);
            offset[i] = 0;
        }
    }
}

/* Add every unit to a builder with bounds shrunk by `shrink`. QRT_ERR_RANGE from a layer means
 * an accumulator could overflow: the caller retries with a smaller shrink. */
static qr_status build(qr_model *m, unit *u, size_t n, double shrink, double cap, int sparse,
                       int act_bits, qrt_builder **out, int32_t *in_max, double *in_scale,
                       int *range_error, qr_error *err)
{
    const qr_model_spec *sp = &m->spec;
    const float *calib = m->calib;
    *range_error = 0;
    int32_t a_in = consumer_bound(u, n, -1, shrink, cap);
    double s_x = scale_of(calib[0], a_in);
    act_grid(m, act_bits, sp->n_layers, sp->n_layers, &a_in, &s_x);
    *in_max = a_in;
    *in_scale = s_x;
    qrt_builder_input in = {.seq_len = (uint32_t)sp->t, .n_features = (uint32_t)sp->f,
                            .in_max = a_in, .in_scale = s_x, .mean = m->mean, .std = m->std};
    qrt_builder *b = NULL;
    if (qrt_builder_new(&b, &in) != QRT_OK)
        return qr_error_set(err, QR_ERR_NOMEM, "export: cannot start the builder");
    char gen[32];
    snprintf(gen, sizeof gen, "qreg %s", QR_VERSION_STRING);
    qrt_builder_set_generator(b, gen);
    qrt_builder_set_sparse(b, sparse);
    qr_status s = QR_OK;
    size_t max_c = 1;
    for (size_t k = 0; k < n; k++)
        max_c = u[k].n_out * 3 > max_c ? u[k].n_out * 3 : max_c;
    int32_t *bias = malloc(max_c * sizeof *bias), *bias_h = malloc(max_c * sizeof *bias_h);
    int32_t *offset = malloc(max_c * sizeof *offset);
    qrt_rq *rq = malloc(max_c * sizeof *rq), *rq_h = malloc(max_c * sizeof *rq_h);
    double *g = malloc(max_c * sizeof *g), *o = malloc(max_c * sizeof *o);
    double *re = malloc(max_c * sizeof *re); /* per-channel multipliers */
    if (!bias || !bias_h || !offset || !rq || !rq_h || !g || !o || !re) {
        s = qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
        goto done;
    }
    for (size_t k = 0; k < n && s == QR_OK; k++) {
        unit *v = &u[k];
        const qr_layer_spec *l = &sp->layers[v->layer];
        v->narrow = 0;
        int ovf = 0;
        qrt_status qs = QRT_OK;
        if (v->kind == U_POOL) {
            /* the maximum of quantized values: same scale and bound */
            v->s_out = s_x;
            v->out_max = k ? u[k - 1].out_max : a_in;
            qs = qrt_builder_add_maxpool(b, (uint32_t)v->n_out, (uint32_t)v->kernel,
                                         (uint32_t)v->stride);
        } else if (v->kind == U_ACT) {
            /* x to Q16 for the kernel; the output in Q15 as a GRU's state */
            v->out_max = QRT_ONE_Q15;
            v->s_out = 1.0 / QRT_ONE_Q15;
            s = rq_of(snap15(s_x * (1 << QRT_GATE_FRAC)), &rq[0], l->name, err);
            if (s == QR_OK)
                qs = qrt_builder_add_act(b, (uint32_t)v->n_out, v->tanh, rq[0]);
        } else if (v->kind == U_RELU || v->kind == U_PRELU) {
            /* same scale and bound in and out */
            v->s_out = s_x;
            v->out_max = k ? u[k - 1].out_max : a_in;
            if (v->kind == U_RELU) {
                qs = qrt_builder_add_relu(b, (uint32_t)v->n_out, v->out_max);
            } else {
                const float *alpha = qr_export_param(m, l->name, "alpha")->x;
                for (size_t c = 0; c < v->n_out; c++)
                    re[c] = alpha[c];
                int e = snap_channels(re, v->n_out);
                for (size_t c = 0; c < v->n_out && s == QR_OK; c++)
                    s = rq_at(re[c], e, &rq[c], l->name, err);
                qrt_builder_prelu p = {(uint32_t)v->n_out, rq, (uint32_t)v->n_out, v->out_max};
                if (s == QR_OK)
                    qs = qrt_builder_add_prelu(b, &p);
            }
        } else if (v->kind == U_GRU) {
            size_t h = v->n_out;
            v->out_max = QRT_ONE_Q15;
            v->s_out = 1.0 / QRT_ONE_Q15;
            const float *bi = l->use_bias ? qr_export_param(m, l->name, "bias")->x : NULL;
            const float *bh = l->use_bias ? qr_export_param(m, l->name, "recurrent_bias")->x : NULL;
            /* one requantization per tensor, or per row when the rows' steps differ
                             (per-channel grid scales) */
            int per_i = !uniform(v->s_w, 3 * h), per_h = !uniform(v->s_wh, 3 * h);
            int kb = gru_bias_shift(bi, bh, s_x, v->s_w, h);
            for (size_t r = 0; r < 3 * h && s == QR_OK; r++) {
                double s_acc_i = s_x * v->s_w[r], s_acc_h = v->s_wh[r] / QRT_ONE_Q15;
                double fi, fh;
                gru_biases(bi, bh, r, h, &fi, &fh);
                bias[r] = round_i32(fi / ldexp(s_acc_i, kb), &ovf) * (1 << kb);
                bias_h[r] = round_i32(fh / s_acc_h, &ovf);
                if ((r == 0 || per_i) &&
                    (s = rq_of(snap15(s_acc_i * (1 << QRT_GATE_FRAC)), &rq[r], l->name, err)))
                    break;
                if ((r == 0 || per_h) &&
                    (s = rq_of(snap15(s_acc_h * (1 << QRT_GATE_FRAC)), &rq_h[r], l->name, err)))
                    break;
            }
            if (s != QR_OK)
                break;
            qrt_builder_gru p = {(uint32_t)v->w_cols, (uint32_t)h, l->return_sequences,
                                 {(unsigned)v->bits, v->w}, {(unsigned)v->bits_h, v->wh},
                                 bias, bias_h, rq, per_i ? (uint32_t)(3 * h) : 1, rq_h,
                                 per_h ? (uint32_t)(3 * h) : 1};
            if (!ovf)
                qs = qrt_builder_add_gru(b, &p);
        } else {
            v->out_max = consumer_bound(u, n, (long)k, shrink, cap);
            v->s_out = scale_of(calib[v->last + 1], v->out_max);
            /* the logits keep their wide grid */
            v->narrow = k + 1 < n && act_grid(m, act_bits, v->layer, v->last, &v->out_max,
                                              &v->s_out);
            size_t c = v->n_out;
            if (v->kind == U_BN) {
                bn_affine(m, l, c, g, o);
                int e = bn_multipliers(re, g, c, s_x, NULL, v->s_out);
                for (size_t i = 0; i < c && s == QR_OK; i++) {
                    s = rq_at(re[i], e, &rq[i], l->name, err);
                    offset[i] = round_i32(o[i] / v->s_out, &ovf);
                }
                qrt_builder_batchnorm p = {(uint32_t)c, rq, (uint32_t)c, offset, v->out_max};
                if (s == QR_OK && !ovf)
                    qs = qrt_builder_add_batchnorm(b, &p);
            } else {
                /* the accumulator's scale s_x·s_w,c: per output channel c (the same for every
                 * channel unless the grid scales are per channel) */
                const float *bv =
                    l->use_bias && !v->ident ? qr_export_param(m, l->name, "bias")->x : NULL;
                for (size_t i = 0; i < c; i++)
                    bias[i] = bv ? round_i32(bv[i] / (s_x * v->s_w[i]), &ovf) : 0;
                int per_c = v->bn >= 0 || !uniform(v->s_w, c);
                if (v->bn >= 0) {
                    /* a folded batch norm: g_c and α_c share the per-channel multiplier */
                    bn_affine(m, &sp->layers[v->bn], c, g, o);
                    int e = bn_multipliers(re, g, c, s_x, v->s_w, v->s_out);
                    for (size_t i = 0; i < c && s == QR_OK; i++) {
                        s = rq_at(re[i], e, &rq[i], l->name, err);
                        offset[i] = round_i32(o[i] / v->s_out, &ovf);
                    }
                    {
                        int32_t a_x = k ? u[k - 1].out_max : a_in;
                        double room = 2147483647.0 - (double)a_x *
                                      (double)qrt_l1_max(v->w, c, v->w_cols) - 1.0;
                        fold_offsets(bias, offset, o, g, bv, s_x, v->s_w, c, room);
                    }
                } else if (per_c) {
                    for (size_t i = 0; i < c && s == QR_OK; i++)
                        s = rq_of(s_x * v->s_w[i] / v->s_out, &rq[i], l->name, err);
                } else { /* the output grid's scale moves with the rounded multiplier */
                    double real = snap15(s_x * v->s_w[0] / v->s_out);
                    if (real != 0.0)
                        v->s_out = s_x * v->s_w[0] / real;
                    s = rq_of(real, &rq[0], l->name, err);
                }
                uint32_t n_rq = per_c ? (uint32_t)c : 1;
                const int32_t *off = NULL; /* a folded batch norm's, unless all in the bias */
                for (size_t i = 0; v->bn >= 0 && i < c; i++)
                    off = offset[i] != 0 ? offset : off;
                if (s == QR_OK && !ovf && v->kind == U_DENSE) {
                    qrt_builder_dense p = {(uint32_t)v->w_cols, (uint32_t)c,
                                           {(unsigned)v->bits, v->w}, bias, rq, n_rq, off,
                                           v->out_max};
                    qs = qrt_builder_add_dense(b, &p);
                } else if (s == QR_OK && !ovf) {
                    qrt_builder_conv1d p = {(uint32_t)(v->w_cols / v->kernel), (uint32_t)c,
                                            (uint32_t)v->kernel, (uint32_t)v->stride,
                                            (uint32_t)v->dilation,
                                            v->causal ? QRT_PAD_CAUSAL
                                            : v->same ? QRT_PAD_SAME : QRT_PAD_VALID,
                                            {(unsigned)v->bits, v->w}, bias, rq, n_rq, off,
                                            v->out_max};
                    qs = qrt_builder_add_conv1d(b, &p);
                }
            }
        }
        if (s != QR_OK)
            break;
        if (ovf || qs == QRT_ERR_RANGE) {
            *range_error = 1;
            s = qr_error_set(err, QR_ERR_UNSUPPORTED, "export: layer '%s': integer range exceeded "
                             "(bias or accumulator)", l->name);
            break;
        }
        if (qs != QRT_OK) {
            s = qr_error_set(err, QR_ERR_UNSUPPORTED, "export: layer '%s': the runtime refused "
                             "it: %s", l->name, qrt_strerror(qs));
            break;
        }
        s_x = v->s_out;
    }
    if (s == QR_OK)
        qrt_builder_set_output_scale(b, s_x);
done:
    free(bias);
    free(bias_h);
    free(offset);
    free(rq);
    free(rq_h);
    free(g);
    free(re);
    free(o);
    if (s != QR_OK) {
        qrt_builder_free(b);
        return s;
    }
    *out = b;
    return QR_OK;
}

QR_API qr_status qr_export_blob(qr_model *m, uint8_t **blob, size_t *len, qr_export_report *rep,
                                qr_error *err)
{
    return qr_export_blob_ex(m, NULL, blob, len, rep, err);
}

/* A parameter to write, or NULL. */
static float *param_x(qr_model *m, const char *layer, const char *tensor)
{
    const qr_node *n = qr_export_param(m, layer, tensor);
    return n ? n->x : NULL;
}

/* A folded or standalone batch norm's offset made `target` (real units, per channel c) where
 * the float model computes g·(x + b) + β − g·μ: β' = target − g·b + g·μ. */
static void set_beta(qr_model *m, const qr_layer_spec *bn, size_t c, const float *b,
                     const double *g, const double *target)
{
    float *beta = param_x(m, bn->name, "beta");
    const float *mean = qr_export_param(m, bn->name, "moving_mean")->x;
    for (size_t i = 0; i < c; i++)
        beta[i] = (float)(target[i] - g[i] * (b ? (double)b[i] : 0.0) + g[i] * (double)mean[i]);
}

/* A batch norm's gain made g (per channel) where the float model's is γ/σ: γ' = g·σ. */
static void set_gain(qr_model *m, const qr_layer_spec *bn, size_t c, const double *g)
{
    float *gamma = param_x(m, bn->name, "gamma");
    const float *var = qr_export_param(m, bn->name, "moving_variance")->x;
    for (size_t i = 0; i < c; i++)
        gamma[i] = (float)(g[i] * sqrt((double)var[i] + (double)bn->epsilon));
}

/* Build with bounds halved until each layer's accumulator and biases fit in int32. */
static qr_status fit(qr_model *m, unit *u, size_t n, int sparse, int act_bits, qrt_builder **b,
                     int32_t *in_max, double *in_scale, qr_error *err)
{
    qr_status s = QR_OK;
    double shrink = 1.0;
    *b = NULL;
    for (int attempt = 0; attempt < 12; attempt++, shrink *= 0.5) {
        int range = 0;
        s = build(m, u, n, shrink, act_cap(act_bits), sparse, ptq_bits(act_bits), b, in_max,
                  in_scale, &range, err);
        if (s == QR_OK || !range)
            break;
        s = QR_OK;
    }
    if (s == QR_OK && !*b)
        s = qr_error_set(err, QR_ERR_UNSUPPORTED, "export: no integer ranges fit the model");
    return s;
}

/* The export's refusals of options and models, before anything is built. */
static qr_status check_export(const qr_model *m, int sparse, int act_bits, qr_error *err)
{
    if (sparse < 0 || sparse > 2)
        return qr_error_set(err, QR_ERR_ARG, "export: sparse mode %d is not 0, 1 or 2", sparse);
    if (act_bits && (act_bits < 2 || act_bits > 16) && act_bits != 32)
        return qr_error_set(err, QR_ERR_ARG, "export: activation bits %d (2 to 16, 32, or 0)",
                            act_bits);
    if (ptq_bits(act_bits) && m->act_bits && act_bits != m->act_bits)
        return qr_error_set(err, QR_ERR_ARG, "export: the model was trained with %d-bit "
                            "activations; it exports on that grid, not at %d bits", m->act_bits,
                            act_bits);
    if (!m->calib)
        return qr_error_set(err, QR_ERR_STATE, "export: the model has no activation calibration "
                            "(models trained by this qreg have one; retrain, or calibrate it)");
    return check_finite(m, err);
}

/* Write into the model the constants build() gave the integer model, so that the
 * fake-quantized model computes them: each unit's biases rounded at its accumulator scale
 * s_x·s_w (the GRU's recurrent ones at 2^-15·s_wh), a folded batch norm's offset as build()
 * stores it (in the bias where it fits, else rounded at the output step), a
 * standalone batch norm's offset at its output step. With a quantizer on each unit's output
 * grid (qr_export_fake_model) the float model then rounds where the device does. */
static qr_status write_constants(qr_model *m, const unit *u, size_t n, int32_t a_x, double s_x)
{
    const qr_model_spec *sp = &m->spec;
    size_t max_c = 1;
    for (size_t k = 0; k < n; k++)
        max_c = u[k].n_out * 3 > max_c ? u[k].n_out * 3 : max_c;
    double *g = malloc(max_c * sizeof *g), *o = malloc(max_c * sizeof *o);
    double *t = malloc(max_c * sizeof *t), *re = malloc(max_c * sizeof *re);
    if (!g || !o || !t || !re) {
        free(g);
        free(o);
        free(t);
        free(re);
        return QR_ERR_NOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        const unit *v = &u[k];
        const qr_layer_spec *l = &sp->layers[v->layer];
        size_t c = v->n_out;
        if (v->kind == U_GRU && l->use_bias) {
            float *bi = param_x(m, l->name, "bias"), *bh = param_x(m, l->name, "recurrent_bias");
            int kb = gru_bias_shift(bi, bh, s_x, v->s_w, c);
            for (size_t q = 0; q < 3 * c; q++) {
                double si = ldexp(s_x * v->s_w[q], kb), sh = v->s_wh[q] / QRT_ONE_Q15, fi, fh;
                gru_biases(bi, bh, q, c, &fi, &fh);
                bi[q] = (float)(si * round(fi / si));
                bh[q] = (float)(sh * round(fh / sh));
            }
        } else if (v->kind == U_PRELU) { /* the rounded slopes */
            float *alpha = param_x(m, l->name, "alpha");
            for (size_t i = 0; i < c; i++)
                re[i] = alpha[i];
            snap_channels(re, c);
            for (size_t i = 0; i < c; i++)
                alpha[i] = (float)re[i];
        } else if (v->kind == U_BN || v->kind == U_DENSE || v->kind == U_CONV) {
            double s_out = v->s_out;
            float *b = l->use_bias && !v->ident && v->kind != U_BN ? param_x(m, l->name, "bias")
                                                                   : NULL;
            if (v->kind == U_BN) { /* y = requant(x) + round(o/s_y): o on the output grid */
                bn_affine(m, l, c, g, o);
                bn_multipliers(re, g, c, s_x, NULL, s_out);
                for (size_t i = 0; i < c; i++)
                    t[i] = s_out * round(o[i] / s_out);
                set_gain(m, l, c, g);
                set_beta(m, l, c, NULL, g, t);
            } else if (v->bn >= 0) {
                const qr_layer_spec *bn = &sp->layers[v->bn];
                bn_affine(m, bn, c, g, o);
                bn_multipliers(re, g, c, s_x, v->s_w, s_out); /* the rounded gains */
                double room = 2147483647.0 - (double)a_x * (double)qrt_l1_max(v->w, c, v->w_cols)
                              - 1.0;
                for (size_t i = 0; i < c; i++) {
                    double acc = s_x * v->s_w[i], bv = b ? (double)b[i] : 0.0;
                    double f = g[i] != 0.0 ? (bv + o[i] / g[i]) / acc : INFINITY;
                    if (fabs(f) < room) /* build()'s fold_offsets */
                        t[i] = g[i] * acc * round(f);
                    else
                        t[i] = g[i] * acc * round(bv / acc) + s_out * round(o[i] / s_out);
                }
                set_gain(m, bn, c, g);
                set_beta(m, bn, c, b, g, t);
            } else if (b) {
                for (size_t i = 0; i < c; i++) {
                    double acc = s_x * v->s_w[i];
                    b[i] = (float)(acc * round(b[i] / acc));
                }
            }
        }
        a_x = v->out_max;
        s_x = v->s_out;
    }
    free(g);
    free(re);
    free(o);
    free(t);
    return QR_OK;
}

qr_status qr_export_grids(qr_model *m, int act_bits, int write, int32_t *bound, double *scale,
                          qr_error *err)
{
    qr_status s = check_export(m, 0, act_bits, err);
    if (s != QR_OK)
        return s;
    qr_quant_plan own = {0};
    const qr_quant_plan *plan = m->quant;
    if (!plan && qr_quant_plan_init(&own, &m->spec) != QR_OK)
        return qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
    unit *u = NULL;
    size_t n = 0;
    qrt_builder *b = NULL;
    int32_t a_in = 0;
    double s_in = 0.0;
    s = qr_export_make_units(m, plan ? plan : &own, &u, &n, err);
    if (s == QR_OK)
        s = fit(m, u, n, 0, act_bits, &b, &a_in, &s_in, err);
    if (s == QR_OK && bound) {
        size_t nl = m->spec.n_layers;
        for (size_t i = 0; i < nl; i++)
            bound[i] = 0;
        bound[nl] = a_in;
        scale[nl] = s_in;
        for (size_t k = 0; k < n; k++) {
            bound[u[k].last] = u[k].out_max;
            scale[u[k].last] = u[k].s_out;
        }
    }
    if (s == QR_OK && write && write_constants(m, u, n, a_in, s_in) != QR_OK)
        s = qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
    qrt_builder_free(b);
    qr_export_free_units(u, n);
    qr_quant_plan_free(&own);
    return s;
}

/* The constants of the integer model on trained activation grids (qr_export_grids). */
QR_API qr_status qr_export_fake_constants(qr_model *m, qr_error *err)
{
    size_t nl = m->spec.n_layers;
    float r;
    /* without trained grids (or before the first batch) there is nothing to match */
    for (size_t i = 0; i <= nl; i++)
        if (m->act_bits && qr_model_act_range(m, i, &r) && !(r > 0.0f))
            return QR_OK;
    int32_t a_x;
    double s_x;
    if (!m->act_bits || !act_grid(m, 0, nl, nl, &a_x, &s_x) || check_finite(m, NULL) != QR_OK)
        return QR_OK;
    /* in training, before the calibration, the tensors off the trained grids (the logits)
     * take a unit range: no constant depends on it but a batch norm's offset on the logits'
     * 2^24 grid */
    float *own = NULL;
    if (!m->calib) {
        if (!(own = malloc((nl + 1) * sizeof *own)))
            return qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
        for (size_t i = 0; i <= nl; i++)
            own[i] = 1.0f;
        m->calib = own;
    }
    qr_error e = {{0}};
    qr_status s = qr_export_grids(m, 0, 1, NULL, NULL, &e);
    if (own)
        m->calib = NULL;
    free(own);
    /* a model the export refuses has no integer model to match */
    return s == QR_ERR_NOMEM ? qr_error_set(err, s, "%s", e.msg) : QR_OK;
}

QR_API qr_status qr_export_blob_ex(qr_model *m, const qr_export_options *opt, uint8_t **blob,
                                   size_t *len, qr_export_report *rep, qr_error *err)
{
    int sparse = opt ? opt->sparse : 0, act_bits = opt ? opt->act_bits : 0;
    *blob = NULL;
    *len = 0;
    if (rep)
        memset(rep, 0, sizeof *rep);
    qr_status s = check_export(m, sparse, act_bits, err);
    if (s != QR_OK)
        return s;
    qr_quant_plan own = {0};
    const qr_quant_plan *plan = m->quant;
    if (!plan) {
        if (qr_quant_plan_init(&own, &m->spec) != QR_OK)
            return qr_error_set(err, QR_ERR_NOMEM, "export: out of memory");
        plan = &own;
    }
    unit *u = NULL;
    size_t n = 0;
    s = qr_export_make_units(m, plan, &u, &n, err);
    qrt_builder *b = NULL;
    int32_t a_in;
    double s_in;
    if (s == QR_OK)
        s = fit(m, u, n, sparse, act_bits, &b, &a_in, &s_in, err);
    qrt_status qs = QRT_OK;
    if (s == QR_OK && (qs = qrt_builder_finish(b, blob, len)) != QRT_OK)
        s = qr_error_set(err, QR_ERR_UNSUPPORTED, "export: the runtime rejected the model: %s",
                         qrt_strerror(qs));
    if (s == QR_OK && rep) {
        qrt_model qm;
        rep->layers = calloc(n + 1, sizeof *rep->layers);
        if (!rep->layers || qrt_model_load(&qm, *blob, *len) != QRT_OK) {
            s = qr_error_set(err, QR_ERR_NOMEM, "export: report failed");
        } else {
            rep->n = n;
            rep->blob_bytes = *len;
            rep->scratch_bytes = qrt_scratch_size(&qm);
            for (size_t k = 0; k < n; k++) {
                qr_export_layer *e = &rep->layers[k];
                const qr_layer_spec *l = &m->spec.layers[u[k].layer];
                snprintf(e->from, sizeof e->from, "%s%s%s", l->name, u[k].bn >= 0 ? " + " : "",
                         u[k].bn >= 0 ? m->spec.layers[u[k].bn].name : "");
                double base = 0.0;
                layer_bytes(m, plan, l->name, &e->theory_bytes, &base, e);
                if (u[k].bn >= 0)
                    layer_bytes(m, plan, m->spec.layers[u[k].bn].name, &e->theory_bytes, &base, e);
                e->bits = u[k].w ? u[k].bits : 0;
                qrt_layer_info info;
                if (qrt_layer_info_get(&qm, k, &info) == QRT_OK) {
                    snprintf(e->kind, sizeof e->kind, "%s", info.kind_name);
                    for (size_t t = 0; t < info.n_tensors; t++) {
                        e->actual_bytes += info.tensors[t].bytes;
                        if (e->n_actual < QR_EXPORT_MAX_TENSORS) {
                            qr_export_tensor *a = &e->actual[e->n_actual++];
                            snprintf(a->name, sizeof a->name, "%s", info.tensors[t].name);
                            a->bits = (int)info.tensors[t].container;
                            a->count = info.tensors[t].count;
                            a->bytes = (double)info.tensors[t].bytes;
                            a->encoding = (int)info.tensors[t].encoding;
                            a->dense_bytes = (double)info.tensors[t].dense_bytes;
                        }
                    }
                }
                rep->theory_bytes += e->theory_bytes;
                rep->baseline_bytes += base;
                rep->tensor_bytes += e->actual_bytes;
            }
        }
    }
    if (s != QR_OK) {
        free(*blob);
        *blob = NULL;
        *len = 0;
        if (rep)
            qr_export_report_free(rep);
    }
    qrt_builder_free(b);
    qr_export_free_units(u, n);
    qr_quant_plan_free(&own);
    return s;
}

QR_API int qr_export_name_ok(const char *name)
{
    int ok = name && ((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') ||
                      *name == '_');
    for (const char *q = name; ok && *q; q++)
        ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
             *q == '_';
    return ok;
}

QR_API qr_status qr_export_evaluate(const uint8_t *blob, size_t len, const qr_dataset *d,
                                    double *accuracy, int32_t *pred, qr_error *err)
{
    return qr_export_evaluate_logits(blob, len, d, 0, accuracy, pred, NULL, err);
}

/* The device's input path for features of the integer front end: each value back to its Q16
 * integer (exact: the loader's value is q16 / 65536) and NAME_quantize_features' transform. */
static qrt_status quantize_q16(const qrt_model *qm, const qrt_inq *inq, const float *x,
                               size_t frames, int32_t *xq)
{
    size_t f = qm->n_features;
    for (size_t i = 0; i < frames * f; i++) {
        double v = nearbyint((double)x[i] * 65536.0);
        int32_t q16 = v != v ? 0 : v >= 2147483647.0 ? INT32_MAX : v <= -2147483648.0 ? INT32_MIN
                                                                                   : (int32_t)v;
        qrt_frontend_quantize(inq + i % f, &q16, xq + i, 1, qm->in_max);
    }
    return QRT_OK;
}

QR_API qr_status qr_export_evaluate_logits(const uint8_t *blob, size_t len, const qr_dataset *d,
                                           int q16, double *accuracy, int32_t *pred, float *out,
                                           qr_error *err)
{
    qrt_model qm;
    qrt_status qs = qrt_model_load(&qm, blob, len);
    if (qs != QRT_OK)
        return qr_error_set(err, QR_ERR_FORMAT, "integer model: %s", qrt_strerror(qs));
    size_t scratch_n = qrt_scratch_size(&qm), row = d->t * d->f;
    size_t n_out = qm.n_outputs, frames = d->t;
    qrt_inq *inq = NULL;
    if (q16 && (!(inq = malloc(qm.n_features * sizeof *inq)) ||
                qrt_input_consts(&qm, 1.0 / 65536.0, inq, NULL) != QRT_OK)) {
        free(inq);
        return qr_error_set(err, inq ? QR_ERR_NUMERIC : QR_ERR_NOMEM, "integer model: %s",
                            inq ? "no integer feature transform (a mean beyond ±8192)"
                                : "out of memory");
    }
    void *scratch = malloc(scratch_n + 8);
    int32_t *xq = malloc((row + 1) * sizeof *xq), *logits = malloc((n_out + 1) * sizeof *logits);
    qr_status s = QR_OK;
    size_t correct = 0;
    if (!scratch || !xq || !logits) {
        s = qr_error_set(err, QR_ERR_NOMEM, "integer model: out of memory");
        goto done;
    }
    for (size_t i = 0; i < d->n; i++) {
        if ((qs = inq ? quantize_q16(&qm, inq, d->x + i * row, frames, xq)
                      : qrt_quantize_input(&qm, d->x + i * row, frames, xq)) != QRT_OK ||
            (qs = qrt_run(&qm, xq, scratch, scratch_n, logits)) != QRT_OK) {
            s = qr_error_set(err, QR_ERR_FORMAT, "integer model: sample %zu: %s", i,
                             qrt_strerror(qs));
            goto done;
        }
        if (out && (qs = qrt_dequantize_output(&qm, logits, out + i * n_out)) != QRT_OK) {
            s = qr_error_set(err, QR_ERR_FORMAT, "integer model: %s", qrt_strerror(qs));
            goto done;
        }
        size_t best = qrt_argmax(logits, n_out);
        if (pred)
            pred[i] = (int32_t)best;
        correct += best == (size_t)d->y[i];
    }
    if (accuracy)
        *accuracy = d->n ? (double)correct / (double)d->n : NAN;
done:
    free(inq);
    free(scratch);
    free(xq);
    free(logits);
    return s;
}
