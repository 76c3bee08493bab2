/* examples/kws-device/mcu_main.c — the keyword-spotting example on an emulated Cortex-M0+ or
 * M4 (the project's harness, bench/mcu/measure.sh: bench_main runs once under
 * qemu-system-arm). The clips' samples are compiled in (clips.h, written by clips_h.py from the
 * WAV files the host program reads); each clip's line goes out over Arm semihosting exactly as
 * host_main.c prints it, without the path: class,logit_0,…. Returns the number of clips. */
#include <stdint.h>
#include "clips.h"
#include "kws_loop.h"

int bench_main(void);

static void semihost_write0(const char *s) /* SYS_WRITE0: a NUL-terminated string */
{
    register uint32_t r0 __asm__("r0") = 0x04u;
    register const char *r1 __asm__("r1") = s;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

/* ",v" in decimal at p; returns the end */
static char *put_int(char *p, int32_t v)
{
    char d[12];
    unsigned n = 0;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    *p++ = ',';
    if (v < 0)
        *p++ = '-';
    do {
        d[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    while (n)
        *p++ = d[--n];
    return p;
}

int bench_main(void)
{
    static char line[64 + 12 * KWS_N_OUTPUTS];
    for (unsigned k = 0; k < KWS_N_CLIPS; k++) {
        int32_t logits[KWS_N_OUTPUTS];
        int c = kws_classify_clip(kws_pcm + kws_clip_start[k],
                                  kws_clip_start[k + 1] - kws_clip_start[k], logits);
        const char *name = c < 0 ? "-" : kws_class_names[c];
        char *p = line;
        while (*name && p < line + 60)
            *p++ = *name++;
        for (unsigned i = 0; i < KWS_N_OUTPUTS; i++)
            p = put_int(p, c < 0 ? 0 : logits[i]);
        *p++ = '\n';
        *p = '\0';
        semihost_write0(line);
    }
    return (int)KWS_N_CLIPS;
}
