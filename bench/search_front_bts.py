#!/usr/bin/env python3
"""Mixed-precision search against the grid sweep's Pareto front on the motion `bts` model
(issue 13, items 6 and 7; docs/accuracy-search.md).

    python3 bench/search_front_bts.py sweep [--budget 321.75] [--seeds 1,2,3] > SWEEP.json
    python3 bench/search_front_bts.py table --sweep DIR --search DIR [--ref accuracy-bts]

`sweep` writes a `qreg sweep` file: every plan of (conv, GRU input kernel, GRU recurrent
kernel, dense) widths in {1, 2, 4, 8} within the byte budget (the thesis' accounting: 248 B of
32-bit biases and batch-norm parameters plus N/8 B per weight), each trained by the best
recipe (examples/bts-*-lr1e-2.json: float 50, then STE 50 at Nadam 1e-2 with a learned
scale per output channel of every matrix, batch norms re-estimated). The points are ordered
maximal plans first (no matrix can be widened within the budget), then by bytes, largest
first, so an interrupted sweep has measured the plans that matter most.

`table` reads the sweep's results.jsonl, the searched plans (SEARCH/plan-sS.plan.json of
`qreg search --epochs 0`; SEARCH/search-sS.json of `qreg search --epochs 50`) and the 8-bit
references (REF/results.jsonl of bench/accuracy_bts.py), and prints the Pareto front and
where the searched plan of every seed lands on it.
"""
import argparse
import itertools
import json
import os
import statistics
import sys

WIDTHS = [1, 2, 4, 8]
# bts.json: conv1d 5x3x6, GRU input 6x15, recurrent 5x15, dense 5x2 weights; 248 B of the
# rest (biases, batch norm) at 32 bits
MATRICES = [("conv1d_1", "kernel", 90), ("gru_1", "kernel", 90),
            ("gru_1", "recurrent_kernel", 75), ("dense_1", "kernel", 10)]
FIXED = 248.0
# the thesis' CNN+GRU hybrid (§4.4.3): conv and GRU at 2 bits, dense at 8: 37.28 % smaller
THESIS_BUDGET = 321.75


def nbytes(plan):
    return FIXED + sum(b * n for b, (_, _, n) in zip(plan, MATRICES)) / 8


def label(plan):
    return "-".join(str(b) for b in plan)


def entries(plan):
    return [{"layer": l, "matrix": m, "bits": b, "method": "ste", "scale": "learned",
             "granularity": "channel"} for b, (l, m, _) in zip(plan, MATRICES)]


def plans_within(budget):
    inside = [p for p in itertools.product(WIDTHS, repeat=4) if nbytes(p) <= budget]

    def maximal(p):
        for i, b in enumerate(p):
            if b != WIDTHS[-1]:
                q = p[:i] + (WIDTHS[WIDTHS.index(b) + 1],) + p[i + 1:]
                if nbytes(q) <= budget:
                    return False
        return True
    return sorted(inside, key=lambda p: (not maximal(p), -nbytes(p), p))


def sweep(a):
    seeds = [int(s) for s in a.seeds.split(",")]
    pts = {label(p): entries(p) for p in plans_within(a.budget)}
    return {
        "description": "bts plans (conv, GRU input, GRU recurrent, dense widths) within %.2f B "
                       "(the thesis' CNN+GRU 2-bit hybrid, 37.28 %% smaller than 8 bits), each by "
                       "examples/bts-*-lr1e-2.json's recipe (bench/search_front_bts.py sweep)"
                       % a.budget,
        "base": "../../examples/bts-2bit-lr1e-2.json",
        "set": {"quantize": None},
        "axes": {"stages[1].quantize.matrices": pts},
        "names": {"stages[1].quantize.matrices": "plan"},
        "repeat": seeds,
    }


def table(a):
    rows = {}
    for line in open(os.path.join(a.sweep, "results.jsonl")):
        if not line.endswith("\n"):
            continue
        r = json.loads(line)
        if r["status"] == "ok":
            rows[(r["settings"]["plan"], r["seed"])] = r
    ref = {}
    for line in open(os.path.join(a.ref, "results.jsonl")):
        r = json.loads(line)
        if (r["plan"], r["recipe"]) == ("8bit", "ptq"):
            ref[r["seed"]] = r["fq_test_accuracy"] * 100
    seeds = sorted({s for _, s in rows})
    plans = sorted({p for p, _ in rows}, key=lambda p: nbytes(tuple(map(int, p.split("-")))))
    # complete plans only: every seed measured
    full = [p for p in plans if all((p, s) in rows for s in seeds)]

    def st(v):
        return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)
    acc = {p: [rows[(p, s)]["fq_test_accuracy"] * 100 for s in seeds] for p in full}
    drop = {p: [acc[p][i] - ref[s] for i, s in enumerate(seeds)] for p in full}
    by = {p: nbytes(tuple(map(int, p.split("-")))) for p in full}
    # Pareto front on mean accuracy: no other plan has fewer or equal bytes and a higher mean
    front = [p for p in full if not any(by[q] <= by[p] and st(acc[q])[0] > st(acc[p])[0]
                                         for q in full if q != p)]
    out = [("plan", "bytes", "fq_test_mean", "fq_test_sd", "drop_mean", "drop_sd", "pareto")
           + tuple("seed%d" % s for s in seeds)]
    print("%d plans x %d seeds (%s)\n" % (len(full), len(seeds), ",".join(map(str, seeds))))
    print("| plan (conv-gru in-gru rec-dense) | bytes | fq test | drop vs 8-bit | Pareto |")
    print("|---|---|---|---|---|")
    for p in sorted(full, key=lambda p: (-st(acc[p])[0])):
        print("| %s | %.2f | %.2f ± %.2f | %+.2f ± %.2f | %s |" % (
            p, by[p], *st(acc[p]), *st(drop[p]), "yes" if p in front else ""))
        out.append((p, "%.3f" % by[p], *("%.4f" % x for x in st(acc[p]) + st(drop[p])),
                    "yes" if p in front else "") + tuple("%.4f" % x for x in acc[p]))
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("\n".join(",".join(r) for r in out) + "\n")
    # the searched plans
    print("\n| seed | searched plan | bytes | its fq test (grid) | best grid plan ≤ budget, this seed | qreg search --epochs 50 (auto scales) |")
    print("|---|---|---|---|---|---|")
    for s in seeds:
        pj = os.path.join(a.search, "plan-s%d.plan.json" % s)
        if not os.path.exists(pj):
            continue
        p = json.load(open(pj))
        lab = "-".join(str(m["bits"]) for m in p["matrices"])
        best = max(full, key=lambda q: acc[q][seeds.index(s)])
        sj = os.path.join(a.search, "search-s%d.json" % s)
        e2e = json.load(open(sj))["fq_test_accuracy"] * 100 if os.path.exists(sj) else None
        g = rows.get((lab, s))
        print("| %d | %s | %.2f | %s | %s (%.2f) | %s |" % (
            s, lab, p["bytes"], "%.2f" % (g["fq_test_accuracy"] * 100) if g else "not in grid",
            best, acc[best][seeds.index(s)], "%.2f" % e2e if e2e is not None else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["sweep", "table"])
    ap.add_argument("--budget", type=float, default=THESIS_BUDGET)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--sweep", default="search-sweep")
    ap.add_argument("--search", default="search")
    ap.add_argument("--ref", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "docs", "accuracy-bts"))
    ap.add_argument("--csv", default="")
    a = ap.parse_args()
    if a.what == "sweep":
        json.dump(sweep(a), sys.stdout, indent=1)
        print()
    else:
        table(a)


if __name__ == "__main__":
    main()
