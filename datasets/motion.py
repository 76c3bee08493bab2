#!/usr/bin/env python3
"""Simulated bring-to-see (BTS) wrist-gesture data: a 3-axis accelerometer in a
smartwatch, 20 Hz, 2 s windows (40 x 3 values, in g), two classes.

This stands in for the thesis' BTS data set (Le 2023, sections 3.3.1 and 4.3.1:
"binary detection of the motion of a user's wrist toward their face as a means
of waking a watch", 3-axis accelerometer at 20 Hz, 2 s samples), which is not
public.  It is a physics simulation, not recorded data; see LIMITS below.

usage: datasets/motion.py [--out DIR] [--subjects N] [--windows-per-subject N]
                          [--seed S] [--positive-share P] [--partial-share P]
                          [--small] [--continuous N [--recording-seconds S]]
                          [--history S] [--quiet]
  default DIR: ${QREG_DATA:-$HOME/.local/share/qreg/data}/motion
  defaults: 60 subjects x 100 windows = 6,000 windows, seed 1;
  --small: 12 subjects x 25 windows = 300 windows (for CI, well under 2 s).

OUTPUT (in DIR; "\\n" line ends; values "%.4f" in g)
  train.csv, val.csv, test.csv
      header t0_x,t0_y,t0_z,t1_x,...,t39_z,label; one row per window, the
      120 accelerometer values in time-major order (sample t, axis x/y/z:
      qreg's (T, F) = (40, 3) layout) then label 0 (other) or 1 (bring-to-see).
      No subject column: qreg reads every non-label column as a feature.
      Split BY SUBJECT (about 70/15/15 %): no subject of val or test appears in
      train.  Rows are shuffled.
  subjects.csv
      one row per simulated person: split, wrist, mounting, body scale,
      gesture speed, tremor, sensor noise, bias and scale per axis, counts.
  windows.csv
      one row per window, in the order of the split files: split, row, subject,
      label, kind (which motion produced it), context (what the arm was doing),
      posture.  For error analysis; not a feature file.
  SOURCE.txt
      generator version, arguments, counts, class balance, sha256 of each file.
  stream.csv, stream_events.csv (only with --continuous N)
      N continuous recordings per test subject (--recording-seconds, default
      120): one context with gestures separated by 2-15 s of idle; header
      frame,x,y,z,label,recording,event, x y z in g exactly (count / 512), a
      label per frame (that of the 2 s window ending there) and the number of
      the gesture whose span the frame is in (0: idle); one row per gesture in
      stream_events.csv.  See datasets/README.md.  The files above are the
      same bytes with and without the option.
  With --history S every window is preceded by S s of the same scene (rows of
  40 + 20 S frames, the label that of the last 40).

Same arguments -> same bytes: the only randomness is random.Random(seed) (one
derived stream per subject), values are printed with a fixed "%.4f", nothing
depends on time, dict order or the environment.  (Python's math functions come
from the platform's libm; a different libm could in principle move a value
across a quantization step, so identical bytes are promised per platform.)

MOTION MODEL
  Frames.  Body frame: x forward, y to the left, z up, origin between the feet.
  A posture rotation P (upright, reclined 20-45 deg, lying on the back) turns it
  into the world frame, where gravity is -z.  The device frame is the usual
  smartwatch one: x toward 3 o'clock, y toward 12 o'clock, z out of the screen.
  Everything is simulated for a watch on the LEFT wrist, crown toward the hand
  (device x along the forearm toward the hand, z out of the back of the wrist);
  a right-wrist wearer is the mirror image, which for the sensor is x -> -x
  (crown toward the elbow), or y -> -y when the watch is turned round (crown
  toward the hand).
  Sensor.  The accelerometer measures specific force, in g:
      f = R(t)^T (a(t)/g0 + [0, 0, 1]) + tremor + impulses,
  where R(t) is the device orientation (a unit quaternion, device -> world)
  and a(t) the wrist's linear acceleration, the second derivative of its
  position (central difference, h = 4 ms).  At rest |f| = 1 g and the gravity
  projection is the dominant signal.
  Arm.  Two segments (upper arm 0.30 h, forearm 0.26 h, body scale h
  0.88-1.12); shoulder and eyes at standing or sitting heights.  A pose is a
  wrist position and a device orientation.  Anatomical poses are built from
  the forearm direction and the direction of the back of the wrist, then the
  watch's mounting on the strap is applied (rotation about the forearm,
  per subject +-15 deg plus +-4 deg per window, and a fixed tilt of up to 4 deg).
  Poses that are defined by what the screen faces (looking at the watch) are
  built directly in the device frame.
  Movement.  Between poses, position and orientation follow minimum-jerk
  profiles (10 s^3 - 15 s^4 + 6 s^5; position interpolated linearly, the
  orientation by slerp, the rotation from 5 % of the duration ahead of the
  translation to 15 % behind it).  A gesture starts from the current, possibly
  moving, "context" pose and blends into the target, so velocity stays
  continuous.  Arrivals get a small damped overshoot (1-4 deg, 2-8 mm).
  Contexts (what the arm does when nothing else happens; both classes have
  the same mix of contexts, so the context alone says nothing): standing with the arm hanging (optionally one fidget), walking
  (pendulum arm swing at the stride frequency 0.8-1.0 Hz, +-10-30 deg, body
  bounce 1.5-3 cm at twice that, heel strikes 0.1-0.35 g), running (elbow bent,
  1.25-1.5 Hz, +-25-40 deg, bounce 3-5 cm, heel strikes 0.3-0.8 g), sitting at a
  desk (still, typing: key-strike pulses and hand drift, or using a mouse),
  sitting with the hand on the lap (upright or reclined), lying on the back.
  Always on: postural sway (0.5-2.5 deg, 0.15-1.2 Hz) and physiological tremor
  (0.003-0.025 g, 5-11 Hz, sampled without anti-aliasing as in low-power
  accelerometer modes).

  Positive, label 1 ("bts"): from the context, the wrist rises to in front of
  the face (20-35 cm in front of and 22-42 cm below the eyes; lying: above the
  face) in 0.4-1.2 s (per-subject mean 0.5-1.0 s, x0.8-1.25 per gesture),
  forearm across the body, and the forearm turns so that the screen normal
  points at the eyes (within 25 deg: a per-subject habit plus per-gesture
  scatter).  From a desk, 40 % of gestures keep the elbow on the desk and only
  lift and turn the forearm.  Then it holds still (sway, tremor, the walking
  bounce continue) for at least 0.3 s inside the window; the onset is uniform
  so that raise + 0.3-0.8 s of hold fit in the window, and 25 % of holds end
  and the arm starts to lower inside the window (only after >= 0.5 s of hold).
  Negatives, label 0, same contexts:
    context    the context alone: hanging arm, walking, running, desk work,
               lap, lying (30 % of negatives);
    drink      raise a cup to the mouth (forearm steep, back of the wrist away
               from the face), tilt it 15-40 deg, sip, put it down;
    head       scratch the head (2.5-5 Hz, 0.3-1.2 cm), adjust glasses, touch the face;
    phone      hold a phone in front of the face: same place as the BTS pose but
               the palm, not the watch, faces the eyes;
    fold       fold the arms / hand to a trouser pocket;
    reach      reach for something (desk or shelf), grasp, come back;
    wave       raise the forearm and wave (roll +-15-35 deg at 1.5-2.5 Hz);
    nearmiss   exactly the BTS raise and hold, but the screen points 45-120 deg
               away from the eyes (arm raised for some other reason);
    burst      knocks and bumps (0.3-2 g, 30-120 ms) or a wrist shake;
    random     two or three random reachable poses in a row, none facing the eyes;
    partial    (hard negatives) a BTS raise that is less than half done when
               the window ends; a raise aborted at 25-60 % and taken back
               (back before the window ends); or the lowering from the viewing
               pose without the raise.
  Windows that show a negative gesture start it at a uniform random time, so
  any phase of it (rise, hold, return) can be in the window.

  Device and sampling, per subject: bias +-0.05 g and scale 1 +- 3 % per axis,
  white noise 0.010-0.020 g, sample clock +-1 %; per sample: 1 ms timing jitter;
  3 % of windows have a FIFO glitch (a sample repeated or skipped); output
  quantized to 12 bits over +-4 g (1/512 g steps, clipped at -4 and +4 - 1/512).
  Per subject: 80 % left wrist, 20 % right (a quarter of those with the watch
  turned round); body scale; gesture speed; favourite viewing pose (forearm
  azimuth -80..-45 deg, elevation 0-30 deg) and screen offset; tremor; walking
  stride and swing; sensor errors.

LIMITS (what real data would have that this lacks)
  - Real gestures are not minimum-jerk straight-line moves between a few
    poses: paths curve, the elbow and shoulder add their own dynamics, and
    people hesitate, correct and overlap motions.  Everything here is built
    from a handful of hand-chosen pose distributions; their ranges are
    educated guesses, not fitted to any recording.
  - No gyroscope or magnetometer; no temperature drift, sensor saturation
    dynamics, anti-aliasing filter or cross-axis coupling beyond a fixed tilt.
  - The negative set is a closed list of ~10 behaviours; real "other" data is
    open-ended (sports, driving and vehicle vibration, carrying things,
    sleeping, washing hands, ...) and dominated by hours of idle data.
  - Labels are exact by construction, and the line between classes is
    geometric (screen within 25 deg of the eyes vs 45 deg or more away; raise
    complete plus >= 0.3 s hold vs less than half a raise).  Real labels are
    noisy and the classes overlap, and a real event stream is not cut into
    windows aligned to the gesture.
  - Right-handed people's motions are the exact mirror of left-handed ones.
  So accuracy on this set says how well a model separates these simulated
  classes; it is a stand-in for development and for comparing quantization
  settings, not an estimate of accuracy on a real watch.

Python 3 standard library only.
"""

