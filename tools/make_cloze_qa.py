#!/usr/bin/env python3
"""Makes cloze-style extractive QA examples from unlabelled paragraphs (SQuAD JSON layout).

Self-supervised QA pretraining for a small encoder, after the cloze-translation and
span-selection pretraining ideas in the literature (Lewis et al. 2019, "Unsupervised Question
Answering by Cloze Translation"; Ram et al. 2021, "Few-Shot Question Answering by Pretraining
Span Selection"): a sentence of a paragraph becomes a question by replacing one span of it (a
number, a name, or else a content word) with a wh-word; the answer is that span, found in the
paragraph. Some of the question's other words are dropped and, for some examples, the answer
sentence is cut out of the context and the answer is another occurrence of the span elsewhere
in the paragraph, so that the model must match meaning and position rather than copy a string.
No labels are read: only paragraph texts (the contexts of a SQuAD file, so that the evaluation
articles can be kept out, and/or a text file with one paragraph per line).

  tools/make_cloze_qa.py --squad squad-train.json [--text corpus.txt] --per-paragraph 4 \
      --seed 1 --out cloze.json

With --drop 0 --cut 0 --front 0 the question is the sentence itself with the answer replaced
by the wh-word: the easy form, on which a small encoder learns to align a question with the
context (docs/BERT.md: without it, a 4 x 256 encoder's SQuAD fine-tuning never gets there).
--rounds N passes over the paragraphs N times, each drawing other sentences and answers.

Standard library only.
"""
import argparse
import json
import random
import re
import sys

STOP = set("""a an the and or but if of to in on at by for with from as is are was were be been
being it its this that these those he she they them his her their we our you your i me my not no
so than then there here which who whom whose what when where why how all any each both few more
most other some such only own same too very can will just do does did has have had into over under
again further once about against between through during before after above below up down out off
also would could should may might must shall one two new first last many much""".split())

