#!/usr/bin/env python3
"""Writes the reference trajectory of a short masked-LM training run (tests/unit/test_cli_encoder.c).

Usage (Debian's torch):

    /usr/bin/python3 tools/gen_mlm_traj_refs.py [FIXTURES_DIR]      # default: tests/fixtures

`cformer train --task mlm --model tests/fixtures/bert_mlm --data corpus.txt --max-len 16
--steps 20 --batch 8 --lr 1e-2 --warmup 0.1 --eval-every 5 --seed 3` replayed in PyTorch, step
for step: the same initial weights (the bert_mlm fixture), the same packing of the corpus
into [CLS] chunk [SEP] sequences with the last 1 % held out, the same batches and BERT 80/10/10
masks (the CLI's splitmix64 stream, seeded per step with seed * 0x100000001b3 + step; the
held-out masks from 12345), AdamW (beta2 0.999, eps 1e-8, decay 0.01 on matrices and
embeddings only), global-norm clipping at 1, linear warmup then cosine decay. The model is
written here in plain torch from its Hugging Face tensors. bert_mlm_traj/expected.txt holds,
for steps 5, 10, 15 and 20, the training loss of that step's batch and the held-out loss after
it; the C test runs the CLI and compares both. That checks the whole training path end to end
(data, masking, gradients, optimizer, schedule), not only one step's gradients.
"""
import json
import math
import os
import random
import struct
import sys

import torch
import torch.nn as nn

M64 = (1 << 64) - 1
STEPS, BATCH, LR, WARMUP, SEED, EVERY, MAX_LEN = 20, 8, 1e-2, 0.1, 3, 5, 16


