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
 * Layout: every per-step buffer is unit-major and time-major with the batch innermost,
 * (U, T, B): row u of step t is the B values at u·T·B + t·B. One step is a (U, B) view with row
 * stride T·B, so each element-wise pass is one loop per unit over B contiguous samples (vector
 * code whatever H is: the bts GRU has H = 5, and loops over one sample's H units never
 * vectorized), and the products over all steps are single GEMMs on (U, T·B) matrices. x and
 * the output stay (B, T, ·) at the interface; x is regrouped as XT (T·B, F), rows in (t, b)
 * order, for the input projection. Design notes and the BPTT derivation: docs/gru.md.
 *
 * State kept in aux from forward to backward (at the current batch, sized at the maximum):
 *   G   (3H, T, B)  gate activations [z; r; n] (the input projection x Wi is computed in place)
 *   HN  (H, T, B)   hn_t = h_{t-1} Wh_n + bh_n (the recurrent part of n, before r ⊙)
 *   HP  (H, T, B)   h_{t-1}: HP[:, 0] = h0ᵀ, HP[:, t] = h_{t-1}ᵀ
 *   XT  (T·B, F)    x regrouped (XF (F, T·B) when F <= GRU_SMALL): the input projection's
 *                   operand, kept for dWi
 * Scratch: forward GH (3H, B) = Whᵀ h_{t-1}ᵀ of one step, HL (H, B) = h_{T-1};
 *   backward DG (3H, T, B) pre-activation gradients of the recurrent projection
 *   [dz; dr; dn ⊙ r] (its n block becomes dn for the input projection), DN (H, T, B) = dn,
 *   DH (H, B), 4H bias sums, and dX regrouped as x is in XT / XF.
 * Neither forward nor backward allocates. */
/* a·b + c may become one fused multiply-add (the polynomials of σ and tanh: 15 % off the
 * forward in the x86-64-v3/v4 clones). Results then differ between clones, as OpenBLAS's
 * kernels do between CPUs; on one machine they are the same run to run. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif
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

/* G, HN, HP and x regrouped: (5H + F)·T floats per sample. */
static size_t gru_aux(const qr_node *n)
{
    gru_dims d = gru_get_dims(n);
    return d.b * d.t * (5 * d.h + d.f) * sizeof(float);
}

/* max(forward 4H·B, backward 4H·T·B + H·B + 4H + T·B·F) */
static size_t gru_scratch(const qr_node *n)
{
    gru_dims d = gru_get_dims(n);
    size_t tb = d.t * d.b;
    size_t fwd = 4 * d.h * d.b, bwd = 4 * d.h * tb + d.h * d.b + 4 * d.h + tb * d.f;
    return fwd > bwd ? fwd : bwd;
}

/* The aux buffers at the current batch. */
static void gru_aux_split(const qr_node *n, gru_dims d, float **gates, float **hn, float **hp,
                          float **xt)
{
    float *base = n->aux;
    size_t tb = d.b * d.t;
    *gates = base;                 // (3H, T, B)
    *hn = base + tb * 3 * d.h;     // (H, T, B)
    *hp = *hn + tb * d.h;          // (H, T, B)
    *xt = *hp + tb * d.h;          // (T·B, F) or (F, T·B)
}

/* Forward and backward are built for AVX-512, AVX2 + FMA and SSE2 (QR_CLONES in ops.h); the
 * helpers are forced inline into them. */
#define QR_GRU_CLONES QR_CLONES
#define QR_GRU_INLINE QR_CLONE_INLINE

/* exp, σ and tanh for the gate loops, written so that the compiler vectorizes them: no libm
 * call, no branch (selects are bit masks: a `?:` on floats is control flow to GCC without
 * -fno-trapping-math). libm's tanhf alone was a third of a bts training step. Accuracy,
 * checked against double-precision exp / tanh on every 37th float: exp <= 1 ulp on
 * [-87, 88]; σ <= 2.4 ulp where σ > 1e-30 and absolute error <= 9e-8 everywhere (below
 * x = -87 it stays at σ(-87)); tanh <= 1.3 ulp (glibc's tanhf: 2.05), tanh(-0) = +0.
 * NaN in, NaN out.
 * exp: x clamped to [-87, 88] (σ and tanh saturate long before), Cody-Waite reduction
 * x = n·ln2 + r with |r| <= ln2/2 (n rounded with the 1.5·2^23 trick, no rounding call),
 * Cephes' degree-5 polynomial for exp(r), and 2^n built in the exponent bits from the bits of
 * the rounded float (a NaN x never meets a float-to-int cast: undefined behaviour in C, and
 * what UBSan's float-cast-overflow reports).
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
    /* t = 1.5·2^23 + n: n is also the low bits of t, read as an integer below (no
     * float-to-int conversion, which a NaN would make undefined) */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t tbits;
    memcpy(&tbits, &t, sizeof tbits);
    uint32_t bits = (tbits - 0x4B400000u + 127u) << 23; /* NaN: p is NaN anyway */
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
#define GRU_CHUNK 16
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

