'use strict';
// mmgen for Node.js: libmmgen's public C ABI (1.2) through koffi.
//
//   const mmgen = require('mmgen');      // or require('./bindings/node')
//   mmgen.load('/path/to/libmmgen.so');  // optional: else $MMGEN_LIB, else libmmgen.so.1
//   const m = mmgen.Model.load('model.safetensors');
//   const ids = m.generate({ promptIds: m.tokenizer.encode('Once'), maxTokens: 50, seed: 1,
//                            temperature: 0.8, topP: 0.95, endToken: 'eos' });
//   console.log(m.tokenizer.decode(ids).toString());
//   m.close();
const L = require('./lib/library.js');
const { Plugin, Tokenizer, Model } = require('./lib/api.js');
const structs = require('./lib/structs.js');

module.exports = {
  load: L.load,
  library: L.get,
  openLibrary: L.openLibrary,
  checkAbi: L.checkAbi,
  findLibraryPath: L.findLibraryPath,
  ABI_MAJOR: L.ABI_MAJOR,
  ABI_MINOR: L.ABI_MINOR,
  Status: L.Status,
  STATUS_NAMES: L.STATUS_NAMES,
  MmgenError: L.MmgenError,
  Plugin,
  Tokenizer,
  Model,
  structs,
};
