/* libFuzzer target: the audio reader and the features made from a clip, as the audio
 * dataset loader does for each file (datasets/audio_decode.c: libsndfile from memory, the
 * mono mix, the truncation check, libsamplerate; datasets/mfcc.c: pre-emphasis, framing,
 * FFTW, mel filterbank, log, DCT).
 *
 * The input is an audio file's bytes (WAV, FLAC, AIFF, ... anything libsndfile reads). It is
 * decoded with qr_audio_read_mem at 16 kHz (at most 2 channels, the fastest converter), and
 * a decoded clip is fitted to 1 s (qr_audio_fit, centre) and turned into MFCC features with
 * the default configuration (94 × 13), as the loader does; a clip of at most 1 s also into
 * log-mel features of the uncut clip (none when it is shorter than one window). With QREG_FUZZ_STRICT=1 in the environment the
 * features must also be finite (known to fail on clips with huge finite samples: finding 6
 * of issue 16, see docs/fuzzing.md). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/audio_impl.h"
#include "fuzz_util.h"
#include "qreg/audio.h"

#define RATE 16000.0

static qr_mfcc *mfcc;
static int strict;

static void check_finite(const float *v, size_t n, const char *what)
{
    if (!strict)
        return;
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(isfinite(v[i]), "%s value %zu is %g", what, i, (double)v[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *e = getenv("QREG_FUZZ_STRICT");
    strict = e && strcmp(e, "1") == 0;
    qr_mfcc_config c;
    qr_mfcc_config_default(&c);
    qr_error err = {{0}};
    if (qr_mfcc_new(&c, &mfcc, &err) != QR_OK) {
        fprintf(stderr, "qreg fuzz: qr_mfcc_new: %s\n", err.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float *x = NULL;
    size_t n = 0;
    qr_error err = {{0}};
    qr_status s = qr_audio_read_mem("fuzz.wav", data, size, RATE, 2, QR_AUDIO_QUALITY_FASTEST,
                                    &x, &n, &err);
    if (s != QR_OK) {
        FUZZ_ASSERT(x == NULL && n == 0, "a failed read left samples");
        FUZZ_ASSERT(err.msg[0] != '\0', "read failed (%s) without a message", qr_strerror(s));
        return 0;
    }
    FUZZ_ASSERT(x != NULL && n >= 1, "read gave %zu samples", n);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(isfinite(x[i]), "sample %zu is %g", i, (double)x[i]);

    const size_t L = (size_t)RATE;
    size_t T = qr_mfcc_frames(mfcc, L);
    const qr_mfcc_config *c = qr_mfcc_get_config(mfcc);
    float *clip = malloc(L * sizeof *clip);
    float *feat = malloc(T * c->n_mfcc * sizeof *feat);
    FUZZ_ASSERT(clip && feat, "out of memory");
    qr_audio_fit(x, n, clip, L, QR_AUDIO_CROP_CENTRE);
    s = qr_mfcc_compute(mfcc, clip, L, feat);
    FUZZ_ASSERT(s == QR_OK, "mfcc of a 1 s clip: %s", qr_strerror(s));
    check_finite(feat, T * c->n_mfcc, "mfcc");
    free(feat);
    free(clip);

    if (n <= L) {
        size_t Tn = qr_mfcc_frames(mfcc, n);
        float *f2 = malloc((Tn ? Tn : 1) * c->n_mels * sizeof *f2);
        FUZZ_ASSERT(f2, "out of memory");
        s = qr_mfcc_log_mel(mfcc, x, n, f2);
        FUZZ_ASSERT(Tn == 0 ? s == QR_ERR_SHAPE : s == QR_OK, "log-mel of %zu samples: %s", n,
                    qr_strerror(s));
        if (s == QR_OK)
            check_finite(f2, Tn * c->n_mels, "log-mel");
        free(f2);
    }
    free(x);
    return 0;
}