/* With at most this many units (input features), the products with Wh (Wi) run in the loops
 * below, not in BLAS: with the batch innermost their inner loops are over B or T·B contiguous
 * values (vector code), and BLAS's fixed costs exceed the work (bts: (15, 5)·(5, 64) per step). With
 * few features x is regrouped feature-major as XF (F, T·B), else as XT (T·B, F) for BLAS. */
#define GRU_SMALL 16

/* XT (T·B, F), row t·B + b = x[b, t, :] (one strided copy per step), or, with few features,
 * XF (F, T·B), XF[f, t·B + b] = x[b, t, f]. */
static void gru_regroup_x(const float *x, float *xt, size_t B, size_t T, size_t F)
{
    if (F > GRU_SMALL) {
        for (size_t t = 0; t < T; t++)
            cblas_somatcopy(CblasRowMajor, CblasNoTrans, (blasint)B, (blasint)F, 1.0f, x + t * F,
                            (blasint)(T * F), xt + t * B * F, (blasint)F);
        return;
    }
    const size_t TB = T * B;
    for (size_t f = 0; f < F; f++)
        for (size_t t = 0; t < T; t++) {
            float *restrict dst = xt + f * TB + t * B;
            const float *restrict src = x + t * F + f;
            for (size_t b = 0; b < B; b++)
                dst[b] = src[b * T * F];
        }
}

/* The loop products below work on blocks of GRU_BLK outputs held in a local array (registers:
 * four AVX-512 vectors) across the whole k loop, instead of loading and storing C k times. */
#define GRU_BLK 64

/* C (m, n) (row stride ldc) = or += Σ_p A[p, i]·B[p, :] with A[p, i] = a[p·sa + i·si]:
 * Aᵀ·B for (sa, si) = (lda, 1), A·B for (1, lda); B (k, n) with row stride ldb. */
static inline QR_GRU_INLINE void gru_mm(int acc, size_t m, size_t n, size_t k,
                                        const float *restrict a, size_t sa, size_t si,
                                        const float *restrict b, size_t ldb,
                                        float *restrict c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *restrict ci = c + i * ldc;
        const float *ai = a + i * si;
        size_t j0 = 0;
        for (; j0 + GRU_BLK <= n; j0 += GRU_BLK) {
            float blk[GRU_BLK];
            for (size_t q = 0; q < GRU_BLK; q++)
                blk[q] = acc ? ci[j0 + q] : 0.0f;
            for (size_t p = 0; p < k; p++) {
                float aip = ai[p * sa];
                const float *restrict bp = b + p * ldb + j0;
                for (size_t q = 0; q < GRU_BLK; q++)
                    blk[q] += aip * bp[q];
            }
            for (size_t q = 0; q < GRU_BLK; q++)
                ci[j0 + q] = blk[q];
        }
        if (j0 == n)
            continue;
        if (!acc)
            GRU_FOR(j, n - j0, ci[j0 + j] = 0.0f;);
        for (size_t p = 0; p < k; p++) {
            float aip = ai[p * sa];
            const float *restrict bp = b + p * ldb + j0;
            float *restrict cj = ci + j0;
            GRU_FOR(j, n - j0, cj[j] += aip * bp[j];);
        }
    }
}

