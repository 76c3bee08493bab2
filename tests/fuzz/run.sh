#!/usr/bin/env bash
# tests/fuzz/run.sh — build the fuzz targets, make their seed corpora with qreg itself, and run
# each target for a while; fail on any crash, leak, sanitizer report, out-of-memory or timeout.
#
# usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
#   SECONDS   per target (default 60)
#   TARGET    fuzz_qrt fuzz_qrm fuzz_csv fuzz_config fuzz_audio (default: all, one at a time)
#
# Needs clang with libFuzzer (Debian: apt-get install -y clang; installed here when CI is set
# and running as root) and a built qreg (./setup.sh build: build/qreg trains and exports the
# seed models; QREG=path overrides). Everything goes to build-fuzz/ (FUZZ_OUT overrides):
# FUZZ_SEED (default 1) seeds libFuzzer's mutations, so CI's short runs take the same path each
# time; set another (or 0: random) to explore further.
#   build-fuzz/fuzz_*          the targets (tests/fuzz/build.sh)
#   build-fuzz/seeds/TARGET    seed corpora, regenerated on every run
#   build-fuzz/corpus/TARGET   the corpus libFuzzer grows (kept between runs)
#   build-fuzz/crashes/TARGET  reproducers of findings (crash-*, leak-*, oom-*, timeout-*)
#   build-fuzz/logs/TARGET.log each run's output
# Reproduce a finding: build-fuzz/fuzz_TARGET build-fuzz/crashes/TARGET/crash-...
# Exit 0: no finding; 1: a finding or an error (the reproducer is printed); 2: no clang.
# See docs/fuzzing.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECS=${1:-60}
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || {
	sed -n '4,7s/^# \{0,1\}//p' "$0" >&2
	exit 1
}
shift || true
ALL=(fuzz_qrt fuzz_qrm fuzz_csv fuzz_config fuzz_audio)
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
	[[ " ${ALL[*]} " == *" $t "* ]] || {
		echo "run.sh: unknown target $t (one of: ${ALL[*]})" >&2
		exit 1
	}
done
OUT=${FUZZ_OUT:-$ROOT/build-fuzz}
QREG=${QREG:-$ROOT/build/qreg}
say() { printf '==> fuzz: %s\n' "$*"; }
die() {
	printf 'run.sh: %s\n' "$*" >&2
	exit 1
}

in_ci() { [[ -n ${CI:-} && ${CI} != false && ${CI} != 0 ]]; }

# ---- clang -----------------------------------------------------------------------------
if ! command -v "${CC:-clang}" >/dev/null 2>&1; then
	if in_ci && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		say "installing clang (CI, root)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang >/dev/null
	else
		printf 'run.sh: clang not found; the fuzz targets need clang with libFuzzer:\n' >&2
		printf '  apt-get update && apt-get install -y clang\n' >&2
		exit 2
	fi
fi
"$HERE/build.sh" "$OUT"

# ---- seed corpora ------------------------------------------------------------------------
[[ -x $QREG ]] || die "$QREG not found: build qreg first (./setup.sh build), or set QREG"
SEEDS=$OUT/seeds
rm -rf "$SEEDS"
mkdir -p "$SEEDS"/{fuzz_qrt,fuzz_qrm,fuzz_csv,fuzz_config,fuzz_audio} "$OUT/corpus" "$OUT/crashes" \
	"$OUT/logs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "seeds: training and exporting $(cd "$HERE/seeds" && echo *.json | sed 's/\.json//g')"
