#!/usr/bin/env bash
# Tests of the qreg program: help and version, usage errors (exit 2), train/eval/summary on
# the bundled data, --json output, and failures (exit 1) that name their cause and leave an
# existing model file alone. Run by `make check` with QR_SRCDIR and QR_BUILDDIR set; the
# source tree is only read (it is read-only under `make distcheck`): every output goes to a
# fresh mktemp directory. Ends with the line "cli: N passed, N failed".
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
quickstart="$srcdir/examples/quickstart.json"
csv="$srcdir/data/breast_cancer.csv"

need_qreg
use_tmp
show_cut='head'

sum() {
    cksum <"$1"
}

# ---- help, version, usage errors ------------------------------------------------------
check "qreg --help" 0 out '^usage: qreg <command>' "$qreg" --help
check "qreg --version" 0 out '^qreg [0-9]+\.[0-9]+\.[0-9]+$' "$qreg" --version
check "qreg --version names the licence" 0 out '^Licence: MIT' "$qreg" --version
check "qreg train --help" 0 out '^usage: qreg train' "$qreg" train --help
check "qreg eval --help" 0 out '^usage: qreg eval' "$qreg" eval --help
check "qreg summary --help" 0 out '^usage: qreg summary' "$qreg" summary --help
check "qreg help train" 0 out '^usage: qreg train' "$qreg" help train
check "qreg without a command" 2 err 'usage' "$qreg"
check "unknown command" 2 err "unknown command 'frobnicate'" "$qreg" frobnicate
check "unknown top-level option" 2 err "unknown command '--frob'" "$qreg" --frob
check "train: unknown option" 2 err "unknown option '--bogus'" "$qreg" train "$quickstart" --bogus
check "eval: unknown option" 2 err "unknown option '--bogus'" "$qreg" eval m.qrm --bogus
check "summary: unknown option" 2 err "unknown option '--bogus'" "$qreg" summary "$quickstart" --bogus
check "train: no config" 2 err 'usage: qreg train' "$qreg" train
check "train: --epochs without value" 2 err "'--epochs'" "$qreg" train "$quickstart" --epochs
check "train: --epochs ten" 2 err "'--epochs'" "$qreg" train "$quickstart" --epochs ten
check "train: --epochs 0" 2 err "'--epochs'" "$qreg" train "$quickstart" --epochs 0
check "train: two configs" 2 err 'more than one' "$qreg" train "$quickstart" "$quickstart"
check "eval: no --data" 2 err 'usage: qreg eval' "$qreg" eval "$tmp/m.qrm"
check "eval: bad --header" 2 err "'--header'" "$qreg" eval "$tmp/m.qrm" --data "$csv" --header maybe

# ---- train, eval, summary ---------------------------------------------------------------
model="$tmp/m.qrm"
check "train quickstart --epochs 3" 0 out '^saved model: ' \
    "$qreg" train "$quickstart" --out "$model" --epochs 3 --log "$tmp/log.csv"
if [ -s "$model" ]; then pass "train wrote the model"; else fail "train wrote no model"; fi
if [ "$(wc -l <"$tmp/log.csv")" -eq 4 ] && head -n 1 "$tmp/log.csv" | grep -q '^epoch,loss,accuracy'; then
    pass "train --log: a header and 3 epochs"
else
    fail "train --log: $(wc -l <"$tmp/log.csv" 2>/dev/null) lines"
fi
check "progress on stderr" 0 err '^epoch 3/3 ' \
    "$qreg" train "$quickstart" --out "$tmp/p.qrm" --epochs 3
# the progress line: the epoch's own time and the time left
check "progress: epoch time and eta" 0 err '^epoch 1/3 .*  \([0-9]+\.[0-9]s, eta [0-9:]+s?\)$' \
    "$qreg" train "$quickstart" --out "$tmp/p.qrm" --epochs 3
# the JSON-lines log: one object per epoch, the CSV log's numbers
check "train --log-jsonl" 0 out '^saved model: ' \
    "$qreg" train "$quickstart" --out "$tmp/j.qrm" --epochs 4 --log "$tmp/j.csv" \
    --log-jsonl "$tmp/j.jsonl" --quiet
if [ "$have_python" -eq 1 ] && python3 - "$tmp/j.csv" "$tmp/j.jsonl" <<'PY'
import csv, json, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
objs = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == 4 and len(objs) == 4, (len(rows), len(objs))
for r, o in zip(rows, objs):
    assert o["stage"] == 1 and o["lr"] == 0.002, o
    for k, v in r.items():
        v = float(v)
        assert (o[k] is None and math.isnan(v)) or o[k] == v, (k, v, o[k])
PY
then
    pass "train --log-jsonl: one object per epoch, equal to the CSV log"
else
    fail "train --log-jsonl: $(head -c 300 "$tmp/j.jsonl" 2>/dev/null)"
fi
# learning curves from either log
for log in j.csv j.jsonl; do
    check "plot --curves $log" 0 out '^wrote .*curves-'"${log#j.}"'\.svg \(4 epochs: loss, accuracy' \
        "$qreg" plot --curves "$tmp/$log" --out "$tmp/curves-${log#j.}.svg"
    if [ "$have_python" -eq 1 ] && python3 -c "import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1]); t = ' '.join(n.firstChild.data for n in d.getElementsByTagName('text') if n.firstChild)
