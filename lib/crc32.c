/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zlib and PNG compute it. */
#include "crc32.h"

uint32_t qr_crc32_update(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint32_t qr_crc32(const void *data, size_t n)
{
    return qr_crc32_update(0, data, n);
}
