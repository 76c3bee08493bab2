/* Conv1D (Keras Conv1D semantics: cross-correlation, channels last) as im2col + one GEMM.
 *
 * B = batch, T = input length, Cin / Cout = input / output channels, k = kernel size,
 * s = stride, d = dilation, pl = left padding, T_out = output length.
 *   y[b, t, o] = bias[o] + Σ_{j<k} Σ_{c<Cin} x[b, t·s + j·d - pl, c] · w[j, c, o]
 * with x = 0 outside 0..T-1. Output length and padding (Keras / TensorFlow):
 *   valid:  pl = 0,                T_out = floor((T - (k-1)·d - 1) / s) + 1  (needs T > (k-1)·d)
 *   same:   T_out = ceil(T / s),   total = max((T_out-1)·s + (k-1)·d + 1 - T, 0),
 *           pl = floor(total / 2), the rest on the right
 *   causal: pl = (k-1)·d, no right padding, T_out = ceil(T / s)
 *
 * The im2col matrix col (B·T_out, k·Cin) holds in row b·T_out + t the k·Cin inputs the output
 * (b, t) sees, tap-major (col[., j·Cin + c] = x[b, t·s + j·d - pl, c]). The kernel w (k, Cin, Cout)
 * read row-major is exactly the matrix W (k·Cin, Cout), so
 *   forward   y (B·T_out, Cout) = bias (broadcast, written first) + col · W   — one GEMM, beta = 1
 *   backward  dW += colᵀ · dy   (one GEMM),   dbias += Σ_rows dy,
 *             dcol = dy · Wᵀ (one GEMM into scratch), then col2im:
 *             dx[b, t·s + j·d - pl, c] += dcol[b·T_out + t, j·Cin + c].
 *
 * Memory decision: col is kept in the node's aux buffer (sized at the maximum batch) when it
 * is at most QR_CONV1D_KEEP_COL_BYTES (64 MiB), so backward reuses it; larger ones are rebuilt
 * in backward into the shared scratch. Rebuilding costs one copy of M·K floats against the
 * M·K·Cout multiply-adds of the GEMMs, so the recompute path is only a little slower; the
 * limit just bounds memory (the thesis' GSC model, batch 256: col = 256·85 × 130 floats =
 * 11 MiB, kept). The scratch always holds one col-sized buffer (dcol, and col itself when
 * recomputing) unless x needs no gradient and col is kept.
 * k = 1 with stride 1 has col = x itself: no im2col, no aux, no scratch.
 *
 * Node parameters: ip[0] = stride, ip[1] = dilation, ip[2] = qr_conv_padding.
 * Inputs: in[0] = x, in[1] = w, in[2] = bias (when n_in == 3). */
#include <string.h>
#include "ops.h"
#include "op_conv1d.h"

static size_t qr_conv1d_keep_limit = QR_CONV1D_KEEP_COL_BYTES;

size_t qr_conv1d_set_keep_limit(size_t bytes)
{
    size_t old = qr_conv1d_keep_limit;
    qr_conv1d_keep_limit = bytes;
    return old;
}

typedef struct conv_geom {
    size_t b, t, cin, k, cout, t_out, s, d, pl;
} conv_geom;

/* Output length and left padding (see the header comment); 0 when the input is too short. */
static size_t conv_out_len(size_t t, size_t k, size_t s, size_t d, int pad, size_t *pl)
{
    size_t span = (k - 1) * d + 1; /* receptive field of one output */
    *pl = 0;
    switch (pad) {
    case QR_PAD_VALID:
        return t < span ? 0 : (t - span) / s + 1;
    case QR_PAD_SAME: {
        size_t t_out = (t + s - 1) / s;
        size_t need = (t_out - 1) * s + span;
        *pl = need > t ? (need - t) / 2 : 0;
        return t_out;
    }
    default: /* QR_PAD_CAUSAL */
        *pl = span - 1;
        return (t + s - 1) / s;
    }
}

static void conv_geometry(const qr_node *n, conv_geom *c)
{
    const qr_node *x = n->in[0], *w = n->in[1];
    c->b = x->shape[0];
    c->t = x->shape[1];
    c->cin = x->shape[2];
    c->k = w->shape[0];
    c->cout = w->shape[2];
    c->s = (size_t)n->ip[0];
    c->d = (size_t)n->ip[1];
    c->t_out = conv_out_len(c->t, c->k, c->s, c->d, n->ip[2], &c->pl);
}

static const char *pad_name(int pad)
{
    return pad == QR_PAD_VALID ? "valid" : pad == QR_PAD_SAME ? "same" : "causal";
}

