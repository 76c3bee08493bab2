#!/usr/bin/env bash
# datasets/fashion_mnist.sh — Fashion-MNIST (70,000 28x28 grey images of clothes,
# 10 classes) from Debian's dataset-fashion-mnist package (MIT), as CSV for qreg:
# train.csv (60,000 rows) and test.csv (10,000), header p0..p783,label, pixels
# 0..255 row-major (read as "sequence": [28, 28]), plus classes.txt.
#
# Installs dataset-fashion-mnist with apt-get if it is missing (root or sudo).
# Same package version => same output bytes. See datasets/README.md.
#
# usage: datasets/fashion_mnist.sh [--out DIR] [--format csv|idx]
#   default DIR: ${QREG_DATA:-$HOME/.local/share/qreg/data}/fashion-mnist
#   --format idx: the verified IDX files, decompressed, instead of CSV
set -euo pipefail

PACKAGE=dataset-fashion-mnist
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="${QREG_DATA:-${HOME:-/tmp}/.local/share/qreg/data}/fashion-mnist"
format=csv

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while [[ $# -gt 0 ]]; do
	case "$1" in
	--out | --format)
		[[ $# -ge 2 ]] || { echo "fashion_mnist.sh: $1 needs a value" >&2; exit 2; }
		[[ $1 == --out ]] && out=$2 || format=$2
		shift 2
		;;
	--out=*)
		out=${1#--out=}
		shift
		;;
	--format=*)
		format=${1#--format=}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "fashion_mnist.sh: unknown argument: $1" >&2
		usage >&2
		exit 2
		;;
	esac
done
case "$format" in
csv | idx) ;;
*)
	echo "fashion_mnist.sh: --format must be csv or idx, got '$format'" >&2
	exit 2
	;;
esac

for tool in dpkg dpkg-query python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "fashion_mnist.sh: needs $tool (Debian/Ubuntu)" >&2; exit 1; }
done

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "fashion_mnist.sh: need root for: $*" >&2
		return 1
	fi
}

installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

if ! installed "$PACKAGE"; then
	echo "==> installing $PACKAGE (apt-get)"
	# Try with the current package lists first; refresh them if that fails
	# (empty or stale lists), as setup.sh does.
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$PACKAGE"; then
		echo "==> refreshing package lists (apt-get update)"
		as_root apt-get -q update
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$PACKAGE"
	fi
	installed "$PACKAGE" || { echo "fashion_mnist.sh: $PACKAGE is still not installed" >&2; exit 1; }
fi
version=$(dpkg-query -W -f='${Version}' "$PACKAGE")

# Find the IDX files from the package's file list rather than assuming a path.
src=$(dpkg -L "$PACKAGE" | grep -E '/train-images-idx3-ubyte\.gz$' | head -n1 || true)
[[ -n $src ]] || { echo "fashion_mnist.sh: $PACKAGE $version lists no train-images-idx3-ubyte.gz (dpkg -L $PACKAGE)" >&2; exit 1; }
src=$(dirname "$src")
copyright=$(dpkg -L "$PACKAGE" | grep -E "/usr/share/doc/$PACKAGE/copyright$" | head -n1 || true)

echo "==> $PACKAGE $version: $src -> $out ($format)"
python3 "$here/fashion_mnist.py" --src "$src" --out "$out" --format "$format" \
	--package "$PACKAGE" --version "$version" ${copyright:+--copyright "$copyright"}
echo "==> done: $out"
