#!/usr/bin/env bash
# Tests of qreg sweep and qreg report on tiny configs (the bundled wine data, 2 epochs): usage
# errors, key-path errors naming the path, results rows for every run (a diverging run and a
# bad config recorded as failed while the sweep goes on), stable ids, resuming (finished ids
# skipped, a torn last row ignored, missing runs rerun), SIGINT stopping runs with checkpoints
# and the next sweep resuming them, an error (a config.json that cannot be written) while runs
# go stopping and reaping them (also with a SIGTERM while it waits), shards partitioning the
# points, and the report: summary files and SVG plots that rsvg-convert renders. Run by
# `make check` (QR_SRCDIR, QR_BUILDDIR); the source tree is only read. Ends with
# "sweep: N passed, N failed".
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
wine="$srcdir/data/wine.csv"

need_qreg
use_tmp_cd
show_out_lines=12

# ok_ids FILE...: the sorted unique ids with status ok in results CSV files
ok_ids() {
    awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") s = i; next }
        $s == "ok" { print $1 }' "$@" | sort -u
}
rows() { tail -n +2 "$1" | wc -l | tr -d ' '; }

# ---- a tiny base config and sweeps -------------------------------------------------------
mkdir -p conf
cat >conf/base.json <<EOF
{"data": {"train": "$wine", "label": "label"},
 "model": [{"type": "dense", "units": 8}, {"type": "relu"}, {"type": "dense"}],
 "optimizer": {"name": "adam", "learning_rate": 0.01},
 "training": {"epochs": 2, "batch_size": 16, "seed": 1},
 "quantize": {"lambda": 0.001, "schedule": {"name": "none"},
              "matrices": [{"layer": "all", "bits": 4}]},
 "output": {"model": "ignored.qrm"}}
EOF
# 2 bits x 2 schedules x 2 seeds = 8 runs, plus two failing points (x 2 seeds):
# a diverging one (NaN loss in the child) and one whose config is invalid
cat >grid.json <<'EOF'
{"base": "conf/base.json",
 "axes": {"quantize.matrices[0].bits": [2, 4],
          "quantize.schedule.name": ["none", "linear"]},
 "include": [{"optimizer.name": "sgd", "optimizer.learning_rate": 10,
              "training.epochs": 6},
             {"model[0].units": 0}],
 "names": {"quantize.matrices[0].bits": "bits", "quantize.schedule.name": "schedule"},
 "repeat": 2, "output": "grid-out"}
EOF

# ---- usage and sweep-file errors ---------------------------------------------------------
check "sweep --help" 0 out '^usage: qreg sweep' "$qreg" sweep --help
check "report --help" 0 out '^usage: qreg report' "$qreg" report --help
check "qreg --help lists sweep and report" 0 out '^  report ' "$qreg" --help
check "sweep without a file" 2 err 'usage: qreg sweep' "$qreg" sweep
check "sweep --shard 3/2" 2 err "'--shard'" "$qreg" sweep grid.json --shard 3/2
check "sweep --shard x" 2 err "'--shard'" "$qreg" sweep grid.json --shard x
check "sweep -j 0" 2 err "'-j'" "$qreg" sweep grid.json -j 0
check "sweep: unknown option" 2 err "unknown option '--frob'" "$qreg" sweep grid.json --frob
check "report without a file" 2 err 'usage: qreg report' "$qreg" report
check "sweep: missing file" 1 err 'nope\.json' "$qreg" sweep nope.json
cat >badpath.json <<'EOF'
{"base": "conf/base.json", "axes": {"quantize.matrices[3].bits": [1, 2]}}
EOF
check "sweep: an index out of range names the path" 1 err \
    "badpath\.json: axis 'quantize\.matrices\[3\]\.bits' = 1: 'quantize\.matrices\[3\]\.bits': index 3 is out of range" \
    "$qreg" sweep badpath.json --dry-run
cat >badkey.json <<'EOF'
{"base": "conf/base.json", "axes": {"traning.epochs": [1, 2]}}
EOF
check "sweep: a missing key names it" 1 err "'traning' does not exist in the base config" \
    "$qreg" sweep badkey.json
if [ ! -e badkey-results ] && [ ! -e badpath-results ]; then
    pass "a bad sweep file creates no output directory"
