/* gru: a fused GRU layer (PyTorch / Keras reset_after = True), forward and full BPTT.
 *
 * Dimensions: B batch, T time steps, F input features, H units. Inputs, in order:
 *   x (B, T, F), wi (F, 3H), wh (H, 3H), bi (3H), bh (3H), and optionally h0 (B, H).
 * The 3H axis holds three column blocks in Keras order [z | r | n]:
 *   z_t = σ(x_t Wi_z + bi_z + h_{t-1} Wh_z + bh_z)
 *   r_t = σ(x_t Wi_r + bi_r + h_{t-1} Wh_r + bh_r)
 *   n_t = tanh(x_t Wi_n + bi_n + r_t ⊙ (h_{t-1} Wh_n + bh_n))
 *   h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1},   h_{-1} = h0 (zeros without h0)
 * Output: h_{T-1} (B, H), or every h_t (B, T, H) when ip[0] (return_sequences) is set.
 * ip[1] is 1 when h0 is given (then in[5]).
 *
 * Every per-step buffer is laid out (B, T, ·) like x, so that the products over all steps
 * are single GEMMs on (B·T, ·) matrices and one step is a strided view (rows b·T + t:
 * offset t·ld, stride T·ld). Design notes and the BPTT derivation: docs/gru.md.
 *
 * State kept in aux from forward to backward (at the current batch, sized at the maximum):
 *   G   (B, T, 3H)  gate activations [z | r | n] (the input projection is computed in place)
 *   HN  (B, T, H)   hn_t = h_{t-1} Wh_n + bh_n (the recurrent part of n, before r ⊙)
 *   HP  (B, T, H)   h_{t-1}: HP[b, 0] = h0, HP[b, t] = h_{t-1}
 * Scratch: forward GH (B, 3H), ZR (B, 2H), NN (B, H) for one step (see gru_forward); backward
 *   DG (B, T, 3H) pre-activation gradients of the recurrent projection [dz | dr | dn ⊙ r],
 *   DN (B, T, H) pre-activation gradients of the input projection's n block, DH (B, H),
 *   4H column sums of [DG | DN] (the bias gradients, summed in the step loop), Whᵀ (3H, H).
 * Neither forward nor backward allocates. */
#include <cblas.h>
#include <math.h>
#include <string.h>
#include "ops.h"

enum { GRU_X, GRU_WI, GRU_WH, GRU_BI, GRU_BH, GRU_H0 };

/* The node's current dimensions. */
typedef struct gru_dims {
    size_t b, t, f, h;
} gru_dims;

static gru_dims gru_get_dims(const qr_node *n)
{
    const qr_node *x = n->in[GRU_X];
    gru_dims d = {x->shape[0], x->shape[1], x->shape[2], n->in[GRU_WH]->shape[0]};
    return d;
}

static qr_status gru_shape(qr_graph *g, qr_node *n)
{
    (void)g;
    const qr_node *x = n->in[GRU_X], *wi = n->in[GRU_WI], *wh = n->in[GRU_WH];
    const qr_node *bi = n->in[GRU_BI], *bh = n->in[GRU_BH];
    if (x->ndim != 3 || wi->ndim != 2 || wh->ndim != 2 || bi->ndim != 1 || bh->ndim != 1)
        return QR_ERR_SHAPE;
    if (wi->batched || wh->batched || bi->batched || bh->batched)
        return QR_ERR_SHAPE;
    size_t f = x->shape[2], h = wh->shape[0];
    if (wi->shape[0] != f || wi->shape[1] != 3 * h || wh->shape[1] != 3 * h ||
        bi->shape[0] != 3 * h || bh->shape[0] != 3 * h)
        return QR_ERR_SHAPE;
    if (n->ip[1]) {
        const qr_node *h0 = n->in[GRU_H0];
        if (h0->ndim != 2 || h0->batched != x->batched || h0->shape[0] != x->shape[0] ||
            h0->shape[1] != h)
            return QR_ERR_SHAPE;
    }
    n->batched = x->batched;
    n->shape[0] = x->shape[0];
    if (n->ip[0]) {
        n->ndim = 3;
        n->shape[1] = x->shape[1];
        n->shape[2] = h;
    } else {
        n->ndim = 2;
        n->shape[1] = h;
    }
    return QR_OK;
}

