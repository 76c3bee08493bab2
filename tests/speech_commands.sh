#!/usr/bin/env bash
# Tests of datasets/speech_commands.sh on a small synthetic tree in the layout of Google
# Speech Commands v2 (word folders of <speaker>_nohash_<n>.wav clips, _background_noise_,
# validation_list.txt, testing_list.txt, LICENSE), written here with generated tones:
# the 12 classes and their counts per split, official lists respected (no validation or
# test clip or speaker in training), _silence_ windows from the right part of each
# recording, same input => same bytes, errors, and that qreg reads the result
# (qreg features and one epoch of qreg train with examples/speech_commands.json).
# Run by `make check` with QR_SRCDIR and QR_BUILDDIR set. Needs python3 (skips without).
# Ends with the line "speech_commands: N passed, N failed".
set -u

srcdir=${QR_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
script="$srcdir/datasets/speech_commands.sh"

[ "$have_python" -eq 1 ] || skip "skip - speech_commands: no python3"
need_qreg
use_tmp

# ---- the synthetic tree ---------------------------------------------------------------
# 10 speakers; 2 in validation_list.txt, 2 in testing_list.txt. The ten keywords and four
# other words (cat dog marvin wow); some speakers say a word twice, some not at all; some
# clips are shorter than 1 s (as in the real set). Two background recordings of 12 s and
# 20 s. A README.md and LICENSE at the top, as in the real archive.
python3 - "$tmp/gsc" <<'PY'
import array, math, os, random, sys, wave
root = sys.argv[1]
words = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
         "cat", "dog", "marvin", "wow"]
speakers = ["%08x" % (0x1a2b3c4d * (k + 1) % 2**32) for k in range(10)]
rng = random.Random(7)
def write(path, samples):
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
        w.writeframes(data.tobytes())
val, test = [], []
for wi, word in enumerate(words):
    os.makedirs(os.path.join(root, word))
    for si, spk in enumerate(speakers):
        reps = 0 if (wi + si) % 7 == 0 else 2 if (wi * si) % 5 == 1 else 1
        for n in range(reps):
            length = 16000 if (wi + si + n) % 4 else 12800
            hz = 200.0 + 90.0 * wi + 7.0 * si
            s = [int(6000 * math.sin(2 * math.pi * hz * t / 16000.0) * math.sin(math.pi * t / length)
                     + rng.gauss(0, 200)) for t in range(length)]
            name = "%s/%s_nohash_%d.wav" % (word, spk, n)
            write(os.path.join(root, name), s)
            if si in (1, 4):
                val.append(name)
            elif si in (2, 7):
                test.append(name)
os.makedirs(os.path.join(root, "_background_noise_"))
write(os.path.join(root, "_background_noise_", "white_noise.wav"),
      [int(rng.gauss(0, 3000)) for _ in range(12 * 16000)])
write(os.path.join(root, "_background_noise_", "running_tap.wav"),
      [int(2000 * math.sin(2 * math.pi * 50 * t / 16000.0) + rng.gauss(0, 500)) for t in range(20 * 16000)])
with open(os.path.join(root, "_background_noise_", "README.md"), "w") as f:
    f.write("not audio\n")
with open(os.path.join(root, "validation_list.txt"), "w") as f:
    f.write("".join(v + "\n" for v in sorted(val)))
with open(os.path.join(root, "testing_list.txt"), "w") as f:
    f.write("".join(v + "\n" for v in sorted(test)))
with open(os.path.join(root, "LICENSE"), "w") as f:
    f.write("Creative Commons BY 4.0 (test stand-in)\n")
with open(os.path.join(root, "README.md"), "w") as f:
    f.write("synthetic Speech Commands layout\n")
PY
[ -f "$tmp/gsc/testing_list.txt" ] || { echo "speech_commands: could not write the synthetic tree" >&2; exit 99; }

data="$tmp/data"
out="$data/speech_commands"
check "speech_commands.sh on the synthetic tree" 0 out 'clips \(train [0-9]+, validation [0-9]+, test [0-9]+\)' \
    "$script" "$tmp/gsc" --out "$out"

