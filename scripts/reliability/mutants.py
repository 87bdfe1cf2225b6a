"""How R6 breaks a model directory: each mutator(dir, rng, ctx) damages one copy and describes it.

safetensors surgery (bit flips, truncations, zero-filled chunks, JSON edits of the header),
config.json edits, damaged slider directions, and pickles whose __reduce__ would create a
file (the canary), written as model.safetensors or as a .pt for attn_demo.models.convert.
"""
from __future__ import annotations

import json
import math
import pickle
import random
import shutil
from pathlib import Path

CATEGORIES = {      # name: weight in the mix
    "st-bitflip-header": 12, "st-bitflip-data": 14, "st-truncate": 10, "st-zero-chunk": 8, "st-header-edit": 20,
    "config-edit": 14, "config-bomb": 3, "directions": 7, "pickle-as-safetensors": 4, "pt-convert": 8,
}
SMALL = [0, -1, 1, 2, 3, 7, 8, 16, 24, 31, 32, 33, 64, 128, 1.5, 32.0, float("nan"), float("inf"), "32", "", None,
         True, False, [], [16], [8, 16], [32], [4], [2], {}, [[16]], [-16], ["a"], ["cat"], ["cat", "dog"]]
HUGE = [512, 1024, 4096, 2 ** 20, 2 ** 31, 2 ** 63, 10 ** 12, 10 ** 400]
SIZE_FIELDS = ["g_width", "d_width", "z_dim", "num_classes", "heads"]
DTYPES = ["F16", "BF16", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2",
          "C64", "XX", "", 5, None]


class Canary:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# ------------------------------------------------------------------ safetensors surgery
def split(raw: bytes) -> tuple[int, bytes, bytes]:
    n = int.from_bytes(raw[:8], "little")
    return n, raw[8:8 + n], raw[8 + n:]


def join(header: dict | bytes, data: bytes, n: int | None = None) -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    h += b" " * (-len(h) % 8)
    return (len(h) if n is None else n).to_bytes(8, "little", signed=False) + h + data


def flip_bits(raw: bytearray, lo: int, hi: int, rng: random.Random) -> str:
    k = rng.choice([1, 1, 1, 2, 4, 16, 64])
    for _ in range(k):
        pos = rng.randrange(lo, max(lo + 1, hi))
        raw[pos] ^= 1 << rng.randrange(8)
    return f"{k} bit flips in [{lo}, {hi})"