/* G, HN and HP, 5·T·H floats per sample. */
static size_t gru_aux(const qr_node *n)
{
    gru_dims d = gru_get_dims(n);
    return d.b * d.t * 5 * d.h * sizeof(float);
}

/* max(forward B·6H, backward B·T·4H + B·H + 4H + 3H·H) */
static size_t gru_scratch(const qr_node *n)
{
    gru_dims d = gru_get_dims(n);
    size_t fwd = d.b * 6 * d.h, bwd = d.b * d.t * 4 * d.h + d.b * d.h + 4 * d.h + 3 * d.h * d.h;
    return fwd > bwd ? fwd : bwd;
}

/* The aux buffers at the current batch. */
static void gru_aux_split(const qr_node *n, gru_dims d, float **gates, float **hn, float **hp)
{
    float *base = n->aux;
    size_t bt = d.b * d.t;
    *gates = base;                 // (B, T, 3H)
    *hn = base + bt * 3 * d.h;     // (B, T, H)
    *hp = *hn + bt * d.h;          // (B, T, H)
}

/* On x86-64 with GCC, forward and backward are also built for AVX2 (8 floats a vector instead
 * of SSE2's 4) and picked at load time (target_clones: 10-20 % off the GRU's own loops); the
 * helpers are then forced inline into the clones, which GCC otherwise refuses across targets. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define QR_GRU_CLONES __attribute__((target_clones("avx2", "default")))
#define QR_GRU_INLINE __attribute__((always_inline))
#else
#define QR_GRU_CLONES
#define QR_GRU_INLINE
#endif

/* exp, σ and tanh for the gate loops, written so that the compiler vectorizes them: no libm
 * call, no branch (selects are bit masks: a `?:` on floats is control flow to GCC without
 * -fno-trapping-math). libm's tanhf alone was a third of a bts training step. Accuracy,
 * checked against double-precision exp / tanh on every 37th float: exp <= 1 ulp on
 * [-87, 88]; σ <= 2.4 ulp where σ > 1e-30 and absolute error <= 9e-8 everywhere (below
 * x = -87 it stays at σ(-87)); tanh <= 1.3 ulp (glibc's tanhf: 2.05), tanh(-0) = +0.
 * NaN in, NaN out.
 * exp: x clamped to [-87, 88] (σ and tanh saturate long before), Cody-Waite reduction
 * x = n·ln2 + r with |r| <= ln2/2 (n rounded with the 1.5·2^23 trick, no rounding call),
 * Cephes' degree-5 polynomial for exp(r), and 2^n built in the exponent bits.
 * gru_select(c, a, b) is c ? a : b without a branch. */
