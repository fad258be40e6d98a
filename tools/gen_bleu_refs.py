#!/usr/bin/python3
"""Writes tests/fixtures/eval/bleu_sacrebleu.json: random corpora scored by sacreBLEU itself.

sacreBLEU is not installed here; it is imported from a source checkout outside this repository
(the folder that holds the `sacrebleu` package), without its package __init__ (which pulls in
the dataset downloader) and with stand-ins for the modules only that downloader needs:

    /usr/bin/python3 tools/gen_bleu_refs.py /path/to/sacrebleu-checkout tests/fixtures/eval

Each corpus records the hypotheses, references, whether -lc was used, sacreBLEU's statistics
(counts, totals, sys_len, ref_len), its score (repr, full precision), its printed score line,
and the 13a tokenization of every line. tests/unit/test_eval.c replays them.
"""
import json
import os
import random
import sys
import types


def load_sacrebleu(root):
    pkg = types.ModuleType("sacrebleu")
    pkg.__path__ = [os.path.join(root, "sacrebleu")]
    sys.modules["sacrebleu"] = pkg
    ver = types.ModuleType("sacrebleu.version")
    ver.__version__ = "2.6.0"
    sys.modules["sacrebleu.version"] = ver
    # used only by the test-set downloader and its XML reader
    for name in ("portalocker", "tabulate", "lxml", "lxml.etree"):
        stub = types.ModuleType(name)
        stub.tabulate = None
        stub.etree = None
        sys.modules.setdefault(name, stub)
    from sacrebleu.metrics.bleu import BLEU  # noqa: E402
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a  # noqa: E402
    return BLEU, Tokenizer13a


WORDS = ("the a cat dog sat on mat house big small red quick brown fox jumps over lazy "
         "Hello World It's don't U.S. e.g. Mr. co-operate state-of-the-art New-York "
         "café naïve Straße ÉCOLE ΣΟΦΙΑ Οδυσσεύς 東京 日本語 😀 İstanbul").split()
PUNCT = list(".,;:!?\"'()[]{}<>/\\@#$%^&*+=|~`_-") + ["...", "--", "—", "–", "“", "”", "«", "»"]
NUMBERS = ["3.5", "1,000", "2-3", "10-", "-5", "0.25", "1.000,5", "42", "1990s", "3.", ",7",
           "4,", "5--6", "9.9.9"]
ENTITIES = ["&amp;", "&quot;", "&lt;", "&gt;", "&amp;amp;", "&apos;", "&#39;", "AT&T", "&",
            "<skipped>", "a<skipped>b", "-"]
SPACES = [" ", " ", " ", " ", "  ", "\t", "\u00a0", "\u2009", "\u3000", "\x1c"]


def token(rng):
    r = rng.random()
    if r < 0.55:
        return rng.choice(WORDS)
    if r < 0.72:
        return rng.choice(PUNCT)
    if r < 0.86:
        return rng.choice(NUMBERS)
    return rng.choice(ENTITIES)


def sentence(rng, n):
    out = []
    for _ in range(n):
        t = token(rng)
        if out and rng.random() < 0.15:  # glue to the previous token
            out[-1] += t
        else:
            out.append(t)
    s = ""
    for i, t in enumerate(out):
        s += (rng.choice(SPACES) if i else "") + t
    if rng.random() < 0.2:
        s += rng.choice([" ", "  ", "\t", " \u00a0"])
    if rng.random() < 0.1:
        s = rng.choice([" ", "\t"]) + s
    return s


def perturb(rng, s):
    toks = s.split(" ")
    out = []
    for t in toks:
        r = rng.random()
        if r < 0.12:
            continue
        if r < 0.22:
            out.append(token(rng))
        elif r < 0.27:
            out.extend([t, token(rng)])
        else:
            out.append(t)
    if rng.random() < 0.1 and len(out) > 3:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    BLEU, Tok = load_sacrebleu(sys.argv[1])
    rng = random.Random(1234)
    tok = Tok()
    corpora = []
    # (lines, refs, lowercase, style): style 0 related text, 1 unrelated, 2 short hypotheses
    plans = [(1, 1, False, 0), (3, 1, False, 0), (40, 1, False, 0), (60, 1, False, 0),
             (25, 2, False, 0), (30, 3, False, 0), (20, 1, True, 0), (15, 2, True, 0),
             (10, 1, False, 1), (12, 1, False, 2), (50, 1, False, 0), (25, 4, False, 0),
             (8, 1, False, 2), (5, 2, False, 1)]
    for lines, n_refs, lc, style in plans:
        refs = [[] for _ in range(n_refs)]
        hyps = []
        for _ in range(lines):
            base = sentence(rng, rng.randint(1, 18))
            for r in range(n_refs):
                refs[r].append(base if r == 0 else perturb(rng, base))
            if style == 1:
                hyps.append(sentence(rng, rng.randint(0, 6)))
            elif style == 2:
                h = base.split(" ")
                hyps.append(" ".join(h[: max(1, len(h) // 3)]))
            else:
                hyps.append(perturb(rng, base))
        bleu = BLEU(lowercase=lc)
        score = bleu.corpus_score(hyps, refs)
        corpora.append({
            "lowercase": lc,
            "hyps": hyps,
            "refs": refs,
            "score": repr(score.score),
            "line": format(score),
            "counts": list(score.counts),
            "totals": list(score.totals),
            "sys_len": score.sys_len,
            "ref_len": score.ref_len,
            "tok_hyps": [tok((h.lower() if lc else h).rstrip()) for h in hyps],
        })
    out = {"magic": "cformer-bleu-fixture-1", "sacrebleu": "2.6.0", "corpora": corpora}
    path = os.path.join(sys.argv[2], "bleu_sacrebleu.json")
    os.makedirs(sys.argv[2], exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=True, indent=0)
        f.write("\n")
    print(f"wrote {path}: {len(corpora)} corpora, "
          f"{sum(len(c['hyps']) for c in corpora)} segments")


if __name__ == "__main__":
    main()
