/* qreg eval --int --stream: the integer model run frame by frame over continuous recordings
 * (datasets/motion.py --continuous), per-frame and per-event metrics. */
#ifndef QREG_STREAM_EVAL_H
#define QREG_STREAM_EVAL_H

#include <stddef.h>
#include "qreg/model.h"

typedef struct qr_stream_opts {
    int on;                 /* --stream given */
    size_t k;               /* frames a prediction must hold to count as a detection (3) */
    double tolerance;       /* s, allowed before the start and after the end of an event (1) */
    double rate;            /* frames per second of the recordings (20: motion.py) */
    const char *frames_out; /* one line per frame: the predicted class name, "-" before the
                               model's first output (NULL: none) */
    int window;             /* --stream-window: for comparison, classify each frame by the
                               window of the model's T frames ending at it, with a reset per
                               window (as windowed evaluation does); "-" before T frames */
} qr_stream_opts;

#define QR_STREAM_OPTS_INIT {0, 3, 1.0, 20.0, NULL, 0}

/* If argv[*i] is one of --stream, --stream-k N, --stream-tolerance S, --stream-rate HZ,
 * --stream-out FILE, --stream-window: consume it (and its value), return 1, or -1 on a bad value; else 0. */
int qr_stream_opt(int argc, char **argv, int *i, qr_stream_opts *o);

/* Run the integer model of m over the recordings in the CSV at path and print the metrics
 * (json: one JSON object). Returns the exit code (0 ok, 1 failure). */
int qr_stream_eval(qr_model *m, const char *model_path, const char *path,
                   const qr_stream_opts *o, int json);

#endif
