#!/bin/sh
# tests/check_train_crash.sh SRC BIN - training survives kill -9 and full
# disks (tests/train_crash.py): 100 runs of `mmgen train --checkpoint
# --save-every 1` SIGKILLed at random moments, each resumed to weights
# byte-identical to an uninterrupted run's; a save past RLIMIT_FSIZE fails
# with a clear error and leaves the previous checkpoint and model intact;
# an unwritable --output is refused before training. MMGEN_CRASH_TRIALS
# changes the number of kills. Skips (77) without the text plugin.
set -eu
src=$1 bin=$2
py=/usr/bin/python3
[ -x "$py" ] || { echo "skip: no $py"; exit 77; }
[ -f "$bin/plugins/mmgen-text.so" ] || { echo "skip: the text plugin is not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MMGEN_PLUGIN_PATH="$bin/plugins" MMGEN_NUM_THREADS=1
cat "$src/README.md" "$src/ABI.md" > "$tmp/corpus.txt"
"$bin/bin/mmgen" tokenizer fit --plugin text --config '{"vocab_size": 300}' -o "$tmp/tok.json" \
  "$tmp/corpus.txt" > /dev/null
"$py" "$src/tests/train_crash.py" "$bin/bin/mmgen" "$tmp" "${MMGEN_CRASH_TRIALS:-100}"
