#!/bin/sh
# scripts/test.sh - installs what is missing, builds mmgen (with libmmgen_mpi,
# so tests/check_mpi.sh runs mpirun), runs the whole test suite with ctest.
# Extra arguments go to cmake's configure step (after -DMMGEN_MPI=ON, so
# -DMMGEN_MPI=OFF turns it off), e.g.
#   scripts/test.sh -DMMGEN_SANITIZE=ON
# The build directory is build/ (build-sanitize/ with MMGEN_SANITIZE=ON), or
# $MMGEN_BUILD_DIR when set.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh --full
dir=${MMGEN_BUILD_DIR:-build}
case " $* " in *MMGEN_SANITIZE=ON*) dir=${MMGEN_BUILD_DIR:-build-sanitize} ;; esac
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMGEN_MPI=ON "$@"
cmake --build "$dir" -j "$(nproc)"
cd "$dir"
ctest --output-on-failure -j "$(nproc)"
