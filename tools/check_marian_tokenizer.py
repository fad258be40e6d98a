#!/usr/bin/python3
"""Checks a Marian folder's tokenizer files against the reference SentencePiece library
(Debian python3-sentencepiece): source.spm / target.spm must load there, encode each line of a
text file into the same model ids as cformer (pieces through vocab.json, <unk> for unknown
pieces, </s> appended) and decode those ids back to the line.

    build/bench_translate --model DIR --src FILE.en --tgt FILE.de --dump-ids /tmp/ids.txt
    /usr/bin/python3 tools/check_marian_tokenizer.py DIR FILE.en /tmp/ids.txt \
        [FILE.de /tmp/ids.txt.tgt]

Prints the number of lines whose ids or round trip differ (0 and 0 when all agree); exit 1 when
any differs.
"""
import json
import os
import sys

import sentencepiece as spm


def check(folder, side, text_path, ids_path):
    sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, side))
    vocab = json.load(open(os.path.join(folder, "vocab.json"), encoding="utf-8"))
    inv = {v: k for k, v in vocab.items()}
    lines = open(text_path, encoding="utf-8").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    got = [[int(x) for x in line.split()] for line in open(ids_path)]
    bad_ids = bad_text = 0
    for line, ids in zip(lines, got):
        want = [vocab.get(p, vocab["<unk>"]) for p in sp.encode(line, out_type=str)]
        want.append(vocab["</s>"])
        bad_ids += want != ids
        bad_text += sp.decode_pieces([inv[i] for i in ids[:-1]]) != line
    print(f"{side} on {text_path}: {len(lines)} lines ({len(got)} from cformer), ids differ on "
          f"{bad_ids}, round trip differs on {bad_text}")
    return len(lines) == len(got) and bad_ids == 0 and bad_text == 0


def main():
    if len(sys.argv) not in (4, 6):
        sys.exit(__doc__)
    ok = check(sys.argv[1], "source.spm", sys.argv[2], sys.argv[3])
    if len(sys.argv) == 6:
        ok &= check(sys.argv[1], "target.spm", sys.argv[4], sys.argv[5])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
