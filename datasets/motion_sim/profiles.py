"""Time profiles: the minimum-jerk ramp, oscillations under an envelope, and
acceleration pulses (knocks, heel strikes, key strikes)."""

import math

from .config import INF


def minjerk(s):
    """Minimum-jerk position profile on [0, 1]: 0 -> 1 with zero velocity and
    acceleration at both ends."""
    if s <= 0.0:
        return 0.0
    if s >= 1.0:
        return 1.0
    return s * s * s * (10.0 + s * (-15.0 + 6.0 * s))


def envelope(t, t_on, t_off, ramp):
    """1 on [t_on + ramp, t_off - ramp], minimum-jerk ramps at both ends, 0 outside."""
    if t <= t_on or t >= t_off:
        return 0.0
    r = min(ramp, 0.5 * (t_off - t_on))
    if r <= 0.0:
        return 1.0
    return min(minjerk((t - t_on) / r), minjerk((t_off - t) / r))


class Osc:
    """A sinusoid times an envelope: windowed (t_on..t_off, ramps) or decaying
    (starts at t_on with a minimum-jerk ramp over a quarter period, then
    exp(-(t - t_on)/tau))."""

    __slots__ = ("amp", "w", "ph", "t_on", "t_off", "ramp", "tau")

    def __init__(self, amp, freq, phase, t_on=-INF, t_off=INF, ramp=0.15, tau=None):
        self.amp = amp  # vector (position, m) or rotation vector (rad)
        self.w = 2.0 * math.pi * freq
        self.ph = phase
        self.t_on, self.t_off, self.ramp, self.tau = t_on, t_off, ramp, tau
        if tau is not None:
            self.ramp = 0.25 / freq

    def value(self, t):
        if self.tau is not None:
            if t <= self.t_on:
                return 0.0
            u = t - self.t_on
            if u > 8.0 * self.tau:
                return 0.0
            e = minjerk(u / self.ramp) * math.exp(-u / self.tau)
            return e * math.sin(self.w * u + self.ph)
        if self.t_on == -INF and self.t_off == INF:
            return math.sin(self.w * t + self.ph)
        e = envelope(t, self.t_on, self.t_off, self.ramp)
        if e == 0.0:
            return 0.0
        return e * math.sin(self.w * t + self.ph)


def osc_sum(oscs, t):
    x = y = z = 0.0
    for o in oscs:
        v = o.value(t)
        if v != 0.0:
            x += o.amp[0] * v
            y += o.amp[1] * v
            z += o.amp[2] * v
    return (x, y, z)


class Pulse:
    """An acceleration pulse in the world frame (g): a half sine of width `dur`,
    or, with ring > 0, a decaying oscillation at `ring` Hz."""

    __slots__ = ("t0", "dur", "vec", "ring")

    def __init__(self, t0, dur, vec, ring=0.0):
        self.t0, self.dur, self.vec, self.ring = t0, dur, vec, ring

    def value(self, t):
        u = t - self.t0
        if u <= 0.0:
            return 0.0
        if self.ring <= 0.0:
            return math.sin(math.pi * u / self.dur) if u < self.dur else 0.0
        if u > 6.0 * self.dur:
            return 0.0
        return math.exp(-u / self.dur) * math.sin(2.0 * math.pi * self.ring * u)
