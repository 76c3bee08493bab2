"""The raise toward the face: bring-to-see (label 1) and its look-alikes that
stay negatives: the partial raise and the near miss (screen turned away)."""

import math

from .config import DEG, INF
from .geometry import qmul, qslerp, qvec, vlerp
from .kinds import arm_lag, onset_time
from .motions import Blend, Track


def desk_variant(sc, r):
    """At a desk, 40 % of raises keep the elbow on it: the desk pose, else None."""
    return sc.desk if (sc.desk is not None and r.random() < 0.4) else None


def bts(sc, r, onset):
    """Label 1: raise to the viewing pose, screen toward the eyes, hold (and maybe lower)."""
    subj = sc.subj
    ctx = sc.ctx
    W, q = sc.view_pose(desk_variant(sc, r))
    off = (subj.view_off[0] + r.gauss(0.0, 6.0), subj.view_off[1] + r.gauss(0.0, 6.0))
    n = math.hypot(*off)
    if n > 25.0:
        off = (off[0] * 25.0 / n, off[1] * 25.0 / n)
    q = qmul(q, qvec((off[0] * DEG, off[1] * DEG, 0.0)))
    d1 = subj.raise_time(r)
    h_in = r.uniform(0.3, 0.8)
    if d1 + h_in > sc.timing.window:
        h_in = 0.3
    if onset is None:
        a = r.uniform(0.0, sc.timing.window - d1 - h_in)
        b, d2 = INF, 0.6
        if r.random() < 0.25 and sc.timing.window - (a + d1 + 0.5) > 0.2:
            b = a + d1 + r.uniform(0.5, sc.timing.window - (a + d1) - 0.1)
            d2 = r.uniform(0.4, 1.0)
    else:  # a look at the watch: hold 0.5-3 s, then lower the arm
        a = onset
        b, d2 = a + d1 + r.uniform(0.5, 3.0), r.uniform(0.4, 1.0)
    tgt = Track(W, q)
    sc.settle(tgt, a + d1)
    sc.motion = Blend(ctx, tgt, a, d1, b, d2, arm_lag(r, d1))
    return 1, "bts"


def partial(sc, r, onset):
    """Hard negatives: a raise less than half done at the window's end, an
    aborted raise taken back, or the lowering from the viewing pose alone."""
    subj = sc.subj
    ctx = sc.ctx
    W, q = sc.view_pose(desk_variant(sc, r))
    q = sc.aim_offset(q, 0.0, 20.0)
    d1 = subj.raise_time(r)
    how = r.random()
    if onset is not None:
        how = 0.5  # a recording has no window end: only the aborted raise
    tgt = Track(W, q)
    if how < 0.4:  # raise still under way (< half done) when the window ends
        kind = "partial-late"
        a = r.uniform(sc.timing.window - 0.5 * d1, sc.timing.window - 0.1 * d1)
        sc.motion = Blend(ctx, tgt, a, d1, lag=arm_lag(r, d1))
    elif how < 0.75:  # aborted: 25-60 % of the way, then back
        kind = "partial-abort"
        frac = r.uniform(0.25, 0.6)
        dd = d1 * math.sqrt(frac)
        hold, d2 = r.uniform(0.0, 0.3), r.uniform(0.3, 0.8)
        # the way back ends inside the window
        a = r.uniform(-0.3 * dd, max(-0.3 * dd, sc.timing.window - (dd + hold + d2)))
        if onset is not None:
            a = onset
        W0, q0 = ctx.pos(a), ctx.rot(a)
        tgt = Track(vlerp(W0, W, frac), qslerp(q0, q, frac))
        sc.motion = Blend(ctx, tgt, a, dd, a + dd + hold, d2)
    else:  # the end of a look at the watch: hold, then lower; no raise in view
        kind = "partial-lower"
        b = r.uniform(0.1, 1.2)
        sc.motion = Blend(ctx, tgt, -10.0, 1.0, b, r.uniform(0.4, 1.0), arm_lag(r, 0.6))
    return 0, kind


def nearmiss(sc, r, onset):
    """The BTS raise and hold, the screen 45-120 deg away from the eyes."""
    subj = sc.subj
    ctx = sc.ctx
    W, q = sc.view_pose(desk_variant(sc, r))
    q = sc.aim_offset(q, 45.0, 120.0)
    d1 = subj.raise_time(r)
    hold = r.uniform(0.2, 2.0)
    a = onset_time(sc, r, onset, d1 + hold)
    tgt = Track(W, q)
    sc.settle(tgt, a + d1)
    sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), arm_lag(r, d1))
    return 0, "nearmiss"
