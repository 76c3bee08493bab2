/* examples/firmware/classify.c — quantize a raw frame, push it, take the logits' argmax:
 * integers only, no libc, no allocation (docs/deploy.md step 5). */
#include "classify.h"
#include "qrt.h" /* qrt_argmax */

static int32_t mem[GESTURE_MEM_WORDS]; /* the model's whole state */
static int ready;                      /* a frame has reached the end of the model */

void classify_reset(void)
{
    gesture_reset(mem);
    ready = 0;
}

int classify_sample(const int16_t raw[GESTURE_N_FEATURES])
{
    int32_t frame[GESTURE_N_FEATURES], logits[GESTURE_N_OUTPUTS];
    gesture_quantize_frame(raw, frame); /* standardize and quantize, integers only */
    ready |= gesture_push(mem, frame);
    if (!ready)
        return -1;
    /* after a push that did not reach the end (a strided convolution), the logits are those
     * of the last frame that did: the state behind them has not changed */
    gesture_logits(mem, logits);
    return (int)qrt_argmax(logits, GESTURE_N_OUTPUTS);
}
