/* examples/kws-device/kws_loop.h — the device loop of the keyword-spotting example, shared by
 * the host program (host_main.c) and the Cortex-M builds run under QEMU (mcu_main.c): int16
 * PCM in, hop by hop through the integer front end (NAME_frontend, qrt_frontend_push), each
 * feature frame to the model's input (kws_quantize_features) and into the compiled model
 * (kws_push); after a clip, its logits and keyword. Everything comes from one export:
 * `qreg export MODEL.qrm --out DIR --name kws --with-runtime` (docs/deploy.md, "Keyword
 * spotting"). Integers only, no libc, no allocation. */
#ifndef KWS_LOOP_H
#define KWS_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include "kws_audio.h"
#include "model_compiled.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start a clip: the front end's samples and the model's state are forgotten. */
void kws_start(void);
/* Feed samples as they arrive (a microphone's DMA block; KWS_HOP_SAMPLES per call gives at most
 * one feature frame per call). Returns the feature frames completed (each pushed into the
 * model), or < 0 on a front-end error (a qrt_status). */
int kws_feed(const int16_t *pcm, size_t n);
/* The model's logits for the frames fed so far (logits: KWS_N_OUTPUTS); returns the class
 * index (a name in kws_class_names), or -1 while no frame has reached the model's output. */
int kws_result(int32_t *logits);
/* A whole recording as `qreg eval` sees it: cut or zero-padded to KWS_CLIP_SAMPLES
 * (KWS_CLIP_CROP_CENTRE), fed KWS_HOP_SAMPLES at a time; returns kws_result's. */
int kws_classify_clip(const int16_t *pcm, size_t n, int32_t *logits);

#ifdef __cplusplus
}
#endif

#endif