import argparse
import bisect
import hashlib
import math
import os
import random
import sys
import time

VERSION = "1"

FS = 20.0  # Hz
STEPS = 40  # samples per window (2 s)
DT = 1.0 / FS
WINDOW = STEPS * DT
HISTORY_STEPS = 0  # --history: frames of the same scene before each window
HISTORY = 0.0  # s
G0 = 9.80665  # m/s^2 per g
LSB = 1.0 / 512.0  # 12 bits over +-4 g
QMIN, QMAX = -2048, 2047
H_DIFF = 0.004  # s, step of the central difference for the acceleration

SPLITS = ("train", "val", "test")
DEG = math.pi / 180.0
INF = float("inf")

# ---------------------------------------------------------------- vectors --


def vadd(a, b):
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def vsub(a, b):
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def vscale(a, s):
    return (a[0] * s, a[1] * s, a[2] * s)


def vdot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def vcross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def vnorm(a):
    return math.sqrt(vdot(a, a))


def vunit(a):
    n = vnorm(a)
    return (a[0] / n, a[1] / n, a[2] / n)


def vlerp(a, b, s):
    return (a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s, a[2] + (b[2] - a[2]) * s)


def direction(az_deg, el_deg):
    """Unit vector at azimuth az (0 = forward, + = to the left) and elevation el."""
    az, el = az_deg * DEG, el_deg * DEG
    return (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))


def vangle(a, b):
    c = vdot(a, b) / (vnorm(a) * vnorm(b))
    return math.acos(max(-1.0, min(1.0, c)))


# ------------------------------------------------------------ quaternions --
# (w, x, y, z), unit; q rotates device-frame vectors into the parent frame.

QID = (1.0, 0.0, 0.0, 0.0)


def qmul(a, b):
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


def qconj(q):
    return (q[0], -q[1], -q[2], -q[3])


def qrot(q, v):
    """Rotate vector v by unit quaternion q (q v q*)."""
    w, x, y, z = q
    tx = 2.0 * (y * v[2] - z * v[1])
    ty = 2.0 * (z * v[0] - x * v[2])
    tz = 2.0 * (x * v[1] - y * v[0])
    return (v[0] + w * tx + (y * tz - z * ty),
            v[1] + w * ty + (z * tx - x * tz),
            v[2] + w * tz + (x * ty - y * tx))


def qaxis(axis, angle):
    """Rotation by angle (rad) about axis (any length > 0)."""
    ax = vunit(axis)
    s = math.sin(0.5 * angle)
    return (math.cos(0.5 * angle), ax[0] * s, ax[1] * s, ax[2] * s)