sys.exit(0 if len(d.getElementsByTagName('polyline')) >= 4 and 'accuracy' in t and 'loss (cross-entropy)' in t else 1)" "$tmp/curves-${log#j.}.svg"; then
        pass "plot --curves $log: an SVG with loss and accuracy curves"
    else
        fail "plot --curves $log: not the SVG expected"
    fi
    if command -v rsvg-convert >/dev/null 2>&1; then
        if rsvg-convert -o "$tmp/curves.png" "$tmp/curves-${log#j.}.svg" 2>"$tmp/err" &&
           [ "$(wc -c <"$tmp/curves.png")" -gt 5000 ]; then
            pass "plot --curves $log: rsvg-convert renders it"
        else
            fail "plot --curves $log: rsvg-convert fails"
        fi
    fi
done
check "plot --curves: a file that is no log" 1 err 'not a training log' \
    "$qreg" plot --curves "$csv" --out "$tmp/x.svg"
check "plot --curves with INPUT is a usage error" 2 err 'without INPUT' \
    "$qreg" plot "$tmp/j.csv" --curves "$tmp/j.csv"
# a schedule and early stopping from the command line's point of view
cat >"$tmp/sched.json" <<JSON
{"data": {"train": "$csv", "label": "label", "validation_split": 0.15, "test_split": 0.2},
 "model": [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dense"}],
 "optimizer": {"learning_rate": 0.01, "schedule": {"name": "step", "every": 2, "gamma": 0.5,
               "warmup_epochs": 1}},
 "training": {"epochs": 300, "seed": 1, "early_stopping": {"patience": 2}}}
JSON
check "train: early stopping is reported" 0 err '^early stopping after epoch [0-9]+/300: no improvement of val_acc' \
    "$qreg" train "$tmp/sched.json" --out "$tmp/s.qrm"
if grep -Eq '^stopped early after epoch [0-9]+ of 300 \(training\.early_stopping\)$' "$tmp/out"; then
    pass "train: the result says it stopped early and when"
else
    fail "train: no 'stopped early after epoch' line"
fi
check "train --json: stopped_epoch" 0 out '"stopped_epoch":[0-9]+' \
    "$qreg" train "$tmp/sched.json" --out "$tmp/s.qrm" --json --quiet
sed 's/"every": 2, //' "$tmp/sched.json" >"$tmp/sched-bad.json"
check "train: a bad schedule names the key" 1 err "'optimizer\.schedule\.every' is missing" \
    "$qreg" train "$tmp/sched-bad.json" --out "$tmp/bad.qrm" --quiet
check "eval" 0 out '^accuracy: (0\.[0-9]+|1\.0+)$' "$qreg" eval "$model" --data "$csv"
check "eval --data=FILE" 0 out '^samples: 569$' "$qreg" eval "$model" --data="$csv"
check "summary" 0 out '^parameters: 530 ' "$qreg" summary "$quickstart"
if grep -Eq '^dense_1 \(dense\) +\(16\) +496 +544  kernel\(30,16\) bias\(16\)$' "$tmp/out"; then
    pass "summary: output shape and tensor shapes per layer"
else
    fail "summary: no 'dense_1 (dense) (16) 496 544 kernel(30,16) bias(16)' row"
fi
check "summary --json" 0 out '' "$qreg" summary "$srcdir/examples/bts.json" --json
json_check "summary --json parses" \
    'd["parameters"] == 327 and d["bytes_8bit"] == 513 and d["input"] == [40, 3] and
d["layers"][0]["output"] == [36, 6] and d["layers"][4]["output"] == [5] and
sum(l["params"] for l in d["layers"]) == 327'


# ---- search: bit-widths per matrix within a byte budget -----------------------------------
# quickstart: 480 + 32 weights, 72 B of biases; 8-bit 584 B, every matrix at 1 bit 136 B
check "search: impossible budget" 1 err 'budget 100\.000 B is below the smallest plan .*136\.000 B' \
    "$qreg" search "$quickstart" --init "$model" --budget 100 --epochs 0 --out "$tmp/s.qrm" --quiet
check "search: --budget required" 2 err 'budget' "$qreg" search "$quickstart" --init "$model"
check "search: bad --bits" 2 err "'--bits'" "$qreg" search "$quickstart" --budget 300 --bits 1,9
check "search --budget 300" 0 out '' "$qreg" search "$quickstart" --init "$model" --budget 300 \
    --epochs 2 --out "$tmp/s.qrm" --plan "$tmp/s.json" --json --quiet
json_check "search --json: within the budget, a plan per matrix, measured" \
    'd["bytes"] <= 300 and d["bytes"] == 72 + sum(m["weights"] * m["bits"] for m in d["matrices"]) / 8
and len(d["matrices"]) == 2 and 0 <= d["fq_test_accuracy"] <= 1
and [e["bits"] for e in d["quantize"]["matrices"]] == [m["bits"] for m in d["matrices"]]'
if [ -s "$tmp/s.qrm" ] && [ -s "$tmp/s.json" ]; then
    pass "search saved the model and the plan"
else
    fail "search: no model or plan file"
fi
check "search: bad --allocate" 2 err "'--allocate'" "$qreg" search "$quickstart" --budget 300 \
    --allocate best
check "search --allocate greedy: impossible budget" 1 err 'budget 100\.000 B is below the smallest plan .*136\.000 B' \
    "$qreg" search "$quickstart" --init "$model" --budget 100 --allocate greedy --epochs 0 \
    --out "$tmp/s.qrm" --quiet
check "search --allocate exhaustive: impossible budget" 1 err 'below the smallest plan' \
    "$qreg" search "$quickstart" --init "$model" --budget 135 --allocate exhaustive --epochs 0 \
    --out "$tmp/s.qrm" --quiet
# the default (greedy on 5-epoch STE measurements) and every allocation: within the budget,
# the options recorded; the same plan twice (deterministic)
for how in greedy knapsack exhaustive; do
    for run in 1 2; do
        check "search --allocate $how ($run)" 0 out '' "$qreg" search "$quickstart" --init "$model" \
            --budget 250 --allocate $how --search-epochs 1 --granularity channel --epochs 0 \
            --out "$tmp/s.qrm" --plan "$tmp/s-$how-$run.json" --json --quiet
    done
    json_check "search --allocate $how: within the budget, recorded" \
        'd["bytes"] <= 250 and d["bytes"] == 72 + sum(m["weights"] * m["bits"] for m in d["matrices"]) / 8
and d["allocate"] == "'$how'" and d["search_epochs"] == 1 and d["search_bn"] and d["granularity"] == "channel"
and all(e["granularity"] == "channel" for e in d["quantize"]["matrices"])'
    if cmp -s "$tmp/s-$how-1.json" "$tmp/s-$how-2.json"; then
        pass "search --allocate $how: the same plan file twice"
    else
        fail "search --allocate $how: two runs gave different plan files"
    fi
done
if [ "$have_python" -eq 0 ]; then
    echo "skip - search --allocate exhaustive: measured plans (no python3)"
elif python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
p = d["measured_plans"]
best = min(p, key=lambda e: e["val_loss"])
assert len(p) == sum(1 for a in (1, 2, 4, 8) for b in (1, 2, 4, 8) if 72 + (480 * a + 32 * b) / 8 <= 250)
assert best["bits"] == [m["bits"] for m in d["matrices"]] and all(e["bytes"] <= 250 for e in p)' \
    "$tmp/s-exhaustive-1.json"; then
    pass "search --allocate exhaustive: every plan within the budget measured, the best kept"
else
    fail "search --allocate exhaustive: measured plans or choice wrong"
fi

# the training step is the second stage of a float -> STE recipe: from that recipe's float
# stage (--init), the same run bit for bit (same plan: every matrix at 8 bits, per channel)
cat >"$tmp/recipe.json" <<EOF
{"data": {"train": "$csv", "label": "label", "validation_split": 0.15, "test_split": 0.2},
 "model": [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dropout", "rate": 0.1},
           {"type": "dense"}],
 "optimizer": {"name": "adam", "learning_rate": 0.002},
 "training": {"batch_size": 32, "seed": 1},
 "stages": [{"epochs": 3},
            {"epochs": 2, "optimizer": {"learning_rate": 0.01},
             "quantize": {"bn_reestimate": true, "matrices": [{"layer": "all", "bits": 8,
              "method": "ste", "scale": "learned", "granularity": "channel"}]}}]}
EOF
sed -e "s#\.\./data/#$srcdir/data/#" -e 's/"epochs": 40/"epochs": 3/' "$quickstart" >"$tmp/float3.json"
"$qreg" train "$tmp/float3.json" --out "$tmp/float3.qrm" --quiet >/dev/null 2>&1
check "search: a staged recipe" 0 out '' "$qreg" train "$tmp/recipe.json" --out "$tmp/recipe.qrm" \
    --json --quiet
cp "$tmp/out" "$tmp/recipe.out"
check "search --bits 8 from the recipe's float stage" 0 out '' "$qreg" search "$tmp/float3.json" \
    --init "$tmp/float3.qrm" --budget 584 --bits 8 --granularity channel --lr 0.01 --epochs 2 \
    --out "$tmp/s8.qrm" --plan "$tmp/s8.json" --json --quiet
if [ "$have_python" -eq 0 ]; then
    echo "skip - search: the recipe's second stage (no python3)"
elif python3 -c 'import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert [m["bits"] for m in b["matrices"]] == [8, 8]
for k in ("val_accuracy", "test_accuracy", "fq_val_accuracy", "fq_test_accuracy"):
    assert a[k] == b[k], (k, a[k], b[k])' "$tmp/recipe.out" "$tmp/out"; then
    pass "search: its training step is the staged recipe's second stage, bit for bit"
else
    fail "search: its training step differs from the staged recipe's second stage"
fi

# ---- recipe: the staged low-bit config for a float config --------------------------------
check "recipe --help" 0 out '^usage: qreg recipe' "$qreg" recipe --help
check "recipe: no --bits" 2 err 'give --bits' "$qreg" recipe "$quickstart"
check "recipe: --bits 9" 2 err "'--bits'" "$qreg" recipe "$quickstart" --bits 9
check "recipe: --matrix without =N" 2 err "'--matrix'" "$qreg" recipe "$quickstart" --matrix dense
check "recipe: --granularity bad" 2 err "'--granularity'" "$qreg" recipe "$quickstart" --bits 2 \
    --granularity row
check "recipe to stdout, 4 epochs" 0 out '"stages"' "$qreg" recipe "$quickstart" --bits 2 --epochs 4
json_check "recipe: float 2 epochs, then 2 of STE at 10x with every matrix at 2 bits" \
    'd["stages"][0] == {"epochs": 2, "quantize": False}
and d["stages"][1]["epochs"] == 2 and d["stages"][1]["dropout"] is False
and d["stages"][1]["quantize"]["matrices"] == [{"layer": "all", "bits": 2, "method": "ste",
    "scale": "learned", "granularity": "channel"}]
and "epochs" not in d.get("training", {})'
check "recipe --matrix=LAYER=N (one argument)" 0 out '"layer":[[:space:]]*"dense_2"' \
    "$qreg" recipe "$quickstart" --matrix=dense_2=4 --epochs 4
check "recipe --out, then train it" 0 err '^wrote .*r2\.json' \
    "$qreg" recipe "$quickstart" --bits 2 --matrix dense_2=8 --epochs 4 --out "$tmp/r2.json"
check "train the recipe: two stages" 0 err '^stage 2/2 kept epoch' \
    "$qreg" train "$tmp/r2.json" --out "$tmp/r2.qrm"
check "recipe --progressive: 1 bit in three grid stages" 0 out '"stages"' \
    "$qreg" recipe "$quickstart" --bits 1 --epochs 8 --progressive
json_check "recipe --progressive: float 4, then 4, 2, 1 bits over 1 + 1 + 2 epochs" \
    '[s["epochs"] for s in d["stages"]] == [4, 1, 1, 2]
and [s["quantize"]["matrices"][0]["bits"] for s in d["stages"][1:]] == [4, 2, 1]'
# a quantized config is refused, naming the key; the output file is left alone
echo keep >"$tmp/r4.json"
check "recipe of a quantized config" 1 err "has 'quantize'" \
    "$qreg" recipe "$srcdir/examples/quickstart-4bit.json" --bits 2 --out "$tmp/r4.json"
if [ "$(cat "$tmp/r4.json")" = keep ]; then pass "recipe: a refusal writes nothing"; else
    fail "recipe: a refusal overwrote --out"; fi
# a matrix entry naming no layer of the model: the loader's check names it
check "recipe: --matrix of no layer" 1 err 'not a valid config.*matrices' \
    "$qreg" recipe "$quickstart" --matrix gru=2

# ---- warm start, stages, reference accuracy ---------------------------------------------
# --init with 0 epochs: the model as loaded (same predictions: same eval output)
check "train --init MODEL --epochs 0" 0 out '^best epoch: 0' \
    "$qreg" train "$quickstart" --init "$model" --epochs 0 --out "$tmp/w0.qrm"
"$qreg" eval "$model" --data "$csv" >"$tmp/e1" 2>&1
"$qreg" eval "$tmp/w0.qrm" --data "$csv" >"$tmp/e2" 2>&1
if [ -s "$tmp/e1" ] && cmp -s "$tmp/e1" "$tmp/e2"; then
    pass "a warm start with 0 epochs evaluates exactly as its source"
else
    fail "a warm start with 0 epochs evaluates differently from its source"
fi
sed -e "s#\.\./data/#$srcdir/data/#" -e 's/"units": 16/"units": 8/' "$quickstart" >"$tmp/narrow.json"
echo "keep me" >"$tmp/keep.qrm"
before=$(sum "$tmp/keep.qrm")
check "warm start from a model of another shape" 1 err \
    "m\.qrm: parameter 'dense_1/kernel' has shape \(30, 16\), the config's model expects \(30, 8\)" \
    "$qreg" train "$tmp/narrow.json" --init "$model" --out "$tmp/keep.qrm" --quiet
if [ "$(sum "$tmp/keep.qrm")" = "$before" ]; then
    pass "a refused warm start leaves the output file alone"
else
    fail "a refused warm start changed the output file"
fi
check "warm start from a missing file" 1 err "warm start: .*nothere\.qrm" \
    "$qreg" train "$quickstart" --init "$tmp/nothere.qrm" --quiet --out "$tmp/x.qrm"
cat >"$tmp/staged.json" <<JSON
{"data": {"train": "$csv", "label": "label", "validation_split": 0.15, "test_split": 0.2},
 "model": [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dense"}],
 "training": {"batch_size": 32, "seed": 1, "reference_accuracy": 0.95},
 "quantize": {"lambda": 0.0005, "matrices": [{"layer": "all", "bits": 4}]},
 "stages": [{"epochs": 2},
            {"epochs": 2, "optimizer": {"learning_rate": 0.0005},
             "quantize": {"matrices": [{"layer": "all", "bits": 4, "method": "ste"}]}}]}
JSON
check "a staged config: a line per stage" 0 err '^stage 2/2 kept epoch [0-2] ' \
    "$qreg" train "$tmp/staged.json" --out "$tmp/staged.qrm"
check "a staged config: eta over all stages" 0 err '^stage 1/2 epoch 2/2 .*eta [0-9:]+s?\)$' \
    "$qreg" train "$tmp/staged.json" --out "$tmp/staged.qrm"
if grep -Eq '^drop vs reference accuracy 0\.9500 \(training\.reference_accuracy\): [-+][0-9.]+ points$' "$tmp/out" &&
   grep -q "points vs this model's float weights" "$tmp/out"; then
    pass "the drop is printed against the model's float weights and the reference"
else
    fail "no labelled drop lines"
fi
check "--epochs with stages" 2 err "does not apply to a config with \"stages\"" \
    "$qreg" train "$tmp/staged.json" --epochs 3

# the default output path is relative to the working directory, never the config's
(cd "$tmp" && "$qreg" train "$quickstart" --epochs 1 --quiet >"$tmp/out" 2>"$tmp/err")
if [ $? -eq 0 ] && [ -s "$tmp/quickstart.qrm" ]; then
    pass "default output path in the working directory"
else
    fail "default output path: no $tmp/quickstart.qrm"
fi

# ---- --json ------------------------------------------------------------------------------
check "train --json --quiet" 0 out '' \
    "$qreg" train "$quickstart" --out "$tmp/j.qrm" --epochs 3 --json --quiet
json_check "train --json parses" \
    'd["model"].endswith("j.qrm") and d["best_epoch"] >= 1 and 0 <= d["test_accuracy"] <= 1'
if [ -s "$tmp/err" ]; then fail "train --quiet wrote to stderr"; else pass "train --quiet is quiet"; fi
check "eval --json" 0 out '' "$qreg" eval "$model" --data "$csv" --json
json_check "eval --json parses" \
    'd["samples"] == 569 and 0 <= d["accuracy"] <= 1 and sum(map(sum, d["confusion"])) == 569'
cat >"$tmp/nosplit.json" <<EOF
{"data": {"train": "$csv", "label": "label", "validation_split": 0, "test_split": 0},
 "model": [{"type": "dense", "units": 4}, {"type": "relu"}, {"type": "dense"}],
 "training": {"epochs": 2}}
EOF
check "train --json without validation/test" 0 out '' \
    "$qreg" train "$tmp/nosplit.json" --out "$tmp/n.qrm" --json --quiet
json_check "train --json with NaN results parses" \
    'd["val_accuracy"] is None and d["test_accuracy"] is None and d["best_epoch"] == 2'

# ---- eval metrics: per-class tables, labelled confusion matrices, predictions ----------
check "eval: per-class table of the float model" 0 out '^float model: per-class precision, recall, F1 and support \(569 samples\)$' \
    "$qreg" eval "$model" --data "$csv"
if grep -Eq '^  true \\ pred +0 +1$' "$tmp/out" && grep -Eq '^  weighted avg ' "$tmp/out"; then
    pass "eval: confusion matrix labelled with the class names, averages"
else
    fail "eval: no labelled confusion matrix"
fi
check "eval --int --predictions" 0 out '^integer model: confusion matrix' \
    "$qreg" eval "$model" --data "$csv" --int --predictions "$tmp/pred.csv"
if grep -q '^fake-quantized model: confusion matrix' "$tmp/out" &&
    grep -q "^wrote $tmp/pred.csv: 569 predictions" "$tmp/out"; then
    pass "eval --int: float, fake-quantized and integer metrics"
else
    fail "eval --int: a model kind's metrics missing"
fi
if [ "$(wc -l <"$tmp/pred.csv")" -eq 570 ] &&
    head -n 1 "$tmp/pred.csv" | grep -qx 'index,label,float_pred,float_logit_0,float_logit_1,fq_pred,fq_logit_0,fq_logit_1,int_pred,int_logit_0,int_logit_1' &&
    sed -n 2p "$tmp/pred.csv" | grep -Eq '^0,[01],[01],[-0-9.e]+,[-0-9.e]+,[01],[-0-9.e]+,[-0-9.e]+,[01],[-0-9.e]+,[-0-9.e]+$'; then
    pass "eval --predictions: a header and one row per sample"
else
    fail "eval --predictions: $(head -n 2 "$tmp/pred.csv" 2>/dev/null | tr '\n' '|')"
fi
check "eval --predictions into a missing directory" 1 err '^qreg eval: --predictions: .*nodir/p\.csv' \
    "$qreg" eval "$model" --data "$csv" --predictions "$tmp/nodir/p.csv"
check "eval --predictions without a value" 2 err "'--predictions'" "$qreg" eval "$model" --data "$csv" --predictions
check "eval --int --json" 0 out '' "$qreg" eval "$model" --data "$csv" --int --json
json_check "eval --json: metrics per model kind" \
    'd["classes"] == ["0", "1"] and sorted(d["metrics"]) == ["float", "fq", "int"] and
all(sum(map(sum, d["metrics"][k]["confusion"])) == 569 and
    sum(c["support"] for c in d["metrics"][k]["per_class"]) == 569 and
    0 <= d["metrics"][k]["macro"]["f1"] <= 1 for k in d["metrics"]) and
d["metrics"]["float"]["confusion"] == d["confusion"] and
abs(d["metrics"]["int"]["accuracy"] - d["int_accuracy"]) < 1e-12'

# under a quantization plan the kept epoch is chosen by the fake-quantized accuracy: say so
(cd "$tmp" && "$qreg" train "$srcdir/examples/quickstart-4bit.json" --out "$tmp/q4.qrm" \
    --epochs 3 --quiet >"$tmp/out" 2>"$tmp/err")
if grep -Eq '^best epoch: [0-9]+ \(fake-quantized validation accuracy [01]\.[0-9]+; float [01]\.[0-9]+\)$' "$tmp/out"; then
    pass "train: the best epoch names the fake-quantized accuracy that chose it"
else
    fail "train: best epoch line: $(grep 'best epoch' "$tmp/out")"
fi

# ---- failures: exit 1, a message naming the cause --------------------------------------
size=$(wc -c <"$model")
head -c $((size - 7)) "$model" >"$tmp/short.qrm"
check "eval of a truncated model" 1 err 'checksum' "$qreg" eval "$tmp/short.qrm" --data "$csv"
check "eval of a missing model" 1 err 'no-such\.qrm' "$qreg" eval "$tmp/no-such.qrm" --data "$csv"
printf 'a,b,label\n1,2,0\n3,4,1\n' >"$tmp/narrow.csv"
check "eval on data of another width" 1 err 'narrow\.csv: 2 features' "$qreg" eval "$model" --data "$tmp/narrow.csv"
check "eval on data with an unknown class" 1 err 'iris\.csv:[0-9]+:[0-9]+: label' \
    "$qreg" eval "$model" --data "$srcdir/data/iris.csv"
check "eval on a missing CSV" 1 err 'nowhere\.csv' "$qreg" eval "$model" --data "$tmp/nowhere.csv"

cat >"$tmp/bad.json" <<EOF
{"data": {"train": "$csv"},
 "model": [{"type": "dense"}],
 "training": {"epochs": "ten"}}
EOF
check "bad config: wrong type" 1 err "'training\.epochs'" "$qreg" train "$tmp/bad.json" --out "$model"
cat >"$tmp/bad.json" <<EOF
{"data": {"train": "$csv"},
 "model": [{"type": "dense", "unit": 4}, {"type": "dense"}]}
EOF
check "bad config: unknown key" 1 err "'model\[0\]\.unit'" "$qreg" train "$tmp/bad.json" --out "$model"
printf '{"data": {"train": "x.csv"},\n "model": [\n' >"$tmp/bad.json"
check "bad config: invalid JSON" 1 err 'bad\.json:[0-9]+:[0-9]+: ' "$qreg" train "$tmp/bad.json" --out "$model"
check "summary of a bad config" 1 err "'model\[0\]\.unit'|bad\.json" "$qreg" summary "$tmp/bad.json"

# a training run that fails (diverges) leaves the existing model file as it was
before=$(sum "$model")
cat >"$tmp/diverge.json" <<EOF
{"data": {"train": "$csv", "label": "label", "standardize": false},
 "model": [{"type": "dense", "units": 16}, {"type": "dense"}],
 "optimizer": {"name": "sgd", "learning_rate": 10},
 "training": {"epochs": 5, "seed": 1}}
EOF
check "diverging training" 1 err 'epoch [0-9]+, step [0-9]+' \
    "$qreg" train "$tmp/diverge.json" --out "$model" --quiet
if [ "$(sum "$model")" = "$before" ]; then
    pass "a failed train leaves the model file unchanged"
else
    fail "a failed train changed $model"
fi
leftover=$(find "$tmp" -name '*.tmp.*' | head -n 1)
if [ -z "$leftover" ]; then pass "no temporary files left"; else fail "left behind: $leftover"; fi
check "the old model still evaluates" 0 out '^accuracy: ' "$qreg" eval "$model" --data "$csv"

# Ctrl-C: a clean stop with a checkpoint (exit 130), then --resume gives the same model file
# as a straight run. The run is long enough (wine, batch 4, 400 epochs) to be interrupted.
cat >"$tmp/long.json" <<EOF
{"data": {"train": "$(dirname "$csv")/wine.csv", "label": "label"},
 "model": [{"type": "dense", "units": 32}, {"type": "relu"}, {"type": "dropout", "rate": 0.1},
           {"type": "dense"}],
 "training": {"epochs": 400, "batch_size": 4, "seed": 3}}
EOF
"$qreg" train "$tmp/long.json" --out "$tmp/straight.qrm" --quiet >/dev/null 2>&1
"$qreg" train "$tmp/long.json" --out "$tmp/resumed.qrm" --quiet >/dev/null 2>"$tmp/int.err" &
pid=$!
sleep 1
kill -INT "$pid" 2>/dev/null
wait "$pid"
status=$?
if [ "$status" -eq 130 ] && [ -f "$tmp/resumed.qrm.ckpt" ] && [ ! -f "$tmp/resumed.qrm" ] &&
    grep -q 'interrupted' "$tmp/int.err"; then
    pass "SIGINT stops with a checkpoint and exit status 130"
elif [ "$status" -eq 0 ]; then
    pass "SIGINT: the run finished before the signal (machine too fast to test the stop)"
else
    fail "SIGINT: status $status, stderr: $(cat "$tmp/int.err")"
fi
if [ "$status" -eq 130 ]; then
    check "--resume after SIGINT" 0 out '^saved model: ' \
        "$qreg" train "$tmp/long.json" --out "$tmp/resumed.qrm" --quiet --resume
    if cmp -s "$tmp/straight.qrm" "$tmp/resumed.qrm"; then
        pass "the resumed model equals the straight run's, byte for byte"
    else
        fail "the resumed model differs from the straight run's"
    fi
fi

# ---- qreg export ------------------------------------------------------------------------
check "export --help" 0 out '^usage: qreg export' "$qreg" export --help
check "export: a bad --name is a usage error" 2 err "not a C identifier" \
    "$qreg" export "$tmp/p.qrm" --out "$tmp/exp-bad" --name 9lives
if [ ! -e "$tmp/exp-bad" ]; then
    pass "export: nothing written for a bad --name"
else
    fail "export: $tmp/exp-bad exists after a refused --name"
fi
check "export: a bad --sparse" 2 err "is not auto, fast or off" \
    "$qreg" export "$tmp/p.qrm" --out "$tmp/exp" --sparse maybe
for ab in 1 17 31 64 x; do
    check "export: --act-bits $ab refused" 2 err "act-bits: '$ab' is not 2 to 16 or 32" \
        "$qreg" export "$tmp/p.qrm" --out "$tmp/exp-bad" --act-bits "$ab"
done
[ ! -e "$tmp/exp-bad" ] && pass "export: nothing written for a bad --act-bits" ||
    fail "export: $tmp/exp-bad exists after a refused --act-bits"
check "eval: --act-bits 17 refused" 2 err "act-bits: '17' is not 2 to 16 or 32" \
    "$qreg" eval "$tmp/p.qrm" --data "$tmp/exp-none.csv" --int --act-bits 17
check "export of the quickstart MLP" 0 out 'wrote .*/model_compiled\.h' \
    "$qreg" export "$tmp/p.qrm" --out "$tmp/exp" --name mlp
if grep -q 'int mlp_push(int32_t \*mem, const int32_t \*frame)' "$tmp/exp/model_compiled.c" &&
    grep -q 'qrt_status mlp_load(qrt_model \*m)' "$tmp/exp/model.c" && [ -s "$tmp/exp/model.qrt" ]; then
    pass "export: blob, blob as C, compiled C"
else
    fail "export: missing output in $tmp/exp"
fi

check "export: a bad --raw-scale" 2 err "raw-scale: '0' is not a positive number" \
    "$qreg" export "$tmp/p.qrm" --out "$tmp/exp" --raw-scale 0
check "export --with-runtime" 0 out 'qrt\.mk and .*qrt\.cmake' \
    "$qreg" export "$tmp/p.qrm" --out "$tmp/exp" --name mlp --with-runtime --raw-scale 0.5
if [ -f "$tmp/exp/qrt_kernels.c" ] && [ -f "$tmp/exp/qrt.h" ] && [ ! -f "$tmp/exp/qrt_sparse.c" ] &&
    grep -q 'mlp_quantize_frame(const int16_t \*raw' "$tmp/exp/model_compiled.h" &&
    grep -q '#define MLP_RAW_SCALE 0.5' "$tmp/exp/model_compiled.h" &&
    grep -q "MLP_MODEL_SHA256 \"$(sha256sum "$tmp/p.qrm" | cut -c1-64)\"" "$tmp/exp/model_compiled.h" &&
    ! ls -a "$tmp/exp" | grep -q qreg-export; then
    pass "export --with-runtime: runtime files, input transform, model hash, no temporary left"
else
    fail "export --with-runtime: missing output in $tmp/exp"
fi
cp "$tmp/exp/model_compiled.h" "$tmp/before.h"
check "export: a raw scale the input transform cannot take fails" 1 err 'raw scale' \
    "$qreg" export "$tmp/p.qrm" --out "$tmp/exp" --name other --raw-scale 1e20
if cmp -s "$tmp/before.h" "$tmp/exp/model_compiled.h" && ! ls -a "$tmp/exp" | grep -q qreg-export; then
    pass "export: a failed export leaves the previous one as it was"
else
    fail "export: a failed export changed $tmp/exp"
fi
check "export: QREG_RUNTIME_DIR without the runtime" 1 err 'QREG_RUNTIME_DIR=.*no qrt\.h' \
    env QREG_RUNTIME_DIR="$tmp" "$qreg" export "$tmp/p.qrm" --out "$tmp/exp2" --with-runtime
check "export: QREG_RUNTIME_DIR" 0 out 'runtime files it needs \(from .*/exp\)' \
    env QREG_RUNTIME_DIR="$tmp/exp" "$qreg" export "$tmp/p.qrm" --out "$tmp/exp2" --with-runtime

# every layer kind runs on the device: same padding, max pooling, sigmoid/tanh, an average
# with no dense layer after it; trained, exported, and evaluated by the integer runtime
cat > "$tmp/same.json" <<EOF
{"data": {"train": "$srcdir/data/wine.csv", "label": "label", "sequence": [13, 1]},
 "model": [{"type": "conv1d", "filters": 2, "kernel_size": 4, "padding": "same"},
           {"type": "maxpool1d", "pool_size": 2}, {"type": "tanh"},
           {"type": "global_average_pooling1d"}, {"type": "sigmoid"}, {"type": "dense"}],
 "training": {"epochs": 1, "checkpoint_every": 0}}
EOF
check "train: same padding, max pooling, tanh, sigmoid, an average" 0 err '' \
    "$qreg" train "$tmp/same.json" --out "$tmp/same.qrm" --quiet
if grep -q 'warning' "$tmp/err"; then
    fail "train warns about a model the device runs: $(cat "$tmp/err")"
else
    pass "train: no warning for a model the device runs"
fi
check "export of that model" 0 out '' "$qreg" export "$tmp/same.qrm" --out "$tmp/same-exp"
check "eval --int of that model" 0 out '^integer model: confusion matrix' \
    "$qreg" eval "$tmp/same.qrm" --data "$srcdir/data/wine.csv" --int
if grep -q '_finish(int32_t \*mem);' "$tmp/same-exp/model_compiled.h" &&
    grep -q 'right zeros' "$tmp/same-exp/model_compiled.c"; then
    pass "export: the compiled model feeds same padding's right zeros in NAME_finish"
else
    fail "export: no NAME_finish feeding zeros in $tmp/same-exp/model_compiled.[ch]"
fi
# what the device cannot hold (a window of more than 255 frames) is refused before training
sed 's/"kernel_size": 4/"kernel_size": 300/' "$tmp/same.json" >"$tmp/big.json"
check "train refuses a model the device cannot hold, naming the layer" 1 err \
    "big.json: layer 'conv1d_1' \(conv1d\): kernel_size 300; the device runtime takes at most 255" \
    "$qreg" train "$tmp/big.json" --out "$tmp/big.qrm" --quiet
if [ ! -e "$tmp/big.qrm" ]; then
    pass "train: nothing written for a refused model"
else
    fail "train: $tmp/big.qrm exists after a refused model"
fi
check "export --json" 0 out '' "$qreg" export "$tmp/p.qrm" --out "$tmp/expj" --json
json_check "export --json parses" \
    'd["out"].endswith("expj") and [l["kind"] for l in d["layers"]] == ["dense", "relu", "dense"] and
d["blob_bytes"] > d["tensor_bytes"] > 0 and abs(sum(l["theory_bytes"] for l in d["layers"]) - d["theory_bytes"]) < 1e-6 and
len(d["files"]) == 5'
if [ -s "$tmp/expj/model.qrt" ] && cmp -s "$tmp/expj/model.qrt" "$tmp/exp/model.qrt"; then
    pass "export --json writes the same blob"
else
    fail "export --json: $tmp/expj/model.qrt missing or different"
fi

# ---- qreg features ----------------------------------------------------------------------
check "features --help" 0 out '^usage: qreg features' "$qreg" features --help
check "features without --out" 2 err 'usage: qreg features' "$qreg" features "$quickstart"
check "features of a missing config" 1 err 'nope\.json' \
    "$qreg" features "$tmp/nope.json" --out "$tmp/feat"
check "features of the quickstart config" 0 out \
    'wrote .*/test\.csv: 113 samples of 1 x 30, 2 classes' \
    "$qreg" features "$quickstart" --out "$tmp/feat"
rows=$(cat "$tmp/feat/train.csv" "$tmp/feat/val.csv" "$tmp/feat/test.csv" | wc -l)
cols=$(head -1 "$tmp/feat/train.csv" | tr ',' '\n' | wc -l)
if [ "$cols" -eq 31 ] && [ "$rows" -eq 572 ] && ! ls "$tmp/feat" | grep -q tmp; then
    pass "features: 30 columns + label, 569 rows + 3 headers, no temporary file left"
else
    fail "features: $cols columns, $rows lines, files: $(ls "$tmp/feat" | tr '\n' ' ')"
fi
cat >"$tmp/feat.json" <<JSON
{"data": {"train": "$tmp/feat/train.csv", "validation": "$tmp/feat/val.csv",
          "test": "$tmp/feat/test.csv", "label": "label"},
 "model": [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dense"}],
 "training": {"epochs": 30, "batch_size": 32, "seed": 1}}
JSON
check "train on the written features" 0 out 'test accuracy: 0\.9[0-9]+ \(113 samples\)' \
    "$qreg" train "$tmp/feat.json" --out "$tmp/feat.qrm"
if [ "$have_python" -eq 1 ]; then
    # a tiny audio set: two classes of 0.25 s, 8 kHz tones, 6 clips each
    python3 - "$tmp/wav" <<'PY'
import math, os, struct, sys, wave
root = sys.argv[1]
for cls, hz in (("low", 220.0), ("high", 1760.0)):
    os.makedirs(os.path.join(root, cls), exist_ok=True)
    for i in range(6):
        w = wave.open(os.path.join(root, cls, "c%d.wav" % i), "wb")
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * t / 8000.0 + i)))
                               for t in range(2000)))
        w.close()
