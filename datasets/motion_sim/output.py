"""The files: CSV text of windows, recordings, subjects and the manifest,
SOURCE.txt with the checksums; every file written whole, then renamed into place."""

import hashlib
import os
import random

from .config import LSB, SPLITS, STEPS, VERSION
from .recordings import make_recording


def fmt_g(count):
    """A 12-bit count in g, exactly (count / 512 has at most 9 decimals)."""
    v = "%.9f" % (count * LSB)
    v = v.rstrip("0")
    return v + "0" if v.endswith(".") else v


def header(timing):
    cols = []
    for t in range(timing.frames):
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


def write_windows(opts, rows):
    """train.csv, val.csv, test.csv and the manifest windows.csv from rows[split]:
    (values, label, kind, context, posture, subject) in file order."""
    hdr = header(opts.timing)
    manifest = ["split,row,subject,label,kind,context,posture\n"]
    files = []
    for sp in SPLITS:
        lines = [hdr]
        for j, (values, label, kind, ctx, posture, sid) in enumerate(rows[sp]):
            lines.append(fmt_row(values, label))
            manifest.append("%s,%d,%d,%d,%s,%s,%s\n" % (sp, j, sid, label, kind, ctx, posture))
        path = os.path.join(opts.out, sp + ".csv")
        write_text(path, "".join(lines))
        files.append(sp + ".csv")
    write_text(os.path.join(opts.out, "windows.csv"), "".join(manifest))
    files.append("windows.csv")
    return files


def write_recordings(opts, subjects, split_of):
    """stream.csv and stream_events.csv: --continuous recordings of every test subject,
    each from its own random stream (the windows' streams are not touched)."""
    rows = ["frame,x,y,z,label,recording,event\n"]
    ev = ["recording,subject,context,posture,event,kind,label,first_frame,last_frame\n"]
    rec = 0
    for i, subj in enumerate(subjects):
        if split_of[i] != "test":
            continue
        for k in range(opts.continuous):
            rec += 1
            r = random.Random((subj.seed ^ 0xC0471) * 4099 + k)
            values, labels, event_of, events, ctx, posture = make_recording(
                subj, r, opts.recording_seconds, opts.positive_share, opts.partial_share)
            for f in range(len(labels)):
                x, y, z = values[3 * f:3 * f + 3]
                rows.append("%d,%s,%s,%s,%d,%d,%d\n" % (f, fmt_g(x), fmt_g(y), fmt_g(z),
                                                         labels[f], rec, event_of[f]))
            for (e, kind, label, first, last) in events:
                ev.append("%d,%d,%s,%s,%d,%s,%d,%d,%d\n" % (rec, subj.id, ctx, posture, e, kind,
                                                             label, first, last))
    write_text(os.path.join(opts.out, "stream.csv"), "".join(rows))
    write_text(os.path.join(opts.out, "stream_events.csv"), "".join(ev))
    return ["stream.csv", "stream_events.csv"]


def write_subjects(opts, subjects, split_of, stats):
    """subjects.csv: one row per person; stats[i] = (windows, positives)."""
    lines = ["subject,split,wrist,mounting,body_scale,raise_s,tremor_g,noise_g,"
             "bias_x,bias_y,bias_z,scale_x,scale_y,scale_z,windows,positives\n"]
    for i, s in enumerate(subjects):
        lines.append("%d,%s,%s,%s,%.3f,%.3f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%d,%d\n" % (
            s.id, split_of[i], s.hand, s.mount, s.h, s.raise_s, s.tremor, s.noise,
            s.bias[0], s.bias[1], s.bias[2], s.scale[0], s.scale[1], s.scale[2],
            stats[i][0], stats[i][1]))
    write_text(os.path.join(opts.out, "subjects.csv"), "".join(lines))
    return ["subjects.csv"]


def write_source(opts, rows, split_of, files):
    """SOURCE.txt: version, arguments, format, counts per split, sha256 of `files`."""
    n = opts.subjects
    hist = opts.timing.history_steps
    src = ["datasets/motion.py version %s: simulated bring-to-see accelerometer windows\n" % VERSION,
           "arguments: --subjects %d --windows-per-subject %d --seed %d --positive-share %g "
           "--partial-share %g\n" % (n, opts.windows_per_subject, opts.seed,
                                     opts.positive_share, opts.partial_share),
           "format: 40 samples x 3 axes (x, y, z, in g; 20 Hz; 12-bit, +-4 g) = 120 columns "
           "t0_x..t39_z, then label (0 other, 1 bring-to-see)\n",
           "split by subject (no subject in more than one split)\n"]
    if hist:
        src.append("history: --history %g: every window has %d frames of the same scene before "
                   "its 40 (columns t0_x..t%d_z); the label is that of the last 40\n" % (
                       opts.history, hist, hist + STEPS - 1))
    if opts.continuous:
        src.append("continuous: --continuous %d --recording-seconds %g: stream.csv (frame,x,y,z,"
                   "label,recording,event; x y z in g, exact), stream_events.csv; test subjects "
                   "only\n" % (opts.continuous, opts.recording_seconds))
    for sp in SPLITS:
        nn = len(rows[sp])
        npos = sum(rw[1] for rw in rows[sp])
        nsub = sum(1 for i in range(n) if split_of[i] == sp)
        src.append("%s.csv: %d windows from %d subjects, %d positive (%.1f %%), %d negative\n" % (
            sp, nn, nsub, npos, 100.0 * npos / nn if nn else 0.0, nn - npos))
    for fn in files:
        src.append("sha256 %s  %s\n" % (sha256_file(os.path.join(opts.out, fn)), fn))
    write_text(os.path.join(opts.out, "SOURCE.txt"), "".join(src))
