#!/bin/sh
# scripts/test_tsan.sh - the ThreadSanitizer job: builds libmmgen, the text
# plugin and tests/threads_check.c with -DMMGEN_TSAN=ON in build-tsan/ and
# runs the check (one model shared by generating threads, plugins and
# tokenizers on several threads, errors and logs per thread). First it makes
# sure the job can fail: a deliberate race must be reported.
set -eu
cd "$(dirname "$0")/.."
dir=${MMGEN_TSAN_BUILD_DIR:-build-tsan}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMGEN_TSAN=ON > /dev/null
cmake --build "$dir" -j "$(nproc)" --target threads_check text
if MMGEN_THREADS_CHECK_RACE=1 "$dir/bin/threads_check" 2>&1 | grep -q "WARNING: ThreadSanitizer: data race"; then
  echo "test_tsan: ThreadSanitizer reports the deliberate race, as it must"
else
  echo "test_tsan: FAIL: the deliberate race went unreported; this build is not checking anything" >&2
  exit 1
fi
cd "$dir"
ctest -R threads_check --output-on-failure
