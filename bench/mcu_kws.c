/* bench/mcu_kws.c — the keyword-spotting loop of an export of a model trained on audio
 * (`qreg export MODEL.qrm --out DIR --name NAME`: the compiled model, NAME_frontend.c,
 * NAME_audio.c) on an emulated Cortex-M (bench/mcu/measure.sh), driven by bench/mcu_kws.sh.
 * The PCM is a real clip compiled in (clips.h from examples/kws-device/clips_h.py; its first
 * clip). Flags: -DM_NAME=kws -DM_UP=KWS -DAUDIO_H='"kws_audio.h"', and
 *   -DBENCH_MODE=1   front end alone, one hop in steady state: the hop's samples pushed
 *                    (qrt_frontend_push), one feature frame out (the 10 hops before: setup)
 *   -DBENCH_MODE=2   front end + model, one hop: the same, then NAME_quantize_features and
 *                    NAME_push (the frames before also pushed into the model in setup)
 *   -DBENCH_MODE=3   the same one hop later (a strided layer runs every other frame)
 *   -DBENCH_MODE=4   NAME_logits once, after a clip's frames (setup)
 *   -DBENCH_MODE=5   a whole clip: reset, every sample a hop at a time, logits
 *   -DBENCH_MODE=6   the front end alone over a whole clip
 *   -DHOST_MAIN      build for the host: print what bench_main returns
 * bench_main returns a digest of the outputs; the device must return what the host returns. */
#include <stdint.h>
#include "clips.h"
#include "model_compiled.h"
#include "qrt.h"
#include "qrt_frontend.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#include AUDIO_H /* -DAUDIO_H='"NAME_audio.h"' */

#define HOP CAT(M_UP, _HOP_SAMPLES)
#define WIN CAT(M_UP, _WIN_SAMPLES)
#define NFEAT CAT(M_UP, _FRONTEND_OUT)
#define NIN CAT(M_UP, _N_FEATURES)
#define NOUT CAT(M_UP, _N_OUTPUTS)
#define CLIP CAT(M_UP, _CLIP_SAMPLES)
#define SETUP_HOPS 10u

int bench_main(void);
void bench_setup(void);

static int32_t mem[CAT(M_UP, _MEM_WORDS)];
static int16_t buf[CAT(M_UP, _FRONTEND_BUF_BYTES) / 2];
static int32_t scratch[(CAT(M_UP, _FRONTEND_SCRATCH_BYTES) + 3) / 4];
static qrt_frontend fe;
static int32_t feat[NFEAT], frame[NIN], logits[NOUT];
static uint32_t pos; /* samples of the clip consumed */

static uint32_t mix(uint32_t h, const int32_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        h = (h ^ (uint32_t)v[i]) * 16777619u;
    return h;
}

/* Push pcm[pos, pos + n); each frame into the model when `model`. Returns a digest. */
static uint32_t feed(uint32_t n, int model, uint32_t h)
{
    while (n > 0) {
        size_t used;
        int r = qrt_frontend_push(&fe, kws_pcm + pos, n, &used, feat, scratch, sizeof scratch);
        pos += (uint32_t)used;
        n -= (uint32_t)used;
        if (r < 0)
            return 0xDEADu;
        if (r == 1) {
            h = mix(h, feat, NFEAT);
            if (model) {
                CAT(M_NAME, _quantize_features)(feat, frame);
                CAT(M_NAME, _push)(mem, frame);
            }
        }
    }
    return h;
}

static uint32_t clip(int model)
{
    uint32_t h = 2166136261u;
    pos = 0;
    qrt_frontend_reset(&fe);
    CAT(M_NAME, _reset)(mem);
    for (uint32_t i = 0; i < CLIP; i += HOP)
        h = feed(CLIP - i < HOP ? CLIP - i : HOP, model, h);
    if (model) {
        CAT(M_NAME, _logits)(mem, logits);
        h = mix(h, logits, NOUT);
    }
    return h;
}

void bench_setup(void)
{
    qrt_frontend_init(&fe, &CAT(M_NAME, _frontend), buf, sizeof buf);
    CAT(M_NAME, _reset)(mem);
    pos = 0;
#if BENCH_MODE >= 1 && BENCH_MODE <= 3
    /* the first window and hops before the measured one */
    (void)feed(WIN + (SETUP_HOPS + (BENCH_MODE == 3)) * HOP - HOP, BENCH_MODE >= 2, 0u);
#elif BENCH_MODE == 4
    (void)clip(1);
#endif
}

int bench_main(void)
{
    uint32_t h = 2166136261u;
#if BENCH_MODE >= 1 && BENCH_MODE <= 3
    h = feed(HOP, BENCH_MODE >= 2, h);
    if (BENCH_MODE >= 2)
        h = mix(h, mem, CAT(M_UP, _MEM_WORDS));
#elif BENCH_MODE == 4
    CAT(M_NAME, _logits)(mem, logits);
    h = mix(h, logits, NOUT);
#elif BENCH_MODE == 5
    h = clip(1);
#elif BENCH_MODE == 6
    h = clip(0);
#endif
    return (int)(h >> 1);
}

#ifdef HOST_MAIN
#include <stdio.h>
int main(void)
{
    bench_setup();
    printf("%d\n", bench_main());
    return 0;
}
#endif
