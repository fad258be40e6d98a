#!/usr/bin/python3
"""Writes SQuAD fixtures scored by the official evaluation scripts themselves.

The scripts (evaluate-v1.1.py and evaluate-v2.0.py as published with SQuAD) are not part of
this repository; pass the folder that holds them:

    /usr/bin/python3 tools/gen_squad_refs.py /path/to/official-scripts tests/fixtures/eval

Writes squad_v1.json + squad_v1_pred.json (a v1.1 dataset with a missing prediction),
squad_v2.json + squad_v2_pred.json + squad_v2_na.json (a v2.0 dataset, predictions and
no-answer probabilities with ties), and squad_expected.json: normalize_answer of hard strings,
per-pair exact/F1 under both scripts, and the scripts' results (repr floats) for the files,
including v2.0 at two --na-prob-thresh values with and without the probabilities.
tests/unit/test_eval.c replays them.
"""
import collections
import importlib.util
import json
import os
import random
import sys


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


WORDS = ["the", "The", "THE", "a", "A", "an", "An", "and", "theatre", "another", "apple", "cat",
         "Denver", "Broncos", "Super", "Bowl", "50", "1,000", "3.5", "U.S.", "don't", "rock'n'roll",
         "café", "CAFÉ", "naïve", "Straße", "ΟΔΟΣ", "ΣΟΦΙΑΣ", "Σ", "ΑΣ.", "İstanbul", "東京",
         "e\u0301", "the\u0301", "_the_", "a_b", "(the)", "\"an\"", "x-the-y", "¿qué?", "–",
         "—", "…", "½", "Ⅻ", "²", "ǅ", "ℌ", "\u00ad"]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u2009", "\u3000", "\x1c", "\u200b", "\x85"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["«", "»", "¡", "“", "”"]


def text(rng, lo, hi):
    n = rng.randint(lo, hi)
    out = ""
    for i in range(n):
        w = rng.choice(WORDS)
        if rng.random() < 0.2:
            w = rng.choice(PUNCT) + w
        if rng.random() < 0.2:
            w = w + rng.choice(PUNCT)
        out += (rng.choice(SPACES) if i else "") + w
    if rng.random() < 0.15:
        out = rng.choice(SPACES) + out + rng.choice(SPACES)
    return out


def variant(rng, s):
    r = rng.random()
    if r < 0.25:
        return s
    if r < 0.4:
        return s.upper() if rng.random() < 0.5 else s.lower()
    if r < 0.55:
        return rng.choice(["The ", "a ", "", "an "]) + s + rng.choice(["", ".", "!", " the"])
    if r < 0.75:
        toks = s.split()
        rng.shuffle(toks)
        return " ".join(toks[: max(1, len(toks) - rng.randint(0, 2))])
    if r < 0.85:
        return ""
    return text(rng, 1, 5)


