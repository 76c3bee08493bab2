#!/usr/bin/env bash
# bench/mcu/measure.sh — flash, RAM, executed instructions, a cycle estimate and the peak stack
# of one call of `int bench_main(void)` on Cortex-M0+ and Cortex-M4, run under qemu-system-arm.
# See bench/mcu/README.md for what each number means and its limits.
#
#   bench/mcu/measure.sh [compiler flags…] SOURCE.c|.s|.S…
#     e.g. bench/mcu/measure.sh -Iruntime -DN=64 bench.c runtime/qrt_kernels.c
#
# Environment (all optional):
#   MCU_CORES="m0plus m4"    cores to build and run
#   MCU_BUILD=DIR            keep everything in DIR (default: a new /tmp/qb-measure.* dir);
#                            DIR/CORE/bench.elf is the measured image, DIR/CORE/base.elf the
#                            empty baseline, DIR/CORE/{count,cycles,semihost}.txt the results
#   MCU_OPT=-Os              optimisation flag
#   FLASH_m0plus=262144 RAM_m0plus=32768 FLASH_m4=1048576 RAM_m4=131072   budgets (bytes)
#   EXTRA_CFLAGS_m0plus, EXTRA_CFLAGS_m4   per-core extra compiler flags
#   MCU_P=2 (M4 pipeline refill), MCU_DIV=12 (M4 divide), MCU_MUL32=0 (M0+ 32-cycle multiplier)
#   MCU_TIMEOUT=300          seconds per QEMU run
#   MCU_CROSSCHECK=1         count again from QEMU's own exec trace (slow; no plugin involved)
#
# Prints a table and, last, one line per core for scripts:
#   RESULT core=m0plus text= data= bss= net_text= net_data= net_bss= net_flash= net_ram=
#          insns= cycles_est= stack_peak= bench_ret=
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CORES="${MCU_CORES:-m0plus m4}"
OPT="${MCU_OPT:--Os}"
TIMEOUT="${MCU_TIMEOUT:-300}"

if [ $# -eq 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
fi

srcs=() flags=()
for a in "$@"; do
    case $a in
        *.c|*.s|*.S)
            [ -f "$a" ] || { echo "measure.sh: $a: no such file" >&2; exit 2; }
            srcs+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")") ;;
        *) flags+=("$a") ;;
    esac
done
[ ${#srcs[@]} -gt 0 ] || { echo "measure.sh: no source file given" >&2; exit 2; }

for t in arm-none-eabi-gcc arm-none-eabi-size arm-none-eabi-nm arm-none-eabi-objdump \
         qemu-system-arm cc awk timeout; do
    command -v "$t" >/dev/null || {
        echo "measure.sh: $t not found; on Debian/Ubuntu:" >&2
        echo "  apt-get update && apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc" >&2
        exit 2; }
done

BUILD="${MCU_BUILD:-$(mktemp -d /tmp/qb-measure.XXXXXX)}"
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"

# the counting plugin, built with the host compiler (a few hundredths of a second)
PLUGIN="$BUILD/qb_count.so"
cc -O2 -fPIC -shared -Wall -Wextra -o "$PLUGIN" "$HERE/qb_count.c" 2>"$BUILD/plugin.log" || {
    echo "measure.sh: building the QEMU plugin failed:" >&2; cat "$BUILD/plugin.log" >&2; exit 1; }

# bench_setup and bench_main are the only entry points; the rest is garbage-collected
CFLAGS_COMMON=("$OPT" -g -ffunction-sections -fdata-sections -Wall -Wextra)
# shellcheck disable=SC2054  # the commas belong to the options
LDFLAGS_COMMON=(-nostartfiles --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections -T "$HERE/mcu.ld")

link() { # core out.elf sources… — one gcc call: crt0.c + the sources, compiled and linked
    local core=$1 out=$2; shift 2
    local cpu fl ram extra
    case $core in
        m0plus) cpu=cortex-m0plus fl=${FLASH_m0plus:-262144} ram=${RAM_m0plus:-32768} extra=${EXTRA_CFLAGS_m0plus:-} ;;
        m4) cpu=cortex-m4 fl=${FLASH_m4:-1048576} ram=${RAM_m4:-131072} extra=${EXTRA_CFLAGS_m4:-} ;;
    esac
    # shellcheck disable=SC2086
    arm-none-eabi-gcc -mcpu=$cpu -mthumb "${CFLAGS_COMMON[@]}" ${flags[@]+"${flags[@]}"} $extra \
        "$HERE/crt0.c" "$@" "${LDFLAGS_COMMON[@]}" \
        -Wl,--defsym=QB_FLASH="$fl",--defsym=QB_RAM="$ram" -Wl,-Map="${out%.elf}.map" -o "$out"
}
sizes() { arm-none-eabi-size -B "$1" | awk 'NR == 2 {print $1, $2, $3}'; }
addr() { arm-none-eabi-nm "$1" | awk -v s="$2" '$3 == s {print "0x" $1}'; }
signed() { local v=$(($1)); [ "$v" -ge $((1 << 31)) ] && v=$((v - (1 << 32))); echo "$v"; }

echo "tools: $(arm-none-eabi-gcc -dumpversion) arm-none-eabi-gcc, $(qemu-system-arm --version | sed -n '1s/.*version \([^ ]*\).*/qemu \1/p'), bench/mcu harness"
echo "flags: $OPT -ffunction-sections -fdata-sections -Wl,--gc-sections nano.specs nosys.specs ${flags[*]:-}"
echo "build: $BUILD"
printf '%-6s %8s %6s %6s | %8s %8s %7s | %8s %7s | %11s %11s %6s  %s\n' core text data bss \
    net_text net_data net_bss flash ram insns cycles_est stack bench_ret
