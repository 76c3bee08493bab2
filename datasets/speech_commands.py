#!/usr/bin/env python3
"""Turn a local copy of Google Speech Commands v2 into the standard 12-class task for qreg.

usage: speech_commands.py PATH --out DIR [--seed S] [--silence-percentage P]
                          [--unknown-percentage P|all] [--test-set DIR2] [--force]
(normally run by datasets/speech_commands.sh)

PATH is the extracted data set: one folder per word of 1 s, 16 kHz WAV files
named <speaker>_nohash_<n>.wav, _background_noise_/ (longer recordings),
validation_list.txt and testing_list.txt (relative paths word/file.wav), LICENSE.
Nothing in PATH is changed or copied: the word clips are referred to by absolute
path from DIR/manifest.csv.

The task (as TensorFlow's speech_commands example builds it, input_data.py's
prepare_data_index with its defaults --silence_percentage 10 and
--unknown_percentage 10):
  * 12 classes: the ten words yes no up down left right on off stop go;
    _unknown_, clips of every other word folder; _silence_, background only;
  * splits from the official lists: a file in validation_list.txt is validation,
    in testing_list.txt test, every other clip training (the lists split by
    speaker, so no speaker is in two splits);
  * per split, with K the number of keyword clips in it:
    ceil(K * unknown_percentage / 100) _unknown_ clips drawn at random from that
    split's other-word clips (or all of them with --unknown-percentage all), and
    ceil(K * silence_percentage / 100) _silence_ clips;
  * a _silence_ clip is a 1 s window of one _background_noise_ recording (chosen
    uniformly) at a uniform random start, multiplied by a volume uniform in [0, 1)
    (TensorFlow mixes silence the same way, at training time). Each recording is
    cut in time into three parts: its first 80 % feeds training windows, the next
    10 % validation, the last 10 %: test, so no test silence is heard in training.
    The windows are written as WAV files (16 kHz mono 16-bit) in DIR/_silence_/.
  * DIR/_background_noise_/ holds the training parts (first 80 %) of the
    recordings, for data.audio.augment.noise_dir: augmentation noise is then
    disjoint from the validation and test silence too.

OUTPUT (in DIR)
  manifest.csv   path,label,split: the word clips by absolute path into PATH, the
                 silence clips relative to DIR (qreg's manifest format)
  _silence_/     the silence windows, <recording>-<split>_nohash_<k>.wav
  _background_noise_/  training parts of the recordings (16 kHz mono 16-bit)
  LICENSE.speech_commands  PATH/LICENSE (CC BY 4.0), when present
  SHA256SUMS     sha256 of the files written here (not of PATH's audio)
  SOURCE.txt     arguments, input, sha256 of the lists, counts per class and split

--test-set DIR2: use the separately published test set (speech_commands_test_set_v0.02:
folders named after the 12 classes, _silence_ and _unknown_ included) as the test
split instead; the files of testing_list.txt are then in no split.

Same input and arguments -> the same bytes (random.Random seeded from --seed; the
lists and folders are read in sorted order). Standard library only; sox converts
background recordings that are not 16 kHz mono 16-bit PCM.
"""

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import wave

from datafiles import (is_ours, le_array, new_partial, read_wav16, sha256_file, swap_in,
                       up_to_date, write_sums, write_text, write_wav16)

GENERATOR = "qreg datasets/speech_commands.py 1"
RATE = 16000
LENGTH = RATE
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
LABELS = KEYWORDS + (UNKNOWN, SILENCE)
BACKGROUND = "_background_noise_"
SPLITS = ("train", "validation", "test")
# Parts of every background recording, by split (fractions of its length).
PARTS = {"train": (0.0, 0.8), "validation": (0.8, 0.9), "test": (0.9, 1.0)}
AUDIO_EXT = (".wav",)


class ScError(Exception):
    pass


def csv_field(s):
    return '"%s"' % s.replace('"', '""') if any(ch in s for ch in ',"\n\r') or s != s.strip() else s


def wav_files(folder):
    return sorted(f for f in os.listdir(folder)
                  if f.lower().endswith(AUDIO_EXT) and os.path.isfile(os.path.join(folder, f)))


