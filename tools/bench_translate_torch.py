#!/usr/bin/python3
"""The PyTorch side of bench/bench_translate.c: the same translation model (a Hugging Face
Marian folder written by cformer: post-norm, ReLU or SiLU, sinusoidal positions with the sines in
the first half, embeddings scaled by sqrt(d), tied output with final_logits_bias) run by
torch.nn.TransformerEncoder / nn.TransformerDecoderLayer modules, with the same search as
cformer's cf_s2s_translate_ids: sentences sorted by length in batches of --batch, greedy or beam
search (log-softmax, the best 2K candidates per sentence, an eos among the first K closes a
hypothesis scored sum(log p) / len^alpha, early stopping, max length min(1.5 src + 10,
n_ctx - 1), pad never generated), a KV cache for the decoder self-attention and the
cross-attention keys/values computed once per sentence.

    bench_translate --model DIR --src val.en --dump-ids ids.txt --dump-out cf.txt --beam 4
    /usr/bin/python3 tools/bench_translate_torch.py --model DIR --ids ids.txt --beam 4 \
        --threads 1 [--out torch.txt] [--tgt-ids tgt.txt --train-steps 20]

Run with the fast BLAS set-up (Debian's stock libblas is a generic kernel):
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=SkylakeX
Prints target tokens/s (eos included, as bench_translate counts them); with --out, the
generated ids, one line per sentence, for comparison with bench_translate --dump-out. With
--tgt-ids (target ids ending with </s>, from bench_translate's tokenizer), also training
tokens/s: Adam steps on token-budget batches (--max-tokens, padded source + target), label
smoothing 0.1, the same count of tokens (source + target) as cformer's trainer.
"""
import argparse
import json
import math
import os
import resource
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "F16": np.float16}[t["dtype"]]  # F16 computes in F32
        a, b = t["data_offsets"]
        x = np.frombuffer(data, dtype=dt, count=(b - a) // np.dtype(dt).itemsize, offset=8 + n + a)
        out[name] = torch.from_numpy(x.astype(np.float32).reshape(t["shape"]))
    return out


class Model(nn.Module):
    def __init__(self, folder):
        super().__init__()
        cfg = json.load(open(os.path.join(folder, "config.json")))
        w = load_safetensors(os.path.join(folder, "model.safetensors"))
        C, H, Fd = cfg["d_model"], cfg["encoder_attention_heads"], cfg["encoder_ffn_dim"]
        self.C, self.H, self.D = C, H, C // H
        self.V = cfg["vocab_size"]
        self.n_ctx = cfg["max_position_embeddings"]
        self.pad, self.eos = cfg["pad_token_id"], cfg["eos_token_id"]
        self.start = cfg["decoder_start_token_id"]
        act = {"relu": "relu", "swish": F.silu, "silu": F.silu, "gelu": "gelu"}[
            cfg.get("activation_function", "swish")]
        self.scale = math.sqrt(C) if cfg.get("scale_embedding", False) else 1.0
        self.emb = nn.Parameter(w["model.shared.weight"])
        self.bias = nn.Parameter(w["final_logits_bias"].reshape(-1))
        # Marian's sinusoids: sin in the first half of each row, cos in the second.
        pos = np.arange(self.n_ctx)[:, None] / np.power(10000, 2 * (np.arange(C // 2)) / C)
        self.register_buffer("pe", torch.from_numpy(
            np.concatenate([np.sin(pos), np.cos(pos)], 1).astype(np.float32)))
        L, Ld = cfg["encoder_layers"], cfg["decoder_layers"]
        self.enc = nn.ModuleList(nn.TransformerEncoderLayer(
            C, H, Fd, dropout=0.0, activation=act, batch_first=True) for _ in range(L))
        self.dec = nn.ModuleList(nn.TransformerDecoderLayer(
            C, H, Fd, dropout=0.0, activation=act, batch_first=True) for _ in range(Ld))

        def attn(mod, prefix):
            q, k, v = (w[f"{prefix}.{x}_proj.weight"] for x in "qkv")
            mod.in_proj_weight.data = torch.cat([q, k, v])
            mod.in_proj_bias.data = torch.cat([w[f"{prefix}.{x}_proj.bias"] for x in "qkv"])
            mod.out_proj.weight.data = w[f"{prefix}.out_proj.weight"]
            mod.out_proj.bias.data = w[f"{prefix}.out_proj.bias"]

        def norm(mod, prefix):
            mod.weight.data, mod.bias.data = w[prefix + ".weight"], w[prefix + ".bias"]

        def ffn(layer, p):
            layer.linear1.weight.data, layer.linear1.bias.data = w[p + "fc1.weight"], w[p + "fc1.bias"]
            layer.linear2.weight.data, layer.linear2.bias.data = w[p + "fc2.weight"], w[p + "fc2.bias"]

        for l, layer in enumerate(self.enc):
            p = f"model.encoder.layers.{l}."
            attn(layer.self_attn, p + "self_attn")
            norm(layer.norm1, p + "self_attn_layer_norm")
            norm(layer.norm2, p + "final_layer_norm")
            ffn(layer, p)
        for l, layer in enumerate(self.dec):
            p = f"model.decoder.layers.{l}."
            attn(layer.self_attn, p + "self_attn")
            attn(layer.multihead_attn, p + "encoder_attn")
            norm(layer.norm1, p + "self_attn_layer_norm")
            norm(layer.norm2, p + "encoder_attn_layer_norm")
            norm(layer.norm3, p + "final_layer_norm")
            ffn(layer, p)

    def embed(self, ids, pos0=0):
        return F.embedding(ids, self.emb) * self.scale + self.pe[pos0:pos0 + ids.shape[1]]

    def encode(self, src, pad_mask):
        x = self.embed(src)
        for layer in self.enc:
            if torch.is_autocast_cpu_enabled():  # the fused fast paths reject autocast's bf16
                a, C = layer.self_attn, self.C
                q, k, v = (self.split(y) for y in
                           F.linear(x, a.in_proj_weight, a.in_proj_bias).split(C, -1))
                s = q @ k.transpose(2, 3) / math.sqrt(self.D)
                s = s.masked_fill(pad_mask[:, None, None, :], float("-inf"))
                h = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(x.shape)
                x = layer.norm1(x + F.linear(h, a.out_proj.weight, a.out_proj.bias))
                x = layer.norm2(x + layer._ff_block(x))
            else:
                x = layer(x, src_key_padding_mask=pad_mask)
        return x

    def logits(self, x):
        return x @ self.emb.t() + self.bias

    def forward(self, src, pad_mask, tgt_in):  # teacher forcing
        mem = self.encode(src, pad_mask)
        T = tgt_in.shape[1]
        causal = torch.triu(torch.full((T, T), float("-inf")), 1)
        x = self.embed(tgt_in)
        for layer in self.dec:
            x = layer(x, mem, tgt_mask=causal, memory_key_padding_mask=pad_mask)
        return self.logits(x)

    # ---- incremental decoding ----

    def split(self, x):  # (R, T, C) -> (R, H, T, D)
        return x.view(x.shape[0], x.shape[1], self.H, self.D).transpose(1, 2)

    def cross_kv(self, mem):
        out = []
        for layer in self.dec:
            a = layer.multihead_attn
            C = self.C
            k = F.linear(mem, a.in_proj_weight[C:2 * C], a.in_proj_bias[C:2 * C])
            v = F.linear(mem, a.in_proj_weight[2 * C:], a.in_proj_bias[2 * C:])
            out.append((self.split(k), self.split(v)))
        return out

    def step(self, tok, t, cache, xkv, mask_add):
        """One token per row at position t; cache[l] = (K, V) of shape (R, H, t, D)."""
        C = self.C
        x = self.embed(tok[:, None], t)
        for l, layer in enumerate(self.dec):
            a = layer.self_attn
            qkv = F.linear(x, a.in_proj_weight, a.in_proj_bias)
            q, k, v = (self.split(y) for y in qkv.split(C, -1))
            K = torch.cat([cache[l][0], k], 2) if cache[l] is not None else k
            Vv = torch.cat([cache[l][1], v], 2) if cache[l] is not None else v
            cache[l] = (K, Vv)
            h = torch.softmax(q @ K.transpose(2, 3) / math.sqrt(self.D), -1) @ Vv
            h = F.linear(h.transpose(1, 2).reshape(x.shape), a.out_proj.weight, a.out_proj.bias)
            x = layer.norm1(x + h)
            m = layer.multihead_attn
            q = self.split(F.linear(x, m.in_proj_weight[:C], m.in_proj_bias[:C]))
            s = q @ xkv[l][0].transpose(2, 3) / math.sqrt(self.D) + mask_add
            h = torch.softmax(s, -1) @ xkv[l][1]
            h = F.linear(h.transpose(1, 2).reshape(x.shape), m.out_proj.weight, m.out_proj.bias)
            x = layer.norm2(x + h)
            x = layer.norm3(x + layer.linear2(layer.activation(layer.linear1(x))))
        return self.logits(x[:, 0])


MODEL_SECONDS = [0.0]  # time inside the network (encoder, cross K/V, decoder steps)


def translate_batch(model, srcs, K, alpha=1.0, a=1.5, b=10):
    """Beam search (greedy when K = 1) over a batch of sources, as cf_s2s_translate_ids. The
    search bookkeeping is Python, as in Hugging Face's BeamSearchScorer."""
    nb = len(srcs)
    S = max(len(s) for s in srcs)
    src = torch.full((nb, S), model.pad, dtype=torch.long)
    for i, s in enumerate(srcs):
        src[i, :len(s)] = torch.tensor(s)
    pad_mask = src == model.pad
    for i, s in enumerate(srcs):  # a real pad id inside a source would be masked: none here
        pad_mask[i, :len(s)] = False
    t0 = time.perf_counter()
    mem = model.encode(src, pad_mask)
    R = nb * K
    rep = torch.arange(nb).repeat_interleave(K)
    xkv = [(k[rep], v[rep]) for k, v in model.cross_kv(mem)]
    MODEL_SECONDS[0] += time.perf_counter() - t0
    mask_add = torch.zeros(R, 1, 1, S)
    mask_add[pad_mask[rep][:, None, None, :]] = float("-inf")
    limit = max(1, model.n_ctx - 1)
    max_len = [min(max(1, int(math.floor(a * len(s) + b))), limit) for s in srcs]
    L = max(max_len)
    cache = [None] * len(model.dec)
    tok = torch.full((R,), model.start, dtype=torch.long)
    beam_sum = torch.full((R,), float("-inf"), dtype=torch.float64)
    beam_sum[::K] = 0.0
    hist = torch.zeros((R, 0), dtype=torch.long)
    hyps = [[] for _ in range(nb)]
    done = [False] * nb
    live = list(range(nb))  # the batch's sentences still searched, in row order
    for t in range(L):
        if all(done):
            break
        if any(done[i] for i in live):  # finished sentences leave the batch (as cformer does)
            keep = [j for j, i in enumerate(live) if not done[i]]
            rows = torch.tensor([j * K + b for j in keep for b in range(K)])
            live = [live[j] for j in keep]
            cache = [(k[rows], v[rows]) for k, v in cache]
            xkv = [(k[rows], v[rows]) for k, v in xkv]
            mask_add, tok, beam_sum, hist = mask_add[rows], tok[rows], beam_sum[rows], hist[rows]
            R = len(live) * K
        nl = len(live)
        t0 = time.perf_counter()
        logits = model.step(tok, t, cache, xkv, mask_add)
        MODEL_SECONDS[0] += time.perf_counter() - t0
        logp = torch.log_softmax(logits, -1)
        logp[:, model.pad] = float("-inf")
        scores = (beam_sum[:, None] + logp.double()).view(nl, K * model.V)
        if t == 0:
            scores = scores[:, :model.V]
        top_s, top_i = scores.topk(min(2 * K, scores.shape[1]), 1)
        top_s, top_i = top_s.tolist(), top_i.tolist()  # one conversion per step, not per item
        new_from = [0] * R
        new_tok = [model.start] * R
        new_sum = [float("-inf")] * R
        for j, i in enumerate(live):
            filled = 0
            for c in range(len(top_s[j])):
                if filled == K:
                    break
                sc = top_s[j][c]
                if sc == float("-inf"):
                    break
                r = j * K + top_i[j][c] // model.V
                v = top_i[j][c] % model.V
                if v == model.eos:
                    if c < K:
                        add_hyp(hyps[i], K, sc / (t + 1) ** alpha, hist[r].tolist())
                    continue
                nr = j * K + filled
                new_from[nr], new_tok[nr], new_sum[nr] = r, v, sc
                filled += 1
            for f in range(filled, K):
                new_from[j * K + f] = j * K
            if len(hyps[i]) == K:
                done[i] = True  # early stopping (cformer's default)
        new_from = torch.tensor(new_from)
        tok = torch.tensor(new_tok)
        beam_sum = torch.tensor(new_sum, dtype=torch.float64)
        hist = torch.cat([hist[new_from], tok[:, None]], 1)
        cache = [(k[new_from], v[new_from]) for k, v in cache]
        for j, i in enumerate(live):
            if not done[i] and t + 1 >= max_len[i]:
                for bb in range(K):
                    r = j * K + bb
                    if beam_sum[r].item() > float("-inf"):
                        add_hyp(hyps[i], K, beam_sum[r].item() / (t + 1) ** alpha,
                                hist[r].tolist(), finished=False)
                done[i] = True
    out = []
    for i in range(nb):
        best = max(hyps[i], key=lambda h: h[0]) if hyps[i] else (0, [], True)
        out.append(best)
    return out


def add_hyp(lst, K, score, tokens, finished=True):
    if len(lst) == K:
        worst = min(range(K), key=lambda j: lst[j][0])
        if score <= lst[worst][0]:
            return
        lst[worst] = (score, tokens, finished)
    else:
        lst.append((score, tokens, finished))


def read_ids(path):
    with open(path) as f:
        return [[int(x) for x in line.split()] for line in f]


def train_bench(model, src, tgt, steps, max_tokens):
    pairs = sorted(range(len(src)), key=lambda i: (len(src[i]), len(tgt[i]), i))
    batches, cur, S, T = [], [], 0, 0
    for i in pairs:
        s2, t2 = max(S, len(src[i])), max(T, len(tgt[i]))
        if cur and (len(cur) + 1) * (s2 + t2) > max_tokens:
            batches.append(cur)
            cur, s2, t2 = [], len(src[i]), len(tgt[i])
        cur.append(i)
        S, T = s2, t2
    if cur:
        batches.append(cur)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9,
                            weight_decay=0.0)
    tokens, secs = 0, 0.0
    for step in range(steps + 1):
        bi = batches[(step * 7919) % len(batches)]
        S = max(len(src[i]) for i in bi)
        T = max(len(tgt[i]) for i in bi)
        s = torch.full((len(bi), S), model.pad, dtype=torch.long)
        ti = torch.full((len(bi), T), model.pad, dtype=torch.long)
        lab = torch.full((len(bi), T), -100, dtype=torch.long)
        for r, i in enumerate(bi):
            s[r, :len(src[i])] = torch.tensor(src[i])
            ti[r, 0] = model.start
            ti[r, 1:len(tgt[i])] = torch.tensor(tgt[i][:-1])
            lab[r, :len(tgt[i])] = torch.tensor(tgt[i])
        pad_mask = s == model.pad
        t0 = time.perf_counter()
        logits = model(s, pad_mask, ti)
        loss = F.cross_entropy(logits.reshape(-1, model.V), lab.reshape(-1),
                               ignore_index=-100, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step > 0:
            secs += time.perf_counter() - t0
            tokens += sum(len(src[i]) + len(tgt[i]) for i in bi)
    return tokens, secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help="source ids, one sentence per line")
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="write the generated ids here")
    ap.add_argument("--tgt-ids", help="target ids for the training measurement")
    ap.add_argument("--train-steps", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=3000)
    ap.add_argument("--bf16", action="store_true",
                    help="decode under torch.autocast('cpu', torch.bfloat16): matrix products in "
                         "bf16 (oneDNN), the counterpart of cformer's --precision bf16")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Model(args.model).eval()
    srcs = read_ids(args.ids)
    order = sorted(range(len(srcs)), key=lambda i: (len(srcs[i]), i))
    results = [None] * len(srcs)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        translate_batch(model, [srcs[i] for i in order[:16]], args.beam)  # warm-up
        MODEL_SECONDS[0] = 0.0
        t0 = time.perf_counter()
        for j in range(0, len(order), args.batch):
            group = order[j:j + args.batch]
            for i, r in zip(group, translate_batch(model, [srcs[i] for i in group], args.beam)):
                results[i] = r
        secs = time.perf_counter() - t0
        model_secs = MODEL_SECONDS[0]
    tgt_tokens = sum(len(r[1]) + (1 if r[2] else 0) for r in results)
    print(f"torch {torch.__version__}, {args.threads} threads, BLAS: "
          f"{os.environ.get('LD_LIBRARY_PATH', 'default')}{', autocast bf16' if args.bf16 else ''}")
    print(f"decode beam {args.beam}, batch {args.batch}: {len(srcs)} sentences, {tgt_tokens} "
          f"target tokens in {secs:.2f} s: {tgt_tokens / secs:.0f} target tokens/s (of which the "
          f"network {model_secs:.2f} s, the search bookkeeping {secs - model_secs:.2f} s)")
    if args.out:
        with open(args.out, "w") as f:
            for r in results:
                f.write(" ".join(str(x) for x in r[1]) + "\n")
    if args.tgt_ids and args.train_steps > 0:
        model.train()
        tokens, tsec = train_bench(model, srcs, read_ids(args.tgt_ids), args.train_steps,
                                   args.max_tokens)
        print(f"train: {args.train_steps} steps of <= {args.max_tokens} tokens: {tokens} tokens "
              f"in {tsec:.2f} s: {tokens / tsec:.0f} tokens/s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