# ---- the output against the tree -------------------------------------------------------
# verify PCT_UNKNOWN: prints "ok" or the problems
# shellcheck disable=SC2317 # run by check (tests/lib.sh)
verify() {
    python3 - "$tmp/gsc" "$out" "$1" <<'PY'
import csv, math, os, sys, wave
root, out, unk = sys.argv[1], sys.argv[2], sys.argv[3]
KW = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
probs = []
rows = list(csv.DictReader(open(os.path.join(out, "manifest.csv"))))
labels = sorted(set(r["label"] for r in rows))
if labels != sorted(KW + ["_unknown_", "_silence_"]):
    probs.append("classes %s" % labels)
lists = {s: set(l.strip() for l in open(os.path.join(root, f)) if l.strip())
         for s, f in (("validation", "validation_list.txt"), ("test", "testing_list.txt"))}
def rel(p):
    return os.path.relpath(p, os.path.realpath(root)).replace(os.sep, "/")
speakers = {"train": set(), "validation": set(), "test": set()}
paths = set()
for r in rows:
    p, l, s = r["path"], r["label"], r["split"]
    if p in paths:
        probs.append("%s twice" % p)
    paths.add(p)
    if l == "_silence_":
        if not p.startswith("_silence_/"):
            probs.append("silence clip %s" % p)
        with wave.open(os.path.join(out, p)) as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) != (1, 2, 16000, 16000):
                probs.append("%s is not 1 s of 16 kHz mono 16-bit" % p)
        continue
    if not os.path.isabs(p):
        probs.append("%s: word clip not absolute" % p)
    r_ = rel(p)
    word = r_.split("/")[0]
    want = "validation" if r_ in lists["validation"] else "test" if r_ in lists["test"] else "train"
    if s != want:
        probs.append("%s: split %s, the lists say %s" % (r_, s, want))
    if l != (word if word in KW else "_unknown_"):
        probs.append("%s: label %s" % (r_, l))
    speakers[s].add(os.path.basename(p).split("_nohash_")[0])
for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
    if speakers[a] & speakers[b]:
        probs.append("speakers in %s and %s: %s" % (a, b, speakers[a] & speakers[b]))
# every keyword clip of the tree is in the manifest, in its split
for w in KW:
    for f in os.listdir(os.path.join(root, w)):
        if os.path.join(os.path.realpath(root), w, f) not in paths:
            probs.append("%s/%s missing" % (w, f))
# counts: silence = ceil(10 % of the split's keywords); unknown likewise, or all
for s in ("train", "validation", "test"):
    k = sum(1 for r in rows if r["split"] == s and r["label"] in KW)
    u = sum(1 for r in rows if r["split"] == s and r["label"] == "_unknown_")
    z = sum(1 for r in rows if r["split"] == s and r["label"] == "_silence_")
    pool = 0
    for w in ("cat", "dog", "marvin", "wow"):
        for f in os.listdir(os.path.join(root, w)):
            r_ = "%s/%s" % (w, f)
            pool += (("validation" if r_ in lists["validation"] else "test" if r_ in lists["test"] else "train") == s)
    want_u = pool if unk == "all" else min(pool, math.ceil(k * float(unk) / 100))
    if k == 0 or u != want_u or z != math.ceil(k * 0.1):
        probs.append("%s: %d keywords, %d unknown (want %d), %d silence (want %d)"
                     % (s, k, u, want_u, z, math.ceil(k * 0.1)))
# silence windows come from their split's part of the recording
lengths = {"white_noise.wav": 12 * 16000, "running_tap.wav": 20 * 16000}
parts = {"train": (0.0, 0.8), "validation": (0.8, 0.9), "test": (0.9, 1.0)}
for r in csv.DictReader(open(os.path.join(out, "silence.csv"))):
    split = r["path"].split("-")[-1].split("_nohash_")[0]
    n = lengths[r["recording"]]
    lo, hi = int(parts[split][0] * n), int(parts[split][1] * n)
    st = int(r["start_sample"])
    if not (lo <= st and st + 16000 <= hi):
        probs.append("%s: window %d..%d outside %d..%d" % (r["path"], st, st + 16000, lo, hi))
for f, n in lengths.items():
    with wave.open(os.path.join(out, "_background_noise_", f)) as w:
        if w.getnframes() != int(0.8 * n):
            probs.append("_background_noise_/%s: %d samples, want %d" % (f, w.getnframes(), int(0.8 * n)))
if not os.path.isfile(os.path.join(out, "LICENSE.speech_commands")):
    probs.append("no LICENSE.speech_commands")
print("\n".join(probs) if probs else "ok")
PY
}
check "12 classes, counts per split, lists and speakers respected, silence from its split's part" \
    0 out '^ok$' verify 10
check "SHA256SUMS holds" 0 out '' sh -c "cd '$out' && sha256sum -c --quiet SHA256SUMS"
cp "$out/SHA256SUMS" "$tmp/sums1"
check "a second run finds the output up to date" 0 out 'up to date' "$script" "$tmp/gsc" --out "$out"
check "--force rebuilds" 0 out 'clips \(train' "$script" "$tmp/gsc" --out "$out" --force
check "same input, same bytes" 0 out '' cmp "$tmp/sums1" "$out/SHA256SUMS"
check "--unknown-percentage all" 0 out 'clips \(train' \
    "$script" "$tmp/gsc" --out "$tmp/all" --unknown-percentage all
