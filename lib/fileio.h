/* Whole-file reads, atomic writes and little-endian byte buffers. */
#ifndef QREG_FILEIO_H
#define QREG_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include "qreg/common.h"

/* Read a whole file (at most max_bytes) into a malloc'd buffer the caller frees. */
qr_status qr_file_read_all(const char *path, size_t max_bytes, unsigned char **data,
                           size_t *len, qr_error *err);
/* Write `len` bytes to `path` atomically: a temporary file in the same directory, fsync,
 * rename over the target. On failure the target is untouched and the temporary removed. */
qr_status qr_file_write_atomic(const char *path, const void *data, size_t len, qr_error *err);

/* The same, streamed: open a temporary file next to `path`, write to it, then commit (fsync,
 * rename over the target) or abort (remove it; the target untouched). A failed write is
 * sticky: commit then fails and removes the temporary.
 * The temporary is "PATH.tmp.XXXXXX". One a killed writer left behind (kill -9, power loss)
 * is removed by the next qr_atomic_open of the same PATH once it is older than
 * QR_STALE_TMP_SECONDS (by modification time: a live writer keeps touching its file, and
 * unlike a process id the age means the same on every host of a shared file system). */
#define QR_STALE_TMP_SECONDS 3600
typedef struct qr_atomic_file {
    int fd;
    char *tmp;
    const char *path;            /* not copied: keep it valid until commit or abort */
    int err_no;
} qr_atomic_file;
qr_status qr_atomic_open(qr_atomic_file *f, const char *path, qr_error *err);
qr_status qr_atomic_write(qr_atomic_file *f, const void *data, size_t len, qr_error *err);
qr_status qr_atomic_commit(qr_atomic_file *f, qr_error *err);
void qr_atomic_abort(qr_atomic_file *f);

/* A set of files that belong together (an export's model.c and model.h, ...), replaced in a
 * directory all or none:
 *   qr_file_set_begin(&s, dir)        makes DIR/.qreg-set.XXXXXX (same file system as DIR)
 *   p = qr_file_set_add(&s, "model.c") the path to write model.c to, inside it (any writer)
 *   qr_file_set_commit(&s)            fsyncs every file, then renames each over DIR/NAME,
 *                                     fsyncs DIR and removes the temporary directory
 *   qr_file_set_abort(&s)             removes the temporary directory: DIR untouched
 * A failed write (a full disk) happens before any rename, so DIR keeps the old set. A rename
 * that fails midway is rolled back from hard links to the old files taken before the first
 * rename. Only a crash in the microseconds between two renames leaves a mix (POSIX renames
 * one name at a time); callers that generate code tie their files with a stamp the compiler
 * checks (qreg export, docs/format.md). Stale temporary directories of killed writers are
 * removed by the next qr_file_set_begin in DIR once older than QR_STALE_TMP_SECONDS. */
typedef struct qr_file_set {
    char *dir;       /* the target directory (copied) */
    char *tmp;       /* DIR/.qreg-set.XXXXXX */
    char **names;    /* file names added */
    char **paths;    /* their paths inside tmp */
    size_t n, cap;
} qr_file_set;
qr_status qr_file_set_begin(qr_file_set *s, const char *dir, qr_error *err);
/* The path (owned by the set, valid until commit or abort) to write the file `name` (a plain
 * name, no '/') to; NULL with err set on a bad name, a duplicate or out of memory. */
const char *qr_file_set_add(qr_file_set *s, const char *name, qr_error *err);
qr_status qr_file_set_commit(qr_file_set *s, qr_error *err);
void qr_file_set_abort(qr_file_set *s);

/* A growing byte buffer for building files. Errors are sticky (nomem). */
typedef struct qr_buf {
    unsigned char *data;
    size_t len, cap;
    int nomem;
} qr_buf;

void qr_buf_put(qr_buf *b, const void *p, size_t n);
/* Append printf-style text (any length). */
void qr_buf_printf(qr_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void qr_buf_u8(qr_buf *b, uint8_t v);
void qr_buf_u16(qr_buf *b, uint16_t v);
void qr_buf_u32(qr_buf *b, uint32_t v);
void qr_buf_u64(qr_buf *b, uint64_t v);
void qr_buf_f32(qr_buf *b, const float *v, size_t n);
void qr_buf_free(qr_buf *b);

/* A bounds-checked reader: every get fails (returns 0 and sets `bad`) past the end. */
typedef struct qr_reader {
    const unsigned char *data;
    size_t len, pos;
    int bad;
} qr_reader;

int qr_rd_bytes(qr_reader *r, void *out, size_t n);
uint8_t qr_rd_u8(qr_reader *r);
uint16_t qr_rd_u16(qr_reader *r);
uint32_t qr_rd_u32(qr_reader *r);
uint64_t qr_rd_u64(qr_reader *r);
int qr_rd_f32(qr_reader *r, float *out, size_t n);

#endif
