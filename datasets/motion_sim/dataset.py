"""The data set: subjects from the master seed, the split by subject, every
subject's windows, shuffled per split, and the files (output.py)."""

import os
import random

from .config import SPLITS
from .output import write_recordings, write_source, write_subjects, write_windows
from .subject import Subject
from .windows import subject_windows


def split_sizes(n):
    n_test = max(1, int(round(0.15 * n)))
    n_val = max(1, int(round(0.15 * n)))
    return n - n_val - n_test, n_val, n_test


def generate(opts):
    """Write the data set of `opts` (config.Options) into opts.out.  Returns the
    rows of each split: (values, label, kind, context, posture, subject)."""
    timing = opts.timing
    master = random.Random(opts.seed)
    n = opts.subjects
    subjects = [Subject(i + 1, master.getrandbits(63)) for i in range(n)]
    order = list(range(n))
    master.shuffle(order)
    n_train, n_val, _ = split_sizes(n)
    split_of = {}
    for rank, i in enumerate(order):
        split_of[i] = "train" if rank < n_train else ("val" if rank < n_train + n_val else "test")

    rows = {sp: [] for sp in SPLITS}
    stats = []
    for i, subj in enumerate(subjects):
        ws = subject_windows(subj, timing, opts.windows_per_subject, opts.positive_share,
                             opts.partial_share)
        stats.append((len(ws), sum(w[1] for w in ws)))
        for (values, label, kind, ctx, posture) in ws:
            rows[split_of[i]].append((values, label, kind, ctx, posture, subj.id))
    for sp in SPLITS:
        master.shuffle(rows[sp])

    os.makedirs(opts.out, exist_ok=True)
    files = write_windows(opts, rows)
    if opts.continuous:
        files += write_recordings(opts, subjects, split_of)
    files += write_subjects(opts, subjects, split_of, stats)
    write_source(opts, rows, split_of, files)
    return rows
