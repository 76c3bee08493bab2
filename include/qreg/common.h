/* qreg — common definitions: export macro, status codes, version. */
#ifndef QREG_COMMON_H
#define QREG_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(QR_BUILDING_LIBRARY) && defined(__GNUC__)
#define QR_API __attribute__((visibility("default")))
#else
#define QR_API
#endif

#define QR_VERSION_STRING "0.1.0"
/* The library's version at run time. */
QR_API const char *qr_version(void);

/* Every fallible library call returns a qr_status: 0 is success, negatives are errors.
 * The library never exits or aborts on bad input; it returns one of these and, where a
 * message helps (file, line, key), fills a caller-provided qr_error. */
typedef enum qr_status {
    QR_OK = 0,
    QR_ERR_NOMEM = -1,     /* allocation failed */
    QR_ERR_ARG = -2,       /* invalid argument (NULL, out of range) */
    QR_ERR_SHAPE = -3,     /* incompatible tensor shapes */
    QR_ERR_IO = -4,        /* file could not be opened, read or written */
    QR_ERR_FORMAT = -5,    /* malformed input file (CSV, JSON, model) */
    QR_ERR_CONFIG = -6,    /* invalid configuration key or value */
    QR_ERR_CHECKSUM = -7,  /* stored checksum does not match */
    QR_ERR_VERSION = -8,   /* unsupported file format version */
    QR_ERR_NUMERIC = -9,   /* NaN or infinity where a finite number is required */
    QR_ERR_UNSUPPORTED = -10, /* valid request that this build cannot do */
    QR_ERR_STATE = -11     /* call not valid in the object's current state */
} qr_status;

/* Human-readable name of a status code. Never NULL; the string is static. */
QR_API const char *qr_strerror(qr_status s);

/* A message buffer the library fills on error: "file:line:col: what went wrong". */
#define QR_ERROR_MAX 512
typedef struct qr_error {
    char msg[QR_ERROR_MAX];
} qr_error;

/* Set err->msg printf-style (err may be NULL); returns `s` for `return qr_error_set(...)`. */
QR_API qr_status qr_error_set(qr_error *err, qr_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Number of threads OpenBLAS may use (the library itself starts no threads). n >= 1. */
QR_API void qr_set_threads(int n);
QR_API int qr_get_threads(void);

/* Memory limit: qr_graph_compile (and so qr_model_new, qr_model_load and training) refuses a
 * graph whose arenas would take more than `bytes`, before allocating anything, with
 * QR_ERR_NOMEM and a message naming the bytes asked for, the largest tensor and the limit.
 * 0 (the default) means no limit: the library never guesses the machine's memory, the caller
 * chooses (the qreg command: half the physical memory, --max-memory). `origin` (may be NULL,
 * copied, at most 160 characters) says where the limit comes from; errors quote it, e.g.
 * "half the physical memory; qreg --max-memory SIZE changes it". Applies to graphs created
 * afterwards (qr_graph_set_memory_limit overrides it per graph). */
QR_API void qr_set_memory_limit(size_t bytes, const char *origin);
QR_API size_t qr_get_memory_limit(void);
/* The note given with the limit ("" if none). */
QR_API const char *qr_memory_limit_origin(void);

#ifdef __cplusplus
}
#endif

#endif /* QREG_COMMON_H */
