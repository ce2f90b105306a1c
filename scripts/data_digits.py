#!/usr/bin/python3
"""scripts/data_digits.py OUT_DIR - handwritten digits as PNGs and pairs
manifests for `mmgen train --pairs`, from scikit-learn's copy of the UCI
digits (Debian package python3-sklearn: datasets/data/digits.csv.gz, 1,797
8x8 images, values 0-16, label in the last column). Reads the CSV with the
standard library alone; run it with /usr/bin/python3.

Writes, under OUT_DIR:
  img/NNNN.png     each image as an 8-bit gray 8x8 PNG, value v -> round(v*255/16)
  pairs.tsv        the training split: "seven<TAB>img/0007.png", in a seeded shuffle
  test.tsv         the held-out split (20%, stratified by digit), same format
  names.txt        the ten digit names, one a line (to fit a text tokenizer on)

The split is fixed by --seed (default 0), so the judge (bench/judge_digits.py)
trains its classifier on exactly the training images and reports its accuracy
on exactly the held-out ones.
"""
import argparse
import gzip
import os
import random
import struct
import sys
import zlib

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DEFAULT_CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def read_digits(path):
    """[(pixels: 64 ints 0-16, label)] in file order."""
    rows = []
    with gzip.open(path, "rt") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            v = [int(float(x)) for x in line.split(",")]
            if len(v) != 65 or not all(0 <= x <= 16 for x in v[:64]) or not 0 <= v[64] <= 9:
                sys.exit("%s:%d: expected 64 values 0-16 and a label 0-9" % (path, n))
            rows.append((v[:64], v[64]))
    return rows


def png_gray(width, height, pixels):
    """A minimal valid 8-bit grayscale PNG (filter 0 on every row)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def split(rows, test_fraction, seed):
    """Stratified: test_fraction of each digit's images held out."""
    rng = random.Random(seed)
    train, test = [], []
    for d in range(10):
        idx = [i for i, (_, y) in enumerate(rows) if y == d]
        rng.shuffle(idx)
        k = round(len(idx) * test_fraction)
        test += idx[:k]
        train += idx[k:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--csv", default=DEFAULT_CSV, help="digits.csv.gz (default: python3-sklearn's copy)")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not os.path.exists(args.csv):
        sys.exit("data_digits: %s is missing (Debian: apt-get install python3-sklearn)" % args.csv)
    rows = read_digits(args.csv)
    os.makedirs(os.path.join(args.out_dir, "img"), exist_ok=True)
    for i, (px, _) in enumerate(rows):
        with open(os.path.join(args.out_dir, "img", "%04d.png" % i), "wb") as f:
            f.write(png_gray(8, 8, [(v * 255 + 8) // 16 for v in px]))
    train, test = split(rows, args.test_fraction, args.seed)
    for name, idx in (("pairs.tsv", train), ("test.tsv", test)):
        with open(os.path.join(args.out_dir, name), "w") as f:
            for i in idx:
                f.write("%s\timg/%04d.png\n" % (NAMES[rows[i][1]], i))
    with open(os.path.join(args.out_dir, "names.txt"), "w") as f:
        f.write("\n".join(NAMES) + "\n")
    print("data_digits: %d images -> %s: %d training pairs (pairs.tsv), %d held out (test.tsv)"
          % (len(rows), args.out_dir, len(train), len(test)))


if __name__ == "__main__":
    main()
