'use strict';
// mmgen for Node.js: libmmgen's public C ABI (1.3) through koffi.
//
//   const mmgen = require('mmgen');      // or require('./bindings/node')
//   mmgen.load('/path/to/libmmgen.so');  // optional: else $MMGEN_LIB, else libmmgen.so.1
//   const m = mmgen.Model.load('model.safetensors');
//   const ids = m.generate({ promptIds: m.tokenizer.encode('Once'), maxTokens: 50, seed: 1,
//                            temperature: 0.8, topP: 0.95, endToken: 'eos' });
//   console.log(m.tokenizer.decode(ids).toString());
//   m.close();
//
// Loading refuses, with MmgenError (MMG_ERR_ABI), a library that cannot serve
// ABI 1.3 (checkAbi) or whose struct layouts differ from this module's mirrors
// (checkLayouts: each mirror's size <= mmg_struct_size, each field at
// mmg_struct_field_offset; the message names the struct and field).
//
// Model (since 1.3):
//   Model.load(path, { nThreads, checkFinite, weights: 'q8_0'|'q4_0'|'f16'|'f32' }), Model.loadMemory(buffer, { ... })
//   Model.load(path, { weights, quantizeEmbedding: true })  the token embedding quantized too (1.6)
//   m.readParamData(name)     { format, data }: the parameter as stored, GGUF's layout (1.6)
//   mmgen.weightsSize(fmt, n), mmgen.quantize(values, fmt) -> Buffer,
//   mmgen.dequantize(data, fmt, n) -> Float32Array  the library's quantizers (1.6)
//   m.parameters()            Map name -> shape, e.g. 'tok_emb.weight' -> [300, 32]
//   m.readParam(name)         a Float32Array copy, row-major
//   m.writeParam(name, vals)  a Float32Array, typed array or Array of exactly the
//                             parameter's size (else MMG_ERR_RANGE naming the shape)
//   m.checkFinite = true      or generate({ checkFinite: true }): NaN/infinite logits
//                             throw MMG_ERR_NUMERIC naming the token id and position
// A tied output projection is 'tok_emb.weight' (there is no 'lm_head.weight').
const L = require('./lib/library.js');
const { Plugin, Tokenizer, Model, weightsSize, quantize, dequantize } = require('./lib/api.js');
const structs = require('./lib/structs.js');

module.exports = {
  load: L.load,
  library: L.get,
  openLibrary: L.openLibrary,
  checkAbi: L.checkAbi,
  checkLayouts: L.checkLayouts,
  libraryStructNames: L.libraryStructNames,
  findLibraryPath: L.findLibraryPath,
  ABI_MAJOR: L.ABI_MAJOR,
  ABI_MINOR: L.ABI_MINOR,
  Status: L.Status,
  STATUS_NAMES: L.STATUS_NAMES,
  MmgenError: L.MmgenError,
  Plugin,
  Tokenizer,
  Model,
  weightsSize,
  quantize,
  dequantize,
  structs,
};
