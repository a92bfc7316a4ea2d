// Reference side of the tokenizer's differential test: writes test strings and the ids that
// the npm package gpt-3-encoder gives them, for dev/test/test_tokenizer.c to compare with
// llmc/tokenizer.h. Hand-picked hard cases first, then random strings drawn to hit the
// classes the pre-tokenizer distinguishes (letters, numbers, JavaScript whitespace, other),
// contractions, emoji, combining marks, and the comma pairs that gpt-3-encoder's merge table
// aliases.
//   node dev/test/tokenizer_cases.js NODE_MODULES UNICODE_CLASSES_H SEED COUNT > cases.txt
// Output, per case: "case <bytes>\n<UTF-8 text>\nids <id> <id> ...\n".
'use strict';
const fs = require('fs');
const path = require('path');
const [nodeModules, classesHeader, seedArg, countArg] = process.argv.slice(2);
if (!countArg) { process.stderr.write('usage: tokenizer_cases.js NODE_MODULES UNICODE_CLASSES_H SEED COUNT\n'); process.exit(2); }
const { encode } = require(path.resolve(nodeModules, 'gpt-3-encoder'));

// --- the table our tokenizer uses, against this engine's classes -----------------------
// Where they differ (another node with another Unicode version), those code points are left
// out of the random strings; with the same Unicode version they must not differ at all.
const header = fs.readFileSync(classesHeader, 'utf8');
const tableVersion = /UNICODE_CLASSES_VERSION "([^"]+)"/.exec(header)[1];
const CLASS_OF = { UCLASS_LETTER: 1, UCLASS_NUMBER: 2, UCLASS_SPACE: 3 };
const tableClass = new Uint8Array(0x110000);
for (const m of header.matchAll(/\{0x([0-9A-F]+), 0x([0-9A-F]+), (UCLASS_\w+)\}/g)) {
  for (let cp = parseInt(m[1], 16); cp <= parseInt(m[2], 16); cp++) tableClass[cp] = CLASS_OF[m[3]];
}
const excluded = new Set();
for (let cp = 0; cp <= 0x10FFFF; cp++) {
  if (cp >= 0xD800 && cp <= 0xDFFF) continue;
  const s = String.fromCodePoint(cp);
  const cls = /\p{L}/u.test(s) ? 1 : /\p{N}/u.test(s) ? 2 : /\s/u.test(s) ? 3 : 0;
  if (cls !== tableClass[cp]) excluded.add(cp);
}
if (excluded.size > 0) {
  if (process.versions.unicode === tableVersion) {
    process.stderr.write(`error: llmc/unicode_classes.h (Unicode ${tableVersion}) disagrees with this node (Unicode ${process.versions.unicode}) on ${excluded.size} code points, e.g. U+${[...excluded][0].toString(16)}\n`);
    process.exit(1);
  }
  process.stderr.write(`note: this node has Unicode ${process.versions.unicode}, the table ${tableVersion}: ` +
                       `${excluded.size} code points classed differently are left out of the random strings\n`);
}

// --- hand-picked cases ------------------------------------------------------------------
const fixed = [
  '', 'Hello world', 'Hello world!', ' Hello', '  Hello', 'Hello ', 'Hello  ', 'Hello\n', '\n', '\n\n', ' \n ', '   ',
  "I'm you're we've he'll she'd it's don't can't", "I'M YOU'RE IT'S", "'s", "''s", " 's", "'sa", "'x", "rock'n'roll",
  "’s ’t", "?'s", "'ll've", "ma'am's", "'",
  'a  b', 'a   b', 'a\tb', 'a \tb', 'a\t b', 'a\n\nb', 'a \n b', '  leading', 'trailing  ', 'x\r\ny', 'a\u000bb\u000cc',
  '\u00a0a', ' \u00a0a', 'a\u00a0\u00a0b', '\u3000x', '\ufeffx', 'x\u0085y', 'x\u180ey', 'x\u2028y', 'x\u200by', 'x \u2060y',
  '\u2000\u2001\u2002\u2003 a', '\t\t\tcode();', '    indented\n        more',
  'café naïve résumé', 'Ελληνικά κείμενα', 'Русский текст', '中文字符测试', '日本語のテキストです', '한국어 텍스트',
  'العربية نص', 'हिन्दी पाठ', 'e\u0301 e\u0301\u0301', 'ǅemal ʰa', '①②③ ½ x² Ⅻ ٣٤٥ １２３', 'ℌello ℵ0',
  '👍', '👍🏽', '👨‍👩‍👧', '🇺🇸🇩🇪', '❤️', 'a😀b', ' 😀😀', '😀 😀', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛',
  '123456789', '3.14159', '1,000,000', ' 42', 'a1b2c3', '2024-01-01T00:00:00Z', '0x1F600',
  '...', '!!!', ' ?!', '--', '—', '"hello"', '<|endoftext|>', 'http://example.com/a?b=c&d=e#f',
  '","', '},"', '],"', '),"', '"],"', '],[', "',\"", '.",""', "','", ' ,"', '.,"', '",",",",', '["a","b"],["c"]',
  "{'a','b'}", '"a","b","c"', 'x = [1,2],[3,4]', '(a),"b"',
  'a'.repeat(100), 'ab'.repeat(70), 'The'.repeat(40), '1'.repeat(100), '!'.repeat(80), ' '.repeat(100) + 'x',
  'Supercalifragilisticexpialidocious antidisestablishmentarianism',
];

