#!/usr/bin/env python3
"""Splits a SQuAD JSON file by article (never by question) into a training and an evaluation file.

SQuAD v1.1 has no training split on the development machines (only the dev file), so cformer's
QA demo fine-tunes on some dev articles and reports EM/F1 on the others. The split is a seeded
shuffle of the article titles: --eval-articles N of them go to the evaluation file, the rest to
the training file. Both keep the official layout ("version", "data") so the official scorer and
`cformer qa --eval` read them unchanged. Standard library only.

  tools/squad_split.py dev-v1.1.json[.gz] --eval-articles 10 --seed 1 --train T.json --eval E.json
"""
import argparse
import gzip
import json
import random
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("squad")
    ap.add_argument("--eval-articles", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train", required=True)
    ap.add_argument("--eval", required=True)
    a = ap.parse_args()
    opener = gzip.open if a.squad.endswith(".gz") else open
    with opener(a.squad, "rt", encoding="utf-8") as f:
        d = json.load(f)
    arts = d["data"]
    if not 0 < a.eval_articles < len(arts):
        sys.exit(f"squad_split: --eval-articles must be in [1, {len(arts) - 1}]")
    order = list(range(len(arts)))
    random.Random(a.seed).shuffle(order)
    ev = sorted(order[: a.eval_articles])
    tr = sorted(order[a.eval_articles:])
    for path, idx in ((a.train, tr), (a.eval, ev)):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"version": d.get("version", "1.1"), "data": [arts[i] for i in idx]}, f,
                      ensure_ascii=False)
        nq = sum(len(p["qas"]) for i in idx for p in arts[i]["paragraphs"])
        print(f"{path}: {len(idx)} articles, {nq} questions", file=sys.stderr)
    print("eval articles: " + ", ".join(arts[i]["title"] for i in ev), file=sys.stderr)


if __name__ == "__main__":
    main()
