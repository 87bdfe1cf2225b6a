"""A click's cost: from (x, y) to the overlay, beside the naive full softmax, and the bytes served."""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import torch

from attn_demo.models.attention import SelfAttention2d
from attn_demo.models.folding import plain_copy
from attn_demo.imaging import draw
from attn_demo.serving.probe import AttentionRecorder

from .common import DISPLAY, timings


@torch.inference_mode()
def bench_click(grid: int, quick: bool, channels: int = 64, kind: str = "dot") -> dict:
    """From (x, y) to the overlay array at DISPLAY px, for an attention grid of grid x grid
    (keys pooled 2x2, as in the models) and an attention kind, beside the naive full-softmax approach."""
    torch.manual_seed(0)
    attn = plain_copy(SelfAttention2d(channels, kind=kind))
    if attn.w is not None:
        torch.nn.init.normal_(attn.w)
    image_size = 2 * grid                               # attention sits at half the output size
    x = torch.randn(1, channels, grid, grid)
    with AttentionRecorder(attn, image_size=image_size) as rec:
        attn(x)
    cap = rec.captures["attn"]
    image = np.random.default_rng(0).integers(0, 255, (image_size, image_size, 3), dtype=np.uint8)
    scale = max(1, DISPLAY // image_size)
    rng = np.random.default_rng(1)
    points = [tuple(int(v) for v in rng.integers(0, DISPLAY, 2)) for _ in range(64)]
    state = {"i": 0}

    def click():
        px, py = points[state["i"] % len(points)]
        state["i"] += 1
        heat = cap.looks_at(px, py, size=(DISPLAY, DISPLAY)).numpy()
        return draw.overlay_picture(image, heat, scale, 0.6, "inferno",
                                      (*draw.marker_point(px, py, (DISPLAY, DISPLAY), image_size * scale),
                                       (0, 255, 255), 10))
    repeat = 10 if quick else 40
    map_only = timings(lambda: cap.looks_at(*points[0], size=(DISPLAY, DISPLAY)), repeat=repeat)
    full = timings(click, repeat=repeat)
    overlay = click()
    png6 = timings(lambda: draw.encode_png_pil(overlay, 6), repeat=repeat // 2)
    png1 = timings(lambda: draw.encode_png_pil(overlay, 1), repeat=repeat // 2)
    png_served = timings(lambda: draw.encode_png(overlay), repeat=repeat // 2)
    jpeg_served = timings(lambda: draw.encode_jpeg(overlay), repeat=repeat // 2)
    q, k = cap.q, cap.k
    n, nk = q.shape[2], k.shape[2]
    probe_bytes = cap.nbytes                         # q and k: all a "looks at" click needs

    def naive():
        full_map = torch.softmax(cap.logits(q[0], k[0]), dim=-1)   # (heads, N, Nk)
        return full_map[:, n // 2].mean(0)
    naive_t = timings(naive, warmup=1, repeat=3 if quick or grid >= 128 else 10)
    lse = timings(lambda: _fresh_lse(cap), warmup=1, repeat=3)
    return {"grid": grid, "kind": kind, "N": n, "Nk": nk, "display": DISPLAY,
            "map_ms": map_only["median_ms"], "click_to_overlay_ms": full["median_ms"],
            "click_p90_ms": full["p90_ms"], "png_level6_ms": png6["median_ms"], "png_level1_ms": png1["median_ms"],
            "png_served_ms": png_served["median_ms"], "png_served_bytes": len(draw.encode_png(overlay)),
            "png_level1_bytes": len(draw.encode_png_pil(overlay, 1)),
            "jpeg_served_ms": jpeg_served["median_ms"], "jpeg_served_bytes": len(draw.encode_jpeg(overlay)),
            "probe_bytes": probe_bytes, "lse_bytes": n * 4, "first_looked_at_by_extra_ms": lse["median_ms"],
            "naive_ms": naive_t["median_ms"], "naive_bytes": n * nk * 4, "unpooled_full_map_bytes": n * n * 4,
            "probe_fraction_of_naive": probe_bytes / (n * nk * 4),
            "probe_with_lse_fraction_of_naive": (probe_bytes + n * 4) / (n * nk * 4)}


def bench_served_overlay(weights: Path, count: int = 8) -> dict:
    """The bytes of the overlay a click serves, on the first shipped model (median of `count`
    seeds and points): JPEG, as served, against our PNG writer."""
    from attn_demo.serving.engine import RenderArgs
    from attn_demo.serving.loader import find_models
    from attn_demo.studio.core import Studio
    from attn_demo.studio.view import View
    studio = Studio(find_models(weights)[:1], device="cpu")
    name = studio.models[0]
    engine = studio.engine(name)
    label = engine.class_names[0] if engine.cfg.num_classes else None
    rng = np.random.default_rng(0)
    png, jpeg = [], []
    for seed in range(count):
        x, y = (int(v) for v in rng.integers(0, DISPLAY, 2))
        overlay = studio.inspect(View(name, RenderArgs(seed, 0.8, label)), x, y).overlay
        png.append(len(draw.encode_png(overlay)))
        jpeg.append(len(draw.encode_jpeg(overlay)))
    return {"model": name, "overlays": count, "png_bytes": statistics.median(png),
            "jpeg_bytes": statistics.median(jpeg)}


def _fresh_lse(cap):
    cap._lse = None
    return cap.lse
