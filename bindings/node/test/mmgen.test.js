'use strict';
// Tests of the mmgen Node module against a build of libmmgen.
//
// Environment: MMGEN_LIB (the library), MMGEN_PLUGIN_PATH (its plugins) and
// MMGEN_BIN (the build directory, for the `mmgen` CLI that trains the tiny
// model these tests load). tests/check_node_bindings.sh sets all three;
// without them the tests look for ../../build.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.MMGEN_BIN || path.join(ROOT, 'build');
process.env.MMGEN_LIB ||= path.join(BIN, 'lib', 'libmmgen.so');
process.env.MMGEN_PLUGIN_PATH ||= path.join(BIN, 'plugins');
process.env.MMGEN_NUM_THREADS ||= '1';

const mmgen = require('..');
const koffi = require('koffi');

const CORPUS = Buffer.concat([fs.readFileSync(path.join(ROOT, 'README.md')),
  fs.readFileSync(path.join(ROOT, 'ABI.md'))]);
const SAMPLING = { temperature: 0.8, topP: 0.95, topK: 0 };

function cli(...args) {
  return execFileSync(path.join(BIN, 'bin', 'mmgen'), args.map(String),
    { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

let tmp;
let modelPath;
let tok; // a text tokenizer fitted here

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmgen-node-'));
  // A tiny model trained here by the CLI (3 steps), carrying its tokenizer.
  fs.writeFileSync(path.join(tmp, 'corpus.txt'), CORPUS);
  cli('tokenizer', 'fit', '--plugin', 'text', '--config', '{"vocab_size": 300}', '-o',
    path.join(tmp, 'tok.json'), path.join(tmp, 'corpus.txt'));
  modelPath = path.join(tmp, 'm.safetensors');
  cli('train', '-t', path.join(tmp, 'tok.json'), '-o', modelPath, '--steps', 3, '--d-model', 32,
    '--heads', 2, '--layers', 1, '--seq-len', 32, '--batch', 4, '--val-fraction', 0,
    path.join(tmp, 'corpus.txt'));
  tok = mmgen.Tokenizer.create('text', { vocab_size: 280 });
  tok.fit([CORPUS.subarray(0, 20000), 'héllo wörld, ünïcode ✓']);
});

after(() => {
  if (tok) tok.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- (1) generation gives exactly the CLI's tokens ---------------------------

for (const seed of [5, 1234]) {
  test(`generate matches the CLI (seed ${seed})`, () => {
    const prompt = [1, 2, 3, 40];
    const printed = cli('generate', '-m', modelPath, '--prompt-ids', prompt.join(' '), '--ids',
      '--seed', seed, '-n', 20, '--no-constraint', '-T', 0.8, '--top-p', 0.95);
    const expected = printed.trim().split(/\s+/).map(Number);
    const m = mmgen.Model.load(modelPath);
    try {
      const ids = m.generate({ promptIds: prompt, maxTokens: 20, seed, endToken: 'eos', ...SAMPLING });
      const again = m.generate({ promptIds: prompt, maxTokens: 20, seed, endToken: 'eos', ...SAMPLING });
      const eos = m.tokenizer.specialToken('eos');
      assert.deepEqual(again, ids);
      assert.ok(ids.length >= 1 && ids.length <= 20);
      // the CLI prints the prompt and the new tokens, without a final end token
      assert.deepEqual([...prompt, ...ids.filter((t) => t !== eos)], expected);
    } finally {
      m.close();
    }
  });
}

test('model config and tokenizer; close frees once', () => {
  const m = mmgen.Model.load(modelPath);
  const c = m.config;
  assert.deepEqual([c.vocab_size, c.d_model, c.n_heads, c.n_decoder_layers], [300, 32, 2, 1]);
  assert.ok(m.nParams > 0);
  const t = m.tokenizer;
  assert.equal(t, m.tokenizer); // one instance per model
  assert.equal(t.pluginName, 'text');
  assert.equal(t.vocabSize, 300);
  assert.deepEqual(t.decode(t.encode('The ABI')), Buffer.from('The ABI'));
  m.close();
  m.close();
  assert.ok(m.closed && t.closed);
  assert.throws(() => m.generate({ promptIds: [1], maxTokens: 2 }),
    (e) => e instanceof mmgen.MmgenError && e.status === mmgen.Status.MMG_ERR_STATE);
  assert.throws(() => t.encode('x'), (e) => e.statusName === 'MMG_ERR_STATE');
});

test('Symbol.dispose closes', { skip: typeof Symbol.dispose !== 'symbol' && 'no Symbol.dispose' }, () => {
  const p = mmgen.Plugin.open('text');
  p[Symbol.dispose]();
  assert.ok(p.closed);
});

// ---- (2) tokenizer round trips -------------------------------------------------

test('tokenizer round trip', () => {
  const docs = [Buffer.alloc(0), Buffer.from('The ABI is a contract.'), Buffer.from('héllo wörld ✓'),
    Buffer.from(Array.from({ length: 256 }, (_, i) => i))];
  for (const doc of docs) {
    const ids = tok.encode(doc);
    assert.ok(ids.every((i) => Number.isInteger(i) && i >= 0 && i < tok.vocabSize));
    assert.deepEqual(tok.decode(ids), doc);
  }
  assert.deepEqual(tok.encode('text as str'), tok.encode(Buffer.from('text as str')));
  assert.deepEqual(tok.config, { vocab_size: 280 });
});

test('tokenizer toJson/fromJson gives the same ids', () => {
  const doc = CORPUS.subarray(0, 3000);
  const ids = tok.encode(doc);
  const again = mmgen.Tokenizer.fromJson(tok.toJson());
  try {
    assert.deepEqual(again.encode(doc), ids);
    assert.equal(again.vocabSize, tok.vocabSize);
    assert.equal(again.specialToken('eos'), tok.specialToken('eos'));
  } finally {
    again.close();
  }
  const p = mmgen.Plugin.open('text');
  try {
    assert.equal(p.name, 'text');
    assert.equal(p.modality, 'text');
  } finally {
    p.close();
  }
  assert.equal(tok.specialToken('no-such-token'), null);
});

// ---- (3) errors ----------------------------------------------------------------

test('a missing model file throws MMG_ERR_IO naming the path', () => {
  const missing = path.join(tmp, 'nope.safetensors');
  assert.throws(() => mmgen.Model.load(missing), (e) => {
    assert.ok(e instanceof mmgen.MmgenError);
    assert.equal(e.status, mmgen.Status.MMG_ERR_IO);
    assert.equal(e.statusName, 'MMG_ERR_IO');
    assert.ok(e.message.includes(missing) && e.message.includes('MMG_ERR_IO'), e.message);
    assert.ok(e.lastError); // mmg_last_error's text
    return true;
  });
});

test('decoding an out-of-range id throws MMG_ERR_RANGE', () => {
  const bad = tok.vocabSize;
  assert.throws(() => tok.decode([1, bad]), (e) => {
    assert.ok(e instanceof mmgen.MmgenError);
    assert.equal(e.status, mmgen.Status.MMG_ERR_RANGE);
    assert.equal(e.statusName, 'MMG_ERR_RANGE');
    assert.ok(e.lastError.includes(String(bad)), e.lastError);
    return true;
  });
  assert.throws(() => tok.decode([2 ** 40]), (e) => e.status === mmgen.Status.MMG_ERR_RANGE);
});

test('a missing plugin and a bad tokenizer document throw', () => {
  assert.throws(() => mmgen.Plugin.open('no-such-plugin'),
    (e) => e.status === mmgen.Status.MMG_ERR_NOT_FOUND);
  assert.throws(() => mmgen.Tokenizer.fromJson('{}'), (e) => e.status === mmgen.Status.MMG_ERR_FORMAT);
});

// ---- (4) the ABI check ---------------------------------------------------------

test('the ABI check refuses an incompatible requested version', () => {
  const lib = mmgen.library();
  mmgen.checkAbi(lib, 1, 0);
  mmgen.checkAbi(lib); // what this module needs
  for (const [major, minor] of [[2, 0], [0, 9], [1, 999]]) {
    assert.throws(() => mmgen.checkAbi(lib, major, minor), (e) => {
      assert.ok(e instanceof mmgen.MmgenError);
      assert.equal(e.status, mmgen.Status.MMG_ERR_ABI);
      assert.ok(e.message.includes(`cannot serve this binding (ABI ${major}.${minor})`), e.message);
      return true;
    });
  }
});

test('a library that cannot be loaded throws naming MMGEN_LIB', () => {
  assert.throws(() => mmgen.openLibrary(path.join(tmp, 'libmissing.so')),
    (e) => e instanceof mmgen.MmgenError && e.message.includes('MMGEN_LIB'));
});

// A mirror is the C struct or a prefix of it: the header may have appended
// fields this module does not use, and the mirror then keeps the older size
// so that older libraries still pass the load-time check.
test('struct mirrors have the C compiler\'s offsets and fit its sizes', (t) => {
  const cc = process.env.CC || 'cc';
  const include = path.join(ROOT, 'include');
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
  } catch {
    t.skip('no C compiler');
    return;
  }
  const { MIRRORS } = mmgen.structs;
  const lines = ['#include <stdio.h>', '#include <stddef.h>',
    ...new Set(Object.values(MIRRORS).map(([, h]) => `#include <${h}>`)), 'int main(void) {'];
  const expected = [];
  for (const [cname, [mirror]] of Object.entries(MIRRORS)) {
    lines.push(`printf("%d\\n", (int)(sizeof(${cname}) >= ${koffi.sizeof(mirror)}));`);
    expected.push(1);
    for (const field of Object.keys(mirror.members)) {
      lines.push(`printf("%zu\\n", offsetof(${cname}, ${field}));`);
      expected.push(koffi.offsetof(mirror, field));
    }
  }
  lines.push('return 0; }');
  fs.writeFileSync(path.join(tmp, 'layout.c'), lines.join('\n'));
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  execFileSync(cc, ['-I', include, '-o', path.join(tmp, 'layout'), path.join(tmp, 'layout.c')], { env });
  const out = execFileSync(path.join(tmp, 'layout'), { env }).toString().trim().split('\n').map(Number);
  assert.deepEqual(out, expected);
});

test('every mirror is a struct the library describes', () => {
  const lib = mmgen.library();
  const names = mmgen.libraryStructNames(lib);
  assert.ok(names.includes('mmg_context_options') && names.includes('mmg_param_info'), names.join());
  assert.deepEqual(Object.keys(mmgen.structs.MIRRORS).filter((n) => !names.includes(n)), []);
  mmgen.checkLayouts(lib); // what loading did
});

test('the layout check refuses a wrong mirror, naming the struct and field', () => {
  const lib = mmgen.library();
  const S = mmgen.structs;
  // mmg_context_options with n_slots 4 bytes later; a field the library lacks;
  // a mirror larger than the library's struct; a struct it does not know.
  const moved = koffi.struct({ struct_size: 'size_t', n_threads: 'int32_t', padding: 'int32_t',
    n_slots: 'int32_t' });
  const renamed = koffi.struct({ struct_size: 'size_t', temp: 'float' });
  const tooBig = koffi.struct({ ...Object.fromEntries(Object.entries(S.ModelConfig.members)
    .map(([k, v]) => [k, v.type])), future: koffi.array('uint64_t', 8) });
  const cases = [
    ['mmg_context_options', moved, ['field padding', 'offset 12']],
    ['mmg_sampling_options', renamed, ['field temp', 'has no such field']],
    ['mmg_model_config', tooBig, [`mirror has ${koffi.sizeof(tooBig)} bytes`]],
    ['mmg_no_such_struct', S.ModelConfig, ['does not know it']],
  ];
  for (const [cname, mirror, words] of cases) {
    assert.throws(() => mmgen.checkLayouts(lib, { [cname]: [mirror, 'mmgen/mmgen.h'] }), (e) => {
      assert.ok(e instanceof mmgen.MmgenError);
      assert.equal(e.status, mmgen.Status.MMG_ERR_ABI);
      for (const w of [`struct ${cname}`, ...words]) assert.ok(e.message.includes(w), e.message);
      return true;
    });
  }
});

test('loading refuses a wrong mirror', () => {
  const { MIRRORS } = mmgen.structs;
  const saved = MIRRORS.mmg_context_options;
  MIRRORS.mmg_context_options = [koffi.struct({ struct_size: 'size_t', n_threads: 'int32_t',
    unused: 'int32_t', n_slots: 'int32_t' }), 'mmgen/context.h'];
  try {
    assert.throws(() => mmgen.openLibrary(), (e) => e.status === mmgen.Status.MMG_ERR_ABI &&
      e.message.includes('struct mmg_context_options, field unused'));
  } finally {
    MIRRORS.mmg_context_options = saved;
  }
});

// ---- parameters (ABI 1.3) ------------------------------------------------------

const product = (shape) => shape.reduce((a, b) => a * b, 1);

/** Runs fn(model) on a fresh load of the test model, then closes it. */
function withModel(fn, options) {
  const m = mmgen.Model.load(modelPath, options);
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

/** The output projection's name: lm_head.weight, or tok_emb.weight when tied. */
function outputWeight(m) {
  return m.parameters().has('lm_head.weight') ? 'lm_head.weight' : 'tok_emb.weight';
}

test('parameters() lists names and shapes that sum to nParams', () => withModel((m) => {
  const params = m.parameters();
  assert.ok(params instanceof Map);
  assert.equal([...params.keys()][0], 'tok_emb.weight');
  assert.deepEqual(params.get('tok_emb.weight'), [300, 32]);
  let total = 0;
  for (const [name, shape] of params) {
    assert.ok(shape.length >= 1 && shape.length <= 4 && shape.every(Number.isInteger), name);
    assert.equal(m.readParam(name).length, product(shape));
    total += product(shape);
  }
  assert.equal(total, m.nParams);
}));

test('readParam/writeParam round trip', () => withModel((m) => {
  const name = 'decoder.layers.0.ff.fc1.weight';
  const w = m.readParam(name);
  assert.ok(w instanceof Float32Array && w.length === product(m.parameters().get(name)));
  assert.ok(w.some((x) => x !== 0));
  const edited = w.map((x) => x * 0.5 + 0.25);
  m.writeParam(name, edited);
  assert.deepEqual(m.readParam(name), edited);
  m.writeParam(name, Array.from(w)); // an Array of numbers
  assert.deepEqual(m.readParam(name), w);
  m.writeParam(name, Float64Array.from(edited)); // another typed array
  assert.deepEqual(m.readParam(name), edited);
  const big = new Float32Array(w.length + 8);
  big.set(w, 8);
  m.writeParam(name, big.subarray(8)); // a view at an offset
  assert.deepEqual(m.readParam(name), w);
  assert.throws(() => m.writeParam(name, 'text'), TypeError);
  const notFound = (e) =>
    e.status === mmgen.Status.MMG_ERR_NOT_FOUND && e.lastError.includes('no.such.weight');
  assert.throws(() => m.readParam('no.such.weight'), notFound);
  assert.throws(() => m.writeParam('no.such.weight', [1]), notFound);
}));

test('a wrong-size write throws MMG_ERR_RANGE naming the shape', () => withModel((m) => {
  const shape = m.parameters().get('tok_emb.weight');
  const before = m.readParam('tok_emb.weight');
  for (const bad of [[1, 2], before.subarray(1), new Float32Array(before.length + 1), []]) {
    assert.throws(() => m.writeParam('tok_emb.weight', bad), (e) => {
      assert.equal(e.status, mmgen.Status.MMG_ERR_RANGE);
      assert.ok(e.lastError.includes(`(${shape.join(', ')})`), e.lastError);
      assert.ok(e.lastError.includes(`holds ${bad.length}`), e.lastError);
      return true;
    });
  }
  assert.deepEqual(m.readParam('tok_emb.weight'), before); // unchanged
}));

test('copying every parameter of A into B makes B generate as A', () => {
  const a = mmgen.Model.load(modelPath);
  const b = mmgen.Model.load(modelPath);
  try {
    const opts = { promptIds: [1, 2, 3, 40], maxTokens: 16, seed: 4, ...SAMPLING };
    const want = a.generate(opts);
    assert.deepEqual(b.generate(opts), want);
    for (const name of b.parameters().keys()) { // B becomes another model
      b.writeParam(name, b.readParam(name).map((x, i) => x * -1.5 + (i % 7) * 0.01));
    }
    assert.notDeepEqual(b.generate(opts), want);
    for (const name of a.parameters().keys()) b.writeParam(name, a.readParam(name));
    assert.deepEqual(b.generate(opts), want);
  } finally {
    a.close();
    b.close();
  }
});

test('loadMemory gives the same tokens as load', () => {
  const data = fs.readFileSync(modelPath);
  const opts = { promptIds: [1, 2, 3], maxTokens: 16, seed: 9, endToken: 'eos', ...SAMPLING };
  const want = withModel((m) => m.generate(opts));
  const copy = new Uint8Array(data); // a typed array, not a Buffer
  for (const form of [data, copy, copy.buffer]) {
    const m = mmgen.Model.loadMemory(form);
    try {
      assert.equal(m.tokenizer.vocabSize, 300); // the metadata came along
      assert.deepEqual(m.generate(opts), want);
    } finally {
      m.close();
    }
  }
  assert.throws(() => mmgen.Model.loadMemory(data.subarray(0, 100)),
    (e) => e.status === mmgen.Status.MMG_ERR_FORMAT && e.lastError.includes('<memory>'));
  assert.throws(() => mmgen.Model.loadMemory(modelPath), TypeError);
});

test('checkFinite reports NaN logits where they are computed', () => withModel((m) => {
  const name = outputWeight(m);
  m.writeParam(name, new Float32Array(m.readParam(name).length).fill(NaN));
  const opts = { promptIds: [1, 2, 3], maxTokens: 4, seed: 1 };
  // The sampler refuses NaN logits either way; checkFinite names the token id and position.
  assert.throws(() => m.generate({ ...opts, checkFinite: true }), (e) => e.status ===
    mmgen.Status.MMG_ERR_NUMERIC && e.lastError.includes('token id 0 is NaN at position 2'));
  m.checkFinite = true; // the model's setting, used when generate() leaves it out
  assert.throws(() => m.generate(opts), (e) => e.lastError.includes('token id 0 is NaN'));
  m.checkFinite = false;
  assert.throws(() => m.generate(opts), (e) =>
    e.status === mmgen.Status.MMG_ERR_NUMERIC && !e.lastError.includes('token id'));
}));

test('checkFinite catches the -inf logit that sampling accepts', () => {
  // The final norm outputs e_0 (weight 0, bias one-hot): every logit is
  // column 0 of the output projection, and token 7's is -inf.
  withModel((m) => {
    const [c] = m.parameters().get('decoder.norm.weight');
    const name = outputWeight(m);
    m.writeParam('decoder.norm.weight', new Float32Array(c));
    m.writeParam('decoder.norm.bias', Float32Array.from({ length: c }, (_, i) => (i === 0 ? 1 : 0)));
    const w = m.readParam(name);
    w[7 * c] = -Infinity;
    m.writeParam(name, w);
    const opts = { promptIds: [1, 2, 3], maxTokens: 12, seed: 1, ...SAMPLING };
    const ids = m.generate(opts);
    assert.equal(ids.length, 12);
    assert.ok(!ids.includes(7));
    assert.throws(() => m.generate({ ...opts, checkFinite: true }), (e) =>
      e.status === mmgen.Status.MMG_ERR_NUMERIC &&
      e.lastError.includes('token id 7 is infinite at position 2 of slot 0'));
    assert.deepEqual(m.generate(opts), ids);
  });
  withModel((m) => {
    assert.equal(m.checkFinite, true);
    m.generate({ promptIds: [1, 2, 3], maxTokens: 4, seed: 1 }); // a healthy model passes
  }, { checkFinite: true });
});

test('load({weights}) quantizes as `mmgen quantize` does', () => {
  const linear = 'decoder.layers.0.ff.fc1.weight';
  const opts = { promptIds: [1, 2, 3, 40], maxTokens: 12, seed: 3, ...SAMPLING };
  const reference = withModel((m) => m.readParam(linear));
  for (const ty of ['q8_0', 'q4_0', 'f16']) {
    const file = path.join(tmp, `m-${ty}.safetensors`);
    cli('quantize', modelPath, file, '--type', ty);
    const a = mmgen.Model.load(modelPath, { weights: ty });
    const b = mmgen.Model.load(file);
    try {
      assert.deepEqual(a.generate(opts), b.generate(opts), ty);
      assert.deepEqual(a.readParam(linear), b.readParam(linear), ty);
      assert.notDeepEqual(a.readParam(linear), reference, `${ty}: still the F32 weights`);
      assert.throws(() => a.writeParam(linear, reference),
        (e) => e.status === mmgen.Status.MMG_ERR_UNSUPPORTED && e.lastError.includes(linear));
    } finally {
      a.close();
      b.close();
    }
    const c = mmgen.Model.load(file, { weights: 'f32' }); // dequantized: writable again
    try {
      c.writeParam(linear, reference);
    } finally {
      c.close();
    }
  }
  assert.throws(() => mmgen.Model.load(modelPath, { weights: 'q5_1' }), /weights must be .*q5_1/);
});

test('weights as bytes: readParamData, quantize, dequantize, weightsSize (ABI 1.6)', () => {
  const linear = 'decoder.layers.0.ff.fc1.weight';
  const w = withModel((m) => m.readParam(linear));
  const q4 = mmgen.Model.load(modelPath, { weights: 'q4_0' });
  try {
    const { format, data } = q4.readParamData(linear);
    assert.equal(format, 'q4_0');
    assert.equal(data.length, (w.length / 32) * 18);
    assert.equal(mmgen.weightsSize('q4_0', w.length), data.length);
    assert.deepEqual(mmgen.quantize(w, 'q4_0'), data);
    assert.deepEqual(mmgen.dequantize(data, 'q4_0', w.length), q4.readParam(linear));
  } finally {
    q4.close();
  }
  withModel((m) => {
    const { format, data } = m.readParamData('tok_emb.weight');
    const table = m.readParam('tok_emb.weight');
    assert.equal(format, 'f32');
    assert.deepEqual(data, Buffer.from(table.buffer, table.byteOffset, table.byteLength));
  });
  const halves = mmgen.quantize([1.0, -2.5, 65504.0], 'f16');
  assert.equal(halves.toString('hex'), '003c00c1ff7b');
  assert.deepEqual(Array.from(mmgen.dequantize(halves, 'f16', 3)), [1.0, -2.5, 65504.0]);
  assert.equal(mmgen.weightsSize('q8_0', 33), 0);
  assert.throws(() => mmgen.quantize(new Array(33).fill(1), 'q8_0'),
    (e) => e.status === mmgen.Status.MMG_ERR_INVALID_ARG && e.lastError.includes('33 elements'));
  assert.throws(() => mmgen.quantize(new Array(32).fill(NaN), 'q8_0'),
    (e) => e.status === mmgen.Status.MMG_ERR_NUMERIC && e.lastError.includes('elements 0..31'));
  assert.throws(() => mmgen.dequantize(Buffer.from('abc'), 'q8_0', 32),
    (e) => e.status === mmgen.Status.MMG_ERR_RANGE);
  assert.throws(() => mmgen.quantize([1.0], 'q5_1'), /q5_1/);
  withModel((m) => assert.throws(() => m.readParamData('no.such.weight'),
    (e) => e.status === mmgen.Status.MMG_ERR_NOT_FOUND));
});

test('load({quantizeEmbedding}) keeps the token embedding quantized (ABI 1.6)', () => {
  const table = withModel((m) => m.readParam('tok_emb.weight'));
  const tableBytes = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  const f32 = mmgen.Model.load(modelPath, { quantizeEmbedding: true }); // ignored for F32
  try {
    assert.deepEqual(f32.readParamData('tok_emb.weight'), { format: 'f32', data: tableBytes });
  } finally {
    f32.close();
  }
  for (const ty of ['q8_0', 'q4_0', 'f16']) {
    const q = mmgen.Model.load(modelPath, { weights: ty, quantizeEmbedding: true });
    const plain = mmgen.Model.load(modelPath, { weights: ty });
    try {
      assert.deepEqual(q.readParamData('tok_emb.weight'), { format: ty, data: mmgen.quantize(table, ty) });
      assert.equal(plain.readParamData('tok_emb.weight').format, 'f32');
      assert.deepEqual(q.readParam('tok_emb.weight'), mmgen.dequantize(mmgen.quantize(table, ty), ty, table.length));
      const ids = q.generate({ promptIds: [1, 2, 3, 40], maxTokens: 8, seed: 3 });
      assert.equal(ids.length, 8);
    } finally {
      q.close();
      plain.close();
    }
  }
});