static inline QR_GRU_INLINE float gru_select(int c, float a, float b)
{
    uint32_t ua, ub, m = -(uint32_t)(c != 0);
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    uint32_t u = (ua & m) | (ub & ~m);
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

static inline QR_GRU_INLINE float gru_exp(float x)
{
    x = gru_select(x < -87.0f, -87.0f, x);
    x = gru_select(x > 88.0f, 88.0f, x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; /* NaN: p is NaN anyway */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline QR_GRU_INLINE float gru_sigmoid(float v)
{
    return 1.0f / (1.0f + gru_exp(-v));
}

/* |v| < 0.625: Cephes' odd polynomial; else 1 - 2 / (exp(2|v|) + 1) with v's sign. */
static inline QR_GRU_INLINE float gru_tanh(float v)
{
    float a = fabsf(v), z = v * v;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) * z - 3.33332819422e-1f) * z * v + v;
    float big = copysignf(1.0f - 2.0f / (gru_exp(2.0f * a) + 1.0f), v);
    return gru_select(a < 0.625f, small, big);
}

/* In place over a contiguous array. The fixed-length inner loop is what GCC's -O2 cost
 * model vectorizes (it wants no scalar epilogue); -O3 would take the plain loop too. */
#define GRU_CHUNK 8
/* for (size_t j = 0; j < n; j++) { body }, as chunks of GRU_CHUNK plus a scalar tail, for the
 * same reason. Used in functions whose array parameters are restrict (no overlap checks). */
#define GRU_FOR(j, n, ...)                                                                    \
    do {                                                                                    \
        size_t j##_0 = 0, j##_n = (n);                                                      \
        for (; j##_0 + GRU_CHUNK <= j##_n; j##_0 += GRU_CHUNK)                              \
            for (size_t j##_k = 0; j##_k < GRU_CHUNK; j##_k++) {                            \
                size_t j = j##_0 + j##_k;                                                   \
                __VA_ARGS__                                                                 \
            }                                                                               \
        for (size_t j = j##_0; j < j##_n; j++) {                                            \
            __VA_ARGS__                                                                     \
        }                                                                                   \
    } while (0)

static inline QR_GRU_INLINE void gru_sigmoid_n(float *v, size_t n)
{
    GRU_FOR(i, n, v[i] = gru_sigmoid(v[i]););
}

static inline QR_GRU_INLINE void gru_tanh_n(float *v, size_t n)
{
    GRU_FOR(i, n, v[i] = gru_tanh(v[i]););
}

/* One sample's row of a forward step, in three parts around the σ and tanh passes (the
 * H-blocks come as separate pointers: GCC does not vectorize p[j], p[2H + j] with unknown H). */
static inline QR_GRU_INLINE void
gru_fwd_pre(size_t H2, const float *restrict gt, const float *restrict bi, const float *restrict bh,
            const float *restrict ghb, float *restrict zrb)
{
    GRU_FOR(j, H2, zrb[j] = gt[j] + bi[j] + ghb[j] + bh[j];);
}

static inline QR_GRU_INLINE void gru_add(size_t n, float *restrict y, const float *restrict x)
{
    GRU_FOR(i, n, y[i] += x[i];);
}

/* hn_t = GH_n + bh_n (kept for backward) and n's pre-activation x_t Wi_n + bi_n + r ⊙ hn_t */
static inline QR_GRU_INLINE void
gru_fwd_n(size_t H, const float *restrict gn, const float *restrict bin, const float *restrict r,
          const float *restrict ghn, const float *restrict bhn, float *restrict hnt,
          float *restrict nnb)
{
    GRU_FOR(j, H,
            float hr = ghn[j] + bhn[j];
            hnt[j] = hr;
            nnb[j] = gn[j] + bin[j] + r[j] * hr;);
}

/* The gates [z | r | n] into aux (one loop with the output: a plain copy loop would become a
 * libc memcpy call per row, 5 % of a bts step) and h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}. */
static inline QR_GRU_INLINE void
gru_fwd_out(size_t H, const float *restrict z, const float *restrict r, const float *restrict nn,
            const float *restrict hprev, float *restrict gz, float *restrict gr, float *restrict gn,
            float *restrict hdst)
{
    GRU_FOR(j, H,
            gz[j] = z[j];
            gr[j] = r[j];
            gn[j] = nn[j];
            hdst[j] = (1.0f - z[j]) * nn[j] + z[j] * hprev[j];);
}

/* One time step works on contiguous (B, ·) scratch arrays, so that σ and tanh run as single
 * flat loops over B·2H and B·H values whatever H is (the bts GRU has H = 5: a loop over one
 * row's H values does not vectorize):
 *   GH (B, 3H)  h_{t-1} Wh (the GEMM's output; hn_t = its n block + bh_n goes to aux)
 *   ZR (B, 2H)  z and r: pre-activations, then σ in place
 *   NN (B, H)   n: pre-activation x_t Wi_n + bi_n + r ⊙ hn_t, then tanh in place */
QR_GRU_CLONES static void gru_forward(qr_graph *g, qr_node *n)
{
    gru_dims d = gru_get_dims(n);
    const size_t B = d.b, T = d.t, F = d.f, H = d.h, H2 = 2 * d.h, H3 = 3 * d.h;
    const float *x = n->in[GRU_X]->x;       // (B, T, F)
    const float *wi = n->in[GRU_WI]->x;     // (F, 3H)
    const float *wh = n->in[GRU_WH]->x;     // (H, 3H)
    const float *bi = n->in[GRU_BI]->x;     // (3H)
    const float *bh = n->in[GRU_BH]->x;     // (3H)
    float *gates, *hn, *hp;
    gru_aux_split(n, d, &gates, &hn, &hp);
    float *gh = g->scratch;                 // (B, 3H)
    float *zr = gh + B * H3;                // (B, 2H)
    float *nn = zr + B * H2;                // (B, H)
    const int seq = n->ip[0];

    /* input projection of every step at once: G (B·T, 3H) = X (B·T, F) · Wi */
    qr_sgemm(0, 0, B * T, H3, F, 1.0f, x, F, wi, H3, 0.0f, gates, H3);

    /* HP[:, 0] = h0 */
    for (size_t b = 0; b < B; b++) {
        float *dst = hp + b * T * H;
        if (n->ip[1])
            memcpy(dst, n->in[GRU_H0]->x + b * H, H * sizeof(float));
        else
            memset(dst, 0, H * sizeof(float));
    }

    for (size_t t = 0; t < T; t++) {
        /* recurrent projection GH (B, 3H) = h_{t-1} · Wh, rows of HP at stride T·H */
        qr_sgemm(0, 0, B, H3, H, 1.0f, hp + t * H, T * H, wh, H3, 0.0f, gh, H3);
        for (size_t b = 0; b < B; b++) /* x_t Wi + biases + GH: z, r pre-activations */
            gru_fwd_pre(H2, gates + (b * T + t) * H3, bi, bh, gh + b * H3, zr + b * H2);
        gru_sigmoid_n(zr, B * H2);
        for (size_t b = 0; b < B; b++)
            gru_fwd_n(H, gates + (b * T + t) * H3 + H2, bi + H2, zr + b * H2 + H,
                      gh + b * H3 + H2, bh + H2, hn + (b * T + t) * H, nn + b * H);
        gru_tanh_n(nn, B * H);
        for (size_t b = 0; b < B; b++) {
            size_t row = b * T + t;
            float *gt = gates + row * H3;   /* becomes [z | r | n] */
            const float *zrb = zr + b * H2;
            /* h_t goes to HP[b, t+1]; the last step's to the output */
            float *hdst = t + 1 < T ? hp + row * H + H : n->x + (seq ? row : b) * H;
            gru_fwd_out(H, zrb, zrb + H, nn + b * H, hp + row * H, gt, gt + H, gt + H2, hdst);
            if (seq && t + 1 < T)
                memcpy(n->x + row * H, hdst, H * sizeof(float));
        }
    }
}

/* One sample's row of a backward step (dh_t already holds dL/dh_t, dy included):
 * DG_t = [dz | dr | dn ⊙ r], DN_t = dn, dh becomes the direct path dh·z, and the column sums
 * of [dz | dr | dn ⊙ r | dn] (the bias gradients) accumulate in acc (4H). The H-blocks are
 * passed as separate pointers: GCC does not vectorize p[j], p[H + j] with an unknown H. */
static inline QR_GRU_INLINE void
gru_bwd_block(size_t H, const float *restrict z_, const float *restrict r_,
              const float *restrict n_, const float *restrict hnt, const float *restrict hprev,
              float *restrict dht, float *restrict dz, float *restrict dr, float *restrict dnr,
              float *restrict dnt, float *restrict sz, float *restrict sr, float *restrict snr,
              float *restrict sn)
{
    GRU_FOR(j, H,
            float z = z_[j], r = r_[j], nn = n_[j];
            float dhj = dht[j];
            /* h = (1 - z) n + z h_prev */
            float dnj = dhj * (1.0f - z) * (1.0f - nn * nn);    /* through tanh */
            float dzj = dhj * (hprev[j] - nn) * z * (1.0f - z);  /* through σ */
            float drj = dnj * hnt[j] * r * (1.0f - r);
            dz[j] = dzj;
            dr[j] = drj;
            dnr[j] = dnj * r;
            dnt[j] = dnj;
            dht[j] = dhj * z;   /* direct path; the GEMM below adds the gates' paths */
            sz[j] += dzj;
            sr[j] += drj;
            snr[j] += dnj * r;
            sn[j] += dnj;);
}

static inline QR_GRU_INLINE void
gru_bwd_row(size_t H, const float *gt, const float *hnt, const float *hprev, float *dht, float *dgt,
            float *dnt, float *acc)
{
    gru_bwd_block(H, gt, gt + H, gt + 2 * H, hnt, hprev, dht, dgt, dgt + H, dgt + 2 * H, dnt,
                  acc, acc + H, acc + 2 * H, acc + 3 * H);
}

QR_GRU_CLONES static void gru_backward(qr_graph *g, qr_node *n)
{
    gru_dims d = gru_get_dims(n);
    const size_t B = d.b, T = d.t, F = d.f, H = d.h, H3 = 3 * d.h;
    qr_node *xn = n->in[GRU_X], *win = n->in[GRU_WI], *whn = n->in[GRU_WH];
    qr_node *bin = n->in[GRU_BI], *bhn = n->in[GRU_BH];
    qr_node *h0n = n->ip[1] ? n->in[GRU_H0] : NULL;
    float *gates, *hn, *hp;
    gru_aux_split(n, d, &gates, &hn, &hp);
    float *dg = g->scratch;                 // (B, T, 3H) d(h W_h + b_h): [dz | dr | dn ⊙ r]
    float *dn = dg + B * T * H3;            // (B, T, H)  d(x W_in + b_in) = dn (pre-tanh)
    float *dh = dn + B * T * H;             // (B, H)     dL/dh_t, carried backwards
    float *acc = dh + B * H;                // (4H)       column sums: the bias gradients
    float *wht = acc + 4 * H;               // (3H, H)    Whᵀ: the dh GEMM as A·B, not A·Bᵀ
    const float *dy = n->g;                 // (B, T, H) or (B, H)
    const float *wh = whn->x;               // (H, 3H)
    const int seq = n->ip[0];
    const int need_h0 = h0n && h0n->g;

    memset(dh, 0, B * H * sizeof(float));
    memset(acc, 0, 4 * H * sizeof(float));
    for (size_t i = 0; i < H; i++) /* OpenBLAS runs (B, 3H)·(3H, H) ~15 % faster than ·Bᵀ */
        for (size_t j = 0; j < H3; j++)
            wht[j * H + i] = wh[i * H3 + j];
    for (size_t t = T; t-- > 0;) {
        for (size_t b = 0; b < B; b++) {
            size_t row = b * T + t;
            if (seq || t + 1 == T) /* the output's gradient at this step */
                gru_add(H, dh + b * H, dy + (seq ? row : b) * H);
            gru_bwd_row(H, gates + row * H3, hn + row * H, hp + row * H, dh + b * H,
                        dg + row * H3, dn + row * H, acc);
        }
        /* dh_{t-1} += DG_t (B, 3H) · Whᵀ; skipped at t = 0 unless h0 wants it */
        if (t > 0 || need_h0)
            qr_sgemm(0, 0, B, H, H3, 1.0f, dg + t * H3, T * H3, wht, H, 1.0f, dh, H);
    }
    if (need_h0)
        for (size_t i = 0; i < B * H; i++)
            h0n->g[i] += dh[i];

    /* recurrent parameters: one GEMM over all steps, dWh (H, 3H) += HPᵀ (H, B·T) · DG */
    if (whn->g)
        qr_sgemm(1, 0, H, H3, B * T, 1.0f, hp, H, dg, H3, 1.0f, whn->g, H3);
    if (bhn->g) /* Σ [dz | dr | dn ⊙ r] */
        gru_add(H3, bhn->g, acc);

    /* DG becomes the input projection's gradient: its n block is dn, not dn ⊙ r */
    if (!xn->g && !win->g && !bin->g)
        return;
    /* one strided copy (OpenBLAS's omatcopy): a memcpy per 5-float row was 5 % of a bts step */
    cblas_somatcopy(CblasRowMajor, CblasNoTrans, (blasint)(B * T), (blasint)H, 1.0f, dn,
                    (blasint)H, dg + 2 * H, (blasint)H3);
    if (win->g) /* dWi (F, 3H) += Xᵀ (F, B·T) · DG */
        qr_sgemm(1, 0, F, H3, B * T, 1.0f, xn->x, F, dg, H3, 1.0f, win->g, H3);
    if (bin->g) { /* Σ [dz | dr | dn] */
        gru_add(2 * H, bin->g, acc);
        gru_add(H, bin->g + 2 * H, acc + 3 * H);
    }
    if (xn->g) /* dX (B·T, F) += DG · Wiᵀ */
        qr_sgemm(0, 1, B * T, F, H3, 1.0f, dg, H3, win->x, H3, 1.0f, xn->g, F);
}

const qr_op_def qr_opdef_gru = {
    .name = "gru", .shape = gru_shape, .forward = gru_forward, .backward = gru_backward,
    .aux_bytes = gru_aux, .scratch_floats = gru_scratch,
};

QR_API qr_node *qr_gru(qr_graph *g, qr_node *x, qr_node *wi, qr_node *wh, qr_node *bi,
                       qr_node *bh, qr_node *h0, int return_sequences)
{
    qr_node *in[6] = {x, wi, wh, bi, bh, h0};
    int ip[QR_NODE_NIP] = {return_sequences != 0, h0 != NULL};
    return qr_graph_add_node(g, QR_OP_GRU, h0 ? 6 : 5, in, ip, NULL);
}