else
    fail "a bad sweep file created an output directory"
fi

# ---- dry run: ids, stable across runs and key order ------------------------------------
check "dry run" 1 out '^12 runs: 0 done, 12 to run; 2 configs with errors' \
    "$qreg" sweep grid.json --dry-run
grep -E '^[0-9a-f]{12} ' "$tmp/out" | cut -c1-12 | sort >ids-a
if grep -q "ERROR.*units" "$tmp/out"; then pass "dry run names the bad config"; else fail "dry run: no config error"; fi
[ -e grid-out ] && fail "dry run wrote the output directory" || pass "dry run writes nothing"
cat >grid2.json <<'EOF'
{"output": "grid-out", "repeat": 2,
 "names": {"quantize.schedule.name": "schedule", "quantize.matrices[0].bits": "bits"},
 "include": [{"optimizer.learning_rate": 10, "training.epochs": 6, "optimizer.name": "sgd"},
             {"model[0].units": 0}],
 "axes": {"quantize.matrices[0].bits": [2, 4],
          "quantize.schedule.name": ["none", "linear"]},
 "base": "conf/base.json"}
EOF
"$qreg" sweep grid2.json --dry-run 2>/dev/null | grep -E '^[0-9a-f]{12} ' | cut -c1-12 | sort >ids-b
if [ "$(wc -l <ids-a)" -eq 12 ] && cmp -s ids-a ids-b; then
    pass "ids: 12 distinct, the same for another key order"
else
    fail "ids differ between key orders"
fi

# ---- the sweep -------------------------------------------------------------------------
check "sweep runs (exit 1: some runs failed)" 1 out '12 runs finished in .*: 8 ok, 4 failed' \
    "$qreg" sweep grid.json -j 2
cp "$tmp/out" first.out
if [ "$(rows grid-out/results.csv)" -eq 12 ] && [ "$(wc -l <grid-out/results.jsonl)" -eq 12 ]; then
    pass "one row per run in results.csv and results.jsonl"
else
    fail "results: $(rows grid-out/results.csv) csv rows, $(wc -l <grid-out/results.jsonl) json lines"
fi
if head -n 1 grid-out/results.csv | grep -q '^id,bits,schedule,optimizer\.name,optimizer\.learning_rate,training\.epochs,model\[0\]\.units,rep,seed,status,error,val_accuracy,test_accuracy,fq_val_accuracy,fq_test_accuracy,int_val_accuracy,int_test_accuracy,val_loss,test_loss,best_epoch,bytes,actual_bytes,baseline_bytes,reduction_pct,seconds$'; then
    pass "results.csv header"
else
    fail "results.csv header: $(head -n 1 grid-out/results.csv)"
fi
if [ "$(grep -c ',failed,.*diverged' grid-out/results.csv)" -eq 2 ] &&
    [ "$(grep -c ",failed,.*'model\[0\]\.units'" grid-out/results.csv)" -eq 2 ]; then
    pass "the diverging run and the bad config are recorded as failed with their errors"
else
    fail "failed rows: $(grep ',failed,' grid-out/results.csv)"
fi
if grep -Eq '^\[ ?[0-9]+/12\] ok +[0-9a-f]{12}  bits=2 schedule=none .*seed=1  fq_test [0-9.]+% \(val [0-9.]+%\)  [0-9.]+ B \([0-9.]+% smaller\)' first.out &&
    grep -Eq '^\[ ?[0-9]+/12\] FAILED [0-9a-f]{12} .*diverged' first.out; then
    pass "one progress line per finished run"
else
    fail "progress lines: $(head -n 3 first.out)"
fi
ok_ids grid-out/results.csv >ok-1
id=$(head -n 1 ok-1)
if [ -s "grid-out/runs/$id/config.json" ] && [ -s "grid-out/runs/$id/model.qrm" ] &&
    grep -q '"threads":[[:space:]]*1' "grid-out/runs/$id/config.json" &&
    grep -q "\"train\":[[:space:]]*\"$wine\"" "grid-out/runs/$id/config.json" &&
    [ ! -e "grid-out/runs/$id/model.qrm.ckpt" ]; then
    pass "run directory: config (one thread, absolute data path), model, no checkpoint left"
else
    fail "run directory grid-out/runs/$id: $(ls "grid-out/runs/$id" 2>&1)"
