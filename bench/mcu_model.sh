#!/usr/bin/env bash
# bench/mcu_model.sh — flash, RAM and instruction counts of an exported model (`qreg export
# MODEL.qrm --out DIR --name NAME`) on an emulated Cortex-M0+ and Cortex-M4
# (bench/mcu/measure.sh), run by the interpreter (model.c + the whole runtime) and
# compiled (model_compiled.c + qrt_kernels.c + qrt_layer.c).
#
#   bench/mcu_model.sh DIR [NAME] [MCU_DIR]     (NAME default: model; MCU_DIR: bench/mcu)
#   QRT_BENCH_OUT=dir  keep the ELFs (default: a temp dir)
#   QRT_BENCH_CFLAGS="-DQRT_SMALL=1 …"  extra compiler flags (host and device builds)
#
# Modes (bench/mcu_model.c): frame = one always-on step after SEQ_LEN frames (interpreter),
# cframe = the same step compiled, cwindow = a whole window compiled (reset, SEQ_LEN pushes,
# logits). Inputs are pseudo-random frames made on the fly. Every device result must equal
# the host build of the same bench (printed "ok"). Prints a markdown table: "model" is the
# blob (interpreter) or the compiled model's own symbols (tensors, functions, and the layer
# descriptors of the --compiled descriptors form);
# "runtime" the runtime's functions and tables; flash also holds the bench glue (~150 B).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:?usage: bench/mcu_model.sh EXPORT_DIR [NAME] [MCU_DIR]}"
NAME="${2:-model}"
MCU="${3:-$ROOT/bench/mcu}"
[ -x "$MCU/measure.sh" ] || { echo "mcu_model.sh: no measure.sh in $MCU" >&2; exit 2; }
for f in model.c model.h model_compiled.c model_compiled.h; do
    [ -f "$DIR/$f" ] || { echo "mcu_model.sh: $DIR/$f missing (run qreg export)" >&2; exit 2; }
done
UP="$(tr '[:lower:]' '[:upper:]' <<<"$NAME")"
OUT="${QRT_BENCH_OUT:-$(mktemp -d /tmp/qrt-model.XXXXXX)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
RT="$ROOT/runtime"
DEV=("$RT/qrt_kernels.c" "$RT/qrt_layer.c" "$RT/qrt_sparse.c" "$RT/qrt_model.c" "$RT/qrt_run.c")
# shellcheck source=bench/mcu_syms.sh
. "$ROOT/bench/mcu_syms.sh"
# the runtime's symbol names as built with the bench's flags (QRT_SMALL has its own helpers)
MCU_RT_CFLAGS="${QRT_BENCH_CFLAGS:-}"
mcu_rt_names "$OUT/syms-cortex-m0plus" cortex-m0plus "$RT" "${DEV[@]}"
mcu_rt_names "$OUT/syms-cortex-m4" cortex-m4 "$RT" "${DEV[@]}"
blob=$(sed -n "s/^#define ${UP}_BLOB_SIZE \([0-9]*\)u.*/\1/p" "$DIR/model.h")

echo "tools: $(arm-none-eabi-gcc -dumpversion) arm-none-eabi-gcc, $(qemu-system-arm --version | sed -n '1s/.*version \([^ ]*\).*/qemu \1/p'); -Os; model $DIR ($NAME)"
echo
echo "| mode | core | flash B | model B | runtime B | helpers B | static RAM B | stack B | insns | cycles_est | = host |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
status=0
for mode in frame cframe cwindow; do
    case $mode in frame) mn=2 srcs=("$DIR/model.c" "${DEV[@]}") ;;
                  cframe|cwindow) mn=4; [ $mode = cwindow ] && mn=5
                          srcs=("$DIR/model_compiled.c" "$RT/qrt_kernels.c" "$RT/qrt_layer.c")
                          # a model with sparse matrices also needs their row kernels
                          grep -q 'qrt_sdot_' "$DIR/model_compiled.c" && srcs+=("$RT/qrt_sparse.c") ;;
    esac
    # a model without sparse matrices: the runtime built without sparse support (as
    # QRT_ENABLE_S* drops unused widths; QRT_BENCH_CFLAGS can add those)
    sp=()
    grep -q 'qrt_sdot_' "$DIR/model_compiled.c" || sp=(-DQRT_ENABLE_BITMAP=0 -DQRT_ENABLE_RLE=0)
    flags=(-std=c99 -I"$RT" -I"$DIR" -DM_NAME="$NAME" -DM_UP="$UP" -DBENCH_MODE="$mn")
    # shellcheck disable=SC2206
    flags+=(${QRT_BENCH_CFLAGS:-} ${sp[@]+"${sp[@]}"})
    cc -O1 "${flags[@]}" -DHOST_MAIN "$ROOT/bench/mcu_model.c" "${srcs[@]}" -o "$OUT/host-$mode"
    want=$("$OUT/host-$mode")
    b="$OUT/$mode"
    MCU_BUILD="$b" "$MCU/measure.sh" -ffreestanding "${flags[@]}" "$ROOT/bench/mcu_model.c" \
        "${srcs[@]}" >"$b.txt"
    while read -r line; do
        get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
        core=$(sed -n 's/.*core=\([^ ]*\).*/\1/p' <<<"$line")
        cpu=cortex-m0plus; [ "$core" = m4 ] && cpu=cortex-m4
        read -r rt helpers < <(mcu_sum_syms "$b/$core/bench.elf" "$OUT/syms-$cpu/names")
        model=$blob
        [ $mn -ge 4 ] && model=$(mcu_prefix_syms "$b/$core/bench.elf" "${NAME}_")
        ok=yes; [ "$(get bench_ret)" = "$want" ] || { ok="NO (host $want)"; status=1; }
        echo "| $mode | $core | $(get net_flash) | $model | $rt | $helpers | $(get net_ram) | $(get stack_peak) | $(get insns) | $(get cycles_est) | $ok |"
    done < <(grep '^RESULT' "$b.txt")
done
echo
echo "Outputs in $OUT"
exit $status
