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

test('struct mirrors have the C compiler\'s sizes and offsets', (t) => {
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
    lines.push(`printf("%zu\\n", sizeof(${cname}));`);
    expected.push(koffi.sizeof(mirror));
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
