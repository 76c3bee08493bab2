"""Motions of the wrist: every motion has pos(t) (wrist, body frame, m) and
rot(t) (device -> body).  Track holds and moves between poses, Swing is the
walking arm, Blend leaves a context for a gesture and comes back, Chain puts
gestures of a continuous recording in turn."""

import bisect
import math

from .config import INF
from .geometry import qaxis, qmul, qrot, qslerp, qvec, vadd, vlerp, vsub
from .profiles import minjerk, osc_sum


class Track:
    """Holds and minimum-jerk moves between poses, plus oscillations: position
    oscillators add to the wrist position (body frame), rotation oscillators
    turn the device about its own axes."""

    def __init__(self, W, q):
        self.W0, self.q0 = W, q
        self.moves = []  # (t0, t1, Wa, Wb, qa, qb, lag)
        self.posc = []
        self.rosc = []

    def last(self):
        if self.moves:
            m = self.moves[-1]
            return m[1], m[3], m[5]
        return -INF, self.W0, self.q0

    def move(self, t0, dur, W, q, lag=0.0):
        t_end, Wa, qa = self.last()
        assert t0 >= t_end
        self.moves.append((t0, t0 + dur, Wa, W, qa, q, lag))
        return t0 + dur

    def base(self, t, rotation):
        W, q = self.W0, self.q0
        for (t0, t1, Wa, Wb, qa, qb, lag) in self.moves:
            if rotation:
                t0, t1 = t0 + lag, t1 + lag
            if t >= t1:
                W, q = Wb, qb
                continue
            if t > t0:
                s = minjerk((t - t0) / (t1 - t0))
                if rotation:
                    return qslerp(qa, qb, s)
                return vlerp(Wa, Wb, s)
            break
        return q if rotation else W

    def pos(self, t):
        W = self.base(t, False)
        if self.posc:
            W = vadd(W, osc_sum(self.posc, t))
        return W

    def rot(self, t):
        q = self.base(t, True)
        if self.rosc:
            q = qmul(q, qvec(osc_sum(self.rosc, t)))
        return q


class Swing:
    """An arm swinging as a pendulum about the shoulder's left-right axis
    (walking, running): angle th0 + A sin(2 pi f t + ph), hand forward for
    positive angles."""

    def __init__(self, shoulder, W, q, th0, amp, freq, phase):
        self.S, self.r, self.q = shoulder, vsub(W, shoulder), q
        self.th0, self.amp, self.w, self.ph = th0, amp, 2.0 * math.pi * freq, phase

    def angle(self, t):
        return self.th0 + self.amp * math.sin(self.w * t + self.ph)

    def pos(self, t):
        # a positive rotation about +y would carry the hand backward
        return vadd(self.S, qrot(qaxis((0.0, 1.0, 0.0), -self.angle(t)), self.r))

    def rot(self, t):
        return qmul(qaxis((0.0, 1.0, 0.0), -self.angle(t)), self.q)


class Blend:
    """Leave the context motion for a target motion and (maybe) come back:
    weight 0 -> 1 over [a, a + d1] (minimum jerk), 1 until b, 1 -> 0 over
    [b, b + d2].  The orientation's weight runs `lag` seconds behind."""

    def __init__(self, ctx, tgt, a, d1, b=INF, d2=0.5, lag=0.0):
        self.ctx, self.tgt = ctx, tgt
        self.a, self.d1, self.b, self.d2, self.lag = a, d1, b, d2, lag

    def weight(self, t):
        if t <= self.a:
            return 0.0
        if t < self.a + self.d1:
            return minjerk((t - self.a) / self.d1)
        if t <= self.b:
            return 1.0
        return 1.0 - minjerk((t - self.b) / self.d2)

    def pos(self, t):
        w = self.weight(t)
        if w <= 0.0:
            return self.ctx.pos(t)
        if w >= 1.0:
            return self.tgt.pos(t)
        return vlerp(self.ctx.pos(t), self.tgt.pos(t), w)

    def rot(self, t):
        w = self.weight(t - self.lag)
        if w <= 0.0:
            return self.ctx.rot(t)
        if w >= 1.0:
            return self.tgt.rot(t)
        return qslerp(self.ctx.rot(t), self.tgt.rot(t), w)


class Chain:
    """A context with motions in turn: parts (start, end, motion) in time order,
    not overlapping, each a Blend of that context; outside them the context."""

    def __init__(self, ctx, parts):
        self.ctx, self.parts = ctx, parts
        self.starts = [p[0] for p in parts]

    def at(self, t):
        i = bisect.bisect_right(self.starts, t) - 1
        if i >= 0 and t <= self.parts[i][1]:
            return self.parts[i][2]
        return self.ctx

    def pos(self, t):
        return self.at(t).pos(t)

    def rot(self, t):
        return self.at(t).rot(t)
