#!/usr/bin/env python3
"""Synthesize a keyword-spotting data set in the Speech Commands layout for qreg.

usage: kws_make.py --out DIR [--clips N] [--seed S] [--jobs J] [--force]
                   [--words "W1 W2 ..."] [--engines espeak-ng,flite,festival] [--telephone-test]
(normally run by datasets/kws.sh, which installs the Debian packages first)

Every clip is 1 s of 16 kHz mono 16-bit PCM WAV: one word spoken by a speech
synthesizer (espeak-ng with one of its English accents and voice variants, or
flite or Festival with one of their voices) at a random speed and pitch, through a random
channel (high-pass, low-pass, reverb), placed at a random offset inside the
1 s window, at a random level, mixed with a random 1 s excerpt of a real
background recording (Debian packages sonic-pi-samples, asterisk-moh-opsound-wav)
or of synthetic white/pink/brown noise (sox) at a random SNR. _silence_ clips
are background only.

OUTPUT (in DIR)
  yes/ no/ up/ down/ left/ right/ on/ off/ stop/ go/   the 10 keywords (or --words)
  _unknown_/     other words (bed, bird, ..., zero ... nine, ...)
  _silence_/     background only
      file names <voice>_nohash_<accent>[_<word>]_<n>.wav: as in Speech
      Commands, the part before _nohash_ names the speaker ("voice", e.g.
      esp-f2, cmu-slt); the splits keep every clip of a voice together.
  _background_noise_/   the 16 kHz mono background recordings the clips were
                 mixed with (not a class; as in Speech Commands)
  validation_list.txt, testing_list.txt   relative paths, one a line, sorted
  manifest.csv   path,label,split (train/validation/test), one row per clip
  clips.csv      every clip's generation parameters (for analysis)
  voices.csv     voice, engine, gender, split, espeak-ng variant, number of clips
  BACKGROUNDS.txt  where each background came from, and its licence
  LICENSE.*      Debian copyright files of the packages the sound came from
  README.txt     keywords, _unknown_ words, engines, voices and clips per split
  <class>/telephone/, testing_list_telephone.txt, manifest_telephone.csv
                 with --telephone-test: the test clips through a telephone channel
                 (300-3400 Hz, 8 kHz, back to 16 kHz) and a manifest testing on them
  SHA256SUMS     sha256 of every other file (check: cd DIR && sha256sum -c SHA256SUMS)
  SOURCE.txt     generator version, arguments, package versions, counts

Same arguments and same package versions -> the same bytes. All randomness
comes from random.Random seeded with strings derived from --seed (one stream
for the plan, one per clip), so the result does not depend on --jobs or on
scheduling; espeak-ng, flite, Festival and sox (with -R and no dither) are deterministic
for the same arguments. Standard library only.
"""

import argparse
import hashlib
import math
import os
import random
import re
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

from datafiles import (is_ours, le_array, new_partial, read_wav16, swap_in, up_to_date,
                       write_sums, write_text, write_wav16)

GENERATOR = "qreg datasets/kws_make.py 2"
RATE = 16000
LENGTH = RATE  # samples per clip: exactly 1 s

DEFAULT_KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
# The 25 non-keyword words of Speech Commands v2.
SC_OTHER_WORDS = (
    "backward", "bed", "bird", "cat", "dog", "eight", "five", "follow", "forward",
    "four", "happy", "house", "learn", "marvin", "nine", "one", "seven", "sheila",
    "six", "three", "tree", "two", "visual", "wow", "zero",
)
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
# The keywords and _unknown_ words of this run (--words): set by set_words().
KEYWORDS = DEFAULT_KEYWORDS
UNKNOWN_WORDS = SC_OTHER_WORDS
LABELS = KEYWORDS + (UNKNOWN, SILENCE)
WORD_RE = re.compile(r"^(?=.{1,24}$)[a-z]+(-[a-z]+)*$")
SPLITS = ("train", "validation", "test")

