#!/usr/bin/env bash
# bench/mcu/build-arm.sh — build the device runtime (and optionally generated model sources) for
# Cortex-M0+ (and Cortex-M4) with Debian's arm-none-eabi-gcc, and fail if any object needs
# floating point (soft-float helpers __aeabi_f*/__aeabi_d*, conversions, libm) or dynamic memory
# (malloc and friends) or stdio.
#
#   bench/mcu/build-arm.sh                       # the device sources (runtime/*.c), all widths
#   bench/mcu/build-arm.sh gen/model.c           # … plus generated model sources (model.h next
#                                                #   to model.c is found through -I of its dir)
#   bench/mcu/build-arm.sh gen/model_compiled.c  # … a compiled model (qreg export writes both)
#   bench/mcu/build-arm.sh --bts                 # … plus generated bts models at 8, 4, 1 bits
#                                                #   and bench/mcu_bts.c (host cc generates them)
#   QRT_ARM_OUT=dir bench/mcu/build-arm.sh       # keep the objects in dir (default: temp dir)
#   QRT_ARM_CPUS="cortex-m0plus" …             # cores (default: cortex-m0plus cortex-m4)
#
# Flags: -mthumb -Os -std=c99 -ffreestanding -Wall -Wextra -Wconversion -Werror. Also builds
# the 8-bit-only configuration (QRT_ENABLE_S1/S2/S4=0) and the compact one (QRT_SMALL=1). Prints
# the code size per object. It only compiles (no link, no run): bench/mcu/measure.sh runs code.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RT="$ROOT/runtime"
CC="${CROSS:-arm-none-eabi-}gcc"
NM="${CROSS:-arm-none-eabi-}nm"
SIZE="${CROSS:-arm-none-eabi-}size"
CPUS="${QRT_ARM_CPUS:-cortex-m0plus cortex-m4}"
for t in "$CC" "$NM" "$SIZE"; do
    command -v "$t" >/dev/null || {
        echo "build-arm.sh: $t not found; install with:" >&2
        echo "  apt-get update && apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi" >&2
        exit 2; }
done
if [ -n "${QRT_ARM_OUT:-}" ]; then
    OUT="$QRT_ARM_OUT"
    mkdir -p "$OUT"
else
    OUT="$(mktemp -d /tmp/qrt-arm.XXXXXX)"
    trap 'rm -rf "$OUT"' EXIT
fi

