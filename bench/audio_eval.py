#!/usr/bin/python3
"""bench/audio_eval.py - the audio tokenizer on spoken digits (run by
bench/run_audio.sh, which builds mmgen and its audio plugin first).

Data: the Free Spoken Digit Dataset (../shared/data/fsdd, files
{digit}_{speaker}_{take}.wav, 8 kHz). One speaker is held out (--holdout,
default theo); the learned tokenizer is fitted on the other five
(`mmgen tokenizer fit`, timed). For each mode (--modes: mulaw, codec2:MODE,
learned) every held-out file goes through `mmgen tokenizer eval --save-dir`,
which prints per mode the means of tokens/s, kbit/s (log2 of the ids the
constraint allows, per second), SNR and MCD (plain and / sqrt(80); see
cli/audio_quality.h) and the plugin's encode and decode speed in multiples of
real time.

Intelligibility: an RBF SVM (sklearn SVC on standardized features, C and gamma
chosen by leave-one-speaker-out cross-validation over the five training
speakers only) learns the digit from MFCC statistics (mean and standard
deviation over frames of 13 MFCCs and their deltas; MFCCs computed here with
numpy/scipy) of the training speakers' original recordings. It is scored on
the held-out speaker's originals, then on each mode's reconstructions of
them.

Reference for the codec2 rows: libcodec2's own programs (c2enc, c2dec of the
Debian package codec2) code the same held-out files; the plugin's codec2 mode
must decode to the same samples (counted file by file over the common
length: c2enc drops a last partial frame, so c2dec's output is up to one
frame shorter), and their quality, accuracy and speed (on all held-out files joined
into one stream, so process start-up is not counted) are printed beside it.

Prints a markdown table; appends one JSON line per row to --results.
"""
import argparse
import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import scipy.fft
import scipy.io.wavfile
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import audio_quality_ref  # noqa: E402  (the numpy SNR/MCD, for the c2dec rows)

NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def die(msg):
    print("audio_eval: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- MFCC features ------------------------------------------------------------

def read_wav(path):
    rate, data = scipy.io.wavfile.read(path)
    if np.issubdtype(data.dtype, np.integer):
        x = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    else:
        x = data.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    return x, int(rate)


_FBANK = {}


def mel_fbank(rate, nfft, n_mels=40):
    key = (rate, nfft, n_mels)
    if key not in _FBANK:
        mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
        inv = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)  # noqa: E731
        edges = inv(np.linspace(mel(0.0), mel(rate / 2.0), n_mels + 2))
        f = np.arange(nfft // 2 + 1) * rate / nfft
        lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
        _FBANK[key] = np.maximum(0.0, np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)))
    return _FBANK[key]


def mfcc_features(path):
    """mean and sd over frames of 13 MFCCs (c0..c12) and their deltas: 52 values."""
    x, rate = read_wav(path)
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])  # pre-emphasis
    length, hop = int(round(0.025 * rate)), int(round(0.010 * rate))
    if len(x) < length:
        x = np.pad(x, (0, length - len(x)))
    nfft = 1 << (length - 1).bit_length()
    n = (len(x) - length) // hop + 1
    idx = np.arange(length)[None, :] + hop * np.arange(n)[:, None]
    power = np.abs(np.fft.rfft(x[idx] * np.hamming(length), n=nfft, axis=1)) ** 2 / nfft
    c = scipy.fft.dct(np.log(power @ mel_fbank(rate, nfft).T + 1e-10), type=2, norm="ortho",
                      axis=1)[:, :13]
    # deltas: the usual regression over +-2 frames, edges repeated
    p = np.pad(c, ((2, 2), (0, 0)), mode="edge")
    d = (p[3:-1] - p[1:-3] + 2 * (p[4:] - p[:-4])) / 10.0
    return np.concatenate([c.mean(0), c.std(0), d.mean(0), d.std(0)])


def features(paths):
    return np.stack([mfcc_features(p) for p in paths])


def train_classifier(paths, digits, speakers):
    grid = {"svc__C": [1, 10, 100, 1000], "svc__gamma": [1e-3, 3e-3, 1e-2, 3e-2, 0.1]}
    groups = np.array(speakers)
    search = GridSearchCV(make_pipeline(StandardScaler(), SVC(kernel="rbf")), grid,
                          cv=GroupKFold(n_splits=len(set(speakers))), n_jobs=1)
    search.fit(features(paths), np.array(digits), groups=groups)
    return search


