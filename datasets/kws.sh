#!/usr/bin/env bash
# datasets/kws.sh — synthesize a keyword-spotting data set in the Speech Commands
# layout: 10 keywords (yes no up down left right on off stop go, or --words),
# _unknown_ (other Speech Commands words) and _silence_, 1 s clips of 16 kHz mono
# 16-bit WAV, spoken by espeak-ng, flite and Festival voices at random speed, pitch,
# offset and level, mixed with real background recordings and synthetic noise at a
# random SNR. Validation and test voices never occur in training
# (validation_list.txt, testing_list.txt).
#
# Installs espeak-ng, flite, festival and its English voices, sox, sonic-pi-samples
# and asterisk-moh-opsound-wav with apt-get if missing (root or sudo).
# Same arguments => same bytes. See datasets/README.md.
#
# usage: datasets/kws.sh [--out DIR] [--clips N] [--seed S] [--small] [--jobs J] [--force]
#                        [--words "W1 W2 ..."] [--engines LIST] [--telephone-test]
#   default DIR: ${QREG_DATA:-$HOME/.local/share/qreg/data}/kws
#   --clips N   number of clips, split evenly over the classes (default 12000)
#   --small     300 clips (for CI and quick tests; seconds)
#   --seed S    random seed (default 1)
#   --jobs J    parallel workers (default: the number of cores)
#   --force     regenerate even if DIR already holds this exact data set
#   --words "W1 W2 ..."  the keywords (lowercase a-z, default: the ten above);
#               _unknown_ draws from the other 35 Speech Commands words
#   --engines LIST  synthesizers, comma-separated (default espeak-ng,flite,festival;
#               espeak-ng,flite is the set before Festival was added)
#   --telephone-test  also write telephone-band (300-3400 Hz, 8 kHz) copies of the
#               test clips: testing_list_telephone.txt, manifest_telephone.csv
set -euo pipefail

PACKAGES=(espeak-ng flite sox sonic-pi-samples asterisk-moh-opsound-wav)
FESTIVAL_PACKAGES=(festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="${QREG_DATA:-${HOME:-/tmp}/.local/share/qreg/data}/kws"
clips=12000
seed=1
jobs=$(nproc 2>/dev/null || echo 1)
force=()
extra=()
engines=espeak-ng,flite,festival

usage() {
	sed -n '2,28s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

need_value() {
	[[ $2 -ge 2 ]] || { echo "kws.sh: $1 needs a value" >&2; exit 2; }
}

while [[ $# -gt 0 ]]; do
	case "$1" in
	--out) need_value "$1" $#; out=$2; shift 2 ;;
	--out=*) out=${1#--out=}; shift ;;
	--clips) need_value "$1" $#; clips=$2; shift 2 ;;
	--clips=*) clips=${1#--clips=}; shift ;;
	--seed) need_value "$1" $#; seed=$2; shift 2 ;;
	--seed=*) seed=${1#--seed=}; shift ;;
	--jobs) need_value "$1" $#; jobs=$2; shift 2 ;;
	--jobs=*) jobs=${1#--jobs=}; shift ;;
	--small) clips=300; shift ;;
	--words) need_value "$1" $#; extra+=(--words "$2"); shift 2 ;;
	--words=*) extra+=(--words "${1#--words=}"); shift ;;
	--engines) need_value "$1" $#; engines=$2; shift 2 ;;
	--engines=*) engines=${1#--engines=}; shift ;;
	--telephone-test) extra+=(--telephone-test); shift ;;
	--force) force=(--force); shift ;;
	-h | --help) usage; exit 0 ;;
	*)
		echo "kws.sh: unknown argument: $1" >&2
		usage >&2
		exit 2
		;;
	esac
done
for v in clips seed jobs; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "kws.sh: --$v must be a non-negative integer, got '${!v}'" >&2; exit 2; }
done

for tool in dpkg dpkg-query python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "kws.sh: needs $tool (Debian/Ubuntu)" >&2; exit 1; }
done

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "kws.sh: need root for: $*" >&2
		return 1
	fi
}

[[ ,$engines, == *,festival,* ]] && PACKAGES+=("${FESTIVAL_PACKAGES[@]}")
missing=()
for p in "${PACKAGES[@]}"; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "==> installing ${missing[*]} (apt-get)"
	# Try with the current package lists first; refresh them if that fails
	# (empty or stale lists), as setup.sh does.
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; then
		echo "==> refreshing package lists (apt-get update)"
		as_root apt-get -q update
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
fi

echo "==> kws: $clips clips, seed $seed -> $out"
exec python3 "$here/kws_make.py" --out "$out" --clips "$clips" --seed "$seed" --jobs "$jobs" \
	--engines "$engines" "${force[@]}" "${extra[@]}"
