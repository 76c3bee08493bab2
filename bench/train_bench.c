/* qreg-bench: training throughput of the thesis' reference models (docs/method.md §2) on random
 * data.
 *
 *   bench/qreg-bench [--model bts|gsc|all] [--steps N] [--warmup N] [--repeat N]
 *                    [--threads 1|2] [--batch N] [--profile] [--clock wall|cpu]
 *                    [--no-sgemm] [--json] [--examples DIR]
 *   bench/qreg-bench --gemm-crossover [--threads 1|2] [--batch N] [--clock wall|cpu]
 *
 * The models are read from examples/bts.json and examples/gsc.json (qr_train_config_load +
 * qr_model_new; only the "model" array and the input shape are used, the data is random:
 * inputs N(0, 1) from a fixed seed, labels uniform over the classes). The optimizer is Adam
 * with Keras defaults, the batch 64; --threads (qr_set_threads) defaults to running both 1 and 2.
 *
 * Timing protocol (bench/torch_train.py follows the same one): a pool of 16 batches of random
 * samples; each step draws a batch at random from the pool (the sample indices of a
 * reshuffled epoch), then does exactly what qr_train's inner loop does: gather the samples
 * into a staging buffer, qr_model_load_inputs (copy + standardization), labels, zero_grad,
 * forward, backward, optimizer step. `warmup` steps are run untimed, then `steps` timed
 * steps, `repeat` times; the reported samples/s is the median over the repeats.
 *
 * --profile adds a per-op breakdown: `steps` more steps, with the graph's forward and
 * backward loops replayed here node by node between timers (a copy of qr_graph_forward and
 * qr_graph_backward in lib/graph.c; keep them in sync). For gsc (unless --no-sgemm) that pass
 * always runs, and the GRU's achieved GFLOP/s (GEMM flops of its forward and backward over
 * their measured time) is printed against cblas_sgemm measured on a big square product and
 * on the GRU's own shapes, with the peak RSS (getrusage ru_maxrss) of the process after
 * training gsc (read before the SGEMM runs, which allocate their own matrices). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "lib/graph_impl.h"
#include "model/model_impl.h"
#include "lib/ops.h"
#include "qreg/model.h"
#include "qreg/optim.h"
#include "qreg/rng.h"
#include "qreg/train.h"

#ifndef QR_SRCDIR
#define QR_SRCDIR "."
#endif

#define POOL_BATCHES 16

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: with other jobs on the machine, the 1-thread rate computed
 * from it is steadier than the wall-clock one (it ignores time spent descheduled). */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- options ------------------------------------------------------------------------- */

typedef struct options {
    const char *model;     /* "bts", "gsc" or "all" */
    long steps;            /* 0: per-model default */
    long warmup;           /* -1: per-model default */
    int repeat;
    int threads;           /* 0: both 1 and 2 */
    size_t batch;
    int profile, sgemm, json, cpu_clock, crossover;
    const char *examples;
} options;

static void usage(FILE *f)
{
    fprintf(f, "usage: qreg-bench [--model bts|gsc|all] [--steps N] [--warmup N] [--repeat N]\n"
               "                  [--threads 1|2] [--batch N] [--profile] [--clock wall|cpu]\n"
               "                  [--no-sgemm] [--json] [--examples DIR]\n"
               "       qreg-bench --gemm-crossover [--threads 1|2] [--batch N]\n"
               "                  [--clock wall|cpu]\n");
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){"all", 0, -1, 3, 0, 64, 0, 1, 0, 0, 0, QR_SRCDIR "/examples"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--model") == 0 && v) {
            o->model = v;
            i++;
        } else if (strcmp(a, "--steps") == 0 && v) {
            o->steps = atol(v);
            i++;
        } else if (strcmp(a, "--warmup") == 0 && v) {
            o->warmup = atol(v);
            i++;
        } else if (strcmp(a, "--repeat") == 0 && v) {
            o->repeat = atoi(v);
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            o->threads = atoi(v);
            i++;
        } else if (strcmp(a, "--batch") == 0 && v) {
            o->batch = (size_t)atol(v);
            i++;
        } else if (strcmp(a, "--examples") == 0 && v) {
            o->examples = v;
            i++;
        } else if (strcmp(a, "--clock") == 0 && v) {
            if (strcmp(v, "cpu") && strcmp(v, "wall")) {
                usage(stderr);
                return -1;
            }
            o->cpu_clock = strcmp(v, "cpu") == 0;
            i++;
        } else if (strcmp(a, "--gemm-crossover") == 0) {
            o->crossover = 1;
        } else if (strcmp(a, "--profile") == 0) {
            o->profile = 1;
        } else if (strcmp(a, "--no-sgemm") == 0) {
            o->sgemm = 0;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            return -1;
        }
    }
    if (strcmp(o->model, "bts") && strcmp(o->model, "gsc") && strcmp(o->model, "all")) {
        fprintf(stderr, "qreg-bench: --model must be bts, gsc or all\n");
        return -1;
    }
    if (o->threads < 0 || o->threads > 64 || o->repeat < 1 || o->batch < 1 || o->steps < 0) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- the benchmarked training run ---------------------------------------------------- */