# espeak-ng English accents (voice names of `espeak-ng --voices=en` that need no mbrola).
ESPEAK_ACCENTS = (
    "en-gb", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
# espeak-ng voice variants (file names in espeak-ng-data/voices/!v, case-sensitive).
# Chosen to sound like people: the robotic and effect variants (Robosoft*,
# Demonic, UniRobot, announcer, Tweaky, anikaRobot, fast, ...) are left out.
ESPEAK_VARIANTS = (
    "f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "aunty", "belinda",
    "linda", "steph", "steph2", "steph3", "anika", "grandma", "whisperf",
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "adam", "Alex", "Andy",
    "benjamin", "caleb", "david", "ed", "edward", "Gene", "iven", "john", "klatt",
    "klatt2", "klatt3", "Lee", "max", "Michael", "Mike", "norbert", "paul",
    "quincy", "rob", "robert", "shelby", "travis", "victor", "zac", "croak",
    "grandpa", "whisper",
)
# flite and Festival voices -> (voice group = speaker, gender). The CMU voices of
# both engines come from the same recordings: kal and kal16 (flite; diphones at 8
# and 16 kHz) and kal_diphone (Festival) are one speaker, as are flite's slt and
# Festival's cmu_us_slt_arctic_hts; so a speaker's clips stay in one split whichever
# engine renders them. awb_time (a talking clock) is unused.
FLITE_VOICES = {
    "kal": ("cmu-kal", "M"),
    "kal16": ("cmu-kal", "M"),
    "awb": ("cmu-awb", "M"),
    "rms": ("cmu-rms", "M"),
    "slt": ("cmu-slt", "F"),
}
# Festival voice -> (voice group, gender, Debian package, speed by Duration_Stretch).
# The HTS voice ignores Duration_Stretch: its speed is changed by sox tempo instead.
FESTIVAL_VOICES = {
    "kal_diphone": ("cmu-kal", "M", "festvox-kallpc16k", True),
    "ked_diphone": ("cmu-ked", "M", "festvox-kdlpc16k", True),
    "cmu_us_slt_arctic_hts": ("cmu-slt", "F", "festvox-us-slt-hts", False),
}
ENGINES = ("espeak-ng", "flite", "festival")
ENGINE_SHARE = 0.2  # fraction of spoken clips by flite, and by Festival (their voices are fewer)
HELD_OUT = 0.1  # fraction of voices (per engine and gender) in validation, and in test

# Background recordings. sonic-pi-samples: the ambient and loop samples that the
# package's copyright file lists as CC0 (checked at run time).
SONIC_PI_SAMPLES = (
    "ambi_choir", "ambi_dark_woosh", "ambi_drone", "ambi_glass_hum",
    "ambi_glass_rub", "ambi_haunted_hum", "ambi_lunar_land", "ambi_piano",
    "ambi_soft_buzz", "ambi_swoosh", "loop_amen_full", "loop_breakbeat",
    "loop_compus", "loop_garzul", "loop_industrial", "loop_mika", "loop_safari",
    "loop_tabla",
)
MOH_START, MOH_SECONDS = 30, 60  # excerpt of each music-on-hold track
NOISE_SECONDS = 60
NOISES = ("white", "pink", "brown")
REAL_BACKGROUND_SHARE = 0.7  # else synthetic noise

# Ranges of the random parameters (uniform unless said otherwise).
ESPEAK_SPEED = (120, 220)  # words per minute (espeak-ng -s; default 175)
ESPEAK_PITCH = (15, 85)  # espeak-ng -p, 0..99 (default 50)
FLITE_STRETCH = (0.75, 1.35)  # flite duration_stretch, Festival Duration_Stretch
FLITE_CENTS = (-300, 300)  # sox pitch shift for flite and Festival voices
# --telephone-test: a telephone channel, band-pass 300-3400 Hz and 8 kHz sampling.
TELEPHONE_BAND = (300, 3400)
TELEPHONE_RATE = 8000
HIGHPASS = (0.3, 60, 300)  # probability, Hz range
LOWPASS = (0.3, 3000, 7000)
REVERB = (0.25, 10, 60, 20, 80)  # probability, reverberance %, room scale %
SNR_DB = (5, 30)  # speech (over the word) to background, dB
SPEECH_DBFS = (-32, -14)  # RMS of the word, dB full scale
SILENCE_DBFS = (-60, -20)  # RMS of a _silence_ clip
WORD_THRESHOLD = 0.003  # word extent: first/last sample above 0.3 % (-50 dB) of the peak
MAX_WORD = LENGTH - RATE // 50  # 0.98 s: faster re-synthesis above this
MIN_BG_RMS = 10 ** (-50 / 20)  # a background excerpt below -50 dBFS RMS is drawn again


class KwsError(Exception):
    pass


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    except FileNotFoundError:
        raise KwsError("%s not found" % cmd[0])
    except subprocess.CalledProcessError as e:
        raise KwsError("%s failed (exit %d): %s" % (" ".join(cmd), e.returncode,
                                                     e.stderr.decode(errors="replace").strip()))


def package_version(name):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.stdout.decode().strip() if r.returncode == 0 else None


def package_files(name):
    return run(["dpkg", "-L", name]).stdout.decode().splitlines()


# ---- discovery -------------------------------------------------------------------------
def espeak_voices():
    """-> list of (variant, gender) available, checked against espeak-ng's own lists."""
    accents = set()
    for line in run(["espeak-ng", "--voices=en"]).stdout.decode().splitlines()[1:]:
        f = line.split()
        if len(f) >= 5 and not f[4].startswith("mb/"):
            accents.add(f[1])
    missing = [a for a in ESPEAK_ACCENTS if a not in accents]
    if missing:
        raise KwsError("espeak-ng lacks the English voices %s" % " ".join(missing))
    genders = {}
    for line in run(["espeak-ng", "--voices=variant"]).stdout.decode().splitlines()[1:]:
        m = re.match(r"\s*\d+\s+variant\s+\S*/([MF-])\s+.*?\s!v/(\S+)\s*(\(|$)", line)
        if m:
            genders[m.group(2)] = m.group(1)
    missing = [v for v in ESPEAK_VARIANTS if v not in genders]
    if missing:
        # espeak-ng silently falls back to the plain voice for an unknown variant.
        raise KwsError("espeak-ng lacks the voice variants %s" % " ".join(missing))
    return [(v, "F" if genders[v] == "F" else "M") for v in ESPEAK_VARIANTS]


def flite_voices():
    out = run(["flite", "-lv"]).stdout.decode()
    have = set(out.split(":", 1)[-1].split())
    missing = [v for v in FLITE_VOICES if v not in have]
    if missing:
        raise KwsError("flite lacks the voices %s (flite -lv: %s)" % (" ".join(missing), out.strip()))
    return list(FLITE_VOICES)


def festival_voices():
    """Check that Festival speaks with every voice (it falls back to its default voice, or
    fails, for a missing one; the voice_* function is defined by the voice's package)."""
    for v in FESTIVAL_VOICES:
        r = subprocess.run(["festival", "--pipe"], input=("(voice_%s)\n(print current-voice)\n" % v).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0 or v not in r.stdout.decode(errors="replace"):
            raise KwsError("festival lacks the voice %s (Debian package %s): %s"
                           % (v, FESTIVAL_VOICES[v][2], (r.stdout + r.stderr).decode(errors="replace").strip()))
    return list(FESTIVAL_VOICES)


def set_words(words):
    """Use `words` (a list) as the keywords; _unknown_ draws from the other words of
    Speech Commands v2 (its 10 keywords and 25 others) that are not keywords."""
    global KEYWORDS, UNKNOWN_WORDS, LABELS
    for w in words:
        if not WORD_RE.match(w):
            raise KwsError("--words: '%s' is not a word of 1-24 lowercase letters a-z (hyphens inside)" % w)
    if len(set(words)) != len(words):
        raise KwsError("--words: a word is given twice")
    if not 1 <= len(words) <= 50:
        raise KwsError("--words: 1 to 50 keywords, got %d" % len(words))
    KEYWORDS = tuple(words)
    UNKNOWN_WORDS = tuple(w for w in DEFAULT_KEYWORDS + SC_OTHER_WORDS if w not in words)
    LABELS = KEYWORDS + (UNKNOWN, SILENCE)


def copyright_licences(path):
    """Map file pattern -> licence short name, from a DEP-5 (machine-readable) copyright file."""
    out, files, field = {}, [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line[:1] in (" ", "\t"):
                if field == "Files":
                    files += line.split()
                continue
            field, _, value = line.partition(":")
            if field == "Files":
                files = value.split()
            elif field == "License":
                for name in files:
                    out[name] = value.strip()
                files = []
    return out


def find_backgrounds():
    """-> list of (name, kind, source path, licence, package)."""
    found = []
    files = package_files("sonic-pi-samples")
    cr = [p for p in files if p.endswith("/usr/share/doc/sonic-pi-samples/copyright")]
    if not cr:
        raise KwsError("sonic-pi-samples has no copyright file")
    licences = copyright_licences(cr[0])
    for name in SONIC_PI_SAMPLES:
        path = [p for p in files if p.endswith("/" + name + ".flac")]
        if not path:
            raise KwsError("sonic-pi-samples lacks %s.flac" % name)
        lic = licences.get("etc/samples/%s.flac" % name)
        if lic != "CC0":
            raise KwsError("sonic-pi-samples: %s.flac is not listed as CC0 in %s (%s)" % (name, cr[0], lic))
        found.append(("sonic-pi_" + name, "sonic-pi", path[0], "CC0-1.0", "sonic-pi-samples"))
    moh = sorted(p for p in package_files("asterisk-moh-opsound-wav") if p.endswith(".wav"))
    if not moh:
        raise KwsError("asterisk-moh-opsound-wav has no .wav files")
    for path in moh:
        name = os.path.splitext(os.path.basename(path))[0]
        found.append(("moh_" + name, "moh", path, "CC-BY-SA-3.0", "asterisk-moh-opsound-wav"))
    for noise in NOISES:
        found.append((noise + "_noise", "noise", None, "generated (sox synth %snoise)" % noise, "sox"))
    return found


def prepare_background(entry, dest):
    """Write one background as 16 kHz mono 16-bit WAV with sox (repeatable, no dither)."""
    name, kind, src, _, _ = entry
    out = os.path.join(dest, name + ".wav")
    sox = ["sox", "-V1", "-R", "-D"]
    fmt = ["-b", "16", "-e", "signed-integer"]
    if kind == "noise":
        cmd = sox + ["-n", "-r", str(RATE), "-c", "1"] + fmt + [
            out, "synth", str(NOISE_SECONDS), kind_noise(name), "vol", "0.5"]
    elif kind == "moh":
        cmd = sox + [src] + fmt + [out, "remix", "-", "trim", str(MOH_START), str(MOH_SECONDS),
                                   "rate", "-h", str(RATE)]
    else:
        cmd = sox + [src] + fmt + [out, "remix", "-", "rate", "-h", str(RATE)]
    run(cmd)
    return out


def kind_noise(name):
    return name.split("_")[0] + "noise"


def read_clip(path):
    data = read_wav16(path, RATE)
    if data is None:
        raise KwsError("%s: not 16 kHz mono 16-bit" % path)
    return data


# ---- plan ------------------------------------------------------------------------------
def make_voices(seed, esp, flite, festival):
    """-> (speakers, groups): speakers = list of (voice group, engine, accent or flite/Festival
    voice, variant); groups = {group: {engine, gender, split}} split by voice: espeak-ng's
    variants stratified by gender, the CMU speakers (flite and Festival) as one stratum."""
    groups = {}
    for variant, gender in esp:
        groups["esp-" + variant.lower()] = {"engine": "espeak-ng", "gender": gender, "variant": variant}
    cmu = [(FLITE_VOICES[v][0], "flite", FLITE_VOICES[v][1]) for v in flite] + \
          [(FESTIVAL_VOICES[v][0], "festival", FESTIVAL_VOICES[v][1]) for v in festival]
    for g, engine, gender in cmu:
        d = groups.setdefault(g, {"engine": "", "gender": gender, "variant": ""})
        d["engine"] = "+".join(e for e in ENGINES if e in d["engine"].split("+") + [engine])
    rng = random.Random("kws-split/%d" % seed)
    strata = {}
    for name in sorted(groups):
        if groups[name]["engine"] == "espeak-ng":
            strata.setdefault(groups[name]["gender"], []).append(name)
    for key in sorted(strata):
        names = strata[key]
        rng.shuffle(names)
        n_out = max(1, round(HELD_OUT * len(names)))
        for i, name in enumerate(names):
            groups[name]["split"] = "test" if i < n_out else "validation" if i < 2 * n_out else "train"
    # The CMU speakers (4 with flite alone, 5 with Festival): one test, one validation.
    fl = sorted(g for g in groups if groups[g]["engine"] != "espeak-ng")
    rng.shuffle(fl)
    for i, name in enumerate(fl):
        groups[name]["split"] = "test" if i == 0 else "validation" if i == 1 else "train"
    speakers = []
    for variant, _ in esp:
        for accent in ESPEAK_ACCENTS:
            speakers.append(("esp-" + variant.lower(), "espeak-ng", accent, variant))
    for v in flite:
        speakers.append((FLITE_VOICES[v][0], "flite", v, v))
    for v in festival:
        speakers.append((FESTIVAL_VOICES[v][0], "festival", v, v))
    return speakers, groups


def split_sequence(rng, n):
    """n split names, HELD_OUT of them test and HELD_OUT validation (rounded, at least one
    each from n = 3 on), shuffled."""
    n_out = max(1, round(HELD_OUT * n)) if n >= 3 else 0
    seq = ["test"] * n_out + ["validation"] * n_out + ["train"] * (n - 2 * n_out)
    rng.shuffle(seq)
    return seq


def make_plan(seed, clips, speakers, groups, engines):
    """-> list of clip dicts: index, label, word, group, engine, accent, voice, split.

    Each class gets clips/12 clips (the remainder to the first classes), of which
    10 % go to validation and 10 % to test; a spoken clip then draws its engine
    (flite and Festival, if used, with probability ENGINE_SHARE each) and a speaker among
    that split's voices of that engine (another CMU engine's, then espeak-ng's, if it has none)."""
    rng = random.Random("kws-plan/%d" % seed)
    per_label = [clips // len(LABELS) + (1 if k < clips % len(LABELS) else 0) for k in range(len(LABELS))]
    pools = {}
    for sp in speakers:
        pools.setdefault((groups[sp[0]]["split"], sp[1]), []).append(sp)
    plan = []
    for label, n in zip(LABELS, per_label):
        for split in split_sequence(rng, n):
            if label == SILENCE:
                plan.append({"label": label, "word": "", "group": "", "engine": "", "accent": "",
                             "voice": "", "split": split})
                continue
            word = label if label != UNKNOWN else UNKNOWN_WORDS[rng.randrange(len(UNKNOWN_WORDS))]
            u = rng.random()
            engine = "espeak-ng"
            for k, e in enumerate(e for e in ENGINES[1:] if e in engines):
                if u < ENGINE_SHARE * (k + 1):
                    engine = e
                    break
            pool = pools.get((split, engine))
            if not pool and engine != "espeak-ng":
                pool = pools.get((split, "festival" if engine == "flite" else "flite"))
            pool = pool or pools[(split, "espeak-ng")]
            group, engine, accent, voice = pool[rng.randrange(len(pool))]
            plan.append({"label": label, "word": word, "group": group, "engine": engine,
                         "accent": accent, "voice": voice, "split": split})
    for i, c in enumerate(plan):
        c["index"] = i
    return plan


def name_clips(plan):
    """Paths of the spoken clips (a _silence_ clip is named by render(), after its
    background: <background>_nohash_<k>.wav, k its number within _silence_)."""
    counts = {}
    silence = 0
    for c in plan:
        if c["label"] == SILENCE:
            c["silence_k"] = silence
            silence += 1
            continue
        if c["label"] == UNKNOWN:
            stem = "%s_nohash_%s_%s" % (c["group"], c["accent"], c["word"])
        else:
            stem = "%s_nohash_%s" % (c["group"], c["accent"])
        key = (c["label"], stem)
        n = counts.get(key, 0)
        counts[key] = n + 1
        c["path"] = "%s/%s_%d.wav" % (c["label"], stem, n)


# ---- rendering (in worker processes) -----------------------------------------------------
_W = {}


def worker_init(bg_paths, bg_real, bg_noise, tmp_root, seed):
    _W["bg"] = {name: read_clip(path) for name, path in bg_paths}
    _W["real"] = bg_real
    _W["noise"] = bg_noise
    _W["tmp"] = os.path.join(tmp_root, "w%d" % os.getpid())
    _W["seed"] = seed
    os.makedirs(_W["tmp"], exist_ok=True)


def clip_rng(seed, index):
    return random.Random("kws-clip/%d/%d" % (seed, index))


def choose_background(rng):
    """Pick (name, start) of a 1 s excerpt with some energy; the pick depends on rng only."""
    for _ in range(50):
        names = _W["real"] if rng.random() < REAL_BACKGROUND_SHARE else _W["noise"]
        name = names[rng.randrange(len(names))]
        data = _W["bg"][name]
        start = rng.randrange(len(data))
        seg = excerpt(data, start)
        if rms(seg) >= MIN_BG_RMS:
            return name, start, seg
    raise KwsError("no background excerpt above %g RMS in 50 draws" % MIN_BG_RMS)


def excerpt(data, start):
    """1 s from start, wrapping around (the loops are loops; short files repeat)."""
    n = len(data)
    out = []
    while len(out) < LENGTH:
        take = min(LENGTH - len(out), n - start)
        out.extend(data[start:start + take])
        start = 0
    return [v / 32768.0 for v in out]


def rms(x):
    return math.sqrt(math.fsum(v * v for v in x) / len(x)) if x else 0.0


def synthesize(c, rng, params):
    """Speak c['word'] -> list of float samples at 16 kHz (word only, trimmed)."""
    tmp = os.path.join(_W["tmp"], "word.wav")
    effects = ["rate", "-h", str(RATE), "gain", "-6"]  # resample first: kal speaks at 8 kHz
    if c["engine"] == "espeak-ng":
        speed = rng.randint(*ESPEAK_SPEED)
        pitch = rng.randint(*ESPEAK_PITCH)
        params.update(speed=speed, pitch=pitch)
    else:
        stretch = round(rng.uniform(*FLITE_STRETCH), 3)
        cents = rng.randint(*FLITE_CENTS)
        params.update(speed=stretch, pitch=cents)
        # sox's pitch works by resampling: restore the rate before the filters.
        pitch_fx = ["pitch", str(cents), "rate", "-h", str(RATE)]
    hp = rng.randint(*HIGHPASS[1:]) if rng.random() < HIGHPASS[0] else 0
    lp = rng.randint(*LOWPASS[1:]) if rng.random() < LOWPASS[0] else 0
    rv = (rng.randint(*REVERB[1:3]), rng.randint(*REVERB[3:5])) if rng.random() < REVERB[0] else None
    if c["engine"] == "espeak-ng":
        pitch_fx = []
    if hp:
        effects += ["highpass", str(hp)]
    if lp:
        effects += ["lowpass", str(lp)]
    if rv:
        effects += ["reverb", str(rv[0]), "50", str(rv[1])]
    params.update(highpass=hp, lowpass=lp, reverb="%d/%d" % rv if rv else "")
    for attempt in range(4):
        tempo_fx = []
        if c["engine"] == "espeak-ng":
            run(["espeak-ng", "-v", "%s+%s" % (c["accent"], c["voice"]), "-s", str(params["speed"]),
                 "-p", str(params["pitch"]), "-w", tmp, c["word"]])
        elif c["engine"] == "flite":
            run(["flite", "-voice", c["voice"], "--setf", "duration_stretch=%s" % params["speed"],
                 "-t", c["word"], "-o", tmp])
        else:
            cmd = ["text2wave", "-eval", "(voice_%s)" % c["voice"]]
            if FESTIVAL_VOICES[c["voice"]][3]:
                cmd += ["-eval", "(Parameter.set 'Duration_Stretch %s)" % params["speed"]]
            else:
                tempo_fx = ["tempo", "-s", "%.4f" % (1.0 / params["speed"])]
            run(cmd + ["-o", tmp], input=c["word"].encode())
        raw = run(["sox", "-V1", "-R", "-D", tmp, "-t", "raw", "-e", "floating-point", "-b", "32",
                   "-c", "1", "-r", str(RATE), "-"] + effects[:5] + tempo_fx + pitch_fx + effects[5:]).stdout
        x = le_array("f", raw)
        peak = max(map(abs, x)) if x else 0.0
        if peak <= 0.0:
            raise KwsError("%s: %s produced no sound for %r" % (c["path"], c["engine"], c["word"]))
        thr = WORD_THRESHOLD * peak
        first = next(i for i, v in enumerate(x) if abs(v) > thr)
        last = len(x) - 1 - next(i for i, v in enumerate(reversed(x)) if abs(v) > thr)
        word = x[first:last + 1]
        if len(word) <= MAX_WORD:
            break
        # Too long for the window: say it faster (deterministic, recorded).
        if c["engine"] == "espeak-ng":
            params["speed"] = int(params["speed"] * 1.25)
        else:
            params["speed"] = round(params["speed"] * 0.8, 3)
    else:
        cut = (len(word) - MAX_WORD) // 2
        word = word[cut:cut + MAX_WORD]
    return list(word)


def render(c):
    seed = _W["seed"]
    rng = clip_rng(seed, c["index"])
    params = {"speed": "", "pitch": "", "highpass": "", "lowpass": "", "reverb": "",
              "word_ms": "", "offset_ms": "", "snr_db": ""}
    if c["label"] != SILENCE:
        word = synthesize(c, rng, params)
        offset = rng.randint(0, LENGTH - len(word))
        snr = round(rng.uniform(*SNR_DB), 2)
        level = round(rng.uniform(*SPEECH_DBFS), 2)
    else:
        word, offset, snr = [], 0, None
        level = round(rng.uniform(*SILENCE_DBFS), 2)
    bg_name, bg_start, seg = choose_background(rng)
    if c["label"] == SILENCE:
        c["path"] = "%s/%s_nohash_%d.wav" % (SILENCE, bg_name.replace("_", "-"), c["silence_k"])
    target = 10.0 ** (level / 20.0)
    if word:
        ws = target / rms(word)
        bs = target / (rms(seg) * 10.0 ** (snr / 20.0))
        mix = [v * bs for v in seg]
        for i, v in enumerate(word):
            mix[offset + i] += v * ws
        params.update(word_ms=round(1000.0 * len(word) / RATE, 1),
                      offset_ms=round(1000.0 * offset / RATE, 1), snr_db=snr)
    else:
        bs = target / rms(seg)
        mix = [v * bs for v in seg]
    peak = max(map(abs, mix))
    scale = 32767.0
    if peak * scale > 32000.0:  # keep 0.2 dB below full scale: no clipping
        scale = 32000.0 / peak
        level = round(level + 20.0 * math.log10(scale / 32767.0), 2)
    samples = [int(round(v * scale)) for v in mix]
    write_wav16(os.path.join(_W["out"], c["path"]), samples, RATE)
    params.update(level_dbfs=level, background=bg_name, bg_offset=bg_start,
                  path=c["path"])
    return c["index"], params


def render_chunk(args):
    out, chunk = args
    _W["out"] = out
    return [render(c) for c in chunk]


# ---- main ------------------------------------------------------------------------------
def csv_field(v):
    s = str(v)
    return '"%s"' % s.replace('"', '""') if any(ch in s for ch in ',"\n') else s


def recipe_lines(args, versions):
    lines = ["generator: %s" % GENERATOR, "clips: %d" % args.clips, "seed: %d" % args.seed,
             "words: %s" % " ".join(KEYWORDS), "engines: %s" % " ".join(args.engines),
             "telephone_test: %s" % ("yes" if args.telephone_test else "no")]
    for pkg in sorted(versions):
        lines.append("package: %s %s" % (pkg, versions[pkg]))
    lines.append("python: %d.%d" % sys.version_info[:2])
    return lines


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--clips", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    ap.add_argument("--words", default=" ".join(DEFAULT_KEYWORDS),
                    help="the keywords, separated by spaces or commas")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="speech synthesizers to use, comma-separated: espeak-ng (always), flite, festival")
    ap.add_argument("--telephone-test", action="store_true",
                    help="also write telephone-band (300-3400 Hz, 8 kHz) copies of the test clips")
    args = ap.parse_args(argv)
    set_words(args.words.replace(",", " ").split())
    engines = [e for e in args.engines.replace(" ", ",").split(",") if e]
    bad = [e for e in engines if e not in ENGINES]
    if bad or "espeak-ng" not in engines or len(set(engines)) != len(engines):
        raise KwsError("--engines: a comma-separated list of %s, with espeak-ng; got '%s'"
                       % (", ".join(ENGINES), args.engines))
    args.engines = [e for e in ENGINES if e in engines]
    if args.clips < len(LABELS):
        raise KwsError("--clips must be at least %d (one per class)" % len(LABELS))
    if args.jobs < 1:
        raise KwsError("--jobs must be at least 1")
    out = os.path.abspath(args.out)

    versions = {}
    pkgs = ["espeak-ng", "espeak-ng-data", "flite", "libflite1", "sox", "libsox3",
            "sonic-pi-samples", "asterisk-moh-opsound-wav"]
    if "festival" in args.engines:
        pkgs += ["festival"] + sorted(set(v[2] for v in FESTIVAL_VOICES.values()))
    for pkg in pkgs:
        v = package_version(pkg)
        if v is None:
            raise KwsError("Debian package %s is not installed (datasets/kws.sh installs it)" % pkg)
        versions[pkg] = v
    recipe = recipe_lines(args, versions)
    if not args.force and up_to_date(out, recipe):
        print("==> %s is up to date (same arguments and package versions; --force regenerates)" % out)
        return 0
    if os.path.exists(out) and os.listdir(out) and not is_ours(out, "qreg datasets/kws_make.py"):
        raise KwsError("%s exists, is not empty and was not made by kws.sh: not overwriting it" % out)

    esp = espeak_voices()
    fl = flite_voices() if "flite" in args.engines else []
    fe = festival_voices() if "festival" in args.engines else []
    backgrounds = find_backgrounds()

    part = new_partial(out)
    os.makedirs(part)
    bg_dir = os.path.join(part, "_background_noise_")
    os.makedirs(bg_dir)
    print("==> backgrounds: %d recordings -> _background_noise_/" % len(backgrounds), flush=True)
    bg_paths = [(b[0], prepare_background(b, bg_dir)) for b in backgrounds]
    bg_real = [b[0] for b in backgrounds if b[1] != "noise"]
    bg_noise = [b[0] for b in backgrounds if b[1] == "noise"]

    speakers, groups = make_voices(args.seed, esp, fl, fe)
    plan = make_plan(args.seed, args.clips, speakers, groups, args.engines)
    tmp_root = os.path.join(part, ".tmp")
    name_clips(plan)
    for label in LABELS:
        os.makedirs(os.path.join(part, label))

    print("==> synthesizing %d clips (seed %d, %d jobs)" % (len(plan), args.seed, args.jobs), flush=True)
    chunk = 25
    chunks = [(part, plan[i:i + chunk]) for i in range(0, len(plan), chunk)]
    results = {}
    done = 0
    if args.jobs == 1:
        worker_init(bg_paths, bg_real, bg_noise, tmp_root, args.seed)
        it = map(render_chunk, chunks)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=args.jobs, initializer=worker_init,
                                   initargs=(bg_paths, bg_real, bg_noise, tmp_root, args.seed))
        it = pool.map(render_chunk, chunks)
    try:
        for res in it:
            for index, params in res:
                results[index] = params
                plan[index]["path"] = params.pop("path")
            done += len(res)
            if done % 1000 < chunk or done == len(plan):
                print("    %d/%d" % (done, len(plan)), flush=True)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    shutil.rmtree(tmp_root)

    # Lists, manifest, metadata.
    val = sorted(c["path"] for c in plan if c["split"] == "validation")
    test = sorted(c["path"] for c in plan if c["split"] == "test")
    write_text(os.path.join(part, "validation_list.txt"), val)
    write_text(os.path.join(part, "testing_list.txt"), test)
    by_path = sorted(plan, key=lambda c: c["path"])
    write_text(os.path.join(part, "manifest.csv"),
               ["path,label,split"] + ["%s,%s,%s" % (c["path"], c["label"], c["split"]) for c in by_path])
    cols = ["path", "label", "word", "split", "voice", "engine", "accent", "speed", "pitch",
            "highpass", "lowpass", "reverb", "word_ms", "offset_ms", "level_dbfs", "background",
            "bg_offset", "snr_db"]
    rows = [",".join(cols)]
    for c in by_path:
        p = results[c["index"]]
        rec = {"path": c["path"], "label": c["label"], "word": c["word"], "split": c["split"],
               "voice": c["group"], "engine": c["engine"],
               "accent": c["accent"] if c["engine"] != "flite" else c["voice"]}
        rec.update(p)
        rows.append(",".join(csv_field(rec[k]) for k in cols))
    write_text(os.path.join(part, "clips.csv"), rows)
    vrows = ["voice,engine,gender,split,espeak_variant,clips"]
    used = {}
    for c in plan:
        if c["group"]:
            used[c["group"]] = used.get(c["group"], 0) + 1
    for g in sorted(groups):
        d = groups[g]
        vrows.append("%s,%s,%s,%s,%s,%d" % (g, d["engine"], d["gender"], d["split"], d["variant"], used.get(g, 0)))
    write_text(os.path.join(part, "voices.csv"), vrows)

    # Licences: the Debian copyright files of the packages the sound came from.
    lic = [("espeak-ng", "LICENSE.espeak-ng"), ("flite", "LICENSE.flite"),
           ("sonic-pi-samples", "LICENSE.sonic-pi-samples"),
           ("asterisk-moh-opsound-wav", "LICENSE.asterisk-moh-opsound-wav")]
    if "festival" in args.engines:
        lic += [("festival", "LICENSE.festival")] + [
            (pkg, "LICENSE." + pkg) for pkg in sorted(set(v[2] for v in FESTIVAL_VOICES.values()))]
    for pkg, name in lic:
        shutil.copyfile("/usr/share/doc/%s/copyright" % pkg, os.path.join(part, name))
    write_text(os.path.join(part, "README.txt"), describe(args, plan, groups))
    # Not in _background_noise_/ itself: a noise folder should hold only audio.
    write_text(os.path.join(part, "BACKGROUNDS.txt"), background_readme(backgrounds))

    if args.telephone_test:
        telephone_copies(part, plan, args.jobs)

    # SHA256SUMS of everything else, then SOURCE.txt.
    names = write_sums(part)
    write_text(os.path.join(part, "SOURCE.txt"),
               recipe + [""] + summary(plan, groups, backgrounds, part))

    # Swap in: the old output (ours) goes only once the new one is complete.
    swap_in(part, out)
    total = sum(os.path.getsize(os.path.join(out, n)) for n in names)
    print("==> %d clips, %d files, %.1f MB in %s" % (len(plan), len(names) + 2, total / 1e6, out))
    return 0


def describe(args, plan, groups):
    """README.txt: what the set is (the words above all), for whoever finds the folder."""
    n = {s: sum(1 for c in plan if c["split"] == s) for s in SPLITS}
    voices = {s: sum(1 for g in groups if groups[g]["split"] == s) for s in SPLITS}
    return [
        "Synthesized keyword-spotting data set in the Google Speech Commands layout,",
        "made by qreg's datasets/kws.sh (%s). Text-to-speech voices, not people:" % GENERATOR,
        "see datasets/README.md in qreg for how it is made and what it is good for.",
        "",
        "keywords (%d, one folder each): %s" % (len(KEYWORDS), " ".join(KEYWORDS)),
        "_unknown_ (one folder): %d other words: %s" % (len(UNKNOWN_WORDS), " ".join(UNKNOWN_WORDS)),
        "_silence_ (one folder): background only",
        "engines: %s" % " ".join(args.engines),
        "voices: %d (train %d, validation %d, test %d; none in two splits): voices.csv"
        % (len(groups), voices["train"], voices["validation"], voices["test"]),
        "clips: %d, 1 s of 16 kHz mono 16-bit PCM each (train %d, validation %d, test %d)"
        % (len(plan), n["train"], n["validation"], n["test"]),
        "splits: validation_list.txt, testing_list.txt (every other clip is training), manifest.csv",
        "telephone-band copies of the test clips (300-3400 Hz, 8 kHz): %s" % (
            "<class>/telephone/, testing_list_telephone.txt, manifest_telephone.csv"
            if args.telephone_test else "no (--telephone-test)"),
        "seed: %d" % args.seed,
    ]


def telephone_one(args):
    """Band-limit one clip as a telephone channel: sinc band-pass 300-3400 Hz, down to 8 kHz
    and back to 16 kHz (so a 16 kHz model reads it), rounded once to 16 bits."""
    src, dst = args
    raw = run(["sox", "-V1", "-R", "-D", src, "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1",
               "-", "sinc", "%d-%d" % TELEPHONE_BAND, "rate", "-h", str(TELEPHONE_RATE),
               "rate", "-h", str(RATE)]).stdout
    x = le_array("f", raw)
    x = list(x[:LENGTH]) + [0.0] * max(0, LENGTH - len(x))
    write_wav16(dst, [max(-32768, min(32767, int(round(v * 32768.0)))) for v in x], RATE)
    return dst


def telephone_copies(part, plan, jobs):
    """<class>/telephone/<clip> for every test clip (a subfolder: qreg's loader does not read
    it as part of the class), testing_list_telephone.txt and manifest_telephone.csv (the
    training and validation clips of manifest.csv, and the copies as the test split)."""
    test = sorted(c["path"] for c in plan if c["split"] == "test")
    pairs = []
    for path in test:
        label, name = path.split("/", 1)
        os.makedirs(os.path.join(part, label, "telephone"), exist_ok=True)
        pairs.append((os.path.join(part, path), os.path.join(part, label, "telephone", name)))
    print("==> telephone-band copies of the %d test clips" % len(pairs), flush=True)
    if jobs == 1:
        list(map(telephone_one, pairs))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(telephone_one, pairs, chunksize=25))
    tel = ["%s/telephone/%s" % tuple(p.split("/", 1)) for p in test]
    write_text(os.path.join(part, "testing_list_telephone.txt"), tel)
    by_path = sorted(plan, key=lambda c: c["path"])
    rows = ["path,label,split"] + ["%s,%s,%s" % (c["path"], c["label"], c["split"])
                                   for c in by_path if c["split"] != "test"]
    rows += ["%s,%s,test" % (t, t.split("/")[0]) for t in tel]
    write_text(os.path.join(part, "manifest_telephone.csv"), rows)


