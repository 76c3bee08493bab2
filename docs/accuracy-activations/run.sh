#!/usr/bin/env bash
# docs/accuracy-activations.md: integer-model accuracy with int32 activations (the wide grids
# of today's export), post-training 8-bit activations (qreg eval --int --act-bits 8: A = 127,
# scales from the calibration, no training change) and QAT 8-bit activations (the same config
# plus "quantize": {"activations": {"bits": 8}}: the activation grids fake-quantized in
# training, exported on the trained grids). bts (examples/bts.json: float weights, 8-bit PTQ
# at export; bts-4bit.json and bts-1bit.json: the thesis recipes), Fashion-MNIST GRU(64)
# (examples/fashion-mnist-gru.json) and the small KWS CGRU (examples/kws-small.json on the
# features `qreg features` writes). Seeds 1-5 (SEEDS overrides); BITS=4 measures 4-bit
# activation grids instead of 8 (configs NAME-a4, acts ptq4/qat4). One JSON line per trained
# model and evaluation into OUT/results.jsonl.
#   docs/accuracy-activations/run.sh QREG OUT [bts|fashion|kws ...]
# Data: ${QREG_DATA} (default ~/.local/share/qreg/data): motion (datasets/motion.py),
# fashion-mnist (datasets/fashion_mnist.sh), kws (datasets/kws.sh).
set -euo pipefail
QREG=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=$2
shift 2
SETS=${*:-bts fashion kws}
SEEDS=${SEEDS:-1 2 3 4 5}
BITS=${BITS:-8}
export QREG_DATA=${QREG_DATA:-$HOME/.local/share/qreg/data}
EX=$(cd "$(dirname "$0")/../../examples" && pwd)
mkdir -p "$OUT" && cd "$OUT"
case " $SETS " in *" kws "*)
if [ ! -f features/test.csv ]; then
    python3 - "$EX" <<'PY'
import json, sys
c = json.load(open(sys.argv[1] + "/kws-small.json"))
c["data"]["audio"]["cache"] = False
json.dump(c, open("kws-features.json", "w"), indent=1)
PY
    "$QREG" features kws-features.json --out features
fi ;;
esac
# NAME.json: the example as it is; NAME-aB.json: the same with B-bit activation QAT
python3 - "$EX" "$BITS" <<'PY'
import json, os, sys
ex, bits = sys.argv[1], int(sys.argv[2])
def write(name, c):
    c.pop("description", None)
    c["output"] = {"model": name + ".qrm"}
    json.dump(c, open(name + ".json", "w"), indent=1)
    q = dict(c.get("quantize", {}))
    q["activations"] = {"bits": bits}
    c["quantize"] = q
    c["output"] = {"model": "%s-a%d.qrm" % (name, bits)}
    json.dump(c, open("%s-a%d.json" % (name, bits), "w"), indent=1)
for n in ["bts", "bts-4bit", "bts-1bit", "fashion-mnist-gru"]:
    write(n, json.load(open(os.path.join(ex, n + ".json"))))
k = json.load(open(os.path.join(ex, "kws-small.json")))
k["data"] = {"train": "features/train.csv", "validation": "features/val.csv",
             "test": "features/test.csv", "label": "label", "sequence": [94, 13]}
write("kws-small", k)
PY
test_of() { # config -> its test file
    python3 -c "import json,os,sys; print(os.path.expandvars(json.load(open(sys.argv[1]))['data']['test']))" "$1"
}
run() { # name seed
    local name=$1 s=$2 test j e
    test=$(test_of "$name.json")
    for v in "" "-a$BITS"; do
        j=$(nice -n 10 "$QREG" train "$name$v.json" --seed "$s" --out "$name$v-s$s.qrm" --json --quiet)
        printf '{"config": "%s", "seed": %s, "train": %s}\n' "$name$v" "$s" "$j" >>results.jsonl
        e=$("$QREG" eval "$name$v-s$s.qrm" --data "$test" --int --act-bits 32 --json)
        printf '{"config": "%s", "seed": %s, "acts": "%s", "eval": %s}\n' "$name$v" "$s" \
            "$([ -z "$v" ] && echo int32 || echo "qat$BITS")" "$e" >>results.jsonl
        if [ -z "$v" ]; then
            e=$("$QREG" eval "$name-s$s.qrm" --data "$test" --int --act-bits "$BITS" --json)
            printf '{"config": "%s", "seed": %s, "acts": "ptq%s", "eval": %s}\n' "$name" "$s" \
                "$BITS" "$e" >>results.jsonl
        fi
    done
}
for s in $SEEDS; do
    for set in $SETS; do
        case $set in
        bts) run bts "$s"; run bts-4bit "$s"; run bts-1bit "$s" ;;
        fashion) run fashion-mnist-gru "$s" ;;
        kws) run kws-small "$s" ;;
        esac
    done
done
