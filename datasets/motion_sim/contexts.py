"""Contexts: what the arm does when nothing else happens (standing, walking,
running, desk work, lap, lying).  make_context sets the scene's posture, sitting
geometry and its context motion sc.ctx, plus the body bounce and pulses."""

import math

from .config import DEG
from .geometry import direction, qmul, qvec, vadd, vscale, vunit
from .motions import Swing, Track
from .profiles import Osc, Pulse


def hang_pose(sc, flex_max=35.0):
    r = sc.r
    e = direction(r.uniform(-30.0, 30.0), -90.0 + r.uniform(0.0, 15.0))
    u = direction(r.uniform(-25.0, 15.0), -90.0 + r.uniform(0.0, flex_max))
    W = sc.arm_wrist(e, u)
    return sc.anat(W, u, (0.0, 1.0, 0.0), r.uniform(-30.0, 45.0))


def add_fidget(sc, track, p=0.3):
    r = sc.r
    if r.random() >= p:
        return
    W, q = track.W0, track.q0
    t0 = r.uniform(-0.3, sc.timing.window - 0.3)
    dW = vscale(vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1))), r.uniform(0.02, 0.06))
    dq = qvec(vscale(vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1))),
                     r.uniform(5.0, 15.0) * DEG))
    track.move(t0, r.uniform(0.3, 0.8), vadd(W, dW), qmul(dq, q))


def make_context(sc, name):
    """Set up context `name` (see kinds.CONTEXTS) in scene sc."""
    s, r = sc.subj, sc.r
    sc.context = name
    if name in ("desk", "lap"):
        sc.sitting = True
        sc.S, sc.E = s.geometry(True)
    sc.desk = None
    if name == "stand":
        W, q = hang_pose(sc)
        tr = Track(W, q)
        add_fidget(sc, tr)
        sc.ctx = tr
    elif name in ("walk", "run"):
        run = name == "run"
        if run:
            f = r.uniform(1.25, 1.5)
            amp, B, heel = r.uniform(25.0, 40.0), r.uniform(0.03, 0.05), (0.3, 0.8)
            e = direction(r.uniform(-10.0, 10.0), -90.0 + r.uniform(0.0, 15.0))
            u = direction(r.uniform(-40.0, -5.0), r.uniform(-15.0, 15.0))
            W, q = sc.anat(sc.arm_wrist(e, u), u, (0.0, 1.0, 0.0), r.uniform(-20.0, 30.0))
        else:
            f = s.stride * r.uniform(0.95, 1.05)
            amp, B, heel = s.swing * r.uniform(0.8, 1.2), s.bounce * r.uniform(0.85, 1.15), (0.1, 0.35)
            W, q = hang_pose(sc, 25.0)
        ph = r.uniform(0.0, 2.0 * math.pi)
        sc.ctx = Swing(sc.S, W, q, r.uniform(0.0, 8.0) * DEG, amp * DEG, f, ph)
        # body: vertical bounce and forward surge at the step rate, sway at the stride rate
        pb = r.uniform(0.0, 2.0 * math.pi)
        sc.bounce = [Osc((0.0, 0.0, B), 2.0 * f, pb),
                       Osc((0.3 * B, 0.0, 0.0), 2.0 * f, pb + 1.2),
                       Osc((0.0, r.uniform(0.01, 0.02), 0.0), f, ph + 0.5)]
        step = 0.5 / f
        t = -sc.timing.history - r.uniform(0.0, step)
        while t < sc.timing.window + 0.2:
            sc.pulses.append(Pulse(t, r.uniform(0.04, 0.07),
                                     (r.gauss(0.0, 0.05), r.gauss(0.0, 0.05),
                                      r.uniform(*heel))))
            t += step * r.uniform(0.96, 1.04)
    elif name == "desk":
        W = (r.uniform(0.28, 0.45) * s.h, r.uniform(0.02, 0.20), 0.73 + r.uniform(0.02, 0.05))
        az = r.uniform(-40.0, 5.0)
        u = direction(az, r.uniform(-5.0, 10.0))
        W, q = sc.anat(W, u, (0.0, 0.0, 1.0), r.uniform(-15.0, 25.0))
        sc.desk = (W, az)
        tr = Track(W, q)
        act = r.random()
        if act < 0.45:  # typing: key strikes and slow drift of the hand
            sc.context = "desk-typing"
            t = -sc.timing.history - r.uniform(0.0, 0.3)
            while t < sc.timing.window + 0.1:
                sc.pulses.append(Pulse(t, r.uniform(0.03, 0.07),
                                         (r.gauss(0, 0.02), r.gauss(0, 0.02),
                                          -r.uniform(0.02, 0.12)), r.uniform(8.0, 14.0)))
                t += r.expovariate(r.uniform(4.0, 8.0))
            tr.posc.append(Osc((0.0, r.uniform(0.005, 0.02), 0.0), r.uniform(0.3, 1.0),
                               r.uniform(0, 6.3)))
        elif act < 0.7:  # mouse
            sc.context = "desk-mouse"
            for _ in range(2):
                tr.posc.append(Osc((r.uniform(-0.04, 0.04), r.uniform(-0.04, 0.04), 0.0),
                                   r.uniform(0.4, 1.5), r.uniform(0, 6.3)))
            tr.rosc.append(Osc((0.0, 0.0, r.uniform(2.0, 6.0) * DEG), r.uniform(0.4, 1.5),
                               r.uniform(0, 6.3)))
        else:
            sc.context = "desk-still"
            add_fidget(sc, tr)
        sc.ctx = tr
    elif name == "lap":
        if r.random() < 0.3:
            sc.set_posture("reclined", r.uniform(20.0, 45.0))
        W = (r.uniform(0.25, 0.40) * s.h, r.uniform(0.08, 0.22), 0.46 + 0.16 * s.h)
        u = direction(r.uniform(-35.0, 15.0), r.uniform(-35.0, -5.0))
        W, q = sc.anat(W, u, (0.0, 0.0, 1.0), r.uniform(-20.0, 70.0))
        tr = Track(W, q)
        add_fidget(sc, tr)
        sc.ctx = tr
    elif name == "lie":
        sc.set_posture("lying", 90.0 - r.uniform(0.0, 25.0))
        if r.random() < 0.5:  # arm beside the body, palm down on the bed
            e = direction(r.uniform(-10.0, 10.0), -90.0 + r.uniform(0.0, 10.0))
            u = direction(r.uniform(-20.0, 10.0), -90.0 + r.uniform(0.0, 20.0))
            W = sc.arm_wrist(e, u)
            W, q = sc.anat(W, u, (1.0, 0.0, 0.0), r.uniform(-30.0, 30.0))
        else:  # hand on the belly
            W = (0.18 * s.h, r.uniform(-0.02, 0.10), 1.0 * s.h)
            u = direction(r.uniform(-100.0, -60.0), r.uniform(-20.0, 0.0))
            W, q = sc.anat(W, u, (1.0, 0.0, 0.0), r.uniform(-30.0, 30.0))
        tr = Track(W, q)
        add_fidget(sc, tr, 0.2)
        sc.ctx = tr
    else:
        raise ValueError(name)

# --- sampling ---
