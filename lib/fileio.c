/* Whole-file reads, atomic writes and sets of files, little-endian buffers: see fileio.h. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "fileio.h"

/* ---- stale temporaries ----------------------------------------------------------------- */

/* Remove the directory `name` in dirfd `at` with what it holds (depth levels of
 * subdirectories at most). Best effort. */
static void remove_tree_at(int at, const char *name, int depth)
{
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0)
                remove_tree_at(fd, e->d_name, depth - 1);
        } else {
            unlinkat(fd, e->d_name, 0);
        }
    }
    closedir(d);
    unlinkat(at, name, AT_REMOVEDIR);
}

/* In `dir`, remove entries named PREFIX followed by exactly six letters or digits (mkstemp's
 * and mkdtemp's XXXXXX) that were last modified QR_STALE_TMP_SECONDS ago or more: the
 * leftovers of writers killed before they could clean up. Best effort, never an error. */
static void remove_stale(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t pl = strlen(prefix);
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, prefix, pl) != 0 || strlen(n) != pl + 6)
            continue;
        int ok = 1;
        for (size_t i = pl; i < pl + 6; i++)
            ok &= isalnum((unsigned char)n[i]) != 0;
        struct stat st;
        if (!ok || fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            st.st_mtime > now || now - st.st_mtime < QR_STALE_TMP_SECONDS)
            continue;
        if (S_ISREG(st.st_mode))
            unlinkat(dirfd(d), n, 0);
        else if (S_ISDIR(st.st_mode))
            remove_tree_at(dirfd(d), n, 1);
    }
    closedir(d);
}

/* The directory part of `path` ("." for a bare name), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* Remove stale "BASE.tmp.XXXXXX" files next to `path`. */
static void remove_stale_tmp(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = dir_of(path);
    size_t bl = strlen(base);
    char *prefix = malloc(bl + 6);
    if (dir && prefix && bl > 0) {
        snprintf(prefix, bl + 6, "%s.tmp.", base);
        remove_stale(dir, prefix);
    }
    free(dir);
    free(prefix);
}

static int fsync_path(const char *path, int directory)
{
    int fd = open(path, O_RDONLY | (directory ? O_DIRECTORY : 0));
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    /* some file systems cannot fsync a directory (EINVAL): the renames stand regardless */
    return r == 0 || (directory && (errno == EINVAL || errno == EBADF)) ? 0 : -1;
}