fi

# ---- resume ----------------------------------------------------------------------------
check "rerun skips finished ids, reruns the failed" 1 out '8 already done, 4 to run' \
    "$qreg" sweep grid.json -j 2
# a sweep killed while writing: drop the last ok rows' lines and leave a torn line
grep '"status":"ok"' grid-out/results.jsonl | head -n 5 >kept
{ cat kept; head -c 40 kept; } >grid-out/results.jsonl
check "resume after losing rows: reruns exactly the missing ok runs" 1 out '5 already done, 7 to run' \
    "$qreg" sweep grid.json -j 2
ok_ids grid-out/results.csv >ok-2
if cmp -s ok-1 ok-2 && [ "$(ok_ids grid-out/results.csv | wc -l)" -eq 8 ]; then
    pass "the same 8 ok ids after resuming"
else
    fail "ok ids changed after resume"
fi
if tail -c 1 grid-out/results.jsonl | od -c | grep -q '\\n' &&
    [ "$(grep -c '^{' grid-out/results.jsonl)" -eq "$(wc -l <grid-out/results.jsonl)" ]; then
    pass "the torn line was closed; every later row is whole"
else
    fail "results.jsonl has a torn row"
fi

# ---- SIGINT: runs stop with checkpoints, the next sweep resumes them -------------------
# Runs of about a second (no per-epoch checkpoints); SIGINT once both have logged an epoch
# (their handlers are installed by then).
cat >long.json <<EOF
{"base": {"data": {"train": "$wine", "label": "label"},
          "model": [{"type": "dense", "units": 128}, {"type": "relu"}, {"type": "dense"}],
          "training": {"epochs": 1500, "batch_size": 4, "seed": 3, "checkpoint_every": 0}},
 "axes": {"training.seed": [3, 4]}, "output": "long-out"}
EOF
"$qreg" sweep long.json -j 2 --no-int >int.out 2>int.err &
pid=$!
for _ in $(seq 1 300); do
    [ "$(ls long-out/runs/*/log.csv 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 0.1
done
kill -INT "$pid"
wait "$pid"
status=$?
if [ "$status" -eq 130 ] && grep -q 'interrupted (2 stopped with a checkpoint' int.out &&
    [ "$(rows long-out/results.csv)" -eq 0 ] &&
    [ "$(ls long-out/runs/*/model.qrm.ckpt | wc -l)" -eq 2 ] &&
    grep -q 'interrupted' long-out/runs/*/stderr.log; then
    pass "SIGINT: exit 130, both runs stopped with a checkpoint, no rows written"
    check "dry run shows the interrupted runs as resumable" 0 out '^[0-9a-f]{12} resume ' \
        "$qreg" sweep long.json --dry-run
    check "the next sweep resumes them" 0 out '2 runs finished in .*: 2 ok, 0 failed' \
        "$qreg" sweep long.json -j 2 --no-int
    if [ "$(ls long-out/runs/*/model.qrm.ckpt 2>/dev/null | wc -l)" -eq 0 ]; then
        pass "the resumed runs leave no checkpoint"
    else
        fail "checkpoints left after the resumed runs"
    fi
elif [ "$status" -eq 0 ]; then
    pass "SIGINT: the runs finished before the signal (machine too fast to test the stop)"
else
    fail "SIGINT: status $status; $(cat int.out int.err | tail -n 3)"
fi

# ---- an error while runs are going: every child reaped, a message, exit 1 --------------
# A regular file where a run's directory goes makes writing its config.json fail (as a full
# disk does), unprivileged and as root. The sweep used to stop reaping its children after
# such an error and wait for them forever (SIGINT to the zombies, SIGTERM ignored).
# child_of PID TEXT: the pid of a child of PID whose command line contains TEXT
child_of() {
    local d
    for d in /proc/[0-9]*; do
        [ "$(cut -d' ' -f4 "$d/stat" 2>/dev/null)" = "$1" ] || continue
        if tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -- "$2"; then
            echo "${d#/proc/}"
            return 0
        fi
    done
    return 1
}
# await PID SECONDS: wait for PID to exit, its exit status in $status ("hung" when it had
# to be killed after SECONDS)
await() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1"
        wait "$1"
        status=hung
    else
        wait "$1"
        status=$?
    fi
}
cat >stuck.json <<EOF
{"base": {"data": {"train": "$wine", "label": "label"},
          "model": [{"type": "dense", "units": 128}, {"type": "relu"}, {"type": "dense"}],
          "training": {"epochs": 1000000, "batch_size": 4, "seed": 3, "checkpoint_every": 0}},
 "axes": {"training.seed": [7, 8, 9]}, "output": "stuck-out"}
