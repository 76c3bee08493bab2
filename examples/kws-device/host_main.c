/* examples/kws-device/host_main.c — the keyword-spotting example on the host: each WAV file
 * given (16-bit PCM, mono, at the model's KWS_SAMPLE_RATE) through the device loop
 * (kws_loop.c: front end hop by hop, compiled model); prints one line per clip:
 *     path,class,logit_0,…,logit_{N-1}
 * the class name (or "-" if the clip gave the model no output) and the integer logits.
 *   usage: kws_classify FILE.wav …                                                        */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kws_loop.h"

static unsigned rd16(const unsigned char *p) { return p[0] | (unsigned)p[1] << 8; }
static unsigned long rd32(const unsigned char *p)
{
    return rd16(p) | (unsigned long)rd16(p + 2) << 16;
}

/* The samples of a 16-bit mono PCM WAV file at KWS_SAMPLE_RATE (malloc'd), or NULL after a
 * message naming the file. */
static int16_t *read_wav(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char h[12], ck[8], fmt[16];
    int16_t *pcm = NULL;
    int have_fmt = 0;
    const char *why = "not a RIFF/WAVE file";
    if (!f) {
        fprintf(stderr, "kws_classify: %s: cannot open\n", path);
        return NULL;
    }
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
        goto bad;
    while (fread(ck, 1, 8, f) == 8) {
        unsigned long len = rd32(ck + 4);
        if (!memcmp(ck, "fmt ", 4) && len >= 16) {
            if (fread(fmt, 1, 16, f) != 16 || fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR))
                goto bad;
            why = "not 16-bit mono PCM at the model's sample rate";
            if ((rd16(fmt) != 1 && rd16(fmt) != 0xFFFEu) || rd16(fmt + 2) != 1 ||
                rd32(fmt + 4) != KWS_SAMPLE_RATE || rd16(fmt + 14) != 16)
                goto bad;
            have_fmt = 1;
        } else if (!memcmp(ck, "data", 4) && have_fmt) {
            *n = len / 2;
            pcm = malloc(*n * 2 + 2);
            why = "truncated";
            if (!pcm || fread(pcm, 2, *n, f) != *n)
                goto bad;
            for (size_t i = 0; i < *n; i++) { /* little-endian in the file */
                const unsigned char *b = (const unsigned char *)&pcm[i];
                pcm[i] = (int16_t)(b[0] | b[1] << 8);
            }
            fclose(f);
            return pcm;
        } else if (fseek(f, (long)(len + (len & 1)), SEEK_CUR)) {
            goto bad;
        }
    }
bad:
    fprintf(stderr, "kws_classify: %s: %s (needs 16-bit mono PCM WAV at %u Hz)\n", path, why,
            (unsigned)KWS_SAMPLE_RATE);
    free(pcm);
    fclose(f);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: kws_classify FILE.wav …\n");
        return 2;
    }
    for (int a = 1; a < argc; a++) {
        size_t n = 0;
        int16_t *pcm = read_wav(argv[a], &n);
        if (!pcm)
            return 1;
        int32_t logits[KWS_N_OUTPUTS];
        int c = kws_classify_clip(pcm, n, logits);
        free(pcm);
        printf("%s,%s", argv[a], c < 0 ? "-" : kws_class_names[c]);
        for (unsigned i = 0; i < KWS_N_OUTPUTS; i++)
            printf(",%ld", c < 0 ? 0L : (long)logits[i]);
        putchar('\n');
    }
    return 0;
}
