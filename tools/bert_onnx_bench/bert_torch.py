#!/usr/bin/python3
"""BERT-base sequence classifier in plain torch, for the speed comparison of issue 4.

    /usr/bin/python3 tools/bert_onnx_bench/bert_torch.py make OUT [--seed S]
    /usr/bin/python3 tools/bert_onnx_bench/bert_torch.py bench OUT [--threads N] [--batch B]
                                                          [--rounds R] [--seq T] [--train]
                                                          [--calls N]

`make` builds the model with random weights (normal(0, 0.02), as transformers initialises BERT;
biases and LayerNorm shifts random too, so the check below exercises them) and writes:

  OUT/model/config.json, OUT/model/model.safetensors   a Hugging Face
      BertForSequenceClassification folder (transformers' tensor names) that cformer loads
  OUT/bert.onnx      the same model through torch.onnx.export (opset 13; inputs input_ids,
      attention_mask, token_type_ids as int64 (batch, seq); output logits (batch, 2); dynamic
      batch and sequence axes)
  OUT/state.pt       the state dict, for `bench`
  OUT/check.txt      a padded batch (3 x 128, lengths 128, 77 and 9) and torch's logits for it:
      "B T", the token ids, the type ids, the mask, then B x 2 logits (whitespace-separated);
      build/bench_bert --check and bench_ort.js --check compare their logits with these.

`bench` times torch's forward at batch 1 and B (sentences/s, best of R after a warm-up; a batch-1
round is N sentences one after the other, default 8) with torch.set_num_threads(N), and with --train one AdamW step at batch B (examples/s). Debian's
torch links the reference BLAS; LD_LIBRARY_PATH pointing at an OpenBLAS folder swaps it (see
README.md).

The model is written here from the published BERT definition (post-norm blocks, exact GELU,
LayerNorm eps 1e-12, pooler dense + tanh on the first token, then the classifier); the padding
mask is added to the attention scores as transformers does (finfo.min where mask == 0).
"""

import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

V, NPOS, NTYPES, C, H, L, FF, NLAB, EPS = 30522, 512, 2, 768, 12, 12, 3072, 2, 1e-12


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        self.attn_out = nn.Linear(C, C)
        self.attn_norm = nn.LayerNorm(C, eps=EPS)
        self.up, self.down = nn.Linear(C, FF), nn.Linear(FF, C)
        self.out_norm = nn.LayerNorm(C, eps=EPS)

    def forward(self, x, bias):
        B, T, _ = x.shape
        D = C // H

        def heads(t):
            return t.view(B, T, H, D).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D) + bias
        a = torch.matmul(torch.softmax(s, dim=-1), v).transpose(1, 2).reshape(B, T, C)
        x = self.attn_norm(x + self.attn_out(a))
        return self.out_norm(x + self.down(F.gelu(self.up(x))))

    def hf_names(self, p):
        return {p + "attention.self.query": self.query, p + "attention.self.key": self.key,
                p + "attention.self.value": self.value, p + "attention.output.dense": self.attn_out,
                p + "attention.output.LayerNorm": self.attn_norm,
                p + "intermediate.dense": self.up, p + "output.dense": self.down,
                p + "output.LayerNorm": self.out_norm}


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(NPOS, C)
        self.wtt = nn.Embedding(NTYPES, C)
        self.emb_norm = nn.LayerNorm(C, eps=EPS)
        self.layers = nn.ModuleList([Layer() for _ in range(L)])
        self.pooler, self.classifier = nn.Linear(C, C), nn.Linear(C, NLAB)

    def forward(self, input_ids, attention_mask, token_type_ids):
        T = input_ids.shape[1]
        pos = torch.arange(T, device=input_ids.device).unsqueeze(0)
        x = self.emb_norm(self.wte(input_ids) + self.wpe(pos) + self.wtt(token_type_ids))
        m = attention_mask[:, None, None, :].to(x.dtype)
        bias = (1.0 - m) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return self.classifier(torch.tanh(self.pooler(x[:, 0])))

    def hf_modules(self):
        d = {"bert.embeddings.word_embeddings": self.wte,
             "bert.embeddings.position_embeddings": self.wpe,
             "bert.embeddings.token_type_embeddings": self.wtt,
             "bert.embeddings.LayerNorm": self.emb_norm,
             "bert.pooler.dense": self.pooler, "classifier": self.classifier}
        for i, layer in enumerate(self.layers):
            d.update(layer.hf_names(f"bert.encoder.layer.{i}."))
        return d


def build(seed):
    torch.manual_seed(seed)
    m = Bert()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.02 * torch.randn_like(p))
            else:
                p.copy_(0.02 * torch.randn_like(p))
    return m.eval()


