#!/usr/bin/env python3
"""docs/audio-aug/summary.py RESULTS.csv: the ablation table of docs/audio.md from run.sh's
results.csv, mean ± sample sd over seeds per variant (a Markdown table on stdout)."""
import csv
import statistics
import sys

ORDER = ["default", "bandlimit", "bandlimit8", "speed-tempo", "pitch", "reverb", "all"]


def cell(v):
    v = [100.0 * x for x in v]
    if len(v) < 2:
        return f"{v[0]:.1f} %"
    return f"{statistics.mean(v):.1f} ± {statistics.stdev(v):.1f} %"


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
        print(f"| {v} | {seeds} | {cell(val)} | {cell(te)} | {cell(tel)} | {cell(gap)} |")


if __name__ == "__main__":
    main()
