"""3-vectors and unit quaternions as plain tuples (speed and exact, portable
arithmetic matter more here than a matrix library)."""

import math

from .config import DEG

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