/* The per-step products of a large GRU (H > GRU_SMALL) on AVX-512: C (m, n) (+)= A · B with
 * A(i, p) = a[i·si + p·sa], tiles of 6 rows × 64 columns in 24 zmm accumulators (FMA-bound:
 * each loaded B vector serves 6 rows), no packing. OpenBLAS packs Wh again on every one of
 * the 2·T calls of a training step; this reads it in place: gsc's (588, 64, 196) step 184
 * instead of 156-173 GFLOP/s and the backward (196, 64, 588) 195 instead of 141-151 (best of 7
 * in isolation). Used when the CPU has AVX-512 and n is a multiple of 16 (else OpenBLAS). */
#if defined(__x86_64__) && defined(__GNUC__)
#define GRU_TILE 1
typedef float gru_v16 __attribute__((vector_size(64), aligned(4), may_alias));
#define GRU_TILE_TARGET __attribute__((target("avx512f,avx512vl,fma")))

/* C[R rows, 16·V columns] (+)= A[R rows, k] · B[k, 16·V columns]; R ≤ 6, V ≤ 4 constants. */
static inline __attribute__((always_inline)) GRU_TILE_TARGET void
gru_tile_block(int acc, int R, int V, size_t k, const float *a, size_t sa, size_t si,
               const float *b, size_t ldb, float *c, size_t ldc)
{
    gru_v16 cc[6][4];
    for (int r = 0; r < R; r++)
        for (int q = 0; q < V; q++)
            cc[r][q] = acc ? *(const gru_v16 *)(c + (size_t)r * ldc + 16 * q) : (gru_v16){0};
    for (size_t p = 0; p < k; p++, a += sa, b += ldb) {
        gru_v16 bb[4];
        for (int q = 0; q < V; q++)
            bb[q] = *(const gru_v16 *)(b + 16 * q);
        for (int r = 0; r < R; r++) {
            float av = a[(size_t)r * si];
            for (int q = 0; q < V; q++)
                cc[r][q] += av * bb[q];
        }
    }
    for (int r = 0; r < R; r++)
        for (int q = 0; q < V; q++)
            *(gru_v16 *)(c + (size_t)r * ldc + 16 * q) = cc[r][q];
}

/* gru_mm's arguments; n a multiple of 16. */
static GRU_TILE_TARGET void gru_tile_mm(int acc, size_t m, size_t n, size_t k,
                                        const float *a, size_t sa, size_t si, const float *b,
                                        size_t ldb, float *c, size_t ldc)
{
    for (size_t i0 = 0; i0 < m;) {
        int six = m - i0 >= 6;
        const float *ai = a + i0 * si;
        float *ci = c + i0 * ldc;
        size_t j0 = 0;
        for (; j0 + 64 <= n; j0 += 64) {
            if (six)
                gru_tile_block(acc, 6, 4, k, ai, sa, si, b + j0, ldb, ci + j0, ldc);
            else
                gru_tile_block(acc, 1, 4, k, ai, sa, si, b + j0, ldb, ci + j0, ldc);
        }
        for (; j0 < n; j0 += 16) {
            if (six)
                gru_tile_block(acc, 6, 1, k, ai, sa, si, b + j0, ldb, ci + j0, ldc);
            else
                gru_tile_block(acc, 1, 1, k, ai, sa, si, b + j0, ldb, ci + j0, ldc);
        }
        i0 += six ? 6 : 1;
    }
}

/* Whether gru_tile_mm may run (once; a benign race: every thread computes the same). */
static int gru_tile_ok(size_t n)
{
    static int ok = -1;
    if (ok < 0) {
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
    }
    return ok && n % 16 == 0;
}
#endif

/* Σ u ⊙ v over n floats in 64 lanes: a plain float sum does not vectorize (no reassociation),
 * and one vector of partial sums would wait on its own add latency every iteration. */
#define GRU_LANES 64
static inline QR_GRU_INLINE float gru_dot(const float *restrict u, const float *restrict v,
                                          size_t n)
{
    float lane[GRU_LANES] = {0};
    size_t i = 0;
    for (; i + GRU_LANES <= n; i += GRU_LANES)
        for (size_t k = 0; k < GRU_LANES; k++)
            lane[k] += u[i + k] * v[i + k];
    float s = 0.0f;
    for (size_t k = 0; k < GRU_LANES; k++)
        s += lane[k];
    for (; i < n; i++)
        s += u[i] * v[i];
    return s;
}

/* Six dot products at once, rows a0, a1 against b0, b1, b2 (length k), in 16 lanes each: every
 * loaded vector serves two or three products (one product per two loads is load-bound). */
