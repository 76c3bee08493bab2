/* bench/mcu/crt0.c — start-up code of the Cortex-M measuring harness (bench/mcu/measure.sh).
 *
 * One file for both cores (ARMv6-M Cortex-M0+ and ARMv7E-M Cortex-M4), freestanding, no libc:
 * whatever libgcc/newlib code ends up in an image was pulled in by the bench's own sources.
 *
 *   reset:  copy .data from flash, clear .bss, enable the FPU on hard-float builds,
 *           call bench_setup() (weak, empty by default: prepares inputs, not counted),
 *           then qb_call_bench() (assembly below) paints the free stack and calls bench_main
 *           once; afterwards the painted area is scanned for the deepest word that changed.
 *   report: over Arm semihosting (BKPT 0xAB, SYS_WRITE0), three lines of hexadecimal
 *           ("qb_ret=0x…", "qb_sp=0x…", "qb_low=0x…") that measure.sh decodes; hex needs no
 *           division, which ARMv6-M lacks. Then SYS_EXIT_EXTENDED ends QEMU with status 0.
 *   faults: every exception other than reset prints "qb_fault=<IPSR>" and exits with status 3.
 *
 * The counted window is the code between the labels __qb_call (the `bl bench_main`) and
 * __qb_back (the instruction it returns to): exactly bench_main and all it calls. */
#include <stdint.h>

/* The copy/clear/scan loops must stay loops: no memcpy/memset from libc in the harness. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")

#define QB_PAINT 0xC5C5C5C5u /* stack paint; a bench that stores this very word looks unused */

extern uint32_t __qb_data_load[], __qb_data_start[], __qb_data_end[];
extern uint32_t __qb_bss_start[], __qb_bss_end[], __qb_stack_top[];

int bench_main(void);
void bench_setup(void);
int qb_call_bench(uint32_t *paint_from);
void qb_reset(void);
void qb_fault(void);

uint32_t qb_sp_at_call; /* SP seen by bench_main on entry (written by qb_call_bench) */

__attribute__((weak)) void bench_setup(void) {}

/* Vector table: initial SP, reset, then 14 system exceptions (all to qb_fault). The linker
 * script puts .qb_vectors first in flash, at address 0 where both QEMU boards boot from. */
__attribute__((section(".qb_vectors"), used))
void (*const qb_vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__qb_stack_top, qb_reset,
    qb_fault, qb_fault, qb_fault, qb_fault, qb_fault, qb_fault, qb_fault,
    qb_fault, qb_fault, qb_fault, qb_fault, qb_fault, qb_fault, qb_fault,
};

/* qb_call_bench(paint_from): fixed code around the call, so that the counted window holds
 * nothing of the harness. Fills [paint_from, SP) with QB_PAINT, saves SP, calls bench_main.
 * Thumb-1 only (runs on ARMv6-M). */
__asm__(
    "    .syntax unified\n"
    "    .thumb\n"
    "    .section .text.qb_call_bench,\"ax\",%progbits\n"
    "    .global qb_call_bench\n"
    "    .type qb_call_bench, %function\n"
    "    .thumb_func\n"
    "qb_call_bench:\n"
    "    push  {r4, lr}\n"
    "    mov   r1, sp\n"
    "    ldr   r2, =qb_sp_at_call\n"
    "    str   r1, [r2]\n"
    "    ldr   r2, =0xC5C5C5C5\n"
    "0:  cmp   r0, r1\n"
    "    bhs   1f\n"
    "    stmia r0!, {r2}\n"
    "    b     0b\n"
    "1:\n"
    "    .global __qb_call\n"
    "__qb_call:\n"
    "    bl    bench_main\n"
    "    .global __qb_back\n"
    "__qb_back:\n"
    "    pop   {r4, pc}\n"
    "    .ltorg\n"
    "    .size qb_call_bench, . - qb_call_bench\n");

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void put_hex(const char *key, uint32_t v)
{
    char line[32];
    int n = 0;
    while (key[n]) {
        line[n] = key[n];
        n++;
    }
    line[n++] = '=';
    line[n++] = '0';
    line[n++] = 'x';
    for (int shift = 28; shift >= 0; shift -= 4)
        line[n++] = "0123456789abcdef"[(v >> shift) & 0xFu];
    line[n++] = '\n';
    line[n] = 0;
    semihost(0x04u /* SYS_WRITE0 */, line);
}

static __attribute__((noreturn)) void qb_exit(uint32_t status)
{
    const uint32_t args[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, status};
    semihost(0x20u /* SYS_EXIT_EXTENDED */, args);
    for (;;) {
    }
}

void qb_reset(void)
{
    const uint32_t *src = __qb_data_load;
    for (uint32_t *dst = __qb_data_start; dst < __qb_data_end;)
        *dst++ = *src++;
    for (uint32_t *dst = __qb_bss_start; dst < __qb_bss_end;)
        *dst++ = 0;
#if defined(__ARM_FP)
    /* hard-float build: grant CP10/CP11 full access (CPACR) before any VFP instruction */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    bench_setup();
    int ret = qb_call_bench(__qb_bss_end);
    const uint32_t *low = __qb_bss_end;
    while ((uintptr_t)low < qb_sp_at_call && *low == QB_PAINT)
        low++;
    put_hex("qb_ret", (uint32_t)ret);
    put_hex("qb_sp", qb_sp_at_call);
    put_hex("qb_low", (uint32_t)(uintptr_t)low);
    qb_exit(0);
}

void qb_fault(void)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    put_hex("qb_fault", ipsr);
    qb_exit(3);
}
