#!/bin/sh
# tests/check_plugin_validator.sh - `mmgen plugin check` passes every shipped
# plugin (text, code, image, audio in two modes) and the out-of-tree example
# plugin on small samples, and fails the deliberately broken plugin
# (tests/plugins/broken_range.c) with the rules it breaks named:
# encode-bounds, and decode-single-ids with a crash.
set -eu
src=$1 bin=$2
mmgen=$bin/bin/mmgen
testplugins=$bin/tests/plugins
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Small samples: a PNG and WAVs written with the standard library.
python3 - "$tmp" <<'EOF'
import math, struct, sys, wave, zlib
d = sys.argv[1]
w, h = 16, 12
rows = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 16, y * 20, (x * y * 7) % 256))
               for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open(d + "/small.png", "wb").write(png)
for name, seconds in (("tone.wav", 0.5), ("chirp.wav", 0.4)):
    f = wave.open(d + "/" + name, "wb")
    f.setnchannels(1); f.setsampwidth(2); f.setframerate(8000)
    n = int(8000 * seconds)
    f.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(i * (0.05 + i * 2e-5))
                                                  + 2000 * math.sin(i * 0.4)))
                           for i in range(n)))
    f.close()
EOF
head -c 3000 "$src/README.md" > "$tmp/readme.txt"
head -c 3000 "$src/cli/args.c" > "$tmp/args.c"

# check NAME EXPECTED-STATUS ARGS...: runs the validator, keeps its output in
# $tmp/NAME.out and fails unless it exits with EXPECTED-STATUS.
check() {
  name=$1 want=$2
  shift 2
  status=0
  "$mmgen" plugin check "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || status=$?
  if [ "$status" != "$want" ]; then
    echo "plugin check of $name exited $status, expected $want:"
    cat "$tmp/$name.out" "$tmp/$name.err"
    exit 1
  fi
  grep -q "^ok   load: " "$tmp/$name.out" || { echo "$name: no 'ok load' line"; cat "$tmp/$name.out"; exit 1; }
  echo "$name: $(tail -n 1 "$tmp/$name.out")"
}

check text 0 text --config '{"vocab_size": 300}' --fit --sample "$tmp/readme.txt"
check code 0 code --config '{"vocab_size": 300}' --fit --sample "$tmp/args.c"
check image 0 image --config '{"codebook_size": 16, "threads": 1}' --fit --sample "$tmp/small.png"
check audio-mulaw 0 audio --config '{"mode": "mulaw"}' --sample "$tmp/tone.wav"
check audio-learned 0 audio \
  --config '{"mode": "learned", "frame_ms": 40, "stages": 1, "codebook_size": 16, "gain_levels": 8}' \
  --fit --sample "$tmp/tone.wav" --sample "$tmp/chirp.wav"
check caesar 0 "$testplugins/mmgen-caesar.so" --sample "$tmp/readme.txt" --threads 2

# Every rule ran on a shipped plugin; text and code round-trip exactly.
for rule in create encode-bounds round-trip decode-single-ids decode-random-streams state \
    special-tokens threads constraint allocations; do
  grep -q "^ok   $rule: " "$tmp/text.out" || { echo "text: rule $rule did not pass"; cat "$tmp/text.out"; exit 1; }
done
grep -q "^ok   round-trip: .*exact bytes" "$tmp/code.out" || { cat "$tmp/code.out"; exit 1; }

# The broken plugin fails, naming the rules it breaks, and the rules after
# the crash still run.
check broken 1 "$testplugins/mmgen-broken-range.so" --sample "$tmp/readme.txt"
out=$tmp/broken.out
grep -q "^FAIL encode-bounds: .*id 257 at position" "$out" || { echo "no FAIL encode-bounds"; cat "$out"; exit 1; }
# A sanitizer build catches the crash itself and exits instead of dying by
# the signal; the rule still fails as a crash.
if [ "${MMGEN_SANITIZE:-0}" = 1 ]; then
  crash="crashed"
else
  crash="crashed (signal 11: SIGSEGV) while decoding the single id 7"
fi
grep -q "^FAIL decode-single-ids: .*$crash" "$out" || { echo "no FAIL decode-single-ids crash"; cat "$out"; exit 1; }
grep -q "^ok   special-tokens: " "$out" || { echo "the rules after the crash did not run"; cat "$out"; exit 1; }
grep -q "failed" "$out" || { cat "$out"; exit 1; }

# Usage errors exit 2.
status=0
"$mmgen" plugin check > /dev/null 2>&1 || status=$?
[ "$status" = 2 ] || { echo "plugin check without a plugin exited $status, expected 2"; exit 1; }
status=0
"$mmgen" plugin check text --fit > /dev/null 2>&1 || status=$?
[ "$status" = 2 ] || { echo "--fit without samples exited $status, expected 2"; exit 1; }
echo "plugin check: shipped plugins pass, the broken one fails encode-bounds and decode-single-ids"
