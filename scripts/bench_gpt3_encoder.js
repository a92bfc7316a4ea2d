// Times the npm package gpt-3-encoder on the documents of a document file (.cache/docs),
// encoding document by document as a data pipeline would; prints MB/s per run and the
// median. With --write-text PATH it only writes the documents' text, one after another,
// for ./tokenizer bench to time on the same bytes.
//   node scripts/bench_gpt3_encoder.js NODE_MODULES DOCS RUNS | --write-text PATH
'use strict';
const fs = require('fs');
const path = require('path');
const [nodeModules, docsPath, runsArg, textPath] = process.argv.slice(2);
const buf = fs.readFileSync(docsPath);
const texts = [];
for (let i = 0, pos = 12, n = buf.readUInt32LE(8); i < n; i++) {
  const idLen = buf.readUInt32LE(pos + 4), textLen = buf.readUInt32LE(pos + 8);
  texts.push(buf.toString('utf8', pos + 12 + idLen, pos + 12 + idLen + textLen));
  pos += 12 + idLen + textLen;
}
if (runsArg === '--write-text') {
  fs.writeFileSync(textPath, texts.join(''));
  process.exit(0);
}
const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
// a fresh process per run would also time loading; instead each run gets a fresh module
// (gpt-3-encoder's cache is module state), so every run starts cold, like ours
const rates = [];
for (let r = 0; r < Number(runsArg); r++) {
  const file = require.resolve(path.resolve(nodeModules, 'gpt-3-encoder/Encoder.js'));
  delete require.cache[file];
  const { encode } = require(file);
  const t0 = process.hrtime.bigint();
  let tokens = 0;
  for (const t of texts) tokens += encode(t).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  rates.push(bytes / 1e6 / s);
  console.log(`run ${r + 1}: ${bytes} bytes -> ${tokens} tokens in ${s.toFixed(2)} s, ${(bytes / 1e6 / s).toFixed(2)} MB/s`);
}
rates.sort((a, b) => a - b);
console.log(`median: ${rates[Math.floor(rates.length / 2)].toFixed(2)} MB/s over ${rates.length} runs`);
