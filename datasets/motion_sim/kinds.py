"""The mix of the data set: contexts and their weights, the negative kinds and
their weights, which contexts each kind may start from, the weighted draw, and
when a gesture starts."""

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


def negative_onset(r, span, window):
    """Start time of a negative gesture lasting `span` s in a window of `window` s:
    any phase can show."""
    return r.uniform(-0.6 * span, window - 0.2)


def onset_time(sc, r, onset, span):
    """Start of a gesture lasting `span` s: random in a window (onset None), else onset."""
    return negative_onset(r, span, sc.timing.window) if onset is None else onset


def arm_lag(r, d):
    """How far the orientation's move runs behind the position's, for a move of d s."""
    return r.uniform(-0.05, 0.15) * d


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
