#!/usr/bin/env python3
"""Mixed-precision search against the grid sweep's Pareto front on the motion `bts` model
(issue 13, items 6 and 7; docs/accuracy-search.md).

    python3 bench/search_front_bts.py sweep [--budget 321.75] [--seeds 1,2,3,4,5] > SWEEP.json
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
    # the 8-bit references of docs/accuracy.md: 8-bit PTQ of the 100-epoch float model, and
    # of the float model trained on the recipe's schedule (float 50 -> float 50 at 1e-2)
    ref, ref_same = {}, {}
    for line in open(os.path.join(a.ref, "results.jsonl")):
        r = json.loads(line)
        if (r["plan"], r["recipe"]) == ("8bit", "ptq"):
            ref[r["seed"]] = r["fq_test_accuracy"] * 100
        if (r["plan"], r["recipe"]) == ("8bit", "lr1e-2-float-ptq"):
            ref_same[r["seed"]] = r["fq_test_accuracy"] * 100
    seeds = [int(s) for s in a.seeds.split(",")]
    plans = {p for p, _ in rows}
    # complete plans only: every seed measured
    full = sorted((p for p in plans if all((p, s) in rows for s in seeds)),
                  key=lambda p: (nbytes(parse(p)), p))

    def st(v):
        return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)

    def fq(p, s, key="fq_test_accuracy"):
        return rows[(p, s)][key] * 100
    acc = {p: [fq(p, s) for s in seeds] for p in full}
    by = {p: nbytes(parse(p)) for p in full}
    # Pareto front on mean accuracy: no plan with fewer or equal bytes has a higher mean
    front = [p for p in full if not any(by[q] <= by[p] and st(acc[q])[0] > st(acc[p])[0]
                                         for q in full if q != p)]

    def cell(vals, refs):
        d = [v - refs[s] for v, s in zip(vals, seeds)]
        return "%.2f ± %.2f | %+.2f ± %.2f" % (*st(vals), *st(d))
    print("%d plans x %d seeds (%s); cells: fq test %% | drop vs the 8-bit PTQ of the "
          "100-epoch float model\n" % (len(full), len(seeds), ",".join(map(str, seeds))))
    print("| plan (conv-gru in-gru rec-dense) | bytes | fq test | drop vs 8-bit | fq val | "
          "Pareto |")
    print("|---|---|---|---|---|---|")
    out = [("plan", "bytes", "fq_test_mean", "fq_test_sd", "drop_mean", "drop_sd",
            "fq_val_mean", "pareto") + tuple("seed%d" % s for s in seeds)]
    for p in sorted(full, key=lambda p: -st(acc[p])[0]):
        val = st([fq(p, s, "fq_val_accuracy") for s in seeds])[0]
        print("| %s | %.2f | %s | %.2f | %s |" % (p, by[p], cell(acc[p], ref), val,
                                                  "yes" if p in front else ""))
        d = st([v - ref[s] for v, s in zip(acc[p], seeds)])
        out.append((p, "%.3f" % by[p], *("%.4f" % x for x in st(acc[p]) + d), "%.4f" % val,
                    "yes" if p in front else "") + tuple("%.4f" % x for x in acc[p]))
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("\n".join(",".join(r) for r in out) + "\n")
    # the searched plan of each seed, trained by the recipe (its grid cell), and the rivals
    searched, e2e, per_seed = [], [], []
    for s in seeds:
        p = json.load(open(os.path.join(a.search, "plan-s%d.plan.json" % s)))
        lab = "-".join(str(m["bits"]) for m in p["matrices"])
        searched.append(lab)
        rank = 1 + sum(1 for q in full if fq(q, s) > fq(lab, s))
        best = max(full, key=lambda q: fq(q, s))
        per_seed.append((s, lab, p["bytes"], fq(lab, s), rank, best, fq(best, s)))
        sj = os.path.join(a.search, "search-s%d.json" % s)
        if os.path.exists(sj):
            e2e.append(json.load(open(sj)))
    print("\n| seed | searched plan | bytes | fq test (grid cell) | rank of %d | best plan this "
          "seed (fq test) |" % len(full))
    print("|---|---|---|---|---|---|")
    for r in per_seed:
        print("| %d | %s | %.2f | %.2f | %d | %s (%.2f) |" % r)
    best_test = max(full, key=lambda p: st(acc[p])[0])
    best_val = max(full, key=lambda p: st([fq(p, s, "fq_val_accuracy") for s in seeds])[0])
    sel = [("qreg search's plan per seed, trained by the recipe", ", ".join(sorted(set(searched))),
            st([by[l] for l in searched])[0], [fq(l, s) for l, s in zip(searched, seeds)])]
    if len(e2e) == len(seeds):
        sel.append(("qreg search --epochs 50 end to end (auto scales)",
                    ", ".join(sorted(set(l for l in searched))), st([r["bytes"] for r in e2e])[0],
                    [r["fq_test_accuracy"] * 100 for r in e2e]))
    for name, p in [("thesis' hybrid (conv, GRU 2 bits; dense 8)", "2-2-2-8"),
                    ("uniform 2 bits", "2-2-2-2"),
                    ("grid, best mean validation accuracy", best_val),
                    ("grid, best mean test accuracy (optimistic)", best_test)]:
        if p in acc:
            sel.append((name, p, by[p], acc[p]))
    orc = [max(fq(q, s) for q in full) for s in seeds]
    sel.append(("grid, best plan of each seed on test (upper bound)", "", float("nan"), orc))
    print("\n| selection | plan(s) | bytes | fq test | drop vs 8-bit | drop vs same-schedule "
          "8-bit |")
    print("|---|---|---|---|---|---|")
    for name, p, b, vals in sel:
        same = ("%+.2f ± %.2f" % st([v - ref_same[s] for v, s in zip(vals, seeds)])
                if all(s in ref_same for s in seeds) else "")
        print("| %s | %s | %.2f | %s | %s |" % (name, p, b, cell(vals, ref), same))


def parse(label):
    return tuple(int(x) for x in label.split("-"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["sweep", "table"])
    ap.add_argument("--budget", type=float, default=THESIS_BUDGET)
    ap.add_argument("--seeds", default="1,2,3,4,5")
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
