/* qreg schedule --name NAME --t-final T: S(t) as CSV, to plot and check a schedule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "qreg/quant.h"

static const char schedule_help[] =
    "usage: qreg schedule --name NAME --t-final T [options]\n"
    "\n"
    "Print the schedule S(t) that paces the quantization penalty, for t = 1 ... T, as CSV\n"
    "(columns t,S). Formulas: see docs/method.md §4.\n"
    "\n"
    "names: none, linear, poly2, polyN, inv_linear, inv_poly, step_linear, step_inverse,\n"
    "       step_bounded\n"
    "options:\n"
    "  --name NAME     the schedule (required)\n"
    "  --t-final T     last epoch or step (required, >= 1)\n"
    "  --d X           inv_linear (default 0.01) and inv_poly (default 0.001)\n"
    "  --rate X        step_inverse, step_bounded (default 0.8), in (0, 1)\n"
    "  --step N        step_* (default 10)\n"
    "  --power X       polyN (default 3)\n"
    "  -h, --help      this help\n";

static int parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    *out = strtod(s, &end);
    return *end ? -1 : 0;
}

int qr_cmd_schedule(int argc, char **argv)
{
    const char *name = NULL, *v;
    size_t t_final = 0;
    double d = -1, rate = -1, step = -1, power = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(schedule_help, stdout);
            return 0;
        } else if (qr_cli_opt(argc, argv, &i, "--name", &v)) {
            if (!(name = v))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--t-final", &v)) {
            if (qr_cli_size(v, &t_final) || t_final == 0 || t_final > 100000000)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--d", &v)) {
            if (parse_double(v, &d))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--rate", &v)) {
            if (parse_double(v, &rate))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--step", &v)) {
            if (parse_double(v, &step))
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--power", &v)) {
            if (parse_double(v, &power))
                goto bad;
        } else {
            fprintf(stderr, "qreg schedule: unknown argument '%s' (see qreg schedule --help)\n", a);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg schedule: option '%s' needs a valid value\n", a);
        return 2;
    }
    if (!name || !t_final) {
        fputs(schedule_help, stderr);
        return 2;
    }
    qr_sched_kind kind;
    if (qr_sched_parse(name, &kind) != QR_OK) {
        fprintf(stderr, "qreg schedule: unknown schedule '%s'\n", name);
        return 2;
    }
    qr_schedule s;
    qr_schedule_default(&s, kind);
    if (d >= 0)
        s.d = d;
    if (rate >= 0)
        s.rate = rate;
    if (step >= 0)
        s.step = step;
    if (power >= 0)
        s.power = power;
    if (qr_schedule_check(&s, (double)t_final) != QR_OK) {
        fprintf(stderr, "qreg schedule: parameters out of range for %s with t-final %zu "
                        "(d > 0, 0 < rate < 1, 1 <= step <= t-final, power > 0)\n", name, t_final);
        return 1;
    }
    printf("t,S\n");
    for (size_t t = 1; t <= t_final; t++)
        printf("%zu,%.9g\n", t, qr_schedule_value(&s, (double)t, (double)t_final));
    return 0;
}
