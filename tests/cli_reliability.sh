#!/usr/bin/env bash
# Tests of the qreg program for issue 16's findings (docs/reliability.md): models bounded in
# memory before anything is allocated (a .qrm header asking for 168 GiB, configs of 2^24
# units, sweeps, --max-memory / QREG_MAX_MEMORY), non-finite values (eval of a model whose
# logits overflow, CSV cells in hex or absurdly large), an export under a full disk (written
# as a set: nothing replaced; stamps that make a mixed pair fail to compile), stale
# temporaries removed, outputs checked before training, --resume without a checkpoint, a
# learning rate of 0. Run by `make check` (QR_SRCDIR, QR_BUILDDIR); writes only to a mktemp
# directory. Ends with "cli_reliability: N passed, N failed".
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
csv="$srcdir/data/breast_cancer.csv"
wine="$srcdir/data/wine.csv"

need_qreg
qreg=$(cd "$(dirname "$qreg")" && pwd)/qreg
use_tmp_cd
show_cut='head'

# qrm_edit IN OUT PYTHON: rewrite a .qrm (format: docs/format.md) with its CRC fixed; PYTHON
# may change `hdr` (the JSON header) and `tensors` (name -> list of floats).
qrm_edit() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, struct, sys, zlib
src, dst, code = sys.argv[1:4]
d = open(src, "rb").read()
magic, ver, flags, jl, nt = struct.unpack("<8sIIQQ", d[:32])
hdr = json.loads(d[32:32 + jl])
pos, order, tensors, shapes = 32 + jl, [], {}, {}
for _ in range(nt):
    (nl,) = struct.unpack_from("<H", d, pos); pos += 2
    name = d[pos:pos + nl].decode(); pos += nl
    ndim, dtype, res = struct.unpack_from("<BBH", d, pos); pos += 4
    dims = struct.unpack_from("<%dQ" % ndim, d, pos); pos += 8 * ndim
    n = 1
    for k in dims:
        n *= k
    tensors[name] = list(struct.unpack_from("<%df" % n, d, pos)); pos += 4 * n
    order.append(name); shapes[name] = dims
exec(code)
j = json.dumps(hdr, separators=(",", ":")).encode()
out = magic + struct.pack("<IIQQ", ver, flags, len(j), nt) + j
for name in order:
    dims = shapes[name]
    out += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BBH", len(dims), 0, 0)
    out += struct.pack("<%dQ" % len(dims), *dims) + struct.pack("<%df" % len(tensors[name]), *tensors[name])
open(dst, "wb").write(out + struct.pack("<I", zlib.crc32(out) & 0xffffffff))
PY
}

# ---- a small GRU model on the breast-cancer data read as 10 x 3 sequences ----------------
cat >gru.json <<EOF
{"data": {"train": "$csv", "label": "label", "validation_split": 0.15, "test_split": 0.2,
          "sequence": [10, 3]},
 "model": [{"type": "gru", "units": 48}, {"type": "dense"}],
 "training": {"epochs": 1, "batch_size": 32, "seed": 1, "checkpoint_every": 0}}
EOF
check "train a small GRU" 0 out '^saved model: ' "$qreg" train gru.json --out gru.qrm --quiet
head -n 6 "$csv" >small.csv

# ---- findings 2 and 4: memory bounded before allocation ----------------------------------
if [ "$have_python" -eq 1 ]; then
    qrm_edit gru.qrm big.qrm 'hdr["input"] = [400000, 3]'
    # ulimit -v: without the bound, the allocation fails (or, unbounded, the machine swaps);
    # not under ASan, which reserves terabytes of address space at start
    vlimit="ulimit -v 4000000 2>/dev/null;"
    [ "$(bash -c "$vlimit \"$qreg\" --version >/dev/null 2>&1 && echo yes" 2>/dev/null)" = yes ] ||
        vlimit=""
    check "eval of a .qrm whose header asks for 168 GiB: refused from the shapes" 1 err \
        'big\.qrm: model: input \(400000, 3\) at batch 256 needs [0-9.]+ GiB .*largest layer .gru_1. \(gru, output \(256, 48\)\).*more than the memory limit of .*nothing was allocated' \
        bash -c "$vlimit exec \"$qreg\" eval big.qrm --data small.csv"
    check "export of the same file: refused" 1 err 'more than the memory limit' \
        "$qreg" export big.qrm --out big-exp --max-memory 64M
    check "--max-memory changes the limit (and is quoted)" 1 err \
        'more than the memory limit of 1\.0 MiB \(set by --max-memory 1M\)' \
        "$qreg" eval gru.qrm --data small.csv --max-memory 1M
else
    echo "skip - .qrm memory bound (no python3)"
