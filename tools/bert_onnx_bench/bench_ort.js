#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node) on the BERT-base classifier that bert_torch.py exported, for
// the comparison with build/bench_bert (issue 4). Prints sentences/s at batch 1 and batch B,
// best of R rounds after a warm-up (batch 1: a round is 8 sentences one after the other), with
// intraOpNumThreads = N, interOpNumThreads = 1, sequential execution and every graph
// optimisation on (ORT's defaults for a CPU session otherwise).
//
//   ORT_NODE=DIR/node_modules/onnxruntime-node node bench_ort.js OUT [--threads N]
//       [--batch B] [--rounds R] [--seq T] [--check]
//
// OUT is bert_torch.py's output folder (OUT/bert.onnx, OUT/check.txt). --check runs the padded
// batch of OUT/check.txt and prints the largest |ORT - torch| logit difference (--rounds 0:
// nothing else).
// onnxruntime-node is installed outside the repository, e.g.
//   mkdir -p ~/.cache/cf_ort && cd ~/.cache/cf_ort &&
//   ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const ortPath = process.env.ORT_NODE ||
    path.join(os.homedir(), '.cache/cf_ort/node_modules/onnxruntime-node');
const ort = require(ortPath);

function args() {
  const a = {out: null, threads: 2, batch: 32, rounds: 3, seq: 128, check: false};
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '--check') a.check = true;
    else if (v[i].startsWith('--')) a[v[i].slice(2)] = parseInt(v[++i], 10);
    else a.out = v[i];
  }
  if (!a.out) {
    console.error('usage: bench_ort.js OUT [--threads N] [--batch B] [--rounds R] [--check]');
    process.exit(2);
  }
  return a;
}

function feeds(ids, types, mask, B, T) {
  const t = (x) => new ort.Tensor('int64', BigInt64Array.from(x, BigInt), [B, T]);
  return {input_ids: t(ids), token_type_ids: t(types), attention_mask: t(mask)};
}

async function check(sess, file) {
  const w = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
  const [B, T] = w, n = B * T;
  const ids = w.slice(2, 2 + n), types = w.slice(2 + n, 2 + 2 * n);
  const mask = w.slice(2 + 2 * n, 2 + 3 * n), ref = w.slice(2 + 3 * n);
  const got = (await sess.run(feeds(ids, types, mask, B, T))).logits.data;
  let d = 0;
  for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(got[i] - ref[i]));
  console.log(`  check ${file}: ${B} x ${T}, logits max |ORT - torch| = ${d.toExponential(2)}`);
}

async function main() {
  const a = args();
  const sess = await ort.InferenceSession.create(path.join(a.out, 'bert.onnx'), {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  console.log(`onnxruntime-node ${require(path.join(ortPath, 'package.json')).version}, ` +
              `${a.threads} threads, T=${a.seq}, ${os.cpus()[0].model}`);
  if (a.check) await check(sess, path.join(a.out, 'check.txt'));
  if (a.rounds < 1) return;  // --rounds 0: the check only
  const T = a.seq, nb = Math.max(a.batch, 8);
  const ids = [];
  for (let i = 0; i < nb * T; i++)  // same id pattern as build/bench_bert
    ids.push(i % T === 0 ? 101 : i % T === T - 1 ? 102 : 1000 + Number((BigInt(i) * 2654435761n) % 28000n));
  for (const B of a.batch > 1 ? [1, a.batch] : [1]) {
    const calls = B === 1 ? 8 : 1;
    const f = [];
    for (let c = 0; c < calls; c++) {
      const s = ids.slice(c * T * B, (c + 1) * T * B);
      f.push(feeds(s, new Array(B * T).fill(0), new Array(B * T).fill(1), B, T));
    }
    let best = 0;
    for (let r = 0; r <= a.rounds; r++) {
      const t0 = process.hrtime.bigint();
      for (let c = 0; c < calls; c++) await sess.run(f[c]);
      const rate = calls * B / (Number(process.hrtime.bigint() - t0) / 1e9);
      if (r > 0) best = Math.max(best, rate);
    }
    console.log(`  ORT inference batch ${String(B).padEnd(3)} ${best.toFixed(2).padStart(7)} sentences/s`);
  }
  console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

main().catch((e) => { console.error(e); process.exit(1); });