static qr_status conv1d_shape(qr_graph *g, qr_node *n)
{
    const qr_node *x = n->in[0], *w = n->in[1];
    if (n->ip[0] < 1 || n->ip[1] < 1 || n->ip[2] < QR_PAD_VALID || n->ip[2] > QR_PAD_CAUSAL)
        return qr_graph_fail(g, QR_ERR_ARG, "conv1d: stride %d, dilation %d, padding %d",
                             n->ip[0], n->ip[1], n->ip[2]);
    if (x->ndim != 3)
        return qr_graph_fail(g, QR_ERR_SHAPE, "conv1d: input %s has %d dimensions, not (B, T, Cin)",
                             x->name, x->ndim);
    if (w->ndim != 3 || w->batched || w->shape[1] != x->shape[2])
        return qr_graph_fail(g, QR_ERR_SHAPE,
                             "conv1d: kernel %s must be (k, Cin = %zu, Cout), unbatched", w->name,
                             x->shape[2]);
    if (n->n_in == 3) {
        const qr_node *b = n->in[2];
        if (b->ndim != 1 || b->batched || b->shape[0] != w->shape[2])
            return qr_graph_fail(g, QR_ERR_SHAPE, "conv1d: bias %s must be (Cout = %zu)",
                                 b->name, w->shape[2]);
    }
    conv_geom c;
    conv_geometry(n, &c);
    if (c.t_out == 0)
        return qr_graph_fail(g, QR_ERR_SHAPE,
                             "conv1d: input length %zu shorter than the kernel span %zu "
                             "(k %zu, dilation %zu, %s padding)",
                             c.t, (c.k - 1) * c.d + 1, c.k, c.d, pad_name(n->ip[2]));
    n->ndim = 3;
    n->shape[0] = c.b;
    n->shape[1] = c.t_out;
    n->shape[2] = c.cout;
    n->batched = x->batched;
    return QR_OK;
}

/* k = 1, stride 1: col is x. */
static int conv_is_pointwise(const qr_node *n)
{
    return n->in[1]->shape[0] == 1 && n->ip[0] == 1;
}

static size_t conv_col_floats(const qr_node *n)
{
    conv_geom c;
    conv_geometry(n, &c);
    return c.b * c.t_out * c.k * c.cin;
}

/* Called at compile time (shapes at the maximum batch): the keep-or-recompute choice. */
static int conv_keeps_col(const qr_node *n)
{
    return !conv_is_pointwise(n) && conv_col_floats(n) * sizeof(float) <= qr_conv1d_keep_limit;
}

static size_t conv1d_aux(const qr_node *n)
{
    return conv_keeps_col(n) ? conv_col_floats(n) * sizeof(float) : 0;
}

static size_t conv1d_scratch(const qr_node *n)
{
    if (conv_is_pointwise(n))
        return 0;
    if (conv_keeps_col(n) && !n->in[0]->requires_grad)
        return 0;
    return conv_col_floats(n);
}

/* dst[0..n) = src[0..n) for short rows without a libc call (a memcpy call per window was most
 * of the bts convolution's forward): 8-float blocks of constant size, which the compiler
 * inlines as vector moves, and one overlapping block for the tail. */
