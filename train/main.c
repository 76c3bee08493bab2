/* The qreg command: train, eval, summary. Each subcommand has --help. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cblas.h>
#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"train", qr_cmd_train, "train a model from a JSON config"},
    {"eval", qr_cmd_eval, "evaluate a saved model on a CSV file"},
    {"summary", qr_cmd_summary, "print a config's layers, parameter counts and byte sizes"},
    {"schedule", qr_cmd_schedule, "print a regularization schedule S(t) as CSV"},
    {"plot", qr_cmd_plot, "draw weight histograms over the regularizer (SVG)"},
    {"distill-logits", qr_cmd_distill_logits, "store a teacher's logits for distillation"},
    {"features", qr_cmd_features, "write a config's data (e.g. audio as MFCC) as CSV files"},
    {"search", qr_cmd_search, "choose bit-widths per matrix within a byte budget and train them"},
    {"export", qr_cmd_export, "write the integer model for the device runtime"},
    {"sweep", qr_cmd_sweep, "train a grid of configs in parallel, resumably (docs/sweeps.md)"},
    {"report", qr_cmd_report, "summarize sweep results: table, Pareto/box/heat-map SVGs"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: qreg <command> [options]\n\n"
               "qreg trains tiny sequence classifiers in C and regularizes their weights toward\n"
               "low-bit grids for microcontrollers.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'qreg <command> --help' describes a command. 'qreg --version' prints the version.\n");
}

/* OpenBLAS 0.3.21 does not know recent CPUs (e.g. Intel family 6 model 207) and falls back to
 * its SSE3 "Prescott" kernels: GEMMs run 3-5x slower than with the AVX-512 ones (gsc trains 3x
 * slower; docs/performance.md). It reads OPENBLAS_CORETYPE only when it loads, so the program
 * re-executes itself once with the right core when the CPU has AVX-512 or AVX2. Not done when
 * OPENBLAS_CORETYPE is already set (which also stops any loop) or QR_NO_REEXEC is set. */
static void qr_fix_openblas_core(char **argv)
{
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
    if (getenv("OPENBLAS_CORETYPE") || getenv("QR_NO_REEXEC"))
        return;
    const char *core = openblas_get_corename();
    static const char *const generic[] = {"prescott", "core2", "penryn", "dunnington",
                                          "nehalem", "atom", "generic", "unknown"};
    int fallback = 0;
    for (size_t i = 0; core && i < sizeof generic / sizeof generic[0]; i++)
        fallback |= strcasecmp(core, generic[i]) == 0;
    if (!fallback)
        return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want || setenv("OPENBLAS_CORETYPE", want, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the kernels we have */
#else
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    qr_fix_openblas_core(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *args[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, args);
                }
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("qreg %s\nLicence: MIT (the LICENSE file; the device runtime too). No warranty.\n",
               QR_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "qreg: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
