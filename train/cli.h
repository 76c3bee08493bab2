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
/* qreg plot --curves LOG: learning curves of a per-epoch log (CSV or JSON lines) as SVG. */
int qr_plot_curves(const char *log, const char *out);
int qr_cmd_distill_logits(int argc, char **argv);
int qr_cmd_export(int argc, char **argv);
int qr_cmd_sweep(int argc, char **argv);
int qr_cmd_report(int argc, char **argv);
int qr_cmd_features(int argc, char **argv);
int qr_cmd_search(int argc, char **argv);
int qr_cmd_recipe(int argc, char **argv);

#include <stdio.h>

/* Per-matrix bits, method, scale, share near a minimum, mean |w − q|, and the byte size. */
void qr_cli_print_quant_report(FILE *f, const qr_quant_plan *plan, qr_model *m);

/* When model m records its input features (an audio model) and a features.json written by
 * `qreg features` lies next to data_path: 1 (and the differences in msg) when they disagree;
 * 0 when they agree or there is nothing to compare. */
int qr_cli_check_features(const qr_model *m, const char *data_path, char *msg, size_t len);

/* Options that read a labelled CSV the way model m takes its input (warns on stderr when
 * qr_cli_check_features finds the data made with other feature settings): its sequence shape and
 * class names; `label` a column name or index (NULL: last), `header` "yes", "no" or "auto". */
qr_csv_options qr_cli_model_csv_options(qr_model *m, const char *path, const char *label,
                                        const char *header);

/* argv option helpers: "--name value" and "--name=value". */
int qr_cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* Parse --act-bits (qr_export_options.act_bits): 2 … 16 or 32; 0 on success. */
int qr_cli_act_bits(const char *s, int *out);
/* Parse a whole non-negative integer; 0 on success. */
int qr_cli_size(const char *s, size_t *out);
/* Parse a byte count: a whole number with an optional binary suffix K, M, G, T (KiB, MiB,
 * ..., a final B optional; 1.5G allowed), or "0" / "none" for no limit; 0 on success. */
int qr_cli_bytes(const char *s, size_t *out);
/* The memory limit for models (qr_set_memory_limit): QREG_MAX_MEMORY when set (the global
 * option --max-memory sets it, so sweep runs inherit it), else half the memory available
 * (physical memory, cgroup limit, address-space limit: the smallest), at most 32 GiB.
 * Returns 0, or -1 with a message on stderr when QREG_MAX_MEMORY is not a size. `from_option`:
 * the value came from --max-memory (for the note errors quote). */
int qr_cli_memory_setup(int from_option);
/* Half the available memory, capped, as qr_cli_memory_setup chooses it by default. */
size_t qr_cli_default_memory_limit(size_t *available);

/* Audio-loader warnings (skipped files, a rebuilt cache) to stderr: the warn callback of
 * qr_audio_options for the commands that load audio. */
void qr_cli_audio_warning(void *user, const char *msg);

#endif
