/* examples/firmware/host_main.c — the firmware example on the host: read raw sensor samples
 * from a CSV file (or standard input), one frame per line of GESTURE_N_FEATURES integer counts
 * (e.g. "x,y,z" of an accelerometer); an empty line starts a new recording (the model is
 * reset); lines starting with '#' and a header line are skipped. Prints one line per frame:
 * the predicted class name, or "-" before the model's first output.
 *   usage: classify [FILE.csv]                                                            */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"

int main(int argc, char **argv)
{
    FILE *f = argc > 1 ? fopen(argv[1], "r") : stdin;
    if (!f) {
        fprintf(stderr, "classify: %s: cannot open\n", argv[1]);
        return 1;
    }
    char line[512];
    unsigned long lineno = 0;
    classify_reset();
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\n' || *p == '\r' || !*p) { /* a new recording */
            classify_reset();
            continue;
        }
        if (*p == '#' || (lineno == 1 && isalpha((unsigned char)*p)))
            continue;
        int16_t raw[GESTURE_N_FEATURES];
        for (unsigned i = 0; i < GESTURE_N_FEATURES; i++) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < -32768 || v > 32767) {
                fprintf(stderr, "classify: line %lu: expected %u integer counts\n", lineno,
                        (unsigned)GESTURE_N_FEATURES);
                return 1;
            }
            raw[i] = (int16_t)v;
            p = end;
            while (*p == ' ' || *p == ',')
                p++;
        }
        int c = classify_sample(raw);
        puts(c < 0 ? "-" : gesture_class_names[c]);
    }
    return 0;
}
