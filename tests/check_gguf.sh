#!/bin/sh
# tests/check_gguf.sh SOURCE_DIR BINARY_DIR - `mmgen convert` between mmgen
# models and GGUF (llama.cpp's gpt2 layout), checked by an independent GGUF
# and safetensors reader written here in Python's standard library:
#   1. safetensors -> GGUF (F32): the file follows the GGUF v3 layout (magic,
#      counts, 32-byte aligned data, offsets in order), carries llama.cpp's gpt2
#      keys and a vocabulary of the model's size, and every tensor holds the
#      bytes of the mmgen tensor the mapping names, dims reversed;
#   2. GGUF -> safetensors gives back the identical file (tied and untied,
#      with and without biases);
#   3. F16, Q8_0, Q4_0 (--type, or a model held in that type): the linear
#      weights and a tied output's copy of the embedding are what reference
#      quantizers written here from ggml's C give (halves to nearest even),
#      embeddings, positions and vectors exact; a quantized model converts
#      back to the identical file;
#   4. Q8_0 and Q4_0 tensors (written here) are dequantized exactly;
#   5. malformed GGUF files (truncated, bad magic, version, absurd counts,
#      lengths, dims and offsets, duplicates, unknown types) exit 1 with a
#      message naming the problem, never a crash; so do valid files of another
#      architecture or with a missing or misshapen tensor;
#   6. with ../shared/data/gpt2, a model with GPT-2's tokenizer gets GPT-2's
#      50257 tokens and 50000 merges.
# Needs no llama.cpp. Skips (77) without python3 or the text plugin.
set -eu
src=$1 bin=$2
mmgen=$bin/bin/mmgen
[ -x "$mmgen" ] || { echo "FAIL: $mmgen not built"; exit 1; }
[ -f "$bin/plugins/mmgen-text.so" ] || { echo "skip: the text plugin is not built"; exit 77; }
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 2>/dev/null) || { echo "skip: python3 not found"; exit 77; }
tmp=$(mktemp -d)
reported=0
trap 'rc=$?; [ $rc = 0 ] || [ $reported = 1 ] || echo "FAIL: the last command exited $rc (its output is above)"; rm -rf "$tmp"' EXIT
export MMGEN_NUM_THREADS=1
unset MMGEN_PLUGIN_PATH

fail() { echo "FAIL: $*"; reported=1; exit 1; }
pass() { echo "ok: $*"; }

cat > "$tmp/gg.py" <<'EOF'
"""An independent GGUF/safetensors reader and GGUF writer (standard library only)."""
import json, math, os, struct, sys

VSIZE = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
DT_BYTES = {0: (4, 1), 1: (2, 1), 30: (2, 1), 8: (34, 32), 2: (18, 32)}

def read_gguf(path):
    b = open(path, 'rb').read()
    assert b[:4] == b'GGUF', 'magic'
    ver, nt, nkv = struct.unpack_from('<IQQ', b, 4)
    assert ver == 3, ver
    pos = 24
    def rstr():
        nonlocal pos
        (n,) = struct.unpack_from('<Q', b, pos); pos += 8
        s = b[pos:pos + n].decode('utf-8'); pos += n
        return s
    def rval(t):
        nonlocal pos
        if t == 8: return rstr()
        if t == 9:
            (et, n) = struct.unpack_from('<IQ', b, pos); pos += 12
            return [rval(et) for _ in range(n)]
        f = '<' + VSIZE[t]
        (v,) = struct.unpack_from(f, b, pos); pos += struct.calcsize(f)
        return v
    kv = {}
    for _ in range(nkv):
        k = rstr()
        (t,) = struct.unpack_from('<I', b, pos); pos += 4
        assert k not in kv, k
        kv[k] = rval(t)
    tensors = {}
    for _ in range(nt):
        name = rstr()
        (nd,) = struct.unpack_from('<I', b, pos); pos += 4
        ne = list(struct.unpack_from('<%dQ' % nd, b, pos)); pos += 8 * nd
        dt, off = struct.unpack_from('<IQ', b, pos); pos += 12
        tensors[name] = dict(ne=ne, dtype=dt, offset=off)
    align = kv.get('general.alignment', 32)
    data = (pos + align - 1) // align * align
    expect = 0
    for name, t in tensors.items():  # in file order (dicts keep it)
        assert t['offset'] == expect and t['offset'] % align == 0, (name, t['offset'], expect)
        bb, be = DT_BYTES[t['dtype']]
        n = math.prod(t['ne'])
        t['nbytes'] = n // be * bb
        t['bytes'] = b[data + t['offset']:data + t['offset'] + t['nbytes']]
        expect += (t['nbytes'] + align - 1) // align * align
    assert len(b) == data + expect, ('file size', len(b), data + expect)
    return kv, tensors

