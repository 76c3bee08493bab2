/* Pass 1 of the audio loader: listing class folders or a manifest into files and classes. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "datasets/audio_impl.h"
#include "lib/fileio.h"

static qr_status add_file(qr_audio_loader *ld, char *path, char *rel, size_t line, size_t label,
                          int split)
{
    if (ld->n_files == ld->cap_files) {
        size_t nc = ld->cap_files ? 2 * ld->cap_files : 256;
        qr_audio_file *p = realloc(ld->files, nc * sizeof *p);
        if (!p) {
            free(path);
            free(rel);
            return qr_audio_nomem(ld);
        }
        ld->files = p;
        ld->cap_files = nc;
    }
    qr_audio_file *f = &ld->files[ld->n_files++];
    memset(f, 0, sizeof *f);
    f->path = path;
    f->rel = rel;
    f->line = line;
    f->label = label;
    f->split = split;
    if (!path || !rel)
        return qr_audio_nomem(ld);
    return QR_OK;
}

/* ---- listing: class folders ------------------------------------------------------------ */

static int is_audio_name(const char *s)
{
    static const char *const ext[] = {".wav", ".wave", ".flac", ".ogg", ".oga", NULL};
    const char *dot = strrchr(s, '.');
    if (!dot || dot == s)
        return 0;
    for (int i = 0; ext[i]; i++)
        if (strcasecmp(dot, ext[i]) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names in `dir`: subfolders that can be classes (want_dirs), or audio files (names
 * with an audio extension that are not folders; a broken link is listed so that reading it
 * names it). Other entries add to *ignored. */
qr_status qr_audio_list_dir(const char *dir, int want_dirs, char ***names, size_t *n,
                            size_t *ignored, qr_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return qr_error_set(err, QR_ERR_IO, "%s: cannot open the folder: %s", dir,
                            strerror(errno));
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    qr_status s = QR_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        char *full = qr_audio_path_join(dir, nm);
        if (!full) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        struct stat stt;
        int have = stat(full, &stt) == 0, isdir = have && S_ISDIR(stt.st_mode);
        free(full);
        int take;
        if (want_dirs)
            take = isdir && nm[0] != '.' && strcmp(nm, "_background_noise_") != 0;
        else
            take = !isdir && is_audio_name(nm);
        if (!take) {
            if (ignored && !(want_dirs && isdir))
                (*ignored)++;
            errno = 0;
            continue;
        }
        if (cnt == cap) {
            size_t nc = cap ? 2 * cap : 64;
            char **p = realloc(v, nc * sizeof *p);
            if (!p) {
                s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            v = p;
            cap = nc;
        }
        if (!(v[cnt] = qr_audio_strdup(nm))) {
            s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        cnt++;
        errno = 0;
    }
    if (s == QR_OK && errno != 0)
        s = qr_error_set(err, QR_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    closedir(d);
    if (s != QR_OK) {
        qr_audio_free_strs(v, cnt);
        return s;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    return QR_OK;
}

qr_status qr_audio_list_folders(qr_audio_loader *ld)
{
    const char *root = ld->o->root;
    char **dirs = NULL;
    size_t nd = 0;
    qr_status s = qr_audio_list_dir(root, 1, &dirs, &nd, NULL, ld->err);
    if (s != QR_OK)
        return s;
    if (nd == 0) {
        qr_audio_free_strs(dirs, nd);
        return qr_error_set(ld->err, QR_ERR_FORMAT,
                            "%s: no class folders (expected one subfolder per class)", root);
    }
    if (!(ld->classes = calloc(nd, sizeof *ld->classes))) {
        qr_audio_free_strs(dirs, nd);
        return qr_audio_nomem(ld);
    }
    for (size_t c = 0; c < nd && s == QR_OK; c++) {
        char *cdir = qr_audio_path_join(root, dirs[c]);
        char **names = NULL;
        size_t nn = 0;
        if (!cdir) {
            s = qr_audio_nomem(ld);
            break;
        }
        s = qr_audio_list_dir(cdir, 0, &names, &nn, &ld->st.ignored, ld->err);
        if (s == QR_OK && nn == 0) {
            if (ld->o->on_error == QR_AUDIO_ON_ERROR_FAIL)
                s = qr_error_set(ld->err, QR_ERR_FORMAT,
                                 "%s: class folder without audio files (.wav, .flac, .ogg)", cdir);
            else
                qr_audio_warn(ld, "%s: class folder without audio files: skipped (no class "
                              "'%s')", cdir,
                              dirs[c]);
        }
        if (s == QR_OK && nn > 0) {
            size_t k = ld->n_classes;
            if (!(ld->classes[k] = qr_audio_strdup(dirs[c])))
                s = qr_audio_nomem(ld);
            else
                ld->n_classes++;
            for (size_t i = 0; i < nn && s == QR_OK; i++) {
                size_t rl = strlen(dirs[c]) + strlen(names[i]) + 2;
                char *rel = malloc(rl);
                if (rel)
                    snprintf(rel, rl, "%s/%s", dirs[c], names[i]);
                s = add_file(ld, qr_audio_path_join(cdir, names[i]), rel, 0, k, QR_AUDIO_PART_NONE);
            }
        }
        qr_audio_free_strs(names, nn);
        free(cdir);
    }
    qr_audio_free_strs(dirs, nd);
    return s;
}

/* ---- listing: manifest ----------------------------------------------------------------- */

typedef struct cell {
    char *s;
    size_t len;
} cell;

/* Cut one line into at most `max` cells in place (quoted cells, "" inside quotes; spaces
 * around cells ignored). Returns the cell count, or -1 for a quoting error. A count above
 * max means too many cells. */
static long split_cells(char *s, size_t n, cell *cells, size_t max)
{
    size_t i = 0, k = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        char *c0;
        size_t len;
        if (i < n && s[i] == '"') {
            size_t w = ++i;
            c0 = s + w;
            for (;;) {
                if (i >= n)
                    return -1;
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        s[w++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                s[w++] = s[i++];
            }
            len = (size_t)(s + w - c0);
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            if (i < n && s[i] != ',')
                return -1;
        } else {
            size_t b = i;
            while (i < n && s[i] != ',')
                i++;
            size_t e = i;
            while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
            c0 = s + b;
            len = e - b;
        }
        if (k < max) {
            cells[k].s = c0;
            cells[k].len = len;
        }
        k++;
        if (i >= n)
            break;
        i++;
    }
    for (size_t j = 0; j < k && j < max; j++)
        cells[j].s[cells[j].len] = '\0';
    return (long)k;
}

int qr_audio_cmp_file_rel(const void *a, const void *b)
{
    const qr_audio_file *x = *(const qr_audio_file *const *)a;
    const qr_audio_file *y = *(const qr_audio_file *const *)b;
    return strcmp(x->rel, y->rel);
}

qr_status qr_audio_list_manifest(qr_audio_loader *ld)
{
    const char *mpath = ld->o->manifest;
    unsigned char *raw = NULL;
    size_t len = 0;
    qr_status s = qr_file_read_all(mpath, QR_AUDIO_MAX_FILE_BYTES, &raw, &len, ld->err);
    if (s != QR_OK)
        return s;
    char *buf = realloc(raw, len + 1);
    if (!buf) {
        free(raw);
        return qr_audio_nomem(ld);
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return qr_error_set(ld->err, QR_ERR_FORMAT, "%s: NUL byte in a text file", mpath);
    }
    char **labels = NULL; /* (n_files) pointers into buf */
    size_t cap_labels = 0, pos = 0, line = 0, ncols = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < len && s == QR_OK) {
        char *p = buf + pos, *nl = memchr(p, '\n', len - pos);
        size_t k = nl ? (size_t)(nl - p) : len - pos;
        pos += k + (nl != NULL);
        line++;
        if (k > 0 && p[k - 1] == '\r')
            k--;
        size_t b = 0;
        while (b < k && (p[b] == ' ' || p[b] == '\t'))
            b++;
        if (b == k)
            continue; /* blank lines are ignored */
        cell cells[3];
        long nc = split_cells(p, k, cells, 3);
        if (nc < 0) {
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s:%zu: bad quoting", mpath, line);
            break;
        }
        if (ncols == 0) {
            if (nc != 2 && nc != 3) {
                s = qr_error_set(ld->err, QR_ERR_FORMAT,
                                 "%s:%zu: expected 2 or 3 cells (path,label[,split]), got %ld",
                                 mpath, line, nc);
                break;
            }
            ncols = (size_t)nc;
            ld->split_column = nc == 3;
            if (strcmp(cells[0].s, "path") == 0 && strcmp(cells[1].s, "label") == 0 &&
                (nc == 2 || strcmp(cells[2].s, "split") == 0))
                continue; /* the header */
        } else if ((size_t)nc != ncols) {
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s:%zu: expected %zu cells, got %ld", mpath,
                             line, ncols, nc);
            break;
        }
        if (cells[0].len == 0 || cells[1].len == 0) {
            s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s:%zu: empty %s cell", mpath, line,
                             cells[0].len == 0 ? "path" : "label");
            break;
        }
        int split = QR_AUDIO_PART_NONE;
        if (ncols == 3) {
            static const char *const names[] = {"train", "validation", "test"};
            for (int j = 0; j < 3; j++)
                if (strcmp(cells[2].s, names[j]) == 0)
                    split = j;
            if (split == QR_AUDIO_PART_NONE) {
                s = qr_error_set(ld->err, QR_ERR_FORMAT,
                                 "%s:%zu: split \"%.40s\" is not train, validation or test", mpath,
                                 line, cells[2].s);
                break;
            }
        }
        if (ld->n_files == cap_labels) {
            size_t ncap = cap_labels ? 2 * cap_labels : 256;
            char **nl2 = realloc(labels, ncap * sizeof *nl2);
            if (!nl2) {
                s = qr_audio_nomem(ld);
                break;
            }
            labels = nl2;
            cap_labels = ncap;
        }
        labels[ld->n_files] = cells[1].s;
        s = add_file(ld, qr_audio_path_join(ld->base, cells[0].s), qr_audio_strdup(cells[0].s),
                     line, 0, split);
    }
    if (s == QR_OK && ld->n_files == 0)
        s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s: no files listed", mpath);
    /* the same path twice */
    qr_audio_file **by = NULL;
    if (s == QR_OK && !(by = malloc(ld->n_files * sizeof *by)))
        s = qr_audio_nomem(ld);
    if (s == QR_OK) {
        for (size_t i = 0; i < ld->n_files; i++)
            by[i] = &ld->files[i];
        qsort(by, ld->n_files, sizeof *by, qr_audio_cmp_file_rel);
        for (size_t i = 1; i < ld->n_files && s == QR_OK; i++)
            if (strcmp(by[i - 1]->rel, by[i]->rel) == 0) {
                const qr_audio_file *a = by[i - 1], *b = by[i];
                if (a->line > b->line) {
                    const qr_audio_file *t = a;
                    a = b;
                    b = t;
                }
                s = qr_error_set(ld->err, QR_ERR_FORMAT, "%s:%zu: %s is listed twice (first on "
                                 "line %zu)", mpath, b->line, b->rel, a->line);
            }
    }
    free(by);
    /* classes: sorted distinct labels */
    char **u = NULL;
    if (s == QR_OK && !(u = malloc(ld->n_files * sizeof *u)))
        s = qr_audio_nomem(ld);
    if (s == QR_OK) {
        memcpy(u, labels, ld->n_files * sizeof *u);
        qsort(u, ld->n_files, sizeof *u, cmp_str);
        size_t k = 0;
        for (size_t i = 0; i < ld->n_files; i++)
            if (k == 0 || strcmp(u[k - 1], u[i]) != 0)
                u[k++] = u[i];
        if (!(ld->classes = calloc(k, sizeof *ld->classes)))
            s = qr_audio_nomem(ld);
        for (size_t j = 0; s == QR_OK && j < k; j++) {
            if (!(ld->classes[j] = qr_audio_strdup(u[j])))
                s = qr_audio_nomem(ld);
            ld->n_classes = j + 1;
        }
        for (size_t i = 0; s == QR_OK && i < ld->n_files; i++) {
            char **hit = bsearch(&labels[i], u, k, sizeof *u, cmp_str);
            ld->files[i].label = (size_t)(hit - u);
        }
    }
    free(u);
    free(labels);
    free(buf);
    return s;
}
