#!/usr/bin/env python3
"""Independent NumPy reference for qreg's MFCC features (docs/audio.md).

Written from the formulas, in float64, with NumPy's own FFT; it shares no code with the
C implementation (datasets/mfcc.c). tests/test_audio.c runs it on WAV files it generates
and compares the results with the C features.

usage: mfcc_reference.py [parameters] --out DIR FILE.wav...

Each FILE.wav (16-bit PCM, any channel count: the channels are averaged; the sample rate
must equal --sample-rate) gives DIR/<name>.logmel.f64 (T x n_mels) and
DIR/<name>.mfcc.f64 (T x n_mfcc), raw little-endian float64, row-major, and a line
"<name> T n_mels n_mfcc" on stdout. Parameters default to qreg's defaults.
"""
import argparse
import os
import sys
import wave

import numpy as np


def read_pcm16(path, rate):
    """Samples of a 16-bit PCM WAV as float64 in [-1, 1): integer / 2^15, channels averaged."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit(f"{path}: not 16-bit PCM")
        if w.getframerate() != rate:
            sys.exit(f"{path}: {w.getframerate()} Hz, expected {rate}")
        ch = w.getnchannels()
        raw = w.readframes(w.getnframes())
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    return pcm.reshape(-1, ch).mean(axis=1) / 32768.0


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sr, n_fft, n_mels, f_min, f_max):
    """(n_mels, n_fft/2+1) triangles of peak 1 between HTK-mel-spaced edges."""
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - left) / (centre - left)
    falling = (right - freqs[None, :]) / (right - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def dct2_ortho(n_out, n_in):
    """Orthonormal DCT-II matrix (n_out, n_in): rows of an orthogonal matrix."""
    k = np.arange(n_out)[:, None]
    m = np.arange(n_in)[None, :]
    d = np.cos(np.pi * k * (2 * m + 1) / (2.0 * n_in)) * np.sqrt(2.0 / n_in)
    d[0, :] /= np.sqrt(2.0)
    return d


def features(x, a):
    y = np.concatenate(([x[0]], x[1:] - a.preemphasis * x[:-1]))
    if a.center:
        y = np.pad(y, a.win_length // 2)
    n_frames = 1 + (len(y) - a.win_length) // a.hop_length
    if n_frames < 1:
        sys.exit("clip shorter than one window")
    starts = np.arange(n_frames) * a.hop_length
    frames = y[starts[:, None] + np.arange(a.win_length)[None, :]]
    j = np.arange(a.win_length)
    a0 = 0.5 if a.window == "hann" else 0.54
    window = a0 - (1.0 - a0) * np.cos(2.0 * np.pi * j / a.win_length)
    spectrum = np.fft.rfft(frames * window, n=a.n_fft, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    f_max = a.f_max if a.f_max > 0 else a.sample_rate / 2.0
    fb = mel_filterbank(a.sample_rate, a.n_fft, a.n_mels, a.f_min, f_max)
    logmel = np.log(np.maximum(power @ fb.T, a.log_floor))
    mfcc = logmel @ dct2_ortho(a.n_mfcc, a.n_mels).T
    return logmel, mfcc


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--win-length", type=int, default=1024)
    p.add_argument("--hop-length", type=int, default=160)
    p.add_argument("--n-fft", type=int, default=1024)
    p.add_argument("--n-mels", type=int, default=40)
    p.add_argument("--n-mfcc", type=int, default=13)
    p.add_argument("--f-min", type=float, default=20.0)
    p.add_argument("--f-max", type=float, default=0.0, help="0: sample_rate / 2")
    p.add_argument("--preemphasis", type=float, default=0.97)
    p.add_argument("--log-floor", type=float, default=1e-6)
    p.add_argument("--window", choices=["hann", "hamming"], default="hann")
    p.add_argument("--center", type=int, choices=[0, 1], default=0)
    p.add_argument("--out", required=True)
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    for path in a.files:
        x = read_pcm16(path, a.sample_rate)
        logmel, mfcc = features(x, a)
        name = os.path.basename(path)
        logmel.astype("<f8").tofile(os.path.join(a.out, name + ".logmel.f64"))
        mfcc.astype("<f8").tofile(os.path.join(a.out, name + ".mfcc.f64"))
        print(name, logmel.shape[0], a.n_mels, a.n_mfcc)


if __name__ == "__main__":
    main()
