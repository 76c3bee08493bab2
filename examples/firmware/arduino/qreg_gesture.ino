// qreg_gesture.ino — the qreg firmware example as an Arduino sketch: read a 3-axis analog
// accelerometer 20 times a second, run the exported model on every sample, print the class.
//
// Put next to this file (same folder) the files of
//     qreg export MODEL.qrm --out DIR --name gesture --with-runtime --raw-scale S
// that the compiled model needs: model_compiled.c, model_compiled.h, qrt.h, qrt_layer.h,
// qrt_sparse.h, qrt_format.h, qrt_kernels.c, qrt_layer.c (and qrt_sparse.c if the export
// has it). The Arduino IDE compiles the .c files as C and this sketch as C++; the generated
// headers carry extern "C" guards, so they link. Add to the board's compiler flags (or to the
// top of model_compiled.c, qrt_kernels.c and qrt_layer.c) the QRT_CPPFLAGS of DIR/qrt.mk,
// e.g. -DQRT_ENABLE_BITMAP=0 -DQRT_ENABLE_RLE=0 for a dense model; without them the sparse
// kernels are compiled in too (larger, same results).
//
// S (--raw-scale) is what one count of analogRead is in the units of the training data:
// with the CSV in g and an analog accelerometer giving COUNTS_PER_G counts per g around
// ZERO_G_COUNT, S = 1 / COUNTS_PER_G. The defaults below are for a 10-bit ADC at 3.3 V and a
// 330 mV/g sensor (e.g. ADXL335): 1023 / 3.3 * 0.33 = 102.3 counts per g, S = 0.009775.
#include <Arduino.h>
#include "model_compiled.h"
#include "qrt.h"  // qrt_argmax

static const int PINS[GESTURE_N_FEATURES] = {A0, A1, A2};  // x, y, z
static const int ZERO_G_COUNT = 512;                        // analogRead at 0 g
static const unsigned long PERIOD_MS = 50;                  // 20 Hz, the training data's rate

static int32_t mem[GESTURE_MEM_WORDS];  // the model's whole state: 53 words for bts
static bool ready = false;

void setup()
{
    Serial.begin(115200);
    gesture_reset(mem);
    Serial.print("qreg model ");
    Serial.print(GESTURE_MODEL_FILE);
    Serial.print(", weights ");
    Serial.println(GESTURE_WEIGHT_BITS);
}

void loop()
{
    int16_t raw[GESTURE_N_FEATURES];
    int32_t frame[GESTURE_N_FEATURES], logits[GESTURE_N_OUTPUTS];
    for (unsigned i = 0; i < GESTURE_N_FEATURES; i++)
        raw[i] = (int16_t)(analogRead(PINS[i]) - ZERO_G_COUNT);
    gesture_quantize_frame(raw, frame);  // standardize and quantize, integers only
    if (gesture_push(mem, frame))
        ready = true;
    if (ready) {
        gesture_logits(mem, logits);
        Serial.println(gesture_class_names[qrt_argmax(logits, GESTURE_N_OUTPUTS)]);
    }
    delay(PERIOD_MS);  // a real sketch would time the samples with millis() or a timer
}
