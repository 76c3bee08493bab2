#!/usr/bin/env bash
# docs/accuracy-capacity.md: the 1- and 2-bit models with a wider GRU, trained by `qreg recipe`,
# against the data set's standard 8-bit model. Fashion-MNIST (15 epochs): GRU(128) and GRU(64)
# at 1 and 2 bits, float 8 -> STE 7 at the config's Adam 2e-3 (--lr-factor 1), and GRU(128)'s
# own float model and 8-bit PTQ. KWS (40 epochs): the CGRU with GRU(64) instead of 32 at 1 and
# 2 bits, float 20 -> STE 20 at 10x Nadam 1e-3 (qreg recipe's defaults: the table's nodrop-cos),
# and its own float model and 8-bit PTQ; and the table's progressive 1-bit KWS recipe
# (examples/kws-small-1bit-prog.json) on the GRU(64) model. Seeds 1-5. Every run prints one
# JSON line (qreg train --json) into OUT/results.jsonl, tagged with its config and seed.
#   docs/accuracy-capacity/run.sh QREG OUT
# KWS reads the features `qreg features` writes for examples/kws-small.json (datasets/kws.sh
# --clips 6000 first); Fashion-MNIST reads datasets/fashion_mnist.sh's CSV files.
set -euo pipefail
QREG=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=$2
EX=$(cd "$(dirname "$0")/../../examples" && pwd)
mkdir -p "$OUT" && cd "$OUT"
if [ ! -f features/test.csv ]; then
    python3 - "$EX" <<'PY'
import json, sys
c = json.load(open(sys.argv[1] + "/kws-small.json"))
c["data"]["audio"]["cache"] = False
json.dump(c, open("kws-features.json", "w"), indent=1)
PY
    "$QREG" features kws-features.json --out features
fi
python3 - "$EX" <<'PY'
import copy, json, sys
ex = sys.argv[1]
def gru(c, units):
    c = copy.deepcopy(c)
    for l in c["model"]:
        if l["type"] == "gru":
            l["units"] = units
    return c
f = json.load(open(ex + "/fashion-mnist-gru.json"))
f["training"]["epochs"] = 15
k = json.load(open(ex + "/kws-small.json"))
k["data"] = {"train": "features/train.csv", "validation": "features/val.csv",
             "test": "features/test.csv", "label": "label", "sequence": [94, 13]}
ptq = {"matrices": [{"layer": "all", "bits": 8, "regularize": False}]}
# the table's progressive 1-bit KWS recipe (examples/kws-small-1bit-prog.json) on GRU(64)
prog = gru(json.load(open(ex + "/kws-small-1bit-prog.json")), 64)
prog.pop("description")
prog["data"], prog["output"] = k["data"], {"model": "kws64-1bit-prog.qrm"}
json.dump(prog, open("kws64-1bit-prog.json", "w"), indent=1)
for name, c in [("fmn128", gru(f, 128)), ("fmn64", gru(f, 64)), ("kws64", gru(k, 64))]:
    c["output"] = {"model": name + ".qrm"}
    json.dump(c, open(name + "-float.json", "w"), indent=1)
    json.dump(dict(c, quantize=ptq), open(name + "-8bit.json", "w"), indent=1)
PY
for b in 1 2; do
    "$QREG" recipe fmn128-float.json --bits $b --float-epochs 8 --lr-factor 1 --out fmn128-${b}bit.json
    "$QREG" recipe fmn64-float.json --bits $b --float-epochs 8 --lr-factor 1 --out fmn64-${b}bit.json
    "$QREG" recipe kws64-float.json --bits $b --out kws64-${b}bit.json
done
run() { # config seed [args]
    local cfg=$1 s=$2
    shift 2
    local j
    j=$("$QREG" train "$cfg" --seed "$s" --out "${cfg%.json}-s$s.qrm" --json --quiet "$@")
    printf '{"config": "%s", "seed": %s, "result": %s}\n' "$cfg" "$s" "$j" >>results.jsonl
}
for s in 1 2 3 4 5; do
    for c in fmn128-1bit fmn128-2bit fmn64-1bit fmn64-2bit kws64-1bit kws64-2bit kws64-1bit-prog \
        fmn128-float kws64-float; do
        run $c.json $s
    done
    run fmn128-8bit.json $s --init fmn128-float-s$s.qrm --epochs 0
    run kws64-8bit.json $s --init kws64-float-s$s.qrm --epochs 0
done