def qvec(r):
    """Rotation vector r (axis * angle, rad) -> quaternion."""
    a = vnorm(r)
    if a < 1e-12:
        return QID
    return qaxis(r, a)


def qnormalize(q):
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def qframe(x, y, z):
    """Quaternion of the rotation whose matrix has columns x, y, z (orthonormal)."""
    m00, m01, m02 = x[0], y[0], z[0]
    m10, m11, m12 = x[1], y[1], z[1]
    m20, m21, m22 = x[2], y[2], z[2]
    tr = m00 + m11 + m22
    if tr > 0.0:
        s = 2.0 * math.sqrt(tr + 1.0)
        q = (0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s)
    elif m00 > m11 and m00 > m22:
        s = 2.0 * math.sqrt(1.0 + m00 - m11 - m22)
        q = ((m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s)
    elif m11 > m22:
        s = 2.0 * math.sqrt(1.0 + m11 - m00 - m22)
        q = ((m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m22 - m00 - m11)
        q = ((m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s)
    return qnormalize(q)


def frame_x(xdir, zhint):
    """Orientation with device x exactly along xdir and z as close to zhint as possible."""
    x = vunit(xdir)
    z = vunit(vsub(zhint, vscale(x, vdot(zhint, x))))
    return qframe(x, vcross(z, x), z)


def frame_z(zdir, xhint):
    """Orientation with device z exactly along zdir and x as close to xhint as possible."""
    z = vunit(zdir)
    x = vunit(vsub(xhint, vscale(z, vdot(xhint, z))))
    return qframe(x, vcross(z, x), z)


def qslerp(a, b, s):
    d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]
    if d < 0.0:
        b = (-b[0], -b[1], -b[2], -b[3])
        d = -d
    if d > 0.9995:
        return qnormalize(tuple(a[i] + (b[i] - a[i]) * s for i in range(4)))
    th = math.acos(d)
    sn = math.sin(th)
    wa = math.sin((1.0 - s) * th) / sn
    wb = math.sin(s * th) / sn
    return (wa * a[0] + wb * b[0], wa * a[1] + wb * b[1], wa * a[2] + wb * b[2],
            wa * a[3] + wb * b[3])


def screen_normal(q):
    """Device z (out of the screen) in the parent frame."""
    return qrot(q, (0.0, 0.0, 1.0))


# ------------------------------------------------------------ profiles --


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


# --------------------------------------------------------------- motions --
# Every motion has pos(t) (wrist, body frame, m) and rot(t) (device -> body).


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


# --------------------------------------------------------------- subjects --


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


# ---------------------------------------------------------------- windows --


class Scene:
    """Everything one window needs: a body-frame motion plus world-frame extras."""

    def __init__(self, subj, r):
        self.subj, self.r = subj, r
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

    # --- contexts ---

    def hang_pose(self, flex_max=35.0):
        r = self.r
        e = direction(r.uniform(-30.0, 30.0), -90.0 + r.uniform(0.0, 15.0))
        u = direction(r.uniform(-25.0, 15.0), -90.0 + r.uniform(0.0, flex_max))
        W = self.arm_wrist(e, u)
        return self.anat(W, u, (0.0, 1.0, 0.0), r.uniform(-30.0, 45.0))

    def add_fidget(self, track, p=0.3):
        r = self.r
        if r.random() >= p:
            return
        W, q = track.W0, track.q0
        t0 = r.uniform(-0.3, WINDOW - 0.3)
        dW = vscale(vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1))), r.uniform(0.02, 0.06))
        dq = qvec(vscale(vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1))),
                         r.uniform(5.0, 15.0) * DEG))
        track.move(t0, r.uniform(0.3, 0.8), vadd(W, dW), qmul(dq, q))

    def set_posture(self, name, angle_deg):
        self.posture = name
        # rotating the body backward about its left-right axis
        self.qP = qaxis((0.0, 1.0, 0.0), -angle_deg * DEG)

    def make_context(self, name):
        s, r = self.subj, self.r
        self.context = name
        if name in ("desk", "lap"):
            self.sitting = True
            self.S, self.E = s.geometry(True)
        self.desk = None
        if name == "stand":
            W, q = self.hang_pose()
            tr = Track(W, q)
            self.add_fidget(tr)
            self.ctx = tr
        elif name in ("walk", "run"):
            run = name == "run"
            if run:
                f = r.uniform(1.25, 1.5)
                amp, B, heel = r.uniform(25.0, 40.0), r.uniform(0.03, 0.05), (0.3, 0.8)
                e = direction(r.uniform(-10.0, 10.0), -90.0 + r.uniform(0.0, 15.0))
                u = direction(r.uniform(-40.0, -5.0), r.uniform(-15.0, 15.0))
                W, q = self.anat(self.arm_wrist(e, u), u, (0.0, 1.0, 0.0), r.uniform(-20.0, 30.0))
            else:
                f = s.stride * r.uniform(0.95, 1.05)
                amp, B, heel = s.swing * r.uniform(0.8, 1.2), s.bounce * r.uniform(0.85, 1.15), (0.1, 0.35)
                W, q = self.hang_pose(25.0)
            ph = r.uniform(0.0, 2.0 * math.pi)
            self.ctx = Swing(self.S, W, q, r.uniform(0.0, 8.0) * DEG, amp * DEG, f, ph)
            # body: vertical bounce and forward surge at the step rate, sway at the stride rate
            pb = r.uniform(0.0, 2.0 * math.pi)
            self.bounce = [Osc((0.0, 0.0, B), 2.0 * f, pb),
                           Osc((0.3 * B, 0.0, 0.0), 2.0 * f, pb + 1.2),
                           Osc((0.0, r.uniform(0.01, 0.02), 0.0), f, ph + 0.5)]
            step = 0.5 / f
            t = -HISTORY - r.uniform(0.0, step)
            while t < WINDOW + 0.2:
                self.pulses.append(Pulse(t, r.uniform(0.04, 0.07),
                                         (r.gauss(0.0, 0.05), r.gauss(0.0, 0.05),
                                          r.uniform(*heel))))
                t += step * r.uniform(0.96, 1.04)
        elif name == "desk":
            W = (r.uniform(0.28, 0.45) * s.h, r.uniform(0.02, 0.20), 0.73 + r.uniform(0.02, 0.05))
            az = r.uniform(-40.0, 5.0)
            u = direction(az, r.uniform(-5.0, 10.0))
            W, q = self.anat(W, u, (0.0, 0.0, 1.0), r.uniform(-15.0, 25.0))
            self.desk = (W, az)
            tr = Track(W, q)
            act = r.random()
            if act < 0.45:  # typing: key strikes and slow drift of the hand
                self.context = "desk-typing"
                t = -HISTORY - r.uniform(0.0, 0.3)
                while t < WINDOW + 0.1:
                    self.pulses.append(Pulse(t, r.uniform(0.03, 0.07),
                                             (r.gauss(0, 0.02), r.gauss(0, 0.02),
                                              -r.uniform(0.02, 0.12)), r.uniform(8.0, 14.0)))
                    t += r.expovariate(r.uniform(4.0, 8.0))
                tr.posc.append(Osc((0.0, r.uniform(0.005, 0.02), 0.0), r.uniform(0.3, 1.0),
                                   r.uniform(0, 6.3)))
            elif act < 0.7:  # mouse
                self.context = "desk-mouse"
                for _ in range(2):
                    tr.posc.append(Osc((r.uniform(-0.04, 0.04), r.uniform(-0.04, 0.04), 0.0),
                                       r.uniform(0.4, 1.5), r.uniform(0, 6.3)))
                tr.rosc.append(Osc((0.0, 0.0, r.uniform(2.0, 6.0) * DEG), r.uniform(0.4, 1.5),
                                   r.uniform(0, 6.3)))
            else:
                self.context = "desk-still"
                self.add_fidget(tr)
            self.ctx = tr
        elif name == "lap":
            if r.random() < 0.3:
                self.set_posture("reclined", r.uniform(20.0, 45.0))
            W = (r.uniform(0.25, 0.40) * s.h, r.uniform(0.08, 0.22), 0.46 + 0.16 * s.h)
            u = direction(r.uniform(-35.0, 15.0), r.uniform(-35.0, -5.0))
            W, q = self.anat(W, u, (0.0, 0.0, 1.0), r.uniform(-20.0, 70.0))
            tr = Track(W, q)
            self.add_fidget(tr)
            self.ctx = tr
        elif name == "lie":
            self.set_posture("lying", 90.0 - r.uniform(0.0, 25.0))
            if r.random() < 0.5:  # arm beside the body, palm down on the bed
                e = direction(r.uniform(-10.0, 10.0), -90.0 + r.uniform(0.0, 10.0))
                u = direction(r.uniform(-20.0, 10.0), -90.0 + r.uniform(0.0, 20.0))
                W = self.arm_wrist(e, u)
                W, q = self.anat(W, u, (1.0, 0.0, 0.0), r.uniform(-30.0, 30.0))
            else:  # hand on the belly
                W = (0.18 * s.h, r.uniform(-0.02, 0.10), 1.0 * s.h)
                u = direction(r.uniform(-100.0, -60.0), r.uniform(-20.0, 0.0))
                W, q = self.anat(W, u, (1.0, 0.0, 0.0), r.uniform(-30.0, 30.0))
            tr = Track(W, q)
            self.add_fidget(tr, 0.2)
            self.ctx = tr
        else:
            raise ValueError(name)

    # --- sampling ---

    def world(self, t):
        p = qrot(self.qP, self.motion.pos(t))
        if self.bounce:
            p = vadd(p, osc_sum(self.bounce, t))
        return p

    def sample(self):
        """Return the 120 quantized values (t-major, x y z) of this window."""
        s, r = self.subj, self.r
        # per-window sway (orientation, body frame) and tremor (acceleration, world, g)
        sway = []
        for _ in range(3):
            ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)))
            sway.append(Osc(vscale(ax, s.sway * r.uniform(0.3, 0.7) * DEG), r.uniform(0.15, 1.2),
                            r.uniform(0, 6.3)))
        tremor = []
        for _ in range(2):
            ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)))
            tremor.append(Osc(vscale(ax, s.tremor * r.uniform(0.5, 0.9)),
                              s.tremor_f + r.uniform(-1.0, 1.0), r.uniform(0, 6.3)))
        # sample times: clock error, jitter, maybe one FIFO glitch
        n_t = HISTORY_STEPS + STEPS
        times = [k * DT * (1.0 + s.clock) + r.gauss(0.0, 0.001)
                 for k in range(-HISTORY_STEPS, STEPS)]
        if r.random() < 0.03:
            j = r.randrange(1, n_t)
            if r.random() < 0.5:  # a sample lost: from j on, every sample is one period later
                times = times[:j] + [t + DT for t in times[j:]]
            else:  # a sample repeated: from j on, every sample is one period older
                times = times[:j] + [times[j - 1]] + [t for t in times[j:n_t - 1]]
        h = H_DIFF
        out = []
        for t in times:
            p0 = self.world(t)
            pm = self.world(t - h)
            pp = self.world(t + h)
            k = 1.0 / (h * h * G0)
            fw = [(pp[i] - 2.0 * p0[i] + pm[i]) * k for i in range(3)]
            fw[2] += 1.0
            tw = osc_sum(tremor, t)
            for i in range(3):
                fw[i] += tw[i]
            for pl in self.pulses:
                v = pl.value(t)
                if v != 0.0:
                    for i in range(3):
                        fw[i] += pl.vec[i] * v
            q = qmul(self.qP, qmul(qvec(osc_sum(sway, t)), self.motion.rot(t)))
            fd = qrot(qconj(q), fw)
            for i in range(3):
                v = s.flip[i] * fd[i] * s.scale[i] + s.bias[i] + r.gauss(0.0, s.noise)
                qv = int(math.floor(v / LSB + 0.5))
                out.append(min(QMAX, max(QMIN, qv)))
        return out


