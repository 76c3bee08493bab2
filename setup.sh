#!/usr/bin/env bash
# setup.sh — install build dependencies, build qreg, and run it or its tests.
#
# usage: ./setup.sh run [--kws]     deps + build, then train: a small MLP on bundled CSV data and
#                                   the bts CGRU on the motion data (made on first use);
#                                   --kws also the gsc CGRU on synthesized keyword audio (long)
#        ./setup.sh test            deps + build, then: make -C build -j2 check
#        ./setup.sh build           deps + build only (into build/)
#        ./setup.sh deps            install missing Debian packages only
#
# Works on a fresh Debian 12 (needs root or sudo to install packages).
# With CI set (and not "false"/"0"), configures with --enable-werror.
set -euo pipefail

# Debian packages needed to build, test and run qreg. One per line, with why;
# add new ones here (this list is the only place that names them).
DEB_PACKAGES=(
	build-essential # gcc, make, libc headers
	gcc             # the C11 compiler (also ASan/UBSan runtimes)
	make            # GNU make
	autoconf        # autoreconf, configure
	automake        # Makefile.in from Makefile.am
	libtool         # shared library, LT_INIT
	pkg-config      # PKG_CHECK_MODULES (pkg.m4)
	libopenblas-dev # cblas.h, openblas.pc: qr_sgemm
	libcjson-dev    # libcjson.pc: JSON configs and model metadata
	libsndfile1-dev # sndfile.pc: audio data sets
	libsamplerate0-dev # samplerate.pc: resampling audio clips
	libfftw3-dev    # fftw3f.pc: the FFT of the MFCC features
	check           # unit test framework (check.pc)
	python3         # datasets/*.py converters
	python3-numpy   # tests/mfcc_reference.py (the MFCC check in make check)
	librsvg2-bin    # rsvg-convert: tests/sweep.sh renders qreg report's SVG plots
	openmpi-bin     # mpirun: .ci/run's MPI sweep stage (configure --with-mpi)
	libopenmpi-dev  # ompi-c.pc, mpi.h: configure --with-mpi
)

cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)
BUILD_DIR="$ROOT/build"

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'setup.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '3,12s/^# \{0,1\}//p' "$ROOT/setup.sh"
}

in_ci() {
	[[ -n ${CI:-} && ${CI} != false && ${CI} != 0 ]]
}

# ---- dependencies ------------------------------------------------------------
missing_packages() {
	local p status
	for p in "${DEB_PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[[ $status == "install ok installed" ]] || printf '%s\n' "$p"
	done
}

