/* Helpers shared by the test suites (prefix qrt_test_ would clash with the runtime: use tl_). */
#ifndef QREG_TESTLIB_H
#define QREG_TESTLIB_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include "qreg/graph.h"

/* Suites, one per module; tests/main.c runs them all. */
Suite *qr_suite_graph(void);
Suite *qr_suite_quant(void);
Suite *qr_suite_kd(void);
Suite *qr_suite_resume(void);
Suite *qr_suite_export(void);
Suite *qr_suite_devlayers(void);
Suite *qr_suite_distill_prune(void);
Suite *qr_suite_quant_plan(void);
Suite *qr_suite_gru(void);
Suite *qr_suite_seq_ops(void);
Suite *qr_suite_rng(void);
Suite *qr_suite_init(void);
Suite *qr_suite_optim(void);
Suite *qr_suite_csv(void);
Suite *qr_suite_audio(void);
Suite *qr_suite_audio_cache(void);
Suite *qr_suite_audio_augment(void);
Suite *qr_suite_audio_voice(void);
Suite *qr_suite_frontend(void);
Suite *qr_suite_model(void);
Suite *qr_suite_model_file(void);
Suite *qr_suite_train(void);
Suite *qr_suite_runtime_kernels(void);
Suite *qr_suite_runtime_layers(void);
Suite *qr_suite_runtime_models(void);
Suite *qr_suite_runtime_blob(void);
Suite *qr_suite_runtime_builder(void);
Suite *qr_suite_runtime_sparse(void);
Suite *qr_suite_runtime_compiled(void);
Suite *qr_suite_sparse(void);
Suite *qr_suite_sweep(void);
Suite *qr_suite_recipes(void);
Suite *qr_suite_recipe_build(void);
Suite *qr_suite_reliability(void);
Suite *qr_suite_scales(void);
Suite *qr_suite_schedules(void);
Suite *qr_suite_act_quant(void);

/* A model of `layers` (a JSON array) trained on data/CSV read as T steps of F features
 * (validation 0.2, test 0.3; Adam 0.01, seed 2; `quantize`, if given, is the text of more
 * top-level keys, e.g. "\"quantize\": {...}"); d receives the splits. */
typedef struct {
    const char *csv;
    size_t t, f, epochs, batch;
} tl_seq_data;
struct qr_model;
struct qr_split_data;
struct qr_dataset;
struct qr_model *tl_train_seq(const char *dir, const tl_seq_data *s, const char *layers,
                              const char *quantize, struct qr_split_data *d);
/* Fake-quantized accuracy of m on d and its predictions (m's plan, or the default plan of
 * its spec; the float weights are restored after). */
double tl_fq_predict(struct qr_model *m, const struct qr_dataset *d, int32_t *pred);

/* Source and build directories (from the environment make check sets; "." otherwise). */
const char *tl_srcdir(void);
const char *tl_builddir(void);
/* A fresh temporary directory for this test (removed by tl_rmtree). Caller frees. */
char *tl_tmpdir(void);
void tl_rmtree(const char *dir);
/* The same outside a test (no Check assertions); NULL on failure. Caller frees. */
char *tl_tmpdir_plain(void);
/* Write `text` to dir/name; returns the malloc'd full path. */
char *tl_write_file(const char *dir, const char *name, const char *text);

/* Finite-difference gradient check of the scalar `loss` with respect to every element of
 * `wrt` (an input or parameter node with a gradient). Central differences with step `eps`
 * in double-accumulated float; fails the test when |analytic - numeric| > atol + rtol·|numeric|.
 * Returns the largest relative error seen. */
double tl_check_grad(qr_graph *g, qr_node *loss, qr_node *wrt, double eps, double atol, double rtol);
/* Fill a buffer with uniform values in [lo, hi) from a fixed-seed stream. */
void tl_fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed);

#endif
