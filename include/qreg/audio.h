/* qreg — audio datasets: reading clips (libsndfile, libsamplerate), MFCC features (FFTW3
 * single precision) and the WAV folder / manifest loader with splits, augmentation and a
 * feature cache. Design notes, formulas and defaults: docs/audio.md.
 *
 * Dimension letters: L samples of a clip, T frames, M mel bands, C cepstral coefficients.
 * Feature matrices are (T, C) row-major: out[t·C + c], as a qr_dataset sample with t = T,
 * f = C.
 *
 * Ownership: arrays returned through `float **` are malloc'd and freed by the caller with
 * free(); opaque handles are freed with their _free function. Every call that fills an
 * output zeroes it first and leaves it zeroed (or NULL) on error.
 *
 * Threads: a qr_mfcc object holds FFTW work buffers, so one object serves one thread at a
 * time; FFTW's planner is not thread-safe, so create qr_mfcc objects (and call
 * qr_audio_load) from one thread at a time. */
#ifndef QREG_AUDIO_H
#define QREG_AUDIO_H

#include "qreg/common.h"
#include "qreg/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reading clips ------------------------------------------------------------------- */

/* libsamplerate converters (SRC_SINC_*). MEDIUM is the default: 121 dB SNR, 90 % of the
 * band, several times faster than BEST (144 dB, 96 %); both are far below the 16-bit
 * noise floor that MFCC of speech sees. */
typedef enum qr_audio_quality {
    QR_AUDIO_QUALITY_BEST = 0,
    QR_AUDIO_QUALITY_MEDIUM = 1,
    QR_AUDIO_QUALITY_FASTEST = 2
} qr_audio_quality;

/* Read one audio file (anything libsndfile decodes: WAV, FLAC, OGG/Vorbis, ...), mix it
 * to mono (mean of the channels), and resample it to `sample_rate` with libsamplerate
 * (skipped when the file already has that rate: the samples are then bit-exact).
 * Samples are floats with full scale ±1 (integer PCM divided by 2^(bits-1)).
 *
 * @param[in]  path          file to read
 * @param[in]  sample_rate   target rate in Hz, in [1000, 384000]
 * @param[in]  max_channels  files with more channels are an error; >= 1
 * @param[out] samples       malloc'd (n) samples; NULL on error
 * @param[out] n             sample count (>= 1 on success)
 * @param[out] err           may be NULL; messages start with the path
 * @return QR_OK; QR_ERR_IO (cannot open or read), QR_ERR_FORMAT (empty file, not audio,
 *         corrupt or truncated, no frames, a non-finite sample, too many channels),
 *         QR_ERR_ARG, QR_ERR_NOMEM. */
QR_API qr_status qr_audio_read(const char *path, double sample_rate, size_t max_channels,
                               qr_audio_quality quality, float **samples, size_t *n,
                               qr_error *err);

/* How a clip is fitted to the configured length. */
typedef enum qr_audio_crop {
    QR_AUDIO_CROP_CENTRE = 0, /* crop the middle / zero-pad equally on both sides (the odd
                                 sample of padding or cropping goes to the end) */
    QR_AUDIO_CROP_START = 1   /* keep the first `len` samples / zero-pad at the end */
} qr_audio_crop;

/* Band-pass x (n samples at sample_rate) in place: a 2nd-order Butterworth high-pass at
 * low_hz, then a 2nd-order Butterworth low-pass at high_hz (RBJ cookbook biquads, Q = 1/√2,
 * coefficients and state in double, zero initial state). Cutoffs are the −3 dB points of
 * each section: |H_hp(f)|² = 1 / (1 + (tan(π·low/fs) / tan(π·f/fs))⁴) and
 * |H_lp(f)|² = 1 / (1 + (tan(π·f/fs) / tan(π·high/fs))⁴).
 * @return QR_OK, or QR_ERR_ARG unless 0 < low_hz < high_hz < sample_rate / 2 (x unchanged) */
