/* qrt — the .qrt blob layout, shared by the loader (device) and the builder (host).
 * Every field is little-endian and fixed-width; every section and tensor starts at a multiple
 * of 8 bytes from the start of the blob; offsets are absolute (from the blob's first byte).
 * The loader reads these structs in place, after checking alignment, bounds and the host's
 * byte order. Documented in docs/format.md, "Integer model (.qrt)". */
#ifndef QRT_FORMAT_H
#define QRT_FORMAT_H

#include <stdint.h>
#include "qrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "\x89QRT\r\n\x1a\n": a high byte, the name, and the line-ending bytes PNG uses to catch
 * 7-bit and text-mode transfers. */
#define QRT_MAGIC "\x89QRT\r\n\x1a\n"
#define QRT_MAGIC_LEN 8u
#define QRT_HEADER_SIZE 96u
#define QRT_TRAILER_SIZE 8u        /* u32 reserved (0), u32 CRC-32 of every byte before it */
#define QRT_REC_SIZE 32u           /* layer record, followed by n_slots slots */
#define QRT_SLOT_SIZE 8u
#define QRT_HOST_SIZE 48u          /* host section, followed by F means and F stds */

typedef struct qrt_header {
    uint8_t magic[8];
    uint32_t version;              /* 1, or 2 with sparse weight slots (QRT_VERSION) */
    uint32_t header_size;          /* QRT_HEADER_SIZE */
    uint32_t total_size;           /* the whole blob, trailer included; a multiple of 8 */
    uint32_t flags;                /* 0 (reserved) */
    uint32_t n_layers;             /* 1 … QRT_MAX_LAYERS */
    uint32_t layers_off, layers_size;  /* layer records, back to back */
    uint32_t data_off, data_size;      /* tensors */
    uint32_t host_off, host_size;      /* host-only section (0, 0 if absent) */
    uint32_t seq_len;              /* T */
    uint32_t n_features;           /* F */
    uint32_t n_outputs;            /* logits */
    int32_t in_max;                /* input bound A_in, 1 … 2^30 */
    uint32_t reserved[7];          /* 0 */
} qrt_header;
QRT_STATIC_CHECK(header_size, sizeof(qrt_header) == QRT_HEADER_SIZE);

/* Layer record flags. */
#define QRT_FLAG_PAD_MASK 0x3u     /* conv: qrt_padding (0 valid, 1 same, 2 causal) */
#define QRT_FLAG_RETURN_SEQ 0x4u   /* gru: pass every state on (else: last state, head follows) */
#define QRT_FLAG_ACT_TANH 0x8u     /* act: tanh (else the logistic sigmoid) */

typedef struct qrt_layer_rec {
    uint16_t kind;                 /* qrt_layer_kind */
    uint16_t n_slots;              /* fixed per kind (qrt_kind_slots) */
    uint32_t n_in;                 /* values per input frame (Cin, F) */
    uint32_t n_out;                /* values per output frame (Cout, H) */
    int32_t out_max;               /* output bound A_out, 1 … 2^30 (GRU: 32768) */
    uint16_t kernel, stride, dilation;  /* conv (maxpool: pool, stride, 1); 0 for other kinds */
    uint16_t flags;                /* QRT_FLAG_* */
    uint16_t pad_left, pad_right;  /* same-padded conv: zero frames before / after; else 0 */
    uint32_t reserved;             /* 0 */
} qrt_layer_rec;
QRT_STATIC_CHECK(rec_size, sizeof(qrt_layer_rec) == QRT_REC_SIZE);

/* A tensor slot: desc = type | count << 8; an absent optional tensor has desc = offset = 0. */
typedef struct qrt_slot {
    uint32_t desc;
    uint32_t offset;               /* absolute, multiple of 8, inside the data section */
} qrt_slot;
QRT_STATIC_CHECK(slot_size, sizeof(qrt_slot) == QRT_SLOT_SIZE);

#define QRT_T_W(bits) (bits)       /* 1..8: packed weights at bit-width N (count = levels) */
/* Version 2: a sparse weight matrix (runtime/qrt_sparse.h, docs/sparse.md), bit-width N = 2..8
 * in the low nibble, the encoding in the high one; count = the encoding's bytes. */
