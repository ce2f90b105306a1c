// bench/text_hf.js - Hugging Face tokenizers (npm `tokenizers`, the Rust
// library through N-API) for bench/run_text.sh.
//   node text_hf.js encode ENCODER_JSON VOCAB_BPE FILE REPS OUT_IDS
//       GPT-2 (byte-level BPE from OpenAI's files, GPT-2's regex); median
//       MB/s of encoding FILE (as a WHATWG decoder reads it) as one sequence.
//   node text_hf.js train FILE REPS
//       trains the binding's default BpeTrainer (vocab_size 30000: the node
//       binding cannot set another) over byte-level pre-tokenized FILE;
//       prints the median seconds and the vocabulary size reached.
// Run with RAYON_NUM_THREADS=1 for a single-threaded comparison.
"use strict";
const fs = require("fs");
const { Tokenizer, BPE, byteLevelPreTokenizer, byteLevelDecoder } = require("tokenizers");

async function main() {
  const [mode, ...a] = process.argv.slice(2);
  if (mode === "encode") {
    const [encoderJson, vocabBpe, file, repsArg, out] = a;
    const model = await BPE.fromFile(encoderJson, vocabBpe);
    const tok = new Tokenizer(model);
    tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
    const text = new TextDecoder("utf-8").decode(fs.readFileSync(file));
    const bytes = Buffer.byteLength(text, "utf8");
    const reps = Number(repsArg) || 5;
    const times = [];
    let ids;
    for (let r = 0; r < reps; r++) {
      const t0 = process.hrtime.bigint();
      const e = await tok.encode(text);
      ids = e.getIds();
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    times.sort((x, y) => x - y);
    const med = times[Math.floor(reps / 2)];
    fs.writeFileSync(out, ids.join(" ") + "\n");
    console.log(`${(bytes / 1e6 / med).toFixed(2)} MB/s  ${ids.length} tokens  ${med.toFixed(4)} s (median of ${reps})`);
  } else if (mode === "train") {
    const [file, repsArg] = a;
    const reps = Number(repsArg) || 3;
    const times = [];
    let size = 0;
    for (let r = 0; r < reps; r++) {
      const tok = new Tokenizer(BPE.empty());
      tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
      const t0 = process.hrtime.bigint();
      tok.train([file]);
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      size = tok.getVocabSize(true);
    }
    times.sort((x, y) => x - y);
    console.log(`${times[Math.floor(reps / 2)].toFixed(3)} s  vocabulary ${size} (median of ${reps})`);
  } else {
    console.error("usage: text_hf.js encode ENCODER_JSON VOCAB_BPE FILE REPS OUT_IDS | train FILE REPS");
    process.exit(2);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
