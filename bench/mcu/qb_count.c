/* bench/mcu/qb_count.c — QEMU TCG plugin: how many guest instructions run between two PCs.
 *
 *   qemu-system-arm … -plugin qb_count.so,from=ADDR,to=ADDR,code=BYTES,out=FILE
 *
 * Counting starts after the instruction at `from` runs (crt0.c's `bl bench_main`) and stops
 * when the instruction at `to` is reached (the return point, not counted): the window is
 * bench_main and everything it calls, each executed instruction once (an instruction that an
 * IT block skips is still executed, as a no-op, and counted). Only the first window counts.
 *
 * Every instruction in flash [0, code) gets a slot; an execute callback per instruction
 * counts, for each slot, how often it ran in the window, how often it was entered from the
 * instruction just before it in memory (fall-through) and how often control did not go on
 * to the next instruction in memory (a taken branch, call or return). cost.awk turns these
 * into a cycle estimate. FILE gets:
 *   window N | status done (or status incomplete) | outside N | all N
 *   then one line per instruction run in the window:  pc size count fallin jumpout  (hex pc)
 * "outside": window instructions above `code` (none expected: the image runs from flash);
 * "all": every instruction the guest ran, reset to exit. One vCPU, no interrupts.
 *
 * The size of an instruction is decoded from its first halfword (Thumb: 32-bit when bits
 * 15..11 are 0b11101, 0b11110 or 0b11111), not taken from qemu_plugin_insn_size(): QEMU 7.2
 * reports 4 bytes for a 16-bit instruction two halfwords below a page boundary (its look-ahead
 * read, for an instruction that might cross the page, is attributed to the instruction), which
 * would make the next instruction look like a branch target. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qb_plugin_api.h"

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

struct slot {
    uint32_t pc;
    uint32_t size;
    uint64_t count, fallin, jumpout;
};

static struct slot *slots;     /* one per halfword of [0, code) */
static struct slot outside;    /* every PC at or above `code` */
static uint32_t code_bytes;
static uint64_t from_pc = UINT64_MAX, to_pc = UINT64_MAX;
static char *out_path;
static enum { WAIT, COUNT, DONE } state = WAIT;
static const struct slot *last; /* previous instruction run in the window */
static uint64_t window, all;

static void exec_cb(unsigned int vcpu, void *udata)
{
    struct slot *s = udata;
    (void)vcpu;
    all++;
    if (state == WAIT) {
        if (s->pc == from_pc && s != &outside)
            state = COUNT, last = NULL;
        return;
    }
    if (state == DONE)
        return;
    if (s != &outside && s->pc == to_pc) { /* back from bench_main: always by a jump */
        if (last)
            ((struct slot *)last)->jumpout++;
        state = DONE;
        return;
    }
    window++;
    s->count++;
    if (last && s != &outside && last != &outside) {
        if (last->pc + last->size == s->pc)
            s->fallin++;
        else
            ((struct slot *)last)->jumpout++;
    }
    last = s;
}

static void translate_cb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    for (size_t i = 0, n = qemu_plugin_tb_n_insns(tb); i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        struct slot *s = &outside;
        if (pc < code_bytes) {
            s = &slots[pc / 2];
            s->pc = (uint32_t)pc;
            const uint8_t *bytes = qemu_plugin_insn_data(insn);
            uint32_t first = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8; /* little-endian */
            s->size = first >> 11 >= 0x1du ? 4u : 2u;
        }
        qemu_plugin_register_vcpu_insn_exec_cb(insn, exec_cb, QEMU_PLUGIN_CB_NO_REGS, s);
    }
}

static void exit_cb(qemu_plugin_id_t id, void *udata)
{
    (void)id, (void)udata;
    FILE *f = fopen(out_path, "w");
    if (!f)
        return;
    fprintf(f, "window %" PRIu64 "\nstatus %s\noutside %" PRIu64 "\nall %" PRIu64 "\n", window,
            state == DONE ? "done" : state == COUNT ? "incomplete (no return)" : "incomplete (never called)",
            outside.count, all);
    for (uint32_t i = 0; i < code_bytes / 2; i++)
        if (slots[i].count)
            fprintf(f, "%" PRIx32 " %" PRIu32 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", slots[i].pc,
                    slots[i].size, slots[i].count, slots[i].fallin, slots[i].jumpout);
    fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                                const qemu_info_t *info,
                                                                int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "from=", 5))
            from_pc = strtoull(a + 5, NULL, 0);
        else if (!strncmp(a, "to=", 3))
            to_pc = strtoull(a + 3, NULL, 0);
        else if (!strncmp(a, "code=", 5))
            code_bytes = (uint32_t)strtoul(a + 5, NULL, 0);
        else if (!strncmp(a, "out=", 4))
            out_path = strdup(a + 4);
        else {
            fprintf(stderr, "qb_count: unknown argument %s\n", a);
            return -1;
        }
    }
    if (from_pc == UINT64_MAX || to_pc == UINT64_MAX || !code_bytes || !out_path) {
        fprintf(stderr, "qb_count: need from=, to=, code= and out=\n");
        return -1;
    }
    code_bytes = (code_bytes + 1u) & ~1u;
    slots = calloc(code_bytes / 2, sizeof *slots);
    if (!slots)
        return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, translate_cb);
    qemu_plugin_register_atexit_cb(id, exit_cb, NULL);
    return 0;
}
