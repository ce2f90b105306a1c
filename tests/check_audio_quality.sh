#!/bin/sh
# tests/check_audio_quality.sh SRC BUILD - the audio measures of `mmgen
# tokenizer eval` (cli/audio_quality.c) agree with an independent numpy/scipy
# implementation of the same definitions (tests/audio_quality_ref.py).
#
# sox makes the sounds: a tone, a sweep, white noise, a stereo file, and,
# when ../shared/data/fsdd is there, a spoken digit; and degraded copies:
# noise added, low-passed, mixed to mono, written as float, at 16 kHz. The C
# side (test_audio_quality, suite `reference`) must match numpy within 1e-3 dB
# of SNR and 1e-3 relative MCD (and the same frame count). Pairs at two rates
# (8 -> 16 kHz and 16 -> 8 kHz) go through libsamplerate on both sides, the
# reference calling it through ctypes: the resampler is part of the
# definition, and another one moves SNR by a dB and MCD by percents, since
# bands above the original's Nyquist then hold only each filter's leakage.
# With the audio plugin built, `mmgen tokenizer eval` (mu-law) must print the
# SNR and MCD numpy finds between the file and its --save.
# Skips (77) without sox or numpy/scipy.
set -eu
src=$1 bin=$2
tool=$bin/bin/test_audio_quality
py=/usr/bin/python3
command -v sox >/dev/null 2>&1 || { echo "skip: sox is not installed"; exit 77; }
if ! { [ -x "$py" ] && "$py" -c 'import numpy, scipy' 2>/dev/null; }; then echo "skip: $py lacks numpy or scipy"; exit 77; fi
[ -x "$tool" ] || { echo "FAIL: $tool not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export MMGEN_NUM_THREADS=1
# -R: sox's repeatable random numbers (noise, dither)
sx() { sox -R "$@"; }

sx -n -r 8000 -b 16 -c 1 tone.wav synth 1.0 sine 440 vol 0.5
sx -n -r 8000 -b 16 -c 1 sweep.wav synth 1.2 sine 100-3800 vol 0.6
sx -n -r 8000 -b 16 -c 1 noise.wav synth 1.2 whitenoise vol 0.3
sx -n -r 8000 -b 16 -c 1 hiss.wav synth 1.2 whitenoise vol 0.02
sx -n -r 8000 -b 16 -c 2 stereo.wav synth 1.0 sine 300-2000 sine 500 vol 0.4
sx -m -v 1 tone.wav -v 1 hiss.wav tone_hiss.wav trim 0 1.0
sx tone_hiss.wav -e floating-point -b 32 tone_hiss_f32.wav
sx -m -v 1 sweep.wav -v 1 hiss.wav sweep_hiss.wav
sx noise.wav noise_lp.wav lowpass 1000
sx stereo.wav -c 1 stereo_mono_lp.wav lowpass 1500
pairs="tone.wav tone_hiss.wav tone.wav tone_hiss_f32.wav sweep.wav sweep_hiss.wav
       noise.wav noise_lp.wav stereo.wav stereo_mono_lp.wav tone.wav tone.wav"
resampled=""
sx sweep_hiss.wav -r 16000 sweep_hiss_16k.wav
sx -n -r 16000 -b 16 -c 1 sweep16.wav synth 1.2 sine 100-7000 vol 0.6
sx sweep16.wav sweep16_lp.wav lowpass 3000
pairs="$pairs sweep16.wav sweep16_lp.wav"
resampled="sweep.wav sweep_hiss_16k.wav"
digit=$src/../shared/data/fsdd/7_jackson_12.wav
[ -n "${MMGEN_TEST_DATA:-}" ] && digit=$MMGEN_TEST_DATA/fsdd/7_jackson_12.wav
if [ -f "$digit" ]; then
  cp "$digit" digit.wav
  len=$(soxi -D digit.wav)
  sx -n -r 8000 -b 16 -c 1 dhiss.wav synth "$len" whitenoise vol 0.01
  sx -m -v 1 digit.wav -v 1 dhiss.wav digit_noise.wav
  sx digit.wav digit_lp.wav lowpass 2000
  sx digit_noise.wav -r 16000 digit_noise_16k.wav
  sx digit.wav -r 16000 digit16.wav
  sx digit16.wav digit16_lp.wav lowpass 2500
  pairs="$pairs digit.wav digit_noise.wav digit.wav digit_lp.wav digit16.wav digit16_lp.wav"
  resampled="$resampled digit.wav digit_noise_16k.wav digit16.wav digit_noise.wav"
else
  echo "note: $digit is missing; spoken-digit pairs left out"
fi
# shellcheck disable=SC2086
"$py" "$src/tests/audio_quality_ref.py" $pairs $resampled > ref.tsv
MMGEN_AUDIO_QUALITY_REF=$tmp/ref.tsv "$tool" --jobs=1 --filter='reference/*' --verbose > out.txt 2>&1 || {
  cat out.txt; echo "FAIL: the C measures differ from numpy's"; exit 1; }
grep -E "ok$|DIFFERS$" out.txt
n=$(grep -c " ok$" out.txt || true)
want=$(wc -l < ref.tsv)
[ "$n" -eq "$want" ] || { cat out.txt; echo "FAIL: $n of $want pairs compared"; exit 1; }
echo "ok: $n pairs agree with numpy"

# --- `mmgen tokenizer eval`: usage errors name the problem -------------------
mmgen=$bin/bin/mmgen
# expect CODE PATTERN CMD...: CMD exits CODE and its stderr contains PATTERN
expect() {
  code=$1 pat=$2
  shift 2
  set +e
  "$@" > cmd.out 2> cmd.err
  rc=$?
  set -e
  [ "$rc" = "$code" ] || { echo "FAIL: '$*' exited $rc, expected $code: $(cat cmd.err)"; exit 1; }
  grep -q -- "$pat" cmd.err || { echo "FAIL: '$*': stderr lacks '$pat': $(cat cmd.err)"; exit 1; }
}
if [ -x "$mmgen" ]; then
  mkdir sub
  cp tone.wav sub/tone.wav
  expect 2 "two FILES are named 'tone.wav'" "$mmgen" tokenizer eval --plugin audio --save-dir o tone.wav sub/tone.wav
  expect 2 "'-' has none" "$mmgen" tokenizer eval --plugin audio --save-dir o - < tone.wav
  expect 2 "'tone.wav' is not a directory" "$mmgen" tokenizer eval --plugin audio --save-dir tone.wav sweep.wav
  expect 2 "not both" "$mmgen" tokenizer eval --plugin audio --save x.wav --save-dir o tone.wav
  [ ! -e o ] || { echo "FAIL: a refused --save-dir was made"; exit 1; }
  echo "ok: --save-dir usage errors"
fi

# --- end to end through `mmgen tokenizer eval` ------------------------------
if [ -x "$mmgen" ] && [ -f "$bin/plugins/mmgen-audio.so" ]; then
  in=sweep_hiss.wav
  [ -f digit.wav ] && in=digit.wav
  "$mmgen" tokenizer eval --plugin audio --config '{"mode": "mulaw"}' --save decoded.wav "$in" > eval.txt
  cat eval.txt
  "$py" "$src/tests/audio_quality_ref.py" "$in" decoded.wav > e2e.tsv
  "$py" - eval.txt e2e.tsv <<'PY'
import re, sys
line = [l for l in open(sys.argv[1]) if "SNR" in l][0]
m = re.search(r"SNR (\S+) dB, MCD (\S+) dB \(scaled (\S+) dB\)", line)
if not m:
    sys.exit("FAIL: no SNR/MCD in the eval line: " + line)
ref = open(sys.argv[2]).read().split("\t")
snr, mcd, mcd_s = (float(v) for v in m.groups())
want = (float(ref[2]), float(ref[3]), float(ref[4]))
# eval prints 2 and 3 decimals: compare at that precision
ok = abs(snr - want[0]) <= 0.006 and abs(mcd - want[1]) <= max(6e-4, 1e-3 * want[1]) \
    and abs(mcd_s - want[2]) <= max(6e-4, 1e-3 * want[2])
print("eval SNR %.2f MCD %.3f (%.3f); numpy %.4f %.4f (%.4f)" % (snr, mcd, mcd_s, *want))
sys.exit(0 if ok else "FAIL: eval's numbers differ from numpy's")
PY
  echo "ok: mmgen tokenizer eval (mu-law) prints numpy's SNR and MCD"
  "$mmgen" tokenizer eval --plugin audio --config '{"mode": "mulaw"}' --save-dir out tone.wav sub/../sweep.wav > eval2.txt
  if ! [ -s out/tone.wav ] || ! [ -s out/sweep.wav ]; then
    echo "FAIL: --save-dir did not write out/tone.wav and out/sweep.wav"; exit 1
  fi
  grep -q "^mean over 2 files: .* kbit/s, SNR .* dB, MCD .* dB (scaled .* dB)$" eval2.txt ||
    { cat eval2.txt; echo "FAIL: no mean line"; exit 1; }
  grep -q "^speed: encode .*x real time, decode .*x real time" eval2.txt || { cat eval2.txt; echo "FAIL: no speed line"; exit 1; }
  "$py" "$src/tests/audio_quality_ref.py" sweep.wav out/sweep.wav | cut -f3 > e3.txt
  grep -q "SNR $(printf '%.2f' "$(cat e3.txt)") dB" eval2.txt || { cat eval2.txt e3.txt; echo "FAIL: --save-dir output is not what eval measured"; exit 1; }
  echo "ok: --save-dir writes DIR/<name> for each file"
else
  echo "note: the audio plugin is not built; mmgen tokenizer eval not checked"
fi
