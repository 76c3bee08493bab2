/* Internals of the audio datasets: the loader's state and the functions its files share
 * (audio.c runs the passes; see its top comment), content hashing, the feature cache file and
 * the parser of a config's "data.audio" object. Not installed. */
#ifndef QREG_AUDIO_IMPL_H
#define QREG_AUDIO_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lib/fileio.h"
#include "qreg/audio.h"

/* ---- limits ---------------------------------------------------------------------------- */

/* Bump when the features of the same bytes and parameters change (it is part of the keys). */
#define QR_AUDIO_FEATURES_VERSION 1
/* Bump when the integer front end's numerics change (runtime/qrt_frontend.c, its tables). */
#define QR_IFRONT_VERSION 1
/* Audio files (and lists, manifests) larger than this are refused: 1 GiB. */
#define QR_AUDIO_MAX_FILE_BYTES ((size_t)1 << 30)
/* The largest magnitude a decoded sample may have (full scale is 1; 80 dB of headroom). */
#define QR_AUDIO_MAX_SAMPLE 1e4
/* validation_split and test_split when not given. */
#define QR_AUDIO_DEFAULT_FRACTION 0.1

/* ---- reading clips (audio_decode.c) ---------------------------------------------------- */

/* Decode and resample a file's bytes: mono samples at `rate` (*out malloc'd, *n of them).
 * `name` prefixes the messages. */
qr_status qr_audio_read_mem(const char *name, const unsigned char *data, size_t len, double rate,
                            size_t max_channels, qr_audio_quality q, float **out, size_t *n,
                            qr_error *err);

/* ---- MFCC internals (mfcc.c) and the integer front end (frontend_int.c) ---------------- */

/* The float MFCC's tables: window (W), filterbank (band_lo (M), band_off (M + 1), weights
 * (band_off[M])) and DCT (C, M). The integer front end quantizes these very tables. */
void qr_mfcc_tables(const qr_mfcc *m, const double **window, const size_t **band_lo,
                    const size_t **band_off, const double **weights, const double **dct);

struct qrt_frontend_tables;
/* The runtime tables of a host front end (runtime/qrt_frontend.h); valid while f lives. */
const struct qrt_frontend_tables *qr_ifront_tables(const qr_ifront *f);

/* ---- the loader's state (audio.c) ------------------------------------------------------ */

/* Which split a file is in. */
enum {
    QR_AUDIO_PART_NONE = -1,
    QR_AUDIO_PART_TRAIN = 0,
    QR_AUDIO_PART_VAL = 1,
    QR_AUDIO_PART_TEST = 2
};

typedef struct qr_audio_file {
    char *path;        /* as opened */
    char *rel;         /* in keys and lists: "class/name.wav", or the manifest's cell */
    size_t line;       /* manifest line, 0 in folder mode */
    size_t label;      /* class index */
    int split;         /* QR_AUDIO_PART_* */
    int readable;      /* bytes read and hashed */
    uint64_t hash;
    size_t size;
    int ok;            /* features present */
} qr_audio_file;

typedef struct qr_audio_loader {
    const qr_audio_options *o;
    qr_error *err;
    qr_audio_stats st;
    const char *src;           /* root or manifest: prefix of messages about the dataset */
    char *base;                /* root, or the manifest's folder */
    qr_audio_file *files;
    size_t n_files, cap_files;
    char **classes;
    size_t n_classes;
    int split_column;          /* the manifest has one */
    qr_mfcc *mfcc;
    qr_ifront *ifront;         /* the integer front end, or NULL (float features) */
    int16_t *pcm;              /* (L) the clip as int16 for the integer front end */
    int32_t *ifeat;            /* (T, C) its Q16 output */
    size_t L, T, C;
    float *clip;               /* (L) */
    float *work;               /* (L) */
    qr_buf key;                /* base features key */
    unsigned char *status;     /* (n_files) 0 ok, 1 skipped */
    float *x;                  /* (n_files, T·C) */
} qr_audio_loader;