static inline QR_GRU_INLINE void gru_dot_2x3(const float *restrict a0, const float *restrict a1,
                                             const float *restrict b0, const float *restrict b1,
                                             const float *restrict b2, size_t k, float out[6])
{
    float s0[16] = {0}, s1[16] = {0}, s2[16] = {0}, s3[16] = {0}, s4[16] = {0}, s5[16] = {0};
    size_t p = 0;
    for (; p + 16 <= k; p += 16)
        for (size_t q = 0; q < 16; q++) {
            float x0 = a0[p + q], x1 = a1[p + q];
            float y0 = b0[p + q], y1 = b1[p + q], y2 = b2[p + q];
            s0[q] += x0 * y0;
            s1[q] += x0 * y1;
            s2[q] += x0 * y2;
            s3[q] += x1 * y0;
            s4[q] += x1 * y1;
            s5[q] += x1 * y2;
        }
    for (int r = 0; r < 6; r++)
        out[r] = 0.0f;
    for (size_t q = 0; q < 16; q++) {
        out[0] += s0[q];
        out[1] += s1[q];
        out[2] += s2[q];
        out[3] += s3[q];
        out[4] += s4[q];
        out[5] += s5[q];
    }
    for (; p < k; p++) {
        out[0] += a0[p] * b0[p];
        out[1] += a0[p] * b1[p];
        out[2] += a0[p] * b2[p];
        out[3] += a1[p] * b0[p];
        out[4] += a1[p] * b1[p];
        out[5] += a1[p] * b2[p];
    }
}

/* C (m, n) += A · Bᵀ, A (m, k), B (n, k) contiguous: dot products over the long k (T·B),
 * in 2 x 3 blocks. */