CONTEXTS = (("stand", 0.32), ("walk", 0.20), ("run", 0.03), ("desk", 0.25), ("lap", 0.15),
            ("lie", 0.05))

NEGATIVES = (("context", 0.30), ("drink", 0.09), ("head", 0.08), ("phone", 0.05),
             ("fold", 0.04), ("reach", 0.06), ("wave", 0.03), ("nearmiss", 0.09),
             ("burst", 0.05), ("random", 0.06), ("partial", 0.15))

# contexts each kind may start from (others are redrawn)
ALLOWED = {
    "bts": None, "context": None, "nearmiss": None, "partial": None, "burst": None,
    "head": ("stand", "walk", "desk", "lap", "lie"),
    "phone": ("stand", "walk", "desk", "lap", "lie"),
    "random": ("stand", "walk", "desk", "lap", "lie"),
    "drink": ("stand", "walk", "desk", "lap"),
    "fold": ("stand", "walk", "desk", "lap"),
    "reach": ("stand", "desk", "lap"),
    "wave": ("stand", "walk", "desk", "lap"),
}


def pick(r, table):
    x = r.random() * sum(w for _, w in table)
    for name, w in table:
        x -= w
        if x < 0.0:
            return name
    return table[-1][0]


def negative_onset(r, span):
    """Start time of a negative gesture lasting `span` s: any phase can show."""
    return r.uniform(-0.6 * span, WINDOW - 0.2)