PY
    cat >"$tmp/wav.json" <<JSON
{"data": {"audio": {"root": "$tmp/wav", "sample_rate": 8000, "duration": 0.25,
                    "split": "fractions", "validation_split": 0, "test_split": 0.25,
                    "augment": {"copies": 2}}},
 "model": [{"type": "gru", "units": 4}, {"type": "dense"}],
 "training": {"epochs": 1, "batch_size": 4, "seed": 1}}
JSON
    check "features of an audio config (MFCC, augmented copies)" 0 out \
        'wrote .*/train\.csv: 24 samples of [0-9]+ x 13, 2 classes' \
        "$qreg" features "$tmp/wav.json" --out "$tmp/wavfeat"
    check "features --no-augment" 0 out 'wrote .*/train\.csv: 8 samples of [0-9]+ x 13, 2 classes' \
        "$qreg" features "$tmp/wav.json" --out "$tmp/wavfeat2" --no-augment
    check "features write their settings" 0 out '"frontend":"float"' cat "$tmp/wavfeat2/features.json"
    # "split": "all": a test-only set (one class is enough): every clip in test.csv, nothing
    # else; training refuses it, naming the key
    mkdir -p "$tmp/wavone"
    cp -r "$tmp/wav/low" "$tmp/wavone/"
    sed -e 's|"split": "fractions", "validation_split": 0, "test_split": 0.25,|"split": "all",|' \
        -e "s|$tmp/wav\"|$tmp/wavone\"|" "$tmp/wav.json" >"$tmp/wavtest.json"
    check "features with split all: every clip in test.csv" 0 out \
        'wrote .*/test\.csv: 6 samples of [0-9]+ x 13, 1 classes' \
        "$qreg" features "$tmp/wavtest.json" --out "$tmp/wavtestfeat"
    if [ ! -e "$tmp/wavtestfeat/train.csv" ] && [ ! -e "$tmp/wavtestfeat/val.csv" ] &&
        [ -f "$tmp/wavtestfeat/features.json" ]; then
        pass "features with split all: no train.csv or val.csv, features.json written"
    else
        fail "features with split all: $(ls "$tmp/wavtestfeat")"
    fi
    check "train with split all: an error naming the key" 1 err \
        "'data\.audio\.split' \"all\" puts every clip in the test set" \
        "$qreg" train "$tmp/wavtest.json" --out "$tmp/wavtest.qrm"
    # the model records its front end; eval warns when the data was made with other settings
    check "train an audio model" 0 out 'saved model' \
        "$qreg" train "$tmp/wav.json" --out "$tmp/wav.qrm"
    check "export of an audio model writes its front end's tables" 0 out \
        'wrote .*/model_frontend\.c, .*/model_frontend\.h: the integer audio front end \(the model was trained with the float' \
        "$qreg" export "$tmp/wav.qrm" --out "$tmp/wavexp"
    check "export of an audio model writes the clip and feature-to-input transform" 0 out \
        '^void model_quantize_features\(const int32_t \*feat, int32_t \*frame\);' \
        cat "$tmp/wavexp/model_audio.h"
    check "an audio model is format version 2" 0 out '^2$' \
        python3 -c 'import struct,sys; print(struct.unpack_from("<I", open(sys.argv[1], "rb").read(), 8)[0])' "$tmp/wav.qrm"
    check "eval on features made as in training" 0 out 'accuracy' \
        "$qreg" eval "$tmp/wav.qrm" --data "$tmp/wavfeat2/test.csv"
    if grep -q warning "$tmp/err"; then
        fail "eval on features made as in training: a warning: $(cat "$tmp/err")"
    else
        pass "eval on features made as in training: no warning"
    fi
    # a float WAV whose samples are huge but finite (6e37): refused by the decoder, naming the
    # file (its features were garbage before), and on_error "skip" skips it (issue 16, finding 6)
    cp -r "$tmp/wav" "$tmp/wavbig"
    python3 - "$tmp/wavbig/low/huge.wav" <<'PY'
