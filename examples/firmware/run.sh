#!/usr/bin/env bash
# examples/firmware/run.sh — the firmware example end to end, as a new user would run it, and
# the check that the device predicts what `qreg eval --int` predicts (docs/deploy.md):
#   1. simulated motion data (datasets/motion.py --small) with continuous recordings
#      (--continuous: a label per frame), short bts training (examples/bts.json), export with
#      --with-runtime --raw-scale 1/512 (motion.py's sensor: 12 bits over ±4 g, 512 counts/g);
#   2. the data as raw int16 counts: every test window (a blank line, i.e. a reset, before
#      each) and every continuous recording (a reset at its start);
#   3. the host program (host_main.c + classify.c, built with the export's qrt.mk): one class
#      per frame, compared line by line with `qreg eval --int --stream --stream-out` on the same
#      frames in g (per window with a reset per window: its last frame is the window's
#      prediction, and the accuracy over those equals `qreg eval --int`'s integer accuracy on
#      the windows; per recording with one reset at its start);
#   4. the same program for a Cortex-M0+ (mcu_main.c, the frames compiled in), run under
#      qemu-system-arm with the project's harness (bench/mcu/measure.sh), its semihosting
#      output compared with the host's;
#   5. the Arduino sketch (arduino/qreg_gesture.ino) compiled as C++ with arm-none-eabi-g++
#      against a stub Arduino.h, the export's files compiled as C, and linked;
#   6. the streaming evaluation of the same model on the recordings (qreg eval --int --stream).
# Any difference fails (exit 1). Needs python3, cc, arm-none-eabi-gcc/g++ with newlib-nano,
# qemu-system-arm (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm); exits
# 77 (skipped) without the ARM tools unless FW_REQUIRE_ARM=1.
#
#   examples/firmware/run.sh            from the source tree, with build/qreg
#   QREG=path/to/qreg  FW_EPOCHS=20  FW_KEEP=dir (keep every file there)  FW_MODEL=m.qrm (skip
#   data+training: use this model and FW_DATA=dir with test.csv and stream.csv)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
QREG="${QREG:-$ROOT/build/qreg}"
EPOCHS="${FW_EPOCHS:-20}"
[ -x "$QREG" ] || { echo "run.sh: $QREG not found (build qreg first, or set QREG)" >&2; exit 2; }
arm=1
for t in arm-none-eabi-gcc arm-none-eabi-g++ qemu-system-arm; do
    command -v "$t" >/dev/null || arm=0
done
if [ $arm = 0 ]; then
    echo "run.sh: no arm-none-eabi-gcc/g++ or qemu-system-arm (Debian: gcc-arm-none-eabi" \
         "libnewlib-arm-none-eabi qemu-system-arm)" >&2
    [ "${FW_REQUIRE_ARM:-0}" = 1 ] && exit 1
    exit 77
fi
if [ -n "${FW_KEEP:-}" ]; then
    W="$FW_KEEP"
    mkdir -p "$W"
    W="$(cd "$W" && pwd)"
else
    W="$(mktemp -d /tmp/qreg-fw.XXXXXX)"
    trap 'rm -rf "$W"' EXIT
fi
say() { printf '==> %s\n' "$*"; }
fail() { echo "run.sh: FAIL: $*" >&2; exit 1; }

# ---- 1. data, model, export -------------------------------------------------------------
if [ -n "${FW_MODEL:-}" ]; then
    MODEL="$FW_MODEL" DATA="${FW_DATA:?FW_DATA: a directory with test.csv and stream.csv}"
else
    say "data: datasets/motion.py --small --continuous 2 --recording-seconds 90"
    python3 "$ROOT/datasets/motion.py" --small --continuous 2 --recording-seconds 90 \
        --out "$W/motion" --quiet
    say "train: examples/bts.json, $EPOCHS epochs"
    QREG_DATA="$W" "$QREG" train "$ROOT/examples/bts.json" --epochs "$EPOCHS" --out "$W/bts.qrm" \
        --quiet
    MODEL="$W/bts.qrm" DATA="$W/motion"
fi
say "export: --name gesture --with-runtime --raw-scale 0.001953125 (1/512 g per count)"
"$QREG" export "$MODEL" --out "$W/export" --name gesture --with-runtime \
    --raw-scale 0.001953125 >"$W/export.log"
