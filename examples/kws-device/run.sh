#!/usr/bin/env bash
# examples/kws-device/run.sh — keyword spotting on the device end to end, and the check that
# the device's keyword and scores for each clip are `qreg eval --int`'s (docs/deploy.md,
# "Keyword spotting"):
#   1. a small synthesized set (datasets/kws.sh --small --seed 5, as CI's dataset stage makes
#      it), a tiny conv1d + GRU trained on the integer front end (kws-tiny.json), exported
#      with --with-runtime: the compiled model, the front end's tables (kws_frontend.c) and
#      the feature-to-input transform (kws_audio.c);
#   2. `qreg eval --int --predictions` on every clip of the set (manifest.csv: 300 clips);
#   3. the host program (host_main.c + kws_loop.c, built with the export's qrt.mk) on the same
#      WAV files: 16-bit PCM, hop by hop through the front end into the compiled model; its
#      class and its int32 logits times KWS_OUT_SCALE must equal eval's int_pred and
#      int_logit_* for every clip;
#   4. the same loop for a Cortex-M0+ and a Cortex-M4 (mcu_main.c, the first KWS_MCU_CLIPS
#      test clips compiled in), run under qemu-system-arm with the project's harness
#      (bench/mcu/measure.sh): each core's output must equal the host program's.
# Any difference fails (exit 1). Needs python3, cc, the tools of datasets/kws.sh, and
# arm-none-eabi-gcc with newlib-nano and qemu-system-arm (Debian: gcc-arm-none-eabi
# libnewlib-arm-none-eabi qemu-system-arm); without the ARM tools step 4 is skipped (exit 77
# at the end) unless KWS_REQUIRE_ARM=1.
#
#   examples/kws-device/run.sh          from the source tree, with build/qreg
#   QREG=path/to/qreg  KWS_DATA=dir (an existing kws.sh set: skip generating)
#   KWS_EPOCHS=40  KWS_MCU_CLIPS=6  KWS_KEEP=dir (keep every file there)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
QREG="${QREG:-$ROOT/build/qreg}"
EPOCHS="${KWS_EPOCHS:-40}"
NMCU="${KWS_MCU_CLIPS:-6}"
[ -x "$QREG" ] || { echo "run.sh: $QREG not found (build qreg first, or set QREG)" >&2; exit 2; }
arm=1
for t in arm-none-eabi-gcc qemu-system-arm; do
    command -v "$t" >/dev/null || arm=0
done
if [ $arm = 0 ] && [ "${KWS_REQUIRE_ARM:-0}" = 1 ]; then
    echo "run.sh: no arm-none-eabi-gcc or qemu-system-arm (Debian: gcc-arm-none-eabi" \
         "libnewlib-arm-none-eabi qemu-system-arm)" >&2
    exit 1
fi
if [ -n "${KWS_KEEP:-}" ]; then
    mkdir -p "$KWS_KEEP"
    W="$(cd "$KWS_KEEP" && pwd)"
else
    W="$(mktemp -d /tmp/qreg-kws.XXXXXX)"
    trap 'rm -rf "$W"' EXIT
fi
say() { printf '==> %s\n' "$*"; }
fail() { echo "run.sh: FAIL: $*" >&2; exit 1; }

# ---- 1. data, model, export -------------------------------------------------------------
if [ -n "${KWS_DATA:-}" ]; then
    mkdir -p "$W/data"
    ln -sfn "$(cd "$KWS_DATA" && pwd)" "$W/data/kws"
else
    say "data: datasets/kws.sh --small --seed 5"
    "$ROOT/datasets/kws.sh" --small --seed 5 --jobs 2 --out "$W/data/kws" >"$W/kws.log"
fi
D="$W/data/kws"
say "train: examples/kws-device/kws-tiny.json, $EPOCHS epochs"
QREG_DATA="$W/data" "$QREG" train "$HERE/kws-tiny.json" --epochs "$EPOCHS" \
    --out "$W/kws.qrm" --quiet
say "export: --name kws --with-runtime"
"$QREG" export "$W/kws.qrm" --out "$W/export" --name kws --with-runtime >"$W/export.log"
for f in kws_frontend.c kws_audio.c kws_audio.h qrt_frontend.c; do
    [ -f "$W/export/$f" ] || fail "the export has no $f"
done
QRT_CPPFLAGS=$(sed -n 's/^QRT_CPPFLAGS := -I$(QRT_DIR) *//p' "$W/export/qrt.mk")

# ---- 2. qreg eval --int on every clip of the set, and on the test clips -----------------------
awk -F, 'NR > 1 { print "data/kws/" $1 "," $2 } NR == 1 { print "path,label" }' \
    "$D/manifest.csv" >"$W/all.csv"
awk -F/ 'BEGIN { print "path,label" } NF == 2 { print "data/kws/" $0 "," $1 }' "$D/testing_list.txt" \
    >"$W/test.csv"
"$QREG" eval "$W/kws.qrm" --data "$W/all.csv" --audio --int \
    --predictions "$W/pred.csv" >"$W/eval-all.log"