SENT = re.compile(r"[^.!?]*(?:[.!?]+(?=\s|$)|$)")
YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b")
NUM = re.compile(r"(?:\$|£|€)?\b\d+(?:,\d{3})*(?:\.\d+)?(?:\s+(?:million|billion|thousand|hundred|percent)|%)?")
CAP = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:(?:of|the|de|von|van|and|for)\s+)?[A-Z][\w'’-]*)*")
WORD = re.compile(r"\b[a-zA-Z][a-z'-]{4,}\b")
NP = re.compile(r"\b(?:the|a|an|his|her|its|their)\s+((?:[a-z][a-z'-]+\s+){0,2}[a-z][a-z'-]{2,})\b")


def sentences(text):
    """(start, end) character spans of the sentences of text, trimmed of spaces."""
    out = []
    for m in SENT.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e - s >= 20:
            out.append((s, e))
    return out


def candidates(sent, first):
    """Answer spans inside one sentence, grouped by kind: a list of lists of (start, end, wh)
    (years, other numbers, names, common noun phrases); single content words when none."""
    years, nums, names, nps = [], [], [], []
    for m in YEAR.finditer(sent):
        years.append((m.start(), m.end(), "when"))
    for m in NUM.finditer(sent):
        if not YEAR.fullmatch(m.group()):
            nums.append((m.start(), m.end(), "how many"))
    for m in CAP.finditer(sent):
        if m.start() == first and " " not in m.group():
            continue  # a capitalised sentence opening says nothing about names
        if m.group().lower() in STOP:
            continue
        names.append((m.start(), m.end(), "what"))
    for m in NP.finditer(sent):
        words = m.group(1).split()
        while words and words[-1] in STOP:
            words.pop()
        if words and not any(w in STOP for w in words):
            a = m.start(1)
            nps.append((a, a + len(" ".join(words)), "what"))
    kinds = [k for k in (years, nums, names, nps) if k]
    if not kinds:
        words = [(m.start(), m.end(), "what") for m in WORD.finditer(sent)
                 if m.group().lower() not in STOP]
        kinds = [words] if words else []
    return kinds


def question(sent, a0, a1, wh, rng, drop, front):
    """The sentence with sent[a0:a1] replaced by wh (or, with front, the wh-word moved to the
    beginning and the gap left out, as questions are asked), a share of other words dropped."""
    left = sent[:a0].split()
    right = sent[a1:].split()

    def thin(words):
        return [w for w in words if rng.random() >= drop or w.lower() in ("not", "no")]

    if front:
        words = [wh] + thin(left) + thin(right)
    else:
        words = thin(left) + [wh] + thin(right)
    q = " ".join(words).rstrip(" .!?;:,")
    return q[:1].upper() + q[1:] + "?"


def trim(context, start, n, max_chars, rng):
    """The whole sentences of context around [start, start + n) that fit in max_chars, grown
    on a random side first; returns the text and the answer's new start."""
    spans = sentences(context) or [(0, len(context))]
    k = next((i for i, (s, e) in enumerate(spans) if s <= start < e), None)
    if k is None:
        return context, start
    lo = hi = k
    left = rng.random() < 0.5
    while True:
        grown = False
        for side in ((0, 1) if left else (1, 0)):
            if side == 0 and lo > 0 and spans[hi][1] - spans[lo - 1][0] <= max_chars:
                lo -= 1
                grown = True
            elif side == 1 and hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= max_chars:
                hi += 1
                grown = True
        if not grown:
            break
    a, b = spans[lo][0], max(spans[hi][1], start + n)
    return context[a:b], start - a


def examples(ctx, rng, per_par, drop, cut_share, ids, max_chars, front):
    spans = sentences(ctx)
    if len(spans) < 2:
        return []
    rng.shuffle(spans)
    out = []
    for s, e in spans[: per_par]:
        sent = ctx[s:e]
        first = len(sent) - len(sent.lstrip())
        kinds = candidates(sent, first)
        if not kinds:
            continue
        a0, a1, wh = rng.choice(rng.choice(kinds))
        ans = sent[a0:a1].strip(" ,;:")
        if len(ans) < 2:
            continue
        a0 = sent.index(ans, a0)
        q = question(sent, a0, a0 + len(ans), wh, rng, drop, rng.random() < front)
        if not 4 <= len(q.split()) <= 24:
            continue
        context, start = ctx, s + a0
        if rng.random() < cut_share:
            rest = ctx[:s] + ctx[e:]
            others = [m.start() for m in re.finditer(re.escape(ans), rest)]
            if others:  # the span recurs: answer from the other occurrence, the sentence gone
                context, start = rest, rng.choice(others)
        if max_chars and len(context) > max_chars:
            context, start = trim(context, start, len(ans), max_chars, rng)
        assert context[start:start + len(ans)] == ans
        ids[0] += 1
        out.append((context, [{"id": f"cloze{ids[0]}", "question": q,
                                "answers": [{"text": ans, "answer_start": start}]}]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", action="append", default=[], help="SQuAD JSON whose contexts are used")
    ap.add_argument("--text", action="append", default=[], help="text file, one paragraph per line")
    ap.add_argument("--min-chars", type=int, default=250, help="shortest --text paragraph used")
    ap.add_argument("--per-paragraph", type=int, default=4, help="questions per paragraph at most")
    ap.add_argument("--drop", type=float, default=0.2, help="share of question words dropped")
    ap.add_argument("--cut", type=float, default=0.3,
                    help="share of examples whose answer sentence is cut from the context")
    ap.add_argument("--max-context-chars", type=int, default=0,
                    help="cut contexts to the sentences around the answer that fit (0: whole)")
    ap.add_argument("--front", type=float, default=0.5,
                    help="share of questions with the wh-word moved to the front")
    ap.add_argument("--rounds", type=int, default=1,
                    help="passes over the paragraphs, each drawing new sentences and answers")
    ap.add_argument("--max", type=int, default=0, help="stop after this many examples (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ctxs = []
    for path in a.squad:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        ctxs += [p["context"] for art in d["data"] for p in art["paragraphs"]]
    for path in a.text:
        with open(path, encoding="utf-8") as f:
            ctxs += [ln.strip() for ln in f if len(ln.strip()) >= a.min_chars]
    def passes():  # each round reshuffles the paragraphs when it starts
        for _ in range(a.rounds):
            rng.shuffle(ctxs)
            yield from ctxs

    paras, ids = [], [0]
    for ctx in passes():
        paras += [{"context": context, "qas": qas} for context, qas in
                  examples(ctx, rng, a.per_paragraph, a.drop, a.cut, ids, a.max_context_chars,
                           a.front)]
        if a.max and len(paras) >= a.max:
            break
    rng.shuffle(paras)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump({"version": "1.1", "data": [{"title": "cloze", "paragraphs": paras}]}, f,
                  ensure_ascii=False)
    print(f"{a.out}: {len(paras)} cloze questions from {len(ctxs)} paragraphs", file=sys.stderr)


if __name__ == "__main__":
    main()