static inline QR_GRU_INLINE void gru_mm_nt_acc(size_t m, size_t n, size_t k,
                                               const float *restrict a, const float *restrict b,
                                               float *restrict c)
{
    size_t i = 0;
    for (; i + 2 <= m; i += 2) {
        size_t j = 0;
        for (; j + 3 <= n; j += 3) {
            float o[6];
            gru_dot_2x3(a + i * k, a + (i + 1) * k, b + j * k, b + (j + 1) * k, b + (j + 2) * k,
                        k, o);
            for (int r = 0; r < 3; r++) {
                c[i * n + j + r] += o[r];
                c[(i + 1) * n + j + r] += o[3 + r];
            }
        }
        for (; j < n; j++) {
            c[i * n + j] += gru_dot(a + i * k, b + j * k, k);
            c[(i + 1) * n + j] += gru_dot(a + (i + 1) * k, b + j * k, k);
        }
    }
    for (; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[i * n + j] += gru_dot(a + i * k, b + j * k, k);
}

/* One unit of a forward step over the batch (every pointer is a row of B values; bz, br, bn
 * and bhn are the unit's biases: bi + bh for z and r, bi_n, bh_n):
 *   z = σ(gz + ghz + bz), r = σ(gr + ghr + br), hn = ghn + bhn, n = tanh(gn + bn + r ⊙ hn),
 *   h = (1 - z) ⊙ n + z ⊙ hprev;  z, r, n overwrite gz, gr, gn. */
static inline QR_GRU_INLINE void
gru_fwd_unit(size_t B, float *restrict gz, float *restrict gr, float *restrict gn,
             const float *restrict ghz, const float *restrict ghr, const float *restrict ghn,
             float bz, float br, float bn, float bhn, const float *restrict hprev,
             float *restrict hnt, float *restrict hnext)
{
    GRU_FOR(b, B,
            float z = gru_sigmoid(gz[b] + ghz[b] + bz);
            float r = gru_sigmoid(gr[b] + ghr[b] + br);
            float hr = ghn[b] + bhn;
            float nn = gru_tanh(gn[b] + bn + r * hr);
            gz[b] = z;
            gr[b] = r;
            gn[b] = nn;
            hnt[b] = hr;
            hnext[b] = (1.0f - z) * nn + z * hprev[b];);
}

/* A step's rows are B floats each at a stride of T·B floats, every one in another page, which
 * the hardware prefetchers do not follow (gsc's 196 units: ~1,000 rows a forward step). Forward
 * asks for the next step's rows of a unit while working on the current step (into L2: a step's
 * rows are ~0.3 MB); it cut the gsc forward's own time by a third in `perf`. The same in
 * backward measured no better. */
static inline QR_GRU_INLINE void gru_prefetch(const float *p, size_t n, int write)
{
#if defined(__GNUC__)
    for (size_t i = 0; i < n; i += 16)
        if (write)
            __builtin_prefetch(p + i, 1, 2);
        else
            __builtin_prefetch(p + i, 0, 2);
#else
    (void)p, (void)n, (void)write;
#endif
}

QR_GRU_CLONES static void gru_forward(qr_graph *g, qr_node *n)
{
    gru_dims d = gru_get_dims(n);
    const size_t B = d.b, T = d.t, F = d.f, H = d.h, H2 = 2 * d.h, H3 = 3 * d.h, TB = T * B;
    const float *x = n->in[GRU_X]->x;       // (B, T, F)
    const float *wi = n->in[GRU_WI]->x;     // (F, 3H)
    const float *wh = n->in[GRU_WH]->x;     // (H, 3H)
    const float *bi = n->in[GRU_BI]->x;     // (3H)
    const float *bh = n->in[GRU_BH]->x;     // (3H)
    float *gates, *hn, *hp, *xt;
    gru_aux_split(n, d, &gates, &hn, &hp, &xt);
    float *gh = g->scratch;                 // (3H, B)
    float *hl = gh + H3 * B;                // (H, B)
    const int seq = n->ip[0];

    /* input projection of every step at once: G (3H, T·B) = Wiᵀ · XTᵀ (biases in the steps) */
    gru_regroup_x(x, xt, B, T, F);
    if (F <= GRU_SMALL) /* XF (F, T·B) */
        gru_mm(0, H3, TB, F, wi, H3, 1, xt, TB, gates, TB);
    else
        qr_sgemm(1, 1, H3, TB, F, 1.0f, wi, H3, xt, F, 0.0f, gates, TB);

    /* HP[:, 0] = h0ᵀ */
    for (size_t j = 0; j < H; j++)
        for (size_t b = 0; b < B; b++)
            hp[j * TB + b] = n->ip[1] ? n->in[GRU_H0]->x[b * H + j] : 0.0f;

    for (size_t t = 0; t < T; t++) {
        /* recurrent projection GH (3H, B) = Whᵀ · h_{t-1}ᵀ, HP's step t at row stride T·B */
        const float *hpt = hp + t * B;
        if (H <= GRU_SMALL)
            gru_mm(0, H3, B, H, wh, H3, 1, hpt, TB, gh, B);
#ifdef GRU_TILE
        else if (gru_tile_ok(B))
            gru_tile_mm(0, H3, B, H, wh, H3, 1, hpt, TB, gh, B);
#endif
        else
            qr_sgemm(1, 0, H3, B, H, 1.0f, wh, H3, hpt, TB, 0.0f, gh, B);
        for (size_t j = 0; j < H; j++) {
            size_t o = j * TB + t * B;
            /* h_t goes to HP's step t + 1, the last step's to HL */
            float *hnext = t + 1 < T ? hp + o + B : hl + j * B;
            if (t + 1 < T) {
                gru_prefetch(gates + o + B, B, 1);
                gru_prefetch(gates + H * TB + o + B, B, 1);
                gru_prefetch(gates + H2 * TB + o + B, B, 1);
                gru_prefetch(hn + o + B, B, 1);
                if (t + 2 < T)
                    gru_prefetch(hp + o + 2 * B, B, 1);
            }
            gru_fwd_unit(B, gates + o, gates + H * TB + o, gates + H2 * TB + o, gh + j * B,
                         gh + (H + j) * B, gh + (H2 + j) * B, bi[j] + bh[j], bi[H + j] + bh[H + j],
                         bi[H2 + j], bh[H2 + j], hp + o, hn + o, hnext);
        }
    }

    /* the output (B, T, H) or (B, H): h_t is HP's step t + 1 (HL for the last) */
    float *y = n->x;
    for (size_t b = 0; b < B; b++) {
        if (seq)
            for (size_t t = 0; t + 1 < T; t++)
                for (size_t j = 0; j < H; j++)
                    y[(b * T + t) * H + j] = hp[j * TB + (t + 1) * B + b];
        float *last = y + (seq ? b * T + T - 1 : b) * H;
        for (size_t j = 0; j < H; j++)
            last[j] = hl[j * B + b];
    }
}

/* One unit of a backward step over the batch (dh holds dL/dh_t, dy included):
 * DG_t = [dz; dr; dn ⊙ r], DN_t = dn, and dh becomes the direct path dh ⊙ z. */
static inline QR_GRU_INLINE void
gru_bwd_unit(size_t B, const float *restrict z_, const float *restrict r_,
             const float *restrict n_, const float *restrict hnt, const float *restrict hprev,
             float *restrict dh, float *restrict dz, float *restrict dr, float *restrict dnr,
             float *restrict dnt)
{
    GRU_FOR(b, B,
            float z = z_[b], r = r_[b], nn = n_[b];
            float dhb = dh[b];
            /* h = (1 - z) n + z h_prev */
            float dnb = dhb * (1.0f - z) * (1.0f - nn * nn);    /* through tanh */
            float dzb = dhb * (hprev[b] - nn) * z * (1.0f - z);  /* through σ */
            float drb = dnb * hnt[b] * r * (1.0f - r);
            dz[b] = dzb;
            dr[b] = drb;
            dnr[b] = dnb * r;
            dnt[b] = dnb;
            dh[b] = dhb * z;);   /* direct path; the product below adds the gates' paths */
}

/* Σ of a row of n floats, in lanes as gru_dot. */
static inline QR_GRU_INLINE float gru_row_sum(const float *restrict v, size_t n)
{
    float lane[GRU_LANES] = {0};
    size_t i = 0;
    for (; i + GRU_LANES <= n; i += GRU_LANES)
        for (size_t k = 0; k < GRU_LANES; k++)
            lane[k] += v[i + k];
    float s = 0.0f;
    for (size_t k = 0; k < GRU_LANES; k++)
        s += lane[k];
    for (; i < n; i++)
        s += v[i];
    return s;
}

QR_GRU_CLONES static void gru_backward(qr_graph *g, qr_node *n)
{
    gru_dims d = gru_get_dims(n);
    const size_t B = d.b, T = d.t, F = d.f, H = d.h, H2 = 2 * d.h, H3 = 3 * d.h, TB = T * B;
    qr_node *xn = n->in[GRU_X], *win = n->in[GRU_WI], *whn = n->in[GRU_WH];
    qr_node *bin = n->in[GRU_BI], *bhn = n->in[GRU_BH];
    qr_node *h0n = n->ip[1] ? n->in[GRU_H0] : NULL;
    float *gates, *hn, *hp, *xt;
    gru_aux_split(n, d, &gates, &hn, &hp, &xt);
    float *dg = g->scratch;                 // (3H, T, B) [dz; dr; dn ⊙ r], then [dz; dr; dn]
    float *dn = dg + H3 * TB;               // (H, T, B)  dn (pre-tanh)
    float *dh = dn + H * TB;                // (H, B)     dL/dh_t, carried backwards
    float *acc = dh + H * B;                // (4H)       row sums: the bias gradients
    float *dxt = acc + 4 * H;               // (T·B, F)   dX regrouped as x is in XT / XF
    const float *dy = n->g;                 // (B, T, H) or (B, H)
    const float *wh = whn->x;               // (H, 3H)
    const int seq = n->ip[0];
    const int need_h0 = h0n && h0n->g;

    memset(dh, 0, H * B * sizeof(float));
    for (size_t t = T; t-- > 0;) {
        if (seq || t + 1 == T) /* the output's gradient at this step */
            for (size_t b = 0; b < B; b++) {
                const float *dyb = dy + (seq ? b * T + t : b) * H;
                for (size_t j = 0; j < H; j++)
                    dh[j * B + b] += dyb[j];
            }
        for (size_t j = 0; j < H; j++) {
            size_t o = j * TB + t * B;
            gru_bwd_unit(B, gates + o, gates + H * TB + o, gates + H2 * TB + o, hn + o, hp + o,
                         dh + j * B, dg + o, dg + H * TB + o, dg + H2 * TB + o, dn + o);
        }
        /* dh_{t-1} += Wh (H, 3H) · DG_t (3H, B); skipped at t = 0 unless h0 wants it */
        if (t > 0 || need_h0) {
            if (H <= GRU_SMALL)
                gru_mm(1, H, B, H3, wh, 1, H3, dg + t * B, TB, dh, B);
#ifdef GRU_TILE
            else if (gru_tile_ok(B))
                gru_tile_mm(1, H, B, H3, wh, 1, H3, dg + t * B, TB, dh, B);
#endif
            else
                qr_sgemm(0, 0, H, B, H3, 1.0f, wh, H3, dg + t * B, TB, 1.0f, dh, B);
        }
    }
    if (need_h0)
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < H; j++)
                h0n->g[b * H + j] += dh[j * B + b];

    /* recurrent parameters: one GEMM over all steps, dWh (H, 3H) += HP (H, T·B) · DGᵀ */
    if (whn->g && H <= GRU_SMALL)
        gru_mm_nt_acc(H, H3, TB, hp, dg, whn->g);
    else if (whn->g)
        qr_sgemm(0, 1, H, H3, TB, 1.0f, hp, TB, dg, TB, 1.0f, whn->g, H3);
    for (size_t i = 0; i < H3; i++) /* Σ [dz; dr; dn ⊙ r] and Σ dn */
        acc[i] = gru_row_sum(dg + i * TB, TB);
    for (size_t j = 0; j < H; j++)
        acc[H3 + j] = gru_row_sum(dn + j * TB, TB);
    if (bhn->g)
        for (size_t i = 0; i < H3; i++)
            bhn->g[i] += acc[i];
    if (bin->g) {
        for (size_t i = 0; i < H2; i++)
            bin->g[i] += acc[i];
        for (size_t j = 0; j < H; j++)
            bin->g[H2 + j] += acc[H3 + j];
    }

    /* DG becomes the input projection's gradient: its n block is dn, not dn ⊙ r */
    if (!xn->g && !win->g)
        return;
    memcpy(dg + H2 * TB, dn, H * TB * sizeof(float));
    float *dx = xn->g;
    if (F <= GRU_SMALL) { /* XF (F, T·B) */
        if (win->g) /* dWi (F, 3H) += XF · DGᵀ */
            gru_mm_nt_acc(F, H3, TB, xt, dg, win->g);
        if (dx) { /* dXF (F, T·B) = Wi (F, 3H) · DG, then dX[b, t, f] += dXF[f, t·B + b] */
            gru_mm(0, F, TB, H3, win->x, 1, H3, dg, TB, dxt, TB);
            for (size_t f = 0; f < F; f++)
                for (size_t t = 0; t < T; t++) {
                    const float *restrict src = dxt + f * TB + t * B;
                    float *restrict dst = dx + t * F + f;
                    for (size_t b = 0; b < B; b++)
                        dst[b * T * F] += src[b];
                }
        }
        return;
    }
    if (win->g && H3 > TB) { /* dWi (F, 3H) += XTᵀ (F, T·B) · DGᵀ */
        qr_sgemm(1, 1, F, H3, TB, 1.0f, xt, F, dg, TB, 1.0f, win->g, H3);
    } else if (win->g) {
        /* dWiᵀ (3H, F) = DG · XT as a plain product into dXT's space (free until dX; it holds
         * T·B·F ≥ 3H·F floats), then added transposed: OpenBLAS runs it at ~187 GFLOP/s
         * against ~168 for the transposed-transposed XTᵀ · DGᵀ (gsc: 4.4 instead of 4.9 ms) */
        qr_sgemm(0, 0, H3, F, TB, 1.0f, dg, TB, xt, F, 0.0f, dxt, F);
        for (size_t f = 0; f < F; f++) {
            float *restrict gw = win->g + f * H3;
            for (size_t i = 0; i < H3; i++)
                gw[i] += dxt[i * F + f];
        }
    }
    if (dx) { /* dXT (T·B, F) = DGᵀ · Wiᵀ, then dX[b, t] += dXT[t·B + b] */
        qr_sgemm(1, 1, TB, F, H3, 1.0f, dg, TB, win->x, H3, 0.0f, dxt, F);
        for (size_t t = 0; t < T; t++)
            for (size_t b = 0; b < B; b++) {
                float *restrict dxr = dx + (b * T + t) * F;
                const float *restrict src = dxt + (t * B + b) * F;
                for (size_t f = 0; f < F; f++)
                    dxr[f] += src[f];
            }
    }
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
