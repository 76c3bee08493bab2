/* The installed library's own translation unit: its version string. */
#include "qreg/common.h"

QR_API const char *qr_version(void)
{
    return QR_VERSION_STRING;
}
