/* Option parsing shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
