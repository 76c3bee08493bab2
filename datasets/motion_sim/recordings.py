"""Continuous recordings (--continuous N): one context lasting
--recording-seconds, with gestures (the windows' kinds) separated by idle
periods of the context alone; a label and an event number per frame."""

import math

from .config import DT, FS, STEPS, Timing
from .contexts import make_context
from .gestures import add_gesture
from .kinds import ALLOWED, CONTEXTS, negative_tables, pick
from .motions import Blend, Chain
from .scene import Scene
from .sensor import sample

IDLE_S = (2.0, 15.0)  # idle between two gestures (and before the first), s


def make_recording(subj, r, seconds, pos_share, partial_share):
    """One continuous recording of `seconds` s.  Returns (values, labels, events,
    context, posture): values as in a window (frame-major x y z), one label and
    one event number per frame, events as (number, kind, label, first, last)."""
    n = int(round(seconds * FS))
    # the scene spans the whole recording (no --history: the options exclude each other)
    T = Timing(n)
    sc = Scene(subj, r, T)
    c = pick(r, CONTEXTS)
    make_context(sc, c)
    ctx = sc.ctx
    table = [(k, w) for k, w in negative_tables(partial_share)[0] if k != "context"]
    gestures = []  # (start, end, motion or None, label, kind, onset, raise duration)
    t = r.uniform(*IDLE_S)
    while True:
        kind = "bts" if r.random() < pos_share else pick(r, table)
        allowed = ALLOWED.get(kind)
        if allowed is not None and c not in allowed:
            continue
        n_pulses = len(sc.pulses)
        sc.motion = ctx
        label, kind = add_gesture(sc, r, kind, onset=t)
        m = sc.motion
        if isinstance(m, Blend):
            t0, t1 = m.a + min(0.0, m.lag), m.b + m.d2 + max(0.0, m.lag)
            d1 = m.d1
        else:  # knocks on the context
            m, t0, d1 = None, t, 0.0
            t1 = max(p.t0 + (6.0 if p.ring > 0.0 else 1.0) * p.dur for p in sc.pulses[n_pulses:])
        if t1 > T.window - 2.5:
            del sc.pulses[n_pulses:]
            break
        gestures.append((t0, t1, m, label, kind, t, d1))
        t = t1 + r.uniform(*IDLE_S)
    sc.motion = Chain(ctx, [(g[0], g[1], g[2]) for g in gestures if g[2] is not None])
    values = sample(sc)
    # frame k is sampled at k DT (1 + clock); a frame is labelled 1 when the window of
    # the last STEPS frames ending at it is a positive window: it holds the start of a
    # bring-to-see raise, the complete raise and >= 0.3 s of the hold
    period = DT * (1.0 + subj.clock)
    span = (STEPS - 1) * period  # STEPS: a window's, not the recording's
    labels, event_of, events = [0] * n, [0] * n, []
    for e, (t0, t1, _, label, kind, a, d1) in enumerate(gestures, 1):
        first, last = int(math.ceil(t0 / period)), int(math.floor(t1 / period))
        if label:
            lo, hi = int(math.ceil((a + d1 + 0.3) / period)), int(math.floor((a + span) / period))
            for k in range(lo, min(hi, n - 1) + 1):
                labels[k] = 1
            last = max(last, hi)
        last = min(last, n - 1)
        for k in range(first, last + 1):
            event_of[k] = e
        events.append((e, kind, label, first, last))
    return values, labels, event_of, events, sc.context, sc.posture
