/* CRC-32 of byte buffers (file checksums). qr_crc32("123456789") = 0xCBF43926. */
#ifndef QREG_CRC32_H
#define QREG_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t qr_crc32(const void *data, size_t n);
/* Continue a CRC over more bytes: crc32(a ++ b) = update(crc32(a), b). */
uint32_t qr_crc32_update(uint32_t crc, const void *data, size_t n);

#endif
