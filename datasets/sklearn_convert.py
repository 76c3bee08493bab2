#!/usr/bin/env python3
"""Convert scikit-learn's bundled toy data sets to plain CSV files for qreg.

Reads the files of an extracted python3-sklearn package (see sklearn.sh) and
writes, into OUT:

  iris.csv, wine.csv, breast_cancer.csv, digits.csv
      one header row (feature names, then ``label``), then one row per sample;
      the label is the integer class id and is always the last column.
  LICENSE.sklearn
      the BSD-3-Clause text and copyright line that cover these files, taken
      from the package's Debian copyright file.
  SOURCE.txt
      package name and version, sha256 of the .deb, per-file shapes, class
      balance and sha256 of every output.

sklearn's iris/wine/breast_cancer files start with an odd first line,
``n_samples,n_features,class_name_0,class_name_1,...``; it is parsed and
checked against the data (row count, field count, label range).  digits.csv.gz
has no such line: 64 pixel values (0..16, an 8x8 image in row-major order)
then the label.  Values are copied as text, byte for byte, never re-formatted,
so the output is exact and deterministic: no timestamps, fixed ``\\n`` line
ends, stable order.

Standard library only.
"""

import argparse
import ast
import gzip
import hashlib
import io
import os
import re
import sys

# name written -> (file in sklearn/datasets/data, loader in _base.py)
DATASETS = (
    ("iris", "iris.csv", "load_iris"),
    ("wine", "wine_data.csv", "load_wine"),
    ("breast_cancer", "breast_cancer.csv", "load_breast_cancer"),
    ("digits", "digits.csv.gz", "load_digits"),
)

NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class ConvertError(Exception):
    pass


def identifier(name):
    """'sepal length (cm)' -> 'sepal_length_cm'; 'od280/od315_of_x' -> 'od280_od315_of_x'."""
    out = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    if not out:
        raise ConvertError("empty feature name from %r" % name)
    return out


