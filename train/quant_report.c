/* The per-matrix quantization report printed by qreg train and qreg eval. */
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"

void qr_cli_print_quant_report(FILE *f, const qr_quant_plan *plan, qr_model *m)
{
    qr_quant_stat *st = calloc(plan->n ? plan->n : 1, sizeof *st);
    if (!st)
        return;
    qr_quant_stats(plan, qr_model_graph(m), 1, 1, st);
    fprintf(f, "%-28s %4s %-9s %11s %10s %12s\n", "matrix", "bits", "method", "scale",
            "near_min", "mean|w-q|");
    for (size_t i = 0; i < plan->n; i++) {
        const qr_quant_matrix *q = &plan->m[i];
        char method[32]; /* "/ch": per-channel grid scales (the scale column is their mean step) */
        snprintf(method, sizeof method, "%s%s",
                 !q->regularized ? "ptq-8bit" : q->ste ? "ste" : qr_reg_name(q->reg),
                 q->regularized && q->per_channel ? "/ch" : "");
        fprintf(f, "%-28s %4d %-9s %11.6g %9.2f%% %12.6g\n", q->name, q->bits, method,
                st[i].scale, 100.0 * st[i].share_near, st[i].mean_abs_err);
    }
    double base, bytes = qr_quant_bytes(plan, qr_model_graph(m), &base);
    fprintf(f, "size: %.3f B (8-bit baseline %.3f B, %+.1f%%)\n", bytes, base,
            base > 0 ? 100.0 * (bytes - base) / base : 0.0);
    free(st);
}