out_saved=$out
out="$tmp/all"
check "  ... keeps every other-word clip of each split" 0 out '^ok$' verify all
out=$out_saved

# --test-set: the separately published test set (folders of the 12 classes) replaces testing_list
python3 - "$tmp/gsc" "$tmp/ts" <<'PY'
import os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
for label in ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "_unknown_", "_silence_"]:
    os.makedirs(os.path.join(dst, label))
    srcw = "cat" if label == "_unknown_" else "go" if label == "_silence_" else label
    for f in sorted(os.listdir(os.path.join(src, srcw)))[:2]:
        shutil.copyfile(os.path.join(src, srcw, f), os.path.join(dst, label, "t" + f))
PY
check "--test-set DIR2" 0 out 'test 24\)' "$script" "$tmp/gsc" --out "$tmp/ts-out" --test-set "$tmp/ts"
check "  ... its test split is DIR2's files, testing_list.txt's are in no split" 0 out '^ok$' \
    python3 -c "
import csv, os, sys
rows = list(csv.DictReader(open('$tmp/ts-out/manifest.csv')))
test = [r for r in rows if r['split'] == 'test']
listed = set(l.strip() for l in open('$tmp/gsc/testing_list.txt') if l.strip())
bad = [r['path'] for r in rows if os.path.relpath(r['path'], os.path.realpath('$tmp/gsc')) in listed]
ok = len(test) == 24 and all(r['path'].startswith(os.path.realpath('$tmp/ts')) and
     os.path.basename(os.path.dirname(r['path'])) == r['label'] for r in test) and not bad
print('ok' if ok else 'test rows %d, listed files present %d' % (len(test), len(bad)))"
check "--test-set without a class folder is refused" 1 err 'no folder _silence_' \
    sh -c "rm -r '$tmp/ts/_silence_' && '$script' '$tmp/gsc' --out '$tmp/ts-out2' --test-set '$tmp/ts'"

# ---- errors -----------------------------------------------------------------------------
check "no PATH: usage error" 2 err 'PATH' "$script" --out "$tmp/x"
check "a missing testing_list.txt is named" 1 err 'testing_list\.txt' \
    sh -c "cp -r '$tmp/gsc' '$tmp/bad' && rm '$tmp/bad/testing_list.txt' && '$script' '$tmp/bad' --out '$tmp/x'"
check "a list naming a missing file is named with its line" 1 err 'validation_list\.txt:[0-9]+: .*does not exist' \
    sh -c "cp '$tmp/gsc/validation_list.txt' '$tmp/bad/testing_list.txt' && echo 'yes/nobody_nohash_0.wav' >>'$tmp/bad/validation_list.txt' && '$script' '$tmp/bad' --out '$tmp/x'"
check "a missing keyword folder is named" 1 err 'no folder for stop' \
    sh -c "rm -r '$tmp/bad/stop' && '$script' '$tmp/bad' --out '$tmp/x'"
check "--out inside PATH is refused" 1 err 'outside PATH' "$script" "$tmp/gsc" --out "$tmp/gsc/out"
check "a foreign non-empty --out is not overwritten" 1 err 'not overwriting' \
    sh -c "mkdir -p '$tmp/foreign' && echo x >'$tmp/foreign/f' && '$script' '$tmp/gsc' --out '$tmp/foreign'"
[ -f "$tmp/foreign/f" ] || fail "the foreign folder was changed"

# ---- qreg reads it: the example config, features and one epoch ----------------------------
export QREG_DATA="$data"
check "qreg features examples/speech_commands.json (12 classes, 94 x 13, augmented copies)" 0 out \
    'wrote .*/train\.csv: [0-9]+ samples of 94 x 13, 12 classes' \
    "$qreg" features "$srcdir/examples/speech_commands.json" --out "$tmp/feat"
ntrain=$(grep -c ',train$' "$out/manifest.csv")
rows=$(($(wc -l <"$tmp/feat/train.csv") - 1))
if [ "$rows" -eq $((2 * ntrain)) ]; then
    pass "train.csv holds the $ntrain training clips and one augmented copy each"
else
    fail "train.csv has $rows rows for $ntrain training clips (want $((2 * ntrain)))"
fi
check "qreg train examples/speech_commands.json, 1 epoch" 0 out 'test accuracy: [0-9.]+ \([0-9]+ samples\)' \
    "$qreg" train "$srcdir/examples/speech_commands.json" --epochs 1 --out "$tmp/sc.qrm"

finish
