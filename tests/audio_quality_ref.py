#!/usr/bin/python3
"""tests/audio_quality_ref.py - an independent numpy/scipy implementation of
the audio measures `mmgen tokenizer eval` prints (cli/audio_quality.h), to
cross-check the C code (tests/check_audio_quality.sh).

    audio_quality_ref.py [--snr-tol DB] [--mcd-tol REL] ORIG DECODED [ORIG DECODED ...]

For each pair, prints one tab-separated line: original, decoded, SNR (dB, or
inf), MCD, MCD / sqrt(80), MCD frame count, and the two tolerances, which
tests/test_audio_quality.c (suite `reference`) reads and compares with.

Written from the definition alone, sharing no code with the C side: WAV read
with scipy.io.wavfile (integers scaled by 2^(bits-1), as libsndfile does),
channels averaged; a different rate resampled by libsamplerate, the
resampler the definition names, called through ctypes (a pair that needs it
is left out, with a note, where it cannot be loaded); SNR and MCD over
the common length from the first sample: 25 ms symmetric Hamming frames
every 10 ms, |rfft|^2 at the next power of two, 40 HTK-mel triangles from 0
Hz to Nyquist, ln(max(E, 1e-10)), orthonormal DCT-II, c1..c13,
(10 / ln 10) sqrt(2 sum dc^2) averaged over frames.
"""
import argparse
import ctypes
import ctypes.util
import math
import sys

import numpy as np
import scipy.fft
import scipy.io.wavfile


def read_mono(path):
    rate, data = scipy.io.wavfile.read(path)
    if data.dtype == np.uint8:
        x = (data.astype(np.float64) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        x = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    else:
        x = data.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise SystemExit("%s: no samples, or a NaN/infinite one" % path)
    return x, int(rate)


def libsamplerate():
    """libsamplerate's src_simple through ctypes, or None."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("samplerate") or "libsamplerate.so.0")
    except OSError:
        return None

    class SrcData(ctypes.Structure):  # SRC_DATA of <samplerate.h>
        _fields_ = [("data_in", ctypes.POINTER(ctypes.c_float)),
                    ("data_out", ctypes.POINTER(ctypes.c_float)),
                    ("input_frames", ctypes.c_long), ("output_frames", ctypes.c_long),
                    ("input_frames_used", ctypes.c_long), ("output_frames_gen", ctypes.c_long),
                    ("end_of_input", ctypes.c_int), ("src_ratio", ctypes.c_double)]

    lib.src_simple.argtypes = [ctypes.POINTER(SrcData), ctypes.c_int, ctypes.c_int]
    lib.src_simple.restype = ctypes.c_int
    return lib, SrcData


def resample(x, src, dst):
    """The resampler the definition names: libsamplerate, SRC_SINC_BEST_QUALITY
    (0), mono, float samples in and out, the whole signal in one call."""
    found = libsamplerate()
    if found is None:
        raise LookupError("libsamplerate cannot be loaded through ctypes")
    lib, SrcData = found
    ratio = dst / src
    xin = np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros(int(math.ceil(len(x) * ratio)) + 16, dtype=np.float32)
    d = SrcData(xin.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                len(xin), len(out), 0, 0, 1, ratio)
    err = lib.src_simple(ctypes.byref(d), 0, 1)
    if err:
        raise SystemExit("src_simple failed: error %d" % err)
    return out[:d.output_frames_gen].astype(np.float64)


def mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def mel_inv(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def log_mel_cepstra(x, rate):
    """c1..c13 of every whole 25 ms frame (rows)."""
    length = int(math.floor(0.025 * rate + 0.5))
    hop = int(math.floor(0.010 * rate + 0.5))
    nfft = 1 << (length - 1).bit_length()
    n_frames = (len(x) - length) // hop + 1
    if n_frames < 1:
        raise SystemExit("shorter than one 25 ms frame")
    idx = np.arange(length)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hamming(length)[None, :]
    power = np.abs(np.fft.rfft(frames, n=nfft, axis=1)) ** 2
    edges = mel_inv(np.linspace(0.0, mel(rate / 2.0), 42))
    f = np.arange(nfft // 2 + 1) * rate / nfft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fbank = np.maximum(0.0, np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)))
    energies = power @ fbank.T
    log_mel = np.log(np.maximum(energies, 1e-10))
    return scipy.fft.dct(log_mel, type=2, norm="ortho", axis=1)[:, 1:14]


def measure(orig_path, dec_path):
    x, rx = read_mono(orig_path)
    y, ry = read_mono(dec_path)
    if rx != ry:
        x = resample(x, rx, ry)
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    err = np.sum((x - y) ** 2)
    snr = math.inf if err == 0 else 10.0 * math.log10(np.sum(x * x) / err)
    cx, cy = log_mel_cepstra(x, ry), log_mel_cepstra(y, ry)
    per_frame = 10.0 / math.log(10.0) * np.sqrt(2.0 * np.sum((cx - cy) ** 2, axis=1))
    mcd = float(per_frame.mean())
    return snr, mcd, mcd / math.sqrt(80.0), len(per_frame)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snr-tol", type=float, default=1e-3, help="SNR tolerance in dB (default 1e-3)")
    ap.add_argument("--mcd-tol", type=float, default=1e-3, help="MCD relative tolerance (default 1e-3)")
    ap.add_argument("files", nargs="+", help="ORIG DECODED pairs")
    a = ap.parse_args()
    if len(a.files) % 2:
        ap.error("give ORIG DECODED pairs")
    for orig, dec in zip(a.files[::2], a.files[1::2]):
        try:
            snr, mcd, mcd_s, frames = measure(orig, dec)
        except LookupError as e:
            print("audio_quality_ref: %s vs %s left out: %s" % (orig, dec, e), file=sys.stderr)
            continue
        snr_s = "inf" if math.isinf(snr) else "%.9g" % snr
        print("%s\t%s\t%s\t%.9g\t%.9g\t%d\t%g\t%g" % (orig, dec, snr_s, mcd, mcd_s, frames,
                                                       a.snr_tol, a.mcd_tol))


if __name__ == "__main__":
    sys.exit(main())
