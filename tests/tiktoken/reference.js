// tests/tiktoken/reference.js - reference token ids from OpenAI's tiktoken
// (npm package, the Rust core compiled to WASM) for the text plugin's parity
// checks.
//
//   node reference.js ENCODING OUTDIR FILE...
// For each FILE writes OUTDIR/<basename>.<ENCODING>.ids (ids separated by
// spaces, one line) and OUTDIR/<basename>.lossy: the file decoded as UTF-8 by
// a WHATWG TextDecoder, each ill-formed part replaced by U+FFFD, which is the
// string tiktoken actually encodes (its JS API takes strings only).
"use strict";
const fs = require("fs");
const path = require("path");
const { get_encoding } = require("tiktoken");

const [encoding, outdir, ...files] = process.argv.slice(2);
if (!encoding || !outdir || files.length === 0) {
  console.error("usage: node reference.js ENCODING OUTDIR FILE...");
  process.exit(2);
}
const enc = get_encoding(encoding);
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
for (const file of files) {
  const bytes = fs.readFileSync(file);
  const text = decoder.decode(bytes);
  const ids = enc.encode_ordinary(text);
  const base = path.join(outdir, path.basename(file));
  fs.writeFileSync(`${base}.${encoding}.ids`, Array.from(ids).join(" ") + "\n");
  fs.writeFileSync(`${base}.lossy`, Buffer.from(text, "utf8"));
}
enc.free();
