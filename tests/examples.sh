#!/usr/bin/env bash
# The C examples (examples/c/) built as a user builds them: `make install` into a temporary
# DESTDIR, then each program compiled with `pkg-config --cflags --libs qreg` against the
# INSTALLED headers and library (a copy of the installed .pc with its prefix in DESTDIR), and
# run: train_mlp trains a 4-bit MLP on data/iris.csv and saves it, eval_model loads it and
# evaluates it. Run by `make check` with QR_SRCDIR and QR_BUILDDIR set (CC and the build's
# sanitizer flags in QR_EXAMPLE_CFLAGS/LDFLAGS); writes only into a fresh mktemp directory.
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
cc=${CC:-cc}
iris="$srcdir/data/iris.csv"

if ! command -v pkg-config >/dev/null 2>&1; then
    skip "examples: pkg-config not found, skipped" >&2
fi
use_tmp
show_output() { [ -f "$tmp/log" ] && sed 's/^/    /' "$tmp/log" | tail -n 15; }

# a sub-make of its own: not the jobs of the `make check` that runs this script
dest="$tmp/dest"
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" install DESTDIR="$dest" \
    >"$tmp/log" 2>&1; then
    pass "make install DESTDIR=..."
else
    fail "make install DESTDIR=$dest"
    finish
fi
pc=$(find "$dest" -name qreg.pc | head -n 1)
lib=$(find "$dest" -name 'libqreg.so' | head -n 1)
if [ -n "$pc" ] && [ -n "$(find "$dest" -path '*/include/qreg/train.h')" ]; then
    pass "installed: qreg.pc and include/qreg/"
else
    fail "installed tree lacks qreg.pc or include/qreg/train.h"
fi
# the installed .pc file names the configured prefix: a copy of it names the DESTDIR one
mkdir -p "$tmp/pc"
prefix=$(sed -n 's/^prefix=//p' "$pc")
sed "s|^prefix=.*|prefix=$dest$prefix|" "$pc" >"$tmp/pc/qreg.pc"
export PKG_CONFIG_PATH="$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
static=
[ -z "$lib" ] && static=--static # only the static library was installed
if flags=$(pkg-config --cflags --libs $static qreg 2>"$tmp/log"); then
    pass "pkg-config --cflags --libs qreg: $flags"
else
    fail "pkg-config qreg"
fi
case " $flags " in
*" -I$dest"*) pass "the headers come from the installed tree" ;;
*) fail "pkg-config's -I does not point into $dest: $flags" ;;
esac
libdir=${lib:+$(dirname "$lib")}

for prog in train_mlp eval_model; do
    # shellcheck disable=SC2086 # flags are words
    if $cc ${QR_EXAMPLE_CFLAGS:-} "$srcdir/examples/c/$prog.c" -o "$tmp/$prog" $flags \
        ${QR_EXAMPLE_LDFLAGS:-} ${libdir:+-Wl,-rpath,"$libdir"} >"$tmp/log" 2>&1; then
        pass "compile examples/c/$prog.c against the installed library"
    else
        fail "compile examples/c/$prog.c"
    fi
done

run() {
    env OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$@" >"$tmp/log" 2>&1
}
if run "$tmp/train_mlp" "$iris" "$tmp/iris.qrm" && [ -s "$tmp/iris.qrm" ] &&
    grep -q '^layers: dense_1 relu_1 dense_2$' "$tmp/log" &&
    grep -Eq '^test accuracy (0\.[7-9][0-9]+|1\.0+), fake-quantized (0\.[7-9][0-9]+|1\.0+) \(24 samples\)$' "$tmp/log"; then
    pass "train_mlp: names filled by the library, a 4-bit model above 70 % on iris"
else
    fail "train_mlp"
fi
if run "$tmp/eval_model" "$tmp/iris.qrm" "$iris" &&
    grep -Eq '^150 samples: accuracy (0\.[7-9][0-9]+|1\.0+), loss ' "$tmp/log" &&
    grep -Eq '^ +2 +[0-9]+ +[0-9]+ +[0-9]+$' "$tmp/log"; then
    pass "eval_model: the saved model on iris, a labelled confusion matrix"
else
    fail "eval_model"
fi
if [ -x "$builddir/qreg" ] && "$builddir/qreg" eval "$tmp/iris.qrm" --data "$iris" --int \
    >"$tmp/log" 2>&1 && grep -q '^integer model: confusion matrix' "$tmp/log"; then
    pass "qreg eval --int reads the model trained from C"
else
    fail "qreg eval --int of the model trained from C"
fi
run "$tmp/eval_model" "$tmp/none.qrm" "$iris"
if [ $? -eq 1 ] && grep -q 'none\.qrm' "$tmp/log"; then
    pass "eval_model: a missing model is an error naming it"
else
    fail "eval_model of a missing model"
fi

finish
