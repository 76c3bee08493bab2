/* examples/kws-device/kws_loop.c — PCM → front end → compiled model → keyword (kws_loop.h). */
#include "kws_loop.h"
#include "qrt.h" /* qrt_argmax */

static int32_t mem[KWS_MEM_WORDS];                                 /* the model's state */
static int16_t fe_buf[KWS_FRONTEND_BUF_BYTES / 2];                  /* the front end's window */
static int32_t fe_scratch[(KWS_FRONTEND_SCRATCH_BYTES + 3) / 4];   /* one frame's work */
static qrt_frontend fe;
static int ready; /* a frame has reached the end of the model since kws_start */

void kws_start(void)
{
    /* the tables are checked here (once per clip: cheap next to a frame) */
    qrt_frontend_init(&fe, &kws_frontend, fe_buf, sizeof fe_buf);
    kws_reset(mem);
    ready = 0;
}

int kws_feed(const int16_t *pcm, size_t n)
{
    int frames = 0;
    while (n > 0) {
        int32_t feat[KWS_FRONTEND_OUT], frame[KWS_N_FEATURES];
        size_t used;
        int r = qrt_frontend_push(&fe, pcm, n, &used, feat, fe_scratch, sizeof fe_scratch);
        if (r < 0)
            return r;
        pcm += used;
        n -= used;
        if (r == 1) { /* a feature frame: to the model's input, into the model */
            kws_quantize_features(feat, frame);
            ready |= kws_push(mem, frame);
            frames++;
        }
    }
    return frames;
}

int kws_result(int32_t *logits)
{
    if (!ready)
        return -1;
    kws_logits(mem, logits);
    return (int)qrt_argmax(logits, KWS_N_OUTPUTS);
}

/* n zeros, a hop at a time */
static int feed_zeros(size_t n)
{
    static const int16_t zeros[KWS_HOP_SAMPLES];
    while (n > 0) {
        size_t k = n < KWS_HOP_SAMPLES ? n : KWS_HOP_SAMPLES;
        int r = kws_feed(zeros, k);
        if (r < 0)
            return r;
        n -= k;
    }
    return 0;
}

int kws_classify_clip(const int16_t *pcm, size_t n, int32_t *logits)
{
    const size_t len = KWS_CLIP_SAMPLES;
    size_t before = 0, after = 0;
    if (n >= len) { /* cut: the middle, or the start */
        pcm += KWS_CLIP_CROP_CENTRE ? (n - len) / 2 : 0;
        n = len;
    } else { /* pad: both sides, or the end */
        before = KWS_CLIP_CROP_CENTRE ? (len - n) / 2 : 0;
        after = len - n - before;
    }
    kws_start();
    if (feed_zeros(before) < 0)
        return -1;
    for (size_t i = 0; i < n; i += KWS_HOP_SAMPLES) /* as a microphone delivers them */
        if (kws_feed(pcm + i, n - i < KWS_HOP_SAMPLES ? n - i : KWS_HOP_SAMPLES) < 0)
            return -1;
    if (feed_zeros(after) < 0)
        return -1;
    return kws_result(logits);
}
