#!/usr/bin/env bash
# datasets/motion.py: its output is pinned. The sha256 sums below are those of the script
# before it was split into datasets/motion_sim/ (generator version 1); a change that moves a
# byte fails here and must come with a new VERSION (motion_sim/config.py) and new sums. The
# sums hold for this platform's libm (the script's docstring: same bytes per platform).
# Also: SOURCE.txt's sums are the files', --help names every option, usage errors exit 2.
# Skipped (77) without python3.
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
[ "$have_python" -eq 1 ] || skip "motion: no python3; skipped"
use_tmp
t() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }
sum_of() { python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"; }
# every "sha256 SUM  FILE" line of DIR/SOURCE.txt matches FILE
source_sums_hold() {
    grep '^sha256 ' "$1/SOURCE.txt" | while read -r _ s f; do
        [ "$(sum_of "$1/$f")" = "$s" ] || { echo "  $f: not the sum in SOURCE.txt"; exit 1; }
    done
}

m="$srcdir/datasets/motion.py"
# every kind of window and both file sets (windows and a recording), all left wrists
python3 "$m" --subjects 3 --windows-per-subject 40 --seed 5 --continuous 1 --recording-seconds 60 \
    --out "$tmp/a" --quiet >"$tmp/out" 2>"$tmp/err"
t "windows and a recording: written" '[ $? = 0 ] && [ -f "$tmp/a/SOURCE.txt" ]'
while read -r want f; do
    t "pinned: $f" '[ "$(sum_of "$tmp/a/$f")" = "$want" ]'
done <<'SUMS'
8a5c82fef49d74f4e4c3c02e1136bf0ce322836e36f17bc78771420eb0718b29 train.csv
d0b2a811fa59481bc38fe9cd53cf0d995bf93e8c1b1b6a7dd65699964d236287 val.csv
b61770763cbcb7d28b3c254d326da0a2835c109ad53f00b02b6edf47b9d896dc test.csv
52b0fdea1322d3dacba71856d1c0421e8947e79159c1d2609202c07682fbefb6 windows.csv
6ce6703a45ee9806650cfc313d9fa94cfcaa313ff1dffdbccd45b4670c892c90 subjects.csv
214ff3693f209d7387775f14c2ee261a8c176c6ae8551c71b7bbad27820ff8aa stream.csv
054a9ac3a56408f433a304fafbb274152c1a35010a59c8392626077013c079bd stream_events.csv
9c3cefb1699054321c796a45e68f7a6b837671e2d663db2665d5e3e87a79bded SOURCE.txt
SUMS
t "SOURCE.txt: the files' sums" 'source_sums_hold "$tmp/a"'

# --history and non-default shares; right wrists, both mountings
python3 "$m" --subjects 4 --windows-per-subject 10 --seed 8 --history 0.5 --positive-share 0.5 \
    --partial-share 0.3 --out "$tmp/b" --quiet >"$tmp/out" 2>"$tmp/err"
t "--history 0.5: 50 frames a row" '[ $? = 0 ] && head -n 1 "$tmp/b/train.csv" | grep -q ",t49_z,label$"'
t "pinned: --history, shares (SOURCE.txt)" \
    '[ "$(sum_of "$tmp/b/SOURCE.txt")" = e38908d9fff2ef420e5c9f1aca5135c8f73ad4bf1fe742e3d347f1b6d4ad6052 ]'
t "SOURCE.txt: the files' sums (--history)" 'source_sums_hold "$tmp/b"'

python3 "$m" --help >"$tmp/out" 2>"$tmp/err"
t "--help names every option" '[ $? = 0 ] && for o in --out --subjects --windows-per-subject --seed \
    --positive-share --partial-share --small --continuous --recording-seconds --history --quiet; do
        grep -q -- "$o" "$tmp/out" || exit 1; done'
python3 "$m" --history 1 --continuous 1 --out "$tmp/c" >"$tmp/out" 2>"$tmp/err"
t "--history with --continuous: usage error" '[ $? = 2 ] && grep -q "cannot be combined" "$tmp/err" && [ ! -e "$tmp/c" ]'
python3 "$m" --subjects 2 --out "$tmp/c" >"$tmp/out" 2>"$tmp/err"
t "--subjects 2: usage error" '[ $? = 2 ] && grep -q "at least 3" "$tmp/err"'

finish
