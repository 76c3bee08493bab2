/* Pass 4 of the audio loader: dropping classes left empty, then train/validation/test splits. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/audio_impl.h"
#include "lib/fileio.h"
#include "qreg/rng.h"

/* ---- classes after skipping ------------------------------------------------------------ */

/* Drop classes without usable files (skip mode) and renumber; at least 2 must remain. */
qr_status qr_audio_prune_classes(qr_audio_loader *ld)
{
    size_t k = ld->n_classes;
    size_t *count = calloc(k ? k : 1, sizeof *count), *map = malloc((k ? k : 1) * sizeof *map);
    if (!count || !map) {
        free(count);
        free(map);
        return qr_audio_nomem(ld);
    }
    for (size_t i = 0; i < ld->n_files; i++)
        if (ld->files[i].ok)
            count[ld->files[i].label]++;
    size_t kept = 0;
    qr_status s = QR_OK;
    for (size_t c = 0; c < k; c++) {
        if (count[c]) {
            map[c] = kept;
            ld->classes[kept++] = ld->classes[c];
            continue;
        }
        if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL && s == QR_OK)
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s: class '%s' has no usable files",
                             ld->src, ld->classes[c]);
        else
            qr_audio_warn(ld, "%s: class '%s' has no usable files left: dropped", ld->src,
                          ld->classes[c]);
        free(ld->classes[c]);
        map[c] = SIZE_MAX;
    }
    ld->n_classes = kept;
    for (size_t i = 0; i < ld->n_files; i++)
        if (ld->files[i].ok)
            ld->files[i].label = map[ld->files[i].label];
    free(count);
    free(map);
    size_t need = ld->o->split == QR_AUDIO_SPLIT_ALL ? 1 : 2; /* a test-only set: any */
    if (s == QR_OK && kept < need)
        s = qr_error_set(ld->err, QR_ERR_FORMAT,
                         "%s: %zu class%s with usable files; need at least %zu", ld->src,
                         kept, kept == 1 ? "" : "es", need);
    return s;
}

/* ---- pass 4: splits -------------------------------------------------------------------- */

static int cmp_rel_key(const void *key, const void *elem)
{
    return strcmp((const char *)key, (*(const qr_audio_file *const *)elem)->rel);
}