#define QRT_T_WBM(bits) (0x40u | (bits))   /* bitmap encoding */
#define QRT_T_WRLE(bits) (0x50u | (bits))  /* run-length encoding */
#define QRT_T_IS_SPARSE(t) (((t) & 0xE0u) == 0x40u && ((t) & 0x0Fu) >= 2u && ((t) & 0x0Fu) <= 8u)
#define QRT_T_WENC(t) (((t) & 0xF0u) == 0x40u ? 1u : 2u)  /* qrt_wenc of a sparse type */
#define QRT_T_WBITS(t) ((t) & 0x0Fu)
#define QRT_T_I32 0x20u            /* int32 vector (count = elements) */
#define QRT_T_RQ 0x21u             /* qrt_rq pairs (count = 1: per tensor, or one per channel) */
#define QRT_SLOT_TYPE(d) ((d) & 0xFFu)
#define QRT_SLOT_COUNT(d) ((d) >> 8)
#define QRT_SLOT_DESC(type, count) ((uint32_t)(type) | ((uint32_t)(count) << 8))
#define QRT_MAX_COUNT 0xFFFFFFu

/* Slot order per kind. */
enum {
    QRT_S_W = 0, QRT_S_BIAS = 1, QRT_S_RQ = 2, QRT_S_OFF = 3,          /* dense, conv1d */
    QRT_S_BN_RQ = 0, QRT_S_BN_OFF = 1,                                  /* batchnorm */
    QRT_S_PRELU_RQ = 0,                                                 /* prelu */
    QRT_S_ACT_RQ = 0,                                                   /* act: x → Q16 */
    QRT_S_GRU_WI = 0, QRT_S_GRU_WH = 1, QRT_S_GRU_BI = 2, QRT_S_GRU_BH = 3,
    QRT_S_GRU_RQI = 4, QRT_S_GRU_RQH = 5                                /* gru */
};

/* The host-only section: never read on the device (it holds IEEE-754 binary32 bit
 * patterns). The loader checks its size and flags only. */
#define QRT_HOST_STANDARDIZE 0x1u
typedef struct qrt_host_info {
    uint32_t in_scale;             /* binary32: real input = q · in_scale (after standardizing) */
    uint32_t out_scale;            /* binary32: real logit = q · out_scale */
    uint32_t flags;                /* QRT_HOST_STANDARDIZE: F means, then F stds follow */
    uint32_t reserved;             /* 0 */
    char generator[32];            /* e.g. "qreg 0.1.0", NUL-padded */
} qrt_host_info;
QRT_STATIC_CHECK(host_size, sizeof(qrt_host_info) == QRT_HOST_SIZE);

/* Number of slots of a layer kind; 0 for ReLU and for unknown kinds (see qrt_kind_valid). */
static inline unsigned qrt_kind_slots(unsigned kind)
{
    switch (kind) {
    case QRT_LAYER_DENSE:
    case QRT_LAYER_CONV1D: return 4;
    case QRT_LAYER_BATCHNORM: return 2;
    case QRT_LAYER_PRELU:
    case QRT_LAYER_ACT: return 1;
    case QRT_LAYER_GRU: return 6;
    default: return 0;
    }
}

static inline const qrt_slot *qrt_rec_slots(const qrt_layer_rec *r)
{
    return (const qrt_slot *)(const void *)((const uint8_t *)r + QRT_REC_SIZE);
}

/* int32 words of stream state a layer keeps: a convolution's or max pooling's countdown and
 * window ((kernel − 1)·dilation + 1 frames of n_in), a GRU's h (n_out); 0 for the others. */
static inline uint32_t qrt_rec_state_words(const qrt_layer_rec *r)
{
    if (r->kind == QRT_LAYER_CONV1D || r->kind == QRT_LAYER_MAXPOOL)
        return 1u + (((uint32_t)r->kernel - 1u) * r->dilation + 1u) * r->n_in;
    if (r->kind == QRT_LAYER_GRU)
        return r->n_out;
    return 0u;
}

static inline size_t qrt_rec_size(const qrt_layer_rec *r)
{
    return QRT_REC_SIZE + (size_t)r->n_slots * QRT_SLOT_SIZE;
}

#ifdef __cplusplus
}
#endif

#endif /* QRT_FORMAT_H */