typedef struct bench_model {
    const char *name;
    size_t n_classes;
    long steps, warmup;    /* defaults */
} bench_model;

static const bench_model models[] = {
    {"bts", 2, 1000, 100},
    {"gsc", 12, 20, 3},
};

/* Per-op timers of --profile: forward and backward seconds by op, plus the engine's own. */
typedef struct profile {
    double fwd[QR_OP_COUNT], bwd[QR_OP_COUNT];
    double gather, zero_grad, agrad_memset, optim;
    double total;
    long steps;
} profile;

typedef struct run {
    qr_model *m;
    qr_optim *opt;
    float *pool_x, *stage;
    int32_t *pool_y;
    size_t *order, pool_n, row, batch, cursor;
    qr_rng shuffle;
    float *w, *gw;
    size_t n_tr, n_all;
} run;

static int run_init(run *r, const bench_model *bm, const options *o)
{
    memset(r, 0, sizeof *r);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", o->examples, bm->name);
    qr_train_config c;
    qr_error err = {{0}};
    if (qr_train_config_load(path, &c, &err) != QR_OK) {
        fprintf(stderr, "qreg-bench: %s\n", err.msg);
        return -1;
    }
    qr_model_spec spec;
    if (qr_model_spec_copy(&spec, &c.model) != QR_OK) {
        fprintf(stderr, "qreg-bench: out of memory\n");
        qr_train_config_free(&c);
        return -1;
    }
    spec.t = c.t;
    spec.f = c.f;
    spec.n_classes = bm->n_classes;
    qr_train_config_free(&c);
    size_t t = spec.t, f = spec.f;
    qr_status s = qr_model_new(&spec, o->batch, 1, &r->m, &err);
    qr_model_spec_free(&spec);
    if (s != QR_OK) {
        fprintf(stderr, "qreg-bench: %s: %s\n", bm->name, err.msg);
        return -1;
    }
    r->batch = o->batch;
    r->row = t * f;
    r->pool_n = POOL_BATCHES * r->batch;
    r->pool_x = malloc(r->pool_n * r->row * sizeof *r->pool_x);
    r->pool_y = malloc(r->pool_n * sizeof *r->pool_y);
    r->order = malloc(r->pool_n * sizeof *r->order);
    r->stage = malloc(r->batch * r->row * sizeof *r->stage);
    if (!r->pool_x || !r->pool_y || !r->order || !r->stage) {
        fprintf(stderr, "qreg-bench: out of memory\n");
        return -1;
    }
    qr_rng rng;
    qr_rng_seed(&rng, 42);
    for (size_t i = 0; i < r->pool_n * r->row; i++)
        r->pool_x[i] = (float)qr_rng_normal(&rng);
    for (size_t i = 0; i < r->pool_n; i++) {
        r->pool_y[i] = (int32_t)qr_rng_below(&rng, bm->n_classes);
        r->order[i] = i;
    }
    /* standardization as qr_train sets it (per-feature mean and std of the training data) */
    size_t nt = r->pool_n * t;
    double *acc = calloc(2 * f, sizeof *acc);
    float *mean = malloc(f * sizeof *mean), *sd = malloc(f * sizeof *sd);
    if (!acc || !mean || !sd) {
        fprintf(stderr, "qreg-bench: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < f; j++) {
            double v = r->pool_x[i * f + j];
            acc[j] += v;
            acc[f + j] += v * v;
        }
    for (size_t j = 0; j < f; j++) {
        double mu = acc[j] / (double)nt;
        mean[j] = (float)mu;
        sd[j] = (float)sqrt(acc[f + j] / (double)nt - mu * mu);
    }
    s = qr_model_set_standardization(r->m, mean, sd);
    free(acc);
    free(mean);
    free(sd);
    if (s != QR_OK) {
        fprintf(stderr, "qreg-bench: standardization: %s\n", qr_strerror(s));
        return -1;
    }
    qr_rng_seed(&r->shuffle, 7);
    qr_rng_shuffle(&r->shuffle, r->order, r->pool_n);
    qr_graph *g = qr_model_graph(r->m);
    r->w = qr_graph_params(g, &r->n_tr, &r->n_all);
    r->gw = qr_graph_grads(g);
    qr_optim_config oc;
    qr_optim_config_default(&oc, QR_OPTIM_ADAM);
    r->opt = qr_optim_new(&oc, r->n_tr);
    if (!r->opt) {
        fprintf(stderr, "qreg-bench: qr_optim_new failed\n");
        return -1;
    }
    qr_graph_set_training(g, 1);
    qr_graph_set_batch(g, r->batch);
    return 0;
}

static void run_free(run *r)
{
    qr_optim_free(r->opt);
    qr_model_free(r->m);
    free(r->pool_x);
    free(r->pool_y);
    free(r->order);
    free(r->stage);
}

/* The next batch's sample indices (an epoch over the pool, reshuffled when it wraps). */
static const size_t *next_batch(run *r)
{
    if (r->cursor + r->batch > r->pool_n) {
        qr_rng_shuffle(&r->shuffle, r->order, r->pool_n);
        r->cursor = 0;
    }
    const size_t *idx = r->order + r->cursor;
    r->cursor += r->batch;
    return idx;
}

/* One training step, exactly qr_train's inner loop (without the progress bookkeeping). */
static float train_step(run *r)
{
    qr_model *m = r->m;
    qr_graph *g = qr_model_graph(m);
    const size_t *idx = next_batch(r);
    for (size_t i = 0; i < r->batch; i++)
        memcpy(r->stage + i * r->row, r->pool_x + idx[i] * r->row, r->row * sizeof *r->stage);
    qr_model_load_inputs(m, r->stage, r->batch);
    float *y = qr_node_data(qr_model_labels(m));
    for (size_t i = 0; i < r->batch; i++)
        y[i] = (float)r->pool_y[idx[i]];
    qr_graph_zero_grad(g);
    qr_node *loss = qr_model_loss(m);
    qr_graph_forward(g, loss);
    qr_graph_backward(g, loss);
    qr_optim_step(r->opt, r->w, r->gw);
    return qr_node_data(loss)[0];
}

/* The profile's clock: wall time, or (--clock cpu) the main thread's CPU time, which ignores
 * time spent descheduled but also misses OpenBLAS's worker threads (use it at 1 thread). */
static int profile_cpu_clock;
static double pnow(void)
{
    return profile_cpu_clock ? thread_cpu() : now();
}

/* The same step with timers around every part (forward/backward replayed node by node). */
static float train_step_profiled(run *r, profile *p)
{
    qr_model *m = r->m;
    qr_graph *g = qr_model_graph(m);
    double t0 = pnow(), t;
    const size_t *idx = next_batch(r);
    for (size_t i = 0; i < r->batch; i++)
        memcpy(r->stage + i * r->row, r->pool_x + idx[i] * r->row, r->row * sizeof *r->stage);
    qr_model_load_inputs(m, r->stage, r->batch);
    float *y = qr_node_data(qr_model_labels(m));
    for (size_t i = 0; i < r->batch; i++)
        y[i] = (float)r->pool_y[idx[i]];
    t = pnow();
    p->gather += t - t0;
    t0 = t;
    qr_graph_zero_grad(g);
    t = pnow();
    p->zero_grad += t - t0;
    t0 = t;
    qr_node *loss = qr_model_loss(m);
    for (size_t i = 0; i <= loss->index; i++) {
        qr_node *n = g->nodes[i];
        const qr_op_def *d = qr_op_table[n->op];
        if (d->forward) {
            d->forward(g, n);
            t = pnow();
            p->fwd[n->op] += t - t0;
            t0 = t;
        }
    }
    /* qr_graph_backward */
    memset(g->agrads, 0, g->n_agrads * sizeof(float));
    t = pnow();
    p->agrad_memset += t - t0;
    t0 = t;
    size_t nl = qr_shape_size(loss);
    for (size_t i = 0; i < nl; i++)
        loss->g[i] += 1.0f;
    for (size_t i = loss->index + 1; i-- > 0;) {
        qr_node *n = g->nodes[i];
        const qr_op_def *d = qr_op_table[n->op];
        if (n->g && d->backward) {
            d->backward(g, n);
            t = pnow();
            p->bwd[n->op] += t - t0;
            t0 = t;
        }
    }
    qr_optim_step(r->opt, r->w, r->gw);
    t = pnow();
    p->optim += t - t0;
    p->steps++;
    return qr_node_data(loss)[0];
}

/* ---- GRU flops and SGEMM reference --------------------------------------------------- */

typedef struct gru_info {
    int found;
    size_t b, t, f, h;
    double fwd_flops, bwd_flops;
} gru_info;

/* GEMM flops (2 per multiply-add) of the GRU node's forward and backward at batch b. */
static gru_info gru_flops(qr_graph *g)
{
    gru_info gi = {0};
    for (size_t i = 0; i < g->n_nodes; i++) {
        qr_node *n = g->nodes[i];
        if (n->op != QR_OP_GRU)
            continue;
        gi.found = 1;
        gi.b = n->in[0]->shape[0];
        gi.t = n->in[0]->shape[1];
        gi.f = n->in[0]->shape[2];
        gi.h = n->in[2]->shape[0];
        double bt = (double)gi.b * (double)gi.t, h3 = 3.0 * (double)gi.h;
        double in_proj = 2.0 * bt * (double)gi.f * h3, rec = 2.0 * bt * (double)gi.h * h3;
        gi.fwd_flops = in_proj + rec;
        /* dh (T-1 steps), dWh, dWi, dX (x needs a gradient: the conv below is trained) */
        double dh = 2.0 * (double)gi.b * (double)(gi.t - 1) * h3 * (double)gi.h;
        gi.bwd_flops = dh + rec + in_proj + (n->in[0]->g ? in_proj : 0.0);
    }
    return gi;
}

typedef struct gemm_case {
    const char *what;
    int ta, tb;
    size_t m, n, k, lda, ldb; /* 0: contiguous */
} gemm_case;

/* Achieved GFLOP/s of cblas_sgemm on one shape (best of several timed batches). */
static double sgemm_gflops(const gemm_case *gc)
{
    size_t ar = gc->ta ? gc->k : gc->m, ac = gc->ta ? gc->m : gc->k;
    size_t br = gc->tb ? gc->n : gc->k, bc = gc->tb ? gc->k : gc->n;
    size_t lda = gc->lda ? gc->lda : ac, ldb = gc->ldb ? gc->ldb : bc;
    float *a = malloc(ar * lda * sizeof *a), *b = malloc(br * ldb * sizeof *b);
    float *c = malloc(gc->m * gc->n * sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return NAN;
    }
    qr_rng rng;
    qr_rng_seed(&rng, 3);
    for (size_t i = 0; i < ar * lda; i++)
        a[i] = qr_rng_uniform(&rng) - 0.5f;
    for (size_t i = 0; i < br * ldb; i++)
        b[i] = qr_rng_uniform(&rng) - 0.5f;
    memset(c, 0, gc->m * gc->n * sizeof *c);
    double flops = 2.0 * (double)gc->m * (double)gc->n * (double)gc->k, best = 0.0;
    long reps = (long)(2e8 / flops) + 1; /* about 0.1 s per batch */
    for (int rep = 0; rep < 6; rep++) {
        int cpu = profile_cpu_clock && qr_get_threads() == 1; /* workers' time not counted */
        double t0 = cpu ? thread_cpu() : now();
        for (long i = 0; i < reps; i++)
            cblas_sgemm(CblasRowMajor, gc->ta ? CblasTrans : CblasNoTrans,
                        gc->tb ? CblasTrans : CblasNoTrans, (blasint)gc->m, (blasint)gc->n,
                        (blasint)gc->k, 1.0f, a, (blasint)lda, b, (blasint)ldb, 1.0f, c,
                        (blasint)gc->n);
        double gf = flops * (double)reps / ((cpu ? thread_cpu() : now()) - t0) * 1e-9;
        if (rep > 0 && gf > best) /* the first batch warms up caches and threads */
            best = gf;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* ---- --gemm-crossover: plain loops against OpenBLAS --------------------------------------- */

/* Seconds per call of qr_sgemm_ref (ref = 1) or cblas_sgemm on one shape (best of 5). */
static double gemm_time(const gemm_case *gc, int ref)
{
    size_t ar = gc->ta ? gc->k : gc->m, ac = gc->ta ? gc->m : gc->k;
    size_t br = gc->tb ? gc->n : gc->k, bc = gc->tb ? gc->k : gc->n;
    float *a = malloc(ar * ac * sizeof *a), *b = malloc(br * bc * sizeof *b);
    float *c = calloc(gc->m * gc->n, sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return NAN;
    }
    for (size_t i = 0; i < ar * ac; i++)
        a[i] = (float)(i % 7) * 0.1f - 0.3f;
    for (size_t i = 0; i < br * bc; i++)
        b[i] = (float)(i % 5) * 0.1f - 0.2f;
    double macs = (double)gc->m * (double)gc->n * (double)gc->k, best = INFINITY;
    long reps = (long)(2e6 / macs) + 1;
    for (int rep = 0; rep < 6; rep++) {
        double t0 = pnow();
        for (long i = 0; i < reps; i++) {
            if (ref)
                qr_sgemm_ref(gc->ta, gc->tb, gc->m, gc->n, gc->k, 1.0f, a, ac, b, bc, 1.0f, c,
                             gc->n);
            else
                cblas_sgemm(CblasRowMajor, gc->ta ? CblasTrans : CblasNoTrans,
                            gc->tb ? CblasTrans : CblasNoTrans, (blasint)gc->m, (blasint)gc->n,
                            (blasint)gc->k, 1.0f, a, (blasint)ac, b, (blasint)bc, 1.0f, c,
                            (blasint)gc->n);
        }
        double dt = (pnow() - t0) / (double)reps;
        if (rep > 0 && dt < best)
            best = dt;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* The GEMM shapes of a bts and a gsc training step (B 64) and square sizes: time per call of
 * both paths, to place QR_GEMM_SMALL (lib/gemm.c). */
static void gemm_crossover(int threads, size_t B)
{
    qr_set_threads(threads);
    /* The bts GRU's products (H, F <= 16) no longer call qr_sgemm: lib/op_gru.c runs them in
     * its own loops over the batch; they stay here as small shapes for the crossover. */
    const gemm_case cases[] = {
        {"bts gru fwd recurrent (B,5)x(5,15)", 0, 0, B, 15, 5, 0, 0},
        {"bts gru bwd dh (B,15)x(5,15)^T", 0, 1, B, 5, 15, 0, 0},
        {"bts dense fwd (B,5)x(5,2)", 0, 0, B, 2, 5, 0, 0},
        {"bts gru fwd input proj (B*36,6)x(6,15)", 0, 0, B * 36, 15, 6, 0, 0},
        {"bts gru bwd dWh (B*36,5)^T (B*36,15)", 1, 0, 5, 15, B * 36, 0, 0},
        {"bts gru bwd dWi (B*36,6)^T (B*36,15)", 1, 0, 6, 15, B * 36, 0, 0},
        {"bts gru bwd dX (B*36,15)x(6,15)^T", 0, 1, B * 36, 6, 15, 0, 0},
        {"bts conv fwd (B*36,15)x(15,6)", 0, 0, B * 36, 6, 15, 0, 0},
        {"bts conv bwd dW (B*36,15)^T (B*36,6)", 1, 0, 15, 6, B * 36, 0, 0},
        {"bts conv bwd dcol (B*36,6)x(15,6)^T", 0, 1, B * 36, 15, 6, 0, 0},
        {"gsc dense fwd (B,196)x(196,12)", 0, 0, B, 12, 196, 0, 0},
        {"gsc dense bwd dW (B,196)^T (B,12)", 1, 0, 196, 12, B, 0, 0},
        {"gsc dense bwd dX (B,12)x(196,12)^T", 0, 1, B, 196, 12, 0, 0},
        {"gsc gru fwd recurrent (B,196)x(196,588)", 0, 0, B, 588, 196, 0, 0},
        {"batch 1: bts gru recurrent (1,5)x(5,15)", 0, 0, 1, 15, 5, 0, 0},
        {"batch 1: bts gru dh (1,15)x(5,15)^T", 0, 1, 1, 5, 15, 0, 0},
        {"batch 1: bts dense (1,5)x(5,2)", 0, 0, 1, 2, 5, 0, 0},
        {"batch 1: bts conv (36,15)x(15,6)", 0, 0, 36, 6, 15, 0, 0},
        {"batch 1: bts gru input proj (36,6)x(6,15)", 0, 0, 36, 15, 6, 0, 0},
        {"batch 1: gsc gru recurrent (1,196)x(196,588)", 0, 0, 1, 588, 196, 0, 0},
        {"batch 1: gsc dense (1,196)x(196,12)", 0, 0, 1, 12, 196, 0, 0},
        {"batch 4: bts gru recurrent (4,5)x(5,15)", 0, 0, 4, 15, 5, 0, 0},
        {"batch 16: bts gru recurrent (16,5)x(5,15)", 0, 0, 16, 15, 5, 0, 0},
        {"(B,4)x(4,4)", 0, 0, B, 4, 4, 0, 0},
        {"(B,8)x(8,4)", 0, 0, B, 4, 8, 0, 0},
        {"(B,4)x(8,4)^T", 0, 1, B, 8, 4, 0, 0},
        {"(B,8)x(8,8)", 0, 0, B, 8, 8, 0, 0},
        {"(B,16)x(16,8)", 0, 0, B, 8, 16, 0, 0},
        {"(1,8)x(8,4)", 0, 0, 1, 4, 8, 0, 0},
        {"(1,16)x(16,8)", 0, 0, 1, 8, 16, 0, 0},
        {"(1,32)x(32,16)", 0, 0, 1, 16, 32, 0, 0},
        {"square 4", 0, 0, 4, 4, 4, 0, 0},
        {"square 8", 0, 0, 8, 8, 8, 0, 0},
        {"square 16", 0, 0, 16, 16, 16, 0, 0},
        {"square 24", 0, 0, 24, 24, 24, 0, 0},
        {"square 32", 0, 0, 32, 32, 32, 0, 0},
        {"square 48", 0, 0, 48, 48, 48, 0, 0},
        {"square 64", 0, 0, 64, 64, 64, 0, 0},
        {"square 96", 0, 0, 96, 96, 96, 0, 0},
        {"square 128", 0, 0, 128, 128, 128, 0, 0},
    };
    printf("GEMM crossover, %d thread(s), %s time per call (best of 5):\n", threads,
           profile_cpu_clock ? "main-thread CPU" : "wall");
    printf("  %-44s %5s %5s %5s %9s %9s %9s  %s\n", "shape", "m", "n", "k", "m*n*k",
           "loops us", "blas us", "faster");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const gemm_case *gc = &cases[i];
        double tr = gemm_time(gc, 1), tb = gemm_time(gc, 0);
        printf("  %-44s %5zu %5zu %5zu %9zu %9.3f %9.3f  %s x%.1f\n", gc->what, gc->m, gc->n,
               gc->k, gc->m * gc->n * gc->k, tr * 1e6, tb * 1e6, tr < tb ? "loops" : "blas",
               tr < tb ? tb / tr : tr / tb);
    }
}

/* ---- output -------------------------------------------------------------------------- */

typedef struct result {
    const char *model;
    int threads;
    size_t batch;
    long steps, warmup;
    int repeat;
    double samples_per_s, step_ms, final_loss;
    double cpu_samples_per_s; /* from the main thread's CPU time (median of the repeats) */
    size_t trainable, buffers;
    int has_profile;
    profile prof;
    gru_info gru;
    double gru_fwd_s, gru_bwd_s; /* per step */
    long maxrss_kb;
    double arena_mb[5]; /* params + grads, activations, activation grads, op state, scratch */
} result;

static const char *op_label(int op)
{
    const char *s = qr_op_name((qr_op)op);
    return s ? s : "?";
}

static void print_profile_text(const result *r)
{
    const profile *p = &r->prof;
    double per = 1e3 / (double)p->steps, total = p->total * per;
    printf("  profile (%ld steps, %s ms/step, %% of the step):\n", p->steps,
           profile_cpu_clock ? "main-thread CPU" : "wall");
    printf("    %-22s %9.4f  %5.1f%%\n", "gather+load_inputs", p->gather * per,
           100 * p->gather * per / total);
    printf("    %-22s %9.4f  %5.1f%%\n", "zero_grad (memset)", p->zero_grad * per,
           100 * p->zero_grad * per / total);
    for (int op = 0; op < QR_OP_COUNT; op++)
        if (p->fwd[op] > 0)
            printf("    fwd %-18s %9.4f  %5.1f%%\n", op_label(op), p->fwd[op] * per,
                   100 * p->fwd[op] * per / total);
    printf("    %-22s %9.4f  %5.1f%%\n", "backward memset", p->agrad_memset * per,
           100 * p->agrad_memset * per / total);
    for (int op = QR_OP_COUNT; op-- > 0;)
        if (p->bwd[op] > 0)
            printf("    bwd %-18s %9.4f  %5.1f%%\n", op_label(op), p->bwd[op] * per,
                   100 * p->bwd[op] * per / total);
    printf("    %-22s %9.4f  %5.1f%%\n", "optimizer (adam)", p->optim * per,
           100 * p->optim * per / total);
    printf("    %-22s %9.4f\n", "total", total);
}

static void print_profile_json(const result *r)
{
    const profile *p = &r->prof;
    double per = 1e3 / (double)p->steps;
    printf(", \"profile_ms\": {\"gather\": %.5f, \"zero_grad\": %.5f, \"backward_memset\": %.5f, "
           "\"optim\": %.5f, \"total\": %.5f",
           p->gather * per, p->zero_grad * per, p->agrad_memset * per, p->optim * per,
           p->total * per);
    for (int op = 0; op < QR_OP_COUNT; op++) {
        if (p->fwd[op] > 0)
            printf(", \"fwd_%s\": %.5f", op_label(op), p->fwd[op] * per);
        if (p->bwd[op] > 0)
            printf(", \"bwd_%s\": %.5f", op_label(op), p->bwd[op] * per);
    }
    printf("}");
}

/* ---- main ---------------------------------------------------------------------------- */

static int bench_one(const bench_model *bm, int threads, const options *o, result *res)
{
    run r;
    if (run_init(&r, bm, o) != 0) {
        run_free(&r);
        return -1;
    }
    qr_set_threads(threads);
    memset(res, 0, sizeof *res);
    res->model = bm->name;
    res->threads = threads;
    res->batch = o->batch;
    res->steps = o->steps ? o->steps : bm->steps;
    res->warmup = o->warmup >= 0 ? o->warmup : bm->warmup;
    res->repeat = o->repeat;
    qr_model_count_params(r.m, &res->trainable, &res->buffers);
    {
        const qr_graph *g = qr_model_graph(r.m);
        const double mb = 1.0 / (1024.0 * 1024.0);
        res->arena_mb[0] = 2.0 * (double)g->n_params * sizeof(float) * mb;
        res->arena_mb[1] = (double)g->n_acts * sizeof(float) * mb;
        res->arena_mb[2] = (double)g->n_agrads * sizeof(float) * mb;
        res->arena_mb[3] = (double)g->n_aux * mb;
        res->arena_mb[4] = (double)g->n_scratch * sizeof(float) * mb;
    }

    float loss = 0.0f;
    for (long i = 0; i < res->warmup; i++)
        loss = train_step(&r);
    double *rates = malloc(2 * (size_t)o->repeat * sizeof *rates), *cpu_rates = rates + o->repeat;
    if (!rates) {
        run_free(&r);
        return -1;
    }
    for (int rep = 0; rep < o->repeat; rep++) {
        double t0 = now(), c0 = thread_cpu();
        for (long i = 0; i < res->steps; i++)
            loss = train_step(&r);
        double dt = now() - t0, dc = thread_cpu() - c0;
        rates[rep] = (double)res->steps * (double)o->batch / dt;
        cpu_rates[rep] = (double)res->steps * (double)o->batch / dc;
    }
    qsort(rates, (size_t)o->repeat, sizeof *rates, cmp_double);
    qsort(cpu_rates, (size_t)o->repeat, sizeof *rates, cmp_double);
    res->samples_per_s = rates[o->repeat / 2];
    res->cpu_samples_per_s = cpu_rates[o->repeat / 2];
    res->step_ms = 1e3 * (double)o->batch / res->samples_per_s;
    free(rates);
    /* gsc with the SGEMM reference: time the GRU node too (the profiled pass), even without
     * --profile, for its GFLOP/s; the per-op table is printed with --profile only */
    if (o->profile || (o->sgemm && strcmp(bm->name, "gsc") == 0)) {
        res->has_profile = 1;
        for (long i = 0; i < res->steps; i++) {
            double t0 = pnow();
            loss = train_step_profiled(&r, &res->prof);
            res->prof.total += pnow() - t0;
        }
        res->gru = gru_flops(qr_model_graph(r.m));
        res->gru_fwd_s = res->prof.fwd[QR_OP_GRU] / (double)res->prof.steps;
        res->gru_bwd_s = res->prof.bwd[QR_OP_GRU] / (double)res->prof.steps;
    }
    res->final_loss = loss;
    if (!isfinite(loss))
        fprintf(stderr, "qreg-bench: %s: loss %g is not finite\n", bm->name, (double)loss);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    res->maxrss_kb = ru.ru_maxrss;
    run_free(&r);
    return isfinite(loss) ? 0 : -1;
}

static void print_result(const result *r, const options *o, int *first)
{
    if (o->json) {
        printf("%s{\"impl\": \"qreg\", \"model\": \"%s\", \"threads\": %d, \"batch\": %zu, "
               "\"steps\": %ld, \"warmup\": %ld, \"repeat\": %d, \"samples_per_s\": %.2f, "
               "\"step_ms\": %.5f, \"cpu_samples_per_s\": %.2f, \"trainable\": %zu, "
               "\"buffers\": %zu, \"final_loss\": %.5f, "
               "\"maxrss_kb\": %ld, \"arenas_mib\": {\"params_and_grads\": %.3f, "
               "\"activations\": %.3f, \"activation_grads\": %.3f, \"op_state\": %.3f, "
               "\"scratch\": %.3f}",
               *first ? "" : ",\n ", r->model, r->threads, r->batch, r->steps, r->warmup,
               r->repeat, r->samples_per_s, r->step_ms, r->cpu_samples_per_s, r->trainable,
               r->buffers, (double)r->final_loss, r->maxrss_kb, r->arena_mb[0], r->arena_mb[1],
               r->arena_mb[2], r->arena_mb[3], r->arena_mb[4]);
        if (r->has_profile) {
            if (o->profile)
                print_profile_json(r);
            if (r->gru.found)
                printf(", \"gru\": {\"fwd_gflop\": %.4f, \"bwd_gflop\": %.4f, \"fwd_ms\": %.4f, "
                       "\"bwd_ms\": %.4f, \"gflops\": %.3f}",
                       r->gru.fwd_flops * 1e-9, r->gru.bwd_flops * 1e-9, r->gru_fwd_s * 1e3,
                       r->gru_bwd_s * 1e3,
                       (r->gru.fwd_flops + r->gru.bwd_flops) * 1e-9 /
                           (r->gru_fwd_s + r->gru_bwd_s));
        }
        printf("}");
    } else {
        printf("%s threads=%d batch=%zu params=%zu+%zu: %.1f samples/s (%.4f ms/step; "
               "median of %d x %ld steps after %ld warm-up; loss %.4f; main-thread CPU time: "
               "%.1f samples/s)\n",
               r->model, r->threads, r->batch, r->trainable, r->buffers, r->samples_per_s,
               r->step_ms, r->repeat, r->steps, r->warmup, (double)r->final_loss,
               r->cpu_samples_per_s);
        if (r->has_profile) {
            printf("  graph arenas (MiB): parameters + gradients %.2f, activations %.2f, their "
                   "gradients %.2f, op state %.2f, scratch %.2f\n",
                   r->arena_mb[0], r->arena_mb[1], r->arena_mb[2], r->arena_mb[3],
                   r->arena_mb[4]);
            if (o->profile)
                print_profile_text(r);
            if (r->gru.found) {
                double gf = (r->gru.fwd_flops + r->gru.bwd_flops) * 1e-9 /
                            (r->gru_fwd_s + r->gru_bwd_s);
                printf("  gru (B %zu, T %zu, F %zu, H %zu): forward %.3f GFLOP in %.3f ms "
                       "(%.2f GFLOP/s), backward %.3f GFLOP in %.3f ms (%.2f GFLOP/s); "
                       "together %.2f GFLOP/s\n",
                       r->gru.b, r->gru.t, r->gru.f, r->gru.h, r->gru.fwd_flops * 1e-9,
                       r->gru_fwd_s * 1e3, r->gru.fwd_flops * 1e-9 / r->gru_fwd_s,
                       r->gru.bwd_flops * 1e-9, r->gru_bwd_s * 1e3,
                       r->gru.bwd_flops * 1e-9 / r->gru_bwd_s, gf);
            }
        }
    }
    *first = 0;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    profile_cpu_clock = o.cpu_clock;
    if (o.crossover) {
        gemm_crossover(o.threads ? o.threads : 1, o.batch);
        return 0;
    }
    int thr[2] = {1, 2}, n_thr = 2;
    if (o.threads) {
        thr[0] = o.threads;
        n_thr = 1;
    }
    if (o.json)
        printf("{\"results\": [");
    int first = 1, rc = 0;
    result gsc_res[2];
    int have_gsc = 0;
    long rss_after_gsc = 0;
    for (size_t mi = 0; mi < sizeof models / sizeof *models; mi++) {
        const bench_model *bm = &models[mi];
        if (strcmp(o.model, "all") && strcmp(o.model, bm->name))
            continue;
        for (int ti = 0; ti < n_thr; ti++) {
            result res;
            if (bench_one(bm, thr[ti], &o, &res) != 0) {
                fprintf(stderr, "qreg-bench: %s with %d thread(s) failed\n", bm->name,
                        thr[ti]);
                rc = 1;
                continue;
            }
            print_result(&res, &o, &first);
            fflush(stdout);
            if (strcmp(bm->name, "gsc") == 0) {
                gsc_res[have_gsc < 2 ? have_gsc : 1] = res;
                have_gsc++;
                rss_after_gsc = res.maxrss_kb;
            }
        }
    }
    if (o.json)
        printf("]");
    /* SGEMM reference for the GRU of gsc: only when gsc ran (with --profile: its GRU's rate) */
    if (have_gsc && o.sgemm) {
        size_t B = o.batch, T = 85, F = 128, H = 196;
        if (gsc_res[0].has_profile && gsc_res[0].gru.found) {
            T = gsc_res[0].gru.t;
            F = gsc_res[0].gru.f;
            H = gsc_res[0].gru.h;
        }
        size_t H3 = 3 * H;
        const gemm_case cases[] = {
            /* the GRU's products in its (unit, time, batch) layout (lib/op_gru.c) */
            {"square 1024", 0, 0, 1024, 1024, 1024, 0, 0},
            {"gru fwd recurrent Wh^T (H,3H)^T x (H,B), ldb T*B", 1, 0, H3, B, H, 0, T * B},
            {"gru fwd input proj Wi^T x XT^T (F,3H)^T x (B*T,F)^T", 1, 1, H3, B * T, F, 0, 0},
            {"gru bwd dh Wh x DG_t (H,3H)x(3H,B), ldb T*B", 0, 0, H, B, H3, 0, T * B},
            {"gru bwd dWh HP x DG^T (H,B*T)x(3H,B*T)^T", 0, 1, H, H3, B * T, 0, 0},
            {"gru bwd dWi XT^T x DG^T (B*T,F)^T x (3H,B*T)^T", 1, 1, F, H3, B * T, 0, 0},
            {"gru bwd dXT DG^T x Wi^T (3H,B*T)^T x (F,3H)^T", 1, 1, B * T, F, H3, 0, 0},
        };
        size_t nc = sizeof cases / sizeof *cases;
        if (o.json)
            printf(", \"gsc_maxrss_kb\": %ld, \"sgemm\": [", rss_after_gsc);
        else
            printf("peak RSS after gsc training (ru_maxrss): %ld KiB = %.1f MiB\n"
                   "cblas_sgemm GFLOP/s (best of 5 batches of ~0.1 s):\n",
                   rss_after_gsc, (double)rss_after_gsc / 1024.0);
        for (int ti = 0; ti < n_thr; ti++) {
            qr_set_threads(thr[ti]);
            double square = 0.0;
            for (size_t ci = 0; ci < nc; ci++) {
                double gf = sgemm_gflops(&cases[ci]);
                if (ci == 0)
                    square = gf;
                if (o.json)
                    printf("%s{\"threads\": %d, \"case\": \"%s\", \"m\": %zu, \"n\": %zu, "
                           "\"k\": %zu, \"gflops\": %.3f}",
                           ti == 0 && ci == 0 ? "" : ",\n ", thr[ti], cases[ci].what,
                           cases[ci].m, cases[ci].n, cases[ci].k, gf);
                else
                    printf("  threads=%d %-42s m=%-5zu n=%-4zu k=%-5zu %7.2f GFLOP/s\n",
                           thr[ti], cases[ci].what, cases[ci].m, cases[ci].n, cases[ci].k, gf);
            }
            if (o.json)
                continue;
            for (int gi = 0; gi < (have_gsc < 2 ? have_gsc : 2); gi++)
                if (gsc_res[gi].threads == thr[ti] && gsc_res[gi].has_profile &&
                    gsc_res[gi].gru.found) {
                    const result *r = &gsc_res[gi];
                    double gf = (r->gru.fwd_flops + r->gru.bwd_flops) * 1e-9 /
                                (r->gru_fwd_s + r->gru_bwd_s);
                    printf("  threads=%d gsc GRU (forward + backward GEMM flops / GRU op time): "
                           "%.2f GFLOP/s = %.0f%% of the square SGEMM\n",
                           thr[ti], gf, 100.0 * gf / square);
                }
        }
        if (o.json)
            printf("]");
    }
    if (o.json)
        printf("}\n");
    return rc;
}
