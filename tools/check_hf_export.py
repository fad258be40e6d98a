#!/usr/bin/python3
"""Reads a Hugging Face folder that cformer wrote (config.json + model.safetensors, model_type
gpt2 or llama) with an independent reader, runs the PyTorch reference forward of tools/gen_refs.py
(the transformers conventions: Conv1D weights, fused c_attn, rotate-half RoPE, ...) on the first
window of a text file's bytes, and prints the perplexity as `cformer perplexity` does with
--ctx N --stride N (every token after the first scored once). Equal numbers show the export
loads, by those conventions, as the model cformer trained.

    head -c 256 input.txt > first.txt
    /usr/bin/python3 tools/check_hf_export.py models/shakespeare-char first.txt
    build/cformer perplexity --model models/shakespeare-char --file first.txt
"""
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_refs  # noqa: E402  (the reference forwards)

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def st_read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        buf = bytearray(data[base + b:base + e])
        x = torch.frombuffer(buf, dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
        out[name] = x.to(torch.float64)
    return out


def main():
    folder, text = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(folder, "config.json")))
    P = st_read(os.path.join(folder, "model.safetensors"))
    tokens = list(open(text, "rb").read())  # byte-level models: id = byte
    if cfg["model_type"] == "gpt2":
        n_ctx = cfg["n_positions"]
        fwd = lambda t: gen_refs.gpt2_forward(P, cfg, t)
    elif cfg["model_type"] == "llama":
        n_ctx = cfg["max_position_embeddings"]
        cfg.setdefault("num_key_value_heads", cfg["num_attention_heads"])
        fwd = lambda t: gen_refs.llama_forward(P, cfg, t)
    else:
        sys.exit("model_type %s: only gpt2 and llama exports are checked" % cfg["model_type"])
    N = int(sys.argv[3]) if len(sys.argv) > 3 else n_ctx
    N = min(N, n_ctx, len(tokens))
    t = torch.tensor([tokens[:N]])
    with torch.no_grad():
        logits = fwd(t)[0]
    nll = torch.nn.functional.cross_entropy(logits[:-1], t[0, 1:], reduction="mean").item()
    print("tokens: %d\nnll: %.6f\nperplexity: %.4f" % (N, nll, math.exp(nll)))


if __name__ == "__main__":
    main()
