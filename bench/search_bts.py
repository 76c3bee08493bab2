#!/usr/bin/env python3
"""Mixed-precision search on the motion `bts` model against uniform plans trained the same way
(docs/accuracy.md). For each seed, from the float model bench/accuracy_bts.py trained
(OUT/float-sS.qrm) and against its 8-bit model:

    qreg search examples/bts.json --init float-sS.qrm --budget B --epochs 50 [--bits W]

at the budgets of the uniform 4-bit (380.5 B) and 2-bit (314.25 B) plans, with the widths
1, 2, 4, 8 (the search) and with the uniform width only (the same pipeline: sensitivity,
then 50 STE epochs from the float model, batch-norm re-estimation).

    python3 bench/accuracy_bts.py --out accuracy-bts --recipes float50-ste50-lr1e-3
    python3 bench/search_bts.py --out accuracy-bts [--qreg build/qreg] [--seeds 1,2,3,4,5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BUDGETS = [("4bit", 380.5, "4"), ("2bit", 314.25, "2")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qreg", default=os.path.join(HERE, "..", "build", "qreg"))
    ap.add_argument("--out", default="accuracy-bts")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--epochs", default="50")
    ap.add_argument("--csv", default="")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    ref = {}
    for line in open(os.path.join(a.out, "results.jsonl")):
        r = json.loads(line)
        if r["plan"] == "8bit":
            ref[r["seed"]] = r["fq_test_accuracy"]
    db = os.path.join(a.out, "search.jsonl")
    done = {}
    if os.path.exists(db):
        for line in open(db):
            r = json.loads(line)
            done[(r["budget_plan"], r["widths"], r["seed"])] = r
    cfg = os.path.join(HERE, "..", "examples", "bts.json")
    for seed in seeds:
        for name, budget, uniform in BUDGETS:
            for widths in ["1,2,4,8", uniform]:
                if (name, widths, seed) in done:
                    continue
                tag = "search-%s-%s-s%d" % (name, widths.replace(",", ""), seed)
                cmd = [a.qreg, "search", cfg, "--init",
                       os.path.join(a.out, "float-s%d.qrm" % seed), "--budget", str(budget),
                       "--bits", widths, "--epochs", a.epochs, "--seed", str(seed),
                       "--out", os.path.join(a.out, tag + ".qrm"),
                       "--plan", os.path.join(a.out, tag + ".plan.json"), "--json", "--quiet"]
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
                r = json.loads(p.stdout)
                r.update(budget_plan=name, widths=widths, seed=seed, cmd=" ".join(cmd))
                done[(name, widths, seed)] = r
                with open(db, "a") as f:
                    f.write(json.dumps(r) + "\n")
                print("seed %d %s %-8s %.2f B fq test %.4f bits %s" % (
                    seed, name, widths, r["bytes"], r["fq_test_accuracy"],
                    [m["bits"] for m in r["matrices"]]), file=sys.stderr)

    def st(v):
        return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)

    rows = []
    print("| budget | widths | bytes | plans (conv, gru in, gru rec, dense) | fq test | drop vs 8-bit |")
    print("|---|---|---|---|---|---|")
    for name, budget, uniform in BUDGETS:
        for widths in ["1,2,4,8", uniform]:
            rs = [done[(name, widths, s)] for s in seeds]
            acc = [r["fq_test_accuracy"] * 100 for r in rs]
            drop = [(r["fq_test_accuracy"] - ref[s]) * 100 for r, s in zip(rs, seeds)]
            plans = sorted(set("/".join(str(m["bits"]) for m in r["matrices"]) for r in rs))
            by = st([r["bytes"] for r in rs])
            print("| %s (%.2f B) | %s | %.2f | %s | %.2f ± %.2f | %+.2f ± %.2f |" % (
                name, budget, widths, by[0], ", ".join(plans), *st(acc), *st(drop)))
            rows.append([name, budget, widths, by[0], " ".join(plans), *st(acc), *st(drop)]
                        + [r["fq_test_accuracy"] * 100 for r in rs])
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("budget_plan,budget,widths,bytes,plans,fq_test_mean,fq_test_sd,drop_mean,"
                    "drop_sd," + ",".join("seed%d" % s for s in seeds) + "\n")
            for r in rows:
                f.write(",".join('"%s"' % x if isinstance(x, str) else
                                 ("%.4f" % x if isinstance(x, float) else str(x)) for x in r)
                        + "\n")


if __name__ == "__main__":
    main()
