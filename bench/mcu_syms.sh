# bench/mcu_syms.sh — sourced by bench/mcu_bts.sh and bench/mcu_model.sh: how many bytes of a
# linked Cortex-M image belong to the runtime, to libgcc/newlib helpers, and to a model.

# The names of the symbols the device sources define, compiled alone with measure.sh's flags
# (plus MCU_RT_CFLAGS, e.g. -DQRT_SMALL=1, whose static helpers differ):
# mcu_rt_names DIR CPU INCLUDE_DIR SOURCES... → DIR/names
mcu_rt_names() {
    local d=$1 cpu=$2 inc=$3
    shift 3
    mkdir -p "$d"
    for s in "$@"; do
        # shellcheck disable=SC2086
        arm-none-eabi-gcc -mcpu="$cpu" -mthumb -Os -ffunction-sections -fdata-sections -std=c99 \
            ${MCU_RT_CFLAGS:-} -I"$inc" -c "$s" -o "$d/$(basename "${s%.c}").o"
    done
    arm-none-eabi-nm "$d"/*.o | awk '$2 ~ /^[TtRrDdBb]$/ {print $3}' | sort -u >"$d/names"
}

# mcu_sum_syms ELF NAMES_FILE → "runtime-bytes helper-bytes": the sizes of the listed symbols,
# and of the libgcc/newlib helpers (__aeabi_*, __gnu_thumb1_*, mem*) in the image.
mcu_sum_syms() {
    arm-none-eabi-nm -S "$1" | awk -v names="$2" '
        function hex(h,  i, v) { v = 0; h = tolower(h)
            for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
            return v }
        BEGIN { while ((getline n < names) > 0) rt[n] = 1 }
        NF == 4 { sz = hex($2)
                  if ($4 in rt) r += sz
                  else if ($4 ~ /^(__aeabi_|__gnu_thumb1|__(ashl|ashr|lshr|mul|div|mod|udiv|umod)di3|mem(cpy|move|set|cmp)$)/) h += sz }
        END { printf "%d %d\n", r, h }'
}

# mcu_prefix_syms ELF PREFIX → bytes of the symbols whose name starts with PREFIX (a compiled
# model's tensors, descriptors and functions).
mcu_prefix_syms() {
    arm-none-eabi-nm -S "$1" | awk -v pre="$2" '
        function hex(h,  i, v) { v = 0; h = tolower(h)
            for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
            return v }
        NF == 4 && index($4, pre) == 1 { r += hex($2) }
        END { printf "%d\n", r + 0 }'
}