# The device sources: every runtime/*.c (runtime/ holds device code only; the host-side
# builder, C writer and helpers are in export/).
SRCS=("$RT"/*.c)
[ -f "${SRCS[0]}" ] || { echo "build-arm.sh: no sources in $RT" >&2; exit 2; }
EXP="$ROOT/export"
CFLAGS=(-mthumb -Os -std=c99 -ffreestanding -Wall -Wextra -Wconversion -Wshadow
        -Wstrict-prototypes -Wmissing-prototypes -Werror -ffunction-sections -fdata-sections
        -I"$RT")

# Undefined symbols an object must not need: soft-float arithmetic and conversions, libm,
# dynamic memory, stdio.
FORBIDDEN='^(__aeabi_[fd][a-z0-9]*|__aeabi_[iul]*2[fd]|__aeabi_[fd]2[a-z0-9]*|__(add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|un|fix|float|extend|trunc)[a-z]*[sdt]f[0-9]*|sqrtf?|expf?|logf?|tanhf?|powf?|floorf?|ceilf?|roundf?|lroundf?|ldexpf?|frexpf?|malloc|calloc|realloc|free|printf|fprintf|sprintf|snprintf|puts|putchar|abort|exit)$'

fail=0
build() { # name cpu extra-flags... -- sources...
    local name=$1 cpu=$2; shift 2
    local flags=() srcs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
    shift
    srcs=("$@")
    local dir="$OUT/$name-$cpu"
    mkdir -p "$dir"
    local objs=()
    for s in "${srcs[@]}"; do
        local o="$dir/$(basename "${s%.c}").o"
        "$CC" -mcpu="$cpu" "${CFLAGS[@]}" -I"$(dirname "$s")" "${flags[@]}" -c "$s" -o "$o"
        objs+=("$o")
    done
    local bad
    bad=$("$NM" -u "${objs[@]}" | awk '$1 == "U" {print $2}' | grep -E "$FORBIDDEN" | sort -u || true)
    # and no VFP instruction (a hard-float build, EXTRA flags with -mfloat-abi=hard)
    local vfp
    vfp=$("${CROSS:-arm-none-eabi-}objdump" -d "${objs[@]}" | grep -E '\bv(add|sub|mul|div|mov|ldr|str|cvt|cmp)\.' | head -3 || true)
    if [ -n "$bad" ] || [ -n "$vfp" ]; then
        echo "build-arm.sh: $name ($cpu) uses forbidden symbols or FP instructions:" >&2
        [ -n "$bad" ] && echo "$bad" | sed 's/^/    /' >&2
        [ -n "$vfp" ] && echo "$vfp" | sed 's/^/    /' >&2
        fail=1
    fi
    echo "== $name ($cpu)${flags[*]:+ ${flags[*]}}"
    "$SIZE" "${objs[@]}" | sed "s|$dir/||"
    local defined
    defined=$("$NM" --defined-only "${objs[@]}" | awk 'NF == 3 {print $3}' | sort -u)
    echo "   needs: $("$NM" -u "${objs[@]}" | awk '$1 == "U" {print $2}' | sort -u |
        comm -23 - <(echo "$defined") | tr '\n' ' ')"
}

EXTRA=()
for a in "$@"; do
    if [ "$a" = --bts ]; then
        mkdir -p "$OUT/gen"
        ${HOSTCC:-cc} -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -I"$RT" -I"$ROOT/export" \
            "$ROOT/bench/mcu_bts_gen.c" "${SRCS[@]}" "$EXP/qrt_host.c" "$EXP/qrt_builder.c" \
            "$EXP/qrt_codegen.c" "$EXP/qrt_codegen_spec.c" "$EXP/qrt_sparse_host.c" -lm -o "$OUT/gen/mcu_bts_gen"
        "$OUT/gen/mcu_bts_gen" "$OUT/gen" >/dev/null
        EXTRA+=("$OUT/gen/bts_s8.c" "$OUT/gen/bts_s4.c" "$OUT/gen/bts_s1.c")
        EXTRA+=("$OUT/gen/bts_s8c.c" "$OUT/gen/bts_s4c.c" "$OUT/gen/bts_s1c.c")
        for bits in 8 4 1; do # the bench in each configuration, as C sources only (no link)
            for mode in 1 2 3 4 5; do
                cp "$ROOT/bench/mcu_bts.c" "$OUT/gen/mcu_bts_s${bits}_m$mode.c"
                sed -i "1i #define BTS_BITS $bits\\n#define BENCH_MODE $mode" "$OUT/gen/mcu_bts_s${bits}_m$mode.c"
                EXTRA+=("$OUT/gen/mcu_bts_s${bits}_m$mode.c")
            done
        done
    else
        EXTRA+=("$a")
    fi
done
for cpu in $CPUS; do
    build runtime "$cpu" -- "${SRCS[@]}" ${EXTRA[@]+"${EXTRA[@]}"}
    build runtime-s8only "$cpu" -DQRT_ENABLE_S1=0 -DQRT_ENABLE_S2=0 -DQRT_ENABLE_S4=0 \
        -DQRT_ENABLE_BITMAP=0 -DQRT_ENABLE_RLE=0 -- "${SRCS[@]}"
    build runtime-small "$cpu" -DQRT_SMALL=1 -- "${SRCS[@]}"
done
if [ $fail -ne 0 ]; then
    echo "build-arm.sh: FAILED" >&2
    exit 1
fi
echo "build-arm.sh: ok${QRT_ARM_OUT:+ (objects in $OUT)}"
