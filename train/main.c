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
    {"recipe", qr_cmd_recipe, "write the staged low-bit config for a float config"},
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
    fprintf(f, "\nglobal options (before or after the command):\n"
               "  --max-memory SIZE  largest model to build (bytes, or with K, M, G, T; none for\n"
               "                     no limit); checked from the shapes before anything is\n"
               "                     allocated. Default: half the memory available (physical,\n"
               "                     cgroup or ulimit -v), at most 32 GiB. Also QREG_MAX_MEMORY;\n"
               "                     sweep runs inherit it.\n");
    fprintf(f, "\n'qreg <command> --help' describes a command. 'qreg --version' prints the version.\n");
}

/* Take the global option --max-memory SIZE (or =SIZE) out of argv, wherever it stands, into
 * QREG_MAX_MEMORY (so that the runs a sweep starts inherit it). Returns -1 on a missing value,
 * 1 if it was given, 0 if not. */
static int take_max_memory(int *argc, char **argv)
{
    int given = 0;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        int used;
        if (strcmp(argv[i], "--max-memory") == 0) {
            if (i + 1 >= *argc)
                return -1;
            v = argv[i + 1];
            used = 2;
        } else if (strncmp(argv[i], "--max-memory=", 13) == 0) {
            v = argv[i] + 13;
            used = 1;
        } else {
            continue;
        }
        if (setenv("QREG_MAX_MEMORY", v, 1) != 0)
            return -1;
        for (int k = i; k + used <= *argc; k++)
            argv[k] = argv[k + used];
        *argc -= used;
        i--;
        given = 1;
    }
    return given;
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
    int mm = take_max_memory(&argc, argv);
    if (mm < 0) {
        fprintf(stderr, "qreg: --max-memory needs a size (e.g. 4G, 512M, none)\n");
        return 2;
    }
    if (qr_cli_memory_setup(mm) != 0)
        return 2;
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
