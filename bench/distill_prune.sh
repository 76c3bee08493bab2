#!/usr/bin/env bash
# bench/distill_prune.sh — the issue-7 experiments on the motion (bring-to-see) data:
#   1. distillation: the bts student (327 parameters) trained from scratch vs distilled from a
#      teacher 5.2x larger (conv 12, GRU 16: 1,714 parameters), 5 seeds each;
#   2. pruning: a wider CGRU (GRU 32 units) at final sparsities 0 … 0.9 of its GRU matrices,
#      5 seeds each (the shape of the thesis' Figure 2.8).
# Prints markdown tables of test accuracy (mean ± std, min, max) and writes the raw rows to
# $OUT/distill.csv and $OUT/prune.csv.
#   usage: bench/distill_prune.sh [QREG] [OUT]     (defaults: build/qreg, bench-out/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QREG=${1:-build/qreg}
OUT=${2:-bench-out}
DATA=${QREG_DATA:-$HOME/.local/share/qreg/data}
SEEDS=${SEEDS:-"1 2 3 4 5"}
EPOCHS=${EPOCHS:-100}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[[ -f $DATA/motion/train.csv ]] || python3 datasets/motion.py --out "$DATA/motion" --quiet
export QREG_DATA=$DATA

# a config derived from examples/bts.json: $1 output file, $2 python expression on c
derive() {
	python3 - "$1" "$2" <<'PY'
import json, sys
c = json.load(open("examples/bts.json"))
c["training"]["checkpoint_every"] = 0
exec(sys.argv[2])
c.pop("description", None)
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
}

acc() { python3 -c 'import json,sys; print(json.load(sys.stdin)["test_accuracy"])'; }

echo "run,seed,test_accuracy" >"$OUT/distill.csv"
for seed in $SEEDS; do
	derive "$OUT/teacher.json" "c['model'][0]['filters']=12; c['model'][4]['units']=16"
	t=$("$QREG" train "$OUT/teacher.json" --seed "$seed" --epochs "$EPOCHS" --out "$OUT/teacher-$seed.qrm" --json --quiet | acc)
	echo "teacher,$seed,$t" >>"$OUT/distill.csv"
	derive "$OUT/student.json" "pass"
	s=$("$QREG" train "$OUT/student.json" --seed "$seed" --epochs "$EPOCHS" --out "$OUT/scratch-$seed.qrm" --json --quiet | acc)
	echo "scratch,$seed,$s" >>"$OUT/distill.csv"
	derive "$OUT/distilled.json" "c['distill']={'teacher': '$OUT/teacher-$seed.qrm', 'alpha': 0.3, 'temperature': 4}"
	d=$("$QREG" train "$OUT/distilled.json" --seed "$seed" --epochs "$EPOCHS" --out "$OUT/distilled-$seed.qrm" --json --quiet | acc)
	echo "distilled,$seed,$d" >>"$OUT/distill.csv"
	echo "seed $seed: teacher $t, scratch $s, distilled $d" >&2
done

echo "sparsity,seed,test_accuracy" >"$OUT/prune.csv"
for sp in 0 0.25 0.5 0.75 0.9; do
	for seed in $SEEDS; do
		derive "$OUT/prune.json" "c['model'][0]['filters']=16; c['model'][4]['units']=32
if $sp > 0:
    c['prune']={'matrices':[{'layer':'gru','final_sparsity':$sp,'begin_step':500,'pruning_steps':20,'frequency':100}]}"
		a=$("$QREG" train "$OUT/prune.json" --seed "$seed" --epochs "$EPOCHS" --out "$OUT/prune.qrm" --json --quiet | acc)
		echo "$sp,$seed,$a" >>"$OUT/prune.csv"
		echo "sparsity $sp seed $seed: $a" >&2
	done
done

python3 - "$OUT" <<'PY'
import csv, statistics as st, sys
out = sys.argv[1]
def table(path, key, title):
    rows = list(csv.DictReader(open(f"{out}/{path}")))
    groups = {}
    for r in rows:
        groups.setdefault(r[key], []).append(float(r["test_accuracy"]))
    print(f"\n{title}\n\n| {key} | runs | mean ± std | min | max |\n|---|---|---|---|---|")
    for g, v in groups.items():
        sd = st.stdev(v) if len(v) > 1 else 0.0
        print(f"| {g} | {len(v)} | {100*st.mean(v):.2f} ± {100*sd:.2f} % | {100*min(v):.2f} % | {100*max(v):.2f} % |")
table("distill.csv", "run", "Distillation (test accuracy on 9 unseen subjects, 900 windows)")
table("prune.csv", "sparsity", "Pruning the GRU matrices of a CGRU (conv 16, GRU 32)")
PY
