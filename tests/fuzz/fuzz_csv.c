/* libFuzzer target: the CSV loader (datasets/csv.c) and the dataset utilities that follow it
 * in training (datasets/dataset.c: stratified split, standardization, class lists).
 *
 * The input is a CSV file, written to a scratch file and loaded with four option sets: header
 * detected and the label in the last column (what a config without "label" does); the label
 * by name "label" (the bundled data and most configs); a headerless file with the label in
 * the first column, read as a sequence of 2 steps; tab-separated. A loaded dataset must be
 * consistent (labels inside the class list, finite features); it is then split, standardized
 * and loaded again with its own class list, as validation files are. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "qreg/data.h"

static void check_dataset(const qr_dataset *d)
{
    FUZZ_ASSERT(d->n >= 1 && d->t >= 1 && d->f >= 1, "n %zu t %zu f %zu", d->n, d->t, d->f);
    FUZZ_ASSERT(d->n_classes >= 2 && d->class_names, "%zu classes", d->n_classes);
    for (size_t i = 0; i < d->n_classes; i++)
        FUZZ_ASSERT(d->class_names[i] != NULL, "class %zu has no name", i);
    for (size_t i = 0; i < d->n; i++)
        FUZZ_ASSERT(d->y[i] >= 0 && (size_t)d->y[i] < d->n_classes, "label %d of %zu",
                    (int)d->y[i], d->n_classes);
    for (size_t i = 0; i < d->n * d->t * d->f; i++)
        FUZZ_ASSERT(isfinite(d->x[i]), "feature %zu is not finite", i);
}

static void use_dataset(const char *path, const qr_csv_options *o, qr_dataset *d)
{
    check_dataset(d);
    qr_error err = {{0}};
    qr_dataset tr = {0}, va = {0}, te = {0};
    qr_status s = qr_dataset_split(d, 0.2, 0.2, 7, &tr, &va, &te, &err);
    FUZZ_ASSERT(s == QR_OK, "split: %s", err.msg);
    FUZZ_ASSERT(tr.n + va.n + te.n == d->n, "split lost samples");
    if (tr.n > 0) {
        qr_standardizer st = {0};
        s = qr_standardizer_fit(&st, &tr);
        FUZZ_ASSERT(s == QR_OK, "standardizer: %s", qr_strerror(s));
        s = qr_standardizer_apply(&st, &va);
        FUZZ_ASSERT(s == QR_OK, "standardize: %s", qr_strerror(s));
        qr_standardizer_free(&st);
    }
    qr_dataset_free(&tr);
    qr_dataset_free(&va);
    qr_dataset_free(&te);
    /* the same file as a validation file: with the training set's classes */
    qr_csv_options o2 = *o;
    o2.path = path;
    qr_dataset again = {0};
    s = qr_csv_load_with_classes(&o2, d, &again, &err);
    FUZZ_ASSERT(s == QR_OK, "reloading with its own classes: %s", err.msg);
    FUZZ_ASSERT(again.n == d->n, "reload: %zu samples, first load %zu", again.n, d->n);
    qr_dataset_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp(".csv", data, size);
    qr_csv_options opts[4];
    memset(opts, 0, sizeof opts);
    opts[0] = (qr_csv_options){.path = path, .header = -1, .label_index = -1};
    opts[1] = (qr_csv_options){.path = path, .header = -1, .label_name = "label"};
    opts[2] = (qr_csv_options){.path = path, .header = 0, .label_index = 0, .t = 2, .f = 2};
    opts[3] = (qr_csv_options){.path = path, .header = -1, .label_index = -1, .delimiter = '\t'};
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        qr_dataset d = {0};
        qr_error err = {{0}};
        qr_status s = qr_csv_load(&opts[k], &d, &err);
        if (s == QR_OK) {
            use_dataset(path, &opts[k], &d);
        } else {
            static const qr_dataset zero;
            FUZZ_ASSERT(memcmp(&d, &zero, sizeof d) == 0, "a failed load left data");
            FUZZ_ASSERT(err.msg[0] != '\0', "load failed (%s) without a message",
                        qr_strerror(s));
        }
        qr_dataset_free(&d);
    }
    return 0;
}