def negative_tables(partial_share):
    """The negative kinds' weights for a given share of partial gestures, and the
    context distribution of the "context" kind that makes the contexts of all
    negatives together follow CONTEXTS, as the positives' do (so that the
    context alone says nothing about the label)."""
    w = dict(NEGATIVES)
    scale = (1.0 - partial_share) / (1.0 - w["partial"])
    kinds = [(k, partial_share if k == "partial" else v * scale) for k, v in NEGATIVES]
    total = sum(v for _, v in kinds)
    pc = dict(CONTEXTS)
    norm = sum(pc.values())
    need = {c: total * v / norm for c, v in pc.items()}
    w_ctx = 0.0
    for k, v in kinds:
        if k == "context":
            w_ctx = v
            continue
        allowed = ALLOWED[k] or tuple(pc)
        mass = sum(pc[c] for c in allowed)
        for c in allowed:
            need[c] -= v * pc[c] / mass
    ctx = [(c, max(0.0, need[c] / w_ctx)) for c, _ in CONTEXTS]
    return kinds, ctx


def make_window(subj, r, kind, ctx_table=CONTEXTS):
    """Build and sample one window. Returns (values, label, kind, context, posture)."""
    sc = Scene(subj, r)
    allowed = ALLOWED.get(kind)
    while True:
        c = pick(r, ctx_table if kind == "context" else CONTEXTS)
        if allowed is None or c in allowed:
            break
    sc.make_context(c)
    label, kind = add_gesture(sc, r, kind)
    values = sc.sample()
    return values, label, kind, sc.context, sc.posture


