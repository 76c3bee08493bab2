#!/usr/bin/env bash
# datasets/sklearn.sh — extract scikit-learn's small real data sets (iris, wine,
# breast_cancer, digits) from Debian's python3-sklearn package and write them as
# plain CSV files (header row, integer label last, column "label").
#
# The .deb is only downloaded and unpacked into a temporary directory
# (apt-get download + dpkg -x): nothing is installed, no dependency is pulled.
# Same package version => same output bytes. See datasets/README.md.
#
# usage: datasets/sklearn.sh [--out DIR]
#   default DIR: ${QREG_DATA:-$HOME/.local/share/qreg/data}/sklearn
set -euo pipefail

PACKAGE=python3-sklearn
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="${QREG_DATA:-${HOME:-/tmp}/.local/share/qreg/data}/sklearn"

usage() {
	sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while [[ $# -gt 0 ]]; do
	case "$1" in
	--out)
		[[ $# -ge 2 ]] || { echo "sklearn.sh: --out needs a directory" >&2; exit 2; }
		out=$2
		shift 2
		;;
	--out=*)
		out=${1#--out=}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "sklearn.sh: unknown argument: $1" >&2
		usage >&2
		exit 2
		;;
	esac
done

for tool in apt-get dpkg dpkg-deb python3 sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || { echo "sklearn.sh: needs $tool (Debian/Ubuntu)" >&2; exit 1; }
done

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "sklearn.sh: need root for: $*" >&2
		return 1
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# apt drops privileges to _apt for downloads; as root into a private temp dir
# that only produces a warning, so say so up front.
apt_opts=()
if [[ $(id -u) -eq 0 ]]; then
	apt_opts=(-o APT::Sandbox::User=root)
fi

echo "==> apt-get download $PACKAGE"
if ! (cd "$tmp" && apt-get "${apt_opts[@]}" -q download "$PACKAGE"); then
	echo "==> download failed; refreshing package lists (apt-get update)"
	as_root apt-get -q update
	(cd "$tmp" && apt-get "${apt_opts[@]}" -q download "$PACKAGE")
fi

debs=("$tmp"/*.deb)
[[ -f ${debs[0]} ]] || { echo "sklearn.sh: no .deb downloaded" >&2; exit 1; }
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
deb_sha=$(sha256sum "$deb" | cut -d' ' -f1)

# Find the data directory from the package listing rather than assuming the
# Python version's dist-packages path.
dpkg -c "$deb" | awk '{print $NF}' >"$tmp/listing"
datadir=$(grep -E '/sklearn/datasets/data/breast_cancer\.csv$' "$tmp/listing" | head -n1 || true)
[[ -n $datadir ]] || { echo "sklearn.sh: $PACKAGE $version has no sklearn/datasets/data/breast_cancer.csv" >&2; exit 1; }
datadir=${datadir%/breast_cancer.csv}
for f in iris.csv wine_data.csv breast_cancer.csv digits.csv.gz; do
	grep -qxF "$datadir/$f" "$tmp/listing" ||
		{ echo "sklearn.sh: $PACKAGE $version lacks $datadir/$f" >&2; exit 1; }
done

echo "==> unpacking $PACKAGE $version (not installing)"
dpkg -x "$deb" "$tmp/root"

echo "==> converting into $out"
python3 "$here/sklearn_convert.py" --root "$tmp/root" --datadir "$datadir" \
	--out "$out" --package "$PACKAGE" --version "$version" --deb-sha256 "$deb_sha"
echo "==> done: $out"