def read_st(path):
    b = open(path, 'rb').read()
    (n,) = struct.unpack_from('<Q', b, 0)
    h = json.loads(b[8:8 + n])
    meta = h.pop('__metadata__', {})
    out = {}
    for name, t in h.items():
        s, e = t['data_offsets']
        assert t['dtype'] in ('F32', 'F16') or (t['dtype'] == 'U8' and 'mmgen.quant' in meta), t['dtype']
        raw = b[8 + n + s:8 + n + e]
        if t['dtype'] == 'F16':  # an F16 model's matrices, as floats
            raw = struct.pack('<%df' % (len(raw) // 2), *struct.unpack('<%de' % (len(raw) // 2), raw))
        out[name] = (t['shape'], raw)
    return meta, out

def mapping(L):
    m = {'tok_emb.weight': 'token_embd.weight', 'pos_emb.weight': 'position_embd.weight',
         'decoder.norm.weight': 'output_norm.weight', 'decoder.norm.bias': 'output_norm.bias',
         'lm_head.weight': 'output.weight'}
    layer = [('sa_norm', 'attn_norm'), ('self_attn.qkv', 'attn_qkv'), ('self_attn.out', 'attn_output'),
             ('ff_norm', 'ffn_norm'), ('ff.fc1', 'ffn_up'), ('ff.fc2', 'ffn_down')]
    for i in range(L):
        for a, g in layer:
            for w in ('weight', 'bias'):
                m['decoder.layers.%d.%s.%s' % (i, a, w)] = 'blk.%d.%s.%s' % (i, g, w)
    return m

def floats(raw):
    return struct.unpack('<%df' % (len(raw) // 4), raw)

def f16_round(x):
    return struct.unpack('<e', struct.pack('<e', x))[0]

def check(st_path, gguf_path, kind):
    """GGUF tensors against the F32 safetensors model: exact (f32), or the linear
    weights (and a tied output's copy of the embedding) converted by the
    reference quantizers below (f16, q8_0, q4_0); embeddings and vectors exact.
    A kind ending in '+emb' has the token embedding converted too."""
    emb = kind.endswith('+emb')
    kind = kind[:-4] if emb else kind
    meta, st = read_st(st_path)
    kv, gt = read_gguf(gguf_path)
    cfg = json.loads(meta['mmgen.config'])
    L, C, V = cfg['n_decoder_layers'], cfg['d_model'], cfg['vocab_size']
    assert kv['general.architecture'] == 'gpt2'
    for k, v in (('block_count', L), ('embedding_length', C), ('feed_forward_length', cfg['d_ff']),
                 ('attention.head_count', cfg['n_heads']), ('context_length', cfg['max_seq_len'])):
        assert kv['gpt2.' + k] == v, (k, kv['gpt2.' + k], v)
    assert abs(kv['gpt2.attention.layer_norm_epsilon'] - cfg['layernorm_eps']) < 1e-12
    assert kv['tokenizer.ggml.model'] == 'gpt2' and len(kv['tokenizer.ggml.tokens']) == V
    assert len(kv['tokenizer.ggml.token_type']) == V and 'tokenizer.ggml.merges' in kv
    assert len(set(kv['tokenizer.ggml.tokens'])) == V, 'tokens must be unique for llama.cpp'
    m = mapping(L)
    expected = set(m.values())
    assert set(gt) == expected, sorted(set(gt) ^ expected)
    for mm, g in m.items():
        t = gt[g]
        if mm in st:
            shape, raw = st[mm]
        elif mm == 'lm_head.weight':
            shape, raw = st['tok_emb.weight']
        else:  # an absent bias: zeros of the weight's first dim
            w = st[mm.replace('.bias', '.weight')][0]
            shape, raw = [w[0]], bytes(4 * w[0])
        assert t['ne'] == list(reversed(shape)), (g, t['ne'], shape)
        if kind == 'f32' or len(shape) == 1 or g == 'position_embd.weight' or (g == 'token_embd.weight' and not emb):
            assert t['dtype'] == 0 and t['bytes'] == raw, g
        else:
            dtype, convert = {'f16': (1, lambda x: struct.pack('<%de' % len(x), *x)),
                              'q8_0': (8, lambda x: q8_0(x)[0]), 'q4_0': (2, lambda x: q4_0(x)[0])}[kind]
            assert t['dtype'] == dtype, (g, t['dtype'])
            assert t['bytes'] == convert(floats(raw)), g + ': not the reference ' + kind
    assert kv['general.file_type'] == {'f32': 0, 'f16': 1, 'q8_0': 7, 'q4_0': 2}[kind], kv['general.file_type']
    return kv

def main():
    cmd = sys.argv[1]
    if cmd == 'check':
        kv = check(sys.argv[2], sys.argv[3], sys.argv[4])
        print(len(kv['tokenizer.ggml.tokens']), len(kv['tokenizer.ggml.merges']))
    elif cmd == 'vocab':  # prints what the GPT-2 check needs
        kv, _ = read_gguf(sys.argv[2])
        tok = kv['tokenizer.ggml.tokens']
        print(len(tok), len(kv['tokenizer.ggml.merges']), tok[262], tok[50256], kv['tokenizer.ggml.token_type'][50256],
              kv['tokenizer.ggml.merges'][0], kv.get('tokenizer.ggml.eos_token_id'))
    elif cmd == 'f16back':  # the F16 round trip: halves of the linear weights, the rest exact
        _, a = read_st(sys.argv[2])
        _, b = read_st(sys.argv[3])
        assert set(a) == set(b)
        for name, (shape, raw) in a.items():
            x, y = floats(raw), floats(b[name][1])
            exact = len(shape) == 1 or name in ('pos_emb.weight', 'tok_emb.weight')
            want = x if exact else [f16_round(v) for v in x]
            assert list(y) == list(want), name
    elif cmd == 'quantize':  # rewrite the 2-D tensors as Q8_0 / Q4_0; expected floats to a JSON file
        write_quantized(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == 'quantback':
        _, st = read_st(sys.argv[2])
        want = json.load(open(sys.argv[3]))
        m = {g: mm for mm, g in mapping(64).items()}
        for g, vals in want.items():
            mm = m[g]
            if mm == 'lm_head.weight' and mm not in st:
                mm = 'tok_emb.weight'
            got = floats(st[mm][1])
            assert list(got) == vals, (g, 'dequantized values differ')
    elif cmd == 'quantize_all':  # every matrix but the positions in one type (what llama-quantize --pure writes)
        write_quantized(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == 'sameblocks':  # the safetensors file's NAME.<type> tensors are the GGUF file's bytes
        meta, st = read_st(sys.argv[2])
        _, gt = read_gguf(sys.argv[3])
        ty = sys.argv[4]
        assert meta.get('mmgen.quant') == ty, meta.get('mmgen.quant')
        n = 0
        for mm, g in mapping(64).items():
            if mm + '.' + ty in st:
                assert st[mm + '.' + ty][1] == gt[g]['bytes'], (mm, 'blocks differ from the GGUF file')
                n += 1
        assert n >= 4, n
        print(n)
    elif cmd == 'sametensors':  # two GGUF files with the same tensors: names, order, shapes, types, bytes
        _, ta = read_gguf(sys.argv[2])
        _, tb = read_gguf(sys.argv[3])
        assert [(n, t['ne'], t['dtype'], t['bytes']) for n, t in ta.items()] == \
               [(n, t['ne'], t['dtype'], t['bytes']) for n, t in tb.items()], 'tensors differ'
    elif cmd == 'samedata':  # two GGUF files with the same tensors (names, shapes, types, bytes) and keys but the name
        ka, ta = read_gguf(sys.argv[2])
        kb, tb = read_gguf(sys.argv[3])
        ka.pop('general.name'), kb.pop('general.name')
        assert ka == kb, 'key/values differ'
        assert [(n, t['ne'], t['dtype'], t['bytes']) for n, t in ta.items()] == \
               [(n, t['ne'], t['dtype'], t['bytes']) for n, t in tb.items()], 'tensors differ'
    elif cmd == 'bad':
        write_bad(sys.argv[2], sys.argv[3])
    elif cmd == 'setbias':  # one nonzero bias in a file whose mmgen.config says bias: false
        kv, gt = read_gguf(sys.argv[2])
        t = [(n, t['ne'], t['dtype'], t['bytes']) for n, t in gt.items()]
        t = [(n, ne, dt, struct.pack('<f', 0.5) + data[4:] if n == 'blk.0.attn_qkv.bias' else data)
             for n, ne, dt, data in t]
        write_gguf(sys.argv[3], kv_of(kv, None), t)

def h2f(h):
    return struct.unpack('<e', struct.pack('<H', h))[0]

def f32(x):
    """x rounded to float32 (an operation of two floats done in double, then
    rounded, is the float32 operation: double holds their exact product and a
    correctly rounded quotient)."""
    return struct.unpack('<f', struct.pack('<f', x))[0]

def roundf(x):  # C's roundf: halves away from zero
    return int(math.copysign(math.floor(abs(x) + 0.5), x))

# ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref in float32 arithmetic
def q8_0(x):
    out, vals = b'', []
    for i in range(0, len(x), 32):
        blk = x[i:i + 32]
        amax = max(abs(v) for v in blk)
        d = f32(amax / 127.0)
        dh = struct.unpack('<H', struct.pack('<e', d))[0]
        id_ = f32(1.0 / d) if d else 0.0
        q = [roundf(f32(v * id_)) for v in blk]
        out += struct.pack('<H32b', dh, *q)
        vals += [float(struct.unpack('<f', struct.pack('<f', qi * h2f(dh)))[0]) for qi in q]
    return out, vals

def q4_0(x):
    out, vals = b'', []
    for i in range(0, len(x), 32):
        blk = x[i:i + 32]
        mx = max(blk, key=abs)
        d = f32(mx / -8.0)
        dh = struct.unpack('<H', struct.pack('<e', d))[0]
        id_ = f32(1.0 / d) if d else 0.0
        q = [min(15, int(f32(f32(v * id_) + 8.5))) for v in blk]
        packed = bytes(q[j] | (q[j + 16] << 4) for j in range(16))
        out += struct.pack('<H', dh) + packed
        vals += [float(struct.unpack('<f', struct.pack('<f', (qi - 8) * h2f(dh)))[0]) for qi in q]
    return out, vals

def write_gguf(path, kvs, tensors, version=3, align=32):
    """kvs: [(key, type, payload bytes)]; tensors: [(name, ne, dtype, data)]."""
    def s(x):
        x = x.encode() if isinstance(x, str) else x
        return struct.pack('<Q', len(x)) + x
    head = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs))
    for k, t, payload in kvs:
        head += s(k) + struct.pack('<I', t) + payload
    off, blobs = 0, []
    for name, ne, dt, data in tensors:
        head += s(name) + struct.pack('<I', len(ne)) + struct.pack('<%dQ' % len(ne), *ne) + struct.pack('<IQ', dt, off)
        blobs.append(data + bytes((-len(data)) % align))
        off += len(blobs[-1])
    head += bytes((-len(head)) % align)
    open(path, 'wb').write(head + b''.join(blobs))

def kv_of(kv, tensors_order):
    """Re-encodes a parsed kv dict (strings, ints as u32, floats as f32, lists)."""
    out = []
    def enc(v):
        if isinstance(v, str):
            e = v.encode(); return 8, struct.pack('<Q', len(e)) + e
        if isinstance(v, float): return 6, struct.pack('<f', v)
        if isinstance(v, int): return 4, struct.pack('<I', v)
        if isinstance(v, list):
            if all(isinstance(x, str) for x in v):
                return 9, struct.pack('<IQ', 8, len(v)) + b''.join(enc(x)[1] for x in v)
            return 9, struct.pack('<IQ', 5, len(v)) + struct.pack('<%di' % len(v), *v)
    for k, v in kv.items():
        t, p = enc(v)
        out.append((k, t, p))
    return out

def write_quantized(src, dst, expect_path, only=None):
    kv, gt = read_gguf(src)
    tensors, want, i = [], {}, 0
    for name, t in gt.items():
        if len(t['ne']) == 2 and not (only and name == 'position_embd.weight'):
            x = floats(t['bytes'])
            use8 = only == 'q8_0' if only else i % 2 == 0
            data, vals = (q8_0 if use8 else q4_0)(x)
            tensors.append((name, t['ne'], 8 if use8 else 2, data))
            want[name] = vals
            i += 1
        else:
            tensors.append((name, t['ne'], t['dtype'], t['bytes']))
    write_gguf(dst, kv_of(kv, None), tensors)
    json.dump(want, open(expect_path, 'w'))

def write_bad(src, d):
    """Malformed variants of the valid file src, each with a fragment of the expected message."""
    b = open(src, 'rb').read()
    kv, gt = read_gguf(src)
    cases = {}
    def put(name, data, msg):
        open(os.path.join(d, name + '.gguf'), 'wb').write(data)
        cases[name] = msg
    put('empty', b'', 'truncated: the magic')
    put('short_header', b[:12], 'truncated: the tensor count')
    put('truncated_kv', b[:200], 'truncated')
    put('truncated_vocab', b[:3000], "of key 'tokenizer.ggml.tokens'")
    put('truncated_data', b[:len(b) - 100], 'runs past the end of the data section')
    put('bad_magic', b'GGUX' + b[4:], 'not a GGUF file')
    put('safetensors_like', b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": 1}', 'not a GGUF file')
    put('version1', b[:4] + struct.pack('<I', 1) + b[8:], 'version 1')
    put('version9', b[:4] + struct.pack('<I', 9) + b[8:], 'unknown GGUF version 9')
    put('big_endian', b[:4] + struct.pack('>I', 3) + b[8:], 'big-endian')
    put('tensor_count', b[:8] + struct.pack('<Q', 1 << 62) + b[16:], 'claims 4611686018427387904 tensors')
    put('kv_count', b[:16] + struct.pack('<Q', 1 << 62) + b[24:], 'claims 4611686018427387904 key/values')
    put('kv_count_fits_limit', b[:16] + struct.pack('<Q', 60000) + b[24:], 'cannot fit')
    put('key_length', b[:24] + struct.pack('<Q', 1 << 63) + b[32:], 'claims 9223372036854775808 bytes')
    # crafted small files: one key/value, one tensor
    def f(kvs=None, tensors=None, **kw):
        import io
        p = os.path.join(d, '_tmp')
        write_gguf(p, kvs if kvs is not None else [('general.architecture', 8, struct.pack('<Q', 4) + b'gpt2')],
                   tensors if tensors is not None else [('t', [32], 0, bytes(128))], **kw)
        data = open(p, 'rb').read(); os.remove(p)
        return data
    put('vtype', f(kvs=[('k', 13, b'')]), 'unknown value type 13')
    put('nested_array', f(kvs=[('k', 9, struct.pack('<IQ', 9, 1))]), 'array of arrays')
    put('array_count', f(kvs=[('k', 9, struct.pack('<IQ', 4, 1 << 60))]), 'claims 1152921504606846976 uint32 elements')
    put('string_array_count', f(kvs=[('k', 9, struct.pack('<IQ', 8, 1 << 61))]), 'string elements')
    put('dup_key', f(kvs=[('k', 4, struct.pack('<I', 1)), ('k', 4, struct.pack('<I', 2))]), "key 'k' occurs twice")
    put('alignment_type', f(kvs=[('general.alignment', 5, struct.pack('<i', 32))]), 'general.alignment is of type int32')
    put('alignment_pow2', f(kvs=[('general.alignment', 4, struct.pack('<I', 48))]), 'not a power of 2')
    put('n_dims', f(tensors=[('t', [1, 1, 1, 1, 1], 0, b'')]), 'has 5 dimensions')
    put('zero_dim', f(tensors=[('t', [0], 0, b'')]), 'dimension 0 of 0 elements')
    put('huge_dims', f(tensors=[('t', [1 << 32, 1 << 32], 0, b'')]), 'at most 2^40 elements')
    put('huge_tensor', f(tensors=[('t', [1 << 20, 1 << 19], 0, b'')]), 'runs past the end')
    put('dtype', f(tensors=[('t', [32], 12, bytes(144))]), 'element type 12')
    put('block_rows', f(tensors=[('t', [31], 8, bytes(34))]), 'not whole blocks of 32')
    put('long_name', f(tensors=[('x' * 64, [32], 0, bytes(128))]), 'shorter than 64')
    put('empty_name', f(tensors=[('', [32], 0, bytes(128))]), 'empty name')
    put('dup_tensor', f(tensors=[('t', [32], 0, bytes(128)), ('t', [32], 0, bytes(128))]), "tensor 't' occurs twice")
    g = f(tensors=[('t', [32], 0, bytes(128))])
    # the tensor's offset is the last 8 bytes of its info, just before the padding
    info_end = g.index(b't\x01\x00\x00\x00') + 1 + 4 + 8 + 4
    put('offset_misaligned', g[:info_end] + struct.pack('<Q', 4) + g[info_end + 8:], 'not a multiple of the alignment')
    put('offset_far', g[:info_end] + struct.pack('<Q', 1 << 62) + g[info_end + 8:], 'runs past the end')
    # valid GGUF, but not something convert accepts
    put('arch_llama', f(kvs=[('general.architecture', 8, struct.pack('<Q', 5) + b'llama')]), "is a 'llama' model")
    put('no_arch', f(kvs=[]), 'no general.architecture')
    t2 = [(n, t['ne'], t['dtype'], t['bytes']) for n, t in gt.items()]
    put('missing_tensor', f(kvs=kv_of(kv, None), tensors=[x for x in t2 if x[0] != 'blk.1.ffn_down.bias']),
        "no tensor 'blk.1.ffn_down.bias'")
    put('extra_tensor', f(kvs=kv_of(kv, None), tensors=t2 + [('rope_freqs.weight', [32], 0, bytes(128))]),
        "tensor 'rope_freqs.weight' that llama.cpp's gpt2 layout")
    bad_shape = [(n, list(reversed(ne)) if n == 'blk.0.ffn_up.weight' else ne, dt, data) for n, ne, dt, data in t2]
    put('wrong_shape', f(kvs=kv_of(kv, None), tensors=bad_shape), "tensor 'blk.0.ffn_up.weight' has shape [128, 32]; the model's hyperparameters need [32, 128]")
    kv2 = dict(kv); kv2['gpt2.block_count'] = 'two'
    put('hparam_type', f(kvs=kv_of(kv2, None), tensors=t2), "'gpt2.block_count' is a string, not an integer")
    kv3 = dict(kv); del kv3['gpt2.attention.layer_norm_epsilon']
    put('hparam_missing', f(kvs=kv_of(kv3, None), tensors=t2), "'gpt2.attention.layer_norm_epsilon' is missing")
    with open(os.path.join(d, 'cases.txt'), 'w') as out:
        for k, v in cases.items():
            out.write('%s\t%s\n' % (k, v))

main()
EOF

# --- a small GPT-2-style model, its tokenizer embedded ---------------------------
head -c 20000 "$src/README.md" > "$tmp/corpus.txt"
"$mmgen" tokenizer fit --plugin text --config '{"vocab_size": 300}' -o "$tmp/tok.json" "$tmp/corpus.txt" > /dev/null
small="--steps 1 --d-model 32 --heads 4 --layers 2 --seq-len 16 --norm pre --activation gelu_tanh --position learned --val-fraction 0"
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/m.safetensors" $small "$tmp/corpus.txt" > /dev/null
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/nb.safetensors" $small --seed 3 \
  --config '{"bias": false, "norm_bias": false, "tied_output": false}' "$tmp/corpus.txt" > /dev/null

# --- F32 both ways: the GGUF layout and an identical file back --------------------
for m in m nb; do
  "$mmgen" convert "$tmp/$m.safetensors" "$tmp/$m.gguf" > "$tmp/out" || fail "convert $m to GGUF: $(cat "$tmp/out")"
  grep -q "vocabulary minimal byte-level (300 tokens, 0 merges)$" "$tmp/out" || fail "summary: $(cat "$tmp/out")"
  "$py" "$tmp/gg.py" check "$tmp/$m.safetensors" "$tmp/$m.gguf" f32 > /dev/null || fail "$m.gguf does not match $m.safetensors"
  "$mmgen" convert "$tmp/$m.gguf" "$tmp/$m.back.safetensors" > /dev/null
  cmp -s "$tmp/$m.safetensors" "$tmp/$m.back.safetensors" || fail "$m: safetensors -> GGUF -> safetensors is not identical"
done
grep -q "untied output; zero biases written where the model has none" "$tmp/out" || fail "nb summary: $(cat "$tmp/out")"
# a bias-free model whose GGUF biases were edited keeps them
"$py" "$tmp/gg.py" setbias "$tmp/nb.gguf" "$tmp/nb.biased.gguf"
"$mmgen" convert "$tmp/nb.biased.gguf" "$tmp/nb.biased.safetensors" > /dev/null
"$mmgen" info "$tmp/nb.biased.safetensors" | grep -Eq '^  bias +true' || fail "edited biases dropped"
"$mmgen" info "$tmp/nb.back.safetensors" | grep -Eq '^  bias +false' || fail "bias-free model came back with biases"
pass "F32: GGUF layout, llama.cpp's keys and mapping checked; round trip identical (tied; untied without biases; edited biases kept)"

# --- F16 ------------------------------------------------------------------------------
"$mmgen" convert "$tmp/m.safetensors" "$tmp/m16.gguf" --type f16 > /dev/null
"$py" "$tmp/gg.py" check "$tmp/m.safetensors" "$tmp/m16.gguf" f16 > /dev/null || fail "m16.gguf is not the F16 rounding"
"$mmgen" convert "$tmp/m16.gguf" "$tmp/m16.back.safetensors" > "$tmp/out"
grep -q "(F16: the file's values, as they are)" "$tmp/out" || fail "an F16 GGUF did not become an F16 model: $(cat "$tmp/out")"
grep -q "; tied output;" "$tmp/out" || fail "the F16 copy of the embedding did not make a tied model: $(cat "$tmp/out")"
"$py" "$tmp/gg.py" f16back "$tmp/m.safetensors" "$tmp/m16.back.safetensors" || fail "F16 round trip"
"$mmgen" info "$tmp/m16.back.safetensors" | grep -q "tokenizer   text" || fail "F16 round trip lost the tokenizer"
pass "F16: linear weights (and the tied output's copy) rounded to nearest even, the rest exact, tokenizer kept; read back as a tied F16 model"

# --- quantized models to GGUF and back --------------------------------------------------
# --type quantizes on the way (the reference quantizers of gg.py, written from
# ggml's C); a quantized model's file converts to the same GGUF bytes and back
# to itself, byte for byte (tied: output.weight is its copy of the embedding).
for m in m nb; do
  for ty in q8_0 q4_0 f16; do
    "$mmgen" convert "$tmp/$m.safetensors" "$tmp/$m-$ty.gguf" --type "$ty" > "$tmp/out" ||
      fail "convert $m --type $ty: $(cat "$tmp/out")"
    "$py" "$tmp/gg.py" check "$tmp/$m.safetensors" "$tmp/$m-$ty.gguf" "$ty" > /dev/null ||
      fail "$m-$ty.gguf is not the reference $ty"
    "$mmgen" quantize "$tmp/$m.safetensors" "$tmp/$m-$ty.safetensors" --type "$ty" > /dev/null
    "$mmgen" convert "$tmp/$m-$ty.safetensors" "$tmp/$m-$ty.held.gguf" > /dev/null
    "$py" "$tmp/gg.py" samedata "$tmp/$m-$ty.gguf" "$tmp/$m-$ty.held.gguf" ||
      fail "$m: a $ty model's GGUF differs from --type $ty's"
    "$mmgen" convert "$tmp/$m-$ty.held.gguf" "$tmp/$m-$ty.back.safetensors" > /dev/null
    cmp -s "$tmp/$m-$ty.safetensors" "$tmp/$m-$ty.back.safetensors" ||
      fail "$m $ty: safetensors -> GGUF -> safetensors is not identical"
  done
done
# --embedding: the token embedding in that type too (GGUF's usual layout)
for m in m nb; do
  for ty in q8_0 q4_0 f16; do
    "$mmgen" quantize "$tmp/$m.safetensors" "$tmp/$m-$ty-e.safetensors" --type "$ty" --embedding > "$tmp/out"
    grep -q "(the token embedding too)" "$tmp/out" || fail "quantize --embedding: $(cat "$tmp/out")"
    TY=$(echo "$ty" | tr a-z A-Z)
    "$mmgen" info "$tmp/$m-$ty-e.safetensors" | grep -q "^weights     $TY: linear layers, token embedding, the rest F32; " ||
      fail "info does not show the $TY weights: $("$mmgen" info "$tmp/$m-$ty-e.safetensors" | grep weights)"
    "$mmgen" convert "$tmp/$m-$ty-e.safetensors" "$tmp/$m-$ty-e.gguf" > /dev/null
    "$py" "$tmp/gg.py" check "$tmp/$m.safetensors" "$tmp/$m-$ty-e.gguf" "$ty+emb" > /dev/null ||
      fail "$m-$ty-e.gguf: the embedding is not the reference $ty"
    "$mmgen" convert "$tmp/$m.safetensors" "$tmp/$m-$ty-e.direct.gguf" --type "$ty" --embedding > /dev/null
    "$py" "$tmp/gg.py" sametensors "$tmp/$m-$ty-e.gguf" "$tmp/$m-$ty-e.direct.gguf" ||
      fail "$m: convert --type $ty --embedding differs from quantize --embedding, then convert"
    "$mmgen" convert "$tmp/$m-$ty-e.gguf" "$tmp/$m-$ty-e.back.safetensors" > /dev/null
    cmp -s "$tmp/$m-$ty-e.safetensors" "$tmp/$m-$ty-e.back.safetensors" ||
      fail "$m $ty --embedding: safetensors -> GGUF -> safetensors is not identical"
  done
done
pass "Q8_0 / Q4_0 / F16 to GGUF: the reference blocks (linear weights, a tied output's copy; with --embedding the token embedding too), the rest exact; quantized models round-trip identically (tied and untied)"

# --- Q8_0 / Q4_0 read --------------------------------------------------------------
"$py" "$tmp/gg.py" quantize "$tmp/m.gguf" "$tmp/q.gguf" "$tmp/q.json"
"$mmgen" convert "$tmp/q.gguf" "$tmp/q.safetensors" > "$tmp/out" || fail "convert Q8_0/Q4_0: $(cat "$tmp/out")"
"$py" "$tmp/gg.py" quantback "$tmp/q.safetensors" "$tmp/q.json" || fail "Q8_0/Q4_0 dequantization"
pass "Q8_0 and Q4_0 tensors dequantized exactly"
for ty in q8_0 q4_0; do
  "$py" "$tmp/gg.py" quantize_all "$tmp/m.gguf" "$tmp/$ty.gguf" "$tmp/$ty.json" "$ty"
  "$mmgen" convert "$tmp/$ty.gguf" "$tmp/$ty.safetensors" > "$tmp/out" || fail "convert all-$ty: $(cat "$tmp/out")"
  grep -q "the file's blocks, as they are" "$tmp/out" || fail "all-$ty GGUF not kept quantized: $(cat "$tmp/out")"
  n=$("$py" "$tmp/gg.py" sameblocks "$tmp/$ty.safetensors" "$tmp/$ty.gguf" "$ty") || fail "all-$ty: blocks changed"
  # and back: the same tensors as the file we started from
  "$mmgen" convert "$tmp/$ty.safetensors" "$tmp/$ty.back.gguf" > /dev/null
  "$py" "$tmp/gg.py" sametensors "$tmp/$ty.gguf" "$tmp/$ty.back.gguf" || fail "all-$ty: GGUF -> mmgen -> GGUF changed a tensor"
  "$mmgen" quantize "$tmp/$ty.safetensors" "$tmp/$ty.f32.safetensors" --type f32 > /dev/null
  "$py" "$tmp/gg.py" quantback "$tmp/$ty.f32.safetensors" "$tmp/$ty.json" || fail "all-$ty dequantization"
done
pass "Q8_0 / Q4_0 GGUF files become Q8_0 / Q4_0 models with the same blocks ($n matrices each, the token embedding among them) and convert back to the same tensors"

# --- malformed and unsupported files ----------------------------------------------
mkdir "$tmp/bad"
"$py" "$tmp/gg.py" bad "$tmp/m.gguf" "$tmp/bad"
n=0
while IFS="$(printf '\t')" read -r name msg; do
  set +e
  "$mmgen" convert "$tmp/bad/$name.gguf" "$tmp/bad/out.safetensors" > "$tmp/out" 2> "$tmp/err"
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "$name: exit $rc, expected 1 (a crash is >= 128): $(cat "$tmp/err")"
  grep -qF -- "$msg" "$tmp/err" || fail "$name: stderr lacks '$msg': $(cat "$tmp/err")"
  grep -q "^mmgen: " "$tmp/err" || fail "$name: no 'mmgen: ' message: $(cat "$tmp/err")"
  [ ! -e "$tmp/bad/out.safetensors" ] || fail "$name: an output file was written"
  n=$((n + 1))
done < "$tmp/bad/cases.txt"
[ "$n" -ge 30 ] || fail "only $n malformed cases ran"
pass "$n malformed or unsupported GGUF files refused with a clear message"

# --- usage errors and models llama.cpp's gpt2 cannot run ------------------------------
set +e
"$mmgen" convert "$tmp/m.safetensors" 2> "$tmp/err"; [ $? = 2 ] || fail "one argument: not a usage error"
"$mmgen" convert "$tmp/m.gguf" "$tmp/x" --type f16 2> "$tmp/err"; [ $? = 2 ] || fail "--type on GGUF input accepted"
"$mmgen" convert "$tmp/m.safetensors" "$tmp/x.gguf" --type q4 2> "$tmp/err"; [ $? = 2 ] || fail "--type q4 accepted"
"$mmgen" convert "$tmp/m.safetensors" "$tmp/x.gguf" --embedding 2> "$tmp/err"; [ $? = 2 ] || fail "--embedding without --type accepted"
"$mmgen" convert "$tmp/m.gguf" "$tmp/x" --embedding 2> "$tmp/err"; [ $? = 2 ] || fail "--embedding on GGUF input accepted"
"$mmgen" train -t "$tmp/tok.json" -o "$tmp/post.safetensors" --steps 1 --d-model 32 --heads 4 --layers 1 --seq-len 16 \
  --norm post --val-fraction 0 "$tmp/corpus.txt" > /dev/null 2>&1
"$mmgen" convert "$tmp/post.safetensors" "$tmp/post.gguf" 2> "$tmp/err"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "post-LN; gpt2 is pre-LN" "$tmp/err" || fail "a post-LN model: exit $rc: $(cat "$tmp/err")"
pass "usage errors (2: --type or --embedding reading GGUF, --embedding without a quantized --type) and a post-LN model (1) refused"

# --- GPT-2's vocabulary ---------------------------------------------------------------
data=${MMGEN_TEST_DATA:-$src/../shared/data}
if [ -f "$data/gpt2/encoder.json" ] && [ -f "$data/gpt2/vocab.bpe" ]; then
  "$mmgen" tokenizer new --plugin text -o "$tmp/gpt2.json" \
    --config "{\"vocab\": \"gpt2\", \"encoder_json\": \"$data/gpt2/encoder.json\", \"vocab_bpe\": \"$data/gpt2/vocab.bpe\"}" > /dev/null
  "$mmgen" train -t "$tmp/gpt2.json" -o "$tmp/g.safetensors" --steps 1 --d-model 8 --heads 2 --layers 1 --seq-len 8 \
    --norm pre --activation gelu_tanh --position learned --val-fraction 0 "$tmp/corpus.txt" > /dev/null
  "$mmgen" convert "$tmp/g.safetensors" "$tmp/g.gguf" > /dev/null
  "$py" "$tmp/gg.py" vocab "$tmp/g.gguf" > "$tmp/vocab"
  [ "$(cat "$tmp/vocab")" = "50257 50000 Ġthe <|endoftext|> 3 Ġ t 50256" ] || fail "GPT-2 vocabulary: $(cat "$tmp/vocab")"
  pass "GPT-2's tokens, types, merges and eos written"
else
  echo "note: $data/gpt2 not found: the GPT-2 vocabulary case is skipped"
fi
echo "gguf OK"
