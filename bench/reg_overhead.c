/* bench/reg_overhead.c — issue 4 speed goal: one gsc training step (batch 64, Adam, 1 thread)
 * with and without the quantization penalty on every weight matrix (Reg_4, sum), CPU time,
 * interleaved repetitions. Usage: bench/qreg-reg-overhead [examples/gsc.json] [reps] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "qreg/optim.h"
#include "qreg/train.h"

static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

int main(int argc, char **argv)
{
    const char *cfgpath = argc > 1 ? argv[1] : "examples/gsc.json";
    qr_train_config c; qr_error err;
    if (qr_train_config_load(cfgpath, &c, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    qr_model_spec spec; qr_model_spec_copy(&spec, &c.model);
    spec.t = c.t; spec.f = c.f; spec.n_classes = 12;
    qr_model *m; if (qr_model_new(&spec, 64, 1, &m, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    qr_quant_plan p; qr_quant_plan_init(&p, &spec);
    for (size_t i = 0; i < p.n; i++) { p.m[i].bits = 4; p.m[i].regularized = 1; p.m[i].lambda = 1e-4f; }
    qr_model_set_quant_plan(m, &p);
    const qr_quant_plan *plan = qr_model_quant_plan(m);
    qr_set_threads(1);
    qr_graph *g = qr_model_graph(m); qr_graph_set_training(g, 1);
    size_t n_tr; float *w = qr_graph_params(g, &n_tr, NULL), *gw = qr_graph_grads(g);
    qr_optim_config oc; qr_optim_config_default(&oc, QR_OPTIM_ADAM); qr_optim *o = qr_optim_new(&oc, n_tr);
    qr_node *x = qr_model_input(m), *y = qr_model_labels(m), *loss = qr_model_loss(m);
    srand(1);
    for (size_t i = 0; i < qr_node_size(x); i++) qr_node_data(x)[i] = (float)rand() / RAND_MAX - 0.5f;
    for (size_t i = 0; i < 64; i++) qr_node_data(y)[i] = (float)(rand() % 12);
    size_t n_reg = 0; for (size_t i = 0; i < plan->n; i++) n_reg += qr_node_size(qr_graph_find(g, plan->m[i].name));
    double t_base = 0, t_reg = 0, t_apply = 0; int reps = argc > 2 ? atoi(argv[2]) : 10;
    for (int r = 0; r < reps + 1; r++)
        for (int with = 0; with < 2; with++) {
            double t0 = cpu();
            qr_graph_zero_grad(g); qr_graph_forward(g, loss); qr_graph_backward(g, loss);
            double t1 = cpu();
            if (with) qr_quant_apply(plan, qr_model_graph(m), 5, 10);
            double t2 = cpu();
            qr_optim_step(o, w, gw);
            double t3 = cpu();
            if (r == 0) continue; /* warm-up */
            if (with) { t_reg += t3 - t0; t_apply += t2 - t1; } else t_base += t3 - t0;
        }
    printf("gsc step (batch 64, 1 thread, CPU time, %d reps): %.2f ms without, %.2f ms with the penalty on %zu weights (%.3f ms in qr_quant_apply): overhead %.2f %% (step), %.2f %% (apply / step)\n",
           reps, 1e3 * t_base / reps, 1e3 * t_reg / reps, n_reg, 1e3 * t_apply / reps,
           100 * (t_reg - t_base) / t_base, 100 * t_apply / t_base);
    return 0;
}