EOF
"$qreg" sweep stuck.json --dry-run | grep -E '^[0-9a-f]{12} ' | cut -c1-12 >stuck-ids
a=$(sed -n 1p stuck-ids)
b=$(sed -n 2p stuck-ids)
c=$(sed -n 3p stuck-ids)
mkdir -p stuck-out/runs
: >"stuck-out/runs/$b"
# -j 2: run a starts, then b's config cannot be written while a runs
"$qreg" sweep stuck.json -j 2 --no-int >stuck.out 2>stuck.err &
pid=$!
await "$pid" 60
if [ "$status" = 1 ] && grep -q "^qreg sweep: cannot start run $b: .*runs/$b/config\.json" stuck.err &&
    grep -q 'stopped by an error (1 stopped with a checkpoint, 2 not started)' stuck.out; then
    pass "an error while a run goes: the run is stopped and reaped, the error named, exit 1"
else
    fail "an error while a run goes: status $status; $(cat stuck.out stuck.err | tail -n 3)"
fi
# the same later on, with a SIGTERM while the sweep waits for a run: a and b run (b not yet
# blocked), a is held stopped, b is killed, so c starts and cannot write its config
rm -rf stuck-out
mkdir -p stuck-out/runs
"$qreg" sweep stuck.json -j 2 --no-int >stuck.out 2>stuck.err &
pid=$!
for _ in $(seq 1 300); do
    [ -s "stuck-out/runs/$a/log.csv" ] && [ -s "stuck-out/runs/$b/log.csv" ] && break
    sleep 0.1
done
pa=$(child_of "$pid" "runs/$a/")
pb=$(child_of "$pid" "runs/$b/")
if [ -n "$pa" ] && [ -n "$pb" ]; then
    : >"stuck-out/runs/$c"
    kill -STOP "$pa"
    kill -KILL "$pb"
    for _ in $(seq 1 100); do
        [ "$(rows stuck-out/results.csv)" -ge 1 ] && break
        sleep 0.1
    done
    sleep 0.5
    kill -TERM "$pid"
    kill -CONT "$pa"
    await "$pid" 60
    if [ "$status" = 1 ] && grep -q "^qreg sweep: cannot start run $c: " stuck.err &&
        grep -q 'killed by signal 9' stuck-out/results.csv &&
        grep -q 'stopped by an error (1 stopped with a checkpoint' stuck.out; then
        pass "SIGTERM while the sweep waits for a run after an error: reaped, exit 1"
    else
        fail "SIGTERM after an error: status $status; $(cat stuck.out stuck.err | tail -n 3)"
    fi
else
    kill -INT "$pid"
    await "$pid" 60
    fail "SIGTERM after an error: runs $a and $b did not both start"
fi
[ -n "${pa:-}" ] && kill -CONT "$pa" 2>/dev/null && kill -KILL "$pa" 2>/dev/null

# ---- shards ----------------------------------------------------------------------------
cat >shard.json <<'EOF'
{"base": "conf/base.json",
 "axes": {"quantize.matrices[0].bits": [1, 2, 4, 8], "model[0].units": [4, 8]},
 "repeat": 2, "output": "shard-out"}
EOF
"$qreg" sweep shard.json --dry-run | grep -E '^[0-9a-f]{12} ' | cut -c1-12 | sort >all-ids
for i in 1 2 3; do
    check "shard $i/3" 0 out "shard $i/3" "$qreg" sweep shard.json --shard "$i/3" -j 2
done
ok_ids shard-out/results-*-of-3.csv >shard-ids
dups=$(cat shard-out/results-*-of-3.csv | grep -v '^id,' | cut -d, -f1 | sort | uniq -d | wc -l)
if [ "$(wc -l <all-ids)" -eq 16 ] && cmp -s all-ids shard-ids && [ "$dups" -eq 0 ]; then
    pass "the shards' union is the whole sweep, and no id is in two shards"
