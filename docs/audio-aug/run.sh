#!/usr/bin/env bash
# docs/audio-aug/run.sh — the augmentation ablation of docs/audio.md ("Measured:
# training-time augmentations"): train each config of this folder with each seed, evaluate
# every model on the set's held-out test voices and on their telephone-band copies, and
# write one CSV row per run.
#
#   QREG_DATA=DATA docs/audio-aug/run.sh OUT [VARIANTS] [SEEDS]
#
# DATA/kws is a datasets/kws.sh --telephone-test set (read only: the feature cache goes to
# DATA/kwsaug-cache, the configs' cache_dir); OUT gets the models, logs, the two test
# manifests and results.csv. VARIANTS default "default bandlimit speed-tempo pitch reverb
# all", SEEDS "1 2 3". QREG (default: qreg on PATH) is the program, EPOCHS overrides the
# configs' training.epochs. One training at a time, one thread.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run.sh OUT [VARIANTS] [SEEDS]}
variants=${2:-default bandlimit speed-tempo pitch reverb all}
seeds=${3:-1 2 3}
qreg=${QREG:-qreg}
set=${QREG_DATA:?set QREG_DATA}/kws
mkdir -p "$out"
# the test clips and their telephone copies as manifests (absolute paths, in OUT)
for list in testing_list testing_list_telephone; do
	awk -F/ -v root="$set" 'NF { print root "/" $0 "," $1 }' "$set/$list.txt" \
		>"$out/$list.csv"
done
csv=$out/results.csv
[[ -s $csv ]] || echo "variant,seed,best_epoch,train_seconds,val_acc,test_acc,telephone_acc" >"$csv"
for v in $variants; do
	for s in $seeds; do
		m=$out/$v-s$s
		if grep -q "^$v,$s," "$csv"; then continue; fi
		t0=$(date +%s)
		"$qreg" train "$here/kws-aug-$v.json" --seed "$s" --threads 1 --quiet \
			${EPOCHS:+--epochs "$EPOCHS"} --out "$m.qrm" --log "$m.log.csv" --json >"$m.train.json"
		t1=$(date +%s)
		"$qreg" eval "$m.qrm" --data "$out/testing_list.csv" --audio --json >"$m.test.json"
		"$qreg" eval "$m.qrm" --data "$out/testing_list_telephone.csv" --audio --json \
			>"$m.tel.json"
		python3 - "$m" "$v" "$s" "$((t1 - t0))" >>"$csv" <<'PY'
import json, sys
m, v, s, secs = sys.argv[1:]
tr = json.load(open(m + ".train.json"))
te = json.load(open(m + ".test.json"))
tel = json.load(open(m + ".tel.json"))
def acc(r):
    return r["float"]["accuracy"] if "float" in r else r["accuracy"]
print(f"{v},{s},{tr['best_epoch']},{secs},{tr['val_accuracy']:.4f},{acc(te):.4f},{acc(tel):.4f}")
PY
		tail -n 1 "$csv"
	done
done
