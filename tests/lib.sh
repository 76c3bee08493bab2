# shellcheck shell=bash
# tests/lib.sh — the harness the shell tests share. Each test script sets srcdir and sources
# this file:
#
#     srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
#     # shellcheck source=tests/lib.sh
#     . "$srcdir/tests/lib.sh"
#
# (`make check` sets QR_SRCDIR and QR_BUILDDIR; under `make distcheck` QR_SRCDIR is the
# read-only unpacked tree, so nothing here writes below it.) Sourcing only sets variables and
# defines functions:
#   test_name            the script's file name without .sh (tests/cli.sh: cli), the NAME of
#                        its messages and of its closing line
#   builddir, qreg       $QR_BUILDDIR (else .) and $builddir/qreg
#   passed, failed       the counts, 0
#   have_python          1 if python3 is on PATH, else 0
# and the script then calls what it needs of:
#   need_qreg            exit 99 ("NAME: $qreg not found (build it first)") unless $qreg is
#                        an executable
#   skip MESSAGE         print MESSAGE and exit 77 (automake's SKIP)
#   use_tmp              tmp: a fresh directory ${TMPDIR:-/tmp}/qreg-NAME.XXXXXX, removed on
#                        exit (exit 99 if it cannot be made)
#   use_tmp_cd           the same, and cd into it
#   pass NAME            "ok - NAME"
#   fail NAME            "FAIL - NAME", then show_output
#   check NAME WANT_EXIT STREAM REGEX CMD...
#   json_check NAME PYTHON_EXPR
#   finish               the closing line "NAME: N passed, N failed" (CI's log parser reads it;
#                        keep it as it is), then exit 0 if nothing failed, else 1
# show_output, what fail prints under its line, shows the last lines (show_cut=head: the
# first ones) of $tmp/out and $tmp/err where they exist, show_out_lines and show_err_lines of
# them (8 each); a script that keeps its output elsewhere redefines show_output.

builddir=${QR_BUILDDIR:-.}
qreg="$builddir/qreg"
test_name=$(basename "$0" .sh)
passed=0
failed=0
have_python=1
command -v python3 >/dev/null 2>&1 || have_python=0
show_cut='tail'
show_out_lines=8
show_err_lines=8

need_qreg() {
    if [ ! -x "$qreg" ]; then
        echo "$test_name: $qreg not found (build it first)" >&2
        exit 99
    fi
}

skip() {
    echo "$1"
    exit 77
}

use_tmp() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/qreg-$test_name.XXXXXX") || exit 99
    trap 'rm -rf "$tmp"' EXIT
}

use_tmp_cd() {
    use_tmp
    cd "$tmp" || exit 99
}

pass() {
    passed=$((passed + 1))
    echo "ok - $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    show_output
}

show_output() {
    [ -f "$tmp/out" ] && sed 's/^/    stdout: /' "$tmp/out" | "$show_cut" -n "$show_out_lines"
    [ -f "$tmp/err" ] && sed 's/^/    stderr: /' "$tmp/err" | "$show_cut" -n "$show_err_lines"
}

# check NAME WANT_EXIT STREAM REGEX CMD...: run CMD (stdout to $tmp/out, stderr to
# $tmp/err); pass if it exits with WANT_EXIT and STREAM (out or err) matches the extended
# REGEX (an empty REGEX matches anything).
check() {
    local name=$1 want=$2 stream=$3 regex=$4
    shift 4
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit $rc, want $want"
    elif [ -n "$regex" ] && ! grep -Eq -- "$regex" "$tmp/$stream"; then
        fail "$name: std$stream does not match /$regex/"
    else
        pass "$name"
    fi
}

# json_check NAME PYTHON_EXPR: $tmp/out must parse as one JSON document `d` for which
# PYTHON_EXPR is true ("skip - NAME (no python3)" without python3).
json_check() {
    local name=$1 expr=$2
    if [ "$have_python" -eq 0 ]; then
        echo "skip - $name (no python3)"
        return
    fi
    if python3 -c "import json, sys
d = json.load(sys.stdin)
sys.exit(0 if ($expr) else 1)" <"$tmp/out" 2>"$tmp/py"; then
        pass "$name"
    else
        cat "$tmp/py" >>"$tmp/err"
        fail "$name: not JSON or not ($expr)"
    fi
}

finish() {
    echo "$test_name: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}
