"""Windows: one scene per window, a context and a gesture of the kind drawn, then
sampled; a subject's windows come from the subject's own random stream."""

import random

from .contexts import make_context
from .gestures import add_gesture
from .kinds import ALLOWED, CONTEXTS, negative_tables, pick
from .scene import Scene
from .sensor import sample


def make_window(subj, r, timing, kind, ctx_table=CONTEXTS):
    """Build and sample one window of `timing` (config.Timing). Returns (values,
    label, kind, context, posture)."""
    sc = Scene(subj, r, timing)
    allowed = ALLOWED.get(kind)
    while True:
        c = pick(r, ctx_table if kind == "context" else CONTEXTS)
        if allowed is None or c in allowed:
            break
    make_context(sc, c)
    label, kind = add_gesture(sc, r, kind)
    values = sample(sc)
    return values, label, kind, sc.context, sc.posture


def subject_windows(subj, timing, n, pos_share, partial_share):
    """All windows of one subject, from the subject's own random stream."""
    r = random.Random(subj.seed ^ 0x5EED)
    n_pos = int(round(pos_share * n))
    kinds = ["bts"] * n_pos
    table, ctx_table = negative_tables(partial_share)
    for _ in range(n - n_pos):
        kinds.append(pick(r, table))
    return [make_window(subj, r, timing, k, ctx_table) for k in kinds]
