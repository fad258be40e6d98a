#!/usr/bin/env python3
"""Rewrites a safetensors file with every F32 tensor stored as F16 (round to nearest even).

Used to package the models committed under models/ at half the size; cformer (and transformers)
load F16 weights and compute in F32. Refuses values that F16 cannot hold (|x| > 65504) rather
than writing infinities. Standard library only.

  tools/safetensors_f16.py model.safetensors [out.safetensors]   (default: in place, atomically)
"""
import array
import json
import os
import struct
import sys


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    src = sys.argv[1]
    dst = sys.argv[2] if len(sys.argv) == 3 else src
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        data = f.read()
    meta = header.pop("__metadata__", None)
    out_header, chunks, off = {}, [], 0
    for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = t["data_offsets"]
        raw = data[b:e]
        if t["dtype"] == "F32":
            a = array.array("f")
            a.frombytes(raw)
            if sys.byteorder != "little":
                a.byteswap()
            big = max((abs(x) for x in a), default=0.0)
            if big > 65504:
                sys.exit(f"{src}: tensor {name} holds {big}, beyond F16's range")
            raw = struct.pack(f"<{len(a)}e", *a)
            dtype = "F16"
        else:
            dtype = t["dtype"]
        out_header[name] = {"dtype": dtype, "shape": t["shape"], "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    if meta is not None:
        out_header["__metadata__"] = meta
    hj = json.dumps(out_header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dst)
    print(f"{dst}: {os.path.getsize(dst) / 1e6:.1f} MB (was {(base + len(data)) / 1e6:.1f} MB)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