QRT_CPPFLAGS=$(sed -n 's/^QRT_CPPFLAGS := -I$(QRT_DIR) *//p' "$W/export/qrt.mk")

# ---- 2. the frames as raw counts, and the same frames in g for qreg --------------------------
# motion.py's values are 12-bit counts: test.csv has them in g with 4 decimals (count =
# round(g * 512), exactly), stream.csv in g exactly (count / 512). For qreg the frames are
# written back as count / 512, exactly, so that the host's float input is what the device's
# raw counts times --raw-scale are.
awk -F, 'NR == 1 { print; next }
    { for (i = 1; i < NF; i++) { v = $i * 512; c = int(v < 0 ? v - 0.5 : v + 0.5);
                                 printf "%.9f,", c / 512 }
      print $NF }' "$DATA/test.csv" >"$W/windows-g.csv"
awk -F, 'NR == 1 { print "frame,x,y,z,label,recording"; next }
    { for (t = 0; t < (NF - 1) / 3; t++) {
          printf "%d", t
          for (a = 1; a <= 3; a++) { v = $(3 * t + a) * 512; c = int(v < 0 ? v - 0.5 : v + 0.5);
                                     printf ",%.9f", c / 512 }
          printf ",%s,%d\n", $NF, NR - 1 } }' "$DATA/test.csv" >"$W/windows-frames.csv"
# counts: a blank line before each window / recording (the program resets there)
awk -F, 'NR > 1 { print ""; for (t = 0; t < (NF - 1) / 3; t++) {
          for (a = 1; a <= 3; a++) { v = $(3 * t + a) * 512; c = int(v < 0 ? v - 0.5 : v + 0.5);
                                     printf "%s%d", (a > 1 ? "," : ""), c }
          printf "\n" } }' "$DATA/test.csv" >"$W/windows-counts.csv"
awk -F, 'NR > 1 { if ($6 != rec) { print ""; rec = $6 }
          for (a = 2; a <= 4; a++) { v = $a * 512; c = int(v < 0 ? v - 0.5 : v + 0.5);
                                     printf "%s%d", (a > 2 ? "," : ""), c }
          printf "\n" }' "$DATA/stream.csv" >"$W/stream-counts.csv"
n_win=$(($(wc -l <"$DATA/test.csv") - 1))
n_wf=$(($(wc -l <"$W/windows-frames.csv") - 1))
n_sf=$(($(wc -l <"$DATA/stream.csv") - 1))
say "frames: $n_win test windows ($n_wf frames), continuous recordings ($n_sf frames)"

# ---- 3. the host program, and qreg eval --int on the same frames ---------------------------
mkdir -p "$W/app"
cp "$HERE/Makefile" "$HERE/classify.c" "$HERE/classify.h" "$HERE/host_main.c" \
    "$HERE/mcu_main.c" "$W/app/"
make -s -C "$W/app" EXPORT="$W/export" classify
"$W/app/classify" "$W/windows-counts.csv" >"$W/host-windows.txt"
"$W/app/classify" "$W/stream-counts.csv" >"$W/host-stream.txt"
"$QREG" eval "$MODEL" --data "$W/windows-frames.csv" --int --stream \
    --stream-out "$W/qreg-windows.txt" >"$W/qreg-windows.log"
"$QREG" eval "$MODEL" --data "$DATA/stream.csv" --int --stream \
    --stream-out "$W/qreg-stream.txt" >"$W/qreg-stream.log"
cmp -s "$W/host-windows.txt" "$W/qreg-windows.txt" ||
    fail "host program and qreg eval --int differ on the test windows' frames"
cmp -s "$W/host-stream.txt" "$W/qreg-stream.txt" ||
    fail "host program and qreg eval --int --stream differ on the recordings"
