#!/usr/bin/env python3
"""Writes src/tokenizers/unicode_compat.h: where the Hugging Face tokenizers library's
character classes disagree with utf8proc's Unicode data.

The library's BertNormalizer (clean_text, strip_accents) and BertPreTokenizer / Punctuation
classify characters with the unicode_categories crate, whose tables are from Unicode 8.0;
utf8proc knows Unicode 15. Characters assigned (or re-categorised) in between are treated
differently, e.g. U+2E43 is punctuation to utf8proc and not to the library. This script asks
the reference itself, character by character, and lists the code points where its answer
differs from utf8proc's category; unicode.c consults the lists. Nothing is typed by hand.

Usage (utf8proc's shared library, and node with the tokenizers library as for
gen_tokenizer_refs.py):

    /usr/bin/python3 tools/gen_unicode_compat.py
"""

import ctypes
import ctypes.util
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_MODULES = os.environ.get("CF_TOKREF_NODE", "/tmp/tokref/node_modules")
OUT = os.path.join(ROOT, "src", "tokenizers", "unicode_compat.h")

# utf8proc_category values.
CN, MN, PC, PO, CC, CF, CO = 0, 6, 12, 18, 26, 27, 29

PROBE = r"""
const tk = require('@anush008/tokenizers');
const cps = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const clean = tk.bertNormalizer({cleanText: true, handleChineseChars: false, stripAccents: false,
                                 lowercase: false});
const strip = tk.bertNormalizer({cleanText: false, handleChineseChars: false, stripAccents: true,
                                 lowercase: false});
const pre = tk.bertPreTokenizer();
const marks = tk.stripAccentsNormalizer(), nfdN = tk.nfdNormalizer(), nfkdN = tk.nfkdNormalizer();
const out = [];
for (const c of cps) {
  const ch = String.fromCodePoint(c);
  const d = nfdN.normalizeString(ch), kd = nfkdN.normalizeString(ch);
  const mark = [...d].length === 1 && marks.normalizeString('a' + ch + 'b') === 'ab';
  const other = clean.normalizeString('a' + ch + 'b') === 'ab';
  // A lone mark stays a mark under NFD unless it decomposes; compare with its NFD form.
  const nfd = ch.normalize('NFD');
  const mn = [...nfd].length === 1 && strip.normalizeString('a' + ch + 'b') === 'ab';
  const punct = pre.preTokenizeString('a' + ch + 'b').length === 3;
  out.push((other ? 1 : 0) | (mn ? 2 : 0) | (punct ? 4 : 0) | (mark ? 8 : 0) |
           (d !== ch ? 16 : 0) | (kd !== d ? 32 : 0));
}
process.stdout.write(JSON.stringify(out));
"""


def ranges(cps):
    out = []
    for c in sorted(cps):
        if out and out[-1][1] + 1 == c:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def main():
    lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
    lib.utf8proc_category.restype = ctypes.c_int
    lib.utf8proc_category.argtypes = [ctypes.c_int32]
    cps = [c for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    cat = {c: lib.utf8proc_category(c) for c in cps}
    # Ask the reference about every character utf8proc has assigned (and a sample of the rest,
    # to see that unassigned ones agree too).
    probe = [c for c in cps if cat[c] != CN or c % 509 == 0]
    script = os.path.join("/tmp", "cf_unicode_probe.js")
    with open(script, "w") as f:
        f.write(PROBE)
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    r = subprocess.run(["node", script], input=json.dumps(probe), capture_output=True, text=True,
                       env=env, check=True)
    ans = dict(zip(probe, json.loads(r.stdout)))
    lib.utf8proc_NFD.restype = ctypes.c_void_p
    lib.utf8proc_NFKD.restype = ctypes.c_void_p
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]

    def norm(f, c):
        p = f(chr(c).encode("utf-8", "surrogatepass") + b"\0")
        r = ctypes.string_at(p).decode("utf-8", "replace")
        libc.free(p)
        return r

    tables = {"other": ([], []), "mn": ([], []), "punct": ([], []), "mark": ([], []),
              "decomp": ([], []), "compat": ([], [])}
    for c in probe:
        k = cat[c]
        d = norm(lib.utf8proc_NFD, c)
        mine = {"other": k in (CC, CF, CO), "mn": k == MN, "punct": PC <= k <= PO,
                "mark": 6 <= k <= 8, "decomp": d != chr(c),
                "compat": norm(lib.utf8proc_NFKD, c) != d}
        ref = {"other": bool(ans[c] & 1), "mn": bool(ans[c] & 2), "punct": bool(ans[c] & 4),
               "mark": bool(ans[c] & 8), "decomp": bool(ans[c] & 16), "compat": bool(ans[c] & 32)}
        for name in tables:
            # Marks are asked about as single characters (as the reference's data has them).
            single = len(d) == 1 or not ref["decomp"]
            if name in ("mn", "mark") and (not single or (not mine[name] and not ref[name])):
                continue
            if mine[name] and not ref[name]:
                tables[name][0].append(c)
            elif ref[name] and not mine[name]:
                tables[name][1].append(c)
    lines = [
        "// Generated by tools/gen_unicode_compat.py from answers of the Hugging Face tokenizers",
        "// library (npm @anush008/tokenizers 0.6.0) and utf8proc %s: code points whose class"
        % lib_version(lib),
        "// the library (Unicode 8.0 / 9.0 tables of the unicode_categories and",
        "// unicode-normalization-alignments crates) sees differently from utf8proc's Unicode data.",
        "// Ranges [first, last]. Do not edit; rerun the script.",
        "#ifndef CF_UNICODE_COMPAT_H",
        "#define CF_UNICODE_COMPAT_H",
        "",
        "#include <stdint.h>",
        "",
    ]
    desc = {"other": "Cc/Cf/Co (BertNormalizer clean_text)",
            "mn": "Mn (BertNormalizer strip_accents)",
            "punct": "P* (BertPreTokenizer, Punctuation)",
            "mark": "M* (StripAccents, unicode-normalization-alignments' Unicode 9 data)",
            "decomp": "with a canonical decomposition (NFD/NFC, Unicode 9 data)",
            "compat": "with a compatibility decomposition beyond the canonical one (NFKD/NFKC)"}
    for name, (no, yes) in tables.items():
        for kind, lst in (("not", no), ("also", yes)):
            rs = ranges(lst)
            lines.append("// %s %s: %d code points." % (
                "Not" if kind == "not" else "Also", desc[name], len(lst)))
            lines.append("static const uint32_t cf__compat_%s_%s[][2] = {" % (kind, name))
            row = "   "
            for a, b in rs:
                item = " {0x%X, 0x%X}," % (a, b)
                if len(row) + len(item) > 99:
                    lines.append(row)
                    row = "   "
                row += item
            if not rs:
                row += " {0xFFFFFFFF, 0xFFFFFFFF},"
            lines.append(row)
            lines.append("};")
    lines += ["", "#endif", ""]
    with open(OUT, "w") as f:
        f.write("\n".join(lines))
    for name, (no, yes) in tables.items():
        print("%-6s: %4d code points utf8proc counts and the reference does not, %d the other "
              "way" % (name, len(no), len(yes)))


def lib_version(lib):
    lib.utf8proc_version.restype = ctypes.c_char_p
    return lib.utf8proc_version().decode()


if __name__ == "__main__":
    main()