# ---- running mmgen ------------------------------------------------------------

def run(cmd, what):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        die("%s failed (exit %d):\n%s%s" % (what, p.returncode, p.stdout[-2000:], p.stderr[-4000:]))
    return p.stdout


def parse_eval(out, n_files, what):
    """the means and speed lines of `mmgen tokenizer eval` on audio."""
    m = re.search(r"^mean over (\d+) files?: ([\d.]+) tokens/s, ([\d.]+) kbit/s, "
                  r"SNR (?:(-?[\d.]+) dB|n/a)(?: \(\d+ identical files? left out\))?, "
                  r"MCD ([\d.]+) dB \(scaled ([\d.]+) dB\)(.*)$", out, re.M)
    sp = re.search(r"^speed: encode ([\d.]+)x real time, decode ([\d.]+)x real time", out, re.M)
    kb = re.search(r"^kbit/s: (.*)$", out, re.M)
    if not m or not sp or int(m.group(1)) != n_files or m.group(7):
        bad = [l for l in out.splitlines() if "no SNR/MCD" in l][:3]
        die("%s: not every file was measured:\n%s" % (what, "\n".join(bad) or out[-2000:]))
    return {"n_files": n_files, "tokens_per_s": float(m.group(2)), "kbit_per_s": float(m.group(3)),
            "snr_db": float(m.group(4)) if m.group(4) else None, "mcd_db": float(m.group(5)), "mcd_scaled_db": float(m.group(6)),
            "encode_x_realtime": float(sp.group(1)), "decode_x_realtime": float(sp.group(2)),
            "kbit_basis": kb.group(1) if kb else None}


def mode_args(mode, learned_tok):
    if mode == "mulaw":
        return ["--plugin", "audio", "--config", json.dumps({"mode": "mulaw"})]
    if mode.startswith("codec2:"):
        return ["--plugin", "audio", "--config",
                json.dumps({"mode": "codec2", "codec2_mode": mode.split(":", 1)[1]})]
    if mode == "learned":
        return ["--tokenizer", learned_tok]
    die("unknown mode '%s' (mulaw, codec2:MODE, learned)" % mode)


# ---- libcodec2's own round trip ----------------------------------------------

def c2_reference(mode, files, work):
    """c2enc/c2dec on each file (16-bit raw at 8 kHz); returns the decoded
    WAV paths and the speed on all files joined."""
    out_dir = os.path.join(work, "c2dec-" + mode)
    os.makedirs(out_dir, exist_ok=True)
    raws = []
    for f in files:
        rate, data = scipy.io.wavfile.read(f)
        if rate != 8000 or data.dtype != np.int16 or data.ndim != 1:
            die("%s: c2enc takes 8 kHz 16-bit mono; this is %d Hz %s" % (f, rate, data.dtype))
        raws.append(data)
    decoded = []
    for f, data in zip(files, raws):
        base = os.path.join(out_dir, os.path.basename(f)[:-4])
        data.astype("<i2").tofile(base + ".raw")
        run(["c2enc", mode, base + ".raw", base + ".bit"], "c2enc " + f)
        run(["c2dec", mode, base + ".bit", base + ".out.raw"], "c2dec " + f)
        y = np.fromfile(base + ".out.raw", dtype="<i2")
        scipy.io.wavfile.write(base + ".wav", 8000, y)
        decoded.append(base + ".wav")
    joined = os.path.join(out_dir, "all.raw")
    np.concatenate(raws).astype("<i2").tofile(joined)
    seconds = sum(len(r) for r in raws) / 8000.0
    t0 = time.perf_counter()
    run(["c2enc", mode, joined, joined + ".bit"], "c2enc (all files)")
    t1 = time.perf_counter()
    run(["c2dec", mode, joined + ".bit", joined + ".out"], "c2dec (all files)")
    t2 = time.perf_counter()
    return decoded, seconds / (t1 - t0), seconds / (t2 - t1)


def same_samples(a_paths, b_paths):
    """files whose samples agree over the common length; the largest difference
    and the largest length difference."""
    same, worst, dlen = 0, 0, 0
    for a, b in zip(a_paths, b_paths):
        _, x = scipy.io.wavfile.read(a)
        _, y = scipy.io.wavfile.read(b)
        n = min(len(x), len(y))
        diff = int(np.max(np.abs(x[:n].astype(np.int64) - y[:n].astype(np.int64)))) if n else 0
        same += diff == 0
        worst = max(worst, diff)
        dlen = max(dlen, abs(len(x) - len(y)))
    return same, worst, dlen


