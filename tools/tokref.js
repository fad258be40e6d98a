// Reference encodings from the Hugging Face tokenizers library (npm @anush008/tokenizers, which
// wraps its Rust core), for tools/gen_tokenizer_refs.py. Not part of the build or of make test.
//
// Usage: NODE_PATH=/tmp/tokref/node_modules node tools/tokref.js < job.json > result.json
//
// job.json: {"tokenizer": {"json": PATH}, "texts": [HEX...], "pairs": [[HEX, HEX]...],
//            "decode": [[ID...]...]}
// (GPT-2's encoder.json + vocab.bpe and BERT's vocab.txt are given to it as the tokenizer.json
// that transformers' converters build from them: see gen_tokenizer_refs.py.)
// Texts are hex-encoded bytes; they reach the library as JavaScript strings decoded with
// TextDecoder (invalid UTF-8 becomes U+FFFD per maximal subpart, as from_utf8_lossy does).
// For each text: ids with and without special tokens, type ids, character offsets, the decoded
// text of the ids without special tokens, and of the ids with special tokens skipped.
'use strict';
const tk = require('@anush008/tokenizers');
const fs = require('fs');

function build(spec) {
  if (spec.json) return tk.Tokenizer.fromFile(spec.json);
  throw new Error('unknown tokenizer spec');
}

const dec = new TextDecoder('utf-8', {ignoreBOM: true});  // keep a leading U+FEFF
const text = (hex) => dec.decode(Buffer.from(hex, 'hex'));
const hexOf = (s) => Buffer.from(s, 'utf8').toString('hex');

async function one(t, a, b) {
  const e = await t.encode(a, b, {addSpecialTokens: true});
  const n = await t.encode(a, b, {addSpecialTokens: false});
  const ids = e.getIds(), nids = n.getIds();
  return {
    ids: ids, ids_nosp: nids, type_ids: e.getTypeIds(), offsets: e.getOffsets(),
    decoded: hexOf(await t.decode(nids, false)), decoded_skip: hexOf(await t.decode(ids, true)),
  };
}

(async () => {
  const job = JSON.parse(fs.readFileSync(0, 'utf8'));
  const out = {};
  const t = build(job.tokenizer);
  out.vocab_size = t.getVocabSize(true);
  out.texts = [];
  for (const h of job.texts || []) out.texts.push(await one(t, text(h), null));
  out.pairs = [];
  for (const [x, y] of job.pairs || []) out.pairs.push(await one(t, text(x), text(y)));
  if (job.decode) {
    out.decodes = [];
    for (const ids of job.decode) out.decodes.push(hexOf(await t.decode(ids, false)));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
