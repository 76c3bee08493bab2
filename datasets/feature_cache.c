/* The feature cache file: content hashing (FNV-1a 64), reading with every field checked,
 * atomic writing, default locations. Format in datasets/audio_impl.h, design in
 * docs/audio.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "datasets/audio_impl.h"
#include "lib/crc32.h"
#include "lib/fileio.h"

uint64_t qr_fnv1a64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#define FCACHE_MAGIC "QRFC"
/* Header: magic, version, kind, reserved, key_len. */
#define FCACHE_HEAD 24u
/* Cache files above this are refused (and rebuilt): 16 GiB. */
#define FCACHE_MAX_BYTES ((size_t)1 << 34)

char *qr_fcache_file(const char *dir, const unsigned char *key, size_t key_len)
{
    uint64_t h = qr_fnv1a64(key, key_len, QR_FNV1A64_INIT);
    size_t n = strlen(dir) + 1 + 16 + 4 + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%016llx.qfc", dir, (unsigned long long)h);
    return p;
}

static char *join2(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", a, b);
    return p;
}

qr_status qr_fcache_default_dirs(const char *base, char **primary, char **fallback)
{
    *primary = join2(base, "/.qreg-cache");
    *fallback = NULL;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg == '/')
        *fallback = join2(xdg, "/qreg");
    else if (home && *home)
        *fallback = join2(home, "/.cache/qreg");
    else
        return *primary ? QR_OK : QR_ERR_NOMEM;
    if (!*primary || !*fallback) {
        free(*primary);
        free(*fallback);
        *primary = *fallback = NULL;
        return QR_ERR_NOMEM;
    }
    return QR_OK;
}

int qr_fcache_mkdirs(const char *dir)
{
    char *p = join2(dir, "");
    if (!p)
        return ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rc = errno;
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (rc == 0 && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = ENOTDIR;
    free(p);
    return rc;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static qr_fcache_result bad(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && why_len)
        vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return QR_FCACHE_BAD;
}

qr_fcache_result qr_fcache_read(const char *path, uint32_t kind, const unsigned char *key,
                                size_t key_len, size_t rows, size_t t, size_t f,
                                unsigned char *status, float *x, char *why, size_t why_len)
{
    struct stat st;
    if (stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
        return QR_FCACHE_MISSING;
    unsigned char *data = NULL;
    size_t len = 0;
    qr_error e;
    if (qr_file_read_all(path, FCACHE_MAX_BYTES, &data, &len, &e) != QR_OK)
        return bad(why, why_len, "%s", e.msg);
    qr_fcache_result r = QR_FCACHE_BAD;
    qr_reader rd = {data, len, 0, 0};
    char magic[4] = {0};
    qr_rd_bytes(&rd, magic, 4);
    uint32_t version = qr_rd_u32(&rd), k = qr_rd_u32(&rd), reserved = qr_rd_u32(&rd);
    uint64_t klen = qr_rd_u64(&rd);
    if (rd.bad || memcmp(magic, FCACHE_MAGIC, 4) != 0) {
        bad(why, why_len, "not a qreg feature cache (bad magic)");
        goto out;
    }
    if (len < 4 || qr_crc32(data, len - 4) !=
                       (uint32_t)(data[len - 4] | data[len - 3] << 8 | data[len - 2] << 16 |
                                  (uint32_t)data[len - 1] << 24)) {
        bad(why, why_len, "checksum mismatch (truncated or corrupt)");
        goto out;
    }
    if (version != QR_FCACHE_VERSION) {
        bad(why, why_len, "format version %u, this build reads %u", version, QR_FCACHE_VERSION);
        goto out;
    }
    if (k != kind || reserved != 0) {
        bad(why, why_len, "wrong kind of cache file (%u)", k);
        goto out;
    }
    if (klen != key_len || klen > len - rd.pos || memcmp(data + rd.pos, key, key_len) != 0) {
        bad(why, why_len, "built for other files or parameters (key mismatch)");
        goto out;
    }
    rd.pos += key_len;
    uint64_t n = qr_rd_u64(&rd);
    uint32_t tt = qr_rd_u32(&rd), ff = qr_rd_u32(&rd);
    if (rd.bad || n != rows || tt != t || ff != f) {
        bad(why, why_len, "shape %llu x %u x %u, expected %zu x %zu x %zu",
            (unsigned long long)n, tt, ff, rows, t, f);
        goto out;
    }
    size_t row = t * f;
    /* rows status bytes, rows·row floats, the CRC: nothing more, nothing less */
    if (row && rows > (SIZE_MAX / 4 - 1) / row) {
        bad(why, why_len, "size overflow");
        goto out;
    }
    if (len - rd.pos != rows + rows * row * 4 + 4) {
        bad(why, why_len, "wrong length");
        goto out;
    }
    qr_rd_bytes(&rd, status, rows);
    for (size_t i = 0; i < rows; i++)
        if (status[i] > 1) {
            bad(why, why_len, "bad status byte %u at row %zu", status[i], i);
            goto out;
        }
    qr_rd_f32(&rd, x, rows * row);
    for (size_t i = 0; i < rows * row; i++)
        if (!isfinite(x[i])) {
            bad(why, why_len, "non-finite feature at row %zu", i / row);
            goto out;
        }
    r = rd.bad ? bad(why, why_len, "truncated") : QR_FCACHE_HIT;
out:
    free(data);
    return r;
}

qr_status qr_fcache_write(const char *path, uint32_t kind, const unsigned char *key,
                          size_t key_len, size_t rows, size_t t, size_t f,
                          const unsigned char *status, const float *x, qr_error *err)
{
    if (t > UINT32_MAX || f > UINT32_MAX)
        return qr_error_set(err, QR_ERR_ARG, "%s: shape too large for a cache file", path);
    qr_buf b = {0};
    qr_buf_put(&b, FCACHE_MAGIC, 4);
    qr_buf_u32(&b, QR_FCACHE_VERSION);
    qr_buf_u32(&b, kind);
    qr_buf_u32(&b, 0);
    qr_buf_u64(&b, key_len);
    qr_buf_put(&b, key, key_len);
    qr_buf_u64(&b, rows);
    qr_buf_u32(&b, (uint32_t)t);
    qr_buf_u32(&b, (uint32_t)f);
    qr_buf_put(&b, status, rows);
    qr_buf_f32(&b, x, rows * t * f);
    if (!b.nomem)
        qr_buf_u32(&b, qr_crc32(b.data, b.len));
    if (b.nomem) {
        qr_buf_free(&b);
        return qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    }
    /* the directory: create it (one level, its parent must exist) */
    char *dir = join2(path, "");
    qr_status s = QR_OK;
    if (!dir) {
        s = qr_error_set(err, QR_ERR_NOMEM, "%s: out of memory", path);
    } else {
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                s = qr_error_set(err, QR_ERR_IO, "%s: cannot create the directory: %s", dir,
                                 strerror(errno));
        }
        free(dir);
    }
    if (s == QR_OK)
        s = qr_file_write_atomic(path, b.data, b.len, err);
    qr_buf_free(&b);
    return s;
}
