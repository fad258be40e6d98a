#!/usr/bin/env python3
"""Runs cformer's masked-LM pretraining recipe in PyTorch, to compare learning speed.

The same model as `cformer train --task mlm` builds (BERT embeddings with an embedding
LayerNorm, post-norm blocks with exact GELU, the MLM head with its decoder tied to the word
embeddings), the same data preparation (the corpus's lines WordPiece-tokenized and packed into
[CLS] chunk [SEP] sequences of --max-len tokens, the last 1 % (at most 500) held out), BERT's
80/10/10 masking of 15 % of the tokens, AdamW with linear warmup and cosine decay. It prints the
held-out masked-LM loss every --eval-every steps, as cformer does, so the two curves can be set
side by side (docs/BERT.md, "The optimizer setting ...").

  /usr/bin/python3 tools/mlm_recipe_torch.py --data corpus.txt --vocab vocab.txt --layers 2 \
      --width 128 --max-len 64 --steps 3000 --lr 1e-3 --threads 1

Run it with the fast BLAS: LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp
OPENBLAS_CORETYPE=SkylakeX. The WordPiece tokenizer here is a plain Python version of BERT's
uncased one (lower-casing, accents stripped, punctuation split, greedy longest match).
"""
import argparse
import math
import random
import time
import unicodedata

import torch
import torch.nn as nn


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_tokens(text):
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    out, cur = [], ""
    for ch in text:
        if ch.isspace() or is_punct(ch):
            if cur:
                out.append(cur)
                cur = ""
            if not ch.isspace():
                out.append(ch)
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def wordpiece(word, w2i, unk):
    if len(word) > 100:
        return [unk]
    res, s = [], 0
    while s < len(word):
        e, found = len(word), None
        while s < e:
            sub = word[s:e] if s == 0 else "##" + word[s:e]
            if sub in w2i:
                found = w2i[sub]
                break
            e -= 1
        if found is None:
            return [unk]
        res.append(found)
        s = e
    return res


class Bert(nn.Module):
    def __init__(self, V, C, L, H, P):
        super().__init__()
        self.wte, self.wpe, self.wtt = nn.Embedding(V, C), nn.Embedding(P, C), nn.Embedding(2, C)
        self.ln = nn.LayerNorm(C, eps=1e-12)
        layer = nn.TransformerEncoderLayer(C, H, 4 * C, 0.0, "gelu", batch_first=True,
                                           norm_first=False, layer_norm_eps=1e-12)
        self.enc = nn.TransformerEncoder(layer, L)
        self.dense, self.ln2 = nn.Linear(C, C), nn.LayerNorm(C, eps=1e-12)
        self.bias = nn.Parameter(torch.zeros(V))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, 0, 0.02)

    def forward(self, x, sel):
        pos = torch.arange(x.shape[1])
        h = self.ln(self.wte(x) + self.wpe(pos)[None] + self.wtt(torch.zeros_like(x)))
        h = self.enc(h)[sel]
        h = self.ln2(nn.functional.gelu(self.dense(h)))
        return h @ self.wte.weight.T + self.bias


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--vocab", required=True, help="BERT vocab.txt")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=0, help="default: width / 64")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--mask-prob", type=float, default=0.15)
    ap.add_argument("--zero-biases", action="store_true",
                    help="zero every bias after initialisation (cformer, transformers' BERT); "
                         "default: torch's own (uniform for the feed-forward layers)")
    ap.add_argument("--decay-matrices-only", action="store_true",
                    help="weight decay on matrices and embeddings only (cformer, BERT)")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    torch.set_num_threads(a.threads)
    vocab = [ln.rstrip("\n") for ln in open(a.vocab, encoding="utf-8")]
    w2i = {w: i for i, w in enumerate(vocab)}
    unk, CLS, SEP, MASK = w2i["[UNK]"], w2i["[CLS]"], w2i["[SEP]"], w2i["[MASK]"]
    T = a.max_len - 2
    ids = []
    with open(a.data, encoding="utf-8") as f:
        for line in f:
            for w in basic_tokens(line):
                ids += wordpiece(w, w2i, unk)
    seqs = [ids[i:i + T] for i in range(0, len(ids) - T, T)]
    n_val = max(1, min(500, len(seqs) // 100))
    val, seqs = seqs[-n_val:], seqs[:-n_val]
    print(f"{len(seqs)} training sequences, {n_val} held out", flush=True)
    V = len(vocab)

    def masked(batch, r):
        x = torch.tensor([[CLS] + s + [SEP] for s in batch])
        y, sel = x.clone(), torch.zeros_like(x, dtype=torch.bool)
        for b in range(len(batch)):
            for j in range(1, T + 1):
                if r.random() < a.mask_prob:
                    sel[b, j] = True
                    u = r.random()
                    if u < 0.8:
                        x[b, j] = MASK
                    elif u < 0.9:
                        x[b, j] = r.randrange(V)
        return x, y, sel

    m = Bert(V, a.width, a.layers, a.heads or max(1, a.width // 64), a.max_len)
    if a.zero_biases:
        with torch.no_grad():
            for name, p in m.named_parameters():
                if name.endswith("bias") and "norm" not in name and not name.startswith("ln"):
                    p.zero_()
    groups = [{"params": [p for p in m.parameters() if p.dim() > 1 or not a.decay_matrices_only],
               "weight_decay": a.weight_decay},
              {"params": [p for p in m.parameters() if p.dim() <= 1 and a.decay_matrices_only],
               "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, a.beta2), eps=1e-8)
    wu = max(1, int(a.warmup * a.steps))

    def lr_at(s):  # cformer's schedule: linear warmup over wu steps, then cosine to 0
        if s < wu:
            return (s + 1) / wu
        return 0.5 * (1.0 + math.cos(math.pi * (s - wu) / max(1, a.steps - wu)))

    sch = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    t0 = time.time()
    for step in range(1, a.steps + 1):
        x, y, sel = masked([rng.choice(seqs) for _ in range(a.batch)], rng)
        loss = nn.functional.cross_entropy(m(x, sel), y[sel])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sch.step()
        if step % a.eval_every == 0 or step == a.steps:
            with torch.no_grad():
                r, tot, n = random.Random(12345), 0.0, 0
                for i in range(0, len(val), a.batch):
                    x, y, sel = masked(val[i:i + a.batch], r)
                    tot += nn.functional.cross_entropy(m(x, sel), y[sel]).item()
                    n += 1
            print(f"step {step} | loss {loss.item():.4f} | val loss {tot / n:.4f} | "
                  f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