fi
cat >dense16m.json <<EOF
{"data": {"train": "$csv", "label": "label"},
 "model": [{"type": "dense", "units": 16777216}, {"type": "dense"}],
 "training": {"epochs": 1, "batch_size": 32, "seed": 1}}
EOF
start=$(date +%s)
# 2^24 values per frame: more than the device runtime holds, refused before the model is built
check "train: a dense layer of 2^24 units is refused at once" 1 err \
    "layer 'dense_1' \\(dense\\): values per frame 16777216; the device runtime takes at most 65535" \
    "$qreg" train dense16m.json --out d.qrm
# within the device's sizes, over the memory limit: refused when the model is built
sed 's/16777216/60000/' dense16m.json >dense60k.json
check "train: a dense layer over the memory limit is refused at once" 1 err \
    "layer 'dense_1' \\(dense, output \\(32, 60000\\)\\).*more than the memory limit.*nothing was allocated" \
    "$qreg" --max-memory 4M train dense60k.json --out d.qrm
cat >conv60k.json <<EOF
{"data": {"train": "$csv", "label": "label", "sequence": [10, 3]},
 "model": [{"type": "conv1d", "filters": 60000, "kernel_size": 1},
           {"type": "global_average_pooling1d"}, {"type": "dense"}],
 "training": {"epochs": 1, "batch_size": 32, "seed": 1}}
EOF
check "train: a conv1d over the memory limit is refused at once" 1 err \
    "layer 'conv1d_1' \\(conv1d, output \\(32, 10, 60000\\)\\)" \
    "$qreg" --max-memory 4M train conv60k.json --out c.qrm
if [ $(($(date +%s) - start)) -le 10 ]; then
    pass "both refusals took seconds, not minutes"
else
    fail "the refusals took $(($(date +%s) - start)) s"
fi
check "QREG_MAX_MEMORY sets the limit" 1 err 'set by QREG_MAX_MEMORY=2K' \
    env QREG_MAX_MEMORY=2K "$qreg" summary gru.json
check "--max-memory before the command" 1 err 'memory limit of 2.0 KiB' \
    "$qreg" --max-memory=2k summary gru.json
check "--max-memory none lifts it" 0 out '' "$qreg" --max-memory none summary gru.json
check "--max-memory without a size" 2 err 'needs a size' "$qreg" summary gru.json --max-memory
check "--max-memory with a bad size" 2 err "'12 parsecs' is not a size" \
    "$qreg" --max-memory '12 parsecs' summary gru.json
cat >base.json <<EOF
{"data": {"train": "$wine", "label": "label"},
 "model": [{"type": "dense", "units": 8}, {"type": "dense"}],
 "training": {"epochs": 1, "batch_size": 16, "seed": 1}}
EOF
cat >grid.json <<'EOF'
{"base": "base.json", "axes": {"model[0].units": [8, 16777216]}, "output": "grid-out"}
EOF
check "sweep with a 2^24 point: exit 1 (a run failed)" 1 out '' \
    "$qreg" sweep grid.json --jobs 1 --no-int --quiet
if grep -q 'the device runtime takes at most 65535' grid-out/results.csv &&
    grep -c ',ok,' grid-out/results.csv | grep -qx 1; then
    pass "sweep: one run ok, the huge one refused naming the device's limit"
else
    fail "sweep results: $(cat grid-out/results.csv 2>/dev/null)"
fi
check "sweep: --max-memory reaches the runs" 1 out '' \
    "$qreg" --max-memory 1K sweep grid.json --jobs 1 --no-int --quiet --out grid2
if grep -q 'memory limit of 1.0 KiB (set by QREG_MAX_MEMORY=1K)' grid2/results.csv; then
    pass "sweep: the runs inherit --max-memory 1K (as QREG_MAX_MEMORY)"
else
    fail "sweep --max-memory: $(cat grid2/results.csv 2>/dev/null)"
fi

# ---- finding 5: non-finite logits, CSV values ----------------------------------------
if [ "$have_python" -eq 1 ]; then
    # a standardization that blows inputs up to inf: the GRU's sums of +inf and -inf are NaN
    qrm_edit gru.qrm huge.qrm 'tensors["__standardize/std"] = [1e-38] * 3'
    check "eval: logits that overflow are an error, not 'loss: nan'" 1 err \
        'the loss is -?(nan|inf).*logits of sample 1 \(data row 1\) are not finite' \
        "$qreg" eval huge.qrm --data small.csv
    if ! grep -q '^loss' "$tmp/out"; then
        pass "eval: no result printed for non-finite logits"
    else
        fail "eval printed a result: $(cat "$tmp/out")"
    fi
    qrm_edit gru.qrm nan.qrm 'tensors["gru_1/recurrent_kernel"][7] = float("nan")'
    check "a .qrm with a NaN parameter is refused, naming it" 1 err \
        "tensor 'gru_1/recurrent_kernel', element 7 of [0-9]+, is not finite" \
        "$qreg" eval nan.qrm --data small.csv
    check "export refuses it too" 1 err "gru_1/recurrent_kernel" "$qreg" export nan.qrm --out nan-exp
