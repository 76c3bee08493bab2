# bench/mcu/cost.awk — the cycle estimate of bench/mcu/measure.sh: each instruction executed in
# the counted window, weighted by its cost on a zero-wait-state core per the Cortex-M0+ and
# Cortex-M4 Technical Reference Manuals (instruction timing tables). README.md lists the model
# and why it is only an estimate.
#
#   awk -v core=m0plus|m4 [-v P=2] [-v DIV=12] [-v MUL32=0] -f cost.awk count.txt bench.dis
#
# count.txt: qb_count.c's profile ("pc size count fallin jumpout" per executed instruction).
# bench.dis: arm-none-eabi-objdump -d --no-show-raw-insn of the same image (the mnemonics).
# Prints "cycles_est N", "insns_costed N" and "class NAME INSNS CYCLES" per class.
#
#   Cortex-M0+                              Cortex-M4 (P = pipeline refill, 1..3)
#   ALU, MULS                    1          ALU, all multiplies and MACs        1
#     (MULS 32 with MUL32=1)                SDIV/UDIV                           DIV (2..12)
#   LDR/STR (any width)          2          LDR/STR                             2, or 1 right after
#                                                                               another LDR/STR
#                                           LDRD/STRD                           3
#   LDM/STM/PUSH/POP, N regs     1+N        LDM/STM/PUSH/POP, N regs            1+N
#   POP/LDM with PC              3+N        … with PC                           1+N+P
#   B<cc>                        1, 2 taken B<cc>, CBZ/CBNZ                      1, 1+P taken
#   B                            2          B, BL, BX, BLX                      1+P
#   BL                           3          TBB/TBH                             2+P
#   BX, BLX                      2          IT                                  1
#   other writes to PC           +1         other writes to PC                  +P
#   MRS/MSR/DMB/DSB/ISB          3          MRS/MSR/barriers                    2
#                                           VFP: VLDR/VSTR 2, VPUSH/VPOP/VLDM/VSTM 1+N,
#                                           VDIV/VSQRT 14, others 1
BEGIN {
    if (core != "m0plus" && core != "m4") { print "cost.awk: core must be m0plus or m4" > "/dev/stderr"; exit 2 }
    if (P == "") P = 2
    if (DIV == "") DIV = 12
    if (MUL32 == "") MUL32 = 0
    CC = "(eq|ne|cs|cc|hs|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)"
    v6 = core == "m0plus"
}
# first file: the profile
FNR == NR {
    if (NF == 5 && $1 ~ /^[0-9a-f]+$/) { cnt[$1] = $3; fin[$1] = $4; jmp[$1] = $5 }
    next
}
# registers in a {list} (r4-r7 counts 4)
function nregs(ops,   list, parts, i, k, ab, a, b) {
    if (!match(ops, /\{[^}]*\}/)) return 1
    list = substr(ops, RSTART + 1, RLENGTH - 2)
    gsub(/ /, "", list)
    k = 0
    for (i = split(list, parts, ","); i > 0; i--) {
        if (split(parts[i], ab, "-") == 2) {
            a = ab[1]; b = ab[2]; sub(/^[rsd]/, "", a); sub(/^[rsd]/, "", b)
            k += b - a + 1
        } else if (parts[i] != "") k++
    }
    return k
}
function put(cls, n, c) { ni[cls] += n; nc[cls] += c; total += c; costed += n }
# second file: the disassembly, "   1a4:<TAB>mnemonic<TAB>operands[<TAB>@ comment]"
$0 ~ /^ *[0-9a-f]+:\t/ {
    split($0, f, "\t")
    pc = f[1]; sub(/^ */, "", pc); sub(/:$/, "", pc)
    m = f[2]; sub(/\.[nw]$/, "", m)
    ops = f[3]
    single_ls = m ~ /^(ldr|str)/ && m !~ /^(ldrd|strd|ldrex|strex)/ && ops !~ /^pc,/
    if (pc in cnt) {
        n = cnt[pc]; j = jmp[pc]
        after_ls = prev_single_ls ? fin[pc] : 0
        topc = ops ~ /^pc,/ || ops ~ /\{[^}]*pc/
        if (m ~ ("^b" CC "$"))                    put("branch", n, v6 ? n + j : n + j * P)
        else if (m == "b")                        put("branch", n, v6 ? 2 * n : (1 + P) * n)
        else if (m ~ ("^bl" CC "?$"))             put("call", n, v6 ? 3 * n : (1 + P) * n)
        else if (m ~ ("^(bx|blx)" CC "?$"))       put("call", n, v6 ? 2 * n : (1 + P) * n)
        else if (m ~ /^cbn?z$/)                   put("branch", n, n + j * P)
        else if (m ~ /^tb[bh]$/)                  put("branch", n, (2 + P) * n)
        else if (m ~ /^it[te]*$/)                 put("it", n, n)
        else if (m ~ /^(push|pop|ldm|stm)/)       put("ldm_stm", n, (1 + nregs(ops)) * n + (topc ? (v6 ? 2 : P) * n : 0))
        else if (m ~ /^(ldrd|strd)/)              put("ldr_str", n, 3 * n)
        else if (m ~ /^(ldr|str)/)                put("ldr_str", n, v6 ? 2 * n + (topc ? j : 0) : 2 * n - after_ls + (topc ? P * j : 0))
        else if (m ~ /^(mul|mla|mls|[su]mul|[su]mla|smlal|smls|smua|smus|smml|smms|umaal)/)
                                                  put("mul", n, v6 && MUL32 ? 32 * n : n)
        else if (m ~ /^[su]div/)                  put("div", n, DIV * n)
        else if (m ~ /^(mrs|msr|dmb|dsb|isb)/)    put("system", n, (v6 ? 3 : 2) * n)
        else if (m ~ /^v(ldr|str)/)               put("vfp", n, 2 * n)
        else if (m ~ /^v(push|pop|ldm|stm)/)      put("vfp", n, (1 + nregs(ops)) * n)
        else if (m ~ /^v(div|sqrt)/)              put("vfp", n, 14 * n)
        else if (m ~ /^v/)                        put("vfp", n, n)
        else                                      put("alu", n, n + j * (v6 ? 1 : P))
    }
    prev_single_ls = single_ls
}
END {
    printf "cycles_est %d\ninsns_costed %d\n", total, costed
    for (k in ni) printf "class %s %d %d\n", k, ni[k], nc[k]
}
