#!/usr/bin/env bash
# bench/mcu_kws.sh — cycles per 10 ms hop of the keyword-spotting loop on an emulated
# Cortex-M0+ and Cortex-M4 (bench/mcu/measure.sh, bench/mcu_kws.c): the integer audio front
# end alone and front end + compiled model, for an export of a model trained on audio
# (`qreg export MODEL.qrm --out DIR --name NAME`), on a real clip (a 16-bit mono WAV file at
# the model's rate); and the flash and static RAM of the front end (its code and its tables,
# the feature-to-input transform included). Every device result must equal the host build's.
#
#   bench/mcu_kws.sh DIR NAME CLIP.wav       (examples/kws-device/run.sh with KWS_KEEP=K
#                                             leaves K/export and the clips under K/data/kws)
#   QRT_BENCH_OUT=dir  keep the ELFs (default: a temp dir)
#
# Budget: one hop every 10 ms is 40,000 cycles on a 4 MHz Cortex-M0+ and 640,000 on a 64 MHz
# Cortex-M4 (zero wait states; the harness's cycle estimate, bench/mcu/README.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:?usage: bench/mcu_kws.sh EXPORT_DIR NAME CLIP.wav}"
NAME="${2:?usage: bench/mcu_kws.sh EXPORT_DIR NAME CLIP.wav}"
WAV="${3:?usage: bench/mcu_kws.sh EXPORT_DIR NAME CLIP.wav}"
MCU="$ROOT/bench/mcu"
for f in model_compiled.c "${NAME}_frontend.c" "${NAME}_audio.c" qrt_frontend.c; do
    [ -f "$DIR/$f" ] || { echo "mcu_kws.sh: $DIR/$f missing (qreg export --with-runtime of an audio model)" >&2; exit 2; }
done
UP="$(tr '[:lower:]' '[:upper:]' <<<"$NAME")"
OUT="${QRT_BENCH_OUT:-$(mktemp -d /tmp/qrt-kws.XXXXXX)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
python3 "$ROOT/examples/kws-device/clips_h.py" "$WAV" >"$OUT/clips.h"
# shellcheck source=bench/mcu_syms.sh
. "$ROOT/bench/mcu_syms.sh"
# the front end's symbols: its code (qrt_frontend.c), tables (NAME_frontend.c) and the
# feature-to-input transform (NAME_audio.c)
FE=("$DIR/qrt_frontend.c" "$DIR/${NAME}_frontend.c" "$DIR/${NAME}_audio.c")
SRCS=("$DIR/model_compiled.c" "$DIR/qrt_kernels.c" "$DIR/qrt_layer.c" "${FE[@]}")
grep -q 'qrt_sdot_' "$DIR/model_compiled.c" && SRCS+=("$DIR/qrt_sparse.c")
sp=()
grep -q 'qrt_sdot_' "$DIR/model_compiled.c" || sp=(-DQRT_ENABLE_BITMAP=0 -DQRT_ENABLE_RLE=0)
MCU_RT_CFLAGS="${sp[*]+${sp[*]}}"
mcu_rt_names "$OUT/fe-cortex-m0plus" cortex-m0plus "$DIR" "${FE[@]}"
mcu_rt_names "$OUT/fe-cortex-m4" cortex-m4 "$DIR" "${FE[@]}"
hop=$(sed -n "s/^#define ${UP}_HOP_SAMPLES \([0-9]*\)u.*/\1/p" "$DIR/${NAME}_audio.h")
rate=$(sed -n "s/^#define ${UP}_SAMPLE_RATE \([0-9]*\)u.*/\1/p" "$DIR/${NAME}_audio.h")
frames=$(sed -n "s/^#define ${UP}_CLIP_FRAMES \([0-9]*\)u.*/\1/p" "$DIR/${NAME}_audio.h")
echo "tools: $(arm-none-eabi-gcc -dumpversion) arm-none-eabi-gcc, $(qemu-system-arm --version | sed -n '1s/.*version \([^ ]*\).*/qemu \1/p'); -Os; export $DIR ($NAME); hop $hop samples at $rate Hz; clip $(basename "$WAV")"
echo
echo "| what | core | insns | cycles_est | per hop | budget | stack B | front end flash B | helpers B | = host |"
echo "|---|---|---|---|---|---|---|---|---|---|"
status=0
names=([1]="front end, one hop" [2]="front end + model, one hop (a)" [3]="front end + model, one hop (b)"
       [4]="logits, once per clip" [5]="whole clip (front end + model + logits)" [6]="whole clip, front end alone")
for mode in 1 2 3 4 5 6; do
    flags=(-std=c99 -I"$ROOT/runtime" -I"$DIR" -I"$OUT" -DM_NAME="$NAME" -DM_UP="$UP"
           "-DAUDIO_H=\"${NAME}_audio.h\"" -DBENCH_MODE="$mode" ${sp[@]+"${sp[@]}"})
    cc -O1 "${flags[@]}" -DHOST_MAIN "$ROOT/bench/mcu_kws.c" "${SRCS[@]}" -o "$OUT/host-$mode"
    want=$("$OUT/host-$mode")
    b="$OUT/mode$mode"
    MCU_BUILD="$b" "$MCU/measure.sh" -ffreestanding "${flags[@]}" "$ROOT/bench/mcu_kws.c" \
        "${SRCS[@]}" >"$b.txt"
    while read -r line; do
        get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
        core=$(sed -n 's/.*core=\([^ ]*\).*/\1/p' <<<"$line")
        cpu=cortex-m0plus mhz=4; [ "$core" = m4 ] && cpu=cortex-m4 mhz=64
        read -r fe helpers < <(mcu_sum_syms "$b/$core/bench.elf" "$OUT/fe-$cpu/names")
        cyc=$(get cycles_est)
        per=$cyc
        [ "$mode" -ge 5 ] && per=$((cyc / frames))
        [ "$mode" = 4 ] && per="-"
        budget=$((mhz * 1000000 * hop / rate))
        use="-"
        [ "$per" != "-" ] && use=$(awk -v c="$per" -v b="$budget" 'BEGIN { printf "%.0f%% of %d", 100 * c / b, b }')
        ok=yes; [ "$(get bench_ret)" = "$want" ] || { ok="NO (host $want)"; status=1; }
        echo "| ${names[$mode]} | $core | $(get insns) | $cyc | $per | $use | $(get stack_peak) | $fe | $helpers | $ok |"
    done < <(grep '^RESULT' "$b.txt")
done
echo
echo "per hop: the mode's cycles (one hop), or the whole clip's / $frames frames; budget: the"
echo "cycles of one hop (10 ms) at 4 MHz (M0+) / 64 MHz (M4). Outputs in $OUT"
exit $status