QR_API qr_status qr_audio_bandpass(float *x, size_t n, double sample_rate, double low_hz,
                                   double high_hz);
/* Speed change (a tape played faster): x resampled by 1/factor with libsamplerate's
 * converter q, so the duration is divided by factor and every frequency multiplied by it;
 * the round(n/factor) samples are refitted to n by `crop` (qr_audio_fit) into y.
 * @return QR_OK, QR_ERR_ARG (factor outside [0.25, 4], NULL buffers, x and y overlapping),
 *         QR_ERR_NOMEM, QR_ERR_FORMAT (libsamplerate failed). */
QR_API qr_status qr_audio_speed(const float *x, float *y, size_t n, double factor,
                                qr_audio_quality q, qr_audio_crop crop);
/* Tempo change (duration without pitch): WSOLA time-scaling by factor (> 1 faster, so
 * shorter) with Hann windows of W = 2·H samples, H = round(0.016·sample_rate), at a
 * synthesis hop of H (the windows sum to 1), each analysis frame moved by up to ±H/2
 * from its nominal place round(k·H·factor) − H to the offset whose first H samples best
 * correlate with the H samples that follow the previous frame's overlap (its natural
 * continuation; ties keep the nominal place). The round(n/factor)
 * samples are refitted to n by `crop` into y. Frequencies stay (a 1 kHz tone stays 1 kHz).
 * @return QR_OK, QR_ERR_ARG (factor outside [0.25, 4], sample_rate < 1000, NULL or
 *         overlapping buffers), QR_ERR_NOMEM. */
QR_API qr_status qr_audio_tempo(const float *x, float *y, size_t n, double sample_rate,
                                double factor, qr_audio_crop crop);
/* Pitch shift by `semitones` (duration kept): qr_audio_tempo by 1/r, then qr_audio_speed by
 * r, r = 2^(semitones/12); every frequency is multiplied by r, y has n samples.
 * @return as qr_audio_tempo and qr_audio_speed (semitones outside [-24, 24]: QR_ERR_ARG). */
QR_API qr_status qr_audio_pitch(const float *x, float *y, size_t n, double sample_rate,
                                double semitones, qr_audio_quality q, qr_audio_crop crop);
/* A synthetic room impulse response h[0..n): the direct path h[0] = 1, then a diffuse
 * tail h[i] = g·z_i·10^(−3·i/(rt60·sample_rate)) (i >= 1), z_i standard normal from a
 * qr_rng seeded with `seed`, so the tail's amplitude falls by 60 dB in rt60 seconds; g
 * makes the direct-to-reverberant ratio 10·log10(h[0]² / Σ_{i>=1} h[i]²) = drr_db over the
 * n samples. @return QR_OK, QR_ERR_ARG (n < 2, rt60 <= 0, non-finite values). */
QR_API qr_status qr_audio_room_ir(float *h, size_t n, double sample_rate, double rt60,
                                  double drr_db, uint64_t seed);
/* Reverberation in place: x[0..n) convolved with qr_audio_room_ir of
 * ceil(rt60·sample_rate) + 1 samples (to −60 dB), the first n output samples kept (the tail
 * past the end is cut); an FFT convolution (FFTW, single precision).
 * @return QR_OK, QR_ERR_ARG (as qr_audio_room_ir; rt60 > 10 s), QR_ERR_NOMEM. */
QR_API qr_status qr_audio_reverb(float *x, size_t n, double sample_rate, double rt60,
                                 double drr_db, uint64_t seed);
/* As qr_audio_bandpass with Butterworth sections of `order` (2, 4, 6 or 8; 2 is
 * qr_audio_bandpass) each: order/2 biquads at the same cutoff with
 * Q_k = 1 / (2·cos((2k − 1)·π / (2·order))), k = 1 .. order/2, so that
 * |H_hp(f)|² = 1 / (1 + (tan(π·low/fs) / tan(π·f/fs))^(2·order)) and likewise the low-pass;
 * 6·order dB per octave outside the band. @return QR_OK, QR_ERR_ARG (as qr_audio_bandpass;
 * another order). */