install_deps() {
	command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script installs packages on Debian/Ubuntu only; install by hand: ${DEB_PACKAGES[*]}"
	local missing
	mapfile -t missing < <(missing_packages)
	if [[ ${#missing[@]} -eq 0 ]]; then
		say "dependencies: all ${#DEB_PACKAGES[@]} Debian packages installed"
		return 0
	fi
	say "dependencies: installing ${missing[*]}"
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo)
		else
			printf 'setup.sh: missing packages and not root (no sudo). Run as root:\n' >&2
			printf '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
			exit 1
		fi
	fi
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"
	mapfile -t missing < <(missing_packages)
	[[ ${#missing[@]} -eq 0 ]] || die "still missing after apt-get install: ${missing[*]}"
}

# ---- build -------------------------------------------------------------------
# Configure arguments for build/. They are recorded in build/.setup-configure
# so that a change (say, CI=true after a plain build) reconfigures.
configure_args() {
	if in_ci; then
		printf '%s\n' --enable-werror
	fi
}

bootstrap() {
	if [[ ! -f configure || ! -f Makefile.in || configure -ot configure.ac ||
		Makefile.in -ot Makefile.am || Makefile.in -ot configure.ac ]]; then
		say "bootstrap: autoreconf -fi"
		mkdir -p m4
		autoreconf -fi
	else
		say "bootstrap: configure is up to date"
	fi
}

configure_build() {
	local args want had=""
	mapfile -t args < <(configure_args)
	want=$(configure_args)
	local stamp="$BUILD_DIR/.setup-configure"
	[[ -f $stamp ]] && had=$(<"$stamp")
	if [[ ! -f $BUILD_DIR/Makefile || $BUILD_DIR/Makefile -ot configure ||
		! -f $stamp || $had != "$want" ]]; then
		say "configure: ../configure${args[*]:+ ${args[*]}} (in build/)"
		mkdir -p "$BUILD_DIR"
		rm -f "$stamp"
		(cd "$BUILD_DIR" && ../configure "${args[@]}")
		printf '%s\n' "$want" >"$stamp"
	else
		say "configure: build/ is up to date"
	fi
}

build() {
	install_deps
	bootstrap
	configure_build
	say "build: make -j$(nproc)"
	make -C "$BUILD_DIR" -j"$(nproc)"
}

# ---- commands ----------------------------------------------------------------
show_test_logs() {
	local f
	for f in "$BUILD_DIR"/tests/*.log "$BUILD_DIR"/test-suite.log; do
		[[ -f $f ]] || continue
		printf '\n==> tail of %s\n' "${f#"$ROOT"/}"
		tail -n 100 "$f"
	done
}

cmd_test() {
	build
	say "test: make -C build -j2 check"
	# Drop old logs so that a failure shows this run's logs, not a stale pass.
	rm -f "$BUILD_DIR"/tests/*.log "$BUILD_DIR"/tests/*.trs "$BUILD_DIR"/test-suite.log
	if ! make -C "$BUILD_DIR" -j2 check; then
		show_test_logs
		die "tests failed (logs above; full logs in build/tests/ and build/test-suite.log)"
	fi
	# Check's own summary lines ("100%: Checks: N, Failures: 0, Errors: 0").
	grep -h -E '^[0-9]+%: Checks: ' "$BUILD_DIR"/tests/*.log 2>/dev/null || true
	say "test: all tests passed"
}

cmd_run() {
	local kws=0 arg
	for arg in "$@"; do
		case $arg in
		--kws) kws=1 ;;
		*) die "run: unknown argument '$arg' (only --kws)" ;;
		esac
	done
	build
	local qreg="$BUILD_DIR/qreg" data="${QREG_DATA:-$HOME/.local/share/qreg/data}"
	[[ -x $qreg ]] || die "build/qreg was not built"
	export QREG_DATA="$data"

	say "run 1/2: a small MLP on the bundled breast-cancer CSV (examples/quickstart.json)"
	"$qreg" train examples/quickstart.json --out "$BUILD_DIR/quickstart.qrm" --quiet

	say "run 2/2: the thesis' bts CGRU (327 parameters) on simulated wrist-gesture data"
	if [[ ! -f $data/motion/train.csv ]]; then
		say "preparing the motion data set in $data/motion (datasets/motion.py, a few seconds)"
		python3 datasets/motion.py --out "$data/motion" --quiet
	fi
	"$qreg" summary examples/bts.json | tail -n 2
	"$qreg" train examples/bts.json --out "$BUILD_DIR/bts.qrm" --quiet

	if ((kws)); then
		say "run 3/3 (--kws): the gsc CGRU on synthesized keyword-spotting audio (long)"
		[[ -f examples/kws.json ]] || die "examples/kws.json not found"
		if [[ ! -f $data/kws/testing_list.txt ]]; then
			say "preparing the kws data set in $data/kws (datasets/kws.sh)"
			datasets/kws.sh --out "$data/kws"
		fi
		"$qreg" train examples/kws.json --out "$BUILD_DIR/kws.qrm"
	fi
}

case "${1:-}" in
run)
	shift
	cmd_run "$@"
	;;
test)
	[[ $# -eq 1 ]] || die "test takes no arguments"
	cmd_test
	;;
build)
	[[ $# -eq 1 ]] || die "build takes no arguments"
	build
	say "build: done (build/)"
	;;
deps)
	[[ $# -eq 1 ]] || die "deps takes no arguments"
	install_deps
	;;
-h | --help | help)
	usage
	;;
*)
	usage >&2
	exit 2
	;;
esac
