#!/usr/bin/env bash
# Tests of the qreg program: help and version, usage errors (exit 2), train/eval/summary on
# the bundled data, --json output, and failures (exit 1) that name their cause and leave an
# existing model file alone. Run by `make check` with QR_SRCDIR and QR_BUILDDIR set; the
# source tree is only read (it is read-only under `make distcheck`): every output goes to a
# fresh mktemp directory. Ends with the line "cli: N passed, N failed".
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${QR_BUILDDIR:-.}
qreg="$builddir/qreg"
quickstart="$srcdir/examples/quickstart.json"
csv="$srcdir/data/breast_cancer.csv"

if [ ! -x "$qreg" ]; then
    echo "cli: $qreg not found (build it first)" >&2
    exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qreg-cli.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
have_python=1
command -v python3 >/dev/null 2>&1 || have_python=0

pass() {
    passed=$((passed + 1))
    echo "ok - $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    sed 's/^/    stdout: /' "$tmp/out" | head -n 8
    sed 's/^/    stderr: /' "$tmp/err" | head -n 8
}

# check NAME WANT_EXIT STREAM REGEX CMD...: run CMD (stdout to $tmp/out, stderr to
# $tmp/err); pass if it exits with WANT_EXIT and STREAM (out or err) matches the extended
# REGEX (an empty REGEX matches anything).
check() {
    local name=$1 want=$2 stream=$3 regex=$4
    shift 4
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, want $want"
    elif [ -n "$regex" ] && ! grep -Eq -- "$regex" "$tmp/$stream"; then
        fail "$name: std$stream does not match /$regex/"
    else
        pass "$name"
    fi
}

# json_check NAME PYTHON_EXPR: $tmp/out must parse as one JSON document `d` for which
# PYTHON_EXPR is true.
json_check() {
    local name=$1 expr=$2
    if [ "$have_python" -eq 0 ]; then
        echo "skip - $name (no python3)"
        return
    fi
    if python3 -c "import json, sys
d = json.load(sys.stdin)
sys.exit(0 if ($expr) else 1)" <"$tmp/out" 2>"$tmp/py"; then
        pass "$name"
    else
        cat "$tmp/py" >>"$tmp/err"
        fail "$name: not JSON or not ($expr)"
    fi
}

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
check "eval" 0 out '^accuracy: (0\.[0-9]+|1\.0+)$' "$qreg" eval "$model" --data "$csv"
check "eval --data=FILE" 0 out '^samples: 569$' "$qreg" eval "$model" --data="$csv"
check "summary" 0 out '^parameters: 530 ' "$qreg" summary "$quickstart"

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
check "export of the quickstart MLP" 0 out 'wrote .*/model_compiled\.h' \
    "$qreg" export "$tmp/p.qrm" --out "$tmp/exp" --name mlp
if grep -q 'int mlp_push(int32_t \*mem, const int32_t \*frame)' "$tmp/exp/model_compiled.c" &&
    grep -q 'qrt_status mlp_load(qrt_model \*m)' "$tmp/exp/model.c" && [ -s "$tmp/exp/model.qrt" ]; then
    pass "export: blob, blob as C, compiled C"
else
    fail "export: missing output in $tmp/exp"
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
    # the model records its front end; eval warns when the data was made with other settings
    check "train an audio model" 0 out 'saved model' \
        "$qreg" train "$tmp/wav.json" --out "$tmp/wav.qrm"
    check "export of an audio model writes its front end's tables" 0 out \
        'wrote .*/model_frontend\.c, .*/model_frontend\.h: the integer audio front end \(the model was trained with the float' \
        "$qreg" export "$tmp/wav.qrm" --out "$tmp/wavexp"
    check "an audio model is format version 2" 0 out '^2$' \
        python3 -c 'import struct,sys; print(struct.unpack_from("<I", open(sys.argv[1], "rb").read(), 8)[0])' "$tmp/wav.qrm"
    check "eval on features made as in training" 0 out 'accuracy' \
        "$qreg" eval "$tmp/wav.qrm" --data "$tmp/wavfeat2/test.csv"
    if grep -q warning "$tmp/err"; then
        fail "eval on features made as in training: a warning: $(cat "$tmp/err")"
    else
        pass "eval on features made as in training: no warning"
    fi
    sed 's/"duration": 0.25,/"duration": 0.25, "frontend": "int",/' "$tmp/wav.json" >"$tmp/wav-int.json"
    check "features with the integer front end" 0 out '"frontend":"int"' \
        sh -c '"$1" features "$2" --out "$3" --no-augment >/dev/null && cat "$3/features.json"' \
        sh "$qreg" "$tmp/wav-int.json" "$tmp/wavint"
    check "eval on features of another front end: a warning naming it" 0 err \
        'warning: .*features\.json: .*frontend = "float" \(model\) vs "int" \(data\)' \
        "$qreg" eval "$tmp/wav.qrm" --data "$tmp/wavint/test.csv"
else
    echo "skip - features of an audio config (no python3)"
fi

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