QR_API qr_status qr_audio_bandpass_order(float *x, size_t n, double sample_rate, double low_hz,
                                         double high_hz, int order);
/* out[0..len) = x[0..n) cropped or zero-padded by `crop`. out must not overlap x. */
QR_API void qr_audio_fit(const float *x, size_t n, float *out, size_t len, qr_audio_crop crop);

/* ---- MFCC ---------------------------------------------------------------------------- */

typedef enum qr_window {
    QR_WINDOW_HANN = 0,   /* periodic: w[j] = 0.5 − 0.5·cos(2πj/W) */
    QR_WINDOW_HAMMING = 1 /* periodic: w[j] = 0.54 − 0.46·cos(2πj/W) */
} qr_window;

/* MFCC of a clip x[0..L):
 *   pre-emphasis  y[0] = x[0], y[i] = x[i] − a·x[i−1]
 *   centre        if set, W/2 zeros (W = win_length, rounded down) before and after y
 *   framing       frame t is y[t·hop .. t·hop + W), T = 1 + (len(y) − W) / hop (0 if shorter)
 *   window        frame · w, zero-padded at the end to n_fft samples
 *   power         P[k] = |FFT(frame)[k]|², k = 0..n_fft/2 (no 1/n_fft scaling)
 *   mel           E[m] = Σ_k H[m][k]·P[k]: M triangles of peak 1 (no area normalization)
 *                 between M + 2 points equally spaced on the HTK mel scale
 *                 mel(f) = 2595·log10(1 + f/700) from f_min to f_max, evaluated at the bin
 *                 frequencies k·sample_rate/n_fft
 *   log           L[m] = ln(max(E[m], log_floor))
 *   DCT-II        c[i] = s_i·Σ_m L[m]·cos(π·i·(m + ½)/M), s_0 = √(1/M), s_i = √(2/M)
 *                 (orthonormal), i = 0..C−1 (c[0] kept)
 * The FFT is FFTW's single-precision r2c, planned once per object (FFTW_ESTIMATE, so the
 * plan and the results do not depend on timing); the mel sums, log and DCT run in double.
 *
 * Defaults (qr_mfcc_config_default): 16 kHz, W = n_fft = 1024 (64 ms), hop 160 (10 ms),
 * 40 mel bands from 20 Hz to 8 kHz, 13 coefficients, pre-emphasis 0.97, floor 1e-6, Hann,
 * no centring: 1 s at 16 kHz gives T = 1 + (16000 − 1024) / 160 = 94 frames: 94 x 13. */
typedef struct qr_mfcc_config {
    double sample_rate;  /* Hz, [1000, 384000]; 16000 */
    size_t win_length;   /* W samples, [16, n_fft]; 1024 */
    size_t hop_length;   /* samples, >= 1; 160 */
    size_t n_fft;        /* FFT size, [win_length, 65536]; 1024 */
    size_t n_mels;       /* M, [1, 512]; 40 */
    size_t n_mfcc;       /* C, [1, n_mels]; 13 */
    double f_min;        /* Hz, [0, f_max); 20 */
    double f_max;        /* Hz, (f_min, sample_rate/2]; 0 means sample_rate/2 */
    double preemphasis;  /* a in [0, 1); 0.97 (0: off) */
    double log_floor;    /* > 0; 1e-6 */
    qr_window window;    /* QR_WINDOW_HANN */
    int center;          /* 0 or 1; 0 */
} qr_mfcc_config;

QR_API void qr_mfcc_config_default(qr_mfcc_config *c);

/* Check every field (ranges above; every mel band must cover at least one FFT bin).
 * @return QR_OK or QR_ERR_CONFIG with a message naming the field. */
QR_API qr_status qr_mfcc_config_check(const qr_mfcc_config *c, qr_error *err);

typedef struct qr_mfcc qr_mfcc;

/* Check c, build the window, filterbank and DCT tables and the FFTW plan.
 * @return QR_OK, QR_ERR_CONFIG (see qr_mfcc_config_check), QR_ERR_ARG, QR_ERR_NOMEM. */
