#!/bin/sh
# scripts/demo.sh - installs what is missing, builds mmgen and runs its main
# job: prints the version of the CLI against the library it just built.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
./build/bin/mmgen --version
