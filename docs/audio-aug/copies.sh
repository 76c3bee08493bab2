#!/usr/bin/env bash
# docs/audio-aug/copies.sh — augmented copies of the test clips, and every model of run.sh
# evaluated on them (docs/audio.md, "Measured: training-time augmentations").
#
#   QREG_DATA=DATA docs/audio-aug/copies.sh OUT
#
# For each kind (bandlimit, bandlimit8, speed, tempo, pitch, reverb): one copy of every clip
# of DATA/kws/testing_list.txt with only that step on (probability 1, the key's default
# ranges; no shift, gain or noise; seed 101), written with `qreg features` (no cache: nothing
# is written into the set) as OUT/testcopy-KIND.csv; then `qreg eval` of every OUT/*.qrm on
# each, one row per model and kind in OUT/copies.csv (rows already there are kept: run it
# again after more models). QREG as in run.sh.
set -euo pipefail
out=${1:?usage: copies.sh OUT}
qreg=${QREG:-qreg}
set=${QREG_DATA:?set QREG_DATA}/kws
mkdir -p "$out"
awk -F/ -v root="$set" 'NF { print root "/" $0 "," $1 ",train" }' "$set/testing_list.txt" \
	>"$out/testcopies.csv"
kinds="bandlimit bandlimit8 speed tempo pitch reverb"
for k in $kinds; do
	[[ -s $out/testcopy-$k.csv ]] && continue
	case $k in
	bandlimit8) step='"bandlimit": {"prob": 1, "order": 8}' ;;
	*) step="\"$k\": {\"prob\": 1}" ;;
	esac
	cat >"$out/tc-$k.json" <<JSON
{"data": {"audio": {"manifest": "testcopies.csv", "cache": false,
  "augment": {"copies": 1, "time_shift": 0, "gain_db": [0, 0], $step}}},
 "model": [{"type": "flatten"}, {"type": "dense", "units": 12}],
 "training": {"seed": 101}}
JSON
	"$qreg" features "$out/tc-$k.json" --out "$out/tcf-$k" >/dev/null
	# train.csv: the clips, then their copies; keep the header and the copies
	python3 - "$out/tcf-$k/train.csv" "$out/testcopy-$k.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
n = len(lines) - 1
open(sys.argv[2], "w").write("\n".join([lines[0]] + lines[1 + n // 2:]) + "\n")
PY
	rm -rf "$out/tcf-$k"
done
csv=$out/copies.csv
[[ -s $csv ]] || echo "variant,seed,copy,accuracy" >"$csv"
for m in "$out"/*-s*.qrm; do
	b=$(basename "$m" .qrm)
	for k in $kinds; do
		if grep -q "^${b%-s*},${b##*-s},$k," "$csv"; then continue; fi
		a=$("$qreg" eval "$m" --data "$out/testcopy-$k.csv" --json |
			python3 -c 'import json, sys; print("%.4f" % json.load(sys.stdin)["accuracy"])')
		echo "${b%-s*},${b##*-s},$k,$a" >>"$csv"
	done
done