QR_API qr_status qr_mfcc_new(const qr_mfcc_config *c, qr_mfcc **out, qr_error *err);
QR_API void qr_mfcc_free(qr_mfcc *m);
/* The object's configuration (f_max resolved: never 0). */
QR_API const qr_mfcc_config *qr_mfcc_get_config(const qr_mfcc *m);

/* Number of frames T for a clip of n samples (0 when the clip is shorter than a window). */
QR_API size_t qr_mfcc_frames(const qr_mfcc *m, size_t n);

/* MFCC of x[0..n) into out (T, C). @return QR_OK, QR_ERR_SHAPE (T = 0), QR_ERR_ARG. */
QR_API qr_status qr_mfcc_compute(qr_mfcc *m, const float *x, size_t n, float *out);
/* Log-mel energies L of x[0..n) into out (T, M) (the MFCC before the DCT). */
QR_API qr_status qr_mfcc_log_mel(qr_mfcc *m, const float *x, size_t n, float *out);

/* ---- the integer front end ------------------------------------------------------------ */

/* Which code computes the features of a dataset (qr_audio_options.frontend). */
typedef enum qr_audio_frontend {
    QR_FRONTEND_FLOAT = 0, /* qr_mfcc above (FFTW single precision; mel, log, DCT in double) */
    QR_FRONTEND_INT = 1    /* the device's integer front end (runtime/qrt_frontend.c) on the
                              clip rounded to int16 PCM: features bit-identical to a device's */
} qr_audio_frontend;

/* The integer front end on the host: the tables of runtime/qrt_frontend.h built from an MFCC
 * configuration (window, filterbank and DCT quantized from qr_mfcc's own tables; twiddles,
 * pre-emphasis and log floor from the same settings), and the runtime's code run on them.
 * Outputs are Q16 (value = out / 65536), the MFCC (T, C), or the log-mel energies (T, M) for
 * log_mel = 1. Differences from qr_mfcc, and its measured error: docs/audio.md. An object
 * holds its scratch: one thread at a time. */
typedef struct qr_ifront qr_ifront;

/* The configuration rules of the integer front end beyond qr_mfcc_config_check: n_fft a
 * power of two, no centring. @return QR_OK or QR_ERR_CONFIG naming the field. */
QR_API qr_status qr_ifront_config_check(const qr_mfcc_config *c, qr_error *err);
QR_API qr_status qr_ifront_new(const qr_mfcc_config *c, int log_mel, qr_ifront **out,
                               qr_error *err);
QR_API void qr_ifront_free(qr_ifront *f);
/* Frames of a clip of n samples (as qr_mfcc_frames), values per frame (C, or M for log-mel). */
QR_API size_t qr_ifront_frames(const qr_ifront *f, size_t n);
QR_API size_t qr_ifront_out_len(const qr_ifront *f);
/* Features of pcm[0..n) into out (T, out_len) in Q16, frame by frame (qrt_frontend_frame on
 * each window). @return QR_OK, QR_ERR_SHAPE (T = 0), QR_ERR_ARG. */
QR_API qr_status qr_ifront_compute(qr_ifront *f, const int16_t *pcm, size_t n, int32_t *out);
/* Full scale ±1 to int16: round(x·32768), clamped to [−32768, 32767] (16-bit PCM read by
 * qr_audio_read comes back bit for bit). */
QR_API void qr_audio_to_pcm16(const float *x, size_t n, int16_t *out);
/* qr_ifront_compute on qr_audio_to_pcm16(x), as floats (out / 65536). */
QR_API qr_status qr_ifront_compute_float(qr_ifront *f, const float *x, size_t n, float *out);
/* Write the tables as C for a firmware build: DIR/NAME_frontend.h declaring
 * `extern const qrt_frontend_tables NAME_frontend;` and DIR/NAME_frontend.c defining it
 * (compile with runtime/qrt_frontend.c, runtime/ on the include path).
 * @return QR_OK, QR_ERR_IO, QR_ERR_ARG (NAME not a C identifier), QR_ERR_NOMEM. */
