#!/usr/bin/env python3
"""The tables of docs/accuracy-activations.md from run.sh's results.jsonl:
integer-model test accuracy (qreg eval --int) per config and activation grid, mean ± sd over
the seeds, the fake-quantized accuracy beside it and the integer / fake-quantized agreement.
    docs/accuracy-activations/summarize.py results.jsonl"""
import collections
import json
import statistics as st
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
ev = collections.defaultdict(dict)  # (config, acts) -> seed -> eval
for r in rows:
    if "eval" in r:
        ev[(r["config"].split("-a")[0], r["acts"])][r["seed"]] = r["eval"]


def ms(v):
    return "%.2f ± %.2f" % (st.mean(v), st.stdev(v) if len(v) > 1 else 0.0)


names = {"int32": "int32 (today)"}
for b in (8, 4):
    names["ptq%d" % b] = "%d-bit, post-training" % b
    names["qat%d" % b] = "%d-bit, QAT" % b
order = ["bts", "bts-4bit", "bts-1bit", "fashion-mnist-gru", "kws-small"]
print("| config | activations | seeds | integer accuracy % | fake-quantized % | "
      "agreement % (min) | Δ integer vs int32 (paired) |")
print("|---|---|---|---|---|---|---|")
for c in order:
    base = ev.get((c, "int32"), {})
    for a in ["int32", "ptq8", "qat8", "ptq4", "qat4"]:
        e = ev.get((c, a))
        if not e:
            continue
        seeds = sorted(e)
        acc = [100 * e[s]["int_accuracy"] for s in seeds]
        fq = [100 * e[s]["fq_accuracy"] for s in seeds]
        agr = [100 * e[s]["int_fq_agreement"] for s in seeds]
        paired = [100 * (e[s]["int_accuracy"] - base[s]["int_accuracy"])
                  for s in seeds if s in base]
        d = ms(paired) if a != "int32" and len(paired) > 0 else "—"
        print("| %s | %s | %s | %s | %s | %.2f (%.2f) | %s |" % (
            c, names[a], ",".join(str(s) for s in seeds), ms(acc), ms(fq), st.mean(agr),
            min(agr), d))