import struct, sys
n = 2000
data = b"".join(struct.pack("<f", 6e37 if i % 2 else -6e37) for i in range(n))
fmt = struct.pack("<HHIIHH", 3, 1, 8000, 8000 * 4, 4, 32)
body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
open(sys.argv[1], "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
PY
    sed "s|$tmp/wav\"|$tmp/wavbig\"|" "$tmp/wav.json" >"$tmp/wavbig.json"
    check "features of a clip with huge samples: an error naming the file" 1 err \
        'huge\.wav: frame 0 holds the sample -6e\+37, out of range' \
        "$qreg" features "$tmp/wavbig.json" --out "$tmp/wavbigfeat"
    if ! ls "$tmp/wavbigfeat"/*.csv >/dev/null 2>&1; then pass "huge samples: no CSV written"; else fail "huge samples: CSV files written in $tmp/wavbigfeat"; fi
    sed 's/"augment": {"copies": 2}/"augment": {"copies": 2}, "on_error": "skip"/' "$tmp/wavbig.json" >"$tmp/wavskip.json"
    check "on_error skip skips the clip with huge samples" 0 err 'huge\.wav: frame 0 holds the sample .*out of range.*skipped' \
        "$qreg" features "$tmp/wavskip.json" --out "$tmp/wavskipfeat" --no-augment
    sed 's/"duration": 0.25,/"duration": 0.25, "frontend": "int",/' "$tmp/wav.json" >"$tmp/wav-int.json"
    check "features with the integer front end" 0 out '"frontend":"int"' \
        sh -c '"$1" features "$2" --out "$3" --no-augment >/dev/null && cat "$3/features.json"' \
        sh "$qreg" "$tmp/wav-int.json" "$tmp/wavint"
    check "eval on features of another front end: a warning naming it" 0 err \
        'warning: .*features\.json: .*frontend = "float" \(model\) vs "int" \(data\)' \
        "$qreg" eval "$tmp/wav.qrm" --data "$tmp/wavint/test.csv"
    # eval on an audio folder: every clip, features made with the model's stored settings;
    # the same output as eval on the `qreg features` CSV of the same 12 clips
    { cat "$tmp/wavfeat2/train.csv"; tail -n +2 "$tmp/wavfeat2/test.csv"; } >"$tmp/wavall.csv"
    "$qreg" eval "$tmp/wav.qrm" --data "$tmp/wavall.csv" --int >"$tmp/evalcsv.txt" 2>&1
    check "eval on an audio folder: every clip, all model kinds" 0 out \
        'integer accuracy: ' "$qreg" eval "$tmp/wav.qrm" --data "$tmp/wav" --int \
        --predictions "$tmp/wavpred.csv"
    grep -v '^$\|^wrote ' "$tmp/out" >"$tmp/evaldir.txt"
    cp "$tmp/err" "$tmp/evaldir.err"
    check "audio --predictions: the header" 0 out \
        '^path,label,float_pred,float_logit_high,float_logit_low,fq_pred,.*,int_pred,int_logit_high,int_logit_low$' \
        head -1 "$tmp/wavpred.csv"
    grep -v '^$' "$tmp/evalcsv.txt" >"$tmp/evalcsv2.txt"
    if grep -q '^samples: 12$' "$tmp/evaldir.txt" && cmp -s "$tmp/evalcsv2.txt" "$tmp/evaldir.txt"; then
        pass "eval on an audio folder equals eval on the features CSV of its clips"
    else
        fail "eval on an audio folder differs from eval on its features CSV: $(diff "$tmp/evalcsv2.txt" "$tmp/evaldir.txt" | head -5)"
    fi
    if grep -q warning "$tmp/evaldir.err"; then
        fail "eval on an audio folder at the model's rate: a warning: $(cat "$tmp/evaldir.err")"
    else
        pass "eval on an audio folder at the model's rate: no warning"
    fi
    check "audio --predictions: one row per clip with its path" 0 out \
        "^13 path,label ([^ ]*/wav/(high|low)/c[0-5]\\.wav,(high|low) ){12}\$" \
        sh -c '{ wc -l <"$1"; cut -d, -f1,2 "$1"; } | tr "\\n" " "; echo' \
        sh "$tmp/wavpred.csv"
    mkdir -p "$tmp/wavodd/low" "$tmp/wavodd/middle"
    cp "$tmp/wav/low/c0.wav" "$tmp/wavodd/low/" && cp "$tmp/wav/high/c0.wav" "$tmp/wavodd/middle/"
    check "eval on an audio folder with a class the model does not know: an error naming it" 1 err \
        "class 'middle' is not one of the model's classes \\(high, low\\)" \
        "$qreg" eval "$tmp/wav.qrm" --data "$tmp/wavodd"
    check "eval of a model without feature settings on an audio folder: an error" 1 err \
        'stores no feature settings' "$qreg" eval "$tmp/feat.qrm" --data "$tmp/wav"
    printf 'path,label\nwav/low/c0.wav,low\nwav/high/c1.wav,high\n' >"$tmp/wavman.csv"
    check "eval on an audio manifest (--audio)" 0 out '^samples: 2$' \
        "$qreg" eval "$tmp/wav.qrm" --data "$tmp/wavman.csv" --audio
    # 8 kHz clips given to a model whose mel bands reach 8 kHz (trained at 16 kHz): a warning
    sed 's/"sample_rate": 8000/"sample_rate": 16000/' "$tmp/wav.json" >"$tmp/wav16.json"
    check "train an audio model at 16 kHz" 0 out 'saved model' \
        "$qreg" train "$tmp/wav16.json" --out "$tmp/wav16.qrm"
    check "eval of 8 kHz clips with a 16 kHz model: a Nyquist warning naming file and rates" 0 err \
        'warning: .*/wav/high/c0\.wav: recorded at 8000 Hz, .*f_max = 8000 Hz.*12 of 12 clips' \
        "$qreg" eval "$tmp/wav16.qrm" --data "$tmp/wav"
    if [ "$(grep -c warning "$tmp/err")" = 1 ]; then
        pass "the Nyquist warning comes once"
    else
        fail "the Nyquist warning: $(grep -c warning "$tmp/err") warnings"
    fi
