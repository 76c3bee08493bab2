/* The one GEMM entry point. Large products go to OpenBLAS; small ones (the GRU step of a
 * tiny model, a 5 -> 2 dense layer) run in plain loops, because a BLAS call's fixed cost
 * (argument checks, threading decisions, packing) dwarfs a few hundred multiply-adds. */
#include <cblas.h>
#include <string.h>
#include "qreg/graph.h"

/* At most this many multiply-adds go to the loops. Measured with `bench/qreg-bench
 * --gemm-crossover` (docs/performance.md, OpenBLAS 0.3.21, 1 thread): with the Prescott
 * kernels OpenBLAS falls back to on CPUs it does not know, the loops win up to ~300-500
 * multiply-adds; with its SkylakeX/Haswell kernels BLAS wins from ~75 (except tiny A·Bᵀ).
 * Every product of a batch-64 training step is far above this (the GRU's per-step products
 * of the bts model no longer come here: lib/op_gru.c runs them in its own blocked loops when
 * H or F <= 16); batch-1 products of a tiny model stay in the loops. (It was 8192.) */
#define QR_GEMM_SMALL 512

static int qr_gemm_mode;

QR_API void qr_sgemm_set_mode(int mode)
{
    qr_gemm_mode = mode;
}

/* Row-major C (m, n) = alpha · op(A) (m, k) · op(B) (k, n) + beta · C. Loop orders keep the
 * innermost loop contiguous in memory so the compiler vectorizes it. */
QR_API void qr_sgemm_ref(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                         const float *a, size_t lda, const float *b, size_t ldb, float beta,
                         float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, n * sizeof *ci);
        else if (beta != 1.0f)
            for (size_t j = 0; j < n; j++)
                ci[j] *= beta;
    }
    if (!trans_b) {
        /* C[i,:] += alpha · A(i,p) · B[p,:] */
        for (size_t i = 0; i < m; i++) {
            float *ci = c + i * ldc;
            for (size_t p = 0; p < k; p++) {
                float aip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
                const float *bp = b + p * ldb;
                for (size_t j = 0; j < n; j++)
                    ci[j] += aip * bp[j];
            }
        }
    } else if (!trans_a) {
        /* C[i,j] += alpha · dot(A[i,:], B[j,:]) */
        for (size_t i = 0; i < m; i++) {
            const float *ai = a + i * lda;
            for (size_t j = 0; j < n; j++) {
                const float *bj = b + j * ldb;
                float s = 0.0f;
                for (size_t p = 0; p < k; p++)
                    s += ai[p] * bj[p];
                c[i * ldc + j] += alpha * s;
            }
        }
    } else {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                const float *bj = b + j * ldb;
                float s = 0.0f;
                for (size_t p = 0; p < k; p++)
                    s += a[p * lda + i] * bj[p];
                c[i * ldc + j] += alpha * s;
            }
    }
}

QR_API void qr_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                     const float *a, size_t lda, const float *b, size_t ldb, float beta,
                     float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    int use_ref = qr_gemm_mode == 2 || (qr_gemm_mode == 0 && m * n * k <= QR_GEMM_SMALL);
    if (use_ref || k == 0) {
        qr_sgemm_ref(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha,
                a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}
