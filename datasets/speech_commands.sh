#!/usr/bin/env bash
# datasets/speech_commands.sh — the standard 12-class keyword-spotting task from a local copy
# of Google Speech Commands v2 (Warden 2018): yes no up down left right on off stop go,
# _unknown_ (the other words) and _silence_ (1 s windows of _background_noise_), split by
# the data set's validation_list.txt and testing_list.txt. Writes a qreg manifest that
# refers to the clips in PATH (nothing is copied) plus the _silence_ windows.
# Nothing is downloaded. Same input and seed => same bytes. See datasets/README.md.
#
# usage: datasets/speech_commands.sh PATH [--out DIR] [--seed S] [--silence-percentage P]
#                                    [--unknown-percentage P|all] [--test-set DIR2] [--force]
#   PATH        the extracted speech_commands_v0.02 tree (word folders, _background_noise_,
#               validation_list.txt, testing_list.txt)
#   default DIR: ${QREG_DATA:-$HOME/.local/share/qreg/data}/speech_commands
#   --silence-percentage P   _silence_ clips per split, % of its keyword clips (default 10)
#   --unknown-percentage P   _unknown_ clips per split, % of its keyword clips, drawn at
#               random from the other words (default 10); 'all' keeps every one
#   --seed S    random seed for the _unknown_ draw and the _silence_ windows (default 1)
#   --test-set DIR2  test on the separately published speech_commands_test_set_v0.02
#               (folders of the 12 classes) instead of testing_list.txt
#   --force     rebuild even if DIR already holds this exact output
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="${QREG_DATA:-${HOME:-/tmp}/.local/share/qreg/data}/speech_commands"
args=()
path=

usage() {
	sed -n '2,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

need_value() {
	[[ $2 -ge 2 ]] || { echo "speech_commands.sh: $1 needs a value" >&2; exit 2; }
}

while [[ $# -gt 0 ]]; do
	case "$1" in
	--out) need_value "$1" $#; out=$2; shift 2 ;;
	--out=*) out=${1#--out=}; shift ;;
	--seed | --silence-percentage | --unknown-percentage | --test-set)
		need_value "$1" $#; args+=("$1" "$2"); shift 2 ;;
	--seed=* | --silence-percentage=* | --unknown-percentage=* | --test-set=*) args+=("$1"); shift ;;
	--force) args+=(--force); shift ;;
	-h | --help) usage; exit 0 ;;
	-*)
		echo "speech_commands.sh: unknown argument: $1" >&2
		usage >&2
		exit 2
		;;
	*)
		[[ -z $path ]] || { echo "speech_commands.sh: more than one PATH: $path, $1" >&2; exit 2; }
		path=$1; shift ;;
	esac
done
if [[ -z $path ]]; then
	echo "speech_commands.sh: PATH (the extracted Speech Commands v2 folder) is missing" >&2
	usage >&2
	exit 2
fi
command -v python3 >/dev/null 2>&1 || { echo "speech_commands.sh: needs python3" >&2; exit 1; }

echo "==> speech_commands: $path -> $out"
exec python3 "$here/speech_commands.py" "$path" --out "$out" "${args[@]}"