QR_API qr_status qr_ifront_write_c(const qr_ifront *f, const char *dir, const char *name,
                                   qr_error *err);

/* ---- datasets ------------------------------------------------------------------------ */

typedef enum qr_audio_split {
    QR_AUDIO_SPLIT_AUTO = 0,   /* manifest split column if any; else the Speech Commands
                                  lists if either exists in the root; else fractions */
    QR_AUDIO_SPLIT_MANIFEST,   /* the manifest's third column: train, validation, test */
    QR_AUDIO_SPLIT_LISTS,      /* <root>/validation_list.txt, <root>/testing_list.txt */
    QR_AUDIO_SPLIT_FRACTIONS,  /* seeded, stratified per class (as qr_dataset_split) */
    QR_AUDIO_SPLIT_ALL         /* every file in test (a test-only set, as `qreg eval` reads
                                  one); a single class is then enough */
} qr_audio_split;

typedef enum qr_audio_on_error {
    QR_AUDIO_ON_ERROR_FAIL = 0, /* the first bad file is an error naming it */
    QR_AUDIO_ON_ERROR_SKIP = 1  /* bad files are skipped: one warning each, a count at the end */
} qr_audio_on_error;

/* Training-time augmentation, done at load time: each training clip gets `copies`
 * augmented copies (the original is kept), computed once with their own random stream
 * (derived from the seed, the file's index and the copy's index), so the same seed gives
 * the same copies whatever else is loaded. Per copy, in this order:
 *   shift  by s samples, s uniform in [−S, S], S = time_shift·sample_rate; zero fill
 *   noise  with probability noise_prob: a noise file (uniform), a random start, looped
 *          when shorter than the clip, scaled to an SNR uniform in [snr_min, snr_max] dB
 *          against the clip's power (floored at 1e-6, −60 dBFS, so silent clips get
 *          noise at a level), and added
 *   gain   times 10^(g/20), g uniform in [gain_min, gain_max] dB; no clipping
 *   band   with probability band_prob: qr_audio_bandpass_order (band_order) with low
 *          uniform in
 *          [band_low_min, band_low_max] Hz and high uniform in [band_high_min,
 *          band_high_max] Hz (a telephone-like channel; off by default)
 * Before the shift (so on the voice, not the noise), each off by default and applied to
 * the fitted clip, refitted to the clip's length by its crop rule:
 *   speed  with probability speed_prob: qr_audio_speed, factor uniform in [speed_min,
 *          speed_max]
 *   tempo  with probability tempo_prob: qr_audio_tempo, factor uniform in [tempo_min,
 *          tempo_max]
 *   pitch  with probability pitch_prob: qr_audio_pitch, uniform in [pitch_min, pitch_max]
 *          semitones
 *   reverb with probability reverb_prob: qr_audio_reverb, rt60 uniform in [rt60_min,
 *          rt60_max] s, drr uniform in [drr_min, drr_max] dB, the IR's seed from the stream
 * Their random values are drawn after the band-limit ones, so copies without them are the
 * bytes they were before these options existed.
 * All random values are drawn for every copy even when a step is off, so switching one
 * step does not change the others. */