# each window's prediction is its last frame's; accuracy against qreg eval --int's
n_ok=$(awk -F, 'NR == FNR { if (FNR > 1) label[FNR - 1] = $NF; next }
                FNR % 40 == 0 { w++; ok += ($0 == label[w]) } END { print ok + 0 }' \
    "$DATA/test.csv" "$W/host-windows.txt")
acc_host=$(awk -v a="$n_ok" -v n="$n_win" 'BEGIN { printf "%.4f", a / n }')
acc_int=$("$QREG" eval "$MODEL" --data "$W/windows-g.csv" --int |
          sed -n 's/^integer accuracy: \([0-9.]*\).*/\1/p')
[ "$acc_host" = "$acc_int" ] ||
    fail "windowed accuracy: host program $acc_host, qreg eval --int $acc_int"
say "host program = qreg eval --int: every frame of $n_win windows and of the recordings;" \
    "windowed accuracy $acc_host ($n_ok/$n_win) = qreg eval --int's $acc_int"

# ---- 4. the same program on an emulated Cortex-M0+ -----------------------------------------
"$HERE/frames_h.sh" "$W/windows-counts.csv" "$W/stream-counts.csv" >"$W/app/frames.h"
cat "$W/host-windows.txt" "$W/host-stream.txt" >"$W/host-all.txt"
say "Cortex-M0+ under QEMU (bench/mcu/measure.sh): $(wc -l <"$W/host-all.txt") frames"
# shellcheck disable=SC2086
MCU_CORES=m0plus MCU_BUILD="$W/mcu" "$ROOT/bench/mcu/measure.sh" -std=c99 -ffreestanding \
    -I"$W/app" -I"$W/export" $QRT_CPPFLAGS "$W/app/mcu_main.c" "$W/app/classify.c" \
    "$W/export/model_compiled.c" "$W/export/qrt_kernels.c" "$W/export/qrt_layer.c" \
    >"$W/mcu.txt" || { cat "$W/mcu.txt"; fail "the Cortex-M0+ build or run failed"; }
grep -v '^qb_' "$W/mcu/m0plus/semihost.txt" >"$W/device-all.txt"
cmp -s "$W/host-all.txt" "$W/device-all.txt" ||
    fail "Cortex-M0+ and host differ (diff $W/host-all.txt $W/device-all.txt)"
res=$(grep '^RESULT' "$W/mcu.txt")
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$res"; }
say "Cortex-M0+ = host on all $(wc -l <"$W/device-all.txt") frames" \
    "($(get insns) instructions; image: $(get net_flash) B flash of which the frames" \
    "$(($(wc -l <"$W/host-all.txt") * 6)) B, $(get net_ram) B static RAM, $(get stack_peak) B stack)"

# ---- 5. the Arduino sketch, as C++ with arm-none-eabi-g++ ----------------------------------
S="$W/sketch/qreg_gesture"
mkdir -p "$S"
cp "$HERE/arduino/qreg_gesture.ino" "$S/"
for f in model_compiled.c model_compiled.h qrt.h qrt_layer.h qrt_sparse.h qrt_format.h \
         qrt_kernels.c qrt_layer.c qrt_sparse.c; do
    [ -f "$W/export/$f" ] && cp "$W/export/$f" "$S/"
done
cpu=(-mcpu=cortex-m0plus -mthumb -Os -ffunction-sections -fdata-sections)
objs=()
for c in "$S"/*.c; do
    # shellcheck disable=SC2086
    arm-none-eabi-gcc "${cpu[@]}" -std=c99 -ffreestanding $QRT_CPPFLAGS -I"$S" -Wall -Wextra \
        -Werror -c "$c" -o "${c%.c}.o"
    objs+=("${c%.c}.o")
done
arm-none-eabi-g++ "${cpu[@]}" -std=gnu++17 -fno-exceptions -fno-rtti -Wall -Wextra -Werror \
    -I"$HERE/arduino/stub" -I"$S" -x c++ -c "$S/qreg_gesture.ino" -o "$S/qreg_gesture.o"
arm-none-eabi-g++ "${cpu[@]}" -std=gnu++17 -fno-exceptions -fno-rtti -I"$HERE/arduino/stub" \
    -c "$HERE/arduino/stub/arduino_stub.cpp" -o "$S/arduino_stub.o"
arm-none-eabi-g++ "${cpu[@]}" --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections \
    "$S/qreg_gesture.o" "$S/arduino_stub.o" "${objs[@]}" -o "$S/qreg_gesture.elf" ||
    fail "the Arduino sketch does not link"
say "Arduino sketch: compiled as C++ (arm-none-eabi-g++, stub Arduino.h) and linked with the" \
    "model and runtime compiled as C"

# ---- 6. streaming accuracy -----------------------------------------------------------------
say "streaming evaluation on the recordings (qreg eval --int --stream):"
sed 's/^/    /' "$W/qreg-stream.log"
say "ok"
