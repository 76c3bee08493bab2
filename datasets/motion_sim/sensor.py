"""The sensor: specific force from the wrist's motion (central difference) and
gravity, postural sway, tremor, pulses; then the device's errors (clock, jitter,
FIFO glitches, mirroring, scale, bias, noise) and 12-bit quantization."""

import math

from .config import DEG, DT, G0, H_DIFF, LSB, QMAX, QMIN
from .geometry import qconj, qmul, qrot, qvec, vadd, vscale, vunit
from .profiles import Osc, osc_sum


def world(sc, t):
    p = qrot(sc.qP, sc.motion.pos(t))
    if sc.bounce:
        p = vadd(p, osc_sum(sc.bounce, t))
    return p


def sample(sc):
    """Return the quantized values (t-major, x y z; 120 for a plain window) of scene sc."""
    s, r, T = sc.subj, sc.r, sc.timing
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
    n_t = T.frames
    times = [k * DT * (1.0 + s.clock) + r.gauss(0.0, 0.001)
             for k in range(-T.history_steps, T.steps)]
    if r.random() < 0.03:
        j = r.randrange(1, n_t)
        if r.random() < 0.5:  # a sample lost: from j on, every sample is one period later
            times = times[:j] + [t + DT for t in times[j:]]
        else:  # a sample repeated: from j on, every sample is one period older
            times = times[:j] + [times[j - 1]] + [t for t in times[j:n_t - 1]]
    h = H_DIFF
    out = []
    for t in times:
        p0 = world(sc, t)
        pm = world(sc, t - h)
        pp = world(sc, t + h)
        k = 1.0 / (h * h * G0)
        fw = [(pp[i] - 2.0 * p0[i] + pm[i]) * k for i in range(3)]
        fw[2] += 1.0
        tw = osc_sum(tremor, t)
        for i in range(3):
            fw[i] += tw[i]
        for pl in sc.pulses:
            v = pl.value(t)
            if v != 0.0:
                for i in range(3):
                    fw[i] += pl.vec[i] * v
        q = qmul(sc.qP, qmul(qvec(osc_sum(sway, t)), sc.motion.rot(t)))
        fd = qrot(qconj(q), fw)
        for i in range(3):
            v = s.flip[i] * fd[i] * s.scale[i] + s.bias[i] + r.gauss(0.0, s.noise)
            qv = int(math.floor(v / LSB + 0.5))
            out.append(min(QMAX, max(QMIN, qv)))
    return out
