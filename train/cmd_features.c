/* qreg features CONFIG --out DIR: the data of a config as the model sees it (for audio: the
 * MFCC sequences, augmented copies included), written as CSV files other tools and CSV
 * configs (examples/gsc.json) read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "lib/fileio.h"
#include "qreg/audio.h"

static const char help[] =
    "usage: qreg features CONFIG.json --out DIR [options]\n"
    "\n"
    "Load the data of a training config exactly as qreg train does (CSV files and their\n"
    "splits, or audio folders: decoding, resampling, cropping, augmentation, MFCC, through the\n"
    "feature cache) and write the samples, before standardization, as CSV:\n"
    "  DIR/train.csv, DIR/val.csv, DIR/test.csv   (a split with no samples is not written;\n"
    "  audio with \"split\": \"all\": every clip in test.csv, a test-only set)\n"
    "one row per sample: the T x F features in time-major order (columns x<t>_<f>), then the\n"
    "class name in a column named label. A config then reads them with\n"
    "  \"data\": {\"train\": \"DIR/train.csv\", \"validation\": \"DIR/val.csv\",\n"
    "           \"test\": \"DIR/test.csv\", \"label\": \"label\", \"sequence\": [T, F]}\n"
    "(examples/gsc.json reads the kws set this way). Each file is written atomically.\n"
    "\n"
    "options:\n"
    "  --out DIR       output directory (created if missing; required)\n"
    "  --no-augment    audio: leave out the augmented copies of the training clips\n"
    "  -h, --help      this help\n";

/* One split as CSV; the buffer is flushed to the file every megabyte. */
static qr_status write_split(const qr_dataset *d, const char *path, qr_error *err)
{
    qr_atomic_file f;
    qr_status s = qr_atomic_open(&f, path, err);
    if (s != QR_OK)
        return s;
    qr_buf b = {0};
    for (size_t t = 0; t < d->t; t++)
        for (size_t j = 0; j < d->f; j++)
            qr_buf_printf(&b, "x%zu_%zu,", t, j);
    qr_buf_put(&b, "label\n", 6);
    size_t w = d->t * d->f;
    for (size_t i = 0; i < d->n && s == QR_OK; i++) {
        const float *x = d->x + i * w;
        for (size_t j = 0; j < w; j++)
            qr_buf_printf(&b, "%.9g,", (double)x[j]);
        /* the class name, minus CSV separators */
        for (const char *p = d->class_names[d->y[i]]; *p; p++)
            qr_buf_put(&b, (*p == ',' || *p == '\n' || *p == '\r' || *p == '"') ? "_" : p, 1);
        qr_buf_put(&b, "\n", 1);
        if (b.nomem) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
        } else if (b.len >= (1u << 20) || i + 1 == d->n) {
            s = qr_atomic_write(&f, b.data, b.len, err);
            b.len = 0;
        }
    }
    if (s == QR_OK && b.len) /* the header of a split without rows (not written) */
        s = qr_atomic_write(&f, b.data, b.len, err);
    qr_buf_free(&b);
    if (s == QR_OK)
        return qr_atomic_commit(&f, err);
    qr_atomic_abort(&f);
    return s;
}

int qr_cmd_features(int argc, char **argv)
{
    const char *config = NULL, *out = NULL, *v;
    int no_augment = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help, stdout);
            return 0;
        } else if (qr_cli_opt(argc, argv, &i, "--out", &v)) {
            if (!(out = v) || !*v) {
                fprintf(stderr, "qreg features: option '%s' needs a value\n", a);
                return 2;
            }
        } else if (strcmp(a, "--no-augment") == 0) {
            no_augment = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "qreg features: unknown option '%s' (see qreg features --help)\n", a);
            return 2;
        } else if (!config) {
            config = a;
        } else {
            fprintf(stderr, "qreg features: more than one config given\n");
            return 2;
        }
    }
    if (!config || !out) {
        fputs(help, stderr);
        return 2;
    }
    qr_error err = {{0}};
    qr_train_config c;
    if (qr_train_config_load(config, &c, &err) != QR_OK) {
        fprintf(stderr, "qreg features: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    qr_split_data d = {0};
    if (c.audio)
        c.audio->warn = qr_cli_audio_warning;
    if (no_augment && c.audio)
        c.audio->augment.copies = 0;
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "qreg features: %s: cannot create: %s\n", out, strerror(errno));
        goto done;
    }
    qr_status ls;
    if (c.audio && c.audio->split == QR_AUDIO_SPLIT_ALL) {
        /* a test-only set: every clip into test.csv (training's loader wants training clips) */
        qr_audio_options o = *c.audio;
        o.seed = c.seed;
        ls = qr_audio_load(&o, &d.train, &d.val, &d.test, NULL, &err);
    } else {
        ls = qr_train_load_data(&c, &d, &err);
    }
    if (ls != QR_OK) {
        fprintf(stderr, "qreg features: %s\n", err.msg);
        goto done;
    }
    const qr_dataset *sets[3] = {&d.train, &d.val, &d.test};
    static const char *const names[3] = {"train.csv", "val.csv", "test.csv"};
    size_t plen = strlen(out) + 16;
    char *path = malloc(plen);
    if (!path) {
        fprintf(stderr, "qreg features: out of memory\n");
        goto done;
    }
    rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        if (sets[k]->n == 0)
            continue;
        snprintf(path, plen, "%s/%s", out, names[k]);
        if (write_split(sets[k], path, &err) != QR_OK) {
            fprintf(stderr, "qreg features: %s\n", err.msg);
            rc = 1;
        } else {
            printf("wrote %s: %zu samples of %zu x %zu, %zu classes\n", path, sets[k]->n,
                   sets[k]->t, sets[k]->f, sets[k]->n_classes);
        }
    }
    /* the settings the features were made with, for `qreg eval` to compare with a model's */
    if (rc == 0 && c.audio) {
        char *fj = qr_audio_features_describe(c.audio, c.standardize);
        snprintf(path, plen, "%s/features.json", out);
        size_t n = fj ? strlen(fj) : 0;
        if (fj)
            fj[n++] = '\n'; /* the terminating NUL becomes the final newline */
        if (!fj || qr_file_write_atomic(path, fj, n, &err) != QR_OK) {
            fprintf(stderr, "qreg features: %s\n", fj ? err.msg : "out of memory");
            rc = 1;
        } else {
            printf("wrote %s: the feature settings\n", path);
        }
        free(fj);
    }
    free(path);
done:
    qr_split_data_free(&d);
    qr_train_config_free(&c);
    return rc;
}
