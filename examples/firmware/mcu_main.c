/* examples/firmware/mcu_main.c — the firmware example on an emulated Cortex-M0+ (the
 * project's harness, bench/mcu/measure.sh: bench_main is run once under qemu-system-arm).
 * The samples are compiled in (frames.h, written by run.sh from the same CSV the host program
 * reads: fw_frames[FW_N_FRAMES][GESTURE_N_FEATURES] raw counts, fw_starts[FW_N_STARTS] the
 * frames where a recording starts); each frame's class name (or "-") goes out over Arm
 * semihosting as one line, exactly what host_main.c prints. Returns the number of frames. */
#include <stdint.h>
#include "classify.h"
#include "frames.h"

int bench_main(void);

static void semihost_write0(const char *s) /* SYS_WRITE0: a NUL-terminated string */
{
    register uint32_t r0 __asm__("r0") = 0x04u;
    register const char *r1 __asm__("r1") = s;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

int bench_main(void)
{
    char line[40];
    unsigned s = 0;
    for (unsigned i = 0; i < FW_N_FRAMES; i++) {
        if (s < FW_N_STARTS && fw_starts[s] == i) {
            classify_reset();
            s++;
        }
        int c = classify_sample(fw_frames[i]);
        const char *name = c < 0 ? "-" : gesture_class_names[c];
        unsigned n = 0;
        while (name[n] && n < sizeof line - 2) {
            line[n] = name[n];
            n++;
        }
        line[n++] = '\n';
        line[n] = '\0';
        semihost_write0(line);
    }
    return (int)FW_N_FRAMES;
}
