#!/usr/bin/env bash
# bench/mcu_requant.sh — qrt_requant as built for the Cortex-M0+ (Thumb-1 assembly,
# QRT_ASM_V6M) and the M4 (SMULL), and qrt_requant15, run on the emulated cores
# (bench/mcu/measure.sh), must return the digest the host computes with qrt_requant_ref
# (bench/mcu_requant.c: every shift, edge and random operands). Exit 1 on a mismatch.
#
#   bench/mcu_requant.sh [MCU_DIR]       QRT_BENCH_CFLAGS="-DQRT_ASM_V6M=0"  the C form
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MCU="${1:-$ROOT/bench/mcu}"
[ -x "$MCU/measure.sh" ] || { echo "mcu_requant.sh: no measure.sh in $MCU" >&2; exit 2; }
OUT="$(mktemp -d /tmp/qrt-requant.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT
RT="$ROOT/runtime"
# shellcheck disable=SC2206
flags=(-std=c99 -I"$RT" ${QRT_BENCH_CFLAGS:-})
cc -O1 "${flags[@]}" -DHOST_MAIN "$ROOT/bench/mcu_requant.c" "$RT/qrt_kernels.c" -o "$OUT/host"
want=$("$OUT/host")
MCU_BUILD="$OUT/b" "$MCU/measure.sh" -ffreestanding "${flags[@]}" "$ROOT/bench/mcu_requant.c" \
    "$RT/qrt_kernels.c" >"$OUT/out.txt"
status=0
while read -r line; do
    core=$(sed -n 's/.*core=\([^ ]*\).*/\1/p' <<<"$line")
    got=$(sed -n 's/.*bench_ret=\([^ ]*\).*/\1/p' <<<"$line")
    insns=$(sed -n 's/.*insns=\([^ ]*\).*/\1/p' <<<"$line")
    size=$(arm-none-eabi-nm -S -t d "$OUT/b/$core/bench.elf" | awk '$4 == "qrt_requant" {print $2 + 0}')
    s15=$(arm-none-eabi-nm -S -t d "$OUT/b/$core/bench.elf" | awk '$4 == "qrt_requant15" {print $2 + 0}')
    if [ "$got" = "$want" ]; then
        echo "$core: qrt_requant ${size} B, qrt_requant15 ${s15} B, digest $got = host ($insns instructions)"
    else
        echo "$core: qrt_requant(15) digest $got, host (qrt_requant_ref) $want: MISMATCH" >&2
        status=1
    fi
done < <(grep '^RESULT' "$OUT/out.txt")
[ -n "$(grep '^RESULT' "$OUT/out.txt")" ] || { cat "$OUT/out.txt" >&2; exit 1; }
exit $status
