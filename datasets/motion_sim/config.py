"""Fixed constants of the simulation, the time span of one scene (Timing) and the
command line's options (Options), passed explicitly instead of module globals."""

import math
from dataclasses import dataclass

VERSION = "1"

FS = 20.0  # Hz
STEPS = 40  # samples per window (2 s)
DT = 1.0 / FS
G0 = 9.80665  # m/s^2 per g
LSB = 1.0 / 512.0  # 12 bits over +-4 g
QMIN, QMAX = -2048, 2047
H_DIFF = 0.004  # s, step of the central difference for the acceleration

SPLITS = ("train", "val", "test")
DEG = math.pi / 180.0
INF = float("inf")


@dataclass(frozen=True)
class Timing:
    """What a scene samples: `history_steps` frames before t = 0 (--history) and
    `steps` frames from t = 0 (40 for a window, all frames for a recording)."""

    steps: int = STEPS
    history_steps: int = 0

    @property
    def window(self):
        """s; the scene's context (walking, typing, ...) lasts this long."""
        return self.steps * DT

    @property
    def history(self):
        return self.history_steps * DT

    @property
    def frames(self):
        return self.history_steps + self.steps


@dataclass(frozen=True)
class Options:
    """The command line's options, checked and with defaults filled in (cli.py)."""

    out: str
    subjects: int = 60
    windows_per_subject: int = 100
    seed: int = 1
    positive_share: float = 0.4
    partial_share: float = 0.15
    continuous: int = 0
    recording_seconds: float = 120.0
    history: float = 0.0
    quiet: bool = False

    @property
    def timing(self):
        """The windows' span: 40 frames, after --history S of the same scene."""
        return Timing(STEPS, int(self.history * FS))
