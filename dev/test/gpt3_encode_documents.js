// Reference side of the whole-corpus test: encodes every document of a document file (the
// layout dev/data/extract_documents.js writes) with the npm package gpt-3-encoder and writes
// the ids as raw uint16, each document preceded by <|endoftext|> (50256), the same token
// stream that tokenize_documents --tokens writes after its 1024-byte header.
//   node dev/test/gpt3_encode_documents.js NODE_MODULES IN.docs OUT.u16
'use strict';
const fs = require('fs');
const path = require('path');
const [nodeModules, inPath, outPath] = process.argv.slice(2);
if (!outPath) { process.stderr.write('usage: gpt3_encode_documents.js NODE_MODULES IN.docs OUT.u16\n'); process.exit(2); }
const { encode } = require(path.resolve(nodeModules, 'gpt-3-encoder'));
const buf = fs.readFileSync(inPath);
if (buf.toString('latin1', 0, 8) !== 'BSDOCS1\n') { process.stderr.write(`${inPath}: not a document file\n`); process.exit(1); }
const count = buf.readUInt32LE(8);
const out = [];
let pos = 12, tokens = 0;
const t0 = process.hrtime.bigint();
let bytes = 0;
for (let i = 0; i < count; i++) {
  const idLen = buf.readUInt32LE(pos + 4), textLen = buf.readUInt32LE(pos + 8);
  const text = buf.toString('utf8', pos + 12 + idLen, pos + 12 + idLen + textLen);
  pos += 12 + idLen + textLen;
  bytes += textLen;
  const ids = encode(text);
  const chunk = new Uint16Array(ids.length + 1);
  chunk[0] = 50256;
  for (let k = 0; k < ids.length; k++) chunk[k + 1] = ids[k];
  out.push(Buffer.from(chunk.buffer));
  tokens += chunk.length;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
fs.writeFileSync(outPath, Buffer.concat(out));
process.stdout.write(`gpt-3-encoder: ${count} documents, ${tokens} tokens, ${bytes} bytes in ${seconds.toFixed(1)} s (${(bytes / 1e6 / seconds).toFixed(2)} MB/s)\n`);
