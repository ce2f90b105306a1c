// tests/tiktoken/make_fixture.js - writes tests/fixtures/text/tiktoken_cases.txt:
// (encoding, text, ids) triples produced by tiktoken itself, so the criterion
// suite checks id parity without node. Regenerate with
//   (cd tests/tiktoken && npm ci && node make_fixture.js)
// Format, one case per line: ENCODING HEX(TEXT as UTF-8) ID,ID,...
"use strict";
const fs = require("fs");
const path = require("path");
const { get_encoding } = require("tiktoken");

const cases = [
  "", "a", " ", "  ", "\n", "Hello, world!", "Hello world", " Hello", "hello  world", "hello   world",
  "The quick brown fox jumps over the lazy dog.",
  "It's a dog's life; they're sure we've been, I'm told you'll, he'd say.",
  "IT'S A DOG'S LIFE; THEY'RE SURE WE'VE BEEN, I'M TOLD YOU'LL, HE'D SAY.",
  "It'S wE'Ve yOu'Ll I'M", "'s 's 'S 't 'T 're 'RE 'Re 've 'VE 'm 'M 'll 'LL 'd 'D '\u017f 'x '", "''s'''t",
  "don’t won’t", "rock 'n' roll", "1234567890", "12 345 6789 0", "3.14159, 2.71828; 1e10", "٣٤٥ ١٢ ۱۲۳ ߁߂ ０１２", "Ⅻ ½ ² ³ ①",
  "x = 10000000000000000000000", " 1 22 333 4444 55555",
  "naïve café résumé ÉCOLE straße", "Привет, мир! Как дела?", "日本語のテキストです。", "中文文本，标点。", "한국어 텍스트",
  "ภาษาไทยไม่มีช่องว่าง", "العربية نص", "עברית טקסט", "हिन्दी पाठ", "Ελληνικά κείμενο", "ქართული", "Tiếng Việt có dấu",
  "😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇩🇪 ❤️ ✨", "emoji😀inside😀words", "🧑‍💻 coding", "e\u0301 a\u0308 n\u0303",
  "zero\u200bwidth\u200djoiner", "\ufeffBOM at start", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕓𝕠𝕝𝕕", "𐍈 Gothic", "\u13a34 hieroglyph ext-A 𓐠",
  "\u{13A34}'d \u{10940}'d \u{1E5D0}'d",
  "tab\tseparated\tvalues", "line1\nline2\n\nline4", "crlf\r\nline\r\n\r\nend", "mixed \r\n \n\r \r\r\n\n",
  "trailing spaces   ", "   leading spaces", "a  b   c    d", " \t \u3000 \u00a0x", "\u2028\u2029\u0085\x0b\x0c",
  "x" + " ".repeat(100) + "y", " ".repeat(300), "\n".repeat(50) + "x", "\t".repeat(40) + "code",
  "    return x;\n}\n", "#include <stdio.h>\nint main(void) {\n\tprintf(\"hi\\n\");\n\treturn 0;\n}\n",
  "if (a->b && c::d == e) { f[i] += g / h % 2; }", "/* comment */ // another\n", "def f(x):\n    return x ** 2\n",
  "<html><body class=\"x\">&amp;</body></html>", "{\"key\": [1, 2, 3], \"k2\": null}", "https://example.com/path?q=1&r=2#frag",
  "<|endoftext|>", "text <|endoftext|> more <|fim_prefix|>", "$$$ ### !!! ??? ... --- ___ ~~~",
  "\u0000\u0001\u001f\u007f control", "\ufffd replacement \ufffd\ufffd", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "abababababababababababababababababababababababababababababababababab", "a".repeat(700),
  "Supercalifragilisticexpialidocious antidisestablishmentarianism",
];

// Deterministic fuzz: a small LCG over pools of tricky fragments and random code points.
let seed = 20240601;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const pools = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u3000", "\u00a0", "'s", "'S", "'re", "'LL", "'\u017f", "'x",
  "123", "4567", "٣٤", "½", "hello", "World", "ÉCOLE", "Привет", "日本語", "😀", "👍🏽", "🇫🇷", "e\u0301", "...", "(", "\"",
  "::", "->", "\u200d", "𝔘𝔫", "\u{13A34}", "\u{10940}"];
function fuzz(n) {
  let s = "";
  for (let i = 0; i < n; i++) {
    const k = rnd();
    if (k < 0.7) s += pick(pools);
    else if (k < 0.8) s += " ".repeat(1 + Math.floor(rnd() * 30));
    else if (k < 0.85) s += "\n".repeat(1 + Math.floor(rnd() * 4)) + " ".repeat(Math.floor(rnd() * 6));
    else if (k < 0.9) s += String(Math.floor(rnd() * 1e12));
    else {
      let cp;
      do cp = Math.floor(rnd() * 0x32000); while (cp >= 0xd800 && cp <= 0xdfff);
      s += String.fromCodePoint(cp);
    }
  }
  return s;
}
for (let i = 0; i < 6; i++) cases.push(fuzz(400));

const out = [];
for (const name of ["gpt2", "r50k_base", "p50k_base", "cl100k_base"]) {
  const enc = get_encoding(name);
  for (const text of cases) {
    const ids = Array.from(enc.encode_ordinary(text));
    out.push(`${name} ${Buffer.from(text, "utf8").toString("hex")} ${ids.join(",")}`);
  }
  enc.free();
}
const file = path.join(__dirname, "..", "fixtures", "text", "tiktoken_cases.txt");
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, out.join("\n") + "\n");
console.log(`wrote ${out.length} cases to ${file}`);