def edit_header(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    n, hb, data = split(raw)
    h = json.loads(hb)
    names = [k for k in h if k != "__metadata__"]
    k = rng.choice(names)
    e = h[k]
    a, b = e["data_offsets"]
    kind = rng.choice(["dtype", "shape", "offsets", "delete", "rename", "metadata", "prefix", "not-json", "alias",
                       "pad", "duplicate-key", "extra-tensor"])
    if kind == "dtype":
        e["dtype"] = rng.choice(DTYPES)
    elif kind == "shape":
        s = list(e["shape"])
        e["shape"] = rng.choice([[], [0], s + [1], [1] + s, [2 ** 40], [-1], [2 ** 63], ["a"], s[::-1],
                                 [math.prod(s)], None, 5, [2 ** 32, 2 ** 32]])
    elif kind == "offsets":
        e["data_offsets"] = rng.choice([[b, a], [0, 2 ** 63], [a, a], [max(0, a - 1), b], [a, b + 1], [-1, b],
                                        [0.5, b], None, [a], [a, b, b], [a + len(data), b + len(data)]])
    elif kind == "delete":
        del h[k]
    elif kind == "rename":
        h[rng.choice(["", "../x", "a" * 10000, "\x00", k.upper(), k + ".extra", rng.choice(names)])] = h.pop(k)
    elif kind == "metadata":
        h["__metadata__"] = rng.choice([{"format": 5}, [], {"format": "attn-demo-generator", "config": "{bad"},
                                        None, "x", {"a": {"b": 1}}, {"x": "y" * 100000}])
    elif kind == "prefix":
        return join(hb, data, rng.choice([0, 1, n - 1, n + 1, n + 8, 2 ** 40, 2 ** 64 - 1, len(raw)])), "header length"
    elif kind == "not-json":
        junk = rng.choice([bytes(rng.randrange(256) for _ in range(n)), b"[" * n, b"\xff" * n])
        return join(junk, data, n), "header bytes replaced"
    elif kind == "alias":
        h["alias"] = dict(e)
    elif kind == "pad":
        return join(hb + rng.choice([b" ", b"\x00", b"\n", b"\t"]) * rng.choice([1, 7, 8, 4096]), data), "padded header"
    elif kind == "duplicate-key":
        text = hb.decode()
        dup = json.dumps({k: e})[1:-1]
        return join(("{" + dup + "," + text[1:]).encode(), data), f"duplicate key {k}"
    elif kind == "extra-tensor":
        h["extra"] = {"dtype": "F32", "shape": [4], "data_offsets": [len(data), len(data) + 16]}
        data = data + bytes(16)
    return join(h, data), f"header {kind} of {k}"


def write_safetensors(path: Path, tensors: dict, metadata: dict | None) -> None:
    """Save without attn-demo's own checks (NaN allowed): a file as a careless tool would write it."""
    from safetensors.torch import save
    path.write_bytes(save({k: v.contiguous() for k, v in tensors.items()}, metadata=metadata))


# ------------------------------------------------------------------ mutators: (dir, rng, ctx) -> description
def m_bitflip(region):
    def mutate(d: Path, rng, ctx) -> str:
        f = d / "model.safetensors"
        raw = bytearray(f.read_bytes())
        n = int.from_bytes(raw[:8], "little")
        lo, hi = (0, 8 + n) if region == "header" else (8 + n, len(raw))
        desc = flip_bits(raw, lo, hi, rng)
        f.write_bytes(bytes(raw))
        return desc
    return mutate


def m_truncate(d: Path, rng, ctx) -> str:
    f = d / "model.safetensors"
    raw = f.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    cut = rng.choice([rng.randrange(0, 9), rng.randrange(8, 8 + n), rng.randrange(8 + n, len(raw)), len(raw) - 1])
    f.write_bytes(raw[:cut])
    return f"truncated to {cut} of {len(raw)} bytes"


def m_zero_chunk(d: Path, rng, ctx) -> str:
    f = d / "model.safetensors"
    raw = bytearray(f.read_bytes())
    size = rng.choice([1, 8, 64, 4096, 65536])
    start = rng.randrange(0, len(raw))
    raw[start:start + size] = bytes(len(raw[start:start + size]))
    f.write_bytes(bytes(raw))
    return f"{size} zero bytes at {start}"


def m_header_edit(d: Path, rng, ctx) -> str:
    f = d / "model.safetensors"
    raw, desc = edit_header(f.read_bytes(), rng)
    f.write_bytes(raw)
    return desc


def m_config(d: Path, rng, ctx) -> str:
    """config.json with one value, key or the whole text changed (sizes stay small: see m_config_bomb)."""
    f = d / "config.json"
    cfg = json.loads(f.read_text())
    kind = rng.choice(["value", "value", "value", "delete", "unknown", "text"])
    if kind == "value":
        key = rng.choice(sorted(cfg))
        cfg[key] = rng.choice(SMALL)
        f.write_text(json.dumps(cfg, allow_nan=True))
        return f"config {key} = {str(cfg[key])[:40]}"
    if kind == "delete":
        key = rng.choice(sorted(cfg))
        del cfg[key]
        f.write_text(json.dumps(cfg))
        return f"config without {key}"
    if kind == "unknown":
        cfg[rng.choice(["wat", "__class__", "", "resolution "])] = 1
        f.write_text(json.dumps(cfg))
        return "config with an unknown key"
    text = f.read_bytes()
    variants = {"truncated": text[:rng.randrange(len(text))], "not utf-8": b"\xff\xfe" + text, "list": b"[]",
                "null": b"null", "bom": b"\xef\xbb\xbf" + text, "empty": b"", "over 1 MB": b" " * (1 << 20) + text,
                "duplicate key": text.rstrip(b"\n}") + b', "z_dim": 7}'}
    name = rng.choice(sorted(variants))
    f.write_bytes(variants[name])
    return f"config.json {name}"


def m_config_bomb(d: Path, rng, ctx) -> str:
    """config.json that asks for a huge model (a size field) or is nested 100,000 deep."""
    f = d / "config.json"
    if rng.random() < 0.2:
        f.write_bytes(b"[" * 100000 + b"]" * 100000)
        return "config.json nested 100000 deep"
    cfg = json.loads(f.read_text())
    key, value = rng.choice(SIZE_FIELDS), rng.choice(HUGE)
    cfg[key] = value
    f.write_text(json.dumps(cfg))
    return f"config {key} = {str(value)[:20]}"


def m_directions(d: Path, rng, ctx) -> str:
    import torch
    f = d / "directions.safetensors"
    z = ctx["z_dim"]
    kind = rng.choice(["bitflip", "truncate", "header", "nan", "shape", "labels", "dtype", "garbage"])
    if kind in ("bitflip", "truncate", "header") and not f.exists():
        kind = "garbage"
    if kind == "bitflip":
        raw = bytearray(f.read_bytes())
        flip_bits(raw, 0, len(raw), rng)
        f.write_bytes(bytes(raw))
    elif kind == "truncate":
        f.write_bytes(f.read_bytes()[:rng.randrange(f.stat().st_size)])
    elif kind == "header":
        f.write_bytes(edit_header(f.read_bytes(), rng)[0])
    elif kind == "nan":
        write_safetensors(f, {"vectors": torch.full((2, z), float("nan")), "stds": torch.ones(2)},
                          {"labels": '["a", "b"]'})
    elif kind == "shape":
        write_safetensors(f, {"vectors": torch.ones(rng.choice([(2, z + 1), (2,), (0, z), (2, z, 1)])),
                              "stds": torch.ones(2)}, {"labels": '["a", "b"]'})
    elif kind == "labels":
        write_safetensors(f, {"vectors": torch.ones(2, z), "stds": torch.ones(2)},
                          rng.choice([{"labels": "5"}, {"labels": "{bad"}, {"labels": '["a"]'}, {}, {"labels": "null"}]))
    elif kind == "dtype":
        write_safetensors(f, {"vectors": torch.ones(2, z, dtype=torch.int64), "stds": torch.ones(2, dtype=torch.bool)},
                          {"labels": '["a", "b"]'})
    else:
        f.write_bytes(bytes(rng.randrange(256) for _ in range(rng.choice([0, 7, 64, 5000]))))
    return f"directions {kind}"


def _payload(rng, canary: str, ctx) -> tuple[bytes, str]:
    import io
    import torch
    kind = rng.choice(["pickle", "torch-zip", "torch-legacy", "nested"])
    if kind == "pickle":
        proto = rng.randrange(0, pickle.HIGHEST_PROTOCOL + 1)
        return pickle.dumps({"w": Canary(canary)}, protocol=proto), f"pickle protocol {proto}"
    buf = io.BytesIO()
    obj = {"w": torch.zeros(2), "evil": Canary(canary)} if kind != "nested" else {"state_dict": {"x": [Canary(canary)]}}
    torch.save(obj, buf, _use_new_zipfile_serialization=kind != "torch-legacy")
    return buf.getvalue(), kind


def m_pickle_st(d: Path, rng, ctx) -> str:
    raw, desc = _payload(rng, ctx["canary"](), ctx)
    (d / "model.safetensors").write_bytes(raw)
    return f"{desc} as model.safetensors"


def m_pt(d: Path, rng, ctx):
    """A .pt for attn_demo.models.convert: a canary, or a damaged copy of a valid state dict."""
    import numpy as np
    import torch
    pt = d / "model.pt"
    kind = rng.choice(["canary", "canary", "bitflip", "truncate", "numpy", "valid", "empty"])
    if kind == "canary":
        raw, desc = _payload(rng, ctx["canary"](), ctx)
        pt.write_bytes(raw)
    elif kind == "bitflip":
        raw = bytearray(ctx["valid_pt"].read_bytes())
        desc = flip_bits(raw, 0, len(raw), rng)
        pt.write_bytes(bytes(raw))
    elif kind == "truncate":
        raw = ctx["valid_pt"].read_bytes()
        cut = rng.randrange(len(raw))
        pt.write_bytes(raw[:cut])
        desc = f"truncated to {cut}"
    elif kind == "numpy":
        torch.save({"w": np.zeros(3)}, pt)
        desc = "numpy array"
    elif kind == "valid":
        shutil.copy(ctx["valid_pt"], pt)
        desc = "valid"
    else:
        pt.write_bytes(b"")
        desc = "empty"
    force = rng.random() < 0.5      # PyTorch's escape hatch must not matter: convert passes weights_only=True
    return f".pt {kind}: {desc}" + (" (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1)" if force else ""), pt, force


MUTATORS = {"st-bitflip-header": m_bitflip("header"), "st-bitflip-data": m_bitflip("data"),
            "st-truncate": m_truncate, "st-zero-chunk": m_zero_chunk, "st-header-edit": m_header_edit,
            "config-edit": m_config, "config-bomb": m_config_bomb, "directions": m_directions,
            "pickle-as-safetensors": m_pickle_st, "pt-convert": m_pt}