typedef struct qr_audio_augment {
    size_t copies;               /* K; 0: no augmentation */
    double time_shift;           /* seconds, >= 0; 0.1 */
    const char *noise_dir;       /* folder of noise files (WAV/FLAC/OGG), or NULL: none */
    double noise_prob;           /* [0, 1]; 0.8 */
    double snr_min, snr_max;     /* dB; 5, 20 */
    double gain_min, gain_max;   /* dB; −6, 6 */
    double band_prob;            /* [0, 1]; 0 (off) */
    double band_low_min, band_low_max;   /* Hz; 200, 400 (0 < min <= max) */
    double band_high_min, band_high_max; /* Hz; 3000, 3800 (band_low_max < min <= max <
                                            sample_rate / 2, checked when band_prob > 0) */
    int band_order;              /* Butterworth order of each edge: 2, 4, 6, 8; 2 */
    double speed_prob;           /* [0, 1]; 0 (off) */
    double speed_min, speed_max; /* factor; 0.9, 1.1 (within [0.5, 2]) */
    double tempo_prob;           /* [0, 1]; 0 (off) */
    double tempo_min, tempo_max; /* factor; 0.9, 1.1 (within [0.5, 2]) */
    double pitch_prob;           /* [0, 1]; 0 (off) */
    double pitch_min, pitch_max; /* semitones; −2, 2 (within [−12, 12]) */
    double reverb_prob;          /* [0, 1]; 0 (off) */
    double rt60_min, rt60_max;   /* seconds; 0.2, 0.8 (within (0, 2]) */
    double drr_min, drr_max;     /* dB; 0, 10 (within [−20, 40]) */
} qr_audio_augment;

typedef void (*qr_audio_warn_fn)(void *user, const char *msg);

typedef struct qr_audio_options {
    /* Exactly one of root and manifest.
     * root: one subfolder per class (class = folder name; classes in strcmp order; hidden
     *   folders and "_background_noise_" are not classes); audio files are those ending in
     *   .wav, .wave, .flac, .ogg, .oga (any case); other files are ignored (and counted).
     * manifest: a CSV file "path,label[,split]" (paths relative to its folder; an optional
     *   header row "path,label[,split]"; cells may be double-quoted). */
    const char *root;
    const char *manifest;
    double sample_rate;          /* Hz; 16000 (also the MFCC rate) */
    double duration;             /* seconds per clip, (0, 600]; 1.0 */
    qr_audio_crop crop;          /* QR_AUDIO_CROP_CENTRE */
    size_t max_channels;         /* 2 */
    qr_audio_quality quality;    /* QR_AUDIO_QUALITY_MEDIUM */
    qr_audio_on_error on_error;  /* QR_AUDIO_ON_ERROR_FAIL */
    qr_audio_split split;        /* QR_AUDIO_SPLIT_AUTO */
    /* Fractions for QR_AUDIO_SPLIT_FRACTIONS; negative = not given (then 0.1 each). Giving
     * one when the split comes from lists or the manifest is an error. */
    double val_split, test_split;
    uint64_t seed;               /* split and augmentation; 1 */
    qr_mfcc_config mfcc;         /* sample_rate is overridden by the one above */
    qr_audio_augment augment;
    qr_audio_frontend frontend;  /* QR_FRONTEND_FLOAT */
    int cache;                   /* 1: use the feature cache (default) */
    const char *cache_dir;       /* NULL: <root or manifest folder>/.qreg-cache, falling back
                                    to ${XDG_CACHE_HOME:-$HOME/.cache}/qreg */
    qr_audio_warn_fn warn;       /* warnings (skipped files, bad cache), or NULL: dropped */
    void *warn_user;
} qr_audio_options;

QR_API void qr_audio_options_default(qr_audio_options *o);
/* The option rules qr_audio_load checks first (ranges, exactly one of root and manifest,
 * the MFCC configuration at sample_rate). @return QR_OK, QR_ERR_CONFIG, QR_ERR_ARG. */
QR_API qr_status qr_audio_options_check(const qr_audio_options *o, qr_error *err);

typedef enum qr_audio_cache_state {
    QR_AUDIO_CACHE_OFF = 0,      /* not used (disabled, or nothing to cache) */
    QR_AUDIO_CACHE_HIT,          /* read from the cache */
    QR_AUDIO_CACHE_MISS,         /* computed (and written if possible) */
    QR_AUDIO_CACHE_CORRUPT       /* a cache file existed but was bad: ignored, rebuilt */
} qr_audio_cache_state;

