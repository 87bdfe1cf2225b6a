"""Live mode: the attention map follows the pointer, computed in the page.

A render already keeps every attention layer's queries and keys (serving/probe.Capture). For the
shipped models they are a few thousand floats, so the page can take them once per render and
answer every pointer move itself: a row is one dot product per key and a softmax (live.js, run by
launch(js=...)). `payload` is what the page gets: the chosen layer's q, k (and the additive kind's
w) as base64 float32, the grids, the map settings and the colormap's palette. A model whose q and k
are larger than `LIVE_MAX_FLOATS` is not shipped to the page: the payload says so and the page sends
the pointer's pixel to the server instead (a click without the click; at most one in flight).

The page draws what the server would (engine.inspect): the map scaled to its peak or to the shared
uniform scale, resized bilinearly to the view (imaging/draw.resize_weights), coloured by the
palette and blended over the image; tests compare both.
It also writes the pixel line and the numbers under the map (γ, entropy, mean distance, peak weight:
probe.AttentionMap.describe) for the pixel under the pointer, and on a click draws the clicked
pixel's map at once, before the server's answer (the overlay image) comes back to confirm it.
"""
from __future__ import annotations

import base64
import json
from dataclasses import replace

import numpy as np

from ..imaging import draw
from ..serving.engine import UNIFORM_SPAN, Engine, RenderResult
from .view import DISPLAY, View, query_of

LIVE_MAX_FLOATS = 1 << 18        # q and k of one layer, all heads: 1 MiB of float32


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def payload(engine: Engine, result: RenderResult, view: View, limit: int = LIVE_MAX_FLOATS) -> dict:
    """What the page needs to draw view's map under any pointer position (module docstring)."""
    settings = view.map.checked()
    cap = engine.capture(result, settings.layer)
    q, k = cap.q[0].numpy(), cap.k[0].numpy()           # (heads, Nq, d), (heads, Nk, d)
    common = {"layer": cap.name, "mode": settings.mode, "head": settings.head, "display": DISPLAY,
              "alpha": settings.alpha, "norm": settings.norm, "span": UNIFORM_SPAN}
    if q.size + k.size > limit:
        return {**common, "server": True, "reason": f"{q.size + k.size:,} floats of queries and keys"}
    return {**common, "server": False, "kind": cap.kind, "scale": cap.scale, "heads": int(q.shape[0]),
            "d": int(q.shape[2]), "grid": list(cap.grid), "key_grid": list(cap.key_grid),
            "q": _b64(q), "k": _b64(k), "w": None if cap.w is None else _b64(cap.w.numpy()),
            "registers": None if cap.registers is None else _b64(cap.registers.numpy()), "null": cap.null,
            "palette": base64.b64encode(draw.palette(settings.cmap)).decode("ascii"),
            # the numbers under the map (probe.AttentionMap) and the pixel line, computed in the page too
            "gamma": cap.gamma, "gamma_ctx": cap.gamma_ctx, "picture": list(cap.picture),
            "resolution": engine.cfg.resolution}


def page_data(engine: Engine, result: RenderResult, view: View, live: bool, limit: int = LIVE_MAX_FLOATS) -> str:
    """What the page keeps of the view on screen, as the hidden text box that carries it holds it:
    its link's query string (the page's history and favourites, keep.js) and, with live mode on,
    the live payload."""
    # the layer named even when the view leaves it to the default: one view, one query
    named = replace(view, click=None, map=replace(view.map, layer=view.map.layer or engine.layers[-1]))
    data = {"query": query_of(named),
            "live": payload(engine, result, view, limit) if live else None}
    return json.dumps(data, separators=(",", ":"))
