#!/usr/bin/env bash
# tests/fuzz/build.sh — build the libFuzzer targets of tests/fuzz/ with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer (float-cast-overflow included), from the library's sources
# directly (not through the autotools build, which uses the configured compiler).
#
# usage: tests/fuzz/build.sh [OUTDIR]     default OUTDIR: build-fuzz/ in the source tree
#
# Writes OUTDIR/fuzz_qrt, fuzz_qrm, fuzz_csv, fuzz_config, fuzz_audio; objects in OUTDIR/obj
# (rebuilt when a source or any header is newer). The library's source list is read from
# Makefile.am, so it stays in step with the real build. Environment: CC (clang), JOBS (2),
# FUZZ_CFLAGS (extra flags, e.g. -O2). Exit 0 built, 1 error, 2 clang or libFuzzer missing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/build-fuzz}
CC=${CC:-clang}
JOBS=${JOBS:-2}
TARGETS=(fuzz_qrt fuzz_qrm fuzz_csv fuzz_config fuzz_audio)

die() {
	printf 'build.sh: %s\n' "$*" >&2
	exit 1
}

no_clang() {
	printf 'build.sh: %s\n' "$*" >&2
	printf 'build.sh: the fuzz targets need clang with libFuzzer; on Debian/Ubuntu:\n' >&2
	printf '  apt-get update && apt-get install -y clang\n' >&2
	exit 2
}

command -v "$CC" >/dev/null 2>&1 || no_clang "$CC not found"
mkdir -p "$OUT/obj"
OUT=$(cd "$OUT" && pwd)

SAN=(-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all
	-fno-omit-frame-pointer)
# libFuzzer links?
probe=$OUT/obj/probe
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe.c"
"$CC" "${SAN[@]}" -fsanitize=fuzzer "$probe.c" -o "$probe" >"$probe.log" 2>&1 ||
	no_clang "$CC cannot link -fsanitize=fuzzer,address ($(head -n 3 "$probe.log"))"

PKGS=(openblas libcjson sndfile samplerate fftw3f)
pkg-config --exists "${PKGS[@]}" || die "pkg-config cannot find: ${PKGS[*]} (run ./setup.sh deps)"
read -r -a PKG_CFLAGS <<<"$(pkg-config --cflags "${PKGS[@]}")"
read -r -a PKG_LIBS <<<"$(pkg-config --libs "${PKGS[@]}")"
read -r -a EXTRA <<<"${FUZZ_CFLAGS:-}"

COMMON=(-g -O1 "${SAN[@]}" -fsanitize=fuzzer-no-link -fno-fast-math -fno-math-errno
	-fno-trapping-math "${EXTRA[@]}")
# as Makefile.am: the library (C11, all of the tree on the include path) ...
LIB_FLAGS=(-std=c11 -I"$ROOT/include" -I"$ROOT" -I"$ROOT/runtime" -I"$ROOT/export"
	-DQR_BUILDING_LIBRARY -D_POSIX_C_SOURCE=200809L "${PKG_CFLAGS[@]}")
# ... and the freestanding runtime (C99, only runtime/)
QRT_FLAGS=(-std=c99 -ffreestanding -I"$ROOT/runtime")

# The .c files of libqreg-core, libqrt and libqrt-host in Makefile.am, and lib/version.c.
mapfile -t SOURCES < <(awk '
	/^(libqreg_core|libqrt|libqrt_host)_la_SOURCES[ \t]*=/ { on = 1 }
	on { for (i = 1; i <= NF; i++) if ($i ~ /\.c$/) print $i; if ($NF != "\\") on = 0 }
	' "$ROOT/Makefile.am")
SOURCES+=(lib/version.c)
[[ ${#SOURCES[@]} -gt 50 ]] || die "found only ${#SOURCES[@]} sources in Makefile.am"

# newest header: any change rebuilds everything (simple and safe)
newest_header=$(find "$ROOT/include" "$ROOT/lib" "$ROOT/datasets" "$ROOT/quant" "$ROOT/model" \
	"$ROOT/export" "$ROOT/train" "$ROOT/runtime" -name '*.h' -printf '%T@ %p\n' |
	sort -n | tail -n 1 | cut -d' ' -f2)

compile() { # src obj extra-dependency flags...
	local src=$1 obj=$2 dep=$3
	shift 3
	if [[ -f $obj && $obj -nt $src && $obj -nt $dep && $obj -nt $newest_header &&
		$obj -nt "$HERE/build.sh" ]]; then
		return 0
	fi
	"$CC" "${COMMON[@]}" "$@" -c "$src" -o "$obj"
}

printf '==> fuzz: compiling %d library sources with %s (ASan, UBSan, libFuzzer)\n' \
	"${#SOURCES[@]}" "$("$CC" --version | head -n 1)"
OBJS=()
pids=()
fail=0
for src in "${SOURCES[@]}"; do
	obj=$OUT/obj/$(printf '%s' "${src%.c}" | tr '/' '_').o
	OBJS+=("$obj")
	if [[ $src == runtime/* ]]; then
		compile "$ROOT/$src" "$obj" "$ROOT/$src" "${QRT_FLAGS[@]}" &
	else
		compile "$ROOT/$src" "$obj" "$ROOT/$src" "${LIB_FLAGS[@]}" &
	fi
	pids+=($!)
	if [[ ${#pids[@]} -ge $JOBS ]]; then
		wait "${pids[0]}" || fail=1
		pids=("${pids[@]:1}")
	fi
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[[ $fail -eq 0 ]] || die "compiling the library failed"

for t in "${TARGETS[@]}"; do
	compile "$HERE/$t.c" "$OUT/obj/$t.o" "$HERE/fuzz_util.h" "${LIB_FLAGS[@]}" -Wall -Wextra -Werror
	"$CC" "${COMMON[@]}" -fsanitize=fuzzer "$OUT/obj/$t.o" "${OBJS[@]}" "${PKG_LIBS[@]}" -lm \
		-o "$OUT/$t"
done
printf '==> fuzz: built %s in %s\n' "${TARGETS[*]}" "$OUT"