typedef struct qr_audio_stats {
    size_t files;                /* audio files listed */
    size_t loaded;               /* decoded (or from the cache) */
    size_t skipped;              /* bad files skipped (QR_AUDIO_ON_ERROR_SKIP) */
    size_t ignored;              /* non-audio files in class folders */
    size_t augmented;            /* augmented copies added to train */
    qr_audio_cache_state cache_features, cache_augment;
    char cache_path[1024];       /* the features cache file used ("" when off) */
} qr_audio_stats;

/* Load an audio dataset as MFCC features: train, val and test share the class list; val
 * and test may be empty (n = 0, classes set). t = frames, f = coefficients.
 * Train holds the training clips in file order, then (with augmentation) copy 1 of every
 * training clip, copy 2, ... Val and test are never augmented.
 *
 * @param[in]  o               options (see above); not modified
 * @param[out] train,val,test  zeroed, then filled; zeroed on error; distinct
 * @param[out] stats           may be NULL
 * @param[out] err             may be NULL; errors name the file (and line of a list or
 *                             manifest)
 * @return QR_OK, QR_ERR_IO, QR_ERR_FORMAT (bad audio, manifest or list; a class without
 *         files; fewer than 2 classes), QR_ERR_CONFIG (bad options), QR_ERR_ARG,
 *         QR_ERR_NOMEM. */
QR_API qr_status qr_audio_load(const qr_audio_options *o, qr_dataset *train, qr_dataset *val,
                               qr_dataset *test, qr_audio_stats *stats, qr_error *err);

/* The audio files of a dataset in the loader's listing order (a loaded sample's source_row
 * indexes it): the paths as opened (root/class/name.wav, or the manifest's cells joined to
 * its folder). Only o's root or manifest is used. *paths: malloc'd array of malloc'd strings
 * (free each, then the array); NULL and 0 on error. @return QR_OK, QR_ERR_IO, QR_ERR_FORMAT,
 * QR_ERR_CONFIG (not exactly one of root and manifest), QR_ERR_NOMEM. */
QR_API qr_status qr_audio_list_paths(const qr_audio_options *o, char ***paths, size_t *n,
                                     qr_error *err);
/* An audio file's own sample rate (from its header; nothing is decoded).
 * @return QR_OK, QR_ERR_IO, QR_ERR_FORMAT (not audio), QR_ERR_ARG. */
QR_API qr_status qr_audio_file_rate(const char *path, double *rate, qr_error *err);

/* ---- the settings of the features (stored in a model) ----------------------------------- */

/* Everything that makes a clip's features, as a JSON object (text, malloc'd; NULL: out of
 * memory or fields out of range), stored in a model trained on audio (qr_model_set_features)
 * and written by `qreg features` as features.json:
 *   {"kind": "audio", "version": 1, "sample_rate": 16000, "duration": 1, "crop": "centre",
 *    "frontend": "float", "standardize": true, "frames": 94, "coefficients": 13,
 *    "mfcc": {"win_length": 1024, "hop_length": 160, "n_fft": 1024, "n_mels": 40,
 *             "n_mfcc": 13, "f_min": 20, "f_max": 8000, "preemphasis": 0.97,
 *             "log_floor": 1e-06, "window": "hann", "center": false}}
 * (f_max resolved: never 0). o's sample_rate overrides o->mfcc.sample_rate, as in loading. */
QR_API char *qr_audio_features_describe(const qr_audio_options *o, int standardize);
/* Set o's sample_rate, duration, crop, frontend and mfcc from a description (other fields
 * untouched); *standardize (may be NULL) from its "standardize". QR_ERR_FORMAT naming a
 * missing or invalid key. */
QR_API qr_status qr_audio_features_apply(const char *json, qr_audio_options *o,
                                         int *standardize, qr_error *err);
/* QR_OK when data was made with the model's settings (every key the model's description
 * holds but "version"; numbers to 1e-9 relative), else QR_ERR_CONFIG listing each difference:
 * "... mfcc.n_fft = 512 (model) vs 1024 (data), frontend = "int" (model) vs "float" (data)". */
QR_API qr_status qr_audio_features_compare(const char *model, const char *data, qr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* QREG_AUDIO_H */
