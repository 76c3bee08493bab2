/* qreg recipe CONFIG --bits N: write the staged low-bit config for a float config
 * (train/recipe.c), checked by the config loader before it is written. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "lib/fileio.h"
#include "lib/json_util.h"
#include "recipe.h"

static const char recipe_help[] =
    "usage: qreg recipe CONFIG.json (--bits N | --matrix LAYER=N ...) [options]\n"
    "\n"
    "Write the config that quantizes CONFIG's model the way that worked best in qreg's\n"
    "measurements (docs/accuracy.md): CONFIG's float training for the first half of its\n"
    "epochs, then the rest with the straight-through estimator on the grid, a grid scale per\n"
    "output channel refitted every epoch, the learning rate 10 times CONFIG's decaying to 0\n"
    "by a per-step cosine, dropout off, and batch norms re-estimated for the rounded weights.\n"
    "The same epochs in all, so it costs what CONFIG costs. CONFIG is a float config (no\n"
    "quantize, prune or stages); the result is an ordinary config with two stages, checked\n"
    "by the config loader before it is written. Every output path in it (model, logs,\n"
    "checkpoint) gets -TAG before its extension, so its run keeps the float run's files.\n"
    "\n"
    "options:\n"
    "  --bits N            every weight matrix at N bits (1 to 8)\n"
    "  --matrix LAYER=N    the matrices of LAYER (a layer name such as gru_1, a type such as\n"
    "                      conv1d, or all) at N bits; repeatable, applied after --bits in\n"
    "                      order (a later entry overrides); matrices no entry names stay\n"
    "                      at 8-bit PTQ\n"
    "  --epochs E          epochs in all (default: CONFIG's training.epochs)\n"
    "  --float-epochs F    epochs of the float stage (default: half, rounded down)\n"
    "  --lr-factor X       the grid stage's starting rate as a multiple of CONFIG's\n"
    "                      (default 10: best on bts and the KWS CGRU; on the Fashion-MNIST\n"
    "                      GRU 1 was better by 3 points at 2 and 1 bits: try both)\n"
    "  --dropout           keep dropout on in the grid stage\n"
    "  --progressive       the grid epochs split into stages at 4, 2 and 1 bits down to the\n"
    "                      narrowest width asked (each stage warm-started from the last;\n"
    "                      equal parts, the remainder last): better at 1 bit on KWS\n"
    "  --granularity G     the grid scale: channel (default), matrix, or auto (per channel\n"
    "                      for kernels followed by batch norm)\n"
    "  --tag TAG           the suffix of output paths (default: Nbit, e.g. 2bit, or mixed)\n"
    "  --out FILE          write here, atomically (default: standard output); relative data\n"
    "                      paths are made absolute when FILE is in another directory\n"
    "  -h, --help          this help\n";

#define MAX_MATRICES 64

static int parse_bits(const char *s, int *bits)
{
    char *end;
    long v = s && *s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || v < 1 || v > 8)
        return -1;
    *bits = (int)v;
    return 0;
}

/* Load the written text as a config (in a temporary file: the loader reads paths). */
static int check_config(const char *text, const char *config)
{
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/qreg-recipe-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("qreg recipe: temporary file");
        return -1;
    }
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    qr_train_config c;
    qr_error err = {{0}};
    qr_status s = ok ? qr_train_config_load(path, &c, &err) : QR_ERR_IO;
    unlink(path);
    if (s != QR_OK) {
        fprintf(stderr, "qreg recipe: %s: the recipe is not a valid config: %s\n", config,
                ok ? err.msg : "cannot write a temporary file");
        return -1;
    }
    qr_train_config_free(&c);
    return 0;
}

