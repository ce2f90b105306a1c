#!/bin/sh
# scripts/fuzz.sh [SECONDS] [TARGET...] - runs the libFuzzer targets of
# fuzz/ (fuzz/README.md): builds build-fuzz/ with clang (-DMMGEN_FUZZ=ON:
# ASan + UBSan + coverage), then fuzzes each target for SECONDS (default 20;
# .ci/run uses the default: 20 targets in about 7 minutes) starting from a
# copy of its committed corpus fuzz/corpus/<target>/ (new inputs stay in
# build-fuzz/fuzz-work/, never in the source tree), with its dictionary
# where one helps (an input running past $MMGEN_FUZZ_TIMEOUT seconds, default
# 10, is a failure: raise it for runs at low priority on a busy machine).
# Prints executions, coverage (edges) and peak memory per
# target; exits 1 when any target crashed, leaked, timed out or ran out of
# memory, leaving the reproducer in build-fuzz/fuzz-work/<target>/ (add it
# to fuzz/corpus/<target>/ with the fix: ctest replays it from then on).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-20}
[ $# -gt 0 ] && shift
dir=${MMGEN_FUZZ_BUILD_DIR:-build-fuzz}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
command -v clang > /dev/null || { echo "fuzz.sh: clang is missing (scripts/deps.sh installs it)" >&2; exit 1; }
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMGEN_FUZZ=ON -DMMGEN_BUILD_TESTS=OFF > /dev/null
cmake --build "$dir" -j "$(nproc)" > "$dir/build.log" 2>&1 || { tail -n 30 "$dir/build.log"; exit 1; }
targets=${*:-$(cat "$dir/fuzz_targets.txt")}
dict_of() {
  case $1 in
    model_file|model_config|checkpoint|tokenizer_json) echo fuzz/dict/json.dict ;;
    tiktoken_file) echo fuzz/dict/tiktoken.dict ;;
    gpt2_vocab) echo fuzz/dict/gpt2.dict ;;
    image_encode) echo fuzz/dict/png.dict ;;
    audio_encode) echo fuzz/dict/audio.dict ;;
  esac
}
export MMGEN_PLUGIN_PATH="$dir/plugins" MMGEN_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
failed=0
printf '%-16s %10s %8s %8s %9s  %s\n' target execs edges corpus rss_mb result
for t in $targets; do
  work=$dir/fuzz-work/$t
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp fuzz/corpus/"$t"/* "$work/corpus/" 2> /dev/null || true
  d=$(dict_of "$t")
  # stdout closed; stderr too for the CLI readers, which print every error
  # (the other targets print only when an invariant breaks: keep that)
  case $t in cli_*) mask=3 ;; *) mask=1 ;; esac
  set -- -max_total_time="$secs" -timeout="${MMGEN_FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -malloc_limit_mb=1024 -close_fd_mask=$mask \
    -print_final_stats=1 -artifact_prefix="$work/"
  [ -n "$d" ] && set -- "$@" -dict="$d"
  rc=0
  "$dir/bin/fuzz_$t" "$@" "$work/corpus" > "$work/log.txt" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt" | tail -n 1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/log.txt" | tail -n 1)
  edges=$(grep -o 'cov: [0-9]*' "$work/log.txt" | tail -n 1 | cut -d' ' -f2)
  n=$(ls "$work/corpus" | wc -l)
  result=ok
  if [ "$rc" != 0 ] || ls "$work" | grep -q -E '^(crash|leak|timeout|oom|slow-unit)-'; then
    result="FAILED (exit $rc): $(ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | head -n 1)"
    failed=1
  fi
  printf '%-16s %10s %8s %8s %9s  %s\n' "$t" "${execs:-?}" "${edges:-?}" "$n" "${rss:-?}" "$result"
  printf '{"bench": "fuzz", "target": "%s", "seconds": %s, "execs": %s, "edges": %s, "corpus": %s, "peak_rss_mb": %s, "ok": %s}\n' \
    "$t" "$secs" "${execs:-0}" "${edges:-0}" "$n" "${rss:-0}" "$([ "$result" = ok ] && echo true || echo false)" \
    >> "$dir/fuzz-work/stats.jsonl"
  [ "$result" = ok ] || tail -n 40 "$work/log.txt"
done
exit $failed
