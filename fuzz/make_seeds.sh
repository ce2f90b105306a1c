#!/bin/sh
# fuzz/make_seeds.sh BUILD_DIR - writes the seed corpus fuzz/corpus/<target>/
# from small files made here: models, checkpoints and tokenizer documents by
# the CLI of BUILD_DIR; PNGs by ImageMagick, sounds by sox; rank and vocab
# files, configs, manifests and token files by Python (nothing copied from
# other projects' data). Run once when a target is added; the corpus is
# committed. Crash reproducers are added by hand (fuzz/README.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:-build}" && pwd)
mmgen=$bin/bin/mmgen
c=$here/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MMGEN_PLUGIN_PATH=$bin/plugins MMGEN_NUM_THREADS=1
py=/usr/bin/python3

# text and code samples (also the tokenizers' training data)
head -c 3000 "$here/../README.md" > "$c/text_encode/readme.txt"
printf 'caf\303\251 \360\237\230\200 \377\376 invalid \300\200 utf-8\r\n\ttabs\0nul' > "$c/text_encode/bytes.bin"
head -c 3000 "$here/../core/sampler.c" > "$c/code_encode/sampler.c"
printf 'def f(x):\n    return {"a": [x ** 2, 0x1F, 1e-3]}  # done\n\n\n\tif a->b <<= 3: pass\n' > "$c/code_encode/mixed.py"
cp "$c/text_encode/bytes.bin" "$c/code_encode/bytes.bin"

# tokenizer documents and raw states
"$mmgen" tokenizer fit --plugin text --config '{"vocab_size": 300}' -o "$tmp/text.json" "$c/text_encode/readme.txt" > /dev/null
"$mmgen" tokenizer fit --plugin code --config '{"vocab_size": 300}' -o "$tmp/code.json" "$c/code_encode/sampler.c" > /dev/null
convert -size 16x16 gradient:red-blue "$c/../corpus/image_encode/gradient.png" 2> /dev/null ||
  $py -c "import sys; sys.exit('ImageMagick convert is needed')"
convert -size 8x8 xc:gray50 -depth 16 "$c/image_encode/gray16.png"
convert -size 8x6 plasma:fractal -alpha set -channel A -evaluate set 50% "$c/image_encode/rgba.png"
convert -size 12x12 pattern:checkerboard -colors 4 "PNG8:$c/image_encode/palette.png"
convert -size 8x8 xc:white -interlace PNG "$c/image_encode/interlaced.png"
"$mmgen" tokenizer fit --plugin image --config '{"patch_size": 2, "codebook_size": 8, "kmeans_iterations": 2, "max_pixels": 65536, "threads": 1}' \
  -o "$tmp/image.json" "$c/image_encode/gradient.png" > /dev/null
sox -n -r 8000 -b 16 -c 1 "$c/audio_encode/tone8k.wav" synth 0.2 sine 440
sox -n -r 16000 -b 32 -e floating-point -c 2 "$c/audio_encode/stereo_float.wav" synth 0.1 sine 300 sine 500
sox -n -r 8000 -c 1 "$c/audio_encode/short.flac" synth 0.1 pinknoise
sox -n -r 11025 -b 8 -c 1 "$c/audio_encode/u8.aiff" synth 0.1 square 200
"$mmgen" tokenizer fit --plugin audio --config '{"mode": "learned", "max_seconds": 4, "threads": 1, "griffin_lim_iterations": 2, "kmeans_iterations": 2, "stages": 1, "codebook_size": 8}' \
  -o "$tmp/audio.json" "$c/audio_encode/tone8k.wav" > /dev/null
for t in text code image audio; do
  cp "$tmp/$t.json" "$c/tokenizer_json/$t.json"
  $py -c "import base64, json, sys; d = json.load(open(sys.argv[1])); open(sys.argv[2], 'wb').write(base64.b64decode(d['state']))" \
    "$tmp/$t.json" "$c/${t}_state/state.bin"
done

# id streams for decode: two bytes per id
$py - "$c" << 'PY'
import os, random, struct, sys
c = sys.argv[1]
r = random.Random(7)
for t in ("text", "code", "image", "audio"):
    for k, n in enumerate((4, 64, 700)):
        with open(os.path.join(c, f"{t}_decode", f"ids{k}.bin"), "wb") as f:
            f.write(b"".join(struct.pack("<H", r.randrange(0, 320)) for _ in range(n)))
# a rank file and GPT-2 vocabulary files made up here: every byte, then merges
import base64, json
ranks = [bytes([b]) for b in range(256)] + [b"th", b"he", b"the", b" the", b"in", b"ing"]
with open(os.path.join(c, "tiktoken_file", "small.tiktoken"), "wb") as f:
    f.write(b"".join(base64.b64encode(t) + b" %d\n" % i for i, t in enumerate(ranks)))
def gpt2_char(b):  # GPT-2's bytes-to-unicode table
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for x in range(256):
        if x not in bs:
            bs.append(x); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))[b]
