// tests/tiktoken/gen_inputs.js - writes the generated inputs of
// tests/check_tiktoken.sh into OUTDIR (deterministic, seeded):
//   multilingual.txt  sentences in 20 scripts, emoji sequences, combining marks
//   fuzz_N.txt        random mixes of tricky fragments and code points of every plane
//   adversarial.txt   long whitespace runs, \r\n mixes, digit runs, contractions in caps
//   long_*.txt        20 KB single pieces (tiktoken is quadratic on them: tiktoken#195)
//   invalid_N.bin     bytes with ill-formed UTF-8 (compared on what can be compared)
"use strict";
const fs = require("fs");
const path = require("path");
const out = process.argv[2];
if (!out) { console.error("usage: node gen_inputs.js OUTDIR"); process.exit(2); }
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const w = (name, data) => fs.writeFileSync(path.join(out, name), data);

const sentences = [
  "The quick brown fox jumps over the lazy dog.", "Portez ce vieux whisky au juge blond qui fume.",
  "Falsches Üben von Xylophonmusik quält jeden größeren Zwerg.", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
  "いろはにほへと ちりぬるを わかよたれそ つねならむ", "我能吞下玻璃而不伤身体。", "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.",
  "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า", "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر", "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
  "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले", "Τάχιστη αλώπηξ βαφής ψημένη γη, δρασκελίζει υπέρ νωθρού κυνός",
  "Pchnąć w tę łódź jeża lub ośm skrzyń fig.", "Příliš žluťoučký kůň úpěl ďábelské ódy.", "Tiếng Việt: Trăm năm trong cõi người ta.",
  "ጠቢብ ሰው ሰማይ", "ᚠᛇᚻ᛫ᛒᛦᚦ᛫ᚠᚱᚩᚠᚢᚱ᛫ᚠᛁᚱᚪ᛫ᚷᛖᚻᚹᛦᛚᚳᚢᛗ", "ঁআমি কাঁচ খেতে পারি", "நான் கண்ணாடி சாப்பிடுவேன்", "Mi povas manĝi vitron, ĝi ne damaĝas min.",
  "😀😃😄😁 👍🏻👍🏼👍🏽👍🏾👍🏿 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇺🇸 ❤️‍🔥 🧑🏽‍🚀", "e\u0301 o\u0308 a\u030a n\u0303 \u1100\u1161\u11a8", "𝐀𝐁𝐂 𝔄𝔅 𝕬 𝒜 ℌ ℍ",
  "\u{13460}\u{13461}'s \u{1E5D0}'t \u{10940}'re \u{323B0}'ll", "½ ⅓ ¼ Ⅳ ⅻ ① ⑳ ٠١٢٣ ०१२ ๑๒๓", "x² + y³ = z⁴; H₂O",
];
let m = "";
for (let i = 0; i < 4000; i++) m += pick(sentences) + pick([" ", "\n", "  ", "\r\n", "\t", ""]);
w("multilingual.txt", m);

const frags = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u3000", "\u00a0", "\u2009", "\u000b", "\u000c", "\u0085", "\u2028",
  "'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'Ll", "'d", "'D", "'\u017f", "'\u212a", "'x", "''",
  "123", "4567890", "٣٤٥", "Ⅻ", "½", "²", "hello", "World", "ÉCOLE", "naïve", "straße", "Привет", "日本語", "한국어", "ภาษา",
  "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "...", "!!", "?", "(", "{", "\"", "`", "\\", "e\u0301", "\u200d", "\ufeff", "\u0000", "\u001f", "\u007f",
  "𝔘𝔫", "𐍈", "<|endoftext|>", "#include", "->", "::", "\ufffd"];
for (let f = 0; f < 4; f++) {
  let s = "";
  for (let i = 0; i < 25000; i++) {
    const k = rnd();
    if (k < 0.7) s += pick(frags);
    else if (k < 0.8) s += " ".repeat(1 + Math.floor(rnd() * 40));
    else if (k < 0.85) s += "\n".repeat(1 + Math.floor(rnd() * 5)) + " ".repeat(Math.floor(rnd() * 9));
    else if (k < 0.9) s += String(Math.floor(rnd() * 1e15));
    else {
      let cp;
      do cp = Math.floor(rnd() * 0x110000); while (cp >= 0xd800 && cp <= 0xdfff);
      s += String.fromCodePoint(cp);
    }
  }
  w(`fuzz_${f}.txt`, s);
}

let a = " ".repeat(5000) + "x" + "\n".repeat(300) + " \n \r\n\t\t x" + " ".repeat(100) + "\t\n".repeat(50);
for (let i = 0; i < 3000; i++)
  a += pick(["IT'S", "WE'VE", "THEY'RE", "I'M", "YOU'LL", "HE'D", "DON'T", "it's", "O'Neil"]) + pick([" ", "  ", "\r\n", "\n\n", "\t"]) +
       "1234567890".slice(0, 1 + Math.floor(rnd() * 10)) + pick(["", " ", "   ", "\r", "\r\r\n"]);
w("adversarial.txt", a + "end   ");

w("long_char.txt", "a".repeat(20000));
w("long_word.txt", Array.from({ length: 20000 }, (_, i) => String.fromCharCode(97 + ((i * 7 + (i >> 2)) % 26))).join(""));
w("long_spaces.txt", " ".repeat(20000) + "x");
w("long_digits.txt", Array.from({ length: 20000 }, (_, i) => String((i * 7) % 10)).join(""));

const bad = [[0xff], [0xc0, 0xaf], [0xe2, 0x82], [0xe2, 0x28, 0xa1], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
  [0x80, 0x80], [0xc3], [0x20, 0xfe], [0x27, 0xff], [0xef, 0xbf, 0xbd], [0x61, 0x62, 0x63], [0x20, 0x77, 0x6f], [0x0a], [0x20, 0x20],
  [0x31, 0x32, 0x33], [0xc3, 0xa9], [0xe6, 0x97, 0xa5], [0xf0, 0x9f, 0x98, 0x80], [0x27, 0x73], [0xf8, 0x88, 0x80, 0x80, 0x80]];
for (let f = 0; f < 3; f++) {
  const b = [];
  for (let i = 0; i < 20000; i++) b.push(...pick(bad));
  w(`invalid_${f}.bin`, Buffer.from(b));
}