/* Malloc'd copies (NULL: out of memory): of s; of "<a>/<b>" (b as is when absolute). */
char *qr_audio_strdup(const char *s);
char *qr_audio_path_join(const char *a, const char *b);
/* Free v[0..n) and v (v may be NULL). */
void qr_audio_free_strs(char **v, size_t n);
/* A warning through the options' warn callback (none: dropped). */
void qr_audio_warn(qr_audio_loader *ld, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* QR_ERR_NOMEM, with "<src>: out of memory" in ld->err. */
qr_status qr_audio_nomem(qr_audio_loader *ld);

/* ---- pass 1: listing (audio_list.c) ---------------------------------------------------- */

/* Sorted names in `dir`: subfolders that can be classes (want_dirs), or audio files (names
 * with an audio extension that are not folders; a broken link is listed so that reading it
 * names it). Other entries add to *ignored (may be NULL). */
qr_status qr_audio_list_dir(const char *dir, int want_dirs, char ***names, size_t *n,
                            size_t *ignored, qr_error *err);
/* Files and classes from the class folders of o->root, or from the manifest o->manifest. */
qr_status qr_audio_list_folders(qr_audio_loader *ld);
qr_status qr_audio_list_manifest(qr_audio_loader *ld);
/* qsort/bsearch order of `qr_audio_file *` by rel. */
int qr_audio_cmp_file_rel(const void *a, const void *b);

/* ---- passes 2 and 3: hashing, base features (audio_features.c) ------------------------- */

/* Read and hash every file (unreadable ones fail or are skipped per on_error). */
qr_status qr_audio_hash_files(qr_audio_loader *ld);
/* printf to a key (an overlong entry sets b->nomem). */
void qr_audio_key_printf(qr_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Decode file i into ld->clip (its bytes must hash as in pass 2). */
qr_status qr_audio_clip_of(qr_audio_loader *ld, size_t i);
/* MFCC of a clip (L) into out (T, C). */
qr_status qr_audio_features_of(qr_audio_loader *ld, const float *clip, float *out);

/* Where cache files are read and written. */
typedef struct qr_audio_cache_dirs {
    char *primary, *fallback; /* fallback may be NULL */
} qr_audio_cache_dirs;

qr_status qr_audio_cache_dirs_get(qr_audio_loader *ld, qr_audio_cache_dirs *cd);
void qr_audio_cache_dirs_free(qr_audio_cache_dirs *cd);
/* Look the key up in the cache directories. QR_AUDIO_CACHE_HIT (status, x filled, the file
 * in `used`), _MISS or _CORRUPT (warned). */
qr_audio_cache_state qr_audio_cache_lookup(qr_audio_loader *ld, const qr_audio_cache_dirs *cd,
                                           uint32_t kind, const qr_buf *key, size_t rows,
                                           unsigned char *status, float *x, char *used,
                                           size_t used_len);
/* Write to the first directory that works (the file in `used`); a failure is a warning. */
void qr_audio_cache_store(qr_audio_loader *ld, const qr_audio_cache_dirs *cd, uint32_t kind,
                          const qr_buf *key, size_t rows, const unsigned char *status,
                          const float *x, char *used, size_t used_len);
/* Features of every file into ld->status, ld->x: from the cache or computed. */
qr_status qr_audio_base_features(qr_audio_loader *ld, const qr_audio_cache_dirs *cd);

/* ---- classes and pass 4: splits (audio_splits.c) --------------------------------------- */

/* Drop classes without usable files (skip mode) and renumber; at least 2 must remain. */
qr_status qr_audio_prune_classes(qr_audio_loader *ld);
/* Set every usable file's split: manifest column, Speech Commands lists or fractions. */
qr_status qr_audio_assign_splits(qr_audio_loader *ld);

/* ---- pass 5: augmentation (audio_augment.c) -------------------------------------------- */

/* Augmented rows (copies · n_train, T·C) of the training files train[0..n_train) into *out
 * (malloc'd): copy 1 of each training file, copy 2, ... */
qr_status qr_audio_augment_all(qr_audio_loader *ld, const qr_audio_cache_dirs *cd,
                               const size_t *train, size_t n_train, float **out);

/* ---- hashing --------------------------------------------------------------------------- */

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
