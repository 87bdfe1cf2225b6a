"""Canvas models (models/canvas.py): a render of 512² to 2048², a click on it, and peak memory.

The issue's goals on this CPU: a 1024² canvas in <= 2 s, a click on it in <= 20 ms (the first
"looked at by" click of a layer <= 1 s), a 2048² render in <= 2 GB. The generator is the
planned texture model at random weights (speed does not depend on training): 64-px crops, width
32, 16 local latent channels per 16-px cell, attention at 1/8 or 1/4 of the canvas side.
"""
from __future__ import annotations

import resource
import time
from dataclasses import replace

import torch

from attn_demo.models.canvas import CanvasGenerator
from attn_demo.models.config import ModelConfig
from attn_demo.serving.probe import LOOKED_AT_BY, LOOKS_AT, AttentionRecorder

from .common import timings

PLANNED = ModelConfig(resolution=64, z_dim=64, z_local=16, g_width=32, d_width=32, g_attn=(8,), d_attn=(16,),
                      kind="canvas", num_classes=7)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@torch.inference_mode()
def bench_canvas(quick: bool, attn_at: tuple[int, ...] = (8, 16)) -> list[dict]:
    """One row per (attention size in a 64-px crop, canvas side): render ms, click ms (looks-at,
    and the first looked-at-by of the layer), the attention grid."""
    rows = []
    sides = (512, 1024) if quick else (512, 1024, 2048)
    for a in attn_at:
        torch.manual_seed(0)
        G = CanvasGenerator(replace(PLANNED, g_attn=(a,))).eval()
        for m in G.attn.values():
            m.gamma.fill_(0.5)
        for side in sides:
            cells = (side // G.cell, side // G.cell)
            field = G.sample_field(1, cells, torch.Generator().manual_seed(0))
            y = torch.tensor([0])
            before = _peak_rss_mb()
            render = timings(lambda: G(field, y), warmup=1, repeat=1 if side >= 2048 or quick else 3)
            with AttentionRecorder(G, image_size=side) as rec:
                G(field, y)
            cap = next(iter(rec.captures.values()))
            looks = timings(lambda: cap.probe(side // 3, side // 2, (side, side), None, LOOKS_AT), warmup=2, repeat=10)
            t0 = time.perf_counter()
            cap.probe(side // 3, side // 2, (side, side), None, LOOKED_AT_BY)       # builds the normalisers
            first_column = (time.perf_counter() - t0) * 1e3
            rows.append({"attention_at": f"1/{64 // a}", "side": side, "grid": list(cap.grid),
                         "keys": list(cap.key_grid), "render_ms": render["median_ms"],
                         "looks_at_click_ms": looks["median_ms"],
                         "first_looked_at_by_ms": first_column,
                         "peak_rss_mb": _peak_rss_mb(), "peak_rss_before_mb": before})
    return rows
