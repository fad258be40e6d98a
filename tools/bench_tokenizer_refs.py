#!/usr/bin/env python3
"""Tokenizer encode speed, side by side: cformer (build/bench_tokenize) and the references on
the same text and machine, one thread, every line encoded in turn.

Usage (after make bench, tools/fetch_tokenizer_vocabs.sh, and node's tokenizers in /tmp/tokref):

    /usr/bin/python3 tools/bench_tokenizer_refs.py [DATA_DIR] [SPM_MODEL]

DATA_DIR holds the texts it builds the benchmark files from (default /work/shared/data):
  en.txt     English: tinyshakespeare, then SST-2 and AG News sentences (about 4 MB)
  mixed.txt  mixed scripts: Multi30k's English, German, French and Czech captions interleaved
             with lines of the hard-text corpus's languages and seeded random text from many
             scripts (CJK, Arabic, Hebrew, Devanagari, Thai, Hangul, emoji; about 4 MB)
Both are written to /tmp/cf_tokbench. SPM_MODEL is the SentencePiece model to time (default:
tests/fixtures/tokenizers/spm_bpe_bytefallback.model and, when present,
DATA_DIR/tokenizers/spm_test_model.model).

References: Hugging Face tokenizers through node (@anush008/tokenizers, Rust core; one await
per line, RAYON_NUM_THREADS=1), python3-sentencepiece (EncodeAsIds per line, and the batch call
with num_threads=1). Prints a Markdown table of MB/s.
"""

import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import gen_tokenizer_refs as g  # noqa: E402

OUT = "/tmp/cf_tokbench"
CACHE = g.CACHE
NODE_BENCH = r"""
const tk = require('@anush008/tokenizers');
const fs = require('fs');
const [path, file, rounds] = process.argv.slice(2);
const t = tk.Tokenizer.fromFile(path);
const lines = fs.readFileSync(file, 'utf8').split(/(?<=\n)/);
const bytes = Buffer.byteLength(lines.join(''), 'utf8');
(async () => {
  let best = 1e30, ntok = 0;
  for (let r = 0; r <= Number(rounds); r++) {
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (const l of lines) n += (await t.encode(l, null, {addSpecialTokens: false})).getLength();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r > 0 && dt < best) best = dt;
    ntok = n;
  }
  console.log(JSON.stringify({mbs: bytes / 1e6 / best, tokens: ntok}));
})();
"""


def make_texts(data):
    os.makedirs(OUT, exist_ok=True)
    en = open(os.path.join(data, "tinyshakespeare", "input.txt"), encoding="utf-8").read()
    for f in ["sst2/train.tsv", "agnews/dev.tsv", "agnews/test.tsv"]:
        for line in open(os.path.join(data, f), encoding="utf-8"):
            en += line.split("\t", 1)[-1]
    en = en[:4_000_000]
    rng = random.Random(3)
    caps = []
    for lang in ["en", "de", "fr", "cs"]:
        caps.append(open(os.path.join(data, "multi30k", "train." + lang), encoding="utf-8")
                    .read().split("\n"))
    corpus = [b.decode("utf-8", "replace").replace("\n", " ") for b in g.hard_corpus()]
    mixed, size = [], 0
    i = 0
    while size < 4_000_000:
        for c in caps:
            mixed.append(c[i % len(c)])
        words = (g.SENTENCES[rng.randrange(len(g.SENTENCES))] + " " +
                 corpus[rng.randrange(len(corpus))]).split(" ")
        rng.shuffle(words)
        mixed.append(" ".join(words))
        size += sum(len(x.encode()) + 1 for x in mixed[-5:])
        i += 1
    with open(os.path.join(OUT, "en.txt"), "w", encoding="utf-8") as f:
        f.write(en)
    with open(os.path.join(OUT, "mixed.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(mixed) + "\n")


def cformer(tok, text):
    r = subprocess.run([os.path.join(ROOT, "build", "bench_tokenize"), tok, text, "3"],
                       capture_output=True, text=True, check=True)
    return float(r.stdout.split(": ")[1].split(" MB/s")[0])


def node(tok_json, text):
    env = dict(os.environ, NODE_PATH=g.NODE_MODULES, RAYON_NUM_THREADS="1",
               RAYON_RS_NUM_CPUS="1", TOKENIZERS_PARALLELISM="false", UV_THREADPOOL_SIZE="1")
    script = os.path.join(OUT, "bench.js")
    with open(script, "w") as f:
        f.write(NODE_BENCH)
    r = subprocess.run(["node", script, tok_json, text, "2"], capture_output=True,
                       text=True, env=env)
    if r.returncode:
        sys.exit("node failed: " + r.stderr[-2000:])
    return json.loads(r.stdout)["mbs"]


def spm_python(model, text):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=model)
    lines = open(text, "rb").read().split(b"\n")
    nbytes = sum(len(x) + 1 for x in lines)
    best_loop = best_batch = 1e30
    for r in range(3):
        t0 = time.perf_counter()
        for line in lines:
            sp.EncodeAsIds(line)
        t1 = time.perf_counter()
        sp.encode(lines, num_threads=1)
        t2 = time.perf_counter()
        if r:
            best_loop, best_batch = min(best_loop, t1 - t0), min(best_batch, t2 - t1)
    return nbytes / 1e6 / best_loop, nbytes / 1e6 / best_batch


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"
    make_texts(data)
    texts = [os.path.join(OUT, "en.txt"), os.path.join(OUT, "mixed.txt")]
    rows = []
    tmp = os.path.join(OUT, "json")
    os.makedirs(tmp, exist_ok=True)
    enc, bpe = os.path.join(CACHE, "encoder.json"), os.path.join(CACHE, "vocab.bpe")
    vtxt = os.path.join(CACHE, "bert-base-uncased-vocab.txt")
    if os.path.exists(enc):
        jp = os.path.join(tmp, "gpt2.json")
        g.gpt2_files_to_json(enc, bpe, jp)
        rows.append(("GPT-2 byte-level BPE (encoder.json + vocab.bpe)", enc, jp, None))
    if os.path.exists(vtxt):
        jp = os.path.join(tmp, "bert.json")
        g.vocab_txt_to_json(vtxt, True, jp)
        rows.append(("BERT WordPiece, bert-base-uncased (vocab.txt)", vtxt, jp, None))
    models = [os.path.join(g.FIX, "spm_bpe_bytefallback.model")]
    if len(sys.argv) > 2:
        models = [sys.argv[2]]
    elif os.path.exists(os.path.join(data, "tokenizers", "spm_test_model.model")):
        models.append(os.path.join(data, "tokenizers", "spm_test_model.model"))
    for m in models:
        rows.append(("SentencePiece " + os.path.basename(m), m, None, m))
    print("| tokenizer | text | cformer MB/s | reference MB/s | reference | ratio |")
    print("|---|---|---|---|---|---|")
    for name, ctok, jp, model in rows:
        for text in texts:
            c = cformer(ctok, text)
            if jp:
                ref, who = node(jp, text), "HF tokenizers (node)"
            else:
                loop, batch = spm_python(model, text)
                ref, who = max(loop, batch), "sentencepiece (python, best of per-line / batch)"
            print("| %s | %s | %.1f | %.2f | %s | %.1fx |" % (name, os.path.basename(text), c,
                                                            ref, who, c / ref), flush=True)


if __name__ == "__main__":
    main()
