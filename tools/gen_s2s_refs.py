#!/usr/bin/env python3
"""Writes the encoder-decoder reference fixtures that tests/golden/test_s2s_golden.c compares
cformer with.

Usage (Debian's torch 1.13; the python3 first on PATH may not see it):

    /usr/bin/python3 tools/gen_s2s_refs.py [OUT_DIR]      # default: tests/fixtures

Two tiny models (C 12, 3 heads, 2 + 2 blocks, batch 2 with padding in the sources and the
targets, odd lengths):

  * s2s_torch: torch.nn.Transformer itself (post-norm, as in "Attention is all you need";
    torch adds a final LayerNorm to each stack), ReLU, separate source and target vocabularies,
    embeddings scaled by sqrt(C), interleaved sinusoidal positions PE(p, 2i) = sin, PE(p, 2i+1) =
    cos, the output projection tied to the target embeddings. Saved with cformer's own tensor
    names (config.json with a "cformer" object + model.safetensors).
  * s2s_marian: MarianMTModel's math written here in plain torch (the transformers package is
    not used): shared embeddings times sqrt(d_model), sinusoidal positions with all sines in the
    first half and all cosines in the second, post-norm blocks (self_attn, self_attn_layer_norm,
    encoder_attn, encoder_attn_layer_norm, fc1, swish, fc2, final_layer_norm), q scaled by
    head_dim^-0.5, no final norms, logits = x E^T + final_logits_bias. Saved as a Hugging Face
    Marian folder with its tensor names and config.json fields.

Expected values in <fixture>/expected.safetensors: src, src_mask, tgt_in, labels (-1 on
padding) as int32/uint8, the encoder output enc (B, S, C), the teacher-forced logits
(B, T, V), the label-smoothed loss (eps 0.1, mean over non-padding labels, torch's definition,
checked against F.cross_entropy(label_smoothing=)), and grad.<cformer name> for every parameter.
The reference runs in float64 on the float32 weights; the float32 spread is printed.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_refs import st_write, write_json  # noqa: E402  (the same safetensors writer)

FIXTURE_VERSION = "1"
MAGIC = "cformer-golden"
EPS_LS = 0.1

torch.set_num_threads(1)


def sinusoid(n, C, split):
    pos = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(C // 2, dtype=np.float64)[None, :]
    ang = pos / np.power(10000.0, 2 * i / C)
    t = np.zeros((n, C))
    if split:  # Marian: sin in the first half, cos in the second
        t[:, : C // 2] = np.sin(ang)
        t[:, C // 2:] = np.cos(ang)
    else:
        t[:, 0::2] = np.sin(ang)
        t[:, 1::2] = np.cos(ang)
    return torch.tensor(t.astype(np.float32))


def batch(g, Vs, Vt, pad, start, eos, src_lens, tgt_lens, S, T):
    """Padded sources (ending with eos) and targets; tgt_in = start + target, labels = target +
    eos with -1 on padding."""
    B = len(src_lens)
    src = torch.full((B, S), pad, dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.uint8)
    tgt_in = torch.full((B, T), pad, dtype=torch.long)
    labels = torch.full((B, T), -1, dtype=torch.long)
    for b in range(B):
        n = src_lens[b]
        body = torch.randint(3, Vs, (n - 1,), generator=g)
        src[b, : n - 1] = body
        src[b, n - 1] = eos
        mask[b, :n] = 1
        m = tgt_lens[b]  # target tokens, eos included
        y = torch.randint(3, Vt, (m - 1,), generator=g)
        y = torch.cat([y, torch.tensor([eos])])
        tgt_in[b, 0] = start
        tgt_in[b, 1:m] = y[: m - 1]
        labels[b, :m] = y
    return src, mask, tgt_in, labels


def smoothed_loss(logits, labels, eps):
    V = logits.shape[-1]
    lp = torch.log_softmax(logits.reshape(-1, V), -1)
    lab = labels.reshape(-1)
    keep = lab >= 0
    nll = -lp[keep].gather(1, lab[keep][:, None])[:, 0]
    smooth = -lp[keep].sum(-1) / V
    loss = ((1 - eps) * nll + eps * smooth).mean()
    ref = F.cross_entropy(logits.reshape(-1, V), lab.clamp(min=0).masked_fill(~keep, -100),
                          ignore_index=-100, label_smoothing=eps)
    assert abs(float(loss) - float(ref)) < 1e-10, (float(loss), float(ref))
    return loss


def meta(kind, **kw):
    m = {"magic": MAGIC, "fixture_version": FIXTURE_VERSION, "kind": kind}
    m.update({k: str(v) for k, v in kw.items()})
    return m


def perturb(params, g, scale=0.1):
    """Moves norms and biases off 1 and 0 so that a mixed-up tensor shows."""
    with torch.no_grad():
        for p in params:
            p.add_(scale * torch.randn(p.shape, generator=g))


# ---- s2s_torch: torch.nn.Transformer ----

def gen_torch(out, report):
    g = torch.Generator().manual_seed(1234)
    torch.manual_seed(1234)
    C, H, F_, L, Ld, Vs, Vt, n_ctx = 12, 3, 20, 2, 2, 13, 11, 32
    pad, bos, eos = 0, 1, 2
    B, S, T = 2, 7, 5
    tr = torch.nn.Transformer(d_model=C, nhead=H, num_encoder_layers=L, num_decoder_layers=Ld,
                              dim_feedforward=F_, dropout=0.0, activation="relu",
                              batch_first=True, norm_first=False)
    perturb([p for n, p in tr.named_parameters() if "norm" in n or "bias" in n], g)
    E_src = torch.nn.Parameter(0.5 * torch.randn(Vs, C, generator=g))
    E_tgt = torch.nn.Parameter(0.5 * torch.randn(Vt, C, generator=g))
    src, mask, tgt_in, labels = batch(g, Vs, Vt, pad, bos, eos, [7, 4], [3, 5], S, T)
    pe = sinusoid(n_ctx, C, split=False)

    def forward(dtype):
        tr.to(dtype)
        Es, Et = E_src.detach().to(dtype).requires_grad_(), E_tgt.detach().to(dtype).requires_grad_()
        tr.train()  # dropout is 0; train mode keeps torch off its nested-tensor fast path
        tr.zero_grad()
        sc = math.sqrt(C)
        xs = Es[src] * sc + pe[:S].to(dtype)
        xt = Et[tgt_in] * sc + pe[:T].to(dtype)
        kpm = mask == 0
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        enc = tr.encoder(xs, src_key_padding_mask=kpm)
        dec = tr.decoder(xt, enc, tgt_mask=causal, memory_key_padding_mask=kpm)
        logits = dec @ Et.t()
        loss = smoothed_loss(logits, labels, EPS_LS)
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in tr.named_parameters()}
        grads["E_src"], grads["E_tgt"] = Es.grad.detach().clone(), Et.grad.detach().clone()
        weights = {n: p.detach().clone() for n, p in tr.named_parameters()}
        weights["E_src"], weights["E_tgt"] = Es.detach().clone(), Et.detach().clone()
        return enc.detach(), logits.detach(), loss.detach(), grads, weights

    enc32, logits32, loss32, grads32, W = forward(torch.float32)
    enc, logits, loss, grads, _ = forward(torch.float64)

    def to_cf(t):
        """torch.nn.Transformer names -> cformer names (q/k/v split out of in_proj)."""
        o = {"src_tok_embeddings": t["E_src"], "tok_embeddings": t["E_tgt"]}
        for side, pre, n_l in (("encoder", "layers", L), ("decoder", "dec_layers", Ld)):
            for l in range(n_l):
                p = f"{side}.layers.{l}."
                q = f"{pre}.{l}."
                attns = [("self_attn.", "attn.")]
                if side == "decoder":
                    attns.append(("multihead_attn.", "cross."))
                for a, ours in attns:
                    w, b = t[p + a + "in_proj_weight"], t[p + a + "in_proj_bias"]
                    for j, nm in enumerate("qkv"):
                        o[q + ours + "w" + nm] = w[j * C:(j + 1) * C]
                        o[q + ours + "b" + nm] = b[j * C:(j + 1) * C]
                    o[q + ours + "wo"] = t[p + a + "out_proj.weight"]
                    o[q + ours + "bo"] = t[p + a + "out_proj.bias"]
                o[q + "mlp.w_up"], o[q + "mlp.b_up"] = t[p + "linear1.weight"], t[p + "linear1.bias"]
                o[q + "mlp.w_down"], o[q + "mlp.b_down"] = t[p + "linear2.weight"], t[p + "linear2.bias"]
                norms = {"norm1": "norm1", "norm2": "norm2"} if side == "encoder" else \
                    {"norm1": "norm1", "norm2": "norm_cross", "norm3": "norm2"}
                for theirs, mine in norms.items():
                    o[q + mine + ".weight"] = t[p + theirs + ".weight"]
                    o[q + mine + ".bias"] = t[p + theirs + ".bias"]
        for side, mine in (("encoder", "norm_f"), ("decoder", "dec_norm_f")):
            o[mine + ".weight"] = t[side + ".norm.weight"]
            o[mine + ".bias"] = t[side + ".norm.bias"]
        return o

    d = os.path.join(out, "s2s_torch")
    os.makedirs(d, exist_ok=True)
    cfg = {"family": "generic", "n_layers": L, "n_dec_layers": Ld, "n_embd": C, "n_heads": H,
           "n_kv_heads": H, "head_dim": C // H, "n_ff": F_, "vocab_size": Vt,
           "src_vocab_size": Vs, "n_ctx": n_ctx, "norm": "layernorm", "pre_norm": False,
           "final_norm": True, "norm_eps": 1e-5, "pos": "sinusoidal", "sinus_split": False,
           "act": "relu", "attn_bias": True, "mlp_bias": True, "tie_embeddings": True,
           "causal": True, "scale_embedding": True, "logits_bias": False, "pad_id": pad,
           "bos_id": bos, "eos_id": eos, "decoder_start_id": bos}
    write_json(os.path.join(d, "config.json"),
               {"architectures": ["CformerForSeq2Seq"], "model_type": "cformer", "cformer": cfg})
    st_write(os.path.join(d, "model.safetensors"), {k: v.float() for k, v in to_cf(W).items()},
             {"format": "pt"})
    E = {"src": src, "src_mask": mask, "tgt_in": tgt_in, "labels": labels, "enc": enc,
         "logits": logits, "loss": loss.reshape(1)}
    for k, v in to_cf(grads).items():
        E["grad." + k] = v
    st_write(os.path.join(d, "expected.safetensors"), E,
             meta("s2s_torch", B=B, S=S, T=T, label_smoothing=EPS_LS))
    report("s2s_torch", enc32, enc, logits32, logits, loss32, loss, grads32, grads)


# ---- s2s_marian: MarianMTModel in plain torch ----

def gen_marian(out, report):
    g = torch.Generator().manual_seed(4321)
    C, H, F_, L, Ld, V, n_ctx = 12, 3, 20, 2, 2, 17, 40
    D = C // H
    eos, pad = 0, V - 1
    B, S, T = 2, 5, 7
    P = {}

    def lin(name, o, i):
        P[name + ".weight"] = 0.3 * torch.randn(o, i, generator=g)
        P[name + ".bias"] = 0.1 * torch.randn(o, generator=g)

    def ln(name):
        P[name + ".weight"] = 1 + 0.1 * torch.randn(C, generator=g)
        P[name + ".bias"] = 0.1 * torch.randn(C, generator=g)

    P["model.shared.weight"] = 0.5 * torch.randn(V, C, generator=g)
    for l in range(L):
        p = f"model.encoder.layers.{l}."
        for nm in ("q_proj", "k_proj", "v_proj", "out_proj"):
            lin(p + "self_attn." + nm, C, C)
        ln(p + "self_attn_layer_norm")
        lin(p + "fc1", F_, C)
        lin(p + "fc2", C, F_)
        ln(p + "final_layer_norm")
    for l in range(Ld):
        p = f"model.decoder.layers.{l}."
        for a in ("self_attn", "encoder_attn"):
            for nm in ("q_proj", "k_proj", "v_proj", "out_proj"):
                lin(p + a + "." + nm, C, C)
            ln(p + a + "_layer_norm")
        lin(p + "fc1", F_, C)
        lin(p + "fc2", C, F_)
        ln(p + "final_layer_norm")
    P["final_logits_bias"] = 0.2 * torch.randn(1, V, generator=g)
    pos = sinusoid(n_ctx, C, split=True)
    src, mask, tgt_in, labels = batch(g, V - 1, V - 1, pad, pad, eos, [5, 3], [7, 4], S, T)

    def attn(W, p, x, kv, key_mask, causal):
        Bq, Tq, _ = x.shape
        Tk = kv.shape[1]
        q = (x @ W[p + "q_proj.weight"].t() + W[p + "q_proj.bias"]) * D ** -0.5
        k = kv @ W[p + "k_proj.weight"].t() + W[p + "k_proj.bias"]
        v = kv @ W[p + "v_proj.weight"].t() + W[p + "v_proj.bias"]
        q = q.view(Bq, Tq, H, D).transpose(1, 2)
        k = k.view(Bq, Tk, H, D).transpose(1, 2)
        v = v.view(Bq, Tk, H, D).transpose(1, 2)
        s = q @ k.transpose(-1, -2)
        neg = torch.finfo(s.dtype).min
        if key_mask is not None:
            s = s.masked_fill((key_mask == 0)[:, None, None, :], neg)
        if causal:
            s = s.masked_fill(torch.triu(torch.ones(Tq, Tk, dtype=torch.bool), 1), neg)
        o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(Bq, Tq, C)
        return o @ W[p + "out_proj.weight"].t() + W[p + "out_proj.bias"]

    def lnorm(W, p, x):
        return F.layer_norm(x, (C,), W[p + ".weight"], W[p + ".bias"], 1e-5)

    def ffn(W, p, x):
        h = F.silu(x @ W[p + "fc1.weight"].t() + W[p + "fc1.bias"])
        return h @ W[p + "fc2.weight"].t() + W[p + "fc2.bias"]

    def forward(dtype):
        W = {k: v.detach().to(dtype).clone().requires_grad_() for k, v in P.items()}
        Es = W["model.shared.weight"]
        sc = math.sqrt(C)
        x = Es[src] * sc + pos[:S].to(dtype)
        for l in range(L):
            p = f"model.encoder.layers.{l}."
            x = lnorm(W, p + "self_attn_layer_norm", x + attn(W, p + "self_attn.", x, x, mask, False))
            x = lnorm(W, p + "final_layer_norm", x + ffn(W, p, x))
        enc = x
        y = Es[tgt_in] * sc + pos[:T].to(dtype)
        for l in range(Ld):
            p = f"model.decoder.layers.{l}."
            y = lnorm(W, p + "self_attn_layer_norm", y + attn(W, p + "self_attn.", y, y, None, True))
            y = lnorm(W, p + "encoder_attn_layer_norm",
                      y + attn(W, p + "encoder_attn.", y, enc, mask, False))
            y = lnorm(W, p + "final_layer_norm", y + ffn(W, p, y))
        logits = y @ Es.t() + W["final_logits_bias"]
        loss = smoothed_loss(logits, labels, EPS_LS)
        loss.backward()
        grads = {k: v.grad.detach().clone() for k, v in W.items()}
        return enc.detach(), logits.detach(), loss.detach(), grads

    enc32, logits32, loss32, grads32 = forward(torch.float32)
    enc, logits, loss, grads = forward(torch.float64)

    def to_cf(t):
        o = {"tok_embeddings": t["model.shared.weight"], "logits_bias": t["final_logits_bias"]}
        for side, pre, n_l in (("encoder", "layers", L), ("decoder", "dec_layers", Ld)):
            for l in range(n_l):
                p, q = f"model.{side}.layers.{l}.", f"{pre}.{l}."
                attns = [("self_attn.", "attn.", "self_attn_layer_norm", "norm1")]
                if side == "decoder":
                    attns.append(("encoder_attn.", "cross.", "encoder_attn_layer_norm", "norm_cross"))
                for a, ours, lnn, mine in attns:
                    for hf, x in (("q_proj", "q"), ("k_proj", "k"), ("v_proj", "v"), ("out_proj", "o")):
                        o[q + ours + "w" + x] = t[p + a + hf + ".weight"]
                        o[q + ours + "b" + x] = t[p + a + hf + ".bias"]
                    o[q + mine + ".weight"], o[q + mine + ".bias"] = t[p + lnn + ".weight"], t[p + lnn + ".bias"]
                o[q + "mlp.w_up"], o[q + "mlp.b_up"] = t[p + "fc1.weight"], t[p + "fc1.bias"]
                o[q + "mlp.w_down"], o[q + "mlp.b_down"] = t[p + "fc2.weight"], t[p + "fc2.bias"]
                o[q + "norm2.weight"] = t[p + "final_layer_norm.weight"]
                o[q + "norm2.bias"] = t[p + "final_layer_norm.bias"]
        return o

    d = os.path.join(out, "s2s_marian")
    os.makedirs(d, exist_ok=True)
    cfg = {"architectures": ["MarianMTModel"], "model_type": "marian", "activation_function": "swish",
           "d_model": C, "encoder_layers": L, "decoder_layers": Ld, "encoder_attention_heads": H,
           "decoder_attention_heads": H, "encoder_ffn_dim": F_, "decoder_ffn_dim": F_,
           "max_position_embeddings": n_ctx, "vocab_size": V, "decoder_vocab_size": V,
           "share_encoder_decoder_embeddings": True, "scale_embedding": True,
           "normalize_before": False, "static_position_embeddings": True,
           "pad_token_id": pad, "eos_token_id": eos, "bos_token_id": 0,
           "decoder_start_token_id": pad, "forced_eos_token_id": eos, "bad_words_ids": [[pad]],
           "num_beams": 4, "max_length": n_ctx, "is_encoder_decoder": True,
           "tie_word_embeddings": True, "torch_dtype": "float32"}
    write_json(os.path.join(d, "config.json"), cfg)
    W = dict(P)
    # The position tables are saved too, as transformers does (computed, not trained).
    W["model.encoder.embed_positions.weight"] = pos
    W["model.decoder.embed_positions.weight"] = pos
    st_write(os.path.join(d, "model.safetensors"), W, {"format": "pt"})
    E = {"src": src, "src_mask": mask, "tgt_in": tgt_in, "labels": labels, "enc": enc,
         "logits": logits, "loss": loss.reshape(1)}
    for k, v in to_cf(grads).items():
        E["grad." + k] = v
    st_write(os.path.join(d, "expected.safetensors"), E,
             meta("s2s_marian", B=B, S=S, T=T, label_smoothing=EPS_LS))
    report("s2s_marian", enc32, enc, logits32, logits, loss32, loss, grads32, grads)


def report(name, enc32, enc, l32, l, s32, s, g32, g):
    gd = max(float((g32[k].double() - g[k]).abs().max()) for k in g)
    print(f"{name}: float32 vs float64: enc {float((enc32.double() - enc).abs().max()):.2g}, "
          f"logits {float((l32.double() - l).abs().max()):.2g}, loss "
          f"{abs(float(s32) - float(s)):.2g}, grads {gd:.2g}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    gen_torch(out, report)
    gen_marian(out, report)


if __name__ == "__main__":
    main()
