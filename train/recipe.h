/* The low-bit recipe as a config: from a float training config, the staged config that trains
 * it float first and then with the straight-through estimator on the grid (docs/accuracy.md,
 * "What works"). `qreg recipe` writes it; the result is an ordinary config, to read and edit. */
#ifndef QREG_RECIPE_H
#define QREG_RECIPE_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* One quantize.matrices entry of the STE stage: the matrices of `layer` (a layer name, a
 * layer type or "all") at `bits`. */
typedef struct qr_recipe_matrix {
    const char *layer;
    int bits;
} qr_recipe_matrix;

typedef struct qr_recipe {
    const qr_recipe_matrix *matrices; /* applied in order: a later entry overrides */
    size_t n_matrices;
    size_t epochs;           /* both stages; 0: the config's training.epochs */
    size_t float_epochs;     /* the float stage; 0: half of epochs, rounded down */
    double lr_factor;        /* the STE stage starts at this multiple of the config's rate */
    int dropout;             /* keep dropout on in the STE stage */
    int progressive;         /* STE stages at 4, then 2, then 1 bit down to the narrowest entry */
    const char *granularity; /* "channel", "matrix" or "auto" */
    const char *tag;         /* inserted before the extension of every output path ("2bit") */
} qr_recipe;

/* The defaults (qreg recipe --help): 10x rate, dropout off, a scale per output channel. */
void qr_recipe_default(qr_recipe *r);

/* The staged config for `src` (a parsed float config, read from src_path; not modified),
 * to be written to out_path (NULL: standard output, read from the working directory).
 * Relative data, init and teacher paths are made absolute when the two directories differ.
 * On failure returns NULL and writes the reason, naming the key, to msg. The caller
 * deletes the result. */
cJSON *qr_recipe_build(const cJSON *src, const char *src_path, const char *out_path,
                       const qr_recipe *r, char *msg, size_t msg_len);

#endif
