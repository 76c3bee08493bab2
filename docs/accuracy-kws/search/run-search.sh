#!/bin/bash
# The searched hybrid at the thesis' byte saving (37.28 % below the 8-bit model) on the KWS
# model (5148 of 8208 B) and the Fashion-MNIST GRU (12469 of 19880 B), seeds 1-5:
# `qreg search` measures the sensitivities on the float first stage of the best recipe
# (KWS 20 epochs, Fashion-MNIST 8), picks the plan and trains it by STE for the rest of the
# budget (KWS 20 epochs at Nadam 1e-2, Fashion-MNIST 7 at Adam 2e-3) with learned scales
# ("auto": per channel where a batch norm follows), batch norms re-estimated.
# These runs used the search's first method, now --allocate knapsack --search-epochs 0
# --no-search-bn (given below). Its training step was then a plain one-stage run; it now
# runs as the second stage of a float -> STE recipe (other random streams), so today's qreg
# picks the same plans but trains them to slightly different accuracies.
#
# usage: docs/accuracy-kws/search/run-search.sh KWS_OUT FASHION_OUT
#   KWS_OUT: bench/accuracy_bts.py --kws's OUT (it holds features/*.csv); the two configs of
#   this folder are copied into it (their data paths are relative to it).
#   QREG (default build/qreg) is the qreg to run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
Q=${QREG:-$root/build/qreg}
K=$1
F=$2
mkdir -p "$F"
cp "$here/kws-float20.json" "$here/kws-search-lr1e-2.json" "$K/"
for s in 1 2 3 4 5; do
    "$Q" train "$K/kws-float20.json" --seed $s --out "$K/float20-s$s.qrm" --json --quiet \
        > "$K/float20-s$s.result.json"
    "$Q" search "$K/kws-search-lr1e-2.json" --init "$K/float20-s$s.qrm" --budget 5148 \
        --allocate knapsack --search-epochs 0 --no-search-bn --epochs 20 --seed $s \
        --out "$K/search-s$s.qrm" --plan "$K/search-s$s.plan.json" --json --quiet \
        > "$K/search-s$s.json"
    "$Q" train "$root/examples/fashion-mnist-gru.json" --epochs 8 --seed $s \
        --out "$F/float8-s$s.qrm" --json --quiet > "$F/float8-s$s.result.json"
    "$Q" search "$root/examples/fashion-mnist-gru.json" --init "$F/float8-s$s.qrm" \
        --budget 12469 --allocate knapsack --search-epochs 0 --no-search-bn --epochs 7 \
        --seed $s --out "$F/search-s$s.qrm" --plan "$F/search-s$s.plan.json" --json --quiet \
        > "$F/search-s$s.json"
done
