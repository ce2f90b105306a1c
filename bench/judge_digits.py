#!/usr/bin/python3
"""bench/judge_digits.py DATA_DIR [GENERATED_DIR] - judges generated digits with
a classifier that never saw a generated image.

The judge is scikit-learn's SVM on raw pixels (SVC, RBF kernel, gamma 0.001,
C 10: the setting of scikit-learn's digits example), trained on the real
training images of DATA_DIR/pairs.tsv (written by scripts/data_digits.py) and
scored on the real held-out images of DATA_DIR/test.tsv: that accuracy is
the bar. GENERATED_DIR holds the generated PNGs named <name>-<k>.png
("seven-03.png": asked for a seven); each is classified and compared with the
digit it was asked for.

Diversity: for each digit, the mean pairwise RMS pixel distance (0-16 scale)
among its generated samples, beside the same among as many real held-out
images of that digit (drawn with a fixed seed), and how many of the samples
are exact copies of another sample. Memorization: the RMS distance from each
sample to its nearest real training image of that digit (0 = a copy of the
training set), beside the same for real held-out images.

Prints a table and, with --json FILE, appends one JSON line of every number.
Needs /usr/bin/python3 with python3-sklearn and python3-numpy (Debian).
--roundtrip DIR judges DIR's images named as the held-out ones (img/NNNN.png,
e.g. `mmgen tokenizer eval --save-dir`): the tokenizer's ceiling.
"""
import argparse
import json
import os
import re
import struct
import sys
import zlib

import numpy as np
from sklearn.svm import SVC

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def read_png_gray(path):
    """8-bit PNG (gray, gray+alpha, RGB, RGBA; not interlaced) -> float array of
    its gray values on the digits' 0-16 scale, row-major."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = hdr
    chans = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or chans is None or interlace:
        raise ValueError("%s: only 8-bit, non-interlaced gray/RGB(A) PNGs are read here" % path)
    raw = zlib.decompress(idat)
    stride = w * chans
    out = bytearray(h * stride)
    prev = bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - chans] if x >= chans else 0
            b = prev[x]
            c = prev[x - chans] if x >= chans else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    px = np.frombuffer(bytes(out), dtype=np.uint8).reshape(h, w, chans).astype(np.float64)
    gray = px[..., 0] if chans <= 2 else px[..., :3].mean(axis=2)
    return (gray * 16.0 / 255.0).reshape(-1)


def read_split(data_dir, name):
    xs, ys, paths = [], [], []
    with open(os.path.join(data_dir, name)) as f:
        for line in f:
            src, tgt = line.rstrip("\n").split("\t")
            xs.append(read_png_gray(os.path.join(data_dir, tgt)))
            ys.append(NAMES.index(src))
            paths.append(tgt)
    return np.array(xs), np.array(ys), paths


def rms(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def mean_pairwise(xs):
    d = [rms(xs[i], xs[j]) for i in range(len(xs)) for j in range(i + 1, len(xs))]
    return float(np.mean(d)) if d else float("nan")


def nearest(x, pool):
    return float(np.sqrt(((pool - x) ** 2).mean(axis=1)).min())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("generated_dir", nargs="?")
    ap.add_argument("--roundtrip", help="judge DIR/img/NNNN.png decoded from the held-out images")
    ap.add_argument("--json", help="append the numbers as one JSON line to this file")
    ap.add_argument("--label", default="", help="a name for this run in the JSON line")
    args = ap.parse_args()

    xtr, ytr, _ = read_split(args.data_dir, "pairs.tsv")
    xte, yte, te_paths = read_split(args.data_dir, "test.tsv")
    clf = SVC(gamma=0.001, C=10).fit(xtr, ytr)
    real_acc = float((clf.predict(xte) == yte).mean())
    per_real = [float((clf.predict(xte[yte == d]) == d).mean()) for d in range(10)]
    result = {"label": args.label, "judge": "SVC(rbf, gamma=0.001, C=10) on raw 8x8 pixels",
              "train_images": int(len(ytr)), "real_test_images": int(len(yte)),
              "real_test_accuracy": real_acc, "real_per_digit": per_real}
    print("judge: SVM trained on %d real images; accuracy on %d real held-out images: %.1f%%"
          % (len(ytr), len(yte), 100 * real_acc))

    if args.roundtrip:
        xs = np.array([read_png_gray(os.path.join(args.roundtrip, os.path.basename(p))) for p in te_paths])
        rt = float((clf.predict(xs) == yte).mean())
        result["roundtrip_accuracy"] = rt
        print("tokenizer round trip of the held-out images: %.1f%% classified right" % (100 * rt))

    if args.generated_dir:
        pat = re.compile(r"^(%s)-(\d+)\.png$" % "|".join(NAMES))
        gen = {d: [] for d in range(10)}
        for f in sorted(os.listdir(args.generated_dir)):
            m = pat.match(f)
            if m:
                gen[NAMES.index(m.group(1))].append(read_png_gray(os.path.join(args.generated_dir, f)))
        total = sum(len(v) for v in gen.values())
        if total == 0:
            sys.exit("judge: no <name>-<k>.png files in %s" % args.generated_dir)
        rng = np.random.RandomState(0)
        rows, right = [], 0
        print("\n%-6s %4s %9s %9s %10s %10s %6s %10s %10s" % (
            "digit", "n", "judged", "real", "div gen", "div real", "copies", "nn gen", "nn real"))
        for d in range(10):
            xs = np.array(gen[d])
            if len(xs) == 0:
                continue
            pred = clf.predict(xs)
            ok = int((pred == d).sum())
            right += ok
            real_d = xte[yte == d]
            pick = real_d[rng.choice(len(real_d), size=min(len(xs), len(real_d)), replace=False)]
            copies = len(xs) - len({x.tobytes() for x in xs})
            pool = xtr[ytr == d]
            row = {"digit": d, "n": int(len(xs)), "accuracy": ok / len(xs), "real_accuracy": per_real[d],
                   "predicted": [int(p) for p in pred],
                   "diversity_generated": mean_pairwise(xs), "diversity_real": mean_pairwise(pick),
                   "duplicates": int(copies),
                   "nearest_train_generated": float(np.mean([nearest(x, pool) for x in xs])),
                   "nearest_train_real": float(np.mean([nearest(x, pool) for x in real_d]))}
            rows.append(row)
            print("%-6s %4d %8.0f%% %8.0f%% %10.2f %10.2f %6d %10.2f %10.2f" % (
                NAMES[d], row["n"], 100 * row["accuracy"], 100 * per_real[d], row["diversity_generated"],
                row["diversity_real"], copies, row["nearest_train_generated"], row["nearest_train_real"]))
        acc = right / total
        result.update({"generated": total, "generated_accuracy": acc, "per_digit": rows,
                       "diversity_generated_mean": float(np.mean([r["diversity_generated"] for r in rows])),
                       "diversity_real_mean": float(np.mean([r["diversity_real"] for r in rows]))})
        print("\ngenerated: %d of %d judged as the digit asked for: %.1f%% (real held-out: %.1f%%)"
              % (right, total, 100 * acc, 100 * real_acc))
        print("diversity (mean pairwise RMS, 0-16 scale): generated %.2f, real %.2f"
              % (result["diversity_generated_mean"], result["diversity_real_mean"]))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