def read_list(path, words, root):
    """-> list of 'word/file.wav' entries of a Speech Commands list, checked."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            entry = line.strip()
            if not entry:
                continue
            parts = entry.split("/")
            if len(parts) != 2 or parts[0] not in words:
                raise ScError("%s:%d: '%s' is not <word folder>/<file>" % (path, n, entry))
            if not os.path.isfile(os.path.join(root, entry)):
                raise ScError("%s:%d: '%s' does not exist in %s" % (path, n, entry, root))
            out.append(entry)
    return out


def read_background(path):
    """-> array('h') of a recording at 16 kHz mono 16-bit (sox converts other formats)."""
    try:
        data = read_wav16(path, RATE)
        if data is not None:
            return data
    except (wave.Error, EOFError):
        pass
    if not shutil.which("sox"):
        raise ScError("%s is not 16 kHz mono 16-bit PCM WAV and sox (to convert it) is not installed"
                      % path)
    r = subprocess.run(["sox", "-V1", "-R", "-D", path, "-t", "raw", "-e", "signed-integer", "-b", "16",
                        "-c", "1", "-r", str(RATE), "-L", "-", "remix", "-"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise ScError("sox cannot read %s: %s" % (path, r.stderr.decode(errors="replace").strip()))
    return le_array("h", r.stdout)


def parse_percentage(s, name, allow_all):
    if allow_all and s == "all":
        return None
    try:
        v = float(s)
    except ValueError:
        v = -1.0
    if not (0.0 <= v <= 1000.0) or v != v:
        raise ScError("--%s must be a number 0..1000%s, got '%s'"
                      % (name, " or 'all'" if allow_all else "", s))
    return v


def scan(root):
    """-> (words, files): word folders (sorted) and {word: [file names]}."""
    if not os.path.isdir(root):
        raise ScError("%s is not a folder" % root)
    words = sorted(d for d in os.listdir(root)
                   if os.path.isdir(os.path.join(root, d)) and not d.startswith((".", "_")))
    missing = [k for k in KEYWORDS if k not in words]
    if missing:
        raise ScError("%s is not Speech Commands: no folder for %s" % (root, " ".join(missing)))
    files = {}
    for w in words:
        files[w] = wav_files(os.path.join(root, w))
        if w in KEYWORDS and not files[w]:
            raise ScError("%s/%s holds no .wav files" % (root, w))
    if not any(files[w] for w in words if w not in KEYWORDS):
        raise ScError("%s has no other word than the ten keywords: no _unknown_ clips" % root)
    for name in ("validation_list.txt", "testing_list.txt"):
        if not os.path.isfile(os.path.join(root, name)):
            raise ScError("%s/%s is missing (the official split)" % (root, name))
    bg = os.path.join(root, BACKGROUND)
    if not os.path.isdir(bg) or not wav_files(bg):
        raise ScError("%s/%s/ with .wav recordings is missing (for _silence_)" % (root, BACKGROUND))
    return words, files


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--silence-percentage", default="10")
    ap.add_argument("--unknown-percentage", default="10")
    ap.add_argument("--test-set", default=None)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    silence_pct = parse_percentage(args.silence_percentage, "silence-percentage", False)
    unknown_pct = parse_percentage(args.unknown_percentage, "unknown-percentage", True)
    root = os.path.realpath(args.path)
    out = os.path.abspath(args.out)
    if out == root or out.startswith(root + os.sep):
        raise ScError("--out must be outside PATH (%s): PATH is only read" % root)

    words, files = scan(root)
    lists = {}
    for split, name in (("validation", "validation_list.txt"), ("test", "testing_list.txt")):
        lists[split] = read_list(os.path.join(root, name), set(words), root)
    both = set(lists["validation"]) & set(lists["test"])
    if both:
        raise ScError("%d files are in both validation_list.txt and testing_list.txt, e.g. %s"
                      % (len(both), sorted(both)[0]))
    test_set = os.path.realpath(args.test_set) if args.test_set else None
    test_files = []
    if test_set:
        for label in LABELS:
            d = os.path.join(test_set, label)
            if not os.path.isdir(d):
                raise ScError("--test-set %s has no folder %s" % (test_set, label))
            test_files += [(os.path.join(d, f), label) for f in wav_files(d)]
        extra = sorted(d for d in os.listdir(test_set)
                       if os.path.isdir(os.path.join(test_set, d)) and d not in LABELS and not d.startswith("."))
        if extra:
            raise ScError("--test-set %s has folders that are not classes: %s" % (test_set, " ".join(extra)))

    recipe = ["generator: %s" % GENERATOR, "input: %s" % root, "seed: %d" % args.seed,
              "silence_percentage: %s" % args.silence_percentage,
              "unknown_percentage: %s" % args.unknown_percentage,
              "test_set: %s" % (test_set or "-")]
    for name in ("validation_list.txt", "testing_list.txt"):
        recipe.append("sha256 %s: %s" % (name, sha256_file(os.path.join(root, name))))
    recipe.append("clips: %d in %d word folders" % (sum(len(v) for v in files.values()), len(words)))
    if not args.force and up_to_date(out, recipe):
        print("==> %s is up to date (same input and arguments; --force rebuilds)" % out)
        return 0
    if os.path.exists(out) and os.listdir(out) and not is_ours(out, "qreg datasets/speech_commands.py"):
        raise ScError("%s exists, is not empty and was not made by speech_commands.sh: not overwriting it"
                      % out)

    where = {}
    for split in ("validation", "test"):
        for entry in lists[split]:
            where[entry] = split
    rng = random.Random("speech-commands/%d" % args.seed)
    rows = []  # (path, label, split)
    keyword_count = dict.fromkeys(SPLITS, 0)
    unknown_pool = {s: [] for s in SPLITS}
    for w in words:
        for f in files[w]:
            split = where.get("%s/%s" % (w, f), "train")
            if split == "test" and test_set:
                continue
            path = os.path.join(root, w, f)
            if w in KEYWORDS:
                rows.append((path, w, split))
                keyword_count[split] += 1
            else:
                unknown_pool[split].append(path)
    if test_set:
        for path, label in test_files:
            rows.append((path, label, "test"))
            if label in KEYWORDS:
                keyword_count["test"] += 1
    unknown_count = {}
    silence_count = {}
    for split in SPLITS:
        if split == "test" and test_set:
            unknown_count[split] = sum(1 for _, l in test_files if l == UNKNOWN)
            silence_count[split] = sum(1 for _, l in test_files if l == SILENCE)
            continue
        pool = unknown_pool[split]
        rng.shuffle(pool)
        n = len(pool) if unknown_pct is None else min(len(pool), int(math.ceil(keyword_count[split] * unknown_pct / 100.0)))
        rows += [(p, UNKNOWN, split) for p in sorted(pool[:n])]
        unknown_count[split] = n
        silence_count[split] = int(math.ceil(keyword_count[split] * silence_pct / 100.0))
    for split in ("train", "validation"):
        if keyword_count[split] == 0:
            raise ScError("no keyword clip in the %s split" % split)

    # Backgrounds: read, check the parts are long enough.
    bg_dir = os.path.join(root, BACKGROUND)
    backgrounds = []
    for f in wav_files(bg_dir):
        data = read_background(os.path.join(bg_dir, f))
        name = os.path.splitext(f)[0].replace("_", "-")
        parts = {}
        for split, (a, b) in PARTS.items():
            lo, hi = int(a * len(data)), int(b * len(data))
            parts[split] = (lo, hi)
        backgrounds.append((name, f, data, parts))
    usable = {s: [b for b in backgrounds if b[3][s][1] - b[3][s][0] >= LENGTH] for s in SPLITS}
    for split in SPLITS:
        if silence_count[split] and not (split == "test" and test_set) and not usable[split]:
            raise ScError("no %s recording is long enough for 1 s windows in each split (it needs "
                          "at least %d s)" % (BACKGROUND, math.ceil(LENGTH / RATE / 0.1)))

    part = new_partial(out)
    os.makedirs(os.path.join(part, SILENCE))
    os.makedirs(os.path.join(part, BACKGROUND))
    print("==> %s: %d _silence_ windows from %d recordings" % (
        out, sum(silence_count[s] for s in SPLITS if not (s == "test" and test_set)), len(backgrounds)),
        flush=True)
    silence_log = []
    for split in SPLITS:
        if split == "test" and test_set:
            continue
        for k in range(silence_count[split]):
            name, f, data, parts = usable[split][rng.randrange(len(usable[split]))]
            lo, hi = parts[split]
            start = rng.randint(lo, hi - LENGTH)
            volume = rng.random()
            samples = [int(round(v * volume)) for v in data[start:start + LENGTH]]
            rel = "%s/%s-%s_nohash_%d.wav" % (SILENCE, name, split, k)
            write_wav16(os.path.join(part, rel), samples, RATE)
            rows.append((rel, SILENCE, split))
            silence_log.append("%s,%s,%d,%.6f" % (rel, f, start, volume))
    for name, f, data, parts in backgrounds:
        lo, hi = parts["train"]
        write_wav16(os.path.join(part, BACKGROUND, f), data[lo:hi], RATE)

    order = {s: i for i, s in enumerate(SPLITS)}
    rows.sort(key=lambda r: (order[r[2]], r[1], r[0]))
    write_text(os.path.join(part, "manifest.csv"),
               ["path,label,split"] + ["%s,%s,%s" % (csv_field(p), l, s) for p, l, s in rows])
    write_text(os.path.join(part, "silence.csv"), ["path,recording,start_sample,volume"] + silence_log)
    lic = os.path.join(root, "LICENSE")
    if os.path.isfile(lic):
        shutil.copyfile(lic, os.path.join(part, "LICENSE.speech_commands"))

    write_sums(part)
    summary = ["", "counts (train / validation / test):"]
    for label in LABELS:
        n = [sum(1 for r in rows if r[1] == label and r[2] == s) for s in SPLITS]
        summary.append("  %-10s %6d %6d %6d" % (label, n[0], n[1], n[2]))
    n = [sum(1 for r in rows if r[2] == s) for s in SPLITS]
    summary.append("  %-10s %6d %6d %6d" % ("all", n[0], n[1], n[2]))
    others = [w for w in words if w not in KEYWORDS]
    summary += ["", "_unknown_ words (%d): %s" % (len(others), " ".join(others)),
                "unknown clips available (train / validation / test): %d / %d / %d"
                % tuple(len(unknown_pool[s]) for s in SPLITS),
                "backgrounds: %s" % " ".join("%s (%.1f s)" % (b[1], len(b[2]) / RATE) for b in backgrounds)]
    write_text(os.path.join(part, "SOURCE.txt"), recipe + summary)

    swap_in(part, out)
    print("==> %d clips (train %d, validation %d, test %d) -> %s/manifest.csv"
          % (len(rows), n[0], n[1], n[2], out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ScError as e:
        print("speech_commands.py: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
