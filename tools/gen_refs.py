#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that tests/golden/test_golden.c compares cformer with.

Usage (Debian's torch; the python3 first on PATH may not see it):

    /usr/bin/python3 tools/gen_refs.py [OUT_DIR]      # default: tests/fixtures

The reference models are written here in plain torch from their published definitions, not
imported from any library:

  * GPT-2 as Hugging Face's GPT2LMHeadModel computes it: learned positions, pre-LayerNorm
    (eps from layer_norm_epsilon), Conv1D weights stored (in, out), q|k|v fused in c_attn along
    the output dimension, "gelu_new" (tanh GELU), biases everywhere, final ln_f, lm_head tied to
    wte. Saved as an HF folder: config.json + model.safetensors with HF's tensor names.
  * Llama as LlamaForCausalLM: RMSNorm (rms_norm_eps), rotary embeddings in the rotate_half
    convention with inv_freq = 1 / theta^(arange(0, D, 2) / D) computed in float32, SwiGLU MLP
    down(silu(gate(x)) * up(x)), no biases, grouped-query attention (num_key_value_heads),
    untied lm_head (tied in one config). Saved as an HF folder.
  * llama2.c: the legacy (version 0) .bin checkpoint, interleaved rotary pairs (2i, 2i + 1),
    theta 10000, RMSNorm eps 1e-5; a tokenizer.bin in llama2.c's format; run.c's encode
    algorithm re-implemented below, and its decode rule.
  * torch.nn.MultiheadAttention itself (batch_first, odd head count, with and without a causal
    mask).

Numerics: weights and inputs are drawn in float32 (what the C side loads), then every reference
computation runs in float64, so the stored values are the exact model evaluated on those
weights up to float64 rounding; the remaining difference is cformer's own float32 error. The
script also runs each model in float32 and prints the float32-vs-float64 spread, which is the
scale the C tolerances are set against. Hyperparameters are rounded to float32 first, because
the C side holds them as float.

Everything is seeded, and the files are byte-identical from one run to the next (same torch).
Expected values go into <fixture>/expected.safetensors: cformer parameter names and layout
(rows = out, cols = in, vectors 1-D) for gradients ("grad.<name>"), int32 token arrays, float32
values, and __metadata__ with fixture_version and the hyperparameters.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

FIXTURE_VERSION = "1"
MAGIC = "cformer-golden"

torch.set_num_threads(1)  # determinism; the models are tiny


def f32(x):
    """A Python float rounded to float32, as the C side holds hyperparameters."""
    return float(np.float32(x))


# ---- safetensors writer ----

DTYPES = {np.dtype("<f4"): "F32", np.dtype("<i4"): "I32", np.dtype("u1"): "U8"}


def to_np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.float64:
            x = x.float()
        x = x.numpy()
    x = np.ascontiguousarray(x)
    if x.dtype == np.float64 or x.dtype == np.float32:
        return x.astype("<f4")
    if x.dtype in (np.int64, np.int32):
        return x.astype("<i4")
    if x.dtype == np.uint8:
        return x
    raise TypeError(f"unsupported dtype {x.dtype}")


def st_write(path, tensors, meta):
    """Writes tensors (an ordered dict name -> array) to a safetensors file: 8-byte little-endian
    header length, JSON header padded with spaces to a multiple of 8, then the data, contiguous
    in header order with no holes."""
    header, blobs, off = {}, [], 0
    for name, x in tensors.items():
        a = to_np(x)
        b = a.tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# ---- shared pieces of the reference models (float64) ----

def causal_attention(q, k, v):
    """q, k, v: (B, H, T, D). softmax(q k^T / sqrt(D) + causal mask) v."""
    T, D = q.shape[-2], q.shape[-1]
    s = q @ k.transpose(-1, -2) / math.sqrt(D)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    s = s.masked_fill(mask, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def rms_norm(x, w, eps):
    """Llama RMSNorm: w * x / sqrt(mean(x^2) + eps)."""
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def gelu_new(x):
    """GPT-2's "gelu_new": the tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def rope_angles(T, D, theta):
    """Angles (T, D/2) as HF and llama2.c compute them: frequency and angle in float32."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    t = torch.arange(T, dtype=torch.float32)
    return torch.outer(t, inv_freq).double()


def rope_half(x, ang):
    """HF Llama rotate_half: x (B, H, T, D); pairs (i, i + D/2)."""
    emb = torch.cat([ang, ang], dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    rot = torch.cat([-x2, x1], dim=-1)
    return x * cos + rot * sin


def rope_interleaved(x, ang):
    """llama2.c / Meta Llama: pairs (2i, 2i + 1) rotated by angle i."""
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack([y0, y1], dim=-1).flatten(-2)


# ---- GPT-2 (GPT2LMHeadModel conventions, HF tensor names) ----

def gpt2_init(cfg, g):
    C, V, L, NP = cfg["n_embd"], cfg["vocab_size"], cfg["n_layer"], cfg["n_positions"]
    F_ = cfg["n_inner"] or 4 * C
    r = lambda *s: torch.randn(*s, generator=g)
    P = {"transformer.wte.weight": 0.5 * r(V, C), "transformer.wpe.weight": 0.2 * r(NP, C)}
    for l in range(L):
        p = f"transformer.h.{l}."
        P[p + "ln_1.weight"] = 1.0 + 0.1 * r(C)
        P[p + "ln_1.bias"] = 0.1 * r(C)
        P[p + "attn.c_attn.weight"] = r(C, 3 * C) / math.sqrt(C)  # Conv1D: (in, out)
        P[p + "attn.c_attn.bias"] = 0.1 * r(3 * C)
        P[p + "attn.c_proj.weight"] = r(C, C) / math.sqrt(C)
        P[p + "attn.c_proj.bias"] = 0.1 * r(C)
        P[p + "ln_2.weight"] = 1.0 + 0.1 * r(C)
        P[p + "ln_2.bias"] = 0.1 * r(C)
        P[p + "mlp.c_fc.weight"] = r(C, F_) / math.sqrt(C)
        P[p + "mlp.c_fc.bias"] = 0.1 * r(F_)
        P[p + "mlp.c_proj.weight"] = r(F_, C) / math.sqrt(F_)
        P[p + "mlp.c_proj.bias"] = 0.1 * r(C)
    P["transformer.ln_f.weight"] = 1.0 + 0.1 * r(C)
    P["transformer.ln_f.bias"] = 0.1 * r(C)
    return P


def gpt2_forward(P, cfg, tokens):
    B, T = tokens.shape
    C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    D = C // H
    x = P["transformer.wte.weight"][tokens] + P["transformer.wpe.weight"][:T]
    heads = lambda t: t.view(B, T, H, D).transpose(1, 2)
    for l in range(cfg["n_layer"]):
        p = f"transformer.h.{l}."
        h = F.layer_norm(x, (C,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps)
        qkv = h @ P[p + "attn.c_attn.weight"] + P[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=-1)
        a = causal_attention(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(B, T, C)
        x = x + a @ P[p + "attn.c_proj.weight"] + P[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (C,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps)
        m = gelu_new(h @ P[p + "mlp.c_fc.weight"] + P[p + "mlp.c_fc.bias"])
        x = x + m @ P[p + "mlp.c_proj.weight"] + P[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], eps)
    return x @ P["transformer.wte.weight"].t()  # tied lm_head


def gpt2_to_cformer(P, cfg):
    """HF GPT-2 tensors (or their gradients) -> cformer names and (out, in) layout."""
    C = cfg["n_embd"]
    out = {"tok_embeddings": P["transformer.wte.weight"],
           "pos_embeddings": P["transformer.wpe.weight"]}
    for l in range(cfg["n_layer"]):
        h, c = f"transformer.h.{l}.", f"layers.{l}."
        w, b = P[h + "attn.c_attn.weight"], P[h + "attn.c_attn.bias"]
        out[c + "norm1.weight"] = P[h + "ln_1.weight"]
        out[c + "norm1.bias"] = P[h + "ln_1.bias"]
        for i, n in enumerate("qkv"):
            out[c + "attn.w" + n] = w[:, i * C:(i + 1) * C].t()
            out[c + "attn.b" + n] = b[i * C:(i + 1) * C]
        out[c + "attn.wo"] = P[h + "attn.c_proj.weight"].t()
        out[c + "attn.bo"] = P[h + "attn.c_proj.bias"]
        out[c + "norm2.weight"] = P[h + "ln_2.weight"]
        out[c + "norm2.bias"] = P[h + "ln_2.bias"]
        out[c + "mlp.w_up"] = P[h + "mlp.c_fc.weight"].t()
        out[c + "mlp.b_up"] = P[h + "mlp.c_fc.bias"]
        out[c + "mlp.w_down"] = P[h + "mlp.c_proj.weight"].t()
        out[c + "mlp.b_down"] = P[h + "mlp.c_proj.bias"]
    out["norm_f.weight"] = P["transformer.ln_f.weight"]
    out["norm_f.bias"] = P["transformer.ln_f.bias"]
    return out


def gpt2_config_json(cfg):
    V = cfg["vocab_size"]
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.0,
        "bos_token_id": V - 1,
        "embd_pdrop": 0.0,
        "eos_token_id": V - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": cfg["layer_norm_epsilon"],
        "model_type": "gpt2",
        "n_embd": cfg["n_embd"],
        "n_head": cfg["n_head"],
        "n_inner": cfg["n_inner"],
        "n_layer": cfg["n_layer"],
        "n_positions": cfg["n_positions"],
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.0,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": V,
    }


# ---- Llama (LlamaForCausalLM conventions, HF tensor names) ----

def llama_dims(cfg):
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    D = cfg.get("head_dim") or C // H
    return C, H, cfg["num_key_value_heads"], D


def llama_init(cfg, g):
    C, H, KVH, D = llama_dims(cfg)
    V, F_, L = cfg["vocab_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    r = lambda *s: torch.randn(*s, generator=g)
    P = {"model.embed_tokens.weight": r(V, C)}
    for l in range(L):
        p = f"model.layers.{l}."
        P[p + "input_layernorm.weight"] = 1.0 + 0.1 * r(C)
        P[p + "self_attn.q_proj.weight"] = r(H * D, C) / math.sqrt(C)  # Linear: (out, in)
        P[p + "self_attn.k_proj.weight"] = r(KVH * D, C) / math.sqrt(C)
        P[p + "self_attn.v_proj.weight"] = r(KVH * D, C) / math.sqrt(C)
        P[p + "self_attn.o_proj.weight"] = r(C, H * D) / math.sqrt(H * D)
        P[p + "post_attention_layernorm.weight"] = 1.0 + 0.1 * r(C)
        P[p + "mlp.gate_proj.weight"] = r(F_, C) / math.sqrt(C)
        P[p + "mlp.up_proj.weight"] = r(F_, C) / math.sqrt(C)
        P[p + "mlp.down_proj.weight"] = r(C, F_) / math.sqrt(F_)
    P["model.norm.weight"] = 1.0 + 0.1 * r(C)
    if not cfg.get("tie_word_embeddings"):  # tied: saved without lm_head.weight, as HF does
        P["lm_head.weight"] = r(V, C) / math.sqrt(C)
    return P


def llama_forward(P, cfg, tokens, interleaved=False):
    """LlamaForCausalLM; with interleaved, llama2.c's rotary convention instead."""
    B, T = tokens.shape
    C, H, KVH, D = llama_dims(cfg)
    eps, rep = cfg["rms_norm_eps"], H // KVH
    ang = rope_angles(T, D, cfg["rope_theta"])
    rope = rope_interleaved if interleaved else rope_half
    x = P["model.embed_tokens.weight"][tokens]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        q = (h @ P[p + "self_attn.q_proj.weight"].t()).view(B, T, H, D).transpose(1, 2)
        k = (h @ P[p + "self_attn.k_proj.weight"].t()).view(B, T, KVH, D).transpose(1, 2)
        v = (h @ P[p + "self_attn.v_proj.weight"].t()).view(B, T, KVH, D).transpose(1, 2)
        q, k = rope(q, ang), rope(k, ang)
        # HF repeat_kv: query head h reads kv head h // rep.
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        a = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, H * D)
        x = x + a @ P[p + "self_attn.o_proj.weight"].t()
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        gate = F.silu(h @ P[p + "mlp.gate_proj.weight"].t())
        x = x + (gate * (h @ P[p + "mlp.up_proj.weight"].t())) @ P[p + "mlp.down_proj.weight"].t()
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["lm_head.weight"] if "lm_head.weight" in P else P["model.embed_tokens.weight"]
    return x @ head.t()


def llama_to_cformer(P, cfg):
    out = {"tok_embeddings": P["model.embed_tokens.weight"]}
    for l in range(cfg["num_hidden_layers"]):
        h, c = f"model.layers.{l}.", f"layers.{l}."
        out[c + "norm1.weight"] = P[h + "input_layernorm.weight"]
        out[c + "attn.wq"] = P[h + "self_attn.q_proj.weight"]
        out[c + "attn.wk"] = P[h + "self_attn.k_proj.weight"]
        out[c + "attn.wv"] = P[h + "self_attn.v_proj.weight"]
        out[c + "attn.wo"] = P[h + "self_attn.o_proj.weight"]
        out[c + "norm2.weight"] = P[h + "post_attention_layernorm.weight"]
        out[c + "mlp.w_gate"] = P[h + "mlp.gate_proj.weight"]
        out[c + "mlp.w_up"] = P[h + "mlp.up_proj.weight"]
        out[c + "mlp.w_down"] = P[h + "mlp.down_proj.weight"]
    out["norm_f.weight"] = P["model.norm.weight"]
    if "lm_head.weight" in P:
        out["lm_head"] = P["lm_head.weight"]
    return out


def llama_config_json(cfg):
    o = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": cfg["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": cfg["intermediate_size"],
        "max_position_embeddings": cfg["max_position_embeddings"],
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": cfg["num_attention_heads"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_key_value_heads": cfg["num_key_value_heads"],
        "pretraining_tp": 1,
        "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_scaling": None,
        "rope_theta": cfg["rope_theta"],
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings")),
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": cfg["vocab_size"],
    }
    if cfg.get("head_dim"):
        o["head_dim"] = cfg["head_dim"]
    return o


# ---- reference computations shared by every model ----

def leaves(P, dtype=torch.float64):
    return {n: p.detach().to(dtype).clone().requires_grad_() for n, p in P.items()}


def cross_entropy(logits, targets):
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)


def forward_backward(fwd, P, tokens, targets):
    """Logits, mean loss and the gradient of every parameter, in float64."""
    Q = leaves(P)
    logits = fwd(Q, tokens)
    loss = cross_entropy(logits, targets)
    loss.backward()
    return logits.detach(), loss.detach(), {n: q.grad for n, q in Q.items()}


def spread32(fwd, P, tokens, targets, logits64, loss64, grads64):
    """Max |float32 - float64| of logits, loss and gradients: the float32 noise floor."""
    Q = leaves(P, torch.float32)
    logits = fwd(Q, tokens)
    loss = cross_entropy(logits, targets)
    loss.backward()
    dg = max(float((q.grad.double() - grads64[n]).abs().max()) for n, q in Q.items())
    return (float((logits.double() - logits64).abs().max()),
            abs(float(loss) - float(loss64)), dg)


def adamw_run(fwd, P, decay, hp, batches, dtype=torch.float64):
    """torch.optim.AdamW on fixed batches (S, A, B, T + 1), float64. Weight decay only on the
    parameters named in decay (matrices and embeddings); constant lr; the gradient averaged over
    the A micro-batches; clip_grad_norm_ at hp["grad_clip"] (0: off). Returns the per-step
    loss (mean over micro-batches, before the update) and global gradient norm (before
    clipping)."""
    Q = leaves(P, dtype)
    dec = [q for n, q in Q.items() if n in decay]
    nodec = [q for n, q in Q.items() if n not in decay]
    opt = torch.optim.AdamW([{"params": dec, "weight_decay": hp["weight_decay"]},
                             {"params": nodec, "weight_decay": 0.0}],
                            lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"])
    S, A, _, T1 = batches.shape
    losses, norms = [], []
    for s in range(S):
        opt.zero_grad()
        total = 0.0
        for a in range(A):
            rows = batches[s, a]
            loss = cross_entropy(fwd(Q, rows[:, :-1]), rows[:, 1:])
            (loss / A).backward()
            total += float(loss)
        params = list(Q.values())
        if hp["grad_clip"] > 0:
            norm = float(torch.nn.utils.clip_grad_norm_(params, hp["grad_clip"]))
        else:
            norm = float(torch.sqrt(sum((q.grad ** 2).sum() for q in params)))
        opt.step()
        losses.append(total / A)
        norms.append(norm)
    return torch.tensor(losses), torch.tensor(norms)


def greedy(fwd, P, prompt, n):
    """Greedy (argmax, first index on ties) continuation of n tokens, recomputing the whole
    sequence each step. Also returns the smallest top-1 minus top-2 logit gap seen."""
    Q = {k: v.double() for k, v in P.items()}
    toks, gap = list(prompt), float("inf")
    with torch.no_grad():
        for _ in range(n):
            last = fwd(Q, torch.tensor([toks]))[0, -1]
            top = torch.topk(last, 2).values
            gap = min(gap, float(top[0] - top[1]))
            toks.append(int(torch.argmax(last)))
    # float32 engines differ from this by ~1e-6: a near tie would make the golden fragile.
    assert gap > 1e-3, f"greedy top-2 gap {gap} is too small; change the prompt or seed"
    return toks[len(prompt):], gap


def random_tokens(g, V, *shape):
    return torch.randint(0, V, shape, generator=g, dtype=torch.int64)


def meta_common(kind, **kw):
    m = {"magic": MAGIC, "fixture_version": FIXTURE_VERSION, "kind": kind}
    m.update(kw)
    return m


def model_expected(fwd, P, to_cf, decay_hf, V, B, T, g, hp, S=10, A=1, ignore=None,
                   greedy_prompt=None):
    """The expected-values tensors for one model: inputs, logits, loss, gradients, AdamW."""
    tokens = random_tokens(g, V, B, T)
    targets = random_tokens(g, V, B, T)
    if ignore:
        for b, t in ignore:
            targets[b, t] = -1
    logits, loss, grads = forward_backward(fwd, P, tokens, targets)
    sp = spread32(fwd, P, tokens, targets, logits, loss, grads)
    E = {"tokens": tokens, "targets": targets, "logits": logits, "loss": loss.reshape(1)}
    for n, gr in to_cf(grads).items():
        E["grad." + n] = gr
    batches = random_tokens(g, V, S, A, B, T + 1)
    if ignore:
        batches[S // 2, 0, 0, -1] = -1  # a row whose last target is ignored
    losses, norms = adamw_run(fwd, P, decay_hf, hp, batches)
    losses32, _ = adamw_run(fwd, P, decay_hf, hp, batches, torch.float32)
    if hp["grad_clip"] > 0:
        assert float(norms.max()) > hp["grad_clip"], "clipping is never exercised"
    E["train.batches"] = batches
    E["train.loss"] = losses
    E["train.grad_norm"] = norms
    info = {"spread32": sp, "train_spread32": float((losses32.double() - losses).abs().max())}
    if greedy_prompt is not None:
        out, gap = greedy(fwd, P, greedy_prompt, 20)
        E["greedy.prompt"] = torch.tensor(greedy_prompt)
        E["greedy.tokens"] = torch.tensor(out)
        info["greedy_gap"] = gap
    return E, info


def hp_meta(hp, B, T, A, S):
    m = {k: repr(v) for k, v in hp.items()}
    m.update({"batch_size": B, "seq_len": T, "grad_accum": A, "steps": S})
    return m


# ---- the HF configs ----

GPT2_CONFIGS = [
    # name, config, B, T, A, hp overrides, greedy prompt
    ("gpt2_h1", dict(n_embd=16, n_head=1, n_layer=2, n_inner=40, vocab_size=50, n_positions=16,
                     layer_norm_epsilon=1e-5), 2, 5, 1, {}, None),
    ("gpt2_h3", dict(n_embd=24, n_head=3, n_layer=2, n_inner=48, vocab_size=61, n_positions=32,
                     layer_norm_epsilon=1e-5), 2, 13, 2, {}, [5, 17, 3, 42, 8, 60]),
    # n_inner null: Hugging Face's default of 4 * n_embd; no clipping.
    ("gpt2_h4", dict(n_embd=16, n_head=4, n_layer=2, n_inner=None, vocab_size=53, n_positions=16,
                     layer_norm_epsilon=1e-5), 2, 7, 1, {"grad_clip": 0.0}, None),
]

LLAMA_CONFIGS = [
    ("llama_h6_kv2", dict(hidden_size=24, num_attention_heads=6, num_key_value_heads=2,
                          intermediate_size=40, vocab_size=64, num_hidden_layers=2,
                          max_position_embeddings=32, rms_norm_eps=1e-6, rope_theta=10000.0),
     2, 7, 1, {}, [1, 9, 33, 2, 57]),
    ("llama_h3_kv1", dict(hidden_size=24, num_attention_heads=3, num_key_value_heads=1,
                          intermediate_size=40, vocab_size=53, num_hidden_layers=2,
                          max_position_embeddings=16, rms_norm_eps=1e-5, rope_theta=500000.0),
     2, 13, 1, {}, None),
    # head_dim given explicitly and different from hidden_size / heads (q/o are 20 wide), and
    # the lm_head tied to the embeddings (as Llama 3.2 1B does).
    ("llama_h2_hd10", dict(hidden_size=16, num_attention_heads=2, num_key_value_heads=2,
                           head_dim=10, intermediate_size=32, vocab_size=50, num_hidden_layers=2,
                           max_position_embeddings=16, rms_norm_eps=1e-5, rope_theta=10000.0,
                           tie_word_embeddings=True),
     2, 5, 2, {}, None),
]

BASE_HP = dict(lr=f32(1e-2), beta1=f32(0.9), beta2=f32(0.95), eps=f32(1e-8),
               weight_decay=f32(0.1), grad_clip=f32(0.5))


def gen_gpt2(out, seed, name, cfg, B, T, A, hpo, prompt, report):
    g = torch.Generator().manual_seed(seed)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    P = gpt2_init(cfg, g)
    write_json(os.path.join(d, "config.json"), gpt2_config_json(cfg))
    st_write(os.path.join(d, "model.safetensors"), P, {"format": "pt"})
    hp = dict(BASE_HP, **hpo)
    decay = {n for n, p in P.items() if p.dim() == 2}
    fwd = lambda Q, t: gpt2_forward(Q, cfg, t)
    E, info = model_expected(fwd, P, lambda G: gpt2_to_cformer(G, cfg), decay,
                             cfg["vocab_size"], B, T, g, hp, A=A, greedy_prompt=prompt)
    st_write(os.path.join(d, "expected.safetensors"), E,
             meta_common("gpt2", **hp_meta(hp, B, T, A, 10)))
    report[name] = info


def gen_llama(out, seed, name, cfg, B, T, A, hpo, prompt, report):
    g = torch.Generator().manual_seed(seed)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    P = llama_init(cfg, g)
    write_json(os.path.join(d, "config.json"), llama_config_json(cfg))
    st_write(os.path.join(d, "model.safetensors"), P, {"format": "pt"})
    hp = dict(BASE_HP, **hpo)
    decay = {n for n, p in P.items() if p.dim() == 2}
    fwd = lambda Q, t: llama_forward(Q, cfg, t)
    E, info = model_expected(fwd, P, lambda G: llama_to_cformer(G, cfg), decay,
                             cfg["vocab_size"], B, T, g, hp, A=A, ignore=[(0, 2), (1, T - 1)],
                             greedy_prompt=prompt)
    st_write(os.path.join(d, "expected.safetensors"), E,
             meta_common("llama", **hp_meta(hp, B, T, A, 10)))
    report[name] = info


# ---- torch.nn.MultiheadAttention ----

def gen_mha(out, seed, report):
    """Self-attention through torch.nn.MultiheadAttention (batch_first, 3 heads) against a
    fixed upstream gradient: outputs and gradients w.r.t. the input and every weight."""
    g = torch.Generator().manual_seed(seed)
    E_, H = 15, 3  # head_dim 5: odd everywhere
    r = lambda *s: torch.randn(*s, generator=g)
    w_in, b_in = r(3 * E_, E_) / math.sqrt(E_), 0.1 * r(3 * E_)
    w_out, b_out = r(E_, E_) / math.sqrt(E_), 0.1 * r(E_)
    X = {"in_proj_weight": w_in, "in_proj_bias": b_in, "out_proj_weight": w_out,
         "out_proj_bias": b_out}
    meta = meta_common("mha", embed_dim=E_, num_heads=H)
    variants = [("full", 2, 7, False), ("causal", 2, 7, True),
                ("causal_long", 1, 67, True)]  # 67 query rows cross cformer's 64-row blocks
    spread = 0.0
    for vname, B, T, causal in variants:
        x32, up32 = r(B, T, E_), r(B, T, E_)
        for dt in (torch.float64, torch.float32):
            mha = torch.nn.MultiheadAttention(E_, H, batch_first=True, dtype=dt)
            with torch.no_grad():
                mha.in_proj_weight.copy_(w_in)
                mha.in_proj_bias.copy_(b_in)
                mha.out_proj.weight.copy_(w_out)
                mha.out_proj.bias.copy_(b_out)
            mha.eval()  # no dropout (it is 0 anyway)
            x = x32.to(dt).clone().requires_grad_()
            mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
            y, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
            y.backward(up32.to(dt))
            res = {"out": y, "dx": x.grad, "d_in_proj_weight": mha.in_proj_weight.grad,
                   "d_in_proj_bias": mha.in_proj_bias.grad,
                   "d_out_proj_weight": mha.out_proj.weight.grad,
                   "d_out_proj_bias": mha.out_proj.bias.grad}
            if dt == torch.float64:
                ref = res
            else:
                spread = max(spread, max(float((res[k].double() - ref[k]).abs().max())
                                         for k in res))
        X[vname + ".x"] = x32
        X[vname + ".upstream"] = up32
        for k, v in ref.items():
            X[vname + "." + k] = v
        meta[vname] = f"{B},{T},{int(causal)}"
    os.makedirs(os.path.join(out, "mha"), exist_ok=True)
    st_write(os.path.join(out, "mha", "expected.safetensors"), X, meta)
    report["mha"] = {"spread32": spread}


# ---- llama2.c: tokenizer.bin, run.c's encode and decode ----

def llama2c_vocab():
    """(pieces as bytes, scores). ids 0..2 special, 3..258 byte fallbacks, then pieces."""
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"]
    pieces += [("<0x%02X>" % b).encode() for b in range(256)]
    scores = [0.0] * len(pieces)
    singles = [" ", "\n"] + list("abcdefghijklmnopqrstuvwxyz") + list("ACDEHILMOSTW")
    singles += list(".,!?'0123456789") + ["é", "ñ", "€", "😀"]
    for s in singles:
        pieces.append(s.encode())
        scores.append(-1000.0)  # never the result of a merge except as noted below
    # Merged pieces and scores (higher merges first). Equal scores exercise the leftmost-pair
    # tie rule (th/he, an/at, ll/lo, xy/yz, no/on).
    merges = [
        ("th", -1.0), ("he", -1.0), ("the", -2.0), (" the", -3.0), (" t", -4.0),
        ("an", -5.0), ("at", -5.0), (" a", -6.0), ("and", -7.0), (" and", -8.0),
        ("in", -9.0), ("er", -10.0), ("re", -10.5), ("on", -11.0), (" on", -12.0),
        (" c", -13.0), ("ca", -13.5), (" ca", -14.0), (" cat", -15.0), ("cat", -15.5),
        (" s", -16.0), ("sa", -16.5), (" sat", -17.0), (" m", -18.0), ("ma", -18.5),
        (" mat", -19.0), ("  ", -20.0), ("   ", -21.0), ("    ", -21.5), ("He", -22.0),
        ("ll", -23.0), ("lo", -23.0), ("llo", -24.0), ("Hello", -25.0), ("wo", -26.0),
        ("or", -26.5), ("rl", -27.0), ("ld", -27.5), ("orld", -28.0), (" w", -29.0),
        (" wo", -29.5), (" world", -30.0), ("caf", -31.0), ("café", -32.0), (" café", -33.0),
        ("ñ", -1000.0), ("é!", -34.0), ("€1", -35.0), ("00", -36.0), ("100", -37.0),
        (" 😀", -38.0), ("ee", -39.0), ("eee", -40.0), ("ne", -41.0), (" ne", -42.0),
        ("li", -43.0), ("ine", -44.0), (" line", -45.0), ("ta", -46.0), ("tab", -47.0),
        # Ties whose order changes the result: "xyz" is [xy, z] leftmost-first, [x, yz]
        # otherwise; "non" is [no, n], not [n, on].
        ("xy", -50.0), ("yz", -50.0), ("no", -11.0),
    ]
    for s, sc in merges:
        b = s.encode()
        if b in pieces:  # a single already present: keep the first, no duplicates
            continue
        pieces.append(b)
        scores.append(sc)
    assert len(set(pieces)) == len(pieces)
    return pieces, scores


def write_tokenizer_bin(path, pieces, scores):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for p, s in zip(pieces, scores):
            f.write(struct.pack("<fi", s, len(p)))
            f.write(p)


def llama2c_encode(pieces, scores, text, bos=True):
    """run.c's encode(): BOS, a dummy-prefix " " when text is not empty, one piece per UTF-8
    sequence (a byte plus up to 3 continuation bytes) or byte-fallback ids byte + 3, then merge
    the best-scoring adjacent pair (leftmost on ties) until none is in the vocabulary. Pairs
    are looked up by the concatenated piece texts, so "<0x..>" fallbacks never merge."""
    lookup = {p: i for i, p in reversed(list(enumerate(pieces)))}
    toks = [1] if bos else []
    if text:
        toks.append(lookup[b" "])
    buf = b""
    for i, c in enumerate(text):
        if c & 0xC0 != 0x80:
            buf = b""
        buf += bytes([c])
        nxt = text[i + 1] if i + 1 < len(text) else 0
        if nxt & 0xC0 == 0x80 and len(buf) < 4:
            continue
        if buf in lookup:
            toks.append(lookup[buf])
        else:
            toks.extend(b + 3 for b in buf)
        buf = b""
    while True:
        best, best_id, best_i = -1e10, -1, -1
        for i in range(len(toks) - 1):
            pid = lookup.get(pieces[toks[i]] + pieces[toks[i + 1]], -1)
            if pid != -1 and scores[pid] > best:
                best, best_id, best_i = scores[pid], pid, i
        if best_i < 0:
            break
        toks[best_i:best_i + 2] = [best_id]
    return toks


def llama2c_decode(pieces, prev, tok):
    """run.c's decode(): drop a piece's leading space after BOS; "<0xXX>" is that byte."""
    p = pieces[tok]
    if prev == 1 and p.startswith(b" "):
        p = p[1:]
    if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
        try:
            return bytes([int(p[3:5], 16)])
        except ValueError:
            pass
    return p


TOKENIZER_TEXTS = [
    b"the cat sat on the mat",
    b"Hello, world!",
    "café ñandú".encode(),         # é, ñ in the vocabulary; ú is not: two fallback bytes
    "日本語".encode(),              # 3-byte sequences, all missing
    "emoji 😀 and 🙂!".encode(),    # one 4-byte piece known, one not
    b"",
    b"a  b   c    d",
    b"   ",
    b"\ttab\nnew line",
    b"thethe theeee",
    b"~`|{}",
    b"\x80\x80\x80\x80\x80x\xc3",   # invalid UTF-8: stray continuations, truncated lead
    "€100 and é!".encode(),
    b" leading space",
    b"a",
    b"anat and an at",
    b"xyz non onon",
]


# ---- llama2.c model (.bin, legacy version 0) ----

def llama2c_init(cfg, g):
    """Weights under cformer names (the same layout llama2.c's export writes)."""
    C, H, KVH, F_, L, V = (cfg[k] for k in ("dim", "n_heads", "n_kv_heads", "hidden_dim",
                                              "n_layers", "vocab_size"))
    D = C // H
    r = lambda *s: torch.randn(*s, generator=g)
    P = {"tok_embeddings": r(V, C)}
    for l in range(L):
        c = f"layers.{l}."
        P[c + "norm1.weight"] = 1.0 + 0.1 * r(C)
        P[c + "attn.wq"] = r(H * D, C) / math.sqrt(C)
        P[c + "attn.wk"] = r(KVH * D, C) / math.sqrt(C)
        P[c + "attn.wv"] = r(KVH * D, C) / math.sqrt(C)
        P[c + "attn.wo"] = r(C, H * D) / math.sqrt(H * D)
        P[c + "norm2.weight"] = 1.0 + 0.1 * r(C)
        P[c + "mlp.w_gate"] = r(F_, C) / math.sqrt(C)
        P[c + "mlp.w_up"] = r(F_, C) / math.sqrt(C)
        P[c + "mlp.w_down"] = r(C, F_) / math.sqrt(F_)
    P["norm_f.weight"] = 1.0 + 0.1 * r(C)
    if not cfg["shared"]:
        P["lm_head"] = r(V, C) / math.sqrt(C)
    return P


def llama2c_write_bin(path, cfg, P):
    C, F_, L, H, KVH, V, T = (cfg[k] for k in ("dim", "hidden_dim", "n_layers", "n_heads",
                                                 "n_kv_heads", "vocab_size", "seq_len"))
    D = C // H
    stack = lambda key: torch.stack([P[f"layers.{l}.{key}"] for l in range(L)])
    parts = [P["tok_embeddings"], stack("norm1.weight"), stack("attn.wq"), stack("attn.wk"),
             stack("attn.wv"), stack("attn.wo"), stack("norm2.weight"), stack("mlp.w_gate"),
             stack("mlp.w_down"), stack("mlp.w_up"), P["norm_f.weight"]]
    # The legacy RoPE tables (freq_cis_real, freq_cis_imag), which readers skip: real values.
    ang = rope_angles(T, D, 10000.0).float()
    parts += [ang.cos(), ang.sin()]
    if not cfg["shared"]:
        parts.append(P["lm_head"])
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", C, F_, L, H, KVH, V if cfg["shared"] else -V, T))
        for p in parts:
            f.write(to_np(p.contiguous()).tobytes())


def llama2c_forward(P, cfg, tokens):
    """llama2.c's run.c forward, vectorised: interleaved RoPE, RMSNorm eps 1e-5."""
    hf = {"model.embed_tokens.weight": P["tok_embeddings"], "model.norm.weight": P["norm_f.weight"]}
    for l in range(cfg["n_layers"]):
        c, h = f"layers.{l}.", f"model.layers.{l}."
        hf[h + "input_layernorm.weight"] = P[c + "norm1.weight"]
        hf[h + "self_attn.q_proj.weight"] = P[c + "attn.wq"]
        hf[h + "self_attn.k_proj.weight"] = P[c + "attn.wk"]
        hf[h + "self_attn.v_proj.weight"] = P[c + "attn.wv"]
        hf[h + "self_attn.o_proj.weight"] = P[c + "attn.wo"]
        hf[h + "post_attention_layernorm.weight"] = P[c + "norm2.weight"]
        hf[h + "mlp.gate_proj.weight"] = P[c + "mlp.w_gate"]
        hf[h + "mlp.up_proj.weight"] = P[c + "mlp.w_up"]
        hf[h + "mlp.down_proj.weight"] = P[c + "mlp.w_down"]
    if "lm_head" in P:
        hf["lm_head.weight"] = P["lm_head"]
    lc = dict(hidden_size=cfg["dim"], num_attention_heads=cfg["n_heads"],
              num_key_value_heads=cfg["n_kv_heads"], num_hidden_layers=cfg["n_layers"],
              rms_norm_eps=1e-5, rope_theta=10000.0)
    return llama_forward(hf, lc, tokens, interleaved=True)


LLAMA2C_CONFIGS = [
    # file stem, config, B, T. The first has the tokenizer and the greedy checks.
    ("model", dict(dim=16, hidden_dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=0,
                   seq_len=32, shared=False), 1, 7),
    ("model_shared", dict(dim=24, hidden_dim=40, n_layers=2, n_heads=3, n_kv_heads=3,
                          vocab_size=64, seq_len=16, shared=True), 2, 5),
]


def gen_llama2c(out, seed, report):
    d = os.path.join(out, "llama2c")
    os.makedirs(d, exist_ok=True)
    pieces, scores = llama2c_vocab()
    write_tokenizer_bin(os.path.join(d, "tokenizer.bin"), pieces, scores)
    for k, (stem, cfg, B, T) in enumerate(LLAMA2C_CONFIGS):
        cfg = dict(cfg)
        if cfg["vocab_size"] == 0:
            cfg["vocab_size"] = len(pieces)
        g = torch.Generator().manual_seed(seed + k)
        P = llama2c_init(cfg, g)
        llama2c_write_bin(os.path.join(d, stem + ".bin"), cfg, P)
        fwd = lambda Q, t, cfg=cfg: llama2c_forward(Q, cfg, t)
        V = cfg["vocab_size"]
        tokens, targets = random_tokens(g, V, B, T), random_tokens(g, V, B, T)
        logits, loss, grads = forward_backward(fwd, P, tokens, targets)
        sp = spread32(fwd, P, tokens, targets, logits, loss, grads)
        E = {"tokens": tokens, "targets": targets, "logits": logits, "loss": loss.reshape(1)}
        if k == 1:  # gradients for the small model only (the other's vocabulary is large)
            for n, gr in grads.items():
                E["grad." + n] = gr
        info = {"spread32": sp, "loss": float(loss)}
        if k == 0:
            # decode() of every id after BOS and after an ordinary piece ("a").
            E["tok.decode_prev"] = torch.tensor([1, pieces.index(b"a")])
            for pname, prev in (("bos", 1), ("a", pieces.index(b"a"))):
                dec = [llama2c_decode(pieces, prev, i) for i in range(len(pieces))]
                E["tok.decode_" + pname] = np.frombuffer(b"".join(dec), dtype=np.uint8)
                E["tok.decode_" + pname + "_len"] = torch.tensor([len(x) for x in dec])
            # Tokenizer: every text's ids with BOS, concatenated, with lengths.
            ids, text_len, ids_len = [], [], []
            for t in TOKENIZER_TEXTS:
                e = llama2c_encode(pieces, scores, t)
                ids += e
                ids_len.append(len(e))
                text_len.append(len(t))
            E["tok.text"] = np.frombuffer(b"".join(TOKENIZER_TEXTS), dtype=np.uint8)
            E["tok.text_len"] = torch.tensor(text_len)
            E["tok.ids"] = torch.tensor(ids)
            E["tok.ids_len"] = torch.tensor(ids_len)
            # Greedy continuations of a prompt and of BOS alone, with llama2.c's decoding.
            gaps = []
            for gname, text in (("greedy", b"the cat"), ("greedy_bos", b"")):
                prompt = llama2c_encode(pieces, scores, text)
                cont, gap = greedy(fwd, P, prompt, 20)
                gaps.append(gap)
                assert 1 not in cont and 2 not in cont, "pick another seed: BOS/EOS generated"
                seq = prompt + cont
                txt = b"".join(llama2c_decode(pieces, seq[i - 1], seq[i])
                               for i in range(len(prompt), len(seq)))
                E[gname + ".prompt_text"] = np.frombuffer(text + b"\0", dtype=np.uint8)
                E[gname + ".prompt"] = torch.tensor(prompt)
                E[gname + ".tokens"] = torch.tensor(cont)
                E[gname + ".text"] = np.frombuffer(txt + b"\0", dtype=np.uint8)
                info[gname] = txt
            info["greedy_gap"] = min(gaps)
        meta = meta_common("llama2c", batch_size=B, seq_len=T, model=stem + ".bin")
        st_write(os.path.join(d, "expected" + stem[len("model"):] + ".safetensors"), E, meta)
        report["llama2c/" + stem] = info


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    out = os.path.normpath(out)
    os.makedirs(out, exist_ok=True)
    report = {}
    for i, (name, cfg, B, T, A, hpo, prompt) in enumerate(GPT2_CONFIGS):
        gen_gpt2(out, 1000 + i, name, cfg, B, T, A, hpo, prompt, report)
    for i, (name, cfg, B, T, A, hpo, prompt) in enumerate(LLAMA_CONFIGS):
        gen_llama(out, 2000 + i, name, cfg, B, T, A, hpo, prompt, report)
    gen_mha(out, 3000, report)
    gen_llama2c(out, 4000, report)
    total = 0
    for root, _, files in sorted(os.walk(out)):
        for f in sorted(files):
            total += os.path.getsize(os.path.join(root, f))
    print("max |float32 torch - float64 reference| (the C tolerances are set against these):")
    for k, v in report.items():
        line = f"  {k:22s}"
        if isinstance(v["spread32"], tuple):
            line += " logits %.2g  loss %.2g  grads %.2g" % v["spread32"]
        else:
            line += " outputs and grads %.2g" % v["spread32"]
        if "train_spread32" in v:
            line += "  adamw losses %.2g" % v["train_spread32"]
        if "greedy_gap" in v:
            line += "  (greedy top-2 gap >= %.2g)" % v["greedy_gap"]
        print(line)
    print(f"fixtures in {out}: {total} bytes")


if __name__ == "__main__":
    main()
