#!/bin/sh
# scripts/deps.sh - installs, with apt-get, whatever this Debian 12 machine
# lacks to build and test mmgen. Safe to run again: installed packages are
# skipped, and nothing is fetched when nothing is missing.
#   scripts/deps.sh          build + test dependencies
#   scripts/deps.sh --demo   also what scripts/demo.sh uses (scikit-learn's
#                            digits, ImageMagick, sox, espeak-ng)
#   scripts/deps.sh --full   also PyTorch and media tools for parity checks
set -eu
pkgs="build-essential cmake pkg-config git libopenblas-dev libpng-dev libsndfile1-dev
      libcjson-dev libcriterion-dev libsamplerate0-dev libfftw3-dev libcodec2-dev
      binutils abigail-tools python3 python3-pytest nodejs npm cargo golang-go
      clang libfuzzer-14-dev libomp-14-dev libopenmpi-dev openmpi-bin"
if [ "${1:-}" = "--demo" ]; then
  pkgs="$pkgs python3-numpy python3-sklearn imagemagick sox espeak-ng"
fi
if [ "${1:-}" = "--full" ]; then
  pkgs="$pkgs python3-torch python3-numpy python3-scipy python3-sklearn imagemagick sox gnuplot-nox
        codec2 espeak-ng
        "
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node/npm may come from elsewhere (a preinstalled Node.js); accept the commands.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=$(printf '%s\n' $missing | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing packages: $missing (run as root, or install them)" >&2
  exit 1
fi
echo "deps.sh: installing $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
