#!/usr/bin/env bash
# bench/mcu_sparse.sh — Cortex-M0+ instructions, cycle estimate and code bytes of one
# matrix-vector product in each weight encoding (dense, bitmap, RLE), with
# bench/mcu/measure.sh; matrices from bench/qreg-sparse-bench --emit (random zeros).
#
#   bench/mcu_sparse.sh BENCH_BIN [MCU_DIR]      BENCH_BIN: the built bench/qreg-sparse-bench
#                                                MCU_DIR: the harness (default bench/mcu)
#   SP_SHAPES="bts_gru_in gsc_gru_rec"  SP_BITS="8 4 2"  SP_ZEROS="0 50 75 90 95"
#   SP_MODE=1 (product) or 2 (qrt_sparse_check, amax 1)  SP_CORES=m0plus
#
# Prints a markdown table; every product's bench_ret must equal the host's checksum.
# Code bytes: the kernel's symbol size (arm-none-eabi-nm -S) in the linked image.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:?usage: mcu_sparse.sh BENCH_BIN [MCU_DIR]}"
MCU="${2:-$ROOT/bench/mcu}"
[ -x "$MCU/measure.sh" ] || { echo "mcu_sparse.sh: no measure.sh in $MCU" >&2; exit 2; }
OUT="$(mktemp -d /tmp/qrt-sparse-mcu.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT
RT="$ROOT/runtime"
SHAPES="${SP_SHAPES:-bts_gru_in gsc_gru_rec}"
BITS="${SP_BITS:-8 4 2}"
ZEROS="${SP_ZEROS:-0 50 75 90 95}"
MODE="${SP_MODE:-1}"
CORES="${SP_CORES:-m0plus}"
ENCS=(dense bitmap rle)
echo "tools: $(arm-none-eabi-gcc -dumpversion) arm-none-eabi-gcc, $(qemu-system-arm --version | sed -n '1s/.*version \([^ ]*\).*/qemu \1/p'); -Os; mode $MODE; measure.sh from $MCU"
echo
echo "| matrix | bits | zeros % | encoding | core | weight B | insns | cycles_est | cycles/row | kernel B | ok |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
status=0
for s in $SHAPES; do for b in $BITS; do for z in $ZEROS; do for e in 0 1 2; do
    d="$OUT/$s-$b-$z-$e"
    mkdir -p "$d"
    "$BIN" --emit "$d/sparse_data.h" "$s" "$b" "$z" "$e"
    rows=$(sed -n 's/^#define SP_ROWS \([0-9]*\)/\1/p' "$d/sparse_data.h")
    bytes=$(sed -n 's/^#define SP_BYTES \([0-9]*\)/\1/p' "$d/sparse_data.h")
    want=$(sed -n 's/^#define SP_EXPECT \(-\{0,1\}[0-9]*\)/\1/p' "$d/sparse_data.h")
    [ "$MODE" = 2 ] && want=0
    MCU_CORES="$CORES" MCU_BUILD="$d/b" "$MCU/measure.sh" -std=c99 -ffreestanding -I"$RT" -I"$d" \
        -DBENCH_MODE="$MODE" "$ROOT/bench/mcu_sparse.c" "$RT/qrt_sparse.c" "$RT/qrt_kernels.c" >"$d/out.txt"
    c=$(sed -n 's/^#define SP_C \([0-9]*\)/\1/p' "$d/sparse_data.h")
    case $e in 0) fn=qrt_dot_s$c ;; 1) fn=qrt_sdot_bm_s$c ;; 2) fn=qrt_sdot_rle_s$c ;; esac
    [ "$MODE" = 2 ] && fn=qrt_sparse_check
    for core in $CORES; do
        line=$(grep "^RESULT core=$core " "$d/out.txt")
        insns=$(echo "$line" | sed 's/.*insns=\([0-9]*\).*/\1/')
        cyc=$(echo "$line" | sed 's/.*cycles_est=\([0-9]*\).*/\1/')
        ret=$(echo "$line" | sed 's/.*bench_ret=\(-\{0,1\}[0-9]*\).*/\1/')
        elf="$d/b/$core/bench.elf"
        kb=$(arm-none-eabi-nm -S "$elf" | awk -v f="$fn" '$4 == f {print $2}')
        kb=$((16#${kb:-0}))
        ok=yes
        [ "$ret" = "$want" ] || { ok="NO ($ret != $want)"; status=1; }
        echo "| $s ${rows}× | $b | $z | ${ENCS[$e]} | $core | $bytes | $insns | $cyc | $((cyc / rows)) | $kb | $ok |"
    done
done; done; done; done
exit $status