def st_write(path, tensors):
    """safetensors: 8-byte little-endian header length, JSON header, contiguous F32 data."""
    header, off = {}, 0
    arrays = [(n, t.detach().contiguous().numpy().astype("<f4")) for n, t in tensors.items()]
    for n, a in arrays:
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, a in arrays:
            f.write(a.tobytes())


def check_batch(seed):
    g = torch.Generator().manual_seed(seed + 1)
    B, T, lengths = 3, 128, [128, 77, 9]
    ids = torch.randint(1000, 29000, (B, T), generator=g)
    types = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, 0], ids[b, n - 1] = 101, 102
        ids[b, n:] = 0
        types[b, n // 2:n] = 1  # a second segment
        mask[b, :n] = 1
    return ids, mask, types


def make(out, seed):
    m = build(seed)
    os.makedirs(os.path.join(out, "model"), exist_ok=True)
    tensors = {}
    for name, mod in m.hf_modules().items():
        tensors[name + ".weight"] = mod.weight
        if getattr(mod, "bias", None) is not None:
            tensors[name + ".bias"] = mod.bias
    st_write(os.path.join(out, "model", "model.safetensors"), tensors)
    cfg = {"architectures": ["BertForSequenceClassification"], "model_type": "bert",
           "hidden_size": C, "num_hidden_layers": L, "num_attention_heads": H,
           "intermediate_size": FF, "hidden_act": "gelu", "max_position_embeddings": NPOS,
           "type_vocab_size": NTYPES, "vocab_size": V, "layer_norm_eps": EPS, "pad_token_id": 0,
           "position_embedding_type": "absolute", "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
           "label2id": {"NEGATIVE": 0, "POSITIVE": 1}, "torch_dtype": "float32"}
    with open(os.path.join(out, "model", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    torch.save(m.state_dict(), os.path.join(out, "state.pt"))

    ids, mask, types = check_batch(seed)
    with torch.no_grad():
        logits = m(ids, mask, types)
    with open(os.path.join(out, "check.txt"), "w") as f:
        f.write(f"{ids.shape[0]} {ids.shape[1]}\n")
        for t in (ids, types, mask):
            f.write(" ".join(str(int(v)) for v in t.flatten()) + "\n")
        f.write(" ".join(repr(float(v)) for v in logits.flatten()) + "\n")

    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
           "token_type_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch"}}
    torch.onnx.export(m, (ids, mask, types), os.path.join(out, "bert.onnx"),
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["logits"], dynamic_axes=dyn, opset_version=13,
                      do_constant_folding=True)
    print(f"wrote {out}/model (config.json, model.safetensors), {out}/bert.onnx, "
          f"{out}/check.txt; torch logits:\n{logits}")


def bench(out, threads, batch, rounds, T, train, calls1):
    torch.set_num_threads(threads)
    m = Bert()
    m.load_state_dict(torch.load(os.path.join(out, "state.pt")))
    m.eval()
    g = torch.Generator().manual_seed(5)
    nb = max(batch, 8)
    ids = torch.randint(1000, 29000, (nb, T), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)
    blas = os.environ.get("LD_LIBRARY_PATH", "") or "reference BLAS (Debian default)"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS: {blas}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '')}, T={T}")
    with torch.inference_mode():
        for B in ([1, batch] if batch > 1 else [1]):
            calls = calls1 if B == 1 else 1
            best = 0.0
            for r in range(rounds + 1):
                t0 = time.perf_counter()
                for c in range(calls):
                    s = slice(c, c + 1) if B == 1 else slice(0, B)
                    m(ids[s], mask[s], types[s])
                rate = calls * B / (time.perf_counter() - t0)
                if r:
                    best = max(best, rate)
            print(f"  torch inference batch {B:<3d} {best:7.2f} sentences/s")
    if train:
        m.train()
        opt = torch.optim.AdamW(m.parameters(), lr=2e-5)
        labels = torch.arange(batch) % 2
        best = 0.0
        for r in range(rounds + 1):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = F.cross_entropy(m(ids[:batch], mask[:batch], types[:batch]), labels)
            loss.backward()
            opt.step()
            rate = batch / (time.perf_counter() - t0)
            if r:
                best = max(best, rate)
        print(f"  torch fine-tune batch {batch:<3d} {best:7.2f} examples/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["make", "bench"])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--calls", type=int, default=8, help="sentences per batch-1 round")
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.out, a.seed)
    else:
        bench(a.out, a.threads, a.batch, a.rounds, a.seq, a.train, a.calls)


if __name__ == "__main__":
    sys.exit(main())
