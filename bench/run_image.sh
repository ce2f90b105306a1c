#!/bin/sh
# bench/run_image.sh [BUILD_DIR] - the image plugin's quality table and speed
# on the Kodak photographs (../shared/data/kodak), against libpng alone.
#
# Fits on kodim01-06 and measures on kodim07-12 (never fitted):
#   4x4 patches, K=1024, 1 stage; 2-stage RVQ (whose first stage alone is the
#   1-stage tokenizer, so its PSNR is printed again); 8x8 patches, K=1024.
# Training samples 65536 patches (of 147,456 for 4x4, 36,864 for 8x8: all
# of them) with 20 Lloyd iterations. Speed is wall-clock Mpixel/s over the six
# test images x 5 repeats, next to libpng reading the same PNGs and writing
# the same pixels in the same run. The machine's load is printed with it:
# on a shared 2-core machine the numbers move with what else runs.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
if [ ! -x "$build/bin/bench_image" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target bench_image image >/dev/null
fi
if [ ! -f ../shared/data/kodak/kodim12.png ] && [ -z "${MMGEN_TEST_DATA:-}" ]; then
  echo "run_image: ../shared/data/kodak is missing; nothing to measure"
  exit 0
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in "--patch 4 --k 1024 --stages 1" "--patch 4 --k 1024 --stages 2" "--patch 8 --k 1024 --stages 1"; do
  # shellcheck disable=SC2086
  "$build/bin/bench_image" $run --train 65536 --iters 20 --repeat 5 | grep -E "^(RESULT|SPEED|CPU|fit)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
