#!/usr/bin/python3
"""bench/same_weights.py QUANTIZED A B TYPE - whether mmgen's quantizer wrote
the blocks llama.cpp's wrote, compared through their dequantized floats.

QUANTIZED is mmgen's quantized model (its ".TYPE" tensors name the weights
to compare); A and B are two F32 safetensors files holding those weights
dequantized (mmgen's own, `mmgen quantize QUANTIZED A --type f32`, and
llama.cpp's, `mmgen convert LLAMA.gguf B`). Equal floats for every weight mean
equal blocks: a block's scale and values are what its 32 floats are made of.
Prints one JSON line."""
import json
import struct
import sys

import numpy as np


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def floats(path, name):
    h, base = header(path)
    t = h[name]
    assert t["dtype"] == "F32", (path, name, t["dtype"])
    a, b = t["data_offsets"]
    with open(path, "rb") as f:
        f.seek(base + a)
        return np.frombuffer(f.read(b - a), dtype=np.float32)


quantized, a_path, b_path, ty = sys.argv[1:5]
names = sorted(k[: -len(ty) - 1] for k in header(quantized)[0] if k.endswith("." + ty))
same = weights = differ = 0
max_diff = 0.0
for name in names:
    a, b = floats(a_path, name), floats(b_path, name)
    weights += a.size
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    differ += int(np.count_nonzero(d))
    max_diff = max(max_diff, float(d.max()) if d.size else 0.0)
    same += bool(np.array_equal(a.view(np.uint32), b.view(np.uint32)))
print(json.dumps({"check": "blocks", "type": ty, "tensors": len(names), "tensors_identical": same,
                  "weights": weights, "weights_differing": differ, "max_abs_diff": max_diff}))
