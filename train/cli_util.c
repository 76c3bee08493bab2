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