/* Apply one Speech Commands list (root/name, lines "class/file.wav"). *found: it exists. */
static qr_status apply_list(qr_audio_loader *ld, qr_audio_file **by_rel, const char *name,
                            int split, int *found)
{
    char *path = qr_audio_path_join(ld->o->root, name);
    if (!path)
        return qr_audio_nomem(ld);
    struct stat stt;
    *found = stat(path, &stt) == 0;
    if (!*found) {
        free(path);
        return QR_OK;
    }
    unsigned char *raw = NULL;
    size_t len = 0;
    qr_status s = qr_file_read_all(path, QR_AUDIO_MAX_FILE_BYTES, &raw, &len, ld->err);
    char *buf = s == QR_OK ? realloc(raw, len + 1) : NULL;
    if (s == QR_OK && !buf) {
        free(raw);
        s = qr_audio_nomem(ld);
    }
    size_t pos = 0, line = 0, missing = 0;
    if (s == QR_OK) {
        buf[len] = '\0';
        if (memchr(buf, '\0', len))
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s: NUL byte in a text file", path);
    }
    while (s == QR_OK && pos < len) {
        char *p = buf + pos, *nl = memchr(p, '\n', len - pos);
        size_t k = nl ? (size_t)(nl - p) : len - pos;
        pos += k + (nl != NULL);
        line++;
        while (k > 0 && (p[k - 1] == '\r' || p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        while (k > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            k--;
        }
        if (k == 0)
            continue;
        p[k] = '\0';
        qr_audio_file **hit = bsearch(p, by_rel, ld->n_files, sizeof *by_rel, cmp_rel_key);
        if (!hit) {
            if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL)
                s = qr_error_set(ld->err, QR_ERR_FORMAT,
                                 "%s:%zu: '%.200s' is not an audio file of the dataset", path,
                                 line, p);
            else
                missing++;
            continue;
        }
        qr_audio_file *f = *hit;
        if (f->split != QR_AUDIO_PART_NONE && f->split != split)
            s = qr_error_set(ld->err, QR_ERR_FORMAT,
                             "%s:%zu: '%.200s' is also in the other list", path, line, p);
        f->split = split;
    }
    if (s == QR_OK && missing)
        qr_audio_warn(ld, "%s: %zu listed file%s not in the dataset: ignored", path, missing,
                      missing == 1 ? "" : "s");
    free(buf);
    free(path);
    return s;
}

static size_t round_half_up(double v)
{
    return (size_t)floor(v + 0.5);
}

/* Stratified fractions over the usable files, the rule of qr_dataset_split. */
static qr_status split_fractions(qr_audio_loader *ld, double val, double test)
{
    size_t n = ld->n_files, k = ld->n_classes;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return qr_audio_nomem(ld);
    qr_rng rng;
    qr_rng_seed(&rng, ld->o->seed);
    for (size_t c = 0; c < k; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (ld->files[i].ok && ld->files[i].label == c)
                idx[m++] = i;
        qr_rng_shuffle(&rng, idx, m);
        size_t nv = round_half_up((double)m * val), nt = round_half_up((double)m * test);
        if (nt > m)
            nt = m;
        if (nv > m - nt)
            nv = m - nt;
        if (m >= 1 && nv + nt >= m) {
            if (nv > 0)
                nv--;
            else
                nt--;
        }
        for (size_t j = 0; j < m; j++)
            ld->files[idx[j]].split = j < nt        ? QR_AUDIO_PART_TEST
                                      : j < nt + nv ? QR_AUDIO_PART_VAL
                                                    : QR_AUDIO_PART_TRAIN;
    }
    free(idx);
    return QR_OK;
}

qr_status qr_audio_assign_splits(qr_audio_loader *ld)
{
    const qr_audio_options *o = ld->o;
    qr_audio_split mode = o->split;
    const char *from = NULL;
    int lists_exist = 0;
    if (o->root) {
        static const char *const names[] = {"validation_list.txt", "testing_list.txt"};
        for (int j = 0; j < 2; j++) {
            char *p = qr_audio_path_join(o->root, names[j]);
            struct stat stt;
            if (!p)
                return qr_audio_nomem(ld);
            lists_exist |= stat(p, &stt) == 0;
            free(p);
        }
    }
    if (mode == QR_AUDIO_SPLIT_AUTO)
        mode = ld->split_column ? QR_AUDIO_SPLIT_MANIFEST
               : lists_exist    ? QR_AUDIO_SPLIT_LISTS
                                : QR_AUDIO_SPLIT_FRACTIONS;
    if (mode == QR_AUDIO_SPLIT_MANIFEST && !ld->split_column)
        return qr_error_set(ld->err, QR_ERR_CONFIG, "%s: split \"manifest\" needs a manifest with "
                            "a third (split) column", ld->src);
    if (mode == QR_AUDIO_SPLIT_LISTS && (!o->root || !lists_exist))
        return qr_error_set(ld->err, QR_ERR_CONFIG, "%s: split \"lists\" needs "
                            "validation_list.txt or testing_list.txt in the root folder", ld->src);
    if (mode != QR_AUDIO_SPLIT_FRACTIONS && (o->val_split >= 0 || o->test_split >= 0))
        return qr_error_set(ld->err, QR_ERR_CONFIG,
                            "%s: validation_split/test_split given, but the split comes from %s",
                            ld->src,
                            mode == QR_AUDIO_SPLIT_MANIFEST ? "the manifest's split column"
                            : mode == QR_AUDIO_SPLIT_ALL
                                ? "split \"all\" (every file is a test file)"
                                : "validation_list.txt/testing_list.txt");
    if (mode == QR_AUDIO_SPLIT_ALL) {
        for (size_t i = 0; i < ld->n_files; i++)
            ld->files[i].split = QR_AUDIO_PART_TEST;
        return QR_OK;
    }
    if (mode == QR_AUDIO_SPLIT_MANIFEST)
        return QR_OK; /* set while listing */
    if (mode == QR_AUDIO_SPLIT_FRACTIONS) {
        (void)from;
        return split_fractions(ld, o->val_split >= 0 ? o->val_split : QR_AUDIO_DEFAULT_FRACTION,
                               o->test_split >= 0 ? o->test_split : QR_AUDIO_DEFAULT_FRACTION);
    }
    qr_audio_file **by = malloc((ld->n_files ? ld->n_files : 1) * sizeof *by);
    if (!by)
        return qr_audio_nomem(ld);
    for (size_t i = 0; i < ld->n_files; i++)
        by[i] = &ld->files[i];
    qsort(by, ld->n_files, sizeof *by, qr_audio_cmp_file_rel);
    int found;
    qr_status s = apply_list(ld, by, "validation_list.txt", QR_AUDIO_PART_VAL, &found);
    if (s == QR_OK)
        s = apply_list(ld, by, "testing_list.txt", QR_AUDIO_PART_TEST, &found);
    free(by);
    for (size_t i = 0; i < ld->n_files; i++)
        if (ld->files[i].split == QR_AUDIO_PART_NONE)
            ld->files[i].split = QR_AUDIO_PART_TRAIN;
    return s;
}
