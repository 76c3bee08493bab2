"""The other negative gestures (label 0): drink, head, phone, fold, reach, wave,
burst and random poses.  Each builds a target track and blends the context into
it and back."""

import math

from .config import DEG
from .geometry import (direction, qaxis, qmul, screen_normal, vadd, vangle, vscale, vsub,
                       vunit)
from .kinds import arm_lag, onset_time
from .motions import Blend, Track
from .profiles import Osc, Pulse


def drink(sc, r, onset):
    """Raise a cup to the mouth, tilt it, sip, put it down."""
    subj = sc.subj
    ctx = sc.ctx
    E = sc.E
    mouth = vadd(E, (0.02, 0.0, -0.08))
    W = vadd(mouth, (r.uniform(0.05, 0.09), r.uniform(0.02, 0.08), r.uniform(-0.10, -0.04)))
    u = direction(r.uniform(-70.0, -20.0), r.uniform(35.0, 70.0))
    away = vsub(W, mouth)
    W, q = sc.anat(W, u, (away[0], away[1], 0.0), r.uniform(-20.0, 20.0))
    d1 = subj.raise_time(r) * r.uniform(1.0, 1.3)
    tilt_d, sip = r.uniform(0.3, 0.6), r.uniform(0.3, 1.5)
    a = onset_time(sc, r, onset, d1 + 2 * tilt_d + sip)
    tgt = Track(W, q)
    qt = qmul(q, qaxis((1.0, 0.0, 0.0), r.uniform(15.0, 40.0) * DEG * (1 if r.random() < 0.5 else -1)))
    qt = qmul(qaxis((0.0, 1.0, 0.0), -r.uniform(0.0, 15.0) * DEG), qt)
    t1 = tgt.move(a + d1 + 0.05, tilt_d, W, qt)
    t2 = tgt.move(t1 + sip, tilt_d, W, q)
    sc.motion = Blend(ctx, tgt, a, d1, t2 + r.uniform(0.0, 0.2), r.uniform(0.5, 1.0), arm_lag(r, d1))
    return 0, "drink"


def head(sc, r, onset):
    """Scratch the head, adjust glasses or touch the face."""
    subj = sc.subj
    ctx = sc.ctx
    E = sc.E
    d1 = subj.raise_time(r) * r.uniform(0.9, 1.3)
    what = r.random()
    if what < 0.5:
        kind = "head-scratch"
        W = vadd(E, (r.uniform(0.0, 0.10), r.uniform(0.0, 0.12), r.uniform(0.0, 0.15)))
    elif what < 0.8:
        kind = "head-glasses"
        W = vadd(E, (r.uniform(0.08, 0.14), r.uniform(0.02, 0.08), r.uniform(-0.12, -0.05)))
    else:
        kind = "head-face"
        W = vadd(E, (r.uniform(0.06, 0.12), r.uniform(0.0, 0.10), r.uniform(-0.25, -0.12)))
    u = direction(r.uniform(-60.0, 0.0), r.uniform(50.0, 85.0))
    away = vsub(W, E)
    W, q = sc.anat(W, u, (away[0] + 0.05, away[1] + 0.05, 0.0), r.uniform(-30.0, 30.0))
    hold = r.uniform(0.5, 2.0) if kind == "head-scratch" else r.uniform(0.2, 0.8)
    a = onset_time(sc, r, onset, d1 + hold)
    tgt = Track(W, q)
    if kind == "head-scratch":
        ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 0.5)))
        f = r.uniform(2.5, 5.0)
        tgt.posc.append(Osc(vscale(ax, r.uniform(0.003, 0.012)), f, 0.0, a + d1, a + d1 + hold, 0.15))
        tgt.rosc.append(Osc((r.uniform(5, 15) * DEG, 0.0, r.uniform(0, 8) * DEG), f, 0.5,
                            a + d1, a + d1 + hold, 0.1))
    else:
        sc.settle(tgt, a + d1)
    sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), arm_lag(r, d1))
    return 0, kind


def phone(sc, r, onset):
    """Hold a phone in front of the face: the palm, not the watch, faces the eyes."""
    subj = sc.subj
    ctx = sc.ctx
    E = sc.E
    W, _ = sc.view_pose()
    u = direction(subj.view_az + r.gauss(0.0, 10.0), subj.view_el + r.gauss(0.0, 8.0))
    toward = vsub(E, W)
    # the palm (device -z) faces the eyes: the back of the wrist points away
    W, q = sc.anat(W, u, vscale(toward, -1.0), r.uniform(-35.0, 35.0))
    d1 = subj.raise_time(r)
    hold = r.uniform(0.5, 3.0)
    a = onset_time(sc, r, onset, d1 + hold)
    tgt = Track(W, q)
    sc.settle(tgt, a + d1)
    tgt.posc.append(Osc((0.0, 0.0, r.uniform(0.001, 0.003)), r.uniform(2.0, 4.0), 0.0,
                        a + d1, a + d1 + hold))
    sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), arm_lag(r, d1))
    return 0, "phone"


def fold(sc, r, onset):
    """Fold the arms or put the hand in a trouser pocket."""
    subj = sc.subj
    ctx = sc.ctx
    d1 = subj.raise_time(r)
    if r.random() < 0.6:
        kind = "fold-arms"
        W = (0.15 * subj.h, r.uniform(-0.08, 0.05), sc.S[2] - r.uniform(0.15, 0.25))
        u = direction(r.uniform(-100.0, -80.0), r.uniform(-10.0, 10.0))
        W, q = sc.anat(W, u, (1.0, 0.0, 0.0), r.uniform(-30.0, 30.0))
    else:
        kind = "fold-pocket"
        W = (r.uniform(0.02, 0.08), r.uniform(0.17, 0.22), sc.S[2] - 0.48 * subj.h)
        u = direction(r.uniform(-20.0, 20.0), -90.0 + r.uniform(10.0, 40.0))
        W, q = sc.anat(W, u, (0.0, 1.0, 0.0), r.uniform(-20.0, 60.0))
    hold = r.uniform(0.5, 3.0)
    a = onset_time(sc, r, onset, d1 + hold)
    tgt = Track(W, q)
    sc.settle(tgt, a + d1)
    sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), arm_lag(r, d1))
    return 0, kind


