#!/usr/bin/env bash
# The MPI path of qreg sweep (a --with-mpi build): `mpirun -np 2` runs a tiny sweep over two
# ranks (rank 0 hands out points, runs some itself and writes the files; rank 1 runs the
# others and sends its rows), and the set of ids it records equals a single-machine run's,
# each id once. Skipped (exit 77) when qreg has no MPI support or mpirun is missing.
# Run by `make check` in an MPI build and by .ci/run. Ends with "sweep-mpi: N passed, N failed".
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
qreg="$(cd "$builddir" && pwd)/qreg"
wine="$srcdir/data/wine.csv"

need_qreg
if ! "$qreg" sweep --help | grep -q 'MPI support'; then
    skip "sweep-mpi: skipped (qreg built without --with-mpi)"
fi
if ! command -v mpirun >/dev/null 2>&1; then
    skip "sweep-mpi: skipped (no mpirun; Debian: openmpi-bin)"
fi
use_tmp_cd

ids() { # the sorted ids with status ok in a results CSV file, one per line
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") s = i; next }
        $s == "ok" { print $1 }' "$1" | sort
}

cat >sweep.json <<EOF
{"base": {"data": {"train": "$wine", "label": "label"},
          "model": [{"type": "dense", "units": 8}, {"type": "relu"}, {"type": "dense"}],
          "training": {"epochs": 2, "batch_size": 16, "seed": 1},
          "quantize": {"schedule": {"name": "none"},
                       "matrices": [{"layer": "all", "bits": 4}]}},
 "axes": {"quantize.matrices[0].bits": [1, 2, 4, 8],
          "quantize.schedule.name": ["none", "linear"]},
 "repeat": 2}
EOF

# Open MPI in a container: root is allowed explicitly; no fork warning (the runs are children)
export OMPI_MCA_mpi_warn_on_fork=0 OMPI_MCA_btl_vader_single_copy_mechanism=none
mpirun=(mpirun --oversubscribe --allow-run-as-root -np 2)

"$qreg" sweep sweep.json --out single -j 2 --quiet >single.log 2>&1
s1=$?
"${mpirun[@]}" "$qreg" sweep sweep.json --out mpi --mpi >mpi.log 2>&1
s2=$?
if [ "$s1" -eq 0 ] && [ "$s2" -eq 0 ]; then
    pass "single-machine and mpirun -np 2 sweeps succeed"
else
    fail "exit status: single $s1, mpi $s2"
    sed 's/^/    /' single.log mpi.log | tail -n 20
fi
ids single/results.csv >single.ids
ids mpi/results.csv >mpi.ids
n=$(wc -l <single.ids)
if [ "$n" -eq 16 ] && cmp -s single.ids mpi.ids && [ -z "$(uniq -d mpi.ids)" ]; then
    pass "the MPI run's ids equal the single-machine run's (16, each once)"
else
    fail "ids: single $n, mpi $(wc -l <mpi.ids), duplicates: $(uniq -d mpi.ids | wc -l)"
    diff single.ids mpi.ids | head -n 10
fi
if [ "$(wc -l <mpi/results.jsonl)" -eq 16 ] && [ "$(tail -n +2 mpi/results.csv | wc -l)" -eq 16 ]; then
    pass "rank 0 wrote one row per run to results.csv and results.jsonl"
else
    fail "rows: $(wc -l <mpi/results.jsonl) json lines"
fi
# rank 0 prints a progress line for every row, marking those another rank ran
if grep -Eq '^\[ *[0-9]+/16\] ok .*\(rank 1\)$' mpi.log && grep -Eq '^\[ *[0-9]+/16\] ok .*s$' mpi.log; then
    pass "both ranks ran points"
else
    fail "rank 1 ran nothing: $(grep -c 'rank 1' mpi.log) rows from it"
fi
"${mpirun[@]}" "$qreg" sweep sweep.json --out mpi --mpi >again.log 2>&1
if [ $? -eq 0 ] && grep -q 'nothing to run' again.log; then
    pass "a second mpirun finds every run done"
else
    fail "second mpirun: $(tail -n 3 again.log)"
fi

finish
