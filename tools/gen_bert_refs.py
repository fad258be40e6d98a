#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for cformer's encoders (tests/golden/test_bert.c).

Usage (Debian's torch; the python3 first on PATH may not see it):

    /usr/bin/python3 tools/gen_bert_refs.py [OUT_DIR]      # default: tests/fixtures

The reference is written here in plain torch, not imported from any model library:

  * the blocks are torch.nn.TransformerEncoderLayer(norm_first=False, activation="gelu",
    batch_first=True, dropout=0), i.e. BERT's post-norm block, with its fused in_proj split
    into Hugging Face's query/key/value tensors, and src_key_padding_mask for the padding;
  * the embeddings are word + position + token type (BERT), word + position with positions
    counted from padding_idx + 1 and pads at padding_idx (RoBERTa), or word + position
    (DistilBERT), then LayerNorm;
  * the heads follow transformers' definitions: pooler dense + tanh on the first token,
    classifier; MLM transform dense + GELU + LayerNorm then the word embeddings (tied) plus a
    bias; token classifier; qa_outputs split into start/end logits; DistilBERT's pre_classifier
    + ReLU. Losses: CrossEntropyLoss with class weights, ignore_index -100 for token
    classification and MLM, and BertForQuestionAnswering's mean of the start and end losses
    with positions clamped to [0, T] and T ignored.

Weights are saved in the Hugging Face layout (config.json + model.safetensors, with a
position_ids buffer and an unused NSP head to ignore, one folder without the "bert." prefix),
so the C test exercises the loader too. Reference values are float64 evaluations of the
float32 weights; expected.safetensors holds inputs, hidden states, logits, losses and the
gradient of every cformer parameter ("grad.<cformer name>", zeros for a parameter the task does
not use). The float32-vs-float64 spread of torch itself is printed as the scale for the C
tolerances. Seeded; byte-identical from run to run with the same torch and BLAS (another BLAS
changes gradients that are zero by symmetry, e.g. the key biases', at the 1e-16 level).

st_embed is a sentence-transformers folder (modules.json, 1_Pooling, Normalize,
sentence_bert_config.json) with texts and the vectors `cformer embed` must print for them.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_refs import MAGIC, st_write, write_json  # noqa: E402  (safetensors writer)

FIXTURE_VERSION = "1"
torch.set_num_threads(1)

C, H, L, FF, V, T, B = 12, 3, 2, 20, 40, 7, 2
LENGTHS = [7, 4]  # the second sequence is padded
EPS = 1e-12


def r(g, *s):
    return torch.randn(*s, generator=g)


def init(g, fam, n_pos, n_types, heads, n_labels):
    """HF tensors of a tiny encoder with the given heads ({"pooler", "mlm", "seq", "tok", "qa"})."""
    pre = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert."}[fam]
    P = {pre + "embeddings.word_embeddings.weight": 0.5 * r(g, V, C),
         pre + "embeddings.position_embeddings.weight": 0.3 * r(g, n_pos, C)}
    if n_types:
        P[pre + "embeddings.token_type_embeddings.weight"] = 0.3 * r(g, n_types, C)
    P[pre + "embeddings.LayerNorm.weight"] = 1.0 + 0.1 * r(g, C)
    P[pre + "embeddings.LayerNorm.bias"] = 0.1 * r(g, C)
    for l in range(L):
        if fam == "distilbert":
            p = f"{pre}transformer.layer.{l}."
            names = ["attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                     "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"]
        else:
            p = f"{pre}encoder.layer.{l}."
            names = ["attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                     "output.dense", "output.LayerNorm"]
        q, k, v, o, n1, up, down, n2 = [p + n for n in names]
        for n in (q, k, v, o):
            P[n + ".weight"] = r(g, C, C) / math.sqrt(C)
            P[n + ".bias"] = 0.1 * r(g, C)
        P[n1 + ".weight"] = 1.0 + 0.1 * r(g, C)
        P[n1 + ".bias"] = 0.1 * r(g, C)
        P[up + ".weight"] = r(g, FF, C) / math.sqrt(C)
        P[up + ".bias"] = 0.1 * r(g, FF)
        P[down + ".weight"] = r(g, C, FF) / math.sqrt(FF)
        P[down + ".bias"] = 0.1 * r(g, C)
        P[n2 + ".weight"] = 1.0 + 0.1 * r(g, C)
        P[n2 + ".bias"] = 0.1 * r(g, C)
    H_ = head_names(fam, heads)
    if "pooler" in heads:
        P[H_["pooler"] + ".weight"] = r(g, C, C) / math.sqrt(C)
        P[H_["pooler"] + ".bias"] = 0.1 * r(g, C)
    if "mlm" in heads:
        P[H_["mlm_dense"] + ".weight"] = r(g, C, C) / math.sqrt(C)
        P[H_["mlm_dense"] + ".bias"] = 0.1 * r(g, C)
        P[H_["mlm_norm"] + ".weight"] = 1.0 + 0.1 * r(g, C)
        P[H_["mlm_norm"] + ".bias"] = 0.1 * r(g, C)
        P[H_["mlm_bias"]] = 0.1 * r(g, V)
    if "seq" in heads or "tok" in heads:
        P[H_["cls"] + ".weight"] = r(g, n_labels, C) / math.sqrt(C)
        P[H_["cls"] + ".bias"] = 0.1 * r(g, n_labels)
    if "qa" in heads:
        P["qa_outputs.weight"] = r(g, 2, C) / math.sqrt(C)
        P["qa_outputs.bias"] = 0.1 * r(g, 2)
    return P


def head_names(fam, heads):
    if fam == "bert":
        return {"pooler": "bert.pooler.dense", "mlm_dense": "cls.predictions.transform.dense",
                "mlm_norm": "cls.predictions.transform.LayerNorm",
                "mlm_bias": "cls.predictions.bias", "cls": "classifier"}
    if fam == "roberta":
        seq = "seq" in heads
        return {"pooler": "classifier.dense" if seq else "roberta.pooler.dense",
                "mlm_dense": "lm_head.dense", "mlm_norm": "lm_head.layer_norm",
                "mlm_bias": "lm_head.bias", "cls": "classifier.out_proj" if seq else "classifier"}
    return {"pooler": "pre_classifier", "mlm_dense": "vocab_transform",
            "mlm_norm": "vocab_layer_norm", "mlm_bias": "vocab_projector.bias",
            "cls": "classifier"}


def to_cformer(fam, heads, n_types, G):
    """HF name -> cformer name for every tensor of the model (gradients use these names)."""
    pre = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert."}[fam]
    m = {pre + "embeddings.word_embeddings.weight": "tok_embeddings",
         pre + "embeddings.position_embeddings.weight": "pos_embeddings",
         pre + "embeddings.LayerNorm.weight": "norm_e.weight",
         pre + "embeddings.LayerNorm.bias": "norm_e.bias"}
    if n_types:
        m[pre + "embeddings.token_type_embeddings.weight"] = "tok_type_embeddings"
    for l in range(L):
        if fam == "distilbert":
            p = f"{pre}transformer.layer.{l}."
            names = ["attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                     "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"]
        else:
            p = f"{pre}encoder.layer.{l}."
            names = ["attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                     "output.dense", "output.LayerNorm"]
        ours = [("attn.wq", "attn.bq"), ("attn.wk", "attn.bk"), ("attn.wv", "attn.bv"),
                ("attn.wo", "attn.bo"), ("norm1.weight", "norm1.bias"),
                ("mlp.w_up", "mlp.b_up"), ("mlp.w_down", "mlp.b_down"),
                ("norm2.weight", "norm2.bias")]
        for n, (w, b) in zip(names, ours):
            m[p + n + ".weight"] = f"layers.{l}.{w}"
            m[p + n + ".bias"] = f"layers.{l}.{b}"
    H_ = head_names(fam, heads)
    m[H_["pooler"] + ".weight"] = "pooler.weight"
    m[H_["pooler"] + ".bias"] = "pooler.bias"
    m[H_["mlm_dense"] + ".weight"] = "mlm.dense.weight"
    m[H_["mlm_dense"] + ".bias"] = "mlm.dense.bias"
    m[H_["mlm_norm"] + ".weight"] = "mlm.norm.weight"
    m[H_["mlm_norm"] + ".bias"] = "mlm.norm.bias"
    m[H_["mlm_bias"]] = "mlm.bias"
    m[H_["cls"] + ".weight"] = "classifier.weight"
    m[H_["cls"] + ".bias"] = "classifier.bias"
    m["qa_outputs.weight"] = "qa.weight"
    m["qa_outputs.bias"] = "qa.bias"
    return {m[n]: gr for n, gr in G.items()}


class Ref(torch.nn.Module):
    """The reference encoder in torch, from HF-named tensors Q (float64 leaves)."""

    def __init__(self, fam, Q, pad_id):
        super().__init__()
        self.fam, self.Q, self.pad_id = fam, Q, pad_id
        self.pre = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert."}[fam]

    def layer(self, l, dtype):
        # A fresh TransformerEncoderLayer whose parameters are views of the leaves: built from
        # them with torch.nn.utils.parametrize would hide the gradients, so the layer's own
        # parameters are replaced by the leaves (functional_call keeps autograd to Q).
        lay = torch.nn.TransformerEncoderLayer(C, H, FF, dropout=0.0, activation="gelu",
                                               layer_norm_eps=EPS, batch_first=True,
                                               norm_first=False, dtype=dtype)
        lay.train()  # dropout is 0; train() keeps torch off its fused inference path
        Q, pre = self.Q, self.pre
        if self.fam == "distilbert":
            p = f"{pre}transformer.layer.{l}."
            q, k, v, o = (p + "attention.q_lin", p + "attention.k_lin", p + "attention.v_lin",
                          p + "attention.out_lin")
            n1, up, down, n2 = (p + "sa_layer_norm", p + "ffn.lin1", p + "ffn.lin2",
                                p + "output_layer_norm")
        else:
            p = f"{pre}encoder.layer.{l}."
            q, k, v, o = (p + "attention.self.query", p + "attention.self.key",
                          p + "attention.self.value", p + "attention.output.dense")
            n1, up, down, n2 = (p + "attention.output.LayerNorm", p + "intermediate.dense",
                                p + "output.dense", p + "output.LayerNorm")
        params = {
            "self_attn.in_proj_weight": torch.cat([Q[q + ".weight"], Q[k + ".weight"],
                                                   Q[v + ".weight"]]),
            "self_attn.in_proj_bias": torch.cat([Q[q + ".bias"], Q[k + ".bias"], Q[v + ".bias"]]),
            "self_attn.out_proj.weight": Q[o + ".weight"], "self_attn.out_proj.bias": Q[o + ".bias"],
            "linear1.weight": Q[up + ".weight"], "linear1.bias": Q[up + ".bias"],
            "linear2.weight": Q[down + ".weight"], "linear2.bias": Q[down + ".bias"],
            "norm1.weight": Q[n1 + ".weight"], "norm1.bias": Q[n1 + ".bias"],
            "norm2.weight": Q[n2 + ".weight"], "norm2.bias": Q[n2 + ".bias"],
        }
        return lay, params

    def hidden(self, tokens, types, mask):
        Q, pre = self.Q, self.pre
        dtype = Q[pre + "embeddings.word_embeddings.weight"].dtype
        if self.fam == "roberta":
            m = (tokens != self.pad_id).long()
            pos = torch.cumsum(m, dim=1) * m + self.pad_id
        else:
            pos = torch.arange(tokens.shape[1]).unsqueeze(0).expand_as(tokens)
        x = Q[pre + "embeddings.word_embeddings.weight"][tokens]
        x = x + Q[pre + "embeddings.position_embeddings.weight"][pos]
        tt = pre + "embeddings.token_type_embeddings.weight"
        if tt in Q:
            x = x + Q[tt][types]
        x = F.layer_norm(x, (C,), Q[pre + "embeddings.LayerNorm.weight"],
                         Q[pre + "embeddings.LayerNorm.bias"], EPS)
        pad = mask == 0  # src_key_padding_mask: True = not attended
        for l in range(L):
            lay, params = self.layer(l, dtype)
            x = torch.func.functional_call(lay, params, (x,), {"src_key_padding_mask": pad}) \
                if hasattr(torch, "func") else \
                torch.nn.utils.stateless.functional_call(lay, params, (x,),
                                                         {"src_key_padding_mask": pad})
        return x


def heads_out(fam, heads, Q, h):
    """Logits of each head from hidden states h (B, T, C)."""
    H_ = head_names(fam, heads)
    out = {}
    if "pooler" in heads:
        pooled = h[:, 0] @ Q[H_["pooler"] + ".weight"].t() + Q[H_["pooler"] + ".bias"]
        pooled = torch.relu(pooled) if fam == "distilbert" else torch.tanh(pooled)
        if "seq" in heads:
            out["seq"] = pooled @ Q[H_["cls"] + ".weight"].t() + Q[H_["cls"] + ".bias"]
        out["pooled"] = pooled
    if "mlm" in heads:
        t = F.gelu(h @ Q[H_["mlm_dense"] + ".weight"].t() + Q[H_["mlm_dense"] + ".bias"])
        t = F.layer_norm(t, (C,), Q[H_["mlm_norm"] + ".weight"], Q[H_["mlm_norm"] + ".bias"], EPS)
        pre = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert."}[fam]
        out["mlm"] = t @ Q[pre + "embeddings.word_embeddings.weight"].t() + Q[H_["mlm_bias"]]
    if "tok" in heads:
        out["tok"] = h @ Q[H_["cls"] + ".weight"].t() + Q[H_["cls"] + ".bias"]
    if "qa" in heads:
        out["qa"] = h @ Q["qa_outputs.weight"].t() + Q["qa_outputs.bias"]
    return out


def loss_of(task, out, lab):
    if task == "mlm":
        return F.cross_entropy(out["mlm"].reshape(-1, V), lab["mlm"].reshape(-1), ignore_index=-100)
    if task == "seq":
        return F.cross_entropy(out["seq"], lab["seq"], weight=lab["class_w"].to(out["seq"].dtype))
    if task == "tok":
        K = out["tok"].shape[-1]
        return F.cross_entropy(out["tok"].reshape(-1, K), lab["tok"].reshape(-1), ignore_index=-100)
    # BertForQuestionAnswering
    s, e = out["qa"][..., 0], out["qa"][..., 1]
    ignored = s.shape[1]
    sp = lab["start"].clamp(0, ignored)
    ep = lab["end"].clamp(0, ignored)
    return (F.cross_entropy(s, sp, ignore_index=ignored) +
            F.cross_entropy(e, ep, ignore_index=ignored)) / 2


def run(fam, heads, task, P, pad_id, inputs, lab, dtype):
    Q = {n: p.detach().to(dtype).clone().requires_grad_() for n, p in P.items()}
    ref = Ref(fam, Q, pad_id)
    h = ref.hidden(*inputs)
    out = heads_out(fam, heads, Q, h)
    loss = loss_of(task, out, lab)
    loss.backward()
    G = {n: (q.grad if q.grad is not None else torch.zeros_like(q)) for n, q in Q.items()}
    return h.detach(), {k: v.detach() for k, v in out.items()}, loss.detach(), G


def make(out_dir, name, fam, heads, task, seed, report, n_labels=0, prefix=True, extra=None,
         vocab=False):
    g = torch.Generator().manual_seed(seed)
    pad_id = 1 if fam == "roberta" else 0
    n_pos = T + 2 + 2 if fam == "roberta" else 16
    n_types = 0 if fam == "distilbert" else (1 if fam == "roberta" else 2)
    P = init(g, fam, n_pos, n_types, heads, n_labels)
    # Inputs: ids avoid the pad id inside the sequences; padded tail is pad_id.
    tokens = torch.randint(2, V, (B, T), generator=g)
    mask = torch.zeros(B, T, dtype=torch.int64)
    types = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        mask[b, :n] = 1
        tokens[b, n:] = pad_id
        if n_types > 1:
            types[b, n // 2:n] = 1
    lab = {"class_w": torch.tensor([0.5, 2.0, 1.25, 0.75, 1.5])[:max(n_labels, 1)]}
    lab["seq"] = torch.tensor([2, 0]) % max(n_labels, 1)
    lab["mlm"] = torch.full((B, T), -100, dtype=torch.int64)
    lab["mlm"][0, 1], lab["mlm"][0, 4], lab["mlm"][1, 2] = 7, 31, 12
    lab["tok"] = torch.randint(0, max(n_labels, 1), (B, T), generator=g)
    lab["tok"][mask == 0] = -100
    lab["start"] = torch.tensor([2, 1])
    lab["end"] = torch.tensor([5, 99])  # 99 is clamped to T and so ignored
    inputs = (tokens, types, mask)
    h, out, loss, G = run(fam, heads, task, P, pad_id, inputs, lab, torch.float64)
    h32, out32, loss32, G32 = run(fam, heads, task, P, pad_id, inputs, lab, torch.float32)
    spread = {"hidden": float((h32.double() - h).abs().max()),
              "loss": abs(float(loss32) - float(loss)),
              "grad": max(float((G32[n].double() - G[n]).abs().max()) for n in G)}
    for k in out:
        spread[k] = float((out32[k].double() - out[k]).abs().max())
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    # The checkpoint in the HF layout, with what real ones carry besides the weights.
    S = dict(P)
    pre = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert."}[fam]
    if fam != "distilbert":
        S[pre + "embeddings.position_ids"] = torch.arange(n_pos, dtype=torch.int32).unsqueeze(0)
    if extra:
        S.update(extra(g))
    if not prefix:
        S = {(n[len(pre):] if n.startswith(pre) else n): v for n, v in S.items()}
    st_write(os.path.join(d, "model.safetensors"), S, {"format": "pt"})
    write_json(os.path.join(d, "config.json"), config_json(fam, heads, n_pos, n_types, n_labels,
                                                          pad_id))
    if vocab:
        with open(os.path.join(d, "vocab.txt"), "w") as f:
            specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            for i in range(V):
                f.write((specials[i] if i < len(specials) else f"w{i}") + "\n")
    E = {"tokens": tokens, "type_ids": types, "mask": mask.to(torch.uint8), "hidden": h,
         "loss": loss.reshape(1)}
    for k, v in out.items():
        E["out." + k] = v
    E["labels"] = lab[task] if task in ("mlm", "seq", "tok") else torch.zeros(B, dtype=torch.int64)
    E["start"], E["end"], E["class_w"] = lab["start"], lab["end"], lab["class_w"].float()
    # Sentence embeddings from the hidden states (float64), pooled as sentence-transformers does.
    E["embed.cls"] = F.normalize(st_pool(h, mask, "cls"), dim=-1)
    E["embed.mean"] = F.normalize(st_pool(h, mask, "mean"), dim=-1)
    E["embed.mean_raw"] = st_pool(h, mask, "mean")
    E["embed.max"] = F.normalize(st_pool(h, mask, "max"), dim=-1)
    E["embed.mean_sqrt_len_raw"] = st_pool(h, mask, "mean_sqrt_len")
    for n, gr in to_cformer(fam, heads, n_types, G).items():
        E["grad." + n] = gr
    st_write(os.path.join(d, "expected.safetensors"), E,
             {"magic": MAGIC, "fixture_version": FIXTURE_VERSION, "kind": fam, "task": task})
    report[name] = spread


def st_pool(h, mask, mode):
    """sentence-transformers' Pooling modes on hidden states h (B, T, C) with mask (B, T): the
    first token; the masked mean (token count clamped to 1e-9); the maximum with padding set
    to -1e9; the masked sum over the square root of the token count."""
    if mode == "cls":
        return h[:, 0]
    m = mask.unsqueeze(-1).to(h.dtype)
    if mode == "max":
        return torch.where(m > 0, h, torch.full_like(h, -1e9)).max(dim=1).values
    total, n = (h * m).sum(1), m.sum(1).clamp(min=1e-9)
    return total / n if mode == "mean" else total / torch.sqrt(n)


ST_TEXTS = ["w5 w17 w9", "w30 w6 w6 w21 w8 w11 w39 w14 w25 w7", "w12 w33 w20 w28 w9"]


def make_st(out_dir, name, seed, report):
    """A sentence-transformers folder (BertModel at the root, modules.json, 1_Pooling with max
    pooling, Normalize, sentence_bert_config.json with max_seq_length 8) and the vectors that
    `cformer embed` must print for the lines of texts.txt, as sentence-transformers makes them:
    the vocabulary is [PAD] [UNK] [CLS] [SEP] [MASK] w5 .. w39, a text's words are its tokens,
    and [CLS] + words + [SEP] is cut to max_seq_length keeping the [SEP]."""
    g = torch.Generator().manual_seed(seed)
    n_pos, n_types = 16, 2
    P = init(g, "bert", n_pos, n_types, set(), 0)
    P = {n[len("bert."):]: v for n, v in P.items()}  # BertModel: no prefix

    def encode(text, max_len):
        ids = [2] + [int(w[1:]) for w in text.split()] + [3]
        return ids if len(ids) <= max_len else ids[:max_len - 1] + [3]

    def embed(mode, normalize, max_len):
        seqs = [encode(t, max_len) for t in ST_TEXTS]
        Tm = max(len(q) for q in seqs)
        tokens = torch.zeros(len(seqs), Tm, dtype=torch.int64)
        mask = torch.zeros(len(seqs), Tm, dtype=torch.int64)
        for i, q in enumerate(seqs):
            tokens[i, :len(q)] = torch.tensor(q)
            mask[i, :len(q)] = 1
        Q = {"bert." + n: v.double() for n, v in P.items()}
        h = Ref("bert", Q, 0).hidden(tokens, torch.zeros_like(tokens), mask).detach()
        e = st_pool(h, mask, mode)
        return F.normalize(e, dim=-1) if normalize else e

    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    st_write(os.path.join(d, "model.safetensors"), P, {"format": "pt"})
    write_json(os.path.join(d, "config.json"), config_json("bert", set(), n_pos, n_types, 0, 0))
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        for i in range(V):
            f.write((["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"][i] if i < 5 else f"w{i}") +
                    "\n")
    write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"}])
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": C, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": True,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    write_json(os.path.join(d, "sentence_bert_config.json"),
               {"max_seq_length": 8, "do_lower_case": False})
    with open(os.path.join(d, "texts.txt"), "w") as f:
        f.write("\n".join(ST_TEXTS) + "\n")
    E = {"cli.default": embed("max", True, 8),                     # the folder's own set-up
         "cli.mean_sqrt_len_raw": embed("mean_sqrt_len", False, 8),  # --pooling, --no-normalize
         "cli.cls_len4": embed("cls", True, 4)}                    # --pooling cls --max-len 4
    st_write(os.path.join(d, "expected.safetensors"), {k: v.float() for k, v in E.items()},
             {"magic": MAGIC, "fixture_version": FIXTURE_VERSION, "kind": "sentence-transformers"})
    report[name] = {}


def config_json(fam, heads, n_pos, n_types, n_labels, pad_id):
    arch_base = {"bert": "Bert", "roberta": "Roberta", "distilbert": "DistilBert"}[fam]
    suffix = ("ForSequenceClassification" if "seq" in heads else
              "ForTokenClassification" if "tok" in heads else
              "ForQuestionAnswering" if "qa" in heads else
              "ForMaskedLM" if "mlm" in heads else "Model")
    o = {"architectures": [arch_base + suffix], "model_type": fam, "vocab_size": V,
         "max_position_embeddings": n_pos, "pad_token_id": pad_id, "torch_dtype": "float32"}
    if fam == "distilbert":
        o.update({"dim": C, "n_layers": L, "n_heads": H, "hidden_dim": FF, "activation": "gelu",
                  "dropout": 0.1, "sinusoidal_pos_embds": False, "tie_weights_": True})
    else:
        o.update({"hidden_size": C, "num_hidden_layers": L, "num_attention_heads": H,
                  "intermediate_size": FF, "hidden_act": "gelu", "type_vocab_size": n_types,
                  "layer_norm_eps": EPS, "position_embedding_type": "absolute",
                  "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1})
        if fam == "roberta":
            o.update({"bos_token_id": 0, "eos_token_id": 2})
    if n_labels:
        names = ["NEG", "NEU", "POS", "B-PER", "I-PER"][:n_labels] if n_labels != 5 else \
            ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
        o["id2label"] = {str(i): n for i, n in enumerate(names)}
        o["label2id"] = {n: i for i, n in enumerate(names)}
    return o


def nsp_head(g):
    return {"cls.seq_relationship.weight": r(g, 2, C), "cls.seq_relationship.bias": r(g, 2)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    report = {}
    make(out, "bert_mlm", "bert", {"pooler", "mlm"}, "mlm", 101, report, extra=nsp_head,
         vocab=True)
    make(out, "bert_seq", "bert", {"pooler", "seq"}, "seq", 102, report, n_labels=3)
    make(out, "bert_tok", "bert", {"tok"}, "tok", 103, report, n_labels=5)
    make(out, "bert_qa", "bert", {"qa"}, "qa", 104, report, prefix=False)
    make(out, "roberta_mlm", "roberta", {"mlm"}, "mlm", 105, report)
    make(out, "distilbert_seq", "distilbert", {"pooler", "seq"}, "seq", 106, report, n_labels=3)
    make_st(out, "st_embed", 107, report)
    for k, v in report.items():
        print(k, " ".join(f"{a}={b:.2e}" for a, b in v.items()))


if __name__ == "__main__":
    main()
