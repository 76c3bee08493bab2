/* examples/firmware/classify.h — the device loop of the firmware example, shared by the host
 * program (host_main.c), the Cortex-M0+ build run under QEMU (mcu_main.c) and, copied, the
 * Arduino sketch: raw sensor counts in, one class per frame out. The model is an export made
 * with `qreg export MODEL.qrm --out DIR --name gesture --with-runtime --raw-scale S`. */
#ifndef CLASSIFY_H
#define CLASSIFY_H

#include <stdint.h>
#include "model_compiled.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start a new recording: forget every frame seen so far. */
void classify_reset(void);
/* Feed one sample (GESTURE_N_FEATURES raw int16 counts); returns the predicted class index
 * (a name in gesture_class_names), or -1 while the model has produced no output yet since
 * the last reset (the first kernel_size - 1 frames of a valid convolution). */
int classify_sample(const int16_t raw[GESTURE_N_FEATURES]);

#ifdef __cplusplus
}
#endif

#endif
