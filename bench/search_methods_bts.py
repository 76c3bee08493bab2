#!/usr/bin/env python3
"""The search's measurement and allocation variants against a grid sweep of every plan on
bts (issue 13 item 6; docs/accuracy-search.md, "Better measurements").

    python3 bench/search_methods_bts.py run --floats DIR --out DIR [--seeds 6,7,8,9,10]
        [--variants NAME,...] [--qreg QREG]
    python3 bench/search_methods_bts.py table --out DIR --sweep DIR [--seeds ...]

`run` calls `qreg search examples/bts.json --init DIR/float50-sS.qrm --budget 321.75 --epochs 0`
with each variant's options on each seed (DIR/float50-sS.qrm: `qreg train examples/bts.json
--epochs 50 --seed S`, the recipe's float stage) and keeps the plan files,
OUT/VARIANT-sS.plan.json. The chosen plan is a grid point: its accuracy under the recipe is
the sweep's cell for that seed (results.jsonl of `qreg sweep` on
bench/search_front_bts.py's sweep file). `table` prints, per variant, the plans, their
fq test accuracy (mean ± sd over seeds), their rank on each seed among the plans, and the
mean over seeds of the chosen plan's mean rank (a less noisy score of the plan alone).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BUDGET = 321.75
# name: qreg search options (--lr 0.01: the recipe's STE learning rate)
VARIANTS = {
    "round": [],
    "round-ch": ["--granularity", "channel"],
    "round-ch-bn": ["--granularity", "channel", "--search-bn"],
    "ste5": ["--granularity", "channel", "--search-bn", "--search-epochs", "5", "--lr", "0.01"],
    "ste10": ["--granularity", "channel", "--search-bn", "--search-epochs", "10", "--lr", "0.01"],
    "greedy-round": ["--allocate", "greedy", "--granularity", "channel", "--search-bn"],
    "greedy-ste5": ["--allocate", "greedy", "--granularity", "channel", "--search-bn",
                    "--search-epochs", "5", "--lr", "0.01"],
    "greedy-ste10": ["--allocate", "greedy", "--granularity", "channel", "--search-bn",
                     "--search-epochs", "10", "--lr", "0.01"],
    "exh-round": ["--allocate", "exhaustive", "--granularity", "channel", "--search-bn"],
    "exh-ste5": ["--allocate", "exhaustive", "--granularity", "channel", "--search-bn",
                 "--search-epochs", "5", "--lr", "0.01"],
    "exh-ste10": ["--allocate", "exhaustive", "--granularity", "channel", "--search-bn",
                  "--search-epochs", "10", "--lr", "0.01"],
    "exh-ste20": ["--allocate", "exhaustive", "--granularity", "channel", "--search-bn",
                  "--search-epochs", "20", "--lr", "0.01"],
    "greedy-ste20": ["--allocate", "greedy", "--granularity", "channel", "--search-bn",
                     "--search-epochs", "20", "--lr", "0.01"],
    "ste20": ["--granularity", "channel", "--search-bn", "--search-epochs", "20", "--lr", "0.01"],
}


def run(a):
    os.makedirs(a.out, exist_ok=True)
    names = a.variants.split(",") if a.variants else list(VARIANTS)
    for v in names:
        for s in a.seeds.split(","):
            plan = os.path.join(a.out, "%s-s%s.plan.json" % (v, s))
            if os.path.exists(plan):
                continue
            cmd = [a.qreg, "search", os.path.join(ROOT, "examples", "bts.json"), "--init",
                   os.path.join(a.floats, "float50-s%s.qrm" % s), "--budget", str(BUDGET),
                   "--epochs", "0", "--seed", s, "--out", os.path.join(a.out, "m.qrm"),
                   "--plan", plan, "--quiet", "--json"] + VARIANTS[v]
            t0 = time.time()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            p = json.load(open(plan))
            p["search_seconds"] = time.time() - t0
            with open(plan, "w") as f:
                json.dump(p, f, indent=1)
            print(v, s, "-".join(str(m["bits"]) for m in p["matrices"]),
                  "%.1f s" % p["search_seconds"], file=sys.stderr)


def grid(path):
    rows = {}
    for line in open(os.path.join(path, "results.jsonl")):
        r = json.loads(line)
        if r["status"] == "ok":
            rows[(r["settings"]["plan"], r["seed"])] = r["fq_test_accuracy"] * 100
    return rows


def refs(path):
    """The 8-bit references of docs/accuracy.md per seed: PTQ of the 100-epoch float model."""
    ref = {}
    for line in open(os.path.join(path, "results.jsonl")):
        r = json.loads(line)
        if (r["plan"], r["recipe"]) == ("8bit", "ptq"):
            ref[r["seed"]] = r["fq_test_accuracy"] * 100
    return ref


def table(a):
    seeds = [int(s) for s in a.seeds.split(",")]
    ref = refs(a.ref)
    rows = {}
    for g in a.sweep.split(","):
        rows.update(grid(g))
    plans = sorted({p for p, _ in rows if all((p, s) in rows for s in seeds)})
    mean = {p: statistics.mean(rows[(p, s)] for s in seeds) for p in plans}
    by_mean = sorted(plans, key=lambda p: -mean[p])
    names = a.variants.split(",") if a.variants else list(VARIANTS)
    print("%d plans with every seed of %s\n" % (len(plans), a.seeds))
    print("| variant | plans (seeds %s) | fq test | drop vs 8-bit | rank on its seed (of %d) | "
          "rank of the plan's mean | seconds |" % (a.seeds, len(plans)))
    print("|---|---|---|---|---|---|---|")
    for v in names:
        labs, acc, rank, mrank, secs = [], [], [], [], []
        for s in seeds:
            f = os.path.join(a.out, "%s-s%d.plan.json" % (v, s))
            if not os.path.exists(f):
                break
            p = json.load(open(f))
            lab = "-".join(str(m["bits"]) for m in p["matrices"])
            labs.append(lab)
            secs.append(p.get("search_seconds", float("nan")))
            if (lab, s) not in rows:
                acc.append(float("nan"))
                rank.append(0)
                mrank.append(0)
                continue
            acc.append(rows[(lab, s)])
            rank.append(1 + sum(1 for q in plans if rows[(q, s)] > rows[(lab, s)]))
            mrank.append(1 + by_mean.index(lab) if lab in mean else 0)
        if len(labs) < len(seeds):
            continue
        print("| %s | %s | %s | %s | %s | %s (mean %.1f) | %.0f |" % (
            v, ", ".join(labs), ms(acc), drop(acc, seeds, ref), ", ".join(map(str, rank)),
            ", ".join(map(str, mrank)), statistics.mean(mrank), statistics.mean(secs)))
    fixed = [("thesis' 2-2-2-8", "2-2-2-8"), ("uniform 2-2-2-2", "2-2-2-2"),
             ("best mean on these seeds' test (optimistic)", by_mean[0])]
    for name, p in fixed:
        acc = [rows[(p, s)] for s in seeds]
        print("| %s | %s | %s | %s | | %d | |" % (name, p, ms(acc), drop(acc, seeds, ref),
                                               1 + by_mean.index(p)))
    if a.e2e:
        e = [json.load(open(os.path.join(a.e2e, "search-s%d.json" % s))) for s in seeds]
        acc = [r["fq_test_accuracy"] * 100 for r in e]
        labs = ["-".join(str(m["bits"]) for m in r["matrices"]) for r in e]
        print("| end to end (qreg search --epochs 50) | %s | %s | %s | | | |" % (
            ", ".join(labs), ms(acc), drop(acc, seeds, ref)))
    print("\nplans by mean fq test over these seeds: " +
          ", ".join("%s %.2f" % (p, mean[p]) for p in by_mean[:12]) + ", ...")


def ms(v):
    return "%.2f ± %.2f" % (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0)


def drop(acc, seeds, ref):
    if not all(s in ref for s in seeds):
        return ""
    return "%+.2f ± %.2f" % (statistics.mean(x - ref[s] for x, s in zip(acc, seeds)),
                             statistics.stdev(x - ref[s] for x, s in zip(acc, seeds)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["run", "table"])
    ap.add_argument("--floats", default="floats")
    ap.add_argument("--out", default="methods")
    ap.add_argument("--sweep", default="search-sweep", help="sweep directories, comma-separated")
    ap.add_argument("--seeds", default="6,7,8,9,10")
    ap.add_argument("--variants", default="")
    ap.add_argument("--qreg", default="qreg")
    ap.add_argument("--ref", default=os.path.join(ROOT, "docs", "accuracy-bts"))
    ap.add_argument("--e2e", default="", help="a directory of qreg search --epochs 50 runs, "
                    "search-sS.json")
    a = ap.parse_args()
    run(a) if a.what == "run" else table(a)


if __name__ == "__main__":
    main()
