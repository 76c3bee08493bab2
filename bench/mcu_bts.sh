#!/usr/bin/env bash
# bench/mcu_bts.sh — flash, RAM and instruction counts of a bts-shaped integer model on an
# emulated Cortex-M0+ and Cortex-M4 (the harness bench/mcu/measure.sh), at 8, 4 and 1 bits.
#
#   bench/mcu_bts.sh [MCU_DIR]        (a directory with measure.sh; default: bench/mcu)
#   QRT_BENCH_OUT=dir  keep the generated sources and ELFs (default: a temp dir)
#   QRT_BENCH_BITS="8 4 1", QRT_BENCH_MODES="whole frame load cframe cwhole",
#   QRT_BENCH_CONFIGS="all only"
#
# For each bit-width it builds bench/mcu_bts.c with the generated model (bench/mcu_bts_gen.c)
# in five modes: whole = qrt_run over the 40-frame window; frame = one always-on step
# (qrt_stream_push + qrt_stream_logits); load = qrt_model_load (validation + CRC-32); cframe
# and cwhole = the same model compiled (qrt_builder_write_compiled: const tensors and
# straight-line layer calls, linked with qrt_kernels.c and qrt_layer.c only). Config
# "all" compiles every weight width's kernels and the sparse ones, "only" just the one the
# model uses (QRT_ENABLE_S*; QRT_ENABLE_BITMAP=0 and QRT_ENABLE_RLE=0). Extra compiler flags: -std=c99 -ffreestanding (as bench/mcu/build-arm.sh). Every run's bench_ret must equal the host's result for the same input:
# the device computes bit for bit what the host computes. Prints a markdown table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MCU="${1:-$ROOT/bench/mcu}"
[ -x "$MCU/measure.sh" ] || { echo "mcu_bts.sh: no measure.sh in $MCU" >&2; exit 2; }
OUT="${QRT_BENCH_OUT:-$(mktemp -d /tmp/qrt-bench.XXXXXX)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
RT="$ROOT/runtime"
DEV=("$RT/qrt_kernels.c" "$RT/qrt_layer.c" "$RT/qrt_sparse.c" "$RT/qrt_model.c" "$RT/qrt_run.c")

EXP="$ROOT/export"
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -I"$RT" -I"$EXP" "$ROOT/bench/mcu_bts_gen.c" \
    "${DEV[@]}" "$EXP/qrt_host.c" "$EXP/qrt_builder.c" "$EXP/qrt_codegen.c" "$EXP/qrt_codegen_spec.c" "$EXP/qrt_sparse_host.c" -lm -o "$OUT/mcu_bts_gen"
"$OUT/mcu_bts_gen" "$OUT" >"$OUT/gen.txt"

expect() { sed -n "s/^#define $1 \(-\{0,1\}[0-9]*\)L\{0,1\}.*/\1/p" "$OUT/bts_input.h"; }

# shellcheck source=bench/mcu_syms.sh
. "$ROOT/bench/mcu_syms.sh"
mcu_rt_names "$OUT/syms-cortex-m0plus" cortex-m0plus "$RT" "${DEV[@]}"
mcu_rt_names "$OUT/syms-cortex-m4" cortex-m4 "$RT" "${DEV[@]}"

BITS="${QRT_BENCH_BITS:-8 4 1}"
MODES="${QRT_BENCH_MODES:-whole frame load cframe cwhole}"
CONFIGS="${QRT_BENCH_CONFIGS:-all only}"
echo "tools: $(arm-none-eabi-gcc -dumpversion) arm-none-eabi-gcc, $(qemu-system-arm --version | sed -n '1s/.*version \([^ ]*\).*/qemu \1/p'); -Os; measure.sh from $MCU"
echo
echo "| bits | config | mode | core | flash B | (blob / runtime / helpers / input) | static RAM B | stack B | insns | cycles_est | bench_ret ok |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
status=0
for bits in $BITS; do
    blob=$(expect "BTS_S${bits}_BLOB")
    for cfg in $CONFIGS; do
        flags=()
        if [ "$cfg" = only ]; then
            for w in 1 2 4 8; do
                [ "$w" = "$bits" ] || flags+=("-DQRT_ENABLE_S$w=0")
            done
            flags+=(-DQRT_ENABLE_BITMAP=0 -DQRT_ENABLE_RLE=0) # the model is dense
        fi
        for mode in $MODES; do
            case $mode in whole) mn=1 want=$(expect "BTS_S${bits}_WHOLE") ;;
                          frame) mn=2 want=$(expect "BTS_S${bits}_FRAME41") ;;
                          load) mn=3 want=$blob ;;
                          cframe) mn=4 want=$(expect "BTS_S${bits}_FRAME41") ;;
                          cwhole) mn=5 want=$(expect "BTS_S${bits}_WHOLE") ;;
                          *) echo "unknown mode $mode" >&2; exit 2 ;; esac
            b="$OUT/m$bits-$cfg-$mode"
            if [ $mn -ge 4 ]; then # compiled: the generated model, kernels and layers only
                srcs=("$OUT/bts_s${bits}c.c" "$RT/qrt_kernels.c" "$RT/qrt_layer.c")
            else
                srcs=("$OUT/bts_s$bits.c" "${DEV[@]}")
            fi
            MCU_BUILD="$b" "$MCU/measure.sh" -std=c99 -ffreestanding -I"$RT" -I"$OUT" -DBTS_BITS="$bits" -DBENCH_MODE="$mn" \
                ${flags[@]+"${flags[@]}"} "$ROOT/bench/mcu_bts.c" "${srcs[@]}" >"$b.txt"
            while read -r line; do
                core=$(sed -n 's/.*core=\([^ ]*\).*/\1/p' <<<"$line")
                get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
                cpu=cortex-m0plus; [ "$core" = m4 ] && cpu=cortex-m4
                read -r rt helpers < <(mcu_sum_syms "$b/$core/bench.elf" "$OUT/syms-$cpu/names")
                model=$blob
                [ $mn -ge 4 ] && model="$(mcu_prefix_syms "$b/$core/bench.elf" "bts_s${bits}c_")c"
                ret=$(get bench_ret)
                ok=yes; [ "$ret" = "$want" ] || { ok="NO (want $want)"; status=1; }
                echo "| $bits | $cfg | $mode | $core | $(get net_flash) | $model / $rt / $helpers / 480 | $(get net_ram) | $(get stack_peak) | $(get insns) | $(get cycles_est) | $ok |"
            done < <(grep '^RESULT' "$b.txt")
        done
    done
done
echo
echo "flash = everything the bench adds to an empty image (measure.sh's net_text + net_data): the"
echo "model blob, the runtime, libgcc/newlib helpers, the 480-byte test input and the bench glue."
echo "static RAM = net_data + net_bss: qrt_model (48 B), qrt_stream, the scratch. Outputs in $OUT"
exit $status