def add_gesture(sc, r, kind, onset=None):
    """Set sc.motion to sc's context with one motion of `kind` (the kinds above).
    In a window (onset None) the motion starts at a random time as described in
    the docstring; in a continuous recording (--continuous) it starts at
    `onset` (s), and a bring-to-see gesture or a raise always ends back in the
    context.  Returns (label, kind)."""
    subj = sc.subj
    ctx = sc.ctx
    label = 0
    E = sc.E
    lag_of = lambda d: r.uniform(-0.05, 0.15) * d  # noqa: E731

    def start(span):
        return negative_onset(r, span) if onset is None else onset

    def desk_variant():
        return sc.desk if (sc.desk is not None and r.random() < 0.4) else None

    if kind == "bts":
        label = 1
        W, q = sc.view_pose(desk_variant())
        off = (subj.view_off[0] + r.gauss(0.0, 6.0), subj.view_off[1] + r.gauss(0.0, 6.0))
        n = math.hypot(*off)
        if n > 25.0:
            off = (off[0] * 25.0 / n, off[1] * 25.0 / n)
        q = qmul(q, qvec((off[0] * DEG, off[1] * DEG, 0.0)))
        d1 = subj.raise_time(r)
        h_in = r.uniform(0.3, 0.8)
        if d1 + h_in > WINDOW:
            h_in = 0.3
        if onset is None:
            a = r.uniform(0.0, WINDOW - d1 - h_in)
            b, d2 = INF, 0.6
            if r.random() < 0.25 and WINDOW - (a + d1 + 0.5) > 0.2:
                b = a + d1 + r.uniform(0.5, WINDOW - (a + d1) - 0.1)
                d2 = r.uniform(0.4, 1.0)
        else:  # a look at the watch: hold 0.5-3 s, then lower the arm
            a = onset
            b, d2 = a + d1 + r.uniform(0.5, 3.0), r.uniform(0.4, 1.0)
        tgt = Track(W, q)
        sc.settle(tgt, a + d1)
        sc.motion = Blend(ctx, tgt, a, d1, b, d2, lag_of(d1))
    elif kind == "context":
        sc.motion = ctx
    elif kind == "partial":
        W, q = sc.view_pose(desk_variant())
        q = sc.aim_offset(q, 0.0, 20.0)
        d1 = subj.raise_time(r)
        how = r.random()
        if onset is not None:
            how = 0.5  # a recording has no window end: only the aborted raise
        tgt = Track(W, q)
        if how < 0.4:  # raise still under way (< half done) when the window ends
            kind = "partial-late"
            a = r.uniform(WINDOW - 0.5 * d1, WINDOW - 0.1 * d1)
            sc.motion = Blend(ctx, tgt, a, d1, lag=lag_of(d1))
        elif how < 0.75:  # aborted: 25-60 % of the way, then back
            kind = "partial-abort"
            frac = r.uniform(0.25, 0.6)
            dd = d1 * math.sqrt(frac)
            hold, d2 = r.uniform(0.0, 0.3), r.uniform(0.3, 0.8)
            # the way back ends inside the window
            a = r.uniform(-0.3 * dd, max(-0.3 * dd, WINDOW - (dd + hold + d2)))
            if onset is not None:
                a = onset
            W0, q0 = ctx.pos(a), ctx.rot(a)
            tgt = Track(vlerp(W0, W, frac), qslerp(q0, q, frac))
            sc.motion = Blend(ctx, tgt, a, dd, a + dd + hold, d2)
        else:  # the end of a look at the watch: hold, then lower; no raise in view
            kind = "partial-lower"
            b = r.uniform(0.1, 1.2)
            sc.motion = Blend(ctx, tgt, -10.0, 1.0, b, r.uniform(0.4, 1.0), lag_of(0.6))
    elif kind == "nearmiss":
        W, q = sc.view_pose(desk_variant())
        q = sc.aim_offset(q, 45.0, 120.0)
        d1 = subj.raise_time(r)
        hold = r.uniform(0.2, 2.0)
        a = start(d1 + hold)
        tgt = Track(W, q)
        sc.settle(tgt, a + d1)
        sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), lag_of(d1))
    elif kind == "drink":
        mouth = vadd(E, (0.02, 0.0, -0.08))
        W = vadd(mouth, (r.uniform(0.05, 0.09), r.uniform(0.02, 0.08), r.uniform(-0.10, -0.04)))
        u = direction(r.uniform(-70.0, -20.0), r.uniform(35.0, 70.0))
        away = vsub(W, mouth)
        W, q = sc.anat(W, u, (away[0], away[1], 0.0), r.uniform(-20.0, 20.0))
        d1 = subj.raise_time(r) * r.uniform(1.0, 1.3)
        tilt_d, sip = r.uniform(0.3, 0.6), r.uniform(0.3, 1.5)
        a = start(d1 + 2 * tilt_d + sip)
        tgt = Track(W, q)
        qt = qmul(q, qaxis((1.0, 0.0, 0.0), r.uniform(15.0, 40.0) * DEG * (1 if r.random() < 0.5 else -1)))
        qt = qmul(qaxis((0.0, 1.0, 0.0), -r.uniform(0.0, 15.0) * DEG), qt)
        t1 = tgt.move(a + d1 + 0.05, tilt_d, W, qt)
        t2 = tgt.move(t1 + sip, tilt_d, W, q)
        sc.motion = Blend(ctx, tgt, a, d1, t2 + r.uniform(0.0, 0.2), r.uniform(0.5, 1.0), lag_of(d1))
    elif kind == "head":
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
        a = start(d1 + hold)
        tgt = Track(W, q)
        if kind == "head-scratch":
            ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 0.5)))
            f = r.uniform(2.5, 5.0)
            tgt.posc.append(Osc(vscale(ax, r.uniform(0.003, 0.012)), f, 0.0, a + d1, a + d1 + hold, 0.15))
            tgt.rosc.append(Osc((r.uniform(5, 15) * DEG, 0.0, r.uniform(0, 8) * DEG), f, 0.5,
                                a + d1, a + d1 + hold, 0.1))
        else:
            sc.settle(tgt, a + d1)
        sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), lag_of(d1))
    elif kind == "phone":
        W, _ = sc.view_pose()
        u = direction(subj.view_az + r.gauss(0.0, 10.0), subj.view_el + r.gauss(0.0, 8.0))
        toward = vsub(E, W)
        # the palm (device -z) faces the eyes: the back of the wrist points away
        W, q = sc.anat(W, u, vscale(toward, -1.0), r.uniform(-35.0, 35.0))
        d1 = subj.raise_time(r)
        hold = r.uniform(0.5, 3.0)
        a = start(d1 + hold)
        tgt = Track(W, q)
        sc.settle(tgt, a + d1)
        tgt.posc.append(Osc((0.0, 0.0, r.uniform(0.001, 0.003)), r.uniform(2.0, 4.0), 0.0,
                            a + d1, a + d1 + hold))
        sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), lag_of(d1))
    elif kind == "fold":
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
        a = start(d1 + hold)
        tgt = Track(W, q)
        sc.settle(tgt, a + d1)
        sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), lag_of(d1))
    elif kind == "reach":
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
        a = start(2 * d1 + hold)
        tgt = Track(W, q)
        sc.settle(tgt, a + d1)
        sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, d1 * r.uniform(0.9, 1.2), lag_of(d1))
    elif kind == "wave":
        d1 = subj.raise_time(r)
        e = direction(r.uniform(0.0, 40.0), -60.0 + r.uniform(0.0, 50.0))
        u = direction(r.uniform(-20.0, 30.0), r.uniform(50.0, 90.0))
        W = sc.arm_wrist(e, u)
        W, q = sc.anat(W, u, (-1.0, 0.0, 0.0), r.uniform(-20.0, 20.0))
        hold = r.uniform(0.6, 2.0)
        a = start(d1 + hold)
        tgt = Track(W, q)
        f = r.uniform(1.5, 2.5)
        tgt.rosc.append(Osc((r.uniform(15.0, 35.0) * DEG, 0.0, 0.0), f, 0.0, a + d1, a + d1 + hold, 0.2))
        tgt.posc.append(Osc((0.0, r.uniform(0.02, 0.06), 0.0), f, 0.0, a + d1, a + d1 + hold, 0.2))
        sc.motion = Blend(ctx, tgt, a, d1, a + d1 + hold, r.uniform(0.4, 1.0), lag_of(d1))
    elif kind == "burst":
        if r.random() < 0.6:
            kind = "burst-knock"
            for _ in range(r.randint(1, 4)):
                ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)))
                ring = r.uniform(6.0, 15.0) if r.random() < 0.5 else 0.0
                t0 = r.uniform(-0.05, WINDOW) if onset is None else onset + r.uniform(0.0, 1.0)
                sc.pulses.append(Pulse(t0, r.uniform(0.03, 0.12),
                                       vscale(ax, r.uniform(0.3, 2.0)), ring))
            sc.motion = ctx
        else:
            kind = "burst-shake"
            t0 = r.uniform(-0.5, WINDOW - 0.3) if onset is None else onset + 0.3
            t1 = t0 + r.uniform(0.4, 1.2)
            f = r.uniform(3.0, 6.0)
            tr = Track(ctx.pos(t0), ctx.rot(t0))
            tr.rosc.append(Osc((r.uniform(15.0, 40.0) * DEG, 0.0, 0.0), f, 0.0, t0, t1, 0.1))
            ax = vunit((r.gauss(0, 1), r.gauss(0, 1), r.gauss(0, 1)))
            tr.posc.append(Osc(vscale(ax, r.uniform(0.01, 0.03)), f, 0.3, t0, t1, 0.1))
            sc.motion = Blend(ctx, tr, t0 - 0.3, 0.3, t1, 0.3)
    elif kind == "random":
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
        a = start(sum(d) + sum(holds))
        tgt = Track(*poses[0])
        t = a + d[0] + holds[0]
        for i in range(1, n):
            t = tgt.move(t, d[i], *poses[i]) + holds[i]
        sc.motion = Blend(ctx, tgt, a, d[0], t, r.uniform(0.4, 1.0), lag_of(d[0]))
    else:
        raise ValueError(kind)
    return label, kind