# GPT-2 numbers the single bytes in its table's order: printable ones first
order = sorted(range(256), key=lambda b: ord(gpt2_char(b)))
gpt2_ranks = [bytes([b]) for b in order] + ranks[256:]
enc = {"".join(gpt2_char(b) for b in t): i for i, t in enumerate(gpt2_ranks)}
enc["<|endoftext|>"] = len(gpt2_ranks)
merges = "#version: 0.2\nt h\nh e\nth e\n" + gpt2_char(32) + " the\ni n\nin g\n"
with open(os.path.join(c, "gpt2_vocab", "small.bin"), "wb") as f:
    f.write(json.dumps(enc).encode() + b"\0" + merges.encode())
# model configs
for i, cfg in enumerate([{}, {"vocab_size": 300, "d_model": 64, "n_heads": 4, "norm_placement": "pre",
                              "activation": "gelu_tanh", "position_encoding": "learned", "bias": False},
                         {"vocab_size": 10, "n_encoder_layers": 2, "layernorm_eps": 1e-6, "norm_bias": False}]):
    with open(os.path.join(c, "model_config", f"config{i}.json"), "w") as f:
        json.dump(cfg, f)
# token files: the first byte picks the format (text, lines, u16, u32)
seeds = [b"\x00" + b"1 2 3\n40 500 6\n", b"\x01" + b"7\n8\n9\n", b"\x02" + struct.pack("<6H", 1, 2, 3, 65535, 0, 9),
         b"\x03" + struct.pack("<4I", 1, 70000, 3, 2**31 - 1)]
for i, s in enumerate(seeds):
    open(os.path.join(c, "cli_tokens", f"tokens{i}.bin"), "wb").write(s)
# manifests (their files do not exist next to a memory file: the reader's errors are the point)
open(os.path.join(c, "cli_manifest", "pairs.tsv"), "wb").write(b"seven\timg/0007.png\n@src.txt\tout.wav\r\n\n@@at\tx.png\n")
PY

# a model file and a checkpoint of fuzz_checkpoint.c's architecture
cfg='{"vocab_size": 16, "d_model": 8, "n_heads": 2, "n_encoder_layers": 0, "n_decoder_layers": 1, "d_ff": 16, "max_seq_len": 8}'
$py -c "import struct; open('$tmp/ids.u16', 'wb').write(b''.join(struct.pack('<H', (i * 5) % 16) for i in range(64)))"
"$mmgen" train --tokens "$tmp/ids.u16" --token-bytes 2 --config "$cfg" --steps 2 --batch 2 --seq-len 8 --val-fraction 0 \
  -o "$c/model_file/tiny.safetensors" --checkpoint "$c/checkpoint/tiny.ckpt" > /dev/null
"$mmgen" train -t "$tmp/text.json" --steps 1 --d-model 8 --heads 1 --layers 1 --seq-len 8 --batch 1 --val-fraction 0 \
  -o "$c/model_file/with_tokenizer.safetensors" "$c/text_encode/readme.txt" > /dev/null
# the same shape in whole 32-weight blocks, quantized (Q8_0, Q4_0) and in F16
cfg32='{"vocab_size": 16, "d_model": 32, "n_heads": 2, "n_encoder_layers": 0, "n_decoder_layers": 1, "d_ff": 32, "max_seq_len": 8}'
"$mmgen" train --tokens "$tmp/ids.u16" --token-bytes 2 --config "$cfg32" --steps 1 --batch 2 --seq-len 8 --val-fraction 0 \
  -o "$tmp/tiny32.safetensors" > /dev/null
for ty in q8_0 q4_0 f16; do
  "$mmgen" quantize "$tmp/tiny32.safetensors" "$c/model_file/tiny32-$ty.safetensors" --type "$ty" > /dev/null
done
# the token embedding quantized too ("tok_emb.weight.q4_0")
"$mmgen" quantize "$tmp/tiny32.safetensors" "$c/model_file/tiny32-q4_0-emb.safetensors" --type q4_0 --embedding > /dev/null
# weight arrays (fuzz_weights.c: format byte, mode byte, 8 count bytes, floats)
mkdir -p "$c/weights"
$py - "$c/weights/" <<'EOF2'
import random, struct, sys
random.seed(7)
d = sys.argv[1]
def floats(n, scale):
    return b''.join(struct.pack('<f', random.uniform(-1, 1) * scale) for _ in range(n))
for w, name in [(2, 'f32'), (3, 'q8_0'), (4, 'q4_0'), (5, 'f16'), (0, 'invalid')]:
    open(d + '%s-64.bin' % name, 'wb').write(bytes([w, 0]) + bytes(8) + floats(64, 3.0))
open(d + 'q4_0-count-override.bin', 'wb').write(bytes([4, 1]) + struct.pack('<Q', 2**63) + floats(32, 1.0))
open(d + 'q8_0-short-dst.bin', 'wb').write(bytes([3, 2]) + bytes(8) + floats(96, 100.0))
open(d + 'f16-odd-count.bin', 'wb').write(bytes([5, 0]) + bytes(8) + floats(37, 1e3))
EOF2
ls "$c"/* | wc -l
