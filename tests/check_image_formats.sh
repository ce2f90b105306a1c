#!/bin/sh
# tests/check_image_formats.sh SRC BUILD - the image plugin reads every PNG
# format pixel-exactly as ImageMagick does.
#
# For every fixture (tests/fixtures/image: gray, gray+alpha, RGB, RGBA and
# palette images, bit depths 1-16, tRNS, Adam7, sRGB and gAMA chunks, made
# by make_fixtures.py), image_roundtrip reads it through the plugin (lossless
# RGBA, patch 1) and writes back what it read; ImageMagick reads the fixture
# and the result, and the RGBA samples must be identical. 16-bit fixtures
# are compared at 16 bits: ImageMagick's samples, rounded v*255/65535 (the
# reduction libpng's png_set_scale_16 does), must equal the plugin's.
# Ten more are written by ImageMagick itself. Skipped (77) without
# ImageMagick or python3. gamma_* fixtures are left out:
# the plugin converts a non-sRGB gAMA to sRGB as libpng recommends, while
# ImageMagick keeps raw samples (test_image_png checks them against libpng).
set -eu
src=$1
build=$2
fix=$src/tests/fixtures/image
tool=$build/bin/image_roundtrip
convert=""
for c in /usr/bin/convert-im6.q16 /usr/bin/convert /usr/bin/magick; do
  if [ -x "$c" ] && "$c" -version 2>/dev/null | grep -q ImageMagick; then convert=$c; break; fi
done
if [ -z "$convert" ]; then echo "check_image_formats: ImageMagick not installed; skipping"; exit 77; fi
if ! command -v python3 >/dev/null 2>&1; then echo "check_image_formats: python3 missing; skipping"; exit 77; fi
if [ ! -x "$tool" ] || [ ! -f "$build/plugins/mmgen-image.so" ]; then
  echo "check_image_formats: the image plugin is not built (MMGEN_BUILD_PLUGINS=OFF?); skipping"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# ImageMagick writes a few more, through its own libpng settings (filters,
# compression, palette ordering), from a seeded plasma picture
"$convert" -size 37x29 -seed 3 plasma: -depth 8 "$tmp/base.png"
i=0
for spec in "-type Grayscale -depth 1" "-type Grayscale -depth 2" "-type Grayscale -depth 4" \
            "-type Grayscale -depth 16" "-colors 40 -type Palette -depth 8" \
            "-colors 12 -type Palette -depth 4" "-depth 16 -interlace PNG" \
            "-alpha set -channel A -evaluate set 60% +channel -depth 8" \
            "-type GrayscaleAlpha -alpha set -channel A -fx u.r +channel -depth 16 -interlace PNG" \
            "-define png:color-type=2 -depth 8 -interlace PNG"; do
  i=$((i + 1))
  # shellcheck disable=SC2086
  "$convert" "$tmp/base.png" $spec "$tmp/im$i.png"
done
names=$(cat "$fix/LIST.txt")
for j in $(seq 1 $i); do names="$names $tmp/im$j"; done
checked=0
failed=0
for name in $names; do
  case $name in gamma_*) continue ;; esac
  case $name in /*) png=$name.png ;; *) png=$fix/$name.png ;; esac
  if ! "$tool" "$png" "$tmp/out.png" 2>"$tmp/err"; then
    echo "FAIL $name: $(cat "$tmp/err")"; failed=$((failed + 1)); continue
  fi
  "$convert" "$tmp/out.png" -depth 8 rgba:"$tmp/plugin.rgba"
  depth=$("$convert" "$png" -format %z info: 2>/dev/null || echo 8)
  case $depth in
    16)
      "$convert" "$png" -endian MSB -depth 16 rgba:"$tmp/im16.rgba"
      python3 - "$tmp/im16.rgba" "$tmp/im.rgba" <<'PY'
import struct, sys
raw = open(sys.argv[1], "rb").read()
v = struct.unpack(">%dH" % (len(raw) // 2), raw)
open(sys.argv[2], "wb").write(bytes((x * 255 + 32767) // 65535 for x in v))
PY
      ;;
    *) "$convert" "$png" -depth 8 rgba:"$tmp/im.rgba" ;;
  esac
  if cmp -s "$tmp/plugin.rgba" "$tmp/im.rgba"; then
    checked=$((checked + 1))
  else
    echo "FAIL $name: the plugin's pixels differ from ImageMagick's"
    cmp "$tmp/plugin.rgba" "$tmp/im.rgba" | head -1
    failed=$((failed + 1))
  fi
done
echo "check_image_formats: $checked formats identical to ImageMagick, $failed differ"
[ "$failed" -eq 0 ] && [ "$checked" -ge 50 ]
