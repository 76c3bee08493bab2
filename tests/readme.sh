#!/usr/bin/env bash
# The README runs as written: the walk-through (the sh block after the
# "readme-walk-through" marker) and the "$ " command of the opening example are run in a
# scratch copy of the repository layout (examples/ and data/ linked from the source tree,
# build/qreg linked to the built program), and must succeed, write what they say into
# build/ and nothing beside it. Run by `make check` with QR_SRCDIR and QR_BUILDDIR set.
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
readme="$srcdir/README.md"
need_qreg
use_tmp
show_output() { [ -f "$tmp/log" ] && sed 's/^/    /' "$tmp/log" | tail -n 15; }

# a fresh "clone": what the commands read, and build/ with the program
repo="$tmp/repo"
mkdir -p "$repo/build"
ln -s "$srcdir/examples" "$repo/examples"
ln -s "$srcdir/data" "$repo/data"
ln -s "$(cd "$builddir" && pwd)/qreg" "$repo/build/qreg"

# the walk-through: the first ```sh block after the marker
awk '/readme-walk-through/ { want = 1; next }
     want && /^```sh/ { on = 1; next }
     on && /^```/ { exit }
     on { print }' "$readme" >"$tmp/walk.sh"
if [ "$(grep -c '^\./qreg ' "$tmp/walk.sh")" -ge 3 ]; then
    pass "README: a walk-through block with qreg commands"
else
    fail "README: no walk-through block after the readme-walk-through marker"
fi
if (cd "$repo" && OPENBLAS_NUM_THREADS=1 bash -e "$tmp/walk.sh") >"$tmp/log" 2>&1; then
    pass "README walk-through runs as written"
else
    fail "README walk-through failed"
fi
b="$repo/build"
if [ -s "$b/quickstart-4bit.qrm" ] && [ -s "$b/quickstart-4bit-quant.csv" ] &&
    [ -s "$b/quickstart-4bit-data/test.csv" ] && [ -s "$b/quickstart-4bit-predictions.csv" ] &&
    [ -s "$b/quickstart-4bit-device/model_compiled.c" ]; then
    pass "walk-through: model, quantization log, data, predictions, device files in build/"
else
    fail "walk-through outputs missing from build/: $(ls "$b" | tr '\n' ' ')"
fi
if grep -Eq '^integer accuracy: [01]\.[0-9]+ \(same prediction as fake-quantized on 100\.00% of samples\)$' "$tmp/log" &&
    grep -q '^integer model: confusion matrix' "$tmp/log"; then
    pass "walk-through: the integer model agrees with the fake-quantized one, as the README says"
else
    fail "walk-through: no 'integer accuracy: ... 100.00%' line"
fi
stray=$(ls -A "$repo" | grep -vxE 'build|examples|data')
if [ -z "$stray" ]; then pass "walk-through: nothing written outside build/"; else fail "written outside build/: $stray"; fi

# the opening example: its "$ " command line, in a fresh repository copy
rm -rf "$b"/quickstart-4bit*
cmd=$(awk '/^```/ { n++; next } n == 1 && /^\$ / { sub(/^\$ /, ""); print; exit }' "$readme")
if [ -n "$cmd" ] && (cd "$repo" && OPENBLAS_NUM_THREADS=1 bash -ec "$cmd") >"$tmp/log" 2>&1 &&
    grep -q '^fake-quantized test accuracy: ' "$tmp/log" && [ -s "$b/quickstart-4bit.qrm" ] &&
    [ -z "$(ls -A "$repo" | grep -vxE 'build|examples|data')" ]; then
    pass "README's opening example runs as written ($cmd), writing into build/"
else
    fail "README's opening example: '$cmd'"
fi

finish
