#!/usr/bin/env python3
"""docs/audio-aug/summary.py RESULTS.csv [COPIES.csv]: the ablation tables of docs/audio.md
from run.sh's results.csv (and copies.sh's copies.csv), mean ± sample sd over seeds per
variant (Markdown tables on stdout)."""
import csv
import statistics
import sys

ORDER = ["default", "bandlimit", "bandlimit8", "speed-tempo", "pitch", "reverb", "all"]


def cell(v, unit="%"):
    v = [100.0 * x for x in v]
    if len(v) < 2:
        return f"{v[0]:.1f} {unit}"
    return f"{statistics.mean(v):.1f} ± {statistics.stdev(v):.1f} {unit}"


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    by = {}
    for r in rows:
        by.setdefault(r["variant"], []).append(r)
    print("| training augmentation | seeds | validation | held-out voices (test) | "
          "telephone copies of the test clips | telephone − test |")
    print("| --- | --- | --- | --- | --- | --- |")
    for v in ORDER + sorted(set(by) - set(ORDER)):
        if v not in by:
            continue
        rs = by[v]
        val = [float(r["val_acc"]) for r in rs]
        te = [float(r["test_acc"]) for r in rs]
        tel = [float(r["telephone_acc"]) for r in rs]
        gap = [b - a for a, b in zip(te, tel)]
        seeds = ", ".join(r["seed"] for r in rs)
        print(f"| {v} | {seeds} | {cell(val)} | {cell(te)} | {cell(tel)} | {cell(gap, 'points')} |")


KINDS = ["bandlimit", "bandlimit8", "speed", "tempo", "pitch", "reverb"]


def copies(path):
    rows = list(csv.DictReader(open(path)))
    by = {}
    for r in rows:
        by.setdefault((r["variant"], r["copy"]), []).append(float(r["accuracy"]))
    variants = [v for v in ORDER if any(k[0] == v for k in by)]
    print()
    print("| training augmentation | " + " | ".join(KINDS) + " |")
    print("| --- |" + " --- |" * len(KINDS))
    for v in variants:
        print(f"| {v} | " + " | ".join(cell(by[(v, k)]) if (v, k) in by else "—"
                                     for k in KINDS) + " |")


if __name__ == "__main__":
    main()
    if len(sys.argv) > 2:
        copies(sys.argv[2])
