#!/usr/bin/python3
"""bench/same_weights.py MMGEN LLAMA TYPE - whether mmgen's quantizer wrote
the blocks llama.cpp's quantizer wrote.

MMGEN is `mmgen quantize F32 MMGEN --type TYPE`; LLAMA is llama-quantize's
GGUF file read back with `mmgen convert LLAMA.gguf LLAMA` (which keeps a
file's blocks as they are when every matrix has the one type). Compares the
bytes of every "NAME.TYPE" tensor of MMGEN with LLAMA's. Prints one JSON
line."""
import json
import struct
import sys


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, t in head.items():
            if name == "__metadata__":
                continue
            a, b = t["data_offsets"]
            f.seek(base + a)
            out[name] = f.read(b - a)
        return out


mm, ll, ty = tensors(sys.argv[1]), tensors(sys.argv[2]), sys.argv[3]
names = sorted(k for k in mm if k.endswith("." + ty))
same = sum(1 for k in names if ll.get(k) == mm[k])
missing = sum(1 for k in names if k not in ll)
blocks = sum(len(mm[k]) for k in names) // (34 if ty == "q8_0" else 18)
differ = sum(sum(1 for i in range(0, len(mm[k]), 34 if ty == "q8_0" else 18)
                 if mm[k][i:i + (34 if ty == "q8_0" else 18)] != ll[k][i:i + (34 if ty == "q8_0" else 18)])
             for k in names if k in ll and ll[k] != mm[k])
print(json.dumps({"check": "blocks", "type": ty, "tensors": len(names), "tensors_identical": same,
                  "tensors_not_kept": missing, "blocks": blocks, "blocks_differing": differ}))