def subject_windows(subj, n, pos_share, partial_share):
    """All windows of one subject, from the subject's own random stream."""
    r = random.Random(subj.seed ^ 0x5EED)
    n_pos = int(round(pos_share * n))
    kinds = ["bts"] * n_pos
    table, ctx_table = negative_tables(partial_share)
    for _ in range(n - n_pos):
        kinds.append(pick(r, table))
    return [make_window(subj, r, k, ctx_table) for k in kinds]


# ------------------------------------------------------------- recordings --
# --continuous N: recordings of one context lasting --recording-seconds, with
# gestures (the kinds above) separated by idle periods of the context alone.

IDLE_S = (2.0, 15.0)  # idle between two gestures (and before the first), s


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


def make_recording(subj, r, seconds, pos_share, partial_share):
    """One continuous recording of `seconds` s.  Returns (values, labels, events,
    context, posture): values as in a window (frame-major x y z), one label and
    one event number per frame, events as (number, kind, label, first, last)."""
    global WINDOW, STEPS
    saved = WINDOW, STEPS
    n = int(round(seconds * FS))
    WINDOW, STEPS = n * DT, n  # the scene's context (walking, typing, ...) lasts this long
    try:
        sc = Scene(subj, r)
        c = pick(r, CONTEXTS)
        sc.make_context(c)
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
            if t1 > WINDOW - 2.5:
                del sc.pulses[n_pulses:]
                break
            gestures.append((t0, t1, m, label, kind, t, d1))
            t = t1 + r.uniform(*IDLE_S)
        sc.motion = Chain(ctx, [(g[0], g[1], g[2]) for g in gestures if g[2] is not None])
        values = sc.sample()
    finally:
        WINDOW, STEPS = saved
    # frame k is sampled at k DT (1 + clock); a frame is labelled 1 when the window of
    # the last STEPS frames ending at it is a positive window: it holds the start of a
    # bring-to-see raise, the complete raise and >= 0.3 s of the hold
    period = DT * (1.0 + subj.clock)
    span = (STEPS - 1) * period
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


def fmt_g(count):
    """A 12-bit count in g, exactly (count / 512 has at most 9 decimals)."""
    v = "%.9f" % (count * LSB)
    v = v.rstrip("0")
    return v + "0" if v.endswith(".") else v


# ----------------------------------------------------------------- output --


def header():
    cols = []
    for t in range(HISTORY_STEPS + STEPS):
        for a in "xyz":
            cols.append("t%d_%s" % (t, a))
    return ",".join(cols + ["label"]) + "\n"