fi
{ head -n 2 "$csv"; sed -n 3p "$csv" | sed 's/^[^,]*,/0x10,/'; } >hex.csv
check "CSV: a hex float is refused with file:line:column" 1 err 'hex\.csv:3:1: hexadecimal' \
    "$qreg" eval gru.qrm --data hex.csv
{ head -n 2 "$csv"; sed -n 3p "$csv" | sed 's/^[^,]*,[^,]*,/1,3e38,/'; } >absurd.csv
check "CSV: 3e38 is refused with file:line:column" 1 err 'absurd\.csv:3:2: number too large' \
    "$qreg" eval gru.qrm --data absurd.csv

# ---- finding 3: export replaced as a set --------------------------------------------
sed 's/"seed": 1/"seed": 2/' gru.json >gru2.json
"$qreg" train gru2.json --out gru2.qrm --quiet >/dev/null 2>&1
check "export A" 0 out 'wrote ' "$qreg" export gru.qrm --out exp
cksum exp/* >a.sum
"$qreg" export gru2.qrm --out exp-b >/dev/null 2>&1
big=$(wc -c exp-b/* | grep -v total | sort -n | tail -1 | awk '{print $1}')
# a full disk on the largest file: ulimit -f (1 KiB blocks) makes the write fail with EFBIG
check "export B on a 'full disk' fails" 1 err 'no file in exp was replaced' \
    bash -c "trap '' XFSZ; ulimit -f $(((big - 1) / 1024)); exec \"$qreg\" export gru2.qrm --out exp"
if cksum exp/* | cmp -s - a.sum; then
    pass "the failed export left all five files of A"
else
    fail "the failed export changed files: $(cksum exp/* | diff - a.sum | tr '\n' ' ')"
fi
if ls -a exp | grep -q '^\.qreg-set\.'; then
    fail "a temporary directory was left in exp"
else
    pass "no temporary directory left"
fi
if command -v cc >/dev/null 2>&1; then
    mkdir -p mixed
    cp exp/model_compiled.c mixed/ && cp exp-b/model_compiled.h mixed/
    cp exp/model.h mixed/model.h
    if cc -fsyntax-only -I"$srcdir/runtime" -Imixed mixed/model_compiled.c 2>mixed.err; then
        fail "a model_compiled.c with another export's header compiles"
    elif grep -q 'is not from the same qreg export' mixed.err; then
        pass "a mixed pair fails to compile, saying why"
    else
        fail "mixed pair: $(head -3 mixed.err)"
    fi
    if cc -fsyntax-only -I"$srcdir/runtime" -Iexp exp/model_compiled.c exp/model.c 2>&1; then
        pass "an export's own files compile"
    else
        fail "an export's own files do not compile"
    fi
else
    echo "skip - stamps (no cc)"
fi

# ---- finding 7: stale temporaries, outputs, --resume, learning rate ----------------------
: >m.qrm.tmp.AbC123
: >m.qrm.tmp.XyZ789
touch -d '2 hours ago' m.qrm.tmp.AbC123
check "train writes the model" 0 out '^saved model: m\.qrm' "$qreg" train gru.json --out m.qrm --quiet
if [ ! -e m.qrm.tmp.AbC123 ] && [ -e m.qrm.tmp.XyZ789 ]; then
    pass "a stale temporary (2 hours old) of m.qrm was removed, a fresh one kept"
else
    fail "temporaries: $(ls m.qrm.tmp.* 2>&1 | tr '\n' ' ')"
fi
check "train: an unwritable --out fails before training" 1 err \
    'the model output nodir/x\.qrm cannot be written.*nothing was trained' \
    "$qreg" train gru.json --out nodir/x.qrm
if ! grep -q '^epoch' "$tmp/err"; then
    pass "no epoch was run"
else
    fail "epochs ran before the failure"
fi
check "train: an unwritable --log fails before training" 1 err 'the log output' \
    "$qreg" train gru.json --out ok.qrm --log nodir/log.csv --quiet
check "--resume without a checkpoint says so" 1 err \
    '--resume: there is no checkpoint nock\.qrm\.ckpt to resume from.*run without --resume' \
    "$qreg" train gru.json --out nock.qrm --resume --quiet
sed 's/"training"/"optimizer": {"learning_rate": 0}, "training"/' gru.json >lr0.json
check "learning_rate 0 is refused" 1 err "'optimizer.learning_rate' must be > 0" \
    "$qreg" train lr0.json --out lr0.qrm

finish
