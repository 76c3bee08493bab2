#!/usr/bin/env python3
"""Write small audio files (a few KB each) as the seed corpus of fuzz_audio: WAV at several
sample rates, channel counts and sample formats (8/16/24/32-bit PCM, 32-bit float,
WAVE_FORMAT_EXTENSIBLE), AIFF and Sun AU, built byte by byte with the standard library only.

usage: gen_audio.py OUTDIR
"""
import math
import os
import struct
import sys


def tone(n, rate, freq=440.0, amp=0.5, ch=1):
    """n frames of a sine (channel c at freq·(c+1)) plus a click, interleaved, in [-1, 1]."""
    out = []
    for i in range(n):
        for c in range(ch):
            v = amp * math.sin(2 * math.pi * freq * (c + 1) * i / rate)
            if i == n // 2:
                v = 0.99
            out.append(v)
    return out


def pcm(samples, bits, signed=True, big=False):
    b = bytearray()
    full = 2 ** (bits - 1) - 1
    for v in samples:
        q = int(round(v * full))
        if bits == 8 and not signed:
            b += struct.pack("B", q + 128)
        else:
            raw = q.to_bytes(bits // 8, "big" if big else "little", signed=True)
            b += raw
    return bytes(b)


def wav(path, samples, rate, ch, bits, fmt=1, extensible=False):
    if fmt == 3:
        data = b"".join(struct.pack("<f", v) for v in samples)
    else:
        data = pcm(samples, bits, signed=bits > 8)
    block = ch * bits // 8
    if extensible:
        guid = struct.pack("<H", fmt) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmtck = struct.pack("<HHIIHHHHI", 0xFFFE, ch, rate, rate * block, block, bits, 22, bits,
                            (1 << ch) - 1) + guid
    else:
        fmtck = struct.pack("<HHIIHH", fmt, ch, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmtck)) + fmtck
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def ieee_extended(x):
    """80-bit IEEE extended (AIFF sample rate)."""
    e = int(math.floor(math.log2(x)))
    m = int(x / 2.0 ** e * 2 ** 63)
    return struct.pack(">HQ", 16383 + e, m)


def aiff(path, samples, rate, ch, bits):
    data = pcm(samples, bits, big=True)
    comm = struct.pack(">hIh", ch, len(samples) // ch, bits) + ieee_extended(rate)
    ssnd = struct.pack(">II", 0, 0) + data
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm
    body += b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    with open(path, "wb") as f:
        f.write(b"FORM" + struct.pack(">I", len(body)) + body)


def au(path, samples, rate, ch):
    data = pcm(samples, 16, big=True)
    with open(path, "wb") as f:
        f.write(b".snd" + struct.pack(">IIIII", 24, len(data), 3, rate, ch) + data)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    wav(f"{out}/pcm16-16k-mono.wav", tone(1600, 16000), 16000, 1, 16)
    wav(f"{out}/pcm16-8k-stereo.wav", tone(800, 8000, ch=2), 8000, 2, 16)
    wav(f"{out}/pcm8-22k-mono.wav", tone(2000, 22050), 22050, 1, 8)
    wav(f"{out}/pcm24-44k-mono.wav", tone(1000, 44100), 44100, 1, 24)
    wav(f"{out}/pcm32-48k-mono.wav", tone(600, 48000), 48000, 1, 32)
    wav(f"{out}/float-16k-mono.wav", tone(1000, 16000, amp=0.9), 16000, 1, 32, fmt=3)
    wav(f"{out}/ext-16k-stereo.wav", tone(500, 16000, ch=2), 16000, 2, 16, extensible=True)
    wav(f"{out}/short-16k.wav", tone(100, 16000), 16000, 1, 16)
    aiff(f"{out}/pcm16-11k-mono.aiff", tone(1100, 11025), 11025, 1, 16)
    au(f"{out}/pcm16-16k-mono.au", tone(1000, 16000), 16000, 1)


if __name__ == "__main__":
    main()