else
    echo "skip - features of an audio config (no python3)"
fi

# ---- qreg plot ----------------------------------------------------------------------------
# A regularized matrix at 8 and at 4 bits: the 8-bit curve's 255 minima must not draw as a solid
# block, and the one-panel drawing must be wide enough for its caption (it clipped at 320 px).
for bits in 8 4; do
    cat >"$tmp/plot$bits.json" <<JSON
{"data": {"train": "$csv", "label": "label", "validation_split": 0.2, "test_split": 0.2},
 "model": [{"type": "dense", "units": 4}, {"type": "relu"}, {"type": "dense"}],
 "training": {"epochs": 2, "batch_size": 32, "seed": 1},
 "quantize": {"lambda": 0.001, "matrices": [{"layer": "all", "bits": $bits}]}}
JSON
    "$qreg" train "$tmp/plot$bits.json" --out "$tmp/plot$bits.qrm" --quiet >/dev/null 2>&1
    check "plot of a $bits-bit model" 0 out 'wrote .*plot'"$bits"'\.svg \(dense_1/kernel\)' \
        "$qreg" plot "$tmp/plot$bits.qrm" --out "$tmp/plot$bits.svg"
done
if grep -q 'too dense to draw' "$tmp/plot8.svg" && ! grep -q 'too dense' "$tmp/plot4.svg"; then
    pass "plot: the 8-bit regularizer is shaded, the 4-bit one drawn"
else
    fail "plot: the 8-bit regularizer's curve drawn as a solid block (or the 4-bit one not drawn)"
fi
w=$(sed -n 's/.*<svg[^>]* width="\([0-9.]*\)".*/\1/p' "$tmp/plot4.svg" | head -n 1)
if [ -n "$w" ] && awk -v w="$w" 'BEGIN { exit !(w >= 480) }'; then
    pass "plot: one panel as wide as its caption ($w px)"
else
    fail "plot: one panel $w px wide clips its caption"
fi

finish
