#!/usr/bin/env python3
"""Check a data set made by datasets/kws.sh, without listening to it.

usage: kws_check.py DIR [--deep N]

Checks, and exits 1 naming the first problems found:
  * every clip is a 16 kHz mono 16-bit PCM WAV of exactly 16000 samples;
  * manifest.csv, clips.csv, validation_list.txt and testing_list.txt name
    exactly the clips on disk, with labels matching their folders and splits
    matching the lists;
  * no voice (the file name part before _nohash_) of validation or test is in
    training, and validation and test share none either (_silence_ excepted:
    its clips are background only);
  * SHA256SUMS matches every file;
  * --deep N (default 200; 0 = all): for N spoken clips spread over the set,
    the word lies inside the 1 s window where clips.csv says: the clip minus its
    background excerpt (re-read from _background_noise_/, gain fitted by least
    squares outside the word) leaves only rounding error (<= 2 LSB) outside
    [offset, offset + word length] and the word inside, at the recorded level
    (within 1 dB) and SNR (within 1.5 dB); for _silence_ clips, the clip is the
    scaled background excerpt, at the recorded level (within 0.5 dB).
Prints a summary: counts per split, durations, levels. Standard library only.
"""

import argparse
import array
import csv
import hashlib
import math
import os
import sys
import wave

RATE = 16000


def read_wav(path):
    with wave.open(path, "rb") as w:
        info = (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes(), w.getcomptype())
        data = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        data.byteswap()
    return info, data


def rms(x):
    return math.sqrt(math.fsum(v * v for v in x) / len(x)) if len(x) else 0.0