"$QREG" eval "$W/kws.qrm" --data "$W/test.csv" --audio --int >"$W/eval.log"
n_clips=$(($(wc -l <"$W/all.csv") - 1))
[ "$n_clips" -gt 0 ] || fail "no clips in $D/manifest.csv"

# ---- 3. the host program on the same clips ------------------------------------------------
mkdir -p "$W/app"
cp "$HERE/Makefile" "$HERE/kws_loop.c" "$HERE/kws_loop.h" "$HERE/host_main.c" \
    "$HERE/mcu_main.c" "$W/app/"
make -s -C "$W/app" EXPORT="$W/export" CFLAGS="-Werror" kws_classify
sed 1d "$W/all.csv" | cut -d, -f1 | sed "s|^|$W/|" | xargs "$W/app/kws_classify" >"$W/host.csv"
scale=$(sed -n 's/^#define KWS_OUT_SCALE \([^ ]*\) .*/\1/p' "$W/export/kws_audio.h")
# the device's int32 logits times KWS_OUT_SCALE, rounded to binary32 and printed as eval
# prints them (%.9g), against eval's int_pred and int_logit_* per clip
python3 - "$W/pred.csv" "$W/host.csv" "$scale" <<'EOF' || fail "host program and qreg eval --int differ"
import csv, struct, sys
pred = {r["path"]: r for r in csv.DictReader(open(sys.argv[1]))}
scale = float(sys.argv[3])
names = [k[len("int_logit_"):] for k in next(iter(pred.values())) if k.startswith("int_logit_")]
bad = 0
for line in open(sys.argv[2]):
    path, cls, *logits = line.rstrip("\n").split(",")
    r = pred[path]
    mine = ["%.9g" % struct.unpack("f", struct.pack("f", int(l) * scale))[0] for l in logits]
    theirs = ["%.9g" % float(r["int_logit_" + n]) for n in names]
    if cls != r["int_pred"] or mine != theirs:
        bad += 1
        print(f"{path}: device {cls} {mine}\n  qreg eval --int {r['int_pred']} {theirs}")
sys.exit(1 if bad else 0)
EOF
acc=$(sed -n 's/^integer accuracy: \([0-9.]*\).*/\1/p' "$W/eval.log")
say "host program = qreg eval --int on all $n_clips clips (class and all 12 scores);" \
    "integer test accuracy $acc (a tiny model on kws.sh --small data: the match is the point)"

# ---- 4. the same loop on an emulated Cortex-M0+ and M4 ----------------------------------------
if [ $arm = 0 ]; then
    echo "run.sh: no arm-none-eabi-gcc or qemu-system-arm: the Cortex-M run is skipped" >&2
    exit 77
fi
frames=$(sed -n 's/^#define KWS_CLIP_FRAMES \([0-9]*\)u.*/\1/p' "$W/export/kws_audio.h")
sed 1d "$W/test.csv" | head -n "$NMCU" | cut -d, -f1 | sed "s|^|$W/|" >"$W/mcu-clips.txt"
xargs python3 "$HERE/clips_h.py" <"$W/mcu-clips.txt" >"$W/app/clips.h"
# the host program's lines of the same clips, without the path
awk -F, 'NR == FNR { want[$0] = FNR; next } ($1 in want) { line[want[$1]] = $0 }
         END { for (i = 1; i in line; i++) { sub(/^[^,]*,/, "", line[i]); print line[i] } }' \
    "$W/mcu-clips.txt" "$W/host.csv" >"$W/host-mcu.txt"
[ "$(wc -l <"$W/host-mcu.txt")" -eq "$NMCU" ] || fail "the host program's lines of the MCU clips"
say "Cortex-M0+ and M4 under QEMU (bench/mcu/measure.sh): $NMCU clips compiled in"
# the clips' PCM (32 KB a second) is test data, not firmware: 1 MiB of flash for it
# shellcheck disable=SC2086
FLASH_m0plus=1048576 FLASH_m4=1048576 MCU_BUILD="$W/mcu" "$ROOT/bench/mcu/measure.sh" \
    -std=c99 -ffreestanding -I"$W/app" -I"$W/export" $QRT_CPPFLAGS "$W/app/mcu_main.c" \
    "$W/app/kws_loop.c" "$W/export/kws_audio.c" "$W/export/kws_frontend.c" \
    "$W/export/qrt_frontend.c" "$W/export/model_compiled.c" "$W/export/qrt_kernels.c" \
    "$W/export/qrt_layer.c" >"$W/mcu.txt" || { cat "$W/mcu.txt"; fail "the Cortex-M build or run failed"; }
for core in m0plus m4; do
    grep -v '^qb_' "$W/mcu/$core/semihost.txt" >"$W/device-$core.txt"
    cmp -s "$W/host-mcu.txt" "$W/device-$core.txt" ||
        fail "$core and host differ (diff $W/host-mcu.txt $W/device-$core.txt)"
    res=$(grep "^RESULT core=$core " "$W/mcu.txt")
    get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$res"; }
    say "$core = host on $NMCU clips: $(get insns) instructions, ~$(get cycles_est) cycles" \
        "(~$(($(get cycles_est) / NMCU / frames)) per 10 ms hop: front end, model, printing)"
done
say "ok"
