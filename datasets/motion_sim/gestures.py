"""One gesture of a given kind on a scene's context (raises.py: bring-to-see and
its look-alikes; negatives.py: the other negatives)."""

from . import negatives, raises


def context_only(sc, r, onset):
    """The context alone (label 0)."""
    sc.motion = sc.ctx
    return 0, "context"


KINDS = {
    "bts": raises.bts, "context": context_only, "partial": raises.partial,
    "nearmiss": raises.nearmiss, "drink": negatives.drink, "head": negatives.head,
    "phone": negatives.phone, "fold": negatives.fold, "reach": negatives.reach,
    "wave": negatives.wave, "burst": negatives.burst, "random": negatives.random_poses,
}


def add_gesture(sc, r, kind, onset=None):
    """Set sc.motion to sc's context with one motion of `kind` (kinds.NEGATIVES or
    "bts").  In a window (onset None) the motion starts at a random time as the
    script's docstring describes; in a continuous recording (--continuous) it
    starts at `onset` (s), and a bring-to-see gesture or a raise always ends back
    in the context.  Returns (label, kind), kind refined (e.g. "head-scratch")."""
    if kind not in KINDS:
        raise ValueError(kind)
    return KINDS[kind](sc, r, onset)