def literal_strings(node):
    """Return the list of string constants of a list literal, or of np.array([...])."""
    if isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    if isinstance(node, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return [e.value for e in node.elts]
    return None


def feature_names_from_base(base_py):
    """Map loader name -> list of feature names, read from sklearn's _base.py.

    Only literal lists are taken (load_digits builds its names with a
    comprehension; digits gets pixel_<row>_<col> below, the same names).
    """
    with open(base_py, "r", encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=base_py)
    names = {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "feature_names"
            ):
                found = literal_strings(node.value)
                if found is not None:
                    names[fn.name] = found
    return names


def check_number(tok, where):
    if not NUMBER.match(tok):
        raise ConvertError("%s: not a number: %r" % (where, tok))


def read_rows(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            raw = f.read()
    else:
        with open(path, "rb") as f:
            raw = f.read()
    text = raw.decode("ascii")
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and lines[-1].strip() == "":
        lines.pop()
    return [[t.strip() for t in line.split(",")] for line in lines]


def convert(name, path, features, with_header_line):
    """Return (csv text, shape, class counts, class names)."""
    rows = read_rows(path)
    if with_header_line:
        head, rows = rows[0], rows[1:]
        if len(head) < 3:
            raise ConvertError("%s: first line too short: %r" % (path, head))
        try:
            n_samples, n_features = int(head[0]), int(head[1])
        except ValueError:
            raise ConvertError("%s: bad first line %r" % (path, head)) from None
        class_names = head[2:]
    else:
        n_samples = len(rows)
        n_features = len(rows[0]) - 1 if rows else 0
        class_names = None
    if len(rows) != n_samples:
        raise ConvertError("%s: %d rows, header says %d" % (path, len(rows), n_samples))
    if features is None:
        features = ["f%d" % i for i in range(n_features)]
        print("warning: %s: feature names not found, using f0..f%d"
              % (name, n_features - 1), file=sys.stderr)
    if len(features) != n_features:
        raise ConvertError("%s: %d feature names for %d features"
                           % (path, len(features), n_features))
    cols = [identifier(f) for f in features] + ["label"]
    if len(set(cols)) != len(cols):
        raise ConvertError("%s: duplicate column names %r" % (path, cols))
    out = io.StringIO(newline="")
    out.write(",".join(cols) + "\n")
    counts = {}
    for i, row in enumerate(rows):
        where = "%s:%d" % (os.path.basename(path), i + (2 if with_header_line else 1))
        if len(row) != n_features + 1:
            raise ConvertError("%s: %d fields, want %d" % (where, len(row), n_features + 1))
        for tok in row[:-1]:
            check_number(tok, where)
        # labels may be written as "0" or "0.0" (digits); store the integer
        try:
            lab_f = float(row[-1])
        except ValueError:
            raise ConvertError("%s: bad label %r" % (where, row[-1])) from None
        lab = int(lab_f)
        if lab != lab_f or lab < 0:
            raise ConvertError("%s: bad label %r" % (where, row[-1]))
        if class_names is not None and lab >= len(class_names):
            raise ConvertError("%s: label %d out of range" % (where, lab))
        counts[lab] = counts.get(lab, 0) + 1
        out.write(",".join(row[:-1] + [str(lab)]) + "\n")
    if class_names is None:
        class_names = [str(k) for k in range(max(counts) + 1)]
    return out.getvalue(), (n_samples, n_features), counts, class_names


def license_text(copyright_path):
    """Extract the 'Files: *' copyright line and the BSD-3-Clause text (DEP-5)."""
    with open(copyright_path, "r", encoding="utf-8") as f:
        paras = [p for p in re.split(r"\n\s*\n", f.read()) if p.strip()]
    holder = None
    body = None
    for p in paras:
        if re.match(r"^Files:\s*\*\s*$", p.split("\n")[0]):
            m = re.search(r"^Copyright:\s*(.+)$", p, re.M)
            lic = re.search(r"^License:\s*(\S+)", p, re.M)
            if m:
                holder = m.group(1).strip()
            if lic and lic.group(1) != "BSD-3-Clause":
                raise ConvertError("Files: * is %s, not BSD-3-Clause" % lic.group(1))
        lines = p.split("\n")
        if lines[0].strip() == "License: BSD-3-Clause" and len(lines) > 1:
            text = []
            for line in lines[1:]:
                line = line[1:] if line.startswith(" ") else line
                text.append("" if line.strip() == "." else line.rstrip())
            body = "\n".join(text)
    if holder is None or body is None:
        raise ConvertError("%s: no 'Files: *' copyright or BSD-3-Clause text" % copyright_path)
    return ("scikit-learn data files, as shipped in Debian's python3-sklearn package.\n"
            "License: BSD-3-Clause (text below, from the package's\n"
            "/usr/share/doc/python3-sklearn/copyright).\n\n"
            "Copyright (c) %s\n\n%s\n" % (holder, body))


def write_if_changed(path, text):
    data = text.encode("ascii")
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return data
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True,
                    help="extracted package tree (the directory given to dpkg -x)")
    ap.add_argument("--datadir", required=True,
                    help="sklearn/datasets/data inside --root")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--package", default="python3-sklearn")
    ap.add_argument("--version", default="unknown", help="package version")
    ap.add_argument("--deb-sha256", default="", help="sha256 of the .deb")
    args = ap.parse_args(argv)

    datadir = os.path.join(args.root, args.datadir.lstrip("./"))
    base_py = os.path.join(os.path.dirname(datadir.rstrip("/")), "_base.py")
    copyright_path = os.path.join(args.root, "usr/share/doc", args.package, "copyright")
    os.makedirs(args.out, exist_ok=True)

    try:
        names = feature_names_from_base(base_py)
        manifest = ["package: %s" % args.package,
                    "version: %s" % args.version]
        if args.deb_sha256:
            manifest.append("deb-sha256: %s" % args.deb_sha256)
        manifest.append("path: %s" % args.datadir.lstrip("."))
        manifest.append("")
        for name, fname, loader in DATASETS:
            src = os.path.join(datadir, fname)
            if name == "digits":
                feats = ["pixel_%d_%d" % (r, c) for r in range(8) for c in range(8)]
                text, shape, counts, classes = convert(name, src, feats, False)
            else:
                text, shape, counts, classes = convert(name, src, names.get(loader), True)
            data = write_if_changed(os.path.join(args.out, name + ".csv"), text)
            balance = " ".join("%d=%s:%d" % (k, classes[k], counts.get(k, 0))
                               for k in range(len(classes)))
            manifest += ["%s.csv: from %s" % (name, fname),
                         "  samples: %d  features: %d  classes: %d" % (shape[0], shape[1], len(classes)),
                         "  balance: %s" % balance,
                         "  bytes: %d  sha256: %s" % (len(data), hashlib.sha256(data).hexdigest())]
            print("%-18s %4d x %-3d  %s" % (name + ".csv", shape[0], shape[1], balance))
        write_if_changed(os.path.join(args.out, "LICENSE.sklearn"), license_text(copyright_path))
        write_if_changed(os.path.join(args.out, "SOURCE.txt"), "\n".join(manifest) + "\n")
    except (ConvertError, OSError, UnicodeDecodeError, SyntaxError) as e:
        print("sklearn_convert: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
