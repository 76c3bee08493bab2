/* Subcommands of the qreg program (each returns the process exit code: 0 ok, 1 failure,
 * 2 usage error). */
#ifndef QREG_CLI_H
#define QREG_CLI_H

#include "qreg/train.h"

int qr_cmd_train(int argc, char **argv);
int qr_cmd_eval(int argc, char **argv);
int qr_cmd_summary(int argc, char **argv);
int qr_cmd_schedule(int argc, char **argv);
int qr_cmd_plot(int argc, char **argv);
int qr_cmd_distill_logits(int argc, char **argv);
int qr_cmd_export(int argc, char **argv);
int qr_cmd_sweep(int argc, char **argv);
int qr_cmd_report(int argc, char **argv);
int qr_cmd_features(int argc, char **argv);
int qr_cmd_search(int argc, char **argv);

#include <stdio.h>

/* Per-matrix bits, method, scale, share near a minimum, mean |w − q|, and the byte size. */
void qr_cli_print_quant_report(FILE *f, const qr_quant_plan *plan, qr_model *m);

/* Options that read a labelled CSV the way model m takes its input: its sequence shape and
 * class names; `label` a column name or index (NULL: last), `header` "yes", "no" or "auto". */
qr_csv_options qr_cli_model_csv_options(qr_model *m, const char *path, const char *label,
                                        const char *header);

/* argv option helpers: "--name value" and "--name=value". */
int qr_cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* Parse a whole non-negative integer; 0 on success. */
int qr_cli_size(const char *s, size_t *out);

#endif
