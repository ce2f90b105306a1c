// bench/text_tiktoken.js - tiktoken's encode speed, for bench/run_text.sh.
//   node text_tiktoken.js ENCODING FILE REPS OUT_IDS
// Reads FILE as UTF-8 (a WHATWG decoder: ill-formed bytes become U+FFFD) and
// writes those exact bytes to OUT_IDS.text, so mmgen encodes the same text.
// Prints the median MB/s of encode_ordinary over REPS runs (bytes = UTF-8
// length of the text) and writes the ids to OUT_IDS.
"use strict";
const fs = require("fs");
const { get_encoding } = require("tiktoken");
const [encoding, file, repsArg, out] = process.argv.slice(2);
const text = new TextDecoder("utf-8").decode(fs.readFileSync(file));
const bytes = Buffer.byteLength(text, "utf8");
fs.writeFileSync(out + ".text", Buffer.from(text, "utf8"));
const enc = get_encoding(encoding);
const reps = Number(repsArg) || 5;
const times = [];
let ids;
for (let r = 0; r < reps; r++) {
  const t0 = process.hrtime.bigint();
  ids = enc.encode_ordinary(text);
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
times.sort((a, b) => a - b);
const med = times[Math.floor(reps / 2)];
fs.writeFileSync(out, Array.from(ids).join(" ") + "\n");
console.log(`${(bytes / 1e6 / med).toFixed(2)} MB/s  ${ids.length} tokens  ${med.toFixed(4)} s (median of ${reps})`);
enc.free();
