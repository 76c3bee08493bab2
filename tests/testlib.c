/* Shared test helpers: paths, temporary files, finite-difference gradient checks. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testlib.h"

const char *tl_srcdir(void)
{
    const char *s = getenv("QR_SRCDIR");
    return s && *s ? s : ".";
}

const char *tl_builddir(void)
{
    const char *s = getenv("QR_BUILDDIR");
    return s && *s ? s : ".";
}

char *tl_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/qreg-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

char *tl_tmpdir_plain(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/qreg-tests-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tl_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tl_write_file(const char *dir, const char *name, const char *text)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    ck_assert_ptr_nonnull(path);
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

void tl_fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed)
{
    qr_rng r;
    qr_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * qr_rng_uniform(&r);
}

/* The training flag and the graph's random stream are restored before every evaluation so
 * that stochastic ops (dropout) see the same mask in every perturbed forward pass. */
double tl_check_grad(qr_graph *g, qr_node *loss, qr_node *wrt, double eps, double atol,
                     double rtol)
{
    qr_rng saved = *qr_graph_rng(g);
    qr_graph_zero_grad(g);
    qr_graph_forward(g, loss);
    qr_graph_backward(g, loss);
    float *x = qr_node_data(wrt), *gr = qr_node_grad(wrt);
    ck_assert_msg(gr != NULL, "node %s has no gradient", qr_node_name(wrt));
    size_t n = qr_node_size(wrt);
    double *analytic = malloc(n * sizeof *analytic);
    ck_assert_ptr_nonnull(analytic);
    for (size_t i = 0; i < n; i++)
        analytic[i] = gr[i];
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = (float)(keep + eps);
        *qr_graph_rng(g) = saved;
        qr_graph_forward(g, loss);
        double lp = qr_node_data(loss)[0];
        x[i] = (float)(keep - eps);
        *qr_graph_rng(g) = saved;
        qr_graph_forward(g, loss);
        double lm = qr_node_data(loss)[0];
        x[i] = keep;
        /* the step actually taken in float, not the requested one */
        double h = (double)(float)(keep + eps) - (double)(float)(keep - eps);
        double numeric = (lp - lm) / h;
        double diff = fabs(numeric - analytic[i]);
        double rel = diff / (fabs(numeric) > 1e-8 ? fabs(numeric) : 1e-8);
        if (diff > atol && rel > worst)
            worst = rel;
        ck_assert_msg(diff <= atol + rtol * fabs(numeric),
                      "%s[%zu]: analytic %.6g vs numeric %.6g (|diff| %.3g)", qr_node_name(wrt),
                      i, analytic[i], numeric, diff);
    }
    *qr_graph_rng(g) = saved;
    qr_graph_forward(g, loss);
    free(analytic);
    return worst;
}
