/* Option parsing shared by the subcommands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

int qr_cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        *value = NULL; /* missing value: the caller reports it */
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

int qr_cli_size(const char *s, size_t *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (size_t)v;
    return 0;
}

qr_csv_options qr_cli_model_csv_options(qr_model *m, const char *path, const char *label,
                                        const char *header)
{
    const qr_model_spec *spec = qr_model_spec_of(m);
    qr_csv_options o = {0};
    o.path = path;
    o.header = strcmp(header, "yes") == 0 ? 1 : strcmp(header, "no") == 0 ? 0 : -1;
    o.label_index = -1;
    if (label) {
        char *end;
        long li = strtol(label, &end, 10);
        if (*end == '\0' && end != label)
            o.label_index = li;
        else
            o.label_name = label;
    }
    o.t = spec->t > 1 ? spec->t : 0;
    o.f = spec->t > 1 ? spec->f : 0;
    o.classes = qr_model_classes(m);
    o.n_classes = o.classes ? spec->n_classes : 0;
    return o;
}
