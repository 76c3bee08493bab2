#!/usr/bin/env bash
# Streaming evaluation (issue 14): datasets/motion.py --continuous (same seed, same bytes;
# the windowed files unchanged by the option) and qreg eval --int --stream on its recordings:
# one prediction per frame (--stream-out), the first output after kernel_size - 1 frames of
# every recording (bts: valid convolution, kernel 5; a reset per recording), --stream-window
# after T frames, the JSON fields, and the usage errors. Skipped (77) without python3.
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
[ "$have_python" -eq 1 ] || skip "stream: no python3; skipped"
need_qreg
use_tmp
show_output() { :; } # the checks' own words say what failed
t() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

m="$srcdir/datasets/motion.py"
python3 "$m" --small --seed 3 --continuous 1 --recording-seconds 30 --out "$tmp/a" --quiet
python3 "$m" --small --seed 3 --continuous 1 --recording-seconds 30 --out "$tmp/b" --quiet
python3 "$m" --small --seed 3 --out "$tmp/c" --quiet
t "same seed, same recordings" 'cmp -s "$tmp/a/stream.csv" "$tmp/b/stream.csv" &&
    cmp -s "$tmp/a/stream_events.csv" "$tmp/b/stream_events.csv"'
t "--continuous leaves the windowed files as they are" '
    for f in train.csv val.csv test.csv windows.csv subjects.csv; do
        cmp -s "$tmp/a/$f" "$tmp/c/$f" || exit 1; done'
frames=$(($(wc -l <"$tmp/a/stream.csv") - 1))
recs=$(awk -F, 'NR > 1 { r[$6] = 1 } END { print length(r) }' "$tmp/a/stream.csv")
t "2 test subjects x 1 recording x 600 frames" '[ "$frames" = 1200 ] && [ "$recs" = 2 ]'
t "header and exact values" 'head -n 1 "$tmp/a/stream.csv" | grep -qx "frame,x,y,z,label,recording,event" &&
    awk -F, "NR > 1 { for (i = 2; i <= 4; i++) { v = \$i * 512; if (v != int(v)) exit 1 } }" "$tmp/a/stream.csv"'

cat > "$tmp/bts.json" <<JSON
{"data": {"train": "$tmp/a/train.csv", "validation": "$tmp/a/val.csv", "label": "label",
          "sequence": [40, 3]},
 "model": [{"type": "conv1d", "filters": 6, "kernel_size": 5, "padding": "valid"},
           {"type": "batchnorm"}, {"type": "relu"}, {"type": "gru", "units": 5},
           {"type": "dense", "units": 2}],
 "training": {"epochs": 2, "batch_size": 64, "seed": 1, "checkpoint_every": 0}}
JSON
"$qreg" train "$tmp/bts.json" --out "$tmp/bts.qrm" --quiet >"$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; exit 1; }
s="$tmp/a/stream.csv"
"$qreg" eval "$tmp/bts.qrm" --data "$s" --int --stream --stream-out "$tmp/pred.txt" >"$tmp/out" 2>&1
t "eval --int --stream runs" '[ $? = 0 ] && grep -q "^events" "$tmp/out" && grep -q "false alarms" "$tmp/out"'
t "--stream-out: one line per frame, '-' for the first 4 of each recording" '
    [ "$(wc -l <"$tmp/pred.txt")" = "$frames" ] && [ "$(grep -c "^-$" "$tmp/pred.txt")" = $((4 * recs)) ] &&
    [ "$(grep -c "^[01]$" "$tmp/pred.txt")" = $((frames - 4 * recs)) ]'
"$qreg" eval "$tmp/bts.qrm" --data "$s" --int --stream --json --stream-k 2 --stream-tolerance 0.5 >"$tmp/j"
t "--json" 'grep -q "\"frames\":$frames," "$tmp/j" && grep -q "\"frames_with_output\":$((frames - 4 * recs))," "$tmp/j" &&
    grep -q "\"k\":2," "$tmp/j" && grep -q "\"tolerance_s\":0.5," "$tmp/j" && grep -q "\"false_alarms_per_hour\":" "$tmp/j"'
"$qreg" eval "$tmp/bts.qrm" --data "$s" --int --stream --stream-window --json >"$tmp/w"
t "--stream-window: an output from the 40th frame of each recording" '
    grep -q "\"frames_with_output\":$((frames - 39 * recs))," "$tmp/w"'
"$qreg" eval "$tmp/bts.qrm" --data "$s" --stream >"$tmp/out" 2>&1
t "--stream without --int: usage error" '[ $? = 2 ] && grep -q "add --int" "$tmp/out"'
"$qreg" eval "$tmp/bts.qrm" --data "$s" --int --stream --stream-k 0 >"$tmp/out" 2>&1
t "--stream-k 0: usage error" '[ $? = 2 ]'
"$qreg" eval "$tmp/bts.qrm" --data "$tmp/a/test.csv" --int --stream >"$tmp/out" 2>&1
t "a windowed file: refused, naming the columns" '[ $? = 1 ] && grep -q "feature columns" "$tmp/out"'

finish
