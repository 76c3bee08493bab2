#!/usr/bin/env bash
# C++ linkage of an export (issue 14): a conv-GRU model trained for two epochs on the bundled
# wine data (13 × 1 sequences) is exported with --with-runtime, and one program that uses the
# compiled model (NAME_quantize_frame, NAME_run, the class names) and the interpreter
# (NAME_load, qrt_run) is built three ways: all C (gcc); the runtime and model as C with the
# program as C++ (g++ -std=c++11 -pedantic: the extern "C" guards); and everything as C++
# (g++ -std=c++20, as Arduino-style builds compile .cpp). All three must print the same
# logits, and compiled model and interpreter must agree. Skipped (77) without g++.
#   tests/cxx.sh --arm   also compiles the runtime, the model and the program with
#                        arm-none-eabi-g++ for Cortex-M0+ (objects only; for CI, not make check)
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
arm=0
[ "${1:-}" = "--arm" ] && arm=1

command -v g++ >/dev/null 2>&1 || skip "cxx: no g++ (Debian: build-essential); skipped"
need_qreg
use_tmp_cd

cat > wine.json <<JSON
{"data": {"train": "$srcdir/data/wine.csv", "label": "label", "sequence": [13, 1],
          "validation_split": 0.2},
 "model": [{"type": "conv1d", "filters": 4, "kernel_size": 3, "padding": "causal"},
           {"type": "batchnorm"}, {"type": "relu"}, {"type": "gru", "units": 6},
           {"type": "dense"}],
 "training": {"epochs": 2, "batch_size": 16, "seed": 3, "checkpoint_every": 0}}
JSON
"$qreg" train wine.json --out wine.qrm >train.log 2>&1 || { cat train.log; exit 1; }
"$qreg" export wine.qrm --out exp --name wine --with-runtime --raw-scale 0.25 >export.log 2>&1 ||
    { cat export.log; exit 1; }

cat > main.c <<'SRC'
/* One frame source, two ways of running the model; prints both logits. */
#include <stdio.h>
#include <string.h>
#include "model_compiled.h"
#include "model.h"

int main(void)
{
    static int32_t mem[WINE_MEM_WORDS];
    static int32_t scratch[WINE_SCRATCH_SIZE / 4];
    int16_t raw[WINE_SEQ_LEN * WINE_N_FEATURES];
    int32_t x[WINE_SEQ_LEN * WINE_N_FEATURES], a[WINE_N_OUTPUTS], b[WINE_N_OUTPUTS];
    unsigned i;
    qrt_model m;
    for (i = 0; i < WINE_SEQ_LEN * WINE_N_FEATURES; i++)
        raw[i] = (int16_t)((int)(i * 7919u % 4001u) - 2000);
    for (i = 0; i < WINE_SEQ_LEN; i++)
        wine_quantize_frame(raw + i * WINE_N_FEATURES, x + i * WINE_N_FEATURES);
    wine_run(mem, x, a);
    if (wine_load(&m) != QRT_OK || qrt_run(&m, x, scratch, sizeof scratch, b) != QRT_OK)
        return 2;
    for (i = 0; i < WINE_N_OUTPUTS; i++)
        printf("%ld %ld\n", (long)a[i], (long)b[i]);
    printf("class %s\n", wine_class_names[qrt_argmax(a, WINE_N_OUTPUTS)]);
    return memcmp(a, b, sizeof a) != 0;
}
SRC
cp main.c main.cpp
src="exp/model_compiled.c exp/model.c exp/qrt_kernels.c exp/qrt_layer.c exp/qrt_model.c exp/qrt_run.c"
[ -f exp/qrt_sparse.c ] && src="$src exp/qrt_sparse.c"
defs=$(sed -n 's/^QRT_CPPFLAGS := -I$(QRT_DIR)//p' exp/qrt.mk)
run() { # NAME CMD...: build, then run ./NAME, output in NAME.out
    local name=$1
    shift
    if ! "$@" >"$name.log" 2>&1; then
        fail "$name: build failed"
        sed 's/^/    /' "$name.log" | head -n 20
        return
    fi
    if ! "./$name" >"$name.out"; then
        fail "$name: the compiled model and the interpreter differ"
        cat "$name.out"
        return
    fi
    pass "$name"
}
# shellcheck disable=SC2086
run c_only cc -std=c99 -Wall -Wextra -Werror -Iexp $defs main.c $src -o c_only
# shellcheck disable=SC2086
run cxx_main sh -c "cc -std=c99 -Wall -Wextra -Werror -Iexp $defs -c $src &&
    g++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iexp $defs -c main.cpp &&
    g++ *.o -o cxx_main"
rm -f ./*.o
# shellcheck disable=SC2086
run cxx_all sh -c "g++ -x c++ -std=c++20 -Wall -Wextra -Werror -Iexp $defs main.cpp $src -o cxx_all"
for v in cxx_main cxx_all; do
    if [ -f $v.out ] && ! cmp -s c_only.out $v.out; then
        fail "$v prints other logits than the C build"
    fi
done
if [ $arm = 1 ]; then
    if command -v arm-none-eabi-g++ >/dev/null 2>&1; then
        mcu="-mcpu=cortex-m0plus -mthumb -Os -ffunction-sections -fdata-sections"
        ok=1
        for f in $src main.cpp; do
            # shellcheck disable=SC2086
            arm-none-eabi-g++ -x c++ -std=c++20 $mcu -Wall -Wextra -Werror -Iexp $defs -c "$f" \
                -o "arm_$(basename "$f").o" >arm.log 2>&1 || { ok=0; sed 's/^/    /' arm.log | head; }
        done
        if [ $ok = 1 ]; then pass "arm-none-eabi-g++ (Cortex-M0+, as C++)"
        else fail "arm-none-eabi-g++"; fi
    else
        echo "skip - arm-none-eabi-g++ not installed (Debian: gcc-arm-none-eabi)"
    fi
fi
# not finish's line: the class the programs print, then the failures
echo "cxx: $(cat c_only.out 2>/dev/null | tail -n 1); $failed failed"
[ "$failed" -eq 0 ]
