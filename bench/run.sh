#!/bin/sh
# qreg vs PyTorch training throughput on the thesis' two reference models (docs/performance.md).
#
#   bench/run.sh                 build if needed, run bts and gsc at 1 and 2 threads, print a table
#
# Environment:
#   BUILD=dir      build directory (default /tmp/build-bench; configured from this tree if empty)
#   PYTHON=python  interpreter with torch (default /usr/bin/python3: Debian's python3-torch)
#   OUT=dir        where the raw JSON goes (default $BUILD/bench-results)
#   STEPS_BTS, STEPS_GSC, REPEAT   timed steps per run and runs per measurement (1000, 20, 3)
#   OPENBLAS_CORETYPE   as OpenBLAS reads it. Unset: if OpenBLAS falls back to its Prescott
#                  (SSE3) kernels on a CPU it does not know although the CPU has AVX-512 or
#                  AVX2, this script sets SkylakeX or Haswell for both qreg and torch (OpenBLAS
#                  0.3.21 does this on Sapphire/Emerald Rapids). Set it to "default" to keep
#                  OpenBLAS's own choice.
# torch runs with the OpenMP build of OpenBLAS first on the library path (Debian's
# libopenblas0-openmp), so that its OpenMP pool is the only owner of threads; qreg links the
# pthread build, whose pool OpenBLAS sizes with qr_set_threads. Nothing else should be
# running: the table reports the load average before and after.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-/tmp/build-bench}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$BUILD/bench-results}
STEPS_BTS=${STEPS_BTS:-1000}
STEPS_GSC=${STEPS_GSC:-20}
REPEAT=${REPEAT:-3}
OMP_BLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-openmp

mkdir -p "$BUILD" "$OUT"
if [ ! -f "$BUILD/Makefile" ]; then
    (cd "$BUILD" && "$here/configure" -q)
fi
make -C "$BUILD" -s bench/qreg-bench
bench="$BUILD/bench/qreg-bench"

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "run.sh: $PYTHON cannot import torch (apt-get install python3-torch libopenblas0-openmp)" >&2
    exit 1
fi

# OpenBLAS's kernel choice (see above).
core=$(OPENBLAS_VERBOSE=2 "$bench" --model bts --threads 1 --steps 1 --warmup 0 --repeat 1 2>&1 |
       sed -n 's/^Core: //p' | head -n 1)
if [ "${OPENBLAS_CORETYPE:-}" = default ]; then
    unset OPENBLAS_CORETYPE
elif [ -z "${OPENBLAS_CORETYPE:-}" ] && [ "$core" = Prescott ]; then
    if grep -qw avx512f /proc/cpuinfo; then
        OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then
        OPENBLAS_CORETYPE=Haswell
    fi
    [ -n "${OPENBLAS_CORETYPE:-}" ] && export OPENBLAS_CORETYPE
fi
core_used=$(OPENBLAS_VERBOSE=2 "$bench" --model bts --threads 1 --steps 1 --warmup 0 --repeat 1 2>&1 |
            sed -n 's/^Core: //p' | head -n 1)

torch_env=""
[ -d "$OMP_BLAS_DIR" ] && torch_env="LD_LIBRARY_PATH=$OMP_BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "machine: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores"
echo "OpenBLAS kernels: detected $core, used $core_used (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
echo "qreg binary: $(ldd "$bench" | sed -n 's/.*libopenblas[^ ]* => \([^ ]*\).*/\1/p' | head -n 1)"

for t in 1 2; do
    for m in bts gsc; do
        if [ $m = bts ]; then steps=$STEPS_BTS; else steps=$STEPS_GSC; fi
        echo "running: $bench --model $m --threads $t --steps $steps --repeat $REPEAT --json" >&2
        "$bench" --model $m --threads $t --steps "$steps" --repeat "$REPEAT" --json --no-sgemm \
            > "$OUT/qreg-$m-$t.json"
        echo "running: $torch_env $PYTHON $here/bench/torch_train.py --model $m --threads $t" \
             "--steps $steps --repeat $REPEAT" >&2
        env ${torch_env:+"$torch_env"} "$PYTHON" "$here/bench/torch_train.py" --model $m --threads $t \
            --steps "$steps" --repeat "$REPEAT" > "$OUT/torch-$m-$t.json"
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$PYTHON" - "$OUT" "$load_before" "$load_after" <<'EOF'
import json, sys
out, before, after = sys.argv[1:4]
rows = []
for t in (1, 2):
    for m in ("bts", "gsc"):
        q = json.load(open(f"{out}/qreg-{m}-{t}.json"))["results"][0]
        p = json.loads(open(f"{out}/torch-{m}-{t}.json").read().splitlines()[0])
        rows.append((m, t, q["samples_per_s"], p["samples_per_s"], q["cpu_samples_per_s"],
                     p["cpu_samples_per_s"]))
blas = json.loads(open(f"{out}/torch-bts-1.json").read().splitlines()[0])
print(f"torch {blas['torch']}, BLAS mapped: {', '.join(blas['blas']) or 'none found'}")
print(f"load average before {before}, after {after}")
print()
print("| model | threads | qreg samples/s | torch samples/s | qreg / torch "
      "| CPU-time rates: qreg | torch | ratio |")
print("|---|---|---|---|---|---|---|---|")
for m, t, q, p, qc, pc in rows:
    cpu = f"{qc:,.0f} | {pc:,.0f} | {qc / pc:.1f}x" if t == 1 else "- | - | -"
    print(f"| {m} | {t} | {q:,.0f} | {p:,.0f} | {q / p:.1f}x | {cpu} |")
print()
print("CPU-time rates count the main thread's CPU time only: comparable at 1 thread, where")
print("they discount time the process spent waiting for a core on a busy machine.")
EOF