def fmt_row(values, label):
    return ",".join("%.4f" % (v * LSB) for v in values) + ",%d\n" % label


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="ascii") as f:
        f.write(text)
    os.replace(tmp, path)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def default_out():
    base = os.environ.get("QREG_DATA") or os.path.join(
        os.environ.get("HOME") or "/tmp", ".local", "share", "qreg", "data")
    return os.path.join(base, "motion")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="motion.py",
        description="Simulate the bring-to-see wrist-gesture data set (3-axis accelerometer, "
                    "20 Hz, 2 s windows) and write train/val/test CSV files split by subject.")
    p.add_argument("--out", default=None, help="output directory (default: %s)" % default_out())
    p.add_argument("--subjects", type=int, default=None, help="number of simulated people (default 60)")
    p.add_argument("--windows-per-subject", type=int, default=None,
                   help="windows per person (default 100)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--positive-share", type=float, default=0.4,
                   help="share of bring-to-see windows per subject (default 0.4)")
    p.add_argument("--partial-share", type=float, default=0.15,
                   help="share of hard-negative partial gestures among negatives "
                        "(default 0.15; 0 turns them off)")
    p.add_argument("--small", action="store_true",
                   help="a small set for CI: 12 subjects x 25 windows unless given")
    p.add_argument("--continuous", type=int, default=0, metavar="N",
                   help="also write N continuous recordings per test subject with a label per "
                        "frame (stream.csv, stream_events.csv; default 0: none)")
    p.add_argument("--recording-seconds", type=float, default=120.0, metavar="S",
                   help="length of each continuous recording (default 120)")
    p.add_argument("--history", type=float, default=0.0, metavar="S",
                   help="prepend S seconds of the same scene to every window (the label stays "
                        "that of the last 2 s): windows of 40 + 20 S frames (default 0)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    a = p.parse_args(argv)
    if not 0.0 <= a.history <= 60.0 or a.history * FS != int(a.history * FS):
        p.error("--history must be a whole number of frames (multiple of 0.05 s) in [0, 60]")
    if a.history and a.continuous:
        p.error("--history and --continuous cannot be combined")
    if a.continuous < 0:
        p.error("--continuous must be >= 0")
    if not 20.0 <= a.recording_seconds <= 3600.0:
        p.error("--recording-seconds must be in [20, 3600]")
    if a.subjects is None:
        a.subjects = 12 if a.small else 60
    if a.windows_per_subject is None:
        a.windows_per_subject = 25 if a.small else 100
    if a.subjects < 3:
        p.error("--subjects must be at least 3 (train, val and test each need one)")
    if a.windows_per_subject < 1:
        p.error("--windows-per-subject must be at least 1")
    if not 0.0 <= a.positive_share <= 1.0:
        p.error("--positive-share must be in [0, 1]")
    if not 0.0 <= a.partial_share < 1.0:
        p.error("--partial-share must be in [0, 1)")
    if a.seed < 0:
        p.error("--seed must be >= 0")
    if a.out is None:
        a.out = default_out()
    return a


def write_recordings(args, subjects, split_of):
    """stream.csv and stream_events.csv: --continuous recordings of every test subject,
    each from its own random stream (the windows' streams are not touched)."""
    rows = ["frame,x,y,z,label,recording,event\n"]
    ev = ["recording,subject,context,posture,event,kind,label,first_frame,last_frame\n"]
    rec = 0
    for i, subj in enumerate(subjects):
        if split_of[i] != "test":
            continue
        for k in range(args.continuous):
            rec += 1
            r = random.Random((subj.seed ^ 0xC0471) * 4099 + k)
            values, labels, event_of, events, ctx, posture = make_recording(
                subj, r, args.recording_seconds, args.positive_share, args.partial_share)
            for f in range(len(labels)):
                x, y, z = values[3 * f:3 * f + 3]
                rows.append("%d,%s,%s,%s,%d,%d,%d\n" % (f, fmt_g(x), fmt_g(y), fmt_g(z),
                                                         labels[f], rec, event_of[f]))
            for (e, kind, label, first, last) in events:
                ev.append("%d,%d,%s,%s,%d,%s,%d,%d,%d\n" % (rec, subj.id, ctx, posture, e, kind,
                                                             label, first, last))
    write_text(os.path.join(args.out, "stream.csv"), "".join(rows))
    write_text(os.path.join(args.out, "stream_events.csv"), "".join(ev))
    return ["stream.csv", "stream_events.csv"]


def split_sizes(n):
    n_test = max(1, int(round(0.15 * n)))
    n_val = max(1, int(round(0.15 * n)))
    return n - n_val - n_test, n_val, n_test


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    global HISTORY, HISTORY_STEPS
    HISTORY_STEPS = int(args.history * FS)
    HISTORY = HISTORY_STEPS * DT
    t_start = time.perf_counter()  # only for the progress message
    master = random.Random(args.seed)
    n = args.subjects
    subjects = [Subject(i + 1, master.getrandbits(63)) for i in range(n)]
    order = list(range(n))
    master.shuffle(order)
    n_train, n_val, _ = split_sizes(n)
    split_of = {}
    for rank, i in enumerate(order):
        split_of[i] = "train" if rank < n_train else ("val" if rank < n_train + n_val else "test")

    rows = {sp: [] for sp in SPLITS}  # (values, label, kind, context, posture, subject)
    stats = []
    for i, subj in enumerate(subjects):
        ws = subject_windows(subj, args.windows_per_subject, args.positive_share,
                             args.partial_share)
        stats.append((len(ws), sum(w[1] for w in ws)))
        for (values, label, kind, ctx, posture) in ws:
            rows[split_of[i]].append((values, label, kind, ctx, posture, subj.id))
    for sp in SPLITS:
        master.shuffle(rows[sp])

    os.makedirs(args.out, exist_ok=True)
    hdr = header()
    manifest = ["split,row,subject,label,kind,context,posture\n"]
    files = []
    for sp in SPLITS:
        lines = [hdr]
        for j, (values, label, kind, ctx, posture, sid) in enumerate(rows[sp]):
            lines.append(fmt_row(values, label))
            manifest.append("%s,%d,%d,%d,%s,%s,%s\n" % (sp, j, sid, label, kind, ctx, posture))
        path = os.path.join(args.out, sp + ".csv")
        write_text(path, "".join(lines))
        files.append(sp + ".csv")
    write_text(os.path.join(args.out, "windows.csv"), "".join(manifest))
    files.append("windows.csv")

    if args.continuous:
        files += write_recordings(args, subjects, split_of)

    subj_lines = ["subject,split,wrist,mounting,body_scale,raise_s,tremor_g,noise_g,"
                  "bias_x,bias_y,bias_z,scale_x,scale_y,scale_z,windows,positives\n"]
    for i, s in enumerate(subjects):
        subj_lines.append("%d,%s,%s,%s,%.3f,%.3f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%d,%d\n" % (
            s.id, split_of[i], s.hand, s.mount, s.h, s.raise_s, s.tremor, s.noise,
            s.bias[0], s.bias[1], s.bias[2], s.scale[0], s.scale[1], s.scale[2],
            stats[i][0], stats[i][1]))
    write_text(os.path.join(args.out, "subjects.csv"), "".join(subj_lines))
    files.append("subjects.csv")

    src = ["datasets/motion.py version %s: simulated bring-to-see accelerometer windows\n" % VERSION,
           "arguments: --subjects %d --windows-per-subject %d --seed %d --positive-share %g "
           "--partial-share %g\n" % (n, args.windows_per_subject, args.seed,
                                     args.positive_share, args.partial_share),
           "format: 40 samples x 3 axes (x, y, z, in g; 20 Hz; 12-bit, +-4 g) = 120 columns "
           "t0_x..t39_z, then label (0 other, 1 bring-to-see)\n",
           "split by subject (no subject in more than one split)\n"]
    if HISTORY_STEPS:
        src.append("history: --history %g: every window has %d frames of the same scene before "
                   "its 40 (columns t0_x..t%d_z); the label is that of the last 40\n" % (
                       args.history, HISTORY_STEPS, HISTORY_STEPS + STEPS - 1))
    if args.continuous:
        src.append("continuous: --continuous %d --recording-seconds %g: stream.csv (frame,x,y,z,"
                   "label,recording,event; x y z in g, exact), stream_events.csv; test subjects "
                   "only\n" % (args.continuous, args.recording_seconds))
    for sp in SPLITS:
        nn = len(rows[sp])
        npos = sum(rw[1] for rw in rows[sp])
        nsub = sum(1 for i in range(n) if split_of[i] == sp)
        src.append("%s.csv: %d windows from %d subjects, %d positive (%.1f %%), %d negative\n" % (
            sp, nn, nsub, npos, 100.0 * npos / nn if nn else 0.0, nn - npos))
    for fn in files:
        src.append("sha256 %s  %s\n" % (sha256_file(os.path.join(args.out, fn)), fn))
    write_text(os.path.join(args.out, "SOURCE.txt"), "".join(src))

    if not args.quiet:
        total = sum(len(rows[sp]) for sp in SPLITS)
        sys.stderr.write("motion.py: %d windows (%s) -> %s (%.1f s)\n" % (
            total, ", ".join("%s %d" % (sp, len(rows[sp])) for sp in SPLITS), args.out,
            time.perf_counter() - t_start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
