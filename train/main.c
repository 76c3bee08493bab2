/* The qreg command: train, eval, summary. Each subcommand has --help. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

int main(int argc, char **argv)
{
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
        printf("qreg %s\n", QR_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "qreg: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