export OPENBLAS_NUM_THREADS=1
for cfg in "$HERE"/seeds/*.json; do
	n=$(basename "$cfg" .json)
	"$QREG" train "$cfg" --out "$work/$n.qrm" --quiet >"$work/$n.log" 2>&1 ||
		{ cat "$work/$n.log" >&2; die "qreg train $cfg failed"; }
	cp "$work/$n.qrm" "$SEEDS/fuzz_qrm/$n.qrm"
	for sp in auto fast off; do
		"$QREG" export "$work/$n.qrm" --out "$work/$n-$sp" --sparse "$sp" >/dev/null 2>&1 ||
			die "qreg export $n.qrm --sparse $sp failed"
		cp "$work/$n-$sp/model.qrt" "$SEEDS/fuzz_qrt/$n-$sp.qrt"
	done
done
# identical blobs (a model without sparse matrices) collapse into one
(cd "$SEEDS/fuzz_qrt" && sha256sum -- * | sort | awk 'seen[$1]++ { print $2 }' | xargs -r rm --)
# CSV: the bundled data (breast_cancer cut to 40 rows) and variants of iris
c=$SEEDS/fuzz_csv
cp "$ROOT/data/iris.csv" "$ROOT/data/wine.csv" "$c/"
head -n 41 "$ROOT/data/breast_cancer.csv" >"$c/breast_cancer-40.csv"
head -n 31 "$ROOT/data/iris.csv" >"$work/iris30.csv"
tr ',' '\t' <"$work/iris30.csv" >"$c/iris.tsv"
sed 's/$/\r/' "$work/iris30.csv" >"$c/iris-crlf.csv"
tail -n +2 "$work/iris30.csv" | awk -F, '{ printf "%s,\"%s\",%s,%s,%s\n", ($5 == 0 ? "setosa" : "other"), $1, $2, $3, $4 }' >"$c/iris-label-first.csv"
printf '\xef\xbb\xbfa, "b" ,label\n 1.5e3 ,-2,"x ""y"""\n0.25,3,z\n\n' >"$c/quoted-bom.csv"
# configs: the seed configs and every example
cp "$HERE"/seeds/*.json "$ROOT"/examples/*.json "$SEEDS/fuzz_config/"
# past findings, kept as seeds so every run checks them first (tests/fuzz/regressions/TARGET)
for t in "${ALL[@]}"; do
	if [ -d "$HERE/regressions/$t" ]; then
		cp "$HERE/regressions/$t"/* "$SEEDS/$t/"
	fi
done
# audio: small WAV, AIFF and AU files (Python's standard library); FLAC and Ogg if sox is here
python3 "$HERE/gen_audio.py" "$SEEDS/fuzz_audio"
if command -v sox >/dev/null 2>&1; then
	sox "$SEEDS/fuzz_audio/pcm16-16k-mono.wav" "$SEEDS/fuzz_audio/pcm16-16k-mono.flac" 2>/dev/null || true
	sox "$SEEDS/fuzz_audio/pcm16-8k-stereo.wav" "$SEEDS/fuzz_audio/pcm16-8k-stereo.ogg" 2>/dev/null || true
fi

# ---- run ---------------------------------------------------------------------------------
max_len() {
	case $1 in
	fuzz_qrt) echo 16384 ;;
	fuzz_qrm) echo 16384 ;;
	fuzz_csv) echo 8192 ;;
	fuzz_config) echo 8192 ;;
	fuzz_audio) echo 16384 ;;
	esac
}
dict() {
	case $1 in
	fuzz_qrm | fuzz_config) echo "-dict=$HERE/json.dict" ;;
	esac
}
# scratch files of the targets that read paths: in memory when /dev/shm is usable
tmp=/dev/shm
[[ -d $tmp && -w $tmp ]] || tmp=${TMPDIR:-/tmp}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERE/lsan.supp:print_suppressions=0}
# qreg's own default of $QREG_DATA / ~/.local/share must not matter: configs are only parsed
export QREG_DATA=$work/data

failed=()
summary=()
for t in "${TARGETS[@]}"; do
	mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t"
	log=$OUT/logs/$t.log
	say "$t: ${SECS}s, max_len $(max_len "$t"), seeds $(find "$SEEDS/$t" -type f | wc -l)"
	rc=0
	# shellcheck disable=SC2046
	TMPDIR=$tmp "$OUT/$t" -seed="${FUZZ_SEED:-1}" -max_total_time="$SECS" -max_len="$(max_len "$t")" \
		-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$OUT/crashes/$t/" $(dict "$t") \
		"$OUT/corpus/$t" "$SEEDS/$t" >"$log" 2>&1 || rc=$?
	execs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$log")
	speed=$(awk '/^stat::average_exec_per_sec:/ { print $2 }' "$log")
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
	line=$(printf '%-12s %10s execs %7s/s  %s' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}")
	artifact=$(grep -oE 'Test unit written to .*' "$log" | tail -n 1 | sed 's/^Test unit written to //' || true)
	if [[ $rc -ne 0 ]] || grep -qE '^(==[0-9]+==ERROR|SUMMARY: (Address|Undefined|Leak)Sanitizer)|runtime error:' "$log"; then
		failed+=("$t")
		summary+=("$line  FAILED (exit $rc)")
		printf '\n==> fuzz: %s FAILED (exit %d); the end of %s:\n' "$t" "$rc" "$log" >&2
		grep -vE '^#[0-9]+|^ *(NEW_FUNC|"|###)|^(INFO|MS):' "$log" | tail -n 40 >&2
		if [[ -n $artifact ]]; then
			printf '==> fuzz: reproducer: %s\n==> fuzz: reproduce: %s %s\n' "$artifact" "$OUT/$t" "$artifact" >&2
		fi
	else
		summary+=("$line  ok")
	fi
done
printf '\n==> fuzz: summary (%ss per target)\n' "$SECS"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
	printf '==> fuzz: findings in: %s (reproducers in %s/crashes/)\n' "${failed[*]}" "$OUT" >&2
	exit 1
fi