else
    fail "shards: $(wc -l <shard-ids) ids, $dups duplicates"
fi
check "a shard rerun finds its runs done" 0 out '6 already done, 0 to run' \
    "$qreg" sweep shard.json --shard 1/3
check "a whole-sweep run after the shards has nothing left" 0 out '16 already done, 0 to run' \
    "$qreg" sweep shard.json

# ---- the integer model: separate validation and test files ---------------------------
awk 'NR == 1 || NR % 4 != 0' "$wine" >conf/train.csv
awk 'NR == 1 || NR % 4 == 0' "$wine" >conf/val.csv
cp conf/val.csv conf/test.csv
cat >int.json <<'EOF'
{"base": "conf/base.json",
 "set": {"data": {"train": "train.csv", "validation": "val.csv", "test": "test.csv",
                  "label": "label"}},
 "axes": {"quantize.matrices[0].bits": [1, 4]}, "output": "int-out"}
EOF
check "sweep with separate validation and test files" 0 out '2 ok, 0 failed' \
    "$qreg" sweep int.json -j 2
# the integer accuracy is the fake-quantized one: that model rounds the activations on the
# export's own grids (bounds of 32767 by default; a 2-epoch 1-bit model has near ties there)
if awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { if ($c["int_test_accuracy"] == "" || $c["int_test_accuracy"] != $c["fq_test_accuracy"] ||
          $c["int_val_accuracy"] != $c["fq_val_accuracy"] || $c["actual_bytes"] + 0 <= 0) bad = 1 }
    END { exit bad }' int-out/results.csv; then
    pass "integer accuracy = fake-quantized accuracy, and the exported size"
else
    fail "int columns: $(cut -d, -f9-13,17 int-out/results.csv | tr '\n' ' ')"
fi
if awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["status"] == "ok" { if ($c["int_test_accuracy"] != "" || $c["actual_bytes"] + 0 <= 0) bad = 1 }
    END { exit bad }' grid-out/results.csv; then
    pass "no integer accuracy without separate files; the exported size still"
else
    fail "int columns of the grid"
fi

# ---- report ----------------------------------------------------------------------------
check "report of the grid" 0 out '^12 runs \(8 ok, 4 failed\) in 6 configurations' \
    "$qreg" report grid-out/results.csv
if grep -Eq '^2 +none +adam +0\.01 +2 +8 +2/2 +[0-9.]+ ± [0-9.]+ ' "$tmp/out" &&
    grep -Eq '^4 +none +sgd +10 +6 +8 +0/2 ' "$tmp/out" && grep -q 'accuracy_per_schedule.svg' "$tmp/out"; then
    pass "report table rows and the schedule box plot"
else
    fail "report table"
fi
# (4 files: the whole-sweep run above added an empty results.csv)
check "report of shard files merges them" 0 out '16 runs \(16 ok, 0 failed\) in 8 configurations from 4 files' \
    "$qreg" report shard-out --out shard-report
if grep -q 'heatmap.svg' "$tmp/out" && head -n 1 shard-report/summary.csv | grep -q '^quantize.matrices\[0\].bits,model\[0\].units,n_ok,n_runs,mean,std'; then
    pass "report: summary.csv and a heat map over bits x units"
else
    fail "report outputs: $(ls shard-report)"
fi
if grep -q '8-bit\|baseline' shard-report/summary.md && grep -q '| baseline |' shard-report/summary.md; then
    pass "report: the 8-bit group is the baseline"
else
    fail "report: no baseline in summary.md"
fi
check "report --json" 0 out '^\{"runs":16,' "$qreg" report shard-out --out shard-json --json
if ! command -v python3 >/dev/null 2>&1; then
    echo "skip - report --json contents (no python3)"
elif python3 - "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
g = d["groups"]
assert d["runs"] == 16 and d["ok"] == 16 and d["configurations"] == 8 == len(g), d
assert len(d["inputs"]) == 4 and d["metric"] and "shard-json/summary.csv" in d["wrote"][0]
assert sum(x["n_runs"] for x in g) == 16 and sum(x["baseline"] for x in g) >= 1
assert all(set(x["settings"]) == {"quantize.matrices[0].bits", "model[0].units"} for x in g)
assert all(0 <= x["mean"] <= 100 and x["bytes"] > 0 for x in g)
PY
then
    pass "report --json: one object, a group per configuration, the files written"
