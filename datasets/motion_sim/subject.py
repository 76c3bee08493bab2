"""One simulated person and their watch: body size, habits, gesture speed,
tremor, and the sensor's errors (bias, scale, noise, clock), all drawn from the
subject's own seed."""

import math
import random

from .config import DEG
from .geometry import vscale, vunit


class Subject:
    """One simulated person wearing one watch."""

    def __init__(self, sid, seed):
        self.id = sid
        self.seed = seed
        r = random.Random(seed)
        self.h = r.uniform(0.88, 1.12)
        self.hand = "left" if r.random() < 0.8 else "right"
        self.mount = "normal"
        if self.hand == "right" and r.random() < 0.25:
            self.mount = "turned"  # crown toward the hand on the right wrist
        # sensor-side sign flip of a mirrored (right-wrist) wearer, see docstring
        if self.hand == "left":
            self.flip = (1.0, 1.0, 1.0)
        elif self.mount == "normal":
            self.flip = (-1.0, 1.0, 1.0)
        else:
            self.flip = (1.0, -1.0, 1.0)
        self.band = r.uniform(-15.0, 15.0)  # deg, strap rotation about the forearm
        self.tilt = vscale(vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1))),
                           r.uniform(0.0, 4.0) * DEG)
        self.raise_s = r.uniform(0.5, 1.0)  # mean BTS raise duration
        self.view_az = r.uniform(-80.0, -45.0)
        self.view_el = r.uniform(0.0, 30.0)
        ang, rad = r.uniform(0.0, 2.0 * math.pi), 15.0 * math.sqrt(r.random())
        self.view_off = (rad * math.cos(ang), rad * math.sin(ang))  # deg, screen habit
        self.tremor = r.uniform(0.003, 0.025)  # g
        self.tremor_f = r.uniform(5.0, 11.0)  # Hz
        self.sway = r.uniform(0.5, 2.5)  # deg
        self.stride = r.uniform(0.8, 1.0)  # Hz
        self.swing = r.uniform(10.0, 30.0)  # deg
        self.bounce = r.uniform(0.015, 0.03)  # m
        self.bias = tuple(r.uniform(-0.05, 0.05) for _ in range(3))  # g
        self.scale = tuple(r.uniform(0.97, 1.03) for _ in range(3))
        self.noise = r.uniform(0.010, 0.020)  # g
        self.clock = r.uniform(-0.01, 0.01)
        self.L1, self.L2 = 0.30 * self.h, 0.26 * self.h

    def geometry(self, sitting):
        h = self.h
        if sitting:
            return (-0.02, 0.19 * h, 0.46 + 0.58 * h), (0.08 * h, 0.0, 0.46 + 0.78 * h)
        return (0.0, 0.19 * h, 1.42 * h), (0.09 * h, 0.0, 1.62 * h)

    def raise_time(self, r):
        return min(1.2, max(0.4, self.raise_s * r.uniform(0.8, 1.25)))