qr_status qr_file_read_all(const char *path, size_t max_bytes, unsigned char **data,
                           size_t *len, qr_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qr_error_set(err, QR_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= max_bytes) {
                free(buf);
                fclose(f);
                return qr_error_set(err, QR_ERR_FORMAT, "%s: larger than %zu bytes", path,
                                    max_bytes);
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (!buf) {
        fclose(f);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return qr_error_set(err, QR_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    *data = buf;
    *len = n;
    return QR_OK;
}

qr_status qr_atomic_open(qr_atomic_file *f, const char *path, qr_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    size_t plen = strlen(path);
    f->tmp = malloc(plen + 16);
    if (!f->tmp)
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    snprintf(f->tmp, plen + 16, "%s.tmp.XXXXXX", path);
    remove_stale_tmp(path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        qr_status s = qr_error_set(err, QR_ERR_IO, "%s: cannot create a temporary file: %s",
                                   path, strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
        return s;
    }
    return QR_OK;
}

qr_status qr_atomic_write(qr_atomic_file *f, const void *data, size_t len, qr_error *err)
{
    const unsigned char *p = data;
    while (len > 0 && !f->err_no) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->err_no = w < 0 ? errno : EIO;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    if (f->err_no)
        return qr_error_set(err, QR_ERR_IO, "%s: write failed: %s", f->path,
                            strerror(f->err_no));
    return QR_OK;
}

void qr_atomic_abort(qr_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp) {
        unlink(f->tmp);
        free(f->tmp);
    }
    f->fd = -1;
    f->tmp = NULL;
}

qr_status qr_atomic_commit(qr_atomic_file *f, qr_error *err)
{
    int ok = !f->err_no && fsync(f->fd) == 0;
    int saved = f->err_no ? f->err_no : errno;
    ok = close(f->fd) == 0 && ok;
    f->fd = -1;
    if (ok) {
        fchmodat(AT_FDCWD, f->tmp, 0644, 0); /* mkstemp makes 0600; a model is not a secret */
        ok = rename(f->tmp, f->path) == 0;
        saved = errno;
    }
    if (!ok) {
        qr_atomic_abort(f);
        return qr_error_set(err, QR_ERR_IO, "%s: write failed: %s", f->path, strerror(saved));
    }
    free(f->tmp);
    f->tmp = NULL;
    return QR_OK;
}

qr_status qr_file_write_atomic(const char *path, const void *data, size_t len, qr_error *err)
{
    qr_atomic_file f;
    qr_status s = qr_atomic_open(&f, path, err);
    if (s == QR_OK)
        s = qr_atomic_write(&f, data, len, err);
    if (s == QR_OK)
        return qr_atomic_commit(&f, err);
    qr_atomic_abort(&f);
    return s;
}

/* ---- sets of files --------------------------------------------------------------------- */

#define QR_SET_PREFIX ".qreg-set."

qr_status qr_file_set_begin(qr_file_set *s, const char *dir, qr_error *err)
{
    memset(s, 0, sizeof *s);
    size_t dl = strlen(dir);
    s->dir = strdup(dir);
    s->tmp = malloc(dl + sizeof QR_SET_PREFIX + 8);
    if (!s->dir || !s->tmp) {
        qr_file_set_abort(s);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", dir);
    }
    remove_stale(dir, QR_SET_PREFIX);
    snprintf(s->tmp, dl + sizeof QR_SET_PREFIX + 8, "%s/" QR_SET_PREFIX "XXXXXX", dir);
    if (!mkdtemp(s->tmp)) {
        qr_status st = qr_error_set(err, QR_ERR_IO, "%s: cannot create a temporary directory: %s",
                                    dir, strerror(errno));
        free(s->tmp);
        s->tmp = NULL;
        qr_file_set_abort(s);
        return st;
    }
    return QR_OK;
}

const char *qr_file_set_add(qr_file_set *s, const char *name, qr_error *err)
{
    if (!s->tmp)
        return qr_error_set(err, QR_ERR_STATE, "file set: not begun"), NULL;
    if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strcmp(name, "old") == 0) {
        qr_error_set(err, QR_ERR_ARG, "file set: '%s' is not a plain file name", name);
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0) {
            qr_error_set(err, QR_ERR_ARG, "file set: '%s' added twice", name);
            return NULL;
        }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        char **nn = realloc(s->names, cap * sizeof *nn);
        if (nn)
            s->names = nn;
        char **np = nn ? realloc(s->paths, cap * sizeof *np) : NULL;
        if (np)
            s->paths = np;
        if (!nn || !np) {
            qr_error_set(err, QR_ERR_NOMEM, "file set: out of memory");
            return NULL;
        }
        s->cap = cap;
    }
    size_t pl = strlen(s->tmp) + strlen(name) + 2;
    char *path = malloc(pl), *copy = strdup(name);
    if (!path || !copy) {
        free(path);
        free(copy);
        qr_error_set(err, QR_ERR_NOMEM, "file set: out of memory");
        return NULL;
    }
    snprintf(path, pl, "%s/%s", s->tmp, name);
    s->names[s->n] = copy;
    s->paths[s->n++] = path;
    return path;
}

/* "A/B" malloc'd */
static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

qr_status qr_file_set_commit(qr_file_set *s, qr_error *err)
{
    if (!s->tmp)
        return qr_error_set(err, QR_ERR_STATE, "file set: not begun");
    qr_status st = QR_OK;
    /* 1. every file complete and on disk before any target changes */
    for (size_t i = 0; i < s->n && st == QR_OK; i++) {
        struct stat sb;
        if (stat(s->paths[i], &sb) != 0 || !S_ISREG(sb.st_mode))
            st = qr_error_set(err, QR_ERR_IO, "%s/%s: was not written", s->dir, s->names[i]);
        else if (fsync_path(s->paths[i], 0) != 0)
            st = qr_error_set(err, QR_ERR_IO, "%s/%s: write failed: %s", s->dir, s->names[i],
                              strerror(errno));
        else
            chmod(s->paths[i], 0644);
    }
    if (st != QR_OK) {
        qr_file_set_abort(s);
        return st;
    }
    /* 2. hard links to the old files, to roll back a rename that fails midway */
    char *olddir = join(s->tmp, "old");
    char **target = calloc(s->n + 1, sizeof *target), **backup = calloc(s->n + 1, sizeof *backup);
    int *had = calloc(s->n + 1, sizeof *had);
    if (!olddir || !target || !backup || !had || mkdir(olddir, 0700) != 0) {
        st = qr_error_set(err, QR_ERR_IO, "%s: cannot prepare the replacement: %s", s->dir,
                          strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < s->n; i++) {
        target[i] = join(s->dir, s->names[i]);
        backup[i] = join(olddir, s->names[i]);
        if (!target[i] || !backup[i]) {
            st = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", s->dir);
            goto out;
        }
        /* 1: backed up; 0: no old file; -1: an old file that cannot be linked (a file
         * system without hard links): a failed rename cannot restore it */
        had[i] = link(target[i], backup[i]) == 0 ? 1 : errno == ENOENT ? 0 : -1;
    }
    /* 3. the renames; a failure puts back what was already replaced */
    for (size_t i = 0; i < s->n; i++)
        if (rename(s->paths[i], target[i]) != 0) {
            int e = errno, lost = 0;
            for (size_t k = 0; k < i; k++) {
                if (had[k] == 1)
                    lost |= rename(backup[k], target[k]) != 0;
                else if (had[k] == 0)
                    lost |= unlink(target[k]) != 0;
                else
                    lost = 1;
            }
            st = qr_error_set(err, QR_ERR_IO, "%s: cannot replace: %s (%s)", target[i],
                              strerror(e), lost ? "the set is now partly replaced" :
                              "nothing was replaced");
            goto out;
        }
    if (fsync_path(s->dir, 1) != 0)
        st = qr_error_set(err, QR_ERR_IO, "%s: cannot sync the directory: %s", s->dir,
                          strerror(errno));
out:
    for (size_t i = 0; i < s->n; i++) {
        free(target ? target[i] : NULL);
        free(backup ? backup[i] : NULL);
    }
    free(target);
    free(backup);
    free(had);
    free(olddir);
    qr_file_set_abort(s); /* removes the temporary directory and the backups */
    return st;
}

void qr_file_set_abort(qr_file_set *s)
{
    if (s->tmp) {
        const char *slash = strrchr(s->tmp, '/');
        int at = open(s->dir, O_RDONLY | O_DIRECTORY);
        if (at >= 0 && slash) {
            remove_tree_at(at, slash + 1, 1);
            close(at);
        } else if (at >= 0) {
            close(at);
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        free(s->names[i]);
        free(s->paths[i]);
    }
    free(s->names);
    free(s->paths);
    free(s->tmp);
    free(s->dir);
    memset(s, 0, sizeof *s);
}

void qr_buf_put(qr_buf *b, const void *p, size_t n)
{
    if (b->nomem || n == 0) /* n == 0: p may be NULL, which memcpy does not allow */
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d) {
            b->nomem = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void qr_buf_printf(qr_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        qr_buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1); /* rare: longer than the stack buffer */
    if (!big) {
        b->nomem = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    qr_buf_put(b, big, (size_t)n);
    free(big);
}

void qr_buf_u8(qr_buf *b, uint8_t v)
{
    qr_buf_put(b, &v, 1);
}

void qr_buf_u16(qr_buf *b, uint16_t v)
{
    unsigned char t[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    qr_buf_put(b, t, 2);
}

void qr_buf_u32(qr_buf *b, uint32_t v)
{
    unsigned char t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    qr_buf_put(b, t, 4);
}

void qr_buf_u64(qr_buf *b, uint64_t v)
{
    unsigned char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    qr_buf_put(b, t, 8);
}

void qr_buf_f32(qr_buf *b, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        qr_buf_u32(b, u);
    }
}

void qr_buf_free(qr_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int qr_rd_bytes(qr_reader *r, void *out, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return 0;
    }
    if (n == 0)
        return 1;
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
    return 1;
}

uint8_t qr_rd_u8(qr_reader *r)
{
    uint8_t v = 0;
    qr_rd_bytes(r, &v, 1);
    return v;
}

uint16_t qr_rd_u16(qr_reader *r)
{
    unsigned char t[2] = {0, 0};
    qr_rd_bytes(r, t, 2);
    return (uint16_t)(t[0] | t[1] << 8);
}

uint32_t qr_rd_u32(qr_reader *r)
{
    unsigned char t[4] = {0};
    qr_rd_bytes(r, t, 4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | t[i];
    return v;
}

uint64_t qr_rd_u64(qr_reader *r)
{
    unsigned char t[8] = {0};
    qr_rd_bytes(r, t, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | t[i];
    return v;
}

int qr_rd_f32(qr_reader *r, float *out, size_t n)
{
    if (r->bad || n > (r->len - r->pos) / 4) {
        r->bad = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = qr_rd_u32(r);
        memcpy(&out[i], &u, 4);
    }
    return 1;
}