else
    fail "report --json: $(head -c 300 "$tmp/out")"
fi
check "report --baseline of a missing group" 1 err 'no group has' \
    "$qreg" report shard-out --out shard-report --baseline 'model[0].units=99'
check "report of a file that is not results" 1 err 'not a qreg sweep results file' \
    "$qreg" report conf/base.json
# a long --title widens the plots instead of being clipped at their right edge
svg_width() { sed -n 's/^<svg .* width="\([0-9]*\)" .*/\1/p' "$1"; }
check "report with a long title" 0 out 'accuracy_per_schedule' "$qreg" report grid-out/results.csv \
    --out long-title --title 'A long title prefix for a sweep of bits and schedules on wine'
widened=1
for svg in accuracy_vs_bytes.svg accuracy_per_schedule.svg; do
    [ "$(svg_width "long-title/$svg")" -gt "$(svg_width "grid-out/report/$svg")" ] || widened=0
done
[ "$widened" = 1 ] && pass "a long title widens the plots" || fail "a long title: plots as wide as before"
# wrote_only DIR: the files of the "wrote" line in $tmp/out, which must all be in DIR, and no
# other file there
wrote_only() {
    local listed=$(sed -n 's/^wrote //p' "$tmp/out" | tr ',' '\n' | sed 's/^ *//' | sort)
    [ -n "$listed" ] && [ "$listed" = "$(find "$1" -type f | sort)" ]
}
# float-only runs have no sizes, so no plot of accuracy vs bytes; nor may the report say so
cat >conf/float.json <<EOF
{"data": {"train": "$wine", "label": "label"},
 "model": [{"type": "dense", "units": 8}, {"type": "relu"}, {"type": "dense"}],
 "optimizer": {"name": "adam", "learning_rate": 0.01},
 "training": {"epochs": 2, "batch_size": 16, "seed": 1},
 "output": {"model": "ignored.qrm"}}
EOF
cat >float.json <<'EOF'
{"base": "conf/float.json", "axes": {"model[0].units": [4, 8]}, "output": "float-out"}
EOF
check "sweep of float-only runs" 0 out '2 ok, 0 failed' "$qreg" sweep float.json -j 2
check "report of float-only runs" 0 out '^wrote ' "$qreg" report float-out
if wrote_only float-out/report && ! grep -q 'accuracy_vs_bytes' "$tmp/out"; then
    pass "report of float-only runs lists just the files it wrote"
else
    fail "report of float-only runs lists files it did not write: $(ls float-out/report | tr "\n" " ")"
fi
# every run failed: nothing to plot, though the settings call for a box plot and a heat map
cat >allfail.json <<'EOF'
{"base": "conf/base.json", "set": {"model[0].units": 0},
 "axes": {"quantize.schedule.name": ["none", "linear"], "quantize.matrices[0].bits": [2, 4]},
 "names": {"quantize.schedule.name": "schedule", "quantize.matrices[0].bits": "bits"},
 "output": "allfail-out"}
EOF
"$qreg" sweep allfail.json >/dev/null 2>&1
check "report of a sweep whose runs all failed" 0 out '^4 runs \(0 ok, 4 failed\)' \
    "$qreg" report allfail-out --heatmap bits,schedule
if wrote_only allfail-out/report && ! grep -q '\.svg' "$tmp/out"; then
    pass "report without an ok run lists no plot"
else
    fail "report without an ok run lists files it did not write: $(ls allfail-out/report | tr "\n" " ")"
fi
if command -v rsvg-convert >/dev/null 2>&1; then
    for svg in grid-out/report/accuracy_vs_bytes.svg grid-out/report/accuracy_per_schedule.svg \
        shard-report/accuracy_vs_bytes.svg shard-report/heatmap.svg; do
        png="${svg%.svg}.png"
        if rsvg-convert -o "$png" "$svg" 2>"$tmp/err" && [ "$(wc -c <"$png")" -gt 5000 ]; then
            pass "rsvg-convert renders $svg ($(wc -c <"$png") bytes)"
        else
            fail "rsvg-convert $svg"
        fi
    done
else
    echo "skip - SVG rendering (no rsvg-convert; Debian: librsvg2-bin)"
fi

finish
