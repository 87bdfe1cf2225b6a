"""Canvas models (models/canvas.py): a render of 512² to 2048², a click on it, and peak memory.

The issue's goals on this CPU: a 1024² canvas in <= 2 s, a click on it in <= 20 ms (the first
"looked at by" click of a layer <= 1 s), a 2048² render in <= 2 GB. The generator is the
planned texture model at random weights (speed does not depend on training): 64-px crops, width
32, 16 local latent channels per 16-px cell, attention at 1/8 or 1/4 of the canvas side; or a
shipped canvas model when weights/ holds one (`python -m bench --only canvas`).
Everything goes through CanvasEngine, as the studio's Textures tab does.
"""
from __future__ import annotations

import resource
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch

from attn_demo.models.canvas import CanvasGenerator
from attn_demo.models.config import ModelConfig
from attn_demo.serving.canvas import CanvasEngine
from attn_demo.serving.engine import MapSettings
from attn_demo.serving.probe import LOOKED_AT_BY, LOOKS_AT

from .common import timings

PLANNED = ModelConfig(resolution=64, z_dim=64, z_local=16, g_width=32, d_width=32, g_attn=(8,), d_attn=(16,),
                      kind="canvas", num_classes=7)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def canvas_engine(attn: int, weights: Path | None = None) -> CanvasEngine:
    """The engine the studio serves: the shipped model when given, else the planned one at random
    weights with attention at `attn` px of a 64-px crop (speed does not depend on training)."""
    if weights is not None:
        return CanvasEngine.from_pretrained(weights, device="cpu")
    torch.manual_seed(0)
    G = CanvasGenerator(replace(PLANNED, g_attn=(attn,))).eval()
    with torch.no_grad():
        for m in G.attn.values():
            m.gamma.fill_(0.5)
    return CanvasEngine(G, device="cpu")


def _click_while_painting(engine: CanvasEngine, result, side: int, clicks: int = 20) -> float:
    """Median ms of a click on a painted canvas while another canvas of `side`² is being painted
    (the studio paints in a thread of its own concurrency group; a click takes no lock)."""
    f = engine.field(1, side, side)
    busy = threading.Thread(target=lambda: [engine.render(f, 0, "both") for _ in range(2)])
    busy.start()
    times = []
    time.sleep(0.05)
    while busy.is_alive() and len(times) < clicks:
        t0 = time.perf_counter()
        engine.inspect(result, side // 3, side // 2)
        times.append((time.perf_counter() - t0) * 1e3)
        time.sleep(0.02)
    busy.join()
    return statistics.median(times) if times else float("nan")


@torch.inference_mode()
def bench_canvas(quick: bool, attn_at: tuple[int, ...] = (8, 16), weights: Path | None = None) -> list[dict]:
    """One row per (attention size in a 64-px crop, canvas side): render ms (CanvasEngine.render: the
    generator and the attention captures), a click's ms (the map and its picture, as the studio
    answers it; and the map alone), the first looked-at-by of the layer, peak RSS, and a click's ms
    while a canvas of the same side is being painted."""
    rows = []
    sides = (512, 1024) if quick else (512, 1024, 2048)
    for a in ((None,) if weights is not None else attn_at):
        engine = canvas_engine(a, weights)
        for side in sides:
            field = engine.field(0, side, side)
            before = _peak_rss_mb()
            render = timings(lambda: engine.render(field, 0, "both"), warmup=1,
                             repeat=1 if side >= 2048 or quick else 3)
            result = engine.render(field, 0, "both")
            cap = result.captures[engine.layers[-1]]
            x, y = side // 3, side // 2
            click = timings(lambda: engine.inspect(result, x, y), warmup=2, repeat=10)
            probe = timings(lambda: cap.probe(x, y, (side, side), None, LOOKS_AT), warmup=2, repeat=10)
            t0 = time.perf_counter()
            engine.inspect(result, x, y, MapSettings(mode=LOOKED_AT_BY))    # builds the normalisers
            first_column = (time.perf_counter() - t0) * 1e3
            rows.append({"attention_at": f"1/{engine.cfg.resolution // engine.cfg.g_attn[0]}", "side": side,
                         "model": engine.name, "grid": list(cap.grid), "keys": list(cap.key_grid),
                         "render_ms": render["median_ms"], "click_ms": click["median_ms"],
                         "looks_at_click_ms": probe["median_ms"], "first_looked_at_by_ms": first_column,
                         "click_while_painting_ms": _click_while_painting(engine, result, side) if side <= 1024 else None,
                         "peak_rss_mb": _peak_rss_mb(), "peak_rss_before_mb": before})
    return rows