def db(x):
    return 20.0 * math.log10(x) if x > 0 else -math.inf


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--deep", type=int, default=200)
    args = ap.parse_args(argv)
    d = args.dir
    errors = []

    def err(msg):
        errors.append(msg)
        if len(errors) <= 20:
            print("kws_check: %s" % msg, file=sys.stderr)

    with open(os.path.join(d, "manifest.csv"), newline="") as f:
        manifest = list(csv.DictReader(f))
    with open(os.path.join(d, "clips.csv"), newline="") as f:
        clips = {r["path"]: r for r in csv.DictReader(f)}
    lists = {}
    for split, name in (("validation", "validation_list.txt"), ("test", "testing_list.txt")):
        with open(os.path.join(d, name)) as f:
            lists[split] = set(line.rstrip("\n") for line in f if line.strip())

    on_disk = set()
    for label in sorted(os.listdir(d)):
        p = os.path.join(d, label)
        if os.path.isdir(p) and label != "_background_noise_" and not label.startswith("."):
            on_disk.update("%s/%s" % (label, f) for f in os.listdir(p)
                           if not (f == "telephone" and os.path.isdir(os.path.join(p, f))))
    in_manifest = set(r["path"] for r in manifest)
    if on_disk != in_manifest:
        err("manifest.csv and the class folders differ: %d only on disk, %d only in the manifest"
            % (len(on_disk - in_manifest), len(in_manifest - on_disk)))
    if set(clips) != in_manifest:
        err("clips.csv and manifest.csv name different clips")
    if lists["validation"] & lists["test"]:
        err("%d clips in both lists" % len(lists["validation"] & lists["test"]))

    voices = {"train": set(), "validation": set(), "test": set()}
    counts = {}
    for r in manifest:
        path, label, split = r["path"], r["label"], r["split"]
        if path.split("/")[0] != label:
            err("%s: label %s is not its folder" % (path, label))
        want = "validation" if path in lists["validation"] else "test" if path in lists["test"] else "train"
        if split != want:
            err("%s: split %s in manifest.csv, %s by the lists" % (path, split, want))
        if clips.get(path, {}).get("split") != split:
            err("%s: split differs in clips.csv" % path)
        counts[(label, split)] = counts.get((label, split), 0) + 1
        if label != "_silence_":
            voices[split].add(os.path.basename(path).split("_nohash_")[0])
        if not path.endswith(".wav"):
            err("%s: not a .wav" % path)
            continue
        info, data = read_wav(os.path.join(d, path))
        if info != (1, 2, RATE, RATE, "NONE"):
            err("%s: (channels, bytes, rate, frames, compression) = %s" % (path, info))
    for a, b in (("validation", "train"), ("test", "train"), ("validation", "test")):
        both = voices[a] & voices[b]
        if both:
            err("voices in both %s and %s: %s" % (a, b, " ".join(sorted(both))))

    # --telephone-test: one band-limited copy of every test clip, and the second list/manifest.
    tel_list = os.path.join(d, "testing_list_telephone.txt")
    if os.path.exists(tel_list):
        with open(tel_list) as f:
            tel = [line.rstrip("\n") for line in f if line.strip()]
        want = sorted("%s/telephone/%s" % tuple(p.split("/", 1)) for p in lists["test"])
        if tel != want:
            err("testing_list_telephone.txt does not name one copy of each test clip")
        for p in tel:
            if not os.path.isfile(os.path.join(d, p)):
                err("%s: missing" % p)
                continue
            info, _ = read_wav(os.path.join(d, p))
            if info != (1, 2, RATE, RATE, "NONE"):
                err("%s: (channels, bytes, rate, frames, compression) = %s" % (p, info))
        with open(os.path.join(d, "manifest_telephone.csv"), newline="") as f:
            tm = list(csv.DictReader(f))
        if [r for r in tm if r["split"] != "test"] != [r for r in manifest if r["split"] != "test"] or \
                sorted(r["path"] for r in tm if r["split"] == "test") != tel or \
                any(r["label"] != r["path"].split("/")[0] for r in tm):
            err("manifest_telephone.csv is not manifest.csv with the telephone copies as its test split")
        print("  telephone-band copies: %d" % len(tel))

    with open(os.path.join(d, "SHA256SUMS")) as f:
        sums = [line.rstrip("\n").split("  ", 1) for line in f]
    for digest, name in sums:
        h = hashlib.sha256()
        with open(os.path.join(d, name), "rb") as f:
            h.update(f.read())
        if h.hexdigest() != digest:
            err("%s: sha256 differs from SHA256SUMS" % name)
    if len(sums) < len(manifest):
        err("SHA256SUMS lists %d files for %d clips" % (len(sums), len(manifest)))

    # Deep check of the mixing.
    bg = {}
    paths = sorted(clips)
    n = len(paths) if args.deep == 0 else min(args.deep, len(paths))
    picked = [paths[(k * len(paths)) // n] for k in range(n)] if n else []
    worst_out = 0.0
    lev_err, snr_err = [], []
    for path in picked:
        r = clips[path]
        name = r["background"]
        if name not in bg:
            bg[name] = read_wav(os.path.join(d, "_background_noise_", name + ".wav"))[1]
        src = bg[name]
        start = int(r["bg_offset"])
        seg = [src[(start + i) % len(src)] for i in range(RATE)]
        x = read_wav(os.path.join(d, path))[1]
        if r["label"] == "_silence_":
            lo = hi = 0
        else:
            lo = int(round(float(r["offset_ms"]) * RATE / 1000))
            hi = lo + int(round(float(r["word_ms"]) * RATE / 1000))
            if not (0 <= lo < hi <= RATE):
                err("%s: word [%d, %d) not inside the window" % (path, lo, hi))
                continue
        out_idx = [i for i in range(RATE) if i < lo - 1 or i > hi + 1]
        num = math.fsum(x[i] * seg[i] for i in out_idx)
        den = math.fsum(seg[i] * seg[i] for i in out_idx)
        g = num / den if den else 0.0
        resid = [x[i] - g * seg[i] for i in range(RATE)]
        out_max = max((abs(resid[i]) for i in out_idx), default=0.0)
        worst_out = max(worst_out, out_max)
        if out_max > 2.0:
            err("%s: outside the word the clip is not its background (residual %.1f LSB)" % (path, out_max))
        if r["label"] == "_silence_":
            e = db(rms(x) / 32767.0) - float(r["level_dbfs"])
            lev_err.append(e)
            if abs(e) > 0.5:
                err("%s: level %.2f dBFS, clips.csv says %s" % (path, db(rms(x) / 32767.0), r["level_dbfs"]))
            continue
        word = resid[lo:hi]
        w_db = db(rms(word) / 32767.0)
        e = w_db - float(r["level_dbfs"])
        lev_err.append(e)
        b_db = db(rms([g * v for v in seg]) / 32767.0)
        s = w_db - b_db - float(r["snr_db"])
        snr_err.append(s)
        if abs(e) > 1.0 or abs(s) > 1.5:
            err("%s: word at %.2f dBFS (clips.csv %s), SNR %.2f dB (clips.csv %s)"
                % (path, w_db, r["level_dbfs"], w_db - b_db, r["snr_db"]))
        edge = max(1, RATE // 200)  # 5 ms
        if rms(word[:edge]) == 0 or rms(word[-edge:]) == 0:
            err("%s: no sound at the word's edges" % path)

    splits = ("train", "validation", "test")
    print("kws_check: %s: %d clips, %d voices (train %d, validation %d, test %d)"
          % (d, len(manifest), sum(len(v) for v in voices.values()),
             len(voices["train"]), len(voices["validation"]), len(voices["test"])))
    for s in splits:
        print("  %-10s %6d clips" % (s, sum(v for (l, sp), v in counts.items() if sp == s)))
    if picked:
        print("  deep check of %d clips: residual outside the word <= %.2f LSB; level error %+.2f..%+.2f dB;"
              " SNR error %+.2f..%+.2f dB" % (len(picked), worst_out, min(lev_err), max(lev_err),
                                             min(snr_err) if snr_err else 0, max(snr_err) if snr_err else 0))
    if errors:
        print("kws_check: %d problems" % len(errors), file=sys.stderr)
        return 1
    print("kws_check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