results=()
for core in $CORES; do
    case $core in m0plus|m4) ;; *) echo "measure.sh: unknown core $core (m0plus, m4)" >&2; exit 2 ;; esac
    D="$BUILD/$core"
    mkdir -p "$D"
    printf 'int bench_main(void);\nint bench_main(void) { return 0; }\n' >"$D/empty.c"
    { link "$core" "$D/bench.elf" "${srcs[@]}" && link "$core" "$D/base.elf" "$D/empty.c"; } \
        >"$D/build.log" 2>&1 || { echo "measure.sh: $core build failed:" >&2; tail -n 40 "$D/build.log" >&2; exit 1; }

    read -r t d b < <(sizes "$D/bench.elf")
    read -r t0 d0 b0 < <(sizes "$D/base.elf")
    nt=$((t - t0)) nd=$((d - d0)) nb=$((b - b0))

    call=$(addr "$D/bench.elf" __qb_call)
    back=$(addr "$D/bench.elf" __qb_back)
    if [ -z "$call" ] || [ -z "$back" ]; then
        echo "measure.sh: __qb_call/__qb_back not in the image" >&2; exit 1
    fi
    code=$(arm-none-eabi-objdump -h "$D/bench.elf" | awk '$2 == ".text" {print "0x" $3}')

    # shellcheck disable=SC2054  # the commas belong to the options
    qemu=(qemu-system-arm -display none -monitor none -serial none -nodefaults
          -chardev "file,id=sh,path=$D/semihost.txt"
          -semihosting-config enable=on,target=native,chardev=sh -kernel "$D/bench.elf")
    case $core in
        m0plus) # nRF51 (a cortex-m0: ARMv6-M as the M0+), flash and RAM resized to the budgets
            qemu+=(-M microbit -global "nrf51-soc.flash-size=${FLASH_m0plus:-262144}"
                   -global "nrf51-soc.sram-size=${RAM_m0plus:-32768}") ;;
        m4) qemu+=(-M mps2-an386) ;;
    esac
    rm -f "$D/count.txt" "$D/semihost.txt"
    rc=0
    timeout "$TIMEOUT" "${qemu[@]}" -plugin "$PLUGIN,from=$call,to=$back,code=$code,out=$D/count.txt" \
        >"$D/qemu.out" 2>"$D/qemu.err" || rc=$?
    if [ $rc -ne 0 ] || ! grep -qx 'status done' "$D/count.txt" 2>/dev/null; then
        echo "measure.sh: $core run failed (exit $rc: 3 = fault, 124 = timeout)" >&2
        { cat "$D/semihost.txt" "$D/qemu.err"; head -n 4 "$D/count.txt"; } 2>/dev/null >&2
        exit 1
    fi
    insns=$(awk '$1 == "window" {print $2}' "$D/count.txt")
    ret=$(signed "$(sed -n 's/^qb_ret=//p' "$D/semihost.txt")")
    stack=$(( $(sed -n 's/^qb_sp=//p' "$D/semihost.txt") - $(sed -n 's/^qb_low=//p' "$D/semihost.txt") ))

    arm-none-eabi-objdump -d --no-show-raw-insn "$D/bench.elf" >"$D/bench.dis"
    awk -v core="$core" -v P="${MCU_P:-2}" -v DIV="${MCU_DIV:-12}" -v MUL32="${MCU_MUL32:-0}" \
        -f "$HERE/cost.awk" "$D/count.txt" "$D/bench.dis" >"$D/cycles.txt"
    cyc=$(awk '$1 == "cycles_est" {print $2}' "$D/cycles.txt")
    costed=$(awk '$1 == "insns_costed" {print $2}' "$D/cycles.txt")
    [ "$costed" = "$insns" ] || echo "measure.sh: $core: cost model saw $costed of $insns instructions" >&2

    printf '%-6s %8d %6d %6d | %8d %8d %7d | %8d %7d | %11d %11d %6d  %s\n' "$core" "$t" "$d" "$b" \
        "$nt" "$nd" "$nb" $((nt + nd)) $((nd + nb)) "$insns" "$cyc" "$stack" "$ret"
    results+=("RESULT core=$core text=$t data=$d bss=$b net_text=$nt net_data=$nd net_bss=$nb net_flash=$((nt + nd)) net_ram=$((nd + nb)) insns=$insns cycles_est=$cyc stack_peak=$stack bench_ret=$ret")

    if [ "${MCU_CROSSCHECK:-0}" = 1 ]; then
        # one instruction per translation block, no chaining: QEMU logs every executed insn
        n=$(timeout "$TIMEOUT" "${qemu[@]}" -singlestep -d exec,nochain -D /dev/stdout 2>/dev/null |
            awk -v from="$(printf '%08x' "$call")" -v to="$(printf '%08x' "$back")" '
                /^Trace / { split($0, f, "/"); pc = f[2]
                            if (on && pc == to) { print n; ok = 1; exit }
                            if (on) n++
                            if (!on && pc == from) on = 1 }
                END { if (!ok) print "incomplete" }')
        echo "crosscheck $core: QEMU exec trace counts $n instructions (plugin $insns)"
    fi
done
printf '%s\n' "${results[@]}"
