/* Helpers shared by the libFuzzer targets of tests/fuzz/: a per-process scratch file for the
 * parsers that read a path, a small deterministic generator for inputs derived from the fuzz
 * data, and a CRC fixer so mutated files get past the checksum to the parser behind it. */
#ifndef QREG_FUZZ_UTIL_H
#define QREG_FUZZ_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/crc32.h"

/* A file "<TMPDIR>/qreg-fuzz-XXXXXX/input<suffix>" in a fresh directory, created on first
 * use and removed at exit; every call returns the same path. */
static char fuzz_dir[4096], fuzz_tmp[4200];

static inline void fuzz_tmp_remove(void)
{
    if (fuzz_tmp[0])
        unlink(fuzz_tmp);
    if (fuzz_dir[0])
        rmdir(fuzz_dir);
}

static inline const char *fuzz_tmp_path(const char *suffix)
{
    if (fuzz_tmp[0])
        return fuzz_tmp;
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/qreg-fuzz-XXXXXX", dir);
    if (!mkdtemp(fuzz_dir)) {
        perror("qreg fuzz: mkdtemp");
        abort();
    }
    snprintf(fuzz_tmp, sizeof fuzz_tmp, "%s/input%s", fuzz_dir, suffix);
    int fd = open(fuzz_tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        perror("qreg fuzz: create");
        abort();
    }
    close(fd);
    atexit(fuzz_tmp_remove);
    return fuzz_tmp;
}

/* Replace the scratch file's contents by data[0..len). */
static inline const char *fuzz_write_tmp(const char *suffix, const uint8_t *data, size_t len)
{
    const char *path = fuzz_tmp_path(suffix);
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0) {
        perror("qreg fuzz: open");
        abort();
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w <= 0) {
            perror("qreg fuzz: write");
            abort();
        }
        off += (size_t)w;
    }
    close(fd);
    return path;
}

/* Store the CRC-32 of b[0..len-4) little-endian in the last 4 bytes (len >= 4). */
static inline void fuzz_fix_crc(uint8_t *b, size_t len)
{
    uint32_t c = qr_crc32(b, len - 4);
    for (int i = 0; i < 4; i++)
        b[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

static inline void fuzz_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* xorshift64*, seeded from the input, for input values that follow the fuzz data. */
static inline uint64_t fuzz_rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Abort (a libFuzzer crash with the input saved) with a message. */
#define FUZZ_ASSERT(cond, ...)                                                                   \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "qreg fuzz: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

#endif /* QREG_FUZZ_UTIL_H */