def reach(sc, r, onset):
    """Reach for something (desk or shelf), grasp, come back."""
    subj = sc.subj
    ctx = sc.ctx
    d1 = subj.raise_time(r) * r.uniform(0.8, 1.2)
    if sc.desk is not None:
        W0 = sc.desk[0]
        W = vadd(W0, (r.uniform(0.15, 0.35), r.uniform(-0.15, 0.15), r.uniform(0.0, 0.15)))
    else:
        W = vadd(sc.S, (r.uniform(0.35, 0.55) * subj.h, r.uniform(-0.1, 0.2),
                        r.uniform(-0.3, 0.3)))
    u = direction(r.uniform(-30.0, 20.0), r.uniform(-10.0, 40.0))
    W, q = sc.anat(W, u, (0.0, 0.0, 1.0), -r.uniform(0.0, 100.0))
    hold = r.uniform(0.1, 0.6)
    a = onset_time(sc, r, onset, 2 * d1 + hold)
    tgt = Track(W, q)
    sc.settle(tgt, a + d1)
    sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, d1 * r.uniform(0.9, 1.2), arm_lag(r, d1))
    return 0, "reach"


def wave(sc, r, onset):
    """Raise the forearm and wave."""
    subj = sc.subj
    ctx = sc.ctx
    d1 = subj.raise_time(r)
    e = direction(r.uniform(0.0, 40.0), -60.0 + r.uniform(0.0, 50.0))
    u = direction(r.uniform(-20.0, 30.0), r.uniform(50.0, 90.0))
    W = sc.arm_wrist(e, u)
    W, q = sc.anat(W, u, (-1.0, 0.0, 0.0), r.uniform(-20.0, 20.0))
    hold = r.uniform(0.6, 2.0)
    a = onset_time(sc, r, onset, d1 + hold)
    tgt = Track(W, q)
    f = r.uniform(1.5, 2.5)
    tgt.rosc.append(Osc((r.uniform(15.0, 35.0) * DEG, 0.0, 0.0), f, 0.0, a + d1, a + d1 + hold, 0.2))
    tgt.posc.append(Osc((0.0, r.uniform(0.02, 0.06), 0.0), f, 0.0, a + d1, a + d1 + hold, 0.2))
    sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), arm_lag(r, d1))
    return 0, "wave"


def burst(sc, r, onset):
    """Knocks and bumps on the context, or a wrist shake."""
    ctx = sc.ctx
    if r.random() < 0.6:
        kind = "burst-knock"
        for _ in range(r.randint(1, 4)):
            ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)))
            ring = r.uniform(6.0, 15.0) if r.random() < 0.5 else 0.0
            t0 = r.uniform(-0.05, sc.timing.window) if onset is None else onset + r.uniform(0.0, 1.0)
            sc.pulses.append(Pulse(t0, r.uniform(0.03, 0.12),
                                   vscale(ax, r.uniform(0.3, 2.0)), ring))
        sc.motion = ctx
    else:
        kind = "burst-shake"
        t0 = r.uniform(-0.5, sc.timing.window - 0.3) if onset is None else onset + 0.3
        t1 = t0 + r.uniform(0.4, 1.2)
        f = r.uniform(3.0, 6.0)
        tr = Track(ctx.pos(t0), ctx.rot(t0))
        tr.rosc.append(Osc((r.uniform(15.0, 40.0) * DEG, 0.0, 0.0), f, 0.0, t0, t1, 0.1))
        ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)))
        tr.posc.append(Osc(vscale(ax, r.uniform(0.01, 0.03)), f, 0.3, t0, t1, 0.1))
        sc.motion = Blend(ctx, tr, t0 - 0.3, 0.3, t1, 0.3)
    return 0, kind


def random_poses(sc, r, onset):
    """Two or three random reachable poses in a row, none facing the eyes."""
    subj = sc.subj
    ctx = sc.ctx
    E = sc.E
    n = r.randint(2, 3)
    poses = []
    while len(poses) < n:
        W = vadd(sc.S, vscale(direction(r.uniform(-80.0, 60.0), r.uniform(-70.0, 50.0)),
                              r.uniform(0.3, 0.55) * subj.h))
        u = direction(r.uniform(-100.0, 40.0), r.uniform(-60.0, 60.0))
        W, q = sc.anat(W, u, (0.0, 0.0, 1.0), r.uniform(-180.0, 180.0))
        if math.degrees(vangle(screen_normal(q), vsub(E, W))) >= 45.0:
            poses.append((W, q))
    d = [r.uniform(0.3, 1.0) for _ in range(n)]
    holds = [r.uniform(0.0, 0.6) for _ in range(n)]
    a = onset_time(sc, r, onset, sum(d) + sum(holds))
    tgt = Track(*poses[0])
    t = a + d[0] + holds[0]
    for i in range(1, n):
        t = tgt.move(t, d[i], *poses[i]) + holds[i]
    sc.motion = Blend(ctx, tgt, a, d[0], t, r.uniform(0.4, 1.0), arm_lag(r, d[0]))
    return 0, "random"
