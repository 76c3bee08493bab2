"""The command line: options -> Options, generate, one line on stderr."""

import argparse
import os
import sys
import time

from .config import FS, SPLITS, Options
from .dataset import generate


def default_out():
    base = os.environ.get("QREG_DATA") or os.path.join(
        os.environ.get("HOME") or "/tmp", ".local", "share", "qreg", "data")
    return os.path.join(base, "motion")


def parse_args(argv):
    """The command line -> Options (checked, defaults filled in); exits on errors."""
    p = argparse.ArgumentParser(
        prog="motion.py",
        description="Simulate the bring-to-see wrist-gesture data set (3-axis accelerometer, "
                    "20 Hz, 2 s windows) and write train/val/test CSV files split by subject.")
    p.add_argument("--out", default=None, help="output directory (default: %s)" % default_out())
    p.add_argument("--subjects", type=int, default=None, help="number of simulated people (default 60)")
    p.add_argument("--windows-per-subject", type=int, default=None,
                   help="windows per person (default 100)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--positive-share", type=float, default=0.4,
                   help="share of bring-to-see windows per subject (default 0.4)")
    p.add_argument("--partial-share", type=float, default=0.15,
                   help="share of hard-negative partial gestures among negatives "
                        "(default 0.15; 0 turns them off)")
    p.add_argument("--small", action="store_true",
                   help="a small set for CI: 12 subjects x 25 windows unless given")
    p.add_argument("--continuous", type=int, default=0, metavar="N",
                   help="also write N continuous recordings per test subject with a label per "
                        "frame (stream.csv, stream_events.csv; default 0: none)")
    p.add_argument("--recording-seconds", type=float, default=120.0, metavar="S",
                   help="length of each continuous recording (default 120)")
    p.add_argument("--history", type=float, default=0.0, metavar="S",
                   help="prepend S seconds of the same scene to every window (the label stays "
                        "that of the last 2 s): windows of 40 + 20 S frames (default 0)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    a = p.parse_args(argv)
    if not 0.0 <= a.history <= 60.0 or a.history * FS != int(a.history * FS):
        p.error("--history must be a whole number of frames (multiple of 0.05 s) in [0, 60]")
    if a.history and a.continuous:
        p.error("--history and --continuous cannot be combined")
    if a.continuous < 0:
        p.error("--continuous must be >= 0")
    if not 20.0 <= a.recording_seconds <= 3600.0:
        p.error("--recording-seconds must be in [20, 3600]")
    if a.subjects is None:
        a.subjects = 12 if a.small else 60
    if a.windows_per_subject is None:
        a.windows_per_subject = 25 if a.small else 100
    if a.subjects < 3:
        p.error("--subjects must be at least 3 (train, val and test each need one)")
    if a.windows_per_subject < 1:
        p.error("--windows-per-subject must be at least 1")
    if not 0.0 <= a.positive_share <= 1.0:
        p.error("--positive-share must be in [0, 1]")
    if not 0.0 <= a.partial_share < 1.0:
        p.error("--partial-share must be in [0, 1)")
    if a.seed < 0:
        p.error("--seed must be >= 0")
    if a.out is None:
        a.out = default_out()
    return Options(out=a.out, subjects=a.subjects, windows_per_subject=a.windows_per_subject,
                   seed=a.seed, positive_share=a.positive_share, partial_share=a.partial_share,
                   continuous=a.continuous, recording_seconds=a.recording_seconds,
                   history=a.history, quiet=a.quiet)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    t_start = time.perf_counter()  # only for the progress message
    rows = generate(opts)
    if not opts.quiet:
        total = sum(len(rows[sp]) for sp in SPLITS)
        sys.stderr.write("motion.py: %d windows (%s) -> %s (%.1f s)\n" % (
            total, ", ".join("%s %d" % (sp, len(rows[sp])) for sp in SPLITS), opts.out,
            time.perf_counter() - t_start))
    return 0
