#!/usr/bin/env bash
# docs/accuracy-m15/run.sh — the integer model before and after a change of the exporter, on the
# same trained models: each model exported by both builds and evaluated (`qreg eval --int
# --json`: float, integer and fake-quantized accuracy, agreement). Used for the 15-bit
# multipliers (docs/runtime.md, "Accuracy of the 15-bit multipliers").
#
#   docs/accuracy-m15/run.sh QREG_BEFORE QREG_AFTER OUT_DIR [bts] [kws KWS_MODELS_DIR KWS_TEST_CSV]
#
# bts: trains examples/bts.json (8 bits) and bts-{4,2,1}bit.json at seeds 1-5 with QREG_AFTER
# (training is not what changed) on ${QREG_DATA}/motion, then evaluates on its test.csv.
# kws: evaluates every *.qrm of KWS_MODELS_DIR (trained by examples/kws-small-*.json) on
# KWS_TEST_CSV. Writes OUT_DIR/{bts,kws}-{before,after}.csv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BEFORE="${1:?usage: run.sh QREG_BEFORE QREG_AFTER OUT_DIR [bts] [kws DIR TEST]}"
AFTER="${2:?}"
OUT="${3:?}"
shift 3
DATA="${QREG_DATA:-$HOME/.local/share/qreg/data}"
mkdir -p "$OUT/models"

evaluate() { # QREG CSV TEST MODEL...
    local q=$1 csv=$2 test=$3
    shift 3
    echo "model,samples,float_accuracy,int_accuracy,fq_accuracy,agreement" >"$csv.tmp"
    for m in "$@"; do
        "$q" eval "$m" --data "$test" --int --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
print('%s,%d,%.6f,%.6f,%.6f,%.6f' % ('$(basename "$m" .qrm)', d['samples'], d['accuracy'],
      d['int_accuracy'], d['fq_accuracy'], d['int_fq_agreement']))" >>"$csv.tmp"
    done
    mv "$csv.tmp" "$csv"
}

while [ $# -gt 0 ]; do
    case $1 in
    bts)
        models=()
        for b in 8 4 2 1; do
            cfg="$ROOT/examples/bts-${b}bit.json"
            [ "$b" = 8 ] && cfg="$ROOT/examples/bts.json"
            for sd in 1 2 3 4 5; do
                m="$OUT/models/bts$b-s$sd.qrm"
                [ -f "$m" ] || QREG_DATA="$DATA" "$AFTER" train "$cfg" --seed "$sd" --out "$m" --quiet
                models+=("$m")
            done
        done
        evaluate "$BEFORE" "$OUT/bts-before.csv" "$DATA/motion/test.csv" "${models[@]}"
        evaluate "$AFTER" "$OUT/bts-after.csv" "$DATA/motion/test.csv" "${models[@]}"
        shift ;;
    kws)
        dir="${2:?kws needs a models dir}" test="${3:?kws needs a test csv}"
        evaluate "$BEFORE" "$OUT/kws-before.csv" "$test" "$dir"/*.qrm
        evaluate "$AFTER" "$OUT/kws-after.csv" "$test" "$dir"/*.qrm
        shift 3 ;;
    *) echo "run.sh: unknown set '$1'" >&2; exit 2 ;;
    esac
done