// --- random strings -----------------------------------------------------------------------
let state = Number(seedArg) >>> 0;
function rand() { // mulberry32
  state = (state + 0x6D2B79F5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
function codePoint(cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || excluded.has(cp)) return '?';
  return String.fromCodePoint(cp);
}
const WORDS = ['the', 'The', 'of', 'and', 'United', 'States', 'Congress', 'whale', 'Ahab', 'a', 'I', 'x', 'ing', 'tion'];
const PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const SPACES = [' ', ' ', ' ', '  ', '\t', '\n', '\n\n', '\r\n', '\r', '\u000b', '\u000c', '\u00a0', '\u1680', '\u2000', '\u2005',
                '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u0085', '\u180e', '\u200b', '\u2060'];
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'x", "'", "''", "' s"];
const COMMAS = ['","', '},"', '],"', '),"', '"],"', '],[', "',\"", '.",', "','", ' ,"', '.,"', ',', '"'];
const BLOCKS = [[0x00C0, 0x024F], [0x0370, 0x03FF], [0x0400, 0x04FF], [0x0590, 0x06FF], [0x0900, 0x097F], [0x0E00, 0x0E7F],
                [0x1100, 0x11FF], [0x3040, 0x30FF], [0x4E00, 0x9FFF], [0xAC00, 0xD7A3], [0x0300, 0x036F], [0x2000, 0x206F],
                [0x2150, 0x218F], [0x2460, 0x24FF], [0xFF00, 0xFFEF], [0x1D400, 0x1D7FF], [0x10000, 0x1FFFF], [0x20000, 0x3134F]];
const EMOJI = ['\u{1F600}', '\u{1F44D}', '\u{1F3FD}', '\u200d', '\ufe0f', '\u{1F1FA}', '\u{1F1F8}', '\u2764', '\u{1F468}', '\u{1FAE0}'];
function atom() {
  const r = rand();
  if (r < 0.20) return pick(WORDS);
  if (r < 0.30) { let s = ''; for (let k = between(1, 8); k > 0; k--) s += String.fromCharCode(between(97, 122)); return s; }
  if (r < 0.37) return String(between(0, 99999));
  if (r < 0.47) return pick(PUNCT.split(''));
  if (r < 0.62) return pick(SPACES);
  if (r < 0.68) return pick(CONTRACTIONS);
  if (r < 0.73) return pick(COMMAS);
  if (r < 0.85) { const [lo, hi] = pick(BLOCKS); return codePoint(between(lo, hi)); }
  if (r < 0.92) return pick(EMOJI);
  if (r < 0.97) return codePoint(between(0x80, 0x10FFFF));
  return codePoint(between(0x80, 0x7FF));
}

function emit(text) {
  const bytes = Buffer.from(text, 'utf8');
  process.stdout.write(`case ${bytes.length}\n`);
  process.stdout.write(bytes);
  process.stdout.write(`\nids ${encode(text).join(' ')}\n`);
}

for (const s of fixed) emit(s);
const count = Number(countArg);
for (let i = 0; i < count; i++) {
  let s = '';
  for (let k = between(1, 30); k > 0; k--) s += atom();
  emit(s);
}
