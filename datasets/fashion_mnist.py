#!/usr/bin/env python3
"""Convert Fashion-MNIST's IDX files (Debian package dataset-fashion-mnist) for qreg.

usage: fashion_mnist.py --src DIR --out DIR [--format csv|idx]
                        [--package NAME --version V]

Reads from SRC the four gzip-compressed IDX files

  train-images-idx3-ubyte.gz  magic 0x00000803 (2051), 60000 x 28 x 28 uint8
  train-labels-idx1-ubyte.gz  magic 0x00000801 (2049), 60000 uint8 (0..9)
  t10k-images-idx3-ubyte.gz   2051, 10000 x 28 x 28
  t10k-labels-idx1-ubyte.gz   2049, 10000

checks every magic number, dimension, the exact byte size and the label range
(any mismatch is an error naming the file), and writes into OUT:

  --format csv (default)
    train.csv, test.csv   header p0,p1,...,p783,label; one row per image, the
                          784 pixels in row-major order (p = 28*row + col) as
                          integers 0..255, then the class id 0..9. Read as
                          28 steps of 28 features with "sequence": [28, 28].
  --format idx
    train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    t10k-labels-idx1-ubyte   the verified IDX files, decompressed.
  both
    classes.txt           the 10 class names, line k = class k
    LICENSE.fashion-mnist the package's Debian copyright file (MIT/Expat)
    SOURCE.txt            package, version, sha256 of the inputs, counts per
                          class, sha256 of every output

Deterministic: no timestamps, "\\n" line ends, fixed order. A file whose
content would not change is not rewritten. Standard library only.
"""

import argparse
import gzip
import hashlib
import os
import struct
import sys

from datafiles import sha256_file

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# split -> (images file, labels file, count)
SPLITS = (
    ("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    ("test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
)
ROWS = COLS = 28
PIXELS = ROWS * COLS
MAGIC_IMAGES = 0x00000803  # unsigned byte, 3 dimensions
MAGIC_LABELS = 0x00000801  # unsigned byte, 1 dimension


class IdxError(Exception):
    pass


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def read_gz(path):
    if not os.path.isfile(path):
        raise IdxError("%s: missing" % path)
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:
        raise IdxError("%s: not a valid gzip file (%s)" % (path, e))


def check_images(path, data, count):
    if len(data) < 16:
        raise IdxError("%s: %d bytes, too short for an IDX3 header" % (path, len(data)))
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != MAGIC_IMAGES:
        raise IdxError("%s: magic number 0x%08x, expected 0x%08x (IDX3 unsigned byte)"
                       % (path, magic, MAGIC_IMAGES))
    if (n, rows, cols) != (count, ROWS, COLS):
        raise IdxError("%s: header says %d x %d x %d, expected %d x %d x %d"
                       % (path, n, rows, cols, count, ROWS, COLS))
    want = 16 + count * PIXELS
    if len(data) != want:
        raise IdxError("%s: %d bytes after decompression, expected %d" % (path, len(data), want))


def check_labels(path, data, count):
    if len(data) < 8:
        raise IdxError("%s: %d bytes, too short for an IDX1 header" % (path, len(data)))
    magic, n = struct.unpack(">II", data[:8])
    if magic != MAGIC_LABELS:
        raise IdxError("%s: magic number 0x%08x, expected 0x%08x (IDX1 unsigned byte)"
                       % (path, magic, MAGIC_LABELS))
    if n != count:
        raise IdxError("%s: header says %d labels, expected %d" % (path, n, count))
    if len(data) != 8 + count:
        raise IdxError("%s: %d bytes after decompression, expected %d" % (path, len(data), 8 + count))
    top = max(data[8:])
    if top >= len(CLASSES):
        raise IdxError("%s: label %d out of range 0..%d" % (path, top, len(CLASSES) - 1))


def write_if_changed(path, data):
    """Write bytes atomically, unless the file already holds exactly them."""
    if os.path.isfile(path) and os.path.getsize(path) == len(data):
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def csv_bytes(images, labels, count):
    text = [str(v) for v in range(256)]
    lines = [",".join(["p%d" % i for i in range(PIXELS)] + ["label"])]
    for k in range(count):
        off = 16 + k * PIXELS
        row = [text[v] for v in images[off:off + PIXELS]]
        row.append(text[labels[8 + k]])
        lines.append(",".join(row))
    lines.append("")
    return "\n".join(lines).encode("ascii")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="directory with the *-ubyte.gz files")
    ap.add_argument("--out", required=True)
    ap.add_argument("--format", choices=("csv", "idx"), default="csv")
    ap.add_argument("--package", default="dataset-fashion-mnist")
    ap.add_argument("--version", default="unknown")
    ap.add_argument("--copyright", default=None, help="the package's copyright file")
    args = ap.parse_args(argv)

    source = [
        "Fashion-MNIST (Zalando Research, Xiao, Rasul & Vollgraf 2017), MIT licence",
        "prepared by qreg datasets/fashion_mnist.sh",
        "package: %s %s" % (args.package, args.version),
        "format: %s" % args.format,
        "",
        "inputs (sha256 of the .gz files in %s):" % args.src,
    ]
    # Read and check all four files before writing anything.
    loaded = []
    for split, img_name, lab_name, count in SPLITS:
        img_path = os.path.join(args.src, img_name + ".gz")
        lab_path = os.path.join(args.src, lab_name + ".gz")
        images = read_gz(img_path)
        labels = read_gz(lab_path)
        check_images(img_path, images, count)
        check_labels(lab_path, labels, count)
        loaded.append((split, img_name, lab_name, count, img_path, lab_path, images, labels))
        print("  %s: %d images and labels checked" % (split, count), flush=True)

    os.makedirs(args.out, exist_ok=True)
    outputs = []
    for split, img_name, lab_name, count, img_path, lab_path, images, labels in loaded:
        for p in (img_path, lab_path):
            source.append("  %s  %s" % (sha256_file(p), os.path.basename(p)))
        per_class = [0] * len(CLASSES)
        for v in labels[8:]:
            per_class[v] += 1
        source.append("  %s: %d images, per class %s" % (split, count, " ".join(map(str, per_class))))
        if args.format == "csv":
            name = split + ".csv"
            changed = write_if_changed(os.path.join(args.out, name), csv_bytes(images, labels, count))
            outputs.append((name, changed))
        else:
            for name, data in ((img_name, images), (lab_name, labels)):
                changed = write_if_changed(os.path.join(args.out, name), data)
                outputs.append((name, changed))

    changed = write_if_changed(os.path.join(args.out, "classes.txt"),
                               ("\n".join(CLASSES) + "\n").encode("ascii"))
    outputs.append(("classes.txt", changed))
    if args.copyright:
        with open(args.copyright, "rb") as f:
            changed = write_if_changed(os.path.join(args.out, "LICENSE.fashion-mnist"), f.read())
        outputs.append(("LICENSE.fashion-mnist", changed))

    source += ["", "outputs (sha256):"]
    for name, changed in outputs:
        path = os.path.join(args.out, name)
        source.append("  %s  %s  %d bytes" % (sha256_file(path), name, os.path.getsize(path)))
        print("  %s %s" % ("wrote    " if changed else "unchanged", name))
    source.append("")
    write_if_changed(os.path.join(args.out, "SOURCE.txt"), "\n".join(source).encode("ascii"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except IdxError as e:
        print("fashion_mnist.py: %s" % e, file=sys.stderr)
        sys.exit(1)
