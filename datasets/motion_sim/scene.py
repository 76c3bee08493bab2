"""A scene: one subject in one posture and context, the motion of the wrist in it,
and the poses gestures are built from (anatomical poses, the viewing pose, the
overshoot on arrival).  contexts.py fills in the context, gestures.py the motion,
sensor.py samples it."""

import math

from .config import DEG
from .geometry import (QID, direction, frame_x, frame_z, qaxis, qmul, qrot, qvec, vadd,
                       vscale, vsub, vunit)
from .profiles import Osc


class Scene:
    """Everything one window (or recording) needs: a body-frame motion plus
    world-frame extras, over the time span of `timing` (config.Timing)."""

    def __init__(self, subj, r, timing):
        self.subj, self.r, self.timing = subj, r, timing
        self.desk = None  # (wrist position, forearm azimuth) at a desk
        self.context = ""
        self.posture = "upright"
        self.qP = QID  # body -> world
        self.sitting = False
        self.motion = None
        self.ctx = None
        self.bounce = []  # position oscillators, world frame
        self.pulses = []  # acceleration pulses, world frame (g)
        # per-window strap slip on top of the subject's strap rotation
        band = (subj.band + r.uniform(-4.0, 4.0)) * DEG
        self.q_mount = qmul(qaxis((1.0, 0.0, 0.0), band), qvec(subj.tilt))
        self.S, self.E = subj.geometry(False)

    # --- poses ---

    def anat(self, W, u, nhint, roll_deg=0.0):
        """Anatomical pose: forearm along u, back of the wrist toward nhint turned by
        roll about the forearm, then the watch's mounting."""
        x = vunit(u)
        n = qrot(qaxis(x, roll_deg * DEG), nhint)
        return (W, qmul(frame_x(x, n), self.q_mount))

    def arm_wrist(self, e, u):
        """Wrist position for upper-arm direction e and forearm direction u."""
        s = self.subj
        return vadd(vadd(self.S, vscale(vunit(e), s.L1)), vscale(vunit(u), s.L2))

    def view_pose(self, desk=None):
        """The BTS target: in front of the face, screen toward the eyes."""
        s, r = self.subj, self.r
        if desk is not None:  # elbow stays on the desk: lift and turn the forearm
            W0, az0 = desk
            W = vadd(W0, (r.uniform(-0.05, 0.05), r.uniform(0.0, 0.08), r.uniform(0.08, 0.20)))
            u = direction(az0 + r.uniform(-25.0, 0.0), r.uniform(20.0, 45.0))
        elif self.posture == "lying":
            W = vadd(self.E, (r.uniform(0.25, 0.45), r.uniform(-0.05, 0.15),
                              r.uniform(-0.25, 0.0)))
            u = direction(r.uniform(-100.0, -50.0), r.uniform(-10.0, 30.0))
        else:
            W = vadd(self.E, (r.uniform(0.20, 0.35) * s.h, r.uniform(-0.04, 0.14),
                              r.uniform(-0.42, -0.22) * s.h))
            u = direction(s.view_az + r.gauss(0.0, 8.0), s.view_el + r.gauss(0.0, 6.0))
        q = frame_z(vsub(self.E, W), u)
        return W, q

    def aim_offset(self, q, lo, hi):
        """Turn q about a random axis in the screen plane by lo..hi deg."""
        r = self.r
        ang = r.uniform(0.0, 2.0 * math.pi)
        d = r.uniform(lo, hi) * DEG
        return qmul(q, qvec((d * math.cos(ang), d * math.sin(ang), 0.0)))

    def settle(self, track, t_arrive):
        """Small damped overshoot after an arrival."""
        r = self.r
        f = r.uniform(2.0, 4.0)
        ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)))
        track.rosc.append(Osc(vscale(ax, r.uniform(1.0, 4.0) * DEG), f, 0.0, t_on=t_arrive,
                              tau=r.uniform(0.12, 0.3)))
        ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)))
        track.posc.append(Osc(vscale(ax, r.uniform(0.002, 0.008)), r.uniform(2.0, 3.5), 0.0,
                              t_on=t_arrive, tau=r.uniform(0.1, 0.25)))

    def set_posture(self, name, angle_deg):
        self.posture = name
        # rotating the body backward about its left-right axis
        self.qP = qaxis((0.0, 1.0, 0.0), -angle_deg * DEG)
