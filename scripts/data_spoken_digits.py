#!/usr/bin/python3
"""scripts/data_spoken_digits.py OUT_DIR - spoken digits and pairs manifests
for `mmgen train --pairs` (text -> audio), one speaker held out.

Source: the Free Spoken Digit Dataset (--fsdd, default ../shared/data/fsdd:
files {digit}_{speaker}_{take}.wav, 8 kHz). The held-out speaker (--holdout,
default theo) goes to test.tsv, the others to pairs.tsv. Recordings longer
than --max-seconds (default 1.0; about 1% of FSDD) are left out, so every
target fits the decoder's context.

Where FSDD is absent, espeak-ng (Debian package espeak-ng) speaks the ten
names in 12 voices at varied speed and pitch, --takes (default 10) per voice
and digit (1,200 WAVs under OUT_DIR/wav); the voice en+m3 is held out.

Writes, under OUT_DIR:
  pairs.tsv   training pairs "seven<TAB>/path/7_george_12.wav", seeded shuffle
  test.tsv    the held-out speaker's recordings, same format
  names.txt   the ten digit names, one a line (to fit a text tokenizer on)
  speakers.txt  the speaker of each pairs.tsv line, in order (the judge's
              cross-validation groups)
Run it with /usr/bin/python3 (standard library only).
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import wave

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")
ESPEAK_VOICES = ["en+m1", "en+m2", "en+m3", "en+m4", "en+m5", "en+m7", "en+f1", "en+f2",
                 "en+f3", "en+f4", "en-us+m1", "en-us+f2"]
ESPEAK_HOLDOUT = "en+m3"


def duration(path):
    with wave.open(path, "rb") as w:
        return w.getnframes() / float(w.getframerate())


def from_fsdd(fsdd):
    """[(digit, speaker, absolute path)] of every FSDD file."""
    rows = []
    for f in sorted(os.listdir(fsdd)):
        m = FSDD_NAME.match(f)
        if m:
            rows.append((int(m.group(1)), m.group(2), os.path.abspath(os.path.join(fsdd, f))))
    return rows


def from_espeak(out_dir, seed, takes):
    """Speaks the names with espeak-ng: [(digit, voice, path)]."""
    if not shutil.which("espeak-ng"):
        sys.exit("data_spoken_digits: no FSDD and no espeak-ng (Debian: apt-get install espeak-ng)")
    rng = random.Random(seed)
    wav_dir = os.path.join(out_dir, "wav")
    os.makedirs(wav_dir, exist_ok=True)
    rows = []
    for vi, voice in enumerate(ESPEAK_VOICES):
        for d, name in enumerate(NAMES):
            for take in range(takes):
                path = os.path.abspath(os.path.join(wav_dir, "%d_v%02d_%d.wav" % (d, vi, take)))
                speed, pitch = rng.randint(150, 230), rng.randint(25, 75)
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                                "-w", path, name], check=True)
                rows.append((d, voice, path))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--fsdd", default=None, help="the FSDD directory (default ../shared/data/fsdd)")
    ap.add_argument("--holdout", default=None, help="speaker held out (FSDD default theo)")
    ap.add_argument("--max-seconds", type=float, default=1.0)
    ap.add_argument("--espeak", action="store_true", help="use espeak-ng even when FSDD is there")
    ap.add_argument("--takes", type=int, default=10, help="espeak-ng: recordings per voice and digit")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    fsdd = args.fsdd or os.path.join(here, "..", "..", "shared", "data", "fsdd")
    if os.environ.get("MMGEN_TEST_DATA") and not args.fsdd:
        fsdd = os.path.join(os.environ["MMGEN_TEST_DATA"], "fsdd")
    os.makedirs(args.out_dir, exist_ok=True)
    if not args.espeak and os.path.isdir(fsdd) and any(FSDD_NAME.match(f) for f in os.listdir(fsdd)):
        rows, source, holdout = from_fsdd(fsdd), "FSDD " + os.path.abspath(fsdd), args.holdout or "theo"
    else:
        rows, source, holdout = from_espeak(args.out_dir, args.seed, args.takes), "espeak-ng", args.holdout or ESPEAK_HOLDOUT
    if holdout not in {s for _, s, _ in rows}:
        sys.exit("data_spoken_digits: no speaker '%s' in %s" % (holdout, source))
    kept = [r for r in rows if duration(r[2]) <= args.max_seconds]
    train = [r for r in kept if r[1] != holdout]
    test = [r for r in kept if r[1] == holdout]
    random.Random(args.seed).shuffle(train)
    for name, part in (("pairs.tsv", train), ("test.tsv", test)):
        with open(os.path.join(args.out_dir, name), "w") as f:
            for d, _, path in part:
                f.write("%s\t%s\n" % (NAMES[d], path))
    with open(os.path.join(args.out_dir, "speakers.txt"), "w") as f:
        f.write("".join(s + "\n" for _, s, _ in train))
    with open(os.path.join(args.out_dir, "names.txt"), "w") as f:
        f.write("\n".join(NAMES) + "\n")
    print("data_spoken_digits: %s: %d recordings (%d longer than %.2f s left out): %d training pairs "
          "(pairs.tsv), %d of '%s' held out (test.tsv)"
          % (source, len(rows), len(rows) - len(kept), args.max_seconds, len(train), len(test), holdout))


if __name__ == "__main__":
    main()