HARD = ["", " ", "The", "the cat", "A cat and an apple", "Theatre", "an", "a.", "the.", "(the)",
        "_the_", "x-the-y", "rock'n'roll", "U.S. Army", "1,000", "3.5%", "  lots \t of\nspace  ",
        "ΟΔΟΣ", "ΣΟΦΙΑΣ", "ΑΣ.", "Σ", "ΑΣ'Α", "Α\u0301Σ", "İstanbul", "Straße", "ǅemal",
        "the\u0301 cat", "e\u0301", "\u00a0a\u00a0b\u00a0", "a\u200bb", "a\x1cb\x85c", "¿Qué?",
        "THE ANSWER IS 42", "an_the", "東京 the 日本", "½ ² Ⅻ", "«the»", "A\u3000the\u3000B"]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    v1 = load(os.path.join(sys.argv[1], "evaluate-v1.1.py"), "squad_v1")
    v2 = load(os.path.join(sys.argv[1], "evaluate-v2.0.py"), "squad_v2")
    rng = random.Random(4321)
    norm = []
    for s in HARD + [text(rng, 0, 6) for _ in range(60)]:
        a, b = v1.normalize_answer(s), v2.normalize_answer(s)
        assert a == b
        norm.append([s, a])
    pairs = []
    for _ in range(80):
        g = text(rng, 0, 5)
        p = variant(rng, g)
        pairs.append([g, p, int(v1.exact_match_score(p, g)), repr(float(v1.f1_score(p, g))),
                      v2.compute_exact(g, p), repr(float(v2.compute_f1(g, p)))])

    def dataset(version, n_q, unanswerable):
        data, preds, na = [], collections.OrderedDict(), collections.OrderedDict()
        qid = 0
        for a in range(3):
            paragraphs = []
            for p in range(3):
                context = text(rng, 5, 20)
                qas = []
                for _ in range(n_q):
                    ident = "q%03d" % qid
                    qid += 1
                    if rng.random() < unanswerable:
                        answers = []
                    else:
                        answers = [{"text": text(rng, 1, 4), "answer_start": rng.randint(0, 50)}
                                   for _ in range(rng.randint(1, 3))]
                        if rng.random() < 0.1:
                            answers.append({"text": rng.choice(["the", "", " a "]),
                                            "answer_start": 0})
                    qas.append({"id": ident, "question": text(rng, 2, 6) + "?",
                                "answers": answers})
                    gold = answers[0]["text"] if answers else ""
                    preds[ident] = variant(rng, gold) if answers else rng.choice(
                        ["", "", "", text(rng, 1, 3)])
                    # informative but noisy, with ties: the threshold search has work to do
                    na[ident] = round(0.6 * rng.random() + (0.0 if answers else 0.4), 1)
                paragraphs.append({"context": context, "qas": qas})
            data.append({"title": "t%d" % a, "paragraphs": paragraphs})
        return {"version": version, "data": data}, preds, na

    d1, p1, _ = dataset("1.1", 5, 0.0)
    del p1["q007"]  # unanswered: scored 0 by v1.1
    d2, p2, na2 = dataset("v2.0", 6, 0.35)
    na2["zzz_not_in_data"] = 0.05  # ignored by find_best_thresh
    na2.move_to_end("q003", last=False)  # order matters for ties

    def v2_eval(dataset_json, preds, na_probs, thresh):
        data = dataset_json["data"]
        has_na = na_probs is not None
        if not has_na:
            na_probs = {k: 0.0 for k in preds}
        qid_to_has_ans = v2.make_qid_to_has_ans(data)
        has_ans = [k for k, v in qid_to_has_ans.items() if v]
        no_ans = [k for k, v in qid_to_has_ans.items() if not v]
        exact_raw, f1_raw = v2.get_raw_scores(data, preds)
        exact_t = v2.apply_no_ans_threshold(exact_raw, na_probs, qid_to_has_ans, thresh)
        f1_t = v2.apply_no_ans_threshold(f1_raw, na_probs, qid_to_has_ans, thresh)
        out = v2.make_eval_dict(exact_t, f1_t)
        if has_ans:
            v2.merge_eval(out, v2.make_eval_dict(exact_t, f1_t, qid_list=has_ans), "HasAns")
        if no_ans:
            v2.merge_eval(out, v2.make_eval_dict(exact_t, f1_t, qid_list=no_ans), "NoAns")
        if has_na:
            v2.find_all_best_thresh(out, preds, exact_raw, f1_raw, na_probs, qid_to_has_ans)
        return {k: repr(float(v)) for k, v in out.items()}

    r1 = v1.evaluate(d1["data"], p1)
    results = {
        "v1": {k: repr(float(v)) for k, v in r1.items()},
        "v2_plain": v2_eval(d2, p2, None, 1.0),
        "v2_na_1.0": v2_eval(d2, p2, na2, 1.0),
        "v2_na_0.5": v2_eval(d2, p2, na2, 0.5),
        # the v1.1 dataset under the v2.0 rules (every question has answers)
        "v1_as_v2": None,
    }
    p1_full = dict(p1)
    p1_full["q007"] = ""
    results["v1_as_v2"] = v2_eval(d1, p1_full, None, 1.0)
    out_dir = sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)

    def dump(name, obj):
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(obj, f, ensure_ascii=True, indent=0)
            f.write("\n")

    dump("squad_v1.json", d1)
    dump("squad_v1_pred.json", p1)
    dump("squad_v2.json", d2)
    dump("squad_v2_pred.json", p2)
    dump("squad_v2_na.json", na2)
    dump("squad_expected.json", {"magic": "cformer-squad-fixture-1", "normalize": norm,
                                 "pairs": pairs, "results": results})
    print("wrote", out_dir, json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