def background_readme(backgrounds):
    lines = [
        "_background_noise_/: the recordings the clips were mixed with, as 16 kHz mono",
        "16-bit WAV (converted with sox: channels averaged, resampled with 'rate -h',",
        "no dither). Not a class. Licences: LICENSE.* and the table below.",
        "",
    ]
    for name, kind, src, lic, pkg in backgrounds:
        if kind == "moh":
            how = "%d s from %d s of %s" % (MOH_SECONDS, MOH_START, src)
        elif kind == "noise":
            how = "sox -R -n synth %d %s vol 0.5" % (NOISE_SECONDS, kind_noise(name))
        else:
            how = src
        lines.append("%s.wav  %s  [%s; Debian package %s]" % (name, how, lic, pkg))
    return lines


def summary(plan, groups, backgrounds, part):
    lines = ["counts (train / validation / test):"]
    for label in LABELS:
        n = [sum(1 for c in plan if c["label"] == label and c["split"] == s) for s in SPLITS]
        lines.append("  %-10s %5d %5d %5d" % (label, n[0], n[1], n[2]))
    n = [sum(1 for c in plan if c["split"] == s) for s in SPLITS]
    lines.append("  %-10s %5d %5d %5d" % ("all", n[0], n[1], n[2]))
    lines.append("")
    for s in SPLITS:
        vs = sorted(g for g in groups if groups[g]["split"] == s)
        lines.append("%s voices (%d): %s" % (s, len(vs), " ".join(vs)))
    lines.append("")
    lines.append("espeak-ng accents: %s" % " ".join(ESPEAK_ACCENTS))
    lines.append("backgrounds: %s" % " ".join(b[0] for b in backgrounds))
    with open(os.path.join(part, "SHA256SUMS"), "rb") as f:
        lines.append("sha256 of SHA256SUMS: %s" % hashlib.sha256(f.read()).hexdigest())
    return lines


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KwsError as e:
        print("kws_make.py: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
