/* Status codes, error messages, the thread setting and the memory limit. */
#include <stdarg.h>
#include <stdio.h>
#include <cblas.h>
#include "qreg/common.h"

QR_API const char *qr_strerror(qr_status s)
{
    switch (s) {
    case QR_OK: return "success";
    case QR_ERR_NOMEM: return "out of memory";
    case QR_ERR_ARG: return "invalid argument";
    case QR_ERR_SHAPE: return "incompatible shapes";
    case QR_ERR_IO: return "input/output error";
    case QR_ERR_FORMAT: return "malformed input";
    case QR_ERR_CONFIG: return "invalid configuration";
    case QR_ERR_CHECKSUM: return "checksum mismatch";
    case QR_ERR_VERSION: return "unsupported format version";
    case QR_ERR_NUMERIC: return "non-finite number";
    case QR_ERR_UNSUPPORTED: return "unsupported";
    case QR_ERR_STATE: return "invalid state";
    }
    return "unknown status";
}

QR_API qr_status qr_error_set(qr_error *err, qr_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return s;
}

static int qr_threads = 1;

QR_API void qr_set_threads(int n)
{
    if (n < 1)
        n = 1;
    qr_threads = n;
    openblas_set_num_threads(n);
}

QR_API int qr_get_threads(void)
{
    return qr_threads;
}

static size_t qr_memory_limit;
static char qr_memory_origin[161];

QR_API void qr_set_memory_limit(size_t bytes, const char *origin)
{
    qr_memory_limit = bytes;
    snprintf(qr_memory_origin, sizeof qr_memory_origin, "%s", origin ? origin : "");
}

QR_API size_t qr_get_memory_limit(void)
{
    return qr_memory_limit;
}

QR_API const char *qr_memory_limit_origin(void)
{
    return qr_memory_origin;
}
