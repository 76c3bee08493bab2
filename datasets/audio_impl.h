/* Internals of the audio datasets: content hashing, the feature cache file and the parser
 * of a config's "data.audio" object. Not installed. */
#ifndef QREG_AUDIO_IMPL_H
#define QREG_AUDIO_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lib/fileio.h"
#include "qreg/audio.h"

/* ---- hashing ------------------------------------------------------------------------- */

/* FNV-1a, 64 bits, over bytes: h = (h ^ byte) · 0x100000001b3, from QR_FNV1A64_INIT.
 * qr_fnv1a64("a", 1, QR_FNV1A64_INIT) = 0xaf63dc4c8601ec8c. */
#define QR_FNV1A64_INIT UINT64_C(0xcbf29ce484222325)
uint64_t qr_fnv1a64(const void *data, size_t n, uint64_t h);

/* ---- the cache file -------------------------------------------------------------------- *
 * Little-endian, written atomically (lib/fileio.h):
 *   "QRFC"  u32 version (1)  u32 kind  u32 reserved (0)
 *   u64 key_len  key bytes   (the full description of what the features depend on)
 *   u64 rows  u32 t  u32 f
 *   rows × u8 status         (0 = features present, 1 = the file was skipped: zeros)
 *   rows·t·f × f32           (features, row-major)
 *   u32 CRC-32 of every byte before it
 * The file name is the FNV-1a 64 of the key in hex; the key itself is compared in full on
 * reading, so a name collision cannot return wrong features. */
#define QR_FCACHE_VERSION 1u
#define QR_FCACHE_KIND_FEATURES 1u
#define QR_FCACHE_KIND_AUGMENT 2u

typedef enum qr_fcache_result {
    QR_FCACHE_MISSING = 0,  /* no such file */
    QR_FCACHE_HIT = 1,      /* status and x filled */
    QR_FCACHE_BAD = 2       /* exists but unusable: `why` says why */
} qr_fcache_result;

/* Read and check a cache file against the expected kind, key and shape. status (rows) and
 * x (rows·t·f) are filled only on a hit. */
qr_fcache_result qr_fcache_read(const char *path, uint32_t kind, const unsigned char *key,
                                size_t key_len, size_t rows, size_t t, size_t f,
                                unsigned char *status, float *x, char *why, size_t why_len);
/* Write a cache file atomically (creating its directory if needed: one level). */
qr_status qr_fcache_write(const char *path, uint32_t kind, const unsigned char *key,
                          size_t key_len, size_t rows, size_t t, size_t f,
                          const unsigned char *status, const float *x, qr_error *err);
/* "<dir>/<16 hex digits of FNV-1a 64(key)>.qfc", malloc'd (NULL: out of memory). */
char *qr_fcache_file(const char *dir, const unsigned char *key, size_t key_len);
/* The default cache directories: <base>/.qreg-cache and ${XDG_CACHE_HOME:-$HOME/.cache}/qreg
 * (*fallback NULL when neither variable is set). Malloc'd; QR_ERR_NOMEM. */
qr_status qr_fcache_default_dirs(const char *base, char **primary, char **fallback);
/* mkdir -p for the cache directory (mode 0755). 0 on success, else errno. */
int qr_fcache_mkdirs(const char *dir);

/* ---- config ---------------------------------------------------------------------------- */

/* Resolves a path of the config (relative to the config file, ${QREG_DATA}); malloc'd. */
typedef char *(*qr_path_resolver)(const char *config_path, const char *rel);

/* Parse the "data.audio" object into one malloc'd block (the options and the strings
 * they point to; free() it). Strict: unknown keys and bad values are QR_ERR_CONFIG naming
 * "data.audio.<key>". `where` is the config file (for messages and path resolution). */
qr_status qr_audio_options_parse(const cJSON *obj, qr_path_resolver resolve, const char *where,
                                 qr_audio_options **out, qr_error *err);

#endif /* QREG_AUDIO_IMPL_H */
