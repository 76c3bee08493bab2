/* SHA-256 (FIPS 180-4) of byte buffers: identifies a model file in the code it was exported
 * to (`sha256sum model.qrm` prints the same hex). */
#ifndef QREG_SHA256_H
#define QREG_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* The digest of n bytes as 64 lower-case hex digits and a NUL in hex[65]. */
void qr_sha256_hex(const void *data, size_t n, char hex[65]);

#endif