int qr_cmd_recipe(int argc, char **argv)
{
    const char *config = NULL, *out = NULL, *v;
    qr_recipe r;
    qr_recipe_default(&r);
    qr_recipe_matrix m[MAX_MATRICES] = {{NULL, 0}};
    size_t nm = 1; /* m[0]: --bits, if given */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(recipe_help, stdout);
            return 0;
        } else if (strcmp(a, "--dropout") == 0) {
            r.dropout = 1;
        } else if (strcmp(a, "--progressive") == 0) {
            r.progressive = 1;
        } else if (qr_cli_opt(argc, argv, &i, "--bits", &v)) {
            /* the first entry, wherever it stands on the line (slot 0 is kept for it) */
            if (parse_bits(v, &m[0].bits))
                goto bad;
            m[0].layer = "all";
        } else if (qr_cli_opt(argc, argv, &i, "--matrix", &v)) {
            const char *eq = v ? strrchr(v, '=') : NULL;
            if (!eq || eq == v || nm == MAX_MATRICES || parse_bits(eq + 1, &m[nm].bits))
                goto bad;
            /* the layer name is the value's text before its last '=' (v lies in argv[i] in
             * both forms, "--matrix L=N" and "--matrix=L=N"; argv outlives the call) */
            char *layer = argv[i] + (v - argv[i]);
            layer[eq - v] = '\0';
            m[nm++].layer = layer;
        } else if (qr_cli_opt(argc, argv, &i, "--epochs", &v)) {
            if (qr_cli_size(v, &r.epochs) || r.epochs < 2 || r.epochs > 10000000)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--float-epochs", &v)) {
            if (qr_cli_size(v, &r.float_epochs) || r.float_epochs < 1)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--lr-factor", &v)) {
            char *end;
            r.lr_factor = v && *v ? strtod(v, &end) : 0;
            if (!v || !*v || *end || !(r.lr_factor > 0) || r.lr_factor > 1e6)
                goto bad;
        } else if (qr_cli_opt(argc, argv, &i, "--granularity", &v)) {
            if (!v || (strcmp(v, "channel") && strcmp(v, "matrix") && strcmp(v, "auto")))
                goto bad;
            r.granularity = v;
        } else if (qr_cli_opt(argc, argv, &i, "--tag", &v)) {
            if (!v || !*v || strchr(v, '/'))
                goto bad;
            r.tag = v;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!v || !*v)
                goto bad;
            out = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg recipe: unknown option '%s' (see qreg recipe --help)\n", a);
            return 2;
        } else if (!config) {
            config = a;
        } else {
            fprintf(stderr, "qreg recipe: more than one config given\n");
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "qreg recipe: option '%s' needs a valid value (see qreg recipe --help)\n",
                a);
        return 2;
    }
    const qr_recipe_matrix *first = m[0].layer ? m : m + 1;
    nm -= (size_t)(first - m);
    if (!config || nm == 0) {
        fprintf(stderr, "%s", config ? "qreg recipe: give --bits N or --matrix LAYER=N\n"
                                     : recipe_help);
        return 2;
    }
    r.matrices = first;
    r.n_matrices = nm;
    char tag[16];
    if (!r.tag) {
        /* "2bit" when every entry is "all" at one width, else "mixed" */
        int same = 1;
        for (size_t i = 0; i < nm; i++)
            same &= first[i].bits == first[0].bits && strcmp(first[i].layer, "all") == 0;
        if (same)
            snprintf(tag, sizeof tag, "%dbit", first[0].bits);
        else
            strcpy(tag, "mixed");
        r.tag = tag;
    }

    cJSON *src = NULL;
    qr_error err = {{0}};
    if (qr_json_load_file(config, &src, &err) != QR_OK) {
        fprintf(stderr, "qreg recipe: %s\n", err.msg);
        return 1;
    }
    char msg[512];
    cJSON *cfg = qr_recipe_build(src, config, out, &r, msg, sizeof msg);
    cJSON_Delete(src);
    if (!cfg) {
        fprintf(stderr, "qreg recipe: %s\n", msg);
        return 1;
    }
    char *text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    if (!text) {
        fprintf(stderr, "qreg recipe: out of memory\n");
        return 1;
    }
    int rc = check_config(text, config) ? 1 : 0;
    if (rc == 0 && out) {
        /* a failed write is sticky: commit then fails and removes the temporary */
        qr_atomic_file f;
        qr_status s = qr_atomic_open(&f, out, &err);
        if (s == QR_OK) {
            qr_atomic_write(&f, text, strlen(text), &err);
            qr_atomic_write(&f, "\n", 1, &err);
            s = qr_atomic_commit(&f, &err);
        }
        if (s != QR_OK) {
            fprintf(stderr, "qreg recipe: %s\n", err.msg);
            rc = 1;
        } else {
            fprintf(stderr, "wrote %s (train it with: qreg train %s)\n", out, out);
        }
    } else if (rc == 0) {
        printf("%s\n", text);
    }
    free(text);
    return rc;
}
