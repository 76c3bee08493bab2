#!/usr/bin/env bash
# The man page in step with --help: every subcommand 'qreg --help' lists has a synopsis
# in docs/qreg.1 (".B qreg CMD" up to ".br") and an entry under COMMANDS, and every option
# its --help lists (the usage line, and the indented option lines up to their description,
# "  -j, --jobs N     runs at a time") appears
# in that synopsis. An option added to a --help without the man page fails here. Run by
# `make check` with QR_SRCDIR and QR_BUILDDIR set; reads only.
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
man=${QR_MANPAGE:-$srcdir/docs/qreg.1}
need_qreg
[ -r "$man" ] || { echo "manpage: $man not found" >&2; exit 99; }
use_tmp

# the man source with roff's \- as -, one synopsis block per file: $tmp/syn.CMD
sed 's/\\-/-/g' "$man" >"$tmp/man"
awk -v dir="$tmp" '
    /^\.SH / { insyn = ($2 == "SYNOPSIS"); next }
    insyn && /^\.B qreg [a-z]/ { cmd = $3; next }
    insyn && /^\.br/ { cmd = ""; next }
    insyn && cmd != "" { print > (dir "/syn." cmd) }
' "$tmp/man"
# the COMMANDS entries: ".TP" then ".B CMD"
awk '/^\.SH / { inc = ($2 == "COMMANDS"); next }
     inc && prev == ".TP" && /^\.B / { print $2 }
     { prev = $0 }' "$tmp/man" >"$tmp/entries"

commands=$("$qreg" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
if [ -z "$commands" ]; then
    fail "qreg --help lists no commands"
fi
grep -q -- '--help' "$tmp/man" && pass "the man page says every command takes --help" ||
    fail "the man page does not mention --help"
for cmd in $commands; do
    if [ ! -s "$tmp/syn.$cmd" ] && ! grep -qx ".B qreg $cmd" "$tmp/man"; then
        fail "$cmd: no synopsis '.B qreg $cmd' in docs/qreg.1"
        continue
    fi
    touch "$tmp/syn.$cmd"
    if grep -qx "$cmd" "$tmp/entries"; then
        pass "$cmd: an entry under COMMANDS"
    else
        fail "$cmd: no '.TP' '.B $cmd' entry under COMMANDS in docs/qreg.1"
    fi
    "$qreg" "$cmd" --help >"$tmp/help" 2>&1 || { fail "$cmd --help exits nonzero"; continue; }
    # options: on the usage line (up to the first blank line) and on indented option lines
    opts=$(awk 'NR == 1, /^$/ { print; next }
                /^  +-/ { sub(/^ +/, ""); sub(/  .*/, ""); print }' "$tmp/help" |
        grep -oE '(^|[][ ,|(])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[][ ,|(]//' |
        grep -vxE -- '-h|--help' | sort -u)
    missing=
    for o in $opts; do
        # the option as a word of the synopsis: not followed by another option character
        grep -qE -- "(^|[^a-zA-Z0-9-])$o([^a-zA-Z0-9-]|$)" "$tmp/syn.$cmd" || missing="$missing $o"
    done
    if [ -z "$missing" ]; then
        pass "$cmd: the synopsis has every option of --help ($(echo $opts | wc -w))"
    else
        fail "$cmd: options of 'qreg $cmd --help' missing from its synopsis in docs/qreg.1:$missing"
    fi
done

# the check itself: a man page without train's --resume must fail, naming it
if [ -z "${QR_MANPAGE:-}" ]; then
    grep -v -- '^\.RB \[ \\-\\-resume \]$' "$man" >"$tmp/drift.1"
    if ! QR_MANPAGE="$tmp/drift.1" bash "$0" >"$tmp/drift.out" 2>&1 &&
        grep -q "^FAIL - train: .* missing from its synopsis in docs/qreg.1: --resume$" "$tmp/drift.out"; then
        pass "a man page lacking an option of --help fails this test"
    else
        fail "the drift check did not catch a missing --resume"
    fi
fi

finish
