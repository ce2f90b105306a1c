#!/usr/bin/python3
"""bench/judge_spoken_digits.py DATA_DIR [GENERATED_DIR] - judges generated
spoken digits with a classifier that never heard a generated file.

The judge is bench/audio_eval.py's: an RBF SVM on MFCC statistics, C and gamma
chosen by leave-one-speaker-out cross-validation, trained on the real
recordings of DATA_DIR/pairs.tsv (scripts/data_spoken_digits.py; speakers in
speakers.txt) and scored on the held-out speaker's real recordings
(DATA_DIR/test.tsv): that accuracy is the bar. GENERATED_DIR holds the
generated WAVs named <name>-<k>.wav ("seven-03.wav": asked for a seven);
each is classified and compared with the digit it was asked for.
--roundtrip DIR judges DIR/<basename> of each held-out file (`mmgen
tokenizer eval --save-dir`): the tokenizer's ceiling.

Also counted: generated files that are byte-identical to another (copies),
and the mean duration of the generated files beside the real ones'.
Prints a table; --json FILE appends one JSON line of every number.
Needs /usr/bin/python3 with python3-numpy, python3-scipy, python3-sklearn.
"""
import argparse
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audio_eval import features, read_wav, train_classifier  # noqa: E402

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def read_split(data_dir, name):
    paths, digits = [], []
    with open(os.path.join(data_dir, name)) as f:
        for line in f:
            src, tgt = line.rstrip("\n").split("\t")
            paths.append(tgt if os.path.isabs(tgt) else os.path.join(data_dir, tgt))
            digits.append(NAMES.index(src))
    return paths, np.array(digits)


def seconds(path):
    x, rate = read_wav(path)
    return len(x) / float(rate)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("generated_dir", nargs="?")
    ap.add_argument("--roundtrip", help="judge DIR/<basename> of each held-out file")
    ap.add_argument("--json", help="append the numbers as one JSON line to this file")
    ap.add_argument("--label", default="", help="a name for this run in the JSON line")
    args = ap.parse_args()

    tr_paths, ytr = read_split(args.data_dir, "pairs.tsv")
    te_paths, yte = read_split(args.data_dir, "test.tsv")
    with open(os.path.join(args.data_dir, "speakers.txt")) as f:
        speakers = [s.strip() for s in f]
    if len(speakers) != len(tr_paths):
        sys.exit("judge: speakers.txt has %d lines, pairs.tsv %d" % (len(speakers), len(tr_paths)))
    clf = train_classifier(tr_paths, list(ytr), speakers)
    real_pred = clf.predict(features(te_paths))
    real_acc = float((real_pred == yte).mean())
    per_real = [float((real_pred[yte == d] == d).mean()) for d in range(10)]
    result = {"label": args.label, "judge": "RBF SVM on MFCC statistics, %s" % clf.best_params_,
              "train_files": len(tr_paths), "real_test_files": len(te_paths),
              "real_test_accuracy": real_acc, "real_per_digit": per_real,
              "real_mean_seconds": float(np.mean([seconds(p) for p in te_paths]))}
    print("judge: SVM (%s) trained on %d real recordings of %d speakers; accuracy on %d held-out: %.1f%%"
          % (clf.best_params_, len(tr_paths), len(set(speakers)), len(te_paths), 100 * real_acc))

    if args.roundtrip:
        rt = [os.path.join(args.roundtrip, os.path.basename(p)) for p in te_paths]
        acc = float((clf.predict(features(rt)) == yte).mean())
        result["roundtrip_accuracy"] = acc
        print("tokenizer round trip of the held-out recordings: %.1f%% classified right" % (100 * acc))

    if args.generated_dir:
        pat = re.compile(r"^(%s)-(\d+)\.wav$" % "|".join(NAMES))
        gen = {d: [] for d in range(10)}
        for f in sorted(os.listdir(args.generated_dir)):
            m = pat.match(f)
            if m:
                gen[NAMES.index(m.group(1))].append(os.path.join(args.generated_dir, f))
        total = sum(len(v) for v in gen.values())
        if total == 0:
            sys.exit("judge: no <name>-<k>.wav files in %s" % args.generated_dir)
        rows, right = [], 0
        print("\n%-6s %4s %9s %9s %7s %9s" % ("digit", "n", "judged", "real", "copies", "seconds"))
        for d in range(10):
            if not gen[d]:
                continue
            pred = clf.predict(features(gen[d]))
            ok = int((pred == d).sum())
            right += ok
            blobs = [open(p, "rb").read() for p in gen[d]]
            copies = len(blobs) - len(set(blobs))
            secs = float(np.mean([seconds(p) for p in gen[d]]))
            rows.append({"digit": d, "n": len(gen[d]), "accuracy": ok / len(gen[d]),
                         "real_accuracy": per_real[d], "predicted": [int(p) for p in pred],
                         "duplicates": copies, "mean_seconds": secs})
            print("%-6s %4d %8.0f%% %8.0f%% %7d %9.3f" % (NAMES[d], len(gen[d]), 100 * ok / len(gen[d]),
                                                       100 * per_real[d], copies, secs))
        acc = right / total
        result.update({"generated": total, "generated_accuracy": acc, "per_digit": rows,
                       "generated_mean_seconds": float(np.mean([r["mean_seconds"] for r in rows]))})
        print("\ngenerated: %d of %d judged as the digit asked for: %.1f%% (real held-out: %.1f%%; chance 10%%)"
              % (right, total, 100 * acc, 100 * real_acc))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