def rnd(s):
    s[0] = (s[0] + 0x9E3779B97F4A7C15) & M64
    z = s[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def unit(s):
    return (rnd(s) >> 11) * (1.0 / 9007199254740992.0)


def below(s, n):
    return rnd(s) % n


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__" or v["dtype"] != "F32":  # position_ids (I64) is not a weight
            continue
        a, b = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(v["shape"])
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    src, dst = os.path.join(root, "bert_mlm"), os.path.join(root, "bert_mlm_traj")
    os.makedirs(dst, exist_ok=True)
    cfg = json.load(open(os.path.join(src, "config.json")))
    vocab = [ln.rstrip("\n") for ln in open(os.path.join(src, "vocab.txt"))]
    w2i = {w: i for i, w in enumerate(vocab)}
    words = [w for w in vocab if not w.startswith("[")]
    # A corpus with some structure (each line counts up through the words from a random start,
    # with a random word now and then), so the loss moves.
    r = random.Random(7)
    lines = []
    for _ in range(160):
        k, n = r.randrange(len(words)), r.randrange(8, 30)
        line = [words[(k + i) % len(words)] if r.random() > 0.2 else r.choice(words)
                for i in range(n)]
        lines.append(" ".join(line))
    with open(os.path.join(dst, "corpus.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    ids = [w2i[w] for ln in lines for w in ln.split()]
    chunk = MAX_LEN - 2
    seqs = [ids[i:i + chunk] for i in range(0, len(ids), chunk)]
    n_seq = len(seqs)
    n_val = max(1, min(500, n_seq // 100))
    n_train = n_seq - n_val
    CLS, SEP, MASK, PAD = w2i["[CLS]"], w2i["[SEP]"], w2i["[MASK]"], cfg.get("pad_token_id", 0)
    V, C = cfg["vocab_size"], cfg["hidden_size"]
    H, L = cfg["num_attention_heads"], cfg["num_hidden_layers"]
    D = C // H
    W = load_safetensors(os.path.join(src, "model.safetensors"))
    P = {k: nn.Parameter(v.clone()) for k, v in W.items()
         if not k.startswith(("bert.pooler", "cls.seq_relationship")) and "position_ids" not in k}
    eps = cfg["layer_norm_eps"]

    def lin(x, name):
        return x @ P[name + ".weight"].T + P[name + ".bias"]

    def ln(x, name):
        return nn.functional.layer_norm(x, (C,), P[name + ".weight"], P[name + ".bias"], eps)

    def forward(x, keep, sel):
        B, T = x.shape
        e = "bert.embeddings."
        h = (P[e + "word_embeddings.weight"][x] + P[e + "position_embeddings.weight"][:T][None] +
             P[e + "token_type_embeddings.weight"][0])
        h = ln(h, e + "LayerNorm")
        bias = torch.where(keep, 0.0, float("-inf"))[:, None, None, :]
        for l in range(L):
            p = f"bert.encoder.layer.{l}."
            q, k, v = (lin(h, p + "attention.self." + n).view(B, T, H, D).transpose(1, 2)
                       for n in ("query", "key", "value"))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + bias, -1) @ v
            a = a.transpose(1, 2).reshape(B, T, C)
            h = ln(h + lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            f2 = lin(nn.functional.gelu(lin(h, p + "intermediate.dense")), p + "output.dense")
            h = ln(h + f2, p + "output.LayerNorm")
        h = h[sel]
        h = ln(nn.functional.gelu(lin(h, "cls.predictions.transform.dense")),
               "cls.predictions.transform.LayerNorm")
        return h @ P["bert.embeddings.word_embeddings.weight"].T + P["cls.predictions.bias"]

    def batch(idx, s):
        T = max(len(seqs[i]) for i in idx) + 2
        x = torch.full((len(idx), T), PAD, dtype=torch.long)
        y = torch.full((len(idx), T), -100, dtype=torch.long)
        keep = torch.zeros(len(idx), T, dtype=torch.bool)
        for b, i in enumerate(idx):
            sq = seqs[i]
            n = len(sq)
            row = [CLS] + sq + [SEP] + [PAD] * (T - n - 2)
            for j in range(1, n + 1):
                if unit(s) < 0.15:
                    y[b, j] = row[j]
                    u = unit(s)
                    if u < 0.8:
                        row[j] = MASK
                    elif u < 0.9:
                        row[j] = below(s, V)
            x[b] = torch.tensor(row)
            keep[b, :n + 2] = True
        return x, y, keep

    def loss_of(x, y, keep):
        sel = y != -100
        return nn.functional.cross_entropy(forward(x, keep, sel), y[sel])

    def val_loss():
        s, tot, nb = [12345], 0.0, 0
        with torch.no_grad():
            for i in range(n_train, n_seq, BATCH):
                x, y, keep = batch(list(range(i, min(i + BATCH, n_seq))), s)
                tot += loss_of(x, y, keep).item()
                nb += 1
        return tot / nb

    decay = [p for k, p in P.items() if p.dim() > 1]
    rest = [p for k, p in P.items() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": rest, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.999), eps=1e-8)
    wu = int(WARMUP * STEPS)
    out = []
    for t in range(STEPS):
        f = (t + 1) / wu if t < wu else 0.5 * (1 + math.cos(math.pi * (t - wu) / (STEPS - wu)))
        for g in opt.param_groups:
            g["lr"] = LR * f
        s = [(SEED * 0x100000001B3 + t) & M64]
        idx = [below(s, n_train) for _ in range(BATCH)]
        x, y, keep = batch(idx, s)
        loss = loss_of(x, y, keep)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()
        if (t + 1) % EVERY == 0:
            out.append((t + 1, loss.item(), val_loss()))
    with open(os.path.join(dst, "expected.txt"), "w") as f:
        f.write(f"# {n_seq} sequences ({n_val} held out); step, training loss, held-out loss\n")
        for st, lo, vl in out:
            f.write(f"{st} {lo:.6f} {vl:.6f}\n")
    print(open(os.path.join(dst, "expected.txt")).read(), end="")


if __name__ == "__main__":
    main()
