#!/usr/bin/env python3
"""PyTorch reference for bench/qreg-bench: the same two CGRU models, the same timing protocol.

    python3 bench/torch_train.py [--model bts|gsc|all] [--threads N] [--steps N]
                                 [--warmup N] [--repeat N] [--batch N]

Models (docs/method.md §2, Keras layer order, channels-last input (B, T, F)):
    Conv1d(valid) -> BatchNorm1d -> ReLU -> Dropout1d (whole channels, = SpatialDropout1D)
    -> GRU(batch_first, last state) -> Dropout -> [BatchNorm1d] -> Linear
with Keras' BatchNormalization settings (eps 1e-3, momentum 0.99 = PyTorch momentum 0.01).
Parameter counts are asserted as Keras counts them: trainable parameters plus the
batch-norm running mean and variance (327 for bts, 212,116 for gsc).

Protocol (as qreg-bench): a pool of 16 batches of N(0, 1) inputs with uniform random labels
(fixed seed); each step takes the next batch of a shuffled epoch over the pool, gathers it,
standardizes it with the pool's per-feature mean and std, then zero_grad, forward,
cross-entropy, backward, Adam step (Keras defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-7).
Warm-up steps untimed, then `repeat` timed runs of `steps` steps; prints the median
samples/s as one JSON object per line (also "cpu_samples_per_s", from the main thread's CPU
time: steadier on a busy machine, and comparable to qreg-bench's at 1 thread only).

torch.set_num_threads(N) is set explicitly (and interop threads to 1). Which BLAS torch
resolves is reported in the output ("blas": the libblas/libopenblas mapped into the process
after a matmul); bench/run.sh runs this script with the OpenMP build of OpenBLAS first on
the library path, so torch's OpenMP pool owns every thread.
"""
import argparse
import json
import statistics
import sys
import time

import torch
from torch import nn

MODELS = {
    # name: (T, F, conv filters, kernel, gru units, bn after gru, classes, keras params)
    "bts": (40, 3, 6, 5, 5, False, 2, 327),
    "gsc": (94, 13, 128, 10, 196, True, 12, 212116),
}
DEFAULT_STEPS = {"bts": 1000, "gsc": 20}
DEFAULT_WARMUP = {"bts": 100, "gsc": 3}
POOL_BATCHES = 16


class CGRU(nn.Module):
    def __init__(self, t, f, filters, kernel, units, bn_after, classes):
        super().__init__()
        self.conv = nn.Conv1d(f, filters, kernel)  # valid padding
        self.bn1 = nn.BatchNorm1d(filters, eps=1e-3, momentum=0.01)
        self.sdrop = nn.Dropout1d(0.1)  # zeroes whole channels of (B, C, L)
        self.gru = nn.GRU(filters, units, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.bn2 = nn.BatchNorm1d(units, eps=1e-3, momentum=0.01) if bn_after else None
        self.dense = nn.Linear(units, classes)

    def forward(self, x):  # x (B, T, F)
        h = self.conv(x.transpose(1, 2))  # (B, C, T_out)
        h = self.sdrop(torch.relu(self.bn1(h)))
        _, hn = self.gru(h.transpose(1, 2))  # last state (1, B, H)
        h = self.drop(hn[0])
        if self.bn2 is not None:
            h = self.bn2(h)
        return self.dense(h)


def keras_param_count(model):
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    bn_stats = sum(b.numel() for name, b in model.named_buffers()
                   if name.endswith("running_mean") or name.endswith("running_var"))
    return trainable, bn_stats


def mapped_blas():
    """The BLAS shared objects mapped into this process (after a matmul has run)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "blas" in path or "lapack" in path or "mkl" in path:
                    libs.add(path)
    except OSError:
        pass
    return sorted(libs)


def bench(name, threads, steps, warmup, repeat, batch):
    t, f, filters, kernel, units, bn_after, classes, expect = MODELS[name]
    torch.manual_seed(1)
    model = CGRU(t, f, filters, kernel, units, bn_after, classes)
    trainable, bn_stats = keras_param_count(model)
    assert trainable + bn_stats == expect, (name, trainable, bn_stats, expect)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    g = torch.Generator().manual_seed(42)
    pool_n = POOL_BATCHES * batch
    pool_x = torch.randn(pool_n, t, f, generator=g)
    pool_y = torch.randint(0, classes, (pool_n,), generator=g)
    mean = pool_x.reshape(-1, f).mean(0)
    std = pool_x.reshape(-1, f).std(0, unbiased=False)
    order = torch.randperm(pool_n, generator=g)
    cursor = 0
    model.train()

    def step():
        nonlocal cursor, order
        if cursor + batch > pool_n:
            order = torch.randperm(pool_n, generator=g)
            cursor = 0
        idx = order[cursor:cursor + batch]
        cursor += batch
        xb = (pool_x.index_select(0, idx) - mean) / std
        yb = pool_y.index_select(0, idx)
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    rates, cpu_rates = [], []
    loss = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(steps):
            loss = step()
        rates.append(steps * batch / (time.perf_counter() - t0))
        cpu_rates.append(steps * batch / (time.thread_time() - c0))
    return {
        "impl": "torch", "model": name, "threads": threads, "batch": batch, "steps": steps,
        "warmup": warmup, "repeat": repeat, "samples_per_s": round(statistics.median(rates), 2),
        "step_ms": round(1e3 * batch / statistics.median(rates), 5),
        "cpu_samples_per_s": round(statistics.median(cpu_rates), 2),
        "trainable": trainable, "buffers": bn_stats, "final_loss": round(float(loss), 5),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["bts", "gsc", "all"], default="all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=0, help="timed steps per run (0: per model)")
    ap.add_argument("--warmup", type=int, default=-1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    names = ["bts", "gsc"] if a.model == "all" else [a.model]
    torch.ones(64, 64) @ torch.ones(64, 64)  # load the BLAS so that it shows in the maps
    for name in names:
        r = bench(name, a.threads, a.steps or DEFAULT_STEPS[name],
                  a.warmup if a.warmup >= 0 else DEFAULT_WARMUP[name], a.repeat, a.batch)
        r["torch"] = torch.__version__
        r["torch_threads"] = torch.get_num_threads()
        r["blas"] = mapped_blas()
        print(json.dumps(r))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