def quality(orig_paths, dec_paths):
    snr, mcd, mcd_s = [], [], []
    for a, b in zip(orig_paths, dec_paths):
        s, m, ms, _ = audio_quality_ref.measure(a, b)
        if math.isfinite(s):
            snr.append(s)
        mcd.append(m)
        mcd_s.append(ms)
    return float(np.mean(snr)), float(np.mean(mcd)), float(np.mean(mcd_s))


# ---- main -------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mmgen", required=True, help="the mmgen program")
    ap.add_argument("--data", required=True, help="the fsdd directory")
    ap.add_argument("--holdout", default="theo", help="the speaker held out (default theo)")
    ap.add_argument("--modes", default="mulaw,codec2:700C,codec2:1200,codec2:3200,learned",
                    help="comma-separated: mulaw, codec2:MODE, learned")
    ap.add_argument("--learned-config", default='{"mode": "learned"}',
                    help="the learned tokenizer's JSON config for `tokenizer fit`")
    ap.add_argument("--work", required=True, help="a scratch directory")
    ap.add_argument("--results", help="append JSON lines here")
    ap.add_argument("--no-c2", action="store_true", help="leave out the c2enc/c2dec reference")
    a = ap.parse_args()

    try:
        cfg = json.loads(a.learned_config)
    except ValueError as e:
        die("--learned-config is not JSON: %s" % e)
    if not isinstance(cfg, dict) or cfg.get("mode", "learned") != "learned":
        die('--learned-config must be a JSON object with "mode": "learned" (or no mode)')
    cfg["mode"] = "learned"
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    for m in modes:
        mode_args(m, "")
    c2 = not a.no_c2 and any(m.startswith("codec2:") for m in modes)
    if c2 and not (shutil.which("c2enc") and shutil.which("c2dec")):
        print("note: c2enc/c2dec not found (Debian package codec2); the reference rows are left out")
        c2 = False

    files = sorted(f for f in os.listdir(a.data) if NAME.match(f))
    if not files:
        die("no {digit}_{speaker}_{take}.wav files in " + a.data)
    info = [NAME.match(f).groups() for f in files]
    speakers = sorted({s for _, s, _ in info})
    if a.holdout not in speakers:
        die("--holdout '%s' is not a speaker of %s (%s)" % (a.holdout, a.data, ", ".join(speakers)))
    train = [(os.path.join(a.data, f), int(d), s) for f, (d, s, _) in zip(files, info) if s != a.holdout]
    test = [(os.path.join(a.data, f), int(d)) for f, (d, s, _) in zip(files, info) if s == a.holdout]
    test_paths = [p for p, _ in test]
    test_digits = np.array([d for _, d in test])
    test_seconds = 0.0
    for p in test_paths:
        x, rate = read_wav(p)
        test_seconds += x.size / rate
    fit_speakers = sorted({s for _, _, s in train})
    print("held out: %s (%d files, %.1f s); fitting and classifier training on %s (%d files)"
          % (a.holdout, len(test), test_seconds, ", ".join(fit_speakers), len(train)))

    os.makedirs(a.work, exist_ok=True)
    t0 = time.perf_counter()
    clf = train_classifier([p for p, _, _ in train], [d for _, d, _ in train], [s for _, _, s in train])
    print("digit classifier: RBF SVM, C=%g gamma=%g (leave-one-speaker-out CV accuracy %.3f), %.1f s"
          % (clf.best_params_["svc__C"], clf.best_params_["svc__gamma"], clf.best_score_,
             time.perf_counter() - t0))

    orig_right = clf.predict(features(test_paths)) == test_digits

    def accuracy(paths, r=None):
        """Accuracy on `paths`; with a row `r`, also the paired comparison with
        the originals (same files): b = right on the original only, c = right
        on the reconstruction only, and McNemar's exact two-sided p-value."""
        right = clf.predict(features(paths)) == test_digits
        if r is not None:
            b = int(np.sum(orig_right & ~right))
            c = int(np.sum(~orig_right & right))
            n, k = b + c, min(b, c)
            p = min(1.0, 2.0 * sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n) if n else 1.0
            r.update({"paired_lost": b, "paired_gained": c, "mcnemar_p": p})
        return float(np.mean(right))

    rows = [{"mode": "original", "impl": "original", "digit_accuracy": float(np.mean(orig_right))}]
    learned_tok = os.path.join(a.work, "learned.json")
    fit_s = None
    if "learned" in modes:
        t0 = time.perf_counter()
        out = run([a.mmgen, "tokenizer", "fit", "--plugin", "audio", "--config", json.dumps(cfg),
                   "-o", learned_tok] + [p for p, _, _ in train], "tokenizer fit (learned)")
        fit_s = time.perf_counter() - t0
        print(out.strip() + "  [wall %.1f s]" % fit_s)

    for mode in modes:
        save = os.path.join(a.work, mode.replace(":", "-"))
        if os.path.isdir(save):
            shutil.rmtree(save)
        out = run([a.mmgen, "tokenizer", "eval"] + mode_args(mode, learned_tok) +
                  ["--save-dir", save] + test_paths, "tokenizer eval (%s)" % mode)
        r = {"mode": mode, "impl": "mmgen"}
        r.update(parse_eval(out, len(test_paths), mode))
        dec = [os.path.join(save, os.path.basename(p)) for p in test_paths]
        r["digit_accuracy"] = accuracy(dec, r)
        if mode == "learned":
            r["fit_s"] = fit_s
            r["config"] = cfg
        rows.append(r)
        if c2 and mode.startswith("codec2:"):
            cm = mode.split(":", 1)[1]
            ref, enc_x, dec_x = c2_reference(cm, test_paths, a.work)
            snr, mcd, mcd_s = quality(test_paths, ref)
            same, worst, dlen = same_samples(dec, ref)
            r["equal_to_c2dec"] = "%d/%d" % (same, len(dec))
            r["max_abs_diff_vs_c2dec"] = worst
            r["max_len_diff_vs_c2dec"] = dlen
            rows.append({"mode": mode, "impl": "c2enc/c2dec", "n_files": len(ref),
                         "snr_db": snr, "mcd_db": mcd, "mcd_scaled_db": mcd_s,
                         "digit_accuracy": accuracy(ref), "encode_x_realtime": enc_x,
                         "decode_x_realtime": dec_x})

    def f(r, k, fmt):
        return fmt % r[k] if r.get(k) is not None else ""

    print()
    print("| mode | impl | tokens/s | kbit/s | SNR dB | MCD dB | MCD/√80 dB | digit acc | "
          "encode ×RT | decode ×RT | same as c2dec |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["mode"], r["impl"], f(r, "tokens_per_s", "%.1f"), f(r, "kbit_per_s", "%.2f"),
            f(r, "snr_db", "%.2f"), f(r, "mcd_db", "%.2f"), f(r, "mcd_scaled_db", "%.3f"),
            f(r, "digit_accuracy", "%.3f"), f(r, "encode_x_realtime", "%.0f"),
            f(r, "decode_x_realtime", "%.0f"),
            "%s files (largest difference %d, in length %d)"
            % (r["equal_to_c2dec"], r["max_abs_diff_vs_c2dec"], r["max_len_diff_vs_c2dec"])
            if "equal_to_c2dec" in r else ""))
    if any("equal_to_c2dec" in r for r in rows):
        print("\nsame as c2dec: files whose samples equal c2dec's over the common length (c2enc drops "
              "a last partial frame)")
    if fit_s is not None:
        print("\nlearned: fitted on %d files of %s in %.1f s, config %s"
              % (len(train), ", ".join(fit_speakers), fit_s, json.dumps(cfg)))
    print("\nagainst the originals, file by file (McNemar's exact test on the discordant files):")
    for r in rows:
        if "mcnemar_p" in r:
            print("  %s: right on the original only %d, on the reconstruction only %d, p = %.3f"
                  % (r["mode"], r["paired_lost"], r["paired_gained"], r["mcnemar_p"]))
    basis = {r.get("kbit_basis") for r in rows if r.get("kbit_basis")}
    for b in sorted(basis):
        print("kbit/s: " + b)

    if a.results:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with open(a.results, "a") as out:
            for r in rows:
                line = {"bench": "audio", "time": stamp, "holdout": a.holdout,
                        "classifier": {"C": clf.best_params_["svc__C"],
                                       "gamma": clf.best_params_["svc__gamma"],
                                       "cv_accuracy": clf.best_score_}}
                line.update(r)
                out.write(json.dumps(line) + "\n")
        print("appended %d lines to %s" % (len(rows), a.results))


if __name__ == "__main__":
    main()
