"""Files of a generated audio data set, shared by datasets/kws_make.py and
datasets/speech_commands.py (both run as scripts from datasets/, so `import datafiles` finds
this file): 16-bit mono WAV clips, little-endian raw samples, text files, and the output folder
made as <out>.partial, listed in SHA256SUMS and swapped in once complete; SOURCE.txt's first
lines (the recipe) and SHA256SUMS tell whether an existing output is up to date.
"""

import array
import hashlib
import os
import shutil
import sys
import wave


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_text(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def le_array(typecode, raw):
    """-> array(typecode) of little-endian samples (bytes from a WAV file or sox -L)."""
    data = array.array(typecode, raw)
    if sys.byteorder == "big":
        data.byteswap()
    return data


def read_wav16(path, rate):
    """-> array('h') of a mono 16-bit PCM WAV file at `rate` Hz, or None if the file has another
    format (wave.Error and EOFError, for a file that is no WAV, go to the caller)."""
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != rate \
                or w.getcomptype() != "NONE":
            return None
        return le_array("h", w.readframes(w.getnframes()))


def write_wav16(path, samples, rate):
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def is_ours(out, generator):
    """True if out/SOURCE.txt starts with "generator: <generator>" (the script's name)."""
    src = os.path.join(out, "SOURCE.txt")
    if not os.path.isfile(src):
        return False
    with open(src, encoding="utf-8", errors="replace") as f:
        return f.readline().startswith("generator: %s" % generator)


def up_to_date(out, recipe):
    """True if out/SOURCE.txt begins with the lines `recipe` and every file of out/SHA256SUMS
    has its sum."""
    src = os.path.join(out, "SOURCE.txt")
    sums = os.path.join(out, "SHA256SUMS")
    if not (os.path.isfile(src) and os.path.isfile(sums)):
        return False
    with open(src, encoding="utf-8") as f:
        if f.read().splitlines()[:len(recipe)] != recipe:
            return False
    with open(sums, encoding="utf-8") as f:
        for line in f:
            digest, name = line.rstrip("\n").split("  ", 1)
            path = os.path.join(out, name)
            if not os.path.isfile(path) or sha256_file(path) != digest:
                return False
    return True


def new_partial(out):
    """-> the folder the output is made in, out + ".partial", an old one removed."""
    part = out + ".partial"
    if os.path.exists(part):
        shutil.rmtree(part)
    return part


def write_sums(part):
    """Write part/SHA256SUMS of every file below part (not in folders whose names start with a
    dot) but SHA256SUMS and SOURCE.txt, in sorted order; -> their names."""
    names = []
    for r, dirs, fs in os.walk(part):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in fs:
            names.append(os.path.relpath(os.path.join(r, f), part).replace(os.sep, "/"))
    names = sorted(n for n in names if n not in ("SHA256SUMS", "SOURCE.txt"))
    write_text(os.path.join(part, "SHA256SUMS"),
               ["%s  %s" % (sha256_file(os.path.join(part, n)), n) for n in names])
    return names


def swap_in(part, out):
    """Put the finished part in out's place; an old out goes only once part is in place."""
    if os.path.exists(out):
        old = out + ".old"
        if os.path.exists(old):
            shutil.rmtree(old)
        os.rename(out, old)
        os.rename(part, out)
        shutil.rmtree(old)
    else:
        os.rename(part, out)
