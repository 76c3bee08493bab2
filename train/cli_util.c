/* Option parsing shared by the subcommands, and the memory limit the qreg command sets. */
#define _DEFAULT_SOURCE 1 /* _SC_PHYS_PAGES */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>
#include "cli.h"
#include "lib/fileio.h"
#include "qreg/audio.h"

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

int qr_cli_act_bits(const char *s, int *out)
{
    size_t b;
    if (qr_cli_size(s, &b) || !((b >= 2 && b <= 16) || b == 32))
        return -1;
    *out = (int)b;
    return 0;
}

int qr_cli_check_features(const qr_model *m, const char *data_path, char *msg, size_t len)
{
    const char *mine = qr_model_features(m);
    if (msg && len)
        msg[0] = '\0';
    if (!mine || !data_path)
        return 0;
    const char *slash = strrchr(data_path, '/');
    size_t dl = slash ? (size_t)(slash - data_path) + 1 : 0, n = dl + sizeof "features.json";
    char *fp = malloc(n);
    if (!fp)
        return 0;
    memcpy(fp, data_path, dl);
    memcpy(fp + dl, "features.json", sizeof "features.json");
    unsigned char *text = NULL;
    size_t tl = 0;
    qr_error e;
    int bad = 0;
    if (qr_file_read_all(fp, 1 << 20, &text, &tl, &e) == QR_OK) {
        char *z = realloc(text, tl + 1);
        if (z) {
            z[tl] = '\0';
            text = (unsigned char *)z;
            if (qr_audio_features_compare(mine, z, &e) != QR_OK) {
                bad = 1;
                if (msg)
                    snprintf(msg, len, "%s: %s", fp, e.msg);
            }
        }
    }
    free(text);
    free(fp);
    return bad;
}

qr_csv_options qr_cli_model_csv_options(qr_model *m, const char *path, const char *label,
                                        const char *header)
{
    char why[QR_ERROR_MAX + 256];
    if (qr_cli_check_features(m, path, why, sizeof why))
        fprintf(stderr, "qreg: warning: %s\n", why);
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

int qr_cli_bytes(const char *s, size_t *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    if (strcasecmp(s, "none") == 0 || strcasecmp(s, "unlimited") == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return -1;
    double mul = 1;
    const char *u = end;
    switch (*u) {
    case 'k': case 'K': mul = 1024.0; u++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; u++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; u++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; u++; break;
    default: break;
    }
    if (mul > 1 && *u == 'i')
        u++;
    if (*u == 'b' || *u == 'B')
        u++;
    if (*u)
        return -1;
    v = floor(v * mul);
    if (!(v < 1.8e19) || (mul == 1 && v != strtod(s, NULL)))
        return -1;
    *out = (size_t)v;
    return 0;
}

/* A cgroup's memory limit in bytes (v2 memory.max, v1 memory.limit_in_bytes); 0 if none. */
static size_t cgroup_limit(void)
{
    static const char *const files[] = {"/sys/fs/cgroup/memory.max",
                                        "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f)
            continue;
        char line[64] = "";
        char *ok = fgets(line, sizeof line, f);
        fclose(f);
        unsigned long long v;
        char *end;
        if (ok && line[0] >= '0' && line[0] <= '9' &&
            (v = strtoull(line, &end, 10)) > 0 && (*end == '\n' || *end == '\0') &&
            v < (1ULL << 62))
            return (size_t)v;
    }
    return 0;
}

size_t qr_cli_default_memory_limit(size_t *available)
{
    size_t avail = SIZE_MAX;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && (unsigned long)pages <= SIZE_MAX / (unsigned long)page)
        avail = (size_t)pages * (size_t)page;
    size_t cg = cgroup_limit();
    if (cg && cg < avail)
        avail = cg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < avail)
        avail = (size_t)rl.rlim_cur;
    if (available)
        *available = avail;
    const size_t cap = (size_t)32 << 30;
    size_t half = avail == SIZE_MAX ? cap : avail / 2;
    return half < cap ? half : cap;
}

int qr_cli_memory_setup(int from_option)
{
    const char *env = getenv("QREG_MAX_MEMORY");
    char origin[160];
    size_t limit;
    if (env && *env) {
        if (qr_cli_bytes(env, &limit) != 0) {
            fprintf(stderr, "qreg: %s '%s' is not a size (e.g. 4G, 512M, none)\n",
                    from_option ? "--max-memory" : "QREG_MAX_MEMORY", env);
            return -1;
        }
        snprintf(origin, sizeof origin, "set by %s%s", from_option ? "--max-memory " :
                 "QREG_MAX_MEMORY=", env);
    } else {
        size_t avail;
        limit = qr_cli_default_memory_limit(&avail);
        char gib[32];
        snprintf(gib, sizeof gib, "%.1f GiB", (double)avail / (1024.0 * 1024 * 1024));
        snprintf(origin, sizeof origin, "the default: half of the %s of memory available, at "
                 "most 32 GiB; qreg --max-memory SIZE changes it",
                 avail == SIZE_MAX ? "unknown amount" : gib);
    }
    qr_set_memory_limit(limit, origin);
    return 0;
}

void qr_cli_audio_warning(void *user, const char *msg)
{
    (void)user;
    fprintf(stderr, "warning: %s\n", msg);
}