static inline void conv_copy(float *dst, const float *src, size_t n)
{
    if (n < 8) {
        memcpy(dst, src, n * sizeof *dst);
        return;
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        memcpy(dst + i, src + i, 8 * sizeof *dst);
    if (i < n)
        memcpy(dst + n - 8, src + n - 8, 8 * sizeof *dst);
}

/* col (B·T_out, k·Cin) from x (B, T, Cin), zeros where the taps fall in the padding. */
static void conv_im2col(float *col, const float *x, const conv_geom *c)
{
    size_t kc = c->k * c->cin;
    for (size_t b = 0; b < c->b; b++)
        for (size_t t = 0; t < c->t_out; t++) {
            float *row = col + (b * c->t_out + t) * kc;
            size_t first = t * c->s; /* the window's first position in the padded input */
            if (c->d == 1 && first >= c->pl && first + c->k - c->pl <= c->t) {
                /* dilation 1 and no padding: channels-last frames are contiguous, so the
                 * window is one copy of k·Cin values instead of k copies of Cin */
                conv_copy(row, x + (b * c->t + first - c->pl) * c->cin, kc);
                continue;
            }
            for (size_t j = 0; j < c->k; j++) {
                size_t at = t * c->s + j * c->d; /* position in the padded input */
                float *dst = row + j * c->cin;
                if (at < c->pl || at - c->pl >= c->t)
                    memset(dst, 0, c->cin * sizeof *dst);
                else
                    memcpy(dst, x + (b * c->t + at - c->pl) * c->cin, c->cin * sizeof *dst);
            }
        }
}

/* dx (B, T, Cin) += the entries of dcol (B·T_out, k·Cin) at the positions im2col read. */
static void conv_col2im(float *dx, const float *dcol, const conv_geom *c)
{
    size_t kc = c->k * c->cin;
    for (size_t b = 0; b < c->b; b++)
        for (size_t t = 0; t < c->t_out; t++) {
            const float *row = dcol + (b * c->t_out + t) * kc;
            for (size_t j = 0; j < c->k; j++) {
                size_t at = t * c->s + j * c->d;
                if (at < c->pl || at - c->pl >= c->t)
                    continue;
                const float *src = row + j * c->cin;
                float *dst = dx + (b * c->t + at - c->pl) * c->cin;
                for (size_t i = 0; i < c->cin; i++)
                    dst[i] += src[i];
            }
        }
}

static void conv1d_forward(qr_graph *g, qr_node *n)
{
    const qr_node *x = n->in[0], *w = n->in[1];
    conv_geom c;
    conv_geometry(n, &c);
    size_t m = c.b * c.t_out, kc = c.k * c.cin;
    const float *col = x->x;
    if (!conv_is_pointwise(n)) {
        float *buf = n->aux_bytes ? n->aux : g->scratch;
        conv_im2col(buf, x->x, &c);
        col = buf;
    }
    float beta = 0.0f;
    if (n->n_in == 3) {
        /* the bias in every row: one row, then doubling copies (log2(m) memcpy calls
         * instead of m) */
        memcpy(n->x, n->in[2]->x, c.cout * sizeof(float));
        for (size_t r = 1; r < m; r *= 2)
            memcpy(n->x + r * c.cout, n->x, (r < m - r ? r : m - r) * c.cout * sizeof(float));
        beta = 1.0f;
    }
    qr_sgemm(0, 0, m, c.cout, kc, 1.0f, col, kc, w->x, c.cout, beta, n->x, c.cout);
}

static void conv1d_backward(qr_graph *g, qr_node *n)
{
    qr_node *x = n->in[0], *w = n->in[1];
    conv_geom c;
    conv_geometry(n, &c);
    size_t m = c.b * c.t_out, kc = c.k * c.cin;
    const float *dy = n->g; /* (B·T_out, Cout) */
    int pointwise = conv_is_pointwise(n);
    if (n->n_in == 3 && n->in[2]->g) {
        float *db = n->in[2]->g;
        for (size_t r = 0; r < m; r++)
            for (size_t o = 0; o < c.cout; o++)
                db[o] += dy[r * c.cout + o];
    }
    if (w->g) {
        const float *col = x->x;
        if (!pointwise) {
            if (n->aux_bytes) {
                col = n->aux;
            } else {
                conv_im2col(g->scratch, x->x, &c);
                col = g->scratch;
            }
        }
        qr_sgemm(1, 0, kc, c.cout, m, 1.0f, col, kc, dy, c.cout, 1.0f, w->g, c.cout);
    }
    if (x->g) {
        if (pointwise) {
            qr_sgemm(0, 1, m, kc, c.cout, 1.0f, dy, c.cout, w->x, c.cout, 1.0f, x->g, kc);
        } else {
            /* the scratch may hold the rebuilt col: dW above is done with it */
            float *dcol = g->scratch;
            qr_sgemm(0, 1, m, kc, c.cout, 1.0f, dy, c.cout, w->x, c.cout, 0.0f, dcol, kc);
            conv_col2im(x->g, dcol, &c);
        }
    }
}

const qr_op_def qr_opdef_conv1d = {
    .name = "conv1d", .shape = conv1d_shape, .forward = conv1d_forward,
    .backward = conv1d_backward, .aux_bytes = conv1d_aux, .scratch_floats = conv1d_scratch,
};

QR_API qr_node *qr_conv1d(qr_graph *g, qr_node *x, qr_node *w, qr_node *bias, int stride,
                          int dilation, qr_conv_padding pad)
{
    if (!g)
        return NULL;
    if (stride < 1 || dilation < 1 || (int)pad < QR_PAD_VALID || (int)pad > QR_PAD_CAUSAL) {
        qr_graph_fail(g, QR_ERR_ARG,
                      "conv1d: stride %d and dilation %d must be >= 1, padding %d one of "
                      "QR_PAD_VALID/SAME/CAUSAL",
                      stride, dilation, (int)pad);
        return NULL;
    }
    int ip[QR_NODE_NIP] = {stride, dilation, (int)pad};
    qr_node *in[3] = {x, w, bias};
    return qr_graph_add_node(g, QR_OP_CONV1D, bias ? 3 : 2, in, ip, NULL);
}
