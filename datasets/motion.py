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

CODE (datasets/motion_sim/, one concept a file; options travel as a
config.Options, nothing is set in module globals)
  config.py      constants (rate, sensor range), Timing (frames of a scene),
                 Options (the command line's options)
  geometry.py    vectors and unit quaternions (tuples)
  profiles.py    minimum jerk, oscillations under envelopes, pulses
  motions.py     Track, Swing (walking arm), Blend (context <-> gesture), Chain
  subject.py     one person and their watch (habits, sensor errors)
  scene.py       a scene and the poses gestures are built from
  contexts.py    what the arm does when nothing else happens
  kinds.py       the mix: context and negative weights, onsets
  raises.py      bring-to-see, partial raises, near misses
  negatives.py   the other negative gestures
  gestures.py    kind -> gesture
  sensor.py      specific force, sway, tremor, device errors, 12 bits
  windows.py     windows of one subject
  recordings.py  --continuous recordings, a label per frame
  output.py      the CSV files and SOURCE.txt
  dataset.py     subjects, split by subject, the files
  cli.py         the command line
tests/motion.sh pins the sha256 of a small output: a change to any of these
that changes the bytes must raise config.VERSION and renew the pinned sums.
"""

import sys

# run as a script, this file's directory is sys.path[0]: the package is beside it; no
# __pycache__ in the source tree (read-only under make distcheck)
sys.dont_write_bytecode = True
from motion_sim.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
